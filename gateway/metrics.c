/* metrics.c — counters behind GET /metrics.
 *
 * HTTP counters are keyed by route pattern (not the raw path, which could
 * hold ids) in a small fixed table filled on first use. */
#include "metrics.h"

#include <stdatomic.h>
#include <string.h>

#define METRICS_ROUTES 32
#define METRICS_CLASSES 5 /* 1xx .. 5xx */
#define METRICS_REASONS (POLICY_STORE_ERROR + 1)
#define METRICS_CONNECTOR (CONNECTOR_PERMANENT + 1)

struct metrics_route {
	_Atomic(const char *) name;
	atomic_ullong count[METRICS_CLASSES];
};

static struct metrics_route metrics_routes[METRICS_ROUTES];
static atomic_ullong metrics_decisions[METRICS_REASONS];
static atomic_ullong metrics_connectors[METRICS_CONNECTOR];
static atomic_ullong metrics_backlog_rows, metrics_erased_rows;

static const char *const metrics_connector_names[METRICS_CONNECTOR] = {
	"ok", "not_found", "retry", "timeout", "conflict", "permanent",
};

/* Route names are static strings from server.c's table, so pointer identity
 * is enough; a slot is claimed once with compare-and-swap. */
static struct metrics_route *
metrics_route_slot(const char *route)
{
	for (size_t i = 0; i < METRICS_ROUTES; i++) {
		const char *cur = atomic_load(&metrics_routes[i].name);

		if (cur == route)
			return &metrics_routes[i];
		if (cur == NULL) {
			const char *expected = NULL;

			if (atomic_compare_exchange_strong(&metrics_routes[i].name,
			    &expected, route) || expected == route)
				return &metrics_routes[i];
		}
	}
	return NULL;
}

void
metrics_http(const char *route, int status)
{
	struct metrics_route *slot = metrics_route_slot(route);
	int cls = status / 100 - 1;

	if (slot == NULL || cls < 0 || cls >= METRICS_CLASSES)
		return;
	atomic_fetch_add(&slot->count[cls], 1);
}

void
metrics_decision(enum policy_reason reason)
{
	if ((unsigned)reason < METRICS_REASONS)
		atomic_fetch_add(&metrics_decisions[reason], 1);
}

void
metrics_connector(enum connector_status status)
{
	if ((unsigned)status < METRICS_CONNECTOR)
		atomic_fetch_add(&metrics_connectors[status], 1);
}

const char *
metrics_connector_name(enum connector_status status)
{
	return (unsigned)status < METRICS_CONNECTOR ?
	    metrics_connector_names[status] : "unknown";
}

void
metrics_erasure_backlog(uint64_t rows)
{
	atomic_store(&metrics_backlog_rows, rows);
}

void
metrics_erased(uint64_t rows)
{
	atomic_fetch_add(&metrics_erased_rows, rows);
}

void
metrics_render(struct evbuffer *out, uint64_t audit_size)
{
	evbuffer_add_printf(out,
	    "# HELP tellonce_build_info Version of the running gateway.\n"
	    "# TYPE tellonce_build_info gauge\n"
	    "tellonce_build_info{version=\"%s\"} 1\n", TELLONCE_VERSION);
	evbuffer_add_printf(out,
	    "# HELP tellonce_http_requests_total HTTP requests by route and status class.\n"
	    "# TYPE tellonce_http_requests_total counter\n");
	for (size_t i = 0; i < METRICS_ROUTES; i++) {
		const char *name = atomic_load(&metrics_routes[i].name);

		if (name == NULL)
			break;
		for (int c = 0; c < METRICS_CLASSES; c++) {
			unsigned long long n = atomic_load(&metrics_routes[i].count[c]);

			if (n > 0)
				evbuffer_add_printf(out,
				    "tellonce_http_requests_total{route=\"%s\",code=\"%dxx\"} %llu\n",
				    name, c + 1, n);
		}
	}
	evbuffer_add_printf(out,
	    "# HELP tellonce_decisions_total Policy decisions by outcome.\n"
	    "# TYPE tellonce_decisions_total counter\n");
	for (int r = 0; r < METRICS_REASONS; r++)
		evbuffer_add_printf(out, "tellonce_decisions_total{reason=\"%s\"} %llu\n",
		    policy_reason_name((enum policy_reason)r),
		    (unsigned long long)atomic_load(&metrics_decisions[r]));
	evbuffer_add_printf(out,
	    "# HELP tellonce_connector_calls_total Calls to services by outcome.\n"
	    "# TYPE tellonce_connector_calls_total counter\n");
	for (int s = 0; s < METRICS_CONNECTOR; s++)
		evbuffer_add_printf(out,
		    "tellonce_connector_calls_total{result=\"%s\"} %llu\n",
		    metrics_connector_names[s],
		    (unsigned long long)atomic_load(&metrics_connectors[s]));
	evbuffer_add_printf(out,
	    "# HELP tellonce_audit_entries Entries in the audit log.\n"
	    "# TYPE tellonce_audit_entries gauge\n"
	    "tellonce_audit_entries %llu\n", (unsigned long long)audit_size);
	evbuffer_add_printf(out,
	    "# HELP tellonce_erasure_backlog_rows Stored rows of personal data "
	    "past their retention, not erased yet.\n"
	    "# TYPE tellonce_erasure_backlog_rows gauge\n"
	    "tellonce_erasure_backlog_rows %llu\n"
	    "# HELP tellonce_erased_rows_total Rows of personal data erased, "
	    "by retention or on request.\n"
	    "# TYPE tellonce_erased_rows_total counter\n"
	    "tellonce_erased_rows_total %llu\n",
	    (unsigned long long)atomic_load(&metrics_backlog_rows),
	    (unsigned long long)atomic_load(&metrics_erased_rows));
}
