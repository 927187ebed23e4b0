/* A rule of another table as status reads it (ruleset.h): what it
 * matches (protocol, destination port, ct status dnat, anything else),
 * whether it changes a connection's destination, and its verdict, from the
 * expressions nft and iptables-nft write. Pure: libnftnl objects in, a
 * summary out. */
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
#include "kernel_internal.h"
#include "ruleset.h"
#include "util.h"

/* Registers: NFT_REG_VERDICT, the four 16-byte ones, the sixteen 4-byte
 * ones (NFT_REG32_00 is 8). */
#define REGISTER_COUNT 32

enum register_content {
	REGISTER_OTHER,
	REGISTER_L4PROTO,
	REGISTER_DESTINATION_PORT,
	REGISTER_CT_STATUS,
	REGISTER_CT_STATUS_DNAT
};

static enum register_content get_register(const enum register_content *registers, uint32_t number)
{
	return number < REGISTER_COUNT ? registers[number] : REGISTER_OTHER;
}

/* The four 16-byte registers (1 to 4) overlap the 4-byte ones (8 to 23):
 * a load into one makes what the other held unknown. */
static void set_register(enum register_content *registers, uint32_t number, enum register_content content)
{
	if (number >= NFT_REG_1 && number <= NFT_REG_4) {
		for (uint32_t i = 0; i < 4; i++)
			registers[NFT_REG32_00 + (number - NFT_REG_1) * 4 + i] = REGISTER_OTHER;
	} else if (number >= NFT_REG32_00 && number < REGISTER_COUNT) {
		registers[NFT_REG_1 + (number - NFT_REG32_00) / 4] = REGISTER_OTHER;
	}
	if (number < REGISTER_COUNT)
		registers[number] = content;
}

static void clear_registers(enum register_content *registers)
{
	for (uint32_t i = 0; i < REGISTER_COUNT; i++)
		registers[i] = REGISTER_OTHER;
}

static void set_unreadable(struct rule_summary *rule, const char *name)
{
	if (!rule->unreadable[0])
		snprintf(rule->unreadable, sizeof(rule->unreadable), "%s", name);
}

/* "tcp dport 8000-8100" as nft writes it: two comparisons, gte and lte. */
struct port_bounds {
	bool bounded;
	uint32_t low;
	uint32_t high;
};

static void bound_port(struct port_bounds *bounds, uint32_t op, uint16_t port)
{
	if (!bounds->bounded)
		*bounds = (struct port_bounds){ true, 0, UINT16_MAX };
	if (op == NFT_CMP_GTE && port > bounds->low)
		bounds->low = port;
	else if (op == NFT_CMP_GT && port + 1u > bounds->low)
		bounds->low = port + 1u;
	else if (op == NFT_CMP_LTE && port < bounds->high)
		bounds->high = port;
	else if (op == NFT_CMP_LT && (uint32_t)port - 1u < bounds->high)
		bounds->high = port ? port - 1u : 0;
}

static void summarize_compare(struct rule_summary *rule, const struct nftnl_expr *expression,
			      enum register_content *registers, struct port_bounds *bounds)
{
	enum register_content content = get_register(registers, nftnl_expr_get_u32(expression, NFTNL_EXPR_CMP_SREG));
	uint32_t op = nftnl_expr_get_u32(expression, NFTNL_EXPR_CMP_OP), length = 0;
	const uint8_t *data = nftnl_expr_get(expression, NFTNL_EXPR_CMP_DATA, &length);
	uint16_t port;

	if (content == REGISTER_L4PROTO && op == NFT_CMP_EQ && length == 1) {
		rule->l4proto = data[0];
	} else if (content == REGISTER_DESTINATION_PORT && op == NFT_CMP_EQ && length == sizeof(port)) {
		memcpy(&port, data, sizeof(port));
		if (rule_add_ports(rule, ntohs(port), ntohs(port)) < 0)
			set_unreadable(rule, "cmp");
	} else if (content == REGISTER_DESTINATION_PORT && length == sizeof(port) &&
		   (op == NFT_CMP_GTE || op == NFT_CMP_GT || op == NFT_CMP_LTE || op == NFT_CMP_LT)) {
		memcpy(&port, data, sizeof(port));
		bound_port(bounds, op, ntohs(port));
	} else if (content == REGISTER_CT_STATUS_DNAT && op == NFT_CMP_NEQ && length == 4 &&
		   !memcmp(data, "\0\0\0\0", 4)) {
		rule->matches_dnat = true;
	} else {
		rule->other_conditions = true;
	}
}

static void summarize_range(struct rule_summary *rule, const struct nftnl_expr *expression,
			    enum register_content *registers)
{
	enum register_content content = get_register(registers, nftnl_expr_get_u32(expression, NFTNL_EXPR_RANGE_SREG));
	uint32_t from_length = 0, to_length = 0;
	const void *from = nftnl_expr_get(expression, NFTNL_EXPR_RANGE_FROM_DATA, &from_length);
	const void *to = nftnl_expr_get(expression, NFTNL_EXPR_RANGE_TO_DATA, &to_length);
	uint16_t first, last;

	if (content != REGISTER_DESTINATION_PORT || nftnl_expr_get_u32(expression, NFTNL_EXPR_RANGE_OP) != NFT_RANGE_EQ ||
	    from_length != 2 || to_length != 2) {
		rule->other_conditions = true;
		return;
	}
	memcpy(&first, from, 2);
	memcpy(&last, to, 2);
	if (rule_add_ports(rule, ntohs(first), ntohs(last)) < 0)
		set_unreadable(rule, "range");
}

static void summarize_bitwise(const struct nftnl_expr *expression, enum register_content *registers)
{
	enum register_content content = get_register(registers, nftnl_expr_get_u32(expression, NFTNL_EXPR_BITWISE_SREG));
	uint32_t mask_length = 0, xor_length = 0, mask = 0, xor = 1;
	const void *mask_data = nftnl_expr_get(expression, NFTNL_EXPR_BITWISE_MASK, &mask_length);
	const void *xor_data = nftnl_expr_get(expression, NFTNL_EXPR_BITWISE_XOR, &xor_length);

	if (mask_data && mask_length == 4)
		memcpy(&mask, mask_data, 4);
	if (xor_data && xor_length == 4)
		memcpy(&xor, xor_data, 4);
	/* ct status is loaded in host byte order: "ct status dnat". */
	set_register(registers, nftnl_expr_get_u32(expression, NFTNL_EXPR_BITWISE_DREG),
		     content == REGISTER_CT_STATUS && mask == IPS_DST_NAT && xor == 0 ? REGISTER_CT_STATUS_DNAT :
											REGISTER_OTHER);
}

static int summarize_lookup(struct rule_dump *dump, struct chain_summary *chain, struct rule_summary *rule,
			    const struct nftnl_expr *expression, enum register_content *registers)
{
	enum register_content content = get_register(registers, nftnl_expr_get_u32(expression, NFTNL_EXPR_LOOKUP_SREG));
	const char *set = nftnl_expr_get_str(expression, NFTNL_EXPR_LOOKUP_SET);
	bool inverted = nftnl_expr_is_set(expression, NFTNL_EXPR_LOOKUP_FLAGS) &&
			(nftnl_expr_get_u32(expression, NFTNL_EXPR_LOOKUP_FLAGS) & NFT_LOOKUP_F_INV);
	struct pending_lookup *pending;

	if (nftnl_expr_is_set(expression, NFTNL_EXPR_LOOKUP_DREG)) {
		uint32_t dreg = nftnl_expr_get_u32(expression, NFTNL_EXPR_LOOKUP_DREG);

		/* A verdict map: what each port's verdict is was not read. */
		if (dreg == NFT_REG_VERDICT) {
			set_unreadable(rule, "vmap");
			return 0;
		}
		set_register(registers, dreg, REGISTER_OTHER);
	}
	if (content != REGISTER_DESTINATION_PORT || inverted || !set) {
		rule->other_conditions = true;
		return 0;
	}
	if (ARRAY_GROW_ONE(dump->lookups, dump->lookup_count, dump->lookup_capacity, 8) < 0)
		return -ENOMEM;
	pending = &dump->lookups[dump->lookup_count++];
	pending->chain = chain;
	pending->rule = (size_t)(rule - chain->rules);
	snprintf(pending->set, sizeof(pending->set), "%s", set);
	/* Until the set is read, the port is constrained to nothing known. */
	rule->matches_port = true;
	return 0;
}

static void summarize_immediate(struct rule_summary *rule, const struct nftnl_expr *expression,
				enum register_content *registers)
{
	uint32_t dreg = nftnl_expr_get_u32(expression, NFTNL_EXPR_IMM_DREG);
	const char *target;

	if (dreg != NFT_REG_VERDICT) {
		set_register(registers, dreg, REGISTER_OTHER);
		return;
	}
	switch ((int)nftnl_expr_get_u32(expression, NFTNL_EXPR_IMM_VERDICT)) {
	case NF_ACCEPT:
		rule->verdict = RULE_ACCEPT;
		break;
	case NF_DROP:
		rule->verdict = RULE_DROP;
		break;
	case NFT_RETURN:
		rule->verdict = RULE_RETURN;
		break;
	case NFT_JUMP:
	case NFT_GOTO:
		target = nftnl_expr_get_str(expression, NFTNL_EXPR_IMM_CHAIN);
		if (!target || rule_set_jump(rule, (int)nftnl_expr_get_u32(expression, NFTNL_EXPR_IMM_VERDICT) == NFT_JUMP ?
						   RULE_JUMP : RULE_GOTO, target) < 0)
			set_unreadable(rule, "jump");
		break;
	}
}

/* An xtables target (iptables-nft): those that change where a new
 * connection goes, those that drop it, and the rest. */
static void summarize_target(struct rule_summary *rule, const struct nftnl_expr *expression)
{
	static const char *const harmless[] = { "MARK", "CONNMARK", "LOG", "NFLOG", "MASQUERADE", "SNAT",
						"RETURN", "ACCEPT", "CT", "NOTRACK", "TCPMSS", "DSCP", "TOS" };
	const char *name = nftnl_expr_get_str(expression, NFTNL_EXPR_TG_NAME);
	char text[32];

	if (!name)
		name = "";
	if (!strcmp(name, "DNAT") || !strcmp(name, "REDIRECT") || !strcmp(name, "NETMAP") || !strcmp(name, "TPROXY")) {
		rule->changes_destination = true;
		return;
	}
	if (!strcmp(name, "REJECT") || !strcmp(name, "DROP")) {
		rule->verdict = RULE_DROP;
		return;
	}
	for (size_t i = 0; i < sizeof(harmless) / sizeof(harmless[0]); i++) {
		if (!strcmp(name, harmless[i]))
			return;
	}
	snprintf(text, sizeof(text), "xt %s", name);
	set_unreadable(rule, text);
}

static bool is_one_of(const char *name, const char *const *names, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (!strcmp(name, names[i]))
			return true;
	}
	return false;
}

static int summarize_expression(struct rule_dump *dump, struct chain_summary *chain, struct rule_summary *rule,
				const struct nftnl_expr *expression, enum register_content *registers,
				struct port_bounds *bounds)
{
	/* Expressions that load a register for a later comparison. */
	static const char *const loads[] = { "fib", "socket", "rt", "exthdr", "hash", "numgen", "osf", "xfrm",
					     "tunnel", "inner" };
	/* Statements that neither change where a packet goes nor drop it,
	 * and conditions that only limit how often a rule matches. */
	static const char *const harmless[] = { "counter", "log", "notrack", "objref", "dynset", "last", "dup",
						"masq", "limit", "quota", "connlimit", "ct_expect", "synproxy" };
	const char *name = nftnl_expr_get_str(expression, NFTNL_EXPR_NAME);

	if (!name)
		name = "";
	if (!strcmp(name, "meta")) {
		if (nftnl_expr_is_set(expression, NFTNL_EXPR_META_DREG))
			set_register(registers, nftnl_expr_get_u32(expression, NFTNL_EXPR_META_DREG),
				     nftnl_expr_get_u32(expression, NFTNL_EXPR_META_KEY) == NFT_META_L4PROTO ?
					     REGISTER_L4PROTO : REGISTER_OTHER);
	} else if (!strcmp(name, "payload")) {
		uint32_t base = nftnl_expr_get_u32(expression, NFTNL_EXPR_PAYLOAD_BASE);
		uint32_t offset = nftnl_expr_get_u32(expression, NFTNL_EXPR_PAYLOAD_OFFSET);
		uint32_t length = nftnl_expr_get_u32(expression, NFTNL_EXPR_PAYLOAD_LEN);
		enum register_content content = REGISTER_OTHER;

		if (!nftnl_expr_is_set(expression, NFTNL_EXPR_PAYLOAD_DREG))
			return 0;
		if (base == NFT_PAYLOAD_TRANSPORT_HEADER && offset == 2 && length == 2)
			content = REGISTER_DESTINATION_PORT;
		/* ip protocol, ip6 nexthdr: how iptables-nft matches "-p tcp". */
		else if (base == NFT_PAYLOAD_NETWORK_HEADER && length == 1 &&
			 ((chain->family == NFPROTO_IPV4 && offset == 9) || (chain->family == NFPROTO_IPV6 && offset == 6)))
			content = REGISTER_L4PROTO;
		set_register(registers, nftnl_expr_get_u32(expression, NFTNL_EXPR_PAYLOAD_DREG), content);
	} else if (!strcmp(name, "ct")) {
		if (nftnl_expr_is_set(expression, NFTNL_EXPR_CT_DREG))
			set_register(registers, nftnl_expr_get_u32(expression, NFTNL_EXPR_CT_DREG),
				     nftnl_expr_get_u32(expression, NFTNL_EXPR_CT_KEY) == NFT_CT_STATUS ?
					     REGISTER_CT_STATUS : REGISTER_OTHER);
	} else if (!strcmp(name, "cmp")) {
		summarize_compare(rule, expression, registers, bounds);
	} else if (!strcmp(name, "range")) {
		summarize_range(rule, expression, registers);
	} else if (!strcmp(name, "bitwise")) {
		summarize_bitwise(expression, registers);
	} else if (!strcmp(name, "lookup")) {
		return summarize_lookup(dump, chain, rule, expression, registers);
	} else if (!strcmp(name, "immediate")) {
		summarize_immediate(rule, expression, registers);
	} else if (!strcmp(name, "nat")) {
		if (nftnl_expr_get_u32(expression, NFTNL_EXPR_NAT_TYPE) == NFT_NAT_DNAT)
			rule->changes_destination = true;
	} else if (!strcmp(name, "redir") || !strcmp(name, "tproxy")) {
		rule->changes_destination = true;
	} else if (!strcmp(name, "reject")) {
		rule->verdict = RULE_DROP;
	} else if (!strcmp(name, "match")) {
		rule->other_conditions = true;
	} else if (!strcmp(name, "target")) {
		summarize_target(rule, expression);
	} else if (is_one_of(name, loads, sizeof(loads) / sizeof(loads[0]))) {
		/* What they load is "other": compared, it is a condition. */
		clear_registers(registers);
	} else if (!is_one_of(name, harmless, sizeof(harmless) / sizeof(harmless[0]))) {
		set_unreadable(rule, name[0] ? name : "?");
	}
	return 0;
}

int kernel_summarize_rule(struct rule_dump *dump, const struct nftnl_rule *object)
{
	enum register_content registers[REGISTER_COUNT] = { REGISTER_OTHER };
	struct port_bounds bounds = { false, 0, 0 };
	const char *table = nftnl_rule_get_str(object, NFTNL_RULE_TABLE);
	const char *chain_name = nftnl_rule_get_str(object, NFTNL_RULE_CHAIN);
	struct nftnl_expr_iter *iterator;
	const struct nftnl_expr *expression;
	struct chain_summary *chain;
	struct rule_summary *rule;
	int r = 0;

	if (!table || !chain_name)
		return 0;
	chain = ruleset_find_chain(dump->ruleset, (int)nftnl_rule_get_u32(object, NFTNL_RULE_FAMILY), table,
				   chain_name);
	if (!chain)
		return 0;
	rule = chain_add_rule(chain, nftnl_rule_get_u64(object, NFTNL_RULE_HANDLE));
	if (!rule)
		return -ENOMEM;
	iterator = nftnl_expr_iter_create(object);
	if (!iterator)
		return -ENOMEM;
	while (r >= 0 && (expression = nftnl_expr_iter_next(iterator)))
		r = summarize_expression(dump, chain, rule, expression, registers, &bounds);
	nftnl_expr_iter_destroy(iterator);
	/* Bounds that leave no port match none. */
	if (r >= 0 && bounds.bounded && bounds.low <= bounds.high)
		r = rule_add_ports(rule, (uint16_t)bounds.low, (uint16_t)bounds.high);
	else if (r >= 0 && bounds.bounded)
		rule->matches_port = true;
	return r;
}

