/* fuzz_audit.c — the offline audit verifier against a hostile log
 * directory. A real log of FUZZ_ENTRIES entries is written once: more than
 * 256, so the tree has two levels (a full entry bundle and level-0 tile, a
 * partial bundle and level-0 tile after them, and a partial level-1 tile
 * over the full one). Each input then replaces one of its files (the first
 * byte says which: see fuzz_files) and the directory is verified. A log
 * that was changed must never verify as the original one, and nothing may
 * crash whatever the files hold. The checkpoint parser and signature check
 * also get the input as a note. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "checkpoint.h"
#include "fuzz.h"
#include "keys.h"

#define FUZZ_ENTRIES 300
#define FUZZ_NFILES 6

struct fuzz_file {
	char path[MERKLE_TILE_PATH_LEN + 8];    /* "audit/" + a tile path */
	unsigned char *data;
	size_t len;
};

/* The checkpoint; the full bundle and level-0 tile; the partial bundle and
 * level-0 tile; the partial level-1 tile. */
static struct fuzz_file fuzz_files[FUZZ_NFILES];
static char *fuzz_vkey;
static char fuzz_origin[] = "fuzz.tellonce.test/log";
static unsigned char fuzz_pub[32];
static merkle_hash fuzz_root;

static void
fuzz_read(struct fuzz_file *f)
{
	FILE *in = fopen(fuzz_path(f->path), "rb");

	if (in == NULL || fseek(in, 0, SEEK_END) != 0)
		abort();
	f->len = (size_t)ftell(in);
	rewind(in);
	if ((f->data = malloc(f->len + 1)) == NULL ||
	    fread(f->data, 1, f->len, in) != f->len)
		abort();
	fclose(in);
}

static void
fuzz_tile(struct fuzz_file *f, int level, uint64_t index, unsigned width)
{
	char tile[MERKLE_TILE_PATH_LEN];

	merkle_tile_path(tile, level, index, width);
	snprintf(f->path, sizeof(f->path), "audit/%s", tile);
}

/* Writes FUZZ_ENTRIES entries with the real writer and keeps its files. */
static void
fuzz_make_log(void)
{
	struct config_audit cfg = { .origin = fuzz_origin,
	    .checkpoint_interval_ms = 1000 };
	static const unsigned char view_key[COMMITMENT_KEY_LEN] = { 1 };
	struct audit_entry e = { .type = AUDIT_LINK, .decision = AUDIT_ALLOW,
	    .consumer = "caf", .subject = "00ff", .view_key = view_key };
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	BIO *bio = BIO_new(BIO_s_mem());
	char err[256], *pem;
	struct audit *a;
	uint64_t size;
	long len;

	if (key == NULL || bio == NULL ||
	    !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL))
		abort();
	len = BIO_get_mem_data(bio, &pem);
	cfg.signing_key.data = (unsigned char *)pem;
	cfg.signing_key.len = (size_t)len;
	cfg.dir = strdup(fuzz_path("audit"));
	if ((a = audit_open(&cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz: %s\n", err);
		abort();
	}
	for (int i = 0; i < FUZZ_ENTRIES; i++)
		if (audit_append(a, &e, NULL) != 0)
			abort();
	audit_close(a);
	keys_public_raw(key, fuzz_pub);
	fuzz_vkey = keys_verifier_string(fuzz_origin, fuzz_pub);
	if (audit_verify(cfg.dir, fuzz_vkey, &size, fuzz_root, NULL, NULL, err,
	    sizeof(err)) != 0 || size != FUZZ_ENTRIES)
		abort();
	snprintf(fuzz_files[0].path, sizeof(fuzz_files[0].path),
	    "audit/checkpoint");
	fuzz_tile(&fuzz_files[1], MERKLE_TILE_ENTRIES, 0, 0);
	fuzz_tile(&fuzz_files[2], 0, 0, 0);
	fuzz_tile(&fuzz_files[3], MERKLE_TILE_ENTRIES, 1,
	    FUZZ_ENTRIES % MERKLE_TILE_WIDTH);
	fuzz_tile(&fuzz_files[4], 0, 1, FUZZ_ENTRIES % MERKLE_TILE_WIDTH);
	fuzz_tile(&fuzz_files[5], 1, 0, FUZZ_ENTRIES / MERKLE_TILE_WIDTH);
	for (int i = 0; i < FUZZ_NFILES; i++)
		fuzz_read(&fuzz_files[i]);
	free(cfg.dir);
	BIO_free(bio);
	EVP_PKEY_free(key);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct checkpoint cp;
	merkle_hash root;
	uint64_t n;
	char err[512];
	int which, same;

	if (fuzz_vkey == NULL)
		fuzz_make_log();
	if (size < 1)
		return 0;
	checkpoint_parse((const char *)data + 1, size - 1, &cp, err, sizeof(err));
	checkpoint_verify((const char *)data + 1, size - 1, fuzz_origin,
	    fuzz_pub, err, sizeof(err));
	which = data[0] % FUZZ_NFILES;
	for (int i = 0; i < FUZZ_NFILES; i++)
		fuzz_write(fuzz_files[i].path, fuzz_files[i].data,
		    fuzz_files[i].len);
	fuzz_write(fuzz_files[which].path, data + 1, size - 1);
	same = size - 1 == fuzz_files[which].len &&
	    memcmp(data + 1, fuzz_files[which].data, size - 1) == 0;
	if (audit_verify(fuzz_path("audit"), fuzz_vkey, &n, root, NULL, NULL,
	    err, sizeof(err)) == 0 && !same && n == FUZZ_ENTRIES &&
	    memcmp(root, fuzz_root, sizeof(root)) == 0 && which != 0)
		abort();        /* a changed entry or tile went unnoticed */
	return 0;
}
