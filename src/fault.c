/* Test-only fault injection; see fault.h. Empty in production builds. */
#include "fault.h"

#ifdef PORTREDIR_FAULTS
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAULTS_MAX 16

bool fault_injected(const char *name)
{
	static char struck[FAULTS_MAX][32];
	static size_t struck_count;
	const char *list = getenv("PORTREDIR_FAULTS");
	size_t length = strlen(name);

	for (const char *cursor = list; cursor && *cursor;) {
		const char *end = strchr(cursor, ',');
		size_t token = end ? (size_t)(end - cursor) : strlen(cursor);

		if (token == length && !memcmp(cursor, name, length)) {
			for (size_t i = 0; i < struck_count; i++) {
				if (!strcmp(struck[i], name))
					return false;
			}
			if (struck_count < FAULTS_MAX && length < sizeof(struck[0]))
				memcpy(struck[struck_count++], name, length + 1);
			/* So that a test can tell the fault really struck. */
			fprintf(stderr, "portredir: test fault injected: %s\n", name);
			return true;
		}
		cursor = end ? end + 1 : NULL;
	}
	return false;
}
#else
/* ISO C wants something in every translation unit. */
typedef int fault_injection_is_not_built_in;
#endif
