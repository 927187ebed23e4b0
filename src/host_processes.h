/* Fills in who holds the host's listeners, from /proc, the user database
 * and the cgroup v2 hierarchy (host_processes.c). */
#ifndef HOST_PROCESSES_H
#define HOST_PROCESSES_H

#include <stddef.h>
#include "host.h"

/* Sets each listener's pid and process name where its descriptor can be
 * seen, and host->processes_hidden where some could not be. */
void host_find_processes(struct host *host);
/* Sets each listener's user name, where the uid has one. */
int host_find_users(struct host *host);
/* Sets each listener's cgroup path from its cgroup id, where the cgroup v2
 * hierarchy is mounted and the group still exists. */
int host_find_cgroups(struct host *host);
/* Where the cgroup v2 hierarchy is mounted ("/sys/fs/cgroup", or
 * "/sys/fs/cgroup/unified" on hybrid systems); -ENOENT without one. */
int host_cgroup_root(char *buffer, size_t size);

#endif
