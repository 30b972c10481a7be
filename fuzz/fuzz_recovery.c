/* fuzz_recovery.c — audit recovery at start (journal replay, tiles rebuilt
 * from the entries) on a hostile log directory. A real log is made once, as
 * a crash leaves it: a checkpoint signed at FUZZ_SIGNED entries (a full
 * bundle and level-0 tile, partial ones after them, a partial level-1
 * tile), then entries up to FUZZ_ENTRIES in the journal only, which starts
 * at the second bundle. Each input restores that directory
 * and edits it (fuzz_edit), then the log is opened as the gateway does at
 * start.
 *
 * Oracle: opening is refused, or the recovered log, closed (which signs a
 * checkpoint over it), passes `audit verify` with at least the entries the
 * old checkpoint signed. Never a crash, never a log that the gateway signs
 * and that does not verify. */
#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "fuzz.h"
#include "keys.h"
#include "log.h"
#include "tests/unit/tmpdir.h"

#define FUZZ_SIGNED 280
#define FUZZ_ENTRIES 300
#define FUZZ_MAX_FILES 32

struct fuzz_file {
	char path[MERKLE_TILE_PATH_LEN];        /* relative to the log */
	unsigned char *data;
	size_t len;
};

static struct fuzz_file fuzz_files[FUZZ_MAX_FILES];
static size_t fuzz_nfiles;
static struct config *fuzz_base;
static struct config_audit fuzz_cfg;   /* fuzz_base's, another interval */
static char *fuzz_vkey;
static size_t fuzz_dirlen;

static int
fuzz_keep(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	struct fuzz_file *f = &fuzz_files[fuzz_nfiles];
	FILE *in;

	if (type != FTW_F)
		return 0;
	if (fuzz_nfiles == FUZZ_MAX_FILES || (in = fopen(path, "rb")) == NULL)
		abort();
	snprintf(f->path, sizeof(f->path), "%s", path + fuzz_dirlen + 1);
	f->len = (size_t)st->st_size;
	if ((f->data = malloc(f->len + 1)) == NULL ||
	    fread(f->data, 1, f->len, in) != f->len)
		abort();
	fclose(in);
	/* The zeros written ahead of the journal's end only slow the restore
	 * down: keep a few, as the end marker. */
	if (strcmp(f->path, "journal") == 0)
		while (f->len > 64 && f->data[f->len - 65] == 0)
			f->len--;
	fuzz_nfiles++;
	return 0;
}

static int
fuzz_path_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fuzz_file *)a)->path,
	    ((const struct fuzz_file *)b)->path);
}

static void
fuzz_append(struct audit *a, int n)
{
	static const unsigned char view_key[COMMITMENT_KEY_LEN] = { 1 };
	struct audit_entry e = { .type = AUDIT_LINK, .decision = AUDIT_ALLOW,
	    .consumer = "caf", .subject = "00ff", .view_key = view_key };

	for (int i = 0; i < n; i++)
		if (audit_append(a, &e, NULL) != 0)
			abort();
}

static struct audit *
fuzz_open(int64_t interval_ms)
{
	struct audit *a;
	char err[512];

	fuzz_cfg.checkpoint_interval_ms = interval_ms;
	if ((a = audit_open(&fuzz_cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz: %s\n", err);
		abort();
	}
	return a;
}

static void
fuzz_exit(void)
{
	for (size_t i = 0; i < fuzz_nfiles; i++)
		free(fuzz_files[i].data);
	free(fuzz_cfg.dir);
	free(fuzz_vkey);
	config_free(fuzz_base);
}

/* The log as a SIGKILL leaves it, kept in fuzz_files. */
static void
fuzz_make_log(void)
{
	unsigned char pub[32];
	struct audit *a;
	EVP_PKEY *key;
	char err[256];

	log_set_level(LOG_LEVEL_ERROR);
	fuzz_base = fuzz_config(fuzz_base_config);
	atexit(fuzz_exit);
	fuzz_cfg = fuzz_base->gateway.audit;
	fuzz_cfg.dir = strdup(fuzz_path("audit"));
	fuzz_dirlen = strlen(fuzz_cfg.dir);
	if ((key = keys_load_private(&fuzz_cfg.signing_key, err,
	    sizeof(err))) == NULL || keys_public_raw(key, pub) != 0)
		abort();
	fuzz_vkey = keys_verifier_string(fuzz_cfg.origin, pub);
	EVP_PKEY_free(key);
	a = fuzz_open(1000);
	fuzz_append(a, FUZZ_SIGNED);
	audit_close(a);
	/* No checkpoint comes due while the rest is appended: the files are
	 * kept as they are before the close signs them. */
	a = fuzz_open(3600 * 1000);
	fuzz_append(a, FUZZ_ENTRIES - FUZZ_SIGNED);
	if (nftw(fuzz_cfg.dir, fuzz_keep, 8, FTW_PHYS) != 0)
		abort();
	/* Inputs name files by index: keep it the same from run to run. */
	qsort(fuzz_files, fuzz_nfiles, sizeof(fuzz_files[0]), fuzz_path_cmp);
	audit_close(a);
}

static void
fuzz_restore(void)
{
	char path[PATH_MAX], *slash;

	tmpdir_remove(fuzz_cfg.dir);
	for (size_t i = 0; i < fuzz_nfiles; i++) {
		snprintf(path, sizeof(path), "audit/%s", fuzz_files[i].path);
		for (slash = path; (slash = strchr(slash, '/')) != NULL; slash++) {
			*slash = '\0';
			mkdir(fuzz_path(path), 0700);
			*slash = '/';
		}
		fuzz_write(path, fuzz_files[i].data, fuzz_files[i].len);
	}
}

/* Writes byte over the one at off, if the file still has it. */
static void
fuzz_poke(const char *path, size_t off, uint8_t byte)
{
	int fd = open(path, O_WRONLY);

	if (fd == -1)
		return;
	if (pwrite(fd, &byte, 1, (off_t)off) != 1)
		fprintf(stderr, "fuzz: %s: cannot write byte %zu\n", path, off);
	close(fd);
}

/* Applies the input's edits, 5 bytes each: which file, what (remove it,
 * cut it, or write the next byte of the input over one of its bytes), and
 * where (16 bits, modulo the file's length plus one), the byte. */
static void
fuzz_edit(const uint8_t *d, size_t n)
{
	for (; n >= 5; d += 5, n -= 5) {
		const struct fuzz_file *f = &fuzz_files[d[0] % fuzz_nfiles];
		size_t off = (size_t)(d[2] | d[3] << 8) % (f->len + 1);
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s", fuzz_cfg.dir, f->path);
		switch (d[1] % 3) {
		case 0:
			unlink(path);
			break;
		case 1:
			truncate(path, (off_t)off);
			break;
		default:
			fuzz_poke(path, off, d[4]);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit *a;
	merkle_hash root;
	uint64_t n;
	char err[512];

	if (fuzz_vkey == NULL)
		fuzz_make_log();
	fuzz_restore();
	fuzz_edit(data, size);
	if ((a = audit_open(&fuzz_cfg, err, sizeof(err))) == NULL)
		return 0;
	audit_close(a);
	if (audit_verify(fuzz_cfg.dir, fuzz_vkey, &n, root, NULL, NULL, err,
	    sizeof(err)) != 0 || n < FUZZ_SIGNED) {
		fprintf(stderr, "fuzz: recovered, then: %s\n", err);
		abort();        /* the gateway signed a log that does not verify */
	}
	return 0;
}
