/* Parses the command line (options.c), dispatches to one command, and is
 * the only place that turns a command's outcome into an exit code. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "options.h"
#include "output.h"

enum {
	EXIT_IN_SYNC = 0,
	EXIT_DIFFERENCES = 1,
	EXIT_TROUBLE = 2
};

int main(int argc, char *argv[])
{
	const struct command *command = NULL;
	struct options options;
	enum outcome outcome;
	char error[512];

	if (command_line_parse(argc, argv, &options, &command, error, sizeof(error)) == COMMAND_LINE_ERROR) {
		output_usage_error(error);
		output_finish(&options, true);
		return EXIT_TROUBLE;
	}

	outcome = command->run(&options);
	/* With --json, one document, also when the command failed. */
	output_finish(&options, outcome == OUTCOME_ERROR);
	/* A full disk or a closed pipe must not pass for success: scripts
	 * rely on what was printed. */
	errno = 0;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		output_error("cannot write the output: %s", errno ? strerror(errno) : "write error");
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
