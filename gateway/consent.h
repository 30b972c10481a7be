/* consent.h — granting and revoking a subject's consent, and its receipt.
 *
 * A consent is granted by the consumer for its own local id of the subject
 * and must fit a `consent` policy (policy_consent_fits). The receipt is a
 * compact JWS signed by the gateway that the consumer can show later; it
 * names the consumer's local id, never the pseudonym. A mediator may give
 * one on the citizen's behalf, under a mandate: the receipt, its own, then
 * names the mediator's local id, the mandate and the helper. */
#ifndef TELLONCE_CONSENT_H
#define TELLONCE_CONSENT_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdint.h>

#include "config_model.h"
#include "policy.h"
#include "store.h"

struct consent_grant {
	const struct config_service *consumer;
	const struct config_service *provider;
	const struct config_dataset *dataset;
	const char *subject;                /* pseudonym */
	const char *local_id;               /* the consumer's id of the subject */
	const char *const *attributes;
	size_t nattributes;
	const char *purpose;
	int64_t expires_ms;                 /* 0 = none; must be in the future */
	/* Given on the citizen's behalf by a mediator (contract §8), else
	 * NULL: the mandate it acts under (already decided by
	 * policy_mandate_decide) and the agent who acted. local_id is then
	 * the mediator's id of the subject. */
	const struct store_mandate *mandate;
	const char *helper;
};

struct consent_signer {
	EVP_PKEY *key;                      /* Ed25519; borrowed */
	const char *kid;
};

/* Checks the grant against the policies, stores it and signs a receipt.
 * On POLICY_ALLOW: *out filled (clear with store_consent_clear), *receipt
 * malloc'd, *policy the consent policy it fits. Otherwise the reason;
 * POLICY_STORE_ERROR if storing or signing failed. */
enum policy_reason consent_grant(struct store *st, const struct config *cfg,
    const struct consent_signer *signer, const struct consent_grant *g,
    int64_t now_ms, struct store_consent *out, char **receipt,
    const struct config_policy **policy);

/* "active", "revoked" or "expired" (an expiry of 0 is none; what expires
 * at T has expired at T): the status of a consent or a mandate. */
const char *consent_status(int64_t revoked_ms, int64_t expires_ms,
    int64_t now_ms);

/* The consent as the API shows it to `viewer` (a party to it): subject is
 * viewer's local id, status "active" | "revoked" | "expired"; given by a
 * mediator, also mandate: true and the mediator. New reference. */
json_t *consent_to_json(const struct store_consent *c, const char *viewer_local_id,
    int64_t now_ms);

#endif
