/*
 * "Did you mean" hints: the candidate nearest to a mistyped word, by
 * case-insensitive edit distance, for the plan's keys and strategies and
 * for the command line's verbs and options.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "migrate/plan.h"

/* Longer words get no hint; the distance row lives on the stack. */
#define HINT_MAX_LEN	64

static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, prev, tmp, best;
	size_t row[HINT_MAX_LEN + 1];

	if (la > HINT_MAX_LEN || lb > HINT_MAX_LEN)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			best = prev + (tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j - 1]));
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

const char *
mig_did_you_mean(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t i, d, bestd = SIZE_MAX, limit;

	/* Allow about one typo per four letters, at least two. */
	limit = strlen(word) / 4 + 1;
	if (limit < 2)
		limit = 2;
	for (i = 0; i < n; i++) {
		d = edit_distance(word, cands[i]);
		if (d < bestd) {
			bestd = d;
			best = cands[i];
		}
	}
	return bestd <= limit ? best : NULL;
}
