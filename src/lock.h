/* Mutual exclusion between portredir processes that change the same
 * network namespace. The rules are protected by the batch's generation
 * binding; the sysctl, written outside the transaction, is not, so that
 * two applies of different mappings could leave one's table with the
 * other's sysctl. Holding this lock from the read to the sysctl write
 * makes them take turns. */
#ifndef LOCK_H
#define LOCK_H

/* How long a run waits for another to finish before giving up. */
#define LOCK_TIMEOUT_MS 30000

/* Returns a descriptor to close() to release the lock, -ETIMEDOUT after
 * timeout_ms, or another -errno (-EAFNOSUPPORT in a sandbox without
 * AF_UNIX: the caller goes on without it). */
int lock_namespace(int timeout_ms);

#endif
