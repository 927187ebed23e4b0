/* Escaping of user-supplied text: what is escaped, and what is left as it is. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "escape.h"

static void expect_escaped(const char *text, const char *expected)
{
	char *escaped = escape_text(text);

	assert_non_null(escaped);
	assert_string_equal(escaped, expected);
	assert_int_equal(escape_needed(text, strlen(text)), strcmp(text, expected) != 0);
	free(escaped);
}

static void plain_text_is_left_alone(void **state)
{
	(void)state;
	expect_escaped("", "");
	expect_escaped("/etc/portredir/rules.d/10-web.conf", "/etc/portredir/rules.d/10-web.conf");
	expect_escaped("a name with spaces, 'quotes' and \"more\"", "a name with spaces, 'quotes' and \"more\"");
}

static void an_escape_sequence_is_shown_not_run(void **state)
{
	(void)state;
	expect_escaped("\x1b[31mred.conf", "\\x1b[31mred.conf");
	expect_escaped("\x1b]0;title\x07", "\\x1b]0;title\\x07");
	expect_escaped("line\nbreak\ttab\rreturn\x7f", "line\\x0abreak\\x09tab\\x0dreturn\\x7f");
	expect_escaped("\x01\x1f", "\\x01\\x1f");
}

/* Messages' own words hold some ("\r\n"); a backslash moves no cursor. */
static void a_backslash_is_left_alone(void **state)
{
	(void)state;
	expect_escaped("only \"\\r\\n\" line endings", "only \"\\r\\n\" line endings");
}

static void other_languages_pass_but_c1_controls_and_broken_utf8_do_not(void **state)
{
	(void)state;
	expect_escaped("r\xc3\xa8gles-\xe6\x97\xa5\xe6\x9c\xac-\xf0\x9f\x99\x82.conf", "r\xc3\xa8gles-\xe6\x97\xa5\xe6\x9c\xac-\xf0\x9f\x99\x82.conf");
	/* U+009B, the one-byte CSI of 8-bit terminals, as UTF-8. */
	expect_escaped("\xc2\x9b" "31m", "\\xc2\\x9b31m");
	/* A Latin-1 byte, an overlong slash, a surrogate, a cut sequence. */
	expect_escaped("caf\xe9", "caf\\xe9");
	expect_escaped("\xc0\xaf", "\\xc0\\xaf");
	expect_escaped("\xed\xa0\x80", "\\xed\\xa0\\x80");
	expect_escaped("\xe6\x97", "\\xe6\\x97");
	expect_escaped("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
}

static void escape_write_takes_a_length(void **state)
{
	char *text = NULL;
	size_t size = 0;
	FILE *stream = open_memstream(&text, &size);

	(void)state;
	assert_non_null(stream);
	escape_write(stream, "a\0b", 3);
	assert_int_equal(fclose(stream), 0);
	assert_string_equal(text, "a\\x00b");
	free(text);
}

static void expect_json(const char *text, const char *expected)
{
	char *json = NULL;
	size_t size = 0;
	FILE *stream = open_memstream(&json, &size);

	assert_non_null(stream);
	escape_write_json(stream, text);
	assert_int_equal(fclose(stream), 0);
	assert_string_equal(json, expected);
	free(json);
}

/* JSON holds Unicode only: what is not UTF-8 is shown as text does. */
static void json_strings_are_valid_json_whatever_the_bytes(void **state)
{
	(void)state;
	expect_json("/etc/portredir/rules.conf", "\"/etc/portredir/rules.conf\"");
	expect_json("say \"hi\" \\ there", "\"say \\\"hi\\\" \\\\ there\"");
	expect_json("\x1b[31mred\n\x7f", "\"\\u001b[31mred\\u000a\\u007f\"");
	expect_json("r\xc3\xa8gles \xc2\x9b", "\"r\xc3\xa8gles \\u009b\"");
	expect_json("caf\xe9", "\"caf\\\\xe9\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_text_is_left_alone),
		cmocka_unit_test(an_escape_sequence_is_shown_not_run),
		cmocka_unit_test(a_backslash_is_left_alone),
		cmocka_unit_test(other_languages_pass_but_c1_controls_and_broken_utf8_do_not),
		cmocka_unit_test(escape_write_takes_a_length),
		cmocka_unit_test(json_strings_are_valid_json_whatever_the_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
