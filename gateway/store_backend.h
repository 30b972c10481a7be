/* store_backend.h — what a store backend provides behind store.h.
 *
 * store_backend.c picks the backend from the URL scheme and forwards every call
 * through the backend's ops; a backend embeds `struct store` as the first
 * member of its own connection struct: store_sqlite.c and store_pg.c, one
 * ops table each and a line each in store_backend.c's scheme table. */
#ifndef TELLONCE_STORE_BACKEND_H
#define TELLONCE_STORE_BACKEND_H

#include "store.h"

struct store_ops {
	/* Answers of link and objection lookups may be kept in this
	 * process (store_cache.h): no other process writes this store. */
	int cacheable;
	/* One write transaction at a time (store_one_writer). */
	int one_writer;
	void (*close)(struct store *st);
	int (*ping)(struct store *st);
	/* NULL: every write commits on its own. PostgreSQL's commits are
	 * group-committed by the server already, and a batch would add a
	 * savepoint's round trips to each write instead of saving any. */
	enum store_status (*batch_begin)(struct store *st, int durable);
	enum store_status (*batch_end)(struct store *st);
	enum store_status (*link_put)(struct store *st, const char *service,
	    const char *local_id, const char *subject, int pivot_version,
	    int *created);
	enum store_status (*link_subject)(struct store *st, const char *service,
	    const char *local_id, char *subject, unsigned char *view_key);
	enum store_status (*link_local_id)(struct store *st, const char *service,
	    const char *subject, char **local_id);
	/* Every link of the subject, as "service\0local_id\0" pairs in
	 * pairs (size bytes; *len of them used), read in one query:
	 * STORE_CONFLICT when they do not fit. NULL: the backend is not
	 * cached, and store_link_local_id asks per service. */
	enum store_status (*link_local_ids)(struct store *st,
	    const char *subject, char *pairs, size_t size, size_t *len);
	/* store_link_subject with a view key, and in the same query what a
	 * fetch asks next: the subject's links as link_local_ids gives them
	 * (*len 0 when they do not fit in size: a subject found has one at
	 * least) and whether any objection names it. NULL: the backend is
	 * not cached, and each is asked on its own. */
	enum store_status (*link_subject_facts)(struct store *st,
	    const char *service, const char *local_id, char *subject,
	    unsigned char *view_key, char *pairs, size_t size, size_t *len,
	    int *objected);
	enum store_status (*subject_linked)(struct store *st,
	    const char *subject, int pivot_version);
	enum store_status (*view_key_get)(struct store *st, const char *subject,
	    unsigned char *view_key);
	enum store_status (*view_key_erase)(struct store *st,
	    const char *subject);
	enum store_status (*consent_insert)(struct store *st,
	    const struct store_consent *c);
	enum store_status (*consent_get)(struct store *st, const char *id,
	    struct store_consent *out);
	enum store_status (*consent_revoke)(struct store *st, const char *id,
	    int64_t now_ms);
	enum store_status (*consent_find)(struct store *st, const char *subject,
	    const char *consumer, const char *provider, const char *dataset,
	    struct store_consent **list, size_t *n);
	enum store_status (*consent_list_for)(struct store *st,
	    const char *subject, const char *service,
	    struct store_consent **list, size_t *n);
	enum store_status (*objection_insert)(struct store *st,
	    const struct store_objection *o);
	enum store_status (*objection_find)(struct store *st,
	    struct store_objection *o);
	enum store_status (*objection_match)(struct store *st,
	    const char *subject, const char *dataset, const char *purpose,
	    const char *consumer);
	enum store_status (*mandate_insert)(struct store *st,
	    const struct store_mandate *m);
	enum store_status (*mandate_get)(struct store *st, const char *id,
	    struct store_mandate *out);
	enum store_status (*mandate_revoke)(struct store *st, const char *id,
	    int64_t now_ms);
	enum store_status (*mandate_find)(struct store *st, const char *subject,
	    const char *mediator, struct store_mandate **list, size_t *n);
	enum store_status (*access_put)(struct store *st,
	    const struct store_access *rows, size_t n);
	enum store_status (*access_mandate)(struct store *st,
	    const char *subject, uint64_t audit_index, char **mediator,
	    char **helper);
	enum store_status (*access_list)(struct store *st, const char *subject,
	    uint64_t before, size_t limit, uint64_t **indexes, size_t *n);
	enum store_status (*record_accept)(struct store *st,
	    const struct store_push *p, size_t n, struct store_push_result *res,
	    const struct store_cursor *cursor);
	enum store_status (*push_audited)(struct store *st,
	    const struct store_push_audit *a, size_t n);
	enum store_status (*poll_cursor)(struct store *st, const char *service,
	    char **cursor);
	enum store_status (*change_list)(struct store *st, const char *dataset,
	    int64_t after, size_t limit, struct store_record **list, size_t *n);
	enum store_status (*delivery_recover)(struct store *st);
	enum store_status (*delivery_take)(struct store *st,
	    const char *subscriber, int64_t now_ms, size_t limit,
	    struct store_delivery **list, size_t *n);
	/* NULL in a store only one process opens: nothing leased. */
	void (*outbox_node)(struct store *st, const char *node,
	    int64_t lease_ms);
	enum store_status (*delivery_renew)(struct store *st);
	int (*outbox_changed)(struct store *st);
	enum store_status (*delivery_finish)(struct store *st,
	    const struct store_delivery_outcome *o, size_t n, int64_t now_ms);
	enum store_status (*delivery_list)(struct store *st,
	    enum store_delivery_state state, int64_t after, size_t limit,
	    struct store_delivery **list, size_t *n);
	enum store_status (*delivery_retry)(struct store *st, const char *id,
	    int64_t now_ms, struct store_delivery *out);
	enum store_status (*outbox_counts)(struct store *st,
	    struct store_outbox_count **list, size_t *n);
	enum store_status (*purge)(struct store *st,
	    const struct store_purge *p, size_t limit, uint64_t *erased);
	enum store_status (*purge_backlog)(struct store *st,
	    const struct store_purge *p, uint64_t *count);
	enum store_status (*erase_subject)(struct store *st,
	    const char *subject, uint64_t *erased);
	enum store_status (*compact)(struct store *st);
	/* NULL: the server checkpoints its own log. */
	enum store_status (*checkpoint)(struct store *st);
	enum store_status (*link_delete)(struct store *st, const char *service,
	    const char *local_id, int64_t now_ms, char *subject);
	enum store_status (*audit_head_get)(struct store *st,
	    const char *origin, uint64_t *size, unsigned char *root);
	enum store_status (*audit_head_put)(struct store *st,
	    const char *origin, uint64_t size, const unsigned char *root);
	/* NULL, all five: the backend holds no shared audit log (store.h). */
	enum store_status (*audit_append)(struct store *st,
	    const struct store_audit_entry *e, size_t n, uint64_t *first);
	enum store_status (*audit_state)(struct store *st,
	    struct store_audit_state *out);
	enum store_status (*audit_entries)(struct store *st, uint64_t from,
	    size_t limit, struct store_blob **list, size_t *n);
	enum store_status (*audit_tile)(struct store *st, const char *path,
	    struct store_blob *out);
	enum store_status (*audit_publish)(struct store *st,
	    const struct store_audit_publish *p);
	enum store_status (*audit_lead)(struct store *st);
	/* NULL: the backend's own tools back it up. */
	enum store_status (*backup)(struct store *st, const char *path,
	    char *err, size_t errlen);
};

struct store {
	const struct store_ops *ops;
	int64_t pinged_ms;        /* monotonic time of the last ping, or 0 */
	int ping_rc;              /* and its result */
	struct store_cache *cache; /* store_backend.c's; NULL until used */
	int batch;                /* inside store_batch_begin */
	int batch_changed;        /* a write in it may change a cached answer */
};

/* len bytes from the OS CSPRNG (ids, view keys); aborts if it fails. */
void store_random(unsigned char *buf, size_t len);

/* Backend constructors: `target` is the URL with its scheme removed
 * ("sqlite:/var/lib/x.db" → "/var/lib/x.db") when the scheme names a path,
 * the whole URL otherwise; flags are STORE_OPEN_*. NULL with err on
 * failure. */
struct store *store_sqlite_open(const char *target, const char *password,
    int flags, char *err, size_t errlen);
struct store *store_pg_open(const char *url, const char *password, int flags,
    char *err, size_t errlen);
/* For an open that changes nothing (STORE_OPEN_CURRENT): 0 when a store's
 * schema `version` is this program's `want`, else -1 with err set. */
int store_schema_current(int version, int want, char *err, size_t errlen);

/* A PostgreSQL URL libpq can parse, with no password written in it. */
int store_pg_check(const char *url, char *err, size_t errlen);
/* 1 unless the PostgreSQL server of url does not answer or refuses
 * connections for now (starting, stopping). */
int store_pg_reachable(const char *url, const char *password);

/* After an accept transaction that failed: every result STORE_ERROR, with
 * the first responses read meanwhile freed (none of it was stored). */
void store_push_results_fail(struct store_push_result *res, size_t n);

#endif
