/* access_index.c — the subject → audit index kept in step with the log
 * (see access_index.h). */
#include "access_index.h"

#include "log.h"

/* The audit index hook: runs on the sequencer thread once per batch,
 * before the batch is written (audit.h), which a failure here stops: the
 * entries cannot tell their subject, so one written without its row
 * could never be indexed afterwards. */
static int
access_index_batch(const char *const *subjects, const uint64_t *indexes,
    size_t n, void *arg)
{
	if (store_access_put(arg, subjects, indexes, n) == STORE_OK)
		return 0;
	log_error("access index: entries %llu..%llu not indexed: not written",
	    (unsigned long long)indexes[0], (unsigned long long)indexes[n - 1]);
	return -1;
}

void
access_index_start(struct audit *a, struct store *st)
{
	audit_set_index_hook(a, access_index_batch, st);
}
