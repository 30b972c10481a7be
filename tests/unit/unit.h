/* unit.h — a minimal unit-test harness: each TEST is a function, each CHECK
 * records a failure with file:line and carries on. main() lists the tests:
 *
 *   int main(void) { UNIT_RUN(test_a); UNIT_RUN(test_b); return UNIT_END(); }
 *
 * and the binary prints "NAME: N passed, N failed" as its last line. */
#ifndef TELLONCE_UNIT_H
#define TELLONCE_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed, unit_current_failed;
static const char *unit_current;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "  %s:%d: %s: CHECK(%s) failed\n", __FILE__, \
		    __LINE__, unit_current, #cond); \
		unit_current_failed = 1; \
	} \
} while (0)

#define CHECK_INT(a, b) do { \
	long long unit_a = (long long)(a), unit_b = (long long)(b); \
	if (unit_a != unit_b) { \
		fprintf(stderr, "  %s:%d: %s: %s == %lld, expected %lld\n", \
		    __FILE__, __LINE__, unit_current, #a, unit_a, unit_b); \
		unit_current_failed = 1; \
	} \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *unit_a = (a), *unit_b = (b); \
	if (unit_a == NULL || unit_b == NULL || strcmp(unit_a, unit_b) != 0) { \
		fprintf(stderr, "  %s:%d: %s: %s == \"%s\", expected \"%s\"\n", \
		    __FILE__, __LINE__, unit_current, #a, \
		    unit_a ? unit_a : "(null)", unit_b ? unit_b : "(null)"); \
		unit_current_failed = 1; \
	} \
} while (0)

#define UNIT_RUN(fn) UNIT_RUN_AS(fn, #fn)

/* The same under another name, for a test run more than once. */
#define UNIT_RUN_AS(fn, name) do { \
	unit_current = (name); \
	unit_current_failed = 0; \
	fn(); \
	if (unit_current_failed) { \
		unit_failed++; \
		fprintf(stderr, "FAIL %s\n", unit_current); \
	} else { \
		unit_passed++; \
	} \
} while (0)

#define UNIT_END() ( \
	printf("%s: %d passed, %d failed\n", unit_name(__FILE__), unit_passed, \
	    unit_failed), \
	unit_failed != 0)

static inline const char *
unit_name(const char *file)
{
	const char *slash = strrchr(file, '/');

	return slash ? slash + 1 : file;
}

#endif
