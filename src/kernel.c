/* The netfilter netlink socket: opening it, dumps, the ruleset generation,
 * and sending a batch with every acknowledgement matched back to the
 * object that caused it. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnftnl/batch.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "fault.h"
#include "kernel_internal.h"
#include "util.h"

/* Acknowledgements of a batch of tens of thousands of elements, and a
 * full dump of them, must not overflow the receive queue. */
#define KERNEL_RECEIVE_QUEUE_SIZE (8 << 20)
/* A batch is acknowledged at once; this only bounds a broken kernel. */
#define KERNEL_ACK_TIMEOUT_MS 30000

static void set_error(struct kernel_error *error, const char *object, const char *message)
{
	if (!error)
		return;
	snprintf(error->object, sizeof(error->object), "%s", object ? object : "");
	snprintf(error->message, sizeof(error->message), "%s", message ? message : "");
}

int kernel_socket_set_buffer(struct mnl_socket *socket, int force_option, int option, int size)
{
	int fd = mnl_socket_get_fd(socket);

	if (setsockopt(fd, SOL_SOCKET, force_option, &size, sizeof(size)) == 0)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, option, &size, sizeof(size)) == 0)
		return 0;
	return -errno;
}

int kernel_open(struct kernel **ret_kernel, struct kernel_error *error)
{
	struct kernel *kernel;
	int on = 1, r;

	kernel = calloc(1, sizeof(*kernel));
	if (!kernel)
		return -ENOMEM;
	/* One byte more than is received: see receive(). */
	kernel->receive_buffer = malloc(KERNEL_RECEIVE_BUFFER_SIZE + 1);
	if (!kernel->receive_buffer) {
		r = -ENOMEM;
		goto fail;
	}
	kernel->socket = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!kernel->socket) {
		r = -errno;
		set_error(error, "netfilter netlink socket", NULL);
		goto fail;
	}
	if (mnl_socket_bind(kernel->socket, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		set_error(error, "netfilter netlink socket", NULL);
		goto fail;
	}
	kernel->port_id = mnl_socket_get_portid(kernel->socket);
	/* Extended acks carry the kernel's reason for a refusal; capped acks
	 * keep thousands of acknowledgements from echoing the messages back. */
	mnl_socket_setsockopt(kernel->socket, NETLINK_EXT_ACK, &on, sizeof(on));
	mnl_socket_setsockopt(kernel->socket, NETLINK_CAP_ACK, &on, sizeof(on));
	kernel_socket_set_buffer(kernel->socket, SO_RCVBUFFORCE, SO_RCVBUF, KERNEL_RECEIVE_QUEUE_SIZE);
	kernel->sequence = (uint32_t)time(NULL);
	*ret_kernel = kernel;
	return 0;
fail:
	kernel_close(kernel);
	return r;
}

void kernel_close(struct kernel *kernel)
{
	if (!kernel)
		return;
	if (kernel->socket)
		mnl_socket_close(kernel->socket);
	free(kernel->receive_buffer);
	free(kernel);
}

const struct kernel_statistics *kernel_statistics(const struct kernel *kernel)
{
	return &kernel->statistics;
}

uint32_t kernel_port_id(const struct kernel *kernel)
{
	return kernel->port_id;
}

void kernel_add_statistics(struct kernel *kernel, const struct kernel *other)
{
	kernel->statistics.messages_sent += other->statistics.messages_sent;
	kernel->statistics.bytes_sent += other->statistics.bytes_sent;
	kernel->statistics.batch_messages += other->statistics.batch_messages;
	kernel->statistics.element_messages += other->statistics.element_messages;
	kernel->statistics.reads_repeated += other->statistics.reads_repeated;
}

uint32_t kernel_next_sequence(struct kernel *kernel)
{
	return ++kernel->sequence;
}

static int send_all(struct kernel *kernel, const void *buffer, size_t length)
{
	ssize_t sent;

	do
		sent = mnl_socket_sendto(kernel->socket, buffer, length);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return -errno;
	kernel->statistics.bytes_sent += length;
	return 0;
}

static ssize_t receive(struct kernel *kernel, int timeout_ms)
{
	struct pollfd descriptor = { .fd = mnl_socket_get_fd(kernel->socket), .events = POLLIN };
	ssize_t length;
	int r;

	do {
		r = poll(&descriptor, 1, timeout_ms);
		/* A signal arriving here, as the tests make one. */
		if (r >= 0 && fault_injected("receive-eintr")) {
			r = -1;
			errno = EINTR;
		}
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	do
		length = mnl_socket_recvfrom(kernel->socket, kernel->receive_buffer, KERNEL_RECEIVE_BUFFER_SIZE);
	while (length < 0 && errno == EINTR);
	if (length < 0)
		return -errno;
	/* libnftnl 1.2.4 strdup()s string attributes; one the kernel sent
	 * unterminated at the very end would otherwise be read past. */
	kernel->receive_buffer[length] = '\0';
	/* Whatever reads the buffer walks it with libmnl, which would follow
	 * one claiming 2 GiB or more off the buffer. */
	if (!kernel_messages_fit(kernel->receive_buffer, (size_t)length))
		return -EBADMSG;
	return length;
}

/* libmnl stops at the first message of a dump the kernel flagged
 * inconsistent (NLM_F_DUMP_INTR, on every message to the end), leaving the
 * rest on the socket, where the next request would find it. The rest is
 * read here, up to the NLMSG_DONE or error that ends the dump. */
static int finish_dump(struct kernel *kernel, uint32_t sequence, ssize_t length)
{
	for (;;) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)kernel->receive_buffer;
		int remaining = (int)length;

		for (; mnl_nlmsg_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
			if (nlh->nlmsg_seq == sequence &&
			    (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR))
				return 0;
		}
		do
			length = receive(kernel, KERNEL_ACK_TIMEOUT_MS);
		while (length == -ENOBUFS);
		if (length < 0)
			return (int)length;
	}
}

int kernel_dump(struct kernel *kernel, struct nlmsghdr *request, mnl_cb_t callback, void *data)
{
	bool interrupted = false, lost = false;
	uint32_t sequence = request->nlmsg_seq;
	ssize_t length;
	int r;

	r = send_all(kernel, request, request->nlmsg_len);
	if (r < 0)
		return r;
	kernel->statistics.messages_sent++;
	for (;;) {
		length = fault_injected("dump-enobufs") ? -ENOBUFS : receive(kernel, KERNEL_ACK_TIMEOUT_MS);
		/* Replies were lost: the dump is worthless, but it must be read
		 * to its end before the socket can serve another request. */
		if (length == -ENOBUFS) {
			lost = true;
			continue;
		}
		if (length < 0)
			return (int)length;
		r = kernel_run_messages(kernel->receive_buffer, (size_t)length, sequence, kernel->port_id, callback,
					data);
		if (r == -EINTR) {
			interrupted = true;
			r = finish_dump(kernel, sequence, length);
			if (r < 0)
				return r;
			break;
		}
		/* After lost replies, even the answer is not to be trusted. */
		if (r < 0)
			return lost ? -ENOBUFS : r;
		if (r == MNL_CB_STOP)
			break;
	}
	if (lost)
		return -ENOBUFS;
	return interrupted ? -EINTR : 0;
}

struct generation_answer {
	uint32_t generation;
	bool found;
	int error;
};

static int generation_message(const struct nlmsghdr *nlh, void *data)
{
	struct generation_answer *answer = data;
	struct nftnl_gen *generation;

	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWGEN)
		return MNL_CB_OK;
	generation = nftnl_gen_alloc();
	if (!generation) {
		answer->error = -ENOMEM;
		return MNL_CB_ERROR;
	}
	if (nftnl_gen_nlmsg_parse(nlh, generation) == 0 && nftnl_gen_is_set(generation, NFTNL_GEN_ID)) {
		answer->generation = nftnl_gen_get_u32(generation, NFTNL_GEN_ID);
		answer->found = true;
	}
	nftnl_gen_free(generation);
	return MNL_CB_OK;
}

int kernel_generation(struct kernel *kernel, uint32_t *ret_generation)
{
	/* Zeroed: libmnl 1.0.4 leaves attribute padding as it finds it. */
	char buffer[KERNEL_REQUEST_BUFFER_SIZE] = { 0 };
	struct generation_answer answer = { .found = false };
	struct nlmsghdr *nlh;
	ssize_t length;
	uint32_t sequence = kernel_next_sequence(kernel);
	int r;

	nlh = nftnl_nlmsg_build_hdr(buffer, NFT_MSG_GETGEN, NFPROTO_UNSPEC, 0, sequence);
	r = send_all(kernel, nlh, nlh->nlmsg_len);
	if (r < 0)
		return r;
	kernel->statistics.messages_sent++;
	/* The answer is a single message, or an error. */
	length = receive(kernel, KERNEL_ACK_TIMEOUT_MS);
	if (length < 0)
		return (int)length;
	r = kernel_run_messages(kernel->receive_buffer, (size_t)length, sequence, kernel->port_id,
				generation_message, &answer);
	if (answer.error)
		return answer.error;
	if (r < 0)
		return r;
	/* An answer without the generation (an acknowledgement, a message
	 * libnftnl cannot read) leaves nothing to bind a batch to. */
	if (!answer.found)
		return -EBADMSG;
	*ret_generation = answer.generation;
	return 0;
}

uint32_t kernel_generation_after(uint32_t generation)
{
	return generation == UINT32_MAX ? 1 : generation + 1;
}

void kernel_use_cache(struct kernel *kernel, const struct kernel_cache *cache)
{
	kernel->cache = cache;
}

void kernel_record_elements(struct kernel *kernel, uint64_t table_id, uint32_t generation,
			    const struct mapping *mapping)
{
	int r;

	if (!kernel->cache || !table_id)
		return;
	r = kernel->cache->store(table_id, generation, mapping);
	if (r < 0) {
		kernel->statistics.record_error = r;
	} else {
		kernel->statistics.elements_recorded++;
		kernel->statistics.record_error = 0;
	}
}

struct batch_message {
	uint32_t sequence;
	/* Where the message starts in the batch's buffer: an extended ack's
	 * offset points into it. */
	size_t offset;
	char what[96];
};

struct batch {
	char *buffer;
	size_t size;
	struct mnl_nlmsg_batch *frames;
	struct batch_message *messages;
	size_t message_count;
	size_t message_capacity;
	uint32_t begin_sequence;
	struct kernel *kernel;
	struct nlmsghdr *open;
};

/* The largest message the writer builds: element lists stop well below
 * the 64 KiB an attribute nest can describe. */
#define BATCH_MAX_MESSAGE 65536

int batch_start(struct kernel *kernel, size_t size_hint, uint32_t generation, struct batch **ret_batch)
{
	struct batch *batch = calloc(1, sizeof(*batch));
	struct nlmsghdr *nlh;

	if (!batch)
		return -ENOMEM;
	batch->kernel = kernel;
	/* libmnl lets the last message run past the limit, so the buffer has
	 * room for one more message than the limit says. */
	batch->size = size_hint + 2 * BATCH_MAX_MESSAGE;
	/* Zeroed, as libmnl 1.0.4 does not clear attribute padding; calloc
	 * of a large block costs no more than malloc (fresh zero pages). */
	batch->buffer = calloc(1, batch->size + BATCH_MAX_MESSAGE);
	if (!batch->buffer)
		goto fail;
	batch->frames = mnl_nlmsg_batch_start(batch->buffer, batch->size);
	if (!batch->frames)
		goto fail;
	batch->begin_sequence = kernel_next_sequence(kernel);
	nlh = nftnl_batch_begin(mnl_nlmsg_batch_current(batch->frames), batch->begin_sequence);
	/* Binds the batch to the generation it was planned against: if the
	 * ruleset changed meanwhile the kernel refuses all of it (ERESTART). */
	if (generation)
		mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(generation));
	mnl_nlmsg_batch_next(batch->frames);
	*ret_batch = batch;
	return 0;
fail:
	batch_free(batch);
	return -ENOMEM;
}

void batch_free(struct batch *batch)
{
	if (!batch)
		return;
	if (batch->frames)
		mnl_nlmsg_batch_stop(batch->frames);
	free(batch->buffer);
	free(batch->messages);
	free(batch);
}

static size_t batch_remaining(const struct batch *batch)
{
	size_t used = mnl_nlmsg_batch_size(batch->frames);

	return used >= batch->size ? 0 : batch->size - used;
}

int batch_add_message(struct batch *batch, uint16_t type, uint16_t flags, const char *what,
		      struct nlmsghdr **ret_message)
{
	struct batch_message *message;
	char *start;
	int r;

	if (batch_remaining(batch) < BATCH_MAX_MESSAGE)
		return -ENOSPC;
	r = ARRAY_GROW_ONE(batch->messages, batch->message_count, batch->message_capacity, 16);
	if (r < 0)
		return r;
	start = mnl_nlmsg_batch_current(batch->frames);
	message = &batch->messages[batch->message_count++];
	message->sequence = kernel_next_sequence(batch->kernel);
	message->offset = (size_t)(start - batch->buffer);
	snprintf(message->what, sizeof(message->what), "%s", what);
	batch->open = nftnl_nlmsg_build_hdr(start, type, NFPROTO_INET, flags | NLM_F_ACK, message->sequence);
	*ret_message = batch->open;
	return 0;
}

int batch_commit_message(struct batch *batch)
{
	if (!batch->open)
		return -EINVAL;
	batch->open = NULL;
	/* The buffer was sized for the whole batch: running out means the
	 * size estimate is wrong, not that the kernel limits were hit. */
	return mnl_nlmsg_batch_next(batch->frames) ? 0 : -EMSGSIZE;
}

/* The message of the batch that has sequence, or NULL. */
static const struct batch_message *batch_find(const struct batch *batch, uint32_t sequence)
{
	for (size_t i = 0; i < batch->message_count; i++) {
		if (batch->messages[i].sequence == sequence)
			return &batch->messages[i];
	}
	return NULL;
}

/* The kernel's own words for a refusal, when NETLINK_EXT_ACK gave any,
 * and the attribute it pointed at, named as nft would show it. */
static void describe_refusal(const struct batch *batch, const struct nlmsghdr *nlh, const struct kernel_ack *ack,
			     struct kernel_error *error)
{
	const struct batch_message *message = batch_find(batch, nlh->nlmsg_seq);
	const struct nlmsghdr *sent = NULL;
	char attribute[160] = "";

	if (message)
		sent = (const struct nlmsghdr *)(const void *)(batch->buffer + message->offset);
	else if (nlh->nlmsg_seq == batch->begin_sequence)
		sent = (const struct nlmsghdr *)(const void *)batch->buffer;
	if (sent && ack->has_offset &&
	    kernel_name_attribute(sent, ack->offset, attribute, sizeof(attribute)) < 0)
		attribute[0] = '\0';
	set_error(error, message ? message->what : "batch", NULL);
	if (!error)
		return;
	if (ack->message && attribute[0])
		snprintf(error->message, sizeof(error->message), "%s; rejected %s", ack->message, attribute);
	else if (attribute[0])
		snprintf(error->message, sizeof(error->message), "rejected %s", attribute);
	else if (ack->message)
		snprintf(error->message, sizeof(error->message), "%s", ack->message);
}

int batch_send(struct kernel *kernel, struct batch *batch, struct kernel_error *error)
{
	size_t acknowledged = 0, length;
	int remaining;
	uint32_t first_failure = 0;
	int result = 0, r;

	if (!batch->message_count)
		return 0;
	nftnl_batch_end(mnl_nlmsg_batch_current(batch->frames), kernel_next_sequence(kernel));
	if (!mnl_nlmsg_batch_next(batch->frames))
		return -EMSGSIZE;
	length = mnl_nlmsg_batch_size(batch->frames);
	/* The whole batch must travel in one sendmsg() to be one
	 * transaction, and the kernel refuses one larger than the socket's
	 * send buffer. */
	if (fault_injected("small-send-buffer")) {
		int small = 65536;

		setsockopt(mnl_socket_get_fd(kernel->socket), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	} else if ((int)length + 4096 > kernel->send_buffer_size) {
		r = kernel_socket_set_buffer(kernel->socket, SO_SNDBUFFORCE, SO_SNDBUF, (int)length + 65536);
		if (r == 0)
			kernel->send_buffer_size = (int)length + 65536;
	}
	r = send_all(kernel, mnl_nlmsg_batch_head(batch->frames), length);
	if (r < 0) {
		char what[96];

		snprintf(what, sizeof(what), "batch of %zu messages, %zu bytes", batch->message_count + 2, length);
		set_error(error, what, NULL);
		return r;
	}
	kernel->statistics.batch_messages += batch->message_count;
	/* BEGIN and END frame the batch. */
	kernel->statistics.messages_sent += batch->message_count + 2;

	/* Every message asked for an acknowledgement; the kernel sends them
	 * all once the batch is processed, or a single error for the BEGIN
	 * message when it refused the batch as a whole (generation moved,
	 * no permission). */
	while (acknowledged < batch->message_count) {
		ssize_t received = receive(kernel, KERNEL_ACK_TIMEOUT_MS);
		const struct nlmsghdr *nlh;

		if (received < 0) {
			set_error(error, "batch acknowledgements", NULL);
			return (int)received;
		}
		remaining = (int)received;
		for (nlh = (const struct nlmsghdr *)kernel->receive_buffer; mnl_nlmsg_ok(nlh, remaining);
		     nlh = mnl_nlmsg_next(nlh, &remaining)) {
			struct kernel_ack ack;

			if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_pid != kernel->port_id)
				continue;
			/* A malformed acknowledgement acknowledges nothing. */
			if (kernel_parse_ack(nlh, &ack) < 0)
				ack = (struct kernel_ack){ .error = -EBADMSG };
			if (ack.error && (!result || nlh->nlmsg_seq < first_failure)) {
				/* Later messages often fail only because an earlier
				 * one did: the first failure is the cause. */
				result = ack.error;
				first_failure = nlh->nlmsg_seq;
				describe_refusal(batch, nlh, &ack, error);
			}
			if (nlh->nlmsg_seq == batch->begin_sequence)
				return result ? result : -EPROTO;
			acknowledged++;
		}
	}
	return result;
}
