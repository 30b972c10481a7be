/* checkpoint.h — signed tree heads: a C2SP tlog-checkpoint body inside a
 * C2SP signed-note, signed with Ed25519 by the key named after the origin:
 *
 *   <origin>\n<size>\n<base64 root>\n\n— <origin> <base64(keyID || sig)>\n
 */
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

/* Signs any note text (ending in a newline) as key `name`: the text, a
 * blank line and the signature line. malloc'd; NULL if signing fails. */
char *checkpoint_note_sign(EVP_PKEY *key, const char *name, const char *text);
/* The signed note for (origin, size, root); malloc'd, caller frees. NULL if
 * signing fails. */
char *checkpoint_sign(EVP_PKEY *key, const char *origin, uint64_t size,
    const merkle_hash root);
/* Parses the checkpoint body of a note, without checking signatures.
 * Returns 0, or -1 with the reason in err. */
int checkpoint_parse(const char *note, size_t len, struct checkpoint *cp,
    char *err, size_t errlen);
/* 0 when the note carries a valid Ed25519 signature by the key (name, pub);
 * -1 with the reason in err otherwise. */
int checkpoint_verify(const char *note, size_t len, const char *name,
    const unsigned char pub[32], char *err, size_t errlen);

#endif
