/* Records of the maps' elements between runs (cache.h): files written
 * whole under a temporary name and renamed into place, so that a reader
 * sees the old record or the new one, never half of one. The records are
 * in host byte order and layout, for this machine only; the magic names
 * the format's version. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cache.h"
#include "runtime_directory.h"

#define CACHE_MAGIC "prelems3"
#define CACHE_NAME_LENGTH 16
#define CACHE_ABANDONED_SECONDS 60

struct cache_header {
	char magic[8];
	uint64_t table_id;
	uint32_t generation;
	/* Entries of each protocol's base map, tcp's first, each sorted by
	 * port; then the scoped maps' entries, in the mapping's order. */
	uint32_t counts[PROTOCOL_COUNT];
	uint32_t scoped_count;
	/* Over the header (with this field 0), then the entries. */
	uint64_t checksum;
};

struct cache_entry {
	uint16_t port;
	uint16_t target;
};

/* An element of a scoped map: its protocol, scope (in the kernel's form:
 * always with a family) and port. */
struct cache_scoped_entry {
	uint8_t protocol;
	struct scope scope;
	uint8_t padding;
	uint16_t port;
	uint16_t target;
};
_Static_assert(sizeof(struct cache_scoped_entry) == 24, "scoped entries are 24 bytes");

#define CACHE_MAX_ENTRIES ((size_t)PROTOCOL_COUNT * (UINT16_MAX + 1))
/* A record is read whole into memory: scoped entries are bounded too,
 * by more than a mapping of every port in every scope kind has. */
#define CACHE_MAX_SCOPED_ENTRIES ((size_t)1 << 20)
#define CACHE_MAX_SIZE (sizeof(struct cache_header) + CACHE_MAX_ENTRIES * sizeof(struct cache_entry) + \
			CACHE_MAX_SCOPED_ENTRIES * sizeof(struct cache_scoped_entry))

#define CHECKSUM_START 0xcbf29ce484222325ull
#define CHECKSUM_PRIME 0x100000001b3ull

/* FNV-1a's constants, eight bytes at a time (a record is half a MiB, and
 * is checked on every run): each step is a bijection of the word, so any
 * one changed word changes the sum. It catches a record cut short or
 * changed by accident, which is all a file only its owner can write
 * needs. Continued from hash. */
static uint64_t checksum(uint64_t hash, const void *buffer, size_t length)
{
	const unsigned char *bytes = buffer;
	uint64_t word;

	for (; length >= sizeof(word); bytes += sizeof(word), length -= sizeof(word)) {
		memcpy(&word, bytes, sizeof(word));
		hash = (hash ^ word) * CHECKSUM_PRIME;
		hash ^= hash >> 32;
	}
	for (; length; bytes++, length--)
		hash = (hash ^ *bytes) * CHECKSUM_PRIME;
	return hash;
}

/* A directory or file is trusted when the user portredir runs as owns it
 * and nobody else may write it: a record others could forge would make
 * portredir believe the kernel holds what it does not. */
static bool trusted(const struct stat *status)
{
	return status->st_uid == geteuid() && !(status->st_mode & (S_IWGRP | S_IWOTH));
}

/* The runtime directory, walked from / (runtime_directory.h), and the
 * running user's own: not the service user's, whose records root does not
 * take for its own. */
static int open_directory(bool create)
{
	struct path_problem problem;
	struct path_trust trust;
	struct stat status;
	int fd;

	fd = runtime_directory_open(create, false, &trust, &problem);
	if (fd < 0)
		return fd;
	if (fstat(fd, &status) < 0 || !trusted(&status)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

static void record_name(char name[CACHE_NAME_LENGTH + 1], uint64_t table_id)
{
	snprintf(name, CACHE_NAME_LENGTH + 1, "%016" PRIx64, table_id);
}

static int read_all(int fd, void *buffer, size_t length)
{
	char *cursor = buffer;

	while (length) {
		ssize_t n = read(fd, cursor, length);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EBADMSG;
		cursor += n;
		length -= (size_t)n;
	}
	return 0;
}

static int write_all(int fd, const void *buffer, size_t length)
{
	const char *cursor = buffer;

	while (length) {
		ssize_t n = write(fd, cursor, length);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		cursor += n;
		length -= (size_t)n;
	}
	return 0;
}

/* Reads a whole record of at most CACHE_MAX_SIZE bytes; malloc'd. */
static int read_record(int directory, uint64_t table_id, char **ret_buffer, size_t *ret_length)
{
	char name[CACHE_NAME_LENGTH + 1];
	struct stat status;
	char *buffer;
	int fd, r;

	record_name(name, table_id);
	fd = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &status) < 0) {
		r = -errno;
		goto out;
	}
	r = -EPERM;
	if (!S_ISREG(status.st_mode) || !trusted(&status))
		goto out;
	r = -EBADMSG;
	if (status.st_size < (off_t)sizeof(struct cache_header) || status.st_size > (off_t)CACHE_MAX_SIZE)
		goto out;
	r = -ENOMEM;
	buffer = malloc((size_t)status.st_size);
	if (!buffer)
		goto out;
	r = read_all(fd, buffer, (size_t)status.st_size);
	if (r < 0) {
		free(buffer);
		goto out;
	}
	*ret_buffer = buffer;
	*ret_length = (size_t)status.st_size;
out:
	close(fd);
	return r;
}

static bool zero_bytes(const void *data, size_t length)
{
	const unsigned char *bytes = data;

	for (size_t i = 0; i < length; i++) {
		if (bytes[i])
			return false;
	}
	return true;
}

/* A scope as the kernel's maps hold one: with a family, and with nothing
 * in the bytes its kind does not use. */
static bool scope_recordable(const struct scope *scope)
{
	size_t length;

	if (scope->family != 4 && scope->family != 6)
		return false;
	switch (scope->kind) {
	case SCOPE_FAMILY:
		return zero_bytes(scope->address, sizeof(scope->address));
	case SCOPE_IIF:
		length = strnlen(scope->iif, sizeof(scope->iif));
		return length > 0 && length < sizeof(scope->iif) &&
		       zero_bytes(scope->iif + length, sizeof(scope->iif) - length);
	case SCOPE_ON:
		return scope->family == 6 || zero_bytes(scope->address + 4, sizeof(scope->address) - 4);
	default:
		return false;
	}
}

/* Checks a record through and through before a byte of it is believed:
 * its size, checksum, table and order. */
static int decode_record(const char *buffer, size_t length, uint64_t table_id, uint32_t generation,
			 struct mapping **ret_mapping)
{
	struct cache_header header;
	const struct cache_entry *entries;
	const struct cache_scoped_entry *scoped;
	struct mapping *mapping;
	size_t total = 0, at = 0;
	uint64_t sum;
	int r = 0;

	memcpy(&header, buffer, sizeof(header));
	if (memcmp(header.magic, CACHE_MAGIC, sizeof(header.magic)) || header.table_id != table_id)
		return -EBADMSG;
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		if (header.counts[i] > UINT16_MAX + 1u)
			return -EBADMSG;
		total += header.counts[i];
	}
	if (header.scoped_count > CACHE_MAX_SCOPED_ENTRIES ||
	    length != sizeof(header) + total * sizeof(struct cache_entry) +
			      header.scoped_count * sizeof(struct cache_scoped_entry))
		return -EBADMSG;
	sum = header.checksum;
	header.checksum = 0;
	if (checksum(checksum(CHECKSUM_START, &header, sizeof(header)), buffer + sizeof(header),
		     length - sizeof(header)) != sum)
		return -EBADMSG;
	if (header.generation != generation)
		return -ESTALE;
	mapping = mapping_new();
	if (!mapping || mapping_reserve(mapping, total + header.scoped_count) < 0) {
		mapping_free(mapping);
		return -ENOMEM;
	}
	/* The entries follow a 40-byte header: aligned for 16-bit fields. */
	entries = (const struct cache_entry *)(const void *)(buffer + sizeof(header));
	for (int i = 0; r >= 0 && i < PROTOCOL_COUNT; i++) {
		for (uint32_t j = 0; r >= 0 && j < header.counts[i]; j++, at++) {
			const struct redirect redirect = {
				.protocol = (enum protocol)i,
				.port = entries[at].port,
				.target = entries[at].target,
			};

			if (j && entries[at].port <= entries[at - 1].port)
				r = -EBADMSG;
			else if (mapping_add_redirect(mapping, &redirect) < 0)
				r = -ENOMEM;
		}
	}
	scoped = (const struct cache_scoped_entry *)(const void *)(buffer + sizeof(header) +
								   total * sizeof(struct cache_entry));
	for (uint32_t j = 0; r >= 0 && j < header.scoped_count; j++) {
		struct cache_scoped_entry entry;
		struct redirect redirect = { .protocol = PROTOCOL_TCP };

		memcpy(&entry, &scoped[j], sizeof(entry));
		if (entry.protocol >= PROTOCOL_COUNT || entry.padding || !scope_recordable(&entry.scope)) {
			r = -EBADMSG;
			break;
		}
		redirect.protocol = (enum protocol)entry.protocol;
		redirect.scope = entry.scope;
		redirect.port = entry.port;
		redirect.target = entry.target;
		if (mapping_add_redirect(mapping, &redirect) < 0)
			r = -ENOMEM;
	}
	if (r >= 0 && header.scoped_count) {
		mapping_sort(mapping);
		for (size_t i = 1; r >= 0 && i < mapping->redirect_count; i++) {
			if (!redirect_compare(&mapping->redirects[i - 1], &mapping->redirects[i]))
				r = -EBADMSG;
		}
	}
	if (r < 0) {
		mapping_free(mapping);
		return r;
	}
	*ret_mapping = mapping;
	return 0;
}

int cache_lookup(uint64_t table_id, uint32_t generation, struct mapping **ret_mapping)
{
	char *buffer = NULL;
	size_t length = 0;
	int directory, r;

	directory = open_directory(false);
	if (directory < 0)
		return directory;
	r = read_record(directory, table_id, &buffer, &length);
	close(directory);
	if (r < 0)
		return r;
	r = decode_record(buffer, length, table_id, generation, ret_mapping);
	free(buffer);
	return r;
}

struct record_age {
	char name[CACHE_NAME_LENGTH + 1];
	struct timespec written;
};

static bool is_record_name(const char *name)
{
	if (strlen(name) != CACHE_NAME_LENGTH)
		return false;
	for (const char *c = name; *c; c++) {
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
			return false;
	}
	return true;
}

/* What cache_store() writes before renaming it: "<record>.<pid>.tmp". */
static bool is_temporary_name(const char *name)
{
	char record[CACHE_NAME_LENGTH + 1];
	size_t length = strlen(name);

	if (length <= CACHE_NAME_LENGTH + strlen(".tmp") || name[CACHE_NAME_LENGTH] != '.' ||
	    strcmp(name + length - strlen(".tmp"), ".tmp"))
		return false;
	memcpy(record, name, CACHE_NAME_LENGTH);
	record[CACHE_NAME_LENGTH] = '\0';
	return is_record_name(record);
}

static bool older(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec != b->tv_sec ? a->tv_sec < b->tv_sec : a->tv_nsec < b->tv_nsec;
}

/* Whether name in directory is a record portredir wrote (or was writing,
 * for a temporary name): a regular file of the running user's, no larger
 * than a record can be, starting with this version's header for the table
 * its name gives, and, for a record, exactly as long as that header says.
 * Nothing else in the directory is ever removed. */
static bool is_own_record(int directory, const char *name, bool temporary, struct stat *status)
{
	struct cache_header header;
	uint64_t table_id = 0;
	bool own = false;
	size_t total = 0;
	int fd;

	fd = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return false;
	if (fstat(fd, status) < 0 || !S_ISREG(status->st_mode) || !trusted(status) ||
	    status->st_size < (off_t)sizeof(header) || status->st_size > (off_t)CACHE_MAX_SIZE ||
	    read_all(fd, &header, sizeof(header)) < 0)
		goto out;
	for (int i = 0; i < CACHE_NAME_LENGTH; i++)
		table_id = table_id << 4 | (uint64_t)(name[i] <= '9' ? name[i] - '0' : name[i] - 'a' + 10);
	if (memcmp(header.magic, CACHE_MAGIC, sizeof(header.magic)) || header.table_id != table_id)
		goto out;
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		if (header.counts[i] > UINT16_MAX + 1u)
			goto out;
		total += header.counts[i];
	}
	own = temporary || (size_t)status->st_size == sizeof(header) + total * sizeof(struct cache_entry);
out:
	close(fd);
	return own;
}

/* Keeps the CACHE_MAX_RECORDS most recently written records, and removes
 * what a run that died while writing one left (no writer takes a minute). */
static void prune(int directory)
{
	struct record_age kept[CACHE_MAX_RECORDS + 1];
	struct timespec abandoned;
	size_t count = 0;
	struct dirent *entry;
	DIR *listing;
	int fd;

	clock_gettime(CLOCK_REALTIME, &abandoned);
	abandoned.tv_sec -= CACHE_ABANDONED_SECONDS;

	fd = dup(directory);
	if (fd < 0)
		return;
	listing = fdopendir(fd);
	if (!listing) {
		close(fd);
		return;
	}
	while ((entry = readdir(listing))) {
		struct stat status;
		size_t oldest = 0;

		if (is_temporary_name(entry->d_name)) {
			if (is_own_record(directory, entry->d_name, true, &status) &&
			    older(&status.st_mtim, &abandoned))
				unlinkat(directory, entry->d_name, 0);
			continue;
		}
		if (!is_record_name(entry->d_name) || !is_own_record(directory, entry->d_name, false, &status))
			continue;
		snprintf(kept[count].name, sizeof(kept[count].name), "%s", entry->d_name);
		kept[count].written = status.st_mtim;
		if (++count <= CACHE_MAX_RECORDS)
			continue;
		for (size_t i = 1; i < count; i++) {
			if (older(&kept[i].written, &kept[oldest].written))
				oldest = i;
		}
		unlinkat(directory, kept[oldest].name, 0);
		kept[oldest] = kept[--count];
	}
	closedir(listing);
}

static int encode_record(uint64_t table_id, uint32_t generation, const struct mapping *mapping,
			 char **ret_buffer, size_t *ret_length)
{
	struct cache_header header = { .table_id = table_id, .generation = generation };
	struct cache_scoped_entry *scoped;
	struct cache_entry *entries;
	size_t length, plain = 0, at = 0;
	char *buffer;

	for (size_t i = 0; i < mapping->redirect_count; i++)
		plain += mapping->redirects[i].scope.kind == SCOPE_NONE;
	if (plain > CACHE_MAX_ENTRIES || mapping->redirect_count - plain > CACHE_MAX_SCOPED_ENTRIES)
		return -E2BIG;
	memcpy(header.magic, CACHE_MAGIC, sizeof(header.magic));
	length = sizeof(header) + plain * sizeof(*entries) + (mapping->redirect_count - plain) * sizeof(*scoped);
	buffer = calloc(1, length);
	if (!buffer)
		return -ENOMEM;
	entries = (struct cache_entry *)(void *)(buffer + sizeof(header));
	scoped = (struct cache_scoped_entry *)(void *)(buffer + sizeof(header) + plain * sizeof(*entries));
	for (size_t i = 0; i < mapping->redirect_count; i++) {
		const struct redirect *redirect = &mapping->redirects[i];
		struct cache_scoped_entry entry = { 0 };

		if (redirect->scope.kind == SCOPE_NONE) {
			header.counts[redirect->protocol]++;
			entries[at++] = (struct cache_entry){ .port = redirect->port, .target = redirect->target };
			continue;
		}
		entry.protocol = (uint8_t)redirect->protocol;
		entry.scope = redirect->scope;
		entry.port = redirect->port;
		entry.target = redirect->target;
		memcpy(&scoped[header.scoped_count++], &entry, sizeof(entry));
	}
	header.checksum = checksum(checksum(CHECKSUM_START, &header, sizeof(header)), entries,
				   length - sizeof(header));
	memcpy(buffer, &header, sizeof(header));
	*ret_buffer = buffer;
	*ret_length = length;
	return 0;
}

int cache_store(uint64_t table_id, uint32_t generation, const struct mapping *mapping)
{
	char name[CACHE_NAME_LENGTH + 1], temporary[CACHE_NAME_LENGTH + 32];
	char *buffer = NULL;
	size_t length = 0;
	int directory, fd, r;

	r = encode_record(table_id, generation, mapping, &buffer, &length);
	if (r < 0)
		return r;
	directory = open_directory(true);
	if (directory < 0) {
		free(buffer);
		return directory;
	}
	record_name(name, table_id);
	/* Not a record name: prune() passes it by. */
	snprintf(temporary, sizeof(temporary), "%s.%ld.tmp", name, (long)getpid());
	fd = openat(directory, temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = write_all(fd, buffer, length);
	if (close(fd) < 0 && r >= 0)
		r = -errno;
	if (r >= 0 && renameat(directory, temporary, directory, name) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(directory, temporary, 0);
	else
		prune(directory);
out:
	close(directory);
	free(buffer);
	return r;
}

char *cache_directory_problem(void)
{
	struct stat status;
	char *line = runtime_directory_problem(false);
	int fd;

	if (line)
		return line;
	fd = open_directory(false);
	if (fd >= 0) {
		close(fd);
		return NULL;
	}
	if (fd == -EPERM && stat(runtime_directory_path(), &status) == 0 &&
	    asprintf(&line, "%s is owned by uid %u, not by uid %u that portredir runs as; only its own records are believed",
		     runtime_directory_path(), (unsigned int)status.st_uid, (unsigned int)geteuid()) < 0)
		line = NULL;
	return line;
}

void cache_record_path(uint64_t table_id, char *buffer, size_t size)
{
	char name[CACHE_NAME_LENGTH + 1];

	record_name(name, table_id);
	snprintf(buffer, size, "%s/%s", runtime_directory_path(), name);
}

int cache_forget(uint64_t table_id)
{
	char name[CACHE_NAME_LENGTH + 1];
	int directory, r = 0;

	directory = open_directory(false);
	if (directory == -ENOENT)
		return 0;
	if (directory < 0)
		return directory;
	record_name(name, table_id);
	if (unlinkat(directory, name, 0) < 0 && errno != ENOENT)
		r = -errno;
	close(directory);
	return r;
}

const struct kernel_cache cache_files = {
	.lookup = cache_lookup,
	.store = cache_store,
	.path = cache_record_path,
};
