/* The fixture the mapping-language tests share: a mapping parsed from a
 * text as the file "test.conf", its diagnostics, and the text the last
 * helper returned (freed by the next one and by the teardown). Include
 * after cmocka.h. */
#ifndef CONFIG_FIXTURE_H
#define CONFIG_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"

struct fixture {
	struct mapping *mapping;
	struct diagnostics diagnostics;
	char *text;
};

static inline int setup(void **state)
{
	struct fixture *fixture = calloc(1, sizeof(*fixture));

	if (!fixture)
		return -1;
	fixture->mapping = mapping_new();
	if (!fixture->mapping) {
		free(fixture);
		return -1;
	}
	diagnostics_init(&fixture->diagnostics);
	*state = fixture;
	return 0;
}

static inline int teardown(void **state)
{
	struct fixture *fixture = *state;

	mapping_free(fixture->mapping);
	diagnostics_clear(&fixture->diagnostics);
	free(fixture->text);
	free(fixture);
	return 0;
}

static inline void parse(struct fixture *fixture, const char *text)
{
	assert_int_equal(config_parse_buffer("test.conf", text, strlen(text), fixture->mapping, &fixture->diagnostics),
			 0);
	assert_int_equal(config_finish(fixture->mapping, &fixture->diagnostics), 0);
}

static inline const char *keep(struct fixture *fixture, char *text)
{
	assert_non_null(text);
	free(fixture->text);
	fixture->text = text;
	return text;
}

/* Every diagnostic as the commands print it, one per line. */
static inline const char *diagnostics_text(struct fixture *fixture)
{
	char *text = NULL;
	size_t size = 0;
	FILE *stream = open_memstream(&text, &size);

	assert_non_null(stream);
	for (size_t i = 0; i < fixture->diagnostics.count; i++) {
		char *line = diagnostic_format(&fixture->diagnostics.items[i]);

		assert_non_null(line);
		fprintf(stream, "%s%s", i ? "\n" : "", line);
		free(line);
	}
	assert_int_equal(fclose(stream), 0);
	return keep(fixture, text);
}

#endif
