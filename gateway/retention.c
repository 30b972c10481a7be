/* retention.c — the background purge (see retention.h). */
#include "retention.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"

#define RETENTION_INTERVAL_MS 1000   /* between two runs */
#define RETENTION_BATCH 100          /* record versions per transaction */

/* Applies when a record's dataset is no longer configured. */
#define RETENTION_DEFAULT_MS (30LL * 86400000)

struct retention {
	struct store *st;
	int64_t next_run_ms;         /* monotonic; 0: at once */
	int running;                 /* a run has more batches to go */
	int dirty;                   /* erased since the last compaction */
};

static atomic_int retention_compact_wanted;

struct retention *
retention_new(struct store *st)
{
	struct retention *rt = calloc(1, sizeof(*rt));

	if (rt != NULL)
		rt->st = st;
	return rt;
}

void
retention_free(struct retention *rt)
{
	free(rt);
}

void
retention_compact_later(void)
{
	atomic_store(&retention_compact_wanted, 1);
}

/* The end of a run: the log emptied if anything was erased, the backlog
 * (what stays held by unsettled deliveries) counted for /metrics. */
static void
retention_finish_run(struct retention *rt, const struct store_purge *p)
{
	uint64_t backlog;

	rt->running = 0;
	rt->next_run_ms = clock_mono_ms() + RETENTION_INTERVAL_MS;
	if (atomic_exchange(&retention_compact_wanted, 0))
		rt->dirty = 1;
	if (rt->dirty) {
		enum store_status rc = store_compact(rt->st);

		if (rc == STORE_OK)
			rt->dirty = 0;
		else if (rc == STORE_CONFLICT)
			log_debug("retention: readers kept the log from being "
			    "emptied; next run");
	}
	if (store_purge_backlog(rt->st, p, &backlog) == STORE_OK)
		metrics_erasure_backlog(backlog);
}

void
retention_step(struct retention *rt, const struct config *cfg)
{
	struct store_retention *rules;
	struct store_purge p;
	uint64_t erased;
	enum store_status rc;

	if (!rt->running && clock_mono_ms() < rt->next_run_ms)
		return;
	if ((rules = calloc(cfg->ndatasets + 1, sizeof(*rules))) == NULL)
		return;
	for (size_t i = 0; i < cfg->ndatasets; i++) {
		rules[i].dataset = cfg->datasets[i].name;
		rules[i].retention_ms = cfg->datasets[i].retention_ms;
	}
	p = (struct store_purge){ .rules = rules, .nrules = cfg->ndatasets,
	    .default_ms = RETENTION_DEFAULT_MS, .now_ms = clock_now_ms() };
	rc = store_purge(rt->st, &p, RETENTION_BATCH, &erased);
	if (rc == STORE_OK && erased > 0) {
		metrics_erased(erased);
		rt->dirty = 1;
		rt->running = 1;
	} else {
		if (rc != STORE_OK)
			log_warn("retention: purge failed; next run");
		retention_finish_run(rt, &p);
	}
	free(rules);
}
