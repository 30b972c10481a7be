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
 * Group commit: pushes that arrive on a worker in the same turn of its
 * loop are stored in one transaction, at the end of that turn. SQLite has
 * one writer; a commit per push would make every worker queue for it. */
#include <event2/event.h>
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
};

/* The pushes of this worker waiting for the end of the loop's turn. */
struct records_batch {
	struct records_push **items;
	size_t n, cap;
};

static _Thread_local struct records_batch records_batch;

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

/* End of the loop's turn: one transaction for the whole batch. */
static void
records_flush(evutil_socket_t fd, short what, void *arg)
{
	/* The batch is taken whole (and its array freed below), so that no
	 * memory outlives the worker thread. */
	struct records_push **items = records_batch.items;
	size_t n = records_batch.n;
	struct store_push *pushes = calloc(n, sizeof(*pushes));
	struct store_push_result *res = calloc(n, sizeof(*res));

	memset(&records_batch, 0, sizeof(records_batch));
	for (size_t i = 0; pushes != NULL && i < n; i++)
		pushes[i] = items[i]->stored;
	if (pushes != NULL && res != NULL)
		store_record_accept(items[0]->r->store, pushes, n, res, NULL);
	for (size_t i = 0; i < n; i++) {
		if (res != NULL && res[i].status == STORE_OK)
			records_audit(items[i]);
		else
			records_refused(items[i], res ? &res[i] :
			    &(struct store_push_result){ .status = STORE_ERROR });
		if (res != NULL)
			free(res[i].previous);
	}
	free(pushes);
	free(res);
	free(items);
}

/* Prepares what the store keeps and adds it to this worker's batch; 0, or
 * -1 after replying 503. */
static int
records_queue(struct records_push *p, const char *key)
{
	struct records_batch *b = &records_batch;
	struct request *r = p->r;
	int ok = push_prepare(&p->push) == 0;

	/* What json_dumps gives for {"id", "deliveries"}: an id is hex. */
	snprintf(p->response_text, sizeof(p->response_text),
	    "{\"id\":\"%s\",\"deliveries\":%zu}", p->push.record_id,
	    p->push.nsubscribers);
	jsonutil_sha256_hex(r->body, p->request_sha256);
	if (b->n == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 64;
		struct records_push **grown = reallocarray(b->items, ncap,
		    sizeof(*grown));

		if (grown != NULL) {
			b->items = grown;
			b->cap = ncap;
		}
	}
	if (!ok || b->n == b->cap ||
	    (b->n == 0 && event_base_once(r->base, -1, EV_TIMEOUT, records_flush,
	    NULL, NULL) != 0)) {
		request_reply_problem(r, 503, NULL, "out of memory");
		return -1;
	}
	p->key = key;
	push_store_entry(&p->push, key, p->request_sha256, p->response_text,
	    &p->stored);
	/* Its deliveries continue this request's trace. */
	trace_format(&r->trace, p->traceparent);
	p->stored.traceparent = p->traceparent;
	b->items[b->n++] = p;
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
	if (records_queue(p, key) == 0)
		return;
done:
	records_free(p);
}
