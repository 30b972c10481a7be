/* subscription.c — who receives what (see subscription.h). */
#include "subscription.h"

#include "clock.h"

int
subscription_subscribes(const struct config_service *svc,
    const struct config_dataset *ds, const struct config_service *provider)
{
	for (size_t i = 0; i < svc->nsubscribes; i++)
		if (svc->subscribes[i].dataset == ds &&
		    (provider == NULL || svc->subscribes[i].from == provider))
			return 1;
	return 0;
}

int
subscription_can_push(const struct config_service *svc)
{
	return svc->connector != NULL && svc->connector->ops->push != NULL;
}

int
subscription_is_provider(const struct config *cfg,
    const struct config_service *svc, const struct config_dataset *ds)
{
	for (size_t i = 0; i < cfg->nservices; i++)
		if (subscription_subscribes(&cfg->services[i], ds, svc))
			return 1;
	for (size_t i = 0; i < cfg->npolicies; i++)
		if (cfg->policies[i].provider == svc &&
		    cfg->policies[i].dataset == ds)
			return 1;
	return 0;
}

/* Keeps d's granted attributes that record holds; new reference. */
static json_t *
subscription_grant(const struct policy_decision *d, const json_t *record)
{
	json_t *out = json_object();

	for (size_t i = 0; out != NULL && i < d->nattributes; i++) {
		json_t *v = json_object_get(record, d->attributes[i]->name);

		if (v != NULL && !json_is_null(v))
			json_object_set(out, d->attributes[i]->name, v);
	}
	return out;
}

enum policy_reason
subscription_filter(struct store *st, const struct config *cfg,
    const struct config_service *subscriber,
    const struct config_service *provider, const struct config_dataset *ds,
    const char *subject, const json_t *record, struct policy_decision *d,
    json_t **out)
{
	struct policy_query q = { .cfg = cfg, .consumer = subscriber,
	    .provider = provider, .dataset = ds, .subject = subject,
	    .now_ms = clock_now_ms() };

	*out = NULL;
	if (policy_decide_any_purpose(st, &q, d) != POLICY_ALLOW)
		return d->reason;
	if ((*out = subscription_grant(d, record)) == NULL)
		return d->reason = POLICY_STORE_ERROR;
	if (json_object_size(*out) == 0) {
		json_decref(*out);
		*out = NULL;
		d->reason = POLICY_ATTRIBUTE_NOT_PERMITTED;
	}
	return d->reason;
}
