/* The host's listening sockets from NETLINK_SOCK_DIAG (as `ss -ltu` reads
 * them: one dump per protocol and family), and its interfaces with the
 * addresses the kernel's redirect uses, from NETLINK_ROUTE. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/inet_diag.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include "kernel_host.h"
#include "kernel_internal.h"

#define RECEIVE_BUFFER_SIZE 65536
#define REQUEST_BUFFER_SIZE 1024

int kernel_dump_once(int protocol, struct nlmsghdr *request, mnl_cb_t callback, void *data)
{
	struct mnl_socket *socket = mnl_socket_open(protocol);
	char *buffer = NULL;
	uint32_t port_id, sequence;
	ssize_t received;
	int r;

	if (!socket)
		return -errno;
	if (mnl_socket_bind(socket, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto out;
	}
	buffer = malloc(RECEIVE_BUFFER_SIZE);
	if (!buffer) {
		r = -ENOMEM;
		goto out;
	}
	port_id = mnl_socket_get_portid(socket);
	sequence = request->nlmsg_seq = (uint32_t)time(NULL);
	if (mnl_socket_sendto(socket, request, request->nlmsg_len) < 0) {
		r = -errno;
		goto out;
	}
	for (;;) {
		received = mnl_socket_recvfrom(socket, buffer, RECEIVE_BUFFER_SIZE);
		if (received < 0) {
			r = -errno;
			break;
		}
		errno = 0;
		r = mnl_cb_run(buffer, (size_t)received, sequence, port_id, callback, data);
		if (r == MNL_CB_STOP) {
			r = 0;
			break;
		}
		if (r < 0) {
			/* A callback that failed sets errno; libmnl does for
			 * an error message. */
			r = errno ? -errno : -EBADMSG;
			break;
		}
	}
out:
	free(buffer);
	mnl_socket_close(socket);
	return r;
}

struct listener_dump {
	struct host *host;
	enum protocol protocol;
	const bool *wanted;
};

static int listener_attribute(const struct nlattr *attribute, void *data)
{
	struct listener *listener = data;

	switch (mnl_attr_get_type(attribute)) {
	case INET_DIAG_SKV6ONLY:
		if (mnl_attr_validate(attribute, MNL_TYPE_U8) == 0)
			listener->ipv6_only = mnl_attr_get_u8(attribute) != 0;
		break;
	case INET_DIAG_CGROUP_ID:
		if (mnl_attr_validate(attribute, MNL_TYPE_U64) == 0)
			listener->cgroup_id = mnl_attr_get_u64(attribute);
		break;
	}
	return MNL_CB_OK;
}

static int listener_message(const struct nlmsghdr *nlh, void *data)
{
	struct listener_dump *dump = data;
	const struct inet_diag_msg *message;
	struct listener listener = { .protocol = dump->protocol };

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*message)) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	message = mnl_nlmsg_get_payload(nlh);
	if (message->idiag_family != AF_INET && message->idiag_family != AF_INET6)
		return MNL_CB_OK;
	listener.family = message->idiag_family;
	listener.port = ntohs(message->id.idiag_sport);
	if (dump->wanted && !dump->wanted[listener.port])
		return MNL_CB_OK;
	memcpy(listener.address, message->id.idiag_src, listener.family == AF_INET ? 4 : 16);
	listener.interface = message->id.idiag_if;
	listener.uid = message->idiag_uid;
	listener.inode = message->idiag_inode;
	mnl_attr_parse(nlh, sizeof(*message), listener_attribute, &listener);
	if (host_add_listener(dump->host, &listener) < 0) {
		errno = ENOMEM;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int dump_listeners(struct host *host, const bool *wanted, enum protocol protocol, int family)
{
	char buffer[REQUEST_BUFFER_SIZE];
	struct listener_dump data = { host, protocol, wanted };
	struct inet_diag_req_v2 *request;
	struct nlmsghdr *nlh;

	memset(buffer, 0, sizeof(buffer));
	nlh = mnl_nlmsg_put_header(buffer);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	request = mnl_nlmsg_put_extra_header(nlh, sizeof(*request));
	request->sdiag_family = (uint8_t)family;
	request->sdiag_protocol = protocol == PROTOCOL_TCP ? IPPROTO_TCP : IPPROTO_UDP;
	/* Listening TCP sockets; UDP sockets that are bound but not
	 * connected, which ss calls UNCONN. */
	request->idiag_states = protocol == PROTOCOL_TCP ? 1u << TCP_LISTEN : 1u << TCP_CLOSE;
	return kernel_dump_once(NETLINK_SOCK_DIAG, nlh, listener_message, &data);
}

int kernel_read_listeners(struct host *host, const bool *wanted)
{
	static const int families[] = { AF_INET, AF_INET6 };

	for (int protocol = 0; protocol < PROTOCOL_COUNT; protocol++) {
		for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
			int r = dump_listeners(host, wanted, (enum protocol)protocol, families[i]);

			/* A kernel without IPv6 has no such sockets to show. */
			if (r == -EAFNOSUPPORT && families[i] == AF_INET6)
				continue;
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int link_attribute(const struct nlattr *attribute, void *data)
{
	struct interface *interface = data;

	if (mnl_attr_get_type(attribute) == IFLA_IFNAME && mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) == 0)
		snprintf(interface->name, sizeof(interface->name), "%s", mnl_attr_get_str(attribute));
	return MNL_CB_OK;
}

static int link_message(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *message;
	struct interface *interface;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*message)) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	message = mnl_nlmsg_get_payload(nlh);
	interface = host_interface(data, (uint32_t)message->ifi_index);
	if (!interface) {
		errno = ENOMEM;
		return MNL_CB_ERROR;
	}
	interface->up = message->ifi_flags & IFF_UP;
	interface->loopback = message->ifi_flags & IFF_LOOPBACK;
	mnl_attr_parse(nlh, sizeof(*message), link_attribute, interface);
	return MNL_CB_OK;
}

struct address_attributes {
	const struct nlattr *address;
	const struct nlattr *local;
	uint32_t flags;
	bool has_flags;
};

static int address_attribute(const struct nlattr *attribute, void *data)
{
	struct address_attributes *found = data;

	switch (mnl_attr_get_type(attribute)) {
	case IFA_ADDRESS:
		found->address = attribute;
		break;
	case IFA_LOCAL:
		found->local = attribute;
		break;
	case IFA_FLAGS:
		if (mnl_attr_validate(attribute, MNL_TYPE_U32) == 0) {
			found->flags = mnl_attr_get_u32(attribute);
			found->has_flags = true;
		}
		break;
	}
	return MNL_CB_OK;
}

static bool is_v4_mapped(const uint8_t *address)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(address, prefix, sizeof(prefix));
}

/* The host's own address a message names: IPv4's IFA_LOCAL (IFA_ADDRESS
 * is the peer's on a point-to-point link), IPv6's IFA_ADDRESS; NULL for
 * another family, or a length that is not the family's. */
static const struct nlattr *own_address(const struct ifaddrmsg *message, const struct address_attributes *found,
					size_t *ret_length)
{
	const struct nlattr *attribute;

	if (message->ifa_family == AF_INET) {
		attribute = found->local ? found->local : found->address;
		*ret_length = 4;
	} else if (message->ifa_family == AF_INET6) {
		attribute = found->address ? found->address : found->local;
		*ret_length = 16;
	} else {
		return NULL;
	}
	return attribute && mnl_attr_get_payload_len(attribute) == *ret_length ? attribute : NULL;
}

/* Every address goes into the host's list (what address scopes are
 * checked against); the first of each family that the redirect would use
 * is the interface's. The kernel lists each interface's addresses in the
 * order the redirect walks them: IPv4 from the primary, IPv6 by scope and
 * newest first. */
static int address_message(const struct nlmsghdr *nlh, void *data)
{
	struct address_attributes found = { 0 };
	struct host_address address = { 0 };
	const struct ifaddrmsg *message;
	const struct nlattr *attribute;
	struct interface *interface;
	uint32_t flags;
	size_t length;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*message)) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	message = mnl_nlmsg_get_payload(nlh);
	mnl_attr_parse(nlh, sizeof(*message), address_attribute, &found);
	interface = host_interface(data, message->ifa_index);
	if (!interface) {
		errno = ENOMEM;
		return MNL_CB_ERROR;
	}
	attribute = own_address(message, &found, &length);
	if (!attribute)
		return MNL_CB_OK;
	address.family = message->ifa_family;
	address.interface = message->ifa_index;
	memcpy(address.address, mnl_attr_get_payload(attribute), length);
	if (host_add_address(data, &address) < 0) {
		errno = ENOMEM;
		return MNL_CB_ERROR;
	}
	flags = found.has_flags ? found.flags : message->ifa_flags;
	if (message->ifa_family == AF_INET) {
		if (interface->has_ipv4)
			return MNL_CB_OK;
		memcpy(interface->ipv4, address.address, 4);
		interface->has_ipv4 = true;
	} else {
		if (interface->has_ipv6 || message->ifa_scope != RT_SCOPE_UNIVERSE ||
		    ((flags & IFA_F_TENTATIVE) && !(flags & IFA_F_OPTIMISTIC)) || is_v4_mapped(address.address))
			return MNL_CB_OK;
		memcpy(interface->ipv6, address.address, 16);
		interface->has_ipv6 = true;
	}
	return MNL_CB_OK;
}

static int dump_route(struct host *host, uint16_t type, mnl_cb_t callback)
{
	char buffer[REQUEST_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct rtgenmsg *message;

	memset(buffer, 0, sizeof(buffer));
	nlh = mnl_nlmsg_put_header(buffer);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	message = mnl_nlmsg_put_extra_header(nlh, sizeof(*message));
	message->rtgen_family = AF_UNSPEC;
	return kernel_dump_once(NETLINK_ROUTE, nlh, callback, host);
}

int kernel_read_interfaces(struct host *host)
{
	int r = dump_route(host, RTM_GETLINK, link_message);

	if (r >= 0)
		r = dump_route(host, RTM_GETADDR, address_message);
	return r;
}
