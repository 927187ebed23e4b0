/* The fixture the mapping-language tests share: a mapping parsed from a
 * text as the file "test.conf", its diagnostics, the text the last helper
 * returned (freed by the next one and by the teardown), and a temporary
 * directory for the tests that need real files (removed by the teardown
 * with all it holds). Include after cmocka.h. */
#ifndef CONFIG_FIXTURE_H
#define CONFIG_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "config.h"

struct fixture {
	struct mapping *mapping;
	struct diagnostics diagnostics;
	char *text;
	/* The temporary directory, or "" while no test made it. */
	char directory[64];
	/* The last path made in it. */
	char *path;
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

static inline int remove_entry(const char *path, const struct stat *status, int type, struct FTW *walk)
{
	(void)status;
	(void)type;
	(void)walk;
	return remove(path);
}

static inline int teardown(void **state)
{
	struct fixture *fixture = *state;

	if (fixture->directory[0])
		nftw(fixture->directory, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	mapping_free(fixture->mapping);
	diagnostics_clear(&fixture->diagnostics);
	free(fixture->text);
	free(fixture->path);
	free(fixture);
	return 0;
}

/* Parses LENGTH bytes of TEXT as the whole mapping file "test.conf". */
static inline void parse_bytes(struct fixture *fixture, const char *text, size_t length)
{
	assert_int_equal(config_parse_buffer("test.conf", text, length, fixture->mapping, &fixture->diagnostics), 0);
	assert_int_equal(config_finish(fixture->mapping, &fixture->diagnostics), 0);
}

static inline void parse(struct fixture *fixture, const char *text)
{
	parse_bytes(fixture, text, strlen(text));
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
