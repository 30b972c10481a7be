/* test_connector_matrix.c — one delivery scenario, the same for every
 * connector type that stores records: sql on SQLite, sql on PostgreSQL,
 * file, and the example plugin. A record of the dataset is mapped to the
 * service's fields (with transforms), pushed, fetched back and mapped
 * again: what comes back must be what was sent, first as an insert, then
 * as an update. This is the push half of "the same scenarios whichever
 * connector" until deliveries run through the gateway; the http connector
 * has the same round trip in test_http_connector. */
#include <libpq-fe.h>
#include <sqlite3.h>

#include "connector_harness.h"
#include "mapping.h"
#include "unit.h"

static char dir[TMPDIR_PATH_LEN];
static char root[PATH_MAX], build[PATH_MAX];
static struct config *cfg;

static const char schema[] =
    "CREATE TABLE citizens (id TEXT PRIMARY KEY, nom TEXT, enfants INTEGER, "
    "naissance TEXT, verifie BOOLEAN)";

/* The same map for every service: the service writes dates DD/MM/YYYY
 * and may pad names. */
#define MAP \
    "      map:\n" \
    "        name: {path: nom, transform: [trim]}\n" \
    "        children: enfants\n" \
    "        birthdate: {path: naissance, transform: [{date: {from: DD/MM/YYYY}}]}\n" \
    "        verified: verifie\n"
#define SQL_KEYS \
    "      table: citizens\n" \
    "      key_column: id\n" \
    "      columns: [nom, enfants, naissance, verifie]\n"

static const char services[] =
    "  reg_sqlite:\n"
    "    name: Registry on SQLite\n"
    "    auth: {api_key: env:H_KEY_1}\n"
    "    connector:\n"
    "      type: sql\n"
    "      driver: sqlite\n"
    "      path: registry.db\n"
    SQL_KEYS MAP
    "  reg_pg:\n"
    "    name: Registry on PostgreSQL\n"
    "    auth: {api_key: env:H_KEY_2}\n"
    "    connector:\n"
    "      type: sql\n"
    "      driver: postgresql\n"
    "      dsn: env:H_PG_DSN\n"
    SQL_KEYS MAP
    "  folder:\n"
    "    name: Exchange folder\n"
    "    auth: {api_key: env:H_KEY_3}\n"
    "    connector:\n"
    "      type: file\n"
    "      dir: exchange\n"
    MAP
    "  directory:\n"
    "    name: Example plugin\n"
    "    auth: {api_key: env:H_KEY_4}\n"
    "    connector:\n"
    "      type: plugin\n"
    "      path: %s/connectors/example.so\n"
    "      records: {}\n"
    MAP;

/* Maps attrs (JSON text) to the service, pushes it as local id m-1, and
 * returns the record fetched back, mapped to the dataset. Caller frees. */
static char *
round_trip(struct harness_conn *hc, const struct config_connector *conn,
    const struct config_dataset *ds, const char *attrs)
{
	json_t *in = json_loads(attrs, 0, NULL), *raw = NULL, *back = NULL;
	char err[256], *text = NULL;

	CHECK_INT(mapping_from_dataset(conn, ds, in, &raw, err, sizeof(err)), 0);
	text = json_dumps(raw, JSON_COMPACT);
	CHECK_INT(harness_call(hc, HARNESS_PUSH, "m-1", text, NULL),
	    CONNECTOR_OK);
	free(text);
	text = NULL;
	json_decref(raw);
	json_decref(in);
	if (harness_call(hc, HARNESS_FETCH, "m-1", NULL, NULL) != CONNECTOR_OK)
		return NULL;
	raw = json_loads(hc->res.body, 0, NULL);
	if (mapping_to_dataset(conn, ds, raw, &back, err, sizeof(err)) == 0)
		text = json_dumps(back, JSON_COMPACT | JSON_SORT_KEYS);
	else
		fprintf(stderr, "  %s\n", err);
	json_decref(back);
	json_decref(raw);
	return text;
}

static void
scenario(const struct config *c, const char *service)
{
	const struct config_connector *conn =
	    config_find_service(c, service)->connector;
	const struct config_dataset *ds = config_find_dataset(c, "person");
	struct harness_conn hc;
	char err[256], *got;

	if (harness_open(&hc, c, service, err, sizeof(err)) != 0) {
		fprintf(stderr, "  %s: %s\n", service, err);
		CHECK(!"instance not created");
		return;
	}
	got = round_trip(&hc, conn, ds, "{\"name\": \" Le Goff-Kéréon \", "
	    "\"children\": 2, \"birthdate\": \"1984-03-12\", \"verified\": true}");
	CHECK_STR(got, "{\"birthdate\":\"1984-03-12\",\"children\":2,"
	    "\"name\":\"Le Goff-Kéréon\",\"verified\":true}");
	free(got);
	got = round_trip(&hc, conn, ds, "{\"name\": \"Le Goff\", "
	    "\"children\": 3, \"birthdate\": \"1984-03-12\", \"verified\": false}");
	CHECK_STR(got, "{\"birthdate\":\"1984-03-12\",\"children\":3,"
	    "\"name\":\"Le Goff\",\"verified\":false}");
	free(got);
	CHECK_INT(harness_call(&hc, HARNESS_FETCH, "m-2", NULL, NULL),
	    CONNECTOR_NOT_FOUND);
	CHECK_INT(harness_call(&hc, HARNESS_HEALTH, NULL, NULL, NULL),
	    CONNECTOR_OK);
	harness_close(&hc);
}

static int
make_tables(void)
{
	char path[TMPDIR_PATH_LEN + 16];
	PGconn *pg = PQconnectdb(getenv("H_PG_DSN"));
	PGresult *res = PQexec(pg, schema);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	sqlite3 *db;

	PQclear(res);
	PQfinish(pg);
	snprintf(path, sizeof(path), "%s/registry.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK)
		ok = 0;
	sqlite3_close(db);
	snprintf(path, sizeof(path), "%s/exchange", dir);
	return ok && mkdir(path, 0750) == 0 ? 0 : -1;
}

static void
test_sql_sqlite(void)
{
	scenario(cfg, "reg_sqlite");
}

static void
test_sql_postgresql(void)
{
	scenario(cfg, "reg_pg");
}

static void
test_file(void)
{
	scenario(cfg, "folder");
}

static void
test_plugin(void)
{
	scenario(cfg, "directory");
}

int
main(int argc, char **argv)
{
	struct config_errors errs = { 0 };
	char text[sizeof(services) + PATH_MAX];

	(void)argc;
	harness_env();
	setenv("H_KEY_1", "key-1", 1);
	setenv("H_KEY_2", "key-2", 1);
	setenv("H_KEY_3", "key-3", 1);
	setenv("H_KEY_4", "key-4", 1);
	harness_paths(argv[0], build, root);
	tmpdir_make(dir);
	snprintf(text, sizeof(text), services, build);
	if (harness_pg_start(root, dir) == -1 || make_tables() == -1 ||
	    (cfg = harness_load(dir, text, &errs)) == NULL) {
		fprintf(stderr, "cannot set up the services\n");
		config_errors_print(&errs, stderr);
		config_errors_free(&errs);
		harness_pg(root, dir, "stop");
		tmpdir_remove(dir);
		return 2;
	}
	UNIT_RUN(test_sql_sqlite);
	UNIT_RUN(test_sql_postgresql);
	UNIT_RUN(test_file);
	UNIT_RUN(test_plugin);
	config_free(cfg);
	harness_pg(root, dir, "stop");
	tmpdir_remove(dir);
	return UNIT_END();
}
