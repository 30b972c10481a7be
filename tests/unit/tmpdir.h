/* tmpdir.h — the one scratch-directory helper of the C tests and fuzz
 * harnesses: a private directory made with mkdtemp, removed with everything
 * in it at the end (databases and their -wal/-shm files, audit tiles,
 * PostgreSQL data directories). */
#ifndef TELLONCE_TMPDIR_H
#define TELLONCE_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Room for the longest name tmpdir_make_in() makes, with a margin. */
#define TMPDIR_PATH_LEN 64

/* Fills dir with a new directory in parent ("/tmp" for tests; the fuzz
 * harnesses prefer tmpfs); exits if that fails, since nothing can run
 * without it. */
static inline void
tmpdir_make_in(const char *parent, char dir[TMPDIR_PATH_LEN])
{
	snprintf(dir, TMPDIR_PATH_LEN, "%s/tellonce-test-XXXXXX", parent);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
}

static inline void
tmpdir_make(char dir[TMPDIR_PATH_LEN])
{
	tmpdir_make_in("/tmp", dir);
}

/* The store URL "sqlite:DIR/NAME". */
static inline void
tmpdir_store_url(const char *dir, const char *name, char *url, size_t len)
{
	snprintf(url, len, "sqlite:%s/%s", dir, name);
}

static inline int
tmpdir_remove_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	return remove(path);
}

/* Removes dir and everything under it; symbolic links are removed, never
 * followed. */
static inline void
tmpdir_remove(const char *dir)
{
	nftw(dir, tmpdir_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
