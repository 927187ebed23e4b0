/* The kernel layer's readers for status (and the warnings of apply and
 * flush): the socket table (NETLINK_SOCK_DIAG), the interfaces and their
 * addresses (NETLINK_ROUTE), the redirected connections conntrack holds
 * (ctnetlink), and from nf_tables the maps' element counters and other
 * tables' chains and rules. Like the rest of the kernel layer they never
 * print and return 0 or -errno. */
#ifndef KERNEL_HOST_H
#define KERNEL_HOST_H

#include <stddef.h>
#include <stdint.h>
#include "host.h"
#include "ruleset.h"

struct kernel;
struct nlmsghdr;

/* TCP sockets in LISTEN state and unconnected UDP sockets, IPv4 and IPv6:
 * one dump per protocol and family. Only sockets whose local port is
 * wanted (wanted[port], 65,536 entries; NULL for all) are kept. */
int kernel_read_listeners(struct host *host, const bool *wanted);
/* Every interface, up or not, and its first addresses (host.h). */
int kernel_read_interfaces(struct host *host);

/* Conntrack entries with DNAT status: TCP ones in the established state,
 * UDP ones whatever theirs, counted by protocol, original destination
 * port and the port the replies come from. */
int kernel_read_redirected_flows(struct flow_count **ret_flows, size_t *ret_count);
/* One ctnetlink message of a dump: whether it is such a flow, and which.
 * Pure, for the tests. Returns 1 for a counted flow, 0 for another entry,
 * -EBADMSG for a malformed message. */
int kernel_decode_flow(const struct nlmsghdr *nlh, struct flow_count *ret_flow);

/* The elements of the managed table's count sets (the new connections
 * or flows redirected from each port), sorted by protocol and port. The
 * caller knows the sets exist (table_state's count_sets). */
int kernel_read_counters(struct kernel *kernel, struct element_counter **ret_counters, size_t *ret_count);

/* Every base chain of the ruleset outside table inet portredir, with the
 * rules of the tables that have NAT or input filter chains (and of the
 * chains those jump to) summarised (ruleset.h). */
int kernel_read_ruleset(struct kernel *kernel, struct ruleset **ret_ruleset);

#endif
