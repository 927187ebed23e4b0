/* Turns a plan into one nf_tables batch: the kernel applies all of it or
 * none of it. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <string.h>
#include "fault.h"
#include "kernel_internal.h"

/* 28 bytes per element in the message: 2,048 keep the element list nest
 * below the 64 KiB an attribute length can describe. */
#define ELEMENTS_PER_MESSAGE 2048
#define BYTES_PER_ELEMENT 32
#define BYTES_PER_OBJECT 1024

/* Transaction-local ids for maps created in this batch, so that rules and
 * elements in the same batch can name them before they exist. */
#define SET_ID(protocol) ((uint32_t)(protocol) + 1)

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

static int add_map(struct batch *batch, enum protocol protocol, uint16_t type, uint16_t flags)
{
	struct nftnl_set *set = layout_map(protocol, SET_ID(protocol));
	struct nlmsghdr *nlh;
	char what[64];
	int r;

	if (!set)
		return -ENOMEM;
	snprintf(what, sizeof(what), "map %s", map_name(protocol));
	r = batch_add_message(batch, type, flags, what, &nlh);
	if (r < 0) {
		nftnl_set_free(set);
		return r;
	}
	nftnl_set_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	return batch_commit_message(batch);
}

static int add_chain(struct batch *batch, enum chain chain, uint16_t type, uint16_t flags)
{
	struct nftnl_chain *object = layout_chain(chain);
	struct nlmsghdr *nlh;
	char what[64];
	int r;

	if (!object)
		return -ENOMEM;
	snprintf(what, sizeof(what), "chain %s", chain_name(chain));
	r = batch_add_message(batch, type, flags, what, &nlh);
	if (r < 0) {
		nftnl_chain_free(object);
		return r;
	}
	nftnl_chain_nlmsg_build_payload(nlh, object);
	nftnl_chain_free(object);
	return batch_commit_message(batch);
}

static int add_rule(struct batch *batch, enum chain chain, enum protocol protocol)
{
	struct nftnl_rule *rule = layout_rule(chain, protocol, SET_ID(protocol), false);
	struct nlmsghdr *nlh;
	char what[96];
	int r;

	if (!rule)
		return -ENOMEM;
	snprintf(what, sizeof(what), "%s rule of chain %s (fib, meta, payload, lookup, redir)",
		 protocol_name(protocol), chain_name(chain));
	r = batch_add_message(batch, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, what, &nlh);
	if (r < 0) {
		nftnl_rule_free(rule);
		return r;
	}
	nftnl_rule_nlmsg_build_payload(nlh, rule);
	nftnl_rule_free(rule);
	return batch_commit_message(batch);
}

/* Adds or deletes elements of one map, ELEMENTS_PER_MESSAGE at a time.
 * redirects holds count redirects, all of one protocol. */
static int add_elements(struct kernel *kernel, struct batch *batch, uint16_t type, enum protocol protocol,
			const struct redirect *redirects, size_t count)
{
	for (size_t start = 0; start < count; start += ELEMENTS_PER_MESSAGE) {
		size_t end = start + ELEMENTS_PER_MESSAGE < count ? start + ELEMENTS_PER_MESSAGE : count;
		struct nftnl_set *set = nftnl_set_alloc();
		struct nlmsghdr *nlh;
		char what[96];
		int r;

		if (!set)
			return -ENOMEM;
		nftnl_set_set_str(set, NFTNL_SET_TABLE, TABLE_NAME);
		nftnl_set_set_str(set, NFTNL_SET_NAME, map_name(protocol));
		nftnl_set_set_u32(set, NFTNL_SET_ID, SET_ID(protocol));
		for (size_t i = start; i < end; i++) {
			struct nftnl_set_elem *element = nftnl_set_elem_alloc();
			uint16_t port = htons(redirects[i].port), target = htons(redirects[i].target);

			if (!element) {
				nftnl_set_free(set);
				return -ENOMEM;
			}
			nftnl_set_elem_set(element, NFTNL_SET_ELEM_KEY, &port, sizeof(port));
			if (type == NFT_MSG_NEWSETELEM && i + 1 == end && fault_injected("bad-element")) {
				/* Data the map's type cannot hold: the kernel refuses
				 * this message in the middle of the batch. */
				const uint32_t wide = target;

				nftnl_set_elem_set(element, NFTNL_SET_ELEM_DATA, &wide, sizeof(wide));
			} else if (type == NFT_MSG_NEWSETELEM) {
				nftnl_set_elem_set(element, NFTNL_SET_ELEM_DATA, &target, sizeof(target));
			}
			nftnl_set_elem_add(set, element);
		}
		snprintf(what, sizeof(what), "map %s (%s elements %u to %u)", map_name(protocol),
			 type == NFT_MSG_NEWSETELEM ? "adding" : "deleting", redirects[start].port,
			 redirects[end - 1].port);
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

static size_t estimate_size(const struct plan *plan)
{
	size_t elements = plan->deletion_count + plan->addition_count;

	for (int i = 0; i < PROTOCOL_COUNT; i++)
		elements += plan->created_map_elements[i].count;
	return elements * BYTES_PER_ELEMENT + 16 * BYTES_PER_OBJECT;
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
	for (int i = 0; r >= 0 && i < PROTOCOL_COUNT; i++) {
		if (plan->delete_map[i] && !plan->delete_table)
			r = add_map(batch, (enum protocol)i, NFT_MSG_DELSET, 0);
	}
	for (int i = 0; r >= 0 && i < PROTOCOL_COUNT; i++) {
		span = redirects_of_protocol(plan->deletions, plan->deletion_count, (enum protocol)i);
		if (span.count)
			r = add_elements(kernel, batch, NFT_MSG_DELSETELEM, (enum protocol)i, span.redirects,
					 span.count);
	}
	if (r >= 0 && plan->create_table)
		r = add_table(batch, NFT_MSG_NEWTABLE, NLM_F_CREATE,
			      plan->record_original_port_start ? &plan->original_port_start : NULL,
			      table_id, plan->table_flags);
	for (int i = 0; r >= 0 && i < PROTOCOL_COUNT; i++) {
		if (plan->create_map[i])
			r = add_map(batch, (enum protocol)i, NFT_MSG_NEWSET, NLM_F_CREATE);
	}
	for (int i = 0; r >= 0 && i < CHAIN_COUNT; i++) {
		if (!plan->create_chain[i])
			continue;
		r = add_chain(batch, (enum chain)i, NFT_MSG_NEWCHAIN, NLM_F_CREATE);
		for (int j = 0; r >= 0 && j < PROTOCOL_COUNT; j++)
			r = add_rule(batch, (enum chain)i, (enum protocol)j);
	}
	for (int i = 0; r >= 0 && i < PROTOCOL_COUNT; i++) {
		span = plan->created_map_elements[i];
		if (span.count)
			r = add_elements(kernel, batch, NFT_MSG_NEWSETELEM, (enum protocol)i, span.redirects,
					 span.count);
	}
	for (int i = 0; r >= 0 && i < PROTOCOL_COUNT; i++) {
		span = redirects_of_protocol(plan->additions, plan->addition_count, (enum protocol)i);
		if (span.count)
			r = add_elements(kernel, batch, NFT_MSG_NEWSETELEM, (enum protocol)i, span.redirects,
					 span.count);
	}
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
