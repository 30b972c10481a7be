/* bench/stackfloor.c — the least a fetch can cost on the gateway's stack:
 * N threads, each an evhttp server on its own libevent loop accepting on
 * one shared listening socket (as gateway/server.c), that answer every
 * request with the body of a GET to one upstream through a libcurl multi
 * handle on the same loop (as connectors/http/http.c). No JSON, no store,
 * no audit: what is left of a fetch once the gateway's own work is taken
 * away. bench/fetch.sh runs it with FLOOR=1, so that the gap to nginx can
 * be split between the libraries and the gateway.
 *
 *   stackfloor PORT UPSTREAM_URL WORKERS
 */
#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FLOOR_WORKERS_MAX 64
#define FLOOR_FDS 65536

struct floor_sock;

struct floor_worker {
	struct event_base *base;
	struct evhttp *http;
	CURLM *multi;
	struct event *timer;
	const char *url;
	int listen_fd;
	struct floor_sock **socks;  /* the watches, by descriptor (FLOOR_FDS) */
};

/* One upstream call, freed when its reply is sent. */
struct floor_call {
	struct evhttp_request *req;
	struct evbuffer *body;
	CURL *easy;
};

/* A socket libcurl asked to watch; kept while libcurl keeps the
 * connection, as the http connector does, so that a call on a kept
 * connection costs no epoll_ctl. */
struct floor_sock {
	struct floor_worker *w;
	struct event *ev;
	short flags;
};

static size_t
floor_on_data(char *p, size_t size, size_t n, void *arg)
{
	struct floor_call *c = arg;

	return evbuffer_add(c->body, p, size * n) == 0 ? size * n : 0;
}

static void
floor_collect(struct floor_worker *w)
{
	struct floor_call *c;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(w->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &c);
		curl_multi_remove_handle(w->multi, c->easy);
		if (msg->data.result == CURLE_OK) {
			evhttp_add_header(evhttp_request_get_output_headers(c->req),
			    "Content-Type", "application/json");
			evhttp_send_reply(c->req, 200, "OK", c->body);
		} else
			evhttp_send_error(c->req, 502, "Bad Gateway");
		curl_easy_cleanup(c->easy);
		evbuffer_free(c->body);
		free(c);
	}
}

static void
floor_on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct floor_sock *sk = arg;
	int running, action = 0;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(sk->w->multi, fd, action, &running);
	floor_collect(sk->w);
}

static void
floor_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct floor_worker *w = arg;
	int running;

	curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	floor_collect(w);
}

static int
floor_on_socket_change(CURL *e, curl_socket_t fd, int what, void *userp,
    void *socketp)
{
	struct floor_worker *w = userp;
	struct floor_sock *sk = socketp;
	short flags = EV_PERSIST;

	if (what == CURL_POLL_REMOVE || fd >= FLOOR_FDS)
		return 0;
	if (sk == NULL && (sk = w->socks[fd]) == NULL) {
		if ((sk = calloc(1, sizeof(*sk))) == NULL)
			return -1;
		sk->w = w;
		w->socks[fd] = sk;
	}
	if (socketp == NULL)
		curl_multi_assign(w->multi, fd, sk);
	if (what & CURL_POLL_IN)
		flags |= EV_READ;
	if (what & CURL_POLL_OUT)
		flags |= EV_WRITE;
	if (sk->ev != NULL && sk->flags == flags)
		return 0;
	if (sk->ev != NULL)
		event_free(sk->ev);
	sk->flags = flags;
	if ((sk->ev = event_new(w->base, fd, flags, floor_on_socket, sk)) ==
	    NULL)
		return -1;
	return event_add(sk->ev, NULL);
}

/* The socket's watch goes with it: libcurl closes only sockets it is done
 * with. */
static int
floor_on_close(void *clientp, curl_socket_t fd)
{
	struct floor_worker *w = clientp;
	struct floor_sock *sk = fd < FLOOR_FDS ? w->socks[fd] : NULL;

	if (sk != NULL) {
		if (sk->ev != NULL)
			event_free(sk->ev);
		free(sk);
		w->socks[fd] = NULL;
	}
	return close(fd);
}

static int
floor_on_timer_change(CURLM *multi, long timeout_ms, void *userp)
{
	struct floor_worker *w = userp;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	if (timeout_ms < 0)
		return evtimer_del(w->timer);
	return evtimer_add(w->timer, &tv);
}

static void
floor_on_request(struct evhttp_request *req, void *arg)
{
	struct floor_worker *w = arg;
	struct floor_call *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->body = evbuffer_new()) == NULL ||
	    (c->easy = curl_easy_init()) == NULL) {
		evhttp_send_error(req, 503, "Service Unavailable");
		if (c != NULL && c->body != NULL)
			evbuffer_free(c->body);
		free(c);
		return;
	}
	c->req = req;
	curl_easy_setopt(c->easy, CURLOPT_URL, w->url);
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, floor_on_data);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
	curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->easy, CURLOPT_CLOSESOCKETFUNCTION, floor_on_close);
	curl_easy_setopt(c->easy, CURLOPT_CLOSESOCKETDATA, w);
	curl_multi_add_handle(w->multi, c->easy);
}

static void *
floor_run(void *arg)
{
	struct floor_worker *w = arg;
	struct event_config *ec = event_config_new();
	struct evconnlistener *l;

	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	w->base = event_base_new_with_config(ec);
	event_config_free(ec);
	w->http = evhttp_new(w->base);
	evhttp_set_gencb(w->http, floor_on_request, w);
	l = evconnlistener_new(w->base, NULL, NULL, LEV_OPT_CLOSE_ON_EXEC, -1,
	    w->listen_fd);
	if (l == NULL || evhttp_bind_listener(w->http, l) == NULL) {
		fprintf(stderr, "stackfloor: cannot accept\n");
		exit(1);
	}
	w->multi = curl_multi_init();
	w->timer = evtimer_new(w->base, floor_on_timer, w);
	if ((w->socks = calloc(FLOOR_FDS, sizeof(*w->socks))) == NULL ||
	    w->multi == NULL || w->timer == NULL) {
		fprintf(stderr, "stackfloor: out of memory\n");
		exit(1);
	}
	curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION,
	    floor_on_socket_change);
	curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
	curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION,
	    floor_on_timer_change);
	curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
	curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, 256L);
	event_base_dispatch(w->base);
	return NULL;
}

static int
floor_listen(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(fd, 1024) != 0)
		return -1;
	return fd;
}

int
main(int argc, char **argv)
{
	struct floor_worker w[FLOOR_WORKERS_MAX];
	pthread_t t[FLOOR_WORKERS_MAX];
	int n, fd;

	if (argc != 4 || (n = atoi(argv[3])) < 1 || n > FLOOR_WORKERS_MAX) {
		fprintf(stderr, "usage: stackfloor PORT UPSTREAM_URL WORKERS\n");
		return 2;
	}
	if ((fd = floor_listen(atoi(argv[1]))) == -1) {
		perror("stackfloor: listen");
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (int i = 0; i < n; i++) {
		w[i] = (struct floor_worker){ .url = argv[2], .listen_fd = fd };
		pthread_create(&t[i], NULL, floor_run, &w[i]);
	}
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return 0;
}
