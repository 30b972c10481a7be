/* test_outbox.c — the store's side of push delivery, on both backends
 * (store_suite.h): one transaction per batch of pushes, idempotency keys,
 * superseding, one delivery in flight per (subscriber, subject, dataset),
 * outcomes, recovery after a crash, dead letters and their replay, the
 * changes feed; then several nodes on one store: two takers at once, and
 * on PostgreSQL leases that move a delivery to another node. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_suite.h"

#define SUBJ_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SUBJ_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define NOW 1700000000000LL

static int db_count;

static struct store *
open_fresh(void)
{
	char name[32];

	snprintf(name, sizeof(name), "outbox%d", db_count++);
	return suite_open(name);
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
finish(struct store *st, const struct store_delivery *d,
    enum store_delivery_state state)
{
	struct store_delivery_outcome o = { .id = d->id, .seq = d->seq,
	    .state = state,
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
	/* ... and not superseded: caf's only superseded row is v1. */
	CHECK_INT(store_delivery_list(st, STORE_DELIVERY_SUPERSEDED, 0, 10, &next,
	    &n), STORE_OK);
	for (size_t i = 0; i < n; i++)
		if (strcmp(next[i].subscriber, "caf") == 0)
			CHECK_STR(next[i].rec.record, "{\"v\":1}");
	store_deliveries_free(next, n);
	CHECK_INT(finish(st, &list[0], STORE_DELIVERY_DELIVERED), STORE_OK);
	CHECK_INT(take(st, "caf", &next), 1);
	CHECK_STR(next[0].rec.record, "{\"v\":3}");
	/* A retry of a version overtaken meanwhile is not retried. */
	push(st, SUBJ_A, "{\"v\":4}", NULL, &res);
	CHECK_INT(finish(st, &next[0], STORE_DELIVERY_PENDING), STORE_OK);
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

/* A record with more subscribers than the store writes in one statement
 * gets one delivery each, with an id of its own, and a newer version
 * supersedes each one's. */
static void
test_many_subscribers(void)
{
	static const char *const many[] = { "s1", "s2", "s3", "s4", "s5",
	    "s6", "s7", "s8", "s9" };
	struct store *st = open_fresh();
	struct store_push_result res;
	struct store_delivery *list;
	char ids[9][STORE_ID_LEN];
	size_t n;

	if (st == NULL)
		return;
	for (int v = 1; v <= 2; v++) {
		char id[STORE_ID_LEN];
		struct store_push p = {
			.record_id = id, .provider = "mairie", .subject = SUBJ_A,
			.dataset = "address", .record = v == 1 ? "{\"v\":1}" :
			    "{\"v\":2}",
			.subscribers = many, .nsubscribers = 9, .now_ms = NOW,
		};

		store_new_id(id);
		CHECK_INT(store_record_accept(st, &p, 1, &res, NULL), STORE_OK);
	}
	for (size_t i = 0; i < 9; i++) {
		CHECK_INT(take(st, many[i], &list), 1);
		if (list == NULL)
			continue;
		CHECK_STR(list[0].subscriber, many[i]);
		CHECK_STR(list[0].rec.record, "{\"v\":2}");
		memcpy(ids[i], list[0].id, STORE_ID_LEN);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(ids[i], ids[j]) != 0);
		store_deliveries_free(list, 1);
	}
	CHECK_INT(store_delivery_list(st, STORE_DELIVERY_SUPERSEDED, 0, 20,
	    &list, &n), STORE_OK);
	CHECK_INT(n, 9);
	store_deliveries_free(list, n);
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
	CHECK_INT(finish(st, &list[0], STORE_DELIVERY_DEAD), STORE_OK);
	CHECK_INT(finish(st, &list[1], STORE_DELIVERY_DELIVERED), STORE_OK);
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
	CHECK_INT(finish(st, &list[0], STORE_DELIVERY_DEAD), STORE_OK);
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
	CHECK_INT(finish(st, &dead[0], STORE_DELIVERY_DEAD), STORE_OK);
	store_deliveries_free(dead, 1);
	/* Once a newer version went out, the old one may not be replayed. */
	push(st, SUBJ_A, "{\"v\":2}", NULL, &res);
	CHECK_INT(take(st, "caf", &dead), 1);
	CHECK_INT(finish(st, &dead[0], STORE_DELIVERY_DELIVERED), STORE_OK);
	store_deliveries_free(dead, 1);
	CHECK_INT(store_delivery_retry(st, list[0].id, NOW, &got),
	    STORE_CONFLICT);
	store_delivery_clear(&got);
	store_deliveries_free(list, 1);
	store_close(st);
}

/* What the audit log covers is kept with the row it covers: a key whose
 * push entry became durable is marked (a replay needs no entry), and a
 * delivery's deliver entry and payload digest come back with it for the
 * retry, -1 and "" before it has one. */
static void
test_audit_marks(void)
{
	static const char sha[] = "5f2b0c4a5f2b0c4a5f2b0c4a5f2b0c4a"
	    "5f2b0c4a5f2b0c4a5f2b0c4a5f2b0c4a";
	struct store *st = open_fresh();
	struct store_push_audit mark = { "mairie", "k1", 41 };
	struct store_push_result res;
	struct store_delivery *list;
	struct store_delivery_outcome o = { .state = STORE_DELIVERY_PENDING,
	    .attempts = 1, .due_ms = NOW, .error = "HTTP 503",
	    .audit_index = 42, .audit_sha256 = sha };
	size_t n;

	if (st == NULL)
		return;
	CHECK_INT(push(st, SUBJ_A, "{\"city\":\"Brest\"}", "k1", &res), STORE_OK);
	CHECK_INT(push(st, SUBJ_A, "{\"city\":\"Brest\"}", "k1", &res), STORE_OK);
	CHECK_INT(res.status, STORE_CONFLICT);
	CHECK_INT(res.audited, 0);
	free(res.previous);
	CHECK_INT(store_push_audited(st, &mark, 1), STORE_OK);
	CHECK_INT(push(st, SUBJ_A, "{\"city\":\"Brest\"}", "k1", &res), STORE_OK);
	CHECK_INT(res.audited, 1);
	free(res.previous);

	CHECK_INT(take(st, "caf", &list), 1);
	CHECK_INT(list[0].audit_index, -1);
	CHECK_STR(list[0].audit_sha256, "");
	o.id = list[0].id;
	o.seq = list[0].seq;
	CHECK_INT(store_delivery_finish(st, &o, 1, NOW + 2), STORE_OK);
	store_deliveries_free(list, 1);
	CHECK_INT(store_delivery_list(st, STORE_DELIVERY_PENDING, 0, 10, &list,
	    &n), STORE_OK);
	CHECK_INT(n, 2);
	for (size_t i = 0; i < n; i++) {
		int mine = strcmp(list[i].subscriber, "caf") == 0;

		CHECK_INT(list[i].audit_index, mine ? 42 : -1);
		CHECK_STR(list[i].audit_sha256, mine ? sha : "");
	}
	store_deliveries_free(list, n);
	store_close(st);
}

/* Two stores on one new database, as two nodes would have; 0, or -1 with
 * whichever opened still to close. */
static int
open_two_nodes(struct store **a, struct store **b)
{
	char name[32];

	snprintf(name, sizeof(name), "outbox%d", db_count++);
	*a = suite_open(name);
	*b = suite_open(name);
	CHECK(*a != NULL && *b != NULL);
	return *a != NULL && *b != NULL ? 0 : -1;
}

static void
sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&t, NULL);
}

/* Node A takes a delivery and dies (stops renewing): node B takes it over
 * once the lease has run out, with the same id; A's late outcome is not
 * kept, B's is. A node that renews keeps its delivery past the lease. */
static void
test_leases_move_between_nodes(void)
{
	struct store *a, *b;
	struct store_push_result res;
	struct store_delivery *list, *other;
	struct store_delivery taken = { 0 };
	size_t n, got;

	if (open_two_nodes(&a, &b) != 0)
		goto done;
	store_outbox_node(a, "node-a", 300);
	store_outbox_node(b, "node-b", 300);
	CHECK_INT(push(a, SUBJ_A, "{\"v\":1}", NULL, &res), STORE_OK);
	CHECK_INT(take(a, "caf", &list), 1);
	memcpy(taken.id, list[0].id, sizeof(taken.id));
	taken.seq = list[0].seq;
	store_deliveries_free(list, 1);
	CHECK_INT(take(b, "caf", &other), 0);       /* A's lease holds */
	free(other);
	sleep_ms(500);
	got = take(b, "caf", &other);               /* ran out: B takes it */
	CHECK_INT(got, 1);
	if (got == 1)
		CHECK_STR(other[0].id, taken.id);
	CHECK_INT(finish(a, &taken, STORE_DELIVERY_DELIVERED), STORE_OK);
	CHECK_INT(store_delivery_list(a, STORE_DELIVERY_DELIVERED, 0, 10, &list,
	    &n), STORE_OK);
	CHECK_INT(n, 0);                            /* A's outcome not kept */
	store_deliveries_free(list, n);
	CHECK_INT(finish(b, &taken, STORE_DELIVERY_DELIVERED), STORE_OK);
	CHECK_INT(store_delivery_list(a, STORE_DELIVERY_DELIVERED, 0, 10, &list,
	    &n), STORE_OK);
	CHECK_INT(n, 1);
	store_deliveries_free(list, n);
	store_deliveries_free(other, got == 1 ? 1 : 0);

	CHECK_INT(push(a, SUBJ_B, "{\"v\":1}", NULL, &res), STORE_OK);
	CHECK_INT(take(a, "caf", &list), 1);
	store_deliveries_free(list, 1);
	for (int i = 0; i < 6; i++) {               /* twice the lease */
		sleep_ms(100);
		CHECK_INT(store_delivery_renew(a), STORE_OK);
		CHECK_INT(take(b, "caf", &other), 0);
		free(other);
	}
	sleep_ms(500);
	CHECK_INT(take(b, "caf", &other), 1);
	store_deliveries_free(other, 1);
done:
	store_close(a);
	store_close(b);
}

static int64_t
mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* An idle node does not ask the store for deliveries at every tick: it
 * listens, and a push on another node wakes it at once; without a word it
 * looks again only every 200 ms. What the clock decides is checked only
 * when the steps before ran well within those 200 ms: on a loaded machine
 * they may not. */
static void
test_a_push_wakes_the_other_nodes(void)
{
	struct store *a, *b;
	struct store_push_result res;
	int64_t t0, pushed;
	int woken = 0, quiet;

	if (open_two_nodes(&a, &b) != 0)
		goto done;
	store_outbox_node(a, "node-a", 60000);
	CHECK_INT(store_outbox_changed(a), 1);      /* the first look */
	t0 = mono_ms();
	quiet = store_outbox_changed(a) == 0;
	if (mono_ms() - t0 < 100)
		CHECK(quiet);
	CHECK_INT(push(b, SUBJ_A, "{\"v\":1}", NULL, &res), STORE_OK);
	pushed = mono_ms();
	while (!woken && mono_ms() - t0 < 2000) {
		if (!(woken = store_outbox_changed(a)))
			sleep_ms(2);
	}
	CHECK(woken);
	/* Woken before the idle look was due: by the push's notification. */
	if (pushed - t0 < 100)
		CHECK(mono_ms() - t0 < 200);
done:
	store_close(a);
	store_close(b);
}

#define RACE_SUBJECTS 40
#define RACE_VERSIONS 6

struct race {
	pthread_mutex_t lock;
	const char *db;
	int inflight[RACE_SUBJECTS];   /* deliveries of the chain being sent */
	int taken, twice, done_pushing;
};

static int
race_subject(const char *subject)
{
	return (int)strtol(subject + 62, NULL, 16);
}

/* A node: takes caf's deliveries and delivers them, until the pusher is
 * done and nothing is left; flags a chain found in flight twice. */
static void *
race_node(void *arg)
{
	struct race *r = arg;
	struct store *st = suite_open(r->db);
	struct store_delivery *list;
	char node[32];
	size_t n;
	int idle = 0;

	if (st == NULL)
		return NULL;
	snprintf(node, sizeof(node), "node-%p", (void *)&node);
	store_outbox_node(st, node, 60000);
	while (idle < 20) {
		if (store_delivery_take(st, "caf", NOW + 1, 4, &list, &n)
		    != STORE_OK)
			break;
		pthread_mutex_lock(&r->lock);
		for (size_t i = 0; i < n; i++) {
			int k = race_subject(list[i].rec.subject);

			r->twice += r->inflight[k]++ > 0;
			r->taken++;
		}
		idle = n == 0 && r->done_pushing ? idle + 1 : 0;
		pthread_mutex_unlock(&r->lock);
		for (size_t i = 0; i < n; i++) {
			pthread_mutex_lock(&r->lock);
			r->inflight[race_subject(list[i].rec.subject)]--;
			pthread_mutex_unlock(&r->lock);
			finish(st, &list[i], STORE_DELIVERY_DELIVERED);
		}
		store_deliveries_free(list, n);
	}
	store_close(st);
	return NULL;
}

/* Two nodes take from one outbox while versions keep coming: never two
 * deliveries of one (subscriber, subject, dataset) in flight at once, and
 * every subject's last version delivered in the end. */
static void
test_two_nodes_take_at_once(void)
{
	char name[32], subject[STORE_SUBJECT_LEN], record[32];
	struct race r = { .db = name };
	struct store *st;
	struct store_push_result res;
	struct store_delivery *list;
	pthread_t t[2];
	size_t n, last = 0;

	snprintf(name, sizeof(name), "outbox%d", db_count++);
	if ((st = suite_open(name)) == NULL)
		return;
	pthread_mutex_init(&r.lock, NULL);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, race_node, &r);
	for (int v = 1; v <= RACE_VERSIONS; v++) {
		for (int k = 0; k < RACE_SUBJECTS; k++) {
			snprintf(subject, sizeof(subject), "%064x", k);
			snprintf(record, sizeof(record), "{\"v\":%d}", v);
			CHECK_INT(push(st, subject, record, NULL, &res), STORE_OK);
		}
	}
	pthread_mutex_lock(&r.lock);
	r.done_pushing = 1;
	pthread_mutex_unlock(&r.lock);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_INT(r.twice, 0);
	CHECK(r.taken >= RACE_SUBJECTS);
	CHECK_INT(store_delivery_list(st, STORE_DELIVERY_DELIVERED, 0, 10000,
	    &list, &n), STORE_OK);
	for (size_t i = 0; i < n; i++)
		last += strcmp(list[i].rec.record, "{\"v\":6}") == 0 &&
		    strcmp(list[i].subscriber, "caf") == 0;
	CHECK_INT(last, RACE_SUBJECTS);
	store_deliveries_free(list, n);
	pthread_mutex_destroy(&r.lock);
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

/* The deliveries table as SQLite's schema 18 left it: its foreign key
 * checked by each statement. */
#define DELIVERIES_18 "CREATE TABLE deliveries (" \
	" seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE," \
	" record_seq INTEGER NOT NULL REFERENCES records (seq)," \
	" subscriber TEXT NOT NULL, subject TEXT NOT NULL," \
	" dataset TEXT NOT NULL, state INTEGER NOT NULL," \
	" attempts INTEGER NOT NULL, since_ms INTEGER NOT NULL," \
	" due_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL," \
	" last_error TEXT, audit_index INTEGER, audit_sha256 TEXT," \
	" claimed_by TEXT, lease_until INTEGER);"

/* SQLite's step 19 defers the deliveries' foreign key: a store of step
 * 18 (step 20's link column and triggers undone too) keeps its rows, their ids and indexes, passes SQLite's integrity
 * check, and takes pushes; a record that deliveries name still cannot
 * go, at the commit now. */
static void
test_deliveries_migrate_deferred(void)
{
	struct store *st = suite_open("deferred");
	struct store_push_result res;
	struct store_delivery *list;
	char id[STORE_ID_LEN];

	if (st == NULL)
		return;
	push(st, SUBJ_A, "{\"v\":1}", NULL, &res);
	push(st, SUBJ_B, "{\"v\":1}", NULL, &res);
	CHECK_INT(take(st, "caf", &list), 2);
	memcpy(id, list[0].id, sizeof(id));
	store_deliveries_free(list, 2);
	store_close(st);
	CHECK_INT(suite_be->exec("deferred", "ALTER TABLE deliveries "
	    "RENAME TO d19;" DELIVERIES_18 "INSERT INTO deliveries "
	    "SELECT * FROM d19; DROP TABLE d19;"
	    "CREATE INDEX deliveries_by_record ON deliveries (record_seq);"
	    "CREATE INDEX deliveries_due ON deliveries (subscriber, due_ms)"
	    " WHERE state = 0;"
	    "CREATE INDEX deliveries_chain ON deliveries (subscriber, subject,"
	    " dataset, state) WHERE state IN (0, 1);"
	    "CREATE INDEX deliveries_dead ON deliveries (state) WHERE state = 3;"
	    "DROP TRIGGER view_keys_drawn; DROP TRIGGER view_keys_erased;"
	    "ALTER TABLE links DROP COLUMN view_key;"),
	    0);
	CHECK_INT(suite_be->schema_version("deferred", 18), 18);

	st = suite_open("deferred");
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK(suite_be->schema_version("deferred", -1) >= 19);
	CHECK_INT(suite_be->scalar("deferred", "SELECT count(*) FROM "
	    "sqlite_master WHERE name = 'deliveries' AND "
	    "sql LIKE '%DEFERRABLE INITIALLY DEFERRED%'"), 1);
	CHECK_INT(suite_be->scalar("deferred", "SELECT count(*) FROM "
	    "pragma_integrity_check WHERE integrity_check = 'ok'"), 1);
	CHECK_INT(suite_be->scalar("deferred", "SELECT count(*) FROM "
	    "sqlite_master WHERE tbl_name = 'deliveries' AND type = 'index'"), 5);
	CHECK_INT(store_delivery_recover(st), STORE_OK);
	CHECK_INT(take(st, "caf", &list), 2);
	CHECK_STR(list[0].id, id);
	store_deliveries_free(list, 2);
	push(st, SUBJ_A, "{\"v\":2}", NULL, &res);
	CHECK_INT(res.status, STORE_OK);
	CHECK_INT(take(st, "ccas", &list), 2);
	store_deliveries_free(list, 2);
	store_close(st);
	CHECK(suite_be->exec("deferred", "PRAGMA foreign_keys = ON;"
	    "BEGIN; DELETE FROM records; COMMIT;") != 0);
	CHECK_INT(suite_be->scalar("deferred", "SELECT count(*) FROM records"), 3);
}

int
main(int argc, char **argv)
{
	(void)argc;
	suite_start(argv[0]);
	SUITE_RUN(test_accept_and_keys);
	SUITE_RUN(test_order_and_superseding);
	SUITE_RUN(test_many_subscribers);
	SUITE_RUN(test_recover);
	SUITE_RUN(test_dead_letters_and_replay);
	SUITE_RUN(test_outbox_counts);
	SUITE_RUN(test_trace_kept_with_the_record);
	SUITE_RUN(test_audit_marks);
	SUITE_RUN(test_changes);
	SUITE_RUN(test_two_nodes_take_at_once);
	SUITE_RUN_SQLITE(test_deliveries_migrate_deferred);
	SUITE_RUN_PG(test_leases_move_between_nodes);
	SUITE_RUN_PG(test_a_push_wakes_the_other_nodes);
	suite_stop();
	return UNIT_END();
}
