/* test_store.c — the SQLite store on real files: schema migrations, links,
 * consents, objections, the access index, two threads writing at once,
 * which commits wait for the disk, batches, the last signed checkpoint,
 * the online backup, and the lookup cache. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "store.h"
#include "tmpdir.h"
#include "unit.h"

#define SUBJ_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SUBJ_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static char dir[TMPDIR_PATH_LEN];

/* SQLite's syncs, counted: this program's fsync and fdatasync take the
 * place of libc's for the SQLite library too (the executable's symbols
 * come first), so a test sees whether a commit waited for the disk. */
static atomic_int syncs;

int
fsync(int fd)
{
	atomic_fetch_add(&syncs, 1);
	return (int)syscall(SYS_fsync, fd);
}

int
fdatasync(int fd)
{
	atomic_fetch_add(&syncs, 1);
	return (int)syscall(SYS_fdatasync, fd);
}

static struct store *
open_named(const char *name)
{
	char url[TMPDIR_PATH_LEN + 64], err[256];
	struct store *st;

	tmpdir_store_url(dir, name, url, sizeof(url));
	st = store_open(url, err, sizeof(err));
	if (st == NULL)
		fprintf(stderr, "  store_open: %s\n", err);
	return st;
}

/* PRAGMA user_version read (or, with set >= 0, written) behind the store's
 * back, to see the migration bookkeeping from outside. */
static int
user_version(const char *name, int set)
{
	char path[TMPDIR_PATH_LEN + 64], sql[64];
	sqlite3 *db;
	sqlite3_stmt *s;
	int v = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	if (set >= 0) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", set);
		sqlite3_exec(db, sql, NULL, NULL, NULL);
	}
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			v = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	return v;
}

static void
test_open_and_migrate(void)
{
	char subject[STORE_SUBJECT_LEN], err[256], url[TMPDIR_PATH_LEN + 64];
	struct store *st = open_named("migrate.db");
	int created, version;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(store_ping(st), 0);
	CHECK_INT(store_link_put(st, "caf", "C1", SUBJ_A, 2, &created), STORE_OK);
	store_close(st);
	version = user_version("migrate.db", -1);
	CHECK(version >= 1);

	/* Reopening finds the schema current and the data still there. */
	st = open_named("migrate.db");
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(store_link_subject(st, "caf", "C1", subject, NULL), STORE_OK);
	CHECK_STR(subject, SUBJ_A);
	store_close(st);
	CHECK_INT(user_version("migrate.db", -1), version);

	/* A database from a newer program is refused, not "migrated". */
	user_version("migrate.db", version + 1);
	tmpdir_store_url(dir, "migrate.db", url, sizeof(url));
	CHECK(store_open(url, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "newer") != NULL);
}

/* A links table as schema version 3 left it, written behind the store's
 * back (with the other tables later steps alter, reduced to a column):
 * opening migrates it, and its links are version 1 subjects. */
static void
test_migrate_pivot_version(void)
{
	char path[TMPDIR_PATH_LEN + 64], subject[STORE_SUBJECT_LEN];
	struct store *st;
	sqlite3 *db;
	int created;

	snprintf(path, sizeof(path), "%s/v3.db", dir);
	CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_INT(sqlite3_exec(db, "CREATE TABLE links (service TEXT NOT NULL,"
	    " local_id TEXT NOT NULL, subject TEXT NOT NULL,"
	    " created_ms INTEGER NOT NULL, PRIMARY KEY (service, local_id),"
	    " UNIQUE (service, subject)) WITHOUT ROWID;"
	    /* What later steps alter, as bare as they may be. */
	    "CREATE TABLE records (seq INTEGER PRIMARY KEY, id TEXT,"
	    " created_ms INTEGER);"
	    "CREATE TABLE deliveries (record_seq INTEGER);"
	    "CREATE TABLE push_keys (response TEXT);"
	    "CREATE TABLE consents (id TEXT);"
	    "CREATE TABLE access_index (subject TEXT, audit_index INTEGER);"
	    "INSERT INTO links VALUES ('caf', 'C1', '" SUBJ_A "', 1);"
	    "PRAGMA user_version = 3;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	st = open_named("v3.db");
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK(user_version("v3.db", -1) >= 4);
	CHECK_INT(store_subject_linked(st, SUBJ_A, 1), STORE_OK);
	CHECK_INT(store_subject_linked(st, SUBJ_A, 2), STORE_NOT_FOUND);
	CHECK_INT(store_link_subject(st, "caf", "C1", subject, NULL), STORE_OK);
	CHECK_STR(subject, SUBJ_A);
	/* A new link records the version it is given. */
	CHECK_INT(store_link_put(st, "caf", "C2", SUBJ_B, 2, &created), STORE_OK);
	CHECK_INT(store_subject_linked(st, SUBJ_B, 2), STORE_OK);
	CHECK_INT(store_subject_linked(st, SUBJ_B, 1), STORE_NOT_FOUND);
	/* Another service linking a version 1 subject keeps it version 1. */
	CHECK_INT(store_link_put(st, "mairie", "M1", SUBJ_A, 1, &created),
	    STORE_OK);
	CHECK_INT(created, 1);
	CHECK_INT(store_subject_linked(st, SUBJ_A, 2), STORE_NOT_FOUND);
	store_close(st);
}

static void
test_open_schemes(void)
{
	char err[256] = "";

	CHECK(store_open("postgresql://db.example/tellonce", err, sizeof(err)) == NULL);
	CHECK_STR(err, "postgresql store not built yet");
	err[0] = '\0';
	CHECK(store_open("mysql://db.example/tellonce", err, sizeof(err)) == NULL);
	CHECK(strstr(err, "scheme") != NULL);
	err[0] = '\0';
	CHECK(store_open("sqlite:", err, sizeof(err)) == NULL);
	CHECK(err[0] != '\0');
}

static void
test_links(void)
{
	struct store *st = open_named("links.db");
	char subject[STORE_SUBJECT_LEN];
	char *local_id = NULL;
	int created = -1;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(store_link_put(st, "caf", "C1", SUBJ_A, 2, &created), STORE_OK);
	CHECK_INT(created, 1);
	CHECK_INT(store_link_put(st, "caf", "C1", SUBJ_A, 2, &created), STORE_OK);
	CHECK_INT(created, 0);
	/* The local id is already someone else's... */
	CHECK_INT(store_link_put(st, "caf", "C1", SUBJ_B, 2, &created), STORE_CONFLICT);
	CHECK_INT(created, 0);
	/* ...and the subject already has another local id at this service. */
	CHECK_INT(store_link_put(st, "caf", "C2", SUBJ_A, 2, &created), STORE_CONFLICT);
	/* Another service may know the same subject under the same id text. */
	CHECK_INT(store_link_put(st, "mairie", "C1", SUBJ_A, 2, &created), STORE_OK);
	CHECK_INT(created, 1);

	CHECK_INT(store_link_subject(st, "caf", "C1", subject, NULL), STORE_OK);
	CHECK_STR(subject, SUBJ_A);
	CHECK_INT(store_link_subject(st, "caf", "C2", subject, NULL), STORE_NOT_FOUND);
	CHECK_INT(store_link_local_id(st, "mairie", SUBJ_A, &local_id), STORE_OK);
	CHECK_STR(local_id, "C1");
	free(local_id);
	CHECK_INT(store_link_local_id(st, "mairie", SUBJ_B, &local_id), STORE_NOT_FOUND);
	CHECK(local_id == NULL);
	store_close(st);
}

static void
consent_fill(struct store_consent *c, const char *id, const char *subject,
    const char *consumer, const char *provider, char **attrs, size_t n,
    int64_t created_ms)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->subject, sizeof(c->subject), "%s", subject);
	c->consumer = (char *)consumer;
	c->provider = (char *)provider;
	c->dataset = "address";
	c->purpose = "benefit-eligibility";
	c->attributes = attrs;
	c->nattributes = n;
	c->created_ms = created_ms;
}

static void
test_consents(void)
{
	struct store *st = open_named("consents.db");
	char *two[] = { "street", "city" }, *dup[] = { "city", "city" };
	struct store_consent c, got, *list = NULL;
	size_t n = 0;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	consent_fill(&c, "c1", SUBJ_A, "caf", "mairie", two, 2, 1000);
	c.expires_ms = 5000;
	CHECK_INT(store_consent_insert(st, &c), STORE_OK);
	CHECK_INT(store_consent_insert(st, &c), STORE_CONFLICT);
	consent_fill(&c, "c2", SUBJ_A, "caf", "mairie", two, 1, 2000);
	CHECK_INT(store_consent_insert(st, &c), STORE_OK);
	consent_fill(&c, "c3", SUBJ_A, "impots", "mairie", two, 2, 3000);
	CHECK_INT(store_consent_insert(st, &c), STORE_OK);
	consent_fill(&c, "c4", SUBJ_B, "caf", "mairie", two, 2, 4000);
	CHECK_INT(store_consent_insert(st, &c), STORE_OK);
	/* A duplicate attribute fails the whole consent, not half of it. */
	consent_fill(&c, "c5", SUBJ_A, "caf", "mairie", dup, 2, 5000);
	CHECK_INT(store_consent_insert(st, &c), STORE_CONFLICT);
	CHECK_INT(store_consent_get(st, "c5", &got), STORE_NOT_FOUND);

	CHECK_INT(store_consent_get(st, "c1", &got), STORE_OK);
	CHECK_STR(got.subject, SUBJ_A);
	CHECK_STR(got.consumer, "caf");
	CHECK_STR(got.provider, "mairie");
	CHECK_STR(got.dataset, "address");
	CHECK_STR(got.purpose, "benefit-eligibility");
	CHECK_INT(got.nattributes, 2);
	if (got.nattributes == 2) {
		CHECK_STR(got.attributes[0], "street");
		CHECK_STR(got.attributes[1], "city");
	}
	CHECK_INT(got.created_ms, 1000);
	CHECK_INT(got.expires_ms, 5000);
	CHECK_INT(got.revoked_ms, 0);
	store_consent_clear(&got);

	CHECK_INT(store_consent_find(st, SUBJ_A, "caf", "mairie", "address",
	    &list, &n), STORE_OK);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(list[0].id, "c2");   /* newest first */
		CHECK_STR(list[1].id, "c1");
		CHECK_INT(list[0].nattributes, 1);
	}
	store_consents_free(list, n);
	CHECK_INT(store_consent_find(st, SUBJ_A, NULL, NULL, NULL, &list, &n),
	    STORE_OK);
	CHECK_INT(n, 3);
	store_consents_free(list, n);
	CHECK_INT(store_consent_find(st, SUBJ_A, "caf", "impots", NULL, &list, &n),
	    STORE_OK);
	CHECK_INT(n, 0);
	store_consents_free(list, n);

	CHECK_INT(store_consent_list_for(st, SUBJ_A, "mairie", &list, &n), STORE_OK);
	CHECK_INT(n, 3);
	store_consents_free(list, n);
	CHECK_INT(store_consent_list_for(st, SUBJ_A, "impots", &list, &n), STORE_OK);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_STR(list[0].id, "c3");
	store_consents_free(list, n);
	CHECK_INT(store_consent_list_for(st, SUBJ_A, "portal", &list, &n), STORE_OK);
	CHECK_INT(n, 0);
	store_consents_free(list, n);

	/* Revocation is recorded once; revoking again keeps the first time. */
	CHECK_INT(store_consent_revoke(st, "c1", 7000), STORE_OK);
	CHECK_INT(store_consent_revoke(st, "c1", 9000), STORE_OK);
	CHECK_INT(store_consent_get(st, "c1", &got), STORE_OK);
	CHECK_INT(got.revoked_ms, 7000);
	store_consent_clear(&got);
	CHECK_INT(store_consent_revoke(st, "nope", 7000), STORE_NOT_FOUND);
	store_close(st);
}

static void
test_objections(void)
{
	struct store *st = open_named("objections.db");
	struct store_objection o = {
		.id = "o1", .subject = SUBJ_A, .dataset = "address",
		.purpose = "benefit-eligibility", .consumer = "caf",
		.created_ms = 1000,
	};

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(store_objection_insert(st, &o), STORE_OK);
	CHECK_INT(store_objection_insert(st, &o), STORE_CONFLICT);
	CHECK_INT(store_objection_match(st, SUBJ_A, "address",
	    "benefit-eligibility", "caf"), STORE_OK);
	CHECK_INT(store_objection_match(st, SUBJ_A, "address",
	    "benefit-eligibility", "impots"), STORE_NOT_FOUND);
	CHECK_INT(store_objection_match(st, SUBJ_A, "address", "tax", "caf"),
	    STORE_NOT_FOUND);
	CHECK_INT(store_objection_match(st, SUBJ_B, "address",
	    "benefit-eligibility", "caf"), STORE_NOT_FOUND);

	/* Without a consumer the objection covers every consumer. */
	snprintf(o.id, sizeof(o.id), "o2");
	snprintf(o.subject, sizeof(o.subject), "%s", SUBJ_B);
	o.consumer = NULL;
	CHECK_INT(store_objection_insert(st, &o), STORE_OK);
	CHECK_INT(store_objection_match(st, SUBJ_B, "address",
	    "benefit-eligibility", "caf"), STORE_OK);
	CHECK_INT(store_objection_match(st, SUBJ_B, "address",
	    "benefit-eligibility", "impots"), STORE_OK);
	CHECK_INT(store_objection_match(st, SUBJ_B, "household",
	    "benefit-eligibility", "caf"), STORE_NOT_FOUND);
	store_close(st);
}

/* One pair, as the catch-up at start writes them. */
static enum store_status
access_put(struct store *st, const char *subject, uint64_t index)
{
	struct store_access row = { .subject = subject, .audit_index = index };

	return store_access_put(st, &row, 1);
}

static void
test_access_index(void)
{
	struct store *st = open_named("access.db");
	uint64_t *idx = NULL;
	size_t n = 0;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	for (uint64_t i = 1; i <= 10; i++)
		CHECK_INT(access_put(st, SUBJ_A, i * 2), STORE_OK);
	CHECK_INT(access_put(st, SUBJ_A, 4), STORE_OK);   /* idempotent */
	CHECK_INT(access_put(st, SUBJ_B, 21), STORE_OK);
	{
		/* A batch, as the audit sequencer hands it over: all or none. */
		const struct store_access rows[] = {
			{ SUBJ_B, 22, NULL, NULL, NULL },
			{ SUBJ_B, 23, "m-1", "franceservices", "agent-7" },
			{ SUBJ_B, 24, NULL, NULL, NULL },
		};
		char *mediator = NULL, *helper = NULL;

		CHECK_INT(store_access_put(st, rows, 3), STORE_OK);
		/* Who acted under a mandate is kept with the index row. */
		CHECK_INT(store_access_mandate(st, SUBJ_B, 23, &mediator,
		    &helper), STORE_OK);
		CHECK_STR(mediator, "franceservices");
		CHECK_STR(helper, "agent-7");
		free(mediator);
		free(helper);
		CHECK_INT(store_access_mandate(st, SUBJ_B, 22, &mediator,
		    &helper), STORE_NOT_FOUND);
		CHECK_INT(store_access_mandate(st, SUBJ_A, 23, &mediator,
		    &helper), STORE_NOT_FOUND);
		CHECK_INT(store_access_list(st, SUBJ_B, UINT64_MAX, 10, &idx, &n),
		    STORE_OK);
		CHECK_INT(n, 4);
		if (n == 4)
			CHECK_INT(idx[0], 24);
		free(idx);
	}

	CHECK_INT(store_access_list(st, SUBJ_A, UINT64_MAX, 4, &idx, &n), STORE_OK);
	CHECK_INT(n, 4);
	if (n == 4) {
		CHECK_INT(idx[0], 20);
		CHECK_INT(idx[3], 14);
	}
	free(idx);
	CHECK_INT(store_access_list(st, SUBJ_A, 14, 4, &idx, &n), STORE_OK);
	CHECK_INT(n, 4);
	if (n == 4) {
		CHECK_INT(idx[0], 12);
		CHECK_INT(idx[3], 6);
	}
	free(idx);
	CHECK_INT(store_access_list(st, SUBJ_A, 6, 4, &idx, &n), STORE_OK);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_INT(idx[0], 4);
		CHECK_INT(idx[1], 2);
	}
	free(idx);
	CHECK_INT(store_access_list(st, SUBJ_A, 2, 4, &idx, &n), STORE_OK);
	CHECK_INT(n, 0);
	free(idx);
	store_close(st);
}

static void
test_mandates(void)
{
	struct store *st = open_named("mandates.db");
	char *datasets[] = { "address", "household" };
	struct store_mandate m = {
		.mediator = "franceservices", .helper = "agent-7",
		.datasets = datasets, .ndatasets = 2,
		.actions = STORE_MANDATE_CONSENT | STORE_MANDATE_ACCESS_LOG,
		.created_ms = 1000, .expires_ms = 5000,
	}, got, *list = NULL;
	char first[STORE_ID_LEN];
	size_t n = 0;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	store_new_id(m.id);
	memcpy(m.subject, SUBJ_A, sizeof(SUBJ_A));
	CHECK_INT(store_mandate_insert(st, &m), STORE_OK);
	CHECK_INT(store_mandate_insert(st, &m), STORE_CONFLICT);
	memcpy(first, m.id, sizeof(first));
	CHECK_INT(store_mandate_get(st, m.id, &got), STORE_OK);
	CHECK_STR(got.mediator, "franceservices");
	CHECK_STR(got.helper, "agent-7");
	CHECK_INT(got.ndatasets, 2);
	if (got.ndatasets == 2)
		CHECK_STR(got.datasets[1], "household");
	CHECK_INT(got.actions, STORE_MANDATE_CONSENT | STORE_MANDATE_ACCESS_LOG);
	CHECK_INT(got.expires_ms, 5000);
	CHECK_INT(got.revoked_ms, 0);
	store_mandate_clear(&got);

	/* A newer one, then: newest first, only this mediator's. */
	store_new_id(m.id);
	m.created_ms = 2000;
	m.ndatasets = 1;
	CHECK_INT(store_mandate_insert(st, &m), STORE_OK);
	CHECK_INT(store_mandate_find(st, SUBJ_A, "franceservices", &list, &n),
	    STORE_OK);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(list[0].id, m.id);
		CHECK_INT(list[0].ndatasets, 1);
		CHECK_STR(list[1].id, first);
	}
	store_mandates_free(list, n);
	CHECK_INT(store_mandate_find(st, SUBJ_A, "mairie", &list, &n), STORE_OK);
	CHECK_INT(n, 0);
	store_mandates_free(list, n);
	CHECK_INT(store_mandate_find(st, SUBJ_B, "franceservices", &list, &n),
	    STORE_OK);
	CHECK_INT(n, 0);
	store_mandates_free(list, n);

	/* Revoking keeps the first time; an unknown id is not found. */
	CHECK_INT(store_mandate_revoke(st, first, 3000), STORE_OK);
	CHECK_INT(store_mandate_revoke(st, first, 4000), STORE_OK);
	CHECK_INT(store_mandate_get(st, first, &got), STORE_OK);
	CHECK_INT(got.revoked_ms, 3000);
	store_mandate_clear(&got);
	CHECK_INT(store_mandate_revoke(st, "nope", 3000), STORE_NOT_FOUND);
	CHECK_INT(store_mandate_get(st, "nope", &got), STORE_NOT_FOUND);
	store_close(st);
}

/* View keys: drawn once per subject, random, read back with the link,
 * and erased with the subject's access index rows; a later draw is a new
 * key, so entries written before the erasure stay unlinkable. */
static void
test_view_keys(void)
{
	struct store *st = open_named("viewkeys.db");
	unsigned char a[STORE_VIEW_KEY_LEN], a2[STORE_VIEW_KEY_LEN],
	    b[STORE_VIEW_KEY_LEN], joined[STORE_VIEW_KEY_LEN],
	    zero[STORE_VIEW_KEY_LEN] = { 0 };
	char subject[STORE_SUBJECT_LEN];
	uint64_t *idx = NULL;
	size_t n = 0;
	int created;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(store_view_key_get(st, SUBJ_A, a), STORE_OK);
	CHECK(memcmp(a, zero, sizeof(a)) != 0);
	CHECK_INT(store_view_key_get(st, SUBJ_A, a2), STORE_OK);
	CHECK(memcmp(a, a2, sizeof(a)) == 0);
	CHECK_INT(store_view_key_get(st, SUBJ_B, b), STORE_OK);
	CHECK(memcmp(a, b, sizeof(a)) != 0);

	/* The link lookup brings the key along. */
	CHECK_INT(store_link_put(st, "caf", "C1", SUBJ_A, 2, &created), STORE_OK);
	CHECK_INT(store_link_subject(st, "caf", "C1", subject, joined), STORE_OK);
	CHECK_STR(subject, SUBJ_A);
	CHECK(memcmp(a, joined, sizeof(a)) == 0);

	CHECK_INT(access_put(st, SUBJ_A, 7), STORE_OK);
	CHECK_INT(access_put(st, SUBJ_B, 8), STORE_OK);
	CHECK_INT(store_view_key_erase(st, SUBJ_A), STORE_OK);
	CHECK_INT(store_view_key_erase(st, SUBJ_A), STORE_OK);   /* none left */
	CHECK_INT(store_access_list(st, SUBJ_A, UINT64_MAX, 10, &idx, &n),
	    STORE_OK);
	CHECK_INT(n, 0);
	free(idx);
	CHECK_INT(store_access_list(st, SUBJ_B, UINT64_MAX, 10, &idx, &n),
	    STORE_OK);
	CHECK_INT(n, 1);
	free(idx);
	/* The link stays; the next lookup draws a new key. */
	CHECK_INT(store_link_subject(st, "caf", "C1", subject, joined), STORE_OK);
	CHECK(memcmp(a, joined, sizeof(a)) != 0);
	CHECK_INT(store_view_key_get(st, SUBJ_A, a2), STORE_OK);
	CHECK(memcmp(joined, a2, sizeof(a)) == 0);
	store_close(st);
}

#define WRITER_ROUNDS 200

struct writer {
	int id;
	int failures;
	int created;   /* shared links this thread was the one to create */
};

/* Each thread opens its own connection to a brand-new file, so the two
 * also race on creating the schema, then interleaves single-statement
 * writes, multi-statement transactions and reads, and links the same
 * shared local ids as the other thread. */
static void *
writer_run(void *arg)
{
	struct writer *w = arg;
	struct store *st = open_named("concurrent.db");
	char *attrs[] = { "street", "city" };
	char subject[STORE_SUBJECT_LEN], local[32], cid[STORE_ID_LEN];
	unsigned char view_key[STORE_VIEW_KEY_LEN];
	struct store_consent c;
	int created;

	if (st == NULL) {
		w->failures = WRITER_ROUNDS;
		return NULL;
	}
	for (int i = 0; i < WRITER_ROUNDS; i++) {
		snprintf(subject, sizeof(subject), "%064d", w->id * 100000 + i);
		snprintf(local, sizeof(local), "L%d-%d", w->id, i);
		store_new_id(cid);
		consent_fill(&c, cid, subject, "caf", "mairie", attrs, 2, i);
		if (store_link_put(st, "caf", local, subject, 2, &created) != STORE_OK ||
		    store_consent_insert(st, &c) != STORE_OK ||
		    access_put(st, subject, (uint64_t)(w->id * 100000 + i))
		    != STORE_OK ||
		    store_link_subject(st, "caf", local, subject, view_key) !=
		    STORE_OK)
			w->failures++;
		snprintf(local, sizeof(local), "shared-%d", i);
		snprintf(subject, sizeof(subject), "%064d", i);
		if (store_link_put(st, "mairie", local, subject, 2, &created) != STORE_OK)
			w->failures++;
		w->created += created;
	}
	store_close(st);
	return NULL;
}

static void
test_two_threads(void)
{
	struct writer w[2] = { { .id = 1 }, { .id = 2 } };
	char subject[STORE_SUBJECT_LEN];
	pthread_t t[2];
	struct store_consent *list = NULL;
	struct store *st;
	size_t n = 0;

	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, writer_run, &w[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_INT(w[0].failures, 0);
	CHECK_INT(w[1].failures, 0);
	/* Each shared link was created once, whoever got there first. */
	CHECK_INT(w[0].created + w[1].created, WRITER_ROUNDS);

	if ((st = open_named("concurrent.db")) == NULL) {
		CHECK(st != NULL);
		return;
	}
	snprintf(subject, sizeof(subject), "%064d", 2 * 100000 + WRITER_ROUNDS - 1);
	CHECK_INT(store_consent_find(st, subject, "caf", NULL, NULL, &list, &n),
	    STORE_OK);
	CHECK_INT(n, 1);
	store_consents_free(list, n);
	store_close(st);
}

static void
test_new_id(void)
{
	char a[STORE_ID_LEN], b[STORE_ID_LEN];

	store_new_id(a);
	store_new_id(b);
	CHECK_INT(strlen(a), STORE_ID_LEN - 1);
	CHECK_INT(strspn(a, "0123456789abcdef"), STORE_ID_LEN - 1);
	CHECK(strcmp(a, b) != 0);
}

/* A 201 for a link, a consent or a mandate, or a 204 for a revocation,
 * must survive a power loss as a 202 does: those commits wait for the
 * WAL's fsync, where the connection's synchronous = NORMAL would let the
 * OS keep them in memory. So do a view key (entries commit under it), an unlinking and
 * an erasure. A write nobody is answered for (the access index) does not. */
static void
test_acknowledged_writes_sync(void)
{
	struct store *st = open_named("durable.db");
	char *attrs[] = { "city" };
	struct store_consent c;
	struct store_objection o = {
		.id = "o1", .subject = SUBJ_A, .dataset = "address",
		.purpose = "benefit-eligibility", .created_ms = 1000,
	};
	char *datasets[] = { "address" };
	struct store_mandate m = {
		.id = "m1", .subject = SUBJ_A, .mediator = "franceservices",
		.helper = "agent-7", .datasets = datasets, .ndatasets = 1,
		.actions = STORE_MANDATE_CONSENT, .created_ms = 1000,
		.expires_ms = 5000,
	};
	unsigned char view_key[STORE_VIEW_KEY_LEN];
	char unlinked[STORE_SUBJECT_LEN];
	uint64_t erased;
	int created, before;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	consent_fill(&c, "c1", SUBJ_A, "caf", "mairie", attrs, 1, 1000);
	before = atomic_load(&syncs);
	CHECK_INT(store_link_put(st, "caf", "C1", SUBJ_A, 2, &created), STORE_OK);
	CHECK(atomic_load(&syncs) > before);
	before = atomic_load(&syncs);
	CHECK_INT(store_consent_insert(st, &c), STORE_OK);
	CHECK(atomic_load(&syncs) > before);
	before = atomic_load(&syncs);
	CHECK_INT(store_consent_revoke(st, "c1", 2000), STORE_OK);
	CHECK(atomic_load(&syncs) > before);
	before = atomic_load(&syncs);
	CHECK_INT(store_objection_insert(st, &o), STORE_OK);
	CHECK(atomic_load(&syncs) > before);
	before = atomic_load(&syncs);
	CHECK_INT(store_mandate_insert(st, &m), STORE_OK);
	CHECK(atomic_load(&syncs) > before);
	before = atomic_load(&syncs);
	CHECK_INT(store_mandate_revoke(st, "m1", 2000), STORE_OK);
	CHECK(atomic_load(&syncs) > before);
	before = atomic_load(&syncs);
	CHECK_INT(store_view_key_get(st, SUBJ_B, view_key), STORE_OK);
	CHECK(atomic_load(&syncs) > before);
	before = atomic_load(&syncs);
	CHECK_INT(store_link_delete(st, "caf", "C1", 3000, unlinked), STORE_OK);
	CHECK(atomic_load(&syncs) > before);
	before = atomic_load(&syncs);
	CHECK_INT(store_erase_subject(st, SUBJ_B, &erased), STORE_OK);
	CHECK(atomic_load(&syncs) > before);
	/* The connection is back to NORMAL after each of them. */
	before = atomic_load(&syncs);
	CHECK_INT(access_put(st, SUBJ_A, 7), STORE_OK);
	CHECK_INT(atomic_load(&syncs), before);
	store_close(st);
}

/* A batch is one transaction: another connection sees none of it before
 * its end, a write refused inside it leaves the others in, and only a
 * durable batch waits for the disk (once, at its end). */
static void
test_batch(void)
{
	struct store *st = open_named("batch.db"), *other = open_named("batch.db");
	unsigned char view_key[STORE_VIEW_KEY_LEN];
	char subject[STORE_SUBJECT_LEN];
	int created, before;

	CHECK(st != NULL && other != NULL);
	if (st == NULL || other == NULL)
		return;
	CHECK_INT(store_batch_begin(st, 0), STORE_OK);
	before = atomic_load(&syncs);
	CHECK_INT(store_link_put(st, "caf", "C1", SUBJ_A, 2, &created), STORE_OK);
	CHECK_INT(store_link_put(st, "caf", "C1", SUBJ_B, 2, &created),
	    STORE_CONFLICT);
	CHECK_INT(store_link_put(st, "caf", "C2", SUBJ_B, 2, &created), STORE_OK);
	CHECK_INT(store_link_subject(other, "caf", "C1", subject, view_key),
	    STORE_NOT_FOUND);
	CHECK_INT(store_batch_end(st), STORE_OK);
	CHECK_INT(atomic_load(&syncs), before);
	CHECK_INT(store_link_subject(other, "caf", "C1", subject, view_key),
	    STORE_OK);
	CHECK_STR(subject, SUBJ_A);
	CHECK_INT(store_link_subject(other, "caf", "C2", subject, view_key),
	    STORE_OK);
	CHECK_STR(subject, SUBJ_B);

	CHECK_INT(store_batch_begin(st, 1), STORE_OK);
	CHECK_INT(store_link_put(st, "caf", "C3", SUBJ_A, 2, &created),
	    STORE_CONFLICT);
	before = atomic_load(&syncs);
	CHECK_INT(store_link_put(st, "impots", "I1", SUBJ_A, 2, &created),
	    STORE_OK);
	CHECK_INT(atomic_load(&syncs), before);
	CHECK_INT(store_batch_end(st), STORE_OK);
	CHECK(atomic_load(&syncs) > before);
	CHECK_INT(store_link_subject(other, "impots", "I1", subject, view_key),
	    STORE_OK);
	/* Back to one transaction per write, and to NORMAL. */
	before = atomic_load(&syncs);
	CHECK_INT(access_put(st, SUBJ_A, 7), STORE_OK);
	CHECK_INT(atomic_load(&syncs), before);
	store_close(other);
	store_close(st);
}

/* The last signed checkpoint per origin: never replaced by a smaller
 * one, and no fsync for it (one a checkpoint, on the sequencer). */
static void
test_audit_heads(void)
{
	struct store *st = open_named("heads.db");
	unsigned char root[STORE_ROOT_LEN], got[STORE_ROOT_LEN];
	uint64_t size = 0;
	int before;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(store_audit_head_get(st, "a.example/log", &size, got),
	    STORE_NOT_FOUND);
	memset(root, 7, sizeof(root));
	before = atomic_load(&syncs);
	CHECK_INT(store_audit_head_put(st, "a.example/log", 300, root), STORE_OK);
	CHECK_INT(atomic_load(&syncs), before);
	memset(root, 9, sizeof(root));
	CHECK_INT(store_audit_head_put(st, "a.example/log", 200, root), STORE_OK);
	CHECK_INT(store_audit_head_put(st, "b.example/log", 5, root), STORE_OK);
	CHECK_INT(store_audit_head_get(st, "a.example/log", &size, got), STORE_OK);
	CHECK_INT(size, 300);
	CHECK_INT(got[0], 7);
	CHECK_INT(store_audit_head_put(st, "a.example/log", 301, root), STORE_OK);
	CHECK_INT(store_audit_head_get(st, "a.example/log", &size, got), STORE_OK);
	CHECK_INT(size, 301);
	CHECK_INT(got[31], 9);
	store_close(st);
}

/* The online backup: a snapshot another connection opens, holding what
 * was committed; never over an existing file. */
static void
test_backup(void)
{
	struct store *st = open_named("live.db"), *copy;
	unsigned char root[STORE_ROOT_LEN] = { 1 }, got[STORE_ROOT_LEN];
	char path[TMPDIR_PATH_LEN + 64], err[256];
	char local[STORE_SUBJECT_LEN];
	uint64_t size = 0;
	int created;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(store_link_put(st, "caf", "C1", SUBJ_A, 2, &created), STORE_OK);
	CHECK_INT(store_audit_head_put(st, "a.example/log", 12, root), STORE_OK);
	snprintf(path, sizeof(path), "%s/copy.db", dir);
	CHECK_INT(store_backup(st, path, err, sizeof(err)), STORE_OK);
	CHECK_INT(store_backup(st, path, err, sizeof(err)), STORE_ERROR);
	CHECK(strstr(err, "File exists") != NULL);
	CHECK_INT(store_link_put(st, "caf", "C2", SUBJ_B, 2, &created), STORE_OK);
	store_close(st);
	if ((copy = open_named("copy.db")) == NULL)
		return;
	CHECK_INT(store_link_subject(copy, "caf", "C1", local, NULL), STORE_OK);
	CHECK_STR(local, SUBJ_A);
	CHECK_INT(store_link_subject(copy, "caf", "C2", local, NULL),
	    STORE_NOT_FOUND);
	CHECK_INT(store_audit_head_get(copy, "a.example/log", &size, got), STORE_OK);
	CHECK_INT(size, 12);
	store_close(copy);
}

/* Lookups answered from a connection's cache see every write made
 * before they start, through any connection of the process. */
static void
test_cache_sees_writes(void)
{
	struct store *a = open_named("cache.db"), *b = open_named("cache.db");
	struct store_objection o = { .dataset = "address",
	    .purpose = "benefit-eligibility", .consumer = "caf" };
	unsigned char vk[STORE_VIEW_KEY_LEN], vk2[STORE_VIEW_KEY_LEN];
	char subject[STORE_SUBJECT_LEN];
	char *local_id = NULL;
	int created;

	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		goto out;
	/* Not linked yet, and asked twice: the second answer is kept. */
	CHECK_INT(store_link_subject(a, "caf", "C1", subject, vk), STORE_NOT_FOUND);
	CHECK_INT(store_link_subject(a, "caf", "C1", subject, vk), STORE_NOT_FOUND);
	CHECK_INT(store_link_put(b, "caf", "C1", SUBJ_A, 2, &created), STORE_OK);
	CHECK_INT(store_link_put(b, "mairie", "M1", SUBJ_A, 2, &created), STORE_OK);
	CHECK_INT(store_link_subject(a, "caf", "C1", subject, vk), STORE_OK);
	CHECK_STR(subject, SUBJ_A);
	CHECK_INT(store_link_subject(a, "caf", "C1", subject, vk2), STORE_OK);
	CHECK(memcmp(vk, vk2, sizeof(vk)) == 0);
	CHECK_INT(store_link_local_id(a, "mairie", SUBJ_A, &local_id), STORE_OK);
	CHECK_STR(local_id, "M1");
	free(local_id);
	CHECK_INT(store_objection_match(a, SUBJ_A, "address",
	    "benefit-eligibility", "caf"), STORE_NOT_FOUND);

	/* An objection, an erased view key, an unlinking: each seen next. */
	store_new_id(o.id);
	memcpy(o.subject, SUBJ_A, sizeof(o.subject));
	CHECK_INT(store_objection_insert(b, &o), STORE_OK);
	CHECK_INT(store_objection_match(a, SUBJ_A, "address",
	    "benefit-eligibility", "caf"), STORE_OK);
	CHECK_INT(store_objection_match(a, SUBJ_A, "address",
	    "benefit-eligibility", NULL), STORE_NOT_FOUND);
	CHECK_INT(store_view_key_erase(b, SUBJ_A), STORE_OK);
	CHECK_INT(store_link_subject(a, "caf", "C1", subject, vk2), STORE_OK);
	CHECK(memcmp(vk, vk2, sizeof(vk)) != 0);
	CHECK_INT(store_link_delete(b, "mairie", "M1", 1000, subject), STORE_OK);
	CHECK_INT(store_link_local_id(a, "mairie", SUBJ_A, &local_id),
	    STORE_NOT_FOUND);
	CHECK(local_id == NULL);
	CHECK_INT(store_link_delete(b, "caf", "C1", 1000, subject), STORE_OK);
	CHECK_INT(store_link_subject(a, "caf", "C1", subject, vk), STORE_NOT_FOUND);
out:
	store_close(a);
	store_close(b);
}

int
main(void)
{
	tmpdir_make(dir);
	UNIT_RUN(test_open_and_migrate);
	UNIT_RUN(test_migrate_pivot_version);
	UNIT_RUN(test_open_schemes);
	UNIT_RUN(test_links);
	UNIT_RUN(test_consents);
	UNIT_RUN(test_objections);
	UNIT_RUN(test_access_index);
	UNIT_RUN(test_mandates);
	UNIT_RUN(test_view_keys);
	UNIT_RUN(test_two_threads);
	UNIT_RUN(test_new_id);
	UNIT_RUN(test_acknowledged_writes_sync);
	UNIT_RUN(test_batch);
	UNIT_RUN(test_audit_heads);
	UNIT_RUN(test_backup);
	UNIT_RUN(test_cache_sees_writes);
	tmpdir_remove(dir);
	return UNIT_END();
}
