/* identity.h — pivot identity → keyed pseudonym (the subject).
 *
 * The pivot (family name, given names, birth date, birth place, gender) is
 * normalised so that the same person typed by two services gives the same
 * text, then HMAC-SHA-256 keyed with gateway.pseudonym_key. The pivot is
 * never stored or logged; only the pseudonym leaves this module. */
#ifndef TELLONCE_IDENTITY_H
#define TELLONCE_IDENTITY_H

#include <jansson.h>
#include <stddef.h>

#include "store.h"

/* Normalises a pivot JSON object {family_name, given_names, birthdate,
 * birthplace, gender} into *out (malloc'd, caller frees; wipe before free).
 * Names: trimmed, inner spaces collapsed, accents stripped, case-folded.
 * birthdate: "YYYY-MM-DD" or "DD/MM/YYYY" → ISO 8601. gender: M, F or X.
 * Returns 0, or -1 with a message in err naming the field (never its value). */
int identity_normalize(const json_t *pivot, char **out, char *err, size_t errlen);

/* subject = lower-case hex HMAC-SHA-256(key, normalized). */
void identity_pseudonym(const unsigned char *key, size_t keylen,
    const char *normalized, char subject[STORE_SUBJECT_LEN]);

#endif
