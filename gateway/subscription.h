/* subscription.h — who receives what: which services subscribe to a
 * dataset from a provider, which of them the gateway pushes to, whether a
 * service provides a dataset, and what a subscriber may receive of a
 * record.
 *
 * Push (routing an accepted record), the delivery worker (checking again
 * before it sends) and the changes feed (filtering at read time) all ask
 * here, so a subscriber gets the same answer whichever way it receives.
 * What a policy allows is still decided by policy.h alone. */
#ifndef TELLONCE_SUBSCRIPTION_H
#define TELLONCE_SUBSCRIPTION_H

#include <jansson.h>

#include "config_model.h"
#include "policy.h"
#include "store.h"

/* Whether svc subscribes to ds from provider (NULL: from any provider). */
int subscription_subscribes(const struct config_service *svc,
    const struct config_dataset *ds, const struct config_service *provider);
/* Whether the gateway can push to svc (its connector has push); a
 * subscriber that cannot be pushed to pulls the changes feed instead. */
int subscription_can_push(const struct config_service *svc);
/* Whether svc provides ds to anyone: a subscription or a policy names it. */
int subscription_is_provider(const struct config *cfg,
    const struct config_service *svc, const struct config_dataset *ds);
/* What `subscriber` may receive of a record pushed by `provider`: the
 * policy is decided for each purpose the subscriber's policies name
 * (policy_decide_any_purpose). On POLICY_ALLOW, *out (a new reference)
 * holds the granted attributes present in `record` (dataset names); when
 * none is present the answer is POLICY_ATTRIBUTE_NOT_PERMITTED. d is
 * filled either way; clear it with policy_decision_clear. */
enum policy_reason subscription_filter(struct store *st,
    const struct config *cfg, const struct config_service *subscriber,
    const struct config_service *provider, const struct config_dataset *ds,
    const char *subject, const json_t *record, struct policy_decision *d,
    json_t **out);

#endif
