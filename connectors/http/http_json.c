/* http_json.c — whether a service's answer is a JSON object (http_json.h).
 *
 * The core parses a fetch's answer into the tree it maps; the connector
 * only has to say whether there is one. Building jansson's tree twice cost
 * a fetch some 17,000 instructions; reading the text once costs a tenth.
 * The verdict is jansson's (json_loadb, no flags), which is what the core
 * parses with: the same UTF-8, escape, number-range and depth rules, so a
 * body accepted here is never refused there as "not a JSON object". The
 * fuzz_http harness holds the two to it. */
#include "http_json.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct http_json {
	const unsigned char *p, *end;
	int depth;
};

static int http_json_value(struct http_json *j);

static void
http_json_space(struct http_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	    *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

/* Consumes ch, after blanks; 1 when it was there. */
static int
http_json_eat(struct http_json *j, unsigned char ch)
{
	http_json_space(j);
	if (j->p == j->end || *j->p != ch)
		return 0;
	j->p++;
	return 1;
}

/* The length of the UTF-8 sequence at p (at most n bytes there) as jansson
 * accepts it: shortest form, no surrogates, nothing past U+10FFFF; 0 when
 * invalid. */
static size_t
http_json_utf8(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned long v;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		v = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		v = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		v = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff) ||
	    (len == 3 && v < 0x800) || (len == 4 && v < 0x10000))
		return 0;
	return len;
}

/* The value of the four hex digits after "\u" at p, or -1. */
static long
http_json_hex4(struct http_json *j)
{
	long v = 0;

	if (j->end - j->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		unsigned char ch = *j->p++;

		v <<= 4;
		if (ch >= '0' && ch <= '9')
			v |= ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			v |= ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			v |= ch - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* A "\u" escape, the backslash and u consumed: a surrogate must pair, and
 * U+0000 is refused (jansson's JSON_ALLOW_NUL is off). */
static int
http_json_unicode(struct http_json *j)
{
	long v = http_json_hex4(j), low;

	if (v <= 0 || (v >= 0xdc00 && v <= 0xdfff))
		return 0;
	if (v < 0xd800 || v > 0xdbff)
		return 1;
	if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
		return 0;
	j->p += 2;
	low = http_json_hex4(j);
	return low >= 0xdc00 && low <= 0xdfff;
}

/* A string, the opening quote consumed. */
static int
http_json_string(struct http_json *j)
{
	while (j->p < j->end) {
		unsigned char ch = *j->p;
		size_t n;

		if (ch == '"') {
			j->p++;
			return 1;
		}
		if (ch < 0x20)
			return 0;
		if (ch >= 0x80) {
			if ((n = http_json_utf8(j->p, (size_t)(j->end - j->p))) == 0)
				return 0;
			j->p += n;
			continue;
		}
		j->p++;
		if (ch != '\\')
			continue;
		if (j->p == j->end)
			return 0;
		ch = *j->p++;
		if (ch == 'u') {
			if (!http_json_unicode(j))
				return 0;
		} else if (strchr("\"\\/bfnrt", ch) == NULL || ch == '\0') {
			return 0;
		}
	}
	return 0;
}

static size_t
http_json_digits(struct http_json *j)
{
	const unsigned char *start = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return (size_t)(j->p - start);
}

/* Whether the number text [s, s + len) is in range as jansson reads it: an
 * integer within json_int_t (strtoll), a real that does not overflow a
 * double (strtod). */
static int
http_json_in_range(const unsigned char *s, size_t len, int real)
{
	char small[64], *text = small;
	int ok;

	if (len >= sizeof(small) && (text = malloc(len + 1)) == NULL)
		return 0;
	memcpy(text, s, len);
	text[len] = '\0';
	errno = 0;
	if (real) {
		double v = strtod(text, NULL);

		ok = !(errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL));
	} else {
		(void)strtoll(text, NULL, 10);
		ok = errno != ERANGE;
	}
	if (text != small)
		free(text);
	return ok;
}

static int
http_json_number(struct http_json *j)
{
	const unsigned char *start = j->p;
	int real = 0;

	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (http_json_digits(j) == 0)
		return 0;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		real = 1;
		if (http_json_digits(j) == 0)
			return 0;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		real = 1;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (http_json_digits(j) == 0)
			return 0;
	}
	return http_json_in_range(start, (size_t)(j->p - start), real);
}

static int
http_json_word(struct http_json *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return 0;
	j->p += n;
	return 1;
}

/* The members of an object or the items of an array, the opening bracket
 * consumed. */
static int
http_json_container(struct http_json *j, unsigned char close)
{
	if (http_json_eat(j, close))
		return 1;
	do {
		if (close == '}' && !(http_json_eat(j, '"') &&
		    http_json_string(j) && http_json_eat(j, ':')))
			return 0;
		if (!http_json_value(j))
			return 0;
	} while (http_json_eat(j, ','));
	return http_json_eat(j, close);
}

static int
http_json_value(struct http_json *j)
{
	unsigned char ch;
	int ok;

	http_json_space(j);
	if (j->p == j->end)
		return 0;
	/* jansson counts every value, scalars too, against its limit. */
	if (++j->depth > JSON_PARSER_MAX_DEPTH)
		return 0;
	ch = *j->p;
	if (ch == '{' || ch == '[') {
		j->p++;
		ok = http_json_container(j, ch == '{' ? '}' : ']');
	} else if (ch == '"') {
		j->p++;
		ok = http_json_string(j);
	} else {
		if (ch == '-' || (ch >= '0' && ch <= '9'))
			ok = http_json_number(j);
		else
			ok = http_json_word(j, "true") ||
			    http_json_word(j, "false") || http_json_word(j, "null");
		/* jansson reads one byte past a number or a word and puts it
		 * back; a NUL put back is taken for the end of its buffered
		 * character, and skipped. */
		if (ok && j->p < j->end && *j->p == '\0')
			j->p++;
	}
	j->depth--;
	return ok;
}

int
http_json_is_object(const char *buf, size_t len)
{
	struct http_json j = { (const unsigned char *)buf,
	    (const unsigned char *)buf + len, 0 };

	if (buf == NULL)
		return 0;
	http_json_space(&j);
	if (j.p == j.end || *j.p != '{' || !http_json_value(&j))
		return 0;
	http_json_space(&j);
	return j.p == j.end;
}
