/* portredir show: the kernel's current state as a mapping file, so that
 * `show > f; apply -f f` changes nothing. */
#include "command.h"
#include "kernel.h"

enum outcome show_main(const struct options *options)
{
	struct kernel_error error = { "", "" };
	struct table_state *state = NULL;
	struct kernel *kernel = NULL;
	enum outcome outcome = OUTCOME_ERROR;
	int r;

	r = kernel_open(&kernel, &error);
	if (r < 0) {
		print_kernel_error("cannot open a netfilter netlink socket", r, &error, false);
		goto out;
	}
	r = kernel_read_table(kernel, &state, &error);
	if (r < 0) {
		print_kernel_error("cannot read the nftables ruleset", r, &error, false);
		goto out;
	}
	if (!state->table_exists)
		print_verbose(options, "table inet portredir does not exist: no redirects");
	if (options->json) {
		print_mapping_json(stdout, state->mapping);
		fputc('\n', stdout);
	} else {
		print_mapping(stdout, state->mapping);
	}
	outcome = OUTCOME_OK;
out:
	table_state_free(state);
	kernel_close(kernel);
	return outcome;
}
