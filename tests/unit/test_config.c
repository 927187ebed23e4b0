/* The mapping-file language: what parses into which model, and the exact
 * text of every error and warning. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "config_fixture.h"

static void validate(struct fixture *fixture, unsigned int unprivileged_port_start, unsigned int local_port_first)
{
	const struct config_kernel kernel = {
		.unprivileged_port_start = unprivileged_port_start,
		.local_port_first = local_port_first,
	};

	assert_int_equal(config_validate(fixture->mapping, &kernel, &fixture->diagnostics), 0);
}

/* The normalized form that check and show print: unprivileged_port_start
 * first when declared, then one redirect line per protocol and port, tcp
 * before udp, ports ascending, single spaces. */
static void print_normalized(FILE *stream, const struct mapping *mapping)
{
	if (mapping->has_unprivileged_port_start)
		fprintf(stream, "unprivileged_port_start %u\n", mapping->unprivileged_port_start);
	for (size_t i = 0; i < mapping->redirect_count; i++)
		fprintf(stream, "redirect %s %u to %u\n", protocol_name(mapping->redirects[i].protocol),
			mapping->redirects[i].port, mapping->redirects[i].target);
}

static const char *normalized_text(struct fixture *fixture, const struct mapping *mapping)
{
	char *text = NULL;
	size_t size = 0;
	FILE *stream = open_memstream(&text, &size);

	assert_non_null(stream);
	print_normalized(stream, mapping);
	assert_int_equal(fclose(stream), 0);
	return keep(fixture, text);
}

static void assert_redirect(const struct redirect *redirect, enum protocol protocol, unsigned int port,
			    unsigned int target)
{
	assert_int_equal(redirect->protocol, protocol);
	assert_int_equal(redirect->port, port);
	assert_int_equal(redirect->target, target);
}

static void assert_location(const struct location *location, const char *file, unsigned int line,
			    unsigned int column)
{
	assert_string_equal(location->file, file);
	assert_int_equal(location->line, line);
	assert_int_equal(location->column, column);
}

static void assert_port_location(const struct redirect *redirect, const char *file, unsigned int line,
				 unsigned int column)
{
	const struct location location = redirect_port_location(redirect);

	assert_location(&location, file, line, column);
}

static void assert_target_location(const struct redirect *redirect, const char *file, unsigned int line,
				   unsigned int column)
{
	const struct location location = redirect_target_location(redirect);

	assert_location(&location, file, line, column);
}

static void assert_no_diagnostics(struct fixture *fixture)
{
	assert_string_equal(diagnostics_text(fixture), "");
	assert_int_equal(fixture->diagnostics.error_count, 0);
	assert_int_equal(fixture->diagnostics.warning_count, 0);
}

/* "DIRECTORY/name", made in the fixture's temporary directory. */
static const char *temporary_path(struct fixture *fixture, const char *name)
{
	if (!fixture->directory[0]) {
		strcpy(fixture->directory, "/tmp/test_config.XXXXXX");
		assert_non_null(mkdtemp(fixture->directory));
	}
	free(fixture->path);
	assert_true(asprintf(&fixture->path, "%s%s%s", fixture->directory, *name ? "/" : "", name) > 0);
	return fixture->path;
}

static void write_file(struct fixture *fixture, const char *name, const char *text)
{
	FILE *stream = fopen(temporary_path(fixture, name), "w");

	assert_non_null(stream);
	assert_int_equal(fputs(text, stream) >= 0, 1);
	assert_int_equal(fclose(stream), 0);
	/* Whatever the umask: as root, a group-writable file is refused. */
	assert_int_equal(chmod(fixture->path, 0644), 0);
}

static void make_directory(struct fixture *fixture, const char *name)
{
	assert_int_equal(mkdir(temporary_path(fixture, name), 0755), 0);
	assert_int_equal(chmod(fixture->path, 0755), 0);
}

static void parse_path(struct fixture *fixture, const char *path)
{
	assert_int_equal(config_parse_path(path, fixture->mapping, &fixture->diagnostics), 0);
}

/* The expected text with every "@" replaced by the temporary directory. */
static const char *in_directory(struct fixture *fixture, const char *pattern)
{
	char *text = NULL;
	size_t size = 0;
	FILE *stream = open_memstream(&text, &size);

	assert_non_null(stream);
	for (const char *c = pattern; *c; c++) {
		if (*c == '@')
			fputs(fixture->directory, stream);
		else
			fputc(*c, stream);
	}
	assert_int_equal(fclose(stream), 0);
	return keep(fixture, text);
}

/* The expected diagnostics are compared with a copy of in_directory()'s
 * result, since diagnostics_text() reuses the same slot. */
static void assert_diagnostics_in_directory(struct fixture *fixture, const char *pattern)
{
	char *expected = strdup(in_directory(fixture, pattern));

	assert_non_null(expected);
	assert_string_equal(diagnostics_text(fixture), expected);
	free(expected);
}

/* The grammar. */

static void test_redirect_tcp_is_one_redirect_with_three_locations(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 to 8080\n");
	assert_no_diagnostics(fixture);
	assert_int_equal(fixture->mapping->redirect_count, 1);
	assert_redirect(&fixture->mapping->redirects[0], PROTOCOL_TCP, 80, 8080);
	assert_location(&fixture->mapping->redirects[0].location, "test.conf", 1, 1);
	assert_port_location(&fixture->mapping->redirects[0], "test.conf", 1, 14);
	assert_target_location(&fixture->mapping->redirects[0], "test.conf", 1, 20);
	assert_false(fixture->mapping->has_unprivileged_port_start);
}

static void test_redirect_udp_is_one_redirect(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect udp 53 to 5353\n");
	assert_no_diagnostics(fixture);
	assert_int_equal(fixture->mapping->redirect_count, 1);
	assert_redirect(&fixture->mapping->redirects[0], PROTOCOL_UDP, 53, 5353);
}

static void test_redirect_tcp_udp_is_two_redirects_with_the_same_locations(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp,udp 443 to 8443\n");
	assert_no_diagnostics(fixture);
	assert_int_equal(fixture->mapping->redirect_count, 2);
	assert_redirect(&fixture->mapping->redirects[0], PROTOCOL_TCP, 443, 8443);
	assert_redirect(&fixture->mapping->redirects[1], PROTOCOL_UDP, 443, 8443);
	for (size_t i = 0; i < 2; i++) {
		assert_location(&fixture->mapping->redirects[i].location, "test.conf", 1, 1);
		assert_port_location(&fixture->mapping->redirects[i], "test.conf", 1, 18);
		assert_target_location(&fixture->mapping->redirects[i], "test.conf", 1, 25);
	}
}

static void test_redirect_udp_tcp_is_the_same_as_tcp_udp(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect udp,tcp 443 to 8443\n");
	assert_no_diagnostics(fixture);
	assert_int_equal(fixture->mapping->redirect_count, 2);
	assert_redirect(&fixture->mapping->redirects[0], PROTOCOL_TCP, 443, 8443);
	assert_redirect(&fixture->mapping->redirects[1], PROTOCOL_UDP, 443, 8443);
}

static void test_unprivileged_port_start_is_stored_with_its_location(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "\n  unprivileged_port_start 1024\n");
	assert_no_diagnostics(fixture);
	assert_true(fixture->mapping->has_unprivileged_port_start);
	assert_int_equal(fixture->mapping->unprivileged_port_start, 1024);
	assert_location(&fixture->mapping->unprivileged_port_start_location, "test.conf", 2, 3);
	assert_int_equal(fixture->mapping->redirect_count, 0);
}

static void test_unprivileged_port_start_accepts_0_and_65535(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "unprivileged_port_start 0\n");
	assert_no_diagnostics(fixture);
	assert_true(fixture->mapping->has_unprivileged_port_start);
	assert_int_equal(fixture->mapping->unprivileged_port_start, 0);

	mapping_free(fixture->mapping);
	fixture->mapping = mapping_new();
	parse(fixture, "unprivileged_port_start 65535\n");
	assert_no_diagnostics(fixture);
	assert_int_equal(fixture->mapping->unprivileged_port_start, 65535);
}

static void test_ports_1_and_65535_are_accepted(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 1 to 65535\nredirect tcp 65535 to 1\n");
	assert_no_diagnostics(fixture);
	assert_int_equal(fixture->mapping->redirect_count, 2);
	assert_redirect(&fixture->mapping->redirects[0], PROTOCOL_TCP, 1, 65535);
	assert_redirect(&fixture->mapping->redirects[1], PROTOCOL_TCP, 65535, 1);
}

static void test_comments_and_blank_lines_are_ignored(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "# redirect tcp 1 to 2\n\n   \n\t\n  # indented comment\nredirect tcp 80 to 8080 # why\n#\n");
	assert_no_diagnostics(fixture);
	assert_int_equal(fixture->mapping->redirect_count, 1);
	assert_location(&fixture->mapping->redirects[0].location, "test.conf", 6, 1);
}

static void test_comment_may_follow_a_token_without_space(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 to 8080#http\nunprivileged_port_start 80#x\n");
	assert_no_diagnostics(fixture);
	assert_int_equal(fixture->mapping->redirect_count, 1);
	assert_redirect(&fixture->mapping->redirects[0], PROTOCOL_TCP, 80, 8080);
	assert_int_equal(fixture->mapping->unprivileged_port_start, 80);
}

static void test_tabs_and_runs_of_spaces_separate_tokens(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "\t redirect\t\ttcp   80 \tto\t8080 \t\n");
	assert_no_diagnostics(fixture);
	assert_int_equal(fixture->mapping->redirect_count, 1);
	assert_redirect(&fixture->mapping->redirects[0], PROTOCOL_TCP, 80, 8080);
	assert_location(&fixture->mapping->redirects[0].location, "test.conf", 1, 3);
	assert_port_location(&fixture->mapping->redirects[0], "test.conf", 1, 19);
	assert_target_location(&fixture->mapping->redirects[0], "test.conf", 1, 26);
}

static void test_non_ascii_and_control_characters_are_allowed_in_comments(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 to 8080 # caf\xc3\xa9 \x1b[31m \x7f\n");
	assert_no_diagnostics(fixture);
	assert_int_equal(fixture->mapping->redirect_count, 1);
}

static void test_crlf_line_endings_are_accepted(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "# Windows\r\nredirect tcp 80 to 8080\r\nredirect tcp 81 to\r\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:3:19: error: missing target port after 'to'; expected a number from 1 to 65535");
	assert_int_equal(fixture->mapping->redirect_count, 1);
	assert_redirect(&fixture->mapping->redirects[0], PROTOCOL_TCP, 80, 8080);
}

static void test_byte_order_mark_is_skipped_and_not_counted_in_columns(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "\xef\xbb\xbfredirect tcp 80 to 8080\nredirct tcp 81 to 8081\n");
	assert_location(&fixture->mapping->redirects[0].location, "test.conf", 1, 1);
	assert_target_location(&fixture->mapping->redirects[0], "test.conf", 1, 20);

	mapping_free(fixture->mapping);
	fixture->mapping = mapping_new();
	diagnostics_clear(&fixture->diagnostics);
	parse(fixture, "\xef\xbb\xbfredirct tcp 81 to 8081\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:1: error: unknown directive 'redirct'; did you mean 'redirect'?");
}

static void test_last_line_needs_no_newline(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 to 8080\nredirect tcp 443 to 8443");
	assert_no_diagnostics(fixture);
	assert_int_equal(fixture->mapping->redirect_count, 2);
}

static void test_empty_file_is_an_empty_mapping(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "");
	assert_no_diagnostics(fixture);
	assert_int_equal(fixture->mapping->redirect_count, 0);
	assert_false(fixture->mapping->has_unprivileged_port_start);
	assert_int_equal(fixture->mapping->file_count, 1);
	assert_string_equal(fixture->mapping->files[0], "test.conf");
}

static void test_redirects_are_sorted_by_protocol_then_port(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect udp 443 to 8443\nredirect tcp 443 to 8443\nredirect udp 53 to 5353\n"
		       "redirect tcp 80 to 8080\n");
	assert_no_diagnostics(fixture);
	assert_int_equal(fixture->mapping->redirect_count, 4);
	assert_redirect(&fixture->mapping->redirects[0], PROTOCOL_TCP, 80, 8080);
	assert_redirect(&fixture->mapping->redirects[1], PROTOCOL_TCP, 443, 8443);
	assert_redirect(&fixture->mapping->redirects[2], PROTOCOL_UDP, 53, 5353);
	assert_redirect(&fixture->mapping->redirects[3], PROTOCOL_UDP, 443, 8443);
	assert_location(&fixture->mapping->redirects[0].location, "test.conf", 4, 1);
}

static void test_normalized_form_parses_back_to_the_same_mapping(void **state)
{
	struct fixture *fixture = *state;
	struct diagnostics again_diagnostics;
	struct mapping *again = mapping_new();
	char *first;

	parse(fixture, "\xef\xbb\xbf# drop-in\r\n"
		       "redirect udp,tcp 443 to 8443   # QUIC and HTTPS\r\n"
		       "\tredirect tcp 80 to 8080\n"
		       "unprivileged_port_start 1024\n"
		       "redirect udp 53\tto 5353#dns");
	assert_no_diagnostics(fixture);
	first = strdup(normalized_text(fixture, fixture->mapping));
	assert_non_null(first);
	assert_string_equal(first, "unprivileged_port_start 1024\n"
				   "redirect tcp 80 to 8080\n"
				   "redirect tcp 443 to 8443\n"
				   "redirect udp 53 to 5353\n"
				   "redirect udp 443 to 8443\n");

	diagnostics_init(&again_diagnostics);
	assert_non_null(again);
	assert_int_equal(config_parse_buffer("normalized.conf", first, strlen(first), again, &again_diagnostics), 0);
	assert_int_equal(config_finish(again, &again_diagnostics), 0);
	assert_int_equal(again_diagnostics.count, 0);
	assert_int_equal(again->has_unprivileged_port_start, fixture->mapping->has_unprivileged_port_start);
	assert_int_equal(again->unprivileged_port_start, fixture->mapping->unprivileged_port_start);
	assert_int_equal(again->redirect_count, fixture->mapping->redirect_count);
	for (size_t i = 0; i < again->redirect_count; i++)
		assert_redirect(&again->redirects[i], fixture->mapping->redirects[i].protocol,
				fixture->mapping->redirects[i].port, fixture->mapping->redirects[i].target);
	assert_string_equal(normalized_text(fixture, again), first);
	free(first);
	mapping_free(again);
	diagnostics_clear(&again_diagnostics);
}

/* Unknown words and suggestions. */

static void test_misspelt_directive_suggests_redirect(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirct tcp 80 to 8080\nredriect tcp 81 to 8081\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:1: error: unknown directive 'redirct'; did you mean 'redirect'?\n"
			    "test.conf:2:1: error: unknown directive 'redriect'; did you mean 'redirect'?");
	assert_int_equal(fixture->mapping->redirect_count, 0);
}

static void test_directive_in_wrong_case_suggests_lowercase(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "Redirect tcp 80 to 8080\nUNPRIVILEGED_PORT_START 80\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:1: error: unknown directive 'Redirect'; did you mean 'redirect'?\n"
			    "test.conf:2:1: error: unknown directive 'UNPRIVILEGED_PORT_START'; did you mean 'unprivileged_port_start'?");
}

static void test_misspelt_unprivileged_port_start_is_suggested(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "unprivileged-port-start 80\nunprivileged_port 80\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:1: error: unknown directive 'unprivileged-port-start'; did you mean 'unprivileged_port_start'?\n"
			    "test.conf:2:1: error: unknown directive 'unprivileged_port'; did you mean 'unprivileged_port_start'?");
}

static void test_sysctl_name_suggests_unprivileged_port_start(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "net.ipv4.ip_unprivileged_port_start 80\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:1: error: unknown directive 'net.ipv4.ip_unprivileged_port_start'; did you mean 'unprivileged_port_start'?");
}

static void test_unknown_directive_far_from_any_keyword_lists_them(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "forward tcp 80 to 8080\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:1: error: unknown directive 'forward'; expected 'redirect' or 'unprivileged_port_start'");
}

static void test_line_starting_with_protocol_suggests_redirect(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "tcp,udp 80 to 8080\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:1: error: unknown directive 'tcp,udp'; did you mean 'redirect tcp,udp'?");
}

static void test_long_user_text_is_cut_in_messages(void **state)
{
	struct fixture *fixture = *state;
	char line[200];

	memset(line, 'x', 100);
	strcpy(line + 100, " tcp 80 to 8080\n");
	parse(fixture, line);
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:1: error: unknown directive 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'; expected 'redirect' or 'unprivileged_port_start'");
}

static void test_misspelt_protocol_suggests_tcp_or_udp(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tpc 80 to 8080\nredirect TCP 81 to 8081\nredirect tcp,UPD 82 to 8082\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:10: error: unknown protocol 'tpc'; did you mean 'tcp'?\n"
			    "test.conf:2:10: error: unknown protocol 'TCP'; did you mean 'tcp'?\n"
			    "test.conf:3:14: error: unknown protocol 'UPD'; did you mean 'udp'?");
}

static void test_unknown_protocol_lists_the_valid_ones(void **state)
{
	struct fixture *fixture = *state;

	/* "ucp" is one letter from both: no guess. */
	parse(fixture, "redirect sctp 80 to 8080\nredirect ucp 81 to 8081\nredirect tcp/udp 82 to 8082\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:10: error: unknown protocol 'sctp'; expected 'tcp', 'udp' or 'tcp,udp'\n"
			    "test.conf:2:10: error: unknown protocol 'ucp'; expected 'tcp', 'udp' or 'tcp,udp'\n"
			    "test.conf:3:10: error: unknown protocol 'tcp/udp'; expected 'tcp', 'udp' or 'tcp,udp'");
}

static void test_protocol_listed_twice_is_an_error(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp,udp,tcp 80 to 8080\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:18: error: protocol 'tcp' is listed twice in 'tcp,udp,tcp'; list it once");
	assert_int_equal(fixture->mapping->redirect_count, 0);
}

static void test_empty_protocol_in_list_points_at_the_extra_comma(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp,,udp 80 to 8080\nredirect ,tcp 81 to 8081\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:14: error: empty protocol in list 'tcp,,udp'; remove the extra comma\n"
			    "test.conf:2:10: error: empty protocol in list ',tcp'; remove the extra comma");
}

static void test_trailing_comma_in_protocol_list_is_an_error(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp, 80 to 8080\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:13: error: trailing comma in protocol list 'tcp,'; remove it");
}

static void test_protocols_separated_by_a_space_say_to_use_a_comma(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp udp 80 to 8080\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:14: error: expected a port, found protocol 'udp'; list protocols with commas and no spaces, as 'tcp,udp'");
}

static void test_misspelt_to_suggests_to(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 ot 8080\nredirect tcp 81 TO 8081\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:17: error: unknown word 'ot' after the port; did you mean 'to'?\n"
			    "test.conf:2:17: error: unknown word 'TO' after the port; did you mean 'to'?");
	assert_int_equal(fixture->mapping->redirect_count, 0);
}

static void test_other_word_instead_of_to_is_an_error(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 -> 8080\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:17: error: expected 'to' after the port, found '->'");
}

/* Missing and extra tokens. */

static void test_missing_protocol_points_after_redirect(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect   # nothing\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:9: error: missing protocol after 'redirect'; expected 'tcp', 'udp' or 'tcp,udp'");
}

static void test_number_in_protocol_place_is_a_missing_protocol(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect 80 to 8080\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:10: error: missing protocol before port '80'; expected 'tcp', 'udp' or 'tcp,udp'");
}

static void test_missing_port_points_after_the_protocol(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp,udp\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:17: error: missing port after the protocol; expected a number from 1 to 65535");
}

static void test_missing_to_points_after_the_port(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80\n");
	assert_string_equal(diagnostics_text(fixture), "test.conf:1:16: error: missing 'to' after the port");
}

static void test_number_in_place_of_to_is_a_missing_to(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 8080\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:17: error: missing 'to' before the target port '8080'");
}

static void test_missing_target_points_after_to(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 to   \t# later\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:19: error: missing target port after 'to'; expected a number from 1 to 65535");
}

static void test_missing_value_points_after_the_keyword(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "unprivileged_port_start\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:24: error: missing value after 'unprivileged_port_start'; expected a number from 0 to 65535");
	assert_false(fixture->mapping->has_unprivileged_port_start);
}

static void test_extra_token_after_target_is_an_error(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 to 8080 8081 8082\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:25: error: unexpected '8081' after the target port; a comment must start with '#'");
	assert_int_equal(fixture->mapping->redirect_count, 0);
}

static void test_extra_token_after_value_is_an_error(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "unprivileged_port_start 1024 // default\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:30: error: unexpected '//' after the value; a comment must start with '#'");
	assert_false(fixture->mapping->has_unprivileged_port_start);
}

/* Numbers. */

static void test_port_0_is_out_of_range(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 0 to 8080\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:14: error: invalid port '0': out of range; expected a number from 1 to 65535");
}

static void test_port_65536_is_out_of_range(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 65536 to 8080\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:14: error: invalid port '65536': out of range; expected a number from 1 to 65535");
}

static void test_thirty_digit_port_is_out_of_range_without_overflow(void **state)
{
	struct fixture *fixture = *state;

	/* 2^64 + 80 would wrap around to 80. */
	parse(fixture, "redirect tcp 18446744073709551696 to 8080\nredirect tcp 100000000000000000000000000080 to 8080\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:14: error: invalid port '18446744073709551696': out of range; expected a number from 1 to 65535\n"
			    "test.conf:2:14: error: invalid port '100000000000000000000000000080': out of range; expected a number from 1 to 65535");
	assert_int_equal(fixture->mapping->redirect_count, 0);
}

static void test_leading_zero_says_what_to_write(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 080 to 8080\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:14: error: invalid port '080': leading zeros are not allowed; write 80");
}

static void test_signed_port_is_an_error(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp +80 to 8080\nredirect tcp -80 to 8080\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:14: error: invalid port '+80': signs are not allowed; expected a number from 1 to 65535\n"
			    "test.conf:2:14: error: invalid port '-80': signs are not allowed; expected a number from 1 to 65535");
}

static void test_hexadecimal_port_says_the_decimal_value(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 0x50 to 8080\nredirect tcp 0X1F90 to 8080\nredirect tcp 0x to 8080\n"
		       "redirect tcp 0x10000 to 8080\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:14: error: invalid port '0x50': only decimal numbers are allowed; write 80\n"
			    "test.conf:2:14: error: invalid port '0X1F90': only decimal numbers are allowed; write 8080\n"
			    "test.conf:3:14: error: invalid port '0x': only decimal numbers are allowed; expected a number from 1 to 65535\n"
			    "test.conf:4:14: error: invalid port '0x10000': only decimal numbers are allowed; expected a number from 1 to 65535");
}

static void test_trailing_junk_points_at_the_first_junk_character(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80abc to 8080\nredirect tcp 8.0 to 8080\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:16: error: invalid port '80abc': unexpected 'a'; expected a number from 1 to 65535\n"
			    "test.conf:2:15: error: invalid port '8.0': unexpected '.'; expected a number from 1 to 65535");
}

/* test_ranges.c has the rest of service names. */
static void test_service_name_is_the_port_it_names(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp http to 8080\n");
	assert_no_diagnostics(fixture);
	assert_int_equal(fixture->mapping->redirect_count, 1);
	assert_redirect(&fixture->mapping->redirects[0], PROTOCOL_TCP, 80, 8080);
}

static void test_target_errors_name_the_target_port(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 to 0\nredirect tcp 81 to 70000\nredirect tcp 82 to 08080\n"
		       "redirect tcp 83 to 8080x\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:20: error: invalid target port '0': out of range; expected a number from 1 to 65535\n"
			    "test.conf:2:20: error: invalid target port '70000': out of range; expected a number from 1 to 65535\n"
			    "test.conf:3:20: error: invalid target port '08080': leading zeros are not allowed; write 8080\n"
			    "test.conf:4:24: error: invalid target port '8080x': unexpected 'x'; expected a number from 1 to 65535");
	assert_int_equal(fixture->mapping->redirect_count, 0);
}

static void test_unprivileged_port_start_value_errors(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "unprivileged_port_start 65536\nunprivileged_port_start -1\nunprivileged_port_start 00\n"
		       "unprivileged_port_start 1k\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:25: error: invalid unprivileged_port_start value '65536': out of range; expected a number from 0 to 65535\n"
			    "test.conf:2:25: error: invalid unprivileged_port_start value '-1': signs are not allowed; expected a number from 0 to 65535\n"
			    "test.conf:3:25: error: invalid unprivileged_port_start value '00': leading zeros are not allowed; write 0\n"
			    "test.conf:4:26: error: invalid unprivileged_port_start value '1k': unexpected 'k'; expected a number from 0 to 65535");
	assert_false(fixture->mapping->has_unprivileged_port_start);
}

static void test_target_equal_to_port_is_an_error(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp,udp 8080 to 8080\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:26: error: target port 8080 is the same as the port; a redirect to itself does nothing, remove the line");
	assert_int_equal(fixture->mapping->redirect_count, 0);
}

static void test_every_bad_token_of_a_line_is_reported(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tpc 080 TO 0x50 extra\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:10: error: unknown protocol 'tpc'; did you mean 'tcp'?\n"
			    "test.conf:1:14: error: invalid port '080': leading zeros are not allowed; write 80\n"
			    "test.conf:1:18: error: unknown word 'TO' after the port; did you mean 'to'?\n"
			    "test.conf:1:21: error: invalid target port '0x50': only decimal numbers are allowed; write 80\n"
			    "test.conf:1:26: error: unexpected 'extra' after the target port; a comment must start with '#'");
	assert_int_equal(fixture->diagnostics.error_count, 5);
}

static void test_errors_of_every_line_are_reported_and_good_lines_kept(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 to 8080\nredirect tcp 0 to 1\nredirect udp 53 to 5353\nbogus\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:2:14: error: invalid port '0': out of range; expected a number from 1 to 65535\n"
			    "test.conf:4:1: error: unknown directive 'bogus'; expected 'redirect' or 'unprivileged_port_start'");
	assert_int_equal(fixture->mapping->redirect_count, 2);
}

static void test_errors_past_the_cap_are_counted_not_stored(void **state)
{
	struct fixture *fixture = *state;
	char *text = NULL;
	size_t size = 0;
	FILE *stream = open_memstream(&text, &size);

	assert_non_null(stream);
	for (int i = 0; i < DIAGNOSTICS_MAX_ERRORS + 10; i++)
		fputs("bogus\n", stream);
	fputs("redirect tcp 80 to 8080\n", stream);
	assert_int_equal(fclose(stream), 0);
	parse(fixture, text);
	free(text);
	assert_true(diagnostics_full(&fixture->diagnostics));
	assert_int_equal(fixture->diagnostics.count, DIAGNOSTICS_MAX_ERRORS);
	assert_int_equal(fixture->diagnostics.error_count, DIAGNOSTICS_MAX_ERRORS + 10);
	assert_int_equal(fixture->diagnostics.dropped_errors, 10);
	/* Parsing went on: the valid line after the errors was read too. */
	assert_int_equal(fixture->mapping->redirect_count, 1);
}

/* Duplicates. */

static void test_duplicate_redirect_names_the_first_and_keeps_it(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 to 8080\n# again\n  redirect tcp 80 to 9090\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:3:3: error: duplicate redirect for tcp port 80; first defined at test.conf:1:1");
	assert_int_equal(fixture->mapping->redirect_count, 1);
	assert_redirect(&fixture->mapping->redirects[0], PROTOCOL_TCP, 80, 8080);
}

static void test_duplicate_is_per_protocol(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 443 to 8443\nredirect udp 443 to 8443\nredirect tcp,udp 443 to 9443\n"
		       "redirect udp 80 to 8080\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:3:1: error: duplicate redirect for tcp port 443; first defined at test.conf:1:1\n"
			    "test.conf:3:1: error: duplicate redirect for udp port 443; first defined at test.conf:2:1");
	assert_int_equal(fixture->mapping->redirect_count, 3);
}

static void test_duplicates_are_reported_in_file_order(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect udp 53 to 5353\nredirect tcp 443 to 8443\nredirect tcp 80 to 8080\n"
		       "redirect udp 53 to 5354\nredirect tcp 443 to 8444\nredirect tcp 80 to 8081\nredirect tcp 80 to 8082\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:4:1: error: duplicate redirect for udp port 53; first defined at test.conf:1:1\n"
			    "test.conf:5:1: error: duplicate redirect for tcp port 443; first defined at test.conf:2:1\n"
			    "test.conf:6:1: error: duplicate redirect for tcp port 80; first defined at test.conf:3:1\n"
			    "test.conf:7:1: error: duplicate redirect for tcp port 80; first defined at test.conf:3:1");
	assert_int_equal(fixture->mapping->redirect_count, 3);
}

static void test_duplicate_across_buffers_names_the_other_file(void **state)
{
	struct fixture *fixture = *state;
	const char *first = "redirect tcp 80 to 8080\n", *second = "\nredirect tcp 80 to 8081\n";

	assert_int_equal(config_parse_buffer("b.conf", first, strlen(first), fixture->mapping, &fixture->diagnostics), 0);
	assert_int_equal(config_parse_buffer("a.conf", second, strlen(second), fixture->mapping, &fixture->diagnostics), 0);
	assert_int_equal(config_finish(fixture->mapping, &fixture->diagnostics), 0);
	assert_string_equal(diagnostics_text(fixture),
			    "a.conf:2:1: error: duplicate redirect for tcp port 80; first defined at b.conf:1:1");
}

static void test_unprivileged_port_start_declared_twice_names_the_first(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "unprivileged_port_start 1024\nunprivileged_port_start 80\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:2:1: error: duplicate unprivileged_port_start; first declared at test.conf:1:1");
	assert_int_equal(fixture->mapping->unprivileged_port_start, 1024);
}

/* Bytes that are not text. */

static void test_nul_byte_is_reported_at_its_position(void **state)
{
	struct fixture *fixture = *state;
	static const char text[] = "redirect tcp 80 to 8080\nredirect tcp\0 81 to 8081\nredirect tcp 82 to 8082\n";

	parse_bytes(fixture, text, sizeof(text) - 1);
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:2:13: error: NUL byte; a mapping file must be plain text");
	assert_int_equal(fixture->mapping->redirect_count, 2);
}

static void test_nul_byte_in_a_comment_is_reported(void **state)
{
	struct fixture *fixture = *state;
	static const char text[] = "redirect tcp 80 to 8080 # a\0b\n";

	parse_bytes(fixture, text, sizeof(text) - 1);
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:28: error: NUL byte; a mapping file must be plain text");
	assert_int_equal(fixture->mapping->redirect_count, 0);
}

static void test_carriage_return_inside_a_line_is_an_error(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80\r to 8080\nredirect tcp 81 to 8081\r\r\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:16: error: carriage return in the middle of a line; only \"\\r\\n\" line endings are accepted\n"
			    "test.conf:2:24: error: carriage return in the middle of a line; only \"\\r\\n\" line endings are accepted");
}

static void test_old_mac_line_endings_are_not_one_long_comment(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "# rules\rredirect tcp 80 to 8080\r");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:8: error: carriage return in the middle of a line; only \"\\r\\n\" line endings are accepted");
}

static void test_carriage_return_at_end_of_file_is_an_error(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 to 8080\r");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:24: error: carriage return in the middle of a line; only \"\\r\\n\" line endings are accepted");
}

static void test_non_ascii_byte_outside_a_comment_is_an_error(void **state)
{
	struct fixture *fixture = *state;

	/* A no-break space pasted from a web page. */
	parse(fixture, "redirect tcp\xc2\xa0" "80 to 8080\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:13: error: non-ASCII byte 0xc2; only ASCII is allowed outside comments");
	assert_int_equal(fixture->mapping->redirect_count, 0);
}

static void test_byte_order_mark_after_the_start_is_non_ascii(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 to 8080\n\xef\xbb\xbfredirect tcp 81 to 8081\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:2:1: error: non-ASCII byte 0xef; only ASCII is allowed outside comments");
}

static void test_control_character_outside_a_comment_is_an_error(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect\ftcp 80 to 8080\nredirect tcp 81 to 8081\x1b[0m\nredirect tcp 82 to 8082\x7f\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:9: error: control character 0x0c; separate words with spaces or tabs\n"
			    "test.conf:2:24: error: control character 0x1b; separate words with spaces or tabs\n"
			    "test.conf:3:24: error: control character 0x7f; separate words with spaces or tabs");
}

static void test_overlong_line_is_reported_once_and_skipped(void **state)
{
	struct fixture *fixture = *state;
	size_t length = CONFIG_MAX_LINE_LENGTH + 1;
	char *text = malloc(length + 64);

	assert_non_null(text);
	/* Full of bytes that would each be an error, were the line read. */
	memset(text, '\xff', length);
	strcpy(text + length, "\nredirect tcp 80 to 8080\n");
	parse(fixture, text);
	free(text);
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:4097: error: line is longer than 4096 bytes; shorten it");
	assert_int_equal(fixture->mapping->redirect_count, 1);
	assert_location(&fixture->mapping->redirects[0].location, "test.conf", 2, 1);
}

static void test_line_of_exactly_the_limit_is_accepted(void **state)
{
	struct fixture *fixture = *state;
	const char *directive = "redirect tcp 80 to 8080 #";
	size_t length = CONFIG_MAX_LINE_LENGTH;
	char *text = malloc(length + 3);

	assert_non_null(text);
	memset(text, 'x', length);
	memcpy(text, directive, strlen(directive));
	/* The "\r\n" ending does not count. */
	strcpy(text + length, "\r\n");
	parse(fixture, text);
	free(text);
	assert_no_diagnostics(fixture);
	assert_int_equal(fixture->mapping->redirect_count, 1);
}

static void test_buffer_over_the_size_limit_is_one_file_error(void **state)
{
	struct fixture *fixture = *state;
	char *text = calloc(1, CONFIG_MAX_FILE_SIZE + 1);

	assert_non_null(text);
	parse_bytes(fixture, text, CONFIG_MAX_FILE_SIZE + 1);
	free(text);
	assert_string_equal(diagnostics_text(fixture), "test.conf: error: file is larger than the limit of 64 MiB");
}

/* Files and directories. */

static void test_path_to_a_file_is_parsed_and_finished(void **state)
{
	struct fixture *fixture = *state;

	write_file(fixture, "rules.conf", "redirect udp 53 to 5353\nredirect tcp 80 to 8080\nredirect tcp 80 to 8081\n");
	parse_path(fixture, temporary_path(fixture, "rules.conf"));
	assert_diagnostics_in_directory(fixture,
					"@/rules.conf:3:1: error: duplicate redirect for tcp port 80; first defined at @/rules.conf:2:1");
	assert_int_equal(fixture->mapping->redirect_count, 2);
	assert_redirect(&fixture->mapping->redirects[0], PROTOCOL_TCP, 80, 8080);
	assert_redirect(&fixture->mapping->redirects[1], PROTOCOL_UDP, 53, 5353);
}

static void test_missing_file_is_a_file_error(void **state)
{
	struct fixture *fixture = *state;

	parse_path(fixture, temporary_path(fixture, "missing.conf"));
	assert_diagnostics_in_directory(fixture, "@/missing.conf: error: cannot open: No such file or directory");
}

static void test_unreadable_file_is_a_file_error(void **state)
{
	struct fixture *fixture = *state;
	const char *path;
	int r;

	write_file(fixture, "secret.conf", "redirect tcp 80 to 8080\n");
	path = temporary_path(fixture, "secret.conf");
	assert_int_equal(chmod(path, 0), 0);
	/* root reads anything: become nobody for the call. */
	if (geteuid() == 0 && seteuid(65534) < 0)
		skip();
	r = config_parse_path(path, fixture->mapping, &fixture->diagnostics);
	if (getuid() == 0)
		assert_int_equal(seteuid(0), 0);
	assert_int_equal(r, 0);
	assert_diagnostics_in_directory(fixture, "@/secret.conf: error: cannot open: Permission denied");
}

static void test_fifo_is_refused_without_blocking(void **state)
{
	struct fixture *fixture = *state;

	assert_int_equal(mkfifo(temporary_path(fixture, "fifo.conf"), 0644), 0);
	parse_path(fixture, temporary_path(fixture, "fifo.conf"));
	assert_diagnostics_in_directory(fixture,
					"@/fifo.conf: error: not a regular file but a FIFO; give a mapping file or a directory of *.conf files");
}

static void test_character_device_is_refused(void **state)
{
	struct fixture *fixture = *state;

	parse_path(fixture, "/dev/null");
	assert_string_equal(diagnostics_text(fixture),
			    "/dev/null: error: not a regular file but a character device; give a mapping file or a directory of *.conf files");
}

static void test_symlink_loop_is_a_file_error(void **state)
{
	struct fixture *fixture = *state;

	assert_int_equal(symlink("loop.conf", temporary_path(fixture, "loop.conf")), 0);
	parse_path(fixture, temporary_path(fixture, "loop.conf"));
	assert_diagnostics_in_directory(fixture, "@/loop.conf: error: cannot open: Too many levels of symbolic links");
}

static void test_file_over_the_size_limit_is_refused_unread(void **state)
{
	struct fixture *fixture = *state;
	int fd;

	fd = open(temporary_path(fixture, "huge.conf"), O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	/* Sparse: costs no disk, and would be 64 MiB of NUL bytes if read. */
	assert_int_equal(ftruncate(fd, CONFIG_MAX_FILE_SIZE + 1), 0);
	close(fd);
	parse_path(fixture, temporary_path(fixture, "huge.conf"));
	assert_diagnostics_in_directory(fixture, "@/huge.conf: error: file is larger than the limit of 64 MiB");
}

static void test_directory_reads_conf_files_in_strcmp_order(void **state)
{
	struct fixture *fixture = *state;

	make_directory(fixture, "rules.d");
	write_file(fixture, "rules.d/20-b.conf", "redirect tcp 80 to 8081\n");
	write_file(fixture, "rules.d/10-a.conf", "redirect tcp 80 to 8080\n");
	write_file(fixture, "rules.d/Z.conf", "unprivileged_port_start 1024\n");
	/* Not read: hidden, wrong suffix, a directory without the suffix. */
	write_file(fixture, "rules.d/.hidden.conf", "garbage\n");
	write_file(fixture, "rules.d/20-b.conf.orig", "garbage\n");
	write_file(fixture, "rules.d/README", "garbage\n");
	make_directory(fixture, "rules.d/sub");
	write_file(fixture, "rules.d/sub/30-c.conf", "garbage\n");
	parse_path(fixture, temporary_path(fixture, "rules.d"));
	assert_diagnostics_in_directory(fixture,
					"@/rules.d/20-b.conf:1:1: error: duplicate redirect for tcp port 80; first defined at @/rules.d/10-a.conf:1:1");
	assert_int_equal(fixture->mapping->file_count, 3);
	assert_string_equal(fixture->mapping->files[0], in_directory(fixture, "@/rules.d/10-a.conf"));
	assert_string_equal(fixture->mapping->files[1], in_directory(fixture, "@/rules.d/20-b.conf"));
	assert_string_equal(fixture->mapping->files[2], in_directory(fixture, "@/rules.d/Z.conf"));
	assert_true(fixture->mapping->has_unprivileged_port_start);
	assert_int_equal(fixture->mapping->redirect_count, 1);
	assert_redirect(&fixture->mapping->redirects[0], PROTOCOL_TCP, 80, 8080);
}

static void test_directory_path_with_trailing_slash_gets_no_double_slash(void **state)
{
	struct fixture *fixture = *state;

	make_directory(fixture, "rules.d");
	write_file(fixture, "rules.d/a.conf", "bogus\n");
	parse_path(fixture, in_directory(fixture, "@/rules.d/"));
	assert_diagnostics_in_directory(fixture,
					"@/rules.d/a.conf:1:1: error: unknown directive 'bogus'; expected 'redirect' or 'unprivileged_port_start'");
}

static void test_unprivileged_port_start_twice_across_drop_ins_names_the_first(void **state)
{
	struct fixture *fixture = *state;

	make_directory(fixture, "rules.d");
	write_file(fixture, "rules.d/10-a.conf", "unprivileged_port_start 80\n");
	write_file(fixture, "rules.d/20-b.conf", "# site\nunprivileged_port_start 80\n");
	parse_path(fixture, temporary_path(fixture, "rules.d"));
	assert_diagnostics_in_directory(fixture,
					"@/rules.d/20-b.conf:2:1: error: duplicate unprivileged_port_start; first declared at @/rules.d/10-a.conf:1:1");
}

static void test_symlinked_drop_in_is_followed(void **state)
{
	struct fixture *fixture = *state;

	make_directory(fixture, "rules.d");
	write_file(fixture, "web.rules", "redirect tcp 80 to 8080\n");
	assert_int_equal(symlink("../web.rules", temporary_path(fixture, "rules.d/web.conf")), 0);
	parse_path(fixture, temporary_path(fixture, "rules.d"));
	assert_no_diagnostics(fixture);
	assert_int_equal(fixture->mapping->redirect_count, 1);
}

static void test_drop_in_that_is_not_a_regular_file_is_an_error(void **state)
{
	struct fixture *fixture = *state;

	make_directory(fixture, "rules.d");
	make_directory(fixture, "rules.d/10-dir.conf");
	assert_int_equal(mkfifo(temporary_path(fixture, "rules.d/20-fifo.conf"), 0644), 0);
	assert_int_equal(symlink("nowhere", temporary_path(fixture, "rules.d/30-dangling.conf")), 0);
	write_file(fixture, "rules.d/40-good.conf", "redirect tcp 80 to 8080\n");
	parse_path(fixture, temporary_path(fixture, "rules.d"));
	assert_diagnostics_in_directory(fixture,
					"@/rules.d/10-dir.conf: error: not a regular file but a directory; only regular files are read\n"
					"@/rules.d/20-fifo.conf: error: not a regular file but a FIFO; only regular files are read\n"
					"@/rules.d/30-dangling.conf: error: cannot open: No such file or directory");
	assert_int_equal(fixture->mapping->redirect_count, 1);
}

static void test_empty_directory_is_a_file_error(void **state)
{
	struct fixture *fixture = *state;

	make_directory(fixture, "rules.d");
	parse_path(fixture, temporary_path(fixture, "rules.d"));
	assert_diagnostics_in_directory(fixture,
					"@/rules.d: error: directory has no *.conf files; put the mapping in a file whose name ends in '.conf'");
}

static void test_directory_with_only_hidden_or_other_files_is_a_file_error(void **state)
{
	struct fixture *fixture = *state;

	make_directory(fixture, "rules.d");
	write_file(fixture, "rules.d/.conf", "redirect tcp 80 to 8080\n");
	write_file(fixture, "rules.d/.old.conf", "redirect tcp 80 to 8080\n");
	write_file(fixture, "rules.d/rules.conf~", "redirect tcp 80 to 8080\n");
	parse_path(fixture, temporary_path(fixture, "rules.d"));
	assert_diagnostics_in_directory(fixture,
					"@/rules.d: error: directory has no *.conf files; put the mapping in a file whose name ends in '.conf'");
	assert_int_equal(fixture->mapping->redirect_count, 0);
}

/* Files another user could change: refused when running as root. */

#define NOBODY 65534

static void test_group_writable_file_is_refused_as_root(void **state)
{
	struct fixture *fixture = *state;

	if (geteuid() != 0)
		skip();
	write_file(fixture, "rules.conf", "redirect tcp 80 to 8080\n");
	assert_int_equal(chmod(fixture->path, 0664), 0);
	parse_path(fixture, fixture->path);
	assert_diagnostics_in_directory(fixture,
					"@/rules.conf: error: is writable by group or others (mode 0664); run 'chmod go-w @/rules.conf'");
	assert_int_equal(fixture->mapping->redirect_count, 0);
}

static void test_file_writable_by_others_is_refused_as_root(void **state)
{
	struct fixture *fixture = *state;

	if (geteuid() != 0)
		skip();
	write_file(fixture, "rules.conf", "redirect tcp 80 to 8080\n");
	assert_int_equal(chmod(fixture->path, 0602), 0);
	parse_path(fixture, fixture->path);
	assert_diagnostics_in_directory(fixture,
					"@/rules.conf: error: is writable by group or others (mode 0602); run 'chmod go-w @/rules.conf'");
}

static void test_file_owned_by_another_user_is_refused_as_root(void **state)
{
	struct fixture *fixture = *state;

	if (geteuid() != 0)
		skip();
	write_file(fixture, "rules.conf", "redirect tcp 80 to 8080\n");
	assert_int_equal(chown(fixture->path, NOBODY, 0), 0);
	parse_path(fixture, fixture->path);
	assert_diagnostics_in_directory(fixture,
					"@/rules.conf: error: is owned by uid 65534, not root; run 'chown root @/rules.conf'");
	assert_int_equal(fixture->mapping->redirect_count, 0);
}

static void test_file_of_another_user_writable_by_all_gets_both_errors(void **state)
{
	struct fixture *fixture = *state;

	if (geteuid() != 0)
		skip();
	write_file(fixture, "rules.conf", "redirect tcp 80 to 8080\n");
	assert_int_equal(chown(fixture->path, NOBODY, 0), 0);
	assert_int_equal(chmod(fixture->path, 0666), 0);
	parse_path(fixture, fixture->path);
	assert_diagnostics_in_directory(fixture,
					"@/rules.conf: error: is owned by uid 65534, not root; run 'chown root @/rules.conf'\n"
					"@/rules.conf: error: is writable by group or others (mode 0666); run 'chmod go-w @/rules.conf'");
}

/* Anyone could add a drop-in: none is read. */
static void test_drop_in_directory_writable_by_others_is_refused_unread(void **state)
{
	struct fixture *fixture = *state;

	if (geteuid() != 0)
		skip();
	make_directory(fixture, "rules.d");
	write_file(fixture, "rules.d/10-web.conf", "redirect tcp 80 to 8080\n");
	assert_int_equal(chmod(temporary_path(fixture, "rules.d"), 01777), 0);
	parse_path(fixture, temporary_path(fixture, "rules.d"));
	assert_diagnostics_in_directory(fixture,
					"@/rules.d: error: is writable by group or others (mode 1777); run 'chmod go-w @/rules.d'");
	assert_int_equal(fixture->mapping->redirect_count, 0);
}

static void test_drop_in_directory_of_another_user_is_refused_unread(void **state)
{
	struct fixture *fixture = *state;

	if (geteuid() != 0)
		skip();
	make_directory(fixture, "rules.d");
	write_file(fixture, "rules.d/10-web.conf", "redirect tcp 80 to 8080\n");
	assert_int_equal(chown(temporary_path(fixture, "rules.d"), NOBODY, NOBODY), 0);
	parse_path(fixture, fixture->path);
	assert_diagnostics_in_directory(fixture,
					"@/rules.d: error: is owned by uid 65534, not root; run 'chown root @/rules.d'");
	assert_int_equal(fixture->mapping->redirect_count, 0);
}

/* Each drop-in is checked; the others are read, so that all errors show. */
static void test_drop_in_of_another_user_is_refused_and_the_others_read(void **state)
{
	struct fixture *fixture = *state;

	if (geteuid() != 0)
		skip();
	make_directory(fixture, "rules.d");
	write_file(fixture, "rules.d/10-web.conf", "redirect tcp 80 to 8080\n");
	write_file(fixture, "rules.d/20-user.conf", "redirect tcp 443 to 8443\n");
	assert_int_equal(chown(fixture->path, NOBODY, NOBODY), 0);
	write_file(fixture, "rules.d/30-dns.conf", "redirect udp 53 to 5353\n");
	parse_path(fixture, temporary_path(fixture, "rules.d"));
	assert_diagnostics_in_directory(fixture,
					"@/rules.d/20-user.conf: error: is owned by uid 65534, not root; run 'chown root @/rules.d/20-user.conf'");
	assert_int_equal(fixture->mapping->redirect_count, 2);
}

/* A link is followed only to a target that passes too: the file read is
 * named. */
static void test_drop_in_linking_to_a_file_of_another_user_is_refused(void **state)
{
	struct fixture *fixture = *state;

	if (geteuid() != 0)
		skip();
	make_directory(fixture, "rules.d");
	write_file(fixture, "user.rules", "redirect tcp 80 to 8080\n");
	assert_int_equal(chown(fixture->path, NOBODY, NOBODY), 0);
	assert_int_equal(symlink("../user.rules", temporary_path(fixture, "rules.d/web.conf")), 0);
	parse_path(fixture, temporary_path(fixture, "rules.d"));
	assert_diagnostics_in_directory(fixture,
					"@/rules.d/web.conf: error: its target @/user.rules is owned by uid 65534, not root; run 'chown root @/user.rules'");
}

/* Without root the walk is the same, with the running user trusted
 * beside root: a service given only CAP_NET_ADMIN must not read a mapping
 * that others may write either. */
static void test_file_others_may_write_is_refused_when_not_root_too(void **state)
{
	struct fixture *fixture = *state;
	int r;

	write_file(fixture, "rules.conf", "redirect tcp 80 to 8080\n");
	assert_int_equal(chmod(fixture->path, 0666), 0);
	assert_int_equal(chmod(fixture->directory, 0755), 0);
	if (geteuid() == 0 && seteuid(NOBODY) < 0)
		skip();
	r = config_parse_path(fixture->path, fixture->mapping, &fixture->diagnostics);
	if (getuid() == 0)
		assert_int_equal(seteuid(0), 0);
	assert_int_equal(r, 0);
	assert_diagnostics_in_directory(fixture,
					"@/rules.conf: error: is writable by group or others (mode 0666); run 'chmod go-w @/rules.conf'");
	assert_int_equal(fixture->mapping->redirect_count, 0);
}

static void test_own_file_is_read_when_not_root(void **state)
{
	struct fixture *fixture = *state;
	int r;

	if (geteuid() != 0)
		skip();
	write_file(fixture, "rules.conf", "redirect tcp 80 to 8080\n");
	assert_int_equal(chown(fixture->path, NOBODY, NOBODY), 0);
	assert_int_equal(chmod(fixture->directory, 0755), 0);
	assert_int_equal(seteuid(NOBODY), 0);
	r = config_parse_path(fixture->path, fixture->mapping, &fixture->diagnostics);
	assert_int_equal(seteuid(0), 0);
	assert_int_equal(r, 0);
	assert_no_diagnostics(fixture);
	assert_int_equal(fixture->mapping->redirect_count, 1);
}

/* The directories above are walked too (path_trust.h has the details). */
static void test_file_in_a_directory_others_may_write_is_refused(void **state)
{
	struct fixture *fixture = *state;

	make_directory(fixture, "open");
	write_file(fixture, "open/rules.conf", "redirect tcp 80 to 8080\n");
	assert_int_equal(chmod(temporary_path(fixture, "open"), 0777), 0);
	parse_path(fixture, temporary_path(fixture, "open/rules.conf"));
	assert_diagnostics_in_directory(fixture,
					"@/open/rules.conf: error: directory @/open on its path is writable by group or others (mode 0777); run 'chmod go-w @/open'");
	assert_int_equal(fixture->mapping->redirect_count, 0);
}

static void test_file_behind_a_link_of_another_user_is_refused(void **state)
{
	struct fixture *fixture = *state;

	if (geteuid() != 0)
		skip();
	write_file(fixture, "real.conf", "redirect tcp 80 to 8080\n");
	assert_int_equal(symlink("real.conf", temporary_path(fixture, "rules.conf")), 0);
	assert_int_equal(lchown(temporary_path(fixture, "rules.conf"), NOBODY, NOBODY), 0);
	parse_path(fixture, temporary_path(fixture, "rules.conf"));
	assert_diagnostics_in_directory(fixture,
					"@/rules.conf: error: is a symbolic link owned by uid 65534, not root; replace it with a link root owns, or name its target");
	assert_int_equal(fixture->mapping->redirect_count, 0);
}

/* Validation against the kernel. */

static void test_declared_start_above_the_local_port_range_is_an_error(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "unprivileged_port_start 40000\n");
	validate(fixture, 1024, 32768);
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:1: error: unprivileged_port_start 40000 is above 32768, the first port of net.ipv4.ip_local_port_range, and the kernel refuses that; use a value of at most 32768");
}

static void test_declared_start_equal_to_the_local_port_range_is_accepted(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "unprivileged_port_start 32768\n");
	validate(fixture, 1024, 32768);
	assert_no_diagnostics(fixture);
	assert_string_equal(normalized_text(fixture, fixture->mapping), "unprivileged_port_start 32768\n");
}

static void test_target_below_declared_start_is_an_error(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "unprivileged_port_start 2000\nredirect tcp,udp 80 to 1999\n");
	validate(fixture, 0, 32768);
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:2:24: error: target port 1999 is below unprivileged_port_start 2000 (declared at test.conf:1:1), so a non-root service cannot bind it; use a target of at least 2000 or lower unprivileged_port_start");
	assert_int_equal(fixture->diagnostics.error_count, 1);
}

static void test_target_below_the_kernel_value_is_an_error(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 to 443\n");
	validate(fixture, 1024, 32768);
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:20: error: target port 443 is below 1024, the current net.ipv4.ip_unprivileged_port_start, so a non-root service cannot bind it; use a target of at least 1024 or declare a lower unprivileged_port_start");
}

static void test_target_at_the_start_is_accepted(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 to 1024\n");
	validate(fixture, 1024, 32768);
	assert_no_diagnostics(fixture);
	assert_string_equal(normalized_text(fixture, fixture->mapping), "redirect tcp 80 to 1024\n");
}

static void test_declared_start_overrides_the_kernel_value(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "unprivileged_port_start 100\nredirect tcp 80 to 100\n");
	validate(fixture, 1024, 32768);
	assert_no_diagnostics(fixture);
	assert_string_equal(normalized_text(fixture, fixture->mapping),
			    "unprivileged_port_start 100\nredirect tcp 80 to 100\n");
}

static void test_port_at_or_above_declared_start_is_a_warning(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "unprivileged_port_start 1024\nredirect tcp,udp 1024 to 8080\n");
	validate(fixture, 0, 32768);
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:2:18: warning: port 1024 is at or above unprivileged_port_start 1024 (declared at test.conf:1:1), so any service can bind it directly; this redirect is not needed");
	assert_int_equal(fixture->diagnostics.error_count, 0);
	assert_int_equal(fixture->diagnostics.warning_count, 1);
}

static void test_port_at_or_above_the_kernel_value_is_a_warning(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 8000 to 8080\n");
	validate(fixture, 1024, 32768);
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:14: warning: port 8000 is at or above 1024, the current net.ipv4.ip_unprivileged_port_start, so any service can bind it directly; this redirect is not needed");
	assert_int_equal(fixture->diagnostics.error_count, 0);
}

static void test_validation_reports_in_file_order(void **state)
{
	struct fixture *fixture = *state;
	const char *first = "redirect udp 53 to 80\n", *second = "redirect tcp 2000 to 3000\nredirect tcp 22 to 23\n";

	assert_int_equal(config_parse_buffer("a.conf", first, strlen(first), fixture->mapping, &fixture->diagnostics), 0);
	assert_int_equal(config_parse_buffer("b.conf", second, strlen(second), fixture->mapping, &fixture->diagnostics), 0);
	assert_int_equal(config_finish(fixture->mapping, &fixture->diagnostics), 0);
	validate(fixture, 1024, 32768);
	assert_string_equal(diagnostics_text(fixture),
			    "a.conf:1:20: error: target port 80 is below 1024, the current net.ipv4.ip_unprivileged_port_start, so a non-root service cannot bind it; use a target of at least 1024 or declare a lower unprivileged_port_start\n"
			    "b.conf:1:14: warning: port 2000 is at or above 1024, the current net.ipv4.ip_unprivileged_port_start, so any service can bind it directly; this redirect is not needed\n"
			    "b.conf:2:20: error: target port 23 is below 1024, the current net.ipv4.ip_unprivileged_port_start, so a non-root service cannot bind it; use a target of at least 1024 or declare a lower unprivileged_port_start");
}

/* Lines in descending port order, so the file order is the reverse of the
 * (protocol, port) order validation walks in. */
static char *descending_redirects(unsigned int count, unsigned int first_port, unsigned int target)
{
	char *text = NULL;
	size_t size = 0;
	FILE *stream = open_memstream(&text, &size);

	assert_non_null(stream);
	for (unsigned int i = 0; i < count; i++)
		fprintf(stream, "redirect tcp %u to %u\n", first_port + count - 1 - i, target);
	assert_int_equal(fclose(stream), 0);
	return text;
}

static void test_only_the_first_warnings_in_file_order_are_kept_and_all_are_counted(void **state)
{
	struct fixture *fixture = *state;
	char *text = descending_redirects(200, 2000, 9000);

	parse(fixture, text);
	free(text);
	validate(fixture, 1024, 32768);
	assert_int_equal(fixture->diagnostics.warning_count, 200);
	assert_int_equal(fixture->diagnostics.count, DIAGNOSTICS_MAX_WARNINGS);
	assert_int_equal(fixture->diagnostics.dropped_warnings, 200 - DIAGNOSTICS_MAX_WARNINGS);
	for (size_t i = 0; i < fixture->diagnostics.count; i++) {
		assert_int_equal(fixture->diagnostics.items[i].location.line, i + 1);
		assert_int_equal(fixture->diagnostics.items[i].severity, SEVERITY_WARNING);
	}
	assert_string_equal(fixture->diagnostics.items[0].message,
			    "port 2199 is at or above 1024, the current net.ipv4.ip_unprivileged_port_start, so any service can bind it directly; this redirect is not needed");
}

static void test_only_the_first_errors_in_file_order_are_kept_and_all_are_counted(void **state)
{
	struct fixture *fixture = *state;
	char *text = descending_redirects(120, 100, 500);

	parse(fixture, text);
	free(text);
	validate(fixture, 1024, 32768);
	assert_int_equal(fixture->diagnostics.error_count, 120);
	assert_int_equal(fixture->diagnostics.count, DIAGNOSTICS_MAX_ERRORS);
	assert_int_equal(fixture->diagnostics.dropped_errors, 120 - DIAGNOSTICS_MAX_ERRORS);
	for (size_t i = 0; i < fixture->diagnostics.count; i++)
		assert_int_equal(fixture->diagnostics.items[i].location.line, i + 1);
}

static void test_a_tcp_udp_line_counts_one_warning_even_past_the_limit(void **state)
{
	struct fixture *fixture = *state;
	char *text = NULL;
	size_t size = 0;
	FILE *stream = open_memstream(&text, &size);

	assert_non_null(stream);
	for (unsigned int port = 2000; port < 2100; port++)
		fprintf(stream, "redirect tcp,udp %u to 9000\n", port);
	assert_int_equal(fclose(stream), 0);
	parse(fixture, text);
	free(text);
	validate(fixture, 1024, 32768);
	assert_int_equal(fixture->diagnostics.warning_count, 100);
}

static void test_valid_mapping_validates_silently(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "unprivileged_port_start 1024\nredirect tcp,udp 443 to 8443\nredirect tcp 80 to 8080\n");
	validate(fixture, 0, 32768);
	assert_no_diagnostics(fixture);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_redirect_tcp_is_one_redirect_with_three_locations),
		TEST(test_redirect_udp_is_one_redirect),
		TEST(test_redirect_tcp_udp_is_two_redirects_with_the_same_locations),
		TEST(test_redirect_udp_tcp_is_the_same_as_tcp_udp),
		TEST(test_unprivileged_port_start_is_stored_with_its_location),
		TEST(test_unprivileged_port_start_accepts_0_and_65535),
		TEST(test_ports_1_and_65535_are_accepted),
		TEST(test_comments_and_blank_lines_are_ignored),
		TEST(test_comment_may_follow_a_token_without_space),
		TEST(test_tabs_and_runs_of_spaces_separate_tokens),
		TEST(test_non_ascii_and_control_characters_are_allowed_in_comments),
		TEST(test_crlf_line_endings_are_accepted),
		TEST(test_byte_order_mark_is_skipped_and_not_counted_in_columns),
		TEST(test_last_line_needs_no_newline),
		TEST(test_empty_file_is_an_empty_mapping),
		TEST(test_redirects_are_sorted_by_protocol_then_port),
		TEST(test_normalized_form_parses_back_to_the_same_mapping),
		TEST(test_misspelt_directive_suggests_redirect),
		TEST(test_directive_in_wrong_case_suggests_lowercase),
		TEST(test_misspelt_unprivileged_port_start_is_suggested),
		TEST(test_sysctl_name_suggests_unprivileged_port_start),
		TEST(test_unknown_directive_far_from_any_keyword_lists_them),
		TEST(test_line_starting_with_protocol_suggests_redirect),
		TEST(test_long_user_text_is_cut_in_messages),
		TEST(test_misspelt_protocol_suggests_tcp_or_udp),
		TEST(test_unknown_protocol_lists_the_valid_ones),
		TEST(test_protocol_listed_twice_is_an_error),
		TEST(test_empty_protocol_in_list_points_at_the_extra_comma),
		TEST(test_trailing_comma_in_protocol_list_is_an_error),
		TEST(test_protocols_separated_by_a_space_say_to_use_a_comma),
		TEST(test_misspelt_to_suggests_to),
		TEST(test_other_word_instead_of_to_is_an_error),
		TEST(test_missing_protocol_points_after_redirect),
		TEST(test_number_in_protocol_place_is_a_missing_protocol),
		TEST(test_missing_port_points_after_the_protocol),
		TEST(test_missing_to_points_after_the_port),
		TEST(test_number_in_place_of_to_is_a_missing_to),
		TEST(test_missing_target_points_after_to),
		TEST(test_missing_value_points_after_the_keyword),
		TEST(test_extra_token_after_target_is_an_error),
		TEST(test_extra_token_after_value_is_an_error),
		TEST(test_port_0_is_out_of_range),
		TEST(test_port_65536_is_out_of_range),
		TEST(test_thirty_digit_port_is_out_of_range_without_overflow),
		TEST(test_leading_zero_says_what_to_write),
		TEST(test_signed_port_is_an_error),
		TEST(test_hexadecimal_port_says_the_decimal_value),
		TEST(test_trailing_junk_points_at_the_first_junk_character),
		TEST(test_service_name_is_the_port_it_names),
		TEST(test_target_errors_name_the_target_port),
		TEST(test_unprivileged_port_start_value_errors),
		TEST(test_target_equal_to_port_is_an_error),
		TEST(test_every_bad_token_of_a_line_is_reported),
		TEST(test_errors_of_every_line_are_reported_and_good_lines_kept),
		TEST(test_errors_past_the_cap_are_counted_not_stored),
		TEST(test_duplicate_redirect_names_the_first_and_keeps_it),
		TEST(test_duplicate_is_per_protocol),
		TEST(test_duplicates_are_reported_in_file_order),
		TEST(test_duplicate_across_buffers_names_the_other_file),
		TEST(test_unprivileged_port_start_declared_twice_names_the_first),
		TEST(test_nul_byte_is_reported_at_its_position),
		TEST(test_nul_byte_in_a_comment_is_reported),
		TEST(test_carriage_return_inside_a_line_is_an_error),
		TEST(test_old_mac_line_endings_are_not_one_long_comment),
		TEST(test_carriage_return_at_end_of_file_is_an_error),
		TEST(test_non_ascii_byte_outside_a_comment_is_an_error),
		TEST(test_byte_order_mark_after_the_start_is_non_ascii),
		TEST(test_control_character_outside_a_comment_is_an_error),
		TEST(test_overlong_line_is_reported_once_and_skipped),
		TEST(test_line_of_exactly_the_limit_is_accepted),
		TEST(test_buffer_over_the_size_limit_is_one_file_error),
		TEST(test_path_to_a_file_is_parsed_and_finished),
		TEST(test_missing_file_is_a_file_error),
		TEST(test_unreadable_file_is_a_file_error),
		TEST(test_fifo_is_refused_without_blocking),
		TEST(test_character_device_is_refused),
		TEST(test_symlink_loop_is_a_file_error),
		TEST(test_file_over_the_size_limit_is_refused_unread),
		TEST(test_directory_reads_conf_files_in_strcmp_order),
		TEST(test_directory_path_with_trailing_slash_gets_no_double_slash),
		TEST(test_unprivileged_port_start_twice_across_drop_ins_names_the_first),
		TEST(test_symlinked_drop_in_is_followed),
		TEST(test_drop_in_that_is_not_a_regular_file_is_an_error),
		TEST(test_empty_directory_is_a_file_error),
		TEST(test_directory_with_only_hidden_or_other_files_is_a_file_error),
		TEST(test_group_writable_file_is_refused_as_root),
		TEST(test_file_writable_by_others_is_refused_as_root),
		TEST(test_file_owned_by_another_user_is_refused_as_root),
		TEST(test_file_of_another_user_writable_by_all_gets_both_errors),
		TEST(test_drop_in_directory_writable_by_others_is_refused_unread),
		TEST(test_drop_in_directory_of_another_user_is_refused_unread),
		TEST(test_drop_in_of_another_user_is_refused_and_the_others_read),
		TEST(test_drop_in_linking_to_a_file_of_another_user_is_refused),
		TEST(test_file_others_may_write_is_refused_when_not_root_too),
		TEST(test_own_file_is_read_when_not_root),
		TEST(test_file_in_a_directory_others_may_write_is_refused),
		TEST(test_file_behind_a_link_of_another_user_is_refused),
		TEST(test_declared_start_above_the_local_port_range_is_an_error),
		TEST(test_declared_start_equal_to_the_local_port_range_is_accepted),
		TEST(test_target_below_declared_start_is_an_error),
		TEST(test_target_below_the_kernel_value_is_an_error),
		TEST(test_target_at_the_start_is_accepted),
		TEST(test_declared_start_overrides_the_kernel_value),
		TEST(test_port_at_or_above_declared_start_is_a_warning),
		TEST(test_port_at_or_above_the_kernel_value_is_a_warning),
		TEST(test_validation_reports_in_file_order),
		TEST(test_only_the_first_warnings_in_file_order_are_kept_and_all_are_counted),
		TEST(test_only_the_first_errors_in_file_order_are_kept_and_all_are_counted),
		TEST(test_a_tcp_udp_line_counts_one_warning_even_past_the_limit),
		TEST(test_valid_mapping_validates_silently),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
