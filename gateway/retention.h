/* retention.h — the background purge of contract §6: record versions,
 * their deliveries and dead letters are erased once their dataset's
 * `retention` is over (and every delivery of them settled), or at twice
 * it in any case.
 *
 * It runs on the delivery worker's loop, with that loop's store
 * connection: a step is one small batch in its own transaction, so
 * requests on other threads wait at most for one batch. Once a run has
 * erased all that was due, the write-ahead log is checkpointed and
 * emptied, so that erased values linger in no file. */
#ifndef TELLONCE_RETENTION_H
#define TELLONCE_RETENTION_H

#include "config_model.h"
#include "store.h"

struct retention;

/* st: borrowed, the connection of the loop that calls retention_step.
 * NULL when out of memory. */
struct retention *retention_new(struct store *st);
void retention_free(struct retention *rt);
/* Does one step of the purge under cfg: one batch while a run has more
 * to erase, else nothing until the next run is due. Called on every tick
 * of the loop; the pause between two ticks is what lets other writers
 * in between two batches. */
void retention_step(struct retention *rt, const struct config *cfg);
/* Any thread: an erasure could not empty the write-ahead log itself; the
 * next run does. */
void retention_compact_later(void);

#endif
