/* file_io.c — safe names, whole-file reads and writes, and atomic
 * replacement for the file connector. */
#include "file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
file_name_ok(const char *name)
{
	size_t n = 0;

	if (name == NULL || name[0] == '.' || name[0] == '\0')
		return 0;
	for (; name[n] != '\0'; n++)
		if (name[n] == '/' || (unsigned char)name[n] < 0x20 ||
		    name[n] == 0x7f)
			return 0;
	return n <= FILE_NAME_MAX;
}

static int
file_read_fd(int fd, char **data, size_t *len)
{
	struct stat st;
	size_t got = 0;
	char *buf;

	if (fstat(fd, &st) == -1)
		return errno;
	if (!S_ISREG(st.st_mode))
		return EINVAL;
	if (st.st_size > FILE_MAX_BYTES)
		return EFBIG;
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		return ENOMEM;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r == 0 ? EIO : errno;

			free(buf);
			return e;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	*data = buf;
	*len = got;
	return 0;
}

int
file_read(int dirfd, const char *name, char **data, size_t *len)
{
	int fd, e;

	/* O_NONBLOCK: a FIFO planted in the folder must not hang the loop. */
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1)
		return errno;
	e = file_read_fd(fd, data, len);
	close(fd);
	return e;
}

int
file_write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Temporary names are unique across the instances of every thread. */
static atomic_ulong file_serial;

int
file_replace(int dirfd, const char *name, const char *data, size_t len)
{
	char tmp[FILE_NAME_MAX + 64];
	int fd, e;

	snprintf(tmp, sizeof(tmp), ".tmp-%ld-%lu-%s", (long)getpid(),
	    (unsigned long)atomic_fetch_add(&file_serial, 1), name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0640);
	if (fd == -1)
		return errno;
	if ((e = file_write_all(fd, data, len)) == 0 && fsync(fd) == -1)
		e = errno;
	if (close(fd) == -1 && e == 0)
		e = errno;
	if (e == 0 && renameat(dirfd, tmp, dirfd, name) == -1)
		e = errno;
	if (e == 0 && fsync(dirfd) == -1)
		e = errno;
	if (e != 0)
		unlinkat(dirfd, tmp, 0);
	return e;
}

int
file_move(struct file_conn *fc, const char *name, int to_dir)
{
	char taken[FILE_NAME_MAX + 32];
	const char *to = name;

	for (unsigned n = 1;; n++) {
		if (renameat2(fc->inbox, name, to_dir, to, RENAME_NOREPLACE) == 0)
			break;
		if (errno != EEXIST || n == 1000)
			return errno;
		snprintf(taken, sizeof(taken), "%s.%u", name, n);
		to = taken;
	}
	if (fsync(to_dir) == -1 || fsync(fc->inbox) == -1)
		return errno;
	return 0;
}
