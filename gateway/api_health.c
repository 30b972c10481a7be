/* api_health.c — liveness, readiness and metrics, open to anyone who can
 * reach the listen address or the admin listener (they reveal no personal
 * data). */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "gateway.h"
#include "log.h"
#include "metrics.h"
#include "subscription.h"

void
api_healthz(struct request *r)
{
	request_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

void
api_readyz(struct request *r)
{
	int store_ok = store_ping(r->store) == 0;
	int audit_ok = audit_ready(r->gw->audit) == 0;

	/* The config's digest tells nodes on one configuration that drifted
	 * apart (a reload refused or not sent on one of them). */
	request_reply_json(r, store_ok && audit_ok ? 200 : 503,
	    json_pack("{s:s, s:b, s:b, s:s}", "status",
	    store_ok && audit_ok ? "ready" : "not ready",
	    "store", store_ok, "audit", audit_ok,
	    "config_sha256", r->cfg->sha256));
}

/* Every subscriber of the configuration (at zero, so that its series
 * exist before its first delivery and return to zero after its last),
 * then what the store counts, which may name one a reload removed.
 * *out malloc'd, caller frees; NULL with *n 0 when out of memory. */
static struct metrics_outbox *
api_metrics_outbox(struct request *r, const struct store_outbox_count *counts,
    size_t ncounts, size_t *n)
{
	const struct config *cfg = r->cfg;
	struct metrics_outbox *out = calloc(cfg->nservices + ncounts + 1,
	    sizeof(*out));
	size_t k = 0, j;

	*n = 0;
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < cfg->nservices; i++)
		if (subscription_can_push(&cfg->services[i]))
			out[k++].subscriber = cfg->services[i].id;
	for (size_t i = 0; i < ncounts; i++) {
		for (j = 0; j < k; j++)
			if (strcmp(out[j].subscriber, counts[i].subscriber) == 0)
				break;
		if (j == k)
			out[k++].subscriber = counts[i].subscriber;
		out[j].depth = counts[i].waiting;
		out[j].dead = counts[i].dead;
	}
	*n = k;
	return out;
}

void
api_metrics(struct request *r)
{
	struct evbuffer *buf = evbuffer_new();
	struct store_outbox_count *counts = NULL;
	struct metrics_scrape s = { 0 };
	struct metrics_outbox *outbox;
	size_t ncounts = 0, len;

	if (buf == NULL) {
		request_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	/* Without the store's counts the rest still answers. */
	if (store_outbox_counts(r->store, &counts, &ncounts) != STORE_OK)
		request_log(r, LOG_LEVEL_WARN, "metrics: the outbox could not be "
		    "counted");
	outbox = api_metrics_outbox(r, counts, ncounts, &s.noutbox);
	s.outbox = outbox;
	s.config_sha256 = r->cfg->sha256;
	s.audit_entries = audit_size(r->gw->audit);
	s.checkpoint_ms = audit_checkpoint_time(r->gw->audit,
	    &s.audit_checkpointed);
	metrics_render(buf, &s);
	free(outbox);
	store_outbox_counts_free(counts, ncounts);
	len = evbuffer_get_length(buf);
	request_reply_raw(r, 200, "text/plain; version=0.0.4",
	    evbuffer_pullup(buf, -1), len, "no-store");
	evbuffer_free(buf);
}
