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
 * Subscribers left out get a `deliver` denial in the audit log. */
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
};

static void
records_free(struct records_push *p)
{
	for (size_t i = 0; i < p->nskips; i++)
		policy_decision_clear(&p->skips[i].d);
	free(p->skips);
	free(p->subscribers);
	json_decref(p->record);
	json_decref(p->response);
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

		if (!delivery_subscribes(svc, p->ds, r->caller))
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

/* Stores everything; 0, or -1 after replying (a replay, a reused key or a
 * store failure). */
static int
records_store(struct records_push *p, const char *key)
{
	struct request *r = p->r;
	char record_id[STORE_ID_LEN], request_sha256[65];
	char *canonical, *response, *previous;
	enum store_status st;
	int same;

	store_new_id(record_id);
	p->response = json_pack("{s:s, s:i}", "id", record_id, "deliveries",
	    (int)p->nsubscribers);
	canonical = jsonutil_canonical(p->record);
	response = json_dumps(p->response, JSON_COMPACT);
	jsonutil_sha256_hex(r->body, request_sha256);
	struct store_push push = {
		.record_id = record_id,
		.provider = r->caller->id,
		.subject = p->subject,
		.dataset = p->ds->name,
		.record = canonical,
		.subscribers = p->subscribers,
		.nsubscribers = p->nsubscribers,
		.idempotency_key = key,
		.request_sha256 = request_sha256,
		.response = response,
		.now_ms = clock_now_ms(),
	};
	st = canonical && response ? store_record_accept(r->store, &push,
	    &previous, &same) : STORE_ERROR;
	free(canonical);
	free(response);
	if (st == STORE_OK)
		return 0;
	if (st == STORE_CONFLICT && same) {
		request_reply_json(r, 202, json_loads(previous, 0, NULL));
	} else if (st == STORE_CONFLICT) {
		request_reply_problem(r, 409, NULL, "idempotency_key was already "
		    "used for another record");
	} else {
		request_reply_problem(r, 503, NULL, "the store is unavailable");
	}
	if (st == STORE_CONFLICT)
		free(previous);
	return -1;
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
	    records_route(p) != 0 || records_store(p, key) != 0)
		goto done;
	jsonutil_sha256_hex(p->record, p->payload_sha256);
	records_audit(p);
	return;
done:
	records_free(p);
}
