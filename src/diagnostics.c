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
	for (size_t i = 0; i < diagnostics->count; i++)
		free(diagnostics->items[i].message);
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
