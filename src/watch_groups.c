/* watch's eye on the owners' groups (watch_groups.h): inotify on the
 * directories of the cgroup v2 hierarchy where a group an owner names, or
 * a slice that may hold one, can appear or go; where inotify cannot watch
 * them, a poll at a bounded interval instead. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>
#include "fault.h"
#include "watch_groups.h"

/* A group comes and goes with mkdir and rmdir, which the file system
 * reports on the directory above; a rename would too. */
#define GROUP_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct group_watch {
	int fd;
	/* Some directory could not be watched: the resolution is compared
	 * at WATCH_GROUPS_POLL_MS instead. */
	bool polling;
	int error;
	/* Test-only: inotify made unusable for the rest of the run. */
	bool inotify_broken;
};

int group_watch_new(struct group_watch **ret_watch)
{
	struct group_watch *watch = calloc(1, sizeof(*watch));

	if (!watch)
		return -ENOMEM;
	watch->fd = -1;
	*ret_watch = watch;
	return 0;
}

void group_watch_free(struct group_watch *watch)
{
	if (!watch)
		return;
	if (watch->fd >= 0)
		close(watch->fd);
	free(watch);
}

/* A new inotify instance each time, as for the mapping's watches: the old
 * watches go with the old descriptor, and what is watched is exactly what
 * the last resolution names. */
int group_watch_arm(struct group_watch *watch, const struct cgroup_resolution *groups)
{
	int fd;

	if (watch->fd >= 0)
		close(watch->fd);
	watch->fd = -1;
	watch->polling = false;
	watch->error = 0;
	if (!groups || !groups->watched_count)
		return 0;
	/* What a host out of inotify instances does (fs.inotify's limits). */
	if (watch->inotify_broken || fault_injected("group-inotify")) {
		watch->inotify_broken = true;
		watch->polling = true;
		watch->error = -EMFILE;
		return watch->error;
	}
	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0) {
		watch->polling = true;
		watch->error = -errno;
		return watch->error;
	}
	for (size_t i = 0; i < groups->watched_count; i++) {
		/* A directory gone meanwhile is seen by the next resolution. */
		if (inotify_add_watch(fd, groups->watched[i], GROUP_EVENTS) < 0 && errno != ENOENT) {
			watch->polling = true;
			watch->error = -errno;
		}
	}
	watch->fd = fd;
	return watch->error;
}

int group_watch_fd(const struct group_watch *watch)
{
	return watch->fd;
}

bool group_watch_polling(const struct group_watch *watch)
{
	return watch->polling;
}

bool group_watch_read(struct group_watch *watch, const struct cgroup_resolution *groups)
{
	char buffer[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool relevant = false;
	ssize_t length;

	if (watch->fd < 0)
		return false;
	while ((length = read(watch->fd, buffer, sizeof(buffer))) > 0) {
		for (char *cursor = buffer; cursor < buffer + length;) {
			const struct inotify_event *event = (const struct inotify_event *)cursor;

			/* A watched directory gone, or events lost: whatever
			 * it was, the next resolution tells. */
			if (event->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_Q_OVERFLOW | IN_IGNORED))
				relevant = true;
			else if (event->len && (event->mask & IN_ISDIR) &&
				 (!groups || cgroup_resolution_name_matters(groups, event->name)))
				relevant = true;
			cursor += sizeof(*event) + event->len;
		}
	}
	return relevant;
}

bool group_watch_changed(const struct cgroup_resolution *before, const struct cgroup_resolution *after)
{
	if (!before || !after)
		return before != after;
	if (before->owner_count != after->owner_count || before->watched_count != after->watched_count)
		return true;
	for (size_t i = 0; i < before->owner_count; i++) {
		const struct owner_groups *a = &before->owners[i], *b = &after->owners[i];

		if (a->count != b->count)
			return true;
		for (size_t j = 0; j < a->count; j++) {
			if (a->groups[j].id != b->groups[j].id || a->groups[j].level != b->groups[j].level)
				return true;
		}
	}
	for (size_t i = 0; i < before->watched_count; i++) {
		if (strcmp(before->watched[i], after->watched[i]))
			return true;
	}
	return false;
}
