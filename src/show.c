/* portredir show: the kernel's current state as a mapping file, so that
 * `show > f; apply -f f` changes nothing; an empty mapping, and a line on
 * stderr saying so, where there is no table. */
#include <string.h>
#include <syslog.h>
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
	/* The sysctl is part of the state when portredir manages it (the
	 * table records the value it had before portredir changed it):
	 * printed as a directive, applying the output keeps it there. When
	 * portredir never changed it, a directive would make the next apply
	 * of the output take it over. */
	shown = *state->mapping;
	shown.has_unprivileged_port_start = false;
	if (state->has_original_port_start) {
		r = sysctl_read_unprivileged_port_start(NULL, &shown.unprivileged_port_start);
		if (r < 0) {
			output_error("cannot read net.ipv4.ip_unprivileged_port_start: %s; is /proc/sys mounted?",
				     strerror(-r));
			goto out;
		}
		shown.has_unprivileged_port_start = true;
	}
	/* An empty table and no table would print the same: say which. */
	if (!state->table_exists && !options->quiet)
		output_log(LOG_NOTICE, "no table inet portredir in this network namespace: no redirects (portredir apply creates it)");
	output_mapping(options, &shown);
	outcome = OUTCOME_OK;
out:
	output_kernel_statistics(options, kernel);
	table_state_free(state);
	kernel_close(kernel);
	return outcome;
}
