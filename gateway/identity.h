/* identity.h — pivot identity → keyed pseudonym (the subject).
 *
 * The pivot (family name, given names, birth date, birth place, gender) is
 * normalised so that the same person typed by two services gives the same
 * text, then HMAC-SHA-256 keyed with gateway.pseudonym_key. The pivot is
 * never stored or logged; only the pseudonym leaves this module.
 *
 * The normalisation is versioned (docs/identity.md): new subjects are
 * derived under IDENTITY_VERSION, and a link still finds a person linked
 * under version 1. */
#ifndef TELLONCE_IDENTITY_H
#define TELLONCE_IDENTITY_H

#include <jansson.h>
#include <stddef.h>

#include "store.h"

#define IDENTITY_VERSION 2       /* the normalisation of new subjects */
#define IDENTITY_TEXT_MAX 1024   /* bytes of one normalised field, NUL included */
#define IDENTITY_CANDIDATES 3

/* Normalises one name or place under `version` (1 or 2) into out (outlen
 * bytes). Returns NULL, or what is wrong (never the value). */
const char *identity_name(int version, const char *in, char *out,
    size_t outlen);

/* Normalises a pivot JSON object {family_name, given_names, birthdate,
 * birthplace, gender} under `version` into *out (malloc'd, caller frees;
 * wipe before free). Names: trimmed, inner spaces collapsed, accents
 * stripped, case-folded. birthdate: "YYYY-MM-DD" or "DD/MM/YYYY" → ISO
 * 8601. gender: M, F or X. Returns 0, or -1 with a message in err naming
 * the field (never its value). */
int identity_normalize(const json_t *pivot, int version, char **out,
    char *err, size_t errlen);

/* subject = lower-case hex HMAC-SHA-256(key, tag || normalized), the tag
 * empty for version 1 and "v2" 0x1E for version 2. */
void identity_pseudonym(const unsigned char *key, size_t keylen, int version,
    const char *normalized, char subject[STORE_SUBJECT_LEN]);

struct identity_subject {
	char subject[STORE_SUBJECT_LEN];
	int version;                 /* the normalisation it was derived under */
};

/* The subjects a pivot may be linked under, in the order a link tries
 * them: its version 2 subject, the version 1 subject of the same pivot,
 * the version 1 subject of its version 2 text (when that differs and could
 * be a version 1 text). Returns how many (1 to IDENTITY_CANDIDATES), or -1
 * with err as identity_normalize. */
int identity_subjects(const unsigned char *key, size_t keylen,
    const json_t *pivot, struct identity_subject out[IDENTITY_CANDIDATES],
    char *err, size_t errlen);

/* Links (service, local_id) to the first of the n subjects that a link
 * already names, or to subjects[0] if none does. A local id already linked
 * to any of them is the same link again (STORE_OK, *created 0); linked to
 * another subject, STORE_CONFLICT, as is a subject the service already
 * linked to another local id. *chosen: the index linked to. */
enum store_status identity_link(struct store *st, const char *service,
    const char *local_id, const struct identity_subject *subjects, int n,
    int *chosen, int *created);

#endif
