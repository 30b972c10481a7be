/* evalloc.h — libevent's allocations through per-thread caches of freed
 * blocks.
 *
 * evhttp allocates and frees some fifty small blocks per request: each
 * header's node, name and value, the request, its buffers' chains. glibc
 * keeps only 7 freed blocks of a size per thread, so most of them went
 * through malloc's shared bins and their consolidation. Blocks of up to
 * 1 KiB (a buffer's smallest chain) freed by a thread are kept for its
 * next allocations, within a per-thread byte budget. */
#ifndef TELLONCE_EVALLOC_H
#define TELLONCE_EVALLOC_H

/* Hands libevent the cached allocator. Must run before any other libevent
 * call (event_set_mem_functions' rule); once per process. */
void evalloc_install(void);

#endif
