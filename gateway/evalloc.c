/* evalloc.c — libevent's allocator with per-thread caches (evalloc.h). */
#include "evalloc.h"

#include <event2/event.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>

/* Size classes by usable size: 24, 40, ..., 1032 bytes, glibc's own steps,
 * so that malloc_usable_size tells a freed block's class. */
#define EVALLOC_MIN 24
#define EVALLOC_STEP 16
#define EVALLOC_CLASSES 64
#define EVALLOC_MAX (EVALLOC_MIN + EVALLOC_STEP * (EVALLOC_CLASSES - 1))
#define EVALLOC_BUDGET (128 * 1024)   /* bytes kept per thread, at most */

struct evalloc_block {
	struct evalloc_block *next;
};

struct evalloc_cache {
	struct evalloc_block *free[EVALLOC_CLASSES];
	size_t kept;                   /* bytes in the lists */
	int registered;                /* the exit destructor knows it */
};

static __thread struct evalloc_cache evalloc_mine;
static pthread_key_t evalloc_key;
static pthread_once_t evalloc_once = PTHREAD_ONCE_INIT;

/* At a thread's exit: its kept blocks go back to malloc. */
static void
evalloc_drain(void *arg)
{
	struct evalloc_cache *c = arg;

	for (int i = 0; i < EVALLOC_CLASSES; i++)
		while (c->free[i] != NULL) {
			struct evalloc_block *b = c->free[i];

			c->free[i] = b->next;
			free(b);
		}
	c->kept = 0;
	/* A later free on this thread registers again, so that it is
	 * drained by the next round of destructors, not leaked. */
	c->registered = 0;
}

static void
evalloc_make_key(void)
{
	pthread_key_create(&evalloc_key, evalloc_drain);
}

static void *
evalloc_malloc(size_t n)
{
	struct evalloc_cache *c = &evalloc_mine;
	struct evalloc_block *b;
	size_t k;

	if (n > EVALLOC_MAX)
		return malloc(n);
	k = n <= EVALLOC_MIN ? 0 : (n - EVALLOC_MIN + EVALLOC_STEP - 1) /
	    EVALLOC_STEP;
	if ((b = c->free[k]) == NULL)
		return malloc(EVALLOC_MIN + EVALLOC_STEP * k);
	c->free[k] = b->next;
	c->kept -= EVALLOC_MIN + EVALLOC_STEP * k;
	return b;
}

static void *
evalloc_realloc(void *p, size_t n)
{
	return realloc(p, n);
}

/* Keeps p when it is of a class and the budget allows; frees it else. The
 * thread that frees keeps it, whichever allocated it (a completion posted
 * by the audit sequencer is freed by the worker that runs it). */
static void
evalloc_free(void *p)
{
	struct evalloc_cache *c = &evalloc_mine;
	struct evalloc_block *b = p;
	size_t size;

	if (p == NULL)
		return;
	size = malloc_usable_size(p);
	if (size < EVALLOC_MIN || size > EVALLOC_MAX ||
	    (size - EVALLOC_MIN) % EVALLOC_STEP != 0 ||
	    c->kept + size > EVALLOC_BUDGET) {
		free(p);
		return;
	}
	if (!c->registered) {
		pthread_once(&evalloc_once, evalloc_make_key);
		if (pthread_setspecific(evalloc_key, c) != 0) {
			free(p);
			return;
		}
		c->registered = 1;
	}
	b->next = c->free[(size - EVALLOC_MIN) / EVALLOC_STEP];
	c->free[(size - EVALLOC_MIN) / EVALLOC_STEP] = b;
	c->kept += size;
}

void
evalloc_install(void)
{
	event_set_mem_functions(evalloc_malloc, evalloc_realloc, evalloc_free);
}
