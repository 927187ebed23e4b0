/* The owner clause's grammar: "for UNIT" (a systemd unit name, checked as
 * systemd checks it) or "for cgroup PATH" (a cgroup v2 path from the
 * hierarchy's root), each error worded with a fix. */
#include <errno.h>
#include <string.h>
#include "config_internal.h"
#include "util.h"

#define OWNER_EXAMPLES "expected a unit such as 'nginx.service', or 'cgroup /PATH'"

/* The unit types that have a control group an owner can name. */
static const char *const owner_unit_types[] = { "service", "scope", "slice" };
#define OWNER_UNIT_TYPE_COUNT (sizeof(owner_unit_types) / sizeof(owner_unit_types[0]))
/* The others systemd knows: named in an owner clause, they get a hint. */
static const char *const other_unit_types[] = {
	"socket", "target", "device", "mount", "automount", "swap", "timer", "path",
};
#define OTHER_UNIT_TYPE_COUNT (sizeof(other_unit_types) / sizeof(other_unit_types[0]))
/* Words a user may try in place of a unit, for what nftables cannot do. */
static const char *const identity_words[] = { "user", "uid", "group", "gid" };
#define IDENTITY_WORD_COUNT (sizeof(identity_words) / sizeof(identity_words[0]))

static bool is_one_of(const char *text, size_t length, const char *const *words, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (strlen(words[i]) == length && !memcmp(text, words[i], length))
			return true;
	}
	return false;
}

/* systemd's unit name characters (unit-name.c's VALID_CHARS), '@' apart. */
static bool unit_name_character(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
	       c == '-' || c == '_' || c == '.' || c == '\\';
}

static unsigned int column_of(const struct token *token, const char *character)
{
	return token->column + (unsigned int)(character - token->text);
}

static int unit_error(struct parser *parser, const struct token *token, unsigned int column, const char *detail)
{
	return config_reported(parse_error(parser, column, "invalid unit name '%.*s%s': %s",
					   QUOTE(token->text, token->length), detail));
}

/* NAME.TYPE, NAME[@INSTANCE].TYPE; a slice's NAME is its path in the
 * slice tree, dash-separated, so it neither starts nor ends with a dash
 * nor has two in a row ("-.slice", the root, is refused as "/" is). */
static int parse_unit(struct parser *parser, const struct token *token, const struct owner **ret_owner)
{
	const char *text = token->text, *dot, *at;
	size_t length = token->length, stem;
	const char *suggestion;

	if (length > OWNER_TEXT_MAX)
		return config_reported(parse_error(parser, token->column,
						   "unit name '%.*s%s' is longer than %d bytes, the most the kernel's table records",
						   QUOTE(text, length), OWNER_TEXT_MAX));
	dot = memrchr(text, '.', length);
	if (!dot || dot == text + length - 1) {
		if (!dot && is_one_of(text, length, identity_words, IDENTITY_WORD_COUNT))
			return config_reported(parse_error(parser, token->column,
							   "an owner is a unit or a cgroup, not a %.*s: nftables cannot match the user of the socket that receives a connection; name the service, as 'for NAME.service'",
							   (int)length, text));
		return config_reported(parse_error(parser, token->column,
						   "owner '%.*s%s' is not a unit name; did you mean '%.*s%s.service'?",
						   QUOTE(text, length), QUOTE(text, dot ? length - 1 : length)));
	}
	stem = (size_t)(dot - text);
	if (!is_one_of(dot + 1, length - stem - 1, owner_unit_types, OWNER_UNIT_TYPE_COUNT)) {
		size_t type_length = length - stem - 1;

		if (is_one_of(dot + 1, type_length, other_unit_types, OTHER_UNIT_TYPE_COUNT))
			return config_reported(parse_error(parser, token->column,
							   "'%.*s%s' is a %.*s unit, which has no control group of its own to own a port; name a .service, .scope or .slice (for a socket-activated service, its .service)",
							   QUOTE(text, length), (int)type_length, dot + 1));
		suggestion = suggest_word(dot + 1, type_length, owner_unit_types, OWNER_UNIT_TYPE_COUNT);
		if (suggestion)
			return config_reported(parse_error(parser, column_of(token, dot + 1),
							   "unknown unit type '.%.*s%s' in '%.*s%s'; did you mean '%.*s%s.%s'?",
							   QUOTE(dot + 1, type_length), QUOTE(text, length),
							   QUOTE(text, stem), suggestion));
		return config_reported(parse_error(parser, column_of(token, dot + 1),
						   "unknown unit type '.%.*s%s' in '%.*s%s'; an owner is a unit whose name ends in '.service', '.scope' or '.slice'",
						   QUOTE(dot + 1, type_length), QUOTE(text, length)));
	}
	if (!stem)
		return unit_error(parser, token, token->column, "the name before the type is empty");
	for (size_t i = 0; i < stem; i++) {
		if (text[i] != '@' && !unit_name_character(text[i]))
			return config_reported(parse_error(parser, column_of(token, text + i),
							   "invalid character '%c' in unit name '%.*s%s'; systemd writes it escaped, as 'systemd-escape' prints it",
							   text[i], QUOTE(text, length)));
	}
	at = memchr(text, '@', stem);
	if (at) {
		const char *second = memchr(at + 1, '@', (size_t)(dot - at - 1));

		if (at == text)
			return unit_error(parser, token, token->column, "the name before '@' is empty");
		if (second)
			return unit_error(parser, token, column_of(token, second), "it has more than one '@'");
		if (at + 1 == dot)
			return config_reported(parse_error(parser, token->column,
							   "'%.*s%s' is a template, which has no control group; name an instance, as '%.*sNAME%.*s'",
							   QUOTE(text, length), (int)(at + 1 - text), text,
							   (int)(length - stem), dot));
	}
	if (length - stem - 1 == strlen("slice") && !memcmp(dot + 1, "slice", strlen("slice"))) {
		if (stem == 1 && text[0] == '-')
			return config_reported(parse_error(parser, token->column,
							   "'-.slice' is the root slice, which holds every process; name a unit below it"));
		if (text[0] == '-' || text[stem - 1] == '-' || memmem(text, stem, "--", 2))
			return unit_error(parser, token, token->column,
					  "a slice's name is the path of slices above it joined by single dashes, as 'system-web.slice'");
	}
	*ret_owner = mapping_intern_owner(parser->mapping, OWNER_UNIT, text, length);
	return *ret_owner ? 0 : -ENOMEM;
}

/* An absolute path of names without '.' or '..' components, empty ones or
 * a trailing slash: it names one directory below the hierarchy's root. */
static int parse_cgroup_path(struct parser *parser, const struct token *token, const struct owner **ret_owner)
{
	const size_t limit = OWNER_TEXT_MAX - strlen(OWNER_CGROUP_PREFIX);
	const char *text = token->text, *end = token->text + token->length;

	if (token->length > limit)
		return config_reported(parse_error(parser, token->column,
						   "cgroup path '%.*s%s' is longer than %zu bytes, the most the kernel's table records",
						   QUOTE(text, token->length), limit));
	if (text[0] != '/')
		return config_reported(parse_error(parser, token->column,
						   "cgroup path '%.*s%s' is not absolute; write it from the hierarchy's root, as '/%.*s%s'",
						   QUOTE(text, token->length), QUOTE(text, token->length)));
	if (token->length == 1)
		return config_reported(parse_error(parser, token->column,
						   "the root cgroup '/' holds every process; name a group below it"));
	for (const char *component = text + 1; component <= end;) {
		const char *slash = memchr(component, '/', (size_t)(end - component));
		const char *component_end = slash ? slash : end;
		size_t length = (size_t)(component_end - component);
		unsigned int column = token->column + (unsigned int)(component - text);

		if (!length && component == end)
			return config_reported(parse_error(parser, column - 1,
							   "trailing '/' in cgroup path '%.*s%s'; remove it",
							   QUOTE(text, token->length)));
		if (!length)
			return config_reported(parse_error(parser, column,
							   "empty component in cgroup path '%.*s%s'; remove the extra '/'",
							   QUOTE(text, token->length)));
		if ((length == 1 && component[0] == '.') || (length == 2 && !memcmp(component, "..", 2)))
			return config_reported(parse_error(parser, column,
							   "'%.*s' in cgroup path '%.*s%s'; write the path from the root without '.' or '..'",
							   (int)length, component, QUOTE(text, token->length)));
		component = component_end + 1;
	}
	*ret_owner = mapping_intern_owner(parser->mapping, OWNER_CGROUP, text, token->length);
	return *ret_owner ? 0 : -ENOMEM;
}

int config_parse_owner(struct parser *parser, const struct token *tokens, size_t count, size_t index,
		       const struct owner **ret_owner, size_t *ret_used)
{
	const struct token *owner;

	*ret_used = 1;
	if (index + 1 >= count)
		return config_reported(parse_error(parser, column_after(&tokens[index]),
						   "missing owner after 'for'; " OWNER_EXAMPLES));
	owner = &tokens[index + 1];
	*ret_used = 2;
	if (token_is(owner, "cgroup")) {
		if (index + 2 >= count)
			return config_reported(parse_error(parser, column_after(owner),
							   "missing path after 'for cgroup'; expected an absolute cgroup v2 path, as '/system.slice/web.service'"));
		*ret_used = 3;
		return parse_cgroup_path(parser, &tokens[index + 2], ret_owner);
	}
	/* "for user www-data": the name is part of the clause. */
	if (is_one_of(owner->text, owner->length, identity_words, IDENTITY_WORD_COUNT) && index + 2 < count)
		*ret_used = 3;
	return parse_unit(parser, owner, ret_owner);
}
