/* Finding groups: the cgroup v2 mount from mount table texts, and the
 * groups owners name in a directory tree shaped as systemd shapes the
 * hierarchy (a temporary directory stands in for the cgroup file system:
 * its IDs are then the inode numbers). */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "cgroup.h"

/* Mount tables. */

#define HYBRID_MOUNTINFO \
	"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n" \
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" \
	"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n" \
	"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"

#define UNIFIED_MOUNTINFO \
	"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n" \
	"31 23 0:28 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"

static struct cgroup_hierarchy parse_mountinfo(const char *text, int expected)
{
	struct cgroup_hierarchy hierarchy = { 0 };

	assert_int_equal(cgroup_hierarchy_from_mountinfo(text, strlen(text), &hierarchy), expected);
	return hierarchy;
}

static void release(struct cgroup_hierarchy *hierarchy)
{
	free(hierarchy->mount_point);
	free(hierarchy->root);
}

static void test_hybrid_system_has_cgroup2_under_unified(void **unused)
{
	struct cgroup_hierarchy hierarchy = parse_mountinfo(HYBRID_MOUNTINFO, 0);

	(void)unused;
	assert_string_equal(hierarchy.mount_point, "/sys/fs/cgroup/unified");
	assert_string_equal(hierarchy.root, "/");
	assert_int_equal(hierarchy.root_level, 0);
	assert_true(hierarchy.levels_exact);
	release(&hierarchy);
}

static void test_unified_system_has_cgroup2_at_sys_fs_cgroup(void **unused)
{
	struct cgroup_hierarchy hierarchy = parse_mountinfo(UNIFIED_MOUNTINFO, 0);

	(void)unused;
	assert_string_equal(hierarchy.mount_point, "/sys/fs/cgroup");
	assert_string_equal(hierarchy.root, "/");
	release(&hierarchy);
}

/* A hybrid host where a private mount namespace mounted cgroup2 again at
 * /sys/fs/cgroup: the usual place wins, whatever the order. */
static void test_sys_fs_cgroup_is_preferred_to_unified(void **unused)
{
	struct cgroup_hierarchy hierarchy =
		parse_mountinfo(HYBRID_MOUNTINFO "120 23 0:38 / /sys/fs/cgroup rw,relatime - cgroup2 none rw\n", 0);

	(void)unused;
	assert_string_equal(hierarchy.mount_point, "/sys/fs/cgroup");
	release(&hierarchy);
}

/* Inside a cgroup namespace, a mount made outside it shows its root as
 * "/..": the groups it holds cannot be named from here. */
static void test_mount_from_outside_the_namespace_is_not_used(void **unused)
{
	struct cgroup_hierarchy hierarchy =
		parse_mountinfo("109 68 0:38 /.. /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
				"121 54 0:38 / /mnt/cgroup rw,relatime - cgroup2 none rw\n", 0);

	(void)unused;
	assert_string_equal(hierarchy.mount_point, "/mnt/cgroup");
	release(&hierarchy);
}

static void test_only_a_mount_from_outside_is_no_hierarchy(void **unused)
{
	(void)unused;
	parse_mountinfo("109 68 0:38 /../.. /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", -ENOENT);
}

/* A subtree bind-mounted: its groups' levels start at its depth. */
static void test_bind_mounted_subtree_starts_at_its_level(void **unused)
{
	struct cgroup_hierarchy hierarchy =
		parse_mountinfo("50 23 0:38 /machine.slice/web.scope /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", 0);

	(void)unused;
	assert_string_equal(hierarchy.root, "/machine.slice/web.scope");
	assert_int_equal(hierarchy.root_level, 2);
	release(&hierarchy);
}

static void test_escaped_mount_point_is_unescaped(void **unused)
{
	struct cgroup_hierarchy hierarchy =
		parse_mountinfo("50 23 0:38 / /run/my\\040cgroups rw shared:3 master:1 - cgroup2 cgroup2 rw\n", 0);

	(void)unused;
	assert_string_equal(hierarchy.mount_point, "/run/my cgroups");
	release(&hierarchy);
}

static void test_cgroup_v1_only_is_no_hierarchy(void **unused)
{
	(void)unused;
	parse_mountinfo("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
			"40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n",
			-ENOENT);
}

static void test_truncated_lines_are_passed_over(void **unused)
{
	(void)unused;
	parse_mountinfo("41 31 0:38 / /sys/fs/cgroup/unified\n41 31 0:38 / /x rw cgroup2\n", -ENOENT);
}

/* Trees. */

struct tree {
	char root[64];
	struct cgroup_hierarchy hierarchy;
	struct mapping *mapping;
	struct cgroup_resolution *resolution;
};

static void make(struct tree *tree, const char *path)
{
	char full[256];

	snprintf(full, sizeof(full), "%s%s", tree->root, path);
	assert_int_equal(mkdir(full, 0755), 0);
}

static uint64_t inode_of(struct tree *tree, const char *path)
{
	char full[256];
	struct stat status;

	snprintf(full, sizeof(full), "%s%s", tree->root, path);
	assert_int_equal(stat(full, &status), 0);
	return (uint64_t)status.st_ino;
}

/* A host's tree: system units in slices, a user manager's delegated
 * subtree and a container's, each with a unit of the same name. */
static int setup(void **state)
{
	static const char *const directories[] = {
		"/init.scope",
		"/system.slice",
		"/system.slice/nginx.service",
		"/system.slice/system-web.slice",
		"/system.slice/system-web.slice/web@blue.service",
		"/system.slice/system-web.slice/web@blue.service/worker",
		"/user.slice",
		"/user.slice/user-1000.slice",
		"/user.slice/user-1000.slice/user@1000.service",
		"/user.slice/user-1000.slice/user@1000.service/app.slice",
		"/user.slice/user-1000.slice/user@1000.service/app.slice/nginx.service",
		"/machine.slice",
		"/machine.slice/machine-box.scope",
		"/machine.slice/machine-box.scope/payload",
		"/machine.slice/machine-box.scope/payload/system.slice",
		"/machine.slice/machine-box.scope/payload/system.slice/nginx.service",
	};
	struct tree *tree = calloc(1, sizeof(*tree));

	assert_non_null(tree);
	strcpy(tree->root, "/tmp/test_cgroup.XXXXXX");
	assert_non_null(mkdtemp(tree->root));
	for (size_t i = 0; i < sizeof(directories) / sizeof(directories[0]); i++)
		make(tree, directories[i]);
	tree->hierarchy = (struct cgroup_hierarchy){ .mount_point = tree->root, .root = (char *)"/", .levels_exact = true };
	tree->mapping = mapping_new();
	assert_non_null(tree->mapping);
	*state = tree;
	return 0;
}

static int remove_entry(const char *path, const struct stat *status, int type, struct FTW *walk)
{
	(void)status;
	(void)type;
	(void)walk;
	return remove(path);
}

static int teardown(void **state)
{
	struct tree *tree = *state;

	nftw(tree->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	cgroup_resolution_free(tree->resolution);
	mapping_free(tree->mapping);
	free(tree);
	return 0;
}

static const struct owner *owner(struct tree *tree, enum owner_kind kind, const char *name)
{
	const struct owner *owner = mapping_intern_owner(tree->mapping, kind, name, strlen(name));

	assert_non_null(owner);
	return owner;
}

static const struct owner_groups *resolve(struct tree *tree, const struct owner *owner)
{
	cgroup_resolution_free(tree->resolution);
	tree->resolution = NULL;
	assert_int_equal(cgroup_resolve(&tree->hierarchy, tree->mapping, &tree->resolution), 0);
	assert_int_equal(tree->resolution->owner_count, tree->mapping->owner_count);
	return &tree->resolution->owners[owner->index];
}

static void assert_group(struct tree *tree, const struct cgroup_group *group, const char *path, unsigned int level)
{
	assert_string_equal(group->path, path);
	assert_int_equal(group->level, level);
	assert_int_equal(group->extra_levels, 0);
	assert_true(group->id == inode_of(tree, path));
}

static void test_a_service_is_found_in_its_slice(void **state)
{
	struct tree *tree = *state;
	const struct owner_groups *groups = resolve(tree, owner(tree, OWNER_UNIT, "nginx.service"));

	assert_int_equal(groups->count, 1);
	assert_group(tree, &groups->groups[0], "/system.slice/nginx.service", 2);
}

static void test_a_unit_in_a_nested_slice_is_found(void **state)
{
	struct tree *tree = *state;
	const struct owner_groups *groups = resolve(tree, owner(tree, OWNER_UNIT, "web@blue.service"));

	assert_int_equal(groups->count, 1);
	assert_group(tree, &groups->groups[0], "/system.slice/system-web.slice/web@blue.service", 3);
}

static void test_a_slice_and_a_scope_are_found(void **state)
{
	struct tree *tree = *state;
	const struct owner *slice = owner(tree, OWNER_UNIT, "system-web.slice");
	const struct owner *scope = owner(tree, OWNER_UNIT, "init.scope");
	const struct owner_groups *groups = resolve(tree, slice);

	assert_int_equal(groups->count, 1);
	assert_group(tree, &groups->groups[0], "/system.slice/system-web.slice", 2);
	groups = &tree->resolution->owners[scope->index];
	assert_int_equal(groups->count, 1);
	assert_group(tree, &groups->groups[0], "/init.scope", 1);
}

/* A user manager's or a container's unit of the same name lives in a
 * subtree delegated to others, which could name anything there. */
static void test_units_in_delegated_subtrees_are_not_found(void **state)
{
	struct tree *tree = *state;
	const struct owner_groups *groups;

	make(tree, "/machine.slice/machine-box.scope/payload/system.slice/other.service");
	groups = resolve(tree, owner(tree, OWNER_UNIT, "other.service"));
	assert_int_equal(groups->count, 0);
}

static void test_a_stopped_unit_has_no_group(void **state)
{
	struct tree *tree = *state;
	const struct owner_groups *groups = resolve(tree, owner(tree, OWNER_UNIT, "stopped.service"));

	assert_int_equal(groups->count, 0);
	assert_int_equal(tree->resolution->skipped_error, 0);
}

/* Found again after a restart: a new directory, a new ID. */
static void test_a_recreated_group_has_a_new_id(void **state)
{
	struct tree *tree = *state;
	const struct owner *nginx = owner(tree, OWNER_UNIT, "nginx.service");
	uint64_t before = resolve(tree, nginx)->groups[0].id;
	char path[256], away[256];

	/* The old directory moved away rather than removed, so that a file
	 * system other than cgroupfs cannot give its inode number again. */
	snprintf(path, sizeof(path), "%s/system.slice/nginx.service", tree->root);
	snprintf(away, sizeof(away), "%s/system.slice/stopped", tree->root);
	assert_int_equal(rename(path, away), 0);
	make(tree, "/system.slice/nginx.service");
	assert_true(resolve(tree, nginx)->groups[0].id != before);
	assert_group(tree, &resolve(tree, nginx)->groups[0], "/system.slice/nginx.service", 2);
}

static void test_a_path_owner_is_looked_up_where_it_is(void **state)
{
	struct tree *tree = *state;
	const struct owner_groups *groups =
		resolve(tree, owner(tree, OWNER_CGROUP, "/user.slice/user-1000.slice/user@1000.service/app.slice/nginx.service"));

	assert_int_equal(groups->count, 1);
	assert_group(tree, &groups->groups[0], "/user.slice/user-1000.slice/user@1000.service/app.slice/nginx.service", 5);
}

static void test_a_missing_path_has_no_group(void **state)
{
	struct tree *tree = *state;

	assert_int_equal(resolve(tree, owner(tree, OWNER_CGROUP, "/web/frontend"))->count, 0);
}

/* A control file is not a group. */
static void test_a_path_to_a_file_has_no_group(void **state)
{
	struct tree *tree = *state;
	char path[256];
	FILE *file;

	snprintf(path, sizeof(path), "%s/system.slice/cgroup.procs", tree->root);
	file = fopen(path, "w");
	assert_non_null(file);
	fclose(file);
	assert_int_equal(resolve(tree, owner(tree, OWNER_CGROUP, "/system.slice/cgroup.procs"))->count, 0);
}

static void assert_watched(struct tree *tree, const char *const *expected, size_t count)
{
	assert_int_equal(tree->resolution->watched_count, count);
	for (size_t i = 0; i < count; i++) {
		char full[256];

		snprintf(full, sizeof(full), "%s%s", tree->root, expected[i]);
		assert_string_equal(tree->resolution->watched[i], full);
	}
}

/* A unit may start in any slice, a slice appear anywhere in the tree of
 * slices: all of them are watched, and only them. */
static void test_unit_owners_watch_the_root_and_every_slice(void **state)
{
	static const char *const expected[] = {
		"", "/machine.slice", "/system.slice", "/user.slice", "/system.slice/system-web.slice",
		"/user.slice/user-1000.slice",
	};
	struct tree *tree = *state;

	resolve(tree, owner(tree, OWNER_UNIT, "nginx.service"));
	assert_watched(tree, expected, sizeof(expected) / sizeof(expected[0]));
	assert_true(cgroup_resolution_name_matters(tree->resolution, "nginx.service"));
	assert_true(cgroup_resolution_name_matters(tree->resolution, "new.slice"));
	assert_false(cgroup_resolution_name_matters(tree->resolution, "cron.service"));
}

static void test_a_path_owner_watches_its_parent(void **state)
{
	static const char *const expected[] = { "/system.slice" };
	struct tree *tree = *state;

	resolve(tree, owner(tree, OWNER_CGROUP, "/system.slice/nginx.service"));
	assert_watched(tree, expected, 1);
	assert_true(cgroup_resolution_name_matters(tree->resolution, "nginx.service"));
	assert_true(cgroup_resolution_name_matters(tree->resolution, "system.slice"));
	assert_false(cgroup_resolution_name_matters(tree->resolution, "new.slice"));
}

/* /web/frontend/api while only the root exists: the root is watched, for
 * /web to appear. */
static void test_a_missing_path_watches_its_nearest_ancestor(void **state)
{
	static const char *const expected[] = { "" };
	struct tree *tree = *state;

	resolve(tree, owner(tree, OWNER_CGROUP, "/web/frontend/api"));
	assert_watched(tree, expected, 1);
	make(tree, "/web");
	resolve(tree, tree->mapping->owners[0]);
	assert_string_equal(tree->resolution->watched[0] + strlen(tree->root), "/web");
}

/* In a cgroup namespace the kernel's levels start at an unknown depth. */
static void test_levels_in_a_cgroup_namespace_cover_the_depths_below(void **state)
{
	struct tree *tree = *state;
	const struct owner_groups *groups;

	tree->hierarchy.levels_exact = false;
	groups = resolve(tree, owner(tree, OWNER_UNIT, "nginx.service"));
	assert_int_equal(groups->count, 1);
	assert_int_equal(groups->groups[0].level, 2);
	assert_int_equal(groups->groups[0].extra_levels, CGROUP_NAMESPACE_EXTRA_LEVELS);
}

/* The mount shows /machine.slice: paths are written from the real root,
 * and levels count from there. */
static void test_a_bind_mounted_subtree_keeps_paths_and_levels_from_the_root(void **state)
{
	struct tree *tree = *state;
	const struct owner *inside = owner(tree, OWNER_CGROUP, "/machine.slice/system.slice/nginx.service");
	const struct owner *outside = owner(tree, OWNER_CGROUP, "/system.slice/nginx.service");
	const struct owner_groups *groups;

	tree->hierarchy.root = (char *)"/machine.slice";
	tree->hierarchy.root_level = 1;
	groups = resolve(tree, inside);
	assert_int_equal(groups->count, 1);
	assert_string_equal(groups->groups[0].path, "/machine.slice/system.slice/nginx.service");
	assert_int_equal(groups->groups[0].level, 3);
	assert_true(groups->groups[0].id == inode_of(tree, "/system.slice/nginx.service"));
	assert_int_equal(tree->resolution->owners[outside->index].count, 0);
}

static void test_an_unreadable_hierarchy_is_an_error(void **state)
{
	struct tree *tree = *state;

	owner(tree, OWNER_UNIT, "nginx.service");
	tree->hierarchy.mount_point = (char *)"/nonexistent/cgroup";
	assert_int_equal(cgroup_resolve(&tree->hierarchy, tree->mapping, &tree->resolution), -ENOENT);
	assert_null(tree->resolution);
}

static void test_a_mapping_without_owners_resolves_to_nothing(void **state)
{
	struct tree *tree = *state;

	assert_int_equal(cgroup_resolve(&tree->hierarchy, tree->mapping, &tree->resolution), 0);
	assert_int_equal(tree->resolution->owner_count, 0);
	assert_int_equal(tree->resolution->watched_count, 0);
}

#define TREE_TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hybrid_system_has_cgroup2_under_unified),
		cmocka_unit_test(test_unified_system_has_cgroup2_at_sys_fs_cgroup),
		cmocka_unit_test(test_sys_fs_cgroup_is_preferred_to_unified),
		cmocka_unit_test(test_mount_from_outside_the_namespace_is_not_used),
		cmocka_unit_test(test_only_a_mount_from_outside_is_no_hierarchy),
		cmocka_unit_test(test_bind_mounted_subtree_starts_at_its_level),
		cmocka_unit_test(test_escaped_mount_point_is_unescaped),
		cmocka_unit_test(test_cgroup_v1_only_is_no_hierarchy),
		cmocka_unit_test(test_truncated_lines_are_passed_over),
		TREE_TEST(test_a_service_is_found_in_its_slice),
		TREE_TEST(test_a_unit_in_a_nested_slice_is_found),
		TREE_TEST(test_a_slice_and_a_scope_are_found),
		TREE_TEST(test_units_in_delegated_subtrees_are_not_found),
		TREE_TEST(test_a_stopped_unit_has_no_group),
		TREE_TEST(test_a_recreated_group_has_a_new_id),
		TREE_TEST(test_a_path_owner_is_looked_up_where_it_is),
		TREE_TEST(test_a_missing_path_has_no_group),
		TREE_TEST(test_a_path_to_a_file_has_no_group),
		TREE_TEST(test_unit_owners_watch_the_root_and_every_slice),
		TREE_TEST(test_a_path_owner_watches_its_parent),
		TREE_TEST(test_a_missing_path_watches_its_nearest_ancestor),
		TREE_TEST(test_levels_in_a_cgroup_namespace_cover_the_depths_below),
		TREE_TEST(test_a_bind_mounted_subtree_keeps_paths_and_levels_from_the_root),
		TREE_TEST(test_an_unreadable_hierarchy_is_an_error),
		TREE_TEST(test_a_mapping_without_owners_resolves_to_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
