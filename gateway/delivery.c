/* delivery.c — the outbox worker (see delivery.h and docs/delivery.md).
 *
 * A job is one delivery in flight. It goes: taken (the store marks it
 * sending) → policy, link and mapping checked again → its `deliver` entry
 * made durable → pushed → outcome stored → freed. Nothing reaches a
 * subscriber before its entry: while the audit log cannot write, no
 * delivery is taken. One entry covers every try of the same payload; the
 * stored outcome remembers its index, so a retry sends without a new
 * entry (a crash before the outcome is stored costs a second entry, never
 * none). A delivery refused before the push (denied, dead) is audited with
 * its outcome instead. Only the stored outcome releases its (subscriber,
 * subject, dataset) chain, so the next version of a record is never sent
 * before the previous one's fate is on disk, and a crash at any step
 * before that sends the same delivery again with the same Idempotency-Key.
 *
 * Each subscriber gets its own share of the worker: at most `concurrency`
 * jobs in flight, and a circuit breaker that stops taking its deliveries
 * while it is down. Deliveries are taken per subscriber, so a slow or dead
 * one never holds up the others. */
#include "delivery.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "audit.h"
#include "clock.h"
#include "jcs.h"
#include "jsonload.h"
#include "jsonutil.h"
#include "log.h"
#include "metrics.h"
#include "mapping.h"
#include "metrics.h"
#include "poller.h"
#include "retention.h"
#include "snapshot.h"
#include "subscription.h"
#include "trace.h"

#define DELIVERY_POLL_MS 10          /* how often due deliveries are looked for */
#define DELIVERY_STORE_RETRY_MS 200  /* after a store error */
#define DELIVERY_DRAIN_MS 10000      /* grace period at stop */
#define DELIVERY_AUDIT_WAIT_MS 200   /* between looks at a failed audit log */
/* How long a delivery taken stays this node's on a store several nodes
 * share (store_outbox_node): past it, after a crash, another node sends
 * it. Longer than a store call may take (store_pg.c's deadline), so that
 * a slow call does not cost a live node its leases. */
#define DELIVERY_LEASE_MS 8000

/* A subscriber's share of the worker; kept across reloads. */
struct delivery_sub {
	char *id;
	int inflight;
	int failures;                /* transient failures in a row */
	int64_t open_until;          /* circuit open until (monotonic ms); 0: closed */
	int probing;                 /* half open: the one probe is in flight */
};

struct delivery_job {
	TAILQ_ENTRY(delivery_job) link;
	struct delivery *dl;
	struct snapshot *snap;       /* held while the job lives */
	struct delivery_sub *sub;
	int probe;                   /* the circuit's half-open probe */
	int pushed;                  /* bytes may have gone out */
	int64_t pushed_us;           /* when the push was sent */
	char trace_id[TRACE_ID_LEN]; /* the attempt's, for its log lines */
	struct store_delivery row;
	const struct config_service *svc, *provider;
	const struct config_dataset *ds;
	struct policy_decision dec;
	json_t *granted;             /* the attributes sent, dataset names */
	char *local_id;
	char *body;                  /* JCS, in the subscriber's field names */
	char body_sha256[65];        /* what its deliver entry commits to */
	/* The outcome: audited, then stored. */
	struct store_delivery_outcome out;
	const char *reason;           /* static; NULL when delivered */
	char error[256];
};

TAILQ_HEAD(delivery_jobs, delivery_job);

struct delivery {
	struct gateway *gw;
	pthread_t thread;
	struct event_base *base;
	struct store *store;
	struct event *tick_ev;
	pthread_mutex_t lock;        /* guards next_cfg */
	struct config *next_cfg;
	struct snapshot *snap;       /* the current config, held */
	struct delivery_sub **subs;
	size_t nsubs;
	struct delivery_jobs jobs;   /* pushed or being audited */
	struct delivery_jobs done;   /* audited; outcome not stored yet */
	struct poller *poller;       /* the polled sources, on this loop too */
	struct retention *retention; /* the purge, on this loop too */
	int audit_down;              /* deliveries wait for the audit log */
	int more;                    /* the last take may have left some due */
	int stopping;
	int64_t drain_deadline;
};

/* ---- snapshots and subscribers ----------------------------------------- */

/* Moves to the configuration handed over by delivery_swap_config. */
static void
delivery_refresh(struct delivery *dl)
{
	struct snapshot *snap;
	struct config *cfg;

	pthread_mutex_lock(&dl->lock);
	cfg = dl->next_cfg;
	dl->next_cfg = NULL;
	pthread_mutex_unlock(&dl->lock);
	if (cfg == NULL)
		return;
	if ((snap = snapshot_new(cfg, dl->base)) == NULL) {
		log_error("delivery: out of memory; keeping the old configuration");
		return;
	}
	snapshot_release(dl->snap);
	dl->snap = snap;
}

static struct delivery_sub *
delivery_sub_get(struct delivery *dl, const char *id)
{
	struct delivery_sub *sub, **grown;

	for (size_t i = 0; i < dl->nsubs; i++)
		if (strcmp(dl->subs[i]->id, id) == 0)
			return dl->subs[i];
	grown = reallocarray(dl->subs, dl->nsubs + 1, sizeof(*grown));
	if (grown == NULL)
		return NULL;
	dl->subs = grown;
	if ((sub = calloc(1, sizeof(*sub))) == NULL ||
	    (sub->id = strdup(id)) == NULL) {
		free(sub);
		return NULL;
	}
	dl->subs[dl->nsubs++] = sub;
	metrics_circuit(sub->id, METRICS_CIRCUIT_CLOSED);
	return sub;
}

/* How many more deliveries the subscriber may have in flight now. An open
 * circuit takes none until its cooldown ends, then one probe. */
static int
delivery_capacity(const struct delivery_sub *sub,
    const struct config_delivery *cd, int64_t now_mono, int *probe)
{
	*probe = 0;
	if (sub->open_until != 0) {
		if (now_mono < sub->open_until || sub->probing || sub->inflight > 0)
			return 0;
		*probe = 1;
		return 1;
	}
	return cd->concurrency > sub->inflight ? cd->concurrency - sub->inflight : 0;
}

static void
delivery_circuit(struct delivery_job *job, int ok)
{
	struct delivery_sub *sub = job->sub;
	const struct config_delivery *cd = &job->svc->delivery;

	if (ok) {
		if (sub->open_until != 0)
			log_info("delivery: %s answers again; circuit closed",
			    sub->id);
		sub->failures = 0;
		sub->open_until = 0;
		metrics_circuit(sub->id, METRICS_CIRCUIT_CLOSED);
		return;
	}
	sub->failures++;
	if (job->probe || (sub->open_until == 0 &&
	    sub->failures >= cd->circuit_threshold)) {
		if (sub->open_until == 0)
			log_warn("delivery: %s failed %d times in a row; circuit "
			    "open", sub->id, sub->failures);
		sub->open_until = clock_mono_ms() + cd->circuit_cooldown_ms;
		metrics_circuit(sub->id, METRICS_CIRCUIT_OPEN);
	}
}

/* ---- one job ------------------------------------------------------------- */

static void
delivery_job_free(struct delivery_job *job)
{
	job->sub->inflight--;
	/* A probe that ended without an answer (denied, or never pushed)
	 * leaves the circuit open for the next one. */
	if (job->probe) {
		job->sub->probing = 0;
		if (job->sub->open_until != 0)
			metrics_circuit(job->sub->id, METRICS_CIRCUIT_OPEN);
	}
	snapshot_release(job->snap);
	store_delivery_clear(&job->row);
	policy_decision_clear(&job->dec);
	json_decref(job->granted);
	free(job->local_id);
	free(job->body);
	free(job);
}

static void delivery_schedule(struct delivery *dl, int64_t ms);

/* Queues the outcome for the next tick, which stores it. */
static void
delivery_job_done(struct delivery_job *job)
{
	struct delivery *dl = job->dl;

	TAILQ_REMOVE(&dl->jobs, job, link);
	TAILQ_INSERT_TAIL(&dl->done, job, link);
	delivery_schedule(dl, 0);
}

/* Nothing was attempted (the store failed before the push): try again
 * later, unaudited, with the attempt not counted. */
static void
delivery_job_later(struct delivery_job *job, const char *why)
{
	job->out.state = STORE_DELIVERY_PENDING;
	job->out.attempts = job->row.attempts;
	job->out.due_ms = clock_now_ms() + job->svc->delivery.base_ms;
	snprintf(job->error, sizeof(job->error), "%s", why);
	job->out.error = job->error;
	delivery_job_done(job);
}

static void
delivery_job_audited(int status, uint64_t index, void *arg)
{
	struct delivery_job *job = arg;

	if (status != 0) {
		log_ratelimited(LOG_LEVEL_ERROR, "delivery %s: the audit log "
		    "failed; the outcome is not kept and the delivery will be sent again", job->row.id);
		delivery_job_later(job, "audit log unavailable");
		return;
	}
	delivery_job_done(job);
}

/* Appends the job's `deliver` entry; done gets job. */
static void
delivery_job_append(struct delivery_job *job, enum audit_decision decision,
    const char *reason, audit_done_fn done)
{
	size_t n;
	const char **names = jsonutil_keys(job->granted, &n);
	struct audit_entry e = policy_audit_entry(AUDIT_DELIVER, &job->dec);

	e.consumer = job->row.subscriber;
	e.provider = job->row.rec.provider;
	e.dataset = job->row.rec.dataset;
	e.attributes = names;
	e.nattributes = n;
	e.subject = job->row.rec.subject;
	e.view_key = job->row.rec.view_key;
	e.decision = decision;
	e.reason = reason;
	/* No request_id: the delivery id is the Idempotency-Key the
	 * subscriber sees, and no id a service saw goes into an entry. */
	e.payload = job->body;
	audit_append_async(job->dl->gw->audit, &e, job->dl->base, done, job);
	free(names);
}

/* Stores the outcome set in job->out: at once after a push (its entry was
 * written before it), else once audited. */
static void
delivery_job_finish(struct delivery_job *job, enum store_delivery_state state,
    const char *reason, const char *error)
{
	job->out.state = state;
	job->reason = reason;
	if (error != NULL) {
		snprintf(job->error, sizeof(job->error), "%s", error);
		job->out.error = job->error;
	}
	if (job->pushed) {
		delivery_job_done(job);
		return;
	}
	delivery_job_append(job, state == STORE_DELIVERY_DENIED ? AUDIT_DENY :
	    AUDIT_ALLOW, reason, delivery_job_audited);
}

/* Full jitter: a uniform delay in [0, min(cap, base * 2^(attempts-1))]. */
static int64_t
delivery_backoff(const struct config_delivery *cd, int attempts)
{
	int64_t ceiling = cd->base_ms;

	for (int i = 1; i < attempts && ceiling < cd->cap_ms; i++)
		ceiling *= 2;
	if (ceiling > cd->cap_ms)
		ceiling = cd->cap_ms;
	return (int64_t)arc4random_uniform((uint32_t)ceiling + 1);
}

static void
delivery_job_failed(struct delivery_job *job, const char *detail)
{
	const struct config_delivery *cd = &job->svc->delivery;
	int64_t now = clock_now_ms();

	job->out.attempts = job->row.attempts + 1;
	if (job->out.attempts >= cd->max_attempts ||
	    now - job->row.since_ms >= cd->max_age_ms) {
		delivery_job_finish(job, STORE_DELIVERY_DEAD, "dead_letter", detail);
		return;
	}
	job->out.due_ms = now + delivery_backoff(cd, job->out.attempts);
	delivery_job_finish(job, STORE_DELIVERY_PENDING, "retry", detail);
}

/* What a failed push's outcome keeps of the answer. */
static void
delivery_detail(const struct connector_result *res, char *detail, size_t len)
{
	if (res->http_status)
		snprintf(detail, len, "HTTP %d%s%.120s", res->http_status,
		    res->detail ? ": " : "", res->detail ? res->detail : "");
	else
		snprintf(detail, len, "%.150s",
		    res->detail ? res->detail : "no answer");
}

/* Whether a failed push is worth another try. Contract section 4: a 4xx
 * other than 409 is dead at once, 429 too, though a connector may read
 * 429 as "later" (a fetch then fails with 502 like any retryable
 * answer). */
static int
delivery_retryable(const struct connector_result *res)
{
	if (res->http_status >= 400 && res->http_status < 500)
		return 0;
	return res->status == CONNECTOR_RETRY || res->status == CONNECTOR_TIMEOUT;
}

/* The context of job's log lines: the delivery id, which the subscriber
 * gets as X-Request-Id, and the trace of the attempt. */
static void
delivery_log_enter(const struct delivery_job *job, struct log_context *prev)
{
	struct log_context ctx;

	_Static_assert(sizeof(job->row.id) <= sizeof(ctx.request_id) &&
	    sizeof(job->trace_id) <= sizeof(ctx.trace_id),
	    "the ids fit the log context");
	memcpy(ctx.request_id, job->row.id, sizeof(job->row.id));
	memcpy(ctx.trace_id, job->trace_id, sizeof(job->trace_id));
	log_context_set(&ctx, prev);
}

static void
delivery_job_outcome(struct delivery_job *job,
    const struct connector_result *res)
{
	char detail[160];

	metrics_connector(job->svc->id, METRICS_PUSH, res->status,
	    clock_mono_us() - job->pushed_us);
	log_debug("delivery %s: %s answered %s (HTTP %d) at attempt %d",
	    job->row.id, job->svc->id, metrics_connector_name(res->status),
	    res->http_status, job->row.attempts + 1);
	if (res->status == CONNECTOR_OK || res->status == CONNECTOR_CONFLICT) {
		delivery_circuit(job, 1);
		job->out.attempts = job->row.attempts + 1;
		delivery_job_finish(job, STORE_DELIVERY_DELIVERED, NULL, NULL);
		return;
	}
	delivery_detail(res, detail, sizeof(detail));
	if (delivery_retryable(res)) {
		delivery_circuit(job, 0);
		delivery_job_failed(job, detail);
		return;
	}
	/* The service answered, so it is up; retrying cannot help. */
	delivery_circuit(job, 1);
	job->out.attempts = job->row.attempts + 1;
	delivery_job_finish(job, STORE_DELIVERY_DEAD, "dead_letter", detail);
}

static void
delivery_job_pushed(const struct connector_result *res, void *arg)
{
	struct log_context prev;

	delivery_log_enter(arg, &prev);
	delivery_job_outcome(arg, res);
	log_context_set(&prev, NULL);
}

static void *
delivery_connector(struct delivery_job *job, const struct connector_ops **ops,
    char *err, size_t errlen)
{
	if (job->svc->connector == NULL) {
		snprintf(err, errlen, "the service has no connector");
		return NULL;
	}
	*ops = job->svc->connector->ops;
	if ((*ops)->push == NULL) {
		snprintf(err, errlen, "its %s connector cannot push", (*ops)->name);
		return NULL;
	}
	return snapshot_connector(job->snap, job->svc, ops, err, errlen);
}

static void
delivery_job_push(struct delivery_job *job)
{
	const struct connector_ops *ops;
	struct connector_request creq = { 0 };
	char err[256], traceparent[TRACE_HEADER_LEN];
	struct log_context prev;
	struct trace trace;
	void *inst;

	if ((inst = delivery_connector(job, &ops, err, sizeof(err))) == NULL) {
		delivery_job_finish(job, STORE_DELIVERY_DEAD, "dead_letter", err);
		return;
	}
	creq.local_id = job->local_id;
	creq.dataset = job->ds->name;
	creq.request_id = job->row.id;
	creq.idempotency_key = job->row.id;
	creq.body = job->body;
	creq.body_len = strlen(job->body);
	/* Each attempt is a span of the trace of the push that brought the
	 * record; a record without one (polled, or stored before traces)
	 * starts a trace per attempt. */
	trace_continue(&trace, job->row.rec.traceparent);
	trace_format(&trace, traceparent);
	creq.traceparent = traceparent;
	memcpy(job->trace_id, trace.trace_id, sizeof(job->trace_id));
	delivery_log_enter(job, &prev);
	log_debug("delivery %s trace %s: pushing %s to %s (%s connector), "
	    "attempt %d", job->row.id, trace.trace_id, job->ds->name,
	    job->svc->id, ops->name, job->row.attempts + 1);
	job->pushed_us = clock_mono_us();
	job->pushed = 1;
	/* A connector may answer at once, freeing job: prev is a copy. */
	ops->push(inst, &creq, delivery_job_pushed, job);
	log_context_set(&prev, NULL);
}

static void
delivery_job_intended(int status, uint64_t index, void *arg)
{
	struct delivery_job *job = arg;

	if (status != 0) {
		delivery_job_later(job, "audit log unavailable");
		return;
	}
	job->out.audit_index = (int64_t)index;
	job->out.audit_sha256 = job->body_sha256;
	delivery_job_push(job);
}

/* Makes the `deliver` entry durable, then pushes. A retry of the payload
 * an earlier entry names reuses it. */
static void
delivery_job_intend(struct delivery_job *job)
{
	if (job->row.audit_index >= 0 &&
	    strcmp(job->row.audit_sha256, job->body_sha256) == 0) {
		delivery_job_push(job);
		return;
	}
	delivery_job_append(job, AUDIT_ALLOW, NULL, delivery_job_intended);
}

/* Checks the policy and the link again and builds the body from the
 * record, parsed (NULL: not JSON); then pushes, or records why not. */
static void
delivery_job_prepare(struct delivery_job *job, const json_t *record)
{
	struct delivery *dl = job->dl;
	const struct store_record *rec = &job->row.rec;
	enum policy_reason why;
	json_t *mapped;
	enum store_status st;
	char err[256];

	/* Every outcome below is audited, under the subject's view key. */
	if (store_record_view_key(dl->store, &job->row.rec) != STORE_OK) {
		delivery_job_later(job, "store unavailable");
		return;
	}
	if (job->ds == NULL || job->provider == NULL ||
	    !subscription_subscribes(job->svc, job->ds, job->provider)) {
		delivery_job_finish(job, STORE_DELIVERY_DENIED, "no_policy",
		    "no longer subscribed");
		return;
	}
	if (record == NULL) {
		delivery_job_finish(job, STORE_DELIVERY_DEAD, "dead_letter",
		    "the stored record is not JSON");
		return;
	}
	why = subscription_filter(dl->store, job->snap->cfg, job->svc,
	    job->provider, job->ds, rec->subject, record, &job->dec, &job->granted);
	if (why == POLICY_STORE_ERROR) {
		delivery_job_later(job, "store unavailable");
		return;
	}
	if (why != POLICY_ALLOW) {
		delivery_job_finish(job, STORE_DELIVERY_DENIED,
		    policy_reason_name(why), policy_reason_name(why));
		return;
	}
	st = store_link_local_id(dl->store, job->svc->id, rec->subject,
	    &job->local_id);
	if (st == STORE_NOT_FOUND) {
		delivery_job_finish(job, STORE_DELIVERY_DENIED,
		    "subject_not_linked", "subject_not_linked");
		return;
	}
	if (st != STORE_OK) {
		delivery_job_later(job, "store unavailable");
		return;
	}
	if (mapping_from_dataset(job->svc->connector, job->ds, job->granted,
	    &mapped, err, sizeof(err)) != 0) {
		delivery_job_finish(job, STORE_DELIVERY_DEAD, "dead_letter", err);
		return;
	}
	/* Canonical: the same version gives the same body on every retry,
	 * and the entry commits to exactly these bytes. */
	job->body = jcs_dump(mapped);
	json_decref(mapped);
	if (job->body == NULL) {
		delivery_job_later(job, "out of memory");
		return;
	}
	jsonutil_text_sha256_hex(job->body, job->body_sha256);
	delivery_job_intend(job);
}

/* Takes over row (its members move into the job); record is its record,
 * parsed. */
static void
delivery_job_start(struct delivery *dl, const struct config_service *svc,
    struct delivery_sub *sub, int probe, struct store_delivery *row,
    const json_t *record)
{
	const struct config *cfg = dl->snap->cfg;
	struct delivery_job *job = calloc(1, sizeof(*job));

	if (job == NULL) {
		/* Left sending; recovered at the next start. */
		log_error("delivery %s: out of memory", row->id);
		store_delivery_clear(row);
		return;
	}
	job->dl = dl;
	job->snap = snapshot_hold(dl->snap);
	job->sub = sub;
	job->probe = probe;
	sub->inflight++;
	if (probe) {
		sub->probing = 1;
		metrics_circuit(sub->id, METRICS_CIRCUIT_HALF_OPEN);
	}
	job->row = *row;
	memset(row, 0, sizeof(*row));
	job->svc = svc;
	job->ds = config_find_dataset(cfg, job->row.rec.dataset);
	job->provider = config_find_service(cfg, job->row.rec.provider);
	job->out.id = job->row.id;
	job->out.seq = job->row.seq;
	job->out.attempts = job->row.attempts;
	job->out.audit_index = job->row.audit_index;
	if (job->row.audit_index >= 0)
		job->out.audit_sha256 = job->row.audit_sha256;
	TAILQ_INSERT_TAIL(&dl->jobs, job, link);
	delivery_job_prepare(job, record);
}

/* ---- the loop ------------------------------------------------------------ */

/* What one subscriber's take gave, started once the batch is stored. */
struct delivery_taken {
	const struct config_service *svc;
	struct delivery_sub *sub;
	int probe;
	struct store_delivery *rows;
	size_t n;
};

/* Takes what the subscriber has room for into *t; 1 if it may have more
 * due. */
static int
delivery_take(struct delivery *dl, const struct config_service *svc,
    struct delivery_taken *t)
{
	struct delivery_sub *sub = delivery_sub_get(dl, svc->id);
	int limit, probe;

	*t = (struct delivery_taken){ .svc = svc, .sub = sub };
	if (sub == NULL)
		return 0;
	limit = delivery_capacity(sub, &svc->delivery, clock_mono_ms(), &probe);
	if (limit == 0)
		return 0;
	if (store_delivery_take(dl->store, svc->id, clock_now_ms(),
	    (size_t)limit, &t->rows, &t->n) != STORE_OK)
		return 0;
	t->probe = probe;
	return t->n == (size_t)limit && !probe;
}

/* Takes for every subscriber that can be pushed to (*taken malloc'd, one
 * per service; NULL when out of memory); 1 if one may have more due.
 * Not only current subscribers: deliveries queued before a reload that
 * ended a subscription are taken too, and denied. */
static int
delivery_take_all(struct delivery *dl, const struct config *cfg,
    struct delivery_taken **taken)
{
	int more = 0;

	if ((*taken = calloc(cfg->nservices, sizeof(**taken))) == NULL)
		return 0;
	for (size_t i = 0; i < cfg->nservices; i++)
		if (subscription_can_push(&cfg->services[i]))
			more |= delivery_take(dl, &cfg->services[i],
			    &(*taken)[i]);
	return more;
}

/* A record version of what was taken, parsed once for all the
 * subscribers it goes to (a push fans out to each in the same take). */
struct delivery_parsed {
	int64_t seq;
	const char *text;            /* borrowed from a taken row */
	json_t *record;              /* NULL: not JSON */
};

static int
delivery_parsed_cmp(const void *a, const void *b)
{
	int64_t x = ((const struct delivery_parsed *)a)->seq;
	int64_t y = ((const struct delivery_parsed *)b)->seq;

	return (x > y) - (x < y);
}

/* The distinct record versions of what was taken, by seq, parsed (*n of
 * them, freed by delivery_parsed_free); NULL when out of memory. */
static struct delivery_parsed *
delivery_parse_taken(const struct delivery_taken *taken, size_t ntaken,
    size_t *n)
{
	struct delivery_parsed *p;
	size_t rows = 0, k = 0;

	*n = 0;
	for (size_t i = 0; i < ntaken; i++)
		rows += taken[i].n;
	if (rows == 0 || (p = calloc(rows, sizeof(*p))) == NULL)
		return NULL;
	for (size_t i = 0; i < ntaken; i++)
		for (size_t j = 0; j < taken[i].n; j++) {
			p[k].seq = taken[i].rows[j].rec.seq;
			p[k++].text = taken[i].rows[j].rec.record;
		}
	qsort(p, rows, sizeof(*p), delivery_parsed_cmp);
	k = 0;
	for (size_t i = 0; i < rows; i++)
		if (k == 0 || p[k - 1].seq != p[i].seq)
			p[k++] = p[i];
	for (size_t i = 0; i < k; i++)
		p[i].record = jsonload_object(p[i].text, strlen(p[i].text), 0,
		    NULL);
	*n = k;
	return p;
}

static void
delivery_parsed_free(struct delivery_parsed *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(p[i].record);
	free(p);
}

/* Starts the jobs of what was taken (stored = 1), or lets go of the rows
 * of a batch that was not stored; frees taken. */
static void
delivery_start_taken(struct delivery *dl, struct delivery_taken *taken,
    size_t n, int stored)
{
	struct delivery_parsed *parsed = NULL, key, *p;
	size_t nparsed = 0;

	if (stored && taken != NULL)
		parsed = delivery_parse_taken(taken, n, &nparsed);
	for (size_t i = 0; taken != NULL && i < n; i++) {
		struct delivery_taken *t = &taken[i];

		for (size_t j = 0; stored && j < t->n; j++) {
			key.seq = t->rows[j].rec.seq;
			if ((p = bsearch(&key, parsed, nparsed, sizeof(*parsed),
			    delivery_parsed_cmp)) == NULL) {
				/* Left sending; recovered at the next start. */
				log_error("delivery %s: out of memory",
				    t->rows[j].id);
				store_delivery_clear(&t->rows[j]);
				continue;
			}
			delivery_job_start(dl, t->svc, t->sub, t->probe,
			    &t->rows[j], p->record);
		}
		if (!stored)
			store_deliveries_free(t->rows, t->n);
		else
			free(t->rows);
	}
	delivery_parsed_free(parsed, nparsed);
	free(taken);
}

static void
delivery_schedule(struct delivery *dl, int64_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(dl->tick_ev, &tv);
}

static int
delivery_drained(const struct delivery *dl)
{
	if (!TAILQ_EMPTY(&dl->done) || poller_busy(dl->poller))
		return 0;
	/* Past the grace period, pushes in flight are abandoned (they are
	 * sent again after the restart); audits in flight are waited for,
	 * their callbacks need this loop. */
	if (audit_pending(dl->gw->audit, dl->base) > 0)
		return 0;
	return TAILQ_EMPTY(&dl->jobs) || clock_mono_ms() >= dl->drain_deadline;
}

static void
delivery_poll_release(void *arg)
{
	snapshot_release(arg);
}

/* A poll holds the snapshot its connector instance belongs to. */
static void
delivery_poll(struct delivery *dl, const struct config_service *svc)
{
	const struct connector_ops *ops;
	char err[256];
	void *inst = snapshot_connector(dl->snap, svc, &ops, err, sizeof(err));

	if (inst == NULL) {
		log_warn("poll %s: %s", svc->id, err);
		return;
	}
	if (!poller_source(dl->poller, dl->snap->cfg, svc, inst,
	    delivery_poll_release, snapshot_hold(dl->snap)))
		snapshot_release(dl->snap);
}

/* Nothing is sent, and no source polled, while the audit log cannot take
 * their entries: a send would go unaudited, or be tried again at once.
 * Logs the change only. */
static int
delivery_audit_up(struct delivery *dl)
{
	int up = audit_ready(dl->gw->audit) == 0;

	if (up == !dl->audit_down)
		return up;
	dl->audit_down = !up;
	if (up)
		log_info("delivery: the audit log writes again; deliveries resume");
	else
		log_warn("delivery: the audit log cannot write; deliveries wait "
		    "for it");
	return up;
}

/* Stores the outcome of every done job; 0, or -1 when the store failed
 * (they stay done, for the next tick). */
static int
delivery_store_done(struct delivery *dl)
{
	struct store_delivery_outcome *outs;
	struct delivery_job *job;
	size_t n = 0;
	int rc;

	TAILQ_FOREACH(job, &dl->done, link)
		n++;
	if (n == 0)
		return 0;
	if ((outs = calloc(n, sizeof(*outs))) == NULL)
		return -1;
	n = 0;
	TAILQ_FOREACH(job, &dl->done, link)
		outs[n++] = job->out;
	rc = store_delivery_finish(dl->store, outs, n, clock_now_ms()) ==
	    STORE_OK ? 0 : -1;
	free(outs);
	return rc;
}

static void
delivery_free_jobs(struct delivery_jobs *jobs)
{
	struct delivery_job *job;

	while ((job = TAILQ_FIRST(jobs)) != NULL) {
		TAILQ_REMOVE(jobs, job, link);
		delivery_job_free(job);
	}
}

/* One transaction for the outcomes of the jobs done since the last tick
 * and what every subscriber has room for now: a write per subscriber and
 * one more for the outcomes made the committer and the audit log's
 * index queue for the write lock behind this worker. The jobs start once
 * it is stored. 1 if a subscriber may have more due, -1 when the store
 * failed. */
static int
delivery_cycle(struct delivery *dl, int take)
{
	const struct config *cfg = dl->snap->cfg;
	struct delivery_taken *taken = NULL;
	int more = 0, stored;

	if (!take && TAILQ_EMPTY(&dl->done))
		return 0;
	if (store_batch_begin(dl->store, 0) != STORE_OK)
		return -1;
	stored = delivery_store_done(dl) == 0;
	if (take)
		more = delivery_take_all(dl, cfg, &taken);
	if (store_batch_end(dl->store) != STORE_OK)
		stored = 0;
	if (stored)
		delivery_free_jobs(&dl->done);
	else
		log_error("delivery: outcomes not stored yet; retrying");
	delivery_start_taken(dl, taken, taken ? cfg->nservices : 0, stored);
	return stored ? more : -1;
}

static void
delivery_tick(evutil_socket_t fd, short what, void *arg)
{
	struct delivery *dl = arg;
	const struct config *cfg;
	int more;

	if (dl->stopping) {
		store_delivery_renew(dl->store);
		if (delivery_cycle(dl, 0) >= 0 && delivery_drained(dl))
			event_base_loopbreak(dl->base);
		else
			delivery_schedule(dl, 20);
		return;
	}
	delivery_refresh(dl);
	store_delivery_renew(dl->store);
	cfg = dl->snap->cfg;
	retention_step(dl->retention, cfg);
	if (!delivery_audit_up(dl)) {
		delivery_cycle(dl, 0);
		delivery_schedule(dl, DELIVERY_AUDIT_WAIT_MS);
		return;
	}
	/* On a store several nodes share, takes run only when it says the
	 * outbox changed (or the last one may have left some due). */
	more = delivery_cycle(dl, dl->more || store_outbox_changed(dl->store));
	if (more < 0) {
		delivery_schedule(dl, DELIVERY_STORE_RETRY_MS);
		return;
	}
	dl->more = more;
	for (size_t i = 0; i < cfg->nservices; i++)
		if (cfg->services[i].connector != NULL &&
		    cfg->services[i].connector->poll.dataset != NULL)
			delivery_poll(dl, &cfg->services[i]);
	delivery_schedule(dl, more ? 0 : DELIVERY_POLL_MS);
}

static void *
delivery_main(void *arg)
{
	struct delivery *dl = arg;

	event_base_loop(dl->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static void
delivery_free(struct delivery *dl)
{
	delivery_free_jobs(&dl->jobs);
	delivery_free_jobs(&dl->done);
	poller_free(dl->poller);
	retention_free(dl->retention);
	snapshot_release(dl->snap);
	config_free(dl->next_cfg);
	for (size_t i = 0; i < dl->nsubs; i++) {
		free(dl->subs[i]->id);
		free(dl->subs[i]);
	}
	free(dl->subs);
	if (dl->tick_ev != NULL)
		event_free(dl->tick_ev);
	if (dl->base != NULL)
		event_base_free(dl->base);
	store_close(dl->store);
	pthread_mutex_destroy(&dl->lock);
	free(dl);
}

/* Names this node in the outbox: its host and listen address, unique
 * among the nodes on one store (two processes cannot listen on one
 * address) and the same after a restart. */
static void
delivery_node(struct delivery *dl, const struct config *cfg)
{
	char host[64], node[128];

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	snprintf(node, sizeof(node), "%s/%s", host, cfg->gateway.listen);
	store_outbox_node(dl->store, node, DELIVERY_LEASE_MS);
	log_info("delivery: outbox node %s", node);
}

struct delivery *
delivery_start(struct gateway *gw, struct config *cfg, char *err,
    size_t errlen)
{
	struct delivery *dl = calloc(1, sizeof(*dl));

	if (dl == NULL) {
		config_free(cfg);
		snprintf(err, errlen, "delivery: out of memory");
		return NULL;
	}
	dl->gw = gw;
	pthread_mutex_init(&dl->lock, NULL);
	TAILQ_INIT(&dl->jobs);
	TAILQ_INIT(&dl->done);
	dl->base = event_base_new();
	if ((dl->snap = snapshot_new(cfg, dl->base)) == NULL) {
		snprintf(err, errlen, "delivery: out of memory");
		delivery_free(dl);
		return NULL;
	}
	dl->tick_ev = dl->base ? evtimer_new(dl->base, delivery_tick, dl) : NULL;
	if (dl->tick_ev == NULL) {
		snprintf(err, errlen, "delivery: cannot create the event loop");
		delivery_free(dl);
		return NULL;
	}
	if ((dl->store = store_open(cfg->gateway.store,
	    (const char *)cfg->gateway.store_password.data, err, errlen)) != NULL)
		delivery_node(dl, cfg);
	if (dl->store == NULL || store_delivery_recover(dl->store) != STORE_OK) {
		if (dl->store != NULL)
			snprintf(err, errlen, "delivery: cannot recover the outbox");
		delivery_free(dl);
		return NULL;
	}
	if ((dl->poller = poller_new(dl->store, gw->audit, dl->base)) == NULL ||
	    (dl->retention = retention_new(dl->store)) == NULL) {
		snprintf(err, errlen, "delivery: out of memory");
		delivery_free(dl);
		return NULL;
	}
	delivery_schedule(dl, 0);
	if (pthread_create(&dl->thread, NULL, delivery_main, dl) != 0) {
		snprintf(err, errlen, "delivery: cannot start the worker thread");
		delivery_free(dl);
		return NULL;
	}
	pthread_setname_np(dl->thread, "delivery");
	return dl;
}

void
delivery_swap_config(struct delivery *dl, struct config *cfg)
{
	struct config *old;

	pthread_mutex_lock(&dl->lock);
	old = dl->next_cfg;
	dl->next_cfg = cfg;
	pthread_mutex_unlock(&dl->lock);
	config_free(old);
}

static void
delivery_begin_stop(evutil_socket_t fd, short what, void *arg)
{
	struct delivery *dl = arg;

	dl->stopping = 1;
	dl->drain_deadline = clock_mono_ms() + DELIVERY_DRAIN_MS;
	delivery_schedule(dl, 0);
}

void
delivery_stop(struct delivery *dl)
{
	if (dl == NULL)
		return;
	event_base_once(dl->base, -1, EV_TIMEOUT, delivery_begin_stop, dl, NULL);
	pthread_join(dl->thread, NULL);
	delivery_free(dl);
}
