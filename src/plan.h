/* The planner: a pure function from its input (the desired mapping, the
 * kernel state, the caller's decisions) to the ordered operations that make
 * the kernel match, with all the batch writer needs, and the change lines
 * they mean to the user. No kernel, no printing. */
#ifndef PLAN_H
#define PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cgroup.h"
#include "change.h"
#include "mapping.h"
#include "state.h"

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
	/* The groups the desired mapping's owners name now (cgroup.h), or
	 * NULL when it has no owners. */
	const struct cgroup_resolution *groups;
};

/* Runs of the owner gate's elements in canonical order. */
struct owned_span {
	const struct owned_port *ports;
	size_t count;
};

struct owner_element_span {
	const struct owner_element *elements;
	size_t count;
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
	bool delete_map[MAP_COUNT];
	bool create_map[MAP_COUNT];
	/* The maps the table holds once the batch is committed: the base
	 * maps, and the scoped maps the desired redirects need. The chains
	 * created hold one rule for each (chain_rule_maps()). */
	bool map_in_use[MAP_COUNT];
	/* The count sets go and come with the base maps (every rule uses
	 * its protocol's). */
	bool delete_count_set[PROTOCOL_COUNT];
	bool create_count_set[PROTOCOL_COUNT];

	/* Element operations on maps that stay. Both sorted. */
	struct redirect *deletions;
	size_t deletion_count;
	struct redirect *additions;
	size_t addition_count;
	/* The elements a created map is filled with: the desired redirects
	 * of its protocol (borrowed from the desired mapping), of which the
	 * writer takes those of the map (redirect_map()); empty for a map
	 * that stays. */
	struct redirect_span created_map_elements[MAP_COUNT];

	/* The owner gate. Its objects are deleted and created again all
	 * together when any of them is not as the layout says (what is
	 * deleted is what exists); owner_check's rules are rewritten (the
	 * chain flushed, the rules written again) when only the levels it
	 * serves change. owner_levels: the levels of a created or rewritten
	 * owner_check. */
	bool delete_gate_chain[GATE_CHAIN_COUNT];
	bool create_gate_chain[GATE_CHAIN_COUNT];
	bool delete_owned_set[PROTOCOL_COUNT];
	bool create_owned_set[PROTOCOL_COUNT];
	bool delete_owner_set[PROTOCOL_COUNT];
	bool create_owner_set[PROTOCOL_COUNT];
	bool rewrite_owner_check;
	level_set owner_levels;
	/* Element operations on the gate's sets that stay, sorted; and the
	 * elements created sets are filled with (spans of desired_*). */
	struct owned_port *owned_deletions;
	size_t owned_deletion_count;
	struct owned_port *owned_additions;
	size_t owned_addition_count;
	struct owner_element *owner_deletions;
	size_t owner_deletion_count;
	struct owner_element *owner_additions;
	size_t owner_addition_count;
	struct owned_span created_owned[PROTOCOL_COUNT];
	struct owner_element_span created_owner_elements[PROTOCOL_COUNT];
	/* What the gate should hold: the plan's own, sorted. */
	struct owned_port *desired_owned;
	size_t desired_owned_count;
	struct owner_element *desired_owner_elements;
	size_t desired_owner_element_count;
	/* Copies of the owners the change lines name (change.owner). */
	struct mapping *owner_names;
	/* The desired mapping in the kernel's form, when it differs from the
	 * input's (mapping_kernel_form()): the plan's own. */
	struct mapping *kernel_form;

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
	struct structure_change *structure_changes;
	size_t structure_change_count;
	size_t structure_change_capacity;
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
struct owned_span owned_of_protocol(const struct owned_port *ports, size_t count, enum protocol protocol);
struct owner_element_span owner_elements_of_protocol(const struct owner_element *elements, size_t count,
						     enum protocol protocol);

#endif
