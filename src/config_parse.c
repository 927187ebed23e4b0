/* The mapping-file grammar: splits lines into tokens, parses the
 * directives into the mapping, and words each syntax error with a fix. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "config_internal.h"
#include "util.h"

/* A redirect line has five tokens, a scope up to three and an owner
 * clause up to three; the rest are only looked at to report them. */
#define MAX_TOKENS 16
#define PORT_MAX 65535u
/* Room for the longest service name a suggestion can be. */
#define SERVICE_SUGGESTION_MAX 65

#define PROTOCOLS_EXPECTED "expected 'tcp', 'udp' or 'tcp,udp'"

/* The words of the language, each spelled here once: the directives a line
 * starts with, and the word between a redirect's port and its target. The
 * protocols are mapping.c's. */
enum directive {
	DIRECTIVE_REDIRECT,
	DIRECTIVE_UNPRIVILEGED_PORT_START,
	DIRECTIVE_COUNT
};

static const char *const directive_names[DIRECTIVE_COUNT] = {
	[DIRECTIVE_REDIRECT] = "redirect",
	[DIRECTIVE_UNPRIVILEGED_PORT_START] = "unprivileged_port_start",
};
static const char *const to_keyword[] = { "to" };

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

static const char *suggest_protocol(const char *word, size_t length)
{
	const char *names[PROTOCOL_COUNT];

	for (int i = 0; i < PROTOCOL_COUNT; i++)
		names[i] = protocol_name((enum protocol)i);
	return suggest_word(word, length, names, PROTOCOL_COUNT);
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
		return config_reported(parse_error(parser, token->column,
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
			return config_reported(parse_error(parser, token->column,
						    "invalid %s '%.*s%s': only decimal numbers are allowed; write %u",
						    noun, QUOTE(text, length), value));
		return config_reported(parse_error(parser, token->column,
					    "invalid %s '%.*s%s': only decimal numbers are allowed; expected a number from %u to %u",
					    noun, QUOTE(text, length), minimum, PORT_MAX));
	}
	if (text[0] < '0' || text[0] > '9')
		return config_reported(parse_error(parser, token->column,
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
		return config_reported(parse_error(parser, token->column + (unsigned int)i,
					    "invalid %s '%.*s%s': unexpected '%c'; expected a number from %u to %u",
					    noun, QUOTE(text, length), text[i], minimum, PORT_MAX));
	if (value < minimum || value > PORT_MAX)
		return config_reported(parse_error(parser, token->column,
					    "invalid %s '%.*s%s': out of range; expected a number from %u to %u",
					    noun, QUOTE(text, length), minimum, PORT_MAX));
	/* Leading zeros read as octal in some tools; refusing them keeps
	 * "080" from meaning different ports to different readers. */
	if (text[0] == '0' && length > 1)
		return config_reported(parse_error(parser, token->column,
					    "invalid %s '%.*s%s': leading zeros are not allowed; write %u",
					    noun, QUOTE(text, length), value));
	*ret_value = value;
	return 0;
}

/* A PORT or TARGET as written: one port (first == last), or a range. */
struct port_range {
	unsigned int first;
	unsigned int last;
	bool range;
};

static unsigned int range_length(const struct port_range *range)
{
	return range->last - range->first + 1;
}

static bool is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A service name, looked up for every protocol of the redirect: they must
 * all know it, as the same port. */
static int parse_service(struct parser *parser, const struct token *token, const bool protocols[PROTOCOL_COUNT],
			 const char *noun, unsigned int *ret_port)
{
	unsigned int ports[PROTOCOL_COUNT] = { 0 };
	bool known[PROTOCOL_COUNT] = { false }, any = false, all = true;
	enum protocol first = PROTOCOL_COUNT, missing = PROTOCOL_COUNT, other = PROTOCOL_COUNT;
	char suggestion[SERVICE_SUGGESTION_MAX];
	int r;

	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		if (!protocols[i])
			continue;
		if (first == PROTOCOL_COUNT)
			first = (enum protocol)i;
		known[i] = config_service_port(token->text, token->length, (enum protocol)i, &ports[i]) == 0;
		any |= known[i];
		all &= known[i];
		if (!known[i] && missing == PROTOCOL_COUNT)
			missing = (enum protocol)i;
		if (known[i] && other == PROTOCOL_COUNT)
			other = (enum protocol)i;
	}
	/* The protocol list was wrong, and said so: no name can be looked up. */
	if (first == PROTOCOL_COUNT)
		return -EINVAL;
	if (!any) {
		r = config_service_suggest(token->text, token->length, first, suggestion, sizeof(suggestion));
		if (r < 0)
			return r;
		if (suggestion[0])
			return config_reported(parse_error(parser, token->column,
						    "unknown service name '%.*s%s' for %s; did you mean '%s'?",
						    QUOTE(token->text, token->length), protocol_name(first), suggestion));
		return config_reported(parse_error(parser, token->column,
					    "unknown service name '%.*s%s' for %s; write the %s as a number, or use a name from /etc/services",
					    QUOTE(token->text, token->length), protocol_name(first), noun));
	}
	if (!all)
		return config_reported(parse_error(parser, token->column,
					    "service name '%.*s%s' is known for %s (port %u) but not for %s; write the number %u, or redirect %s alone",
					    QUOTE(token->text, token->length), protocol_name(other), ports[other],
					    protocol_name(missing), ports[other], protocol_name(other)));
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		if (known[i] && ports[i] != ports[first])
			return config_reported(parse_error(parser, token->column,
						    "service name '%.*s%s' is port %u for %s but %u for %s; write the number",
						    QUOTE(token->text, token->length), ports[first], protocol_name(first),
						    ports[i], protocol_name((enum protocol)i)));
	}
	*ret_port = ports[first];
	return 0;
}

/* PORT, FIRST-LAST or a service name. Names may hold '-' themselves
 * ("kerberos-adm"), so a range is of numbers only. */
static int parse_ports(struct parser *parser, const struct token *token, const bool protocols[PROTOCOL_COUNT],
		       const char *noun, struct port_range *ret_range)
{
	const char *dash = memchr(token->text, '-', token->length);
	struct token first, last;
	int r, e;

	*ret_range = (struct port_range){ 0 };
	if (is_letter(token->text[0])) {
		r = parse_service(parser, token, protocols, noun, &ret_range->first);
		ret_range->last = ret_range->first;
		return r;
	}
	if (!dash || dash == token->text) {
		r = parse_number(parser, token, noun, 1, &ret_range->first);
		ret_range->last = ret_range->first;
		return r;
	}
	first = (struct token){ .text = token->text, .length = (size_t)(dash - token->text), .column = token->column };
	last = (struct token){
		.text = dash + 1,
		.length = token->length - first.length - 1,
		.column = token->column + (unsigned int)first.length + 1,
	};
	if (!last.length)
		return config_reported(parse_error(parser, token->column,
					    "incomplete %s range '%.*s%s'; write FIRST-LAST, as 8000-8099",
					    noun, QUOTE(token->text, token->length)));
	r = parse_number(parser, &first, noun, 1, &ret_range->first);
	if (r == -ENOMEM)
		return r;
	e = parse_number(parser, &last, noun, 1, &ret_range->last);
	if (e < 0)
		return e;
	if (r < 0)
		return r;
	if (ret_range->last < ret_range->first)
		return config_reported(parse_error(parser, token->column,
					    "%s range '%.*s%s' runs backwards; write %u-%u", noun,
					    QUOTE(token->text, token->length), ret_range->last, ret_range->first));
	ret_range->range = true;
	return 0;
}

/* The port and target as a whole: lengths that pair, no port redirected
 * to itself. Returns 0, -EINVAL once reported, or -ENOMEM. */
static int check_pairing(struct parser *parser, const struct token *port_token, const struct token *target_token,
			 const struct port_range *port, const struct port_range *target)
{
	if (target->range && !port->range)
		return config_reported(parse_error(parser, target_token->column,
					    "target range '%.*s%s' for the single port %u; give a port range of the same length, or one target port",
					    QUOTE(target_token->text, target_token->length), port->first));
	if (target->range && range_length(target) != range_length(port))
		return config_reported(parse_error(parser, target_token->column,
					    "target range '%.*s%s' has %u ports but port range '%.*s%s' has %u; give ranges of the same length, or one target port",
					    QUOTE(target_token->text, target_token->length), range_length(target),
					    QUOTE(port_token->text, port_token->length), range_length(port)));
	if (!port->range && port->first == target->first)
		return config_reported(parse_error(parser, target_token->column,
					    "target port %u is the same as the port; a redirect to itself does nothing, remove the line",
					    target->first));
	if (target->range && port->first == target->first)
		return config_reported(parse_error(parser, target_token->column,
					    "target range %u-%u is the same as the port range; a redirect to itself does nothing, remove the line",
					    target->first, target->last));
	if (port->range && !target->range && target->first >= port->first && target->first <= port->last)
		return config_reported(parse_error(parser, target_token->column,
					    "target port %u is inside the port range %u-%u, so port %u would redirect to itself; split the range around it",
					    target->first, port->first, port->last, target->first));
	return 0;
}

/* Parses "tcp", "udp" or a comma list of both. Reports the first problem
 * of the list only: the ones after it are usually the same typo. */
static int parse_protocols(struct parser *parser, const struct token *token,
			   bool ret_protocols[PROTOCOL_COUNT])
{
	const char *end = token->text + token->length;

	for (const char *element = token->text; element <= end;) {
		const char *comma = memchr(element, ',', (size_t)(end - element));
		const char *element_end = comma ? comma : end;
		size_t length = (size_t)(element_end - element);
		unsigned int column = token->column + (unsigned int)(element - token->text);
		enum protocol protocol;
		const char *suggestion;

		if (length == 0 && element == end)
			return config_reported(parse_error(parser, column - 1,
						    "trailing comma in protocol list '%.*s%s'; remove it",
						    QUOTE(token->text, token->length)));
		if (length == 0)
			return config_reported(parse_error(parser, column,
						    "empty protocol in list '%.*s%s'; remove the extra comma",
						    QUOTE(token->text, token->length)));
		if (protocol_from_name(element, length, &protocol) < 0) {
			suggestion = suggest_protocol(element, length);
			if (suggestion)
				return config_reported(parse_error(parser, column,
							    "unknown protocol '%.*s%s'; did you mean '%s'?",
							    QUOTE(element, length), suggestion));
			return config_reported(parse_error(parser, column, "unknown protocol '%.*s%s'; " PROTOCOLS_EXPECTED,
						    QUOTE(element, length)));
		}
		if (ret_protocols[protocol])
			return config_reported(parse_error(parser, column,
						    "protocol '%s' is listed twice in '%.*s%s'; list it once",
						    protocol_name(protocol), QUOTE(token->text, token->length)));
		ret_protocols[protocol] = true;
		element = element_end + 1;
	}
	return 0;
}

/* parse_number() of tokens[index], the number a directive needs there. A
 * line that ends before it is reported as "missing WHAT" after its last
 * token, and -ENODATA returned: the directive stops there. */
static int parse_number_at(struct parser *parser, const struct token *tokens, size_t count, size_t index,
			   const char *what, const char *noun, unsigned int minimum, unsigned int *ret_value)
{
	if (index >= count) {
		int r = parse_error(parser, column_after(&tokens[index - 1]),
				    "missing %s; expected a number from %u to %u", what, minimum, PORT_MAX);

		return r < 0 ? r : -ENODATA;
	}
	return parse_number(parser, &tokens[index], noun, minimum, ret_value);
}

/* parse_ports() of tokens[index], which must be there (as for
 * parse_number_at()). */
static int parse_ports_at(struct parser *parser, const struct token *tokens, size_t count, size_t index,
			  const bool protocols[PROTOCOL_COUNT], const char *what, const char *noun,
			  struct port_range *ret_range)
{
	if (index >= count) {
		int r = parse_error(parser, column_after(&tokens[index - 1]),
				    "missing %s; expected a number from 1 to %u", what, PORT_MAX);

		return r < 0 ? r : -ENODATA;
	}
	return parse_ports(parser, &tokens[index], protocols, noun, ret_range);
}

/* What a directive returns after a step that ended it (-ENODATA) or ran
 * out of memory. */
static int directive_ended(int r)
{
	return r == -ENOMEM ? r : 0;
}

/* Words after the last one a directive takes: reported at the first. */
int config_report_trailing(struct parser *parser, const struct token *token, const char *after)
{
	return parse_error(parser, token->column, "unexpected '%.*s%s' after %s; a comment must start with '#'",
			   QUOTE(token->text, token->length), after);
}

static struct location parser_location(const struct parser *parser, unsigned int column)
{
	return (struct location){ .file = parser->file, .line = parser->line, .column = column };
}

/* redirect PROTOS PORT to TARGET [CLAUSES]. Each token is checked even
 * after an error in an earlier one, so that one run shows every typo of
 * the line; a missing token ends the line. A range is stored as one
 * redirect per port. */
static int parse_redirect(struct parser *parser, const struct token *tokens, size_t count)
{
	bool protocols[PROTOCOL_COUNT] = { false };
	bool valid, port_valid, target_valid;
	struct port_range port, target;
	struct config_clauses clauses = { .owner = NULL };
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

	if (count > 2 && (tokens[2].text[0] < '0' || tokens[2].text[0] > '9') &&
	    is_protocol_list(tokens[2].text, tokens[2].length))
		return parse_error(parser, tokens[2].column,
				   "expected a port, found protocol '%.*s%s'; list protocols with commas and no spaces, as 'tcp,udp'",
				   QUOTE(tokens[2].text, tokens[2].length));
	r = parse_ports_at(parser, tokens, count, 2, protocols, "port after the protocol", "port", &port);
	if (r == -ENODATA || r == -ENOMEM)
		return directive_ended(r);
	port_valid = r == 0;

	if (count < 4)
		return parse_error(parser, column_after(&tokens[2]), "missing 'to' after the port");
	if (!token_is(&tokens[3], to_keyword[0])) {
		/* "redirect tcp 80 8080": 'to' left out, not misspelt. */
		if (count == 4 && token_is_digits(&tokens[3]))
			return parse_error(parser, tokens[3].column, "missing 'to' before the target port '%.*s%s'",
					   QUOTE(tokens[3].text, tokens[3].length));
		if (suggest_word(tokens[3].text, tokens[3].length, to_keyword, 1))
			r = parse_error(parser, tokens[3].column, "unknown word '%.*s%s' after the port; did you mean 'to'?",
					QUOTE(tokens[3].text, tokens[3].length));
		else
			r = parse_error(parser, tokens[3].column, "expected 'to' after the port, found '%.*s%s'",
					QUOTE(tokens[3].text, tokens[3].length));
		if (r < 0)
			return r;
		valid = false;
	}

	r = parse_ports_at(parser, tokens, count, 4, protocols, "target port after 'to'", "target port", &target);
	if (r == -ENODATA || r == -ENOMEM)
		return directive_ended(r);
	target_valid = r == 0;

	r = config_parse_clauses(parser, tokens, count, &clauses, &valid);
	if (r < 0)
		return r;
	if (port_valid && target_valid) {
		r = check_pairing(parser, &tokens[2], &tokens[4], &port, &target);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			valid = false;
	}
	if (!valid || !port_valid || !target_valid)
		return 0;

	/* Columns are kept in 16 bits (struct redirect). */
	_Static_assert(CONFIG_MAX_LINE_LENGTH + 4 < UINT16_MAX, "columns must fit in uint16_t");
	for (int protocol = 0; protocol < PROTOCOL_COUNT; protocol++) {
		if (!protocols[protocol])
			continue;
		for (unsigned int p = port.first; p <= port.last; p++) {
			struct redirect redirect = {
				.protocol = (enum protocol)protocol,
				.port = (uint16_t)p,
				.target = (uint16_t)(target.range ? target.first + (p - port.first) : target.first),
				.location = parser_location(parser, tokens[0].column),
				.port_column = (uint16_t)tokens[2].column,
				.target_column = (uint16_t)tokens[4].column,
				.owner = clauses.owner,
				.scope = clauses.scope,
				.scope_column = clauses.scope_column,
			};

			r = mapping_add_redirect(parser->mapping, &redirect);
			if (r < 0)
				return r;
		}
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
	r = parse_number_at(parser, tokens, count, 1, "value after 'unprivileged_port_start'",
			    "unprivileged_port_start value", 0, &value);
	if (r == -ENODATA || r == -ENOMEM)
		return directive_ended(r);
	if (count > 2) {
		int e = config_report_trailing(parser, &tokens[2], "the value");

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
	const char *sysctl_word = directive_names[DIRECTIVE_UNPRIVILEGED_PORT_START];
	const char *suggestion;

	if (is_protocol_list(token->text, token->length))
		return parse_error(parser, token->column, "unknown directive '%.*s%s'; did you mean 'redirect %.*s%s'?",
				   QUOTE(token->text, token->length), QUOTE(token->text, token->length));
	/* The sysctl's own names: ip_unprivileged_port_start,
	 * net.ipv4.ip_unprivileged_port_start. */
	if (memmem(token->text, token->length, sysctl_word, strlen(sysctl_word)))
		suggestion = sysctl_word;
	else
		suggestion = suggest_word(token->text, token->length, directive_names, DIRECTIVE_COUNT);
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
	if (token_is(&tokens[0], directive_names[DIRECTIVE_REDIRECT]))
		return parse_redirect(parser, tokens, count);
	if (token_is(&tokens[0], directive_names[DIRECTIVE_UNPRIVILEGED_PORT_START]))
		return parse_unprivileged_port_start(parser, tokens, count);
	return parse_unknown_directive(parser, &tokens[0]);
}

int config_parse_text(const char *file, const char *buffer, size_t length, struct mapping *mapping,
		      struct diagnostics *diagnostics)
{
	struct parser parser = { .file = file, .mapping = mapping, .diagnostics = diagnostics };
	const char *cursor = buffer, *end = buffer + length;

	if (length > CONFIG_MAX_FILE_SIZE)
		return file_too_large_error(file, diagnostics);
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
	return config_parse_text(file, buffer, length, mapping, diagnostics);
}
