/* Records what the kernel answers to the reader's dumps of table inet
 * portredir, as raw netlink messages, for the decoder's fuzz target (see
 * dump_records.h). Then decodes the recording with kernel_decode_dump() and
 * checks that it gives the same state as kernel_read_table() does live, so
 * that the seeds are exactly what the production reader sees.
 *
 * Usage: record_dumps FILE   (in the network namespace to record; needs
 * CAP_NET_ADMIN). Prints the decoded state. A test program: it is not part
 * of the portredir binary. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dump_records.h"
#include "kernel_internal.h"

struct recording {
	unsigned char *bytes;
	size_t length;
	size_t capacity;
	/* The record being filled: its header's offset. */
	size_t open_record;
	bool record_open;
	uint8_t open_type;
};

static void *grow(struct recording *recording, size_t more)
{
	if (recording->length + more > recording->capacity) {
		size_t capacity = recording->capacity ? recording->capacity : 65536;
		unsigned char *bytes;

		while (recording->length + more > capacity)
			capacity *= 2;
		bytes = realloc(recording->bytes, capacity);
		if (!bytes)
			return NULL;
		recording->bytes = bytes;
		recording->capacity = capacity;
	}
	recording->length += more;
	return recording->bytes + recording->length - more;
}

static size_t open_record_length(const struct recording *recording)
{
	return recording->length - recording->open_record - DUMP_RECORD_HEADER_SIZE;
}

static void close_record(struct recording *recording)
{
	size_t length = open_record_length(recording);

	recording->bytes[recording->open_record + 1] = (unsigned char)(length & 0xff);
	recording->bytes[recording->open_record + 2] = (unsigned char)(length >> 8);
	recording->record_open = false;
}

/* Appends one message to a record of type_index, starting a new record
 * when there is none of that type open or it would grow too long. */
static int append_message(struct recording *recording, uint8_t type_index, const struct nlmsghdr *nlh, size_t size)
{
	unsigned char *header, *space;

	if (size > DUMP_RECORD_MAX_LENGTH)
		return -EMSGSIZE;
	if (recording->record_open &&
	    (recording->open_type != type_index || open_record_length(recording) + size > DUMP_RECORD_MAX_LENGTH))
		close_record(recording);
	if (!recording->record_open) {
		recording->open_record = recording->length;
		header = grow(recording, DUMP_RECORD_HEADER_SIZE);
		if (!header)
			return -ENOMEM;
		header[0] = type_index;
		recording->record_open = true;
		recording->open_type = type_index;
	}
	space = grow(recording, size);
	if (!space)
		return -ENOMEM;
	memcpy(space, nlh, size);
	return 0;
}

/* Sends the reader's request and records every reply until the dump (or
 * the acknowledgement, or an error) ends it. */
static int record_dump(struct kernel *kernel, struct recording *recording, uint8_t type_index, uint16_t flags,
		       const char *set_name)
{
	char request[KERNEL_REQUEST_BUFFER_SIZE] = { 0 };
	struct nlmsghdr *nlh;
	uint32_t sequence;
	int result = 0;

	nlh = kernel_build_read_request(kernel, request, dump_record_types[type_index], flags, set_name);
	if (!nlh)
		return -ENOMEM;
	sequence = nlh->nlmsg_seq;
	if (mnl_socket_sendto(kernel->socket, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t length = mnl_socket_recvfrom(kernel->socket, kernel->receive_buffer, KERNEL_RECEIVE_BUFFER_SIZE);
		int remaining, r;

		if (length < 0)
			return -errno;
		remaining = (int)length;
		for (const struct nlmsghdr *message = (const struct nlmsghdr *)kernel->receive_buffer;
		     mnl_nlmsg_ok(message, remaining); message = mnl_nlmsg_next(message, &remaining)) {
			size_t size = MNL_ALIGN(message->nlmsg_len);

			if (size > (size_t)remaining)
				size = (size_t)remaining;
			r = append_message(recording, type_index, message, size);
			if (r < 0)
				return r;
		}
		r = mnl_cb_run(kernel->receive_buffer, (size_t)length, sequence, kernel->port_id, NULL, NULL);
		if (r < 0)
			result = -errno;
		if (r <= MNL_CB_STOP)
			break;
	}
	/* One dump, one record (or several, when it is long): the decoder
	 * stops at the end of a dump. */
	if (recording->record_open)
		close_record(recording);
	return result;
}

static int record(struct kernel *kernel, struct recording *recording)
{
	int r;

	r = record_dump(kernel, recording, 0, NLM_F_ACK, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (uint8_t i = 1; i < 4; i++) {
		r = record_dump(kernel, recording, i, NLM_F_DUMP, NULL);
		if (r < 0)
			return r;
	}
	/* A missing set answers ENOENT, which is recorded as well. The
	 * owner gate's sets first, as the reader dumps them. */
	for (int i = 0; i < 2 * PROTOCOL_COUNT; i++) {
		enum protocol protocol = (enum protocol)(i % PROTOCOL_COUNT);

		r = record_dump(kernel, recording, 4, NLM_F_DUMP,
				i < PROTOCOL_COUNT ? owned_set_name(protocol) : owner_set_name(protocol));
		if (r < 0 && r != -ENOENT)
			return r;
	}
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		r = record_dump(kernel, recording, 4, NLM_F_DUMP, map_name((enum protocol)i));
		if (r < 0 && r != -ENOENT)
			return r;
	}
	return 0;
}

static int decode(const struct recording *recording, struct table_state **ret_state)
{
	struct kernel_decoder *decoder;
	size_t offset = 0;
	void *copy;
	int r;

	r = kernel_decoder_new(&decoder);
	if (r < 0)
		return r;
	while (offset + DUMP_RECORD_HEADER_SIZE <= recording->length) {
		const unsigned char *header = recording->bytes + offset;
		size_t length = header[1] | (size_t)header[2] << 8;
		uint16_t type;

		if (header[0] >= DUMP_RECORD_TYPE_COUNT || offset + DUMP_RECORD_HEADER_SIZE + length > recording->length) {
			r = -EBADMSG;
			goto out;
		}
		type = dump_record_types[header[0]];
		/* Records follow 3-byte headers: each is decoded from a copy,
		 * aligned as a receive buffer is. */
		copy = malloc(length ? length : 1);
		if (!copy) {
			r = -ENOMEM;
			goto out;
		}
		memcpy(copy, header + DUMP_RECORD_HEADER_SIZE, length);
		r = kernel_decode_dump(decoder, type, copy, length);
		free(copy);
		/* As the reader: no table is an empty state, and the dump of a
		 * map that is not there fails alone. */
		if (r == -ENOENT && type == NFT_MSG_GETTABLE)
			break;
		if (r < 0 && !(r == -ENOENT && type == NFT_MSG_GETSETELEM))
			goto out;
		offset += DUMP_RECORD_HEADER_SIZE + length;
	}
	r = kernel_decoder_finish(decoder, ret_state);
out:
	kernel_decoder_free(decoder);
	return r;
}

static void print_object(FILE *stream, const char *name, const struct object_state *object)
{
	static const char *const statuses[] = { "missing", "ok", "altered" };

	fprintf(stream, "%s: %s%s%s\n", name, statuses[object->status], object->reason[0] ? ", " : "", object->reason);
}

/* The state as text, everything the planner looks at but the generation. */
static char *describe(const struct table_state *state)
{
	char *text = NULL;
	size_t size = 0;
	FILE *stream = open_memstream(&text, &size);

	if (!stream)
		return NULL;
	fprintf(stream, "table exists: %s\n", state->table_exists ? "yes" : "no");
	print_object(stream, "table", &state->table);
	for (int i = 0; i < PROTOCOL_COUNT; i++)
		print_object(stream, map_name((enum protocol)i), &state->maps[i]);
	for (int i = 0; i < CHAIN_COUNT; i++)
		print_object(stream, chain_name((enum chain)i), &state->chains[i]);
	for (int i = 0; i < PROTOCOL_COUNT; i++)
		print_object(stream, owned_set_name((enum protocol)i), &state->owned_sets[i]);
	for (int i = 0; i < PROTOCOL_COUNT; i++)
		print_object(stream, owner_set_name((enum protocol)i), &state->owner_sets[i]);
	for (int i = 0; i < GATE_CHAIN_COUNT; i++)
		print_object(stream, gate_chain_name((enum gate_chain)i), &state->gate_chains[i]);
	for (unsigned int level = 0; level < 64; level++) {
		if ((state->owner_levels >> level) & 1)
			fprintf(stream, "owner_check level %u\n", level);
	}
	if (state->has_original_port_start)
		fprintf(stream, "original unprivileged_port_start: %u\n", state->original_port_start);
	for (size_t i = 0; i < state->mapping->redirect_count; i++) {
		const struct redirect *redirect = &state->mapping->redirects[i];

		fprintf(stream, "redirect %s %u to %u", protocol_name(redirect->protocol), redirect->port,
			redirect->target);
		if (redirect->owner)
			fprintf(stream, " for %s%s", redirect->owner->kind == OWNER_CGROUP ? OWNER_CGROUP_PREFIX : "",
				redirect->owner->name);
		fputc('\n', stream);
	}
	for (size_t i = 0; i < state->owned_count; i++)
		fprintf(stream, "owned %s %u\n", protocol_name(state->owned[i].protocol), state->owned[i].port);
	for (size_t i = 0; i < state->owner_element_count; i++)
		fprintf(stream, "group of %s %u: %llu\n", protocol_name(state->owner_elements[i].protocol),
			state->owner_elements[i].port, (unsigned long long)state->owner_elements[i].id);
	return fclose(stream) == 0 ? text : NULL;
}

int main(int argc, char *argv[])
{
	struct recording recording = { NULL, 0, 0, 0, false, 0 };
	struct table_state *live = NULL, *decoded = NULL;
	struct kernel_error error = { "", "" };
	char *live_text = NULL, *decoded_text = NULL;
	struct kernel *kernel = NULL;
	uint32_t before = 0, after = 1;
	int status = 1, r;
	FILE *output;

	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE\n", argv[0]);
		return 2;
	}
	r = kernel_open(&kernel, &error);
	if (r < 0) {
		fprintf(stderr, "record_dumps: cannot open a netlink socket: %s\n", strerror(-r));
		return 1;
	}
	/* Nothing changes the namespace meanwhile; the generation says so. */
	for (int attempt = 0; attempt < 10 && before != after; attempt++) {
		recording.length = 0;
		recording.record_open = false;
		table_state_free(live);
		live = NULL;
		r = kernel_generation(kernel, &before);
		if (r >= 0)
			r = record(kernel, &recording);
		if (r >= 0)
			r = kernel_read_table(kernel, true, &live, &error);
		if (r >= 0)
			r = kernel_generation(kernel, &after);
		if (r < 0) {
			fprintf(stderr, "record_dumps: %s: %s\n", error.object, strerror(-r));
			goto out;
		}
	}
	r = decode(&recording, &decoded);
	if (r < 0) {
		fprintf(stderr, "record_dumps: decoding the recording: %s\n", strerror(-r));
		goto out;
	}
	live_text = describe(live);
	decoded_text = describe(decoded);
	if (!live_text || !decoded_text)
		goto out;
	if (strcmp(live_text, decoded_text)) {
		fprintf(stderr, "record_dumps: the recording decodes to\n%s\nbut the live read gave\n%s", decoded_text,
			live_text);
		goto out;
	}
	output = fopen(argv[1], "wb");
	if (!output || fwrite(recording.bytes, 1, recording.length, output) != recording.length ||
	    fclose(output) != 0) {
		fprintf(stderr, "record_dumps: cannot write %s\n", argv[1]);
		goto out;
	}
	fputs(decoded_text, stdout);
	status = 0;
out:
	free(live_text);
	free(decoded_text);
	free(recording.bytes);
	table_state_free(live);
	table_state_free(decoded);
	kernel_close(kernel);
	return status;
}
