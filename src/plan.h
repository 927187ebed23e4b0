/* The planner: a pure function from (desired mapping, kernel state) to the
 * ordered operations that make the kernel match, and the change lines they
 * mean to the user. No kernel, no printing. */
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

	/* Element operations on maps that stay. A map that is created gets
	 * every desired redirect of its protocol instead. Both sorted. */
	struct redirect *deletions;
	size_t deletion_count;
	struct redirect *additions;
	size_t addition_count;

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

	/* Written after the batch succeeded. */
	bool write_port_start;
	unsigned int port_start;

	/* What the user is told, in print order. */
	struct change *changes;
	size_t change_count;
	struct structure_change structure_changes[PLAN_MAX_STRUCTURE_CHANGES];
	size_t structure_change_count;

	/* Borrowed from the caller, for the redirects of created maps. */
	const struct mapping *desired;
};

/* Returns 0 and a plan (possibly empty), or -ENOMEM. */
int plan_build(const struct mapping *desired, const struct table_state *current, struct plan **ret_plan);
bool plan_is_empty(const struct plan *plan);
/* The plan's change lines, for output.h. */
struct change_list plan_change_list(const struct plan *plan);
/* Whether the plan needs a batch (it may only change the sysctl). */
bool plan_changes_kernel_tables(const struct plan *plan);
void plan_free(struct plan *plan);

#endif
