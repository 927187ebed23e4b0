/* User-supplied text (file names, words of the mapping, process names,
 * kernel messages) made safe to print on a terminal or in a log: a name
 * holding an escape sequence must not recolour, move or rewrite what is
 * shown. Like ls --quoting-style=escape, in hexadecimal: control
 * characters (C0, DEL, and C1 as UTF-8) and bytes that are not UTF-8 as
 * \xHH; everything else, other languages' letters included, as it is.
 * Unlike ls, a backslash stays one: the lines escaped are whole messages,
 * whose own words may hold one ("\r\n"), and a backslash moves no
 * cursor. No I/O but the stream given. */
#ifndef ESCAPE_H
#define ESCAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Whether text (length bytes) holds anything escape_write() changes. */
bool escape_needed(const char *text, size_t length);

/* Writes text (length bytes) to stream, escaped. */
void escape_write(FILE *stream, const char *text, size_t length);

/* An escaped copy of the NUL-terminated text; malloc'd, NULL when out of
 * memory. */
char *escape_text(const char *text);

/* The NUL-terminated text as a JSON string, quotes included: '"' and '\'
 * escaped as JSON wants, control characters (C1 too) as \u00XX, and
 * bytes that are not UTF-8, which JSON cannot hold, as the six characters
 * \\xHH (a backslash, then xHH, as escape_write() shows them). */
void escape_write_json(FILE *stream, const char *text);

#endif
