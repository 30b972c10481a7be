/* api_fetch.c — POST /v1/fetch: a consumer obtains a subject's record.
 *
 * consumer's local id → subject → policy (and consent) → provider's local id
 * → provider's connector (asynchronous, on this worker's loop) → mapping to
 * the dataset's attributes → only the permitted ones → audit → reply. Every
 * outcome, allowed or denied, is audited before the reply leaves. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "clock.h"
#include "jcs.h"
#include "jsonload.h"
#include "jsonutil.h"
#include "mapping.h"
#include "metrics.h"
#include "snapshot.h"

/* request_alloc'd: r's reply frees it; fetch_clear frees what it owns,
 * before that reply. */
struct fetch {
	struct request *r;
	const struct config_dataset *ds;
	const char *purpose;
	char subject[STORE_SUBJECT_LEN];
	unsigned char view_key[STORE_VIEW_KEY_LEN];
	struct policy_decision d;
	char *provider_local_id;      /* owned */
	json_t *record;               /* permitted attributes; owned */
	char *payload;                /* the record's JCS text; owned */
	int64_t called_us;            /* when the provider was called */
	/* The reply, decided before the audit entry is written. */
	int status;
	const char *reason;           /* static */
	char detail[256];
};

/* Takes void * so that request_audit_owned can clear a fetch whose entry
 * the audit log refused. */
static void
fetch_clear(void *arg)
{
	struct fetch *f = arg;

	policy_decision_clear(&f->d);
	free(f->provider_local_id);
	json_decref(f->record);
	free(f->payload);
	f->provider_local_id = f->payload = NULL;
	f->record = NULL;
}

/* Writes the reply into buf (cap bytes): {"provider", "dataset", "record",
 * "audit_index"} as json_dumps writes it compactly, without building that
 * object. Service and dataset ids are [a-z0-9_-] (config_check_id):
 * nothing to escape. Returns the text's length, complete in buf only when
 * below cap; 0 on error. Pieces are copied, not printed: one reply per
 * fetch, where snprintf cost as much as the rest of it. */
static size_t
fetch_reply_text(const struct fetch *f, uint64_t index, char *buf, size_t cap)
{
	const char *parts[] = { "{\"provider\":\"", f->d.policy->provider->id,
	    "\",\"dataset\":\"", f->ds->name, "\",\"record\":" };
	char tail[40], *t = tail + sizeof(tail);
	size_t head = 0, tlen, rec, len;

	*--t = '}';
	do {
		*--t = (char)('0' + index % 10);
		index /= 10;
	} while (index > 0);
	t -= sizeof(",\"audit_index\":") - 1;
	memcpy(t, ",\"audit_index\":", sizeof(",\"audit_index\":") - 1);
	tlen = (size_t)(tail + sizeof(tail) - t);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		size_t n = strlen(parts[i]);

		if (head + n < cap)
			memcpy(buf + head, parts[i], n);
		head += n;
	}
	/* json_dumpb says how much it needs even when it does not fit. */
	rec = head < cap ?
	    json_dumpb(f->record, buf + head, cap - head, JSON_COMPACT) :
	    json_dumpb(f->record, NULL, 0, JSON_COMPACT);
	if (rec == 0)
		return 0;
	len = head + rec + tlen;
	if (len < cap) {
		memcpy(buf + head + rec, t, tlen);
		buf[len] = '\0';
	}
	return len;
}

/* Replies with f's record, clearing f first. */
static void
fetch_reply(struct request *r, struct fetch *f, uint64_t index)
{
	char stack[2048], *text = stack;
	size_t len = fetch_reply_text(f, index, stack, sizeof(stack));

	/* A record larger than the stack: once more, in its exact size. */
	if (len >= sizeof(stack) && ((text = malloc(len + 1)) == NULL ||
	    fetch_reply_text(f, index, text, len + 1) != len))
		len = 0;
	fetch_clear(f);
	if (len == 0)
		request_reply_problem(r, 500, NULL, "response could not be encoded");
	else
		request_reply_json_text(r, 200, text, len);
	if (text != stack)
		free(text);
}

static void
fetch_audited(struct request *r, uint64_t index, void *arg)
{
	struct fetch *f = arg;

	if (f->status == 200) {
		fetch_reply(r, f, index);
		return;
	}
	/* The detail is f's own bytes, still there until the reply. */
	fetch_clear(f);
	request_reply_problem(r, f->status, f->reason, "%s", f->detail);
}

/* Writes the audit entry for the outcome in f and replies once durable. */
static void
fetch_finish(struct fetch *f, int status, const char *reason,
    const char *detail_fmt, ...) __attribute__((format(printf, 4, 5)));

static void
fetch_finish(struct fetch *f, int status, const char *reason,
    const char *detail_fmt, ...)
{
	const struct config_policy *p = f->d.policy;
	const char **names = NULL, **asked = NULL;
	size_t n = 0;
	va_list ap;

	f->status = status;
	f->reason = reason;
	va_start(ap, detail_fmt);
	vsnprintf(f->detail, sizeof(f->detail), detail_fmt, ap);
	va_end(ap);
	/* Allowed: the attributes granted; denied: the ones asked for. */
	if (f->d.reason == POLICY_ALLOW && f->d.nattributes > 0) {
		names = f->d.nattributes <= SIZE_MAX / sizeof(*names) ?
		    request_alloc(f->r, f->d.nattributes * sizeof(*names)) : NULL;
		for (size_t i = 0; names != NULL && i < f->d.nattributes; i++)
			names[n++] = f->d.attributes[i]->name;
	} else if (f->d.reason != POLICY_ALLOW) {
		jsonutil_string_array(json_object_get(f->r->body, "attributes"),
		    &asked, &n);
		names = asked;
	}
	struct audit_entry e = policy_audit_entry(AUDIT_FETCH, &f->d);

	e.consumer = f->r->caller->id;
	e.provider = p ? p->provider->id : jsonutil_string(f->r->body, "provider");
	e.dataset = f->ds->name;
	e.attributes = names;
	e.nattributes = n;
	/* The purpose asked for, which a mismatching policy does not have
	 * (request_audit drops it when no policy has it). */
	e.purpose = f->purpose;
	e.subject = f->subject[0] ? f->subject : NULL;
	e.view_key = f->view_key;
	/* The reply's: an allowed fetch can still fail at the provider. */
	e.reason = reason;
	e.payload = f->payload;
	request_audit_owned(f->r, &e, fetch_audited, f, fetch_clear);
	free(asked);
}

/* Keeps only the attributes the decision grants. */
static json_t *
fetch_filter(const struct fetch *f, json_t *mapped)
{
	json_t *out = json_object();

	for (size_t i = 0; i < f->d.nattributes; i++) {
		const char *name = f->d.attributes[i]->name;
		json_t *v = json_object_get(mapped, name);

		if (v != NULL)
			json_object_set(out, name, v);
	}
	return out;
}

static void
fetch_answered(struct fetch *f, const struct connector_result *res)
{
	const struct config_service *prov = f->d.policy->provider;
	json_t *raw, *mapped = NULL;
	json_error_t jerr;
	char err[256];

	metrics_connector(prov->id, METRICS_FETCH, res->status,
	    clock_mono_us() - f->called_us);
	request_log(f->r, LOG_LEVEL_DEBUG, "provider %s answered %s (HTTP %d)",
	    prov->id, metrics_connector_name(res->status), res->http_status);
	switch (res->status) {
	case CONNECTOR_OK:
		break;
	case CONNECTOR_NOT_FOUND:
		fetch_finish(f, 404, "record_not_found",
		    "the provider has no %s record for this subject", f->ds->name);
		return;
	case CONNECTOR_TIMEOUT:
		fetch_finish(f, 504, "provider_timeout",
		    "the provider did not answer in time");
		return;
	default:
		request_log(f->r, LOG_LEVEL_WARN, "provider %s failed: %s",
		    prov->id, res->detail ? res->detail : "no detail");
		fetch_finish(f, 502, "provider_error", "the provider failed: %s",
		    res->detail ? res->detail : "no detail");
		return;
	}
	raw = jsonload_object(res->body ? res->body : "", res->body_len, 0,
	    &jerr);
	if (raw == NULL || !json_is_object(raw) ||
	    mapping_to_dataset(prov->connector, f->ds, raw, &mapped, err,
	    sizeof(err)) != 0) {
		json_decref(raw);
		fetch_finish(f, 502, "provider_error",
		    "the provider's answer does not fit dataset %s: %s", f->ds->name,
		    raw == NULL || !json_is_object(raw) ? "not a JSON object" : err);
		return;
	}
	json_decref(raw);
	f->record = fetch_filter(f, mapped);
	json_decref(mapped);
	/* The entry commits to exactly what the consumer receives. */
	if ((f->payload = jcs_dump(f->record)) == NULL) {
		fetch_clear(f);
		request_reply_problem(f->r, 503, NULL, "out of memory");
		return;
	}
	fetch_finish(f, 200, NULL, "ok");
}

/* The provider's answer arrives on the loop, outside the request's intake:
 * its lines get the request's context here. */
static void
fetch_done(const struct connector_result *res, void *arg)
{
	struct fetch *f = arg;
	struct log_context prev;

	request_log_enter(f->r, &prev);
	fetch_answered(f, res);
	log_context_set(&prev, NULL);
}

/* Parses the request; returns 0 or -1 (replied). */
static int
fetch_parse(struct request *r, struct fetch *f, struct policy_query *q,
    const char ***attrs, const char **local_id)
{
	const char *dataset, *provider;

	if (api_body_string(r, "subject", 1, local_id) != 0 ||
	    api_body_string(r, "dataset", 1, &dataset) != 0 ||
	    api_body_string(r, "purpose", 1, &f->purpose) != 0 ||
	    api_body_string(r, "provider", 0, &provider) != 0 ||
	    api_dataset(r, dataset, &f->ds) != 0 ||
	    api_body_attributes(r, f->ds, attrs, &q->nattributes) != 0 ||
	    (provider != NULL && api_service(r, "provider", provider, &q->provider) != 0))
		return -1;
	/* Leaving attributes out asks for every permitted one; an empty list
	 * (a client's filter that kept nothing) must not mean the same. */
	if (q->nattributes == 0 &&
	    json_is_array(json_object_get(r->body, "attributes"))) {
		request_reply_problem(r, 400, NULL, "\"attributes\" must list at "
		    "least one, or be left out to ask for every permitted one");
		return -1;
	}
	q->cfg = r->cfg;
	q->consumer = r->caller;
	q->dataset = f->ds;
	q->purpose = f->purpose;
	q->attributes = *attrs;
	q->subject = f->subject;
	q->now_ms = clock_now_ms();
	return 0;
}

static void
fetch_call(struct fetch *f)
{
	const struct config_service *prov = f->d.policy->provider;
	const struct connector_ops *ops;
	struct connector_request creq;
	char err[256], traceparent[TRACE_HEADER_LEN];
	void *inst;

	inst = snapshot_connector(f->r->snap, prov, &ops, err, sizeof(err));
	if (inst == NULL || ops->fetch == NULL) {
		request_log(f->r, LOG_LEVEL_WARN, "provider %s: %s", prov->id,
		    inst ? "its connector cannot fetch" : err);
		fetch_finish(f, 502, "provider_error", "the provider cannot be called");
		return;
	}
	memset(&creq, 0, sizeof(creq));
	creq.local_id = f->provider_local_id;
	creq.dataset = f->ds->name;
	creq.request_id = f->r->id;
	trace_child(&f->r->trace, traceparent);
	creq.traceparent = traceparent;
	request_log(f->r, LOG_LEVEL_DEBUG, "calling provider %s (%s connector) "
	    "for %s", prov->id, ops->name, f->ds->name);
	f->called_us = clock_mono_us();
	ops->fetch(inst, &creq, fetch_done, f);
}

void
api_fetch_post(struct request *r)
{
	struct policy_query q;
	const char **attrs = NULL;
	const char *local_id;
	struct fetch *f = request_alloc(r, sizeof(*f));
	enum store_status st;

	memset(&q, 0, sizeof(q));
	if (f == NULL) {
		request_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	f->r = r;
	if (fetch_parse(r, f, &q, &attrs, &local_id) != 0) {
		free(attrs);
		return;
	}
	st = store_link_subject(r->store, r->caller->id, local_id, f->subject,
	    f->view_key);
	if (st != STORE_OK) {
		free(attrs);
		f->d.reason = POLICY_SUBJECT_NOT_LINKED;
		if (st == STORE_NOT_FOUND) {
			f->subject[0] = '\0';
			fetch_finish(f, 404, "subject_not_linked",
			    "this subject is not linked to your service");
			return;
		}
		fetch_clear(f);
		request_reply_problem(r, 503, NULL, "the store is unavailable");
		return;
	}
	policy_decide(r->store, &q, &f->d);
	free(attrs);
	metrics_decision(f->d.reason);
	if (f->d.reason == POLICY_STORE_ERROR) {
		fetch_clear(f);
		request_reply_problem(r, 503, NULL, "the store is unavailable");
		return;
	}
	if (f->d.reason != POLICY_ALLOW) {
		fetch_finish(f, 403, policy_reason_name(f->d.reason),
		    "no policy permits this exchange (%s)",
		    policy_reason_name(f->d.reason));
		return;
	}
	st = store_link_local_id(r->store, f->d.policy->provider->id, f->subject,
	    &f->provider_local_id);
	if (st == STORE_NOT_FOUND) {
		f->d.reason = POLICY_SUBJECT_NOT_LINKED;
		fetch_finish(f, 404, "subject_not_linked",
		    "the provider has not linked this subject");
		return;
	}
	if (st != STORE_OK) {
		fetch_clear(f);
		request_reply_problem(r, 503, NULL, "the store is unavailable");
		return;
	}
	fetch_call(f);
}
