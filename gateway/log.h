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

/* Lines below `min` are dropped. Safe to call before any other log_*, and
 * from any thread while others log (a reload sets gateway.log_level). */
void log_set_level(enum log_level min);
/* Whether a line of that level would be written: lets a caller skip work
 * done for a debug line only. */
int log_enabled(enum log_level level);
/* Parses "debug", "info", "warn", "error"; returns -1 if unknown. */
int log_level_parse(const char *name);

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
