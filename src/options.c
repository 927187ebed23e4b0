/* The command table, the options each command takes, and the parsing of
 * the command line into struct options (options.h). */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "options.h"

/* Every command takes these: they say where the mapping is and how to
 * print, so that one set of them serves every command of a script (show
 * and flush do not read the mapping, and ignore -f). */
#define OPTIONS_GLOBAL (OPTION_FILE | OPTION_JSON | OPTION_QUIET | OPTION_VERBOSE)

const struct command commands[] = {
	{ "check", check_main, OPTIONS_GLOBAL,
	  "parse and validate the mapping; print it normalized (no privileges needed)" },
	{ "diff", diff_main, OPTIONS_GLOBAL,
	  "show what apply would change; exit 1 when the kernel differs from the mapping" },
	{ "apply", apply_main, OPTIONS_GLOBAL | OPTION_DRY_RUN,
	  "make the kernel match the mapping in one atomic transaction" },
	{ "show", show_main, OPTIONS_GLOBAL,
	  "print the kernel's current state as a mapping file" },
	{ "flush", flush_main, OPTIONS_GLOBAL,
	  "delete the managed table and restore the sysctl portredir changed" },
	{ "watch", watch_main, OPTIONS_GLOBAL | OPTION_INTERVAL | OPTION_HOLD,
	  "apply, then re-apply whenever the mapping, the table or the sysctl changes" },
};

const size_t command_count = sizeof(commands) / sizeof(commands[0]);

/* The names usage errors give the options, in the order they are checked. */
static const struct {
	enum option_flag flag;
	const char *name;
} option_names[] = {
	{ OPTION_FILE, "-f" },
	{ OPTION_JSON, "--json" },
	{ OPTION_QUIET, "-q" },
	{ OPTION_VERBOSE, "-v" },
	{ OPTION_DRY_RUN, "--dry-run" },
	{ OPTION_INTERVAL, "--interval" },
	{ OPTION_HOLD, "--hold" },
};

const struct command *command_find(const char *name)
{
	for (size_t i = 0; i < command_count; i++) {
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	}
	return NULL;
}

static enum command_line usage_error(char *error, size_t error_size, const char *format, ...)
	__attribute__((format(printf, 3, 4)));
static enum command_line usage_error(char *error, size_t error_size, const char *format, ...)
{
	va_list arguments;

	va_start(arguments, format);
	vsnprintf(error, error_size, format, arguments);
	va_end(arguments);
	return COMMAND_LINE_ERROR;
}

/* "watch", or "apply and watch": the commands that take the option. */
static void commands_taking(enum option_flag flag, char *text, size_t size)
{
	size_t taking = 0, seen = 0, length = 0;

	text[0] = '\0';
	for (size_t i = 0; i < command_count; i++)
		taking += (commands[i].options & flag) != 0;
	for (size_t i = 0; i < command_count && length < size; i++) {
		if (!(commands[i].options & flag))
			continue;
		seen++;
		length += (size_t)snprintf(text + length, size - length, "%s%s",
					   seen == 1 ? "" : seen == taking ? " and " : ", ", commands[i].name);
	}
}

/* The first option given that the command does not implement, as a
 * usage error; COMMAND_LINE_RUN when there is none. */
static enum command_line refuse_options(const struct command *command, unsigned int given, char *error,
					size_t error_size)
{
	for (size_t i = 0; i < sizeof(option_names) / sizeof(option_names[0]); i++) {
		char taking[128];

		if (!(given & option_names[i].flag) || (command->options & option_names[i].flag))
			continue;
		commands_taking(option_names[i].flag, taking, sizeof(taking));
		return usage_error(error, error_size, "%s is an option of %s, not of '%s'", option_names[i].name,
				   taking, command->name);
	}
	return COMMAND_LINE_RUN;
}

enum command_line command_line_parse(int argc, char *argv[], struct options *ret_options,
				     const struct command **ret_command, char *error, size_t error_size)
{
	enum { LONG_DRY_RUN = 256, LONG_JSON, LONG_INTERVAL, LONG_HOLD };
	static const struct option long_options[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, LONG_JSON },
		{ "dry-run", no_argument, NULL, LONG_DRY_RUN },
		{ "interval", required_argument, NULL, LONG_INTERVAL },
		{ "hold", no_argument, NULL, LONG_HOLD },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct options options = { .path = CONFIG_DEFAULT_PATH, .interval = WATCH_DEFAULT_INTERVAL };
	const struct command *command;
	unsigned int given = 0;
	enum command_line result;
	int option;

	/* getopt permutes, so that "portredir apply --dry-run -f x" works;
	 * 0 makes glibc start over, permutation state included. */
	optind = 0;
	opterr = 0;
	while ((option = getopt_long(argc, argv, ":f:qvhV", long_options, NULL)) != -1) {
		switch (option) {
		case 'f':
			options.path = optarg;
			given |= OPTION_FILE;
			break;
		case LONG_JSON:
			options.json = true;
			given |= OPTION_JSON;
			break;
		case LONG_DRY_RUN:
			options.dry_run = true;
			given |= OPTION_DRY_RUN;
			break;
		case LONG_HOLD:
			options.hold = true;
			given |= OPTION_HOLD;
			break;
		case LONG_INTERVAL: {
			char *end;
			unsigned long seconds = strtoul(optarg, &end, 10);

			if (!*optarg || *end || optarg[0] == '-' || seconds < 1 || seconds > 86400)
				return usage_error(error, error_size,
						   "--interval takes a number of seconds from 1 to 86400, not '%s'",
						   optarg);
			options.interval = (unsigned int)seconds;
			given |= OPTION_INTERVAL;
			break;
		}
		case 'q':
			options.quiet = true;
			given |= OPTION_QUIET;
			break;
		case 'v':
			options.verbose = true;
			given |= OPTION_VERBOSE;
			break;
		case 'h':
			return COMMAND_LINE_HELP;
		case 'V':
			return COMMAND_LINE_VERSION;
		case ':':
			return usage_error(error, error_size, "option '%s' needs an argument", argv[optind - 1]);
		default:
			return usage_error(error, error_size, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error(error, error_size, "no command given");
	if (optind + 1 < argc)
		return usage_error(error, error_size, "unexpected argument '%s'", argv[optind + 1]);
	if (!*options.path)
		return usage_error(error, error_size, "-f needs a non-empty path");
	command = command_find(argv[optind]);
	if (!command)
		return usage_error(error, error_size, "unknown command '%s'", argv[optind]);
	result = refuse_options(command, given, error, error_size);
	if (result != COMMAND_LINE_RUN)
		return result;
	if (options.quiet && options.verbose)
		return usage_error(error, error_size, "-q and -v cannot be used together");
	*ret_options = options;
	*ret_command = command;
	return COMMAND_LINE_RUN;
}
