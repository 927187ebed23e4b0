/* status's report as a whole: one entry per mapping of the file, the
 * conflicts, the problems of the table and the sysctl, and whether all is
 * healthy. Pure, like the two halves it calls. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "status_report.h"
#include "util.h"

static const char *const client_kind_names[CLIENT_KIND_COUNT] = {
	[CLIENT_REMOTE_IPV4] = "remote_ipv4",
	[CLIENT_REMOTE_IPV6] = "remote_ipv6",
	[CLIENT_LOCAL_IPV4] = "local_ipv4",
	[CLIENT_LOCAL_IPV6] = "local_ipv6",
};

const char *client_kind_name(enum client_kind kind)
{
	return kind < CLIENT_KIND_COUNT ? client_kind_names[kind] : "?";
}

static int add_problem(char ***problems, size_t *count, size_t *capacity, const char *format, va_list arguments)
	__attribute__((format(printf, 4, 0)));
static int add_problem(char ***problems, size_t *count, size_t *capacity, const char *format, va_list arguments)
{
	char *text;

	if (vasprintf(&text, format, arguments) < 0)
		return -ENOMEM;
	if (ARRAY_GROW_ONE(*problems, *count, *capacity, 4) < 0) {
		free(text);
		return -ENOMEM;
	}
	(*problems)[(*count)++] = text;
	return 0;
}

int status_add_problem(char ***problems, size_t *count, size_t *capacity, const char *format, ...)
{
	va_list arguments;
	int r;

	va_start(arguments, format);
	r = add_problem(problems, count, capacity, format, arguments);
	va_end(arguments);
	return r;
}

int status_mapping_problem(struct mapping_report *mapping, const char *format, ...)
{
	va_list arguments;
	int r;

	va_start(arguments, format);
	r = add_problem(&mapping->problems, &mapping->problem_count, &mapping->problem_capacity, format, arguments);
	va_end(arguments);
	return r;
}

static void free_problems(char **problems, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(problems[i]);
	free(problems);
}

void status_report_free(struct status_report *report)
{
	if (!report)
		return;
	for (size_t i = 0; i < report->mapping_count; i++) {
		free(report->mappings[i].listeners);
		free(report->mappings[i].shadowed);
		free_problems(report->mappings[i].problems, report->mappings[i].problem_count);
	}
	free(report->mappings);
	for (size_t i = 0; i < report->conflict_count; i++) {
		free(report->conflicts[i].table);
		free(report->conflicts[i].chain);
		free(report->conflicts[i].reason);
	}
	free(report->conflicts);
	free_problems(report->problems, report->problem_count);
	free(report);
}

bool status_report_healthy(const struct status_report *report)
{
	if (report->problem_count || report->conflict_count)
		return false;
	for (size_t i = 0; i < report->mapping_count; i++) {
		if (report->mappings[i].problem_count)
			return false;
	}
	return true;
}

static int whole_problems(const struct status_input *input, struct status_report *report)
{
	const struct mapping *desired = input->desired;
	int r = 0;

	if (!input->table_exists)
		r = status_add_problem(&report->problems, &report->problem_count, &report->problem_capacity,
				       "not applied: table inet portredir does not exist; run portredir apply");
	else if (input->table_changes)
		r = status_add_problem(&report->problems, &report->problem_count, &report->problem_capacity,
				       "table inet portredir differs from the mapping file (%zu change%s; portredir diff shows them): run portredir apply",
				       input->table_changes, input->table_changes == 1 ? "" : "s");
	if (r < 0)
		return r;
	if (desired->has_unprivileged_port_start && input->has_current_port_start &&
	    desired->unprivileged_port_start != input->current_port_start)
		r = status_add_problem(&report->problems, &report->problem_count, &report->problem_capacity,
				       "net.ipv4.ip_unprivileged_port_start is %u, the mapping file declares %u: run portredir apply",
				       input->current_port_start, desired->unprivileged_port_start);
	return r;
}

/* The desired mapping is sorted: the scopes of a port are neighbours. */
static bool same_port(const struct redirect *a, const struct redirect *b)
{
	return a->protocol == b->protocol && a->port == b->port;
}

int status_analyze(const struct status_input *input, struct status_report **ret_report)
{
	const struct mapping *desired = input->desired;
	struct status_report *report = calloc(1, sizeof(*report));
	int r = -ENOMEM;

	if (!report)
		return -ENOMEM;
	report->has_declared_port_start = desired->has_unprivileged_port_start;
	report->declared_port_start = desired->unprivileged_port_start;
	report->has_current_port_start = input->has_current_port_start;
	report->current_port_start = input->current_port_start;
	if (desired->redirect_count) {
		report->mappings = calloc(desired->redirect_count, sizeof(*report->mappings));
		if (!report->mappings)
			goto fail;
	}
	for (size_t i = 0; i < desired->redirect_count; i++) {
		struct mapping_report *mapping = &report->mappings[i];

		mapping->protocol = desired->redirects[i].protocol;
		mapping->port = desired->redirects[i].port;
		mapping->target = desired->redirects[i].target;
		mapping->scope = desired->redirects[i].scope;
		mapping->port_shared = (i > 0 && same_port(&desired->redirects[i - 1], &desired->redirects[i])) ||
				       (i + 1 < desired->redirect_count &&
					same_port(&desired->redirects[i], &desired->redirects[i + 1]));
		mapping->owner = input->owners ? input->owners[i] : NULL;
		report->mapping_count++;
		r = status_analyze_listeners(input, mapping);
		if (r < 0)
			goto fail;
	}
	r = status_analyze_conflicts(input, report);
	if (r < 0)
		goto fail;
	r = whole_problems(input, report);
	if (r < 0)
		goto fail;
	*ret_report = report;
	return 0;
fail:
	status_report_free(report);
	return r;
}
