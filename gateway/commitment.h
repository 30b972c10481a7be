/* commitment.h — the per-subject commitments of audit entries (contract
 * §5): base64(HMAC-SHA256(V, "tellonce/<what>\n" || nonce || value)) under
 * the subject's view key V. Written by audit.c, checked by the access log
 * and by `tellonce audit verify-subject`. */
#ifndef TELLONCE_COMMITMENT_H
#define TELLONCE_COMMITMENT_H

#include <openssl/types.h>
#include <stddef.h>

#include "encode.h"

#define COMMITMENT_KEY_LEN   32   /* a view key */
#define COMMITMENT_NONCE_LEN 16
#define COMMITMENT_MAC_LEN   32
/* Room for the base64 of a commitment, of a view key and of a nonce. */
#define COMMITMENT_B64_LEN   ENCODE_BASE64_LEN(COMMITMENT_MAC_LEN)

/* What a commitment is to: each has its own label, so that no commitment
 * to one thing can pass for one to another. */
enum commitment_kind {
	COMMITMENT_SUBJECT,   /* the value is empty */
	COMMITMENT_CONSENT,   /* the consent id */
	COMMITMENT_PAYLOAD,   /* the JCS text of the record (jcs.h) */
	COMMITMENT_MANDATE,   /* mandate id "\n" helper id (contract §8) */
};

/* A view key ready for the commitments of one entry: HMAC's key pads are
 * hashed once, not once per commitment. Owns its contexts: free with
 * commitment_key_clear. */
struct commitment_key {
	EVP_MD_CTX *inner, *outer, *work;
};

/* 0, or -1 when OpenSSL fails (k is then clear). */
int commitment_key_init(struct commitment_key *k,
    const unsigned char key[COMMITMENT_KEY_LEN]);
/* As commitment_make, under k. */
int commitment_key_make(struct commitment_key *k, enum commitment_kind kind,
    const unsigned char nonce[COMMITMENT_NONCE_LEN], const void *value,
    size_t len, char out[COMMITMENT_B64_LEN]);
/* Frees k's contexts, wiping the key's state. */
void commitment_key_clear(struct commitment_key *k);

/* Writes the commitment of kind to value (len bytes) under key and nonce
 * into out, as base64. 0, or -1 when OpenSSL fails. */
int commitment_make(enum commitment_kind kind,
    const unsigned char key[COMMITMENT_KEY_LEN],
    const unsigned char nonce[COMMITMENT_NONCE_LEN], const void *value,
    size_t len, char out[COMMITMENT_B64_LEN]);
/* 1 when b64 is that commitment, 0 otherwise (compared in constant time). */
int commitment_check(enum commitment_kind kind,
    const unsigned char key[COMMITMENT_KEY_LEN],
    const unsigned char nonce[COMMITMENT_NONCE_LEN], const void *value,
    size_t len, const char *b64);

#endif
