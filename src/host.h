/* What status sees of the host outside the managed table, as plain data:
 * the sockets that receive traffic (listeners), the interfaces' addresses
 * the kernel's redirect sends clients to, the redirected connections open
 * now, and the counters of the maps. Free of netlink, so the analysis that
 * reads it is pure. */
#ifndef HOST_H
#define HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mapping.h"

/* "[2001:db8:ffff:ffff:ffff:ffff:255.255.255.255]:65535" and a NUL. */
#define HOST_ADDRESS_TEXT_SIZE 56
#define HOST_PROCESS_NAME_SIZE 16
#define HOST_INTERFACE_NAME_SIZE 16

/* A TCP socket in LISTEN state or an unconnected bound UDP socket. */
struct listener {
	enum protocol protocol;
	/* AF_INET or AF_INET6; address in network byte order, the first 4
	 * bytes for AF_INET. */
	int family;
	uint8_t address[16];
	uint16_t port;
	/* IPV6_V6ONLY (AF_INET6 only): no IPv4 client reaches it. */
	bool ipv6_only;
	/* SO_BINDTODEVICE's interface index; 0 for any. */
	uint32_t interface;
	uint32_t uid;
	uint64_t inode;
	/* The cgroup v2 id of the socket (its creator's group); 0 unknown. */
	uint64_t cgroup_id;

	/* Filled in from /proc and the user database, where visible. */
	int pid; /* 0: not visible */
	char process[HOST_PROCESS_NAME_SIZE];
	char *user; /* NULL: the uid has no name */
	char *cgroup; /* from the hierarchy's root; NULL: unknown */
};

/* An interface and the addresses the kernel's redirect uses for clients
 * arriving on it: the first IPv4 address (the primary), and the first
 * IPv6 address of global scope that is neither tentative nor v4-mapped
 * (what clients addressing a global address are sent to). */
struct interface {
	uint32_t index;
	char name[HOST_INTERFACE_NAME_SIZE];
	bool up;
	bool loopback;
	bool has_ipv4;
	uint8_t ipv4[4];
	bool has_ipv6;
	uint8_t ipv6[16];
};

/* An address of this host, any of an interface's (what `on ADDRESS`
 * scopes are checked against). */
struct host_address {
	int family;
	uint8_t address[16];
	uint32_t interface;
};

/* Redirected connections (TCP, established) or flows (UDP, any tracked)
 * open now, by original destination port and the target the reply comes
 * from: conntrack entries with DNAT status. */
struct flow_count {
	enum protocol protocol;
	uint16_t port;
	uint16_t target;
	uint32_t count;
};

/* An element of a count set: the new connections or flows redirected
 * from the port since the set was made (with the table). */
struct element_counter {
	enum protocol protocol;
	uint16_t port;
	uint64_t packets;
};

struct host {
	struct listener *listeners;
	size_t listener_count;
	size_t listener_capacity;

	struct interface *interfaces;
	size_t interface_count;
	size_t interface_capacity;
	struct host_address *addresses;
	size_t address_count;
	size_t address_capacity;

	/* Some processes' descriptors could not be read (another user's,
	 * without root): listeners of theirs have no pid. A socket no
	 * process shows (one of another PID namespace) has none either. */
	bool processes_hidden;
};

struct host *host_new(void);
void host_free(struct host *host);
/* Copies listener (user and cgroup must be NULL: they are set later). */
int host_add_listener(struct host *host, const struct listener *listener);
/* Returns the interface of that index, creating it (all zero but the
 * index) when it is new; NULL when out of memory. */
struct interface *host_interface(struct host *host, uint32_t index);
const struct interface *host_find_interface(const struct host *host, uint32_t index);
/* By name: NULL when no interface has it. */
const struct interface *host_find_interface_named(const struct host *host, const char *name);
int host_add_address(struct host *host, const struct host_address *address);
/* The address (4 or 16 bytes, by family), or NULL when the host has none
 * such. */
const struct host_address *host_find_address(const struct host *host, int family, const uint8_t *address);
/* The loopback interface, or NULL. */
const struct interface *host_loopback(const struct host *host);

/* "127.0.0.1", "::", "::ffff:198.18.0.1". */
void host_address_text(int family, const uint8_t *address, char *buffer, size_t size);
/* "127.0.0.1:8080", "[::]:8080". */
void host_endpoint_text(int family, const uint8_t *address, uint16_t port, char *buffer, size_t size);
bool host_address_is_any(int family, const uint8_t *address);

#endif
