/* The redirected connections open now, from one ctnetlink dump of the
 * conntrack table (both families), as `conntrack -L --dst-nat` would list
 * them, counted by protocol, original destination port and the port the
 * replies come from. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include "kernel_host.h"
#include "kernel_internal.h"
#include "util.h"

#define REQUEST_BUFFER_SIZE 1024

/* TCP_CONNTRACK_ESTABLISHED in the kernel's enum tcp_conntrack. */
#define CONNTRACK_TCP_ESTABLISHED 3

struct tuple {
	uint8_t protocol;
	uint16_t source_port;
	uint16_t destination_port;
	bool has_protocol;
};

struct entry {
	struct tuple original;
	struct tuple reply;
	uint32_t status;
	bool has_status;
	uint8_t tcp_state;
	bool has_tcp_state;
};

static int nested(const struct nlattr *attribute, mnl_attr_cb_t callback, void *data)
{
	if (mnl_attr_validate(attribute, MNL_TYPE_NESTED) < 0)
		return -EBADMSG;
	return mnl_attr_parse_nested(attribute, callback, data) < 0 ? -EBADMSG : 0;
}

static int proto_attribute(const struct nlattr *attribute, void *data)
{
	struct tuple *tuple = data;

	switch (mnl_attr_get_type(attribute)) {
	case CTA_PROTO_NUM:
		if (mnl_attr_validate(attribute, MNL_TYPE_U8) < 0)
			return MNL_CB_ERROR;
		tuple->protocol = mnl_attr_get_u8(attribute);
		tuple->has_protocol = true;
		break;
	case CTA_PROTO_SRC_PORT:
		if (mnl_attr_validate(attribute, MNL_TYPE_U16) < 0)
			return MNL_CB_ERROR;
		tuple->source_port = ntohs(mnl_attr_get_u16(attribute));
		break;
	case CTA_PROTO_DST_PORT:
		if (mnl_attr_validate(attribute, MNL_TYPE_U16) < 0)
			return MNL_CB_ERROR;
		tuple->destination_port = ntohs(mnl_attr_get_u16(attribute));
		break;
	}
	return MNL_CB_OK;
}

static int tuple_attribute(const struct nlattr *attribute, void *data)
{
	if (mnl_attr_get_type(attribute) == CTA_TUPLE_PROTO && nested(attribute, proto_attribute, data) < 0)
		return MNL_CB_ERROR;
	return MNL_CB_OK;
}

static int tcp_attribute(const struct nlattr *attribute, void *data)
{
	struct entry *entry = data;

	if (mnl_attr_get_type(attribute) == CTA_PROTOINFO_TCP_STATE) {
		if (mnl_attr_validate(attribute, MNL_TYPE_U8) < 0)
			return MNL_CB_ERROR;
		entry->tcp_state = mnl_attr_get_u8(attribute);
		entry->has_tcp_state = true;
	}
	return MNL_CB_OK;
}

static int protoinfo_attribute(const struct nlattr *attribute, void *data)
{
	if (mnl_attr_get_type(attribute) == CTA_PROTOINFO_TCP && nested(attribute, tcp_attribute, data) < 0)
		return MNL_CB_ERROR;
	return MNL_CB_OK;
}

static int entry_attribute(const struct nlattr *attribute, void *data)
{
	struct entry *entry = data;
	int r = 0;

	switch (mnl_attr_get_type(attribute)) {
	case CTA_TUPLE_ORIG:
		r = nested(attribute, tuple_attribute, &entry->original);
		break;
	case CTA_TUPLE_REPLY:
		r = nested(attribute, tuple_attribute, &entry->reply);
		break;
	case CTA_STATUS:
		if (mnl_attr_validate(attribute, MNL_TYPE_U32) < 0)
			return MNL_CB_ERROR;
		entry->status = ntohl(mnl_attr_get_u32(attribute));
		entry->has_status = true;
		break;
	case CTA_PROTOINFO:
		r = nested(attribute, protoinfo_attribute, entry);
		break;
	}
	return r < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

int kernel_decode_flow(const struct nlmsghdr *nlh, struct flow_count *ret_flow)
{
	struct entry entry = { 0 };

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nfgenmsg) ||
	    mnl_attr_parse(nlh, sizeof(struct nfgenmsg), entry_attribute, &entry) < 0)
		return -EBADMSG;
	if (!entry.has_status || !(entry.status & IPS_DST_NAT) || (entry.status & IPS_DYING) ||
	    !entry.original.has_protocol)
		return 0;
	if (entry.original.protocol == IPPROTO_TCP) {
		if (!entry.has_tcp_state || entry.tcp_state != CONNTRACK_TCP_ESTABLISHED)
			return 0;
		ret_flow->protocol = PROTOCOL_TCP;
	} else if (entry.original.protocol == IPPROTO_UDP) {
		ret_flow->protocol = PROTOCOL_UDP;
	} else {
		return 0;
	}
	ret_flow->port = entry.original.destination_port;
	ret_flow->target = entry.reply.source_port;
	ret_flow->count = 1;
	return 1;
}

struct flow_dump {
	struct flow_count *flows;
	size_t count;
	size_t capacity;
};

static int flow_message(const struct nlmsghdr *nlh, void *data)
{
	struct flow_dump *dump = data;
	struct flow_count flow;
	int r = kernel_decode_flow(nlh, &flow);

	if (r < 0) {
		errno = -r;
		return MNL_CB_ERROR;
	}
	if (!r)
		return MNL_CB_OK;
	/* A handful of (port, target) pairs: a linear search is enough. */
	for (size_t i = 0; i < dump->count; i++) {
		struct flow_count *counted = &dump->flows[i];

		if (counted->protocol == flow.protocol && counted->port == flow.port && counted->target == flow.target) {
			counted->count++;
			return MNL_CB_OK;
		}
	}
	if (ARRAY_GROW_ONE(dump->flows, dump->count, dump->capacity, 8) < 0) {
		errno = ENOMEM;
		return MNL_CB_ERROR;
	}
	dump->flows[dump->count++] = flow;
	return MNL_CB_OK;
}

int kernel_read_redirected_flows(struct flow_count **ret_flows, size_t *ret_count)
{
	char request[REQUEST_BUFFER_SIZE] = { 0 };
	struct flow_dump dump = { 0 };
	struct nfgenmsg *header;
	struct nlmsghdr *nlh;
	int r;

	nlh = mnl_nlmsg_put_header(request);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	header = mnl_nlmsg_put_extra_header(nlh, sizeof(*header));
	/* AF_UNSPEC: IPv4 and IPv6 in one dump. */
	header->nfgen_family = AF_UNSPEC;
	header->version = NFNETLINK_V0;
	r = kernel_dump_once(NETLINK_NETFILTER, nlh, flow_message, &dump);
	if (r < 0) {
		free(dump.flows);
		return r;
	}
	*ret_flows = dump.flows;
	*ret_count = dump.count;
	return 0;
}
