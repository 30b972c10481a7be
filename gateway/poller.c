/* poller.c — polling sources (see poller.h). */
#include "poller.h"

#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "push.h"
#include "trace.h"

/* A polled service's state; kept across reloads. */
struct poller_state {
	char *service;
	int64_t due_mono;            /* next poll (monotonic ms) */
	int inflight;
};

struct poller {
	struct store *store;
	struct audit *audit;
	struct event_base *base;
	struct poller_state **states;
	size_t nstates;
	int busy;
};

/* One poll in flight. */
struct poller_call {
	struct poller *pl;
	struct poller_state *state;
	const struct config *cfg;
	const struct config_service *svc;
	char *cursor;                /* the stored cursor it started from */
	struct trace trace;          /* a poll starts a trace; its records keep it */
	char traceparent[TRACE_HEADER_LEN];
	int64_t started_us;
	poller_release_fn release;
	void *arg;
};

struct poller *
poller_new(struct store *st, struct audit *a, struct event_base *base)
{
	struct poller *pl = calloc(1, sizeof(*pl));

	if (pl == NULL)
		return NULL;
	pl->store = st;
	pl->audit = a;
	pl->base = base;
	return pl;
}

void
poller_free(struct poller *pl)
{
	if (pl == NULL)
		return;
	for (size_t i = 0; i < pl->nstates; i++) {
		free(pl->states[i]->service);
		free(pl->states[i]);
	}
	free(pl->states);
	free(pl);
}

int
poller_busy(const struct poller *pl)
{
	return pl->busy;
}

static struct poller_state *
poller_state_get(struct poller *pl, const char *service)
{
	struct poller_state *ps, **grown;

	for (size_t i = 0; i < pl->nstates; i++)
		if (strcmp(pl->states[i]->service, service) == 0)
			return pl->states[i];
	grown = reallocarray(pl->states, pl->nstates + 1, sizeof(*grown));
	if (grown == NULL)
		return NULL;
	pl->states = grown;
	if ((ps = calloc(1, sizeof(*ps))) == NULL ||
	    (ps->service = strdup(service)) == NULL) {
		free(ps);
		return NULL;
	}
	pl->states[pl->nstates++] = ps;
	return ps;
}

static void
poller_call_free(evutil_socket_t fd, short what, void *arg)
{
	struct poller_call *c = arg;

	c->pl->busy--;
	c->release(c->arg);
	free(c->cursor);
	free(c);
}

/* Lets go of the call from the loop, not from inside the connector's
 * callback: the release may destroy the connector instance. */
static void
poller_call_end(struct poller_call *c, int64_t next_in_ms)
{
	c->state->inflight = 0;
	c->state->due_mono = clock_mono_ms() + next_in_ms;
	if (event_base_once(c->pl->base, -1, EV_TIMEOUT, poller_call_free, c,
	    NULL) != 0)
		poller_call_free(-1, 0, c);
}

/* Maps and routes one change into p; 0, or -1 if it is skipped (logged:
 * there is nobody to answer). */
static int
poller_change(struct poller_call *c, const json_t *change, struct push *p)
{
	const char *local_id = json_string_value(json_object_get(change, "local_id"));
	const json_t *raw = json_object_get(change, "record");
	char err[512];
	enum store_status st;

	p->cfg = c->cfg;
	p->provider = c->svc;
	p->ds = c->svc->connector->poll.dataset;
	if (local_id == NULL || !json_is_object(raw)) {
		log_warn("poll %s: a change without local_id or record skipped",
		    c->svc->id);
		return -1;
	}
	st = store_link_subject(c->pl->store, c->svc->id, local_id, p->subject,
	    p->view_key);
	if (st == STORE_NOT_FOUND) {
		log_warn("poll %s: a change for an unlinked subject skipped",
		    c->svc->id);
		return -1;
	}
	if (st != STORE_OK)
		return -2;
	if (push_map(p, raw, err, sizeof(err)) != 0) {
		log_warn("poll %s: a change skipped: %s", c->svc->id, err);
		return -1;
	}
	if (push_route(p, c->pl->store) != 0 || push_prepare(p) != 0)
		return -2;
	return 0;
}

static void
poller_audit_ignored(int status, uint64_t index, void *arg)
{
	if (status != 0)
		log_error("poll: a push entry could not be audited");
}

/* The records are stored before they are audited, as for a push over
 * HTTP; nobody waits for an answer here. */
static void
poller_audit(struct poller_call *c, const struct push *p)
{
	struct audit_entry e;
	const char **names;

	push_audit_entry(p, &e, &names);
	audit_append_async(c->pl->audit, &e, c->pl->base, poller_audit_ignored,
	    NULL);
	free(names);
	push_audit_skips(p, c->pl->audit, c->pl->base, NULL);
}

/* Accepts the changes and stores the cursor after them, in one
 * transaction. 0, or -1 to ask again later. */
static int
poller_accept(struct poller_call *c, const json_t *changes, const char *next)
{
	size_t n = json_array_size(changes), kept = 0;
	struct push *pushes = calloc(n + 1, sizeof(*pushes));
	struct store_push *stored = calloc(n + 1, sizeof(*stored));
	struct store_push_result *res = calloc(n + 1, sizeof(*res));
	struct store_cursor cursor = { c->svc->id, next };
	/* No cursor back: the connector keeps none; store nothing for it. */
	const struct store_cursor *after = next != NULL ? &cursor : NULL;
	int rc = -1;

	if (pushes == NULL || stored == NULL || res == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		int r = poller_change(c, json_array_get(changes, i), &pushes[kept]);

		if (r == -2)
			goto out;
		if (r == 0) {
			/* No idempotency key: the cursor is what keeps a
			 * change from being accepted twice. */
			push_store_entry(&pushes[kept], NULL, NULL, NULL,
			    &stored[kept]);
			stored[kept].traceparent = c->traceparent;
			kept++;
		} else {
			push_clear(&pushes[kept]);
		}
	}
	if (store_record_accept(c->pl->store, stored, kept, res, after)
	    != STORE_OK)
		goto out;
	for (size_t i = 0; i < kept; i++)
		poller_audit(c, &pushes[i]);
	if (kept > 0)
		log_info("poll %s: %zu changes accepted", c->svc->id, kept);
	rc = 0;
out:
	/* kept <= n: the array has room for the one being filled. */
	for (size_t i = 0; pushes != NULL && i <= kept; i++)
		push_clear(&pushes[i]);
	free(pushes);
	free(stored);
	free(res);
	return rc;
}

/* The context of a poll's log lines: the trace it started, which its
 * records keep. */
static void
poller_log_enter(const struct poller_call *c, struct log_context *prev)
{
	struct log_context ctx = { .request_id = "" };

	memcpy(ctx.trace_id, c->trace.trace_id, sizeof(c->trace.trace_id));
	log_context_set(&ctx, prev);
}

static void
poller_answered(struct poller_call *c, const struct connector_result *res)
{
	int64_t interval = c->svc->connector->poll.interval_ms;
	json_t *changes;

	metrics_connector(c->svc->id, METRICS_CHANGES, res->status,
	    clock_mono_us() - c->started_us);
	if (res->status != CONNECTOR_OK) {
		log_warn("poll %s trace %s: %s", c->svc->id, c->trace.trace_id, res->detail ? res->detail :
		    "the service failed");
		poller_call_end(c, interval);
		return;
	}
	changes = json_loadb(res->body ? res->body : "", res->body_len, 0, NULL);
	if (!json_is_array(changes)) {
		log_warn("poll %s: the changes are not a JSON array", c->svc->id);
		json_decref(changes);
		poller_call_end(c, interval);
		return;
	}
	if (poller_accept(c, changes, res->next_cursor) != 0) {
		log_error("poll %s: changes not stored; asking again later",
		    c->svc->id);
		json_decref(changes);
		poller_call_end(c, interval);
		return;
	}
	/* An answer with changes may have more behind it: ask again at once. */
	poller_call_end(c, json_array_size(changes) > 0 ? 0 : interval);
	json_decref(changes);
}

static void
poller_done(const struct connector_result *res, void *arg)
{
	struct log_context prev;

	poller_log_enter(arg, &prev);
	poller_answered(arg, res);
	log_context_set(&prev, NULL);
}

int
poller_source(struct poller *pl, const struct config *cfg,
    const struct config_service *svc, void *inst, poller_release_fn release,
    void *arg)
{
	struct poller_state *ps = poller_state_get(pl, svc->id);
	struct connector_request req = { 0 };
	char traceparent[TRACE_HEADER_LEN];
	struct log_context prev;
	struct poller_call *c;
	enum store_status st;

	if (ps == NULL || ps->inflight || clock_mono_ms() < ps->due_mono ||
	    (c = calloc(1, sizeof(*c))) == NULL)
		return 0;
	st = store_poll_cursor(pl->store, svc->id, &c->cursor);
	if (st != STORE_OK && st != STORE_NOT_FOUND) {
		free(c);
		return 0;
	}
	c->pl = pl;
	c->state = ps;
	c->cfg = cfg;
	c->svc = svc;
	c->release = release;
	c->arg = arg;
	ps->inflight = 1;
	pl->busy++;
	req.dataset = svc->connector->poll.dataset->name;
	req.request_id = "poll";
	req.cursor = c->cursor != NULL && c->cursor[0] ? c->cursor : NULL;
	trace_continue(&c->trace, NULL);
	trace_format(&c->trace, c->traceparent);
	trace_child(&c->trace, traceparent);
	req.traceparent = traceparent;
	c->started_us = clock_mono_us();
	poller_log_enter(c, &prev);
	/* A connector may answer at once, freeing c: prev is a copy. */
	svc->connector->ops->changes(inst, &req, poller_done, c);
	log_context_set(&prev, NULL);
	return 1;
}
