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

/* nft's datatype numbers (datatype.h) for the scoped maps' keys, and how
 * it numbers a concatenation: each type shifted in after the ones before
 * (TYPE_BITS, 6). */
#define NFT_TYPE_NFPROTO 2
#define NFT_TYPE_IPADDR 7
#define NFT_TYPE_IP6ADDR 8
#define NFT_TYPE_IFNAME 41
#define NFT_TYPE_BITS 6
#define CONCAT2(a, b) (((uint32_t)(a) << NFT_TYPE_BITS) | (b))
#define CONCAT3(a, b, c) ((CONCAT2(a, b) << NFT_TYPE_BITS) | (c))

/* A key field takes whole 4-byte registers. */
#define REGISTER_ROUND(length) (((length) + 3u) & ~3u)

struct key_layout {
	uint32_t type;
	uint32_t length;
};

static struct key_layout key_layout(enum map_kind kind)
{
	switch (kind) {
	case MAP_FAMILY:
		return (struct key_layout){ CONCAT2(NFT_TYPE_NFPROTO, NFT_TYPE_INET_SERVICE), 4 + 4 };
	case MAP_IIF:
		return (struct key_layout){ CONCAT3(NFT_TYPE_NFPROTO, NFT_TYPE_IFNAME, NFT_TYPE_INET_SERVICE),
					    4 + SCOPE_IFNAME_SIZE + 4 };
	case MAP_ON4:
		return (struct key_layout){ CONCAT2(NFT_TYPE_IPADDR, NFT_TYPE_INET_SERVICE), 4 + 4 };
	case MAP_ON6:
		return (struct key_layout){ CONCAT2(NFT_TYPE_IP6ADDR, NFT_TYPE_INET_SERVICE), 16 + 4 };
	default:
		return (struct key_layout){ NFT_TYPE_INET_SERVICE, sizeof(uint16_t) };
	}
}

/* A named set of the table with its key; byte orders as nft records them
 * in the set's userdata (a data byte order only for a map). */
static struct nftnl_set *table_set(const char *name, uint32_t set_id, uint32_t flags, uint32_t key_type,
				   uint32_t key_length, uint32_t key_byteorder, bool map)
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
	nftnl_set_set_str(set, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(set, NFTNL_SET_ID, set_id);
	nftnl_set_set_u32(set, NFTNL_SET_FLAGS, flags);
	nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, key_type);
	nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, key_length);
	nftnl_udata_put_u32(userdata, NFTNL_UDATA_SET_KEYBYTEORDER, key_byteorder);
	if (map) {
		nftnl_set_set_u32(set, NFTNL_SET_DATA_TYPE, NFT_TYPE_INET_SERVICE);
		nftnl_set_set_u32(set, NFTNL_SET_DATA_LEN, sizeof(uint16_t));
		nftnl_udata_put_u32(userdata, NFTNL_UDATA_SET_DATABYTEORDER, NFT_BYTEORDER_BIG_ENDIAN);
	}
	nftnl_set_set_data(set, NFTNL_SET_USERDATA, nftnl_udata_buf_data(userdata),
			   nftnl_udata_buf_len(userdata));
	nftnl_udata_buf_free(userdata);
	return set;
}

struct nftnl_set *layout_map(unsigned int map, uint32_t set_id)
{
	struct key_layout key = key_layout(map_kind(map));

	/* A concatenation has no byte order of its own: nft writes 0 and
	 * prints each field by its type. */
	return table_set(map_name(map), set_id, NFT_SET_MAP, key.type, key.length,
			 map_kind(map) == MAP_PLAIN ? NFT_BYTEORDER_BIG_ENDIAN : 0, true);
}

/* set tcp_counts { type inet_service; flags dynamic; }: what the rules
 * update, once per redirected new connection or flow, with an element per
 * port holding its counter (status's "connections"). Empty when made, it
 * costs apply nothing; elements come from the packet path, at most one per
 * port, so the kernel's default size (65,535) is never reached. */
struct nftnl_set *layout_count_set(enum protocol protocol, uint32_t set_id)
{
	return table_set(count_set_name(protocol), set_id, NFT_SET_EVAL, NFT_TYPE_INET_SERVICE, sizeof(uint16_t),
			 NFT_BYTEORDER_BIG_ENDIAN, false);
}

static uint8_t nfproto_of_family(uint8_t family)
{
	return family == 4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
}

int layout_key(const struct redirect *redirect, uint8_t key[LAYOUT_KEY_MAX], uint32_t *ret_length)
{
	enum map_kind kind = map_kind(redirect_map(redirect));
	uint16_t port = htons(redirect->port);
	uint32_t length = key_layout(kind).length;

	memset(key, 0, LAYOUT_KEY_MAX);
	switch (kind) {
	case MAP_FAMILY:
		key[0] = nfproto_of_family(redirect->scope.family);
		memcpy(key + 4, &port, sizeof(port));
		break;
	case MAP_IIF:
		/* The kernel form has a family for every interface scope. */
		if (redirect->scope.family != 4 && redirect->scope.family != 6)
			return -EINVAL;
		key[0] = nfproto_of_family(redirect->scope.family);
		memcpy(key + 4, redirect->scope.iif, SCOPE_IFNAME_SIZE);
		key[4 + SCOPE_IFNAME_SIZE - 1] = '\0';
		memcpy(key + 4 + SCOPE_IFNAME_SIZE, &port, sizeof(port));
		break;
	case MAP_ON4:
		memcpy(key, redirect->scope.address, 4);
		memcpy(key + 4, &port, sizeof(port));
		break;
	case MAP_ON6:
		memcpy(key, redirect->scope.address, 16);
		memcpy(key + 16, &port, sizeof(port));
		break;
	default:
		memcpy(key, &port, sizeof(port));
	}
	*ret_length = length;
	return 0;
}

/* A register's padding is zero in every key the kernel holds; any other
 * key is not one portredir wrote. */
static bool zero(const uint8_t *bytes, size_t length)
{
	for (size_t i = 0; i < length; i++) {
		if (bytes[i])
			return false;
	}
	return true;
}

static int family_of_nfproto(uint8_t nfproto, uint8_t *ret_family)
{
	if (nfproto == NFPROTO_IPV4)
		*ret_family = 4;
	else if (nfproto == NFPROTO_IPV6)
		*ret_family = 6;
	else
		return -EINVAL;
	return 0;
}

/* The interface name's bytes: characters the kernel allows, then NULs to
 * the end, at least one. */
static bool valid_interface(const uint8_t *name)
{
	size_t length = strnlen((const char *)name, SCOPE_IFNAME_SIZE);

	if (length == 0 || length == SCOPE_IFNAME_SIZE || !zero(name + length, SCOPE_IFNAME_SIZE - length))
		return false;
	if ((length == 1 && name[0] == '.') || (length == 2 && name[0] == '.' && name[1] == '.'))
		return false;
	for (size_t i = 0; i < length; i++) {
		if (name[i] <= ' ' || name[i] >= 0x7f || name[i] == '/' || name[i] == ':')
			return false;
	}
	return true;
}

int layout_key_parse(unsigned int map, const void *data, uint32_t length, struct redirect *redirect)
{
	enum map_kind kind = map_kind(map);
	const uint8_t *key = data;
	uint16_t port;

	if (length != key_layout(kind).length)
		return -EINVAL;
	redirect->protocol = map_protocol(map);
	redirect->scope = (struct scope){ .kind = SCOPE_NONE };
	switch (kind) {
	case MAP_FAMILY:
		if (!zero(key + 1, 3) || !zero(key + 6, 2) || family_of_nfproto(key[0], &redirect->scope.family) < 0)
			return -EINVAL;
		redirect->scope.kind = SCOPE_FAMILY;
		memcpy(&port, key + 4, sizeof(port));
		break;
	case MAP_IIF:
		if (!zero(key + 1, 3) || !zero(key + 4 + SCOPE_IFNAME_SIZE + 2, 2) ||
		    family_of_nfproto(key[0], &redirect->scope.family) < 0 || !valid_interface(key + 4))
			return -EINVAL;
		redirect->scope.kind = SCOPE_IIF;
		memcpy(redirect->scope.iif, key + 4, SCOPE_IFNAME_SIZE);
		memcpy(&port, key + 4 + SCOPE_IFNAME_SIZE, sizeof(port));
		break;
	case MAP_ON4:
		if (!zero(key + 6, 2))
			return -EINVAL;
		redirect->scope.kind = SCOPE_ON;
		redirect->scope.family = 4;
		memcpy(redirect->scope.address, key, 4);
		memcpy(&port, key + 4, sizeof(port));
		break;
	case MAP_ON6:
		if (!zero(key + 18, 2))
			return -EINVAL;
		redirect->scope.kind = SCOPE_ON;
		redirect->scope.family = 6;
		memcpy(redirect->scope.address, key, 16);
		memcpy(&port, key + 16, sizeof(port));
		break;
	default:
		memcpy(&port, key, sizeof(port));
	}
	redirect->port = ntohs(port);
	return 0;
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

static struct nftnl_expr *expression_meta(uint32_t key, uint32_t reg)
{
	struct nftnl_expr *expression = nftnl_expr_alloc("meta");

	if (!expression)
		return NULL;
	nftnl_expr_set_u32(expression, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_META_DREG, reg);
	return expression;
}

static struct nftnl_expr *expression_payload(uint32_t base, uint32_t offset, uint32_t length, uint32_t reg)
{
	struct nftnl_expr *expression = nftnl_expr_alloc("payload");

	if (!expression)
		return NULL;
	nftnl_expr_set_u32(expression, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_PAYLOAD_LEN, length);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_PAYLOAD_DREG, reg);
	return expression;
}

/* tcp dport and udp dport: both are the 2 bytes at offset 2 of the
 * transport header. */
static struct nftnl_expr *expression_destination_port(uint32_t reg)
{
	return expression_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, sizeof(uint16_t), reg);
}

/* With to_register, the map's value (the target) lands in register 1;
 * without, the lookup only tests that the key is in the map. */
static struct nftnl_expr *expression_lookup(unsigned int map, bool set_ids, bool to_register, bool as_dumped)
{
	struct nftnl_expr *expression = nftnl_expr_alloc("lookup");

	if (!expression)
		return NULL;
	nftnl_expr_set_u32(expression, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(expression, NFTNL_EXPR_LOOKUP_SET, map_name(map));
	/* The map may be created in the same batch: the kernel finds it by
	 * name, nft adds its transaction id too, and so do we. */
	if (set_ids)
		nftnl_expr_set_u32(expression, NFTNL_EXPR_LOOKUP_SET_ID, LAYOUT_MAP_ID(map));
	if (to_register)
		nftnl_expr_set_u32(expression, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_1);
	/* The kernel dumps the flags even when zero. */
	if (as_dumped)
		nftnl_expr_set_u32(expression, NFTNL_EXPR_LOOKUP_FLAGS, 0);
	return expression;
}

/* update @PROTO_counts { PROTO dport counter }: the port in register 1. */
static struct nftnl_expr *expression_count(enum protocol protocol, bool set_ids, bool as_dumped)
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
	if (set_ids)
		nftnl_expr_set_u32(expression, NFTNL_EXPR_DYNSET_SET_ID, LAYOUT_COUNT_SET_ID(protocol));
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

/* The key of each map as nft 1.0.6 loads it, field by field into the
 * registers that follow each other (a 16-byte register is 4 of the 4-byte
 * ones, NFT_REG32_00 up):
 *   base:   PROTO dport                            reg 1
 *   family: meta nfproto . PROTO dport             reg 1, reg 9
 *   iif:    meta nfproto . iifname . PROTO dport   reg 1, reg 9, reg 13
 *   on4:    ip daddr . PROTO dport                 reg 1, reg 9
 *   on6:    ip6 daddr . PROTO dport                reg 1, reg 2
 * nft loads it twice: for the test and for the redirect's lookup. */
static int add_key(struct nftnl_rule *rule, enum map_kind kind)
{
	int r;

	switch (kind) {
	case MAP_FAMILY:
		r = add_expression(rule, expression_meta(NFT_META_NFPROTO, NFT_REG_1));
		if (r >= 0)
			r = add_expression(rule, expression_destination_port(NFT_REG32_01));
		return r;
	case MAP_IIF:
		r = add_expression(rule, expression_meta(NFT_META_NFPROTO, NFT_REG_1));
		if (r >= 0)
			r = add_expression(rule, expression_meta(NFT_META_IIFNAME, NFT_REG32_01));
		if (r >= 0)
			r = add_expression(rule, expression_destination_port(NFT_REG32_05));
		return r;
	case MAP_ON4:
		r = add_expression(rule, expression_payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG_1));
		if (r >= 0)
			r = add_expression(rule, expression_destination_port(NFT_REG32_01));
		return r;
	case MAP_ON6:
		r = add_expression(rule, expression_payload(NFT_PAYLOAD_NETWORK_HEADER, 24, 16, NFT_REG_1));
		if (r >= 0)
			r = add_expression(rule, expression_destination_port(NFT_REG_2));
		return r;
	default:
		return add_expression(rule, expression_destination_port(NFT_REG_1));
	}
}

/* The dependencies nft adds for the key, in its order: an address needs
 * its family (meta nfproto), which nft tests before the protocol (meta
 * l4proto) that PROTO dport needs. */
static int add_dependencies(struct nftnl_rule *rule, unsigned int map)
{
	const uint8_t l4proto = map_protocol(map) == PROTOCOL_TCP ? IPPROTO_TCP : IPPROTO_UDP;
	const uint8_t ipv4 = NFPROTO_IPV4, ipv6 = NFPROTO_IPV6;
	int r = 0;

	if (map_kind(map) == MAP_ON4 || map_kind(map) == MAP_ON6) {
		r = add_expression(rule, expression_meta(NFT_META_NFPROTO, NFT_REG_1));
		if (r >= 0)
			r = add_expression(rule, expression_compare(map_kind(map) == MAP_ON4 ? &ipv4 : &ipv6, 1));
	}
	if (r >= 0)
		r = add_expression(rule, expression_meta(NFT_META_L4PROTO, NFT_REG_1));
	if (r >= 0)
		r = add_expression(rule, expression_compare(&l4proto, sizeof(l4proto)));
	return r;
}

/* fib daddr type local KEY @MAP update @COUNTS { PROTO dport counter }
 *	redirect to :KEY map @MAP
 *
 * KEY as add_key() says (PROTO dport for the base maps). The key is tested
 * against the map, the port counted, then the key looked up again for its
 * target, as nft writes this text (each use of a key loads it again): a new
 * connection that is not redirected costs what it did without the count,
 * and a redirected one is counted once, in its protocol's count set
 * whatever its scope. */
struct nftnl_rule *layout_rule(enum chain chain, unsigned int map, bool set_ids, bool as_dumped)
{
	const uint32_t local = RTN_LOCAL_ADDRESS;
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
		r = add_dependencies(rule, map);
	if (r >= 0)
		r = add_key(rule, map_kind(map));
	if (r >= 0)
		r = add_expression(rule, expression_lookup(map, set_ids, false, as_dumped));
	if (r >= 0)
		r = add_expression(rule, expression_destination_port(NFT_REG_1));
	if (r >= 0)
		r = add_expression(rule, expression_count(map_protocol(map), set_ids, as_dumped));
	if (r >= 0)
		r = add_key(rule, map_kind(map));
	if (r >= 0)
		r = add_expression(rule, expression_lookup(map, set_ids, true, as_dumped));
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
