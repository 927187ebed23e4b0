/* libFuzzer target for the kernel-state decoder: recorded or mutated dump
 * replies (dump_records.h) go through kernel_decode_dump() into a
 * table_state, which must be well formed, and the planner must then plan
 * from it without fault. Seeds: tests/fuzz/seeds/decoder, recorded from
 * real namespaces by record_dumps.
 *
 * libnftnl ends the process (exit(EXIT_FAILURE), after "nf_tables kernel
 * ABI is broken") when an attribute has the wrong size for its type: by
 * design, since only a broken kernel sends one, and portredir has sent
 * nothing yet when it reads. Such an input is no finding here, but it would
 * end the fuzzer; so this harness catches that exit() and drops the input.
 * What the decoding had allocated until then is freed through a record
 * of the allocations still live, kept by allocator hooks: a leak of those
 * would otherwise be reported, and scanning for it would slow the fuzzer
 * down to a crawl. Every other input is checked with leak detection on. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sanitizer/allocator_interface.h>
#include "dump_records.h"
#include "kernel_internal.h"
#include "plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define require(condition) \
	do { \
		if (!(condition)) \
			abort(); \
	} while (0)

static sigjmp_buf library_exit;
static bool catching_exit;

/* Takes the place of libc's exit() for the whole program (libnftnl calls
 * it through the dynamic linker), and forwards every call made outside
 * the decoding. */
void exit(int status)
{
	typedef void exit_function(int) __attribute__((noreturn));
	exit_function *libc_exit;

	if (catching_exit) {
		catching_exit = false;
		siglongjmp(library_exit, 1);
	}
	libc_exit = (exit_function *)dlsym(RTLD_NEXT, "exit");
	libc_exit(status);
}

/* The live allocations of this thread while recording: an open-addressing
 * hash set that needs no allocation itself. */
#define LIVE_CAPACITY (1u << 16)
static const volatile void *live[LIVE_CAPACITY];
static size_t live_count;
static __thread bool recording;

static size_t live_slot(const volatile void *pointer)
{
	return (size_t)(((uintptr_t)pointer >> 4) * 0x9e3779b97f4a7c15u >> 48) & (LIVE_CAPACITY - 1);
}

static void allocated(const volatile void *pointer, size_t size)
{
	size_t slot;

	(void)size;
	if (!recording || !pointer)
		return;
	require(live_count < LIVE_CAPACITY / 2);
	for (slot = live_slot(pointer); live[slot]; slot = (slot + 1) & (LIVE_CAPACITY - 1))
		;
	live[slot] = pointer;
	live_count++;
}

static void freed(const volatile void *pointer)
{
	size_t slot, next;

	if (!recording || !pointer)
		return;
	for (slot = live_slot(pointer); live[slot] && live[slot] != pointer; slot = (slot + 1) & (LIVE_CAPACITY - 1))
		;
	if (!live[slot])
		return;
	/* Deletion without tombstones: move later entries of the probe
	 * sequence back into the hole. */
	live[slot] = NULL;
	live_count--;
	for (next = (slot + 1) & (LIVE_CAPACITY - 1); live[next]; next = (next + 1) & (LIVE_CAPACITY - 1)) {
		size_t home = live_slot(live[next]);

		if ((next > slot && (home <= slot || home > next)) || (next < slot && home <= slot && home > next)) {
			live[slot] = live[next];
			live[next] = NULL;
			slot = next;
		}
	}
}

static void start_recording(void)
{
	static bool installed;

	if (!installed)
		require(__sanitizer_install_malloc_and_free_hooks(allocated, freed));
	installed = true;
	recording = true;
}

/* Frees what is still live: what libnftnl left when it gave up. */
static void free_recorded(void)
{
	recording = false;
	for (size_t slot = 0; slot < LIVE_CAPACITY && live_count; slot++) {
		if (live[slot]) {
			free((void *)live[slot]);
			live[slot] = NULL;
			live_count--;
		}
	}
}

static void check_object(const struct object_state *object)
{
	require(object->status == OBJECT_MISSING || object->status == OBJECT_OK || object->status == OBJECT_ALTERED);
	require(memchr(object->reason, '\0', sizeof(object->reason)));
	require((object->status == OBJECT_ALTERED) == (object->reason[0] != '\0'));
}

/* The decoded state obeys what the planner relies on: redirects sorted by
 * (protocol, port, scope), at most one per port and scope, only for maps
 * found intact. */
static void check_state(const struct table_state *state)
{
	const struct mapping *mapping = state->mapping;

	check_object(&state->table);
	for (unsigned int i = 0; i < MAP_COUNT; i++)
		check_object(&state->maps[i]);
	for (int i = 0; i < CHAIN_COUNT; i++)
		check_object(&state->chains[i]);
	if (!state->table_exists)
		require(mapping->redirect_count == 0);
	require(!mapping->has_unprivileged_port_start);
	for (size_t i = 0; i < mapping->redirect_count; i++) {
		const struct redirect *redirect = &mapping->redirects[i];

		require(redirect->protocol < PROTOCOL_COUNT);
		require(state->maps[redirect_map(redirect)].status == OBJECT_OK ||
			state->maps[redirect_map(redirect)].status == OBJECT_ALTERED);
		if (i > 0)
			require(redirect_compare(&mapping->redirects[i - 1], redirect) < 0);
	}
}

static void plan_against(const struct mapping *desired, const struct table_state *state)
{
	const struct plan_input input = { .desired = desired, .current = state };
	struct plan *plan = NULL;

	require(plan_build(&input, &plan) == 0);
	plan_free(plan);
}

/* Decodes the records of data; returns the state, or NULL when libnftnl
 * called exit(). */
static struct table_state *decode(const uint8_t *data, size_t size)
{
	struct kernel_decoder *decoder = NULL;
	struct table_state *state = NULL;

	start_recording();
	if (sigsetjmp(library_exit, 0)) {
		free_recorded();
		return NULL;
	}
	catching_exit = true;
	require(kernel_decoder_new(&decoder) == 0);
	while (size >= DUMP_RECORD_HEADER_SIZE) {
		uint16_t type = dump_record_types[data[0] % DUMP_RECORD_TYPE_COUNT];
		size_t length = data[1] | (size_t)data[2] << 8;
		void *copy;

		data += DUMP_RECORD_HEADER_SIZE;
		size -= DUMP_RECORD_HEADER_SIZE;
		if (length > size)
			length = size;
		/* A copy of exactly the record's size, so that AddressSanitizer
		 * sees any read past its end; netlink messages are aligned to
		 * 4 bytes, as a receive buffer is. */
		copy = malloc(length ? length : 1);
		require(copy);
		memcpy(copy, data, length);
		/* Errors are answers, not faults: decoding goes on as if they
		 * were not. Even -ENOMEM: an error message may carry it. */
		(void)kernel_decode_dump(decoder, type, copy, length);
		free(copy);
		data += length;
		size -= length;
	}
	catching_exit = false;
	require(kernel_decoder_finish(decoder, &state) == 0);
	kernel_decoder_free(decoder);
	/* The state lives on; nothing else may. */
	recording = false;
	memset((void *)live, 0, sizeof(live));
	live_count = 0;
	return state;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct redirect shipped[] = {
		{ .protocol = PROTOCOL_TCP, .port = 80, .target = 8080 },
		{ .protocol = PROTOCOL_TCP, .port = 443, .target = 8443 },
		{ .protocol = PROTOCOL_UDP, .port = 443, .target = 8443 },
	};
	struct table_state *state;
	struct mapping *desired;

	state = decode(data, size);
	if (!state)
		return -1;
	check_state(state);

	desired = mapping_new();
	require(desired);
	for (size_t i = 0; i < sizeof(shipped) / sizeof(shipped[0]); i++)
		require(mapping_add_redirect(desired, &shipped[i]) == 0);
	plan_against(desired, state);
	/* What the kernel holds, wanted as it is: the planner merges a state
	 * against itself. */
	plan_against(state->mapping, state);

	mapping_free(desired);
	table_state_free(state);
	return 0;
}
