/* The kernel-state decoder as a specification: dumps built by hand, as the
 * kernel would send them or as no kernel would, and the table_state that
 * kernel_decode_dump() makes of them. Forged messages must be refused or
 * read as "not as the layout says", never crash or pass for the layout. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnftnl/expr.h>
#include "kernel_internal.h"

/* One dump's replies, concatenated as received. */
struct dump {
	char buffer[32768];
	size_t length;
};

static struct nlmsghdr *start_message(struct dump *dump, uint16_t type, uint16_t family)
{
	assert_true(dump->length + 4096 <= sizeof(dump->buffer));
	return nftnl_nlmsg_build_hdr(dump->buffer + dump->length, type, family, NLM_F_MULTI, 0);
}

static void end_message(struct dump *dump, const struct nlmsghdr *nlh)
{
	dump->length += NLMSG_ALIGN(nlh->nlmsg_len);
}

/* The table as the kernel dumps it: with the number of its chains and sets. */
static void add_table(struct dump *dump, uint32_t use)
{
	struct nftnl_table *table = layout_table(NULL, 0, 0);
	struct nlmsghdr *nlh = start_message(dump, NFT_MSG_NEWTABLE, NFPROTO_INET);

	assert_non_null(table);
	nftnl_table_nlmsg_build_payload(nlh, table);
	mnl_attr_put_u32(nlh, NFTA_TABLE_USE, htonl(use));
	nftnl_table_free(table);
	end_message(dump, nlh);
}

static void add_chain(struct dump *dump, enum chain which, int32_t priority)
{
	struct nftnl_chain *chain = layout_chain(which);
	struct nlmsghdr *nlh = start_message(dump, NFT_MSG_NEWCHAIN, NFPROTO_INET);

	assert_non_null(chain);
	nftnl_chain_set_s32(chain, NFTNL_CHAIN_PRIO, priority);
	nftnl_chain_nlmsg_build_payload(nlh, chain);
	nftnl_chain_free(chain);
	end_message(dump, nlh);
}

/* A map: a base map's index is its protocol (state.h). */
static void add_map(struct dump *dump, unsigned int map)
{
	struct nftnl_set *set = layout_map(map, 0);
	struct nlmsghdr *nlh = start_message(dump, NFT_MSG_NEWSET, NFPROTO_INET);

	assert_non_null(set);
	nftnl_set_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	end_message(dump, nlh);
}

static void add_count_set(struct dump *dump, enum protocol protocol)
{
	struct nftnl_set *set = layout_count_set(protocol, 0);
	struct nlmsghdr *nlh = start_message(dump, NFT_MSG_NEWSET, NFPROTO_INET);

	assert_non_null(set);
	nftnl_set_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	end_message(dump, nlh);
}

static void add_rule(struct dump *dump, enum chain which, unsigned int map)
{
	struct nftnl_rule *rule = layout_rule(which, map, false, true);
	struct nlmsghdr *nlh = start_message(dump, NFT_MSG_NEWRULE, NFPROTO_INET);

	assert_non_null(rule);
	nftnl_rule_nlmsg_build_payload(nlh, rule);
	nftnl_rule_free(rule);
	end_message(dump, nlh);
}

/* A rule message written attribute by attribute: in table portredir of
 * family, chain chain, with one expression named name (none if NULL). */
static void add_raw_rule(struct dump *dump, uint16_t family, const char *chain, const char *name)
{
	struct nlmsghdr *nlh = start_message(dump, NFT_MSG_NEWRULE, family);
	struct nlattr *list, *element;

	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, TABLE_NAME);
	mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, chain);
	list = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	element = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	if (name)
		mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, name);
	mnl_attr_nest_end(nlh, mnl_attr_nest_start(nlh, NFTA_EXPR_DATA));
	mnl_attr_nest_end(nlh, element);
	mnl_attr_nest_end(nlh, list);
	end_message(dump, nlh);
}

/* One message per element: libnftnl numbers the nests of the elements it
 * builds 1, 2, ..., where the kernel, and libnftnl's parser, want each to
 * be NFTA_LIST_ELEM (1). */
static void add_elements(struct dump *dump, enum protocol protocol, const uint16_t (*pairs)[2], size_t count)
{
	for (size_t i = 0; i < count; i++) {
		struct nftnl_set *set = nftnl_set_alloc();
		struct nftnl_set_elem *element = nftnl_set_elem_alloc();
		struct nlmsghdr *nlh = start_message(dump, NFT_MSG_NEWSETELEM, NFPROTO_INET);
		uint16_t port = htons(pairs[i][0]), target = htons(pairs[i][1]);

		assert_non_null(set);
		assert_non_null(element);
		nftnl_set_set_str(set, NFTNL_SET_TABLE, TABLE_NAME);
		nftnl_set_set_str(set, NFTNL_SET_NAME, map_name(protocol));
		nftnl_set_elem_set(element, NFTNL_SET_ELEM_KEY, &port, sizeof(port));
		nftnl_set_elem_set(element, NFTNL_SET_ELEM_DATA, &target, sizeof(target));
		nftnl_set_elem_add(set, element);
		nftnl_set_elems_nlmsg_build_payload(nlh, set);
		nftnl_set_free(set);
		end_message(dump, nlh);
	}
}

static void decode(struct kernel_decoder *decoder, uint16_t type, const struct dump *dump)
{
	assert_int_equal(kernel_decode_dump(decoder, type, dump->buffer, dump->length), 0);
}

/* The table, its chains and maps as the layout says, and their rules
 * unless without_rules; the state after decoding tables and structure only
 * is checked by the caller after more dumps and kernel_decoder_finish(). */
static struct kernel_decoder *decode_layout(bool without_rules)
{
	struct kernel_decoder *decoder = NULL;
	struct dump dump = { .length = 0 };

	assert_int_equal(kernel_decoder_new(&decoder), 0);
	add_table(&dump, 6);
	decode(decoder, NFT_MSG_GETTABLE, &dump);
	dump.length = 0;
	add_chain(&dump, CHAIN_PREROUTING, -100);
	add_chain(&dump, CHAIN_OUTPUT, -100);
	decode(decoder, NFT_MSG_GETCHAIN, &dump);
	dump.length = 0;
	add_map(&dump, PROTOCOL_TCP);
	add_map(&dump, PROTOCOL_UDP);
	add_count_set(&dump, PROTOCOL_TCP);
	add_count_set(&dump, PROTOCOL_UDP);
	decode(decoder, NFT_MSG_GETSET, &dump);
	if (without_rules)
		return decoder;
	dump.length = 0;
	for (int chain = 0; chain < CHAIN_COUNT; chain++) {
		add_rule(&dump, (enum chain)chain, PROTOCOL_TCP);
		add_rule(&dump, (enum chain)chain, PROTOCOL_UDP);
	}
	decode(decoder, NFT_MSG_GETRULE, &dump);
	return decoder;
}

static struct table_state *finish(struct kernel_decoder *decoder)
{
	struct table_state *state = NULL;

	assert_int_equal(kernel_decoder_finish(decoder, &state), 0);
	kernel_decoder_free(decoder);
	assert_non_null(state);
	return state;
}

static void assert_object(const struct object_state *object, enum object_status status, const char *reason)
{
	assert_string_equal(object->reason, reason);
	assert_int_equal(object->status, status);
}

static void assert_intact(const struct table_state *state)
{
	assert_true(state->table_exists);
	assert_object(&state->table, OBJECT_OK, "");
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		assert_object(&state->maps[i], OBJECT_OK, "");
		assert_object(&state->count_sets[i], OBJECT_OK, "");
	}
	for (int i = 0; i < CHAIN_COUNT; i++)
		assert_object(&state->chains[i], OBJECT_OK, "");
}

static void assert_redirect(const struct redirect *redirect, enum protocol protocol, uint16_t port, uint16_t target)
{
	assert_int_equal(redirect->protocol, protocol);
	assert_int_equal(redirect->port, port);
	assert_int_equal(redirect->target, target);
}

static void layout_with_elements_decodes_to_its_mapping(void **unused)
{
	static const uint16_t tcp[][2] = { { 443, 8443 }, { 80, 8080 } };
	static const uint16_t udp[][2] = { { 443, 8443 } };
	struct kernel_decoder *decoder = decode_layout(false);
	struct dump dump = { .length = 0 };
	struct table_state *state;

	(void)unused;
	add_elements(&dump, PROTOCOL_TCP, tcp, 2);
	decode(decoder, NFT_MSG_GETSETELEM, &dump);
	dump.length = 0;
	add_elements(&dump, PROTOCOL_UDP, udp, 1);
	decode(decoder, NFT_MSG_GETSETELEM, &dump);
	state = finish(decoder);
	assert_intact(state);
	assert_int_equal(state->mapping->redirect_count, 3);
	assert_redirect(&state->mapping->redirects[0], PROTOCOL_TCP, 80, 8080);
	assert_redirect(&state->mapping->redirects[1], PROTOCOL_TCP, 443, 8443);
	assert_redirect(&state->mapping->redirects[2], PROTOCOL_UDP, 443, 8443);
	table_state_free(state);
}

static void no_table_message_is_no_table(void **unused)
{
	struct kernel_decoder *decoder = NULL;
	struct table_state *state;

	(void)unused;
	assert_int_equal(kernel_decoder_new(&decoder), 0);
	state = finish(decoder);
	assert_false(state->table_exists);
	assert_int_equal(state->mapping->redirect_count, 0);
	table_state_free(state);
}

/* libnftnl 1.2.4 cannot parse a rule with an expression it does not know
 * (one a newer nft added): it is still a rule in the chain, and not ours. */
static void rule_with_an_unknown_expression_is_an_unexpected_rule(void **unused)
{
	struct kernel_decoder *decoder = decode_layout(false);
	struct dump dump = { .length = 0 };
	struct table_state *state;

	(void)unused;
	add_raw_rule(&dump, NFPROTO_INET, "output", "frobnicate");
	decode(decoder, NFT_MSG_GETRULE, &dump);
	state = finish(decoder);
	assert_object(&state->chains[CHAIN_PREROUTING], OBJECT_OK, "");
	assert_object(&state->chains[CHAIN_OUTPUT], OBJECT_ALTERED, "unexpected rule found");
	assert_object(&state->table, OBJECT_OK, "");
	table_state_free(state);
}

/* libnftnl 1.2.4 would read the missing name at address 4. */
static void rule_with_an_expression_without_a_name_is_an_unexpected_rule(void **unused)
{
	struct kernel_decoder *decoder = decode_layout(false);
	struct dump dump = { .length = 0 };
	struct table_state *state;

	(void)unused;
	add_raw_rule(&dump, NFPROTO_INET, "prerouting", NULL);
	decode(decoder, NFT_MSG_GETRULE, &dump);
	state = finish(decoder);
	assert_object(&state->chains[CHAIN_PREROUTING], OBJECT_ALTERED, "unexpected rule found");
	table_state_free(state);
}

/* The managed rules are missing from both chains; a rule of table
 * portredir in family ip does not stand in for one. */
static void rule_of_a_table_of_another_family_is_ignored(void **unused)
{
	struct kernel_decoder *decoder = decode_layout(true);
	struct dump dump = { .length = 0 };
	struct table_state *state;

	(void)unused;
	add_raw_rule(&dump, NFPROTO_IPV4, "output", "counter");
	decode(decoder, NFT_MSG_GETRULE, &dump);
	state = finish(decoder);
	assert_object(&state->chains[CHAIN_PREROUTING], OBJECT_ALTERED, "rule missing");
	assert_object(&state->chains[CHAIN_OUTPUT], OBJECT_ALTERED, "rule missing");
	table_state_free(state);
}

/* The kernel never sends a chain twice; a forged dump that does must not
 * make a changed chain look intact. */
static void chain_sent_again_as_the_layout_stays_changed(void **unused)
{
	struct kernel_decoder *decoder = NULL;
	struct dump dump = { .length = 0 };
	struct table_state *state;

	(void)unused;
	assert_int_equal(kernel_decoder_new(&decoder), 0);
	add_table(&dump, 2);
	decode(decoder, NFT_MSG_GETTABLE, &dump);
	dump.length = 0;
	add_chain(&dump, CHAIN_OUTPUT, 0);
	add_chain(&dump, CHAIN_OUTPUT, -100);
	decode(decoder, NFT_MSG_GETCHAIN, &dump);
	state = finish(decoder);
	assert_object(&state->chains[CHAIN_OUTPUT], OBJECT_ALTERED, "chain changed");
	table_state_free(state);
}

/* A rule's anonymous set ("tcp dport { 22, 23 }") is listed with the sets,
 * but Linux 6.18 does not count it in the table's use: the foreign rule
 * is found by the rule check, and the table itself is intact. */
static void anonymous_set_not_counted_by_the_table_is_no_foreign_object(void **unused)
{
	struct kernel_decoder *decoder = decode_layout(true);
	struct dump dump = { .length = 0 };
	struct nftnl_set *set = nftnl_set_alloc();
	struct nlmsghdr *nlh;
	struct table_state *state;

	(void)unused;
	assert_non_null(set);
	nftnl_set_set_str(set, NFTNL_SET_TABLE, TABLE_NAME);
	nftnl_set_set_str(set, NFTNL_SET_NAME, "__set0");
	nftnl_set_set_u32(set, NFTNL_SET_FLAGS, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT);
	nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, 2);
	nlh = start_message(&dump, NFT_MSG_NEWSET, NFPROTO_INET);
	nftnl_set_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	end_message(&dump, nlh);
	decode(decoder, NFT_MSG_GETSET, &dump);
	dump.length = 0;
	for (int chain = 0; chain < CHAIN_COUNT; chain++) {
		add_rule(&dump, (enum chain)chain, PROTOCOL_TCP);
		add_rule(&dump, (enum chain)chain, PROTOCOL_UDP);
	}
	decode(decoder, NFT_MSG_GETRULE, &dump);
	state = finish(decoder);
	assert_intact(state);
	table_state_free(state);
}

/* libnftnl 1.2.4 keeps an element's attributes in an array sized for the
 * types it knows but accepts larger ones, writing past the array: such an
 * element is not read, and the map is recreated. */
static void element_with_an_attribute_of_an_unknown_type_alters_the_map(void **unused)
{
	static const uint16_t tcp[][2] = { { 80, 8080 } };
	struct kernel_decoder *decoder = decode_layout(false);
	struct dump dump = { .length = 0 };
	struct nlmsghdr *nlh = start_message(&dump, NFT_MSG_NEWSETELEM, NFPROTO_INET);
	struct nlattr *list, *element;
	struct table_state *state;

	(void)unused;
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, TABLE_NAME);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, "udp_redirects");
	list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	element = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	mnl_attr_put_u32(nlh, NFTA_SET_ELEM_MAX + 4, 0);
	mnl_attr_nest_end(nlh, element);
	mnl_attr_nest_end(nlh, list);
	end_message(&dump, nlh);
	add_elements(&dump, PROTOCOL_TCP, tcp, 1);
	decode(decoder, NFT_MSG_GETSETELEM, &dump);
	state = finish(decoder);
	assert_object(&state->maps[PROTOCOL_TCP], OBJECT_OK, "");
	assert_object(&state->maps[PROTOCOL_UDP], OBJECT_ALTERED, "unexpected element found");
	assert_int_equal(state->mapping->redirect_count, 1);
	assert_redirect(&state->mapping->redirects[0], PROTOCOL_TCP, 80, 8080);
	table_state_free(state);
}

/* libmnl 1.0.4 compares a message's length as an int: one that claims
 * 2 GiB would pass and be walked past the end of the buffer. */
static void message_longer_than_the_buffer_is_refused(void **unused)
{
	struct kernel_decoder *decoder = NULL;
	struct dump dump = { .length = 0 };
	struct nlmsghdr *nlh;

	(void)unused;
	assert_int_equal(kernel_decoder_new(&decoder), 0);
	add_table(&dump, 4);
	nlh = (struct nlmsghdr *)dump.buffer;
	nlh->nlmsg_len = 0x80000000u;
	assert_int_equal(kernel_decode_dump(decoder, NFT_MSG_GETTABLE, dump.buffer, dump.length), -EBADMSG);
	nlh->nlmsg_len = (uint32_t)dump.length + 4;
	assert_int_equal(kernel_decode_dump(decoder, NFT_MSG_GETTABLE, dump.buffer, dump.length), -EBADMSG);
	kernel_decoder_free(decoder);
}

/* Messages are read in place as structures, from an aligned copy: a
 * buffer at any address decodes. */
static void misaligned_buffer_is_decoded(void **unused)
{
	struct kernel_decoder *decoder = NULL;
	struct dump dump = { .length = 0 };
	struct table_state *state;

	(void)unused;
	assert_int_equal(kernel_decoder_new(&decoder), 0);
	add_table(&dump, 0);
	memmove(dump.buffer + 1, dump.buffer, dump.length);
	assert_int_equal(kernel_decode_dump(decoder, NFT_MSG_GETTABLE, dump.buffer + 1, dump.length), 0);
	state = finish(decoder);
	assert_true(state->table_exists);
	table_state_free(state);
}

/* libnftnl strdup()s a string attribute it only checked is not empty: a
 * name without its NUL at the very end of the dump must not be read past. */
static void name_without_its_nul_at_the_end_of_the_dump_is_not_read_past(void **unused)
{
	struct kernel_decoder *decoder = NULL;
	struct dump dump = { .length = 0 };
	struct nlmsghdr *nlh = start_message(&dump, NFT_MSG_NEWTABLE, NFPROTO_INET);
	struct table_state *state;
	char *exact;

	(void)unused;
	mnl_attr_put(nlh, NFTA_TABLE_NAME, 4, "port");
	end_message(&dump, nlh);
	assert_int_equal(kernel_decoder_new(&decoder), 0);
	/* The buffer ends with the name's last letter. */
	exact = malloc(dump.length);
	assert_non_null(exact);
	memcpy(exact, dump.buffer, dump.length);
	assert_int_equal(kernel_decode_dump(decoder, NFT_MSG_GETTABLE, exact, dump.length), 0);
	free(exact);
	state = finish(decoder);
	assert_false(state->table_exists);
	table_state_free(state);
}

static void error_message_is_returned_as_its_errno(void **unused)
{
	struct kernel_decoder *decoder = NULL;
	struct dump dump = { .length = 0 };
	struct nlmsghdr *nlh = (struct nlmsghdr *)dump.buffer;
	struct nlmsgerr *error;

	(void)unused;
	assert_int_equal(kernel_decoder_new(&decoder), 0);
	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_len = NLMSG_LENGTH(sizeof(*error));
	error = mnl_nlmsg_get_payload(nlh);
	error->error = -ENOENT;
	dump.length = nlh->nlmsg_len;
	assert_int_equal(kernel_decode_dump(decoder, NFT_MSG_GETTABLE, dump.buffer, dump.length), -ENOENT);
	/* A code no errno has: negating it is undefined. */
	error->error = INT_MIN;
	assert_int_equal(kernel_decode_dump(decoder, NFT_MSG_GETTABLE, dump.buffer, dump.length), -EBADMSG);
	kernel_decoder_free(decoder);
}

static void structure_dump_after_the_elements_is_refused(void **unused)
{
	struct kernel_decoder *decoder = decode_layout(false);
	struct dump dump = { .length = 0 };

	(void)unused;
	decode(decoder, NFT_MSG_GETSETELEM, &dump);
	add_chain(&dump, CHAIN_OUTPUT, -100);
	assert_int_equal(kernel_decode_dump(decoder, NFT_MSG_GETCHAIN, dump.buffer, dump.length), -EINVAL);
	assert_int_equal(kernel_decode_dump(decoder, NFT_MSG_GETGEN, dump.buffer, dump.length), -EINVAL);
	kernel_decoder_free(decoder);
}

/* A table made before the count sets: the sets are missing. */
static void table_without_count_sets_misses_them(void **unused)
{
	struct kernel_decoder *decoder = NULL;
	struct dump dump = { .length = 0 };
	struct table_state *state;

	(void)unused;
	assert_int_equal(kernel_decoder_new(&decoder), 0);
	add_table(&dump, 4);
	decode(decoder, NFT_MSG_GETTABLE, &dump);
	dump.length = 0;
	add_chain(&dump, CHAIN_PREROUTING, -100);
	add_chain(&dump, CHAIN_OUTPUT, -100);
	decode(decoder, NFT_MSG_GETCHAIN, &dump);
	dump.length = 0;
	add_map(&dump, PROTOCOL_TCP);
	add_map(&dump, PROTOCOL_UDP);
	decode(decoder, NFT_MSG_GETSET, &dump);
	state = finish(decoder);
	assert_object(&state->table, OBJECT_OK, "");
	assert_object(&state->maps[PROTOCOL_TCP], OBJECT_OK, "");
	assert_object(&state->count_sets[PROTOCOL_TCP], OBJECT_MISSING, "");
	assert_object(&state->count_sets[PROTOCOL_UDP], OBJECT_MISSING, "");
	assert_false(table_state_is_layout(state));
	table_state_free(state);
}

/* A count set that is not a dynamic set of ports is recreated. */
static void count_set_of_another_type_is_altered(void **unused)
{
	struct kernel_decoder *decoder = NULL;
	struct nftnl_set *set = layout_count_set(PROTOCOL_UDP, 0);
	struct dump dump = { .length = 0 };
	struct table_state *state;
	struct nlmsghdr *nlh;

	(void)unused;
	assert_int_equal(kernel_decoder_new(&decoder), 0);
	add_table(&dump, 6);
	decode(decoder, NFT_MSG_GETTABLE, &dump);
	dump.length = 0;
	add_chain(&dump, CHAIN_PREROUTING, -100);
	add_chain(&dump, CHAIN_OUTPUT, -100);
	decode(decoder, NFT_MSG_GETCHAIN, &dump);
	dump.length = 0;
	add_map(&dump, PROTOCOL_TCP);
	add_map(&dump, PROTOCOL_UDP);
	add_count_set(&dump, PROTOCOL_TCP);
	assert_non_null(set);
	nftnl_set_set_u32(set, NFTNL_SET_FLAGS, 0);
	nlh = start_message(&dump, NFT_MSG_NEWSET, NFPROTO_INET);
	nftnl_set_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	end_message(&dump, nlh);
	decode(decoder, NFT_MSG_GETSET, &dump);
	state = finish(decoder);
	assert_object(&state->table, OBJECT_OK, "");
	assert_object(&state->count_sets[PROTOCOL_TCP], OBJECT_OK, "");
	assert_object(&state->count_sets[PROTOCOL_UDP], OBJECT_ALTERED, "set type changed");
	table_state_free(state);
}

/* Elements someone added with a counter of their own (nft add element
 * ... { 80 counter : 8080 }) still decode to their redirects. */
static void elements_with_a_counter_of_their_own_decode_to_their_mapping(void **unused)
{
	struct kernel_decoder *decoder = decode_layout(false);
	struct dump dump = { .length = 0 };
	struct nftnl_set *set = nftnl_set_alloc();
	struct nftnl_set_elem *element = nftnl_set_elem_alloc();
	struct nftnl_expr *counter = nftnl_expr_alloc("counter");
	struct nlmsghdr *nlh = start_message(&dump, NFT_MSG_NEWSETELEM, NFPROTO_INET);
	uint16_t port = htons(80), target = htons(8080);
	struct table_state *state;

	(void)unused;
	assert_non_null(set);
	assert_non_null(element);
	assert_non_null(counter);
	nftnl_set_set_str(set, NFTNL_SET_TABLE, TABLE_NAME);
	nftnl_set_set_str(set, NFTNL_SET_NAME, map_name(PROTOCOL_TCP));
	nftnl_set_elem_set(element, NFTNL_SET_ELEM_KEY, &port, sizeof(port));
	nftnl_set_elem_set(element, NFTNL_SET_ELEM_DATA, &target, sizeof(target));
	nftnl_expr_set_u64(counter, NFTNL_EXPR_CTR_PACKETS, 3);
	nftnl_expr_set_u64(counter, NFTNL_EXPR_CTR_BYTES, 180);
	nftnl_set_elem_add_expr(element, counter);
	nftnl_set_elem_add(set, element);
	nftnl_set_elems_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	end_message(&dump, nlh);
	decode(decoder, NFT_MSG_GETSETELEM, &dump);
	state = finish(decoder);
	assert_intact(state);
	assert_int_equal(state->mapping->redirect_count, 1);
	assert_redirect(&state->mapping->redirects[0], PROTOCOL_TCP, 80, 8080);
	table_state_free(state);
}

/* A message too short for the family header libnftnl reads first. */
static void message_without_a_family_header_is_skipped(void **unused)
{
	struct kernel_decoder *decoder = NULL;
	struct dump dump = { .length = 0 };
	struct nlmsghdr *nlh = (struct nlmsghdr *)dump.buffer;
	struct table_state *state;

	(void)unused;
	assert_int_equal(kernel_decoder_new(&decoder), 0);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE;
	nlh->nlmsg_len = sizeof(*nlh);
	dump.length = sizeof(*nlh);
	assert_int_equal(kernel_decode_dump(decoder, NFT_MSG_GETTABLE, dump.buffer, dump.length), 0);
	assert_int_equal(kernel_decode_dump(decoder, NFT_MSG_GETCHAIN, dump.buffer, dump.length), 0);
	assert_int_equal(kernel_decode_dump(decoder, NFT_MSG_GETSET, dump.buffer, dump.length), 0);
	assert_int_equal(kernel_decode_dump(decoder, NFT_MSG_GETRULE, dump.buffer, dump.length), 0);
	assert_int_equal(kernel_decode_dump(decoder, NFT_MSG_GETSETELEM, dump.buffer, dump.length), 0);
	state = finish(decoder);
	assert_false(state->table_exists);
	table_state_free(state);
}

/* Scoped maps: the maps found decide the chains' rules; their elements
 * decode to scoped redirects, sorted with the others. */
static void add_scoped_element(struct dump *dump, const struct redirect *redirect)
{
	struct nftnl_set *set = nftnl_set_alloc();
	struct nftnl_set_elem *element = nftnl_set_elem_alloc();
	struct nlmsghdr *nlh = start_message(dump, NFT_MSG_NEWSETELEM, NFPROTO_INET);
	uint16_t target = htons(redirect->target);
	uint8_t key[LAYOUT_KEY_MAX];
	uint32_t length;

	assert_non_null(set);
	assert_non_null(element);
	assert_int_equal(layout_key(redirect, key, &length), 0);
	nftnl_set_set_str(set, NFTNL_SET_TABLE, TABLE_NAME);
	nftnl_set_set_str(set, NFTNL_SET_NAME, map_name(redirect_map(redirect)));
	nftnl_set_elem_set(element, NFTNL_SET_ELEM_KEY, key, length);
	nftnl_set_elem_set(element, NFTNL_SET_ELEM_DATA, &target, sizeof(target));
	nftnl_set_elem_add(set, element);
	nftnl_set_elems_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	end_message(dump, nlh);
}

/* tcp_on4_redirects and tcp_iif_redirects beside the base maps; rules
 * as chain_rule_maps() orders them unless skip_iif leaves prerouting's
 * interface rule out. */
static struct kernel_decoder *decode_scoped_layout(bool skip_iif)
{
	const unsigned int on4 = map_of(PROTOCOL_TCP, MAP_ON4), iif = map_of(PROTOCOL_TCP, MAP_IIF);
	struct kernel_decoder *decoder = NULL;
	struct dump dump = { .length = 0 };

	assert_int_equal(kernel_decoder_new(&decoder), 0);
	add_table(&dump, 8);
	decode(decoder, NFT_MSG_GETTABLE, &dump);
	dump.length = 0;
	add_chain(&dump, CHAIN_PREROUTING, -100);
	add_chain(&dump, CHAIN_OUTPUT, -100);
	decode(decoder, NFT_MSG_GETCHAIN, &dump);
	dump.length = 0;
	add_map(&dump, PROTOCOL_TCP);
	add_map(&dump, PROTOCOL_UDP);
	add_count_set(&dump, PROTOCOL_TCP);
	add_count_set(&dump, PROTOCOL_UDP);
	add_map(&dump, on4);
	add_map(&dump, iif);
	decode(decoder, NFT_MSG_GETSET, &dump);
	dump.length = 0;
	add_rule(&dump, CHAIN_PREROUTING, on4);
	if (!skip_iif)
		add_rule(&dump, CHAIN_PREROUTING, iif);
	add_rule(&dump, CHAIN_PREROUTING, PROTOCOL_TCP);
	add_rule(&dump, CHAIN_PREROUTING, PROTOCOL_UDP);
	add_rule(&dump, CHAIN_OUTPUT, on4);
	add_rule(&dump, CHAIN_OUTPUT, PROTOCOL_TCP);
	add_rule(&dump, CHAIN_OUTPUT, PROTOCOL_UDP);
	decode(decoder, NFT_MSG_GETRULE, &dump);
	return decoder;
}

static void scoped_maps_decode_to_scoped_redirects_in_order(void **unused)
{
	struct kernel_decoder *decoder = decode_scoped_layout(false);
	struct redirect on = { .protocol = PROTOCOL_TCP, .port = 80, .target = 8081 };
	struct redirect iif4 = { .protocol = PROTOCOL_TCP, .port = 80, .target = 8082 };
	struct redirect iif6 = { .protocol = PROTOCOL_TCP, .port = 80, .target = 8083 };
	static const uint16_t tcp[][2] = { { 80, 8080 } };
	struct dump dump = { .length = 0 };
	struct table_state *state;

	(void)unused;
	on.scope = (struct scope){ .kind = SCOPE_ON, .family = 4, .address = { 198, 18, 0, 1 } };
	iif4.scope = (struct scope){ .kind = SCOPE_IIF, .family = 4, .iif = "veth1" };
	iif6.scope = (struct scope){ .kind = SCOPE_IIF, .family = 6, .iif = "veth1" };
	add_elements(&dump, PROTOCOL_TCP, tcp, 1);
	add_scoped_element(&dump, &on);
	add_scoped_element(&dump, &iif6);
	add_scoped_element(&dump, &iif4);
	decode(decoder, NFT_MSG_GETSETELEM, &dump);
	state = finish(decoder);
	assert_intact(state);
	assert_true(table_state_is_layout(state));
	assert_object(&state->maps[map_of(PROTOCOL_TCP, MAP_ON4)], OBJECT_OK, "");
	assert_object(&state->maps[map_of(PROTOCOL_TCP, MAP_ON6)], OBJECT_MISSING, "");
	assert_int_equal(state->mapping->redirect_count, 4);
	assert_redirect(&state->mapping->redirects[0], PROTOCOL_TCP, 80, 8080);
	assert_int_equal(state->mapping->redirects[0].scope.kind, SCOPE_NONE);
	assert_redirect(&state->mapping->redirects[1], PROTOCOL_TCP, 80, 8082);
	assert_int_equal(scope_compare(&state->mapping->redirects[1].scope, &iif4.scope), 0);
	assert_redirect(&state->mapping->redirects[2], PROTOCOL_TCP, 80, 8083);
	assert_int_equal(scope_compare(&state->mapping->redirects[2].scope, &iif6.scope), 0);
	assert_redirect(&state->mapping->redirects[3], PROTOCOL_TCP, 80, 8081);
	assert_int_equal(scope_compare(&state->mapping->redirects[3].scope, &on.scope), 0);
	table_state_free(state);
}

static void a_scoped_map_without_its_rule_alters_the_chain(void **unused)
{
	struct table_state *state = finish(decode_scoped_layout(true));

	(void)unused;
	assert_object(&state->chains[CHAIN_PREROUTING], OBJECT_ALTERED, "unexpected rule found");
	assert_object(&state->chains[CHAIN_OUTPUT], OBJECT_OK, "");
	assert_false(table_state_is_layout(state));
	table_state_free(state);
}

static void a_scoped_element_of_another_shape_alters_its_map(void **unused)
{
	struct kernel_decoder *decoder = decode_scoped_layout(false);
	struct redirect bad = { .protocol = PROTOCOL_TCP, .port = 80, .target = 8081 };
	struct dump dump = { .length = 0 };
	struct table_state *state;

	(void)unused;
	/* An interface name the kernel refuses, which portredir never writes. */
	bad.scope = (struct scope){ .kind = SCOPE_IIF, .family = 4, .iif = "a/b" };
	add_scoped_element(&dump, &bad);
	decode(decoder, NFT_MSG_GETSETELEM, &dump);
	state = finish(decoder);
	assert_object(&state->maps[map_of(PROTOCOL_TCP, MAP_IIF)], OBJECT_ALTERED, "unexpected element found");
	assert_int_equal(state->mapping->redirect_count, 0);
	table_state_free(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(scoped_maps_decode_to_scoped_redirects_in_order),
		cmocka_unit_test(a_scoped_map_without_its_rule_alters_the_chain),
		cmocka_unit_test(a_scoped_element_of_another_shape_alters_its_map),
		cmocka_unit_test(layout_with_elements_decodes_to_its_mapping),
		cmocka_unit_test(no_table_message_is_no_table),
		cmocka_unit_test(rule_with_an_unknown_expression_is_an_unexpected_rule),
		cmocka_unit_test(rule_with_an_expression_without_a_name_is_an_unexpected_rule),
		cmocka_unit_test(rule_of_a_table_of_another_family_is_ignored),
		cmocka_unit_test(chain_sent_again_as_the_layout_stays_changed),
		cmocka_unit_test(anonymous_set_not_counted_by_the_table_is_no_foreign_object),
		cmocka_unit_test(element_with_an_attribute_of_an_unknown_type_alters_the_map),
		cmocka_unit_test(message_longer_than_the_buffer_is_refused),
		cmocka_unit_test(misaligned_buffer_is_decoded),
		cmocka_unit_test(name_without_its_nul_at_the_end_of_the_dump_is_not_read_past),
		cmocka_unit_test(error_message_is_returned_as_its_errno),
		cmocka_unit_test(structure_dump_after_the_elements_is_refused),
		cmocka_unit_test(message_without_a_family_header_is_skipped),
		cmocka_unit_test(table_without_count_sets_misses_them),
		cmocka_unit_test(count_set_of_another_type_is_altered),
		cmocka_unit_test(elements_with_a_counter_of_their_own_decode_to_their_mapping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
