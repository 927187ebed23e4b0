/* The command line as a specification: which options each command takes,
 * what is refused and with which message, and the options a run gets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "config.h"
#include "options.h"

#define MAX_ARGUMENTS 16

struct parsed {
	enum command_line result;
	struct options options;
	const struct command *command;
	char error[512];
};

/* Parses "portredir" followed by the NULL-terminated arguments. getopt
 * permutes its argv, so it gets a copy. */
static struct parsed parse(const char *first, ...)
{
	char *argv[MAX_ARGUMENTS + 2] = { (char *)"portredir" };
	struct parsed parsed = { .command = NULL };
	int argc = 1;
	va_list arguments;

	va_start(arguments, first);
	for (const char *argument = first; argument; argument = va_arg(arguments, const char *)) {
		assert_true(argc <= MAX_ARGUMENTS);
		argv[argc++] = (char *)argument;
	}
	va_end(arguments);
	argv[argc] = NULL;
	parsed.result = command_line_parse(argc, argv, &parsed.options, &parsed.command, parsed.error,
					   sizeof(parsed.error));
	return parsed;
}

static void assert_refused(const struct parsed *parsed, const char *message)
{
	assert_int_equal(parsed->result, COMMAND_LINE_ERROR);
	assert_string_equal(parsed->error, message);
}

static void assert_runs(const struct parsed *parsed, const char *command)
{
	assert_int_equal(parsed->result, COMMAND_LINE_RUN);
	assert_non_null(parsed->command);
	assert_string_equal(parsed->command->name, command);
}

static void check_does_not_take_hold(void **unused)
{
	struct parsed parsed = parse("check", "--hold", NULL);

	(void)unused;
	assert_refused(&parsed, "--hold is an option of watch, not of 'check'");
}

static void show_does_not_take_dry_run(void **unused)
{
	struct parsed parsed = parse("show", "--dry-run", NULL);

	(void)unused;
	assert_refused(&parsed, "--dry-run is an option of apply, not of 'show'");
}

static void flush_does_not_take_interval(void **unused)
{
	struct parsed parsed = parse("flush", "--interval", "5", NULL);

	(void)unused;
	assert_refused(&parsed, "--interval is an option of watch, not of 'flush'");
}

static void diff_does_not_take_dry_run(void **unused)
{
	struct parsed parsed = parse("--dry-run", "diff", NULL);

	(void)unused;
	assert_refused(&parsed, "--dry-run is an option of apply, not of 'diff'");
}

static void quiet_and_verbose_are_refused_together(void **unused)
{
	struct parsed short_options = parse("-q", "-v", "check", NULL);
	struct parsed long_options = parse("apply", "--verbose", "--quiet", NULL);
	struct parsed joined = parse("-qv", "diff", NULL);

	(void)unused;
	assert_refused(&short_options, "-q and -v cannot be used together");
	assert_refused(&long_options, "-q and -v cannot be used together");
	assert_refused(&joined, "-q and -v cannot be used together");
}

/* -f, --json, -q and -v serve every command, so that a script may give
 * each command the same options. */
static void every_command_takes_the_global_options(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < command_count; i++) {
		struct parsed quiet = parse("-f", "x.conf", "--json", "-q", commands[i].name, NULL);
		struct parsed verbose = parse(commands[i].name, "-v", "--file", "y.conf", NULL);

		assert_runs(&quiet, commands[i].name);
		assert_string_equal(quiet.options.path, "x.conf");
		assert_true(quiet.options.json);
		assert_true(quiet.options.quiet);
		assert_false(quiet.options.verbose);
		assert_runs(&verbose, commands[i].name);
		assert_string_equal(verbose.options.path, "y.conf");
		assert_true(verbose.options.verbose);
	}
}

/* The table as data: apply alone takes --dry-run, watch alone --interval
 * and --hold. */
static void command_specific_options_belong_to_one_command_each(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < command_count; i++) {
		const struct command *command = &commands[i];

		assert_int_equal(command->options & OPTION_DRY_RUN, strcmp(command->name, "apply") ? 0 : OPTION_DRY_RUN);
		assert_int_equal(command->options & (OPTION_INTERVAL | OPTION_HOLD),
				 strcmp(command->name, "watch") ? 0 : OPTION_INTERVAL | OPTION_HOLD);
	}
}

/* apply --dry-run runs apply with dry_run set (apply_main then behaves
 * exactly as diff), not another command. */
static void apply_dry_run_runs_apply_with_dry_run_set(void **unused)
{
	struct parsed parsed = parse("apply", "--dry-run", "-f", "rules.conf", NULL);

	(void)unused;
	assert_runs(&parsed, "apply");
	assert_ptr_equal(parsed.command->run, apply_main);
	assert_true(parsed.options.dry_run);
	assert_string_equal(parsed.options.path, "rules.conf");
}

static void watch_takes_interval_and_hold(void **unused)
{
	struct parsed parsed = parse("--hold", "watch", "--interval", "5", NULL);

	(void)unused;
	assert_runs(&parsed, "watch");
	assert_true(parsed.options.hold);
	assert_int_equal(parsed.options.interval, 5);
}

static void defaults_when_no_option_is_given(void **unused)
{
	struct parsed parsed = parse("check", NULL);

	(void)unused;
	assert_runs(&parsed, "check");
	assert_string_equal(parsed.options.path, CONFIG_DEFAULT_PATH);
	assert_false(parsed.options.json);
	assert_false(parsed.options.quiet);
	assert_false(parsed.options.verbose);
	assert_false(parsed.options.dry_run);
	assert_false(parsed.options.hold);
	assert_int_equal(parsed.options.interval, WATCH_DEFAULT_INTERVAL);
}

static void usage_errors_say_what_is_wrong(void **unused)
{
	struct parsed unknown_option = parse("--frobnicate", "check", NULL);
	struct parsed no_command = parse("-f", "x.conf", NULL);
	struct parsed unknown_command = parse("aply", NULL);
	struct parsed extra = parse("check", "now", NULL);
	struct parsed bad_interval = parse("watch", "--interval", "0", NULL);
	struct parsed missing_argument = parse("check", "-f", NULL);
	struct parsed empty_path = parse("-f", "", "check", NULL);

	(void)unused;
	assert_refused(&unknown_option, "unknown option '--frobnicate'");
	assert_refused(&no_command, "no command given");
	assert_refused(&unknown_command, "unknown command 'aply'");
	assert_refused(&extra, "unexpected argument 'now'");
	assert_refused(&bad_interval, "--interval takes a number of seconds from 1 to 86400, not '0'");
	assert_refused(&missing_argument, "option '-f' needs an argument");
	assert_refused(&empty_path, "-f needs a non-empty path");
}

static void help_and_version(void **unused)
{
	struct parsed help = parse("apply", "--help", NULL);
	struct parsed version = parse("-V", NULL);

	(void)unused;
	assert_int_equal(help.result, COMMAND_LINE_HELP);
	assert_int_equal(version.result, COMMAND_LINE_VERSION);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(check_does_not_take_hold),
		cmocka_unit_test(show_does_not_take_dry_run),
		cmocka_unit_test(flush_does_not_take_interval),
		cmocka_unit_test(diff_does_not_take_dry_run),
		cmocka_unit_test(quiet_and_verbose_are_refused_together),
		cmocka_unit_test(every_command_takes_the_global_options),
		cmocka_unit_test(command_specific_options_belong_to_one_command_each),
		cmocka_unit_test(apply_dry_run_runs_apply_with_dry_run_set),
		cmocka_unit_test(watch_takes_interval_and_hold),
		cmocka_unit_test(defaults_when_no_option_is_given),
		cmocka_unit_test(usage_errors_say_what_is_wrong),
		cmocka_unit_test(help_and_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
