/* The desired-state model: the redirects a mapping file declares, or the
 * kernel's managed table holds, their owners, and the
 * unprivileged_port_start value. */
#ifndef MAPPING_H
#define MAPPING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum protocol {
	PROTOCOL_TCP,
	PROTOCOL_UDP,
	PROTOCOL_COUNT
};

/* Where a directive came from. file points at a string owned by the
 * mapping's file list, so locations stay valid as long as the mapping. A
 * line of 0 means "the whole file"; a file of NULL means "not from a file"
 * (the kernel). */
struct location {
	const char *file;
	unsigned int line;
	unsigned int column;
};

enum owner_kind {
	/* "for nginx.service": a systemd unit, found by name. */
	OWNER_UNIT,
	/* "for cgroup /system.slice/web.service": a cgroup v2 path. */
	OWNER_CGROUP,
};

/* An owner clause: only sockets in the owner's control group, or in one
 * below it, receive the redirect's traffic. Owned by the mapping, which
 * keeps one copy of each distinct owner (mapping_intern_owner()). */
struct owner {
	enum owner_kind kind;
	/* The unit name, or the path from the hierarchy's root ("/a/b"). */
	char *name;
	/* Its place in mapping->owners. */
	size_t index;
};

/* The owner as the clause after "for" writes it: "nginx.service" or
 * "cgroup /system.slice/web.service". Also how the kernel's table records
 * it (an element comment), so it is bounded: nft refuses longer comments. */
#define OWNER_TEXT_MAX 128
#define OWNER_CGROUP_PREFIX "cgroup "

/* Which traffic to a port a redirect takes, from the least specific to
 * the most: a packet is redirected by the most specific one for its
 * protocol and port. */
enum scope_kind {
	SCOPE_NONE,
	/* "ipv4" or "ipv6" alone. */
	SCOPE_FAMILY,
	/* "iif NAME": arriving on that interface (remote clients only). */
	SCOPE_IIF,
	/* "on ADDRESS": addressed to that address of this host. */
	SCOPE_ON,
};

/* The longest interface name and its NUL (the kernel's IFNAMSIZ). */
#define SCOPE_IFNAME_SIZE 16

/* 18 bytes, kept in struct redirect itself: scopes are few, but the
 * planner compares them for every redirect. */
struct scope {
	uint8_t kind;
	/* 0 (both), 4 or 6; an address's own family for SCOPE_ON. */
	uint8_t family;
	union {
		/* SCOPE_ON: 4 bytes (IPv4) or 16, in network order, zero
		 * padded. */
		uint8_t address[16];
		/* SCOPE_IIF: NUL-padded, at most 15 characters. */
		char iif[SCOPE_IFNAME_SIZE];
	};
};

/* The longest text scope_text() writes: " on " and an IPv6 address, or
 * " iif " NAME " ipv6", and a NUL. */
#define SCOPE_TEXT_MAX 64

/* 56 bytes: a mapping can hold all 2 x 65,535 redirects, twice when the
 * kernel's copy is compared, so the token positions are kept as columns of
 * the directive's line (lines are at most a few KiB long). */
struct redirect {
	enum protocol protocol;
	uint16_t port;
	uint16_t target;
	uint16_t port_column;
	uint16_t target_column;
	/* Where the scope's first clause is (0: unscoped, or the kernel's). */
	uint16_t scope_column;
	struct scope scope;
	/* The `redirect` keyword; the file is NULL for the kernel's. */
	struct location location;
	/* NULL: anyone who binds the target receives the traffic. */
	const struct owner *owner;
};

struct mapping {
	bool has_unprivileged_port_start;
	unsigned int unprivileged_port_start;
	struct location unprivileged_port_start_location;

	/* A flat array: a mapping can hold all 2 x 65,535 redirects, and one
	 * allocation serves them all. Sorted by mapping_sort(). */
	struct redirect *redirects;
	size_t redirect_count;
	size_t redirect_capacity;

	char **files;
	size_t file_count;
	size_t file_capacity;

	/* Every distinct owner the redirects name, in the order first seen,
	 * and an open-addressing index over them (owner_slots entries, a
	 * power of two, 0 meaning empty and i + 1 naming owners[i]). */
	struct owner **owners;
	size_t owner_count;
	size_t owner_capacity;
	size_t *owner_index;
	size_t owner_slots;
};

const char *protocol_name(enum protocol protocol);
int protocol_from_name(const char *name, size_t length, enum protocol *ret_protocol);

struct mapping *mapping_new(void);
void mapping_free(struct mapping *mapping);

/* Returns the stored copy of path, to be used in locations. */
const char *mapping_add_file(struct mapping *mapping, const char *path);
int mapping_add_redirect(struct mapping *mapping, const struct redirect *redirect);
/* The mapping's copy of the owner (kind, name[0..length)): the one it
 * holds already, or a new one. NULL when out of memory. */
const struct owner *mapping_intern_owner(struct mapping *mapping, enum owner_kind kind, const char *name,
					 size_t length);
/* Writes the owner as the clause after "for" writes it (OWNER_TEXT_MAX
 * bytes and a NUL fit); returns its length, as snprintf() does. */
int owner_text(const struct owner *owner, char *buffer, size_t size);
/* Reads that text back into an owner of the mapping. Returns 0, -EINVAL
 * for text that is no owner's (empty, "cgroup " alone, a NUL inside), or
 * -ENOMEM. */
int mapping_intern_owner_text(struct mapping *mapping, const char *text, size_t length,
			      const struct owner **ret_owner);
/* Whether two redirects name the same owner (or both none). */
bool owner_equal(const struct owner *a, const struct owner *b);
/* Room for capacity redirects in all, when their number is known. */
int mapping_reserve(struct mapping *mapping, size_t capacity);

/* The scope as clauses write it, with a leading space: " on 198.51.100.7",
 * " iif eth1 ipv6", " ipv4", or "" for none. Interface names are written
 * as they are: the caller escapes them for a terminal. */
void scope_text(const struct scope *scope, char buffer[SCOPE_TEXT_MAX]);
/* An interface scope's name as a string, cut to the kernel's limit. */
void scope_iif_name(const struct scope *scope, char buffer[SCOPE_IFNAME_SIZE]);
int scope_compare(const struct scope *a, const struct scope *b);

/* Sorts redirects by (protocol, port, scope), the canonical order of the normalized
 * form, of the kernel maps and of the planner's merge. Stable, so that of two
 * duplicates the first declared stays first. */
void mapping_sort(struct mapping *mapping);
int redirect_compare(const struct redirect *a, const struct redirect *b);
/* Where the PORT and TARGET tokens of a redirect read from a file are. */
struct location redirect_port_location(const struct redirect *redirect);
struct location redirect_target_location(const struct redirect *redirect);

/* Binary search in a sorted mapping, for the unscoped redirect. */
const struct redirect *mapping_find(const struct mapping *mapping, enum protocol protocol, uint16_t port);
/* The index of the first redirect of protocol and port in any scope (or
 * where it would be); the others follow it. */
size_t mapping_first_of_port(const struct mapping *mapping, enum protocol protocol, uint16_t port);
/* The first redirect of protocol and port in any scope, or NULL: what
 * the owner gate, which works per port, looks at. */
const struct redirect *mapping_find_port(const struct mapping *mapping, enum protocol protocol, uint16_t port);
/* The redirect of the same protocol and scope as like, for port. */
const struct redirect *mapping_find_like(const struct mapping *mapping, const struct redirect *like, uint16_t port);

/* The kernel's form of a mapping: an interface scope without a family is
 * held once for each family (where the mapping has no redirect of that
 * family's own for the same interface and port, which is more specific).
 * *ret_form is NULL when it is the mapping itself, else a new mapping,
 * sorted, whose owners are the mapping's (it must outlive the form).
 * Returns 0 or -ENOMEM. */
int mapping_kernel_form(const struct mapping *mapping, struct mapping **ret_form);
/* The inverse, for printing: an interface scope's ipv4 and ipv6 halves
 * with the same target and owner are one redirect without a family
 * again. NULL when there are none, as above. */
int mapping_joined_form(const struct mapping *mapping, struct mapping **ret_form);

#endif
