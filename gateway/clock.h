/* clock.h — wall-clock time in milliseconds and RFC 3339 text. */
#ifndef TELLONCE_CLOCK_H
#define TELLONCE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define CLOCK_RFC3339_LEN 32

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t clock_now_ms(void);
/* Milliseconds from CLOCK_MONOTONIC, for timeouts and intervals. */
int64_t clock_mono_ms(void);
/* Microseconds of CLOCK_MONOTONIC: for measuring durations. */
int64_t clock_mono_us(void);
/* Writes "2026-11-28T21:32:38.123Z" into buf (CLOCK_RFC3339_LEN bytes). */
void clock_format_rfc3339(int64_t ms, char buf[CLOCK_RFC3339_LEN]);
/* The same to the second, "2026-11-28T21:32:38Z": the precision that audit
 * entries make public (contract §5). */
void clock_format_rfc3339_s(int64_t ms, char buf[CLOCK_RFC3339_LEN]);
/* Parses RFC 3339 ("2026-11-28T21:32:38Z", optional fraction, Z or +hh:mm)
 * or a plain date "2026-11-28" (midnight UTC). Returns 0 or -1. */
int clock_parse_rfc3339(const char *s, int64_t *ms);

#endif
