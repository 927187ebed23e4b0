/* The command interface: what main.c hands every command, what a command
 * hands back, and the commands themselves (one file each). */
#ifndef COMMAND_H
#define COMMAND_H

#include <stdbool.h>

/* main.c turns these into exit codes (0, 1, 2): commands never exit. */
enum outcome {
	OUTCOME_OK,
	OUTCOME_DIFFERENCES,
	OUTCOME_ERROR
};

#define WATCH_DEFAULT_INTERVAL 30

/* The command line, as options.c parsed it; a command is only given the
 * options its entry in the command table allows. */
struct options {
	const char *path;
	bool json;
	bool quiet;
	bool verbose;
	bool dry_run;
	/* watch: seconds between checks of a declared sysctl. */
	unsigned int interval;
	/* watch --hold: own the table (see TABLE_FLAG_OWNER). */
	bool hold;
	/* help: the command to describe, or NULL for all of them. */
	const char *topic;
};

enum outcome check_main(const struct options *options);
enum outcome diff_main(const struct options *options);
enum outcome apply_main(const struct options *options);
enum outcome show_main(const struct options *options);
enum outcome flush_main(const struct options *options);
enum outcome watch_main(const struct options *options);
enum outcome help_main(const struct options *options);
enum outcome version_main(const struct options *options);

#endif
