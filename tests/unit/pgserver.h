/* pgserver.h — what C tests need to run the tree's own tools: where the
 * source tree is (from the test binary's path), and a private PostgreSQL
 * server run by tests/tools/pgserver.sh in a scratch directory. */
#ifndef TELLONCE_PGSERVER_H
#define TELLONCE_PGSERVER_H

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tmpdir.h"

/* build/<variant> (absolute) and the source tree above it, from argv[0]
 * (build/<variant>/tests/test_x); exits if they cannot be found. */
static inline void
harness_paths(const char *argv0, char build[PATH_MAX], char root[PATH_MAX])
{
	char *copy = strdup(argv0), *tests;

	if (copy == NULL || (tests = realpath(dirname(copy), NULL)) == NULL) {
		perror(argv0);
		exit(2);
	}
	snprintf(build, PATH_MAX, "%s", dirname(tests));
	snprintf(root, PATH_MAX, "%s", dirname(dirname(tests)));
	free(tests);
	free(copy);
}

/* tests/tools/pgserver.sh WHAT DIR/pg; 0 on success. */
static inline int
harness_pg(const char *root, const char *dir, const char *what)
{
	char cmd[PATH_MAX + TMPDIR_PATH_LEN + 64];

	snprintf(cmd, sizeof(cmd), "%s/tests/tools/pgserver.sh %s %s/pg", root,
	    what, dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Starts a private PostgreSQL server in DIR/pg and puts its connection
 * string in H_PG_DSN; 0 on success. Stop it with harness_pg(.., "stop"). */
static inline int
harness_pg_start(const char *root, const char *dir)
{
	char cmd[PATH_MAX + TMPDIR_PATH_LEN + 64], dsn[512];
	FILE *p;

	/* The server runs as user postgres when the test runs as root: it
	 * must reach its socket directory through dir. */
	chmod(dir, 0711);
	snprintf(cmd, sizeof(cmd), "%s/tests/tools/pgserver.sh start %s/pg",
	    root, dir);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	if (fgets(dsn, sizeof(dsn), p) != NULL) {
		dsn[strcspn(dsn, "\n")] = '\0';
		setenv("H_PG_DSN", dsn, 1);
	}
	return pclose(p) == 0 && getenv("H_PG_DSN") != NULL ? 0 : -1;
}

#endif
