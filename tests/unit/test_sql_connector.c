/* test_sql_connector.c — the sql connector against real databases: a
 * SQLite file and a PostgreSQL server of the test's own (pgserver.sh).
 * The same scenarios run on both: fetch, push (insert then update),
 * changes with a cursor across instances, values that try SQL injection,
 * and identifiers in the YAML that are not plain identifiers. */
#include <libpq-fe.h>
#include <sqlite3.h>

#include "connector_harness.h"
#include "unit.h"

static char dir[TMPDIR_PATH_LEN];
static char root[PATH_MAX], build[PATH_MAX];
static int pg_up;

/* One database under test: how the YAML names it and how the test itself
 * runs SQL on it, directly through its library. */
struct backend {
	const char *name;
	const char *yaml;       /* the driver's keys in the connector block */
	const char *schema;
	int (*exec)(const char *sql);
	long long (*count)(const char *sql);
};

static const char seed_sql[] =
    "INSERT INTO citizens VALUES ('c-1', 'Le Goff', 2, 1234.5, TRUE, "
    "'1984-03-12', 10);"
    "INSERT INTO citizens VALUES ('c-2', 'Prigent', 0, NULL, FALSE, "
    "'1971-11-02', 20);"
    "INSERT INTO citizens VALUES ('c-3', 'Kerjean', 1, 900, TRUE, "
    "'1990-01-31', 20);"
    "INSERT INTO citizens VALUES ('c-4', 'Morvan', 3, 0.5, FALSE, "
    "'2001-07-14', 30);"
    "INSERT INTO citizens VALUES ('c-5', 'Nicolas', NULL, NULL, NULL, "
    "NULL, NULL);";

/* ---- SQLite ---------------------------------------------------------------- */

static sqlite3 *
lite_open(void)
{
	char path[TMPDIR_PATH_LEN * 2];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/registry.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK) {
		fprintf(stderr, "%s: %s\n", path, sqlite3_errmsg(db));
		exit(2);
	}
	return db;
}

static int
lite_exec(const char *sql)
{
	sqlite3 *db = lite_open();
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK)
		fprintf(stderr, "  sqlite: %s\n", msg);
	sqlite3_free(msg);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

static long long
lite_count(const char *sql)
{
	sqlite3 *db = lite_open();
	sqlite3_stmt *st;
	long long n = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static const struct backend lite = {
	"sqlite",
	"      driver: sqlite\n"
	"      path: registry.db\n",
	"DROP TABLE IF EXISTS citizens;"
	"CREATE TABLE citizens (id TEXT PRIMARY KEY, nom TEXT, enfants INTEGER,"
	" revenu REAL, verifie BOOLEAN, naissance TEXT, seq INTEGER);",
	lite_exec, lite_count,
};

/* ---- PostgreSQL ------------------------------------------------------------ */

static PGconn *
pg_open(void)
{
	PGconn *conn = PQconnectdb(getenv("H_PG_DSN"));

	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "postgresql: %s", PQerrorMessage(conn));
		exit(2);
	}
	return conn;
}

static int
pg_exec(const char *sql)
{
	PGconn *conn = pg_open();
	PGresult *res = PQexec(conn, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		fprintf(stderr, "  postgresql: %s", PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
	return ok ? 0 : -1;
}

static long long
pg_count(const char *sql)
{
	PGconn *conn = pg_open();
	PGresult *res = PQexec(conn, sql);
	long long n = -1;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	PQfinish(conn);
	return n;
}

static const struct backend pg = {
	"postgresql",
	"      driver: postgresql\n"
	"      dsn: env:H_PG_DSN\n",
	"SET client_min_messages = warning;"
	"DROP TABLE IF EXISTS citizens;"
	"CREATE TABLE citizens (id TEXT PRIMARY KEY, nom TEXT, enfants INTEGER,"
	" revenu DOUBLE PRECISION, verifie BOOLEAN, naissance DATE, seq BIGINT);",
	pg_exec, pg_count,
};

/* ---- the scenarios ---------------------------------------------------------- */

/* The registry service on backend b, with `extra` YAML in its block. */
static struct config *
load_registry(const struct backend *b, const char *extra,
    struct config_errors *errs)
{
	char block[2048];

	snprintf(block, sizeof(block),
	    "  registry:\n"
	    "    name: Registry\n"
	    "    auth: {api_key: env:H_REG_KEY}\n"
	    "    connector:\n"
	    "      type: sql\n"
	    "%s"
	    "%s",
	    b->yaml, extra);
	return harness_load(dir, block, errs);
}

static const char registry_keys[] =
    "      table: citizens\n"
    "      key_column: id\n"
    "      columns: [nom, enfants, revenu, verifie, naissance]\n"
    "      cursor_column: seq\n"
    "      batch: 2\n";

/* A connector instance on a freshly seeded table. */
static struct config *
setup(const struct backend *b, struct harness_conn *hc)
{
	struct config_errors errs = { 0 };
	struct config *cfg;
	char err[256];

	if (b->exec(b->schema) == -1 || b->exec(seed_sql) == -1) {
		fprintf(stderr, "%s: cannot seed the table\n", b->name);
		exit(2);
	}
	if ((cfg = load_registry(b, registry_keys, &errs)) == NULL) {
		config_errors_print(&errs, stderr);
		exit(2);
	}
	if (harness_open(hc, cfg, "registry", err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", b->name, err);
		exit(2);
	}
	return cfg;
}

static void
teardown(struct config *cfg, struct harness_conn *hc)
{
	harness_close(hc);
	config_free(cfg);
}

static void
scenario_fetch(const struct backend *b)
{
	struct harness_conn hc;
	struct config *cfg = setup(b, &hc);

	CHECK_INT(harness_call(&hc, HARNESS_FETCH, "c-1", NULL, NULL),
	    CONNECTOR_OK);
	CHECK_JSON(hc.res.body, "{\"enfants\":2,\"naissance\":\"1984-03-12\","
	    "\"nom\":\"Le Goff\",\"revenu\":1234.5,\"verifie\":true}");
	CHECK_INT(harness_call(&hc, HARNESS_FETCH, "c-5", NULL, NULL),
	    CONNECTOR_OK);
	CHECK_JSON(hc.res.body, "{\"enfants\":null,\"naissance\":null,"
	    "\"nom\":\"Nicolas\",\"revenu\":null,\"verifie\":null}");
	CHECK_INT(harness_call(&hc, HARNESS_FETCH, "c-9", NULL, NULL),
	    CONNECTOR_NOT_FOUND);
	CHECK(hc.res.detail == NULL);
	CHECK_INT(harness_call(&hc, HARNESS_HEALTH, NULL, NULL, NULL),
	    CONNECTOR_OK);
	teardown(cfg, &hc);
}

static void
scenario_push(const struct backend *b)
{
	struct harness_conn hc;
	struct config *cfg = setup(b, &hc);

	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-new",
	    "{\"nom\": \"Tanguy\", \"enfants\": 1, \"verifie\": true, "
	    "\"naissance\": \"1999-12-31\"}", NULL), CONNECTOR_OK);
	CHECK_INT(harness_call(&hc, HARNESS_FETCH, "c-new", NULL, NULL),
	    CONNECTOR_OK);
	CHECK_JSON(hc.res.body, "{\"enfants\":1,\"naissance\":\"1999-12-31\","
	    "\"nom\":\"Tanguy\",\"revenu\":null,\"verifie\":true}");
	/* An update writes the fields it has and keeps the others. */
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-new",
	    "{\"nom\": \"Tanguy-Le Bris\", \"revenu\": 10.25}", NULL),
	    CONNECTOR_OK);
	CHECK_INT(harness_call(&hc, HARNESS_FETCH, "c-new", NULL, NULL),
	    CONNECTOR_OK);
	CHECK_JSON(hc.res.body, "{\"enfants\":1,\"naissance\":\"1999-12-31\","
	    "\"nom\":\"Tanguy-Le Bris\",\"revenu\":10.25,\"verifie\":true}");
	CHECK_INT(b->count("SELECT count(*) FROM citizens"), 6);
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-1", "{\"adresse\": \"x\"}",
	    NULL), CONNECTOR_PERMANENT);
	CHECK_STR(hc.res.detail, "field 'adresse' is not one of the configured "
	    "columns");
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-1",
	    "{\"nom\": {\"family\": \"x\"}}", NULL), CONNECTOR_PERMANENT);
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-1", "[1]", NULL),
	    CONNECTOR_PERMANENT);
	CHECK_STR(hc.res.detail, "the record is not a JSON object");
	teardown(cfg, &hc);
}

/* Values are bound, never spliced: each of these is stored or compared
 * as the text it is. */
static void
scenario_injection(const struct backend *b)
{
	static const char evil_id[] = "'; DROP TABLE citizens; --";
	struct harness_conn hc;
	struct config *cfg = setup(b, &hc);

	CHECK_INT(harness_call(&hc, HARNESS_FETCH, "x' OR '1'='1", NULL, NULL),
	    CONNECTOR_NOT_FOUND);
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, evil_id,
	    "{\"nom\": \"Robert'); DROP TABLE citizens; --\"}", NULL),
	    CONNECTOR_OK);
	CHECK_INT(b->count("SELECT count(*) FROM citizens"), 6);
	CHECK_INT(harness_call(&hc, HARNESS_FETCH, evil_id, NULL, NULL),
	    CONNECTOR_OK);
	CHECK_JSON(hc.res.body, "{\"enfants\":null,\"naissance\":null,"
	    "\"nom\":\"Robert'); DROP TABLE citizens; --\",\"revenu\":null,"
	    "\"verifie\":null}");
	/* SQLite compares the text with the integers (no row is past it),
	 * PostgreSQL refuses it as a bigint: either way no row leaks. */
	if (harness_call(&hc, HARNESS_CHANGES, NULL, NULL,
	    "[\"10) OR 1=1; --\", \"c-1\"]") == CONNECTOR_OK)
		CHECK_STR(hc.res.body, "[]");
	else
		CHECK_INT(hc.res.status, CONNECTOR_PERMANENT);
	CHECK_INT(b->count("SELECT count(*) FROM citizens"), 6);
	CHECK_INT(harness_call(&hc, HARNESS_CHANGES, NULL, NULL, "not json"),
	    CONNECTOR_PERMANENT);
	CHECK_STR(hc.res.detail, "the cursor is not one this connector returned");
	teardown(cfg, &hc);
}

/* Pages of 2 through rows whose seq values tie (c-2 and c-3 at 20), then a
 * new instance (a restart) resumes from the stored cursor. */
static void
scenario_changes(const struct backend *b)
{
	struct harness_conn hc;
	struct config *cfg = setup(b, &hc);
	char *cursor;

	CHECK_INT(harness_call(&hc, HARNESS_CHANGES, NULL, NULL, NULL),
	    CONNECTOR_OK);
	CHECK_JSON(hc.res.body, "[{\"local_id\":\"c-1\",\"record\":{\"enfants\":2,"
	    "\"naissance\":\"1984-03-12\",\"nom\":\"Le Goff\",\"revenu\":1234.5,"
	    "\"verifie\":true}},{\"local_id\":\"c-2\",\"record\":{\"enfants\":0,"
	    "\"naissance\":\"1971-11-02\",\"nom\":\"Prigent\",\"revenu\":null,"
	    "\"verifie\":false}}]");
	CHECK_STR(hc.res.next_cursor, "[20,\"c-2\"]");
	cursor = strdup(hc.res.next_cursor ? hc.res.next_cursor : "");
	teardown(cfg, &hc);

	cfg = setup(b, &hc);
	CHECK(b->exec("INSERT INTO citizens VALUES ('c-6', 'Riou', 0, NULL, "
	    "TRUE, NULL, 40)") == 0);
	CHECK_INT(harness_call(&hc, HARNESS_CHANGES, NULL, NULL, cursor),
	    CONNECTOR_OK);
	free(cursor);
	CHECK_INT(harness_array_size(hc.res.body), 2);
	CHECK(strstr(hc.res.body, "\"local_id\":\"c-3\"") != NULL);
	CHECK(strstr(hc.res.body, "\"local_id\":\"c-4\"") != NULL);
	CHECK_STR(hc.res.next_cursor, "[30,\"c-4\"]");
	cursor = strdup(hc.res.next_cursor ? hc.res.next_cursor : "");
	CHECK_INT(harness_call(&hc, HARNESS_CHANGES, NULL, NULL, cursor),
	    CONNECTOR_OK);
	CHECK(strstr(hc.res.body, "[{\"local_id\":\"c-6\"") != NULL);
	CHECK_STR(hc.res.next_cursor, "[40,\"c-6\"]");
	free(cursor);
	cursor = strdup(hc.res.next_cursor ? hc.res.next_cursor : "");
	CHECK_INT(harness_call(&hc, HARNESS_CHANGES, NULL, NULL, cursor),
	    CONNECTOR_OK);
	CHECK_STR(hc.res.body, "[]");
	CHECK_STR(hc.res.next_cursor, cursor);
	free(cursor);
	teardown(cfg, &hc);
}

/* Loading the registry with `keys` fails with msg. */
static void
check_refused(const struct backend *b, const char *keys, const char *msg)
{
	struct config_errors errs = { 0 };
	struct config *cfg = load_registry(b, keys, &errs);

	CHECK(cfg == NULL);
	CHECK(harness_has_error(&errs, 0, 0, msg));
	config_free(cfg);
	config_errors_free(&errs);
}

static void
scenario_bad_identifiers(const struct backend *b)
{
	check_refused(b,
	    "      table: \"citizens; DROP TABLE citizens\"\n"
	    "      key_column: id\n"
	    "      columns: [nom]\n",
	    "table: 'citizens; DROP TABLE citizens' is not a plain SQL "
	    "identifier");
	check_refused(b,
	    "      table: citizens\n"
	    "      key_column: 'id\"'\n"
	    "      columns: [nom]\n",
	    "key_column: 'id\"' is not a plain SQL identifier");
	check_refused(b,
	    "      table: citizens\n"
	    "      key_column: id\n"
	    "      columns: [nom, 1enfants]\n",
	    "columns: '1enfants' is not a plain SQL identifier");
	check_refused(b,
	    "      table: citizens\n"
	    "      key_column: id\n"
	    "      columns: [nom]\n"
	    "      cursor_column: a234567890123456789012345678901234567890"
	    "123456789012345678901234\n",
	    "cursor_column: 'a2345678901234567890123456789012345678901234567890"
	    "12345678901234' is not a plain SQL identifier");
	check_refused(b,
	    "      table: citizens\n"
	    "      key_column: id\n"
	    "      columns: [nom, id]\n",
	    "columns: 'id' is the key_column");
	check_refused(b,
	    "      table: citizens\n"
	    "      key_column: id\n"
	    "      columns: [nom, ville, nom]\n",
	    "columns: 'nom' is listed twice");
}

/* Another writer holds the database: the push is a retry, and once the
 * lock is gone the next push goes through (no transaction left open). */
static void
test_sqlite_locked(void)
{
	struct config_errors errs = { 0 };
	struct harness_conn hc;
	struct config *cfg;
	sqlite3 *other;
	char keys[512], err[256];

	CHECK(lite.exec(lite.schema) == 0 && lite.exec(seed_sql) == 0);
	snprintf(keys, sizeof(keys), "%s      timeout: 100ms\n", registry_keys);
	if ((cfg = load_registry(&lite, keys, &errs)) == NULL ||
	    harness_open(&hc, cfg, "registry", err, sizeof(err)) != 0) {
		CHECK(!"registry not loaded");
		config_errors_free(&errs);
		config_free(cfg);
		return;
	}
	other = lite_open();
	CHECK(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
	    SQLITE_OK);
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-1", "{\"nom\": \"X\"}",
	    NULL), CONNECTOR_RETRY);
	CHECK_STR(hc.res.detail, "sqlite: database is locked");
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-1", "{\"nom\": \"X\"}",
	    NULL), CONNECTOR_OK);
	CHECK_INT(lite_count("SELECT count(*) FROM citizens WHERE nom = 'X'"), 1);
	teardown(cfg, &hc);
}

static void
test_sqlite(void)
{
	scenario_fetch(&lite);
	scenario_push(&lite);
	scenario_injection(&lite);
	scenario_changes(&lite);
	scenario_bad_identifiers(&lite);
}

static void
test_postgresql(void)
{
	struct harness_conn hc;
	struct config *cfg;

	CHECK(pg_up);
	if (!pg_up)
		return;
	scenario_fetch(&pg);
	scenario_push(&pg);
	scenario_injection(&pg);
	scenario_changes(&pg);
	scenario_bad_identifiers(&pg);
	/* A value of the wrong type: the server's message quotes it, the
	 * detail must not. */
	cfg = setup(&pg, &hc);
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-1",
	    "{\"enfants\": \"Le Goff\"}", NULL), CONNECTOR_PERMANENT);
	CHECK_STR(hc.res.detail, "postgresql: SQLSTATE 22P02");

	/* NaN and infinity are valid float values that JSON cannot carry: a
	 * row holding one is refused whole, naming the column, rather than
	 * losing the value and shifting the columns after it. */
	CHECK(pg_exec("UPDATE citizens SET revenu = 'NaN' WHERE id = 'c-1';"
	    "UPDATE citizens SET revenu = '-Infinity' WHERE id = 'c-3';") == 0);
	CHECK_INT(harness_call(&hc, HARNESS_FETCH, "c-1", NULL, NULL),
	    CONNECTOR_PERMANENT);
	CHECK(hc.res.detail != NULL && strncmp(hc.res.detail,
	    "column revenu holds a value JSON cannot carry", 45) == 0);
	CHECK_INT(harness_call(&hc, HARNESS_CHANGES, NULL, NULL,
	    "[10,\"c-1\"]"), CONNECTOR_PERMANENT);
	CHECK(pg_exec("UPDATE citizens SET revenu = 1 WHERE id IN "
	    "('c-1', 'c-3');") == 0);

	/* The server restarts under an open connection: at most one call
	 * is a retry, then the instance has connected again. */
	CHECK_INT(harness_call(&hc, HARNESS_FETCH, "c-1", NULL, NULL),
	    CONNECTOR_OK);
	CHECK(harness_pg(root, dir, "restart") == 0);
	if (harness_call(&hc, HARNESS_FETCH, "c-1", NULL, NULL) != CONNECTOR_OK)
		CHECK_INT(hc.res.status, CONNECTOR_RETRY);
	CHECK_INT(harness_call(&hc, HARNESS_FETCH, "c-1", NULL, NULL),
	    CONNECTOR_OK);
	CHECK_INT(harness_call(&hc, HARNESS_CHANGES, NULL, NULL,
	    "[20,\"c-3\"]"), CONNECTOR_OK);
	CHECK_STR(hc.res.next_cursor, "[30,\"c-4\"]");
	teardown(cfg, &hc);
}

static void
test_driver_keys(void)
{
	check_refused(&lite,
	    "      dsn: env:H_PG_DSN\n"
	    "      table: citizens\n"
	    "      key_column: id\n"
	    "      columns: [nom]\n",
	    "driver sqlite needs path, not dsn");
	static const struct backend mysql = { "mysql",
	    "      driver: mysql\n      path: registry.db\n", NULL, NULL,
	    NULL };

	check_refused(&mysql,
	    "      table: citizens\n"
	    "      key_column: id\n"
	    "      columns: [nom]\n",
	    "driver: expected sqlite or postgresql");
}

/* A database that is not there: retried, never a crash. */
static void
test_unreachable(void)
{
	struct config_errors errs = { 0 };
	struct harness_conn hc;
	struct config *cfg;
	char err[256];

	setenv("H_BAD_DSN", "host=/nonexistent user=nobody dbname=none "
	    "connect_timeout=2", 1);
	cfg = harness_load(dir,
	    "  registry:\n"
	    "    name: Registry\n"
	    "    auth: {api_key: env:H_REG_KEY}\n"
	    "    connector:\n"
	    "      type: sql\n"
	    "      driver: postgresql\n"
	    "      dsn: env:H_BAD_DSN\n"
	    "      table: citizens\n"
	    "      key_column: id\n"
	    "      columns: [nom]\n", &errs);
	CHECK(cfg != NULL);
	if (cfg == NULL)
		return;
	CHECK_INT(harness_open(&hc, cfg, "registry", err, sizeof(err)), 0);
	CHECK_INT(harness_call(&hc, HARNESS_FETCH, "c-1", NULL, NULL),
	    CONNECTOR_RETRY);
	CHECK(strncmp(hc.res.detail ? hc.res.detail : "",
	    "postgresql: cannot connect: ", 28) == 0);
	CHECK_INT(harness_call(&hc, HARNESS_CHANGES, NULL, NULL, NULL),
	    CONNECTOR_PERMANENT);
	CHECK_STR(hc.res.detail, "no cursor_column is configured");
	teardown(cfg, &hc);
}

int
main(int argc, char **argv)
{
	(void)argc;
	harness_env();
	setenv("H_REG_KEY", "registry-key", 1);
	harness_paths(argv[0], build, root);
	tmpdir_make(dir);
	pg_up = harness_pg_start(root, dir) == 0;
	UNIT_RUN(test_sqlite);
	UNIT_RUN(test_sqlite_locked);
	UNIT_RUN(test_postgresql);
	UNIT_RUN(test_driver_keys);
	UNIT_RUN(test_unreachable);
	if (harness_pg(root, dir, "stop") == -1)
		fprintf(stderr, "pgserver.sh stop failed\n");
	tmpdir_remove(dir);
	return UNIT_END();
}
