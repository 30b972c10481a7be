/* access_index.c — the subject → audit index kept in step with the log
 * (see access_index.h). */
#include "access_index.h"

#include <stdlib.h>

#include "log.h"

/* The audit index hook: runs on the sequencer thread once per batch,
 * before the batch is written (audit.h), which a failure here stops: the
 * entries cannot tell their subject, so one written without its row
 * could never be indexed afterwards. */
static int
access_index_batch(const struct audit_indexed *rows, size_t n, void *arg)
{
	struct store_access *put = calloc(n, sizeof(*put));
	enum store_status rc = STORE_ERROR;

	if (put != NULL) {
		for (size_t i = 0; i < n; i++)
			put[i] = (struct store_access){ rows[i].subject,
			    rows[i].index, rows[i].mandate, rows[i].mediator,
			    rows[i].helper };
		rc = store_access_put(arg, put, n);
	}
	free(put);
	if (rc == STORE_OK)
		return 0;
	log_error("access index: entries %llu..%llu not indexed: not written",
	    (unsigned long long)rows[0].index,
	    (unsigned long long)rows[n - 1].index);
	return -1;
}

void
access_index_start(struct audit *a, struct store *st)
{
	audit_set_index_hook(a, access_index_batch, st);
}
