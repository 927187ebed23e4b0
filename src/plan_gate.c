/* The planner's part for the owner gate: what its sets should hold (each
 * owned port with its owner, each port with the IDs of its owner's groups
 * now) and the levels owner_check serves, merged against what the table
 * holds like the redirects are; and the gate's repair. Pure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plan_internal.h"
#include "util.h"

struct owned_span owned_of_protocol(const struct owned_port *ports, size_t count, enum protocol protocol)
{
	size_t start = 0, end;

	while (start < count && ports[start].protocol < protocol)
		start++;
	for (end = start; end < count && ports[end].protocol == protocol; end++)
		;
	return (struct owned_span){ .ports = ports ? ports + start : NULL, .count = end - start };
}

struct owner_element_span owner_elements_of_protocol(const struct owner_element *elements, size_t count,
						     enum protocol protocol)
{
	size_t start = 0, end;

	while (start < count && elements[start].protocol < protocol)
		start++;
	for (end = start; end < count && elements[end].protocol == protocol; end++)
		;
	/* NULL + 0 is undefined in C: an empty list has no elements. */
	return (struct owner_element_span){ .elements = elements ? elements + start : NULL, .count = end - start };
}

static int compare_owner_elements(const void *a, const void *b)
{
	return owner_element_compare(a, b);
}

static const struct owner_groups *groups_of(const struct plan_input *input, const struct owner *owner)
{
	const struct cgroup_resolution *groups = input->groups;

	if (!groups || !owner || owner->index >= groups->owner_count)
		return NULL;
	return &groups->owners[owner->index];
}

/* The gate the desired mapping wants: its owned ports (in the redirects'
 * order, which is the sets' own), their groups' elements, and the levels
 * the kernel may count those groups at. */
static int desired_gate(struct plan *plan, const struct plan_input *input)
{
	const struct mapping *desired = input->desired;
	size_t owned_capacity = 0, element_capacity = 0;
	int r = 0;

	plan->owner_levels = 0;
	for (size_t i = 0; r >= 0 && i < desired->redirect_count; i++) {
		const struct redirect *redirect = &desired->redirects[i];
		const struct owner_groups *groups;

		/* The port's redirects in other scopes share the owner
		 * (config_finish()): the gate holds the port once. */
		if (!redirect->owner || (i && redirect[-1].protocol == redirect->protocol && redirect[-1].port == redirect->port))
			continue;
		r = ARRAY_GROW_ONE(plan->desired_owned, plan->desired_owned_count, owned_capacity, 8);
		if (r < 0)
			break;
		plan->desired_owned[plan->desired_owned_count++] = (struct owned_port){
			.protocol = redirect->protocol,
			.port = redirect->port,
			.owner = redirect->owner,
		};
		groups = groups_of(input, redirect->owner);
		for (size_t j = 0; r >= 0 && groups && j < groups->count; j++) {
			const struct cgroup_group *group = &groups->groups[j];

			r = ARRAY_GROW_ONE(plan->desired_owner_elements, plan->desired_owner_element_count,
					   element_capacity, 8);
			if (r < 0)
				break;
			plan->desired_owner_elements[plan->desired_owner_element_count++] = (struct owner_element){
				.protocol = redirect->protocol,
				.port = redirect->port,
				.id = group->id,
			};
			for (unsigned int level = group->level;
			     level <= group->level + group->extra_levels && level <= CGROUP_MAX_LEVEL; level++)
				plan->owner_levels |= (level_set)1 << level;
		}
	}
	if (r >= 0 && plan->desired_owner_element_count)
		qsort(plan->desired_owner_elements, plan->desired_owner_element_count,
		      sizeof(*plan->desired_owner_elements), compare_owner_elements);
	return r;
}

/* "accepting at level 2", "... at levels 2 and 3", "... at levels 2, 3
 * and 4", "accepting at no level". */
static void describe_levels(level_set levels, char *text, size_t size)
{
	size_t used = 0, count = 0, seen = 0;

	for (unsigned int level = 0; level <= CGROUP_MAX_LEVEL; level++)
		count += (levels >> level) & 1;
	if (!count) {
		snprintf(text, size, "accepting at no level");
		return;
	}
	used = (size_t)snprintf(text, size, "accepting at level%s ", count > 1 ? "s" : "");
	for (unsigned int level = 0; level <= CGROUP_MAX_LEVEL && used < size; level++) {
		if (!((levels >> level) & 1))
			continue;
		seen++;
		used += (size_t)snprintf(text + used, size - used, "%s%u",
					 seen == 1 ? "" : seen == count ? " and " : ", ", level);
	}
}

/* None of the gate's objects exists: a table of a mapping without owners. */
static bool gate_absent(const struct table_state *current)
{
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		if (current->owned_sets[i].status != OBJECT_MISSING || current->owner_sets[i].status != OBJECT_MISSING)
			return false;
	}
	for (int i = 0; i < GATE_CHAIN_COUNT; i++) {
		if (current->gate_chains[i].status != OBJECT_MISSING)
			return false;
	}
	return true;
}

static bool gate_intact(const struct table_state *current)
{
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		if (current->owned_sets[i].status != OBJECT_OK || current->owner_sets[i].status != OBJECT_OK)
			return false;
	}
	for (int i = 0; i < GATE_CHAIN_COUNT; i++) {
		if (current->gate_chains[i].status != OBJECT_OK)
			return false;
	}
	return true;
}

/* One object of a gate rebuilt: its line, and whether it is deleted. */
static int rebuild_object(struct plan_builder *builder, const char *kind, const char *name,
			  const struct object_state *object, bool *ret_delete, bool *ret_create)
{
	char line[64];

	snprintf(line, sizeof(line), "%s %s", kind, name);
	*ret_delete = object->status != OBJECT_MISSING;
	*ret_create = true;
	if (object->status == OBJECT_MISSING)
		return plan_add_structure(builder, line, "created", "missing");
	return plan_add_structure(builder, line, "recreated",
				  object->status == OBJECT_ALTERED ? object->reason : "with the owner gate");
}

/* The gate exists while the mapping names owners, and only then: a table
 * of unowned redirects costs the packet path nothing more than before. */
static void create_whole_gate(struct plan *plan)
{
	for (int i = 0; i < PROTOCOL_COUNT; i++)
		plan->create_owned_set[i] = plan->create_owner_set[i] = true;
	for (int i = 0; i < GATE_CHAIN_COUNT; i++)
		plan->create_gate_chain[i] = true;
}

static void delete_existing_gate(struct plan *plan, const struct table_state *current)
{
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		plan->delete_owned_set[i] = current->owned_sets[i].status != OBJECT_MISSING;
		plan->delete_owner_set[i] = current->owner_sets[i].status != OBJECT_MISSING;
	}
	for (int i = 0; i < GATE_CHAIN_COUNT; i++)
		plan->delete_gate_chain[i] = current->gate_chains[i].status != OBJECT_MISSING;
}

int plan_gate_structure(struct plan_builder *builder, const struct plan_input *input, bool create_all)
{
	const struct table_state *current = input->current;
	struct plan *plan = builder->plan;
	bool wanted;
	char levels[160];
	int r;

	r = desired_gate(plan, input);
	if (r < 0)
		return r;
	wanted = plan->desired_owned_count > 0;
	if (create_all) {
		if (wanted)
			create_whole_gate(plan);
		return 0;
	}
	if (!wanted) {
		if (gate_absent(current))
			return 0;
		delete_existing_gate(plan, current);
		return plan_add_structure(builder, "owner gate", "removed", "the mapping names no owners");
	}
	if (gate_absent(current)) {
		create_whole_gate(plan);
		return plan_add_structure(builder, "owner gate", "created", "the mapping names owners");
	}
	if (!gate_intact(current)) {
		/* The sets are referenced by the chains' rules, owner_check by
		 * input's jumps: repairing one means taking its users down
		 * first. The gate holds a few objects and elements: all of it
		 * goes and comes back, in the same batch. */
		for (int i = 0; r >= 0 && i < PROTOCOL_COUNT; i++)
			r = rebuild_object(builder, "set", owned_set_name((enum protocol)i), &current->owned_sets[i],
					   &plan->delete_owned_set[i], &plan->create_owned_set[i]);
		for (int i = 0; r >= 0 && i < PROTOCOL_COUNT; i++)
			r = rebuild_object(builder, "set", owner_set_name((enum protocol)i), &current->owner_sets[i],
					   &plan->delete_owner_set[i], &plan->create_owner_set[i]);
		for (int i = 0; r >= 0 && i < GATE_CHAIN_COUNT; i++)
			r = rebuild_object(builder, "chain", gate_chain_name((enum gate_chain)i), &current->gate_chains[i],
					   &plan->delete_gate_chain[i], &plan->create_gate_chain[i]);
		return r;
	}
	if (current->owner_levels == plan->owner_levels)
		return 0;
	plan->rewrite_owner_check = true;
	describe_levels(plan->owner_levels, levels, sizeof(levels));
	return plan_add_structure(builder, "chain " OWNER_CHECK_CHAIN_NAME, "updated", levels);
}

static int append_owned(struct owned_port **items, size_t *count, size_t *capacity, const struct owned_port *port)
{
	int r = ARRAY_GROW_ONE(*items, *count, *capacity, 8);

	if (r >= 0)
		(*items)[(*count)++] = *port;
	return r;
}

static int append_element(struct owner_element **items, size_t *count, size_t *capacity,
			  const struct owner_element *element)
{
	int r = ARRAY_GROW_ONE(*items, *count, *capacity, 8);

	if (r >= 0)
		(*items)[(*count)++] = *element;
	return r;
}

/* Owned ports to add and delete, in the sets that stay; another owner is
 * its element deleted and added again (the kernel keeps an element's
 * comment as it was first added). */
static int merge_owned(struct plan_builder *builder, const struct table_state *current)
{
	struct plan *plan = builder->plan;
	size_t i = 0, j = 0;
	int r = 0;

	while (r >= 0 && (i < plan->desired_owned_count || j < current->owned_count)) {
		const struct owned_port *want = i < plan->desired_owned_count ? &plan->desired_owned[i] : NULL;
		const struct owned_port *have = j < current->owned_count ? &current->owned[j] : NULL;
		int order = !want ? 1 : !have ? -1 : owned_port_compare(want, have);

		if (order <= 0 && plan->create_owned_set[want->protocol]) {
			i++;
			j += order == 0;
			continue;
		}
		if (order > 0 && plan->create_owned_set[have->protocol]) {
			j++;
			continue;
		}
		if (order < 0 || (order == 0 && !owner_equal(want->owner, have->owner))) {
			if (order == 0)
				r = append_owned(&plan->owned_deletions, &plan->owned_deletion_count,
						 &builder->owned_deletion_capacity, have);
			if (r >= 0)
				r = append_owned(&plan->owned_additions, &plan->owned_addition_count,
						 &builder->owned_addition_capacity, want);
		} else if (order > 0) {
			r = append_owned(&plan->owned_deletions, &plan->owned_deletion_count,
					 &builder->owned_deletion_capacity, have);
		}
		i += order <= 0;
		j += order >= 0;
	}
	return r;
}

/* The same for the groups' elements; marks the owners (by their index in
 * the desired mapping) whose elements of ports they owned already change:
 * their groups changed, which their lines say. */
static int merge_owner_elements(struct plan_builder *builder, const struct plan_input *input, bool *changed_owners)
{
	const struct table_state *current = input->current;
	struct plan *plan = builder->plan;
	size_t i = 0, j = 0;
	int r = 0;

	while (r >= 0 && (i < plan->desired_owner_element_count || j < current->owner_element_count)) {
		const struct owner_element *want =
			i < plan->desired_owner_element_count ? &plan->desired_owner_elements[i] : NULL;
		const struct owner_element *have = j < current->owner_element_count ? &current->owner_elements[j] : NULL;
		int order = !want ? 1 : !have ? -1 : owner_element_compare(want, have);
		const struct owner_element *changed = order < 0 ? want : have;
		const struct redirect *desired, *kernel;

		if (order == 0) {
			i++;
			j++;
			continue;
		}
		if (plan->create_owner_set[changed->protocol]) {
			i += order < 0;
			j += order > 0;
			continue;
		}
		if (order < 0)
			r = append_element(&plan->owner_additions, &plan->owner_addition_count,
					   &builder->owner_addition_capacity, want);
		else
			r = append_element(&plan->owner_deletions, &plan->owner_deletion_count,
					   &builder->owner_deletion_capacity, have);
		i += order < 0;
		j += order > 0;
		/* A port the same owner held before: its group changed. */
		desired = mapping_find_port(input->desired, changed->protocol, changed->port);
		kernel = mapping_find_port(current->mapping, changed->protocol, changed->port);
		if (desired && desired->owner && kernel && owner_equal(desired->owner, kernel->owner))
			changed_owners[desired->owner->index] = true;
	}
	return r;
}

/* "~ owner nginx.service: updated (group /system.slice/nginx.service)",
 * or "cleared (not running)" when none of its groups exists. */
static int owner_line(struct plan_builder *builder, const struct plan_input *input, const struct owner *owner)
{
	const struct owner_groups *groups = groups_of(input, owner);
	char object[OWNER_TEXT_MAX + 16], text[OWNER_TEXT_MAX + 1], reason[OWNER_TEXT_MAX + 48];

	owner_text(owner, text, sizeof(text));
	snprintf(object, sizeof(object), "owner %s", text);
	if (!groups || !groups->count)
		return plan_add_structure(builder, object, "cleared", "not running");
	if (groups->count == 1)
		snprintf(reason, sizeof(reason), "group %s", groups->groups[0].path);
	else
		snprintf(reason, sizeof(reason), "groups %s and %zu more", groups->groups[0].path, groups->count - 1);
	return plan_add_structure(builder, object, "updated", reason);
}

int plan_gate_contents(struct plan_builder *builder, const struct plan_input *input)
{
	const struct mapping *desired = input->desired;
	struct plan *plan = builder->plan;
	bool *changed_owners;
	int r;

	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		if (plan->create_owned_set[i])
			plan->created_owned[i] = owned_of_protocol(plan->desired_owned, plan->desired_owned_count,
								   (enum protocol)i);
		if (plan->create_owner_set[i])
			plan->created_owner_elements[i] =
				owner_elements_of_protocol(plan->desired_owner_elements,
							   plan->desired_owner_element_count, (enum protocol)i);
	}
	/* A gate removed takes its elements with it. */
	if (!plan->desired_owned_count)
		return 0;
	changed_owners = calloc(desired->owner_count ? desired->owner_count : 1, sizeof(*changed_owners));
	if (!changed_owners)
		return -ENOMEM;
	r = merge_owned(builder, input->current);
	if (r >= 0)
		r = merge_owner_elements(builder, input, changed_owners);
	for (size_t i = 0; r >= 0 && i < desired->owner_count; i++) {
		if (changed_owners[i])
			r = owner_line(builder, input, desired->owners[i]);
	}
	free(changed_owners);
	return r;
}
