/* clock.c — time helpers; all times inside the gateway are UTC milliseconds. */
#include "clock.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t
clock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
clock_mono_ms(void)
{
	return clock_mono_us() / 1000;
}

int64_t
clock_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Writes v as n decimal digits at p (v < 10^n); returns p + n. */
static char *
clock_put_digits(char *p, unsigned v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + n;
}

/* With the milliseconds, or to the second only (frac 0). Digit by digit:
 * every audit entry and log line has a time stamp, and snprintf cost more
 * than the rest of the conversion. */
static void
clock_format(int64_t ms, int frac, char buf[CLOCK_RFC3339_LEN])
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	char *p = buf;

	gmtime_r(&secs, &tm);
	/* The modulos bound the widths: gmtime_r's fields are already in
	 * range for any year below 10000. */
	p = clock_put_digits(p, (unsigned)(tm.tm_year + 1900) % 10000u, 4);
	*p++ = '-';
	p = clock_put_digits(p, (unsigned)(tm.tm_mon + 1) % 100u, 2);
	*p++ = '-';
	p = clock_put_digits(p, (unsigned)tm.tm_mday % 100u, 2);
	*p++ = 'T';
	p = clock_put_digits(p, (unsigned)tm.tm_hour % 100u, 2);
	*p++ = ':';
	p = clock_put_digits(p, (unsigned)tm.tm_min % 100u, 2);
	*p++ = ':';
	p = clock_put_digits(p, (unsigned)tm.tm_sec % 100u, 2);
	if (frac) {
		*p++ = '.';
		p = clock_put_digits(p, (unsigned)(ms % 1000) % 1000u, 3);
	}
	*p++ = 'Z';
	*p = '\0';
}

void
clock_format_rfc3339(int64_t ms, char buf[CLOCK_RFC3339_LEN])
{
	clock_format(ms, 1, buf);
}

void
clock_format_rfc3339_s(int64_t ms, char buf[CLOCK_RFC3339_LEN])
{
	clock_format(ms, 0, buf);
}

static int
clock_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int
clock_expect(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

static int
clock_valid_date(int y, int mo, int d)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (mo < 1 || mo > 12 || d < 1)
		return 0;
	return d <= days[mo - 1] + (mo == 2 && leap);
}

int
clock_parse_rfc3339(const char *s, int64_t *ms)
{
	struct tm tm = { 0 };
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, off = 0;
	const char *p = s;

	if (clock_digits(&p, 4, &y) || clock_expect(&p, '-') ||
	    clock_digits(&p, 2, &mo) || clock_expect(&p, '-') ||
	    clock_digits(&p, 2, &d) || !clock_valid_date(y, mo, d))
		return -1;
	if (*p != '\0') {
		if (*p != 'T' && *p != 't')
			return -1;
		p++;
		if (clock_digits(&p, 2, &h) || clock_expect(&p, ':') ||
		    clock_digits(&p, 2, &mi) || clock_expect(&p, ':') ||
		    clock_digits(&p, 2, &sec) || h > 23 || mi > 59 || sec > 60)
			return -1;
		if (*p == '.') {
			int scale = 100;

			p++;
			if (!isdigit((unsigned char)*p))
				return -1;
			for (; isdigit((unsigned char)*p); p++, scale /= 10)
				frac += (*p - '0') * scale;
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om;

			if (clock_digits(&p, 2, &oh) || clock_expect(&p, ':') ||
			    clock_digits(&p, 2, &om) || oh > 23 || om > 59)
				return -1;
			off = sign * (oh * 60 + om) * 60;
		} else {
			return -1;
		}
		if (*p != '\0')
			return -1;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*ms = ((int64_t)timegm(&tm) - off) * 1000 + frac;
	return 0;
}
