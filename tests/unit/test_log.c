/* test_log.c — rate-limited log lines: a flood from one call site writes
 * at most LOG_SITE_PER_SECOND lines a second, and the next second's first
 * line counts what was dropped; another site is not held back. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "unit.h"

/* Runs the flood with stderr sent to a file; returns what was written. */
static char *
captured(void (*flood)(void))
{
	char path[] = "/tmp/tellonce-test-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	static char buf[1 << 16];
	ssize_t n;

	dup2(fd, STDERR_FILENO);
	flood();
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return buf;
}

static unsigned
count(const char *text, const char *needle)
{
	unsigned n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static struct log_site site_a, site_b;

static void
flood_two_seconds(void)
{
	for (int i = 0; i < 1000; i++)
		log_site_msg(&site_a, 5000 + i / 10, LOG_LEVEL_ERROR, "a line %d", i);
	log_site_msg(&site_b, 5050, LOG_LEVEL_ERROR, "b line");
	log_site_msg(&site_a, 6000, LOG_LEVEL_ERROR, "a again");
}

static void
test_a_flood_is_cut_and_counted(void)
{
	const char *out = captured(flood_two_seconds);

	CHECK_INT(count(out, "a line"), LOG_SITE_PER_SECOND);
	CHECK_INT(count(out, "b line"), 1);
	CHECK(strstr(out, "990 more lines like the next were dropped") != NULL);
	CHECK(strstr(out, "dropped") < strstr(out, "a again"));
	CHECK_INT(count(out, "\n"), LOG_SITE_PER_SECOND + 3);
}

static void
flood_macro(void)
{
	for (int i = 0; i < 100; i++)
		log_ratelimited(LOG_LEVEL_WARN, "macro %d", i);
}

static void
test_the_macro_keeps_one_budget_per_call_site(void)
{
	CHECK_INT(count(captured(flood_macro), "macro"), LOG_SITE_PER_SECOND);
}

int
main(void)
{
	UNIT_RUN(test_a_flood_is_cut_and_counted);
	UNIT_RUN(test_the_macro_keeps_one_budget_per_call_site);
	return UNIT_END();
}
