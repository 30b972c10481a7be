/* audit.h — the signed, tamper-evident audit log (contract §5).
 *
 * One place writes audit entries: audit_append*(). Entries are canonical
 * JSON (RFC 8785) holding names and, about a subject, a fresh nonce and
 * keyed commitments under the subject's view key (commitment.h), never a
 * personal value, a pseudonym or an id a service saw: the tiles are public
 * and no reader may link two entries to one citizen. Storage is an RFC
 * 6962 Merkle log laid out as C2SP tlog-tiles in config audit.dir, with
 * signed C2SP checkpoints.
 *
 * A single sequencer thread owns the files: appends from every thread are
 * queued, written and fsync'd in batches (group commit), and only then
 * reported done. */
#ifndef TELLONCE_AUDIT_H
#define TELLONCE_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "commitment.h"
#include "config_model.h"
#include "merkle.h"

struct event_base;
struct store;

/* What an entry records (contract §5, docs/api.md). 0 names none: the
 * entry says null, as it does for any field left out. */
enum audit_type {
	AUDIT_TYPE_NONE,
	AUDIT_FETCH,
	AUDIT_PUSH,
	AUDIT_DELIVER,
	AUDIT_CONSENT_GRANT,
	AUDIT_CONSENT_REVOKE,
	AUDIT_LINK,
	AUDIT_OBJECTION,
	AUDIT_CONFIG_RELOAD,
	AUDIT_ADMIN,
	AUDIT_ERASURE,          /* §6: a subject's stored data erased */
	AUDIT_LINK_DELETE,      /* §6: a local id unlinked */
	AUDIT_MANDATE_GRANT,    /* §8: a citizen's mandate to a mediator */
	AUDIT_MANDATE_REVOKE,
	AUDIT_ACCESS_LOG_READ,  /* §8: a mediator read an access log */
};

enum audit_decision {
	AUDIT_DECISION_NONE,
	AUDIT_ALLOW,
	AUDIT_DENY,
};

/* "fetch", "consent.grant", ... as written in entries; NULL for none. */
const char *audit_type_name(enum audit_type type);
/* "allow" or "deny"; NULL for none. */
const char *audit_decision_name(enum audit_decision decision);

/* Fields of one entry; NULL strings become JSON null. Borrowed by append. */
struct audit_entry {
	int64_t ts_ms;          /* 0 = now; written to the second */
	enum audit_type type;
	const char *consumer;
	const char *provider;
	const char *dataset;
	const char *const *attributes;  /* names only */
	size_t nattributes;
	const char *purpose;
	const char *basis;
	const char *policy;
	/* About a subject: its keyed pseudonym, which goes only to the
	 * private access index (audit_set_index_hook), and its view key, under
	 * which the entry commits to the subject, the consent and the payload.
	 * Without a subject the entry commits to nothing and consent and
	 * payload are ignored. */
	const char *subject;
	const unsigned char *view_key;   /* COMMITMENT_KEY_LEN bytes */
	const char *consent;    /* a consent id: written as its commitment */
	enum audit_decision decision;
	const char *reason;
	const char *request_id;
	/* The JCS text (jcs.h) of the record as the receiving service got it
	 * (or, for a push, as the provider sent it): written as its
	 * commitment. */
	const char *payload;
	/* An act under a mandate (contract §8): the mandate and the agent who
	 * acted, written as the entry's `on_behalf` commitment (commitment.h),
	 * never in clear; and the mediator service, in no entry. All three also go to the
	 * private access index with the subject; NULL when no mandate is
	 * involved. */
	const char *mandate;
	const char *helper;
	const char *mediator;
};

struct audit;

/* A signed tree head: the size and root of a checkpoint. */
struct audit_head {
	uint64_t size;
	merkle_hash root;
};

/* Opens (or creates) the log in cfg->dir, recovers it after a crash, checks
 * the new state against the last signed checkpoint (signed by one of the
 * signing keys or of cfg->verifier_keys), signs a checkpoint of it with
 * every signing key and starts the sequencer. Returns NULL with err on
 * failure (the gateway must not start), also for a log begun by a version
 * whose entries were linkable: a log is append only, so this one cannot go
 * on with it (docs/audit.md, upgrading). */
struct audit *audit_open(const struct config_audit *cfg, char *err, size_t errlen);
/* Opens the log that the nodes sharing the store `seq` keep together
 * (store_audit_shared): this node sequences its entries in the store
 * through `seq`, integrates and signs through `lead` while that session
 * holds the integrator's role, and reads tiles and entries through
 * `reader` and its cache; cfg->dir is not used. Three connections to one
 * store, borrowed: they must outlive the log and are used by it alone. The access index is kept by the appends
 * themselves (no audit_set_index_hook), and the checkpoints are in the
 * store (no audit_anchor.h). NULL with err, also for an origin the store
 * knows as one node's log, or a stored checkpoint that is not this log's
 * (another origin or key). */
struct audit *audit_open_shared(const struct config_audit *cfg,
    struct store *seq, struct store *lead, struct store *reader, char *err,
    size_t errlen);
/* audit_open, refusing also a log that does not extend `head` (when not
 * NULL), the last checkpoint a store saw signed (audit_anchor.h): an
 * older copy of the directory, or another log, with the way out in err.
 * Nothing is signed then. */
struct audit *audit_open_after(const struct config_audit *cfg,
    const struct audit_head *head, char *err, size_t errlen);
/* Drains pending appends, signs a final checkpoint, stops the sequencer. */
void audit_close(struct audit *a);

/* Canonical JSON of an entry, with a fresh nonce; malloc'd, caller frees.
 * NULL when out of memory, on invalid UTF-8, or for a subject without its
 * view key. */
char *audit_entry_json(const struct audit_entry *e);

/* Called on `base`'s thread once the entry is durable (status 0, its index)
 * or could not be written (status -1). */
typedef void (*audit_done_fn)(int status, uint64_t index, void *arg);

/* Queues an entry; never blocks on disk. `base` must run a libevent loop
 * with threading enabled (evthread_use_pthreads). */
void audit_append_async(struct audit *a, const struct audit_entry *e,
    struct event_base *base, audit_done_fn done, void *arg);
/* Appends with `base` whose done has not run yet (queued, being written,
 * or posted to that loop). A loop must not be freed before this is 0: the
 * sequencer would post to freed memory. Any thread. */
size_t audit_pending(struct audit *a, struct event_base *base);
/* Blocks until the entry is durable. Returns 0 with *index, or -1. */
int audit_append(struct audit *a, const struct audit_entry *e, uint64_t *index);

/* An entry of a batch that has a subject, for the access index. */
struct audit_indexed {
	const char *subject;
	uint64_t index;
	const char *mandate, *mediator, *helper;   /* as in the entry */
};

/* Called on the sequencer thread once per batch, with the entries of the
 * batch that have a subject (n > 0), so the gateway can keep its private
 * subject → index access index in one transaction per batch. It runs
 * before the batch is written: an entry is never durable without its
 * index row, and a row whose entry a crash lost names an index that a
 * later entry takes, which the access log tells by its commitment. It
 * returns 0, or -1 when the rows could not be stored: the batch is then
 * not written and its appends fail, so the store's faults leave no entry
 * out of the access log (the log itself stays up). */
typedef int (*audit_index_fn)(const struct audit_indexed *rows, size_t n,
    void *arg);
void audit_set_index_hook(struct audit *a, audit_index_fn fn, void *arg);

/* Called on the sequencer thread after each checkpoint it signs is
 * durable in the directory (not for the one audit_open signs: see
 * audit_checkpoint_head). Set once, before the log takes entries. */
typedef void (*audit_checkpoint_fn)(const char *origin,
    const struct audit_head *head, void *arg);
void audit_set_checkpoint_hook(struct audit *a, audit_checkpoint_fn fn,
    void *arg);
/* The size and root of the latest signed checkpoint. */
void audit_checkpoint_head(struct audit *a, struct audit_head *head);
/* The verifier keys a reader checks checkpoints with, one a line: the
 * signing key's, the additional signing keys', then the configured
 * verifier keys (earlier keys, that signed earlier checkpoints).
 * malloc'd, caller frees; NULL when out of memory. */
char *audit_verifier_keys(const struct audit *a);

/* Number of durable entries. */
uint64_t audit_size(struct audit *a);
/* Entry `index` as stored (canonical JSON); *json malloc'd. 0 or -1. */
int audit_read_entry(struct audit *a, uint64_t index, char **json, size_t *len);
/* 0 when the log directory is writable (a shared log: always) and the
 * sequencer is alive. */
int audit_ready(struct audit *a);
/* The tile or entry bundle (level MERKLE_TILE_ENTRIES) at (index, width)
 * as tlog-tiles names it (width 0: the full one); *data malloc'd. 0, or
 * -1 with errno ENOENT when there is none such (in a shared log: none in
 * the checkpoint this node serves). */
int audit_read_tile(struct audit *a, int level, uint64_t index,
    unsigned width, unsigned char **data, size_t *len);

/* Inclusion proof of entry `index` in the tree of the first `size` durable
 * entries, and that tree's root. 0, or -1 if index >= size, size is beyond
 * audit_size() or a tile cannot be read. */
int audit_inclusion_proof(struct audit *a, uint64_t index, uint64_t size,
    merkle_hash proof[MERKLE_MAX_PROOF], size_t *n, merkle_hash root);
/* Consistency proof between the trees of `from` and `to` entries, and
 * their roots. 0, or -1 if from > to or to is beyond audit_size(). */
int audit_consistency_proof(struct audit *a, uint64_t from, uint64_t to,
    merkle_hash proof[MERKLE_MAX_PROOF], size_t *n, merkle_hash root1,
    merkle_hash root2);
/* The latest signed checkpoint (its text, malloc'd; caller frees) and its
 * tree size. */
char *audit_checkpoint(struct audit *a, uint64_t *size);
/* When the latest checkpoint was written (ms since the epoch; this
 * process writes one at open) and, in *size, the entries it signs. */
int64_t audit_checkpoint_time(struct audit *a, uint64_t *size);

/* ---- the directory, for the readers beside the log (audit_backup.c) ---- */

#define AUDIT_CHECKPOINT  "checkpoint"
#define AUDIT_JOURNAL     "journal"
#define AUDIT_JOURNAL_HDR 8           /* the big-endian index of its first bundle */

/* Reads a whole file below the directory dirfd; *data malloc'd (and NUL
 * terminated). 0, or -1 (errno ENOENT when it does not exist). */
int audit_file_read(int dirfd, const char *relpath, unsigned char **data,
    size_t *len);
/* Writes relpath whole under a temporary name and renames it, so readers
 * see all of it or nothing, making the directories it needs. 0 or -1. */
int audit_file_put(int dirfd, const char *relpath, const void *data,
    size_t len);
/* The length of the entry at off in a bundle or journal, or 0 at the end
 * or at a torn or malformed entry. */
size_t audit_bundle_next(const unsigned char *b, size_t len, size_t off);

/* Copies the log in `dir` into the new directory `to` as of a signed
 * checkpoint, while a gateway may be appending to it: the checkpoint, the
 * tiles and bundles it covers and a journal from which a gateway starts on
 * the copy. When a gateway holds the log, waits (at most wait_ms) for a
 * checkpoint that covers every entry durable when called, so that the copy
 * holds whatever a store copied just before can name. *size is the copy's.
 * 0, or -1 with err (the copy is then incomplete). */
int audit_backup(const char *dir, const char *to, int64_t wait_ms,
    uint64_t *size, char *err, size_t errlen);

/* The members the access log adds to each entry it answers (audit_index,
 * inclusion_proof, consumer_name, provider_name and, on acts under a
 * mandate, mandate, mediator and helper); an item without them is the
 * entry as logged. NULL-terminated. */
extern const char *const audit_access_log_members[];

/* Offline verification of the audit directory `dir` (nothing else may be
 * writing it): every entry bundle, every hash tile, the checkpoint's root
 * and, when vkey is not NULL, its signature by that verifier key's public
 * key (under the log's origin, whatever the key's name). Returns 0 with
 * *size and root, and in err what the reader should know (a key named
 * otherwise than the log) or "", or -1 with err naming the first bad entry
 * index, tile path or checkpoint problem. progress, when not NULL, is called
 * every AUDIT_VERIFY_PROGRESS_STEP entries with the entries done so far
 * and the total. */
#define AUDIT_VERIFY_PROGRESS_STEP 65536
typedef void (*audit_progress_fn)(uint64_t done, uint64_t total, void *arg);
int audit_verify(const char *dir, const char *vkey, uint64_t *size,
    merkle_hash root, audit_progress_fn progress, void *arg, char *err,
    size_t errlen);
/* audit_verify with any of nvkeys verifier keys of one origin: the
 * checkpoint must be signed by at least one of them (and badly by none),
 * as during and after a key rotation. */
#define AUDIT_VERIFY_KEYS_MAX 16
int audit_verify_keys(const char *dir, const char *const *vkeys,
    size_t nvkeys, uint64_t *size, merkle_hash root,
    audit_progress_fn progress, void *arg, char *err, size_t errlen);

#endif
