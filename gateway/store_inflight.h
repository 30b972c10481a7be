/* store_inflight.h — the deliveries taken from a SQLite store and not
 * finished, kept in memory instead of marked in the store (store_sqlite.c
 * uses it; nothing outside the store layer does).
 *
 * Only one process opens a SQLite store, so what it is sending need not
 * be written down: a crash loses the senders too, and their deliveries,
 * still pending in the store, are taken again at the next start (at least
 * once, as before). The mark cost a row rewrite and three index changes
 * per delivery, in the write transaction every push waits for. The set
 * answers the two questions the mark did: is this row in flight (a take
 * passes over it), and is anything of this chain (subscriber, subject,
 * dataset) in flight (a take passes over the chain's next version, which
 * waits).
 *
 * Changes made inside a store batch are tentative until the batch ends:
 * store_inflight_settle keeps them when it committed and undoes them when
 * it rolled back, as the store undid the marks. */
#ifndef TELLONCE_STORE_INFLIGHT_H
#define TELLONCE_STORE_INFLIGHT_H

#include <stdint.h>

struct store_inflight;

/* The set of the store file at `path` (as SQLite names it), shared by
 * every connection of this process to it; NULL when out of memory.
 * Closed once by each opener. */
struct store_inflight *store_inflight_open(const char *path);
void store_inflight_close(struct store_inflight *f);

/* The key of a chain; two chains that share one only wait for each other. */
uint64_t store_inflight_chain(const char *subscriber, const char *subject,
    const char *dataset);

/* 1 when seq is in flight (a removal not yet settled no longer counts). */
int store_inflight_has(struct store_inflight *f, int64_t seq);
/* Puts seq of chain in flight, unless it or anything of its chain is
 * already: 1 taken, 0 not, -1 out of memory. Tentatively when
 * `tentative`, within the batch of `owner` (a connection). */
int store_inflight_take(struct store_inflight *f, const void *owner,
    int64_t seq, uint64_t chain, int tentative);
/* seq's outcome is stored: out of the set, tentatively when `tentative`.
 * A seq not in the set is ignored. */
void store_inflight_remove(struct store_inflight *f, const void *owner,
    int64_t seq, int tentative);
/* The batch of `owner` committed (1) or not (0): its tentative changes
 * are kept or undone. */
void store_inflight_settle(struct store_inflight *f, const void *owner,
    int committed);
/* Empties the set: after a restart's recovery nothing is in flight. */
void store_inflight_clear(struct store_inflight *f);

#endif
