/* portredir watch: apply, then stay running and apply again whenever the
 * mapping file changes, another process changes or removes the managed
 * table, or the declared sysctl drifts. One poll() loop over a signalfd,
 * an inotify descriptor and an nf_tables notification socket; idle, it
 * sleeps until something happens (or the sysctl interval passes). */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>
#include "apply.h"
#include "cgroup.h"
#include "command.h"
#include "kernel.h"
#include "operations.h"
#include "output.h"
#include "plan.h"
#include "sysctl.h"
#include "util.h"
#include "watch_groups.h"

/* A burst of writes to the mapping (an editor, a deployment tool copying
 * several drop-ins) becomes one apply once it has been quiet this long. */
#define FILE_QUIET_MS 200
/* Events of one foreign transaction arrive together; a short pause lets a
 * few transactions in a row (a firewall reload) be repaired at once. */
#define KERNEL_QUIET_MS 10
/* However busy the sources, work is never put off longer than this. */
#define MAX_DELAY_MS 1000
#define WATCH_MAX_CHANGES_LOGGED 20

struct watch {
	/* A copy: --hold is dropped when the kernel cannot hold tables. */
	struct options options_copy;
	const struct options *options;
	struct kernel *kernel;
	struct kernel_events *events;
	struct mapping *desired;
	int signal_fd;
	int inotify_fd;
	/* What is waiting to be done, and from when. */
	bool file_dirty;
	/* The mapping is read again because of SIGHUP, not of a change seen. */
	bool reload_requested;
	bool kernel_dirty;
	/* A group an owner names came or went. */
	bool groups_dirty;
	struct kernel_event last_event;
	long long first_pending_ms;
	long long deadline_ms;
	long long next_sysctl_check_ms;
	/* Names the inotify watches look for. */
	char path[PATH_MAX];
	char directory[PATH_MAX];
	char base[NAME_MAX + 1];
	bool path_is_directory;
	/* The parent does not exist (yet): an ancestor is watched instead. */
	bool watching_ancestor;
	/* Until the first apply is done: a failure then ends watch (exit 2),
	 * as there is no mapping in force to keep. */
	bool starting;
	/* The last read of the mapping found it invalid: the next valid one
	 * is announced as such. */
	bool mapping_invalid;
	/* The owners' groups as the last apply found them, and the watches
	 * on their directories; the next poll, where those cannot be had. */
	struct cgroup_resolution *groups;
	struct group_watch *group_watch;
	long long next_group_poll_ms;
};

/* systemd passes "DEVICE:INODE" of the journal stream it connected
 * stderr to; anything else (a terminal, a pipe, a file) gets plain lines. */
static bool stderr_is_journal(void)
{
	const char *stream = getenv("JOURNAL_STREAM");
	unsigned long long device, inode;
	struct stat status;

	if (!stream || sscanf(stream, "%llu:%llu", &device, &inode) != 2 || fstat(STDERR_FILENO, &status) < 0)
		return false;
	return (unsigned long long)status.st_dev == device && (unsigned long long)status.st_ino == inode;
}

/* The service manager's readiness protocol (sd_notify(3)): one datagram
 * to $NOTIFY_SOCKET. Without the variable there is nobody to tell. */
static void notify_service_manager(const char *message)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	socklen_t length;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(address.sun_path))
		return;
	memcpy(address.sun_path, path, strlen(path));
	/* A leading '@' names an abstract socket, which starts with NUL. */
	if (path[0] == '@')
		address.sun_path[0] = '\0';
	length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, message, strlen(message), MSG_NOSIGNAL, (struct sockaddr *)&address, length) < 0) {
		int r = -errno;

		output_warning("cannot notify the service manager: %s", strerror(-r));
	}
	close(fd);
}

/* The file (or directory) is watched through its parent, so that an
 * editor replacing it by rename, or the directory appearing later, is
 * seen; a directory of drop-ins is watched itself as well. When the parent
 * does not exist yet, the nearest existing ancestor is watched for it. */
static int arm_watches(struct watch *watch)
{
	const uint32_t changes = IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
				 IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
	char ancestor[PATH_MAX];
	struct stat status;
	int fd;

	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (watch->inotify_fd >= 0)
		close(watch->inotify_fd);
	watch->inotify_fd = fd;
	watch->path_is_directory = stat(watch->path, &status) == 0 && S_ISDIR(status.st_mode);
	if (watch->path_is_directory)
		inotify_add_watch(fd, watch->path, changes | IN_ONLYDIR);
	snprintf(ancestor, sizeof(ancestor), "%s", watch->directory);
	watch->watching_ancestor = false;
	while (inotify_add_watch(fd, ancestor, changes | IN_ONLYDIR) < 0) {
		char *slash = strrchr(ancestor, '/');

		if (errno != ENOENT && errno != ENOTDIR)
			return -errno;
		watch->watching_ancestor = true;
		if (!slash || slash == ancestor) {
			snprintf(ancestor, sizeof(ancestor), "/");
			return inotify_add_watch(fd, ancestor, changes | IN_ONLYDIR) < 0 ? -errno : 0;
		}
		*slash = '\0';
	}
	return 0;
}

static bool name_is_relevant(const struct watch *watch, const struct inotify_event *event)
{
	size_t length;

	if (event->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_Q_OVERFLOW | IN_IGNORED))
		return true;
	if (!event->len)
		return false;
	if (!strcmp(event->name, watch->base))
		return true;
	/* Inside the drop-in directory, any *.conf counts. */
	length = strlen(event->name);
	return watch->path_is_directory && length > 5 && !strcmp(event->name + length - 5, ".conf");
}

static void schedule(struct watch *watch, int quiet_ms)
{
	long long now = monotonic_ms();

	if (!watch->first_pending_ms)
		watch->first_pending_ms = now;
	watch->deadline_ms = now + quiet_ms;
	if (watch->deadline_ms > watch->first_pending_ms + MAX_DELAY_MS)
		watch->deadline_ms = watch->first_pending_ms + MAX_DELAY_MS;
}

static int read_inotify(struct watch *watch)
{
	char buffer[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool relevant = false;
	ssize_t length;

	while ((length = read(watch->inotify_fd, buffer, sizeof(buffer))) > 0) {
		for (char *cursor = buffer; cursor < buffer + length;) {
			const struct inotify_event *event = (const struct inotify_event *)cursor;

			relevant |= name_is_relevant(watch, event);
			cursor += sizeof(*event) + event->len;
		}
	}
	if (length < 0 && errno != EAGAIN && errno != EINTR)
		return -errno;
	/* While only an ancestor exists, any event in it may be a step
	 * towards the mapping's directory: watch what is there now, and read
	 * the mapping once its directory has appeared. */
	if (watch->watching_ancestor) {
		int r = arm_watches(watch);

		if (r < 0 || watch->watching_ancestor)
			return r;
		relevant = true;
	}
	if (!relevant)
		return 0;
	watch->file_dirty = true;
	schedule(watch, FILE_QUIET_MS);
	/* Directories may have come or gone: watch what is there now. */
	return arm_watches(watch);
}

static void schedule_sysctl_check(struct watch *watch)
{
	if (watch->desired && watch->desired->has_unprivileged_port_start)
		watch->next_sysctl_check_ms = monotonic_ms() + (long long)watch->options->interval * 1000;
	else
		watch->next_sysctl_check_ms = 0;
}

/* Reads the mapping again; an invalid one is reported and the last valid
 * one kept, so that the kernel keeps the last good state. Returns whether
 * a valid mapping was read. At start there is no last valid mapping: the
 * caller ends watch, and the error, not an event, says why. */
static bool reload_mapping(struct watch *watch, enum watch_cause cause)
{
	struct watch_event event = { .kind = WATCH_EVENT_INVALID, .cause = cause, .path = watch->options->path };
	struct diagnostics diagnostics;
	struct mapping *mapping;
	int r = -ENOMEM;

	output_forget_errors();
	diagnostics_init(&diagnostics);
	mapping = mapping_new();
	if (mapping)
		r = command_load_mapping_into(watch->options, true, mapping, &diagnostics);
	else
		output_error("out of memory while reading %s", watch->options->path);
	if (r < 0) {
		if (r == -EINVAL) {
			event.diagnostics = &diagnostics;
		} else {
			event.kind = WATCH_EVENT_ERROR;
			event.message = output_first_error();
		}
		if (!watch->starting) {
			output_watch_event(watch->options, &event);
			output_error("%s is not valid; keeping the last valid mapping until it is fixed",
				     watch->options->path);
		}
		watch->mapping_invalid = true;
		diagnostics_clear(&diagnostics);
		mapping_free(mapping);
		return false;
	}
	if (watch->mapping_invalid && !watch->starting)
		output_log(LOG_NOTICE, "%s is valid again; applying it", watch->options->path);
	watch->mapping_invalid = false;
	diagnostics_clear(&diagnostics);
	mapping_free(watch->desired);
	watch->desired = mapping;
	schedule_sysctl_check(watch);
	return true;
}

/* After an apply of its own, with notifications paused: anyone else who
 * committed meanwhile moved the generation past the one expected. */
static void resume_events(struct watch *watch, uint32_t expected)
{
	uint32_t now;
	int r;

	r = kernel_events_resume(watch->events);
	if (r >= 0)
		r = kernel_generation(watch->kernel, &now);
	if (r < 0 || now != expected) {
		watch->kernel_dirty = true;
		watch->last_event.lost = true;
		schedule(watch, KERNEL_QUIET_MS);
	}
}

/* An apply failed: its error line (the first since output_forget_errors())
 * as an event. */
static void report_failure(struct watch *watch, struct watch_event *event)
{
	event->kind = WATCH_EVENT_ERROR;
	event->message = output_first_error();
	output_watch_event(watch->options, event);
}

/* One apply through the planner, and one line saying what it did: an
 * applied event when a newly read mapping came into force (event->kind),
 * else a repaired one when something had to change. Its own notifications
 * are not listened to: they would only say what it did. */
/* Watches what groups names, and keeps it for the next events. Where the
 * directories cannot be watched, they are polled, said once. */
static void follow_groups(struct watch *watch, struct cgroup_resolution *groups)
{
	bool was_polling = group_watch_polling(watch->group_watch);
	int r;

	cgroup_resolution_free(watch->groups);
	watch->groups = groups;
	r = group_watch_arm(watch->group_watch, groups);
	if (r < 0 && !was_polling)
		output_warning("cannot watch the owners' groups with inotify (%s); looking them up every %d ms instead",
			       strerror(-r), WATCH_GROUPS_POLL_MS);
	watch->next_group_poll_ms = group_watch_polling(watch->group_watch) ?
					    monotonic_ms() + WATCH_GROUPS_POLL_MS : 0;
}

static int synchronize(struct watch *watch, const char *reason, struct watch_event *event)
{
	struct cgroup_resolution *groups = NULL;
	struct change_list changes;
	struct plan *plan = NULL;
	uint32_t generation = 0;
	char *text;
	int r, lock;

	if (!watch->desired)
		return 0;
	output_forget_errors();
	/* The groups as they are now: a restarted service has a new one. */
	r = command_resolve_owners(watch->options, watch->desired, true, &groups);
	if (r < 0) {
		if (watch->starting)
			return r;
		report_failure(watch, event);
		output_error("%s: will try again on the next change", reason);
		return r;
	}
	follow_groups(watch, groups);
	lock = take_lock(watch->options);
	if (lock == -ETIMEDOUT) {
		if (watch->starting)
			return lock;
		report_failure(watch, event);
		output_error("%s: will try again on the next change", reason);
		return lock;
	}
	r = kernel_events_pause(watch->events);
	if (r < 0)
		output_warning("cannot pause nftables notifications: %s", strerror(-r));
	r = apply_mapping(watch->options, watch->kernel, NULL, watch->desired, groups, false, &plan, &generation);
	if ((r == -EOPNOTSUPP || r == -EINVAL) && watch->options_copy.hold) {
		/* Owned tables came with Linux 5.12, persistent ones with 6.9. */
		output_warning("this kernel cannot hold table inet portredir (owned, persistent tables need Linux 6.9 or later); repairing it when it changes instead");
		watch->options_copy.hold = false;
		plan_free(plan);
		plan = NULL;
		r = apply_mapping(watch->options, watch->kernel, NULL, watch->desired, groups, false, &plan,
				  &generation);
	}
	resume_events(watch, generation);
	if (lock >= 0)
		close(lock);
	if (r < 0) {
		plan_free(plan);
		if (watch->starting)
			return r;
		report_failure(watch, event);
		output_error("%s: could not apply %s; will try again on the next change", reason,
			     watch->options->path);
		return r;
	}
	changes = plan_change_list(plan);
	event->changes = &changes;
	if (event->kind == WATCH_EVENT_APPLIED || changes.count)
		output_watch_event(watch->options, event);
	if (!changes.count) {
		output_verbose(watch->options, "%s: the kernel already matches %s", reason, watch->options->path);
	} else {
		text = output_format_changes(&changes, WATCH_MAX_CHANGES_LOGGED);
		output_log(LOG_NOTICE, "%s: applied %zu change%s: %s", reason, changes.count,
			   changes.count == 1 ? "" : "s", text ? text : "");
		free(text);
	}
	plan_free(plan);
	return 0;
}

static void do_pending_work(struct watch *watch)
{
	struct watch_event event = { .kind = WATCH_EVENT_REPAIRED };
	struct kernel_event last = watch->last_event;
	char reason[PATH_MAX + 128];

	if (watch->file_dirty) {
		/* SIGHUP says the same: the mapping is read again. */
		snprintf(reason, sizeof(reason), "%s changed", watch->options->path);
		event.cause = watch->reload_requested ? WATCH_CAUSE_RELOAD : WATCH_CAUSE_FILE;
	} else if (last.lost) {
		snprintf(reason, sizeof(reason), "the ruleset changed while portredir was busy");
		event.cause = WATCH_CAUSE_LOST;
	} else if (watch->groups_dirty && !watch->kernel_dirty) {
		snprintf(reason, sizeof(reason), "an owner's group came or went");
		event.cause = WATCH_CAUSE_OWNER;
	} else {
		snprintf(reason, sizeof(reason), "table inet portredir changed by %s (pid %u)", last.process, last.pid);
		event.cause = WATCH_CAUSE_TABLE;
		event.process = last.process;
		event.pid = last.pid;
	}
	if (watch->file_dirty && reload_mapping(watch, event.cause))
		event.kind = WATCH_EVENT_APPLIED;
	watch->file_dirty = watch->reload_requested = watch->kernel_dirty = watch->groups_dirty = false;
	memset(&watch->last_event, 0, sizeof(watch->last_event));
	watch->first_pending_ms = watch->deadline_ms = 0;
	synchronize(watch, reason, &event);
}

/* The sysctl has no change notification: it is compared at an interval,
 * and only when the mapping declares a value to keep. */
static void check_sysctl(struct watch *watch)
{
	unsigned int value;

	schedule_sysctl_check(watch);
	if (!watch->desired || !watch->desired->has_unprivileged_port_start)
		return;
	if (sysctl_read_unprivileged_port_start(NULL, &value) < 0 ||
	    value != watch->desired->unprivileged_port_start) {
		struct watch_event event = { .kind = WATCH_EVENT_REPAIRED, .cause = WATCH_CAUSE_SYSCTL };

		synchronize(watch, "net.ipv4.ip_unprivileged_port_start drifted", &event);
	}
}

/* Where the groups' directories cannot be watched: looked up again, and
 * applied only when something the table holds would change. Silent: a
 * failure here is said by the apply it leads to, once, not every poll. */
static void poll_groups(struct watch *watch)
{
	struct cgroup_hierarchy *hierarchy = NULL;
	struct cgroup_resolution *groups = NULL;

	watch->next_group_poll_ms = monotonic_ms() + WATCH_GROUPS_POLL_MS;
	if (!watch->desired || !watch->desired->owner_count)
		return;
	if (cgroup_hierarchy_open(&hierarchy) < 0 || cgroup_resolve(hierarchy, watch->desired, &groups) < 0) {
		cgroup_hierarchy_free(hierarchy);
		return;
	}
	if (group_watch_changed(watch->groups, groups)) {
		watch->groups_dirty = true;
		schedule(watch, 0);
	}
	cgroup_resolution_free(groups);
	cgroup_hierarchy_free(hierarchy);
}

static int poll_timeout(const struct watch *watch)
{
	long long now = monotonic_ms(), wake = 0;

	if (watch->deadline_ms)
		wake = watch->deadline_ms;
	if (watch->next_sysctl_check_ms && (!wake || watch->next_sysctl_check_ms < wake))
		wake = watch->next_sysctl_check_ms;
	if (watch->next_group_poll_ms && (!wake || watch->next_group_poll_ms < wake))
		wake = watch->next_group_poll_ms;
	if (!wake)
		return -1;
	return wake <= now ? 0 : (int)(wake - now);
}

static int setup(struct watch *watch)
{
	struct kernel_error error = { "", "" };
	sigset_t signals;
	const char *slash;
	int r;

	sigemptyset(&signals);
	sigaddset(&signals, SIGHUP);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	if (sigprocmask(SIG_BLOCK, &signals, NULL) < 0)
		return -errno;
	watch->signal_fd = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
	if (watch->signal_fd < 0)
		return -errno;

	snprintf(watch->path, sizeof(watch->path), "%s", watch->options->path);
	/* "rules/" and "rules" name the same directory. */
	while (strlen(watch->path) > 1 && watch->path[strlen(watch->path) - 1] == '/')
		watch->path[strlen(watch->path) - 1] = '\0';
	slash = strrchr(watch->path, '/');
	if (!slash) {
		snprintf(watch->directory, sizeof(watch->directory), ".");
		snprintf(watch->base, sizeof(watch->base), "%s", watch->path);
	} else {
		snprintf(watch->directory, sizeof(watch->directory), "%.*s",
			 slash == watch->path ? 1 : (int)(slash - watch->path), watch->path);
		snprintf(watch->base, sizeof(watch->base), "%s", slash + 1);
	}
	r = arm_watches(watch);
	if (r < 0) {
		output_error("cannot watch %s for changes: %s", watch->path, strerror(-r));
		return r;
	}
	r = command_open_kernel(&watch->kernel, &error);
	if (r < 0) {
		output_kernel_error("cannot open a netfilter netlink socket", r, &error, true);
		return r;
	}
	r = kernel_events_open(&watch->events);
	if (r < 0) {
		output_kernel_error("cannot subscribe to nftables notifications", r, NULL, true);
		return r;
	}
	r = group_watch_new(&watch->group_watch);
	if (r < 0)
		output_error("out of memory");
	return r;
}

static void teardown(struct watch *watch)
{
	kernel_events_close(watch->events);
	kernel_close(watch->kernel);
	group_watch_free(watch->group_watch);
	cgroup_resolution_free(watch->groups);
	mapping_free(watch->desired);
	if (watch->inotify_fd >= 0)
		close(watch->inotify_fd);
	if (watch->signal_fd >= 0)
		close(watch->signal_fd);
}

enum outcome watch_main(const struct options *options)
{
	struct watch watch = { .options_copy = *options, .signal_fd = -1, .inotify_fd = -1 };
	struct watch_event started = { .kind = WATCH_EVENT_REPAIRED, .cause = WATCH_CAUSE_START };
	enum outcome outcome = OUTCOME_ERROR;
	int r;

	watch.options = &watch.options_copy;

	output_use_syslog_prefixes(stderr_is_journal());
	/* Anything that fails before the first apply is done ends watch with
	 * exit status 2, as portredir(8) says: a service manager then sees
	 * that it did not start, instead of a watch that holds nothing. */
	watch.starting = true;
	if (setup(&watch) < 0) {
		output_error("watch cannot start");
		goto out;
	}
	if (!reload_mapping(&watch, WATCH_CAUSE_START)) {
		output_error("watch cannot start without a valid mapping in %s", options->path);
		goto out;
	}
	started.kind = WATCH_EVENT_APPLIED;
	if (synchronize(&watch, "started", &started) < 0) {
		output_error("watch cannot start: the first apply of %s failed", options->path);
		goto out;
	}
	watch.starting = false;
	output_log(LOG_INFO, "watching %s and table inet portredir%s", options->path,
		   watch.options->hold ? ", which it holds" : "");
	notify_service_manager("READY=1\nSTATUS=Watching the mapping and table inet portredir");

	for (;;) {
		struct pollfd descriptors[] = {
			{ .fd = watch.signal_fd, .events = POLLIN },
			{ .fd = watch.inotify_fd, .events = POLLIN },
			{ .fd = kernel_events_fd(watch.events), .events = POLLIN },
			/* -1, which poll() passes by, without owners. */
			{ .fd = group_watch_fd(watch.group_watch), .events = POLLIN },
		};
		int ready = poll(descriptors, 4, poll_timeout(&watch));

		if (ready < 0 && errno != EINTR) {
			r = -errno;
			output_error("cannot wait for events: %s", strerror(-r));
			goto out;
		}
		if (descriptors[0].revents & POLLIN) {
			struct signalfd_siginfo signal;

			while (read(watch.signal_fd, &signal, sizeof(signal)) == sizeof(signal)) {
				if (signal.ssi_signo == SIGHUP) {
					output_log(LOG_INFO, "SIGHUP: reading %s again", options->path);
					watch.file_dirty = watch.reload_requested = true;
					schedule(&watch, 0);
				} else {
					output_log(LOG_INFO, "stopping on %s; the rules stay in place",
						   strsignal((int)signal.ssi_signo));
					notify_service_manager("STOPPING=1");
					outcome = OUTCOME_OK;
					goto out;
				}
			}
		}
		if (descriptors[1].revents & POLLIN) {
			r = read_inotify(&watch);
			if (r < 0)
				output_warning("cannot watch %s for changes: %s", options->path, strerror(-r));
		}
		if (descriptors[2].revents & POLLIN) {
			struct kernel_event event;

			r = kernel_events_read(watch.events, &event);

			if (r < 0) {
				output_error("cannot read nftables notifications: %s", strerror(-r));
				goto out;
			}
			if (event.changed) {
				watch.kernel_dirty = true;
				watch.last_event = event;
				schedule(&watch, KERNEL_QUIET_MS);
			}
		}
		if ((descriptors[3].revents & POLLIN) && group_watch_read(watch.group_watch, watch.groups)) {
			watch.groups_dirty = true;
			schedule(&watch, WATCH_GROUPS_QUIET_MS);
		}
		if (watch.next_group_poll_ms && monotonic_ms() >= watch.next_group_poll_ms)
			poll_groups(&watch);
		if (watch.deadline_ms && monotonic_ms() >= watch.deadline_ms)
			do_pending_work(&watch);
		if (watch.next_sysctl_check_ms && monotonic_ms() >= watch.next_sysctl_check_ms)
			check_sysctl(&watch);
	}
out:
	teardown(&watch);
	return outcome;
}
