/* metrics.h — process-wide counters for GET /metrics (Prometheus text).
 * Lock-free atomics: any thread may bump them. No labels carry personal
 * values: routes, status classes, decision reasons and connector outcomes. */
#ifndef TELLONCE_METRICS_H
#define TELLONCE_METRICS_H

#include <event2/buffer.h>
#include <stdint.h>

#include "connector.h"
#include "policy.h"

void metrics_http(const char *route, int status);
void metrics_decision(enum policy_reason reason);
void metrics_connector(enum connector_status status);
/* Rows past their retention not erased yet (a gauge, set by the purge). */
void metrics_erasure_backlog(uint64_t rows);
/* Rows erased, by the purge or an erasure request. */
void metrics_erased(uint64_t rows);
/* The name of a connector outcome ("ok", "timeout", ...), as metrics and
 * logs show it. */
const char *metrics_connector_name(enum connector_status status);
/* Appends the exposition text; audit_size is the log's current size. */
void metrics_render(struct evbuffer *out, uint64_t audit_size);

#endif
