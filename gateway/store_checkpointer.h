/* store_checkpointer.h — a thread that checkpoints the store's
 * write-ahead log (store_checkpoint) every STORE_CHECKPOINTER_MS, so that
 * no commit on a request path has to. */
#ifndef TELLONCE_STORE_CHECKPOINTER_H
#define TELLONCE_STORE_CHECKPOINTER_H

#include <stddef.h>

#define STORE_CHECKPOINTER_MS 100

struct store_checkpointer;

/* Opens a connection of its own to `url` (password as store_open's) and
 * starts the thread; NULL with err on failure. A store whose server
 * checkpoints its own log (PostgreSQL) gets no thread, only the handle. */
struct store_checkpointer *store_checkpointer_start(const char *url,
    const char *password, char *err, size_t errlen);
/* Stops the thread, closes its connection and frees cp (NULL: nothing). */
void store_checkpointer_stop(struct store_checkpointer *cp);

#endif
