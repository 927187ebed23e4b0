/* What the planner's two files share: plan.c (the table, the maps and NAT
 * chains, the redirects, the sysctl) and plan_gate.c (the owner gate). */
#ifndef PLAN_INTERNAL_H
#define PLAN_INTERNAL_H

#include "plan.h"

struct plan_builder {
	struct plan *plan;
	size_t change_capacity;
	size_t deletion_capacity;
	size_t addition_capacity;
	size_t owned_deletion_capacity;
	size_t owned_addition_capacity;
	size_t owner_deletion_capacity;
	size_t owner_addition_capacity;
};

int plan_add_change(struct plan_builder *builder, const struct change *change);
/* A "~ OBJECT: ACTION (REASON)" line. */
int plan_add_structure(struct plan_builder *builder, const char *object, const char *action, const char *reason);
/* The change line's reference to owner (0 for none), copied into the
 * plan's owner_names; -ENOMEM. */
int plan_owner_reference(struct plan_builder *builder, const struct owner *owner, uint32_t *ret_reference);

/* The gate's structure: all of it created with a new table (create_all),
 * else rebuilt when any object is not as the layout says. Before the
 * redirects' lines, as every structural line. */
int plan_gate_structure(struct plan_builder *builder, const struct plan_input *input, bool create_all);
/* The gate's contents: the elements, and owner_check's levels; the owner
 * lines, after the redirects' lines. */
int plan_gate_contents(struct plan_builder *builder, const struct plan_input *input);

#endif
