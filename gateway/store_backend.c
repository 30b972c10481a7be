/* store_backend.c — picks the backend from the URL scheme and forwards
 * each call to it; also the parts of store.h that do not depend on a
 * backend (ids, freeing consents). It is named for store_backend.h, which
 * it implements the dispatch side of, so that store.h stays the interface
 * that nothing of the store's own includes back. */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "encode.h"
#include "log.h"
#include "store_backend.h"
#include "store_cache.h"

/* Which URLs exist, and which backend opens and checks each. */
/* PostgreSQL overwrites nothing it deletes (docs/configuration.md). */
#define PG_ERASURE "by deletion in PostgreSQL: gone from the data files " \
	"once vacuumed, from WAL archives and backups once they expire"

static const struct store_scheme store_schemes[] = {
	{ "sqlite:", "sqlite", 1, store_sqlite_open, NULL, NULL,
	    "by overwriting (SQLite secure_delete)" },
	{ "postgresql://", "postgresql", 0, store_pg_open, store_pg_check,
	    store_pg_reachable, PG_ERASURE },
	{ "postgres://", "postgresql", 0, store_pg_open, store_pg_check,
	    store_pg_reachable, PG_ERASURE },
};

const struct store_scheme *
store_scheme_find(const char *url)
{
	for (size_t i = 0; i < sizeof(store_schemes) / sizeof(store_schemes[0]);
	    i++) {
		const char *prefix = store_schemes[i].prefix;

		if (strncmp(url, prefix, strlen(prefix)) == 0)
			return &store_schemes[i];
	}
	return NULL;
}

static struct store *
store_open_flags(const char *url, const char *password, int flags, char *err,
    size_t errlen)
{
	const struct store_scheme *s = store_scheme_find(url);

	if (s == NULL) {
		snprintf(err, errlen, "store: unknown URL scheme (want "
		    STORE_URL_FORMS ")");
		return NULL;
	}
	/* A path goes without its prefix; libpq wants the whole URL. */
	return s->open(s->is_path ? url + strlen(s->prefix) : url, password,
	    flags, err, errlen);
}

int
store_schema_current(int version, int want, char *err, size_t errlen)
{
	if (version == want)
		return 0;
	snprintf(err, errlen, "store: schema version %d, not this program's "
	    "(%d): use the program that serves the store", version, want);
	return -1;
}

struct store *
store_open(const char *url, const char *password, char *err, size_t errlen)
{
	return store_open_flags(url, password, 0, err, errlen);
}

struct store *
store_open_current(const char *url, const char *password, char *err,
    size_t errlen)
{
	return store_open_flags(url, password, STORE_OPEN_CURRENT, err, errlen);
}

int
store_reachable(const char *url, const char *password)
{
	const struct store_scheme *s = store_scheme_find(url);

	if (s == NULL || s->reachable == NULL)
		return 1;
	return s->reachable(s->is_path ? url + strlen(s->prefix) : url,
	    password);
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	store_cache_free(st->cache);
	st->ops->close(st);
}

/* The connection's cache, made on first use; NULL when the backend's
 * answers may not be cached (or out of memory). */
static struct store_cache *
store_cache_of(struct store *st)
{
	if (st->ops->cacheable && st->cache == NULL)
		st->cache = store_cache_new();
	return st->ops->cacheable ? st->cache : NULL;
}

/* A write that may change a cached answer: returns rc after telling every
 * cache, whatever rc is (a failed write may have done part), and wiping
 * the writer's own at once. Inside a batch the telling waits for its
 * commit: told before, another connection would read the old answer and
 * keep it under the new generation. */
static enum store_status
store_changed(struct store *st, enum store_status rc)
{
	if (st->batch) {
		st->batch_changed = 1;
		return rc;
	}
	store_cache_changed();
	if (st->cache != NULL)
		store_cache_wipe(st->cache);
	return rc;
}

int
store_ping(struct store *st)
{
	int64_t now = clock_mono_ms();

	/* A probe every second per connection at most: readiness checks
	 * may come often, and each one commits. */
	if (st->pinged_ms == 0 || now - st->pinged_ms >= STORE_PING_EVERY_MS) {
		st->ping_rc = st->ops->ping(st);
		st->pinged_ms = now;
	}
	return st->ping_rc;
}

enum store_status
store_link_put(struct store *st, const char *service, const char *local_id,
    const char *subject, int pivot_version, int *created)
{
	return store_changed(st, st->ops->link_put(st, service, local_id, subject,
	    pivot_version, created));
}

/* A subject looked up with its view key, from a backend that reads
 * what a fetch asks next in the same query (store_ops
 * link_subject_facts): the subject's links and, when no objection names
 * it, that none does are kept under gen too, for store_link_local_id and
 * store_objection_match. One query on a store too large for the cache to
 * hold its subjects, where each of the three missed its pages. */
static enum store_status
store_link_facts(struct store *st, struct store_cache *c, uint64_t gen,
    const char *service, const char *local_id, char *subject,
    unsigned char *view_key)
{
	const char *who = subject;
	char key[STORE_CACHE_KEY_MAX], pairs[STORE_CACHE_VALUE_MAX];
	size_t keylen, len;
	enum store_status rc;
	int objected;

	rc = st->ops->link_subject_facts(st, service, local_id, subject,
	    view_key, pairs, sizeof(pairs), &len, &objected);
	if (rc != STORE_OK)
		return rc;
	if (len > 0 && (keylen = store_cache_key(key, 'A', &who, 1)) > 0)
		store_cache_put(c, gen, key, keylen, STORE_OK, pairs, len);
	if (!objected && (keylen = store_cache_key(key, 'N', &who, 1)) > 0)
		store_cache_put(c, gen, key, keylen, STORE_NOT_FOUND, NULL, 0);
	return rc;
}

enum store_status
store_link_subject(struct store *st, const char *service, const char *local_id,
    char *subject, unsigned char *view_key)
{
	const char *fields[] = { service, local_id };
	struct store_cache *c = store_cache_of(st);
	unsigned char value[STORE_SUBJECT_LEN + STORE_VIEW_KEY_LEN];
	char key[STORE_CACHE_KEY_MAX];
	size_t keylen = 0, len, want = STORE_SUBJECT_LEN +
	    (view_key != NULL ? STORE_VIEW_KEY_LEN : 0);
	enum store_status rc;
	uint64_t gen = store_cache_generation();

	/* With or without the view key: two answers. */
	if (c != NULL)
		keylen = store_cache_key(key, view_key ? 'K' : 'S', fields, 2);
	if (keylen > 0 && store_cache_get(c, key, keylen, &rc, value, &len) &&
	    (rc != STORE_OK || len == want)) {
		if (rc != STORE_OK)
			return rc;
		memcpy(subject, value, STORE_SUBJECT_LEN);
		if (view_key != NULL)
			memcpy(view_key, value + STORE_SUBJECT_LEN, STORE_VIEW_KEY_LEN);
		return rc;
	}
	if (keylen > 0 && view_key != NULL && st->ops->link_subject_facts)
		rc = store_link_facts(st, c, gen, service, local_id, subject,
		    view_key);
	else
		rc = st->ops->link_subject(st, service, local_id, subject,
		    view_key);
	if (keylen == 0)
		return rc;
	if (rc == STORE_OK) {
		memcpy(value, subject, STORE_SUBJECT_LEN);
		if (view_key != NULL)
			memcpy(value + STORE_SUBJECT_LEN, view_key, STORE_VIEW_KEY_LEN);
	}
	store_cache_put(c, gen, key, keylen, rc, value, rc == STORE_OK ? want : 0);
	return rc;
}

enum store_status
store_view_key_get(struct store *st, const char *subject,
    unsigned char view_key[STORE_VIEW_KEY_LEN])
{
	return st->ops->view_key_get(st, subject, view_key);
}

enum store_status
store_view_key_erase(struct store *st, const char *subject)
{
	return store_changed(st, st->ops->view_key_erase(st, subject));
}

/* Every link of the subject as "service\0local_id\0" pairs, from c or
 * read in one query and kept: a push looks the subject up at each
 * subscriber of the dataset, and the delivery worker again at each, so
 * the first lookup reads for all the others. STORE_CONFLICT when the
 * pairs would not fit in the cache. */
static enum store_status
store_links_of(struct store *st, struct store_cache *c, const char *subject,
    char pairs[STORE_CACHE_VALUE_MAX], size_t *len)
{
	char key[STORE_CACHE_KEY_MAX];
	size_t keylen = store_cache_key(key, 'A', &subject, 1);
	enum store_status rc;
	uint64_t gen = store_cache_generation();

	if (keylen > 0 && store_cache_get(c, key, keylen, &rc, pairs, len))
		return rc;
	rc = st->ops->link_local_ids(st, subject, pairs, STORE_CACHE_VALUE_MAX,
	    len);
	if (keylen > 0 && rc == STORE_OK)
		store_cache_put(c, gen, key, keylen, rc, pairs, *len);
	return rc;
}

/* service's local id among pairs, strdup'd into *local_id. */
static enum store_status
store_links_find(const char *pairs, size_t len, const char *service,
    char **local_id)
{
	const char *p = pairs, *end = pairs + len;

	while (p < end) {
		const char *id = p + strlen(p) + 1;

		if (strcmp(p, service) == 0)
			return (*local_id = strdup(id)) != NULL ? STORE_OK :
			    STORE_ERROR;
		p = id + strlen(id) + 1;
	}
	return STORE_NOT_FOUND;
}

enum store_status
store_link_local_id(struct store *st, const char *service, const char *subject,
    char **local_id)
{
	struct store_cache *c = store_cache_of(st);
	char pairs[STORE_CACHE_VALUE_MAX];
	size_t len;
	enum store_status rc;

	*local_id = NULL;
	if (c == NULL || st->ops->link_local_ids == NULL)
		return st->ops->link_local_id(st, service, subject, local_id);
	rc = store_links_of(st, c, subject, pairs, &len);
	if (rc == STORE_CONFLICT)
		return st->ops->link_local_id(st, service, subject, local_id);
	return rc == STORE_OK ? store_links_find(pairs, len, service,
	    local_id) : rc;
}

enum store_status
store_subject_linked(struct store *st, const char *subject, int pivot_version)
{
	return st->ops->subject_linked(st, subject, pivot_version);
}

enum store_status
store_consent_insert(struct store *st, const struct store_consent *c)
{
	return st->ops->consent_insert(st, c);
}

enum store_status
store_consent_get(struct store *st, const char *id, struct store_consent *out)
{
	return st->ops->consent_get(st, id, out);
}

enum store_status
store_consent_revoke(struct store *st, const char *id, int64_t now_ms)
{
	return st->ops->consent_revoke(st, id, now_ms);
}

enum store_status
store_consent_find(struct store *st, const char *subject, const char *consumer,
    const char *provider, const char *dataset, struct store_consent **list,
    size_t *n)
{
	return st->ops->consent_find(st, subject, consumer, provider, dataset,
	    list, n);
}

enum store_status
store_consent_list_for(struct store *st, const char *subject,
    const char *service, struct store_consent **list, size_t *n)
{
	return st->ops->consent_list_for(st, subject, service, list, n);
}

enum store_status
store_objection_insert(struct store *st, const struct store_objection *o)
{
	return store_changed(st, st->ops->objection_insert(st, o));
}

enum store_status
store_objection_find(struct store *st, struct store_objection *o)
{
	return st->ops->objection_find(st, o);
}

enum store_status
store_objection_match(struct store *st, const char *subject,
    const char *dataset, const char *purpose, const char *consumer)
{
	const char *fields[] = { subject, dataset, purpose, consumer };
	struct store_cache *c = store_cache_of(st);
	char key[STORE_CACHE_KEY_MAX], unobjected[STORE_CACHE_KEY_MAX], none[1];
	size_t keylen = 0, len;
	enum store_status rc;
	uint64_t gen = store_cache_generation();

	if (c != NULL)
		keylen = store_cache_key(key, 'O', fields, 4);
	if (keylen > 0 && store_cache_get(c, key, keylen, &rc, none, &len))
		return rc;
	/* No objection names the subject (store_link_facts): none matches. */
	if (keylen > 0 && store_cache_get(c, unobjected, store_cache_key(
	    unobjected, 'N', fields, 1), &rc, none, &len))
		return rc;
	rc = st->ops->objection_match(st, subject, dataset, purpose, consumer);
	if (keylen > 0)
		store_cache_put(c, gen, key, keylen, rc, NULL, 0);
	return rc;
}

enum store_status
store_mandate_insert(struct store *st, const struct store_mandate *m)
{
	return st->ops->mandate_insert(st, m);
}

enum store_status
store_mandate_get(struct store *st, const char *id, struct store_mandate *out)
{
	return st->ops->mandate_get(st, id, out);
}

enum store_status
store_mandate_revoke(struct store *st, const char *id, int64_t now_ms)
{
	return st->ops->mandate_revoke(st, id, now_ms);
}

enum store_status
store_mandate_find(struct store *st, const char *subject, const char *mediator,
    struct store_mandate **list, size_t *n)
{
	return st->ops->mandate_find(st, subject, mediator, list, n);
}

enum store_status
store_access_put(struct store *st, const struct store_access *rows, size_t n)
{
	return st->ops->access_put(st, rows, n);
}

enum store_status
store_access_mandate(struct store *st, const char *subject,
    uint64_t audit_index, char **mediator, char **helper)
{
	return st->ops->access_mandate(st, subject, audit_index, mediator, helper);
}

enum store_status
store_access_list(struct store *st, const char *subject, uint64_t before,
    size_t limit, uint64_t **indexes, size_t *n)
{
	return st->ops->access_list(st, subject, before, limit, indexes, n);
}

enum store_status
store_record_accept(struct store *st, const struct store_push *p, size_t n,
    struct store_push_result *res, const struct store_cursor *cursor)
{
	return st->ops->record_accept(st, p, n, res, cursor);
}

enum store_status
store_push_audited(struct store *st, const struct store_push_audit *a,
    size_t n)
{
	return st->ops->push_audited(st, a, n);
}

enum store_status
store_poll_cursor(struct store *st, const char *service, char **cursor)
{
	return st->ops->poll_cursor(st, service, cursor);
}

enum store_status
store_change_list(struct store *st, const char *dataset, int64_t after,
    size_t limit, struct store_record **list, size_t *n)
{
	return st->ops->change_list(st, dataset, after, limit, list, n);
}

enum store_status
store_delivery_recover(struct store *st)
{
	return st->ops->delivery_recover(st);
}

enum store_status
store_delivery_take(struct store *st, const char *subscriber, int64_t now_ms,
    size_t limit, struct store_delivery **list, size_t *n)
{
	return st->ops->delivery_take(st, subscriber, now_ms, limit, list, n);
}

void
store_outbox_node(struct store *st, const char *node, int64_t lease_ms)
{
	if (st->ops->outbox_node != NULL)
		st->ops->outbox_node(st, node, lease_ms);
}

int
store_outbox_changed(struct store *st)
{
	return st->ops->outbox_changed != NULL ? st->ops->outbox_changed(st) : 1;
}

enum store_status
store_delivery_renew(struct store *st)
{
	if (st->ops->delivery_renew == NULL)
		return STORE_OK;
	return st->ops->delivery_renew(st);
}

enum store_status
store_delivery_finish(struct store *st, const struct store_delivery_outcome *o,
    size_t n, int64_t now_ms)
{
	return st->ops->delivery_finish(st, o, n, now_ms);
}

enum store_status
store_delivery_list(struct store *st, enum store_delivery_state state,
    int64_t after, size_t limit, struct store_delivery **list, size_t *n)
{
	return st->ops->delivery_list(st, state, after, limit, list, n);
}

enum store_status
store_delivery_retry(struct store *st, const char *id, int64_t now_ms,
    struct store_delivery *out)
{
	return st->ops->delivery_retry(st, id, now_ms, out);
}

enum store_status
store_purge(struct store *st, const struct store_purge *p, size_t limit,
    uint64_t *erased)
{
	return st->ops->purge(st, p, limit, erased);
}

enum store_status
store_purge_backlog(struct store *st, const struct store_purge *p,
    uint64_t *count)
{
	return st->ops->purge_backlog(st, p, count);
}

enum store_status
store_erase_subject(struct store *st, const char *subject, uint64_t *erased)
{
	return store_changed(st, st->ops->erase_subject(st, subject, erased));
}

int
store_one_writer(struct store *st)
{
	return st->ops->one_writer;
}

enum store_status
store_batch_begin(struct store *st, int durable)
{
	enum store_status rc = st->ops->batch_begin != NULL ?
	    st->ops->batch_begin(st, durable) : STORE_OK;

	if (rc == STORE_OK)
		st->batch = 1;
	return rc;
}

enum store_status
store_batch_end(struct store *st)
{
	enum store_status rc = st->ops->batch_end != NULL ?
	    st->ops->batch_end(st) : STORE_OK;
	int changed = st->batch_changed;

	st->batch = st->batch_changed = 0;
	return changed ? store_changed(st, rc) : rc;
}

enum store_status
store_compact(struct store *st)
{
	return st->ops->compact(st);
}

enum store_status
store_checkpoint(struct store *st)
{
	return st->ops->checkpoint != NULL ? st->ops->checkpoint(st) :
	    STORE_NOT_FOUND;
}

enum store_status
store_link_delete(struct store *st, const char *service, const char *local_id,
    int64_t now_ms, char *subject)
{
	return store_changed(st, st->ops->link_delete(st, service, local_id, now_ms,
	    subject));
}

enum store_status
store_audit_head_get(struct store *st, const char *origin, uint64_t *size,
    unsigned char root[STORE_ROOT_LEN])
{
	return st->ops->audit_head_get(st, origin, size, root);
}

enum store_status
store_audit_head_put(struct store *st, const char *origin, uint64_t size,
    const unsigned char root[STORE_ROOT_LEN])
{
	return st->ops->audit_head_put(st, origin, size, root);
}

int
store_audit_shared(struct store *st)
{
	return st->ops->audit_append != NULL;
}

/* A backend without a shared audit log was asked for it: a caller that
 * did not check store_audit_shared. */
static enum store_status
store_audit_none(void)
{
	log_error("store: this backend holds no shared audit log");
	return STORE_ERROR;
}

enum store_status
store_audit_append(struct store *st, const struct store_audit_entry *e,
    size_t n, uint64_t *first)
{
	if (!store_audit_shared(st))
		return store_audit_none();
	return st->ops->audit_append(st, e, n, first);
}

void
store_blobs_free(struct store_blob *list, size_t n)
{
	for (size_t i = 0; list != NULL && i < n; i++)
		free(list[i].data);
	free(list);
}

enum store_status
store_audit_state(struct store *st, struct store_audit_state *out)
{
	if (!store_audit_shared(st))
		return store_audit_none();
	return st->ops->audit_state(st, out);
}

enum store_status
store_audit_entries(struct store *st, uint64_t from, size_t limit,
    struct store_blob **list, size_t *n)
{
	if (!store_audit_shared(st))
		return store_audit_none();
	return st->ops->audit_entries(st, from, limit, list, n);
}

enum store_status
store_audit_tile(struct store *st, const char *path, struct store_blob *out)
{
	if (!store_audit_shared(st))
		return store_audit_none();
	return st->ops->audit_tile(st, path, out);
}

enum store_status
store_audit_publish(struct store *st, const struct store_audit_publish *p)
{
	if (!store_audit_shared(st))
		return store_audit_none();
	return st->ops->audit_publish(st, p);
}

enum store_status
store_audit_lead(struct store *st)
{
	if (!store_audit_shared(st))
		return store_audit_none();
	return st->ops->audit_lead(st);
}

enum store_status
store_backup(struct store *st, const char *path, char *err, size_t errlen)
{
	if (st->ops->backup == NULL) {
		snprintf(err, errlen, "this store is backed up with its own "
		    "tools (pg_dump for PostgreSQL)");
		return STORE_ERROR;
	}
	return st->ops->backup(st, path, err, errlen);
}

enum store_status
store_outbox_counts(struct store *st, struct store_outbox_count **list,
    size_t *n)
{
	return st->ops->outbox_counts(st, list, n);
}

void
store_outbox_counts_free(struct store_outbox_count *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i].subscriber);
	free(list);
}

void
store_push_results_fail(struct store_push_result *res, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(res[i].previous);
		res[i].previous = NULL;
		res[i].status = STORE_ERROR;
	}
}

void
store_record_clear(struct store_record *rec)
{
	if (rec == NULL)
		return;
	free(rec->provider);
	free(rec->dataset);
	free(rec->record);
	free(rec->traceparent);
	memset(rec, 0, sizeof(*rec));
}

enum store_status
store_record_view_key(struct store *st, struct store_record *rec)
{
	enum store_status rc;

	if (rec->has_view_key)
		return STORE_OK;
	rc = store_view_key_get(st, rec->subject, rec->view_key);
	rec->has_view_key = rc == STORE_OK;
	return rc;
}

void
store_records_free(struct store_record *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_record_clear(&list[i]);
	free(list);
}

void
store_delivery_clear(struct store_delivery *d)
{
	if (d == NULL)
		return;
	free(d->subscriber);
	free(d->last_error);
	store_record_clear(&d->rec);
	memset(d, 0, sizeof(*d));
}

void
store_deliveries_free(struct store_delivery *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_delivery_clear(&list[i]);
	free(list);
}

int
store_strings_dup(char ***out, size_t *nout, const char *const *src,
    size_t n)
{
	*nout = 0;
	if ((*out = calloc(n, sizeof(**out))) == NULL)
		return -1;
	for (; *nout < n; (*nout)++)
		if (((*out)[*nout] = strdup(src[*nout])) == NULL)
			return -1;
	return 0;
}

void
store_consent_clear(struct store_consent *c)
{
	if (c == NULL)
		return;
	free(c->consumer);
	free(c->provider);
	free(c->dataset);
	free(c->purpose);
	for (size_t i = 0; i < c->nattributes; i++)
		free(c->attributes[i]);
	free(c->attributes);
	free(c->mandate);
	free(c->mediator);
	free(c->helper);
	memset(c, 0, sizeof(*c));
}

void
store_consents_free(struct store_consent *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_consent_clear(&list[i]);
	free(list);
}

void
store_mandate_clear(struct store_mandate *m)
{
	if (m == NULL)
		return;
	free(m->mediator);
	free(m->helper);
	for (size_t i = 0; i < m->ndatasets; i++)
		free(m->datasets[i]);
	free(m->datasets);
	memset(m, 0, sizeof(*m));
}

void
store_mandates_free(struct store_mandate *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_mandate_clear(&list[i]);
	free(list);
}

void
store_random(unsigned char *buf, size_t len)
{
	size_t got = 0;

	/* getrandom does not return short for <= 256 bytes once the pool is
	 * ready; the loop is for EINTR while it is not. */
	while (got < len) {
		ssize_t r = getrandom(buf + got, len - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			log_error("store: getrandom failed; cannot make ids or keys");
			abort();
		}
		got += (size_t)r;
	}
}

void
store_new_id(char id[STORE_ID_LEN])
{
	unsigned char raw[(STORE_ID_LEN - 1) / 2];

	store_random(raw, sizeof(raw));
	encode_hex(raw, sizeof(raw), id);
}

void
store_new_ordered_id(char id[STORE_ID_LEN], int64_t now_ms)
{
	unsigned char raw[(STORE_ID_LEN - 1) / 2];
	uint64_t ms = now_ms > 0 ? (uint64_t)now_ms : 0;

	/* Big-endian, so that the hex sorts as the time does. */
	for (int i = 5; i >= 0; i--, ms >>= 8)
		raw[i] = (unsigned char)(ms & 0xff);
	store_random(raw + 6, sizeof(raw) - 6);
	encode_hex(raw, sizeof(raw), id);
}
