/* audit.c — the audit log: one sequencer thread, group commit, tiles on
 * disk, signed checkpoints, recovery.
 *
 * Layout of the audit directory (C2SP tlog-tiles, plus one private file):
 *
 *   checkpoint               the latest signed checkpoint
 *   tile/<L>/<N>[.p/<W>]     hash tiles
 *   tile/entries/<N>[.p/W]   entry bundles (uint16 big-endian length prefixes)
 *   journal                  the write-ahead journal: an 8-byte big-endian
 *                            bundle index B, then every entry from B * 256
 *                            on, prefixed as in a bundle
 *
 * A batch of appends costs one write and one fdatasync of the journal, and
 * is acknowledged then. Bundles and hash tiles that fill are written after
 * that without waiting for the disk; at each checkpoint one syncfs() makes
 * them durable, the checkpoint is renamed into place and the journal starts
 * over at the checkpoint's incomplete bundle. The syncfs and the rename
 * run on a thread of their own while the sequencer appends on (a syncfs
 * takes milliseconds, and every append waited for it). Partial tiles are
 * written only for checkpointed sizes, as tlog-tiles requires. Files are
 * written under a temporary name and renamed, so a reader never sees half
 * a tile.
 *
 * Entries are the truth: on open, the tree is restored from the tiles the
 * last sync made durable (rebuilding any that are missing or torn from the
 * entries), the journal is replayed after cutting a torn tail, and the
 * result must extend the last signed checkpoint.
 *
 * The log the nodes on PostgreSQL share is audit_shared.c's: it grows its
 * tree with the code here, and the reads and proofs below hand it theirs. */
#include "audit.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit_cache.h"
#include "audit_internal.h"
#include "checkpoint.h"
#include "clock.h"
#include "encode.h"
#include "jcs.h"
#include "keys.h"
#include "log.h"
#include "rand.h"

#define AUDIT_JOURNAL_MAX (64 << 20)  /* bytes before a sync between checkpoints */
#define AUDIT_JOURNAL_CHUNK (4 << 20) /* zeros written ahead of the journal's end */
/* A checkpoint signed, before the sync that lets it replace the last. */
#define AUDIT_CHECKPOINT_TMP AUDIT_CHECKPOINT ".tmp"
#define AUDIT_MANDATE_VALUE_MAX 512   /* a mandate id and a helper id */
#define AUDIT_BUNDLE_MAX  (MERKLE_TILE_WIDTH * (2 + AUDIT_ENTRY_MAX))
#define AUDIT_RETRY_MS    1000        /* between recoveries of a failed log */

/* Completions not run yet on one appender's loop. */
struct audit_loop {
	struct event_base *base;
	size_t pending;
};

/* ---- files ---------------------------------------------------------- */

/* Makes renames in the audit directory itself durable. */
static int
audit_fsync_root(struct audit *a)
{
	return fsync(a->dirfd);
}

/* Creates the directories leading to relpath; the next sync makes them
 * durable. */
static int
audit_mkdirs(int dirfd, const char *relpath)
{
	char buf[MERKLE_TILE_PATH_LEN + 16];
	char *slash;

	snprintf(buf, sizeof(buf), "%s", relpath);
	for (slash = strchr(buf, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdirat(dirfd, buf, 0700) != 0 && errno != EEXIST)
			return -1;
		*slash = '/';
	}
	return 0;
}

static int
audit_write_all(int fd, const void *data, size_t len, off_t off)
{
	const unsigned char *p = data;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Durable only after the next audit_sync(). */
int
audit_file_put(int dirfd, const char *relpath, const void *data, size_t len)
{
	char tmp[MERKLE_TILE_PATH_LEN + 16];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", relpath);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	/* Directories are made only when missing: most files have them. */
	if (fd == -1 && errno == ENOENT && audit_mkdirs(dirfd, relpath) == 0)
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
	if (fd == -1)
		return -1;
	if (audit_write_all(fd, data, len, 0) != 0) {
		close(fd);
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	close(fd);
	return renameat(dirfd, tmp, dirfd, relpath);
}

int
audit_file_read(int dirfd, const char *relpath, unsigned char **data,
    size_t *len)
{
	int fd = openat(dirfd, relpath, O_RDONLY | O_CLOEXEC);
	struct stat st;
	size_t off = 0;

	*data = NULL;
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) != 0 || (*data = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return -1;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = pread(fd, *data + off, (size_t)st.st_size - off, (off_t)off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	*len = off;
	(*data)[off] = '\0';
	return 0;
}

/* Whether relpath holds exactly data. */
static int
audit_file_is(struct audit *a, const char *relpath, const void *data,
    size_t len)
{
	unsigned char *have;
	size_t hlen;
	int same;

	if (audit_file_read(a->dirfd, relpath, &have, &hlen) != 0)
		return 0;
	same = hlen == len && memcmp(have, data, len) == 0;
	free(have);
	return same;
}

/* A tile or bundle, from the directory or the shared log; as
 * audit_file_read. */
int
audit_get(struct audit *a, const char *path, unsigned char **data, size_t *len)
{
	if (a->seq_store != NULL)
		return audit_shared_get(a, path, data, len);
	return audit_file_read(a->dirfd, path, data, len);
}

/* Writes a tile or bundle: into the directory, or for the integrator's
 * next checkpoint. 0 or -1. */
static int
audit_put(struct audit *a, const char *path, const void *data, size_t len)
{
	if (a->seq_store != NULL)
		return audit_shared_put(a, path, data, len);
	return audit_file_put(a->dirfd, path, data, len);
}

/* Removes the partial versions of a tile that just became full: tlog-tiles
 * lets them go once the full tile is there. The shared log's store drops
 * them itself when it stores the full tile. */
static void
audit_remove_partials(struct audit *a, const char *fullpath)
{
	char pdir[MERKLE_TILE_PATH_LEN + 4];
	struct dirent *de;
	DIR *d;
	int fd;

	if (a->seq_store != NULL)
		return;
	snprintf(pdir, sizeof(pdir), "%s.p", fullpath);
	fd = openat(a->dirfd, pdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			unlinkat(fd, de->d_name, 0);
	closedir(d);
	unlinkat(a->dirfd, pdir, AT_REMOVEDIR);
}

/* ---- entries -------------------------------------------------------- */

static const char *const audit_type_names[] = {
	[AUDIT_FETCH] = "fetch",
	[AUDIT_PUSH] = "push",
	[AUDIT_DELIVER] = "deliver",
	[AUDIT_CONSENT_GRANT] = "consent.grant",
	[AUDIT_CONSENT_REVOKE] = "consent.revoke",
	[AUDIT_LINK] = "link",
	[AUDIT_OBJECTION] = "objection",
	[AUDIT_CONFIG_RELOAD] = "config.reload",
	[AUDIT_ADMIN] = "admin",
	[AUDIT_ERASURE] = "erasure",
	[AUDIT_LINK_DELETE] = "link.delete",
	[AUDIT_MANDATE_GRANT] = "mandate.grant",
	[AUDIT_MANDATE_REVOKE] = "mandate.revoke",
	[AUDIT_ACCESS_LOG_READ] = "access_log.read",
};

static const char *const audit_decision_names[] = {
	[AUDIT_ALLOW] = "allow",
	[AUDIT_DENY] = "deny",
};

const char *
audit_type_name(enum audit_type type)
{
	if ((size_t)type >= sizeof(audit_type_names) / sizeof(audit_type_names[0]))
		return NULL;
	return audit_type_names[type];
}

const char *
audit_decision_name(enum audit_decision decision)
{
	if ((size_t)decision >= sizeof(audit_decision_names) /
	    sizeof(audit_decision_names[0]))
		return NULL;
	return audit_decision_names[decision];
}

/* An entry's commitments: a fresh nonce and, under the subject's view key,
 * the commitments to the subject, the consent, the payload and the act
 * under a mandate; NULL where the entry has none. */
struct audit_commits {
	char b64[5][COMMITMENT_B64_LEN];
	const char *nonce, *subject, *consent, *payload, *on_behalf;
};

/* The value an act under a mandate commits to: the mandate id and the
 * helper id (empty when the act named none), joined by a newline, which
 * neither holds. 0, or -1 when it does not fit. */
static int
audit_mandate_value(const struct audit_entry *e, char *buf, size_t len)
{
	const char *helper = e->helper != NULL ? e->helper : "";
	int n = snprintf(buf, len, "%s\n%s", e->mandate, helper);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* The commitments of an entry about a subject; entries about no subject
 * have them null. An act under a mandate also commits to the mandate and
 * its helper (`on_behalf`), a member the others do not have, so that
 * their format stays that of contract §5. 0, or -1. */
static int
audit_commitments(struct audit_commits *c, const struct audit_entry *e)
{
	char act[AUDIT_MANDATE_VALUE_MAX];
	unsigned char nonce[COMMITMENT_NONCE_LEN];
	struct commitment_key k;
	int bad = 0;

	*c = (struct audit_commits){ 0 };
	if (e->subject == NULL)
		return 0;
	if (e->view_key == NULL || rand_id_bytes(nonce, sizeof(nonce)) != 0 ||
	    commitment_key_init(&k, e->view_key) != 0)
		return -1;
	encode_base64(nonce, sizeof(nonce), c->b64[0]);
	c->nonce = c->b64[0];
	bad |= commitment_key_make(&k, COMMITMENT_SUBJECT, nonce, "", 0,
	    c->b64[1]);
	c->subject = c->b64[1];
	if (e->consent != NULL) {
		bad |= commitment_key_make(&k, COMMITMENT_CONSENT, nonce,
		    e->consent, strlen(e->consent), c->b64[2]);
		c->consent = c->b64[2];
	}
	if (e->payload != NULL) {
		bad |= commitment_key_make(&k, COMMITMENT_PAYLOAD, nonce,
		    e->payload, strlen(e->payload), c->b64[3]);
		c->payload = c->b64[3];
	}
	if (e->mandate != NULL) {
		bad |= audit_mandate_value(e, act, sizeof(act));
		bad |= commitment_key_make(&k, COMMITMENT_MANDATE, nonce, act,
		    strlen(act), c->b64[4]);
		c->on_behalf = c->b64[4];
	}
	commitment_key_clear(&k);
	return bad ? -1 : 0;
}

/* One member, the name given in JCS form and in JCS order. */
static void
audit_member(struct jcs_buf *b, const char *name, const char *value)
{
	jcs_buf_raw(b, name);
	jcs_buf_string(b, value);
}

/* Written member by member in JCS order rather than built as a json_t
 * and sorted: every request writes one. */
char *
audit_entry_json(const struct audit_entry *e)
{
	char ts[CLOCK_RFC3339_LEN];
	struct audit_commits c;
	struct jcs_buf b = { 0 };

	if (audit_commitments(&c, e) != 0)
		return NULL;
	clock_format_rfc3339_s(e->ts_ms != 0 ? e->ts_ms : clock_now_ms(), ts);
	jcs_buf_raw(&b, "{\"attributes\":");
	if (e->attributes != NULL) {
		jcs_buf_raw(&b, "[");
		for (size_t i = 0; i < e->nattributes; i++) {
			if (e->attributes[i] == NULL)
				b.failed = 1;
			jcs_buf_raw(&b, i > 0 ? "," : "");
			jcs_buf_string(&b, e->attributes[i]);
		}
		jcs_buf_raw(&b, "]");
	} else {
		jcs_buf_raw(&b, "null");
	}
	audit_member(&b, ",\"basis\":", e->basis);
	audit_member(&b, ",\"consent\":", c.consent);
	audit_member(&b, ",\"consumer\":", e->consumer);
	audit_member(&b, ",\"dataset\":", e->dataset);
	audit_member(&b, ",\"decision\":", audit_decision_name(e->decision));
	audit_member(&b, ",\"nonce\":", c.nonce);
	if (c.on_behalf != NULL)
		audit_member(&b, ",\"on_behalf\":", c.on_behalf);
	audit_member(&b, ",\"payload\":", c.payload);
	audit_member(&b, ",\"policy\":", e->policy);
	audit_member(&b, ",\"provider\":", e->provider);
	audit_member(&b, ",\"purpose\":", e->purpose);
	audit_member(&b, ",\"reason\":", e->reason);
	audit_member(&b, ",\"request_id\":", e->request_id);
	audit_member(&b, ",\"subject\":", c.subject);
	audit_member(&b, ",\"ts\":", ts);
	audit_member(&b, ",\"type\":", audit_type_name(e->type));
	jcs_buf_raw(&b, "}");
	explicit_bzero(&c, sizeof(c));
	return jcs_buf_take(&b);
}

/* Whether an entry is of the format this version writes: entries of
 * earlier versions had no nonce and carried the pseudonym in clear. */
static int
audit_entry_current(const char *json, size_t len)
{
	json_t *o = json_loadb(json, len, 0, NULL);
	int current = json_object_get(o, "nonce") != NULL &&
	    json_object_get(o, "payload_sha256") == NULL;

	json_decref(o);
	return current;
}

/* The length of the entry at off in a bundle, or 0 at the end or at a torn
 * or malformed entry. Entries are JSON objects, so a zeroed or cut tail
 * never passes. */
size_t
audit_bundle_next(const unsigned char *b, size_t len, size_t off)
{
	size_t n;

	if (off + 2 > len)
		return 0;
	n = (size_t)b[off] << 8 | b[off + 1];
	if (n < 2 || off + 2 + n > len || b[off + 2] != '{' ||
	    b[off + 2 + n - 1] != '}')
		return 0;
	return n;
}

/* ---- the tree ------------------------------------------------------- */

/* Full tiles of `level` in a tree of `size` leaves. */
uint64_t
audit_full_tiles(uint64_t size, unsigned level)
{
	unsigned shift = (level + 1) * MERKLE_TILE_HEIGHT;

	return shift >= 64 ? 0 : size >> shift;
}

static int
audit_read_tile_hashes(struct audit *a, unsigned level, uint64_t tile,
    unsigned pos, unsigned count, merkle_hash *out)
{
	char path[MERKLE_TILE_PATH_LEN];
	ssize_t n;
	int fd;

	merkle_tile_path(path, (int)level, tile, 0);
	fd = openat(a->dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	n = pread(fd, out, (size_t)count * MERKLE_HASH_LEN,
	    (off_t)pos * MERKLE_HASH_LEN);
	close(fd);
	return n == (ssize_t)count * MERKLE_HASH_LEN ? 0 : -1;
}

/* merkle_read_fn over the tiles: full ones on disk, the incomplete ones in
 * memory. Called with tmu held (or before the sequencer starts). */
static int
audit_node(void *ctx, unsigned level, uint64_t index, merkle_hash out)
{
	struct audit *a = ctx;
	unsigned tl = level / MERKLE_TILE_HEIGHT, r = level % MERKLE_TILE_HEIGHT;
	unsigned count = 1u << r, pos;
	merkle_hash hashes[MERKLE_TILE_WIDTH / 2];
	uint64_t first, tile;

	if (tl >= MERKLE_TILE_LEVELS || index > (UINT64_MAX >> level))
		return -1;
	first = index << r;
	tile = first / MERKLE_TILE_WIDTH;
	pos = (unsigned)(first % MERKLE_TILE_WIDTH);
	if (tile < audit_full_tiles(a->tree->size, tl)) {
		if (audit_read_tile_hashes(a, tl, tile, pos, count, hashes) != 0)
			return -1;
	} else if (tile == audit_full_tiles(a->tree->size, tl) &&
	    pos + count <= merkle_tile_width(a->tree->size, tl)) {
		memcpy(hashes, a->tree->tile[tl][pos], (size_t)count * MERKLE_HASH_LEN);
	} else {
		return -1;
	}
	merkle_perfect_root((const merkle_hash *)hashes, count, out);
	return 0;
}

/* A tile (or the bundle) filled: write it, then drop its partial copies. */
static int
audit_tile_full(void *arg, unsigned level, uint64_t index,
    const merkle_hash hashes[MERKLE_TILE_WIDTH])
{
	struct audit *a = arg;
	char path[MERKLE_TILE_PATH_LEN];

	merkle_tile_path(path, (int)level, index, 0);
	if (audit_put(a, path, hashes, MERKLE_TILE_BYTES) != 0) {
		log_error("audit: cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	audit_remove_partials(a, path);
	return 0;
}

static int
audit_bundle_full(struct audit *a, uint64_t index)
{
	char path[MERKLE_TILE_PATH_LEN];

	merkle_tile_path(path, MERKLE_TILE_ENTRIES, index, 0);
	if (audit_put(a, path, a->bundle, a->bundle_len) != 0) {
		log_error("audit: cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	audit_remove_partials(a, path);
	return 0;
}

/* Writes zeros over [from, to) of the journal. Overwriting blocks that
 * already hold data lets fdatasync skip the metadata commit that growing
 * the file costs; a zero length prefix marks the end of the entries. */
static int
audit_journal_zero(int fd, off_t from, off_t to)
{
	static const unsigned char zeros[65536];

	for (off_t off = from; off < to; off += (off_t)sizeof(zeros)) {
		size_t n = to - off < (off_t)sizeof(zeros) ? (size_t)(to - off) :
		    sizeof(zeros);

		if (audit_write_all(fd, zeros, n, off) != 0)
			return -1;
	}
	return 0;
}

/* A new journal under its temporary name, holding zeros over its header
 * and first chunk; durable with the next fdatasync or syncfs. Its fd, or
 * -1. */
static int
audit_journal_create(struct audit *a)
{
	int fd = openat(a->dirfd, AUDIT_JOURNAL ".tmp",
	    O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd == -1)
		return -1;
	if (audit_journal_zero(fd, 0, AUDIT_JOURNAL_HDR + AUDIT_JOURNAL_CHUNK) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Puts fd (from audit_journal_create, its entries written from
 * AUDIT_JOURNAL_HDR up to end) in place as the journal of the entries
 * from `bundle` * 256 on: a crash leaves the old journal or the new one.
 * Takes fd, also on failure (-1). */
static int
audit_journal_install(struct audit *a, int fd, uint64_t bundle, off_t end)
{
	unsigned char hdr[AUDIT_JOURNAL_HDR];

	for (int i = 0; i < AUDIT_JOURNAL_HDR; i++)
		hdr[i] = (unsigned char)(bundle >> (56 - 8 * i));
	if (audit_write_all(fd, hdr, sizeof(hdr), 0) != 0 ||
	    fdatasync(fd) != 0 ||
	    renameat(a->dirfd, AUDIT_JOURNAL ".tmp", a->dirfd, AUDIT_JOURNAL) != 0 ||
	    audit_fsync_root(a) != 0) {
		close(fd);
		return -1;
	}
	/* Its last close drops the replaced journal's blocks and pages, some
	 * 10 ms for the 70 MB a second of appends at 64 writers write: the
	 * next syncer does it, off the sequencer. */
	if (a->journal_retired != -1)
		close(a->journal_retired);
	a->journal_retired = a->journalfd;
	a->journalfd = fd;
	a->journal_end = end;
	a->journal_alloc = end > AUDIT_JOURNAL_HDR + AUDIT_JOURNAL_CHUNK ? end :
	    AUDIT_JOURNAL_HDR + AUDIT_JOURNAL_CHUNK;
	return 0;
}

/* Starts a new journal at the incomplete bundle, once everything before
 * it is durable in bundles and tiles. */
static int
audit_journal_start(struct audit *a)
{
	int fd = audit_journal_create(a);

	if (fd == -1)
		return -1;
	if (audit_write_all(fd, a->bundle, a->bundle_len, AUDIT_JOURNAL_HDR) != 0) {
		close(fd);
		return -1;
	}
	return audit_journal_install(a, fd, a->tree->size / MERKLE_TILE_WIDTH,
	    (off_t)(AUDIT_JOURNAL_HDR + a->bundle_len));
}

/* Starts fd (from audit_journal_create, made durable since) as the journal
 * of the entries from `bundle` * 256 on, which the current journal holds
 * from offset `from`: those appended since the sync began too. Takes fd. */
static int
audit_journal_restart(struct audit *a, int fd, uint64_t bundle, off_t from)
{
	unsigned char buf[65536];
	off_t out = AUDIT_JOURNAL_HDR;

	while (from < a->journal_end) {
		size_t want = a->journal_end - from < (off_t)sizeof(buf) ?
		    (size_t)(a->journal_end - from) : sizeof(buf);
		ssize_t n = pread(a->journalfd, buf, want, from);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0 || audit_write_all(fd, buf, (size_t)n, out) != 0) {
			close(fd);
			return -1;
		}
		from += n;
		out += n;
	}
	return audit_journal_install(a, fd, bundle, out);
}

/* Makes every bundle and tile written so far durable, then lets the
 * journal forget the entries they hold. */
static int
audit_sync(struct audit *a)
{
	if (syncfs(a->dirfd) != 0 || audit_journal_start(a) != 0) {
		log_error("audit: cannot sync %s: %s", a->dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- the sequencer -------------------------------------------------- */

static void
audit_req_free(struct audit_req *q)
{
	free(q->json);
	free(q->subject);
	free(q->mandate);
	free(q->mediator);
	free(q->helper);
	free(q);
}

/* The pending count of base's loop, under qmu; NULL when out of memory. */
static size_t *
audit_loop_pending(struct audit *a, struct event_base *base)
{
	struct audit_loop *grown;

	for (size_t i = 0; i < a->nloops; i++)
		if (a->loops[i].base == base)
			return &a->loops[i].pending;
	grown = reallocarray(a->loops, a->nloops + 1, sizeof(*grown));
	if (grown == NULL)
		return NULL;
	a->loops = grown;
	a->loops[a->nloops] = (struct audit_loop){ base, 0 };
	return &a->loops[a->nloops++].pending;
}

static void
audit_loop_count(struct audit *a, struct event_base *base, int delta)
{
	size_t *pending;

	pthread_mutex_lock(&a->qmu);
	if ((pending = audit_loop_pending(a, base)) != NULL)
		*pending += (size_t)delta;
	pthread_mutex_unlock(&a->qmu);
}

size_t
audit_pending(struct audit *a, struct event_base *base)
{
	size_t *pending, n;

	pthread_mutex_lock(&a->qmu);
	pending = audit_loop_pending(a, base);
	n = pending != NULL ? *pending : 0;
	pthread_mutex_unlock(&a->qmu);
	return n;
}

static void
audit_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct audit_req *q = arg;

	q->done(q->status, q->index, q->arg);
	if (q->base != NULL)
		audit_loop_count(q->audit, q->base, -1);
	audit_req_free(q);
}

/* Runs done on the appender's loop (or here when it has none). */
static void
audit_complete(struct audit_req *q, int status)
{
	q->status = status;
	if (q->base == NULL) {
		audit_deliver(-1, 0, q);
		return;
	}
	if (event_base_once(q->base, -1, EV_TIMEOUT, audit_deliver, q, NULL) != 0) {
		log_error("audit: cannot notify the appender of entry %llu",
		    (unsigned long long)q->index);
		audit_loop_count(q->audit, q->base, -1);
		audit_req_free(q);
	}
}

static void
audit_complete_each(struct audit_req *q, int status)
{
	struct audit_req *next;

	for (; q != NULL; q = next) {
		next = q->next;
		audit_complete(q, status);
	}
}

/* Runs the completions of one loop, in the order they were appended. */
static void
audit_deliver_list(evutil_socket_t fd, short what, void *arg)
{
	struct audit_req *q = arg, *next;
	struct audit *a = q->audit;
	struct event_base *base = q->base;
	int n = 0;

	for (; q != NULL; q = next) {
		next = q->next;
		q->done(q->status, q->index, q->arg);
		audit_req_free(q);
		n++;
	}
	audit_loop_count(a, base, -n);
}

/* Completes a written batch: one callback per loop that appended to it,
 * not one per entry, so that a worker is woken once per batch. */
void
audit_complete_batch(struct audit_req *batch, int status)
{
	while (batch != NULL) {
		struct audit_req *mine = NULL, **tail = &mine, *rest = NULL,
		    **rest_tail = &rest, *q;
		struct event_base *base = batch->base;

		while ((q = batch) != NULL) {
			batch = q->next;
			q->next = NULL;
			q->status = status;
			if (q->base == base) {
				*tail = q;
				tail = &q->next;
			} else {
				*rest_tail = q;
				rest_tail = &q->next;
			}
		}
		batch = rest;
		if (base == NULL || event_base_once(base, -1, EV_TIMEOUT,
		    audit_deliver_list, mine, NULL) != 0)
			audit_complete_each(mine, status);
	}
}

/* Adds one durable entry to the bundle and the tree, writing the bundle
 * and the tiles it fills. Called with tmu held (or before the sequencer
 * starts). */
int
audit_add_entry(struct audit *a, const unsigned char *json, size_t len)
{
	uint64_t index = a->tree->size;
	merkle_hash leaf;

	a->bundle[a->bundle_len++] = (unsigned char)(len >> 8);
	a->bundle[a->bundle_len++] = (unsigned char)len;
	memcpy(a->bundle + a->bundle_len, json, len);
	a->bundle_len += len;
	merkle_leaf_hash(json, len, leaf);
	/* Entries first: a hash tile never exists without its bundle. */
	if (index % MERKLE_TILE_WIDTH == MERKLE_TILE_WIDTH - 1) {
		if (audit_bundle_full(a, index / MERKLE_TILE_WIDTH) != 0)
			return -1;
		a->bundle_len = 0;
	}
	return merkle_tiles_append(a->tree, leaf, audit_tile_full, a);
}

/* Appends the batch to the journal in one write and one fdatasync. */
static int
audit_journal_append(struct audit *a, struct audit_req *batch)
{
	size_t len = 0, off = 0;

	for (struct audit_req *q = batch; q != NULL; q = q->next)
		len += 2 + q->len;
	if (len > a->scratch_cap) {
		unsigned char *p = realloc(a->scratch, len);

		if (p == NULL)
			return -1;
		a->scratch = p;
		a->scratch_cap = len;
	}
	for (struct audit_req *q = batch; q != NULL; q = q->next) {
		a->scratch[off++] = (unsigned char)(q->len >> 8);
		a->scratch[off++] = (unsigned char)q->len;
		memcpy(a->scratch + off, q->json, q->len);
		off += q->len;
	}
	if (a->journal_end + (off_t)len > a->journal_alloc) {
		off_t to = a->journal_end + (off_t)len + AUDIT_JOURNAL_CHUNK;

		if (audit_journal_zero(a->journalfd, a->journal_alloc, to) != 0) {
			log_error("audit: cannot grow the journal: %s",
			    strerror(errno));
			return -1;
		}
		a->journal_alloc = to;
	}
	if (audit_write_all(a->journalfd, a->scratch, len, a->journal_end) != 0 ||
	    fdatasync(a->journalfd) != 0) {
		log_error("audit: cannot write the journal: %s", strerror(errno));
		return -1;
	}
	a->journal_end += (off_t)len;
	return 0;
}

/* Hands the hook the batch's entries about a subject in one call; 0, or
 * -1 when they could not be indexed. */
static int
audit_index_batch(const struct audit_req *batch, audit_index_fn hook, void *arg)
{
	struct audit_indexed *rows;
	size_t n = 0;
	int rc;

	for (const struct audit_req *q = batch; q != NULL; q = q->next)
		n += q->subject != NULL;
	if (n == 0)
		return 0;
	if ((rows = calloc(n, sizeof(*rows))) == NULL)
		return -1;
	n = 0;
	for (const struct audit_req *q = batch; q != NULL; q = q->next) {
		if (q->subject == NULL)
			continue;
		rows[n++] = (struct audit_indexed){ q->subject, q->index,
		    q->mandate, q->mediator, q->helper };
	}
	rc = hook(rows, n, arg);
	free(rows);
	return rc;
}

static void
audit_write_batch(struct audit *a, struct audit_req *batch)
{
	audit_index_fn hook;
	void *hook_arg;
	uint64_t next = a->tree->size;   /* only this thread grows the tree */
	int rc;

	for (struct audit_req *q = batch; q != NULL; q = q->next)
		q->index = next++;
	pthread_mutex_lock(&a->qmu);
	hook = a->hook;
	hook_arg = a->hook_arg;
	pthread_mutex_unlock(&a->qmu);
	/* The index first: no crash can leave an entry that the access log
	 * does not find, and an access log read after a reply shows it. A
	 * batch the store could not index is not written: its appends fail
	 * (their requests answer 503), the log itself stays up. */
	if (atomic_load(&a->failed)) {
		rc = -1;
	} else if (hook != NULL && audit_index_batch(batch, hook, hook_arg) != 0) {
		log_ratelimited(LOG_LEVEL_ERROR, "audit: the access index could "
		    "not take a batch; its %s refused", batch->next != NULL ?
		    "entries are" : "entry is");
		rc = -1;
		goto complete;
	} else {
		rc = audit_journal_append(a, batch);
	}
	if (rc == 0) {
		pthread_mutex_lock(&a->tmu);
		for (struct audit_req *q = batch; q != NULL && rc == 0; q = q->next)
			rc = audit_add_entry(a, (unsigned char *)q->json, q->len);
		if (rc == 0)
			a->size = a->tree->size;
		pthread_mutex_unlock(&a->tmu);
	}
	if (rc == 0 && a->journal_end > AUDIT_JOURNAL_MAX && !a->syncing)
		rc = audit_sync(a);
	/* The tree may now disagree with the disk: take nothing more until
	 * audit_retry has rebuilt it from the files (the journal still has
	 * every entry acknowledged). */
	if (rc != 0)
		atomic_store(&a->failed, 1);
complete:
	audit_complete_batch(batch, rc);
}

/* Logs why relpath could not be written, with errno; returns -1 for the
 * caller to return. */
static int
audit_write_failed(const char *relpath)
{
	log_error("audit: cannot write %s: %s", relpath, strerror(errno));
	return -1;
}

/* Tells the checkpoint hook, once the checkpoint is durable in place: what
 * it remembers is never ahead of the directory. */
static void
audit_published(struct audit *a, uint64_t size, const merkle_hash root)
{
	struct audit_head head = { .size = size };
	audit_checkpoint_fn fn;
	void *arg;

	pthread_mutex_lock(&a->qmu);
	fn = a->cp_hook;
	arg = a->cp_hook_arg;
	pthread_mutex_unlock(&a->qmu);
	if (fn == NULL)
		return;
	memcpy(head.root, root, MERKLE_HASH_LEN);
	fn(a->origin, &head, arg);
}

/* Writes the partial tiles and the partial bundle a checkpoint of the
 * tree's size needs. 0 or -1 (logged). */
int
audit_put_partials(struct audit *a)
{
	uint64_t size = a->tree->size;
	char path[MERKLE_TILE_PATH_LEN];
	unsigned w;

	for (unsigned l = 0; l < MERKLE_TILE_LEVELS; l++) {
		if ((w = merkle_tile_width(size, l)) == 0)
			continue;
		merkle_tile_path(path, (int)l, audit_full_tiles(size, l), w);
		/* A tile of a given width never changes: write it once, and
		 * again when the one on disk is not it (torn, altered). */
		if (a->seq_store == NULL && audit_file_is(a, path,
		    a->tree->tile[l], (size_t)w * MERKLE_HASH_LEN))
			continue;
		if (audit_put(a, path, a->tree->tile[l],
		    (size_t)w * MERKLE_HASH_LEN) != 0)
			return audit_write_failed(path);
	}
	if ((w = merkle_tile_width(size, 0)) != 0) {
		merkle_tile_path(path, MERKLE_TILE_ENTRIES, size / MERKLE_TILE_WIDTH, w);
		if (audit_put(a, path, a->bundle, a->bundle_len) != 0)
			return audit_write_failed(path);
	}
	return 0;
}

/* The signed checkpoint of the tree, and its root; NULL (logged) when
 * signing failed. */
char *
audit_sign(struct audit *a, merkle_hash root)
{
	char *note;

	merkle_tiles_root(a->tree, root);
	if ((note = checkpoint_sign(a->keys, a->nkeys, a->origin, a->tree->size,
	    root)) == NULL)
		log_error("audit: cannot sign a checkpoint");
	return note;
}

/* The checkpoint readers see from now on; takes note. */
void
audit_set_checkpoint(struct audit *a, char *note, uint64_t size,
    const merkle_hash root)
{
	pthread_mutex_lock(&a->tmu);
	free(a->checkpoint);
	a->checkpoint = note;
	a->checkpoint_size = size;
	memcpy(a->checkpoint_root, root, MERKLE_HASH_LEN);
	a->checkpoint_ms = clock_now_ms();
	if (a->size < size)
		a->size = size;
	pthread_mutex_unlock(&a->tmu);
}

/* Writes the current size's partial tiles and its signed checkpoint, as
 * checkpoint.tmp, with root set to the tree's; the note (the caller
 * frees it), or NULL (logged). */
static char *
audit_checkpoint_stage(struct audit *a, merkle_hash root)
{
	char *note;

	if (audit_put_partials(a) != 0 || (note = audit_sign(a, root)) == NULL)
		return NULL;
	if (audit_file_put(a->dirfd, AUDIT_CHECKPOINT_TMP, note,
	    strlen(note)) != 0) {
		audit_write_failed(AUDIT_CHECKPOINT_TMP);
		free(note);
		return NULL;
	}
	return note;
}

/* Writes the partial tiles a checkpoint of the current size needs, makes
 * everything durable, then renames the signed checkpoint into place.
 * Sequencer thread (or open) only. */
static int
audit_publish(struct audit *a)
{
	uint64_t size = a->size;
	merkle_hash root;
	char *note;

	if ((note = audit_checkpoint_stage(a, root)) == NULL)
		return -1;
	if (audit_sync(a) != 0 ||
	    renameat(a->dirfd, AUDIT_CHECKPOINT_TMP, a->dirfd,
	    AUDIT_CHECKPOINT) != 0 || audit_fsync_root(a) != 0) {
		audit_write_failed(AUDIT_CHECKPOINT_TMP);
		free(note);
		return -1;
	}
	audit_set_checkpoint(a, note, size, root);
	audit_published(a, size, root);
	return 0;
}

/* The syncer: makes everything written so far durable (the checkpoint's
 * tiles, checkpoint.tmp, the next journal's zeros) with one syncfs, then
 * renames the checkpoint into place. The sequencer writes on meanwhile:
 * the syncfs took some 10 ms, and held every append waiting for it. */
static void *
audit_syncer(void *arg)
{
	struct audit *a = arg;
	int spare, rc = 0;

	if (a->journal_retired != -1) {
		close(a->journal_retired);
		a->journal_retired = -1;
	}
	spare = audit_journal_create(a);

	if (spare == -1 || syncfs(a->dirfd) != 0 ||
	    renameat(a->dirfd, AUDIT_CHECKPOINT_TMP, a->dirfd,
	    AUDIT_CHECKPOINT) != 0 || audit_fsync_root(a) != 0) {
		log_error("audit: cannot sync %s: %s", a->dir, strerror(errno));
		rc = -1;
	}
	pthread_mutex_lock(&a->qmu);
	a->sync_spare = spare;
	a->sync_rc = rc;
	a->synced = 1;
	pthread_cond_signal(&a->qcond);
	pthread_mutex_unlock(&a->qmu);
	return NULL;
}

/* Starts publishing a checkpoint of the current size: writes its partial
 * tiles and checkpoint.tmp, and leaves the sync and the rename to the
 * syncer. Sequencer thread, with no sync under way. 0 or -1 (logged). */
static int
audit_publish_begin(struct audit *a)
{
	char *note;

	if ((note = audit_checkpoint_stage(a, a->sync_root)) == NULL)
		return -1;
	a->sync_note = note;
	a->sync_size = a->size;
	a->sync_from = a->journal_end - (off_t)a->bundle_len;
	a->synced = 0;
	if (pthread_create(&a->syncer, NULL, audit_syncer, a) != 0) {
		log_error("audit: cannot start a sync");
		a->sync_note = NULL;
		free(note);
		return -1;
	}
	pthread_setname_np(a->syncer, "audit-sync");
	a->syncing = 1;
	return 0;
}

/* Whether the syncer is done (its outcome waits for audit_publish_end). */
static int
audit_sync_done(struct audit *a)
{
	int done;

	if (!a->syncing)
		return 0;
	pthread_mutex_lock(&a->qmu);
	done = a->synced;
	pthread_mutex_unlock(&a->qmu);
	return done;
}

/* Waits for the syncer, then makes its checkpoint the one readers see and
 * starts the journal over at the checkpoint's incomplete bundle: what the
 * sync made durable is in tiles. A log that failed meanwhile keeps its
 * journal for the retry. Sequencer thread. 0 or -1 (logged). */
static int
audit_publish_end(struct audit *a)
{
	uint64_t size = a->sync_size;
	int spare, rc;

	if (!a->syncing)
		return 0;
	pthread_join(a->syncer, NULL);
	a->syncing = a->synced = 0;
	spare = a->sync_spare;
	rc = a->sync_rc;
	if (rc != 0) {
		free(a->sync_note);
		a->sync_note = NULL;
		if (spare != -1)
			close(spare);
		return -1;
	}
	audit_set_checkpoint(a, a->sync_note, size, a->sync_root);
	a->sync_note = NULL;
	audit_published(a, size, a->sync_root);
	if (atomic_load(&a->failed)) {
		close(spare);
		return 0;
	}
	if (audit_journal_restart(a, spare, size / MERKLE_TILE_WIDTH,
	    a->sync_from) != 0) {
		log_error("audit: cannot start a new journal in %s: %s", a->dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

void
audit_deadline(struct timespec *ts, int64_t mono_ms)
{
	ts->tv_sec = (time_t)(mono_ms / 1000);
	ts->tv_nsec = (long)(mono_ms % 1000) * 1000000;
}

static int audit_recover(struct audit *a, char *err, size_t errlen);
static int audit_check_checkpoint(struct audit *a, char *err, size_t errlen);

/* A failed write left the tree in memory out of step with the disk (or
 * a descriptor, a disk block was missing for a moment). Rebuilds the tree
 * from the files as a start does, checks it against the last checkpoint
 * and signs a new one; the log takes entries again once all of that
 * worked, so a passing fault needs no restart. Sequencer thread only. */
static void
audit_retry(struct audit *a)
{
	char err[512] = "";
	int rc;

	pthread_mutex_lock(&a->tmu);
	merkle_tiles_init(a->tree);
	a->bundle_len = 0;
	rc = audit_recover(a, err, sizeof(err)) == 0 &&
	    audit_check_checkpoint(a, err, sizeof(err)) == 0 ? 0 : -1;
	pthread_mutex_unlock(&a->tmu);
	if (rc == 0 && audit_publish(a) != 0)
		rc = -1;
	if (rc != 0) {
		log_ratelimited(LOG_LEVEL_ERROR, "audit: still failing%s%s; "
		    "retrying in %d ms", err[0] ? ": " : "", err, AUDIT_RETRY_MS);
		return;
	}
	atomic_store(&a->failed, 0);
	log_warn("audit: recovered with %llu entries; taking entries again",
	    (unsigned long long)a->size);
}

/* Takes every append waiting, and whether the log is stopping; called
 * with qmu held, returns with it released. */
struct audit_req *
audit_take(struct audit *a, int *stop)
{
	struct audit_req *batch = a->head;

	a->head = NULL;
	a->tail = &a->head;
	*stop = a->stopping;
	pthread_mutex_unlock(&a->qmu);
	return batch;
}

/* Takes qmu back; whether the sequencer ends: stopping, and nothing was
 * in this turn or came since. */
int
audit_done(struct audit *a, int stop, const struct audit_req *batch)
{
	pthread_mutex_lock(&a->qmu);
	return stop && a->head == NULL && batch == NULL;
}

/* Called with qmu held when the sequencer woke for a single entry: the
 * append that woke it preempted its worker, most likely in the middle of
 * a loop turn with more entries to come. Handing the core back once lets
 * them join this batch (sched_yield returns at once on an idle core), so
 * one fdatasync and one index commit (on a shared log, one statement)
 * serve several entries. */
void
audit_let_appenders_run(struct audit *a)
{
	if (a->head == NULL || a->head->next != NULL || a->stopping)
		return;
	pthread_mutex_unlock(&a->qmu);
	sched_yield();
	pthread_mutex_lock(&a->qmu);
}

/* The sequencer's checkpoint work in one turn: the end of a publish under
 * way, and the start of the next one when due. The last one, as the log
 * stops, is published in line. */
static void
audit_checkpoint_turn(struct audit *a, int last, int64_t *next_cp)
{
	if ((audit_sync_done(a) || last) && audit_publish_end(a) != 0)
		atomic_store(&a->failed, 1);
	if (a->size <= a->checkpoint_size || atomic_load(&a->failed) ||
	    a->syncing || (clock_mono_ms() < *next_cp && !last))
		return;
	if ((last ? audit_publish(a) : audit_publish_begin(a)) != 0)
		atomic_store(&a->failed, 1);
	*next_cp = clock_mono_ms() + a->interval_ms;
}

static void *
audit_run(void *arg)
{
	struct audit *a = arg;
	int64_t next_cp = clock_mono_ms() + a->interval_ms, retry_at = 0;
	struct audit_req *batch;
	struct timespec ts;
	int stop;

	pthread_mutex_lock(&a->qmu);
	for (;;) {
		while (a->head == NULL && !a->stopping && !a->synced) {
			int grew = a->size > a->checkpoint_size &&
			    !atomic_load(&a->failed);

			if (a->syncing) {
				pthread_cond_wait(&a->qcond, &a->qmu);
				continue;
			}
			if (retry_at != 0) {
				if (clock_mono_ms() >= retry_at)
					break;
				audit_deadline(&ts, retry_at);
				pthread_cond_timedwait(&a->qcond, &a->qmu, &ts);
				continue;
			}
			if (!grew) {
				pthread_cond_wait(&a->qcond, &a->qmu);
				continue;
			}
			if (clock_mono_ms() >= next_cp)
				break;
			audit_deadline(&ts, next_cp);
			pthread_cond_timedwait(&a->qcond, &a->qmu, &ts);
		}
		audit_let_appenders_run(a);
		batch = audit_take(a, &stop);

		if (batch != NULL)
			audit_write_batch(a, batch);
		audit_checkpoint_turn(a, stop && batch == NULL, &next_cp);
		if (!atomic_load(&a->failed)) {
			retry_at = 0;
		} else if (retry_at == 0) {
			retry_at = clock_mono_ms() + AUDIT_RETRY_MS;
		} else if (!stop && !a->syncing && clock_mono_ms() >= retry_at) {
			audit_retry(a);
			retry_at = atomic_load(&a->failed) ?
			    clock_mono_ms() + AUDIT_RETRY_MS : 0;
			next_cp = clock_mono_ms() + a->interval_ms;
		}

		if (audit_done(a, stop, batch))
			break;
	}
	pthread_mutex_unlock(&a->qmu);
	return NULL;
}

/* Copies what the index hook needs of an entry about a subject. 0, or -1
 * when out of memory. */
static int
audit_req_index_copies(struct audit_req *q, const struct audit_entry *e)
{
	if (e->subject == NULL)
		return 0;
	if ((q->subject = strdup(e->subject)) == NULL)
		return -1;
	if (e->mediator == NULL)
		return 0;
	q->mediator = strdup(e->mediator);
	q->mandate = e->mandate != NULL ? strdup(e->mandate) : NULL;
	q->helper = e->helper != NULL ? strdup(e->helper) : NULL;
	return q->mediator == NULL || (e->mandate != NULL && q->mandate == NULL) ||
	    (e->helper != NULL && q->helper == NULL) ? -1 : 0;
}

static void
audit_enqueue(struct audit *a, const struct audit_entry *e,
    struct event_base *base, audit_done_fn done, void *arg)
{
	struct audit_req *q = calloc(1, sizeof(*q));
	int refuse;

	if (q == NULL) {
		/* Without a request there is no way to defer the answer. */
		log_error("audit: out of memory");
		done(-1, 0, arg);
		return;
	}
	q->audit = a;
	q->base = base;
	q->done = done;
	q->arg = arg;
	/* Counted before any way to complete: the appender's loop must not
	 * end while a completion may still be posted to it. */
	if (base != NULL)
		audit_loop_count(a, base, 1);
	q->json = audit_entry_json(e);
	if (q->json != NULL)
		q->len = strlen(q->json);
	refuse = q->json == NULL || q->len > AUDIT_ENTRY_MAX ||
	    audit_req_index_copies(q, e) != 0;
	if (refuse)
		log_ratelimited(LOG_LEVEL_ERROR, "audit: entry refused (%s)",
		    q->json == NULL ? "not valid UTF-8, a subject without its view "
		    "key, or out of memory" : "longer than 65535 bytes");
	pthread_mutex_lock(&a->qmu);
	if (!refuse && !a->stopping && !atomic_load(&a->failed)) {
		*a->tail = q;
		a->tail = &q->next;
		pthread_cond_signal(&a->qcond);
		q = NULL;
	}
	pthread_mutex_unlock(&a->qmu);
	if (q != NULL)
		audit_complete(q, -1);
}

void
audit_append_async(struct audit *a, const struct audit_entry *e,
    struct event_base *base, audit_done_fn done, void *arg)
{
	audit_enqueue(a, e, base, done, arg);
}

struct audit_wait {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int done;
	int status;
	uint64_t index;
};

static void
audit_wait_done(int status, uint64_t index, void *arg)
{
	struct audit_wait *w = arg;

	pthread_mutex_lock(&w->mu);
	w->done = 1;
	w->status = status;
	w->index = index;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

int
audit_append(struct audit *a, const struct audit_entry *e, uint64_t *index)
{
	struct audit_wait w = { .done = 0 };

	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cond, NULL);
	audit_enqueue(a, e, NULL, audit_wait_done, &w);
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.mu);
	pthread_mutex_unlock(&w.mu);
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.mu);
	if (w.status == 0 && index != NULL)
		*index = w.index;
	return w.status;
}

/* ---- recovery ------------------------------------------------------- */

/* Leaf hashes of a full bundle; 0 or -1. */
static int
audit_bundle_hashes(struct audit *a, uint64_t index,
    merkle_hash hashes[MERKLE_TILE_WIDTH])
{
	char path[MERKLE_TILE_PATH_LEN];
	unsigned char *b;
	size_t len, off = 0, n;
	unsigned i = 0;

	merkle_tile_path(path, MERKLE_TILE_ENTRIES, index, 0);
	if (audit_get(a, path, &b, &len) != 0)
		return -1;
	for (; i < MERKLE_TILE_WIDTH && (n = audit_bundle_next(b, len, off)) > 0;
	    i++, off += 2 + n)
		merkle_leaf_hash(b + off + 2, n, hashes[i]);
	free(b);
	return i == MERKLE_TILE_WIDTH && off == len ? 0 : -1;
}

static int audit_full_tile_root(struct audit *a, unsigned level,
    uint64_t index, int check, merkle_hash root);

/* The roots of the 256 full tiles of `level` from index `first`. */
static int
audit_children_roots(struct audit *a, unsigned level, uint64_t first,
    merkle_hash roots[MERKLE_TILE_WIDTH])
{
	for (unsigned i = 0; i < MERKLE_TILE_WIDTH; i++)
		if (audit_full_tile_root(a, level, first + i, 0, roots[i]) != 0)
			return -1;
	return 0;
}

/* The hashes of full tile (level, index) from the level below, and in the
 * end from its entries; 0, or -1 (logged) when the entries are not all
 * there: the tile cannot be told right, the log must not open. */
static int
audit_tile_rebuild(struct audit *a, unsigned level, uint64_t index,
    merkle_hash *hashes)
{
	char path[MERKLE_TILE_PATH_LEN];

	if (level > 0)
		return audit_children_roots(a, level - 1,
		    index * MERKLE_TILE_WIDTH, hashes);
	if (audit_bundle_hashes(a, index, hashes) == 0)
		return 0;
	merkle_tile_path(path, MERKLE_TILE_ENTRIES, index, 0);
	log_error("audit: %s/%s is missing or does not hold %d whole entries",
	    a->dir, path, MERKLE_TILE_WIDTH);
	return -1;
}

/* The root of full tile (level, index), rebuilding the tile if a crash
 * lost or tore it. With check (the tiles of the tree's right edge, that
 * every start reads), a level-0 tile is compared with its entries even
 * when whole: the entries are the truth, and a tile that disagrees is
 * rebuilt, a bundle that is gone refused. */
static int
audit_full_tile_root(struct audit *a, unsigned level, uint64_t index,
    int check, merkle_hash root)
{
	merkle_hash *hashes = malloc(MERKLE_TILE_BYTES);
	char path[MERKLE_TILE_PATH_LEN];
	unsigned char *data = NULL;
	size_t len = 0;
	int rc = -1, whole;

	if (hashes == NULL)
		return -1;
	merkle_tile_path(path, (int)level, index, 0);
	whole = audit_get(a, path, &data, &len) == 0 &&
	    len == MERKLE_TILE_BYTES;
	if (whole && !(check && level == 0)) {
		memcpy(hashes, data, MERKLE_TILE_BYTES);
	} else {
		if (audit_tile_rebuild(a, level, index, hashes) != 0)
			goto out;
		if (!whole || memcmp(hashes, data, MERKLE_TILE_BYTES) != 0) {
			log_warn("audit: rebuilding %s from the entries", path);
			if (audit_put(a, path, hashes, MERKLE_TILE_BYTES) != 0)
				goto out;
		}
	}
	merkle_perfect_root((const merkle_hash *)hashes, MERKLE_TILE_WIDTH, root);
	rc = 0;
out:
	free(data);
	free(hashes);
	return rc;
}

/* Like audit_bundle_next, but the entry must also parse: the tail of the
 * batch being written at a crash may hold any mix of old zeros and new
 * bytes. */
static size_t
audit_journal_next(const unsigned char *j, size_t len, size_t off)
{
	size_t n = audit_bundle_next(j, len, off);
	json_t *v;

	if (n == 0)
		return 0;
	v = json_loadb((const char *)j + off + 2, n, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(v))
		n = 0;
	json_decref(v);
	return n;
}

static int
audit_zeros(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* Restores the tree at `size` (a multiple of 256 entries): level L's
 * incomplete tile holds the roots of full tiles of level L - 1. */
int
audit_restore(struct audit *a, uint64_t size, char *err, size_t errlen)
{
	a->tree->size = size;
	for (unsigned l = 1; l < MERKLE_TILE_LEVELS; l++) {
		uint64_t first = audit_full_tiles(size, l) * MERKLE_TILE_WIDTH;

		for (unsigned i = 0; i < merkle_tile_width(size, l); i++)
			if (audit_full_tile_root(a, l - 1, first + i, 1,
			    a->tree->tile[l][i]) != 0) {
				snprintf(err, errlen, "the hash tiles of level %u "
				    "cannot be checked against their entries: "
				    "entries were lost; restore the audit directory "
				    "from a backup", l - 1);
				return -1;
			}
	}
	merkle_tiles_restore(a->tree);
	return 0;
}

/* Replays the journal over the tree restored at its first bundle, cutting
 * a torn last entry. No journal is an empty log. */
static int
audit_recover(struct audit *a, char *err, size_t errlen)
{
	unsigned char *j;
	size_t len, off = AUDIT_JOURNAL_HDR, n;
	uint64_t bundle = 0;
	int rc = 0;

	if (audit_file_read(a->dirfd, AUDIT_JOURNAL, &j, &len) != 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s/%s: %s", a->dir, AUDIT_JOURNAL,
		    strerror(errno));
		return -1;
	}
	/* Journals are renamed into place whole: a short one was altered. */
	if (len < AUDIT_JOURNAL_HDR) {
		snprintf(err, errlen, "%s/%s: no header", a->dir, AUDIT_JOURNAL);
		free(j);
		return -1;
	}
	for (int i = 0; i < AUDIT_JOURNAL_HDR; i++)
		bundle = bundle << 8 | j[i];
	if (bundle > UINT64_MAX / MERKLE_TILE_WIDTH ||
	    audit_restore(a, bundle * MERKLE_TILE_WIDTH, err, errlen) != 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "%s/%s: bad header", a->dir,
			    AUDIT_JOURNAL);
		free(j);
		return -1;
	}
	while (rc == 0 && (n = audit_journal_next(j, len, off)) > 0) {
		rc = audit_add_entry(a, j + off + 2, n);
		off += 2 + n;
	}
	if (rc != 0)
		snprintf(err, errlen, "%s: cannot write tiles: %s", a->dir,
		    strerror(errno));
	else if (!audit_zeros(j + off, len - off))
		log_warn("audit: cut a torn entry at byte %zu of the journal", off);
	free(j);
	a->size = a->tree->size;
	return rc;
}

/* A log without a checkpoint is a new one, empty and without tiles: one
 * is signed at the first open, before any entry, and tiles are made on
 * first use. With tiles, the checkpoint and the journal's entries were
 * lost, and starting over would write new entries over the old ones. */
static int
audit_check_new(struct audit *a, char *err, size_t errlen)
{
	if (faccessat(a->dirfd, "tile", F_OK, 0) != 0 && errno == ENOENT)
		return 0;
	snprintf(err, errlen, "%s/%s is missing but the log has tiles: "
	    "entries were lost; restore the audit directory from a backup",
	    a->dir, AUDIT_CHECKPOINT);
	return -1;
}

/* The recovered tree must extend the last signed checkpoint. */
static int
audit_check_checkpoint(struct audit *a, char *err, size_t errlen)
{
	unsigned char *note;
	struct checkpoint cp;
	merkle_hash root;
	char why[256];
	size_t len;

	if (audit_file_read(a->dirfd, AUDIT_CHECKPOINT, &note, &len) != 0) {
		if (errno == ENOENT && a->size == 0)
			return audit_check_new(a, err, errlen);
		snprintf(err, errlen, "%s/%s: %s: the log has %llu entries and "
		    "no checkpoint to check them against", a->dir,
		    AUDIT_CHECKPOINT, strerror(errno),
		    (unsigned long long)a->size);
		return -1;
	}
	if (checkpoint_verify_keys((char *)note, len, a->trusted, a->ntrusted,
	    why, sizeof(why)) != 0 ||
	    checkpoint_parse((char *)note, len, &cp, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s/%s: %s (another origin or signing "
		    "key? a rotated key's verifier key goes in "
		    "audit.verifier_keys)", a->dir, AUDIT_CHECKPOINT, why);
		free(note);
		return -1;
	}
	free(note);
	if (strcmp(cp.origin, a->origin) != 0) {
		snprintf(err, errlen, "the last checkpoint is for origin \"%s\"",
		    cp.origin);
		return -1;
	}
	if (cp.size > a->size) {
		snprintf(err, errlen, "the log has %llu entries but its last "
		    "checkpoint signed %llu: entries were lost; restore the "
		    "audit directory from a backup", (unsigned long long)a->size,
		    (unsigned long long)cp.size);
		return -1;
	}
	if (merkle_root(audit_node, a, cp.size, root) != 0 ||
	    memcmp(root, cp.root, MERKLE_HASH_LEN) != 0) {
		snprintf(err, errlen, "the entries do not match the last "
		    "checkpoint (size %llu): the log was altered",
		    (unsigned long long)cp.size);
		return -1;
	}
	return 0;
}

/* A log is append-only: one begun by a version whose entries were
 * linkable keeps them, and new entries cannot join it, for their
 * unlinkability would be worth nothing next to them. Its first entry
 * tells. */
int
audit_check_format(struct audit *a, char *err, size_t errlen)
{
	char *json;
	size_t len;
	int current;

	if (a->size == 0)
		return 0;
	if (audit_read_entry(a, 0, &json, &len) != 0) {
		snprintf(err, errlen, "%s: cannot read entry 0", a->dir);
		return -1;
	}
	current = audit_entry_current(json, len);
	free(json);
	if (current)
		return 0;
	snprintf(err, errlen, "%s holds entries of an earlier format, which "
	    "link a citizen's entries together; this version does not append "
	    "to it. Keep it as it is, readable to auditors only, and start a "
	    "new log: a new audit.dir, a new audit.origin and a new "
	    "signing_key (tellonce keygen); see docs/audit.md, \"Upgrading\"",
	    a->dir);
	return -1;
}

void
audit_free(struct audit *a)
{
	if (a->journalfd != -1)
		close(a->journalfd);
	if (a->journal_retired != -1)
		close(a->journal_retired);
	if (a->dirfd != -1)
		close(a->dirfd);
	pthread_mutex_destroy(&a->qmu);
	pthread_mutex_destroy(&a->tmu);
	pthread_mutex_destroy(&a->rmu);
	pthread_cond_destroy(&a->qcond);
	pthread_cond_destroy(&a->icond);
	audit_shared_drop_pending(a);
	free(a->pending);
	audit_cache_free(a->cache);
	for (size_t i = 0; i < a->nkeys; i++)
		EVP_PKEY_free(a->keys[i]);
	free(a->tree);
	free(a->bundle);
	free(a->scratch);
	free(a->checkpoint);
	free(a->loops);
	free(a->dir);
	free(a->origin);
	free(a);
}

static int
audit_init_sync(struct audit *a)
{
	pthread_condattr_t ca;

	if (pthread_condattr_init(&ca) != 0)
		return -1;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->qcond, &ca);
	pthread_cond_init(&a->icond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&a->qmu, NULL);
	pthread_mutex_init(&a->tmu, NULL);
	pthread_mutex_init(&a->rmu, NULL);
	a->tail = &a->head;
	return 0;
}

static void
audit_log_start(struct audit *a)
{
	char *vkey = keys_verifier_string(a->origin, a->trusted[0].pub);

	log_info("audit: %llu entries in %s; verifier key %s",
	    (unsigned long long)a->size, a->dir, vkey ? vkey : "?");
	free(vkey);
	for (size_t i = 1; i < a->nkeys; i++) {
		if ((vkey = keys_verifier_string(a->origin,
		    a->trusted[i].pub)) != NULL)
			log_info("audit: checkpoints also signed by %s", vkey);
		free(vkey);
	}
}

int
audit_start_sequencer(struct audit *a, void *(*run)(void *), char *err,
    size_t errlen)
{
	if (pthread_create(&a->thread, NULL, run, a) != 0) {
		snprintf(err, errlen, "cannot start the sequencer");
		return -1;
	}
	pthread_setname_np(a->thread, "audit");
	a->running = 1;
	audit_log_start(a);
	return 0;
}

/* Adds a key a start accepts the last checkpoint signed by, unless it is
 * there already. */
static void
audit_trust(struct audit *a, const unsigned char pub[32])
{
	for (size_t i = 0; i < a->ntrusted; i++)
		if (memcmp(a->trusted[i].pub, pub, 32) == 0)
			return;
	a->trusted[a->ntrusted].name = a->origin;
	memcpy(a->trusted[a->ntrusted++].pub, pub, 32);
}

/* The signing keys, then the verifier keys of earlier ones. 0, or -1 with
 * err. */
static int
audit_load_keys(struct audit *a, const struct config_audit *cfg, char *err,
    size_t errlen)
{
	const struct config_secrets *more = &cfg->additional_signing_keys;
	char name[CHECKPOINT_ORIGIN_MAX], why[256];
	unsigned char pub[32];

	for (size_t i = 0; i <= more->n; i++) {
		const struct secret *pem = i == 0 ? &cfg->signing_key :
		    &more->v[i - 1];

		if ((a->keys[i] = keys_load_private(pem, why,
		    sizeof(why))) == NULL) {
			snprintf(err, errlen, "%s: %s", i == 0 ? "signing_key" :
			    "additional_signing_keys", why);
			return -1;
		}
		a->nkeys = i + 1;
		if (keys_public_raw(a->keys[i], pub) != 0) {
			snprintf(err, errlen, "cannot read a signing key");
			return -1;
		}
		audit_trust(a, pub);
		if (a->ntrusted != a->nkeys) {
			snprintf(err, errlen, "additional_signing_keys: the "
			    "signing key twice");
			return -1;
		}
	}
	for (size_t i = 0; i < cfg->verifier_keys.n; i++) {
		if (keys_verifier_parse(cfg->verifier_keys.v[i], name,
		    sizeof(name), pub) != 0 || strcmp(name, a->origin) != 0) {
			snprintf(err, errlen, "verifier_keys: %s is not a "
			    "verifier key of origin %s", cfg->verifier_keys.v[i],
			    a->origin);
			return -1;
		}
		audit_trust(a, pub);
	}
	return 0;
}

/* The recovered log must hold the one a store saw signed: not fewer
 * entries (an older copy of the directory), not other ones (another log
 * under the same origin). Before anything is signed, so that neither is
 * ever published as a fork. */
static int
audit_check_head(struct audit *a, const struct audit_head *head, char *err,
    size_t errlen)
{
	char want[ENCODE_BASE64_LEN(MERKLE_HASH_LEN)];
	merkle_hash root;

	encode_base64(head->root, MERKLE_HASH_LEN, want);
	if (a->size < head->size) {
		snprintf(err, errlen, "%s holds %llu entries, but the store saw "
		    "this log signed at %llu (root %s): the directory is an "
		    "older copy, and going on would sign a fork of the published "
		    "log. Restore the audit directory that goes with the store "
		    "(tellonce backup copies both), or, if those entries are "
		    "lost for good, start a new log with a new audit.dir and "
		    "audit.origin (docs/operations.md, \"Restoring\")", a->dir,
		    (unsigned long long)a->size, (unsigned long long)head->size,
		    want);
		return -1;
	}
	if (merkle_root(audit_node, a, head->size, root) != 0 ||
	    memcmp(root, head->root, MERKLE_HASH_LEN) != 0) {
		snprintf(err, errlen, "%s is not the log the store saw signed "
		    "at %llu entries (root %s): its first %llu entries differ. "
		    "Restore the audit directory that goes with the store "
		    "(tellonce backup copies both), or start a new log with a "
		    "new audit.dir and audit.origin (docs/operations.md, "
		    "\"Restoring\")", a->dir, (unsigned long long)head->size,
		    want, (unsigned long long)head->size);
		return -1;
	}
	return 0;
}

struct audit *
audit_open(const struct config_audit *cfg, char *err, size_t errlen)
{
	return audit_open_after(cfg, NULL, err, errlen);
}

/* What both kinds of log start with: the settings, the tree, the keys;
 * `where` names the log in messages. NULL with err. */
struct audit *
audit_new(const struct config_audit *cfg, const char *where, char *err,
    size_t errlen)
{
	struct audit *a = calloc(1, sizeof(*a));

	err[0] = '\0';
	if (a == NULL || audit_init_sync(a) != 0) {
		free(a);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->dirfd = a->journalfd = a->journal_retired = -1;
	a->interval_ms = cfg->checkpoint_interval_ms > 0 ?
	    cfg->checkpoint_interval_ms : 1000;
	a->dir = strdup(where);
	a->origin = strdup(cfg->origin);
	a->tree = calloc(1, sizeof(*a->tree));
	a->bundle = malloc(AUDIT_BUNDLE_MAX);
	if (a->dir == NULL || a->origin == NULL || a->tree == NULL ||
	    a->bundle == NULL) {
		snprintf(err, errlen, "out of memory");
		audit_free(a);
		return NULL;
	}
	if (audit_load_keys(a, cfg, err, errlen) != 0) {
		audit_free(a);
		return NULL;
	}
	return a;
}

struct audit *
audit_open_after(const struct config_audit *cfg, const struct audit_head *head,
    char *err, size_t errlen)
{
	struct audit *a = audit_new(cfg, cfg->dir, err, errlen);

	if (a == NULL)
		return NULL;
	if ((mkdir(a->dir, 0700) != 0 && errno != EEXIST) ||
	    (a->dirfd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", a->dir, strerror(errno));
		goto fail;
	}
	/* One writer per log: a second process would fork the tree. */
	if (flock(a->dirfd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errlen, "%s: %s", a->dir, errno == EWOULDBLOCK ?
		    "in use by another process" : strerror(errno));
		goto fail;
	}
	if (audit_recover(a, err, errlen) != 0 ||
	    audit_check_checkpoint(a, err, errlen) != 0 ||
	    audit_check_format(a, err, errlen) != 0 ||
	    (head != NULL && audit_check_head(a, head, err, errlen) != 0))
		goto fail;
	if (audit_publish(a) != 0) {
		snprintf(err, errlen, "%s: cannot write the checkpoint", a->dir);
		goto fail;
	}
	if (audit_start_sequencer(a, audit_run, err, errlen) != 0)
		goto fail;
	return a;
fail:
	audit_free(a);
	return NULL;
}

void
audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->qmu);
	a->stopping = 1;
	pthread_cond_signal(&a->qcond);
	pthread_mutex_unlock(&a->qmu);
	pthread_join(a->thread, NULL);
	audit_shared_stop(a);
	audit_free(a);
}

void
audit_set_checkpoint_hook(struct audit *a, audit_checkpoint_fn fn, void *arg)
{
	pthread_mutex_lock(&a->qmu);
	a->cp_hook = fn;
	a->cp_hook_arg = arg;
	pthread_mutex_unlock(&a->qmu);
}

char *
audit_verifier_keys(const struct audit *a)
{
	size_t cap = 1, len = 0;
	char *out = NULL, *grown, *vkey;

	for (size_t i = 0; i < a->ntrusted; i++) {
		if ((vkey = keys_verifier_string(a->origin,
		    a->trusted[i].pub)) == NULL)
			goto fail;
		cap += strlen(vkey) + 1;
		if ((grown = realloc(out, cap)) == NULL) {
			free(vkey);
			goto fail;
		}
		out = grown;
		len += (size_t)sprintf(out + len, "%s\n", vkey);
		free(vkey);
	}
	return out;
fail:
	free(out);
	return NULL;
}

void
audit_set_index_hook(struct audit *a, audit_index_fn fn, void *arg)
{
	pthread_mutex_lock(&a->qmu);
	a->hook = fn;
	a->hook_arg = arg;
	pthread_mutex_unlock(&a->qmu);
}

uint64_t
audit_size(struct audit *a)
{
	uint64_t size;

	pthread_mutex_lock(&a->tmu);
	size = a->size;
	pthread_mutex_unlock(&a->tmu);
	return size;
}

/* Entry `index` of the bundle bytes b; 0 or -1. */
int
audit_bundle_entry(const unsigned char *b, size_t len, unsigned index,
    char **json, size_t *jlen)
{
	size_t off = 0, n = 0;

	for (unsigned i = 0; (n = audit_bundle_next(b, len, off)) > 0; i++) {
		if (i == index) {
			if ((*json = malloc(n + 1)) == NULL)
				return -1;
			memcpy(*json, b + off + 2, n);
			(*json)[n] = '\0';
			*jlen = n;
			return 0;
		}
		off += 2 + n;
	}
	return -1;
}

int
audit_read_entry(struct audit *a, uint64_t index, char **json, size_t *len)
{
	uint64_t bundle = index / MERKLE_TILE_WIDTH;
	unsigned pos = (unsigned)(index % MERKLE_TILE_WIDTH);
	char path[MERKLE_TILE_PATH_LEN];
	unsigned char *b;
	size_t blen;
	int rc;

	*json = NULL;
	if (a->seq_store != NULL)
		return audit_shared_read_entry(a, index, json, len);
	pthread_mutex_lock(&a->tmu);
	if (index >= a->size) {
		pthread_mutex_unlock(&a->tmu);
		return -1;
	}
	if (bundle == a->tree->size / MERKLE_TILE_WIDTH) {
		rc = audit_bundle_entry(a->bundle, a->bundle_len, pos, json, len);
		pthread_mutex_unlock(&a->tmu);
		return rc;
	}
	pthread_mutex_unlock(&a->tmu);
	/* Full bundles never change: read without the lock. */
	merkle_tile_path(path, MERKLE_TILE_ENTRIES, bundle, 0);
	if (audit_file_read(a->dirfd, path, &b, &blen) != 0)
		return -1;
	rc = audit_bundle_entry(b, blen, pos, json, len);
	free(b);
	return rc;
}

/* The shared log is as ready as its store, which /readyz pings. */
int
audit_ready(struct audit *a)
{
	if (atomic_load(&a->failed) || !a->running)
		return -1;
	if (a->seq_store != NULL)
		return 0;
	return faccessat(a->dirfd, AUDIT_JOURNAL, W_OK, 0) == 0 ? 0 : -1;
}

int
audit_tile_get(struct audit *a, int level, uint64_t index, unsigned width,
    unsigned char **data, size_t *len)
{
	char path[MERKLE_TILE_PATH_LEN];

	merkle_tile_path(path, level, index, width);
	return audit_get(a, path, data, len);
}

int
audit_read_tile(struct audit *a, int level, uint64_t index, unsigned width,
    unsigned char **data, size_t *len)
{
	if (a->seq_store != NULL && !audit_shared_has(a, level, index, width)) {
		errno = ENOENT;
		return -1;
	}
	return audit_tile_get(a, level, index, width, data, len);
}

/* ---- proofs and checkpoints ----------------------------------------- */

int
audit_inclusion_proof(struct audit *a, uint64_t index, uint64_t size,
    merkle_hash proof[MERKLE_MAX_PROOF], size_t *n, merkle_hash root)
{
	int rc = -1;

	if (a->seq_store != NULL)
		return audit_shared_inclusion(a, index, size, proof, n, root);
	pthread_mutex_lock(&a->tmu);
	if (index < size && size <= a->size &&
	    merkle_inclusion_proof(audit_node, a, index, size, proof, n) == 0 &&
	    merkle_root(audit_node, a, size, root) == 0)
		rc = 0;
	pthread_mutex_unlock(&a->tmu);
	return rc;
}

int
audit_consistency_proof(struct audit *a, uint64_t from, uint64_t to,
    merkle_hash proof[MERKLE_MAX_PROOF], size_t *n, merkle_hash root1,
    merkle_hash root2)
{
	int rc = -1;

	if (a->seq_store != NULL)
		return audit_shared_consistency(a, from, to, proof, n, root1,
		    root2);
	pthread_mutex_lock(&a->tmu);
	if (from <= to && to <= a->size &&
	    merkle_consistency_proof(audit_node, a, from, to, proof, n) == 0 &&
	    merkle_root(audit_node, a, from, root1) == 0 &&
	    merkle_root(audit_node, a, to, root2) == 0)
		rc = 0;
	pthread_mutex_unlock(&a->tmu);
	return rc;
}

int64_t
audit_checkpoint_time(struct audit *a, uint64_t *size)
{
	int64_t ms;

	pthread_mutex_lock(&a->tmu);
	ms = a->checkpoint_ms;
	*size = a->checkpoint_size;
	pthread_mutex_unlock(&a->tmu);
	return ms;
}

void
audit_checkpoint_head(struct audit *a, struct audit_head *head)
{
	pthread_mutex_lock(&a->tmu);
	head->size = a->checkpoint_size;
	memcpy(head->root, a->checkpoint_root, MERKLE_HASH_LEN);
	pthread_mutex_unlock(&a->tmu);
}

char *
audit_checkpoint(struct audit *a, uint64_t *size)
{
	char *note;

	pthread_mutex_lock(&a->tmu);
	note = a->checkpoint != NULL ? strdup(a->checkpoint) : NULL;
	if (size != NULL)
		*size = a->checkpoint_size;
	pthread_mutex_unlock(&a->tmu);
	return note;
}
