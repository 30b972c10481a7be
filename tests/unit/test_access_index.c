/* test_access_index.c — the access index kept in step with a real audit
 * log and a real SQLite store, when the store fails for a while. */
#include <event2/thread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access_index.h"
#include "audit.h"
#include "keys.h"
#include "log.h"
#include "store.h"
#include "tmpdir.h"
#include "unit.h"

#define SUBJ "5a1d5a1d5a1d5a1d5a1d5a1d5a1d5a1d5a1d5a1d5a1d5a1d5a1d5a1d5a1d5a1d"

struct fixture {
	char dir[TMPDIR_PATH_LEN];
	char log[TMPDIR_PATH_LEN + 16];
	char db[TMPDIR_PATH_LEN + 16];
	struct config_audit cfg;
	struct store *st;
	struct audit *a;
	struct access_index *ix;
};

static int
fixture_open(struct fixture *fx)
{
	char err[512];

	fx->a = audit_open(&fx->cfg, err, sizeof(err));
	if (fx->a == NULL) {
		fprintf(stderr, "  audit_open: %s\n", err);
		return -1;
	}
	fx->ix = access_index_start(fx->a, fx->st);
	return fx->ix != NULL ? 0 : -1;
}

static void
fixture_close(struct fixture *fx)
{
	audit_close(fx->a);
	access_index_free(fx->ix);
	fx->a = NULL;
	fx->ix = NULL;
}

static int
fixture_init(struct fixture *fx)
{
	char keypath[TMPDIR_PATH_LEN + 16], url[TMPDIR_PATH_LEN + 32], err[256];
	EVP_PKEY *key;
	FILE *f;
	long n;

	memset(fx, 0, sizeof(*fx));
	tmpdir_make(fx->dir);
	snprintf(fx->log, sizeof(fx->log), "%s/audit", fx->dir);
	snprintf(fx->db, sizeof(fx->db), "%s/store.db", fx->dir);
	snprintf(keypath, sizeof(keypath), "%s/audit.key", fx->dir);
	if ((key = keys_generate(keypath, err, sizeof(err))) == NULL)
		return -1;
	EVP_PKEY_free(key);
	if ((f = fopen(keypath, "rb")) == NULL)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	fx->cfg.signing_key.data = malloc((size_t)n);
	fx->cfg.signing_key.len = fread(fx->cfg.signing_key.data, 1, (size_t)n, f);
	fclose(f);
	fx->cfg.dir = fx->log;
	fx->cfg.origin = "access.test.example/log";
	fx->cfg.checkpoint_interval_ms = 50;
	tmpdir_store_url(fx->dir, "store.db", url, sizeof(url));
	if ((fx->st = store_open(url, err, sizeof(err))) == NULL) {
		fprintf(stderr, "  store_open: %s\n", err);
		return -1;
	}
	return fixture_open(fx);
}

static void
fixture_free(struct fixture *fx)
{
	if (fx->a != NULL)
		fixture_close(fx);
	store_close(fx->st);
	free(fx->cfg.signing_key.data);
	tmpdir_remove(fx->dir);
}

/* Appends n entries about SUBJ, one batch each. */
static int
append(struct fixture *fx, int n)
{
	struct audit_entry e = { .type = AUDIT_FETCH, .consumer = "caf",
	    .subject = SUBJ, .decision = AUDIT_ALLOW };

	for (int i = 0; i < n; i++)
		if (audit_append(fx->a, &e, NULL) != 0)
			return -1;
	return 0;
}

/* Takes the access index away from the store's connection (or gives it
 * back), behind the store's back: its writes fail meanwhile, as on a full
 * file system. */
static int
store_break(struct fixture *fx, int broken)
{
	sqlite3 *db;
	int rc;

	if (sqlite3_open(fx->db, &db) != SQLITE_OK)
		return -1;
	rc = sqlite3_exec(db, broken ?
	    "ALTER TABLE access_index RENAME TO access_index_away" :
	    "ALTER TABLE access_index_away RENAME TO access_index",
	    NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* How many entries the access log lists for SUBJ, and whether they are
 * exactly 0 .. n - 1. */
static size_t
listed(struct fixture *fx, int *contiguous)
{
	uint64_t *idx = NULL;
	size_t n = 0;

	*contiguous = 0;
	if (store_access_list(fx->st, SUBJ, UINT64_MAX, 1000, &idx, &n) !=
	    STORE_OK)
		return 0;
	*contiguous = 1;
	for (size_t i = 0; i < n; i++)
		if (idx[i] != n - 1 - i)
			*contiguous = 0;
	free(idx);
	return n;
}

/* Entries audited while the store fails are not lost from the access
 * log: entries 3 to 6 are audited while the store cannot write, then
 * entry 7 is indexed once it can. The gap is filled at once, not only at
 * the next start, and a restart finds nothing left to do. */
static void
test_gap_filled(void)
{
	struct fixture fx;
	uint64_t upto = 0;
	int contiguous;

	if (fixture_init(&fx) != 0) {
		CHECK(0);
		fixture_free(&fx);
		return;
	}
	CHECK_INT(append(&fx, 3), 0);
	CHECK_INT(listed(&fx, &contiguous), 3);
	CHECK_INT(store_break(&fx, 1), 0);
	CHECK_INT(append(&fx, 4), 0);
	CHECK_INT(store_break(&fx, 0), 0);
	CHECK_INT(listed(&fx, &contiguous), 3);
	CHECK_INT(append(&fx, 1), 0);
	CHECK_INT(listed(&fx, &contiguous), 8);
	CHECK(contiguous);
	CHECK_INT(store_access_watermark(fx.st, &upto), STORE_OK);
	CHECK_INT(upto, 8);

	/* Failed again, then a restart: the catch-up starts at the gap. */
	CHECK_INT(store_break(&fx, 1), 0);
	CHECK_INT(append(&fx, 2), 0);
	CHECK_INT(store_break(&fx, 0), 0);
	fixture_close(&fx);
	CHECK_INT(fixture_open(&fx), 0);
	CHECK_INT(listed(&fx, &contiguous), 10);
	CHECK(contiguous);
	CHECK_INT(store_access_watermark(fx.st, &upto), STORE_OK);
	CHECK_INT(upto, 10);
	fixture_free(&fx);
}

int
main(void)
{
	evthread_use_pthreads();
	log_set_level(LOG_LEVEL_ERROR);
	UNIT_RUN(test_gap_filled);
	return UNIT_END();
}
