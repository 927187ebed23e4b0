/* Shared by the kernel layer's files only: the socket, dumps and batches
 * (kernel.c), messages checked and named (kernel_message.c), the decoder
 * (kernel_decoder.c) and the layout's objects as libnftnl builds them
 * (kernel_layout.c), which both the reader and the writer need. */
#ifndef KERNEL_INTERNAL_H
#define KERNEL_INTERNAL_H

#include <stdio.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <stdbool.h>
#include "kernel.h"

/* Dump replies can be as large as the kernel's dump skb (up to 32 KiB on
 * big-page systems); a buffer this size never truncates one. */
#define KERNEL_RECEIVE_BUFFER_SIZE 65536
/* A GET request: a header and a name or two. (MNL_SOCKET_BUFFER_SIZE is
 * computed at run time, which would make the buffer a variable-length
 * array.) */
#define KERNEL_REQUEST_BUFFER_SIZE 8192

struct kernel {
	struct mnl_socket *socket;
	uint32_t port_id;
	uint32_t sequence;
	int send_buffer_size;
	char *receive_buffer;
	struct kernel_statistics statistics;
	const struct kernel_cache *cache;
};

/* Leaves the maps' elements in the cache, counting the outcome. */
void kernel_record_elements(struct kernel *kernel, uint64_t table_id, uint32_t generation,
			    const struct mapping *mapping);

/* Dumps: sends request (built with NLM_F_DUMP in kernel->receive_buffer is
 * not allowed; use a separate buffer) and runs callback on every reply.
 * Returns -EINTR when the kernel flagged the dump inconsistent
 * (NLM_F_DUMP_INTR) or -ENOBUFS when replies were lost: both mean "dump
 * again". A callback that returns MNL_CB_ERROR keeps its reason in its
 * data, where the caller looks first: kernel_dump() then returns
 * -ECANCELED, never errno. */
int kernel_dump(struct kernel *kernel, struct nlmsghdr *request, mnl_cb_t callback, void *data);
/* One dump request on a new socket of the given netlink protocol (not
 * nf_tables: sock_diag, rtnetlink, ctnetlink), callback run on every reply.
 * Sets the request's sequence number. Returns 0 or -errno. */
int kernel_dump_once(int protocol, struct nlmsghdr *request, mnl_cb_t callback, void *data);
uint32_t kernel_next_sequence(struct kernel *kernel);
/* Asks for a bigger socket buffer; the *FORCE variants pass wmem_max and
 * rmem_max but need CAP_NET_ADMIN in the initial namespace, so the plain
 * ones, which the kernel caps silently, are the fallback. */
int kernel_socket_set_buffer(struct mnl_socket *socket, int force_option, int option, int size);
/* Adds what another socket sent to this one's statistics. */
void kernel_add_statistics(struct kernel *kernel, const struct kernel *other);

/* The GET request the reader sends for the managed table's objects of one
 * kind (type NFT_MSG_GET*), built in buffer (KERNEL_REQUEST_BUFFER_SIZE bytes);
 * set_name names the map of an NFT_MSG_GETSETELEM dump. Never NULL. */
struct nlmsghdr *kernel_build_read_request(struct kernel *kernel, char *buffer, uint16_t type, uint16_t flags,
					   const char *set_name);

/* Messages checked before they are believed (kernel_message.c), on the
 * live path and in the decoder alike. */

/* Whether every message of buffer lies within it. libmnl 1.0.4 does not
 * check this well enough: mnl_nlmsg_ok() compares the length as an int,
 * so that a message claiming 2 GiB or more passes, and mnl_cb_run() then
 * walks off the buffer. The kernel sends no such thing; a recorded or
 * mutated dump may. */
bool kernel_messages_fit(const void *buffer, size_t length);

/* An error message (NLMSG_ERROR): its code, and the extended ack's text
 * and the offset of the attribute it points at, from the start of the
 * message acknowledged (NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS). message
 * points into the error message. */
struct kernel_ack {
	/* 0 for an acknowledgement, else -errno. */
	int error;
	const char *message;
	bool has_offset;
	uint32_t offset;
};
/* Returns 0, or -EBADMSG for an error message too short to hold its
 * code or with a code no errno has (INT_MIN, whose negation overflows). */
int kernel_parse_ack(const struct nlmsghdr *nlh, struct kernel_ack *ret_ack);

/* mnl_cb_run(), with every failure as the value returned rather than in
 * errno, which a callback returning MNL_CB_ERROR need not have set. Runs
 * callback (may be NULL) on every data message of buffer. Returns
 * MNL_CB_OK when more messages are to come, MNL_CB_STOP at the end
 * (NLMSG_DONE, an acknowledgement), or -errno: an error message's code
 * (checked, -EBADMSG for a malformed one), -ECANCELED when callback
 * returned MNL_CB_ERROR (it keeps its reason in its data), -EINTR for a
 * dump the kernel flagged inconsistent (NLM_F_DUMP_INTR), -ESRCH or
 * -EPROTO for a message of another port or sequence, -EBADMSG for
 * messages that do not fit the buffer (kernel_messages_fit()). */
int kernel_run_messages(const void *buffer, size_t length, uint32_t sequence, uint32_t port_id,
			mnl_cb_t callback, void *data);

/* Whether libnftnl 1.2.4 may be given a message of a dump of type
 * (NFT_MSG_GETSET, GETRULE, GETSETELEM) that holds attribute, at its top
 * level. It reads the name of every expression (of a rule, a set or an
 * element) without checking that there is one; and it stores each
 * element's attributes in an array of NFTA_SET_ELEM_MAX + 1 entries but
 * accepts types up to NFTA_SET_MAX, writing past the array on the stack
 * for the types in between (a newer kernel's, or a forged message's). */
bool kernel_libnftnl_may_parse(uint16_t type, const struct nlattr *attribute);

/* The table an nf_tables object message is about: every kind (table,
 * chain, rule, set, elements, object, flowtable) names it in attribute 1.
 * NULL when the message has none, or no family header. */
const char *kernel_message_table_name(const struct nlmsghdr *nlh);

/* Names the attribute of message (as sent, whole in memory) in which
 * offset bytes from the message's start fall, as nf_tables.h names it,
 * inside its nests, with the message: "NFTA_CHAIN_TYPE in
 * NFT_MSG_NEWCHAIN", "element 3 (key 443) of NFTA_SET_ELEM_LIST_ELEMENTS
 * in NFT_MSG_NEWSETELEM". Returns 0, -ENOENT when offset is in no
 * attribute, or -ENOSPC when the name does not fit in size bytes. */
int kernel_name_attribute(const struct nlmsghdr *message, uint32_t offset, char *buffer, size_t size);

/* Turning dumped messages into a table_state, apart from the socket
 * (kernel_decoder.c): the reader runs it on what the kernel sends, tests
 * and the fuzzer on recorded replies. Dumps are decoded in the order the
 * reader asks for them: the table, chains, sets and rules (type
 * NFT_MSG_GETTABLE, GETCHAIN, GETSET, GETRULE), then the elements
 * (GETSETELEM) of the maps found. buffer holds one dump's replies as
 * received, concatenated (it is decoded from a copy: any alignment will
 * do). kernel_decode_dump() returns 0, -ENOMEM, -EINVAL for a dump out of
 * order, or -errno of a netlink error or malformed message. */
struct kernel_decoder;
int kernel_decoder_new(struct kernel_decoder **ret_decoder);
void kernel_decoder_free(struct kernel_decoder *decoder);
int kernel_decode_dump(struct kernel_decoder *decoder, uint16_t type, const void *buffer, size_t length);
/* Hands over the decoded state (generation 0); the decoder must still be
 * freed. */
int kernel_decoder_finish(struct kernel_decoder *decoder, struct table_state **ret_state);

/* The reader's side of the decoder: each reply of one dump goes to
 * kernel_decoder_message() with the dump's struct kernel_decoder_dump as
 * data, which also keeps what a callback failed with (libmnl passes on
 * only MNL_CB_ERROR). Element dumps of different maps may run on two
 * threads at once, each with its own struct kernel_decoder_dump. */
struct kernel_decoder_dump {
	struct kernel_decoder *decoder;
	uint16_t type;
	/* Of an element dump: the map whose elements are taken, or
	 * MAP_COUNT for whichever map each message names. */
	unsigned int map;
	/* 0, or -errno (-ENOMEM). */
	int error;
};
/* Returns -EINVAL for a dump out of order; before the first element
 * dump, finishes the structure. */
int kernel_decoder_start_dump(struct kernel_decoder *decoder, uint16_t type, unsigned int map,
			      struct kernel_decoder_dump *ret_dump);
int kernel_decoder_message(const struct nlmsghdr *nlh, void *data);
/* The checks that need every chain, set and rule; done once. */
int kernel_decoder_finish_structure(struct kernel_decoder *decoder);
/* A read of the table alone: no chain, set, rule or element dump comes. */
void kernel_decoder_table_only(struct kernel_decoder *decoder);
/* Whether the elements of map are to be dumped: it is as the layout says
 * (known once the structure is finished). */
bool kernel_decoder_wants_elements(const struct kernel_decoder *decoder, unsigned int map);
/* Whether the elements of the owner gate's set named set are to be
 * dumped (by an element dump of map MAP_COUNT). */
bool kernel_decoder_wants_set_elements(const struct kernel_decoder *decoder, const char *set);
/* The state being decoded, still the decoder's. */
struct table_state *kernel_decoder_state(struct kernel_decoder *decoder);
/* Whether the table is exactly the contract's layout, as far as read:
 * then nothing but a commit can change its maps (struct kernel_cache). */
bool table_state_is_layout(const struct table_state *state);

/* The owner gate's part of the decoder (kernel_decoder_gate.c). The
 * chain, set and rule functions return whether the object was one of the
 * gate's (a set of NULL: one libnftnl could not be given; a rule of NULL:
 * one it could not parse). */
/* The elements of one map, indexed by port: the kernel dumps a hash set in
 * no useful order, and a port-indexed table puts them in order in one
 * pass, where a sort of 65,535 redirects would cost more than parsing. */
struct element_table {
	/* targets[port] is the target plus one; 0 means no element. */
	uint32_t *targets;
	size_t count;
	bool altered;
};

/* The elements of a scoped map, as they come. */
struct scoped_elements {
	struct redirect *redirects;
	size_t count;
	size_t capacity;
	bool wanted;
	bool altered;
};

/* kernel_decoder_elements.c: a dump's elements into a base map's table
 * (an element of another shape alters the map) or a scoped map's list
 * (-ENOMEM or 0); at the end, all into state's mapping (0 or -ENOMEM). */
void decoder_add_elements(struct element_table *table, struct nftnl_set_elems_iter *iterator);
int decoder_add_scoped_elements(struct scoped_elements *scoped, unsigned int map,
				struct nftnl_set_elems_iter *iterator);
int decoder_collect_elements(struct table_state *state, const struct element_table *tables,
			     const struct scoped_elements *scoped);

struct gate_decoder;
/* The gate as a whole: OBJECT_OK all of it as the layout says,
 * OBJECT_MISSING none of it (a mapping without owners), else ALTERED. */
enum object_status gate_status(const struct table_state *state);
bool gate_is_chain(const char *name);
int gate_decoder_new(struct gate_decoder **ret_decoder);
void gate_decoder_free(struct gate_decoder *decoder);
bool gate_decoder_chain(struct gate_decoder *decoder, struct table_state *state, const struct nftnl_chain *chain);
bool gate_decoder_set(struct gate_decoder *decoder, struct table_state *state, const char *name,
		      const struct nftnl_set *set);
bool gate_decoder_rule(struct gate_decoder *decoder, struct table_state *state, const char *chain,
		       struct nftnl_rule *rule);
void gate_decoder_finish_structure(struct gate_decoder *decoder, struct table_state *state);
bool gate_decoder_wants_elements(const struct gate_decoder *decoder, const char *name);
/* The elements of one message of a gate set's dump; readable false when
 * libnftnl could not parse them. Returns 0 or -ENOMEM. */
int gate_decoder_elements(struct gate_decoder *decoder, const char *name, bool readable, struct nftnl_set *set);
/* A message of a gate set's element dump (kernel_decoder_message()'s). */
int gate_decoder_element_message(struct kernel_decoder_dump *dump, const struct nlmsghdr *nlh, const char *name,
				 bool readable);
struct gate_decoder *kernel_decoder_gate(struct kernel_decoder *decoder);
/* Once the state's mapping is final (after the record of the maps may
 * have replaced it): the owned ports and groups into the state. */
int gate_decoder_finish(struct gate_decoder *decoder, struct table_state *state);

/* A batch: BEGIN, messages that each get an acknowledgement, END. */
struct batch;
/* Returns 0 or -ENOMEM. */
int batch_start(struct kernel *kernel, size_t size_hint, uint32_t generation, struct batch **ret_batch);
void batch_free(struct batch *batch);
/* Starts a message for the caller to fill with libnftnl: *ret_message is
 * its header. what describes the object for error messages (copied).
 * Returns 0, -ENOMEM, or -ENOSPC when the batch buffer is full (its size
 * estimate was wrong). */
int batch_add_message(struct batch *batch, uint16_t type, uint16_t flags, const char *what,
		      struct nlmsghdr **ret_message);
/* Closes the message batch_add_message() started, after its payload is
 * built. */
int batch_commit_message(struct batch *batch);
int batch_send(struct kernel *kernel, struct batch *batch, struct kernel_error *error);

/* The contract's objects. */

/* A userdata type of the table that nft neither writes nor prints (it only
 * knows type 0, the comment): the sysctl's value before portredir first
 * changed it. */
#define LAYOUT_UDATA_ORIGINAL_PORT_START 0xf0
/* Another: the table's identity (struct table_state's table_id), 8 bytes
 * in host byte order, chosen at random when portredir creates the table. */
#define LAYOUT_UDATA_TABLE_ID 0xf1
/* original_port_start may be NULL, table_id 0: no such attribute. */
struct nftnl_table *layout_table(const unsigned int *original_port_start, uint64_t table_id, uint32_t flags);
int layout_table_original_port_start(const struct nftnl_table *table, unsigned int *ret_value);
int layout_table_id(const struct nftnl_table *table, uint64_t *ret_id);
/* A new table's identity: random, never 0. */
uint64_t layout_new_table_id(void);
/* Transaction-local ids of the sets a batch creates, so that its rules
 * and elements can name them before they exist (0: none): the base maps,
 * the owner gate's owned and owners sets, the count sets, the scoped
 * maps. */
#define LAYOUT_MAP_ID(map) \
	((map) < PROTOCOL_COUNT ? (uint32_t)(map) + 1 : (uint32_t)(map) + 1 + 3 * PROTOCOL_COUNT)
#define LAYOUT_OWNED_SET_ID(protocol) ((uint32_t)(protocol) + 1 + PROTOCOL_COUNT)
#define LAYOUT_OWNER_SET_ID(protocol) ((uint32_t)(protocol) + 1 + 2 * PROTOCOL_COUNT)
#define LAYOUT_COUNT_SET_ID(protocol) ((uint32_t)(protocol) + 1 + 3 * PROTOCOL_COUNT)
struct nftnl_set *layout_map(unsigned int map, uint32_t set_id);
/* The set each protocol's rules count redirected connections in, all
 * scopes alike. */
struct nftnl_set *layout_count_set(enum protocol protocol, uint32_t set_id);
/* The key of a redirect's element in its map (redirect_map()), as nft
 * writes it: fields padded to 4 bytes, an interface name to 16. Returns
 * 0, or -EINVAL for an interface scope without a family (the kernel form
 * has none). */
#define LAYOUT_KEY_MAX 24
int layout_key(const struct redirect *redirect, uint8_t key[LAYOUT_KEY_MAX], uint32_t *ret_length);
/* Reads a key of map back into redirect's protocol, port and scope.
 * Returns 0, or -EINVAL for a key portredir does not write (another
 * length, padding that is not zero, an unknown family, an interface name
 * the kernel would refuse). */
int layout_key_parse(unsigned int map, const void *key, uint32_t length, struct redirect *redirect);
struct nftnl_chain *layout_chain(enum chain chain);
/* The chain as the reader compares a dumped one with it: the same, but
 * never with a test fault (fault.h) in it. */
struct nftnl_chain *layout_chain_as_dumped(enum chain chain);
/* as_dumped: the rule as the kernel dumps it back (with the attributes it
 * fills in), for comparison; otherwise exactly what nft sends. With
 * set_ids, the rule names the map by LAYOUT_MAP_ID(map) and its count set
 * by LAYOUT_COUNT_SET_ID(), as in the batch that creates them. */
struct nftnl_rule *layout_rule(enum chain chain, unsigned int map, bool set_ids, bool as_dumped);
/* The owner gate (kernel_owners.c). set_id 0: no transaction id. */
struct nftnl_set *layout_owned_set(enum protocol protocol, uint32_t set_id);
struct nftnl_set *layout_owner_set(enum protocol protocol, uint32_t set_id);
/* input: the base chain on the input hook; otherwise owner_check. */
struct nftnl_chain *layout_owner_chain(bool input);
struct nftnl_rule *layout_gate_rule(enum protocol protocol, uint32_t set_id, bool as_dumped);
struct nftnl_rule *layout_owner_rule(enum protocol protocol, unsigned int level, uint32_t set_id, bool as_dumped);
struct nftnl_rule *layout_refusal_rule(enum protocol protocol);
/* Elements: an owned port and the owner's text (its comment); a port and
 * a group's ID. The parsers return -EINVAL for elements of another shape;
 * the text returned points into the element, without its NUL. */
struct nftnl_set_elem *layout_owned_element(uint16_t port, const char *owner_text);
struct nftnl_set_elem *layout_owner_element(uint16_t port, uint64_t id);
int layout_owned_element_parse(struct nftnl_set_elem *element, uint16_t *ret_port, const char **ret_text,
			       size_t *ret_length);
int layout_owner_element_parse(struct nftnl_set_elem *element, uint16_t *ret_port, uint64_t *ret_id);
/* Each expression of the rule as libnftnl prints it, "[ name ... ]", joined;
 * how the reader recognises a managed rule. Returns 0 or -ENOMEM/-ENOSPC. */
int layout_rule_text(const struct nftnl_rule *rule, char *buffer, size_t size);

/* status's summaries of other tables' rules (kernel_rules.c). A rule that
 * looks the destination port up in a set is given the set's ports once
 * its elements are dumped: until then the lookup waits here. */
struct ruleset;
struct chain_summary;

struct pending_lookup {
	struct chain_summary *chain;
	size_t rule;
	char set[64];
};

struct rule_dump {
	struct ruleset *ruleset;
	struct pending_lookup *lookups;
	size_t lookup_count;
	size_t lookup_capacity;
};

/* Adds the summary of a dumped rule to its chain in dump->ruleset (rules of
 * chains it does not hold are skipped). Returns 0 or -ENOMEM. */
int kernel_summarize_rule(struct rule_dump *dump, const struct nftnl_rule *rule);

#endif
