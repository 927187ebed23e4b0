/* What apply and flush say on stderr from what status reads: the
 * listeners a newly installed redirect shadows, and the established
 * redirected connections deleting the table resets. Warnings only: a
 * failure to find out is said under -v and changes no exit code. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "host_processes.h"
#include "kernel_host.h"
#include "output.h"
#include "state.h"
#include "status.h"
#include "status_report.h"

#define TEXT_SIZE 512

void warn_shadowed_listeners(const struct options *options, const struct change_list *changes)
{
	bool *wanted = NULL, any = false;
	struct host *host = NULL;
	int r;

	if (options->quiet)
		return;
	wanted = calloc((size_t)UINT16_MAX + 1, sizeof(*wanted));
	if (!wanted)
		return;
	for (size_t i = 0; i < changes->count; i++) {
		if (changes->changes[i].kind == CHANGE_REDIRECT_ADDED)
			any = wanted[changes->changes[i].port] = true;
	}
	if (!any)
		goto out;
	host = host_new();
	r = host ? kernel_read_listeners(host, wanted) : -ENOMEM;
	if (r < 0) {
		output_verbose(options, "cannot list the sockets on the redirected ports: %s", strerror(-r));
		goto out;
	}
	if (!host->listener_count)
		goto out;
	host_find_processes(host);
	if (host_find_users(host) < 0)
		goto out;
	for (size_t i = 0; i < changes->count; i++) {
		const struct change *change = &changes->changes[i];

		if (change->kind != CHANGE_REDIRECT_ADDED)
			continue;
		for (size_t j = 0; j < host->listener_count; j++) {
			const struct listener *listener = &host->listeners[j];
			char text[TEXT_SIZE], escaped[TEXT_SIZE * 4];

			if (listener->protocol != (enum protocol)change->protocol || listener->port != change->port)
				continue;
			status_listener_text(host, listener, text, sizeof(text));
			output_escape(text, escaped, sizeof(escaped));
			output_warning("redirect %s %u to %u shadows %s: its clients now reach %u instead",
				      protocol_name(listener->protocol), change->port, change->target, escaped,
				      change->target);
		}
	}
out:
	host_free(host);
	free(wanted);
}

/* "tcp 80, 443; udp 443": the ports of the counted connections. */
static void port_list(const struct flow_count *flows, size_t count, const bool *counted, char *buffer,
		      size_t size)
{
	size_t used = 0;

	buffer[0] = '\0';
	for (int p = 0; p < PROTOCOL_COUNT; p++) {
		bool first = true;

		for (uint32_t port = 1; port <= UINT16_MAX; port++) {
			bool found = false;

			for (size_t i = 0; i < count && !found; i++)
				found = counted[i] && flows[i].protocol == (enum protocol)p && flows[i].port == port;
			if (!found || used + 16 >= size)
				continue;
			used += (size_t)snprintf(buffer + used, size - used, "%s%s%u",
						 first ? (used ? "; " : "") : ", ",
						 first ? (p == PROTOCOL_TCP ? "tcp " : "udp ") : "", port);
			first = false;
		}
	}
}

void warn_flush_resets(const struct options *options, const struct table_state *state)
{
	struct flow_count *flows = NULL;
	bool *counted = NULL;
	size_t count = 0, total = 0;
	char ports[TEXT_SIZE];
	int r;

	if (options->quiet)
		return;
	r = kernel_read_redirected_flows(&flows, &count);
	if (r < 0) {
		output_verbose(options, "cannot count the established redirected connections: %s", strerror(-r));
		return;
	}
	counted = calloc(count ? count : 1, sizeof(*counted));
	if (!counted)
		goto out;
	for (size_t i = 0; i < count; i++) {
		const struct redirect *redirect = mapping_find(state->mapping, flows[i].protocol, flows[i].port);

		if (!redirect || redirect->target != flows[i].target)
			continue;
		counted[i] = true;
		total += flows[i].count;
	}
	if (!total) {
		output_verbose(options, "no established redirected connections to reset");
		goto out;
	}
	port_list(flows, count, counted, ports, sizeof(ports));
	output_warning("flush resets %zu established redirected connection%s (%s)", total, total == 1 ? "" : "s",
		      ports);
out:
	free(counted);
	free(flows);
}
