/* api_deliveries.c — the dead letters, for the admin token:
 *
 *   GET  /v1/deliveries?status=dead&after=CURSOR&limit=N
 *   POST /v1/deliveries/{id}/retry
 *
 * A listing names services, datasets and ids, never subjects, local ids
 * or record values. A replay puts the delivery back in the queue as it
 * was (same id, so the same Idempotency-Key), unless a newer version of
 * the record has gone to that subscriber since: replaying would then undo
 * it, and the answer is 409. Every replay is audited. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "clock.h"

#define DELIVERIES_LIMIT_DEFAULT 100
#define DELIVERIES_LIMIT_MAX 1000

static json_t *
deliveries_item(const struct store_delivery *d)
{
	char since[CLOCK_RFC3339_LEN], updated[CLOCK_RFC3339_LEN];

	clock_format_rfc3339(d->since_ms, since);
	clock_format_rfc3339(d->updated_ms, updated);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:i, s:s?, s:s, s:s}",
	    "id", d->id, "subscriber", d->subscriber, "provider",
	    d->rec.provider, "dataset", d->rec.dataset, "record_id", d->rec.id,
	    "version", (json_int_t)d->rec.version, "attempts", d->attempts,
	    "last_error", d->last_error, "since", since, "updated", updated);
}

/* A whole number from 1 to max in the query, or the default; -1 if bad. */
static long
deliveries_number(struct request *r, const char *name, long def, long max)
{
	const char *text = request_query(r, name);
	char *end;
	long n;

	if (text == NULL)
		return def;
	n = strtol(text, &end, 10);
	return end == text || *end != '\0' || n < 0 || n > max ? -1 : n;
}

void
api_deliveries_get(struct request *r)
{
	const char *status = request_query(r, "status");
	struct store_delivery *list;
	char next[API_CURSOR_LEN];
	int64_t after = 0;
	json_t *items;
	long limit;
	size_t n;

	if (status == NULL || strcmp(status, "dead") != 0) {
		request_reply_problem(r, 400, NULL, "status=dead is required (the "
		    "dead letters are what can be listed)");
		return;
	}
	limit = deliveries_number(r, "limit", DELIVERIES_LIMIT_DEFAULT,
	    DELIVERIES_LIMIT_MAX);
	if (limit < 1) {
		request_reply_problem(r, 400, NULL, "limit must be from 1 to %d",
		    DELIVERIES_LIMIT_MAX);
		return;
	}
	if (api_query_cursor(r, "after", 1, &after) < 0)
		return;
	if (store_delivery_list(r->store, STORE_DELIVERY_DEAD, after,
	    (size_t)limit, &list, &n) != STORE_OK) {
		request_reply_problem(r, 503, NULL, "the store is unavailable");
		return;
	}
	items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, deliveries_item(&list[i]));
	api_cursor_format(n > 0 ? list[n - 1].seq : after, next);
	request_reply_json(r, 200, json_pack("{s:o, s:s}", "deliveries", items,
	    "next", next));
	store_deliveries_free(list, n);
}

/* Frees a delivery calloc'd by api_deliveries_retry. */
static void
deliveries_free(void *arg)
{
	store_delivery_clear(arg);
	free(arg);
}

static void
deliveries_retried(struct request *r, uint64_t index, void *arg)
{
	struct store_delivery *d = arg;

	request_reply_json(r, 202, json_pack("{s:s, s:s, s:I}", "id", d->id,
	    "state", "pending", "audit_index", (json_int_t)index));
	deliveries_free(d);
}

void
api_deliveries_retry(struct request *r)
{
	struct store_delivery *d;
	enum store_status st;
	char *slash = strchr(r->param, '/');

	if (slash == NULL || strcmp(slash, "/retry") != 0) {
		request_reply_problem(r, 404, NULL, "no such endpoint");
		return;
	}
	*slash = '\0';
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		request_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	st = store_delivery_retry(r->store, r->param, clock_now_ms(), d);
	if (st != STORE_OK) {
		if (st == STORE_NOT_FOUND)
			request_reply_problem(r, 404, NULL, "no dead delivery has "
			    "this id");
		else if (st == STORE_CONFLICT)
			request_reply_problem(r, 409, NULL, "a newer version of "
			    "this record went to %s since; replaying would undo it",
			    d->subscriber);
		else
			request_reply_problem(r, 503, NULL, "the store is unavailable");
		deliveries_free(d);
		return;
	}
	if (store_record_view_key(r->store, &d->rec) != STORE_OK) {
		request_reply_problem(r, 503, NULL, "the store is unavailable");
		deliveries_free(d);
		return;
	}
	struct audit_entry e = {
		.type = AUDIT_ADMIN,
		.consumer = d->subscriber,
		.provider = d->rec.provider,
		.dataset = d->rec.dataset,
		.subject = d->rec.subject,
		.view_key = d->rec.view_key,
		.decision = AUDIT_ALLOW,
		.reason = "delivery_retry",
	};
	request_audit_owned(r, &e, deliveries_retried, d, deliveries_free);
}
