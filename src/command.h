/* What every command gets from main.c, and the plumbing commands share:
 * loading the mapping and printing its diagnostics. Only command files print. */
#ifndef COMMAND_H
#define COMMAND_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "diagnostics.h"
#include "mapping.h"

/* main.c turns these into exit codes (0, 1, 2): commands never exit. */
enum outcome {
	OUTCOME_OK,
	OUTCOME_DIFFERENCES,
	OUTCOME_ERROR
};

#define WATCH_DEFAULT_INTERVAL 30

struct options {
	const char *path;
	bool json;
	bool quiet;
	bool verbose;
	bool dry_run;
	/* watch: seconds between checks of a declared sysctl. */
	unsigned int interval;
	/* watch --hold: own the table (see TABLE_FLAG_OWNER). */
	bool hold;
};

enum outcome check_main(const struct options *options);
enum outcome diff_main(const struct options *options);
enum outcome apply_main(const struct options *options);
enum outcome show_main(const struct options *options);
enum outcome flush_main(const struct options *options);
enum outcome watch_main(const struct options *options);

/* Reads, parses and validates the mapping named by options->path against
 * the current network namespace's sysctls, printing every diagnostic to
 * stderr (warnings unless quiet). Returns 0 and the mapping when it is
 * valid, -EINVAL when it is not, another -errno on failure. */
int command_load_mapping(const struct options *options, struct mapping **ret_mapping);

void print_diagnostics(const struct diagnostics *diagnostics, bool quiet);
void print_mapping(FILE *stream, const struct mapping *mapping);
void print_mapping_json(FILE *stream, const struct mapping *mapping);
void print_json_string(FILE *stream, const char *text);
void print_owner_clause(FILE *stream, const struct owner *owner);
void print_owner_json(FILE *stream, const struct owner *owner);
/* Text with control characters and non-ASCII bytes as \xNN. */
void print_escaped(FILE *stream, const char *text);

struct plan;
struct kernel;
struct kernel_error;
struct kernel_read;

/* Reads the kernel (or finishes the background read), plans, and unless
 * dry_run applies, re-planning when the ruleset moved; then writes the
 * sysctl. Prints its errors. Returns 0 or -errno, and the plan: also on a
 * failure that came after the rules were applied (the sysctl), so that the
 * caller can say what was done. ret_generation (may be NULL) receives the
 * ruleset generation the kernel should be at if nobody else committed: the
 * one read, plus one for a batch sent. */
int apply_mapping(const struct options *options, struct kernel *kernel, struct kernel_read *background,
		  const struct mapping *desired, bool dry_run, struct plan **ret_plan,
		  uint32_t *ret_generation);

/* Shared by apply and diff: read the kernel, plan, and either print the
 * plan (dry run) or send it, re-planning when the ruleset moved. */
enum outcome apply_run(const struct options *options, bool dry_run);

/* The change lines of a plan on stdout, or its JSON document; key names
 * the JSON boolean ("in_sync" for diff, "changed" for apply). */
void print_changes(const struct options *options, const struct plan *plan, bool applied);

struct table_state;
/* Whether the managed table is owned (watch --hold) by a socket other than
 * this kernel's: then only that process may change it. */
bool table_held_elsewhere(const struct table_state *state, const struct kernel *kernel);

/* Takes the namespace's lock against concurrent runs (lock.h), saying
 * so when it times out; returns the descriptor to close, or -errno (going
 * on without the lock is right for anything but -ETIMEDOUT). */
int take_lock(const struct options *options);

/* The change lines joined with "; " on one line, at most limit of them;
 * malloc'd, NULL when out of memory. */
char *format_changes(const struct plan *plan, size_t limit);

/* Lines on stderr start with "<N>", their syslog priority, once enabled
 * (watch does when stderr is the journal). */
void print_use_syslog_prefixes(bool enable);
void print_priority(int priority);

/* One line for a failed kernel operation: what failed, the errno text,
 * the kernel's own words, and what to do. */
void print_kernel_error(const char *action, int error, const struct kernel_error *details, bool changed_nothing);

/* With -v: what the read found, and whether the maps were dumped. */
void print_table_read(const struct options *options, const struct table_state *state);

/* Opens the kernel, with the cache of the maps' elements (cache.h). */
int command_open_kernel(struct kernel **ret_kernel, struct kernel_error *error);

struct table_state;
/* Opens the kernel and reads the managed table (its elements too if asked),
 * printing a failure; changing says whether the command was about to
 * change something ("nothing was changed"). The kernel is returned even
 * on a read failure, for the caller to close. */
int command_read_kernel(bool with_elements, bool changing, struct kernel **ret_kernel,
			struct table_state **ret_state);

/* With -v: what was sent to the kernel, in netlink messages and bytes. */
void print_kernel_statistics(const struct options *options, const struct kernel *kernel);

/* One line on stderr, "portredir: error: ...", for failures that are not
 * tied to a place in the mapping file. */
void print_error(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* The same, "portredir: warning: ...". */
void print_warning(const char *format, ...) __attribute__((format(printf, 1, 2)));
void print_verbose(const struct options *options, const char *format, ...)
	__attribute__((format(printf, 2, 3)));

#endif
