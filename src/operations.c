/* The steps several commands share (operations.h): loading the mapping,
 * opening and reading the kernel, the lock, the holder of the table. */
#include <errno.h>
#include <string.h>
#include "cache.h"
#include "config.h"
#include "kernel.h"
#include "lock.h"
#include "operations.h"
#include "output.h"
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

int command_load_mapping_into(const struct options *options, struct mapping *mapping,
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
	output_diagnostics(diagnostics, options->quiet);
	if (diagnostics->error_count) {
		output_error("%s: %zu error%s; nothing was changed", options->path, diagnostics->error_count,
			     diagnostics->error_count == 1 ? "" : "s");
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

int command_load_mapping(const struct options *options, struct mapping **ret_mapping)
{
	struct diagnostics diagnostics;
	struct mapping *mapping = mapping_new();
	int r;

	if (!mapping) {
		output_error("out of memory while reading %s", options->path);
		return -ENOMEM;
	}
	diagnostics_init(&diagnostics);
	r = command_load_mapping_into(options, mapping, &diagnostics);
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

int take_lock(const struct options *options)
{
	int lock = lock_namespace(LOCK_TIMEOUT_MS);

	if (lock == -ETIMEDOUT)
		output_error("another portredir has been changing this network namespace for %d s; nothing was changed, try again",
			     LOCK_TIMEOUT_MS / 1000);
	else if (lock < 0)
		output_verbose(options, "no lock against concurrent runs (%s); the batch's generation still guards the rules",
			       strerror(-lock));
	return lock;
}
