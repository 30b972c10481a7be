/* blockcache.c — per-thread caches of freed small blocks (blockcache.h). */
#include "blockcache.h"

#include <event2/event.h>
#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>

/* Size classes by usable size: 24, 40, ..., 2040 bytes, glibc's own steps,
 * so that malloc_usable_size tells a freed block's class. Past 1032 bytes
 * glibc keeps no freed block per thread, and each malloc of one first
 * consolidates every small freed block into its shared bins: an evbuffer
 * chain of just over 1 KiB, one per fetch, did that. */
#define BLOCKCACHE_MIN 24
#define BLOCKCACHE_STEP 16
#define BLOCKCACHE_CLASSES 128
#define BLOCKCACHE_MAX \
	(BLOCKCACHE_MIN + BLOCKCACHE_STEP * (BLOCKCACHE_CLASSES - 1))
/* Bytes kept per thread, at most. A worker with 32 fetches in flight frees
 * some 200 KiB of blocks between two of its loop turns: with 128 KiB most
 * of the chains it freed went back to malloc, to be allocated there again. */
#define BLOCKCACHE_BUDGET (512 * 1024)

/* Under AddressSanitizer the cache stays out of the way: ASan finds an
 * overflow only past a block's own size, and a use after free only of a
 * block it saw freed, and the cache rounds sizes up and keeps freed
 * blocks alive. */
#if defined(__has_feature)            /* clang */
#if __has_feature(address_sanitizer)
#define BLOCKCACHE_ENABLED 0
#endif
#elif defined(__SANITIZE_ADDRESS__)   /* gcc */
#define BLOCKCACHE_ENABLED 0
#endif
#ifndef BLOCKCACHE_ENABLED
#define BLOCKCACHE_ENABLED 1
#endif

struct blockcache_block {
	struct blockcache_block *next;
};

struct blockcache_cache {
	struct blockcache_block *free[BLOCKCACHE_CLASSES];
	size_t kept;                   /* bytes in the lists */
	int registered;                /* the exit destructor knows it */
};

static __thread struct blockcache_cache blockcache_mine;
static pthread_key_t blockcache_key;
static pthread_once_t blockcache_once = PTHREAD_ONCE_INIT;

/* At a thread's exit: its kept blocks go back to malloc. */
static void
blockcache_drain(void *arg)
{
	struct blockcache_cache *c = arg;

	for (int i = 0; i < BLOCKCACHE_CLASSES; i++)
		while (c->free[i] != NULL) {
			struct blockcache_block *b = c->free[i];

			c->free[i] = b->next;
			free(b);
		}
	c->kept = 0;
	/* A later free on this thread registers again, so that it is
	 * drained by the next round of destructors, not leaked. */
	c->registered = 0;
}

static void
blockcache_make_key(void)
{
	pthread_key_create(&blockcache_key, blockcache_drain);
}

static void *
blockcache_malloc(size_t n)
{
	struct blockcache_cache *c = &blockcache_mine;
	struct blockcache_block *b;
	size_t k;

	if (n > BLOCKCACHE_MAX)
		return malloc(n);
	k = n <= BLOCKCACHE_MIN ? 0 :
	    (n - BLOCKCACHE_MIN + BLOCKCACHE_STEP - 1) / BLOCKCACHE_STEP;
	if ((b = c->free[k]) == NULL)
		return malloc(BLOCKCACHE_MIN + BLOCKCACHE_STEP * k);
	c->free[k] = b->next;
	c->kept -= BLOCKCACHE_MIN + BLOCKCACHE_STEP * k;
	return b;
}

static void *
blockcache_realloc(void *p, size_t n)
{
	return realloc(p, n);
}

/* Keeps p when it is of a class and the budget allows; frees it else. The
 * thread that frees keeps it, whichever allocated it (a completion posted
 * by the audit sequencer is freed by the worker that runs it). */
static void
blockcache_free(void *p)
{
	struct blockcache_cache *c = &blockcache_mine;
	struct blockcache_block *b = p;
	size_t size;

	if (p == NULL)
		return;
	size = malloc_usable_size(p);
	if (size < BLOCKCACHE_MIN || size > BLOCKCACHE_MAX ||
	    (size - BLOCKCACHE_MIN) % BLOCKCACHE_STEP != 0 ||
	    c->kept + size > BLOCKCACHE_BUDGET) {
		free(p);
		return;
	}
	if (!c->registered) {
		pthread_once(&blockcache_once, blockcache_make_key);
		if (pthread_setspecific(blockcache_key, c) != 0) {
			free(p);
			return;
		}
		c->registered = 1;
	}
	b->next = c->free[(size - BLOCKCACHE_MIN) / BLOCKCACHE_STEP];
	c->free[(size - BLOCKCACHE_MIN) / BLOCKCACHE_STEP] = b;
	c->kept += size;
}

int
blockcache_enabled(void)
{
	return BLOCKCACHE_ENABLED;
}

void
blockcache_install(void)
{
	if (!blockcache_enabled())
		return;
	event_set_mem_functions(blockcache_malloc, blockcache_realloc,
	    blockcache_free);
	json_set_alloc_funcs(blockcache_malloc, blockcache_free);
}
