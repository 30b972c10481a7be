/* access_index.c — the subject → audit index kept in step with the log
 * (see access_index.h). */
#include "access_index.h"

#include <jansson.h>
#include <stdlib.h>

#include "jsonutil.h"
#include "log.h"

/* The audit index hook: runs on the sequencer thread once per batch. */
static void
access_index_batch(const struct audit_indexed *rows, size_t n, void *arg)
{
	struct store_access *put = calloc(n, sizeof(*put));

	if (put != NULL) {
		for (size_t i = 0; i < n; i++)
			put[i] = (struct store_access){ rows[i].subject,
			    rows[i].index, rows[i].mandate, rows[i].mediator,
			    rows[i].helper };
		if (store_access_put(arg, put, n) == STORE_OK) {
			free(put);
			return;
		}
	}
	free(put);
	log_error("access index: entries %llu..%llu not indexed",
	    (unsigned long long)rows[0].index,
	    (unsigned long long)rows[n - 1].index);
}

static int
access_index_catch_up(struct audit *a, struct store *st)
{
	uint64_t last, size = audit_size(a);
	uint64_t next = store_access_last(st, &last) == STORE_OK ? last + 1 : 0;
	size_t added = 0;

	for (; next < size; next++) {
		json_t *entry;
		char *text;
		size_t len;

		if (audit_read_entry(a, next, &text, &len) != 0)
			return -1;
		entry = json_loadb(text, len, 0, NULL);
		free(text);
		const char *subject = jsonutil_string(entry, "subject");

		if (subject != NULL) {
			struct store_access row = { .subject = subject,
			    .audit_index = next };

			if (store_access_put(st, &row, 1) != STORE_OK) {
				json_decref(entry);
				return -1;
			}
			added++;
		}
		json_decref(entry);
	}
	if (added > 0)
		log_info("access index: caught up %zu entries", added);
	return 0;
}

int
access_index_start(struct audit *a, struct store *st)
{
	if (access_index_catch_up(a, st) != 0)
		return -1;
	audit_set_index_hook(a, access_index_batch, st);
	return 0;
}
