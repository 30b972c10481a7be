/* access_index.c — the subject → audit index kept in step with the log
 * (see access_index.h). */
#include "access_index.h"

#include "log.h"

/* The audit index hook: runs on the sequencer thread once per batch,
 * before the batch is written (audit.h). */
static void
access_index_batch(const char *const *subjects, const uint64_t *indexes,
    size_t n, void *arg)
{
	if (store_access_put(arg, subjects, indexes, n) != STORE_OK)
		log_error("access index: entries %llu..%llu not indexed",
		    (unsigned long long)indexes[0],
		    (unsigned long long)indexes[n - 1]);
}

void
access_index_start(struct audit *a, struct store *st)
{
	audit_set_index_hook(a, access_index_batch, st);
}
