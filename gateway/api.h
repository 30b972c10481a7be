/* api.h — the HTTP handlers, one file per resource (api_*.c). server.c's
 * route table maps method + path to these; each finishes the request with
 * one request_reply_*(). */
#ifndef TELLONCE_API_H
#define TELLONCE_API_H

#include "audit.h"
#include "config_model.h"
#include "encode.h"
#include "policy.h"
#include "request.h"
#include "store.h"

/* api_health.c */
void api_healthz(struct request *r);
void api_readyz(struct request *r);
void api_metrics(struct request *r);
/* api_openapi.c */
void api_openapi_get(struct request *r);
/* docs/openapi.yaml, built into the binary by the Makefile
 * (build/.../gen/openapi_yaml.c). */
extern const unsigned char api_openapi_yaml[];
extern const size_t api_openapi_yaml_len;
/* api_links.c */
void api_links_post(struct request *r);
/* api_erasures.c */
void api_links_delete(struct request *r);
void api_erasures_post(struct request *r);
/* api_register.c (admin token) */
void api_register_get(struct request *r);
/* api_consents.c */
void api_consents_post(struct request *r);
void api_consents_get(struct request *r);
void api_consents_delete(struct request *r);
void api_objections_post(struct request *r);
/* api_mandates.c (mediators, contract §8) */
void api_mandates_post(struct request *r);
void api_mandates_get(struct request *r);
void api_mandates_delete(struct request *r);
/* api_fetch.c */
void api_fetch_post(struct request *r);
/* api_audit.c */
void api_audit_checkpoint(struct request *r);
void api_audit_tile(struct request *r);
void api_audit_proof_inclusion(struct request *r);
void api_audit_proof_consistency(struct request *r);
void api_audit_entry(struct request *r);
void api_access_log(struct request *r);
/* api_keys.c */
void api_keys_audit_vkey(struct request *r);
void api_keys_jwks(struct request *r);
/* api_records.c */
void api_records_post(struct request *r);
/* Pushes of base's loop queued for a commit and not answered yet, plus 1
 * while that loop commits the queue: the loop must not stop before 0.
 * Called on base's thread. */
size_t api_records_pending(struct event_base *base);
/* api_changes.c */
void api_changes_get(struct request *r);
/* api_deliveries.c (admin token) */
void api_deliveries_get(struct request *r);
void api_deliveries_retry(struct request *r);

/* api_util.c — body and identity helpers shared by the handlers. Each
 * returns 0, or -1 after replying (400, 404 or 503), in which case the
 * handler just returns. */

#define API_LOCAL_ID_MAX 256

/* A string member of the body: required ones must be present and non-empty;
 * optional ones may be absent (*out = NULL). Control characters refused. */
int api_body_string(struct request *r, const char *key, int required,
    const char **out);
/* The optional "attributes" member asked of dataset ds: an array of
 * distinct names, no more than ds has, each short and without control
 * characters (the names go into the audit entry, which has a size limit).
 * *items malloc'd (free the array only). */
int api_body_attributes(struct request *r, const struct config_dataset *ds,
    const char ***items, size_t *n);
/* The subject (pseudonym) linked to the caller's local id and, with
 * view_key (else NULL), its view key from the same lookup; 404 with reason
 * subject_not_linked when there is none. */
int api_subject(struct request *r, const char *local_id,
    char subject[STORE_SUBJECT_LEN], unsigned char *view_key);
/* The dataset named by `name`; 400 if it is not in the config. */
int api_dataset(struct request *r, const char *name,
    const struct config_dataset **ds);
/* The service named by `name`; 400 if it is not in the config. */
int api_service(struct request *r, const char *field, const char *name,
    const struct config_service **svc);

/* An act of a mediator for a citizen (contract §8): the helper who acts
 * (required unless helper_optional) and the mandate named (optional),
 * from the body or, for a GET, the query. */
struct api_act {
	const char *helper;
	const char *mandate;
};
int api_act_parse(struct request *r, int helper_optional, struct api_act *act);
/* Decides the caller's act `action` (a STORE_MANDATE_* bit) on subject,
 * about dataset ds (or none), under act's mandate or any (policy.c).
 * *reason and *m as policy_mandate_decide gives them (clear *m). */
int api_act_decide(struct request *r, const struct api_act *act,
    const char *subject, unsigned action, const struct config_dataset *ds,
    enum policy_reason *reason, struct store_mandate *m);
/* The audit entry fields of an act under a mandate: the mediator, the
 * helper and the mandate that decided, if any. Borrows from act and m. */
void api_act_audit(struct request *r, const struct api_act *act,
    const struct store_mandate *m, struct audit_entry *e);

/* Listings page with one kind of cursor (docs/api.md, "Paging"): an
 * opaque string, the `next` of a page, passed back as `after`. It encodes
 * a position in the listing (a sequence number or an audit index) as
 * base64url of 8 bytes, big-endian. */
#define API_CURSOR_LEN ENCODE_BASE64_LEN(8)
void api_cursor_format(int64_t pos, char out[API_CURSOR_LEN]);
/* The cursor in query parameter `name`: 1 with *pos, 0 when absent (*pos
 * untouched), or -1 after replying 400. legacy: a decimal position, the
 * integer cursor of version 0.1, is taken too. */
int api_query_cursor(struct request *r, const char *name, int legacy,
    int64_t *pos);

#endif
