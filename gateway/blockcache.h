/* blockcache.h — per-thread caches of freed small blocks, for the
 * libraries that allocate and free many per request.
 *
 * Per fetch, evhttp allocates and frees some fifty small blocks (each
 * header's node, name and value, the request, its buffers' chains) and
 * jansson some forty (the trees of a body, an answer, a record). glibc
 * keeps only 7 freed blocks of a size per thread, so most of them went
 * through malloc's shared bins and their consolidation. Here a thread
 * keeps the blocks of up to 2 KiB it frees, within 512 KiB, for its next
 * allocations, and gives them back when it ends. Every block is a malloc
 * block: free() may take what the cache allocated, and the cache what
 * malloc did. (libcurl's were tried too: no gain.) */
#ifndef TELLONCE_BLOCKCACHE_H
#define TELLONCE_BLOCKCACHE_H

/* 1 when blockcache_install hands out the cache, 0 in a build under
 * AddressSanitizer, where it installs nothing. */
int blockcache_enabled(void);

/* Hands libevent and jansson the cache. Before their first use, as their
 * documentation asks; once per process. */
void blockcache_install(void);

#endif
