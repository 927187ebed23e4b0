/* Parses the global options, dispatches to one command, and is the only
 * place that turns a command's outcome into an exit code. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "command.h"
#include "config.h"

enum {
	EXIT_IN_SYNC = 0,
	EXIT_DIFFERENCES = 1,
	EXIT_TROUBLE = 2
};

struct command {
	const char *name;
	enum outcome (*run)(const struct options *options);
	const char *help;
};

static const struct command commands[] = {
	{ "check", check_main, "parse and validate the mapping; print it normalized (no privileges needed)" },
	{ "diff", diff_main, "show what apply would change; exit 1 when the kernel differs from the mapping" },
	{ "apply", apply_main, "make the kernel match the mapping in one atomic transaction" },
	{ "show", show_main, "print the kernel's current state as a mapping file" },
	{ "flush", flush_main, "delete the managed table and restore the sysctl portredir changed" },
	{ "watch", watch_main, "apply, then re-apply whenever the mapping, the table or the sysctl changes" },
	{ "status", status_main, "say why traffic does or does not arrive; exit 1 when a problem is found" },
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	}
	return NULL;
}

static void print_usage(FILE *stream)
{
	fprintf(stream,
		"Usage: portredir [-f PATH] [--json] [-q] [-v] COMMAND\n"
		"Redirect privileged ports (80, 443) to unprivileged services with nftables.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(stream, "  %-7s %s\n", commands[i].name, commands[i].help);
	fprintf(stream,
		"\n"
		"Options:\n"
		"  -f, --file PATH  mapping file, or directory of *.conf drop-ins\n"
		"                   (default %s)\n"
		"      --dry-run    with apply: change nothing, exactly like diff\n"
		"      --interval S with watch: check a declared sysctl every S seconds\n"
		"                   (default %u)\n"
		"      --hold       with watch: own the table, so that others cannot change it\n"
		"      --json       print the result as one JSON document\n"
		"  -q, --quiet      print no warnings and no change lines (errors still print)\n"
		"  -v, --verbose    say what each step did\n"
		"  -h, --help       print this help\n"
		"  -V, --version    print the version\n"
		"\n"
		"Exit status: 0 success or in sync, 1 differences (diff) or problems (status), 2 error.\n"
		"See portredir(8) and portredir.conf(5).\n",
		CONFIG_DEFAULT_PATH, WATCH_DEFAULT_INTERVAL);
}

static int usage_error(const char *format, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *format, ...)
{
	va_list arguments;

	fputs("portredir: error: ", stderr);
	va_start(arguments, format);
	vfprintf(stderr, format, arguments);
	va_end(arguments);
	fputs("; see 'portredir --help'\n", stderr);
	return EXIT_TROUBLE;
}

int main(int argc, char *argv[])
{
	enum { OPTION_DRY_RUN = 256, OPTION_JSON, OPTION_INTERVAL, OPTION_HOLD };
	static const struct option long_options[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, OPTION_JSON },
		{ "dry-run", no_argument, NULL, OPTION_DRY_RUN },
		{ "interval", required_argument, NULL, OPTION_INTERVAL },
		{ "hold", no_argument, NULL, OPTION_HOLD },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct options options = { .path = CONFIG_DEFAULT_PATH, .interval = WATCH_DEFAULT_INTERVAL };
	bool interval_given = false;
	const struct command *command;
	enum outcome outcome;
	const char *name;
	int option;

	/* Options may come before or after the command, as administrators type
	 * them ("portredir apply --dry-run -f x"); getopt permutes. */
	opterr = 0;
	while ((option = getopt_long(argc, argv, ":f:qvhV", long_options, NULL)) != -1) {
		switch (option) {
		case 'f':
			options.path = optarg;
			break;
		case OPTION_JSON:
			options.json = true;
			break;
		case OPTION_DRY_RUN:
			options.dry_run = true;
			break;
		case OPTION_HOLD:
			options.hold = true;
			break;
		case OPTION_INTERVAL: {
			char *end;
			unsigned long seconds = strtoul(optarg, &end, 10);

			if (!*optarg || *end || optarg[0] == '-' || seconds < 1 || seconds > 86400)
				return usage_error("--interval takes a number of seconds from 1 to 86400, not '%s'",
						   optarg);
			options.interval = (unsigned int)seconds;
			interval_given = true;
			break;
		}
		case 'q':
			options.quiet = true;
			break;
		case 'v':
			options.verbose = true;
			break;
		case 'h':
			print_usage(stdout);
			return EXIT_IN_SYNC;
		case 'V':
			printf("portredir %s\n", VERSION);
			return EXIT_IN_SYNC;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("no command given");
	name = argv[optind];
	if (optind + 1 < argc)
		return usage_error("unexpected argument '%s'", argv[optind + 1]);
	if (!*options.path)
		return usage_error("-f needs a non-empty path");
	command = find_command(name);
	if (!command)
		return usage_error("unknown command '%s'", name);
	if (options.dry_run && command->run != apply_main)
		return usage_error("--dry-run is an option of apply, not of '%s'", name);
	if (interval_given && command->run != watch_main)
		return usage_error("--interval is an option of watch, not of '%s'", name);
	if (options.hold && command->run != watch_main)
		return usage_error("--hold is an option of watch, not of '%s'", name);
	if (options.dry_run)
		command = find_command("diff");

	outcome = command->run(&options);
	/* A full disk or a closed pipe must not pass for success: scripts
	 * rely on what was printed. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "portredir: error: cannot write the output: %m\n");
		return EXIT_TROUBLE;
	}
	switch (outcome) {
	case OUTCOME_OK:
		return EXIT_IN_SYNC;
	case OUTCOME_DIFFERENCES:
		return EXIT_DIFFERENCES;
	default:
		return EXIT_TROUBLE;
	}
}
