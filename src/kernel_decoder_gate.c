/* The decoder's part for the owner gate (kernel_owners.c): its sets and
 * chains checked against the layout, owner_check's rules read for the
 * levels they serve, and the owned ports and groups collected. Called by
 * kernel_decoder.c for every object of the managed table it does not know
 * itself; pure, like it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/expr.h>
#include "cgroup.h"
#include "kernel_internal.h"
#include "util.h"

#define RULE_TEXT_SIZE 1024
/* owner_check ends with the refusals, tcp's then udp's. */
#define REFUSAL_COUNT PROTOCOL_COUNT

/* An owned port as dumped, before the owners are interned in the state's
 * final mapping (the record of the maps may replace it during the read). */
struct raw_owned_port {
	enum protocol protocol;
	uint16_t port;
	char *text;
};

struct gate_decoder {
	struct nftnl_chain *expected_input;
	char expected_gate_rule[PROTOCOL_COUNT][RULE_TEXT_SIZE];
	char expected_refusal[REFUSAL_COUNT][RULE_TEXT_SIZE];
	unsigned int rules_seen[GATE_CHAIN_COUNT];
	/* owner_check's accept rules so far: the last level and protocol
	 * seen, to check their order (levels ascending, tcp before udp). */
	unsigned int last_level;
	int last_protocol;
	unsigned int refusals_seen;
	bool wanted[2][PROTOCOL_COUNT];
	struct raw_owned_port *owned;
	size_t owned_count;
	size_t owned_capacity;
	struct owner_element *elements;
	size_t element_count;
	size_t element_capacity;
	/* Elements that are not of the layout's shape were seen. */
	bool owned_altered[PROTOCOL_COUNT];
	bool owner_altered[PROTOCOL_COUNT];
};

/* Which gate set a name is: kind 0 owned, 1 owners. */
static bool find_gate_set(const char *name, int *ret_kind, enum protocol *ret_protocol)
{
	for (int i = 0; name && i < PROTOCOL_COUNT; i++) {
		if (!strcmp(name, owned_set_name((enum protocol)i)) || !strcmp(name, owner_set_name((enum protocol)i))) {
			*ret_kind = strcmp(name, owned_set_name((enum protocol)i)) ? 1 : 0;
			*ret_protocol = (enum protocol)i;
			return true;
		}
	}
	return false;
}

static bool find_gate_chain(const char *name, enum gate_chain *ret_chain)
{
	for (int i = 0; name && i < GATE_CHAIN_COUNT; i++) {
		if (!strcmp(name, gate_chain_name((enum gate_chain)i))) {
			*ret_chain = (enum gate_chain)i;
			return true;
		}
	}
	return false;
}

static struct object_state *set_object(struct table_state *state, int kind, enum protocol protocol)
{
	return kind ? &state->owner_sets[protocol] : &state->owned_sets[protocol];
}

/* The owner gate as a whole: all of it as the layout says, none of it
 * (a mapping without owners), or anything else. */
enum object_status gate_status(const struct table_state *state)
{
	size_t ok = 0, missing = 0;

	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		ok += (state->owned_sets[i].status == OBJECT_OK) + (state->owner_sets[i].status == OBJECT_OK);
		missing += (state->owned_sets[i].status == OBJECT_MISSING) +
			   (state->owner_sets[i].status == OBJECT_MISSING);
	}
	for (int i = 0; i < GATE_CHAIN_COUNT; i++) {
		ok += state->gate_chains[i].status == OBJECT_OK;
		missing += state->gate_chains[i].status == OBJECT_MISSING;
	}
	if (ok == 2 * PROTOCOL_COUNT + GATE_CHAIN_COUNT)
		return OBJECT_OK;
	return missing == 2 * PROTOCOL_COUNT + GATE_CHAIN_COUNT ? OBJECT_MISSING : OBJECT_ALTERED;
}

bool gate_is_chain(const char *name)
{
	enum gate_chain chain;

	return find_gate_chain(name, &chain);
}

int gate_decoder_new(struct gate_decoder **ret_decoder)
{
	struct gate_decoder *decoder = calloc(1, sizeof(*decoder));
	int r = 0;

	if (!decoder)
		return -ENOMEM;
	decoder->last_protocol = -1;
	decoder->expected_input = layout_owner_chain(true);
	if (!decoder->expected_input)
		r = -ENOMEM;
	for (int i = 0; r >= 0 && i < PROTOCOL_COUNT; i++) {
		struct nftnl_rule *gate = layout_gate_rule((enum protocol)i, 0, true);
		struct nftnl_rule *refusal = layout_refusal_rule((enum protocol)i);

		if (!gate || !refusal)
			r = -ENOMEM;
		if (r >= 0)
			r = layout_rule_text(gate, decoder->expected_gate_rule[i], RULE_TEXT_SIZE);
		if (r >= 0)
			r = layout_rule_text(refusal, decoder->expected_refusal[i], RULE_TEXT_SIZE);
		nftnl_rule_free(gate);
		nftnl_rule_free(refusal);
	}
	if (r < 0) {
		gate_decoder_free(decoder);
		return r;
	}
	*ret_decoder = decoder;
	return 0;
}

void gate_decoder_free(struct gate_decoder *decoder)
{
	if (!decoder)
		return;
	nftnl_chain_free(decoder->expected_input);
	for (size_t i = 0; i < decoder->owned_count; i++)
		free(decoder->owned[i].text);
	free(decoder->owned);
	free(decoder->elements);
	free(decoder);
}

/* The input chain as the layout has it; owner_check a regular chain. */
static bool chain_matches(const struct gate_decoder *decoder, const struct nftnl_chain *chain, enum gate_chain which)
{
	const struct nftnl_chain *expected = decoder->expected_input;
	const char *type = nftnl_chain_get_str(chain, NFTNL_CHAIN_TYPE);

	if (nftnl_chain_is_set(chain, NFTNL_CHAIN_DEV) || nftnl_chain_is_set(chain, NFTNL_CHAIN_DEVICES) ||
	    nftnl_chain_is_set(chain, NFTNL_CHAIN_USERDATA))
		return false;
	if (which == GATE_CHAIN_OWNER_CHECK)
		return !nftnl_chain_is_set(chain, NFTNL_CHAIN_HOOKNUM) && !nftnl_chain_get_u32(chain, NFTNL_CHAIN_FLAGS);
	return nftnl_chain_is_set(chain, NFTNL_CHAIN_HOOKNUM) &&
	       nftnl_chain_get_u32(chain, NFTNL_CHAIN_HOOKNUM) == nftnl_chain_get_u32(expected, NFTNL_CHAIN_HOOKNUM) &&
	       type && !strcmp(type, nftnl_chain_get_str(expected, NFTNL_CHAIN_TYPE)) &&
	       nftnl_chain_get_s32(chain, NFTNL_CHAIN_PRIO) == nftnl_chain_get_s32(expected, NFTNL_CHAIN_PRIO) &&
	       nftnl_chain_get_u32(chain, NFTNL_CHAIN_POLICY) == nftnl_chain_get_u32(expected, NFTNL_CHAIN_POLICY) &&
	       !(nftnl_chain_get_u32(chain, NFTNL_CHAIN_FLAGS) & ~(uint32_t)NFT_CHAIN_BASE);
}

bool gate_decoder_chain(struct gate_decoder *decoder, struct table_state *state, const struct nftnl_chain *chain)
{
	enum gate_chain which;

	if (!find_gate_chain(nftnl_chain_get_str(chain, NFTNL_CHAIN_NAME), &which))
		return false;
	object_mark_found(&state->gate_chains[which]);
	if (!chain_matches(decoder, chain, which))
		object_mark_altered(&state->gate_chains[which], "chain changed");
	return true;
}

static bool set_matches(const struct nftnl_set *set, int kind)
{
	struct nftnl_set *expected = kind ? layout_owner_set(PROTOCOL_TCP, 0) : layout_owned_set(PROTOCOL_TCP, 0);
	bool matches = expected != NULL;

	static const uint16_t compared[] = { NFTNL_SET_FLAGS, NFTNL_SET_KEY_TYPE, NFTNL_SET_KEY_LEN };
	for (size_t i = 0; matches && i < sizeof(compared) / sizeof(compared[0]); i++)
		matches = nftnl_set_get_u32(set, compared[i]) == nftnl_set_get_u32(expected, compared[i]);
	nftnl_set_free(expected);
	return matches && !nftnl_set_is_set(set, NFTNL_SET_DATA_TYPE) && !nftnl_set_is_set(set, NFTNL_SET_TIMEOUT) &&
	       !nftnl_set_is_set(set, NFTNL_SET_EXPR) && !nftnl_set_is_set(set, NFTNL_SET_EXPRESSIONS);
}

bool gate_decoder_set(struct gate_decoder *decoder, struct table_state *state, const char *name,
		      const struct nftnl_set *set)
{
	enum protocol protocol;
	int kind;

	(void)decoder;
	if (!find_gate_set(name, &kind, &protocol))
		return false;
	object_mark_found(set_object(state, kind, protocol));
	if (!set || !set_matches(set, kind))
		object_mark_altered(set_object(state, kind, protocol), "set type changed");
	return true;
}

/* A rule of owner_check in its place: accept rules of levels ascending
 * (tcp's then udp's of each level), then the refusals. */
static bool owner_check_rule(struct gate_decoder *decoder, struct table_state *state, struct nftnl_rule *rule,
			     const char *text)
{
	struct nftnl_expr_iter *iterator;
	struct nftnl_expr *expression;
	unsigned int level = 0;
	bool socket = false;

	if (decoder->refusals_seen < REFUSAL_COUNT &&
	    !strcmp(text, decoder->expected_refusal[decoder->refusals_seen])) {
		decoder->refusals_seen++;
		return true;
	}
	if (decoder->refusals_seen)
		return false;
	iterator = nftnl_expr_iter_create(rule);
	if (!iterator)
		return false;
	while ((expression = nftnl_expr_iter_next(iterator))) {
		if (!strcmp(nftnl_expr_get_str(expression, NFTNL_EXPR_NAME), "socket") &&
		    nftnl_expr_is_set(expression, NFTNL_EXPR_SOCKET_LEVEL)) {
			level = nftnl_expr_get_u32(expression, NFTNL_EXPR_SOCKET_LEVEL);
			socket = true;
		}
	}
	nftnl_expr_iter_destroy(iterator);
	if (!socket || level < 1 || level > CGROUP_MAX_LEVEL)
		return false;
	for (int protocol = 0; protocol < PROTOCOL_COUNT; protocol++) {
		struct nftnl_rule *expected = layout_owner_rule((enum protocol)protocol, level, 0, true);
		char expected_text[RULE_TEXT_SIZE];
		bool same = expected && layout_rule_text(expected, expected_text, sizeof(expected_text)) == 0 &&
			    !strcmp(text, expected_text);

		nftnl_rule_free(expected);
		if (!same)
			continue;
		/* tcp then udp at each level, levels ascending, each once. */
		if (protocol == PROTOCOL_TCP ? decoder->last_protocol == PROTOCOL_TCP || level <= decoder->last_level
					     : decoder->last_protocol != PROTOCOL_TCP || level != decoder->last_level)
			return false;
		decoder->last_level = level;
		decoder->last_protocol = protocol;
		if (protocol == PROTOCOL_UDP)
			state->owner_levels |= (level_set)1 << level;
		return true;
	}
	return false;
}

bool gate_decoder_rule(struct gate_decoder *decoder, struct table_state *state, const char *chain,
		       struct nftnl_rule *rule)
{
	char text[RULE_TEXT_SIZE];
	enum gate_chain which;
	unsigned int position;
	bool expected;

	if (!find_gate_chain(chain, &which))
		return false;
	position = decoder->rules_seen[which]++;
	expected = rule && !nftnl_rule_is_set(rule, NFTNL_RULE_USERDATA) &&
		   layout_rule_text(rule, text, sizeof(text)) == 0;
	if (expected && which == GATE_CHAIN_INPUT)
		expected = position < PROTOCOL_COUNT && !strcmp(text, decoder->expected_gate_rule[position]);
	else if (expected)
		expected = owner_check_rule(decoder, state, rule, text);
	if (!expected)
		object_mark_altered(&state->gate_chains[which], "unexpected rule found");
	return true;
}

void gate_decoder_finish_structure(struct gate_decoder *decoder, struct table_state *state)
{
	if (state->gate_chains[GATE_CHAIN_INPUT].status == OBJECT_OK && decoder->rules_seen[GATE_CHAIN_INPUT] < PROTOCOL_COUNT)
		object_mark_altered(&state->gate_chains[GATE_CHAIN_INPUT], "rule missing");
	/* An accept rule for tcp without its udp twin, or no refusals. */
	if (state->gate_chains[GATE_CHAIN_OWNER_CHECK].status == OBJECT_OK &&
	    (decoder->refusals_seen < REFUSAL_COUNT || decoder->last_protocol == PROTOCOL_TCP))
		object_mark_altered(&state->gate_chains[GATE_CHAIN_OWNER_CHECK], "rule missing");
	if (state->gate_chains[GATE_CHAIN_OWNER_CHECK].status != OBJECT_OK)
		state->owner_levels = 0;
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		decoder->wanted[0][i] = state->owned_sets[i].status == OBJECT_OK;
		decoder->wanted[1][i] = state->owner_sets[i].status == OBJECT_OK;
	}
}

bool gate_decoder_wants_elements(const struct gate_decoder *decoder, const char *name)
{
	enum protocol protocol;
	int kind;

	return find_gate_set(name, &kind, &protocol) && decoder->wanted[kind][protocol];
}

/* Owner texts are what the parser accepts: printable ASCII, no blanks, no
 * comment sign; anything else someone wrote into the table is not ours. */
static bool owner_text_valid(const char *text, size_t length)
{
	size_t prefix = strlen(OWNER_CGROUP_PREFIX);

	if (!length || length > OWNER_TEXT_MAX)
		return false;
	if (length > prefix && !memcmp(text, OWNER_CGROUP_PREFIX, prefix)) {
		text += prefix;
		length -= prefix;
	}
	for (size_t i = 0; i < length; i++) {
		if (text[i] <= ' ' || text[i] > '~' || text[i] == '#')
			return false;
	}
	return true;
}

static int add_owned(struct gate_decoder *decoder, enum protocol protocol, struct nftnl_set_elem *element)
{
	struct raw_owned_port *owned;
	const char *text;
	size_t length;
	uint16_t port;
	int r;

	if (layout_owned_element_parse(element, &port, &text, &length) < 0 || !owner_text_valid(text, length)) {
		decoder->owned_altered[protocol] = true;
		return 0;
	}
	r = ARRAY_GROW_ONE(decoder->owned, decoder->owned_count, decoder->owned_capacity, 16);
	if (r < 0)
		return r;
	owned = &decoder->owned[decoder->owned_count];
	owned->protocol = protocol;
	owned->port = port;
	owned->text = strndup(text, length);
	if (!owned->text)
		return -ENOMEM;
	decoder->owned_count++;
	return 0;
}

static int add_owner_element(struct gate_decoder *decoder, enum protocol protocol, struct nftnl_set_elem *element)
{
	struct owner_element parsed = { .protocol = protocol };
	int r;

	if (layout_owner_element_parse(element, &parsed.port, &parsed.id) < 0) {
		decoder->owner_altered[protocol] = true;
		return 0;
	}
	r = ARRAY_GROW_ONE(decoder->elements, decoder->element_count, decoder->element_capacity, 16);
	if (r < 0)
		return r;
	decoder->elements[decoder->element_count++] = parsed;
	return 0;
}

int gate_decoder_elements(struct gate_decoder *decoder, const char *name, bool readable, struct nftnl_set *set)
{
	struct nftnl_set_elems_iter *iterator;
	struct nftnl_set_elem *element;
	enum protocol protocol;
	int kind, r = 0;

	if (!find_gate_set(name, &kind, &protocol) || !decoder->wanted[kind][protocol])
		return 0;
	if (!readable) {
		(kind ? decoder->owner_altered : decoder->owned_altered)[protocol] = true;
		return 0;
	}
	iterator = nftnl_set_elems_iter_create(set);
	if (!iterator)
		return -ENOMEM;
	while (r >= 0 && (element = nftnl_set_elems_iter_next(iterator)))
		r = kind ? add_owner_element(decoder, protocol, element) : add_owned(decoder, protocol, element);
	nftnl_set_elems_iter_destroy(iterator);
	return r;
}

int gate_decoder_element_message(struct kernel_decoder_dump *dump, const struct nlmsghdr *nlh, const char *name,
				 bool readable)
{
	struct nftnl_set *set = nftnl_set_alloc();
	int r;

	if (!set) {
		dump->error = -ENOMEM;
		return MNL_CB_ERROR;
	}
	readable = readable && nftnl_set_elems_nlmsg_parse(nlh, set) == 0;
	r = gate_decoder_elements(kernel_decoder_gate(dump->decoder), name, readable, set);
	nftnl_set_free(set);
	if (r < 0) {
		dump->error = r;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int compare_raw_owned(const void *a, const void *b)
{
	const struct raw_owned_port *x = a, *y = b;

	if (x->protocol != y->protocol)
		return x->protocol < y->protocol ? -1 : 1;
	return x->port < y->port ? -1 : x->port > y->port;
}

static int compare_owner_elements(const void *a, const void *b)
{
	return owner_element_compare(a, b);
}

static bool is_owned(const struct table_state *state, enum protocol protocol, uint16_t port)
{
	const struct owned_port key = { .protocol = protocol, .port = port };
	size_t low = 0, high = state->owned_count;

	while (low < high) {
		size_t middle = low + (high - low) / 2;
		int order = owned_port_compare(&state->owned[middle], &key);

		if (!order)
			return true;
		if (order < 0)
			low = middle + 1;
		else
			high = middle;
	}
	return false;
}

/* Whether every map of protocol that exists was read: a scoped map the
 * reader did not read may hold the port. */
static bool maps_read(const struct table_state *state, enum protocol protocol)
{
	for (unsigned int map = (unsigned int)protocol; map < MAP_COUNT; map += PROTOCOL_COUNT) {
		if (state->maps[map].status == OBJECT_ALTERED ||
		    (map < PROTOCOL_COUNT && state->maps[map].status != OBJECT_OK))
			return false;
	}
	return true;
}

/* An owned port that no redirect has, or a group's element of a port not
 * owned: not something portredir writes (nft wrote it). The planner rebuilds the gate,
 * saying so, rather than deleting such elements without a change line. */
static void mark_strays(struct table_state *state)
{
	for (size_t i = 0; i < state->owned_count; i++) {
		/* A map not as the layout says is recreated, and its elements
		 * were not read: its ports are not strays. */
		if (maps_read(state, state->owned[i].protocol) &&
		    !mapping_find_port(state->mapping, state->owned[i].protocol, state->owned[i].port))
			object_mark_altered(&state->owned_sets[state->owned[i].protocol], "element of no redirect found");
	}
	for (size_t i = 0; i < state->owner_element_count; i++) {
		const struct owner_element *element = &state->owner_elements[i];

		if (!is_owned(state, element->protocol, element->port))
			object_mark_altered(&state->owner_sets[element->protocol], "element of no owned port found");
	}
}

/* Into the state, once its mapping is final: the owned ports with their
 * owners interned in it, and those owners on the redirects they own (what
 * show prints). A port twice (only a forged dump has that) alters the set. */
int gate_decoder_finish(struct gate_decoder *decoder, struct table_state *state)
{
	struct mapping *mapping = state->mapping;

	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		if (decoder->owned_altered[i])
			object_mark_altered(&state->owned_sets[i], "unexpected element found");
		if (decoder->owner_altered[i])
			object_mark_altered(&state->owner_sets[i], "unexpected element found");
	}
	/* qsort() of nothing may not be given NULL. */
	if (decoder->owned_count)
		qsort(decoder->owned, decoder->owned_count, sizeof(*decoder->owned), compare_raw_owned);
	if (decoder->element_count)
		qsort(decoder->elements, decoder->element_count, sizeof(*decoder->elements), compare_owner_elements);
	state->owned = calloc(decoder->owned_count ? decoder->owned_count : 1, sizeof(*state->owned));
	if (!state->owned)
		return -ENOMEM;
	for (size_t i = 0; i < decoder->owned_count; i++) {
		const struct raw_owned_port *raw = &decoder->owned[i];
		struct owned_port *owned = &state->owned[state->owned_count];
		size_t at;
		int r;

		if (state->owned_count && owned[-1].protocol == raw->protocol && owned[-1].port == raw->port) {
			object_mark_altered(&state->owned_sets[raw->protocol], "unexpected element found");
			continue;
		}
		owned->protocol = raw->protocol;
		owned->port = raw->port;
		r = mapping_intern_owner_text(mapping, raw->text, strlen(raw->text), &owned->owner);
		if (r < 0)
			return r;
		state->owned_count++;
		/* The gate works per port: the owner is that of the port's
		 * redirects in every scope. */
		for (at = mapping_first_of_port(mapping, raw->protocol, raw->port);
		     at < mapping->redirect_count && mapping->redirects[at].protocol == raw->protocol &&
		     mapping->redirects[at].port == raw->port;
		     at++)
			mapping->redirects[at].owner = owned->owner;
	}
	state->owner_elements = decoder->elements;
	state->owner_element_count = decoder->element_count;
	decoder->elements = NULL;
	decoder->element_count = 0;
	mark_strays(state);
	return 0;
}
