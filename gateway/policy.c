/* policy.c — the one allow/deny engine (docs/policy.md explains the rules
 * for admins).
 *
 * A request is checked against every policy that names its consumer and
 * dataset (and provider, when the request names one). Each candidate
 * policy is walked through the same stages — purpose, attributes, then its
 * basis (consent, objection) — and either allows or stops at a stage with
 * a reason. Any allowing policy allows; when none does, the reason given is
 * the one of the policy that got furthest (policy_rank). */
#include "policy.h"

#include <stdlib.h>
#include <string.h>

static const char *const policy_reason_names[] = {
	[POLICY_ALLOW] = "allow",
	[POLICY_NO_POLICY] = "no_policy",
	[POLICY_NO_CONSENT] = "no_consent",
	[POLICY_CONSENT_REVOKED] = "consent_revoked",
	[POLICY_CONSENT_EXPIRED] = "consent_expired",
	[POLICY_ATTRIBUTE_NOT_PERMITTED] = "attribute_not_permitted",
	[POLICY_PURPOSE_MISMATCH] = "purpose_mismatch",
	[POLICY_OBJECTION] = "objection",
	[POLICY_SUBJECT_NOT_LINKED] = "subject_not_linked",
	[POLICY_NO_MANDATE] = "no_mandate",
	[POLICY_MANDATE_EXPIRED] = "mandate_expired",
	[POLICY_MANDATE_REVOKED] = "mandate_revoked",
	[POLICY_MANDATE_SCOPE] = "mandate_scope",
	[POLICY_STORE_ERROR] = "store_error",
};

const char *
policy_reason_name(enum policy_reason reason)
{
	if ((size_t)reason >= sizeof(policy_reason_names) /
	    sizeof(policy_reason_names[0]))
		return "store_error";
	return policy_reason_names[reason];
}

/* How far a policy got before it denied. When every candidate denies, the
 * reason reported is that of the policy that came closest to allowing: it
 * tells the consumer what would make the request pass ("get a consent")
 * rather than what is wrong with some other policy that could never have
 * applied ("purpose mismatch"). Stages, in the order a policy is checked:
 *
 *   0 no_policy                 nothing names this consumer and dataset
 *   1 purpose_mismatch          a policy exists, for another purpose
 *   2 attribute_not_permitted   purpose fits, attributes do not
 *   3 no_consent, consent_expired, consent_revoked
 *                               everything fits but the consent
 *   4 objection                 everything fits, and the subject said no
 *                               to exactly this kind of exchange; it
 *                               outranks a consent that merely lapsed
 *
 * An act of a mediator first passes the stages of its mandate, which come
 * before every policy's: a mediator without a live mandate for the act may
 * not ask anything at all, so a mandate's reason is never weighed against
 * a policy's. Among the subject's mandates to the mediator:
 *
 *  -3 no_mandate                none (or not the one named)
 *  -2 mandate_scope             one, without this action or dataset
 *  -1 mandate_expired, mandate_revoked
 *                               one that covers the act, but lapsed: the
 *                               citizen must renew or has withdrawn it
 *
 * Equal ranks keep the first policy in configuration order (the newest
 * mandate). */
static int
policy_rank(enum policy_reason r)
{
	switch (r) {
	case POLICY_NO_MANDATE:
		return -3;
	case POLICY_MANDATE_SCOPE:
		return -2;
	case POLICY_MANDATE_EXPIRED:
	case POLICY_MANDATE_REVOKED:
		return -1;
	case POLICY_NO_POLICY:
		return 0;
	case POLICY_PURPOSE_MISMATCH:
		return 1;
	case POLICY_ATTRIBUTE_NOT_PERMITTED:
		return 2;
	case POLICY_NO_CONSENT:
	case POLICY_CONSENT_EXPIRED:
	case POLICY_CONSENT_REVOKED:
		return 3;
	case POLICY_OBJECTION:
		return 4;
	default:
		return 5;
	}
}

static const struct config_attribute *
policy_attribute(const struct config_policy *p, const char *name)
{
	for (size_t i = 0; i < p->nattributes; i++)
		if (strcmp(p->attributes[i]->name, name) == 0)
			return p->attributes[i];
	return NULL;
}

static int
policy_names_contain(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return 1;
	return 0;
}

/* The checks that need no store: purpose, then attributes ⊆ policy. */
static enum policy_reason
policy_check_request(const struct config_policy *p, const char *purpose,
    const char *const *attributes, size_t nattributes)
{
	if (strcmp(p->purpose, purpose) != 0)
		return POLICY_PURPOSE_MISMATCH;
	for (size_t i = 0; i < nattributes; i++)
		if (policy_attribute(p, attributes[i]) == NULL)
			return POLICY_ATTRIBUTE_NOT_PERMITTED;
	return POLICY_ALLOW;
}

/* One policy's verdict. On allow, attrs (malloc'd) holds what it permits. */
struct policy_outcome {
	enum policy_reason reason;
	const struct store_consent *consent;   /* borrowed from the eval */
	const struct config_attribute **attrs;
	size_t nattrs;
};

/* State shared by the candidates of one decision: the subject's consents
 * are read once, on the first consent-based policy that needs them. */
struct policy_eval {
	struct store *st;
	const struct policy_query *q;
	struct store_consent *consents;
	size_t nconsents;
	int loaded;
};

static int
policy_consent_live(const struct store_consent *c, int64_t now_ms)
{
	return c->revoked_ms == 0 && (c->expires_ms == 0 || now_ms < c->expires_ms);
}

static int
policy_consent_has(const struct store_consent *c, const char *name)
{
	return policy_names_contain((const char *const *)c->attributes,
	    c->nattributes, name);
}

/* The policy's attributes that the request asks for (all when it names
 * none) and, with a consent, that the consent also covers. Writes them in
 * policy order into out (p->nattributes slots), so duplicates in the
 * request collapse. Returns how many. */
static size_t
policy_select(const struct config_policy *p, const struct policy_query *q,
    const struct store_consent *c, const struct config_attribute **out)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nattributes; i++) {
		const char *name = p->attributes[i]->name;

		if (q->nattributes > 0 &&
		    !policy_names_contain(q->attributes, q->nattributes, name))
			continue;
		if (c != NULL && !policy_consent_has(c, name))
			continue;
		out[n++] = p->attributes[i];
	}
	return n;
}

static int
policy_consent_covers(const struct store_consent *c, const struct policy_query *q)
{
	for (size_t i = 0; i < q->nattributes; i++)
		if (!policy_consent_has(c, q->attributes[i]))
			return 0;
	return 1;
}

static enum policy_reason
policy_load_consents(struct policy_eval *ev)
{
	const struct policy_query *q = ev->q;

	if (ev->loaded)
		return POLICY_ALLOW;
	if (store_consent_find(ev->st, q->subject, q->consumer->id,
	    q->provider ? q->provider->id : NULL, q->dataset->name,
	    &ev->consents, &ev->nconsents) != STORE_OK)
		return POLICY_STORE_ERROR;
	ev->loaded = 1;
	return POLICY_ALLOW;
}

/* Basis consent: among the subject's consents to this consumer, provider,
 * dataset and purpose (newest first), a live one covering the request
 * allows — the one yielding the most attributes when none were named.
 * Otherwise: live ones that do not cover → attribute_not_permitted; none
 * live → what happened to the newest (revoked, else expired); none at
 * all → no_consent. */
static enum policy_reason
policy_by_consent(struct policy_eval *ev, const struct config_policy *p,
    struct policy_outcome *o)
{
	const struct policy_query *q = ev->q;
	const struct store_consent *covering = NULL, *best = NULL;
	size_t best_n = 0;
	int live = 0;

	if (policy_load_consents(ev) != POLICY_ALLOW)
		return POLICY_STORE_ERROR;
	/* Consents come newest first: `covering` is the newest consent that
	 * covered this request, whatever its state now. */
	for (size_t i = 0; i < ev->nconsents; i++) {
		const struct store_consent *c = &ev->consents[i];
		int covers;
		size_t n;

		if (strcmp(c->provider, p->provider->id) != 0 ||
		    strcmp(c->purpose, q->purpose) != 0)
			continue;
		covers = policy_consent_covers(c, q);
		if (covers && covering == NULL)
			covering = c;
		if (!policy_consent_live(c, q->now_ms))
			continue;
		live = 1;
		if (!covers)
			continue;
		if ((n = policy_select(p, q, c, o->attrs)) > best_n) {
			best = c;
			best_n = n;
		}
	}
	o->consent = best != NULL ? best : covering;
	if (best != NULL) {
		o->nattrs = policy_select(p, q, best, o->attrs);
		return POLICY_ALLOW;
	}
	/* A consent that covered the request explains the denial best; one
	 * that never covered it is not the reason (it was never asked for). */
	if (covering != NULL && !policy_consent_live(covering, q->now_ms))
		return covering->revoked_ms != 0 ? POLICY_CONSENT_REVOKED :
		    POLICY_CONSENT_EXPIRED;
	return live ? POLICY_ATTRIBUTE_NOT_PERMITTED : POLICY_NO_CONSENT;
}

/* Basis public_task: allowed unless the subject objected (GDPR art. 21),
 * for every consumer or for this one. legal_obligation has no right to
 * object. */
static enum policy_reason
policy_by_law(struct policy_eval *ev, const struct config_policy *p,
    struct policy_outcome *o)
{
	const struct policy_query *q = ev->q;

	if (p->basis == CONFIG_BASIS_PUBLIC_TASK) {
		switch (store_objection_match(ev->st, q->subject, q->dataset->name,
		    q->purpose, q->consumer->id)) {
		case STORE_OK:
			return POLICY_OBJECTION;
		case STORE_NOT_FOUND:
			break;
		default:
			return POLICY_STORE_ERROR;
		}
	}
	o->nattrs = policy_select(p, q, NULL, o->attrs);
	return POLICY_ALLOW;
}

static enum policy_reason
policy_evaluate(struct policy_eval *ev, const struct config_policy *p,
    struct policy_outcome *o)
{
	const struct policy_query *q = ev->q;
	enum policy_reason r;

	memset(o, 0, sizeof(*o));
	r = policy_check_request(p, q->purpose, q->attributes, q->nattributes);
	if (r != POLICY_ALLOW)
		return o->reason = r;
	if ((o->attrs = calloc(p->nattributes + 1, sizeof(*o->attrs))) == NULL)
		return o->reason = POLICY_STORE_ERROR;
	if (p->basis == CONFIG_BASIS_CONSENT)
		r = policy_by_consent(ev, p, o);
	else
		r = policy_by_law(ev, p, o);
	/* A policy that would hand over nothing does not allow anything. */
	if (r == POLICY_ALLOW && o->nattrs == 0)
		r = POLICY_ATTRIBUTE_NOT_PERMITTED;
	if (r != POLICY_ALLOW) {
		free(o->attrs);
		o->attrs = NULL;
		o->nattrs = 0;
	}
	return o->reason = r;
}

/* Whether a verdict (cur, granting ncur attributes) should replace the
 * best so far: allowing beats denying, among allowing ones more attributes
 * win (only possible when the request named none), among denying ones the
 * furthest stage wins; on a tie the first stays. */
static int
policy_better(enum policy_reason cur, size_t ncur, enum policy_reason best,
    size_t nbest)
{
	if (cur == POLICY_ALLOW && best == POLICY_ALLOW)
		return ncur > nbest;
	return policy_rank(cur) > policy_rank(best);
}

static int
policy_is_candidate(const struct config_policy *p, const struct policy_query *q)
{
	return p->consumer == q->consumer && p->dataset == q->dataset &&
	    (q->provider == NULL || p->provider == q->provider);
}

enum policy_reason
policy_decide(struct store *st, const struct policy_query *q,
    struct policy_decision *d)
{
	struct policy_eval ev = { .st = st, .q = q };
	struct policy_outcome best = { .reason = POLICY_NO_POLICY }, cur;
	const struct config_policy *best_policy = NULL;

	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < q->cfg->npolicies; i++) {
		const struct config_policy *p = &q->cfg->policies[i];

		if (!policy_is_candidate(p, q))
			continue;
		if (policy_evaluate(&ev, p, &cur) == POLICY_STORE_ERROR) {
			free(best.attrs);
			best = cur;
			best_policy = NULL;
			break;
		}
		if (policy_better(cur.reason, cur.nattrs, best.reason,
		    best.nattrs)) {
			free(best.attrs);
			best = cur;
			best_policy = p;
		} else {
			free(cur.attrs);
		}
	}
	d->reason = best.reason;
	d->policy = best_policy;
	d->attributes = best.attrs;
	d->nattributes = best.nattrs;
	/* The consent that allowed, or whose revocation or expiry denied. */
	if (best.consent != NULL && (best.reason == POLICY_ALLOW ||
	    best.reason == POLICY_CONSENT_REVOKED ||
	    best.reason == POLICY_CONSENT_EXPIRED))
		memcpy(d->consent_id, best.consent->id, STORE_ID_LEN);
	store_consents_free(ev.consents, ev.nconsents);
	return d->reason;
}

/* Whether a candidate before policies[upto] already has p's purpose. */
static int
policy_purpose_seen(const struct policy_query *q, size_t upto,
    const struct config_policy *p)
{
	for (size_t i = 0; i < upto; i++) {
		const struct config_policy *o = &q->cfg->policies[i];

		if (policy_is_candidate(o, q) && strcmp(o->purpose, p->purpose) == 0)
			return 1;
	}
	return 0;
}

enum policy_reason
policy_decide_any_purpose(struct store *st, const struct policy_query *q,
    struct policy_decision *d)
{
	struct policy_query each = *q;
	struct policy_decision cur;

	memset(d, 0, sizeof(*d));
	d->reason = POLICY_NO_POLICY;
	for (size_t i = 0; i < q->cfg->npolicies; i++) {
		const struct config_policy *p = &q->cfg->policies[i];

		if (!policy_is_candidate(p, q) || policy_purpose_seen(q, i, p))
			continue;
		each.purpose = p->purpose;
		if (policy_decide(st, &each, &cur) == POLICY_STORE_ERROR) {
			policy_decision_clear(&cur);
			policy_decision_clear(d);
			return d->reason = POLICY_STORE_ERROR;
		}
		if (policy_better(cur.reason, cur.nattributes, d->reason,
		    d->nattributes)) {
			policy_decision_clear(d);
			*d = cur;
		} else {
			policy_decision_clear(&cur);
		}
	}
	return d->reason;
}

void
policy_decision_clear(struct policy_decision *d)
{
	free(d->attributes);
	memset(d, 0, sizeof(*d));
}

struct audit_entry
policy_audit_entry(enum audit_type type, const struct policy_decision *d)
{
	const struct config_policy *p = d->policy;
	int allowed = d->reason == POLICY_ALLOW;

	return (struct audit_entry){
		.type = type,
		.purpose = p ? p->purpose : NULL,
		.basis = p ? config_basis_name(p->basis) : NULL,
		.policy = p ? p->id : NULL,
		.consent = d->consent_id[0] ? d->consent_id : NULL,
		.decision = allowed ? AUDIT_ALLOW : AUDIT_DENY,
		.reason = allowed ? NULL : policy_reason_name(d->reason),
	};
}

/* One mandate's verdict on an act: its scope first, then its state. */
static enum policy_reason
policy_mandate_verdict(const struct store_mandate *m, const struct policy_act *q)
{
	if (!(m->actions & q->action) || (q->dataset != NULL &&
	    !policy_names_contain((const char *const *)m->datasets, m->ndatasets,
	    q->dataset->name)))
		return POLICY_MANDATE_SCOPE;
	if (m->revoked_ms != 0)
		return POLICY_MANDATE_REVOKED;
	if (q->now_ms >= m->expires_ms)
		return POLICY_MANDATE_EXPIRED;
	return POLICY_ALLOW;
}

enum policy_reason
policy_mandate_decide(struct store *st, const struct policy_act *q,
    struct store_mandate *m)
{
	enum policy_reason best = POLICY_NO_MANDATE;
	struct store_mandate *list = NULL;
	size_t n = 0, pick = 0;

	memset(m, 0, sizeof(*m));
	if (!(q->mediator->roles & CONFIG_ROLE_MEDIATOR))
		return POLICY_NO_MANDATE;
	if (store_mandate_find(st, q->subject, q->mediator->id, &list, &n) !=
	    STORE_OK)
		return POLICY_STORE_ERROR;
	/* Newest first: of equal verdicts, the newest mandate explains. */
	for (size_t i = 0; i < n && best != POLICY_ALLOW; i++) {
		enum policy_reason r;

		if (q->mandate != NULL && strcmp(list[i].id, q->mandate) != 0)
			continue;
		r = policy_mandate_verdict(&list[i], q);
		if (r == POLICY_ALLOW || policy_rank(r) > policy_rank(best)) {
			best = r;
			pick = i;
		}
	}
	if (best != POLICY_NO_MANDATE) {
		*m = list[pick];
		memset(&list[pick], 0, sizeof(list[pick]));
	}
	store_mandates_free(list, n);
	return best;
}

enum policy_reason
policy_consent_fits(const struct config *cfg,
    const struct config_service *consumer, const struct config_service *provider,
    const struct config_dataset *dataset, const char *purpose,
    const char *const *attributes, size_t nattributes,
    const struct config_policy **policy)
{
	enum policy_reason best = POLICY_NO_POLICY;

	*policy = NULL;
	for (size_t i = 0; i < cfg->npolicies; i++) {
		const struct config_policy *p = &cfg->policies[i];
		enum policy_reason r;

		if (p->basis != CONFIG_BASIS_CONSENT || p->consumer != consumer ||
		    p->dataset != dataset ||
		    (provider != NULL && p->provider != provider))
			continue;
		r = policy_check_request(p, purpose, attributes, nattributes);
		if (r == POLICY_ALLOW) {
			*policy = p;
			return POLICY_ALLOW;
		}
		if (policy_rank(r) > policy_rank(best))
			best = r;
	}
	return best;
}
