/* portredir check: parse and validate the mapping and print it normalized.
 * Never opens a netlink socket, so it works for any user. */
#include "command.h"
#include "operations.h"
#include "output.h"

enum outcome check_main(const struct options *options)
{
	struct mapping *mapping = NULL;

	if (command_load_mapping(options, false, &mapping) < 0)
		return OUTCOME_ERROR;
	output_mapping(options, mapping);
	mapping_free(mapping);
	return OUTCOME_OK;
}
