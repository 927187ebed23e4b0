/* The contract's table, maps, chains and rules as libnftnl objects: the
 * writer sends them, the reader compares what it dumps against them. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/expr.h>
#include <libnftnl/udata.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include "fault.h"
#include "kernel_internal.h"

/* nft's names for what it stores in a set's userdata: the byte order of
 * key and data, so that `nft list` prints them as ports. BYTEORDER_BIG_ENDIAN
 * is 2 in nftables' datatype.h. */
#define NFT_BYTEORDER_BIG_ENDIAN 2
/* The inet_service datatype's number in nftables (TYPE_INET_SERVICE). */
#define NFT_TYPE_INET_SERVICE 13
#define NFT_CHAIN_PRIORITY_DSTNAT (-100)
#define RTN_LOCAL_ADDRESS 2

struct nftnl_table *layout_table(const unsigned int *original_port_start, uint64_t table_id, uint32_t flags)
{
	struct nftnl_udata_buf *userdata;
	struct nftnl_table *table = nftnl_table_alloc();
	bool written = true;

	if (!table)
		return NULL;
	nftnl_table_set_u32(table, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_str(table, NFTNL_TABLE_NAME, TABLE_NAME);
	nftnl_table_set_u32(table, NFTNL_TABLE_FLAGS, flags);
	if (!original_port_start && !table_id)
		return table;
	userdata = nftnl_udata_buf_alloc(64);
	if (!userdata) {
		nftnl_table_free(table);
		return NULL;
	}
	if (original_port_start)
		written &= nftnl_udata_put_u32(userdata, LAYOUT_UDATA_ORIGINAL_PORT_START, *original_port_start);
	if (table_id)
		written &= nftnl_udata_put(userdata, LAYOUT_UDATA_TABLE_ID, sizeof(table_id), &table_id);
	if (written)
		nftnl_table_set_data(table, NFTNL_TABLE_USERDATA, nftnl_udata_buf_data(userdata),
				     nftnl_udata_buf_len(userdata));
	nftnl_udata_buf_free(userdata);
	if (!written) {
		nftnl_table_free(table);
		return NULL;
	}
	return table;
}

#ifndef GRND_INSECURE
#define GRND_INSECURE 0x0004
#endif

uint64_t layout_new_table_id(void)
{
	uint64_t id = 0;

	/* The id needs to be unique, not secret: early in boot, before the
	 * entropy pool is ready, the kernel's insecure bytes serve (or, on
	 * kernels before 5.6, the clock and the pid). */
	if (getrandom(&id, sizeof(id), GRND_INSECURE) != sizeof(id) &&
	    getrandom(&id, sizeof(id), GRND_NONBLOCK) != sizeof(id)) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		id = ((uint64_t)now.tv_sec << 32) ^ (uint64_t)now.tv_nsec ^ ((uint64_t)getpid() << 20);
	}
	return id ? id : 1;
}

/* The table's userdata attributes portredir writes, by type; those of the
 * wrong length are left out, as if absent. */
struct table_userdata {
	const struct nftnl_udata *original_port_start;
	const struct nftnl_udata *table_id;
};

static int table_userdata_attribute(const struct nftnl_udata *attribute, void *data)
{
	struct table_userdata *found = data;

	if (nftnl_udata_type(attribute) == LAYOUT_UDATA_ORIGINAL_PORT_START &&
	    nftnl_udata_len(attribute) == sizeof(uint32_t))
		found->original_port_start = attribute;
	else if (nftnl_udata_type(attribute) == LAYOUT_UDATA_TABLE_ID &&
		 nftnl_udata_len(attribute) == sizeof(uint64_t))
		found->table_id = attribute;
	return 0;
}

/* Whether every attribute of userdata (a type byte, a length byte, the
 * value) lies within it: nftnl_udata_parse() in libnftnl 1.2.4 does not
 * check, and hands a forged table's attribute that runs past the buffer
 * to the callback (the decoder's fuzzer found it). */
static bool userdata_fits(const unsigned char *userdata, uint32_t length)
{
	for (uint32_t offset = 0; offset < length; offset += 2 + userdata[offset + 1]) {
		if (offset + 2 > length || offset + 2 + userdata[offset + 1] > length)
			return false;
	}
	return true;
}

static int parse_table_userdata(const struct nftnl_table *table, struct table_userdata *found)
{
	const void *userdata;
	uint32_t length = 0;

	*found = (struct table_userdata){ 0 };
	userdata = nftnl_table_get_data(table, NFTNL_TABLE_USERDATA, &length);
	if (!userdata || !userdata_fits(userdata, length) ||
	    nftnl_udata_parse(userdata, length, table_userdata_attribute, found) < 0)
		return -ENOENT;
	return 0;
}

int layout_table_original_port_start(const struct nftnl_table *table, unsigned int *ret_value)
{
	struct table_userdata found;

	if (parse_table_userdata(table, &found) < 0 || !found.original_port_start)
		return -ENOENT;
	*ret_value = nftnl_udata_get_u32(found.original_port_start);
	return 0;
}

int layout_table_id(const struct nftnl_table *table, uint64_t *ret_id)
{
	struct table_userdata found;

	if (parse_table_userdata(table, &found) < 0 || !found.table_id)
		return -ENOENT;
	/* Userdata has no alignment to speak of. */
	memcpy(ret_id, nftnl_udata_get(found.table_id), sizeof(*ret_id));
	return *ret_id ? 0 : -ENOENT;
}

struct nftnl_set *layout_map(enum protocol protocol, uint32_t set_id)
{
	struct nftnl_udata_buf *userdata;
	struct nftnl_set *set;

	set = nftnl_set_alloc();
	if (!set)
		return NULL;
	userdata = nftnl_udata_buf_alloc(64);
	if (!userdata) {
		nftnl_set_free(set);
		return NULL;
	}
	nftnl_set_set_u32(set, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(set, NFTNL_SET_TABLE, TABLE_NAME);
	nftnl_set_set_str(set, NFTNL_SET_NAME, map_name(protocol));
	nftnl_set_set_u32(set, NFTNL_SET_ID, set_id);
	nftnl_set_set_u32(set, NFTNL_SET_FLAGS, NFT_SET_MAP);
	nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, NFT_TYPE_INET_SERVICE);
	nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, sizeof(uint16_t));
	nftnl_set_set_u32(set, NFTNL_SET_DATA_TYPE, NFT_TYPE_INET_SERVICE);
	nftnl_set_set_u32(set, NFTNL_SET_DATA_LEN, sizeof(uint16_t));
	nftnl_udata_put_u32(userdata, NFTNL_UDATA_SET_KEYBYTEORDER, NFT_BYTEORDER_BIG_ENDIAN);
	nftnl_udata_put_u32(userdata, NFTNL_UDATA_SET_DATABYTEORDER, NFT_BYTEORDER_BIG_ENDIAN);
	nftnl_set_set_data(set, NFTNL_SET_USERDATA, nftnl_udata_buf_data(userdata),
			   nftnl_udata_buf_len(userdata));
	nftnl_udata_buf_free(userdata);
	return set;
}

/* set tcp_counts { type inet_service; flags dynamic; }: what the rules
 * update, once per redirected new connection or flow, with an element per
 * port holding its counter (status's "connections"). Empty when made, it
 * costs apply nothing; elements come from the packet path, at most one per
 * port, so the kernel's default size (65,535) is never reached. */
struct nftnl_set *layout_count_set(enum protocol protocol, uint32_t set_id)
{
	struct nftnl_udata_buf *userdata;
	struct nftnl_set *set;

	set = nftnl_set_alloc();
	if (!set)
		return NULL;
	userdata = nftnl_udata_buf_alloc(64);
	if (!userdata) {
		nftnl_set_free(set);
		return NULL;
	}
	nftnl_set_set_u32(set, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(set, NFTNL_SET_TABLE, TABLE_NAME);
	nftnl_set_set_str(set, NFTNL_SET_NAME, count_set_name(protocol));
	nftnl_set_set_u32(set, NFTNL_SET_ID, set_id);
	nftnl_set_set_u32(set, NFTNL_SET_FLAGS, NFT_SET_EVAL);
	nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, NFT_TYPE_INET_SERVICE);
	nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, sizeof(uint16_t));
	nftnl_udata_put_u32(userdata, NFTNL_UDATA_SET_KEYBYTEORDER, NFT_BYTEORDER_BIG_ENDIAN);
	nftnl_set_set_data(set, NFTNL_SET_USERDATA, nftnl_udata_buf_data(userdata),
			   nftnl_udata_buf_len(userdata));
	nftnl_udata_buf_free(userdata);
	return set;
}

static struct nftnl_chain *chain_object(enum chain chain, const char *type)
{
	struct nftnl_chain *object = nftnl_chain_alloc();

	if (!object)
		return NULL;
	nftnl_chain_set_u32(object, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(object, NFTNL_CHAIN_TABLE, TABLE_NAME);
	nftnl_chain_set_str(object, NFTNL_CHAIN_NAME, chain_name(chain));
	nftnl_chain_set_str(object, NFTNL_CHAIN_TYPE, type);
	nftnl_chain_set_u32(object, NFTNL_CHAIN_HOOKNUM,
			    chain == CHAIN_PREROUTING ? NF_INET_PRE_ROUTING : NF_INET_LOCAL_OUT);
	nftnl_chain_set_s32(object, NFTNL_CHAIN_PRIO, NFT_CHAIN_PRIORITY_DSTNAT);
	nftnl_chain_set_u32(object, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	return object;
}

struct nftnl_chain *layout_chain(enum chain chain)
{
	/* A chain type no kernel has stands for a kernel without NAT. */
	return chain_object(chain, fault_injected("missing-nat") ? "nat-missing" : "nat");
}

struct nftnl_chain *layout_chain_as_dumped(enum chain chain)
{
	return chain_object(chain, "nat");
}

static int add_expression(struct nftnl_rule *rule, struct nftnl_expr *expression)
{
	if (!expression)
		return -ENOMEM;
	nftnl_rule_add_expr(rule, expression);
	return 0;
}

static struct nftnl_expr *expression_fib_daddr_type(void)
{
	struct nftnl_expr *expression = nftnl_expr_alloc("fib");

	if (!expression)
		return NULL;
	nftnl_expr_set_u32(expression, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
	return expression;
}

static struct nftnl_expr *expression_compare(const void *data, uint32_t length)
{
	struct nftnl_expr *expression = nftnl_expr_alloc("cmp");

	if (!expression)
		return NULL;
	nftnl_expr_set_u32(expression, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set(expression, NFTNL_EXPR_CMP_DATA, data, length);
	return expression;
}

static struct nftnl_expr *expression_meta_l4proto(void)
{
	struct nftnl_expr *expression = nftnl_expr_alloc("meta");

	if (!expression)
		return NULL;
	nftnl_expr_set_u32(expression, NFTNL_EXPR_META_KEY, NFT_META_L4PROTO);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_META_DREG, NFT_REG_1);
	return expression;
}

/* tcp dport and udp dport: both are the 2 bytes at offset 2 of the
 * transport header. */
static struct nftnl_expr *expression_destination_port(void)
{
	struct nftnl_expr *expression = nftnl_expr_alloc("payload");

	if (!expression)
		return NULL;
	nftnl_expr_set_u32(expression, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_PAYLOAD_OFFSET, 2);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_PAYLOAD_LEN, sizeof(uint16_t));
	nftnl_expr_set_u32(expression, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	return expression;
}

/* With to_register, the map's value (the target) lands in register 1;
 * without, the lookup only tests that the port is a key of the map. */
static struct nftnl_expr *expression_lookup(enum protocol protocol, uint32_t set_id, bool to_register,
					    bool as_dumped)
{
	struct nftnl_expr *expression = nftnl_expr_alloc("lookup");

	if (!expression)
		return NULL;
	nftnl_expr_set_u32(expression, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(expression, NFTNL_EXPR_LOOKUP_SET, map_name(protocol));
	/* The map may be created in the same batch: the kernel finds it by
	 * name, nft adds its transaction id too, and so do we. */
	if (set_id)
		nftnl_expr_set_u32(expression, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
	if (to_register)
		nftnl_expr_set_u32(expression, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_1);
	/* The kernel dumps the flags even when zero. */
	if (as_dumped)
		nftnl_expr_set_u32(expression, NFTNL_EXPR_LOOKUP_FLAGS, 0);
	return expression;
}

/* update @PROTO_counts { PROTO dport counter }: the port in register 1. */
static struct nftnl_expr *expression_count(enum protocol protocol, uint32_t set_id, bool as_dumped)
{
	struct nftnl_expr *expression = nftnl_expr_alloc("dynset");
	struct nftnl_expr *counter = nftnl_expr_alloc("counter");

	if (!expression || !counter) {
		nftnl_expr_free(expression);
		nftnl_expr_free(counter);
		return NULL;
	}
	nftnl_expr_set_u32(expression, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
	nftnl_expr_set_str(expression, NFTNL_EXPR_DYNSET_SET_NAME, count_set_name(protocol));
	if (set_id)
		nftnl_expr_set_u32(expression, NFTNL_EXPR_DYNSET_SET_ID, set_id);
	/* The kernel dumps the timeout even when there is none; and the
	 * counter is a template, copied into each new element: its own
	 * values stay 0. */
	if (as_dumped)
		nftnl_expr_set_u64(expression, NFTNL_EXPR_DYNSET_TIMEOUT, 0);
	nftnl_expr_set(expression, NFTNL_EXPR_DYNSET_EXPR, counter, 0);
	return expression;
}

static struct nftnl_expr *expression_redirect_to_register(bool as_dumped)
{
	struct nftnl_expr *expression = nftnl_expr_alloc("redir");

	if (!expression)
		return NULL;
	nftnl_expr_set_u32(expression, NFTNL_EXPR_REDIR_REG_PROTO_MIN, NFT_REG_1);
	/* The kernel fills in a maximum equal to the minimum, and dumps it. */
	if (as_dumped)
		nftnl_expr_set_u32(expression, NFTNL_EXPR_REDIR_REG_PROTO_MAX, NFT_REG_1);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_REDIR_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED);
	return expression;
}

/* fib daddr type local PROTO dport @MAP update @COUNTS { PROTO dport counter }
 *	redirect to :PROTO dport map @MAP
 *
 * The port is tested against the map, then counted, then looked up again
 * for its target, as nft writes this text (each use of "tcp dport" loads
 * the port again): a new connection that is not redirected costs what it
 * did without the count, and a redirected one is counted once whatever
 * the order of the tests before the count. */
struct nftnl_rule *layout_rule(enum chain chain, enum protocol protocol, uint32_t set_id, bool as_dumped)
{
	const uint32_t local = RTN_LOCAL_ADDRESS;
	const uint8_t l4proto = protocol == PROTOCOL_TCP ? IPPROTO_TCP : IPPROTO_UDP;
	const uint32_t count_set_id = set_id ? set_id + 3 * PROTOCOL_COUNT : 0;
	struct nftnl_rule *rule = nftnl_rule_alloc();
	int r;

	if (!rule)
		return NULL;
	nftnl_rule_set_u32(rule, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, TABLE_NAME);
	nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, chain_name(chain));
	r = add_expression(rule, expression_fib_daddr_type());
	if (r >= 0)
		r = add_expression(rule, expression_compare(&local, sizeof(local)));
	if (r >= 0)
		r = add_expression(rule, expression_meta_l4proto());
	if (r >= 0)
		r = add_expression(rule, expression_compare(&l4proto, sizeof(l4proto)));
	if (r >= 0)
		r = add_expression(rule, expression_destination_port());
	if (r >= 0)
		r = add_expression(rule, expression_lookup(protocol, set_id, false, as_dumped));
	if (r >= 0)
		r = add_expression(rule, expression_destination_port());
	if (r >= 0)
		r = add_expression(rule, expression_count(protocol, count_set_id, as_dumped));
	if (r >= 0)
		r = add_expression(rule, expression_destination_port());
	if (r >= 0)
		r = add_expression(rule, expression_lookup(protocol, set_id, true, as_dumped));
	if (r >= 0)
		r = add_expression(rule, expression_redirect_to_register(as_dumped));
	if (r < 0) {
		nftnl_rule_free(rule);
		return NULL;
	}
	return rule;
}

int layout_rule_text(const struct nftnl_rule *rule, char *buffer, size_t size)
{
	struct nftnl_expr_iter *iterator;
	struct nftnl_expr *expression;
	size_t used = 0;
	int r = 0;

	iterator = nftnl_expr_iter_create(rule);
	if (!iterator)
		return -ENOMEM;
	buffer[0] = '\0';
	while ((expression = nftnl_expr_iter_next(iterator))) {
		int length = snprintf(buffer + used, size - used, "[ %s ",
				      nftnl_expr_get_str(expression, NFTNL_EXPR_NAME));

		if (length < 0 || (size_t)length >= size - used) {
			r = -ENOSPC;
			break;
		}
		used += (size_t)length;
		length = nftnl_expr_snprintf(buffer + used, size - used, expression, NFTNL_OUTPUT_DEFAULT, 0);
		if (length < 0 || (size_t)length + 3 > size - used) {
			r = -ENOSPC;
			break;
		}
		used += (size_t)length;
		/* libnftnl 1.2.4 does not print a socket expression's level,
		 * which tells the owner gate's rules apart. */
		if (!strcmp(nftnl_expr_get_str(expression, NFTNL_EXPR_NAME), "socket") &&
		    nftnl_expr_is_set(expression, NFTNL_EXPR_SOCKET_LEVEL)) {
			length = snprintf(buffer + used, size - used, "level %u ",
					  nftnl_expr_get_u32(expression, NFTNL_EXPR_SOCKET_LEVEL));
			if (length < 0 || (size_t)length + 3 > size - used) {
				r = -ENOSPC;
				break;
			}
			used += (size_t)length;
		}
		used += (size_t)snprintf(buffer + used, size - used, "]\n");
	}
	nftnl_expr_iter_destroy(iterator);
	return r;
}
