/* Change lines: what a command tells the user it changed or would change,
 * as the planner makes them and flush records them. Printed by output.c. */
#ifndef CHANGE_H
#define CHANGE_H

#include <stddef.h>
#include <stdint.h>

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

/* A structural repair of the managed table, for its "~" line. */
struct structure_change {
	/* "table inet portredir", "map tcp_redirects", "chain output". */
	char object[32];
	/* "created" or "recreated". */
	const char *action;
	char reason[64];
};

/* One change line. 12 bytes: a full apply reports 131,070 of them. */
struct change {
	uint8_t kind;		/* enum change_kind */
	uint8_t protocol;	/* enum protocol, for redirect changes */
	uint16_t port;
	uint16_t target;
	/* For CHANGE_STRUCTURE: the index in the list's structures. */
	uint16_t structure;
	/* For unprivileged_port_start changes. */
	uint32_t port_start;
};

/* Change lines in print order, and the repairs they point at. */
struct change_list {
	const struct change *changes;
	size_t count;
	const struct structure_change *structures;
};

#endif
