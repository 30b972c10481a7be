/* access_index.h — keeps the store's subject → audit index (what
 * GET /v1/access-log reads) in step with the audit log. */
#ifndef TELLONCE_ACCESS_INDEX_H
#define TELLONCE_ACCESS_INDEX_H

#include "audit.h"
#include "store.h"

struct access_index;

/* Indexes the entries from the store's watermark on (a crash can come
 * between an entry's fsync and its index row, and a batch the store failed
 * is left out), then indexes every durable batch as the sequencer writes
 * it, through st (borrowed; it must outlive the log). A batch that finds
 * a gap below it fills the gap first, so the index heals as soon as the
 * store writes again. NULL when the catch-up failed. */
struct access_index *access_index_start(struct audit *a, struct store *st);
/* After audit_close: the hook runs until the log is closed. */
void access_index_free(struct access_index *ix);

#endif
