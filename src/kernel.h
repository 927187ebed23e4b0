/* The kernel layer: the only code that speaks netlink (libmnl) and builds or
 * parses nftables objects (libnftnl). It reads the managed table into a
 * table_state and turns a plan into one atomic batch. It never prints:
 * failures come back as -errno plus a struct kernel_error. */
#ifndef KERNEL_H
#define KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "plan.h"
#include "state.h"

struct kernel;

struct kernel_error {
	/* Which step or object failed, e.g. "map tcp_redirects (elements
	 * 80-443)"; empty when not tied to one object. */
	char object[128];
	/* The kernel's extended ack, when it gave one: its text, and the
	 * attribute it pointed at (NLMSGERR_ATTR_OFFS) by name, as
	 * "TEXT; rejected ATTRIBUTE", or either alone. */
	char message[256];
};

/* What was sent, for -v and the benchmarks. */
struct kernel_statistics {
	/* Netlink messages: requests, and every message of a batch. */
	size_t messages_sent;
	size_t bytes_sent;
	/* Messages inside batches (without BEGIN and END), and those of them
	 * that carry map elements. */
	size_t batch_messages;
	size_t element_messages;
	/* Reads of the table done again: the ruleset changed during the
	 * dumps, or a dump was interrupted or lost replies. */
	size_t reads_repeated;
	/* The maps' elements left in the cache for the next run, and why
	 * the last attempt did not (-errno), or 0. */
	size_t elements_recorded;
	int record_error;
	/* Why the last read did not take the elements from the record,
	 * although the table allowed it (-errno), and the record's path; 0
	 * also when there was no record for that moment (-ENOENT, or one of
	 * another generation). */
	int record_lookup_error;
	char record_lookup_path[512];
};

/* How often a batch is re-planned when the ruleset changed between the
 * read and the commit (another portredir, nft, firewalld). */
#define KERNEL_MAX_ATTEMPTS 10

int kernel_open(struct kernel **ret_kernel, struct kernel_error *error);

/* Where the reader may take the maps' elements instead of dumping them,
 * and where the reader and the writer leave them (cache.h). This is safe
 * because of the ruleset generation: every commit in the network
 * namespace moves it, and nothing but a commit changes the maps of a
 * table that is exactly the layout (only a rule of the same table could
 * update them from the packet path). So elements recorded for the same
 * table at the generation the kernel is still at are the elements it
 * holds; any commit of anyone since, and the maps are dumped again.
 * Elements are recorded after a read that dumped them and after a commit
 * whose result is known (struct plan's result_known), when the
 * generation moved by exactly that commit. Both callbacks return 0 or
 * -errno, and run on the reader's thread. */
struct kernel_cache {
	int (*lookup)(uint64_t table_id, uint32_t generation, struct mapping **ret_mapping);
	int (*store)(uint64_t table_id, uint32_t generation, const struct mapping *mapping);
	/* Where the record of table_id is, for messages; may be NULL. */
	void (*path)(uint64_t table_id, char *buffer, size_t size);
};
void kernel_use_cache(struct kernel *kernel, const struct kernel_cache *cache);
void kernel_close(struct kernel *kernel);
const struct kernel_statistics *kernel_statistics(const struct kernel *kernel);
/* The socket's netlink port: what the kernel names as a table's owner. */
uint32_t kernel_port_id(const struct kernel *kernel);

/* Reads the managed table consistently: the dumps are repeated until the
 * ruleset generation is the same before and after them. Without elements,
 * only the table itself is read (existence, userdata, generation). */
int kernel_read_table(struct kernel *kernel, bool with_elements, struct table_state **ret_state,
		      struct kernel_error *error);

/* The same read in the background, while the caller parses the mapping:
 * on large tables both take about as long. The kernel must not be used
 * until kernel_read_table_end(), which always frees the read; passing a
 * NULL ret_state discards the result. */
struct kernel_read;
int kernel_read_table_begin(struct kernel *kernel, bool with_elements, struct kernel_read **ret_read);
int kernel_read_table_end(struct kernel_read *read, struct table_state **ret_state, struct kernel_error *error);

/* Sends the plan as one batch bound to state->generation. Returns -ERESTART
 * when the ruleset changed since it was read: nothing was changed, re-read
 * and re-plan. An empty plan sends nothing. */
int kernel_apply_plan(struct kernel *kernel, const struct plan *plan, uint32_t generation,
		      struct kernel_error *error);

/* Deletes the managed table in one batch bound to generation. */
int kernel_delete_table(struct kernel *kernel, uint32_t generation, struct kernel_error *error);

/* Change notifications, for watch. */
struct kernel_events;

struct kernel_event {
	/* Another process changed the managed table, or removed it. */
	bool changed;
	/* The notification queue overflowed: a change may have been missed. */
	bool lost;
	/* Who committed the last such change. */
	uint32_t pid;
	char process[32];
};

int kernel_events_open(struct kernel_events **ret_events);
void kernel_events_close(struct kernel_events *events);
int kernel_events_fd(const struct kernel_events *events);
/* Reads every queued notification without blocking. */
int kernel_events_read(struct kernel_events *events, struct kernel_event *ret_event);
/* Stops notifications (and drops the queued ones) while the caller applies
 * a plan of its own, which may be tens of thousands of notifications; once
 * resumed, comparing the ruleset generation with the one the caller left
 * tells whether anyone else committed meanwhile. */
int kernel_events_pause(struct kernel_events *events);
int kernel_events_resume(struct kernel_events *events);

/* The ruleset generation now. */
int kernel_generation(struct kernel *kernel, uint32_t *ret_generation);
/* The generation a commit bound to generation leaves: the kernel counts
 * commits, skipping 0. */
uint32_t kernel_generation_after(uint32_t generation);

#endif
