/* file_append.c — the file connector's appends: a record added to
 * DIR/<dataset>.jsonl or .csv in place, once per idempotency key.
 *
 * An append is one write of the whole record (with the CSV header when the
 * file is new) on an O_APPEND descriptor, then an fsync, under an
 * exclusive flock on DIR/.lock so that workers and gateways sharing the
 * folder take turns. Nothing is copied: a delivery costs its own bytes.
 *
 * A retried delivery carries the same idempotency key and must not add
 * its record twice. DIR/.<file>.keys lists the last FILE_KEYS_KEPT
 * appends, a line each: "KEY INODE OFFSET LENGTH". A key is a duplicate
 * when it is listed for this file (its inode) and the file holds the same
 * bytes at that offset. The key line is written and fsynced before the
 * record, so a crash between the two leaves a key whose record is not
 * there, and the retry appends it; a crash in the middle of the record's
 * write leaves a torn last record, which the next append cuts off first
 * (the last key line says where it began). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_io.h"

#define FILE_KEYS_KEPT 1000
#define FILE_KEY_MAX   128

/* One line of a keys file. */
struct file_key {
	char key[FILE_KEY_MAX + 1];
	uintmax_t ino, off, len;
};

/* A key that fits a line of the keys file: printable, no spaces. */
static int
file_key_ok(const char *key)
{
	size_t n = 0;

	if (key == NULL)
		return 0;
	for (; key[n] != '\0'; n++)
		if ((unsigned char)key[n] <= ' ' || key[n] == 0x7f)
			return 0;
	return n > 0 && n <= FILE_KEY_MAX;
}

/* Parses the line at *p (advanced past it); 0, or -1 for a line that is
 * not one of ours (skipped). */
static int
file_key_parse(const char **p, const char *end, struct file_key *k)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	char line[FILE_KEY_MAX + 80];
	size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	int used = 0;

	if (n >= sizeof(line)) {
		*p += n + (nl != NULL);
		return -1;
	}
	memcpy(line, *p, n);
	line[n] = '\0';
	*p += n + (nl != NULL);
	if (sscanf(line, "%128s %ju %ju %ju%n", k->key, &k->ino, &k->off,
	    &k->len, &used) != 4 || (size_t)used != n)
		return -1;
	return 0;
}

/* 1 if fd holds exactly data at off. */
static int
file_holds(int fd, uintmax_t off, const char *data, size_t len)
{
	char buf[4096];
	size_t done = 0;

	while (done < len) {
		size_t want = len - done < sizeof(buf) ? len - done : sizeof(buf);
		ssize_t got = pread(fd, buf, want, (off_t)(off + done));

		if (got <= 0 || memcmp(buf, data + done, (size_t)got) != 0)
			return 0;
		done += (size_t)got;
	}
	return 1;
}

/* What the keys file says about this append: whether key was appended to
 * this file already (*dup), and the last line (*last, when *has_last). */
struct file_keys {
	char *text;                /* the keys file, or NULL */
	size_t len;
	size_t lines;
	int has_last;
	struct file_key last;
};

static int
file_keys_read(struct file_conn *fc, const char *keys, struct file_keys *ks)
{
	const char *p, *end;
	struct file_key k;
	int e;

	memset(ks, 0, sizeof(*ks));
	if ((e = file_read(fc->dir, keys, &ks->text, &ks->len)) == ENOENT)
		return 0;
	if (e != 0)
		return e;
	for (p = ks->text, end = ks->text + ks->len; p < end;) {
		if (file_key_parse(&p, end, &k) != 0)
			continue;
		ks->lines++;
		ks->last = k;
		ks->has_last = 1;
	}
	return 0;
}

/* 1 if key's record, row, is in the file fd (inode ino) already. */
static int
file_keys_dup(const struct file_keys *ks, const char *key, int fd,
    uintmax_t ino, const char *row, size_t rowlen)
{
	const char *p = ks->text, *end = ks->text + ks->len;
	struct file_key k;

	while (p != NULL && p < end) {
		if (file_key_parse(&p, end, &k) == 0 && k.ino == ino &&
		    k.len == rowlen && strcmp(k.key, key) == 0 &&
		    file_holds(fd, k.off, row, rowlen))
			return 1;
	}
	return 0;
}

/* Adds a line to the keys file, keeping the last FILE_KEYS_KEPT: once it
 * holds twice that, it is rewritten (atomically) with the newest ones. */
static int
file_keys_add(struct file_conn *fc, const char *keys,
    const struct file_keys *ks, const char *line)
{
	const char *p = ks->text, *end = ks->text + ks->len;
	size_t skip;
	char *text;
	int fd, e;

	if (ks->lines + 1 >= 2 * FILE_KEYS_KEPT) {
		for (skip = ks->lines + 1 - FILE_KEYS_KEPT; skip > 0 && p < end;
		    skip--)
			p = (p = memchr(p, '\n', (size_t)(end - p))) ? p + 1 : end;
		if (asprintf(&text, "%.*s%s", (int)(end - p), p, line) == -1)
			return ENOMEM;
		e = file_replace(fc->dir, keys, text, strlen(text));
		free(text);
		return e;
	}
	fd = openat(fc->dir, keys, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0640);
	if (fd == -1)
		return errno;
	e = file_write_all(fd, line, strlen(line));
	if (e == 0 && fsync(fd) == -1)
		e = errno;
	if (close(fd) == -1 && e == 0)
		e = errno;
	return e;
}

/* Writes head (may be empty) and row at the end of fd, whose size is
 * `size`, as one write; a failure leaves the file as it was. */
static int
file_write_record(int fd, off_t size, const char *head, const char *row,
    size_t rowlen)
{
	size_t hlen = strlen(head);
	char *buf = malloc(hlen + rowlen);
	int e;

	if (buf == NULL)
		return ENOMEM;
	memcpy(buf, head, hlen);
	memcpy(buf + hlen, row, rowlen);
	e = file_write_all(fd, buf, hlen + rowlen);
	free(buf);
	if (e == 0 && fsync(fd) == -1)
		e = errno;
	if (e != 0 && ftruncate(fd, size) == 0)
		fsync(fd);
	return e;
}

/* With the lock held: the append proper, on fd open on dir/name. */
static int
file_append_locked(struct file_conn *fc, int fd, const char *name,
    const char *header, const char *row, size_t rowlen, const char *key)
{
	char keys[FILE_NAME_MAX + 16], line[FILE_KEY_MAX + 80];
	struct file_keys ks = { 0 };
	const char *head;
	struct stat st;
	int e;

	if (fstat(fd, &st) == -1)
		return errno;
	if (!S_ISREG(st.st_mode))
		return EINVAL;
	snprintf(keys, sizeof(keys), ".%s.keys", name);
	if (file_key_ok(key) && (e = file_keys_read(fc, keys, &ks)) != 0)
		return e;
	/* A record torn by a crash: cut it off before adding the next. */
	if (ks.has_last && ks.last.ino == (uintmax_t)st.st_ino &&
	    ks.last.off < (uintmax_t)st.st_size &&
	    (uintmax_t)st.st_size < ks.last.off + ks.last.len) {
		if (ftruncate(fd, (off_t)ks.last.off) == -1) {
			e = errno;
			goto out;
		}
		st.st_size = (off_t)ks.last.off;
	}
	e = 0;
	if (ks.text != NULL && file_keys_dup(&ks, key, fd,
	    (uintmax_t)st.st_ino, row, rowlen))
		goto out;
	head = st.st_size == 0 && header != NULL ? header : "";
	if (file_key_ok(key)) {
		snprintf(line, sizeof(line), "%s %ju %ju %zu\n", key,
		    (uintmax_t)st.st_ino, (uintmax_t)st.st_size + strlen(head),
		    rowlen);
		if ((e = file_keys_add(fc, keys, &ks, line)) != 0)
			goto out;
	}
	e = file_write_record(fd, st.st_size, head, row, rowlen);
	/* A new file's name is durable only once the folder is. */
	if (e == 0 && st.st_size == 0 && fsync(fc->dir) == -1)
		e = errno;
out:
	free(ks.text);
	return e;
}

int
file_append(struct file_conn *fc, const char *name, const char *header,
    const char *row, size_t rowlen, const char *key)
{
	int fd, e;

	fd = openat(fc->dir, name, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC | O_NONBLOCK, 0640);
	if (fd == -1)
		return errno;
	if (flock(fc->lock, LOCK_EX) == -1)
		e = errno;
	else {
		e = file_append_locked(fc, fd, name, header, row, rowlen, key);
		flock(fc->lock, LOCK_UN);
	}
	if (close(fd) == -1 && e == 0)
		e = errno;
	return e;
}
