/* jws.h — compact JWS (RFC 7515) with EdDSA (RFC 8037), for consent and mandate
 * receipts. */
#ifndef TELLONCE_JWS_H
#define TELLONCE_JWS_H

#include <jansson.h>
#include <openssl/evp.h>

/* Signs payload (JSON text) with an Ed25519 key; header {"alg":"EdDSA",
 * "kid":kid,"typ":"JWT"}. Returns the malloc'd compact form, or NULL. */
char *jws_sign(EVP_PKEY *key, const char *kid, const char *payload_json);
/* jws_sign of the JCS text of claims (a JSON object, borrowed). */
char *jws_sign_claims(EVP_PKEY *key, const char *kid, const json_t *claims);
/* Verifies a compact JWS against an Ed25519 public (or private) key and
 * header alg EdDSA. Returns 0 with *payload_json malloc'd, or -1. */
int jws_verify(EVP_PKEY *key, const char *compact, char **payload_json);

#endif
