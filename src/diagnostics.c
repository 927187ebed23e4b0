/* Collection and formatting of mapping-file errors and warnings. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "diagnostics.h"
#include "util.h"

void diagnostics_init(struct diagnostics *diagnostics)
{
	memset(diagnostics, 0, sizeof(*diagnostics));
}

void diagnostics_clear(struct diagnostics *diagnostics)
{
	if (!diagnostics)
		return;
	for (size_t i = 0; i < diagnostics->count; i++) {
		free(diagnostics->items[i].message);
		free(diagnostics->items[i].source);
	}
	free(diagnostics->items);
	diagnostics_init(diagnostics);
}

bool diagnostics_full(const struct diagnostics *diagnostics)
{
	return diagnostics->error_count >= DIAGNOSTICS_MAX_ERRORS;
}

void diagnostics_count_dropped(struct diagnostics *diagnostics, enum severity severity, size_t count)
{
	if (severity == SEVERITY_ERROR) {
		diagnostics->error_count += count;
		diagnostics->dropped_errors += count;
	} else {
		diagnostics->warning_count += count;
		diagnostics->dropped_warnings += count;
	}
}

int diagnostics_add(struct diagnostics *diagnostics, enum severity severity,
		    const struct location *location, const char *format, ...)
{
	struct diagnostic *item;
	va_list arguments;
	int r;

	if (severity == SEVERITY_ERROR && diagnostics_full(diagnostics)) {
		diagnostics->error_count++;
		diagnostics->dropped_errors++;
		return 0;
	}
	if (severity == SEVERITY_WARNING && diagnostics->warning_count >= DIAGNOSTICS_MAX_WARNINGS) {
		diagnostics->warning_count++;
		diagnostics->dropped_warnings++;
		return 0;
	}
	r = ARRAY_GROW_ONE(diagnostics->items, diagnostics->count, diagnostics->capacity, 8);
	if (r < 0)
		return r;
	item = &diagnostics->items[diagnostics->count];
	memset(item, 0, sizeof(*item));
	item->severity = severity;
	if (location)
		item->location = *location;
	va_start(arguments, format);
	r = vasprintf(&item->message, format, arguments);
	va_end(arguments);
	if (r < 0)
		return -ENOMEM;
	diagnostics->count++;
	if (severity == SEVERITY_ERROR)
		diagnostics->error_count++;
	else
		diagnostics->warning_count++;
	return 0;
}

char *diagnostic_format(const struct diagnostic *diagnostic)
{
	const char *kind = diagnostic->severity == SEVERITY_ERROR ? "error" : "warning";
	const struct location *where = &diagnostic->location;
	char *line = NULL;
	int r;

	if (!where->file)
		r = asprintf(&line, "portredir: %s: %s", kind, diagnostic->message);
	else if (where->line == 0)
		r = asprintf(&line, "%s: %s: %s", where->file, kind, diagnostic->message);
	else
		r = asprintf(&line, "%s:%u:%u: %s: %s", where->file, where->line, where->column,
			     kind, diagnostic->message);
	return r < 0 ? NULL : line;
}

/* Columns of source an excerpt shows at most, and how many of them come
 * before the caret when the line has to be cut. */
#define EXCERPT_WIDTH 150
#define EXCERPT_LEAD 60
#define TAB_WIDTH 8

static bool is_token_end(char c)
{
	return c == ' ' || c == '\t' || c == ',' || c == '#';
}

/* How byte c shows at rendered column `at`: itself, spaces for a tab, or
 * \xNN, so that no control character reaches a terminal. */
static size_t render_byte(unsigned char c, size_t at, char *out)
{
	size_t width;

	if (c == '\t') {
		width = TAB_WIDTH - at % TAB_WIDTH;
		memset(out, ' ', width);
		return width;
	}
	if (c >= 0x20 && c < 0x7f) {
		out[0] = (char)c;
		return 1;
	}
	snprintf(out, 5, "\\x%02x", c);
	return 4;
}

int diagnostic_format_excerpt(const struct diagnostic *diagnostic, char **ret_text)
{
	const unsigned char *source = (const unsigned char *)diagnostic->source;
	size_t length = diagnostic->source_length, width = 0, caret_start = 0, caret_end = 0;
	size_t column, token_end, start, end, line_digits;
	char *rendered = NULL, *caret = NULL, gutter[24];
	bool cut_before, cut_after;
	int r = 0;

	*ret_text = NULL;
	if (!source || !diagnostic->location.line)
		return 0;
	/* 8 columns at most per byte (a tab), 4 for an escape. */
	rendered = malloc(length * TAB_WIDTH + 1);
	if (!rendered) {
		r = -ENOMEM;
		goto out;
	}
	/* The caret marks the token the column points at: up to the next
	 * space, tab, comma or '#', or that one byte if it is one. */
	column = diagnostic->location.column ? diagnostic->location.column - 1 : 0;
	token_end = column + 1;
	if (column < length && !is_token_end((char)source[column])) {
		while (token_end < length && !is_token_end((char)source[token_end]))
			token_end++;
	}
	for (size_t i = 0; i < length; i++) {
		if (i == column)
			caret_start = width;
		width += render_byte(source[i], width, rendered + width);
		if (i + 1 == token_end)
			caret_end = width;
	}
	rendered[width] = '\0';
	/* A token missing at the end of the line: the caret goes just after it. */
	if (column >= length) {
		caret_start = width;
		caret_end = width + 1;
	}
	start = 0;
	end = width;
	if (width > EXCERPT_WIDTH || diagnostic->source_truncated) {
		if (caret_start > EXCERPT_LEAD)
			start = caret_start - EXCERPT_LEAD;
		if (end > start + EXCERPT_WIDTH)
			end = start + EXCERPT_WIDTH;
	}
	if (caret_end > end && caret_start < end)
		caret_end = end;
	cut_before = start > 0;
	cut_after = end < width || diagnostic->source_truncated;
	caret = malloc(caret_end - start + 4);
	if (!caret) {
		r = -ENOMEM;
		goto out;
	}
	memset(caret, ' ', caret_start - start);
	caret[caret_start - start] = '^';
	memset(caret + caret_start - start + 1, '~', caret_end - caret_start - 1);
	caret[caret_end - start] = '\0';
	line_digits = (size_t)snprintf(gutter, sizeof(gutter), "%u", diagnostic->location.line);
	if (line_digits < 5)
		line_digits = 5;
	if (asprintf(ret_text, "%*u | %s%.*s%s\n%*s | %s%s", (int)line_digits, diagnostic->location.line,
		     cut_before ? "..." : "", (int)(end - start), rendered + start, cut_after ? "..." : "",
		     (int)line_digits, "", cut_before ? "   " : "", caret) < 0) {
		*ret_text = NULL;
		r = -ENOMEM;
	}
out:
	free(rendered);
	free(caret);
	return r;
}
