/* trace.h — W3C Trace Context (https://www.w3.org/TR/trace-context/):
 * the `traceparent` header a request brings, and the ones the gateway
 * sends on to providers and subscribers.
 *
 * A request keeps its caller's trace id (or starts a trace when the
 * header is missing or malformed) and gets a span id of its own; every
 * call it makes downstream is a child: same trace id, a new span id.
 * `tracestate` is not carried: the gateway records no spans, only the
 * trace id in its log lines. */
#ifndef TELLONCE_TRACE_H
#define TELLONCE_TRACE_H

/* "00-" + 32 hex + "-" + 16 hex + "-" + 2 hex, and the NUL. */
#define TRACE_HEADER_LEN 56
#define TRACE_ID_LEN 33      /* 32 lower-case hex + NUL */
#define TRACE_SPAN_LEN 17    /* 16 lower-case hex + NUL */

struct trace {
	char trace_id[TRACE_ID_LEN];
	char span_id[TRACE_SPAN_LEN];
	unsigned char flags;     /* bit 0: sampled */
};

/* Parses a traceparent header strictly (lower-case hex, no all-zero ids,
 * version ff refused, version 00 exactly 55 characters, a later version's
 * extra fields ignored as the spec says). 0 with *t (span_id: the
 * caller's), or -1. */
int trace_parse(const char *header, struct trace *t);
/* Continues the trace of header (any string, or NULL) with a new span id
 * of this gateway's; a missing or malformed header starts a new trace
 * (sampled). Returns 1 when the caller's trace was kept, 0 when a new one
 * started. */
int trace_continue(struct trace *t, const char *header);
/* The version-00 header of t. */
void trace_format(const struct trace *t, char out[TRACE_HEADER_LEN]);
/* The header for a call made on behalf of t: same trace id and flags, a
 * new span id. */
void trace_child(const struct trace *t, char out[TRACE_HEADER_LEN]);

#endif
