/* audit_bench.c — durable appends per second, and verification speed.
 *
 *   audit_bench append DIR KEYFILE WRITERS SECONDS [threads|loops]
 *       WRITERS appends always in flight for SECONDS. "loops" (the default)
 *       models the gateway: two worker threads run event loops and each
 *       completion issues the next append; "threads" blocks WRITERS threads
 *       in audit_append().
 *   audit_bench fill DIR KEYFILE COUNT
 *       appends COUNT entries (256 in flight), for the verify benchmark
 *   audit_bench verify DIR
 *       times audit_verify() over the whole log
 */
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "clock.h"

#define BENCH_LOOPS 2

static const char *bench_attrs[] = { "street", "postal_code", "city" };

struct bench {
	struct audit *audit;
	int64_t deadline_ms;     /* stop issuing after this (mono) */
	long limit;              /* or after this many issued; 0 = none */
	atomic_long issued;
	atomic_long done;
	atomic_long failed;
};

struct slot {
	struct bench *b;
	struct event_base *base;
	atomic_int *inflight;    /* of this loop, so it knows when to exit */
};

static const unsigned char bench_view_key[COMMITMENT_KEY_LEN] = { 0x42 };

static void
bench_entry(struct audit_entry *e, char subject[65], char reqid[32], long n)
{
	memset(e, 0, sizeof(*e));
	snprintf(subject, 65, "%064lx", n % 1009);
	snprintf(reqid, 32, "bench-%ld", n);
	e->type = AUDIT_FETCH;
	e->consumer = "caf";
	e->provider = "mairie";
	e->dataset = "address";
	e->attributes = bench_attrs;
	e->nattributes = 3;
	e->purpose = "benefit-eligibility";
	e->basis = "consent";
	e->policy = "caf-address";
	/* An entry about a subject, as a fetch writes it: a nonce and three
	 * commitments to compute. */
	e->subject = subject;
	e->view_key = bench_view_key;
	e->consent = "0123456789abcdef0123456789abcdef";
	e->decision = AUDIT_ALLOW;
	e->request_id = reqid;
	e->payload = "{\"city\":\"Quimper\",\"postal_code\":\"29000\","
	    "\"street\":\"1 rue de la Paix\"}";
}

static int
bench_more(struct bench *b)
{
	long n = atomic_fetch_add(&b->issued, 1);

	if (b->limit > 0)
		return n < b->limit;
	return clock_mono_ms() < b->deadline_ms;
}

static void bench_issue(struct slot *s);

static void
bench_done(int status, uint64_t index, void *arg)
{
	struct slot *s = arg;

	atomic_fetch_add(status == 0 ? &s->b->done : &s->b->failed, 1);
	if (status == 0 && bench_more(s->b)) {
		bench_issue(s);
		return;
	}
	if (atomic_fetch_sub(s->inflight, 1) == 1)
		event_base_loopbreak(s->base);
}

static void
bench_issue(struct slot *s)
{
	struct audit_entry e;
	char subject[65], reqid[32];

	bench_entry(&e, subject, reqid, atomic_load(&s->b->issued));
	audit_append_async(s->b->audit, &e, s->base, bench_done, s);
}

struct loop {
	struct bench *b;
	int writers;
};

static void
bench_idle(evutil_socket_t fd, short what, void *arg)
{
}

static void *
bench_loop(void *arg)
{
	struct loop *l = arg;
	struct event_base *base = event_base_new();
	struct slot *slots = calloc((size_t)l->writers, sizeof(*slots));
	atomic_int inflight = l->writers;
	struct event *keep;

	/* A persistent timer keeps the loop alive between completions. */
	keep = event_new(base, -1, EV_PERSIST, bench_idle, NULL);
	event_add(keep, &(struct timeval){ 3600, 0 });
	for (int i = 0; i < l->writers; i++) {
		slots[i] = (struct slot){ l->b, base, &inflight };
		bench_issue(&slots[i]);
	}
	event_base_dispatch(base);
	event_free(keep);
	event_base_free(base);
	free(slots);
	return NULL;
}

static void *
bench_thread(void *arg)
{
	struct bench *b = arg;

	while (bench_more(b)) {
		struct audit_entry e;
		char subject[65], reqid[32];
		uint64_t index;

		bench_entry(&e, subject, reqid, atomic_load(&b->issued));
		atomic_fetch_add(audit_append(b->audit, &e, &index) == 0 ?
		    &b->done : &b->failed, 1);
	}
	return NULL;
}

static struct audit *
bench_open(const char *dir, const char *keyfile)
{
	struct config_audit cfg = {
		.dir = (char *)dir, .origin = "bench.tellonce.example/log",
		.checkpoint_interval_ms = 1000,
	};
	struct audit *a;
	char err[512];
	FILE *f = fopen(keyfile, "r");

	if (f == NULL) {
		perror(keyfile);
		return NULL;
	}
	cfg.signing_key.data = calloc(1, 4096);
	cfg.signing_key.len = fread(cfg.signing_key.data, 1, 4095, f);
	fclose(f);
	a = audit_open(&cfg, err, sizeof(err));
	free(cfg.signing_key.data);
	if (a == NULL)
		fprintf(stderr, "audit_open: %s\n", err);
	return a;
}

/* Runs `writers` appends in flight, spread over the loops or threads. */
static void
bench_run(struct bench *b, int writers, int threads)
{
	int n = threads ? writers : BENCH_LOOPS;
	pthread_t *t = calloc((size_t)n, sizeof(*t));
	struct loop *loops = calloc((size_t)n, sizeof(*loops));

	for (int i = 0; i < n; i++) {
		loops[i] = (struct loop){ b, writers / n + (i < writers % n) };
		if (threads)
			pthread_create(&t[i], NULL, bench_thread, b);
		else if (loops[i].writers > 0)
			pthread_create(&t[i], NULL, bench_loop, &loops[i]);
	}
	for (int i = 0; i < n; i++)
		if (threads || loops[i].writers > 0)
			pthread_join(t[i], NULL);
	free(t);
	free(loops);
}

static int
cmd_append(char **argv, int threads)
{
	struct bench b = { 0 };
	int writers = atoi(argv[2]);
	int64_t t0;
	double secs;

	if ((b.audit = bench_open(argv[0], argv[1])) == NULL || writers < 1)
		return 1;
	t0 = clock_mono_ms();
	b.deadline_ms = t0 + (int64_t)(atof(argv[3]) * 1000);
	bench_run(&b, writers, threads);
	secs = (double)(clock_mono_ms() - t0) / 1000;
	audit_close(b.audit);
	printf("append %s writers=%d: %ld durable appends in %.2f s = %.0f/s "
	    "(%ld failed)\n", threads ? "threads" : "loops", writers,
	    atomic_load(&b.done), secs, (double)atomic_load(&b.done) / secs,
	    atomic_load(&b.failed));
	return atomic_load(&b.failed) ? 1 : 0;
}

static int
cmd_fill(char **argv)
{
	struct bench b = { .limit = atol(argv[2]) };

	if ((b.audit = bench_open(argv[0], argv[1])) == NULL)
		return 1;
	bench_run(&b, 256, 0);
	audit_close(b.audit);
	printf("fill: %ld entries\n", atomic_load(&b.done));
	return 0;
}

static int
cmd_verify(const char *dir)
{
	merkle_hash root;
	uint64_t size;
	char err[512];
	int64_t t0 = clock_mono_ms();
	double secs;

	if (audit_verify(dir, NULL, &size, root, NULL, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "verify: %s\n", err);
		return 1;
	}
	secs = (double)(clock_mono_ms() - t0) / 1000;
	printf("verify: %llu entries in %.2f s = %.0f entries/s\n",
	    (unsigned long long)size, secs, (double)size / secs);
	return 0;
}

int
main(int argc, char **argv)
{
	evthread_use_pthreads();
	if (argc >= 6 && strcmp(argv[1], "append") == 0)
		return cmd_append(argv + 2, argc > 6 && strcmp(argv[6], "threads") == 0);
	if (argc == 5 && strcmp(argv[1], "fill") == 0)
		return cmd_fill(argv + 2);
	if (argc == 3 && strcmp(argv[1], "verify") == 0)
		return cmd_verify(argv[2]);
	fprintf(stderr, "usage: audit_bench append DIR KEY WRITERS SECONDS "
	    "[threads|loops] | fill DIR KEY COUNT | verify DIR\n");
	return 2;
}
