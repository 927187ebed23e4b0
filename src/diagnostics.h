/* Errors and warnings collected while reading a mapping, printed by the
 * commands like a compiler does: FILE:LINE:COL: error: MESSAGE, then the
 * source line with a caret under the offending token. */
#ifndef DIAGNOSTICS_H
#define DIAGNOSTICS_H

#include <stdbool.h>
#include <stddef.h>
#include "mapping.h"

/* Enough to see every problem of a hand-written file; a generated file that
 * is wrong everywhere would otherwise print hundreds of thousands of lines. */
#define DIAGNOSTICS_MAX_ERRORS 50
/* Likewise for warnings: a mapping of all 65,535 ports warns for most of
 * them, and saying so 64,000 times helps nobody. */
#define DIAGNOSTICS_MAX_WARNINGS 50

enum severity {
	SEVERITY_WARNING,
	SEVERITY_ERROR
};

/* The most of a source line kept for an excerpt: enough to show a window
 * around any column of a line the parser accepts (4,096 bytes). */
#define DIAGNOSTIC_SOURCE_MAX 4352

struct diagnostic {
	enum severity severity;
	struct location location;
	char *message;
	/* The line location points into, read back after parsing
	 * (config_read_sources()), without its line ending or a leading
	 * byte-order mark; NULL when there is none. Up to
	 * DIAGNOSTIC_SOURCE_MAX bytes; source_truncated when the line goes on. */
	char *source;
	size_t source_length;
	bool source_truncated;
};

struct diagnostics {
	struct diagnostic *items;
	size_t count;
	size_t capacity;
	size_t error_count;
	size_t warning_count;
	/* Errors and warnings past the limits are counted but not stored. */
	size_t dropped_errors;
	size_t dropped_warnings;
};

void diagnostics_init(struct diagnostics *diagnostics);
void diagnostics_clear(struct diagnostics *diagnostics);

/* Returns 0, or -ENOMEM. location may be NULL for a problem with no place. */
int diagnostics_add(struct diagnostics *diagnostics, enum severity severity,
		    const struct location *location, const char *format, ...)
	__attribute__((format(printf, 4, 5)));

bool diagnostics_full(const struct diagnostics *diagnostics);

/* Counts count problems that were found but not formatted (they would not
 * be shown anyway), so that the totals stay true. */
void diagnostics_count_dropped(struct diagnostics *diagnostics, enum severity severity, size_t count);

/* Formats one diagnostic as a single line without the newline:
 * "FILE:LINE:COL: error: MESSAGE", "FILE: error: MESSAGE" for a line of 0,
 * "portredir: error: MESSAGE" without a file. Returns a malloc'd string. */
char *diagnostic_format(const struct diagnostic *diagnostic);

/* The two lines shown under a diagnostic with a source line, without the
 * final newline:
 *     "    3 | redirect tcp 80a to 8080"
 *     "      |                ^~"
 * Bytes other than printable ASCII are shown escaped ("\x1b"), tabs as
 * spaces to the next multiple of 8, and a long line as a window around
 * the caret. Returns 0 and a malloc'd string in *ret_text, NULL when the
 * diagnostic has no source line; or -ENOMEM. */
int diagnostic_format_excerpt(const struct diagnostic *diagnostic, char **ret_text);

#endif
