/* merkle.c — RFC 6962 tree hashes, proofs and tlog-tiles arithmetic. */
#include "merkle.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"

/* SHA-256 of the concatenation of two buffers. A hash that cannot be
 * computed (no memory) must not become a wrong tile: abort. */
static void
merkle_sha256(const void *a, size_t alen, const void *b, size_t blen,
    merkle_hash out)
{
	const EVP_MD *md = sha256_md();
	EVP_MD_CTX *c;

	if (md == NULL || (c = EVP_MD_CTX_new()) == NULL)
		abort();
	if (EVP_DigestInit_ex2(c, md, NULL) != 1 ||
	    EVP_DigestUpdate(c, a, alen) != 1 ||
	    (blen > 0 && EVP_DigestUpdate(c, b, blen) != 1) ||
	    EVP_DigestFinal_ex(c, out, NULL) != 1)
		abort();
	EVP_MD_CTX_free(c);
}

void
merkle_leaf_hash(const void *entry, size_t len, merkle_hash out)
{
	static const unsigned char prefix = 0x00;

	merkle_sha256(&prefix, 1, entry, len, out);
}

void
merkle_node_hash(const merkle_hash left, const merkle_hash right,
    merkle_hash out)
{
	unsigned char buf[1 + 2 * MERKLE_HASH_LEN];

	buf[0] = 0x01;
	memcpy(buf + 1, left, MERKLE_HASH_LEN);
	memcpy(buf + 1 + MERKLE_HASH_LEN, right, MERKLE_HASH_LEN);
	merkle_sha256(buf, sizeof(buf), NULL, 0, out);
}

void
merkle_empty_root(merkle_hash out)
{
	merkle_sha256("", 0, NULL, 0, out);
}

void
merkle_perfect_root(const merkle_hash *hashes, size_t n, merkle_hash out)
{
	merkle_hash level[MERKLE_TILE_WIDTH / 2];
	size_t i;

	if (n == 1) {
		memcpy(out, hashes[0], MERKLE_HASH_LEN);
		return;
	}
	for (i = 0; i < n / 2; i++)
		merkle_node_hash(hashes[2 * i], hashes[2 * i + 1], level[i]);
	for (n /= 2; n > 1; n /= 2)
		for (i = 0; i < n / 2; i++)
			merkle_node_hash(level[2 * i], level[2 * i + 1], level[i]);
	memcpy(out, level[0], MERKLE_HASH_LEN);
}

/* The largest power of two strictly below n (n >= 2). */
static uint64_t
merkle_split(uint64_t n)
{
	uint64_t k = 1;

	while (k << 1 < n)
		k <<= 1;
	return k;
}

static int
merkle_is_pow2(uint64_t n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

static unsigned
merkle_log2(uint64_t n)
{
	unsigned l = 0;

	while (n >>= 1)
		l++;
	return l;
}

int
merkle_range_root(merkle_read_fn read, void *ctx, uint64_t begin,
    uint64_t end, merkle_hash out)
{
	uint64_t n = end - begin, k;
	merkle_hash l, r;

	if (begin >= end)
		return -1;
	/* A perfect, aligned range is one stored node. */
	if (merkle_is_pow2(n) && begin % n == 0)
		return read(ctx, merkle_log2(n), begin / n, out);
	k = merkle_split(n);
	if (merkle_range_root(read, ctx, begin, begin + k, l) == -1 ||
	    merkle_range_root(read, ctx, begin + k, end, r) == -1)
		return -1;
	merkle_node_hash(l, r, out);
	return 0;
}

int
merkle_root(merkle_read_fn read, void *ctx, uint64_t size, merkle_hash out)
{
	if (size == 0) {
		merkle_empty_root(out);
		return 0;
	}
	return merkle_range_root(read, ctx, 0, size, out);
}

/* PATH(m, D[begin:end]), appended leaf side first. */
static int
merkle_path(merkle_read_fn read, void *ctx, uint64_t m, uint64_t begin,
    uint64_t end, merkle_hash *proof, size_t *n)
{
	uint64_t k;
	int rc;

	if (end - begin == 1)
		return 0;
	k = merkle_split(end - begin);
	if (*n >= MERKLE_MAX_PROOF)
		return -1;
	if (m < k) {
		if (merkle_path(read, ctx, m, begin, begin + k, proof, n) == -1)
			return -1;
		rc = merkle_range_root(read, ctx, begin + k, end, proof[*n]);
	} else {
		if (merkle_path(read, ctx, m - k, begin + k, end, proof, n) == -1)
			return -1;
		rc = merkle_range_root(read, ctx, begin, begin + k, proof[*n]);
	}
	if (rc == -1)
		return -1;
	(*n)++;
	return 0;
}

int
merkle_inclusion_proof(merkle_read_fn read, void *ctx, uint64_t index,
    uint64_t size, merkle_hash proof[MERKLE_MAX_PROOF], size_t *n)
{
	*n = 0;
	if (index >= size)
		return -1;
	return merkle_path(read, ctx, index, 0, size, proof, n);
}

/* SUBPROOF(m, D[begin:end], complete) of RFC 6962 §2.1.2. */
static int
merkle_subproof(merkle_read_fn read, void *ctx, uint64_t m, uint64_t begin,
    uint64_t end, int complete, merkle_hash *proof, size_t *n)
{
	uint64_t k;
	int rc;

	if (*n >= MERKLE_MAX_PROOF)
		return -1;
	if (m == end - begin) {
		if (complete)
			return 0;
		if (merkle_range_root(read, ctx, begin, end, proof[*n]) == -1)
			return -1;
		(*n)++;
		return 0;
	}
	k = merkle_split(end - begin);
	if (m <= k) {
		if (merkle_subproof(read, ctx, m, begin, begin + k, complete,
		    proof, n) == -1)
			return -1;
		rc = merkle_range_root(read, ctx, begin + k, end, proof[*n]);
	} else {
		if (merkle_subproof(read, ctx, m - k, begin + k, end, 0,
		    proof, n) == -1)
			return -1;
		rc = merkle_range_root(read, ctx, begin, begin + k, proof[*n]);
	}
	if (rc == -1 || *n >= MERKLE_MAX_PROOF)
		return -1;
	(*n)++;
	return 0;
}

int
merkle_consistency_proof(merkle_read_fn read, void *ctx, uint64_t from,
    uint64_t to, merkle_hash proof[MERKLE_MAX_PROOF], size_t *n)
{
	*n = 0;
	if (from > to)
		return -1;
	if (from == 0 || from == to)
		return 0;
	return merkle_subproof(read, ctx, from, 0, to, 1, proof, n);
}

int
merkle_verify_inclusion(uint64_t index, uint64_t size,
    const merkle_hash leaf, const merkle_hash *proof, size_t n,
    const merkle_hash root)
{
	uint64_t fn = index, sn;
	merkle_hash r;

	if (index >= size)
		return -1;
	sn = size - 1;
	memcpy(r, leaf, MERKLE_HASH_LEN);
	for (size_t i = 0; i < n; i++) {
		if (sn == 0)
			return -1;
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(proof[i], r, r);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			merkle_node_hash(r, proof[i], r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || memcmp(r, root, MERKLE_HASH_LEN) != 0)
		return -1;
	return 0;
}

int
merkle_verify_consistency(uint64_t from, uint64_t to,
    const merkle_hash *proof, size_t n, const merkle_hash root1,
    const merkle_hash root2)
{
	uint64_t fn, sn;
	merkle_hash fr, sr, empty;
	size_t i = 0;

	if (from > to)
		return -1;
	if (from == to)
		return n == 0 && memcmp(root1, root2, MERKLE_HASH_LEN) == 0 ? 0 : -1;
	if (from == 0) {
		merkle_empty_root(empty);
		return n == 0 && memcmp(root1, empty, MERKLE_HASH_LEN) == 0 ? 0 : -1;
	}
	if (n == 0)
		return -1;
	/* When from is a power of two, the old root is the proof's implicit
	 * first element. */
	if (merkle_is_pow2(from)) {
		memcpy(fr, root1, MERKLE_HASH_LEN);
	} else {
		memcpy(fr, proof[0], MERKLE_HASH_LEN);
		i = 1;
	}
	memcpy(sr, fr, MERKLE_HASH_LEN);
	fn = from - 1;
	sn = to - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < n; i++) {
		if (sn == 0)
			return -1;
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(proof[i], fr, fr);
			merkle_node_hash(proof[i], sr, sr);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			merkle_node_hash(sr, proof[i], sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || memcmp(fr, root1, MERKLE_HASH_LEN) != 0 ||
	    memcmp(sr, root2, MERKLE_HASH_LEN) != 0)
		return -1;
	return 0;
}

/* ---- growing a tree and its tiles ------------------------------------ */

void
merkle_tiles_init(struct merkle_tiles *t)
{
	memset(t, 0, sizeof(*t));
}

unsigned
merkle_tile_width(uint64_t size, unsigned level)
{
	unsigned shift = level * MERKLE_TILE_HEIGHT;

	return shift >= 64 ? 0 : (unsigned)(size >> shift) % MERKLE_TILE_WIDTH;
}

/* Node (level, index) is complete: tile levels keep every 8th level. */
static int
merkle_tiles_node(struct merkle_tiles *t, unsigned level, uint64_t index,
    const merkle_hash h, merkle_tile_fn full, void *arg)
{
	unsigned tl = level / MERKLE_TILE_HEIGHT, pos;

	if (level % MERKLE_TILE_HEIGHT != 0 || tl >= MERKLE_TILE_LEVELS)
		return 0;
	pos = (unsigned)(index % MERKLE_TILE_WIDTH);
	memcpy(t->tile[tl][pos], h, MERKLE_HASH_LEN);
	if (pos == MERKLE_TILE_WIDTH - 1 && full != NULL)
		return full(arg, tl, index / MERKLE_TILE_WIDTH,
		    (const merkle_hash *)t->tile[tl]);
	return 0;
}

int
merkle_tiles_append(struct merkle_tiles *t, const merkle_hash leaf,
    merkle_tile_fn full, void *arg)
{
	uint64_t s = t->size;
	unsigned level = 0;
	merkle_hash h;

	memcpy(h, leaf, MERKLE_HASH_LEN);
	if (merkle_tiles_node(t, 0, s, h, full, arg) == -1)
		return -1;
	/* Each set low bit of the old size is a left sibling to merge with. */
	while (s >> level & 1) {
		merkle_node_hash(t->edge[level], h, h);
		level++;
		if (merkle_tiles_node(t, level, s >> level, h, full, arg) == -1)
			return -1;
	}
	memcpy(t->edge[level], h, MERKLE_HASH_LEN);
	t->size = s + 1;
	return 0;
}

void
merkle_tiles_restore(struct merkle_tiles *t)
{
	for (unsigned l = 0; l < 64; l++) {
		unsigned tl = l / MERKLE_TILE_HEIGHT, r = l % MERKLE_TILE_HEIGHT;
		unsigned end, count = 1u << r;

		if (!(t->size >> l & 1))
			continue;
		/* The edge node of level l spans the last `count` complete
		 * hashes of the incomplete tile of its tile level. */
		end = merkle_tile_width(t->size, tl) & ~(count - 1);
		merkle_perfect_root((const merkle_hash *)t->tile[tl] + (end - count),
		    count, t->edge[l]);
	}
}

void
merkle_tiles_root(const struct merkle_tiles *t, merkle_hash out)
{
	unsigned l = 0;

	if (t->size == 0) {
		merkle_empty_root(out);
		return;
	}
	while (!(t->size >> l & 1))
		l++;
	memcpy(out, t->edge[l], MERKLE_HASH_LEN);
	for (l++; l < 64; l++)
		if (t->size >> l & 1)
			merkle_node_hash(t->edge[l], out, out);
}

/* ---- tile paths ----------------------------------------------------- */

void
merkle_tile_path(char out[MERKLE_TILE_PATH_LEN], int level, uint64_t index,
    unsigned width)
{
	char digits[8][4];
	int n = 0, o;

	do {
		snprintf(digits[n++], sizeof(digits[0]), "%03u",
		    (unsigned)(index % 1000));
		index /= 1000;
	} while (index > 0);
	if (level == MERKLE_TILE_ENTRIES)
		o = snprintf(out, MERKLE_TILE_PATH_LEN, "tile/entries");
	else
		o = snprintf(out, MERKLE_TILE_PATH_LEN, "tile/%d", level);
	while (n-- > 0)
		o += snprintf(out + o, (size_t)(MERKLE_TILE_PATH_LEN - o), "/%s%s",
		    n > 0 ? "x" : "", digits[n]);
	if (width > 0)
		snprintf(out + o, (size_t)(MERKLE_TILE_PATH_LEN - o), ".p/%u", width);
}

/* A decimal of at most `max`, without leading zeroes; advances *p. */
static int
merkle_parse_uint(const char **p, unsigned max, unsigned *out)
{
	const char *s = *p;
	unsigned v = 0;

	if (*s < '0' || *s > '9' || (*s == '0' && s[1] >= '0' && s[1] <= '9'))
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (unsigned)(*s - '0');
		if (v > max)
			return -1;
	}
	*p = s;
	*out = v;
	return 0;
}

int
merkle_tile_parse(const char *path, int *level, uint64_t *index,
    unsigned *width)
{
	const char *p = path;
	char canon[MERKLE_TILE_PATH_LEN];
	unsigned lv;
	uint64_t n = 0;
	int elems = 0;

	*width = 0;
	if (strncmp(p, "entries/", 8) == 0) {
		*level = MERKLE_TILE_ENTRIES;
		p += 8;
	} else {
		if (merkle_parse_uint(&p, 63, &lv) == -1 || *p++ != '/')
			return -1;
		*level = (int)lv;
	}
	for (;;) {
		int x = *p == 'x';

		p += x;
		if (strspn(p, "0123456789") < 3 || ++elems > 7)
			return -1;
		n = n * 1000 + (uint64_t)((p[0] - '0') * 100 + (p[1] - '0') * 10 +
		    (p[2] - '0'));
		p += 3;
		if (!x)
			break;
		if (*p++ != '/')
			return -1;
	}
	if (strncmp(p, ".p/", 3) == 0) {
		p += 3;
		if (merkle_parse_uint(&p, MERKLE_TILE_WIDTH - 1, width) == -1 ||
		    *width == 0)
			return -1;
	}
	if (*p != '\0')
		return -1;
	*index = n;
	/* Only the one spelling merkle_tile_path writes (no "x000/" prefix,
	 * an x on every element but the last) is a tile. */
	merkle_tile_path(canon, *level, n, *width);
	return strcmp(canon + 5, path) == 0 ? 0 : -1;
}
