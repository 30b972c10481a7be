/* audit_internal.h — what audit.c and audit_shared.c share: the log's state
 * and the few functions each calls of the other. Private to audit*.c;
 * everything else goes through audit.h.
 *
 * Include it after audit.h, whose types it uses: including audit.h here
 * would make audit.c and this header an include cycle
 * (tests/static/test_include_cycles.py). */
#ifndef TELLONCE_AUDIT_INTERNAL_H
#define TELLONCE_AUDIT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "checkpoint.h"

#define AUDIT_ENTRY_MAX   65535

struct audit_req {
	struct audit_req *next;
	char *json;                 /* owned */
	size_t len;
	/* Owned copies for the index hook; NULL when the entry has none. */
	char *subject;
	char *mandate, *mediator, *helper;
	struct audit *audit;
	struct event_base *base;    /* NULL: done runs on the sequencer */
	audit_done_fn done;
	void *arg;
	int status;
	uint64_t index;
};

struct audit {
	char *dir;
	char *origin;
	/* signing_key, then the additional ones: each signs every checkpoint. */
	EVP_PKEY *keys[1 + CONFIG_AUDIT_KEYS_MAX];
	size_t nkeys;
	/* What a start accepts the last checkpoint signed by: the signing
	 * keys and the configured verifier keys, all named a->origin. */
	struct checkpoint_key trusted[1 + 2 * CONFIG_AUDIT_KEYS_MAX];
	size_t ntrusted;
	int64_t interval_ms;
	int dirfd;
	int journalfd;
	off_t journal_end;          /* end of the entries */
	off_t journal_alloc;        /* end of the zeros written ahead */
	unsigned char *scratch;     /* a batch as written to the journal */
	size_t scratch_cap;

	pthread_t thread;
	int running;

	/* The queue, between appenders and the sequencer. */
	pthread_mutex_t qmu;
	pthread_cond_t qcond;
	struct audit_req *head, **tail;
	int stopping;
	struct audit_loop *loops;   /* every loop that appended so far */
	size_t nloops;
	audit_index_fn hook;
	void *hook_arg;
	audit_checkpoint_fn cp_hook;
	void *cp_hook_arg;

	/* The tree: written by the sequencer, read by proofs and entry reads.
	 * Only durable entries enter it; `size` catches up with tree->size
	 * once a whole batch is in. */
	pthread_mutex_t tmu;
	struct merkle_tiles *tree;
	uint64_t size;
	unsigned char *bundle;      /* the incomplete bundle, as in a bundle */
	size_t bundle_len;
	char *checkpoint;           /* latest signed note */
	uint64_t checkpoint_size;
	merkle_hash checkpoint_root;
	int64_t checkpoint_ms;      /* when it was written (clock_now_ms) */

	atomic_int failed;          /* a write failed: no entries until recovered */

	/* The checkpoint being published off the sequencer: a thread of its
	 * own makes the tiles durable and renames the checkpoint into place
	 * while the sequencer goes on appending (audit.c). */
	pthread_t syncer;
	int syncing;                /* sequencer only: the syncer not joined */
	int synced;                 /* under qmu: the syncer is done */
	int sync_rc;                /* its outcome, once synced */
	int sync_spare;             /* the next journal, durable once synced */
	int journal_retired;        /* the journal the last one replaced, for
	                             * the next syncer to close */
	char *sync_note;            /* owned: the checkpoint it publishes */
	uint64_t sync_size;
	merkle_hash sync_root;
	off_t sync_from;            /* where bundle sync_size / 256 starts in
	                             * the journal */

	/* The log of several nodes, in a shared store (store_audit_shared);
	 * all NULL for a directory. The tree above is then the integrator's,
	 * used by the integrator thread alone, and `checkpoint` and the fields
	 * after it are the last checkpoint stored, as this node last read
	 * it; `size` also counts the entries sequenced beyond it. */
	struct store *seq_store;    /* borrowed; the sequencer's appends */
	struct store *lead_store;   /* borrowed; the integrator thread's, whose
	                             * session holds the integrator's role */
	struct store *read_store;   /* borrowed; under rmu */
	pthread_t integrator;       /* off the sequencer: appends never wait
	                             * for an integration */
	int integrator_running;
	pthread_cond_t icond;       /* with qmu: wakes it for its last turn */
	int final;                  /* under qmu: the sequencer has stopped */
	pthread_mutex_t rmu;
	struct audit_cache *cache;  /* owned */
	struct audit_tile *pending; /* owned */
	size_t npending, pending_cap;
	int integrated;             /* the tree is the stored checkpoint's */
};

/* ---- audit.c, for the shared log ---- */

/* What both kinds of log start with (`where` names it in messages), and
 * its end. NULL with err. */
struct audit *audit_new(const struct config_audit *cfg, const char *where,
    char *err, size_t errlen);
void audit_free(struct audit *a);
/* Starts run(a) as the log's sequencer thread and logs the log's size
 * and verifier keys. 0, or -1 with err. */
int audit_start_sequencer(struct audit *a, void *(*run)(void *), char *err,
    size_t errlen);
int audit_check_format(struct audit *a, char *err, size_t errlen);

/* The sequencer's queue: audit_take is called with qmu held and releases
 * it, audit_done takes it back. */
struct audit_req *audit_take(struct audit *a, int *stop);
int audit_done(struct audit *a, int stop, const struct audit_req *batch);
/* With qmu held, before audit_take: yields once when the queue holds a
 * single entry, for its appender to add the rest of its loop turn. */
void audit_let_appenders_run(struct audit *a);
void audit_complete_batch(struct audit_req *batch, int status);
void audit_deadline(struct timespec *ts, int64_t mono_ms);

/* The tree, grown by the shared log's integrator as by the sequencer. */
uint64_t audit_full_tiles(uint64_t size, unsigned level);
int audit_restore(struct audit *a, uint64_t size, char *err, size_t errlen);
int audit_add_entry(struct audit *a, const unsigned char *json, size_t len);
int audit_put_partials(struct audit *a);
char *audit_sign(struct audit *a, merkle_hash root);
void audit_set_checkpoint(struct audit *a, char *note, uint64_t size,
    const merkle_hash root);

/* Reads of tiles, bundles and entries, from either kind of log. */
int audit_get(struct audit *a, const char *path, unsigned char **data,
    size_t *len);
int audit_tile_get(struct audit *a, int level, uint64_t index,
    unsigned width, unsigned char **data, size_t *len);
int audit_bundle_entry(const unsigned char *b, size_t len, unsigned index,
    char **json, size_t *jlen);

/* ---- audit_shared.c, where audit.c's calls lead for a shared log ---- */

int audit_shared_get(struct audit *a, const char *path, unsigned char **data,
    size_t *len);
int audit_shared_put(struct audit *a, const char *path, const void *data,
    size_t len);
void audit_shared_drop_pending(struct audit *a);
void audit_shared_stop(struct audit *a);
int audit_shared_read_entry(struct audit *a, uint64_t index, char **json,
    size_t *len);
int audit_shared_has(struct audit *a, int level, uint64_t index,
    unsigned width);
int audit_shared_inclusion(struct audit *a, uint64_t index, uint64_t size,
    merkle_hash proof[MERKLE_MAX_PROOF], size_t *n, merkle_hash root);
int audit_shared_consistency(struct audit *a, uint64_t from, uint64_t to,
    merkle_hash proof[MERKLE_MAX_PROOF], size_t *n, merkle_hash root1,
    merkle_hash root2);

#endif
