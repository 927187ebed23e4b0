/* nf_tables change notifications: tells watch when another process changed
 * table inet portredir (or removed it with the rest of the ruleset). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "kernel_internal.h"

/* A transaction of tens of thousands of elements is that many events. */
#define EVENTS_RECEIVE_QUEUE_SIZE (16 << 20)

struct kernel_events {
	struct mnl_socket *socket;
	char *buffer;
	pid_t own_pid;
	/* Something in the managed table changed since the last NEWGEN. */
	bool pending;
};

int kernel_events_open(struct kernel_events **ret_events)
{
	struct kernel_events *events;
	int r;

	events = calloc(1, sizeof(*events));
	if (!events)
		return -ENOMEM;
	events->buffer = malloc(KERNEL_RECEIVE_BUFFER_SIZE);
	events->socket = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!events->buffer || !events->socket) {
		r = events->buffer ? -errno : -ENOMEM;
		goto fail;
	}
	if (mnl_socket_bind(events->socket, 1 << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto fail;
	}
	kernel_socket_set_buffer(events->socket, SO_RCVBUFFORCE, SO_RCVBUF, EVENTS_RECEIVE_QUEUE_SIZE);
	events->own_pid = getpid();
	*ret_events = events;
	return 0;
fail:
	kernel_events_close(events);
	return r;
}

void kernel_events_close(struct kernel_events *events)
{
	if (!events)
		return;
	if (events->socket)
		mnl_socket_close(events->socket);
	free(events->buffer);
	free(events);
}

int kernel_events_fd(const struct kernel_events *events)
{
	return mnl_socket_get_fd(events->socket);
}

/* Whether an event is about the managed table: what every kind of object
 * message names in the same attribute (kernel_message_table_name()), so
 * that no message, however many elements it carries, is parsed whole. */
static bool event_table_is_managed(const struct nlmsghdr *nlh, uint16_t type)
{
	const char *table;

	switch (type) {
	case NFT_MSG_NEWTABLE:
	case NFT_MSG_DELTABLE:
	case NFT_MSG_NEWCHAIN:
	case NFT_MSG_DELCHAIN:
	case NFT_MSG_NEWRULE:
	case NFT_MSG_DELRULE:
	case NFT_MSG_NEWSET:
	case NFT_MSG_DELSET:
	case NFT_MSG_NEWSETELEM:
	case NFT_MSG_DELSETELEM:
	case NFT_MSG_NEWOBJ:
	case NFT_MSG_DELOBJ:
	case NFT_MSG_NEWFLOWTABLE:
	case NFT_MSG_DELFLOWTABLE:
		table = kernel_message_table_name(nlh);
		return table && !strcmp(table, TABLE_NAME);
	default:
		return false;
	}
}

struct generation {
	uint32_t pid;
	const char *name;
};

static int generation_attribute(const struct nlattr *attribute, void *data)
{
	struct generation *generation = data;

	switch (mnl_attr_get_type(attribute)) {
	case NFTA_GEN_PROC_PID:
		if (mnl_attr_validate(attribute, MNL_TYPE_U32) == 0)
			generation->pid = ntohl(mnl_attr_get_u32(attribute));
		break;
	case NFTA_GEN_PROC_NAME:
		if (mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) == 0)
			generation->name = mnl_attr_get_str(attribute);
		break;
	}
	return MNL_CB_OK;
}

struct event_context {
	struct kernel_events *events;
	struct kernel_event *event;
};

static int event_message(const struct nlmsghdr *nlh, void *data)
{
	struct event_context *context = data;
	struct kernel_events *events = context->events;
	const struct nfgenmsg *header = mnl_nlmsg_get_payload(nlh);
	uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	struct generation generation = { 0, NULL };

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*header))
		return MNL_CB_OK;
	if (type != NFT_MSG_NEWGEN) {
		/* Once a transaction is known to touch the table, the rest of
		 * it (maybe thousands of elements) need not be parsed. */
		if (!events->pending && header->nfgen_family == NFPROTO_INET && event_table_is_managed(nlh, type))
			events->pending = true;
		return MNL_CB_OK;
	}
	/* A transaction ends with NEWGEN, naming who committed it: what
	 * portredir committed itself needs no repair, and reacting to it
	 * would loop. */
	mnl_attr_parse(nlh, sizeof(*header), generation_attribute, &generation);
	if (events->pending && generation.pid != (uint32_t)events->own_pid) {
		context->event->changed = true;
		context->event->pid = generation.pid;
		snprintf(context->event->process, sizeof(context->event->process), "%s",
			 generation.name ? generation.name : "?");
	}
	events->pending = false;
	return MNL_CB_OK;
}

static int set_membership(struct kernel_events *events, int option)
{
	int group = NFNLGRP_NFTABLES;

	return mnl_socket_setsockopt(events->socket, option, &group, sizeof(group)) < 0 ? -errno : 0;
}

int kernel_events_pause(struct kernel_events *events)
{
	int r = set_membership(events, NETLINK_DROP_MEMBERSHIP);

	if (r < 0)
		return r;
	/* What is queued was committed no later than the ruleset the caller
	 * is about to read, so it is dropped rather than reacted to, up to
	 * the empty queue (EAGAIN) or a failure, which the next read meets. */
	for (;;) {
		ssize_t length = mnl_socket_recvfrom(events->socket, events->buffer, KERNEL_RECEIVE_BUFFER_SIZE);

		if (length < 0 && errno != EINTR && errno != ENOBUFS)
			break;
	}
	events->pending = false;
	return 0;
}

int kernel_events_resume(struct kernel_events *events)
{
	return set_membership(events, NETLINK_ADD_MEMBERSHIP);
}

int kernel_events_read(struct kernel_events *events, struct kernel_event *ret_event)
{
	struct event_context context = { events, ret_event };

	memset(ret_event, 0, sizeof(*ret_event));
	for (;;) {
		ssize_t length = mnl_socket_recvfrom(events->socket, events->buffer, KERNEL_RECEIVE_BUFFER_SIZE);
		int r;

		if (length < 0) {
			r = -errno;
			if (r == -EINTR)
				continue;
			if (r == -EAGAIN || r == -EWOULDBLOCK)
				return 0;
			/* The queue overflowed: events were lost, and with them
			 * perhaps a change. Only a full comparison can tell. */
			if (r == -ENOBUFS) {
				events->pending = false;
				ret_event->changed = true;
				ret_event->lost = true;
				continue;
			}
			return r;
		}
		r = kernel_run_messages(events->buffer, (size_t)length, 0, 0, event_message, &context);
		if (r < 0)
			return r;
	}
}
