/* api_consents.c — a subject's consents (grant, list, revoke) and
 * objections to public-task exchanges. Subjects are always named by the
 * caller's own local id; the pseudonym never leaves the gateway. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "clock.h"
#include "consent.h"
#include "gateway.h"
#include "jsonutil.h"
#include "metrics.h"

/* ---- POST /v1/consents ------------------------------------------------ */

struct consent_reply {
	struct store_consent consent;
	char *receipt;
	enum policy_reason reason;
	const char *refusal;                /* the 403's detail; static */
};

static void
consent_reply_free(void *arg)
{
	struct consent_reply *cr = arg;

	store_consent_clear(&cr->consent);
	free(cr->receipt);
	free(cr);
}

static void
consents_post_audited(struct request *r, uint64_t index, void *arg)
{
	struct consent_reply *cr = arg;
	json_t *body;

	if (cr->reason != POLICY_ALLOW) {
		request_reply_problem(r, 403, policy_reason_name(cr->reason), "%s",
		    cr->refusal);
	} else {
		body = consent_to_json(&cr->consent, jsonutil_string(r->body, "subject"),
		    clock_now_ms());
		json_object_set_new(body, "receipt", json_string(cr->receipt));
		json_object_set_new(body, "audit_index", json_integer((json_int_t)index));
		request_reply_json(r, 201, body);
	}
	consent_reply_free(cr);
}

/* Reads the body of a consent request into g; a mediator's also names
 * the consumer and, in act, who acts under which mandate. Returns 0 or -1
 * (replied). */
static int
consents_parse(struct request *r, struct consent_grant *g, const char ***attrs,
    char subject[STORE_SUBJECT_LEN], unsigned char *view_key,
    struct api_act *act)
{
	const char *provider, *dataset, *expires, *consumer = NULL;
	int mediator = (r->caller->roles & CONFIG_ROLE_MEDIATOR) != 0;

	memset(g, 0, sizeof(*g));
	if (mediator && (api_act_parse(r, 0, act) != 0 ||
	    api_body_string(r, "consumer", 1, &consumer) != 0))
		return -1;
	if (api_body_string(r, "subject", 1, &g->local_id) != 0 ||
	    api_body_string(r, "provider", 1, &provider) != 0 ||
	    api_body_string(r, "dataset", 1, &dataset) != 0 ||
	    api_body_string(r, "purpose", 1, &g->purpose) != 0 ||
	    api_body_string(r, "expires_at", 0, &expires) != 0 ||
	    api_dataset(r, dataset, &g->dataset) != 0 ||
	    api_body_attributes(r, g->dataset, attrs, &g->nattributes) != 0)
		return -1;
	g->attributes = *attrs;
	if (g->nattributes == 0) {
		request_reply_problem(r, 400, NULL, "\"attributes\" must list at least one");
		return -1;
	}
	if (expires != NULL && clock_parse_rfc3339(expires, &g->expires_ms) != 0) {
		request_reply_problem(r, 400, NULL,
		    "\"expires_at\" must be an RFC 3339 date-time");
		return -1;
	}
	if (expires != NULL && g->expires_ms <= clock_now_ms()) {
		request_reply_problem(r, 400, NULL, "\"expires_at\" is in the past");
		return -1;
	}
	g->consumer = r->caller;
	if (api_service(r, "provider", provider, &g->provider) != 0 ||
	    (consumer != NULL && api_service(r, "consumer", consumer,
	    &g->consumer) != 0) ||
	    api_subject(r, g->local_id, subject, view_key) != 0)
		return -1;
	g->subject = subject;
	return 0;
}

/* A mediator gives consent only under a mandate for it: the reason, or
 * -1 after a 503. */
static int
consents_mandate(struct request *r, const struct api_act *act,
    struct consent_grant *g, struct store_mandate *m, enum policy_reason *reason)
{
	if (!(r->caller->roles & CONFIG_ROLE_MEDIATOR)) {
		*reason = POLICY_ALLOW;
		return 0;
	}
	if (api_act_decide(r, act, g->subject, STORE_MANDATE_CONSENT, g->dataset,
	    reason, m) != 0)
		return -1;
	g->mandate = m;
	g->helper = act->helper;
	return 0;
}

void
api_consents_post(struct request *r)
{
	struct consent_signer signer = { r->gw->signer, r->gw->signer_kid };
	const struct config_policy *policy = NULL;
	char subject[STORE_SUBJECT_LEN];
	unsigned char view_key[STORE_VIEW_KEY_LEN];
	const char **attrs = NULL;
	struct consent_grant g;
	struct consent_reply *cr;
	struct store_mandate m;
	struct api_act act = { 0 };
	enum policy_reason mr;

	memset(&m, 0, sizeof(m));
	if (consents_parse(r, &g, &attrs, subject, view_key, &act) != 0 ||
	    consents_mandate(r, &act, &g, &m, &mr) != 0) {
		free(attrs);
		return;
	}
	cr = calloc(1, sizeof(*cr));
	if (cr == NULL) {
		free(attrs);
		store_mandate_clear(&m);
		request_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	cr->refusal = "no consent policy permits this consent";
	if (mr != POLICY_ALLOW) {
		cr->reason = mr;
		cr->refusal = "no live mandate of the citizen to this mediator "
		    "covers giving this consent";
	} else {
		cr->reason = consent_grant(r->store, r->cfg, &signer, &g,
		    clock_now_ms(), &cr->consent, &cr->receipt, &policy);
	}
	metrics_decision(cr->reason);
	if (cr->reason == POLICY_STORE_ERROR) {
		free(attrs);
		free(cr);
		store_mandate_clear(&m);
		request_reply_problem(r, 503, NULL, "the consent could not be stored");
		return;
	}
	struct policy_decision d = { .reason = cr->reason, .policy = policy };

	if (cr->reason == POLICY_ALLOW)
		memcpy(d.consent_id, cr->consent.id, sizeof(d.consent_id));
	struct audit_entry e = policy_audit_entry(AUDIT_CONSENT_GRANT, &d);

	e.consumer = g.consumer->id;
	e.provider = g.provider->id;
	e.dataset = g.dataset->name;
	e.attributes = g.attributes;
	e.nattributes = g.nattributes;
	/* What was asked for, whether a policy fits it or not (request_audit
	 * drops names the configuration does not have). */
	e.purpose = g.purpose;
	e.basis = config_basis_name(CONFIG_BASIS_CONSENT);
	e.subject = subject;
	e.view_key = view_key;
	if (r->caller->roles & CONFIG_ROLE_MEDIATOR)
		api_act_audit(r, &act, &m, &e);
	request_audit_owned(r, &e, consents_post_audited, cr, consent_reply_free);
	free(attrs);
	store_mandate_clear(&m);
}

/* ---- GET /v1/consents?subject=ID -------------------------------------- */

void
api_consents_get(struct request *r)
{
	const char *local_id = request_query(r, "subject");
	char subject[STORE_SUBJECT_LEN];
	struct store_consent *list = NULL;
	size_t n = 0;
	int64_t now = clock_now_ms();
	json_t *items;

	if (local_id == NULL || *local_id == '\0') {
		request_reply_problem(r, 400, NULL, "the query parameter subject is required");
		return;
	}
	if (api_subject(r, local_id, subject, NULL) != 0)
		return;
	if (store_consent_list_for(r->store, subject, r->caller->id, &list, &n) !=
	    STORE_OK) {
		request_reply_problem(r, 503, NULL, "the store is unavailable");
		return;
	}
	items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, consent_to_json(&list[i], local_id, now));
	store_consents_free(list, n);
	request_reply_json(r, 200, json_pack("{s:o}", "consents", items));
}

/* ---- DELETE /v1/consents/{id} ----------------------------------------- */

static void
consents_delete_audited(struct request *r, uint64_t index, void *arg)
{
	request_reply_empty(r, 204);
}

void
api_consents_delete(struct request *r)
{
	unsigned char view_key[STORE_VIEW_KEY_LEN];
	struct store_consent c;
	enum store_status st;

	memset(&c, 0, sizeof(c));
	st = store_consent_get(r->store, r->param, &c);
	/* A service that is not a party learns nothing, not even existence. */
	if (st == STORE_NOT_FOUND || (st == STORE_OK &&
	    strcmp(c.consumer, r->caller->id) != 0 &&
	    strcmp(c.provider, r->caller->id) != 0)) {
		store_consent_clear(&c);
		request_reply_problem(r, 404, NULL, "no such consent");
		return;
	}
	/* The view key first: a revocation is never left without its entry
	 * for want of it. */
	if (st != STORE_OK ||
	    store_view_key_get(r->store, c.subject, view_key) != STORE_OK ||
	    store_consent_revoke(r->store, c.id, clock_now_ms()) == STORE_ERROR) {
		store_consent_clear(&c);
		request_reply_problem(r, 503, NULL, "the store is unavailable");
		return;
	}
	struct audit_entry e = {
		.type = AUDIT_CONSENT_REVOKE,
		.consumer = c.consumer,
		.provider = c.provider,
		.dataset = c.dataset,
		.attributes = (const char *const *)c.attributes,
		.nattributes = c.nattributes,
		.purpose = c.purpose,
		.basis = config_basis_name(CONFIG_BASIS_CONSENT),
		.consent = c.id,
		.subject = c.subject,
		.view_key = view_key,
		.decision = AUDIT_ALLOW,
	};
	request_audit(r, &e, consents_delete_audited, NULL);
	store_consent_clear(&c);
}

/* ---- POST /v1/objections ----------------------------------------------- */

static void
objections_audited(struct request *r, uint64_t index, void *arg)
{
	char *id = arg;
	json_t *body = json_pack("{s:s, s:O, s:O, s:O, s:O, s:I}", "id", id,
	    "subject", json_object_get(r->body, "subject"),
	    "dataset", json_object_get(r->body, "dataset"),
	    "purpose", json_object_get(r->body, "purpose"),
	    "consumer", json_object_get(r->body, "consumer") ?
	    json_object_get(r->body, "consumer") : json_null(),
	    "audit_index", (json_int_t)index);

	free(id);
	request_reply_json(r, 201, body);
}

static void
objections_refused(struct request *r, uint64_t index, void *arg)
{
	enum policy_reason *reason = arg;

	request_reply_problem(r, 403, policy_reason_name(*reason), "no live "
	    "mandate of the citizen to this mediator covers this objection");
	free(reason);
}

/* A mediator objects only under a mandate for it: 0 when it may (or is
 * no mediator), else -1 after auditing the refusal (or a 503). m is the
 * mandate that decided. */
static int
objections_mandate(struct request *r, const struct api_act *act,
    const struct store_objection *o, const struct config_dataset *ds,
    const unsigned char *view_key, struct store_mandate *m)
{
	enum policy_reason reason, *arg;

	if (!(r->caller->roles & CONFIG_ROLE_MEDIATOR))
		return 0;
	if (api_act_decide(r, act, o->subject, STORE_MANDATE_OBJECTION, ds,
	    &reason, m) != 0)
		return -1;
	metrics_decision(reason);
	if (reason == POLICY_ALLOW)
		return 0;
	if ((arg = malloc(sizeof(*arg))) == NULL) {
		request_reply_problem(r, 503, NULL, "out of memory");
		return -1;
	}
	*arg = reason;
	struct audit_entry e = {
		.type = AUDIT_OBJECTION,
		.consumer = o->consumer,
		.dataset = ds->name,
		.purpose = o->purpose,
		.basis = config_basis_name(CONFIG_BASIS_PUBLIC_TASK),
		.subject = o->subject,
		.view_key = view_key,
		.decision = AUDIT_DENY,
		.reason = policy_reason_name(reason),
	};
	api_act_audit(r, act, m, &e);
	request_audit_owned(r, &e, objections_refused, arg, free);
	return -1;
}

/* The same objection made again (a retry after a 503 whose objection was
 * stored, or a second ask) is the one already stored: one row, one id. */
static enum store_status
objections_store(struct store *st, struct store_objection *o)
{
	enum store_status rc = store_objection_find(st, o);

	if (rc != STORE_NOT_FOUND)
		return rc;
	store_new_id(o->id);
	o->created_ms = clock_now_ms();
	return store_objection_insert(st, o);
}

void
api_objections_post(struct request *r)
{
	const char *local_id, *dataset, *purpose, *consumer;
	const struct config_dataset *ds;
	const struct config_service *cs = NULL;
	unsigned char view_key[STORE_VIEW_KEY_LEN];
	struct store_objection o;
	struct store_mandate m;
	struct api_act act = { 0 };
	char *id;

	memset(&o, 0, sizeof(o));
	memset(&m, 0, sizeof(m));
	if (((r->caller->roles & CONFIG_ROLE_MEDIATOR) &&
	    api_act_parse(r, 0, &act) != 0) ||
	    api_body_string(r, "subject", 1, &local_id) != 0 ||
	    api_body_string(r, "dataset", 1, &dataset) != 0 ||
	    api_body_string(r, "purpose", 1, &purpose) != 0 ||
	    api_body_string(r, "consumer", 0, &consumer) != 0 ||
	    api_dataset(r, dataset, &ds) != 0 ||
	    (consumer != NULL && api_service(r, "consumer", consumer, &cs) != 0) ||
	    api_subject(r, local_id, o.subject, view_key) != 0)
		return;
	o.dataset = ds->name;
	o.purpose = purpose;
	o.consumer = cs ? cs->id : NULL;
	if (objections_mandate(r, &act, &o, ds, view_key, &m) != 0) {
		store_mandate_clear(&m);
		return;
	}
	if (objections_store(r->store, &o) != STORE_OK ||
	    (id = strdup(o.id)) == NULL) {
		store_mandate_clear(&m);
		request_reply_problem(r, 503, NULL, "the store is unavailable");
		return;
	}
	struct audit_entry e = {
		.type = AUDIT_OBJECTION,
		.consumer = o.consumer,
		.dataset = o.dataset,
		.purpose = o.purpose,
		.basis = config_basis_name(CONFIG_BASIS_PUBLIC_TASK),
		.subject = o.subject,
		.view_key = view_key,
		.decision = AUDIT_ALLOW,
	};
	if (r->caller->roles & CONFIG_ROLE_MEDIATOR)
		api_act_audit(r, &act, &m, &e);
	request_audit_owned(r, &e, objections_audited, id, free);
	store_mandate_clear(&m);
}
