/* How watch follows the owners' groups: a service restarted gets a new
 * group, with a new ID, which the table must name within a second. */
#ifndef WATCH_GROUPS_H
#define WATCH_GROUPS_H

#include <stdbool.h>
#include "cgroup.h"

/* Where inotify cannot watch the hierarchy, the groups are looked up
 * again this often (a walk of the slices: a fraction of a millisecond on
 * a typical host), so that a new group is in the table well within a
 * second. */
#define WATCH_GROUPS_POLL_MS 250
/* Events of one restart (the old group removed, the new one made) come
 * close together; this pause lets them be handled at once. */
#define WATCH_GROUPS_QUIET_MS 10

struct group_watch;

int group_watch_new(struct group_watch **ret_watch);
void group_watch_free(struct group_watch *watch);
/* Watches the directories groups names (none for NULL). Returns 0, or
 * -errno when some could not be watched: then group_watch_polling(). */
int group_watch_arm(struct group_watch *watch, const struct cgroup_resolution *groups);
/* The inotify descriptor to poll for reading, or -1. */
int group_watch_fd(const struct group_watch *watch);
bool group_watch_polling(const struct group_watch *watch);
/* Reads what the descriptor has; returns whether any of it may change
 * what groups (the last resolution) found. */
bool group_watch_read(struct group_watch *watch, const struct cgroup_resolution *groups);
/* Whether two resolutions of the same mapping differ in what the table
 * holds (the groups' IDs and levels) or in what is to be watched. */
bool group_watch_changed(const struct cgroup_resolution *before, const struct cgroup_resolution *after);

#endif
