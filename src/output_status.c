/* The output module's part for status (output.h): the report as text for
 * people and as one JSON document. Text that comes from elsewhere
 * (process, user, chain names) is printed with its control characters
 * escaped. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "output.h"
#include "status_report.h"

#define TEXT_SIZE 512

static const char *const client_kind_labels[CLIENT_KIND_COUNT] = {
	[CLIENT_REMOTE_IPV4] = "remote IPv4",
	[CLIENT_REMOTE_IPV6] = "remote IPv6",
	[CLIENT_LOCAL_IPV4] = "local IPv4",
	[CLIENT_LOCAL_IPV6] = "local IPv6",
};

void output_escape(const char *text, char *buffer, size_t size)
{
	size_t used = 0;

	for (const unsigned char *c = (const unsigned char *)text; *c && used + 5 < size; c++) {
		if (*c < 0x20 || *c == 0x7f)
			used += (size_t)snprintf(buffer + used, size - used, "\\x%02x", *c);
		else
			buffer[used++] = (char)*c;
	}
	buffer[used] = '\0';
}

static void print_escaped(FILE *stream, const char *text)
{
	for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
		if (*c < 0x20 || *c == 0x7f)
			fprintf(stream, "\\x%02x", *c);
		else
			fputc(*c, stream);
	}
}

static size_t problem_count(const struct status_report *report)
{
	size_t count = report->problem_count;

	for (size_t i = 0; i < report->mapping_count; i++)
		count += report->mappings[i].problem_count;
	return count;
}

static void print_listener_list(FILE *stream, const struct host *host, const size_t *indices, size_t count)
{
	char text[TEXT_SIZE];

	for (size_t i = 0; i < count; i++) {
		status_listener_text(host, &host->listeners[indices[i]], text, sizeof(text));
		if (i)
			fputs(", ", stream);
		print_escaped(stream, text);
	}
}

static void print_traffic(FILE *stream, const struct mapping_report *mapping)
{
	if (mapping->connections < 0)
		fputs("connections not counted", stream);
	else
		fprintf(stream, "%" PRId64 " connection%s", mapping->connections, mapping->connections == 1 ? "" : "s");
	/* The count sets count per port. */
	if (mapping->connections >= 0 && mapping->port_shared)
		fprintf(stream, " to %s %u in all its scopes", protocol_name(mapping->protocol), mapping->port);
	if (mapping->active >= 0)
		fprintf(stream, ", %" PRId64 " active", mapping->active);
	else
		fputs(", active not known", stream);
}

static void print_mapping_text(FILE *stream, const struct mapping_report *mapping, const struct host *host)
{
	fprintf(stream, "%s %u to %u", protocol_name(mapping->protocol), mapping->port, mapping->target);
	output_scope_clauses(stream, &mapping->scope);
	if (mapping->owner) {
		fputs(" for ", stream);
		print_escaped(stream, mapping->owner->name);
	}
	if (!mapping->problem_count) {
		fputs(": healthy; ", stream);
		print_listener_list(stream, host, mapping->listeners, mapping->listener_count);
		fputs("; ", stream);
		print_traffic(stream, mapping);
		fputc('\n', stream);
		return;
	}
	fprintf(stream, ": %zu problem%s\n", mapping->problem_count, mapping->problem_count == 1 ? "" : "s");
	fputs("  listening: ", stream);
	if (mapping->listener_count)
		print_listener_list(stream, host, mapping->listeners, mapping->listener_count);
	else
		fputs("nothing", stream);
	fputs("\n  clients:", stream);
	for (int k = 0; k < CLIENT_KIND_COUNT; k++)
		fprintf(stream, "%s %s %s", k ? "," : "", client_kind_labels[k],
			!mapping->in_scope[k] ? "(not in scope)" : mapping->reachable[k] ? "yes" : "no");
	fputc('\n', stream);
	if (mapping->shadowed_count) {
		fputs("  shadowed: ", stream);
		print_listener_list(stream, host, mapping->shadowed, mapping->shadowed_count);
		fputc('\n', stream);
	}
	fputs("  traffic: ", stream);
	print_traffic(stream, mapping);
	fputc('\n', stream);
	for (size_t i = 0; i < mapping->problem_count; i++) {
		fputs("  problem: ", stream);
		print_escaped(stream, mapping->problems[i]);
		fputc('\n', stream);
	}
}

static void print_status_text(FILE *stream, const struct status_report *report, const struct host *host)
{
	size_t problems = problem_count(report);

	for (size_t i = 0; i < report->mapping_count; i++)
		print_mapping_text(stream, &report->mappings[i], host);
	for (size_t i = 0; i < report->conflict_count; i++) {
		const struct conflict *conflict = &report->conflicts[i];

		fprintf(stream, "conflict: table ");
		print_escaped(stream, conflict->table);
		fputs(", chain ", stream);
		print_escaped(stream, conflict->chain);
		fprintf(stream, " (%s): ", conflict->kind);
		print_escaped(stream, conflict->reason);
		fputc('\n', stream);
	}
	for (size_t i = 0; i < report->problem_count; i++) {
		fputs("problem: ", stream);
		print_escaped(stream, report->problems[i]);
		fputc('\n', stream);
	}
	fputs("unprivileged_port_start: ", stream);
	if (report->has_current_port_start)
		fprintf(stream, "%u", report->current_port_start);
	else
		fputs("unknown", stream);
	if (report->has_declared_port_start)
		fprintf(stream, " (declared %u)\n", report->declared_port_start);
	else
		fputs(" (not declared)\n", stream);
	if (!problems && !report->conflict_count) {
		fputs("healthy\n", stream);
		return;
	}
	fprintf(stream, "%zu problem%s", problems, problems == 1 ? "" : "s");
	if (report->conflict_count)
		fprintf(stream, ", %zu conflict%s", report->conflict_count, report->conflict_count == 1 ? "" : "s");
	fputc('\n', stream);
}

static void print_listener_json(FILE *stream, const struct host *host, const struct listener *listener)
{
	char address[HOST_ADDRESS_TEXT_SIZE];
	const struct interface *interface = listener->interface ? host_find_interface(host, listener->interface) : NULL;

	host_address_text(listener->family, listener->address, address, sizeof(address));
	fputs("{\"address\":", stream);
	output_json_string(stream, address);
	fprintf(stream, ",\"port\":%u,\"uid\":%u,\"user\":", listener->port, listener->uid);
	output_json_string_or_null(stream, listener->user);
	fputs(",\"pid\":", stream);
	output_json_number_or_null(stream, listener->pid, listener->pid);
	fputs(",\"process\":", stream);
	output_json_string_or_null(stream, listener->pid ? listener->process : NULL);
	fputs(",\"ipv6_only\":", stream);
	fputs(listener->family == AF_INET6 ? (listener->ipv6_only ? "true" : "false") : "null", stream);
	fputs(",\"interface\":", stream);
	output_json_string_or_null(stream, interface && interface->name[0] ? interface->name : NULL);
	fputs(",\"cgroup\":", stream);
	output_json_string_or_null(stream, listener->cgroup);
	fputc('}', stream);
}

static void print_listeners_json(FILE *stream, const struct host *host, const size_t *indices, size_t count)
{
	fputc('[', stream);
	for (size_t i = 0; i < count; i++) {
		if (i)
			fputc(',', stream);
		print_listener_json(stream, host, &host->listeners[indices[i]]);
	}
	fputc(']', stream);
}

static void print_strings_json(FILE *stream, char *const *strings, size_t count)
{
	fputc('[', stream);
	for (size_t i = 0; i < count; i++) {
		if (i)
			fputc(',', stream);
		output_json_string(stream, strings[i]);
	}
	fputc(']', stream);
}

static void print_mapping_json_report(FILE *stream, const struct mapping_report *mapping, const struct host *host)
{
	fprintf(stream, "{\"protocol\":\"%s\",\"port\":%u,\"target\":%u,\"owner\":", protocol_name(mapping->protocol),
		mapping->port, mapping->target);
	output_json_string_or_null(stream, mapping->owner ? mapping->owner->name : NULL);
	output_scope_json(stream, &mapping->scope);
	fputs(",\"listeners\":", stream);
	print_listeners_json(stream, host, mapping->listeners, mapping->listener_count);
	fputs(",\"reachable\":{", stream);
	for (int k = 0; k < CLIENT_KIND_COUNT; k++)
		fprintf(stream, "%s\"%s\":%s", k ? "," : "", client_kind_name((enum client_kind)k),
			!mapping->in_scope[k] ? "null" : mapping->reachable[k] ? "true" : "false");
	fputs("},\"shadowed\":", stream);
	print_listeners_json(stream, host, mapping->shadowed, mapping->shadowed_count);
	fputs(",\"connections\":", stream);
	output_json_number_or_null(stream, mapping->connections >= 0, mapping->connections);
	fputs(",\"active\":", stream);
	output_json_number_or_null(stream, mapping->active >= 0, mapping->active);
	fputs(",\"problems\":", stream);
	print_strings_json(stream, mapping->problems, mapping->problem_count);
	fputc('}', stream);
}

static void print_status_json(FILE *stream, const struct status_report *report, const struct host *host)
{
	fprintf(stream, "{\"healthy\":%s,\"mappings\":[", status_report_healthy(report) ? "true" : "false");
	for (size_t i = 0; i < report->mapping_count; i++) {
		if (i)
			fputc(',', stream);
		print_mapping_json_report(stream, &report->mappings[i], host);
	}
	fputs("],\"conflicts\":[", stream);
	for (size_t i = 0; i < report->conflict_count; i++) {
		const struct conflict *conflict = &report->conflicts[i];

		fprintf(stream, "%s{\"kind\":\"%s\",\"table\":", i ? "," : "", conflict->kind);
		output_json_string(stream, conflict->table);
		fputs(",\"chain\":", stream);
		output_json_string(stream, conflict->chain);
		fputs(",\"reason\":", stream);
		output_json_string(stream, conflict->reason);
		fputc('}', stream);
	}
	fputs("],\"sysctl\":{\"declared\":", stream);
	output_json_number_or_null(stream, report->has_declared_port_start, report->declared_port_start);
	fputs(",\"current\":", stream);
	output_json_number_or_null(stream, report->has_current_port_start, report->current_port_start);
	fputs("},\"problems\":", stream);
	print_strings_json(stream, report->problems, report->problem_count);
	fputs("}\n", stream);
}

void output_status(const struct options *options, const struct status_report *report, const struct host *host)
{
	if (options->json)
		print_status_json(stdout, report, host);
	else
		print_status_text(stdout, report, host);
}
