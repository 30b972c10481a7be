/* test_erasure.c — the store's side of retention and erasure (contract §6)
 * on both backends (store_suite.h), SQLite files and a real PostgreSQL:
 * which record versions a purge erases and which it keeps, erasure of one
 * subject, unlinking, the migration that ties idempotency keys to their
 * record; and, on SQLite, erased values gone from the database file and
 * its write-ahead log. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store_suite.h"

#define SUBJ_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SUBJ_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define T0 1700000000000LL
#define DAY 86400000LL

static const char *const caf[] = { "caf" };

/* One version of subject's record of `dataset`, pushed at now_ms for caf. */
static void
push_at(struct store *st, const char *subject, const char *dataset,
    const char *record, const char *key, int64_t now_ms)
{
	char id[STORE_ID_LEN];
	struct store_push_result res;
	struct store_push p = {
		.record_id = id, .provider = "mairie", .subject = subject,
		.dataset = dataset, .record = record, .subscribers = caf,
		.nsubscribers = 1, .idempotency_key = key,
		.request_sha256 = record, .response = "{}", .now_ms = now_ms,
	};

	store_new_id(id);
	CHECK_INT(store_record_accept(st, &p, 1, &res, NULL), STORE_OK);
	CHECK_INT(res.status, STORE_OK);
}

/* Takes caf's due deliveries and stores each as `state`; a retry is due
 * long after anything the tests look at. */
static size_t
settle(struct store *st, enum store_delivery_state state, int64_t now_ms)
{
	struct store_delivery *list;
	size_t n;

	if (store_delivery_take(st, "caf", now_ms, 100, &list, &n) != STORE_OK)
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct store_delivery_outcome o = { .id = list[i].id,
		    .seq = list[i].seq,
		    .state = state, .attempts = 1, .due_ms = now_ms + 1000 * DAY,
		    .error = state == STORE_DELIVERY_DELIVERED ? NULL : "HTTP 503" };

		CHECK_INT(store_delivery_finish(st, &o, 1, now_ms), STORE_OK);
	}
	store_deliveries_free(list, n);
	return n;
}

/* The records of `dataset` still in the changes feed. */
static size_t
feed(struct store *st, const char *dataset)
{
	struct store_record *list;
	size_t n;

	if (store_change_list(st, dataset, 0, 100, &list, &n) != STORE_OK)
		return (size_t)-1;
	store_records_free(list, n);
	return n;
}

static const struct store_retention rules[] = {
	{ "address", 10 * DAY },
	{ "household", 100 * DAY },
};

static uint64_t
purge(struct store *st, int64_t now_ms, size_t limit)
{
	struct store_purge p = { rules, 2, 30 * DAY, now_ms };
	uint64_t erased = 0;

	CHECK_INT(store_purge(st, &p, limit, &erased), STORE_OK);
	return erased;
}

static uint64_t
backlog(struct store *st, int64_t now_ms)
{
	struct store_purge p = { rules, 2, 30 * DAY, now_ms };
	uint64_t n = 0;

	CHECK_INT(store_purge_backlog(st, &p, &n), STORE_OK);
	return n;
}

/* A settled version goes once past its dataset's retention; one whose
 * delivery still retries stays until twice that; a dataset no rule names
 * takes the default. */
static void
test_purge(void)
{
	struct store *st = suite_open("purge");

	if (st == NULL)
		return;
	push_at(st, SUBJ_A, "address", "{\"city\":\"Brest\"}", "k1", T0);
	CHECK_INT(settle(st, STORE_DELIVERY_DELIVERED, T0), 1);
	push_at(st, SUBJ_B, "address", "{\"city\":\"Morlaix\"}", NULL, T0);
	CHECK_INT(settle(st, STORE_DELIVERY_PENDING, T0), 1);   /* retries */
	push_at(st, SUBJ_A, "household", "{\"size\":3}", NULL, T0);
	push_at(st, SUBJ_A, "pets", "{\"dogs\":1}", NULL, T0);
	settle(st, STORE_DELIVERY_DEAD, T0);

	CHECK_INT(purge(st, T0 + 10 * DAY - 1, 100), 0);
	CHECK_INT(backlog(st, T0 + 10 * DAY - 1), 0);
	CHECK_INT(backlog(st, T0 + 10 * DAY), 4);
	/* A's address (record and delivery); B's is held by its retry. */
	CHECK_INT(purge(st, T0 + 10 * DAY, 100), 2);
	CHECK_INT(feed(st, "address"), 1);
	CHECK_INT(backlog(st, T0 + 10 * DAY), 2);
	/* The idempotency key went with its record: reusing it stores anew. */
	push_at(st, SUBJ_A, "address", "{\"city\":\"Quimper\"}", "k1", T0 + 10 * DAY);
	CHECK_INT(feed(st, "address"), 2);

	CHECK_INT(purge(st, T0 + 20 * DAY - 1, 100), 0);
	CHECK_INT(purge(st, T0 + 20 * DAY, 100), 2);    /* B, held no longer */
	CHECK_INT(feed(st, "address"), 1);              /* Quimper stays */
	/* pets: the default; Quimper, never delivered, twice its retention. */
	CHECK_INT(purge(st, T0 + 30 * DAY, 100), 4);
	CHECK_INT(feed(st, "pets"), 0);
	CHECK_INT(feed(st, "address"), 0);
	CHECK_INT(feed(st, "household"), 1);
	CHECK_INT(purge(st, T0 + 100 * DAY, 100), 2);
	CHECK_INT(feed(st, "household"), 0);
	CHECK_INT(backlog(st, T0 + 1000 * DAY), 0);
	store_close(st);
}

/* Batches: each call erases at most `limit` record versions. */
static void
test_purge_batches(void)
{
	struct store *st = suite_open("batches");

	if (st == NULL)
		return;
	for (int i = 0; i < 5; i++)
		push_at(st, SUBJ_A, "pets", "{\"dogs\":1}", NULL, T0 + i);
	settle(st, STORE_DELIVERY_DELIVERED, T0 + 10);
	CHECK_INT(backlog(st, T0 + 31 * DAY), 10);
	CHECK_INT(purge(st, T0 + 31 * DAY, 2), 2 + 2);   /* 4 superseded, 1 delivered */
	CHECK_INT(feed(st, "pets"), 3);
	CHECK_INT(purge(st, T0 + 31 * DAY, 2), 4);
	CHECK_INT(purge(st, T0 + 31 * DAY, 2), 2);
	CHECK_INT(purge(st, T0 + 31 * DAY, 2), 0);
	CHECK_INT(feed(st, "pets"), 0);
	store_close(st);
}

/* How many view keys `db` holds for subject, read behind the store. */
static int64_t
view_keys(const char *db, const char *subject)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM view_keys WHERE "
	    "subject = '%s'", subject);
	return suite_be->scalar(db, sql);
}

/* Every version about the subject goes, dead letters and view key too;
 * another subject's stay. */
static void
test_erase_subject(void)
{
	struct store *st = suite_open("erase");
	unsigned char key[STORE_VIEW_KEY_LEN];
	struct store_delivery *dead;
	uint64_t erased;
	size_t n;

	if (st == NULL)
		return;
	push_at(st, SUBJ_A, "address", "{\"city\":\"Brest\"}", "k1", T0);
	settle(st, STORE_DELIVERY_DEAD, T0);
	push_at(st, SUBJ_A, "address", "{\"city\":\"Morlaix\"}", NULL, T0);
	push_at(st, SUBJ_B, "household", "{\"size\":2}", NULL, T0);
	CHECK_INT(store_view_key_get(st, SUBJ_A, key), STORE_OK);
	CHECK_INT(store_view_key_get(st, SUBJ_B, key), STORE_OK);
	CHECK_INT(view_keys("erase", SUBJ_A), 1);
	CHECK_INT(view_keys("erase", SUBJ_B), 1);

	CHECK_INT(store_erase_subject(st, SUBJ_A, &erased), STORE_OK);
	CHECK_INT(erased, 2 + 2);
	CHECK_INT(feed(st, "address"), 0);
	CHECK_INT(feed(st, "household"), 1);
	CHECK_INT(store_delivery_list(st, STORE_DELIVERY_DEAD, 0, 10, &dead, &n),
	    STORE_OK);
	CHECK_INT(n, 0);
	store_deliveries_free(dead, n);
	CHECK_INT(view_keys("erase", SUBJ_A), 0);
	CHECK_INT(view_keys("erase", SUBJ_B), 1);
	CHECK_INT(store_erase_subject(st, SUBJ_A, &erased), STORE_OK);
	CHECK_INT(erased, 0);
	CHECK_INT(store_view_key_erase(st, SUBJ_B), STORE_OK);
	CHECK_INT(view_keys("erase", SUBJ_B), 0);
	store_close(st);
}

/* A subject with a long history is erased in one statement per table.
 * Before step 19 the records' delete had to journal every page it
 * changed (secure_delete overwriting them), and with the statement
 * journal's spill size the store then set (1 MiB), SQLite 3.40 failed it
 * with SQLITE_FULL: the subject could not be erased. */
static void
test_erase_long_history(void)
{
	enum { PUSHES = 2000, BATCH = 100 };
	struct store *st = suite_open("erase_long");
	char record[2048], ids[BATCH][STORE_ID_LEN];
	struct store_push p[BATCH];
	struct store_push_result res[BATCH];
	uint64_t erased;

	if (st == NULL)
		return;
	memset(record, 0, sizeof(record));
	for (int b = 0; b < PUSHES / BATCH; b++) {
		for (int i = 0; i < BATCH; i++) {
			snprintf(record, sizeof(record), "{\"note\":\"%0*d\"}",
			    (int)sizeof(record) - 16, b * BATCH + i);
			store_new_id(ids[i]);
			p[i] = (struct store_push){ .record_id = ids[i],
			    .provider = "mairie", .subject = SUBJ_A,
			    .dataset = "address", .record = record,
			    .subscribers = caf, .nsubscribers = 1,
			    .request_sha256 = record, .response = "{}",
			    .now_ms = T0 };
		}
		CHECK_INT(store_record_accept(st, p, BATCH, res, NULL), STORE_OK);
	}
	CHECK_INT(store_erase_subject(st, SUBJ_A, &erased), STORE_OK);
	CHECK_INT(erased, 2 * PUSHES);
	CHECK_INT(feed(st, "address"), 0);
	store_close(st);
}

/* A statement of the store's process with a large undo journal
 * succeeds: with the process-wide spill size the store once set (1 MiB,
 * sq_configure), SQLite 3.40 failed it with SQLITE_FULL. A statement that
 * may abort halfway, in a transaction, changing some 20 MiB of pages. */
static void
test_statement_journal_large(void)
{
	struct store *st = suite_open("spill");
	char file[TMPDIR_PATH_LEN + 32];
	sqlite3 *db = NULL;

	if (st == NULL)
		return;
	snprintf(file, sizeof(file), "%s/spill-raw.db", suite_dir);
	CHECK_INT(sqlite3_open(file, &db), SQLITE_OK);
	CHECK_INT(sqlite3_exec(db, "PRAGMA journal_mode = WAL;"
	    "CREATE TABLE t (id TEXT UNIQUE, x TEXT);"
	    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
	    "WHERE i < 200000) INSERT INTO t SELECT hex(randomblob(16)), "
	    "hex(randomblob(20)) FROM c;"
	    "BEGIN; INSERT INTO t VALUES ('first', '');", NULL, NULL, NULL),
	    SQLITE_OK);
	CHECK_INT(sqlite3_exec(db, "UPDATE t SET x = hex(randomblob(20))",
	    NULL, NULL, NULL), SQLITE_OK);
	CHECK_INT(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	store_close(st);
}

/* The local id is unlinked and the subject's consents with that service
 * revoked, not those with others; linking again works. */
static void
test_link_delete(void)
{
	struct store *st = suite_open("unlink");
	char subject[STORE_SUBJECT_LEN];
	char *attrs[] = { "city" };
	struct store_consent c1 = { .subject = SUBJ_A, .consumer = "caf",
	    .provider = "mairie", .dataset = "address", .purpose = "p",
	    .attributes = attrs, .nattributes = 1, .created_ms = T0 };
	struct store_consent c2 = c1, got;
	int created;

	if (st == NULL)
		return;
	c2.consumer = "ccas";
	store_new_id(c1.id);
	store_new_id(c2.id);
	CHECK_INT(store_link_put(st, "caf", "C1", SUBJ_A, 2, &created), STORE_OK);
	CHECK_INT(store_consent_insert(st, &c1), STORE_OK);
	CHECK_INT(store_consent_insert(st, &c2), STORE_OK);

	CHECK_INT(store_link_delete(st, "caf", "C1", T0 + 5, subject), STORE_OK);
	CHECK_STR(subject, SUBJ_A);
	CHECK_INT(store_link_subject(st, "caf", "C1", subject, NULL), STORE_NOT_FOUND);
	CHECK_INT(store_consent_get(st, c1.id, &got), STORE_OK);
	CHECK_INT(got.revoked_ms, T0 + 5);
	store_consent_clear(&got);
	CHECK_INT(store_consent_get(st, c2.id, &got), STORE_OK);
	CHECK_INT(got.revoked_ms, 0);
	store_consent_clear(&got);
	CHECK_INT(store_link_delete(st, "caf", "C1", T0 + 6, subject),
	    STORE_NOT_FOUND);

	CHECK_INT(store_link_put(st, "caf", "C1", SUBJ_A, 2, &created), STORE_OK);
	CHECK_INT(created, 1);
	CHECK_INT(store_link_subject(st, "caf", "C1", subject, NULL), STORE_OK);
	store_close(st);
}

/* What a purge or an erasure deleted is in neither the database file nor
 * its write-ahead log once compacted, while what is kept still is. */
static void
test_values_gone_from_files(void)
{
	struct store *st = suite_open("files");
	struct stat wal;
	char path[TMPDIR_PATH_LEN + 64];
	uint64_t erased;

	if (st == NULL)
		return;
	push_at(st, SUBJ_A, "address", "{\"street\":\"rue-erased-4711\"}", NULL, T0);
	push_at(st, SUBJ_B, "address", "{\"street\":\"rue-purged-4712\"}", NULL, T0);
	push_at(st, SUBJ_B, "household", "{\"street\":\"rue-kept-4713\"}", NULL,
	    T0 + 50 * DAY);
	settle(st, STORE_DELIVERY_DELIVERED, T0);
	CHECK_INT(store_compact(st), STORE_OK);
	CHECK(suite_file_holds("files.db", "rue-erased-4711"));

	CHECK_INT(store_erase_subject(st, SUBJ_A, &erased), STORE_OK);
	CHECK_INT(purge(st, T0 + 50 * DAY, 100), 2);
	CHECK(suite_file_holds("files.db-wal", "rue-erased-4711") ||
	    suite_file_holds("files.db-wal", "rue-purged-4712"));
	CHECK_INT(store_compact(st), STORE_OK);
	snprintf(path, sizeof(path), "%s/files.db-wal", suite_dir);
	CHECK(stat(path, &wal) != 0 || wal.st_size == 0);
	for (const char *const *f = (const char *const[]){ "files.db",
	    "files.db-wal", NULL }; *f != NULL; f++) {
		CHECK(!suite_file_holds(*f, "rue-erased-4711"));
		CHECK(!suite_file_holds(*f, "rue-purged-4712"));
	}
	CHECK(suite_file_holds("files.db", "rue-kept-4713"));
	store_close(st);
}

/* A schema 4 database: idempotency keys stored then are tied to their
 * record by the migration, and go with it; a key whose response is not
 * JSON stays unnamed and fails nothing. */
static void
test_migrate_push_keys(void)
{
	struct store *st = suite_open("v4");

	if (st == NULL)
		return;
	push_at(st, SUBJ_A, "pets", "{\"dogs\":1}", "old-key", T0);
	settle(st, STORE_DELIVERY_DELIVERED, T0);
	store_close(st);
	/* The response of a real push names the record it stored. */
	CHECK_INT(suite_be->exec("v4", "DROP INDEX push_keys_by_record;"
	    "UPDATE push_keys SET response = '{\"id\":\"' || "
	    "(SELECT id FROM records) || '\",\"deliveries\":1}';"
	    "INSERT INTO push_keys (provider, key, request_sha256, response, "
	    "created_ms) VALUES ('mairie', 'junk', 'x', 'not json', 0);"
	    "ALTER TABLE push_keys DROP COLUMN record_seq;"
	    "DROP INDEX records_by_age; DROP INDEX deliveries_by_record;"
	    "DROP INDEX IF EXISTS deliveries_dead;"
	    "DROP TABLE view_keys; DROP TABLE health;"
	    "ALTER TABLE records DROP COLUMN traceparent;"
	    "ALTER TABLE deliveries DROP COLUMN audit_index;"
	    "ALTER TABLE deliveries DROP COLUMN audit_sha256;"
	    "ALTER TABLE deliveries DROP COLUMN claimed_by;"
	    "ALTER TABLE deliveries DROP COLUMN lease_until;"
	    "ALTER TABLE push_keys DROP COLUMN audit_index;"
	    "DROP TABLE mandate_datasets; DROP TABLE mandates;"
	    "ALTER TABLE consents DROP COLUMN mandate;"
	    "ALTER TABLE consents DROP COLUMN mediator;"
	    "ALTER TABLE consents DROP COLUMN helper;"
	    "DROP TABLE audit_heads; DROP TABLE IF EXISTS audit_state;"
	    "DROP TABLE IF EXISTS audit_entries;"
	    "DROP TABLE IF EXISTS audit_tiles;"), 0);
	/* SQLite keeps the access index in a file of its own since step 17
	 * and had it in the store's, as PostgreSQL still does; its links
	 * hold view keys since step 20. */
	CHECK_INT(suite_be->exec("v4", strcmp(suite_be->name, "sqlite") == 0 ?
	    "DROP TABLE access_erasures; ALTER TABLE links DROP COLUMN view_key;"
	    "CREATE TABLE access_index (subject TEXT NOT NULL,"
	    " audit_index INTEGER NOT NULL, PRIMARY KEY (subject, audit_index))"
	    " WITHOUT ROWID;" :
	    "ALTER TABLE access_index DROP COLUMN mandate;"
	    "ALTER TABLE access_index DROP COLUMN mediator;"
	    "ALTER TABLE access_index DROP COLUMN helper;"), 0);
	CHECK_INT(suite_be->schema_version("v4", 4), 4);

	st = suite_open("v4");
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(suite_be->scalar("v4", "SELECT count(*) FROM push_keys "
	    "WHERE record_seq IS NULL"), 1);
	CHECK_INT(purge(st, T0 + 31 * DAY, 100), 2);
	push_at(st, SUBJ_A, "pets", "{\"dogs\":2}", "old-key", T0 + 31 * DAY);
	CHECK_INT(feed(st, "pets"), 1);
	store_close(st);
}

int
main(int argc, char **argv)
{
	(void)argc;
	suite_start(argv[0]);
	SUITE_RUN(test_purge);
	SUITE_RUN(test_purge_batches);
	SUITE_RUN(test_erase_subject);
	SUITE_RUN(test_erase_long_history);
	SUITE_RUN_SQLITE(test_statement_journal_large);
	SUITE_RUN(test_link_delete);
	SUITE_RUN_SQLITE(test_values_gone_from_files);
	SUITE_RUN(test_migrate_push_keys);
	suite_stop();
	return UNIT_END();
}
