/* Reads table inet portredir back from the kernel (and nothing else of
 * the ruleset): the dump requests, the two base maps dumped side by side
 * (and the scoped ones after them), the
 * record of the maps (cache.h) used instead when it may be, and the
 * dumps repeated until the ruleset generation held still. What the
 * replies mean is the decoder's (kernel_decoder.c). */
#include <errno.h>
#include <pthread.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernel_internal.h"

struct nlmsghdr *kernel_build_read_request(struct kernel *kernel, char *buffer, uint16_t type, uint16_t flags,
					   const char *set_name)
{
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buffer, type, NFPROTO_INET, flags,
						     kernel_next_sequence(kernel));

	/* Byte for byte what libnftnl builds from an object with only these
	 * set: every GET names the table in attribute 1 (as every object
	 * message does), an element dump its map in attribute 2 first. */
	if (set_name)
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set_name);
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, TABLE_NAME);
	return nlh;
}

/* One dump into the decoder; set_name names the set of an element dump
 * (map's, when NULL). */
static int dump_named(struct kernel *kernel, struct kernel_decoder *decoder, uint16_t type, uint16_t flags,
		      unsigned int map, const char *set_name)
{
	/* Zeroed: libmnl 1.0.4 leaves attribute padding as it finds it. */
	char buffer[KERNEL_REQUEST_BUFFER_SIZE] = { 0 };
	struct kernel_decoder_dump replies;
	struct nlmsghdr *nlh;
	int r;

	r = kernel_decoder_start_dump(decoder, type, map, &replies);
	if (r < 0)
		return r;
	if (type == NFT_MSG_GETSETELEM && !set_name)
		set_name = map_name(map);
	nlh = kernel_build_read_request(kernel, buffer, type, flags, set_name);
	r = kernel_dump(kernel, nlh, kernel_decoder_message, &replies);
	return replies.error ? replies.error : r;
}

static int dump(struct kernel *kernel, struct kernel_decoder *decoder, uint16_t type, uint16_t flags,
		unsigned int map)
{
	return dump_named(kernel, decoder, type, flags, map, NULL);
}

/* The owner gate's sets hold a few elements each (the owned ports): they
 * are always dumped, never taken from the record of the maps. */
static int dump_gate_sets(struct kernel *kernel, struct kernel_decoder *decoder)
{
	int r = 0;

	for (int i = 0; r >= 0 && i < PROTOCOL_COUNT * 2; i++) {
		enum protocol protocol = (enum protocol)(i % PROTOCOL_COUNT);
		const char *name = i < PROTOCOL_COUNT ? owned_set_name(protocol) : owner_set_name(protocol);

		if (kernel_decoder_wants_set_elements(decoder, name))
			r = dump_named(kernel, decoder, NFT_MSG_GETSETELEM, NLM_F_DUMP, MAP_COUNT, name);
	}
	return r;
}

struct element_thread {
	struct kernel *kernel;
	struct kernel_decoder *decoder;
	int result;
};

static void *element_thread_main(void *data)
{
	struct element_thread *thread = data;

	thread->result = dump(thread->kernel, thread->decoder, NFT_MSG_GETSETELEM, NLM_F_DUMP, PROTOCOL_UDP);
	return NULL;
}

/* Dumping a map costs the kernel more than the dump's size suggests: each
 * round of a dump walks the hash table again from its start. The two maps
 * are dumped at the same time, on two sockets, so that two cores share it;
 * each dump fills only its own map's table. Either dump failing fails the
 * read. */
static int dump_maps(struct kernel *kernel, struct kernel_decoder *decoder)
{
	struct element_thread thread = { .decoder = decoder };
	bool tcp = kernel_decoder_wants_elements(decoder, PROTOCOL_TCP);
	bool udp = kernel_decoder_wants_elements(decoder, PROTOCOL_UDP);
	struct kernel_error ignored;
	pthread_t udp_thread;
	bool threaded = false;
	int r = 0;

	if (tcp && udp && kernel_open(&thread.kernel, &ignored) == 0) {
		if (pthread_create(&udp_thread, NULL, element_thread_main, &thread) == 0)
			threaded = true;
		else
			kernel_close(thread.kernel);
	}
	if (tcp)
		r = dump(kernel, decoder, NFT_MSG_GETSETELEM, NLM_F_DUMP, PROTOCOL_TCP);
	if (threaded) {
		pthread_join(udp_thread, NULL);
		kernel_add_statistics(kernel, thread.kernel);
		kernel_close(thread.kernel);
		if (r >= 0)
			r = thread.result;
	} else if (r >= 0 && udp) {
		r = dump(kernel, decoder, NFT_MSG_GETSETELEM, NLM_F_DUMP, PROTOCOL_UDP);
	}
	/* The scoped maps, while scopes are in use, after the base maps. */
	for (unsigned int map = PROTOCOL_COUNT; r >= 0 && map < MAP_COUNT; map++) {
		if (kernel_decoder_wants_elements(decoder, map))
			r = dump(kernel, decoder, NFT_MSG_GETSETELEM, NLM_F_DUMP, map);
	}
	return r;
}

/* Only the lack of a record for this moment (none, or one of another
 * generation) goes without saying. */
static void note_lookup_failure(struct kernel *kernel, uint64_t table_id, int error)
{
	struct kernel_statistics *statistics = &kernel->statistics;

	if (error == -ENOENT || error == -ESTALE)
		return;
	statistics->record_lookup_error = error;
	statistics->record_lookup_path[0] = '\0';
	if (kernel->cache->path)
		kernel->cache->path(table_id, statistics->record_lookup_path, sizeof(statistics->record_lookup_path));
}

/* Takes the elements from the cache when it holds them for this table at
 * this generation; the caller checks afterwards that the generation did
 * not move during the read. */
static bool use_cached_elements(struct kernel *kernel, struct table_state *state, uint32_t generation)
{
	struct mapping *mapping;
	int r;

	if (!kernel->cache || !state->table_id || !table_state_is_layout(state))
		return false;
	r = kernel->cache->lookup(state->table_id, generation, &mapping);
	if (r < 0) {
		note_lookup_failure(kernel, state->table_id, r);
		return false;
	}
	mapping_free(state->mapping);
	state->mapping = mapping;
	state->elements_cached = true;
	return true;
}

/* One pass over the table's objects, started at generation. Returns -EINTR
 * when a dump was interrupted by a concurrent change. */
static int read_once(struct kernel *kernel, struct kernel_decoder *decoder, bool with_elements,
		     uint32_t generation, struct kernel_error *error)
{
	int r;

	snprintf(error->object, sizeof(error->object), "table " TABLE_FAMILY_NAME " " TABLE_NAME);
	/* NLM_F_ACK ends a plain GET with an acknowledgement, as a dump ends
	 * with NLMSG_DONE. */
	r = dump(kernel, decoder, NFT_MSG_GETTABLE, NLM_F_ACK, MAP_COUNT);
	if (r == -ENOENT)
		return 0;
	/* Without the other dumps there is nothing to check them against. */
	if (!with_elements)
		kernel_decoder_table_only(decoder);
	if (r < 0 || !with_elements)
		return r;
	r = dump(kernel, decoder, NFT_MSG_GETCHAIN, NLM_F_DUMP, MAP_COUNT);
	if (r < 0)
		return r;
	r = dump(kernel, decoder, NFT_MSG_GETSET, NLM_F_DUMP, MAP_COUNT);
	if (r < 0)
		return r;
	r = dump(kernel, decoder, NFT_MSG_GETRULE, NLM_F_DUMP, MAP_COUNT);
	if (r < 0)
		return r;
	r = kernel_decoder_finish_structure(decoder);
	if (r < 0)
		return r;
	snprintf(error->object, sizeof(error->object), "the owner gate's sets");
	r = dump_gate_sets(kernel, decoder);
	if (r < 0)
		return r;
	if (use_cached_elements(kernel, kernel_decoder_state(decoder), generation)) {
		error->object[0] = '\0';
		return 0;
	}
	snprintf(error->object, sizeof(error->object), "the maps' elements");
	r = dump_maps(kernel, decoder);
	if (r >= 0)
		error->object[0] = '\0';
	return r;
}

int kernel_read_table(struct kernel *kernel, bool with_elements, struct table_state **ret_state,
		      struct kernel_error *error)
{
	uint32_t before, after;
	int r = -EAGAIN;

	for (int attempt = 0; attempt < KERNEL_MAX_ATTEMPTS; attempt++) {
		struct kernel_decoder *decoder;
		struct table_state *state = NULL;

		r = kernel_decoder_new(&decoder);
		if (r < 0)
			return r;
		kernel->statistics.record_lookup_error = 0;
		snprintf(error->object, sizeof(error->object), "ruleset generation");
		r = kernel_generation(kernel, &before);
		if (r >= 0)
			r = read_once(kernel, decoder, with_elements, before, error);
		if (r >= 0) {
			snprintf(error->object, sizeof(error->object), "ruleset generation");
			r = kernel_generation(kernel, &after);
		}
		if (r >= 0 && before == after) {
			r = kernel_decoder_finish(decoder, &state);
			kernel_decoder_free(decoder);
			if (r < 0)
				return r;
			error->object[0] = '\0';
			state->generation = before;
			/* Read whole at one generation: what the next run
			 * can take instead of a dump. */
			if (with_elements && !state->elements_cached && table_state_is_layout(state))
				kernel_record_elements(kernel, state->table_id, before, state->mapping);
			*ret_state = state;
			return 0;
		}
		kernel_decoder_free(decoder);
		/* A dump interrupted or overrun, or a ruleset that changed
		 * between the dumps: read again. Anything else is final. */
		if (r < 0 && r != -EINTR && r != -ENOBUFS)
			return r;
		kernel->statistics.reads_repeated++;
		r = -EAGAIN;
	}
	return r;
}

/* A read running in the background (kernel_read_table_begin()). */
struct kernel_read {
	pthread_t thread;
	bool threaded;
	struct kernel *kernel;
	bool with_elements;
	struct table_state *state;
	struct kernel_error error;
	int result;
};

static void *read_thread_main(void *data)
{
	struct kernel_read *background = data;

	background->result = kernel_read_table(background->kernel, background->with_elements, &background->state,
					       &background->error);
	return NULL;
}

int kernel_read_table_begin(struct kernel *kernel, bool with_elements, struct kernel_read **ret_read)
{
	struct kernel_read *background = calloc(1, sizeof(*background));

	if (!background)
		return -ENOMEM;
	background->kernel = kernel;
	background->with_elements = with_elements;
	background->threaded = pthread_create(&background->thread, NULL, read_thread_main, background) == 0;
	/* Without a thread the caller just waits longer. */
	if (!background->threaded)
		read_thread_main(background);
	*ret_read = background;
	return 0;
}

int kernel_read_table_end(struct kernel_read *background, struct table_state **ret_state,
			  struct kernel_error *error)
{
	int r;

	if (background->threaded)
		pthread_join(background->thread, NULL);
	r = background->result;
	if (error)
		*error = background->error;
	if (r >= 0 && ret_state)
		*ret_state = background->state;
	else
		table_state_free(background->state);
	free(background);
	return r;
}
