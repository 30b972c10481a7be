/* server.h — the inbound HTTP API: worker threads, routing, requests.
 *
 * Each worker thread runs one libevent loop with its own evhttp, its own
 * store connection and its own connector instances; a request is handled
 * start to finish on the worker that accepted it. Handlers (api_*.c) get a
 * `struct request` and finish it with exactly one request_reply_*() call,
 * possibly later from a callback on the same loop (after a provider call or
 * an audit append). The reply frees the request. */
#ifndef TELLONCE_SERVER_H
#define TELLONCE_SERVER_H

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>

#include "audit.h"
#include "config_model.h"
#include "connector.h"
#include "store.h"

#define REQUEST_ID_LEN 37

/* Process-wide state, created in main.c; lives as long as the process. */
struct gateway {
	const char *config_path;
	struct audit *audit;
	EVP_PKEY *signer;            /* Ed25519: checkpoints and consent receipts */
	char signer_kid[16];         /* hex key id, the JWS "kid" */
	struct server *server;
};

struct snapshot;                 /* one config + this worker's connector instances */

struct request {
	struct evhttp_request *req;
	struct gateway *gw;
	struct event_base *base;     /* the worker's loop */
	struct store *store;         /* the worker's connection */
	const struct config *cfg;    /* valid until the reply */
	struct snapshot *snap;
	const struct config_service *caller;  /* NULL on anonymous routes */
	int admin;                   /* authenticated with the admin token */
	char id[REQUEST_ID_LEN];     /* X-Request-Id */
	const char *path;            /* decoded path, no query */
	char *param;                 /* the {id} segment of the route, or NULL; owned */
	struct evkeyvalq query;
	json_t *body;                /* parsed JSON body (POST), else NULL */
};

/* Starts the listener and the worker threads for cfg. NULL with err. */
struct server *server_start(struct gateway *gw, struct config *cfg,
    char *err, size_t errlen);
/* Binds and listens on "host:port" or "[v6]:port"; the fd, or -1 with err.
 * For a start in two steps: bind as root, drop privileges, then
 * server_start_on(). */
int server_listen(const char *listen_spec, char *err, size_t errlen);
/* server_start on an fd from server_listen (taken, closed on failure). */
struct server *server_start_on(struct gateway *gw, struct config *cfg,
    int fd, char *err, size_t errlen);
/* Makes cfg current for new requests; requests in flight keep the old one.
 * Takes ownership of cfg. Returns 0, or -1 with err when its TLS
 * certificate or key cannot be used (the old config keeps serving). */
int server_swap_config(struct server *srv, struct config *cfg, char *err,
    size_t errlen);
/* The config currently served; borrowed, valid until the next swap. */
const struct config *server_config(struct server *srv);
/* Stops accepting, lets requests in flight finish (up to a grace period),
 * joins the workers, frees everything. */
void server_stop(struct server *srv);

/* ---- for handlers ---------------------------------------------------- */

/* The query parameter, or NULL. */
const char *request_query(struct request *r, const char *name);
/* The connector instance of `svc` on this worker (created on first use),
 * with its ops; NULL with err if the service has none or init failed. */
void *request_connector(struct request *r, const struct config_service *svc,
    const struct connector_ops **ops, char *err, size_t errlen);

/* Each reply frees r. body is stolen. */
void request_reply_json(struct request *r, int status, json_t *body);
/* RFC 9457 problem: type, title (from status), status, detail, and reason
 * when not NULL. detail never holds personal values. */
void request_reply_problem(struct request *r, int status, const char *reason,
    const char *detail_fmt, ...) __attribute__((format(printf, 4, 5)));
void request_reply_empty(struct request *r, int status);
/* Raw bytes with a content type and optional Cache-Control. */
void request_reply_raw(struct request *r, int status, const char *content_type,
    const void *data, size_t len, const char *cache_control);
/* Adds a response header (before the reply). */
void request_add_header(struct request *r, const char *name, const char *value);

/* Appends e to the audit log (filling ts and request_id when unset) and,
 * once it is durable, calls then(r, index, arg) on this worker. If the log
 * cannot take it, replies 503 itself: nothing is exchanged unaudited. */
typedef void (*request_audited_fn)(struct request *r, uint64_t index, void *arg);
void request_audit(struct request *r, const struct audit_entry *e,
    request_audited_fn then, void *arg);

#endif
