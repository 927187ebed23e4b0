/* The owner clause of the mapping-file language ("for UNIT", "for cgroup
 * PATH"): what parses into which owner, and the exact text of each error.
 * The model's side: owners interned once per mapping, and their text as
 * the clause (and the kernel's table) writes it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "config.h"
#include "config_fixture.h"

/* The one error a line gives, and that it adds no redirect. */
static void assert_refused(struct fixture *fixture, const char *line, const char *error)
{
	parse(fixture, line);
	assert_string_equal(diagnostics_text(fixture), error);
	assert_int_equal(fixture->diagnostics.error_count, 1);
	assert_int_equal(fixture->mapping->redirect_count, 0);
}

static void assert_owner(const struct redirect *redirect, enum owner_kind kind, const char *name)
{
	assert_non_null(redirect->owner);
	assert_int_equal(redirect->owner->kind, kind);
	assert_string_equal(redirect->owner->name, name);
}

/* What parses. */

static void test_for_unit_names_a_service(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 to 8080 for nginx.service\n");
	assert_string_equal(diagnostics_text(fixture), "");
	assert_int_equal(fixture->mapping->redirect_count, 1);
	assert_int_equal(fixture->mapping->redirects[0].target, 8080);
	assert_owner(&fixture->mapping->redirects[0], OWNER_UNIT, "nginx.service");
}

static void test_scopes_slices_and_instances_are_units(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 to 8080 for session-3.scope\n"
		       "redirect tcp 81 to 8081 for system-web.slice\n"
		       "redirect tcp 82 to 8082 for web@blue.service\n"
		       "redirect tcp 83 to 8083 for dev-disk-by\\x2duuid.service\n");
	assert_string_equal(diagnostics_text(fixture), "");
	assert_int_equal(fixture->mapping->redirect_count, 4);
	assert_owner(&fixture->mapping->redirects[0], OWNER_UNIT, "session-3.scope");
	assert_owner(&fixture->mapping->redirects[1], OWNER_UNIT, "system-web.slice");
	assert_owner(&fixture->mapping->redirects[2], OWNER_UNIT, "web@blue.service");
	assert_owner(&fixture->mapping->redirects[3], OWNER_UNIT, "dev-disk-by\\x2duuid.service");
}

static void test_for_cgroup_names_a_path_from_the_root(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect udp 443 to 8443 for cgroup /system.slice/web.service\n");
	assert_string_equal(diagnostics_text(fixture), "");
	assert_int_equal(fixture->mapping->redirect_count, 1);
	assert_owner(&fixture->mapping->redirects[0], OWNER_CGROUP, "/system.slice/web.service");
}

static void test_redirect_without_owner_has_none(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 to 8080\n");
	assert_int_equal(fixture->mapping->redirect_count, 1);
	assert_null(fixture->mapping->redirects[0].owner);
	assert_int_equal(fixture->mapping->owner_count, 0);
}

static void test_both_protocols_of_a_line_share_its_owner(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp,udp 443 to 8443 for nginx.service # HTTPS and QUIC\n");
	assert_string_equal(diagnostics_text(fixture), "");
	assert_int_equal(fixture->mapping->redirect_count, 2);
	assert_owner(&fixture->mapping->redirects[0], OWNER_UNIT, "nginx.service");
	assert_true(fixture->mapping->redirects[0].owner == fixture->mapping->redirects[1].owner);
}

/* One copy of each distinct owner, whatever the number of lines naming it. */
static void test_lines_naming_the_same_owner_share_one_copy(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 to 8080 for nginx.service\n"
		       "redirect tcp 81 to 8081 for cgroup /nginx.service\n"
		       "redirect tcp 443 to 8443 for nginx.service\n");
	assert_int_equal(fixture->mapping->redirect_count, 3);
	assert_int_equal(fixture->mapping->owner_count, 2);
	assert_true(fixture->mapping->redirects[0].owner == fixture->mapping->redirects[2].owner);
	assert_owner(&fixture->mapping->redirects[1], OWNER_CGROUP, "/nginx.service");
}

static void test_many_distinct_owners_are_each_kept_once(void **state)
{
	struct fixture *fixture = *state;
	char line[64];

	for (unsigned int round = 0; round < 2; round++) {
		for (unsigned int i = 0; i < 1000; i++) {
			const struct owner *owner;

			snprintf(line, sizeof(line), "unit-%u.service", i);
			owner = mapping_intern_owner(fixture->mapping, OWNER_UNIT, line, strlen(line));
			assert_non_null(owner);
			assert_string_equal(owner->name, line);
			assert_true(owner == fixture->mapping->owners[i]);
		}
	}
	assert_int_equal(fixture->mapping->owner_count, 1000);
}

static void test_owner_text_is_the_clause_after_for(void **state)
{
	struct fixture *fixture = *state;
	char text[OWNER_TEXT_MAX + 1];

	parse(fixture, "redirect tcp 80 to 8080 for nginx.service\nredirect tcp 81 to 8081 for cgroup /a/b\n");
	assert_int_equal(owner_text(fixture->mapping->redirects[0].owner, text, sizeof(text)), 13);
	assert_string_equal(text, "nginx.service");
	assert_int_equal(owner_text(fixture->mapping->redirects[1].owner, text, sizeof(text)), 11);
	assert_string_equal(text, "cgroup /a/b");
}

static void test_owner_text_reads_back_into_the_same_owner(void **state)
{
	struct fixture *fixture = *state;
	const struct owner *unit = NULL, *group = NULL;

	assert_int_equal(mapping_intern_owner_text(fixture->mapping, "nginx.service", 13, &unit), 0);
	assert_int_equal(mapping_intern_owner_text(fixture->mapping, "cgroup /a/b", 11, &group), 0);
	assert_int_equal(unit->kind, OWNER_UNIT);
	assert_string_equal(unit->name, "nginx.service");
	assert_int_equal(group->kind, OWNER_CGROUP);
	assert_string_equal(group->name, "/a/b");
	assert_true(owner_equal(unit, mapping_intern_owner(fixture->mapping, OWNER_UNIT, "nginx.service", 13)));
	assert_false(owner_equal(unit, group));
	assert_false(owner_equal(unit, NULL));
	assert_true(owner_equal(NULL, NULL));
}

static void test_owner_text_that_names_no_owner_is_refused(void **state)
{
	struct fixture *fixture = *state;
	const struct owner *owner = NULL;

	assert_int_equal(mapping_intern_owner_text(fixture->mapping, "", 0, &owner), -EINVAL);
	assert_int_equal(mapping_intern_owner_text(fixture->mapping, "cgroup ", 7, &owner), -EINVAL);
	assert_int_equal(mapping_intern_owner_text(fixture->mapping, "a\0b", 3, &owner), -EINVAL);
	assert_null(owner);
}

/* The longest owners the kernel's table records. */
static void test_owners_of_the_length_limit_are_accepted(void **state)
{
	struct fixture *fixture = *state;
	char line[512], unit[OWNER_TEXT_MAX + 1], path[OWNER_TEXT_MAX + 1];

	memset(unit, 'u', OWNER_TEXT_MAX - 8);
	strcpy(unit + OWNER_TEXT_MAX - 8, ".service");
	path[0] = '/';
	memset(path + 1, 'p', OWNER_TEXT_MAX - 8);
	path[OWNER_TEXT_MAX - 7] = '\0';
	snprintf(line, sizeof(line), "redirect tcp 80 to 8080 for %s\nredirect tcp 81 to 8081 for cgroup %s\n", unit, path);
	parse(fixture, line);
	assert_string_equal(diagnostics_text(fixture), "");
	assert_int_equal(fixture->mapping->redirect_count, 2);
	assert_int_equal(strlen(fixture->mapping->redirects[0].owner->name), OWNER_TEXT_MAX);
	assert_int_equal(strlen(fixture->mapping->redirects[1].owner->name) + strlen("cgroup "), OWNER_TEXT_MAX);
}

/* Errors. */

static void test_for_without_an_owner_is_an_error(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for\n",
		       "test.conf:1:28: error: missing owner after 'for'; expected a unit such as 'nginx.service', or 'cgroup /PATH'");
}

static void test_for_cgroup_without_a_path_is_an_error(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for cgroup # the web server\n",
		       "test.conf:1:35: error: missing path after 'for cgroup'; expected an absolute cgroup v2 path, as '/system.slice/web.service'");
}

static void test_name_without_a_unit_type_suggests_service(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for nginx\n",
		       "test.conf:1:29: error: owner 'nginx' is not a unit name; did you mean 'nginx.service'?");
}

static void test_name_ending_in_a_dot_suggests_service(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for nginx.\n",
		       "test.conf:1:29: error: owner 'nginx.' is not a unit name; did you mean 'nginx.service'?");
}

/* An invalid owner does not end the line: the clauses after it are read,
 * and the error is the owner's alone (found by the fuzzer: the parse
 * itself failed). */
static void test_a_family_after_an_invalid_owner_is_read(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for nginx ipv4\n",
		       "test.conf:1:29: error: owner 'nginx' is not a unit name; did you mean 'nginx.service'?");
}

static void test_an_address_after_an_invalid_owner_is_read(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for nginx on 198.18.0.1\n",
		       "test.conf:1:29: error: owner 'nginx' is not a unit name; did you mean 'nginx.service'?");
}

static void test_misspelt_unit_type_is_suggested(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for nginx.srvice\n",
		       "test.conf:1:35: error: unknown unit type '.srvice' in 'nginx.srvice'; did you mean 'nginx.service'?");
}

static void test_unknown_unit_type_lists_the_valid_ones(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for web.example.org\n",
		       "test.conf:1:41: error: unknown unit type '.org' in 'web.example.org'; an owner is a unit whose name ends in '.service', '.scope' or '.slice'");
}

/* A socket unit's socket is made by the service manager, in its own
 * group: the service it starts is what to name. */
static void test_socket_unit_says_to_name_its_service(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for nginx.socket\n",
		       "test.conf:1:29: error: 'nginx.socket' is a socket unit, which has no control group of its own to own a port; name a .service, .scope or .slice (for a socket-activated service, its .service)");
}

static void test_target_unit_is_refused(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for multi-user.target\n",
		       "test.conf:1:29: error: 'multi-user.target' is a target unit, which has no control group of its own to own a port; name a .service, .scope or .slice (for a socket-activated service, its .service)");
}

/* nftables cannot match the owner of the receiving socket on input. */
static void test_for_user_explains_why_there_is_none(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for user www-data\n",
		       "test.conf:1:29: error: an owner is a unit or a cgroup, not a user: nftables cannot match the user of the socket that receives a connection; name the service, as 'for NAME.service'");
}

static void test_template_says_to_name_an_instance(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for web@.service\n",
		       "test.conf:1:29: error: 'web@.service' is a template, which has no control group; name an instance, as 'web@NAME.service'");
}

static void test_invalid_character_in_a_unit_name_is_pointed_at(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for web%1.service\n",
		       "test.conf:1:32: error: invalid character '%' in unit name 'web%1.service'; systemd writes it escaped, as 'systemd-escape' prints it");
}

static void test_unit_name_without_a_name_is_an_error(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for .service\n",
		       "test.conf:1:29: error: invalid unit name '.service': the name before the type is empty");
}

static void test_unit_name_starting_with_at_is_an_error(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for @blue.service\n",
		       "test.conf:1:29: error: invalid unit name '@blue.service': the name before '@' is empty");
}

static void test_unit_name_with_two_ats_points_at_the_second(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for web@a@b.service\n",
		       "test.conf:1:34: error: invalid unit name 'web@a@b.service': it has more than one '@'");
}

static void test_root_slice_is_refused(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for -.slice\n",
		       "test.conf:1:29: error: '-.slice' is the root slice, which holds every process; name a unit below it");
}

static void test_slice_name_with_a_double_dash_is_an_error(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for system--web.slice\n",
		       "test.conf:1:29: error: invalid unit name 'system--web.slice': a slice's name is the path of slices above it joined by single dashes, as 'system-web.slice'");
}

static void test_slice_name_ending_in_a_dash_is_an_error(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for system-.slice\n",
		       "test.conf:1:29: error: invalid unit name 'system-.slice': a slice's name is the path of slices above it joined by single dashes, as 'system-web.slice'");
}

static void test_unit_name_over_the_limit_is_an_error(void **state)
{
	struct fixture *fixture = *state;
	char line[512], expected[512], unit[OWNER_TEXT_MAX + 2];

	memset(unit, 'u', OWNER_TEXT_MAX - 7);
	strcpy(unit + OWNER_TEXT_MAX - 7, ".service");
	snprintf(line, sizeof(line), "redirect tcp 80 to 8080 for %s\n", unit);
	snprintf(expected, sizeof(expected),
		 "test.conf:1:29: error: unit name '%.64s...' is longer than 128 bytes, the most the kernel's table records",
		 unit);
	assert_refused(fixture, line, expected);
}

static void test_relative_cgroup_path_says_to_start_at_the_root(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for cgroup system.slice/web.service\n",
		       "test.conf:1:36: error: cgroup path 'system.slice/web.service' is not absolute; write it from the hierarchy's root, as '/system.slice/web.service'");
}

static void test_root_cgroup_is_refused(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for cgroup /\n",
		       "test.conf:1:36: error: the root cgroup '/' holds every process; name a group below it");
}

static void test_dot_dot_in_a_cgroup_path_is_pointed_at(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for cgroup /web/../system.slice\n",
		       "test.conf:1:41: error: '..' in cgroup path '/web/../system.slice'; write the path from the root without '.' or '..'");
}

static void test_dot_in_a_cgroup_path_is_pointed_at(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for cgroup /./web\n",
		       "test.conf:1:37: error: '.' in cgroup path '/./web'; write the path from the root without '.' or '..'");
}

static void test_empty_component_in_a_cgroup_path_is_pointed_at(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for cgroup /system.slice//web\n",
		       "test.conf:1:50: error: empty component in cgroup path '/system.slice//web'; remove the extra '/'");
}

static void test_trailing_slash_in_a_cgroup_path_is_pointed_at(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for cgroup /web/\n",
		       "test.conf:1:40: error: trailing '/' in cgroup path '/web/'; remove it");
}

static void test_cgroup_path_over_the_limit_is_an_error(void **state)
{
	struct fixture *fixture = *state;
	char line[512], expected[512], path[OWNER_TEXT_MAX];

	path[0] = '/';
	memset(path + 1, 'p', OWNER_TEXT_MAX - 7);
	path[OWNER_TEXT_MAX - 6] = '\0';
	snprintf(line, sizeof(line), "redirect tcp 80 to 8080 for cgroup %s\n", path);
	snprintf(expected, sizeof(expected),
		 "test.conf:1:36: error: cgroup path '%.64s...' is longer than 121 bytes, the most the kernel's table records",
		 path);
	assert_refused(fixture, line, expected);
}

static void test_second_for_clause_names_the_first(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for a.service for b.service\n",
		       "test.conf:1:39: error: duplicate 'for' clause; a redirect has one owner, first given at column 25");
}

static void test_misspelt_for_is_suggested(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 fro nginx.service\n",
		       "test.conf:1:25: error: unknown word 'fro' after the target port; did you mean 'for'?");
}

static void test_word_after_the_owner_is_an_error(void **state)
{
	assert_refused(*state, "redirect tcp 80 to 8080 for nginx.service please\n",
		       "test.conf:1:43: error: unexpected 'please' after the owner; a comment must start with '#'");
}

/* Errors in the owner do not hide those before it, nor the reverse. */
static void test_errors_before_and_in_the_owner_are_all_reported(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80a to 8080 for nginx\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:16: error: invalid port '80a': unexpected 'a'; expected a number from 1 to 65535\n"
			    "test.conf:1:30: error: owner 'nginx' is not a unit name; did you mean 'nginx.service'?");
	assert_int_equal(fixture->mapping->redirect_count, 0);
}

/* The owner is not part of the key: a port is redirected once. */
static void test_same_port_with_another_owner_is_a_duplicate(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 to 8080 for a.service\nredirect tcp 80 to 8080 for b.service\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:2:1: error: duplicate redirect for tcp port 80; first defined at test.conf:1:1");
	assert_int_equal(fixture->mapping->redirect_count, 1);
	assert_owner(&fixture->mapping->redirects[0], OWNER_UNIT, "a.service");
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_for_unit_names_a_service),
		TEST(test_scopes_slices_and_instances_are_units),
		TEST(test_for_cgroup_names_a_path_from_the_root),
		TEST(test_redirect_without_owner_has_none),
		TEST(test_both_protocols_of_a_line_share_its_owner),
		TEST(test_lines_naming_the_same_owner_share_one_copy),
		TEST(test_many_distinct_owners_are_each_kept_once),
		TEST(test_owner_text_is_the_clause_after_for),
		TEST(test_owner_text_reads_back_into_the_same_owner),
		TEST(test_owner_text_that_names_no_owner_is_refused),
		TEST(test_owners_of_the_length_limit_are_accepted),
		TEST(test_for_without_an_owner_is_an_error),
		TEST(test_for_cgroup_without_a_path_is_an_error),
		TEST(test_name_without_a_unit_type_suggests_service),
		TEST(test_name_ending_in_a_dot_suggests_service),
		TEST(test_a_family_after_an_invalid_owner_is_read),
		TEST(test_an_address_after_an_invalid_owner_is_read),
		TEST(test_misspelt_unit_type_is_suggested),
		TEST(test_unknown_unit_type_lists_the_valid_ones),
		TEST(test_socket_unit_says_to_name_its_service),
		TEST(test_target_unit_is_refused),
		TEST(test_for_user_explains_why_there_is_none),
		TEST(test_template_says_to_name_an_instance),
		TEST(test_invalid_character_in_a_unit_name_is_pointed_at),
		TEST(test_unit_name_without_a_name_is_an_error),
		TEST(test_unit_name_starting_with_at_is_an_error),
		TEST(test_unit_name_with_two_ats_points_at_the_second),
		TEST(test_root_slice_is_refused),
		TEST(test_slice_name_with_a_double_dash_is_an_error),
		TEST(test_slice_name_ending_in_a_dash_is_an_error),
		TEST(test_unit_name_over_the_limit_is_an_error),
		TEST(test_relative_cgroup_path_says_to_start_at_the_root),
		TEST(test_root_cgroup_is_refused),
		TEST(test_dot_dot_in_a_cgroup_path_is_pointed_at),
		TEST(test_dot_in_a_cgroup_path_is_pointed_at),
		TEST(test_empty_component_in_a_cgroup_path_is_pointed_at),
		TEST(test_trailing_slash_in_a_cgroup_path_is_pointed_at),
		TEST(test_cgroup_path_over_the_limit_is_an_error),
		TEST(test_second_for_clause_names_the_first),
		TEST(test_misspelt_for_is_suggested),
		TEST(test_word_after_the_owner_is_an_error),
		TEST(test_errors_before_and_in_the_owner_are_all_reported),
		TEST(test_same_port_with_another_owner_is_a_duplicate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
