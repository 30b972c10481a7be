/* outbox.c — the outbox's store work alone, through store.h, without HTTP,
 * curl or the audit log:
 *
 *   outbox STORE_URL PUSHES BATCH SUBJECTS
 *
 * PUSHES records to three subscribers, accepted BATCH at a time as a
 * worker's group commit accepts them (ids made as push.c makes them),
 * SUBJECTS subjects in turn; after each batch, one delivery tick: every
 * subscriber's due deliveries taken, then their outcomes stored as
 * delivered. Under valgrind's callgrind its instruction count repeats
 * within a fraction of a percent (only the random ids differ), which
 * tells a change to the outbox's schema or statements from the noise of
 * a whole gateway on a shared machine:
 *
 *   valgrind --tool=callgrind build/release/bench/outbox \
 *       sqlite:/tmp/o.db 4000 16 2000
 *
 * The store must be new (empty). Prints the rows it wrote. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "store.h"

#define OUTBOX_BATCH_MAX 256
#define OUTBOX_TAKE_MAX 1024     /* a subscriber's room in one take */

static const char *const outbox_subscribers[] = { "caf", "ccas", "impots" };
#define OUTBOX_NSUBSCRIBERS 3

/* The strings a push points to, one per push of a batch. */
struct outbox_push {
	char record_id[STORE_ID_LEN];
	char key[32];
	char subject[STORE_SUBJECT_LEN];
};

static void
outbox_make(struct outbox_push *o, struct store_push *p, long n,
    long subjects, int64_t now_ms)
{
	store_new_ordered_id(o->record_id, now_ms);
	snprintf(o->key, sizeof(o->key), "k%ld", n);
	/* Subjects in a scattered order, as pushes from many clients. */
	snprintf(o->subject, sizeof(o->subject), "S%042ld",
	    (n * 7919) % subjects);
	*p = (struct store_push){
		.record_id = o->record_id,
		.provider = "mairie",
		.subject = o->subject,
		.dataset = "address",
		.record = "{\"city\":\"Brest\",\"country\":\"FR\","
		    "\"postal_code\":\"29200\",\"street\":\"1 rue de Siam\"}",
		.subscribers = outbox_subscribers,
		.nsubscribers = OUTBOX_NSUBSCRIBERS,
		.idempotency_key = o->key,
		.request_sha256 = "00112233445566778899aabbccddeeff"
		    "00112233445566778899aabbccddeeff",
		.response = "{\"id\":\"-\",\"deliveries\":3}",
		.now_ms = now_ms,
	};
}

static int
outbox_accept(struct store *st, long first, long n, long subjects,
    int64_t now_ms)
{
	static struct outbox_push o[OUTBOX_BATCH_MAX];
	static struct store_push p[OUTBOX_BATCH_MAX];
	static struct store_push_result res[OUTBOX_BATCH_MAX];
	int rc;

	for (long i = 0; i < n; i++)
		outbox_make(&o[i], &p[i], first + i, subjects, now_ms);
	rc = store_record_accept(st, p, (size_t)n, res, NULL) == STORE_OK ?
	    0 : -1;
	for (long i = 0; i < n; i++) {
		if (res[i].status != STORE_OK)
			rc = -1;
		free(res[i].previous);
	}
	return rc;
}

/* One tick of the delivery worker: takes, then outcomes, each in a batch
 * as delivery.c stores them. Adds the deliveries done to *done. */
static int
outbox_tick(struct store *st, int64_t now_ms, long *done)
{
	static struct store_delivery_outcome out[OUTBOX_TAKE_MAX];
	struct store_delivery *taken[OUTBOX_NSUBSCRIBERS] = { 0 };
	size_t n[OUTBOX_NSUBSCRIBERS] = { 0 };
	int rc = 0;

	if (store_batch_begin(st, 0) != STORE_OK)
		return -1;
	for (int s = 0; s < OUTBOX_NSUBSCRIBERS && rc == 0; s++)
		if (store_delivery_take(st, outbox_subscribers[s], now_ms,
		    OUTBOX_TAKE_MAX, &taken[s], &n[s]) != STORE_OK)
			rc = -1;
	if (store_batch_end(st) != STORE_OK || rc != 0 ||
	    store_batch_begin(st, 0) != STORE_OK)
		rc = -1;
	for (int s = 0; s < OUTBOX_NSUBSCRIBERS; s++) {
		for (size_t i = 0; i < n[s]; i++)
			out[i] = (struct store_delivery_outcome){
				.id = taken[s][i].id,
				.seq = taken[s][i].seq,
				.state = STORE_DELIVERY_DELIVERED,
				.attempts = 1,
				.audit_index = (int64_t)i,
				.audit_sha256 = "5f2b0c4a5f2b0c4a5f2b0c4a5f2b0c4a"
				    "5f2b0c4a5f2b0c4a5f2b0c4a5f2b0c4a",
			};
		if (rc == 0 && n[s] > 0 &&
		    store_delivery_finish(st, out, n[s], now_ms) != STORE_OK)
			rc = -1;
		*done += (long)n[s];
		store_deliveries_free(taken[s], n[s]);
	}
	if (rc == 0 && store_batch_end(st) != STORE_OK)
		rc = -1;
	return rc;
}

int
main(int argc, char **argv)
{
	long pushes, batch, subjects, done = 0;
	int64_t now_ms = clock_now_ms();
	struct store *st;
	char err[512];

	if (argc != 5 || (pushes = atol(argv[2])) <= 0 ||
	    (batch = atol(argv[3])) <= 0 || batch > OUTBOX_BATCH_MAX ||
	    (subjects = atol(argv[4])) <= 0) {
		fprintf(stderr, "usage: outbox STORE_URL PUSHES BATCH(1-%d) "
		    "SUBJECTS\n", OUTBOX_BATCH_MAX);
		return 2;
	}
	if ((st = store_open(argv[1], getenv("TELLONCE_STORE_PASSWORD"), err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "outbox: %s\n", err);
		return 1;
	}
	for (long i = 0; i < pushes; i += batch, now_ms++) {
		long n = pushes - i < batch ? pushes - i : batch;

		if (outbox_accept(st, i, n, subjects, now_ms) != 0 ||
		    outbox_tick(st, now_ms + 1, &done) != 0) {
			fprintf(stderr, "outbox: the store failed at push %ld\n",
			    i);
			store_close(st);
			return 1;
		}
	}
	store_close(st);
	printf("%ld pushes, %ld deliveries\n", pushes, done);
	return 0;
}
