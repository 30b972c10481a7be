/* sql_sqlite.c — the sql connector's SQLite driver.
 *
 * One connection per connector instance, that is per event loop, opened
 * without SQLITE_OPEN_CREATE: a mistyped path is an error, not a new empty
 * database. Calls block the loop for as long as SQLite takes, at most
 * `timeout` when the database is locked by another writer. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sql_driver.h"

static void *
sql_sqlite_open(const struct sql_settings *s, char *err, size_t errlen)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open the SQLite database: %s",
		    db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, s->timeout_ms > 0x7fffffff ? 0x7fffffff :
	    (int)s->timeout_ms);
	sqlite3_extended_result_codes(db, 0);
	return db;
}

/* Locked, busy, full or failing disks may pass; the rest will not. */
static enum connector_status
sql_sqlite_status(int rc)
{
	switch (rc) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_NOMEM:
		return CONNECTOR_RETRY;
	default:
		return CONNECTOR_PERMANENT;
	}
}

static int
sql_sqlite_bind(sqlite3_stmt *st, size_t i, json_t *v)
{
	char name[24];
	int idx;

	snprintf(name, sizeof(name), "$%zu", i + 1);
	if ((idx = sqlite3_bind_parameter_index(st, name)) == 0)
		return SQLITE_RANGE;
	switch (json_typeof(v)) {
	case JSON_STRING:
		return sqlite3_bind_text(st, idx, json_string_value(v),
		    (int)json_string_length(v), SQLITE_TRANSIENT);
	case JSON_INTEGER:
		return sqlite3_bind_int64(st, idx, json_integer_value(v));
	case JSON_REAL:
		return sqlite3_bind_double(st, idx, json_real_value(v));
	case JSON_TRUE:
	case JSON_FALSE:
		return sqlite3_bind_int(st, idx, json_is_true(v));
	case JSON_NULL:
		return sqlite3_bind_null(st, idx);
	default:
		return SQLITE_MISMATCH;
	}
}

/* SQLite stores booleans as 0 and 1; a column declared BOOLEAN gives them
 * back as JSON booleans. */
static int
sql_sqlite_is_boolean(sqlite3_stmt *st, int col)
{
	const char *decl = sqlite3_column_decltype(st, col);

	return decl != NULL && (strcasecmp(decl, "BOOLEAN") == 0 ||
	    strcasecmp(decl, "BOOL") == 0);
}

/* The value in column col of the current row; NULL for a blob, or text
 * that is not UTF-8 or holds a NUL, which the JSON text records cross the
 * ABI as cannot carry (a "\u0000" the core refuses would stop a changes
 * feed at that row for good). */
static json_t *
sql_sqlite_value(sqlite3_stmt *st, int col)
{
	const char *text;
	size_t len;

	switch (sqlite3_column_type(st, col)) {
	case SQLITE_INTEGER:
		if (sql_sqlite_is_boolean(st, col))
			return json_boolean(sqlite3_column_int64(st, col) != 0);
		return json_integer(sqlite3_column_int64(st, col));
	case SQLITE_FLOAT:
		return json_real(sqlite3_column_double(st, col));
	case SQLITE_TEXT:
		text = (const char *)sqlite3_column_text(st, col);
		len = (size_t)sqlite3_column_bytes(st, col);
		return memchr(text, '\0', len) ? NULL : json_stringn(text, len);
	case SQLITE_NULL:
		return json_null();
	default:
		return NULL;
	}
}

static int
sql_sqlite_row(sqlite3_stmt *st, json_t *rows, char *err, size_t errlen)
{
	json_t *row = json_array();

	for (int c = 0; c < sqlite3_column_count(st); c++) {
		json_t *v = sql_sqlite_value(st, c);

		if (v == NULL) {
			snprintf(err, errlen, "column %s holds a blob, or text "
			    "that is not UTF-8 or holds a NUL",
			    sqlite3_column_name(st, c));
			json_decref(row);
			return -1;
		}
		json_array_append_new(row, v);
	}
	json_array_append_new(rows, row);
	return 0;
}

static enum connector_status
sql_sqlite_run(void *db, const char *sql, json_t *const *params,
    size_t nparams, json_t *rows, char *err, size_t errlen)
{
	enum connector_status status;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		goto fail;
	for (size_t i = 0; i < nparams; i++) {
		if ((rc = sql_sqlite_bind(st, i, params[i])) != SQLITE_OK) {
			snprintf(err, errlen, "sqlite: cannot bind parameter "
			    "$%zu", i + 1);
			sqlite3_finalize(st);
			return sql_sqlite_status(rc);
		}
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (rows != NULL && sql_sqlite_row(st, rows, err, errlen) == -1) {
			sqlite3_finalize(st);
			return CONNECTOR_PERMANENT;
		}
	}
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(st);
		return CONNECTOR_OK;
	}
fail:
	status = sql_sqlite_status(rc);
	snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return status;
}

static int
sql_sqlite_broken(void *db)
{
	return 0;
}

static void
sql_sqlite_close(void *db)
{
	sqlite3_close(db);
}

const struct sql_driver sql_sqlite_driver = {
	.name = "sqlite",
	.open = sql_sqlite_open,
	.run = sql_sqlite_run,
	.broken = sql_sqlite_broken,
	.close = sql_sqlite_close,
};
