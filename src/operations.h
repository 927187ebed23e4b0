/* Steps several commands share: loading the mapping, opening and reading
 * the kernel, the namespace's lock, and whether another process holds the
 * table. Each prints its own failures (output.h). */
#ifndef OPERATIONS_H
#define OPERATIONS_H

#include <stdbool.h>
#include "command.h"
#include "diagnostics.h"
#include "mapping.h"

struct cgroup_resolution;
struct kernel;
struct kernel_error;
struct table_state;

/* Reads, parses and validates the mapping named by options->path against
 * the current network namespace's sysctls, printing every diagnostic to
 * stderr (warnings unless quiet), each with its source line, and a line
 * that sums them up; changing says whether the command was about to change
 * something ("nothing was changed"). Returns 0 and the mapping when it is
 * valid, -EINVAL when it is not, another -errno on failure. */
int command_load_mapping(const struct options *options, bool changing, struct mapping **ret_mapping);
/* The same into a mapping the caller made (mapping_new()) and frees,
 * leaving the diagnostics (initialized and cleared by the caller) for a
 * caller that reports them again: their locations name files the mapping
 * holds. */
int command_load_mapping_into(const struct options *options, bool changing, struct mapping *mapping,
			      struct diagnostics *diagnostics);

/* The groups mapping's owners name now (cgroup.h), for the planner; NULL
 * when it has none. Says, unless quiet, which owners are not running (their
 * ports refuse connections) and what could not be looked at. Returns 0,
 * or -errno once said: no cgroup v2 hierarchy at all, an unreadable mount
 * table or hierarchy. changing: whether to add "nothing was changed". */
int command_resolve_owners(const struct options *options, const struct mapping *mapping, bool changing,
			   struct cgroup_resolution **ret_groups);

/* Warns (unless quiet) of each address an 'on' scope names that the host
 * does not have now, and each interface an 'iif' scope names that does
 * not exist: accepted, as both come and go. Returns 0 or -ENOMEM. */
int command_warn_absent_scopes(const struct options *options, const struct mapping *mapping);

/* Opens the kernel, with the cache of the maps' elements (cache.h). */
int command_open_kernel(struct kernel **ret_kernel, struct kernel_error *error);

/* Opens the kernel and reads the managed table (its elements too if asked),
 * printing a failure; changing says whether the command was about to
 * change something ("nothing was changed"). The kernel is returned even
 * on a read failure, for the caller to close. */
int command_read_kernel(bool with_elements, bool changing, struct kernel **ret_kernel,
			struct table_state **ret_state);

/* Whether the managed table is owned (watch --hold) by a socket other than
 * this kernel's: then only that process may change it. */
bool table_held_elsewhere(const struct table_state *state, const struct kernel *kernel);

/* Takes the namespace's lock against concurrent runs (lock.h), saying
 * so when it times out; returns the descriptor to close, or -errno (going
 * on without the lock is right for anything but -ETIMEDOUT). */
int take_lock(const struct options *options);

#endif
