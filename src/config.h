/* The mapping-file parser: reads a file, or every *.conf of a directory in
 * lexical order, into one mapping, and validates it. */
#ifndef CONFIG_H
#define CONFIG_H

#include "diagnostics.h"
#include "mapping.h"

#define CONFIG_DEFAULT_PATH SYSCONFDIR "/portredir/rules.conf"
/* Lines longer than this are rejected rather than silently truncated. */
#define CONFIG_MAX_LINE_LENGTH 4096
/* A file with all 2 x 65,535 redirects and comments is a few MiB. */
#define CONFIG_MAX_FILE_SIZE (64u << 20)

/* What validation needs to know of the kernel it will run against. */
struct config_kernel {
	/* net.ipv4.ip_unprivileged_port_start now. */
	unsigned int unprivileged_port_start;
	/* First port of net.ipv4.ip_local_port_range: the kernel refuses an
	 * unprivileged_port_start above it. */
	unsigned int local_port_first;
};

/* Parses path (file or directory) into mapping, appending every syntax
 * error and duplicate to diagnostics. Returns 0 when parsing ran (check
 * diagnostics->error_count), -ENOMEM otherwise. The mapping is sorted. */
int config_parse_path(const char *path, struct mapping *mapping, struct diagnostics *diagnostics);

/* Reads back, for each diagnostic that points into a line of a file, that
 * line (diagnostic->source), so that the diagnostic can be shown with an
 * excerpt. Best effort: a file that cannot be read again, or that is no
 * longer one the parser would read, gives no excerpt. Returns 0 or -ENOMEM. */
int config_read_sources(struct diagnostics *diagnostics);

/* Parses an in-memory buffer as if it were the file named name. */
int config_parse_buffer(const char *name, const char *buffer, size_t length,
			struct mapping *mapping, struct diagnostics *diagnostics);

/* Sorts the mapping and reports duplicates (both places named). Called by
 * config_parse_path(); exposed for config_parse_buffer() users that feed
 * several buffers. */
int config_finish(struct mapping *mapping, struct diagnostics *diagnostics);

/* The semantic rules that depend on the kernel: unprivileged_port_start in
 * range, targets bindable by a non-root service (error), ports that need no
 * redirect (warning). */
int config_validate(const struct mapping *mapping, const struct config_kernel *kernel,
		    struct diagnostics *diagnostics);

#endif
