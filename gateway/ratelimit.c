/* ratelimit.c — token buckets behind one mutex. A request holds it for a
 * few arithmetic operations; services number in the tens, so a short list
 * searched in order is enough. */
#include "ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct ratelimit_bucket {
	char *service;
	double tokens;
	int64_t last_ms;
	struct ratelimit_bucket *next;
};

struct ratelimit {
	pthread_mutex_t lock;
	struct ratelimit_bucket *buckets;
};

struct ratelimit *
ratelimit_new(void)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));

	if (rl != NULL)
		pthread_mutex_init(&rl->lock, NULL);
	return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
	struct ratelimit_bucket *b, *next;

	if (rl == NULL)
		return;
	for (b = rl->buckets; b != NULL; b = next) {
		next = b->next;
		free(b->service);
		free(b);
	}
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

/* The bucket of service, made full on first use; NULL without memory. */
static struct ratelimit_bucket *
ratelimit_bucket(struct ratelimit *rl, const char *service, long burst,
    int64_t now_ms)
{
	struct ratelimit_bucket *b;

	for (b = rl->buckets; b != NULL; b = b->next)
		if (strcmp(b->service, service) == 0)
			return b;
	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (b->service = strdup(service)) == NULL) {
		free(b);
		return NULL;
	}
	b->tokens = (double)burst;
	b->last_ms = now_ms;
	b->next = rl->buckets;
	rl->buckets = b;
	return b;
}

void
ratelimit_take(struct ratelimit *rl, const char *service, double rate,
    long burst, int64_t now_ms, struct ratelimit_verdict *v)
{
	struct ratelimit_bucket *b;
	double tokens;

	memset(v, 0, sizeof(*v));
	v->limit = burst;
	pthread_mutex_lock(&rl->lock);
	if ((b = ratelimit_bucket(rl, service, burst, now_ms)) == NULL) {
		/* Without memory for a bucket, serving is the lesser harm. */
		pthread_mutex_unlock(&rl->lock);
		v->allowed = 1;
		return;
	}
	if (now_ms > b->last_ms) {
		b->tokens += rate * (double)(now_ms - b->last_ms) / 1000.0;
		b->last_ms = now_ms;
	}
	/* A lowered burst after a reload applies at once. */
	if (b->tokens > (double)burst)
		b->tokens = (double)burst;
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		v->allowed = 1;
	}
	tokens = b->tokens;
	pthread_mutex_unlock(&rl->lock);
	v->remaining = (long)floor(tokens);
	v->reset_s = (long)ceil(((double)burst - tokens) / rate);
	if (!v->allowed)
		v->retry_after_s = (long)ceil((1.0 - tokens) / rate);
	if (!v->allowed && v->retry_after_s < 1)
		v->retry_after_s = 1;
}
