/* The StrictModes walk of a path (path_trust.h): each component opened with
 * O_PATH | O_NOFOLLOW relative to the one before, checked on its
 * descriptor, and symbolic links read and walked in turn, so that what is
 * checked is what is opened. No printing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "path_trust.h"

/* As the kernel's MAXSYMLINKS. */
#define PATH_TRUST_MAX_LINKS 40

struct walk {
	const struct path_trust *trust;
	/* The directory reached so far, and its absolute path for messages. */
	int current;
	struct stat current_status;
	char display[PATH_MAX];
	/* What is left to walk, components separated by '/'. */
	char pending[PATH_MAX];
	int links;
	struct path_problem *problem;
};

void path_trust_init(struct path_trust *trust)
{
	unsigned int inside, outside, count, overflow = 65534;
	FILE *map;

	memset(trust, 0, sizeof(*trust));
	trust->user = geteuid();
	/* The initial user namespace maps every uid to itself, in one line. */
	map = fopen("/proc/self/uid_map", "re");
	if (!map)
		return;
	if (fscanf(map, "%u %u %u", &inside, &outside, &count) == 3 &&
	    !(inside == 0 && outside == 0 && count == 4294967295u)) {
		FILE *file = fopen("/proc/sys/kernel/overflowuid", "re");

		if (file) {
			if (fscanf(file, "%u", &overflow) != 1)
				overflow = 65534;
			fclose(file);
		}
		trust->accept_unmapped_directories = true;
		trust->unmapped_owner = (uid_t)overflow;
	}
	fclose(map);
}

static bool owner_trusted(const struct path_trust *trust, uid_t owner, bool last, bool directory_on_the_way)
{
	if (owner == 0 || owner == trust->user)
		return true;
	if (last && trust->has_extra_owner && owner == trust->extra_owner)
		return true;
	return directory_on_the_way && trust->accept_unmapped_directories && owner == trust->unmapped_owner;
}

static int fail(struct path_problem *problem, enum path_problem_kind kind, const char *component,
		const struct stat *status, int error)
{
	problem->kind = kind;
	snprintf(problem->component, sizeof(problem->component), "%s", component);
	if (status) {
		problem->is_link = S_ISLNK(status->st_mode);
		problem->is_directory = S_ISDIR(status->st_mode);
		problem->owner = status->st_uid;
		problem->mode = status->st_mode;
	}
	problem->error = error;
	return kind == PATH_PROBLEM_ERROR ? error : -EPERM;
}

/* The same for the walk's current step: whether it is the path as given,
 * or where the path ends. */
static int fail_here(struct walk *walk, enum path_problem_kind kind, const char *component,
		     const struct stat *status, int error, bool last)
{
	walk->problem->is_last = last;
	walk->problem->is_subject = last && walk->links == 0;
	return fail(walk->problem, kind, component, status, error);
}

int path_trust_check_last(const struct path_trust *trust, const struct stat *status, const char *path,
			  struct path_problem *problem)
{
	if (!S_ISREG(status->st_mode) && !S_ISDIR(status->st_mode))
		return 0;
	problem->is_last = true;
	if (!owner_trusted(trust, status->st_uid, true, false))
		return fail(problem, PATH_PROBLEM_OWNER, path, status, 0);
	/* A write ACL shows in the group bits (its mask). The sticky bit
	 * does not help here: a directory's listing is read whole. */
	if (status->st_mode & (S_IWGRP | S_IWOTH))
		return fail(problem, PATH_PROBLEM_WRITABLE, path, status, 0);
	problem->is_last = false;
	return 0;
}

/* The last component, in the walk: the path as given when no link led
 * to it. */
static int check_last(struct walk *walk, const struct stat *status, const char *path)
{
	walk->problem->is_subject = walk->links == 0;
	return path_trust_check_last(walk->trust, status, path, walk->problem);
}

/* display + "/" + name, for messages (cut short past PATH_MAX, where the
 * kernel would have refused the path anyway). */
static void join(char *buffer, size_t size, const char *display, const char *name)
{
	size_t length = strlen(display);
	int r;

	if (length && display[length - 1] == '/')
		r = snprintf(buffer, size, "%s%s", display, name);
	else
		r = snprintf(buffer, size, "%s/%s", display, name);
	if (r < 0)
		buffer[0] = '\0';
}

/* Makes fd (a directory, known as path) the current one, checked as a
 * directory the walk goes through. Takes fd. */
static int enter(struct walk *walk, int fd, const char *path)
{
	struct stat status;

	if (fstat(fd, &status) < 0) {
		int error = -errno;

		close(fd);
		return fail_here(walk, PATH_PROBLEM_ERROR, path, NULL, error, false);
	}
	if (walk->current >= 0)
		close(walk->current);
	walk->current = fd;
	walk->current_status = status;
	snprintf(walk->display, sizeof(walk->display), "%s", path);
	if (!owner_trusted(walk->trust, status.st_uid, false, true))
		return fail_here(walk, PATH_PROBLEM_OWNER, path, &status, 0, false);
	/* Others may create entries in a sticky directory, but only an
	 * entry's owner (or the directory's) may rename or remove it: each
	 * entry the walk takes is checked for its owner. */
	if ((status.st_mode & (S_IWGRP | S_IWOTH)) && !(status.st_mode & S_ISVTX))
		return fail_here(walk, PATH_PROBLEM_WRITABLE, path, &status, 0, false);
	return 0;
}

static int enter_root(struct walk *walk)
{
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return fail_here(walk, PATH_PROBLEM_ERROR, "/", NULL, -errno, false);
	return enter(walk, fd, "/");
}

/* Takes the next component off walk->pending into name; false at the end. */
static bool next_component(struct walk *walk, char name[NAME_MAX + 1], int *error)
{
	char *start = walk->pending, *slash;
	size_t length;

	while (*start == '/')
		start++;
	if (!*start) {
		walk->pending[0] = '\0';
		return false;
	}
	slash = strchr(start, '/');
	length = slash ? (size_t)(slash - start) : strlen(start);
	if (length > NAME_MAX) {
		*error = -ENAMETOOLONG;
		return false;
	}
	memcpy(name, start, length);
	name[length] = '\0';
	memmove(walk->pending, start + length, strlen(start + length) + 1);
	return true;
}

static bool nothing_pending(const struct walk *walk)
{
	for (const char *c = walk->pending; *c; c++) {
		if (*c != '/')
			return false;
	}
	return true;
}

/* The parent of the current directory, for "..": a directory like any other. */
static int go_up(struct walk *walk)
{
	char parent[PATH_MAX];
	char *slash;
	int fd;

	snprintf(parent, sizeof(parent), "%s", walk->display);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	else
		snprintf(parent, sizeof(parent), "/");
	fd = openat(walk->current, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail_here(walk, PATH_PROBLEM_ERROR, parent, NULL, -errno, false);
	return enter(walk, fd, parent);
}

/* Replaces the link just met by its target in what is left to walk. */
static int follow(struct walk *walk, int link, const char *link_path)
{
	char target[PATH_MAX], rest[PATH_MAX];
	size_t rest_length;
	ssize_t length;

	if (++walk->links > PATH_TRUST_MAX_LINKS)
		return fail_here(walk, PATH_PROBLEM_ERROR, link_path, NULL, -ELOOP, true);
	length = readlinkat(link, "", target, sizeof(target));
	if (length < 0)
		return fail_here(walk, PATH_PROBLEM_ERROR, link_path, NULL, -errno, false);
	if ((size_t)length >= sizeof(target))
		return fail_here(walk, PATH_PROBLEM_ERROR, link_path, NULL, -ENAMETOOLONG, false);
	target[length] = '\0';
	rest_length = strlen(walk->pending);
	if ((size_t)length + 1 + rest_length >= sizeof(walk->pending))
		return fail_here(walk, PATH_PROBLEM_ERROR, link_path, NULL, -ENAMETOOLONG, false);
	memcpy(rest, walk->pending, rest_length + 1);
	memcpy(walk->pending, target, (size_t)length);
	walk->pending[length] = '/';
	memcpy(walk->pending + length + 1, rest, rest_length + 1);
	if (target[0] == '/')
		return enter_root(walk);
	return 0;
}

static int walk_run(struct walk *walk, int *ret_directory, char ret_name[NAME_MAX + 1])
{
	char name[NAME_MAX + 1], child_path[PATH_MAX];
	struct stat status;
	int error = 0, r;

	for (;;) {
		bool last;
		int fd;

		if (!next_component(walk, name, &error)) {
			if (error)
				return fail_here(walk, PATH_PROBLEM_ERROR, walk->display, NULL, error, false);
			/* The path ended in "/", "." or "..": it names the
			 * directory reached, which is then the last component. */
			r = check_last(walk, &walk->current_status, walk->display);
			if (r < 0)
				return r;
			snprintf(ret_name, NAME_MAX + 1, ".");
			break;
		}
		if (!strcmp(name, "."))
			continue;
		if (!strcmp(name, "..")) {
			r = go_up(walk);
			if (r < 0)
				return r;
			continue;
		}
		last = nothing_pending(walk);
		join(child_path, sizeof(child_path), walk->display, name);
		fd = openat(walk->current, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && last) {
			/* Missing at the end: the caller's open() or mkdir()
			 * says so, or creates it. */
			snprintf(ret_name, NAME_MAX + 1, "%s", name);
			break;
		}
		if (fd < 0)
			return fail_here(walk, PATH_PROBLEM_ERROR, child_path, NULL, -errno, last);
		if (fstat(fd, &status) < 0) {
			error = -errno;
			close(fd);
			return fail_here(walk, PATH_PROBLEM_ERROR, child_path, NULL, error, last);
		}
		if (S_ISLNK(status.st_mode)) {
			/* The link's owner could point it anywhere. */
			if (!owner_trusted(walk->trust, status.st_uid, false, false)) {
				close(fd);
				return fail_here(walk, PATH_PROBLEM_OWNER, child_path, &status, 0, last);
			}
			r = follow(walk, fd, child_path);
			close(fd);
			if (r < 0)
				return r;
			continue;
		}
		if (last) {
			close(fd);
			r = check_last(walk, &status, child_path);
			if (r < 0)
				return r;
			snprintf(ret_name, NAME_MAX + 1, "%s", name);
			break;
		}
		if (!S_ISDIR(status.st_mode)) {
			close(fd);
			return fail_here(walk, PATH_PROBLEM_ERROR, child_path, &status, -ENOTDIR, false);
		}
		r = enter(walk, fd, child_path);
		if (r < 0)
			return r;
	}
	*ret_directory = walk->current;
	walk->current = -1;
	return 0;
}

static int walk_from(struct walk *walk, int *ret_directory, char ret_name[NAME_MAX + 1])
{
	int r = walk_run(walk, ret_directory, ret_name);

	if (walk->current >= 0)
		close(walk->current);
	return r;
}

int path_trust_walk(const char *path, const struct path_trust *trust, int *ret_directory,
		    char ret_name[NAME_MAX + 1], struct path_problem *problem)
{
	struct walk walk = { .trust = trust, .current = -1, .problem = problem };
	char cwd[PATH_MAX];
	int r;

	memset(problem, 0, sizeof(*problem));
	*ret_directory = -1;
	if (!*path)
		return fail(problem, PATH_PROBLEM_ERROR, path, NULL, -ENOENT);
	/* A relative path is as trustworthy as the directory it starts from. */
	if (path[0] == '/') {
		r = snprintf(walk.pending, sizeof(walk.pending), "%s", path);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return fail(problem, PATH_PROBLEM_ERROR, ".", NULL, -errno);
		r = snprintf(walk.pending, sizeof(walk.pending), "%s/%s", cwd, path);
	}
	if (r < 0 || (size_t)r >= sizeof(walk.pending))
		return fail(problem, PATH_PROBLEM_ERROR, path, NULL, -ENAMETOOLONG);
	r = enter_root(&walk);
	if (r < 0) {
		if (walk.current >= 0)
			close(walk.current);
		return r;
	}
	return walk_from(&walk, ret_directory, ret_name);
}

int path_trust_walk_at(int directory, const char *directory_path, const char *name,
		       const struct path_trust *trust, int *ret_directory, char ret_name[NAME_MAX + 1],
		       struct path_problem *problem)
{
	struct walk walk = { .trust = trust, .problem = problem };
	char cwd[PATH_MAX];
	int r;

	memset(problem, 0, sizeof(*problem));
	*ret_directory = -1;
	walk.current = fcntl(directory, F_DUPFD_CLOEXEC, 0);
	if (walk.current < 0)
		return fail(problem, PATH_PROBLEM_ERROR, directory_path, NULL, -errno);
	if (fstat(walk.current, &walk.current_status) < 0) {
		r = -errno;
		close(walk.current);
		return fail(problem, PATH_PROBLEM_ERROR, directory_path, NULL, r);
	}
	/* Messages name components by absolute paths, as they do for a
	 * walk from / (and ".." needs to know where it leads). */
	if (directory_path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		snprintf(walk.display, sizeof(walk.display), "%s", directory_path);
	else
		join(walk.display, sizeof(walk.display), cwd, directory_path);
	r = snprintf(walk.pending, sizeof(walk.pending), "%s", name);
	if (r < 0 || (size_t)r >= sizeof(walk.pending)) {
		close(walk.current);
		return fail(problem, PATH_PROBLEM_ERROR, directory_path, NULL, -ENAMETOOLONG);
	}
	return walk_from(&walk, ret_directory, ret_name);
}

/* "root", or "root or uid N" for a run that is not root's. */
static void trusted_owners(const struct path_trust *trust, bool last, char *buffer, size_t size)
{
	int length = snprintf(buffer, size, "root");

	if (trust->user != 0 && length >= 0 && (size_t)length < size)
		length += snprintf(buffer + length, size - (size_t)length, " or uid %u", (unsigned int)trust->user);
	if (last && trust->has_extra_owner && length >= 0 && (size_t)length < size)
		snprintf(buffer + length, size - (size_t)length, " or uid %u", (unsigned int)trust->extra_owner);
}

char *path_problem_describe(const struct path_problem *problem, const char *subject,
			    const struct path_trust *trust)
{
	const char *kind = problem->is_link ? "symbolic link" : problem->is_directory ? "directory" : "file";
	/* What the hint names: the path as the user gave it, when it is that. */
	const char *name = problem->is_subject ? subject : problem->component;
	char owners[64], where[PATH_MAX + 64];
	char *text = NULL;
	int r = -1;

	if (problem->is_subject)
		snprintf(where, sizeof(where), "%s", problem->is_link ? "is a symbolic link" : "is");
	else if (problem->is_last)
		snprintf(where, sizeof(where), "its target %s is", problem->component);
	else
		snprintf(where, sizeof(where), "%s %s on its path is", kind, problem->component);
	trusted_owners(trust, problem->is_last && !problem->is_link, owners, sizeof(owners));
	switch (problem->kind) {
	case PATH_PROBLEM_OWNER:
		if (problem->is_link)
			r = asprintf(&text, "%s owned by uid %u, not %s; replace it with a link root owns, or name its target",
				     where, (unsigned int)problem->owner, owners);
		else
			r = asprintf(&text, "%s owned by uid %u, not %s; run 'chown root %s'", where,
				     (unsigned int)problem->owner, owners, name);
		break;
	case PATH_PROBLEM_WRITABLE:
		r = asprintf(&text, "%s writable by group or others (mode %04o); run 'chmod go-w %s'", where,
			     (unsigned int)(problem->mode & 07777), name);
		break;
	case PATH_PROBLEM_ERROR:
		if (problem->is_last || problem->error == -ENOENT || problem->error == -ELOOP)
			r = asprintf(&text, "cannot open: %s", strerror(-problem->error));
		else
			r = asprintf(&text, "cannot open %s on its path: %s", problem->component,
				     strerror(-problem->error));
		break;
	case PATH_PROBLEM_NONE:
		r = asprintf(&text, "is trusted");
		break;
	}
	return r < 0 ? NULL : text;
}
