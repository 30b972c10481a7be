/* conn.h — the client connections of the gateway: the count held against
 * limits.max_connections and limits.max_connections_per_address, the
 * descriptors kept in reserve, and two deadlines per connection that cut
 * clients too slow to send a request (slowloris).
 *
 * evhttp keeps a read timeout that any byte resets, so a client trickling
 * one header byte at a time would hold its connection forever. Here the
 * request line and headers must arrive within header_timeout, and the
 * whole request within request_timeout, of the connection being accepted
 * or of its last answer; past that it is shut down, and evhttp frees it
 * (and any request in flight) the usual way.
 *
 * While every connection allowed is open, or when an accepted descriptor
 * reaches into the reserve, the worker stops accepting for a moment: the
 * clients beyond wait in the kernel's backlog instead of taking the
 * descriptors the audit log and the store need. */
#ifndef TELLONCE_CONN_H
#define TELLONCE_CONN_H

#include <stdint.h>

struct bufferevent;
struct config_limits;
struct event_base;
struct evconnlistener;
struct evhttp_request;
struct conn_shared;
struct conn_table;

/* The counts all workers share; freed after every table. */
struct conn_shared *conn_shared_new(void);
void conn_shared_free(struct conn_shared *sh);

/* One per worker loop. An accepted descriptor at or above fd_ceiling is
 * refused (the ones above it are the reserve). */
struct conn_table *conn_table_new(struct event_base *base,
    struct conn_shared *sh, int fd_ceiling);
/* The listener the table pauses when it is full; NULL when it goes. */
void conn_table_set_listener(struct conn_table *t, struct evconnlistener *l);
/* After evhttp_free(): frees what is left. */
void conn_table_free(struct conn_table *t);
/* Tracks bev, just made by the evhttp bevcb. The connection is shut down at
 * once when it is beyond the limits of lim or when refuse is set. */
void conn_open(struct conn_table *t, struct bufferevent *bev,
    const struct config_limits *lim, int refuse);
/* req is complete and dispatched: its handler has request_timeout to
 * answer. */
void conn_request_started(struct conn_table *t, struct evhttp_request *req,
    const struct config_limits *lim);
/* req was answered: the next request's deadlines start now. */
void conn_request_answered(struct conn_table *t, struct evhttp_request *req,
    const struct config_limits *lim);

#endif
