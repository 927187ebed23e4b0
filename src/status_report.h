/* What `portredir status` found, as data: built by the pure analysis
 * (status_reach.c for listeners and clients, status_conflicts.c for the
 * rest of the ruleset) from what the kernel and /proc showed, and printed
 * by status.c as text or JSON. No I/O here. */
#ifndef STATUS_REPORT_H
#define STATUS_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "host.h"
#include "mapping.h"
#include "ruleset.h"

/* The clients the kernel's redirect treats differently: remote ones are
 * sent to the first address of the interface they arrived on, local ones
 * (output hook) to 127.0.0.1 or ::1. */
enum client_kind {
	CLIENT_REMOTE_IPV4,
	CLIENT_REMOTE_IPV6,
	CLIENT_LOCAL_IPV4,
	CLIENT_LOCAL_IPV6,
	CLIENT_KIND_COUNT
};

/* "remote_ipv4", ...: the JSON names. */
const char *client_kind_name(enum client_kind kind);

/* The owner of a mapping (the owners clause, "for nginx.service"): only
 * sockets in its control group, or below, receive the mapping's traffic.
 * This is the seam the owners feature fills in; without it every mapping
 * is unowned. */
struct status_owner {
	/* As the mapping names it: "nginx.service", "cgroup /web". */
	const char *name;
	/* The group's path from the cgroup v2 root, or NULL when the group
	 * does not exist (the service is stopped). */
	const char *cgroup;
};

struct mapping_report {
	enum protocol protocol;
	uint16_t port;
	uint16_t target;
	/* The traffic it takes (mapping.h): the kinds of client outside it
	 * are not its own (in_scope false; JSON null). */
	struct scope scope;
	bool in_scope[CLIENT_KIND_COUNT];
	/* Other mappings of the file have the same protocol and port (in
	 * other scopes): connections counts them all. */
	bool port_shared;
	const struct status_owner *owner;
	/* Indices into the host's listeners: those on the target (that count
	 * for the owner), and those on the port itself, which the redirect
	 * takes traffic from. */
	size_t *listeners;
	size_t listener_count;
	size_t *shadowed;
	size_t shadowed_count;
	bool reachable[CLIENT_KIND_COUNT];
	/* -1 where not known (not applied, counters not readable). */
	int64_t connections;
	int64_t active;
	char **problems;
	size_t problem_count;
	size_t problem_capacity;
};

struct conflict {
	/* "nat" or "filter". */
	const char *kind;
	/* "ip nat", as nft names a table: family and name. */
	char *table;
	char *chain;
	char *reason;
};

struct status_report {
	struct mapping_report *mappings;
	size_t mapping_count;
	struct conflict *conflicts;
	size_t conflict_count;
	size_t conflict_capacity;
	/* Problems of the whole (the table, the sysctl), in print order. */
	char **problems;
	size_t problem_count;
	size_t problem_capacity;
	bool has_declared_port_start;
	unsigned int declared_port_start;
	bool has_current_port_start;
	unsigned int current_port_start;
};

/* What the analysis reads. NULL pointers mean "not read". */
struct status_input {
	const struct mapping *desired;
	/* One per desired redirect, or NULL for all unowned. */
	const struct status_owner *const *owners;
	const struct host *host;
	bool table_exists;
	/* The kernel's redirects, when the table exists. */
	const struct mapping *applied;
	/* The count sets' elements, sorted by protocol and port; unknown
	 * when the table has no count sets (made before them). */
	bool counters_known;
	const struct element_counter *counters;
	size_t counter_count;
	/* Redirected connections open now, when conntrack was read. */
	bool flows_known;
	const struct flow_count *flows;
	size_t flow_count;
	/* Other tables' chains; NULL when not read. */
	const struct ruleset *ruleset;
	/* Changes apply would make to the table, not counting the sysctl. */
	size_t table_changes;
	bool has_current_port_start;
	unsigned int current_port_start;
};

/* Builds the report; returns 0 or -ENOMEM. */
int status_analyze(const struct status_input *input, struct status_report **ret_report);
void status_report_free(struct status_report *report);
bool status_report_healthy(const struct status_report *report);

/* Used by the two halves of the analysis. */
int status_add_problem(char ***problems, size_t *count, size_t *capacity, const char *format, ...)
	__attribute__((format(printf, 4, 5)));
int status_mapping_problem(struct mapping_report *mapping, const char *format, ...)
	__attribute__((format(printf, 2, 3)));

/* The listeners' part: who listens on each mapping's target and port,
 * which clients are delivered, and the problem lines about them. */
int status_analyze_listeners(const struct status_input *input, struct mapping_report *mapping);
/* A listener as people read it: "[::]:8080 (python3, pid 812, user
 * nobody)", or "(user nobody; process not visible)". */
void status_listener_text(const struct host *host, const struct listener *listener, char *buffer,
			  size_t size);
/* The conflicts of the ruleset, and the problem lines they mean for each
 * mapping. */
int status_analyze_conflicts(const struct status_input *input, struct status_report *report);

#endif
