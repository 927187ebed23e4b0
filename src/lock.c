/* The turn of a network namespace (lock.h): flock() on
 * RUNTIME/netns-INODE.lock, INODE being the namespace's (each namespace
 * has its own turn, as it has its own table and sysctl; the kernel
 * releases a flock when its holder exits, however it exits).
 *
 * Why no unprivileged process can take, hold, fake or delay the turn:
 * - flock() needs an open descriptor of the file. The file is mode 0600,
 *   owned by root or the service user, in a directory of mode 0700 of
 *   theirs, and every directory above it passed the StrictModes walk: a
 *   process of another user can neither open the file nor create,
 *   rename or remove anything on the way to it. A file or directory that
 *   fails these tests is not used at all (the run goes on without the
 *   turn, which nobody else can then hold either).
 * - Nothing else is consulted: an abstract socket name (the old lock,
 *   which any process could bind) or a file elsewhere (/run/lock, /tmp,
 *   /dev/shm) that another user made means nothing to it.
 * - The file is made whole under a name of its own and then linked in,
 *   already locked and owned by the directory's owner, so that the
 *   service user can open a file root made and nobody sees a half-made
 *   one. It is never removed while portredir runs; a holder that took
 *   an inode the name no longer points to (systemd removes the runtime
 *   directory when the service stops) lets go and tries again.
 * The service units (User=portredir, DynamicUser=yes) get the directory
 * from systemd (RuntimeDirectory=portredir); root's runs trust it as the
 * service user's (runtime_directory.h) and so take turns with them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "lock.h"
#include "runtime_directory.h"
#include "util.h"

void lock_file_name(char *buffer, size_t size)
{
	struct stat status;

	/* Without /proc every namespace shares one turn: more waiting, never
	 * less exclusion. */
	if (stat("/proc/self/ns/net", &status) < 0)
		snprintf(buffer, size, "netns.lock");
	else
		snprintf(buffer, size, "netns-%llu.lock", (unsigned long long)status.st_ino);
}

/* "PID UID COMMAND LINE\n", from /proc/self/cmdline. */
static size_t describe_self(char *buffer, size_t size)
{
	char command[sizeof(((struct lock_holder *)0)->command)] = "";
	size_t length = 0;
	int fd, r;

	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, command, sizeof(command) - 1);

		length = n > 0 ? (size_t)n : 0;
		close(fd);
	}
	command[length] = '\0';
	for (size_t i = 0; i + 1 < length; i++) {
		if (command[i] == '\0' || command[i] == '\n')
			command[i] = ' ';
	}
	r = snprintf(buffer, size, "%ld %ld %s\n", (long)getpid(), (long)geteuid(), command);
	return r < 0 ? 0 : (size_t)r < size ? (size_t)r : size - 1;
}

static int write_holder(int fd)
{
	char text[256];
	size_t length = describe_self(text, sizeof(text));

	if (ftruncate(fd, 0) < 0 || pwrite(fd, text, length, 0) != (ssize_t)length)
		return -errno;
	return 0;
}

static void read_holder(int fd, struct lock_holder *holder)
{
	char text[256];
	ssize_t length;
	int offset = 0;

	memset(holder, 0, sizeof(*holder));
	holder->pid = holder->uid = -1;
	length = pread(fd, text, sizeof(text) - 1, 0);
	if (length <= 0)
		return;
	text[length] = '\0';
	if (sscanf(text, "%ld %ld %n", &holder->pid, &holder->uid, &offset) < 2) {
		holder->pid = holder->uid = -1;
		return;
	}
	snprintf(holder->command, sizeof(holder->command), "%s", text + offset);
	holder->command[strcspn(holder->command, "\n")] = '\0';
}

/* Only root, the directory's owner and the running user may own the
 * file, and nobody else may have any access: read access alone is
 * enough to flock() it. */
static int check_file(int fd, const struct stat *directory)
{
	struct stat status;

	if (fstat(fd, &status) < 0)
		return -errno;
	if (!S_ISREG(status.st_mode) || (status.st_mode & 077) ||
	    (status.st_uid != 0 && status.st_uid != geteuid() && status.st_uid != directory->st_uid))
		return -EPERM;
	return 0;
}

/* Makes the lock file, already locked and describing its holder, under a
 * name of its own, and links it in; -EEXIST when another process made it
 * first. */
static int create_locked(int directory, const struct stat *directory_status, const char *name)
{
	char temporary[96];
	int fd, r = 0;

	/* Processes of other pid namespaces may share the pid: the clock
	 * tells them apart. */
	for (int attempt = 0;; attempt++) {
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		snprintf(temporary, sizeof(temporary), "%s.%ld.%ld.tmp", name, (long)getpid(), (long)now.tv_nsec);
		fd = openat(directory, temporary, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST || attempt == 2)
			return -errno;
	}
	if (fchmod(fd, 0600) < 0)
		r = -errno;
	/* The service user must be able to open a file root made. */
	if (r >= 0 && directory_status->st_uid != geteuid() &&
	    fchown(fd, directory_status->st_uid, directory_status->st_gid) < 0)
		r = -errno;
	if (r >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0)
		r = -errno;
	if (r >= 0)
		r = write_holder(fd);
	if (r >= 0 && linkat(directory, temporary, directory, name, 0) < 0)
		r = -errno;
	unlinkat(directory, temporary, 0);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static void give_to_directory_owner(int fd, const struct stat *directory)
{
	struct stat status;

	if (fstat(fd, &status) == 0 && (status.st_uid != directory->st_uid || status.st_gid != directory->st_gid))
		(void)!fchown(fd, directory->st_uid, directory->st_gid);
}

/* Whether fd is still the file the name points to. */
static bool still_linked(int directory, const char *name, int fd)
{
	struct stat linked, held;

	return fstatat(directory, name, &linked, AT_SYMLINK_NOFOLLOW) == 0 && fstat(fd, &held) == 0 &&
	       linked.st_dev == held.st_dev && linked.st_ino == held.st_ino;
}

int lock_namespace(int timeout_ms, lock_waiting_function waiting, void *userdata, struct lock_holder *ret_holder)
{
	long long start = monotonic_ms(), now;
	struct timespec pause = { 0, 1000000 };
	struct path_problem problem;
	struct stat directory_status;
	struct path_trust trust;
	struct lock_holder holder;
	char name[64];
	int directory, fd = -1, r;

	directory = runtime_directory_open(true, true, &trust, &problem);
	if (directory < 0)
		return directory;
	if (fstat(directory, &directory_status) < 0) {
		r = -errno;
		goto out;
	}
	lock_file_name(name, sizeof(name));
	for (;;) {
		if (fd < 0) {
			fd = openat(directory, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
			if (fd < 0 && errno == ENOENT) {
				fd = create_locked(directory, &directory_status, name);
				if (fd >= 0) {
					r = fd;
					fd = -1;
					goto out;
				}
				if (fd == -EEXIST)
					continue;
				r = fd;
				goto out;
			}
			if (fd < 0) {
				r = -errno;
				goto out;
			}
			r = check_file(fd, &directory_status);
			if (r < 0)
				goto out;
			/* Made by root before the directory became the
			 * service user's: give it to that user, who could not
			 * open it otherwise. */
			if (geteuid() == 0)
				give_to_directory_owner(fd, &directory_status);
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			if (still_linked(directory, name, fd)) {
				r = write_holder(fd);
				if (r >= 0) {
					r = fd;
					fd = -1;
				}
				goto out;
			}
			/* Removed or replaced while waiting for it: the turn
			 * is now the file's of that name. */
			close(fd);
			fd = -1;
			continue;
		}
		if (errno != EWOULDBLOCK) {
			r = -errno;
			goto out;
		}
		read_holder(fd, &holder);
		now = monotonic_ms();
		if (now - start >= timeout_ms) {
			if (ret_holder)
				*ret_holder = holder;
			r = -ETIMEDOUT;
			goto out;
		}
		if (waiting)
			waiting(&holder, now - start, userdata);
		/* Another apply takes milliseconds to a second: poll gently. */
		nanosleep(&pause, NULL);
		if (pause.tv_nsec < 50000000)
			pause.tv_nsec *= 2;
	}
out:
	if (fd >= 0)
		close(fd);
	close(directory);
	return r;
}
