/* access_index.c — the subject → audit index kept in step with the log
 * (see access_index.h).
 *
 * The store keeps a watermark below which every entry is indexed, moved
 * only over a contiguous prefix. This file keeps its copy in `upto`: both
 * are written only here, on the sequencer thread once started. */
#include "access_index.h"

#include <jansson.h>
#include <stdlib.h>

#include "jsonutil.h"
#include "log.h"

#define ACCESS_INDEX_CHUNK 256        /* entries per catch-up transaction */
#define ACCESS_INDEX_HEAL_MAX 4096    /* entries a batch may heal: the
                                       * sequencer waits meanwhile */

struct access_index {
	struct audit *audit;
	struct store *store;
	uint64_t upto;                /* the store's watermark */
};

/* Indexes the entries [ix->upto, to) read back from the log, a chunk per
 * transaction. 0, or -1 when the log or the store failed (ix->upto says
 * how far it got). */
static int
access_index_fill(struct access_index *ix, uint64_t to)
{
	const char *subjects[ACCESS_INDEX_CHUNK];
	uint64_t indexes[ACCESS_INDEX_CHUNK];
	json_t *entries[ACCESS_INDEX_CHUNK];

	while (ix->upto < to) {
		uint64_t from = ix->upto, end = to - from > ACCESS_INDEX_CHUNK ?
		    from + ACCESS_INDEX_CHUNK : to;
		size_t n = 0, nentries = 0;
		enum store_status st = STORE_ERROR;
		uint64_t i;

		for (i = from; i < end; i++) {
			const char *subject;
			char *text;
			size_t len;

			if (audit_read_entry(ix->audit, i, &text, &len) != 0)
				break;
			entries[nentries] = json_loadb(text, len, 0, NULL);
			free(text);
			subject = jsonutil_string(entries[nentries++], "subject");
			if (subject != NULL) {
				subjects[n] = subject;
				indexes[n++] = i;
			}
		}
		if (i == end)
			st = store_access_put(ix->store, subjects, indexes, n,
			    from, end);
		while (nentries > 0)
			json_decref(entries[--nentries]);
		if (st != STORE_OK)
			return -1;
		ix->upto = end;
	}
	return 0;
}

/* The audit index hook: runs on the sequencer thread once per batch. */
static void
access_index_batch(const char *const *subjects, const uint64_t *indexes,
    size_t n, uint64_t from, uint64_t upto, void *arg)
{
	struct access_index *ix = arg;
	uint64_t heal_to;

	if (ix->upto >= upto)
		return;
	if (ix->upto == from) {
		if (store_access_put(ix->store, subjects, indexes, n, from,
		    upto) == STORE_OK)
			ix->upto = upto;
		else
			log_error("access index: entries %llu..%llu not indexed "
			    "yet", (unsigned long long)from,
			    (unsigned long long)upto - 1);
		return;
	}
	/* A gap below this batch: fill it from the log, a bounded piece at
	 * a time, this batch with it once the gap is gone. */
	heal_to = upto - ix->upto > ACCESS_INDEX_HEAL_MAX ?
	    ix->upto + ACCESS_INDEX_HEAL_MAX : upto;
	if (access_index_fill(ix, heal_to) == 0)
		log_info("access index: indexed up to entry %llu again",
		    (unsigned long long)heal_to - 1);
}

struct access_index *
access_index_start(struct audit *a, struct store *st)
{
	struct access_index *ix = calloc(1, sizeof(*ix));
	uint64_t from;

	if (ix == NULL)
		return NULL;
	ix->audit = a;
	ix->store = st;
	if (store_access_watermark(st, &ix->upto) != STORE_OK) {
		free(ix);
		return NULL;
	}
	from = ix->upto;
	if (access_index_fill(ix, audit_size(a)) != 0) {
		free(ix);
		return NULL;
	}
	if (ix->upto > from)
		log_info("access index: caught up %llu entries",
		    (unsigned long long)(ix->upto - from));
	audit_set_index_hook(a, access_index_batch, ix);
	return ix;
}

void
access_index_free(struct access_index *ix)
{
	free(ix);
}
