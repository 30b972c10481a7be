/* audit_backup.c — a copy of a live audit log as of a signed checkpoint
 * (audit_backup, for `tellonce backup`).
 *
 * What a checkpoint covers does not change once it is signed: full tiles
 * and bundles are written once, and the partial ones of the checkpoint's
 * size stay until their tile fills, when the full one, whose first items
 * are theirs, replaces them. So a reader holding a checkpoint copies what
 * it covers while the sequencer writes on, without a lock. The journal
 * changes under a reader and is not copied: the copy gets the one the
 * sequencer itself writes after a checkpoint (audit_journal_start), the
 * bundle index then the incomplete bundle's entries. */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "clock.h"

#define BACKUP_POLL_MS 50

struct backup {
	int from, to;               /* the directories */
	char *err;
	size_t errlen;
};

/* Entries durable now: the journal's first bundle and the entries after. */
static int
backup_durable(struct backup *b, uint64_t *n)
{
	size_t len, off = AUDIT_JOURNAL_HDR, k;
	uint64_t bundle = 0, count = 0;
	unsigned char *j;

	*n = 0;
	if (audit_file_read(b->from, AUDIT_JOURNAL, &j, &len) != 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(b->err, b->errlen, "%s: %s", AUDIT_JOURNAL,
		    strerror(errno));
		return -1;
	}
	if (len < AUDIT_JOURNAL_HDR) {
		snprintf(b->err, b->errlen, "%s: no header", AUDIT_JOURNAL);
		free(j);
		return -1;
	}
	for (int i = 0; i < AUDIT_JOURNAL_HDR; i++)
		bundle = bundle << 8 | j[i];
	for (; (k = audit_bundle_next(j, len, off)) > 0; off += 2 + k)
		count++;
	free(j);
	*n = bundle * MERKLE_TILE_WIDTH + count;
	return 0;
}

/* The checkpoint note (malloc'd) and what it signs. */
static int
backup_checkpoint(struct backup *b, unsigned char **note, size_t *len,
    struct checkpoint *cp)
{
	if (audit_file_read(b->from, AUDIT_CHECKPOINT, note, len) != 0) {
		snprintf(b->err, b->errlen, "%s: %s", AUDIT_CHECKPOINT,
		    strerror(errno));
		return -1;
	}
	if (checkpoint_parse((char *)*note, *len, cp, b->err, b->errlen) == 0)
		return 0;
	free(*note);
	*note = NULL;
	return -1;
}

/* Waits for a checkpoint that covers `durable` entries while a gateway
 * holds the log (live); the note is malloc'd. */
static int
backup_wait(struct backup *b, uint64_t durable, int live, int64_t wait_ms,
    unsigned char **note, size_t *len, struct checkpoint *cp)
{
	int64_t deadline = clock_mono_ms() + wait_ms;
	struct timespec ts = { 0, BACKUP_POLL_MS * 1000000L };

	for (;;) {
		if (backup_checkpoint(b, note, len, cp) != 0)
			return -1;
		if (cp->size >= durable)
			return 0;
		free(*note);
		*note = NULL;
		if (!live) {
			snprintf(b->err, b->errlen, "the journal holds %llu entries "
			    "past the last checkpoint (%llu): the gateway did not "
			    "stop cleanly. Start it once, so that it signs them, "
			    "then back up", (unsigned long long)(durable - cp->size),
			    (unsigned long long)cp->size);
			return -1;
		}
		if (clock_mono_ms() >= deadline) {
			snprintf(b->err, b->errlen, "no checkpoint covers entry "
			    "%llu after %lld ms: is the gateway's audit log failing "
			    "(see its log)?", (unsigned long long)durable - 1,
			    (long long)wait_ms);
			return -1;
		}
		nanosleep(&ts, NULL);
	}
}

/* The bytes of the first `width` items of a tile (32 bytes each) or a
 * bundle (length-prefixed entries) read whole; 0 when they are not all
 * there. */
static size_t
backup_prefix(int level, const unsigned char *data, size_t len, unsigned width)
{
	size_t off = 0, n;

	if (level != MERKLE_TILE_ENTRIES)
		return len >= (size_t)width * MERKLE_HASH_LEN ?
		    (size_t)width * MERKLE_HASH_LEN : 0;
	for (unsigned i = 0; i < width; i++, off += 2 + n)
		if ((n = audit_bundle_next(data, len, off)) == 0)
			return 0;
	return off;
}

/* Copies tile (level, index) of `width` (0: full). A partial one whose
 * tile has filled since is cut from the full one. With keep, the bytes
 * copied are handed out (malloc'd) instead of freed. */
static int
backup_tile(struct backup *b, int level, uint64_t index, unsigned width,
    unsigned char **keep, size_t *keeplen)
{
	char path[MERKLE_TILE_PATH_LEN];
	unsigned char *data = NULL;
	size_t len = 0;
	int rc = -1;

	merkle_tile_path(path, level, index, width);
	if (audit_file_read(b->from, path, &data, &len) != 0 && width > 0 &&
	    errno == ENOENT) {
		char full[MERKLE_TILE_PATH_LEN];

		merkle_tile_path(full, level, index, 0);
		if (audit_file_read(b->from, full, &data, &len) == 0 &&
		    (len = backup_prefix(level, data, len, width)) == 0)
			errno = EINVAL;
	}
	if (data == NULL || len == 0)
		snprintf(b->err, b->errlen, "%s: %s", path, data == NULL ?
		    strerror(errno) : "not the items the checkpoint covers");
	else if (audit_file_put(b->to, path, data, len) != 0)
		snprintf(b->err, b->errlen, "copy of %s: %s", path,
		    strerror(errno));
	else
		rc = 0;
	if (rc == 0 && keep != NULL) {
		*keep = data;
		*keeplen = len;
		return 0;
	}
	free(data);
	return rc;
}

/* Every tile and bundle a tree of `size` entries is served from. */
static int
backup_tiles(struct backup *b, uint64_t size)
{
	for (uint64_t i = 0; i < size / MERKLE_TILE_WIDTH; i++)
		if (backup_tile(b, MERKLE_TILE_ENTRIES, i, 0, NULL, NULL) != 0)
			return -1;
	for (unsigned l = 0; l < MERKLE_TILE_LEVELS; l++) {
		unsigned shift = (l + 1) * MERKLE_TILE_HEIGHT;
		uint64_t full = shift >= 64 ? 0 : size >> shift;
		unsigned w = merkle_tile_width(size, l);

		for (uint64_t i = 0; i < full; i++)
			if (backup_tile(b, (int)l, i, 0, NULL, NULL) != 0)
				return -1;
		if (w > 0 && backup_tile(b, (int)l, full, w, NULL, NULL) != 0)
			return -1;
	}
	return 0;
}

/* The journal a gateway restarts the copy from: the index of the
 * incomplete bundle, then its entries. */
static int
backup_journal(struct backup *b, uint64_t size)
{
	unsigned char *bundle = NULL, *j;
	uint64_t index = size / MERKLE_TILE_WIDTH;
	unsigned w = (unsigned)(size % MERKLE_TILE_WIDTH);
	size_t len = 0;
	int rc;

	if (w > 0 && backup_tile(b, MERKLE_TILE_ENTRIES, index, w, &bundle,
	    &len) != 0)
		return -1;
	if ((j = malloc(AUDIT_JOURNAL_HDR + len)) == NULL) {
		free(bundle);
		snprintf(b->err, b->errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < AUDIT_JOURNAL_HDR; i++)
		j[i] = (unsigned char)(index >> (56 - 8 * i));
	if (len > 0)
		memcpy(j + AUDIT_JOURNAL_HDR, bundle, len);
	rc = audit_file_put(b->to, AUDIT_JOURNAL, j, AUDIT_JOURNAL_HDR + len);
	if (rc != 0)
		snprintf(b->err, b->errlen, "copy of %s: %s", AUDIT_JOURNAL,
		    strerror(errno));
	free(j);
	free(bundle);
	return rc;
}

/* Copies as of the checkpoint `note`, which goes last, then makes the
 * copy durable. */
static int
backup_copy(struct backup *b, const unsigned char *note, size_t len,
    uint64_t size)
{
	if (backup_tiles(b, size) != 0 || backup_journal(b, size) != 0)
		return -1;
	if (audit_file_put(b->to, AUDIT_CHECKPOINT, note, len) != 0 ||
	    syncfs(b->to) != 0 || fsync(b->to) != 0) {
		snprintf(b->err, b->errlen, "copy of %s: %s", AUDIT_CHECKPOINT,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
audit_backup(const char *dir, const char *to, int64_t wait_ms, uint64_t *size,
    char *err, size_t errlen)
{
	struct backup b = { .from = -1, .to = -1, .err = err, .errlen = errlen };
	unsigned char *note = NULL;
	struct checkpoint cp;
	uint64_t durable;
	size_t len = 0;
	int live, rc = -1;

	if ((b.from = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	/* A gateway holds its log exclusively. Without one, this shared lock
	 * keeps one from starting on it meanwhile. */
	live = flock(b.from, LOCK_SH | LOCK_NB) != 0;
	if (live && errno != EWOULDBLOCK) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto out;
	}
	if (backup_durable(&b, &durable) != 0 ||
	    backup_wait(&b, durable, live, wait_ms, &note, &len, &cp) != 0)
		goto out;
	if (mkdir(to, 0700) != 0 ||
	    (b.to = open(to, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", to, strerror(errno));
		goto out;
	}
	if (backup_copy(&b, note, len, cp.size) != 0)
		goto out;
	*size = cp.size;
	rc = 0;
out:
	free(note);
	if (b.to != -1)
		close(b.to);
	close(b.from);
	return rc;
}
