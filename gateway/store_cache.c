/* store_cache.c — per-connection answers of hot lookups, dropped by any
 * write of the process (store_cache.h). */
#include "store_cache.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Slots per connection, direct mapped: a few hundred KiB at most. */
#define STORE_CACHE_SLOTS 2048

struct store_cache_entry {
	enum store_status status;
	size_t keylen, len;
	char *data;             /* key then value; owned */
};

struct store_cache {
	uint64_t seen;          /* the generation its entries may have */
	struct store_cache_entry slot[STORE_CACHE_SLOTS];
};

/* Starts at 1: a new cache (seen 0) catches up before its first answer. */
static _Atomic uint64_t store_cache_gen = 1;

struct store_cache *
store_cache_new(void)
{
	return calloc(1, sizeof(struct store_cache));
}

/* Wipes every entry: answers hold subjects and view keys, and an erased
 * view key must not stay in memory once its connection looks up again. */
static void
store_cache_drop(struct store_cache *c)
{
	for (size_t i = 0; i < STORE_CACHE_SLOTS; i++) {
		struct store_cache_entry *e = &c->slot[i];

		if (e->data != NULL)
			explicit_bzero(e->data, e->keylen + e->len);
		free(e->data);
		memset(e, 0, sizeof(*e));
	}
}

/* Drops the entries of an older generation than the current one. */
static void
store_cache_catch_up(struct store_cache *c)
{
	uint64_t now = atomic_load(&store_cache_gen);

	if (c->seen == now)
		return;
	store_cache_drop(c);
	c->seen = now;
}

void
store_cache_wipe(struct store_cache *c)
{
	store_cache_catch_up(c);
}

void
store_cache_free(struct store_cache *c)
{
	if (c == NULL)
		return;
	store_cache_drop(c);
	free(c);
}

void
store_cache_changed(void)
{
	atomic_fetch_add(&store_cache_gen, 1);
}

uint64_t
store_cache_generation(void)
{
	return atomic_load(&store_cache_gen);
}

size_t
store_cache_key(char key[STORE_CACHE_KEY_MAX], char kind,
    const char *const *fields, size_t n)
{
	size_t len = 0;

	key[len++] = kind;
	for (size_t i = 0; i < n; i++) {
		size_t flen = fields[i] ? strlen(fields[i]) : 0;

		if (len + 1 + 4 + flen > STORE_CACHE_KEY_MAX)
			return 0;
		/* NULL and "" differ: a NULL consumer means every consumer. */
		key[len++] = fields[i] != NULL;
		memcpy(key + len, &flen, 4);
		len += 4;
		memcpy(key + len, fields[i] ? fields[i] : "", flen);
		len += flen;
	}
	return len;
}

/* FNV-1a. */
static size_t
store_cache_slot(const char *key, size_t keylen)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < keylen; i++)
		h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
	return (size_t)(h % STORE_CACHE_SLOTS);
}

int
store_cache_get(struct store_cache *c, const char *key, size_t keylen,
    enum store_status *status, void *value, size_t *len)
{
	struct store_cache_entry *e;

	store_cache_catch_up(c);
	e = &c->slot[store_cache_slot(key, keylen)];
	if (e->data == NULL ||
	    e->keylen != keylen || memcmp(e->data, key, keylen) != 0)
		return 0;
	*status = e->status;
	memcpy(value, e->data + keylen, e->len);
	*len = e->len;
	return 1;
}

void
store_cache_put(struct store_cache *c, uint64_t gen, const char *key,
    size_t keylen, enum store_status status, const void *value, size_t len)
{
	struct store_cache_entry *e;
	char *data;

	store_cache_catch_up(c);
	/* Read before a write that has since returned: never kept. */
	if (gen != c->seen || (status != STORE_OK && status != STORE_NOT_FOUND) ||
	    len > STORE_CACHE_VALUE_MAX || keylen == 0)
		return;
	e = &c->slot[store_cache_slot(key, keylen)];
	if (e->data != NULL)
		explicit_bzero(e->data, e->keylen + e->len);
	if ((data = realloc(e->data, keylen + len + 1)) == NULL)
		return;
	memcpy(data, key, keylen);
	if (len > 0)
		memcpy(data + keylen, value, len);
	*e = (struct store_cache_entry){ status, keylen, len, data };
}
