/* How status reads other tables' rules, as a specification: rules built
 * expression by expression as nft 1.0.6 and iptables-nft send them (what
 * `nft --debug=netlink` shows for the text in each comment), and the
 * summary kernel_summarize_rule() makes of each. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include "kernel_internal.h"
#include "ruleset.h"

struct fixture {
	struct ruleset *ruleset;
	struct chain_summary *chain;
	struct nftnl_rule *rule;
	struct rule_dump dump;
};

static int setup(void **state)
{
	struct fixture *fixture = calloc(1, sizeof(*fixture));

	assert_non_null(fixture);
	fixture->ruleset = ruleset_new();
	assert_non_null(fixture->ruleset);
	fixture->chain = ruleset_add_chain(fixture->ruleset, NFPROTO_IPV4, "nat", "PREROUTING");
	assert_non_null(fixture->chain);
	fixture->rule = nftnl_rule_alloc();
	assert_non_null(fixture->rule);
	nftnl_rule_set_u32(fixture->rule, NFTNL_RULE_FAMILY, NFPROTO_IPV4);
	nftnl_rule_set_str(fixture->rule, NFTNL_RULE_TABLE, "nat");
	nftnl_rule_set_str(fixture->rule, NFTNL_RULE_CHAIN, "PREROUTING");
	nftnl_rule_set_u64(fixture->rule, NFTNL_RULE_HANDLE, 4);
	fixture->dump.ruleset = fixture->ruleset;
	*state = fixture;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fixture = *state;

	free(fixture->dump.lookups);
	nftnl_rule_free(fixture->rule);
	ruleset_free(fixture->ruleset);
	free(fixture);
	return 0;
}

static void add(struct fixture *fixture, struct nftnl_expr *expression)
{
	assert_non_null(expression);
	nftnl_rule_add_expr(fixture->rule, expression);
}

static struct nftnl_expr *load(const char *name, uint32_t key_attribute, uint32_t key, uint32_t dreg_attribute)
{
	struct nftnl_expr *expression = nftnl_expr_alloc(name);

	assert_non_null(expression);
	nftnl_expr_set_u32(expression, key_attribute, key);
	nftnl_expr_set_u32(expression, dreg_attribute, NFT_REG_1);
	return expression;
}

static struct nftnl_expr *compare(uint32_t op, const void *data, uint32_t length)
{
	struct nftnl_expr *expression = nftnl_expr_alloc("cmp");

	assert_non_null(expression);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(expression, NFTNL_EXPR_CMP_DATA, data, length);
	return expression;
}

/* meta l4proto tcp: [ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x06 ] */
static void add_tcp(struct fixture *fixture)
{
	const uint8_t tcp = IPPROTO_TCP;

	add(fixture, load("meta", NFTNL_EXPR_META_KEY, NFT_META_L4PROTO, NFTNL_EXPR_META_DREG));
	add(fixture, compare(NFT_CMP_EQ, &tcp, 1));
}

/* [ payload load 2b @ transport header + 2 => reg 1 ] */
static void add_destination_port(struct fixture *fixture)
{
	struct nftnl_expr *expression = nftnl_expr_alloc("payload");

	assert_non_null(expression);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_PAYLOAD_OFFSET, 2);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_PAYLOAD_LEN, 2);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	add(fixture, expression);
}

static void add_port_compare(struct fixture *fixture, uint32_t op, uint16_t port)
{
	const uint16_t value = htons(port);

	add(fixture, compare(op, &value, sizeof(value)));
}

/* dnat to 198.18.0.2:8000: two immediates and the nat expression. */
static void add_dnat(struct fixture *fixture)
{
	const uint32_t address = htonl(0xc6120002);
	const uint16_t port = htons(8000);
	struct nftnl_expr *expression = nftnl_expr_alloc("immediate");

	nftnl_expr_set_u32(expression, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
	nftnl_expr_set(expression, NFTNL_EXPR_IMM_DATA, &address, sizeof(address));
	add(fixture, expression);
	expression = nftnl_expr_alloc("immediate");
	nftnl_expr_set_u32(expression, NFTNL_EXPR_IMM_DREG, NFT_REG_2);
	nftnl_expr_set(expression, NFTNL_EXPR_IMM_DATA, &port, sizeof(port));
	add(fixture, expression);
	expression = nftnl_expr_alloc("nat");
	nftnl_expr_set_u32(expression, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
	add(fixture, expression);
}

static void add_verdict(struct fixture *fixture, int verdict, const char *chain)
{
	struct nftnl_expr *expression = nftnl_expr_alloc("immediate");

	assert_non_null(expression);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	if (chain)
		nftnl_expr_set_str(expression, NFTNL_EXPR_IMM_CHAIN, chain);
	add(fixture, expression);
}

static const struct rule_summary *summarize(struct fixture *fixture)
{
	assert_int_equal(kernel_summarize_rule(&fixture->dump, fixture->rule), 0);
	assert_int_equal(fixture->chain->rule_count, 1);
	assert_int_equal(fixture->chain->rules[0].handle, 4);
	return &fixture->chain->rules[0];
}

static void assert_ports(const struct rule_summary *rule, uint16_t first, uint16_t last)
{
	assert_true(rule->matches_port);
	assert_int_equal(rule->port_count, 1);
	assert_int_equal(rule->ports[0].first, first);
	assert_int_equal(rule->ports[0].last, last);
}

/* tcp dport 80 dnat to 198.18.0.2:8000 */
static void a_port_matched_with_dnat_changes_the_destination(void **state)
{
	struct fixture *fixture = *state;
	const struct rule_summary *rule;

	add_tcp(fixture);
	add_destination_port(fixture);
	add_port_compare(fixture, NFT_CMP_EQ, 80);
	add_dnat(fixture);
	rule = summarize(fixture);
	assert_int_equal(rule->l4proto, IPPROTO_TCP);
	assert_ports(rule, 80, 80);
	assert_true(rule->changes_destination);
	assert_false(rule->other_conditions);
	assert_string_equal(rule->unreadable, "");
	assert_int_equal(rule->verdict, RULE_CONTINUE);
}

/* tcp dport 8000-8100 dnat to 198.18.0.2: nft writes the range as two
 * comparisons, [ cmp gte reg 1 0x401f ] [ cmp lte reg 1 0xa41f ]. */
static void a_range_of_two_comparisons_is_one_range(void **state)
{
	struct fixture *fixture = *state;
	const struct rule_summary *rule;

	add_tcp(fixture);
	add_destination_port(fixture);
	add_port_compare(fixture, NFT_CMP_GTE, 8000);
	add_port_compare(fixture, NFT_CMP_LTE, 8100);
	add_dnat(fixture);
	rule = summarize(fixture);
	assert_ports(rule, 8000, 8100);
	assert_false(rule_port_includes(rule, 80));
	assert_true(rule_port_includes(rule, 8080));
}

/* ct status dnat accept: [ ct load status => reg 1 ]
 * [ bitwise reg 1 = ( reg 1 & 0x00000020 ) ^ 0x00000000 ]
 * [ cmp neq reg 1 0x00000000 ] [ immediate reg 0 accept ] */
static void ct_status_dnat_accept_is_recognised(void **state)
{
	struct fixture *fixture = *state;
	const uint32_t mask = 0x20, zero = 0;
	struct nftnl_expr *bitwise = nftnl_expr_alloc("bitwise");
	const struct rule_summary *rule;

	add(fixture, load("ct", NFTNL_EXPR_CT_KEY, NFT_CT_STATUS, NFTNL_EXPR_CT_DREG));
	nftnl_expr_set_u32(bitwise, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(bitwise, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(bitwise, NFTNL_EXPR_BITWISE_LEN, 4);
	nftnl_expr_set(bitwise, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
	nftnl_expr_set(bitwise, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(zero));
	add(fixture, bitwise);
	add(fixture, compare(NFT_CMP_NEQ, &zero, sizeof(zero)));
	add_verdict(fixture, NF_ACCEPT, NULL);
	rule = summarize(fixture);
	assert_true(rule->matches_dnat);
	assert_false(rule->matches_port);
	assert_false(rule->other_conditions);
	assert_int_equal(rule->verdict, RULE_ACCEPT);
}

/* ct state established,related accept: a condition of its own, not dnat. */
static void ct_state_is_another_condition(void **state)
{
	struct fixture *fixture = *state;
	const uint32_t mask = 0x06, zero = 0;
	struct nftnl_expr *bitwise = nftnl_expr_alloc("bitwise");
	const struct rule_summary *rule;

	add(fixture, load("ct", NFTNL_EXPR_CT_KEY, NFT_CT_STATE, NFTNL_EXPR_CT_DREG));
	nftnl_expr_set_u32(bitwise, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(bitwise, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(bitwise, NFTNL_EXPR_BITWISE_LEN, 4);
	nftnl_expr_set(bitwise, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
	nftnl_expr_set(bitwise, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(zero));
	add(fixture, bitwise);
	add(fixture, compare(NFT_CMP_NEQ, &zero, sizeof(zero)));
	add_verdict(fixture, NF_ACCEPT, NULL);
	rule = summarize(fixture);
	assert_false(rule->matches_dnat);
	assert_true(rule->other_conditions);
	assert_int_equal(rule->verdict, RULE_ACCEPT);
}

/* iifname "eth0" jump DOCKER */
static void a_jump_under_a_condition_names_its_chain(void **state)
{
	struct fixture *fixture = *state;
	const char name[16] = "eth0";
	const struct rule_summary *rule;

	add(fixture, load("meta", NFTNL_EXPR_META_KEY, NFT_META_IIFNAME, NFTNL_EXPR_META_DREG));
	add(fixture, compare(NFT_CMP_EQ, name, sizeof(name)));
	add_verdict(fixture, NFT_JUMP, "DOCKER");
	rule = summarize(fixture);
	assert_true(rule->other_conditions);
	assert_int_equal(rule->verdict, RULE_JUMP);
	assert_string_equal(rule->chain, "DOCKER");
}

/* tcp dport { 22, 80 } accept: the port is looked up in an anonymous set,
 * whose elements are read after the rules. */
static void a_port_set_lookup_waits_for_the_set(void **state)
{
	struct fixture *fixture = *state;
	struct nftnl_expr *lookup = nftnl_expr_alloc("lookup");
	const struct rule_summary *rule;

	add_tcp(fixture);
	add_destination_port(fixture);
	nftnl_expr_set_u32(lookup, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(lookup, NFTNL_EXPR_LOOKUP_SET, "__set0");
	add(fixture, lookup);
	add_verdict(fixture, NF_ACCEPT, NULL);
	rule = summarize(fixture);
	assert_true(rule->matches_port);
	assert_int_equal(rule->port_count, 0);
	assert_int_equal(fixture->dump.lookup_count, 1);
	assert_string_equal(fixture->dump.lookups[0].set, "__set0");
	assert_ptr_equal(fixture->dump.lookups[0].chain, fixture->chain);
	assert_int_equal(fixture->dump.lookups[0].rule, 0);
}

/* tcp dport vmap { 80 : accept }: what each port's verdict is is not read. */
static void a_verdict_map_is_not_read(void **state)
{
	struct fixture *fixture = *state;
	struct nftnl_expr *lookup = nftnl_expr_alloc("lookup");

	add_tcp(fixture);
	add_destination_port(fixture);
	nftnl_expr_set_u32(lookup, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(lookup, NFTNL_EXPR_LOOKUP_SET, "__map0");
	nftnl_expr_set_u32(lookup, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
	add(fixture, lookup);
	assert_string_equal(summarize(fixture)->unreadable, "vmap");
	assert_int_equal(fixture->dump.lookup_count, 0);
}

/* iptables-nft: "-p tcp" as ip protocol, "-j DNAT" as an xtables target. */
static void iptables_nft_protocol_and_dnat_target_are_read(void **state)
{
	struct fixture *fixture = *state;
	struct nftnl_expr *payload = nftnl_expr_alloc("payload");
	struct nftnl_expr *target = nftnl_expr_alloc("target");
	const uint8_t tcp = IPPROTO_TCP;
	const struct rule_summary *rule;

	nftnl_expr_set_u32(payload, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
	nftnl_expr_set_u32(payload, NFTNL_EXPR_PAYLOAD_OFFSET, 9);
	nftnl_expr_set_u32(payload, NFTNL_EXPR_PAYLOAD_LEN, 1);
	nftnl_expr_set_u32(payload, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	add(fixture, payload);
	add(fixture, compare(NFT_CMP_EQ, &tcp, 1));
	add_destination_port(fixture);
	add_port_compare(fixture, NFT_CMP_EQ, 80);
	nftnl_expr_set_str(target, NFTNL_EXPR_TG_NAME, "DNAT");
	nftnl_expr_set_u32(target, NFTNL_EXPR_TG_REV, 2);
	add(fixture, target);
	rule = summarize(fixture);
	assert_int_equal(rule->l4proto, IPPROTO_TCP);
	assert_ports(rule, 80, 80);
	assert_true(rule->changes_destination);
}

/* A negated port ("tcp dport != 80") is a condition, not a port match. */
static void a_negated_port_is_another_condition(void **state)
{
	struct fixture *fixture = *state;
	const struct rule_summary *rule;

	add_tcp(fixture);
	add_destination_port(fixture);
	add_port_compare(fixture, NFT_CMP_NEQ, 80);
	add_dnat(fixture);
	rule = summarize(fixture);
	assert_false(rule->matches_port);
	assert_true(rule->other_conditions);
	assert_true(rule->changes_destination);
}

/* An expression the summary has no word for. */
static void an_unknown_expression_is_named(void **state)
{
	struct fixture *fixture = *state;
	struct nftnl_expr *queue = nftnl_expr_alloc("queue");

	nftnl_expr_set_u16(queue, NFTNL_EXPR_QUEUE_NUM, 1);
	add(fixture, queue);
	assert_string_equal(summarize(fixture)->unreadable, "queue");
}

/* A rule of a chain not in the ruleset (another table's) is skipped. */
static void a_rule_of_an_unknown_chain_is_skipped(void **state)
{
	struct fixture *fixture = *state;

	nftnl_rule_set_str(fixture->rule, NFTNL_RULE_CHAIN, "OUTPUT");
	add_verdict(fixture, NF_DROP, NULL);
	assert_int_equal(kernel_summarize_rule(&fixture->dump, fixture->rule), 0);
	assert_int_equal(fixture->chain->rule_count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_port_matched_with_dnat_changes_the_destination, setup, teardown),
		cmocka_unit_test_setup_teardown(a_range_of_two_comparisons_is_one_range, setup, teardown),
		cmocka_unit_test_setup_teardown(ct_status_dnat_accept_is_recognised, setup, teardown),
		cmocka_unit_test_setup_teardown(ct_state_is_another_condition, setup, teardown),
		cmocka_unit_test_setup_teardown(a_jump_under_a_condition_names_its_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(a_port_set_lookup_waits_for_the_set, setup, teardown),
		cmocka_unit_test_setup_teardown(a_verdict_map_is_not_read, setup, teardown),
		cmocka_unit_test_setup_teardown(iptables_nft_protocol_and_dnat_target_are_read, setup, teardown),
		cmocka_unit_test_setup_teardown(a_negated_port_is_another_condition, setup, teardown),
		cmocka_unit_test_setup_teardown(an_unknown_expression_is_named, setup, teardown),
		cmocka_unit_test_setup_teardown(a_rule_of_an_unknown_chain_is_skipped, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
