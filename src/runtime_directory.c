/* Finding, trusting and creating the runtime directory (runtime_directory.h). */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "runtime_directory.h"

const char *runtime_directory_path(void)
{
	const char *path = getenv(RUNTIME_DIRECTORY_VARIABLE);

	return path && *path ? path : RUNTIME_DEFAULT_DIRECTORY;
}

/* The service user exists while a unit runs as it (a dynamic user, named
 * through nss-systemd) or always (a user of the system's own). Asked only
 * when the directory's owner is neither root nor the running user. */
static bool service_user_id(uid_t *ret_uid)
{
	struct passwd *user = getpwnam(RUNTIME_SERVICE_USER);

	if (!user)
		return false;
	*ret_uid = user->pw_uid;
	return true;
}

static int walk(const char *path, struct path_trust *trust, int *ret_parent, char name[NAME_MAX + 1],
		struct path_problem *problem, bool service_user)
{
	int r;

	path_trust_init(trust);
	r = path_trust_walk(path, trust, ret_parent, name, problem);
	if (r == -EPERM && service_user && problem->is_last && problem->kind == PATH_PROBLEM_OWNER &&
	    !problem->is_link && problem->owner != trust->user &&
	    service_user_id(&trust->extra_owner) && trust->extra_owner == problem->owner) {
		trust->has_extra_owner = true;
		r = path_trust_walk(path, trust, ret_parent, name, problem);
	}
	return r;
}

int runtime_directory_open(bool create, bool service_user, struct path_trust *ret_trust,
			   struct path_problem *problem)
{
	const char *path = runtime_directory_path();
	char name[NAME_MAX + 1];
	struct stat status;
	int parent, fd, r;

	r = walk(path, ret_trust, &parent, name, problem, service_user);
	if (r < 0)
		return r;
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		/* The parent passed the walk: nobody else can put anything
		 * in its place between the mkdir and the open. */
		if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST) {
			r = -errno;
			close(parent);
			return r;
		}
		fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	r = fd < 0 ? -errno : 0;
	close(parent);
	if (r < 0)
		return r;
	/* Checked again on what was opened: it may have changed since. */
	if (fstat(fd, &status) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = path_trust_check_last(ret_trust, &status, path, problem);
	if (r < 0) {
		problem->is_subject = true;
		close(fd);
		return r;
	}
	return fd;
}

char *runtime_directory_problem(bool service_user)
{
	struct path_problem problem;
	struct path_trust trust;
	char *reason, *line = NULL;
	int fd;

	fd = runtime_directory_open(false, service_user, &trust, &problem);
	if (fd >= 0) {
		close(fd);
		return NULL;
	}
	if (fd == -ENOENT)
		return NULL;
	/* Not the walk's finding: the open or mkdir after it failed. */
	if (problem.kind == PATH_PROBLEM_NONE) {
		if (asprintf(&line, "%s: cannot open: %s", runtime_directory_path(), strerror(-fd)) < 0)
			return NULL;
		return line;
	}
	reason = path_problem_describe(&problem, runtime_directory_path(), &trust);
	if (!reason)
		return NULL;
	if (asprintf(&line, "%s: %s", runtime_directory_path(), reason) < 0)
		line = NULL;
	free(reason);
	return line;
}
