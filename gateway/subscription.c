/* subscription.c — who receives what (see subscription.h). */
#include "subscription.h"

#include <string.h>

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

/* Whether an earlier policy of the same candidates has this purpose. */
static int
subscription_purpose_seen(const struct config *cfg, size_t upto,
    const struct config_policy *p)
{
	for (size_t i = 0; i < upto; i++) {
		const struct config_policy *q = &cfg->policies[i];

		if (q->consumer == p->consumer && q->provider == p->provider &&
		    q->dataset == p->dataset && strcmp(q->purpose, p->purpose) == 0)
			return 1;
	}
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

/* Whether cur should replace best: the first decision explains a denial;
 * an allow beats a denial, and a wider allow a narrower one. */
static int
subscription_better(const struct policy_decision *cur,
    const struct policy_decision *best, int have)
{
	if (!have)
		return 1;
	if (cur->reason != POLICY_ALLOW)
		return 0;
	return best->reason != POLICY_ALLOW || cur->nattributes > best->nattributes;
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
	struct policy_decision cur;
	int have = 0;

	*out = NULL;
	memset(d, 0, sizeof(*d));
	d->reason = POLICY_NO_POLICY;
	for (size_t i = 0; i < cfg->npolicies; i++) {
		const struct config_policy *p = &cfg->policies[i];

		if (p->consumer != subscriber || p->provider != provider ||
		    p->dataset != ds || subscription_purpose_seen(cfg, i, p))
			continue;
		q.purpose = p->purpose;
		if (policy_decide(st, &q, &cur) == POLICY_STORE_ERROR) {
			policy_decision_clear(&cur);
			policy_decision_clear(d);
			return d->reason = POLICY_STORE_ERROR;
		}
		if (subscription_better(&cur, d, have)) {
			policy_decision_clear(d);
			*d = cur;
			have = 1;
		} else {
			policy_decision_clear(&cur);
		}
	}
	if (d->reason != POLICY_ALLOW)
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
