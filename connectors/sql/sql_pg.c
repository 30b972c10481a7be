/* sql_pg.c — the sql connector's PostgreSQL driver (libpq).
 *
 * One connection per connector instance, that is per event loop; calls
 * block the loop for at most `timeout` (the session's statement_timeout).
 * Parameters travel as text with no declared type, so the server reads
 * each one as the type of the column it is compared with or stored in.
 *
 * Error messages of the server may quote values ("invalid input syntax for
 * type integer: ..."), so only the SQLSTATE leaves this file, with the
 * message for the classes that are about the schema or the connection. */
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql_driver.h"

/* Type OIDs from pg_type.h, which is not part of libpq's public headers. */
enum {
	SQL_PG_BOOL = 16, SQL_PG_INT8 = 20, SQL_PG_INT2 = 21, SQL_PG_INT4 = 23,
	SQL_PG_OID = 26, SQL_PG_FLOAT4 = 700, SQL_PG_FLOAT8 = 701,
	SQL_PG_NUMERIC = 1700,
};

/* libpq's messages end with a newline; err gets the first line. */
static void
sql_pg_message(char *err, size_t errlen, const char *what, const char *msg)
{
	snprintf(err, errlen, "postgresql: %s%.*s", what,
	    (int)strcspn(msg, "\n"), msg);
}

static void *
sql_pg_open(const struct sql_settings *s, char *err, size_t errlen)
{
	PGconn *conn = PQconnectdb(s->dsn);
	char sql[64];
	PGresult *res;

	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		sql_pg_message(err, errlen, "cannot connect: ",
		    conn ? PQerrorMessage(conn) : "out of memory");
		PQfinish(conn);
		return NULL;
	}
	PQsetClientEncoding(conn, "UTF8");
	snprintf(sql, sizeof(sql), "SET statement_timeout = %" PRId64,
	    s->timeout_ms);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		sql_pg_message(err, errlen, "", PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}
	PQclear(res);
	return conn;
}

/* Connection trouble, conflicts between transactions, lack of resources
 * and an operator stopping the server may pass; the rest will not. */
static enum connector_status
sql_pg_status(PGconn *conn, const char *state)
{
	static const char *const transient[] = { "08", "40", "53", "57" };

	if (PQstatus(conn) != CONNECTION_OK || state == NULL)
		return CONNECTOR_RETRY;
	if (strcmp(state, "55P03") == 0) /* lock_not_available */
		return CONNECTOR_RETRY;
	for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
		if (strncmp(state, transient[i], 2) == 0)
			return CONNECTOR_RETRY;
	return CONNECTOR_PERMANENT;
}

static void
sql_pg_error(PGconn *conn, PGresult *res, char *err, size_t errlen)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	if (state == NULL) {
		sql_pg_message(err, errlen, "", PQerrorMessage(conn));
		return;
	}
	/* 42: syntax error or undefined table/column; 08: connection. */
	if (primary != NULL && (strncmp(state, "42", 2) == 0 ||
	    strncmp(state, "08", 2) == 0))
		snprintf(err, errlen, "postgresql: SQLSTATE %s: %s", state,
		    primary);
	else
		snprintf(err, errlen, "postgresql: SQLSTATE %s", state);
}

/* Text of one parameter in *buf (or a pointer to the string's own bytes);
 * NULL for SQL NULL. -1 for a value SQL cannot hold. */
static int
sql_pg_param(json_t *v, char buf[32], const char **out)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		*out = json_string_value(v);
		return strlen(*out) == json_string_length(v) ? 0 : -1;
	case JSON_INTEGER:
		snprintf(buf, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(buf, 32, "%.17g", json_real_value(v));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		snprintf(buf, 32, "%s", json_is_true(v) ? "true" : "false");
		break;
	case JSON_NULL:
		*out = NULL;
		return 0;
	default:
		return -1;
	}
	*out = buf;
	return 0;
}

/* The value at (row, col); NULL for one the JSON text records cross the
 * ABI as cannot carry: a NaN or infinite float or numeric (both are valid
 * PostgreSQL values, and a numeric can overflow a double), or text that is
 * not UTF-8 (a SQL_ASCII database). */
static json_t *
sql_pg_value(PGresult *res, int row, int col)
{
	const char *text = PQgetvalue(res, row, col);

	if (PQgetisnull(res, row, col))
		return json_null();
	switch (PQftype(res, col)) {
	case SQL_PG_BOOL:
		return json_boolean(text[0] == 't');
	case SQL_PG_INT2:
	case SQL_PG_INT4:
	case SQL_PG_INT8:
	case SQL_PG_OID:
		return json_integer(strtoll(text, NULL, 10));
	case SQL_PG_FLOAT4:
	case SQL_PG_FLOAT8:
	case SQL_PG_NUMERIC:
		return json_real(strtod(text, NULL));
	default:
		return json_stringn(text, (size_t)PQgetlength(res, row, col));
	}
}

/* -1 with err naming the column of the first value sql_pg_value refuses:
 * a row short of it would shift the columns after it. */
static int
sql_pg_rows(PGresult *res, json_t *rows, char *err, size_t errlen)
{
	for (int r = 0; r < PQntuples(res); r++) {
		json_t *row = json_array();

		for (int c = 0; c < PQnfields(res); c++) {
			json_t *v = sql_pg_value(res, r, c);

			if (v == NULL) {
				snprintf(err, errlen, "column %s holds a value "
				    "JSON cannot carry (NaN, infinite, or "
				    "text that is not UTF-8)", PQfname(res, c));
				json_decref(row);
				return -1;
			}
			json_array_append_new(row, v);
		}
		json_array_append_new(rows, row);
	}
	return 0;
}

static enum connector_status
sql_pg_run(void *db, const char *sql, json_t *const *params, size_t nparams,
    json_t *rows, char *err, size_t errlen)
{
	const char **values = calloc(nparams + 1, sizeof(*values));
	char (*bufs)[32] = calloc(nparams + 1, sizeof(*bufs));
	enum connector_status status = CONNECTOR_OK;
	PGresult *res = NULL;
	ExecStatusType rs;

	if (values == NULL || bufs == NULL) {
		snprintf(err, errlen, "postgresql: out of memory");
		status = CONNECTOR_RETRY;
		goto done;
	}
	for (size_t i = 0; i < nparams; i++) {
		if (sql_pg_param(params[i], bufs[i], &values[i]) == -1) {
			snprintf(err, errlen, "postgresql: cannot bind "
			    "parameter $%zu", i + 1);
			status = CONNECTOR_PERMANENT;
			goto done;
		}
	}
	res = PQexecParams(db, sql, (int)nparams, NULL, values, NULL, NULL, 0);
	rs = PQresultStatus(res);
	if (rs == PGRES_TUPLES_OK && rows != NULL) {
		if (sql_pg_rows(res, rows, err, errlen) == -1)
			status = CONNECTOR_PERMANENT;
	} else if (rs != PGRES_TUPLES_OK && rs != PGRES_COMMAND_OK) {
		status = sql_pg_status(db, PQresultErrorField(res,
		    PG_DIAG_SQLSTATE));
		sql_pg_error(db, res, err, errlen);
	}
done:
	PQclear(res);
	free(values);
	free(bufs);
	return status;
}

static int
sql_pg_broken(void *db)
{
	return PQstatus(db) != CONNECTION_OK;
}

static void
sql_pg_close(void *db)
{
	PQfinish(db);
}

const struct sql_driver sql_pg_driver = {
	.name = "postgresql",
	.open = sql_pg_open,
	.run = sql_pg_run,
	.broken = sql_pg_broken,
	.close = sql_pg_close,
};
