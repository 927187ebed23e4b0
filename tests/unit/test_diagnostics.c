/* Diagnostics shown like a compiler's: the source line under the
 * FILE:LINE:COL line, with a caret under the offending token, escaped and
 * cut to a window; and the lines read back from the files they name. */
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
#include "config.h"
#include "diagnostics.h"

/* The excerpt of a diagnostic at LINE:COLUMN of a line whose text is the
 * first length bytes of source; freed by the next call. */
static const char *excerpt_of(const char *source, size_t length, unsigned int line, unsigned int column)
{
	static char *text;
	struct diagnostic diagnostic = {
		.severity = SEVERITY_ERROR,
		.location = { "rules.conf", line, column },
		.message = (char *)"a message",
		.source = (char *)source,
		.source_length = length,
	};

	free(text);
	text = NULL;
	assert_int_equal(diagnostic_format_excerpt(&diagnostic, &text), 0);
	return text;
}

#define excerpt(source, line, column) excerpt_of((source), strlen(source), (line), (column))

static void test_caret_underlines_the_token_at_the_column(void **state)
{
	(void)state;
	assert_string_equal(excerpt("redirect tcp 80a to 8080", 3, 14),
			    "    3 | redirect tcp 80a to 8080\n"
			    "      |              ^~~");
}

static void test_caret_from_inside_a_token_runs_to_its_end(void **state)
{
	(void)state;
	assert_string_equal(excerpt("redirect tcp 80abc to 8080", 1, 16),
			    "    1 | redirect tcp 80abc to 8080\n"
			    "      |                ^~~");
}

static void test_caret_stops_at_a_comma_of_a_protocol_list(void **state)
{
	(void)state;
	assert_string_equal(excerpt("redirect tpc,udp 80 to 8080", 1, 10),
			    "    1 | redirect tpc,udp 80 to 8080\n"
			    "      |          ^~~");
}

static void test_caret_on_a_comma_marks_only_it(void **state)
{
	(void)state;
	assert_string_equal(excerpt("redirect tcp,,udp 80 to 8080", 1, 14),
			    "    1 | redirect tcp,,udp 80 to 8080\n"
			    "      |              ^");
}

static void test_a_missing_token_is_marked_after_the_end_of_the_line(void **state)
{
	(void)state;
	assert_string_equal(excerpt("redirect tcp 80 to", 1, 19),
			    "    1 | redirect tcp 80 to\n"
			    "      |                   ^");
}

static void test_tabs_become_spaces_to_the_next_stop_in_both_lines(void **state)
{
	(void)state;
	assert_string_equal(excerpt("\tredirect\ttcp 0 to 8080", 1, 15),
			    "    1 |         redirect        tcp 0 to 8080\n"
			    "      |                             ^");
}

static void test_control_characters_and_non_ascii_are_escaped_and_underlined_whole(void **state)
{
	(void)state;
	assert_string_equal(excerpt("redirect tcp 80 to 8080 \x1b[2J", 1, 25),
			    "    1 | redirect tcp 80 to 8080 \\x1b[2J\n"
			    "      |                         ^~~~~~~");
	assert_string_equal(excerpt("redirect tcp 80 to 80\xc2\xa0", 1, 22),
			    "    1 | redirect tcp 80 to 80\\xc2\\xa0\n"
			    "      |                      ^~~~~~~~");
}

static void test_a_nul_byte_is_shown_escaped(void **state)
{
	(void)state;
	assert_string_equal(excerpt_of("redirect tcp\0 80 to 8080", 24, 1, 13),
			    "    1 | redirect tcp\\x00 80 to 8080\n"
			    "      |             ^~~~");
}

static void test_the_gutter_grows_with_the_line_number(void **state)
{
	(void)state;
	assert_string_equal(excerpt("redirct tcp 80 to 8080", 123456, 1),
			    "123456 | redirct tcp 80 to 8080\n"
			    "       | ^~~~~~~");
}

static void test_a_long_line_is_cut_to_a_window_around_the_caret(void **state)
{
	char line[301], expected[512];

	(void)state;
	memset(line, 'x', 300);
	line[300] = '\0';
	line[199] = ' ';
	/* The window shows columns 141 to 290 (59 x, the space, 90 x), the
	 * caret on column 201 and its token up to the window's end. */
	snprintf(expected, sizeof(expected), "    1 | ...%.59s %.90s...\n      |    %60s^%.89s", line, line, "",
		 "~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~");
	assert_string_equal(excerpt(line, 1, 201), expected);
}

static void test_a_line_kept_only_in_part_says_so(void **state)
{
	struct diagnostic diagnostic = {
		.severity = SEVERITY_ERROR,
		.location = { "rules.conf", 2, 4 },
		.message = (char *)"line is longer than 4096 bytes; shorten it",
		.source = (char *)"abc def",
		.source_length = 7,
		.source_truncated = true,
	};
	char *text;

	(void)state;
	assert_int_equal(diagnostic_format_excerpt(&diagnostic, &text), 0);
	assert_string_equal(text, "    2 | abc def...\n      |    ^");
	free(text);
}

static void test_no_excerpt_without_a_source_line_or_a_line(void **state)
{
	struct diagnostic diagnostic = {
		.severity = SEVERITY_ERROR,
		.location = { "rules.conf", 0, 0 },
		.message = (char *)"cannot open: No such file or directory",
	};
	char *text = (char *)"unchanged";

	(void)state;
	assert_int_equal(diagnostic_format_excerpt(&diagnostic, &text), 0);
	assert_null(text);
	diagnostic.source = (char *)"redirect";
	diagnostic.source_length = 8;
	assert_int_equal(diagnostic_format_excerpt(&diagnostic, &text), 0);
	assert_null(text);
}

/* config_read_sources(): the lines of a real file, read back. */
struct files {
	char directory[64];
	char path[128];
};

static void write_text(struct files *files, const char *name, const char *text, size_t length)
{
	FILE *stream;

	strcpy(files->directory, "/tmp/portredir-test-diagnostics.XXXXXX");
	assert_non_null(mkdtemp(files->directory));
	snprintf(files->path, sizeof(files->path), "%s/%s", files->directory, name);
	stream = fopen(files->path, "w");
	assert_non_null(stream);
	assert_int_equal(fwrite(text, 1, length, stream), length);
	assert_int_equal(fclose(stream), 0);
	assert_int_equal(chmod(files->path, 0644), 0);
}

static void remove_files(struct files *files)
{
	unlink(files->path);
	rmdir(files->directory);
}

static void add_at(struct diagnostics *diagnostics, const char *file, unsigned int line, unsigned int column)
{
	assert_int_equal(diagnostics_add(diagnostics, SEVERITY_ERROR, &(struct location){ file, line, column },
					 "at %u:%u", line, column), 0);
}

static void test_each_diagnostic_gets_its_line_without_the_line_ending(void **state)
{
	static const char text[] = "# comment\r\nredirect tcp 80 to 8080\r\n\nredirect udp 53 to\n";
	struct diagnostics diagnostics;
	struct files files;

	(void)state;
	write_text(&files, "rules.conf", text, sizeof(text) - 1);
	diagnostics_init(&diagnostics);
	add_at(&diagnostics, files.path, 4, 19);
	add_at(&diagnostics, files.path, 2, 14);
	add_at(&diagnostics, files.path, 0, 0);
	add_at(&diagnostics, files.path, 4, 10);
	add_at(&diagnostics, files.path, 9, 1);
	add_at(&diagnostics, NULL, 0, 0);
	assert_int_equal(config_read_sources(&diagnostics), 0);
	assert_string_equal(diagnostics.items[0].source, "redirect udp 53 to");
	assert_int_equal(diagnostics.items[0].source_length, 18);
	assert_string_equal(diagnostics.items[1].source, "redirect tcp 80 to 8080");
	assert_null(diagnostics.items[2].source);
	assert_string_equal(diagnostics.items[3].source, "redirect udp 53 to");
	/* A line past the end of the file (it changed meanwhile). */
	assert_null(diagnostics.items[4].source);
	assert_null(diagnostics.items[5].source);
	diagnostics_clear(&diagnostics);
	remove_files(&files);
}

static void test_a_byte_order_mark_is_not_part_of_the_first_line(void **state)
{
	static const char text[] = "\xef\xbb\xbfredirect tcp 80 to\n";
	struct diagnostics diagnostics;
	struct files files;

	(void)state;
	write_text(&files, "rules.conf", text, sizeof(text) - 1);
	diagnostics_init(&diagnostics);
	add_at(&diagnostics, files.path, 1, 19);
	assert_int_equal(config_read_sources(&diagnostics), 0);
	assert_string_equal(diagnostics.items[0].source, "redirect tcp 80 to");
	diagnostics_clear(&diagnostics);
	remove_files(&files);
}

static void test_a_long_line_is_kept_in_part(void **state)
{
	size_t length = DIAGNOSTIC_SOURCE_MAX + 100;
	struct diagnostics diagnostics;
	struct files files;
	char *text = malloc(length + 1);

	(void)state;
	assert_non_null(text);
	memset(text, 'x', length);
	text[length] = '\n';
	write_text(&files, "rules.conf", text, length + 1);
	diagnostics_init(&diagnostics);
	add_at(&diagnostics, files.path, 1, 4097);
	assert_int_equal(config_read_sources(&diagnostics), 0);
	assert_int_equal(diagnostics.items[0].source_length, DIAGNOSTIC_SOURCE_MAX);
	assert_true(diagnostics.items[0].source_truncated);
	diagnostics_clear(&diagnostics);
	remove_files(&files);
	free(text);
}

static void test_a_file_that_is_gone_or_not_regular_gives_no_excerpt(void **state)
{
	struct diagnostics diagnostics;

	(void)state;
	diagnostics_init(&diagnostics);
	add_at(&diagnostics, "/nonexistent/rules.conf", 1, 1);
	add_at(&diagnostics, "/dev/null", 1, 1);
	add_at(&diagnostics, "/tmp", 1, 1);
	assert_int_equal(config_read_sources(&diagnostics), 0);
	assert_null(diagnostics.items[0].source);
	assert_null(diagnostics.items[1].source);
	assert_null(diagnostics.items[2].source);
	diagnostics_clear(&diagnostics);
}

static void test_as_root_a_file_others_may_write_gives_no_excerpt(void **state)
{
	static const char text[] = "redirect tcp 80 to\n";
	struct diagnostics diagnostics;
	struct files files;

	(void)state;
	if (geteuid() != 0)
		skip();
	write_text(&files, "rules.conf", text, sizeof(text) - 1);
	assert_int_equal(chmod(files.path, 0666), 0);
	diagnostics_init(&diagnostics);
	add_at(&diagnostics, files.path, 1, 19);
	assert_int_equal(config_read_sources(&diagnostics), 0);
	assert_null(diagnostics.items[0].source);
	diagnostics_clear(&diagnostics);
	remove_files(&files);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caret_underlines_the_token_at_the_column),
		cmocka_unit_test(test_caret_from_inside_a_token_runs_to_its_end),
		cmocka_unit_test(test_caret_stops_at_a_comma_of_a_protocol_list),
		cmocka_unit_test(test_caret_on_a_comma_marks_only_it),
		cmocka_unit_test(test_a_missing_token_is_marked_after_the_end_of_the_line),
		cmocka_unit_test(test_tabs_become_spaces_to_the_next_stop_in_both_lines),
		cmocka_unit_test(test_control_characters_and_non_ascii_are_escaped_and_underlined_whole),
		cmocka_unit_test(test_a_nul_byte_is_shown_escaped),
		cmocka_unit_test(test_the_gutter_grows_with_the_line_number),
		cmocka_unit_test(test_a_long_line_is_cut_to_a_window_around_the_caret),
		cmocka_unit_test(test_a_line_kept_only_in_part_says_so),
		cmocka_unit_test(test_no_excerpt_without_a_source_line_or_a_line),
		cmocka_unit_test(test_each_diagnostic_gets_its_line_without_the_line_ending),
		cmocka_unit_test(test_a_byte_order_mark_is_not_part_of_the_first_line),
		cmocka_unit_test(test_a_long_line_is_kept_in_part),
		cmocka_unit_test(test_a_file_that_is_gone_or_not_regular_gives_no_excerpt),
		cmocka_unit_test(test_as_root_a_file_others_may_write_gives_no_excerpt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
