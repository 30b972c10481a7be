/* poller.h — polling sources: a provider that cannot push is asked for its
 * changes (its connector's `changes`, with `poll: {dataset, interval}` in
 * the connector block). Runs on the delivery worker's loop, which owns the
 * connector instances.
 *
 * The records of one answer are accepted like pushes (push.c) and stored
 * in one transaction together with the cursor that follows them, so the
 * cursor never runs ahead of what is stored: a crash before the commit
 * asks for the same changes again, a crash after it goes on from there
 * (as Singer and Airbyte keep their state). */
#ifndef TELLONCE_POLLER_H
#define TELLONCE_POLLER_H

#include "audit.h"
#include "config_model.h"
#include "store.h"

struct event_base;
struct poller;

/* Called once a poll is over, to let go of what the caller held for it
 * (the configuration snapshot that the connector instance belongs to). */
typedef void (*poller_release_fn)(void *arg);

/* NULL when out of memory. */
struct poller *poller_new(struct store *st, struct audit *a,
    struct event_base *base);
/* Only once no poll is in flight (poller_busy() is 0). */
void poller_free(struct poller *pl);
/* Asks svc (which has poll settings) for changes through inst, unless a
 * poll of it is in flight or its interval has not passed. When it starts
 * one it returns 1 and calls release(arg) when it is over; else 0. */
int poller_source(struct poller *pl, const struct config *cfg,
    const struct config_service *svc, void *inst, poller_release_fn release,
    void *arg);
/* Polls in flight. */
int poller_busy(const struct poller *pl);

#endif
