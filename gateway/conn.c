/* conn.c — connection counts, the descriptor reserve and per-connection
 * deadlines (see conn.h).
 *
 * evhttp (libevent 2.1) has no hook when it accepts or frees a connection:
 * the bevcb gives us the bufferevent before evhttp wraps it, and the
 * evhttp_connection only exists once the bevcb has returned. So conn_open
 * holds a reference on the bufferevent and, on the next loop turn, finds
 * the connection through the bufferevent's callback argument (evhttp's own
 * cbarg is the evhttp_connection), sets its close callback and counts its
 * client address. Connections are never freed here: they are shut down,
 * and evhttp notices and frees them, requests in flight included.
 *
 * Nor does evhttp say when a request's headers are complete. A callback on
 * the connection's input buffer sees every byte before evhttp reads it,
 * and watches for the empty line that ends the headers. */
#include "conn.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <pthread.h>
#include <search.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "config_model.h"
#include "log.h"

#define CONN_PAUSE_MS 100          /* accepting stops this long when full */
#define CONN_ADDR_LEN 16

struct conn_shared {
	atomic_int count;          /* open connections, all workers */
	pthread_mutex_t mu;        /* guards addrs */
	void *addrs;               /* tsearch tree of struct conn_addr */
};

/* The connections from one client address (an IPv6 client by its /64,
 * which one host usually has whole). */
struct conn_addr {
	unsigned char key[CONN_ADDR_LEN];
	int count;
};

struct conn_table {
	struct event_base *base;
	struct conn_shared *sh;
	int fd_ceiling;
	void *tree;                /* tsearch tree of struct conn, by bev */
	struct evconnlistener *listener;  /* evhttp's; NULL when none */
	struct event *resume;      /* enables listener again */
};

struct conn {
	struct conn_table *t;
	struct bufferevent *bev;   /* the key */
	struct event *deadline;
	struct evbuffer_cb_entry *watch;  /* on bev's input */
	struct conn_addr *addr;    /* counted there, or NULL */
	int addr_max;              /* limits.max_connections_per_address */
	int64_t request_due_ms;    /* the whole request by then (monotonic) */
	int newlines;              /* line ends in a row, CRs aside */
	int headers_done;          /* no need to watch the input */
	int cut;                   /* must go: nothing more is read */
	int attached;              /* conn_attach ran and dropped its reference */
};

/* The worker thread's table, for the listener's error callback, whose
 * argument is evhttp's. */
static _Thread_local struct conn_table *conn_this_thread;

static int
conn_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const struct conn *)a)->bev;
	uintptr_t y = (uintptr_t)((const struct conn *)b)->bev;

	return x < y ? -1 : x > y;
}

static int
conn_addr_cmp(const void *a, const void *b)
{
	return memcmp(((const struct conn_addr *)a)->key,
	    ((const struct conn_addr *)b)->key, CONN_ADDR_LEN);
}

struct conn_shared *
conn_shared_new(void)
{
	struct conn_shared *sh = calloc(1, sizeof(*sh));

	if (sh != NULL)
		pthread_mutex_init(&sh->mu, NULL);
	return sh;
}

void
conn_shared_free(struct conn_shared *sh)
{
	if (sh == NULL)
		return;
	tdestroy(sh->addrs, free);
	pthread_mutex_destroy(&sh->mu);
	free(sh);
}

static void
conn_resume(evutil_socket_t fd, short what, void *arg)
{
	struct conn_table *t = arg;

	if (t->listener != NULL)
		evconnlistener_enable(t->listener);
}

/* Stops accepting for CONN_PAUSE_MS: clients wait in the backlog. */
static void
conn_pause(struct conn_table *t)
{
	struct timeval tv = { 0, CONN_PAUSE_MS * 1000 };

	if (t->listener == NULL || evtimer_pending(t->resume, NULL))
		return;
	evconnlistener_disable(t->listener);
	evtimer_add(t->resume, &tv);
}

/* accept() failed (out of descriptors, most likely): libevent would try
 * again on every loop turn. */
static void
conn_accept_failed(struct evconnlistener *l, void *arg)
{
	log_ratelimited(LOG_LEVEL_WARN, "cannot accept a connection: %s; "
	    "pausing", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	if (conn_this_thread != NULL)
		conn_pause(conn_this_thread);
}

struct conn_table *
conn_table_new(struct event_base *base, struct conn_shared *sh,
    int fd_ceiling)
{
	struct conn_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->base = base;
	t->sh = sh;
	t->fd_ceiling = fd_ceiling;
	if ((t->resume = evtimer_new(base, conn_resume, t)) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void
conn_table_set_listener(struct conn_table *t, struct evconnlistener *l)
{
	t->listener = l;
	conn_this_thread = t;
	if (l != NULL)
		evconnlistener_set_error_cb(l, conn_accept_failed);
	else
		evtimer_del(t->resume);
}

/* ---- client addresses ------------------------------------------------ */

static void
conn_addr_key(const struct sockaddr *sa, unsigned char key[CONN_ADDR_LEN])
{
	static const unsigned char v4mapped[12] = { [10] = 0xff, [11] = 0xff };

	memset(key, 0, CONN_ADDR_LEN);
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const unsigned char *a =
		    ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;

		if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0)
			memcpy(key, a + 12, 4);
		else
			memcpy(key + 4, a, 8);
	}
}

/* Counts c against its address; 0, or -1 when that is one too many. */
static int
conn_addr_take(struct conn *c, const struct sockaddr *sa, int max)
{
	struct conn_shared *sh = c->t->sh;
	struct conn_addr *a = calloc(1, sizeof(*a)), **found;
	int rc = 0;

	if (a == NULL)
		return 0;
	conn_addr_key(sa, a->key);
	pthread_mutex_lock(&sh->mu);
	found = tsearch(a, &sh->addrs, conn_addr_cmp);
	if (found == NULL) {
		pthread_mutex_unlock(&sh->mu);
		free(a);
		return 0;
	}
	if (*found != a)
		free(a);
	if ((*found)->count >= max) {
		rc = -1;
	} else {
		(*found)->count++;
		c->addr = *found;
	}
	pthread_mutex_unlock(&sh->mu);
	return rc;
}

static void
conn_addr_drop(struct conn *c)
{
	struct conn_shared *sh = c->t->sh;
	struct conn_addr *a = c->addr;

	if (a == NULL)
		return;
	pthread_mutex_lock(&sh->mu);
	if (--a->count == 0) {
		tdelete(a, &sh->addrs, conn_addr_cmp);
		free(a);
	}
	pthread_mutex_unlock(&sh->mu);
	c->addr = NULL;
}

/* ---- connections ------------------------------------------------------- */

static void
conn_free(struct conn *c)
{
	if (c->watch != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->watch);
	event_free(c->deadline);
	conn_addr_drop(c);
	atomic_fetch_sub(&c->t->sh->count, 1);
	free(c);
}

static void
conn_forget(struct conn *c)
{
	tdelete(c, &c->t->tree, conn_cmp);
	conn_free(c);
}

/* A connection accepted just before the loop stopped never saw
 * conn_attach: drop the reference conn_open took, or the bufferevent (and
 * its TLS state) outlives evhttp_free. */
static void
conn_release(void *arg)
{
	struct conn *c = arg;
	struct bufferevent *bev = c->bev;
	int attached = c->attached;

	conn_free(c);
	if (!attached)
		bufferevent_decref(bev);
}

/* After evhttp_free, before event_base_free (which runs the bufferevents'
 * deferred finalizers). */
void
conn_table_free(struct conn_table *t)
{
	if (t == NULL)
		return;
	tdestroy(t->tree, conn_release);
	event_free(t->resume);
	free(t);
}

/* Shutting the socket down makes evhttp see end of file (or a failed
 * write) and free the connection through its normal error path. */
static void
conn_shutdown(struct conn *c)
{
	evutil_socket_t fd = bufferevent_getfd(c->bev);

	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

static void
conn_expired(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	log_ratelimited(LOG_LEVEL_INFO, "connection closed: no complete %s "
	    "in time", c->headers_done ? "request" : "request headers");
	c->cut = 1;
	conn_shutdown(c);
}

static void
conn_deadline_in(struct conn *c, int64_t ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(c->deadline, &tv);
}

/* The next request starts now: its headers are due first. */
static void
conn_restart(struct conn *c, const struct config_limits *lim)
{
	int64_t header_ms = lim->header_timeout_ms < lim->request_timeout_ms ?
	    lim->header_timeout_ms : lim->request_timeout_ms;

	c->request_due_ms = clock_mono_ms() + lim->request_timeout_ms;
	c->newlines = 0;
	c->headers_done = 0;
	conn_deadline_in(c, header_ms);
}

/* Scans what was added to the input for the empty line ending the
 * headers; from then on the request deadline applies. */
static void
conn_watch_input(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct conn *c = arg;
	size_t left = info->n_added;
	struct evbuffer_iovec v[4];
	struct evbuffer_ptr p;

	/* Linux still reads out what arrived before a shutdown(): without
	 * this, a refused connection's first request would run, its answer
	 * lost. */
	if (c->cut) {
		evbuffer_drain(buf, evbuffer_get_length(buf));
		return;
	}
	if (c->headers_done || left == 0 ||
	    evbuffer_ptr_set(buf, &p, evbuffer_get_length(buf) - left,
	    EVBUFFER_PTR_SET) != 0)
		return;
	while (left > 0 && !c->headers_done) {
		int n = evbuffer_peek(buf, (ev_ssize_t)left, &p, v, 4);

		if (n <= 0)
			return;
		for (int i = 0; i < n && i < 4 && !c->headers_done; i++) {
			const unsigned char *s = v[i].iov_base;
			size_t m = v[i].iov_len < left ? v[i].iov_len : left;

			for (size_t j = 0; j < m && !c->headers_done; j++) {
				const unsigned char *nl;

				/* Inside a line only its end matters: skip to it. */
				if (c->newlines == 0 && s[j] != '\n' && s[j] != '\r') {
					if ((nl = memchr(s + j, '\n', m - j)) == NULL)
						break;
					j = (size_t)(nl - s);
				}
				if (s[j] == '\n')
					c->headers_done = ++c->newlines == 2;
				else if (s[j] != '\r')
					c->newlines = 0;
			}
			left -= m;
			evbuffer_ptr_set(buf, &p, m, EVBUFFER_PTR_ADD);
		}
	}
	if (c->headers_done)
		conn_deadline_in(c, c->request_due_ms - clock_mono_ms());
}

static void
conn_closed(struct evhttp_connection *evcon, void *arg)
{
	conn_forget(arg);
}

/* The bevcb has returned: evhttp's connection owns bev (or has already
 * freed it, which clears its callbacks). */
static void
conn_attach(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct bufferevent *bev = c->bev;
	void *evcon = NULL;

	bufferevent_getcb(bev, NULL, NULL, NULL, &evcon);
	c->attached = 1;
	if (evcon == NULL) {
		conn_forget(c);
		bufferevent_decref(bev);
		return;
	}
	evhttp_connection_set_closecb(evcon, conn_closed, c);
	if (!c->cut && bufferevent_getfd(bev) >= c->t->fd_ceiling) {
		c->cut = 1;
		conn_pause(c->t);
		log_ratelimited(LOG_LEVEL_WARN, "connection refused: the "
		    "descriptors left are kept for the audit log and the store");
	}
	if (!c->cut && conn_addr_take(c, evhttp_connection_get_addr(evcon),
	    c->addr_max) != 0) {
		c->cut = 1;
		log_ratelimited(LOG_LEVEL_WARN, "connection refused: "
		    "limits.max_connections_per_address is %d", c->addr_max);
	}
	if (c->cut)
		conn_shutdown(c);
	bufferevent_decref(bev);
}

void
conn_open(struct conn_table *t, struct bufferevent *bev,
    const struct config_limits *lim, int refuse)
{
	struct conn *c = calloc(1, sizeof(*c));
	int n;

	if (c == NULL)
		return;
	c->t = t;
	c->bev = bev;
	c->addr_max = lim->max_connections_per_address;
	c->deadline = evtimer_new(t->base, conn_expired, c);
	if (c->deadline == NULL || tsearch(c, &t->tree, conn_cmp) == NULL) {
		event_free(c->deadline);
		free(c);
		return;
	}
	n = atomic_fetch_add(&t->sh->count, 1) + 1;
	if (n >= lim->max_connections)
		conn_pause(t);
	if (n > lim->max_connections) {
		c->cut = 1;
		log_ratelimited(LOG_LEVEL_WARN, "connection refused: "
		    "limits.max_connections is %d", lim->max_connections);
	}
	c->cut |= refuse;
	c->watch = evbuffer_add_cb(bufferevent_get_input(bev),
	    conn_watch_input, c);
	conn_restart(c, lim);
	bufferevent_incref(bev);
	if (event_base_once(t->base, -1, EV_TIMEOUT, conn_attach, c,
	    NULL) != 0) {
		conn_forget(c);
		bufferevent_decref(bev);
	}
}

static struct conn *
conn_find(struct conn_table *t, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct conn key, **found;

	if (evcon == NULL)
		return NULL;
	key.bev = evhttp_connection_get_bufferevent(evcon);
	found = tfind(&key, &t->tree, conn_cmp);
	return found != NULL ? *found : NULL;
}

void
conn_request_started(struct conn_table *t, struct evhttp_request *req,
    const struct config_limits *lim)
{
	struct conn *c = conn_find(t, req);

	if (c == NULL)
		return;
	c->headers_done = 1;
	conn_deadline_in(c, lim->request_timeout_ms);
}

void
conn_request_answered(struct conn_table *t, struct evhttp_request *req,
    const struct config_limits *lim)
{
	struct conn *c = conn_find(t, req);

	if (c != NULL)
		conn_restart(c, lim);
}
