/* The owner gate kernel_owners.c builds: each rule decodes to exactly what
 * nft 1.0.6 --debug=netlink shows for the rule text the README documents
 * (sent, and dumped back by the kernel), the sets and chains have nft's
 * attributes, and elements carry the owner and the group's ID as the
 * kernel stores them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/expr.h>
#include <libnftnl/udata.h>
#include "kernel_internal.h"

/* ct state new ct status dnat meta l4proto tcp ct original proto-dst
 *	@tcp_owned jump owner_check */
#define GATE_PREFIX \
	"[ ct load state => reg 1 ]\n" \
	"[ bitwise reg 1 = ( reg 1 & 0x00000008 ) ^ 0x00000000 ]\n" \
	"[ cmp neq reg 1 0x00000000 ]\n" \
	"[ ct load status => reg 1 ]\n" \
	"[ bitwise reg 1 = ( reg 1 & 0x00000020 ) ^ 0x00000000 ]\n" \
	"[ cmp neq reg 1 0x00000000 ]\n" \
	"[ meta load l4proto => reg 1 ]\n"
#define TCP_GATE_TEXT GATE_PREFIX \
	"[ cmp eq reg 1 0x00000006 ]\n" \
	"[ ct load proto_dst => reg 1 , dir original ]\n" \
	"[ lookup reg 1 set tcp_owned ]\n" \
	"[ immediate reg 0 jump -> owner_check ]\n"
#define UDP_GATE_TEXT GATE_PREFIX \
	"[ cmp eq reg 1 0x00000011 ]\n" \
	"[ ct load proto_dst => reg 1 , dir original ]\n" \
	"[ lookup reg 1 set udp_owned ]\n" \
	"[ immediate reg 0 jump -> owner_check ]\n"
#define TCP_GATE_TEXT_AS_DUMPED GATE_PREFIX \
	"[ cmp eq reg 1 0x00000006 ]\n" \
	"[ ct load proto_dst => reg 1 , dir original ]\n" \
	"[ lookup reg 1 set tcp_owned 0x0 ]\n" \
	"[ immediate reg 0 jump -> owner_check ]\n"

/* meta l4proto tcp ct original proto-dst . socket cgroupv2 level 2
 *	@tcp_owners accept; libnftnl prints no level, layout_rule_text()
 * adds it. */
#define TCP_OWNER_TEXT \
	"[ meta load l4proto => reg 1 ]\n" \
	"[ cmp eq reg 1 0x00000006 ]\n" \
	"[ ct load proto_dst => reg 1 , dir original ]\n" \
	"[ socket load cgroupv2 => reg 9 level 2 ]\n" \
	"[ lookup reg 1 set tcp_owners ]\n" \
	"[ immediate reg 0 accept ]\n"
#define UDP_OWNER_TEXT_LEVEL_3 \
	"[ meta load l4proto => reg 1 ]\n" \
	"[ cmp eq reg 1 0x00000011 ]\n" \
	"[ ct load proto_dst => reg 1 , dir original ]\n" \
	"[ socket load cgroupv2 => reg 9 level 3 ]\n" \
	"[ lookup reg 1 set udp_owners ]\n" \
	"[ immediate reg 0 accept ]\n"
#define UDP_OWNER_TEXT_AS_DUMPED \
	"[ meta load l4proto => reg 1 ]\n" \
	"[ cmp eq reg 1 0x00000011 ]\n" \
	"[ ct load proto_dst => reg 1 , dir original ]\n" \
	"[ socket load cgroupv2 => reg 9 level 2 ]\n" \
	"[ lookup reg 1 set udp_owners 0x0 ]\n" \
	"[ immediate reg 0 accept ]\n"

/* meta l4proto tcp reject with tcp reset; reject */
#define TCP_REFUSAL_TEXT \
	"[ meta load l4proto => reg 1 ]\n" \
	"[ cmp eq reg 1 0x00000006 ]\n" \
	"[ reject type 1 code 0 ]\n"
#define UDP_REFUSAL_TEXT "[ reject type 2 code 1 ]\n"

#define SEQUENCE 4242

static void assert_rule_text(struct nftnl_rule *rule, const char *expected)
{
	char text[2048];

	assert_non_null(rule);
	assert_int_equal(layout_rule_text(rule, text, sizeof(text)), 0);
	assert_string_equal(text, expected);
	nftnl_rule_free(rule);
}

/* The rule as the reader sees it: built into a message and parsed back. */
static struct nftnl_rule *round_trip(struct nftnl_rule *rule)
{
	char buffer[8192] = { 0 };
	struct nlmsghdr *header = nftnl_nlmsg_build_hdr(buffer, NFT_MSG_NEWRULE, NFPROTO_INET, NLM_F_CREATE, SEQUENCE);
	struct nftnl_rule *parsed = nftnl_rule_alloc();

	assert_non_null(rule);
	assert_non_null(parsed);
	nftnl_rule_nlmsg_build_payload(header, rule);
	assert_int_equal(nftnl_rule_nlmsg_parse(header, parsed), 0);
	nftnl_rule_free(rule);
	return parsed;
}

static struct nftnl_expr *expression_at(struct nftnl_rule *rule, unsigned int index, const char *name)
{
	struct nftnl_expr_iter *iterator = nftnl_expr_iter_create(rule);
	struct nftnl_expr *expression;

	assert_non_null(iterator);
	expression = nftnl_expr_iter_next(iterator);
	for (unsigned int i = 0; i < index && expression; i++)
		expression = nftnl_expr_iter_next(iterator);
	nftnl_expr_iter_destroy(iterator);
	assert_non_null(expression);
	assert_string_equal(nftnl_expr_get_str(expression, NFTNL_EXPR_NAME), name);
	return expression;
}

/* Rules. */

static void tcp_gate_rule_is_nfts_bytecode(void **unused)
{
	(void)unused;
	assert_rule_text(layout_gate_rule(PROTOCOL_TCP, 3, false), TCP_GATE_TEXT);
}

static void udp_gate_rule_is_nfts_bytecode(void **unused)
{
	(void)unused;
	assert_rule_text(layout_gate_rule(PROTOCOL_UDP, 4, false), UDP_GATE_TEXT);
}

static void gate_rule_as_dumped_is_what_the_kernel_dumps(void **unused)
{
	(void)unused;
	assert_rule_text(round_trip(layout_gate_rule(PROTOCOL_TCP, 0, true)), TCP_GATE_TEXT_AS_DUMPED);
}

static void gate_rule_is_in_the_input_chain_and_jumps_to_owner_check(void **unused)
{
	struct nftnl_rule *rule = layout_gate_rule(PROTOCOL_UDP, 4, false);
	struct nftnl_expr *lookup, *jump;

	(void)unused;
	assert_non_null(rule);
	assert_string_equal(nftnl_rule_get_str(rule, NFTNL_RULE_TABLE), "portredir");
	assert_string_equal(nftnl_rule_get_str(rule, NFTNL_RULE_CHAIN), "input");
	lookup = expression_at(rule, 9, "lookup");
	assert_int_equal(nftnl_expr_get_u32(lookup, NFTNL_EXPR_LOOKUP_SET_ID), 4);
	jump = expression_at(rule, 10, "immediate");
	assert_int_equal((int)nftnl_expr_get_u32(jump, NFTNL_EXPR_IMM_VERDICT), NFT_JUMP);
	assert_string_equal(nftnl_expr_get_str(jump, NFTNL_EXPR_IMM_CHAIN), "owner_check");
	nftnl_rule_free(rule);
}

static void tcp_owner_rule_is_nfts_bytecode_with_its_level(void **unused)
{
	(void)unused;
	assert_rule_text(layout_owner_rule(PROTOCOL_TCP, 2, 5, false), TCP_OWNER_TEXT);
}

static void udp_owner_rule_of_level_3_is_nfts_bytecode(void **unused)
{
	(void)unused;
	assert_rule_text(layout_owner_rule(PROTOCOL_UDP, 3, 6, false), UDP_OWNER_TEXT_LEVEL_3);
}

static void owner_rule_as_dumped_keeps_its_level(void **unused)
{
	(void)unused;
	assert_rule_text(round_trip(layout_owner_rule(PROTOCOL_UDP, 2, 0, true)), UDP_OWNER_TEXT_AS_DUMPED);
}

/* The port takes the first 32-bit register, the ID the next two. */
static void owner_rule_concatenates_port_and_group_in_registers_8_to_10(void **unused)
{
	struct nftnl_rule *rule = layout_owner_rule(PROTOCOL_TCP, 4, 5, false);
	struct nftnl_expr *socket, *ct;

	(void)unused;
	assert_non_null(rule);
	assert_string_equal(nftnl_rule_get_str(rule, NFTNL_RULE_CHAIN), "owner_check");
	ct = expression_at(rule, 2, "ct");
	assert_int_equal(nftnl_expr_get_u32(ct, NFTNL_EXPR_CT_DREG), NFT_REG_1);
	assert_int_equal(nftnl_expr_get_u8(ct, NFTNL_EXPR_CT_DIR), 0);
	socket = expression_at(rule, 3, "socket");
	assert_int_equal(nftnl_expr_get_u32(socket, NFTNL_EXPR_SOCKET_KEY), NFT_SOCKET_CGROUPV2);
	assert_int_equal(nftnl_expr_get_u32(socket, NFTNL_EXPR_SOCKET_DREG), NFT_REG32_01);
	assert_int_equal(nftnl_expr_get_u32(socket, NFTNL_EXPR_SOCKET_LEVEL), 4);
	nftnl_rule_free(rule);
}

static void tcp_refusal_is_a_reset(void **unused)
{
	(void)unused;
	assert_rule_text(layout_refusal_rule(PROTOCOL_TCP), TCP_REFUSAL_TEXT);
}

static void udp_refusal_is_icmp_port_unreachable(void **unused)
{
	(void)unused;
	assert_rule_text(layout_refusal_rule(PROTOCOL_UDP), UDP_REFUSAL_TEXT);
}

static void refusals_survive_a_round_trip(void **unused)
{
	(void)unused;
	assert_rule_text(round_trip(layout_refusal_rule(PROTOCOL_TCP)), TCP_REFUSAL_TEXT);
	assert_rule_text(round_trip(layout_refusal_rule(PROTOCOL_UDP)), UDP_REFUSAL_TEXT);
}

/* Rules of other levels differ in their text, so that the reader can tell
 * which levels a chain serves. */
static void owner_rules_of_different_levels_differ(void **unused)
{
	char two[2048], three[2048];
	struct nftnl_rule *a = layout_owner_rule(PROTOCOL_TCP, 2, 0, true);
	struct nftnl_rule *b = layout_owner_rule(PROTOCOL_TCP, 3, 0, true);

	(void)unused;
	assert_int_equal(layout_rule_text(a, two, sizeof(two)), 0);
	assert_int_equal(layout_rule_text(b, three, sizeof(three)), 0);
	assert_string_not_equal(two, three);
	nftnl_rule_free(a);
	nftnl_rule_free(b);
}

/* Sets. */

static void assert_userdata(const struct nftnl_set *set, const unsigned char *expected, size_t length)
{
	uint32_t actual_length = 0;
	const void *userdata = nftnl_set_get_data(set, NFTNL_SET_USERDATA, &actual_length);

	assert_non_null(userdata);
	assert_int_equal(actual_length, length);
	assert_memory_equal(userdata, expected, length);
}

static void assert_set(const struct nftnl_set *set, const char *name, uint32_t set_id, uint32_t key_type,
		       uint32_t key_length)
{
	assert_non_null(set);
	assert_int_equal(nftnl_set_get_u32(set, NFTNL_SET_FAMILY), NFPROTO_INET);
	assert_string_equal(nftnl_set_get_str(set, NFTNL_SET_TABLE), "portredir");
	assert_string_equal(nftnl_set_get_str(set, NFTNL_SET_NAME), name);
	assert_int_equal(nftnl_set_get_u32(set, NFTNL_SET_ID), set_id);
	assert_int_equal(nftnl_set_get_u32(set, NFTNL_SET_FLAGS), 0);
	assert_int_equal(nftnl_set_get_u32(set, NFTNL_SET_KEY_TYPE), key_type);
	assert_int_equal(nftnl_set_get_u32(set, NFTNL_SET_KEY_LEN), key_length);
	assert_false(nftnl_set_is_set(set, NFTNL_SET_DATA_TYPE));
	assert_false(nftnl_set_is_set(set, NFTNL_SET_TIMEOUT));
}

/* set tcp_owned { type inet_service; }, as nft 1.0.6 sends it. */
static void owned_set_is_a_set_of_inet_service(void **unused)
{
	static const unsigned char userdata[] = { 0x00, 0x04, 0x02, 0x00, 0x00, 0x00 };
	struct nftnl_set *tcp = layout_owned_set(PROTOCOL_TCP, 3), *udp = layout_owned_set(PROTOCOL_UDP, 4);

	(void)unused;
	assert_set(tcp, "tcp_owned", 3, 13, 2);
	assert_set(udp, "udp_owned", 4, 13, 2);
	assert_userdata(tcp, userdata, sizeof(userdata));
	nftnl_set_free(tcp);
	nftnl_set_free(udp);
}

/* set tcp_owners { type inet_service . cgroupsv2; }: key type 13 << 6 | 46,
 * 4 + 8 bytes, and the userdata nft 1.0.6 sends for it. */
static void owner_set_is_a_set_of_port_and_cgroup(void **unused)
{
	static const unsigned char userdata[] = {
		0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x03, 0x08, 0x00, 0x04, 0x0d, 0x00, 0x00, 0x00, 0x01, 0x00,
	};
	struct nftnl_set *tcp = layout_owner_set(PROTOCOL_TCP, 5), *udp = layout_owner_set(PROTOCOL_UDP, 6);

	(void)unused;
	assert_set(tcp, "tcp_owners", 5, 0x36e, 12);
	assert_set(udp, "udp_owners", 6, 0x36e, 12);
	assert_userdata(udp, userdata, sizeof(userdata));
	nftnl_set_free(tcp);
	nftnl_set_free(udp);
}

/* Chains. */

static void input_chain_is_a_filter_chain_on_input_at_priority_0_accepting(void **unused)
{
	struct nftnl_chain *chain = layout_owner_chain(true);

	(void)unused;
	assert_non_null(chain);
	assert_int_equal(nftnl_chain_get_u32(chain, NFTNL_CHAIN_FAMILY), NFPROTO_INET);
	assert_string_equal(nftnl_chain_get_str(chain, NFTNL_CHAIN_TABLE), "portredir");
	assert_string_equal(nftnl_chain_get_str(chain, NFTNL_CHAIN_NAME), "input");
	assert_string_equal(nftnl_chain_get_str(chain, NFTNL_CHAIN_TYPE), "filter");
	assert_int_equal(nftnl_chain_get_u32(chain, NFTNL_CHAIN_HOOKNUM), NF_INET_LOCAL_IN);
	assert_int_equal(nftnl_chain_get_s32(chain, NFTNL_CHAIN_PRIO), 0);
	assert_int_equal(nftnl_chain_get_u32(chain, NFTNL_CHAIN_POLICY), NF_ACCEPT);
	nftnl_chain_free(chain);
}

static void owner_check_is_a_regular_chain(void **unused)
{
	struct nftnl_chain *chain = layout_owner_chain(false);

	(void)unused;
	assert_non_null(chain);
	assert_string_equal(nftnl_chain_get_str(chain, NFTNL_CHAIN_NAME), "owner_check");
	assert_false(nftnl_chain_is_set(chain, NFTNL_CHAIN_TYPE));
	assert_false(nftnl_chain_is_set(chain, NFTNL_CHAIN_HOOKNUM));
	assert_false(nftnl_chain_is_set(chain, NFTNL_CHAIN_POLICY));
	nftnl_chain_free(chain);
}

/* Elements. */

/* `80 comment "nginx.service"`: the userdata nft writes for it. */
static void owned_element_is_the_port_with_the_owner_as_comment(void **unused)
{
	static const char userdata[] = "\x00\x0enginx.service";
	struct nftnl_set_elem *element = layout_owned_element(80, "nginx.service");
	const char *text = NULL;
	const void *data;
	uint32_t length = 0;
	size_t text_length = 0;
	uint16_t port = 0;

	(void)unused;
	assert_non_null(element);
	data = nftnl_set_elem_get(element, NFTNL_SET_ELEM_KEY, &length);
	assert_int_equal(length, 2);
	assert_memory_equal(data, "\x00\x50", 2);
	data = nftnl_set_elem_get(element, NFTNL_SET_ELEM_USERDATA, &length);
	assert_int_equal(length, sizeof(userdata));
	assert_memory_equal(data, userdata, sizeof(userdata));
	assert_int_equal(layout_owned_element_parse(element, &port, &text, &text_length), 0);
	assert_int_equal(port, 80);
	assert_int_equal(text_length, 13);
	assert_memory_equal(text, "nginx.service", 13);
	nftnl_set_elem_free(element);
}

/* As nft --debug=netlink shows the kernel's element for port 80 and the
 * group 7872: "00005000 00001ec0 00000000" (words in host order). */
static void owner_element_is_the_port_then_the_id_in_host_order(void **unused)
{
	struct nftnl_set_elem *element = layout_owner_element(80, 7872);
	const unsigned char *key;
	uint32_t length = 0, words[3];
	uint64_t id = 0;
	uint16_t port = 0;

	(void)unused;
	assert_non_null(element);
	key = nftnl_set_elem_get(element, NFTNL_SET_ELEM_KEY, &length);
	assert_int_equal(length, 12);
	memcpy(words, key, sizeof(words));
	assert_int_equal(words[0], htonl(80u << 16));
	assert_int_equal(words[1], 0x1ec0);
	assert_int_equal(words[2], 0);
	assert_int_equal(layout_owner_element_parse(element, &port, &id), 0);
	assert_int_equal(port, 80);
	assert_true(id == 7872);
	nftnl_set_elem_free(element);
}

static void elements_of_another_shape_are_not_parsed(void **unused)
{
	struct nftnl_set_elem *element = nftnl_set_elem_alloc();
	const unsigned char key[12] = { 0, 80, 1, 0 };
	const char *text;
	size_t length;
	uint64_t id;
	uint16_t port;

	(void)unused;
	assert_non_null(element);
	/* No comment. */
	nftnl_set_elem_set(element, NFTNL_SET_ELEM_KEY, key, 2);
	assert_int_equal(layout_owned_element_parse(element, &port, &text, &length), -EINVAL);
	/* Padding that is not zero. */
	nftnl_set_elem_set(element, NFTNL_SET_ELEM_KEY, key, sizeof(key));
	assert_int_equal(layout_owner_element_parse(element, &port, &id), -EINVAL);
	/* A comment without its NUL. */
	nftnl_set_elem_set(element, NFTNL_SET_ELEM_KEY, key, 2);
	nftnl_set_elem_set(element, NFTNL_SET_ELEM_USERDATA, "\x00\x03" "abc", 5);
	assert_int_equal(layout_owned_element_parse(element, &port, &text, &length), -EINVAL);
	/* A comment longer than the userdata holding it (the fuzzer's find:
	 * libnftnl does not check this). */
	nftnl_set_elem_set(element, NFTNL_SET_ELEM_USERDATA, "\x00\x40" "abc", 5);
	assert_int_equal(layout_owned_element_parse(element, &port, &text, &length), -EINVAL);
	/* The comment after another attribute. */
	nftnl_set_elem_set(element, NFTNL_SET_ELEM_USERDATA, "\x01\x01" "x" "\x00\x02" "a", 7);
	assert_int_equal(layout_owned_element_parse(element, &port, &text, &length), 0);
	assert_int_equal(length, 1);
	assert_memory_equal(text, "a", 1);
	nftnl_set_elem_free(element);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tcp_gate_rule_is_nfts_bytecode),
		cmocka_unit_test(udp_gate_rule_is_nfts_bytecode),
		cmocka_unit_test(gate_rule_as_dumped_is_what_the_kernel_dumps),
		cmocka_unit_test(gate_rule_is_in_the_input_chain_and_jumps_to_owner_check),
		cmocka_unit_test(tcp_owner_rule_is_nfts_bytecode_with_its_level),
		cmocka_unit_test(udp_owner_rule_of_level_3_is_nfts_bytecode),
		cmocka_unit_test(owner_rule_as_dumped_keeps_its_level),
		cmocka_unit_test(owner_rule_concatenates_port_and_group_in_registers_8_to_10),
		cmocka_unit_test(tcp_refusal_is_a_reset),
		cmocka_unit_test(udp_refusal_is_icmp_port_unreachable),
		cmocka_unit_test(refusals_survive_a_round_trip),
		cmocka_unit_test(owner_rules_of_different_levels_differ),
		cmocka_unit_test(owned_set_is_a_set_of_inet_service),
		cmocka_unit_test(owner_set_is_a_set_of_port_and_cgroup),
		cmocka_unit_test(input_chain_is_a_filter_chain_on_input_at_priority_0_accepting),
		cmocka_unit_test(owner_check_is_a_regular_chain),
		cmocka_unit_test(owned_element_is_the_port_with_the_owner_as_comment),
		cmocka_unit_test(owner_element_is_the_port_then_the_id_in_host_order),
		cmocka_unit_test(elements_of_another_shape_are_not_parsed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
