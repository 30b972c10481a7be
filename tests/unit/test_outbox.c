/* test_outbox.c — the store's side of push delivery on a real SQLite file:
 * one transaction per batch of pushes, idempotency keys, superseding, one
 * delivery in flight per (subscriber, subject, dataset), outcomes, recovery
 * after a crash, dead letters and their replay, the changes feed. */
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "tmpdir.h"
#include "unit.h"

#define SUBJ_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SUBJ_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define NOW 1700000000000LL

static char dir[TMPDIR_PATH_LEN];
static int db_count;

static struct store *
open_fresh(void)
{
	char url[TMPDIR_PATH_LEN + 64], name[32], err[256];
	struct store *st;

	snprintf(name, sizeof(name), "outbox%d.db", db_count++);
	tmpdir_store_url(dir, name, url, sizeof(url));
	if ((st = store_open(url, err, sizeof(err))) == NULL)
		fprintf(stderr, "  store_open: %s\n", err);
	return st;
}

static const char *const subscribers[] = { "caf", "ccas" };

/* One version of subject's address record, for both subscribers. */
static enum store_status
push(struct store *st, const char *subject, const char *record,
    const char *key, struct store_push_result *res)
{
	char id[STORE_ID_LEN];
	struct store_push p = {
		.record_id = id, .provider = "mairie", .subject = subject,
		.dataset = "address", .record = record,
		.subscribers = subscribers, .nsubscribers = 2,
		.idempotency_key = key, .request_sha256 = record,
		.response = "{\"first\":true}", .now_ms = NOW,
	};

	store_new_id(id);
	return store_record_accept(st, &p, 1, res, NULL);
}

static size_t
take(struct store *st, const char *subscriber, struct store_delivery **list)
{
	size_t n = 0;

	if (store_delivery_take(st, subscriber, NOW + 1, 10, list, &n) != STORE_OK)
		return (size_t)-1;
	return n;
}

static enum store_status
finish(struct store *st, const char *id, enum store_delivery_state state)
{
	struct store_delivery_outcome o = { .id = id, .state = state,
	    .attempts = 1, .due_ms = NOW, .error = state == STORE_DELIVERY_DELIVERED ?
	    NULL : "HTTP 503" };

	return store_delivery_finish(st, &o, 1, NOW + 2);
}

static void
test_accept_and_keys(void)
{
	struct store *st = open_fresh();
	struct store_push_result res;
	struct store_delivery *list;
	size_t n;

	if (st == NULL)
		return;
	CHECK_INT(push(st, SUBJ_A, "{\"city\":\"Brest\"}", "k1", &res), STORE_OK);
	CHECK_INT(res.status, STORE_OK);
	CHECK_INT(push(st, SUBJ_A, "{\"city\":\"Brest\"}", "k1", &res), STORE_OK);
	CHECK_INT(res.status, STORE_CONFLICT);
	CHECK_STR(res.previous, "{\"first\":true}");
	CHECK_INT(res.same, 1);
	free(res.previous);
	CHECK_INT(push(st, SUBJ_A, "{\"city\":\"Morlaix\"}", "k1", &res), STORE_OK);
	CHECK_INT(res.status, STORE_CONFLICT);
	CHECK_INT(res.same, 0);
	free(res.previous);
	n = take(st, "caf", &list);
	CHECK_INT(n, 1);     /* the replays created nothing */
	if (n == 1) {
		CHECK_STR(list[0].rec.record, "{\"city\":\"Brest\"}");
		CHECK_STR(list[0].rec.subject, SUBJ_A);
		CHECK_INT(list[0].rec.version, 1);
		CHECK_INT(list[0].state, STORE_DELIVERY_SENDING);
	}
	store_deliveries_free(list, n);
	store_close(st);
}

/* A newer version supersedes a waiting one but never one in flight, and
 * waits for the one in flight to be stored done. */
static void
test_order_and_superseding(void)
{
	struct store *st = open_fresh();
	struct store_push_result res;
	struct store_delivery *list, *next;
	size_t n;

	if (st == NULL)
		return;
	push(st, SUBJ_A, "{\"v\":1}", NULL, &res);
	push(st, SUBJ_A, "{\"v\":2}", NULL, &res);
	push(st, SUBJ_B, "{\"v\":1}", NULL, &res);
	n = take(st, "caf", &list);
	CHECK_INT(n, 2);     /* v1 of A was superseded by v2; B too */
	if (n != 2)
		return;
	CHECK_STR(list[0].rec.record, "{\"v\":2}");
	CHECK_INT(list[0].rec.version, 2);
	push(st, SUBJ_A, "{\"v\":3}", NULL, &res);
	CHECK_INT(take(st, "caf", &next), 0);   /* A's v2 is in flight */
	free(next);
	CHECK_INT(finish(st, list[0].id, STORE_DELIVERY_DELIVERED), STORE_OK);
	CHECK_INT(take(st, "caf", &next), 1);
	CHECK_STR(next[0].rec.record, "{\"v\":3}");
	/* A retry of a version overtaken meanwhile is not retried. */
	push(st, SUBJ_A, "{\"v\":4}", NULL, &res);
	CHECK_INT(finish(st, next[0].id, STORE_DELIVERY_PENDING), STORE_OK);
	store_deliveries_free(next, 1);
	CHECK_INT(store_delivery_list(st, STORE_DELIVERY_SUPERSEDED, 0, 10, &next,
	    &n), STORE_OK);
	/* caf: v1, and v3 whose retry v4 overtook; ccas, which took nothing
	 * yet: v1, v2, v3. */
	CHECK_INT(n, 5);
	for (size_t i = 0; i < n; i++)
		if (strcmp(next[i].subscriber, "caf") == 0)
			CHECK(strcmp(next[i].rec.record, "{\"v\":1}") == 0 ||
			    strcmp(next[i].rec.record, "{\"v\":3}") == 0);
	store_deliveries_free(next, n);
	CHECK_INT(take(st, "caf", &next), 1);
	CHECK_STR(next[0].rec.record, "{\"v\":4}");
	store_deliveries_free(next, 1);
	store_deliveries_free(list, 2);
	/* The other subscriber's chain is its own. */
	CHECK_INT(take(st, "ccas", &list), 2);
	store_deliveries_free(list, 2);
	store_close(st);
}

/* A crash leaves deliveries sending: recovery makes them pending again
 * and keeps only the newest of a chain. */
static void
test_recover(void)
{
	struct store *st = open_fresh();
	struct store_push_result res;
	struct store_delivery *list;
	char sent_id[STORE_ID_LEN];

	if (st == NULL)
		return;
	push(st, SUBJ_A, "{\"v\":1}", NULL, &res);
	CHECK_INT(take(st, "caf", &list), 1);
	memcpy(sent_id, list[0].id, sizeof(sent_id));
	store_deliveries_free(list, 1);
	CHECK_INT(store_delivery_recover(st), STORE_OK);
	CHECK_INT(take(st, "caf", &list), 1);
	CHECK_STR(list[0].id, sent_id);   /* the same id: the same key */
	store_deliveries_free(list, 1);
	push(st, SUBJ_A, "{\"v\":2}", NULL, &res);
	CHECK_INT(store_delivery_recover(st), STORE_OK);
	CHECK_INT(take(st, "caf", &list), 1);
	CHECK_STR(list[0].rec.record, "{\"v\":2}");
	store_deliveries_free(list, 1);
	store_close(st);
}

/* What the metrics read: waiting and dead deliveries per subscriber, and
 * not the delivered ones. */
static void
test_outbox_counts(void)
{
	struct store *st = open_fresh();
	struct store_push_result res;
	struct store_outbox_count *counts;
	struct store_delivery *list;
	size_t n;

	if (st == NULL)
		return;
	CHECK_INT(store_outbox_counts(st, &counts, &n), STORE_OK);
	CHECK_INT(n, 0);
	store_outbox_counts_free(counts, n);
	push(st, SUBJ_A, "{\"v\":1}", NULL, &res);
	push(st, SUBJ_B, "{\"v\":1}", NULL, &res);
	CHECK_INT(take(st, "caf", &list), 2);
	CHECK_INT(finish(st, list[0].id, STORE_DELIVERY_DEAD), STORE_OK);
	CHECK_INT(finish(st, list[1].id, STORE_DELIVERY_DELIVERED), STORE_OK);
	store_deliveries_free(list, 2);
	CHECK_INT(store_outbox_counts(st, &counts, &n), STORE_OK);
	CHECK_INT(n, 2);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(counts[i].subscriber, "caf") == 0) {
			CHECK_INT(counts[i].waiting, 0);
			CHECK_INT(counts[i].dead, 1);
		} else {
			CHECK_STR(counts[i].subscriber, "ccas");
			CHECK_INT(counts[i].waiting, 2);
			CHECK_INT(counts[i].dead, 0);
		}
	}
	store_outbox_counts_free(counts, n);
	store_close(st);
}

/* A record keeps the traceparent of the push that brought it (or none),
 * and its deliveries read it back. */
static void
test_trace_kept_with_the_record(void)
{
	static const char tp[] =
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
	struct store *st = open_fresh();
	struct store_push_result res;
	struct store_delivery *list;
	char id[STORE_ID_LEN];
	struct store_push p = {
		.record_id = id, .provider = "mairie", .subject = SUBJ_A,
		.dataset = "address", .record = "{}", .subscribers = subscribers,
		.nsubscribers = 1, .traceparent = tp, .now_ms = NOW,
	};

	if (st == NULL)
		return;
	store_new_id(id);
	CHECK_INT(store_record_accept(st, &p, 1, &res, NULL), STORE_OK);
	push(st, SUBJ_B, "{}", NULL, &res);
	CHECK_INT(take(st, "caf", &list), 2);
	CHECK_STR(list[0].rec.traceparent, tp);
	CHECK(list[1].rec.traceparent == NULL);
	store_deliveries_free(list, 2);
	store_close(st);
}

static void
test_dead_letters_and_replay(void)
{
	struct store *st = open_fresh();
	struct store_push_result res;
	struct store_delivery *list, *dead, got;
	size_t n;

	if (st == NULL)
		return;
	push(st, SUBJ_A, "{\"v\":1}", NULL, &res);
	CHECK_INT(take(st, "caf", &list), 1);
	CHECK_INT(finish(st, list[0].id, STORE_DELIVERY_DEAD), STORE_OK);
	CHECK_INT(store_delivery_list(st, STORE_DELIVERY_DEAD, 0, 10, &dead, &n),
	    STORE_OK);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_STR(dead[0].last_error, "HTTP 503");
		CHECK_STR(dead[0].subscriber, "caf");
	}
	store_deliveries_free(dead, n);
	CHECK_INT(store_delivery_retry(st, list[0].id, NOW, &got), STORE_OK);
	CHECK_INT(got.state, STORE_DELIVERY_PENDING);
	store_delivery_clear(&got);
	CHECK_INT(store_delivery_retry(st, list[0].id, NOW, &got),
	    STORE_NOT_FOUND);    /* no longer dead */
	CHECK_INT(take(st, "caf", &dead), 1);
	CHECK_INT(dead[0].attempts, 0);
	CHECK_INT(finish(st, dead[0].id, STORE_DELIVERY_DEAD), STORE_OK);
	store_deliveries_free(dead, 1);
	/* Once a newer version went out, the old one may not be replayed. */
	push(st, SUBJ_A, "{\"v\":2}", NULL, &res);
	CHECK_INT(take(st, "caf", &dead), 1);
	CHECK_INT(finish(st, dead[0].id, STORE_DELIVERY_DELIVERED), STORE_OK);
	store_deliveries_free(dead, 1);
	CHECK_INT(store_delivery_retry(st, list[0].id, NOW, &got),
	    STORE_CONFLICT);
	store_delivery_clear(&got);
	store_deliveries_free(list, 1);
	store_close(st);
}

static void
test_changes(void)
{
	struct store *st = open_fresh();
	struct store_push_result res;
	struct store_record *recs;
	int64_t after;
	size_t n;

	if (st == NULL)
		return;
	push(st, SUBJ_A, "{\"v\":1}", NULL, &res);
	push(st, SUBJ_B, "{\"v\":1}", NULL, &res);
	push(st, SUBJ_A, "{\"v\":2}", NULL, &res);
	CHECK_INT(store_change_list(st, "address", 0, 2, &recs, &n), STORE_OK);
	CHECK_INT(n, 2);
	if (n == 2)
		CHECK_STR(recs[1].subject, SUBJ_B);
	after = n == 2 ? recs[1].seq : 0;
	store_records_free(recs, n);
	CHECK_INT(store_change_list(st, "address", after, 10, &recs, &n), STORE_OK);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_STR(recs[0].record, "{\"v\":2}");   /* every version is kept */
		CHECK_INT(recs[0].version, 2);
	}
	store_records_free(recs, n);
	CHECK_INT(store_change_list(st, "household", 0, 10, &recs, &n), STORE_OK);
	CHECK_INT(n, 0);
	store_records_free(recs, n);
	store_close(st);
}

int
main(void)
{
	tmpdir_make(dir);
	UNIT_RUN(test_accept_and_keys);
	UNIT_RUN(test_order_and_superseding);
	UNIT_RUN(test_recover);
	UNIT_RUN(test_dead_letters_and_replay);
	UNIT_RUN(test_outbox_counts);
	UNIT_RUN(test_trace_kept_with_the_record);
	UNIT_RUN(test_changes);
	tmpdir_remove(dir);
	return UNIT_END();
}
