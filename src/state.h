/* What the kernel's managed table holds, as the kernel reader found it: the
 * mapping its maps encode, and which of its objects are missing or differ
 * from the contract's layout. Free of libnftnl, so the planner is pure. */
#ifndef STATE_H
#define STATE_H

#include <stdbool.h>
#include <stdint.h>
#include "mapping.h"

enum chain {
	CHAIN_PREROUTING,
	CHAIN_OUTPUT,
	CHAIN_COUNT
};

#define TABLE_FAMILY_NAME "inet"
#define TABLE_NAME "portredir"

/* Table flags (nf_tables.h's NFT_TABLE_F_*): watch --hold makes the table
 * owned by its socket, so that only it may change the table and flush
 * ruleset passes it by, and persistent, so that it outlives the process. */
#define TABLE_FLAG_OWNER 0x2u
#define TABLE_FLAG_PERSIST 0x4u


/* The maps of one protocol: the base map of unscoped redirects, and one
 * per kind of scope, which exists only while a redirect of the file
 * needs it. A map's index is kind * PROTOCOL_COUNT + protocol, so that
 * the base maps' indices are their protocols. */
enum map_kind {
	/* tcp_redirects: port : target. */
	MAP_PLAIN,
	/* tcp_family_redirects: nfproto . port : target ("ipv4", "ipv6"). */
	MAP_FAMILY,
	/* tcp_iif_redirects: nfproto . iifname . port : target. */
	MAP_IIF,
	/* tcp_on4_redirects: ip daddr . port : target. */
	MAP_ON4,
	/* tcp_on6_redirects: ip6 daddr . port : target. */
	MAP_ON6,
	MAP_KIND_COUNT
};

#define MAP_COUNT (MAP_KIND_COUNT * PROTOCOL_COUNT)

static inline unsigned int map_of(enum protocol protocol, enum map_kind kind)
{
	return (unsigned int)kind * PROTOCOL_COUNT + (unsigned int)protocol;
}

static inline enum protocol map_protocol(unsigned int map)
{
	return (enum protocol)(map % PROTOCOL_COUNT);
}

static inline enum map_kind map_kind(unsigned int map)
{
	return (enum map_kind)(map / PROTOCOL_COUNT);
}

/* The map a redirect's element is in. */
unsigned int redirect_map(const struct redirect *redirect);
/* The rules of a chain are one per map in use, in the order of
 * precedence: for each protocol, the address maps, the interface map
 * (prerouting only: local clients arrive on no interface), the family
 * map, the base map. Fills maps (MAP_COUNT entries) and returns their
 * number. in_use[MAP_COUNT]: which maps exist (the base maps always). */
size_t chain_rule_maps(enum chain chain, const bool *in_use, unsigned int *maps);

enum object_status {
	OBJECT_MISSING,
	OBJECT_OK,
	/* Present but not as the layout says: recreated by apply. */
	OBJECT_ALTERED
};

struct object_state {
	enum object_status status;
	/* Why it is altered, for the "~" change line. */
	char reason[64];
};

/* The decoders' verdicts on an object: altered keeps the first reason
 * found; found makes a missing object present, and leaves one an earlier
 * message (which the kernel never sends, and a decoded dump may) found
 * altered as it is. */
void object_mark_altered(struct object_state *object, const char *reason);
void object_mark_found(struct object_state *object);

/* The owner gate's chains: the base chain on the input hook, and the one
 * its rules jump to. */
enum gate_chain {
	GATE_CHAIN_INPUT,
	GATE_CHAIN_OWNER_CHECK,
	GATE_CHAIN_COUNT
};

/* An element of tcp_owned or udp_owned: an owned port, and its owner as
 * the element's comment records it. */
struct owned_port {
	enum protocol protocol;
	uint16_t port;
	const struct owner *owner;
};

/* An element of tcp_owners or udp_owners: a port and the ID of a group
 * whose sockets may receive its traffic. */
struct owner_element {
	enum protocol protocol;
	uint16_t port;
	uint64_t id;
};

/* Both sort on (protocol, port[, id]), as the planner merges them. */
int owned_port_compare(const struct owned_port *a, const struct owned_port *b);
int owner_element_compare(const struct owner_element *a, const struct owner_element *b);

/* The levels of owner_check's accept rules, one bit each (bit L: level
 * L); the deepest is cgroup.h's CGROUP_MAX_LEVEL. */
typedef uint64_t level_set;

struct table_state {
	bool table_exists;
	/* Set when something is in the table that only recreating the whole
	 * table can clear (a foreign chain, set or stateful object), or the
	 * table itself differs (flags). */
	struct object_state table;
	/* A scoped map that is OBJECT_MISSING is only not in use. */
	struct object_state maps[MAP_COUNT];
	/* The sets the rules count redirected connections in. */
	struct object_state count_sets[PROTOCOL_COUNT];
	struct object_state chains[CHAIN_COUNT];
	/* The elements of the maps that are OBJECT_OK, as redirects, with the
	 * owners the owned sets record (which the state's mapping holds). */
	struct mapping *mapping;

	/* The owner gate: its sets, chains and, of the sets that are
	 * OBJECT_OK, the elements; the levels owner_check's accept rules
	 * serve, when it is OBJECT_OK. */
	struct object_state owned_sets[PROTOCOL_COUNT];
	struct object_state owner_sets[PROTOCOL_COUNT];
	struct object_state gate_chains[GATE_CHAIN_COUNT];
	level_set owner_levels;
	struct owned_port *owned;
	size_t owned_count;
	struct owner_element *owner_elements;
	size_t owner_element_count;
	/* The table's flags and, when owned, the owning netlink port. */
	uint32_t table_flags;
	uint32_t table_owner;

	/* The generation the dumps were taken at; the batch is bound to it. */
	uint32_t generation;

	/* Kept in the table's userdata: a random number chosen when portredir
	 * created the table (0: none, e.g. a table nft made). With the
	 * generation it names what the maps held at a moment (cache.h). */
	uint64_t table_id;
	/* The elements were not dumped: they were recorded at this very
	 * generation, by a run that read or committed them. */
	bool elements_cached;

	/* Kept in the table's userdata: the value net.ipv4.
	 * ip_unprivileged_port_start had before portredir first changed it,
	 * present only if portredir changed it. */
	bool has_original_port_start;
	unsigned int original_port_start;
};

const char *chain_name(enum chain chain);
const char *map_name(unsigned int map);
const char *count_set_name(enum protocol protocol);

/* The owner gate (mapping.h's owners): the input chain, the chain it jumps
 * to, the set of each protocol's owned ports and the set of those ports
 * with their owners' groups. */
#define INPUT_CHAIN_NAME "input"
#define OWNER_CHECK_CHAIN_NAME "owner_check"
const char *gate_chain_name(enum gate_chain chain);
const char *owned_set_name(enum protocol protocol);
const char *owner_set_name(enum protocol protocol);

struct table_state *table_state_new(void);
void table_state_free(struct table_state *state);

#endif
