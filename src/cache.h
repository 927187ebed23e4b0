/* The maps' elements as a run left them, kept between runs so that the
 * next run need not dump them: on large maps the dump is most of a run,
 * as the kernel walks its hash table again for every 32 KiB it sends.
 *
 * One file per table, named by the table's identity (state.h's table_id),
 * holding the generation it was recorded at. The kernel layer decides when
 * a record may stand for the kernel (kernel.h's struct kernel_cache); this
 * file only keeps them, in the runtime directory (runtime_directory.h),
 * when its path passes the StrictModes walk and it is the running user's
 * own. A directory or file that others could write is not used, and only
 * files that are records by name and content are ever removed. */
#ifndef CACHE_H
#define CACHE_H

#include <stdint.h>
#include "kernel.h"
#include "mapping.h"
#include "runtime_directory.h"

#define CACHE_DEFAULT_DIRECTORY RUNTIME_DEFAULT_DIRECTORY
#define CACHE_DIRECTORY_VARIABLE RUNTIME_DIRECTORY_VARIABLE
/* Records of tables whose namespace is gone stay until the directory is
 * emptied (it is on a tmpfs: at the latest, the next boot); beyond this
 * many, the least recently written go. */
#define CACHE_MAX_RECORDS 16

/* Returns 0 and the redirects recorded for table_id (sorted), or -ENOENT
 * (no record), -ESTALE (recorded at another generation), -EPERM (a
 * directory or file others could write), -EBADMSG (not a record this
 * version wrote), another -errno. */
int cache_lookup(uint64_t table_id, uint32_t generation, struct mapping **ret_mapping);
/* Records the redirects of mapping (sorted, as the maps hold them) for
 * table_id at generation, replacing the previous record atomically. */
int cache_store(uint64_t table_id, uint32_t generation, const struct mapping *mapping);
/* One line saying why the runtime directory holds no records for this
 * run, or NULL (usable, or merely missing); malloc'd. For -v. */
char *cache_directory_problem(void);
/* The path of the record of table_id, for messages (truncated to size). */
void cache_record_path(uint64_t table_id, char *buffer, size_t size);
/* Removes the record of a table that was deleted; 0 also when none. */
int cache_forget(uint64_t table_id);

/* The callbacks above, for kernel_use_cache(). */
extern const struct kernel_cache cache_files;

#endif
