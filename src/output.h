/* Everything portredir prints, text and JSON alike: errors, warnings and
 * -v lines on stderr, the mapping file's diagnostics, the normalized
 * mapping, change lines, watch's log and events. Commands print only
 * through it. Every name starts with output_: libcmocka exports
 * print_error(), which a unit test linking this module would replace. */
#ifndef OUTPUT_H
#define OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "change.h"
#include "command.h"
#include "diagnostics.h"
#include "mapping.h"

struct kernel;
struct kernel_error;
struct table_state;

/* Lines on stderr start with "<N>", their syslog priority, once enabled
 * (watch does when stderr is the journal). */
void output_use_syslog_prefixes(bool enable);

/* One line on stderr, "portredir: error: ...", for failures that are not
 * tied to a place in the mapping file. */
void output_error(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* The same, "portredir: warning: ...". */
void output_warning(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* With -v: "portredir: ...". */
void output_verbose(const struct options *options, const char *format, ...)
	__attribute__((format(printf, 2, 3)));
/* A line of watch's log, "portredir: ...", at a syslog priority
 * (LOG_NOTICE for what it changed, LOG_INFO for the rest). */
void output_log(int priority, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* A usage error of the command line, one line; the message says what to
 * do. */
void output_usage_error(const char *message);

struct command;
/* portredir help COMMAND: its synopsis, what it does, its options and
 * exit statuses; for NULL, the synopsis, the commands and the options of
 * every command (output_help.c). With --json, a document of the same. */
void output_help(const struct options *options, const struct command *command);
void output_version(const struct options *options);

/* With --json: the members (malloc'd, without the braces) of the one
 * document the run prints, replacing any before; printed by
 * output_finish(). */
void output_set_document(char *members);
/* The end of a run (main.c): with --json, its document on stdout; when it
 * failed, {"error":{"message":...,"diagnostics":[...]}} instead, with the
 * document's members after it (what was done before the failure). The
 * message is the first error line that is not a diagnostic (for an invalid
 * mapping, the line that sums them up), without "portredir: error: ";
 * diagnostics those of the mapping read, as watch's events give them. */
void output_finish(const struct options *options, bool failed);

/* A JSON string: quotes, backslashes and control characters escaped. */
void output_json_string(FILE *stream, const char *text);
/* That, or null without TEXT. */
void output_json_string_or_null(FILE *stream, const char *text);
/* NUMBER, or null when it is not PRESENT. */
void output_json_number_or_null(FILE *stream, bool present, int64_t number);

/* The first error line printed since output_forget_errors(), without its
 * "portredir: error: "; "" when there was none. */
const char *output_first_error(void);
void output_forget_errors(void);

/* The mapping file's diagnostics on stderr, one line each, errors and
 * (unless quiet) warnings. */
void output_diagnostics(const struct diagnostics *diagnostics, bool quiet);

/* One line for a failed kernel operation: what failed, the errno text,
 * the kernel's own words, and what to do. */
void output_kernel_error(const char *action, int error, const struct kernel_error *details, bool changed_nothing);
/* With -v: what was sent to the kernel, in netlink messages and bytes. */
void output_kernel_statistics(const struct options *options, const struct kernel *kernel);
/* With -v: what the read found, and whether the maps were dumped. */
void output_table_read(const struct options *options, const struct table_state *state);

/* The normalized form of a mapping (a valid mapping file). */
void output_mapping_to(FILE *stream, const struct mapping *mapping);
/* check and show: the normalized form on stdout, or with --json
 * {"unprivileged_port_start":N or null,"redirects":[...]}. */
void output_mapping(const struct options *options, const struct mapping *mapping);

/* diff, apply and flush: one change line each on stdout (none with -q),
 * or with --json one document, {"in_sync":BOOL,"changes":[...]} for
 * changes that would be made, {"changed":BOOL,"changes":[...]} for
 * changes made. */
void output_changes(const struct options *options, const struct change_list *changes, bool made);

/* "changes":[...], the member of a JSON document that lists changes (watch's
 * events too). */
void output_changes_json(FILE *stream, const struct change_list *list);
/* The change lines joined with "; " on one line, at most limit of them;
 * malloc'd, NULL when out of memory. */
char *output_format_changes(const struct change_list *changes, size_t limit);

/* A redirect's scope: as clauses (" on ADDRESS", " iif NAME ipv6",
 * escaped) and as the "on", "iif" and "family" members of its JSON object
 * (each null where the scope has none; a leading comma). */
void output_scope_clauses(FILE *stream, const struct scope *scope);
void output_scope_json(FILE *stream, const struct scope *scope);
/* text with its control characters written as \xHH, as `ls
 * --quoting-style=escape` does; cut short to fit size. */
void output_escape(const char *text, char *buffer, size_t size);

struct host;
struct status_report;
/* status (output_status.c): one short block per mapping, healthy ones on
 * one line, then conflicts, the other problems, the sysctl and a summary
 * line; or with --json one document. */
void output_status(const struct options *options, const struct status_report *report, const struct host *host);

/* watch --json: one JSON object per line on stdout per event. */
enum watch_event_kind {
	/* A newly read mapping is in force (changes possibly none). */
	WATCH_EVENT_APPLIED,
	/* The kernel had drifted from the mapping in force and was put back. */
	WATCH_EVENT_REPAIRED,
	/* The mapping read is not valid; the last valid one stays in force. */
	WATCH_EVENT_INVALID,
	/* An apply, or reading the mapping, failed; tried again on the next
	 * change. */
	WATCH_EVENT_ERROR,
};

/* What set watch off. */
enum watch_cause {
	WATCH_CAUSE_START,
	/* The mapping file or a drop-in changed. */
	WATCH_CAUSE_FILE,
	/* SIGHUP (systemctl reload). */
	WATCH_CAUSE_RELOAD,
	/* Another process changed or removed the managed table. */
	WATCH_CAUSE_TABLE,
	/* Notifications were lost while watch was busy. */
	WATCH_CAUSE_LOST,
	/* The declared sysctl drifted. */
	WATCH_CAUSE_SYSCTL,
	/* A group an owner names came or went (a service started, stopped
	 * or restarted). */
	WATCH_CAUSE_OWNER,
};

struct watch_event {
	enum watch_event_kind kind;
	enum watch_cause cause;
	/* WATCH_CAUSE_TABLE: who committed the change. */
	const char *process;
	uint32_t pid;
	/* APPLIED and REPAIRED: the changes made. */
	const struct change_list *changes;
	/* INVALID: the mapping's path and what is wrong with it. */
	const char *path;
	const struct diagnostics *diagnostics;
	/* ERROR: what failed, one line. */
	const char *message;
};

/* Prints the event's line with --json; without it, nothing (the log on
 * stderr says what happened). */
void output_watch_event(const struct options *options, const struct watch_event *event);

#endif
