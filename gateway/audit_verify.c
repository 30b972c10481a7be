/* audit_verify.c — checks an audit directory offline (for `tellonce audit
 * verify`, cmd_audit_verify.c), trusting nothing in it but the verifier key given.
 *
 * Every entry bundle up to the checkpoint's size is read and hashed, the
 * tree is rebuilt from those leaves, every hash tile (full, and partial for
 * that size) is compared with the rebuilt one, and the root with the
 * checkpoint's. When a level-0 hash differs, the root decides who lies: the
 * entry if the root does not match the checkpoint, else the tile. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "checkpoint.h"
#include "encode.h"
#include "keys.h"

const char *const audit_access_log_members[] = {
	"audit_index", "inclusion_proof", "consumer_name", "provider_name",
	"mandate", "mediator", "helper", NULL
};


struct verify {
	int dirfd;
	struct merkle_tiles *tree;
	char *err;
	size_t errlen;
	/* The first hash tile that differs from the rebuilt tree. */
	int mismatch;
	char mismatch_path[MERKLE_TILE_PATH_LEN];
	unsigned mismatch_level;
	uint64_t mismatch_index;     /* of the first differing hash in its level */
	/* What the reader should know of a log that verifies (err on
	 * success), or empty. */
	char note[2 * CHECKPOINT_ORIGIN_MAX + 96];
};

static int
verify_read(struct verify *v, const char *path, unsigned char **data,
    size_t *len)
{
	int fd = openat(v->dirfd, path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t n = -1;

	*data = NULL;
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == 0 && (*data = malloc((size_t)st.st_size + 1)) != NULL)
		n = read(fd, *data, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(*data);
		*data = NULL;
		return -1;
	}
	*len = (size_t)n;
	(*data)[n] = '\0';
	return 0;
}

/* Reads a tile or bundle of `width` (0: full). tlog-tiles lets a log drop
 * a partial tile once the full one exists, so that stands in for it: then
 * only its first `width` items are this tree's, and *prefix says so. */
static int
verify_read_tile(struct verify *v, int level, uint64_t index, unsigned width,
    char path[MERKLE_TILE_PATH_LEN], unsigned char **data, size_t *len,
    int *prefix)
{
	*prefix = 0;
	merkle_tile_path(path, level, index, width);
	if (verify_read(v, path, data, len) == 0)
		return 0;
	if (width == 0 || errno != ENOENT)
		return -1;
	merkle_tile_path(path, level, index, 0);
	if (verify_read(v, path, data, len) == 0) {
		*prefix = 1;
		return 0;
	}
	merkle_tile_path(path, level, index, width);
	errno = ENOENT;
	return -1;
}

/* Compares a stored tile with the rebuilt hashes; remembers the first
 * difference and carries on (the root tells later who is wrong). */
static void
verify_tile(struct verify *v, unsigned level, uint64_t index, unsigned width,
    const merkle_hash *hashes)
{
	char path[MERKLE_TILE_PATH_LEN];
	unsigned want = width ? width : MERKLE_TILE_WIDTH, i = 0;
	unsigned char *data = NULL;
	size_t len;
	int prefix;

	if (v->mismatch)
		return;
	if (verify_read_tile(v, (int)level, index, width, path, &data, &len,
	    &prefix) == 0 && len == (size_t)(prefix ? MERKLE_TILE_WIDTH : want) *
	    MERKLE_HASH_LEN) {
		while (i < want && memcmp(data + (size_t)i * MERKLE_HASH_LEN,
		    hashes[i], MERKLE_HASH_LEN) == 0)
			i++;
		if (i == want) {
			free(data);
			return;
		}
	}
	free(data);
	v->mismatch = 1;
	v->mismatch_level = level;
	v->mismatch_index = index * MERKLE_TILE_WIDTH + i;
	memcpy(v->mismatch_path, path, sizeof(path));
}

static int
verify_tile_full(void *arg, unsigned level, uint64_t index,
    const merkle_hash hashes[MERKLE_TILE_WIDTH])
{
	verify_tile(arg, level, index, 0, hashes);
	return 0;
}

/* Hashes the entries of one bundle into the tree. */
static int
verify_bundle(struct verify *v, uint64_t bundle, unsigned width)
{
	char path[MERKLE_TILE_PATH_LEN];
	uint64_t first = bundle * MERKLE_TILE_WIDTH;
	unsigned want = width ? width : MERKLE_TILE_WIDTH, i;
	unsigned char *b;
	size_t len, off = 0;
	int prefix;

	if (verify_read_tile(v, MERKLE_TILE_ENTRIES, bundle, width, path, &b,
	    &len, &prefix) != 0) {
		snprintf(v->err, v->errlen, "entry %llu: %s: %s",
		    (unsigned long long)first, path, strerror(errno));
		return -1;
	}
	for (i = 0; i < want; i++) {
		merkle_hash leaf;
		size_t n;

		if (off + 2 > len ||
		    (n = (size_t)b[off] << 8 | b[off + 1]) == 0 ||
		    off + 2 + n > len) {
			snprintf(v->err, v->errlen, "entry %llu: missing or cut "
			    "short in %s", (unsigned long long)(first + i), path);
			free(b);
			return -1;
		}
		merkle_leaf_hash(b + off + 2, n, leaf);
		merkle_tiles_append(v->tree, leaf, verify_tile_full, v);
		off += 2 + n;
	}
	free(b);
	if (off != len && !prefix) {
		snprintf(v->err, v->errlen, "entry %llu: %s holds more entries "
		    "than the checkpoint covers", (unsigned long long)(first + i),
		    path);
		return -1;
	}
	return 0;
}

/* Parses the verifier keys, which must all name one origin. */
static int
verify_parse_keys(struct verify *v, const char *const *vkeys, size_t nvkeys,
    struct checkpoint_key *keys, char names[][CHECKPOINT_ORIGIN_MAX])
{
	for (size_t i = 0; i < nvkeys; i++) {
		if (keys_verifier_parse(vkeys[i], names[i], CHECKPOINT_ORIGIN_MAX,
		    keys[i].pub) != 0) {
			snprintf(v->err, v->errlen, "not a verifier key: %s",
			    vkeys[i]);
			return -1;
		}
		keys[i].name = names[i];
		if (strcmp(names[i], names[0]) != 0) {
			snprintf(v->err, v->errlen, "the verifier keys name two "
			    "origins: %s and %s", names[0], names[i]);
			return -1;
		}
	}
	return 0;
}

/* The checkpoint's signature by one of the keys, trusted for their
 * public keys: keys named otherwise than the note's origin line (keygen
 * without the origin names its key "tellonce") are checked under the
 * origin, since the gateway signs under no other name, and v->note says
 * so. */
static int
verify_signature(struct verify *v, const char *note, size_t len,
    struct checkpoint_key *keys, size_t nkeys)
{
	const char *nl = memchr(note, '\n', len);
	char origin[CHECKPOINT_ORIGIN_MAX];

	if (nl == NULL || (size_t)(nl - note) >= sizeof(origin)) {
		snprintf(v->err, v->errlen, "checkpoint: bad origin line");
		return -1;
	}
	memcpy(origin, note, (size_t)(nl - note));
	origin[nl - note] = '\0';
	if (strcmp(keys[0].name, origin) != 0) {
		snprintf(v->note, sizeof(v->note), "the key is named %s, not "
		    "after the log's origin %s: its signature was checked "
		    "under the origin", keys[0].name, origin);
		for (size_t i = 0; i < nkeys; i++)
			keys[i].name = origin;
	}
	if (checkpoint_verify_keys(note, len, keys, nkeys, v->err,
	    v->errlen) == 0)
		return 0;
	if (v->note[0] != '\0') {
		size_t n = strlen(v->err);

		snprintf(v->err + n, v->errlen - n, " (%s)", v->note);
	}
	return -1;
}

static int
verify_checkpoint(struct verify *v, const char *const *vkeys, size_t nvkeys,
    struct checkpoint *cp)
{
	struct checkpoint_key keys[AUDIT_VERIFY_KEYS_MAX];
	char names[AUDIT_VERIFY_KEYS_MAX][CHECKPOINT_ORIGIN_MAX];
	unsigned char *note;
	size_t len;
	int rc = -1;

	if (nvkeys > AUDIT_VERIFY_KEYS_MAX) {
		snprintf(v->err, v->errlen, "at most %d verifier keys",
		    AUDIT_VERIFY_KEYS_MAX);
		return -1;
	}
	if (verify_parse_keys(v, vkeys, nvkeys, keys, names) != 0)
		return -1;
	if (verify_read(v, "checkpoint", &note, &len) != 0) {
		snprintf(v->err, v->errlen, "checkpoint: %s", strerror(errno));
		return -1;
	}
	if ((nvkeys == 0 || verify_signature(v, (char *)note, len, keys,
	    nvkeys) == 0) &&
	    checkpoint_parse((char *)note, len, cp, v->err, v->errlen) == 0)
		rc = 0;
	free(note);
	return rc;
}

/* The verdict once every leaf is in. */
static int
verify_conclude(struct verify *v, const struct checkpoint *cp, merkle_hash root)
{
	int root_ok;

	merkle_tiles_root(v->tree, root);
	root_ok = memcmp(root, cp->root, MERKLE_HASH_LEN) == 0;
	if (!root_ok && v->mismatch && v->mismatch_level == 0) {
		snprintf(v->err, v->errlen, "entry %llu: does not match the "
		    "checkpoint (its hash differs from %s)",
		    (unsigned long long)v->mismatch_index, v->mismatch_path);
		return -1;
	}
	if (v->mismatch) {
		snprintf(v->err, v->errlen, "%s: hash %llu does not match the "
		    "entries", v->mismatch_path,
		    (unsigned long long)(v->mismatch_index % MERKLE_TILE_WIDTH));
		return -1;
	}
	if (!root_ok) {
		snprintf(v->err, v->errlen, "checkpoint: the entries and tiles "
		    "agree but their root is not the checkpoint's (rewritten log)");
		return -1;
	}
	return 0;
}

int
audit_verify(const char *dir, const char *vkey, uint64_t *size,
    merkle_hash root, audit_progress_fn progress, void *arg, char *err,
    size_t errlen)
{
	return audit_verify_keys(dir, &vkey, vkey != NULL, size, root, progress,
	    arg, err, errlen);
}

int
audit_verify_keys(const char *dir, const char *const *vkeys, size_t nvkeys,
    uint64_t *size, merkle_hash root, audit_progress_fn progress, void *arg,
    char *err, size_t errlen)
{
	struct verify v = { .err = err, .errlen = errlen };
	struct checkpoint cp;
	uint64_t bundles;
	int rc = -1;

	if ((v.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	if ((v.tree = malloc(sizeof(*v.tree))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	merkle_tiles_init(v.tree);
	if (verify_checkpoint(&v, vkeys, nvkeys, &cp) != 0)
		goto out;
	bundles = cp.size / MERKLE_TILE_WIDTH;
	for (uint64_t b = 0; b < bundles; b++) {
		if (verify_bundle(&v, b, 0) != 0)
			goto out;
		if (progress != NULL &&
		    v.tree->size % AUDIT_VERIFY_PROGRESS_STEP == 0)
			progress(v.tree->size, cp.size, arg);
	}
	if (cp.size % MERKLE_TILE_WIDTH != 0 &&
	    verify_bundle(&v, bundles, merkle_tile_width(cp.size, 0)) != 0)
		goto out;
	for (unsigned l = 0; l < MERKLE_TILE_LEVELS; l++) {
		unsigned w = merkle_tile_width(cp.size, l);

		if (w > 0)
			verify_tile(&v, l, (cp.size >> (MERKLE_TILE_HEIGHT * l)) /
			    MERKLE_TILE_WIDTH, w, (const merkle_hash *)v.tree->tile[l]);
	}
	if (progress != NULL)
		progress(cp.size, cp.size, arg);
	if (verify_conclude(&v, &cp, root) != 0)
		goto out;
	*size = cp.size;
	snprintf(err, errlen, "%s", v.note);
	rc = 0;
out:
	free(v.tree);
	close(v.dirfd);
	return rc;
}
