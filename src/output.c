/* The output module (output.h): every line portredir prints, on stdout and
 * stderr, as text or JSON. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include "cache.h"
#include "config.h"
#include "escape.h"
#include "kernel.h"
#include "options.h"
#include "output.h"
#include "state.h"

/* Set by watch when stderr is the journal, which reads a leading "<N>" as
 * the line's syslog priority. */
static bool syslog_prefixes;

/* The first error line since output_forget_errors(): watch's error events
 * carry it. The first one that is not a diagnostic of the mapping is the
 * message of --json's error document: for a mapping, the line that sums
 * its diagnostics up; else what failed first. */
static char first_error[512];
static char document_error[512];

/* With --json, the document a run prints, kept as its members (without the
 * braces) until output_finish(): a command that fails after it made its
 * document (an apply whose sysctl write failed) prints one document, the
 * error with what was done. */
static char *document;
/* The diagnostics of the last mapping read, as a JSON list, for the error
 * document. */
static char *diagnostics_json;

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
	document_error[0] = '\0';
	free(diagnostics_json);
	diagnostics_json = NULL;
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

	if (vasprintf(&text, format, arguments) < 0)
		text = NULL;
	priority_prefix(prefix, priority);
	if (text) {
		if (priority == LOG_ERR) {
			note_error(text);
			if (!document_error[0])
				snprintf(document_error, sizeof(document_error), "%s", text);
		}
		/* Whatever the message holds of file names, words of the
		 * mapping, process names: no control character reaches the
		 * terminal or the log (escape.h). */
		fprintf(stderr, "%sportredir: %s", prefix, label);
		escape_write(stderr, text, strlen(text));
		fputc('\n', stderr);
	} else {
		fprintf(stderr, "%sportredir: %sout of memory while writing a message\n", prefix, label);
	}
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
	note_error(message);
	snprintf(document_error, sizeof(document_error), "%s", message);
	fputs("portredir: error: ", stderr);
	escape_write(stderr, message, strlen(message));
	fputc('\n', stderr);
}

void output_set_document(char *members)
{
	free(document);
	document = members;
}

/* The excerpt under a diagnostic, each line with the priority prefix. */
static void print_excerpt(const struct diagnostic *diagnostic, const char *prefix)
{
	char *excerpt = NULL;

	if (diagnostic_format_excerpt(diagnostic, &excerpt) < 0 || !excerpt)
		return;
	for (char *line = excerpt, *end; line; line = end ? end + 1 : NULL) {
		end = strchr(line, '\n');
		fputs(prefix, stderr);
		escape_write(stderr, line, end ? (size_t)(end - line) : strlen(line));
		fputc('\n', stderr);
	}
	free(excerpt);
}

static void print_diagnostic_list_json(FILE *stream, const struct diagnostics *diagnostics, bool quiet);

void output_diagnostics(const struct diagnostics *diagnostics, bool quiet)
{
	size_t size = 0;
	FILE *stream;

	for (size_t i = 0; i < diagnostics->count; i++) {
		const struct diagnostic *diagnostic = &diagnostics->items[i];
		bool error = diagnostic->severity == SEVERITY_ERROR;
		char *line, prefix[8];

		if (quiet && !error)
			continue;
		line = diagnostic_format(diagnostic);
		priority_prefix(prefix, error ? LOG_ERR : LOG_WARNING);
		fputs(prefix, stderr);
		if (!line)
			fputs("portredir: error: ", stderr);
		escape_write(stderr, line ? line : diagnostic->message, strlen(line ? line : diagnostic->message));
		fputc('\n', stderr);
		print_excerpt(diagnostic, prefix);
		if (error)
			note_error(line ? line : diagnostic->message);
		free(line);
	}
	if (diagnostics->dropped_errors) {
		bool had_error = document_error[0];

		output_error("%zu more errors not shown; fix the ones above first", diagnostics->dropped_errors);
		/* Not the message of the error document: the sum that follows. */
		if (!had_error)
			document_error[0] = '\0';
	}
	if (diagnostics->dropped_warnings && !quiet)
		output_warning("%zu more warnings not shown", diagnostics->dropped_warnings);
	/* Kept for the error document, should the command fail. */
	free(diagnostics_json);
	diagnostics_json = NULL;
	stream = open_memstream(&diagnostics_json, &size);
	if (!stream)
		return;
	print_diagnostic_list_json(stream, diagnostics, quiet);
	if (fclose(stream) != 0) {
		free(diagnostics_json);
		diagnostics_json = NULL;
	}
}

/* What an administrator can do about the usual failures. */
static const char *kernel_error_hint(int error, const struct kernel_error *details)
{
	switch (error) {
	case -EPERM:
	case -EACCES:
		/* Root is not enough: a process without the capability (a
		 * container, a unit's CapabilityBoundingSet=, setpriv) gets
		 * EPERM too, and so does one that has it only in another
		 * user namespace than the one owning this network namespace. */
		return "needs CAP_NET_ADMIN in this network namespace";
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
	/* Refused for what the directory is: say what (cache.h). */
	if (statistics->record_lookup_error == -EPERM && options->verbose) {
		char *reason = cache_directory_problem();

		output_verbose(options, "the record %s was not used: %s", statistics->record_lookup_path,
			       reason ? reason : "a record that others may write is not trusted");
		free(reason);
	} else if (statistics->record_lookup_error) {
		output_verbose(options, "the record %s was not used: %s", statistics->record_lookup_path,
			       strerror(-statistics->record_lookup_error));
	}
	if (statistics->record_error == -EPERM && options->verbose) {
		char *reason = cache_directory_problem();

		output_verbose(options, "the maps' elements were not recorded for the next run: %s",
			       reason ? reason : strerror(-statistics->record_error));
		free(reason);
	} else if (statistics->record_error) {
		output_verbose(options, "the maps' elements were not recorded for the next run: %s",
			       strerror(-statistics->record_error));
	} else if (statistics->elements_recorded)
		output_verbose(options, "the maps' elements were recorded for the next run");
}

void output_table_read(const struct options *options, const struct table_state *state)
{
	output_verbose(options, "read table inet portredir at generation %u: %zu redirect%s%s",
		       state->generation, state->mapping->redirect_count,
		       state->mapping->redirect_count == 1 ? "" : "s",
		       state->elements_cached ? " (as recorded at this generation; the maps were not dumped)" : "");
}

/* A JSON string, valid whatever the bytes of the text (escape.h). */
void output_json_string(FILE *stream, const char *text)
{
	escape_write_json(stream, text);
}

void output_json_string_or_null(FILE *stream, const char *text)
{
	if (text)
		output_json_string(stream, text);
	else
		fputs("null", stream);
}

void output_json_number_or_null(FILE *stream, bool present, int64_t number)
{
	if (present)
		fprintf(stream, "%" PRId64, number);
	else
		fputs("null", stream);
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

static void print_diagnostic_list_json(FILE *stream, const struct diagnostics *diagnostics, bool quiet)
{
	bool first = true;

	fputc('[', stream);
	for (size_t i = 0; i < diagnostics->count; i++) {
		const struct diagnostic *diagnostic = &diagnostics->items[i];

		if (quiet && diagnostic->severity != SEVERITY_ERROR)
			continue;
		fputs(first ? "{\"file\":" : ",{\"file\":", stream);
		first = false;
		output_json_string_or_null(stream, diagnostic->location.file);
		/* Line 0 is the whole file, which has no column either. */
		fputs(",\"line\":", stream);
		output_json_number_or_null(stream, diagnostic->location.line, diagnostic->location.line);
		fputs(",\"column\":", stream);
		output_json_number_or_null(stream, diagnostic->location.line && diagnostic->location.column,
					   diagnostic->location.column);
		fprintf(stream, ",\"severity\":\"%s\",\"message\":",
			diagnostic->severity == SEVERITY_ERROR ? "error" : "warning");
		output_json_string(stream, diagnostic->message);
		fputc('}', stream);
	}
	fputc(']', stream);
}

static void print_diagnostics_json(FILE *stream, const struct diagnostics *diagnostics)
{
	fprintf(stream, "\"error_count\":%zu,\"warning_count\":%zu,\"diagnostics\":",
		diagnostics->error_count, diagnostics->warning_count);
	print_diagnostic_list_json(stream, diagnostics, false);
}

void output_watch_event(const struct options *options, const struct watch_event *event)
{
	if (!options->json)
		return;
	printf("{\"event\":\"%s\",\"cause\":\"%s\"", watch_event_name(event->kind), watch_cause_name(event->cause));
	if (event->cause == WATCH_CAUSE_TABLE) {
		fputs(",\"process\":", stdout);
		output_json_string(stdout, event->process ? event->process : "");
		printf(",\"pid\":%u", event->pid);
	}
	switch (event->kind) {
	case WATCH_EVENT_APPLIED:
	case WATCH_EVENT_REPAIRED:
		printf(",\"changed\":%s,", event->changes->count ? "true" : "false");
		output_changes_json(stdout, event->changes);
		break;
	case WATCH_EVENT_INVALID:
		fputs(",\"path\":", stdout);
		output_json_string(stdout, event->path);
		fputc(',', stdout);
		print_diagnostics_json(stdout, event->diagnostics);
		break;
	case WATCH_EVENT_ERROR:
		fputs(",\"message\":", stdout);
		output_json_string(stdout, event->message ? event->message : "");
		break;
	}
	fputs("}\n", stdout);
	/* A pipe to a script: each event as it happens, not a buffer full. */
	fflush(stdout);
}

void output_finish(const struct options *options, bool failed)
{
	if (options->json && failed) {
		fputs("{\"error\":{\"message\":", stdout);
		output_json_string(stdout, document_error[0] ? document_error : "failed");
		printf(",\"diagnostics\":%s}%s%s}\n", diagnostics_json ? diagnostics_json : "[]",
		       document ? "," : "", document ? document : "");
	} else if (options->json && document) {
		printf("{%s}\n", document);
	}
	output_set_document(NULL);
	output_forget_errors();
}
