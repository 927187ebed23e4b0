/* The clauses after a redirect's target: the scope (on ADDRESS, iif NAME,
 * ipv4, ipv6) and the owner clause's place among them; config_owner.c
 * reads the owner itself. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "config_internal.h"
#include "util.h"

/* The clauses after a redirect's target. */
enum clause {
	CLAUSE_ON,
	CLAUSE_IIF,
	CLAUSE_IPV4,
	CLAUSE_IPV6,
	CLAUSE_FOR,
	CLAUSE_COUNT
};

static const char *const clause_words[CLAUSE_COUNT] = {
	[CLAUSE_ON] = "on",
	[CLAUSE_IIF] = "iif",
	[CLAUSE_IPV4] = "ipv4",
	[CLAUSE_IPV6] = "ipv6",
	[CLAUSE_FOR] = "for",
};

/* "on ADDRESS": one address of this host, IPv4 or IPv6. */
static int parse_address(struct parser *parser, const struct token *token, struct scope *scope)
{
	char text[INET6_ADDRSTRLEN + 1];
	struct in6_addr ipv6;

	if (token->length < sizeof(text)) {
		memcpy(text, token->text, token->length);
		text[token->length] = '\0';
		if (inet_pton(AF_INET, text, scope->address) == 1) {
			scope->family = 4;
			if (!memcmp(scope->address, "\0\0\0\0", 4))
				return config_reported(parse_error(parser, token->column,
							    "address 0.0.0.0 after 'on' is no address of this host; give one, or leave 'on' out for all of them"));
			return 0;
		}
		if (inet_pton(AF_INET6, text, &ipv6) == 1) {
			if (IN6_IS_ADDR_UNSPECIFIED(&ipv6))
				return config_reported(parse_error(parser, token->column,
							    "address :: after 'on' is no address of this host; give one, or leave 'on' out for all of them"));
			if (IN6_IS_ADDR_V4MAPPED(&ipv6)) {
				char ipv4[INET_ADDRSTRLEN];

				inet_ntop(AF_INET, &ipv6.s6_addr[12], ipv4, sizeof(ipv4));
				return config_reported(parse_error(parser, token->column,
							    "'%s' after 'on' is an IPv4-mapped address, which IPv4 clients never use; write %s",
							    text, ipv4));
			}
			memcpy(scope->address, &ipv6, sizeof(ipv6));
			scope->family = 6;
			return 0;
		}
	}
	if (memchr(token->text, '/', token->length))
		return config_reported(parse_error(parser, token->column,
					    "'%.*s%s' after 'on' is a prefix; 'on' takes one address of this host",
					    QUOTE(token->text, token->length)));
	if (memchr(token->text, '%', token->length))
		return config_reported(parse_error(parser, token->column,
					    "'%.*s%s' after 'on' has a zone; write the address alone, and 'iif NAME' for the interface",
					    QUOTE(token->text, token->length)));
	return config_reported(parse_error(parser, token->column,
				    "invalid address '%.*s%s' after 'on'; expected an IPv4 or IPv6 address, as 198.51.100.7 or 2001:db8::7",
				    QUOTE(token->text, token->length)));
}

/* "iif NAME": a name the kernel would accept for an interface
 * (dev_valid_name()). */
static int parse_interface(struct parser *parser, const struct token *token, struct scope *scope)
{
	if (token->length >= SCOPE_IFNAME_SIZE)
		return config_reported(parse_error(parser, token->column,
					    "interface name '%.*s%s' is longer than %d characters, the kernel's limit",
					    QUOTE(token->text, token->length), SCOPE_IFNAME_SIZE - 1));
	if (token_is(token, ".") || token_is(token, ".."))
		return config_reported(parse_error(parser, token->column,
					    "'%.*s%s' is not an interface name; the kernel refuses '.' and '..'",
					    QUOTE(token->text, token->length)));
	for (size_t i = 0; i < token->length; i++) {
		if (token->text[i] == '/' || token->text[i] == ':')
			return config_reported(parse_error(parser, token->column + (unsigned int)i,
						    "interface name '%.*s%s' contains '%c', which the kernel does not allow in one",
						    QUOTE(token->text, token->length), token->text[i]));
	}
	memset(scope->iif, 0, sizeof(scope->iif));
	memcpy(scope->iif, token->text, token->length);
	return 0;
}

static int clause_of(const struct token *word)
{
	for (int i = 0; i < CLAUSE_COUNT; i++) {
		if (token_is(word, clause_words[i]))
			return i;
	}
	return -1;
}

int config_parse_clauses(struct parser *parser, const struct token *tokens, size_t count,
			 struct config_clauses *ret_clauses, bool *valid)
{
	/* The first token of each kind of clause given: place, family, owner. */
	const struct token *place = NULL, *family = NULL, *owner_clause = NULL;
	const char *after = "the target port";
	struct scope scope = { .kind = SCOPE_NONE };
	int r = 0;

	for (size_t index = 5, used = 1; index < count; index += used) {
		const struct token *word = &tokens[index];
		const struct owner *owner = NULL;
		int clause = clause_of(word);
		const char *suggestion;

		/* Each clause's outcome is its own: an invalid owner before it
		 * (-EINVAL, reported) is no failure of the clauses after. */
		used = 1;
		r = 0;
		if (clause < 0) {
			suggestion = suggest_word(word->text, word->length, clause_words, CLAUSE_COUNT);
			if (suggestion)
				r = parse_error(parser, word->column, "unknown word '%.*s%s' after %s; did you mean '%s'?",
						QUOTE(word->text, word->length), after, suggestion);
			else
				r = config_report_trailing(parser, word, after);
			*valid = false;
			return r < 0 ? r : 0;
		}
		if (clause == CLAUSE_FOR) {
			if (owner_clause) {
				r = parse_error(parser, word->column,
						"duplicate 'for' clause; a redirect has one owner, first given at column %u",
						owner_clause->column);
				if (r < 0)
					return r;
				*valid = false;
			}
			r = config_parse_owner(parser, tokens, count, index, &owner, &used);
			if (r == -ENOMEM)
				return r;
			if (r < 0)
				*valid = false;
			else if (!owner_clause)
				ret_clauses->owner = owner;
			if (!owner_clause)
				owner_clause = word;
			after = "the owner";
			continue;
		}
		if (clause == CLAUSE_IPV4 || clause == CLAUSE_IPV6) {
			uint8_t wanted = clause == CLAUSE_IPV4 ? 4 : 6;

			if (family) {
				r = parse_error(parser, word->column,
						"'%.*s%s' after '%.*s%s' at column %u; a redirect has one family, or none for both",
						QUOTE(word->text, word->length), QUOTE(family->text, family->length),
						family->column);
				*valid = false;
			} else if (scope.kind == SCOPE_ON && scope.family != wanted) {
				r = parse_error(parser, word->column,
						"'%.*s%s' does not match the IPv%u address after 'on' at column %u; an address implies its family, remove '%.*s%s'",
						QUOTE(word->text, word->length), scope.family, place->column,
						QUOTE(word->text, word->length));
				*valid = false;
			}
			if (r < 0)
				return r;
			if (!family) {
				family = word;
				if (scope.kind != SCOPE_ON)
					scope.family = wanted;
			}
			after = "the family";
			continue;
		}
		/* 'on' or 'iif', and its argument. */
		if (index + 1 >= count) {
			r = parse_error(parser, column_after(word), clause == CLAUSE_ON ?
					"missing address after 'on'; expected an IPv4 or IPv6 address of this host" :
					"missing interface name after 'iif'");
			*valid = false;
			return r < 0 ? r : 0;
		}
		used = 2;
		if (place) {
			if (token_is(place, clause_words[clause]))
				r = parse_error(parser, word->column,
						"duplicate '%s' clause; a redirect has one, first given at column %u",
						clause_words[clause], place->column);
			else
				r = parse_error(parser, word->column,
						"'%s' after '%.*s%s' at column %u; a redirect takes 'on' or 'iif', not both: write one line for each",
						clause_words[clause], QUOTE(place->text, place->length), place->column);
			if (r < 0)
				return r;
			*valid = false;
			after = clause == CLAUSE_ON ? "the address" : "the interface";
			continue;
		}
		place = word;
		if (clause == CLAUSE_ON) {
			uint8_t wanted = scope.family;

			r = parse_address(parser, &tokens[index + 1], &scope);
			if (r == -ENOMEM)
				return r;
			if (r == 0 && family && wanted && wanted != scope.family) {
				r = parse_error(parser, family->column,
						"'%.*s%s' does not match the IPv%u address after 'on' at column %u; an address implies its family, remove '%.*s%s'",
						QUOTE(family->text, family->length), scope.family, word->column,
						QUOTE(family->text, family->length));
				r = r < 0 ? r : -EINVAL;
			}
			scope.kind = SCOPE_ON;
			after = "the address";
		} else {
			r = parse_interface(parser, &tokens[index + 1], &scope);
			scope.kind = SCOPE_IIF;
			after = "the interface";
		}
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			*valid = false;
		r = 0;
	}
	if (scope.kind == SCOPE_NONE && family)
		scope.kind = SCOPE_FAMILY;
	ret_clauses->scope = scope;
	ret_clauses->scope_column = (uint16_t)(place ? place->column : family ? family->column : 0);
	return 0;
}
