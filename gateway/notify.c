/* notify.c — the sd_notify protocol and the watchdog thread (notify.h).
 * The socket and its address are set once by notify_init, before any
 * thread, and only read afterwards. */
#include "notify.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_addrlen;
static atomic_int notify_failed_once;

static struct {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int running;
	int stop;
	unsigned long long period_usec;   /* half of WATCHDOG_USEC */
	notify_health_fn healthy;
	void *arg;
} notify_dog = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* The address of $NOTIFY_SOCKET into notify_addr: a path, or "@name" for
 * Linux's abstract namespace (sun_path starts with a NUL byte and the
 * length, not a terminator, ends the name). 0 or -1 with err. */
static int
notify_parse_addr(const char *s, char *err, size_t errlen)
{
	size_t n = strlen(s);

	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	if ((s[0] != '/' && s[0] != '@') || n < 2 ||
	    n >= sizeof(notify_addr.sun_path)) {
		snprintf(err, errlen, "NOTIFY_SOCKET: not an AF_UNIX socket "
		    "path or @abstract name");
		return -1;
	}
	memcpy(notify_addr.sun_path, s, n);
	notify_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if (s[0] == '@')
		notify_addr.sun_path[0] = '\0';
	else
		notify_addrlen++;   /* a path's length counts its terminator */
	return 0;
}

int
notify_init(char *err, size_t errlen)
{
	const char *s = getenv("NOTIFY_SOCKET");

	if (s == NULL || *s == '\0')
		return 0;
	if (notify_parse_addr(s, err, errlen) != 0)
		return -1;
	if ((notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "NOTIFY_SOCKET: socket: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void
notify_send(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	if (notify_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = (int)strlen(msg);
	if (sendto(notify_fd, msg, (size_t)n, MSG_NOSIGNAL,
	    (struct sockaddr *)&notify_addr, notify_addrlen) < 0 &&
	    atomic_exchange(&notify_failed_once, 1) == 0)
		log_warn("NOTIFY_SOCKET: cannot reach the service manager: %s",
		    strerror(errno));
}

void
notify_reloading(const char *status)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	notify_send("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=%s",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL, status);
}

/* Half of $WATCHDOG_USEC, or 0 when no watchdog is wanted of this process. */
static unsigned long long
notify_watchdog_period(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	unsigned long long v;
	char *end;

	if (notify_fd < 0 || usec == NULL || *usec == '\0')
		return 0;
	if (pid != NULL && *pid != '\0' &&
	    strtoll(pid, NULL, 10) != (long long)getpid())
		return 0;
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0)
		return 0;
	return v / 2 > 0 ? v / 2 : 1;
}

static void *
notify_watchdog_main(void *unused)
{
	struct timespec next;

	pthread_mutex_lock(&notify_dog.mu);
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!notify_dog.stop) {
		unsigned long long ns = (unsigned long long)next.tv_nsec +
		    notify_dog.period_usec * 1000ULL;

		next.tv_sec += (time_t)(ns / 1000000000ULL);
		next.tv_nsec = (long)(ns % 1000000000ULL);
		while (!notify_dog.stop && pthread_cond_timedwait(&notify_dog.cv,
		    &notify_dog.mu, &next) != ETIMEDOUT)
			;
		if (notify_dog.stop)
			break;
		/* The health check may take the server's locks: not under ours. */
		pthread_mutex_unlock(&notify_dog.mu);
		if (notify_dog.healthy(notify_dog.arg))
			notify_send("WATCHDOG=1");
		else
			log_warn("watchdog: the gateway is not healthy; not "
			    "feeding the service manager's watchdog");
		pthread_mutex_lock(&notify_dog.mu);
	}
	pthread_mutex_unlock(&notify_dog.mu);
	return NULL;
}

int
notify_watchdog_start(notify_health_fn healthy, void *arg, char *err,
    size_t errlen)
{
	pthread_condattr_t ca;
	int rc;

	if ((notify_dog.period_usec = notify_watchdog_period()) == 0)
		return 0;
	/* Deadlines on the monotonic clock: a wall-clock step must neither
	 * starve nor flood the watchdog. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_destroy(&notify_dog.cv);
	pthread_cond_init(&notify_dog.cv, &ca);
	pthread_condattr_destroy(&ca);
	notify_dog.healthy = healthy;
	notify_dog.arg = arg;
	notify_dog.stop = 0;
	if ((rc = pthread_create(&notify_dog.thread, NULL, notify_watchdog_main,
	    NULL)) != 0) {
		snprintf(err, errlen, "watchdog thread: %s", strerror(rc));
		return -1;
	}
	pthread_setname_np(notify_dog.thread, "watchdog");
	notify_dog.running = 1;
	return 0;
}

void
notify_watchdog_stop(void)
{
	if (!notify_dog.running)
		return;
	pthread_mutex_lock(&notify_dog.mu);
	notify_dog.stop = 1;
	pthread_cond_signal(&notify_dog.cv);
	pthread_mutex_unlock(&notify_dog.mu);
	pthread_join(notify_dog.thread, NULL);
	notify_dog.running = 0;
}
