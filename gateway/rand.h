/* rand.h — random bytes for identifiers (request ids, trace and span ids),
 * from OpenSSL's CSPRNG drawn a block at a time per thread: one
 * RAND_bytes call costs about as much as the three lookups of a fetch in
 * the store, and a request needs several such ids. Not for keys or
 * anything secret: the bytes of a block wait in memory until used. A nonce
 * published with what it serves (an audit entry's, which must be fresh,
 * not secret) is fine. */
#ifndef TELLONCE_RAND_H
#define TELLONCE_RAND_H

#include <stddef.h>

#define RAND_ID_MAX 64   /* bytes one call may ask for */

/* Fills buf with n <= RAND_ID_MAX random bytes; 0, or -1 (buf zeroed) when
 * the CSPRNG failed. */
int rand_id_bytes(unsigned char *buf, size_t n);

#endif
