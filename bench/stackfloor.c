/* bench/stackfloor.c — the least a fetch can cost on the gateway's stack:
 * WORKERS threads, each an evhttp server on its own libevent loop
 * accepting on one shared listening socket (as gateway/server.c does),
 * that answer every request with what SERVICE's connector, from CONFIG,
 * fetches for LOCAL_ID: the gateway's own connector code on the same loop,
 * its answer sent back raw. No authentication, policy, store, mapping nor
 * audit: what is left of a fetch once the gateway's own work is taken
 * away. bench/fetch.sh runs it with FLOOR=1, so that the gap to nginx can
 * be split between the libraries and the gateway.
 *
 *   stackfloor CONFIG SERVICE LOCAL_ID PORT WORKERS
 */
#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "cmd.h"
#include "snapshot.h"

#define FLOOR_WORKERS_MAX 64

struct floor_worker {
	struct config *cfg;          /* shared, read-only */
	const struct config_service *svc;
	const char *local_id;
	int listen_fd;
	struct event_base *base;
	struct snapshot *snap;       /* this loop's connector instances */
	const struct connector_ops *ops;
	void *inst;                  /* borrowed from snap */
};

static void
floor_answered(const struct connector_result *res, void *arg)
{
	struct evhttp_request *req = arg;
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	if (res->status != CONNECTOR_OK || res->body == NULL ||
	    evbuffer_add(out, res->body, res->body_len) != 0) {
		evhttp_send_error(req, 502, "Bad Gateway");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evhttp_send_reply(req, 200, "OK", NULL);
}

static void
floor_on_request(struct evhttp_request *req, void *arg)
{
	struct floor_worker *w = arg;
	struct connector_request call = { .local_id = w->local_id,
	    .dataset = w->cfg->ndatasets > 0 ? w->cfg->datasets[0].name : NULL,
	    .request_id = "stackfloor" };

	w->ops->fetch(w->inst, &call, floor_answered, req);
}

/* The worker's loop, evhttp and connector instance; exits the process
 * when one cannot be made, as the measure would mean nothing. */
static void
floor_setup(struct floor_worker *w)
{
	struct event_config *ec = event_config_new();
	struct evconnlistener *l;
	struct evhttp *http;
	char err[256];

	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	w->base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (w->base == NULL || (http = evhttp_new(w->base)) == NULL ||
	    (l = evconnlistener_new(w->base, NULL, NULL, LEV_OPT_CLOSE_ON_EXEC,
	    -1, w->listen_fd)) == NULL || evhttp_bind_listener(http, l) == NULL) {
		fprintf(stderr, "stackfloor: cannot serve\n");
		exit(1);
	}
	evhttp_set_gencb(http, floor_on_request, w);
	if ((w->snap = snapshot_new(config_ref(w->cfg), w->base)) == NULL ||
	    (w->inst = snapshot_connector(w->snap, w->svc, &w->ops, err,
	    sizeof(err))) == NULL || w->ops->fetch == NULL) {
		fprintf(stderr, "stackfloor: %s: %s\n", w->svc->id,
		    w->inst ? "its connector cannot fetch" : err);
		exit(1);
	}
}

static void *
floor_run(void *arg)
{
	struct floor_worker *w = arg;

	floor_setup(w);
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
	const struct config_service *svc;
	struct config *cfg;
	int n, fd;

	if (argc != 6 || (n = atoi(argv[5])) < 1 || n > FLOOR_WORKERS_MAX) {
		fprintf(stderr, "usage: stackfloor CONFIG SERVICE LOCAL_ID PORT "
		    "WORKERS\n");
		return 2;
	}
	if ((cfg = cmd_load_config(argv[1])) == NULL)
		return 1;
	if ((svc = config_find_service(cfg, argv[2])) == NULL ||
	    svc->connector == NULL) {
		fprintf(stderr, "stackfloor: no connector for %s\n", argv[2]);
		return 1;
	}
	if ((fd = floor_listen(atoi(argv[4]))) == -1) {
		perror("stackfloor: listen");
		return 1;
	}
	evthread_use_pthreads();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (int i = 0; i < n; i++) {
		w[i] = (struct floor_worker){ .cfg = cfg, .svc = svc,
		    .local_id = argv[3], .listen_fd = fd };
		pthread_create(&t[i], NULL, floor_run, &w[i]);
	}
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return 0;
}
