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

#endif
