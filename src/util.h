/* Small helpers every layer may use: array growth with an overflow check,
 * and the monotonic clock in milliseconds. No I/O, no printing. */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>

/* Makes room in *items (an array of element_size bytes each, holding
 * *capacity of them) for at least `needed` elements, doubling from
 * initial_capacity. Returns 0, or -ENOMEM (also when the size in bytes
 * would overflow); *items and *capacity are unchanged on failure. */
int array_grow(void **items, size_t *capacity, size_t needed, size_t element_size,
	       size_t initial_capacity);

/* The array_grow() for one more element after *count. */
#define ARRAY_GROW_ONE(items, count, capacity, initial_capacity) \
	array_grow((void **)&(items), &(capacity), (count) + 1, sizeof(*(items)), (initial_capacity))

/* CLOCK_MONOTONIC in milliseconds. */
long long monotonic_ms(void);

#endif
