/* mapping.c — a service's own JSON <-> a dataset's attributes.
 *
 * A connector's map may cover several datasets, so each entry is matched to
 * ds by attribute name; entries of other datasets are skipped. With a map,
 * an attribute that has no entry is not exchanged with that service.
 *
 * Reading, an entry's value is the one at its path (or none), then each
 * transform in turn; what is left, if anything, must have the attribute's
 * type. Writing, the attribute's value must have its type, then the
 * transforms are undone from last to first: trim, upper and lower apply as
 * they are, date converts back, default has nothing to undo; an entry with
 * concat, split or constant cannot be written back and is skipped.
 *
 * Errors name the attribute and the path, never the value: a failure is a
 * per-record error that retrying cannot fix. */
#include "mapping.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "jsonutil.h"

#define MAPPING_DATE_MAX 64 /* bytes of a formatted date */

static const char *
mapping_type_name(enum config_attr_type t)
{
	switch (t) {
	case CONFIG_ATTR_STRING:
		return "a string";
	case CONFIG_ATTR_INTEGER:
		return "an integer";
	case CONFIG_ATTR_NUMBER:
		return "a number";
	case CONFIG_ATTR_BOOLEAN:
		return "a boolean";
	case CONFIG_ATTR_DATE:
		return "a date (YYYY-MM-DD)";
	}
	return "of a known type";
}

int
mapping_type_ok(enum config_attr_type t, const json_t *v)
{
	int64_t ms;

	switch (t) {
	case CONFIG_ATTR_STRING:
		return json_is_string(v);
	case CONFIG_ATTR_INTEGER:
		return json_is_integer(v);
	case CONFIG_ATTR_NUMBER:
		return json_is_number(v);
	case CONFIG_ATTR_BOOLEAN:
		return json_is_boolean(v);
	case CONFIG_ATTR_DATE:
		/* The length check keeps out the RFC 3339 timestamps (and
		 * embedded NULs) that clock_parse_rfc3339 also accepts. */
		return json_is_string(v) && json_string_length(v) == 10 &&
		    strlen(json_string_value(v)) == 10 &&
		    clock_parse_rfc3339(json_string_value(v), &ms) == 0;
	}
	return 0;
}

json_t *
mapping_scalar(enum config_attr_type t, const char *text)
{
	json_t *v = NULL;
	char *end;

	errno = 0;
	switch (t) {
	case CONFIG_ATTR_STRING:
	case CONFIG_ATTR_DATE:
		v = json_string(text);
		break;
	case CONFIG_ATTR_INTEGER:
	case CONFIG_ATTR_NUMBER: {
		long long n = strtoll(text, &end, 10);
		double d;

		if (errno == 0 && end != text && *end == '\0') {
			v = json_integer(n);
			break;
		}
		errno = 0;
		d = strtod(text, &end);
		if (t == CONFIG_ATTR_NUMBER && errno == 0 && end != text &&
		    *end == '\0' && isfinite(d))
			v = json_real(d);
		break;
	}
	case CONFIG_ATTR_BOOLEAN:
		if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0)
			v = json_boolean(text[0] == 't');
		break;
	}
	if (v != NULL && !mapping_type_ok(t, v)) {
		json_decref(v);
		return NULL;
	}
	return v;
}

/* ---- dates --------------------------------------------------------------- */

static const char *const mapping_date_tokens[] = { "YYYY", "MM", "DD" };

/* The token fmt starts with (0 YYYY, 1 MM, 2 DD), or -1. */
static int
mapping_date_token(const char *fmt)
{
	for (int i = 0; i < 3; i++)
		if (strncmp(fmt, mapping_date_tokens[i],
		    strlen(mapping_date_tokens[i])) == 0)
			return i;
	return -1;
}

int
mapping_date_format_ok(const char *fmt)
{
	int seen[3] = { 0, 0, 0 }, tok;

	if (strlen(fmt) > 32)
		return 0;
	while (*fmt != '\0') {
		if ((tok = mapping_date_token(fmt)) >= 0) {
			if (seen[tok]++)
				return 0;
			fmt += strlen(mapping_date_tokens[tok]);
		} else if (*fmt == 'Y' || *fmt == 'M' || *fmt == 'D')
			return 0;
		else
			fmt++;
	}
	return seen[0] && seen[1] && seen[2];
}

/* Up to max digits (at least min) of *s into *n. */
static int
mapping_digits(const char **s, int min, int max, int *n)
{
	int i;

	*n = 0;
	for (i = 0; i < max && isdigit((unsigned char)(*s)[i]); i++)
		*n = *n * 10 + ((*s)[i] - '0');
	*s += i;
	return i >= min ? 0 : -1;
}

static int
mapping_real_day(int y, int m, int d)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (y < 1 || m < 1 || m > 12 || d < 1)
		return 0;
	return d <= days[m - 1] + (m == 2 && leap);
}

/* Reads s as written in fmt (days and months may have one digit);
 * -1 unless all of s matches and names a real day. */
static int
mapping_date_parse(const char *s, const char *fmt, int ymd[3])
{
	static const int width[] = { 4, 2, 2 };
	int tok;

	while (*fmt != '\0') {
		if ((tok = mapping_date_token(fmt)) >= 0) {
			if (mapping_digits(&s, tok == 0 ? 4 : 1, width[tok],
			    &ymd[tok]) == -1)
				return -1;
			fmt += strlen(mapping_date_tokens[tok]);
		} else if (*s++ != *fmt++)
			return -1;
	}
	return *s == '\0' && mapping_real_day(ymd[0], ymd[1], ymd[2]) ? 0 : -1;
}

static void
mapping_date_format(const int ymd[3], const char *fmt,
    char out[MAPPING_DATE_MAX])
{
	size_t n = 0;
	int tok;

	while (*fmt != '\0' && n < MAPPING_DATE_MAX - 5) {
		if ((tok = mapping_date_token(fmt)) >= 0) {
			n += (size_t)snprintf(out + n, MAPPING_DATE_MAX - n,
			    tok == 0 ? "%04d" : "%02d", ymd[tok]);
			fmt += strlen(mapping_date_tokens[tok]);
		} else
			out[n++] = *fmt++;
	}
	out[n] = '\0';
}

/* ---- transforms ---------------------------------------------------------- */

/* What the messages call an entry: "attribute birthdate (path naissance)". */
struct mapping_ctx {
	const struct config_attribute *attr;
	const char *path;
	char *err;
	size_t errlen;
};

static int mapping_fail(const struct mapping_ctx *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static int
mapping_fail(const struct mapping_ctx *c, const char *fmt, ...)
{
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "attribute %s (path %s) %s", c->attr->name,
	    c->path ? c->path : "computed", why);
	return -1;
}

static int
mapping_is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
	    ch == '\f' || ch == '\v';
}

static json_t *
mapping_trim(const char *s, size_t n)
{
	while (n > 0 && mapping_is_space(*s))
		s++, n--;
	while (n > 0 && mapping_is_space(s[n - 1]))
		n--;
	return json_stringn(s, n);
}

/* ASCII and the Latin-1 letters (é, ë, ç...; U+00C0 to U+00FE), which are
 * what names and addresses in the services we talk to use. In UTF-8 those
 * are 0xC3 then 0x80-0x9E (upper) or 0xA0-0xBE (lower), 0x20 apart; the
 * signs × and ÷ sit at 0x97 and 0xB7. */
static json_t *
mapping_case(const char *s, size_t n, int upper)
{
	char *out = malloc(n + 1);
	json_t *v;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i], nx;

		if (ch < 0x80) {
			out[i] = (char)(upper ? toupper(ch) : tolower(ch));
			continue;
		}
		out[i] = (char)ch;
		if (ch != 0xC3 || i + 1 >= n)
			continue;
		nx = (unsigned char)s[++i];
		if (upper && nx >= 0xA0 && nx <= 0xBE && nx != 0xB7)
			nx -= 0x20;
		else if (!upper && nx >= 0x80 && nx <= 0x9E && nx != 0x97)
			nx += 0x20;
		out[i] = (char)nx;
	}
	v = json_stringn(out, n);
	free(out);
	return v;
}

static json_t *
mapping_split(const char *s, const char *sep, int64_t index)
{
	size_t seplen = strlen(sep), nparts = 1;
	const char *p, *start = s;
	int64_t want = index;

	for (p = s; (p = strstr(p, sep)) != NULL; p += seplen)
		nparts++;
	if (want < 0)
		want += (int64_t)nparts;
	if (want < 0 || want >= (int64_t)nparts)
		return NULL;
	for (; want > 0; want--)
		start = strstr(start, sep) + seplen;
	p = strstr(start, sep);
	return json_stringn(start, p ? (size_t)(p - start) : strlen(start));
}

/* The present parts of a concat, as text, joined with sep; NULL when none
 * is present. -1 when a part is an object or a list. */
static int
mapping_concat(const struct mapping_ctx *c, const struct config_transform *t,
    const json_t *raw, json_t **out)
{
	const char *sep = t->sep ? t->sep : "";
	size_t len = 0, cap = 64;
	char *buf = malloc(cap);
	int parts = 0;

	*out = NULL;
	for (size_t i = 0; buf != NULL && i < t->npaths; i++) {
		json_t *v = jsonutil_path_get(raw, t->paths[i]);
		char *text;
		size_t n;

		if (v == NULL || json_is_null(v))
			continue;
		if (json_is_object(v) || json_is_array(v)) {
			free(buf);
			return mapping_fail(c, "cannot concatenate %s, an "
			    "object or a list", t->paths[i]);
		}
		text = json_is_string(v) ? strdup(json_string_value(v)) :
		    json_dumps(v, JSON_ENCODE_ANY);
		n = text ? strlen(text) : 0;
		if (text != NULL && len + n + strlen(sep) + 1 > cap) {
			char *grown;

			cap = (len + n + strlen(sep) + 1) * 2;
			if ((grown = realloc(buf, cap)) == NULL)
				free(buf);
			buf = grown;
		}
		if (text != NULL && buf != NULL)
			len += (size_t)snprintf(buf + len, cap - len, "%s%s",
			    parts++ ? sep : "", text);
		free(text);
	}
	if (buf == NULL)
		return mapping_fail(c, "cannot be built: out of memory");
	if (parts > 0)
		*out = json_stringn(buf, len);
	free(buf);
	return 0;
}

/* Applies one text transform (trim, upper, lower, date from→to, split)
 * to *v, a string. */
static int
mapping_text(const struct mapping_ctx *c, const struct config_transform *t,
    int undo, json_t **v)
{
	const char *s = json_string_value(*v);
	size_t n = json_string_length(*v);
	char date[MAPPING_DATE_MAX];
	const char *from, *to;
	json_t *out = NULL;
	int ymd[3];

	if (!json_is_string(*v))
		return mapping_fail(c, "is not a string, which %s needs",
		    t->kind == CONFIG_TRANSFORM_DATE ? "a date conversion" :
		    "a text transform");
	switch (t->kind) {
	case CONFIG_TRANSFORM_TRIM:
		out = mapping_trim(s, n);
		break;
	case CONFIG_TRANSFORM_UPPER:
	case CONFIG_TRANSFORM_LOWER:
		out = mapping_case(s, n, t->kind == CONFIG_TRANSFORM_UPPER);
		break;
	case CONFIG_TRANSFORM_DATE:
		from = undo ? t->to : t->from;
		to = undo ? t->from : t->to;
		if (strlen(s) != n || mapping_date_parse(s, from, ymd) == -1)
			return mapping_fail(c, "is not a date written %s",
			    from);
		mapping_date_format(ymd, to, date);
		out = json_string(date);
		break;
	default:
		out = mapping_split(s, t->sep, t->index);
		break;
	}
	json_decref(*v);
	*v = out;
	return 0;
}

/* Runs an entry's transforms for reading; *v (a reference, or NULL when
 * the service has no value) is replaced. */
static int
mapping_read(const struct mapping_ctx *c, const struct config_mapping *m,
    const json_t *raw, json_t **v)
{
	for (size_t i = 0; i < m->ntransforms; i++) {
		const struct config_transform *t = &m->transforms[i];

		switch (t->kind) {
		case CONFIG_TRANSFORM_CONCAT:
			json_decref(*v);
			if (mapping_concat(c, t, raw, v) == -1)
				return -1;
			break;
		case CONFIG_TRANSFORM_CONSTANT:
			json_decref(*v);
			*v = mapping_scalar(c->attr->type, t->value);
			break;
		case CONFIG_TRANSFORM_DEFAULT:
			if (*v == NULL)
				*v = mapping_scalar(c->attr->type, t->value);
			break;
		default:
			if (*v != NULL && mapping_text(c, t, 0, v) == -1)
				return -1;
			break;
		}
	}
	return 0;
}

/* 1 when the entry cannot be written back to the service. */
static int
mapping_read_only(const struct config_mapping *m)
{
	if (m->path == NULL)
		return 1;
	for (size_t i = 0; i < m->ntransforms; i++)
		if (m->transforms[i].kind == CONFIG_TRANSFORM_CONCAT ||
		    m->transforms[i].kind == CONFIG_TRANSFORM_SPLIT ||
		    m->transforms[i].kind == CONFIG_TRANSFORM_CONSTANT)
			return 1;
	return 0;
}

/* Undoes an entry's transforms for writing, from the last to the first. */
static int
mapping_write(const struct mapping_ctx *c, const struct config_mapping *m,
    json_t **v)
{
	for (size_t i = m->ntransforms; i-- > 0;) {
		const struct config_transform *t = &m->transforms[i];

		if (t->kind != CONFIG_TRANSFORM_DEFAULT &&
		    mapping_text(c, t, 1, v) == -1)
			return -1;
	}
	return 0;
}

/* ---- entries ------------------------------------------------------------- */

static size_t
mapping_count(const struct config_connector *conn,
    const struct config_dataset *ds)
{
	return conn != NULL && conn->nmap > 0 ? conn->nmap : ds->nattributes;
}

/* The i-th entry and the attribute of ds it maps, or NULL if the entry
 * belongs to another dataset. Without a map, the entry is made up in
 * *plain: the attribute under its own name. */
static const struct config_mapping *
mapping_entry(const struct config_connector *conn,
    const struct config_dataset *ds, size_t i, struct config_mapping *plain,
    const struct config_attribute **attr)
{
	if (conn == NULL || conn->nmap == 0) {
		memset(plain, 0, sizeof(*plain));
		plain->attribute = *attr = &ds->attributes[i];
		plain->path = ds->attributes[i].name;
		return plain;
	}
	*attr = config_find_attribute(ds, conn->map[i].attribute->name);
	return *attr ? &conn->map[i] : NULL;
}

static int
mapping_check(const struct mapping_ctx *c, const json_t *v)
{
	if (mapping_type_ok(c->attr->type, v))
		return 0;
	return mapping_fail(c, "is not %s", mapping_type_name(c->attr->type));
}

int
mapping_reads(const struct config_connector *conn,
    const struct config_dataset *ds, const char *path)
{
	size_t n = mapping_count(conn, ds);

	for (size_t i = 0; i < n; i++) {
		const struct config_attribute *attr;
		const struct config_mapping *m;
		struct config_mapping plain;

		if ((m = mapping_entry(conn, ds, i, &plain, &attr)) == NULL)
			continue;
		if (m->path != NULL && strcmp(m->path, path) == 0)
			return 1;
		for (size_t t = 0; t < m->ntransforms; t++)
			for (size_t k = 0; k < m->transforms[t].npaths; k++)
				if (strcmp(m->transforms[t].paths[k], path) == 0)
					return 1;
	}
	return 0;
}

int
mapping_to_dataset(const struct config_connector *conn,
    const struct config_dataset *ds, const json_t *raw, json_t **out,
    char *err, size_t errlen)
{
	json_t *attrs = json_object();
	size_t i, n = mapping_count(conn, ds);

	*out = NULL;
	if (attrs == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		const struct config_mapping *m;
		struct config_mapping plain;
		struct mapping_ctx c = { .err = err, .errlen = errlen };
		json_t *v = NULL;

		if ((m = mapping_entry(conn, ds, i, &plain, &c.attr)) == NULL)
			continue;
		c.path = m->path;
		if (m->path != NULL && (v = jsonutil_path_get(raw, m->path)))
			v = json_is_null(v) ? NULL : json_incref(v);
		if (mapping_read(&c, m, raw, &v) == -1 ||
		    (v != NULL && mapping_check(&c, v) == -1)) {
			json_decref(v);
			json_decref(attrs);
			return -1;
		}
		if (v != NULL)
			json_object_set_new(attrs, c.attr->name, v);
	}
	*out = attrs;
	return 0;
}

int
mapping_from_dataset(const struct config_connector *conn,
    const struct config_dataset *ds, const json_t *attrs, json_t **out,
    char *err, size_t errlen)
{
	json_t *raw = json_object();
	size_t i, n = mapping_count(conn, ds);

	*out = NULL;
	if (raw == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		const struct config_mapping *m;
		struct config_mapping plain;
		struct mapping_ctx c = { .err = err, .errlen = errlen };
		json_t *v;

		m = mapping_entry(conn, ds, i, &plain, &c.attr);
		if (m == NULL || mapping_read_only(m))
			continue;
		c.path = m->path;
		v = json_object_get(attrs, c.attr->name);
		if (v == NULL || json_is_null(v))
			continue;
		if (mapping_check(&c, v) == -1)
			goto fail;
		json_incref(v);
		if (mapping_write(&c, m, &v) == -1) {
			json_decref(v);
			goto fail;
		}
		if (v == NULL) {
			mapping_fail(&c, "cannot be written: out of memory");
			goto fail;
		}
		/* Two entries must not claim the same place ("a" and "a.b");
		 * path_set takes v even when it fails. */
		if (jsonutil_path_get(raw, m->path) != NULL) {
			json_decref(v);
			v = NULL;
		}
		if (v == NULL || jsonutil_path_set(raw, m->path, v) == -1) {
			mapping_fail(&c, "collides with another mapped path");
			goto fail;
		}
	}
	*out = raw;
	return 0;
fail:
	json_decref(raw);
	return -1;
}
