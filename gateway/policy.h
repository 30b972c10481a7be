/* policy.h — the one place that decides allow or deny.
 *
 * Default deny. An exchange is allowed only when a policy names this
 * consumer, provider and dataset, its purpose matches, every requested
 * attribute is inside the policy (and, for basis consent, inside a live
 * consent: not expired, not revoked), and for basis public_task the subject
 * has not objected. Reads consents and objections from the store on every
 * call, so a revocation applies to the very next request. */
#ifndef TELLONCE_POLICY_H
#define TELLONCE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "config_model.h"
#include "store.h"

enum policy_reason {
	POLICY_ALLOW = 0,
	POLICY_NO_POLICY,
	POLICY_NO_CONSENT,
	POLICY_CONSENT_REVOKED,
	POLICY_CONSENT_EXPIRED,
	POLICY_ATTRIBUTE_NOT_PERMITTED,
	POLICY_PURPOSE_MISMATCH,
	POLICY_OBJECTION,
	POLICY_SUBJECT_NOT_LINKED,
	POLICY_NO_MANDATE,      /* §8: acts by a mediator */
	POLICY_MANDATE_EXPIRED,
	POLICY_MANDATE_REVOKED,
	POLICY_MANDATE_SCOPE,
	POLICY_STORE_ERROR,     /* not a decision: the store failed (→ 503) */
};

/* "no_policy", "consent_revoked", ... as in contract §4 ("allow" for 0). */
const char *policy_reason_name(enum policy_reason reason);

struct policy_query {
	const struct config *cfg;
	const struct config_service *consumer;
	const struct config_service *provider;  /* NULL: any provider */
	const struct config_dataset *dataset;
	const char *purpose;
	const char *const *attributes;          /* requested names; */
	size_t nattributes;                     /* 0 = all that may be had */
	const char *subject;                    /* pseudonym */
	int64_t now_ms;
};

struct policy_decision {
	enum policy_reason reason;              /* POLICY_ALLOW or why not */
	const struct config_policy *policy;     /* the deciding policy, or NULL */
	char consent_id[STORE_ID_LEN];          /* "" unless a consent decided */
	/* Allowed: the attributes to exchange (requested ones, or all that the
	 * policy and consent permit). malloc'd; free with policy_decision_clear. */
	const struct config_attribute **attributes;
	size_t nattributes;
};

/* Decides a fetch or a delivery. Returns the reason (also in d->reason). */
enum policy_reason policy_decide(struct store *st, const struct policy_query *q,
    struct policy_decision *d);
/* Decides q once for each purpose that its candidate policies name (q's
 * own purpose is not used) and keeps the best decision by the rule that
 * picks among policies: an allow granting the most attributes, else the
 * denial that got furthest. For a subscriber, who asks for no purpose.
 * Returns the reason (also in d->reason). */
enum policy_reason policy_decide_any_purpose(struct store *st,
    const struct policy_query *q, struct policy_decision *d);
void policy_decision_clear(struct policy_decision *d);

/* The audit entry of `type` for decision d: the deciding policy (its id,
 * basis and purpose; null without one), the consent, allow or deny and a
 * denial's reason. The caller adds who, what, the request and the payload,
 * and overrides what its outcome says otherwise. Borrows from d. */
struct audit_entry policy_audit_entry(enum audit_type type,
    const struct policy_decision *d);

/* An act of a mediator for a citizen (contract §8): giving a consent,
 * objecting, reading the access log. */
struct policy_act {
	const struct config_service *mediator;  /* the caller */
	const char *subject;                    /* pseudonym */
	const char *mandate;                    /* the one named, or NULL: any */
	unsigned action;                        /* one STORE_MANDATE_* bit */
	const struct config_dataset *dataset;   /* NULL: not about one dataset */
	int64_t now_ms;
};

/* Decides whether the mediator may do the act, which it may only under a
 * mandate of the subject to it (the one named, or any) whose scope holds
 * the action and the dataset, neither revoked nor expired (a mandate
 * expiring at T no longer holds at T). A service without the mediator
 * role holds no mandate. Allowed: *m is the mandate. Denied, the reason
 * of the mandate that got furthest (no_mandate < mandate_scope <
 * mandate_expired, mandate_revoked; newest first on a tie) and *m that
 * mandate, or cleared for no_mandate. Clear *m with store_mandate_clear.
 * POLICY_STORE_ERROR when the store failed. */
enum policy_reason policy_mandate_decide(struct store *st,
    const struct policy_act *q, struct store_mandate *m);

/* Checks that a consent being granted fits some `consent` policy: consumer,
 * provider, dataset, purpose match and attributes are inside it. Returns
 * POLICY_ALLOW with *policy set, or the reason it does not fit. */
enum policy_reason policy_consent_fits(const struct config *cfg,
    const struct config_service *consumer, const struct config_service *provider,
    const struct config_dataset *dataset, const char *purpose,
    const char *const *attributes, size_t nattributes,
    const struct config_policy **policy);

#endif
