/* test_clock.c — RFC 3339 time stamps as audit entries and log lines write
 * them. */
#include <stdint.h>

#include "clock.h"
#include "unit.h"

static const struct {
	int64_t ms;
	const char *with_ms, *to_second;
} stamps[] = {
	{ 0, "1970-01-01T00:00:00.000Z", "1970-01-01T00:00:00Z" },
	{ 951782400001, "2000-02-29T00:00:00.001Z", "2000-02-29T00:00:00Z" },
	{ 1764970358123, "2025-12-05T21:32:38.123Z", "2025-12-05T21:32:38Z" },
	{ 253402300799999, "9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59Z" },
};

static void
test_format(void)
{
	char buf[CLOCK_RFC3339_LEN];

	for (size_t i = 0; i < sizeof(stamps) / sizeof(stamps[0]); i++) {
		clock_format_rfc3339(stamps[i].ms, buf);
		CHECK_STR(buf, stamps[i].with_ms);
		clock_format_rfc3339_s(stamps[i].ms, buf);
		CHECK_STR(buf, stamps[i].to_second);
	}
}

int
main(void)
{
	UNIT_RUN(test_format);
	return UNIT_END();
}
