/* audit_shared.c — the audit log that the nodes sharing a PostgreSQL
 * store keep together (audit_open_shared).
 *
 * In a shared store (docs/deployment.md): every node's sequencer gives its
 * batches their indexes in the store (store_audit_append), durable when
 * that commits. Each node's integrator thread reads the stored checkpoint
 * once an interval; the one whose session holds the integrator's lock
 * grows the tree from the stored entries with audit.c's code, and stores
 * the tiles it filled and a signed checkpoint in one transaction that
 * only commits if the last stored checkpoint is the one its tree grew
 * from. Every node reads the tiles through its cache. */
#include "audit.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_cache.h"
#include "audit_internal.h"
#include "checkpoint.h"
#include "clock.h"
#include "log.h"
#include "store.h"

#define AUDIT_CACHE_BYTES (64 << 20)  /* a node's copies of shared tiles */
/* Entries an integrator adds to its tree before it publishes: bounds the
 * tiles it holds for the transaction after a long time without one. */
#define AUDIT_INTEGRATE_MAX 65536
#define AUDIT_INTEGRATE_READ 256      /* entries read from the store at once */
/* Full tiles and bundles an integrator holds before it stores them ahead
 * of its checkpoint: bounds its memory and its statements (a bundle is
 * up to about 150 KiB) whatever the backlog. */
#define AUDIT_FLUSH_TILES 8

/* A tile or bundle the integrator wrote, stored with its next checkpoint. */
struct audit_tile {
	char path[MERKLE_TILE_PATH_LEN];
	struct store_blob blob;     /* data owned */
};

/* A tile or bundle from the node's cache, or from the store on a miss
 * (and cached: what is stored under a path never changes). As
 * audit_file_read. */
int
audit_shared_get(struct audit *a, const char *path, unsigned char **data,
    size_t *len)
{
	struct store_blob b;
	enum store_status rc;

	if (audit_cache_get(a->cache, path, data, len) == 0)
		return 0;
	pthread_mutex_lock(&a->rmu);
	rc = store_audit_tile(a->read_store, path, &b);
	pthread_mutex_unlock(&a->rmu);
	if (rc != STORE_OK) {
		errno = rc == STORE_NOT_FOUND ? ENOENT : EIO;
		return -1;
	}
	audit_cache_put(a->cache, path, b.data, b.len);
	*data = b.data;
	*len = b.len;
	return 0;
}

/* Forgets the tiles the integrator wrote and did not store. */
void
audit_shared_drop_pending(struct audit *a)
{
	for (size_t i = 0; i < a->npending; i++)
		free(a->pending[i].blob.data);
	a->npending = 0;
}

/* Stores the pending tiles and, with note, the checkpoint of the tree
 * that grew from (from, from_root) to root (store_audit_publish); drops
 * them from memory either way. The stored entries that the full bundles
 * of checkpoint `from` hold go with it: a new integrator restores from
 * the last checkpoint's incomplete bundle on, and a node a checkpoint or
 * two behind reads them from the bundles (audit_shared_read_entry). */
static enum store_status
audit_shared_store(struct audit *a, const char *note, uint64_t from,
    const merkle_hash from_root, const merkle_hash root)
{
	const char **paths = calloc(a->npending + 1, sizeof(*paths));
	struct store_blob *tiles = calloc(a->npending + 1, sizeof(*tiles));
	enum store_status rc = STORE_ERROR;

	if (paths != NULL && tiles != NULL) {
		for (size_t i = 0; i < a->npending; i++) {
			paths[i] = a->pending[i].path;
			tiles[i] = a->pending[i].blob;
		}
		rc = store_audit_publish(a->lead_store,
		    &(struct store_audit_publish){ paths, tiles, a->npending,
		    from, a->tree->size, from_root, root, note,
		    note != NULL ? from - from % MERKLE_TILE_WIDTH : 0 });
	}
	free(paths);
	free(tiles);
	audit_shared_drop_pending(a);
	return rc;
}

/* Keeps a tile for the integrator's next store; full ones go ahead of
 * the checkpoint once AUDIT_FLUSH_TILES wait. 0 or -1. */
int
audit_shared_put(struct audit *a, const char *path, const void *data,
    size_t len)
{
	struct audit_tile *t;

	if (a->npending == a->pending_cap) {
		size_t cap = a->pending_cap ? 2 * a->pending_cap : 16;

		if ((t = reallocarray(a->pending, cap, sizeof(*t))) == NULL)
			return -1;
		a->pending = t;
		a->pending_cap = cap;
	}
	t = &a->pending[a->npending];
	if ((t->blob.data = malloc(len + 1)) == NULL)
		return -1;
	memcpy(t->blob.data, data, len);
	t->blob.len = len;
	snprintf(t->path, sizeof(t->path), "%s", path);
	if (++a->npending < AUDIT_FLUSH_TILES || strstr(path, ".p/") != NULL)
		return 0;
	return audit_shared_store(a, NULL, 0, NULL, NULL) == STORE_OK ? 0 : -1;
}

/* Gives the batch its indexes in the store, with its access rows. 0, or
 * -1: nothing of it was stored, and its appends fail (503); the store
 * reconnects by itself, so the next batch may pass. */
static int
audit_shared_write(struct audit *a, struct audit_req *batch)
{
	struct store_audit_entry *e;
	uint64_t first;
	size_t n = 0;
	int rc = -1;

	for (struct audit_req *q = batch; q != NULL; q = q->next)
		n++;
	if ((e = calloc(n, sizeof(*e))) == NULL)
		return -1;
	n = 0;
	for (struct audit_req *q = batch; q != NULL; q = q->next)
		e[n++] = (struct store_audit_entry){ q->json, q->len, q->subject,
		    q->mandate, q->mediator, q->helper };
	if (store_audit_append(a->seq_store, e, n, &first) == STORE_OK) {
		for (struct audit_req *q = batch; q != NULL; q = q->next)
			q->index = first++;
		pthread_mutex_lock(&a->tmu);
		if (a->size < first)
			a->size = first;
		pthread_mutex_unlock(&a->tmu);
		rc = 0;
	}
	free(e);
	return rc;
}

/* Whether the stored note is this log's checkpoint of (s->size,
 * s->root): signed by one of its keys, for its origin. */
static int
audit_shared_trusted(struct audit *a, const struct store_audit_state *s,
    char *why, size_t len)
{
	struct checkpoint cp;
	size_t n = strlen(s->note);

	if (checkpoint_verify_keys(s->note, n, a->trusted, a->ntrusted, why,
	    len) != 0 || checkpoint_parse(s->note, n, &cp, why, len) != 0)
		return 0;
	if (strcmp(cp.origin, a->origin) != 0) {
		snprintf(why, len, "origin %.200s", cp.origin);
		return 0;
	}
	if (cp.size != s->size || memcmp(cp.root, s->root, MERKLE_HASH_LEN) != 0) {
		snprintf(why, len, "its body is not the stored size and root");
		return 0;
	}
	return 1;
}

/* Takes the stored checkpoint as the one this node serves, once it is
 * this log's (an integrator with another key or origin would not pass),
 * and the entries sequenced as the log's size. Takes s->note. 0, or -1
 * (logged) when the stored checkpoint is not this log's: this node must
 * then neither serve nor extend it. */
static int
audit_shared_seen(struct audit *a, struct store_audit_state *s)
{
	char why[256] = "";
	uint64_t have;

	pthread_mutex_lock(&a->tmu);
	have = a->checkpoint != NULL ? a->checkpoint_size : UINT64_MAX;
	if (a->size < s->next)
		a->size = s->next;
	pthread_mutex_unlock(&a->tmu);
	if (s->note == NULL || have == s->size) {
		free(s->note);
		return 0;
	}
	if (!audit_shared_trusted(a, s, why, sizeof(why))) {
		log_ratelimited(LOG_LEVEL_ERROR, "audit: the stored checkpoint "
		    "of size %llu is not this log's (%s); not serving or "
		    "extending it", (unsigned long long)s->size, why);
		free(s->note);
		return -1;
	}
	audit_set_checkpoint(a, s->note, s->size, s->root);
	return 0;
}

/* Rebuilds the integrator's tree as of the stored checkpoint (size,
 * root): the tiles to its last full bundle, then its last entries. 0, or
 * -1 logged. */
static int
audit_shared_restore(struct audit *a, uint64_t size, const merkle_hash root)
{
	uint64_t at = size - size % MERKLE_TILE_WIDTH;
	struct store_blob *list = NULL;
	merkle_hash have;
	char err[512] = "";
	size_t n = 0;
	int rc;

	merkle_tiles_init(a->tree);
	a->bundle_len = 0;
	audit_shared_drop_pending(a);
	if (audit_restore(a, at, err, sizeof(err)) != 0) {
		log_error("audit: cannot take over the shared log: %s", err);
		return -1;
	}
	if (size > at && (store_audit_entries(a->lead_store, at,
	    (size_t)(size - at), &list, &n) != STORE_OK || n != size - at)) {
		store_blobs_free(list, n);
		return -1;
	}
	rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = audit_add_entry(a, list[i].data, list[i].len);
	store_blobs_free(list, n);
	merkle_tiles_root(a->tree, have);
	if (rc != 0 || memcmp(have, root, MERKLE_HASH_LEN) != 0) {
		log_error("audit: the shared log's entries and tiles do not "
		    "give the root of its last checkpoint (size %llu): the log "
		    "was altered", (unsigned long long)size);
		return -1;
	}
	audit_shared_drop_pending(a);
	return 0;
}

/* Adds the entries sequenced since the tree's size to it, at most
 * AUDIT_INTEGRATE_MAX. 0 or -1. */
static int
audit_shared_integrate(struct audit *a)
{
	uint64_t stop = a->tree->size + AUDIT_INTEGRATE_MAX;
	struct store_blob *list;
	size_t n;
	int rc = 0;

	while (rc == 0 && a->tree->size < stop) {
		if (store_audit_entries(a->lead_store, a->tree->size,
		    AUDIT_INTEGRATE_READ, &list, &n) != STORE_OK)
			return -1;
		for (size_t i = 0; i < n && rc == 0; i++) {
			if (list[i].len > AUDIT_ENTRY_MAX)
				rc = -1;
			else
				rc = audit_add_entry(a, list[i].data, list[i].len);
		}
		store_blobs_free(list, n);
		if (n < AUDIT_INTEGRATE_READ)
			break;
	}
	return rc;
}

/* Stores what the tree filled and its signed checkpoint, if the stored
 * one is still (from, from_root). 0, or -1 (logged): the tree must then
 * be restored from what is stored, which also drops what a failure here
 * left pending. */
static int
audit_shared_publish(struct audit *a, uint64_t from, const merkle_hash from_root)
{
	merkle_hash root;
	enum store_status rc;
	char *note;

	if (audit_put_partials(a) != 0 || (note = audit_sign(a, root)) == NULL)
		return -1;
	rc = audit_shared_store(a, note, from, from_root, root);
	if (rc == STORE_CONFLICT)
		log_warn("audit: another node published a checkpoint since "
		    "size %llu: not publishing %llu, taking the stored one",
		    (unsigned long long)from, (unsigned long long)a->tree->size);
	if (rc != STORE_OK) {
		free(note);
		return -1;
	}
	audit_set_checkpoint(a, note, a->tree->size, root);
	return 0;
}

/* Once a checkpoint interval: reads the stored checkpoint, and, as the
 * integrator, adds the new entries and publishes. Sequencer thread. */
static void
audit_shared_tick(struct audit *a)
{
	struct store_audit_state s;
	uint64_t from;
	merkle_hash root;
	int fresh;

	if (store_audit_state(a->lead_store, &s) != STORE_OK)
		return;
	from = s.size;
	memcpy(root, s.root, MERKLE_HASH_LEN);
	fresh = s.note == NULL;
	if (audit_shared_seen(a, &s) != 0 ||
	    store_audit_lead(a->lead_store) != STORE_OK) {
		a->integrated = 0;
		return;
	}
	if (!a->integrated || a->tree->size != from) {
		if (audit_shared_restore(a, from, root) != 0)
			return;
		if (!a->integrated)
			log_info("audit: integrating the shared log from %llu "
			    "entries", (unsigned long long)from);
		a->integrated = 1;
	}
	if (audit_shared_integrate(a) != 0 ||
	    ((a->tree->size > from || fresh) &&
	    audit_shared_publish(a, from, root) != 0))
		a->integrated = 0;
}

static void *
audit_shared_run(void *arg)
{
	struct audit *a = arg;
	struct audit_req *batch;
	int stop;

	pthread_mutex_lock(&a->qmu);
	for (;;) {
		while (a->head == NULL && !a->stopping)
			pthread_cond_wait(&a->qcond, &a->qmu);
		audit_let_appenders_run(a);
		batch = audit_take(a, &stop);
		if (batch != NULL)
			audit_complete_batch(batch, audit_shared_write(a, batch));
		if (audit_done(a, stop, batch))
			break;
	}
	pthread_mutex_unlock(&a->qmu);
	return NULL;
}

/* Ticks once a checkpoint interval, and a last time once the sequencer
 * has stopped, so that a node that holds the role signs its own last
 * entries before it goes. */
static void *
audit_shared_integrator(void *arg)
{
	struct audit *a = arg;
	int64_t next = clock_mono_ms();
	struct timespec ts;
	int last;

	pthread_mutex_lock(&a->qmu);
	do {
		while (!a->final && clock_mono_ms() < next) {
			audit_deadline(&ts, next);
			pthread_cond_timedwait(&a->icond, &a->qmu, &ts);
		}
		last = a->final;
		pthread_mutex_unlock(&a->qmu);
		audit_shared_tick(a);
		next = clock_mono_ms() + a->interval_ms;
		pthread_mutex_lock(&a->qmu);
	} while (!last);
	pthread_mutex_unlock(&a->qmu);
	return NULL;
}

/* Lets the integrator take its last turn and waits for it. */
void
audit_shared_stop(struct audit *a)
{
	if (!a->integrator_running)
		return;
	pthread_mutex_lock(&a->qmu);
	a->final = 1;
	pthread_cond_signal(&a->icond);
	pthread_mutex_unlock(&a->qmu);
	pthread_join(a->integrator, NULL);
	a->integrator_running = 0;
}

/* An origin the store remembers a node's own log under (audit_anchor.h)
 * is that log's: a shared log under it would be a second tree signed
 * under one name. 0, or -1 with err. */
static int
audit_shared_check_origin(struct audit *a, char *err, size_t errlen)
{
	unsigned char root[STORE_ROOT_LEN];
	uint64_t size;

	switch (store_audit_head_get(a->lead_store, a->origin, &size, root)) {
	case STORE_NOT_FOUND:
		return 0;
	case STORE_OK:
		snprintf(err, errlen, "origin %s names the audit log one node "
		    "kept in its directory (%llu entries): the log the nodes "
		    "share needs an origin of its own (docs/deployment.md, "
		    "\"One audit log for the deployment\")", a->origin,
		    (unsigned long long)size);
		return -1;
	default:
		snprintf(err, errlen, "the store cannot be read");
		return -1;
	}
}

/* The stored checkpoint, which must be this log's, as the one served
 * until the first tick. 0, or -1 with err. */
static int
audit_shared_load(struct audit *a, char *err, size_t errlen)
{
	struct store_audit_state s;
	uint64_t size;

	if (store_audit_state(a->lead_store, &s) != STORE_OK) {
		snprintf(err, errlen, "the store cannot be read");
		return -1;
	}
	size = s.size;
	if (audit_shared_seen(a, &s) != 0) {
		snprintf(err, errlen, "the stored checkpoint of %llu entries is "
		    "not signed by this log's keys for origin %s (another "
		    "origin or signing key? a rotated key's verifier key goes in "
		    "audit.verifier_keys)", (unsigned long long)size, a->origin);
		return -1;
	}
	return audit_check_format(a, err, errlen);
}

struct audit *
audit_open_shared(const struct config_audit *cfg, struct store *seq,
    struct store *lead, struct store *reader, char *err, size_t errlen)
{
	struct audit *a = audit_new(cfg, "the shared audit log", err, errlen);

	if (a == NULL)
		return NULL;
	a->seq_store = seq;
	a->lead_store = lead;
	a->read_store = reader;
	if ((a->cache = audit_cache_new(AUDIT_CACHE_BYTES)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (audit_shared_check_origin(a, err, errlen) != 0 ||
	    audit_shared_load(a, err, errlen) != 0)
		goto fail;
	if (pthread_create(&a->integrator, NULL, audit_shared_integrator,
	    a) != 0) {
		snprintf(err, errlen, "cannot start the integrator");
		goto fail;
	}
	pthread_setname_np(a->integrator, "audit-integrate");
	a->integrator_running = 1;
	if (audit_start_sequencer(a, audit_shared_run, err, errlen) != 0)
		goto fail;
	return a;
fail:
	audit_shared_stop(a);
	audit_free(a);
	return NULL;
}

/* ---- reads and proofs of the stored checkpoint ---------------------- */

/* The bundle holding entry `index` in the checkpoint of `size` entries:
 * its partial version in that checkpoint, or the full one that replaced
 * it. *b malloc'd. 0 or -1. */
static int
audit_shared_bundle(struct audit *a, uint64_t index, uint64_t size,
    unsigned char **b, size_t *len)
{
	uint64_t bundle = index / MERKLE_TILE_WIDTH;
	char path[MERKLE_TILE_PATH_LEN];

	if (bundle == size / MERKLE_TILE_WIDTH) {
		merkle_tile_path(path, MERKLE_TILE_ENTRIES, bundle,
		    merkle_tile_width(size, 0));
		if (audit_get(a, path, b, len) == 0)
			return 0;
	}
	merkle_tile_path(path, MERKLE_TILE_ENTRIES, bundle, 0);
	return audit_get(a, path, b, len);
}

/* An entry past this node's checkpoint, as sequenced. 0, or -1: not
 * sequenced, or dropped since another node's checkpoint holds it. */
static int
audit_shared_sequenced(struct audit *a, uint64_t index, char **json,
    size_t *len)
{
	struct store_blob *list = NULL;
	size_t n = 0;
	int rc;

	pthread_mutex_lock(&a->rmu);
	rc = store_audit_entries(a->read_store, index, 1, &list, &n);
	pthread_mutex_unlock(&a->rmu);
	if (rc != STORE_OK || n != 1) {
		store_blobs_free(list, n);
		return -1;
	}
	*json = (char *)list[0].data;
	*len = list[0].len;
	free(list);
	return 0;
}

/* An entry of the shared log: from its bundle once a checkpoint holds it
 * (cached), else as sequenced, else from the full bundle of a checkpoint
 * this node has not read yet. */
int
audit_shared_read_entry(struct audit *a, uint64_t index, char **json,
    size_t *len)
{
	uint64_t cp_size, size;
	unsigned char *b;
	size_t blen;
	int rc;

	audit_checkpoint_time(a, &cp_size);
	size = cp_size;
	if (index >= cp_size) {
		if (audit_shared_sequenced(a, index, json, len) == 0)
			return 0;
		size = (index / MERKLE_TILE_WIDTH + 1) * MERKLE_TILE_WIDTH;
	}
	if (audit_shared_bundle(a, index, size, &b, &blen) != 0)
		return -1;
	rc = audit_bundle_entry(b, blen, index % MERKLE_TILE_WIDTH, json, len);
	free(b);
	return rc;
}

/* Whether the shared log's tile may be in the store, as far as the
 * checkpoint this node serves tells: its full tiles, the partials of its
 * last tiles (or earlier ones of them), and each level's next full tile.
 * Any other is not there yet, or is a partial that gave way to its full
 * tile, and is answered without asking the store, so that readers asking
 * for tiles that do not exist cost the appends nothing. */
int
audit_shared_has(struct audit *a, int level, uint64_t index, unsigned width)
{
	unsigned tl = level == MERKLE_TILE_ENTRIES ? 0 : (unsigned)level;
	uint64_t size, full;

	audit_checkpoint_time(a, &size);
	full = audit_full_tiles(size, tl);
	/* A full tile may be stored ahead of the checkpoint, its partials
	 * dropped: a reader of this checkpoint then asks for it. */
	if (width == 0)
		return index <= full;
	return index == full && width <= merkle_tile_width(size, tl);
}

/* A node of the tree of a stored checkpoint, for readers of the shared
 * log: its tiles never change, so no lock is held while they are read. */
struct audit_at {
	struct audit *a;
	uint64_t size;
};

/* merkle_read_fn over the shared log's tiles as of a checkpoint: full
 * tiles, and the partial ones of that checkpoint or the full tiles that
 * replaced them (which begin with the same hashes). */
static int
audit_shared_node(void *ctx, unsigned level, uint64_t index, merkle_hash out)
{
	const struct audit_at *at = ctx;
	unsigned tl = level / MERKLE_TILE_HEIGHT, r = level % MERKLE_TILE_HEIGHT;
	unsigned count = 1u << r, pos, width = 0;
	uint64_t first, tile;
	unsigned char *data;
	size_t len;
	int rc;

	if (tl >= MERKLE_TILE_LEVELS || index > (UINT64_MAX >> level))
		return -1;
	first = index << r;
	tile = first / MERKLE_TILE_WIDTH;
	pos = (unsigned)(first % MERKLE_TILE_WIDTH);
	if (tile > audit_full_tiles(at->size, tl) ||
	    (tile == audit_full_tiles(at->size, tl) &&
	    ((width = merkle_tile_width(at->size, tl)) == 0 || pos + count > width)))
		return -1;
	/* A partial tile gives way to its full tile, which begins with it. */
	if (audit_tile_get(at->a, (int)tl, tile, width, &data, &len) != 0 &&
	    (width == 0 || audit_tile_get(at->a, (int)tl, tile, 0, &data,
	    &len) != 0))
		return -1;
	rc = len >= (size_t)(pos + count) * MERKLE_HASH_LEN ? 0 : -1;
	if (rc == 0)
		merkle_perfect_root((const merkle_hash *)(data + (size_t)pos *
		    MERKLE_HASH_LEN), count, out);
	free(data);
	return rc;
}

/* The shared log's proofs are of checkpointed trees: `size` (and `from`)
 * must be at most the stored checkpoint's. */
int
audit_shared_inclusion(struct audit *a, uint64_t index, uint64_t size,
    merkle_hash proof[MERKLE_MAX_PROOF], size_t *n, merkle_hash root)
{
	struct audit_at at = { a, 0 };

	audit_checkpoint_time(a, &at.size);
	if (index >= size || size > at.size ||
	    merkle_inclusion_proof(audit_shared_node, &at, index, size, proof,
	    n) != 0)
		return -1;
	return merkle_root(audit_shared_node, &at, size, root);
}

int
audit_shared_consistency(struct audit *a, uint64_t from, uint64_t to,
    merkle_hash proof[MERKLE_MAX_PROOF], size_t *n, merkle_hash root1,
    merkle_hash root2)
{
	struct audit_at at = { a, 0 };

	audit_checkpoint_time(a, &at.size);
	if (from > to || to > at.size ||
	    merkle_consistency_proof(audit_shared_node, &at, from, to, proof,
	    n) != 0 || merkle_root(audit_shared_node, &at, from, root1) != 0)
		return -1;
	return merkle_root(audit_shared_node, &at, to, root2);
}
