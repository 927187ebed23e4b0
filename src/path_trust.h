/* Whether a path can be trusted by a process running as a given user, the
 * way sshd's StrictModes decides it: every component from / down belongs to
 * root or that user and nobody else may write it, and a symbolic link is
 * followed only when the link and its target pass the same test. Whoever
 * could change any step of the path could make portredir read another
 * mapping, or write and delete in a directory of their choosing. */
#ifndef PATH_TRUST_H
#define PATH_TRUST_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Who may own a step of the path. Root always may. */
struct path_trust {
	/* The user portredir runs as (its effective uid). */
	uid_t user;
	/* One more owner accepted for the last component only (the service
	 * user, for the runtime directory); used when has_extra_owner. */
	bool has_extra_owner;
	uid_t extra_owner;
	/* In a user namespace, files of users outside its mapping show as
	 * the overflow uid, root's /, /etc and /tmp among them: directories
	 * (not links, not the last component) of that owner are accepted,
	 * since from inside they cannot be told apart from the host's root. */
	bool accept_unmapped_directories;
	uid_t unmapped_owner;
};

enum path_problem_kind {
	PATH_PROBLEM_NONE,
	/* A component belongs to someone else. */
	PATH_PROBLEM_OWNER,
	/* A component others may write: a directory without the sticky bit
	 * on the way, or the last component itself. */
	PATH_PROBLEM_WRITABLE,
	/* The walk itself failed (problem.error): missing, a loop, no access. */
	PATH_PROBLEM_ERROR,
};

struct path_problem {
	enum path_problem_kind kind;
	/* The component at fault, as an absolute path, and what it is. */
	char component[PATH_MAX];
	bool is_link;
	bool is_directory;
	/* The component is the path as given (its last component, before
	 * any link was followed), or the object the path ends at. */
	bool is_subject;
	bool is_last;
	uid_t owner;
	mode_t mode;
	/* PATH_PROBLEM_ERROR: the -errno. */
	int error;
};

/* The trust of a process running as geteuid() in this user namespace. */
void path_trust_init(struct path_trust *trust);

/* Walks path (a relative one from the working directory, whose own path
 * is walked too) one component at a time, with O_PATH and O_NOFOLLOW, so
 * that no step is taken through anything unchecked. A directory on the way
 * that others may write is accepted only with the sticky bit (/tmp), where
 * nobody but an entry's owner can rename or remove it, and then only into
 * an entry of a trusted owner. The last component, once its links are
 * resolved, is checked too when it exists and is a regular file or a
 * directory (owner, and nobody else may write it, sticky or not); anything
 * else is left to the caller's open(), which says what it is.
 *
 * Returns 0, an O_PATH descriptor of the directory that holds the last
 * component (*ret_directory, to close) and that component's name
 * (ret_name; the caller opens it with O_NOFOLLOW, and it may not exist);
 * -EPERM with *problem saying which component and why; or another -errno,
 * also in *problem (the component that could not be opened). */
int path_trust_walk(const char *path, const struct path_trust *trust, int *ret_directory,
		    char ret_name[NAME_MAX + 1], struct path_problem *problem);

/* The same from directory (a descriptor of a directory already trusted,
 * known to the user as directory_path), for name inside it: a drop-in. */
int path_trust_walk_at(int directory, const char *directory_path, const char *name,
		       const struct path_trust *trust, int *ret_directory, char ret_name[NAME_MAX + 1],
		       struct path_problem *problem);

/* Checks an opened object again (after the walk, against a swap between
 * the walk and the open), as the last component: fills *problem and
 * returns -EPERM when it fails. */
int path_trust_check_last(const struct path_trust *trust, const struct stat *status, const char *path,
			  struct path_problem *problem);

/* Why subject (the path the user gave) is refused, without a trailing
 * period: "is owned by uid 1000, not root; run 'chown root FILE'", or
 * "directory /x on its path is writable by group or others (mode 0777);
 * run 'chmod go-w /x'". Returns a malloc'd string, NULL when out of
 * memory. */
char *path_problem_describe(const struct path_problem *problem, const char *subject,
			    const struct path_trust *trust);

#endif
