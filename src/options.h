/* The command line as data: the command table, the options each command
 * takes, and parsing argv into struct options. Prints nothing: main.c
 * reports what it returns. */
#ifndef OPTIONS_H
#define OPTIONS_H

#include <stddef.h>
#include "command.h"

/* The options a command may be given, one bit each. */
enum option_flag {
	OPTION_FILE = 1u << 0,
	OPTION_JSON = 1u << 1,
	OPTION_QUIET = 1u << 2,
	OPTION_VERBOSE = 1u << 3,
	OPTION_DRY_RUN = 1u << 4,
	OPTION_INTERVAL = 1u << 5,
	OPTION_HOLD = 1u << 6,
};

/* One exit status of a command and what it means, for its help. */
struct exit_status {
	int status;
	const char *meaning;
};

/* Every command takes these: they say where the mapping is and how to
 * print, so that one set of them serves every command of a script (show
 * and flush do not read the mapping, and ignore -f). */
#define OPTIONS_GLOBAL (OPTION_FILE | OPTION_JSON | OPTION_QUIET | OPTION_VERBOSE)

struct command {
	const char *name;
	enum outcome (*run)(const struct options *options);
	/* The options it implements (enum option_flag); any other given to
	 * it is refused. */
	unsigned int options;
	/* One line for the list of commands. */
	const char *help;
	/* What follows the command in its synopsis besides its options
	 * ("[COMMAND]"), or NULL. */
	const char *operands;
	/* What it does, for `portredir help COMMAND`. */
	const char *description;
	/* Its exit statuses, ended by one with a NULL meaning. */
	struct exit_status exit_statuses[4];
};

/* One option as its help shows it. */
struct option_help {
	enum option_flag flag;
	/* "-f, --file" */
	const char *names;
	/* "PATH", or NULL for an option without an argument. */
	const char *argument;
	const char *help;
};

extern const struct option_help option_helps[];
extern const size_t option_help_count;

extern const struct command commands[];
extern const size_t command_count;

/* The command of that exact name, or NULL. */
const struct command *command_find(const char *name);

/* The command name is most likely a typo of, or NULL. */
const char *command_suggest(const char *name);

/* The options global to every command, as a synopsis shows them. */
#define OPTIONS_SYNOPSIS "[-f PATH] [--json] [-q | -v]"

enum command_line {
	COMMAND_LINE_RUN,
	/* A usage error: exit 2. */
	COMMAND_LINE_ERROR,
};

/* Parses the arguments (options may come before or after the command,
 * as administrators type them). --help runs the help command, about the
 * command given with it if any (options->topic); --version runs the
 * version command. For COMMAND_LINE_RUN, fills ret_options and
 * ret_command; for COMMAND_LINE_ERROR, writes the message, without
 * "portredir: error: " but with what to do, to error, and sets
 * ret_options->json when --json was among the arguments, so that the error
 * is also a JSON document. Resets getopt's state first, so that it may be
 * called more than once. */
enum command_line command_line_parse(int argc, char *argv[], struct options *ret_options,
				     const struct command **ret_command, char *error, size_t error_size);

#endif
