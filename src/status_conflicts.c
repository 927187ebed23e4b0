/* What else in the ruleset may take or drop a mapping's traffic: other
 * tables' NAT base chains on the prerouting and output hooks that run
 * before or beside portredir's, and input-hook filter chains with a drop
 * policy that redirected connections cross with their target port.
 * Certain: the chains, hooks, priorities and policies. A heuristic: what
 * their rules do, read from the summary of each rule (ruleset.h). */
#include <errno.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "state.h"
#include "status_report.h"
#include "util.h"

#define PORTREDIR_PRIORITY (-100)
/* Jumps are followed this deep, each chain once. */
#define MAX_DEPTH 16
#define MAX_VISITED 64
#define TEXT_SIZE 1024

static void append(char *buffer, size_t size, const char *format, ...) __attribute__((format(printf, 3, 4)));
static void append(char *buffer, size_t size, const char *format, ...)
{
	size_t used = strlen(buffer);
	va_list arguments;

	if (used >= size - 1)
		return;
	va_start(arguments, format);
	vsnprintf(buffer + used, size - used, format, arguments);
	va_end(arguments);
}

static uint8_t ip_protocol(enum protocol protocol)
{
	return protocol == PROTOCOL_TCP ? IPPROTO_TCP : IPPROTO_UDP;
}

static bool protocol_matches(const struct rule_summary *rule, enum protocol protocol)
{
	return !rule->l4proto || rule->l4proto == ip_protocol(protocol);
}

static bool is_portredir(const struct chain_summary *chain)
{
	return chain->family == NFPROTO_INET && !strcmp(chain->table, TABLE_NAME);
}

static bool family_known(int family)
{
	return family == NFPROTO_IPV4 || family == NFPROTO_IPV6 || family == NFPROTO_INET;
}

/* "IPv4 ", "IPv6 " or "": the clients a chain of that family sees. */
static const char *family_clients(int family)
{
	return family == NFPROTO_IPV4 ? "IPv4 " : family == NFPROTO_IPV6 ? "IPv6 " : "";
}

/* The chains a walk from a base chain reaches through jumps and gotos. */
struct walk {
	const struct ruleset *ruleset;
	const struct chain_summary *base;
	const struct chain_summary *visited[MAX_VISITED];
	size_t visited_count;
};

typedef int (*rule_visitor)(const struct walk *walk, const struct chain_summary *chain,
			    const struct rule_summary *rule, void *data);

static int walk_chain(struct walk *walk, const struct chain_summary *chain, unsigned int depth,
		      rule_visitor visit, void *data)
{
	for (size_t i = 0; i < walk->visited_count; i++) {
		if (walk->visited[i] == chain)
			return 0;
	}
	if (walk->visited_count == MAX_VISITED || depth > MAX_DEPTH)
		return 0;
	walk->visited[walk->visited_count++] = chain;
	for (size_t i = 0; i < chain->rule_count; i++) {
		const struct rule_summary *rule = &chain->rules[i];
		int r = visit(walk, chain, rule, data);

		if (r < 0)
			return r;
		if ((rule->verdict == RULE_JUMP || rule->verdict == RULE_GOTO) && rule->chain) {
			const struct chain_summary *target =
				ruleset_find_chain(walk->ruleset, chain->family, chain->table, rule->chain);

			if (target) {
				r = walk_chain(walk, target, depth + 1, visit, data);
				if (r < 0)
					return r;
			}
		}
	}
	return 0;
}

/* "rule handle 4", or "rule handle 7 of chain DOCKER" outside the base. */
static void rule_place(const struct walk *walk, const struct chain_summary *chain,
		       const struct rule_summary *rule, char *buffer, size_t size)
{
	snprintf(buffer, size, "rule handle %llu", (unsigned long long)rule->handle);
	if (chain != walk->base)
		append(buffer, size, " of chain %s", chain->name);
}

/* A NAT chain's findings: the reason text of the conflict, and for each
 * mapping the first finding about it. */
struct nat_findings {
	const struct status_report *report;
	char reason[TEXT_SIZE];
	char (*per_mapping)[256];
	bool any;
};

static void add_finding(struct nat_findings *findings, size_t mapping, const char *text)
{
	if (!findings->per_mapping[mapping][0])
		snprintf(findings->per_mapping[mapping], sizeof(findings->per_mapping[mapping]), "%s", text);
	findings->any = true;
}

static int visit_nat_rule(const struct walk *walk, const struct chain_summary *chain,
			  const struct rule_summary *rule, void *data)
{
	struct nat_findings *findings = data;
	const struct status_report *report = findings->report;
	char place[128], text[256];
	const char *action;
	bool any_port = true;

	rule_place(walk, chain, rule, place, sizeof(place));
	if (rule->unreadable[0]) {
		snprintf(text, sizeof(text), "%s uses '%s', which portredir cannot read", place, rule->unreadable);
		append(findings->reason, sizeof(findings->reason), "%s%s", findings->any ? "; " : "", text);
		for (size_t m = 0; m < report->mapping_count; m++)
			add_finding(findings, m, text);
		return 0;
	}
	if (rule->changes_destination)
		action = "changes the destination of";
	else if (rule->verdict == RULE_DROP)
		action = "drops";
	else
		return 0;
	/* A rule that names ports speaks for those; one that names none, for
	 * every port it matches. */
	for (size_t m = 0; m < report->mapping_count; m++) {
		const struct mapping_report *mapping = &report->mappings[m];

		if (!protocol_matches(rule, mapping->protocol))
			continue;
		if (rule->matches_port && !rule_port_includes(rule, mapping->port))
			continue;
		if (rule->matches_port) {
			snprintf(text, sizeof(text), "%s %s %s port %u", place, action,
				 protocol_name(mapping->protocol), mapping->port);
			append(findings->reason, sizeof(findings->reason), "%s%s", findings->any ? "; " : "", text);
		} else {
			snprintf(text, sizeof(text), "%s %s every port it matches", place, action);
			if (any_port)
				append(findings->reason, sizeof(findings->reason), "%s%s", findings->any ? "; " : "",
				       text);
			any_port = false;
		}
		add_finding(findings, m, text);
	}
	return 0;
}

static int nat_conflict(const struct status_input *input, struct status_report *report,
			const struct chain_summary *chain)
{
	struct walk walk = { .ruleset = input->ruleset, .base = chain };
	struct nat_findings findings = { .report = report };
	const char *clients = chain->hook == NF_INET_PRE_ROUTING ? "remote" : "local";
	char order[160], reason[TEXT_SIZE + 512];
	int r;

	findings.per_mapping = calloc(report->mapping_count ? report->mapping_count : 1,
				      sizeof(*findings.per_mapping));
	if (!findings.per_mapping)
		return -ENOMEM;
	r = walk_chain(&walk, chain, 0, visit_nat_rule, &findings);
	if (r < 0)
		goto out;
	if (chain->policy == NF_DROP) {
		append(findings.reason, sizeof(findings.reason), "%sits policy drops every new connection no rule accepts",
		       findings.any ? "; " : "");
		for (size_t m = 0; m < report->mapping_count; m++)
			add_finding(&findings, m, "its policy drops every new connection no rule accepts");
	}
	if (!findings.any)
		goto out;
	if (chain->priority < PORTREDIR_PRIORITY)
		snprintf(order, sizeof(order), "before portredir's (priority %d, portredir's %d)", chain->priority,
			 PORTREDIR_PRIORITY);
	else
		snprintf(order, sizeof(order), "beside portredir's (both at priority %d: which goes first portredir cannot see)",
			 PORTREDIR_PRIORITY);
	snprintf(reason, sizeof(reason), "runs %s for new connections of %s %sclients: %s; move those rules, or give the chain a priority above %d",
		 order, clients, family_clients(chain->family), findings.reason, PORTREDIR_PRIORITY);
	r = -ENOMEM;
	if (ARRAY_GROW_ONE(report->conflicts, report->conflict_count, report->conflict_capacity, 4) < 0)
		goto out;
	{
		struct conflict *conflict = &report->conflicts[report->conflict_count];
		char table[256];

		snprintf(table, sizeof(table), "%s %s", ruleset_family_name(chain->family), chain->table);
		conflict->kind = "nat";
		conflict->table = strdup(table);
		conflict->chain = strdup(chain->name);
		conflict->reason = strdup(reason);
		report->conflict_count++;
		if (!conflict->table || !conflict->chain || !conflict->reason)
			goto out;
		for (size_t m = 0; m < report->mapping_count; m++) {
			struct mapping_report *mapping = &report->mappings[m];

			if (!findings.per_mapping[m][0])
				continue;
			if (status_mapping_problem(mapping, "%s %sclients of port %u may not reach %u: table %s, chain %s runs %s portredir's, and %s",
						   clients, family_clients(chain->family), mapping->port, mapping->target,
						   table, chain->name,
						   chain->priority < PORTREDIR_PRIORITY ? "before" : "beside",
						   findings.per_mapping[m]) < 0)
				goto out;
		}
	}
	r = 0;
out:
	free(findings.per_mapping);
	return r;
}

/* Whether a filter chain lets connections redirected to a mapping's
 * target through: by 'ct status dnat accept', by accepting the target
 * port, or by accepting everything of its protocol. */
struct filter_search {
	const struct mapping_report *mapping;
	bool accepted;
	char unreadable[128];
};

static int visit_filter_rule(const struct walk *walk, const struct chain_summary *chain,
			     const struct rule_summary *rule, void *data)
{
	struct filter_search *search = data;

	if (rule->unreadable[0] && !search->unreadable[0])
		rule_place(walk, chain, rule, search->unreadable, sizeof(search->unreadable));
	if (rule->verdict != RULE_ACCEPT || !protocol_matches(rule, search->mapping->protocol))
		return 0;
	if (rule->matches_dnat || rule_port_includes(rule, search->mapping->target) ||
	    (!rule->matches_port && !rule->other_conditions && !rule->unreadable[0]))
		search->accepted = true;
	return 0;
}

static int filter_conflict(const struct status_input *input, struct status_report *report,
			   const struct chain_summary *chain)
{
	char ports[PROTOCOL_COUNT][TEXT_SIZE] = { "", "" }, wanted[TEXT_SIZE] = "", reason[TEXT_SIZE * 2];
	size_t counts[PROTOCOL_COUNT] = { 0 }, uncovered = 0;
	char unreadable[128] = "", table[256];
	bool *dropped;
	int r = -ENOMEM;

	dropped = calloc(report->mapping_count ? report->mapping_count : 1, sizeof(*dropped));
	if (!dropped)
		return -ENOMEM;
	for (size_t m = 0; m < report->mapping_count; m++) {
		const struct mapping_report *mapping = &report->mappings[m];
		struct filter_search search = { .mapping = mapping };
		struct walk walk = { .ruleset = input->ruleset, .base = chain };
		bool seen = false;

		walk_chain(&walk, chain, 0, visit_filter_rule, &search);
		if (search.unreadable[0] && !unreadable[0])
			snprintf(unreadable, sizeof(unreadable), "%s", search.unreadable);
		if (search.accepted)
			continue;
		dropped[m] = true;
		uncovered++;
		/* Each target once: two mappings may share one. */
		for (size_t n = 0; n < m; n++)
			seen |= dropped[n] && report->mappings[n].protocol == mapping->protocol &&
				report->mappings[n].target == mapping->target;
		if (seen)
			continue;
		append(ports[mapping->protocol], sizeof(ports[mapping->protocol]), "%s%u",
		       counts[mapping->protocol] ? ", " : "", mapping->target);
		counts[mapping->protocol]++;
	}
	if (!uncovered) {
		r = 0;
		goto out;
	}
	append(wanted, sizeof(wanted), "'ct status dnat'");
	for (int p = 0; p < PROTOCOL_COUNT; p++) {
		if (!counts[p])
			continue;
		append(wanted, sizeof(wanted), " or '%s dport %s%s%s'", protocol_name((enum protocol)p),
		       counts[p] > 1 ? "{ " : "", ports[p], counts[p] > 1 ? " }" : "");
	}
	snprintf(reason, sizeof(reason), "policy drop on the input hook for %sclients: redirected connections arrive there with their target port, and no rule portredir recognizes accepts %s (a heuristic",
		 family_clients(chain->family), wanted);
	if (unreadable[0])
		append(reason, sizeof(reason), "; %s uses an expression portredir cannot read", unreadable);
	append(reason, sizeof(reason), "); add 'ct status dnat accept' to the chain");
	snprintf(table, sizeof(table), "%s %s", ruleset_family_name(chain->family), chain->table);
	if (ARRAY_GROW_ONE(report->conflicts, report->conflict_count, report->conflict_capacity, 4) < 0)
		goto out;
	{
		struct conflict *conflict = &report->conflicts[report->conflict_count++];

		conflict->kind = "filter";
		conflict->table = strdup(table);
		conflict->chain = strdup(chain->name);
		conflict->reason = strdup(reason);
		if (!conflict->table || !conflict->chain || !conflict->reason)
			goto out;
	}
	for (size_t m = 0; m < report->mapping_count; m++) {
		struct mapping_report *mapping = &report->mappings[m];

		if (!dropped[m])
			continue;
		if (status_mapping_problem(mapping, "%sconnections redirected to %u may be dropped: table %s, chain %s has policy drop, and no rule portredir recognizes accepts 'ct status dnat' or '%s dport %u'; add 'ct status dnat accept' to it",
					   family_clients(chain->family), mapping->target, table, chain->name,
					   protocol_name(mapping->protocol), mapping->target) < 0)
			goto out;
	}
	r = 0;
out:
	free(dropped);
	return r;
}

int status_analyze_conflicts(const struct status_input *input, struct status_report *report)
{
	if (!input->ruleset)
		return 0;
	for (size_t i = 0; i < input->ruleset->chain_count; i++) {
		const struct chain_summary *chain = &input->ruleset->chains[i];
		int r = 0;

		if (!chain->base || is_portredir(chain) || !family_known(chain->family))
			continue;
		if (!strcmp(chain->type, "nat") && chain->priority <= PORTREDIR_PRIORITY &&
		    (chain->hook == NF_INET_PRE_ROUTING || chain->hook == NF_INET_LOCAL_OUT))
			r = nat_conflict(input, report, chain);
		else if (!strcmp(chain->type, "filter") && chain->hook == NF_INET_LOCAL_IN && chain->policy == NF_DROP)
			r = filter_conflict(input, report, chain);
		if (r < 0)
			return r;
	}
	return 0;
}
