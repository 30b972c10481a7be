/* audit_cache.h — a node's copies of the shared audit log's files.
 *
 * Tiles and entry bundles never change once written under their path (a
 * partial tile's path names its width), so a node may keep any it read
 * for as long as it likes: each is read from the store once, and readers
 * hammering /audit/tile/... cost the store nothing after that, which
 * keeps them off the nodes' appends (docs/deployment.md). Bounded in
 * bytes; one lock, held for a lookup and a copy. */
#ifndef TELLONCE_AUDIT_CACHE_H
#define TELLONCE_AUDIT_CACHE_H

#include <stddef.h>

struct audit_cache;

/* A cache of at most max_bytes of file data; NULL when out of memory. */
struct audit_cache *audit_cache_new(size_t max_bytes);
void audit_cache_free(struct audit_cache *c);
/* A copy of the file at path: 0 with *data malloc'd (NUL terminated,
 * caller frees) and *len; -1 when it is not cached (or out of memory). */
int audit_cache_get(struct audit_cache *c, const char *path,
    unsigned char **data, size_t *len);
/* Keeps a copy of data as the file at path, in place of the one whose
 * slot it takes; nothing when it does not fit. */
void audit_cache_put(struct audit_cache *c, const char *path,
    const unsigned char *data, size_t len);

#endif
