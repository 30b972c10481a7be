/* conn.c — connection count and per-connection request deadlines.
 *
 * evhttp (libevent 2.1) has no hook when it accepts or frees a connection:
 * the bevcb gives us the bufferevent before evhttp wraps it, and the
 * evhttp_connection only exists once the bevcb has returned. So conn_open
 * holds a reference on the bufferevent and, on the next loop turn, finds
 * the connection through the bufferevent's callback argument (evhttp's own
 * cbarg is the evhttp_connection) and sets its close callback. Connections
 * are never freed here: they are shut down, and evhttp notices and frees
 * them, requests in flight included. */
#include "conn.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <search.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "clock.h"
#include "log.h"

struct conn_table {
	struct event_base *base;
	atomic_int *count;
	void *tree;                /* tsearch tree of struct conn, by bev */
	int64_t warned_ms;         /* a flood of refusals logs once a second */
	unsigned refused;          /* since the last warning */
};

struct conn {
	struct conn_table *t;
	struct bufferevent *bev;   /* the key */
	struct event *deadline;
	int cut;                   /* set when it must go once attached */
	int attached;              /* conn_attach ran and dropped its reference */
};

static int
conn_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const struct conn *)a)->bev;
	uintptr_t y = (uintptr_t)((const struct conn *)b)->bev;

	return x < y ? -1 : x > y;
}

struct conn_table *
conn_table_new(struct event_base *base, atomic_int *count)
{
	struct conn_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->base = base;
	t->count = count;
	return t;
}

static void
conn_free(struct conn *c)
{
	event_free(c->deadline);
	atomic_fetch_sub(c->t->count, 1);
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

	if (!c->attached)
		bufferevent_decref(c->bev);
	conn_free(c);
}

/* After evhttp_free, before event_base_free (which runs the bufferevents'
 * deferred finalizers). */
void
conn_table_free(struct conn_table *t)
{
	if (t == NULL)
		return;
	tdestroy(t->tree, conn_release);
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

	log_info("connection closed: no complete request in time");
	conn_shutdown(c);
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
	} else {
		evhttp_connection_set_closecb(evcon, conn_closed, c);
		if (c->cut)
			conn_shutdown(c);
	}
	bufferevent_decref(bev);
}

void
conn_open(struct conn_table *t, struct bufferevent *bev, int max,
    int64_t timeout_ms, int refuse)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	int n;

	if (c == NULL)
		return;
	c->t = t;
	c->bev = bev;
	c->deadline = evtimer_new(t->base, conn_expired, c);
	if (c->deadline == NULL || tsearch(c, &t->tree, conn_cmp) == NULL) {
		event_free(c->deadline);
		free(c);
		return;
	}
	n = atomic_fetch_add(t->count, 1) + 1;
	if (n > max) {
		c->cut = 1;
		t->refused++;
		if (clock_mono_ms() - t->warned_ms >= 1000) {
			log_warn("%u connections refused: limits.max_connections "
			    "is %d", t->refused, max);
			t->warned_ms = clock_mono_ms();
			t->refused = 0;
		}
	}
	c->cut |= refuse;
	evtimer_add(c->deadline, &tv);
	bufferevent_incref(bev);
	if (event_base_once(t->base, -1, EV_TIMEOUT, conn_attach, c,
	    NULL) != 0) {
		bufferevent_decref(bev);
		conn_forget(c);
	}
}

void
conn_touch(struct conn_table *t, struct evhttp_request *req,
    int64_t timeout_ms)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct conn key, **found;

	if (evcon == NULL)
		return;
	key.bev = evhttp_connection_get_bufferevent(evcon);
	if ((found = tfind(&key, &t->tree, conn_cmp)) != NULL)
		evtimer_add((*found)->deadline, &tv);
}
