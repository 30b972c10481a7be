/* server.h — the inbound HTTP API: the listener and the worker threads.
 *
 * Each worker thread runs one libevent loop with its own evhttp, its own
 * store connection and its own connector instances (snapshot.h); a request
 * is handled start to finish on the worker that accepted it (request.h). */
#ifndef TELLONCE_SERVER_H
#define TELLONCE_SERVER_H

#include <stddef.h>

#include "config_model.h"

struct gateway;
struct request_route;
struct server;

/* The routes served (request.h), *n rows; static. */
const struct request_route *server_routes(size_t *n);

/* Binds and listens on "host:port" or "[v6]:port" with n sockets, written
 * to fds[0..n-1]: with n > 1 they share the port (SO_REUSEPORT) and the
 * kernel spreads new connections over them. Refused when something
 * listens there already. 0, or -1 with err and nothing left open. A start
 * is in two steps: bind as root, drop privileges, then server_start_on(). */
int server_listen(const char *listen_spec, int n, int *fds, char *err,
    size_t errlen);
/* How many workers cfg runs: one listening socket each is best. */
int server_workers(const struct config *cfg);
/* Starts the worker threads for cfg (taken) on the nfds sockets of
 * server_listen (worker i accepts on fds[i % nfds]) and, for
 * gateway.admin_listen, admin_fd (or -1); the fds are taken, closed on
 * failure. NULL with err. */
struct server *server_start_on(struct gateway *gw, struct config *cfg,
    const int *fds, int nfds, int admin_fd, char *err, size_t errlen);
/* Makes cfg current for new requests; requests in flight keep the old one.
 * Takes ownership of cfg. Returns 0, or -1 with err when its TLS
 * certificate or key cannot be used (the old config keeps serving). */
int server_swap_config(struct server *srv, struct config *cfg, char *err,
    size_t errlen);
/* The config currently served; borrowed, valid until the next swap. */
const struct config *server_config(struct server *srv);
/* Whether every worker loop answered the previous call's probe; then
 * sends the next probe. Called periodically (the watchdog), it tells a
 * wedged loop from a busy one: an answer only needs the loop to turn. The
 * first call finds every loop alive. Not thread-safe against itself. */
int server_alive(struct server *srv);
/* Stops accepting, lets requests in flight finish (up to a grace period),
 * joins the workers, frees everything. */
void server_stop(struct server *srv);

#endif
