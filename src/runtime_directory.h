/* The runtime directory, where portredir keeps the record of the maps
 * (cache.h) and the lock of each network namespace (lock.h):
 * $PORTREDIR_RUNTIME_DIRECTORY, else /run/portredir, which the service
 * units get from systemd (RuntimeDirectory=). It is used only when its
 * path passes the StrictModes walk (path_trust.h). */
#ifndef RUNTIME_DIRECTORY_H
#define RUNTIME_DIRECTORY_H

#include <stdbool.h>
#include "path_trust.h"

#define RUNTIME_DEFAULT_DIRECTORY "/run/portredir"
#define RUNTIME_DIRECTORY_VARIABLE "PORTREDIR_RUNTIME_DIRECTORY"
/* The user the units run as (User=, with DynamicUser=): systemd makes the
 * runtime directory that user's, and root's own runs share its locks. */
#define RUNTIME_SERVICE_USER "portredir"

const char *runtime_directory_path(void);

/* Opens the runtime directory (O_RDONLY | O_DIRECTORY), its path walked
 * first; with create, makes it (mode 0700) when it is missing and its
 * parent is trusted. With service_user, a directory owned by the service
 * user is trusted too (for the locks; the records must be the running
 * user's own). Returns the descriptor; -EPERM with *problem and the trust
 * it was judged by (for path_problem_describe()); -ENOENT when missing
 * and not created; another -errno (-EROFS: a read-only /run). */
int runtime_directory_open(bool create, bool service_user, struct path_trust *ret_trust,
			   struct path_problem *problem);

/* One line saying why the runtime directory cannot be used, or NULL when
 * it can (or is merely missing); malloc'd. For -v. */
char *runtime_directory_problem(bool service_user);

#endif
