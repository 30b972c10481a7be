/* snapshot.c — a configuration and one loop's connector instances (see
 * snapshot.h). */
#include "snapshot.h"

#include <stdio.h>
#include <stdlib.h>

#include "log.h"

struct snapshot *
snapshot_new(struct config *cfg, struct event_base *base)
{
	struct snapshot *snap = calloc(1, sizeof(*snap));

	if (snap == NULL ||
	    (snap->instances = calloc(cfg->nservices + 1,
	    sizeof(*snap->instances))) == NULL) {
		free(snap);
		config_free(cfg);
		return NULL;
	}
	snap->cfg = cfg;
	snap->base = base;
	snap->refs = 1;
	return snap;
}

struct snapshot *
snapshot_hold(struct snapshot *snap)
{
	snap->refs++;
	return snap;
}

void
snapshot_release(struct snapshot *snap)
{
	const struct config *cfg;

	if (snap == NULL || --snap->refs > 0)
		return;
	cfg = snap->cfg;
	for (size_t i = 0; i < cfg->nservices; i++)
		if (snap->instances[i] != NULL)
			cfg->services[i].connector->ops->destroy(snap->instances[i]);
	free(snap->instances);
	config_free(snap->cfg);
	free(snap);
}

void *
snapshot_connector(struct snapshot *snap, const struct config_service *svc,
    const struct connector_ops **ops, char *err, size_t errlen)
{
	void **slot = &snap->instances[svc - snap->cfg->services];
	struct connector_env env = { .base = snap->base, .service = svc->id,
	    .log = log_printf };

	if (svc->connector == NULL) {
		snprintf(err, errlen, "service %s has no connector", svc->id);
		return NULL;
	}
	*ops = svc->connector->ops;
	if (*slot == NULL &&
	    (*ops)->init(slot, svc->connector->settings, &env, err, errlen) != 0) {
		*slot = NULL;
		return NULL;
	}
	return *slot;
}
