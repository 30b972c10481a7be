/* delivery.h — the outbox worker: pushes accepted records to subscribers.
 *
 * One thread with its own libevent loop, store connection and connector
 * instances takes due deliveries from the store, checks the policy (and the
 * live consent) again, maps the record to the subscriber's field names and
 * its local id, makes its `deliver` audit entry durable, pushes it with the
 * delivery id as Idempotency-Key and stores the outcome before the delivery
 * counts as done, so a crash at any point leads to a resend, never to a
 * loss, and nothing is sent without its entry. docs/delivery.md has the
 * rules: ordering, superseding, retries, audit, circuit breaker. The same
 * loop runs the polled sources (poller.h) and the purge (retention.h). */
#ifndef TELLONCE_DELIVERY_H
#define TELLONCE_DELIVERY_H

#include <stdint.h>

#include "config_model.h"
#include "gateway.h"

struct delivery;

/* Recovers deliveries a crash left in flight and starts the worker on cfg
 * (taken over). NULL with err; cfg is freed then too. */
struct delivery *delivery_start(struct gateway *gw, struct config *cfg,
    char *err, size_t errlen);
/* Makes cfg (taken over) current; deliveries in flight finish on the old
 * one. Any thread. */
void delivery_swap_config(struct delivery *dl, struct config *cfg);
/* Stops taking deliveries, lets those in flight finish (up to a grace
 * period; the rest are sent again after the restart) and frees everything.
 * Call before audit_close. */
void delivery_stop(struct delivery *dl);

#endif
