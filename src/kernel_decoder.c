/* The pure decoder of the managed table: dumped messages in, a table_state
 * out (its mapping, and what differs from the contract's layout), with no
 * socket. kernel_read.c feeds it what the kernel sends; the unit tests and
 * the fuzzer feed it recorded replies through kernel_decode_dump(). */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <libnftnl/common.h>
#include <stdlib.h>
#include <string.h>
#include "kernel_internal.h"
#include "util.h"

#define RULE_TEXT_SIZE 1024

struct kernel_decoder {
	struct table_state *state;
	/* The layout's objects, as the dumped ones are compared with them. */
	struct nftnl_chain *expected_chain[CHAIN_COUNT];
	struct nftnl_set *expected_map[MAP_COUNT];
	struct nftnl_set *expected_count_set[PROTOCOL_COUNT];
	/* The rule of each map (the same in both chains). */
	char expected_rule[MAP_COUNT][RULE_TEXT_SIZE];
	/* The maps whose rules each chain holds, in order: known once the
	 * sets are dumped, from the scoped maps found (chain_rule_maps()). */
	bool sequence_ready;
	unsigned int sequence[CHAIN_COUNT][MAP_COUNT];
	size_t sequence_length[CHAIN_COUNT];
	unsigned int rules_seen[CHAIN_COUNT];
	uint32_t table_use;
	/* Chains and named sets; anonymous sets apart (see
	 * kernel_decoder_finish_structure). */
	uint32_t objects_seen;
	uint32_t anonymous_sets_seen;
	/* The table, chain, set and rule dumps are over: the checks that
	 * need all of them have run, and the tables of the maps found are
	 * allocated. */
	bool structure_finished;
	struct element_table elements[PROTOCOL_COUNT];
	struct scoped_elements scoped[MAP_COUNT];
	/* The owner gate's objects (kernel_decoder_gate.c). */
	struct gate_decoder *gate;
};

/* A chain or set in the managed table that the layout does not have. */
static void mark_foreign(struct object_state *table, const char *kind, const char *name)
{
	char reason[sizeof(table->reason)];

	snprintf(reason, sizeof(reason), "unexpected %s '%s' found", kind, name ? name : "");
	object_mark_altered(table, reason);
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

static int find_map(const char *name, unsigned int *ret_map)
{
	if (!name)
		return -ENOENT;
	for (unsigned int i = 0; i < MAP_COUNT; i++) {
		if (!strcmp(name, map_name(i))) {
			*ret_map = i;
			return 0;
		}
	}
	return -ENOENT;
}

static int find_count_set(const char *name, enum protocol *ret_protocol)
{
	if (!name)
		return -ENOENT;
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		if (!strcmp(name, count_set_name((enum protocol)i))) {
			*ret_protocol = (enum protocol)i;
			return 0;
		}
	}
	return -ENOENT;
}

/* A scoped map found, even altered, is in use: its rule belongs in the
 * chains until it is deleted. */
static void prepare_sequence(struct kernel_decoder *decoder)
{
	bool in_use[MAP_COUNT];

	if (decoder->sequence_ready)
		return;
	decoder->sequence_ready = true;
	for (unsigned int i = 0; i < MAP_COUNT; i++)
		in_use[i] = decoder->state->maps[i].status != OBJECT_MISSING;
	for (int i = 0; i < CHAIN_COUNT; i++)
		decoder->sequence_length[i] = chain_rule_maps((enum chain)i, in_use, decoder->sequence[i]);
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

static int table_message(struct kernel_decoder_dump *dump, const struct nlmsghdr *nlh)
{
	struct kernel_decoder *decoder = dump->decoder;
	struct table_state *state = decoder->state;
	struct nftnl_table *table = nftnl_table_alloc();

	if (!table) {
		dump->error = -ENOMEM;
		return MNL_CB_ERROR;
	}
	if (has_family_header(nlh) && nftnl_table_nlmsg_parse(nlh, table) == 0 &&
	    is_managed_table(nftnl_table_get_u32(table, NFTNL_TABLE_FAMILY), nftnl_table_get_str(table, NFTNL_TABLE_NAME))) {
		state->table_exists = true;
		object_mark_found(&state->table);
		decoder->table_use = nftnl_table_get_u32(table, NFTNL_TABLE_USE);
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

static bool chain_matches_layout(const struct nftnl_chain *chain, const struct nftnl_chain *expected)
{
	const char *type = nftnl_chain_get_str(chain, NFTNL_CHAIN_TYPE);

	if (!nftnl_chain_is_set(chain, NFTNL_CHAIN_HOOKNUM) ||
	    nftnl_chain_get_u32(chain, NFTNL_CHAIN_HOOKNUM) != nftnl_chain_get_u32(expected, NFTNL_CHAIN_HOOKNUM))
		return false;
	if (!type || strcmp(type, nftnl_chain_get_str(expected, NFTNL_CHAIN_TYPE)))
		return false;
	if (nftnl_chain_get_s32(chain, NFTNL_CHAIN_PRIO) != nftnl_chain_get_s32(expected, NFTNL_CHAIN_PRIO) ||
	    nftnl_chain_get_u32(chain, NFTNL_CHAIN_POLICY) != nftnl_chain_get_u32(expected, NFTNL_CHAIN_POLICY))
		return false;
	if (nftnl_chain_is_set(chain, NFTNL_CHAIN_DEV) || nftnl_chain_is_set(chain, NFTNL_CHAIN_DEVICES) ||
	    nftnl_chain_is_set(chain, NFTNL_CHAIN_USERDATA))
		return false;
	/* The kernel marks every chain with a hook as a base chain. */
	return !(nftnl_chain_get_u32(chain, NFTNL_CHAIN_FLAGS) & ~(uint32_t)NFT_CHAIN_BASE);
}

static int chain_message(struct kernel_decoder_dump *dump, const struct nlmsghdr *nlh)
{
	struct kernel_decoder *decoder = dump->decoder;
	struct table_state *state = decoder->state;
	struct nftnl_chain *chain = nftnl_chain_alloc();
	enum chain which;
	const char *table;

	if (!chain) {
		dump->error = -ENOMEM;
		return MNL_CB_ERROR;
	}
	if (!has_family_header(nlh) || nftnl_chain_nlmsg_parse(nlh, chain) < 0)
		goto out;
	table = nftnl_chain_get_str(chain, NFTNL_CHAIN_TABLE);
	if (!is_managed_table(nftnl_chain_get_u32(chain, NFTNL_CHAIN_FAMILY), table))
		goto out;
	decoder->objects_seen++;
	if (find_chain(nftnl_chain_get_str(chain, NFTNL_CHAIN_NAME), &which) < 0) {
		if (!gate_decoder_chain(decoder->gate, state, chain))
			mark_foreign(&state->table, "chain", nftnl_chain_get_str(chain, NFTNL_CHAIN_NAME));
		goto out;
	}
	object_mark_found(&state->chains[which]);
	if (!chain_matches_layout(chain, decoder->expected_chain[which]))
		object_mark_altered(&state->chains[which], "chain changed");
out:
	nftnl_chain_free(chain);
	return MNL_CB_OK;
}

/* Where a set, rule or list of elements is, read without libnftnl, and
 * whether libnftnl may be given the message (kernel_libnftnl_may_parse()):
 * every such message names its table in attribute 1 and its set or chain
 * in attribute 2. */
_Static_assert(NFTA_SET_TABLE == 1 && NFTA_RULE_TABLE == 1 && NFTA_SET_ELEM_LIST_TABLE == 1 &&
		       NFTA_SET_NAME == 2 && NFTA_RULE_CHAIN == 2 && NFTA_SET_ELEM_LIST_SET == 2,
	       "table and name are attributes 1 and 2");
#define PLACE_TABLE 1
#define PLACE_NAME 2

struct object_place {
	uint16_t type;
	const char *table;
	const char *name;
	bool readable;
};

static int place_attribute(const struct nlattr *attribute, void *data)
{
	struct object_place *place = data;

	switch (mnl_attr_get_type(attribute)) {
	case PLACE_TABLE:
		if (mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) == 0)
			place->table = mnl_attr_get_str(attribute);
		break;
	case PLACE_NAME:
		if (mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) == 0)
			place->name = mnl_attr_get_str(attribute);
		break;
	default:
		if (!kernel_libnftnl_may_parse(place->type, attribute))
			place->readable = false;
	}
	return MNL_CB_OK;
}

/* A message of a dump of type; the caller has checked that it has a
 * family header. */
static struct object_place read_place(const struct nlmsghdr *nlh, uint16_t type)
{
	struct object_place place = { .type = type, .readable = true };

	mnl_attr_parse(nlh, sizeof(struct nfgenmsg), place_attribute, &place);
	return place;
}

/* A set libnftnl cannot be given: if it is in the managed table, it is a
 * foreign set, or one of the maps, and then not as the layout says. */
static void unreadable_set(struct kernel_decoder *decoder, const struct nlmsghdr *nlh, const struct object_place *place)
{
	const struct nfgenmsg *header = mnl_nlmsg_get_payload(nlh);
	enum protocol protocol;
	unsigned int map;

	if (!is_managed_table(header->nfgen_family, place->table))
		return;
	decoder->objects_seen++;
	if (find_count_set(place->name, &protocol) == 0) {
		object_mark_found(&decoder->state->count_sets[protocol]);
		object_mark_altered(&decoder->state->count_sets[protocol], "set type changed");
		return;
	}
	if (find_map(place->name, &map) < 0) {
		if (!gate_decoder_set(decoder->gate, decoder->state, place->name, NULL))
			mark_foreign(&decoder->state->table, "set", place->name);
		return;
	}
	object_mark_found(&decoder->state->maps[map]);
	object_mark_altered(&decoder->state->maps[map], "map type changed");
}

/* Maps and count sets alike: the same flags, key and data, no timeout,
 * no expressions. */
static bool set_matches_layout(const struct nftnl_set *set, const struct nftnl_set *expected)
{
	static const uint16_t compared[] = {
		NFTNL_SET_FLAGS, NFTNL_SET_KEY_TYPE, NFTNL_SET_KEY_LEN, NFTNL_SET_DATA_TYPE, NFTNL_SET_DATA_LEN,
	};

	for (size_t i = 0; i < sizeof(compared) / sizeof(compared[0]); i++) {
		if (nftnl_set_get_u32(set, compared[i]) != nftnl_set_get_u32(expected, compared[i]))
			return false;
	}
	return !nftnl_set_is_set(set, NFTNL_SET_TIMEOUT) && !nftnl_set_is_set(set, NFTNL_SET_EXPR) &&
	       !nftnl_set_is_set(set, NFTNL_SET_EXPRESSIONS);
}

static int set_message(struct kernel_decoder_dump *dump, const struct nlmsghdr *nlh)
{
	struct kernel_decoder *decoder = dump->decoder;
	struct table_state *state = decoder->state;
	struct nftnl_set *set = nftnl_set_alloc();
	struct object_place place;
	enum protocol protocol;
	unsigned int map;
	const char *table;

	if (!set) {
		dump->error = -ENOMEM;
		return MNL_CB_ERROR;
	}
	if (!has_family_header(nlh))
		goto out;
	place = read_place(nlh, NFT_MSG_GETSET);
	if (!place.readable) {
		unreadable_set(decoder, nlh, &place);
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
		decoder->anonymous_sets_seen++;
		goto out;
	}
	decoder->objects_seen++;
	/* Its elements are the counts, which the packet path adds: only the
	 * set itself is the layout's business. */
	if (find_count_set(nftnl_set_get_str(set, NFTNL_SET_NAME), &protocol) == 0) {
		object_mark_found(&state->count_sets[protocol]);
		if (!set_matches_layout(set, decoder->expected_count_set[protocol]))
			object_mark_altered(&state->count_sets[protocol], "set type changed");
		goto out;
	}
	if (find_map(nftnl_set_get_str(set, NFTNL_SET_NAME), &map) < 0) {
		if (!gate_decoder_set(decoder->gate, state, nftnl_set_get_str(set, NFTNL_SET_NAME), set))
			mark_foreign(&state->table, "set", nftnl_set_get_str(set, NFTNL_SET_NAME));
		goto out;
	}
	object_mark_found(&state->maps[map]);
	if (!set_matches_layout(set, decoder->expected_map[map]))
		object_mark_altered(&state->maps[map], "map type changed");
out:
	nftnl_set_free(set);
	return MNL_CB_OK;
}

/* A rule libnftnl cannot parse (an expression newer than it, or a forged
 * message) still counts as a rule of the chain it is in. */
static int rule_message(struct kernel_decoder_dump *dump, const struct nlmsghdr *nlh)
{
	struct kernel_decoder *decoder = dump->decoder;
	struct table_state *state = decoder->state;
	const struct nfgenmsg *header = mnl_nlmsg_get_payload(nlh);
	struct nftnl_rule *rule = NULL;
	struct object_place place;
	char text[RULE_TEXT_SIZE];
	unsigned int position;
	enum chain which;

	if (!has_family_header(nlh))
		return MNL_CB_OK;
	place = read_place(nlh, NFT_MSG_GETRULE);
	if (!is_managed_table(header->nfgen_family, place.table))
		return MNL_CB_OK;
	rule = nftnl_rule_alloc();
	if (!rule) {
		dump->error = -ENOMEM;
		return MNL_CB_ERROR;
	}
	if (find_chain(place.name, &which) < 0) {
		/* The gate's rules are told by what they are; rules of foreign
		 * chains go with the table when it is recreated. */
		if (gate_is_chain(place.name))
			gate_decoder_rule(decoder->gate, state, place.name,
					  place.readable && nftnl_rule_nlmsg_parse(nlh, rule) == 0 ? rule : NULL);
		nftnl_rule_free(rule);
		return MNL_CB_OK;
	}
	prepare_sequence(decoder);
	position = decoder->rules_seen[which]++;
	if (position >= decoder->sequence_length[which] || !place.readable || nftnl_rule_nlmsg_parse(nlh, rule) < 0 ||
	    nftnl_rule_is_set(rule, NFTNL_RULE_USERDATA) || layout_rule_text(rule, text, sizeof(text)) < 0 ||
	    strcmp(text, decoder->expected_rule[decoder->sequence[which][position]]))
		object_mark_altered(&state->chains[which], "unexpected rule found");
	nftnl_rule_free(rule);
	return MNL_CB_OK;
}

/* Elements of another table or map than the one asked for are none of
 * ours: the kernel sends none, and a decoded dump may. */
static int element_message(struct kernel_decoder_dump *dump, const struct nlmsghdr *nlh)
{
	const struct nfgenmsg *header = mnl_nlmsg_get_payload(nlh);
	struct nftnl_set_elems_iter *iterator;
	struct element_table *table;
	struct object_place place;
	struct nftnl_set *set;
	unsigned int map;
	int r = MNL_CB_OK;

	if (!has_family_header(nlh))
		return MNL_CB_OK;
	place = read_place(nlh, NFT_MSG_GETSETELEM);
	if (!is_managed_table(header->nfgen_family, place.table))
		return MNL_CB_OK;
	if (find_map(place.name, &map) < 0) {
		if (dump->map == MAP_COUNT && gate_decoder_wants_elements(dump->decoder->gate, place.name))
			return gate_decoder_element_message(dump, nlh, place.name, place.readable);
		return MNL_CB_OK;
	}
	if (dump->map != MAP_COUNT && map != dump->map)
		return MNL_CB_OK;
	table = map < PROTOCOL_COUNT ? &dump->decoder->elements[map] : NULL;
	if (table ? !table->targets : !dump->decoder->scoped[map].wanted)
		return MNL_CB_OK;
	set = nftnl_set_alloc();
	if (!set) {
		dump->error = -ENOMEM;
		return MNL_CB_ERROR;
	}
	/* Elements portredir cannot read are not its elements: the map is
	 * recreated. */
	if (!place.readable || nftnl_set_elems_nlmsg_parse(nlh, set) < 0) {
		if (table)
			table->altered = true;
		else
			dump->decoder->scoped[map].altered = true;
		goto out;
	}
	iterator = nftnl_set_elems_iter_create(set);
	if (!iterator) {
		dump->error = -ENOMEM;
		r = MNL_CB_ERROR;
		goto out;
	}
	if (table) {
		decoder_add_elements(table, iterator);
	} else if (decoder_add_scoped_elements(&dump->decoder->scoped[map], map, iterator) < 0) {
		dump->error = -ENOMEM;
		r = MNL_CB_ERROR;
	}
	nftnl_set_elems_iter_destroy(iterator);
out:
	nftnl_set_free(set);
	return r;
}

int kernel_decoder_message(const struct nlmsghdr *nlh, void *data)
{
	struct kernel_decoder_dump *dump = data;

	switch (dump->type) {
	case NFT_MSG_GETTABLE:
		return table_message(dump, nlh);
	case NFT_MSG_GETCHAIN:
		return chain_message(dump, nlh);
	case NFT_MSG_GETSET:
		return set_message(dump, nlh);
	case NFT_MSG_GETRULE:
		return rule_message(dump, nlh);
	case NFT_MSG_GETSETELEM:
		return element_message(dump, nlh);
	default:
		dump->error = -EINVAL;
		return MNL_CB_ERROR;
	}
}

int kernel_decoder_finish_structure(struct kernel_decoder *decoder)
{
	struct table_state *state = decoder->state;

	if (decoder->structure_finished)
		return 0;
	decoder->structure_finished = true;
	if (!state->table_exists)
		return 0;
	prepare_sequence(decoder);
	for (int i = 0; i < CHAIN_COUNT; i++) {
		if (state->chains[i].status == OBJECT_OK && decoder->rules_seen[i] < decoder->sequence_length[i])
			object_mark_altered(&state->chains[i], "rule missing");
	}
	/* Flowtables and stateful objects (counters, quotas) have no dump
	 * here; the table's use count reveals them. Whether it counts the
	 * anonymous sets of rules depends on the kernel (6.18 does not), and
	 * a foreign rule's set is not a foreign object of the table: either
	 * count is right. */
	if (decoder->table_use != decoder->objects_seen &&
	    decoder->table_use != decoder->objects_seen + decoder->anonymous_sets_seen)
		object_mark_altered(&state->table, "unexpected objects found");
	gate_decoder_finish_structure(decoder->gate, state);
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		if (state->maps[i].status != OBJECT_OK)
			continue;
		decoder->elements[i].targets = calloc((size_t)UINT16_MAX + 1, sizeof(*decoder->elements[i].targets));
		if (!decoder->elements[i].targets)
			return -ENOMEM;
	}
	for (unsigned int i = PROTOCOL_COUNT; i < MAP_COUNT; i++)
		decoder->scoped[i].wanted = state->maps[i].status == OBJECT_OK;
	return 0;
}

void kernel_decoder_table_only(struct kernel_decoder *decoder)
{
	decoder->structure_finished = true;
}

bool kernel_decoder_wants_elements(const struct kernel_decoder *decoder, unsigned int map)
{
	if (map < PROTOCOL_COUNT)
		return decoder->elements[map].targets != NULL;
	return map < MAP_COUNT && decoder->scoped[map].wanted;
}

struct gate_decoder *kernel_decoder_gate(struct kernel_decoder *decoder)
{
	return decoder->gate;
}

bool kernel_decoder_wants_set_elements(const struct kernel_decoder *decoder, const char *set)
{
	return gate_decoder_wants_elements(decoder->gate, set);
}

struct table_state *kernel_decoder_state(struct kernel_decoder *decoder)
{
	return decoder->state;
}

bool table_state_is_layout(const struct table_state *state)
{
	if (!state->table_exists || state->table.status != OBJECT_OK)
		return false;
	for (int i = 0; i < CHAIN_COUNT; i++) {
		if (state->chains[i].status != OBJECT_OK)
			return false;
	}
	for (unsigned int i = 0; i < MAP_COUNT; i++) {
		if (state->maps[i].status == OBJECT_ALTERED || (i < PROTOCOL_COUNT && state->maps[i].status != OBJECT_OK))
			return false;
	}
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		if (state->count_sets[i].status != OBJECT_OK)
			return false;
	}
	return gate_status(state) != OBJECT_ALTERED;
}

static int prepare_expected_objects(struct kernel_decoder *decoder)
{
	for (int i = 0; i < CHAIN_COUNT; i++) {
		decoder->expected_chain[i] = layout_chain_as_dumped((enum chain)i);
		if (!decoder->expected_chain[i])
			return -ENOMEM;
	}
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		decoder->expected_count_set[i] = layout_count_set((enum protocol)i, 0);
		if (!decoder->expected_count_set[i])
			return -ENOMEM;
	}
	for (unsigned int i = 0; i < MAP_COUNT; i++) {
		struct nftnl_rule *rule;
		int r;

		decoder->expected_map[i] = layout_map(i, 0);
		if (!decoder->expected_map[i])
			return -ENOMEM;
		/* The rules of both chains are alike. */
		rule = layout_rule(CHAIN_PREROUTING, i, false, true);
		if (!rule)
			return -ENOMEM;
		r = layout_rule_text(rule, decoder->expected_rule[i], sizeof(decoder->expected_rule[i]));
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
	decoder->state = table_state_new();
	if (!decoder->state) {
		r = -ENOMEM;
		goto fail;
	}
	r = prepare_expected_objects(decoder);
	if (r >= 0)
		r = gate_decoder_new(&decoder->gate);
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
	for (int i = 0; i < CHAIN_COUNT; i++)
		nftnl_chain_free(decoder->expected_chain[i]);
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		nftnl_set_free(decoder->expected_count_set[i]);
		free(decoder->elements[i].targets);
	}
	for (unsigned int i = 0; i < MAP_COUNT; i++) {
		nftnl_set_free(decoder->expected_map[i]);
		free(decoder->scoped[i].redirects);
	}
	gate_decoder_free(decoder->gate);
	table_state_free(decoder->state);
	free(decoder);
}

int kernel_decoder_start_dump(struct kernel_decoder *decoder, uint16_t type, unsigned int map,
			      struct kernel_decoder_dump *ret_dump)
{
	int r;

	switch (type) {
	case NFT_MSG_GETTABLE:
	case NFT_MSG_GETCHAIN:
	case NFT_MSG_GETSET:
	case NFT_MSG_GETRULE:
		if (decoder->structure_finished)
			return -EINVAL;
		break;
	case NFT_MSG_GETSETELEM:
		r = kernel_decoder_finish_structure(decoder);
		if (r < 0)
			return r;
		break;
	default:
		return -EINVAL;
	}
	*ret_dump = (struct kernel_decoder_dump){ .decoder = decoder, .type = type, .map = map };
	return 0;
}

int kernel_decode_dump(struct kernel_decoder *decoder, uint16_t type, const void *buffer, size_t length)
{
	struct kernel_decoder_dump dump;
	char *copy;
	int r;

	r = kernel_decoder_start_dump(decoder, type, MAP_COUNT, &dump);
	if (r < 0)
		return r;
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
	/* Sequence number and port id 0: any message is taken, as it was
	 * recorded. */
	r = kernel_run_messages(copy, length, 0, 0, kernel_decoder_message, &dump);
	free(copy);
	if (dump.error)
		return dump.error;
	return r < 0 ? r : 0;
}

int kernel_decoder_finish(struct kernel_decoder *decoder, struct table_state **ret_state)
{
	int r;

	r = kernel_decoder_finish_structure(decoder);
	if (r >= 0)
		r = decoder_collect_elements(decoder->state, decoder->elements, decoder->scoped);
	if (r >= 0 && decoder->state->table_exists)
		r = gate_decoder_finish(decoder->gate, decoder->state);
	if (r < 0)
		return r;
	*ret_state = decoder->state;
	decoder->state = NULL;
	return 0;
}
