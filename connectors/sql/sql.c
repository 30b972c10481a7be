/* sql.c — the `sql` connector: one table of a service's database.
 *
 * fetch   SELECT the configured columns of the row whose key_column is the
 *         local id;
 * push    INSERT ... ON CONFLICT (key_column) DO UPDATE, in a transaction,
 *         with the record's fields as the columns;
 * changes the rows past the cursor, ordered by (cursor_column, key_column),
 *         so rows sharing an updated_at are neither skipped nor repeated.
 *
 * Identifiers come from the YAML only; they are checked against
 * [A-Za-z_][A-Za-z0-9_]{0,62} at load and always double-quoted. Values
 * (local ids, record fields, cursors) are always bound parameters. Every
 * statement is written once in the SQL that SQLite and PostgreSQL share,
 * with $1..$n parameters, and runs through a driver (sql_driver.h).
 *
 * Calls are synchronous: they complete, done callback included, before
 * they return (the ABI allows it); each instance, that is each event loop,
 * has its own connection, opened on first use and again after it broke. */
#include "sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "columns.h"
#include "sql_driver.h"

#define SQL_IDENT_MAX 63

struct sql {
	const struct sql_settings *s;
	const struct sql_driver *driver;
	struct connector_env env;
	void *db;
	char *fetch_sql;
	char *changes_first_sql;  /* no cursor yet */
	char *changes_next_sql;   /* $1 = cursor value, $2 = key */
};

static const struct connector_key sql_keys[] = {
	{ "driver", CONNECTOR_KEY_STRING, NULL, 1,
	  offsetof(struct sql_settings, driver), "sqlite or postgresql" },
	{ "path", CONNECTOR_KEY_PATH, NULL, 0,
	  offsetof(struct sql_settings, path),
	  "sqlite: the database file (it must exist)" },
	{ "dsn", CONNECTOR_KEY_SECRET, NULL, 0,
	  offsetof(struct sql_settings, dsn),
	  "postgresql: connection string or URI, from env: or file:" },
	{ "table", CONNECTOR_KEY_STRING, NULL, 1,
	  offsetof(struct sql_settings, table), "the table holding the records" },
	{ "key_column", CONNECTOR_KEY_STRING, NULL, 1,
	  offsetof(struct sql_settings, key_column),
	  "the column holding the local id (unique)" },
	{ "columns", CONNECTOR_KEY_LIST, NULL, 1,
	  offsetof(struct sql_settings, columns),
	  "the columns exchanged; map names them as the service's fields" },
	{ "cursor_column", CONNECTOR_KEY_STRING, NULL, 0,
	  offsetof(struct sql_settings, cursor_column),
	  "changes: a column that grows on every write (sequence, updated_at)" },
	{ "batch", CONNECTOR_KEY_INT, "100", 0,
	  offsetof(struct sql_settings, batch), "changes: most rows per call" },
	{ "timeout", CONNECTOR_KEY_DURATION, "5s", 0,
	  offsetof(struct sql_settings, timeout_ms),
	  "longest wait for a lock (sqlite) or a statement (postgresql)" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

/* ---- settings ------------------------------------------------------------ */

static int
sql_valid_ident(const char *s)
{
	size_t n = 0;

	if (s == NULL || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
	    *s == '_'))
		return 0;
	for (; *s != '\0'; s++, n++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return n <= SQL_IDENT_MAX;
}

static int
sql_check_ident(const char *key, const char *name, char *err, size_t errlen)
{
	if (sql_valid_ident(name))
		return 0;
	/* The name is configuration, not personal data: show it. */
	snprintf(err, errlen, "%s: '%s' is not a plain SQL identifier (letters, "
	    "digits and _, not starting with a digit, at most %d)", key, name,
	    SQL_IDENT_MAX);
	return -1;
}

static const struct sql_driver *
sql_driver_of(const struct sql_settings *s)
{
	if (strcmp(s->driver, "sqlite") == 0)
		return &sql_sqlite_driver;
	if (strcmp(s->driver, "postgresql") == 0)
		return &sql_pg_driver;
	return NULL;
}

static int
sql_validate_driver(const struct sql_settings *s, char *err, size_t errlen)
{
	const struct sql_driver *d = sql_driver_of(s);

	if (d == NULL)
		snprintf(err, errlen, "driver: expected sqlite or postgresql");
	else if (d == &sql_sqlite_driver && (s->path == NULL || s->dsn != NULL))
		snprintf(err, errlen, "driver sqlite needs path, not dsn");
	else if (d == &sql_pg_driver && (s->dsn == NULL || s->path != NULL))
		snprintf(err, errlen, "driver postgresql needs dsn, not path");
	else
		return 0;
	return -1;
}

static int
sql_validate_columns(const struct sql_settings *s, char *err, size_t errlen)
{
	if (s->columns.n == 0) {
		snprintf(err, errlen, "columns: list at least one column");
		return -1;
	}
	for (size_t i = 0; i < s->columns.n; i++) {
		const char *c = s->columns.items[i];

		if (sql_check_ident("columns", c, err, errlen) == -1)
			return -1;
		if (strcmp(c, s->key_column) == 0) {
			snprintf(err, errlen, "columns: '%s' is the key_column, "
			    "which holds the local id, not a field", c);
			return -1;
		}
	}
	return columns_unique(&s->columns, err, errlen);
}

static int
sql_validate(const void *settings, char *err, size_t errlen)
{
	const struct sql_settings *s = settings;

	if (sql_validate_driver(s, err, errlen) == -1 ||
	    sql_check_ident("table", s->table, err, errlen) == -1 ||
	    sql_check_ident("key_column", s->key_column, err, errlen) == -1 ||
	    (s->cursor_column != NULL && sql_check_ident("cursor_column",
	    s->cursor_column, err, errlen) == -1) ||
	    sql_validate_columns(s, err, errlen) == -1)
		return -1;
	if (s->batch < 1 || s->batch > 10000) {
		snprintf(err, errlen, "batch: expected 1 to 10000");
		return -1;
	}
	return 0;
}

/* ---- statements ---------------------------------------------------------- */

/* A growing SQL text; aborts on allocation failure like the config loader,
 * since statements are built at init and on push only. */
struct sql_text {
	char *s;
	size_t len, cap;
};

static void
sql_add(struct sql_text *t, const char *s)
{
	size_t n = strlen(s);

	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		if ((t->s = realloc(t->s, t->cap)) == NULL)
			abort();
	}
	memcpy(t->s + t->len, s, n + 1);
	t->len += n;
}

/* A validated identifier, quoted: it cannot contain a quote. */
static void
sql_add_ident(struct sql_text *t, const char *name)
{
	sql_add(t, "\"");
	sql_add(t, name);
	sql_add(t, "\"");
}

static void
sql_add_columns(struct sql_text *t, const struct sql_settings *s)
{
	for (size_t i = 0; i < s->columns.n; i++) {
		sql_add(t, ", ");
		sql_add_ident(t, s->columns.items[i]);
	}
}

/* SELECT key, columns... FROM table: the head of every query, so a row is
 * [key, column values...] everywhere. */
static void
sql_add_select(struct sql_text *t, const struct sql_settings *s,
    int with_cursor)
{
	sql_add(t, "SELECT ");
	sql_add_ident(t, s->key_column);
	sql_add_columns(t, s);
	if (with_cursor) {
		sql_add(t, ", ");
		sql_add_ident(t, s->cursor_column);
	}
	sql_add(t, " FROM ");
	sql_add_ident(t, s->table);
}

static char *
sql_fetch_sql(const struct sql_settings *s)
{
	struct sql_text t = { 0 };

	sql_add_select(&t, s, 0);
	sql_add(&t, " WHERE ");
	sql_add_ident(&t, s->key_column);
	sql_add(&t, " = $1 LIMIT 1");
	return t.s;
}

static char *
sql_changes_sql(const struct sql_settings *s, int after)
{
	struct sql_text t = { 0 };
	char limit[32];

	sql_add_select(&t, s, 1);
	sql_add(&t, " WHERE ");
	sql_add_ident(&t, s->cursor_column);
	if (after) {
		sql_add(&t, " > $1 OR (");
		sql_add_ident(&t, s->cursor_column);
		sql_add(&t, " = $1 AND ");
		sql_add_ident(&t, s->key_column);
		sql_add(&t, " > $2)");
	} else
		sql_add(&t, " IS NOT NULL");
	sql_add(&t, " ORDER BY ");
	sql_add_ident(&t, s->cursor_column);
	sql_add(&t, ", ");
	sql_add_ident(&t, s->key_column);
	snprintf(limit, sizeof(limit), " LIMIT %lld", (long long)s->batch);
	sql_add(&t, limit);
	return t.s;
}

/* INSERT ... ON CONFLICT DO UPDATE for the key and the columns present in
 * the record (given by their indexes in s->columns). */
static char *
sql_upsert_sql(const struct sql_settings *s, const size_t *cols, size_t n)
{
	struct sql_text t = { 0 };
	char param[24];

	sql_add(&t, "INSERT INTO ");
	sql_add_ident(&t, s->table);
	sql_add(&t, " (");
	sql_add_ident(&t, s->key_column);
	for (size_t i = 0; i < n; i++) {
		sql_add(&t, ", ");
		sql_add_ident(&t, s->columns.items[cols[i]]);
	}
	sql_add(&t, ") VALUES ($1");
	for (size_t i = 0; i < n; i++) {
		snprintf(param, sizeof(param), ", $%zu", i + 2);
		sql_add(&t, param);
	}
	sql_add(&t, ") ON CONFLICT (");
	sql_add_ident(&t, s->key_column);
	sql_add(&t, n == 0 ? ") DO NOTHING" : ") DO UPDATE SET ");
	for (size_t i = 0; i < n; i++) {
		const char *c = s->columns.items[cols[i]];

		if (i > 0)
			sql_add(&t, ", ");
		sql_add_ident(&t, c);
		sql_add(&t, " = excluded.");
		sql_add_ident(&t, c);
	}
	return t.s;
}

/* ---- instances ----------------------------------------------------------- */

static int
sql_init(void **instance, const void *settings,
    const struct connector_env *env, char *err, size_t errlen)
{
	const struct sql_settings *s = settings;
	struct sql *q = calloc(1, sizeof(*q));

	if (q == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	q->s = s;
	q->driver = sql_driver_of(s);
	q->env = *env;
	q->fetch_sql = sql_fetch_sql(s);
	if (s->cursor_column != NULL) {
		q->changes_first_sql = sql_changes_sql(s, 0);
		q->changes_next_sql = sql_changes_sql(s, 1);
	}
	*instance = q;
	return 0;
}

static void
sql_destroy(void *instance)
{
	struct sql *q = instance;

	if (q->db != NULL)
		q->driver->close(q->db);
	free(q->fetch_sql);
	free(q->changes_first_sql);
	free(q->changes_next_sql);
	free(q);
}

/* The instance's connection, (re)opened when needed. */
static enum connector_status
sql_connect(struct sql *q, char *err, size_t errlen)
{
	if (q->db != NULL && q->driver->broken(q->db)) {
		q->env.log(CONNECTOR_LOG_WARN, "%s: %s connection lost, "
		    "reconnecting", q->env.service, q->driver->name);
		q->driver->close(q->db);
		q->db = NULL;
	}
	if (q->db == NULL && (q->db = q->driver->open(q->s, err, errlen)) == NULL)
		return CONNECTOR_RETRY;
	return CONNECTOR_OK;
}

static enum connector_status
sql_run(struct sql *q, const char *sql, json_t *const *params, size_t n,
    json_t *rows, char *err, size_t errlen)
{
	enum connector_status st = sql_connect(q, err, errlen);

	if (st != CONNECTOR_OK)
		return st;
	return q->driver->run(q->db, sql, params, n, rows, err, errlen);
}

/* Hands `body` (a new reference, may be NULL) to done as JSON text. */
static void
sql_finish(connector_done_fn done, void *arg, enum connector_status st,
    json_t *body, const char *cursor, const char *detail)
{
	struct connector_result res = { .status = st, .detail = detail,
		.next_cursor = cursor };
	char *text = NULL;

	if (st == CONNECTOR_OK && body != NULL) {
		if ((text = json_dumps(body, JSON_COMPACT)) == NULL) {
			res.status = CONNECTOR_RETRY;
			res.detail = "out of memory";
		}
		res.body = text;
		res.body_len = text ? strlen(text) : 0;
	}
	done(&res, arg);
	free(text);
	json_decref(body);
}

/* {column: value} of a row [key, columns...]. */
static json_t *
sql_record(const struct sql_settings *s, json_t *row)
{
	json_t *rec = json_object();

	for (size_t i = 0; i < s->columns.n; i++)
		json_object_set(rec, s->columns.items[i],
		    json_array_get(row, i + 1));
	return rec;
}

static void
sql_fetch(void *instance, const struct connector_request *req,
    connector_done_fn done, void *arg)
{
	struct sql *q = instance;
	json_t *rows = json_array(), *id = json_string(req->local_id), *rec;
	enum connector_status st;
	char err[256];

	if (id == NULL) {
		json_decref(rows);
		sql_finish(done, arg, CONNECTOR_PERMANENT, NULL, NULL,
		    "the local id is not UTF-8");
		return;
	}
	st = sql_run(q, q->fetch_sql, &id, 1, rows, err, sizeof(err));
	json_decref(id);
	if (st == CONNECTOR_OK && json_array_size(rows) == 0)
		st = CONNECTOR_NOT_FOUND;
	rec = st == CONNECTOR_OK ? sql_record(q->s, json_array_get(rows, 0)) :
	    NULL;
	json_decref(rows);
	sql_finish(done, arg, st, rec, NULL, st == CONNECTOR_OK ||
	    st == CONNECTOR_NOT_FOUND ? NULL : err);
}

/* ---- push ---------------------------------------------------------------- */

/* The index in s->columns of every field of rec, in column order, and the
 * parameters [local id, values...]. -1 with err on a field that is not a
 * configured column or a value SQL cannot hold. */
static int
sql_push_params(const struct sql_settings *s, const char *local_id,
    json_t *rec, size_t *cols, json_t **params, size_t *n, char *err,
    size_t errlen)
{
	json_t *v;

	if (columns_check(&s->columns, rec, "a column", err, errlen) != 0)
		return -1;
	*n = 0;
	params[0] = json_string(local_id);
	for (size_t i = 0; i < s->columns.n; i++) {
		if ((v = json_object_get(rec, s->columns.items[i])) == NULL)
			continue;
		cols[*n] = i;
		params[++*n] = v;
	}
	if (params[0] == NULL) {
		snprintf(err, errlen, "the local id is not UTF-8");
		return -1;
	}
	return 0;
}

/* The upsert in its own transaction. */
static enum connector_status
sql_transaction(struct sql *q, const char *sql, json_t *const *params,
    size_t n, char *err, size_t errlen)
{
	enum connector_status st;
	char rollback_err[128];

	if ((st = sql_run(q, "BEGIN", NULL, 0, NULL, err, errlen)) !=
	    CONNECTOR_OK)
		return st;
	st = q->driver->run(q->db, sql, params, n, NULL, err, errlen);
	if (st == CONNECTOR_OK)
		st = q->driver->run(q->db, "COMMIT", NULL, 0, NULL, err, errlen);
	/* A failed COMMIT (SQLite: busy) leaves the transaction open; it must
	 * not be in the way of the next call's BEGIN. */
	if (st != CONNECTOR_OK && !q->driver->broken(q->db))
		q->driver->run(q->db, "ROLLBACK", NULL, 0, NULL, rollback_err,
		    sizeof(rollback_err));
	return st;
}

static enum connector_status
sql_upsert(struct sql *q, const char *local_id, json_t *rec, char *err,
    size_t errlen)
{
	size_t n, *cols = calloc(q->s->columns.n + 1, sizeof(*cols));
	json_t **params = calloc(q->s->columns.n + 1, sizeof(*params));
	enum connector_status st = CONNECTOR_PERMANENT;
	char *sql;

	if (cols == NULL || params == NULL) {
		snprintf(err, errlen, "out of memory");
		st = CONNECTOR_RETRY;
	} else if (sql_push_params(q->s, local_id, rec, cols, params, &n, err,
	    errlen) == 0) {
		sql = sql_upsert_sql(q->s, cols, n);
		st = sql_transaction(q, sql, params, n + 1, err, errlen);
		free(sql);
	}
	if (params != NULL)
		json_decref(params[0]);
	free(params);
	free(cols);
	return st;
}

static void
sql_push(void *instance, const struct connector_request *req,
    connector_done_fn done, void *arg)
{
	struct sql *q = instance;
	enum connector_status st;
	json_error_t jerr;
	char err[256];
	json_t *rec;

	rec = json_loadb(req->body ? req->body : "", req->body_len, 0, &jerr);
	if (!json_is_object(rec)) {
		json_decref(rec);
		sql_finish(done, arg, CONNECTOR_PERMANENT, NULL, NULL,
		    "the record is not a JSON object");
		return;
	}
	st = sql_upsert(q, req->local_id, rec, err, sizeof(err));
	json_decref(rec);
	sql_finish(done, arg, st, NULL, NULL, st == CONNECTOR_OK ? NULL : err);
}

/* ---- changes ------------------------------------------------------------- */

/* The text of a key value as a local id. Caller frees. */
static char *
sql_local_id(json_t *key)
{
	if (json_is_string(key))
		return strdup(json_string_value(key));
	return json_dumps(key, JSON_ENCODE_ANY | JSON_COMPACT);
}

/* Rows [key, columns..., cursor] → [{local_id, record}]; the cursor of the
 * last row is [cursor value, key], JSON text. */
static json_t *
sql_changes_body(const struct sql_settings *s, json_t *rows, char **cursor)
{
	json_t *out = json_array(), *row;
	size_t i;

	*cursor = NULL;
	json_array_foreach(rows, i, row) {
		char *id = sql_local_id(json_array_get(row, 0));

		json_array_append_new(out, json_pack("{s:s?, s:o}", "local_id",
		    id, "record", sql_record(s, row)));
		free(id);
	}
	if ((row = json_array_get(rows, json_array_size(rows) - 1)) != NULL) {
		json_t *last = json_pack("[O, O]", json_array_get(row,
		    s->columns.n + 1), json_array_get(row, 0));

		*cursor = json_dumps(last, JSON_COMPACT);
		json_decref(last);
	}
	return out;
}

static void
sql_changes(void *instance, const struct connector_request *req,
    connector_done_fn done, void *arg)
{
	struct sql *q = instance;
	json_t *rows, *cur = NULL, *params[2], *body;
	enum connector_status st;
	char err[256], *next = NULL;

	if (q->s->cursor_column == NULL) {
		sql_finish(done, arg, CONNECTOR_PERMANENT, NULL, NULL,
		    "no cursor_column is configured");
		return;
	}
	if (req->cursor != NULL && ((cur = json_loads(req->cursor, 0, NULL)) ==
	    NULL || !json_is_array(cur) || json_array_size(cur) != 2)) {
		json_decref(cur);
		sql_finish(done, arg, CONNECTOR_PERMANENT, NULL, NULL,
		    "the cursor is not one this connector returned");
		return;
	}
	rows = json_array();
	params[0] = json_array_get(cur, 0);
	params[1] = json_array_get(cur, 1);
	st = sql_run(q, cur ? q->changes_next_sql : q->changes_first_sql,
	    params, cur ? 2 : 0, rows, err, sizeof(err));
	json_decref(cur);
	if (st != CONNECTOR_OK) {
		json_decref(rows);
		sql_finish(done, arg, st, NULL, NULL, err);
		return;
	}
	body = sql_changes_body(q->s, rows, &next);
	json_decref(rows);
	/* No new rows: the cursor stays where it was. */
	sql_finish(done, arg, st, body, next ? next : req->cursor, NULL);
	free(next);
}

static void
sql_health(void *instance, connector_done_fn done, void *arg)
{
	struct sql *q = instance;
	enum connector_status st;
	char err[256];

	st = sql_run(q, "SELECT 1", NULL, 0, NULL, err, sizeof(err));
	sql_finish(done, arg, st, NULL, NULL, st == CONNECTOR_OK ? NULL : err);
}

const struct connector_ops sql_connector_ops = {
	.abi_version = CONNECTOR_ABI_VERSION,
	.name = "sql",
	.keys = sql_keys,
	.settings_size = sizeof(struct sql_settings),
	.validate = sql_validate,
	.init = sql_init,
	.fetch = sql_fetch,
	.push = sql_push,
	.changes = sql_changes,
	.health = sql_health,
	.destroy = sql_destroy,
};
