/* The planner: a pure function from its input (the desired mapping, the
 * kernel state, the caller's decisions) to the ordered operations that make
 * the kernel match, with all the batch writer needs, and the change lines
 * they mean to the user. No kernel, no printing. */
#ifndef PLAN_H
#define PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "change.h"
#include "mapping.h"
#include "state.h"

/* The table, two maps and two chains: at most five repairs. */
#define PLAN_MAX_STRUCTURE_CHANGES 5

/* What the planner is given. It reads, and never changes, any of it. */
struct plan_input {
	/* The mapping to reach, sorted (mapping_sort()). The plan borrows
	 * its redirects: it must outlive the plan. */
	const struct mapping *desired;
	/* What the managed table holds, as the kernel reader found it. */
	const struct table_state *current;
	/* The caller's decision: the flags the table must have (watch
	 * --hold's; apply keeps those of a table another process holds). */
	uint32_t table_flags;
	/* net.ipv4.ip_unprivileged_port_start now, which the table does not
	 * hold; unknown when it could not be read. */
	bool has_port_start;
	unsigned int port_start;
};

/* A run of redirects in canonical order, borrowed from an array. */
struct redirect_span {
	const struct redirect *redirects;
	size_t count;
};

struct plan {
	/* Structure: what to delete and create, in the order the kernel
	 * needs: table, chains (their rules reference the maps), maps; then
	 * create table, maps, chains. */
	bool delete_table;
	bool create_table;
	bool delete_chain[CHAIN_COUNT];
	bool create_chain[CHAIN_COUNT];
	bool delete_map[PROTOCOL_COUNT];
	bool create_map[PROTOCOL_COUNT];

	/* Element operations on maps that stay. Both sorted. */
	struct redirect *deletions;
	size_t deletion_count;
	struct redirect *additions;
	size_t addition_count;
	/* The elements a created map is filled with: every desired redirect
	 * of its protocol (borrowed from the input's desired mapping); empty
	 * for a map that stays. */
	struct redirect_span created_map_elements[PROTOCOL_COUNT];

	/* The flags of a created table. */
	uint32_t table_flags;

	/* The userdata of a created table: the sysctl's value before
	 * portredir first changed it, carried over or recorded now. */
	bool record_original_port_start;
	unsigned int original_port_start;

	/* The identity of a created table (state.h's table_id), carried over
	 * from the table it replaces; 0 when there is none yet, for the
	 * writer to choose. */
	uint64_t table_id;

	/* Once the batch is committed, the maps hold exactly the desired
	 * redirects: they are created by it, or the table was exactly the
	 * layout when read, so nothing but a commit (which the batch's
	 * generation excludes) changed them since. Not so when a foreign
	 * rule stays in a chain until the batch: it could have updated a
	 * map from the packet path in between. */
	bool result_known;
	/* When result_known, that result, for the record of the maps'
	 * elements (kernel.h's kernel_cache): the input's desired mapping,
	 * borrowed. NULL otherwise. */
	const struct mapping *result;

	/* Written after the batch succeeded. */
	bool write_port_start;
	unsigned int port_start;

	/* What the user is told, in print order. */
	struct change *changes;
	size_t change_count;
	struct structure_change structure_changes[PLAN_MAX_STRUCTURE_CHANGES];
	size_t structure_change_count;
};

/* Returns 0 and a plan (possibly empty), or -ENOMEM. */
int plan_build(const struct plan_input *input, struct plan **ret_plan);
bool plan_is_empty(const struct plan *plan);
/* The plan's change lines, for output.h. */
struct change_list plan_change_list(const struct plan *plan);
/* Whether the plan needs a batch (it may only change the sysctl). */
bool plan_changes_kernel_tables(const struct plan *plan);
void plan_free(struct plan *plan);

/* The redirects of one protocol in a sorted array: a contiguous run, as
 * protocol is the first sort key. */
struct redirect_span redirects_of_protocol(const struct redirect *redirects, size_t count, enum protocol protocol);

#endif
