/* The status command's printers (status_print.c), and the warnings apply
 * and flush share with it (status_warnings.c). */
#ifndef STATUS_H
#define STATUS_H

#include <stdio.h>
#include "command.h"
#include "status_report.h"

/* Text for people: one line per healthy mapping, a block per mapping
 * with problems, then conflicts, the other problems, the sysctl and a
 * summary line. */
void print_status_text(FILE *stream, const struct status_report *report, const struct host *host);
/* One JSON document (design.md's fields, and a few more). */
void print_status_json(FILE *stream, const struct status_report *report, const struct host *host);

/* text with its control characters written as \xHH, as `ls
 * --quoting-style=escape` does; cut short to fit size. */
void status_escape(const char *text, char *buffer, size_t size);

struct plan;
struct table_state;
/* After apply: a warning on stderr for each listener on a port that a
 * redirect the plan added takes traffic from. */
void warn_shadowed_listeners(const struct options *options, const struct plan *plan);
/* Before flush deletes the table: how many established redirected
 * connections deleting it resets, on stderr. */
void warn_flush_resets(const struct options *options, const struct table_state *state);

#endif
