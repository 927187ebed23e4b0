/* The planner as a specification: for a desired mapping and a kernel state
 * built by hand, the exact operations and change lines plan_build() gives. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "mapping.h"
#include "plan.h"
#include "state.h"

#define FILE_NAME "rules.conf"

/* Redirects from the file carry a location; those from the kernel do not.
 * Change lines keep only protocol, port and target: the target tells which
 * side a change reports (the kernel's for removals, the file's for
 * additions). */
static struct redirect file_redirect(enum protocol protocol, uint16_t port, uint16_t target, unsigned int line)
{
	const struct redirect redirect = {
		.protocol = protocol,
		.port = port,
		.target = target,
		.location = { FILE_NAME, line, 1 },
		.port_column = 14,
		.target_column = 21,
	};

	return redirect;
}

static struct redirect kernel_redirect(enum protocol protocol, uint16_t port, uint16_t target)
{
	const struct redirect redirect = { .protocol = protocol, .port = port, .target = target };

	return redirect;
}

static void add(struct mapping *mapping, struct redirect redirect)
{
	assert_int_equal(mapping_add_redirect(mapping, &redirect), 0);
}

/* Every test plans from one fixture: an empty desired mapping, a kernel
 * state (the table missing, or exactly the layout with empty maps), the
 * planner's input naming both, and the plan, all freed by teardown. */
struct fixture {
	struct mapping *desired;
	struct table_state *current;
	struct plan_input input;
	struct plan *plan;
};

/* The whole table as the layout says, its maps empty. */
static void make_layout(struct table_state *current)
{
	current->table_exists = true;
	current->table.status = OBJECT_OK;
	for (int i = 0; i < PROTOCOL_COUNT; i++)
		current->maps[i].status = current->count_sets[i].status = OBJECT_OK;
	for (int i = 0; i < CHAIN_COUNT; i++)
		current->chains[i].status = OBJECT_OK;
}

static int setup_without_table(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->desired = mapping_new();
	f->current = table_state_new();
	if (!f->desired || !f->current) {
		mapping_free(f->desired);
		table_state_free(f->current);
		free(f);
		return -1;
	}
	f->input = (struct plan_input){ .desired = f->desired, .current = f->current };
	*state = f;
	return 0;
}

static int setup_with_layout(void **state)
{
	int r = setup_without_table(state);

	if (r == 0)
		make_layout(((struct fixture *)*state)->current);
	return r;
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

static void set_status(struct object_state *object, enum object_status status, const char *reason)
{
	object->status = status;
	snprintf(object->reason, sizeof(object->reason), "%s", reason);
}

/* Plans from the fixture's input, replacing the plan built before. */
static struct plan *build(struct fixture *f)
{
	plan_free(f->plan);
	f->plan = NULL;
	assert_int_equal(plan_build(&f->input, &f->plan), 0);
	assert_non_null(f->plan);
	/* What the writer records after the commit, when it is known. */
	assert_ptr_equal(f->plan->result,
			 f->plan->result_known ? (f->plan->kernel_form ? f->plan->kernel_form : f->desired) : NULL);
	return f->plan;
}

static void assert_location_equal(const struct location *actual, const struct location *expected)
{
	if (expected->file)
		assert_string_equal(actual->file, expected->file);
	else
		assert_null(actual->file);
	assert_int_equal(actual->line, expected->line);
	assert_int_equal(actual->column, expected->column);
}

static void assert_redirect_equal(const struct redirect *actual, const struct redirect *expected)
{
	assert_int_equal(actual->protocol, expected->protocol);
	assert_int_equal(actual->port, expected->port);
	assert_int_equal(actual->target, expected->target);
	assert_location_equal(&actual->location, &expected->location);
	assert_int_equal(actual->port_column, expected->port_column);
	assert_int_equal(actual->target_column, expected->target_column);
}

/* Every structural field of the plan, against the ones expected set. */
static void assert_operations(const struct plan *plan, const struct plan *expected)
{
	assert_int_equal(plan->delete_table, expected->delete_table);
	assert_int_equal(plan->create_table, expected->create_table);
	for (int i = 0; i < CHAIN_COUNT; i++) {
		assert_int_equal(plan->delete_chain[i], expected->delete_chain[i]);
		assert_int_equal(plan->create_chain[i], expected->create_chain[i]);
	}
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		assert_int_equal(plan->delete_map[i], expected->delete_map[i]);
		assert_int_equal(plan->create_map[i], expected->create_map[i]);
		assert_int_equal(plan->delete_count_set[i], expected->delete_count_set[i]);
		assert_int_equal(plan->create_count_set[i], expected->create_count_set[i]);
	}
	assert_int_equal(plan->record_original_port_start, expected->record_original_port_start);
	assert_int_equal(plan->original_port_start, expected->original_port_start);
	assert_int_equal(plan->write_port_start, expected->write_port_start);
	assert_int_equal(plan->port_start, expected->port_start);
}

static const struct plan no_operations;

static const struct plan create_everything = {
	.create_table = true,
	.create_map = { true, true },
	.create_count_set = { true, true },
	.create_chain = { true, true },
};

/* Changes are compared field by field: each kind leaves the others zero. */
static void assert_structure_change(const struct plan *plan, const struct change *change, const char *object,
				    const char *action, const char *reason)
{
	const struct structure_change *structure;

	assert_int_equal(change->kind, CHANGE_STRUCTURE);
	assert_in_range(change->structure, 0, plan->structure_change_count - 1);
	structure = &plan->structure_changes[change->structure];
	assert_string_equal(structure->object, object);
	assert_string_equal(structure->action, action);
	assert_string_equal(structure->reason, reason);
	assert_int_equal(change->protocol, 0);
	assert_int_equal(change->port, 0);
	assert_int_equal(change->target, 0);
	assert_int_equal(change->port_start, 0);
}

static void assert_redirect_change(const struct change *change, enum change_kind kind, const struct redirect *redirect)
{
	assert_int_equal(change->kind, kind);
	assert_int_equal(change->protocol, redirect->protocol);
	assert_int_equal(change->port, redirect->port);
	assert_int_equal(change->target, redirect->target);
	assert_int_equal(change->structure, 0);
	assert_int_equal(change->port_start, 0);
}

static void assert_port_start_change(const struct change *change, enum change_kind kind, unsigned int value)
{
	assert_int_equal(change->kind, kind);
	assert_int_equal(change->protocol, 0);
	assert_int_equal(change->port, 0);
	assert_int_equal(change->target, 0);
	assert_int_equal(change->structure, 0);
	assert_int_equal(change->port_start, value);
}

static void assert_no_element_operations(const struct plan *plan)
{
	assert_int_equal(plan->addition_count, 0);
	assert_null(plan->additions);
	assert_int_equal(plan->deletion_count, 0);
	assert_null(plan->deletions);
}

static void empty_mapping_and_missing_table_creates_the_whole_table(void **state)
{
	struct fixture *f = *state;
	struct plan *plan = build(f);

	assert_operations(plan, &create_everything);
	assert_no_element_operations(plan);
	assert_int_equal(plan->change_count, 1);
	assert_structure_change(plan, &plan->changes[0], "table inet portredir", "created", "missing");
	assert_false(plan_is_empty(plan));
}

static void missing_table_reports_every_redirect_added_after_the_table_and_sends_no_element_operations(void **state)
{
	const struct redirect tcp_80 = file_redirect(PROTOCOL_TCP, 80, 8080, 1);
	const struct redirect tcp_443 = file_redirect(PROTOCOL_TCP, 443, 8443, 2);
	const struct redirect udp_443 = file_redirect(PROTOCOL_UDP, 443, 8443, 3);
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct plan *plan;

	add(desired, udp_443);
	add(desired, tcp_443);
	add(desired, tcp_80);
	mapping_sort(desired);
	plan = build(f);
	assert_operations(plan, &create_everything);
	assert_no_element_operations(plan);
	assert_int_equal(plan->change_count, 4);
	assert_structure_change(plan, &plan->changes[0], "table inet portredir", "created", "missing");
	assert_redirect_change(&plan->changes[1], CHANGE_REDIRECT_ADDED, &tcp_80);
	assert_redirect_change(&plan->changes[2], CHANGE_REDIRECT_ADDED, &tcp_443);
	assert_redirect_change(&plan->changes[3], CHANGE_REDIRECT_ADDED, &udp_443);
}

static void table_in_sync_gives_an_empty_plan(void **state)
{
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct table_state *current = f->current;
	struct plan *plan;

	add(desired, file_redirect(PROTOCOL_TCP, 80, 8080, 1));
	add(desired, file_redirect(PROTOCOL_UDP, 443, 8443, 2));
	mapping_sort(desired);
	add(current->mapping, kernel_redirect(PROTOCOL_TCP, 80, 8080));
	add(current->mapping, kernel_redirect(PROTOCOL_UDP, 443, 8443));
	mapping_sort(current->mapping);
	plan = build(f);
	assert_true(plan_is_empty(plan));
	assert_operations(plan, &no_operations);
	assert_no_element_operations(plan);
	assert_int_equal(plan->change_count, 0);
	assert_null(plan->changes);
}

static void empty_mapping_and_empty_table_in_sync_gives_an_empty_plan(void **state)
{
	struct fixture *f = *state;
	struct plan *plan = build(f);

	assert_true(plan_is_empty(plan));
	assert_operations(plan, &no_operations);
	assert_no_element_operations(plan);
	assert_int_equal(plan->change_count, 0);
}

static void redirect_only_in_the_file_is_added_as_one_element(void **state)
{
	const struct redirect added = file_redirect(PROTOCOL_TCP, 443, 8443, 2);
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct table_state *current = f->current;
	struct plan *plan;

	add(desired, file_redirect(PROTOCOL_TCP, 80, 8080, 1));
	add(desired, added);
	mapping_sort(desired);
	add(current->mapping, kernel_redirect(PROTOCOL_TCP, 80, 8080));
	plan = build(f);
	assert_false(plan_is_empty(plan));
	assert_operations(plan, &no_operations);
	assert_int_equal(plan->change_count, 1);
	assert_redirect_change(&plan->changes[0], CHANGE_REDIRECT_ADDED, &added);
	assert_int_equal(plan->addition_count, 1);
	assert_redirect_equal(&plan->additions[0], &added);
	assert_int_equal(plan->deletion_count, 0);
	assert_null(plan->deletions);
}

static void redirect_only_in_the_kernel_is_removed_as_one_element(void **state)
{
	const struct redirect removed = kernel_redirect(PROTOCOL_TCP, 8000, 8001);
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct table_state *current = f->current;
	struct plan *plan;

	add(desired, file_redirect(PROTOCOL_TCP, 80, 8080, 1));
	add(current->mapping, kernel_redirect(PROTOCOL_TCP, 80, 8080));
	add(current->mapping, removed);
	plan = build(f);
	assert_false(plan_is_empty(plan));
	assert_operations(plan, &no_operations);
	assert_int_equal(plan->change_count, 1);
	assert_redirect_change(&plan->changes[0], CHANGE_REDIRECT_REMOVED, &removed);
	assert_int_equal(plan->deletion_count, 1);
	assert_redirect_equal(&plan->deletions[0], &removed);
	assert_int_equal(plan->addition_count, 0);
	assert_null(plan->additions);
}

static void redirect_with_a_new_target_removes_the_old_element_then_adds_the_new(void **state)
{
	const struct redirect old = kernel_redirect(PROTOCOL_UDP, 443, 8443);
	const struct redirect new = file_redirect(PROTOCOL_UDP, 443, 9443, 1);
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct table_state *current = f->current;
	struct plan *plan;

	add(desired, new);
	add(current->mapping, old);
	plan = build(f);
	assert_operations(plan, &no_operations);
	assert_int_equal(plan->change_count, 2);
	assert_redirect_change(&plan->changes[0], CHANGE_REDIRECT_REMOVED, &old);
	assert_redirect_change(&plan->changes[1], CHANGE_REDIRECT_ADDED, &new);
	assert_int_equal(plan->deletion_count, 1);
	assert_redirect_equal(&plan->deletions[0], &old);
	assert_int_equal(plan->addition_count, 1);
	assert_redirect_equal(&plan->additions[0], &new);
}

/* The file adds tcp 22, 443 and udp 53, 8000; the kernel has tcp 80, 1000
 * and udp 443, 9000 to remove, and tcp 25 and udp 123 in common. */
static void changes_list_tcp_before_udp_then_ports_ascending_whichever_side_they_come_from(void **state)
{
	const struct redirect tcp_22 = file_redirect(PROTOCOL_TCP, 22, 2222, 6);
	const struct redirect tcp_80 = kernel_redirect(PROTOCOL_TCP, 80, 8080);
	const struct redirect tcp_443 = file_redirect(PROTOCOL_TCP, 443, 8443, 1);
	const struct redirect tcp_1000 = kernel_redirect(PROTOCOL_TCP, 1000, 1001);
	const struct redirect udp_53 = file_redirect(PROTOCOL_UDP, 53, 5353, 4);
	const struct redirect udp_443 = kernel_redirect(PROTOCOL_UDP, 443, 8443);
	const struct redirect udp_8000 = file_redirect(PROTOCOL_UDP, 8000, 8001, 2);
	const struct redirect udp_9000 = kernel_redirect(PROTOCOL_UDP, 9000, 9001);
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct table_state *current = f->current;
	struct plan *plan;

	add(desired, tcp_443);
	add(desired, udp_8000);
	add(desired, file_redirect(PROTOCOL_TCP, 25, 2525, 3));
	add(desired, udp_53);
	add(desired, file_redirect(PROTOCOL_UDP, 123, 1123, 5));
	add(desired, tcp_22);
	mapping_sort(desired);
	add(current->mapping, udp_9000);
	add(current->mapping, tcp_80);
	add(current->mapping, kernel_redirect(PROTOCOL_UDP, 123, 1123));
	add(current->mapping, udp_443);
	add(current->mapping, tcp_1000);
	add(current->mapping, kernel_redirect(PROTOCOL_TCP, 25, 2525));
	mapping_sort(current->mapping);
	plan = build(f);
	assert_operations(plan, &no_operations);
	assert_int_equal(plan->change_count, 8);
	assert_redirect_change(&plan->changes[0], CHANGE_REDIRECT_ADDED, &tcp_22);
	assert_redirect_change(&plan->changes[1], CHANGE_REDIRECT_REMOVED, &tcp_80);
	assert_redirect_change(&plan->changes[2], CHANGE_REDIRECT_ADDED, &tcp_443);
	assert_redirect_change(&plan->changes[3], CHANGE_REDIRECT_REMOVED, &tcp_1000);
	assert_redirect_change(&plan->changes[4], CHANGE_REDIRECT_ADDED, &udp_53);
	assert_redirect_change(&plan->changes[5], CHANGE_REDIRECT_REMOVED, &udp_443);
	assert_redirect_change(&plan->changes[6], CHANGE_REDIRECT_ADDED, &udp_8000);
	assert_redirect_change(&plan->changes[7], CHANGE_REDIRECT_REMOVED, &udp_9000);
	assert_int_equal(plan->addition_count, 4);
	assert_redirect_equal(&plan->additions[0], &tcp_22);
	assert_redirect_equal(&plan->additions[1], &tcp_443);
	assert_redirect_equal(&plan->additions[2], &udp_53);
	assert_redirect_equal(&plan->additions[3], &udp_8000);
	assert_int_equal(plan->deletion_count, 4);
	assert_redirect_equal(&plan->deletions[0], &tcp_80);
	assert_redirect_equal(&plan->deletions[1], &tcp_1000);
	assert_redirect_equal(&plan->deletions[2], &udp_443);
	assert_redirect_equal(&plan->deletions[3], &udp_9000);
}

static void altered_table_is_recreated_with_its_reason_and_redirects_still_compared_with_the_kernel(void **state)
{
	const struct redirect tcp_80_old = kernel_redirect(PROTOCOL_TCP, 80, 8000);
	const struct redirect tcp_80_new = file_redirect(PROTOCOL_TCP, 80, 8080, 1);
	const struct redirect udp_53 = kernel_redirect(PROTOCOL_UDP, 53, 5353);
	const struct redirect udp_443 = file_redirect(PROTOCOL_UDP, 443, 8443, 2);
	const struct plan expected = {
		.delete_table = true,
		.create_table = true,
		.create_map = { true, true },
		.create_count_set = { true, true },
		.create_chain = { true, true },
	};
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct table_state *current = f->current;
	struct plan *plan;

	set_status(&current->table, OBJECT_ALTERED, "unexpected chain 'foo' found");
	add(desired, tcp_80_new);
	add(desired, udp_443);
	add(desired, file_redirect(PROTOCOL_UDP, 8000, 8001, 3));
	add(current->mapping, tcp_80_old);
	add(current->mapping, udp_53);
	add(current->mapping, kernel_redirect(PROTOCOL_UDP, 8000, 8001));
	plan = build(f);
	assert_operations(plan, &expected);
	assert_no_element_operations(plan);
	assert_int_equal(plan->change_count, 5);
	assert_structure_change(plan, &plan->changes[0], "table inet portredir", "recreated", "unexpected chain 'foo' found");
	assert_redirect_change(&plan->changes[1], CHANGE_REDIRECT_REMOVED, &tcp_80_old);
	assert_redirect_change(&plan->changes[2], CHANGE_REDIRECT_ADDED, &tcp_80_new);
	assert_redirect_change(&plan->changes[3], CHANGE_REDIRECT_REMOVED, &udp_53);
	assert_redirect_change(&plan->changes[4], CHANGE_REDIRECT_ADDED, &udp_443);
}

static void altered_table_in_sync_otherwise_reports_only_its_recreation(void **state)
{
	const struct plan expected = {
		.delete_table = true,
		.create_table = true,
		.create_map = { true, true },
		.create_count_set = { true, true },
		.create_chain = { true, true },
	};
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct table_state *current = f->current;
	struct plan *plan;

	set_status(&current->table, OBJECT_ALTERED, "table flags changed");
	add(desired, file_redirect(PROTOCOL_TCP, 80, 8080, 1));
	add(current->mapping, kernel_redirect(PROTOCOL_TCP, 80, 8080));
	plan = build(f);
	assert_operations(plan, &expected);
	assert_no_element_operations(plan);
	assert_int_equal(plan->change_count, 1);
	assert_structure_change(plan, &plan->changes[0], "table inet portredir", "recreated", "table flags changed");
}

static void missing_map_is_created_alone(void **state)
{
	const struct plan expected = { .create_map = { [PROTOCOL_UDP] = true } };
	struct fixture *f = *state;
	struct table_state *current = f->current;
	struct plan *plan;

	current->maps[PROTOCOL_UDP].status = OBJECT_MISSING;
	plan = build(f);
	assert_operations(plan, &expected);
	assert_no_element_operations(plan);
	assert_int_equal(plan->change_count, 1);
	assert_structure_change(plan, &plan->changes[0], "map udp_redirects", "created", "missing");
}

static void missing_maps_are_created_tcp_first(void **state)
{
	const struct plan expected = { .create_map = { true, true } };
	struct fixture *f = *state;
	struct table_state *current = f->current;
	struct plan *plan;

	current->maps[PROTOCOL_UDP].status = OBJECT_MISSING;
	current->maps[PROTOCOL_TCP].status = OBJECT_MISSING;
	plan = build(f);
	assert_operations(plan, &expected);
	assert_no_element_operations(plan);
	assert_int_equal(plan->change_count, 2);
	assert_structure_change(plan, &plan->changes[0], "map tcp_redirects", "created", "missing");
	assert_structure_change(plan, &plan->changes[1], "map udp_redirects", "created", "missing");
}

static void altered_map_is_recreated_with_both_chains_whose_rules_use_it(void **state)
{
	const struct plan expected = {
		.delete_map = { [PROTOCOL_TCP] = true },
		.create_map = { [PROTOCOL_TCP] = true },
		.delete_chain = { true, true },
		.create_chain = { true, true },
	};
	struct fixture *f = *state;
	struct table_state *current = f->current;
	struct plan *plan;

	set_status(&current->maps[PROTOCOL_TCP], OBJECT_ALTERED, "map type changed");
	plan = build(f);
	assert_operations(plan, &expected);
	assert_no_element_operations(plan);
	assert_int_equal(plan->change_count, 3);
	assert_structure_change(plan, &plan->changes[0], "map tcp_redirects", "recreated", "map type changed");
	assert_structure_change(plan, &plan->changes[1], "chain prerouting", "recreated", "its rules use a recreated map");
	assert_structure_change(plan, &plan->changes[2], "chain output", "recreated", "its rules use a recreated map");
}

/* A table made before the count sets: its chains hold the rules without
 * the count, and the sets are created before the chains come back. */
static void missing_count_sets_are_created_beside_the_recreated_chains(void **state)
{
	const struct plan expected = {
		.create_count_set = { true, true },
		.delete_chain = { true, true },
		.create_chain = { true, true },
	};
	struct fixture *f = *state;
	struct table_state *current = f->current;
	struct plan *plan;

	current->count_sets[PROTOCOL_TCP].status = OBJECT_MISSING;
	current->count_sets[PROTOCOL_UDP].status = OBJECT_MISSING;
	set_status(&current->chains[CHAIN_PREROUTING], OBJECT_ALTERED, "unexpected rule found");
	set_status(&current->chains[CHAIN_OUTPUT], OBJECT_ALTERED, "unexpected rule found");
	plan = build(f);
	assert_operations(plan, &expected);
	assert_no_element_operations(plan);
	assert_true(plan_changes_kernel_tables(plan));
	assert_int_equal(plan->change_count, 4);
	assert_structure_change(plan, &plan->changes[0], "set tcp_counts", "created", "missing");
	assert_structure_change(plan, &plan->changes[1], "set udp_counts", "created", "missing");
	assert_structure_change(plan, &plan->changes[2], "chain prerouting", "recreated", "unexpected rule found");
	assert_structure_change(plan, &plan->changes[3], "chain output", "recreated", "unexpected rule found");
}

static void altered_count_set_is_recreated_with_the_chains_that_use_it(void **state)
{
	const struct plan expected = {
		.delete_count_set = { [PROTOCOL_UDP] = true },
		.create_count_set = { [PROTOCOL_UDP] = true },
		.delete_chain = { true, true },
		.create_chain = { true, true },
	};
	struct fixture *f = *state;
	struct table_state *current = f->current;
	struct plan *plan;

	set_status(&current->count_sets[PROTOCOL_UDP], OBJECT_ALTERED, "set type changed");
	plan = build(f);
	assert_operations(plan, &expected);
	assert_no_element_operations(plan);
	assert_int_equal(plan->change_count, 3);
	assert_structure_change(plan, &plan->changes[0], "set udp_counts", "recreated", "set type changed");
	assert_structure_change(plan, &plan->changes[1], "chain prerouting", "recreated", "its rules use a recreated set");
	assert_structure_change(plan, &plan->changes[2], "chain output", "recreated", "its rules use a recreated set");
}

static void altered_chain_beside_an_altered_map_keeps_its_own_reason(void **state)
{
	const struct plan expected = {
		.delete_map = { [PROTOCOL_UDP] = true },
		.create_map = { [PROTOCOL_UDP] = true },
		.delete_chain = { true, true },
		.create_chain = { true, true },
	};
	struct fixture *f = *state;
	struct table_state *current = f->current;
	struct plan *plan;

	set_status(&current->maps[PROTOCOL_UDP], OBJECT_ALTERED, "unexpected element found");
	set_status(&current->chains[CHAIN_OUTPUT], OBJECT_ALTERED, "unexpected rule found");
	plan = build(f);
	assert_operations(plan, &expected);
	assert_no_element_operations(plan);
	assert_int_equal(plan->change_count, 3);
	assert_structure_change(plan, &plan->changes[0], "map udp_redirects", "recreated", "unexpected element found");
	assert_structure_change(plan, &plan->changes[1], "chain prerouting", "recreated", "its rules use a recreated map");
	assert_structure_change(plan, &plan->changes[2], "chain output", "recreated", "unexpected rule found");
}

static void missing_chain_is_created_alone(void **state)
{
	const struct plan expected = { .create_chain = { [CHAIN_OUTPUT] = true } };
	struct fixture *f = *state;
	struct table_state *current = f->current;
	struct plan *plan;

	current->chains[CHAIN_OUTPUT].status = OBJECT_MISSING;
	plan = build(f);
	assert_operations(plan, &expected);
	assert_no_element_operations(plan);
	assert_int_equal(plan->change_count, 1);
	assert_structure_change(plan, &plan->changes[0], "chain output", "created", "missing");
}

static void altered_chain_is_recreated_alone_with_its_reason(void **state)
{
	const struct plan expected = {
		.delete_chain = { [CHAIN_PREROUTING] = true },
		.create_chain = { [CHAIN_PREROUTING] = true },
	};
	struct fixture *f = *state;
	struct table_state *current = f->current;
	struct plan *plan;

	set_status(&current->chains[CHAIN_PREROUTING], OBJECT_ALTERED, "unexpected rule found");
	plan = build(f);
	assert_operations(plan, &expected);
	assert_no_element_operations(plan);
	assert_int_equal(plan->change_count, 1);
	assert_structure_change(plan, &plan->changes[0], "chain prerouting", "recreated", "unexpected rule found");
}

/* The udp map is missing, so it has no elements in the kernel: its
 * redirects are reported added, but they reach the kernel with the map
 * (plan->created_map_elements), not as element additions. The tcp map
 * stays. */
static void redirects_of_a_created_map_are_reported_but_not_element_operations(void **state)
{
	const struct redirect tcp_80_old = kernel_redirect(PROTOCOL_TCP, 80, 8000);
	const struct redirect tcp_80_new = file_redirect(PROTOCOL_TCP, 80, 8080, 1);
	const struct redirect udp_53 = file_redirect(PROTOCOL_UDP, 53, 5353, 2);
	const struct redirect udp_443 = file_redirect(PROTOCOL_UDP, 443, 8443, 3);
	const struct plan expected = { .create_map = { [PROTOCOL_UDP] = true } };
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct table_state *current = f->current;
	struct plan *plan;

	current->maps[PROTOCOL_UDP].status = OBJECT_MISSING;
	add(desired, tcp_80_new);
	add(desired, udp_53);
	add(desired, udp_443);
	add(current->mapping, tcp_80_old);
	plan = build(f);
	assert_operations(plan, &expected);
	assert_int_equal(plan->change_count, 5);
	assert_structure_change(plan, &plan->changes[0], "map udp_redirects", "created", "missing");
	assert_redirect_change(&plan->changes[1], CHANGE_REDIRECT_REMOVED, &tcp_80_old);
	assert_redirect_change(&plan->changes[2], CHANGE_REDIRECT_ADDED, &tcp_80_new);
	assert_redirect_change(&plan->changes[3], CHANGE_REDIRECT_ADDED, &udp_53);
	assert_redirect_change(&plan->changes[4], CHANGE_REDIRECT_ADDED, &udp_443);
	assert_int_equal(plan->deletion_count, 1);
	assert_redirect_equal(&plan->deletions[0], &tcp_80_old);
	assert_int_equal(plan->addition_count, 1);
	assert_redirect_equal(&plan->additions[0], &tcp_80_new);
	assert_int_equal(plan->created_map_elements[PROTOCOL_TCP].count, 0);
	assert_int_equal(plan->created_map_elements[PROTOCOL_UDP].count, 2);
	assert_ptr_equal(plan->created_map_elements[PROTOCOL_UDP].redirects, &desired->redirects[1]);
	assert_redirect_equal(&plan->created_map_elements[PROTOCOL_UDP].redirects[0], &udp_53);
	assert_redirect_equal(&plan->created_map_elements[PROTOCOL_UDP].redirects[1], &udp_443);
}

/* A created table's maps are filled with the desired redirects of their
 * protocol, borrowed from the input: the writer needs nothing else. */
static void created_table_fills_each_map_with_the_desired_redirects_of_its_protocol(void **state)
{
	const struct redirect tcp_80 = file_redirect(PROTOCOL_TCP, 80, 8080, 1);
	const struct redirect tcp_443 = file_redirect(PROTOCOL_TCP, 443, 8443, 2);
	const struct redirect udp_443 = file_redirect(PROTOCOL_UDP, 443, 8443, 3);
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct plan *plan;

	add(desired, udp_443);
	add(desired, tcp_443);
	add(desired, tcp_80);
	mapping_sort(desired);
	plan = build(f);
	assert_operations(plan, &create_everything);
	assert_no_element_operations(plan);
	assert_int_equal(plan->created_map_elements[PROTOCOL_TCP].count, 2);
	assert_ptr_equal(plan->created_map_elements[PROTOCOL_TCP].redirects, &desired->redirects[0]);
	assert_redirect_equal(&plan->created_map_elements[PROTOCOL_TCP].redirects[0], &tcp_80);
	assert_redirect_equal(&plan->created_map_elements[PROTOCOL_TCP].redirects[1], &tcp_443);
	assert_int_equal(plan->created_map_elements[PROTOCOL_UDP].count, 1);
	assert_redirect_equal(&plan->created_map_elements[PROTOCOL_UDP].redirects[0], &udp_443);
	assert_ptr_equal(plan->result, desired);
}

/* Should the kernel state list elements of a map that is being recreated,
 * they are reported removed, and not deleted one by one: they go with the
 * map. */
static void kernel_redirects_of_a_recreated_map_are_reported_but_not_element_operations(void **state)
{
	const struct redirect udp_53 = kernel_redirect(PROTOCOL_UDP, 53, 5353);
	const struct plan expected = {
		.delete_map = { [PROTOCOL_UDP] = true },
		.create_map = { [PROTOCOL_UDP] = true },
		.delete_chain = { true, true },
		.create_chain = { true, true },
	};
	struct fixture *f = *state;
	struct table_state *current = f->current;
	struct plan *plan;

	set_status(&current->maps[PROTOCOL_UDP], OBJECT_ALTERED, "map type changed");
	add(current->mapping, udp_53);
	plan = build(f);
	assert_operations(plan, &expected);
	assert_no_element_operations(plan);
	assert_int_equal(plan->change_count, 4);
	assert_structure_change(plan, &plan->changes[0], "map udp_redirects", "recreated", "map type changed");
	assert_structure_change(plan, &plan->changes[1], "chain prerouting", "recreated", "its rules use a recreated map");
	assert_structure_change(plan, &plan->changes[2], "chain output", "recreated", "its rules use a recreated map");
	assert_redirect_change(&plan->changes[3], CHANGE_REDIRECT_REMOVED, &udp_53);
}

static void structure_changes_come_maps_then_chains_before_redirect_changes(void **state)
{
	const struct redirect tcp_80 = file_redirect(PROTOCOL_TCP, 80, 8080, 1);
	const struct plan expected = {
		.create_map = { [PROTOCOL_TCP] = true },
		.delete_chain = { [CHAIN_PREROUTING] = true },
		.create_chain = { true, true },
	};
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct table_state *current = f->current;
	struct plan *plan;

	current->chains[CHAIN_OUTPUT].status = OBJECT_MISSING;
	set_status(&current->chains[CHAIN_PREROUTING], OBJECT_ALTERED, "chain changed");
	current->maps[PROTOCOL_TCP].status = OBJECT_MISSING;
	add(desired, tcp_80);
	plan = build(f);
	assert_operations(plan, &expected);
	assert_no_element_operations(plan);
	assert_int_equal(plan->change_count, 4);
	assert_structure_change(plan, &plan->changes[0], "map tcp_redirects", "created", "missing");
	assert_structure_change(plan, &plan->changes[1], "chain prerouting", "recreated", "chain changed");
	assert_structure_change(plan, &plan->changes[2], "chain output", "created", "missing");
	assert_redirect_change(&plan->changes[3], CHANGE_REDIRECT_ADDED, &tcp_80);
}

static void fill_every_port(struct mapping *mapping, uint16_t target_offset)
{
	for (int protocol = 0; protocol < PROTOCOL_COUNT; protocol++) {
		for (unsigned int port = 1; port <= UINT16_MAX; port++) {
			const struct redirect redirect = {
				.protocol = (enum protocol)protocol,
				.port = (uint16_t)port,
				.target = (uint16_t)(port + target_offset),
			};

			add(mapping, redirect);
		}
	}
}

/* Both sides hold all 2 x 65,535 redirects and differ in the target of tcp
 * port 30000: the merge pairs up the other 131,069 and finds exactly that
 * one, without shifting any other pair. (How fast it does so is for the
 * benchmark, not a test, to say.) */
static void full_mapping_differing_in_one_target_gives_one_deletion_and_one_addition(void **state)
{
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct table_state *current = f->current;
	struct redirect *changed;
	struct redirect old, new;
	struct plan *plan = NULL;

	fill_every_port(desired, 7);
	fill_every_port(current->mapping, 7);
	assert_int_equal(desired->redirect_count, 131070);
	changed = &current->mapping->redirects[29999];
	assert_int_equal(changed->port, 30000);
	changed->target = 1;
	old = *changed;
	new = desired->redirects[29999];
	plan = build(f);
	assert_operations(plan, &no_operations);
	assert_int_equal(plan->change_count, 2);
	assert_redirect_change(&plan->changes[0], CHANGE_REDIRECT_REMOVED, &old);
	assert_redirect_change(&plan->changes[1], CHANGE_REDIRECT_ADDED, &new);
	assert_int_equal(plan->deletion_count, 1);
	assert_redirect_equal(&plan->deletions[0], &old);
	assert_int_equal(plan->addition_count, 1);
	assert_redirect_equal(&plan->additions[0], &new);
}

/* The kernel lacks udp 65535 and holds tcp 1 with nothing else shifted:
 * the merge stays aligned across the protocol boundary and the ends. */
static void full_mapping_against_one_missing_and_one_extra_at_the_ends(void **state)
{
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct table_state *current = f->current;
	struct redirect tcp_1, udp_65535;
	struct plan *plan;

	fill_every_port(desired, 0);
	fill_every_port(current->mapping, 0);
	/* tcp 1 only in the kernel: drop it from the file. */
	tcp_1 = desired->redirects[0];
	memmove(&desired->redirects[0], &desired->redirects[1], (desired->redirect_count - 1) * sizeof(struct redirect));
	desired->redirect_count--;
	/* udp 65535 only in the file: drop it from the kernel. */
	udp_65535 = current->mapping->redirects[current->mapping->redirect_count - 1];
	assert_int_equal(udp_65535.protocol, PROTOCOL_UDP);
	assert_int_equal(udp_65535.port, 65535);
	current->mapping->redirect_count--;
	plan = build(f);
	assert_operations(plan, &no_operations);
	assert_int_equal(plan->change_count, 2);
	assert_redirect_change(&plan->changes[0], CHANGE_REDIRECT_REMOVED, &tcp_1);
	assert_redirect_change(&plan->changes[1], CHANGE_REDIRECT_ADDED, &udp_65535);
	assert_int_equal(plan->deletion_count, 1);
	assert_redirect_equal(&plan->deletions[0], &tcp_1);
	assert_int_equal(plan->addition_count, 1);
	assert_redirect_equal(&plan->additions[0], &udp_65535);
}

static void full_mapping_against_an_empty_table_adds_every_redirect_in_order(void **state)
{
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct plan *plan;

	fill_every_port(desired, 0);
	plan = build(f);
	assert_operations(plan, &no_operations);
	assert_int_equal(plan->change_count, 131070);
	assert_int_equal(plan->addition_count, 131070);
	assert_int_equal(plan->deletion_count, 0);
	for (size_t i = 0; i < 131070; i++) {
		assert_int_equal(plan->changes[i].kind, CHANGE_REDIRECT_ADDED);
		assert_int_equal(plan->changes[i].protocol, i < 65535 ? PROTOCOL_TCP : PROTOCOL_UDP);
		assert_int_equal(plan->changes[i].port, i % 65535 + 1);
		assert_int_equal(plan->additions[i].protocol, i < 65535 ? PROTOCOL_TCP : PROTOCOL_UDP);
		assert_int_equal(plan->additions[i].port, i % 65535 + 1);
	}
}

/* unprivileged_port_start. */

static void declare_port_start(struct mapping *desired, unsigned int value)
{
	desired->has_unprivileged_port_start = true;
	desired->unprivileged_port_start = value;
	desired->unprivileged_port_start_location = (struct location){ FILE_NAME, 1, 1 };
}

/* The sysctl as the caller read it. */
static void set_sysctl(struct fixture *f, unsigned int value)
{
	f->input.has_port_start = true;
	f->input.port_start = value;
}

static void set_recorded_original(struct table_state *current, unsigned int value)
{
	current->has_original_port_start = true;
	current->original_port_start = value;
}

static void declared_port_start_differing_from_the_sysctl_is_removed_then_added_after_the_redirects(void **state)
{
	const struct redirect tcp_80 = file_redirect(PROTOCOL_TCP, 80, 8080, 2);
	const struct plan expected = {
		.record_original_port_start = true,
		.original_port_start = 1024,
		.write_port_start = true,
		.port_start = 80,
	};
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct table_state *current = f->current;
	struct plan *plan;

	declare_port_start(desired, 80);
	add(desired, tcp_80);
	set_sysctl(f, 1024);
	set_recorded_original(current, 1024);
	plan = build(f);
	assert_operations(plan, &expected);
	assert_int_equal(plan->change_count, 3);
	assert_redirect_change(&plan->changes[0], CHANGE_REDIRECT_ADDED, &tcp_80);
	assert_port_start_change(&plan->changes[1], CHANGE_PORT_START_REMOVED, 1024);
	assert_port_start_change(&plan->changes[2], CHANGE_PORT_START_ADDED, 80);
	assert_int_equal(plan->addition_count, 1);
	assert_redirect_equal(&plan->additions[0], &tcp_80);
	assert_int_equal(plan->deletion_count, 0);
}

/* The kernel cannot change a table's userdata in place. */
static void first_change_of_the_sysctl_recreates_the_table_to_record_the_value_it_replaces(void **state)
{
	const struct plan expected = {
		.delete_table = true,
		.create_table = true,
		.create_map = { true, true },
		.create_count_set = { true, true },
		.create_chain = { true, true },
		.record_original_port_start = true,
		.original_port_start = 1024,
		.write_port_start = true,
		.port_start = 80,
	};
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct table_state *current = f->current;
	struct plan *plan;

	declare_port_start(desired, 80);
	add(desired, file_redirect(PROTOCOL_TCP, 80, 8080, 2));
	add(current->mapping, kernel_redirect(PROTOCOL_TCP, 80, 8080));
	set_sysctl(f, 1024);
	plan = build(f);
	assert_operations(plan, &expected);
	assert_no_element_operations(plan);
	assert_int_equal(plan->change_count, 3);
	assert_structure_change(plan, &plan->changes[0], "table inet portredir", "recreated",
				"to record the original unprivileged_port_start");
	assert_port_start_change(&plan->changes[1], CHANGE_PORT_START_REMOVED, 1024);
	assert_port_start_change(&plan->changes[2], CHANGE_PORT_START_ADDED, 80);
}

static void missing_table_is_created_with_the_record_of_the_sysctl_value_it_replaces(void **state)
{
	const struct plan expected = {
		.create_table = true,
		.create_map = { true, true },
		.create_count_set = { true, true },
		.create_chain = { true, true },
		.record_original_port_start = true,
		.original_port_start = 1024,
		.write_port_start = true,
		.port_start = 80,
	};
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct plan *plan;

	declare_port_start(desired, 80);
	set_sysctl(f, 1024);
	plan = build(f);
	assert_operations(plan, &expected);
	assert_no_element_operations(plan);
	assert_int_equal(plan->change_count, 3);
	assert_structure_change(plan, &plan->changes[0], "table inet portredir", "created", "missing");
	assert_port_start_change(&plan->changes[1], CHANGE_PORT_START_REMOVED, 1024);
	assert_port_start_change(&plan->changes[2], CHANGE_PORT_START_ADDED, 80);
}

static void declared_port_start_equal_to_the_sysctl_gives_an_empty_plan(void **state)
{
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct plan *plan;

	declare_port_start(desired, 80);
	set_sysctl(f, 80);
	plan = build(f);
	assert_true(plan_is_empty(plan));
	assert_operations(plan, &no_operations);
	assert_no_element_operations(plan);
	assert_int_equal(plan->change_count, 0);
}

static void undeclared_port_start_leaves_the_sysctl_alone(void **state)
{
	struct fixture *f = *state;
	struct plan *plan;

	set_sysctl(f, 1024);
	plan = build(f);
	assert_true(plan_is_empty(plan));
	assert_operations(plan, &no_operations);
	assert_int_equal(plan->change_count, 0);
}

static void unknown_sysctl_value_gives_no_sysctl_change(void **state)
{
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct plan *plan;

	declare_port_start(desired, 80);
	plan = build(f);
	assert_true(plan_is_empty(plan));
	assert_operations(plan, &no_operations);
	assert_int_equal(plan->change_count, 0);
}

static void recorded_original_is_carried_into_a_recreated_table(void **state)
{
	const struct plan expected = {
		.delete_table = true,
		.create_table = true,
		.create_map = { true, true },
		.create_count_set = { true, true },
		.create_chain = { true, true },
		.record_original_port_start = true,
		.original_port_start = 1024,
	};
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct table_state *current = f->current;
	struct plan *plan;

	set_status(&current->table, OBJECT_ALTERED, "unexpected objects found");
	declare_port_start(desired, 80);
	set_sysctl(f, 80);
	set_recorded_original(current, 1024);
	plan = build(f);
	assert_operations(plan, &expected);
	assert_no_element_operations(plan);
	assert_int_equal(plan->change_count, 1);
	assert_structure_change(plan, &plan->changes[0], "table inet portredir", "recreated", "unexpected objects found");
}

/* flush restores the value from before portredir's first change, not the
 * one before its latest. */
static void recorded_original_is_kept_when_the_sysctl_changes_again(void **state)
{
	const struct plan expected = {
		.record_original_port_start = true,
		.original_port_start = 1024,
		.write_port_start = true,
		.port_start = 443,
	};
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct table_state *current = f->current;
	struct plan *plan;

	declare_port_start(desired, 443);
	set_sysctl(f, 80);
	set_recorded_original(current, 1024);
	plan = build(f);
	assert_operations(plan, &expected);
	assert_no_element_operations(plan);
	assert_int_equal(plan->change_count, 2);
	assert_port_start_change(&plan->changes[0], CHANGE_PORT_START_REMOVED, 80);
	assert_port_start_change(&plan->changes[1], CHANGE_PORT_START_ADDED, 443);
}

/* plan_changes_kernel_tables: whether a batch is needed at all. */

static void sysctl_only_plan_leaves_the_kernel_tables_alone(void **state)
{
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct table_state *current = f->current;
	struct plan *plan;

	declare_port_start(desired, 443);
	set_sysctl(f, 80);
	set_recorded_original(current, 1024);
	plan = build(f);
	assert_false(plan_is_empty(plan));
	assert_false(plan_changes_kernel_tables(plan));
}

static void empty_plan_leaves_the_kernel_tables_alone(void **state)
{
	struct fixture *f = *state;
	struct plan *plan = build(f);

	assert_true(plan_is_empty(plan));
	assert_false(plan_changes_kernel_tables(plan));
}

static void element_addition_changes_the_kernel_tables(void **state)
{
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct plan *plan;

	add(desired, file_redirect(PROTOCOL_UDP, 53, 5353, 1));
	plan = build(f);
	assert_int_equal(plan->addition_count, 1);
	assert_true(plan_changes_kernel_tables(plan));
}

static void element_deletion_changes_the_kernel_tables(void **state)
{
	struct fixture *f = *state;
	struct table_state *current = f->current;
	struct plan *plan;

	add(current->mapping, kernel_redirect(PROTOCOL_UDP, 53, 5353));
	plan = build(f);
	assert_int_equal(plan->deletion_count, 1);
	assert_true(plan_changes_kernel_tables(plan));
}

static void created_chain_changes_the_kernel_tables(void **state)
{
	struct fixture *f = *state;
	struct table_state *current = f->current;
	struct plan *plan;

	current->chains[CHAIN_PREROUTING].status = OBJECT_MISSING;
	plan = build(f);
	assert_true(plan_changes_kernel_tables(plan));
}

static void created_map_changes_the_kernel_tables(void **state)
{
	struct fixture *f = *state;
	struct table_state *current = f->current;
	struct plan *plan;

	current->maps[PROTOCOL_TCP].status = OBJECT_MISSING;
	plan = build(f);
	assert_true(plan_changes_kernel_tables(plan));
}

static void created_table_changes_the_kernel_tables(void **state)
{
	struct fixture *f = *state;
	struct plan *plan = build(f);

	assert_true(plan_changes_kernel_tables(plan));
}

static void free_null_plan(void)
{
	plan_free(NULL);
}

/* Runs function in a child process and asserts that it returned normally
 * rather than crashing. */
static void assert_returns_normally(void (*function)(void))
{
	int status = -1;
	pid_t child = fork();

	assert_true(child >= 0);
	if (child == 0) {
		function();
		_exit(0);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void plan_free_accepts_null(void **state)
{
	(void)state;
	assert_returns_normally(free_null_plan);
}

/* Table flags (watch --hold). */

/* After the commit the maps hold the desired redirects when nothing but a
 * commit could have changed the maps the batch keeps. */
static void result_is_known_for_a_table_that_was_the_layout(void **state)
{
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct table_state *current = f->current;
	struct plan *plan;

	add(desired, file_redirect(PROTOCOL_TCP, 80, 8080, 1));
	add(current->mapping, kernel_redirect(PROTOCOL_TCP, 80, 8081));
	current->table_id = 0x1234;
	plan = build(f);
	assert_true(plan->result_known);
	assert_false(plan->create_table);
	assert_true(plan->table_id == 0x1234);
}

static void result_is_known_when_the_maps_are_created(void **state)
{
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct table_state *current = f->current;
	struct plan *plan;

	add(desired, file_redirect(PROTOCOL_UDP, 53, 5353, 1));
	/* The table missing. */
	plan = build(f);
	assert_true(plan->result_known);
	assert_true(plan->table_id == 0);
	/* A foreign chain: the whole table, maps included, is recreated. */
	make_layout(current);
	set_status(&current->table, OBJECT_ALTERED, "unexpected objects found");
	current->table_id = 0x99;
	plan = build(f);
	assert_true(plan->create_table);
	assert_true(plan->result_known);
	assert_true(plan->table_id == 0x99);
}

/* A foreign rule in a chain could update a map from the packet path
 * between the read and the commit. */
static void result_is_unknown_while_a_kept_map_sits_beside_a_foreign_rule(void **state)
{
	struct fixture *f = *state;
	struct mapping *desired = f->desired;
	struct table_state *current = f->current;
	struct plan *plan;

	add(desired, file_redirect(PROTOCOL_TCP, 80, 8080, 1));
	set_status(&current->chains[CHAIN_OUTPUT], OBJECT_ALTERED, "unexpected rule found");
	plan = build(f);
	assert_true(plan->create_chain[CHAIN_OUTPUT]);
	assert_false(plan->create_map[PROTOCOL_TCP]);
	assert_false(plan->result_known);
	/* The same with one map recreated: the other is still kept. */
	set_status(&current->maps[PROTOCOL_UDP], OBJECT_ALTERED, "unexpected element found");
	plan = build(f);
	assert_true(plan->create_map[PROTOCOL_UDP]);
	assert_false(plan->result_known);
}

static void table_with_flags_it_should_not_have_is_recreated(void **state)
{
	struct fixture *f = *state;
	struct table_state *current = f->current;
	const struct plan expected = {
		.delete_table = true,
		.create_table = true,
		.create_map = { true, true },
		.create_count_set = { true, true },
		.create_chain = { true, true },
	};
	struct plan *plan;

	current->table_flags = TABLE_FLAG_PERSIST;
	plan = build(f);
	assert_operations(plan, &expected);
	assert_int_equal(plan->table_flags, 0);
	assert_int_equal(plan->change_count, 1);
	assert_structure_change(plan, &plan->changes[0], "table inet portredir", "recreated", "table flags changed");
}

static void table_to_be_held_is_recreated_with_the_owner_and_persist_flags(void **state)
{
	struct fixture *f = *state;
	struct plan *plan;

	f->input.table_flags = TABLE_FLAG_OWNER | TABLE_FLAG_PERSIST;
	plan = build(f);
	assert_true(plan->delete_table);
	assert_true(plan->create_table);
	assert_int_equal(plan->table_flags, TABLE_FLAG_OWNER | TABLE_FLAG_PERSIST);
	assert_int_equal(plan->change_count, 1);
	assert_structure_change(plan, &plan->changes[0], "table inet portredir", "recreated", "table flags changed");
}

static void table_with_the_wanted_flags_is_in_sync(void **state)
{
	struct fixture *f = *state;
	struct table_state *current = f->current;
	struct plan *plan;

	current->table_flags = f->input.table_flags = TABLE_FLAG_OWNER | TABLE_FLAG_PERSIST;
	plan = build(f);
	assert_true(plan_is_empty(plan));
	assert_false(plan_changes_kernel_tables(plan));
}

/* A test with the table exactly the layout, or with no table. */
#define WITH_LAYOUT(test) cmocka_unit_test_setup_teardown(test, setup_with_layout, teardown)
#define WITHOUT_TABLE(test) cmocka_unit_test_setup_teardown(test, setup_without_table, teardown)

/* Scopes: a map per kind in use, the chains' rules following them. */
static struct redirect scoped_redirect(enum protocol protocol, uint16_t port, uint16_t target, enum scope_kind kind,
				       uint8_t family)
{
	struct redirect redirect = file_redirect(protocol, port, target, 1);

	redirect.scope.kind = (uint8_t)kind;
	redirect.scope.family = family;
	if (kind == SCOPE_ON)
		memcpy(redirect.scope.address, "\xc6\x12\x00\x01", 4);
	else if (kind == SCOPE_IIF)
		strcpy(redirect.scope.iif, "eth1");
	return redirect;
}

static void a_first_scoped_redirect_creates_its_map_and_the_chains_anew(void **state)
{
	struct fixture *f = *state;
	const unsigned int on4 = map_of(PROTOCOL_TCP, MAP_ON4);
	struct redirect on = scoped_redirect(PROTOCOL_TCP, 80, 8081, SCOPE_ON, 4);
	struct plan *plan;

	add(f->desired, on);
	plan = build(f);
	assert_true(plan->create_map[on4]);
	assert_false(plan->delete_map[on4]);
	assert_true(plan->map_in_use[on4]);
	assert_false(plan->map_in_use[map_of(PROTOCOL_TCP, MAP_IIF)]);
	for (int i = 0; i < CHAIN_COUNT; i++)
		assert_true(plan->delete_chain[i] && plan->create_chain[i]);
	assert_int_equal(plan->change_count, 4);
	assert_structure_change(plan, &plan->changes[0], "map tcp_on4_redirects", "created", "a redirect uses it");
	assert_structure_change(plan, &plan->changes[1], "chain prerouting", "recreated", "the scopes in use changed");
	assert_structure_change(plan, &plan->changes[2], "chain output", "recreated", "the scopes in use changed");
	assert_redirect_change(&plan->changes[3], CHANGE_REDIRECT_ADDED, &on);
	assert_int_equal(scope_compare(&plan->changes[3].scope, &on.scope), 0);
	/* A created map is filled from the desired redirects, not by additions. */
	assert_no_element_operations(plan);
	assert_int_equal(plan->created_map_elements[on4].count, 1);
	assert_true(plan->result_known);
}

static void the_last_scoped_redirect_gone_deletes_its_map(void **state)
{
	struct fixture *f = *state;
	const unsigned int family = map_of(PROTOCOL_UDP, MAP_FAMILY);
	struct redirect ipv6 = scoped_redirect(PROTOCOL_UDP, 443, 8443, SCOPE_FAMILY, 6);
	struct plan *plan;

	f->current->maps[family].status = OBJECT_OK;
	ipv6.location = (struct location){ 0 };
	add(f->current->mapping, ipv6);
	plan = build(f);
	assert_true(plan->delete_map[family]);
	assert_false(plan->create_map[family]);
	assert_false(plan->map_in_use[family]);
	assert_int_equal(plan->change_count, 4);
	assert_structure_change(plan, &plan->changes[0], "map udp_family_redirects", "deleted", "no redirect uses it");
	assert_structure_change(plan, &plan->changes[1], "chain prerouting", "recreated", "the scopes in use changed");
	assert_redirect_change(&plan->changes[3], CHANGE_REDIRECT_REMOVED, &ipv6);
	assert_no_element_operations(plan);
}

static void an_interface_without_a_family_is_one_element_per_family(void **state)
{
	struct fixture *f = *state;
	const unsigned int iif = map_of(PROTOCOL_TCP, MAP_IIF);
	struct redirect any = scoped_redirect(PROTOCOL_TCP, 80, 8082, SCOPE_IIF, 0);
	struct redirect ipv6 = scoped_redirect(PROTOCOL_TCP, 80, 8083, SCOPE_IIF, 6);
	struct plan *plan;

	f->current->maps[iif].status = OBJECT_OK;
	add(f->desired, any);
	add(f->desired, ipv6);
	mapping_sort(f->desired);
	plan = build(f);
	assert_non_null(plan->kernel_form);
	assert_false(plan->create_map[iif]);
	assert_int_equal(plan->change_count, 2);
	/* The ipv6 one is more specific: the family-less one takes IPv4. */
	assert_int_equal(plan->addition_count, 2);
	assert_int_equal(plan->additions[0].target, 8082);
	assert_int_equal(plan->additions[0].scope.family, 4);
	assert_int_equal(plan->additions[1].target, 8083);
	assert_int_equal(plan->additions[1].scope.family, 6);
	assert_int_equal(plan->changes[0].scope.family, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		WITH_LAYOUT(a_first_scoped_redirect_creates_its_map_and_the_chains_anew),
		WITH_LAYOUT(the_last_scoped_redirect_gone_deletes_its_map),
		WITH_LAYOUT(an_interface_without_a_family_is_one_element_per_family),
		WITH_LAYOUT(result_is_known_for_a_table_that_was_the_layout),
		WITHOUT_TABLE(result_is_known_when_the_maps_are_created),
		WITH_LAYOUT(result_is_unknown_while_a_kept_map_sits_beside_a_foreign_rule),
		WITH_LAYOUT(table_with_flags_it_should_not_have_is_recreated),
		WITH_LAYOUT(table_to_be_held_is_recreated_with_the_owner_and_persist_flags),
		WITH_LAYOUT(table_with_the_wanted_flags_is_in_sync),
		WITH_LAYOUT(missing_count_sets_are_created_beside_the_recreated_chains),
		WITH_LAYOUT(altered_count_set_is_recreated_with_the_chains_that_use_it),
		WITHOUT_TABLE(empty_mapping_and_missing_table_creates_the_whole_table),
		WITHOUT_TABLE(missing_table_reports_every_redirect_added_after_the_table_and_sends_no_element_operations),
		WITH_LAYOUT(table_in_sync_gives_an_empty_plan),
		WITH_LAYOUT(empty_mapping_and_empty_table_in_sync_gives_an_empty_plan),
		WITH_LAYOUT(redirect_only_in_the_file_is_added_as_one_element),
		WITH_LAYOUT(redirect_only_in_the_kernel_is_removed_as_one_element),
		WITH_LAYOUT(redirect_with_a_new_target_removes_the_old_element_then_adds_the_new),
		WITH_LAYOUT(changes_list_tcp_before_udp_then_ports_ascending_whichever_side_they_come_from),
		WITH_LAYOUT(altered_table_is_recreated_with_its_reason_and_redirects_still_compared_with_the_kernel),
		WITH_LAYOUT(altered_table_in_sync_otherwise_reports_only_its_recreation),
		WITH_LAYOUT(missing_map_is_created_alone),
		WITH_LAYOUT(missing_maps_are_created_tcp_first),
		WITH_LAYOUT(altered_map_is_recreated_with_both_chains_whose_rules_use_it),
		WITH_LAYOUT(altered_chain_beside_an_altered_map_keeps_its_own_reason),
		WITH_LAYOUT(missing_chain_is_created_alone),
		WITH_LAYOUT(altered_chain_is_recreated_alone_with_its_reason),
		WITH_LAYOUT(redirects_of_a_created_map_are_reported_but_not_element_operations),
		WITHOUT_TABLE(created_table_fills_each_map_with_the_desired_redirects_of_its_protocol),
		WITH_LAYOUT(kernel_redirects_of_a_recreated_map_are_reported_but_not_element_operations),
		WITH_LAYOUT(structure_changes_come_maps_then_chains_before_redirect_changes),
		WITH_LAYOUT(full_mapping_differing_in_one_target_gives_one_deletion_and_one_addition),
		WITH_LAYOUT(full_mapping_against_one_missing_and_one_extra_at_the_ends),
		WITH_LAYOUT(full_mapping_against_an_empty_table_adds_every_redirect_in_order),
		WITH_LAYOUT(declared_port_start_differing_from_the_sysctl_is_removed_then_added_after_the_redirects),
		WITH_LAYOUT(first_change_of_the_sysctl_recreates_the_table_to_record_the_value_it_replaces),
		WITHOUT_TABLE(missing_table_is_created_with_the_record_of_the_sysctl_value_it_replaces),
		WITH_LAYOUT(declared_port_start_equal_to_the_sysctl_gives_an_empty_plan),
		WITH_LAYOUT(undeclared_port_start_leaves_the_sysctl_alone),
		WITH_LAYOUT(unknown_sysctl_value_gives_no_sysctl_change),
		WITH_LAYOUT(recorded_original_is_carried_into_a_recreated_table),
		WITH_LAYOUT(recorded_original_is_kept_when_the_sysctl_changes_again),
		WITH_LAYOUT(sysctl_only_plan_leaves_the_kernel_tables_alone),
		WITH_LAYOUT(empty_plan_leaves_the_kernel_tables_alone),
		WITH_LAYOUT(element_addition_changes_the_kernel_tables),
		WITH_LAYOUT(element_deletion_changes_the_kernel_tables),
		WITH_LAYOUT(created_chain_changes_the_kernel_tables),
		WITH_LAYOUT(created_map_changes_the_kernel_tables),
		WITHOUT_TABLE(created_table_changes_the_kernel_tables),
		cmocka_unit_test(plan_free_accepts_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
