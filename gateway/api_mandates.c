/* api_mandates.c — a mediator's mandates (contract §8): record one for a
 * citizen, list them, revoke one. Only services with the mediator role
 * reach past the role check; a mediator sees and revokes only its own
 * mandates, and names citizens by its own local ids. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "clock.h"
#include "gateway.h"
#include "jsonutil.h"
#include "mandate.h"

/* 0 when the caller has the mediator role, else -1 after a 403. */
static int
mandates_caller(struct request *r)
{
	if (r->caller->roles & CONFIG_ROLE_MEDIATOR)
		return 0;
	request_reply_problem(r, 403, NULL,
	    "mandates are for services with the mediator role");
	return -1;
}

/* ---- POST /v1/mandates ------------------------------------------------ */

struct mandate_reply {
	struct store_mandate mandate;
	char *receipt;
};

static void
mandate_reply_free(void *arg)
{
	struct mandate_reply *mr = arg;

	store_mandate_clear(&mr->mandate);
	free(mr->receipt);
	free(mr);
}

static void
mandates_post_audited(struct request *r, uint64_t index, void *arg)
{
	struct mandate_reply *mr = arg;
	json_t *body = mandate_to_json(&mr->mandate,
	    jsonutil_string(r->body, "subject"), clock_now_ms());

	json_object_set_new(body, "receipt", json_string(mr->receipt));
	json_object_set_new(body, "audit_index", json_integer((json_int_t)index));
	request_reply_json(r, 201, body);
	mandate_reply_free(mr);
}

/* expires_at: required, in the future, at most max_duration ahead. */
static int
mandates_expiry(struct request *r, const char *text, int64_t *expires_ms)
{
	int64_t now = clock_now_ms();
	int64_t max = r->cfg->gateway.mandates.max_duration_ms;

	if (clock_parse_rfc3339(text, expires_ms) != 0) {
		request_reply_problem(r, 400, NULL,
		    "\"expires_at\" must be an RFC 3339 date-time");
		return -1;
	}
	if (*expires_ms <= now) {
		request_reply_problem(r, 400, NULL, "\"expires_at\" is in the past");
		return -1;
	}
	if (*expires_ms - now > max) {
		request_reply_problem(r, 400, NULL, "\"expires_at\" is more than "
		    "%lld days ahead (gateway.mandates.max_duration)",
		    (long long)(max / 86400000));
		return -1;
	}
	return 0;
}

/* Every check that needs no store comes before the subject's lookup, so
 * that bad input never depends on who is linked. */
static int
mandates_parse(struct request *r, struct mandate_grant *g,
    struct mandate_scope *scope, char subject[STORE_SUBJECT_LEN],
    unsigned char *view_key)
{
	struct api_act act;
	const char *expires;
	char err[256];

	memset(g, 0, sizeof(*g));
	if (api_body_string(r, "subject", 1, &g->local_id) != 0 ||
	    api_act_parse(r, 0, &act) != 0 ||
	    api_body_string(r, "expires_at", 1, &expires) != 0)
		return -1;
	g->helper = act.helper;
	if (json_object_get(r->body, "scope") == NULL) {
		request_reply_problem(r, 400, NULL, "\"scope\" is required");
		return -1;
	}
	if (mandate_scope_parse(r->cfg, json_object_get(r->body, "scope"), scope,
	    err, sizeof(err)) != 0) {
		request_reply_problem(r, 400, NULL, "%s", err);
		return -1;
	}
	if (mandates_expiry(r, expires, &g->expires_ms) != 0 ||
	    api_subject(r, g->local_id, subject, view_key) != 0)
		return -1;
	g->mediator = r->caller;
	g->subject = subject;
	g->scope = scope;
	return 0;
}

void
api_mandates_post(struct request *r)
{
	struct consent_signer signer = { r->gw->signer, r->gw->signer_kid };
	char subject[STORE_SUBJECT_LEN];
	unsigned char view_key[STORE_VIEW_KEY_LEN];
	struct mandate_scope scope;
	struct mandate_grant g;
	struct mandate_reply *mr;

	memset(&scope, 0, sizeof(scope));
	if (mandates_caller(r) != 0 || mandates_parse(r, &g, &scope,
	    subject, view_key) != 0) {
		mandate_scope_clear(&scope);
		return;
	}
	if ((mr = calloc(1, sizeof(*mr))) == NULL ||
	    mandate_grant(r->store, &signer, &g, clock_now_ms(), &mr->mandate,
	    &mr->receipt) != 0) {
		free(mr);
		mandate_scope_clear(&scope);
		request_reply_problem(r, 503, NULL, "the mandate could not be stored");
		return;
	}
	mandate_scope_clear(&scope);
	struct audit_entry e = {
		.type = AUDIT_MANDATE_GRANT,
		.consumer = r->caller->id,
		.subject = subject,
		.view_key = view_key,
		.decision = AUDIT_ALLOW,
		.mandate = mr->mandate.id,
		.mediator = r->caller->id,
		.helper = mr->mandate.helper,
	};
	request_audit_owned(r, &e, mandates_post_audited, mr,
	    mandate_reply_free);
}

/* ---- GET /v1/mandates?subject=ID -------------------------------------- */

void
api_mandates_get(struct request *r)
{
	const char *local_id = request_query(r, "subject");
	char subject[STORE_SUBJECT_LEN];
	struct store_mandate *list = NULL;
	int64_t now = clock_now_ms();
	json_t *items;
	size_t n = 0;

	if (mandates_caller(r) != 0)
		return;
	if (local_id == NULL || *local_id == '\0') {
		request_reply_problem(r, 400, NULL, "the query parameter subject is required");
		return;
	}
	if (api_subject(r, local_id, subject, NULL) != 0)
		return;
	if (store_mandate_find(r->store, subject, r->caller->id, &list, &n) !=
	    STORE_OK) {
		request_reply_problem(r, 503, NULL, "the store is unavailable");
		return;
	}
	items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, mandate_to_json(&list[i], local_id, now));
	store_mandates_free(list, n);
	request_reply_json(r, 200, json_pack("{s:o}", "mandates", items));
}

/* ---- DELETE /v1/mandates/{id} ----------------------------------------- */

static void
mandates_delete_audited(struct request *r, uint64_t index, void *arg)
{
	request_reply_empty(r, 204);
}

void
api_mandates_delete(struct request *r)
{
	unsigned char view_key[STORE_VIEW_KEY_LEN];
	struct store_mandate m;
	enum store_status st;

	if (mandates_caller(r) != 0)
		return;
	st = store_mandate_get(r->store, r->param, &m);
	/* Another mediator learns nothing, not even that it exists. */
	if (st == STORE_NOT_FOUND || (st == STORE_OK &&
	    strcmp(m.mediator, r->caller->id) != 0)) {
		store_mandate_clear(&m);
		request_reply_problem(r, 404, NULL, "no such mandate");
		return;
	}
	/* The view key first: a revocation must not go unaudited. */
	if (st != STORE_OK ||
	    store_view_key_get(r->store, m.subject, view_key) != STORE_OK ||
	    store_mandate_revoke(r->store, m.id, clock_now_ms()) == STORE_ERROR) {
		store_mandate_clear(&m);
		request_reply_problem(r, 503, NULL, "the store is unavailable");
		return;
	}
	struct audit_entry e = {
		.type = AUDIT_MANDATE_REVOKE,
		.consumer = m.mediator,
		.subject = m.subject,
		.view_key = view_key,
		.decision = AUDIT_ALLOW,
		.mandate = m.id,
		.mediator = m.mediator,
		.helper = m.helper,
	};
	request_audit(r, &e, mandates_delete_audited, NULL);
	store_mandate_clear(&m);
}
