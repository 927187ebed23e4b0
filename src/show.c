/* portredir show: the kernel's current state as a mapping file, so that
 * `show > f; apply -f f` changes nothing. */
#include "command.h"
#include <string.h>
#include "kernel.h"
#include "sysctl.h"

enum outcome show_main(const struct options *options)
{
	struct table_state *state = NULL;
	struct kernel *kernel = NULL;
	enum outcome outcome = OUTCOME_ERROR;
	int r;

	if (command_read_kernel(true, false, &kernel, &state) < 0)
		goto out;
	print_table_read(options, state);
	/* The sysctl is part of the state: printed as a directive, applying
	 * the output keeps it where it is. */
	r = sysctl_read_unprivileged_port_start(NULL, &state->mapping->unprivileged_port_start);
	if (r < 0) {
		print_error("cannot read net.ipv4.ip_unprivileged_port_start: %s; is /proc/sys mounted?",
			    strerror(-r));
		goto out;
	}
	state->mapping->has_unprivileged_port_start = true;
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
	print_kernel_statistics(options, kernel);
	table_state_free(state);
	kernel_close(kernel);
	return outcome;
}
