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

struct command {
	const char *name;
	enum outcome (*run)(const struct options *options);
	/* The options it implements (enum option_flag); any other given to
	 * it is refused. */
	unsigned int options;
	const char *help;
};

extern const struct command commands[];
extern const size_t command_count;

/* The command of that exact name, or NULL. */
const struct command *command_find(const char *name);

enum command_line {
	COMMAND_LINE_RUN,
	COMMAND_LINE_HELP,
	COMMAND_LINE_VERSION,
	/* A usage error: exit 2, pointing at --help. */
	COMMAND_LINE_ERROR,
};

/* Parses the arguments (options may come before or after the command,
 * as administrators type them). For COMMAND_LINE_RUN, fills ret_options
 * and ret_command; for COMMAND_LINE_ERROR, writes the message, without
 * "portredir: error: " and the pointer at --help, to error. Resets
 * getopt's state first, so that it may be called more than once. */
enum command_line command_line_parse(int argc, char *argv[], struct options *ret_options,
				     const struct command **ret_command, char *error, size_t error_size);

#endif
