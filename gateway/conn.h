/* conn.h — the client connections of one worker: the global count held
 * against limits.max_connections, and a deadline per connection that cuts
 * clients too slow to send a request (slowloris).
 *
 * evhttp keeps a read timeout that any byte resets, so a client trickling
 * one header byte at a time would hold its connection forever. Here every
 * connection must bring a complete request within request_timeout of being
 * accepted, of its last request or of its last reply; past that it is shut
 * down, and evhttp frees it (and any request in flight) the usual way. */
#ifndef TELLONCE_CONN_H
#define TELLONCE_CONN_H

#include <stdatomic.h>
#include <stdint.h>

struct bufferevent;
struct event_base;
struct evhttp_request;
struct conn_table;

/* One per worker loop; `count` is shared by every worker. */
struct conn_table *conn_table_new(struct event_base *base, atomic_int *count);
/* After evhttp_free(): frees what is left. */
void conn_table_free(struct conn_table *t);
/* Tracks bev, just made by the evhttp bevcb. The connection is shut down at
 * once when it is beyond max connections or when refuse is set. */
void conn_open(struct conn_table *t, struct bufferevent *bev, int max,
    int64_t timeout_ms, int refuse);
/* Restarts the deadline of the connection req came on, if it is tracked. */
void conn_touch(struct conn_table *t, struct evhttp_request *req,
    int64_t timeout_ms);

#endif
