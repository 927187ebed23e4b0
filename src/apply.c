/* portredir apply: make the kernel match the mapping in one atomic
 * transaction, re-planning when the ruleset changed under it; and that
 * engine, which diff and watch use too (apply.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "apply.h"
#include "cgroup.h"
#include "command.h"
#include "kernel.h"
#include "operations.h"
#include "output.h"
#include "plan.h"
#include "status.h"
#include "sysctl.h"

/* The sysctl is part of the state compared with the mapping; it is only
 * needed, and its absence only an error, when the mapping declares it. */
static int read_port_start(struct plan_input *input)
{
	int r = sysctl_read_unprivileged_port_start(NULL, &input->port_start);

	input->has_port_start = r >= 0;
	if (r < 0 && input->desired->has_unprivileged_port_start) {
		output_error("cannot read net.ipv4.ip_unprivileged_port_start: %s; is /proc/sys mounted?",
			     strerror(-r));
		return r;
	}
	return 0;
}

/* After the batch: the rules are in place whatever happens here, and the
 * message says so. The sysctl comes second because a redirect to a port
 * that is not yet bindable is harmless, while lowering the sysctl first
 * would let any user take ports the rules are about to claim. */
static int write_port_start(const struct options *options, const struct plan *plan)
{
	int r;

	if (!plan->write_port_start)
		return 0;
	r = sysctl_write_unprivileged_port_start(NULL, plan->port_start);
	if (r < 0) {
		output_error("cannot set net.ipv4.ip_unprivileged_port_start to %u: %s; %s",
			     plan->port_start, strerror(-r),
			     plan_changes_kernel_tables(plan) ?
			     "the redirect rules were applied, the sysctl was not (is /proc/sys read-only?)" :
			     "nothing was changed (is /proc/sys read-only?)");
		return r;
	}
	output_verbose(options, "set net.ipv4.ip_unprivileged_port_start to %u", plan->port_start);
	return 0;
}

/* A table held by a running `watch --hold` keeps its flags: they are that
 * process's business, and only the content is compared. */
static uint32_t wanted_table_flags(const struct options *options, const struct kernel *kernel,
				   const struct table_state *state)
{
	if (options->hold)
		return TABLE_FLAG_OWNER | TABLE_FLAG_PERSIST;
	if (table_held_elsewhere(state, kernel))
		return state->table_flags;
	return 0;
}

int apply_mapping(const struct options *options, struct kernel *kernel, struct kernel_read *background,
		  const struct mapping *desired, const struct cgroup_resolution *groups, bool dry_run,
		  struct plan **ret_plan, uint32_t *ret_generation)
{
	struct kernel_error error = { "", "" };
	struct table_state *state = NULL;
	struct plan_input input;
	struct plan *plan = NULL;
	bool applied = false;
	int r;

	*ret_plan = NULL;
	for (int attempt = 1;; attempt++) {
		if (background) {
			r = kernel_read_table_end(background, &state, &error);
			background = NULL;
		} else {
			r = kernel_read_table(kernel, true, &state, &error);
		}
		if (r < 0) {
			output_kernel_error("cannot read the nftables ruleset", r, &error, !dry_run);
			goto out;
		}
		if (ret_generation)
			*ret_generation = state->generation;
		input = (struct plan_input){
			.desired = desired,
			.current = state,
			.table_flags = wanted_table_flags(options, kernel, state),
			.groups = groups,
		};
		r = read_port_start(&input);
		if (r < 0)
			goto out;
		output_table_read(options, state);
		r = plan_build(&input, &plan);
		if (r < 0) {
			output_error("out of memory while planning the changes");
			goto out;
		}
		if (dry_run)
			goto out;
		if (plan_is_empty(plan)) {
			output_verbose(options, "the kernel already matches %s; nothing sent", options->path);
			goto out;
		}
		/* The kernel would refuse with EPERM, which reads like a missing
		 * privilege; the truth is more useful. */
		if (table_held_elsewhere(state, kernel) && plan_changes_kernel_tables(plan)) {
			output_error("table inet portredir is held by another process (netlink port %u, a 'portredir watch --hold'?); stop it or let it apply the mapping; nothing was changed",
				     state->table_owner);
			r = -EBUSY;
			goto out;
		}
		r = kernel_apply_plan(kernel, plan, state->generation, &error);
		if (r != -ERESTART)
			break;
		/* Someone changed the ruleset between the read and the commit:
		 * the kernel refused the whole batch, so plan again from what
		 * is there now. */
		output_verbose(options, "the ruleset changed during attempt %d; planning again", attempt);
		if (attempt == KERNEL_MAX_ATTEMPTS)
			break;
		plan_free(plan);
		plan = NULL;
		table_state_free(state);
		state = NULL;
	}
	if (r < 0) {
		output_kernel_error("the kernel refused the change", r, &error, true);
		goto out;
	}
	applied = true;
	if (ret_generation && plan_changes_kernel_tables(plan))
		*ret_generation = kernel_generation_after(state->generation);
	/* A failure here still leaves the plan to the caller: the rules it
	 * holds were applied, and saying so matters. */
	r = write_port_start(options, plan);
out:
	if (background)
		kernel_read_table_end(background, NULL, NULL);
	if (plan && (r >= 0 || (applied && plan_changes_kernel_tables(plan)))) {
		*ret_plan = plan;
		plan = NULL;
	}
	plan_free(plan);
	table_state_free(state);
	return r;
}

enum outcome apply_run(const struct options *options, bool dry_run)
{
	struct kernel_error error = { "", "" };
	struct kernel_read *background = NULL;
	struct cgroup_resolution *groups = NULL;
	struct mapping *desired = NULL;
	struct kernel *kernel = NULL;
	struct plan *plan = NULL;
	enum outcome outcome = OUTCOME_ERROR;
	int r, opened, lock = -1;

	/* The kernel is read while the mapping is parsed: for tens of
	 * thousands of mappings each takes a good part of the run. Reading
	 * changes nothing, and its result is dropped if the mapping is
	 * invalid, so that only the mapping's errors are shown. */
	opened = command_open_kernel(&kernel, &error);
	/* Taken before the read: a plan made from what another run was
	 * about to change would be stale without the kernel noticing (an
	 * empty plan sends no batch to be refused). */
	if (!dry_run && opened >= 0) {
		lock = take_lock(options);
		if (lock == -ETIMEDOUT)
			goto out;
	}
	if (opened >= 0 && kernel_read_table_begin(kernel, true, &background) < 0)
		background = NULL;
	if (command_load_mapping(options, !dry_run, &desired) < 0) {
		if (background)
			kernel_read_table_end(background, NULL, NULL);
		goto out;
	}
	if (opened < 0) {
		output_kernel_error("cannot open a netfilter netlink socket", opened, &error, !dry_run);
		goto out;
	}
	/* The groups as they are now, each run: a restarted service has a
	 * new one. */
	if (command_resolve_owners(options, desired, !dry_run, &groups) < 0) {
		if (background)
			kernel_read_table_end(background, NULL, NULL);
		goto out;
	}
	command_warn_absent_scopes(options, desired);
	r = apply_mapping(options, kernel, background, desired, groups, dry_run, &plan, NULL);
	if (plan) {
		const struct change_list changes = plan_change_list(plan);

		output_changes(options, &changes, !dry_run);
		if (!dry_run && plan_changes_kernel_tables(plan))
			warn_shadowed_listeners(options, &changes);
	}
	if (r >= 0)
		outcome = dry_run && !plan_is_empty(plan) ? OUTCOME_DIFFERENCES : OUTCOME_OK;
out:
	if (lock >= 0)
		close(lock);
	output_kernel_statistics(options, kernel);
	plan_free(plan);
	cgroup_resolution_free(groups);
	mapping_free(desired);
	/* Last: after a commit, closing the socket waits for the kernel to
	 * free the transaction (an RCU grace period, milliseconds), which
	 * the work above overlaps. */
	kernel_close(kernel);
	return outcome;
}

enum outcome apply_main(const struct options *options)
{
	return apply_run(options, options->dry_run);
}
