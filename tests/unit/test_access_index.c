/* test_access_index.c — the access index kept in step with a real audit
 * log and a real SQLite store, when the store fails for a while. */
#include <event2/thread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access_index.h"
#include "audit.h"
#include "commitment.h"
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
	access_index_start(fx->a, fx->st);
	return 0;
}

static void
fixture_close(struct fixture *fx)
{
	audit_close(fx->a);
	fx->a = NULL;
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
	if ((fx->st = store_open(url, NULL, err, sizeof(err))) == NULL) {
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

/* Appends n entries about SUBJ, one batch each; how many were taken. */
static int
append(struct fixture *fx, int n)
{
	static const unsigned char view_key[COMMITMENT_KEY_LEN] = { 7 };
	struct audit_entry e = { .type = AUDIT_FETCH, .consumer = "caf",
	    .subject = SUBJ, .view_key = view_key, .decision = AUDIT_ALLOW };
	int taken = 0;

	for (int i = 0; i < n; i++)
		taken += audit_append(fx->a, &e, NULL) == 0;
	return taken;
}

/* Takes the access index away from the store's connection (or gives it
 * back), behind the store's back: its writes fail meanwhile, as on a full
 * file system. */
static int
store_break(struct fixture *fx, int broken)
{
	char path[sizeof(fx->db) + 16];   /* the access index's own file */
	sqlite3 *db;
	int rc;

	snprintf(path, sizeof(path), "%s.access", fx->db);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	rc = sqlite3_exec(db, broken ?
	    "ALTER TABLE access_recent RENAME TO access_recent_away" :
	    "ALTER TABLE access_recent_away RENAME TO access_recent",
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

/* No entry about a subject is written without its access index row:
 * while the store cannot write, the entries are refused (their requests
 * answer 503) rather than written and left out of the subject's access
 * log for good (the entries cannot tell their subject, so no catch-up
 * could index them later). The log stays up and, once the store writes
 * again, the access log lists every entry the log holds. */
static void
test_no_entry_without_its_row(void)
{
	struct fixture fx;
	int contiguous;

	if (fixture_init(&fx) != 0) {
		CHECK(0);
		fixture_free(&fx);
		return;
	}
	CHECK_INT(append(&fx, 3), 3);
	CHECK_INT(store_break(&fx, 1), 0);
	CHECK_INT(append(&fx, 4), 0);
	CHECK_INT(audit_ready(fx.a), 0);
	CHECK_INT(store_break(&fx, 0), 0);
	CHECK_INT(append(&fx, 1), 1);
	CHECK_INT(audit_size(fx.a), 4);
	CHECK_INT(listed(&fx, &contiguous), 4);
	CHECK(contiguous);
	fixture_free(&fx);
}

int
main(void)
{
	evthread_use_pthreads();
	log_set_level(LOG_LEVEL_ERROR);
	UNIT_RUN(test_no_entry_without_its_row);
	return UNIT_END();
}
