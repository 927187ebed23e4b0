/* The ruleset summary's constructors and its one destructor. */
#include <errno.h>
#include <linux/netfilter.h>
#include <stdlib.h>
#include <string.h>
#include "ruleset.h"
#include "util.h"

struct ruleset *ruleset_new(void)
{
	return calloc(1, sizeof(struct ruleset));
}

static void chain_clear(struct chain_summary *chain)
{
	for (size_t i = 0; i < chain->rule_count; i++) {
		free(chain->rules[i].ports);
		free(chain->rules[i].chain);
	}
	free(chain->rules);
	free(chain->table);
	free(chain->name);
}

void ruleset_free(struct ruleset *ruleset)
{
	if (!ruleset)
		return;
	for (size_t i = 0; i < ruleset->chain_count; i++)
		chain_clear(&ruleset->chains[i]);
	free(ruleset->chains);
	free(ruleset);
}

struct chain_summary *ruleset_add_chain(struct ruleset *ruleset, int family, const char *table, const char *name)
{
	struct chain_summary chain = { .family = family, .policy = NF_ACCEPT };

	chain.table = strdup(table);
	chain.name = strdup(name);
	if (!chain.table || !chain.name ||
	    ARRAY_GROW_ONE(ruleset->chains, ruleset->chain_count, ruleset->chain_capacity, 8) < 0) {
		chain_clear(&chain);
		return NULL;
	}
	ruleset->chains[ruleset->chain_count] = chain;
	return &ruleset->chains[ruleset->chain_count++];
}

struct chain_summary *ruleset_find_chain(const struct ruleset *ruleset, int family, const char *table,
					 const char *name)
{
	for (size_t i = 0; i < ruleset->chain_count; i++) {
		struct chain_summary *chain = &ruleset->chains[i];

		if (chain->family == family && !strcmp(chain->table, table) && !strcmp(chain->name, name))
			return chain;
	}
	return NULL;
}

struct rule_summary *chain_add_rule(struct chain_summary *chain, uint64_t handle)
{
	struct rule_summary *rule;

	if (ARRAY_GROW_ONE(chain->rules, chain->rule_count, chain->rule_capacity, 8) < 0)
		return NULL;
	rule = &chain->rules[chain->rule_count++];
	*rule = (struct rule_summary){ .handle = handle };
	return rule;
}

int rule_add_ports(struct rule_summary *rule, uint16_t first, uint16_t last)
{
	if (ARRAY_GROW_ONE(rule->ports, rule->port_count, rule->port_capacity, 4) < 0)
		return -ENOMEM;
	rule->ports[rule->port_count++] = (struct port_range){ first, last };
	rule->matches_port = true;
	return 0;
}

int rule_set_jump(struct rule_summary *rule, enum rule_verdict verdict, const char *chain)
{
	char *copy = strdup(chain);

	if (!copy)
		return -ENOMEM;
	free(rule->chain);
	rule->chain = copy;
	rule->verdict = verdict;
	return 0;
}

bool rule_port_includes(const struct rule_summary *rule, uint16_t port)
{
	if (!rule->matches_port)
		return false;
	for (size_t i = 0; i < rule->port_count; i++) {
		if (port >= rule->ports[i].first && port <= rule->ports[i].last)
			return true;
	}
	return false;
}

const char *ruleset_family_name(int family)
{
	switch (family) {
	case NFPROTO_IPV4:
		return "ip";
	case NFPROTO_IPV6:
		return "ip6";
	case NFPROTO_INET:
		return "inet";
	default:
		return "?";
	}
}
