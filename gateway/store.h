/* store.h — the one persistence interface. No SQL outside store_*.c.
 *
 * A `struct store` is a connection: one per thread, never shared. Backends:
 * "sqlite:PATH" (store_sqlite.c, WAL mode) now, "postgresql://..." later,
 * behind these same functions. Every function returns a store_status; on
 * STORE_ERROR the reason is logged by the store (it never holds personal
 * values). Strings passed in are borrowed; strings handed out are owned by
 * the caller, as each comment says. */
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

struct store;

/* Opens a connection to `url` and brings the schema up to date (versioned
 * migrations, each in a transaction). Returns NULL with err on failure. */
struct store *store_open(const char *url, char *err, size_t errlen);
void store_close(struct store *st);
/* Readiness: 0 when the store answers a trivial query and can write. */
int store_ping(struct store *st);

/* ---- links: (service, local_id) <-> subject ------------------------- */

/* Creates the link. STORE_OK if created or already exactly so (idempotent);
 * *created tells which. STORE_CONFLICT if the local id is linked to another
 * subject, or the subject to another local id of the same service. */
enum store_status store_link_put(struct store *st, const char *service,
    const char *local_id, const char *subject, int *created);
/* subject out: STORE_SUBJECT_LEN bytes. */
enum store_status store_link_subject(struct store *st, const char *service,
    const char *local_id, char *subject);
/* The service's own local id for the subject; *local_id malloc'd, caller frees. */
enum store_status store_link_local_id(struct store *st, const char *service,
    const char *subject, char **local_id);

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
};

/* Frees the owned members (not the struct itself). */
void store_consent_clear(struct store_consent *c);
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
/* Consents of `subject` in which `service` is consumer or provider. */
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
/* STORE_OK if an objection covers (subject, dataset, purpose, consumer),
 * STORE_NOT_FOUND if none does. */
enum store_status store_objection_match(struct store *st, const char *subject,
    const char *dataset, const char *purpose, const char *consumer);

/* ---- the audit access index (subject -> audit entry index) ---------- */

enum store_status store_access_put(struct store *st, const char *subject,
    uint64_t audit_index);
/* The highest audit index recorded, or STORE_NOT_FOUND when empty. */
enum store_status store_access_last(struct store *st, uint64_t *audit_index);
/* Audit indexes for `subject`, newest first, below `before` (UINT64_MAX for
 * the first page), at most `limit`. *indexes malloc'd, caller frees. */
enum store_status store_access_list(struct store *st, const char *subject,
    uint64_t before, size_t limit, uint64_t **indexes, size_t *n);

/* Random hex id of STORE_ID_LEN-1 chars from the OS CSPRNG. */
void store_new_id(char id[STORE_ID_LEN]);

#endif
