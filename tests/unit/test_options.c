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
	assert_refused(&parsed, "--hold is an option of watch, not of 'check'; see 'portredir help check'");
}

static void show_does_not_take_dry_run(void **unused)
{
	struct parsed parsed = parse("show", "--dry-run", NULL);

	(void)unused;
	assert_refused(&parsed, "--dry-run is an option of apply, not of 'show'; see 'portredir help show'");
}

static void flush_does_not_take_interval(void **unused)
{
	struct parsed parsed = parse("flush", "--interval", "5", NULL);

	(void)unused;
	assert_refused(&parsed, "--interval is an option of watch, not of 'flush'; see 'portredir help flush'");
}

static void diff_does_not_take_dry_run(void **unused)
{
	struct parsed parsed = parse("--dry-run", "diff", NULL);

	(void)unused;
	assert_refused(&parsed, "--dry-run is an option of apply, not of 'diff'; see 'portredir help diff'");
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

static void usage_errors_say_what_is_wrong_and_what_to_do(void **unused)
{
	struct parsed unknown_option = parse("--frobnicate", "check", NULL);
	struct parsed no_command = parse("-f", "x.conf", NULL);
	struct parsed unknown_command = parse("frobnicate", NULL);
	struct parsed extra = parse("check", "now", NULL);
	struct parsed bad_interval = parse("watch", "--interval", "0", NULL);
	struct parsed missing_argument = parse("check", "-f", NULL);
	struct parsed empty_path = parse("-f", "", "check", NULL);

	(void)unused;
	assert_refused(&unknown_option, "unknown option '--frobnicate'; see 'portredir help'");
	assert_refused(&no_command, "no command given; see 'portredir help' for the commands");
	assert_refused(&unknown_command, "unknown command 'frobnicate'; see 'portredir help' for the commands");
	assert_refused(&extra, "unexpected argument 'now' after 'check'; see 'portredir help check'");
	assert_refused(&bad_interval, "--interval takes a number of seconds from 1 to 86400, not '0'");
	assert_refused(&missing_argument, "option '-f' needs an argument; see 'portredir help'");
	assert_refused(&empty_path, "-f needs a non-empty path");
}

/* As the parser does for directives: the nearest command, when one is
 * near enough and no other as near. */
static void an_unknown_command_suggests_the_nearest(void **unused)
{
	struct parsed missing_letter = parse("aply", NULL);
	struct parsed swapped = parse("cehck", NULL);
	struct parsed capital = parse("Show", NULL);
	struct parsed extra_letter = parse("flussh", NULL);
	struct parsed in_help = parse("help", "wacth", NULL);
	struct parsed with_help = parse("dif", "--help", NULL);

	(void)unused;
	assert_refused(&missing_letter, "unknown command 'aply'; did you mean 'apply'?");
	assert_refused(&swapped, "unknown command 'cehck'; did you mean 'check'?");
	assert_refused(&capital, "unknown command 'Show'; did you mean 'show'?");
	assert_refused(&extra_letter, "unknown command 'flussh'; did you mean 'flush'?");
	assert_refused(&in_help, "unknown command 'wacth'; did you mean 'watch'?");
	assert_refused(&with_help, "unknown command 'dif'; did you mean 'diff'?");
}

/* A usage error with --json also prints a JSON document: main.c needs
 * to know it was asked for, wherever parsing stopped. */
static void a_usage_error_says_whether_json_was_asked_for(void **unused)
{
	struct parsed before = parse("--json", "--frobnicate", "check", NULL);
	struct parsed after = parse("--frobnicate", "check", "--json", NULL);
	struct parsed without = parse("--frobnicate", "check", NULL);
	struct parsed as_path = parse("--bogus", "--", "--json", NULL);

	(void)unused;
	assert_int_equal(before.result, COMMAND_LINE_ERROR);
	assert_true(before.options.json);
	assert_true(after.options.json);
	assert_false(without.options.json);
	assert_false(as_path.options.json);
}

/* --help and help are one command; so are --version and version. */
static void help_with_or_without_a_command(void **unused)
{
	struct parsed alone = parse("--help", NULL);
	struct parsed command = parse("help", NULL);
	struct parsed about = parse("help", "apply", NULL);
	struct parsed after = parse("apply", "--help", NULL);
	struct parsed before = parse("-h", "watch", "--hold", NULL);

	(void)unused;
	assert_runs(&alone, "help");
	assert_null(alone.options.topic);
	assert_runs(&command, "help");
	assert_null(command.options.topic);
	assert_runs(&about, "help");
	assert_string_equal(about.options.topic, "apply");
	assert_runs(&after, "help");
	assert_string_equal(after.options.topic, "apply");
	assert_runs(&before, "help");
	assert_string_equal(before.options.topic, "watch");
}

static void version_as_option_or_command(void **unused)
{
	struct parsed option = parse("--version", NULL);
	struct parsed short_option = parse("-V", NULL);
	struct parsed command = parse("version", "--json", NULL);

	(void)unused;
	assert_runs(&option, "version");
	assert_runs(&short_option, "version");
	assert_runs(&command, "version");
	assert_true(command.options.json);
}

static void help_takes_one_command_at_most(void **unused)
{
	struct parsed two = parse("help", "apply", "diff", NULL);

	(void)unused;
	assert_refused(&two, "unexpected argument 'diff' after 'help'; see 'portredir help help'");
}

/* Each command's help has what it needs: a description and its exit
 * statuses, 2 among them for everything but version. */
static void every_command_has_a_description_and_exit_statuses(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < command_count; i++) {
		const struct command *command = &commands[i];
		bool two = false;

		assert_non_null(command->description);
		assert_non_null(command->exit_statuses[0].meaning);
		for (const struct exit_status *exit = command->exit_statuses; exit->meaning; exit++)
			two |= exit->status == 2;
		assert_true(two || !strcmp(command->name, "version"));
	}
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
		cmocka_unit_test(usage_errors_say_what_is_wrong_and_what_to_do),
		cmocka_unit_test(an_unknown_command_suggests_the_nearest),
		cmocka_unit_test(a_usage_error_says_whether_json_was_asked_for),
		cmocka_unit_test(help_with_or_without_a_command),
		cmocka_unit_test(version_as_option_or_command),
		cmocka_unit_test(help_takes_one_command_at_most),
		cmocka_unit_test(every_command_has_a_description_and_exit_statuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
