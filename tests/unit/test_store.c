/* test_store.c — the store on both backends (store_suite.h): schema
 * migrations, links, consents, objections, the access index, view keys,
 * the last signed checkpoint, lookups that see every write (SQLite's
 * cache; on PostgreSQL, other nodes') and two threads writing at once,
 * each on SQLite files and on a real PostgreSQL server the test starts;
 * then what only one backend has: SQLite's commits that wait for the
 * disk, its batches and its online backup, PostgreSQL's password kept out
 * of the URL, a server that goes away and comes back, and one that stops
 * answering. */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store_suite.h"

#define SUBJ_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SUBJ_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

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

static void
test_open_and_migrate(void)
{
	char subject[STORE_SUBJECT_LEN], err[256], url[TMPDIR_PATH_LEN + 128];
	struct store *st = suite_open("migrate");
	int created, version;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(store_ping(st), 0);
	CHECK_INT(store_link_put(st, "caf", "C1", SUBJ_A, 2, &created), STORE_OK);
	store_close(st);
	version = suite_be->schema_version("migrate", -1);
	CHECK(version >= 4);

	/* Reopening finds the schema current and the data still there. */
	st = suite_open("migrate");
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(store_link_subject(st, "caf", "C1", subject, NULL), STORE_OK);
	CHECK_STR(subject, SUBJ_A);
	store_close(st);
	CHECK_INT(suite_be->schema_version("migrate", -1), version);

	/* A database from a newer program is refused, not "migrated". */
	CHECK_INT(suite_be->schema_version("migrate", version + 1), version + 1);
	CHECK_INT(suite_url("migrate", url, sizeof(url)), 0);
	CHECK(store_open(url, NULL, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "newer") != NULL);
}

/* An open that changes nothing (`tellonce backup`'s) takes a store at
 * this program's schema and refuses one at another, leaving it as it
 * was: no migration runs under the gateway that serves it. */
static void
test_open_current(void)
{
	char err[256] = "", url[TMPDIR_PATH_LEN + 128];
	struct store *st = suite_open("current");
	int version;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	store_close(st);
	version = suite_be->schema_version("current", -1);
	CHECK_INT(suite_url("current", url, sizeof(url)), 0);
	st = store_open_current(url, NULL, err, sizeof(err));
	CHECK(st != NULL);
	store_close(st);

	CHECK_INT(suite_be->schema_version("current", version - 1), version - 1);
	CHECK(store_open_current(url, NULL, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "not this program's") != NULL);
	CHECK_INT(suite_be->schema_version("current", -1), version - 1);
	CHECK_INT(suite_be->schema_version("current", version), version);
}

/* Runs sql on store name's database with its access file attached as a
 * (the store's own connections never attach it): 0, or -1. */
static int
access_exec(const char *name, const char *sql)
{
	char all[TMPDIR_PATH_LEN + 1024];

	snprintf(all, sizeof(all), "ATTACH '%s/%s.db.access' AS a;%s",
	    suite_dir, name, sql);
	return suite_be->exec(name, all);
}

/* On SQLite, an open that changes nothing makes no file where there is
 * no store, and leaves an access file made before runs as it is. */
static void
test_open_current_files(void)
{
	char err[256] = "", url[TMPDIR_PATH_LEN + 128], path[TMPDIR_PATH_LEN + 64];
	struct store *st;

	tmpdir_store_url(suite_dir, "absent.db", url, sizeof(url));
	CHECK(store_open_current(url, NULL, err, sizeof(err)) == NULL);
	snprintf(path, sizeof(path), "%s/absent.db", suite_dir);
	CHECK(access(path, F_OK) == -1);
	snprintf(path, sizeof(path), "%s/absent.db.access", suite_dir);
	CHECK(access(path, F_OK) == -1);

	st = suite_open("oldaccess");
	CHECK(st != NULL);
	if (st == NULL)
		return;
	store_close(st);
	CHECK_INT(access_exec("oldaccess",
	    "DROP VIEW a.access_index;"
	    "ALTER TABLE a.access_base RENAME TO access_index;"), 0);
	CHECK_INT(suite_url("oldaccess", url, sizeof(url)), 0);
	CHECK(store_open_current(url, NULL, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "access file") != NULL);
	CHECK_INT(suite_lite_file_scalar("oldaccess.db.access",
	    "SELECT count(*) FROM sqlite_schema WHERE name = 'access_index' "
	    "AND type = 'table'"), 1);
}

/* A links table as schema version 3 left it, written behind the store's
 * back (with the other tables later steps alter, reduced to a column):
 * opening migrates it, and its links are version 1 subjects. */
static void
test_migrate_pivot_version(void)
{
	char subject[STORE_SUBJECT_LEN], url[TMPDIR_PATH_LEN + 128];
	struct store *st;
	int created;

	CHECK_INT(suite_url("v3", url, sizeof(url)), 0);
	CHECK_INT(suite_be->exec("v3", "CREATE TABLE links ("
	    " service TEXT NOT NULL, local_id TEXT NOT NULL,"
	    " subject TEXT NOT NULL, created_ms BIGINT NOT NULL,"
	    " PRIMARY KEY (service, local_id), UNIQUE (service, subject));"
	    /* What later steps alter, as bare as they may be. */
	    "CREATE TABLE records (seq BIGINT PRIMARY KEY, id TEXT,"
	    " created_ms BIGINT);"
	    "CREATE TABLE deliveries (record_seq BIGINT, state INTEGER,"
	    " subscriber TEXT, subject TEXT, dataset TEXT, due_ms BIGINT);"
	    "CREATE TABLE push_keys (response TEXT);"
	    "CREATE TABLE consents (id TEXT);"
	    "CREATE TABLE access_index (subject TEXT, audit_index BIGINT);"
	    "INSERT INTO links VALUES ('caf', 'C1', '" SUBJ_A "', 1);"), 0);
	CHECK_INT(suite_be->schema_version("v3", 3), 3);

	st = suite_open("v3");
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK(suite_be->schema_version("v3", -1) >= 4);
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

/* URLs refused before anything is opened or connected to. */
static void
test_open_schemes(void)
{
	char err[256] = "", url[TMPDIR_PATH_LEN + 64];

	CHECK(store_open("mysql://db.example/tellonce", NULL, err,
	    sizeof(err)) == NULL);
	CHECK(strstr(err, "scheme") != NULL);
	err[0] = '\0';
	CHECK(store_open("sqlite:", NULL, err, sizeof(err)) == NULL);
	CHECK(err[0] != '\0');
	tmpdir_store_url(suite_dir, "pw.db", url, sizeof(url));
	CHECK(store_open(url, "hunter2", err, sizeof(err)) == NULL);
	CHECK_STR(err, "store: sqlite: a file store takes no password");
	CHECK(store_open("postgresql://gw:hunter2@db.example/tellonce", NULL,
	    err, sizeof(err)) == NULL);
	CHECK(strstr(err, "never written inline") != NULL);
	CHECK(strstr(err, "hunter2") == NULL);
	CHECK(store_open("postgres://db.example/x?password=hunter2", NULL, err,
	    sizeof(err)) == NULL);
	CHECK(strstr(err, "never written inline") != NULL);
	CHECK(store_open("postgresql://db.example/x?colour=blue", NULL, err,
	    sizeof(err)) == NULL);
	CHECK(strstr(err, "not a valid PostgreSQL URL") != NULL);
}

static void
test_links(void)
{
	struct store *st = suite_open("links");
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
	struct store *st = suite_open("consents");
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
	struct store *st = suite_open("objections");
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

/* A retried objection finds the one stored: the same subject, dataset,
 * purpose and consumer, where no consumer is a value of its own. */
static void
test_objection_find(void)
{
	struct store *st = suite_open("objection_find");
	struct store_objection o = {
		.id = "o-caf", .subject = SUBJ_A, .dataset = "address",
		.purpose = "benefit-eligibility", .consumer = "caf",
		.created_ms = 1000,
	}, q;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	q = o;
	CHECK_INT(store_objection_find(st, &q), STORE_NOT_FOUND);
	CHECK_INT(store_objection_insert(st, &o), STORE_OK);
	memset(q.id, 0, sizeof(q.id));
	CHECK_INT(store_objection_find(st, &q), STORE_OK);
	CHECK_STR(q.id, "o-caf");

	/* An objection for every consumer is not the one for caf, nor is
	 * caf's the one for every consumer. */
	q.consumer = NULL;
	CHECK_INT(store_objection_find(st, &q), STORE_NOT_FOUND);
	o.consumer = NULL;
	snprintf(o.id, sizeof(o.id), "o-all");
	CHECK_INT(store_objection_insert(st, &o), STORE_OK);
	CHECK_INT(store_objection_find(st, &q), STORE_OK);
	CHECK_STR(q.id, "o-all");
	q.consumer = "impots";
	CHECK_INT(store_objection_find(st, &q), STORE_NOT_FOUND);
	q.consumer = "caf";
	q.purpose = "tax";
	CHECK_INT(store_objection_find(st, &q), STORE_NOT_FOUND);
	q.purpose = "benefit-eligibility";
	snprintf(q.subject, sizeof(q.subject), "%s", SUBJ_B);
	CHECK_INT(store_objection_find(st, &q), STORE_NOT_FOUND);
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
	struct store *st = suite_open("access");
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

/* How many entries the access index lists for subject (-1 on error). */
static int
listed(struct store *st, const char *subject)
{
	uint64_t *idx = NULL;
	size_t n = 0;

	if (store_access_list(st, subject, UINT64_MAX, 100, &idx, &n) != STORE_OK)
		return -1;
	free(idx);
	return (int)n;
}

/* The access index's rows for index i of an access_runs test: about
 * SUBJ_A when i % 4 == 0, SUBJ_B when 1, SUBJ_C otherwise; entry 100 and
 * entry 40100 were acts under a mandate. */
#define SUBJ_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define SUBJ_D "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define RUNS_ROWS 40000   /* more than a run's rows on SQLite */
#define RUNS_PAGE 16384
/* The first id of the runs merged once on SQLite (store_sqlite.c,
 * SQLITE_ACCESS_LEVEL_SHIFT), and how many of one level merge. */
#define MERGED_RUN "1099511627776"
#define MERGE_RUNS 8

static const char *
runs_subject(uint64_t i)
{
	return i % 4 == 0 ? SUBJ_A : i % 4 == 1 ? SUBJ_B : SUBJ_C;
}

/* Puts the rows of indexes [from, to), 1000 in each batch. */
static enum store_status
runs_put(struct store *st, uint64_t from, uint64_t to)
{
	struct store_access rows[1000];
	enum store_status rc = STORE_OK;

	while (from < to && rc == STORE_OK) {
		size_t n = 0;

		for (; from < to && n < 1000; from++, n++) {
			int mandate = from == 100 || from == 40100;

			rows[n] = (struct store_access){ runs_subject(from), from,
			    mandate ? "m-1" : NULL,
			    mandate ? "franceservices" : NULL,
			    mandate ? "agent-7" : NULL };
		}
		rc = store_access_put(st, rows, n);
	}
	return rc;
}

/* The whole listing of subject, read in pages of RUNS_PAGE (each page
 * reads every row of the subject before it): how many entries,
 * or -1 on an error or an index out of order, listed twice or not the
 * subject's by runs_subject. */
static long
runs_listed(struct store *st, const char *subject)
{
	uint64_t before = UINT64_MAX, *idx;
	long count = 0;
	size_t n;

	do {
		if (store_access_list(st, subject, before, RUNS_PAGE, &idx,
		    &n) != STORE_OK)
			return -1;
		for (size_t i = 0; i < n; i++) {
			if (idx[i] >= before || runs_subject(idx[i]) != subject) {
				free(idx);
				return -1;
			}
			before = idx[i];
		}
		free(idx);
		count += (long)n;
	} while (n == RUNS_PAGE);
	return count;
}

static void
runs_check_mandate(struct store *st, uint64_t index)
{
	char *mediator = NULL, *helper = NULL;

	CHECK_INT(store_access_mandate(st, SUBJ_A, index, &mediator, &helper),
	    STORE_OK);
	CHECK_STR(mediator ? mediator : "", "franceservices");
	CHECK_STR(helper ? helper : "", "agent-7");
	free(mediator);
	free(helper);
	CHECK_INT(store_access_mandate(st, SUBJ_A, index + 4, &mediator,
	    &helper), STORE_NOT_FOUND);
}

/* A page of SUBJ_A's listing that spans the first run's end, and the
 * mandate of an entry in the first run. */
static void
runs_check_page(struct store *st)
{
	uint64_t *idx = NULL;
	size_t n = 0;

	CHECK_INT(store_access_list(st, SUBJ_A, 32776, 4, &idx, &n), STORE_OK);
	CHECK_INT(n, 4);
	if (n == 4) {
		CHECK_INT(idx[0], 32772);
		CHECK_INT(idx[3], 32760);
	}
	free(idx);
	runs_check_mandate(st, 100);
}

/* 1 when no row of file's access index is in two places (the listing
 * would not tell: it lists such a row once). */
static int
runs_once(const char *file)
{
	return suite_lite_file_scalar(file, "SELECT count(*) FROM "
	    "access_index") == suite_lite_file_scalar(file, "SELECT count(*) "
	    "FROM (SELECT DISTINCT subject, audit_index FROM access_index)");
}

/* On SQLite a checkpoint moves the oldest rows of the access index into
 * a run sorted by subject, in chunks (store_sqlite.c, sq_access_settle):
 * the listing, a page of it that spans the newest rows and a run, the
 * mandate lookup, a row put again and an erasure answer as they did
 * before. On
 * PostgreSQL the checkpoint does nothing and the same answers hold. */
static void
test_access_runs(void)
{
	struct store *st = suite_open("runs");
	int sqlite = strcmp(suite_be->name, "sqlite") == 0;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(runs_put(st, 1, RUNS_ROWS + 1), STORE_OK);
	CHECK_INT(runs_listed(st, SUBJ_A), RUNS_ROWS / 4);
	CHECK_INT(store_checkpoint(st), sqlite ? STORE_OK : STORE_NOT_FOUND);
	if (sqlite) {
		CHECK_INT(suite_lite_file_scalar("runs.db.access",
		    "SELECT count(*) FROM access_runs"), 32768);
		CHECK_INT(suite_lite_file_scalar("runs.db.access",
		    "SELECT min(audit_index) FROM access_recent"), 32769);
	}
	CHECK_INT(runs_put(st, RUNS_ROWS + 1, RUNS_ROWS + 1001), STORE_OK);
	CHECK_INT(runs_put(st, 4, 5), STORE_OK);          /* in a run */
	CHECK_INT(runs_put(st, 40004, 40005), STORE_OK);  /* newest */
	CHECK_INT(runs_listed(st, SUBJ_A), (RUNS_ROWS + 1000) / 4);
	CHECK_INT(runs_listed(st, SUBJ_C), (RUNS_ROWS + 1000) / 2);
	runs_check_page(st);
	runs_check_mandate(st, 40100);

	CHECK_INT(store_view_key_erase(st, SUBJ_B), STORE_OK);
	CHECK_INT(runs_listed(st, SUBJ_B), 0);
	CHECK_INT(runs_listed(st, SUBJ_A), (RUNS_ROWS + 1000) / 4);
	if (sqlite)
		CHECK_INT(suite_lite_file_scalar("runs.db.access",
		    "SELECT count(*) FROM access_runs WHERE subject = '"
		    SUBJ_B "'"), 0);
	store_close(st);
}

/* One connection moves run after run: the second (whose sort first
 * clears the first's 32k rows from its temporary table) as the first. */
static void
test_access_runs_one_connection(void)
{
	struct store *st = suite_open("again");

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(runs_put(st, 1, 3 * 32768 + 1), STORE_OK);
	for (int i = 0; i < 3; i++)
		CHECK(store_checkpoint(st) != STORE_ERROR);
	CHECK_INT(suite_lite_file_scalar("again.db.access",
	    "SELECT count(*) FROM access_runs"), 3 * 32768);
	CHECK_INT(suite_lite_file_scalar("again.db.access",
	    "SELECT count(*) FROM access_run_ids"), 3);
	CHECK_INT(runs_listed(st, SUBJ_A), 3 * 32768 / 4);
	store_close(st);
}

/* A run's registration that fails (here refused by a trigger) leaves
 * every row where it was, listed once, and no run registered: the run's
 * copy is no reader's. Redone once the trigger is gone, or after the
 * store is closed with the copy unregistered, as a crash leaves it: the
 * next run drops that copy, not registers it twice. The rows of an
 * older store's access_index are listed with the others. */
static void
test_access_run_rollback(void)
{
	const char *file = "rollback.db.access";
	struct store *st = suite_open("rollback");

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(runs_put(st, 1, RUNS_ROWS + 1), STORE_OK);
	CHECK_INT(access_exec("rollback",
	    "CREATE TRIGGER a.no_register BEFORE INSERT ON access_run_ids "
	    "BEGIN SELECT RAISE(ABORT, 'refused'); END;"
	    "INSERT INTO a.access_base (subject, audit_index) VALUES "
	    "('" SUBJ_A "', 50000), ('" SUBJ_A "', 50004);"), 0);
	for (int round = 0; round < 2; round++) {
		CHECK_INT(store_checkpoint(st), STORE_ERROR);
		CHECK_INT(suite_lite_file_scalar(file,
		    "SELECT count(*) FROM access_run_ids"), 0);
		CHECK_INT(suite_lite_file_scalar(file,
		    "SELECT count(*) FROM access_filling"), 1);
		CHECK_INT(suite_lite_file_scalar(file,
		    "SELECT count(*) FROM access_index"), RUNS_ROWS + 2);
		CHECK(runs_once(file));
		CHECK_INT(runs_listed(st, SUBJ_A), RUNS_ROWS / 4 + 2);
		CHECK_INT(suite_lite_file_scalar(file,
		    "SELECT count(*) FROM access_recent"), RUNS_ROWS);
		store_close(st);
		CHECK((st = suite_open("rollback")) != NULL);
		if (st == NULL)
			return;
	}
	CHECK_INT(suite_lite_file_scalar(file,
	    "SELECT count(*) FROM access_runs"), 32768);
	CHECK_INT(access_exec("rollback", "DROP TRIGGER a.no_register;"), 0);
	CHECK_INT(store_checkpoint(st), STORE_OK);
	CHECK_INT(suite_lite_file_scalar(file,
	    "SELECT count(*) FROM access_runs"), 32768);
	CHECK_INT(suite_lite_file_scalar(file,
	    "SELECT count(*) FROM access_filling"), 0);
	CHECK(runs_once(file));
	CHECK_INT(runs_listed(st, SUBJ_A), RUNS_ROWS / 4 + 2);
	CHECK_INT(store_view_key_erase(st, SUBJ_A), STORE_OK);
	CHECK_INT(runs_listed(st, SUBJ_A), 0);
	CHECK_INT(runs_listed(st, SUBJ_C), RUNS_ROWS / 2);
	store_close(st);
}

/* While a run fills, unregistered (here its registration refused by a
 * trigger): an erasure takes the subject's rows from it too, so none
 * comes back when it is registered; and rows put at indexes under its
 * bound after its sort (entries' indexes taken again after a crash)
 * stay in access_recent when the rest leave, listed, not lost, and go
 * into the next run. One put under the last run's bound once it is
 * registered is listed too. */
static void
test_access_run_unregistered(void)
{
	const char *file = "filling.db.access";
	struct store_access late = { SUBJ_D, 6, NULL, NULL, NULL },
	    later = { SUBJ_D, 10, NULL, NULL, NULL };
	struct store *st = suite_open("filling");

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(runs_put(st, 1, RUNS_ROWS + 1), STORE_OK);
	CHECK_INT(access_exec("filling",
	    "CREATE TRIGGER a.no_register BEFORE INSERT ON access_run_ids "
	    "BEGIN SELECT RAISE(ABORT, 'refused'); END;"), 0);
	CHECK_INT(store_checkpoint(st), STORE_ERROR);
	CHECK_INT(suite_lite_file_scalar(file, "SELECT count(*) FROM "
	    "access_runs WHERE subject = '" SUBJ_B "'"), 32768 / 4);
	CHECK_INT(store_view_key_erase(st, SUBJ_B), STORE_OK);
	CHECK_INT(suite_lite_file_scalar(file, "SELECT count(*) FROM "
	    "access_runs WHERE subject = '" SUBJ_B "'"), 0);
	CHECK_INT(store_access_put(st, &late, 1), STORE_OK);
	CHECK_INT(access_exec("filling", "DROP TRIGGER a.no_register;"), 0);
	CHECK_INT(store_checkpoint(st), STORE_OK);
	CHECK_INT(suite_lite_file_scalar(file, "SELECT count(*) FROM "
	    "access_runs WHERE subject = '" SUBJ_D "' AND run IN "
	    "(SELECT run FROM access_run_ids)"), 1);
	CHECK_INT(suite_lite_file_scalar(file,
	    "SELECT count(*) FROM access_run_ids"), 2);
	CHECK_INT(store_access_put(st, &later, 1), STORE_OK);
	CHECK_INT(runs_listed(st, SUBJ_B), 0);
	CHECK_INT(runs_listed(st, SUBJ_A), RUNS_ROWS / 4);
	CHECK_INT(runs_listed(st, SUBJ_C), RUNS_ROWS / 2);
	CHECK_INT(suite_lite_file_scalar(file, "SELECT count(*) FROM "
	    "access_index WHERE subject = '" SUBJ_D "'"), 2);
	CHECK(runs_once(file));
	store_close(st);
}

/* An access file made before runs, whose rows are in its table
 * access_index, has it renamed access_base at the next open, rows and
 * all, and access_index becomes a view of every row: the old rows, the
 * runs, the newest. */
static void
test_access_file_before_runs(void)
{
	struct store *st = suite_open("before");

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(runs_put(st, 1, RUNS_ROWS + 1), STORE_OK);
	CHECK_INT(store_checkpoint(st), STORE_OK);
	store_close(st);
	CHECK_INT(access_exec("before",
	    "DROP VIEW a.access_index;"
	    "ALTER TABLE a.access_base RENAME TO access_index;"
	    "INSERT INTO a.access_index (subject, audit_index) VALUES "
	    "('" SUBJ_A "', 50000), ('" SUBJ_A "', 50004);"), 0);
	st = suite_open("before");
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(suite_lite_file_scalar("before.db.access",
	    "SELECT count(*) FROM access_base"), 2);
	CHECK_INT(suite_lite_file_scalar("before.db.access",
	    "SELECT count(*) FROM access_index"), RUNS_ROWS + 2);
	CHECK_INT(runs_listed(st, SUBJ_A), RUNS_ROWS / 4 + 2);
	store_close(st);
}

/* An erasure between two chunks of a run (here the chunks from the
 * first row of SUBJ_B on refused by a trigger, then let through): the
 * rows it erased are in the run's sorted copy, so the run is made again
 * from a new sort, not filled on from that copy, and none of them comes
 * back. */
static void
test_access_run_erased_midway(void)
{
	const char *file = "midway.db.access";
	struct store *st = suite_open("midway");

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(runs_put(st, 1, RUNS_ROWS + 1), STORE_OK);
	CHECK_INT(access_exec("midway",
	    "CREATE TRIGGER a.no_b BEFORE INSERT ON access_runs "
	    "WHEN NEW.subject = '" SUBJ_B "' "
	    "BEGIN SELECT RAISE(ABORT, 'refused'); END;"), 0);
	CHECK_INT(store_checkpoint(st), STORE_ERROR);
	CHECK_INT(suite_lite_file_scalar(file, "SELECT count(*) FROM "
	    "access_runs WHERE subject = '" SUBJ_A "'"), 32768 / 4);
	CHECK_INT(store_view_key_erase(st, SUBJ_B), STORE_OK);
	CHECK_INT(access_exec("midway", "DROP TRIGGER a.no_b;"), 0);
	for (int i = 0; i < 2; i++)
		CHECK(store_checkpoint(st) != STORE_ERROR);
	CHECK_INT(suite_lite_file_scalar(file,
	    "SELECT count(*) FROM access_run_ids"), 1);
	CHECK_INT(suite_lite_file_scalar(file, "SELECT count(*) FROM "
	    "access_runs WHERE subject = '" SUBJ_B "'"), 0);
	CHECK_INT(suite_lite_file_scalar(file,
	    "SELECT count(*) FROM access_runs"), 32768 * 3 / 4);
	CHECK_INT(runs_listed(st, SUBJ_B), 0);
	CHECK_INT(runs_listed(st, SUBJ_A), RUNS_ROWS / 4);
	CHECK_INT(runs_listed(st, SUBJ_C), RUNS_ROWS / 2);
	CHECK(runs_once(file));
	store_close(st);
}

/* An access file made before runs filled unregistered (schema step 21),
 * its view reading every row of access_recent, gains the tables of
 * step 21 and a view that skips the rows runs hold at the next open; its
 * rows are listed once before and after a run moves them. */
static void
test_access_file_before_filling(void)
{
	const char *file = "prefill.db.access";
	struct store *st = suite_open("prefill");

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(runs_put(st, 1, RUNS_ROWS + 1), STORE_OK);
	store_close(st);
	CHECK_INT(access_exec("prefill", "DROP TABLE a.access_filling;"
	    "DROP TABLE a.access_moved; DROP VIEW a.access_index;"
	    "CREATE VIEW a.access_index AS SELECT * FROM access_base "
	    "UNION ALL SELECT subject, audit_index, mandate, mediator, helper "
	    "FROM access_runs WHERE run IN (SELECT run FROM access_run_ids) "
	    "UNION ALL SELECT * FROM access_recent;"), 0);
	CHECK((st = suite_open("prefill")) != NULL);
	if (st == NULL)
		return;
	CHECK_INT(suite_lite_file_scalar(file, "SELECT count(*) FROM "
	    "sqlite_schema WHERE name IN ('access_filling', 'access_moved')"),
	    2);
	CHECK_INT(suite_lite_file_scalar(file, "SELECT count(*) FROM "
	    "sqlite_schema WHERE name = 'access_index' AND "
	    "sql LIKE '%access_moved%'"), 1);
	CHECK_INT(runs_listed(st, SUBJ_A), RUNS_ROWS / 4);
	CHECK_INT(store_checkpoint(st), STORE_OK);
	CHECK_INT(suite_lite_file_scalar(file,
	    "SELECT count(*) FROM access_runs"), 32768);
	CHECK_INT(runs_listed(st, SUBJ_A), RUNS_ROWS / 4);
	CHECK(runs_once(file));
	store_close(st);
}

/* 1 when the listings of the three subjects hold exactly the rows of
 * indexes 1..total, or of 1..total + extra * 1000 for an extra up to
 * batches (runs_listed refuses an index listed twice). */
static int
runs_exactly_upto(struct store *st, uint64_t total, int batches)
{
	long a = runs_listed(st, SUBJ_A), b = runs_listed(st, SUBJ_B),
	    c = runs_listed(st, SUBJ_C);

	for (int extra = 0; extra <= batches; extra++) {
		uint64_t t = total + (uint64_t)extra * 1000;

		if (a == (long)(t / 4) && b == (long)((t + 3) / 4) &&
		    c == (long)t - a - b)
			return 1;
	}
	return 0;
}

static int
runs_exactly(struct store *st, uint64_t total)
{
	return runs_exactly_upto(st, total, 0);
}

/* A registered run's rows that cannot leave access_recent (here refused
 * by a trigger, through a restart) are listed once all along: readers
 * skip them there. They leave once the trigger is gone. */
static void
test_access_run_drain_cut(void)
{
	const char *file = "drain.db.access";
	struct store *st = suite_open("drain");

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(runs_put(st, 1, RUNS_ROWS + 1), STORE_OK);
	CHECK_INT(access_exec("drain",
	    "CREATE TRIGGER a.no_drop BEFORE DELETE ON access_recent "
	    "BEGIN SELECT RAISE(ABORT, 'refused'); END;"), 0);
	for (int round = 0; round < 2; round++) {
		CHECK_INT(store_checkpoint(st), STORE_ERROR);
		CHECK_INT(suite_lite_file_scalar(file,
		    "SELECT count(*) FROM access_run_ids"), 1);
		CHECK_INT(suite_lite_file_scalar(file,
		    "SELECT count(*) FROM access_recent"), RUNS_ROWS);
		CHECK_INT(suite_lite_file_scalar(file,
		    "SELECT count(*) FROM access_index"), RUNS_ROWS);
		CHECK(runs_exactly(st, RUNS_ROWS));
		store_close(st);
		CHECK((st = suite_open("drain")) != NULL);
		if (st == NULL)
			return;
	}
	CHECK_INT(access_exec("drain", "DROP TRIGGER a.no_drop;"), 0);
	CHECK_INT(store_checkpoint(st), STORE_OK);
	CHECK_INT(suite_lite_file_scalar(file,
	    "SELECT count(*) FROM access_recent"), RUNS_ROWS - 32768);
	CHECK(runs_exactly(st, RUNS_ROWS));
	CHECK(runs_once(file));
	store_close(st);
}

/* Checkpoints until the access file's runs stop changing: each moves one
 * run and a few chunks of a merge. The checkpoint's last status, a
 * checkpoint of the log that found a reader (STORE_CONFLICT) taken for
 * done: the runs' work before it was. */
static enum store_status
runs_settle(struct store *st, const char *file)
{
	enum store_status rc = STORE_OK;
	long before = -1, now = 0;

	for (int i = 0; i < 64 && now != before && rc == STORE_OK; i++) {
		before = now;
		if ((rc = store_checkpoint(st)) == STORE_CONFLICT)
			rc = STORE_OK;
		now = suite_lite_file_scalar(file, "SELECT sum(run) + "
		    "count(*) FROM access_run_ids") +
		    suite_lite_file_scalar(file, "SELECT count(*) FROM "
		    "access_runs WHERE run >= " MERGED_RUN);
	}
	return rc;
}

/* A process killed at any point of putting rows, moving them into runs
 * and merging runs (also between two chunks of a run or of a merge, when
 * a subject's rows are in two places) loses none it was told were put,
 * and lists none twice, then or after the next merges: the child puts
 * batches of 1000 and checkpoints after every two, writing the last
 * index put to a pipe; it is killed at a different moment each round,
 * from just before its first run is moved on (rounds 0-3), and in the
 * first merge of eight runs (rounds 4-5, as it starts and some 6
 * checkpoints on: each checkpoint merges 32k of their 262k rows). */
static void
test_access_run_crash(void)
{
	for (int round = 0; round < 6; round++) {
		uint64_t last = 0, got, upto = round < 4 ? 34000 :
		    MERGE_RUNS * 32768 + (uint64_t)(round - 4) * 12000;
		int fds[2], status;
		char name[24], file[40];
		struct store *st;
		pid_t pid;

		snprintf(name, sizeof(name), "crash%d", round);
		snprintf(file, sizeof(file), "%s.db.access", name);
		CHECK_INT(pipe(fds), 0);
		if ((pid = fork()) == 0) {
			close(fds[0]);
			st = suite_open(name);
			for (uint64_t i = 1; st != NULL; i += 2000) {
				if (runs_put(st, i, i + 2000) != STORE_OK)
					_exit(1);
				got = i + 1999;
				if (write(fds[1], &got, sizeof(got)) !=
				    sizeof(got))
					_exit(1);
				store_checkpoint(st);
			}
			_exit(1);
		}
		close(fds[1]);
		while (last < upto &&
		    read(fds[0], &got, sizeof(got)) == sizeof(got))
			last = got;
		usleep((useconds_t)(round < 4 ? round * 70000 : 0));
		kill(pid, SIGKILL);
		while (read(fds[0], &got, sizeof(got)) == sizeof(got))
			last = got;
		close(fds[0]);
		waitpid(pid, &status, 0);
		CHECK(WIFSIGNALED(status));
		st = suite_open(name);
		CHECK(st != NULL);
		if (st == NULL)
			return;
		/* The batches in flight at the kill may be there too. */
		CHECK(runs_exactly_upto(st, last, 2));
		CHECK(runs_once(file));
		if (round >= 4) {
			CHECK_INT(runs_settle(st, file), STORE_OK);
			CHECK(runs_exactly_upto(st, last, 2));
			CHECK(runs_once(file));
			CHECK(suite_lite_file_scalar(file, "SELECT count(*) "
			    "FROM access_run_ids") < MERGE_RUNS);
		}
		store_close(st);
	}
}

/* Eight runs merge into one of the next level, in chunks: the listing,
 * a page of it, the mandate lookup, a row put again and an erasure
 * answer as before, and the runs read are one where they were eight. */
static void
test_access_run_merge(void)
{
	struct store *st = suite_open("merge");
	uint64_t total = MERGE_RUNS * 32768 + 1000;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(runs_put(st, 1, total + 1), STORE_OK);
	CHECK_INT(runs_settle(st, "merge.db.access"), STORE_OK);
	CHECK_INT(suite_lite_file_scalar("merge.db.access",
	    "SELECT count(*) FROM access_run_ids"), 1);
	CHECK_INT(suite_lite_file_scalar("merge.db.access",
	    "SELECT count(*) FROM access_runs WHERE run = " MERGED_RUN
	    " + 1"), MERGE_RUNS * 32768);
	CHECK_INT(suite_lite_file_scalar("merge.db.access",
	    "SELECT count(*) FROM access_runs"), MERGE_RUNS * 32768);
	CHECK(runs_exactly(st, total));
	CHECK_INT(runs_put(st, 4, 5), STORE_OK);          /* merged */
	CHECK(runs_exactly(st, total));
	runs_check_page(st);
	CHECK_INT(store_view_key_erase(st, SUBJ_B), STORE_OK);
	CHECK_INT(runs_listed(st, SUBJ_B), 0);
	CHECK_INT(runs_listed(st, SUBJ_A), (long)(total / 4));
	store_close(st);
}

/* A merge cut midway (here its chunks refused from the first row of
 * SUBJ_C on, as a crash between two chunks would leave it, and the
 * store closed, its progress forgotten) leaves every row in exactly one
 * run; the next merges take the rest, and the runs read stay bounded. */
static void
test_access_run_merge_cut(void)
{
	struct store *st = suite_open("cut");
	uint64_t total = MERGE_RUNS * 32768 + 1000;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(access_exec("cut",
	    "CREATE TRIGGER a.no_merge BEFORE INSERT ON access_runs "
	    "WHEN NEW.run >= " MERGED_RUN " AND NEW.subject = '" SUBJ_C "' "
	    "BEGIN SELECT RAISE(ABORT, 'refused'); END;"), 0);
	CHECK_INT(runs_put(st, 1, total + 1), STORE_OK);
	CHECK_INT(runs_settle(st, "cut.db.access"), STORE_ERROR);
	CHECK_INT(suite_lite_file_scalar("cut.db.access",
	    "SELECT count(*) FROM access_runs WHERE run >= " MERGED_RUN),
	    (long)(MERGE_RUNS * 32768 / 2));
	CHECK_INT(suite_lite_file_scalar("cut.db.access",
	    "SELECT count(*) FROM access_run_ids"), MERGE_RUNS + 1);
	CHECK(runs_exactly(st, total));
	CHECK(runs_once("cut.db.access"));
	store_close(st);
	CHECK_INT(access_exec("cut", "DROP TRIGGER a.no_merge;"), 0);
	st = suite_open("cut");
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK(runs_exactly(st, total));
	CHECK_INT(runs_settle(st, "cut.db.access"), STORE_OK);
	CHECK_INT(suite_lite_file_scalar("cut.db.access",
	    "SELECT count(*) FROM access_run_ids"), 2);
	CHECK_INT(suite_lite_file_scalar("cut.db.access",
	    "SELECT count(*) FROM access_runs WHERE run < " MERGED_RUN), 0);
	CHECK(runs_exactly(st, total));
	store_close(st);
}

/* Another connection's erasure of SUBJ_A (the first in the merge's
 * order), which holds the access file's write lock from before a merge
 * chunk reads its rows (without the lock) until after: the chunk's
 * transaction waits for it, then finds fewer rows to delete than it
 * read. */
struct merge_eraser {
	pthread_barrier_t begun;
	int rc;
};

static void *
merge_eraser_main(void *arg)
{
	struct merge_eraser *e = arg;
	struct timespec hold = { 0, 300 * 1000000L };
	char path[TMPDIR_PATH_LEN + 64];
	sqlite3 *h;

	snprintf(path, sizeof(path), "%s/meraser.db.access", suite_dir);
	e->rc = sqlite3_open(path, &h) != SQLITE_OK ||
	    sqlite3_exec(h, "BEGIN IMMEDIATE; DELETE FROM access_runs WHERE "
	    "subject = '" SUBJ_A "'; DELETE FROM access_recent WHERE "
	    "subject = '" SUBJ_A "'", NULL, NULL, NULL) != SQLITE_OK;
	pthread_barrier_wait(&e->begun);
	nanosleep(&hold, NULL);
	if (e->rc == 0)
		e->rc = sqlite3_exec(h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK;
	sqlite3_close(h);
	return NULL;
}

/* A merge reads each chunk's rows before it takes the lock: an erasure
 * that commits in between (here another connection's) makes the chunk
 * read again, so that no erased row comes back in the merged run. The
 * merge is held back by a trigger until the eraser has begun. */
static void
test_access_run_merge_erased(void)
{
	struct store *st = suite_open("meraser");
	uint64_t total = MERGE_RUNS * 32768 + 1000;
	struct merge_eraser e = { .rc = -1 };
	pthread_t t;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(access_exec("meraser",
	    "CREATE TRIGGER a.no_merge BEFORE INSERT ON access_runs "
	    "WHEN NEW.run >= " MERGED_RUN " "
	    "BEGIN SELECT RAISE(ABORT, 'refused'); END;"), 0);
	CHECK_INT(runs_put(st, 1, total + 1), STORE_OK);
	CHECK_INT(store_checkpoint(st), STORE_ERROR);
	CHECK_INT(suite_lite_file_scalar("meraser.db.access",
	    "SELECT count(*) FROM access_run_ids"), MERGE_RUNS);
	CHECK_INT(access_exec("meraser", "DROP TRIGGER a.no_merge;"), 0);
	pthread_barrier_init(&e.begun, NULL, 2);
	CHECK_INT(pthread_create(&t, NULL, merge_eraser_main, &e), 0);
	pthread_barrier_wait(&e.begun);
	CHECK_INT(store_checkpoint(st), STORE_OK);
	pthread_join(t, NULL);
	pthread_barrier_destroy(&e.begun);
	CHECK_INT(e.rc, 0);
	CHECK_INT(runs_settle(st, "meraser.db.access"), STORE_OK);
	CHECK_INT(suite_lite_file_scalar("meraser.db.access",
	    "SELECT count(*) FROM access_run_ids"), 1);
	CHECK_INT(suite_lite_file_scalar("meraser.db.access",
	    "SELECT count(*) FROM access_runs WHERE subject = '" SUBJ_A "'"),
	    0);
	CHECK_INT(runs_listed(st, SUBJ_A), 0);
	CHECK_INT(runs_listed(st, SUBJ_B), (long)((total + 3) / 4));
	CHECK_INT(runs_listed(st, SUBJ_C), (long)(total - total / 4 -
	    (total + 3) / 4));
	CHECK(runs_once("meraser.db.access"));
	store_close(st);
}

/* SQLite keeps the access index in a file of its own since schema step
 * 17. A store of step 16 has its rows moved there at the next open, also
 * after a crash between the copy and the drop (a row already copied is
 * not doubled); an erasure cut between the two files by a crash (its
 * note left in the store's file) is finished at the next open. */
static void
test_access_own_file(void)
{
	struct store *st = suite_open("moved");
	char sql[TMPDIR_PATH_LEN + 1024];

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(access_put(st, SUBJ_A, 1), STORE_OK);
	store_close(st);
	snprintf(sql, sizeof(sql), "DROP TABLE access_erasures;"
	    "DROP TRIGGER view_keys_drawn; DROP TRIGGER view_keys_erased;"
	    "ALTER TABLE links DROP COLUMN view_key;"
	    "CREATE TABLE access_index (subject TEXT NOT NULL,"
	    " audit_index INTEGER NOT NULL, mandate TEXT, mediator TEXT,"
	    " helper TEXT, PRIMARY KEY (subject, audit_index)) WITHOUT ROWID;"
	    "INSERT INTO access_index (subject, audit_index) VALUES"
	    " ('" SUBJ_A "', 5), ('" SUBJ_A "', 6), ('" SUBJ_B "', 7);"
	    "ATTACH '%s/moved.db.access' AS access;"
	    "INSERT INTO access.access_base (subject, audit_index)"
	    " VALUES ('" SUBJ_A "', 5);", suite_dir);
	CHECK_INT(suite_be->exec("moved", sql), 0);
	CHECK_INT(suite_be->schema_version("moved", 16), 16);

	st = suite_open("moved");
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK(suite_be->schema_version("moved", -1) >= 18);
	CHECK_INT(suite_be->scalar("moved", "SELECT count(*) FROM sqlite_master "
	    "WHERE name = 'access_index'"), 0);
	CHECK_INT(listed(st, SUBJ_A), 3);
	CHECK_INT(listed(st, SUBJ_B), 1);
	/* An erasure leaves no note behind. */
	CHECK_INT(store_view_key_erase(st, SUBJ_B), STORE_OK);
	CHECK_INT(listed(st, SUBJ_B), 0);
	CHECK_INT(suite_be->scalar("moved", "SELECT count(*) FROM "
	    "access_erasures"), 0);
	store_close(st);

	CHECK_INT(suite_be->exec("moved", "INSERT INTO access_erasures "
	    "VALUES ('" SUBJ_A "')"), 0);
	st = suite_open("moved");
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(listed(st, SUBJ_A), 0);
	CHECK_INT(suite_be->scalar("moved", "SELECT count(*) FROM "
	    "access_erasures"), 0);
	store_close(st);
}

/* A connection of its own, as another process would have, holding the
 * write lock of name.db (or of name.db.access when access is set); NULL
 * when it cannot. */
static sqlite3 *
locked(const char *name, int access)
{
	char path[TMPDIR_PATH_LEN + 128];
	sqlite3 *h = NULL;

	snprintf(path, sizeof(path), "%s/%s.db%s", suite_dir, name,
	    access ? ".access" : "");
	if (sqlite3_open(path, &h) != SQLITE_OK ||
	    sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_close(h);
		return NULL;
	}
	return h;
}

/* The access file is not attached to the store's connection, whose BEGIN
 * IMMEDIATE would take its write lock too: the audit sequencer's index
 * rows would wait for every push's transaction, and each push for them.
 * Each file's writes go on while the other's write lock is held. */
static void
test_access_locks_apart(void)
{
	struct store *st = suite_open("apart");
	sqlite3 *h;
	int created;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK((h = locked("apart", 0)) != NULL);
	CHECK_INT(access_put(st, SUBJ_A, 1), STORE_OK);
	sqlite3_close(h);
	CHECK((h = locked("apart", 1)) != NULL);
	CHECK_INT(store_link_put(st, "caf", "C1", SUBJ_A, 2, &created), STORE_OK);
	sqlite3_close(h);
	CHECK_INT(listed(st, SUBJ_A), 1);
	store_close(st);
}

static void
test_mandates(void)
{
	struct store *st = suite_open("mandates");
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
	struct store *st = suite_open("viewkeys");
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
	/* Linked before its key is drawn, at two services: both links read
	 * the key drawn afterwards, and a key erased from neither. */
	CHECK_INT(store_link_put(st, "caf", "C3", SUBJ_C, 2, &created), STORE_OK);
	CHECK_INT(store_link_put(st, "mairie", "M3", SUBJ_C, 2, &created),
	    STORE_OK);
	CHECK_INT(store_view_key_get(st, SUBJ_C, b), STORE_OK);
	CHECK_INT(store_link_subject(st, "mairie", "M3", subject, joined),
	    STORE_OK);
	CHECK(memcmp(b, joined, sizeof(b)) == 0);
	/* SQLite's links hold copies (schema step 20), with the key. */
	if (strcmp(suite_be->name, "sqlite") == 0)
		CHECK_INT(suite_be->scalar("viewkeys", "SELECT count(*) FROM "
		    "links l JOIN view_keys v ON v.subject = l.subject "
		    "AND v.key = l.view_key"), 3);
	CHECK_INT(store_view_key_erase(st, SUBJ_C), STORE_OK);
	if (strcmp(suite_be->name, "sqlite") == 0)
		CHECK_INT(suite_be->scalar("viewkeys", "SELECT count(*) FROM "
		    "links WHERE view_key IS NOT NULL"), 1);
	CHECK_INT(store_link_subject(st, "caf", "C3", subject, joined), STORE_OK);
	CHECK(memcmp(b, joined, sizeof(b)) != 0);
	CHECK_INT(store_link_subject(st, "mairie", "M3", subject, a2), STORE_OK);
	CHECK(memcmp(joined, a2, sizeof(a2)) == 0);
	store_close(st);
}

#define WRITER_ROUNDS 200

struct writer {
	int id;
	int failures;
	int created;   /* shared links this thread was the one to create */
};

/* Each thread opens its own connection to a brand-new database, so the
 * two also race on creating the schema (nodes starting together), then interleaves single-statement
 * writes, multi-statement transactions and reads, and links the same
 * shared local ids as the other thread. */
static void *
writer_run(void *arg)
{
	struct writer *w = arg;
	struct store *st = suite_open("concurrent");
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
	char subject[STORE_SUBJECT_LEN], url[TMPDIR_PATH_LEN + 128];
	pthread_t t[2];
	struct store_consent *list = NULL;
	struct store *st;
	size_t n = 0;

	/* An empty database (PostgreSQL) or none yet (SQLite). */
	CHECK_INT(suite_url("concurrent", url, sizeof(url)), 0);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, writer_run, &w[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_INT(w[0].failures, 0);
	CHECK_INT(w[1].failures, 0);
	/* Each shared link was created once, whoever got there first. */
	CHECK_INT(w[0].created + w[1].created, WRITER_ROUNDS);

	if ((st = suite_open("concurrent")) == NULL) {
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
 * an erasure, and the access index's rows, on disk before their entries
 * are written: nothing in an entry can rebuild its row. A write nobody
 * is answered for and that nothing depends on (a checkpoint's head,
 * which a later one replaces) does not. */
static void
test_acknowledged_writes_sync(void)
{
	struct store *st = suite_open("durable");
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
	unsigned char root[STORE_ROOT_LEN];
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
	before = atomic_load(&syncs);
	CHECK_INT(access_put(st, SUBJ_A, 7), STORE_OK);
	CHECK(atomic_load(&syncs) > before);
	/* The connection is back to NORMAL after each of them. */
	memset(root, 7, sizeof(root));
	before = atomic_load(&syncs);
	CHECK_INT(store_audit_head_put(st, "a.example/log", 300, root), STORE_OK);
	CHECK_INT(atomic_load(&syncs), before);
	store_close(st);
}

/* A batch is one transaction: another connection sees none of it before
 * its end, a write refused inside it leaves the others in, and only a
 * durable batch waits for the disk (once, at its end). */
static void
test_batch(void)
{
	struct store *st = suite_open("batch"), *other = suite_open("batch");
	unsigned char view_key[STORE_VIEW_KEY_LEN], root[STORE_ROOT_LEN];
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
	memset(root, 7, sizeof(root));
	before = atomic_load(&syncs);
	CHECK_INT(store_audit_head_put(st, "a.example/log", 300, root), STORE_OK);
	CHECK_INT(atomic_load(&syncs), before);
	store_close(other);
	store_close(st);
}

/* The last signed checkpoint per origin: never replaced by a smaller
 * one, and no fsync for it (one a checkpoint, on the sequencer). */
static void
test_audit_heads(void)
{
	struct store *st = suite_open("heads");
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

/* The shared audit log's sequencing: two connections (two nodes) append
 * batches; indexes are consecutive, entries and access rows are stored
 * with them. SQLite holds no shared log and says so. */
static void
test_audit_shared_append(void)
{
	struct store *a = suite_open("shared_log"), *b = suite_open("shared_log");
	const struct store_audit_entry e[] = {
		{ "{\"n\":0}", 7, SUBJ_A, NULL, NULL, NULL },
		{ "{\"n\":1}", 7, NULL, NULL, NULL, NULL },
		{ "{\"n\":2}", 7, SUBJ_B, "m1", "med", "h1" },
	};
	struct store_audit_state s;
	struct store_blob *list = NULL;
	uint64_t first = 99, *idx = NULL;
	size_t n = 0;

	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		goto out;
	if (!store_audit_shared(a)) {
		CHECK_STR(suite_be->name, "sqlite");
		CHECK_INT(store_audit_append(a, e, 3, &first), STORE_ERROR);
		goto out;
	}
	CHECK_INT(store_audit_append(a, e, 2, &first), STORE_OK);
	CHECK_INT(first, 0);
	CHECK_INT(store_audit_append(b, e + 2, 1, &first), STORE_OK);
	CHECK_INT(first, 2);
	CHECK_INT(store_audit_append(a, e, 3, &first), STORE_OK);
	CHECK_INT(first, 3);
	CHECK_INT(store_audit_state(b, &s), STORE_OK);
	CHECK_INT(s.next, 6);
	CHECK_INT(s.size, 0);
	CHECK(s.note == NULL);
	CHECK_INT(store_audit_entries(b, 1, 3, &list, &n), STORE_OK);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_STR((char *)list[0].data, "{\"n\":1}");
		CHECK_STR((char *)list[1].data, "{\"n\":2}");
		CHECK_INT(list[2].len, 7);
	}
	store_blobs_free(list, n);
	CHECK_INT(store_access_list(a, SUBJ_B, UINT64_MAX, 10, &idx, &n),
	    STORE_OK);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_INT(idx[0], 5);
		CHECK_INT(idx[1], 2);
	}
	free(idx);
	{
		char *mediator = NULL, *helper = NULL;

		CHECK_INT(store_access_mandate(a, SUBJ_B, 5, &mediator, &helper),
		    STORE_OK);
		CHECK_STR(mediator ? mediator : "", "med");
		CHECK_STR(helper ? helper : "", "h1");
		free(mediator);
		free(helper);
		CHECK_INT(store_access_mandate(a, SUBJ_A, 0, &mediator, &helper),
		    STORE_NOT_FOUND);
	}
out:
	store_close(a);
	store_close(b);
}

/* The checkpoint is stored only if it extends the last one stored: an
 * integrator whose tree grew from an older checkpoint is refused and
 * stores nothing, tiles included. A full tile drops its partial ones. */
static void
test_audit_shared_publish(void)
{
	struct store *a = suite_open("shared_pub"), *b = suite_open("shared_pub");
	unsigned char empty[STORE_ROOT_LEN], r1[STORE_ROOT_LEN],
	    r2[STORE_ROOT_LEN];
	const char *p1[] = { "tile/0/000.p/3", "tile/entries/000.p/3" };
	const char *p2[] = { "tile/0/000", "tile/entries/000" };
	const char *stale[] = { "tile/0/001" };
	struct store_blob t1[] = { { (unsigned char *)"abc", 3 },
	    { (unsigned char *)"def", 3 } };
	struct store_audit_publish pub = { p1, t1, 2, 0, 3, empty, r1, "n1\n", 0 };
	struct store_audit_state s;
	struct store_blob got;

	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL || !store_audit_shared(a))
		goto out;
	CHECK_INT(store_audit_state(a, &s), STORE_OK);
	memcpy(empty, s.root, STORE_ROOT_LEN);
	CHECK_INT(empty[0], 0xe3);
	memset(r1, 1, sizeof(r1));
	memset(r2, 2, sizeof(r2));
	CHECK_INT(store_audit_publish(a, &pub), STORE_OK);
	CHECK_INT(store_audit_tile(b, "tile/0/000.p/3", &got), STORE_OK);
	CHECK_STR((char *)got.data, "abc");
	free(got.data);

	/* b's tree also grew from the empty log: refused, nothing stored. */
	pub = (struct store_audit_publish){ stale, t1, 1, 0, 5, empty, r2,
	    "n2\n", 0 };
	CHECK_INT(store_audit_publish(b, &pub), STORE_CONFLICT);
	CHECK_INT(store_audit_tile(a, "tile/0/001", &got), STORE_NOT_FOUND);
	CHECK_INT(store_audit_state(a, &s), STORE_OK);
	CHECK_INT(s.size, 3);
	CHECK(memcmp(s.root, r1, STORE_ROOT_LEN) == 0);
	CHECK_STR(s.note ? s.note : "", "n1\n");
	free(s.note);

	/* From the stored one it extends: the full tiles replace the
	 * partial ones. */
	pub = (struct store_audit_publish){ p2, t1, 2, 3, 256, r1, r2, "n3\n", 0 };
	CHECK_INT(store_audit_publish(b, &pub), STORE_OK);
	CHECK_INT(store_audit_tile(a, "tile/0/000.p/3", &got), STORE_NOT_FOUND);
	CHECK_INT(store_audit_tile(a, "tile/entries/000.p/3", &got),
	    STORE_NOT_FOUND);
	CHECK_INT(store_audit_tile(a, "tile/entries/000", &got), STORE_OK);
	CHECK_STR((char *)got.data, "def");
	free(got.data);
out:
	store_close(a);
	store_close(b);
}

/* A checkpoint drops the entries that the full bundles of the one it
 * extends hold: they are read from the bundles, and a read from a
 * dropped index is told so instead of getting the entries after it. */
static void
test_audit_shared_drop(void)
{
	struct store *a = suite_open("shared_drop"), *b = suite_open("shared_drop");
	struct store_audit_entry e[600];
	char json[600][24];
	unsigned char r0[STORE_ROOT_LEN], r1[STORE_ROOT_LEN],
	    r2[STORE_ROOT_LEN];
	struct store_audit_publish pub = { NULL, NULL, 0, 0, 300, r0, r1,
	    "n1\n", 0 };
	struct store_audit_state s;
	struct store_blob *list = NULL;
	uint64_t first;
	size_t n = 0;

	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL || !store_audit_shared(a))
		goto out;
	for (int i = 0; i < 600; i++) {
		snprintf(json[i], sizeof(json[i]), "{\"n\":%d}", i);
		e[i] = (struct store_audit_entry){ json[i], strlen(json[i]),
		    NULL, NULL, NULL, NULL };
	}
	CHECK_INT(store_audit_append(a, e, 600, &first), STORE_OK);
	CHECK_INT(store_audit_state(a, &s), STORE_OK);
	memcpy(r0, s.root, STORE_ROOT_LEN);
	memset(r1, 1, sizeof(r1));
	memset(r2, 2, sizeof(r2));
	CHECK_INT(store_audit_publish(a, &pub), STORE_OK);
	CHECK_INT(store_audit_entries(b, 0, 1, &list, &n), STORE_OK);
	CHECK_INT(n, 1);
	store_blobs_free(list, n);

	/* Dropping past the checkpoint it extends is refused outright. */
	pub = (struct store_audit_publish){ NULL, NULL, 0, 300, 600, r1, r2,
	    "n2\n", 512 };
	CHECK_INT(store_audit_publish(b, &pub), STORE_ERROR);
	pub.drop_below = 256;
	CHECK_INT(store_audit_publish(b, &pub), STORE_OK);
	CHECK_INT(store_audit_entries(a, 0, 10, &list, &n), STORE_NOT_FOUND);
	CHECK_INT(n, 0);
	CHECK_INT(store_audit_entries(a, 255, 10, &list, &n), STORE_NOT_FOUND);
	CHECK_INT(store_audit_entries(a, 256, 400, &list, &n), STORE_OK);
	CHECK_INT(n, 344);
	if (n == 344) {
		CHECK_STR((char *)list[0].data, "{\"n\":256}");
		CHECK_STR((char *)list[343].data, "{\"n\":599}");
	}
	store_blobs_free(list, n);
	CHECK_INT(store_audit_entries(a, 600, 10, &list, &n), STORE_OK);
	CHECK_INT(n, 0);
	store_blobs_free(list, n);
out:
	store_close(a);
	store_close(b);
}

/* One integrator at a time: the role goes with the session that holds
 * it, and the next session that asks gets it once that one ended. */
static void
test_audit_shared_lead(void)
{
	struct store *a = suite_open("shared_lead"), *b = suite_open("shared_lead");

	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL || !store_audit_shared(a))
		goto out;
	CHECK_INT(store_audit_lead(a), STORE_OK);
	CHECK_INT(store_audit_lead(b), STORE_CONFLICT);
	CHECK_INT(store_audit_lead(a), STORE_OK);
	store_close(a);
	a = NULL;
	/* The server ends the session a moment after the client left. */
	for (int i = 0; i < 50 && store_audit_lead(b) != STORE_OK; i++)
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	CHECK_INT(store_audit_lead(b), STORE_OK);
out:
	store_close(a);
	store_close(b);
}

/* The online backup: a snapshot another connection opens, holding what
 * was committed; never over an existing file. */
static void
test_backup(void)
{
	struct store *st = suite_open("live"), *copy;
	unsigned char root[STORE_ROOT_LEN] = { 1 }, got[STORE_ROOT_LEN];
	char path[TMPDIR_PATH_LEN + 64], err[256];
	char local[STORE_SUBJECT_LEN];
	uint64_t size = 0;
	struct stat sb;
	int created;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(store_link_put(st, "caf", "C1", SUBJ_A, 2, &created), STORE_OK);
	CHECK_INT(store_audit_head_put(st, "a.example/log", 12, root), STORE_OK);
	CHECK_INT(access_put(st, SUBJ_A, 7), STORE_OK);
	snprintf(path, sizeof(path), "%s/copy.db", suite_dir);
	CHECK_INT(store_backup(st, path, err, sizeof(err)), STORE_OK);
	CHECK_INT(store_backup(st, path, err, sizeof(err)), STORE_ERROR);
	CHECK(strstr(err, "File exists") != NULL);
	CHECK_INT(store_link_put(st, "caf", "C2", SUBJ_B, 2, &created), STORE_OK);
	store_close(st);
	if ((copy = suite_open("copy")) == NULL)
		return;
	CHECK_INT(store_link_subject(copy, "caf", "C1", local, NULL), STORE_OK);
	CHECK_STR(local, SUBJ_A);
	CHECK_INT(store_link_subject(copy, "caf", "C2", local, NULL),
	    STORE_NOT_FOUND);
	CHECK_INT(store_audit_head_get(copy, "a.example/log", &size, got), STORE_OK);
	CHECK_INT(size, 12);
	/* The access index's own file is copied next to the store's. */
	CHECK_INT(listed(copy, SUBJ_A), 1);
	store_close(copy);
	snprintf(path, sizeof(path), "%s/copy.db.access", suite_dir);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
}

/* Lookups answered from a connection's cache see every write made
 * before they start, through any connection of the process. */
static void
test_cache_sees_writes(void)
{
	struct store *a = suite_open("cache"), *b = suite_open("cache");
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

	/* A subject some objection names, looked up afresh: the objections
	 * that do not match it still do not, the one that does still does. */
	CHECK_INT(store_link_put(b, "caf", "C1", SUBJ_A, 2, &created), STORE_OK);
	CHECK_INT(store_link_subject(a, "caf", "C1", subject, vk), STORE_OK);
	CHECK_INT(store_objection_match(a, SUBJ_A, "household",
	    "benefit-eligibility", "caf"), STORE_NOT_FOUND);
	CHECK_INT(store_objection_match(a, SUBJ_A, "address",
	    "benefit-eligibility", "caf"), STORE_OK);
out:
	store_close(a);
	store_close(b);
}

/* A subject's local ids, read for every service at once and kept on
 * SQLite: each service gets its own, twice, one not linked gets none, and
 * links too many to keep are still each answered. */
static void
test_link_local_ids(void)
{
	static const char *const services[] = { "caf", "mairie", "impots",
	    "caf", "mairie", "impots" };
	static const char *const ids[] = { "C1", "M1", NULL, "C1", "M1", NULL };
	struct store *st = suite_open("local_ids");
	unsigned char vk[STORE_VIEW_KEY_LEN];
	char service[32], id[96], subject[STORE_SUBJECT_LEN], *local_id;
	int created;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(store_link_put(st, "caf", "C1", SUBJ_B, 2, &created), STORE_OK);
	CHECK_INT(store_link_put(st, "mairie", "M1", SUBJ_B, 2, &created),
	    STORE_OK);
	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
		CHECK_INT(store_link_local_id(st, services[i], SUBJ_B, &local_id),
		    ids[i] != NULL ? STORE_OK : STORE_NOT_FOUND);
		if (ids[i] != NULL && local_id != NULL)
			CHECK_STR(local_id, ids[i]);
		free(local_id);
	}
	for (int i = 0; i < 12; i++) {
		snprintf(service, sizeof(service), "service-%02d", i);
		snprintf(id, sizeof(id), "%02d-%070d", i, 0);
		CHECK_INT(store_link_put(st, service, id, SUBJ_A, 2, &created),
		    STORE_OK);
	}
	/* Looked up from one of them first, with the view key a fetch asks
	 * for: the links too many to keep are still each answered. */
	snprintf(id, sizeof(id), "%02d-%070d", 0, 0);
	CHECK_INT(store_link_subject(st, "service-00", id, subject, vk), STORE_OK);
	CHECK_STR(subject, SUBJ_A);
	for (int i = 11; i >= 0; i--) {
		snprintf(service, sizeof(service), "service-%02d", i);
		snprintf(id, sizeof(id), "%02d-%070d", i, 0);
		CHECK_INT(store_link_local_id(st, service, SUBJ_A, &local_id),
		    STORE_OK);
		if (local_id != NULL)
			CHECK_STR(local_id, id);
		free(local_id);
	}
	store_close(st);
}

/* ---- PostgreSQL only ------------------------------------------------- */

/* The password reaches the server from store_open's argument, never from
 * the URL: a role that must give one (scram-sha-256 on the socket) gets
 * in with it and is refused without it or with another. */
static void
test_pg_password(void)
{
	char path[TMPDIR_PATH_LEN + 64], url[TMPDIR_PATH_LEN + 128], err[256];
	struct store *st;
	FILE *f;
	int created;

	CHECK(suite_pg_up);
	if (!suite_pg_up)
		return;
	snprintf(path, sizeof(path), "%s/pg/data/pg_hba.conf", suite_dir);
	CHECK((f = fopen(path, "w")) != NULL);
	if (f == NULL)
		return;
	fputs("local all gw scram-sha-256\nlocal all all trust\n", f);
	fclose(f);
	CHECK_INT(suite_pg_exec("tellonce", "CREATE ROLE gw LOGIN PASSWORD "
	    "'right horse'"), 0);
	CHECK_INT(suite_pg_exec("tellonce", "CREATE DATABASE pw OWNER gw"), 0);
	CHECK_INT(suite_pg_exec("tellonce", "SELECT pg_reload_conf()"), 0);
	snprintf(url, sizeof(url), "postgresql://gw@/pw?host=%s/pg", suite_dir);

	CHECK(store_open(url, NULL, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "cannot connect") != NULL);
	CHECK(store_open(url, "wrong horse", err, sizeof(err)) == NULL);
	CHECK(strstr(err, "password authentication failed") != NULL);
	CHECK((st = store_open(url, "right horse", err, sizeof(err))) != NULL);
	if (st == NULL) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	CHECK_INT(store_link_put(st, "caf", "C1", SUBJ_A, 2, &created), STORE_OK);
	CHECK_INT(created, 1);
	store_close(st);
}

/* Waits until the store answers again, at most about five seconds. */
static int
pg_wait_ping(struct store *st)
{
	struct timespec pause = { 0, 100 * 1000 * 1000 };

	for (int i = 0; i < 50; i++) {
		if (store_ping(st) == 0)
			return 0;
		nanosleep(&pause, NULL);
	}
	return -1;
}

/* A server that restarts costs nothing: the idle session it dropped is
 * seen before the next call and reset. A server that is down fails every
 * call (a 503 upstream), and the same connection works again once it is
 * back, without reopening the store. */
static void
test_pg_server_away(void)
{
	struct store *st = suite_open("away");
	char subject[STORE_SUBJECT_LEN];
	struct store_consent *list = NULL;
	size_t n = 0;
	int created;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(store_link_put(st, "caf", "C1", SUBJ_A, 2, &created), STORE_OK);
	CHECK_INT(harness_pg(suite_root, suite_dir, "restart"), 0);
	CHECK_INT(store_link_subject(st, "caf", "C1", subject, NULL), STORE_OK);
	CHECK_STR(subject, SUBJ_A);

	CHECK_INT(harness_pg(suite_root, suite_dir, "halt"), 0);
	CHECK_INT(store_link_subject(st, "caf", "C1", subject, NULL), STORE_ERROR);
	CHECK_INT(store_link_put(st, "caf", "C2", SUBJ_B, 2, &created),
	    STORE_ERROR);
	CHECK_INT(store_consent_find(st, SUBJ_A, NULL, NULL, NULL, &list, &n),
	    STORE_ERROR);
	CHECK(list == NULL);
	CHECK(store_ping(st) != 0);

	CHECK_INT(harness_pg(suite_root, suite_dir, "restart"), 0);
	CHECK_INT(pg_wait_ping(st), 0);
	CHECK_INT(store_link_subject(st, "caf", "C1", subject, NULL), STORE_OK);
	CHECK_INT(store_link_put(st, "caf", "C2", SUBJ_B, 2, &created), STORE_OK);
	CHECK_INT(created, 1);
	store_close(st);
}

/* Sends sig to the test's PostgreSQL server and every process it started
 * (SIGSTOP freezes it whole: its sessions stop answering, and nothing
 * closes their sockets). */
static void
pg_signal_server(int sig)
{
	char path[TMPDIR_PATH_LEN + 64], line[512];
	long postmaster = 0, pid, ppid;
	FILE *f;
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "%s/pg/data/postmaster.pid", suite_dir);
	if ((f = fopen(path, "r")) != NULL) {
		if (fscanf(f, "%ld", &postmaster) != 1)
			postmaster = 0;
		fclose(f);
	}
	CHECK(postmaster > 0);
	if (postmaster <= 0 || (d = opendir("/proc")) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if ((pid = strtol(e->d_name, NULL, 10)) <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		/* pid (comm) state ppid: comm may hold spaces, not ')'. */
		if (fgets(line, sizeof(line), f) != NULL && strrchr(line, ')') &&
		    sscanf(strrchr(line, ')') + 1, " %*c %ld", &ppid) == 1 &&
		    ppid == postmaster)
			kill((pid_t)pid, sig);
		fclose(f);
	}
	closedir(d);
	kill((pid_t)postmaster, sig);
}

/* A server that stops answering without closing anything (frozen, or its
 * machine gone) costs a call its deadline, not a hung worker: the call
 * fails, and the store works again once the server answers. */
static void
test_pg_server_frozen(void)
{
	struct store *st = suite_open("frozen");
	char subject[STORE_SUBJECT_LEN];
	int created;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT(store_link_put(st, "caf", "C1", SUBJ_A, 2, &created), STORE_OK);
	pg_signal_server(SIGSTOP);
	CHECK_INT(store_link_subject(st, "caf", "C1", subject, NULL), STORE_ERROR);
	pg_signal_server(SIGCONT);
	CHECK_INT(pg_wait_ping(st), 0);
	CHECK_INT(store_link_subject(st, "caf", "C1", subject, NULL), STORE_OK);
	CHECK_STR(subject, SUBJ_A);
	store_close(st);
}

/* The checkpoint moves what was committed into the database file without
 * waiting for a writer that holds the write lock (PASSIVE), so that a
 * thread can run it off the request paths; PostgreSQL has none to run. */
static void
test_checkpoint(void)
{
	struct store *st = suite_open("checkpoint"), *writer;
	int created;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	if (strcmp(suite_be->name, "sqlite") != 0) {
		CHECK_INT(store_checkpoint(st), STORE_NOT_FOUND);
		store_close(st);
		return;
	}
	writer = suite_open("checkpoint");
	CHECK(writer != NULL);
	if (writer == NULL) {
		store_close(st);
		return;
	}
	CHECK_INT(store_link_put(st, "caf", "C-ckpt-4711", SUBJ_A, 2, &created),
	    STORE_OK);
	CHECK(!suite_file_holds("checkpoint.db", "C-ckpt-4711"));
	CHECK_INT(store_batch_begin(writer, 0), STORE_OK);
	CHECK_INT(store_link_put(writer, "caf", "C-open-4712", SUBJ_B, 2,
	    &created), STORE_OK);
	CHECK_INT(store_checkpoint(st), STORE_OK);
	CHECK(suite_file_holds("checkpoint.db", "C-ckpt-4711"));
	CHECK(!suite_file_holds("checkpoint.db", "C-open-4712"));
	CHECK_INT(store_batch_end(writer), STORE_OK);
	store_close(writer);
	store_close(st);
}

int
main(int argc, char **argv)
{
	(void)argc;
	suite_start(argv[0]);
	SUITE_RUN(test_open_and_migrate);
	SUITE_RUN(test_open_current);
	SUITE_RUN_SQLITE(test_open_current_files);
	SUITE_RUN(test_migrate_pivot_version);
	SUITE_RUN(test_links);
	SUITE_RUN(test_consents);
	SUITE_RUN(test_objections);
	SUITE_RUN(test_objection_find);
	SUITE_RUN(test_access_index);
	SUITE_RUN(test_mandates);
	SUITE_RUN(test_view_keys);
	SUITE_RUN(test_two_threads);
	UNIT_RUN(test_open_schemes);
	UNIT_RUN(test_new_id);
	SUITE_RUN(test_audit_heads);
	SUITE_RUN(test_audit_shared_append);
	SUITE_RUN_PG(test_audit_shared_publish);
	SUITE_RUN_PG(test_audit_shared_drop);
	SUITE_RUN_PG(test_audit_shared_lead);
	SUITE_RUN(test_cache_sees_writes);
	SUITE_RUN(test_link_local_ids);
	SUITE_RUN(test_checkpoint);
	SUITE_RUN_SQLITE(test_acknowledged_writes_sync);
	SUITE_RUN_SQLITE(test_batch);
	SUITE_RUN_SQLITE(test_backup);
	SUITE_RUN_SQLITE(test_access_own_file);
	SUITE_RUN_SQLITE(test_access_locks_apart);
	SUITE_RUN(test_access_runs);
	SUITE_RUN_SQLITE(test_access_runs_one_connection);
	SUITE_RUN_SQLITE(test_access_run_rollback);
	SUITE_RUN_SQLITE(test_access_run_unregistered);
	SUITE_RUN_SQLITE(test_access_run_erased_midway);
	SUITE_RUN_SQLITE(test_access_file_before_filling);
	SUITE_RUN_SQLITE(test_access_run_drain_cut);
	SUITE_RUN_SQLITE(test_access_file_before_runs);
	SUITE_RUN_SQLITE(test_access_run_crash);
	SUITE_RUN_SQLITE(test_access_run_merge);
	SUITE_RUN_SQLITE(test_access_run_merge_cut);
	SUITE_RUN_SQLITE(test_access_run_merge_erased);
	UNIT_RUN(test_pg_password);
	SUITE_RUN_PG(test_pg_server_away);
	SUITE_RUN_PG(test_pg_server_frozen);
	suite_stop();
	return UNIT_END();
}
