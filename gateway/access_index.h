/* access_index.h — keeps the store's subject → audit index (what
 * GET /v1/access-log reads) in step with the audit log. The entries
 * cannot tell whom they are about (contract §5): this private index, in
 * the store and never in the tiles, is what can. */
#ifndef TELLONCE_ACCESS_INDEX_H
#define TELLONCE_ACCESS_INDEX_H

#include "audit.h"
#include "store.h"

/* Indexes every batch of entries about a subject before the sequencer
 * writes it, through st (borrowed; it must outlive the log), for a log
 * in a directory (the log the nodes on PostgreSQL share indexes its
 * entries in the transaction that appends them, audit_open_shared); a batch the
 * store cannot index is not written, its appends fail. The rows are on
 * disk before the batch is written (store_access_put is durable), so no
 * crash nor power cut leaves an entry without its row. A row whose entry
 * a crash lost points at an index a later entry takes: the access log
 * drops it, the later entry's commitment not being the subject's. */
void access_index_start(struct audit *a, struct store *st);

#endif
