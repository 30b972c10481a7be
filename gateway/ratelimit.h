/* ratelimit.h — per-service token buckets (services.*.rate_limit), shared
 * by every worker. A bucket holds up to `burst` tokens and gains `rate`
 * per second; each request takes one. Buckets are kept by service id, so a
 * configuration reload does not refill them. */
#ifndef TELLONCE_RATELIMIT_H
#define TELLONCE_RATELIMIT_H

#include <stdint.h>

struct ratelimit;

/* What the RateLimit-* and Retry-After headers say. */
struct ratelimit_verdict {
	int allowed;
	long limit;             /* the burst */
	long remaining;         /* whole tokens left after this request */
	long reset_s;           /* seconds until the bucket is full again */
	long retry_after_s;     /* when refused: seconds until one token */
};

struct ratelimit *ratelimit_new(void);
void ratelimit_free(struct ratelimit *rl);
/* Takes one token from service's bucket at time now_ms (monotonic). */
void ratelimit_take(struct ratelimit *rl, const char *service, double rate,
    long burst, int64_t now_ms, struct ratelimit_verdict *v);

#endif
