/* log.h — the one place that writes operational log lines (stderr).
 *
 * Personal data values never go through here: callers log pseudonyms,
 * attribute names, request ids and hashes only. That holds at debug too:
 * debug lines say which route, service, connector and delivery, how it
 * ended and how long it took, never a local id, a pivot or a record. */
#ifndef TELLONCE_LOG_H
#define TELLONCE_LOG_H

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

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
