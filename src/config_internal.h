/* What the parts of the mapping-file reader share, and only they:
 * config_parse.c (the grammar), config_files.c (files and directories) and
 * config_validate.c (the passes after parsing). */
#ifndef CONFIG_INTERNAL_H
#define CONFIG_INTERNAL_H

#include "config.h"

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
