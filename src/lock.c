/* The lock is a name in the abstract AF_UNIX namespace, which belongs to
 * the network namespace (so each namespace has its own lock, as it has its
 * own table and sysctl) and is released by the kernel when its holder
 * exits, however it exits. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "lock.h"
#include "util.h"

#define LOCK_NAME "portredir/apply"

int lock_namespace(int timeout_ms)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	const socklen_t length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(LOCK_NAME));
	long long deadline = monotonic_ms() + timeout_ms;
	struct timespec pause = { 0, 1000000 };
	int fd, r;

	/* sun_path[0] stays NUL: an abstract name. */
	memcpy(address.sun_path + 1, LOCK_NAME, strlen(LOCK_NAME));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (bind(fd, (struct sockaddr *)&address, length) == 0)
			return fd;
		r = -errno;
		if (r != -EADDRINUSE || monotonic_ms() >= deadline)
			break;
		/* Another apply takes milliseconds to a second: poll gently. */
		nanosleep(&pause, NULL);
		if (pause.tv_nsec < 50000000)
			pause.tv_nsec *= 2;
	}
	close(fd);
	return r == -EADDRINUSE ? -ETIMEDOUT : r;
}
