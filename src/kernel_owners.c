/* The owner gate's objects as libnftnl builds them (the README shows them
 * under "What portredir puts in the kernel"): the sets of owned ports and
 * of their groups, the input chain that sends new redirected connections
 * to owned ports to owner_check, and its rules; each exactly what nft
 * 1.0.6 sends for the rule text documented, so that the reader can tell
 * them from anything else. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/expr.h>
#include <libnftnl/udata.h>
#include "kernel_internal.h"

/* nftables' datatype numbers (datatype.h) and their concatenation: each
 * part shifted by TYPE_BITS, the first the highest. */
#define NFT_TYPE_INET_SERVICE 13
#define NFT_TYPE_CGROUPV2 46
#define NFT_TYPE_BITS 6
#define NFT_BYTEORDER_BIG_ENDIAN 2
/* nftables' expression type of a concatenation (EXPR_CONCAT), which nft
 * 1.0.6 records in a concatenated set's key "typeof" userdata. */
#define NFT_EXPRESSION_CONCAT 13

/* enum ip_conntrack_dir, which no uapi header exports. */
#define CT_DIRECTION_ORIGINAL 0

/* Four bytes per register: a port takes one, a group's ID two. */
#define OWNER_KEY_LENGTH (sizeof(uint32_t) + sizeof(uint64_t))

static struct nftnl_set *owner_set_object(const char *name, uint32_t set_id, uint32_t key_type,
					  uint32_t key_length)
{
	struct nftnl_set *set = nftnl_set_alloc();

	if (!set)
		return NULL;
	nftnl_set_set_u32(set, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(set, NFTNL_SET_TABLE, TABLE_NAME);
	nftnl_set_set_str(set, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(set, NFTNL_SET_ID, set_id);
	nftnl_set_set_u32(set, NFTNL_SET_FLAGS, 0);
	nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, key_type);
	nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, key_length);
	return set;
}

/* set tcp_owned { type inet_service; }: nft's userdata says only that the
 * key is big-endian. */
struct nftnl_set *layout_owned_set(enum protocol protocol, uint32_t set_id)
{
	struct nftnl_set *set = owner_set_object(owned_set_name(protocol), set_id, NFT_TYPE_INET_SERVICE,
						 sizeof(uint16_t));
	struct nftnl_udata_buf *userdata = nftnl_udata_buf_alloc(16);

	if (!set || !userdata || !nftnl_udata_put_u32(userdata, NFTNL_UDATA_SET_KEYBYTEORDER, NFT_BYTEORDER_BIG_ENDIAN)) {
		nftnl_udata_buf_free(userdata);
		nftnl_set_free(set);
		return NULL;
	}
	nftnl_set_set_data(set, NFTNL_SET_USERDATA, nftnl_udata_buf_data(userdata), nftnl_udata_buf_len(userdata));
	nftnl_udata_buf_free(userdata);
	return set;
}

/* The 16 bytes of userdata nft 1.0.6 sends for a set of type
 * "inet_service . cgroupsv2": a key byte order of 0 (a concatenation has
 * none) and a key "typeof" nest naming a concatenation with no parts. nft
 * lists the set from its key type all the same. */
static const unsigned char owner_set_userdata[] = {
	NFTNL_UDATA_SET_KEYBYTEORDER, 4, 0, 0, 0, 0,
	NFTNL_UDATA_SET_KEY_TYPEOF, 8,
	0, 4, NFT_EXPRESSION_CONCAT, 0, 0, 0,
	1, 0,
};

/* set tcp_owners { type inet_service . cgroupsv2; } */
struct nftnl_set *layout_owner_set(enum protocol protocol, uint32_t set_id)
{
	struct nftnl_set *set = owner_set_object(owner_set_name(protocol), set_id,
						 NFT_TYPE_INET_SERVICE << NFT_TYPE_BITS | NFT_TYPE_CGROUPV2,
						 OWNER_KEY_LENGTH);

	if (set)
		nftnl_set_set_data(set, NFTNL_SET_USERDATA, owner_set_userdata, sizeof(owner_set_userdata));
	return set;
}

/* An owned port, with the owner's text as its comment (as nft writes
 * `80 comment "nginx.service"`): the table keeps who owns the port even
 * while the owner's group does not exist. */
struct nftnl_set_elem *layout_owned_element(uint16_t port, const char *owner_text)
{
	struct nftnl_set_elem *element = nftnl_set_elem_alloc();
	struct nftnl_udata_buf *userdata = nftnl_udata_buf_alloc(OWNER_TEXT_MAX + 8);
	const uint16_t key = htons(port);

	if (!element || !userdata || !nftnl_udata_put_strz(userdata, NFTNL_UDATA_SET_ELEM_COMMENT, owner_text)) {
		nftnl_udata_buf_free(userdata);
		nftnl_set_elem_free(element);
		return NULL;
	}
	nftnl_set_elem_set(element, NFTNL_SET_ELEM_KEY, &key, sizeof(key));
	nftnl_set_elem_set(element, NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(userdata),
			   nftnl_udata_buf_len(userdata));
	nftnl_udata_buf_free(userdata);
	return element;
}

/* A port and one of its owner's groups: the port in network order padded
 * to its register, then the ID in host order, as the kernel stores it. */
struct nftnl_set_elem *layout_owner_element(uint16_t port, uint64_t id)
{
	struct nftnl_set_elem *element = nftnl_set_elem_alloc();
	unsigned char key[OWNER_KEY_LENGTH] = { 0 };
	const uint16_t network_port = htons(port);

	if (!element)
		return NULL;
	memcpy(key, &network_port, sizeof(network_port));
	memcpy(key + sizeof(uint32_t), &id, sizeof(id));
	nftnl_set_elem_set(element, NFTNL_SET_ELEM_KEY, key, sizeof(key));
	return element;
}

/* The comment of an element's userdata, found by walking its attributes
 * (a type byte, a length byte, the value) here rather than with
 * nftnl_udata_parse(): libnftnl 1.2.4 does not check that an attribute's
 * value lies within the buffer, which a forged dump's need not. */
static int find_comment(const unsigned char *userdata, uint32_t length, const char **ret_text, size_t *ret_length)
{
	for (uint32_t offset = 0; offset + 2 <= length;) {
		uint8_t type = userdata[offset], size = userdata[offset + 1];

		if (offset + 2 + size > length)
			return -EINVAL;
		if (type == NFTNL_UDATA_SET_ELEM_COMMENT) {
			*ret_text = (const char *)userdata + offset + 2;
			*ret_length = size;
			return 0;
		}
		offset += 2 + size;
	}
	return -ENOENT;
}

int layout_owned_element_parse(struct nftnl_set_elem *element, uint16_t *ret_port, const char **ret_text,
			       size_t *ret_length)
{
	const void *key, *userdata;
	uint32_t key_length = 0, length = 0;
	uint16_t port;

	key = nftnl_set_elem_get(element, NFTNL_SET_ELEM_KEY, &key_length);
	userdata = nftnl_set_elem_get(element, NFTNL_SET_ELEM_USERDATA, &length);
	if (!key || key_length != sizeof(port) || !userdata)
		return -EINVAL;
	memcpy(&port, key, sizeof(port));
	if (find_comment(userdata, length, ret_text, ret_length) < 0)
		return -EINVAL;
	/* A comment ends in its NUL, which is not part of the text. */
	if (!*ret_length || (*ret_text)[*ret_length - 1] != '\0')
		return -EINVAL;
	(*ret_length)--;
	*ret_port = ntohs(port);
	return 0;
}

int layout_owner_element_parse(struct nftnl_set_elem *element, uint16_t *ret_port, uint64_t *ret_id)
{
	const unsigned char *key;
	uint32_t length = 0;
	uint16_t port;

	key = nftnl_set_elem_get(element, NFTNL_SET_ELEM_KEY, &length);
	if (!key || length != OWNER_KEY_LENGTH || key[2] || key[3])
		return -EINVAL;
	memcpy(&port, key, sizeof(port));
	memcpy(ret_id, key + sizeof(uint32_t), sizeof(*ret_id));
	*ret_port = ntohs(port);
	return 0;
}

/* chain input { type filter hook input priority filter; policy accept; }
 * and chain owner_check, a regular chain. */
struct nftnl_chain *layout_owner_chain(bool input)
{
	struct nftnl_chain *chain = nftnl_chain_alloc();

	if (!chain)
		return NULL;
	nftnl_chain_set_u32(chain, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(chain, NFTNL_CHAIN_TABLE, TABLE_NAME);
	nftnl_chain_set_str(chain, NFTNL_CHAIN_NAME, input ? INPUT_CHAIN_NAME : OWNER_CHECK_CHAIN_NAME);
	if (!input)
		return chain;
	nftnl_chain_set_str(chain, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(chain, NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_IN);
	nftnl_chain_set_s32(chain, NFTNL_CHAIN_PRIO, 0);
	nftnl_chain_set_u32(chain, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	return chain;
}

static int add(struct nftnl_rule *rule, struct nftnl_expr *expression)
{
	if (!expression)
		return -ENOMEM;
	nftnl_rule_add_expr(rule, expression);
	return 0;
}

static struct nftnl_expr *ct_load(uint32_t key, bool original)
{
	struct nftnl_expr *expression = nftnl_expr_alloc("ct");

	if (!expression)
		return NULL;
	nftnl_expr_set_u32(expression, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_CT_KEY, key);
	if (original)
		nftnl_expr_set_u8(expression, NFTNL_EXPR_CT_DIR, CT_DIRECTION_ORIGINAL);
	return expression;
}

/* reg 1 = (reg 1 & mask) ^ 0: a flag of ct state or ct status. */
static struct nftnl_expr *bitwise_mask(uint32_t mask)
{
	struct nftnl_expr *expression = nftnl_expr_alloc("bitwise");
	const uint32_t zero = 0;

	if (!expression)
		return NULL;
	nftnl_expr_set_u32(expression, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_BITWISE_LEN, sizeof(mask));
	nftnl_expr_set(expression, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
	nftnl_expr_set(expression, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(zero));
	return expression;
}

static struct nftnl_expr *compare(uint32_t operation, const void *data, uint32_t length)
{
	struct nftnl_expr *expression = nftnl_expr_alloc("cmp");

	if (!expression)
		return NULL;
	nftnl_expr_set_u32(expression, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_CMP_OP, operation);
	nftnl_expr_set(expression, NFTNL_EXPR_CMP_DATA, data, length);
	return expression;
}

/* ct state new, ct status dnat: "(reg & flag) != 0". */
static int add_flag_test(struct nftnl_rule *rule, uint32_t key, uint32_t flag)
{
	const uint32_t zero = 0;
	int r = add(rule, ct_load(key, false));

	if (r >= 0)
		r = add(rule, bitwise_mask(flag));
	if (r >= 0)
		r = add(rule, compare(NFT_CMP_NEQ, &zero, sizeof(zero)));
	return r;
}

static int add_l4proto_test(struct nftnl_rule *rule, enum protocol protocol)
{
	const uint8_t l4proto = protocol == PROTOCOL_TCP ? IPPROTO_TCP : IPPROTO_UDP;
	struct nftnl_expr *meta = nftnl_expr_alloc("meta");
	int r;

	if (meta) {
		nftnl_expr_set_u32(meta, NFTNL_EXPR_META_KEY, NFT_META_L4PROTO);
		nftnl_expr_set_u32(meta, NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
	r = add(rule, meta);
	if (r >= 0)
		r = add(rule, compare(NFT_CMP_EQ, &l4proto, sizeof(l4proto)));
	return r;
}

static struct nftnl_expr *lookup(const char *set, uint32_t set_id, bool as_dumped)
{
	struct nftnl_expr *expression = nftnl_expr_alloc("lookup");

	if (!expression)
		return NULL;
	nftnl_expr_set_u32(expression, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(expression, NFTNL_EXPR_LOOKUP_SET, set);
	if (set_id)
		nftnl_expr_set_u32(expression, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
	/* The kernel dumps the flags even when zero. */
	if (as_dumped)
		nftnl_expr_set_u32(expression, NFTNL_EXPR_LOOKUP_FLAGS, 0);
	return expression;
}

static struct nftnl_expr *verdict(int code, const char *chain)
{
	struct nftnl_expr *expression = nftnl_expr_alloc("immediate");

	if (!expression)
		return NULL;
	nftnl_expr_set_u32(expression, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(expression, NFTNL_EXPR_IMM_VERDICT, (uint32_t)code);
	if (chain)
		nftnl_expr_set_str(expression, NFTNL_EXPR_IMM_CHAIN, chain);
	return expression;
}

static struct nftnl_rule *rule_in(const char *chain)
{
	struct nftnl_rule *rule = nftnl_rule_alloc();

	if (!rule)
		return NULL;
	nftnl_rule_set_u32(rule, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, TABLE_NAME);
	nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, chain);
	return rule;
}

static struct nftnl_rule *finish(struct nftnl_rule *rule, int r)
{
	if (r < 0) {
		nftnl_rule_free(rule);
		return NULL;
	}
	return rule;
}

/* ct state new ct status dnat meta l4proto PROTO ct original proto-dst
 *	@PROTO_owned jump owner_check
 *
 * Only the first packet of a connection or flow is looked at, and of
 * those only the ones a redirect changed: established traffic costs one
 * test. The original destination port is the privileged one, which the
 * sets are keyed by (the packet's own is the target by now). */
struct nftnl_rule *layout_gate_rule(enum protocol protocol, uint32_t set_id, bool as_dumped)
{
	struct nftnl_rule *rule = rule_in(INPUT_CHAIN_NAME);
	int r;

	if (!rule)
		return NULL;
	r = add_flag_test(rule, NFT_CT_STATE, NF_CT_STATE_BIT(IP_CT_NEW));
	if (r >= 0)
		r = add_flag_test(rule, NFT_CT_STATUS, IPS_DST_NAT);
	if (r >= 0)
		r = add_l4proto_test(rule, protocol);
	if (r >= 0)
		r = add(rule, ct_load(NFT_CT_PROTO_DST, true));
	if (r >= 0)
		r = add(rule, lookup(owned_set_name(protocol), set_id, as_dumped));
	if (r >= 0)
		r = add(rule, verdict(NFT_JUMP, OWNER_CHECK_CHAIN_NAME));
	return finish(rule, r);
}

/* meta l4proto PROTO ct original proto-dst . socket cgroupv2 level LEVEL
 *	@PROTO_owners accept
 *
 * The socket is the one that would receive the packet (the listener of a
 * new TCP connection), and its group the one it was created in; its
 * ancestor at LEVEL is compared, so that a socket in a group below the
 * owner's counts as the owner's. Without a socket, or with one whose group
 * is not that deep, the expression ends the rule: no accept. */
struct nftnl_rule *layout_owner_rule(enum protocol protocol, unsigned int level, uint32_t set_id, bool as_dumped)
{
	struct nftnl_rule *rule = rule_in(OWNER_CHECK_CHAIN_NAME);
	struct nftnl_expr *socket;
	int r;

	if (!rule)
		return NULL;
	r = add_l4proto_test(rule, protocol);
	if (r >= 0)
		r = add(rule, ct_load(NFT_CT_PROTO_DST, true));
	socket = r >= 0 ? nftnl_expr_alloc("socket") : NULL;
	if (socket) {
		nftnl_expr_set_u32(socket, NFTNL_EXPR_SOCKET_KEY, NFT_SOCKET_CGROUPV2);
		/* The second 32-bit register, right after the port's. */
		nftnl_expr_set_u32(socket, NFTNL_EXPR_SOCKET_DREG, NFT_REG32_01);
		nftnl_expr_set_u32(socket, NFTNL_EXPR_SOCKET_LEVEL, level);
	}
	if (r >= 0)
		r = add(rule, socket);
	if (r >= 0)
		r = add(rule, lookup(owner_set_name(protocol), set_id, as_dumped));
	if (r >= 0)
		r = add(rule, verdict(NF_ACCEPT, NULL));
	return finish(rule, r);
}

/* TCP: meta l4proto tcp reject with tcp reset; UDP (all that is left):
 * reject, which is ICMP or ICMPv6 port unreachable in an inet table. A
 * refusal rather than a drop: the client learns at once. */
struct nftnl_rule *layout_refusal_rule(enum protocol protocol)
{
	struct nftnl_rule *rule = rule_in(OWNER_CHECK_CHAIN_NAME);
	struct nftnl_expr *reject;
	int r = 0;

	if (!rule)
		return NULL;
	if (protocol == PROTOCOL_TCP)
		r = add_l4proto_test(rule, PROTOCOL_TCP);
	reject = r >= 0 ? nftnl_expr_alloc("reject") : NULL;
	if (reject) {
		nftnl_expr_set_u32(reject, NFTNL_EXPR_REJECT_TYPE,
				   protocol == PROTOCOL_TCP ? NFT_REJECT_TCP_RST : NFT_REJECT_ICMPX_UNREACH);
		nftnl_expr_set_u8(reject, NFTNL_EXPR_REJECT_CODE,
				  protocol == PROTOCOL_TCP ? 0 : NFT_REJECT_ICMPX_PORT_UNREACH);
	}
	if (r >= 0)
		r = add(rule, reject);
	return finish(rule, r);
}
