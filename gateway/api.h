/* api.h — the HTTP handlers, one file per resource (api_*.c). server.c's
 * route table maps method + path to these; each finishes the request with
 * one request_reply_*(). */
#ifndef TELLONCE_API_H
#define TELLONCE_API_H

#include "server.h"

/* api_health.c */
void api_healthz(struct request *r);
void api_readyz(struct request *r);
void api_metrics(struct request *r);
/* api_links.c */
void api_links_post(struct request *r);
/* api_consents.c */
void api_consents_post(struct request *r);
void api_consents_get(struct request *r);
void api_consents_delete(struct request *r);
void api_objections_post(struct request *r);
/* api_fetch.c */
void api_fetch_post(struct request *r);
/* api_audit.c */
void api_audit_checkpoint(struct request *r);
void api_audit_tile(struct request *r);
void api_audit_proof_inclusion(struct request *r);
void api_audit_proof_consistency(struct request *r);
void api_access_log(struct request *r);

#endif
