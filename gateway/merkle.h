/* merkle.h — RFC 6962 / RFC 9162 Merkle tree arithmetic and C2SP tlog-tiles
 * layout, as pure functions: no I/O, no allocation, no locks.
 *
 * Hashes are SHA-256: leaf = H(0x00 || entry), node = H(0x01 || left || right).
 * A "node (level, index)" is the perfect subtree over the leaves
 * [index << level, (index + 1) << level). Code that stores the tree supplies
 * those hashes through a merkle_read_fn; this file derives roots and proofs
 * from them. */
#ifndef TELLONCE_MERKLE_H
#define TELLONCE_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH_LEN    32
#define MERKLE_TILE_HEIGHT 8
#define MERKLE_TILE_WIDTH  256                  /* hashes in a full tile */
#define MERKLE_TILE_BYTES  (MERKLE_TILE_WIDTH * MERKLE_HASH_LEN)
#define MERKLE_TILE_LEVELS 8                    /* 256^8 = 2^64 leaves */
#define MERKLE_MAX_PROOF   128                  /* hashes in any proof */
#define MERKLE_TILE_PATH_LEN 96                 /* "tile/entries/x.../NNN.p/WWW" */
#define MERKLE_TILE_ENTRIES (-1)                /* the level of entry bundles */

typedef unsigned char merkle_hash[MERKLE_HASH_LEN];

void merkle_leaf_hash(const void *entry, size_t len, merkle_hash out);
void merkle_node_hash(const merkle_hash left, const merkle_hash right,
    merkle_hash out);
/* The root of the empty tree: SHA-256 of the empty string. */
void merkle_empty_root(merkle_hash out);
/* Root of a perfect tree over `n` consecutive hashes, n a power of two of
 * at most MERKLE_TILE_WIDTH (a tile or part of one). */
void merkle_perfect_root(const merkle_hash *hashes, size_t n, merkle_hash out);

/* Supplies the hash of node (level, index); 0, or -1 when it cannot. */
typedef int (*merkle_read_fn)(void *ctx, unsigned level, uint64_t index,
    merkle_hash out);

/* MTH(D[begin:end]) as RFC 6962 §2.1 defines it; begin < end. 0 or -1. */
int merkle_range_root(merkle_read_fn read, void *ctx, uint64_t begin,
    uint64_t end, merkle_hash out);
/* Root of the tree of `size` leaves (the empty root for 0). 0 or -1. */
int merkle_root(merkle_read_fn read, void *ctx, uint64_t size, merkle_hash out);
/* Audit path of leaf `index` in the tree of `size` (RFC 6962 §2.1.1),
 * leaf side first. -1 if index >= size or a read fails. */
int merkle_inclusion_proof(merkle_read_fn read, void *ctx, uint64_t index,
    uint64_t size, merkle_hash proof[MERKLE_MAX_PROOF], size_t *n);
/* Consistency proof from the tree of `from` leaves to the one of `to`
 * (RFC 6962 §2.1.2); empty when from is 0 or equals to. -1 if from > to. */
int merkle_consistency_proof(merkle_read_fn read, void *ctx, uint64_t from,
    uint64_t to, merkle_hash proof[MERKLE_MAX_PROOF], size_t *n);

/* RFC 9162 §2.1.3.2; 0 when the proof leads from leaf to root. */
int merkle_verify_inclusion(uint64_t index, uint64_t size,
    const merkle_hash leaf, const merkle_hash *proof, size_t n,
    const merkle_hash root);
/* RFC 9162 §2.1.4.2; 0 when the tree of root2 extends that of root1. */
int merkle_verify_consistency(uint64_t from, uint64_t to,
    const merkle_hash *proof, size_t n, const merkle_hash root1,
    const merkle_hash root2);

/* ---- growing a tree and its tiles ------------------------------------ */

/* The right edge of a tree: enough to append and to compute the root.
 * edge[l] is the node of level l for each bit l set in size; tile[L] holds
 * the first width(L) hashes of the incomplete tile of level L. */
struct merkle_tiles {
	uint64_t size;
	merkle_hash edge[64];
	merkle_hash tile[MERKLE_TILE_LEVELS][MERKLE_TILE_WIDTH];
};

/* Called when the tile (level, index) becomes full, before its memory is
 * reused; 0, or -1 to stop the append. */
typedef int (*merkle_tile_fn)(void *arg, unsigned level, uint64_t index,
    const merkle_hash hashes[MERKLE_TILE_WIDTH]);

void merkle_tiles_init(struct merkle_tiles *t);
/* Appends one leaf hash. On -1 (from full) the tree is left inconsistent. */
int merkle_tiles_append(struct merkle_tiles *t, const merkle_hash leaf,
    merkle_tile_fn full, void *arg);
/* After t->size and every t->tile[L][0 .. width) were filled from storage,
 * recomputes the edge. */
void merkle_tiles_restore(struct merkle_tiles *t);
void merkle_tiles_root(const struct merkle_tiles *t, merkle_hash out);
/* Hashes in the incomplete tile of `level` of a tree of `size` leaves (the
 * width of its partial tile; 0 when there is none). */
unsigned merkle_tile_width(uint64_t size, unsigned level);

/* ---- tile paths ----------------------------------------------------- */

/* "tile/<L>/<N>[.p/<W>]" or, for level MERKLE_TILE_ENTRIES,
 * "tile/entries/<N>[.p/<W>]"; width 0 is a full tile. N is written in
 * the "x001/x234/067" form. */
void merkle_tile_path(char out[MERKLE_TILE_PATH_LEN], int level, uint64_t index,
    unsigned width);
/* Parses what follows "tile/" in a tile path, accepting only the one
 * canonical spelling of each tile. 0 or -1. */
int merkle_tile_parse(const char *path, int *level, uint64_t *index,
    unsigned *width);

#endif
