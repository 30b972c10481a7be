/* snapshot.h — one configuration plus one event loop's connector instances.
 *
 * Every loop that calls connectors (each HTTP worker, the delivery worker,
 * `tellonce connector test`) reaches them through a snapshot: a reload
 * gives the loop a new one, and work in flight keeps the snapshot it
 * started on. Instances are created on first use and destroyed with the
 * snapshot, both on the loop's thread, so a connector never sees two
 * threads (connectors/connector.h). A snapshot belongs to its loop: it is
 * not thread-safe. */
#ifndef TELLONCE_SNAPSHOT_H
#define TELLONCE_SNAPSHOT_H

#include <stddef.h>

#include "config_model.h"
#include "connector.h"

struct event_base;

struct snapshot {
	struct config *cfg;          /* one reference, owned; read-only to users */
	struct event_base *base;     /* the loop the instances are bound to */
	void **instances;            /* per service index; NULL until first use */
	int refs;                    /* users; the loop's own hold counts as one */
};

/* A snapshot of cfg for the loop `base`, held once by the caller. Takes
 * cfg (one reference), also on failure: NULL when out of memory. */
struct snapshot *snapshot_new(struct config *cfg, struct event_base *base);
/* One more user (a request, a job in flight); returns snap. */
struct snapshot *snapshot_hold(struct snapshot *snap);
/* Lets one user go; the last destroys the instances and drops the config
 * reference. NULL is ignored. */
void snapshot_release(struct snapshot *snap);
/* svc's connector instance on this loop (created on first use) and its
 * ops; borrowed, valid while snap is held. NULL with err when svc has no
 * connector or the connector's init failed. */
void *snapshot_connector(struct snapshot *snap,
    const struct config_service *svc, const struct connector_ops **ops,
    char *err, size_t errlen);

#endif
