/* access_index.h — keeps the store's subject → audit index (what
 * GET /v1/access-log reads) in step with the audit log. */
#ifndef TELLONCE_ACCESS_INDEX_H
#define TELLONCE_ACCESS_INDEX_H

#include "audit.h"
#include "store.h"

/* Indexes the entries the log holds beyond the last indexed one (a crash
 * can come between an entry's fsync and its index row), then indexes
 * every durable batch as the sequencer writes it, through st (borrowed; it
 * must outlive the log). Returns 0, or -1 when the catch-up failed. */
int access_index_start(struct audit *a, struct store *st);

#endif
