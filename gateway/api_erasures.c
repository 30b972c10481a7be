/* api_erasures.c — the subject's rights of contract §6:
 *
 *   POST   /v1/erasures          {subject} from a service (its local id),
 *                                {pivot} from the admin token: erasure
 *                                (GDPR art. 17) of every stored record,
 *                                delivery and dead letter about the
 *                                subject, and of its view key
 *   DELETE /v1/links/{local_id}  the caller's local id unlinked, its
 *                                consents with the caller revoked
 *
 * Both act first and audit after: what they do cannot wait on the audit
 * log, and an entry naming an erasure that did not happen would be false.
 * If the log refuses the entry the caller gets 503 and may ask again,
 * which erases nothing more and is audited then. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "clock.h"
#include "identity.h"
#include "metrics.h"
#include "retention.h"

/* The subjects an erasure is about: one for a service's local id, every
 * linked candidate of a pivot for the admin. Each gets its own entry. */
struct erasure {
	char subjects[IDENTITY_CANDIDATES][STORE_SUBJECT_LEN];
	int n, audited;
	uint64_t erased;
};

static void erasures_audit_next(struct request *r, struct erasure *er);

static void
erasures_audited(struct request *r, uint64_t index, void *arg)
{
	struct erasure *er = arg;

	if (++er->audited < er->n) {
		erasures_audit_next(r, er);
		return;
	}
	request_reply_json(r, 200, json_pack("{s:I, s:I}", "erased",
	    (json_int_t)er->erased, "audit_index", (json_int_t)index));
	free(er);
}

static void
erasures_audit_next(struct request *r, struct erasure *er)
{
	/* About no subject: its view key is gone with the erasure, and an
	 * entry that still committed to the subject would be the one thing
	 * left linking it. */
	struct audit_entry e = {
		.type = AUDIT_ERASURE,
		.consumer = r->caller ? r->caller->id : NULL,
		.decision = AUDIT_ALLOW,
		.reason = r->admin ? "admin" : NULL,
	};

	request_audit_owned(r, &e, erasures_audited, er, free);
}

/* The linked candidates of the admin's pivot; 0, or -1 after replying. */
static int
erasures_pivot_subjects(struct request *r, struct erasure *er)
{
	const struct secret *key = &r->cfg->gateway.pseudonym_key;
	struct identity_subject cands[IDENTITY_CANDIDATES];
	char err[256];
	int n;

	if (json_object_get(r->body, "subject") != NULL ||
	    !json_is_object(json_object_get(r->body, "pivot"))) {
		request_reply_problem(r, 400, NULL, "the admin names the subject "
		    "by \"pivot\" (an object), services by \"subject\"");
		return -1;
	}
	n = identity_subjects(key->data, key->len, json_object_get(r->body,
	    "pivot"), cands, err, sizeof(err));
	json_object_del(r->body, "pivot");
	if (n < 0) {
		request_reply_problem(r, 400, NULL, "pivot: %s", err);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		enum store_status st = store_subject_linked(r->store,
		    cands[i].subject, cands[i].version);

		if (st == STORE_ERROR) {
			request_reply_problem(r, 503, NULL, "the store is unavailable");
			return -1;
		}
		if (st == STORE_OK)
			memcpy(er->subjects[er->n++], cands[i].subject,
			    STORE_SUBJECT_LEN);
	}
	if (er->n == 0) {
		request_reply_problem(r, 404, "subject_not_linked", "no service "
		    "has linked this person");
		return -1;
	}
	return 0;
}

/* The subject of the service's local id; 0, or -1 after replying. */
static int
erasures_local_subject(struct request *r, struct erasure *er)
{
	const char *local_id;

	if (json_object_get(r->body, "pivot") != NULL) {
		request_reply_problem(r, 400, NULL, "a service names the subject "
		    "by \"subject\", its local id; \"pivot\" is for the admin");
		return -1;
	}
	if (api_body_string(r, "subject", 1, &local_id) != 0 ||
	    api_subject(r, local_id, er->subjects[0], NULL) != 0)
		return -1;
	er->n = 1;
	return 0;
}

void
api_erasures_post(struct request *r)
{
	struct erasure *er = calloc(1, sizeof(*er));

	if (er == NULL) {
		request_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	if ((r->admin ? erasures_pivot_subjects(r, er) :
	    erasures_local_subject(r, er)) != 0) {
		free(er);
		return;
	}
	for (int i = 0; i < er->n; i++) {
		uint64_t n;

		if (store_erase_subject(r->store, er->subjects[i], &n) != STORE_OK) {
			request_reply_problem(r, 503, NULL, "the store is unavailable");
			free(er);
			return;
		}
		er->erased += n;
	}
	metrics_erased(er->erased);
	/* Before the answer, so that the values are gone from the files when
	 * the caller hears they are; readers may hold it up, then the purge
	 * empties the log on its next run. */
	if (store_compact(r->store) != STORE_OK)
		retention_compact_later();
	erasures_audit_next(r, er);
}

static void
links_deleted(struct request *r, uint64_t index, void *arg)
{
	request_reply_empty(r, 204);
}

void
api_links_delete(struct request *r)
{
	char subject[STORE_SUBJECT_LEN];
	unsigned char view_key[STORE_VIEW_KEY_LEN];
	enum store_status st;

	if (*r->param == '\0' || strlen(r->param) > API_LOCAL_ID_MAX) {
		request_reply_problem(r, 400, NULL, "the local id must be 1 to %d "
		    "bytes", API_LOCAL_ID_MAX);
		return;
	}
	st = store_link_delete(r->store, r->caller->id, r->param,
	    clock_now_ms(), subject);
	if (st == STORE_NOT_FOUND) {
		request_reply_problem(r, 404, "subject_not_linked",
		    "this subject is not linked to your service");
		return;
	}
	if (st != STORE_OK) {
		request_reply_problem(r, 503, NULL, "the store is unavailable");
		return;
	}
	/* The subject stays, linked to other services: the entry commits to
	 * it under its view key like any other. */
	if (store_view_key_get(r->store, subject, view_key) != STORE_OK) {
		request_reply_problem(r, 503, NULL, "the store is unavailable");
		return;
	}
	struct audit_entry e = {
		.type = AUDIT_LINK_DELETE,
		.consumer = r->caller->id,
		.subject = subject,
		.view_key = view_key,
		.decision = AUDIT_ALLOW,
	};
	request_audit(r, &e, links_deleted, NULL);
}
