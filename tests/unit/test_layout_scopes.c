/* The scoped maps and their rules (kernel_layout.c): exactly what nft
 * 1.0.6 sends, and the kernel dumps back, for the rule texts the README
 * documents; the keys of their elements byte for byte; and the rules of
 * each chain, one per map in use, in the order of precedence. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include "kernel_internal.h"

/* `nft --debug=netlink -f` of, in chain prerouting (output's are the
 * same), for tcp (udp: 0x00000011 and the udp_ maps):
 *   fib daddr type local ip daddr . tcp dport @tcp_on4_redirects update @tcp_counts { tcp dport counter }
 *	redirect to :ip daddr . tcp dport map @tcp_on4_redirects
 *   fib daddr type local ip6 daddr . tcp dport @tcp_on6_redirects update @tcp_counts { tcp dport counter }
 *	redirect to :ip6 daddr . tcp dport map @tcp_on6_redirects
 *   fib daddr type local meta nfproto . iifname . tcp dport @tcp_iif_redirects update @tcp_counts
 *	{ tcp dport counter } redirect to :meta nfproto . iifname . tcp dport map @tcp_iif_redirects
 *   fib daddr type local meta nfproto . tcp dport @tcp_family_redirects update @tcp_counts
 *	{ tcp dport counter } redirect to :meta nfproto . tcp dport map @tcp_family_redirects
 * (nft 1.0.6 prints them back the same). An address needs its family,
 * which nft tests before the protocol. */
#define FIB_LOCAL \
	"[ fib daddr type => reg 1 ]\n" \
	"[ cmp eq reg 1 0x00000002 ]\n"
#define L4PROTO(l4proto) \
	"[ meta load l4proto => reg 1 ]\n" \
	"[ cmp eq reg 1 " l4proto " ]\n"
#define NFPROTO(nfproto) \
	"[ meta load nfproto => reg 1 ]\n" \
	"[ cmp eq reg 1 " nfproto " ]\n"
#define ON4_KEY \
	"[ payload load 4b @ network header + 16 => reg 1 ]\n" \
	"[ payload load 2b @ transport header + 2 => reg 9 ]\n"
#define ON6_KEY \
	"[ payload load 16b @ network header + 24 => reg 1 ]\n" \
	"[ payload load 2b @ transport header + 2 => reg 2 ]\n"
#define IIF_KEY \
	"[ meta load nfproto => reg 1 ]\n" \
	"[ meta load iifname => reg 9 ]\n" \
	"[ payload load 2b @ transport header + 2 => reg 13 ]\n"
#define FAMILY_KEY \
	"[ meta load nfproto => reg 1 ]\n" \
	"[ payload load 2b @ transport header + 2 => reg 9 ]\n"
#define COUNT(map, counts) \
	"[ lookup reg 1 set " map " ]\n" \
	"[ payload load 2b @ transport header + 2 => reg 1 ]\n" \
	"[ dynset update reg_key 1 set " counts " expr [ counter pkts 0 bytes 0 ] ]\n"
#define REDIRECT(map) \
	"[ lookup reg 1 set " map " dreg 1 ]\n" \
	"[ redir proto_min reg 1 flags 0x2 ]\n"
/* `nft --debug=netlink list table inet portredir` of the same: the
 * lookups' flags, the count's timeout and the redirect's maximum filled
 * in. */
#define COUNT_AS_DUMPED(map, counts) \
	"[ lookup reg 1 set " map " 0x0 ]\n" \
	"[ payload load 2b @ transport header + 2 => reg 1 ]\n" \
	"[ dynset update reg_key 1 set " counts " timeout 0ms expr [ counter pkts 0 bytes 0 ] ]\n"
#define REDIRECT_AS_DUMPED(map) \
	"[ lookup reg 1 set " map " dreg 1 0x0 ]\n" \
	"[ redir proto_min reg 1 proto_max reg 1 flags 0x2 ]\n"

#define IPV4 "0x00000002"
#define IPV6 "0x0000000a"
#define RULE(head, key, map, counts) head key COUNT(map, counts) key REDIRECT(map)
#define RULE_AS_DUMPED(head, key, map, counts) head key COUNT_AS_DUMPED(map, counts) key REDIRECT_AS_DUMPED(map)
#define GOLDEN(protocol, kind, head, key, map, counts, key_type, key_length) \
	{ protocol, kind, map, RULE(head, key, map, counts), RULE_AS_DUMPED(head, key, map, counts), key_type, key_length }

#define TCP "0x00000006"
#define UDP "0x00000011"

struct golden {
	enum protocol protocol;
	enum map_kind kind;
	const char *name;
	const char *sent;
	const char *dumped;
	uint32_t key_type;
	uint32_t key_length;
};

/* nft's concatenated types: nf_proto (2), ipv4_addr (7), ipv6_addr (8),
 * ifname (41), inet_service (13), each shifted by 6 bits. */
static const struct golden goldens[] = {
	GOLDEN(PROTOCOL_TCP, MAP_ON4, FIB_LOCAL NFPROTO(IPV4) L4PROTO(TCP), ON4_KEY, "tcp_on4_redirects",
	       "tcp_counts", 461, 8),
	GOLDEN(PROTOCOL_TCP, MAP_ON6, FIB_LOCAL NFPROTO(IPV6) L4PROTO(TCP), ON6_KEY, "tcp_on6_redirects",
	       "tcp_counts", 525, 20),
	GOLDEN(PROTOCOL_TCP, MAP_IIF, FIB_LOCAL L4PROTO(TCP), IIF_KEY, "tcp_iif_redirects", "tcp_counts",
	       10829, 24),
	GOLDEN(PROTOCOL_TCP, MAP_FAMILY, FIB_LOCAL L4PROTO(TCP), FAMILY_KEY, "tcp_family_redirects",
	       "tcp_counts", 141, 8),
	GOLDEN(PROTOCOL_UDP, MAP_ON4, FIB_LOCAL NFPROTO(IPV4) L4PROTO(UDP), ON4_KEY, "udp_on4_redirects",
	       "udp_counts", 461, 8),
	GOLDEN(PROTOCOL_UDP, MAP_ON6, FIB_LOCAL NFPROTO(IPV6) L4PROTO(UDP), ON6_KEY, "udp_on6_redirects",
	       "udp_counts", 525, 20),
	GOLDEN(PROTOCOL_UDP, MAP_IIF, FIB_LOCAL L4PROTO(UDP), IIF_KEY, "udp_iif_redirects", "udp_counts",
	       10829, 24),
	GOLDEN(PROTOCOL_UDP, MAP_FAMILY, FIB_LOCAL L4PROTO(UDP), FAMILY_KEY, "udp_family_redirects",
	       "udp_counts", 141, 8),
};

#define GOLDEN_COUNT (sizeof(goldens) / sizeof(goldens[0]))

static void rule_text(const struct nftnl_rule *rule, char *text, size_t size)
{
	assert_non_null(rule);
	assert_int_equal(layout_rule_text(rule, text, size), 0);
}

static void each_scoped_rule_is_what_nft_sends_in_both_chains(void **unused)
{
	char text[1024];

	(void)unused;
	for (size_t i = 0; i < GOLDEN_COUNT; i++) {
		unsigned int map = map_of(goldens[i].protocol, goldens[i].kind);

		for (int chain = 0; chain < CHAIN_COUNT; chain++) {
			struct nftnl_rule *rule = layout_rule((enum chain)chain, map, true, false);

			rule_text(rule, text, sizeof(text));
			assert_string_equal(text, goldens[i].sent);
			nftnl_rule_free(rule);
		}
	}
}

static void each_scoped_rule_as_dumped_is_what_the_kernel_dumps(void **unused)
{
	char text[1024];

	(void)unused;
	for (size_t i = 0; i < GOLDEN_COUNT; i++) {
		struct nftnl_rule *rule = layout_rule(CHAIN_PREROUTING, map_of(goldens[i].protocol, goldens[i].kind), false,
						      true);

		rule_text(rule, text, sizeof(text));
		assert_string_equal(text, goldens[i].dumped);
		nftnl_rule_free(rule);
	}
}

/* Each scoped map as nft sends it for "type nf_proto . inet_service :
 * inet_service" and the others: a map, the concatenated key type and its
 * length in whole registers, inet_service data of 2 bytes. */
static void each_scoped_map_has_nfts_key_type_and_length(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < GOLDEN_COUNT; i++) {
		unsigned int map = map_of(goldens[i].protocol, goldens[i].kind);
		struct nftnl_set *set = layout_map(map, 9);

		assert_non_null(set);
		assert_string_equal(map_name(map), goldens[i].name);
		assert_string_equal(nftnl_set_get_str(set, NFTNL_SET_NAME), goldens[i].name);
		assert_string_equal(nftnl_set_get_str(set, NFTNL_SET_TABLE), "portredir");
		assert_int_equal(nftnl_set_get_u32(set, NFTNL_SET_FAMILY), NFPROTO_INET);
		assert_int_equal(nftnl_set_get_u32(set, NFTNL_SET_ID), 9);
		assert_int_equal(nftnl_set_get_u32(set, NFTNL_SET_FLAGS), NFT_SET_MAP);
		assert_int_equal(nftnl_set_get_u32(set, NFTNL_SET_KEY_TYPE), goldens[i].key_type);
		assert_int_equal(nftnl_set_get_u32(set, NFTNL_SET_KEY_LEN), goldens[i].key_length);
		assert_int_equal(nftnl_set_get_u32(set, NFTNL_SET_DATA_TYPE), 13);
		assert_int_equal(nftnl_set_get_u32(set, NFTNL_SET_DATA_LEN), 2);
		nftnl_set_free(set);
	}
}

static struct redirect scoped(enum protocol protocol, uint16_t port, enum scope_kind kind, uint8_t family,
			      const char *place)
{
	struct redirect redirect = { .protocol = protocol, .port = port, .target = 8080 };

	redirect.scope.kind = (uint8_t)kind;
	redirect.scope.family = family;
	if (kind == SCOPE_ON)
		assert_int_equal(inet_pton(family == 4 ? AF_INET : AF_INET6, place, redirect.scope.address), 1);
	else if (kind == SCOPE_IIF)
		strncpy(redirect.scope.iif, place, sizeof(redirect.scope.iif) - 1);
	return redirect;
}

static void assert_key(const struct redirect *redirect, const uint8_t *expected, uint32_t length)
{
	uint8_t key[LAYOUT_KEY_MAX];
	uint32_t key_length = 0;
	struct redirect parsed = { .target = 8080 };

	assert_int_equal(layout_key(redirect, key, &key_length), 0);
	assert_int_equal(key_length, length);
	assert_memory_equal(key, expected, length);
	assert_int_equal(layout_key_parse(redirect_map(redirect), key, key_length, &parsed), 0);
	assert_int_equal(parsed.protocol, redirect->protocol);
	assert_int_equal(parsed.port, redirect->port);
	assert_int_equal(scope_compare(&parsed.scope, &redirect->scope), 0);
}

/* What `nft --debug=netlink` shows for the elements
 * "198.18.0.1 . 80 : 8080" (010012c6 00005000), "ipv4 . "eth1" . 80"
 * (00000002 31687465 00000000 00000000 00000000 00005000) and "ipv6 . 80"
 * (0000000a 00005000), as bytes. */
static void keys_are_the_bytes_nft_writes_and_parse_back(void **unused)
{
	const uint8_t on4[] = { 198, 18, 0, 1, 0, 80, 0, 0 };
	const uint8_t on6[] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0x01, 0xbb, 0, 0 };
	const uint8_t iif[] = { 2, 0, 0, 0, 'e', 't', 'h', '1', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 80, 0, 0 };
	const uint8_t family[] = { 10, 0, 0, 0, 0, 80, 0, 0 };
	const uint8_t plain[] = { 0x1f, 0x90 };
	struct redirect redirect;

	(void)unused;
	redirect = scoped(PROTOCOL_TCP, 80, SCOPE_ON, 4, "198.18.0.1");
	assert_key(&redirect, on4, sizeof(on4));
	redirect = scoped(PROTOCOL_UDP, 443, SCOPE_ON, 6, "2001:db8::7");
	assert_key(&redirect, on6, sizeof(on6));
	redirect = scoped(PROTOCOL_TCP, 80, SCOPE_IIF, 4, "eth1");
	assert_key(&redirect, iif, sizeof(iif));
	redirect = scoped(PROTOCOL_TCP, 80, SCOPE_FAMILY, 6, NULL);
	assert_key(&redirect, family, sizeof(family));
	redirect = scoped(PROTOCOL_TCP, 8080, SCOPE_NONE, 0, NULL);
	assert_key(&redirect, plain, sizeof(plain));
}

static void an_interface_scope_without_a_family_has_no_key(void **unused)
{
	struct redirect redirect = scoped(PROTOCOL_TCP, 80, SCOPE_IIF, 0, "eth1");
	uint8_t key[LAYOUT_KEY_MAX];
	uint32_t length;

	(void)unused;
	assert_int_equal(layout_key(&redirect, key, &length), -EINVAL);
}

static void keys_portredir_does_not_write_are_refused(void **unused)
{
	const uint8_t family_unknown[] = { 7, 0, 0, 0, 0, 80, 0, 0 };
	const uint8_t family_padding[] = { 2, 1, 0, 0, 0, 80, 0, 0 };
	const uint8_t on4_padding[] = { 198, 18, 0, 1, 0, 80, 0, 1 };
	const uint8_t iif_slash[] = { 2, 0, 0, 0, 'a', '/', 'b', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 80, 0, 0 };
	const uint8_t iif_empty[24] = { 2 };
	const uint8_t iif_dot[] = { 2, 0, 0, 0, '.', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 80, 0, 0 };
	const uint8_t iif_after_nul[] = { 2, 0, 0, 0, 'a', 0, 'b', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 80, 0, 0 };
	struct redirect parsed;

	(void)unused;
	assert_int_equal(layout_key_parse(map_of(PROTOCOL_TCP, MAP_FAMILY), family_unknown, 8, &parsed), -EINVAL);
	assert_int_equal(layout_key_parse(map_of(PROTOCOL_TCP, MAP_FAMILY), family_padding, 8, &parsed), -EINVAL);
	assert_int_equal(layout_key_parse(map_of(PROTOCOL_TCP, MAP_FAMILY), family_unknown, 7, &parsed), -EINVAL);
	assert_int_equal(layout_key_parse(map_of(PROTOCOL_TCP, MAP_ON4), on4_padding, 8, &parsed), -EINVAL);
	assert_int_equal(layout_key_parse(map_of(PROTOCOL_TCP, MAP_IIF), iif_slash, 24, &parsed), -EINVAL);
	assert_int_equal(layout_key_parse(map_of(PROTOCOL_TCP, MAP_IIF), iif_empty, 24, &parsed), -EINVAL);
	assert_int_equal(layout_key_parse(map_of(PROTOCOL_TCP, MAP_IIF), iif_dot, 24, &parsed), -EINVAL);
	assert_int_equal(layout_key_parse(map_of(PROTOCOL_TCP, MAP_IIF), iif_after_nul, 24, &parsed), -EINVAL);
	assert_int_equal(layout_key_parse(map_of(PROTOCOL_TCP, MAP_ON6), on4_padding, 8, &parsed), -EINVAL);
}

static void chains_hold_one_rule_per_map_in_use_in_the_order_of_precedence(void **unused)
{
	bool in_use[MAP_COUNT] = { false };
	unsigned int maps[MAP_COUNT];
	size_t count;

	(void)unused;
	count = chain_rule_maps(CHAIN_PREROUTING, in_use, maps);
	assert_int_equal(count, 2);
	assert_string_equal(map_name(maps[0]), "tcp_redirects");
	assert_string_equal(map_name(maps[1]), "udp_redirects");
	for (unsigned int i = 0; i < MAP_COUNT; i++)
		in_use[i] = true;
	count = chain_rule_maps(CHAIN_PREROUTING, in_use, maps);
	assert_int_equal(count, 10);
	assert_string_equal(map_name(maps[0]), "tcp_on4_redirects");
	assert_string_equal(map_name(maps[1]), "tcp_on6_redirects");
	assert_string_equal(map_name(maps[2]), "tcp_iif_redirects");
	assert_string_equal(map_name(maps[3]), "tcp_family_redirects");
	assert_string_equal(map_name(maps[4]), "tcp_redirects");
	assert_string_equal(map_name(maps[5]), "udp_on4_redirects");
	assert_string_equal(map_name(maps[9]), "udp_redirects");
	/* Local clients arrive on no interface. */
	count = chain_rule_maps(CHAIN_OUTPUT, in_use, maps);
	assert_int_equal(count, 8);
	assert_string_equal(map_name(maps[2]), "tcp_family_redirects");
	in_use[map_of(PROTOCOL_TCP, MAP_ON4)] = false;
	count = chain_rule_maps(CHAIN_OUTPUT, in_use, maps);
	assert_int_equal(count, 7);
	assert_string_equal(map_name(maps[0]), "tcp_on6_redirects");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(each_scoped_rule_is_what_nft_sends_in_both_chains),
		cmocka_unit_test(each_scoped_rule_as_dumped_is_what_the_kernel_dumps),
		cmocka_unit_test(each_scoped_map_has_nfts_key_type_and_length),
		cmocka_unit_test(keys_are_the_bytes_nft_writes_and_parse_back),
		cmocka_unit_test(an_interface_scope_without_a_family_has_no_key),
		cmocka_unit_test(keys_portredir_does_not_write_are_refused),
		cmocka_unit_test(chains_hold_one_rule_per_map_in_use_in_the_order_of_precedence),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
