/* store_checkpointer.c — the write-ahead log checkpointed off the request
 * paths (store_checkpointer.h).
 *
 * Left to itself, SQLite checkpoints inside the commit that crosses its
 * threshold: that push, delivery batch or audit batch (whose access-index
 * rows are committed before its entries are written) copies the log's
 * pages back while every request queued behind it waits. Raising the
 * threshold to copy fewer pages per commit made the fetch p99 1.7 times
 * worse. A checkpoint on a connection of its own, which blocks no reader
 * and no writer (store.h, store_checkpoint), costs the requests nothing
 * but the CPU it uses, and copies a page that many commits changed once. */
#include "store_checkpointer.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

struct store_checkpointer {
	struct store *st;         /* the thread's own connection; owned */
	pthread_t thread;
	int running;              /* thread started: join it */
	pthread_mutex_t mu;
	pthread_cond_t cv;        /* signalled by stop; on CLOCK_MONOTONIC */
	int stop;                 /* under mu */
};

/* Adds STORE_CHECKPOINTER_MS to *t, or to now when *t is past: a
 * checkpoint that overran its period (a long merge on a loaded machine)
 * is followed by a whole period, not at once by the next, which would
 * keep the sequencer waiting on its chunks back to back. */
static void
store_checkpointer_next(struct timespec *t)
{
	struct timespec now;
	long ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > t->tv_sec ||
	    (now.tv_sec == t->tv_sec && now.tv_nsec > t->tv_nsec))
		*t = now;
	ns = t->tv_nsec + STORE_CHECKPOINTER_MS * 1000000L;

	t->tv_sec += ns / 1000000000L;
	t->tv_nsec = ns % 1000000000L;
}

static void *
store_checkpointer_main(void *arg)
{
	struct store_checkpointer *cp = arg;
	struct timespec next = { 0, 0 };

	pthread_mutex_lock(&cp->mu);
	while (!cp->stop) {
		store_checkpointer_next(&next);
		while (!cp->stop && pthread_cond_timedwait(&cp->cv, &cp->mu,
		    &next) != ETIMEDOUT)
			;
		if (cp->stop)
			break;
		pthread_mutex_unlock(&cp->mu);
		/* A failure is logged by the store; the commits' own
		 * threshold still bounds the log meanwhile. */
		store_checkpoint(cp->st);
		pthread_mutex_lock(&cp->mu);
	}
	pthread_mutex_unlock(&cp->mu);
	return NULL;
}

/* The thread, unless the store has no log of its own to checkpoint. */
static int
store_checkpointer_run(struct store_checkpointer *cp, char *err,
    size_t errlen)
{
	pthread_condattr_t ca;
	int rc;

	if (store_checkpoint(cp->st) == STORE_NOT_FOUND) {
		/* Nothing to checkpoint (PostgreSQL): keep no connection
		 * counted against the server's max_connections. */
		store_close(cp->st);
		cp->st = NULL;
		return 0;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cp->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&cp->mu, NULL);
	if ((rc = pthread_create(&cp->thread, NULL, store_checkpointer_main,
	    cp)) != 0) {
		snprintf(err, errlen, "store: checkpointer thread: %s",
		    strerror(rc));
		pthread_cond_destroy(&cp->cv);
		pthread_mutex_destroy(&cp->mu);
		return -1;
	}
	pthread_setname_np(cp->thread, "checkpointer");
	cp->running = 1;
	return 0;
}

struct store_checkpointer *
store_checkpointer_start(const char *url, const char *password, char *err,
    size_t errlen)
{
	struct store_checkpointer *cp = calloc(1, sizeof(*cp));

	if (cp == NULL) {
		snprintf(err, errlen, "store: out of memory");
		return NULL;
	}
	if ((cp->st = store_open(url, password, err, errlen)) == NULL ||
	    store_checkpointer_run(cp, err, errlen) != 0) {
		store_checkpointer_stop(cp);
		return NULL;
	}
	return cp;
}

void
store_checkpointer_stop(struct store_checkpointer *cp)
{
	if (cp == NULL)
		return;
	if (cp->running) {
		pthread_mutex_lock(&cp->mu);
		cp->stop = 1;
		pthread_cond_signal(&cp->cv);
		pthread_mutex_unlock(&cp->mu);
		pthread_join(cp->thread, NULL);
		pthread_cond_destroy(&cp->cv);
		pthread_mutex_destroy(&cp->mu);
	}
	if (cp->st != NULL)
		store_close(cp->st);
	free(cp);
}
