/* log.h — the one place that writes operational log lines (stderr).
 *
 * Personal data values never go through here: callers log pseudonyms,
 * attribute names, request ids and hashes only. That holds at debug too:
 * debug lines say which route, service, connector and delivery, how it
 * ended and how long it took, never a local id, a pivot or a record. */
#ifndef TELLONCE_LOG_H
#define TELLONCE_LOG_H

#include <stdint.h>

#include "clock.h"

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* text: "TS LEVEL: message"; json: one object per line with ts, level,
 * msg, and request_id / trace_id when the line has a context (a request;
 * a delivery attempt: its delivery id and trace; a poll: its trace). */
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

#define LOG_CONTEXT_ID_MAX 64

/* What a line is about, beyond its message: the request being handled and
 * its W3C trace. An empty string is "none". */
struct log_context {
	char request_id[LOG_CONTEXT_ID_MAX];
	char trace_id[LOG_CONTEXT_ID_MAX];
};

/* Lines below `min` are dropped. Safe to call before any other log_*, and
 * from any thread while others log (a reload sets gateway.log.level). */
void log_set_level(enum log_level min);
/* The same for the format (a reload sets gateway.log.format). */
void log_set_format(enum log_format format);
/* Whether a line of that level would be written: lets a caller skip work
 * done for a debug line only. */
int log_enabled(enum log_level level);
/* Parses "debug", "info", "warn", "error"; returns -1 if unknown. */
int log_level_parse(const char *name);
/* Parses "text", "json"; returns -1 if unknown. */
int log_format_parse(const char *name);

/* Makes a copy of *ctx (NULL: none) the context of the calling thread's
 * next lines, and copies the one it replaces into *prev unless prev is
 * NULL, so that a scope can put it back. Copies, so a context never
 * outlives what it was made from. */
void log_context_set(const struct log_context *ctx, struct log_context *prev);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The same with a plain int level, the shape connector_env.log expects. */
void log_printf(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Lines from one call site that can repeat without bound (a flood of
 * refused connections, a failing disk under load) go through
 * log_ratelimited: at most LOG_SITE_PER_SECOND lines a second from that
 * site; the first line of the next second says how many were dropped. */
#define LOG_SITE_PER_SECOND 10

struct log_site {
	int64_t window_ms;       /* start of the current second */
	unsigned lines;          /* written in it */
	unsigned long dropped;   /* since the last line written */
};

/* One site's line at now_ms (monotonic); site is static to the call site.
 * Thread-safe. */
void log_site_msg(struct log_site *site, int64_t now_ms, enum log_level level,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_ratelimited(level, ...) do { \
	static struct log_site log_site_; \
	log_site_msg(&log_site_, clock_mono_ms(), (level), __VA_ARGS__); \
} while (0)

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
