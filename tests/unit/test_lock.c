/* The turn of a network namespace (lock.h), in a runtime directory of the
 * test's own: one holder at a time, who it says it is, and every file or
 * directory it refuses to lock in. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "lock.h"
#include "runtime_directory.h"

struct fixture {
	char root[64];
	char directory[96];
	char file[192];
};

static int setup(void **state)
{
	struct fixture *fixture = calloc(1, sizeof(*fixture));
	char name[64];

	assert_non_null(fixture);
	snprintf(fixture->root, sizeof(fixture->root), "/tmp/portredir-lock-test.XXXXXX");
	assert_non_null(mkdtemp(fixture->root));
	assert_int_equal(chmod(fixture->root, 0755), 0);
	snprintf(fixture->directory, sizeof(fixture->directory), "%s/run", fixture->root);
	assert_int_equal(setenv(RUNTIME_DIRECTORY_VARIABLE, fixture->directory, 1), 0);
	lock_file_name(name, sizeof(name));
	snprintf(fixture->file, sizeof(fixture->file), "%s/%s", fixture->directory, name);
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

static void the_first_run_makes_the_directory_and_a_private_lock_file(void **state)
{
	struct fixture *fixture = *state;
	struct stat status;
	char content[256] = "";
	char expected[64];
	int fd, lock;

	lock = lock_namespace(1000, NULL, NULL, NULL);
	assert_true(lock >= 0);
	assert_int_equal(stat(fixture->directory, &status), 0);
	assert_int_equal(status.st_mode & 07777, 0700);
	assert_int_equal(stat(fixture->file, &status), 0);
	assert_int_equal(status.st_mode & 07777, 0600);
	assert_int_equal(status.st_uid, geteuid());
	fd = open(fixture->file, O_RDONLY);
	assert_true(fd >= 0);
	assert_true(read(fd, content, sizeof(content) - 1) > 0);
	close(fd);
	snprintf(expected, sizeof(expected), "%ld %ld ", (long)getpid(), (long)geteuid());
	assert_memory_equal(content, expected, strlen(expected));
	assert_non_null(strstr(content, "test_lock"));
	close(lock);
	/* Released: the next one takes it at once, from the same file. */
	lock = lock_namespace(1000, NULL, NULL, NULL);
	assert_true(lock >= 0);
	close(lock);
}

struct waited {
	int calls;
	long pid;
};

static void note_waiting(const struct lock_holder *holder, long long waited_ms, void *userdata)
{
	struct waited *waited = userdata;

	(void)waited_ms;
	waited->calls++;
	waited->pid = holder->pid;
}

/* While a child holds the turn, the parent waits, sees the child's pid,
 * and times out; once the child exits, it takes the turn. */
static void a_second_run_waits_and_says_who_holds_the_turn(void **state)
{
	struct waited waited = { 0, 0 };
	struct lock_holder holder;
	int ready[2], lock, status;
	pid_t child;
	char byte;

	(void)state;
	assert_int_equal(pipe(ready), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int held = lock_namespace(1000, NULL, NULL, NULL);

		if (held < 0 || write(ready[1], "x", 1) != 1)
			_exit(1);
		sleep(2);
		_exit(0);
	}
	assert_int_equal(read(ready[0], &byte, 1), 1);
	assert_int_equal(lock_namespace(300, note_waiting, &waited, &holder), -ETIMEDOUT);
	assert_int_equal(holder.pid, child);
	assert_int_equal(holder.uid, geteuid());
	assert_true(waited.calls > 0);
	assert_int_equal(waited.pid, child);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	lock = lock_namespace(1000, NULL, NULL, NULL);
	assert_true(lock >= 0);
	close(lock);
	close(ready[0]);
	close(ready[1]);
}

/* A file that others may read could be flock()ed by them; one of another
 * user's could be held by them: neither is used. */
static void a_lock_file_others_could_open_is_refused(void **state)
{
	struct fixture *fixture = *state;
	int lock;

	lock = lock_namespace(1000, NULL, NULL, NULL);
	assert_true(lock >= 0);
	close(lock);
	assert_int_equal(chmod(fixture->file, 0644), 0);
	assert_int_equal(lock_namespace(1000, NULL, NULL, NULL), -EPERM);
	assert_int_equal(chmod(fixture->file, 0600), 0);
	if (geteuid() == 0) {
		assert_int_equal(chown(fixture->file, 65534, (gid_t)-1), 0);
		assert_int_equal(lock_namespace(1000, NULL, NULL, NULL), -EPERM);
		assert_int_equal(unlink(fixture->file), 0);
		assert_int_equal(symlink("/etc/passwd", fixture->file), 0);
		assert_int_equal(lock_namespace(1000, NULL, NULL, NULL), -ELOOP);
	}
}

/* The runtime directory itself must pass the walk. */
static void an_untrusted_runtime_directory_is_not_locked_in(void **state)
{
	struct fixture *fixture = *state;
	char open_directory[128], link[128], *reason;
	int lock;

	snprintf(open_directory, sizeof(open_directory), "%s/open", fixture->root);
	assert_int_equal(mkdir(open_directory, 0777), 0);
	assert_int_equal(chmod(open_directory, 0777), 0);
	snprintf(link, sizeof(link), "%s/open/run", fixture->root);
	assert_int_equal(setenv(RUNTIME_DIRECTORY_VARIABLE, link, 1), 0);
	assert_int_equal(lock_namespace(1000, NULL, NULL, NULL), -EPERM);
	reason = runtime_directory_problem(true);
	assert_non_null(reason);
	assert_non_null(strstr(reason, "on its path is writable by group or others (mode 0777)"));
	free(reason);
	/* Nothing was made in it. */
	assert_int_equal(access(link, F_OK), -1);
	assert_int_equal(setenv(RUNTIME_DIRECTORY_VARIABLE, fixture->directory, 1), 0);
	lock = lock_namespace(1000, NULL, NULL, NULL);
	assert_true(lock >= 0);
	close(lock);
	assert_int_equal(chmod(fixture->directory, 0777), 0);
	assert_int_equal(lock_namespace(1000, NULL, NULL, NULL), -EPERM);
	assert_null(strchr(reason = runtime_directory_problem(true), '\n'));
	free(reason);
}

/* Root does not lock in a directory of a user that is not the service
 * user (none exists here; tests/integration/lock.sh has one), while that
 * user locks in its own. */
static void a_directory_of_another_user_is_that_user_s_only(void **state)
{
	struct fixture *fixture = *state;
	struct stat status;
	int lock;

	if (geteuid() != 0)
		skip();
	assert_int_equal(mkdir(fixture->directory, 0700), 0);
	assert_int_equal(chown(fixture->directory, 65534, 65534), 0);
	assert_int_equal(lock_namespace(1000, NULL, NULL, NULL), -EPERM);
	assert_int_equal(access(fixture->file, F_OK), -1);
	/* Run as that user (setresuid in a child), the directory is its own. */
	{
		pid_t child = fork();
		int exit_status;

		assert_true(child >= 0);
		if (child == 0) {
			if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
				_exit(2);
			lock = lock_namespace(1000, NULL, NULL, NULL);
			_exit(lock >= 0 ? 0 : 1);
		}
		assert_int_equal(waitpid(child, &exit_status, 0), child);
		assert_true(WIFEXITED(exit_status));
		assert_int_equal(WEXITSTATUS(exit_status), 0);
	}
	assert_int_equal(stat(fixture->file, &status), 0);
	assert_int_equal(status.st_uid, 65534);
	assert_int_equal(status.st_mode & 07777, 0600);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(the_first_run_makes_the_directory_and_a_private_lock_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_second_run_waits_and_says_who_holds_the_turn, setup, teardown),
		cmocka_unit_test_setup_teardown(a_lock_file_others_could_open_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(an_untrusted_runtime_directory_is_not_locked_in, setup, teardown),
		cmocka_unit_test_setup_teardown(a_directory_of_another_user_is_that_user_s_only, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
