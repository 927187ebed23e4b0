/* The help and the version, as text or JSON: part of the output module
 * (output.h), rendered from the command table of options.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "options.h"
#include "output.h"

#define HELP_WIDTH 79
/* Where an option's description starts. */
#define OPTION_COLUMN 22

/* Prints text from column `at`, breaking it at spaces before HELP_WIDTH,
 * each further line indented to `indent`. */
static void print_wrapped(FILE *stream, size_t at, size_t indent, const char *text)
{
	while (*text) {
		size_t room = at < HELP_WIDTH ? HELP_WIDTH - at : 1, length = strlen(text), cut = length;

		if (length > room) {
			cut = room;
			while (cut > 0 && text[cut] != ' ')
				cut--;
			if (cut == 0) {
				cut = strcspn(text, " ");
			}
		}
		fprintf(stream, "%.*s\n", (int)cut, text);
		text += cut;
		while (*text == ' ')
			text++;
		if (*text)
			fprintf(stream, "%*s", (int)indent, "");
		at = indent;
	}
}

/* The command's own options, as its synopsis shows them. */
static void print_synopsis(FILE *stream, const struct command *command)
{
	fprintf(stream, "portredir " OPTIONS_SYNOPSIS " %s", command->name);
	for (size_t i = 0; i < option_help_count; i++) {
		const struct option_help *option = &option_helps[i];
		const char *comma = strchr(option->names, ',');
		const char *name = comma ? comma + 2 : option->names;

		if (!(command->options & option->flag) || (option->flag & OPTIONS_GLOBAL))
			continue;
		fprintf(stream, option->argument ? " [%s %s]" : " [%s]", name, option->argument);
	}
	if (command->operands)
		fprintf(stream, " %s", command->operands);
}

static void print_option(const char *names, const char *argument, const char *help)
{
	char left[64];
	int length;

	/* Long options alone line up with the long forms of the others. */
	length = snprintf(left, sizeof(left), "%s%s%s%s", names[1] == '-' ? "    " : "", names,
			  argument ? " " : "", argument ? argument : "");
	printf("  %s", left);
	if (length + 2 >= OPTION_COLUMN) {
		printf("\n%*s", OPTION_COLUMN, "");
	} else {
		printf("%*s", OPTION_COLUMN - 2 - length, "");
	}
	print_wrapped(stdout, OPTION_COLUMN, OPTION_COLUMN, help);
}

/* "Usage: " and the synopsis, broken before a '[' where it would pass
 * HELP_WIDTH, its next lines under the first option. */
static void print_usage(const struct command *command)
{
	const size_t indent = strlen("Usage: portredir ");
	char *synopsis = NULL;
	size_t size = 0, at = strlen("Usage: ");
	FILE *stream = open_memstream(&synopsis, &size);

	if (!stream)
		return;
	print_synopsis(stream, command);
	if (fclose(stream) != 0) {
		free(synopsis);
		return;
	}
	printf("Usage: ");
	for (const char *word = synopsis; *word;) {
		/* A word runs to the next " [": an option with its argument. */
		const char *next = strstr(word + 1, " [");
		size_t length = next ? (size_t)(next - word) : strlen(word);

		if (word != synopsis && at + length > HELP_WIDTH) {
			printf("\n%*s", (int)indent - 1, "");
			at = indent - 1;
		}
		printf("%.*s", (int)length, word);
		at += length;
		word += length;
	}
	printf("\n");
	free(synopsis);
}

static void print_command_help(const struct command *command)
{
	print_usage(command);
	printf("\n");
	print_wrapped(stdout, 0, 0, command->description);
	printf("\nOptions:\n");
	for (size_t i = 0; i < option_help_count; i++) {
		if (command->options & option_helps[i].flag)
			print_option(option_helps[i].names, option_helps[i].argument, option_helps[i].help);
	}
	print_option("-h, --help", NULL, "print this help");
	printf("\nExit status:\n");
	for (const struct exit_status *exit = command->exit_statuses; exit->meaning; exit++) {
		printf("  %d  ", exit->status);
		print_wrapped(stdout, 5, 5, exit->meaning);
	}
	printf("\nSee portredir(8).\n");
}

static void print_general_help(void)
{
	printf("Usage: portredir " OPTIONS_SYNOPSIS " COMMAND [OPTIONS]\n"
	       "Redirect privileged ports (80, 443) to unprivileged services with nftables.\n"
	       "\n"
	       "Commands:\n");
	for (size_t i = 0; i < command_count; i++) {
		printf("  %-8s ", commands[i].name);
		print_wrapped(stdout, 11, 11, commands[i].help);
	}
	printf("\nOptions of every command:\n");
	for (size_t i = 0; i < option_help_count; i++) {
		if (option_helps[i].flag & OPTIONS_GLOBAL)
			print_option(option_helps[i].names, option_helps[i].argument, option_helps[i].help);
	}
	print_option("-h, --help", NULL, "print the help, of the command given with it if any");
	print_option("-V, --version", NULL, "print the version");
	printf("\n'portredir help COMMAND' describes a command, its own options and its exit\n"
	       "status: 0 success, 1 a difference found (diff), 2 error.\n"
	       "See portredir(8) and portredir.conf(5).\n");
}

static void print_option_json(FILE *stream, const char *names, const char *argument, const char *help)
{
	fputs("{\"names\":", stream);
	output_json_string(stream, names);
	fputs(",\"argument\":", stream);
	output_json_string_or_null(stream, argument);
	fputs(",\"description\":", stream);
	output_json_string(stream, help);
	fputc('}', stream);
}

/* The members of the help's document. */
static void print_help_json(FILE *stream, const struct command *command)
{
	char *synopsis = NULL;
	size_t size = 0, listed = 0;
	FILE *line;

	if (!command) {
		fputs("\"synopsis\":\"portredir " OPTIONS_SYNOPSIS " COMMAND [OPTIONS]\",\"commands\":[", stream);
		for (size_t i = 0; i < command_count; i++) {
			fputs(i ? ",{\"name\":" : "{\"name\":", stream);
			output_json_string(stream, commands[i].name);
			fputs(",\"summary\":", stream);
			output_json_string(stream, commands[i].help);
			fputc('}', stream);
		}
		fputs("],\"options\":[", stream);
		for (size_t i = 0; i < option_help_count; i++) {
			if (!(option_helps[i].flag & OPTIONS_GLOBAL))
				continue;
			if (listed++)
				fputc(',', stream);
			print_option_json(stream, option_helps[i].names, option_helps[i].argument, option_helps[i].help);
		}
		fputc(']', stream);
		return;
	}
	line = open_memstream(&synopsis, &size);
	if (line) {
		print_synopsis(line, command);
		if (fclose(line) != 0) {
			free(synopsis);
			synopsis = NULL;
		}
	}
	fputs("\"command\":", stream);
	output_json_string(stream, command->name);
	fputs(",\"synopsis\":", stream);
	output_json_string(stream, synopsis ? synopsis : "");
	free(synopsis);
	fputs(",\"description\":", stream);
	output_json_string(stream, command->description);
	fputs(",\"options\":[", stream);
	for (size_t i = 0; i < option_help_count; i++) {
		if (!(command->options & option_helps[i].flag))
			continue;
		if (listed++)
			fputc(',', stream);
		print_option_json(stream, option_helps[i].names, option_helps[i].argument, option_helps[i].help);
	}
	fputs("],\"exit_status\":[", stream);
	for (const struct exit_status *exit = command->exit_statuses; exit->meaning; exit++) {
		fprintf(stream, "%s{\"status\":%d,\"meaning\":", exit == command->exit_statuses ? "" : ",",
			exit->status);
		output_json_string(stream, exit->meaning);
		fputc('}', stream);
	}
	fputc(']', stream);
}

void output_help(const struct options *options, const struct command *command)
{
	char *text = NULL;
	size_t size = 0;
	FILE *stream;

	if (!options->json) {
		if (command)
			print_command_help(command);
		else
			print_general_help();
		return;
	}
	stream = open_memstream(&text, &size);
	if (!stream)
		return;
	print_help_json(stream, command);
	if (fclose(stream) != 0) {
		free(text);
		text = NULL;
	}
	output_set_document(text);
}

void output_version(const struct options *options)
{
	if (options->json)
		output_set_document(strdup("\"version\":\"" VERSION "\""));
	else
		printf("portredir %s\n", VERSION);
}
