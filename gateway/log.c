/* log.c — timestamped, level-tagged lines on stderr, one write(2) per line
 * so that lines from different threads never interleave. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Set by a reload on the main thread while the workers log. */
static _Atomic int log_min = LOG_LEVEL_INFO;
static pthread_mutex_t log_site_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const log_names[] = { "debug", "info", "warn", "error" };

void
log_set_level(enum log_level min)
{
	atomic_store(&log_min, (int)min);
}

int
log_enabled(enum log_level level)
{
	return (int)level >= atomic_load(&log_min);
}

int
log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++)
		if (strcmp(name, log_names[i]) == 0)
			return (int)i;
	return -1;
}

static void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	int n, m;

	if (!log_enabled(level) || level > LOG_LEVEL_ERROR)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ts.tv_nsec / 1000000, log_names[level]);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void
log_printf(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg((enum log_level)level, fmt, ap);
	va_end(ap);
}

void
log_site_msg(struct log_site *site, int64_t now_ms, enum log_level level,
    const char *fmt, ...)
{
	unsigned long dropped = 0;
	int write_it;
	va_list ap;

	pthread_mutex_lock(&log_site_mu);
	if (now_ms - site->window_ms >= 1000) {
		site->window_ms = now_ms;
		site->lines = 0;
	}
	write_it = site->lines < LOG_SITE_PER_SECOND;
	if (write_it) {
		site->lines++;
		dropped = site->dropped;
		site->dropped = 0;
	} else {
		site->dropped++;
	}
	pthread_mutex_unlock(&log_site_mu);
	if (!write_it)
		return;
	if (dropped > 0)
		log_msg(level, "%lu more lines like the next were dropped (at most "
		    "%d a second)", dropped, LOG_SITE_PER_SECOND);
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
