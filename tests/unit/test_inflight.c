/* test_inflight.c — the deliveries in flight on a SQLite store, held in
 * memory: what a take may pass over, and what a batch that commits or
 * rolls back leaves of its takes and outcomes. */
#include <stdint.h>
#include <stdio.h>

#include "store_inflight.h"
#include "unit.h"

/* Two connections of one file, and the batch each may be in. */
static const int conn_a, conn_b;

static uint64_t
chain(const char *subject)
{
	return store_inflight_chain("caf", subject, "address");
}

/* One version of a chain in flight at a time, wherever it was taken. */
static void
test_one_per_chain(void)
{
	struct store_inflight *f = store_inflight_open("/x/one.db");
	struct store_inflight *g = store_inflight_open("/x/one.db");

	CHECK(f != NULL && f == g);
	CHECK_INT(store_inflight_take(f, &conn_a, 1, chain("s1"), 0), 1);
	CHECK_INT(store_inflight_has(f, 1), 1);
	CHECK_INT(store_inflight_take(g, &conn_b, 1, chain("s1"), 0), 0);
	CHECK_INT(store_inflight_take(g, &conn_b, 2, chain("s1"), 0), 0);
	CHECK_INT(store_inflight_take(g, &conn_b, 3, chain("s2"), 0), 1);
	CHECK(chain("s1") != store_inflight_chain("ccas", "s1", "address"));
	store_inflight_remove(f, &conn_a, 1, 0);
	CHECK_INT(store_inflight_has(f, 1), 0);
	CHECK_INT(store_inflight_take(g, &conn_b, 2, chain("s1"), 0), 1);
	store_inflight_close(g);
	store_inflight_close(f);
	/* Another file has a set of its own. */
	f = store_inflight_open("/x/other.db");
	CHECK_INT(store_inflight_has(f, 3), 0);
	store_inflight_close(f);
}

/* A batch that rolls back undoes its takes and its outcomes; one that
 * commits keeps them; another connection's batch is its own. */
static void
test_batches(void)
{
	struct store_inflight *f = store_inflight_open("/x/batch.db");

	CHECK_INT(store_inflight_take(f, &conn_a, 1, chain("s1"), 0), 1);
	/* Rolled back: the take is undone, the outcome too. */
	CHECK_INT(store_inflight_take(f, &conn_a, 2, chain("s2"), 1), 1);
	store_inflight_remove(f, &conn_a, 1, 1);
	CHECK_INT(store_inflight_has(f, 1), 0);
	CHECK_INT(store_inflight_take(f, &conn_b, 3, chain("s3"), 1), 1);
	store_inflight_settle(f, &conn_a, 0);
	CHECK_INT(store_inflight_has(f, 1), 1);
	CHECK_INT(store_inflight_has(f, 2), 0);
	CHECK_INT(store_inflight_take(f, &conn_a, 4, chain("s1"), 0), 0);
	CHECK_INT(store_inflight_take(f, &conn_a, 5, chain("s2"), 0), 1);
	CHECK_INT(store_inflight_has(f, 3), 1);   /* conn_b's, unsettled */
	store_inflight_settle(f, &conn_b, 1);
	CHECK_INT(store_inflight_has(f, 3), 1);
	/* Committed: the outcome stands, and the chain's next version may
	 * be taken in the same batch. */
	store_inflight_remove(f, &conn_a, 1, 1);
	CHECK_INT(store_inflight_take(f, &conn_a, 4, chain("s1"), 1), 1);
	store_inflight_settle(f, &conn_a, 1);
	CHECK_INT(store_inflight_has(f, 1), 0);
	CHECK_INT(store_inflight_has(f, 4), 1);
	/* A retry due at once, taken again in the batch of its outcome:
	 * in flight whether the batch commits or not. */
	store_inflight_remove(f, &conn_a, 4, 1);
	CHECK_INT(store_inflight_take(f, &conn_a, 4, chain("s1"), 1), 1);
	store_inflight_settle(f, &conn_a, 0);
	CHECK_INT(store_inflight_has(f, 4), 1);
	CHECK_INT(store_inflight_take(f, &conn_a, 6, chain("s1"), 0), 0);
	store_inflight_clear(f);
	CHECK_INT(store_inflight_has(f, 4), 0);
	CHECK_INT(store_inflight_take(f, &conn_a, 6, chain("s1"), 0), 1);
	store_inflight_close(f);
}

/* Many in flight at once (the table grows), then all finished. */
static void
test_many(void)
{
	struct store_inflight *f = store_inflight_open("/x/many.db");
	char subject[16];

	for (int64_t seq = 1; seq <= 1000; seq++) {
		snprintf(subject, sizeof(subject), "s%d", (int)seq);
		CHECK_INT(store_inflight_take(f, &conn_a, seq, chain(subject),
		    0), 1);
	}
	for (int64_t seq = 1; seq <= 1000; seq += 2)
		store_inflight_remove(f, &conn_a, seq, 0);
	for (int64_t seq = 1; seq <= 1000; seq++)
		CHECK_INT(store_inflight_has(f, seq), (int)(seq % 2 == 0));
	for (int64_t seq = 1001; seq <= 2000; seq++) {
		snprintf(subject, sizeof(subject), "s%d", (int)(seq - 1000));
		CHECK_INT(store_inflight_take(f, &conn_a, seq, chain(subject),
		    0), (int)(seq % 2 == 1));
	}
	store_inflight_close(f);
}

int
main(void)
{
	UNIT_RUN(test_one_per_chain);
	UNIT_RUN(test_batches);
	UNIT_RUN(test_many);
	return UNIT_END();
}
