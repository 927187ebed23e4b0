/* Who receives a mapping's traffic: the listeners on its target, which
 * kinds of client the kernel would deliver to them, the listeners on the
 * port itself that the redirect shadows, and a problem line for each
 * thing that fails, saying what to do. Pure: it reads the host model. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "status_report.h"
#include "util.h"

#define TEXT_SIZE 512

static const uint8_t loopback_ipv4[4] = { 127, 0, 0, 1 };
static const uint8_t loopback_ipv6[16] = { [15] = 1 };

static bool kind_is_ipv6(enum client_kind kind)
{
	return kind == CLIENT_REMOTE_IPV6 || kind == CLIENT_LOCAL_IPV6;
}

static bool kind_is_remote(enum client_kind kind)
{
	return kind == CLIENT_REMOTE_IPV4 || kind == CLIENT_REMOTE_IPV6;
}

/* A client the redirect sent to address (NULL: an address no socket is
 * bound to, for a remote client when no interface has one), arriving on
 * interface. */
struct client {
	int family;
	const uint8_t *address;
	uint32_t interface;
};

static bool is_v4_mapped(const uint8_t *address)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(address, prefix, sizeof(prefix));
}

/* How well a socket matches, as the kernel's listener lookup scores it:
 * -1 no match; an exact address beats the wildcard (the kernel looks the
 * exact address up first); then a socket bound to the interface, then
 * one of the client's own family over a dual-stack one. */
static int match_score(const struct listener *listener, const struct client *client)
{
	bool exact;
	int score;

	if (listener->interface && listener->interface != client->interface)
		return -1;
	if (client->family == AF_INET) {
		if (listener->family == AF_INET) {
			exact = client->address && !memcmp(listener->address, client->address, 4);
			if (!exact && !host_address_is_any(AF_INET, listener->address))
				return -1;
		} else {
			if (listener->ipv6_only)
				return -1;
			exact = client->address && is_v4_mapped(listener->address) &&
				!memcmp(listener->address + 12, client->address, 4);
			if (!exact && !host_address_is_any(AF_INET6, listener->address))
				return -1;
		}
	} else {
		if (listener->family != AF_INET6)
			return -1;
		exact = client->address && !memcmp(listener->address, client->address, 16);
		if (!exact && !host_address_is_any(AF_INET6, listener->address))
			return -1;
	}
	score = exact ? 8 : 0;
	score += listener->interface ? 2 : 1;
	if (listener->family == client->family)
		score++;
	return score;
}

static bool in_owner_group(const struct listener *listener, const struct status_owner *owner)
{
	size_t length;

	if (!owner)
		return true;
	if (!owner->cgroup || !listener->cgroup)
		return false;
	length = strlen(owner->cgroup);
	if (length == 1 && owner->cgroup[0] == '/')
		return true;
	return !strncmp(listener->cgroup, owner->cgroup, length) &&
	       (listener->cgroup[length] == '\0' || listener->cgroup[length] == '/');
}

/* The listeners on one port of one protocol. */
struct candidates {
	const struct host *host;
	enum protocol protocol;
	uint16_t port;
};

/* Which socket the kernel would deliver the client to: the best-scored,
 * or -1 when none matches. Of several equally good (SO_REUSEPORT), the
 * first outside the owner's group is returned, since some connections
 * would go to it. */
static long best_listener(const struct candidates *candidates, const struct client *client,
			  const struct status_owner *owner)
{
	long best = -1;
	int best_score = -1;

	for (size_t i = 0; i < candidates->host->listener_count; i++) {
		const struct listener *listener = &candidates->host->listeners[i];
		int score;

		if (listener->protocol != candidates->protocol || listener->port != candidates->port)
			continue;
		score = match_score(listener, client);
		if (score < 0 || score < best_score)
			continue;
		if (score > best_score || !in_owner_group(listener, owner)) {
			best = (long)i;
			best_score = score;
		}
	}
	return best;
}

/* Why one kind of client is not delivered, and what to do; empty when it
 * is. Kinds with the same reason and fix share one problem line. */
struct refusal {
	char reason[TEXT_SIZE * 2];
	char fix[TEXT_SIZE];
};

static void append(char *buffer, size_t size, const char *format, ...) __attribute__((format(printf, 3, 4)));
static void append(char *buffer, size_t size, const char *format, ...)
{
	size_t used = strlen(buffer);
	va_list arguments;

	if (used >= size - 1)
		return;
	va_start(arguments, format);
	vsnprintf(buffer + used, size - used, format, arguments);
	va_end(arguments);
}

/* "127.0.0.1", "[::] (IPv6 only)", "[::] on eth0". */
static void listener_place(const struct host *host, const struct listener *listener, char *buffer, size_t size)
{
	char address[HOST_ADDRESS_TEXT_SIZE];
	const struct interface *interface;

	host_address_text(listener->family, listener->address, address, sizeof(address));
	snprintf(buffer, size, listener->family == AF_INET6 ? "[%s]" : "%s", address);
	if (listener->interface) {
		interface = host_find_interface(host, listener->interface);
		if (interface && interface->name[0])
			append(buffer, size, " on %s", interface->name);
		else
			append(buffer, size, " on interface %u", listener->interface);
	}
	/* The kernel makes every socket bound to one IPv6 address IPv6-only:
	 * the option says something of the wildcard only. */
	if (listener->family == AF_INET6 && listener->ipv6_only && host_address_is_any(AF_INET6, listener->address))
		append(buffer, size, " (IPV6_V6ONLY)");
}

/* "127.0.0.1 and [::1]": the distinct places of the counting listeners. */
static void listener_places(const struct host *host, const struct mapping_report *mapping, char *buffer,
			    size_t size)
{
	char places[8][HOST_ADDRESS_TEXT_SIZE + 48];
	size_t count = 0;

	for (size_t i = 0; i < mapping->listener_count && count < 8; i++) {
		bool seen = false;

		listener_place(host, &host->listeners[mapping->listeners[i]], places[count], sizeof(places[count]));
		for (size_t j = 0; j < count; j++)
			seen |= !strcmp(places[j], places[count]);
		if (!seen)
			count++;
	}
	buffer[0] = '\0';
	for (size_t i = 0; i < count; i++)
		append(buffer, size, "%s%s", i == 0 ? "" : i + 1 == count ? " and " : ", ", places[i]);
}

void status_listener_text(const struct host *host, const struct listener *listener, char *buffer, size_t size)
{
	char endpoint[HOST_ADDRESS_TEXT_SIZE];
	const struct interface *interface;

	host_endpoint_text(listener->family, listener->address, listener->port, endpoint, sizeof(endpoint));
	snprintf(buffer, size, "%s", endpoint);
	if (listener->interface) {
		interface = host_find_interface(host, listener->interface);
		if (interface && interface->name[0])
			append(buffer, size, " on %s", interface->name);
		else
			append(buffer, size, " on interface %u", listener->interface);
	}
	if (listener->family == AF_INET6 && listener->ipv6_only && host_address_is_any(AF_INET6, listener->address))
		append(buffer, size, " IPv6 only");
	append(buffer, size, " (");
	if (listener->pid)
		append(buffer, size, "%s, pid %d, ", listener->process, listener->pid);
	if (listener->user)
		append(buffer, size, "user %s", listener->user);
	else
		append(buffer, size, "uid %u", listener->uid);
	if (!listener->pid)
		append(buffer, size, ", process not visible");
	append(buffer, size, ")");
}

static bool has_specific_listener(const struct host *host, const struct mapping_report *mapping, int family)
{
	for (size_t i = 0; i < mapping->listener_count; i++) {
		const struct listener *listener = &host->listeners[mapping->listeners[i]];

		if (listener->family == family && !host_address_is_any(family, listener->address) &&
		    memcmp(listener->address, family == AF_INET ? loopback_ipv4 : loopback_ipv6,
			   family == AF_INET ? 4 : 16))
			return true;
	}
	return false;
}

static bool has_ipv6_only_wildcard(const struct host *host, const struct mapping_report *mapping)
{
	for (size_t i = 0; i < mapping->listener_count; i++) {
		const struct listener *listener = &host->listeners[mapping->listeners[i]];

		if (listener->family == AF_INET6 && listener->ipv6_only &&
		    host_address_is_any(AF_INET6, listener->address))
			return true;
	}
	return false;
}

/* Whether the mapping's scope takes a kind of client: a family only its
 * own, an interface only remote clients (a local client's packets pass
 * the output hook, where no interface is the input one). */
static bool scope_takes(const struct scope *scope, enum client_kind kind)
{
	if (scope->family && scope->family != (kind_is_ipv6(kind) ? 6 : 4))
		return false;
	return scope->kind != SCOPE_IIF || kind_is_remote(kind);
}

/* The host's address an address scope names, or NULL when it has none
 * such. */
static const struct host_address *scope_address(const struct host *host, const struct scope *scope)
{
	return host_find_address(host, scope->family == 4 ? AF_INET : AF_INET6, scope->address);
}

/* The interfaces remote clients of the scope arrive on: the named one
 * for an interface scope, the one that holds the address (on, from
 * scope_address()) for an address scope, as most hosts route it; any for
 * the others. */
static bool scope_interface(const struct scope *scope, const struct host_address *on, const struct interface *interface)
{
	if (scope->kind == SCOPE_IIF)
		return !strncmp(interface->name, scope->iif, sizeof(interface->name));
	if (scope->kind == SCOPE_ON)
		return on && on->interface == interface->index;
	return true;
}

/* The clients of one kind: one per interface they may arrive on. */
static size_t clients_of_kind(const struct host *host, const struct scope *scope, enum client_kind kind,
			      struct client *clients, const struct interface **interfaces, size_t capacity)
{
	int family = kind_is_ipv6(kind) ? AF_INET6 : AF_INET;
	const struct interface *loopback = host_loopback(host);
	const struct host_address *on = scope->kind == SCOPE_ON ? scope_address(host, scope) : NULL;
	size_t count = 0;

	if (!kind_is_remote(kind)) {
		clients[0] = (struct client){ family, family == AF_INET ? loopback_ipv4 : loopback_ipv6,
					      loopback ? loopback->index : 0 };
		interfaces[0] = loopback;
		return 1;
	}
	for (size_t i = 0; i < host->interface_count && count < capacity; i++) {
		const struct interface *interface = &host->interfaces[i];
		bool has = family == AF_INET ? interface->has_ipv4 : interface->has_ipv6;

		if (!interface->up || interface->loopback || !has || !scope_interface(scope, on, interface))
			continue;
		clients[count] = (struct client){ family, family == AF_INET ? interface->ipv4 : interface->ipv6,
						  interface->index };
		interfaces[count++] = interface;
	}
	/* No interface to arrive on: what any remote client would get. */
	if (!count) {
		clients[0] = (struct client){ family, NULL, 0 };
		interfaces[0] = NULL;
		count = 1;
	}
	return count;
}

/* Why no traffic arrives for the scope at all (an absent address or
 * interface): a problem line, and nothing to check further. Addresses and
 * interfaces come and go, so apply accepts them absent. */
static int scope_problem(const struct host *host, struct mapping_report *mapping, bool *ret_absent)
{
	const struct scope *scope = &mapping->scope;
	const struct interface *interface;
	char text[SCOPE_TEXT_MAX], name[SCOPE_IFNAME_SIZE];

	*ret_absent = false;
	if (scope->kind == SCOPE_ON) {
		if (scope_address(host, scope))
			return 0;
		*ret_absent = true;
		scope_text(scope, text);
		return status_mapping_problem(mapping, "no traffic arrives for port %u%s: %s is not an address of this host; add it, or change the on clause",
					      mapping->port, text, text + 4);
	}
	if (scope->kind != SCOPE_IIF)
		return 0;
	scope_iif_name(scope, name);
	interface = host_find_interface_named(host, name);
	if (interface && interface->up)
		return 0;
	*ret_absent = true;
	if (!interface)
		return status_mapping_problem(mapping, "no traffic arrives for port %u on %s: no interface has that name; create it, or change the iif clause",
					      mapping->port, name);
	return status_mapping_problem(mapping, "no traffic arrives for port %u on %s: the interface is down; bring it up (ip link set %s up)",
				      mapping->port, name, name);
}

#define MAX_CLIENTS 64

/* Whether the kind is delivered; if not, why (refusal filled in). */
static bool kind_delivered(const struct status_input *input, const struct mapping_report *mapping,
			   enum client_kind kind, struct refusal *refusal)
{
	const struct host *host = input->host;
	const struct candidates candidates = { host, mapping->protocol, mapping->target };
	struct client clients[MAX_CLIENTS];
	const struct interface *interfaces[MAX_CLIENTS];
	size_t count = clients_of_kind(host, &mapping->scope, kind, clients, interfaces, MAX_CLIENTS);
	int family = kind_is_ipv6(kind) ? AF_INET6 : AF_INET;
	char places[TEXT_SIZE], redirected[TEXT_SIZE] = "", text[TEXT_SIZE];
	long foreign = -1;
	bool delivered = true;

	for (size_t i = 0; i < count; i++) {
		long best = best_listener(&candidates, &clients[i], mapping->owner);
		char address[HOST_ADDRESS_TEXT_SIZE];

		if (best >= 0 && in_owner_group(&host->listeners[best], mapping->owner))
			continue;
		delivered = false;
		if (best >= 0 && foreign < 0)
			foreign = best;
		if (kind_is_remote(kind) && interfaces[i]) {
			host_endpoint_text(family, clients[i].address, mapping->target, address, sizeof(address));
			append(redirected, sizeof(redirected), "%s%s to %s", redirected[0] ? ", " : "",
			       interfaces[i]->name, address);
		}
	}
	if (delivered)
		return true;
	if (foreign >= 0) {
		status_listener_text(host, &host->listeners[foreign], text, sizeof(text));
		snprintf(refusal->reason, sizeof(refusal->reason), "they would reach %s, outside %s's control group",
			 text, mapping->owner->name);
		snprintf(refusal->fix, sizeof(refusal->fix), "stop that process, or run it in %s",
			 mapping->owner->name);
		return false;
	}
	if (!mapping->listener_count) {
		snprintf(refusal->reason, sizeof(refusal->reason), "nothing listens on %u", mapping->target);
		snprintf(refusal->fix, sizeof(refusal->fix), "start the service on [::]:%u", mapping->target);
		return false;
	}
	listener_places(host, mapping, places, sizeof(places));
	snprintf(refusal->reason, sizeof(refusal->reason), "%u listens on %s only", mapping->target, places);
	/* Where the redirect sends them matters once a socket is bound to a
	 * specific address: the address must be the interface's first. */
	if (kind_is_remote(kind) && redirected[0] && has_specific_listener(host, mapping, family))
		append(refusal->reason, sizeof(refusal->reason), ", and the redirect sends those arriving on %s",
		       redirected);
	if (!kind_is_ipv6(kind) && has_ipv6_only_wildcard(host, mapping))
		snprintf(refusal->fix, sizeof(refusal->fix), "listen on [::]:%u without IPV6_V6ONLY, or on 0.0.0.0:%u too",
			 mapping->target, mapping->target);
	else
		snprintf(refusal->fix, sizeof(refusal->fix), "listen on [::]:%u", mapping->target);
	return false;
}

static bool same_refusal(const struct refusal *a, const struct refusal *b)
{
	return !strcmp(a->reason, b->reason) && !strcmp(a->fix, b->fix);
}

/* The clients a problem line names, grouped as people say it: all,
 * remote, IPv4 or IPv6, local, then one kind. */
static const struct {
	const char *who;
	unsigned int kinds;
} client_groups[] = {
	{ "clients", 0xf },
	{ "remote clients", 1u << CLIENT_REMOTE_IPV4 | 1u << CLIENT_REMOTE_IPV6 },
	{ "IPv4 clients", 1u << CLIENT_REMOTE_IPV4 | 1u << CLIENT_LOCAL_IPV4 },
	{ "IPv6 clients", 1u << CLIENT_REMOTE_IPV6 | 1u << CLIENT_LOCAL_IPV6 },
	{ "local clients", 1u << CLIENT_LOCAL_IPV4 | 1u << CLIENT_LOCAL_IPV6 },
	{ "remote IPv4 clients", 1u << CLIENT_REMOTE_IPV4 },
	{ "remote IPv6 clients", 1u << CLIENT_REMOTE_IPV6 },
	{ "local IPv4 clients", 1u << CLIENT_LOCAL_IPV4 },
	{ "local IPv6 clients", 1u << CLIENT_LOCAL_IPV6 },
};

static int refusal_problems(struct mapping_report *mapping, const struct refusal *refusals, unsigned int refused)
{
	for (size_t g = 0; g < sizeof(client_groups) / sizeof(client_groups[0]) && refused; g++) {
		unsigned int kinds = client_groups[g].kinds;
		const struct refusal *first = NULL;
		bool same = true;
		int r;

		if ((refused & kinds) != kinds)
			continue;
		for (int k = 0; k < CLIENT_KIND_COUNT; k++) {
			if (!(kinds & (1u << k)))
				continue;
			if (!first)
				first = &refusals[k];
			else
				same &= same_refusal(first, &refusals[k]);
		}
		if (!same)
			continue;
		r = status_mapping_problem(mapping, "%s of port %u are refused: %s; %s", client_groups[g].who,
					   mapping->port, first->reason, first->fix);
		if (r < 0)
			return r;
		refused &= ~kinds;
	}
	return 0;
}

static int add_index(size_t **items, size_t *count, size_t index)
{
	size_t capacity = *count;

	/* Lists of a few sockets: growing by one is fine. */
	if (array_grow((void **)items, &capacity, *count + 1, sizeof(**items), 1) < 0)
		return -ENOMEM;
	(*items)[(*count)++] = index;
	return 0;
}

/* The kernel's redirect of the mapping's protocol, port and scope. The
 * kernel holds an interface scope without a family once per family, both
 * written together: the IPv4 one stands for them. */
static const struct redirect *find_applied(const struct mapping *applied, const struct mapping_report *mapping)
{
	struct redirect like = { .protocol = mapping->protocol, .scope = mapping->scope };

	if (!applied)
		return NULL;
	if (like.scope.kind == SCOPE_IIF && !like.scope.family)
		like.scope.family = 4;
	return mapping_find_like(applied, &like, mapping->port);
}

static int check_applied(const struct status_input *input, struct mapping_report *mapping)
{
	const struct redirect *applied;

	if (!input->table_exists || !input->applied)
		return status_mapping_problem(mapping, "not applied: run portredir apply");
	applied = find_applied(input->applied, mapping);
	if (!applied)
		return status_mapping_problem(mapping, "not applied: run portredir apply");
	if (applied->target != mapping->target)
		return status_mapping_problem(mapping, "the kernel redirects it to %u, not %u: run portredir apply",
					      applied->target, mapping->target);
	return 0;
}

static void count_traffic(const struct status_input *input, struct mapping_report *mapping)
{
	mapping->connections = -1;
	mapping->active = -1;
	const struct redirect *applied = find_applied(input->applied, mapping);

	/* The count is the port's, in all its scopes: it speaks for the
	 * mapping while the kernel redirects the port to the mapping's
	 * target. A port that saw no connection has no element yet. */
	if (input->counters_known && applied && applied->target == mapping->target)
		mapping->connections = 0;
	for (size_t i = 0; mapping->connections == 0 && i < input->counter_count; i++) {
		const struct element_counter *counter = &input->counters[i];

		if (counter->protocol == mapping->protocol && counter->port == mapping->port)
			mapping->connections = (int64_t)counter->packets;
	}
	if (!input->flows_known)
		return;
	mapping->active = 0;
	for (size_t i = 0; i < input->flow_count; i++) {
		const struct flow_count *flow = &input->flows[i];

		if (flow->protocol == mapping->protocol && flow->port == mapping->port &&
		    flow->target == mapping->target)
			mapping->active += flow->count;
	}
}

int status_analyze_listeners(const struct status_input *input, struct mapping_report *mapping)
{
	const struct host *host = input->host;
	struct refusal refusals[CLIENT_KIND_COUNT] = { 0 };
	unsigned int refused = 0;
	char text[TEXT_SIZE];
	bool absent;
	int r;

	r = check_applied(input, mapping);
	if (r < 0)
		return r;
	count_traffic(input, mapping);
	r = scope_problem(host, mapping, &absent);
	if (r < 0)
		return r;
	if (mapping->owner && !mapping->owner->cgroup) {
		r = status_mapping_problem(mapping, "clients of port %u are refused: %s has no control group (is it running?); start it",
					   mapping->port, mapping->owner->name);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < host->listener_count; i++) {
		const struct listener *listener = &host->listeners[i];

		if (listener->protocol != mapping->protocol)
			continue;
		if (listener->port == mapping->port)
			r = add_index(&mapping->shadowed, &mapping->shadowed_count, i);
		else if (listener->port != mapping->target)
			continue;
		else if (in_owner_group(listener, mapping->owner))
			r = add_index(&mapping->listeners, &mapping->listener_count, i);
		else if (mapping->owner->cgroup) {
			status_listener_text(host, listener, text, sizeof(text));
			r = status_mapping_problem(mapping, "%s is outside %s's control group: the connections the kernel would give it are refused; stop it",
						   text, mapping->owner->name);
		}
		if (r < 0)
			return r;
	}
	for (int k = 0; k < CLIENT_KIND_COUNT; k++) {
		mapping->in_scope[k] = scope_takes(&mapping->scope, (enum client_kind)k);
		if (!mapping->in_scope[k])
			continue;
		/* With no group to deliver to, or no address or interface for
		 * traffic to arrive at, nothing is; the lines above say why. */
		if ((mapping->owner && !mapping->owner->cgroup) || absent) {
			mapping->reachable[k] = false;
			continue;
		}
		mapping->reachable[k] = kind_delivered(input, mapping, (enum client_kind)k, &refusals[k]);
		if (!mapping->reachable[k])
			refused |= 1u << k;
	}
	r = refusal_problems(mapping, refusals, refused);
	if (r < 0)
		return r;
	for (size_t i = 0; i < mapping->shadowed_count; i++) {
		status_listener_text(host, &host->listeners[mapping->shadowed[i]], text, sizeof(text));
		r = status_mapping_problem(mapping, "%s is shadowed: the redirect sends its clients to %u; stop it, or remove this mapping",
					   text, mapping->target);
		if (r < 0)
			return r;
	}
	return 0;
}
