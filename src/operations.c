/* The steps several commands share (operations.h): loading the mapping,
 * opening and reading the kernel, the lock, the holder of the table. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cache.h"
#include "config.h"
#include "kernel.h"
#include "lock.h"
#include "operations.h"
#include "output.h"
#include "runtime_directory.h"
#include "state.h"
#include "sysctl.h"

/* Validation needs the namespace's sysctls even when the mapping declares
 * its own unprivileged_port_start (the kernel bounds it by the local port
 * range). Without /proc (a chroot, an image being built) the kernel
 * defaults are the best guess, and saying so keeps the result honest. */
static void read_kernel_ports(const struct options *options, struct config_kernel *kernel)
{
	unsigned int last;
	int r;

	r = sysctl_read_unprivileged_port_start(NULL, &kernel->unprivileged_port_start);
	if (r < 0) {
		kernel->unprivileged_port_start = SYSCTL_DEFAULT_UNPRIVILEGED_PORT_START;
		if (!options->quiet)
			output_warning("cannot read net.ipv4.ip_unprivileged_port_start: %s; assuming the kernel default %u",
				       strerror(-r), kernel->unprivileged_port_start);
	}
	r = sysctl_read_local_port_range(NULL, &kernel->local_port_first, &last);
	if (r < 0) {
		kernel->local_port_first = SYSCTL_DEFAULT_LOCAL_PORT_FIRST;
		if (!options->quiet)
			output_warning("cannot read net.ipv4.ip_local_port_range: %s; assuming the kernel default first port %u",
				       strerror(-r), kernel->local_port_first);
	}
	output_verbose(options, "net.ipv4.ip_unprivileged_port_start is %u, ip_local_port_range starts at %u",
		       kernel->unprivileged_port_start, kernel->local_port_first);
}

int command_load_mapping_into(const struct options *options, bool changing, struct mapping *mapping,
			      struct diagnostics *diagnostics)
{
	struct config_kernel kernel;
	int r;

	r = config_parse_path(options->path, mapping, diagnostics);
	if (r < 0)
		goto out;
	/* Kernel-dependent rules only make sense on a mapping that parsed. */
	if (!diagnostics->error_count) {
		read_kernel_ports(options, &kernel);
		r = config_validate(mapping, &kernel, diagnostics);
		if (r < 0)
			goto out;
	}
	/* The excerpts are a help, not a condition: without the memory for
	 * them the diagnostics are still shown. Not read for warnings that
	 * -q keeps quiet. */
	if (diagnostics->error_count || (diagnostics->count && !options->quiet))
		config_read_sources(diagnostics);
	output_diagnostics(diagnostics, options->quiet);
	if (diagnostics->error_count) {
		output_error("%s: %zu error%s%s", options->path, diagnostics->error_count,
			     diagnostics->error_count == 1 ? "" : "s", changing ? "; nothing was changed" : "");
		r = -EINVAL;
		goto out;
	}
	output_verbose(options, "read %s: %zu redirect%s", options->path, mapping->redirect_count,
		       mapping->redirect_count == 1 ? "" : "s");
out:
	if (r == -ENOMEM)
		output_error("out of memory while reading %s", options->path);
	return r;
}

int command_load_mapping(const struct options *options, bool changing, struct mapping **ret_mapping)
{
	struct diagnostics diagnostics;
	struct mapping *mapping = mapping_new();
	int r;

	if (!mapping) {
		output_error("out of memory while reading %s", options->path);
		return -ENOMEM;
	}
	diagnostics_init(&diagnostics);
	r = command_load_mapping_into(options, changing, mapping, &diagnostics);
	diagnostics_clear(&diagnostics);
	if (r < 0) {
		mapping_free(mapping);
		return r;
	}
	*ret_mapping = mapping;
	return 0;
}

int command_open_kernel(struct kernel **ret_kernel, struct kernel_error *error)
{
	int r = kernel_open(ret_kernel, error);

	if (r >= 0)
		kernel_use_cache(*ret_kernel, &cache_files);
	return r;
}

int command_read_kernel(bool with_elements, bool changing, struct kernel **ret_kernel,
			struct table_state **ret_state)
{
	struct kernel_error error = { "", "" };
	int r;

	*ret_state = NULL;
	r = command_open_kernel(ret_kernel, &error);
	if (r < 0) {
		*ret_kernel = NULL;
		output_kernel_error("cannot open a netfilter netlink socket", r, &error, changing);
		return r;
	}
	r = kernel_read_table(*ret_kernel, with_elements, ret_state, &error);
	if (r < 0)
		output_kernel_error("cannot read the nftables ruleset", r, &error, changing);
	return r;
}

bool table_held_elsewhere(const struct table_state *state, const struct kernel *kernel)
{
	return (state->table_flags & TABLE_FLAG_OWNER) && state->table_owner &&
	       state->table_owner != kernel_port_id(kernel);
}

/* Says once who holds the turn: at once under -v, otherwise when the wait
 * has gone on for a second (most turns last milliseconds). */
struct lock_wait {
	const struct options *options;
	bool said;
};

static void say_who_holds_the_turn(const struct lock_holder *holder, long long waited_ms, void *userdata)
{
	struct lock_wait *wait = userdata;

	if (wait->said || (!wait->options->verbose && waited_ms < 1000))
		return;
	wait->said = true;
	if (wait->options->verbose)
		output_verbose(wait->options, "waiting for the turn: another portredir (pid %ld, uid %ld: %s) is changing this network namespace",
			       holder->pid, holder->uid, holder->command);
	else if (!wait->options->quiet)
		output_warning("another portredir (pid %ld, uid %ld: %s) is changing this network namespace; waiting up to %d s for its turn to end",
			       holder->pid, holder->uid, holder->command, LOCK_TIMEOUT_MS / 1000);
}

int take_lock(const struct options *options)
{
	struct lock_wait wait = { .options = options };
	struct lock_holder holder;
	char *reason;
	int lock = lock_namespace(LOCK_TIMEOUT_MS, say_who_holds_the_turn, &wait, &holder);

	if (lock == -ETIMEDOUT) {
		output_error("another portredir (pid %ld, uid %ld: %s) has been changing this network namespace for %d s; nothing was changed, try again",
			     holder.pid, holder.uid, holder.command, LOCK_TIMEOUT_MS / 1000);
	} else if (lock == -EPERM && options->verbose) {
		reason = runtime_directory_problem(true);
		output_verbose(options, "no turn against concurrent runs: %s; the batch's generation still guards the rules",
			       reason ? reason : "its lock file is not portredir's");
		free(reason);
	} else if (lock < 0) {
		output_verbose(options, "no turn against concurrent runs (%s: %s); the batch's generation still guards the rules",
			       runtime_directory_path(), strerror(-lock));
	}
	return lock;
}
