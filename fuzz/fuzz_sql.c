/* fuzz_sql.c — the sql connector's conversion of stored rows into records,
 * through its ops on a real SQLite file. The input is a row of table t
 * (id, s TEXT, n INTEGER, flag BOOLEAN, v, seq INTEGER): for each column a
 * type byte (null, integer, real, text, blob) and its value (8 bytes, or a
 * length byte and the bytes), bound as it is, so SQLite's own type affinity
 * applies. Then the connector reads it back with changes and fetch.
 *
 * Oracles: a row whose values JSON text can carry (no blob, no invalid
 * UTF-8, no NUL, no infinite real) comes back exactly as SQLite stored it (BOOLEAN as true or
 * false) and its record, pushed under another key, fetches back the same;
 * any other row is refused (permanent) with a detail that quotes no value. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sql/sql.h"
#include "sql/sql_driver.h"

#define FUZZ_COLUMNS 6          /* id, s, n, flag, v, seq */

static char *fuzz_columns[] = { "s", "n", "flag", "v" };
static struct sql_settings fuzz_set = {
	.driver = "sqlite", .table = "t", .key_column = "id",
	.columns = { 4, fuzz_columns }, .cursor_column = "seq", .batch = 10,
	.timeout_ms = 1000,
};
static sqlite3 *fuzz_db;
static void *fuzz_conn;

static void
fuzz_exec(const char *sql)
{
	if (sqlite3_exec(fuzz_db, sql, NULL, NULL, NULL) != SQLITE_OK)
		abort();
}

static void
fuzz_setup(void)
{
	char err[256];

	fuzz_set.path = strdup(fuzz_path("sql.db"));
	if (sqlite3_open(fuzz_set.path, &fuzz_db) != SQLITE_OK)
		abort();
	fuzz_exec("CREATE TABLE t (id PRIMARY KEY, s TEXT, n INTEGER, "
	    "flag BOOLEAN, v, seq INTEGER)");
	if (sql_connector_ops.init(&fuzz_conn, &fuzz_set, &fuzz_env, err,
	    sizeof(err)) != 0)
		abort();
}

/* Binds column i's value from the input; returns the bytes used. */
static size_t
fuzz_bind(sqlite3_stmt *st, int i, const uint8_t *d, size_t n)
{
	int64_t x = 0;
	double r;
	size_t len;

	if (n == 0) {
		sqlite3_bind_null(st, i);
		return 0;
	}
	switch (d[0] % 5) {
	case 1:
	case 2:
		if (n < 9) {
			sqlite3_bind_null(st, i);
			return n;
		}
		memcpy(&x, d + 1, 8);
		memcpy(&r, d + 1, 8);
		if (d[0] % 5 == 1)
			sqlite3_bind_int64(st, i, x);
		else
			sqlite3_bind_double(st, i, r);
		return 9;
	case 3:
	case 4:
		len = n < 2 ? 0 : d[1] < n - 2 ? d[1] : n - 2;
		if (d[0] % 5 == 3)
			sqlite3_bind_text(st, i, (const char *)d + 2, (int)len,
			    SQLITE_TRANSIENT);
		else
			sqlite3_bind_blob(st, i, d + 2, (int)len,
			    SQLITE_TRANSIENT);
		return n < 2 ? n : 2 + len;
	default:
		sqlite3_bind_null(st, i);
		return 1;
	}
}

/* Column c of the row as JSON, as SQLite stored it; NULL when JSON cannot
 * carry it. */
static json_t *
fuzz_stored(sqlite3_stmt *st, int c)
{
	switch (sqlite3_column_type(st, c)) {
	case SQLITE_INTEGER:
		if (c == 3)
			return json_boolean(sqlite3_column_int64(st, c) != 0);
		return json_integer(sqlite3_column_int64(st, c));
	case SQLITE_FLOAT:
		return isfinite(sqlite3_column_double(st, c)) ?
		    json_real(sqlite3_column_double(st, c)) : NULL;
	case SQLITE_TEXT:
		if (memchr(sqlite3_column_text(st, c), '\0',
		    (size_t)sqlite3_column_bytes(st, c)) != NULL)
			return NULL;
		return json_stringn((const char *)sqlite3_column_text(st, c),
		    (size_t)sqlite3_column_bytes(st, c));
	case SQLITE_NULL:
		return json_null();
	default:
		return NULL;
	}
}

/* Inserts the input's row and returns what SQLite stored, as the
 * connector's changes should give it ({local_id, record}), with *seq_null
 * set when seq is NULL; NULL when a value cannot be carried. */
static json_t *
fuzz_insert(const uint8_t *d, size_t n, int *seq_null, int *id_text)
{
	sqlite3_stmt *st;
	json_t *v[FUZZ_COLUMNS], *rec = NULL, *id;
	char *text = NULL;
	int ok = 1;

	if (sqlite3_prepare_v2(fuzz_db, "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)",
	    -1, &st, NULL) != SQLITE_OK)
		abort();
	for (int i = 0; i < FUZZ_COLUMNS; i++) {
		size_t used = fuzz_bind(st, i + 1, d, n);

		d += used;
		n -= used;
	}
	if (sqlite3_step(st) != SQLITE_DONE)
		abort();
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(fuzz_db, "SELECT * FROM t", -1, &st, NULL) !=
	    SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		abort();
	for (int i = 0; i < FUZZ_COLUMNS; i++)
		ok &= (v[i] = fuzz_stored(st, i)) != NULL;
	*seq_null = sqlite3_column_type(st, 5) == SQLITE_NULL;
	*id_text = sqlite3_column_type(st, 0) == SQLITE_TEXT;
	sqlite3_finalize(st);
	if (ok) {
		/* A key that is not text is named by its JSON text. */
		id = json_is_string(v[0]) ? json_incref(v[0]) : json_string(text =
		    json_dumps(v[0], JSON_ENCODE_ANY | JSON_COMPACT));
		free(text);
		rec = json_pack("{s:o, s:{s:O, s:O, s:O, s:O}}", "local_id", id,
		    "record", "s", v[1], "n", v[2], "flag", v[3], "v", v[4]);
	}
	for (int i = 0; i < FUZZ_COLUMNS; i++)
		json_decref(v[i]);
	return rec;
}

/* Pushes the record under another key and fetches it back. */
static void
fuzz_push_fetch(const json_t *rec)
{
	struct fuzz_answer a = { 0 };
	char *body = json_dumps(rec, JSON_COMPACT);
	struct connector_request req = { .local_id = "fuzz-round-trip",
		.body = body, .body_len = strlen(body) };

	sql_connector_ops.push(fuzz_conn, &req, fuzz_answer_done, &a);
	free(body);
	if (a.status != CONNECTOR_OK)
		abort();        /* a record it gave cannot be written back */
	sql_connector_ops.fetch(fuzz_conn, &req, fuzz_answer_done, &a);
	if (a.status != CONNECTOR_OK || !json_equal(a.body, rec))
		abort();        /* written one way, read another */
	json_decref(a.body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct connector_request req = { 0 };
	struct fuzz_answer a = { 0 };
	json_t *expect, *rec;
	int seq_null, id_text;

	if (fuzz_db == NULL)
		fuzz_setup();
	expect = fuzz_insert(data, size, &seq_null, &id_text);
	sql_connector_ops.changes(fuzz_conn, &req, fuzz_answer_done, &a);
	if (seq_null) {
		if (a.status != CONNECTOR_OK || json_array_size(a.body) != 0)
			abort();        /* no cursor value: not a change */
	} else if (expect == NULL) {
		if (a.status != CONNECTOR_PERMANENT)
			abort();        /* a value JSON cannot carry got through */
		fuzz_check_message(a.detail);
	} else if (a.status != CONNECTOR_OK || json_array_size(a.body) != 1 ||
	    !json_equal(json_array_get(a.body, 0), expect)) {
		abort();        /* not the row SQLite holds */
	}
	json_decref(a.body);
	if (expect != NULL && id_text) {
		/* Looked up by its key, the row gives the same record. */
		req.local_id = json_string_value(json_object_get(expect,
		    "local_id"));
		rec = json_object_get(expect, "record");
		if (strlen(req.local_id) == json_string_length(json_object_get(
		    expect, "local_id"))) {
			sql_connector_ops.fetch(fuzz_conn, &req, fuzz_answer_done, &a);
			if (a.status != CONNECTOR_OK || !json_equal(a.body, rec))
				abort();
			json_decref(a.body);
		}
		fuzz_push_fetch(rec);
	}
	json_decref(expect);
	fuzz_exec("DELETE FROM t");
	return 0;
}
