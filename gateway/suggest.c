/* suggest.c — nearest-name suggestions by optimal string alignment
 * distance, on three rows of the usual dynamic-programming table. */
#include "suggest.h"

#include <stdint.h>
#include <string.h>

size_t
suggest_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t rows[3][SUGGEST_MAX_LEN + 1], *pp, *p, *c;

	if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
		return SIZE_MAX;
	pp = rows[0], p = rows[1], c = rows[2];
	for (size_t j = 0; j <= lb; j++)
		p[j] = j;
	for (size_t i = 1; i <= la; i++) {
		c[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1], best = p[j - 1] + cost;

			if (p[j] + 1 < best)
				best = p[j] + 1;
			if (c[j - 1] + 1 < best)
				best = c[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && pp[j - 2] + 1 < best)
				best = pp[j - 2] + 1;
			c[j] = best;
		}
		size_t *t = pp;
		pp = p, p = c, c = t;
	}
	return p[lb];
}

void
suggest_init(struct suggest *s, const char *word)
{
	s->word = word;
	s->best = NULL;
	s->dist = strlen(word) <= 3 ? 1 : 2;
}

void
suggest_try(struct suggest *s, const char *name)
{
	size_t d = suggest_distance(s->word, name);

	/* A name equal to the word is not a suggestion: whatever made the
	 * word unknown, the same name cannot fix it. */
	if (d == 0 || d > s->dist || (s->best != NULL && d == s->dist))
		return;
	s->best = name;
	s->dist = d;
}

const char *
suggest_nearest(const char *word, const char *const *names, size_t n)
{
	struct suggest s;

	suggest_init(&s, word);
	for (size_t i = 0; i < n; i++)
		suggest_try(&s, names[i]);
	return s.best;
}
