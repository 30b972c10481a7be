/* checkpoint.h — signed tree heads: a C2SP tlog-checkpoint body inside a
 * C2SP signed-note, signed with Ed25519 by keys named after the origin:
 *
 *   <origin>\n<size>\n<base64 root>\n\n— <origin> <base64(keyID || sig)>\n
 *
 * with one signature line per signing key: while a key is rotated, old and
 * new sign each checkpoint, and a verifier that knows either accepts it
 * (signatures by keys it does not know are skipped, as C2SP says). */
#ifndef TELLONCE_CHECKPOINT_H
#define TELLONCE_CHECKPOINT_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "merkle.h"

#define CHECKPOINT_ORIGIN_MAX 256

struct checkpoint {
	char origin[CHECKPOINT_ORIGIN_MAX];
	uint64_t size;
	merkle_hash root;
};

/* 1 when origin can name a log: at most CHECKPOINT_ORIGIN_MAX - 1 bytes,
 * as checkpoint_parse reads it back, and a C2SP signed-note key name, since
 * it names the signing key too: non-empty UTF-8 without spaces (Unicode's
 * too), control characters or '+', which separates a verifier key's
 * fields. 0 otherwise. */
int checkpoint_origin_valid(const char *origin);

/* A verifier key: its name and raw Ed25519 public key (keys.h). */
struct checkpoint_key {
	const char *name;            /* borrowed */
	unsigned char pub[32];
};

/* Signs any note text (ending in a newline) with nkeys (>= 1) keys, all
 * named `name`: the text, a blank line and one signature line per key, in
 * order. malloc'd; NULL if signing fails. */
char *checkpoint_note_sign(EVP_PKEY *const *keys, size_t nkeys,
    const char *name, const char *text);
/* The signed note for (origin, size, root), signed by every key;
 * malloc'd, caller frees. NULL if signing fails. */
char *checkpoint_sign(EVP_PKEY *const *keys, size_t nkeys, const char *origin,
    uint64_t size, const merkle_hash root);
/* Parses the checkpoint body of a note, without checking signatures.
 * Returns 0, or -1 with the reason in err. */
int checkpoint_parse(const char *note, size_t len, struct checkpoint *cp,
    char *err, size_t errlen);
/* 0 when the note carries a valid Ed25519 signature by at least one of the
 * keys and no bad one by any of them; -1 with the reason in err otherwise. */
int checkpoint_verify_keys(const char *note, size_t len,
    const struct checkpoint_key *keys, size_t nkeys, char *err, size_t errlen);
/* checkpoint_verify_keys with the one key (name, pub). */
int checkpoint_verify(const char *note, size_t len, const char *name,
    const unsigned char pub[32], char *err, size_t errlen);

#endif
