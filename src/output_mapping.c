/* The output of the mapping and of changes (output.h): the normalized
 * form check and show print, its JSON, and the change lines of diff,
 * apply and flush, with their JSON document. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "change.h"
#include "escape.h"
#include "options.h"
#include "output.h"
#include "state.h"

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
	escape_write(stream, text, strlen(text));
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
	output_json_string(stream, text);
}

void output_scope_clauses(FILE *stream, const struct scope *scope)
{
	char text[SCOPE_TEXT_MAX];

	scope_text(scope, text);
	escape_write(stream, text, strlen(text));
}

/* "family" is also an address's own. */
void output_scope_json(FILE *stream, const struct scope *scope)
{
	char address[INET6_ADDRSTRLEN];
	char iif[SCOPE_IFNAME_SIZE];

	fputs(",\"on\":", stream);
	if (scope->kind == SCOPE_ON) {
		inet_ntop(scope->family == 4 ? AF_INET : AF_INET6, scope->address, address, sizeof(address));
		output_json_string(stream, address);
	} else {
		fputs("null", stream);
	}
	fputs(",\"iif\":", stream);
	if (scope->kind == SCOPE_IIF) {
		scope_iif_name(scope, iif);
		output_json_string(stream, iif);
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
		output_scope_clauses(stream, &first->scope);
		print_owner_clause(stream, first->owner);
		fputc('\n', stream);
	}
	free(printed);
	mapping_free(joined);
}

static void print_mapping_members_json(FILE *stream, const struct mapping *mapping)
{
	fputs("\"unprivileged_port_start\":", stream);
	output_json_number_or_null(stream, mapping->has_unprivileged_port_start, mapping->unprivileged_port_start);
	fputs(",\"redirects\":[", stream);
	for (size_t i = 0; i < mapping->redirect_count; i++) {
		const struct redirect *redirect = &mapping->redirects[i];

		fprintf(stream, "%s{\"protocol\":\"%s\",\"port\":%u,\"target\":%u,\"owner\":", i ? "," : "",
			protocol_name(redirect->protocol), redirect->port, redirect->target);
		print_owner_json(stream, redirect->owner);
		output_scope_json(stream, &redirect->scope);
		fputc('}', stream);
	}
	fputc(']', stream);
}

/* open_memstream() for a document's members; NULL when out of memory. */
static FILE *open_document(char **text, size_t *size)
{
	*text = NULL;
	*size = 0;
	return open_memstream(text, size);
}

/* The text is only complete once the stream is closed. */
static void close_document(FILE *stream, char **text)
{
	if (fclose(stream) != 0) {
		free(*text);
		*text = NULL;
	}
	output_set_document(*text);
}

void output_mapping(const struct options *options, const struct mapping *mapping)
{
	FILE *stream;
	size_t size;
	char *text;

	if (!options->json) {
		output_mapping_to(stdout, mapping);
		return;
	}
	stream = open_document(&text, &size);
	if (!stream)
		return;
	print_mapping_members_json(stream, mapping);
	close_document(stream, &text);
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
		escape_write(stream, structure->object, strlen(structure->object));
		fprintf(stream, ": %s (", structure->action);
		escape_write(stream, structure->reason, strlen(structure->reason));
		fputc(')', stream);
		break;
	case CHANGE_REDIRECT_REMOVED:
	case CHANGE_REDIRECT_ADDED:
		fprintf(stream, "%c redirect %s %u to %u", change_op(change),
			protocol_name((enum protocol)change->protocol), change->port, change->target);
		output_scope_clauses(stream, &change->scope);
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
		output_json_string(stream, structure->object);
		fputs(",\"action\":", stream);
		output_json_string(stream, structure->action);
		fputs(",\"reason\":", stream);
		output_json_string(stream, structure->reason);
		fputc('}', stream);
		break;
	case CHANGE_REDIRECT_REMOVED:
	case CHANGE_REDIRECT_ADDED:
		fprintf(stream, "{\"op\":\"%c\",\"protocol\":\"%s\",\"port\":%u,\"target\":%u,\"owner\":",
			change_op(change), protocol_name((enum protocol)change->protocol), change->port, change->target);
		print_owner_json(stream, change_owner(list, change));
		output_scope_json(stream, &change->scope);
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

void output_changes_json(FILE *stream, const struct change_list *list)
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
		FILE *stream;
		size_t size;
		char *text;

		stream = open_document(&text, &size);
		if (!stream)
			return;
		if (made)
			fprintf(stream, "\"changed\":%s,", changes->count ? "true" : "false");
		else
			fprintf(stream, "\"in_sync\":%s,", changes->count ? "false" : "true");
		output_changes_json(stream, changes);
		close_document(stream, &text);
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
