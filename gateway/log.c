/* log.c — timestamped, level-tagged lines on stderr, one write(2) per line
 * so that lines from different threads never interleave; as text or as
 * JSON lines (one object per line) for a log stack.
 *
 * A JSON line is valid JSON whatever bytes a message holds: control
 * characters are escaped and bytes that are not well-formed UTF-8 become
 * U+FFFD, so one odd byte from a partner cannot cost a collector the
 * line. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_MSG_MAX  2048
/* Room for the message escaped (at most 6 bytes a byte) and the rest. */
#define LOG_LINE_MAX (6 * LOG_MSG_MAX + 1024)

/* Set by a reload on the main thread while the workers log. */
static _Atomic int log_min = LOG_LEVEL_INFO;
static _Atomic int log_format = LOG_FORMAT_TEXT;
/* The request or trace the calling thread works for, if any. */
static _Thread_local struct log_context log_ctx;
static pthread_mutex_t log_site_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const log_names[] = { "debug", "info", "warn", "error" };
static const char *const log_format_names[] = { "text", "json" };

void
log_set_level(enum log_level min)
{
	atomic_store(&log_min, (int)min);
}

void
log_set_format(enum log_format format)
{
	atomic_store(&log_format, (int)format);
}

int
log_enabled(enum log_level level)
{
	return (int)level >= atomic_load(&log_min);
}

static int
log_name_index(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	return -1;
}

int
log_level_parse(const char *name)
{
	return log_name_index(log_names, sizeof(log_names) /
	    sizeof(log_names[0]), name);
}

int
log_format_parse(const char *name)
{
	return log_name_index(log_format_names, sizeof(log_format_names) /
	    sizeof(log_format_names[0]), name);
}

void
log_context_set(const struct log_context *ctx, struct log_context *prev)
{
	if (prev != NULL)
		*prev = log_ctx;
	if (ctx == NULL) {
		memset(&log_ctx, 0, sizeof(log_ctx));
		return;
	}
	log_ctx = *ctx;
	log_ctx.request_id[LOG_CONTEXT_ID_MAX - 1] = '\0';
	log_ctx.trace_id[LOG_CONTEXT_ID_MAX - 1] = '\0';
}

/* ---- JSON -------------------------------------------------------------- */

/* A line being built; once full, nothing more is added. */
struct log_line {
	char buf[LOG_LINE_MAX];
	size_t n;
};

static void
log_put(struct log_line *l, const char *s, size_t len, size_t limit)
{
	if (l->n + len > limit)
		return;
	memcpy(l->buf + l->n, s, len);
	l->n += len;
}

/* The length of the well-formed UTF-8 sequence at s (n bytes left), or 0:
 * no overlong forms, no surrogates, nothing past U+10FFFF (RFC 3629). */
static size_t
log_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* Appends s as a JSON string, cut (never inside an escape or a character)
 * where it would pass limit less the closing quote. */
static void
log_put_json_string(struct log_line *l, const char *s, size_t len,
    size_t limit)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];
	size_t i = 0, k;

	log_put(l, "\"", 1, limit - 1);
	while (i < len) {
		k = log_utf8_len(p + i, len - i);
		if (k == 0) {
			snprintf(esc, sizeof(esc), "\\ufffd");
			k = 1;
		} else if (p[i] == '"' || p[i] == '\\') {
			snprintf(esc, sizeof(esc), "\\%c", p[i]);
		} else if (p[i] == '\n') {
			snprintf(esc, sizeof(esc), "\\n");
		} else if (p[i] == '\t') {
			snprintf(esc, sizeof(esc), "\\t");
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
		} else {
			if (l->n + k > limit - 1)
				break;
			log_put(l, s + i, k, limit - 1);
			i += k;
			continue;
		}
		if (l->n + strlen(esc) > limit - 1)
			break;
		log_put(l, esc, strlen(esc), limit - 1);
		i += k;
	}
	log_put(l, "\"", 1, limit);
}

static void
log_put_json_member(struct log_line *l, const char *name, const char *value,
    size_t len, size_t limit)
{
	log_put(l, ",\"", 2, limit);
	log_put(l, name, strlen(name), limit);
	log_put(l, "\":", 2, limit);
	log_put_json_string(l, value, len, limit);
}

static void
log_json(struct log_line *l, const char *ts, enum log_level level,
    const char *msg, size_t len)
{
	/* The message may fill what the other members leave. */
	size_t msg_limit = sizeof(l->buf) - 3 - 2 * (6 * LOG_CONTEXT_ID_MAX + 16);

	log_put(l, "{\"ts\":\"", 7, sizeof(l->buf));
	log_put(l, ts, strlen(ts), sizeof(l->buf));
	log_put(l, "\",\"level\":\"", 11, sizeof(l->buf));
	log_put(l, log_names[level], strlen(log_names[level]), sizeof(l->buf));
	log_put(l, "\"", 1, sizeof(l->buf));
	log_put_json_member(l, "msg", msg, len, msg_limit);
	if (log_ctx.request_id[0] != '\0')
		log_put_json_member(l, "request_id", log_ctx.request_id,
		    strlen(log_ctx.request_id), sizeof(l->buf) - 2);
	if (log_ctx.trace_id[0] != '\0')
		log_put_json_member(l, "trace_id", log_ctx.trace_id,
		    strlen(log_ctx.trace_id), sizeof(l->buf) - 2);
	log_put(l, "}\n", 2, sizeof(l->buf));
}

/* ---- lines ------------------------------------------------------------- */

static void
log_timestamp(char *ts, size_t len)
{
	struct timespec now;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, now.tv_nsec / 1000000);
}

static void
log_text(struct log_line *l, const char *ts, enum log_level level,
    const char *msg, size_t len)
{
	l->n = (size_t)snprintf(l->buf, sizeof(l->buf), "%s %s: ", ts,
	    log_names[level]);
	log_put(l, msg, len, sizeof(l->buf) - 1);
	log_put(l, "\n", 1, sizeof(l->buf));
}

static void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	static _Thread_local struct log_line line;
	char msg[LOG_MSG_MAX], ts[64];
	int m;

	if (!log_enabled(level) || level > LOG_LEVEL_ERROR)
		return;
	log_timestamp(ts, sizeof(ts));
	m = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (m < 0)
		m = 0;
	if ((size_t)m >= sizeof(msg))
		m = (int)sizeof(msg) - 1;
	line.n = 0;
	if (atomic_load(&log_format) == LOG_FORMAT_JSON)
		log_json(&line, ts, level, msg, (size_t)m);
	else
		log_text(&line, ts, level, msg, (size_t)m);
	if (write(STDERR_FILENO, line.buf, line.n) < 0)
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
