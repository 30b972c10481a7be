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

#endif
