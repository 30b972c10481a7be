/* jcs.h — RFC 8785 JSON Canonicalization Scheme (JCS).
 *
 * The one canonical text of a JSON value in the gateway: what the audit
 * entries, the payload commitments (contract §5), the stored records and
 * the bodies of deliveries are made of. Members sorted by their names'
 * UTF-16 code units, no whitespace, strings with the minimal escaping of
 * ECMAScript's JSON.stringify, numbers as ECMAScript writes doubles. */
#ifndef TELLONCE_JCS_H
#define TELLONCE_JCS_H

#include <jansson.h>
#include <stddef.h>

/* The JCS text of v; malloc'd, caller frees. NULL when out of memory.
 * (jansson holds only valid UTF-8 and finite numbers, so nothing else
 * fails.) */
char *jcs_dump(const json_t *v);

/* ECMAScript's shortest text of the double d (RFC 8785 §3.2.2.3) into
 * buf (JCS_NUMBER_LEN bytes). -1 for NaN and infinities, which JSON
 * cannot hold; 0 otherwise. */
#define JCS_NUMBER_LEN 48
int jcs_number(double d, char buf[JCS_NUMBER_LEN]);

/* A JCS text written piece by piece, for a caller that knows its members
 * and gives them in JCS order, without building a json_t (the audit
 * entry of every request). Once a piece fails, the others do nothing. */
struct jcs_buf {
	char *data;             /* owned; NUL-terminated */
	size_t len, cap;
	int failed;             /* out of memory, or a string not UTF-8 */
};

/* Appends s as it is (punctuation, member names already in JCS form). */
void jcs_buf_raw(struct jcs_buf *b, const char *s);

/* Appends s as a JSON string, or null when s is NULL; fails the buffer
 * when s is not valid UTF-8, which jansson would refuse too. */
void jcs_buf_string(struct jcs_buf *b, const char *s);

/* The text, handed over (caller frees); NULL, and nothing held, when a
 * piece failed. */
char *jcs_buf_take(struct jcs_buf *b);

#endif
