/* store_suite.h — the store tests run on both backends: once on SQLite
 * files, once on the databases of a real PostgreSQL server. The test
 * binary starts that server itself (tests/tools/pgserver.sh through
 * harness_pg_start, in its scratch directory, on a unix socket only), so
 * it runs alone as under `make test`; a machine without PostgreSQL fails
 * the PostgreSQL runs rather than skipping them.
 *
 *   int main(int argc, char **argv) {
 *           suite_start(argv[0]);
 *           SUITE_RUN(test_a);        once per backend: "test_a/sqlite", ...
 *           SUITE_RUN_SQLITE(test_c); SQLite only: "test_c/sqlite"
 *           SUITE_RUN_PG(test_d);     PostgreSQL only: "test_d/postgresql"
 *           UNIT_RUN(test_b);         backend-independent: once
 *           suite_stop();
 *           return UNIT_END();
 *   }
 *
 * A test opens its stores with suite_open(NAME): the file NAME.db, or the
 * database NAME, created on first use. */
#ifndef TELLONCE_STORE_SUITE_H
#define TELLONCE_STORE_SUITE_H

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgserver.h"
#include "store.h"
#include "tmpdir.h"
#include "unit.h"

struct suite_backend {
	const char *name;
	/* The store URL of database `db`, made if it is new; 0 or -1. */
	int (*url)(const char *db, char *url, size_t len);
	/* Runs SQL on `db` behind the store's back; 0 or -1. */
	int (*exec)(const char *db, const char *sql);
	/* The schema version the store keeps in `db`, after setting it
	 * first when set >= 0; -1 on error. */
	int (*schema_version)(const char *db, int set);
	/* The integer that query `sql` on `db` answers, or -1. */
	int64_t (*scalar)(const char *db, const char *sql);
};

static char suite_dir[TMPDIR_PATH_LEN];
static char suite_root[PATH_MAX];
static int suite_pg_up;
static const struct suite_backend *suite_be;   /* the one under test */

/* ---- SQLite --------------------------------------------------------- */

/* The whole content of a file, NUL-terminated; *len its size. */
static inline char *
suite_slurp(const char *name, size_t *len)
{
	char path[TMPDIR_PATH_LEN + 64];
	char *buf;
	FILE *f;
	long size;

	snprintf(path, sizeof(path), "%s/%s", suite_dir, name);
	*len = 0;
	if ((f = fopen(path, "rb")) == NULL)
		return calloc(1, 1);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	if ((buf = calloc(1, (size_t)size + 1)) != NULL)
		*len = fread(buf, 1, (size_t)size, f);
	fclose(f);
	return buf;
}

/* 1 when file `name` in the suite's folder holds `needle`. */
static inline int
suite_file_holds(const char *name, const char *needle)
{
	size_t len;
	char *buf = suite_slurp(name, &len);
	int found = buf != NULL && memmem(buf, len, needle, strlen(needle)) != NULL;

	free(buf);
	return found;
}


static int
suite_lite_url(const char *db, char *url, size_t len)
{
	char name[64];

	snprintf(name, sizeof(name), "%s.db", db);
	tmpdir_store_url(suite_dir, name, url, len);
	return 0;
}

static int
suite_lite_exec(const char *db, const char *sql)
{
	char path[TMPDIR_PATH_LEN + 80];
	sqlite3 *h;
	int rc;

	snprintf(path, sizeof(path), "%s/%s.db", suite_dir, db);
	if (sqlite3_open(path, &h) != SQLITE_OK) {
		sqlite3_close(h);
		return -1;
	}
	rc = sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
	if (rc != 0)
		fprintf(stderr, "  sqlite: %s\n", sqlite3_errmsg(h));
	sqlite3_close(h);
	return rc;
}

/* The integer that query sql answers on the file `file` of the suite's
 * directory (a store's, or its access file), or -1. */
static inline int64_t
suite_lite_file_scalar(const char *file, const char *sql)
{
	char path[TMPDIR_PATH_LEN + 96];
	sqlite3 *h;
	sqlite3_stmt *s;
	int64_t v = -1;

	snprintf(path, sizeof(path), "%s/%s", suite_dir, file);
	if (sqlite3_open(path, &h) != SQLITE_OK) {
		sqlite3_close(h);
		return -1;
	}
	sqlite3_busy_timeout(h, 2000);
	if (sqlite3_prepare_v2(h, sql, -1, &s, NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			v = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
	}
	sqlite3_close(h);
	return v;
}

static int64_t
suite_lite_scalar(const char *db, const char *sql)
{
	char file[96];

	snprintf(file, sizeof(file), "%s.db", db);
	return suite_lite_file_scalar(file, sql);
}

static int
suite_lite_schema_version(const char *db, int set)
{
	char path[TMPDIR_PATH_LEN + 80], sql[64];
	sqlite3 *h;
	sqlite3_stmt *s;
	int v = -1;

	if (set >= 0) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", set);
		if (suite_lite_exec(db, sql) != 0)
			return -1;
	}
	snprintf(path, sizeof(path), "%s/%s.db", suite_dir, db);
	if (sqlite3_open(path, &h) != SQLITE_OK) {
		sqlite3_close(h);
		return -1;
	}
	if (sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &s, NULL)
	    == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			v = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
	}
	sqlite3_close(h);
	return v;
}

/* ---- PostgreSQL ----------------------------------------------------- */

static PGconn *
suite_pg_connect(const char *db)
{
	char dsn[TMPDIR_PATH_LEN + 128];
	PGconn *c;

	snprintf(dsn, sizeof(dsn), "host=%s/pg user=tellonce dbname=%s",
	    suite_dir, db);
	c = PQconnectdb(dsn);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "  postgresql: %s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* The result of sql on db, or NULL (printed); the caller PQclears. */
static PGresult *
suite_pg_query(const char *db, const char *sql)
{
	PGconn *c = suite_pg_connect(db);
	PGresult *r;

	if (c == NULL)
		return NULL;
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "  postgresql: %s", PQerrorMessage(c));
		PQclear(r);
		r = NULL;
	}
	PQfinish(c);
	return r;
}

static int
suite_pg_exec(const char *db, const char *sql)
{
	PGresult *r = suite_pg_query(db, sql);

	PQclear(r);
	return r != NULL ? 0 : -1;
}

static int
suite_pg_url(const char *db, char *url, size_t len)
{
	char sql[128];
	PGresult *r;

	if (!suite_pg_up)
		return -1;
	snprintf(sql, sizeof(sql), "SELECT 1 FROM pg_database WHERE datname = "
	    "'%s'", db);
	if ((r = suite_pg_query("tellonce", sql)) == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
		if (suite_pg_exec("tellonce", sql) != 0) {
			PQclear(r);
			return -1;
		}
	}
	PQclear(r);
	snprintf(url, len, "postgresql:///%s?host=%s/pg&user=tellonce", db,
	    suite_dir);
	return 0;
}

static int64_t
suite_pg_scalar(const char *db, const char *sql)
{
	PGresult *r = suite_pg_query(db, sql);
	int64_t v = -1;

	if (r != NULL && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

static int
suite_pg_schema_version(const char *db, int set)
{
	char sql[200];

	if (set >= 0) {
		snprintf(sql, sizeof(sql), "SET client_min_messages = warning; "
		    "CREATE TABLE IF NOT EXISTS "
		    "tellonce_schema (version INTEGER NOT NULL); DELETE FROM "
		    "tellonce_schema; INSERT INTO tellonce_schema VALUES (%d)",
		    set);
		if (suite_pg_exec(db, sql) != 0)
			return -1;
	}
	return (int)suite_pg_scalar(db, "SELECT version FROM tellonce_schema");
}

static const struct suite_backend suite_backends[] = {
	{ "sqlite", suite_lite_url, suite_lite_exec, suite_lite_schema_version,
	    suite_lite_scalar },
	{ "postgresql", suite_pg_url, suite_pg_exec, suite_pg_schema_version,
	    suite_pg_scalar },
};
#define SUITE_NBACKENDS (sizeof(suite_backends) / sizeof(suite_backends[0]))

/* Runs fn once per backend, as "fn/BACKEND". */
#define SUITE_RUN(fn) do { \
	for (size_t suite_i = 0; suite_i < SUITE_NBACKENDS; suite_i++) { \
		char suite_label[96]; \
		suite_be = &suite_backends[suite_i]; \
		snprintf(suite_label, sizeof(suite_label), "%s/%s", #fn, \
		    suite_be->name); \
		UNIT_RUN_AS(fn, suite_label); \
	} \
} while (0)

/* Runs fn on SQLite only, as "fn/sqlite": what it checks is SQLite's. */
#define SUITE_RUN_SQLITE(fn) do { \
	suite_be = &suite_backends[0]; \
	UNIT_RUN_AS(fn, #fn "/sqlite"); \
} while (0)

/* Runs fn on PostgreSQL only, as "fn/postgresql": what it checks is the
 * server's. */
#define SUITE_RUN_PG(fn) do { \
	suite_be = &suite_backends[1]; \
	UNIT_RUN_AS(fn, #fn "/postgresql"); \
} while (0)

/* The URL of store `db` on the backend under test; 0 or -1 (printed). */
static int
suite_url(const char *db, char *url, size_t len)
{
	if (suite_be->url(db, url, len) == 0)
		return 0;
	fprintf(stderr, "  %s: cannot make database %s\n", suite_be->name, db);
	return -1;
}

/* Opens store `db` on the backend under test; NULL (printed) on failure. */
static struct store *
suite_open(const char *db)
{
	char url[TMPDIR_PATH_LEN + 128], err[256];
	struct store *st;

	if (suite_url(db, url, sizeof(url)) != 0)
		return NULL;
	if ((st = store_open(url, NULL, err, sizeof(err))) == NULL)
		fprintf(stderr, "  store_open %s: %s\n", url, err);
	return st;
}

/* The scratch directory and the PostgreSQL server in it. */
static void
suite_start(const char *argv0)
{
	char build[PATH_MAX];

	harness_paths(argv0, build, suite_root);
	tmpdir_make(suite_dir);
	suite_pg_up = harness_pg_start(suite_root, suite_dir) == 0;
	if (!suite_pg_up)
		fprintf(stderr, "  pgserver.sh start failed: the postgresql "
		    "runs fail\n");
}

static void
suite_stop(void)
{
	if (harness_pg(suite_root, suite_dir, "stop") != 0)
		fprintf(stderr, "pgserver.sh stop failed\n");
	tmpdir_remove(suite_dir);
}

#endif
