/* Who holds each listener: the process, found as `ss -p` finds it, by the
 * socket's inode among the descriptors under /proc/PID/fd; the user's
 * name; and the path of the socket's cgroup v2 group, found by its id (the
 * group directory's inode number) in the hierarchy. Whatever cannot be
 * seen stays unknown: nothing is guessed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "host_processes.h"

/* A bound on the walk of the cgroup hierarchy. */
#define MAX_CGROUP_DIRECTORIES 100000

static bool all_found(const struct host *host)
{
	for (size_t i = 0; i < host->listener_count; i++) {
		if (!host->listeners[i].pid)
			return false;
	}
	return true;
}

static void read_process_name(int pid, char *buffer, size_t size)
{
	char path[64];
	ssize_t length;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	buffer[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	length = read(fd, buffer, size - 1);
	close(fd);
	if (length <= 0) {
		buffer[0] = '\0';
		return;
	}
	buffer[length] = '\0';
	buffer[strcspn(buffer, "\n")] = '\0';
}

/* The descriptors of one process; returns -EACCES when they cannot be
 * read (another user's process, without root). */
static int scan_process(struct host *host, int pid)
{
	char path[64], link[64];
	struct dirent *entry;
	DIR *directory;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == EACCES || errno == EPERM ? -EACCES : 0;
	directory = fdopendir(fd);
	if (!directory) {
		close(fd);
		return 0;
	}
	while ((entry = readdir(directory))) {
		unsigned long long inode;
		ssize_t length;
		char end;

		if (entry->d_name[0] == '.')
			continue;
		length = readlinkat(dirfd(directory), entry->d_name, link, sizeof(link) - 1);
		if (length <= 0)
			continue;
		link[length] = '\0';
		if (sscanf(link, "socket:[%llu%c", &inode, &end) != 2 || end != ']')
			continue;
		for (size_t i = 0; i < host->listener_count; i++) {
			struct listener *listener = &host->listeners[i];

			/* /proc lists processes in ascending pid order: the
			 * first found is the lowest, usually the parent of
			 * workers that share the socket. */
			if (listener->pid || listener->inode != inode)
				continue;
			listener->pid = pid;
			read_process_name(pid, listener->process, sizeof(listener->process));
		}
	}
	closedir(directory);
	return 0;
}

void host_find_processes(struct host *host)
{
	struct dirent *entry;
	DIR *proc;

	if (!host->listener_count)
		return;
	proc = opendir("/proc");
	if (!proc) {
		host->processes_hidden = true;
		return;
	}
	while (!all_found(host) && (entry = readdir(proc))) {
		char *end;
		long pid = strtol(entry->d_name, &end, 10);

		if (*end || pid <= 0 || pid > INT_MAX)
			continue;
		if (scan_process(host, (int)pid) == -EACCES)
			host->processes_hidden = true;
	}
	closedir(proc);
}

int host_find_users(struct host *host)
{
	for (size_t i = 0; i < host->listener_count; i++) {
		struct listener *listener = &host->listeners[i];
		struct passwd entry, *found = NULL;
		char buffer[4096];

		if (getpwuid_r(listener->uid, &entry, buffer, sizeof(buffer), &found) != 0 || !found)
			continue;
		listener->user = strdup(found->pw_name);
		if (!listener->user)
			return -ENOMEM;
	}
	return 0;
}

int host_cgroup_root(char *buffer, size_t size)
{
	char line[4096];
	FILE *mounts = fopen("/proc/self/mountinfo", "re");
	int r = -ENOENT;

	if (!mounts)
		return -errno;
	while (fgets(line, sizeof(line), mounts)) {
		char point[PATH_MAX], type[64];
		const char *separator = strstr(line, " - ");

		/* "ID PARENT MAJOR:MINOR ROOT POINT OPTIONS... - TYPE SOURCE ..." */
		if (!separator || sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1 ||
		    sscanf(separator, " - %63s", type) != 1 || strcmp(type, "cgroup2"))
			continue;
		/* Mount points with spaces are written with octal escapes;
		 * the hierarchy's never has them. */
		if (strchr(point, '\\'))
			continue;
		snprintf(buffer, size, "%s", point);
		r = 0;
		break;
	}
	fclose(mounts);
	return r;
}

struct cgroup_walk {
	struct host *host;
	size_t root_length;
	size_t directories;
	size_t unresolved;
};

static int resolve(struct cgroup_walk *walk, const char *path, ino_t inode)
{
	for (size_t i = 0; i < walk->host->listener_count; i++) {
		struct listener *listener = &walk->host->listeners[i];
		const char *relative = path + walk->root_length;

		if (listener->cgroup || listener->cgroup_id != (uint64_t)inode)
			continue;
		listener->cgroup = strdup(*relative ? relative : "/");
		if (!listener->cgroup)
			return -ENOMEM;
		walk->unresolved--;
	}
	return 0;
}

static int walk_cgroups(struct cgroup_walk *walk, char *path, size_t length)
{
	struct dirent *entry;
	struct stat status;
	DIR *directory;
	int r = 0;

	if (walk->directories++ >= MAX_CGROUP_DIRECTORIES || stat(path, &status) < 0)
		return 0;
	r = resolve(walk, path, status.st_ino);
	if (r < 0 || !walk->unresolved)
		return r;
	directory = opendir(path);
	if (!directory)
		return 0;
	while (r >= 0 && walk->unresolved && (entry = readdir(directory))) {
		size_t name_length = strlen(entry->d_name);

		if (entry->d_type != DT_DIR || entry->d_name[0] == '.' || length + 1 + name_length >= PATH_MAX)
			continue;
		path[length] = '/';
		memcpy(path + length + 1, entry->d_name, name_length + 1);
		r = walk_cgroups(walk, path, length + 1 + name_length);
		path[length] = '\0';
	}
	closedir(directory);
	return r;
}

int host_find_cgroups(struct host *host)
{
	struct cgroup_walk walk = { .host = host };
	char path[PATH_MAX];

	for (size_t i = 0; i < host->listener_count; i++)
		walk.unresolved += host->listeners[i].cgroup_id != 0;
	if (!walk.unresolved || host_cgroup_root(path, sizeof(path)) < 0)
		return 0;
	walk.root_length = strlen(path);
	/* "/sys/fs/cgroup" + "/system.slice": the root itself is "/". */
	if (walk.root_length == 1)
		walk.root_length = 0;
	return walk_cgroups(&walk, path, strlen(path));
}
