/* Change lines: what a command tells the user it changed or would change,
 * as the planner makes them and flush records them. Printed by output.c. */
#ifndef CHANGE_H
#define CHANGE_H

#include <stddef.h>
#include <stdint.h>
#include "mapping.h"

enum change_kind {
	/* A structural repair of the managed table. */
	CHANGE_STRUCTURE,
	CHANGE_REDIRECT_REMOVED,
	CHANGE_REDIRECT_ADDED,
	CHANGE_PORT_START_REMOVED,
	CHANGE_PORT_START_ADDED,
	/* The managed table deleted with all it holds (flush; the planner
	 * never deletes it without creating it again). */
	CHANGE_TABLE_REMOVED,
};

/* A structural repair of the managed table, or an owner whose groups
 * changed, for its "~ OBJECT: ACTION (REASON)" line. */
struct structure_change {
	/* "table inet portredir", "map tcp_redirects", "chain output",
	 * "owner nginx.service". */
	char object[OWNER_TEXT_MAX + 16];
	/* "created", "recreated", "updated", "cleared". */
	const char *action;
	/* "missing", "group /system.slice/nginx.service", "not running". */
	char reason[OWNER_TEXT_MAX + 48];
};

/* One change line. 40 bytes: a full apply reports 131,070 of them. */
struct change {
	uint8_t kind;		/* enum change_kind */
	uint8_t protocol;	/* enum protocol, for redirect changes */
	uint16_t port;
	uint16_t target;
	/* For redirect changes: the scope, as the kernel holds it. */
	struct scope scope;
	/* For CHANGE_STRUCTURE: the index in the list's structures. */
	uint32_t structure;
	/* For unprivileged_port_start changes. */
	uint32_t port_start;
	/* For redirect changes: the owner, as 1 + its index in the list's
	 * owners; 0 for none. */
	uint32_t owner;
};

/* Change lines in print order, and the repairs and owners they point at. */
struct change_list {
	const struct change *changes;
	size_t count;
	const struct structure_change *structures;
	struct owner *const *owners;
};

#endif
