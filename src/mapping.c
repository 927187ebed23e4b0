/* The desired-state model and its one destructor. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "mapping.h"
#include "util.h"

static const char *const protocol_names[PROTOCOL_COUNT] = {
	[PROTOCOL_TCP] = "tcp",
	[PROTOCOL_UDP] = "udp",
};

const char *protocol_name(enum protocol protocol)
{
	return protocol < PROTOCOL_COUNT ? protocol_names[protocol] : "?";
}

int protocol_from_name(const char *name, size_t length, enum protocol *ret_protocol)
{
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		if (strlen(protocol_names[i]) == length && !memcmp(name, protocol_names[i], length)) {
			*ret_protocol = (enum protocol)i;
			return 0;
		}
	}
	return -EINVAL;
}

struct mapping *mapping_new(void)
{
	return calloc(1, sizeof(struct mapping));
}

void mapping_free(struct mapping *mapping)
{
	if (!mapping)
		return;
	for (size_t i = 0; i < mapping->file_count; i++)
		free(mapping->files[i]);
	free(mapping->files);
	free(mapping->redirects);
	free(mapping);
}

const char *mapping_add_file(struct mapping *mapping, const char *path)
{
	char *copy;

	copy = strdup(path);
	if (!copy)
		return NULL;
	if (ARRAY_GROW_ONE(mapping->files, mapping->file_count, mapping->file_capacity, 8) < 0) {
		free(copy);
		return NULL;
	}
	mapping->files[mapping->file_count++] = copy;
	return copy;
}

/* An empty mapping gets exactly capacity: its callers know the final count
 * (a kernel dump, a record). */
int mapping_reserve(struct mapping *mapping, size_t capacity)
{
	return array_grow((void **)&mapping->redirects, &mapping->redirect_capacity, capacity,
			  sizeof(*mapping->redirects), capacity);
}

int mapping_add_redirect(struct mapping *mapping, const struct redirect *redirect)
{
	int r = ARRAY_GROW_ONE(mapping->redirects, mapping->redirect_count, mapping->redirect_capacity, 16);

	if (r < 0)
		return r;
	mapping->redirects[mapping->redirect_count++] = *redirect;
	return 0;
}

int redirect_compare(const struct redirect *a, const struct redirect *b)
{
	if (a->protocol != b->protocol)
		return a->protocol < b->protocol ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return 0;
}

struct location redirect_port_location(const struct redirect *redirect)
{
	struct location location = redirect->location;

	location.column = redirect->port_column;
	return location;
}

struct location redirect_target_location(const struct redirect *redirect)
{
	struct location location = redirect->location;

	location.column = redirect->target_column;
	return location;
}

/* A merge sort rather than qsort(): qsort is not stable, and duplicates
 * must keep their file order so that the first one is reported as "first
 * defined". */
static void merge_sort(struct redirect *items, struct redirect *scratch, size_t count)
{
	size_t half, i, j, k;

	if (count < 2)
		return;
	half = count / 2;
	merge_sort(items, scratch, half);
	merge_sort(items + half, scratch, count - half);
	if (redirect_compare(&items[half - 1], &items[half]) <= 0)
		return;
	memcpy(scratch, items, half * sizeof(*items));
	for (i = 0, j = half, k = 0; i < half && j < count; k++) {
		if (redirect_compare(&items[j], &scratch[i]) < 0)
			items[k] = items[j++];
		else
			items[k] = scratch[i++];
	}
	while (i < half)
		items[k++] = scratch[i++];
}

static bool mapping_is_sorted(const struct mapping *mapping)
{
	for (size_t i = 1; i < mapping->redirect_count; i++) {
		if (redirect_compare(&mapping->redirects[i - 1], &mapping->redirects[i]) > 0)
			return false;
	}
	return true;
}

void mapping_sort(struct mapping *mapping)
{
	struct redirect *scratch;

	/* Files and kernel dumps usually come sorted already. */
	if (mapping_is_sorted(mapping))
		return;
	scratch = malloc((mapping->redirect_count / 2 + 1) * sizeof(*scratch));
	if (scratch) {
		merge_sort(mapping->redirects, scratch, mapping->redirect_count);
		free(scratch);
		return;
	}
	/* Out of memory for the scratch half: an insertion sort is slow but
	 * stable and needs none. */
	for (size_t i = 1; i < mapping->redirect_count; i++) {
		struct redirect item = mapping->redirects[i];
		size_t j = i;

		while (j > 0 && redirect_compare(&mapping->redirects[j - 1], &item) > 0) {
			mapping->redirects[j] = mapping->redirects[j - 1];
			j--;
		}
		mapping->redirects[j] = item;
	}
}

const struct redirect *mapping_find(const struct mapping *mapping, enum protocol protocol, uint16_t port)
{
	const struct redirect key = { .protocol = protocol, .port = port };
	size_t low = 0, high = mapping->redirect_count;

	while (low < high) {
		size_t middle = low + (high - low) / 2;
		int order = redirect_compare(&mapping->redirects[middle], &key);

		if (order == 0)
			return &mapping->redirects[middle];
		if (order < 0)
			low = middle + 1;
		else
			high = middle;
	}
	return NULL;
}
