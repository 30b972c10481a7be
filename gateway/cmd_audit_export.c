/* cmd_audit_export.c — `tellonce audit export -c FILE DIR`: the audit log
 * written out as a C2SP tlog-tiles directory (checkpoint, hash tiles,
 * entry bundles) as of its last signed checkpoint, for auditors and for
 * `tellonce audit verify`, while the gateways serve.
 *
 * The log of the nodes on PostgreSQL is read from the store: the stored
 * checkpoint first, then every tile and bundle its size needs. A partial
 * tile may have given way to its full tile since the checkpoint was read
 * (the integrator drops it once the full one is stored); the full one
 * begins with it, so the partial is cut from it. One node's SQLite log is
 * a directory already: it is copied as `tellonce backup` copies it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "cmd.h"
#include "merkle.h"
#include "store.h"

#define EXPORT_WHO "audit export"

/* The first `width` hashes, or entries, of a full tile or bundle: the
 * partial tile of that width. 0, or -1 when it has fewer. */
static int
export_cut(int level, unsigned width, struct store_blob *b)
{
	size_t len = 0, n;

	if (level != MERKLE_TILE_ENTRIES) {
		len = (size_t)width * MERKLE_HASH_LEN;
	} else {
		for (unsigned i = 0; i < width; i++, len += 2 + n)
			if ((n = audit_bundle_next(b->data, b->len, len)) == 0)
				return -1;
	}
	if (len > b->len)
		return -1;
	b->len = len;
	return 0;
}

/* Copies the tile (level, index, width) from the store into dirfd. */
static int
export_tile(struct store *st, int dirfd, int level, uint64_t index,
    unsigned width)
{
	char path[MERKLE_TILE_PATH_LEN], full[MERKLE_TILE_PATH_LEN];
	struct store_blob b;
	enum store_status rc;

	merkle_tile_path(path, level, index, width);
	rc = store_audit_tile(st, path, &b);
	if (rc == STORE_NOT_FOUND && width != 0) {
		merkle_tile_path(full, level, index, 0);
		if ((rc = store_audit_tile(st, full, &b)) == STORE_OK &&
		    export_cut(level, width, &b) != 0)
			rc = STORE_ERROR;
	}
	if (rc != STORE_OK) {
		fprintf(stderr, "tellonce " EXPORT_WHO ": %s: %s\n", path,
		    rc == STORE_NOT_FOUND ? "not in the store" : "unreadable");
		free(b.data);
		return -1;
	}
	if (audit_file_put(dirfd, path, b.data, b.len) != 0) {
		fprintf(stderr, "tellonce " EXPORT_WHO ": %s: %s\n", path,
		    strerror(errno));
		free(b.data);
		return -1;
	}
	free(b.data);
	return 0;
}

/* Every tile of one level (MERKLE_TILE_ENTRIES: the bundles) that a tree
 * of `size` entries has: the full ones and its partial one. */
static int
export_level(struct store *st, int dirfd, int level, uint64_t size)
{
	unsigned tl = level == MERKLE_TILE_ENTRIES ? 0 : (unsigned)level;
	unsigned shift = (tl + 1) * MERKLE_TILE_HEIGHT;
	uint64_t full = shift >= 64 ? 0 : size >> shift;
	unsigned width = merkle_tile_width(size, tl);

	for (uint64_t i = 0; i < full; i++)
		if (export_tile(st, dirfd, level, i, 0) != 0)
			return -1;
	return width == 0 ? 0 : export_tile(st, dirfd, level, full, width);
}

/* Writes the stored checkpoint and what it covers into dirfd; *size is
 * its tree size. */
static int
export_store(struct store *st, int dirfd, uint64_t *size)
{
	struct store_audit_state s;
	int rc = -1;

	if (store_audit_state(st, &s) != STORE_OK) {
		fprintf(stderr, "tellonce " EXPORT_WHO ": the store cannot be "
		    "read\n");
		return -1;
	}
	if (s.note == NULL) {
		fprintf(stderr, "tellonce " EXPORT_WHO ": no checkpoint signed "
		    "yet\n");
		return -1;
	}
	*size = s.size;
	if (export_level(st, dirfd, MERKLE_TILE_ENTRIES, s.size) != 0)
		goto out;
	for (int l = 0; l < MERKLE_TILE_LEVELS; l++)
		if (export_level(st, dirfd, l, s.size) != 0)
			goto out;
	/* Last: a directory with a checkpoint holds all it covers. */
	if (audit_file_put(dirfd, AUDIT_CHECKPOINT, s.note,
	    strlen(s.note)) != 0 || syncfs(dirfd) != 0)
		fprintf(stderr, "tellonce " EXPORT_WHO ": checkpoint: %s\n",
		    strerror(errno));
	else
		rc = 0;
out:
	free(s.note);
	return rc;
}

/* The nodes' log from their store into the new directory `to`. */
static int
export_shared(const struct config *cfg, const char *to)
{
	struct store *st;
	uint64_t size = 0;
	char err[512];
	int dirfd, rc;

	if ((st = store_open(cfg->gateway.store,
	    (const char *)cfg->gateway.store_password.data, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "tellonce " EXPORT_WHO ": %s\n", err);
		return -1;
	}
	if (mkdir(to, 0700) != 0 ||
	    (dirfd = open(to, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "tellonce " EXPORT_WHO ": %s: %s\n", to,
		    strerror(errno));
		store_close(st);
		return -1;
	}
	rc = export_store(st, dirfd, &size);
	close(dirfd);
	store_close(st);
	return rc == 0 ? cmd_audit_verified(EXPORT_WHO, to, size) : -1;
}

/* An SQLite store names one gateway's directory log, which is copied
 * without a secret or the store; the nodes on a PostgreSQL store keep
 * theirs in it (store_audit_shared), which takes the configuration with
 * its secrets (the store's password), as the gateway reads it. */
int
cmd_audit_export(int argc, char **argv)
{
	const char *path = cmd_config_arg(argc, argv), *dir = argv[argc - 1];
	struct config *cfg;
	int rc;

	if (path == NULL || argc != 3 || dir == path || dir[0] == '-')
		return cmd_usage_error(EXPORT_WHO, "needs -c FILE and DIR");
	/* Said before anything is read, and without the advice to remove
	 * it that a failed export gives. */
	if (access(dir, F_OK) == 0) {
		fprintf(stderr, "tellonce " EXPORT_WHO ": %s exists (give a new "
		    "directory)\n", dir);
		return CMD_FAIL;
	}
	if ((cfg = cmd_load_config_offline(path)) == NULL)
		return CMD_FAIL;
	if (store_scheme_find(cfg->gateway.store)->is_path) {
		rc = cmd_audit_copy(EXPORT_WHO, cfg, dir);
	} else {
		config_free(cfg);
		if ((cfg = cmd_load_config(path)) == NULL)
			return CMD_FAIL;
		rc = export_shared(cfg, dir);
	}
	config_free(cfg);
	if (rc != 0)
		fprintf(stderr, "tellonce " EXPORT_WHO ": %s is incomplete: "
		    "remove it\n", dir);
	return rc == 0 ? CMD_OK : CMD_FAIL;
}
