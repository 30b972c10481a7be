/* request.h — one HTTP request, from intake to its one reply.
 *
 * A server worker (server.c) hands every request it accepts to
 * request_accept(), which gives it an id, routes it through the server's
 * route table, authenticates the caller, takes a rate-limit token and
 * parses the body, then calls the route's handler (api_*.c). A handler finishes the
 * request with exactly one request_reply_*() call, possibly later from a
 * callback on the same loop (after a provider call or an audit append).
 * The reply frees the request, with what request_alloc gave its handler. */
#ifndef TELLONCE_REQUEST_H
#define TELLONCE_REQUEST_H

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "log.h"
#include "trace.h"

#include "log.h"

struct audit_entry;
struct config;
struct config_service;
struct conn_table;
struct event_base;
struct gateway;
struct ratelimit;
struct request_spill;
struct snapshot;
struct store;

#define REQUEST_ID_LEN 37
/* request_alloc's bytes inside the request: a fetch's own objects (its
 * state, its audit hand-off, the names it audits) fit, so that the
 * request, with them, is one allocation of a size glibc keeps per thread. */
#define REQUEST_ARENA 640

struct request;

/* Who may call a route: anyone, a service (API key and/or client
 * certificate), the admin token, either of the last two (r->admin tells
 * which), or, for the audit log's tiles, checkpoint and proofs, anyone
 * while gateway.audit.public holds and the admin token otherwise. */
enum request_auth {
	REQUEST_ANYONE,
	REQUEST_SERVICE,
	REQUEST_ADMIN,
	REQUEST_SERVICE_OR_ADMIN,
	REQUEST_AUDIT_READER,
};

struct request_route {
	enum evhttp_cmd_type method;
	const char *path;            /* exact, or a prefix when it ends with '/' */
	enum request_auth auth;
	void (*handler)(struct request *r);
};

/* What a server worker lends every request it accepts; the worker owns
 * all of it and outlives its requests. */
struct request_worker {
	const struct request_route *routes;  /* the table served, static */
	size_t nroutes;
	struct gateway *gw;
	struct event_base *base;     /* the worker's loop */
	struct store *store;         /* the worker's connection */
	struct conn_table *conns;
	struct ratelimit *ratelimit; /* shared by all workers */
	int inflight;                /* requests accepted, not freed yet */
	TAILQ_HEAD(, request) requests;  /* those requests */
};

struct request {
	struct evhttp_request *req;
	struct request_worker *worker;
	struct gateway *gw;
	struct event_base *base;     /* the worker's loop */
	struct store *store;         /* the worker's connection */
	const struct config *cfg;    /* snap's, valid until the reply */
	struct snapshot *snap;       /* held until the reply */
	const struct config_service *caller;  /* NULL on anonymous routes */
	int admin;                   /* authenticated with the admin token */
	char id[REQUEST_ID_LEN];     /* X-Request-Id */
	struct trace trace;          /* the caller's trace, this request's span */
	int64_t started_us;          /* clock_mono_us() at intake */
	const char *path;            /* the route's pattern (NULL until routed) */
	char *param;                 /* the {id} segment of the route, or NULL; owned */
	struct evkeyvalq query;
	json_t *body;                /* parsed JSON body (POST), else NULL */
	TAILQ_ENTRY(request) link;   /* in worker->requests */
	int held;                    /* a reply now must not free r */
	struct request_spill *spill; /* request_alloc's blocks past the arena */
	size_t arena_used;
	max_align_t arena[REQUEST_ARENA / sizeof(max_align_t)];
};

/* Handles req on worker w with the config of snap (held for the request
 * from here to its reply). tls_only: the config serves TLS, so a request
 * that came in clear is refused. */
void request_accept(struct request_worker *w, struct snapshot *snap,
    int tls_only, struct evhttp_request *req);

/* Answers 503 to every request of w still waiting (on a provider, the
 * audit log), at the drain deadline of a stop. Each stays allocated until
 * its handler replies as usual; that reply then only frees it. */
void request_worker_abandon(struct request_worker *w);

/* ---- for handlers ---------------------------------------------------- */

/* Makes r's id (and trace) the context of this thread's log lines until
 * log_context_set(prev, NULL): for a handler's callback that runs outside
 * request.c, such as a provider's answer. The context is a copy: the
 * reply may free r in between. */
void request_log_enter(struct request *r, struct log_context *prev);

/* n zeroed bytes that live as long as r: its reply frees them with r, and
 * nothing else may. NULL when out of memory. */
void *request_alloc(struct request *r, size_t n);

/* The query parameter, or NULL. */
const char *request_query(struct request *r, const char *name);

/* Each reply frees r. body is stolen. */
void request_reply_json(struct request *r, int status, json_t *body);
/* The same with the JSON text already written, len bytes at text. */
void request_reply_json_text(struct request *r, int status, const char *text,
    size_t len);
/* RFC 9457 problem: type, title (from status), status, detail, and reason
 * when not NULL. detail never holds personal values. */
void request_reply_problem(struct request *r, int status, const char *reason,
    const char *detail_fmt, ...) __attribute__((format(printf, 4, 5)));
void request_reply_empty(struct request *r, int status);
/* Raw bytes with a content type and optional Cache-Control. */
void request_reply_raw(struct request *r, int status, const char *content_type,
    const void *data, size_t len, const char *cache_control);
/* Logs one line about r, prefixed with its request id and trace id so
 * that lines about one exchange can be found across services. */
void request_log(struct request *r, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Adds a response header (before the reply). */
void request_add_header(struct request *r, const char *name, const char *value);

/* Appends e to the audit log (filling ts and request_id when unset, and
 * leaving out a purpose or attribute names the configuration does not have:
 * a caller's free text has no place in a public entry) and,
 * once it is durable, calls then(r, index, arg) on this worker. If the log
 * cannot take it, replies 503 itself: nothing is exchanged unaudited. */
typedef void (*request_audited_fn)(struct request *r, uint64_t index, void *arg);
void request_audit(struct request *r, const struct audit_entry *e,
    request_audited_fn then, void *arg);
/* request_audit for an arg that owns memory: when then will not run (the
 * 503 above), release(arg) runs instead, before that reply (arg may be
 * request_alloc'd), so the handler's context is freed either way. */
void request_audit_owned(struct request *r, const struct audit_entry *e,
    request_audited_fn then, void *arg, void (*release)(void *));

#endif
