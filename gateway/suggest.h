/* suggest.h — "did you mean": the nearest of some known names to a word
 * that is none of them, for messages about unknown keys, references and
 * commands. Distance is Damerau–Levenshtein (optimal string alignment: an
 * insertion, a deletion, a substitution or a swap of two neighbours costs
 * one), at most 2, and at most 1 for words of 3 bytes or fewer, so that
 * short words are not matched to anything. */
#ifndef TELLONCE_SUGGEST_H
#define TELLONCE_SUGGEST_H

#include <stddef.h>

#define SUGGEST_MAX_LEN 128 /* longer words and names get no suggestion */

/* The edit distance between a and b; SIZE_MAX when either is longer than
 * SUGGEST_MAX_LEN. */
size_t suggest_distance(const char *a, const char *b);

/* Collects the nearest name over any number of suggest_try calls. */
struct suggest {
	const char *word;
	const char *best;  /* borrowed from the caller's names; NULL: none near */
	size_t dist;
};

void suggest_init(struct suggest *s, const char *word);
void suggest_try(struct suggest *s, const char *name);

/* The nearest of names[0..n) to word, or NULL (borrowed from names). */
const char *suggest_nearest(const char *word, const char *const *names,
    size_t n);

#endif
