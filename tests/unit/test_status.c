/* status's analysis as a specification: for a host, a kernel table and a
 * ruleset built by hand, which clients each mapping delivers, what it
 * shadows, what conflicts, and the exact problem lines. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include "status_report.h"

#define LOOPBACK_INDEX 1
#define VETH_INDEX 2

struct fixture {
	struct mapping *desired;
	struct mapping *applied;
	struct host *host;
	struct ruleset *ruleset;
	struct status_input input;
	struct status_report *report;
};

static void add_redirect(struct mapping *mapping, enum protocol protocol, uint16_t port, uint16_t target)
{
	const struct redirect redirect = { .protocol = protocol, .port = port, .target = target };

	assert_int_equal(mapping_add_redirect(mapping, &redirect), 0);
	mapping_sort(mapping);
}

/* lo, and veth0 with 198.18.0.1 and 2001:db8::1 first. */
static int setup(void **state)
{
	struct fixture *fixture = calloc(1, sizeof(*fixture));
	struct interface *interface;

	assert_non_null(fixture);
	fixture->desired = mapping_new();
	fixture->applied = mapping_new();
	fixture->host = host_new();
	assert_non_null(fixture->desired);
	assert_non_null(fixture->applied);
	assert_non_null(fixture->host);
	add_redirect(fixture->desired, PROTOCOL_TCP, 80, 8080);
	add_redirect(fixture->applied, PROTOCOL_TCP, 80, 8080);
	interface = host_interface(fixture->host, LOOPBACK_INDEX);
	assert_non_null(interface);
	strcpy(interface->name, "lo");
	interface->up = interface->loopback = true;
	interface->has_ipv4 = interface->has_ipv6 = true;
	inet_pton(AF_INET, "127.0.0.1", interface->ipv4);
	inet_pton(AF_INET6, "::1", interface->ipv6);
	interface = host_interface(fixture->host, VETH_INDEX);
	assert_non_null(interface);
	strcpy(interface->name, "veth0");
	interface->up = true;
	interface->has_ipv4 = interface->has_ipv6 = true;
	inet_pton(AF_INET, "198.18.0.1", interface->ipv4);
	inet_pton(AF_INET6, "2001:db8::1", interface->ipv6);
	fixture->input = (struct status_input){
		.desired = fixture->desired,
		.host = fixture->host,
		.table_exists = true,
		.applied = fixture->applied,
	};
	*state = fixture;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fixture = *state;

	status_report_free(fixture->report);
	ruleset_free(fixture->ruleset);
	host_free(fixture->host);
	mapping_free(fixture->applied);
	mapping_free(fixture->desired);
	free(fixture);
	return 0;
}

/* A listener of user nobody (65534) in process python3, pid 812. */
static struct listener *listen_on(struct fixture *fixture, enum protocol protocol, const char *address,
				  uint16_t port)
{
	struct listener listener = { .protocol = protocol, .port = port, .uid = 65534, .pid = 812 };
	struct listener *added;

	listener.family = strchr(address, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(listener.family, address, listener.address), 1);
	strcpy(listener.process, "python3");
	assert_int_equal(host_add_listener(fixture->host, &listener), 0);
	added = &fixture->host->listeners[fixture->host->listener_count - 1];
	added->user = strdup(listener.uid == 0 ? "root" : "nobody");
	assert_non_null(added->user);
	return added;
}

static const struct mapping_report *analyze(struct fixture *fixture)
{
	status_report_free(fixture->report);
	fixture->report = NULL;
	assert_int_equal(status_analyze(&fixture->input, &fixture->report), 0);
	assert_true(fixture->report->mapping_count >= 1);
	return &fixture->report->mappings[0];
}

static void assert_reachable(const struct mapping_report *mapping, bool remote_ipv4, bool remote_ipv6,
			     bool local_ipv4, bool local_ipv6)
{
	assert_int_equal(mapping->reachable[CLIENT_REMOTE_IPV4], remote_ipv4);
	assert_int_equal(mapping->reachable[CLIENT_REMOTE_IPV6], remote_ipv6);
	assert_int_equal(mapping->reachable[CLIENT_LOCAL_IPV4], local_ipv4);
	assert_int_equal(mapping->reachable[CLIENT_LOCAL_IPV6], local_ipv6);
}

/* The problem lines, each followed by a newline. */
static void assert_problems(const struct mapping_report *mapping, const char *expected)
{
	char text[4096] = "";

	for (size_t i = 0; i < mapping->problem_count; i++) {
		strncat(text, mapping->problems[i], sizeof(text) - strlen(text) - 2);
		strcat(text, "\n");
	}
	assert_string_equal(text, expected);
}

static void dual_stack_wildcard_serves_every_client(void **state)
{
	struct fixture *fixture = *state;
	const struct mapping_report *mapping;

	listen_on(fixture, PROTOCOL_TCP, "::", 8080);
	mapping = analyze(fixture);
	assert_reachable(mapping, true, true, true, true);
	assert_problems(mapping, "");
	assert_int_equal(mapping->listener_count, 1);
	assert_int_equal(mapping->shadowed_count, 0);
	assert_true(status_report_healthy(fixture->report));
}

static void loopback_ipv4_serves_only_local_ipv4(void **state)
{
	struct fixture *fixture = *state;
	const struct mapping_report *mapping;

	listen_on(fixture, PROTOCOL_TCP, "127.0.0.1", 8080);
	mapping = analyze(fixture);
	assert_reachable(mapping, false, false, true, false);
	assert_problems(mapping,
			"remote clients of port 80 are refused: 8080 listens on 127.0.0.1 only; listen on [::]:8080\n"
			"local IPv6 clients of port 80 are refused: 8080 listens on 127.0.0.1 only; listen on [::]:8080\n");
	assert_false(status_report_healthy(fixture->report));
}

static void loopback_ipv6_serves_only_local_ipv6(void **state)
{
	struct fixture *fixture = *state;
	const struct mapping_report *mapping;

	listen_on(fixture, PROTOCOL_TCP, "::1", 8080);
	mapping = analyze(fixture);
	assert_reachable(mapping, false, false, false, true);
	assert_problems(mapping,
			"remote clients of port 80 are refused: 8080 listens on [::1] only; listen on [::]:8080\n"
			"local IPv4 clients of port 80 are refused: 8080 listens on [::1] only; listen on [::]:8080\n");
}

static void ipv4_wildcard_serves_no_ipv6_client(void **state)
{
	struct fixture *fixture = *state;
	const struct mapping_report *mapping;

	listen_on(fixture, PROTOCOL_TCP, "0.0.0.0", 8080);
	mapping = analyze(fixture);
	assert_reachable(mapping, true, false, true, false);
	assert_problems(mapping,
			"IPv6 clients of port 80 are refused: 8080 listens on 0.0.0.0 only; listen on [::]:8080\n");
}

static void ipv6_only_wildcard_serves_no_ipv4_client(void **state)
{
	struct fixture *fixture = *state;
	const struct mapping_report *mapping;

	listen_on(fixture, PROTOCOL_TCP, "::", 8080)->ipv6_only = true;
	mapping = analyze(fixture);
	assert_reachable(mapping, false, true, false, true);
	assert_problems(mapping,
			"IPv4 clients of port 80 are refused: 8080 listens on [::] (IPV6_V6ONLY) only; listen on [::]:8080 without IPV6_V6ONLY, or on 0.0.0.0:8080 too\n");
}

static void ipv6_only_and_ipv4_wildcards_together_serve_every_client(void **state)
{
	struct fixture *fixture = *state;

	listen_on(fixture, PROTOCOL_TCP, "::", 8080)->ipv6_only = true;
	listen_on(fixture, PROTOCOL_TCP, "0.0.0.0", 8080);
	assert_reachable(analyze(fixture), true, true, true, true);
	assert_true(status_report_healthy(fixture->report));
}

static void nothing_listening_refuses_every_client(void **state)
{
	struct fixture *fixture = *state;
	const struct mapping_report *mapping;

	listen_on(fixture, PROTOCOL_UDP, "::", 8080);
	listen_on(fixture, PROTOCOL_TCP, "::", 9090);
	mapping = analyze(fixture);
	assert_reachable(mapping, false, false, false, false);
	assert_int_equal(mapping->listener_count, 0);
	assert_problems(mapping,
			"clients of port 80 are refused: nothing listens on 8080; start the service on [::]:8080\n");
}

/* The interface's first address is where remote IPv4 clients are sent. */
static void interface_address_serves_only_remote_ipv4(void **state)
{
	struct fixture *fixture = *state;
	const struct mapping_report *mapping;

	listen_on(fixture, PROTOCOL_TCP, "198.18.0.1", 8080);
	mapping = analyze(fixture);
	assert_reachable(mapping, true, false, false, false);
	assert_problems(mapping,
			"IPv6 clients of port 80 are refused: 8080 listens on 198.18.0.1 only; listen on [::]:8080\n"
			"local IPv4 clients of port 80 are refused: 8080 listens on 198.18.0.1 only; listen on [::]:8080\n");
}

static void second_address_of_the_interface_gets_no_remote_client(void **state)
{
	struct fixture *fixture = *state;
	const struct mapping_report *mapping;

	listen_on(fixture, PROTOCOL_TCP, "198.18.0.5", 8080);
	mapping = analyze(fixture);
	assert_reachable(mapping, false, false, false, false);
	assert_problems(mapping,
			"IPv6 clients of port 80 are refused: 8080 listens on 198.18.0.5 only; listen on [::]:8080\n"
			"remote IPv4 clients of port 80 are refused: 8080 listens on 198.18.0.5 only, and the redirect sends those arriving on veth0 to 198.18.0.1:8080; listen on [::]:8080\n"
			"local IPv4 clients of port 80 are refused: 8080 listens on 198.18.0.5 only; listen on [::]:8080\n");
}

static void remote_clients_of_an_interface_without_a_listener_are_named(void **state)
{
	struct fixture *fixture = *state;
	struct interface *interface = host_interface(fixture->host, 3);
	const struct mapping_report *mapping;

	strcpy(interface->name, "veth1");
	interface->up = interface->has_ipv4 = true;
	inet_pton(AF_INET, "198.19.0.1", interface->ipv4);
	listen_on(fixture, PROTOCOL_TCP, "198.18.0.1", 8080);
	listen_on(fixture, PROTOCOL_TCP, "::", 8080)->ipv6_only = true;
	mapping = analyze(fixture);
	assert_reachable(mapping, false, true, false, true);
	assert_problems(mapping,
			"remote IPv4 clients of port 80 are refused: 8080 listens on 198.18.0.1 and [::] (IPV6_V6ONLY) only, and the redirect sends those arriving on veth1 to 198.19.0.1:8080; listen on [::]:8080 without IPV6_V6ONLY, or on 0.0.0.0:8080 too\n"
			"local IPv4 clients of port 80 are refused: 8080 listens on 198.18.0.1 and [::] (IPV6_V6ONLY) only; listen on [::]:8080 without IPV6_V6ONLY, or on 0.0.0.0:8080 too\n");
}

static void a_socket_bound_to_an_interface_serves_only_its_clients(void **state)
{
	struct fixture *fixture = *state;
	const struct mapping_report *mapping;

	listen_on(fixture, PROTOCOL_TCP, "::", 8080)->interface = VETH_INDEX;
	mapping = analyze(fixture);
	assert_reachable(mapping, true, true, false, false);
	assert_problems(mapping,
			"local clients of port 80 are refused: 8080 listens on [::] on veth0 only; listen on [::]:8080\n");
}

static void listeners_on_the_port_itself_are_shadowed(void **state)
{
	struct fixture *fixture = *state;
	const struct mapping_report *mapping;
	struct listener *root;

	listen_on(fixture, PROTOCOL_TCP, "::", 8080);
	root = listen_on(fixture, PROTOCOL_TCP, "0.0.0.0", 80);
	root->uid = 0;
	root->pid = 640;
	free(root->user);
	root->user = strdup("root");
	root = listen_on(fixture, PROTOCOL_TCP, "::", 80);
	root->uid = 0;
	root->pid = 0;
	free(root->user);
	root->user = NULL;
	/* Another protocol's socket on the port is not in the way. */
	listen_on(fixture, PROTOCOL_UDP, "::", 80);
	mapping = analyze(fixture);
	assert_reachable(mapping, true, true, true, true);
	assert_int_equal(mapping->shadowed_count, 2);
	assert_problems(mapping,
			"0.0.0.0:80 (python3, pid 640, user root) is shadowed: the redirect sends its clients to 8080; stop it, or remove this mapping\n"
			"[::]:80 (uid 0, process not visible) is shadowed: the redirect sends its clients to 8080; stop it, or remove this mapping\n");
}

static void a_mapping_not_in_the_kernel_is_not_applied(void **state)
{
	struct fixture *fixture = *state;

	listen_on(fixture, PROTOCOL_TCP, "::", 8080);
	add_redirect(fixture->desired, PROTOCOL_TCP, 443, 8443);
	listen_on(fixture, PROTOCOL_TCP, "::", 8443);
	fixture->input.table_changes = 1;
	analyze(fixture);
	assert_problems(&fixture->report->mappings[0], "");
	assert_problems(&fixture->report->mappings[1], "not applied: run portredir apply\n");
	assert_int_equal(fixture->report->problem_count, 1);
	assert_string_equal(fixture->report->problems[0],
			    "table inet portredir differs from the mapping file (1 change; portredir diff shows them): run portredir apply");
}

static void a_kernel_target_that_differs_is_named(void **state)
{
	struct fixture *fixture = *state;

	fixture->applied->redirects[0].target = 9090;
	listen_on(fixture, PROTOCOL_TCP, "::", 8080);
	assert_problems(analyze(fixture), "the kernel redirects it to 9090, not 8080: run portredir apply\n");
}

static void a_missing_table_is_a_problem_of_its_own(void **state)
{
	struct fixture *fixture = *state;
	const struct mapping_report *mapping;

	fixture->input.table_exists = false;
	fixture->input.applied = NULL;
	listen_on(fixture, PROTOCOL_TCP, "::", 8080);
	mapping = analyze(fixture);
	assert_problems(mapping, "not applied: run portredir apply\n");
	assert_int_equal(mapping->connections, -1);
	assert_int_equal(fixture->report->problem_count, 1);
	assert_string_equal(fixture->report->problems[0],
			    "not applied: table inet portredir does not exist; run portredir apply");
}

static void the_sysctl_declared_and_current_are_compared(void **state)
{
	struct fixture *fixture = *state;

	fixture->desired->has_unprivileged_port_start = true;
	fixture->desired->unprivileged_port_start = 1024;
	fixture->input.has_current_port_start = true;
	fixture->input.current_port_start = 80;
	listen_on(fixture, PROTOCOL_TCP, "::", 8080);
	analyze(fixture);
	assert_true(fixture->report->has_declared_port_start);
	assert_int_equal(fixture->report->declared_port_start, 1024);
	assert_int_equal(fixture->report->current_port_start, 80);
	assert_int_equal(fixture->report->problem_count, 1);
	assert_string_equal(fixture->report->problems[0],
			    "net.ipv4.ip_unprivileged_port_start is 80, the mapping file declares 1024: run portredir apply");
}

static void traffic_comes_from_the_counters_and_conntrack(void **state)
{
	struct fixture *fixture = *state;
	const struct element_counter counters[] = {
		{ PROTOCOL_TCP, 80, 3 },
		{ PROTOCOL_UDP, 80, 40 },
	};
	const struct flow_count flows[] = {
		{ PROTOCOL_TCP, 80, 8080, 2 },
		{ PROTOCOL_TCP, 80, 9090, 5 },
		{ PROTOCOL_TCP, 443, 8080, 7 },
	};
	const struct mapping_report *mapping;

	listen_on(fixture, PROTOCOL_TCP, "::", 8080);
	mapping = analyze(fixture);
	assert_int_equal(mapping->connections, -1);
	assert_int_equal(mapping->active, -1);
	fixture->input.counters_known = true;
	fixture->input.counters = counters;
	fixture->input.counter_count = 2;
	fixture->input.flows_known = true;
	fixture->input.flows = flows;
	fixture->input.flow_count = 3;
	mapping = analyze(fixture);
	assert_int_equal(mapping->connections, 3);
	assert_int_equal(mapping->active, 2);
	fixture->input.flow_count = 0;
	assert_int_equal(analyze(fixture)->active, 0);
	/* A port no connection reached has no element: 0. */
	fixture->input.counter_count = 0;
	assert_int_equal(analyze(fixture)->connections, 0);
	/* Redirected elsewhere by the kernel: not this mapping's count. */
	fixture->input.counter_count = 2;
	fixture->applied->redirects[0].target = 9090;
	assert_int_equal(analyze(fixture)->connections, -1);
}

/* The owners seam: only sockets in the owner's group, or below it, count. */
static void an_owned_mapping_counts_only_sockets_of_its_group(void **state)
{
	struct fixture *fixture = *state;
	const struct status_owner owner = { "web.service", "/system.slice/web.service" };
	const struct status_owner *owners[] = { &owner };
	const struct mapping_report *mapping;
	struct listener *listener;

	fixture->input.owners = owners;
	listener = listen_on(fixture, PROTOCOL_TCP, "::", 8080);
	listener->cgroup = strdup("/system.slice/web.service/worker");
	listener = listen_on(fixture, PROTOCOL_TCP, "127.0.0.1", 8080);
	listener->pid = 77;
	listener->cgroup = strdup("/system.slice/web.service-other");
	mapping = analyze(fixture);
	assert_int_equal(mapping->listener_count, 1);
	assert_int_equal(mapping->listeners[0], 0);
	assert_reachable(mapping, true, true, false, true);
	assert_problems(mapping,
			"127.0.0.1:8080 (python3, pid 77, user nobody) is outside web.service's control group: the connections the kernel would give it are refused; stop it\n"
			"local IPv4 clients of port 80 are refused: they would reach 127.0.0.1:8080 (python3, pid 77, user nobody), outside web.service's control group; stop that process, or run it in web.service\n");
}

static void an_owned_mapping_whose_group_is_missing_refuses_every_client(void **state)
{
	struct fixture *fixture = *state;
	const struct status_owner owner = { "web.service", NULL };
	const struct status_owner *owners[] = { &owner };
	const struct mapping_report *mapping;

	fixture->input.owners = owners;
	listen_on(fixture, PROTOCOL_TCP, "::", 8080)->cgroup = strdup("/user.slice");
	mapping = analyze(fixture);
	assert_reachable(mapping, false, false, false, false);
	assert_int_equal(mapping->listener_count, 0);
	assert_problems(mapping,
			"clients of port 80 are refused: web.service has no control group (is it running?); start it\n");
}

static void a_socket_of_unknown_group_does_not_count_for_an_owner(void **state)
{
	struct fixture *fixture = *state;
	const struct status_owner owner = { "web.service", "/system.slice/web.service" };
	const struct status_owner *owners[] = { &owner };
	const struct mapping_report *mapping;

	fixture->input.owners = owners;
	listen_on(fixture, PROTOCOL_TCP, "::", 8080);
	mapping = analyze(fixture);
	assert_int_equal(mapping->listener_count, 0);
	assert_reachable(mapping, false, false, false, false);
}

/* Rulesets. */

static struct chain_summary *base_chain(struct fixture *fixture, int family, const char *table, const char *name,
					const char *type, uint32_t hook, int32_t priority, uint32_t policy)
{
	struct chain_summary *chain;

	if (!fixture->ruleset) {
		fixture->ruleset = ruleset_new();
		assert_non_null(fixture->ruleset);
		fixture->input.ruleset = fixture->ruleset;
	}
	chain = ruleset_add_chain(fixture->ruleset, family, table, name);
	assert_non_null(chain);
	if (type) {
		chain->base = true;
		strcpy(chain->type, type);
		chain->hook = hook;
		chain->priority = priority;
		chain->policy = policy;
	}
	return chain;
}

static struct rule_summary *port_rule(struct chain_summary *chain, uint64_t handle, uint8_t l4proto,
				      uint16_t first, uint16_t last, enum rule_verdict verdict)
{
	struct rule_summary *rule = chain_add_rule(chain, handle);

	assert_non_null(rule);
	rule->l4proto = l4proto;
	if (first)
		assert_int_equal(rule_add_ports(rule, first, last), 0);
	rule->verdict = verdict;
	return rule;
}

static void assert_conflict(const struct conflict *conflict, const char *kind, const char *table, const char *chain,
			    const char *reason)
{
	assert_string_equal(conflict->kind, kind);
	assert_string_equal(conflict->table, table);
	assert_string_equal(conflict->chain, chain);
	assert_string_equal(conflict->reason, reason);
}

static void a_nat_chain_that_dnats_the_port_beside_portredir_conflicts(void **state)
{
	struct fixture *fixture = *state;
	struct chain_summary *chain = base_chain(fixture, NFPROTO_IPV4, "nat", "PREROUTING", "nat",
						 NF_INET_PRE_ROUTING, -100, NF_ACCEPT);

	port_rule(chain, 4, IPPROTO_TCP, 80, 80, RULE_CONTINUE)->changes_destination = true;
	port_rule(chain, 5, IPPROTO_TCP, 22, 22, RULE_CONTINUE)->changes_destination = true;
	listen_on(fixture, PROTOCOL_TCP, "::", 8080);
	analyze(fixture);
	assert_int_equal(fixture->report->conflict_count, 1);
	assert_conflict(&fixture->report->conflicts[0], "nat", "ip nat", "PREROUTING",
			"runs beside portredir's (both at priority -100: which goes first portredir cannot see) for new connections of remote IPv4 clients: rule handle 4 changes the destination of tcp port 80; move those rules, or give the chain a priority above -100");
	assert_problems(&fixture->report->mappings[0],
			"remote IPv4 clients of port 80 may not reach 8080: table ip nat, chain PREROUTING runs beside portredir's, and rule handle 4 changes the destination of tcp port 80\n");
	assert_false(status_report_healthy(fixture->report));
}

static void a_nat_chain_reached_by_a_jump_is_followed(void **state)
{
	struct fixture *fixture = *state;
	struct chain_summary *chain = base_chain(fixture, NFPROTO_INET, "docker", "prerouting", "nat",
						 NF_INET_LOCAL_OUT, -110, NF_ACCEPT);
	struct chain_summary *docker = base_chain(fixture, NFPROTO_INET, "docker", "DOCKER", NULL, 0, 0, 0);
	struct rule_summary *rule = chain_add_rule(chain, 2);

	rule->other_conditions = true;
	assert_int_equal(rule_set_jump(rule, RULE_JUMP, "DOCKER"), 0);
	rule = chain_add_rule(docker, 9);
	rule->changes_destination = true;
	listen_on(fixture, PROTOCOL_TCP, "::", 8080);
	analyze(fixture);
	assert_int_equal(fixture->report->conflict_count, 1);
	assert_conflict(&fixture->report->conflicts[0], "nat", "inet docker", "prerouting",
			"runs before portredir's (priority -110, portredir's -100) for new connections of local clients: rule handle 9 of chain DOCKER changes the destination of every port it matches; move those rules, or give the chain a priority above -100");
}

static void nat_chains_that_leave_the_port_alone_or_run_after_do_not_conflict(void **state)
{
	struct fixture *fixture = *state;
	struct chain_summary *chain = base_chain(fixture, NFPROTO_IPV4, "nat", "PREROUTING", "nat",
						 NF_INET_PRE_ROUTING, -100, NF_ACCEPT);

	port_rule(chain, 4, IPPROTO_TCP, 8000, 8079, RULE_CONTINUE)->changes_destination = true;
	port_rule(chain, 5, IPPROTO_UDP, 80, 80, RULE_CONTINUE)->changes_destination = true;
	port_rule(chain, 6, IPPROTO_TCP, 80, 80, RULE_ACCEPT);
	chain = base_chain(fixture, NFPROTO_IPV4, "late", "pre", "nat", NF_INET_PRE_ROUTING, 0, NF_ACCEPT);
	port_rule(chain, 2, IPPROTO_TCP, 80, 80, RULE_CONTINUE)->changes_destination = true;
	chain = base_chain(fixture, NFPROTO_INET, "portredir", "prerouting", "nat", NF_INET_PRE_ROUTING, -100,
			   NF_ACCEPT);
	port_rule(chain, 2, IPPROTO_TCP, 0, 0, RULE_CONTINUE)->changes_destination = true;
	listen_on(fixture, PROTOCOL_TCP, "::", 8080);
	analyze(fixture);
	assert_int_equal(fixture->report->conflict_count, 0);
	assert_true(status_report_healthy(fixture->report));
}

static void an_unreadable_nat_rule_is_said_to_be_unreadable(void **state)
{
	struct fixture *fixture = *state;
	struct chain_summary *chain = base_chain(fixture, NFPROTO_IPV6, "nat", "PREROUTING", "nat",
						 NF_INET_PRE_ROUTING, -150, NF_ACCEPT);

	strcpy(chain_add_rule(chain, 3)->unreadable, "xt DNAT");
	listen_on(fixture, PROTOCOL_TCP, "::", 8080);
	analyze(fixture);
	assert_int_equal(fixture->report->conflict_count, 1);
	assert_conflict(&fixture->report->conflicts[0], "nat", "ip6 nat", "PREROUTING",
			"runs before portredir's (priority -150, portredir's -100) for new connections of remote IPv6 clients: rule handle 3 uses 'xt DNAT', which portredir cannot read; move those rules, or give the chain a priority above -100");
}

static void a_drop_policy_input_chain_without_an_accept_for_the_target_conflicts(void **state)
{
	struct fixture *fixture = *state;
	struct chain_summary *chain = base_chain(fixture, NFPROTO_INET, "filter", "input", "filter",
						 NF_INET_LOCAL_IN, 0, NF_DROP);
	struct rule_summary *rule;

	add_redirect(fixture->desired, PROTOCOL_TCP, 443, 8443);
	add_redirect(fixture->desired, PROTOCOL_UDP, 443, 8443);
	add_redirect(fixture->applied, PROTOCOL_TCP, 443, 8443);
	add_redirect(fixture->applied, PROTOCOL_UDP, 443, 8443);
	rule = chain_add_rule(chain, 2);
	rule->other_conditions = true;
	rule->verdict = RULE_ACCEPT;
	port_rule(chain, 3, IPPROTO_TCP, 22, 22, RULE_ACCEPT);
	port_rule(chain, 4, IPPROTO_TCP, 80, 80, RULE_ACCEPT);
	port_rule(chain, 5, IPPROTO_TCP, 443, 443, RULE_ACCEPT);
	listen_on(fixture, PROTOCOL_TCP, "::", 8080);
	listen_on(fixture, PROTOCOL_TCP, "::", 8443);
	listen_on(fixture, PROTOCOL_UDP, "::", 8443);
	analyze(fixture);
	assert_int_equal(fixture->report->conflict_count, 1);
	assert_conflict(&fixture->report->conflicts[0], "filter", "inet filter", "input",
			"policy drop on the input hook for clients: redirected connections arrive there with their target port, and no rule portredir recognizes accepts 'ct status dnat' or 'tcp dport { 8080, 8443 }' or 'udp dport 8443' (a heuristic); add 'ct status dnat accept' to the chain");
	assert_problems(&fixture->report->mappings[0],
			"connections redirected to 8080 may be dropped: table inet filter, chain input has policy drop, and no rule portredir recognizes accepts 'ct status dnat' or 'tcp dport 8080'; add 'ct status dnat accept' to it\n");
	assert_problems(&fixture->report->mappings[2],
			"connections redirected to 8443 may be dropped: table inet filter, chain input has policy drop, and no rule portredir recognizes accepts 'ct status dnat' or 'udp dport 8443'; add 'ct status dnat accept' to it\n");
}

static void ct_status_dnat_accept_lets_redirected_connections_in(void **state)
{
	struct fixture *fixture = *state;
	struct chain_summary *chain = base_chain(fixture, NFPROTO_IPV4, "filter", "INPUT", "filter",
						 NF_INET_LOCAL_IN, 0, NF_DROP);
	struct chain_summary *services = base_chain(fixture, NFPROTO_IPV4, "filter", "services", NULL, 0, 0, 0);
	struct rule_summary *rule = chain_add_rule(chain, 2);

	assert_int_equal(rule_set_jump(rule, RULE_JUMP, "services"), 0);
	rule = chain_add_rule(services, 7);
	rule->matches_dnat = true;
	rule->verdict = RULE_ACCEPT;
	listen_on(fixture, PROTOCOL_TCP, "::", 8080);
	analyze(fixture);
	assert_int_equal(fixture->report->conflict_count, 0);
}

static void an_accept_of_the_target_port_lets_redirected_connections_in(void **state)
{
	struct fixture *fixture = *state;
	struct chain_summary *chain = base_chain(fixture, NFPROTO_IPV6, "filter", "input", "filter",
						 NF_INET_LOCAL_IN, 0, NF_DROP);

	port_rule(chain, 2, IPPROTO_TCP, 8000, 8099, RULE_ACCEPT)->other_conditions = true;
	listen_on(fixture, PROTOCOL_TCP, "::", 8080);
	analyze(fixture);
	assert_int_equal(fixture->report->conflict_count, 0);
	/* Accepting the port of another protocol is not enough. */
	chain->rules[0].l4proto = IPPROTO_UDP;
	analyze(fixture);
	assert_int_equal(fixture->report->conflict_count, 1);
	assert_problems(&fixture->report->mappings[0],
			"IPv6 connections redirected to 8080 may be dropped: table ip6 filter, chain input has policy drop, and no rule portredir recognizes accepts 'ct status dnat' or 'tcp dport 8080'; add 'ct status dnat accept' to it\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(dual_stack_wildcard_serves_every_client, setup, teardown),
		cmocka_unit_test_setup_teardown(loopback_ipv4_serves_only_local_ipv4, setup, teardown),
		cmocka_unit_test_setup_teardown(loopback_ipv6_serves_only_local_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(ipv4_wildcard_serves_no_ipv6_client, setup, teardown),
		cmocka_unit_test_setup_teardown(ipv6_only_wildcard_serves_no_ipv4_client, setup, teardown),
		cmocka_unit_test_setup_teardown(ipv6_only_and_ipv4_wildcards_together_serve_every_client, setup,
						teardown),
		cmocka_unit_test_setup_teardown(nothing_listening_refuses_every_client, setup, teardown),
		cmocka_unit_test_setup_teardown(interface_address_serves_only_remote_ipv4, setup, teardown),
		cmocka_unit_test_setup_teardown(second_address_of_the_interface_gets_no_remote_client, setup, teardown),
		cmocka_unit_test_setup_teardown(remote_clients_of_an_interface_without_a_listener_are_named, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_socket_bound_to_an_interface_serves_only_its_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(listeners_on_the_port_itself_are_shadowed, setup, teardown),
		cmocka_unit_test_setup_teardown(a_mapping_not_in_the_kernel_is_not_applied, setup, teardown),
		cmocka_unit_test_setup_teardown(a_kernel_target_that_differs_is_named, setup, teardown),
		cmocka_unit_test_setup_teardown(a_missing_table_is_a_problem_of_its_own, setup, teardown),
		cmocka_unit_test_setup_teardown(the_sysctl_declared_and_current_are_compared, setup, teardown),
		cmocka_unit_test_setup_teardown(traffic_comes_from_the_counters_and_conntrack, setup, teardown),
		cmocka_unit_test_setup_teardown(an_owned_mapping_counts_only_sockets_of_its_group, setup, teardown),
		cmocka_unit_test_setup_teardown(an_owned_mapping_whose_group_is_missing_refuses_every_client, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_socket_of_unknown_group_does_not_count_for_an_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(a_nat_chain_that_dnats_the_port_beside_portredir_conflicts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_nat_chain_reached_by_a_jump_is_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(nat_chains_that_leave_the_port_alone_or_run_after_do_not_conflict, setup,
						teardown),
		cmocka_unit_test_setup_teardown(an_unreadable_nat_rule_is_said_to_be_unreadable, setup, teardown),
		cmocka_unit_test_setup_teardown(a_drop_policy_input_chain_without_an_accept_for_the_target_conflicts,
						setup, teardown),
		cmocka_unit_test_setup_teardown(ct_status_dnat_accept_lets_redirected_connections_in, setup, teardown),
		cmocka_unit_test_setup_teardown(an_accept_of_the_target_port_lets_redirected_connections_in, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
