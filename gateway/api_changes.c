/* api_changes.c — GET /v1/changes?dataset=D&after=CURSOR&limit=N: the
 * pushes a subscriber would receive, as a feed it pulls.
 *
 * The same rules as a delivery, applied at read time: only datasets and
 * providers the caller subscribes to, only what its policy and the live
 * consent grant now, in its own field names, for its own local id;
 * records it may not see are skipped. Records come in acceptance order and
 * the cursor (api_cursor_format of the last sequence number looked at) moves past
 * skipped ones too; an empty page is the end of the feed. Every record handed out is audited as a `deliver`
 * entry before the reply leaves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "clock.h"
#include "encode.h"
#include "gateway.h"
#include "jcs.h"
#include "jsonload.h"
#include "jsonutil.h"
#include "mapping.h"
#include "subscription.h"

#define CHANGES_LIMIT_DEFAULT 100
#define CHANGES_LIMIT_MAX 1000
#define CHANGES_SCAN_ROWS 256  /* rows read from the store at a time */

struct changes {
	struct request *r;
	json_t *items;
	int64_t next;
	int pending;                 /* audit entries not yet durable */
	const char *failure;         /* why the reply is a 503, or NULL */
};

static void
changes_reply(struct changes *c)
{
	char cursor[API_CURSOR_LEN];

	if (c->failure != NULL) {
		request_reply_problem(c->r, 503, NULL, "%s", c->failure);
	} else {
		api_cursor_format(c->next, cursor);
		request_reply_json(c->r, 200, json_pack("{s:O, s:s}", "changes",
		    c->items, "next", cursor));
	}
	json_decref(c->items);
	free(c);
}

static void
changes_audited(int status, uint64_t index, void *arg)
{
	struct changes *c = arg;

	if (status != 0)
		c->failure = "the audit log is unavailable";
	if (--c->pending == 0)
		changes_reply(c);
}

/* Audits the item handed out: its attributes (dataset names) and a
 * commitment to the record as the caller gets it (its own names). 0, or
 * -1 when out of memory. */
static int
changes_audit(struct changes *c, const struct store_record *rec,
    const struct policy_decision *d, const json_t *granted,
    const json_t *mapped)
{
	size_t n;
	const char **names = jsonutil_keys(granted, &n);
	char *payload = jcs_dump(mapped);

	if (payload == NULL) {
		free(names);
		return -1;
	}
	struct audit_entry e = policy_audit_entry(AUDIT_DELIVER, d);

	e.consumer = c->r->caller->id;
	e.provider = rec->provider;
	e.dataset = rec->dataset;
	e.attributes = names;
	e.nattributes = n;
	e.subject = rec->subject;
	e.view_key = rec->view_key;
	e.request_id = c->r->id;
	e.payload = payload;
	c->pending++;
	audit_append_async(c->r->gw->audit, &e, c->r->base, changes_audited, c);
	free(names);
	free(payload);
	return 0;
}

/* The record as the caller sees it, or NULL when it may not (or on a
 * store error, *failed set). */
static json_t *
changes_item(struct changes *c, const struct config_dataset *ds,
    struct store_record *rec, int *failed)
{
	struct request *r = c->r;
	const struct config_service *prov = config_find_service(r->cfg,
	    rec->provider);
	struct policy_decision d;
	json_t *record, *granted = NULL, *mapped = NULL, *item = NULL;
	char *local_id = NULL, ts[CLOCK_RFC3339_LEN], err[256];
	enum store_status st;

	if (prov == NULL || !subscription_subscribes(r->caller, ds, prov) ||
	    (record = jsonload_object(rec->record, strlen(rec->record), 0,
	    NULL)) == NULL)
		return NULL;
	memset(&d, 0, sizeof(d));
	if (subscription_filter(r->store, r->cfg, r->caller, prov, ds,
	    rec->subject, record, &d, &granted) == POLICY_STORE_ERROR)
		*failed = 1;
	json_decref(record);
	if (granted == NULL)
		goto out;
	st = store_link_local_id(r->store, r->caller->id, rec->subject, &local_id);
	if (st == STORE_OK)
		st = store_record_view_key(r->store, rec);
	if (st != STORE_OK) {
		*failed = st != STORE_NOT_FOUND;
		goto out;
	}
	if (mapping_from_dataset(r->caller->connector, ds, granted, &mapped, err,
	    sizeof(err)) != 0) {
		request_log(r, LOG_LEVEL_WARN, "change %s: %s", rec->id, err);
		goto out;
	}
	clock_format_rfc3339(rec->created_ms, ts);
	item = json_pack("{s:s, s:s, s:s, s:O, s:I, s:s}", "id", rec->id,
	    "subject", local_id, "dataset", rec->dataset, "record", mapped,
	    "version", (json_int_t)rec->version, "ts", ts);
	if (item != NULL && changes_audit(c, rec, &d, granted, mapped) != 0) {
		json_decref(item);
		item = NULL;
		*failed = 1;
	}
out:
	json_decref(mapped);
	free(local_id);
	json_decref(granted);
	policy_decision_clear(&d);
	return item;
}

/* Fills c->items with up to `limit` visible records after c->next. An
 * empty page means the end of the feed, so invisible records are skipped
 * until the page fills or the feed ends. */
static int
changes_collect(struct changes *c, const struct config_dataset *ds,
    size_t limit)
{
	for (;;) {
		struct store_record *recs;
		size_t n;
		int failed = 0;

		if (store_change_list(c->r->store, ds->name, c->next,
		    CHANGES_SCAN_ROWS, &recs, &n) != STORE_OK)
			return -1;
		for (size_t i = 0; i < n && !failed &&
		    json_array_size(c->items) < limit; i++) {
			json_t *item = changes_item(c, ds, &recs[i], &failed);

			if (item != NULL)
				json_array_append_new(c->items, item);
			if (!failed)
				c->next = recs[i].seq;
		}
		store_records_free(recs, n);
		if (failed)
			return -1;
		if (n < CHANGES_SCAN_ROWS || json_array_size(c->items) >= limit)
			return 0;
	}
}

void
api_changes_get(struct request *r)
{
	const char *dataset = request_query(r, "dataset");
	const char *limit_text = request_query(r, "limit");
	const struct config_dataset *ds;
	struct changes *c;
	long limit = CHANGES_LIMIT_DEFAULT;
	char *end;

	if (dataset == NULL) {
		request_reply_problem(r, 400, NULL, "the dataset parameter is required");
		return;
	}
	if (api_dataset(r, dataset, &ds) != 0)
		return;
	if (limit_text != NULL && ((limit = strtol(limit_text, &end, 10)) < 1 ||
	    limit > CHANGES_LIMIT_MAX || *end != '\0' || end == limit_text)) {
		request_reply_problem(r, 400, NULL, "limit must be a whole number "
		    "from 1 to %d", CHANGES_LIMIT_MAX);
		return;
	}
	if (!subscription_subscribes(r->caller, ds, NULL)) {
		request_reply_problem(r, 403, "no_policy", "you do not subscribe "
		    "to dataset %s", ds->name);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->items = json_array()) == NULL) {
		free(c);
		request_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	c->r = r;
	if (api_query_cursor(r, "after", 0, &c->next) < 0) {
		json_decref(c->items);
		free(c);
		return;
	}
	/* Entries already queued still call back: reply from the last one. */
	c->pending = 1;
	if (changes_collect(c, ds, (size_t)limit) != 0)
		c->failure = "the store is unavailable";
	changes_audited(0, 0, c);
}
