/* sqlite_floor.c — what SQLite itself costs a push, by the B-trees the push
 * writes: a floor under any outbox built on it, to weigh a design of the
 * outbox before building it.
 *
 *   sqlite_floor FILE TREES PUSHES BATCH PREFILL
 *
 * Each push appends a record row and three outbox rows, their ids made as
 * the gateway makes them (store_new_ordered_id), BATCH pushes a
 * transaction, in WAL mode with synchronous FULL, on one connection, after
 * PREFILL pushes made the same way. TREES adds what the gateway's outbox
 * writes besides, a comma list of:
 *
 *   ids      the ids' unique indexes (records and deliveries)
 *   subject  each record's version, its subject's last + 1, read from and
 *            added to an index by subject (records_by_subject), over 2,000
 *            subjects as bench/push.sh spreads them
 *   key      an idempotency key, random as a client's UUID, in a table
 *            keyed by it (push_keys)
 *
 * or "none". Prints the process's CPU time (user and system) per push made
 * after the prefill. FILE must not exist. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "clock.h"
#include "store.h"

#define FLOOR_SUBJECTS 2000
#define FLOOR_SUBSCRIBERS 3

enum floor_tree { FLOOR_IDS = 1, FLOOR_SUBJECT = 2, FLOOR_KEY = 4 };

struct floor {
	sqlite3 *db;
	sqlite3_stmt *record, *delivery, *key;
	int trees;
	char subjects[FLOOR_SUBJECTS][STORE_SUBJECT_LEN];
};

static double
floor_cpu_s(void)
{
	struct rusage u;

	getrusage(RUSAGE_SELF, &u);
	return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
	    (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/* The TREES argument's bits; -1 on a name it does not know. */
static int
floor_trees(const char *arg)
{
	static const struct { const char *name; int bit; } names[] = {
		{ "none", 0 }, { "ids", FLOOR_IDS }, { "subject", FLOOR_SUBJECT },
		{ "key", FLOOR_KEY },
	};
	char copy[64], *save = NULL;
	int trees = 0;

	if (strlen(arg) >= sizeof(copy))
		return -1;
	strcpy(copy, arg);
	for (char *t = strtok_r(copy, ",", &save); t != NULL;
	    t = strtok_r(NULL, ",", &save)) {
		size_t i = 0;

		while (i < sizeof(names) / sizeof(names[0]) &&
		    strcmp(t, names[i].name) != 0)
			i++;
		if (i == sizeof(names) / sizeof(names[0]))
			return -1;
		trees |= names[i].bit;
	}
	return trees;
}

static int
floor_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK)
		return 0;
	fprintf(stderr, "sqlite_floor: %s: %s\n", sql, err);
	sqlite3_free(err);
	return -1;
}

static int
floor_prepare(struct floor *f, const char *sql, sqlite3_stmt **s)
{
	if (sqlite3_prepare_v2(f->db, sql, -1, s, NULL) == SQLITE_OK)
		return 0;
	fprintf(stderr, "sqlite_floor: %s\n", sqlite3_errmsg(f->db));
	return -1;
}

static int
floor_open(struct floor *f, const char *path)
{
	if (sqlite3_open_v2(path, &f->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_EXCLUSIVE, NULL) != SQLITE_OK) {
		fprintf(stderr, "sqlite_floor: %s: %s\n", path,
		    sqlite3_errmsg(f->db));
		return -1;
	}
	if (floor_exec(f->db, "PRAGMA journal_mode = WAL;"
	    "PRAGMA synchronous = FULL;"
	    "CREATE TABLE records (seq INTEGER PRIMARY KEY, id TEXT NOT NULL,"
	    "  subject TEXT NOT NULL, version INTEGER NOT NULL,"
	    "  record TEXT NOT NULL);"
	    "CREATE TABLE deliveries (seq INTEGER PRIMARY KEY, id TEXT NOT NULL,"
	    "  record_seq INTEGER NOT NULL, subscriber INTEGER NOT NULL,"
	    "  subject TEXT NOT NULL, state INTEGER NOT NULL);"
	    "CREATE TABLE push_keys (key TEXT PRIMARY KEY, record_seq INTEGER"
	    "  NOT NULL) WITHOUT ROWID;") != 0)
		return -1;
	if ((f->trees & FLOOR_IDS) && floor_exec(f->db,
	    "CREATE UNIQUE INDEX records_id ON records (id);"
	    "CREATE UNIQUE INDEX deliveries_id ON deliveries (id);") != 0)
		return -1;
	if ((f->trees & FLOOR_SUBJECT) && floor_exec(f->db,
	    "CREATE INDEX records_by_subject ON records (subject, version);") != 0)
		return -1;
	return floor_prepare(f, (f->trees & FLOOR_SUBJECT) ?
	    "INSERT INTO records (id, subject, version, record) VALUES (?1, ?2,"
	    " (SELECT coalesce(max(version), 0) + 1 FROM records"
	    "  WHERE subject = ?2), ?3)" :
	    "INSERT INTO records (id, subject, version, record)"
	    " VALUES (?1, ?2, 1, ?3)", &f->record) ||
	    floor_prepare(f, "INSERT INTO deliveries (id, record_seq,"
	    " subscriber, subject, state) VALUES (?1, ?2, ?3, ?4, 0)",
	    &f->delivery) ||
	    floor_prepare(f, "INSERT INTO push_keys (key, record_seq)"
	    " VALUES (?1, ?2)", &f->key);
}

static int
floor_step(struct floor *f, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return 0;
	fprintf(stderr, "sqlite_floor: %s\n", sqlite3_errmsg(f->db));
	return -1;
}

/* Push n's rows, in the open transaction. */
static int
floor_push(struct floor *f, long n)
{
	const char *subject = f->subjects[n % FLOOR_SUBJECTS];
	char id[STORE_ID_LEN], record[160];
	int64_t now = clock_now_ms(), seq;

	store_new_ordered_id(id, now);
	snprintf(record, sizeof(record), "{\"street\":\"%ld rue de la Paix\","
	    "\"postal_code\":\"29%03ld\",\"city\":\"Quimper\",\"country\":\"FR\"}",
	    n, n % 1000);
	sqlite3_bind_text(f->record, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(f->record, 2, subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(f->record, 3, record, -1, SQLITE_TRANSIENT);
	if (floor_step(f, f->record) != 0)
		return -1;
	seq = sqlite3_last_insert_rowid(f->db);
	for (int i = 0; i < FLOOR_SUBSCRIBERS; i++) {
		store_new_ordered_id(id, now);
		sqlite3_bind_text(f->delivery, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(f->delivery, 2, seq);
		sqlite3_bind_int(f->delivery, 3, i);
		sqlite3_bind_text(f->delivery, 4, subject, -1, SQLITE_STATIC);
		if (floor_step(f, f->delivery) != 0)
			return -1;
	}
	if (!(f->trees & FLOOR_KEY))
		return 0;
	store_new_id(id);
	sqlite3_bind_text(f->key, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(f->key, 2, seq);
	return floor_step(f, f->key);
}

/* Pushes [from, to), batch a transaction. */
static int
floor_run(struct floor *f, long from, long to, long batch)
{
	for (long n = from; n < to; n += batch) {
		long end = n + batch < to ? n + batch : to;

		if (floor_exec(f->db, "BEGIN IMMEDIATE") != 0)
			return -1;
		for (long i = n; i < end; i++)
			if (floor_push(f, i) != 0)
				return -1;
		if (floor_exec(f->db, "COMMIT") != 0)
			return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct floor f;
	long pushes, batch, prefill;
	double cpu0;

	if (argc != 6 || (f.trees = floor_trees(argv[2])) < 0 ||
	    (pushes = atol(argv[3])) <= 0 || (batch = atol(argv[4])) <= 0 ||
	    (prefill = atol(argv[5])) < 0) {
		fprintf(stderr, "usage: sqlite_floor FILE none|ids,subject,key "
		    "PUSHES BATCH PREFILL\n");
		return 2;
	}
	for (int i = 0; i < FLOOR_SUBJECTS; i++) {
		char half[STORE_ID_LEN];

		store_new_id(half);
		memcpy(f.subjects[i], half, STORE_ID_LEN - 1);
		store_new_id(half);
		memcpy(f.subjects[i] + STORE_ID_LEN - 1, half, STORE_ID_LEN);
	}
	if (floor_open(&f, argv[1]) != 0 || floor_run(&f, 0, prefill, batch) != 0)
		return 1;
	cpu0 = floor_cpu_s();
	if (floor_run(&f, prefill, prefill + pushes, batch) != 0)
		return 1;
	printf("trees %s, batches of %ld, after %ld pushes: %.1f us of CPU "
	    "per push\n", argv[2], batch, prefill,
	    (floor_cpu_s() - cpu0) * 1e6 / (double)pushes);
	return 0;
}
