/* The cgroup v2 hierarchy as portredir sees it, and the groups owner
 * clauses name in it: where the hierarchy is mounted, each owner's groups
 * with the IDs and levels nftables' `socket cgroupv2 level L` compares,
 * and the directories to watch for a group that comes or goes. Reads the
 * file system; never prints. */
#ifndef CGROUP_H
#define CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mapping.h"

/* The kernel's levels count from the hierarchy's root (level 0). A group
 * deeper than this is not used: the planner keeps the levels in use as
 * the bits of a 64-bit word. */
#define CGROUP_MAX_LEVEL 63
/* In a cgroup namespace (a container) the root portredir sees is some
 * group of the host's, at a depth it cannot learn (the namespace hides
 * it), while the kernel counts levels from the host's root. An owner's
 * group then gets rules for its depth as seen and this many below it:
 * each extra level costs one socket lookup per new connection to an
 * owned port, and a container nested deeper on its host is refused. */
#define CGROUP_NAMESPACE_EXTRA_LEVELS 8

/* The cgroup v2 file system portredir reads. */
struct cgroup_hierarchy {
	/* Where it is mounted: /sys/fs/cgroup, or /sys/fs/cgroup/unified on
	 * a hybrid system. */
	char *mount_point;
	/* The group mounted there, from the root the mount table shows: "/"
	 * unless a subtree was bind-mounted. */
	char *root;
	/* The level of that group: the levels of the groups below it start
	 * there. */
	unsigned int root_level;
	/* Whether levels are the kernel's: false in a cgroup namespace other
	 * than the initial one (see CGROUP_NAMESPACE_EXTRA_LEVELS). */
	bool levels_exact;
};

/* The mount table's cgroup2 entry to use, from the text of a
 * /proc/self/mountinfo: one whose root is "/" (at /sys/fs/cgroup, else at
 * /sys/fs/cgroup/unified, else the first), else the first whose root lies
 * below the namespace's root. Returns 0, -ENOENT when there is none, or
 * -ENOMEM; fills mount_point and root (root_level from root). */
int cgroup_hierarchy_from_mountinfo(const char *text, size_t length, struct cgroup_hierarchy *ret_hierarchy);
/* From this process's mount table and cgroup namespace. -ENOENT: no
 * cgroup v2 is mounted; another -errno when the table cannot be read. */
int cgroup_hierarchy_open(struct cgroup_hierarchy **ret_hierarchy);
void cgroup_hierarchy_free(struct cgroup_hierarchy *hierarchy);

/* One group that an owner names. */
struct cgroup_group {
	/* From the root of the hierarchy portredir sees ("/system.slice/x"). */
	char *path;
	/* The kernel's cgroup ID: the directory's kernfs node ID. */
	uint64_t id;
	/* The lowest level the kernel may count it at, and how many levels
	 * below that it may be at too (0 when the levels are exact). */
	unsigned int level;
	unsigned int extra_levels;
};

/* What an owner names now: no group when its service is not running. */
struct owner_groups {
	const struct owner *owner;
	struct cgroup_group *groups;
	size_t count;
};

/* The groups of every owner of a mapping, in the order of mapping->owners
 * (an owner's index), and what a watcher must watch to see them change. */
struct cgroup_resolution {
	struct owner_groups *owners;
	size_t owner_count;
	/* Directories (full paths) where a group an owner names, or a slice
	 * that may hold one, can appear or go. */
	char **watched;
	size_t watched_count;
	size_t watched_capacity;
	/* The names whose creation or removal in those directories matters:
	 * a slice, an owner's unit, a component of an owner's path, and
	 * whether any slice does (there is an owner unit to look for). */
	char **names;
	size_t name_count;
	size_t name_capacity;
	bool slices_matter;
	/* The first directory that could not be read (its groups were not
	 * looked at), and why; skipped_error 0 when there was none. */
	int skipped_error;
	char *skipped;
	/* Groups deeper than CGROUP_MAX_LEVEL were found and left out. */
	size_t too_deep;
};

/* Finds the groups of mapping's owners in hierarchy: a unit by its name in
 * the tree of slices from the root (a delegated subtree, such as a
 * container's or a user manager's, is not searched), a path directly.
 * Returns 0, or -errno when the hierarchy's root cannot be read. */
int cgroup_resolve(const struct cgroup_hierarchy *hierarchy, const struct mapping *mapping,
		   struct cgroup_resolution **ret_resolution);
void cgroup_resolution_free(struct cgroup_resolution *resolution);
/* Whether an entry named name appearing or going in a watched directory
 * may change the resolution. */
bool cgroup_resolution_name_matters(const struct cgroup_resolution *resolution, const char *name);

#endif
