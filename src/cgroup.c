/* Finding the cgroup v2 hierarchy in the mount table, and in it the groups
 * owner clauses name, with the IDs the kernel compares (cgroup.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cgroup.h"
#include "util.h"

#define MOUNTINFO_PATH "/proc/self/mountinfo"
#define MOUNTINFO_MAX_SIZE (16u << 20)
/* The inode of the initial cgroup namespace (PROC_CGROUP_INIT_INO). */
#define INITIAL_CGROUP_NAMESPACE_INODE 0xEFFFFFFBu
/* A kernfs file handle is the node's 64-bit ID (FILEID_KERNFS). */
#define FILEID_KERNFS 0xfe
#define SLICE_SUFFIX ".slice"

/* Mount table fields escape space, tab, newline and backslash as \ooo. */
static char *unescape_field(const char *field, size_t length)
{
	char *text = malloc(length + 1), *out = text;

	if (!text)
		return NULL;
	for (size_t i = 0; i < length; i++) {
		if (field[i] == '\\' && i + 3 < length && field[i + 1] >= '0' && field[i + 1] <= '3' && field[i + 2] >= '0' && field[i + 2] <= '7' &&
		    field[i + 3] >= '0' && field[i + 3] <= '7') {
			*out++ = (char)((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0'));
			i += 3;
		} else {
			*out++ = field[i];
		}
	}
	*out = '\0';
	return text;
}

/* Components of an absolute path: "/" has none, "/a/b" two. */
static unsigned int path_depth(const char *path)
{
	unsigned int depth = 0;

	for (const char *c = path; *c; c++) {
		if (*c == '/' && c[1] && c[1] != '/')
			depth++;
	}
	return depth;
}

/* How good a cgroup2 mount is to read, higher better; 0: not usable (its
 * root lies outside this cgroup namespace, shown as "/.."). */
static int mount_rank(const char *root, const char *mount_point)
{
	if (!strncmp(root, "/..", 3) && (root[3] == '\0' || root[3] == '/'))
		return 0;
	if (strcmp(root, "/"))
		return 1;
	if (!strcmp(mount_point, "/sys/fs/cgroup"))
		return 4;
	if (!strcmp(mount_point, "/sys/fs/cgroup/unified"))
		return 3;
	return 2;
}

int cgroup_hierarchy_from_mountinfo(const char *text, size_t length, struct cgroup_hierarchy *ret_hierarchy)
{
	const char *end = text + length;
	char *best_root = NULL, *best_mount_point = NULL;
	int best_rank = 0;

	for (const char *line = text; line < end;) {
		const char *newline = memchr(line, '\n', (size_t)(end - line));
		const char *line_end = newline ? newline : end;
		const char *fields[5], *separator = NULL, *after;
		size_t lengths[5], count = 0;
		const char *cursor = line;

		/* ID PARENT MAJOR:MINOR ROOT MOUNT-POINT ... - TYPE SOURCE OPTIONS */
		while (count < 5 && cursor < line_end) {
			const char *space = memchr(cursor, ' ', (size_t)(line_end - cursor));
			const char *field_end = space ? space : line_end;

			fields[count] = cursor;
			lengths[count++] = (size_t)(field_end - cursor);
			cursor = field_end + 1;
		}
		/* Optional fields come between the mount options and the
		 * separator; no field holds " - ", as spaces are escaped. */
		if (count == 5) {
			after = fields[4] + lengths[4];
			separator = memmem(after, (size_t)(line_end - after), " - ", 3);
		}
		if (separator && (size_t)(line_end - separator) >= 3 + 8 && !memcmp(separator + 3, "cgroup2 ", 8)) {
			char *root = unescape_field(fields[3], lengths[3]);
			char *mount_point = unescape_field(fields[4], lengths[4]);
			int rank;

			if (!root || !mount_point) {
				free(root);
				free(mount_point);
				free(best_root);
				free(best_mount_point);
				return -ENOMEM;
			}
			rank = root[0] == '/' && mount_point[0] == '/' ? mount_rank(root, mount_point) : 0;
			if (rank > best_rank) {
				free(best_root);
				free(best_mount_point);
				best_root = root;
				best_mount_point = mount_point;
				best_rank = rank;
			} else {
				free(root);
				free(mount_point);
			}
		}
		line = newline ? newline + 1 : end;
	}
	if (!best_rank)
		return -ENOENT;
	*ret_hierarchy = (struct cgroup_hierarchy){
		.mount_point = best_mount_point,
		.root = best_root,
		.root_level = path_depth(best_root),
		.levels_exact = true,
	};
	return 0;
}

static int read_mountinfo(char **ret_text, size_t *ret_length)
{
	size_t length = 0, capacity = 0;
	char *text = NULL;
	int fd, r = 0;

	fd = open(MOUNTINFO_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t count;

		if (length >= MOUNTINFO_MAX_SIZE) {
			r = -EFBIG;
			break;
		}
		r = ARRAY_GROW_ONE(text, length, capacity, 16384);
		if (r < 0)
			break;
		count = read(fd, text + length, capacity - length);
		if (count < 0 && errno == EINTR)
			continue;
		if (count < 0) {
			r = -errno;
			break;
		}
		if (count == 0)
			break;
		length += (size_t)count;
	}
	close(fd);
	if (r < 0) {
		free(text);
		return r;
	}
	*ret_text = text;
	*ret_length = length;
	return 0;
}

/* A kernel without cgroup namespaces has only the initial one; a namespace
 * file that cannot be looked at is taken for another, which costs rules
 * rather than refusing the owner's own connections. */
static bool in_initial_cgroup_namespace(void)
{
	struct stat status;

	if (stat("/proc/self/ns/cgroup", &status) < 0)
		return errno == ENOENT;
	return status.st_ino == INITIAL_CGROUP_NAMESPACE_INODE;
}

int cgroup_hierarchy_open(struct cgroup_hierarchy **ret_hierarchy)
{
	struct cgroup_hierarchy *hierarchy;
	char *text = NULL;
	size_t length = 0;
	int r;

	r = read_mountinfo(&text, &length);
	if (r < 0)
		return r;
	hierarchy = calloc(1, sizeof(*hierarchy));
	if (!hierarchy) {
		free(text);
		return -ENOMEM;
	}
	r = cgroup_hierarchy_from_mountinfo(text, length, hierarchy);
	free(text);
	if (r < 0) {
		free(hierarchy);
		return r;
	}
	hierarchy->levels_exact = in_initial_cgroup_namespace();
	*ret_hierarchy = hierarchy;
	return 0;
}

void cgroup_hierarchy_free(struct cgroup_hierarchy *hierarchy)
{
	if (!hierarchy)
		return;
	free(hierarchy->mount_point);
	free(hierarchy->root);
	free(hierarchy);
}

/* The ID `socket cgroupv2` compares: the group's kernfs node ID, which its
 * file handle is. The inode number is the same on 64-bit kernels (on 32-bit
 * ones it lacks the upper half): the fallback where handles are refused. */
static int group_id(const char *path, uint64_t *ret_id)
{
	struct {
		struct file_handle header;
		unsigned char bytes[MAX_HANDLE_SZ];
	} handle = { .header.handle_bytes = MAX_HANDLE_SZ };
	struct stat status;
	int mount_id;

	if (name_to_handle_at(AT_FDCWD, path, &handle.header, &mount_id, 0) == 0 &&
	    handle.header.handle_type == FILEID_KERNFS && handle.header.handle_bytes == sizeof(*ret_id)) {
		memcpy(ret_id, handle.header.f_handle, sizeof(*ret_id));
		return 0;
	}
	if (lstat(path, &status) < 0)
		return -errno;
	if (!S_ISDIR(status.st_mode))
		return -ENOTDIR;
	*ret_id = (uint64_t)status.st_ino;
	return 0;
}

static char *join(const char *a, const char *b)
{
	char *path = NULL;

	return asprintf(&path, "%s%s%s", a, b[0] == '/' || !b[0] ? "" : "/", b) < 0 ? NULL : path;
}

struct resolver {
	const struct cgroup_hierarchy *hierarchy;
	const struct mapping *mapping;
	struct cgroup_resolution *resolution;
};

static int add_string(char ***items, size_t *count, size_t *capacity, const char *text)
{
	char *copy;

	for (size_t i = 0; i < *count; i++) {
		if (!strcmp((*items)[i], text))
			return 0;
	}
	copy = strdup(text);
	if (!copy || ARRAY_GROW_ONE(*items, *count, *capacity, 8) < 0) {
		free(copy);
		return -ENOMEM;
	}
	(*items)[(*count)++] = copy;
	return 0;
}

static int watch(struct resolver *resolver, const char *directory)
{
	struct cgroup_resolution *resolution = resolver->resolution;

	return add_string(&resolution->watched, &resolution->watched_count, &resolution->watched_capacity,
			  directory);
}

static int add_name(struct resolver *resolver, const char *name, size_t length)
{
	struct cgroup_resolution *resolution = resolver->resolution;
	char *copy = strndup(name, length);
	int r;

	if (!copy)
		return -ENOMEM;
	r = add_string(&resolution->names, &resolution->name_count, &resolution->name_capacity, copy);
	free(copy);
	return r;
}

static void note_skipped(struct resolver *resolver, const char *directory, int error)
{
	struct cgroup_resolution *resolution = resolver->resolution;

	if (resolution->skipped_error)
		return;
	resolution->skipped = strdup(directory);
	if (resolution->skipped)
		resolution->skipped_error = error;
}

/* visible: the group's path below the mount point ("/a/b"), which is also
 * its path from the root as far as this namespace can see. */
static int add_group(struct resolver *resolver, const struct owner *owner, const char *visible)
{
	const struct cgroup_hierarchy *hierarchy = resolver->hierarchy;
	struct owner_groups *groups = &resolver->resolution->owners[owner->index];
	unsigned int level = hierarchy->root_level + path_depth(visible), extra = 0;
	struct cgroup_group *grown, *group;
	char *full = join(hierarchy->mount_point, visible);
	uint64_t id;
	int r;

	if (!full)
		return -ENOMEM;
	r = group_id(full, &id);
	free(full);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return 0;
	if (!hierarchy->levels_exact)
		extra = CGROUP_NAMESPACE_EXTRA_LEVELS;
	if (level > CGROUP_MAX_LEVEL) {
		resolver->resolution->too_deep++;
		return 0;
	}
	if (level + extra > CGROUP_MAX_LEVEL)
		extra = CGROUP_MAX_LEVEL - level;
	grown = realloc(groups->groups, (groups->count + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	groups->groups = grown;
	group = &groups->groups[groups->count];
	*group = (struct cgroup_group){ .id = id, .level = level, .extra_levels = extra };
	if (!strcmp(hierarchy->root, "/"))
		group->path = strdup(visible);
	else if (asprintf(&group->path, "%s%s", hierarchy->root, visible) < 0)
		group->path = NULL;
	if (!group->path)
		return -ENOMEM;
	groups->count++;
	return 0;
}

/* "/a/b/c" in a hierarchy whose mount shows the group root: the part
 * below it, or NULL when the group lies outside what is mounted. */
static const char *visible_part(const struct cgroup_hierarchy *hierarchy, const char *path)
{
	size_t length = strlen(hierarchy->root);

	if (!strcmp(hierarchy->root, "/"))
		return path;
	if (strncmp(path, hierarchy->root, length) || path[length] != '/')
		return NULL;
	return path + length;
}

/* A path owner's group, looked up where it is. Its parent is watched, or
 * while that does not exist the nearest ancestor that does. */
static int resolve_path(struct resolver *resolver, const struct owner *owner)
{
	const char *visible = visible_part(resolver->hierarchy, owner->name);
	char *directory;
	int r;

	for (const char *c = owner->name + 1; *c;) {
		const char *slash = strchr(c, '/');
		size_t length = slash ? (size_t)(slash - c) : strlen(c);

		r = add_name(resolver, c, length);
		if (r < 0)
			return r;
		c += length + (slash ? 1 : 0);
	}
	if (!visible)
		return 0;
	r = add_group(resolver, owner, visible);
	if (r < 0)
		return r;
	directory = join(resolver->hierarchy->mount_point, visible);
	if (!directory)
		return -ENOMEM;
	for (;;) {
		size_t mount_length = strlen(resolver->hierarchy->mount_point);
		char *slash = strrchr(directory, '/');
		struct stat status;

		if (!slash || (size_t)(slash - directory) <= mount_length) {
			directory[mount_length] = '\0';
			break;
		}
		*slash = '\0';
		if (stat(directory, &status) == 0 && S_ISDIR(status.st_mode))
			break;
	}
	r = watch(resolver, directory);
	free(directory);
	return r;
}

static bool is_slice(const char *name)
{
	size_t length = strlen(name), suffix = strlen(SLICE_SUFFIX);

	return length > suffix && !strcmp(name + length - suffix, SLICE_SUFFIX);
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directories below a directory, sorted; entries of other types (the
 * control files) are not. */
static int list_directories(const char *path, char ***ret_names, size_t *ret_count)
{
	size_t count = 0, capacity = 0;
	char **names = NULL;
	struct dirent *entry;
	DIR *directory;
	int r = 0;

	directory = opendir(path);
	if (!directory)
		return -errno;
	while ((errno = 0, entry = readdir(directory))) {
		if (entry->d_name[0] == '.' || (entry->d_type != DT_DIR && entry->d_type != DT_UNKNOWN))
			continue;
		if (entry->d_type == DT_UNKNOWN) {
			struct stat status;

			if (fstatat(dirfd(directory), entry->d_name, &status, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISDIR(status.st_mode))
				continue;
		}
		r = ARRAY_GROW_ONE(names, count, capacity, 16);
		if (r < 0)
			break;
		names[count] = strdup(entry->d_name);
		if (!names[count]) {
			r = -ENOMEM;
			break;
		}
		count++;
	}
	if (!r && errno)
		r = -errno;
	closedir(directory);
	if (r < 0) {
		for (size_t i = 0; i < count; i++)
			free(names[i]);
		free(names);
		return r;
	}
	if (count)
		qsort(names, count, sizeof(*names), compare_names);
	*ret_names = names;
	*ret_count = count;
	return 0;
}

/* Every unit owner found in one walk of the slice tree, breadth first, in
 * name order. systemd puts a unit's group in its slice's, and a slice's in
 * its parent slice's; a group that is not a slice is a unit's own (or one
 * delegated below it), so nothing below it is a system unit. */
static int resolve_units(struct resolver *resolver)
{
	const struct mapping *mapping = resolver->mapping;
	size_t queued = 0, capacity = 0, next = 0;
	char **queue = NULL;
	int r;

	resolver->resolution->slices_matter = true;
	for (size_t i = 0; i < mapping->owner_count; i++) {
		if (mapping->owners[i]->kind == OWNER_UNIT) {
			r = add_name(resolver, mapping->owners[i]->name, strlen(mapping->owners[i]->name));
			if (r < 0)
				return r;
		}
	}
	r = ARRAY_GROW_ONE(queue, queued, capacity, 16);
	if (r < 0)
		return r;
	queue[queued] = strdup("");
	if (!queue[queued]) {
		free(queue);
		return -ENOMEM;
	}
	queued++;
	for (; r >= 0 && next < queued; next++) {
		char *directory = join(resolver->hierarchy->mount_point, queue[next]);
		char **names = NULL;
		size_t count = 0;

		if (!directory) {
			r = -ENOMEM;
			break;
		}
		r = list_directories(directory, &names, &count);
		if (r == -ENOMEM || (r < 0 && next == 0)) {
			free(directory);
			break;
		}
		if (r < 0) {
			note_skipped(resolver, directory, r);
			r = 0;
		} else {
			r = watch(resolver, directory);
		}
		free(directory);
		for (size_t i = 0; i < count; i++) {
			const struct owner *owner = NULL;
			char *path = NULL;

			/* Most entries are neither: their paths are not made. */
			for (size_t j = 0; !owner && j < mapping->owner_count; j++) {
				if (mapping->owners[j]->kind == OWNER_UNIT && !strcmp(mapping->owners[j]->name, names[i]))
					owner = mapping->owners[j];
			}
			if (r >= 0 && (owner || is_slice(names[i])) && asprintf(&path, "%s/%s", queue[next], names[i]) < 0)
				r = -ENOMEM;
			if (r >= 0 && owner)
				r = add_group(resolver, owner, path);
			if (r >= 0 && path && is_slice(names[i])) {
				r = ARRAY_GROW_ONE(queue, queued, capacity, 16);
				if (r >= 0) {
					queue[queued++] = path;
					path = NULL;
				}
			}
			free(path);
			free(names[i]);
		}
		free(names);
	}
	for (size_t i = 0; i < queued; i++)
		free(queue[i]);
	free(queue);
	return r;
}

int cgroup_resolve(const struct cgroup_hierarchy *hierarchy, const struct mapping *mapping,
		   struct cgroup_resolution **ret_resolution)
{
	struct resolver resolver = { .hierarchy = hierarchy, .mapping = mapping };
	bool units = false;
	int r = 0;

	resolver.resolution = calloc(1, sizeof(*resolver.resolution));
	if (!resolver.resolution)
		return -ENOMEM;
	resolver.resolution->owner_count = mapping->owner_count;
	resolver.resolution->owners = calloc(mapping->owner_count ? mapping->owner_count : 1,
					     sizeof(*resolver.resolution->owners));
	if (!resolver.resolution->owners) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; r >= 0 && i < mapping->owner_count; i++) {
		resolver.resolution->owners[i].owner = mapping->owners[i];
		if (mapping->owners[i]->kind == OWNER_CGROUP)
			r = resolve_path(&resolver, mapping->owners[i]);
		else
			units = true;
	}
	if (r >= 0 && units)
		r = resolve_units(&resolver);
out:
	if (r < 0) {
		cgroup_resolution_free(resolver.resolution);
		return r;
	}
	*ret_resolution = resolver.resolution;
	return 0;
}

void cgroup_resolution_free(struct cgroup_resolution *resolution)
{
	if (!resolution)
		return;
	for (size_t i = 0; resolution->owners && i < resolution->owner_count; i++) {
		for (size_t j = 0; j < resolution->owners[i].count; j++)
			free(resolution->owners[i].groups[j].path);
		free(resolution->owners[i].groups);
	}
	free(resolution->owners);
	for (size_t i = 0; i < resolution->watched_count; i++)
		free(resolution->watched[i]);
	free(resolution->watched);
	for (size_t i = 0; i < resolution->name_count; i++)
		free(resolution->names[i]);
	free(resolution->names);
	free(resolution->skipped);
	free(resolution);
}

bool cgroup_resolution_name_matters(const struct cgroup_resolution *resolution, const char *name)
{
	if (resolution->slices_matter && is_slice(name))
		return true;
	for (size_t i = 0; i < resolution->name_count; i++) {
		if (!strcmp(resolution->names[i], name))
			return true;
	}
	return false;
}
