/* Netlink messages checked before a byte of them is believed, apart from
 * any socket: whether they fit their buffer, error messages and their
 * extended acks, whether libnftnl may be given them, and the attribute an
 * extended ack points at, by name. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <string.h>
#include "kernel_internal.h"

/* The largest errno the kernel has (include/linux/err.h's MAX_ERRNO). */
#define KERNEL_MAX_ERRNO 4095

bool kernel_messages_fit(const void *buffer, size_t length)
{
	const unsigned char *cursor = buffer;
	size_t remaining = length;

	if (length > INT_MAX)
		return false;
	while (remaining >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr header;
		size_t step;

		memcpy(&header, cursor, sizeof(header));
		if (header.nlmsg_len < sizeof(header) || header.nlmsg_len > remaining)
			return false;
		step = NLMSG_ALIGN((size_t)header.nlmsg_len);
		if (step >= remaining)
			break;
		cursor += step;
		remaining -= step;
	}
	return true;
}

static int extended_ack_attribute(const struct nlattr *attribute, void *data)
{
	struct kernel_ack *ack = data;

	switch (mnl_attr_get_type(attribute)) {
	case NLMSGERR_ATTR_MSG:
		if (mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) == 0)
			ack->message = mnl_attr_get_str(attribute);
		break;
	case NLMSGERR_ATTR_OFFS:
		if (mnl_attr_validate(attribute, MNL_TYPE_U32) == 0) {
			ack->offset = mnl_attr_get_u32(attribute);
			ack->has_offset = true;
		}
		break;
	}
	return MNL_CB_OK;
}

int kernel_parse_ack(const struct nlmsghdr *nlh, struct kernel_ack *ret_ack)
{
	const struct nlmsgerr *error = mnl_nlmsg_get_payload(nlh);
	size_t payload = mnl_nlmsg_get_payload_len(nlh), offset = sizeof(*error);

	*ret_ack = (struct kernel_ack){ .error = 0 };
	if (payload < sizeof(*error))
		return -EBADMSG;
	/* Subsystems send the code with either sign, as libmnl knows; one no
	 * errno has (INT_MIN, whose negation overflows) is a forged message. */
	if (error->error > KERNEL_MAX_ERRNO || error->error < -KERNEL_MAX_ERRNO)
		return -EBADMSG;
	ret_ack->error = error->error > 0 ? -error->error : error->error;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return 0;
	/* Unless capped, the message acknowledged comes back before the
	 * attributes. */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
		if (error->msg.nlmsg_len < sizeof(struct nlmsghdr) ||
		    error->msg.nlmsg_len - sizeof(struct nlmsghdr) > payload - offset)
			return 0;
		offset += error->msg.nlmsg_len - sizeof(struct nlmsghdr);
	}
	mnl_attr_parse(nlh, (unsigned int)offset, extended_ack_attribute, ret_ack);
	return 0;
}

/* What kernel_run_messages() learns while libmnl walks the messages. */
struct message_run {
	mnl_cb_t callback;
	void *data;
	bool callback_failed;
	/* An error message's code, checked. */
	int error;
};

static int run_data_message(const struct nlmsghdr *nlh, void *data)
{
	struct message_run *run = data;
	int r;

	if (!run->callback)
		return MNL_CB_OK;
	r = run->callback(nlh, run->data);
	if (r == MNL_CB_ERROR)
		run->callback_failed = true;
	return r;
}

/* libmnl's own handler negates the code unchecked and leaves it in errno. */
static int run_error_message(const struct nlmsghdr *nlh, void *data)
{
	struct message_run *run = data;
	struct kernel_ack ack;
	int r;

	r = kernel_parse_ack(nlh, &ack);
	if (r < 0) {
		run->error = r;
		return MNL_CB_ERROR;
	}
	if (!ack.error)
		return MNL_CB_STOP;
	run->error = ack.error;
	return MNL_CB_ERROR;
}

static int run_stop_message(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_STOP;
}

static int run_skipped_message(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_OK;
}

/* Not const only because libmnl 1.0.4's prototype is not. */
static mnl_cb_t control_messages[NLMSG_MIN_TYPE] = {
	[NLMSG_NOOP] = run_skipped_message,
	[NLMSG_ERROR] = run_error_message,
	[NLMSG_DONE] = run_stop_message,
	[NLMSG_OVERRUN] = run_skipped_message,
};

int kernel_run_messages(const void *buffer, size_t length, uint32_t sequence, uint32_t port_id,
			mnl_cb_t callback, void *data)
{
	struct message_run run = { .callback = callback, .data = data };
	int r;

	/* libmnl 1.0.4 compares a message's length as an int: one claiming
	 * 2 GiB or more would pass, and be walked past the buffer's end. */
	if (!kernel_messages_fit(buffer, length))
		return -EBADMSG;
	r = mnl_cb_run2(buffer, length, sequence, port_id, run_data_message, &run, control_messages,
			NLMSG_MIN_TYPE);
	if (r >= 0)
		return r;
	if (run.callback_failed)
		return -ECANCELED;
	if (run.error)
		return run.error;
	/* libmnl's own checks (port, sequence, NLM_F_DUMP_INTR) set errno
	 * right before failing, with no callback run in between. */
	return errno > 0 ? -errno : -EPROTO;
}

struct expression_check {
	bool named;
	bool dynset;
	bool immediate;
	const struct nlattr *data;
};

static int expression_attribute(const struct nlattr *attribute, void *data)
{
	struct expression_check *check = data;

	if (mnl_attr_get_type(attribute) == NFTA_EXPR_NAME && mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) == 0) {
		check->named = true;
		check->dynset = !strcmp(mnl_attr_get_str(attribute), "dynset");
		check->immediate = !strcmp(mnl_attr_get_str(attribute), "immediate");
	} else if (mnl_attr_get_type(attribute) == NFTA_EXPR_DATA) {
		check->data = attribute;
	}
	return MNL_CB_OK;
}

static bool expression_named(const struct nlattr *expression);
static bool expressions_named(const struct nlattr *list);

/* The attribute of a type in a nest as libnftnl sees it (the last of that
 * type; an attribute that does not fit ends the walk), or NULL. */
struct nested_find {
	uint16_t type;
	const struct nlattr *found;
};

static int nested_find_attribute(const struct nlattr *attribute, void *data)
{
	struct nested_find *find = data;

	if (mnl_attr_get_type(attribute) == find->type)
		find->found = attribute;
	return MNL_CB_OK;
}

static const struct nlattr *nest_member(const struct nlattr *nest, uint16_t type)
{
	struct nested_find find = { .type = type };

	if (!nest || mnl_attr_parse_nested(nest, nested_find_attribute, &find) < 0)
		return NULL;
	return find.found;
}

/* An immediate's verdict: libnftnl 1.2.4 strdup()s a jump's or goto's
 * chain name without checking that there is one (the owner gate's rules
 * jump, and a forged one may not name its chain). */
static bool immediate_readable(const struct nlattr *data)
{
	const struct nlattr *verdict = nest_member(nest_member(data, NFTA_IMMEDIATE_DATA), NFTA_DATA_VERDICT);
	const struct nlattr *code = nest_member(verdict, NFTA_VERDICT_CODE), *chain;
	int32_t value;

	if (!code || mnl_attr_validate(code, MNL_TYPE_U32) < 0)
		return true;
	value = (int32_t)ntohl(mnl_attr_get_u32(code));
	if (value != NFT_JUMP && value != NFT_GOTO)
		return true;
	chain = nest_member(verdict, NFTA_VERDICT_CHAIN);
	return chain && mnl_attr_validate(chain, MNL_TYPE_NUL_STRING) == 0;
}

/* A dynset carries expressions of its own (update @counts { ... counter }),
 * which libnftnl parses with the same fault as the rule's. */
static int dynset_attribute(const struct nlattr *attribute, void *data)
{
	(void)data;
	switch (mnl_attr_get_type(attribute)) {
	case NFTA_DYNSET_EXPR:
		return expression_named(attribute) ? MNL_CB_OK : MNL_CB_ERROR;
	case NFTA_DYNSET_EXPRESSIONS:
		return expressions_named(attribute) ? MNL_CB_OK : MNL_CB_ERROR;
	default:
		return MNL_CB_OK;
	}
}

static bool expression_named(const struct nlattr *expression)
{
	struct expression_check check = { 0 };

	if (mnl_attr_parse_nested(expression, expression_attribute, &check) < 0 || !check.named)
		return false;
	if (check.immediate)
		return immediate_readable(check.data);
	return !check.dynset || !check.data || mnl_attr_parse_nested(check.data, dynset_attribute, NULL) >= 0;
}

static int expression_list_attribute(const struct nlattr *attribute, void *data)
{
	(void)data;
	if (mnl_attr_get_type(attribute) != NFTA_LIST_ELEM || !expression_named(attribute))
		return MNL_CB_ERROR;
	return MNL_CB_OK;
}

static bool expressions_named(const struct nlattr *list)
{
	return mnl_attr_parse_nested(list, expression_list_attribute, NULL) >= 0;
}

static int element_attribute(const struct nlattr *attribute, void *data)
{
	(void)data;
	switch (mnl_attr_get_type(attribute)) {
	case NFTA_SET_ELEM_EXPR:
		return expression_named(attribute) ? MNL_CB_OK : MNL_CB_ERROR;
	case NFTA_SET_ELEM_EXPRESSIONS:
		return expressions_named(attribute) ? MNL_CB_OK : MNL_CB_ERROR;
	default:
		return mnl_attr_get_type(attribute) <= NFTA_SET_ELEM_MAX ? MNL_CB_OK : MNL_CB_ERROR;
	}
}

static int element_list_attribute(const struct nlattr *attribute, void *data)
{
	(void)data;
	if (mnl_attr_get_type(attribute) != NFTA_LIST_ELEM ||
	    mnl_attr_parse_nested(attribute, element_attribute, NULL) < 0)
		return MNL_CB_ERROR;
	return MNL_CB_OK;
}

bool kernel_libnftnl_may_parse(uint16_t type, const struct nlattr *attribute)
{
	switch (type) {
	case NFT_MSG_GETSET:
		if (mnl_attr_get_type(attribute) == NFTA_SET_EXPR)
			return expression_named(attribute);
		return mnl_attr_get_type(attribute) != NFTA_SET_EXPRESSIONS || expressions_named(attribute);
	case NFT_MSG_GETRULE:
		return mnl_attr_get_type(attribute) != NFTA_RULE_EXPRESSIONS || expressions_named(attribute);
	case NFT_MSG_GETSETELEM:
		return mnl_attr_get_type(attribute) != NFTA_SET_ELEM_LIST_ELEMENTS ||
		       mnl_attr_parse_nested(attribute, element_list_attribute, NULL) >= 0;
	default:
		return true;
	}
}

const char *kernel_message_table_name(const struct nlmsghdr *nlh)
{
	const struct nlattr *attribute;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nfgenmsg))
		return NULL;
	mnl_attr_for_each(attribute, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(attribute) == NFTA_TABLE_NAME)
			return mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) == 0 ? mnl_attr_get_str(attribute) : NULL;
	}
	return NULL;
}

/* Every nf_tables object message names its table in the same attribute. */
_Static_assert(NFTA_TABLE_NAME == 1 && NFTA_CHAIN_TABLE == 1 && NFTA_RULE_TABLE == 1 && NFTA_SET_TABLE == 1 &&
		       NFTA_SET_ELEM_LIST_TABLE == 1 && NFTA_OBJ_TABLE == 1 && NFTA_FLOWTABLE_TABLE == 1,
	       "the table is attribute 1 of every object message");

/* The attributes of one kind of message or nest, named as nf_tables.h
 * names them, by type. */
struct attribute_space;

struct attribute_kind {
	const char *name;
	/* The space of the attributes nested in it, or NULL. */
	const struct attribute_space *nested;
};

struct attribute_space {
	const struct attribute_kind *kinds;
	size_t count;
	/* A list: every attribute is an NFTA_LIST_ELEM, named by what it
	 * holds and its position. */
	const char *item;
	/* Appends what tells an item of the list apart, e.g. " (key 443)". */
	void (*describe)(const struct nlattr *item, char *buffer, size_t size);
};

#define KIND(type, space) [type] = { #type, space }
#define SPACE(kinds) { kinds, sizeof(kinds) / sizeof(kinds[0]), NULL, NULL }
#define LIST(kinds, item, describe) { kinds, sizeof(kinds) / sizeof(kinds[0]), item, describe }

static const struct attribute_kind data_kinds[] = {
	KIND(NFTA_DATA_VALUE, NULL),
	KIND(NFTA_DATA_VERDICT, NULL),
};
static const struct attribute_space data_space = SPACE(data_kinds);

static const struct attribute_kind expression_kinds[] = {
	KIND(NFTA_EXPR_NAME, NULL),
	KIND(NFTA_EXPR_DATA, NULL),
};
static const struct attribute_space expression_space = SPACE(expression_kinds);

/* The nested attribute of type in item, or NULL. */
static const struct nlattr *nested_attribute(const struct nlattr *item, uint16_t type)
{
	const struct nlattr *attribute;

	mnl_attr_for_each_nested(attribute, item) {
		if (mnl_attr_get_type(attribute) == type)
			return attribute;
	}
	return NULL;
}

static void describe_expression(const struct nlattr *item, char *buffer, size_t size)
{
	const struct nlattr *name = nested_attribute(item, NFTA_EXPR_NAME);
	const char *text;

	if (!name || mnl_attr_validate(name, MNL_TYPE_NUL_STRING) < 0)
		return;
	text = mnl_attr_get_str(name);
	/* Expression names are lowercase words; anything else is not
	 * repeated into a message. */
	if (!*text || strspn(text, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(text))
		return;
	snprintf(buffer, size, " (%s)", text);
}

static const struct attribute_kind expression_list_kinds[] = {
	KIND(NFTA_LIST_ELEM, &expression_space),
};
static const struct attribute_space expression_list_space = LIST(expression_list_kinds, "expression",
								  describe_expression);

static const struct attribute_kind element_kinds[] = {
	KIND(NFTA_SET_ELEM_KEY, &data_space),
	KIND(NFTA_SET_ELEM_DATA, &data_space),
	KIND(NFTA_SET_ELEM_FLAGS, NULL),
	KIND(NFTA_SET_ELEM_TIMEOUT, NULL),
	KIND(NFTA_SET_ELEM_EXPIRATION, NULL),
	KIND(NFTA_SET_ELEM_USERDATA, NULL),
	KIND(NFTA_SET_ELEM_EXPR, &expression_space),
	KIND(NFTA_SET_ELEM_PAD, NULL),
	KIND(NFTA_SET_ELEM_OBJREF, NULL),
	KIND(NFTA_SET_ELEM_KEY_END, &data_space),
	KIND(NFTA_SET_ELEM_EXPRESSIONS, &expression_list_space),
};
static const struct attribute_space element_space = SPACE(element_kinds);

/* The maps' keys are ports: the one the kernel refused is what the
 * administrator looks for. */
static void describe_element(const struct nlattr *item, char *buffer, size_t size)
{
	const struct nlattr *key = nested_attribute(item, NFTA_SET_ELEM_KEY);
	const struct nlattr *value;
	uint16_t port;

	if (!key || mnl_attr_get_payload_len(key) < sizeof(struct nlattr))
		return;
	value = nested_attribute(key, NFTA_DATA_VALUE);
	if (!value || mnl_attr_get_payload_len(value) != sizeof(port))
		return;
	memcpy(&port, mnl_attr_get_payload(value), sizeof(port));
	snprintf(buffer, size, " (key %u)", ntohs(port));
}

static const struct attribute_kind element_list_kinds[] = {
	KIND(NFTA_LIST_ELEM, &element_space),
};
static const struct attribute_space element_list_space = LIST(element_list_kinds, "element", describe_element);

static const struct attribute_kind set_description_kinds[] = {
	KIND(NFTA_SET_DESC_SIZE, NULL),
	KIND(NFTA_SET_DESC_CONCAT, NULL),
};
static const struct attribute_space set_description_space = SPACE(set_description_kinds);

static const struct attribute_kind hook_kinds[] = {
	KIND(NFTA_HOOK_HOOKNUM, NULL),
	KIND(NFTA_HOOK_PRIORITY, NULL),
	KIND(NFTA_HOOK_DEV, NULL),
	KIND(NFTA_HOOK_DEVS, NULL),
};
static const struct attribute_space hook_space = SPACE(hook_kinds);

static const struct attribute_kind batch_kinds[] = {
	KIND(NFNL_BATCH_GENID, NULL),
};
static const struct attribute_space batch_space = SPACE(batch_kinds);

static const struct attribute_kind table_kinds[] = {
	KIND(NFTA_TABLE_NAME, NULL),
	KIND(NFTA_TABLE_FLAGS, NULL),
	KIND(NFTA_TABLE_USE, NULL),
	KIND(NFTA_TABLE_HANDLE, NULL),
	KIND(NFTA_TABLE_PAD, NULL),
	KIND(NFTA_TABLE_USERDATA, NULL),
	KIND(NFTA_TABLE_OWNER, NULL),
};
static const struct attribute_space table_space = SPACE(table_kinds);

static const struct attribute_kind chain_kinds[] = {
	KIND(NFTA_CHAIN_TABLE, NULL),
	KIND(NFTA_CHAIN_HANDLE, NULL),
	KIND(NFTA_CHAIN_NAME, NULL),
	KIND(NFTA_CHAIN_HOOK, &hook_space),
	KIND(NFTA_CHAIN_POLICY, NULL),
	KIND(NFTA_CHAIN_USE, NULL),
	KIND(NFTA_CHAIN_TYPE, NULL),
	KIND(NFTA_CHAIN_COUNTERS, NULL),
	KIND(NFTA_CHAIN_PAD, NULL),
	KIND(NFTA_CHAIN_FLAGS, NULL),
	KIND(NFTA_CHAIN_ID, NULL),
	KIND(NFTA_CHAIN_USERDATA, NULL),
};
static const struct attribute_space chain_space = SPACE(chain_kinds);

static const struct attribute_kind rule_kinds[] = {
	KIND(NFTA_RULE_TABLE, NULL),
	KIND(NFTA_RULE_CHAIN, NULL),
	KIND(NFTA_RULE_HANDLE, NULL),
	KIND(NFTA_RULE_EXPRESSIONS, &expression_list_space),
	KIND(NFTA_RULE_COMPAT, NULL),
	KIND(NFTA_RULE_POSITION, NULL),
	KIND(NFTA_RULE_USERDATA, NULL),
	KIND(NFTA_RULE_PAD, NULL),
	KIND(NFTA_RULE_ID, NULL),
	KIND(NFTA_RULE_POSITION_ID, NULL),
	KIND(NFTA_RULE_CHAIN_ID, NULL),
};
static const struct attribute_space rule_space = SPACE(rule_kinds);

static const struct attribute_kind set_kinds[] = {
	KIND(NFTA_SET_TABLE, NULL),
	KIND(NFTA_SET_NAME, NULL),
	KIND(NFTA_SET_FLAGS, NULL),
	KIND(NFTA_SET_KEY_TYPE, NULL),
	KIND(NFTA_SET_KEY_LEN, NULL),
	KIND(NFTA_SET_DATA_TYPE, NULL),
	KIND(NFTA_SET_DATA_LEN, NULL),
	KIND(NFTA_SET_POLICY, NULL),
	KIND(NFTA_SET_DESC, &set_description_space),
	KIND(NFTA_SET_ID, NULL),
	KIND(NFTA_SET_TIMEOUT, NULL),
	KIND(NFTA_SET_GC_INTERVAL, NULL),
	KIND(NFTA_SET_USERDATA, NULL),
	KIND(NFTA_SET_PAD, NULL),
	KIND(NFTA_SET_OBJ_TYPE, NULL),
	KIND(NFTA_SET_HANDLE, NULL),
	KIND(NFTA_SET_EXPR, &expression_space),
	KIND(NFTA_SET_EXPRESSIONS, &expression_list_space),
};
static const struct attribute_space set_space = SPACE(set_kinds);

static const struct attribute_kind elements_kinds[] = {
	KIND(NFTA_SET_ELEM_LIST_TABLE, NULL),
	KIND(NFTA_SET_ELEM_LIST_SET, NULL),
	KIND(NFTA_SET_ELEM_LIST_ELEMENTS, &element_list_space),
	KIND(NFTA_SET_ELEM_LIST_SET_ID, NULL),
};
static const struct attribute_space elements_space = SPACE(elements_kinds);

#define MESSAGE(type, space) [type] = { #type, space }

static const struct attribute_kind nftables_messages[] = {
	MESSAGE(NFT_MSG_NEWTABLE, &table_space),
	MESSAGE(NFT_MSG_GETTABLE, &table_space),
	MESSAGE(NFT_MSG_DELTABLE, &table_space),
	MESSAGE(NFT_MSG_NEWCHAIN, &chain_space),
	MESSAGE(NFT_MSG_GETCHAIN, &chain_space),
	MESSAGE(NFT_MSG_DELCHAIN, &chain_space),
	MESSAGE(NFT_MSG_NEWRULE, &rule_space),
	MESSAGE(NFT_MSG_GETRULE, &rule_space),
	MESSAGE(NFT_MSG_DELRULE, &rule_space),
	MESSAGE(NFT_MSG_NEWSET, &set_space),
	MESSAGE(NFT_MSG_GETSET, &set_space),
	MESSAGE(NFT_MSG_DELSET, &set_space),
	MESSAGE(NFT_MSG_NEWSETELEM, &elements_space),
	MESSAGE(NFT_MSG_GETSETELEM, &elements_space),
	MESSAGE(NFT_MSG_DELSETELEM, &elements_space),
	MESSAGE(NFT_MSG_NEWGEN, NULL),
	MESSAGE(NFT_MSG_GETGEN, NULL),
	MESSAGE(NFT_MSG_TRACE, NULL),
	MESSAGE(NFT_MSG_NEWOBJ, NULL),
	MESSAGE(NFT_MSG_GETOBJ, NULL),
	MESSAGE(NFT_MSG_DELOBJ, NULL),
	MESSAGE(NFT_MSG_GETOBJ_RESET, NULL),
	MESSAGE(NFT_MSG_NEWFLOWTABLE, NULL),
	MESSAGE(NFT_MSG_GETFLOWTABLE, NULL),
	MESSAGE(NFT_MSG_DELFLOWTABLE, NULL),
};

static const struct attribute_kind batch_begin = { "NFNL_MSG_BATCH_BEGIN", &batch_space };

/* One attribute on the way from the message to the one the offset is in. */
struct attribute_step {
	const struct attribute_space *space;
	const struct nlattr *attribute;
	unsigned int position;
};

#define MAX_ATTRIBUTE_DEPTH 8

/* Walks down from the attributes in [begin, end) of message to the
 * innermost one that holds offset, recording each step. */
static size_t find_attribute(const unsigned char *message, size_t begin, size_t end, size_t offset,
			     const struct attribute_space *space, struct attribute_step *steps)
{
	size_t depth = 0, at = begin;
	unsigned int position = 0;

	while (depth < MAX_ATTRIBUTE_DEPTH && at + sizeof(struct nlattr) <= end) {
		struct nlattr header;
		const struct attribute_space *nested = NULL;
		uint16_t type;

		memcpy(&header, message + at, sizeof(header));
		if (header.nla_len < sizeof(header) || header.nla_len > end - at)
			break;
		position++;
		if (offset < at || offset >= at + header.nla_len) {
			at += MNL_ALIGN(header.nla_len);
			continue;
		}
		steps[depth++] = (struct attribute_step){
			.space = space,
			.attribute = (const struct nlattr *)(const void *)(message + at),
			.position = position,
		};
		type = header.nla_type & NLA_TYPE_MASK;
		/* libnftnl 1.2.4 numbers the items of a list it builds 1, 2,
		 * ... rather than NFTA_LIST_ELEM each; the kernel takes both. */
		if (space && space->item)
			nested = space->kinds[NFTA_LIST_ELEM].nested;
		else if (space && type < space->count)
			nested = space->kinds[type].nested;
		/* An offset at the nest's own header names the nest. */
		if (!nested || offset < at + MNL_ATTR_HDRLEN)
			break;
		space = nested;
		begin = at + MNL_ATTR_HDRLEN;
		end = at + header.nla_len;
		at = begin;
		position = 0;
	}
	return depth;
}

static void name_step(const struct attribute_step *step, char *buffer, size_t size)
{
	const struct attribute_space *space = step->space;
	uint16_t type = mnl_attr_get_type(step->attribute);
	char detail[64] = "";

	if (space && space->item) {
		if (space->describe)
			space->describe(step->attribute, detail, sizeof(detail));
		snprintf(buffer, size, "%s %u%s", space->item, step->position, detail);
	} else if (space && type < space->count && space->kinds[type].name) {
		snprintf(buffer, size, "%s", space->kinds[type].name);
	} else {
		snprintf(buffer, size, "attribute %u", type);
	}
}

int kernel_name_attribute(const struct nlmsghdr *message, uint32_t offset, char *buffer, size_t size)
{
	const unsigned char *bytes = (const unsigned char *)message;
	const struct attribute_kind *kind = NULL;
	struct attribute_step steps[MAX_ATTRIBUTE_DEPTH];
	size_t begin = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg)), depth, used = 0;
	char message_name[32];
	int length;

	if (!size)
		return -ENOSPC;
	buffer[0] = '\0';
	if (message->nlmsg_len < begin || offset < begin || offset >= message->nlmsg_len)
		return -ENOENT;
	if (message->nlmsg_type == NFNL_MSG_BATCH_BEGIN) {
		kind = &batch_begin;
	} else if (NFNL_SUBSYS_ID(message->nlmsg_type) == NFNL_SUBSYS_NFTABLES &&
		   NFNL_MSG_TYPE(message->nlmsg_type) < sizeof(nftables_messages) / sizeof(nftables_messages[0])) {
		kind = &nftables_messages[NFNL_MSG_TYPE(message->nlmsg_type)];
	}
	if (kind && kind->name)
		snprintf(message_name, sizeof(message_name), "%s", kind->name);
	else
		snprintf(message_name, sizeof(message_name), "message type 0x%x", message->nlmsg_type);
	depth = find_attribute(bytes, begin, message->nlmsg_len, offset, kind ? kind->nested : NULL, steps);
	if (!depth)
		return -ENOENT;
	/* Innermost first, as one says it: "element 3 of ... in ...". */
	for (size_t i = depth; i-- > 0;) {
		char name[128];

		name_step(&steps[i], name, sizeof(name));
		length = snprintf(buffer + used, size - used, "%s%s", i + 1 < depth ? " of " : "", name);
		if (length < 0 || (size_t)length >= size - used)
			return -ENOSPC;
		used += (size_t)length;
	}
	length = snprintf(buffer + used, size - used, " in %s", message_name);
	return length < 0 || (size_t)length >= size - used ? -ENOSPC : 0;
}
