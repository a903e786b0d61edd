/* "Did you mean": the known key closest to a misspelt one, by edit distance. */
#include <ctype.h>
#include <string.h>

#include "unit_private.h"

#define SUGGEST_MAX 64 /* longer keys get no suggestion */

/*
 * Optimal string alignment distance (insert, delete, substitute, swap two neighbours),
 * ignoring case: keys are case-sensitive, so "restart" gets "Restart" suggested.
 */
static size_t distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	unsigned char d[SUGGEST_MAX + 1][SUGGEST_MAX + 1]; /* distances stay below 129 */

	for (size_t i = 0; i <= n; i++)
		d[i][0] = (unsigned char)i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = (unsigned char)j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			size_t cost =
			    tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
			size_t v = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1u < v)
				v = d[i - 1][j] + 1u;
			if (d[i][j - 1] + 1u < v)
				v = d[i][j - 1] + 1u;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1u < v)
				v = d[i - 2][j - 2] + 1u;
			d[i][j] = (unsigned char)v;
		}
	return d[n][m];
}

const char *unit_suggest_key(const char *key)
{
	size_t n = strlen(key), best_d = (size_t)-1, limit = n < 6 ? 1 : 2;
	const char *best = NULL, *k;

	if (n == 0 || n > SUGGEST_MAX)
		return NULL;
	for (size_t i = 0; (k = unit_table_key(i)); i++) {
		size_t d, m = strlen(k);
		if (m > SUGGEST_MAX || (m > n ? m - n : n - m) > limit)
			continue; /* the distance is at least the difference in length */
		d = distance(key, k);
		if (d < best_d) {
			best_d = d;
			best = k;
		}
	}
	return best_d <= limit ? best : NULL;
}
