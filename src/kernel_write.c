/* Turns a plan into one nf_tables batch: the kernel applies all of it or
 * none of it. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <string.h>
#include "cgroup.h"
#include "fault.h"
#include "kernel_internal.h"

/* 28 bytes per element of a base map in the message: 2,048 keep the
 * element list nest below the 64 KiB an attribute length can describe.
 * A scoped map's key is up to 24 bytes (52 an element): 1,024. */
#define ELEMENTS_PER_MESSAGE 2048
#define SCOPED_ELEMENTS_PER_MESSAGE 1024
#define BYTES_PER_ELEMENT 32
#define BYTES_PER_OBJECT 1024

/* An owned port's element carries its owner's text. */
#define BYTES_PER_OWNED_ELEMENT (64 + OWNER_TEXT_MAX)

/* A set, chain or rule of the batch, consumed whatever happens; what
 * names it in errors. */
static int put_set(struct batch *batch, struct nftnl_set *set, uint16_t type, uint16_t flags, const char *what)
{
	struct nlmsghdr *nlh;
	int r;

	if (!set)
		return -ENOMEM;
	r = batch_add_message(batch, type, flags, what, &nlh);
	if (r >= 0)
		nftnl_set_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	return r < 0 ? r : batch_commit_message(batch);
}

static int put_chain(struct batch *batch, struct nftnl_chain *chain, uint16_t type, uint16_t flags,
		     const char *what)
{
	struct nlmsghdr *nlh;
	int r;

	if (!chain)
		return -ENOMEM;
	r = batch_add_message(batch, type, flags, what, &nlh);
	if (r >= 0)
		nftnl_chain_nlmsg_build_payload(nlh, chain);
	nftnl_chain_free(chain);
	return r < 0 ? r : batch_commit_message(batch);
}

static int put_rule(struct batch *batch, struct nftnl_rule *rule, uint16_t type, const char *what)
{
	struct nlmsghdr *nlh;
	int r;

	if (!rule)
		return -ENOMEM;
	r = batch_add_message(batch, type, type == NFT_MSG_NEWRULE ? NLM_F_CREATE | NLM_F_APPEND : 0, what, &nlh);
	if (r >= 0)
		nftnl_rule_nlmsg_build_payload(nlh, rule);
	nftnl_rule_free(rule);
	return r < 0 ? r : batch_commit_message(batch);
}

static int add_table(struct batch *batch, uint16_t type, uint16_t flags,
		     const unsigned int *original_port_start, uint64_t table_id, uint32_t table_flags)
{
	struct nftnl_table *table = layout_table(original_port_start, table_id, table_flags);
	struct nlmsghdr *nlh;
	int r;

	if (!table)
		return -ENOMEM;
	r = batch_add_message(batch, type, flags, "table " TABLE_FAMILY_NAME " " TABLE_NAME, &nlh);
	if (r < 0) {
		nftnl_table_free(table);
		return r;
	}
	if (type == NFT_MSG_DELTABLE)
		nftnl_table_unset(table, NFTNL_TABLE_FLAGS);
	nftnl_table_nlmsg_build_payload(nlh, table);
	nftnl_table_free(table);
	return batch_commit_message(batch);
}

/* A map (index: its map) or a count set (index: its protocol). */
static int add_set(struct batch *batch, unsigned int index, bool count_set, uint16_t type, uint16_t flags)
{
	char what[64];

	if (count_set) {
		snprintf(what, sizeof(what), "set %s", count_set_name((enum protocol)index));
		return put_set(batch, layout_count_set((enum protocol)index, LAYOUT_COUNT_SET_ID(index)), type, flags,
			       what);
	}
	snprintf(what, sizeof(what), "map %s", map_name(index));
	return put_set(batch, layout_map(index, LAYOUT_MAP_ID(index)), type, flags, what);
}
static int add_chain(struct batch *batch, enum chain chain, uint16_t type, uint16_t flags)
{
	char what[64];

	snprintf(what, sizeof(what), "chain %s", chain_name(chain));
	return put_chain(batch, layout_chain(chain), type, flags, what);
}
static int add_rule(struct batch *batch, enum chain chain, unsigned int map)
{
	char what[96];

	snprintf(what, sizeof(what), "%s rule of chain %s (fib, meta, payload, lookup, dynset, redir)",
		 map_name(map), chain_name(chain));
	return put_rule(batch, layout_rule(chain, map, true, false), NFT_MSG_NEWRULE, what);
}
/* The first of redirects[from..count) in map, or count. */
static size_t next_of_map(const struct redirect *redirects, size_t count, size_t from, unsigned int map)
{
	while (from < count && redirect_map(&redirects[from]) != map)
		from++;
	return from;
}

/* Adds or deletes the elements of one map among redirects (count of
 * them, all of its protocol), a message's worth at a time. */
static int add_elements(struct kernel *kernel, struct batch *batch, uint16_t type, unsigned int map,
			const struct redirect *redirects, size_t count)
{
	size_t per_message = map < PROTOCOL_COUNT ? ELEMENTS_PER_MESSAGE : SCOPED_ELEMENTS_PER_MESSAGE;
	size_t next = next_of_map(redirects, count, 0, map);

	while (next < count) {
		struct nftnl_set *set = nftnl_set_alloc();
		const struct redirect *first = NULL, *last = NULL;
		struct nlmsghdr *nlh;
		size_t taken = 0;
		char what[96];
		int r;

		if (!set)
			return -ENOMEM;
		nftnl_set_set_str(set, NFTNL_SET_TABLE, TABLE_NAME);
		nftnl_set_set_str(set, NFTNL_SET_NAME, map_name(map));
		nftnl_set_set_u32(set, NFTNL_SET_ID, LAYOUT_MAP_ID(map));
		for (size_t following; next < count && taken < per_message; next = following) {
			const struct redirect *redirect = &redirects[next];
			struct nftnl_set_elem *element;
			uint16_t target = htons(redirect->target);
			uint8_t key[LAYOUT_KEY_MAX];
			uint32_t key_length;
			bool message_ends;

			following = next_of_map(redirects, count, next + 1, map);
			message_ends = taken + 1 == per_message || following == count;

			if (layout_key(redirect, key, &key_length) < 0) {
				nftnl_set_free(set);
				return -EINVAL;
			}
			element = nftnl_set_elem_alloc();
			if (!element) {
				nftnl_set_free(set);
				return -ENOMEM;
			}
			nftnl_set_elem_set(element, NFTNL_SET_ELEM_KEY, key, key_length);
			if (type == NFT_MSG_NEWSETELEM && message_ends && fault_injected("bad-element")) {
				/* Data the map's type cannot hold: the kernel refuses
				 * this message in the middle of the batch. */
				const uint32_t wide = target;

				nftnl_set_elem_set(element, NFTNL_SET_ELEM_DATA, &wide, sizeof(wide));
			} else if (type == NFT_MSG_NEWSETELEM) {
				nftnl_set_elem_set(element, NFTNL_SET_ELEM_DATA, &target, sizeof(target));
			}
			nftnl_set_elem_add(set, element);
			if (!first)
				first = redirect;
			last = redirect;
			taken++;
		}
		snprintf(what, sizeof(what), "map %s (%s elements %u to %u)", map_name(map),
			 type == NFT_MSG_NEWSETELEM ? "adding" : "deleting", first->port, last->port);
		r = batch_add_message(batch, type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0, what, &nlh);
		if (r < 0) {
			nftnl_set_free(set);
			return r;
		}
		nftnl_set_elems_nlmsg_build_payload(nlh, set);
		nftnl_set_free(set);
		kernel->statistics.element_messages++;
		if (batch_commit_message(batch) < 0)
			return -EMSGSIZE;
	}
	return 0;
}

/* The gate's objects and rules: a set each, a chain each, and rules as
 * nft writes them (kernel_owners.c). what names them in errors. */
static int add_gate_set(struct batch *batch, bool owners, enum protocol protocol, uint16_t type, uint16_t flags)
{
	char what[64];

	snprintf(what, sizeof(what), "set %s", owners ? owner_set_name(protocol) : owned_set_name(protocol));
	return put_set(batch,
		       owners ? layout_owner_set(protocol, LAYOUT_OWNER_SET_ID(protocol))
			      : layout_owned_set(protocol, LAYOUT_OWNED_SET_ID(protocol)),
		       type, flags, what);
}
static int add_gate_chain(struct batch *batch, enum gate_chain chain, uint16_t type, uint16_t flags)
{
	char what[64];

	snprintf(what, sizeof(what), "chain %s", gate_chain_name(chain));
	return put_chain(batch, layout_owner_chain(chain == GATE_CHAIN_INPUT), type, flags, what);
}

/* A DELRULE that names only its chain deletes every rule of it. */
static int flush_owner_check(struct batch *batch)
{
	struct nftnl_rule *rule = nftnl_rule_alloc();

	if (rule) {
		nftnl_rule_set_u32(rule, NFTNL_RULE_FAMILY, NFPROTO_INET);
		nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, TABLE_NAME);
		nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, OWNER_CHECK_CHAIN_NAME);
	}
	return put_rule(batch, rule, NFT_MSG_DELRULE, "rules of chain " OWNER_CHECK_CHAIN_NAME);
}

/* owner_check: an accept rule of each protocol for each level, levels
 * ascending, then the refusals. */
static int add_owner_check_rules(struct batch *batch, level_set levels)
{
	char what[96];
	int r = 0;

	for (unsigned int level = 0; r >= 0 && level <= CGROUP_MAX_LEVEL; level++) {
		if (!((levels >> level) & 1))
			continue;
		for (int i = 0; r >= 0 && i < PROTOCOL_COUNT; i++) {
			snprintf(what, sizeof(what), "%s rule of chain " OWNER_CHECK_CHAIN_NAME " for level %u (socket cgroupv2)",
				 protocol_name((enum protocol)i), level);
			r = put_rule(batch, layout_owner_rule((enum protocol)i, level, LAYOUT_OWNER_SET_ID(i), false),
					  NFT_MSG_NEWRULE, what);
		}
	}
	for (int i = 0; r >= 0 && i < PROTOCOL_COUNT; i++) {
		snprintf(what, sizeof(what), "%s refusal of chain " OWNER_CHECK_CHAIN_NAME " (reject)",
			 protocol_name((enum protocol)i));
		r = put_rule(batch, layout_refusal_rule((enum protocol)i), NFT_MSG_NEWRULE, what);
	}
	return r;
}

static int add_gate_rules(struct batch *batch)
{
	char what[96];
	int r = 0;

	for (int i = 0; r >= 0 && i < PROTOCOL_COUNT; i++) {
		snprintf(what, sizeof(what), "%s rule of chain " INPUT_CHAIN_NAME " (ct, meta, lookup, jump)",
			 protocol_name((enum protocol)i));
		r = put_rule(batch, layout_gate_rule((enum protocol)i, LAYOUT_OWNED_SET_ID(i), false), NFT_MSG_NEWRULE,
				  what);
	}
	return r;
}

/* A gate set's elements in one message each: few, unlike the maps'. */
static int add_gate_elements(struct kernel *kernel, struct batch *batch, uint16_t type, bool owners,
			     enum protocol protocol, const struct owned_port *ports,
			     const struct owner_element *elements, size_t count)
{
	for (size_t start = 0; start < count; start += ELEMENTS_PER_MESSAGE) {
		size_t end = start + ELEMENTS_PER_MESSAGE < count ? start + ELEMENTS_PER_MESSAGE : count;
		const char *name = owners ? owner_set_name(protocol) : owned_set_name(protocol);
		struct nftnl_set *set = nftnl_set_alloc();
		struct nlmsghdr *nlh;
		char what[96];
		int r;

		if (!set)
			return -ENOMEM;
		nftnl_set_set_str(set, NFTNL_SET_TABLE, TABLE_NAME);
		nftnl_set_set_str(set, NFTNL_SET_NAME, name);
		nftnl_set_set_u32(set, NFTNL_SET_ID, owners ? LAYOUT_OWNER_SET_ID(protocol) : LAYOUT_OWNED_SET_ID(protocol));
		for (size_t i = start; i < end; i++) {
			struct nftnl_set_elem *element;
			char text[OWNER_TEXT_MAX + 1];

			if (owners) {
				element = layout_owner_element(elements[i].port, elements[i].id);
			} else if (type == NFT_MSG_NEWSETELEM) {
				owner_text(ports[i].owner, text, sizeof(text));
				element = layout_owned_element(ports[i].port, text);
			} else {
				const uint16_t key = htons(ports[i].port);

				element = nftnl_set_elem_alloc();
				if (element)
					nftnl_set_elem_set(element, NFTNL_SET_ELEM_KEY, &key, sizeof(key));
			}
			if (!element) {
				nftnl_set_free(set);
				return -ENOMEM;
			}
			nftnl_set_elem_add(set, element);
		}
		snprintf(what, sizeof(what), "set %s (%s elements of ports %u to %u)", name,
			 type == NFT_MSG_NEWSETELEM ? "adding" : "deleting",
			 owners ? elements[start].port : ports[start].port,
			 owners ? elements[end - 1].port : ports[end - 1].port);
		r = batch_add_message(batch, type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0, what, &nlh);
		if (r < 0) {
			nftnl_set_free(set);
			return r;
		}
		nftnl_set_elems_nlmsg_build_payload(nlh, set);
		nftnl_set_free(set);
		kernel->statistics.element_messages++;
		if (batch_commit_message(batch) < 0)
			return -EMSGSIZE;
	}
	return 0;
}

static int add_owned_elements(struct kernel *kernel, struct batch *batch, uint16_t type,
			      const struct owned_port *ports, size_t count)
{
	int r = 0;

	for (int i = 0; r >= 0 && i < PROTOCOL_COUNT; i++) {
		struct owned_span span = owned_of_protocol(ports, count, (enum protocol)i);

		if (span.count)
			r = add_gate_elements(kernel, batch, type, false, (enum protocol)i, span.ports, NULL, span.count);
	}
	return r;
}

static int add_owner_elements(struct kernel *kernel, struct batch *batch, uint16_t type,
			      const struct owner_element *elements, size_t count)
{
	int r = 0;

	for (int i = 0; r >= 0 && i < PROTOCOL_COUNT; i++) {
		struct owner_element_span span = owner_elements_of_protocol(elements, count, (enum protocol)i);

		if (span.count)
			r = add_gate_elements(kernel, batch, type, true, (enum protocol)i, NULL, span.elements,
					      span.count);
	}
	return r;
}

/* What goes before the table is (re)created: the gate's users before what
 * they use (input's jumps before owner_check, the chains before the sets),
 * then the elements that go. */
static int delete_gate(struct kernel *kernel, struct batch *batch, const struct plan *plan)
{
	int r = 0;

	if (plan->delete_table)
		return 0;
	for (int i = 0; r >= 0 && i < GATE_CHAIN_COUNT; i++) {
		if (plan->delete_gate_chain[i])
			r = add_gate_chain(batch, (enum gate_chain)i, NFT_MSG_DELCHAIN, 0);
	}
	if (r >= 0 && plan->rewrite_owner_check)
		r = flush_owner_check(batch);
	for (int i = 0; r >= 0 && i < PROTOCOL_COUNT; i++) {
		if (r >= 0 && plan->delete_owned_set[i])
			r = add_gate_set(batch, false, (enum protocol)i, NFT_MSG_DELSET, 0);
		if (r >= 0 && plan->delete_owner_set[i])
			r = add_gate_set(batch, true, (enum protocol)i, NFT_MSG_DELSET, 0);
	}
	if (r >= 0)
		r = add_owned_elements(kernel, batch, NFT_MSG_DELSETELEM, plan->owned_deletions,
				       plan->owned_deletion_count);
	if (r >= 0)
		r = add_owner_elements(kernel, batch, NFT_MSG_DELSETELEM, plan->owner_deletions,
				       plan->owner_deletion_count);
	return r;
}

/* After the maps and NAT chains: the sets, the chains (input first, as
 * nft lists them in the order made), owner_check's rules before input's
 * jumps to it, then the elements. */
static int create_gate(struct kernel *kernel, struct batch *batch, const struct plan *plan)
{
	int r = 0;

	for (int i = 0; r >= 0 && i < PROTOCOL_COUNT; i++) {
		if (plan->create_owned_set[i])
			r = add_gate_set(batch, false, (enum protocol)i, NFT_MSG_NEWSET, NLM_F_CREATE);
	}
	for (int i = 0; r >= 0 && i < PROTOCOL_COUNT; i++) {
		if (plan->create_owner_set[i])
			r = add_gate_set(batch, true, (enum protocol)i, NFT_MSG_NEWSET, NLM_F_CREATE);
	}
	for (int i = 0; r >= 0 && i < GATE_CHAIN_COUNT; i++) {
		if (plan->create_gate_chain[i])
			r = add_gate_chain(batch, (enum gate_chain)i, NFT_MSG_NEWCHAIN, NLM_F_CREATE);
	}
	if (r >= 0 && (plan->create_gate_chain[GATE_CHAIN_OWNER_CHECK] || plan->rewrite_owner_check))
		r = add_owner_check_rules(batch, plan->owner_levels);
	if (r >= 0 && plan->create_gate_chain[GATE_CHAIN_INPUT])
		r = add_gate_rules(batch);
	for (int i = 0; r >= 0 && i < PROTOCOL_COUNT; i++) {
		if (plan->created_owned[i].count)
			r = add_owned_elements(kernel, batch, NFT_MSG_NEWSETELEM, plan->created_owned[i].ports,
					       plan->created_owned[i].count);
		if (r >= 0 && plan->created_owner_elements[i].count)
			r = add_owner_elements(kernel, batch, NFT_MSG_NEWSETELEM, plan->created_owner_elements[i].elements,
					       plan->created_owner_elements[i].count);
	}
	if (r >= 0)
		r = add_owned_elements(kernel, batch, NFT_MSG_NEWSETELEM, plan->owned_additions,
				       plan->owned_addition_count);
	if (r >= 0)
		r = add_owner_elements(kernel, batch, NFT_MSG_NEWSETELEM, plan->owner_additions,
				       plan->owner_addition_count);
	return r;
}

static size_t estimate_size(const struct plan *plan)
{
	size_t elements = plan->deletion_count + plan->addition_count + plan->owner_deletion_count +
			  plan->owner_addition_count + plan->desired_owner_element_count;
	size_t owned = plan->owned_deletion_count + plan->owned_addition_count + plan->desired_owned_count;

	for (unsigned int i = 0; i < MAP_COUNT; i++) {
		const struct redirect_span *span = &plan->created_map_elements[i];

		for (size_t j = 0; j < span->count; j++)
			elements += redirect_map(&span->redirects[j]) == i;
	}
	/* A scoped element's key is up to 24 bytes: twice the room for
	 * every element changed or created. The gate's rules: two a level,
	 * at most every level; the NAT chains' rules, ten each. */
	return elements * 2 * BYTES_PER_ELEMENT + owned * BYTES_PER_OWNED_ELEMENT +
	       (32 + 2 * (CGROUP_MAX_LEVEL + 1) + 2 * MAP_COUNT) * BYTES_PER_OBJECT;
}

/* The order the kernel needs: what is deleted goes first (rules before
 * the maps they use, elements before additions of the same key), then
 * the table, the maps, the chains whose rules use the maps, and last the
 * elements. A rule that binds a map makes the kernel check every element
 * the map holds already against the binding, four walks of the whole map
 * for the four rules; elements added to a bound map are checked one by
 * one as they come, which is the same check, once. */
static int build_batch(struct kernel *kernel, struct batch *batch, const struct plan *plan, uint64_t table_id)
{
	struct redirect_span span;
	int r = 0;

	if (plan->delete_table)
		r = add_table(batch, NFT_MSG_DELTABLE, 0, NULL, 0, 0);
	for (int i = 0; r >= 0 && i < CHAIN_COUNT; i++) {
		if (plan->delete_chain[i] && !plan->delete_table)
			r = add_chain(batch, (enum chain)i, NFT_MSG_DELCHAIN, 0);
	}
	for (unsigned int i = 0; r >= 0 && i < MAP_COUNT; i++) {
		if (plan->delete_map[i] && !plan->delete_table)
			r = add_set(batch, i, false, NFT_MSG_DELSET, 0);
	}
	for (int i = 0; r >= 0 && i < PROTOCOL_COUNT; i++) {
		if (plan->delete_count_set[i] && !plan->delete_table)
			r = add_set(batch, (unsigned int)i, true, NFT_MSG_DELSET, 0);
	}
	for (unsigned int i = 0; r >= 0 && i < MAP_COUNT; i++) {
		span = redirects_of_protocol(plan->deletions, plan->deletion_count, map_protocol(i));
		if (span.count)
			r = add_elements(kernel, batch, NFT_MSG_DELSETELEM, i, span.redirects, span.count);
	}
	if (r >= 0)
		r = delete_gate(kernel, batch, plan);
	if (r >= 0 && plan->create_table)
		r = add_table(batch, NFT_MSG_NEWTABLE, NLM_F_CREATE,
			      plan->record_original_port_start ? &plan->original_port_start : NULL,
			      table_id, plan->table_flags);
	for (unsigned int i = 0; r >= 0 && i < MAP_COUNT; i++) {
		if (plan->create_map[i])
			r = add_set(batch, i, false, NFT_MSG_NEWSET, NLM_F_CREATE);
	}
	for (int i = 0; r >= 0 && i < PROTOCOL_COUNT; i++) {
		if (plan->create_count_set[i])
			r = add_set(batch, (unsigned int)i, true, NFT_MSG_NEWSET, NLM_F_CREATE);
	}
	for (int i = 0; r >= 0 && i < CHAIN_COUNT; i++) {
		unsigned int maps[MAP_COUNT];
		size_t count;

		if (!plan->create_chain[i])
			continue;
		r = add_chain(batch, (enum chain)i, NFT_MSG_NEWCHAIN, NLM_F_CREATE);
		count = chain_rule_maps((enum chain)i, plan->map_in_use, maps);
		for (size_t j = 0; r >= 0 && j < count; j++)
			r = add_rule(batch, (enum chain)i, maps[j]);
	}
	for (unsigned int i = 0; r >= 0 && i < MAP_COUNT; i++) {
		span = plan->created_map_elements[i];
		if (span.count)
			r = add_elements(kernel, batch, NFT_MSG_NEWSETELEM, i, span.redirects, span.count);
	}
	for (unsigned int i = 0; r >= 0 && i < MAP_COUNT; i++) {
		span = redirects_of_protocol(plan->additions, plan->addition_count, map_protocol(i));
		if (span.count)
			r = add_elements(kernel, batch, NFT_MSG_NEWSETELEM, i, span.redirects, span.count);
	}
	if (r >= 0)
		r = create_gate(kernel, batch, plan);
	return r;
}

/* After a commit whose result is known: the kernel moved to the next
 * generation, unless someone committed right after, and the maps hold the
 * desired redirects. */
static void record_commit(struct kernel *kernel, const struct plan *plan, uint64_t table_id,
			  uint32_t generation)
{
	uint32_t now;

	if (!kernel->cache || !plan->result || kernel_generation(kernel, &now) < 0 ||
	    now != kernel_generation_after(generation))
		return;
	kernel_record_elements(kernel, table_id, now, plan->result);
}

int kernel_apply_plan(struct kernel *kernel, const struct plan *plan, uint32_t generation,
		      struct kernel_error *error)
{
	uint64_t table_id = plan->table_id;
	struct batch *batch;
	int r;

	if (!plan_changes_kernel_tables(plan))
		return 0;
	if (plan->create_table && !table_id)
		table_id = layout_new_table_id();
	r = batch_start(kernel, estimate_size(plan), generation, &batch);
	if (r < 0)
		return r;
	r = build_batch(kernel, batch, plan, table_id);
	if (r >= 0)
		r = batch_send(kernel, batch, error);
	batch_free(batch);
	if (r >= 0)
		record_commit(kernel, plan, table_id, generation);
	return r;
}

int kernel_delete_table(struct kernel *kernel, uint32_t generation, struct kernel_error *error)
{
	struct batch *batch;
	int r;

	r = batch_start(kernel, 0, generation, &batch);
	if (r < 0)
		return r;
	r = add_table(batch, NFT_MSG_DELTABLE, 0, NULL, 0, 0);
	if (r >= 0)
		r = batch_send(kernel, batch, error);
	batch_free(batch);
	return r;
}
