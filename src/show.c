/* portredir show: the kernel's current state as a mapping file, so that
 * `show > f; apply -f f` changes nothing. */
#include <string.h>
#include "command.h"
#include "kernel.h"
#include "operations.h"
#include "output.h"
#include "sysctl.h"

enum outcome show_main(const struct options *options)
{
	struct table_state *state = NULL;
	struct kernel *kernel = NULL;
	enum outcome outcome = OUTCOME_ERROR;
	struct mapping shown;
	int r;

	if (command_read_kernel(true, false, &kernel, &state) < 0)
		goto out;
	output_table_read(options, state);
	/* The sysctl is part of the state: printed as a directive, applying
	 * the output keeps it where it is. A view of the kernel's redirects
	 * with it, as the kernel state does not hold the sysctl. */
	shown = *state->mapping;
	r = sysctl_read_unprivileged_port_start(NULL, &shown.unprivileged_port_start);
	if (r < 0) {
		output_error("cannot read net.ipv4.ip_unprivileged_port_start: %s; is /proc/sys mounted?",
			     strerror(-r));
		goto out;
	}
	shown.has_unprivileged_port_start = true;
	if (!state->table_exists)
		output_verbose(options, "table inet portredir does not exist: no redirects");
	output_mapping(options, &shown);
	outcome = OUTCOME_OK;
out:
	output_kernel_statistics(options, kernel);
	table_state_free(state);
	kernel_close(kernel);
	return outcome;
}
