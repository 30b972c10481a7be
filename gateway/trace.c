/* trace.c — W3C traceparent parsing and generation (see trace.h). */
#include "trace.h"

#include <string.h>

#include "encode.h"
#include "rand.h"

/* n lower-case hex digits at s, not all zero when nonzero is set. */
static int
trace_hex(const char *s, size_t n, int nonzero)
{
	int any = 0;

	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return -1;
		any |= s[i] != '0';
	}
	return nonzero && !any ? -1 : 0;
}

int
trace_parse(const char *h, struct trace *t)
{
	size_t len;
	unsigned char flags;

	if (h == NULL || (len = strlen(h)) < TRACE_HEADER_LEN - 1)
		return -1;
	if (trace_hex(h, 2, 0) != 0 || strncmp(h, "ff", 2) == 0)
		return -1;
	/* Version 00 has exactly these fields; a later version may append
	 * its own after a dash, which a version-00 reader ignores. */
	if (strncmp(h, "00", 2) == 0 ? len != TRACE_HEADER_LEN - 1 :
	    len > TRACE_HEADER_LEN - 1 && h[TRACE_HEADER_LEN - 1] != '-')
		return -1;
	if (h[2] != '-' || h[35] != '-' || h[52] != '-' ||
	    trace_hex(h + 3, 32, 1) != 0 || trace_hex(h + 36, 16, 1) != 0 ||
	    trace_hex(h + 53, 2, 0) != 0)
		return -1;
	memcpy(t->trace_id, h + 3, 32);
	t->trace_id[32] = '\0';
	memcpy(t->span_id, h + 36, 16);
	t->span_id[16] = '\0';
	/* Both digits are hex: trace_hex checked them. */
	decode_hex((const char[]){ h[53], h[54], '\0' }, &flags, 1);
	/* Only the sampled bit is defined; a later version's other bits mean
	 * nothing to a version-00 sender. */
	t->flags = strncmp(h, "00", 2) == 0 ? flags : flags & 0x01;
	return 0;
}

/* Random lower-case hex of n bytes (n <= 16). All zero is the spec's
 * invalid value: only a failed CSPRNG gives it, and then the last bit
 * is set so that the id stays valid. */
static void
trace_random_hex(char *out, size_t n)
{
	unsigned char raw[16] = { 0 };
	int any = 0;

	rand_id_bytes(raw, n);
	for (size_t i = 0; i < n; i++)
		any |= raw[i];
	if (!any)
		raw[n - 1] = 1;
	encode_hex(raw, n, out);
}

int
trace_continue(struct trace *t, const char *header)
{
	int kept = trace_parse(header, t) == 0;

	if (!kept) {
		trace_random_hex(t->trace_id, 16);
		t->flags = 0x01;
	}
	trace_random_hex(t->span_id, 8);
	return kept;
}

/* Written field by field, not by snprintf: one per provider call. */
void
trace_format(const struct trace *t, char out[TRACE_HEADER_LEN])
{
	memcpy(out, "00-", 3);
	memcpy(out + 3, t->trace_id, 32);
	out[35] = '-';
	memcpy(out + 36, t->span_id, 16);
	out[52] = '-';
	encode_hex(&t->flags, 1, out + 53);
}

void
trace_child(const struct trace *t, char out[TRACE_HEADER_LEN])
{
	struct trace child = *t;

	trace_random_hex(child.span_id, 8);
	trace_format(&child, out);
}
