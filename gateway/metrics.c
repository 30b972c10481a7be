/* metrics.c — the series behind GET /metrics (see metrics.h).
 *
 * Series are kept in fixed tables of named slots, a slot claimed once
 * with compare-and-swap on its first use and never released, so the hot
 * path is a lookup among a few short names and relaxed atomic adds: no
 * lock per request. The tables are bounded (routes, services); an
 * observation that finds no free slot is dropped rather than allocated
 * for, and counted in tellonce_metrics_dropped_total.
 *
 * A histogram keeps one counter per bucket (not cumulative, so an
 * observation is one add) and its sum in microseconds; the scrape adds
 * the buckets up and prints seconds. */
#include "metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define METRICS_ROUTES 32
#define METRICS_CLASSES 5 /* 1xx .. 5xx */
#define METRICS_SERVICES 64
#define METRICS_OPS (METRICS_CHANGES + 1)
#define METRICS_REASONS (POLICY_STORE_ERROR + 1)
#define METRICS_RESULTS (CONNECTOR_PERMANENT + 1)

/* Upper bounds of the latency buckets, in microseconds (Prometheus'
 * default buckets, 5 ms to 10 s); the last bucket is +Inf. */
static const int64_t metrics_bounds_us[] = {
	5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};
#define METRICS_BUCKETS \
	(sizeof(metrics_bounds_us) / sizeof(metrics_bounds_us[0]) + 1)

struct metrics_hist {
	atomic_ullong bucket[METRICS_BUCKETS];
	atomic_ullong sum_us;
};

struct metrics_route {
	struct metrics_hist cls[METRICS_CLASSES];
};

struct metrics_service {
	struct metrics_hist op[METRICS_OPS];
	atomic_ullong result[METRICS_OPS][METRICS_RESULTS];
	atomic_int circuit;          /* enum metrics_circuit + 1; 0: none */
};

static _Atomic(char *) metrics_route_names[METRICS_ROUTES];
static struct metrics_route metrics_routes[METRICS_ROUTES];
static _Atomic(char *) metrics_service_names[METRICS_SERVICES];
static struct metrics_service metrics_services[METRICS_SERVICES];
static atomic_ullong metrics_decisions[METRICS_REASONS];
static atomic_ullong metrics_dropped;
static atomic_ullong metrics_reloads[2];          /* refused, ok */
static atomic_llong metrics_last_success_ms;
static atomic_int metrics_last_ok = 1;
static atomic_llong metrics_tls_expiry_s;
static atomic_ullong metrics_backlog_rows, metrics_erased_rows;

static const char *const metrics_result_names[METRICS_RESULTS] = {
	"ok", "not_found", "retry", "timeout", "conflict", "permanent",
};
static const char *const metrics_op_names[METRICS_OPS] = {
	"fetch", "push", "changes",
};

/* The slot of name in names[0..n), claimed on first use (a copy of name
 * is kept for good); -1 when the table is full or out of memory. Names are
 * route patterns and service ids ([a-z0-9_-], config_valid_id), which
 * need no escaping in a label. */
static int
metrics_slot(_Atomic(char *) *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		char *cur = atomic_load_explicit(&names[i], memory_order_acquire);
		char *mine;

		if (cur == NULL) {
			if ((mine = strdup(name)) == NULL)
				break;
			if (atomic_compare_exchange_strong(&names[i], &cur, mine))
				return (int)i;
			free(mine);
		}
		if (strcmp(cur, name) == 0)
			return (int)i;
	}
	atomic_fetch_add_explicit(&metrics_dropped, 1, memory_order_relaxed);
	return -1;
}

static void
metrics_observe(struct metrics_hist *h, int64_t took_us)
{
	size_t b = 0;

	if (took_us < 0)
		took_us = 0;
	while (b < METRICS_BUCKETS - 1 && took_us > metrics_bounds_us[b])
		b++;
	atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, (unsigned long long)took_us,
	    memory_order_relaxed);
}

void
metrics_http(const char *route, int status, int64_t took_us)
{
	int cls = status / 100 - 1, i;

	if (cls < 0 || cls >= METRICS_CLASSES ||
	    (i = metrics_slot(metrics_route_names, METRICS_ROUTES, route)) < 0)
		return;
	metrics_observe(&metrics_routes[i].cls[cls], took_us);
}

void
metrics_decision(enum policy_reason reason)
{
	if ((unsigned)reason < METRICS_REASONS)
		atomic_fetch_add_explicit(&metrics_decisions[reason], 1,
		    memory_order_relaxed);
}

void
metrics_connector(const char *service, enum metrics_op op,
    enum connector_status status, int64_t took_us)
{
	int i;

	if ((unsigned)op >= METRICS_OPS || (unsigned)status >= METRICS_RESULTS ||
	    (i = metrics_slot(metrics_service_names, METRICS_SERVICES,
	    service)) < 0)
		return;
	metrics_observe(&metrics_services[i].op[op], took_us);
	atomic_fetch_add_explicit(&metrics_services[i].result[op][status], 1,
	    memory_order_relaxed);
}

const char *
metrics_connector_name(enum connector_status status)
{
	return (unsigned)status < METRICS_RESULTS ?
	    metrics_result_names[status] : "unknown";
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
metrics_circuit(const char *subscriber, enum metrics_circuit state)
{
	int i = metrics_slot(metrics_service_names, METRICS_SERVICES, subscriber);

	if (i >= 0)
		atomic_store(&metrics_services[i].circuit, (int)state + 1);
}

void
metrics_config_loaded(int reload, int ok)
{
	if (reload)
		atomic_fetch_add(&metrics_reloads[ok ? 1 : 0], 1);
	atomic_store(&metrics_last_ok, ok);
	if (ok)
		atomic_store(&metrics_last_success_ms, clock_now_ms());
}

void
metrics_tls_not_after(int64_t epoch_s)
{
	atomic_store(&metrics_tls_expiry_s, epoch_s);
}

/* ---- rendering ------------------------------------------------------------ */

static void
metrics_head(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* The _bucket, _sum and _count lines of h; labels is `k="v",...`. */
static void
metrics_render_hist(struct evbuffer *out, const char *name,
    const char *labels, const struct metrics_hist *h)
{
	unsigned long long cum = 0;

	for (size_t b = 0; b < METRICS_BUCKETS; b++) {
		cum += atomic_load_explicit(&h->bucket[b], memory_order_relaxed);
		if (b < METRICS_BUCKETS - 1)
			evbuffer_add_printf(out, "%s_bucket{%s,le=\"%g\"} %llu\n",
			    name, labels, (double)metrics_bounds_us[b] / 1e6, cum);
		else
			evbuffer_add_printf(out, "%s_bucket{%s,le=\"+Inf\"} %llu\n",
			    name, labels, cum);
	}
	evbuffer_add_printf(out, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name,
	    labels, (double)atomic_load_explicit(&h->sum_us,
	    memory_order_relaxed) / 1e6, name, labels, cum);
}

static unsigned long long
metrics_hist_count(const struct metrics_hist *h)
{
	unsigned long long n = 0;

	for (size_t b = 0; b < METRICS_BUCKETS; b++)
		n += atomic_load_explicit(&h->bucket[b], memory_order_relaxed);
	return n;
}

static void
metrics_render_http(struct evbuffer *out)
{
	char labels[160];

	metrics_head(out, "tellonce_http_request_duration_seconds", "histogram",
	    "Time from a request's intake to its reply, by route pattern and "
	    "status class.");
	for (size_t i = 0; i < METRICS_ROUTES; i++) {
		const char *name = atomic_load(&metrics_route_names[i]);

		if (name == NULL)
			break;
		for (int c = 0; c < METRICS_CLASSES; c++) {
			if (metrics_hist_count(&metrics_routes[i].cls[c]) == 0)
				continue;
			snprintf(labels, sizeof(labels),
			    "route=\"%s\",code=\"%dxx\"", name, c + 1);
			metrics_render_hist(out,
			    "tellonce_http_request_duration_seconds", labels,
			    &metrics_routes[i].cls[c]);
		}
	}
}

static void
metrics_render_connectors(struct evbuffer *out)
{
	char labels[160];

	metrics_head(out, "tellonce_connector_call_duration_seconds",
	    "histogram", "Time a call to a service took, by service and "
	    "operation.");
	for (size_t i = 0; i < METRICS_SERVICES; i++) {
		const char *name = atomic_load(&metrics_service_names[i]);

		if (name == NULL)
			break;
		for (int op = 0; op < METRICS_OPS; op++) {
			if (metrics_hist_count(&metrics_services[i].op[op]) == 0)
				continue;
			snprintf(labels, sizeof(labels),
			    "service=\"%s\",operation=\"%s\"", name,
			    metrics_op_names[op]);
			metrics_render_hist(out,
			    "tellonce_connector_call_duration_seconds", labels,
			    &metrics_services[i].op[op]);
		}
	}
	metrics_head(out, "tellonce_connector_calls_total", "counter",
	    "Calls to services by service, operation and outcome.");
	for (size_t i = 0; i < METRICS_SERVICES; i++) {
		const char *name = atomic_load(&metrics_service_names[i]);

		if (name == NULL)
			break;
		for (int op = 0; op < METRICS_OPS; op++)
			for (int s = 0; s < METRICS_RESULTS; s++) {
				unsigned long long n = atomic_load_explicit(
				    &metrics_services[i].result[op][s],
				    memory_order_relaxed);

				if (n > 0)
					evbuffer_add_printf(out,
					    "tellonce_connector_calls_total{service=\"%s\","
					    "operation=\"%s\",result=\"%s\"} %llu\n", name,
					    metrics_op_names[op],
					    metrics_result_names[s], n);
			}
	}
}

static void
metrics_render_circuits(struct evbuffer *out)
{
	metrics_head(out, "tellonce_delivery_circuit_state", "gauge",
	    "Circuit breaker of each subscriber: 0 closed, 1 open, 2 half "
	    "open (its probe in flight).");
	for (size_t i = 0; i < METRICS_SERVICES; i++) {
		const char *name = atomic_load(&metrics_service_names[i]);
		int state;

		if (name == NULL)
			break;
		if ((state = atomic_load(&metrics_services[i].circuit)) > 0)
			evbuffer_add_printf(out, "tellonce_delivery_circuit_state"
			    "{subscriber=\"%s\"} %d\n", name, state - 1);
	}
}

static void
metrics_render_outbox(struct evbuffer *out, const struct metrics_scrape *s)
{
	metrics_head(out, "tellonce_outbox_depth", "gauge",
	    "Deliveries of each subscriber not delivered yet (pending or being "
	    "sent).");
	for (size_t i = 0; i < s->noutbox; i++)
		evbuffer_add_printf(out, "tellonce_outbox_depth{subscriber=\"%s\"} "
		    "%llu\n", s->outbox[i].subscriber,
		    (unsigned long long)s->outbox[i].depth);
	metrics_head(out, "tellonce_outbox_dead_letters", "gauge",
	    "Dead letters of each subscriber, waiting for a replay.");
	for (size_t i = 0; i < s->noutbox; i++)
		evbuffer_add_printf(out, "tellonce_outbox_dead_letters"
		    "{subscriber=\"%s\"} %llu\n", s->outbox[i].subscriber,
		    (unsigned long long)s->outbox[i].dead);
}

static void
metrics_render_audit(struct evbuffer *out, const struct metrics_scrape *s)
{
	metrics_head(out, "tellonce_audit_entries", "gauge",
	    "Durable entries in the audit log.");
	evbuffer_add_printf(out, "tellonce_audit_entries %llu\n",
	    (unsigned long long)s->audit_entries);
	metrics_head(out, "tellonce_audit_checkpoint_entries", "gauge",
	    "Entries the last signed checkpoint covers.");
	evbuffer_add_printf(out, "tellonce_audit_checkpoint_entries %llu\n",
	    (unsigned long long)s->audit_checkpointed);
	metrics_head(out, "tellonce_audit_checkpoint_age_seconds", "gauge",
	    "Seconds since the last signed checkpoint was written (one is "
	    "written only when the log grew).");
	if (s->checkpoint_ms > 0)
		evbuffer_add_printf(out,
		    "tellonce_audit_checkpoint_age_seconds %.3f\n",
		    (double)(clock_now_ms() - s->checkpoint_ms) / 1e3);
}

static void
metrics_render_config(struct evbuffer *out, const struct metrics_scrape *s)
{
	int64_t tls = atomic_load(&metrics_tls_expiry_s);

	metrics_head(out, "tellonce_config_info", "gauge",
	    "SHA-256 of the configuration files in force: nodes meant to share "
	    "one configuration have the same.");
	if (s->config_sha256 != NULL)
		evbuffer_add_printf(out, "tellonce_config_info{sha256=\"%s\"} 1\n",
		    s->config_sha256);

	metrics_head(out, "tellonce_config_reloads_total", "counter",
	    "Configuration reloads (SIGHUP) by result.");
	evbuffer_add_printf(out, "tellonce_config_reloads_total{result=\"ok\"} "
	    "%llu\ntellonce_config_reloads_total{result=\"refused\"} %llu\n",
	    (unsigned long long)atomic_load(&metrics_reloads[1]),
	    (unsigned long long)atomic_load(&metrics_reloads[0]));
	metrics_head(out, "tellonce_config_last_reload_successful", "gauge",
	    "1 if the last configuration load (start or reload) was taken, 0 "
	    "if it was refused.");
	evbuffer_add_printf(out, "tellonce_config_last_reload_successful %d\n",
	    atomic_load(&metrics_last_ok));
	metrics_head(out, "tellonce_config_last_reload_success_timestamp_seconds",
	    "gauge", "When the configuration in force was loaded, in seconds "
	    "since the epoch.");
	evbuffer_add_printf(out,
	    "tellonce_config_last_reload_success_timestamp_seconds %.3f\n",
	    (double)atomic_load(&metrics_last_success_ms) / 1e3);
	/* The family is always declared; it has a sample under TLS only. */
	metrics_head(out, "tellonce_tls_certificate_expiry_timestamp_seconds",
	    "gauge", "notAfter of the server certificate served, in seconds "
	    "since the epoch.");
	if (tls > 0)
		evbuffer_add_printf(out,
		    "tellonce_tls_certificate_expiry_timestamp_seconds %lld\n",
		    (long long)tls);
}

void
metrics_render(struct evbuffer *out, const struct metrics_scrape *s)
{
	metrics_head(out, "tellonce_build_info", "gauge",
	    "Version of the running gateway.");
	evbuffer_add_printf(out, "tellonce_build_info{version=\"%s\"} 1\n",
	    TELLONCE_VERSION);
	metrics_render_http(out);
	metrics_head(out, "tellonce_decisions_total", "counter",
	    "Policy decisions by outcome.");
	for (int r = 0; r < METRICS_REASONS; r++)
		evbuffer_add_printf(out, "tellonce_decisions_total{reason=\"%s\"} "
		    "%llu\n", policy_reason_name((enum policy_reason)r),
		    (unsigned long long)atomic_load(&metrics_decisions[r]));
	metrics_render_connectors(out);
	metrics_render_circuits(out);
	metrics_render_outbox(out, s);
	metrics_render_audit(out, s);
	metrics_render_config(out, s);
	metrics_head(out, "tellonce_erasure_backlog_rows", "gauge",
	    "Stored rows of personal data past their retention, not erased yet.");
	evbuffer_add_printf(out, "tellonce_erasure_backlog_rows %llu\n",
	    (unsigned long long)atomic_load(&metrics_backlog_rows));
	metrics_head(out, "tellonce_erased_rows_total", "counter",
	    "Rows of personal data erased, by retention or on request.");
	evbuffer_add_printf(out, "tellonce_erased_rows_total %llu\n",
	    (unsigned long long)atomic_load(&metrics_erased_rows));
	metrics_head(out, "tellonce_metrics_dropped_total", "counter",
	    "Observations dropped because a metrics table was full.");
	evbuffer_add_printf(out, "tellonce_metrics_dropped_total %llu\n",
	    (unsigned long long)atomic_load(&metrics_dropped));
}
