/* api_records.c — POST /v1/records: a provider pushes a changed record.
 *
 * The record comes in the provider's own field names; it is mapped to the
 * dataset's attributes and must map back to exactly what was sent, so a
 * field outside the schema is refused rather than silently dropped. Each
 * subscriber of (dataset, provider) is then checked: what its policy (and
 * the live consent) grants, and whether it has linked the subject. The
 * record version, one delivery per subscriber that may receive something
 * and the idempotency key are stored in one transaction; the push is
 * audited, and only once that entry is durable does the 202 leave.
 * Subscribers left out get a `deliver` denial in the audit log.
 *
 * Group commit: pushes that arrive on a worker in the same turn of its
 * loop are stored in one transaction, at the end of that turn. SQLite has
 * one writer; a commit per push would make every worker queue for it. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "clock.h"
#include "delivery.h"
#include "jsonutil.h"
#include "log.h"
#include "mapping.h"

/* A subscriber that receives nothing of this push, and why. */
struct records_skip {
	const struct config_service *svc;
	struct policy_decision d;
};

struct records_push {
	struct request *r;
	const struct config_dataset *ds;
	char subject[STORE_SUBJECT_LEN];
	json_t *record;                  /* dataset attribute names */
	char payload_sha256[65];
	const char **subscribers;        /* receive a delivery */
	size_t nsubscribers;
	struct records_skip *skips;
	size_t nskips;
	json_t *response;
	/* What the store keeps: the push points into these. */
	char record_id[STORE_ID_LEN];
	char request_sha256[65];
	char *canonical, *response_text;
	struct store_push push;
};

/* The pushes of this worker waiting for the end of the loop's turn. */
struct records_batch {
	struct records_push **items;
	size_t n, cap;
};

static _Thread_local struct records_batch records_batch;

static void
records_free(struct records_push *p)
{
	for (size_t i = 0; i < p->nskips; i++)
		policy_decision_clear(&p->skips[i].d);
	free(p->skips);
	free(p->subscribers);
	json_decref(p->record);
	json_decref(p->response);
	free(p->canonical);
	free(p->response_text);
	free(p);
}

/* The first field of raw, as a dotted path, that `back` (the record mapped
 * to the dataset and back) lacks: a field the schema has no place for. */
static int
records_extra_field(const json_t *raw, const json_t *back, char *path,
    size_t len)
{
	size_t used = strlen(path);
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)raw, key, v) {
		json_t *b = json_object_get(back, key);

		snprintf(path + used, len - used, "%s%s", used ? "." : "", key);
		if (b == NULL)
			return 1;
		if (json_is_object(v) && records_extra_field(v, b, path, len))
			return 1;
		path[used] = '\0';
	}
	return 0;
}

/* Maps the record to the dataset; 0, or -1 after replying 422. */
static int
records_map(struct records_push *p, const json_t *raw)
{
	const struct config_connector *conn = p->r->caller->connector;
	char err[256], path[256] = "";
	json_t *back = NULL;

	if (mapping_to_dataset(conn, p->ds, raw, &p->record, err,
	    sizeof(err)) != 0) {
		request_reply_problem(p->r, 422, NULL, "the record does not fit "
		    "dataset %s: %s", p->ds->name, err);
		return -1;
	}
	if (json_object_size(p->record) == 0) {
		request_reply_problem(p->r, 422, NULL, "the record holds none of "
		    "the attributes of dataset %s", p->ds->name);
		return -1;
	}
	if (mapping_from_dataset(conn, p->ds, p->record, &back, err,
	    sizeof(err)) != 0 ||
	    records_extra_field(raw, back, path, sizeof(path))) {
		json_decref(back);
		request_reply_problem(p->r, 422, NULL, "the record does not fit "
		    "dataset %s: field %s is not one of its attributes",
		    p->ds->name, path[0] ? path : "?");
		return -1;
	}
	json_decref(back);
	return 0;
}

/* Whether the caller provides the dataset to anyone: a subscription or a
 * policy names it as the provider. */
static int
records_is_provider(const struct config *cfg, const struct config_service *svc,
    const struct config_dataset *ds)
{
	for (size_t i = 0; i < cfg->nservices; i++)
		if (delivery_subscribes(&cfg->services[i], ds, svc))
			return 1;
	for (size_t i = 0; i < cfg->npolicies; i++)
		if (cfg->policies[i].provider == svc &&
		    cfg->policies[i].dataset == ds)
			return 1;
	return 0;
}

/* Decides every subscriber; 0, or -1 after replying 503. */
static int
records_route(struct records_push *p)
{
	struct request *r = p->r;
	const struct config *cfg = r->cfg;

	p->subscribers = calloc(cfg->nservices + 1, sizeof(*p->subscribers));
	p->skips = calloc(cfg->nservices + 1, sizeof(*p->skips));
	if (p->subscribers == NULL || p->skips == NULL)
		goto unavailable;
	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct config_service *svc = &cfg->services[i];
		struct records_skip *skip = &p->skips[p->nskips];
		enum policy_reason why;
		enum store_status st;
		json_t *granted;
		char *local_id;

		if (!delivery_subscribes(svc, p->ds, r->caller) ||
		    !delivery_can_push(svc))
			continue;
		why = delivery_filter(r->store, cfg, svc, r->caller, p->ds,
		    p->subject, p->record, &skip->d, &granted);
		json_decref(granted);
		if (why == POLICY_STORE_ERROR)
			goto unavailable;
		if (why == POLICY_ALLOW) {
			st = store_link_local_id(r->store, svc->id, p->subject,
			    &local_id);
			free(local_id);
			if (st == STORE_OK) {
				policy_decision_clear(&skip->d);
				p->subscribers[p->nsubscribers++] = svc->id;
				continue;
			}
			if (st != STORE_NOT_FOUND)
				goto unavailable;
			skip->d.reason = POLICY_SUBJECT_NOT_LINKED;
		}
		skip->svc = svc;
		p->nskips++;
	}
	return 0;
unavailable:
	request_reply_problem(r, 503, NULL, "the store is unavailable");
	return -1;
}

static void
records_audit_ignored(int status, uint64_t index, void *arg)
{
	if (status != 0)
		log_error("push: a deliver denial could not be audited");
}

/* One `deliver` denial per subscriber left out. */
static void
records_audit_skips(struct records_push *p)
{
	for (size_t i = 0; i < p->nskips; i++) {
		const struct records_skip *s = &p->skips[i];
		const struct config_policy *pol = s->d.policy;
		struct audit_entry e = {
			.type = "deliver",
			.consumer = s->svc->id,
			.provider = p->r->caller->id,
			.dataset = p->ds->name,
			.purpose = pol ? pol->purpose : NULL,
			.basis = pol ? config_basis_name(pol->basis) : NULL,
			.policy = pol ? pol->id : NULL,
			.consent = s->d.consent_id[0] ? s->d.consent_id : NULL,
			.subject = p->subject,
			.decision = "deny",
			.reason = policy_reason_name(s->d.reason),
			.request_id = p->r->id,
		};
		audit_append_async(p->r->gw->audit, &e, p->r->base,
		    records_audit_ignored, NULL);
	}
}

static void
records_audited(struct request *r, uint64_t index, void *arg)
{
	struct records_push *p = arg;

	request_reply_json(r, 202, json_incref(p->response));
	records_free(p);
}

static void
records_audit(struct records_push *p)
{
	const char **names = calloc(json_object_size(p->record) + 1,
	    sizeof(*names));
	size_t n = 0;
	const char *key;
	json_t *v;

	json_object_foreach(p->record, key, v)
		if (names != NULL)
			names[n++] = key;
	struct audit_entry e = {
		.type = "push",
		.provider = p->r->caller->id,
		.dataset = p->ds->name,
		.attributes = names,
		.nattributes = n,
		.subject = p->subject,
		.decision = "allow",
		.payload_sha256 = p->payload_sha256,
	};
	/* Queued before the denials, so the log reads in order. */
	request_audit(p->r, &e, records_audited, p);
	free(names);
	records_audit_skips(p);
}

/* Replies to a push the store did not take: a replay, a reused key or a
 * store failure. */
static void
records_refused(struct records_push *p, const struct store_push_result *res)
{
	if (res->status == STORE_CONFLICT && res->same)
		request_reply_json(p->r, 202, json_loads(res->previous, 0, NULL));
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
		pushes[i] = items[i]->push;
	if (pushes != NULL && res != NULL)
		store_record_accept(items[0]->r->store, pushes, n, res);
	for (size_t i = 0; i < n; i++) {
		struct records_push *p = items[i];

		if (res != NULL && res[i].status == STORE_OK) {
			jsonutil_sha256_hex(p->record, p->payload_sha256);
			records_audit(p);
		} else {
			records_refused(p, res ? &res[i] :
			    &(struct store_push_result){ .status = STORE_ERROR });
		}
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

	store_new_id(p->record_id);
	p->response = json_pack("{s:s, s:i}", "id", p->record_id, "deliveries",
	    (int)p->nsubscribers);
	p->canonical = jsonutil_canonical(p->record);
	p->response_text = json_dumps(p->response, JSON_COMPACT);
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
	if (p->canonical == NULL || p->response_text == NULL || b->n == b->cap ||
	    (b->n == 0 && event_base_once(r->base, -1, EV_TIMEOUT, records_flush,
	    NULL, NULL) != 0)) {
		request_reply_problem(r, 503, NULL, "out of memory");
		return -1;
	}
	p->push = (struct store_push){
		.record_id = p->record_id,
		.provider = r->caller->id,
		.subject = p->subject,
		.dataset = p->ds->name,
		.record = p->canonical,
		.subscribers = p->subscribers,
		.nsubscribers = p->nsubscribers,
		.idempotency_key = key,
		.request_sha256 = p->request_sha256,
		.response = p->response_text,
		.now_ms = clock_now_ms(),
	};
	b->items[b->n++] = p;
	return 0;
}

void
api_records_post(struct request *r)
{
	struct records_push *p = calloc(1, sizeof(*p));
	const char *local_id, *dataset, *key;
	json_t *raw = json_object_get(r->body, "record");

	if (p == NULL) {
		request_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	p->r = r;
	if (api_body_string(r, "subject", 1, &local_id) != 0 ||
	    api_body_string(r, "dataset", 1, &dataset) != 0 ||
	    api_body_string(r, "idempotency_key", 0, &key) != 0 ||
	    api_dataset(r, dataset, &p->ds) != 0)
		goto done;
	if (!json_is_object(raw)) {
		request_reply_problem(r, 400, NULL, "\"record\" must be a JSON "
		    "object");
		goto done;
	}
	if (!records_is_provider(r->cfg, r->caller, p->ds)) {
		request_reply_problem(r, 403, "no_policy", "no subscription or "
		    "policy names you as a provider of dataset %s", p->ds->name);
		goto done;
	}
	if (records_map(p, raw) != 0 || api_subject(r, local_id, p->subject) != 0 ||
	    records_route(p) != 0 || records_queue(p, key) != 0)
		goto done;
	return;
done:
	records_free(p);
}
