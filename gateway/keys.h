/* keys.h — Ed25519 keys: the audit signing key (also signs consent receipts),
 * its C2SP signed-note key ID and verifier key string. */
#ifndef TELLONCE_KEYS_H
#define TELLONCE_KEYS_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "secret.h"

/* Loads an Ed25519 private key from PEM text. NULL with err on failure.
 * Caller frees with EVP_PKEY_free. */
EVP_PKEY *keys_load_private(const struct secret *pem, char *err, size_t errlen);
/* The 32-byte raw public key. Returns 0 or -1. */
int keys_public_raw(EVP_PKEY *key, unsigned char pub[32]);
/* C2SP signed-note key ID: first 4 bytes of SHA-256(name || 0x0A || 0x01 || pub). */
uint32_t keys_note_id(const char *name, const unsigned char pub[32]);
/* "name+hex8(keyID)+base64(0x01 || pub)"; malloc'd, caller frees. */
char *keys_verifier_string(const char *name, const unsigned char pub[32]);
/* Parses a verifier key string into its name (NUL-terminated, at most
 * namelen - 1 bytes) and public key, checking that its key ID matches.
 * Returns 0 or -1. */
int keys_verifier_parse(const char *vkey, char *name, size_t namelen,
    unsigned char pub[32]);
/* Writes a new Ed25519 key as PEM to path with mode 0600 (refusing to
 * overwrite). Returns the key (caller frees) or NULL with err. */
EVP_PKEY *keys_generate(const char *path, char *err, size_t errlen);

#endif
