/* portredir status: why traffic does or does not arrive. Reads the
 * mapping, the managed table and its counters, the rest of the ruleset,
 * conntrack, the socket table, the interfaces and /proc; has the pure
 * analysis (status_report.h) judge them; prints the report
 * (output_status.c). Exit 0 healthy, 1 a problem found, 2 an error. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cgroup.h"
#include "command.h"
#include "host_processes.h"
#include "kernel.h"
#include "kernel_host.h"
#include "operations.h"
#include "output.h"
#include "plan.h"
#include "status_report.h"
#include "sysctl.h"

/* Everything read, owned here; the analysis borrows it. */
struct observation {
	struct kernel *kernel;
	struct table_state *state;
	struct element_counter *counters;
	size_t counter_count;
	bool counters_read;
	struct ruleset *ruleset;
	struct flow_count *flows;
	size_t flow_count;
	bool flows_read;
	struct host *host;
	size_t table_changes;
	bool has_port_start;
	unsigned int port_start;
};

static void observation_clear(struct observation *observation)
{
	host_free(observation->host);
	free(observation->flows);
	ruleset_free(observation->ruleset);
	free(observation->counters);
	table_state_free(observation->state);
	kernel_close(observation->kernel);
}

static bool has_count_sets(const struct table_state *state)
{
	return state->table_exists && state->count_sets[PROTOCOL_TCP].status == OBJECT_OK &&
	       state->count_sets[PROTOCOL_UDP].status == OBJECT_OK;
}

/* What apply would change in the table (the sysctl apart: the report has
 * a line of its own for it). */
static int count_table_changes(const struct options *options, const struct mapping *desired,
			       const struct cgroup_resolution *groups, struct observation *observation)
{
	const struct table_state *state = observation->state;
	const struct plan_input input = {
		.desired = desired,
		.current = state,
		.groups = groups,
		/* As apply sees it: a table a 'watch --hold' holds keeps its
		 * flags. */
		.table_flags = table_held_elsewhere(state, observation->kernel) ? state->table_flags : 0,
		.has_port_start = observation->has_port_start,
		.port_start = observation->port_start,
	};
	struct plan *plan = NULL;
	int r;

	r = plan_build(&input, &plan);
	if (r < 0)
		return r;
	for (size_t i = 0; i < plan->change_count; i++) {
		enum change_kind kind = (enum change_kind)plan->changes[i].kind;

		if (kind != CHANGE_PORT_START_ADDED && kind != CHANGE_PORT_START_REMOVED)
			observation->table_changes++;
	}
	output_verbose(options, "apply would make %zu change%s to the table", observation->table_changes,
		      observation->table_changes == 1 ? "" : "s");
	plan_free(plan);
	return 0;
}

static int read_nftables(const struct options *options, const struct mapping *desired,
			 const struct cgroup_resolution *groups, struct observation *observation)
{
	int r;

	r = command_read_kernel(true, false, &observation->kernel, &observation->state);
	if (r < 0)
		return r;
	output_table_read(options, observation->state);
	r = sysctl_read_unprivileged_port_start(NULL, &observation->port_start);
	observation->has_port_start = r >= 0;
	if (r < 0)
		output_warning("cannot read net.ipv4.ip_unprivileged_port_start: %s; its current value is not shown",
			      strerror(-r));
	r = count_table_changes(options, desired, groups, observation);
	if (r < 0) {
		output_error("out of memory while comparing the table with the mapping");
		return r;
	}
	if (has_count_sets(observation->state)) {
		r = kernel_read_counters(observation->kernel, &observation->counters, &observation->counter_count);
		if (r < 0) {
			output_kernel_error("cannot read the counts of table inet portredir", r, NULL, false);
			return r;
		}
		observation->counters_read = true;
	} else {
		output_verbose(options, "table inet portredir has no count sets: connections are not counted");
	}
	r = kernel_read_ruleset(observation->kernel, &observation->ruleset);
	if (r < 0) {
		output_kernel_error("cannot read the chains of the ruleset", r, NULL, false);
		return r;
	}
	output_verbose(options, "read %zu chains of the ruleset", observation->ruleset->chain_count);
	return 0;
}

/* Without conntrack's netlink interface (a kernel built without it),
 * everything else is still worth saying: active is null. */
static void read_connections(const struct options *options, struct observation *observation)
{
	int r = kernel_read_redirected_flows(&observation->flows, &observation->flow_count);

	observation->flows_read = r >= 0;
	if (r < 0 && !options->quiet)
		output_warning("cannot read the conntrack table: %s; open connections are not shown", strerror(-r));
	else
		output_verbose(options, "conntrack: %zu kinds of redirected connection open", observation->flow_count);
}

/* The sockets on every mapped port and target, and who holds them. */
static int read_host(const struct options *options, const struct mapping *desired, struct observation *observation)
{
	bool *wanted = calloc((size_t)UINT16_MAX + 1, sizeof(*wanted));
	int r = -ENOMEM;

	observation->host = host_new();
	if (!wanted || !observation->host) {
		output_error("out of memory while reading the sockets");
		goto out;
	}
	for (size_t i = 0; i < desired->redirect_count; i++) {
		wanted[desired->redirects[i].port] = true;
		wanted[desired->redirects[i].target] = true;
	}
	r = kernel_read_listeners(observation->host, wanted);
	if (r < 0) {
		output_kernel_error("cannot list the sockets (NETLINK_SOCK_DIAG)", r, NULL, false);
		goto out;
	}
	r = kernel_read_interfaces(observation->host);
	if (r < 0) {
		output_kernel_error("cannot list the interfaces and their addresses", r, NULL, false);
		goto out;
	}
	host_find_processes(observation->host);
	r = host_find_users(observation->host);
	if (r >= 0)
		r = host_find_cgroups(observation->host);
	if (r < 0) {
		output_error("out of memory while finding who holds the sockets");
		goto out;
	}
	output_verbose(options, "%zu sockets on the mapped ports and targets, %zu interfaces",
		      observation->host->listener_count, observation->host->interface_count);
out:
	free(wanted);
	return r;
}

/* Without root, other users' descriptors cannot be read: their sockets'
 * pid and process stay null, and the user is told. */
static void warn_hidden_processes(const struct options *options, const struct status_report *report,
				  const struct host *host)
{
	size_t hidden = 0;

	if (options->quiet || !host->processes_hidden)
		return;
	for (size_t i = 0; i < report->mapping_count; i++) {
		const struct mapping_report *mapping = &report->mappings[i];

		for (size_t j = 0; j < mapping->listener_count; j++)
			hidden += !host->listeners[mapping->listeners[j]].pid;
		for (size_t j = 0; j < mapping->shadowed_count; j++)
			hidden += !host->listeners[mapping->shadowed[j]].pid;
	}
	if (hidden)
		output_warning("the process%s holding %zu socket%s cannot be seen (pid and process are null); run as root to see them",
			      hidden == 1 ? "" : "es", hidden, hidden == 1 ? "" : "s");
}

/* The owner of each redirect of desired, as status_analyze() takes them:
 * its clause's text and its group now (the first one found; NULL while its
 * service is stopped). Returns 0, or -errno with the reason printed. */
static int resolve_status_owners(const struct options *options, const struct mapping *desired,
				 struct cgroup_resolution **ret_groups, struct status_owner **ret_owners,
				 char (**ret_texts)[OWNER_TEXT_MAX + 1], const struct status_owner ***ret_table)
{
	struct cgroup_resolution *groups = NULL;
	char (*texts)[OWNER_TEXT_MAX + 1] = NULL;
	const struct status_owner **table = NULL;
	struct status_owner *owners = NULL;
	int r;

	*ret_groups = NULL;
	*ret_owners = NULL;
	*ret_texts = NULL;
	*ret_table = NULL;
	if (!desired->owner_count)
		return 0;
	r = command_resolve_owners(options, desired, false, &groups);
	if (r < 0)
		return r;
	owners = calloc(desired->owner_count, sizeof(*owners));
	texts = calloc(desired->owner_count, sizeof(*texts));
	table = calloc(desired->redirect_count ? desired->redirect_count : 1, sizeof(*table));
	if (!owners || !texts || !table) {
		free(owners);
		free(texts);
		free(table);
		cgroup_resolution_free(groups);
		output_error("out of memory while resolving the owners");
		return -ENOMEM;
	}
	for (size_t i = 0; i < desired->owner_count; i++) {
		owner_text(desired->owners[i], texts[i], sizeof(texts[i]));
		owners[i].name = texts[i];
		owners[i].cgroup = groups && i < groups->owner_count && groups->owners[i].count ?
					   groups->owners[i].groups[0].path : NULL;
	}
	for (size_t i = 0; i < desired->redirect_count; i++) {
		const struct owner *owner = desired->redirects[i].owner;

		table[i] = owner ? &owners[owner->index] : NULL;
	}
	*ret_groups = groups;
	*ret_owners = owners;
	*ret_texts = texts;
	*ret_table = table;
	return 0;
}

enum outcome status_main(const struct options *options)
{
	struct observation observation = { 0 };
	struct status_report *report = NULL;
	struct mapping *desired = NULL;
	struct cgroup_resolution *groups = NULL;
	char (*owner_texts)[OWNER_TEXT_MAX + 1] = NULL;
	const struct status_owner **owner_table = NULL;
	struct status_owner *owners = NULL;
	struct status_input input;
	enum outcome outcome = OUTCOME_ERROR;
	int r;

	if (command_load_mapping(options, false, &desired) < 0)
		goto out;
	if (resolve_status_owners(options, desired, &groups, &owners, &owner_texts, &owner_table) < 0)
		goto out;
	if (read_nftables(options, desired, groups, &observation) < 0)
		goto out;
	read_connections(options, &observation);
	if (read_host(options, desired, &observation) < 0)
		goto out;
	input = (struct status_input){
		.desired = desired,
		.owners = owner_table,
		.host = observation.host,
		.table_exists = observation.state->table_exists,
		.applied = observation.state->table_exists ? observation.state->mapping : NULL,
		.counters_known = observation.counters_read,
		.counters = observation.counters,
		.counter_count = observation.counter_count,
		.flows_known = observation.flows_read,
		.flows = observation.flows,
		.flow_count = observation.flow_count,
		.ruleset = observation.ruleset,
		.table_changes = observation.table_changes,
		.has_current_port_start = observation.has_port_start,
		.current_port_start = observation.port_start,
	};
	r = status_analyze(&input, &report);
	if (r < 0) {
		output_error("out of memory while analysing the status");
		goto out;
	}
	warn_hidden_processes(options, report, observation.host);
	output_status(options, report, observation.host);
	outcome = status_report_healthy(report) ? OUTCOME_OK : OUTCOME_DIFFERENCES;
out:
	output_kernel_statistics(options, observation.kernel);
	status_report_free(report);
	observation_clear(&observation);
	free(owner_table);
	free(owners);
	free(owner_texts);
	cgroup_resolution_free(groups);
	mapping_free(desired);
	return outcome;
}
