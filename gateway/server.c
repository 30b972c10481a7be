/* server.c — listener, worker threads, the route table and configuration
 * swaps.
 *
 * N workers each run a libevent loop with an evhttp accepting on a dup of
 * a listening socket of its own (SO_REUSEPORT: the kernel spreads new
 * connections between them; on one shared socket, the first worker to
 * wake took them all), and a store connection. Configuration reloads are
 * published as a new shared config (with its TLS context); each worker
 * notices the change on its next request or connection and moves to a new
 * snapshot (snapshot.h) of it, while requests in flight finish on the old
 * one. Everything about a request itself is request.c's.
 *
 * The admin listener (gateway.admin_listen), when configured, is a second
 * evhttp on worker 0's loop: plain HTTP on loopback, no client
 * certificate, serving only server_admin_route_table (health, metrics and
 * the admin-token endpoints), with its own small connection budget so a
 * flood on the main listener cannot lock operators out. */
#include "server.h"

#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "audit.h"
#include "clock.h"
#include "conn.h"
#include "fdlimit.h"
#include "gateway.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "request.h"
#include "snapshot.h"
#include "store.h"
#include "tls.h"

#define SERVER_DRAIN_MS 10000

/* A config shared by all workers, with its TLS context; freed when the
 * server and the last worker let go. */
struct shared_config {
	struct config *cfg;
	SSL_CTX *tls;              /* NULL: plain HTTP */
	atomic_int refs;
};

struct worker {
	struct request_worker rw;  /* lent to every request it accepts */
	struct server *srv;
	int index;
	pthread_t thread;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct shared_config *shared;  /* held: the config served, its TLS */
	struct snapshot *snap;     /* held: shared's config on this loop */
	unsigned generation;       /* of srv->current when snap was made */
	int64_t drain_deadline;
	int abandoned;             /* requests waiting at the deadline answered */
	int drain_late;            /* past the deadline, said so */
	int drain_done;            /* at the last tick, nothing held the stop */
	struct event *drain_ev;
	atomic_uint answered;      /* the last liveness probe this loop ran */
	/* Worker 0 only, with an admin listener: */
	struct request_worker admin_rw;
	struct evhttp *admin_http;
	struct evhttp_bound_socket *admin_bound;
};

struct server {
	struct gateway *gw;
	int *fds;                  /* the listening sockets; worker i's is */
	int nfds;                  /* fds[i % nfds] */
	evutil_socket_t admin_fd;  /* -1: no admin listener */
	struct conn_shared *admin_conns;  /* its connection counts */
	int nworkers;
	struct worker *workers;
	pthread_mutex_t lock;      /* guards current */
	struct shared_config *current;
	atomic_uint generation;
	atomic_int stopping;
	struct conn_shared *conns; /* connection counts, all workers */
	int fd_ceiling;            /* client descriptors stay below it */
	atomic_uint probe;         /* the last liveness probe sent */
	struct ratelimit *ratelimit;
};

/* Routes for operators, served on both listeners. */
#define SERVER_HEALTH_ROUTES \
	{ EVHTTP_REQ_GET, "/healthz", REQUEST_ANYONE, api_healthz }, \
	{ EVHTTP_REQ_GET, "/readyz", REQUEST_ANYONE, api_readyz }, \
	{ EVHTTP_REQ_GET, "/metrics", REQUEST_ANYONE, api_metrics }
#define SERVER_ADMIN_ROUTES \
	{ EVHTTP_REQ_GET, "/v1/deliveries", REQUEST_ADMIN, api_deliveries_get }, \
	{ EVHTTP_REQ_POST, "/v1/deliveries/", REQUEST_ADMIN, \
	  api_deliveries_retry }, \
	{ EVHTTP_REQ_GET, "/v1/register", REQUEST_ADMIN, api_register_get }

static const struct request_route server_route_table[] = {
	SERVER_HEALTH_ROUTES,
	{ EVHTTP_REQ_GET, "/openapi.yaml", REQUEST_ANYONE, api_openapi_get },
	{ EVHTTP_REQ_POST, "/v1/links", REQUEST_SERVICE, api_links_post },
	{ EVHTTP_REQ_DELETE, "/v1/links/", REQUEST_SERVICE, api_links_delete },
	{ EVHTTP_REQ_POST, "/v1/erasures", REQUEST_SERVICE_OR_ADMIN,
	  api_erasures_post },
	{ EVHTTP_REQ_POST, "/v1/consents", REQUEST_SERVICE, api_consents_post },
	{ EVHTTP_REQ_GET, "/v1/consents", REQUEST_SERVICE, api_consents_get },
	{ EVHTTP_REQ_DELETE, "/v1/consents/", REQUEST_SERVICE,
	  api_consents_delete },
	{ EVHTTP_REQ_POST, "/v1/mandates", REQUEST_SERVICE, api_mandates_post },
	{ EVHTTP_REQ_GET, "/v1/mandates", REQUEST_SERVICE, api_mandates_get },
	{ EVHTTP_REQ_DELETE, "/v1/mandates/", REQUEST_SERVICE,
	  api_mandates_delete },
	{ EVHTTP_REQ_POST, "/v1/objections", REQUEST_SERVICE,
	  api_objections_post },
	{ EVHTTP_REQ_POST, "/v1/fetch", REQUEST_SERVICE, api_fetch_post },
	{ EVHTTP_REQ_GET, "/v1/access-log", REQUEST_SERVICE, api_access_log },
	{ EVHTTP_REQ_POST, "/v1/records", REQUEST_SERVICE, api_records_post },
	{ EVHTTP_REQ_GET, "/v1/changes", REQUEST_SERVICE, api_changes_get },
	SERVER_ADMIN_ROUTES,
	{ EVHTTP_REQ_GET, "/audit/checkpoint", REQUEST_AUDIT_READER,
	  api_audit_checkpoint },
	{ EVHTTP_REQ_GET, "/audit/tile/", REQUEST_AUDIT_READER, api_audit_tile },
	{ EVHTTP_REQ_GET, "/v1/audit/proof/inclusion", REQUEST_AUDIT_READER,
	  api_audit_proof_inclusion },
	{ EVHTTP_REQ_GET, "/v1/audit/proof/consistency", REQUEST_AUDIT_READER,
	  api_audit_proof_consistency },
	{ EVHTTP_REQ_GET, "/v1/audit/entry", REQUEST_AUDIT_READER,
	  api_audit_entry },
	{ EVHTTP_REQ_GET, "/.well-known/tellonce/audit-vkey", REQUEST_ANYONE,
	  api_keys_audit_vkey },
	{ EVHTTP_REQ_GET, "/.well-known/jwks.json", REQUEST_ANYONE,
	  api_keys_jwks },
};

#define SERVER_NROUTES \
	(sizeof(server_route_table) / sizeof(server_route_table[0]))

/* What operators reach on the admin listener, and nothing a service
 * calls: no personal data is served there. */
static const struct request_route server_admin_route_table[] = {
	SERVER_HEALTH_ROUTES,
	SERVER_ADMIN_ROUTES,
};

const struct request_route *
server_routes(size_t *n)
{
	*n = SERVER_NROUTES;
	return server_route_table;
}

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
	/* A config that gets this far is the one served next. */
	metrics_tls_not_after(sc->tls != NULL ? tls_not_after(sc->tls) : 0);
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

/* Moves the worker to the current config if a reload happened. */
static void
worker_refresh_snapshot(struct worker *w)
{
	struct shared_config *sc;
	struct snapshot *snap;
	unsigned gen;

	if (w->snap != NULL &&
	    w->generation == atomic_load(&w->srv->generation))
		return;
	sc = server_current_ref(w->srv, &gen);
	if ((snap = snapshot_new(config_ref(sc->cfg), w->rw.base)) == NULL) {
		shared_config_unref(sc);
		return;
	}
	snapshot_release(w->snap);
	shared_config_unref(w->shared);
	w->snap = snap;
	w->shared = sc;
	w->generation = gen;
}

/* Hands req to request.c on the current snapshot: as the main listener's
 * (TLS only when the config serves TLS) or as the admin listener's. */
static void
worker_serve(struct worker *w, int admin, struct evhttp_request *req)
{
	worker_refresh_snapshot(w);
	if (w->snap == NULL) {
		evhttp_send_error(req, 503, "Service Unavailable");
		return;
	}
	if (admin)
		request_accept(&w->admin_rw, w->snap, 0, req);
	else
		request_accept(&w->rw, w->snap, w->shared->tls != NULL, req);
}

static void
worker_dispatch(struct evhttp_request *req, void *arg)
{
	worker_serve(arg, 0, req);
}

static void
worker_admin_dispatch(struct evhttp_request *req, void *arg)
{
	worker_serve(arg, 1, req);
}

/* ---- workers ------------------------------------------------------------ */

/* Requests get SERVER_DRAIN_MS to finish; those still waiting then are
 * answered 503, and their handlers get as long again to let go of them
 * (a provider call ends at its timeout, an audit append when written).
 * The loop never stops while an audit append of its own is pending,
 * though: the sequencer would post the completion to a freed loop (a
 * frozen audit disk holds the stop until it answers); nor while a push
 * of its own waits for another worker's commit, or it commits the queue.
 * And the condition must hold at two ticks in a row: replies queued in
 * this turn (an audit completion runs in the same turn as this check) are
 * written out by the next one, not lost to evhttp_free. */
static void
worker_drain_check(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	size_t audits = audit_pending(w->srv->gw->audit, w->rw.base) +
	    api_records_pending(w->rw.base);
	int64_t now = clock_mono_ms();
	int inflight = w->rw.inflight + w->admin_rw.inflight, done;

	if (inflight > 0 && now >= w->drain_deadline && !w->abandoned) {
		log_warn("worker %d: %d requests still waiting at the drain "
		    "deadline: answered 503", w->index, inflight);
		request_worker_abandon(&w->rw);
		if (w->admin_http != NULL)
			request_worker_abandon(&w->admin_rw);
		w->abandoned = 1;
	}
	inflight = w->rw.inflight + w->admin_rw.inflight;
	done = (inflight == 0 ||
	    now >= w->drain_deadline + SERVER_DRAIN_MS) && audits == 0;
	if (done && w->drain_done) {
		if (inflight > 0)
			log_warn("worker %d: stopping with %d requests in flight",
			    w->index, inflight);
		event_base_loopbreak(w->rw.base);
		return;
	}
	w->drain_done = done;
	if (audits > 0 && now >= w->drain_deadline + SERVER_DRAIN_MS &&
	    !w->drain_late) {
		w->drain_late = 1;
		log_warn("worker %d: waiting for %zu audit appends to stop",
		    w->index, audits);
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
		conn_table_set_listener(w->rw.conns, NULL);
		evhttp_del_accept_socket(w->http, w->bound);
		w->bound = NULL;
	}
	if (w->admin_bound != NULL) {
		conn_table_set_listener(w->admin_rw.conns, NULL);
		evhttp_del_accept_socket(w->admin_http, w->admin_bound);
		w->admin_bound = NULL;
	}
	w->drain_deadline = clock_mono_ms() + SERVER_DRAIN_MS;
	worker_drain_check(fd, what, arg);
}

/* "worker/N" in top -H, ps -L and perf's comm column. */
static void
server_name_worker(const struct worker *w)
{
	char name[16];

	snprintf(name, sizeof(name), "worker/%d", w->index);
	pthread_setname_np(w->thread, name);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	conn_table_set_listener(w->rw.conns,
	    evhttp_bound_socket_get_listener(w->bound));
	if (w->admin_bound != NULL)
		conn_table_set_listener(w->admin_rw.conns,
		    evhttp_bound_socket_get_listener(w->admin_bound));
	event_base_loop(w->rw.base, EVLOOP_NO_EXIT_ON_EMPTY);
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
	tls = w->shared->tls;
	lim = &w->snap->cfg->gateway.limits;
	if (tls != NULL)
		bev = tls_bufferevent_new(tls, base);
	/* Without a TLS bufferevent evhttp would make a plain one: take a
	 * plain one here and shut it at once (dispatch refuses it too). */
	if (bev == NULL)
		bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev != NULL)
		conn_open(w->rw.conns, bev, lim, tls != NULL && !tls_is_tls(bev));
	return bev;
}

/* The admin listener's bevcb: plain, counted apart from the main
 * listener's connections. */
static struct bufferevent *
worker_new_admin_connection(struct event_base *base, void *arg)
{
	struct worker *w = arg;
	struct config_limits lim;
	struct bufferevent *bev;

	worker_refresh_snapshot(w);
	if (w->snap == NULL)
		return NULL;
	/* The config's deadlines, and a budget of its own: every client of
	 * it comes from the one loopback address. */
	lim = w->snap->cfg->gateway.limits;
	lim.max_connections = FDLIMIT_ADMIN_CONNECTIONS;
	lim.max_connections_per_address = FDLIMIT_ADMIN_CONNECTIONS;
	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev != NULL)
		conn_open(w->admin_rw.conns, bev, &lim, 0);
	return bev;
}

static void
worker_free(struct worker *w)
{
	if (w->admin_http != NULL)
		evhttp_free(w->admin_http);
	if (w->http != NULL)
		evhttp_free(w->http);
	/* Let what evhttp_free left pending run once: a bufferevent with a
	 * deferred callback queued, or a connection accepted on the loop's
	 * last turn, is only released by its callback, and event_base_free
	 * does not run those. */
	if (w->rw.base != NULL)
		event_base_loop(w->rw.base, EVLOOP_NONBLOCK);
	conn_table_free(w->rw.conns);
	conn_table_free(w->admin_rw.conns);
	snapshot_release(w->snap);
	shared_config_unref(w->shared);
	if (w->drain_ev != NULL)
		event_free(w->drain_ev);
	if (w->rw.base != NULL)
		event_base_free(w->rw.base);
	if (w->rw.store != NULL)
		store_close(w->rw.store);
}

/* An evhttp on w's loop with the limits of cfg, calling cb for every
 * request and bevcb for every connection; NULL when out of memory. */
static struct evhttp *
worker_http_new(struct worker *w, const struct config *cfg,
    void (*cb)(struct evhttp_request *, void *),
    struct bufferevent *(*bevcb)(struct event_base *, void *))
{
	int64_t idle_ms = cfg->gateway.limits.request_timeout_ms;
	struct timeval idle = { idle_ms / 1000, (idle_ms % 1000) * 1000 };
	struct evhttp *http = evhttp_new(w->rw.base);

	if (http == NULL)
		return NULL;
	evhttp_set_max_body_size(http, (ev_ssize_t)cfg->gateway.limits.max_body);
	/* A body over max_body is read and dropped before the 413: closing
	 * on it unread resets the connection, and a client still sending
	 * never reads the answer. The request deadline bounds the reading. */
	evhttp_set_flags(http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_max_headers_size(http,
	    (ev_ssize_t)cfg->gateway.limits.max_headers);
	evhttp_set_timeout_tv(http, &idle);
	evhttp_set_bevcb(http, bevcb, w);
	/* Every method a path may be asked with reaches the router, which
	 * answers 405 with Allow and a problem; evhttp's own refusal is a 501
	 * in HTML without X-Request-Id. */
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH | EVHTTP_REQ_TRACE);
	evhttp_set_gencb(http, cb, w);
	return http;
}

/* Accepts on listening socket fd, which stays the server's (server_free
 * closes it after the loops are gone): a dup closed by the listener would
 * leave its epoll registration to the server's copy (server_loop_new). The
 * bound socket, or NULL. */
static struct evhttp_bound_socket *
worker_accept_on(struct event_base *base, struct evhttp *http,
    evutil_socket_t fd)
{
	struct evconnlistener *l;
	struct evhttp_bound_socket *bound;

	if (evutil_make_socket_nonblocking(fd) != 0 ||
	    (l = evconnlistener_new(base, NULL, NULL,
	    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 0, fd)) == NULL)
		return NULL;
	if ((bound = evhttp_bind_listener(http, l)) == NULL)
		evconnlistener_free(l);
	return bound;
}

/* Worker 0's admin listener, when the server has one. */
static int
worker_init_admin(struct worker *w, const struct config *cfg, char *err,
    size_t errlen)
{
	w->admin_rw = w->rw;
	w->admin_rw.routes = server_admin_route_table;
	w->admin_rw.nroutes = sizeof(server_admin_route_table) /
	    sizeof(server_admin_route_table[0]);
	w->admin_rw.inflight = 0;
	TAILQ_INIT(&w->admin_rw.requests);
	w->admin_rw.conns = conn_table_new(w->rw.base, w->srv->admin_conns,
	    w->srv->fd_ceiling);
	w->admin_http = worker_http_new(w, cfg, worker_admin_dispatch,
	    worker_new_admin_connection);
	if (w->admin_rw.conns == NULL || w->admin_http == NULL) {
		snprintf(err, errlen, "cannot create the admin listener");
		return -1;
	}
	if ((w->admin_bound = worker_accept_on(w->rw.base, w->admin_http,
	    w->srv->admin_fd)) == NULL) {
		snprintf(err, errlen, "cannot accept on the admin listener");
		return -1;
	}
	return 0;
}

/* A worker's loop, which applies its changes to the fds it watches once
 * per turn: evhttp turns a connection's read and write on and off twice
 * per request, one epoll_ctl each without it. Sound only while none of
 * those fds is a dup of one that stays open: epoll forgets a closed fd
 * only once its file is, and the change to forget it comes after. */
static struct event_base *
server_loop_new(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *base = NULL;

	if (ec != NULL &&
	    event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) == 0)
		base = event_base_new_with_config(ec);
	if (ec != NULL)
		event_config_free(ec);
	return base;
}

static int
worker_init(struct worker *w, const struct config *cfg, char *err, size_t errlen)
{
	w->rw.base = server_loop_new();
	w->http = w->rw.base ? worker_http_new(w, cfg, worker_dispatch,
	    worker_new_connection) : NULL;
	w->drain_ev = w->rw.base ? evtimer_new(w->rw.base, worker_drain_check, w) : NULL;
	w->rw.conns = w->rw.base ? conn_table_new(w->rw.base, w->srv->conns,
	    w->srv->fd_ceiling) : NULL;
	if (w->http == NULL || w->drain_ev == NULL || w->rw.conns == NULL) {
		snprintf(err, errlen, "cannot create the event loop");
		return -1;
	}
	w->rw.store = store_open(cfg->gateway.store,
	    (const char *)cfg->gateway.store_password.data, err, errlen);
	if (w->rw.store == NULL)
		return -1;
	if ((w->bound = worker_accept_on(w->rw.base, w->http,
	    w->srv->fds[w->index % w->srv->nfds])) == NULL) {
		snprintf(err, errlen, "cannot accept on the listening socket");
		return -1;
	}
	if (w->index == 0 && w->srv->admin_fd >= 0)
		return worker_init_admin(w, cfg, err, errlen);
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

/* One listening socket on addr; with `share`, one of a group that the
 * kernel spreads new connections over (SO_REUSEPORT). The fd, or -1. */
static int
server_listen_one(const struct sockaddr *addr, socklen_t len, int share)
{
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	/* TCP_NODELAY is inherited by accepted sockets; without it small
	 * responses wait on delayed ACKs (~40 ms under TLS). */
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (share && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof(one)) != 0) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    bind(fd, addr, len) != 0 || listen(fd, 1024) != 0) {
		int saved = errno;

		if (fd >= 0)
			close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Whether something already listens on addr: a plain bind fails beside
 * any socket bound there, shared or not, so a second gateway on the same
 * port is refused as it was with one socket, not let into the group. */
static int
server_port_taken(const struct sockaddr *addr, socklen_t len)
{
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	int rc = fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, addr, len) != 0 ? -1 : 0;
	int saved = errno;

	if (fd >= 0)
		close(fd);
	errno = saved;
	return rc;
}

static void
server_close_all(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Opens the n sockets at addr; port 0 is the first one's for the rest. */
static int
server_listen_all(struct sockaddr_storage *addr, socklen_t len, int n,
    int *fds)
{
	for (int i = 0; i < n; i++) {
		socklen_t got = len;

		if ((fds[i] = server_listen_one((struct sockaddr *)addr, len,
		    n > 1)) < 0)
			return -1;
		if (i == 0 && getsockname(fds[0], (struct sockaddr *)addr,
		    &got) != 0)
			return -1;
	}
	return 0;
}

int
server_listen(const char *listen_spec, int n, int *fds, char *err,
    size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	struct sockaddr_storage addr;
	char *spec = strdup(listen_spec), *host, *port;
	socklen_t len;
	int rc;

	if (spec == NULL || server_split_listen(spec, &host, &port) != 0) {
		snprintf(err, errlen, "listen: expected host:port, got %s", listen_spec);
		free(spec);
		return -1;
	}
	rc = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	free(spec);
	if (rc != 0) {
		snprintf(err, errlen, "listen %s: %s", listen_spec, gai_strerror(rc));
		return -1;
	}
	for (int i = 0; i < n; i++)
		fds[i] = -1;
	len = res->ai_addrlen;
	memcpy(&addr, res->ai_addr, len);
	freeaddrinfo(res);
	if ((n > 1 && server_port_taken((struct sockaddr *)&addr, len) != 0) ||
	    server_listen_all(&addr, len, n, fds) != 0) {
		snprintf(err, errlen, "listen %s: %s", listen_spec, strerror(errno));
		server_close_all(fds, n);
		return -1;
	}
	return 0;
}

/* ---- lifecycle ------------------------------------------------------------- */

int
server_workers(const struct config *cfg)
{
	return cfg->gateway.workers > 0 ? cfg->gateway.workers : 1;
}

static void
server_free(struct server *srv)
{
	for (int i = 0; i < srv->nworkers; i++)
		worker_free(&srv->workers[i]);
	free(srv->workers);
	server_close_all(srv->fds, srv->nfds);
	free(srv->fds);
	if (srv->admin_fd >= 0)
		close(srv->admin_fd);
	shared_config_unref(srv->current);
	ratelimit_free(srv->ratelimit);
	conn_shared_free(srv->conns);
	conn_shared_free(srv->admin_conns);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}

struct server *
server_start_on(struct gateway *gw, struct config *cfg, const int *fds,
    int nfds, int admin_fd, char *err, size_t errlen)
{
	struct server *srv = calloc(1, sizeof(*srv));
	int started = 0, nworkers = server_workers(cfg);

	if (srv == NULL || (srv->fds = malloc((size_t)nfds *
	    sizeof(*srv->fds))) == NULL) {
		free(srv);
		config_free(cfg);
		server_close_all(fds, nfds);
		if (admin_fd >= 0)
			close(admin_fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->gw = gw;
	memcpy(srv->fds, fds, (size_t)nfds * sizeof(*fds));
	srv->nfds = nfds;
	srv->admin_fd = admin_fd;
	pthread_mutex_init(&srv->lock, NULL);
	srv->ratelimit = ratelimit_new();
	srv->conns = conn_shared_new();
	srv->admin_conns = admin_fd >= 0 ? conn_shared_new() : NULL;
	srv->fd_ceiling = (int)(fdlimit_raise() - FDLIMIT_AUDIT_RESERVE);
	srv->workers = calloc((size_t)nworkers, sizeof(*srv->workers));
	srv->current = shared_config_new(cfg, err, errlen);
	if (srv->current == NULL || srv->workers == NULL ||
	    srv->ratelimit == NULL || srv->conns == NULL ||
	    (admin_fd >= 0 && srv->admin_conns == NULL)) {
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
		w->rw.routes = server_route_table;
		w->rw.nroutes = SERVER_NROUTES;
		w->rw.gw = gw;
		w->rw.ratelimit = srv->ratelimit;
		TAILQ_INIT(&w->rw.requests);
		if (worker_init(w, cfg, err, errlen) != 0)
			break;
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			snprintf(err, errlen, "cannot start worker thread");
			break;
		}
		server_name_worker(w);
		started++;
	}
	if (started < srv->nworkers) {
		for (int i = 0; i < started; i++) {
			event_base_loopbreak(srv->workers[i].rw.base);
			pthread_join(srv->workers[i].thread, NULL);
		}
		server_free(srv);
		return NULL;
	}
	gw->server = srv;
	log_info("listening on %s%s with %d workers", cfg->gateway.listen,
	    srv->current->tls ? " (TLS)" : "", srv->nworkers);
	if (admin_fd >= 0)
		log_info("admin listener on %s (plain HTTP: health, metrics, "
		    "admin token)", cfg->gateway.admin_listen);
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

/* Runs on the worker's loop: the loop is turning. */
static void
worker_answer_probe(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	atomic_store(&w->answered, atomic_load(&w->srv->probe));
}

int
server_alive(struct server *srv)
{
	unsigned probe = atomic_load(&srv->probe);
	int alive = 1;

	for (int i = 0; i < srv->nworkers; i++)
		if (atomic_load(&srv->workers[i].answered) != probe)
			alive = 0;
	atomic_store(&srv->probe, probe + 1);
	for (int i = 0; i < srv->nworkers; i++)
		event_base_once(srv->workers[i].rw.base, -1, EV_TIMEOUT,
		    worker_answer_probe, &srv->workers[i], NULL);
	return alive;
}

void
server_stop(struct server *srv)
{
	for (int i = 0; i < srv->nworkers; i++)
		event_base_once(srv->workers[i].rw.base, -1, EV_TIMEOUT,
		    worker_begin_drain, &srv->workers[i], NULL);
	for (int i = 0; i < srv->nworkers; i++)
		pthread_join(srv->workers[i].thread, NULL);
	server_free(srv);
}
