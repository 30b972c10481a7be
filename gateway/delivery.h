/* delivery.h — the outbox worker: pushes accepted records to subscribers.
 *
 * One thread with its own libevent loop, store connection and connector
 * instances takes due deliveries from the store, checks the policy (and the
 * live consent) again, maps the record to the subscriber's field names and
 * its local id, pushes it with the delivery id as Idempotency-Key, audits
 * the outcome and stores it before the delivery counts as done, so a crash
 * at any point leads to a resend, never to a loss. docs/delivery.md has
 * the rules: ordering, superseding, retries, circuit breaker. */
#ifndef TELLONCE_DELIVERY_H
#define TELLONCE_DELIVERY_H

#include <jansson.h>
#include <stdint.h>

#include "config_model.h"
#include "policy.h"
#include "gateway.h"
#include "store.h"

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

/* What `subscriber` may receive of a record pushed by `provider`: the
 * policy is decided for each purpose the subscriber's policies name, and
 * the allowing decision granting the most attributes wins (or the first
 * denial). On POLICY_ALLOW, *out (a new reference) holds the granted
 * attributes present in `record` (dataset names); when none is present the
 * answer is POLICY_ATTRIBUTE_NOT_PERMITTED. d is filled either way; clear
 * it with policy_decision_clear. */
enum policy_reason delivery_filter(struct store *st, const struct config *cfg,
    const struct config_service *subscriber,
    const struct config_service *provider, const struct config_dataset *ds,
    const char *subject, const json_t *record, struct policy_decision *d,
    json_t **out);
/* Whether the gateway can push to `svc` (its connector has push); a
 * subscriber that cannot be pushed to pulls the changes feed instead. */
int delivery_can_push(const struct config_service *svc);
/* Whether `svc` subscribes to `ds` from `provider`. */
int delivery_subscribes(const struct config_service *svc,
    const struct config_dataset *ds, const struct config_service *provider);

#endif
