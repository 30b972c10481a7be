/* sha256.h — SHA-256 through a digest fetched once. OpenSSL 3's SHA256()
 * and EVP_get_digestbyname fetch the algorithm from the provider store at
 * each call, under locks, which costs more than hashing a short input (an
 * API key, a tree node). */
#ifndef TELLONCE_SHA256_H
#define TELLONCE_SHA256_H

#include <openssl/types.h>
#include <stddef.h>

#define SHA256_LEN 32

/* The digest, fetched on first use; NULL when OpenSSL has none. Not to be
 * freed. */
const EVP_MD *sha256_md(void);

/* out := SHA-256(data); 0, or -1 when OpenSSL fails. */
int sha256(const void *data, size_t len, unsigned char out[SHA256_LEN]);

#endif
