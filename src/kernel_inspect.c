/* What status reads from nf_tables beside the managed table's state: the
 * elements of the count sets, and every other table's base chains,
 * with a summary of the rules of the tables that may take or drop
 * redirected traffic (ruleset.h). Nothing here is written. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <libnftnl/expr.h>
#include "kernel_host.h"
#include "kernel_internal.h"
#include "util.h"

#define PORTREDIR_PRIORITY (-100)

/* The counts. */

struct counter_dump {
	enum protocol protocol;
	struct element_counter *counters;
	size_t count;
	size_t capacity;
};

static int element_expression(struct nftnl_expr *expression, void *data)
{
	uint64_t *packets = data;
	const char *name = nftnl_expr_get_str(expression, NFTNL_EXPR_NAME);

	if (name && !strcmp(name, "counter"))
		*packets = nftnl_expr_get_u64(expression, NFTNL_EXPR_CTR_PACKETS);
	return 0;
}

static int counter_message(const struct nlmsghdr *nlh, void *data)
{
	struct counter_dump *dump = data;
	struct nftnl_set *set = nftnl_set_alloc();
	struct nftnl_set_elems_iter *iterator = NULL;
	struct nftnl_set_elem *element;
	int r = MNL_CB_ERROR;

	errno = ENOMEM;
	if (!set)
		return MNL_CB_ERROR;
	if (nftnl_set_elems_nlmsg_parse(nlh, set) < 0) {
		errno = EBADMSG;
		goto out;
	}
	iterator = nftnl_set_elems_iter_create(set);
	if (!iterator)
		goto out;
	while ((element = nftnl_set_elems_iter_next(iterator))) {
		uint32_t key_length = 0;
		const void *key = nftnl_set_elem_get(element, NFTNL_SET_ELEM_KEY, &key_length);
		struct element_counter counter = { .protocol = dump->protocol };
		uint64_t packets = UINT64_MAX;
		uint16_t port;

		/* An element someone added without a counter counts nothing. */
		if (!key || key_length != sizeof(port))
			continue;
		nftnl_set_elem_expr_foreach(element, element_expression, &packets);
		if (packets == UINT64_MAX)
			continue;
		memcpy(&port, key, sizeof(port));
		counter.port = ntohs(port);
		counter.packets = packets;
		if (ARRAY_GROW_ONE(dump->counters, dump->count, dump->capacity, 64) < 0)
			goto out;
		dump->counters[dump->count++] = counter;
	}
	r = MNL_CB_OK;
out:
	nftnl_set_elems_iter_destroy(iterator);
	nftnl_set_free(set);
	return r;
}

static int compare_counters(const void *a, const void *b)
{
	const struct element_counter *x = a, *y = b;

	if (x->protocol != y->protocol)
		return x->protocol < y->protocol ? -1 : 1;
	return (int)x->port - (int)y->port;
}

int kernel_read_counters(struct kernel *kernel, struct element_counter **ret_counters, size_t *ret_count)
{
	struct counter_dump dump = { 0 };
	int r = 0;

	for (int i = 0; i < PROTOCOL_COUNT && r >= 0; i++) {
		char buffer[KERNEL_REQUEST_BUFFER_SIZE] = { 0 };
		struct nlmsghdr *nlh;

		dump.protocol = (enum protocol)i;
		nlh = kernel_build_read_request(kernel, buffer, NFT_MSG_GETSETELEM, NLM_F_DUMP,
						count_set_name((enum protocol)i));
		r = nlh ? kernel_dump(kernel, nlh, counter_message, &dump) : -ENOMEM;
	}
	if (r < 0) {
		free(dump.counters);
		return r;
	}
	if (dump.count)
		qsort(dump.counters, dump.count, sizeof(*dump.counters), compare_counters);
	*ret_counters = dump.counters;
	*ret_count = dump.count;
	return 0;
}

/* The chains. */

static int chain_message(const struct nlmsghdr *nlh, void *data)
{
	struct ruleset *ruleset = data;
	struct nftnl_chain *object = nftnl_chain_alloc();
	struct chain_summary *chain;
	const char *table, *name, *type;
	int r = MNL_CB_OK;

	errno = ENOMEM;
	if (!object)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, object) < 0)
		goto out;
	table = nftnl_chain_get_str(object, NFTNL_CHAIN_TABLE);
	name = nftnl_chain_get_str(object, NFTNL_CHAIN_NAME);
	if (!table || !name)
		goto out;
	chain = ruleset_add_chain(ruleset, (int)nftnl_chain_get_u32(object, NFTNL_CHAIN_FAMILY), table, name);
	if (!chain) {
		r = MNL_CB_ERROR;
		goto out;
	}
	if (nftnl_chain_is_set(object, NFTNL_CHAIN_HOOKNUM)) {
		chain->base = true;
		chain->hook = nftnl_chain_get_u32(object, NFTNL_CHAIN_HOOKNUM);
		chain->priority = nftnl_chain_get_s32(object, NFTNL_CHAIN_PRIO);
		chain->policy = nftnl_chain_get_u32(object, NFTNL_CHAIN_POLICY);
		type = nftnl_chain_get_str(object, NFTNL_CHAIN_TYPE);
		snprintf(chain->type, sizeof(chain->type), "%s", type ? type : "");
	}
out:
	nftnl_chain_free(object);
	return r;
}

/* Whether a chain is one status looks into (status_conflicts.c). */
static bool chain_of_interest(const struct chain_summary *chain)
{
	if (!chain->base || (chain->family == NFPROTO_INET && !strcmp(chain->table, TABLE_NAME)))
		return false;
	if (!strcmp(chain->type, "nat"))
		return chain->priority <= PORTREDIR_PRIORITY &&
		       (chain->hook == NF_INET_PRE_ROUTING || chain->hook == NF_INET_LOCAL_OUT);
	return !strcmp(chain->type, "filter") && chain->hook == NF_INET_LOCAL_IN && chain->policy == NF_DROP;
}

/* The rules, summarised by kernel_rules.c. */

static int rule_message(const struct nlmsghdr *nlh, void *data)
{
	struct rule_dump *dump = data;
	struct nftnl_rule *object = nftnl_rule_alloc();
	int r;

	errno = ENOMEM;
	if (!object)
		return MNL_CB_ERROR;
	r = nftnl_rule_nlmsg_parse(nlh, object) < 0 ? 0 : kernel_summarize_rule(dump, object);
	nftnl_rule_free(object);
	if (r < 0) {
		errno = -r;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

/* The elements of one set a rule looks a port up in. Interval sets hold
 * each range as its first port and, flagged as an end, the port after
 * its last; they are paired once all are read. */
struct element_keys {
	uint32_t *keys; /* port, and bit 16 for an interval's end */
	size_t count;
	size_t capacity;
	bool unreadable;
};

static int set_element_message(const struct nlmsghdr *nlh, void *data)
{
	struct element_keys *keys = data;
	struct nftnl_set *set = nftnl_set_alloc();
	struct nftnl_set_elems_iter *iterator = NULL;
	struct nftnl_set_elem *element;
	int r = MNL_CB_ERROR;

	errno = ENOMEM;
	if (!set)
		return MNL_CB_ERROR;
	if (nftnl_set_elems_nlmsg_parse(nlh, set) < 0) {
		keys->unreadable = true;
		r = MNL_CB_OK;
		goto out;
	}
	iterator = nftnl_set_elems_iter_create(set);
	if (!iterator)
		goto out;
	while ((element = nftnl_set_elems_iter_next(iterator))) {
		uint32_t length = 0, flags = 0;
		const void *key = nftnl_set_elem_get(element, NFTNL_SET_ELEM_KEY, &length);
		uint16_t port;

		if (!key || length != sizeof(port)) {
			keys->unreadable = true;
			continue;
		}
		if (nftnl_set_elem_is_set(element, NFTNL_SET_ELEM_FLAGS))
			flags = nftnl_set_elem_get_u32(element, NFTNL_SET_ELEM_FLAGS);
		memcpy(&port, key, sizeof(port));
		if (ARRAY_GROW_ONE(keys->keys, keys->count, keys->capacity, 16) < 0)
			goto out;
		keys->keys[keys->count++] = ntohs(port) | (flags & NFT_SET_ELEM_INTERVAL_END ? 0x10000u : 0);
	}
	r = MNL_CB_OK;
out:
	nftnl_set_elems_iter_destroy(iterator);
	nftnl_set_free(set);
	return r;
}

static int compare_keys(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a & 0xffff, y = *(const uint32_t *)b & 0xffff;

	if (x != y)
		return x < y ? -1 : 1;
	/* An end and a start at the same port: the end closes first. */
	return (int)(*(const uint32_t *)b >> 16) - (int)(*(const uint32_t *)a >> 16);
}

static int add_set_ports(struct rule_summary *rule, struct element_keys *keys)
{
	bool interval = false, open = false;
	uint32_t start = 0;

	for (size_t i = 0; i < keys->count; i++)
		interval |= keys->keys[i] >> 16;
	if (keys->count)
		qsort(keys->keys, keys->count, sizeof(*keys->keys), compare_keys);
	for (size_t i = 0; i < keys->count; i++) {
		uint32_t port = keys->keys[i] & 0xffff;
		bool end = keys->keys[i] >> 16;

		if (!interval) {
			if (rule_add_ports(rule, (uint16_t)port, (uint16_t)port) < 0)
				return -ENOMEM;
		} else if (!end) {
			if (open && rule_add_ports(rule, (uint16_t)start, (uint16_t)(port - 1)) < 0)
				return -ENOMEM;
			open = true;
			start = port;
		} else if (open) {
			if (port > start && rule_add_ports(rule, (uint16_t)start, (uint16_t)(port - 1)) < 0)
				return -ENOMEM;
			open = false;
		}
	}
	if (open && rule_add_ports(rule, (uint16_t)start, UINT16_MAX) < 0)
		return -ENOMEM;
	return 0;
}

static int read_lookup(struct kernel *kernel, const struct pending_lookup *pending)
{
	char buffer[KERNEL_REQUEST_BUFFER_SIZE] = { 0 };
	struct rule_summary *rule = &pending->chain->rules[pending->rule];
	struct element_keys keys = { 0 };
	struct nftnl_set *set = nftnl_set_alloc();
	struct nlmsghdr *nlh;
	int r;

	if (!set)
		return -ENOMEM;
	nlh = nftnl_nlmsg_build_hdr(buffer, NFT_MSG_GETSETELEM, (uint16_t)pending->chain->family, NLM_F_DUMP,
				    kernel_next_sequence(kernel));
	nftnl_set_set_str(set, NFTNL_SET_TABLE, pending->chain->table);
	nftnl_set_set_str(set, NFTNL_SET_NAME, pending->set);
	nftnl_set_elems_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	r = kernel_dump(kernel, nlh, set_element_message, &keys);
	if (r >= 0 && !keys.unreadable)
		r = add_set_ports(rule, &keys);
	else if (r >= 0 || r == -ENOENT) {
		/* Not a set of ports after all (a concatenation): a
		 * condition of its own. */
		rule->other_conditions = true;
		r = 0;
	}
	free(keys.keys);
	return r;
}

static int read_rules(struct kernel *kernel, struct ruleset *ruleset, int family, const char *table)
{
	char buffer[KERNEL_REQUEST_BUFFER_SIZE] = { 0 };
	struct rule_dump dump = { .ruleset = ruleset };
	struct nftnl_rule *rule = nftnl_rule_alloc();
	struct nlmsghdr *nlh;
	int r;

	if (!rule)
		return -ENOMEM;
	nlh = nftnl_nlmsg_build_hdr(buffer, NFT_MSG_GETRULE, (uint16_t)family, NLM_F_DUMP,
				    kernel_next_sequence(kernel));
	nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, table);
	nftnl_rule_nlmsg_build_payload(nlh, rule);
	nftnl_rule_free(rule);
	r = kernel_dump(kernel, nlh, rule_message, &dump);
	for (size_t i = 0; r >= 0 && i < dump.lookup_count; i++)
		r = read_lookup(kernel, &dump.lookups[i]);
	free(dump.lookups);
	return r;
}

static int read_once(struct kernel *kernel, struct ruleset *ruleset)
{
	char buffer[KERNEL_REQUEST_BUFFER_SIZE] = { 0 };
	struct nftnl_chain *chain = nftnl_chain_alloc();
	struct nlmsghdr *nlh;
	int r;

	if (!chain)
		return -ENOMEM;
	nlh = nftnl_nlmsg_build_hdr(buffer, NFT_MSG_GETCHAIN, NFPROTO_UNSPEC, NLM_F_DUMP,
				    kernel_next_sequence(kernel));
	nftnl_chain_nlmsg_build_payload(nlh, chain);
	nftnl_chain_free(chain);
	r = kernel_dump(kernel, nlh, chain_message, ruleset);
	/* The rules of each table with a chain of interest, once. */
	for (size_t i = 0; r >= 0 && i < ruleset->chain_count; i++) {
		const struct chain_summary *candidate = &ruleset->chains[i];
		bool done = false;

		if (!chain_of_interest(candidate))
			continue;
		for (size_t j = 0; j < i; j++)
			done |= chain_of_interest(&ruleset->chains[j]) && ruleset->chains[j].family == candidate->family &&
				!strcmp(ruleset->chains[j].table, candidate->table);
		if (!done)
			r = read_rules(kernel, ruleset, candidate->family, candidate->table);
	}
	return r;
}

int kernel_read_ruleset(struct kernel *kernel, struct ruleset **ret_ruleset)
{
	int r = -EAGAIN;

	/* A dump interrupted by a change is read again. */
	for (int attempt = 0; attempt < KERNEL_MAX_ATTEMPTS; attempt++) {
		struct ruleset *ruleset = ruleset_new();

		if (!ruleset)
			return -ENOMEM;
		r = read_once(kernel, ruleset);
		if (r >= 0) {
			*ret_ruleset = ruleset;
			return 0;
		}
		ruleset_free(ruleset);
		if (r != -EINTR && r != -ENOBUFS)
			return r;
	}
	return r;
}
