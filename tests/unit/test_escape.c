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

/* Without it, "a\x1b" and a name really spelt a\x1b would print alike. */
static void a_backslash_is_doubled(void **state)
{
	(void)state;
	expect_escaped("a\\x1b", "a\\\\x1b");
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_text_is_left_alone),
		cmocka_unit_test(an_escape_sequence_is_shown_not_run),
		cmocka_unit_test(a_backslash_is_doubled),
		cmocka_unit_test(other_languages_pass_but_c1_controls_and_broken_utf8_do_not),
		cmocka_unit_test(escape_write_takes_a_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
