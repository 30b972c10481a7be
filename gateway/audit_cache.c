/* audit_cache.c — a node's copies of the shared audit log's files (see
 * audit_cache.h).
 *
 * Direct-mapped: a path has one slot, chosen by its hash, and a new file
 * takes the slot from whichever held it. No list to keep in order on a
 * hit, which is what nearly every read is; a proof's few tiles and the
 * bundles of recent entries collide rarely among AUDIT_CACHE_SLOTS. */
#include "audit_cache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "merkle.h"

#define AUDIT_CACHE_SLOTS 4096

struct audit_cache_slot {
	char path[MERKLE_TILE_PATH_LEN];   /* "" when empty */
	unsigned char *data;               /* owned */
	size_t len;
};

struct audit_cache {
	pthread_mutex_t mu;
	size_t max_bytes, bytes;
	struct audit_cache_slot slots[AUDIT_CACHE_SLOTS];
};

/* FNV-1a: paths differ in a few digits, which it spreads well. */
static struct audit_cache_slot *
audit_cache_slot(struct audit_cache *c, const char *path)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		h = (h ^ *p) * 16777619u;
	return &c->slots[h % AUDIT_CACHE_SLOTS];
}

struct audit_cache *
audit_cache_new(size_t max_bytes)
{
	struct audit_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	pthread_mutex_init(&c->mu, NULL);
	c->max_bytes = max_bytes;
	return c;
}

void
audit_cache_free(struct audit_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < AUDIT_CACHE_SLOTS; i++)
		free(c->slots[i].data);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int
audit_cache_get(struct audit_cache *c, const char *path, unsigned char **data,
    size_t *len)
{
	struct audit_cache_slot *s = audit_cache_slot(c, path);
	int rc = -1;

	*data = NULL;
	pthread_mutex_lock(&c->mu);
	if (strcmp(s->path, path) == 0 &&
	    (*data = malloc(s->len + 1)) != NULL) {
		memcpy(*data, s->data, s->len);
		(*data)[s->len] = '\0';
		*len = s->len;
		rc = 0;
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

void
audit_cache_put(struct audit_cache *c, const char *path,
    const unsigned char *data, size_t len)
{
	struct audit_cache_slot *s = audit_cache_slot(c, path);
	unsigned char *copy;

	if (strlen(path) >= sizeof(s->path) || (copy = malloc(len)) == NULL)
		return;
	memcpy(copy, data, len);
	pthread_mutex_lock(&c->mu);
	c->bytes -= s->len;
	free(s->data);
	*s = (struct audit_cache_slot){ .data = NULL };
	if (c->bytes + len <= c->max_bytes) {
		strcpy(s->path, path);
		s->data = copy;
		s->len = len;
		c->bytes += len;
		copy = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	free(copy);
}
