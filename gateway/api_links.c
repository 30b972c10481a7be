/* api_links.c — POST /v1/links: a service links its local id to a subject.
 *
 * The pivot identity is normalised and keyed into its candidate
 * pseudonyms here and then wiped: only (service, local_id) → pseudonym is
 * stored, and only the pseudonym reaches the audit log. */
#include <stdint.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "identity.h"
#include "jsonutil.h"

enum link_outcome { LINK_CREATED, LINK_EXISTED, LINK_CONFLICT };

static void
links_audited(struct request *r, uint64_t index, void *arg)
{
	enum link_outcome outcome = (enum link_outcome)(intptr_t)arg;

	if (outcome == LINK_CONFLICT) {
		request_reply_problem(r, 409, NULL,
		    "this local id or this subject is already linked differently");
		return;
	}
	request_reply_json(r, 201, json_pack("{s:s, s:b, s:I}",
	    "local_id", jsonutil_string(r->body, "local_id"),
	    "created", outcome == LINK_CREATED, "audit_index", (json_int_t)index));
}

void
api_links_post(struct request *r)
{
	const struct secret *key = &r->cfg->gateway.pseudonym_key;
	struct identity_subject subjects[IDENTITY_CANDIDATES];
	unsigned char view_key[STORE_VIEW_KEY_LEN];
	const char *local_id;
	enum store_status st;
	int n, chosen = 0, created = 0;
	char err[256];

	if (api_body_string(r, "local_id", 1, &local_id) != 0)
		return;
	if (strlen(local_id) > API_LOCAL_ID_MAX) {
		request_reply_problem(r, 400, NULL, "\"local_id\" is longer than %d bytes",
		    API_LOCAL_ID_MAX);
		return;
	}
	if (!json_is_object(json_object_get(r->body, "pivot"))) {
		request_reply_problem(r, 400, NULL, "\"pivot\" must be an object");
		return;
	}
	n = identity_subjects(key->data, key->len, json_object_get(r->body,
	    "pivot"), subjects, err, sizeof(err));
	/* The pivot values are no longer needed; drop them from the request. */
	json_object_del(r->body, "pivot");
	if (n < 0) {
		request_reply_problem(r, 400, NULL, "pivot: %s", err);
		return;
	}

	st = identity_link(r->store, r->caller->id, local_id, subjects, n,
	    &chosen, &created);
	if (st == STORE_ERROR) {
		request_reply_problem(r, 503, NULL, "the store is unavailable");
		return;
	}
	/* A first link draws the subject's view key. */
	if (store_view_key_get(r->store, subjects[chosen].subject, view_key) !=
	    STORE_OK) {
		request_reply_problem(r, 503, NULL, "the store is unavailable");
		return;
	}
	struct audit_entry e = {
		.type = AUDIT_LINK,
		.consumer = r->caller->id,
		.subject = subjects[chosen].subject,
		.view_key = view_key,
		.decision = st == STORE_OK ? AUDIT_ALLOW : AUDIT_DENY,
		.reason = st == STORE_OK ? NULL : "link_conflict",
	};
	request_audit(r, &e, links_audited, (void *)(intptr_t)(st != STORE_OK ?
	    LINK_CONFLICT : created ? LINK_CREATED : LINK_EXISTED));
}
