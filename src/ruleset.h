/* Other tables' base chains, as status reads them: enough of each rule to
 * tell whether it may take a mapped port's new connections (NAT) or let
 * redirected ones through (filter). A summary, not a decompiler: what it
 * cannot read it says it cannot read. Free of libnftnl. */
#ifndef RULESET_H
#define RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rule_verdict {
	RULE_CONTINUE,
	RULE_ACCEPT,
	RULE_DROP,
	RULE_JUMP,
	RULE_GOTO,
	RULE_RETURN
};

struct port_range {
	uint16_t first;
	uint16_t last;
};

struct rule_summary {
	uint64_t handle;
	/* The layer 4 protocol the rule requires (IPPROTO_TCP, IPPROTO_UDP),
	 * 0 for any. */
	uint8_t l4proto;
	/* The destination port is constrained to these ranges. */
	bool matches_port;
	struct port_range *ports;
	size_t port_count;
	size_t port_capacity;
	/* ct status dnat. */
	bool matches_dnat;
	/* Conditions the summary does not model (addresses, interfaces, a
	 * negated port, marks): the rule matches only some packets. */
	bool other_conditions;
	/* dnat, redirect or tproxy: the rule changes where new connections
	 * go. */
	bool changes_destination;
	/* The name of the first expression not understood (an xtables match
	 * or target, a newer expression); empty when all were. It may change
	 * the destination or drop: what it does was not computed. */
	char unreadable[32];
	enum rule_verdict verdict;
	/* The chain of a jump or goto. */
	char *chain;
};

struct chain_summary {
	/* NFPROTO_IPV4, NFPROTO_IPV6 or NFPROTO_INET. */
	int family;
	char *table;
	char *name;
	bool base;
	char type[16];
	uint32_t hook;
	int32_t priority;
	/* NF_ACCEPT or NF_DROP. */
	uint32_t policy;
	struct rule_summary *rules;
	size_t rule_count;
	size_t rule_capacity;
};

struct ruleset {
	struct chain_summary *chains;
	size_t chain_count;
	size_t chain_capacity;
};

struct ruleset *ruleset_new(void);
void ruleset_free(struct ruleset *ruleset);
/* Adds a chain (table and name copied); NULL when out of memory. */
struct chain_summary *ruleset_add_chain(struct ruleset *ruleset, int family, const char *table, const char *name);
struct chain_summary *ruleset_find_chain(const struct ruleset *ruleset, int family, const char *table,
					 const char *name);
/* Adds a rule to chain, all zero but its handle; NULL when out of memory. */
struct rule_summary *chain_add_rule(struct chain_summary *chain, uint64_t handle);
int rule_add_ports(struct rule_summary *rule, uint16_t first, uint16_t last);
int rule_set_jump(struct rule_summary *rule, enum rule_verdict verdict, const char *chain);
/* Whether the rule constrains the destination port to ranges holding port. */
bool rule_port_includes(const struct rule_summary *rule, uint16_t port);

/* "ip", "ip6", "inet". */
const char *ruleset_family_name(int family);

#endif
