/* file_io.h — what the file connector's parts share: the instance, names
 * that cannot leave the folder, whole-file reads and atomic replacement.
 * Every file is opened relative to a directory descriptor with O_NOFOLLOW,
 * so neither a name nor a symlink planted in the folder leads outside. */
#ifndef TELLONCE_FILE_IO_H
#define TELLONCE_FILE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "connector.h"

#define FILE_NAME_MAX 200              /* bytes of a local id or file name */
#define FILE_MAX_BYTES (16 << 20)      /* largest file read               */

struct file_settings {
	char *dir;
	char *format;                      /* json, jsonl or csv */
	struct connector_strlist columns;  /* csv: the fields, in order */
};

struct file_conn {
	const struct file_settings *s;
	struct connector_env env;
	int dir;                           /* the configured folder */
	int inbox, done, failed;           /* its subfolders */
	int lock;                          /* DIR/.lock, for appends */
};

/* 1 if `name` may be a file name in the folder: 1 to FILE_NAME_MAX bytes,
 * no '/', no control character, not starting with '.' (which also rules
 * out "." and ".." and the connector's own temporary files). */
int file_name_ok(const char *name);

/* Reads the regular file dirfd/name whole (at most FILE_MAX_BYTES) into
 * *data (caller frees). Returns 0, or an errno value: ENOENT, ELOOP (a
 * symlink), EINVAL (not a regular file), EFBIG, or what open/read said. */
int file_read(int dirfd, const char *name, char **data, size_t *len);

/* Makes dirfd/name hold `head` (the current content of dirfd/name when
 * head_from_old is set and the file exists, else head) followed by data,
 * atomically: written under a temporary name, fsynced, renamed over name,
 * and the directory fsynced. A reader sees the old or the new file, never
 * a part. Returns 0 or an errno value. */
int file_replace(struct file_conn *fc, int dirfd, const char *name,
    int head_from_old, const char *head, const char *data, size_t len);

/* Moves inbox/name to done/ or failed/ (a name already taken there gets
 * a ".N" suffix) and fsyncs both folders. Returns 0 or an errno value. */
int file_move(struct file_conn *fc, const char *name, int to_dir);

/* The connector's changes callback: the inbox (file_inbox.c). */
void file_changes(void *instance, const struct connector_request *req,
    connector_done_fn done, void *arg);

#endif
