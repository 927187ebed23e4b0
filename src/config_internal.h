/* What the parts of the mapping-file reader share, and only they:
 * config_parse.c (the grammar), config_clauses.c (the clauses after a
 * redirect's target), config_owner.c (the owner clause),
 * config_files.c (files and directories) and config_validate.c (the passes
 * after parsing). */
#ifndef CONFIG_INTERNAL_H
#define CONFIG_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include "config.h"

/* User text longer than this is cut in messages: a 4,000-byte token quoted
 * whole would bury the message. */
#define QUOTE_MAX 64

/* For "'%.*s%s'": the text cut to QUOTE_MAX bytes, then "..." if cut. */
#define QUOTE(text, length) \
	(int)((length) > QUOTE_MAX ? QUOTE_MAX : (length)), (text), ((length) > QUOTE_MAX ? "..." : "")

/* A word of a line, and where it starts (1-based, in bytes). */
struct token {
	const char *text;
	size_t length;
	unsigned int column;
};

/* Where the grammar is: the file and line it reads, and what it fills. */
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

static inline bool token_is(const struct token *token, const char *word)
{
	return token->length == strlen(word) && !memcmp(token->text, word, token->length);
}

static inline unsigned int column_after(const struct token *token)
{
	return token->column + (unsigned int)token->length;
}

/* What a parse step returns once it has reported why its tokens are
 * wrong: -EINVAL, or -ENOMEM when even the report failed. */
static inline int config_reported(int r)
{
	return r < 0 ? r : -EINVAL;
}

/* Words after the last one a directive takes: reported at the first,
 * after which the message says they came. */
int config_report_trailing(struct parser *parser, const struct token *token, const char *after);

/* What the clauses after the target give a redirect. */
struct config_clauses {
	const struct owner *owner;
	struct scope scope;
	uint16_t scope_column;
};

/* The clauses after a redirect's target (tokens[5] on), in any order and
 * each at most once: 'on ADDRESS' or 'iif NAME', 'ipv4' or 'ipv6', 'for
 * OWNER'. Returns 0, having cleared *valid when it reported something, or
 * -ENOMEM. */
int config_parse_clauses(struct parser *parser, const struct token *tokens, size_t count,
			 struct config_clauses *ret_clauses, bool *valid);

/* The owner clause that starts at tokens[index] ("for"): a unit name or
 * "cgroup PATH". Reports what is wrong with it. Returns 0 and the owner
 * (interned in the parser's mapping), -EINVAL once reported, or -ENOMEM;
 * *ret_used is the number of tokens the clause took, also on -EINVAL. */
int config_parse_owner(struct parser *parser, const struct token *tokens, size_t count, size_t index,
		       const struct owner **ret_owner, size_t *ret_used);

/* The port the services database (/etc/services) gives the name
 * name[0..length) for protocol: 0, or -ENOENT when it has none. */
int config_service_port(const char *name, size_t length, enum protocol protocol, unsigned int *ret_port);
/* The known name of protocol nearest to word, into buffer ("" when none
 * is near enough). Returns 0 or -ENOMEM. */
int config_service_suggest(const char *word, size_t length, enum protocol protocol, char *buffer, size_t size);

/* An error about a whole file: line 0. */
#define file_error(file, diagnostics, ...) \
	diagnostics_add((diagnostics), SEVERITY_ERROR, \
			&(const struct location){ (file), 0, 0 }, __VA_ARGS__)

/* Both the reader and the parser of an in-memory buffer refuse more than
 * CONFIG_MAX_FILE_SIZE, with the same words. */
#define file_too_large_error(file, diagnostics) \
	file_error((file), (diagnostics), "file is larger than the limit of %u MiB", CONFIG_MAX_FILE_SIZE >> 20)

/* Parses the text of file, which must be the copy stored in the mapping
 * (mapping_add_file()), appending to mapping and diagnostics. Returns 0,
 * or -ENOMEM. */
int config_parse_text(const char *file, const char *buffer, size_t length, struct mapping *mapping,
		      struct diagnostics *diagnostics);

#endif
