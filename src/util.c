/* Array growth and the monotonic clock (util.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include "util.h"

int array_grow(void **items, size_t *capacity, size_t needed, size_t element_size,
	       size_t initial_capacity)
{
	size_t larger = *capacity ? *capacity : (initial_capacity ? initial_capacity : 1);
	void *grown;

	if (needed <= *capacity)
		return 0;
	while (larger < needed) {
		if (larger > SIZE_MAX / 2)
			return -ENOMEM;
		larger *= 2;
	}
	if (element_size && larger > SIZE_MAX / element_size)
		return -ENOMEM;
	grown = realloc(*items, larger * element_size);
	if (!grown)
		return -ENOMEM;
	*items = grown;
	*capacity = larger;
	return 0;
}

long long monotonic_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}
