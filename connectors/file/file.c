/* file.c — the `file` connector: services that exchange files in a folder.
 *
 *   DIR/<local id>.json     one record per subject: push (format json)
 *                           replaces it, fetch reads it
 *   DIR/<dataset>.jsonl     push (format jsonl) appends a line
 *                           {"local_id", "idempotency_key", "record"}
 *   DIR/<dataset>.csv       push (format csv) appends a row: local_id, then
 *                           `columns`; the header is written first
 *   DIR/.<file>.keys        the idempotency keys of the last appends to
 *                           <file>, so a retry appends nothing
 *                           (file_append.c)
 *   DIR/inbox/              JSONL or CSV files the service drops for
 *                           changes (file_inbox.c), moved to DIR/done/ or
 *                           DIR/failed/ once handled
 *
 * A record file is replaced atomically (file_io.c): a reader of the folder
 * sees a whole old file or a whole new one. Appends write in place, a
 * record at a time. Calls are synchronous, as the ABI allows:
 * local disk is fast, and an fsync is the price of not losing a delivery.
 * Local ids become file names only when they are plain names: nothing can
 * leave the folder, by name or through a symlink. Details never name the
 * file of a subject, since its name is the subject's local id. */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "columns.h"
#include "file_io.h"

static const struct connector_key file_keys[] = {
	{ "dir", CONNECTOR_KEY_PATH, NULL, 1,
	  offsetof(struct file_settings, dir),
	  "the service's folder (it must exist)" },
	{ "format", CONNECTOR_KEY_STRING, "json", 0,
	  offsetof(struct file_settings, format),
	  "push: json (a file per subject), jsonl or csv (a file per dataset)" },
	{ "columns", CONNECTOR_KEY_LIST, NULL, 0,
	  offsetof(struct file_settings, columns),
	  "csv: the fields written after local_id, in order" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

static int
file_validate_columns(const struct file_settings *s, char *err, size_t errlen)
{
	int csv = strcmp(s->format, "csv") == 0;

	if (!csv && s->columns.n > 0) {
		snprintf(err, errlen, "columns: only for format csv");
		return -1;
	}
	if (csv && s->columns.n == 0) {
		snprintf(err, errlen, "format csv needs columns, the fields "
		    "of a row");
		return -1;
	}
	for (size_t i = 0; i < s->columns.n; i++) {
		const char *c = s->columns.items[i];

		if (strcmp(c, "local_id") == 0) {
			snprintf(err, errlen, "columns: local_id is always the "
			    "first column; do not list it");
			return -1;
		}
	}
	return columns_unique(&s->columns, err, errlen);
}

static int
file_validate(const void *settings, char *err, size_t errlen)
{
	const struct file_settings *s = settings;

	if (strcmp(s->format, "json") != 0 && strcmp(s->format, "jsonl") != 0 &&
	    strcmp(s->format, "csv") != 0) {
		snprintf(err, errlen, "format: expected json, jsonl or csv");
		return -1;
	}
	return file_validate_columns(s, err, errlen);
}

/* ---- instances ----------------------------------------------------------- */

static int
file_subdir(int dirfd, const char *name)
{
	if (mkdirat(dirfd, name, 0750) == -1 && errno != EEXIST)
		return -1;
	return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
}

static void
file_destroy(void *instance)
{
	struct file_conn *fc = instance;
	int *fds[] = { &fc->dir, &fc->inbox, &fc->done, &fc->failed,
		&fc->lock };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] != -1)
			close(*fds[i]);
	free(fc);
}

/* Opens the folder, its subfolders and its lock file; -1 with *what
 * naming the one that failed (errno says why). */
static int
file_open_folder(struct file_conn *fc, const char **what)
{
	*what = fc->s->dir;
	if ((fc->dir = open(*what, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	*what = "inbox";
	if ((fc->inbox = file_subdir(fc->dir, *what)) == -1)
		return -1;
	*what = "done";
	if ((fc->done = file_subdir(fc->dir, *what)) == -1)
		return -1;
	*what = "failed";
	if ((fc->failed = file_subdir(fc->dir, *what)) == -1)
		return -1;
	*what = ".lock";
	fc->lock = openat(fc->dir, *what, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0640);
	return fc->lock == -1 ? -1 : 0;
}

static int
file_init(void **instance, const void *settings,
    const struct connector_env *env, char *err, size_t errlen)
{
	struct file_conn *fc = calloc(1, sizeof(*fc));
	const char *what;

	if (fc == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	fc->s = settings;
	fc->env = *env;
	fc->dir = fc->inbox = fc->done = fc->failed = fc->lock = -1;
	if (file_open_folder(fc, &what) == -1) {
		snprintf(err, errlen, "%s: %s", what, strerror(errno));
		file_destroy(fc);
		return -1;
	}
	*instance = fc;
	return 0;
}

/* ---- fetch and push ------------------------------------------------------ */

/* Errors a person can fix while the delivery waits (space, permissions)
 * are worth a retry; the rest will fail again. */
static enum connector_status
file_status(int e)
{
	switch (e) {
	case ENOSPC:
	case EDQUOT:
	case EIO:
	case EAGAIN:
	case EINTR:
	case ENOMEM:
	case EMFILE:
	case ENFILE:
	case EACCES:
	case EROFS:
		return CONNECTOR_RETRY;
	default:
		return CONNECTOR_PERMANENT;
	}
}

static const char *
file_why(int e)
{
	switch (e) {
	case ELOOP:
		return "the file is a symlink, which is never followed";
	case EINVAL:
		return "the file is not a regular file";
	case EFBIG:
		return "the file is larger than 16 MiB";
	default:
		return strerror(e);
	}
}

static void
file_finish(connector_done_fn done, void *arg, enum connector_status st,
    const char *body, size_t len, const char *detail)
{
	struct connector_result res = { .status = st, .body = body,
		.body_len = len, .detail = detail };

	done(&res, arg);
}

/* The record file of a local id, or -1 when the local id cannot be one. */
static int
file_record_name(const char *local_id, char *name, size_t len)
{
	if (!file_name_ok(local_id))
		return -1;
	snprintf(name, len, "%s.json", local_id);
	return 0;
}

static const char file_bad_id[] = "the local id cannot be a file name "
    "(empty, '/', a leading '.', control characters or over 200 bytes)";

static void
file_fetch(void *instance, const struct connector_request *req,
    connector_done_fn done, void *arg)
{
	struct file_conn *fc = instance;
	char name[FILE_NAME_MAX + 8], detail[128], *data = NULL;
	size_t len = 0;
	int e;

	if (file_record_name(req->local_id, name, sizeof(name)) == -1) {
		file_finish(done, arg, CONNECTOR_PERMANENT, NULL, 0, file_bad_id);
		return;
	}
	if ((e = file_read(fc->dir, name, &data, &len)) == ENOENT) {
		file_finish(done, arg, CONNECTOR_NOT_FOUND, NULL, 0, NULL);
		return;
	}
	if (e != 0) {
		snprintf(detail, sizeof(detail), "cannot read the record file: "
		    "%s", file_why(e));
		file_finish(done, arg, file_status(e), NULL, 0, detail);
		return;
	}
	file_finish(done, arg, CONNECTOR_OK, data, len, NULL);
	free(data);
}

/* A growing text; oom is set instead of failing at each step. */
struct file_text {
	char *s;
	size_t len, cap;
	int oom;
};

static void
file_add(struct file_text *t, const char *s, size_t n)
{
	char *p;

	if (t->oom)
		return;
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		if ((p = realloc(t->s, t->cap)) == NULL) {
			t->oom = 1;
			return;
		}
		t->s = p;
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

/* One CSV field, quoted when it must be (RFC 4180). */
static void
file_csv_field(struct file_text *t, const char *s)
{
	size_t n = strlen(s);

	if (strpbrk(s, ",\"\r\n") == NULL && (n == 0 || (s[0] != ' ' &&
	    s[n - 1] != ' '))) {
		file_add(t, s, n);
		return;
	}
	file_add(t, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			file_add(t, "\"", 1);
		file_add(t, s, 1);
	}
	file_add(t, "\"", 1);
}

/* A scalar as CSV text: strings as they are, numbers and booleans as
 * JSON writes them, null as nothing. */
static void
file_csv_value(struct file_text *t, json_t *v)
{
	char *text;

	if (v == NULL || json_is_null(v))
		return;
	if (json_is_string(v)) {
		file_csv_field(t, json_string_value(v));
		return;
	}
	if ((text = json_dumps(v, JSON_ENCODE_ANY)) == NULL) {
		t->oom = 1;
		return;
	}
	file_add(t, text, strlen(text));
	free(text);
}

/* The CSV row of a record, or -1 with detail. */
static int
file_csv_row(const struct file_settings *s, const char *local_id,
    json_t *rec, struct file_text *row, char *detail, size_t len)
{
	if (columns_check(&s->columns, rec, "a CSV field", detail, len) != 0)
		return -1;
	file_csv_field(row, local_id);
	for (size_t i = 0; i < s->columns.n; i++) {
		file_add(row, ",", 1);
		file_csv_value(row, json_object_get(rec, s->columns.items[i]));
	}
	file_add(row, "\n", 1);
	return 0;
}

/* The header of a new CSV file. Caller frees. */
static char *
file_csv_header(const struct file_settings *s)
{
	struct file_text t = { 0 };

	file_add(&t, "local_id", 8);
	for (size_t i = 0; i < s->columns.n; i++) {
		file_add(&t, ",", 1);
		file_csv_field(&t, s->columns.items[i]);
	}
	file_add(&t, "\n", 1);
	if (t.oom) {
		free(t.s);
		return NULL;
	}
	return t.s;
}

/* Appends the record to DIR/<dataset>.jsonl or .csv, once per
 * idempotency key (file_append.c). */
static int
file_append_record(struct file_conn *fc, const struct connector_request *req,
    json_t *rec, char *detail, size_t len)
{
	const struct file_settings *s = fc->s;
	int csv = strcmp(s->format, "csv") == 0, e;
	struct file_text line = { 0 };
	char name[FILE_NAME_MAX + 8], *header = NULL, *text;

	if (!file_name_ok(req->dataset)) {
		snprintf(detail, len, "the dataset name cannot be a file name");
		return EINVAL;
	}
	snprintf(name, sizeof(name), "%s.%s", req->dataset, s->format);
	if (csv) {
		if (file_csv_row(s, req->local_id, rec, &line, detail, len) == -1)
			return EINVAL;
		header = file_csv_header(s);
	} else {
		json_t *entry = json_pack("{s:s, s:s?, s:O}", "local_id",
		    req->local_id, "idempotency_key", req->idempotency_key,
		    "record", rec);

		if ((text = json_dumps(entry, JSON_COMPACT)) != NULL) {
			file_add(&line, text, strlen(text));
			file_add(&line, "\n", 1);
			free(text);
		}
		json_decref(entry);
	}
	if (line.s == NULL || line.oom || (csv && header == NULL))
		e = ENOMEM;
	else
		e = file_append(fc, name, header, line.s, line.len,
		    req->idempotency_key);
	if (e != 0)
		snprintf(detail, len, "cannot append to %.64s: %s", name,
		    file_why(e));
	free(line.s);
	free(header);
	return e;
}

static void
file_push(void *instance, const struct connector_request *req,
    connector_done_fn done, void *arg)
{
	struct file_conn *fc = instance;
	char name[FILE_NAME_MAX + 8], detail[256];
	json_error_t jerr;
	json_t *rec;
	int e;

	if (file_record_name(req->local_id, name, sizeof(name)) == -1) {
		file_finish(done, arg, CONNECTOR_PERMANENT, NULL, 0, file_bad_id);
		return;
	}
	rec = json_loadb(req->body ? req->body : "", req->body_len, 0, &jerr);
	if (!json_is_object(rec)) {
		json_decref(rec);
		file_finish(done, arg, CONNECTOR_PERMANENT, NULL, 0,
		    "the record is not a JSON object");
		return;
	}
	if (strcmp(fc->s->format, "json") == 0) {
		e = file_replace(fc->dir, name, req->body, req->body_len);
		if (e != 0)
			snprintf(detail, sizeof(detail), "cannot write the "
			    "record file: %s", file_why(e));
	} else
		e = file_append_record(fc, req, rec, detail, sizeof(detail));
	json_decref(rec);
	file_finish(done, arg, e == 0 ? CONNECTOR_OK : file_status(e), NULL, 0,
	    e == 0 ? NULL : detail);
}

/* Up when the folder can be written. */
static void
file_health(void *instance, connector_done_fn done, void *arg)
{
	struct file_conn *fc = instance;
	char detail[128];

	if (faccessat(fc->dir, "inbox", R_OK | W_OK | X_OK, AT_EACCESS) == 0) {
		file_finish(done, arg, CONNECTOR_OK, NULL, 0, NULL);
		return;
	}
	snprintf(detail, sizeof(detail), "the folder cannot be used: %s",
	    strerror(errno));
	file_finish(done, arg, file_status(errno), NULL, 0, detail);
}

const struct connector_ops file_connector_ops = {
	.abi_version = CONNECTOR_ABI_VERSION,
	.name = "file",
	.keys = file_keys,
	.settings_size = sizeof(struct file_settings),
	.validate = file_validate,
	.init = file_init,
	.fetch = file_fetch,
	.push = file_push,
	.changes = file_changes,
	.health = file_health,
	.destroy = file_destroy,
};
