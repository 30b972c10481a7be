/* file_inbox.c — the file connector's changes: JSONL and CSV files that
 * the service drops in DIR/inbox/.
 *
 * One call hands over the records of one file, the first by name, with
 * next_cursor naming that file ("INODE/NAME"). The file stays in the inbox
 * until a later call passes that cursor back, which the core only does
 * after it stored the records durably: then it moves to DIR/done/. So a
 * crash in between hands the same file over again (at least once), and
 * nothing is lost. When the inbox is empty the cursor is "", which
 * acknowledges nothing. A file that cannot be read whole goes to
 * DIR/failed/ at once, with NAME.reason saying which line and why (never a
 * value); the files after it are still processed.
 *
 * Producers should write under a name starting with '.' and rename it into
 * the inbox when complete: names starting with '.' are never read. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_io.h"

/* What went wrong in an inbox file: "line 3: local_id is missing". */
struct file_problem {
	char text[192];
};

static int file_fail(struct file_problem *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
file_fail(struct file_problem *p, size_t line, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(p->text, sizeof(p->text), "line %zu: ", line);
	va_start(ap, fmt);
	vsnprintf(p->text + n, sizeof(p->text) - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* The next line of data[*pos..len], without its CR LF or LF. */
static int
file_next_line(const char *data, size_t len, size_t *pos, const char **line,
    size_t *n)
{
	const char *nl;

	if (*pos >= len)
		return 0;
	*line = data + *pos;
	nl = memchr(*line, '\n', len - *pos);
	*n = nl ? (size_t)(nl - *line) : len - *pos;
	*pos += *n + (nl != NULL);
	if (*n > 0 && (*line)[*n - 1] == '\r')
		(*n)--;
	return 1;
}

static int
file_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	return 1;
}

static int
file_add_record(json_t *out, json_t *local_id, json_t *record)
{
	return json_array_append_new(out, json_pack("{s:O, s:O}", "local_id",
	    local_id, "record", record));
}

/* {"local_id": "...", "record": {...}} per line; other members (such as
 * the idempotency_key a jsonl push writes) are allowed and ignored. */
static int
file_parse_jsonl(const char *data, size_t len, json_t *out,
    struct file_problem *p)
{
	size_t pos = 0, n, lineno = 0;
	const char *line;

	while (file_next_line(data, len, &pos, &line, &n)) {
		json_t *v, *id, *rec;
		int ok;

		lineno++;
		if (file_blank(line, n))
			continue;
		if ((v = json_loadb(line, n, 0, NULL)) == NULL)
			return file_fail(p, lineno, "not valid JSON");
		id = json_object_get(v, "local_id");
		rec = json_object_get(v, "record");
		ok = json_is_object(v) && json_is_string(id) &&
		    json_string_length(id) > 0 && json_is_object(rec);
		if (ok)
			file_add_record(out, id, rec);
		json_decref(v);
		if (!ok)
			return file_fail(p, lineno, "expected an object with "
			    "a local_id string and a record object");
	}
	return 0;
}

/* 1 if data[i] ends a line: LF, or CR before LF or at the end. */
static int
file_csv_eol(const char *d, size_t len, size_t i)
{
	return d[i] == '\n' || (d[i] == '\r' && (i + 1 == len || d[i + 1] == '\n'));
}

/* Moves *pos past the line end there (CR LF, LF or a final CR). */
static void
file_csv_skip_eol(const char *d, size_t len, size_t *pos, size_t *line)
{
	*pos += d[*pos] == '\r' && *pos + 1 < len ? 2 : 1;
	(*line)++;
}

/* One field (RFC 4180) at data[*pos] into buf: quoted, with doubled quotes
 * and line breaks inside, or plain up to the next comma or line end.
 * *line counts the line breaks inside. 0, or -1 with p. */
static int
file_csv_field(const char *d, size_t len, size_t *pos, size_t *line,
    char *buf, size_t *blen, struct file_problem *p)
{
	size_t i = *pos, start = *line;

	*blen = 0;
	if (i < len && d[i] == '"') {
		for (i++;; i++) {
			if (i >= len)
				return file_fail(p, start, "a quoted field is "
				    "not closed");
			if (d[i] == '"' && (i + 1 >= len || d[i + 1] != '"'))
				break;
			if (d[i] == '"')
				i++;
			else if (d[i] == '\n')
				(*line)++;
			buf[(*blen)++] = d[i];
		}
		i++;
	} else {
		for (; i < len && d[i] != ',' && d[i] != '"' &&
		    !file_csv_eol(d, len, i); i++)
			buf[(*blen)++] = d[i];
	}
	*pos = i;
	if (i < len && d[i] != ',' && !file_csv_eol(d, len, i))
		return file_fail(p, *line, "a quote inside a field that is not "
		    "quoted, or text after a closing quote");
	return 0;
}

/* The next record of data[*pos..len] (RFC 4180: quoted fields may hold
 * commas, doubled quotes and line breaks), its fields appended to `fields`
 * as JSON strings, after skipping lines that hold only blanks. buf holds
 * len bytes. Returns 1 with a record starting on line *recline, 0 at the
 * end, or -1 with p. */
static int
file_csv_next(const char *d, size_t len, size_t *pos, size_t *line,
    char *buf, json_t *fields, size_t *recline, struct file_problem *p)
{
	for (;;) {
		size_t i = *pos;

		while (i < len && (d[i] == ' ' || d[i] == '\t'))
			i++;
		if (i >= len)
			return 0;
		if (!file_csv_eol(d, len, i))
			break;
		*pos = i;
		file_csv_skip_eol(d, len, pos, line);
	}
	*recline = *line;
	for (;;) {
		size_t blen;
		json_t *f;

		if (file_csv_field(d, len, pos, line, buf, &blen, p) != 0)
			return -1;
		/* The core reads records as JSON text, where a NUL cannot
		 * be: one would make the whole file unreadable, for ever. */
		if (memchr(buf, '\0', blen) != NULL)
			return file_fail(p, *line, "a NUL byte in a field");
		if ((f = json_stringn(buf, blen)) == NULL)
			return file_fail(p, *line, "not UTF-8");
		json_array_append_new(fields, f);
		if (*pos >= len)
			return 1;
		if (d[*pos] != ',') {
			file_csv_skip_eol(d, len, pos, line);
			return 1;
		}
		(*pos)++;
	}
}

/* The index of the local_id column; -1 with p when the header is wrong. */
static int
file_csv_id_column(json_t *header, struct file_problem *p)
{
	int id = -1;

	for (size_t i = 0; i < json_array_size(header); i++) {
		const char *name = json_string_value(json_array_get(header, i));

		if (*name == '\0')
			return file_fail(p, 1, "an empty column name");
		for (size_t j = 0; j < i; j++)
			if (strcmp(name, json_string_value(
			    json_array_get(header, j))) == 0)
				return file_fail(p, 1, "column '%.64s' twice",
				    name);
		if (strcmp(name, "local_id") == 0)
			id = (int)i;
	}
	if (id == -1)
		return file_fail(p, 1, "no local_id column");
	return id;
}

static int
file_csv_record(json_t *header, int id, json_t *fields, size_t lineno,
    json_t *out, struct file_problem *p)
{
	json_t *rec, *lid = json_array_get(fields, (size_t)id);

	if (json_array_size(fields) != json_array_size(header))
		return file_fail(p, lineno, "%zu fields, the header has %zu",
		    json_array_size(fields), json_array_size(header));
	if (json_string_length(lid) == 0)
		return file_fail(p, lineno, "the local_id is empty");
	rec = json_object();
	for (size_t i = 0; i < json_array_size(fields); i++) {
		json_t *v = json_array_get(fields, i);

		/* An empty field is an absent value, as in the writer. */
		if ((int)i != id && json_string_length(v) > 0)
			json_object_set(rec, json_string_value(
			    json_array_get(header, i)), v);
	}
	file_add_record(out, lid, rec);
	json_decref(rec);
	return 0;
}

/* A header naming the fields, local_id among them, then the records;
 * every value is a string, empty ones are left out. */
static int
file_parse_csv(const char *data, size_t len, json_t *out,
    struct file_problem *p)
{
	size_t pos = 0, line = 1, recline = 1;
	json_t *header = json_array();
	char *buf = malloc(len + 1);
	int id = -1, rc;

	if (buf == NULL || header == NULL)
		rc = file_fail(p, 1, "out of memory");
	else if ((rc = file_csv_next(data, len, &pos, &line, buf, header,
	    &recline, p)) == 0)
		rc = file_fail(p, 1, "no header");
	if (rc == 1 && (id = file_csv_id_column(header, p)) == -1)
		rc = -1;
	while (rc == 1) {
		json_t *fields = json_array();

		rc = file_csv_next(data, len, &pos, &line, buf, fields,
		    &recline, p);
		if (rc == 1 && file_csv_record(header, id, fields, recline, out,
		    p) != 0)
			rc = -1;
		json_decref(fields);
	}
	free(buf);
	json_decref(header);
	return rc;
}

static int
file_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), m = strlen(suffix);

	return n > m && strcmp(name + n - m, suffix) == 0;
}

static int
file_inbox_wanted(const char *name)
{
	return file_name_ok(name) && (file_suffix(name, ".jsonl") ||
	    file_suffix(name, ".csv"));
}

static int
file_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The inbox's file names, sorted; NULL-terminated, caller frees. */
static char **
file_inbox_list(struct file_conn *fc, int *err)
{
	char **names = NULL, **grown;
	size_t n = 0;
	struct dirent *e;
	int fd = dup(fc->inbox);
	DIR *d = fd == -1 ? NULL : fdopendir(fd);

	if (d == NULL) {
		*err = errno;
		if (fd != -1)
			close(fd);
		return NULL;
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		if (!file_inbox_wanted(e->d_name))
			continue;
		if ((grown = realloc(names, (n + 2) * sizeof(*names))) == NULL)
			break;
		names = grown;
		if ((names[n] = strdup(e->d_name)) != NULL)
			n++;
	}
	closedir(d);
	if (names == NULL && (names = calloc(1, sizeof(*names))) == NULL) {
		*err = ENOMEM;
		return NULL;
	}
	names[n] = NULL;
	qsort(names, n, sizeof(*names), file_name_cmp);
	return names;
}

static void
file_list_free(char **names)
{
	for (size_t i = 0; names != NULL && names[i] != NULL; i++)
		free(names[i]);
	free(names);
}

/* Moves a file that cannot be handed over to failed/, with its reason. */
static void
file_reject(struct file_conn *fc, const char *name, const char *why)
{
	char reason[FILE_NAME_MAX + 16], text[256];
	int e;

	snprintf(reason, sizeof(reason), "%s.reason", name);
	snprintf(text, sizeof(text), "%s\n", why);
	if ((e = file_replace(fc->failed, reason, text, strlen(text))) == 0)
		e = file_move(fc, name, fc->failed);
	if (e != 0)
		fc->env.log(CONNECTOR_LOG_ERROR, "%s: inbox file %s: cannot move "
		    "it to failed/: %s", fc->env.service, name, strerror(e));
	else
		fc->env.log(CONNECTOR_LOG_WARN, "%s: inbox file %s moved to "
		    "failed/: %s", fc->env.service, name, why);
}

/* Reads and parses inbox/name; 0 with its records in out, or -1 after
 * rejecting it. */
static int
file_take(struct file_conn *fc, const char *name, json_t *out, ino_t *ino)
{
	struct file_problem p;
	struct stat st;
	char *data = NULL;
	size_t len;
	int e, rc;

	if (fstatat(fc->inbox, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	*ino = st.st_ino;
	if ((e = file_read(fc->inbox, name, &data, &len)) != 0) {
		snprintf(p.text, sizeof(p.text), "cannot read it: %s",
		    e == ELOOP ? "a symlink, which is never followed" :
		    e == EINVAL ? "not a regular file" : strerror(e));
		file_reject(fc, name, p.text);
		return -1;
	}
	rc = file_suffix(name, ".csv") ? file_parse_csv(data, len, out, &p) :
	    file_parse_jsonl(data, len, out, &p);
	free(data);
	if (rc == -1) {
		json_array_clear(out);
		file_reject(fc, name, p.text);
	}
	return rc;
}

/* The file named by a cursor moves to done/, if it is still that file. */
static int
file_acknowledge(struct file_conn *fc, const char *cursor, char *detail,
    size_t len)
{
	const char *slash = strchr(cursor, '/');
	uintmax_t ino;
	struct stat st;
	char *end;
	int e;

	if (*cursor == '\0')
		return 0;
	ino = strtoumax(cursor, &end, 10);
	if (slash == NULL || end != slash || !file_name_ok(slash + 1)) {
		snprintf(detail, len, "the cursor is not one this connector "
		    "returned");
		return EINVAL;
	}
	if (fstatat(fc->inbox, slash + 1, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    (uintmax_t)st.st_ino != ino)
		return 0;
	if ((e = file_move(fc, slash + 1, fc->done)) != 0)
		snprintf(detail, len, "cannot move %s to done/: %s", slash + 1,
		    strerror(e));
	return e;
}

static void
file_changes_finish(connector_done_fn done, void *arg,
    enum connector_status st, json_t *body, const char *cursor,
    const char *detail)
{
	struct connector_result res = { .status = st, .next_cursor = cursor,
		.detail = detail };
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

	if (st == CONNECTOR_OK && text == NULL) {
		res.status = CONNECTOR_RETRY;
		res.detail = "out of memory";
	}
	res.body = text;
	res.body_len = text ? strlen(text) : 0;
	done(&res, arg);
	free(text);
}

void
file_changes(void *instance, const struct connector_request *req,
    connector_done_fn done, void *arg)
{
	struct file_conn *fc = instance;
	char detail[FILE_NAME_MAX + 64], cursor[FILE_NAME_MAX + 32] = "";
	json_t *out;
	char **names;
	ino_t ino;
	int e = 0;

	if (req->cursor != NULL && (e = file_acknowledge(fc, req->cursor,
	    detail, sizeof(detail))) != 0) {
		file_changes_finish(done, arg, e == EINVAL ? CONNECTOR_PERMANENT :
		    CONNECTOR_RETRY, NULL, NULL, detail);
		return;
	}
	if ((names = file_inbox_list(fc, &e)) == NULL) {
		snprintf(detail, sizeof(detail), "cannot list inbox/: %s",
		    strerror(e));
		file_changes_finish(done, arg, CONNECTOR_RETRY, NULL, NULL,
		    detail);
		return;
	}
	out = json_array();
	for (size_t i = 0; names[i] != NULL; i++) {
		if (file_take(fc, names[i], out, &ino) == 0) {
			snprintf(cursor, sizeof(cursor), "%ju/%s",
			    (uintmax_t)ino, names[i]);
			break;
		}
	}
	file_list_free(names);
	file_changes_finish(done, arg, CONNECTOR_OK, out, cursor, NULL);
	json_decref(out);
}
