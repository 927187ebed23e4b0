/* Reads table inet portredir back from the kernel (and nothing else of
 * the ruleset) into a table_state: its mapping, and what differs from the
 * contract's layout. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <stdlib.h>
#include <string.h>
#include "kernel_internal.h"

#define RULE_TEXT_SIZE 1024
/* Each chain holds the tcp rule, then the udp rule. */
#define RULES_PER_CHAIN PROTOCOL_COUNT

/* The elements of one map, indexed by port: the kernel dumps a hash set in
 * no useful order, and a port-indexed table puts them in order in one
 * pass, where a sort of 65,535 redirects would cost more than parsing. */
struct element_table {
	enum protocol protocol;
	/* targets[port] is the target plus one; 0 means no element. */
	uint32_t *targets;
	size_t count;
	bool altered;
};

/* Turns dumped messages into a table_state. The reader feeds it what the
 * kernel sends; kernel_decode_dump() feeds it recorded replies, so that
 * the decoding can be tested and fuzzed without a socket. */
struct kernel_decoder {
	struct table_state *state;
	char expected_rule[PROTOCOL_COUNT][RULE_TEXT_SIZE];
	unsigned int rules_seen[CHAIN_COUNT];
	uint32_t table_use;
	/* Chains and named sets; anonymous sets apart (see finish_structure). */
	uint32_t objects_seen;
	uint32_t anonymous_sets_seen;
	/* The table, chain, set and rule dumps are over: the checks that
	 * need all of them have run, and the tables of the maps found are
	 * allocated. */
	bool structure_finished;
	struct element_table elements[PROTOCOL_COUNT];
	int error;
};

static void mark_altered(struct object_state *object, const char *reason)
{
	/* The first reason found is the one reported. */
	if (object->status == OBJECT_ALTERED)
		return;
	object->status = OBJECT_ALTERED;
	snprintf(object->reason, sizeof(object->reason), "%s", reason);
}

/* An object of the layout found: present, unless an earlier message of the
 * same name (which the kernel never sends, and a decoded dump may) found it
 * altered already. */
static void mark_found(struct object_state *object)
{
	if (object->status == OBJECT_MISSING)
		object->status = OBJECT_OK;
}

/* A chain or set in the managed table that the layout does not have. */
static void mark_foreign(struct object_state *table, const char *kind, const char *name)
{
	char reason[sizeof(table->reason)];

	snprintf(reason, sizeof(reason), "unexpected %s '%s' found", kind, name ? name : "");
	mark_altered(table, reason);
}

static int find_chain(const char *name, enum chain *ret_chain)
{
	if (!name)
		return -ENOENT;
	for (int i = 0; i < CHAIN_COUNT; i++) {
		if (!strcmp(name, chain_name((enum chain)i))) {
			*ret_chain = (enum chain)i;
			return 0;
		}
	}
	return -ENOENT;
}

static int find_map(const char *name, enum protocol *ret_protocol)
{
	if (!name)
		return -ENOENT;
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		if (!strcmp(name, map_name((enum protocol)i))) {
			*ret_protocol = (enum protocol)i;
			return 0;
		}
	}
	return -ENOENT;
}

/* libnftnl reads the family header of a message without checking that the
 * message has one; the kernel's always do. */
static bool has_family_header(const struct nlmsghdr *nlh)
{
	return mnl_nlmsg_get_payload_len(nlh) >= sizeof(struct nfgenmsg);
}

/* The kernel answers only for the table asked for; decoded messages are
 * checked all the same. */
static bool is_managed_table(uint32_t family, const char *name)
{
	return family == NFPROTO_INET && name && !strcmp(name, TABLE_NAME);
}

static int table_message(const struct nlmsghdr *nlh, void *data)
{
	struct kernel_decoder *reader = data;
	struct table_state *state = reader->state;
	struct nftnl_table *table = nftnl_table_alloc();

	if (!table) {
		reader->error = -ENOMEM;
		return MNL_CB_ERROR;
	}
	if (has_family_header(nlh) && nftnl_table_nlmsg_parse(nlh, table) == 0 &&
	    is_managed_table(nftnl_table_get_u32(table, NFTNL_TABLE_FAMILY), nftnl_table_get_str(table, NFTNL_TABLE_NAME))) {
		state->table_exists = true;
		mark_found(&state->table);
		reader->table_use = nftnl_table_get_u32(table, NFTNL_TABLE_USE);
		state->has_original_port_start =
			layout_table_original_port_start(table, &state->original_port_start) == 0;
		if (layout_table_id(table, &state->table_id) < 0)
			state->table_id = 0;
		/* Whether the flags are right is the planner's to say. */
		state->table_flags = nftnl_table_get_u32(table, NFTNL_TABLE_FLAGS);
		if (nftnl_table_is_set(table, NFTNL_TABLE_OWNER))
			state->table_owner = nftnl_table_get_u32(table, NFTNL_TABLE_OWNER);
	}
	nftnl_table_free(table);
	return MNL_CB_OK;
}

static bool chain_matches_layout(const struct nftnl_chain *chain, enum chain which)
{
	uint32_t hook = which == CHAIN_PREROUTING ? NF_INET_PRE_ROUTING : NF_INET_LOCAL_OUT;
	const char *type;

	if (!nftnl_chain_is_set(chain, NFTNL_CHAIN_HOOKNUM) ||
	    nftnl_chain_get_u32(chain, NFTNL_CHAIN_HOOKNUM) != hook)
		return false;
	type = nftnl_chain_get_str(chain, NFTNL_CHAIN_TYPE);
	if (!type || strcmp(type, "nat"))
		return false;
	if (nftnl_chain_get_s32(chain, NFTNL_CHAIN_PRIO) != -100 ||
	    nftnl_chain_get_u32(chain, NFTNL_CHAIN_POLICY) != NF_ACCEPT)
		return false;
	if (nftnl_chain_is_set(chain, NFTNL_CHAIN_DEV) || nftnl_chain_is_set(chain, NFTNL_CHAIN_DEVICES) ||
	    nftnl_chain_is_set(chain, NFTNL_CHAIN_USERDATA))
		return false;
	return !(nftnl_chain_get_u32(chain, NFTNL_CHAIN_FLAGS) & ~(uint32_t)NFT_CHAIN_BASE);
}

static int chain_message(const struct nlmsghdr *nlh, void *data)
{
	struct kernel_decoder *reader = data;
	struct table_state *state = reader->state;
	struct nftnl_chain *chain = nftnl_chain_alloc();
	enum chain which;
	const char *table;

	if (!chain) {
		reader->error = -ENOMEM;
		return MNL_CB_ERROR;
	}
	if (!has_family_header(nlh) || nftnl_chain_nlmsg_parse(nlh, chain) < 0)
		goto out;
	table = nftnl_chain_get_str(chain, NFTNL_CHAIN_TABLE);
	if (!is_managed_table(nftnl_chain_get_u32(chain, NFTNL_CHAIN_FAMILY), table))
		goto out;
	reader->objects_seen++;
	if (find_chain(nftnl_chain_get_str(chain, NFTNL_CHAIN_NAME), &which) < 0) {
		mark_foreign(&state->table, "chain", nftnl_chain_get_str(chain, NFTNL_CHAIN_NAME));
		goto out;
	}
	mark_found(&state->chains[which]);
	if (!chain_matches_layout(chain, which))
		mark_altered(&state->chains[which], "chain changed");
out:
	nftnl_chain_free(chain);
	return MNL_CB_OK;
}

/* libnftnl 1.2.4 reads the name of every expression (of a rule, a set or
 * an element) without checking that it is there: messages with an
 * expression without a name are not given to it. */
static int expression_attribute(const struct nlattr *attribute, void *data)
{
	bool *named = data;

	if (mnl_attr_get_type(attribute) == NFTA_EXPR_NAME && mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) == 0)
		*named = true;
	return MNL_CB_OK;
}

static bool expression_named(const struct nlattr *expression)
{
	bool named = false;

	return mnl_attr_parse_nested(expression, expression_attribute, &named) >= 0 && named;
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

/* A set's name and table, read without libnftnl, for a set it must not be
 * given. */
struct set_place {
	const char *table;
	const char *name;
	bool expressions_named;
};

static int set_place_attribute(const struct nlattr *attribute, void *data)
{
	struct set_place *place = data;

	switch (mnl_attr_get_type(attribute)) {
	case NFTA_SET_TABLE:
		if (mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) == 0)
			place->table = mnl_attr_get_str(attribute);
		break;
	case NFTA_SET_NAME:
		if (mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) == 0)
			place->name = mnl_attr_get_str(attribute);
		break;
	case NFTA_SET_EXPR:
		place->expressions_named &= expression_named(attribute);
		break;
	case NFTA_SET_EXPRESSIONS:
		place->expressions_named &= expressions_named(attribute);
		break;
	}
	return MNL_CB_OK;
}

/* A set libnftnl cannot be given: if it is in the managed table, it is a
 * foreign set, or one of the maps, and then not as the layout says. */
static void unreadable_set(struct kernel_decoder *reader, const struct nlmsghdr *nlh, const struct set_place *place)
{
	const struct nfgenmsg *header = mnl_nlmsg_get_payload(nlh);
	enum protocol protocol;

	if (!is_managed_table(header->nfgen_family, place->table))
		return;
	reader->objects_seen++;
	if (find_map(place->name, &protocol) < 0) {
		mark_foreign(&reader->state->table, "set", place->name);
		return;
	}
	mark_found(&reader->state->maps[protocol]);
	mark_altered(&reader->state->maps[protocol], "map type changed");
}

static bool map_matches_layout(const struct nftnl_set *set)
{
	return nftnl_set_get_u32(set, NFTNL_SET_FLAGS) == NFT_SET_MAP &&
	       nftnl_set_get_u32(set, NFTNL_SET_KEY_TYPE) == 13 &&
	       nftnl_set_get_u32(set, NFTNL_SET_KEY_LEN) == sizeof(uint16_t) &&
	       nftnl_set_get_u32(set, NFTNL_SET_DATA_TYPE) == 13 &&
	       nftnl_set_get_u32(set, NFTNL_SET_DATA_LEN) == sizeof(uint16_t) &&
	       !nftnl_set_is_set(set, NFTNL_SET_TIMEOUT) && !nftnl_set_is_set(set, NFTNL_SET_EXPRESSIONS);
}

/* The one expression of the layout's maps: a counter. Maps without it
 * were made before status counted connections. */
static bool map_has_counter(const struct nftnl_set *set)
{
	const struct nftnl_expr *expression;
	const char *name;

	if (!nftnl_set_is_set(set, NFTNL_SET_EXPR))
		return false;
	expression = nftnl_set_get(set, NFTNL_SET_EXPR);
	name = expression ? nftnl_expr_get_str(expression, NFTNL_EXPR_NAME) : NULL;
	return name && !strcmp(name, "counter");
}

static int set_message(const struct nlmsghdr *nlh, void *data)
{
	struct kernel_decoder *reader = data;
	struct table_state *state = reader->state;
	struct nftnl_set *set = nftnl_set_alloc();
	struct set_place place = { .expressions_named = true };
	enum protocol protocol;
	const char *table;

	if (!set) {
		reader->error = -ENOMEM;
		return MNL_CB_ERROR;
	}
	if (!has_family_header(nlh))
		goto out;
	mnl_attr_parse(nlh, sizeof(struct nfgenmsg), set_place_attribute, &place);
	if (!place.expressions_named) {
		unreadable_set(reader, nlh, &place);
		goto out;
	}
	if (nftnl_set_nlmsg_parse(nlh, set) < 0)
		goto out;
	table = nftnl_set_get_str(set, NFTNL_SET_TABLE);
	if (!is_managed_table(nftnl_set_get_u32(set, NFTNL_SET_FAMILY), table))
		goto out;
	/* Anonymous sets belong to rules ("tcp dport { 1, 2 }"); a foreign
	 * rule is found, and removed with its set, by the rule check. */
	if (nftnl_set_get_u32(set, NFTNL_SET_FLAGS) & NFT_SET_ANONYMOUS) {
		reader->anonymous_sets_seen++;
		goto out;
	}
	reader->objects_seen++;
	if (find_map(nftnl_set_get_str(set, NFTNL_SET_NAME), &protocol) < 0) {
		mark_foreign(&state->table, "set", nftnl_set_get_str(set, NFTNL_SET_NAME));
		goto out;
	}
	mark_found(&state->maps[protocol]);
	if (!map_matches_layout(set))
		mark_altered(&state->maps[protocol], "map type changed");
	else if (!map_has_counter(set))
		mark_altered(&state->maps[protocol], "counters missing");
out:
	nftnl_set_free(set);
	return MNL_CB_OK;
}

/* Where a rule is, read without libnftnl: a rule libnftnl cannot parse (an
 * expression newer than it, or a forged message) must still count as a
 * rule of the chain it is in. */
struct rule_place {
	const char *table;
	const char *chain;
	bool expressions_named;
};

static int rule_place_attribute(const struct nlattr *attribute, void *data)
{
	struct rule_place *place = data;

	switch (mnl_attr_get_type(attribute)) {
	case NFTA_RULE_TABLE:
		if (mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) == 0)
			place->table = mnl_attr_get_str(attribute);
		break;
	case NFTA_RULE_CHAIN:
		if (mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) == 0)
			place->chain = mnl_attr_get_str(attribute);
		break;
	case NFTA_RULE_EXPRESSIONS:
		place->expressions_named &= expressions_named(attribute);
		break;
	}
	return MNL_CB_OK;
}

static int rule_message(const struct nlmsghdr *nlh, void *data)
{
	struct kernel_decoder *reader = data;
	struct table_state *state = reader->state;
	struct rule_place place = { .expressions_named = true };
	const struct nfgenmsg *header = mnl_nlmsg_get_payload(nlh);
	struct nftnl_rule *rule = NULL;
	char text[RULE_TEXT_SIZE];
	unsigned int position;
	enum chain which;

	if (!has_family_header(nlh))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*header), rule_place_attribute, &place);
	if (!is_managed_table(header->nfgen_family, place.table))
		return MNL_CB_OK;
	/* Rules of foreign chains go with the table when it is recreated. */
	if (find_chain(place.chain, &which) < 0)
		return MNL_CB_OK;
	position = reader->rules_seen[which]++;
	rule = nftnl_rule_alloc();
	if (!rule) {
		reader->error = -ENOMEM;
		return MNL_CB_ERROR;
	}
	if (position >= RULES_PER_CHAIN || !place.expressions_named || nftnl_rule_nlmsg_parse(nlh, rule) < 0 ||
	    nftnl_rule_is_set(rule, NFTNL_RULE_USERDATA) || layout_rule_text(rule, text, sizeof(text)) < 0 ||
	    strcmp(text, reader->expected_rule[position]))
		mark_altered(&state->chains[which], "unexpected rule found");
	nftnl_rule_free(rule);
	return MNL_CB_OK;
}

/* What one element dump fills: the tables of the maps found, indexed by
 * protocol. The reader dumps each map on its own socket and fills only
 * that map's table (only); decoded dumps fill whichever map each message
 * names (only is PROTOCOL_COUNT). */
struct element_dump {
	struct element_table *tables;
	enum protocol only;
	int error;
};

/* Which map a message of elements is for, read without libnftnl, and
 * whether libnftnl 1.2.4 may be given its elements: their expressions
 * must have names, and their attribute types must be known, since it
 * stores each element's attributes in an array of NFTA_SET_ELEM_MAX + 1
 * entries but accepts types up to NFTA_SET_MAX, writing past the array
 * on the stack for the types in between (a newer kernel's, or a forged
 * message's). */
struct element_place {
	const char *table;
	const char *set;
	bool attributes_known;
};

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

static int element_place_attribute(const struct nlattr *attribute, void *data)
{
	struct element_place *place = data;

	switch (mnl_attr_get_type(attribute)) {
	case NFTA_SET_ELEM_LIST_TABLE:
		if (mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) == 0)
			place->table = mnl_attr_get_str(attribute);
		break;
	case NFTA_SET_ELEM_LIST_SET:
		if (mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) == 0)
			place->set = mnl_attr_get_str(attribute);
		break;
	case NFTA_SET_ELEM_LIST_ELEMENTS:
		if (mnl_attr_parse_nested(attribute, element_list_attribute, NULL) < 0)
			place->attributes_known = false;
		break;
	}
	return MNL_CB_OK;
}

static int element_message(const struct nlmsghdr *nlh, void *data)
{
	struct element_dump *dump = data;
	struct element_place place = { .attributes_known = true };
	const struct nfgenmsg *header = mnl_nlmsg_get_payload(nlh);
	struct nftnl_set_elems_iter *iterator = NULL;
	struct nftnl_set *set = NULL;
	struct element_table *table;
	struct nftnl_set_elem *element;
	enum protocol protocol;
	int r = MNL_CB_OK;

	if (!has_family_header(nlh))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*header), element_place_attribute, &place);
	/* Elements of another table or map than the one asked for are none
	 * of ours: the kernel sends none, and a decoded dump may. */
	if (!is_managed_table(header->nfgen_family, place.table) || find_map(place.set, &protocol) < 0 ||
	    (dump->only != PROTOCOL_COUNT && protocol != dump->only))
		return MNL_CB_OK;
	table = &dump->tables[protocol];
	if (!table->targets)
		return MNL_CB_OK;
	set = nftnl_set_alloc();
	if (!set) {
		dump->error = -ENOMEM;
		return MNL_CB_ERROR;
	}
	/* Elements portredir cannot read are not its elements: the map is
	 * recreated. */
	if (!place.attributes_known || nftnl_set_elems_nlmsg_parse(nlh, set) < 0) {
		table->altered = true;
		goto out;
	}
	iterator = nftnl_set_elems_iter_create(set);
	if (!iterator) {
		dump->error = -ENOMEM;
		r = MNL_CB_ERROR;
		goto out;
	}
	while ((element = nftnl_set_elems_iter_next(iterator))) {
		const void *key, *value;
		uint32_t key_length = 0, value_length = 0;
		uint16_t port, target;

		key = nftnl_set_elem_get(element, NFTNL_SET_ELEM_KEY, &key_length);
		value = nftnl_set_elem_get(element, NFTNL_SET_ELEM_DATA, &value_length);
		if (!key || !value || key_length != sizeof(port) || value_length != sizeof(target)) {
			table->altered = true;
			continue;
		}
		memcpy(&port, key, sizeof(port));
		memcpy(&target, value, sizeof(target));
		port = ntohs(port);
		if (!table->targets[port])
			table->count++;
		table->targets[port] = (uint32_t)ntohs(target) + 1;
	}
out:
	nftnl_set_elems_iter_destroy(iterator);
	nftnl_set_free(set);
	return r;
}

struct nlmsghdr *kernel_build_read_request(struct kernel *kernel, char *buffer, uint16_t type, uint16_t flags,
					   const char *set_name)
{
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buffer, type, NFPROTO_INET, flags,
						     kernel_next_sequence(kernel));

	switch (type) {
	case NFT_MSG_GETTABLE: {
		struct nftnl_table *table = nftnl_table_alloc();

		if (!table)
			return NULL;
		nftnl_table_set_str(table, NFTNL_TABLE_NAME, TABLE_NAME);
		nftnl_table_nlmsg_build_payload(nlh, table);
		nftnl_table_free(table);
		break;
	}
	case NFT_MSG_GETCHAIN: {
		struct nftnl_chain *chain = nftnl_chain_alloc();

		if (!chain)
			return NULL;
		nftnl_chain_set_str(chain, NFTNL_CHAIN_TABLE, TABLE_NAME);
		nftnl_chain_nlmsg_build_payload(nlh, chain);
		nftnl_chain_free(chain);
		break;
	}
	case NFT_MSG_GETRULE: {
		struct nftnl_rule *rule = nftnl_rule_alloc();

		if (!rule)
			return NULL;
		nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, TABLE_NAME);
		nftnl_rule_nlmsg_build_payload(nlh, rule);
		nftnl_rule_free(rule);
		break;
	}
	case NFT_MSG_GETSET:
	case NFT_MSG_GETSETELEM: {
		struct nftnl_set *set = nftnl_set_alloc();

		if (!set)
			return NULL;
		nftnl_set_set_str(set, NFTNL_SET_TABLE, TABLE_NAME);
		if (set_name) {
			nftnl_set_set_str(set, NFTNL_SET_NAME, set_name);
			nftnl_set_elems_nlmsg_build_payload(nlh, set);
		} else {
			nftnl_set_nlmsg_build_payload(nlh, set);
		}
		nftnl_set_free(set);
		break;
	}
	}
	return nlh;
}

static int dump_elements(struct kernel *kernel, struct element_table *tables, enum protocol protocol)
{
	struct element_dump dump = { .tables = tables, .only = protocol };
	/* Zeroed: libmnl 1.0.4 leaves attribute padding as it finds it. */
	char buffer[KERNEL_REQUEST_BUFFER_SIZE] = { 0 };
	struct nlmsghdr *nlh;
	int r;

	nlh = kernel_build_read_request(kernel, buffer, NFT_MSG_GETSETELEM, NLM_F_DUMP, map_name(protocol));
	if (!nlh)
		return -ENOMEM;
	r = kernel_dump(kernel, nlh, element_message, &dump);
	return dump.error ? dump.error : r;
}

struct element_thread {
	struct kernel *kernel;
	struct element_table *tables;
	int result;
};

static void *element_thread_main(void *data)
{
	struct element_thread *thread = data;

	thread->result = dump_elements(thread->kernel, thread->tables, PROTOCOL_UDP);
	return NULL;
}

/* Dumping a map costs the kernel more than the dump's size suggests: each
 * round of a dump walks the hash table again from its start. The two maps
 * are dumped at the same time, on two sockets, so that two cores share it;
 * each dump fills only its own map's table. Either dump failing fails the
 * read. */
static int dump_maps(struct kernel *kernel, struct element_table *tables)
{
	struct element_thread thread = { .tables = tables };
	struct kernel_error ignored;
	pthread_t udp;
	bool threaded = false;
	int r = 0;

	if (tables[PROTOCOL_TCP].targets && tables[PROTOCOL_UDP].targets &&
	    kernel_open(&thread.kernel, &ignored) == 0) {
		if (pthread_create(&udp, NULL, element_thread_main, &thread) == 0)
			threaded = true;
		else
			kernel_close(thread.kernel);
	}
	if (tables[PROTOCOL_TCP].targets)
		r = dump_elements(kernel, tables, PROTOCOL_TCP);
	if (threaded) {
		pthread_join(udp, NULL);
		kernel_add_statistics(kernel, thread.kernel);
		kernel_close(thread.kernel);
		if (r >= 0)
			r = thread.result;
	} else if (r >= 0 && tables[PROTOCOL_UDP].targets) {
		r = dump_elements(kernel, tables, PROTOCOL_UDP);
	}
	return r;
}

/* Turns the port-indexed tables into the state's mapping, sorted by
 * construction. */
static int collect_elements(struct table_state *state, const struct element_table *tables)
{
	if (mapping_reserve(state->mapping, tables[PROTOCOL_TCP].count + tables[PROTOCOL_UDP].count) < 0)
		return -ENOMEM;
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		const struct element_table *table = &tables[i];

		if (!table->targets)
			continue;
		if (table->altered)
			mark_altered(&state->maps[i], "unexpected element found");
		for (uint32_t port = 0; port <= UINT16_MAX && table->count; port++) {
			const struct redirect redirect = {
				.protocol = (enum protocol)i,
				.port = (uint16_t)port,
				.target = (uint16_t)(table->targets[port] - 1),
			};

			if (table->targets[port] && mapping_add_redirect(state->mapping, &redirect) < 0)
				return -ENOMEM;
		}
	}
	return 0;
}

static int dump(struct kernel *kernel, struct kernel_decoder *reader, uint16_t type, uint16_t flags,
		mnl_cb_t callback)
{
	/* Zeroed: libmnl 1.0.4 leaves attribute padding as it finds it. */
	char buffer[KERNEL_REQUEST_BUFFER_SIZE] = { 0 };
	struct nlmsghdr *nlh;
	int r;

	nlh = kernel_build_read_request(kernel, buffer, type, flags, NULL);
	if (!nlh)
		return -ENOMEM;
	r = kernel_dump(kernel, nlh, callback, reader);
	return reader->error ? reader->error : r;
}

/* The checks that need every chain, set and rule, once they are all
 * decoded; then the tables for the elements of the maps found. */
static int finish_structure(struct kernel_decoder *reader)
{
	struct table_state *state = reader->state;

	if (reader->structure_finished)
		return 0;
	reader->structure_finished = true;
	if (!state->table_exists)
		return 0;
	for (int i = 0; i < CHAIN_COUNT; i++) {
		if (state->chains[i].status == OBJECT_OK && reader->rules_seen[i] < RULES_PER_CHAIN)
			mark_altered(&state->chains[i], "rule missing");
	}
	/* Flowtables and stateful objects (counters, quotas) have no dump
	 * here; the table's use count reveals them. Whether it counts the
	 * anonymous sets of rules depends on the kernel (6.18 does not), and
	 * a foreign rule's set is not a foreign object of the table: either
	 * count is right. */
	if (reader->table_use != reader->objects_seen &&
	    reader->table_use != reader->objects_seen + reader->anonymous_sets_seen)
		mark_altered(&state->table, "unexpected objects found");
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		if (state->maps[i].status != OBJECT_OK)
			continue;
		reader->elements[i].targets = calloc((size_t)UINT16_MAX + 1, sizeof(*reader->elements[i].targets));
		if (!reader->elements[i].targets)
			return -ENOMEM;
	}
	return 0;
}

/* Whether the table is exactly the contract's layout, as far as read:
 * then nothing but a commit can change its maps (struct kernel_cache). */
static bool table_is_layout(const struct table_state *state)
{
	if (!state->table_exists || state->table.status != OBJECT_OK)
		return false;
	for (int i = 0; i < CHAIN_COUNT; i++) {
		if (state->chains[i].status != OBJECT_OK)
			return false;
	}
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		if (state->maps[i].status != OBJECT_OK)
			return false;
	}
	return true;
}

/* Takes the elements from the cache when it holds them for this table at
 * this generation; the caller checks afterwards that the generation did
 * not move during the read. */
static bool use_cached_elements(struct kernel *kernel, struct table_state *state, uint32_t generation)
{
	struct mapping *mapping;

	if (!kernel->cache || !state->table_id || !table_is_layout(state) ||
	    kernel->cache->lookup(state->table_id, generation, &mapping) < 0)
		return false;
	mapping_free(state->mapping);
	state->mapping = mapping;
	state->elements_cached = true;
	return true;
}

/* One pass over the table's objects, started at generation. Returns -EINTR
 * when a dump was interrupted by a concurrent change. */
static int read_once(struct kernel *kernel, struct kernel_decoder *reader, bool with_elements,
		     uint32_t generation, struct kernel_error *error)
{
	int r;

	snprintf(error->object, sizeof(error->object), "table " TABLE_FAMILY_NAME " " TABLE_NAME);
	/* NLM_F_ACK ends a plain GET with an acknowledgement, as a dump ends
	 * with NLMSG_DONE. */
	r = dump(kernel, reader, NFT_MSG_GETTABLE, NLM_F_ACK, table_message);
	if (r == -ENOENT)
		return 0;
	/* Without the other dumps there is nothing to check them against. */
	if (!with_elements)
		reader->structure_finished = true;
	if (r < 0 || !with_elements)
		return r;
	r = dump(kernel, reader, NFT_MSG_GETCHAIN, NLM_F_DUMP, chain_message);
	if (r < 0)
		return r;
	r = dump(kernel, reader, NFT_MSG_GETSET, NLM_F_DUMP, set_message);
	if (r < 0)
		return r;
	r = dump(kernel, reader, NFT_MSG_GETRULE, NLM_F_DUMP, rule_message);
	if (r < 0)
		return r;
	r = finish_structure(reader);
	if (r < 0)
		return r;
	if (use_cached_elements(kernel, reader->state, generation)) {
		error->object[0] = '\0';
		return 0;
	}
	snprintf(error->object, sizeof(error->object), "maps tcp_redirects and udp_redirects");
	r = dump_maps(kernel, reader->elements);
	if (r >= 0)
		error->object[0] = '\0';
	return r;
}

static int prepare_expected_rules(struct kernel_decoder *reader)
{
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		struct nftnl_rule *rule = layout_rule(CHAIN_PREROUTING, (enum protocol)i, 0, true);
		int r;

		if (!rule)
			return -ENOMEM;
		r = layout_rule_text(rule, reader->expected_rule[i], sizeof(reader->expected_rule[i]));
		nftnl_rule_free(rule);
		if (r < 0)
			return r;
	}
	return 0;
}

int kernel_decoder_new(struct kernel_decoder **ret_decoder)
{
	struct kernel_decoder *decoder = calloc(1, sizeof(*decoder));
	int r;

	if (!decoder)
		return -ENOMEM;
	for (int i = 0; i < PROTOCOL_COUNT; i++)
		decoder->elements[i].protocol = (enum protocol)i;
	decoder->state = table_state_new();
	if (!decoder->state) {
		r = -ENOMEM;
		goto fail;
	}
	r = prepare_expected_rules(decoder);
	if (r < 0)
		goto fail;
	*ret_decoder = decoder;
	return 0;
fail:
	kernel_decoder_free(decoder);
	return r;
}

void kernel_decoder_free(struct kernel_decoder *decoder)
{
	if (!decoder)
		return;
	for (int i = 0; i < PROTOCOL_COUNT; i++)
		free(decoder->elements[i].targets);
	table_state_free(decoder->state);
	free(decoder);
}

/* Whether every message of buffer lies within it. libmnl 1.0.4 does not
 * check this well enough for a forged buffer: mnl_nlmsg_ok() compares the
 * length as an int, so that a message claiming 2 GiB or more passes, and
 * mnl_cb_run() then walks off the buffer. The kernel sends no such thing;
 * a recorded or mutated dump may. */
static bool messages_fit(const void *buffer, size_t length)
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

int kernel_decode_dump(struct kernel_decoder *decoder, uint16_t type, const void *buffer, size_t length)
{
	struct element_dump elements = { .tables = decoder->elements, .only = PROTOCOL_COUNT };
	mnl_cb_t callback;
	void *data = decoder;
	char *copy;
	int r, error;

	switch (type) {
	case NFT_MSG_GETTABLE:
		callback = table_message;
		break;
	case NFT_MSG_GETCHAIN:
		callback = chain_message;
		break;
	case NFT_MSG_GETSET:
		callback = set_message;
		break;
	case NFT_MSG_GETRULE:
		callback = rule_message;
		break;
	case NFT_MSG_GETSETELEM:
		r = finish_structure(decoder);
		if (r < 0)
			return r;
		callback = element_message;
		data = &elements;
		break;
	default:
		return -EINVAL;
	}
	if (decoder->structure_finished && type != NFT_MSG_GETSETELEM)
		return -EINVAL;
	if (length > INT_MAX)
		return -EBADMSG;
	/* Decoded from a copy, aligned as a receive buffer is (messages are
	 * read in place, as structures) and followed by a NUL: libnftnl
	 * strdup()s string attributes having checked only that they are not
	 * empty, and a forged dump's last one may not end before the buffer
	 * does. (The kernel's strings always end in a NUL.) */
	copy = malloc(length + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, buffer, length);
	copy[length] = '\0';
	if (!messages_fit(copy, length)) {
		free(copy);
		return -EBADMSG;
	}
	/* Sequence number and port id 0: any message is taken, as it was
	 * recorded. */
	r = mnl_cb_run(copy, length, 0, 0, callback, data);
	error = errno;
	free(copy);
	if (decoder->error)
		return decoder->error;
	if (elements.error)
		return elements.error;
	if (r >= 0)
		return 0;
	/* An error message's code, as libmnl passed it on: any number at
	 * all in a forged one. */
	return error > 0 && error < 4096 ? -error : -EBADMSG;
}

int kernel_decoder_finish(struct kernel_decoder *decoder, struct table_state **ret_state)
{
	int r;

	r = finish_structure(decoder);
	if (r >= 0)
		r = collect_elements(decoder->state, decoder->elements);
	if (r < 0)
		return r;
	*ret_state = decoder->state;
	decoder->state = NULL;
	return 0;
}

int kernel_read_table(struct kernel *kernel, bool with_elements, struct table_state **ret_state,
		      struct kernel_error *error)
{
	uint32_t before, after;
	int r = -EAGAIN;

	for (int attempt = 0; attempt < KERNEL_MAX_ATTEMPTS; attempt++) {
		struct kernel_decoder *reader;
		struct table_state *state = NULL;

		r = kernel_decoder_new(&reader);
		if (r < 0)
			return r;
		snprintf(error->object, sizeof(error->object), "ruleset generation");
		r = kernel_generation(kernel, &before);
		if (r >= 0)
			r = read_once(kernel, reader, with_elements, before, error);
		if (r >= 0) {
			snprintf(error->object, sizeof(error->object), "ruleset generation");
			r = kernel_generation(kernel, &after);
		}
		if (r >= 0 && before == after) {
			r = kernel_decoder_finish(reader, &state);
			kernel_decoder_free(reader);
			if (r < 0)
				return r;
			error->object[0] = '\0';
			state->generation = before;
			/* Read whole at one generation: what the next run
			 * can take instead of a dump. */
			if (with_elements && !state->elements_cached && table_is_layout(state))
				kernel_record_elements(kernel, state->table_id, before, state->mapping);
			*ret_state = state;
			return 0;
		}
		kernel_decoder_free(reader);
		/* A dump interrupted or overrun, or a ruleset that changed
		 * between the dumps: read again. Anything else is final. */
		if (r < 0 && r != -EINTR && r != -ENOBUFS)
			return r;
		kernel->statistics.reads_repeated++;
		r = -EAGAIN;
	}
	return r;
}

struct kernel_read {
	pthread_t thread;
	bool threaded;
	struct kernel *kernel;
	bool with_elements;
	struct table_state *state;
	struct kernel_error error;
	int result;
};

static void *read_thread_main(void *data)
{
	struct kernel_read *read = data;

	read->result = kernel_read_table(read->kernel, read->with_elements, &read->state, &read->error);
	return NULL;
}

int kernel_read_table_begin(struct kernel *kernel, bool with_elements, struct kernel_read **ret_read)
{
	struct kernel_read *read = calloc(1, sizeof(*read));

	if (!read)
		return -ENOMEM;
	read->kernel = kernel;
	read->with_elements = with_elements;
	read->threaded = pthread_create(&read->thread, NULL, read_thread_main, read) == 0;
	/* Without a thread the caller just waits longer. */
	if (!read->threaded)
		read_thread_main(read);
	*ret_read = read;
	return 0;
}

int kernel_read_table_end(struct kernel_read *read, struct table_state **ret_state, struct kernel_error *error)
{
	int r;

	if (read->threaded)
		pthread_join(read->thread, NULL);
	r = read->result;
	if (error)
		*error = read->error;
	if (r >= 0 && ret_state)
		*ret_state = read->state;
	else
		table_state_free(read->state);
	free(read);
	return r;
}
