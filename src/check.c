/* portredir check: parse and validate the mapping and print it normalized.
 * Never opens a netlink socket, so it works for any user. */
#include "command.h"

enum outcome check_main(const struct options *options)
{
	struct mapping *mapping = NULL;

	if (command_load_mapping(options, &mapping) < 0)
		return OUTCOME_ERROR;
	if (options->json) {
		print_mapping_json(stdout, mapping);
		fputc('\n', stdout);
	} else {
		print_mapping(stdout, mapping);
	}
	mapping_free(mapping);
	return OUTCOME_OK;
}
