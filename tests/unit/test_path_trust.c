/* The StrictModes walk against a temporary tree: which owners and modes
 * pass on the way and at the end, how links are followed, and the line
 * each refusal gives. Owners other than root need root to set up; without
 * it those tests are skipped. */
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
#include <sys/stat.h>
#include <unistd.h>
#include "path_trust.h"

#define OTHER_USER 65534

struct fixture {
	char root[64];
	struct path_trust trust;
};

static int setup(void **state)
{
	struct fixture *fixture = calloc(1, sizeof(*fixture));

	assert_non_null(fixture);
	snprintf(fixture->root, sizeof(fixture->root), "/tmp/portredir-path-test.XXXXXX");
	assert_non_null(mkdtemp(fixture->root));
	assert_int_equal(chmod(fixture->root, 0755), 0);
	memset(&fixture->trust, 0, sizeof(fixture->trust));
	fixture->trust.user = geteuid();
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

static void need_root(void)
{
	if (geteuid() != 0)
		skip();
}

/* FIXTURE/relative, in path (PATH_MAX). */
static void at(const struct fixture *fixture, const char *relative, char *path)
{
	snprintf(path, PATH_MAX, "%s/%s", fixture->root, relative);
}

static void make_directory(const struct fixture *fixture, const char *relative, mode_t mode)
{
	char path[PATH_MAX];

	at(fixture, relative, path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void make_file(const struct fixture *fixture, const char *relative, mode_t mode)
{
	char path[PATH_MAX];
	int fd;

	at(fixture, relative, path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void make_link(const struct fixture *fixture, const char *relative, const char *target)
{
	char path[PATH_MAX];

	at(fixture, relative, path);
	assert_int_equal(symlink(target, path), 0);
}

static void give(const struct fixture *fixture, const char *relative, uid_t owner)
{
	char path[PATH_MAX];

	at(fixture, relative, path);
	assert_int_equal(lchown(path, owner, (gid_t)-1), 0);
}

/* Walks FIXTURE/relative: expects 0, the directory holding the last
 * component (FIXTURE/directory) and its name. */
static void expect_trusted(const struct fixture *fixture, const char *relative, const char *directory,
			   const char *name)
{
	char path[PATH_MAX], expected[PATH_MAX], found[PATH_MAX], link[64], last[NAME_MAX + 1];
	struct path_problem problem;
	ssize_t length;
	int fd, r;

	at(fixture, relative, path);
	r = path_trust_walk(path, &fixture->trust, &fd, last, &problem);
	if (r < 0)
		fail_msg("%s: %d, %s", path, r, path_problem_describe(&problem, path, &fixture->trust));
	at(fixture, directory, expected);
	if (!*directory)
		snprintf(expected, sizeof(expected), "%s", fixture->root);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	length = readlink(link, found, sizeof(found) - 1);
	assert_true(length > 0);
	found[length] = '\0';
	assert_string_equal(found, expected);
	assert_string_equal(last, name);
	close(fd);
}

/* Walks FIXTURE/relative: expects error (-EPERM or another -errno) and the
 * line path_problem_describe() gives, "@" standing for FIXTURE. */
static void expect_refused(const struct fixture *fixture, const char *relative, int error, const char *line)
{
	char path[PATH_MAX], expected[1024], last[NAME_MAX + 1];
	struct path_problem problem;
	const char *at_sign;
	char *description;
	size_t used = 0;
	int fd;

	at(fixture, relative, path);
	assert_int_equal(path_trust_walk(path, &fixture->trust, &fd, last, &problem), error);
	assert_int_equal(fd, -1);
	for (const char *c = line; *c; c = at_sign + 1) {
		at_sign = strchr(c, '@');
		if (!at_sign) {
			snprintf(expected + used, sizeof(expected) - used, "%s", c);
			break;
		}
		used += (size_t)snprintf(expected + used, sizeof(expected) - used, "%.*s%s", (int)(at_sign - c), c,
					 fixture->root);
	}
	description = path_problem_describe(&problem, path, &fixture->trust);
	assert_non_null(description);
	assert_string_equal(description, expected);
	free(description);
}

static void a_path_of_root_s_directories_is_trusted(void **state)
{
	struct fixture *fixture = *state;

	make_directory(fixture, "etc", 0755);
	make_directory(fixture, "etc/portredir", 0755);
	make_file(fixture, "etc/portredir/rules.conf", 0644);
	expect_trusted(fixture, "etc/portredir/rules.conf", "etc/portredir", "rules.conf");
	expect_trusted(fixture, "etc/portredir", "etc", "portredir");
	expect_trusted(fixture, "etc//portredir/./rules.conf", "etc/portredir", "rules.conf");
	expect_trusted(fixture, "etc/portredir/../portredir/rules.conf", "etc/portredir", "rules.conf");
	expect_trusted(fixture, "etc/portredir/", "etc", "portredir");
	/* Ending in "..": the directory reached is the last component. */
	expect_trusted(fixture, "etc/portredir/..", "etc", ".");
}

static void a_missing_last_component_is_left_to_the_caller(void **state)
{
	struct fixture *fixture = *state;

	make_directory(fixture, "run", 0755);
	expect_trusted(fixture, "run/portredir", "run", "portredir");
	expect_refused(fixture, "missing/portredir", -ENOENT, "cannot open: No such file or directory");
}

static void a_directory_others_may_write_on_the_way_is_refused(void **state)
{
	struct fixture *fixture = *state;

	make_directory(fixture, "open", 0777);
	make_file(fixture, "open/rules.conf", 0644);
	expect_refused(fixture, "open/rules.conf", -EPERM,
		       "directory @/open on its path is writable by group or others (mode 0777); run 'chmod go-w @/open'");
	make_directory(fixture, "group", 0775);
	make_file(fixture, "group/rules.conf", 0644);
	expect_refused(fixture, "group/rules.conf", -EPERM,
		       "directory @/group on its path is writable by group or others (mode 0775); run 'chmod go-w @/group'");
}

/* Like /tmp: others may add names, but only an entry's owner may rename or
 * remove it, so that root's entries in it cannot be swapped. */
static void a_sticky_directory_on_the_way_passes_into_trusted_entries_only(void **state)
{
	struct fixture *fixture = *state;

	need_root();
	make_directory(fixture, "tmp", 01777);
	make_directory(fixture, "tmp/roots", 0755);
	make_file(fixture, "tmp/roots/rules.conf", 0644);
	expect_trusted(fixture, "tmp/roots/rules.conf", "tmp/roots", "rules.conf");
	make_file(fixture, "tmp/rules.conf", 0644);
	expect_trusted(fixture, "tmp/rules.conf", "tmp", "rules.conf");
	make_directory(fixture, "tmp/users", 0755);
	give(fixture, "tmp/users", OTHER_USER);
	make_file(fixture, "tmp/users/rules.conf", 0644);
	expect_refused(fixture, "tmp/users/rules.conf", -EPERM,
		       "directory @/tmp/users on its path is owned by uid 65534, not root; run 'chown root @/tmp/users'");
	make_file(fixture, "tmp/planted.conf", 0644);
	give(fixture, "tmp/planted.conf", OTHER_USER);
	expect_refused(fixture, "tmp/planted.conf", -EPERM,
		       "is owned by uid 65534, not root; run 'chown root @/tmp/planted.conf'");
	/* As the last component a sticky directory is still open to others:
	 * anyone could add a drop-in or a file beside the records. */
	expect_refused(fixture, "tmp", -EPERM, "is writable by group or others (mode 1777); run 'chmod go-w @/tmp'");
}

static void a_directory_of_another_user_on_the_way_is_refused(void **state)
{
	struct fixture *fixture = *state;

	need_root();
	make_directory(fixture, "home", 0755);
	give(fixture, "home", OTHER_USER);
	make_file(fixture, "home/rules.conf", 0644);
	expect_refused(fixture, "home/rules.conf", -EPERM,
		       "directory @/home on its path is owned by uid 65534, not root; run 'chown root @/home'");
	/* Running as that user, its own directory is fine. */
	fixture->trust.user = OTHER_USER;
	expect_trusted(fixture, "home/rules.conf", "home", "rules.conf");
}

static void the_last_component_is_checked_too(void **state)
{
	struct fixture *fixture = *state;

	need_root();
	make_file(fixture, "group-writable.conf", 0664);
	expect_refused(fixture, "group-writable.conf", -EPERM,
		       "is writable by group or others (mode 0664); run 'chmod go-w @/group-writable.conf'");
	make_file(fixture, "users.conf", 0644);
	give(fixture, "users.conf", OTHER_USER);
	expect_refused(fixture, "users.conf", -EPERM, "is owned by uid 65534, not root; run 'chown root @/users.conf'");
	make_directory(fixture, "users.d", 0755);
	give(fixture, "users.d", OTHER_USER);
	expect_refused(fixture, "users.d", -EPERM, "is owned by uid 65534, not root; run 'chown root @/users.d'");
	fixture->trust.user = 1000;
	expect_refused(fixture, "users.conf", -EPERM,
		       "is owned by uid 65534, not root or uid 1000; run 'chown root @/users.conf'");
	/* Not a regular file nor a directory: the caller's open says what. */
	assert_int_equal(mkfifo("/tmp/portredir-path-test-fifo", 0666), 0);
	fixture->trust.user = 0;
	{
		char last[NAME_MAX + 1];
		struct path_problem problem;
		int fd;

		assert_int_equal(path_trust_walk("/tmp/portredir-path-test-fifo", &fixture->trust, &fd, last, &problem), 0);
		assert_string_equal(last, "portredir-path-test-fifo");
		close(fd);
	}
	unlink("/tmp/portredir-path-test-fifo");
}

static void the_extra_owner_is_accepted_for_the_last_component_only(void **state)
{
	struct fixture *fixture = *state;

	need_root();
	fixture->trust.has_extra_owner = true;
	fixture->trust.extra_owner = OTHER_USER;
	make_directory(fixture, "service", 0700);
	give(fixture, "service", OTHER_USER);
	expect_trusted(fixture, "service", "", "service");
	make_directory(fixture, "service/inside", 0700);
	expect_refused(fixture, "service/inside", -EPERM,
		       "directory @/service on its path is owned by uid 65534, not root; run 'chown root @/service'");
}

static void a_link_of_root_s_to_a_trusted_target_is_followed(void **state)
{
	struct fixture *fixture = *state;
	char target[PATH_MAX];

	make_directory(fixture, "etc", 0755);
	make_directory(fixture, "srv", 0755);
	make_file(fixture, "srv/real.conf", 0644);
	make_link(fixture, "etc/rules.conf", "../srv/real.conf");
	expect_trusted(fixture, "etc/rules.conf", "srv", "real.conf");
	at(fixture, "srv", target);
	make_link(fixture, "etc/absolute", target);
	expect_trusted(fixture, "etc/absolute/real.conf", "srv", "real.conf");
	make_link(fixture, "etc/dangling.conf", "nowhere.conf");
	expect_trusted(fixture, "etc/dangling.conf", "etc", "nowhere.conf");
	make_link(fixture, "etc/loop.conf", "loop.conf");
	expect_refused(fixture, "etc/loop.conf", -ELOOP, "cannot open: Too many levels of symbolic links");
}

static void a_link_of_another_user_is_not_followed(void **state)
{
	struct fixture *fixture = *state;

	need_root();
	make_file(fixture, "real.conf", 0644);
	make_link(fixture, "rules.conf", "real.conf");
	give(fixture, "rules.conf", OTHER_USER);
	expect_refused(fixture, "rules.conf", -EPERM,
		       "is a symbolic link owned by uid 65534, not root; replace it with a link root owns, or name its target");
	make_directory(fixture, "run", 0755);
	make_link(fixture, "run/link", "..");
	give(fixture, "run/link", OTHER_USER);
	expect_refused(fixture, "run/link/portredir", -EPERM,
		       "symbolic link @/run/link on its path is owned by uid 65534, not root; replace it with a link root owns, or name its target");
}

/* The issue's runtime directory: DIR of nobody's, holding nobody's link
 * to a root-owned directory. */
static void a_link_into_a_directory_of_another_user_is_refused_on_its_target(void **state)
{
	struct fixture *fixture = *state;

	need_root();
	make_directory(fixture, "roots", 0755);
	make_directory(fixture, "users", 0755);
	give(fixture, "users", OTHER_USER);
	make_file(fixture, "users/real.conf", 0644);
	make_link(fixture, "roots/rules.conf", "../users/real.conf");
	expect_refused(fixture, "roots/rules.conf", -EPERM,
		       "directory @/users on its path is owned by uid 65534, not root; run 'chown root @/users'");
	make_file(fixture, "group-writable.conf", 0664);
	make_link(fixture, "roots/writable.conf", "../group-writable.conf");
	expect_refused(fixture, "roots/writable.conf", -EPERM,
		       "its target @/group-writable.conf is writable by group or others (mode 0664); run 'chmod go-w @/group-writable.conf'");
	make_link(fixture, "users/link", "../roots");
	give(fixture, "users/link", OTHER_USER);
	expect_refused(fixture, "users/link/portredir", -EPERM,
		       "directory @/users on its path is owned by uid 65534, not root; run 'chown root @/users'");
}

/* A relative path starts where the process is: that directory's own path
 * is walked too. */
static void a_relative_path_is_walked_from_the_root(void **state)
{
	struct fixture *fixture = *state;
	char path[PATH_MAX], cwd[PATH_MAX], last[NAME_MAX + 1];
	struct path_problem problem;
	int fd;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	make_directory(fixture, "open", 0777);
	make_file(fixture, "open/rules.conf", 0644);
	at(fixture, "open", path);
	assert_int_equal(chdir(path), 0);
	assert_int_equal(path_trust_walk("rules.conf", &fixture->trust, &fd, last, &problem), -EPERM);
	assert_int_equal(problem.kind, PATH_PROBLEM_WRITABLE);
	assert_string_equal(problem.component, path);
	assert_int_equal(chmod(path, 0755), 0);
	assert_int_equal(path_trust_walk("rules.conf", &fixture->trust, &fd, last, &problem), 0);
	assert_string_equal(last, "rules.conf");
	close(fd);
	assert_int_equal(chdir(cwd), 0);
}

/* In a user namespace, root's directories outside it show as the overflow
 * uid: accepted on the way, never for a link or the last component. */
static void unmapped_directories_are_accepted_on_the_way_in_a_user_namespace(void **state)
{
	struct fixture *fixture = *state;

	need_root();
	fixture->trust.accept_unmapped_directories = true;
	fixture->trust.unmapped_owner = OTHER_USER;
	make_directory(fixture, "outside", 0755);
	give(fixture, "outside", OTHER_USER);
	make_file(fixture, "outside/rules.conf", 0644);
	expect_trusted(fixture, "outside/rules.conf", "outside", "rules.conf");
	give(fixture, "outside/rules.conf", OTHER_USER);
	expect_refused(fixture, "outside/rules.conf", -EPERM,
		       "is owned by uid 65534, not root; run 'chown root @/outside/rules.conf'");
	make_link(fixture, "link.conf", "outside/rules.conf");
	give(fixture, "link.conf", OTHER_USER);
	expect_refused(fixture, "link.conf", -EPERM,
		       "is a symbolic link owned by uid 65534, not root; replace it with a link root owns, or name its target");
}

/* A drop-in, from the directory already trusted. */
static void a_drop_in_is_walked_from_its_directory(void **state)
{
	struct fixture *fixture = *state;
	char path[PATH_MAX], expected[2 * PATH_MAX + 100], last[NAME_MAX + 1];
	struct path_problem problem;
	int directory, fd;
	char *description;

	need_root();
	make_directory(fixture, "rules.d", 0755);
	make_directory(fixture, "users", 0755);
	give(fixture, "users", OTHER_USER);
	make_file(fixture, "users/20-user.conf", 0644);
	make_link(fixture, "rules.d/20-user.conf", "../users/20-user.conf");
	make_file(fixture, "rules.d/10-web.conf", 0644);
	at(fixture, "rules.d", path);
	directory = open(path, O_RDONLY | O_DIRECTORY);
	assert_true(directory >= 0);
	assert_int_equal(path_trust_walk_at(directory, path, "10-web.conf", &fixture->trust, &fd, last, &problem), 0);
	assert_string_equal(last, "10-web.conf");
	close(fd);
	assert_int_equal(path_trust_walk_at(directory, path, "20-user.conf", &fixture->trust, &fd, last, &problem),
			 -EPERM);
	description = path_problem_describe(&problem, "rules.d/20-user.conf", &fixture->trust);
	at(fixture, "users", path);
	snprintf(expected, sizeof(expected),
		 "directory %s on its path is owned by uid 65534, not root; run 'chown root %s'", path, path);
	assert_string_equal(description, expected);
	free(description);
	close(directory);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_path_of_root_s_directories_is_trusted, setup, teardown),
		cmocka_unit_test_setup_teardown(a_missing_last_component_is_left_to_the_caller, setup, teardown),
		cmocka_unit_test_setup_teardown(a_directory_others_may_write_on_the_way_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_sticky_directory_on_the_way_passes_into_trusted_entries_only, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_directory_of_another_user_on_the_way_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(the_last_component_is_checked_too, setup, teardown),
		cmocka_unit_test_setup_teardown(the_extra_owner_is_accepted_for_the_last_component_only, setup, teardown),
		cmocka_unit_test_setup_teardown(a_link_of_root_s_to_a_trusted_target_is_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(a_link_of_another_user_is_not_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(a_link_into_a_directory_of_another_user_is_refused_on_its_target, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_relative_path_is_walked_from_the_root, setup, teardown),
		cmocka_unit_test_setup_teardown(unmapped_directories_are_accepted_on_the_way_in_a_user_namespace, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_drop_in_is_walked_from_its_directory, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
