/* fuzz_trace.c — the traceparent header a caller sends (trace_parse, as
 * request.c reads it through trace_continue), which the gateway then sends
 * on to providers and subscribers and keeps with the records it stores.
 * The input is the header's value, up to its first NUL as evhttp hands it
 * over.
 *
 * Oracles: whatever the header, the trace the gateway carries on formats
 * as a header that parses back to itself, and a child of it keeps its
 * trace id; a header that was kept is the caller's trace: a version-00
 * header formats back to exactly the input, a later version's to its
 * first four fields with only the sampled flag. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "trace.h"

/* h formats as a header that parses back to the same trace. */
static void
fuzz_round_trip(const struct trace *t, char h[TRACE_HEADER_LEN])
{
	struct trace back;

	trace_format(t, h);
	h[TRACE_HEADER_LEN - 1] = '\0';
	if (trace_parse(h, &back) != 0 ||
	    strcmp(back.trace_id, t->trace_id) != 0 ||
	    strcmp(back.span_id, t->span_id) != 0 || back.flags != t->flags)
		abort();
}

/* The header a kept caller's trace must format as. */
static void
fuzz_expected(const char *in, char want[TRACE_HEADER_LEN])
{
	memcpy(want, in, TRACE_HEADER_LEN - 1);
	want[TRACE_HEADER_LEN - 1] = '\0';
	if (strncmp(in, "00", 2) == 0)
		return;
	memcpy(want, "00", 2);
	want[53] = '0';
	want[54] = strchr("13579bdf", in[54]) != NULL ? '1' : '0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = strndup((const char *)data, size);
	char h[TRACE_HEADER_LEN], want[TRACE_HEADER_LEN], child[TRACE_HEADER_LEN];
	struct trace t, parsed;

	if (in == NULL)
		abort();
	if (trace_parse(in, &parsed) == 0) {
		fuzz_round_trip(&parsed, h);
		fuzz_expected(in, want);
		if (strcmp(h, want) != 0)
			abort();
	}
	if (trace_continue(&t, in) != (trace_parse(in, &parsed) == 0) ||
	    (trace_parse(in, &parsed) == 0 &&
	    strcmp(t.trace_id, parsed.trace_id) != 0))
		abort();
	fuzz_round_trip(&t, h);
	trace_child(&t, child);
	child[TRACE_HEADER_LEN - 1] = '\0';
	if (trace_parse(child, &parsed) != 0 ||
	    strcmp(parsed.trace_id, t.trace_id) != 0)
		abort();
	free(in);
	return 0;
}
