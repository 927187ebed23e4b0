/* portredir apply: make the kernel match the mapping in one atomic
 * transaction, re-planning when the ruleset changed under it. */
#include <errno.h>
#include <string.h>
#include "command.h"
#include "kernel.h"
#include "plan.h"

enum outcome apply_run(const struct options *options, bool dry_run)
{
	struct kernel_error error = { "", "" };
	struct table_state *state = NULL;
	struct mapping *desired = NULL;
	struct kernel *kernel = NULL;
	struct plan *plan = NULL;
	enum outcome outcome = OUTCOME_ERROR;
	int r;

	if (command_load_mapping(options, &desired) < 0)
		return OUTCOME_ERROR;
	r = kernel_open(&kernel, &error);
	if (r < 0) {
		print_kernel_error("cannot open a netfilter netlink socket", r, &error, dry_run ? false : true);
		goto out;
	}
	for (int attempt = 1;; attempt++) {
		r = kernel_read_table(kernel, &state, &error);
		if (r < 0) {
			print_kernel_error("cannot read the nftables ruleset", r, &error, !dry_run);
			goto out;
		}
		print_verbose(options, "read table inet portredir at generation %u: %zu redirect%s",
			      state->generation, state->mapping->redirect_count,
			      state->mapping->redirect_count == 1 ? "" : "s");
		r = plan_build(desired, state, &plan);
		if (r < 0) {
			print_error("out of memory while planning the changes");
			goto out;
		}
		if (dry_run) {
			print_changes(options, plan, false);
			outcome = plan_is_empty(plan) ? OUTCOME_OK : OUTCOME_DIFFERENCES;
			goto out;
		}
		if (plan_is_empty(plan)) {
			print_verbose(options, "the kernel already matches %s; nothing sent", options->path);
			break;
		}
		r = kernel_apply_plan(kernel, plan, state->generation, &error);
		if (r != -ERESTART)
			break;
		/* Someone changed the ruleset between the read and the commit:
		 * the kernel refused the whole batch, so plan again from what
		 * is there now. */
		print_verbose(options, "the ruleset changed during attempt %d; planning again", attempt);
		if (attempt == KERNEL_MAX_ATTEMPTS)
			break;
		plan_free(plan);
		plan = NULL;
		table_state_free(state);
		state = NULL;
	}
	if (r < 0) {
		print_kernel_error("the kernel refused the change", r, &error, true);
		goto out;
	}
	print_verbose(options, "sent %zu message%s in one batch (%zu netlink messages, %zu bytes in all)",
		      kernel_statistics(kernel)->batch_messages,
		      kernel_statistics(kernel)->batch_messages == 1 ? "" : "s",
		      kernel_statistics(kernel)->messages_sent, kernel_statistics(kernel)->bytes_sent);
	print_changes(options, plan, true);
	outcome = OUTCOME_OK;
out:
	plan_free(plan);
	table_state_free(state);
	kernel_close(kernel);
	mapping_free(desired);
	return outcome;
}

enum outcome apply_main(const struct options *options)
{
	return apply_run(options, options->dry_run);
}
