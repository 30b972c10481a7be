/* test_ratelimit.c — the token buckets: burst, refill, the numbers the
 * RateLimit-* and Retry-After headers carry, one bucket per service, and
 * several threads taking from one bucket. */
#include <pthread.h>

#include "ratelimit.h"
#include "unit.h"

/* 2 requests a second, 4 at once: 4 pass, the 5th waits half a second
 * (Retry-After rounds up to 1), and 500 ms later one more passes. */
static void
test_burst_and_refill(void)
{
	struct ratelimit *rl = ratelimit_new();
	struct ratelimit_verdict v;

	for (int i = 0; i < 4; i++) {
		ratelimit_take(rl, "caf", 2.0, 4, 1000, &v);
		CHECK_INT(v.allowed, 1);
		CHECK_INT(v.limit, 4);
		CHECK_INT(v.remaining, 3 - i);
	}
	CHECK_INT(v.reset_s, 2);               /* 4 tokens at 2/s */
	ratelimit_take(rl, "caf", 2.0, 4, 1000, &v);
	CHECK_INT(v.allowed, 0);
	CHECK_INT(v.remaining, 0);
	CHECK_INT(v.retry_after_s, 1);
	ratelimit_take(rl, "caf", 2.0, 4, 1499, &v);
	CHECK_INT(v.allowed, 0);
	ratelimit_take(rl, "caf", 2.0, 4, 1500, &v);
	CHECK_INT(v.allowed, 1);
	/* Ten idle seconds fill the bucket to its burst, no further. */
	ratelimit_take(rl, "caf", 2.0, 4, 11500, &v);
	CHECK_INT(v.allowed, 1);
	CHECK_INT(v.remaining, 3);
	ratelimit_free(rl);
}

/* A slow rate: one request a minute; the refusal says when to come back. */
static void
test_slow_rate(void)
{
	struct ratelimit *rl = ratelimit_new();
	struct ratelimit_verdict v;

	ratelimit_take(rl, "caf", 1.0 / 60, 1, 0, &v);
	CHECK_INT(v.allowed, 1);
	CHECK_INT(v.reset_s, 60);
	ratelimit_take(rl, "caf", 1.0 / 60, 1, 15000, &v);
	CHECK_INT(v.allowed, 0);
	CHECK_INT(v.retry_after_s, 45);
	ratelimit_free(rl);
}

static void
test_buckets_are_per_service(void)
{
	struct ratelimit *rl = ratelimit_new();
	struct ratelimit_verdict v;

	ratelimit_take(rl, "caf", 1.0, 1, 0, &v);
	CHECK_INT(v.allowed, 1);
	ratelimit_take(rl, "caf", 1.0, 1, 0, &v);
	CHECK_INT(v.allowed, 0);
	ratelimit_take(rl, "mairie", 1.0, 1, 0, &v);
	CHECK_INT(v.allowed, 1);
	/* A reload that lowers the burst applies to a full bucket at once. */
	ratelimit_take(rl, "portal", 1.0, 10, 0, &v);
	ratelimit_take(rl, "portal", 1.0, 2, 0, &v);
	CHECK_INT(v.allowed, 1);
	CHECK_INT(v.remaining, 1);
	ratelimit_free(rl);
}

struct taker {
	struct ratelimit *rl;
	int allowed;
};

static void *
taker_main(void *arg)
{
	struct taker *t = arg;
	struct ratelimit_verdict v;

	for (int i = 0; i < 1000; i++) {
		ratelimit_take(t->rl, "caf", 0.001, 1000, 0, &v);
		t->allowed += v.allowed;
	}
	return NULL;
}

/* Four threads share one bucket of 1000: exactly 1000 pass. */
static void
test_shared_across_threads(void)
{
	struct ratelimit *rl = ratelimit_new();
	struct taker t[4];
	pthread_t th[4];
	int total = 0;

	for (int i = 0; i < 4; i++) {
		t[i].rl = rl;
		t[i].allowed = 0;
		pthread_create(&th[i], NULL, taker_main, &t[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		total += t[i].allowed;
	}
	CHECK_INT(total, 1000);
	ratelimit_free(rl);
}

int
main(void)
{
	UNIT_RUN(test_burst_and_refill);
	UNIT_RUN(test_slow_rate);
	UNIT_RUN(test_buckets_are_per_service);
	UNIT_RUN(test_shared_across_threads);
	return UNIT_END();
}
