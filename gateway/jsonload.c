/* jsonload.c — JSON text to jansson's tree in one pass (jsonload.h).
 *
 * jansson's reader costs some 190 instructions per byte: a callback per
 * byte, each token saved byte by byte, then copied twice. A fetch reads two
 * texts, its body and the provider's answer. This reader builds the same
 * values with jansson's own constructors, in the order json_loadb does
 * (json_object_setn_new_nocheck, json_array_append_new, json_integer of
 * strtoll, json_real of strtod), and gives up on whatever it does not
 * handle exactly as jansson would: a top level other than an object,
 * duplicate names, nesting deeper than JSONLOAD_MAX_DEPTH, a \u escape of
 * U+0000 or of a surrogate, a number out of range, invalid UTF-8, any
 * syntax error. Those texts go to json_loadb, which builds their tree or
 * says what is wrong with them, line and column included. test_jsonload
 * holds the two to the same trees. */
#include "jsonload.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"

#define JSONLOAD_MAX_DEPTH 32   /* far below jansson's 2048 */
#define JSONLOAD_NUMBER_MAX 64  /* longer numbers go to json_loadb */

struct jsonload {
	const char *p, *end;
	int depth;
};

static json_t *jsonload_value(struct jsonload *j);

static void
jsonload_space(struct jsonload *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	    *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

/* Consumes ch, after blanks; 1 when it was there. */
static int
jsonload_eat(struct jsonload *j, char ch)
{
	jsonload_space(j);
	if (j->p == j->end || *j->p != ch)
		return 0;
	j->p++;
	return 1;
}

static int
jsonload_hex4(const char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		char ch = p[i];

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

/* Decodes the escaped string [s, end) into out, which has room for
 * end - s bytes (no escape decodes longer than it is written); returns the
 * decoded length, or -1 for an escape this reader leaves to jansson. */
static long
jsonload_unescape(const char *s, const char *end, char *out)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	char *o = out;
	const char *hit;
	int v;

	while (s < end) {
		if (*s != '\\') {
			*o++ = *s++;
			continue;
		}
		if (s[1] != 'u') {
			if (s[1] == '\0' || (hit = strchr(from, s[1])) == NULL)
				return -1;
			*o++ = to[hit - from];
			s += 2;
			continue;
		}
		if ((v = jsonload_hex4(s + 2)) <= 0 ||
		    (v >= 0xd800 && v <= 0xdfff))
			return -1;
		if (v < 0x80) {
			*o++ = (char)v;
		} else if (v < 0x800) {
			*o++ = (char)(0xc0 | v >> 6);
			*o++ = (char)(0x80 | (v & 0x3f));
		} else {
			*o++ = (char)(0xe0 | v >> 12);
			*o++ = (char)(0x80 | ((v >> 6) & 0x3f));
			*o++ = (char)(0x80 | (v & 0x3f));
		}
		s += 6;
	}
	return o - out;
}

/* The string after its opening quote: calls make(text, len) on its
 * decoded text and returns what make returned, or NULL. */
static json_t *
jsonload_string(struct jsonload *j, json_t *(*make)(const char *, size_t,
    void *), void *arg)
{
	const char *start = j->p;
	int escaped = 0;
	char stack[256], *buf;
	json_t *v;
	long len;

	while (j->p < j->end && *j->p != '"') {
		unsigned char ch = (unsigned char)*j->p;
		size_t n = 1;

		if (ch < 0x20)
			return NULL;
		if (ch == '\\') {
			escaped = 1;
			/* The escape's length; its content is checked decoding. */
			n = j->end - j->p > 1 && j->p[1] == 'u' ? 6 : 2;
		} else if (ch >= 0x80 && (n = encode_utf8_len(
		    (const unsigned char *)j->p, (size_t)(j->end - j->p))) == 0) {
			return NULL;
		}
		if ((size_t)(j->end - j->p) < n)
			return NULL;
		j->p += n;
	}
	if (j->p == j->end)
		return NULL;
	j->p++;
	if (!escaped)
		return make(start, (size_t)(j->p - 1 - start), arg);
	len = j->p - 1 - start;
	if ((size_t)len > sizeof(stack)) {
		if ((buf = malloc((size_t)len)) == NULL)
			return NULL;
	} else {
		buf = stack;
	}
	len = jsonload_unescape(start, j->p - 1, buf);
	v = len < 0 ? NULL : make(buf, (size_t)len, arg);
	if (buf != stack)
		free(buf);
	return v;
}

static json_t *
jsonload_make_string(const char *s, size_t len, void *arg)
{
	return json_stringn_nocheck(s, len);
}

static size_t
jsonload_digits(struct jsonload *j)
{
	const char *start = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return (size_t)(j->p - start);
}

/* A number as jansson reads it: an integer when it has neither fraction
 * nor exponent (strtoll), else a real (strtod); NULL when out of range. */
static json_t *
jsonload_number(struct jsonload *j)
{
	const char *start = j->p;
	char text[JSONLOAD_NUMBER_MAX];
	int real = 0;
	size_t len;

	if (*j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (jsonload_digits(j) == 0)
		return NULL;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		real = 1;
		if (jsonload_digits(j) == 0)
			return NULL;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		real = 1;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (jsonload_digits(j) == 0)
			return NULL;
	}
	if ((len = (size_t)(j->p - start)) >= sizeof(text))
		return NULL;
	memcpy(text, start, len);
	text[len] = '\0';
	errno = 0;
	if (!real) {
		long long v = strtoll(text, NULL, 10);

		return errno == ERANGE ? NULL : json_integer(v);
	} else {
		double v = strtod(text, NULL);

		return errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL) ?
		    NULL : json_real(v);
	}
}

static int
jsonload_word(struct jsonload *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return 0;
	j->p += n;
	return 1;
}

/* A member's value, set under its name in the object arg. */
struct jsonload_member {
	struct jsonload *j;
	json_t *object;
};

static json_t *
jsonload_make_member(const char *name, size_t len, void *arg)
{
	struct jsonload_member *m = arg;
	json_t *v;

	/* Which of two equal names wins is jansson's to say, or to refuse. */
	if (json_object_getn(m->object, name, len) != NULL ||
	    !jsonload_eat(m->j, ':') || (v = jsonload_value(m->j)) == NULL)
		return NULL;
	if (json_object_setn_new_nocheck(m->object, name, len, v) != 0)
		return NULL;
	return m->object;
}

static json_t *
jsonload_object_body(struct jsonload *j)
{
	struct jsonload_member m = { j, json_object() };

	if (m.object == NULL)
		return NULL;
	if (jsonload_eat(j, '}'))
		return m.object;
	do {
		if (!jsonload_eat(j, '"') ||
		    jsonload_string(j, jsonload_make_member, &m) == NULL) {
			json_decref(m.object);
			return NULL;
		}
	} while (jsonload_eat(j, ','));
	if (!jsonload_eat(j, '}')) {
		json_decref(m.object);
		return NULL;
	}
	return m.object;
}

static json_t *
jsonload_array_body(struct jsonload *j)
{
	json_t *a = json_array(), *v;

	if (a == NULL)
		return NULL;
	if (jsonload_eat(j, ']'))
		return a;
	do {
		if ((v = jsonload_value(j)) == NULL ||
		    json_array_append_new(a, v) != 0) {
			json_decref(a);
			return NULL;
		}
	} while (jsonload_eat(j, ','));
	if (!jsonload_eat(j, ']')) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static json_t *
jsonload_value(struct jsonload *j)
{
	json_t *v = NULL;
	char ch;

	jsonload_space(j);
	if (j->p == j->end || j->depth >= JSONLOAD_MAX_DEPTH)
		return NULL;
	ch = *j->p;
	j->depth++;
	if (ch == '{') {
		j->p++;
		v = jsonload_object_body(j);
	} else if (ch == '[') {
		j->p++;
		v = jsonload_array_body(j);
	} else if (ch == '"') {
		j->p++;
		v = jsonload_string(j, jsonload_make_string, NULL);
	} else if (ch == '-' || (ch >= '0' && ch <= '9')) {
		v = jsonload_number(j);
	} else if (jsonload_word(j, "true")) {
		v = json_true();
	} else if (jsonload_word(j, "false")) {
		v = json_false();
	} else if (jsonload_word(j, "null")) {
		v = json_null();
	}
	j->depth--;
	return v;
}

json_t *
jsonload_object(const char *buf, size_t len, size_t flags, json_error_t *err)
{
	struct jsonload j = { buf, buf + len, 0 };
	json_t *v = NULL;

	/* Duplicates are refused either way: jansson decides for both. */
	if ((flags & ~(size_t)JSON_REJECT_DUPLICATES) == 0 &&
	    jsonload_eat(&j, '{')) {
		j.depth = 1;
		v = jsonload_object_body(&j);
		jsonload_space(&j);
		if (v != NULL && j.p != j.end) {
			json_decref(v);
			v = NULL;
		}
	}
	return v != NULL ? v : json_loadb(buf, len, flags, err);
}
