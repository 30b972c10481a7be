/* walpages.c — which B-trees the store's writes cost: a library that
 * `WALPAGES=1 bench/push.sh` preloads into the gateway (LD_PRELOAD).
 *
 * SQLite writes each WAL frame as a 24-byte header, then the page. The
 * header begins with the page number, then the database's size in pages
 * in a transaction's last frame (0 in the others). For every such header
 * written to a file whose name ends in "-wal", this appends a line to the
 * file $WALPAGES_OUT:
 *
 *   THREAD FILE PAGE COMMIT
 *
 * THREAD is the writing thread's name (the gateway names its threads),
 * FILE "store" or "access" (the access index's file), PAGE the page
 * number and COMMIT 1 in a transaction's last frame. The script maps each
 * page to its table or index through SQLite's dbstat, read on the store
 * after the run: a page freed and reused meanwhile counts for its last
 * owner.
 *
 * A measuring tool, not a timer: each frame costs a readlink and a write
 * more. Nothing else changes what SQLite writes. */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define WALPAGES_HEADER 24
#define WALPAGES_SUFFIX "-wal"
#define WALPAGES_ACCESS ".access-wal"

typedef ssize_t (*walpages_pwrite_fn)(int, const void *, size_t, off_t);

static walpages_pwrite_fn walpages_real;
static atomic_int walpages_out = -1;   /* the lines' fd, or -1 */
static pthread_once_t walpages_once = PTHREAD_ONCE_INIT;

static void
walpages_init(void)
{
	const char *path = getenv("WALPAGES_OUT");
	int fd;

	walpages_real = (walpages_pwrite_fn)dlsym(RTLD_NEXT, "pwrite64");
	if (path == NULL)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd == -1)
		fprintf(stderr, "walpages: cannot open %s: nothing counted\n",
		    path);
	atomic_store(&walpages_out, fd);
}

static int
walpages_ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

static uint32_t
walpages_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* One line for a frame header written to fd, when fd is a WAL. */
static void
walpages_note(int fd, const unsigned char *hdr)
{
	char link[64], target[4096], name[32] = "?", line[128];
	ssize_t len;
	int n, out = atomic_load(&walpages_out);

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	len = readlink(link, target, sizeof(target));
	if (len <= 0 || len == (ssize_t)sizeof(target) ||
	    !walpages_ends_with(target, (size_t)len, WALPAGES_SUFFIX))
		return;
	pthread_getname_np(pthread_self(), name, sizeof(name));
	n = snprintf(line, sizeof(line), "%s %s %u %d\n", name,
	    walpages_ends_with(target, (size_t)len, WALPAGES_ACCESS) ?
	    "access" : "store", (unsigned)walpages_be32(hdr),
	    walpages_be32(hdr + 4) != 0);
	/* O_APPEND: each line lands whole, whichever thread writes it. A
	 * count with holes would mislead: stop, and say so. */
	if (out != -1 && n > 0 && write(out, line, (size_t)n) != n) {
		atomic_store(&walpages_out, -1);
		fprintf(stderr, "walpages: cannot write %s: the counts stop "
		    "here\n", getenv("WALPAGES_OUT"));
	}
}

ssize_t
pwrite64(int fd, const void *buf, size_t count, off_t offset)
{
	pthread_once(&walpages_once, walpages_init);
	if (count == WALPAGES_HEADER && atomic_load(&walpages_out) != -1)
		walpages_note(fd, buf);
	return walpages_real(fd, buf, count, offset);
}
