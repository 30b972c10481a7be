/* store.h — the one persistence interface. No SQL outside store_*.c.
 *
 * A `struct store` is a connection: one per thread, never shared. Backends:
 * "sqlite:PATH" (store_sqlite.c, WAL mode) and "postgresql://..." or
 * "postgres://..." (store_pg.c, libpq), behind these same functions.
 * Every function returns a store_status; on
 * STORE_ERROR the reason is logged by the store (it never holds personal
 * values). Strings passed in are borrowed; strings handed out are owned by
 * the caller, as each comment says.
 *
 * store_link_subject, store_link_local_id and store_objection_match may be
 * answered from the connection's memory (store_cache.h); a write that
 * returned before such a lookup started, through any connection of the
 * process, is always seen. */
#ifndef TELLONCE_STORE_H
#define TELLONCE_STORE_H

#include <stddef.h>
#include <stdint.h>

enum store_status {
	STORE_OK = 0,
	STORE_NOT_FOUND,
	STORE_CONFLICT,   /* a uniqueness rule would be broken */
	STORE_ERROR,
};

#define STORE_ID_LEN 33      /* 32 hex chars + NUL: consent and objection ids */
#define STORE_SUBJECT_LEN 65 /* 64 hex chars + NUL: the keyed pseudonym */
#define STORE_VIEW_KEY_LEN 32 /* a subject's view key (contract §5) */

struct store;

/* The URL forms of a store, for messages. */
#define STORE_URL_FORMS "sqlite:PATH or postgresql://..."

/* A store URL scheme. store_backend.c keeps the one table of them, read by
 * store_open and by the config loader, so that `tellonce check` refuses
 * what `tellonce serve` could not open. */
struct store_scheme {
	const char *prefix;      /* "sqlite:", "postgresql://", ... */
	const char *backend;     /* "sqlite", "postgresql": for messages */
	int is_path;             /* what follows the prefix is a file path */
	/* The backend's open, given the path or the whole URL, the
	 * password (NULL: none) and STORE_OPEN_* flags. Callers use
	 * store_open or store_open_current. */
	struct store *(*open)(const char *target, const char *password,
	    int flags, char *err, size_t errlen);
	/* What `tellonce check` can tell without connecting: 0, or -1 with
	 * err (which never quotes the URL). NULL: nothing to check. */
	int (*check)(const char *target, char *err, size_t errlen);
	/* 0 while the store's server does not answer, or answers that it
	 * takes no connection yet; else 1. NULL: no server to wait for. */
	int (*reachable)(const char *target, const char *password);
	/* How an erased value leaves the disk, for the register. */
	const char *erasure;
};

/* The scheme url starts with, or NULL when there is none such. */
const struct store_scheme *store_scheme_find(const char *url);

/* Opens a connection to `url` and brings the schema up to date (versioned
 * migrations, each in a transaction). `password` is the PostgreSQL
 * password (gateway.store_password), NULL when there is none. Returns
 * NULL with err on failure. */
struct store *store_open(const char *url, const char *password, char *err,
    size_t errlen);
/* Opens a store as it is, changing nothing: no file or table is made and
 * no migration runs; a store whose schema is not this program's is
 * refused (NULL with err). For `tellonce backup`, which must copy the
 * store the running gateway serves, not move it to a newer program's
 * schema under that gateway. */
#define STORE_OPEN_CURRENT 0x1
struct store *store_open_current(const char *url, const char *password,
    char *err, size_t errlen);
/* The scheme's reachable for url: 0 while its server is away, which
 * waiting may mend (an unknown scheme or a server that answers: 1, and
 * store_open says what else is wrong). */
int store_reachable(const char *url, const char *password);
void store_close(struct store *st);
/* Readiness: 0 when the store can commit a write (a one-row write, done
 * at most once every STORE_PING_EVERY_MS per connection; the answer is
 * kept in between). */
#define STORE_PING_EVERY_MS 1000
int store_ping(struct store *st);

/* A batch: the writes made on st between store_batch_begin and
 * store_batch_end share one transaction, so one write lock and one commit
 * instead of one each. Each write still succeeds or fails whole (a failed
 * one leaves the others of the batch in). durable: the commit waits for
 * the fsync, as the writes a caller is answered for need (store_record_
 * accept, ...); within a batch they are only as durable as its commit. No
 * batch inside a batch. */
enum store_status store_batch_begin(struct store *st, int durable);
/* 1 when the store takes one write transaction at a time (SQLite), so
 * that the process's writers gain by committing together, as pushes do
 * (api_records.c); 0 when they commit side by side (PostgreSQL). */
int store_one_writer(struct store *st);
/* Commits the batch; STORE_ERROR when none of it was stored. */
enum store_status store_batch_end(struct store *st);

/* ---- links: (service, local_id) <-> subject ------------------------- */

/* Creates the link, with the pivot normalisation version the subject was
 * derived under (identity.h). STORE_OK if created or already exactly so
 * (idempotent); *created tells which. STORE_CONFLICT if the local id is
 * linked to another subject, or the subject to another local id of the
 * same service. */
enum store_status store_link_put(struct store *st, const char *service,
    const char *local_id, const char *subject, int pivot_version,
    int *created);
/* subject out: STORE_SUBJECT_LEN bytes. With view_key (else NULL), also
 * the subject's view key, read in the same lookup (drawn as
 * store_view_key_get does when it has none). */
enum store_status store_link_subject(struct store *st, const char *service,
    const char *local_id, char *subject, unsigned char *view_key);
/* The service's own local id for the subject; *local_id malloc'd, caller frees. */
enum store_status store_link_local_id(struct store *st, const char *service,
    const char *subject, char **local_id);
/* STORE_OK if some service linked a local id to `subject` derived under
 * `pivot_version`, STORE_NOT_FOUND if none did. */
enum store_status store_subject_linked(struct store *st, const char *subject,
    int pivot_version);

/* ---- view keys (contract §5) ------------------------------------------ */

/* The subject's view key, STORE_VIEW_KEY_LEN random bytes from the OS
 * CSPRNG, drawn now if it has none: at its first link, or at its first
 * entry after an erasure or under a store older than view keys. Never
 * derived from anything, so it tells nothing about the subject. */
enum store_status store_view_key_get(struct store *st, const char *subject,
    unsigned char view_key[STORE_VIEW_KEY_LEN]);
/* Erases the subject's view key and its access index rows in one
 * transaction (GDPR art. 17): its audit entries are then unlinkable for
 * everyone, the gateway included. STORE_OK also when it had none. */
enum store_status store_view_key_erase(struct store *st, const char *subject);

/* ---- consents ------------------------------------------------------- */

struct store_consent {
	char id[STORE_ID_LEN];
	char subject[STORE_SUBJECT_LEN];
	char *consumer, *provider, *dataset, *purpose; /* owned */
	char **attributes;                             /* owned */
	size_t nattributes;
	int64_t created_ms;
	int64_t expires_ms;  /* 0 = no expiry */
	int64_t revoked_ms;  /* 0 = not revoked */
	/* Given by a mediator under a mandate (contract §8), else all NULL:
	 * the mandate, its holder and the agent who acted. Owned. */
	char *mandate, *mediator, *helper;
};

/* Frees the owned members (not the struct itself). */
void store_consent_clear(struct store_consent *c);
/* Copies src's n strings into a new *out. *nout counts those copied so
 * far, so that the owner's clear (store_consent_clear, store_mandate_clear)
 * also frees a list left half made by a failed strdup. 0, or -1. */
int store_strings_dup(char ***out, size_t *nout, const char *const *src,
    size_t n);
void store_consents_free(struct store_consent *list, size_t n);

enum store_status store_consent_insert(struct store *st,
    const struct store_consent *c);
enum store_status store_consent_get(struct store *st, const char *id,
    struct store_consent *out);
/* Sets revoked_ms if not yet revoked. STORE_NOT_FOUND if no such consent. */
enum store_status store_consent_revoke(struct store *st, const char *id,
    int64_t now_ms);
/* Consents of `subject` for (consumer, provider, dataset), newest first;
 * any of consumer/provider/dataset may be NULL to match all. *list is
 * malloc'd; free with store_consents_free. */
enum store_status store_consent_find(struct store *st, const char *subject,
    const char *consumer, const char *provider, const char *dataset,
    struct store_consent **list, size_t *n);
/* Consents of `subject` in which `service` is consumer or provider, or
 * which it gave as a mediator. */
enum store_status store_consent_list_for(struct store *st, const char *subject,
    const char *service, struct store_consent **list, size_t *n);

/* ---- objections (GDPR art. 21) -------------------------------------- */

struct store_objection {
	char id[STORE_ID_LEN];
	char subject[STORE_SUBJECT_LEN];
	const char *dataset, *purpose;
	const char *consumer;    /* NULL = every consumer */
	int64_t created_ms;
};

enum store_status store_objection_insert(struct store *st,
    const struct store_objection *o);
/* STORE_OK with o->id set to the objection already made with o's subject,
 * dataset, purpose and consumer (NULL: the one for every consumer), so that
 * a retried objection is the same one; STORE_NOT_FOUND if there is none. */
enum store_status store_objection_find(struct store *st,
    struct store_objection *o);
/* STORE_OK if an objection covers (subject, dataset, purpose, consumer),
 * STORE_NOT_FOUND if none does. */
enum store_status store_objection_match(struct store *st, const char *subject,
    const char *dataset, const char *purpose, const char *consumer);

/* ---- mandates (contract §8) ------------------------------------------ */

/* What a mandate lets its mediator do, as bits of store_mandate.actions. */
#define STORE_MANDATE_CONSENT    (1u << 0)
#define STORE_MANDATE_OBJECTION  (1u << 1)
#define STORE_MANDATE_ACCESS_LOG (1u << 2)

/* A citizen's mandate to a mediator service, for some datasets and
 * actions until expires_ms. */
struct store_mandate {
	char id[STORE_ID_LEN];
	char subject[STORE_SUBJECT_LEN];
	char *mediator, *helper;          /* owned */
	char **datasets;                  /* owned */
	size_t ndatasets;
	unsigned actions;                 /* STORE_MANDATE_* */
	int64_t created_ms;
	int64_t expires_ms;               /* always set */
	int64_t revoked_ms;               /* 0 = not revoked */
};

void store_mandate_clear(struct store_mandate *m);
void store_mandates_free(struct store_mandate *list, size_t n);

enum store_status store_mandate_insert(struct store *st,
    const struct store_mandate *m);
enum store_status store_mandate_get(struct store *st, const char *id,
    struct store_mandate *out);
/* Sets revoked_ms if not yet revoked. STORE_NOT_FOUND if no such mandate. */
enum store_status store_mandate_revoke(struct store *st, const char *id,
    int64_t now_ms);
/* The mandates `subject` gave `mediator`, newest first. *list malloc'd;
 * free with store_mandates_free. */
enum store_status store_mandate_find(struct store *st, const char *subject,
    const char *mediator, struct store_mandate **list, size_t *n);

/* ---- the audit access index (subject -> audit entry index) ---------- */

/* One entry about a subject: its index and, for an act under a mandate,
 * who acted (private: the public entry holds only a commitment). */
struct store_access {
	const char *subject;
	uint64_t audit_index;
	const char *mandate, *mediator, *helper;   /* NULL: no mandate */
};

/* Records n entries in one transaction, on disk once it returns (the
 * entries are written after it, and nothing in them can rebuild a lost
 * row); idempotent. */
enum store_status store_access_put(struct store *st,
    const struct store_access *rows, size_t n);
/* Who acted in entry `audit_index` about `subject` under a mandate:
 * *mediator and *helper malloc'd, caller frees. STORE_NOT_FOUND when the
 * entry was not an act under a mandate. */
enum store_status store_access_mandate(struct store *st, const char *subject,
    uint64_t audit_index, char **mediator, char **helper);
/* Audit indexes for `subject`, newest first, below `before` (UINT64_MAX for
 * the first page), at most `limit`. *indexes malloc'd, caller frees. */
enum store_status store_access_list(struct store *st, const char *subject,
    uint64_t before, size_t limit, uint64_t **indexes, size_t *n);

/* ---- pushed records, the delivery outbox, the changes feed ---------- */

/* A record version as pushed by a provider, in the dataset's attribute
 * names. Its seq orders the changes feed; version counts the pushes of
 * (subject, dataset). */
struct store_record {
	int64_t seq;
	char id[STORE_ID_LEN];
	char subject[STORE_SUBJECT_LEN];
	char *provider, *dataset;   /* owned when read */
	char *record;               /* canonical JSON text; owned when read */
	int64_t version;
	int64_t created_ms;
	char *traceparent;          /* of the push that brought it, or NULL; owned */
	/* When read: the subject's view key, joined to the row; has_view_key
	 * 0 when the subject has none yet (store_record_view_key). */
	unsigned char view_key[STORE_VIEW_KEY_LEN];
	int has_view_key;
};

void store_record_clear(struct store_record *rec);
/* Makes sure rec->view_key holds the subject's view key (see
 * store_view_key_get). */
enum store_status store_record_view_key(struct store *st,
    struct store_record *rec);
void store_records_free(struct store_record *list, size_t n);

/* What store_record_accept stores in one transaction. */
struct store_push {
	const char *record_id;
	const char *provider, *subject, *dataset;
	const char *record;                /* canonical JSON text */
	const char *const *subscribers;    /* one delivery each */
	size_t nsubscribers;
	const char *idempotency_key;       /* NULL: none */
	const char *request_sha256;        /* tells a replay from a key reuse */
	const char *response;              /* JSON answered, kept for replays */
	const char *traceparent;           /* W3C, for its deliveries; or NULL */
	int64_t now_ms;
};

struct store_push_result {
	enum store_status status;  /* STORE_OK stored, STORE_CONFLICT key seen */
	char *previous;            /* CONFLICT: the first response; caller frees */
	int same;                  /* CONFLICT: the request was the same */
	int audited;               /* CONFLICT: the first push's entry is durable */
};

/* Where a polled service's changes were read up to. */
struct store_cursor {
	const char *service;
	const char *cursor;
};

/* For each push, in order: stores the record, one pending delivery per
 * subscriber (superseding that subscriber's undelivered older versions of
 * the same subject and dataset) and the idempotency key; or, when the
 * provider used the key before, stores nothing for it (STORE_CONFLICT in
 * its result). With a cursor (else NULL), also stores it: the changes it
 * covers are then accepted, and only then. All in one transaction, a group
 * commit: STORE_ERROR stores none of it. */
enum store_status store_record_accept(struct store *st,
    const struct store_push *p, size_t n, struct store_push_result *res,
    const struct store_cursor *cursor);
/* A push entry made durable: the idempotency key it answered. */
struct store_push_audit {
	const char *provider, *key;
	uint64_t audit_index;
};

/* Remembers that the pushes of these keys have their `push` entry, so a
 * replay needs none; one transaction. A replay of a key not marked (the
 * entry was not durable, or the mark was lost) audits the push again. */
enum store_status store_push_audited(struct store *st,
    const struct store_push_audit *a, size_t n);
/* The cursor stored for a polled service; *cursor malloc'd, caller frees.
 * STORE_NOT_FOUND before the first changes were accepted. */
enum store_status store_poll_cursor(struct store *st, const char *service,
    char **cursor);
/* Records of `dataset` after seq `after`, oldest first, at most `limit`;
 * *list malloc'd, free with store_records_free. */
enum store_status store_change_list(struct store *st, const char *dataset,
    int64_t after, size_t limit, struct store_record **list, size_t *n);

enum store_delivery_state {
	STORE_DELIVERY_PENDING = 0,
	STORE_DELIVERY_SENDING,      /* taken by the worker, outcome not stored */
	STORE_DELIVERY_DELIVERED,
	STORE_DELIVERY_DEAD,
	STORE_DELIVERY_SUPERSEDED,   /* a newer version replaced it undelivered */
	STORE_DELIVERY_DENIED,       /* policy or consent said no at delivery */
};

struct store_delivery {
	int64_t seq;
	char id[STORE_ID_LEN];       /* also the Idempotency-Key */
	char *subscriber;            /* owned */
	enum store_delivery_state state;
	int attempts;
	int64_t since_ms;            /* start of the current try (max age) */
	int64_t due_ms, updated_ms;
	char *last_error;            /* owned; NULL when none */
	struct store_record rec;     /* the record version it carries */
	/* Its `deliver` entry, written before the first byte went out, and
	 * the payload_sha256 it names: a retry of that payload needs none. */
	int64_t audit_index;         /* -1: none yet */
	char audit_sha256[65];       /* "" when none */
};

void store_delivery_clear(struct store_delivery *d);
void store_deliveries_free(struct store_delivery *list, size_t n);

/* After a restart: deliveries left sending become pending again (on a
 * shared store, this node's and those whose lease ran out), and of
 * several pending in one (subscriber, subject, dataset) only the newest
 * stays pending. */
enum store_status store_delivery_recover(struct store *st);
/* Takes up to `limit` due pending deliveries of `subscriber` whose
 * (subject, dataset) has none sending, oldest first, and marks them
 * sending (SQLite holds that mark in memory, store_inflight.h: the rows
 * stay pending in the file, so a crash leaves them due again).
 * *list malloc'd; free with store_deliveries_free. */
enum store_status store_delivery_take(struct store *st, const char *subscriber,
    int64_t now_ms, size_t limit, struct store_delivery **list, size_t *n);

/* Several nodes on one store (contract §9): a delivery taken is leased to
 * the node that took it, until now + lease_ms, and only that node stores
 * its outcome. The lease is extended by store_delivery_renew; once it has
 * run out (the node died or lost the store), any node's next take puts the
 * delivery back in the queue and may take it, with the same id as its
 * Idempotency-Key. `node` names this process (copied): the same across
 * its restarts, so that store_delivery_recover takes back at once what it
 * was sending, and no other node's. A store that only one process opens
 * (SQLite) leases nothing and ignores both calls. */
void store_outbox_node(struct store *st, const char *node, int64_t lease_ms);
/* Extends the leases of every delivery this node is sending; cheap to call
 * often: it writes at most a few times per lease. */
enum store_status store_delivery_renew(struct store *st);
/* 1 when a take may find deliveries it would not have found at the last
 * one (on a shared store: another node queued or freed some, or enough
 * time went by); 0 when taking now would only ask the store for nothing.
 * Never blocks. Always 1 on a store only one process opens. */
int store_outbox_changed(struct store *st);

/* The outcome of one attempt. A retry (state PENDING) of a version that a
 * newer one has meanwhile followed is stored as SUPERSEDED instead. */
struct store_delivery_outcome {
	const char *id;              /* named in the logs */
	int64_t seq;                 /* the delivery's, as taken: finds it */
	enum store_delivery_state state;
	int attempts;
	int64_t due_ms;              /* PENDING: when to try again */
	const char *error;           /* NULL when delivered */
	int64_t audit_index;         /* its deliver entry; -1: none */
	const char *audit_sha256;    /* NULL when none */
};

/* Stores the outcomes of sending deliveries, all in one transaction. */
enum store_status store_delivery_finish(struct store *st,
    const struct store_delivery_outcome *o, size_t n, int64_t now_ms);
/* Deliveries in `state`, by seq after `after`, at most `limit`. */
enum store_status store_delivery_list(struct store *st,
    enum store_delivery_state state, int64_t after, size_t limit,
    struct store_delivery **list, size_t *n);
/* Puts a dead delivery back in the queue, due now, attempts reset; *out
 * receives it. STORE_NOT_FOUND if there is no such dead delivery,
 * STORE_CONFLICT if a newer version of the same subject and dataset went
 * to that subscriber since (replaying would undo it). */
enum store_status store_delivery_retry(struct store *st, const char *id,
    int64_t now_ms, struct store_delivery *out);

/* How many deliveries of one subscriber are in each state that still
 * needs something: not delivered yet (pending or sending), or dead. */
struct store_outbox_count {
	char *subscriber;            /* owned */
	uint64_t waiting, dead;
};

/* The outbox of every subscriber that has a delivery waiting or dead, in
 * no particular order; *list malloc'd, free with store_outbox_counts_free. */
enum store_status store_outbox_counts(struct store *st,
    struct store_outbox_count **list, size_t *n);
void store_outbox_counts_free(struct store_outbox_count *list, size_t n);
/* ---- retention and erasure (contract §6) ---------------------------- */

/* How long the record versions of one dataset are kept. */
struct store_retention {
	const char *dataset;
	int64_t retention_ms;
};

/* Which record versions are due for erasure at now_ms: those older than
 * their dataset's retention (default_ms for a dataset `rules` does not
 * list) whose every delivery is settled (delivered, dead, superseded or
 * denied), and any older than twice it. */
struct store_purge {
	const struct store_retention *rules;
	size_t nrules;
	int64_t default_ms;
	int64_t now_ms;
};

/* Erases up to `limit` due record versions with their deliveries and
 * idempotency keys, in one transaction; *erased counts the rows deleted
 * (0 when none was due). On SQLite deleted values are overwritten, not
 * just unlinked, and store_compact then clears them from the write-ahead
 * log; PostgreSQL only deletes (docs/configuration.md says what remains). */
enum store_status store_purge(struct store *st, const struct store_purge *p,
    size_t limit, uint64_t *erased);
/* Rows (record versions and their deliveries) past their retention still
 * stored: due, or kept while a delivery of them is unsettled. */
enum store_status store_purge_backlog(struct store *st,
    const struct store_purge *p, uint64_t *count);
/* Erases every record version about `subject`, its deliveries (dead
 * letters included), its idempotency keys, its view key and its access
 * index rows, in one
 * transaction (GDPR art. 17); *erased counts the rows deleted. */
enum store_status store_erase_subject(struct store *st, const char *subject,
    uint64_t *erased);
/* Moves what the write-ahead log holds into the database and empties it,
 * so that erased values linger in neither. Waits briefly for readers:
 * STORE_CONFLICT when they kept it from finishing (try again later).
 * STORE_OK at once on PostgreSQL, whose WAL is the server's to recycle. */
enum store_status store_compact(struct store *st);
/* Copies what the write-ahead log holds into the database without waiting
 * for readers or writers, and without emptying it (SQLite's PASSIVE
 * checkpoint): run off the request paths (store_checkpointer.h), it keeps
 * the commits on them from having to. On SQLite it first moves the
 * access index's newest rows into a sorted run once there are enough of
 * them (store_sqlite.c, sq_access_settle). STORE_NOT_FOUND on
 * PostgreSQL, whose server checkpoints on its own. */
enum store_status store_checkpoint(struct store *st);

/* Unlinks the service's local id and revokes, at now_ms, the subject's
 * live consents in which the service is consumer or provider, in one
 * transaction; subject out (STORE_SUBJECT_LEN bytes) names whom it was
 * linked to. STORE_NOT_FOUND when the local id was not linked. */
enum store_status store_link_delete(struct store *st, const char *service,
    const char *local_id, int64_t now_ms, char *subject);

/* ---- the audit log's last signed checkpoint -------------------------- */

#define STORE_ROOT_LEN 32    /* a Merkle tree root */

/* The size and root of the last checkpoint signed for the log `origin`,
 * as store_audit_head_put left them. STORE_NOT_FOUND before the first. */
enum store_status store_audit_head_get(struct store *st, const char *origin,
    uint64_t *size, unsigned char root[STORE_ROOT_LEN]);
/* Remembers a checkpoint just signed for `origin`; one never replaces a
 * larger one. Not waiting for the disk: losing the last few to a power
 * cut only leaves the store remembering an older checkpoint. */
enum store_status store_audit_head_put(struct store *st, const char *origin,
    uint64_t size, const unsigned char root[STORE_ROOT_LEN]);

/* ---- the audit log of several nodes (docs/deployment.md) ------------
 *
 * A store that several nodes share holds one audit log for all of them:
 * the entries, numbered by one coordination row; the tiles and entry
 * bundles (C2SP tlog-tiles paths, immutable once written); and the last
 * checkpoint, stored only if it extends the one before. A backend that
 * one process alone writes (SQLite) has none of it: store_audit_shared
 * says 0, and the other calls answer STORE_ERROR. */

/* 1 when this store can hold the audit log of several nodes. */
int store_audit_shared(struct store *st);

/* One entry to sequence, and what the access index keeps of it. */
struct store_audit_entry {
	const char *json;            /* the entry's canonical JSON */
	size_t len;
	const char *subject;         /* NULL: no access index row */
	const char *mandate, *mediator, *helper;   /* NULL: no mandate */
};

/* Gives the n entries the next n indexes, in order, and stores them and
 * their access index rows in one transaction: once STORE_OK, they are
 * durable and *first is the index of the first. Nodes appending at once
 * wait for each other on the coordination row, so indexes follow commit
 * order and every committed index has all those below it committed. */
enum store_status store_audit_append(struct store *st,
    const struct store_audit_entry *e, size_t n, uint64_t *first);

/* Bytes read from the store; data malloc'd (and NUL terminated). */
struct store_blob {
	unsigned char *data;
	size_t len;
};
void store_blobs_free(struct store_blob *list, size_t n);

/* The coordination row: the next index to give, and the size, root and
 * signed note (malloc'd, caller frees; NULL before the first) of the
 * last checkpoint stored. */
struct store_audit_state {
	uint64_t next;
	uint64_t size;
	unsigned char root[STORE_ROOT_LEN];
	char *note;
};
enum store_status store_audit_state(struct store *st,
    struct store_audit_state *out);
/* The entries from index `from` on, in order, at most `limit`: fewer at
 * the end of the log. STORE_NOT_FOUND when `from` was dropped since (its
 * entry bundle holds it: store_audit_publish). *list malloc'd; free with
 * store_blobs_free. */
enum store_status store_audit_entries(struct store *st, uint64_t from,
    size_t limit, struct store_blob **list, size_t *n);
/* A tile or entry bundle by its tlog-tiles path ("tile/0/001.p/5");
 * out->data malloc'd. STORE_NOT_FOUND when it is not (or no longer: a
 * partial tile goes once its full tile is stored). */
enum store_status store_audit_tile(struct store *st, const char *path,
    struct store_blob *out);

/* What an integrator publishes: the tiles and bundles its tree filled or
 * a checkpoint needs, and the checkpoint of the tree that grew from
 * (from_size, from_root) to (size, root). */
struct store_audit_publish {
	const char *const *paths;
	const struct store_blob *tiles;
	size_t ntiles;
	uint64_t from_size, size;
	const unsigned char *from_root, *root;   /* STORE_ROOT_LEN bytes */
	const char *note;
	/* With note: the entries below this index, which the entry bundles
	 * of an earlier checkpoint hold, are dropped in the same transaction
	 * (0: none). */
	uint64_t drop_below;
};
/* Stores the tiles and the checkpoint in one transaction, only if the
 * last checkpoint stored is still (from_size, from_root): STORE_CONFLICT,
 * with nothing stored, when another integrator published in between, so
 * that two nodes both believing they sign never publish two checkpoints
 * that do not extend each other. With note NULL, stores the tiles alone:
 * full tiles may go ahead of their checkpoint, as they hold what any
 * integrator would write under their paths. Storing a full tile drops
 * its partial ones. */
enum store_status store_audit_publish(struct store *st,
    const struct store_audit_publish *p);
/* Takes, or confirms that this connection's session still holds, the one
 * integrator role: STORE_OK when it does, STORE_CONFLICT when another
 * session holds it. A session that ends (its node killed, the connection
 * lost) lets it go, and the next call anywhere may take it. */
enum store_status store_audit_lead(struct store *st);

/* Copies the whole database, as one consistent snapshot, into a new file
 * at `path` (refusing an existing one) while other connections go on
 * writing; mode 0600. STORE_ERROR with err, also for a backend that has
 * its own tools for this (pg_dump). */
enum store_status store_backup(struct store *st, const char *path, char *err,
    size_t errlen);

/* Random hex id of STORE_ID_LEN-1 chars from the OS CSPRNG. */
void store_new_id(char id[STORE_ID_LEN]);
/* A hex id of the same length for a row many are added to (records,
 * deliveries): the time in ms (12 chars), then 80 random bits. Ids made
 * one after another sort together, so that the index of the table's ids
 * grows at its end: a commit of many rows rewrites a leaf or two of it,
 * not one per row at random. */
void store_new_ordered_id(char id[STORE_ID_LEN], int64_t now_ms);

#endif
