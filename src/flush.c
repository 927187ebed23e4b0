/* portredir flush: delete the managed table, and only it, and put the
 * sysctl back where it was before portredir first changed it. Idempotent. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "cache.h"
#include "command.h"
#include "kernel.h"
#include "status.h"
#include "sysctl.h"

/* Before the table goes: the original value lives in its userdata, so a
 * failure here leaves everything in place for another try. */
static int restore_port_start(const struct options *options, const struct table_state *state)
{
	unsigned int now;
	int r, written;

	if (!state->has_original_port_start)
		return 0;
	r = sysctl_read_unprivileged_port_start(NULL, &now);
	if (r >= 0 && now == state->original_port_start)
		return 0;
	written = sysctl_write_unprivileged_port_start(NULL, state->original_port_start);
	if (written < 0) {
		print_error("cannot restore net.ipv4.ip_unprivileged_port_start to %u: %s; nothing was changed",
			    state->original_port_start, strerror(-written));
		return written;
	}
	if (!options->quiet && !options->json) {
		if (r >= 0)
			printf("- unprivileged_port_start %u\n", now);
		printf("+ unprivileged_port_start %u\n", state->original_port_start);
	}
	return 0;
}

enum outcome flush_main(const struct options *options)
{
	struct kernel_error error = { "", "" };
	struct table_state *state = NULL;
	struct kernel *kernel = NULL;
	enum outcome outcome = OUTCOME_ERROR;
	int r, lock;

	lock = take_lock(options);
	if (lock == -ETIMEDOUT)
		goto out;
	/* With its elements: which connections deleting it resets. */
	if (command_read_kernel(true, true, &kernel, &state) < 0)
		goto out;
	if (!state->table_exists) {
		print_verbose(options, "table inet portredir does not exist; nothing to do");
		outcome = OUTCOME_OK;
		goto out;
	}
	if (table_held_elsewhere(state, kernel)) {
		print_error("table inet portredir is held by another process (netlink port %u, a 'portredir watch --hold'?); stop it first; nothing was changed",
			    state->table_owner);
		goto out;
	}
	warn_flush_resets(options, state);
	if (restore_port_start(options, state) < 0)
		goto out;
	/* Not bound to a generation: deleting is right whatever else changed. */
	r = kernel_delete_table(kernel, 0, &error);
	if (r == -ENOENT) {
		outcome = OUTCOME_OK;
		goto out;
	}
	if (r < 0) {
		print_kernel_error("cannot delete table inet portredir", r, &error, true);
		goto out;
	}
	/* A record of a table that is gone could never be used again. */
	if (state->table_id)
		cache_forget(state->table_id);
	if (!options->quiet && !options->json)
		printf("- table inet portredir\n");
	outcome = OUTCOME_OK;
out:
	if (lock >= 0)
		close(lock);
	print_kernel_statistics(options, kernel);
	table_state_free(state);
	kernel_close(kernel);
	return outcome;
}
