/* portredir flush: delete the managed table, and only it, and put the
 * sysctl back where it was before portredir first changed it. Idempotent. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "cache.h"
#include "command.h"
#include "kernel.h"
#include "operations.h"
#include "output.h"
#include "status.h"
#include "sysctl.h"

/* What flush did, in the order it did it: the sysctl's pair, the table. */
struct flush_changes {
	struct change changes[3];
	size_t count;
};

static void add_change(struct flush_changes *done, enum change_kind kind, unsigned int port_start)
{
	done->changes[done->count++] = (struct change){ .kind = (uint8_t)kind, .port_start = port_start };
}

/* Before the table goes: the original value lives in its userdata, so a
 * failure here leaves everything in place for another try. */
static int restore_port_start(const struct table_state *state, struct flush_changes *done)
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
		output_error("cannot restore net.ipv4.ip_unprivileged_port_start to %u: %s; nothing was changed",
			     state->original_port_start, strerror(-written));
		return written;
	}
	if (r >= 0)
		add_change(done, CHANGE_PORT_START_REMOVED, now);
	add_change(done, CHANGE_PORT_START_ADDED, state->original_port_start);
	return 0;
}

enum outcome flush_main(const struct options *options)
{
	struct kernel_error error = { "", "" };
	struct flush_changes done = { .count = 0 };
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
		output_verbose(options, "table inet portredir does not exist; nothing to do");
		outcome = OUTCOME_OK;
		goto out;
	}
	if (table_held_elsewhere(state, kernel)) {
		output_error("table inet portredir is held by another process (netlink port %u, a 'portredir watch --hold'?); stop it first; nothing was changed",
			     state->table_owner);
		goto out;
	}
	warn_flush_resets(options, state);
	if (restore_port_start(state, &done) < 0)
		goto out;
	/* Not bound to a generation: deleting is right whatever else changed. */
	r = kernel_delete_table(kernel, 0, &error);
	if (r == -ENOENT) {
		outcome = OUTCOME_OK;
		goto out;
	}
	if (r < 0) {
		output_kernel_error("cannot delete table inet portredir", r, &error, done.count == 0);
		goto out;
	}
	/* A record of a table that is gone could never be used again. */
	if (state->table_id)
		cache_forget(state->table_id);
	add_change(&done, CHANGE_TABLE_REMOVED, 0);
	outcome = OUTCOME_OK;
out:
	/* What was done, also when a later step failed (the sysctl restored,
	 * the table not deleted); nothing on stdout for a failure that changed
	 * nothing, as with apply. */
	if (outcome == OUTCOME_OK || done.count) {
		const struct change_list changes = { .changes = done.changes, .count = done.count };

		output_changes(options, &changes, true);
	}
	if (lock >= 0)
		close(lock);
	output_kernel_statistics(options, kernel);
	table_state_free(state);
	kernel_close(kernel);
	return outcome;
}
