/* server.c — listener, worker threads, routing and the request lifecycle.
 *
 * N workers each run a libevent loop with an evhttp accepting on a dup of
 * one listening socket, a store connection and lazily created connector
 * instances. Configuration reloads are published as a new shared config;
 * each worker notices the change on its next request and moves to a new
 * per-worker snapshot, while requests in flight finish on the old one. A
 * snapshot (and its connector instances) is destroyed on its own worker
 * once its last request is done, so connectors never see two threads. */
#include "server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/thread.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "clock.h"
#include "conn.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "tls.h"

#define SERVER_DRAIN_MS 10000

/* A config shared by all workers; freed when the last snapshot lets go. */
struct shared_config {
	struct config *cfg;
	SSL_CTX *tls;              /* NULL: plain HTTP */
	atomic_int refs;
};

struct worker;

struct snapshot {
	struct shared_config *shared;
	struct worker *worker;
	void **instances;          /* per service index; NULL until first use */
	int refs;                  /* requests using it, +1 while current */
};

struct worker {
	struct server *srv;
	int index;
	pthread_t thread;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct store *store;
	struct conn_table *conns;
	struct snapshot *snap;
	unsigned generation;       /* of srv->current when snap was made */
	int inflight;
	int64_t drain_deadline;
	struct event *drain_ev;
};

struct server {
	struct gateway *gw;
	evutil_socket_t fd;
	int nworkers;
	struct worker *workers;
	pthread_mutex_t lock;      /* guards current */
	struct shared_config *current;
	atomic_uint generation;
	atomic_int stopping;
	atomic_int connections;    /* open client connections, all workers */
	struct ratelimit *ratelimit;
};

enum route_auth { ROUTE_ANYONE, ROUTE_SERVICE, ROUTE_ADMIN };

struct route {
	enum evhttp_cmd_type method;
	const char *path;          /* exact, or a prefix when it ends with '/' */
	enum route_auth auth;
	void (*handler)(struct request *r);
};

static const struct route server_routes[] = {
	{ EVHTTP_REQ_GET, "/healthz", ROUTE_ANYONE, api_healthz },
	{ EVHTTP_REQ_GET, "/readyz", ROUTE_ANYONE, api_readyz },
	{ EVHTTP_REQ_GET, "/metrics", ROUTE_ANYONE, api_metrics },
	{ EVHTTP_REQ_POST, "/v1/links", ROUTE_SERVICE, api_links_post },
	{ EVHTTP_REQ_POST, "/v1/consents", ROUTE_SERVICE, api_consents_post },
	{ EVHTTP_REQ_GET, "/v1/consents", ROUTE_SERVICE, api_consents_get },
	{ EVHTTP_REQ_DELETE, "/v1/consents/", ROUTE_SERVICE, api_consents_delete },
	{ EVHTTP_REQ_POST, "/v1/objections", ROUTE_SERVICE, api_objections_post },
	{ EVHTTP_REQ_POST, "/v1/fetch", ROUTE_SERVICE, api_fetch_post },
	{ EVHTTP_REQ_GET, "/v1/access-log", ROUTE_SERVICE, api_access_log },
	{ EVHTTP_REQ_POST, "/v1/records", ROUTE_SERVICE, api_records_post },
	{ EVHTTP_REQ_GET, "/v1/changes", ROUTE_SERVICE, api_changes_get },
	{ EVHTTP_REQ_GET, "/v1/deliveries", ROUTE_ADMIN, api_deliveries_get },
	{ EVHTTP_REQ_POST, "/v1/deliveries/", ROUTE_ADMIN, api_deliveries_retry },
	{ EVHTTP_REQ_GET, "/audit/checkpoint", ROUTE_ANYONE, api_audit_checkpoint },
	{ EVHTTP_REQ_GET, "/audit/tile/", ROUTE_ANYONE, api_audit_tile },
	{ EVHTTP_REQ_GET, "/v1/audit/proof/inclusion", ROUTE_ANYONE,
	  api_audit_proof_inclusion },
	{ EVHTTP_REQ_GET, "/v1/audit/proof/consistency", ROUTE_ANYONE,
	  api_audit_proof_consistency },
};

#define SERVER_NROUTES (sizeof(server_routes) / sizeof(server_routes[0]))

/* ---- configs and snapshots ------------------------------------------ */

/* Takes ownership of cfg, even on failure (NULL with err). */
static struct shared_config *
shared_config_new(struct config *cfg, char *err, size_t errlen)
{
	struct shared_config *sc = calloc(1, sizeof(*sc));

	if (sc == NULL) {
		snprintf(err, errlen, "out of memory");
		config_free(cfg);
		return NULL;
	}
	sc->cfg = cfg;
	atomic_init(&sc->refs, 1);
	if (cfg->gateway.tls.enabled &&
	    (sc->tls = tls_server_ctx_new(&cfg->gateway.tls, err, errlen)) == NULL) {
		config_free(cfg);
		free(sc);
		return NULL;
	}
	return sc;
}

static void
shared_config_unref(struct shared_config *sc)
{
	if (sc != NULL && atomic_fetch_sub(&sc->refs, 1) == 1) {
		SSL_CTX_free(sc->tls);
		config_free(sc->cfg);
		free(sc);
	}
}

/* Takes a reference on the server's current config. */
static struct shared_config *
server_current_ref(struct server *srv, unsigned *generation)
{
	struct shared_config *sc;

	pthread_mutex_lock(&srv->lock);
	sc = srv->current;
	atomic_fetch_add(&sc->refs, 1);
	*generation = atomic_load(&srv->generation);
	pthread_mutex_unlock(&srv->lock);
	return sc;
}

static void
snapshot_release(struct snapshot *snap)
{
	const struct config *cfg;

	if (snap == NULL || --snap->refs > 0)
		return;
	cfg = snap->shared->cfg;
	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct config_connector *cc = cfg->services[i].connector;

		if (snap->instances[i] != NULL)
			cc->ops->destroy(snap->instances[i]);
	}
	free(snap->instances);
	shared_config_unref(snap->shared);
	free(snap);
}

/* Moves the worker to the current config if a reload happened. */
static void
worker_refresh_snapshot(struct worker *w)
{
	struct snapshot *snap;
	unsigned gen;

	if (w->snap != NULL &&
	    w->generation == atomic_load(&w->srv->generation))
		return;
	snap = calloc(1, sizeof(*snap));
	if (snap == NULL)
		return;
	snap->shared = server_current_ref(w->srv, &gen);
	snap->instances = calloc(snap->shared->cfg->nservices + 1,
	    sizeof(*snap->instances));
	if (snap->instances == NULL) {
		shared_config_unref(snap->shared);
		free(snap);
		return;
	}
	snap->worker = w;
	snap->refs = 1;
	snapshot_release(w->snap);
	w->snap = snap;
	w->generation = gen;
}

/* ---- connector instances -------------------------------------------- */

void *
request_connector(struct request *r, const struct config_service *svc,
    const struct connector_ops **ops, char *err, size_t errlen)
{
	const struct config *cfg = r->snap->shared->cfg;
	size_t idx = (size_t)(svc - cfg->services);
	struct connector_env env;
	void **slot;

	if (svc->connector == NULL) {
		snprintf(err, errlen, "service %s has no connector", svc->id);
		return NULL;
	}
	*ops = svc->connector->ops;
	slot = &r->snap->instances[idx];
	if (*slot != NULL)
		return *slot;
	env.base = r->base;
	env.service = svc->id;
	env.log = log_printf;
	if ((*ops)->init(slot, svc->connector->settings, &env, err, errlen) != 0) {
		*slot = NULL;
		return NULL;
	}
	return *slot;
}

/* ---- replies ---------------------------------------------------------- */

static const char *
server_status_title(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Error";
	}
}

static void
request_free(struct request *r)
{
	struct worker *w = r->snap->worker;

	evhttp_clear_headers(&r->query);
	json_decref(r->body);
	free(r->param);
	snapshot_release(r->snap);
	w->inflight--;
	free(r);
}

static void
request_send(struct request *r, int status, struct evbuffer *body)
{
	conn_touch(r->snap->worker->conns, r->req,
	    r->cfg->gateway.limits.request_timeout_ms);
	evhttp_send_reply(r->req, status, server_status_title(status), body);
	metrics_http(r->path ? r->path : "unrouted", status);
	request_free(r);
}

void
request_add_header(struct request *r, const char *name, const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(r->req), name, value);
}

void
request_reply_raw(struct request *r, int status, const char *content_type,
    const void *data, size_t len, const char *cache_control)
{
	struct evbuffer *buf = evbuffer_new();

	if (content_type != NULL)
		request_add_header(r, "Content-Type", content_type);
	if (cache_control != NULL)
		request_add_header(r, "Cache-Control", cache_control);
	if (buf != NULL && len > 0)
		evbuffer_add(buf, data, len);
	request_send(r, status, buf);
	if (buf != NULL)
		evbuffer_free(buf);
}

void
request_reply_json(struct request *r, int status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);

	json_decref(body);
	if (text == NULL) {
		request_reply_problem(r, 500, NULL, "response could not be encoded");
		return;
	}
	request_add_header(r, "Cache-Control", "no-store");
	request_reply_raw(r, status, "application/json", text, strlen(text), NULL);
	free(text);
}

void
request_reply_problem(struct request *r, int status, const char *reason,
    const char *detail_fmt, ...)
{
	char detail[512], type[128];
	json_t *p;
	char *text;
	va_list ap;

	va_start(ap, detail_fmt);
	vsnprintf(detail, sizeof(detail), detail_fmt, ap);
	va_end(ap);
	snprintf(type, sizeof(type), "https://tellonce.example/problems/%s",
	    reason ? reason : "http-" "error");
	p = json_pack("{s:s, s:s, s:i, s:s}", "type", reason ? type : "about:blank",
	    "title", server_status_title(status), "status", status,
	    "detail", detail);
	if (reason != NULL)
		json_object_set_new(p, "reason", json_string(reason));
	json_object_set_new(p, "request_id", json_string(r->id));
	text = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	if (status == 401)
		request_add_header(r, "WWW-Authenticate", "Bearer realm=\"tellonce\"");
	request_add_header(r, "Cache-Control", "no-store");
	request_reply_raw(r, status, "application/problem+json", text,
	    text ? strlen(text) : 0, NULL);
	free(text);
}

void
request_reply_empty(struct request *r, int status)
{
	request_send(r, status, NULL);
}

const char *
request_query(struct request *r, const char *name)
{
	return evhttp_find_header(&r->query, name);
}

/* ---- audit ------------------------------------------------------------ */

struct request_audit_ctx {
	struct request *r;
	request_audited_fn then;
	void *arg;
};

static void
request_audit_done(int status, uint64_t index, void *arg)
{
	struct request_audit_ctx *ctx = arg;
	struct request *r = ctx->r;
	request_audited_fn then = ctx->then;
	void *then_arg = ctx->arg;

	free(ctx);
	if (status != 0) {
		log_error("request %s: audit append failed; reply withheld", r->id);
		request_reply_problem(r, 503, NULL, "the audit log is unavailable");
		return;
	}
	then(r, index, then_arg);
}

void
request_audit(struct request *r, const struct audit_entry *e,
    request_audited_fn then, void *arg)
{
	struct request_audit_ctx *ctx = malloc(sizeof(*ctx));
	struct audit_entry entry = *e;

	if (ctx == NULL) {
		request_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	ctx->r = r;
	ctx->then = then;
	ctx->arg = arg;
	if (entry.request_id == NULL)
		entry.request_id = r->id;
	audit_append_async(r->gw->audit, &entry, r->base, request_audit_done, ctx);
}

/* ---- request intake --------------------------------------------------- */

/* Keeps a caller's X-Request-Id when it is short and plain, so traces join
 * up across services; otherwise makes one. */
static void
request_set_id(struct request *r)
{
	const char *given = evhttp_find_header(
	    evhttp_request_get_input_headers(r->req), "X-Request-Id");
	unsigned char raw[16];
	size_t len;

	if (given != NULL && (len = strlen(given)) > 0 && len < REQUEST_ID_LEN &&
	    strspn(given, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-_.") == len) {
		memcpy(r->id, given, len + 1);
	} else {
		RAND_bytes(raw, sizeof(raw));
		raw[6] = (raw[6] & 0x0f) | 0x40;
		raw[8] = (raw[8] & 0x3f) | 0x80;
		snprintf(r->id, sizeof(r->id),
		    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		    raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7],
		    raw[8], raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15]);
	}
	request_add_header(r, "X-Request-Id", r->id);
}

static const char *
request_bearer(struct request *r)
{
	const char *h = evhttp_find_header(
	    evhttp_request_get_input_headers(r->req), "Authorization");

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? h : NULL;
}

static int
request_is_admin(const struct config *cfg, const char *token)
{
	unsigned char want[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH];

	SHA256(cfg->gateway.admin_token.data, cfg->gateway.admin_token.len, want);
	SHA256((const unsigned char *)token, strlen(token), got);
	return CRYPTO_memcmp(want, got, sizeof(want)) == 0;
}

static struct bufferevent *
request_bufferevent(struct request *r)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);

	return evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
}

/* The service the credentials name: an API key, a client certificate
 * (mTLS), or both. A service configured with both must present both, and
 * a key and a certificate of two different services name nobody. */
static const struct config_service *
request_service(struct request *r, const char *token)
{
	unsigned char hash[TLS_CERT_SHA256_LEN];
	const struct config_service *by_key = NULL, *by_cert = NULL, *svc;
	int has_cert = tls_peer_sha256(request_bufferevent(r), hash) == 0;

	if (token != NULL)
		by_key = config_find_service_by_key(r->cfg, token, strlen(token));
	if (has_cert)
		by_cert = config_find_service_by_cert(r->cfg, hash);
	if (token != NULL && by_key == NULL)
		return NULL;
	svc = by_key != NULL ? by_key : by_cert;
	if (svc == NULL || (by_cert != NULL && by_cert != svc))
		return NULL;
	if ((svc->has_api_key && by_key != svc) ||
	    (svc->has_client_cert && by_cert != svc))
		return NULL;
	return svc;
}

/* Returns 0 when the caller may go on; otherwise has replied 401. */
static int
request_authenticate(struct request *r, enum route_auth auth)
{
	const char *token;

	if (auth == ROUTE_ANYONE)
		return 0;
	token = request_bearer(r);
	if (token != NULL && auth == ROUTE_ADMIN && request_is_admin(r->cfg, token)) {
		r->admin = 1;
		return 0;
	}
	if (auth == ROUTE_SERVICE)
		r->caller = request_service(r, token);
	if (r->caller != NULL)
		return 0;
	request_reply_problem(r, 401, NULL, token == NULL &&
	    !tls_is_tls(request_bufferevent(r)) ?
	    "missing Authorization: Bearer credentials" :
	    "the credentials are not valid");
	return -1;
}

/* Takes a token from the caller's bucket and says so in RateLimit-*
 * headers (as API Particulier does). Returns 0, or -1 after replying 429. */
static int
request_rate_limit(struct request *r)
{
	const struct config_rate_limit *rl = &r->caller->rate_limit;
	struct ratelimit_verdict v;
	char text[32];

	if (rl->rate <= 0)
		return 0;
	ratelimit_take(r->snap->worker->srv->ratelimit, r->caller->id, rl->rate,
	    rl->burst, clock_mono_ms(), &v);
	snprintf(text, sizeof(text), "%ld", v.limit);
	request_add_header(r, "RateLimit-Limit", text);
	snprintf(text, sizeof(text), "%ld", v.remaining);
	request_add_header(r, "RateLimit-Remaining", text);
	snprintf(text, sizeof(text), "%ld", v.reset_s);
	request_add_header(r, "RateLimit-Reset", text);
	if (v.allowed)
		return 0;
	snprintf(text, sizeof(text), "%ld", v.retry_after_s);
	request_add_header(r, "Retry-After", text);
	request_reply_problem(r, 429, "rate_limited", "service %s is over its "
	    "rate limit; retry in %ld s", r->caller->id, v.retry_after_s);
	return -1;
}

/* Parses a JSON object body. Returns 0, or -1 after replying 400/413. */
static int
request_parse_body(struct request *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	json_error_t jerr;
	const char *data;

	if (len > r->cfg->gateway.limits.max_body) {
		request_reply_problem(r, 413, NULL,
		    "the body is larger than %zu bytes", r->cfg->gateway.limits.max_body);
		return -1;
	}
	/* An action such as POST /v1/deliveries/{id}/retry needs no body. */
	if (len == 0) {
		r->body = json_object();
		return 0;
	}
	data = (const char *)evbuffer_pullup(in, -1);
	r->body = json_loadb(data ? data : "", len, JSON_REJECT_DUPLICATES, &jerr);
	if (r->body == NULL) {
		request_reply_problem(r, 400, NULL, "malformed JSON at line %d column %d: %s",
		    jerr.line, jerr.column, jerr.text);
		return -1;
	}
	if (!json_is_object(r->body)) {
		request_reply_problem(r, 400, NULL, "the body must be a JSON object");
		return -1;
	}
	return 0;
}

static int
route_matches(const struct route *rt, const char *path, const char **param)
{
	size_t n = strlen(rt->path);

	*param = NULL;
	if (rt->path[n - 1] != '/')
		return strcmp(rt->path, path) == 0;
	if (strncmp(rt->path, path, n) != 0 || path[n] == '\0')
		return 0;
	*param = path + n;
	return 1;
}

static const struct route *
route_find(enum evhttp_cmd_type method, const char *path, const char **param,
    int *path_known)
{
	*path_known = 0;
	for (size_t i = 0; i < SERVER_NROUTES; i++) {
		if (!route_matches(&server_routes[i], path, param))
			continue;
		*path_known = 1;
		if (server_routes[i].method == method)
			return &server_routes[i];
	}
	return NULL;
}

static void
worker_dispatch(struct evhttp_request *req, void *arg)
{
	struct worker *w = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const struct route *rt;
	struct request *r;
	char *decoded = NULL;
	const char *param;
	int known;

	worker_refresh_snapshot(w);
	r = calloc(1, sizeof(*r));
	if (r == NULL || w->snap == NULL) {
		free(r);
		evhttp_send_error(req, 503, "Service Unavailable");
		return;
	}
	r->req = req;
	r->gw = w->srv->gw;
	r->base = w->base;
	r->store = w->store;
	r->snap = w->snap;
	r->snap->refs++;
	r->cfg = r->snap->shared->cfg;
	TAILQ_INIT(&r->query);
	w->inflight++;
	request_set_id(r);
	conn_touch(w->conns, req, r->cfg->gateway.limits.request_timeout_ms);
	/* Fail closed: nothing is served in clear when TLS is configured. */
	if (r->snap->shared->tls != NULL && !tls_is_tls(request_bufferevent(r))) {
		request_add_header(r, "Connection", "close");
		request_reply_problem(r, 400, NULL, "this gateway only speaks TLS");
		return;
	}

	if (uri != NULL && evhttp_uri_get_query(uri) != NULL &&
	    evhttp_parse_query_str(evhttp_uri_get_query(uri), &r->query) != 0) {
		request_reply_problem(r, 400, NULL, "malformed query string");
		return;
	}
	if (uri != NULL && evhttp_uri_get_path(uri) != NULL)
		decoded = evhttp_uridecode(evhttp_uri_get_path(uri), 0, NULL);
	rt = route_find(evhttp_request_get_command(req), decoded ? decoded : "",
	    &param, &known);
	if (rt == NULL) {
		free(decoded);
		if (known) {
			request_reply_problem(r, 405, NULL, "method not allowed on this path");
		} else {
			request_reply_problem(r, 404, NULL, "no such endpoint");
		}
		return;
	}
	/* The route pattern names the request in metrics; the raw path may
	 * hold ids. */
	r->path = rt->path;
	if (param != NULL && (r->param = strdup(param)) == NULL) {
		free(decoded);
		request_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	free(decoded);
	if (request_authenticate(r, rt->auth) != 0)
		return;
	if (r->caller != NULL && request_rate_limit(r) != 0)
		return;
	if (rt->method == EVHTTP_REQ_POST && request_parse_body(r) != 0)
		return;
	rt->handler(r);
}

/* ---- workers ------------------------------------------------------------ */

static void
worker_drain_check(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	if (w->inflight == 0 || clock_mono_ms() >= w->drain_deadline) {
		if (w->inflight > 0)
			log_warn("worker %d: stopping with %d requests in flight",
			    w->index, w->inflight);
		event_base_loopbreak(w->base);
		return;
	}
	struct timeval tick = { 0, 20000 };

	evtimer_add(w->drain_ev, &tick);
}

/* Runs on the worker: stop accepting, then wait for requests in flight. */
static void
worker_begin_drain(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	if (w->bound != NULL) {
		evhttp_del_accept_socket(w->http, w->bound);
		w->bound = NULL;
	}
	w->drain_deadline = clock_mono_ms() + SERVER_DRAIN_MS;
	worker_drain_check(fd, what, arg);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* evhttp's bevcb: every accepted connection gets its bufferevent here, TLS
 * or not as the current configuration says, and is counted. */
static struct bufferevent *
worker_new_connection(struct event_base *base, void *arg)
{
	struct worker *w = arg;
	const struct config_limits *lim;
	struct bufferevent *bev = NULL;
	SSL_CTX *tls;

	worker_refresh_snapshot(w);
	if (w->snap == NULL)
		return NULL;
	tls = w->snap->shared->tls;
	lim = &w->snap->shared->cfg->gateway.limits;
	if (tls != NULL)
		bev = tls_bufferevent_new(tls, base);
	/* Without a TLS bufferevent evhttp would make a plain one: take a
	 * plain one here and shut it at once (dispatch refuses it too). */
	if (bev == NULL)
		bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev != NULL)
		conn_open(w->conns, bev, lim->max_connections,
		    lim->request_timeout_ms, tls != NULL && !tls_is_tls(bev));
	return bev;
}

static void
worker_free(struct worker *w)
{
	if (w->http != NULL)
		evhttp_free(w->http);
	/* Let what evhttp_free left pending run once: a bufferevent with a
	 * deferred callback queued, or a connection accepted on the loop's
	 * last turn, is only released by its callback, and event_base_free
	 * does not run those. */
	if (w->base != NULL)
		event_base_loop(w->base, EVLOOP_NONBLOCK);
	conn_table_free(w->conns);
	snapshot_release(w->snap);
	if (w->drain_ev != NULL)
		event_free(w->drain_ev);
	if (w->base != NULL)
		event_base_free(w->base);
	if (w->store != NULL)
		store_close(w->store);
}

static int
worker_init(struct worker *w, const struct config *cfg, char *err, size_t errlen)
{
	int64_t idle_ms = cfg->gateway.limits.request_timeout_ms;
	struct timeval idle = { idle_ms / 1000, (idle_ms % 1000) * 1000 };
	evutil_socket_t fd;

	w->base = event_base_new();
	w->http = w->base ? evhttp_new(w->base) : NULL;
	w->drain_ev = w->base ? evtimer_new(w->base, worker_drain_check, w) : NULL;
	w->conns = w->base ? conn_table_new(w->base, &w->srv->connections) : NULL;
	if (w->http == NULL || w->drain_ev == NULL || w->conns == NULL) {
		snprintf(err, errlen, "cannot create the event loop");
		return -1;
	}
	w->store = store_open(cfg->gateway.store, err, errlen);
	if (w->store == NULL)
		return -1;
	evhttp_set_max_body_size(w->http, (ev_ssize_t)cfg->gateway.limits.max_body);
	evhttp_set_max_headers_size(w->http,
	    (ev_ssize_t)cfg->gateway.limits.max_headers);
	evhttp_set_timeout_tv(w->http, &idle);
	evhttp_set_bevcb(w->http, worker_new_connection, w);
	evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(w->http, worker_dispatch, w);
	fd = dup(w->srv->fd);
	if (fd < 0 || evutil_make_socket_nonblocking(fd) != 0 ||
	    (w->bound = evhttp_accept_socket_with_handle(w->http, fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "cannot accept on the listening socket");
		return -1;
	}
	return 0;
}

/* ---- listener ------------------------------------------------------------ */

/* Splits "host:port" or "[v6]:port" in place into host and port. */
static int
server_split_listen(char *spec, char **host, char **port)
{
	char *colon = strrchr(spec, ':');

	if (colon == NULL || colon[1] == '\0')
		return -1;
	*colon = '\0';
	*port = colon + 1;
	*host = spec;
	if (spec[0] == '[') {
		size_t n = strlen(spec);

		if (n < 2 || spec[n - 1] != ']')
			return -1;
		spec[n - 1] = '\0';
		*host = spec + 1;
	}
	return 0;
}

int
server_listen(const char *listen_spec, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char *spec = strdup(listen_spec), *host, *port;
	evutil_socket_t fd = -1;
	int one = 1, rc;

	if (spec == NULL || server_split_listen(spec, &host, &port) != 0) {
		snprintf(err, errlen, "listen: expected host:port, got %s", listen_spec);
		free(spec);
		return -1;
	}
	rc = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "listen %s: %s", listen_spec, gai_strerror(rc));
		free(spec);
		return -1;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
	/* TCP_NODELAY is inherited by accepted sockets; without it small
	 * responses wait on delayed ACKs (~40 ms under TLS). */
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
	    listen(fd, 1024) != 0) {
		snprintf(err, errlen, "listen %s: %s", listen_spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	free(spec);
	return fd;
}

/* ---- lifecycle ------------------------------------------------------------- */

static void
server_free(struct server *srv)
{
	for (int i = 0; i < srv->nworkers; i++)
		worker_free(&srv->workers[i]);
	free(srv->workers);
	if (srv->fd >= 0)
		close(srv->fd);
	shared_config_unref(srv->current);
	ratelimit_free(srv->ratelimit);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}

struct server *
server_start(struct gateway *gw, struct config *cfg, char *err, size_t errlen)
{
	int fd = server_listen(cfg->gateway.listen, err, errlen);

	if (fd < 0) {
		config_free(cfg);
		return NULL;
	}
	return server_start_on(gw, cfg, fd, err, errlen);
}

struct server *
server_start_on(struct gateway *gw, struct config *cfg, int fd, char *err,
    size_t errlen)
{
	struct server *srv = calloc(1, sizeof(*srv));
	int started = 0, nworkers = cfg->gateway.workers > 0 ?
	    cfg->gateway.workers : 1;

	if (srv == NULL) {
		config_free(cfg);
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->gw = gw;
	srv->fd = fd;
	pthread_mutex_init(&srv->lock, NULL);
	srv->ratelimit = ratelimit_new();
	srv->workers = calloc((size_t)nworkers, sizeof(*srv->workers));
	srv->current = shared_config_new(cfg, err, errlen);
	if (srv->current == NULL || srv->workers == NULL ||
	    srv->ratelimit == NULL) {
		if (srv->current != NULL)
			snprintf(err, errlen, "out of memory");
		server_free(srv);
		return NULL;
	}
	srv->nworkers = nworkers;
	for (int i = 0; i < srv->nworkers; i++) {
		struct worker *w = &srv->workers[i];

		w->srv = srv;
		w->index = i;
		if (worker_init(w, cfg, err, errlen) != 0)
			break;
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			snprintf(err, errlen, "cannot start worker thread");
			break;
		}
		started++;
	}
	if (started < srv->nworkers) {
		for (int i = 0; i < started; i++) {
			event_base_loopbreak(srv->workers[i].base);
			pthread_join(srv->workers[i].thread, NULL);
		}
		server_free(srv);
		return NULL;
	}
	gw->server = srv;
	log_info("listening on %s%s with %d workers", cfg->gateway.listen,
	    srv->current->tls ? " (TLS)" : "", srv->nworkers);
	return srv;
}

int
server_swap_config(struct server *srv, struct config *cfg, char *err,
    size_t errlen)
{
	struct shared_config *sc = shared_config_new(cfg, err, errlen), *old;

	if (sc == NULL)
		return -1;
	pthread_mutex_lock(&srv->lock);
	old = srv->current;
	srv->current = sc;
	atomic_fetch_add(&srv->generation, 1);
	pthread_mutex_unlock(&srv->lock);
	shared_config_unref(old);
	return 0;
}

const struct config *
server_config(struct server *srv)
{
	return srv->current->cfg;
}

void
server_stop(struct server *srv)
{
	for (int i = 0; i < srv->nworkers; i++)
		event_base_once(srv->workers[i].base, -1, EV_TIMEOUT,
		    worker_begin_drain, &srv->workers[i], NULL);
	for (int i = 0; i < srv->nworkers; i++)
		pthread_join(srv->workers[i].thread, NULL);
	server_free(srv);
}
