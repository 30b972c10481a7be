/* mutate.h — seeded mutations of JSON texts, for the tests that hold a
 * reader to jansson's verdict (test_http_json, test_jsonload): a seed
 * changed at one to three random bytes, cut, or grown, from an alphabet of
 * JSON's punctuation, escapes, digits, UTF-8 lead and continuation bytes,
 * a newline and NUL. Deterministic: a failure replays. */
#ifndef TELLONCE_MUTATE_H
#define TELLONCE_MUTATE_H

#include <stdint.h>
#include <string.h>

struct mutate {
	uint64_t state;   /* any nonzero seed */
};

static uint64_t
mutate_next(struct mutate *m)
{
	m->state ^= m->state << 13;
	m->state ^= m->state >> 7;
	m->state ^= m->state << 17;
	return m->state;
}

/* Writes a mutant of seed into buf (cap bytes, at least strlen(seed));
 * returns its length. */
static size_t
mutate_text(struct mutate *m, const char *seed, char *buf, size_t cap)
{
	static const char alphabet[] = "{}[]\",:\\/ u0123456789abcdefE.+-tnl"
	    "\x80\xc3\xa9\xed\xf0\xff\n\0";
	size_t len = strlen(seed), edits = 1 + mutate_next(m) % 3;

	memcpy(buf, seed, len);
	for (size_t e = 0; e < edits; e++) {
		uint64_t r = mutate_next(m);
		size_t at = len > 0 ? (size_t)(r >> 8) % len : 0;
		char ch = alphabet[(r >> 40) % (sizeof(alphabet) - 1)];

		if ((r & 7) == 0)
			len = at;
		else if ((r & 7) == 1 && len < cap)
			buf[len++] = ch;
		else if (len > 0)
			buf[at] = ch;
	}
	return len;
}

#endif
