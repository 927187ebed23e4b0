/* The command table, the options each command takes, and the parsing of
 * the command line into struct options (options.h). */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "options.h"
#include "util.h"

const struct command commands[] = {
	{ "check", check_main, OPTIONS_GLOBAL,
	  "parse and validate the mapping; print it normalized (no privileges needed)", NULL,
	  "Parse and validate the mapping and print it in normalized form. Never opens a netlink socket, and works as any user.",
	  { { 0, "the mapping is valid" }, { 2, "it is not, or it cannot be read" }, { 0, NULL } } },
	{ "diff", diff_main, OPTIONS_GLOBAL,
	  "show what apply would change; exit 1 when the kernel differs from the mapping", NULL,
	  "Compare the kernel's table inet portredir and the sysctl with the mapping, and print one line per difference: what apply would change.",
	  { { 0, "the kernel matches the mapping" }, { 1, "it differs" }, { 2, "error" }, { 0, NULL } } },
	{ "apply", apply_main, OPTIONS_GLOBAL | OPTION_DRY_RUN,
	  "make the kernel match the mapping in one atomic transaction", NULL,
	  "Make the kernel match the mapping in one atomic netlink transaction, then set the sysctl if the mapping declares it, and print the changes made.",
	  { { 0, "done, whether or not anything changed (--dry-run: as diff)" },
	    { 1, "with --dry-run, the kernel differs from the mapping" }, { 2, "error" }, { 0, NULL } } },
	{ "show", show_main, OPTIONS_GLOBAL,
	  "print the kernel's current state as a mapping file", NULL,
	  "Print what table inet portredir holds as a mapping file, with the sysctl when portredir manages it, so that `portredir show > f; portredir apply -f f` changes nothing. Without the table, it says so on stderr and prints an empty mapping.",
	  { { 0, "printed, also when there is no table" }, { 2, "error" }, { 0, NULL } } },
	{ "flush", flush_main, OPTIONS_GLOBAL,
	  "delete the managed table and restore the sysctl portredir changed", NULL,
	  "Put the sysctl back to the value it had before portredir first changed it, if it did, and delete table inet portredir. Nothing else in the ruleset is touched; running it again does nothing.",
	  { { 0, "done, or nothing to do" }, { 2, "error" }, { 0, NULL } } },
	{ "watch", watch_main, OPTIONS_GLOBAL | OPTION_INTERVAL | OPTION_HOLD,
	  "apply, then re-apply whenever the mapping, the table or the sysctl changes", NULL,
	  "Apply the mapping, then stay running and apply it again whenever the mapping changes, another process changes or removes table inet portredir, or the declared sysctl drifts. An invalid edit keeps the last valid mapping in force.",
	  { { 0, "stopped by SIGTERM or SIGINT" },
	    { 2, "it cannot start: the mapping is invalid or unreadable, no privilege, the first apply failed" },
	    { 0, NULL } } },
	{ "help", help_main, OPTIONS_GLOBAL, "print the help of a command, or this list", "[COMMAND]",
	  "Print a command's synopsis, what it does, its options and its exit statuses; without COMMAND, the list of commands. `portredir COMMAND --help` is the same.",
	  { { 0, "printed" }, { 2, "no such command" }, { 0, NULL } } },
	{ "version", version_main, OPTIONS_GLOBAL, "print the version", NULL,
	  "Print the version, as --version does.",
	  { { 0, "printed" }, { 0, NULL } } },
};

const size_t command_count = sizeof(commands) / sizeof(commands[0]);

const struct option_help option_helps[] = {
	{ OPTION_FILE, "-f, --file", "PATH",
	  "mapping file, or directory of *.conf drop-ins (default " CONFIG_DEFAULT_PATH ")" },
	{ OPTION_JSON, "--json", NULL, "print the result as one JSON document, also on failure (watch: one per event)" },
	{ OPTION_QUIET, "-q, --quiet", NULL, "print no warnings and no change lines (errors still print)" },
	{ OPTION_VERBOSE, "-v, --verbose", NULL, "say what each step did, on stderr" },
	{ OPTION_DRY_RUN, "--dry-run", NULL, "change nothing: exactly like diff" },
	{ OPTION_INTERVAL, "--interval", "SECONDS", "check a declared sysctl every SECONDS (1 to 86400, default 30)" },
	{ OPTION_HOLD, "--hold", NULL, "own the table, so that no other process can change it (Linux 6.9)" },
};

const size_t option_help_count = sizeof(option_helps) / sizeof(option_helps[0]);

const struct command *command_find(const char *name)
{
	for (size_t i = 0; i < command_count; i++) {
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	}
	return NULL;
}

const char *command_suggest(const char *name)
{
	const char *names[sizeof(commands) / sizeof(commands[0])];

	for (size_t i = 0; i < command_count; i++)
		names[i] = commands[i].name;
	return suggest_word(name, strlen(name), names, command_count);
}

/* The name usage errors give an option: its short form if it has one. */
static const char *option_name(const struct option_help *help, char *name, size_t size)
{
	const char *comma = strchr(help->names, ',');

	snprintf(name, size, "%.*s", comma ? (int)(comma - help->names) : (int)strlen(help->names), help->names);
	return name;
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
	for (size_t i = 0; i < option_help_count; i++) {
		char taking[128], name[32];

		if (!(given & option_helps[i].flag) || (command->options & option_helps[i].flag))
			continue;
		commands_taking(option_helps[i].flag, taking, sizeof(taking));
		return usage_error(error, error_size, "%s is an option of %s, not of '%s'; see 'portredir help %s'",
				   option_name(&option_helps[i], name, sizeof(name)), taking, command->name,
				   command->name);
	}
	return COMMAND_LINE_RUN;
}

/* Whether --json is among the arguments, for the document a usage error
 * prints: parsing may have stopped before reaching it. */
static bool json_requested(int argc, char *argv[])
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--json"))
			return true;
	}
	return false;
}

/* "unknown command 'aply'; did you mean 'apply'?", or with the list of
 * commands as what to do. */
static enum command_line unknown_command(const char *name, char *error, size_t error_size)
{
	const char *suggestion = command_suggest(name);

	if (suggestion)
		return usage_error(error, error_size, "unknown command '%s'; did you mean '%s'?", name, suggestion);
	return usage_error(error, error_size, "unknown command '%s'; see 'portredir help' for the commands", name);
}

static enum command_line parse(int argc, char *argv[], struct options *options, const struct command **ret_command,
			       char *error, size_t error_size)
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
	const struct command *command;
	bool help = false, version = false;
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
			options->path = optarg;
			given |= OPTION_FILE;
			break;
		case LONG_JSON:
			options->json = true;
			given |= OPTION_JSON;
			break;
		case LONG_DRY_RUN:
			options->dry_run = true;
			given |= OPTION_DRY_RUN;
			break;
		case LONG_HOLD:
			options->hold = true;
			given |= OPTION_HOLD;
			break;
		case LONG_INTERVAL: {
			char *end;
			unsigned long seconds = strtoul(optarg, &end, 10);

			if (!*optarg || *end || optarg[0] == '-' || seconds < 1 || seconds > 86400)
				return usage_error(error, error_size,
						   "--interval takes a number of seconds from 1 to 86400, not '%s'",
						   optarg);
			options->interval = (unsigned int)seconds;
			given |= OPTION_INTERVAL;
			break;
		}
		case 'q':
			options->quiet = true;
			given |= OPTION_QUIET;
			break;
		case 'v':
			options->verbose = true;
			given |= OPTION_VERBOSE;
			break;
		/* Both are commands of their own; the command they come with
		 * is the one the help is about. */
		case 'h':
			help = true;
			break;
		case 'V':
			version = true;
			break;
		case ':':
			return usage_error(error, error_size, "option '%s' needs an argument; see 'portredir help'",
					   argv[optind - 1]);
		default:
			return usage_error(error, error_size, "unknown option '%s'; see 'portredir help'",
					   argv[optind - 1]);
		}
	}
	if (!*options->path)
		return usage_error(error, error_size, "-f needs a non-empty path");
	if (options->quiet && options->verbose)
		return usage_error(error, error_size, "-q and -v cannot be used together");
	if (version && !help) {
		*ret_command = command_find("version");
		return COMMAND_LINE_RUN;
	}
	if (help) {
		if (optind < argc && !command_find(argv[optind]))
			return unknown_command(argv[optind], error, error_size);
		options->topic = optind < argc ? argv[optind] : NULL;
		*ret_command = command_find("help");
		return COMMAND_LINE_RUN;
	}
	if (optind >= argc)
		return usage_error(error, error_size, "no command given; see 'portredir help' for the commands");
	command = command_find(argv[optind]);
	if (!command)
		return unknown_command(argv[optind], error, error_size);
	if (command->run == help_main && optind + 1 < argc) {
		if (!command_find(argv[optind + 1]))
			return unknown_command(argv[optind + 1], error, error_size);
		options->topic = argv[++optind];
	}
	if (optind + 1 < argc)
		return usage_error(error, error_size, "unexpected argument '%s' after '%s'; see 'portredir help %s'",
				   argv[optind + 1], command->name, command->name);
	result = refuse_options(command, given, error, error_size);
	if (result != COMMAND_LINE_RUN)
		return result;
	*ret_command = command;
	return COMMAND_LINE_RUN;
}

enum command_line command_line_parse(int argc, char *argv[], struct options *ret_options,
				     const struct command **ret_command, char *error, size_t error_size)
{
	struct options options = { .path = CONFIG_DEFAULT_PATH, .interval = WATCH_DEFAULT_INTERVAL };
	const struct command *command = NULL;
	enum command_line result;

	result = parse(argc, argv, &options, &command, error, error_size);
	if (result == COMMAND_LINE_ERROR) {
		*ret_options = (struct options){ .path = CONFIG_DEFAULT_PATH, .json = json_requested(argc, argv) };
		return result;
	}
	*ret_options = options;
	*ret_command = command;
	return COMMAND_LINE_RUN;
}
