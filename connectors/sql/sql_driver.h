/* sql_driver.h — what the sql connector needs from a database: open a
 * connection, run one statement with bound parameters, close. One driver
 * per database (sql_sqlite.c, sql_pg.c); the statements themselves are
 * built once, in sql.c, in the SQL both understand. */
#ifndef TELLONCE_SQL_DRIVER_H
#define TELLONCE_SQL_DRIVER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "connector.h"

struct sql_settings {
	char *driver;                   /* "sqlite" or "postgresql" */
	char *path;                     /* sqlite: the database file */
	char *dsn;                      /* postgresql: conninfo or URI (a secret) */
	char *table;
	char *key_column;
	struct connector_strlist columns;
	char *cursor_column;            /* NULL: no changes */
	int64_t batch;                  /* rows per changes call */
	int64_t timeout_ms;             /* lock wait (sqlite), statement (pg) */
};

struct sql_driver {
	const char *name;
	/* A new connection, or NULL with err. Blocking. */
	void *(*open)(const struct sql_settings *s, char *err, size_t errlen);
	/* Runs one statement; parameters are JSON scalars bound in order to
	 * $1..$n (strings, integers, reals, booleans, null). When rows is not
	 * NULL, every result row is appended to it as a JSON array of its
	 * column values. err never holds a value, bound or stored. */
	enum connector_status (*run)(void *db, const char *sql,
	    json_t *const *params, size_t nparams, json_t *rows, char *err,
	    size_t errlen);
	/* 0 while the connection is usable; a broken one is closed and opened
	 * again on the next call. */
	int (*broken)(void *db);
	void (*close)(void *db);
};

extern const struct sql_driver sql_sqlite_driver;
extern const struct sql_driver sql_pg_driver;

#endif
