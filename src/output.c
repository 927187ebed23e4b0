/* The output module (output.h): every line portredir prints, on stdout and
 * stderr, as text or JSON. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include "config.h"
#include "kernel.h"
#include "options.h"
#include "output.h"
#include "state.h"

/* Set by watch when stderr is the journal, which reads a leading "<N>" as
 * the line's syslog priority. */
static bool syslog_prefixes;

/* The first error line since output_forget_errors(): watch's error events
 * carry it. */
static char first_error[512];

void output_use_syslog_prefixes(bool enable)
{
	syslog_prefixes = enable;
}

const char *output_first_error(void)
{
	return first_error;
}

void output_forget_errors(void)
{
	first_error[0] = '\0';
}

/* "<N>" when stderr is the journal, else "". */
static const char *priority_prefix(char prefix[8], int priority)
{
	prefix[0] = '\0';
	if (syslog_prefixes)
		snprintf(prefix, 8, "<%d>", priority & 7);
	return prefix;
}

static void note_error(const char *line)
{
	if (!first_error[0])
		snprintf(first_error, sizeof(first_error), "%s", line);
}

/* One line on stderr: the priority prefix, "portredir: ", label, text;
 * formatted first, so that the line is written at once. */
static void print_line(int priority, const char *label, const char *format, va_list arguments)
	__attribute__((format(printf, 3, 0)));
static void print_line(int priority, const char *label, const char *format, va_list arguments)
{
	char *text = NULL, prefix[8];
	va_list copy;

	va_copy(copy, arguments);
	if (vasprintf(&text, format, arguments) < 0)
		text = NULL;
	priority_prefix(prefix, priority);
	if (text) {
		if (priority == LOG_ERR)
			note_error(text);
		fprintf(stderr, "%sportredir: %s%s\n", prefix, label, text);
	} else {
		fprintf(stderr, "%sportredir: %s", prefix, label);
		vfprintf(stderr, format, copy);
		fputc('\n', stderr);
	}
	va_end(copy);
	free(text);
}

void output_error(const char *format, ...)
{
	va_list arguments;

	va_start(arguments, format);
	print_line(LOG_ERR, "error: ", format, arguments);
	va_end(arguments);
}

void output_warning(const char *format, ...)
{
	va_list arguments;

	va_start(arguments, format);
	print_line(LOG_WARNING, "warning: ", format, arguments);
	va_end(arguments);
}

void output_verbose(const struct options *options, const char *format, ...)
{
	va_list arguments;

	if (!options->verbose)
		return;
	va_start(arguments, format);
	print_line(LOG_DEBUG, "", format, arguments);
	va_end(arguments);
}

void output_log(int priority, const char *format, ...)
{
	va_list arguments;

	va_start(arguments, format);
	print_line(priority, "", format, arguments);
	va_end(arguments);
}

void output_usage_error(const char *message)
{
	fprintf(stderr, "portredir: error: %s; see 'portredir --help'\n", message);
}

void output_help(void)
{
	printf("Usage: portredir [-f PATH] [--json] [-q] [-v] COMMAND\n"
	       "Redirect privileged ports (80, 443) to unprivileged services with nftables.\n"
	       "\n"
	       "Commands:\n");
	for (size_t i = 0; i < command_count; i++)
		printf("  %-7s %s\n", commands[i].name, commands[i].help);
	printf("\n"
	       "Options:\n"
	       "  -f, --file PATH  mapping file, or directory of *.conf drop-ins\n"
	       "                   (default %s)\n"
	       "      --dry-run    with apply: change nothing, exactly like diff\n"
	       "      --interval S with watch: check a declared sysctl every S seconds\n"
	       "                   (default %u)\n"
	       "      --hold       with watch: own the table, so that others cannot change it\n"
	       "      --json       print the result as one JSON document (watch: one per event)\n"
	       "  -q, --quiet      print no warnings and no change lines (errors still print)\n"
	       "  -v, --verbose    say what each step did\n"
	       "  -h, --help       print this help\n"
	       "  -V, --version    print the version\n"
	       "\n"
	       "Exit status: 0 success or in sync, 1 differences (diff), 2 error.\n"
	       "See portredir(8) and portredir.conf(5).\n",
	       CONFIG_DEFAULT_PATH, WATCH_DEFAULT_INTERVAL);
}

void output_version(void)
{
	printf("portredir %s\n", VERSION);
}

void output_diagnostics(const struct diagnostics *diagnostics, bool quiet)
{
	for (size_t i = 0; i < diagnostics->count; i++) {
		const struct diagnostic *diagnostic = &diagnostics->items[i];
		bool error = diagnostic->severity == SEVERITY_ERROR;
		char *line, prefix[8];

		if (quiet && !error)
			continue;
		line = diagnostic_format(diagnostic);
		priority_prefix(prefix, error ? LOG_ERR : LOG_WARNING);
		if (line)
			fprintf(stderr, "%s%s\n", prefix, line);
		else
			fprintf(stderr, "%sportredir: error: %s\n", prefix, diagnostic->message);
		if (error)
			note_error(line ? line : diagnostic->message);
		free(line);
	}
	if (diagnostics->dropped_errors)
		output_error("%zu more errors not shown; fix the ones above first", diagnostics->dropped_errors);
	if (diagnostics->dropped_warnings && !quiet)
		output_warning("%zu more warnings not shown", diagnostics->dropped_warnings);
}

/* What an administrator can do about the usual failures. */
static const char *kernel_error_hint(int error, const struct kernel_error *details)
{
	switch (error) {
	case -EPERM:
	case -EACCES:
		return "run as root or with CAP_NET_ADMIN";
	case -EPROTONOSUPPORT:
	case -EAFNOSUPPORT:
		return "the kernel has no nf_tables support; load it with 'modprobe nf_tables'";
	case -ENOENT:
	case -EOPNOTSUPP:
		if (strstr(details->object, "chain") || strstr(details->object, "rule"))
			return "the kernel lacks NAT support for nf_tables (modules nft_chain_nat, nft_fib_inet, nft_redir)";
		return NULL;
	case -EAGAIN:
	case -ERESTART:
		return "the ruleset kept changing while portredir worked; run it again";
	case -EMSGSIZE:
	case -ENOBUFS:
		return "the batch is larger than the socket buffers allow; raise net.core.wmem_max";
	default:
		return NULL;
	}
}

void output_kernel_error(const char *action, int error, const struct kernel_error *details, bool changed_nothing)
{
	const struct kernel_error none = { "", "" };
	char object[sizeof(details->object) + 4] = "", message[sizeof(details->message) + 16] = "";
	const char *hint;

	if (!details)
		details = &none;
	hint = kernel_error_hint(error, details);
	if (details->object[0])
		snprintf(object, sizeof(object), " (%s)", details->object);
	if (details->message[0])
		snprintf(message, sizeof(message), " (kernel: %s)", details->message);
	output_error("%s%s: %s%s%s%s%s", action, object, strerror(-error), message,
		     changed_nothing ? "; nothing was changed" : "", hint ? "; " : "", hint ? hint : "");
}

void output_kernel_statistics(const struct options *options, const struct kernel *kernel)
{
	const struct kernel_statistics *statistics;

	if (!kernel)
		return;
	statistics = kernel_statistics(kernel);
	output_verbose(options, "netlink: sent %zu messages, %zu bytes; %zu in a batch, %zu of them with map elements; %zu reads repeated",
		       statistics->messages_sent, statistics->bytes_sent, statistics->batch_messages,
		       statistics->element_messages, statistics->reads_repeated);
	if (statistics->record_lookup_error)
		output_verbose(options, "the record %s was not used: %s%s", statistics->record_lookup_path,
			       strerror(-statistics->record_lookup_error),
			       statistics->record_lookup_error == -EPERM ?
				       " (a record or directory that others may write is not trusted)" : "");
	if (statistics->record_error)
		output_verbose(options, "the maps' elements were not recorded for the next run: %s",
			       strerror(-statistics->record_error));
	else if (statistics->elements_recorded)
		output_verbose(options, "the maps' elements were recorded for the next run");
}

void output_table_read(const struct options *options, const struct table_state *state)
{
	output_verbose(options, "read table inet portredir at generation %u: %zu redirect%s%s",
		       state->generation, state->mapping->redirect_count,
		       state->mapping->redirect_count == 1 ? "" : "s",
		       state->elements_cached ? " (as recorded at this generation; the maps were not dumped)" : "");
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void print_json_string(FILE *stream, const char *text)
{
	fputc('"', stream);
	for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
		if (*c == '"' || *c == '\\')
			fprintf(stream, "\\%c", *c);
		else if (*c < 0x20)
			fprintf(stream, "\\u%04x", *c);
		else
			fputc(*c, stream);
	}
	fputc('"', stream);
}

void output_escaped(FILE *stream, const char *text)
{
	for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
		if (*c < 0x20 || *c >= 0x7f)
			fprintf(stream, "\\x%02x", *c);
		else
			fputc(*c, stream);
	}
}

/* " for OWNER", or nothing for an unowned redirect. Owners were checked
 * by the parser or by the table's reader, but are escaped all the same:
 * what reaches a terminal must not be able to control it. */
static void print_owner_clause(FILE *stream, const struct owner *owner)
{
	char text[OWNER_TEXT_MAX + 1];

	if (!owner)
		return;
	owner_text(owner, text, sizeof(text));
	fputs(" for ", stream);
	output_escaped(stream, text);
}

/* The owner as the clause writes it, "nginx.service" or "cgroup /web",
 * or null. */
static void print_owner_json(FILE *stream, const struct owner *owner)
{
	char text[OWNER_TEXT_MAX + 1];

	if (!owner) {
		fputs("null", stream);
		return;
	}
	owner_text(owner, text, sizeof(text));
	print_json_string(stream, text);
}

/* " on ADDRESS", " iif NAME ipv6", " ipv4" or nothing. */
static void print_scope_clauses(FILE *stream, const struct scope *scope)
{
	char text[SCOPE_TEXT_MAX];

	scope_text(scope, text);
	output_escaped(stream, text);
}

/* "on", "iif" and "family" of a redirect's JSON object: each null where
 * the scope has none; "family" is also an address's own. */
static void print_scope_json(FILE *stream, const struct scope *scope)
{
	char address[INET6_ADDRSTRLEN];
	char iif[SCOPE_IFNAME_SIZE];

	fputs(",\"on\":", stream);
	if (scope->kind == SCOPE_ON) {
		inet_ntop(scope->family == 4 ? AF_INET : AF_INET6, scope->address, address, sizeof(address));
		print_json_string(stream, address);
	} else {
		fputs("null", stream);
	}
	fputs(",\"iif\":", stream);
	if (scope->kind == SCOPE_IIF) {
		memcpy(iif, scope->iif, sizeof(iif));
		iif[sizeof(iif) - 1] = '\0';
		print_json_string(stream, iif);
	} else {
		fputs("null", stream);
	}
	fputs(",\"family\":", stream);
	fputs(scope->family == 4 ? "\"ipv4\"" : scope->family == 6 ? "\"ipv6\"" : "null", stream);
}

/* The redirect after last in a run that starts at first: the next port
 * with the same protocol, scope and owner, and a target one further on
 * (pairwise) or the same (a range to one target), as the second member
 * decided. NULL where the run ends. */
static const struct redirect *run_next(const struct mapping *mapping, const struct redirect *first,
				       const struct redirect *last, const bool *printed)
{
	const struct redirect *next;
	int step;

	if (last->port == UINT16_MAX)
		return NULL;
	next = mapping_find_like(mapping, last, (uint16_t)(last->port + 1));
	if (!next || printed[next - mapping->redirects] || !owner_equal(next->owner, first->owner))
		return NULL;
	step = (int)next->target - (int)last->target;
	if (step != 0 && step != 1)
		return NULL;
	/* From the second member on, the step is the run's. */
	if (last != first && step != (last->target != first->target))
		return NULL;
	return next;
}

/* The normalized form: runs of ports with the same clauses and
 * consecutive targets (or one target) are one range line. */
void output_mapping_to(FILE *stream, const struct mapping *given)
{
	struct mapping *joined = NULL;
	const struct mapping *mapping;
	bool *printed;

	/* Out of memory: the halves apart are as valid, only longer. */
	mapping_joined_form(given, &joined);
	mapping = joined ? joined : given;
	printed = mapping->redirect_count ? calloc(mapping->redirect_count, sizeof(*printed)) : NULL;

	if (mapping->has_unprivileged_port_start)
		fprintf(stream, "unprivileged_port_start %u\n", mapping->unprivileged_port_start);
	for (size_t i = 0; i < mapping->redirect_count; i++) {
		const struct redirect *first = &mapping->redirects[i], *last = first, *next;

		if (printed && printed[i])
			continue;
		/* Out of memory: one line per port is as valid, only longer. */
		while (printed && (next = run_next(mapping, first, last, printed))) {
			printed[next - mapping->redirects] = true;
			last = next;
		}
		fprintf(stream, "redirect %s %u", protocol_name(first->protocol), first->port);
		if (last != first)
			fprintf(stream, "-%u", last->port);
		fprintf(stream, " to %u", first->target);
		if (last->target != first->target)
			fprintf(stream, "-%u", last->target);
		print_scope_clauses(stream, &first->scope);
		print_owner_clause(stream, first->owner);
		fputc('\n', stream);
	}
	free(printed);
	mapping_free(joined);
}

static void print_mapping_json(FILE *stream, const struct mapping *mapping)
{
	fputs("{\"unprivileged_port_start\":", stream);
	if (mapping->has_unprivileged_port_start)
		fprintf(stream, "%u", mapping->unprivileged_port_start);
	else
		fputs("null", stream);
	fputs(",\"redirects\":[", stream);
	for (size_t i = 0; i < mapping->redirect_count; i++) {
		const struct redirect *redirect = &mapping->redirects[i];

		fprintf(stream, "%s{\"protocol\":\"%s\",\"port\":%u,\"target\":%u,\"owner\":", i ? "," : "",
			protocol_name(redirect->protocol), redirect->port, redirect->target);
		print_owner_json(stream, redirect->owner);
		print_scope_json(stream, &redirect->scope);
		fputc('}', stream);
	}
	fputs("]}", stream);
}

void output_mapping(const struct options *options, const struct mapping *mapping)
{
	if (options->json) {
		print_mapping_json(stdout, mapping);
		fputc('\n', stdout);
	} else {
		output_mapping_to(stdout, mapping);
	}
}

/* The first character of a change line, and its JSON "op". */
static char change_op(const struct change *change)
{
	switch ((enum change_kind)change->kind) {
	case CHANGE_STRUCTURE:
		return '~';
	case CHANGE_REDIRECT_ADDED:
	case CHANGE_PORT_START_ADDED:
		return '+';
	case CHANGE_REDIRECT_REMOVED:
	case CHANGE_PORT_START_REMOVED:
	case CHANGE_TABLE_REMOVED:
		break;
	}
	return '-';
}

static const struct owner *change_owner(const struct change_list *list, const struct change *change)
{
	return change->owner && list->owners ? list->owners[change->owner - 1] : NULL;
}

/* One change line, without its end: a line of its own on stdout, or one
 * of several on watch's log line. */
static void print_change(FILE *stream, const struct change_list *list, const struct change *change)
{
	const struct structure_change *structure;

	switch ((enum change_kind)change->kind) {
	case CHANGE_STRUCTURE:
		structure = &list->structures[change->structure];
		fputs("~ ", stream);
		output_escaped(stream, structure->object);
		fprintf(stream, ": %s (", structure->action);
		output_escaped(stream, structure->reason);
		fputc(')', stream);
		break;
	case CHANGE_REDIRECT_REMOVED:
	case CHANGE_REDIRECT_ADDED:
		fprintf(stream, "%c redirect %s %u to %u", change_op(change),
			protocol_name((enum protocol)change->protocol), change->port, change->target);
		print_scope_clauses(stream, &change->scope);
		print_owner_clause(stream, change_owner(list, change));
		break;
	case CHANGE_PORT_START_REMOVED:
	case CHANGE_PORT_START_ADDED:
		fprintf(stream, "%c unprivileged_port_start %u", change_op(change), change->port_start);
		break;
	case CHANGE_TABLE_REMOVED:
		fprintf(stream, "%c table " TABLE_FAMILY_NAME " " TABLE_NAME, change_op(change));
		break;
	}
}

static void print_change_json(FILE *stream, const struct change_list *list, const struct change *change)
{
	const struct structure_change *structure;

	switch ((enum change_kind)change->kind) {
	case CHANGE_STRUCTURE:
		structure = &list->structures[change->structure];
		fprintf(stream, "{\"op\":\"%c\",\"object\":", change_op(change));
		print_json_string(stream, structure->object);
		fputs(",\"action\":", stream);
		print_json_string(stream, structure->action);
		fputs(",\"reason\":", stream);
		print_json_string(stream, structure->reason);
		fputc('}', stream);
		break;
	case CHANGE_REDIRECT_REMOVED:
	case CHANGE_REDIRECT_ADDED:
		fprintf(stream, "{\"op\":\"%c\",\"protocol\":\"%s\",\"port\":%u,\"target\":%u,\"owner\":",
			change_op(change), protocol_name((enum protocol)change->protocol), change->port, change->target);
		print_owner_json(stream, change_owner(list, change));
		print_scope_json(stream, &change->scope);
		fputc('}', stream);
		break;
	case CHANGE_PORT_START_REMOVED:
	case CHANGE_PORT_START_ADDED:
		fprintf(stream, "{\"op\":\"%c\",\"unprivileged_port_start\":%u}", change_op(change),
			change->port_start);
		break;
	case CHANGE_TABLE_REMOVED:
		fprintf(stream, "{\"op\":\"%c\",\"object\":\"table " TABLE_FAMILY_NAME " " TABLE_NAME "\"}",
			change_op(change));
		break;
	}
}

/* "changes":[...], the list of a JSON document. */
static void print_changes_json(FILE *stream, const struct change_list *list)
{
	fputs("\"changes\":[", stream);
	for (size_t i = 0; i < list->count; i++) {
		if (i)
			fputc(',', stream);
		print_change_json(stream, list, &list->changes[i]);
	}
	fputc(']', stream);
}

void output_changes(const struct options *options, const struct change_list *changes, bool made)
{
	if (options->json) {
		if (made)
			printf("{\"changed\":%s,", changes->count ? "true" : "false");
		else
			printf("{\"in_sync\":%s,", changes->count ? "false" : "true");
		print_changes_json(stdout, changes);
		fputs("}\n", stdout);
		return;
	}
	if (options->quiet)
		return;
	for (size_t i = 0; i < changes->count; i++) {
		print_change(stdout, changes, &changes->changes[i]);
		fputc('\n', stdout);
	}
}

char *output_format_changes(const struct change_list *changes, size_t limit)
{
	char *text = NULL;
	size_t size = 0;
	FILE *stream = open_memstream(&text, &size);

	if (!stream)
		return NULL;
	for (size_t i = 0; i < changes->count && i < limit; i++) {
		if (i)
			fputs("; ", stream);
		print_change(stream, changes, &changes->changes[i]);
	}
	if (changes->count > limit)
		fprintf(stream, "; and %zu more", changes->count - limit);
	if (fclose(stream) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static const char *watch_event_name(enum watch_event_kind kind)
{
	switch (kind) {
	case WATCH_EVENT_APPLIED:
		return "applied";
	case WATCH_EVENT_REPAIRED:
		return "repaired";
	case WATCH_EVENT_INVALID:
		return "invalid";
	case WATCH_EVENT_ERROR:
		break;
	}
	return "error";
}

static const char *watch_cause_name(enum watch_cause cause)
{
	switch (cause) {
	case WATCH_CAUSE_START:
		return "start";
	case WATCH_CAUSE_FILE:
		return "file";
	case WATCH_CAUSE_RELOAD:
		return "reload";
	case WATCH_CAUSE_TABLE:
		return "table";
	case WATCH_CAUSE_LOST:
		return "lost";
	case WATCH_CAUSE_OWNER:
		return "owner";
	case WATCH_CAUSE_SYSCTL:
		break;
	}
	return "sysctl";
}

/* A location's number, or null for "the whole file" (0). */
static void print_json_number_or_null(FILE *stream, unsigned int number)
{
	if (number)
		fprintf(stream, "%u", number);
	else
		fputs("null", stream);
}

static void print_diagnostics_json(FILE *stream, const struct diagnostics *diagnostics)
{
	fprintf(stream, "\"error_count\":%zu,\"warning_count\":%zu,\"diagnostics\":[",
		diagnostics->error_count, diagnostics->warning_count);
	for (size_t i = 0; i < diagnostics->count; i++) {
		const struct diagnostic *diagnostic = &diagnostics->items[i];

		fputs(i ? ",{\"file\":" : "{\"file\":", stream);
		if (diagnostic->location.file)
			print_json_string(stream, diagnostic->location.file);
		else
			fputs("null", stream);
		fputs(",\"line\":", stream);
		print_json_number_or_null(stream, diagnostic->location.line);
		fputs(",\"column\":", stream);
		print_json_number_or_null(stream, diagnostic->location.line ? diagnostic->location.column : 0);
		fprintf(stream, ",\"severity\":\"%s\",\"message\":",
			diagnostic->severity == SEVERITY_ERROR ? "error" : "warning");
		print_json_string(stream, diagnostic->message);
		fputc('}', stream);
	}
	fputc(']', stream);
}

void output_watch_event(const struct options *options, const struct watch_event *event)
{
	if (!options->json)
		return;
	printf("{\"event\":\"%s\",\"cause\":\"%s\"", watch_event_name(event->kind), watch_cause_name(event->cause));
	if (event->cause == WATCH_CAUSE_TABLE) {
		fputs(",\"process\":", stdout);
		print_json_string(stdout, event->process ? event->process : "");
		printf(",\"pid\":%u", event->pid);
	}
	switch (event->kind) {
	case WATCH_EVENT_APPLIED:
	case WATCH_EVENT_REPAIRED:
		printf(",\"changed\":%s,", event->changes->count ? "true" : "false");
		print_changes_json(stdout, event->changes);
		break;
	case WATCH_EVENT_INVALID:
		fputs(",\"path\":", stdout);
		print_json_string(stdout, event->path);
		fputc(',', stdout);
		print_diagnostics_json(stdout, event->diagnostics);
		break;
	case WATCH_EVENT_ERROR:
		fputs(",\"message\":", stdout);
		print_json_string(stdout, event->message ? event->message : "");
		break;
	}
	fputs("}\n", stdout);
	/* A pipe to a script: each event as it happens, not a buffer full. */
	fflush(stdout);
}
