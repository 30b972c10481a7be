/* test_merkle.c — RFC 6962 known answers, proofs for every small tree, and
 * the rejection of every tampered proof; tile paths. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "merkle.h"
#include "unit.h"

#define NLEAVES 300

/* The leaves of the CT / transparency-dev test vectors, then filler. */
static const char *vector_leaves[8] = {
	"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
	"606162636465666768696a6b6c6d6e6f",
};
static const char *vector_roots[8] = {
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static merkle_hash leaves[NLEAVES];

static void
make_leaves(void)
{
	for (size_t i = 0; i < NLEAVES; i++) {
		unsigned char buf[32];
		size_t len;

		if (i < 8) {
			len = strlen(vector_leaves[i]) / 2;
			decode_hex(vector_leaves[i], buf, len);
		} else {
			len = 4;
			memcpy(buf, "leaf", 4);
			buf[3] = (unsigned char)i;
			buf[2] = (unsigned char)(i >> 8);
		}
		merkle_leaf_hash(buf, len, leaves[i]);
	}
}

/* Reference MTH straight from RFC 6962 §2.1, sharing nothing with the
 * proof code but the node hash. */
static void
ref_mth(uint64_t begin, uint64_t end, merkle_hash out)
{
	uint64_t k = 1;
	merkle_hash l, r;

	if (end - begin == 1) {
		memcpy(out, leaves[begin], MERKLE_HASH_LEN);
		return;
	}
	while (k * 2 < end - begin)
		k *= 2;
	ref_mth(begin, begin + k, l);
	ref_mth(begin + k, end, r);
	merkle_node_hash(l, r, out);
}

static int
ref_read(void *ctx, unsigned level, uint64_t index, merkle_hash out)
{
	uint64_t *reads = ctx;

	if (((index + 1) << level) > NLEAVES)
		return -1;
	(*reads)++;
	ref_mth(index << level, (index + 1) << level, out);
	return 0;
}

static void
hex_to_hash(const char *hex, merkle_hash out)
{
	decode_hex(hex, out, MERKLE_HASH_LEN);
}

static void
test_vector_roots(void)
{
	merkle_hash root, want, empty;
	struct merkle_tiles *t = calloc(1, sizeof(*t));
	uint64_t reads = 0;

	merkle_empty_root(empty);
	hex_to_hash("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    want);
	CHECK(memcmp(empty, want, 32) == 0);
	CHECK_INT(merkle_root(ref_read, &reads, 0, root), 0);
	CHECK(memcmp(root, want, 32) == 0);

	merkle_tiles_init(t);
	for (int n = 1; n <= 8; n++) {
		hex_to_hash(vector_roots[n - 1], want);
		CHECK_INT(merkle_root(ref_read, &reads, (uint64_t)n, root), 0);
		CHECK(memcmp(root, want, 32) == 0);
		CHECK_INT(merkle_tiles_append(t, leaves[n - 1], NULL, NULL), 0);
		merkle_tiles_root(t, root);
		CHECK(memcmp(root, want, 32) == 0);
	}
	free(t);
}

static void
check_proof_hex(const merkle_hash *proof, size_t n, const char *const *want,
    size_t nwant)
{
	char hex[65];

	CHECK_INT(n, nwant);
	for (size_t i = 0; i < n && i < nwant; i++) {
		encode_hex(proof[i], 32, hex);
		CHECK_STR(hex, want[i]);
	}
}

static void
test_vector_proofs(void)
{
	static const char *inc_0_8[] = {
		"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
		"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
	};
	static const char *inc_5_8[] = {
		"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
		"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	};
	static const char *inc_2_3[] = {
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	};
	static const char *inc_1_5[] = {
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	};
	static const char *con_6_8[] = {
		"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
		"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	};
	static const char *con_2_5[] = {
		"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	};
	merkle_hash proof[MERKLE_MAX_PROOF];
	uint64_t reads = 0;
	size_t n;

	CHECK_INT(merkle_inclusion_proof(ref_read, &reads, 0, 1, proof, &n), 0);
	CHECK_INT(n, 0);
	CHECK_INT(merkle_inclusion_proof(ref_read, &reads, 0, 8, proof, &n), 0);
	check_proof_hex(proof, n, inc_0_8, 3);
	CHECK_INT(merkle_inclusion_proof(ref_read, &reads, 5, 8, proof, &n), 0);
	check_proof_hex(proof, n, inc_5_8, 3);
	CHECK_INT(merkle_inclusion_proof(ref_read, &reads, 2, 3, proof, &n), 0);
	check_proof_hex(proof, n, inc_2_3, 1);
	CHECK_INT(merkle_inclusion_proof(ref_read, &reads, 1, 5, proof, &n), 0);
	check_proof_hex(proof, n, inc_1_5, 3);

	CHECK_INT(merkle_consistency_proof(ref_read, &reads, 1, 1, proof, &n), 0);
	CHECK_INT(n, 0);
	CHECK_INT(merkle_consistency_proof(ref_read, &reads, 1, 8, proof, &n), 0);
	check_proof_hex(proof, n, inc_0_8, 3);
	CHECK_INT(merkle_consistency_proof(ref_read, &reads, 6, 8, proof, &n), 0);
	check_proof_hex(proof, n, con_6_8, 3);
	CHECK_INT(merkle_consistency_proof(ref_read, &reads, 2, 5, proof, &n), 0);
	check_proof_hex(proof, n, con_2_5, 2);
}

static void
test_inclusion_all(void)
{
	merkle_hash proof[MERKLE_MAX_PROOF], root, other_root;
	uint64_t reads = 0;
	size_t n;
	int bad = 0;

	for (uint64_t size = 1; size <= 64; size++) {
		ref_mth(0, size, root);
		for (uint64_t i = 0; i < size; i++) {
			if (merkle_inclusion_proof(ref_read, &reads, i, size, proof,
			    &n) != 0 ||
			    merkle_verify_inclusion(i, size, leaves[i], proof, n,
			    root) != 0) {
				bad++;
				continue;
			}
			/* Each flipped bit of each hash breaks it. */
			for (size_t j = 0; j < n; j++) {
				proof[j][j % 32] ^= 0x40;
				bad += merkle_verify_inclusion(i, size, leaves[i],
				    proof, n, root) == 0;
				proof[j][j % 32] ^= 0x40;
			}
			/* A dropped or an extra hash breaks it. */
			if (n > 0)
				bad += merkle_verify_inclusion(i, size, leaves[i],
				    proof, n - 1, root) == 0;
			memcpy(proof[n], root, 32);
			bad += merkle_verify_inclusion(i, size, leaves[i], proof,
			    n + 1, root) == 0;
			/* So does claiming another index or another tree. */
			for (uint64_t k = 0; k < size; k++)
				if (k != i)
					bad += merkle_verify_inclusion(k, size,
					    leaves[i], proof, n, root) == 0;
			ref_mth(0, size + 1, other_root);
			bad += merkle_verify_inclusion(i, size + 1, leaves[i],
			    proof, n, other_root) == 0;
			if (size > i + 1) {
				ref_mth(0, size - 1, other_root);
				bad += merkle_verify_inclusion(i, size - 1,
				    leaves[i], proof, n, other_root) == 0;
			}
			bad += merkle_verify_inclusion(i, size, leaves[i], proof,
			    n, other_root) == 0;
		}
	}
	CHECK_INT(bad, 0);
	CHECK_INT(merkle_inclusion_proof(ref_read, &reads, 5, 5, proof, &n), -1);
	CHECK_INT(merkle_verify_inclusion(5, 5, leaves[5], proof, 0, root), -1);
}

static void
test_consistency_all(void)
{
	merkle_hash proof[MERKLE_MAX_PROOF], r1, r2, other;
	uint64_t reads = 0;
	size_t n;
	int bad = 0;

	for (uint64_t to = 1; to <= 64; to++) {
		ref_mth(0, to, r2);
		for (uint64_t from = 1; from <= to; from++) {
			ref_mth(0, from, r1);
			if (merkle_consistency_proof(ref_read, &reads, from, to,
			    proof, &n) != 0 ||
			    merkle_verify_consistency(from, to, proof, n, r1,
			    r2) != 0) {
				bad++;
				continue;
			}
			for (size_t j = 0; j < n; j++) {
				proof[j][31 - j % 32] ^= 0x01;
				bad += merkle_verify_consistency(from, to, proof,
				    n, r1, r2) == 0;
				proof[j][31 - j % 32] ^= 0x01;
			}
			if (n > 0)
				bad += merkle_verify_consistency(from, to, proof,
				    n - 1, r1, r2) == 0;
			if (from < to) {
				/* Claimed against other sizes or roots. */
				ref_mth(0, to + 1, other);
				bad += merkle_verify_consistency(from, to + 1,
				    proof, n, r1, other) == 0;
				if (from > 1) {
					ref_mth(0, from - 1, other);
					bad += merkle_verify_consistency(from - 1,
					    to, proof, n, other, r2) == 0;
				}
				bad += merkle_verify_consistency(from, to, proof,
				    n, r2, r2) == 0;
				bad += merkle_verify_consistency(from, to, proof,
				    n, r1, r1) == 0;
			}
		}
	}
	CHECK_INT(bad, 0);
	CHECK_INT(merkle_consistency_proof(ref_read, &reads, 5, 4, proof, &n), -1);
}

/* merkle_tiles_append builds the same tree as the reference, reports
 * exactly the full tiles, and restores its edge from its tiles. */
struct tiles_seen {
	unsigned count;
	unsigned level;
	uint64_t index;
	merkle_hash first;
};

static int
tiles_full(void *arg, unsigned level, uint64_t index,
    const merkle_hash hashes[MERKLE_TILE_WIDTH])
{
	struct tiles_seen *s = arg;

	s->count++;
	s->level = level;
	s->index = index;
	memcpy(s->first, hashes[0], 32);
	return 0;
}

static void
test_tiles(void)
{
	struct merkle_tiles *t = calloc(1, sizeof(*t));
	struct merkle_tiles *r = calloc(1, sizeof(*r));
	struct tiles_seen seen = {0};
	merkle_hash a, b;
	int bad = 0;

	merkle_tiles_init(t);
	for (size_t i = 0; i < NLEAVES; i++) {
		CHECK_INT(merkle_tiles_append(t, leaves[i], tiles_full, &seen), 0);
		merkle_tiles_root(t, a);
		ref_mth(0, i + 1, b);
		bad += memcmp(a, b, 32) != 0;
		/* A fresh tree given only size and tiles has the same root. */
		merkle_tiles_init(r);
		r->size = t->size;
		memcpy(r->tile, t->tile, sizeof(t->tile));
		merkle_tiles_restore(r);
		merkle_tiles_root(r, b);
		bad += memcmp(a, b, 32) != 0;
	}
	CHECK_INT(bad, 0);
	CHECK_INT(seen.count, 1);
	CHECK_INT(seen.level, 0);
	CHECK_INT(seen.index, 0);
	CHECK(memcmp(seen.first, leaves[0], 32) == 0);
	CHECK_INT(merkle_tile_width(300, 0), 44);
	CHECK_INT(merkle_tile_width(300, 1), 1);
	CHECK_INT(merkle_tile_width(256, 0), 0);
	CHECK_INT(merkle_tile_width(70000, 0), 112);
	CHECK_INT(merkle_tile_width(70000, 1), 17);
	CHECK_INT(merkle_tile_width(70000, 2), 1);
	free(t);
	free(r);
}

static void
test_tile_paths(void)
{
	char p[MERKLE_TILE_PATH_LEN];
	uint64_t index;
	unsigned width;
	int level;

	merkle_tile_path(p, 0, 1234067, 0);
	CHECK_STR(p, "tile/0/x001/x234/067");
	merkle_tile_path(p, 2, 5, 17);
	CHECK_STR(p, "tile/2/005.p/17");
	merkle_tile_path(p, MERKLE_TILE_ENTRIES, 1000, 255);
	CHECK_STR(p, "tile/entries/x001/000.p/255");
	merkle_tile_path(p, 63, UINT64_MAX, 0);
	CHECK_STR(p, "tile/63/x018/x446/x744/x073/x709/x551/615");

	CHECK_INT(merkle_tile_parse("0/x001/x234/067", &level, &index, &width), 0);
	CHECK_INT(level, 0);
	CHECK_INT(index, 1234067);
	CHECK_INT(width, 0);
	CHECK_INT(merkle_tile_parse("entries/x001/000.p/255", &level, &index,
	    &width), 0);
	CHECK_INT(level, MERKLE_TILE_ENTRIES);
	CHECK_INT(index, 1000);
	CHECK_INT(width, 255);
	CHECK_INT(merkle_tile_parse("63/000", &level, &index, &width), 0);

	static const char *bad[] = {
		"", "0", "0/", "0/00", "0/0000", "0/x000/001", "0/001/002",
		"0/x001", "00/000", "64/000", "0/000.p/0", "0/000.p/256",
		"0/000.p/01", "0/000.p/", "0/000/", "../000", "0/../000",
		"0/x001/../000", "entries/000.p/1/x", "entry/000", "0/000 ",
		"-1/000", "0/x1/000", "0/000.p/1.p/2",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (merkle_tile_parse(bad[i], &level, &index, &width) == 0) {
			fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
			CHECK(0);
		}
}

int
main(void)
{
	make_leaves();
	UNIT_RUN(test_vector_roots);
	UNIT_RUN(test_vector_proofs);
	UNIT_RUN(test_inclusion_all);
	UNIT_RUN(test_consistency_all);
	UNIT_RUN(test_tiles);
	UNIT_RUN(test_tile_paths);
	return UNIT_END();
}
