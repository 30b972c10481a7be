/* store_cache.h — answers of the store's hot lookups kept per connection
 * (store_backend.c uses it; nothing outside the store layer does).
 *
 * A fetch asks the store who the caller's local id is, whether an objection
 * stands and what the provider calls the subject: three reads, each a
 * transaction of its own, or one on SQLite, which answers the first with
 * the subject's links and whether any objection names it (store_link_facts
 * in store_backend.c). Their answers only change when the links, the view
 * keys or the objections do, and every such write goes through
 * store_backend.c, which calls store_cache_changed() once it returned. An
 * answer is kept with the generation read before it was asked for, and
 * serves only while the generation has not moved: a write committed before
 * a lookup starts is always seen, whichever connection made it. A
 * connection that sees the generation moved wipes all its answers (they
 * hold subjects and view keys: an erased view key stays in memory only
 * until its connection's next cached lookup or write). The generation is
 * this process's: a backend written by several processes (several nodes on
 * one PostgreSQL) must not be cached (store_ops.cacheable 0) until it can
 * hear the others' writes. */
#ifndef TELLONCE_STORE_CACHE_H
#define TELLONCE_STORE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STORE_CACHE_KEY_MAX 512    /* longer keys are not cached */
#define STORE_CACHE_VALUE_MAX 512  /* nor longer answers */

struct store_cache;

/* NULL when out of memory (then nothing is cached). */
struct store_cache *store_cache_new(void);
void store_cache_free(struct store_cache *c);

/* A write that may change a cached answer has returned. */
void store_cache_changed(void);
/* Drops c's answers of an older generation: after store_cache_changed,
 * all of them. */
void store_cache_wipe(struct store_cache *c);
/* The generation to tag an answer about to be read with. */
uint64_t store_cache_generation(void);

/* A lookup's key: kind, then each of the n fields (NULL allowed), length
 * prefixed. Returns its length, or 0 when it would exceed
 * STORE_CACHE_KEY_MAX. */
size_t store_cache_key(char key[STORE_CACHE_KEY_MAX], char kind,
    const char *const *fields, size_t n);

/* 1 with *status and the answer in value (*len bytes, at most
 * STORE_CACHE_VALUE_MAX) when key is cached in this generation, else 0. */
int store_cache_get(struct store_cache *c, const char *key, size_t keylen,
    enum store_status *status, void *value, size_t *len);
/* Keeps an answer read under generation gen (STORE_OK or STORE_NOT_FOUND;
 * errors are never kept), replacing whatever shared its slot. */
void store_cache_put(struct store_cache *c, uint64_t gen, const char *key,
    size_t keylen, enum store_status status, const void *value, size_t len);

#endif
