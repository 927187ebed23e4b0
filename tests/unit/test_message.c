/* Netlink messages checked before they are believed (kernel_message.c):
 * error messages whose code no errno has, messages longer than their
 * buffer, callbacks that fail without a word in errno, and the attribute
 * an extended ack points at, named as nf_tables.h names it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnftnl/batch.h>
#include "kernel_internal.h"

/* Aligned as a receive buffer or a batch is. */
static uint32_t buffer[4096];

static struct nlmsghdr *message(void)
{
	memset(buffer, 0, sizeof(buffer));
	return (struct nlmsghdr *)buffer;
}

static uint32_t offset_of(const struct nlmsghdr *nlh, const struct nlattr *attribute)
{
	return (uint32_t)((const char *)attribute - (const char *)nlh);
}

/* The top-level attribute of type in nlh. */
static const struct nlattr *find(const struct nlmsghdr *nlh, uint16_t type)
{
	const struct nlattr *attribute;

	mnl_attr_for_each(attribute, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(attribute) == type)
			return attribute;
	}
	fail();
	return NULL;
}

/* The nested attribute of nest at position (from 1), whatever its type. */
static const struct nlattr *nth(const struct nlattr *nest, unsigned int position)
{
	const struct nlattr *attribute;

	mnl_attr_for_each_nested(attribute, nest) {
		if (--position == 0)
			return attribute;
	}
	fail();
	return NULL;
}

static const struct nlattr *find_nested(const struct nlattr *nest, uint16_t type)
{
	const struct nlattr *attribute;

	mnl_attr_for_each_nested(attribute, nest) {
		if (mnl_attr_get_type(attribute) == type)
			return attribute;
	}
	fail();
	return NULL;
}

static void assert_named(const struct nlmsghdr *nlh, uint32_t offset, const char *expected)
{
	char name[256];

	assert_int_equal(kernel_name_attribute(nlh, offset, name, sizeof(name)), 0);
	assert_string_equal(name, expected);
}

/* Adding 80 : 8080 and 443 : 8443 to tcp_redirects, as the writer does. */
static struct nlmsghdr *element_message(void)
{
	const uint16_t pairs[][2] = { { 80, 8080 }, { 443, 8443 } };
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr((char *)message(), NFT_MSG_NEWSETELEM, NFPROTO_INET,
						     NLM_F_CREATE | NLM_F_ACK, 1);
	struct nftnl_set *set = nftnl_set_alloc();

	assert_non_null(set);
	nftnl_set_set_str(set, NFTNL_SET_TABLE, TABLE_NAME);
	nftnl_set_set_str(set, NFTNL_SET_NAME, map_name(PROTOCOL_TCP));
	for (size_t i = 0; i < 2; i++) {
		struct nftnl_set_elem *element = nftnl_set_elem_alloc();
		uint16_t port = htons(pairs[i][0]), target = htons(pairs[i][1]);

		assert_non_null(element);
		nftnl_set_elem_set(element, NFTNL_SET_ELEM_KEY, &port, sizeof(port));
		nftnl_set_elem_set(element, NFTNL_SET_ELEM_DATA, &target, sizeof(target));
		nftnl_set_elem_add(set, element);
	}
	nftnl_set_elems_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	return nlh;
}

/* What the kernel points at when it refuses an element. */
static void refused_element_is_named_by_its_position_and_key(void **unused)
{
	const struct nlmsghdr *nlh = element_message();
	const struct nlattr *elements = find(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);

	(void)unused;
	assert_named(nlh, offset_of(nlh, nth(elements, 2)),
		     "element 2 (key 443) of NFTA_SET_ELEM_LIST_ELEMENTS in NFT_MSG_NEWSETELEM");
	assert_named(nlh, offset_of(nlh, nth(elements, 1)),
		     "element 1 (key 80) of NFTA_SET_ELEM_LIST_ELEMENTS in NFT_MSG_NEWSETELEM");
	assert_named(nlh, offset_of(nlh, elements), "NFTA_SET_ELEM_LIST_ELEMENTS in NFT_MSG_NEWSETELEM");
	assert_named(nlh, offset_of(nlh, find(nlh, NFTA_SET_ELEM_LIST_SET)),
		     "NFTA_SET_ELEM_LIST_SET in NFT_MSG_NEWSETELEM");
}

static void offset_inside_an_element_names_every_nest_around_it(void **unused)
{
	const struct nlmsghdr *nlh = element_message();
	const struct nlattr *element = nth(find(nlh, NFTA_SET_ELEM_LIST_ELEMENTS), 2);
	const struct nlattr *value = find_nested(find_nested(element, NFTA_SET_ELEM_DATA), NFTA_DATA_VALUE);
	const char *expected = "NFTA_DATA_VALUE of NFTA_SET_ELEM_DATA of element 2 (key 443) of "
			       "NFTA_SET_ELEM_LIST_ELEMENTS in NFT_MSG_NEWSETELEM";

	(void)unused;
	assert_named(nlh, offset_of(nlh, value), expected);
	/* Within the value's payload: still the value. */
	assert_named(nlh, offset_of(nlh, value) + MNL_ATTR_HDRLEN + 1, expected);
}

static void chain_attributes_are_named_inside_the_hook(void **unused)
{
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr((char *)message(), NFT_MSG_NEWCHAIN, NFPROTO_INET,
						     NLM_F_CREATE | NLM_F_ACK, 1);
	struct nftnl_chain *chain = layout_chain_as_dumped(CHAIN_PREROUTING);
	const struct nlattr *hook;

	(void)unused;
	assert_non_null(chain);
	nftnl_chain_nlmsg_build_payload(nlh, chain);
	nftnl_chain_free(chain);
	hook = find(nlh, NFTA_CHAIN_HOOK);
	assert_named(nlh, offset_of(nlh, find(nlh, NFTA_CHAIN_TYPE)), "NFTA_CHAIN_TYPE in NFT_MSG_NEWCHAIN");
	assert_named(nlh, offset_of(nlh, hook), "NFTA_CHAIN_HOOK in NFT_MSG_NEWCHAIN");
	assert_named(nlh, offset_of(nlh, find_nested(hook, NFTA_HOOK_PRIORITY)),
		     "NFTA_HOOK_PRIORITY of NFTA_CHAIN_HOOK in NFT_MSG_NEWCHAIN");
}

/* fib, cmp, meta, cmp, payload, lookup, redir. */
static void refused_expression_is_named_by_its_position_and_name(void **unused)
{
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr((char *)message(), NFT_MSG_NEWRULE, NFPROTO_INET,
						     NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, 1);
	struct nftnl_rule *rule = layout_rule(CHAIN_OUTPUT, PROTOCOL_UDP, 2, false);
	const struct nlattr *expressions;

	(void)unused;
	assert_non_null(rule);
	nftnl_rule_nlmsg_build_payload(nlh, rule);
	nftnl_rule_free(rule);
	expressions = find(nlh, NFTA_RULE_EXPRESSIONS);
	assert_named(nlh, offset_of(nlh, nth(expressions, 6)),
		     "expression 6 (lookup) of NFTA_RULE_EXPRESSIONS in NFT_MSG_NEWRULE");
	assert_named(nlh, offset_of(nlh, find_nested(nth(expressions, 11), NFTA_EXPR_DATA)),
		     "NFTA_EXPR_DATA of expression 11 (redir) of NFTA_RULE_EXPRESSIONS in NFT_MSG_NEWRULE");
}

static void generation_of_the_batch_is_named(void **unused)
{
	struct nlmsghdr *nlh = nftnl_batch_begin((char *)message(), 1);

	(void)unused;
	mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(7));
	assert_named(nlh, offset_of(nlh, find(nlh, NFNL_BATCH_GENID)), "NFNL_BATCH_GENID in NFNL_MSG_BATCH_BEGIN");
}

static void attribute_no_name_is_known_for_is_named_by_its_number(void **unused)
{
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr((char *)message(), NFT_MSG_NEWTABLE, NFPROTO_INET, 0, 1);

	(void)unused;
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, TABLE_NAME);
	mnl_attr_put_u32(nlh, 42, 0);
	assert_named(nlh, offset_of(nlh, find(nlh, 42)), "attribute 42 in NFT_MSG_NEWTABLE");
	nlh->nlmsg_type = NFNL_SUBSYS_CTNETLINK << 8;
	assert_named(nlh, offset_of(nlh, find(nlh, NFTA_TABLE_NAME)), "attribute 1 in message type 0x100");
}

static void offset_in_no_attribute_names_nothing(void **unused)
{
	const struct nlmsghdr *nlh = element_message();
	char name[256] = "x";

	(void)unused;
	assert_int_equal(kernel_name_attribute(nlh, 0, name, sizeof(name)), -ENOENT);
	assert_string_equal(name, "");
	/* In the family header. */
	assert_int_equal(kernel_name_attribute(nlh, sizeof(struct nlmsghdr) + 1, name, sizeof(name)), -ENOENT);
	assert_int_equal(kernel_name_attribute(nlh, nlh->nlmsg_len, name, sizeof(name)), -ENOENT);
	assert_int_equal(kernel_name_attribute(nlh, UINT32_MAX, name, sizeof(name)), -ENOENT);
}

static void name_longer_than_the_buffer_is_refused(void **unused)
{
	const struct nlmsghdr *nlh = element_message();
	const struct nlattr *elements = find(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	char name[24];

	(void)unused;
	assert_int_equal(kernel_name_attribute(nlh, offset_of(nlh, nth(elements, 2)), name, sizeof(name)), -ENOSPC);
}

/* An error message as the kernel sends it to a socket with
 * NETLINK_CAP_ACK: the request's header only, then the extended ack. */
static struct nlmsghdr *error_message(int code, uint16_t flags, uint32_t echoed_length)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(message());
	struct nlmsgerr *error;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = flags;
	error = mnl_nlmsg_put_extra_header(nlh, sizeof(*error));
	error->error = code;
	error->msg.nlmsg_len = echoed_length;
	if (echoed_length > sizeof(struct nlmsghdr))
		mnl_nlmsg_put_extra_header(nlh, echoed_length - sizeof(struct nlmsghdr));
	return nlh;
}

static void extended_ack_gives_its_text_and_offset(void **unused)
{
	struct nlmsghdr *nlh = error_message(-EINVAL, NLM_F_CAPPED | NLM_F_ACK_TLVS, sizeof(struct nlmsghdr));
	struct kernel_ack ack;

	(void)unused;
	mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, "Unknown set");
	mnl_attr_put_u32(nlh, NLMSGERR_ATTR_OFFS, 44);
	assert_int_equal(kernel_parse_ack(nlh, &ack), 0);
	assert_int_equal(ack.error, -EINVAL);
	assert_string_equal(ack.message, "Unknown set");
	assert_true(ack.has_offset);
	assert_int_equal(ack.offset, 44);
}

/* Without NETLINK_CAP_ACK the whole request comes back first. */
static void extended_ack_after_the_echoed_request_is_found(void **unused)
{
	struct nlmsghdr *nlh = error_message(-ENOENT, NLM_F_ACK_TLVS, 36);
	struct kernel_ack ack;

	(void)unused;
	mnl_attr_put_u32(nlh, NLMSGERR_ATTR_OFFS, 24);
	assert_int_equal(kernel_parse_ack(nlh, &ack), 0);
	assert_int_equal(ack.error, -ENOENT);
	assert_null(ack.message);
	assert_true(ack.has_offset);
	assert_int_equal(ack.offset, 24);
	/* An echo claimed longer than the message: no extended ack. */
	((struct nlmsgerr *)mnl_nlmsg_get_payload(nlh))->msg.nlmsg_len = 4096;
	assert_int_equal(kernel_parse_ack(nlh, &ack), 0);
	assert_int_equal(ack.error, -ENOENT);
	assert_false(ack.has_offset);
}

static void error_code_no_errno_has_is_a_malformed_message(void **unused)
{
	struct kernel_ack ack;
	struct nlmsghdr *nlh;

	(void)unused;
	/* Negating INT_MIN is undefined. */
	assert_int_equal(kernel_parse_ack(error_message(INT_MIN, 0, sizeof(struct nlmsghdr)), &ack), -EBADMSG);
	assert_int_equal(kernel_parse_ack(error_message(-4096, 0, sizeof(struct nlmsghdr)), &ack), -EBADMSG);
	assert_int_equal(kernel_parse_ack(error_message(INT_MAX, 0, sizeof(struct nlmsghdr)), &ack), -EBADMSG);
	/* Some subsystems send the code positive. */
	assert_int_equal(kernel_parse_ack(error_message(EPERM, 0, sizeof(struct nlmsghdr)), &ack), 0);
	assert_int_equal(ack.error, -EPERM);
	assert_int_equal(kernel_parse_ack(error_message(0, 0, sizeof(struct nlmsghdr)), &ack), 0);
	assert_int_equal(ack.error, 0);
	nlh = error_message(-EPERM, 0, sizeof(struct nlmsghdr));
	nlh->nlmsg_len = sizeof(*nlh) + sizeof(int);
	assert_int_equal(kernel_parse_ack(nlh, &ack), -EBADMSG);
}

static int count_message(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	++*(int *)data;
	return MNL_CB_OK;
}

static int fail_without_errno(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_ERROR;
}

static size_t data_message(uint16_t flags, uint32_t sequence)
{
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr((char *)message(), NFT_MSG_NEWTABLE, NFPROTO_INET, flags,
						     sequence);

	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, TABLE_NAME);
	return nlh->nlmsg_len;
}

static void error_message_is_returned_without_errno(void **unused)
{
	struct nlmsghdr *nlh = error_message(-ENOENT, 0, sizeof(struct nlmsghdr));

	(void)unused;
	errno = 0;
	assert_int_equal(kernel_run_messages(buffer, nlh->nlmsg_len, 0, 0, NULL, NULL), -ENOENT);
	nlh = error_message(INT_MIN, 0, sizeof(struct nlmsghdr));
	assert_int_equal(kernel_run_messages(buffer, nlh->nlmsg_len, 0, 0, NULL, NULL), -EBADMSG);
	nlh = error_message(0, 0, sizeof(struct nlmsghdr));
	assert_int_equal(kernel_run_messages(buffer, nlh->nlmsg_len, 0, 0, NULL, NULL), MNL_CB_STOP);
}

/* errno holds whatever the last system call left: a callback's failure
 * must not come back as that. */
static void failing_callback_is_reported_whatever_errno_holds(void **unused)
{
	size_t length = data_message(0, 0);

	(void)unused;
	errno = EINTR;
	assert_int_equal(kernel_run_messages(buffer, length, 0, 0, fail_without_errno, NULL), -ECANCELED);
	errno = 0;
	assert_int_equal(kernel_run_messages(buffer, length, 0, 0, fail_without_errno, NULL), -ECANCELED);
}

static void data_messages_go_to_the_callback_until_the_dump_is_done(void **unused)
{
	size_t length = data_message(NLM_F_MULTI, 5);
	struct nlmsghdr *done = (struct nlmsghdr *)((char *)buffer + MNL_ALIGN(length));
	int seen = 0;

	(void)unused;
	assert_int_equal(kernel_run_messages(buffer, length, 5, 0, count_message, &seen), MNL_CB_OK);
	assert_int_equal(seen, 1);
	*done = (struct nlmsghdr){ .nlmsg_len = sizeof(*done), .nlmsg_type = NLMSG_DONE, .nlmsg_seq = 5 };
	assert_int_equal(kernel_run_messages(buffer, MNL_ALIGN(length) + sizeof(*done), 5, 0, count_message, &seen),
			 MNL_CB_STOP);
	assert_int_equal(seen, 2);
	/* Another request's reply. */
	assert_int_equal(kernel_run_messages(buffer, length, 6, 0, count_message, &seen), -EPROTO);
	assert_int_equal(seen, 2);
}

static void dump_flagged_inconsistent_is_interrupted(void **unused)
{
	size_t length = data_message(NLM_F_MULTI | NLM_F_DUMP_INTR, 0);

	(void)unused;
	assert_int_equal(kernel_run_messages(buffer, length, 0, 0, NULL, NULL), -EINTR);
}

/* libmnl 1.0.4 compares the length as an int: 2 GiB would pass. */
static void message_claiming_two_gibibytes_is_refused(void **unused)
{
	size_t length = data_message(0, 0);
	struct nlmsghdr *nlh = (struct nlmsghdr *)buffer;
	int seen = 0;

	(void)unused;
	assert_true(kernel_messages_fit(buffer, length));
	nlh->nlmsg_len = 0x80000000u;
	assert_false(kernel_messages_fit(buffer, length));
	assert_int_equal(kernel_run_messages(buffer, length, 0, 0, count_message, &seen), -EBADMSG);
	assert_int_equal(seen, 0);
	nlh->nlmsg_len = UINT32_MAX;
	assert_false(kernel_messages_fit(buffer, length));
	nlh->nlmsg_len = (uint32_t)length + 4;
	assert_false(kernel_messages_fit(buffer, length));
	nlh->nlmsg_len = sizeof(*nlh) - 1;
	assert_false(kernel_messages_fit(buffer, length));
}

static void table_is_attribute_one_of_every_object_message(void **unused)
{
	struct nlmsghdr *nlh = element_message();
	struct nftnl_chain *chain;

	(void)unused;
	assert_string_equal(kernel_message_table_name(nlh), TABLE_NAME);
	nlh = nftnl_nlmsg_build_hdr((char *)message(), NFT_MSG_DELCHAIN, NFPROTO_INET, 0, 1);
	chain = layout_chain_as_dumped(CHAIN_OUTPUT);
	assert_non_null(chain);
	nftnl_chain_nlmsg_build_payload(nlh, chain);
	nftnl_chain_free(chain);
	assert_string_equal(kernel_message_table_name(nlh), TABLE_NAME);
	nlh = nftnl_nlmsg_build_hdr((char *)message(), NFT_MSG_NEWOBJ, NFPROTO_INET, 0, 1);
	mnl_attr_put_strz(nlh, NFTA_OBJ_NAME, "counter");
	mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, "filter");
	assert_string_equal(kernel_message_table_name(nlh), "filter");
}

static void table_name_without_its_nul_or_header_is_none(void **unused)
{
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr((char *)message(), NFT_MSG_NEWTABLE, NFPROTO_INET, 0, 1);

	(void)unused;
	mnl_attr_put(nlh, NFTA_TABLE_NAME, strlen(TABLE_NAME), TABLE_NAME);
	assert_null(kernel_message_table_name(nlh));
	nlh = mnl_nlmsg_put_header(message());
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE;
	assert_null(kernel_message_table_name(nlh));
}

/* A rule's expressions holding one immediate with verdict code, and the
 * chain name's bytes (none when chain is NULL). */
static const struct nlattr *immediate_rule(int32_t code, const char *chain, size_t chain_length)
{
	struct nlmsghdr *nlh = message();
	struct nlattr *list, *element, *data, *immediate, *verdict;

	nlh->nlmsg_len = mnl_nlmsg_size(0);
	list = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	element = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "immediate");
	data = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
	mnl_attr_put_u32(nlh, NFTA_IMMEDIATE_DREG, htonl(NFT_REG_VERDICT));
	immediate = mnl_attr_nest_start(nlh, NFTA_IMMEDIATE_DATA);
	verdict = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
	mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl((uint32_t)code));
	if (chain)
		mnl_attr_put(nlh, NFTA_VERDICT_CHAIN, chain_length, chain);
	mnl_attr_nest_end(nlh, verdict);
	mnl_attr_nest_end(nlh, immediate);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, element);
	mnl_attr_nest_end(nlh, list);
	return list;
}

/* libnftnl 1.2.4 strdup()s a jump's chain name unchecked: a forged rule
 * whose jump names no chain, or names it without its NUL, is not handed
 * to it (the owner gate's rules jump; the decoder's fuzzer found it). */
static void jump_without_a_chain_name_is_not_given_to_libnftnl(void **unused)
{
	(void)unused;
	assert_true(kernel_libnftnl_may_parse(NFT_MSG_GETRULE, immediate_rule(NF_ACCEPT, NULL, 0)));
	assert_true(kernel_libnftnl_may_parse(NFT_MSG_GETRULE, immediate_rule(NFT_JUMP, "owner_check", 12)));
	assert_true(kernel_libnftnl_may_parse(NFT_MSG_GETRULE, immediate_rule(NFT_GOTO, "owner_check", 12)));
	assert_false(kernel_libnftnl_may_parse(NFT_MSG_GETRULE, immediate_rule(NFT_JUMP, NULL, 0)));
	assert_false(kernel_libnftnl_may_parse(NFT_MSG_GETRULE, immediate_rule(NFT_GOTO, NULL, 0)));
	assert_false(kernel_libnftnl_may_parse(NFT_MSG_GETRULE, immediate_rule(NFT_JUMP, "owner_check", 11)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(refused_element_is_named_by_its_position_and_key),
		cmocka_unit_test(offset_inside_an_element_names_every_nest_around_it),
		cmocka_unit_test(chain_attributes_are_named_inside_the_hook),
		cmocka_unit_test(refused_expression_is_named_by_its_position_and_name),
		cmocka_unit_test(generation_of_the_batch_is_named),
		cmocka_unit_test(attribute_no_name_is_known_for_is_named_by_its_number),
		cmocka_unit_test(offset_in_no_attribute_names_nothing),
		cmocka_unit_test(name_longer_than_the_buffer_is_refused),
		cmocka_unit_test(extended_ack_gives_its_text_and_offset),
		cmocka_unit_test(extended_ack_after_the_echoed_request_is_found),
		cmocka_unit_test(error_code_no_errno_has_is_a_malformed_message),
		cmocka_unit_test(error_message_is_returned_without_errno),
		cmocka_unit_test(failing_callback_is_reported_whatever_errno_holds),
		cmocka_unit_test(data_messages_go_to_the_callback_until_the_dump_is_done),
		cmocka_unit_test(dump_flagged_inconsistent_is_interrupted),
		cmocka_unit_test(message_claiming_two_gibibytes_is_refused),
		cmocka_unit_test(table_is_attribute_one_of_every_object_message),
		cmocka_unit_test(table_name_without_its_nul_or_header_is_none),
		cmocka_unit_test(jump_without_a_chain_name_is_not_given_to_libnftnl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
