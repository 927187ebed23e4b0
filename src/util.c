/* Array growth, the monotonic clock and suggestions for typos (util.h). */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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

static char lowercase(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Optimal-string-alignment distance, case-insensitive: a swapped pair of
 * letters ("redriect") or a capital ("TCP") is one typo, not two. The
 * candidates are our short keywords and command names, so the rows stay
 * small while the typed word may be long. */
static unsigned int edit_distance(const char *word, size_t length, const char *candidate)
{
	enum { CANDIDATE_MAX = 32 };
	unsigned int rows[3][CANDIDATE_MAX + 1];
	unsigned int *before = rows[0], *previous = rows[1], *current = rows[2];
	size_t candidate_length = strlen(candidate);

	if (candidate_length > CANDIDATE_MAX)
		return UINT_MAX;
	for (size_t j = 0; j <= candidate_length; j++)
		previous[j] = (unsigned int)j;
	for (size_t i = 1; i <= length; i++) {
		unsigned int *rotate;

		current[0] = (unsigned int)i;
		for (size_t j = 1; j <= candidate_length; j++) {
			unsigned int cost = lowercase(word[i - 1]) != candidate[j - 1];
			unsigned int best = previous[j - 1] + cost;

			if (previous[j] + 1 < best)
				best = previous[j] + 1;
			if (current[j - 1] + 1 < best)
				best = current[j - 1] + 1;
			if (i > 1 && j > 1 && lowercase(word[i - 1]) == candidate[j - 2] &&
			    lowercase(word[i - 2]) == candidate[j - 1] && before[j - 2] + 1 < best)
				best = before[j - 2] + 1;
			current[j] = best;
		}
		rotate = before;
		before = previous;
		previous = current;
		current = rotate;
	}
	return previous[candidate_length];
}

const char *suggest_word(const char *word, size_t length, const char *const *candidates, size_t count)
{
	unsigned int best_distance = UINT_MAX;
	const char *best = NULL;
	bool tie = false;

	for (size_t i = 0; i < count; i++) {
		size_t candidate_length = strlen(candidates[i]);
		unsigned int limit = candidate_length / 3 > 1 ? (unsigned int)(candidate_length / 3) : 1;
		unsigned int distance;

		/* The distance is at least the difference in length. */
		if ((length > candidate_length ? length - candidate_length : candidate_length - length) > limit)
			continue;
		distance = edit_distance(word, length, candidates[i]);
		if (distance > limit)
			continue;
		if (distance < best_distance) {
			best_distance = distance;
			best = candidates[i];
			tie = false;
		} else if (distance == best_distance) {
			tie = true;
		}
	}
	return tie ? NULL : best;
}
