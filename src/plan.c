/* The planner. Like wireguard-tools' sync_conf, it merges the desired and
 * current redirects, both sorted on (protocol, port), in one pass. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plan_internal.h"
#include "util.h"

int plan_add_change(struct plan_builder *builder, const struct change *change)
{
	struct plan *plan = builder->plan;
	int r = ARRAY_GROW_ONE(plan->changes, plan->change_count, builder->change_capacity, 8);

	if (r < 0)
		return r;
	plan->changes[plan->change_count++] = *change;
	return 0;
}

int plan_add_structure(struct plan_builder *builder, const char *object, const char *action, const char *reason)
{
	struct plan *plan = builder->plan;
	struct structure_change *structure;
	const struct change change = {
		.kind = CHANGE_STRUCTURE,
		.structure = (uint32_t)plan->structure_change_count,
	};
	int r = ARRAY_GROW_ONE(plan->structure_changes, plan->structure_change_count,
			       plan->structure_change_capacity, 8);

	if (r < 0)
		return r;
	structure = &plan->structure_changes[plan->structure_change_count++];
	snprintf(structure->object, sizeof(structure->object), "%s", object);
	structure->action = action;
	snprintf(structure->reason, sizeof(structure->reason), "%s", reason);
	return plan_add_change(builder, &change);
}

int plan_owner_reference(struct plan_builder *builder, const struct owner *owner, uint32_t *ret_reference)
{
	struct plan *plan = builder->plan;
	const struct owner *copy;

	*ret_reference = 0;
	if (!owner)
		return 0;
	if (!plan->owner_names) {
		plan->owner_names = mapping_new();
		if (!plan->owner_names)
			return -ENOMEM;
	}
	copy = mapping_intern_owner(plan->owner_names, owner->kind, owner->name, strlen(owner->name));
	if (!copy)
		return -ENOMEM;
	*ret_reference = (uint32_t)copy->index + 1;
	return 0;
}

static int append_redirect(struct redirect **redirects, size_t *count, size_t *capacity,
			   const struct redirect *redirect)
{
	int r = ARRAY_GROW_ONE(*redirects, *count, *capacity, 8);

	if (r < 0)
		return r;
	(*redirects)[(*count)++] = *redirect;
	return 0;
}

static int add_redirect_change(struct plan_builder *builder, enum change_kind kind,
			       const struct redirect *redirect, bool map_stays)
{
	struct plan *plan = builder->plan;
	struct change change = {
		.kind = (uint8_t)kind,
		.protocol = (uint8_t)redirect->protocol,
		.port = redirect->port,
		.target = redirect->target,
		.scope = redirect->scope,
	};
	int r;

	r = plan_owner_reference(builder, redirect->owner, &change.owner);
	if (r >= 0)
		r = plan_add_change(builder, &change);
	if (r < 0 || !map_stays)
		return r;
	if (kind == CHANGE_REDIRECT_REMOVED)
		return append_redirect(&plan->deletions, &plan->deletion_count, &builder->deletion_capacity,
				       redirect);
	return append_redirect(&plan->additions, &plan->addition_count, &builder->addition_capacity, redirect);
}

/* Everything is created anew: the table was missing, or only recreating it
 * can clear what is wrong with it. */
static int plan_whole_table(struct plan_builder *builder, const struct table_state *current,
			    const char *reason)
{
	struct plan *plan = builder->plan;

	plan->delete_table = current->table_exists;
	plan->create_table = true;
	for (unsigned int i = 0; i < MAP_COUNT; i++)
		plan->create_map[i] = plan->map_in_use[i];
	for (int i = 0; i < PROTOCOL_COUNT; i++)
		plan->create_count_set[i] = true;
	for (int i = 0; i < CHAIN_COUNT; i++)
		plan->create_chain[i] = true;
	return plan_add_structure(builder, "table " TABLE_FAMILY_NAME " " TABLE_NAME,
				  current->table_exists ? "recreated" : "created", reason);
}

/* The table, whole, when it must be created; else its maps and chains. */
static int plan_table(struct plan_builder *builder, const struct plan_input *input, bool record_needed,
		      bool *ret_whole)
{
	const struct table_state *current = input->current;

	*ret_whole = true;
	if (!current->table_exists)
		return plan_whole_table(builder, current, "missing");
	if (current->table.status != OBJECT_OK)
		return plan_whole_table(builder, current, current->table.reason);
	/* The kernel cannot make a table owned or persistent after the
	 * fact: only a new table gets the flags. */
	if (current->table_flags != input->table_flags)
		return plan_whole_table(builder, current, "table flags changed");
	/* The kernel cannot change a table's userdata in place: to remember
	 * the sysctl's original value, the table is recreated, in the same
	 * atomic batch. This happens once. */
	if (record_needed)
		return plan_whole_table(builder, current, "to record the original unprivileged_port_start");
	*ret_whole = false;
	return 0;
}

/* A scoped map comes when the first redirect needs it and goes with the
 * last; the chains then get their rules anew. */
static int plan_map(struct plan_builder *builder, const struct table_state *current, unsigned int map,
		    bool *ret_rules_change)
{
	const struct object_state *state = &current->maps[map];
	struct plan *plan = builder->plan;
	bool wanted = plan->map_in_use[map];
	const char *action, *reason;
	char object[48];

	if (state->status == OBJECT_OK && wanted)
		return 0;
	if (state->status == OBJECT_MISSING && !wanted)
		return 0;
	plan->delete_map[map] = state->status != OBJECT_MISSING;
	plan->create_map[map] = wanted;
	if (!wanted) {
		action = "deleted";
		reason = "no redirect uses it";
	} else if (state->status == OBJECT_MISSING) {
		action = "created";
		reason = map < PROTOCOL_COUNT ? "missing" : "a redirect uses it";
	} else {
		action = "recreated";
		reason = state->reason;
	}
	*ret_rules_change = true;
	snprintf(object, sizeof(object), "map %s", map_name(map));
	return plan_add_structure(builder, object, action, reason);
}

static int plan_structure(struct plan_builder *builder, const struct plan_input *input)
{
	const struct table_state *current = input->current;
	struct plan *plan = builder->plan;
	bool map_recreated = false, scopes_change = false, set_recreated = false;
	int r;

	for (unsigned int i = 0; i < MAP_COUNT; i++) {
		bool changes = false;

		r = plan_map(builder, current, i, &changes);
		if (r < 0)
			return r;
		/* A base map created where it was missing takes the place
		 * the chains' rules already name. */
		map_recreated |= changes && plan->delete_map[i];
		scopes_change |= changes && i >= PROTOCOL_COUNT && plan->delete_map[i] != plan->create_map[i];
	}
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		const struct object_state *set = &current->count_sets[i];
		char object[32];

		if (set->status == OBJECT_OK)
			continue;
		plan->delete_count_set[i] = set->status == OBJECT_ALTERED;
		plan->create_count_set[i] = true;
		set_recreated |= plan->delete_count_set[i];
		snprintf(object, sizeof(object), "set %s", count_set_name((enum protocol)i));
		r = plan_add_structure(builder, object, set->status == OBJECT_MISSING ? "created" : "recreated",
				       set->status == OBJECT_MISSING ? "missing" : set->reason);
		if (r < 0)
			return r;
	}
	for (int i = 0; i < CHAIN_COUNT; i++) {
		const struct object_state *chain = &current->chains[i];
		char object[32];

		snprintf(object, sizeof(object), "chain %s", chain_name((enum chain)i));

		if (chain->status == OBJECT_MISSING) {
			plan->create_chain[i] = true;
			r = plan_add_structure(builder, object, "created", "missing");
		} else if (chain->status == OBJECT_ALTERED) {
			plan->delete_chain[i] = plan->create_chain[i] = true;
			r = plan_add_structure(builder, object, "recreated", chain->reason);
		} else if (map_recreated || set_recreated || scopes_change) {
			/* The kernel refuses to delete a set that a rule still
			 * uses: the rules go first, and come back after, one
			 * for each map in use, in the order of precedence. */
			plan->delete_chain[i] = plan->create_chain[i] = true;
			r = plan_add_structure(builder, object, "recreated",
					       scopes_change  ? "the scopes in use changed" :
					       map_recreated ? "its rules use a recreated map" :
							       "its rules use a recreated set");
		} else {
			r = 0;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int plan_redirects(struct plan_builder *builder, const struct mapping *desired,
			  const struct mapping *current)
{
	const struct plan *plan = builder->plan;
	size_t i = 0, j = 0;
	int r = 0;

	while (r >= 0 && (i < desired->redirect_count || j < current->redirect_count)) {
		const struct redirect *want = i < desired->redirect_count ? &desired->redirects[i] : NULL;
		const struct redirect *have = j < current->redirect_count ? &current->redirects[j] : NULL;
		int order = !want ? 1 : !have ? -1 : redirect_compare(want, have);
		unsigned int map = redirect_map(order < 0 ? want : have);
		bool map_stays = !plan->create_map[map] && !plan->delete_map[map];

		if (order < 0) {
			r = add_redirect_change(builder, CHANGE_REDIRECT_ADDED, want, map_stays);
			i++;
		} else if (order > 0) {
			r = add_redirect_change(builder, CHANGE_REDIRECT_REMOVED, have, map_stays);
			j++;
		} else {
			if (want->target != have->target) {
				/* The kernel will not overwrite an element's data: the old
				 * element goes, the new one comes, in the same batch. */
				r = add_redirect_change(builder, CHANGE_REDIRECT_REMOVED, have, map_stays);
				if (r >= 0)
					r = add_redirect_change(builder, CHANGE_REDIRECT_ADDED, want, map_stays);
			} else if (!owner_equal(want->owner, have->owner)) {
				/* Another owner, the same target: the map's element
				 * stays, the owned set's changes (plan_gate.c). */
				r = add_redirect_change(builder, CHANGE_REDIRECT_REMOVED, have, false);
				if (r >= 0)
					r = add_redirect_change(builder, CHANGE_REDIRECT_ADDED, want, false);
			}
			i++;
			j++;
		}
	}
	return r;
}

static int add_port_start_change(struct plan_builder *builder, enum change_kind kind, unsigned int value)
{
	const struct change change = { .kind = (uint8_t)kind, .port_start = value };

	return plan_add_change(builder, &change);
}

/* The sysctl is only ever written when the mapping declares a value. */
static int plan_port_start(struct plan_builder *builder, const struct plan_input *input)
{
	const struct mapping *desired = input->desired;
	struct plan *plan = builder->plan;
	int r;

	if (!desired->has_unprivileged_port_start || !input->has_port_start ||
	    input->port_start == desired->unprivileged_port_start)
		return 0;
	plan->write_port_start = true;
	plan->port_start = desired->unprivileged_port_start;
	r = add_port_start_change(builder, CHANGE_PORT_START_REMOVED, input->port_start);
	if (r >= 0)
		r = add_port_start_change(builder, CHANGE_PORT_START_ADDED, desired->unprivileged_port_start);
	return r;
}

/* A foreign rule could update a map from the packet path: in a NAT chain,
 * or in one of the gate's that stays until the batch. */
static bool result_known(const struct plan *plan, const struct table_state *current)
{
	bool maps_created = true;

	for (unsigned int i = 0; i < MAP_COUNT; i++)
		maps_created &= plan->create_map[i] || !plan->map_in_use[i];
	if (maps_created)
		return true;
	if (current->table.status != OBJECT_OK)
		return false;
	for (int i = 0; i < CHAIN_COUNT; i++) {
		if (current->chains[i].status != OBJECT_OK)
			return false;
	}
	for (int i = 0; i < GATE_CHAIN_COUNT; i++) {
		if (current->gate_chains[i].status == OBJECT_ALTERED)
			return false;
	}
	return true;
}

struct redirect_span redirects_of_protocol(const struct redirect *redirects, size_t count, enum protocol protocol)
{
	size_t start = 0, end;

	while (start < count && redirects[start].protocol < protocol)
		start++;
	end = start;
	while (end < count && redirects[end].protocol == protocol)
		end++;
	/* An empty mapping may have no array at all: NULL + 0 is undefined. */
	return (struct redirect_span){ .redirects = redirects ? redirects + start : NULL, .count = end - start };
}

/* What the writer needs besides the operations: the elements of the maps
 * it creates, and what to record after the commit. */
static void plan_results(struct plan *plan, const struct plan_input *input, const struct mapping *desired)
{
	for (unsigned int i = 0; i < MAP_COUNT; i++) {
		if (plan->create_map[i])
			plan->created_map_elements[i] = redirects_of_protocol(desired->redirects,
									      desired->redirect_count,
									      map_protocol(i));
	}
	plan->result_known = result_known(plan, input->current);
	plan->result = plan->result_known ? desired : NULL;
}

int plan_build(const struct plan_input *input, struct plan **ret_plan)
{
	const struct table_state *current = input->current;
	const struct mapping *desired = input->desired;
	struct plan_builder builder = { 0 };
	struct plan *plan;
	bool record_needed, whole;
	int r;

	plan = builder.plan = calloc(1, sizeof(*builder.plan));
	if (!plan)
		return -ENOMEM;
	/* The kernel holds an interface scope once for each family. */
	r = mapping_kernel_form(desired, &plan->kernel_form);
	if (r < 0) {
		free(plan);
		return r;
	}
	if (plan->kernel_form)
		desired = plan->kernel_form;
	for (unsigned int i = 0; i < PROTOCOL_COUNT; i++)
		plan->map_in_use[i] = true;
	for (size_t i = 0; i < desired->redirect_count; i++)
		plan->map_in_use[redirect_map(&desired->redirects[i])] = true;
	plan->table_flags = input->table_flags;
	/* The first change of the sysctl records what it was, so that flush
	 * can put it back; a record that exists is kept, never replaced. */
	record_needed = desired->has_unprivileged_port_start && input->has_port_start &&
			input->port_start != desired->unprivileged_port_start &&
			!current->has_original_port_start;
	if (current->has_original_port_start) {
		plan->record_original_port_start = true;
		plan->original_port_start = current->original_port_start;
	} else if (record_needed) {
		plan->record_original_port_start = true;
		plan->original_port_start = input->port_start;
	}
	plan->table_id = current->table_id;
	r = plan_table(&builder, input, record_needed, &whole);
	if (r >= 0 && !whole)
		r = plan_structure(&builder, input);
	if (r >= 0)
		r = plan_gate_structure(&builder, input, whole);
	if (r >= 0)
		r = plan_redirects(&builder, desired, current->mapping);
	if (r >= 0)
		r = plan_gate_contents(&builder, input);
	if (r >= 0) {
		plan_results(plan, input, desired);
		r = plan_port_start(&builder, input);
	}
	if (r < 0) {
		plan_free(builder.plan);
		return r;
	}
	*ret_plan = builder.plan;
	return 0;
}

bool plan_is_empty(const struct plan *plan)
{
	return plan->change_count == 0;
}

struct change_list plan_change_list(const struct plan *plan)
{
	const struct change_list list = {
		.changes = plan->changes,
		.count = plan->change_count,
		.structures = plan->structure_changes,
		.owners = plan->owner_names ? plan->owner_names->owners : NULL,
	};

	return list;
}

bool plan_changes_kernel_tables(const struct plan *plan)
{
	if (plan->create_table || plan->delete_table || plan->deletion_count || plan->addition_count ||
	    plan->owned_deletion_count || plan->owned_addition_count || plan->owner_deletion_count ||
	    plan->owner_addition_count || plan->rewrite_owner_check)
		return true;
	for (int i = 0; i < GATE_CHAIN_COUNT; i++) {
		if (plan->create_gate_chain[i] || plan->delete_gate_chain[i])
			return true;
	}
	for (unsigned int i = 0; i < MAP_COUNT; i++) {
		if (plan->create_map[i] || plan->delete_map[i])
			return true;
	}
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		if (plan->create_count_set[i])
			return true;
	}
	for (int i = 0; i < CHAIN_COUNT; i++) {
		if (plan->create_chain[i])
			return true;
	}
	return false;
}

void plan_free(struct plan *plan)
{
	if (!plan)
		return;
	free(plan->changes);
	free(plan->structure_changes);
	free(plan->deletions);
	free(plan->additions);
	free(plan->owned_deletions);
	free(plan->owned_additions);
	free(plan->owner_deletions);
	free(plan->owner_additions);
	free(plan->desired_owned);
	free(plan->desired_owner_elements);
	mapping_free(plan->owner_names);
	mapping_free(plan->kernel_form);
	free(plan);
}
