/* The model as a specification: protocol names, the canonical order of
 * redirects, the stable sort, the binary search, and file name ownership. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "mapping.h"

static struct redirect redirect_at(enum protocol protocol, uint16_t port, uint16_t target, unsigned int line)
{
	const struct redirect redirect = {
		.protocol = protocol,
		.port = port,
		.target = target,
		.location = { "rules.conf", line, 1 },
	};

	return redirect;
}

static struct mapping *new_mapping(void)
{
	struct mapping *mapping = mapping_new();

	assert_non_null(mapping);
	return mapping;
}

static void add(struct mapping *mapping, enum protocol protocol, uint16_t port, uint16_t target, unsigned int line)
{
	const struct redirect redirect = redirect_at(protocol, port, target, line);

	assert_int_equal(mapping_add_redirect(mapping, &redirect), 0);
}

static void assert_redirect_is(const struct redirect *redirect, enum protocol protocol, uint16_t port,
			       uint16_t target, unsigned int line)
{
	assert_int_equal(redirect->protocol, protocol);
	assert_int_equal(redirect->port, port);
	assert_int_equal(redirect->target, target);
	assert_int_equal(redirect->location.line, line);
}

static void protocol_name_of_tcp_is_tcp(void **unused)
{
	(void)unused;
	assert_string_equal(protocol_name(PROTOCOL_TCP), "tcp");
}

static void protocol_name_of_udp_is_udp(void **unused)
{
	(void)unused;
	assert_string_equal(protocol_name(PROTOCOL_UDP), "udp");
}

static void protocol_name_of_an_unknown_protocol_is_a_question_mark(void **unused)
{
	(void)unused;
	assert_string_equal(protocol_name(PROTOCOL_COUNT), "?");
}

static void protocol_from_name_reads_tcp(void **unused)
{
	enum protocol protocol = PROTOCOL_COUNT;

	(void)unused;
	assert_int_equal(protocol_from_name("tcp", 3, &protocol), 0);
	assert_int_equal(protocol, PROTOCOL_TCP);
}

static void protocol_from_name_reads_udp(void **unused)
{
	enum protocol protocol = PROTOCOL_COUNT;

	(void)unused;
	assert_int_equal(protocol_from_name("udp", 3, &protocol), 0);
	assert_int_equal(protocol, PROTOCOL_UDP);
}

/* The parser hands over a token inside a line, as "tcp,udp": only length
 * characters count. */
static void protocol_from_name_reads_only_the_given_length(void **unused)
{
	enum protocol protocol = PROTOCOL_COUNT;

	(void)unused;
	assert_int_equal(protocol_from_name("tcp,udp", 3, &protocol), 0);
	assert_int_equal(protocol, PROTOCOL_TCP);
	assert_int_equal(protocol_from_name(&"tcp,udp"[4], 3, &protocol), 0);
	assert_int_equal(protocol, PROTOCOL_UDP);
}

static void protocol_from_name_rejects_a_prefix_of_a_name(void **unused)
{
	enum protocol protocol = PROTOCOL_COUNT;

	(void)unused;
	assert_int_equal(protocol_from_name("tc", 2, &protocol), -EINVAL);
	assert_int_equal(protocol, PROTOCOL_COUNT);
}

static void protocol_from_name_rejects_a_longer_name(void **unused)
{
	enum protocol protocol = PROTOCOL_COUNT;

	(void)unused;
	assert_int_equal(protocol_from_name("tcp6", 4, &protocol), -EINVAL);
	assert_int_equal(protocol, PROTOCOL_COUNT);
}

static void protocol_from_name_is_case_sensitive(void **unused)
{
	enum protocol protocol = PROTOCOL_COUNT;

	(void)unused;
	assert_int_equal(protocol_from_name("TCP", 3, &protocol), -EINVAL);
	assert_int_equal(protocol, PROTOCOL_COUNT);
}

static void protocol_from_name_rejects_an_empty_name(void **unused)
{
	enum protocol protocol = PROTOCOL_COUNT;

	(void)unused;
	assert_int_equal(protocol_from_name("", 0, &protocol), -EINVAL);
	assert_int_equal(protocol, PROTOCOL_COUNT);
}

static void redirect_compare_orders_tcp_before_udp_whatever_the_ports(void **unused)
{
	const struct redirect tcp_65535 = redirect_at(PROTOCOL_TCP, 65535, 1024, 1);
	const struct redirect udp_1 = redirect_at(PROTOCOL_UDP, 1, 1024, 2);

	(void)unused;
	assert_int_equal(redirect_compare(&tcp_65535, &udp_1), -1);
	assert_int_equal(redirect_compare(&udp_1, &tcp_65535), 1);
}

static void redirect_compare_orders_ports_ascending_within_a_protocol(void **unused)
{
	const struct redirect udp_80 = redirect_at(PROTOCOL_UDP, 80, 8080, 1);
	const struct redirect udp_443 = redirect_at(PROTOCOL_UDP, 443, 1024, 2);

	(void)unused;
	assert_int_equal(redirect_compare(&udp_80, &udp_443), -1);
	assert_int_equal(redirect_compare(&udp_443, &udp_80), 1);
}

static void redirect_compare_ignores_target_and_location(void **unused)
{
	const struct redirect first = redirect_at(PROTOCOL_TCP, 80, 8080, 1);
	const struct redirect second = redirect_at(PROTOCOL_TCP, 80, 9090, 7);

	(void)unused;
	assert_int_equal(redirect_compare(&first, &second), 0);
	assert_int_equal(redirect_compare(&second, &first), 0);
}

static void mapping_new_is_empty(void **unused)
{
	struct mapping *mapping = new_mapping();

	(void)unused;
	assert_false(mapping->has_unprivileged_port_start);
	assert_int_equal(mapping->redirect_count, 0);
	assert_null(mapping->redirects);
	assert_int_equal(mapping->file_count, 0);
	assert_null(mapping->files);
	mapping_free(mapping);
}

static void mapping_add_redirect_keeps_every_redirect_past_the_first_allocation(void **unused)
{
	struct mapping *mapping = new_mapping();

	(void)unused;
	for (unsigned int i = 0; i < 100; i++)
		add(mapping, PROTOCOL_UDP, (uint16_t)(1000 + i), (uint16_t)(2000 + i), i + 1);
	assert_int_equal(mapping->redirect_count, 100);
	for (unsigned int i = 0; i < 100; i++)
		assert_redirect_is(&mapping->redirects[i], PROTOCOL_UDP, (uint16_t)(1000 + i), (uint16_t)(2000 + i), i + 1);
	mapping_free(mapping);
}

/* A caller that knows the count (a kernel dump, a record) gets one
 * allocation of exactly that size. */
static void mapping_reserve_gives_an_empty_mapping_exactly_the_room_asked_for(void **unused)
{
	struct mapping *mapping = new_mapping();

	(void)unused;
	assert_int_equal(mapping_reserve(mapping, 131070), 0);
	assert_non_null(mapping->redirects);
	assert_int_equal(mapping->redirect_capacity, 131070);
	assert_int_equal(mapping->redirect_count, 0);
	mapping_free(mapping);
}

static void mapping_reserve_of_no_more_than_the_room_there_is_changes_nothing(void **unused)
{
	struct mapping *mapping = new_mapping();
	const struct redirect *redirects;

	(void)unused;
	assert_int_equal(mapping_reserve(mapping, 100), 0);
	redirects = mapping->redirects;
	assert_int_equal(mapping_reserve(mapping, 100), 0);
	assert_int_equal(mapping_reserve(mapping, 0), 0);
	assert_ptr_equal(mapping->redirects, redirects);
	assert_int_equal(mapping->redirect_capacity, 100);
	mapping_free(mapping);
}

/* SIZE_MAX / 2 redirects of 32 bytes do not fit in a size_t: refused
 * before any allocation, and what the mapping held stays. */
static void mapping_reserve_refuses_a_count_whose_size_overflows(void **unused)
{
	struct mapping *mapping = new_mapping();

	(void)unused;
	add(mapping, PROTOCOL_TCP, 80, 8080, 1);
	assert_int_equal(mapping_reserve(mapping, SIZE_MAX / 2), -ENOMEM);
	assert_int_equal(mapping->redirect_count, 1);
	assert_int_equal(mapping->redirect_capacity, 16);
	assert_redirect_is(&mapping->redirects[0], PROTOCOL_TCP, 80, 8080, 1);
	mapping_free(mapping);
}

static void mapping_sort_orders_by_protocol_then_port(void **unused)
{
	struct mapping *mapping = new_mapping();

	(void)unused;
	add(mapping, PROTOCOL_UDP, 443, 8443, 1);
	add(mapping, PROTOCOL_TCP, 8000, 8001, 2);
	add(mapping, PROTOCOL_UDP, 53, 5353, 3);
	add(mapping, PROTOCOL_TCP, 80, 8080, 4);
	add(mapping, PROTOCOL_TCP, 443, 8443, 5);
	mapping_sort(mapping);
	assert_int_equal(mapping->redirect_count, 5);
	assert_redirect_is(&mapping->redirects[0], PROTOCOL_TCP, 80, 8080, 4);
	assert_redirect_is(&mapping->redirects[1], PROTOCOL_TCP, 443, 8443, 5);
	assert_redirect_is(&mapping->redirects[2], PROTOCOL_TCP, 8000, 8001, 2);
	assert_redirect_is(&mapping->redirects[3], PROTOCOL_UDP, 53, 5353, 3);
	assert_redirect_is(&mapping->redirects[4], PROTOCOL_UDP, 443, 8443, 1);
	mapping_free(mapping);
}

static void mapping_sort_keeps_duplicates_in_insertion_order(void **unused)
{
	struct mapping *mapping = new_mapping();

	(void)unused;
	add(mapping, PROTOCOL_TCP, 443, 1001, 1);
	add(mapping, PROTOCOL_TCP, 80, 1002, 2);
	add(mapping, PROTOCOL_TCP, 443, 1003, 3);
	add(mapping, PROTOCOL_TCP, 80, 1004, 4);
	add(mapping, PROTOCOL_TCP, 443, 1005, 5);
	mapping_sort(mapping);
	assert_int_equal(mapping->redirect_count, 5);
	assert_redirect_is(&mapping->redirects[0], PROTOCOL_TCP, 80, 1002, 2);
	assert_redirect_is(&mapping->redirects[1], PROTOCOL_TCP, 80, 1004, 4);
	assert_redirect_is(&mapping->redirects[2], PROTOCOL_TCP, 443, 1001, 1);
	assert_redirect_is(&mapping->redirects[3], PROTOCOL_TCP, 443, 1003, 3);
	assert_redirect_is(&mapping->redirects[4], PROTOCOL_TCP, 443, 1005, 5);
	mapping_free(mapping);
}

/* 3,000 redirects over 10 keys, inserted in a scrambled order: deep
 * recursion and many merges, and still every duplicate keeps its order. */
static void mapping_sort_keeps_duplicates_in_insertion_order_across_many_merges(void **unused)
{
	struct mapping *mapping = new_mapping();

	(void)unused;
	for (unsigned int line = 1; line <= 3000; line++) {
		unsigned int key = (line * 7) % 10;

		add(mapping, key < 5 ? PROTOCOL_UDP : PROTOCOL_TCP, (uint16_t)(100 + key % 5), 2000, line);
	}
	mapping_sort(mapping);
	assert_int_equal(mapping->redirect_count, 3000);
	for (size_t i = 1; i < mapping->redirect_count; i++) {
		const struct redirect *before = &mapping->redirects[i - 1];
		const struct redirect *after = &mapping->redirects[i];
		int order = redirect_compare(before, after);

		assert_true(order <= 0);
		if (order == 0)
			assert_true(before->location.line < after->location.line);
	}
	assert_redirect_is(&mapping->redirects[0], PROTOCOL_TCP, 100, 2000, 5);
	assert_redirect_is(&mapping->redirects[2999], PROTOCOL_UDP, 104, 2000, 2992);
	mapping_free(mapping);
}

static void mapping_sort_leaves_a_sorted_mapping_as_it_is(void **unused)
{
	struct mapping *mapping = new_mapping();

	(void)unused;
	add(mapping, PROTOCOL_TCP, 80, 8080, 1);
	add(mapping, PROTOCOL_TCP, 80, 8081, 2);
	add(mapping, PROTOCOL_UDP, 80, 8080, 3);
	mapping_sort(mapping);
	assert_int_equal(mapping->redirect_count, 3);
	assert_redirect_is(&mapping->redirects[0], PROTOCOL_TCP, 80, 8080, 1);
	assert_redirect_is(&mapping->redirects[1], PROTOCOL_TCP, 80, 8081, 2);
	assert_redirect_is(&mapping->redirects[2], PROTOCOL_UDP, 80, 8080, 3);
	mapping_free(mapping);
}

static void mapping_sort_of_an_empty_mapping_leaves_it_empty(void **unused)
{
	struct mapping *mapping = new_mapping();

	(void)unused;
	mapping_sort(mapping);
	assert_int_equal(mapping->redirect_count, 0);
	assert_null(mapping->redirects);
	mapping_free(mapping);
}

static void mapping_find_returns_the_stored_redirect_of_a_protocol_and_port(void **unused)
{
	struct mapping *mapping = new_mapping();

	(void)unused;
	add(mapping, PROTOCOL_UDP, 443, 8443, 1);
	add(mapping, PROTOCOL_TCP, 443, 9443, 2);
	add(mapping, PROTOCOL_TCP, 80, 8080, 3);
	mapping_sort(mapping);
	assert_ptr_equal(mapping_find(mapping, PROTOCOL_TCP, 80), &mapping->redirects[0]);
	assert_ptr_equal(mapping_find(mapping, PROTOCOL_TCP, 443), &mapping->redirects[1]);
	assert_ptr_equal(mapping_find(mapping, PROTOCOL_UDP, 443), &mapping->redirects[2]);
	assert_redirect_is(mapping_find(mapping, PROTOCOL_TCP, 443), PROTOCOL_TCP, 443, 9443, 2);
	mapping_free(mapping);
}

static void mapping_find_misses_a_port_that_is_absent(void **unused)
{
	struct mapping *mapping = new_mapping();

	(void)unused;
	add(mapping, PROTOCOL_TCP, 80, 8080, 1);
	add(mapping, PROTOCOL_TCP, 443, 8443, 2);
	mapping_sort(mapping);
	assert_null(mapping_find(mapping, PROTOCOL_TCP, 1));
	assert_null(mapping_find(mapping, PROTOCOL_TCP, 81));
	assert_null(mapping_find(mapping, PROTOCOL_TCP, 65535));
	mapping_free(mapping);
}

static void mapping_find_misses_the_same_port_of_the_other_protocol(void **unused)
{
	struct mapping *mapping = new_mapping();

	(void)unused;
	add(mapping, PROTOCOL_TCP, 80, 8080, 1);
	add(mapping, PROTOCOL_UDP, 443, 8443, 2);
	assert_null(mapping_find(mapping, PROTOCOL_UDP, 80));
	assert_null(mapping_find(mapping, PROTOCOL_TCP, 443));
	mapping_free(mapping);
}

static void mapping_find_in_an_empty_mapping_misses(void **unused)
{
	struct mapping *mapping = new_mapping();

	(void)unused;
	assert_null(mapping_find(mapping, PROTOCOL_TCP, 80));
	assert_null(mapping_find(mapping, PROTOCOL_UDP, 80));
	mapping_free(mapping);
}

static void mapping_find_hits_every_port_of_a_full_mapping(void **unused)
{
	struct mapping *mapping = new_mapping();

	(void)unused;
	for (unsigned int port = 1; port <= 65535; port += 2)
		add(mapping, PROTOCOL_TCP, (uint16_t)port, 1024, port);
	for (unsigned int port = 1; port <= 65535; port++) {
		const struct redirect *found = mapping_find(mapping, PROTOCOL_TCP, (uint16_t)port);

		if (port % 2) {
			assert_non_null(found);
			assert_int_equal(found->location.line, port);
		} else {
			assert_null(found);
		}
		assert_null(mapping_find(mapping, PROTOCOL_UDP, (uint16_t)port));
	}
	mapping_free(mapping);
}

static void mapping_add_file_returns_a_copy_independent_of_the_argument(void **unused)
{
	struct mapping *mapping = new_mapping();
	char path[] = "/etc/portredir/rules.conf";
	const char *stored;

	(void)unused;
	stored = mapping_add_file(mapping, path);
	assert_non_null(stored);
	assert_ptr_not_equal(stored, path);
	memset(path, 'x', sizeof(path) - 1);
	assert_string_equal(stored, "/etc/portredir/rules.conf");
	assert_int_equal(mapping->file_count, 1);
	assert_ptr_equal(mapping->files[0], stored);
	mapping_free(mapping);
}

/* Locations point at the stored copy: adding more files (which grows the
 * file list) must not move it. */
static void mapping_add_file_copy_stays_valid_as_more_files_are_added(void **unused)
{
	struct mapping *mapping = new_mapping();
	const char *first, *last = NULL;
	char path[64];

	(void)unused;
	first = mapping_add_file(mapping, "/etc/portredir/rules.d/00-first.conf");
	assert_non_null(first);
	for (int i = 1; i < 100; i++) {
		snprintf(path, sizeof(path), "/etc/portredir/rules.d/%02d.conf", i);
		last = mapping_add_file(mapping, path);
		assert_non_null(last);
	}
	assert_int_equal(mapping->file_count, 100);
	assert_ptr_equal(mapping->files[0], first);
	assert_string_equal(first, "/etc/portredir/rules.d/00-first.conf");
	assert_ptr_equal(mapping->files[99], last);
	assert_string_equal(last, "/etc/portredir/rules.d/99.conf");
	mapping_free(mapping);
}

static void free_null_mapping(void)
{
	mapping_free(NULL);
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

static void mapping_free_accepts_null(void **unused)
{
	(void)unused;
	assert_returns_normally(free_null_mapping);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(protocol_name_of_tcp_is_tcp),
		cmocka_unit_test(protocol_name_of_udp_is_udp),
		cmocka_unit_test(protocol_name_of_an_unknown_protocol_is_a_question_mark),
		cmocka_unit_test(protocol_from_name_reads_tcp),
		cmocka_unit_test(protocol_from_name_reads_udp),
		cmocka_unit_test(protocol_from_name_reads_only_the_given_length),
		cmocka_unit_test(protocol_from_name_rejects_a_prefix_of_a_name),
		cmocka_unit_test(protocol_from_name_rejects_a_longer_name),
		cmocka_unit_test(protocol_from_name_is_case_sensitive),
		cmocka_unit_test(protocol_from_name_rejects_an_empty_name),
		cmocka_unit_test(redirect_compare_orders_tcp_before_udp_whatever_the_ports),
		cmocka_unit_test(redirect_compare_orders_ports_ascending_within_a_protocol),
		cmocka_unit_test(redirect_compare_ignores_target_and_location),
		cmocka_unit_test(mapping_new_is_empty),
		cmocka_unit_test(mapping_add_redirect_keeps_every_redirect_past_the_first_allocation),
		cmocka_unit_test(mapping_reserve_gives_an_empty_mapping_exactly_the_room_asked_for),
		cmocka_unit_test(mapping_reserve_of_no_more_than_the_room_there_is_changes_nothing),
		cmocka_unit_test(mapping_reserve_refuses_a_count_whose_size_overflows),
		cmocka_unit_test(mapping_sort_orders_by_protocol_then_port),
		cmocka_unit_test(mapping_sort_keeps_duplicates_in_insertion_order),
		cmocka_unit_test(mapping_sort_keeps_duplicates_in_insertion_order_across_many_merges),
		cmocka_unit_test(mapping_sort_leaves_a_sorted_mapping_as_it_is),
		cmocka_unit_test(mapping_sort_of_an_empty_mapping_leaves_it_empty),
		cmocka_unit_test(mapping_find_returns_the_stored_redirect_of_a_protocol_and_port),
		cmocka_unit_test(mapping_find_misses_a_port_that_is_absent),
		cmocka_unit_test(mapping_find_misses_the_same_port_of_the_other_protocol),
		cmocka_unit_test(mapping_find_in_an_empty_mapping_misses),
		cmocka_unit_test(mapping_find_hits_every_port_of_a_full_mapping),
		cmocka_unit_test(mapping_add_file_returns_a_copy_independent_of_the_argument),
		cmocka_unit_test(mapping_add_file_copy_stays_valid_as_more_files_are_added),
		cmocka_unit_test(mapping_free_accepts_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
