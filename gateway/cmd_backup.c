/* cmd_backup.c — `tellonce backup -c FILE DIR`: a copy of the store and
 * of the audit log, taken while the gateway serves, that a gateway starts
 * on.
 *
 * The store goes first (a SQLite store's two files: store_backup copies
 * its access index's file next to the copy). It remembers the last
 * checkpoint signed (audit_anchor.h) and names audit entries (the access
 * index, the deliveries' entries); the log is then copied as of a
 * checkpoint that covers every entry durable by the end of the store's
 * copy, so the copy of the log is never behind what the copy of the store
 * remembers or names, and the restored gateway does not refuse it as a
 * rewound log. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit.h"
#include "cmd.h"
#include "encode.h"
#include "store.h"

/* How long to wait for the checkpoint that covers the store's copy: a
 * few checkpoint intervals, and never less than this. */
#define BACKUP_WAIT_MIN_MS 10000

/* DIR/NAME of the store's copy: the database file's own name. */
static int
cmd_backup_store_path(const char *url, const char *dir, char *out, size_t len)
{
	const struct store_scheme *s = store_scheme_find(url);
	char *copy = strdup(url);
	int n;

	if (copy == NULL)
		return -1;
	n = snprintf(out, len, "%s/%s", dir, s != NULL && s->is_path ?
	    basename(copy + strlen(s->prefix)) : "store");
	free(copy);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

static int
cmd_backup_store(const struct config *cfg, const char *dir)
{
	char path[4096], err[512];
	struct store *st;
	int rc = -1;

	if (cmd_backup_store_path(cfg->gateway.store, dir, path,
	    sizeof(path)) != 0) {
		fprintf(stderr, "tellonce backup: %s: name too long\n", dir);
		return -1;
	}
	/* As it is: a newer program would migrate the store under the
	 * gateway that serves it. */
	if ((st = store_open_current(cfg->gateway.store,
	    (const char *)cfg->gateway.store_password.data, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "tellonce backup: %s\n", err);
		return -1;
	}
	if (store_backup(st, path, err, sizeof(err)) == STORE_OK)
		rc = 0;
	else
		fprintf(stderr, "tellonce backup: store: %s\n", err);
	store_close(st);
	if (rc == 0)
		printf("%s: store copied\n", path);
	return rc;
}

int
cmd_audit_copy(const char *who, const struct config *cfg, const char *to)
{
	const struct config_audit *audit = &cfg->gateway.audit;
	int64_t wait_ms = 5 * audit->checkpoint_interval_ms;
	char err[512];
	uint64_t size;

	if (wait_ms < BACKUP_WAIT_MIN_MS)
		wait_ms = BACKUP_WAIT_MIN_MS;
	if (audit_backup(audit->dir, to, wait_ms, &size, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "tellonce %s: audit log %s: %s\n", who,
		    audit->dir, err);
		return -1;
	}
	return cmd_audit_verified(who, to, size);
}

int
cmd_audit_verified(const char *who, const char *dir, uint64_t size)
{
	char err[512], rootb64[ENCODE_BASE64_LEN(MERKLE_HASH_LEN)];
	uint64_t verified;
	merkle_hash root;

	/* The signatures are for auditors, with keys got out of band:
	 * `tellonce audit verify DIR --key VKEY`. */
	if (audit_verify(dir, NULL, &verified, root, NULL, NULL, err,
	    sizeof(err)) != 0 || verified != size) {
		fprintf(stderr, "tellonce %s: the copy does not verify: %s\n",
		    who, err);
		return -1;
	}
	encode_base64(root, MERKLE_HASH_LEN, rootb64);
	printf("%s: audit log copied and verified, %llu entries, root %s\n",
	    dir, (unsigned long long)size, rootb64);
	return 0;
}

static int
cmd_backup_audit(const struct config *cfg, const char *dir)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/audit", dir);
	return cmd_audit_copy("backup", cfg, path);
}

int
cmd_backup(int argc, char **argv)
{
	const char *path = NULL, *dir = NULL;
	struct config *cfg;
	int rc = CMD_FAIL;

	for (int i = 0; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 ||
		    strcmp(argv[i], "--config") == 0) && i + 1 < argc)
			path = argv[++i];
		else if (argv[i][0] != '-' && dir == NULL)
			dir = argv[i];
		else
			return cmd_usage_error("backup", "unexpected argument");
	}
	if (path == NULL || dir == NULL)
		return cmd_usage_error("backup", "needs -c FILE and DIR");
	/* The store and the log's directory are all it needs: no secret. */
	if ((cfg = cmd_load_config_offline(path)) == NULL)
		return CMD_FAIL;
	if (mkdir(dir, 0700) != 0) {
		fprintf(stderr, "tellonce backup: %s: %s%s\n", dir, strerror(errno),
		    errno == EEXIST ? " (give a new directory)" : "");
	} else if (cmd_backup_store(cfg, dir) == 0 &&
	    cmd_backup_audit(cfg, dir) == 0) {
		rc = CMD_OK;
	} else {
		fprintf(stderr, "tellonce backup: %s is incomplete: remove it\n",
		    dir);
	}
	config_free(cfg);
	return rc;
}
