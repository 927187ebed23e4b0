/* The warnings apply and flush take from what status reads
 * (status_warnings.c). */
#ifndef STATUS_H
#define STATUS_H

#include "change.h"
#include "command.h"

struct table_state;

/* After apply: a warning on stderr for each listener on a port that an
 * added redirect of changes takes traffic from. */
void warn_shadowed_listeners(const struct options *options, const struct change_list *changes);
/* Before flush deletes the table: how many established redirected
 * connections deleting it resets, on stderr. */
void warn_flush_resets(const struct options *options, const struct table_state *state);

#endif
