/* tmpdir.h — a private scratch directory per test program, removed with
 * everything in it at the end (databases and their -wal/-shm files). */
#ifndef TELLONCE_TMPDIR_H
#define TELLONCE_TMPDIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define TMPDIR_PATH_LEN 256

/* Fills dir with a new mkdtemp directory; exits if that fails, since no
 * test can run without it. */
static void
tmpdir_make(char dir[TMPDIR_PATH_LEN])
{
	snprintf(dir, TMPDIR_PATH_LEN, "/tmp/tellonce-test-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
}

/* The store URL "sqlite:DIR/NAME". */
static void
tmpdir_store_url(const char *dir, const char *name, char *url, size_t len)
{
	snprintf(url, len, "sqlite:%s/%s", dir, name);
}

/* Removes the files in dir (no subdirectories are made), then dir. */
static void
tmpdir_remove(const char *dir)
{
	char path[TMPDIR_PATH_LEN * 2];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

#endif
