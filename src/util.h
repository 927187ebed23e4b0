/* Small helpers every layer may use: array growth with an overflow check,
 * the monotonic clock in milliseconds, and the nearest word to a typo. No
 * I/O, no printing. */
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

/* The candidate the word (length bytes, not NUL-terminated) is most likely
 * a typo of, by case-insensitive edit distance with transpositions; NULL
 * when none is close enough (a third of the candidate's letters, at least
 * one) or two are equally close. Candidates are lowercase, at most 32
 * letters. */
const char *suggest_word(const char *word, size_t length, const char *const *candidates, size_t count);

#endif
