/* audit_anchor.h — the store remembers the last checkpoint the audit log
 * signed, and the log refuses to start behind it.
 *
 * A checkpoint, once served, may be held by any auditor. An older copy of
 * the audit directory (a restore, a rolled-back disk snapshot) would start
 * from fewer entries and sign checkpoints that no consistency proof joins
 * to the published ones: a fork, which is what the log exists to rule
 * out. The store is backed up and restored apart from the directory, so
 * it is the other witness: it keeps (size, root) per origin, and a start
 * whose directory does not extend it fails with the way out. */
#ifndef TELLONCE_AUDIT_ANCHOR_H
#define TELLONCE_AUDIT_ANCHOR_H

#include <stddef.h>

#include "audit.h"
#include "store.h"

/* Opens cfg's audit log, refusing it when it does not extend the
 * checkpoint st remembers for cfg->origin, and then keeps st remembering
 * every checkpoint signed: one store write per checkpoint, on the
 * sequencer thread, after the checkpoint is durable in the directory, so
 * the store is never ahead of it. st is borrowed and must outlive the log;
 * from here on only the sequencer uses it. NULL with err. */
struct audit *audit_anchor_open(const struct config_audit *cfg,
    struct store *st, char *err, size_t errlen);

#endif
