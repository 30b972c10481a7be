/* connectors/http — services that speak HTTP/JSON, through libcurl's multi
 * interface driven by the worker's libevent loop, so a slow service never
 * blocks other requests. */
#include <stddef.h>
#include <stdint.h>

#include "connector.h"

struct http_settings {
	char *base_url;                   /* "http://127.0.0.1:9001" */
	int64_t timeout_ms;               /* whole call, connect included */
	int64_t connect_timeout_ms;
	struct connector_endpoint fetch;  /* path template with {local_id} */
	struct connector_endpoint push;
	char *auth_header;                /* secret: sent as Authorization */
	char *ca;                         /* PEM file of CAs to trust (https) */
};

static const struct connector_key http_keys[] = {
	{ "base_url", CONNECTOR_KEY_STRING, NULL, 1,
	  offsetof(struct http_settings, base_url),
	  "scheme, host and port of the service, e.g. http://127.0.0.1:9001" },
	{ "timeout", CONNECTOR_KEY_DURATION, "5s", 0,
	  offsetof(struct http_settings, timeout_ms),
	  "longest a call may take, connection included (504 past it)" },
	{ "connect_timeout", CONNECTOR_KEY_DURATION, "2s", 0,
	  offsetof(struct http_settings, connect_timeout_ms),
	  "longest the TCP/TLS connection may take" },
	{ "fetch", CONNECTOR_KEY_ENDPOINT, NULL, 0,
	  offsetof(struct http_settings, fetch),
	  "{method, path}: how to read a subject's record; {local_id} is URL-encoded" },
	{ "push", CONNECTOR_KEY_ENDPOINT, NULL, 0,
	  offsetof(struct http_settings, push),
	  "{method, path}: how to deliver a record to the service" },
	{ "auth_header", CONNECTOR_KEY_SECRET, NULL, 0,
	  offsetof(struct http_settings, auth_header),
	  "value of the Authorization header sent to the service (env: or file:)" },
	{ "ca", CONNECTOR_KEY_STRING, NULL, 0,
	  offsetof(struct http_settings, ca),
	  "PEM file of the CAs that sign the service's certificate (https)" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

const struct connector_ops http_connector_ops = {
	.abi_version = CONNECTOR_ABI_VERSION,
	.name = "http",
	.keys = http_keys,
	.settings_size = sizeof(struct http_settings),
};
