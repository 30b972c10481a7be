/* metrics.h — what GET /metrics says (Prometheus text format 0.0.4).
 *
 * Everything measured on the hot path is a relaxed atomic add into a fixed
 * table (no lock, no allocation after a series' first use), so any thread
 * may report; what the scrape can read on the spot (store, audit log) is
 * passed to metrics_render. Labels carry only route patterns, status
 * classes, configured service ids, operations, outcomes and states: never
 * a pseudonym, a local id or a raw path. docs/operations.md lists every
 * metric. */
#ifndef TELLONCE_METRICS_H
#define TELLONCE_METRICS_H

#include <event2/buffer.h>
#include <stdint.h>

#include "connector.h"
#include "policy.h"

enum metrics_op { METRICS_FETCH, METRICS_PUSH, METRICS_CHANGES };

enum metrics_circuit {
	METRICS_CIRCUIT_CLOSED,
	METRICS_CIRCUIT_OPEN,
	METRICS_CIRCUIT_HALF_OPEN,   /* its one probe is in flight */
};

/* A request on route (its pattern) answered status after took_us. */
void metrics_http(const char *route, int status, int64_t took_us);
void metrics_decision(enum policy_reason reason);
/* A connector call to service (its id) for op ended with status after
 * took_us. */
void metrics_connector(const char *service, enum metrics_op op,
    enum connector_status status, int64_t took_us);
/* The name of a connector outcome ("ok", "timeout", ...), as metrics and
 * logs show it. */
const char *metrics_connector_name(enum connector_status status);
/* Rows past their retention not erased yet (a gauge, set by the purge). */
void metrics_erasure_backlog(uint64_t rows);
/* Rows erased, by the purge or an erasure request. */
void metrics_erased(uint64_t rows);
/* The circuit breaker of a subscriber (its id) is now in state. */
void metrics_circuit(const char *subscriber, enum metrics_circuit state);
/* The configuration was loaded at start (reload 0) or by a SIGHUP
 * (reload 1), successfully or not. */
void metrics_config_loaded(int reload, int ok);
/* notAfter of the server certificate served, in seconds since the epoch;
 * 0 when the gateway serves no TLS. */
void metrics_tls_not_after(int64_t epoch_s);

/* One subscriber's outbox, as the store counts it at scrape time. */
struct metrics_outbox {
	const char *subscriber;
	uint64_t depth;              /* pending or being sent */
	uint64_t dead;               /* dead letters */
};

/* What a scrape reads on the spot. */
struct metrics_scrape {
	const char *config_sha256;   /* the config in force (config.sha256) */
	uint64_t audit_entries;
	uint64_t audit_checkpointed; /* entries the last checkpoint signs */
	int64_t checkpoint_ms;       /* when it was written; 0: none */
	const struct metrics_outbox *outbox;
	size_t noutbox;
};

/* Appends the exposition text. */
void metrics_render(struct evbuffer *out, const struct metrics_scrape *s);

#endif
