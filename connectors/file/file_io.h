/* file_io.h — what the file connector's parts share: the instance, names
 * that cannot leave the folder, whole-file reads, atomic replacement and
 * appends.
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
	int lock;                          /* DIR/.lock, flocked by appends */
};

/* 1 if `name` may be a file name in the folder: 1 to FILE_NAME_MAX bytes,
 * no '/', no control character, not starting with '.' (which also rules
 * out "." and ".." and the connector's own temporary files). */
int file_name_ok(const char *name);

/* Reads the regular file dirfd/name whole (at most FILE_MAX_BYTES) into
 * *data (caller frees). Returns 0, or an errno value: ENOENT, ELOOP (a
 * symlink), EINVAL (not a regular file), EFBIG, or what open/read said. */
int file_read(int dirfd, const char *name, char **data, size_t *len);

/* Writes all of p to fd (retrying short writes). 0 or an errno value. */
int file_write_all(int fd, const char *p, size_t len);

/* Makes dirfd/name hold data, atomically: written under a temporary name,
 * fsynced, renamed over name, and the directory fsynced. A reader sees the
 * old or the new file, never a part. Returns 0 or an errno value. */
int file_replace(int dirfd, const char *name, const char *data, size_t len);

/* Appends the record `row` to DIR/name in place and fsyncs it, with
 * `header` (may be NULL) first when the file is new; a record whose
 * idempotency key (NULL: none) was appended to this file before, among the
 * last appends, is not added again (file_append.c). Returns 0 or an errno
 * value. */
int file_append(struct file_conn *fc, const char *name, const char *header,
    const char *row, size_t rowlen, const char *key);

/* Moves inbox/name to done/ or failed/ (a name already taken there gets
 * a ".N" suffix) and fsyncs both folders. Returns 0 or an errno value. */
int file_move(struct file_conn *fc, const char *name, int to_dir);

/* The connector's changes callback: the inbox (file_inbox.c). */
void file_changes(void *instance, const struct connector_request *req,
    connector_done_fn done, void *arg);

#endif
