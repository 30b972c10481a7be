/* scale_fill.c — fills a store and an audit log to the size of a large
 * deployment, for bench/scale.sh, through store.h and the audit API (not
 * HTTP), so that it takes minutes:
 *
 *   scale_fill STORE_URL AUDIT_DIR KEYFILE SUBJECTS CONSENTS ENTRIES
 *   scale_fill STORE_URL      only the access index's runs moved and merged
 *
 * SUBJECTS subjects linked at mairie (local ids m-N) and caf (c-N), each
 * with its view key; CONSENTS consents of caf for mairie's address of
 * subjects 0..CONSENTS-1; ENTRIES audit entries, fetches of caf spread
 * over the subjects, indexed in the store's access index as the gateway
 * indexes them, its newest rows moved into sorted runs by the thread
 * that does so in a gateway (store_checkpointer.h), then every run due
 * moved and merged (fill_settle). The pseudonym key is TELLONCE_PSEUDONYM_KEY, as the
 * gateway reads it, so that a subject linked over HTTP later lands among
 * these. Prints what it wrote and how long each part took. */
#include <event2/thread.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access_index.h"
#include "audit.h"
#include "clock.h"
#include "identity.h"
#include "store.h"
#include "store_checkpointer.h"

/* Rows per store transaction, and audit appends in flight. */
#define FILL_BULK 50000
#define FILL_INFLIGHT 32768

struct fill {
	long subjects, consents, entries;
	char (*subject)[STORE_SUBJECT_LEN];          /* per subject; owned */
	unsigned char (*view_key)[STORE_VIEW_KEY_LEN]; /* per subject; owned */
};

static int
fill_fail(const char *what, long n)
{
	fprintf(stderr, "scale_fill: %s failed at row %ld\n", what, n);
	return -1;
}

/* Commits the batch every FILL_BULK rows, so no transaction grows huge. */
static int
fill_step(struct store *st, long n)
{
	if ((n + 1) % FILL_BULK != 0)
		return 0;
	if (store_batch_end(st) != STORE_OK || store_batch_begin(st, 0) != STORE_OK)
		return fill_fail("commit", n);
	return 0;
}

static int
fill_links(struct fill *f, struct store *st, const char *key)
{
	char text[64], local[32];
	int created;

	for (long i = 0; i < f->subjects; i++) {
		snprintf(text, sizeof(text), "scale\x1e%ld\x1e" "1980-01-01\x1e"
		    "brest\x1e" "f", i);
		identity_pseudonym((const unsigned char *)key, strlen(key), 2,
		    text, f->subject[i]);
		snprintf(local, sizeof(local), "m-%ld", i);
		if (store_link_put(st, "mairie", local, f->subject[i], 2,
		    &created) != STORE_OK)
			return fill_fail("link mairie", i);
		snprintf(local, sizeof(local), "c-%ld", i);
		if (store_link_put(st, "caf", local, f->subject[i], 2,
		    &created) != STORE_OK)
			return fill_fail("link caf", i);
		if (store_view_key_get(st, f->subject[i], f->view_key[i]) !=
		    STORE_OK)
			return fill_fail("view key", i);
		if (fill_step(st, i) != 0)
			return -1;
	}
	return 0;
}

static int
fill_consents(struct fill *f, struct store *st)
{
	static char *attrs[] = { "postal_code" };
	struct store_consent c = {
		.consumer = "caf", .provider = "mairie", .dataset = "address",
		.purpose = "benefit-eligibility", .attributes = attrs,
		.nattributes = 1,
	};

	c.created_ms = clock_now_ms();
	for (long i = 0; i < f->consents; i++) {
		store_new_id(c.id);
		memcpy(c.subject, f->subject[i % f->subjects], STORE_SUBJECT_LEN);
		if (store_consent_insert(st, &c) != STORE_OK)
			return fill_fail("consent", i);
		if (fill_step(st, i) != 0)
			return -1;
	}
	return 0;
}

/* The appends in flight, and whether one failed. */
struct fill_flow {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	long inflight, failed;
};

static void
fill_appended(int status, uint64_t index, void *arg)
{
	struct fill_flow *w = arg;

	pthread_mutex_lock(&w->mu);
	w->inflight--;
	w->failed += status != 0;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

static int
fill_entries(struct fill *f, struct audit *a)
{
	static const char *attrs[] = { "postal_code" };
	struct fill_flow w = { PTHREAD_MUTEX_INITIALIZER,
	    PTHREAD_COND_INITIALIZER, 0, 0 };
	struct audit_entry e = {
		.type = AUDIT_FETCH, .consumer = "caf", .provider = "mairie",
		.dataset = "address", .attributes = attrs, .nattributes = 1,
		.purpose = "benefit-eligibility", .basis = "public_task",
		.policy = "caf-pc", .decision = AUDIT_ALLOW,
		.payload = "{\"postal_code\":\"29000\"}",
	};
	char reqid[32];

	for (long n = 0; n < f->entries && w.failed == 0; n++) {
		long s = n % f->subjects;

		pthread_mutex_lock(&w.mu);
		while (w.inflight >= FILL_INFLIGHT)
			pthread_cond_wait(&w.cond, &w.mu);
		w.inflight++;
		pthread_mutex_unlock(&w.mu);
		snprintf(reqid, sizeof(reqid), "scale-%ld", n);
		e.request_id = reqid;
		e.subject = f->subject[s];
		e.view_key = f->view_key[s];
		/* No loop: the sequencer runs the completion itself. */
		audit_append_async(a, &e, NULL, fill_appended, &w);
	}
	pthread_mutex_lock(&w.mu);
	while (w.inflight > 0)
		pthread_cond_wait(&w.cond, &w.mu);
	pthread_mutex_unlock(&w.mu);
	return w.failed == 0 ? 0 : fill_fail("audit append", f->entries);
}

static struct audit *
fill_audit_open(const char *dir, const char *keyfile)
{
	struct config_audit cfg = {
		.dir = (char *)dir, .origin = "bench.tellonce.example/log",
		.checkpoint_interval_ms = 1000,
	};
	char err[512], key[4096];
	struct audit *a;
	FILE *fp = fopen(keyfile, "r");

	if (fp == NULL) {
		perror(keyfile);
		return NULL;
	}
	cfg.signing_key.data = (unsigned char *)key;
	cfg.signing_key.len = fread(key, 1, sizeof(key) - 1, fp);
	fclose(fp);
	if ((a = audit_open(&cfg, err, sizeof(err))) == NULL)
		fprintf(stderr, "scale_fill: audit: %s\n", err);
	return a;
}

static void
fill_report(const char *what, long n, int64_t t0)
{
	double s = (double)(clock_mono_ms() - t0) / 1000;

	printf("%-24s %10ld in %6.1f s (%.0f/s)\n", what, n, s, s > 0 ? n / s : 0);
	fflush(stdout);
}

/* The fill appends faster than the checkpointer moves and merges the
 * access index's runs: it left some 1.3M rows unmoved and 37 runs of
 * level 1 unmerged, some 22 s of the checkpointer's CPU that the next
 * gateway on the store spent while it was measured. A deployment that
 * logged these entries at its pace holds them merged: checkpoints until
 * one changes nothing in the access file (SQLite's, STORE_URL plus
 * ".access"); 0 or -1. */
static int
fill_settle(struct store *st, const char *url)
{
	char file[4096];
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int before = -1, after = -2, rc = -1;
	int64_t t0 = clock_mono_ms();
	long n = 0;

	if (strncmp(url, "sqlite:", 7) != 0)
		return 0;
	snprintf(file, sizeof(file), "%s.access", url + 7);
	if (sqlite3_open_v2(file, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &s, NULL) !=
	    SQLITE_OK)
		goto out;
	while (before != after) {
		if (sqlite3_step(s) != SQLITE_ROW)
			goto out;
		before = sqlite3_column_int(s, 0);
		sqlite3_reset(s);
		if (store_checkpoint(st) != STORE_OK || sqlite3_step(s) != SQLITE_ROW)
			goto out;
		after = sqlite3_column_int(s, 0);
		sqlite3_reset(s);
		n++;
	}
	fill_report("access index checkpoints", n, t0);
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "scale_fill: settling %s failed\n", file);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return rc;
}

/* Links and consents through st, in batches; 0 or -1. */
static int
fill_store(struct fill *f, struct store *st, const char *key)
{
	int64_t t0 = clock_mono_ms();

	if (store_batch_begin(st, 0) != STORE_OK || fill_links(f, st, key) != 0)
		return -1;
	fill_report("subjects (2 links each)", f->subjects, t0);
	t0 = clock_mono_ms();
	if (fill_consents(f, st) != 0 || store_batch_end(st) != STORE_OK)
		return -1;
	fill_report("consents", f->consents, t0);
	return 0;
}

/* A store filled before: its runs moved and merged (fill_settle). */
static int
fill_settle_only(const char *url)
{
	char err[512];
	struct store *st = store_open(url, NULL, err, sizeof(err));
	int rc;

	if (st == NULL) {
		fprintf(stderr, "scale_fill: store: %s\n", err);
		return 1;
	}
	rc = fill_settle(st, url) != 0;
	store_close(st);
	return rc;
}

int
main(int argc, char **argv)
{
	struct fill f = { 0 };
	struct store *st = NULL, *index_st = NULL;
	struct store_checkpointer *cp = NULL;
	struct audit *a = NULL;
	const char *key = getenv("TELLONCE_PSEUDONYM_KEY");
	char err[512];
	int64_t t0;
	int rc = 1;

	if (argc == 2)
		return fill_settle_only(argv[1]);
	if (argc != 7 || key == NULL) {
		fprintf(stderr, "usage: TELLONCE_PSEUDONYM_KEY=... scale_fill "
		    "STORE_URL AUDIT_DIR KEYFILE SUBJECTS CONSENTS ENTRIES\n"
		    "       scale_fill STORE_URL\n");
		return 2;
	}
	evthread_use_pthreads();
	f.subjects = atol(argv[4]);
	f.consents = atol(argv[5]);
	f.entries = atol(argv[6]);
	f.subject = calloc((size_t)f.subjects + 1, sizeof(*f.subject));
	f.view_key = calloc((size_t)f.subjects + 1, sizeof(*f.view_key));
	if (f.subjects < 1 || f.subject == NULL || f.view_key == NULL)
		goto out;
	if ((st = store_open(argv[1], NULL, err, sizeof(err))) == NULL ||
	    (index_st = store_open(argv[1], NULL, err, sizeof(err))) == NULL) {
		fprintf(stderr, "scale_fill: store: %s\n", err);
		goto out;
	}
	if (fill_store(&f, st, key) != 0 ||
	    (a = fill_audit_open(argv[2], argv[3])) == NULL)
		goto out;
	if ((cp = store_checkpointer_start(argv[1], NULL, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "scale_fill: checkpointer: %s\n", err);
		goto out;
	}
	access_index_start(a, index_st);
	t0 = clock_mono_ms();
	if (fill_entries(&f, a) != 0)
		goto out;
	fill_report("audit entries (indexed)", f.entries, t0);
	audit_close(a);
	a = NULL;
	store_checkpointer_stop(cp);
	cp = NULL;
	if (fill_settle(st, argv[1]) != 0)
		goto out;
	rc = 0;
out:
	audit_close(a);
	store_checkpointer_stop(cp);
	store_close(index_st);
	store_close(st);
	free(f.subject);
	free(f.view_key);
	return rc;
}
