/* Mutual exclusion between portredir processes that change the same
 * network namespace. The rules are protected by the batch's generation
 * binding; the sysctl, written outside the transaction, is not, so that
 * two applies of different mappings could leave one's table with the
 * other's sysctl. Holding this lock from the read to the sysctl write
 * makes them take turns.
 *
 * Only a privileged process can take, hold or fake the turn: it is an
 * flock() on a file of the runtime directory (runtime_directory.h), which
 * only root and the service user may enter, and whose path the StrictModes
 * walk checked. See lock.c for why that is safe. */
#ifndef LOCK_H
#define LOCK_H

#include <sys/types.h>

/* How long a run waits for another to finish before giving up. */
#define LOCK_TIMEOUT_MS 30000

/* Who holds the turn, as the holder wrote it into the lock file. */
struct lock_holder {
	long pid;
	long uid;
	/* Its command line, words joined by spaces (may be cut short). */
	char command[128];
};

/* Called between attempts while another process holds the turn, with
 * what it says of itself and how long this one has waited so far. */
typedef void (*lock_waiting_function)(const struct lock_holder *holder, long long waited_ms, void *userdata);

/* Takes the turn of this network namespace. Returns a descriptor to
 * close() to release it; -ETIMEDOUT after timeout_ms, with *ret_holder
 * (may be NULL) saying who held it; -EPERM when the runtime directory or
 * the lock file is not trusted (runtime_directory_problem() says why);
 * another -errno when there is no directory to lock in (-EROFS, -EACCES:
 * a sandbox without one). On any error the caller may go on without the
 * lock: nobody else can hold it either. */
int lock_namespace(int timeout_ms, lock_waiting_function waiting, void *userdata, struct lock_holder *ret_holder);

/* The name of this namespace's lock file in the runtime directory,
 * "netns-INODE.lock" (INODE of /proc/self/ns/net). */
void lock_file_name(char *buffer, size_t size);

#endif
