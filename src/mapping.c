/* The desired-state model and its one destructor. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
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
	for (size_t i = 0; i < mapping->owner_count; i++) {
		free(mapping->owners[i]->name);
		free(mapping->owners[i]);
	}
	free(mapping->owners);
	free(mapping->owner_index);
	free(mapping);
}

static size_t owner_hash(enum owner_kind kind, const char *name, size_t length)
{
	uint64_t hash = 0xcbf29ce484222325ull ^ (uint64_t)kind;

	for (size_t i = 0; i < length; i++)
		hash = (hash ^ (unsigned char)name[i]) * 0x100000001b3ull;
	return (size_t)(hash ^ (hash >> 32));
}

static bool owner_is(const struct owner *owner, enum owner_kind kind, const char *name, size_t length)
{
	return owner->kind == kind && strlen(owner->name) == length && !memcmp(owner->name, name, length);
}

/* Kept at most half full, so that a probe ends soon. */
static int owner_index_grow(struct mapping *mapping)
{
	size_t slots = mapping->owner_slots ? mapping->owner_slots * 2 : 16;
	size_t *index;

	if (slots > SIZE_MAX / sizeof(*index))
		return -ENOMEM;
	index = calloc(slots, sizeof(*index));
	if (!index)
		return -ENOMEM;
	for (size_t i = 0; i < mapping->owner_count; i++) {
		const struct owner *owner = mapping->owners[i];
		size_t slot = owner_hash(owner->kind, owner->name, strlen(owner->name)) & (slots - 1);

		while (index[slot])
			slot = (slot + 1) & (slots - 1);
		index[slot] = i + 1;
	}
	free(mapping->owner_index);
	mapping->owner_index = index;
	mapping->owner_slots = slots;
	return 0;
}

const struct owner *mapping_intern_owner(struct mapping *mapping, enum owner_kind kind, const char *name,
					 size_t length)
{
	struct owner *owner;
	size_t slot;

	if ((mapping->owner_count + 1) * 2 > mapping->owner_slots && owner_index_grow(mapping) < 0)
		return NULL;
	slot = owner_hash(kind, name, length) & (mapping->owner_slots - 1);
	for (; mapping->owner_index[slot]; slot = (slot + 1) & (mapping->owner_slots - 1)) {
		owner = mapping->owners[mapping->owner_index[slot] - 1];
		if (owner_is(owner, kind, name, length))
			return owner;
	}
	if (ARRAY_GROW_ONE(mapping->owners, mapping->owner_count, mapping->owner_capacity, 8) < 0)
		return NULL;
	owner = calloc(1, sizeof(*owner));
	if (!owner)
		return NULL;
	owner->kind = kind;
	owner->index = mapping->owner_count;
	owner->name = strndup(name, length);
	if (!owner->name) {
		free(owner);
		return NULL;
	}
	mapping->owners[mapping->owner_count++] = owner;
	mapping->owner_index[slot] = mapping->owner_count;
	return owner;
}

int owner_text(const struct owner *owner, char *buffer, size_t size)
{
	return snprintf(buffer, size, "%s%s", owner->kind == OWNER_CGROUP ? OWNER_CGROUP_PREFIX : "", owner->name);
}

int mapping_intern_owner_text(struct mapping *mapping, const char *text, size_t length,
			      const struct owner **ret_owner)
{
	const size_t prefix = strlen(OWNER_CGROUP_PREFIX);
	enum owner_kind kind = OWNER_UNIT;

	if (length >= prefix && !memcmp(text, OWNER_CGROUP_PREFIX, prefix)) {
		kind = OWNER_CGROUP;
		text += prefix;
		length -= prefix;
	}
	if (!length || memchr(text, '\0', length))
		return -EINVAL;
	*ret_owner = mapping_intern_owner(mapping, kind, text, length);
	return *ret_owner ? 0 : -ENOMEM;
}

bool owner_equal(const struct owner *a, const struct owner *b)
{
	if (!a || !b)
		return a == b;
	return a == b || (a->kind == b->kind && !strcmp(a->name, b->name));
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

/* Unscoped first, then family, interface and address scopes; within a
 * kind by name (interfaces), family, then address bytes. */
int scope_compare(const struct scope *a, const struct scope *b)
{
	int order;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	/* An interface's families together, after each other. */
	if (a->kind == SCOPE_IIF) {
		order = strncmp(a->iif, b->iif, sizeof(a->iif));
		if (order)
			return order < 0 ? -1 : 1;
	}
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	order = a->kind == SCOPE_ON ? memcmp(a->address, b->address, sizeof(a->address)) : 0;
	return order < 0 ? -1 : order > 0;
}

void scope_text(const struct scope *scope, char buffer[SCOPE_TEXT_MAX])
{
	char address[INET6_ADDRSTRLEN] = "?";
	const char *family = scope->family == 4 ? " ipv4" : scope->family == 6 ? " ipv6" : "";

	switch (scope->kind) {
	case SCOPE_ON:
		inet_ntop(scope->family == 4 ? AF_INET : AF_INET6, scope->address, address, sizeof(address));
		snprintf(buffer, SCOPE_TEXT_MAX, " on %s", address);
		break;
	case SCOPE_IIF:
		snprintf(buffer, SCOPE_TEXT_MAX, " iif %.*s%s", SCOPE_IFNAME_SIZE - 1, scope->iif, family);
		break;
	case SCOPE_FAMILY:
		snprintf(buffer, SCOPE_TEXT_MAX, "%s", family);
		break;
	default:
		buffer[0] = '\0';
	}
}

void scope_iif_name(const struct scope *scope, char buffer[SCOPE_IFNAME_SIZE])
{
	memcpy(buffer, scope->iif, SCOPE_IFNAME_SIZE);
	buffer[SCOPE_IFNAME_SIZE - 1] = '\0';
}

int redirect_compare(const struct redirect *a, const struct redirect *b)
{
	if (a->protocol != b->protocol)
		return a->protocol < b->protocol ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return scope_compare(&a->scope, &b->scope);
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

/* Binary search for the redirect that sorts equal to key. */
static const struct redirect *find_key(const struct mapping *mapping, const struct redirect *key)
{
	size_t low = 0, high = mapping->redirect_count;

	while (low < high) {
		size_t middle = low + (high - low) / 2;
		int order = redirect_compare(&mapping->redirects[middle], key);

		if (order == 0)
			return &mapping->redirects[middle];
		if (order < 0)
			low = middle + 1;
		else
			high = middle;
	}
	return NULL;
}

const struct redirect *mapping_find(const struct mapping *mapping, enum protocol protocol, uint16_t port)
{
	const struct redirect key = { .protocol = protocol, .port = port };

	return find_key(mapping, &key);
}

const struct redirect *mapping_find_like(const struct mapping *mapping, const struct redirect *like, uint16_t port)
{
	struct redirect key = *like;

	key.port = port;
	return find_key(mapping, &key);
}

static bool is_any_family_interface(const struct redirect *redirect)
{
	return redirect->scope.kind == SCOPE_IIF && redirect->scope.family == 0;
}

int mapping_kernel_form(const struct mapping *mapping, struct mapping **ret_form)
{
	struct mapping *form;
	size_t count = 0;
	int r;

	*ret_form = NULL;
	for (size_t i = 0; i < mapping->redirect_count; i++)
		count += is_any_family_interface(&mapping->redirects[i]);
	if (!count)
		return 0;
	form = mapping_new();
	if (!form)
		return -ENOMEM;
	form->has_unprivileged_port_start = mapping->has_unprivileged_port_start;
	form->unprivileged_port_start = mapping->unprivileged_port_start;
	form->unprivileged_port_start_location = mapping->unprivileged_port_start_location;
	r = mapping_reserve(form, mapping->redirect_count + count);
	for (size_t i = 0; r >= 0 && i < mapping->redirect_count; i++) {
		struct redirect redirect = mapping->redirects[i];

		if (!is_any_family_interface(&redirect)) {
			r = mapping_add_redirect(form, &redirect);
			continue;
		}
		/* One of the family's own, if the mapping has it, is more
		 * specific and takes that family. */
		for (uint8_t family = 4; r >= 0 && family <= 6; family += 2) {
			redirect.scope.family = family;
			if (!mapping_find_like(mapping, &redirect, redirect.port))
				r = mapping_add_redirect(form, &redirect);
		}
	}
	if (r < 0) {
		mapping_free(form);
		return r;
	}
	mapping_sort(form);
	*ret_form = form;
	return 0;
}

/* Whether a and b are one interface scope's two families, alike in all
 * else. */
static bool family_pair(const struct mapping *mapping, const struct redirect *a, const struct redirect *b)
{
	struct redirect both = *a;

	/* A file may have the family-less one beside its halves. */
	both.scope.family = 0;
	return !mapping_find_like(mapping, &both, both.port) && a->scope.kind == SCOPE_IIF && b->scope.kind == SCOPE_IIF && a->scope.family == 4 &&
	       b->scope.family == 6 && a->protocol == b->protocol && a->port == b->port && a->target == b->target &&
	       !strncmp(a->scope.iif, b->scope.iif, sizeof(a->scope.iif)) && owner_equal(a->owner, b->owner);
}

int mapping_joined_form(const struct mapping *mapping, struct mapping **ret_form)
{
	struct mapping *form;
	size_t pairs = 0;
	int r = 0;

	*ret_form = NULL;
	for (size_t i = 0; i < mapping->redirect_count; i++) {
		struct redirect other = mapping->redirects[i];
		const struct redirect *found;

		if (other.scope.kind != SCOPE_IIF || other.scope.family != 4)
			continue;
		other.scope.family = 6;
		found = mapping_find_like(mapping, &other, other.port);
		pairs += found && family_pair(mapping, &mapping->redirects[i], found);
	}
	if (!pairs)
		return 0;
	form = mapping_new();
	if (!form)
		return -ENOMEM;
	form->has_unprivileged_port_start = mapping->has_unprivileged_port_start;
	form->unprivileged_port_start = mapping->unprivileged_port_start;
	form->unprivileged_port_start_location = mapping->unprivileged_port_start_location;
	r = mapping_reserve(form, mapping->redirect_count);
	for (size_t i = 0; r >= 0 && i < mapping->redirect_count; i++) {
		struct redirect redirect = mapping->redirects[i], other = redirect;
		const struct redirect *found;

		if (redirect.scope.kind == SCOPE_IIF && redirect.scope.family != 0) {
			other.scope.family = (uint8_t)(redirect.scope.family == 4 ? 6 : 4);
			found = mapping_find_like(mapping, &other, other.port);
			if (found && (redirect.scope.family == 4 ? family_pair(mapping, &redirect, found) : family_pair(mapping, found, &redirect))) {
				/* The pair's ipv6 half goes with its ipv4 half. */
				if (redirect.scope.family == 6)
					continue;
				redirect.scope.family = 0;
			}
		}
		r = mapping_add_redirect(form, &redirect);
	}
	if (r < 0) {
		mapping_free(form);
		return r;
	}
	mapping_sort(form);
	*ret_form = form;
	return 0;
}

size_t mapping_first_of_port(const struct mapping *mapping, enum protocol protocol, uint16_t port)
{
	const struct redirect key = { .protocol = protocol, .port = port };
	size_t low = 0, high = mapping->redirect_count;

	/* The unscoped key sorts first among the port's. */
	while (low < high) {
		size_t middle = low + (high - low) / 2;

		if (redirect_compare(&mapping->redirects[middle], &key) < 0)
			low = middle + 1;
		else
			high = middle;
	}
	return low;
}

const struct redirect *mapping_find_port(const struct mapping *mapping, enum protocol protocol, uint16_t port)
{
	size_t at = mapping_first_of_port(mapping, protocol, port);

	if (at < mapping->redirect_count && mapping->redirects[at].protocol == protocol &&
	    mapping->redirects[at].port == port)
		return &mapping->redirects[at];
	return NULL;
}
