/* http.h — the http connector's settings, as the core fills them from the
 * service's `connector:` block (see http_keys in http.c), and its ops. */
#ifndef TELLONCE_HTTP_H
#define TELLONCE_HTTP_H

#include <stdint.h>

#include "connector.h"

/* Responses larger than this are refused (CONNECTOR_PERMANENT). */
#define HTTP_MAX_RESPONSE (4 * 1024 * 1024)
/* Longest local id accepted in a path; longer ones are CONNECTOR_PERMANENT. */
#define HTTP_MAX_LOCAL_ID 256

struct http_settings {
	char *base_url;                   /* "http://127.0.0.1:9001" */
	int64_t timeout_ms;               /* whole call, connect included */
	int64_t connect_timeout_ms;
	struct connector_endpoint fetch;  /* path template with {local_id} */
	struct connector_endpoint push;
	char *auth_header;                /* secret: sent as Authorization */
	char *ca;                         /* PEM file of CAs to trust (https) */
	char *client_cert;                /* secret: PEM certificate shown to it */
	char *client_key;                 /* secret: PEM key of client_cert */
	int insecure_skip_verify;         /* 1: no certificate check (loud) */
};

extern const struct connector_ops http_connector_ops;

/* What a service's complete answer means: its status code and body, for a
 * fetch (whose body must be a JSON object) or a push. res->body points
 * into body; res->detail, when set, is detail (detail_len bytes), which
 * names the status and never holds the body (it may hold personal data).
 * A function of its own so that it can be fuzzed without a network. */
void http_read_answer(long code, const char *body, size_t len, int fetch,
    struct connector_result *res, char *detail, size_t detail_len);

#endif
