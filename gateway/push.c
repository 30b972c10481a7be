/* push.c — accepting a changed record from its provider (see push.h). */
#include "push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "jcs.h"
#include "jsonutil.h"
#include "log.h"
#include "mapping.h"
#include "subscription.h"

void
push_clear(struct push *p)
{
	for (size_t i = 0; i < p->nskips; i++)
		policy_decision_clear(&p->skips[i].d);
	free(p->skips);
	free(p->subscribers);
	json_decref(p->record);
	free(p->sent);
	free(p->canonical);
	p->skips = NULL;
	p->subscribers = NULL;
	p->record = NULL;
	p->sent = NULL;
	p->canonical = NULL;
	p->nskips = p->nsubscribers = 0;
}

/* The first field of raw, as a dotted path, that neither `back` (the
 * record mapped to the dataset and back) holds nor the map reads: a field
 * the schema has no place for. The second test keeps fields that a concat
 * or a split reads, which cannot be written back. */
static int
push_extra_field(const struct push *p, const json_t *raw, const json_t *back,
    char *path, size_t len)
{
	size_t used = strlen(path);
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)raw, key, v) {
		json_t *b = json_object_get(back, key);

		snprintf(path + used, len - used, "%s%s", used ? "." : "", key);
		if (json_is_object(v) && !mapping_reads(p->provider->connector,
		    p->ds, path)) {
			if (push_extra_field(p, v, b, path, len))
				return 1;
		} else if (b == NULL && !mapping_reads(p->provider->connector,
		    p->ds, path)) {
			return 1;
		}
		path[used] = '\0';
	}
	return 0;
}

int
push_map(struct push *p, const json_t *raw, char *err, size_t errlen)
{
	const struct config_connector *conn = p->provider->connector;
	char why[256], path[256] = "";
	json_t *back = NULL;

	if (mapping_to_dataset(conn, p->ds, raw, &p->record, why,
	    sizeof(why)) != 0) {
		snprintf(err, errlen, "the record does not fit dataset %s: %s",
		    p->ds->name, why);
		return -1;
	}
	if (json_object_size(p->record) == 0) {
		snprintf(err, errlen, "the record holds none of the attributes "
		    "of dataset %s", p->ds->name);
		return -1;
	}
	if (mapping_from_dataset(conn, p->ds, p->record, &back, why,
	    sizeof(why)) != 0 ||
	    push_extra_field(p, raw, back, path, sizeof(path))) {
		json_decref(back);
		snprintf(err, errlen, "the record does not fit dataset %s: field "
		    "%s is not one of its attributes", p->ds->name,
		    path[0] ? path : "?");
		return -1;
	}
	json_decref(back);
	if ((p->sent = jcs_dump(raw)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* A record the map leaves as it came (no map, or one that renames
	 * nothing it holds) has the same canonical text: not dumped twice. */
	if (json_equal(raw, p->record))
		p->canonical = strdup(p->sent);
	return 0;
}

/* One subscriber: 1 if it gets a delivery, 0 if skipped (added to
 * p->skips), -1 if the store failed. */
static int
push_route_one(struct push *p, struct store *st,
    const struct config_service *svc)
{
	struct push_skip *skip = &p->skips[p->nskips];
	enum policy_reason why;
	enum store_status found;
	json_t *granted;
	char *local_id;

	why = subscription_filter(st, p->cfg, svc, p->provider, p->ds,
	    p->subject, p->record, &skip->d, &granted);
	json_decref(granted);
	if (why == POLICY_STORE_ERROR) {
		policy_decision_clear(&skip->d);
		return -1;
	}
	if (why == POLICY_ALLOW) {
		found = store_link_local_id(st, svc->id, p->subject, &local_id);
		free(local_id);
		if (found != STORE_NOT_FOUND) {
			/* Only a skip keeps its decision, for its audit entry. */
			policy_decision_clear(&skip->d);
			return found == STORE_OK ? 1 : -1;
		}
		skip->d.reason = POLICY_SUBJECT_NOT_LINKED;
	}
	skip->svc = svc;
	p->nskips++;
	return 0;
}

int
push_route(struct push *p, struct store *st)
{
	const struct config *cfg = p->cfg;

	p->subscribers = calloc(cfg->nservices + 1, sizeof(*p->subscribers));
	p->skips = calloc(cfg->nservices + 1, sizeof(*p->skips));
	if (p->subscribers == NULL || p->skips == NULL)
		return -1;
	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct config_service *svc = &cfg->services[i];
		int rc;

		/* A subscriber that cannot be pushed to reads the feed. */
		if (!subscription_subscribes(svc, p->ds, p->provider) ||
		    !subscription_can_push(svc))
			continue;
		if ((rc = push_route_one(p, st, svc)) < 0)
			return -1;
		if (rc == 1)
			p->subscribers[p->nsubscribers++] = svc->id;
	}
	return 0;
}

int
push_prepare(struct push *p)
{
	store_new_ordered_id(p->record_id, clock_now_ms());
	if (p->canonical == NULL)
		p->canonical = jcs_dump(p->record);
	return p->canonical != NULL ? 0 : -1;
}

void
push_store_entry(const struct push *p, const char *key,
    const char *request_sha256, const char *response, struct store_push *sp)
{
	*sp = (struct store_push){
		.record_id = p->record_id,
		.provider = p->provider->id,
		.subject = p->subject,
		.dataset = p->ds->name,
		.record = p->canonical,
		.subscribers = p->subscribers,
		.nsubscribers = p->nsubscribers,
		.idempotency_key = key,
		.request_sha256 = request_sha256,
		.response = response,
		.now_ms = clock_now_ms(),
	};
}

void
push_audit_entry(const struct push *p, struct audit_entry *e,
    const char ***names)
{
	size_t n;

	*names = jsonutil_keys(p->record, &n);
	*e = (struct audit_entry){
		.type = AUDIT_PUSH,
		.provider = p->provider->id,
		.dataset = p->ds->name,
		.attributes = *names,
		.nattributes = n,
		.subject = p->subject,
		.view_key = p->view_key,
		.decision = AUDIT_ALLOW,
		.payload = p->sent,
	};
}

static void
push_audit_ignored(int status, uint64_t index, void *arg)
{
	if (status != 0)
		log_error("push: a deliver denial could not be audited");
}

void
push_audit_skips(const struct push *p, struct audit *a,
    struct event_base *base, const char *request_id)
{
	for (size_t i = 0; i < p->nskips; i++) {
		const struct push_skip *s = &p->skips[i];
		struct audit_entry e = policy_audit_entry(AUDIT_DELIVER, &s->d);

		e.consumer = s->svc->id;
		e.provider = p->provider->id;
		e.dataset = p->ds->name;
		e.subject = p->subject;
		e.view_key = p->view_key;
		e.request_id = request_id;
		audit_append_async(a, &e, base, push_audit_ignored, NULL);
	}
}
