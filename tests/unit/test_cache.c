/* The element cache's files, in a directory of the test's own: what it
 * gives back, and everything it refuses to believe. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cache.h"

#define TABLE_ID 0x00c0ffee12345678ull
#define RECORD_NAME "00c0ffee12345678"

struct fixture {
	char root[64];
	char directory[96];
};

static int setup(void **state)
{
	struct fixture *fixture = calloc(1, sizeof(*fixture));

	assert_non_null(fixture);
	snprintf(fixture->root, sizeof(fixture->root), "/tmp/portredir-cache-test.XXXXXX");
	assert_non_null(mkdtemp(fixture->root));
	/* Not created yet: the first store makes it. */
	snprintf(fixture->directory, sizeof(fixture->directory), "%s/cache", fixture->root);
	assert_int_equal(setenv(CACHE_DIRECTORY_VARIABLE, fixture->directory, 1), 0);
	*state = fixture;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fixture = *state;
	char command[160];

	snprintf(command, sizeof(command), "rm -rf '%s'", fixture->root);
	assert_int_equal(system(command), 0);
	free(fixture);
	return 0;
}

static void record_path(const struct fixture *fixture, const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", fixture->directory, name);
}

static struct mapping *sample(size_t per_protocol)
{
	struct mapping *mapping = mapping_new();

	assert_non_null(mapping);
	for (int protocol = 0; protocol < PROTOCOL_COUNT; protocol++) {
		for (size_t i = 0; i < per_protocol; i++) {
			const struct redirect redirect = {
				.protocol = (enum protocol)protocol,
				.port = (uint16_t)(i + 1),
				.target = (uint16_t)(8000 + i * 3 + (size_t)protocol),
			};

			assert_int_equal(mapping_add_redirect(mapping, &redirect), 0);
		}
	}
	return mapping;
}

static void assert_same_redirects(const struct mapping *actual, const struct mapping *expected)
{
	assert_int_equal(actual->redirect_count, expected->redirect_count);
	for (size_t i = 0; i < expected->redirect_count; i++) {
		assert_int_equal(actual->redirects[i].protocol, expected->redirects[i].protocol);
		assert_int_equal(actual->redirects[i].port, expected->redirects[i].port);
		assert_int_equal(actual->redirects[i].target, expected->redirects[i].target);
		assert_null(actual->redirects[i].location.file);
	}
}

static void a_stored_record_is_found_at_its_generation_only(void **state)
{
	struct fixture *fixture = *state;
	struct mapping *stored = sample(1000), *found = NULL;
	struct stat status;

	assert_int_equal(cache_store(TABLE_ID, 7, stored), 0);
	assert_int_equal(stat(fixture->directory, &status), 0);
	assert_int_equal(status.st_mode & 07777, 0700);
	assert_int_equal(cache_lookup(TABLE_ID, 7, &found), 0);
	assert_same_redirects(found, stored);
	mapping_free(found);
	found = NULL;
	assert_int_equal(cache_lookup(TABLE_ID, 8, &found), -ESTALE);
	assert_int_equal(cache_lookup(TABLE_ID + 1, 7, &found), -ENOENT);
	assert_null(found);
	mapping_free(stored);
}

/* The scoped maps' elements: kept apart from the base maps' and read
 * back in the mapping's order, scopes byte for byte; a scope the
 * kernel's maps cannot hold makes the record unusable. */
static void scoped_redirects_come_back_with_their_scopes(void **state)
{
	struct mapping *stored = sample(3), *found = NULL;
	struct redirect on = { .protocol = PROTOCOL_UDP, .port = 2, .target = 9002 };
	struct redirect iif = { .protocol = PROTOCOL_TCP, .port = 2, .target = 9001 };
	struct redirect family = { .protocol = PROTOCOL_TCP, .port = 1, .target = 9000 };

	(void)state;
	on.scope = (struct scope){ .kind = SCOPE_ON, .family = 6, .address = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } };
	iif.scope = (struct scope){ .kind = SCOPE_IIF, .family = 4, .iif = "wg0" };
	family.scope = (struct scope){ .kind = SCOPE_FAMILY, .family = 6 };
	assert_int_equal(mapping_add_redirect(stored, &on), 0);
	assert_int_equal(mapping_add_redirect(stored, &iif), 0);
	assert_int_equal(mapping_add_redirect(stored, &family), 0);
	mapping_sort(stored);
	assert_int_equal(cache_store(TABLE_ID, 5, stored), 0);
	assert_int_equal(cache_lookup(TABLE_ID, 5, &found), 0);
	assert_same_redirects(found, stored);
	for (size_t i = 0; i < stored->redirect_count; i++)
		assert_int_equal(scope_compare(&found->redirects[i].scope, &stored->redirects[i].scope), 0);
	mapping_free(found);
	found = NULL;
	/* The kernel form has a family for every interface scope. */
	mapping_free(stored);
	stored = sample(1);
	iif.scope.family = 0;
	assert_int_equal(mapping_add_redirect(stored, &iif), 0);
	assert_int_equal(cache_store(TABLE_ID, 6, stored), 0);
	assert_int_equal(cache_lookup(TABLE_ID, 6, &found), -EBADMSG);
	assert_null(found);
	mapping_free(stored);
}

/* 2 x 65,536 keys is the most the maps can hold; and nothing at all. */
static void the_largest_and_the_empty_mapping_come_back_whole(void **state)
{
	struct mapping *full = sample(UINT16_MAX + 1u), *empty = mapping_new(), *found = NULL;

	(void)state;
	/* Ports 1..65,536 wrap to 0 at the end: make the order valid. */
	for (size_t i = 0; i < full->redirect_count; i++)
		full->redirects[i].port = (uint16_t)(i % (UINT16_MAX + 1u));
	assert_int_equal(cache_store(TABLE_ID, 1, full), 0);
	assert_int_equal(cache_lookup(TABLE_ID, 1, &found), 0);
	assert_same_redirects(found, full);
	mapping_free(found);
	assert_int_equal(cache_store(TABLE_ID, 2, empty), 0);
	assert_int_equal(cache_lookup(TABLE_ID, 2, &found), 0);
	assert_int_equal(found->redirect_count, 0);
	mapping_free(found);
	mapping_free(full);
	mapping_free(empty);
}

static void a_new_record_replaces_the_old(void **state)
{
	struct mapping *first = sample(10), *second = sample(3), *found = NULL;

	(void)state;
	assert_int_equal(cache_store(TABLE_ID, 1, first), 0);
	assert_int_equal(cache_store(TABLE_ID, 2, second), 0);
	assert_int_equal(cache_lookup(TABLE_ID, 1, &found), -ESTALE);
	assert_int_equal(cache_lookup(TABLE_ID, 2, &found), 0);
	assert_same_redirects(found, second);
	mapping_free(found);
	mapping_free(first);
	mapping_free(second);
}

static void flip_byte(const char *path, off_t offset)
{
	unsigned char byte;
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &byte, 1, offset), 1);
	byte ^= 0x01;
	assert_int_equal(pwrite(fd, &byte, 1, offset), 1);
	assert_int_equal(close(fd), 0);
}

static void a_changed_or_cut_record_is_refused(void **state)
{
	struct fixture *fixture = *state;
	struct mapping *stored = sample(100), *found = NULL;
	char path[160];
	struct stat status;

	record_path(fixture, RECORD_NAME, path, sizeof(path));
	assert_int_equal(cache_store(TABLE_ID, 3, stored), 0);
	assert_int_equal(stat(path, &status), 0);
	/* One target changed. */
	flip_byte(path, status.st_size - 1);
	assert_int_equal(cache_lookup(TABLE_ID, 3, &found), -EBADMSG);
	/* The generation changed: not stale, forged. */
	assert_int_equal(cache_store(TABLE_ID, 3, stored), 0);
	flip_byte(path, 16);
	assert_int_equal(cache_lookup(TABLE_ID, 2, &found), -EBADMSG);
	/* Cut short by one entry, by half an entry, and to nothing. */
	assert_int_equal(cache_store(TABLE_ID, 3, stored), 0);
	assert_int_equal(truncate(path, status.st_size - 4), 0);
	assert_int_equal(cache_lookup(TABLE_ID, 3, &found), -EBADMSG);
	assert_int_equal(truncate(path, status.st_size - 2), 0);
	assert_int_equal(cache_lookup(TABLE_ID, 3, &found), -EBADMSG);
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(cache_lookup(TABLE_ID, 3, &found), -EBADMSG);
	assert_null(found);
	mapping_free(stored);
}

static void a_directory_others_can_write_is_not_used(void **state)
{
	struct fixture *fixture = *state;
	struct mapping *stored = sample(5), *found = NULL;
	char path[160];

	assert_int_equal(cache_store(TABLE_ID, 1, stored), 0);
	assert_int_equal(chmod(fixture->directory, 0770), 0);
	assert_int_equal(cache_lookup(TABLE_ID, 1, &found), -EPERM);
	assert_int_equal(cache_store(TABLE_ID, 2, stored), -EPERM);
	assert_int_equal(chmod(fixture->directory, 0707), 0);
	assert_int_equal(cache_lookup(TABLE_ID, 1, &found), -EPERM);
	/* Readable by others is no threat to what portredir believes. */
	assert_int_equal(chmod(fixture->directory, 0755), 0);
	assert_int_equal(cache_lookup(TABLE_ID, 1, &found), 0);
	mapping_free(found);
	found = NULL;
	/* A record others can write is as bad. */
	record_path(fixture, RECORD_NAME, path, sizeof(path));
	assert_int_equal(chmod(path, 0666), 0);
	assert_int_equal(cache_lookup(TABLE_ID, 1, &found), -EPERM);
	assert_null(found);
	mapping_free(stored);
}

static void a_record_that_is_a_symbolic_link_is_not_followed_nor_a_directory_link_of_another_user(void **state)
{
	struct fixture *fixture = *state;
	struct mapping *stored = sample(5), *found = NULL;
	char path[160], real[160], link[160];

	assert_int_equal(cache_store(TABLE_ID, 1, stored), 0);
	record_path(fixture, RECORD_NAME, path, sizeof(path));
	record_path(fixture, "elsewhere", real, sizeof(real));
	assert_int_equal(rename(path, real), 0);
	assert_int_equal(symlink("elsewhere", path), 0);
	assert_int_equal(cache_lookup(TABLE_ID, 1, &found), -ELOOP);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rename(real, path), 0);

	/* A link to the directory is followed only when it passes the
	 * StrictModes walk (path_trust.h): root's is, another user's is not. */
	snprintf(link, sizeof(link), "%s/link", fixture->root);
	assert_int_equal(symlink(fixture->directory, link), 0);
	assert_int_equal(setenv(CACHE_DIRECTORY_VARIABLE, link, 1), 0);
	assert_int_equal(cache_lookup(TABLE_ID, 1, &found), 0);
	mapping_free(found);
	found = NULL;
	if (geteuid() == 0) {
		assert_int_equal(lchown(link, 65534, (gid_t)-1), 0);
		assert_int_equal(cache_lookup(TABLE_ID, 1, &found), -EPERM);
		assert_int_equal(cache_store(TABLE_ID, 2, stored), -EPERM);
	}
	assert_int_equal(setenv(CACHE_DIRECTORY_VARIABLE, fixture->directory, 1), 0);
	assert_null(found);
	mapping_free(stored);
}

static void a_record_owned_by_another_user_is_not_used(void **state)
{
	struct fixture *fixture = *state;
	struct mapping *stored = sample(5), *found = NULL;
	char path[160];

	if (geteuid() != 0) {
		mapping_free(stored);
		skip();
	}
	assert_int_equal(cache_store(TABLE_ID, 1, stored), 0);
	record_path(fixture, RECORD_NAME, path, sizeof(path));
	assert_int_equal(chown(path, 65534, 65534), 0);
	assert_int_equal(cache_lookup(TABLE_ID, 1, &found), -EPERM);
	assert_int_equal(chown(fixture->directory, 65534, 65534), 0);
	assert_int_equal(cache_store(TABLE_ID, 1, stored), -EPERM);
	assert_null(found);
	mapping_free(stored);
}

static void forgetting_removes_the_record_and_is_idempotent(void **state)
{
	struct mapping *stored = sample(5), *found = NULL;

	(void)state;
	assert_int_equal(cache_forget(TABLE_ID), 0);
	assert_int_equal(cache_store(TABLE_ID, 1, stored), 0);
	assert_int_equal(cache_forget(TABLE_ID), 0);
	assert_int_equal(cache_lookup(TABLE_ID, 1, &found), -ENOENT);
	assert_int_equal(cache_forget(TABLE_ID), 0);
	mapping_free(stored);
}

/* Records of namespaces that are gone cannot pile up: the least recently
 * written go, and files that are not records stay. */
static void only_the_most_recently_written_records_are_kept(void **state)
{
	struct fixture *fixture = *state;
	struct mapping *stored = sample(2), *found = NULL;
	const struct timespec ancient[2] = { { .tv_sec = 1 }, { .tv_sec = 1 } };
	char path[160], foreign[160];
	int fd;

	record_path(fixture, "notes.txt", path, sizeof(path));
	for (uint64_t i = 0; i < CACHE_MAX_RECORDS; i++) {
		char name[32];
		struct timespec times[2];

		assert_int_equal(cache_store(i + 1, 1, stored), 0);
		snprintf(name, sizeof(name), "%016llx", (unsigned long long)(i + 1));
		record_path(fixture, name, path, sizeof(path));
		/* Written one second after another, the first longest ago. */
		times[0] = times[1] = (struct timespec){ .tv_sec = 1000000 + (time_t)i };
		assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
	}
	/* Named like a record, but not one by its content: never removed,
	 * however old. */
	record_path(fixture, "0000000000abcdef", foreign, sizeof(foreign));
	fd = open(foreign, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "someone else's file, not a record of portredir's\n", 50), 50);
	close(fd);
	assert_int_equal(utimensat(AT_FDCWD, foreign, ancient, 0), 0);
	record_path(fixture, "notes.txt", path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(cache_store(CACHE_MAX_RECORDS + 1, 1, stored), 0);
	assert_int_equal(cache_lookup(1, 1, &found), -ENOENT);
	for (uint64_t i = 2; i <= CACHE_MAX_RECORDS + 1; i++) {
		assert_int_equal(cache_lookup(i, 1, &found), 0);
		mapping_free(found);
		found = NULL;
	}
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(access(foreign, F_OK), 0);
	mapping_free(stored);
}

/* A run that died while writing a record leaves its temporary file: gone
 * once it is a minute old; one being written now stays, and so do files
 * with such a name that hold no record (an empty one among them). */
static void files_abandoned_while_writing_are_removed(void **state)
{
	struct fixture *fixture = *state;
	struct mapping *stored = sample(2);
	const struct timespec old[2] = { { .tv_sec = 1000000 }, { .tv_sec = 1000000 } };
	char record[160], stale[160], fresh[160], other[160], empty[160], foreign[160];
	const char *paths[] = { stale, fresh, other, empty, foreign };
	char content[64];
	ssize_t length;
	int fd;

	assert_int_equal(cache_store(TABLE_ID, 1, stored), 0);
	record_path(fixture, RECORD_NAME, record, sizeof(record));
	fd = open(record, O_RDONLY);
	assert_true(fd >= 0);
	length = read(fd, content, sizeof(content));
	assert_true(length > 40);
	close(fd);
	record_path(fixture, RECORD_NAME ".4242.tmp", stale, sizeof(stale));
	record_path(fixture, RECORD_NAME ".4243.tmp", fresh, sizeof(fresh));
	record_path(fixture, "notes.tmp", other, sizeof(other));
	record_path(fixture, RECORD_NAME ".4244.tmp", empty, sizeof(empty));
	record_path(fixture, RECORD_NAME ".4245.tmp", foreign, sizeof(foreign));
	for (size_t i = 0; i < 5; i++) {
		fd = open(paths[i], O_WRONLY | O_CREAT, 0600);
		assert_true(fd >= 0);
		/* What a writer that died had written: the record's start. */
		if (paths[i] == stale || paths[i] == fresh)
			assert_int_equal(write(fd, content, (size_t)length), length);
		if (paths[i] == foreign)
			assert_int_equal(write(fd, "0123456789012345678901234567890123456789012345", 46), 46);
		close(fd);
		if (paths[i] != fresh)
			assert_int_equal(utimensat(AT_FDCWD, paths[i], old, 0), 0);
	}
	assert_int_equal(cache_store(TABLE_ID + 1, 1, stored), 0);
	assert_int_equal(access(stale, F_OK), -1);
	assert_int_equal(access(fresh, F_OK), 0);
	assert_int_equal(access(other, F_OK), 0);
	assert_int_equal(access(empty, F_OK), 0);
	assert_int_equal(access(foreign, F_OK), 0);
	mapping_free(stored);
}

/* Without a directory it may create or use, the cache is simply absent. */
static void an_unusable_directory_fails_cleanly(void **state)
{
	struct fixture *fixture = *state;
	struct mapping *stored = sample(5), *found = NULL;
	char path[160];
	int fd;

	snprintf(path, sizeof(path), "%s/file", fixture->root);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(setenv(CACHE_DIRECTORY_VARIABLE, path, 1), 0);
	assert_int_equal(cache_store(TABLE_ID, 1, stored), -ENOTDIR);
	assert_int_equal(cache_lookup(TABLE_ID, 1, &found), -ENOTDIR);
	snprintf(path, sizeof(path), "%s/missing/cache", fixture->root);
	assert_int_equal(setenv(CACHE_DIRECTORY_VARIABLE, path, 1), 0);
	assert_int_equal(cache_lookup(TABLE_ID, 1, &found), -ENOENT);
	assert_int_equal(cache_store(TABLE_ID, 1, stored), -ENOENT);
	assert_int_equal(cache_forget(TABLE_ID), 0);
	assert_null(found);
	mapping_free(stored);
}

/* What -v names when a record was not used. */
static void the_record_path_is_the_file_a_lookup_reads(void **state)
{
	const struct fixture *fixture = *state;
	char expected[160], path[160], cut[8];

	record_path(fixture, RECORD_NAME, expected, sizeof(expected));
	cache_record_path(TABLE_ID, path, sizeof(path));
	assert_string_equal(path, expected);
	assert_ptr_equal(cache_files.path, cache_record_path);
	cache_record_path(TABLE_ID, cut, sizeof(cut));
	assert_string_equal(cut, "/tmp/po");
	unsetenv(CACHE_DIRECTORY_VARIABLE);
	cache_record_path(TABLE_ID, path, sizeof(path));
	assert_string_equal(path, CACHE_DEFAULT_DIRECTORY "/" RECORD_NAME);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_stored_record_is_found_at_its_generation_only, setup, teardown),
		cmocka_unit_test_setup_teardown(scoped_redirects_come_back_with_their_scopes, setup, teardown),
		cmocka_unit_test_setup_teardown(the_largest_and_the_empty_mapping_come_back_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(a_new_record_replaces_the_old, setup, teardown),
		cmocka_unit_test_setup_teardown(a_changed_or_cut_record_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_directory_others_can_write_is_not_used, setup, teardown),
		cmocka_unit_test_setup_teardown(
			a_record_that_is_a_symbolic_link_is_not_followed_nor_a_directory_link_of_another_user, setup,
			teardown),
		cmocka_unit_test_setup_teardown(a_record_owned_by_another_user_is_not_used, setup, teardown),
		cmocka_unit_test_setup_teardown(forgetting_removes_the_record_and_is_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(only_the_most_recently_written_records_are_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(files_abandoned_while_writing_are_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(an_unusable_directory_fails_cleanly, setup, teardown),
		cmocka_unit_test_setup_teardown(the_record_path_is_the_file_a_lookup_reads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
