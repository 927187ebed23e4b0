/* libFuzzer target for the mapping-file parser and validator. The input
 * is one file, or several drop-ins separated by the line "#%%" (itself a
 * comment, so that a seed file is a valid input as it is). Beyond not
 * crashing or leaking, the parser must keep its promises: every diagnostic
 * is one line of printable text, its excerpt (here under the input's first
 * line, whatever its bytes) two lines of printable text, and a mapping
 * without errors normalizes to text that parses without errors into the
 * same mapping and normalizes to itself. Seeds: tests/malformed and
 * tests/valid. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "output.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define require(condition) \
	do { \
		if (!(condition)) \
			abort(); \
	} while (0)

#define SEPARATOR "\n#%%\n"
#define MAX_FILES 8

/* What the validation runs against: a default kernel, and one where every
 * port is unprivileged and the local range starts low. */
static const struct config_kernel kernels[] = {
	{ .unprivileged_port_start = 1024, .local_port_first = 32768 },
	{ .unprivileged_port_start = 0, .local_port_first = 1 },
};

/* The excerpt of the diagnostic under source, a line of any bytes: two
 * lines of printable ASCII, whatever the bytes and the column. */
static void check_excerpt(const struct diagnostic *diagnostic, const uint8_t *source, size_t length)
{
	struct diagnostic shown = *diagnostic;
	size_t newlines = 0;
	char *text = NULL;

	if (!diagnostic->location.line)
		return;
	if (length > DIAGNOSTIC_SOURCE_MAX) {
		length = DIAGNOSTIC_SOURCE_MAX;
		shown.source_truncated = true;
	}
	/* A copy of exactly that length: reads past it are caught. */
	shown.source = malloc(length ? length : 1);
	require(shown.source);
	memcpy(shown.source, source, length);
	shown.source_length = length;
	require(diagnostic_format_excerpt(&shown, &text) == 0 && text);
	for (const char *c = text; *c; c++) {
		newlines += *c == '\n';
		require(*c == '\n' || (*c >= 0x20 && *c < 0x7f));
	}
	require(newlines == 1);
	free(text);
	free(shown.source);
}

static void check_diagnostics(const struct diagnostics *diagnostics, const uint8_t *data, size_t size)
{
	const uint8_t *newline = memchr(data, '\n', size);
	size_t errors = 0, warnings = 0;

	for (size_t i = 0; i < diagnostics->count; i++) {
		const struct diagnostic *diagnostic = &diagnostics->items[i];
		char *line = diagnostic_format(diagnostic);

		require(line);
		for (const char *c = line; *c; c++)
			require(*c >= 0x20 && *c < 0x7f);
		free(line);
		check_excerpt(diagnostic, data, newline ? (size_t)(newline - data) : size);
		if (diagnostic->severity == SEVERITY_ERROR)
			errors++;
		else
			warnings++;
	}
	require(diagnostics->error_count == errors + diagnostics->dropped_errors);
	require(diagnostics->warning_count == warnings + diagnostics->dropped_warnings);
	require(errors <= DIAGNOSTICS_MAX_ERRORS && warnings <= DIAGNOSTICS_MAX_WARNINGS);
}

static char *normalize(const struct mapping *mapping, size_t *ret_length)
{
	char *text = NULL;
	FILE *stream = open_memstream(&text, ret_length);

	require(stream);
	output_mapping_to(stream, mapping);
	require(fclose(stream) == 0);
	return text;
}

static bool same_redirects(const struct mapping *a, const struct mapping *b)
{
	if (a->has_unprivileged_port_start != b->has_unprivileged_port_start || a->redirect_count != b->redirect_count)
		return false;
	if (a->has_unprivileged_port_start && a->unprivileged_port_start != b->unprivileged_port_start)
		return false;
	for (size_t i = 0; i < a->redirect_count; i++) {
		if (a->redirects[i].protocol != b->redirects[i].protocol || a->redirects[i].port != b->redirects[i].port ||
		    a->redirects[i].target != b->redirects[i].target ||
		    scope_compare(&a->redirects[i].scope, &b->redirects[i].scope) ||
		    !owner_equal(a->redirects[i].owner, b->redirects[i].owner))
			return false;
	}
	return true;
}

/* The same in the kernel's form: the normalized form writes an interface
 * scope held for both families as one line without a family. */
static bool same_mapping(const struct mapping *a, const struct mapping *b)
{
	struct mapping *a_form = NULL, *b_form = NULL;
	bool same;

	require(mapping_kernel_form(a, &a_form) == 0);
	require(mapping_kernel_form(b, &b_form) == 0);
	same = same_redirects(a_form ? a_form : a, b_form ? b_form : b);
	mapping_free(a_form);
	mapping_free(b_form);
	return same;
}

/* A valid mapping's normalized form is valid, means the same, and is a
 * fixed point. */
static void check_normal_form(const struct mapping *mapping)
{
	struct diagnostics diagnostics;
	struct mapping *again = mapping_new();
	size_t length, again_length;
	char *text, *again_text;

	require(again);
	diagnostics_init(&diagnostics);
	text = normalize(mapping, &length);
	require(config_parse_buffer("normalized.conf", text, length, again, &diagnostics) == 0);
	require(config_finish(again, &diagnostics) == 0);
	require(diagnostics.error_count == 0);
	require(same_mapping(mapping, again));
	again_text = normalize(again, &again_length);
	require(length == again_length && !memcmp(text, again_text, length));
	free(text);
	free(again_text);
	diagnostics_clear(&diagnostics);
	mapping_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *cursor = (const char *)data, *end = cursor + size;
	struct diagnostics diagnostics;
	struct mapping *mapping = mapping_new();

	require(mapping);
	diagnostics_init(&diagnostics);
	for (int file = 0; cursor <= end; file++) {
		const char *separator = file + 1 < MAX_FILES ?
			memmem(cursor, (size_t)(end - cursor), SEPARATOR, strlen(SEPARATOR)) : NULL;
		const char *file_end = separator ? separator + 1 : end;
		size_t length = (size_t)(file_end - cursor);
		char name[32];
		/* A copy of exactly the file's size: reads past it are caught. */
		char *copy = malloc(length ? length : 1);

		require(copy);
		memcpy(copy, cursor, length);
		snprintf(name, sizeof(name), "%02d-fuzz.conf", file);
		require(config_parse_buffer(name, copy, length, mapping, &diagnostics) == 0);
		free(copy);
		if (!separator)
			break;
		cursor = separator + strlen(SEPARATOR);
	}
	require(config_finish(mapping, &diagnostics) == 0);
	check_diagnostics(&diagnostics, data, size);
	if (diagnostics.error_count == 0) {
		check_normal_form(mapping);
		for (size_t i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++) {
			struct diagnostics validation;

			diagnostics_init(&validation);
			require(config_validate(mapping, &kernels[i], &validation) == 0);
			check_diagnostics(&validation, data, size);
			diagnostics_clear(&validation);
		}
	}
	diagnostics_clear(&diagnostics);
	mapping_free(mapping);
	return 0;
}
