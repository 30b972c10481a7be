/* api_records.c — POST /v1/records: a provider pushes a changed record.
 *
 * push.c does the mapping and decides each subscriber; this file is the
 * HTTP side: input checks, idempotency keys, and the reply. The record
 * version, one delivery per subscriber that may receive something and the
 * idempotency key are stored in one transaction; the push is audited, and
 * only once that entry is durable does the 202 leave. The key then records
 * that its push has its entry: a replay of a key without one (the entry
 * failed, the first 202 never left) audits the push before answering.
 *
 * Group commit: the pushes of every worker wait in one queue. The worker
 * that queues the first of them commits the queue whole at the end of its
 * loop's turn, on its own store connection, in one transaction, and posts
 * each other worker's results to that worker's loop; whatever arrived
 * during the commit goes in the next one, in that worker's next turn.
 * SQLite has one writer: a commit per push would make every worker queue
 * for it, and a commit per worker (as before) split the pushes into
 * smaller batches, each with its own fsync, while the other worker's loop
 * waited for the lock. A store whose writers commit side by side
 * (PostgreSQL: store_one_writer 0) keeps a queue per worker instead: one
 * committer there would make every push wait for the round trips of
 * another worker's commit (push p99 150 ms -> 1.3 s, alternated). */
#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "gateway.h"
#include "jsonutil.h"
#include "log.h"
#include "push.h"
#include "subscription.h"

/* {"id":"<32 hex>","deliveries":<int>} */
#define RECORDS_RESPONSE_LEN (STORE_ID_LEN + 48)

struct records_push {
	struct request *r;
	struct push push;
	const char *key;             /* the idempotency key (r's body), or NULL */
	char *previous;              /* a replay: the first answer */
	/* What the store keeps points into these. */
	char request_sha256[65];
	char response_text[RECORDS_RESPONSE_LEN];
	char traceparent[TRACE_HEADER_LEN];
	struct store_push stored;
	struct store_push_result res;   /* its commit's; res.previous owned */
	struct records_push *next;   /* in its worker's answers of a commit */
	atomic_size_t *pending;      /* its worker's records_pending */
};

/* This worker's pushes queued and not answered yet: read by its drain
 * (api_records_pending), counted down by the thread that answers them. A
 * worker's thread outlives its loop, which does not stop before 0. */
static _Thread_local atomic_size_t records_pending;

/* Pushes waiting for a commit, under mu. */
struct records_queue {
	pthread_mutex_t mu;
	struct records_push **items;
	size_t n, cap;
	/* The loop whose turn commits next, and its store connection: set
	 * while pushes wait or a commit runs, so that this loop does not stop
	 * before they are answered. */
	struct event_base *committer;
	struct store *store;
};

/* Every worker's, on a store of one writer. */
static struct records_queue records_shared = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
};

/* This worker's own, on a store whose writers commit side by side. */
static _Thread_local struct records_queue records_own = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
};

/* Keys whose push entry became durable in this turn of the loop, stored
 * at its end in one transaction. */
struct records_marks {
	struct store *store;         /* the worker's */
	struct store_push_audit *items;   /* provider and key owned */
	size_t n, cap;
};

static _Thread_local struct records_marks records_marks;

/* Takes void * so that request_audit_owned can free a push whose entry the
 * audit log refused. */
static void
records_free(void *arg)
{
	struct records_push *p = arg;

	push_clear(&p->push);
	free(p->previous);
	free(p->res.previous);
	free(p);
}

static void
records_free_marks(struct store_push_audit *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)items[i].provider);
		free((char *)items[i].key);
	}
	free(items);
}

/* End of the loop's turn: the keys marked audited, in one transaction. A
 * mark lost (a store error, a crash) only costs a second entry at a
 * replay. */
static void
records_flush_marks(evutil_socket_t fd, short what, void *arg)
{
	struct records_marks m = records_marks;

	memset(&records_marks, 0, sizeof(records_marks));
	if (store_push_audited(m.store, m.items, m.n) != STORE_OK)
		log_warn("push: %zu keys not marked audited; a replay audits "
		    "them again", m.n);
	records_free_marks(m.items, m.n);
}

static void
records_mark(struct records_push *p, uint64_t index)
{
	struct records_marks *m = &records_marks;
	struct store_push_audit *it;

	if (p->key == NULL)
		return;
	if (m->n == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 64;
		struct store_push_audit *grown = reallocarray(m->items, ncap,
		    sizeof(*grown));

		if (grown == NULL)
			return;
		m->items = grown;
		m->cap = ncap;
	}
	if (m->n == 0 && event_base_once(p->r->base, -1, EV_TIMEOUT,
	    records_flush_marks, NULL, NULL) != 0)
		return;
	m->store = p->r->store;
	it = &m->items[m->n];
	it->provider = strdup(p->push.provider->id);
	it->key = strdup(p->key);
	it->audit_index = index;
	if (it->provider == NULL || it->key == NULL) {
		free((char *)it->provider);
		free((char *)it->key);
		return;
	}
	m->n++;
}

static void
records_audited(struct request *r, uint64_t index, void *arg)
{
	struct records_push *p = arg;
	const char *text = p->previous ? p->previous : p->response_text;

	records_mark(p, index);
	/* The stored answer as it was first sent, byte for byte. */
	request_reply_json_text(r, 202, text, strlen(text));
	records_free(p);
}

static void
records_audit(struct records_push *p)
{
	struct audit_entry e;
	const char **names;

	push_audit_entry(&p->push, &e, &names);
	/* Queued before the denials, so the log reads in order. */
	request_audit_owned(p->r, &e, records_audited, p, records_free);
	free(names);
	if (p->previous == NULL)
		push_audit_skips(&p->push, p->r->gw->audit, p->r->base,
		    p->r->id);
}

/* Replies to a push the store did not take: a replay, a reused key or a
 * store failure. */
static void
records_refused(struct records_push *p, struct store_push_result *res)
{
	if (res->status == STORE_CONFLICT && res->same && !res->audited) {
		p->previous = res->previous;
		res->previous = NULL;
		records_audit(p);
		return;
	}
	if (res->status == STORE_CONFLICT && res->same)
		request_reply_json_text(p->r, 202, res->previous,
		    strlen(res->previous));
	else if (res->status == STORE_CONFLICT)
		request_reply_problem(p->r, 409, NULL, "idempotency_key was already "
		    "used for another record");
	else
		request_reply_problem(p->r, 503, NULL, "the store is unavailable");
	records_free(p);
}

size_t
api_records_pending(struct event_base *base)
{
	size_t n = atomic_load(&records_pending);

	pthread_mutex_lock(&records_shared.mu);
	n += records_shared.committer == base;
	pthread_mutex_unlock(&records_shared.mu);
	return n + (records_own.committer == base);
}

/* Answers one worker's pushes of a commit (a list through next), on that
 * worker's loop. */
static void
records_answer(evutil_socket_t fd, short what, void *arg)
{
	struct records_push *p = arg, *next;
	atomic_size_t *pending = p->pending;
	size_t n = 0;

	for (; p != NULL; p = next, n++) {
		next = p->next;
		if (p->res.status == STORE_OK)
			records_audit(p);
		else
			records_refused(p, &p->res);
	}
	atomic_fetch_sub(pending, n);
}

/* A list records_answer cannot run on its loop: the requests stay
 * unanswered until the drain answers them 503 (their memory is plain
 * memory, freed here). */
static void
records_answer_lost(struct records_push *p)
{
	atomic_size_t *pending = p->pending;
	struct records_push *next;
	size_t n = 0;

	for (; p != NULL; p = next, n++) {
		next = p->next;
		records_free(p);
	}
	atomic_fetch_sub(pending, n);
}

/* Sends each worker its pushes' results: one callback for each other
 * worker's, then this loop's at once. */
static void
records_dispatch(struct event_base *mine, struct records_push **items,
    size_t n)
{
	struct records_push *own = NULL;

	for (size_t i = 0; i < n; i++) {
		struct records_push *head = items[i], **tail;
		struct event_base *base;

		if (head == NULL)
			continue;
		base = head->r->base;
		tail = &head->next;
		for (size_t j = i + 1; j < n; j++) {
			if (items[j] == NULL || items[j]->r->base != base)
				continue;
			*tail = items[j];
			tail = &items[j]->next;
			items[j] = NULL;
		}
		*tail = NULL;
		if (base == mine)
			own = head;
		else if (event_base_once(base, -1, EV_TIMEOUT, records_answer,
		    head, NULL) != 0) {
			/* As the audit log does: they wait for the drain. */
			log_error("push: cannot answer a worker's pushes");
			records_answer_lost(head);
		}
	}
	if (own != NULL)
		records_answer(-1, 0, own);
}

/* The committer's turn: one transaction for every push of the queue, arg. */
static void
records_flush(evutil_socket_t fd, short what, void *arg)
{
	struct records_queue *q = arg;
	struct event_base *mine;
	struct records_push **items;
	struct store_push *pushes;
	struct store_push_result *res;
	size_t n;

	pthread_mutex_lock(&q->mu);
	mine = q->committer;
	items = q->items;
	n = q->n;
	q->items = NULL;
	q->n = q->cap = 0;
	pthread_mutex_unlock(&q->mu);
	pushes = calloc(n, sizeof(*pushes));
	res = calloc(n, sizeof(*res));
	for (size_t i = 0; pushes != NULL && i < n; i++)
		pushes[i] = items[i]->stored;
	if (pushes != NULL && res != NULL)
		store_record_accept(q->store, pushes, n, res, NULL);
	for (size_t i = 0; i < n; i++)
		items[i]->res = res != NULL && pushes != NULL ? res[i] :
		    (struct store_push_result){ .status = STORE_ERROR };
	free(pushes);
	free(res);
	records_dispatch(mine, items, n);
	free(items);
	/* What arrived meanwhile is committed in this loop's next turn. */
	pthread_mutex_lock(&q->mu);
	if (q->n == 0) {
		q->committer = NULL;
	} else if (event_base_once(mine, -1, EV_TIMEOUT, records_flush, q,
	    NULL) != 0) {
		log_error("push: %zu pushes wait for the next one", q->n);
		q->committer = NULL;
	}
	pthread_mutex_unlock(&q->mu);
}

/* Adds p to its queue; the first push of an empty queue makes this
 * worker's loop its committer. 0, or -1 with p not queued. */
static int
records_enqueue(struct records_push *p)
{
	struct request *r = p->r;
	struct records_queue *q = store_one_writer(r->store) ?
	    &records_shared : &records_own;
	int rc = 0;

	pthread_mutex_lock(&q->mu);
	if (q->n == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 64;
		struct records_push **grown = reallocarray(q->items, ncap,
		    sizeof(*grown));

		if (grown != NULL) {
			q->items = grown;
			q->cap = ncap;
		}
	}
	if (q->n == q->cap)
		rc = -1;
	else if (q->committer == NULL && event_base_once(r->base, -1,
	    EV_TIMEOUT, records_flush, q, NULL) != 0)
		rc = -1;
	if (rc == 0) {
		if (q->committer == NULL) {
			q->committer = r->base;
			q->store = r->store;
		}
		q->items[q->n++] = p;
		p->pending = &records_pending;
		atomic_fetch_add(&records_pending, 1);
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

/* Prepares what the store keeps and queues it; 0, or -1 after replying
 * 503. */
static int
records_submit(struct records_push *p, const char *key)
{
	struct request *r = p->r;

	if (push_prepare(&p->push) != 0) {
		request_reply_problem(r, 503, NULL, "out of memory");
		return -1;
	}
	/* What json_dumps gives for {"id", "deliveries"}: an id is hex. */
	snprintf(p->response_text, sizeof(p->response_text),
	    "{\"id\":\"%s\",\"deliveries\":%zu}", p->push.record_id,
	    p->push.nsubscribers);
	jsonutil_sha256_hex(r->body, p->request_sha256);
	p->key = key;
	push_store_entry(&p->push, key, p->request_sha256, p->response_text,
	    &p->stored);
	/* Its deliveries continue this request's trace. */
	trace_format(&r->trace, p->traceparent);
	p->stored.traceparent = p->traceparent;
	if (records_enqueue(p) != 0) {
		request_reply_problem(r, 503, NULL, "out of memory");
		return -1;
	}
	return 0;
}

/* Checks the body and maps the record; 0, or -1 after replying. */
static int
records_parse(struct records_push *p, const char **local_id, const char **key)
{
	struct request *r = p->r;
	json_t *raw = json_object_get(r->body, "record");
	const char *dataset;
	char err[512];

	if (api_body_string(r, "subject", 1, local_id) != 0 ||
	    api_body_string(r, "dataset", 1, &dataset) != 0 ||
	    api_body_string(r, "idempotency_key", 0, key) != 0 ||
	    api_dataset(r, dataset, &p->push.ds) != 0)
		return -1;
	if (!json_is_object(raw)) {
		request_reply_problem(r, 400, NULL, "\"record\" must be a JSON "
		    "object");
		return -1;
	}
	if (!subscription_is_provider(r->cfg, r->caller, p->push.ds)) {
		request_reply_problem(r, 403, "no_policy", "no subscription or "
		    "policy names you as a provider of dataset %s",
		    p->push.ds->name);
		return -1;
	}
	if (push_map(&p->push, raw, err, sizeof(err)) != 0) {
		request_reply_problem(r, 422, NULL, "%s", err);
		return -1;
	}
	return 0;
}

void
api_records_post(struct request *r)
{
	struct records_push *p = calloc(1, sizeof(*p));
	const char *local_id, *key;

	if (p == NULL) {
		request_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	p->r = r;
	p->push.cfg = r->cfg;
	p->push.provider = r->caller;
	if (records_parse(p, &local_id, &key) != 0 ||
	    api_subject(r, local_id, p->push.subject, p->push.view_key) != 0)
		goto done;
	if (push_route(&p->push, r->store) != 0) {
		request_reply_problem(r, 503, NULL, "the store is unavailable");
		goto done;
	}
	if (records_submit(p, key) == 0)
		return;
done:
	records_free(p);
}
