/* The steps several commands share (operations.h): loading the mapping,
 * opening and reading the kernel, the lock, the holder of the table. */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include "cache.h"
#include "cgroup.h"
#include "config.h"
#include "kernel.h"
#include "lock.h"
#include "operations.h"
#include "output.h"
#include "runtime_directory.h"
#include "state.h"
#include "sysctl.h"
#include "util.h"

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

static bool same_place(const struct scope *a, const struct scope *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == SCOPE_ON)
		return a->family == b->family && !memcmp(a->address, b->address, sizeof(a->address));
	return !strncmp(a->iif, b->iif, sizeof(a->iif));
}

static bool host_has_address(const struct ifaddrs *addresses, const struct scope *scope)
{
	for (const struct ifaddrs *entry = addresses; entry; entry = entry->ifa_next) {
		const struct sockaddr *address = entry->ifa_addr;

		if (!address)
			continue;
		if (scope->family == 4 && address->sa_family == AF_INET &&
		    !memcmp(&((const struct sockaddr_in *)(const void *)address)->sin_addr, scope->address, 4))
			return true;
		if (scope->family == 6 && address->sa_family == AF_INET6 &&
		    !memcmp(&((const struct sockaddr_in6 *)(const void *)address)->sin6_addr, scope->address, 16))
			return true;
	}
	return false;
}

int command_warn_absent_scopes(const struct options *options, const struct mapping *mapping)
{
	struct ifaddrs *addresses = NULL;
	struct diagnostics diagnostics;
	const struct scope **seen = NULL;
	size_t seen_count = 0, seen_capacity = 0;
	int r = 0;

	if (options->quiet)
		return 0;
	diagnostics_init(&diagnostics);
	for (size_t i = 0; r >= 0 && i < mapping->redirect_count; i++) {
		const struct redirect *redirect = &mapping->redirects[i];
		const struct scope *scope = &redirect->scope;
		struct location location = redirect->location;
		char text[SCOPE_TEXT_MAX], name[SCOPE_IFNAME_SIZE];
		bool known = false;

		if (scope->kind != SCOPE_ON && scope->kind != SCOPE_IIF)
			continue;
		for (size_t j = 0; j < seen_count && !known; j++)
			known = same_place(seen[j], scope);
		if (known)
			continue;
		r = ARRAY_GROW_ONE(seen, seen_count, seen_capacity, 8);
		if (r < 0)
			break;
		seen[seen_count++] = scope;
		location.column = redirect->scope_column;
		if (scope->kind == SCOPE_IIF) {
			scope_iif_name(scope, name);
			if (if_nametoindex(name))
				continue;
			r = diagnostics_add(&diagnostics, SEVERITY_WARNING, &location,
					    "interface %s does not exist now; its redirects apply once it does", name);
			continue;
		}
		/* Addresses come and go (DHCP, a VPN): absent is no error. */
		if (!addresses && getifaddrs(&addresses) < 0) {
			addresses = NULL;
			break;
		}
		if (host_has_address(addresses, scope))
			continue;
		scope_text(scope, text);
		r = diagnostics_add(&diagnostics, SEVERITY_WARNING, &location,
				    "%s is not an address of this host now; its redirects apply once it is", text + 4);
	}
	if (r >= 0 && diagnostics.count) {
		/* The excerpts, as for the mapping's own warnings. */
		config_read_sources(&diagnostics);
		output_diagnostics(&diagnostics, options->quiet);
	}
	diagnostics_clear(&diagnostics);
	free(seen);
	if (addresses)
		freeifaddrs(addresses);
	return r;
}

/* "tcp 80 refuses connections", "tcp 80, tcp 443 and udp 443 refuse
 * connections": the ports of owner, at most a few named. */
#define NOT_RUNNING_PORTS_NAMED 8

static void warn_not_running(const struct mapping *mapping, const struct owner *owner)
{
	char ports[NOT_RUNNING_PORTS_NAMED * 12 + 64], text[OWNER_TEXT_MAX + 1];
	size_t count = 0, used = 0;

	for (size_t i = 0; i < mapping->redirect_count; i++)
		count += mapping->redirects[i].owner == owner;
	ports[0] = '\0';
	for (size_t i = 0, named = 0; i < mapping->redirect_count && named < NOT_RUNNING_PORTS_NAMED; i++) {
		const struct redirect *redirect = &mapping->redirects[i];

		if (redirect->owner != owner)
			continue;
		named++;
		used += (size_t)snprintf(ports + used, sizeof(ports) - used, "%s%s %u",
					 named == 1 ? "" : named == count ? " and " : ", ",
					 protocol_name(redirect->protocol), redirect->port);
	}
	if (count > NOT_RUNNING_PORTS_NAMED)
		snprintf(ports + used, sizeof(ports) - used, " and %zu more", count - NOT_RUNNING_PORTS_NAMED);
	owner_text(owner, text, sizeof(text));
	output_warning("owner %s is not running: %s %s connections", text, ports, count == 1 ? "refuses" : "refuse");
}

int command_resolve_owners(const struct options *options, const struct mapping *mapping, bool changing,
			   struct cgroup_resolution **ret_groups)
{
	const char *nothing = changing ? "; nothing was changed" : "";
	struct cgroup_hierarchy *hierarchy = NULL;
	struct cgroup_resolution *groups = NULL;
	int r;

	*ret_groups = NULL;
	if (!mapping->owner_count)
		return 0;
	r = cgroup_hierarchy_open(&hierarchy);
	if (r == -ENOENT) {
		output_error("the mapping names owners ('for ...'), which need the cgroup v2 hierarchy, and none is mounted here (no cgroup2 file system in /proc/self/mountinfo); mount it, or remove the 'for' clauses%s",
			     nothing);
		return r;
	}
	if (r < 0) {
		output_error("cannot read /proc/self/mountinfo to find the cgroup v2 hierarchy the owners ('for ...') need: %s%s",
			     strerror(-r), nothing);
		return r;
	}
	r = cgroup_resolve(hierarchy, mapping, &groups);
	if (r < 0) {
		output_error("cannot read the cgroup v2 hierarchy at %s to find the owners' groups: %s%s",
			     hierarchy->mount_point, strerror(-r), nothing);
		cgroup_hierarchy_free(hierarchy);
		return r;
	}
	output_verbose(options, "the cgroup v2 hierarchy is at %s%s", hierarchy->mount_point,
		       hierarchy->levels_exact ? "" : ", in a cgroup namespace: owner_check accepts each group at the levels it may have on the host");
	if (!options->quiet && groups->skipped_error)
		output_warning("cannot read %s: %s; owners in it are not found, and their ports refuse connections",
			       groups->skipped, strerror(-groups->skipped_error));
	if (!options->quiet && groups->too_deep)
		output_warning("%zu group%s named by owners %s deeper than %d levels, which portredir does not use; their ports refuse connections",
			       groups->too_deep, groups->too_deep == 1 ? "" : "s", groups->too_deep == 1 ? "is" : "are",
			       CGROUP_MAX_LEVEL);
	for (size_t i = 0; i < groups->owner_count; i++) {
		const struct owner_groups *found = &groups->owners[i];

		if (!found->count && !options->quiet)
			warn_not_running(mapping, mapping->owners[i]);
		for (size_t j = 0; j < found->count; j++)
			output_verbose(options, "owner %s%s: group %s (id %llu, level %u%s)",
				       mapping->owners[i]->kind == OWNER_CGROUP ? OWNER_CGROUP_PREFIX : "",
				       mapping->owners[i]->name, found->groups[j].path,
				       (unsigned long long)found->groups[j].id, found->groups[j].level,
				       found->groups[j].extra_levels ? " or below" : "");
	}
	cgroup_hierarchy_free(hierarchy);
	*ret_groups = groups;
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
