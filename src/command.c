/* Plumbing shared by the commands: loading the mapping, and the printers
 * for diagnostics, the normalized mapping and JSON. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include "cache.h"
#include "command.h"
#include "config.h"
#include "kernel.h"
#include "lock.h"
#include "plan.h"
#include "state.h"
#include "sysctl.h"

/* Set by watch when stderr is the journal, which reads a leading "<N>" as
 * the line's syslog priority. */
static bool syslog_prefixes;

void print_use_syslog_prefixes(bool enable)
{
	syslog_prefixes = enable;
}

void print_priority(int priority)
{
	if (syslog_prefixes)
		fprintf(stderr, "<%d>", priority);
}

void print_error(const char *format, ...)
{
	va_list arguments;

	print_priority(LOG_ERR);
	fputs("portredir: error: ", stderr);
	va_start(arguments, format);
	vfprintf(stderr, format, arguments);
	va_end(arguments);
	fputc('\n', stderr);
}

void print_warning(const char *format, ...)
{
	va_list arguments;

	print_priority(LOG_WARNING);
	fputs("portredir: warning: ", stderr);
	va_start(arguments, format);
	vfprintf(stderr, format, arguments);
	va_end(arguments);
	fputc('\n', stderr);
}

void print_verbose(const struct options *options, const char *format, ...)
{
	va_list arguments;

	if (!options->verbose)
		return;
	print_priority(LOG_DEBUG);
	fputs("portredir: ", stderr);
	va_start(arguments, format);
	vfprintf(stderr, format, arguments);
	va_end(arguments);
	fputc('\n', stderr);
}

void print_diagnostics(const struct diagnostics *diagnostics, bool quiet)
{
	for (size_t i = 0; i < diagnostics->count; i++) {
		const struct diagnostic *diagnostic = &diagnostics->items[i];
		char *line;

		if (quiet && diagnostic->severity == SEVERITY_WARNING)
			continue;
		line = diagnostic_format(diagnostic);
		print_priority(diagnostic->severity == SEVERITY_ERROR ? LOG_ERR : LOG_WARNING);
		if (line)
			fprintf(stderr, "%s\n", line);
		else
			fprintf(stderr, "portredir: error: %s\n", diagnostic->message);
		free(line);
	}
	if (diagnostics->dropped_errors)
		print_error("%zu more errors not shown; fix the ones above first", diagnostics->dropped_errors);
	if (diagnostics->dropped_warnings && !quiet)
		print_warning("%zu more warnings not shown", diagnostics->dropped_warnings);
}

/* " for OWNER", or nothing for an unowned redirect. Owners were checked
 * by the parser or by the table's reader, but are escaped all the same:
 * what reaches a terminal must not be able to control it. */
void print_owner_clause(FILE *stream, const struct owner *owner)
{
	char text[OWNER_TEXT_MAX + 1];

	if (!owner)
		return;
	owner_text(owner, text, sizeof(text));
	fputs(" for ", stream);
	print_escaped(stream, text);
}

void print_escaped(FILE *stream, const char *text)
{
	for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
		if (*c < 0x20 || *c >= 0x7f)
			fprintf(stream, "\\x%02x", *c);
		else
			fputc(*c, stream);
	}
}

void print_mapping(FILE *stream, const struct mapping *mapping)
{
	if (mapping->has_unprivileged_port_start)
		fprintf(stream, "unprivileged_port_start %u\n", mapping->unprivileged_port_start);
	for (size_t i = 0; i < mapping->redirect_count; i++) {
		const struct redirect *redirect = &mapping->redirects[i];

		fprintf(stream, "redirect %s %u to %u", protocol_name(redirect->protocol),
			redirect->port, redirect->target);
		print_owner_clause(stream, redirect->owner);
		fputc('\n', stream);
	}
}

void print_json_string(FILE *stream, const char *text)
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

/* The owner as the clause writes it, "nginx.service" or "cgroup /web",
 * or null. */
void print_owner_json(FILE *stream, const struct owner *owner)
{
	char text[OWNER_TEXT_MAX + 1];

	if (!owner) {
		fputs("null", stream);
		return;
	}
	owner_text(owner, text, sizeof(text));
	print_json_string(stream, text);
}

void print_mapping_json(FILE *stream, const struct mapping *mapping)
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
		fputc('}', stream);
	}
	fputs("]}", stream);
}

/* Validation needs the namespace's sysctls even when the mapping declares
 * its own unprivileged_port_start (the kernel bounds it by the local port
 * range). Without /proc (a chroot, an image being built) the kernel
 * defaults are the best guess, and saying so keeps the result honest. */
static void read_kernel_ports(const struct options *options, struct config_kernel *kernel)
{
	unsigned int last;
	int r;

	r = sysctl_read_unprivileged_port_start(NULL, &kernel->unprivileged_port_start);
	if (r < 0) {
		kernel->unprivileged_port_start = SYSCTL_DEFAULT_UNPRIVILEGED_PORT_START;
		if (!options->quiet)
			print_warning("cannot read net.ipv4.ip_unprivileged_port_start: %s; assuming the kernel default %u",
				      strerror(-r), kernel->unprivileged_port_start);
	}
	r = sysctl_read_local_port_range(NULL, &kernel->local_port_first, &last);
	if (r < 0) {
		kernel->local_port_first = SYSCTL_DEFAULT_LOCAL_PORT_FIRST;
		if (!options->quiet)
			print_warning("cannot read net.ipv4.ip_local_port_range: %s; assuming the kernel default first port %u",
				      strerror(-r), kernel->local_port_first);
	}
	print_verbose(options, "net.ipv4.ip_unprivileged_port_start is %u, ip_local_port_range starts at %u",
		      kernel->unprivileged_port_start, kernel->local_port_first);
}

int command_load_mapping(const struct options *options, struct mapping **ret_mapping)
{
	struct diagnostics diagnostics;
	struct config_kernel kernel;
	struct mapping *mapping;
	int r;

	diagnostics_init(&diagnostics);
	mapping = mapping_new();
	if (!mapping) {
		r = -ENOMEM;
		goto out;
	}
	r = config_parse_path(options->path, mapping, &diagnostics);
	if (r < 0)
		goto out;
	/* Kernel-dependent rules only make sense on a mapping that parsed. */
	if (!diagnostics.error_count) {
		read_kernel_ports(options, &kernel);
		r = config_validate(mapping, &kernel, &diagnostics);
		if (r < 0)
			goto out;
	}
	print_diagnostics(&diagnostics, options->quiet);
	if (diagnostics.error_count) {
		print_error("%s: %zu error%s; nothing was changed", options->path, diagnostics.error_count,
			    diagnostics.error_count == 1 ? "" : "s");
		r = -EINVAL;
		goto out;
	}
	print_verbose(options, "read %s: %zu redirect%s", options->path, mapping->redirect_count,
		      mapping->redirect_count == 1 ? "" : "s");
	*ret_mapping = mapping;
	mapping = NULL;
out:
	if (r == -ENOMEM)
		print_error("out of memory while reading %s", options->path);
	diagnostics_clear(&diagnostics);
	mapping_free(mapping);
	return r;
}

/* One change line, without its end: a line of its own on stdout, or one
 * of several on watch's log line. */
static void print_change(FILE *stream, const struct plan *plan, const struct change *change)
{
	const struct structure_change *structure;

	switch ((enum change_kind)change->kind) {
	case CHANGE_STRUCTURE:
		structure = &plan->structure_changes[change->structure];
		fprintf(stream, "~ %s: %s (%s)", structure->object, structure->action, structure->reason);
		break;
	case CHANGE_REDIRECT_REMOVED:
	case CHANGE_REDIRECT_ADDED:
		fprintf(stream, "%c redirect %s %u to %u", change->kind == CHANGE_REDIRECT_ADDED ? '+' : '-',
			protocol_name((enum protocol)change->protocol), change->port, change->target);
		break;
	case CHANGE_PORT_START_REMOVED:
	case CHANGE_PORT_START_ADDED:
		fprintf(stream, "%c unprivileged_port_start %u",
			change->kind == CHANGE_PORT_START_ADDED ? '+' : '-', change->port_start);
		break;
	}
}

static void print_change_json(FILE *stream, const struct plan *plan, const struct change *change)
{
	const struct structure_change *structure;

	switch ((enum change_kind)change->kind) {
	case CHANGE_STRUCTURE:
		structure = &plan->structure_changes[change->structure];
		fputs("{\"op\":\"~\",\"object\":", stream);
		print_json_string(stream, structure->object);
		fputs(",\"action\":", stream);
		print_json_string(stream, structure->action);
		fputs(",\"reason\":", stream);
		print_json_string(stream, structure->reason);
		fputc('}', stream);
		break;
	case CHANGE_REDIRECT_REMOVED:
	case CHANGE_REDIRECT_ADDED:
		fprintf(stream, "{\"op\":\"%c\",\"protocol\":\"%s\",\"port\":%u,\"target\":%u}",
			change->kind == CHANGE_REDIRECT_ADDED ? '+' : '-',
			protocol_name((enum protocol)change->protocol), change->port, change->target);
		break;
	case CHANGE_PORT_START_REMOVED:
	case CHANGE_PORT_START_ADDED:
		fprintf(stream, "{\"op\":\"%c\",\"unprivileged_port_start\":%u}",
			change->kind == CHANGE_PORT_START_ADDED ? '+' : '-', change->port_start);
		break;
	}
}

char *format_changes(const struct plan *plan, size_t limit)
{
	char *text = NULL;
	size_t size = 0;
	FILE *stream = open_memstream(&text, &size);

	if (!stream)
		return NULL;
	for (size_t i = 0; i < plan->change_count && i < limit; i++) {
		if (i)
			fputs("; ", stream);
		print_change(stream, plan, &plan->changes[i]);
	}
	if (plan->change_count > limit)
		fprintf(stream, "; and %zu more", plan->change_count - limit);
	if (fclose(stream) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

void print_changes(const struct options *options, const struct plan *plan, bool applied)
{
	if (options->json) {
		if (applied)
			printf("{\"changed\":%s,\"changes\":[", plan_is_empty(plan) ? "false" : "true");
		else
			printf("{\"in_sync\":%s,\"changes\":[", plan_is_empty(plan) ? "true" : "false");
		for (size_t i = 0; i < plan->change_count; i++) {
			if (i)
				fputc(',', stdout);
			print_change_json(stdout, plan, &plan->changes[i]);
		}
		fputs("]}\n", stdout);
		return;
	}
	if (options->quiet)
		return;
	for (size_t i = 0; i < plan->change_count; i++) {
		print_change(stdout, plan, &plan->changes[i]);
		fputc('\n', stdout);
	}
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

void print_kernel_error(const char *action, int error, const struct kernel_error *details, bool changed_nothing)
{
	const struct kernel_error none = { "", "" };
	const char *hint;

	if (!details)
		details = &none;
	hint = kernel_error_hint(error, details);
	print_priority(LOG_ERR);
	fprintf(stderr, "portredir: error: %s", action);
	if (details->object[0])
		fprintf(stderr, " (%s)", details->object);
	fprintf(stderr, ": %s", strerror(-error));
	if (details->message[0])
		fprintf(stderr, " (kernel: %s)", details->message);
	if (changed_nothing)
		fputs("; nothing was changed", stderr);
	if (hint)
		fprintf(stderr, "; %s", hint);
	fputc('\n', stderr);
}

void print_kernel_statistics(const struct options *options, const struct kernel *kernel)
{
	const struct kernel_statistics *statistics;

	if (!kernel)
		return;
	statistics = kernel_statistics(kernel);
	print_verbose(options, "netlink: sent %zu messages, %zu bytes; %zu in a batch, %zu of them with map elements; %zu reads repeated",
		      statistics->messages_sent, statistics->bytes_sent, statistics->batch_messages,
		      statistics->element_messages, statistics->reads_repeated);
	if (statistics->record_error)
		print_verbose(options, "the maps' elements were not recorded for the next run: %s",
			      strerror(-statistics->record_error));
	else if (statistics->elements_recorded)
		print_verbose(options, "the maps' elements were recorded for the next run");
}

void print_table_read(const struct options *options, const struct table_state *state)
{
	print_verbose(options, "read table inet portredir at generation %u: %zu redirect%s%s",
		      state->generation, state->mapping->redirect_count,
		      state->mapping->redirect_count == 1 ? "" : "s",
		      state->elements_cached ? " (as recorded at this generation; the maps were not dumped)" : "");
}

int command_open_kernel(struct kernel **ret_kernel, struct kernel_error *error)
{
	int r = kernel_open(ret_kernel, error);

	if (r >= 0)
		kernel_use_cache(*ret_kernel, &cache_files);
	return r;
}

int command_read_kernel(bool with_elements, bool changing, struct kernel **ret_kernel,
			struct table_state **ret_state)
{
	struct kernel_error error = { "", "" };
	int r;

	*ret_state = NULL;
	r = command_open_kernel(ret_kernel, &error);
	if (r < 0) {
		*ret_kernel = NULL;
		print_kernel_error("cannot open a netfilter netlink socket", r, &error, changing);
		return r;
	}
	r = kernel_read_table(*ret_kernel, with_elements, ret_state, &error);
	if (r < 0)
		print_kernel_error("cannot read the nftables ruleset", r, &error, changing);
	return r;
}

bool table_held_elsewhere(const struct table_state *state, const struct kernel *kernel)
{
	return (state->table_flags & TABLE_FLAG_OWNER) && state->table_owner &&
	       state->table_owner != kernel_port_id(kernel);
}

int take_lock(const struct options *options)
{
	int lock = lock_namespace(LOCK_TIMEOUT_MS);

	if (lock == -ETIMEDOUT)
		print_error("another portredir has been changing this network namespace for %d s; nothing was changed, try again",
			    LOCK_TIMEOUT_MS / 1000);
	else if (lock < 0)
		print_verbose(options, "no lock against concurrent runs (%s); the batch's generation still guards the rules",
			      strerror(-lock));
	return lock;
}
