/* mandate.h — a citizen's mandate to a mediator service (contract §8):
 * its scope as the mediator writes it, granting it with a signed receipt,
 * and its API view.
 *
 * Whether a mediator may act under a mandate is decided in policy.c
 * (policy_mandate_decide); this module only records mandates. */
#ifndef TELLONCE_MANDATE_H
#define TELLONCE_MANDATE_H

#include <jansson.h>
#include <stdint.h>

#include "config_model.h"
#include "consent.h"
#include "store.h"

/* Longest helper id accepted: an opaque agent id, never a name. */
#define MANDATE_HELPER_MAX 128

/* "consent", "objection", "access_log" → its STORE_MANDATE_* bit; 0 for
 * any other name. */
unsigned mandate_action(const char *name);

/* A scope as written: {datasets?, categories?, actions}, with the
 * categories of mandates.categories expanded into their datasets. */
struct mandate_scope {
	const char **datasets;      /* malloc'd array of names borrowed from cfg */
	size_t ndatasets;
	unsigned actions;           /* STORE_MANDATE_* */
};

/* Reads scope (borrowed) against cfg: datasets and categories must be
 * known and together name at least one dataset, actions at least one of
 * the three; a repeat is an error. Returns 0 with *out filled (free with
 * mandate_scope_clear), or -1 with a message for the caller's 400 in err. */
int mandate_scope_parse(const struct config *cfg, const json_t *scope,
    struct mandate_scope *out, char *err, size_t errlen);
void mandate_scope_clear(struct mandate_scope *s);

struct mandate_grant {
	const struct config_service *mediator;
	const char *subject;                /* pseudonym */
	const char *local_id;               /* the mediator's id of the citizen */
	const char *helper;
	const struct mandate_scope *scope;
	int64_t expires_ms;
};

/* Stores the mandate and signs its receipt, which names the mediator's
 * local id (never the pseudonym), the mediator, the helper, the scope and
 * the expiry. Returns 0 with *out filled (clear with store_mandate_clear)
 * and *receipt malloc'd, or -1 (nothing stored) when signing or storing
 * failed. */
int mandate_grant(struct store *st, const struct consent_signer *signer,
    const struct mandate_grant *g, int64_t now_ms, struct store_mandate *out,
    char **receipt);

/* The mandate as its mediator sees it: subject is the mediator's local id,
 * status "active" | "revoked" | "expired". New reference. */
json_t *mandate_to_json(const struct store_mandate *m, const char *local_id,
    int64_t now_ms);

#endif
