/* jcs.c — RFC 8785 canonical JSON (see jcs.h).
 *
 * jansson cannot be asked for it: JSON_SORT_KEYS compares UTF-8 bytes,
 * which orders a name holding U+FB33 before one holding U+1F600 where
 * UTF-16 code units put it after, and reals come out as %.17g rather than
 * ECMAScript's shortest round-trip text. */
#include "jcs.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"

static void
jcs_put(struct jcs_buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		/* An audit entry, the longest text most requests write, fits
		 * the first block. */
		size_t cap = b->cap ? b->cap : 1024;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((p = realloc(b->data, cap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
jcs_puts(struct jcs_buf *b, const char *s)
{
	jcs_put(b, s, strlen(s));
}

/* ---- numbers ------------------------------------------------------------ */

/* The fewest significant digits that read back as d (d > 0), as glibc's
 * correctly rounded %e gives them: digits in out, decimal exponent of the
 * first digit in *exp. Returns the number of digits. */
static int
jcs_shortest(double d, char out[18], int *exp)
{
	char tmp[40], *e;
	int k = 0;

	for (int prec = 0; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	e = strchr(tmp, 'e');
	*exp = atoi(e + 1);
	for (const char *p = tmp; p < e; p++)
		if (*p >= '0' && *p <= '9')
			out[k++] = *p;
	while (k > 1 && out[k - 1] == '0')
		k--;
	out[k] = '\0';
	return k;
}

int
jcs_number(double d, char buf[JCS_NUMBER_LEN])
{
	char digits[18], *p = buf;
	int k, n, exp;

	if (!isfinite(d))
		return -1;
	if (d == 0) {            /* -0 too */
		strcpy(buf, "0");
		return 0;
	}
	if (d < 0) {
		*p++ = '-';
		d = -d;
	}
	k = jcs_shortest(d, digits, &exp);
	n = exp + 1;   /* ECMAScript's n: d = digits × 10^(n - k) */
	if (k <= n && n <= 21) {
		sprintf(p, "%s%.*s", digits, n - k, "000000000000000000000");
	} else if (0 < n && n <= 21) {
		sprintf(p, "%.*s.%s", n, digits, digits + n);
	} else if (-6 < n && n <= 0) {
		sprintf(p, "0.%.*s%s", -n, "000000", digits);
	} else {
		sprintf(p, "%c%s%se%c%d", digits[0], k > 1 ? "." : "",
		    digits + 1, n - 1 < 0 ? '-' : '+', abs(n - 1));
	}
	return 0;
}

/* ---- strings ------------------------------------------------------------- */

/* Eight bytes at a time (SWAR) where no byte needs a look of its own:
 * every audit entry writes some fifteen strings, each checked as UTF-8
 * and then escaped. JCS_ANY_BELOW(v, n) is exact about whether any byte
 * of v is below n (n <= 128). */
#define JCS_ONES 0x0101010101010101ULL
#define JCS_HIGHS 0x8080808080808080ULL
#define JCS_ANY_BELOW(v, n) (((v) - JCS_ONES * (n)) & ~(v) & JCS_HIGHS)

static uint64_t
jcs_word(const char *s)
{
	uint64_t v;

	memcpy(&v, s, sizeof(v));
	return v;
}

/* Whether none of the eight bytes at s needs escaping: no control
 * character, quote or backslash. */
static int
jcs_plain8(const char *s)
{
	uint64_t v = jcs_word(s);

	return !JCS_ANY_BELOW(v, 0x20) &&
	    !JCS_ANY_BELOW(v ^ (JCS_ONES * '"'), 1) &&
	    !JCS_ANY_BELOW(v ^ (JCS_ONES * '\\'), 1);
}

static void
jcs_string(struct jcs_buf *b, const char *s, size_t len)
{
	size_t run = 0;

	jcs_put(b, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char u[8];

		if (len - i >= 8 && jcs_plain8(s + i)) {
			run += 8;
			i += 7;
			continue;
		}

		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			if (c < 0x20) {
				snprintf(u, sizeof(u), "\\u%04x", c);
				esc = u;
			}
		}
		if (esc == NULL) {
			run++;
			continue;
		}
		jcs_put(b, s + i - run, run);
		run = 0;
		jcs_puts(b, esc);
	}
	jcs_put(b, s + len - run, run);
	jcs_put(b, "\"", 1);
}

void
jcs_buf_raw(struct jcs_buf *b, const char *s)
{
	jcs_puts(b, s);
}

void
jcs_buf_string(struct jcs_buf *b, const char *s)
{
	size_t len, all;

	if (s == NULL) {
		jcs_puts(b, "null");
		return;
	}
	all = strlen(s);
	for (len = 0; len < all;) {
		size_t n = all - len >= 8 && !(jcs_word(s + len) & JCS_HIGHS) ? 8 :
		    (unsigned char)s[len] < 0x80 ? 1 :
		    encode_utf8_len((const unsigned char *)s + len, all - len);

		if (n == 0) {
			b->failed = 1;
			return;
		}
		len += n;
	}
	jcs_string(b, s, len);
}

char *
jcs_buf_take(struct jcs_buf *b)
{
	char *text = b->failed ? NULL : b->data;

	if (b->failed)
		free(b->data);
	*b = (struct jcs_buf){ 0 };
	return text;
}

/* ---- member order ------------------------------------------------------- */

/* Walks a valid UTF-8 string as UTF-16 code units. */
struct jcs_utf16 {
	const unsigned char *p;
	unsigned pending;     /* the low surrogate still to come, or 0 */
};

/* The next code unit, or -1 at the end. */
static long
jcs_utf16_next(struct jcs_utf16 *it)
{
	unsigned c = it->p[0];
	uint32_t cp;
	int more;

	if (it->pending != 0) {
		cp = it->pending;
		it->pending = 0;
		return cp;
	}
	if (c == 0)
		return -1;
	if (c < 0x80) {
		cp = c;
		more = 0;
	} else if (c < 0xe0) {
		cp = c & 0x1f;
		more = 1;
	} else if (c < 0xf0) {
		cp = c & 0x0f;
		more = 2;
	} else {
		cp = c & 0x07;
		more = 3;
	}
	it->p++;
	for (; more > 0 && (*it->p & 0xc0) == 0x80; more--)
		cp = cp << 6 | (*it->p++ & 0x3f);
	if (cp < 0x10000)
		return cp;
	cp -= 0x10000;
	it->pending = 0xdc00 | (cp & 0x3ff);
	return 0xd800 | (cp >> 10);
}

static int
jcs_name_cmp(const void *x, const void *y)
{
	struct jcs_utf16 a = { *(const unsigned char *const *)x, 0 };
	struct jcs_utf16 b = { *(const unsigned char *const *)y, 0 };

	for (;;) {
		long ca = jcs_utf16_next(&a), cb = jcs_utf16_next(&b);

		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (ca == -1)
			return 0;
	}
}

/* ---- values ------------------------------------------------------------- */

static void jcs_value(struct jcs_buf *b, const json_t *v);

static void
jcs_object(struct jcs_buf *b, const json_t *v)
{
	size_t n = json_object_size(v), i = 0;
	const char **names;
	const char *name;
	json_t *member;

	if ((names = calloc(n ? n : 1, sizeof(*names))) == NULL) {
		b->failed = 1;
		return;
	}
	json_object_foreach((json_t *)v, name, member)
		names[i++] = name;
	qsort(names, n, sizeof(*names), jcs_name_cmp);
	jcs_put(b, "{", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			jcs_put(b, ",", 1);
		jcs_string(b, names[i], strlen(names[i]));
		jcs_put(b, ":", 1);
		jcs_value(b, json_object_get(v, names[i]));
	}
	jcs_put(b, "}", 1);
	free(names);
}

static void
jcs_double(struct jcs_buf *b, double d)
{
	char num[JCS_NUMBER_LEN];

	if (jcs_number(d, num) != 0) {
		b->failed = 1;
		return;
	}
	jcs_puts(b, num);
}

static void
jcs_value(struct jcs_buf *b, const json_t *v)
{
	size_t i;
	json_t *item;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		jcs_object(b, v);
		break;
	case JSON_ARRAY:
		jcs_put(b, "[", 1);
		json_array_foreach((json_t *)v, i, item) {
			if (i > 0)
				jcs_put(b, ",", 1);
			jcs_value(b, item);
		}
		jcs_put(b, "]", 1);
		break;
	case JSON_STRING:
		jcs_string(b, json_string_value(v), json_string_length(v));
		break;
	/* JCS numbers are IEEE doubles (I-JSON): a larger integer is written
	 * as the double it reads back as, as JSON.stringify would. */
	case JSON_INTEGER:
		jcs_double(b, (double)json_integer_value(v));
		break;
	case JSON_REAL:
		jcs_double(b, json_real_value(v));
		break;
	case JSON_TRUE:
		jcs_puts(b, "true");
		break;
	case JSON_FALSE:
		jcs_puts(b, "false");
		break;
	case JSON_NULL:
		jcs_puts(b, "null");
		break;
	}
}

char *
jcs_dump(const json_t *v)
{
	struct jcs_buf b = { 0 };

	if (v == NULL)
		return NULL;
	jcs_value(&b, v);
	return jcs_buf_take(&b);
}
