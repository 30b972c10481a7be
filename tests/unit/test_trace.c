/* test_trace.c — W3C traceparent: what is kept, what starts a new trace,
 * and what the gateway sends on. */
#include <string.h>

#include "trace.h"
#include "unit.h"

#define GOOD "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static void
test_parse_valid(void)
{
	struct trace t;

	CHECK_INT(trace_parse(GOOD, &t), 0);
	CHECK_STR(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
	CHECK_STR(t.span_id, "00f067aa0ba902b7");
	CHECK_INT(t.flags, 1);
	CHECK_INT(trace_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-"
	    "00f067aa0ba902b7-00", &t), 0);
	CHECK_INT(t.flags, 0);
}

static void
test_parse_refuses_malformed(void)
{
	static const char *const bad[] = {
		"",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
		/* upper-case hex */
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		/* all-zero trace id, all-zero parent id */
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		/* version ff is invalid; 00 takes no extra fields */
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		GOOD "-extra",
		GOOD " ",
		/* wrong separators, short fields, non-hex */
		"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
		"0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		/* a later version must separate its extra fields with a dash */
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
	};
	struct trace t;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (trace_parse(bad[i], &t) != -1)
			fprintf(stderr, "  accepted: \"%s\"\n", bad[i]);
		CHECK_INT(trace_parse(bad[i], &t), -1);
	}
	CHECK_INT(trace_parse(NULL, &t), -1);
}

static void
test_later_version_is_read_as_00(void)
{
	struct trace t;
	char out[TRACE_HEADER_LEN];

	CHECK_INT(trace_parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-"
	    "00f067aa0ba902b7-03-whatever-comes-next", &t), 0);
	CHECK_STR(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
	/* Only the sampled bit is passed on. */
	CHECK_INT(t.flags, 1);
	trace_format(&t, out);
	CHECK_STR(out, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
}

static void
test_continue_keeps_the_trace_with_a_new_span(void)
{
	struct trace t;

	CHECK_INT(trace_continue(&t, GOOD), 1);
	CHECK_STR(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
	CHECK(strcmp(t.span_id, "00f067aa0ba902b7") != 0);
	CHECK_INT((int)strlen(t.span_id), 16);
	CHECK_INT(t.flags, 1);
}

static void
test_continue_starts_a_trace_when_malformed(void)
{
	struct trace a, b;
	char out[TRACE_HEADER_LEN];

	CHECK_INT(trace_continue(&a, "00-zz"), 0);
	CHECK_INT(trace_continue(&b, NULL), 0);
	CHECK_INT((int)strlen(a.trace_id), 32);
	CHECK(strcmp(a.trace_id, b.trace_id) != 0);
	CHECK(strcmp(a.span_id, b.span_id) != 0);
	trace_format(&a, out);
	/* What it starts, it can read back. */
	CHECK_INT(trace_parse(out, &b), 0);
	CHECK_STR(b.trace_id, a.trace_id);
	CHECK_STR(b.span_id, a.span_id);
}

static void
test_child_has_same_trace_new_span(void)
{
	struct trace t, c1, c2;
	char h1[TRACE_HEADER_LEN], h2[TRACE_HEADER_LEN];

	trace_continue(&t, GOOD);
	trace_child(&t, h1);
	trace_child(&t, h2);
	CHECK_INT(trace_parse(h1, &c1), 0);
	CHECK_INT(trace_parse(h2, &c2), 0);
	CHECK_STR(c1.trace_id, t.trace_id);
	CHECK_STR(c2.trace_id, t.trace_id);
	CHECK(strcmp(c1.span_id, t.span_id) != 0);
	CHECK(strcmp(c1.span_id, c2.span_id) != 0);
	CHECK_INT(c1.flags, t.flags);
}

int
main(void)
{
	UNIT_RUN(test_parse_valid);
	UNIT_RUN(test_parse_refuses_malformed);
	UNIT_RUN(test_later_version_is_read_as_00);
	UNIT_RUN(test_continue_keeps_the_trace_with_a_new_span);
	UNIT_RUN(test_continue_starts_a_trace_when_malformed);
	UNIT_RUN(test_child_has_same_trace_new_span);
	return UNIT_END();
}
