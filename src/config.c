/* The mapping-file parser and the validation rules: turns a file, or a
 * directory of *.conf drop-ins, into one mapping plus its diagnostics. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "config.h"

/* A redirect line has five tokens; a sixth is only looked at to report it. */
#define MAX_TOKENS 6
/* User text longer than this is cut in messages: a 4,000-byte token quoted
 * whole would bury the message. */
#define QUOTE_MAX 64
#define PORT_MAX 65535u

/* For "'%.*s%s'": the text cut to QUOTE_MAX bytes, then "..." if cut. */
#define QUOTE(text, length) \
	(int)((length) > QUOTE_MAX ? QUOTE_MAX : (length)), (text), ((length) > QUOTE_MAX ? "..." : "")

#define PROTOCOLS_EXPECTED "expected 'tcp', 'udp' or 'tcp,udp'"

struct token {
	const char *text;
	size_t length;
	unsigned int column;
};

struct parser {
	const char *file;
	unsigned int line;
	struct mapping *mapping;
	struct diagnostics *diagnostics;
};

/* An error at a column of the current line. A macro rather than a function
 * so that the compiler checks every format against its arguments. */
#define parse_error(parser, column, ...) \
	diagnostics_add((parser)->diagnostics, SEVERITY_ERROR, \
			&(const struct location){ (parser)->file, (parser)->line, (column) }, __VA_ARGS__)

/* An error about a whole file: line 0. */
#define file_error(file, diagnostics, ...) \
	diagnostics_add((diagnostics), SEVERITY_ERROR, \
			&(const struct location){ (file), 0, 0 }, __VA_ARGS__)

static const char *const directives[] = { "redirect", "unprivileged_port_start" };
static const char *const to_keyword[] = { "to" };

static bool token_is(const struct token *token, const char *word)
{
	return token->length == strlen(word) && !memcmp(token->text, word, token->length);
}

static bool token_is_digits(const struct token *token)
{
	for (size_t i = 0; i < token->length; i++) {
		if (token->text[i] < '0' || token->text[i] > '9')
			return false;
	}
	return true;
}

static char lowercase(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Optimal-string-alignment distance, case-insensitive: a swapped pair of
 * letters ("redriect") or a capital ("TCP") is one typo, not two. The
 * candidates are our short keywords, so the rows stay small while the
 * typed word may be long. */
static unsigned int edit_distance(const char *word, size_t length, const char *candidate)
{
	enum { CANDIDATE_MAX = 32 };
	unsigned int rows[3][CANDIDATE_MAX + 1];
	unsigned int *before = rows[0], *previous = rows[1], *current = rows[2];
	size_t candidate_length = strlen(candidate);

	if (candidate_length > CANDIDATE_MAX)
		return UINT_MAX;
	for (size_t j = 0; j <= candidate_length; j++)
		previous[j] = (unsigned int)j;
	for (size_t i = 1; i <= length; i++) {
		unsigned int *rotate;

		current[0] = (unsigned int)i;
		for (size_t j = 1; j <= candidate_length; j++) {
			unsigned int cost = lowercase(word[i - 1]) != candidate[j - 1];
			unsigned int best = previous[j - 1] + cost;

			if (previous[j] + 1 < best)
				best = previous[j] + 1;
			if (current[j - 1] + 1 < best)
				best = current[j - 1] + 1;
			if (i > 1 && j > 1 && lowercase(word[i - 1]) == candidate[j - 2] &&
			    lowercase(word[i - 2]) == candidate[j - 1] && before[j - 2] + 1 < best)
				best = before[j - 2] + 1;
			current[j] = best;
		}
		rotate = before;
		before = previous;
		previous = current;
		current = rotate;
	}
	return previous[candidate_length];
}

/* The candidate the word is most likely a typo of, or NULL when none is
 * close enough (a third of the candidate's letters, at least one) or two
 * are equally close. */
static const char *suggest(const char *word, size_t length, const char *const *candidates, size_t count)
{
	unsigned int best_distance = UINT_MAX;
	const char *best = NULL;
	bool tie = false;

	for (size_t i = 0; i < count; i++) {
		size_t candidate_length = strlen(candidates[i]);
		unsigned int limit = candidate_length / 3 > 1 ? (unsigned int)(candidate_length / 3) : 1;
		unsigned int distance;

		/* The distance is at least the difference in length. */
		if ((length > candidate_length ? length - candidate_length : candidate_length - length) > limit)
			continue;
		distance = edit_distance(word, length, candidates[i]);
		if (distance > limit)
			continue;
		if (distance < best_distance) {
			best_distance = distance;
			best = candidates[i];
			tie = false;
		} else if (distance == best_distance) {
			tie = true;
		}
	}
	return tie ? NULL : best;
}

/* Whether text is a protocol list that parse_protocols() would accept,
 * used to recognise a line that forgot its "redirect". */
static bool is_protocol_list(const char *text, size_t length)
{
	const char *end = text + length;

	for (const char *element = text; element <= end;) {
		const char *comma = memchr(element, ',', (size_t)(end - element));
		const char *element_end = comma ? comma : end;
		enum protocol protocol;

		if (protocol_from_name(element, (size_t)(element_end - element), &protocol) < 0)
			return false;
		element = element_end + 1;
	}
	return true;
}

/* What a parse step returns once it has reported why its token is wrong:
 * -EINVAL, or -ENOMEM when even the report failed. */
static int reported(int r)
{
	return r < 0 ? r : -EINVAL;
}

/* Parses a decimal number from minimum to 65535. Returns 0, -EINVAL after
 * reporting why it is not one, or -ENOMEM. noun names the number in
 * messages. */
static int parse_number(struct parser *parser, const struct token *token, const char *noun,
			unsigned int minimum, unsigned int *ret_value)
{
	const char *text = token->text;
	size_t length = token->length, i;
	unsigned int value = 0;

	if (text[0] == '+' || text[0] == '-')
		return reported(parse_error(parser, token->column,
					    "invalid %s '%.*s%s': signs are not allowed; expected a number from %u to %u",
					    noun, QUOTE(text, length), minimum, PORT_MAX));
	if (length > 1 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
		/* Saturating: a long hexadecimal number must not wrap around
		 * into a suggestion that looks plausible. */
		for (i = 2; i < length; i++) {
			char c = lowercase(text[i]);
			unsigned int digit;

			if (c >= '0' && c <= '9')
				digit = (unsigned int)(c - '0');
			else if (c >= 'a' && c <= 'f')
				digit = (unsigned int)(c - 'a' + 10);
			else
				break;
			value = value * 16 + digit;
			if (value > PORT_MAX)
				value = PORT_MAX + 1;
		}
		if (i == length && i > 2 && value >= minimum && value <= PORT_MAX)
			return reported(parse_error(parser, token->column,
						    "invalid %s '%.*s%s': only decimal numbers are allowed; write %u",
						    noun, QUOTE(text, length), value));
		return reported(parse_error(parser, token->column,
					    "invalid %s '%.*s%s': only decimal numbers are allowed; expected a number from %u to %u",
					    noun, QUOTE(text, length), minimum, PORT_MAX));
	}
	if (text[0] < '0' || text[0] > '9')
		return reported(parse_error(parser, token->column,
					    "invalid %s '%.*s%s': not a number; expected a number from %u to %u",
					    noun, QUOTE(text, length), minimum, PORT_MAX));
	/* Saturating, so that a 30-digit number is out of range rather than
	 * wrapped around into range. */
	for (i = 0; i < length && text[i] >= '0' && text[i] <= '9'; i++) {
		value = value * 10 + (unsigned int)(text[i] - '0');
		if (value > PORT_MAX)
			value = PORT_MAX + 1;
	}
	if (i < length)
		return reported(parse_error(parser, token->column + (unsigned int)i,
					    "invalid %s '%.*s%s': unexpected '%c'; expected a number from %u to %u",
					    noun, QUOTE(text, length), text[i], minimum, PORT_MAX));
	if (value < minimum || value > PORT_MAX)
		return reported(parse_error(parser, token->column,
					    "invalid %s '%.*s%s': out of range; expected a number from %u to %u",
					    noun, QUOTE(text, length), minimum, PORT_MAX));
	/* Leading zeros read as octal in some tools; refusing them keeps
	 * "080" from meaning different ports to different readers. */
	if (text[0] == '0' && length > 1)
		return reported(parse_error(parser, token->column,
					    "invalid %s '%.*s%s': leading zeros are not allowed; write %u",
					    noun, QUOTE(text, length), value));
	*ret_value = value;
	return 0;
}

/* Parses "tcp", "udp" or a comma list of both. Reports the first problem
 * of the list only: the ones after it are usually the same typo. */
static int parse_protocols(struct parser *parser, const struct token *token,
			   bool ret_protocols[PROTOCOL_COUNT])
{
	static const char *const names[PROTOCOL_COUNT] = { "tcp", "udp" };
	const char *end = token->text + token->length;

	for (const char *element = token->text; element <= end;) {
		const char *comma = memchr(element, ',', (size_t)(end - element));
		const char *element_end = comma ? comma : end;
		size_t length = (size_t)(element_end - element);
		unsigned int column = token->column + (unsigned int)(element - token->text);
		enum protocol protocol;
		const char *suggestion;

		if (length == 0 && element == end)
			return reported(parse_error(parser, column - 1,
						    "trailing comma in protocol list '%.*s%s'; remove it",
						    QUOTE(token->text, token->length)));
		if (length == 0)
			return reported(parse_error(parser, column,
						    "empty protocol in list '%.*s%s'; remove the extra comma",
						    QUOTE(token->text, token->length)));
		if (protocol_from_name(element, length, &protocol) < 0) {
			suggestion = suggest(element, length, names, PROTOCOL_COUNT);
			if (suggestion)
				return reported(parse_error(parser, column,
							    "unknown protocol '%.*s%s'; did you mean '%s'?",
							    QUOTE(element, length), suggestion));
			return reported(parse_error(parser, column, "unknown protocol '%.*s%s'; " PROTOCOLS_EXPECTED,
						    QUOTE(element, length)));
		}
		if (ret_protocols[protocol])
			return reported(parse_error(parser, column,
						    "protocol '%s' is listed twice in '%.*s%s'; list it once",
						    protocol_name(protocol), QUOTE(token->text, token->length)));
		ret_protocols[protocol] = true;
		element = element_end + 1;
	}
	return 0;
}

static unsigned int column_after(const struct token *token)
{
	return token->column + (unsigned int)token->length;
}

static struct location parser_location(const struct parser *parser, unsigned int column)
{
	return (struct location){ .file = parser->file, .line = parser->line, .column = column };
}

/* redirect PROTOS PORT to TARGET. Each token is checked even after an
 * error in an earlier one, so that one run shows every typo of the line;
 * a missing token ends the line. */
static int parse_redirect(struct parser *parser, const struct token *tokens, size_t count)
{
	bool protocols[PROTOCOL_COUNT] = { false };
	bool valid, port_valid, target_valid;
	unsigned int port = 0, target = 0;
	int r;

	if (count < 2)
		return parse_error(parser, column_after(&tokens[0]),
				   "missing protocol after 'redirect'; " PROTOCOLS_EXPECTED);
	if (token_is_digits(&tokens[1]))
		return parse_error(parser, tokens[1].column,
				   "missing protocol before port '%.*s%s'; " PROTOCOLS_EXPECTED,
				   QUOTE(tokens[1].text, tokens[1].length));
	r = parse_protocols(parser, &tokens[1], protocols);
	if (r == -ENOMEM)
		return r;
	valid = r == 0;

	if (count < 3)
		return parse_error(parser, column_after(&tokens[1]),
				   "missing port after the protocol; expected a number from 1 to %u", PORT_MAX);
	if ((tokens[2].text[0] < '0' || tokens[2].text[0] > '9') &&
	    is_protocol_list(tokens[2].text, tokens[2].length))
		return parse_error(parser, tokens[2].column,
				   "expected a port, found protocol '%.*s%s'; list protocols with commas and no spaces, as 'tcp,udp'",
				   QUOTE(tokens[2].text, tokens[2].length));
	r = parse_number(parser, &tokens[2], "port", 1, &port);
	if (r == -ENOMEM)
		return r;
	port_valid = r == 0;

	if (count < 4)
		return parse_error(parser, column_after(&tokens[2]), "missing 'to' after the port");
	if (!token_is(&tokens[3], "to")) {
		/* "redirect tcp 80 8080": 'to' left out, not misspelt. */
		if (count == 4 && token_is_digits(&tokens[3]))
			return parse_error(parser, tokens[3].column, "missing 'to' before the target port '%.*s%s'",
					   QUOTE(tokens[3].text, tokens[3].length));
		if (suggest(tokens[3].text, tokens[3].length, to_keyword, 1))
			r = parse_error(parser, tokens[3].column, "unknown word '%.*s%s' after the port; did you mean 'to'?",
					QUOTE(tokens[3].text, tokens[3].length));
		else
			r = parse_error(parser, tokens[3].column, "expected 'to' after the port, found '%.*s%s'",
					QUOTE(tokens[3].text, tokens[3].length));
		if (r < 0)
			return r;
		valid = false;
	}

	if (count < 5)
		return parse_error(parser, column_after(&tokens[3]),
				   "missing target port after 'to'; expected a number from 1 to %u", PORT_MAX);
	r = parse_number(parser, &tokens[4], "target port", 1, &target);
	if (r == -ENOMEM)
		return r;
	target_valid = r == 0;

	if (count > 5) {
		r = parse_error(parser, tokens[5].column,
				"unexpected '%.*s%s' after the target port; a comment must start with '#'",
				QUOTE(tokens[5].text, tokens[5].length));
		if (r < 0)
			return r;
		valid = false;
	}
	if (port_valid && target_valid && port == target) {
		r = parse_error(parser, tokens[4].column,
				"target port %u is the same as the port; a redirect to itself does nothing, remove the line",
				target);
		if (r < 0)
			return r;
		valid = false;
	}
	if (!valid || !port_valid || !target_valid)
		return 0;

	/* Columns are kept in 16 bits (struct redirect). */
	_Static_assert(CONFIG_MAX_LINE_LENGTH + 4 < UINT16_MAX, "columns must fit in uint16_t");
	for (int protocol = 0; protocol < PROTOCOL_COUNT; protocol++) {
		struct redirect redirect = {
			.protocol = (enum protocol)protocol,
			.port = (uint16_t)port,
			.target = (uint16_t)target,
			.location = parser_location(parser, tokens[0].column),
			.port_column = (uint16_t)tokens[2].column,
			.target_column = (uint16_t)tokens[4].column,
		};

		if (!protocols[protocol])
			continue;
		r = mapping_add_redirect(parser->mapping, &redirect);
		if (r < 0)
			return r;
	}
	return 0;
}

/* unprivileged_port_start N. The first declaration wins; later ones are
 * errors naming it, across all files of the mapping. */
static int parse_unprivileged_port_start(struct parser *parser, const struct token *tokens, size_t count)
{
	struct mapping *mapping = parser->mapping;
	unsigned int value = 0;
	int r;

	if (mapping->has_unprivileged_port_start) {
		const struct location *first = &mapping->unprivileged_port_start_location;

		r = parse_error(parser, tokens[0].column, "duplicate unprivileged_port_start; first declared at %s:%u:%u",
				first->file, first->line, first->column);
		if (r < 0)
			return r;
	}
	if (count < 2)
		return parse_error(parser, column_after(&tokens[0]),
				   "missing value after 'unprivileged_port_start'; expected a number from 0 to %u", PORT_MAX);
	r = parse_number(parser, &tokens[1], "unprivileged_port_start value", 0, &value);
	if (r == -ENOMEM)
		return r;
	if (count > 2) {
		int e = parse_error(parser, tokens[2].column,
				    "unexpected '%.*s%s' after the value; a comment must start with '#'",
				    QUOTE(tokens[2].text, tokens[2].length));
		if (e < 0)
			return e;
		r = -EINVAL;
	}
	if (r == 0 && !mapping->has_unprivileged_port_start) {
		mapping->has_unprivileged_port_start = true;
		mapping->unprivileged_port_start = value;
		mapping->unprivileged_port_start_location = parser_location(parser, tokens[0].column);
	}
	return 0;
}

static int parse_unknown_directive(struct parser *parser, const struct token *token)
{
	const char *suggestion;

	if (is_protocol_list(token->text, token->length))
		return parse_error(parser, token->column, "unknown directive '%.*s%s'; did you mean 'redirect %.*s%s'?",
				   QUOTE(token->text, token->length), QUOTE(token->text, token->length));
	/* The sysctl's own names: ip_unprivileged_port_start,
	 * net.ipv4.ip_unprivileged_port_start. */
	if (memmem(token->text, token->length, directives[1], strlen(directives[1])))
		suggestion = directives[1];
	else
		suggestion = suggest(token->text, token->length, directives, 2);
	if (suggestion)
		return parse_error(parser, token->column, "unknown directive '%.*s%s'; did you mean '%s'?",
				   QUOTE(token->text, token->length), suggestion);
	return parse_error(parser, token->column,
			   "unknown directive '%.*s%s'; expected 'redirect' or 'unprivileged_port_start'",
			   QUOTE(token->text, token->length));
}

enum byte_class {
	BYTE_INVALID,
	BYTE_WORD,
	BYTE_BLANK,
	BYTE_COMMENT,
};

/* One table lookup per byte: the parser spends most of its time here on a
 * file of every port. Everything not listed is invalid outside comments:
 * NUL, carriage returns, other control characters (an escape sequence in
 * a quoted word would reach the user's terminal) and non-ASCII bytes. */
static const unsigned char byte_classes[256] = {
	['\t'] = BYTE_BLANK,
	[' '] = BYTE_BLANK,
	['!' ... '"'] = BYTE_WORD,
	['#'] = BYTE_COMMENT,
	['$' ... '~'] = BYTE_WORD,
};

static int report_invalid_byte(struct parser *parser, unsigned char byte, unsigned int column)
{
	if (byte == '\0')
		return parse_error(parser, column, "NUL byte; a mapping file must be plain text");
	if (byte == '\r')
		return parse_error(parser, column,
				   "carriage return in the middle of a line; only \"\\r\\n\" line endings are accepted");
	if (byte >= 0x80)
		return parse_error(parser, column, "non-ASCII byte 0x%02x; only ASCII is allowed outside comments",
				   byte);
	return parse_error(parser, column, "control character 0x%02x; separate words with spaces or tabs", byte);
}

/* One line, without its line ending. A line with an invalid byte is
 * reported once, at that byte, and not parsed further: its words would be
 * guesses. */
static int parse_line(struct parser *parser, const char *start, const char *end)
{
	struct token tokens[MAX_TOKENS];
	const char *c;
	size_t count = 0;

	if ((size_t)(end - start) > CONFIG_MAX_LINE_LENGTH)
		return parse_error(parser, CONFIG_MAX_LINE_LENGTH + 1,
				   "line is longer than %d bytes; shorten it", CONFIG_MAX_LINE_LENGTH);
	for (c = start;;) {
		const char *word;

		while (c < end && byte_classes[(unsigned char)*c] == BYTE_BLANK)
			c++;
		if (c == end || byte_classes[(unsigned char)*c] == BYTE_COMMENT)
			break;
		if (byte_classes[(unsigned char)*c] == BYTE_INVALID)
			return report_invalid_byte(parser, (unsigned char)*c, (unsigned int)(c - start) + 1);
		word = c;
		while (c < end && byte_classes[(unsigned char)*c] == BYTE_WORD)
			c++;
		if (count < MAX_TOKENS)
			tokens[count++] = (struct token){
				.text = word,
				.length = (size_t)(c - word),
				.column = (unsigned int)(word - start) + 1,
			};
	}
	/* Comments may hold any text, but not NUL (which no text editor
	 * writes) nor a carriage return: a file with old Mac line endings
	 * would otherwise be one long comment. */
	for (; c < end; c++) {
		if (*c == '\0' || *c == '\r')
			return report_invalid_byte(parser, (unsigned char)*c, (unsigned int)(c - start) + 1);
	}
	if (count == 0)
		return 0;
	if (token_is(&tokens[0], "redirect"))
		return parse_redirect(parser, tokens, count);
	if (token_is(&tokens[0], "unprivileged_port_start"))
		return parse_unprivileged_port_start(parser, tokens, count);
	return parse_unknown_directive(parser, &tokens[0]);
}

/* file is the copy stored in the mapping. */
static int parse_text(const char *file, const char *buffer, size_t length, struct mapping *mapping,
		      struct diagnostics *diagnostics)
{
	struct parser parser = { .file = file, .mapping = mapping, .diagnostics = diagnostics };
	const char *cursor = buffer, *end = buffer + length;

	if (length > CONFIG_MAX_FILE_SIZE)
		return file_error(file, diagnostics, "file is larger than the limit of %u MiB",
				  CONFIG_MAX_FILE_SIZE >> 20);
	/* Windows editors write a byte-order mark; columns count from after
	 * it, as the user sees the line. */
	if (length >= 3 && !memcmp(buffer, "\xef\xbb\xbf", 3))
		cursor += 3;
	/* Past the limit errors are only counted, which is cheap: going on
	 * keeps the total in the summary true. */
	while (cursor < end) {
		const char *newline = memchr(cursor, '\n', (size_t)(end - cursor));
		const char *line_end = newline ? newline : end;
		int r;

		if (newline && line_end > cursor && line_end[-1] == '\r')
			line_end--;
		parser.line++;
		r = parse_line(&parser, cursor, line_end);
		if (r < 0)
			return r;
		cursor = newline ? newline + 1 : end;
	}
	return 0;
}

int config_parse_buffer(const char *name, const char *buffer, size_t length,
			struct mapping *mapping, struct diagnostics *diagnostics)
{
	const char *file = mapping_add_file(mapping, name);

	if (!file)
		return -ENOMEM;
	return parse_text(file, buffer, length, mapping, diagnostics);
}

static const char *file_type_name(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "a special file";
}

/* Reads all of a regular file. A size from fstat() is only a hint: procfs
 * says 0, and a file may grow while read. Returns 0 with *ret_buffer NULL
 * when a problem was reported on file. */
static int read_regular_file(int fd, const struct stat *status, const char *file,
			     struct diagnostics *diagnostics, char **ret_buffer, size_t *ret_length)
{
	size_t capacity, length = 0;
	char *buffer = NULL;
	bool too_large;
	int r = 0;

	*ret_buffer = NULL;
	too_large = (uintmax_t)status->st_size > CONFIG_MAX_FILE_SIZE;
	/* One byte more than the size, so that the end of file is seen by
	 * the first read() coming up short rather than by a regrowth. */
	capacity = status->st_size > 0 && !too_large ? (size_t)status->st_size + 1 : 4096;
	while (!too_large) {
		ssize_t count;

		if (!buffer || length == capacity) {
			size_t larger = !buffer ? capacity : capacity * 2;
			char *grown;

			if (larger > CONFIG_MAX_FILE_SIZE + 1)
				larger = CONFIG_MAX_FILE_SIZE + 1;
			grown = realloc(buffer, larger);
			if (!grown) {
				r = -ENOMEM;
				goto out;
			}
			buffer = grown;
			capacity = larger;
		}
		count = read(fd, buffer + length, capacity - length);
		if (count < 0 && errno == EINTR)
			continue;
		if (count < 0) {
			r = file_error(file, diagnostics, "cannot read: %s", strerror(errno));
			goto out;
		}
		if (count == 0) {
			*ret_buffer = buffer;
			*ret_length = length;
			return 0;
		}
		length += (size_t)count;
		too_large = length > CONFIG_MAX_FILE_SIZE;
	}
	r = file_error(file, diagnostics, "file is larger than the limit of %u MiB", CONFIG_MAX_FILE_SIZE >> 20);
out:
	free(buffer);
	return r;
}

static int parse_directory(int fd, const char *path, struct mapping *mapping, struct diagnostics *diagnostics);

static int string_compare(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Running as root, portredir refuses a mapping file, drop-in directory or
 * drop-in that another user could change, as sshd refuses such key files:
 * whoever can write the mapping decides what root's firewall redirects.
 * Checked on the open descriptor, so that a rename between the check and
 * the read changes nothing; the directories above are not checked (see
 * portredir.conf(5)). A write ACL shows in the group bits (its mask). */
static bool changeable_by_others(const struct stat *status)
{
	return geteuid() == 0 && (status->st_uid != 0 || (status->st_mode & (S_IWGRP | S_IWOTH)));
}

/* Says why file is refused. Returns 0 or -ENOMEM. */
static int report_changeable(const char *file, const struct stat *status, struct diagnostics *diagnostics)
{
	int r = 0;

	if (status->st_uid != 0)
		r = file_error(file, diagnostics, "is owned by uid %u, not root; run 'chown root %s'",
			       (unsigned int)status->st_uid, file);
	if (r >= 0 && (status->st_mode & (S_IWGRP | S_IWOTH)))
		r = file_error(file, diagnostics, "is writable by group or others (mode %04o); run 'chmod go-w %s'",
			       (unsigned int)(status->st_mode & 07777), file);
	return r;
}

/* Opens name relative to directory_fd and parses it; path is what the user
 * knows it as. O_NONBLOCK so that a FIFO does not hang the open, O_NOCTTY
 * so that a terminal does not become ours: both are then refused. */
static int parse_file_at(int directory_fd, const char *name, const char *path, bool top_level,
			 struct mapping *mapping, struct diagnostics *diagnostics)
{
	const char *file = NULL;
	char *buffer = NULL;
	struct stat status;
	size_t length = 0;
	int fd, r;

	fd = openat(directory_fd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &status) < 0) {
		int error = errno;

		file = mapping_add_file(mapping, path);
		r = file ? file_error(file, diagnostics, "cannot open: %s", strerror(error)) : -ENOMEM;
		goto out;
	}
	if (top_level && S_ISDIR(status.st_mode)) {
		if (changeable_by_others(&status)) {
			file = mapping_add_file(mapping, path);
			r = file ? report_changeable(file, &status, diagnostics) : -ENOMEM;
			goto out;
		}
		r = parse_directory(fd, path, mapping, diagnostics);
		fd = -1;
		goto out;
	}
	file = mapping_add_file(mapping, path);
	if (!file) {
		r = -ENOMEM;
		goto out;
	}
	if (!S_ISREG(status.st_mode)) {
		if (top_level)
			r = file_error(file, diagnostics,
				       "not a regular file but %s; give a mapping file or a directory of *.conf files",
				       file_type_name(status.st_mode));
		else
			r = file_error(file, diagnostics, "not a regular file but %s; only regular files are read",
				       file_type_name(status.st_mode));
		goto out;
	}
	if (changeable_by_others(&status)) {
		r = report_changeable(file, &status, diagnostics);
		goto out;
	}
	r = read_regular_file(fd, &status, file, diagnostics, &buffer, &length);
	if (r < 0 || !buffer)
		goto out;
	r = parse_text(file, buffer, length, mapping, diagnostics);
out:
	free(buffer);
	if (fd >= 0)
		close(fd);
	return r;
}

/* Every NAME.conf of the directory open as fd, in strcmp() order so that
 * 10-base.conf comes before 20-site.conf in every locale. Takes fd. */
static int parse_directory(int fd, const char *path, struct mapping *mapping, struct diagnostics *diagnostics)
{
	const char *separator = path[0] && path[strlen(path) - 1] == '/' ? "" : "/";
	size_t count = 0, capacity = 0;
	struct dirent *entry;
	char **names = NULL;
	const char *file;
	DIR *directory;
	int r = 0;

	directory = fdopendir(fd);
	if (!directory) {
		int error = errno;

		close(fd);
		file = mapping_add_file(mapping, path);
		return file ? file_error(file, diagnostics, "cannot read directory: %s", strerror(error)) : -ENOMEM;
	}
	for (;;) {
		size_t length;

		errno = 0;
		entry = readdir(directory);
		if (!entry)
			break;
		length = strlen(entry->d_name);
		/* Dot files are editor backups and package-manager leftovers
		 * (.rules.conf.swp, .#rules.conf). */
		if (entry->d_name[0] == '.' || length < 5 || strcmp(entry->d_name + length - 5, ".conf"))
			continue;
		if (count == capacity) {
			size_t larger = capacity ? capacity * 2 : 16;
			char **grown = realloc(names, larger * sizeof(*names));

			if (!grown) {
				r = -ENOMEM;
				goto out;
			}
			names = grown;
			capacity = larger;
		}
		names[count] = strdup(entry->d_name);
		if (!names[count]) {
			r = -ENOMEM;
			goto out;
		}
		count++;
	}
	if (errno) {
		int error = errno;

		file = mapping_add_file(mapping, path);
		r = file ? file_error(file, diagnostics, "cannot read directory: %s", strerror(error)) : -ENOMEM;
		goto out;
	}
	if (count == 0) {
		file = mapping_add_file(mapping, path);
		r = file ? file_error(file, diagnostics,
				      "directory has no *.conf files; put the mapping in a file whose name ends in '.conf'")
			 : -ENOMEM;
		goto out;
	}
	qsort(names, count, sizeof(*names), string_compare);
	for (size_t i = 0; i < count; i++) {
		size_t size = strlen(path) + strlen(separator) + strlen(names[i]) + 1;
		char *entry_path = malloc(size);

		if (!entry_path) {
			r = -ENOMEM;
			goto out;
		}
		strcpy(entry_path, path);
		strcat(entry_path, separator);
		strcat(entry_path, names[i]);
		r = parse_file_at(dirfd(directory), names[i], entry_path, false, mapping, diagnostics);
		free(entry_path);
		if (r < 0)
			goto out;
	}
out:
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	closedir(directory);
	return r;
}

int config_parse_path(const char *path, struct mapping *mapping, struct diagnostics *diagnostics)
{
	int r;

	r = parse_file_at(AT_FDCWD, path, path, true, mapping, diagnostics);
	if (r < 0)
		return r;
	return config_finish(mapping, diagnostics);
}

/* Diagnostics of the later passes are reported in file order, like those
 * of the parser, rather than in the (protocol, port) order the passes walk
 * the mapping in. A file ranks by its place in mapping->files; locations
 * point at those stored strings, so a binary search on the pointer finds
 * it even for a drop-in directory of thousands of files.
 *
 * Only the first PROBLEMS_KEPT of a kind, in file order, are kept (no more
 * are shown); the others are only counted. A mapping of every port has
 * some 130,000 "not needed" warnings, and keeping them all would cost more
 * memory than everything else portredir does with that mapping. */
#define PROBLEMS_KEPT 50
_Static_assert(PROBLEMS_KEPT >= DIAGNOSTICS_MAX_ERRORS && PROBLEMS_KEPT >= DIAGNOSTICS_MAX_WARNINGS,
	       "every problem that can be shown must be kept");

struct file_rank {
	const char *file;
	size_t rank;
};

struct problem {
	size_t file_rank;
	struct location location;
	size_t sequence;
	int kind;
	const struct redirect *redirect;
	/* For duplicates: the dropped redirect and where the kept one is. */
	struct redirect duplicate;
	struct location first;
};

struct problems {
	/* The smallest in file order, sorted. */
	struct problem items[PROBLEMS_KEPT];
	size_t kept;
	size_t total;
	const struct file_rank *ranks;
	size_t rank_count;
};

static int file_rank_compare(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const struct file_rank *)a)->file;
	uintptr_t y = (uintptr_t)((const struct file_rank *)b)->file;

	return x < y ? -1 : x > y;
}

static int problem_compare(const struct problem *x, const struct problem *y)
{
	if (x->file_rank != y->file_rank)
		return x->file_rank < y->file_rank ? -1 : 1;
	if (x->location.line != y->location.line)
		return x->location.line < y->location.line ? -1 : 1;
	if (x->location.column != y->location.column)
		return x->location.column < y->location.column ? -1 : 1;
	return x->sequence < y->sequence ? -1 : x->sequence > y->sequence;
}

/* The mapping's files, sorted by pointer for problems_file_rank(). */
static int file_ranks_new(const struct mapping *mapping, struct file_rank **ret_ranks)
{
	struct file_rank *ranks;

	*ret_ranks = NULL;
	if (!mapping->file_count)
		return 0;
	ranks = malloc(mapping->file_count * sizeof(*ranks));
	if (!ranks)
		return -ENOMEM;
	for (size_t i = 0; i < mapping->file_count; i++)
		ranks[i] = (struct file_rank){ .file = mapping->files[i], .rank = i };
	qsort(ranks, mapping->file_count, sizeof(*ranks), file_rank_compare);
	*ret_ranks = ranks;
	return 0;
}

static void problems_init(struct problems *problems, const struct file_rank *ranks, size_t rank_count)
{
	problems->kept = problems->total = 0;
	problems->ranks = ranks;
	problems->rank_count = rank_count;
}

/* Files not in the mapping's list (NULL for the kernel, a literal in a
 * test) rank last. */
static size_t problems_file_rank(const struct problems *problems, const char *file)
{
	const struct file_rank key = { .file = file };
	const struct file_rank *found;

	if (!file || !problems->rank_count)
		return SIZE_MAX;
	found = bsearch(&key, problems->ranks, problems->rank_count, sizeof(*problems->ranks), file_rank_compare);
	return found ? found->rank : SIZE_MAX;
}

/* Counts a problem and returns the slot to fill in, or NULL when it is
 * not among the first PROBLEMS_KEPT in file order. Passes walk sorted
 * mappings of files usually written in port order, so the common case is
 * an append. */
static struct problem *problems_add(struct problems *problems, const struct location *location)
{
	struct problem candidate = {
		.file_rank = problems_file_rank(problems, location->file),
		.location = *location,
		.sequence = problems->total++,
	};
	size_t position = problems->kept;

	while (position > 0 && problem_compare(&candidate, &problems->items[position - 1]) < 0)
		position--;
	if (position == PROBLEMS_KEPT)
		return NULL;
	if (problems->kept == PROBLEMS_KEPT)
		problems->kept--;
	memmove(&problems->items[position + 1], &problems->items[position],
		(problems->kept - position) * sizeof(problems->items[0]));
	problems->kept++;
	problems->items[position] = candidate;
	return &problems->items[position];
}

static const char *file_or_dash(const char *file)
{
	return file ? file : "-";
}

int config_finish(struct mapping *mapping, struct diagnostics *diagnostics)
{
	struct file_rank *ranks = NULL;
	struct problems problems;
	size_t kept = 0;
	int r;

	mapping_sort(mapping);
	r = file_ranks_new(mapping, &ranks);
	if (r < 0)
		goto out;
	problems_init(&problems, ranks, mapping->file_count);
	/* The sort is stable, so the first of equal keys is the one declared
	 * first; the others are dropped from the mapping once reported. */
	for (size_t i = 0; i < mapping->redirect_count; i++) {
		struct redirect *redirect = &mapping->redirects[i];

		if (kept && !redirect_compare(&mapping->redirects[kept - 1], redirect)) {
			struct problem *problem = problems_add(&problems, &redirect->location);

			if (problem) {
				problem->duplicate = *redirect;
				problem->first = mapping->redirects[kept - 1].location;
			}
			continue;
		}
		mapping->redirects[kept++] = *redirect;
	}
	mapping->redirect_count = kept;
	for (size_t i = 0; i < problems.kept; i++) {
		const struct problem *problem = &problems.items[i];

		r = diagnostics_add(diagnostics, SEVERITY_ERROR, &problem->location,
				    "duplicate redirect for %s port %u; first defined at %s:%u:%u",
				    protocol_name(problem->duplicate.protocol), problem->duplicate.port,
				    file_or_dash(problem->first.file), problem->first.line, problem->first.column);
		if (r < 0)
			goto out;
	}
	diagnostics_count_dropped(diagnostics, SEVERITY_ERROR, problems.total - problems.kept);
out:
	free(ranks);
	return r;
}

enum validation_problem {
	START_ABOVE_LOCAL_RANGE,
	TARGET_PRIVILEGED,
	PORT_UNPRIVILEGED,
};

static int report_validation_problem(const struct problem *problem, const struct mapping *mapping,
				     const struct config_kernel *kernel, struct diagnostics *diagnostics)
{
	const struct location *declared = &mapping->unprivileged_port_start_location;
	unsigned int start = mapping->has_unprivileged_port_start ? mapping->unprivileged_port_start
								  : kernel->unprivileged_port_start;

	switch (problem->kind) {
	case START_ABOVE_LOCAL_RANGE:
		return diagnostics_add(diagnostics, SEVERITY_ERROR, &problem->location,
				       "unprivileged_port_start %u is above %u, the first port of net.ipv4.ip_local_port_range, and the kernel refuses that; use a value of at most %u",
				       start, kernel->local_port_first, kernel->local_port_first);
	case TARGET_PRIVILEGED:
		if (mapping->has_unprivileged_port_start)
			return diagnostics_add(diagnostics, SEVERITY_ERROR, &problem->location,
					       "target port %u is below unprivileged_port_start %u (declared at %s:%u:%u), so a non-root service cannot bind it; use a target of at least %u or lower unprivileged_port_start",
					       problem->redirect->target, start, file_or_dash(declared->file),
					       declared->line, declared->column, start);
		return diagnostics_add(diagnostics, SEVERITY_ERROR, &problem->location,
				       "target port %u is below %u, the current net.ipv4.ip_unprivileged_port_start, so a non-root service cannot bind it; use a target of at least %u or declare a lower unprivileged_port_start",
				       problem->redirect->target, start, start);
	default:
		if (mapping->has_unprivileged_port_start)
			return diagnostics_add(diagnostics, SEVERITY_WARNING, &problem->location,
					       "port %u is at or above unprivileged_port_start %u (declared at %s:%u:%u), so any service can bind it directly; this redirect is not needed",
					       problem->redirect->port, start, file_or_dash(declared->file),
					       declared->line, declared->column);
		return diagnostics_add(diagnostics, SEVERITY_WARNING, &problem->location,
				       "port %u is at or above %u, the current net.ipv4.ip_unprivileged_port_start, so any service can bind it directly; this redirect is not needed",
				       problem->redirect->port, start);
	}
}

/* "redirect tcp,udp 80 to 8" is two redirects with one target token: its
 * udp half repeats what its tcp half reported. */
static bool same_line_as_tcp(const struct mapping *mapping, const struct redirect *redirect)
{
	const struct redirect *tcp;

	if (redirect->protocol != PROTOCOL_UDP || !redirect->location.file)
		return false;
	tcp = mapping_find(mapping, PROTOCOL_TCP, redirect->port);
	return tcp && tcp->target == redirect->target && tcp->location.file == redirect->location.file &&
	       tcp->location.line == redirect->location.line && tcp->location.column == redirect->location.column;
}

int config_validate(const struct mapping *mapping, const struct config_kernel *kernel,
		    struct diagnostics *diagnostics)
{
	unsigned int start = mapping->has_unprivileged_port_start ? mapping->unprivileged_port_start
								  : kernel->unprivileged_port_start;
	struct problems errors, warnings;
	struct file_rank *ranks = NULL;
	size_t i = 0, j = 0;
	int r;

	r = file_ranks_new(mapping, &ranks);
	if (r < 0)
		return r;
	problems_init(&errors, ranks, mapping->file_count);
	problems_init(&warnings, ranks, mapping->file_count);
	if (mapping->has_unprivileged_port_start && mapping->unprivileged_port_start > kernel->local_port_first) {
		struct problem *problem = problems_add(&errors, &mapping->unprivileged_port_start_location);

		if (problem)
			problem->kind = START_ABOVE_LOCAL_RANGE;
	}
	for (size_t k = 0; k < mapping->redirect_count; k++) {
		const struct redirect *redirect = &mapping->redirects[k];
		struct problem *problem;

		if ((redirect->target < start || redirect->port >= start) && same_line_as_tcp(mapping, redirect))
			continue;
		if (redirect->target < start) {
			const struct location target = redirect_target_location(redirect);

			problem = problems_add(&errors, &target);
			if (problem) {
				problem->kind = TARGET_PRIVILEGED;
				problem->redirect = redirect;
			}
		}
		if (redirect->port >= start) {
			const struct location port = redirect_port_location(redirect);

			problem = problems_add(&warnings, &port);
			if (problem) {
				problem->kind = PORT_UNPRIVILEGED;
				problem->redirect = redirect;
			}
		}
	}
	/* Errors and warnings together in file order, as a compiler says them. */
	while (r >= 0 && (i < errors.kept || j < warnings.kept)) {
		const struct problem *problem;

		if (j == warnings.kept || (i < errors.kept && problem_compare(&errors.items[i], &warnings.items[j]) <= 0))
			problem = &errors.items[i++];
		else
			problem = &warnings.items[j++];
		r = report_validation_problem(problem, mapping, kernel, diagnostics);
	}
	diagnostics_count_dropped(diagnostics, SEVERITY_ERROR, errors.total - errors.kept);
	diagnostics_count_dropped(diagnostics, SEVERITY_WARNING, warnings.total - warnings.kept);
	free(ranks);
	return r;
}
