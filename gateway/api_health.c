/* api_health.c — liveness, readiness and metrics, open to anyone who can
 * reach the listen address (they reveal no personal data). */
#include <event2/buffer.h>
#include <stdlib.h>

#include "api.h"
#include "audit.h"
#include "gateway.h"
#include "metrics.h"

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

	request_reply_json(r, store_ok && audit_ok ? 200 : 503,
	    json_pack("{s:s, s:b, s:b}", "status",
	    store_ok && audit_ok ? "ready" : "not ready",
	    "store", store_ok, "audit", audit_ok));
}

void
api_metrics(struct request *r)
{
	struct evbuffer *buf = evbuffer_new();
	size_t len;

	if (buf == NULL) {
		request_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	metrics_render(buf, audit_size(r->gw->audit));
	len = evbuffer_get_length(buf);
	request_reply_raw(r, 200, "text/plain; version=0.0.4",
	    evbuffer_pullup(buf, -1), len, "no-store");
	evbuffer_free(buf);
}
