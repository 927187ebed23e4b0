/* The planner's owner gate as a specification: for a desired mapping with
 * owners, the groups they name now and a kernel state built by hand, the
 * gate's exact operations and change lines. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plan.h"

#define GROUP_PATH "/system.slice/nginx.service"

struct fixture {
	struct mapping *desired;
	struct table_state *current;
	struct cgroup_resolution groups;
	struct owner_groups owner_groups[4];
	struct cgroup_group group[4];
	struct plan_input input;
	struct plan *plan;
};

static void make_layout(struct table_state *current)
{
	current->table_exists = true;
	current->table.status = OBJECT_OK;
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		current->maps[i].status = OBJECT_OK;
		current->owned_sets[i].status = OBJECT_OK;
		current->owner_sets[i].status = OBJECT_OK;
	}
	for (int i = 0; i < CHAIN_COUNT; i++)
		current->chains[i].status = OBJECT_OK;
	for (int i = 0; i < GATE_CHAIN_COUNT; i++)
		current->gate_chains[i].status = OBJECT_OK;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->desired = mapping_new();
	f->current = table_state_new();
	if (!f->desired || !f->current)
		return -1;
	make_layout(f->current);
	f->groups.owners = f->owner_groups;
	f->input = (struct plan_input){ .desired = f->desired, .current = f->current, .groups = &f->groups };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	plan_free(f->plan);
	table_state_free(f->current);
	mapping_free(f->desired);
	free(f);
	return 0;
}

static const struct owner *unit(struct mapping *mapping, const char *name)
{
	const struct owner *owner = mapping_intern_owner(mapping, OWNER_UNIT, name, strlen(name));

	assert_non_null(owner);
	return owner;
}

/* A redirect the file declares, owned by owner (NULL: none). */
static void want(struct fixture *f, enum protocol protocol, uint16_t port, uint16_t target, const char *owner)
{
	const struct redirect redirect = {
		.protocol = protocol,
		.port = port,
		.target = target,
		.location = { "rules.conf", 1, 1 },
		.owner = owner ? unit(f->desired, owner) : NULL,
	};

	assert_int_equal(mapping_add_redirect(f->desired, &redirect), 0);
	mapping_sort(f->desired);
	f->groups.owner_count = f->desired->owner_count;
}

/* The desired owner named owner has the group id now, at level. */
static void running(struct fixture *f, const char *owner, uint64_t id, unsigned int level, unsigned int extra)
{
	const struct owner *found = unit(f->desired, owner);

	f->group[found->index] = (struct cgroup_group){
		.path = (char *)GROUP_PATH,
		.id = id,
		.level = level,
		.extra_levels = extra,
	};
	f->owner_groups[found->index] = (struct owner_groups){
		.owner = found,
		.groups = &f->group[found->index],
		.count = 1,
	};
	f->groups.owner_count = f->desired->owner_count;
}

/* What the kernel holds: the map's element, and owner's owned port. */
static void have(struct fixture *f, enum protocol protocol, uint16_t port, uint16_t target, const char *owner)
{
	struct redirect redirect = { .protocol = protocol, .port = port, .target = target };
	struct table_state *current = f->current;

	if (owner) {
		redirect.owner = unit(current->mapping, owner);
		current->owned = realloc(current->owned, (current->owned_count + 1) * sizeof(*current->owned));
		assert_non_null(current->owned);
		current->owned[current->owned_count++] = (struct owned_port){ protocol, port, redirect.owner };
	}
	assert_int_equal(mapping_add_redirect(current->mapping, &redirect), 0);
}

static void have_group(struct fixture *f, enum protocol protocol, uint16_t port, uint64_t id)
{
	struct table_state *current = f->current;

	current->owner_elements = realloc(current->owner_elements,
					  (current->owner_element_count + 1) * sizeof(*current->owner_elements));
	assert_non_null(current->owner_elements);
	current->owner_elements[current->owner_element_count++] = (struct owner_element){ protocol, port, id };
}

static struct plan *build(struct fixture *f)
{
	plan_free(f->plan);
	f->plan = NULL;
	assert_int_equal(plan_build(&f->input, &f->plan), 0);
	return f->plan;
}

/* Every change line as output.c prints it, joined by newlines. */
static void assert_lines(const struct plan *plan, const char *expected)
{
	const struct change_list list = plan_change_list(plan);
	char text[4096] = "";
	size_t used = 0;

	for (size_t i = 0; i < list.count; i++) {
		const struct change *change = &list.changes[i];
		const struct structure_change *structure;
		char owner[OWNER_TEXT_MAX + 8] = "";

		switch ((enum change_kind)change->kind) {
		case CHANGE_STRUCTURE:
			structure = &list.structures[change->structure];
			used += (size_t)snprintf(text + used, sizeof(text) - used, "%s~ %s: %s (%s)", i ? "\n" : "",
						 structure->object, structure->action, structure->reason);
			break;
		case CHANGE_REDIRECT_ADDED:
		case CHANGE_REDIRECT_REMOVED:
			if (change->owner)
				snprintf(owner, sizeof(owner), " for %s", list.owners[change->owner - 1]->name);
			used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%c redirect %s %u to %u%s",
						 i ? "\n" : "", change->kind == CHANGE_REDIRECT_ADDED ? '+' : '-',
						 protocol_name((enum protocol)change->protocol), change->port,
						 change->target, owner);
			break;
		default:
			used += (size_t)snprintf(text + used, sizeof(text) - used, "%s(other)", i ? "\n" : "");
		}
	}
	assert_string_equal(text, expected);
}

static void assert_owned(const struct owned_port *port, enum protocol protocol, uint16_t port_number, const char *owner)
{
	assert_int_equal(port->protocol, protocol);
	assert_int_equal(port->port, port_number);
	assert_string_equal(port->owner->name, owner);
}

static void assert_element(const struct owner_element *element, enum protocol protocol, uint16_t port, uint64_t id)
{
	assert_int_equal(element->protocol, protocol);
	assert_int_equal(element->port, port);
	assert_true(element->id == id);
}

static void assert_no_gate_structure(const struct plan *plan)
{
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		assert_false(plan->delete_owned_set[i] || plan->create_owned_set[i]);
		assert_false(plan->delete_owner_set[i] || plan->create_owner_set[i]);
	}
	for (int i = 0; i < GATE_CHAIN_COUNT; i++)
		assert_false(plan->delete_gate_chain[i] || plan->create_gate_chain[i]);
}

static void missing_table_creates_the_gate_with_the_owned_port_and_its_group(void **state)
{
	struct fixture *f = *state;
	struct plan *plan;

	f->current->table_exists = false;
	want(f, PROTOCOL_TCP, 80, 8080, "nginx.service");
	running(f, "nginx.service", 7872, 2, 0);
	plan = build(f);
	assert_lines(plan, "~ table inet portredir: created (missing)\n"
			   "+ redirect tcp 80 to 8080 for nginx.service");
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		assert_true(plan->create_owned_set[i] && plan->create_owner_set[i]);
		assert_false(plan->delete_owned_set[i] || plan->delete_owner_set[i]);
	}
	assert_true(plan->create_gate_chain[GATE_CHAIN_INPUT] && plan->create_gate_chain[GATE_CHAIN_OWNER_CHECK]);
	assert_int_equal(plan->created_owned[PROTOCOL_TCP].count, 1);
	assert_owned(&plan->created_owned[PROTOCOL_TCP].ports[0], PROTOCOL_TCP, 80, "nginx.service");
	assert_int_equal(plan->created_owned[PROTOCOL_UDP].count, 0);
	assert_int_equal(plan->created_owner_elements[PROTOCOL_TCP].count, 1);
	assert_element(&plan->created_owner_elements[PROTOCOL_TCP].elements[0], PROTOCOL_TCP, 80, 7872);
	assert_true(plan->owner_levels == (level_set)1 << 2);
	assert_int_equal(plan->owned_addition_count + plan->owner_addition_count, 0);
}

static void gate_in_sync_gives_an_empty_plan(void **state)
{
	struct fixture *f = *state;

	want(f, PROTOCOL_TCP, 80, 8080, "nginx.service");
	want(f, PROTOCOL_UDP, 443, 8443, "nginx.service");
	running(f, "nginx.service", 7872, 2, 0);
	have(f, PROTOCOL_TCP, 80, 8080, "nginx.service");
	have(f, PROTOCOL_UDP, 443, 8443, "nginx.service");
	have_group(f, PROTOCOL_TCP, 80, 7872);
	have_group(f, PROTOCOL_UDP, 443, 7872);
	f->current->owner_levels = (level_set)1 << 2;
	assert_true(plan_is_empty(build(f)));
	assert_false(plan_changes_kernel_tables(f->plan));
}

/* A restarted service: a new group, a new ID; one small transaction. */
static void restarted_owner_replaces_the_stale_id(void **state)
{
	struct fixture *f = *state;
	struct plan *plan;

	want(f, PROTOCOL_TCP, 80, 8080, "nginx.service");
	running(f, "nginx.service", 9133, 2, 0);
	have(f, PROTOCOL_TCP, 80, 8080, "nginx.service");
	have_group(f, PROTOCOL_TCP, 80, 7872);
	f->current->owner_levels = (level_set)1 << 2;
	plan = build(f);
	assert_lines(plan, "~ owner nginx.service: updated (group " GROUP_PATH ")");
	assert_int_equal(plan->owner_deletion_count, 1);
	assert_element(&plan->owner_deletions[0], PROTOCOL_TCP, 80, 7872);
	assert_int_equal(plan->owner_addition_count, 1);
	assert_element(&plan->owner_additions[0], PROTOCOL_TCP, 80, 9133);
	assert_int_equal(plan->deletion_count + plan->addition_count, 0);
	assert_int_equal(plan->owned_deletion_count + plan->owned_addition_count, 0);
	assert_false(plan->rewrite_owner_check);
	assert_no_gate_structure(plan);
	assert_true(plan_changes_kernel_tables(plan));
}

/* Stopped: the ID goes, and owner_check no longer accepts at its level;
 * the port stays owned, so connections are refused. */
static void stopped_owner_clears_its_groups(void **state)
{
	struct fixture *f = *state;
	struct plan *plan;

	want(f, PROTOCOL_TCP, 80, 8080, "nginx.service");
	have(f, PROTOCOL_TCP, 80, 8080, "nginx.service");
	have_group(f, PROTOCOL_TCP, 80, 7872);
	f->current->owner_levels = (level_set)1 << 2;
	plan = build(f);
	assert_lines(plan, "~ chain owner_check: updated (accepting at no level)\n"
			   "~ owner nginx.service: cleared (not running)");
	assert_int_equal(plan->owner_deletion_count, 1);
	assert_element(&plan->owner_deletions[0], PROTOCOL_TCP, 80, 7872);
	assert_int_equal(plan->owner_addition_count, 0);
	assert_int_equal(plan->owned_deletion_count, 0);
	assert_true(plan->rewrite_owner_check);
	assert_true(plan->owner_levels == 0);
}

static void owner_added_to_a_redirect_keeps_the_maps_element(void **state)
{
	struct fixture *f = *state;
	struct plan *plan;

	want(f, PROTOCOL_TCP, 80, 8080, "nginx.service");
	running(f, "nginx.service", 7872, 2, 0);
	have(f, PROTOCOL_TCP, 80, 8080, NULL);
	plan = build(f);
	assert_lines(plan, "~ chain owner_check: updated (accepting at level 2)\n"
			   "- redirect tcp 80 to 8080\n"
			   "+ redirect tcp 80 to 8080 for nginx.service");
	assert_int_equal(plan->deletion_count + plan->addition_count, 0);
	assert_int_equal(plan->owned_addition_count, 1);
	assert_owned(&plan->owned_additions[0], PROTOCOL_TCP, 80, "nginx.service");
	assert_int_equal(plan->owner_addition_count, 1);
	assert_element(&plan->owner_additions[0], PROTOCOL_TCP, 80, 7872);
}

/* The kernel keeps a comment as the element was added: another owner is
 * the element deleted and added again. */
static void another_owner_replaces_the_owned_element(void **state)
{
	struct fixture *f = *state;
	struct plan *plan;

	want(f, PROTOCOL_TCP, 80, 8080, "web.service");
	running(f, "web.service", 9000, 2, 0);
	have(f, PROTOCOL_TCP, 80, 8080, "nginx.service");
	have_group(f, PROTOCOL_TCP, 80, 7872);
	f->current->owner_levels = (level_set)1 << 2;
	plan = build(f);
	assert_lines(plan, "- redirect tcp 80 to 8080 for nginx.service\n"
			   "+ redirect tcp 80 to 8080 for web.service");
	assert_int_equal(plan->owned_deletion_count, 1);
	assert_owned(&plan->owned_deletions[0], PROTOCOL_TCP, 80, "nginx.service");
	assert_int_equal(plan->owned_addition_count, 1);
	assert_owned(&plan->owned_additions[0], PROTOCOL_TCP, 80, "web.service");
	assert_int_equal(plan->owner_deletion_count, 1);
	assert_int_equal(plan->owner_addition_count, 1);
	assert_int_equal(plan->deletion_count + plan->addition_count, 0);
}

static void owned_redirect_removed_takes_its_gate_elements(void **state)
{
	struct fixture *f = *state;
	struct plan *plan;

	want(f, PROTOCOL_TCP, 80, 8080, "nginx.service");
	running(f, "nginx.service", 7872, 2, 0);
	have(f, PROTOCOL_TCP, 80, 8080, "nginx.service");
	have(f, PROTOCOL_UDP, 443, 8443, "nginx.service");
	have_group(f, PROTOCOL_TCP, 80, 7872);
	have_group(f, PROTOCOL_UDP, 443, 7872);
	f->current->owner_levels = (level_set)1 << 2;
	plan = build(f);
	assert_lines(plan, "- redirect udp 443 to 8443 for nginx.service");
	assert_int_equal(plan->deletion_count, 1);
	assert_int_equal(plan->owned_deletion_count, 1);
	assert_owned(&plan->owned_deletions[0], PROTOCOL_UDP, 443, "nginx.service");
	assert_int_equal(plan->owner_deletion_count, 1);
	assert_element(&plan->owner_deletions[0], PROTOCOL_UDP, 443, 7872);
	assert_no_gate_structure(plan);
}

/* The last owner clause gone: the gate goes, with its elements. */
static void last_owner_gone_removes_the_gate(void **state)
{
	struct fixture *f = *state;
	struct plan *plan;

	want(f, PROTOCOL_TCP, 80, 8080, NULL);
	have(f, PROTOCOL_TCP, 80, 8080, "nginx.service");
	have_group(f, PROTOCOL_TCP, 80, 7872);
	f->current->owner_levels = (level_set)1 << 2;
	plan = build(f);
	assert_lines(plan, "~ owner gate: removed (the mapping names no owners)\n"
			   "- redirect tcp 80 to 8080 for nginx.service\n"
			   "+ redirect tcp 80 to 8080");
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		assert_true(plan->delete_owned_set[i] && plan->delete_owner_set[i]);
		assert_false(plan->create_owned_set[i] || plan->create_owner_set[i]);
	}
	assert_true(plan->delete_gate_chain[GATE_CHAIN_INPUT] && plan->delete_gate_chain[GATE_CHAIN_OWNER_CHECK]);
	assert_false(plan->create_gate_chain[GATE_CHAIN_INPUT]);
	assert_int_equal(plan->deletion_count + plan->addition_count, 0);
	assert_int_equal(plan->owned_deletion_count + plan->owner_deletion_count, 0);
}

/* Someone deleted a set: the gate is rebuilt, all of it, in the batch. */
static void missing_owner_set_rebuilds_the_gate(void **state)
{
	struct fixture *f = *state;
	struct plan *plan;

	want(f, PROTOCOL_TCP, 80, 8080, "nginx.service");
	running(f, "nginx.service", 7872, 2, 0);
	have(f, PROTOCOL_TCP, 80, 8080, "nginx.service");
	f->current->owner_sets[PROTOCOL_UDP].status = OBJECT_MISSING;
	f->current->owner_levels = (level_set)1 << 2;
	plan = build(f);
	assert_lines(plan, "~ set tcp_owned: recreated (with the owner gate)\n"
			   "~ set udp_owned: recreated (with the owner gate)\n"
			   "~ set tcp_owners: recreated (with the owner gate)\n"
			   "~ set udp_owners: created (missing)\n"
			   "~ chain input: recreated (with the owner gate)\n"
			   "~ chain owner_check: recreated (with the owner gate)");
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		assert_true(plan->delete_owned_set[i] && plan->create_owned_set[i]);
		assert_true(plan->create_owner_set[i]);
	}
	assert_true(plan->delete_owner_set[PROTOCOL_TCP]);
	assert_false(plan->delete_owner_set[PROTOCOL_UDP]);
	assert_true(plan->delete_gate_chain[GATE_CHAIN_INPUT] && plan->delete_gate_chain[GATE_CHAIN_OWNER_CHECK]);
	assert_int_equal(plan->created_owned[PROTOCOL_TCP].count, 1);
	assert_int_equal(plan->created_owner_elements[PROTOCOL_TCP].count, 1);
	assert_int_equal(plan->owned_addition_count + plan->owner_addition_count + plan->owned_deletion_count +
				 plan->owner_deletion_count, 0);
}

/* A mapping without owners has no gate; the first owner clause brings it. */
static void first_owner_creates_the_gate(void **state)
{
	struct fixture *f = *state;
	struct plan *plan;

	for (int i = 0; i < PROTOCOL_COUNT; i++)
		f->current->owned_sets[i].status = f->current->owner_sets[i].status = OBJECT_MISSING;
	for (int i = 0; i < GATE_CHAIN_COUNT; i++)
		f->current->gate_chains[i].status = OBJECT_MISSING;
	want(f, PROTOCOL_TCP, 80, 8080, "nginx.service");
	running(f, "nginx.service", 7872, 2, 0);
	have(f, PROTOCOL_TCP, 80, 8080, NULL);
	plan = build(f);
	assert_lines(plan, "~ owner gate: created (the mapping names owners)\n"
			   "- redirect tcp 80 to 8080\n"
			   "+ redirect tcp 80 to 8080 for nginx.service");
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		assert_false(plan->delete_owned_set[i] || plan->delete_owner_set[i]);
		assert_true(plan->create_owned_set[i] && plan->create_owner_set[i]);
	}
	assert_true(plan->create_gate_chain[GATE_CHAIN_INPUT] && plan->create_gate_chain[GATE_CHAIN_OWNER_CHECK]);
	assert_int_equal(plan->created_owned[PROTOCOL_TCP].count, 1);
	assert_int_equal(plan->created_owner_elements[PROTOCOL_TCP].count, 1);
	assert_true(plan->owner_levels == (level_set)1 << 2);
	assert_int_equal(plan->deletion_count + plan->addition_count, 0);
}

/* Unowned mappings: no gate, and none made; the packet path is as
 * before owners existed. */
static void unowned_mapping_has_no_gate(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < PROTOCOL_COUNT; i++)
		f->current->owned_sets[i].status = f->current->owner_sets[i].status = OBJECT_MISSING;
	for (int i = 0; i < GATE_CHAIN_COUNT; i++)
		f->current->gate_chains[i].status = OBJECT_MISSING;
	f->input.groups = NULL;
	want(f, PROTOCOL_TCP, 80, 8080, NULL);
	have(f, PROTOCOL_TCP, 80, 8080, NULL);
	assert_true(plan_is_empty(build(f)));
	assert_no_gate_structure(f->plan);
}

static void missing_table_of_an_unowned_mapping_gets_no_gate(void **state)
{
	struct fixture *f = *state;

	f->current->table_exists = false;
	f->input.groups = NULL;
	want(f, PROTOCOL_TCP, 80, 8080, NULL);
	assert_no_gate_structure(build(f));
	assert_true(f->plan->create_table);
}

static void levels_follow_the_groups_found(void **state)
{
	struct fixture *f = *state;
	struct plan *plan;

	want(f, PROTOCOL_TCP, 80, 8080, "nginx.service");
	running(f, "nginx.service", 7872, 3, 0);
	have(f, PROTOCOL_TCP, 80, 8080, "nginx.service");
	have_group(f, PROTOCOL_TCP, 80, 7872);
	f->current->owner_levels = (level_set)1 << 2;
	plan = build(f);
	assert_lines(plan, "~ chain owner_check: updated (accepting at level 3)");
	assert_true(plan->rewrite_owner_check);
	assert_true(plan->owner_levels == (level_set)1 << 3);
}

/* In a cgroup namespace a group may be at its depth or up to extra below. */
static void a_group_of_unknown_depth_is_accepted_at_every_level_it_may_have(void **state)
{
	struct fixture *f = *state;
	struct plan *plan;

	want(f, PROTOCOL_TCP, 80, 8080, "nginx.service");
	running(f, "nginx.service", 7872, 2, 3);
	have(f, PROTOCOL_TCP, 80, 8080, "nginx.service");
	have_group(f, PROTOCOL_TCP, 80, 7872);
	plan = build(f);
	assert_lines(plan, "~ chain owner_check: updated (accepting at levels 2, 3, 4 and 5)");
	assert_true(plan->owner_levels == ((level_set)0xf << 2));
}

/* A foreign rule in a gate chain could update a map from the packet path
 * until the batch: the result is not known, nothing is recorded. */
static void altered_gate_chain_makes_the_result_unknown(void **state)
{
	struct fixture *f = *state;

	f->current->gate_chains[GATE_CHAIN_INPUT].status = OBJECT_ALTERED;
	assert_false(build(f)->result_known);
	assert_null(f->plan->result);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(missing_table_creates_the_gate_with_the_owned_port_and_its_group, setup,
						teardown),
		cmocka_unit_test_setup_teardown(gate_in_sync_gives_an_empty_plan, setup, teardown),
		cmocka_unit_test_setup_teardown(restarted_owner_replaces_the_stale_id, setup, teardown),
		cmocka_unit_test_setup_teardown(stopped_owner_clears_its_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(owner_added_to_a_redirect_keeps_the_maps_element, setup, teardown),
		cmocka_unit_test_setup_teardown(another_owner_replaces_the_owned_element, setup, teardown),
		cmocka_unit_test_setup_teardown(owned_redirect_removed_takes_its_gate_elements, setup, teardown),
		cmocka_unit_test_setup_teardown(last_owner_gone_removes_the_gate, setup, teardown),
		cmocka_unit_test_setup_teardown(missing_owner_set_rebuilds_the_gate, setup, teardown),
		cmocka_unit_test_setup_teardown(first_owner_creates_the_gate, setup, teardown),
		cmocka_unit_test_setup_teardown(unowned_mapping_has_no_gate, setup, teardown),
		cmocka_unit_test_setup_teardown(missing_table_of_an_unowned_mapping_gets_no_gate, setup, teardown),
		cmocka_unit_test_setup_teardown(levels_follow_the_groups_found, setup, teardown),
		cmocka_unit_test_setup_teardown(a_group_of_unknown_depth_is_accepted_at_every_level_it_may_have, setup,
						teardown),
		cmocka_unit_test_setup_teardown(altered_gate_chain_makes_the_result_unknown, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
