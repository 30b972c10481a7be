/* test_policy.c — the decision table: every reason policy_decide can give,
 * with the exact reason, deciding policy, attributes and consent, over the
 * contract §3 configuration and real store states. */
#include <stdlib.h>
#include <string.h>

#include "domain_config.h"
#include "policy.h"
#include "store.h"
#include "tmpdir.h"
#include "unit.h"

#define PURPOSE "benefit-eligibility"
#define ANY (-1)

struct consent_spec {
	const char *provider;    /* NULL ends the list */
	const char *purpose;
	const char *attrs;       /* comma-separated */
	int64_t created_ms, expires_ms, revoked_ms;
};

enum variant {
	V_CONTRACT,        /* caf-address (consent) + caf-address-public-task */
	V_PUBLIC_TASK,     /* caf-address-public-task alone */
	V_LEGAL,           /* + caf-address-legal: legal_obligation, fraud-check */
	V_TWO_PROVIDERS,   /* + caf-address-portal: consent, provider portal */
};

struct row {
	const char *name;
	enum variant variant;
	struct consent_spec consents[3];
	const char *objector;    /* NULL none, "*" every consumer, or a consumer */
	const char *objection_purpose;   /* NULL: PURPOSE */
	int consumer, provider;  /* SVC_*, provider may be ANY */
	const char *purpose;
	const char *attrs;       /* NULL: not named */
	int64_t now_ms;
	enum policy_reason expect;
	const char *policy;      /* deciding (or closest) policy id, or NULL */
	const char *granted;     /* attributes on allow, comma-separated */
	int consent;             /* index in consents of consent_id, or -1 */
};

#define FULL "street,postal_code,city"

/* Fields left out are 0 or NULL, which each comment above gives a meaning;
 * consent is always written, since 0 is an index. */
static const struct row rows[] = {
	{ .name = "no policy for this consumer", .variant = V_CONTRACT,
	  .consumer = SVC_PORTAL, .provider = ANY, .purpose = PURPOSE,
	  .attrs = "city", .now_ms = 10000,
	  .expect = POLICY_NO_POLICY, .consent = -1 },
	{ .name = "no policy with this provider", .variant = V_CONTRACT,
	  .consumer = SVC_CAF, .provider = SVC_PORTAL, .purpose = PURPOSE,
	  .attrs = "city", .now_ms = 10000,
	  .expect = POLICY_NO_POLICY, .consent = -1 },
	{ .name = "purpose mismatch", .variant = V_CONTRACT,
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = "marketing",
	  .attrs = "city", .now_ms = 10000,
	  .expect = POLICY_PURPOSE_MISMATCH, .policy = "caf-address",
	  .consent = -1 },
	{ .name = "attribute outside every policy", .variant = V_CONTRACT,
	  .consents = {{ "mairie", PURPOSE, FULL, 1000, 0, 0 }},
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .attrs = "street,country", .now_ms = 10000,
	  .expect = POLICY_ATTRIBUTE_NOT_PERMITTED, .policy = "caf-address",
	  .consent = -1 },
	{ .name = "no consent beats the public task's attribute refusal",
	  .variant = V_CONTRACT,
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .attrs = "street", .now_ms = 10000,
	  .expect = POLICY_NO_CONSENT, .policy = "caf-address", .consent = -1 },
	{ .name = "public task allows its attribute without consent",
	  .variant = V_CONTRACT,
	  .consumer = SVC_CAF, .provider = ANY, .purpose = PURPOSE,
	  .attrs = "postal_code", .now_ms = 10000,
	  .expect = POLICY_ALLOW, .policy = "caf-address-public-task",
	  .granted = "postal_code", .consent = -1 },
	{ .name = "consent allows the requested attributes",
	  .variant = V_CONTRACT,
	  .consents = {{ "mairie", PURPOSE, FULL, 1000, 0, 0 }},
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .attrs = "city,street", .now_ms = 10000,
	  .expect = POLICY_ALLOW, .policy = "caf-address",
	  .granted = "street,city", .consent = 0 },
	{ .name = "repeated attribute is granted once", .variant = V_CONTRACT,
	  .consents = {{ "mairie", PURPOSE, FULL, 1000, 0, 0 }},
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .attrs = "street,street", .now_ms = 10000,
	  .expect = POLICY_ALLOW, .policy = "caf-address", .granted = "street",
	  .consent = 0 },
	{ .name = "omitted attributes: the consent yields more",
	  .variant = V_CONTRACT,
	  .consents = {{ "mairie", PURPOSE, "street,city", 1000, 0, 0 }},
	  .consumer = SVC_CAF, .provider = ANY, .purpose = PURPOSE,
	  .now_ms = 10000,
	  .expect = POLICY_ALLOW, .policy = "caf-address",
	  .granted = "street,city", .consent = 0 },
	{ .name = "omitted attributes: policy ∩ consent",
	  .variant = V_CONTRACT,
	  .consents = {{ "mairie", PURPOSE, FULL, 1000, 0, 0 }},
	  .consumer = SVC_CAF, .provider = ANY, .purpose = PURPOSE,
	  .now_ms = 10000,
	  .expect = POLICY_ALLOW, .policy = "caf-address", .granted = FULL,
	  .consent = 0 },
	{ .name = "omitted attributes: the public task without consent",
	  .variant = V_CONTRACT,
	  .consumer = SVC_CAF, .provider = ANY, .purpose = PURPOSE,
	  .now_ms = 10000,
	  .expect = POLICY_ALLOW, .policy = "caf-address-public-task",
	  .granted = "postal_code", .consent = -1 },
	{ .name = "consent live one millisecond before expiry",
	  .variant = V_CONTRACT,
	  .consents = {{ "mairie", PURPOSE, FULL, 1000, 5000, 0 }},
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .attrs = "street", .now_ms = 4999,
	  .expect = POLICY_ALLOW, .policy = "caf-address", .granted = "street",
	  .consent = 0 },
	{ .name = "consent expired at its expiry instant",
	  .variant = V_CONTRACT,
	  .consents = {{ "mairie", PURPOSE, FULL, 1000, 5000, 0 }},
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .attrs = "street", .now_ms = 5000,
	  .expect = POLICY_CONSENT_EXPIRED, .policy = "caf-address",
	  .consent = 0 },
	{ .name = "consent revoked", .variant = V_CONTRACT,
	  .consents = {{ "mairie", PURPOSE, FULL, 1000, 0, 3000 }},
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .attrs = "street", .now_ms = 10000,
	  .expect = POLICY_CONSENT_REVOKED, .policy = "caf-address",
	  .consent = 0 },
	{ .name = "revoked after it expired reads revoked",
	  .variant = V_CONTRACT,
	  .consents = {{ "mairie", PURPOSE, FULL, 1000, 2000, 3000 }},
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .attrs = "street", .now_ms = 10000,
	  .expect = POLICY_CONSENT_REVOKED, .policy = "caf-address",
	  .consent = 0 },
	{ .name = "the newest consent tells: revoked", .variant = V_CONTRACT,
	  .consents = {
	    { "mairie", PURPOSE, FULL, 1000, 1500, 0 },
	    { "mairie", PURPOSE, FULL, 2000, 0, 3000 } },
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .attrs = "street", .now_ms = 10000,
	  .expect = POLICY_CONSENT_REVOKED, .policy = "caf-address",
	  .consent = 1 },
	{ .name = "the newest consent tells: expired", .variant = V_CONTRACT,
	  .consents = {
	    { "mairie", PURPOSE, FULL, 1000, 0, 3000 },
	    { "mairie", PURPOSE, FULL, 2000, 4000, 0 } },
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .attrs = "street", .now_ms = 10000,
	  .expect = POLICY_CONSENT_EXPIRED, .policy = "caf-address",
	  .consent = 1 },
	{ .name = "a revoked consent does not hide a live one",
	  .variant = V_CONTRACT,
	  .consents = {
	    { "mairie", PURPOSE, FULL, 1000, 0, 0 },
	    { "mairie", PURPOSE, FULL, 2000, 0, 3000 } },
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .attrs = "street", .now_ms = 10000,
	  .expect = POLICY_ALLOW, .policy = "caf-address", .granted = "street",
	  .consent = 0 },
	{ .name = "live consent that does not cover the request",
	  .variant = V_CONTRACT,
	  .consents = {{ "mairie", PURPOSE, "city", 2000, 0, 0 }},
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .attrs = "street", .now_ms = 10000,
	  .expect = POLICY_ATTRIBUTE_NOT_PERMITTED, .policy = "caf-address",
	  .consent = -1 },
	{ .name = "a revoked consent that covered the request tells more",
	  .variant = V_CONTRACT,
	  .consents = {
	    { "mairie", PURPOSE, "city", 2000, 0, 0 },
	    { "mairie", PURPOSE, FULL, 1000, 0, 1500 } },
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .attrs = "street", .now_ms = 10000,
	  .expect = POLICY_CONSENT_REVOKED, .policy = "caf-address",
	  .consent = 1 },
	{ .name = "consent for another purpose", .variant = V_CONTRACT,
	  .consents = {{ "mairie", "marketing", FULL, 1000, 0, 0 }},
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .attrs = "street", .now_ms = 10000,
	  .expect = POLICY_NO_CONSENT, .policy = "caf-address", .consent = -1 },
	{ .name = "consent to another provider", .variant = V_CONTRACT,
	  .consents = {{ "portal", PURPOSE, FULL, 1000, 0, 0 }},
	  .consumer = SVC_CAF, .provider = ANY, .purpose = PURPOSE,
	  .attrs = "street", .now_ms = 10000,
	  .expect = POLICY_NO_CONSENT, .policy = "caf-address", .consent = -1 },
	{ .name = "objection by this consumer", .variant = V_PUBLIC_TASK,
	  .objector = "caf",
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .attrs = "postal_code", .now_ms = 10000,
	  .expect = POLICY_OBJECTION, .policy = "caf-address-public-task",
	  .consent = -1 },
	{ .name = "objection to every consumer", .variant = V_PUBLIC_TASK,
	  .objector = "*",
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .now_ms = 10000,
	  .expect = POLICY_OBJECTION, .policy = "caf-address-public-task",
	  .consent = -1 },
	{ .name = "objection to another consumer", .variant = V_PUBLIC_TASK,
	  .objector = "portal",
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .attrs = "postal_code", .now_ms = 10000,
	  .expect = POLICY_ALLOW, .policy = "caf-address-public-task",
	  .granted = "postal_code", .consent = -1 },
	{ .name = "objection for another purpose", .variant = V_PUBLIC_TASK,
	  .objector = "*", .objection_purpose = "tax",
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .attrs = "postal_code", .now_ms = 10000,
	  .expect = POLICY_ALLOW, .policy = "caf-address-public-task",
	  .granted = "postal_code", .consent = -1 },
	{ .name = "an objection does not touch a consent",
	  .variant = V_CONTRACT,
	  .consents = {{ "mairie", PURPOSE, FULL, 1000, 0, 0 }},
	  .objector = "*",
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .attrs = "postal_code", .now_ms = 10000,
	  .expect = POLICY_ALLOW, .policy = "caf-address",
	  .granted = "postal_code", .consent = 0 },
	{ .name = "objection outranks a missing consent",
	  .variant = V_CONTRACT,
	  .objector = "caf",
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .attrs = "postal_code", .now_ms = 10000,
	  .expect = POLICY_OBJECTION, .policy = "caf-address-public-task",
	  .consent = -1 },
	{ .name =
	  "a lapsed consent that never covered the request is no consent",
	  .variant = V_CONTRACT,
	  .consents = {{ "mairie", PURPOSE, "city", 1000, 0, 2000 }},
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .attrs = "street", .now_ms = 10000,
	  .expect = POLICY_NO_CONSENT, .policy = "caf-address", .consent = -1 },
	{ .name = "legal obligation ignores objections", .variant = V_LEGAL,
	  .objector = "*", .objection_purpose = "fraud-check",
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE,
	  .purpose = "fraud-check", .now_ms = 10000,
	  .expect = POLICY_ALLOW, .policy = "caf-address-legal",
	  .granted = "postal_code,city", .consent = -1 },
	{ .name = "legal obligation keeps to its attributes",
	  .variant = V_LEGAL,
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE,
	  .purpose = "fraud-check", .attrs = "street", .now_ms = 10000,
	  .expect = POLICY_ATTRIBUTE_NOT_PERMITTED,
	  .policy = "caf-address-legal", .consent = -1 },
	{ .name = "any provider: the policy yielding most wins",
	  .variant = V_TWO_PROVIDERS,
	  .consents = {
	    { "mairie", PURPOSE, FULL, 1000, 0, 0 },
	    { "portal", PURPOSE, "country,street,city,postal_code", 2000, 0, 0 } },
	  .consumer = SVC_CAF, .provider = ANY, .purpose = PURPOSE,
	  .now_ms = 10000,
	  .expect = POLICY_ALLOW, .policy = "caf-address-portal",
	  .granted = "street,postal_code,city,country", .consent = 1 },
	{ .name = "a named provider narrows the candidates",
	  .variant = V_TWO_PROVIDERS,
	  .consents = {
	    { "mairie", PURPOSE, FULL, 1000, 0, 0 },
	    { "portal", PURPOSE, "country,street,city,postal_code", 2000, 0, 0 } },
	  .consumer = SVC_CAF, .provider = SVC_MAIRIE, .purpose = PURPOSE,
	  .now_ms = 10000,
	  .expect = POLICY_ALLOW, .policy = "caf-address", .granted = FULL,
	  .consent = 0 },
};

static char dir[TMPDIR_PATH_LEN];
static struct store *st;

/* Splits a comma list into items (pointers into buf). */
static size_t
split(const char *list, char *buf, size_t buflen, const char **items,
    size_t max)
{
	size_t n = 0;
	char *save, *tok;

	if (list == NULL)
		return 0;
	snprintf(buf, buflen, "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok && n < max;
	    tok = strtok_r(NULL, ",", &save))
		items[n++] = tok;
	return n;
}

static void
configure(struct domain_config *d, enum variant v)
{
	static const struct config_attribute *legal_attrs[2];

	domain_config_init(d);
	switch (v) {
	case V_CONTRACT:
		break;
	case V_PUBLIC_TASK:
		d->cfg.policies = &d->policies[POL_CAF_PUBLIC_TASK];
		d->cfg.npolicies = 1;
		break;
	case V_LEGAL:
		legal_attrs[0] = &d->attrs[ATTR_POSTAL_CODE];
		legal_attrs[1] = &d->attrs[ATTR_CITY];
		d->policies[POL_SPARE1] = d->policies[POL_CAF_PUBLIC_TASK];
		d->policies[POL_SPARE1].id = "caf-address-legal";
		d->policies[POL_SPARE1].basis = CONFIG_BASIS_LEGAL_OBLIGATION;
		d->policies[POL_SPARE1].purpose = "fraud-check";
		d->policies[POL_SPARE1].attributes = legal_attrs;
		d->policies[POL_SPARE1].nattributes = 2;
		d->cfg.npolicies = 3;
		break;
	case V_TWO_PROVIDERS:
		d->policies[POL_SPARE1] = d->policies[POL_CAF_ADDRESS];
		d->policies[POL_SPARE1].id = "caf-address-portal";
		d->policies[POL_SPARE1].provider = &d->services[SVC_PORTAL];
		d->policies[POL_SPARE1].attributes = d->all_attrs;
		d->policies[POL_SPARE1].nattributes = 4;
		d->cfg.npolicies = 3;
		break;
	}
}

static void
consent_id(size_t row, size_t k, char id[STORE_ID_LEN])
{
	snprintf(id, STORE_ID_LEN, "row%02zu-consent%zu", row, k);
}

static void
seed(size_t i, const struct row *r, const char *subject)
{
	for (size_t k = 0; k < 3 && r->consents[k].provider != NULL; k++) {
		const struct consent_spec *s = &r->consents[k];
		const char *attrs[4];
		char buf[128];
		struct store_consent c = {
			.consumer = "caf", .provider = (char *)s->provider,
			.dataset = "address", .purpose = (char *)s->purpose,
			.attributes = (char **)attrs,
			.nattributes = split(s->attrs, buf, sizeof(buf), attrs, 4),
			.created_ms = s->created_ms, .expires_ms = s->expires_ms,
			.revoked_ms = s->revoked_ms,
		};

		consent_id(i, k, c.id);
		snprintf(c.subject, sizeof(c.subject), "%s", subject);
		CHECK_INT(store_consent_insert(st, &c), STORE_OK);
	}
	if (r->objector != NULL) {
		struct store_objection o = {
			.dataset = "address",
			.purpose = r->objection_purpose ? r->objection_purpose : PURPOSE,
			.consumer = strcmp(r->objector, "*") == 0 ? NULL : r->objector,
		};

		snprintf(o.id, sizeof(o.id), "row%02zu-objection", i);
		snprintf(o.subject, sizeof(o.subject), "%s", subject);
		CHECK_INT(store_objection_insert(st, &o), STORE_OK);
	}
}

static void
check_decision(size_t i, const struct row *r, const struct policy_decision *d)
{
	char granted[128] = "", expected_id[STORE_ID_LEN] = "";

	CHECK_STR(policy_reason_name(d->reason), policy_reason_name(r->expect));
	if (r->policy == NULL)
		CHECK(d->policy == NULL);
	else
		CHECK_STR(d->policy ? d->policy->id : NULL, r->policy);
	for (size_t k = 0; k < d->nattributes; k++) {
		if (k > 0)
			strcat(granted, ",");
		strcat(granted, d->attributes[k]->name);
	}
	CHECK_STR(granted, r->granted ? r->granted : "");
	if (r->consent >= 0)
		consent_id(i, (size_t)r->consent, expected_id);
	CHECK_STR(d->consent_id, expected_id);
}

static void
test_decisions(void)
{
	int failed = 0;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct domain_config d;
		struct policy_decision dec;
		const char *attrs[4];
		char subject[STORE_SUBJECT_LEN], buf[128];
		struct policy_query q;

		configure(&d, r->variant);
		snprintf(subject, sizeof(subject), "%064zx", i);
		seed(i, r, subject);
		q = (struct policy_query){
			.cfg = &d.cfg,
			.consumer = &d.services[r->consumer],
			.provider = r->provider == ANY ? NULL : &d.services[r->provider],
			.dataset = &d.address,
			.purpose = r->purpose,
			.attributes = attrs,
			.nattributes = split(r->attrs, buf, sizeof(buf), attrs, 4),
			.subject = subject,
			.now_ms = r->now_ms,
		};
		CHECK_INT(policy_decide(st, &q, &dec), dec.reason);
		check_decision(i, r, &dec);
		policy_decision_clear(&dec);
		/* Name the row, then let the next row start clean. */
		if (unit_current_failed)
			fprintf(stderr, "  (row %zu: %s)\n", i, r->name);
		failed |= unit_current_failed;
		unit_current_failed = 0;
	}
	unit_current_failed = failed;
}

/* ---- mandates (contract §8) ------------------------------------------- */

#define M_CONSENT STORE_MANDATE_CONSENT
#define M_OBJECTION STORE_MANDATE_OBJECTION
#define M_ACCESS_LOG STORE_MANDATE_ACCESS_LOG
#define NAMED_UNKNOWN (-2)

struct mandate_spec {
	const char *mediator;    /* NULL ends the list */
	const char *datasets;    /* comma-separated */
	unsigned actions;
	int64_t created_ms, expires_ms, revoked_ms;
};

/* The mediator is portal, given the mediator role; caf has none. */
struct mandate_row {
	const char *name;
	struct mandate_spec mandates[3];
	int caller;              /* SVC_* */
	int named;               /* index in mandates, ANY or NAMED_UNKNOWN */
	unsigned action;
	int about_address;       /* the act is about dataset address */
	int64_t now_ms;
	enum policy_reason expect;
	int mandate;             /* index of the mandate returned, or -1 */
};

static const struct mandate_row mandate_rows[] = {
	{ .name = "no mandate at all", .caller = SVC_PORTAL, .named = ANY,
	  .action = M_CONSENT, .about_address = 1, .now_ms = 5000,
	  .expect = POLICY_NO_MANDATE, .mandate = -1 },
	{ .name = "a live mandate covering the act allows",
	  .mandates = {{ "portal", "address", M_CONSENT, 1000, 9000, 0 }},
	  .caller = SVC_PORTAL, .named = ANY, .action = M_CONSENT,
	  .about_address = 1, .now_ms = 5000,
	  .expect = POLICY_ALLOW, .mandate = 0 },
	{ .name = "the named mandate allows",
	  .mandates = {{ "portal", "address", M_CONSENT, 1000, 9000, 0 }},
	  .caller = SVC_PORTAL, .named = 0, .action = M_CONSENT,
	  .about_address = 1, .now_ms = 5000,
	  .expect = POLICY_ALLOW, .mandate = 0 },
	{ .name = "an unknown mandate named is none",
	  .mandates = {{ "portal", "address", M_CONSENT, 1000, 9000, 0 }},
	  .caller = SVC_PORTAL, .named = NAMED_UNKNOWN, .action = M_CONSENT,
	  .about_address = 1, .now_ms = 5000,
	  .expect = POLICY_NO_MANDATE, .mandate = -1 },
	{ .name = "another mediator's mandate is none of this one's",
	  .mandates = {{ "mairie", "address", M_CONSENT, 1000, 9000, 0 }},
	  .caller = SVC_PORTAL, .named = ANY, .action = M_CONSENT,
	  .about_address = 1, .now_ms = 5000,
	  .expect = POLICY_NO_MANDATE, .mandate = -1 },
	{ .name = "a service without the mediator role holds none",
	  .mandates = {{ "caf", "address", M_CONSENT, 1000, 9000, 0 }},
	  .caller = SVC_CAF, .named = ANY, .action = M_CONSENT,
	  .about_address = 1, .now_ms = 5000,
	  .expect = POLICY_NO_MANDATE, .mandate = -1 },
	{ .name = "action outside the scope",
	  .mandates = {{ "portal", "address", M_ACCESS_LOG, 1000, 9000, 0 }},
	  .caller = SVC_PORTAL, .named = ANY, .action = M_OBJECTION,
	  .about_address = 1, .now_ms = 5000,
	  .expect = POLICY_MANDATE_SCOPE, .mandate = 0 },
	{ .name = "dataset outside the scope",
	  .mandates = {{ "portal", "household", M_CONSENT, 1000, 9000, 0 }},
	  .caller = SVC_PORTAL, .named = ANY, .action = M_CONSENT,
	  .about_address = 1, .now_ms = 5000,
	  .expect = POLICY_MANDATE_SCOPE, .mandate = 0 },
	{ .name = "the access log needs the action, not a dataset",
	  .mandates = {{ "portal", "household", M_ACCESS_LOG, 1000, 9000, 0 }},
	  .caller = SVC_PORTAL, .named = ANY, .action = M_ACCESS_LOG,
	  .now_ms = 5000, .expect = POLICY_ALLOW, .mandate = 0 },
	{ .name = "live one millisecond before expiry",
	  .mandates = {{ "portal", "address", M_CONSENT, 1000, 5000, 0 }},
	  .caller = SVC_PORTAL, .named = ANY, .action = M_CONSENT,
	  .about_address = 1, .now_ms = 4999,
	  .expect = POLICY_ALLOW, .mandate = 0 },
	{ .name = "expired at its expiry instant",
	  .mandates = {{ "portal", "address", M_CONSENT, 1000, 5000, 0 }},
	  .caller = SVC_PORTAL, .named = ANY, .action = M_CONSENT,
	  .about_address = 1, .now_ms = 5000,
	  .expect = POLICY_MANDATE_EXPIRED, .mandate = 0 },
	{ .name = "revoked",
	  .mandates = {{ "portal", "address", M_CONSENT, 1000, 9000, 3000 }},
	  .caller = SVC_PORTAL, .named = ANY, .action = M_CONSENT,
	  .about_address = 1, .now_ms = 5000,
	  .expect = POLICY_MANDATE_REVOKED, .mandate = 0 },
	{ .name = "revoked after it expired reads revoked",
	  .mandates = {{ "portal", "address", M_CONSENT, 1000, 2000, 3000 }},
	  .caller = SVC_PORTAL, .named = ANY, .action = M_CONSENT,
	  .about_address = 1, .now_ms = 5000,
	  .expect = POLICY_MANDATE_REVOKED, .mandate = 0 },
	{ .name = "a lapsed mandate out of scope is a scope matter",
	  .mandates = {{ "portal", "household", M_CONSENT, 1000, 9000, 3000 }},
	  .caller = SVC_PORTAL, .named = ANY, .action = M_CONSENT,
	  .about_address = 1, .now_ms = 5000,
	  .expect = POLICY_MANDATE_SCOPE, .mandate = 0 },
	{ .name = "a revoked covering one outranks a live one out of scope",
	  .mandates = {{ "portal", "household", M_CONSENT, 2000, 9000, 0 },
	      { "portal", "address", M_CONSENT, 1000, 9000, 3000 }},
	  .caller = SVC_PORTAL, .named = ANY, .action = M_CONSENT,
	  .about_address = 1, .now_ms = 5000,
	  .expect = POLICY_MANDATE_REVOKED, .mandate = 1 },
	{ .name = "any live covering one allows past a revoked newer one",
	  .mandates = {{ "portal", "address", M_CONSENT, 2000, 9000, 3000 },
	      { "portal", "address", M_CONSENT, 1000, 9000, 0 }},
	  .caller = SVC_PORTAL, .named = ANY, .action = M_CONSENT,
	  .about_address = 1, .now_ms = 5000,
	  .expect = POLICY_ALLOW, .mandate = 1 },
	{ .name = "the newest explains among equal ranks",
	  .mandates = {{ "portal", "address", M_CONSENT, 2000, 4000, 0 },
	      { "portal", "address", M_CONSENT, 1000, 9000, 3000 }},
	  .caller = SVC_PORTAL, .named = ANY, .action = M_CONSENT,
	  .about_address = 1, .now_ms = 5000,
	  .expect = POLICY_MANDATE_EXPIRED, .mandate = 0 },
	{ .name = "the named one decides, not a live other",
	  .mandates = {{ "portal", "address", M_CONSENT, 2000, 9000, 0 },
	      { "portal", "address", M_CONSENT, 1000, 9000, 3000 }},
	  .caller = SVC_PORTAL, .named = 1, .action = M_CONSENT,
	  .about_address = 1, .now_ms = 5000,
	  .expect = POLICY_MANDATE_REVOKED, .mandate = 1 },
};

static void
mandate_id(size_t row, size_t k, char id[STORE_ID_LEN])
{
	snprintf(id, STORE_ID_LEN, "row%02zu-mandate%zu", row, k);
}

static void
seed_mandates(size_t i, const struct mandate_row *r, const char *subject)
{
	for (size_t k = 0; k < 3 && r->mandates[k].mediator != NULL; k++) {
		const struct mandate_spec *s = &r->mandates[k];
		char *datasets[4], buf[128];
		struct store_mandate m = {
			.mediator = (char *)s->mediator, .helper = "agent-1",
			.datasets = datasets,
			.ndatasets = split(s->datasets, buf, sizeof(buf),
			    (const char **)datasets, 4),
			.actions = s->actions, .created_ms = s->created_ms,
			.expires_ms = s->expires_ms, .revoked_ms = s->revoked_ms,
		};

		mandate_id(i, k, m.id);
		snprintf(m.subject, sizeof(m.subject), "%s", subject);
		CHECK_INT(store_mandate_insert(st, &m), STORE_OK);
	}
}

static void
test_mandate_decisions(void)
{
	int failed = 0;

	for (size_t i = 0; i < sizeof(mandate_rows) / sizeof(mandate_rows[0]);
	    i++) {
		const struct mandate_row *r = &mandate_rows[i];
		char subject[STORE_SUBJECT_LEN], named[STORE_ID_LEN] = "",
		    expected_id[STORE_ID_LEN] = "";
		struct store_mandate m;
		struct domain_config d;
		struct policy_act q;

		configure(&d, V_CONTRACT);
		d.services[SVC_PORTAL].roles |= CONFIG_ROLE_MEDIATOR;
		snprintf(subject, sizeof(subject), "%064zx", 1000 + i);
		seed_mandates(i, r, subject);
		if (r->named >= 0)
			mandate_id(i, (size_t)r->named, named);
		else if (r->named == NAMED_UNKNOWN)
			snprintf(named, sizeof(named), "no-such-mandate");
		q = (struct policy_act){
			.mediator = &d.services[r->caller],
			.subject = subject,
			.mandate = named[0] ? named : NULL,
			.action = r->action,
			.dataset = r->about_address ? &d.address : NULL,
			.now_ms = r->now_ms,
		};
		CHECK_STR(policy_reason_name(policy_mandate_decide(st, &q, &m)),
		    policy_reason_name(r->expect));
		if (r->mandate >= 0)
			mandate_id(i, (size_t)r->mandate, expected_id);
		CHECK_STR(m.id, expected_id);
		store_mandate_clear(&m);
		if (unit_current_failed)
			fprintf(stderr, "  (mandate row %zu: %s)\n", i, r->name);
		failed |= unit_current_failed;
		unit_current_failed = 0;
	}
	unit_current_failed = failed;
}

/* Revocation applies to the very next decision: nothing is cached. */
static void
test_revocation_is_immediate(void)
{
	static const char *const street[] = { "street" };
	struct domain_config d;
	struct policy_decision dec;
	struct store_consent c = {
		.id = "immediate", .consumer = "caf", .provider = "mairie",
		.dataset = "address", .purpose = PURPOSE,
		.attributes = (char **)street, .nattributes = 1, .created_ms = 1,
	};
	struct policy_query q;

	domain_config_init(&d);
	snprintf(c.subject, sizeof(c.subject), "%064d", 999);
	q = (struct policy_query){
		.cfg = &d.cfg, .consumer = &d.services[SVC_CAF],
		.dataset = &d.address, .purpose = PURPOSE, .attributes = street,
		.nattributes = 1, .subject = c.subject, .now_ms = 100,
	};
	CHECK_INT(store_consent_insert(st, &c), STORE_OK);
	CHECK_INT(policy_decide(st, &q, &dec), POLICY_ALLOW);
	policy_decision_clear(&dec);
	CHECK_INT(store_consent_revoke(st, "immediate", 50), STORE_OK);
	CHECK_INT(policy_decide(st, &q, &dec), POLICY_CONSENT_REVOKED);
	policy_decision_clear(&dec);
}

static void
test_consent_fits(void)
{
	static const char *const ok[] = { "street", "city" };
	static const char *const country[] = { "street", "country" };
	static const char *const postal[] = { "postal_code" };
	const struct config_policy *p = (const void *)1;
	struct domain_config d;
	const struct config_service *caf, *mairie, *portal;

	domain_config_init(&d);
	caf = &d.services[SVC_CAF];
	mairie = &d.services[SVC_MAIRIE];
	portal = &d.services[SVC_PORTAL];
	CHECK_INT(policy_consent_fits(&d.cfg, caf, mairie, &d.address, PURPOSE,
	    ok, 2, &p), POLICY_ALLOW);
	CHECK_STR(p ? p->id : NULL, "caf-address");
	CHECK_INT(policy_consent_fits(&d.cfg, caf, mairie, &d.address,
	    "marketing", ok, 2, &p), POLICY_PURPOSE_MISMATCH);
	CHECK(p == NULL);
	CHECK_INT(policy_consent_fits(&d.cfg, caf, mairie, &d.address, PURPOSE,
	    country, 2, &p), POLICY_ATTRIBUTE_NOT_PERMITTED);
	CHECK_INT(policy_consent_fits(&d.cfg, portal, mairie, &d.address,
	    PURPOSE, ok, 2, &p), POLICY_NO_POLICY);
	CHECK_INT(policy_consent_fits(&d.cfg, caf, portal, &d.address, PURPOSE,
	    ok, 2, &p), POLICY_NO_POLICY);
	/* Only consent policies count: the public task one is no ground for
	 * asking the subject. */
	d.cfg.policies = &d.policies[POL_CAF_PUBLIC_TASK];
	d.cfg.npolicies = 1;
	CHECK_INT(policy_consent_fits(&d.cfg, caf, mairie, &d.address, PURPOSE,
	    postal, 1, &p), POLICY_NO_POLICY);
}

/* A subscriber names no purpose: each purpose of its policies is decided
 * and the same rule as among policies picks the answer. */
static enum policy_reason
any_purpose(struct domain_config *d, int consumer, const char *subject,
    struct policy_decision *dec)
{
	struct policy_query q = {
		.cfg = &d->cfg, .consumer = &d->services[consumer],
		.provider = &d->services[SVC_MAIRIE], .dataset = &d->address,
		.purpose = "ignored", .subject = subject, .now_ms = 10000,
	};

	return policy_decide_any_purpose(st, &q, dec);
}

static void
test_any_purpose_widest_allow(void)
{
	static const char *const full[] = { "street", "postal_code", "city" };
	struct store_consent c = {
		.id = "any-purpose-full", .consumer = "caf", .provider = "mairie",
		.dataset = "address", .purpose = PURPOSE,
		.attributes = (char **)full, .nattributes = 3, .created_ms = 1,
	};
	char subject[STORE_SUBJECT_LEN];
	struct domain_config d;
	struct policy_decision dec;

	/* benefit-eligibility grants postal_code (public task), fraud-check
	 * postal_code and city (legal obligation): the wider one wins. */
	configure(&d, V_LEGAL);
	snprintf(subject, sizeof(subject), "%064d", 1001);
	CHECK_INT(any_purpose(&d, SVC_CAF, subject, &dec), POLICY_ALLOW);
	CHECK_STR(dec.policy ? dec.policy->id : NULL, "caf-address-legal");
	CHECK_INT(dec.nattributes, 2);
	policy_decision_clear(&dec);

	/* With a consent, benefit-eligibility grants three and wins back. */
	snprintf(c.subject, sizeof(c.subject), "%064d", 1002);
	CHECK_INT(store_consent_insert(st, &c), STORE_OK);
	CHECK_INT(any_purpose(&d, SVC_CAF, c.subject, &dec), POLICY_ALLOW);
	CHECK_STR(dec.policy ? dec.policy->id : NULL, "caf-address");
	CHECK_INT(dec.nattributes, 3);
	CHECK_STR(dec.consent_id, "any-purpose-full");
	policy_decision_clear(&dec);
}

static void
test_any_purpose_furthest_denial(void)
{
	struct store_objection o = {
		.id = "any-purpose-objection", .dataset = "address",
		.purpose = "fraud-check", .consumer = "caf",
	};
	struct domain_config d;
	struct policy_decision dec;

	/* benefit-eligibility stops at the missing consent, fraud-check (now
	 * a public task) at the subject's objection, which got further: it is
	 * the reason given. */
	configure(&d, V_LEGAL);
	d.policies[POL_CAF_PUBLIC_TASK] = d.policies[POL_SPARE1];
	d.policies[POL_CAF_PUBLIC_TASK].id = "caf-address-fraud";
	d.policies[POL_CAF_PUBLIC_TASK].basis = CONFIG_BASIS_PUBLIC_TASK;
	d.cfg.npolicies = 2;
	snprintf(o.subject, sizeof(o.subject), "%064d", 1003);
	CHECK_INT(store_objection_insert(st, &o), STORE_OK);
	CHECK_INT(any_purpose(&d, SVC_CAF, o.subject, &dec), POLICY_OBJECTION);
	CHECK_STR(dec.policy ? dec.policy->id : NULL, "caf-address-fraud");
	CHECK_INT(dec.nattributes, 0);
	policy_decision_clear(&dec);

	/* Equal stages: the first purpose in the file explains. */
	d.policies[POL_CAF_PUBLIC_TASK].basis = CONFIG_BASIS_CONSENT;
	CHECK_INT(any_purpose(&d, SVC_CAF, o.subject, &dec), POLICY_NO_CONSENT);
	CHECK_STR(dec.policy ? dec.policy->id : NULL, "caf-address");
	policy_decision_clear(&dec);

	/* A service without a policy gets nothing, and no policy is named. */
	CHECK_INT(any_purpose(&d, SVC_PORTAL, o.subject, &dec), POLICY_NO_POLICY);
	CHECK(dec.policy == NULL);
	policy_decision_clear(&dec);
}

static void
test_audit_entry(void)
{
	struct domain_config d;
	struct policy_decision dec = { .reason = POLICY_ALLOW,
	    .consent_id = "consent-1" };
	struct audit_entry e;

	domain_config_init(&d);
	dec.policy = &d.policies[POL_CAF_ADDRESS];
	e = policy_audit_entry(AUDIT_FETCH, &dec);
	CHECK_INT(e.type, AUDIT_FETCH);
	CHECK_STR(e.policy, "caf-address");
	CHECK_STR(e.basis, "consent");
	CHECK_STR(e.purpose, PURPOSE);
	CHECK_STR(e.consent, "consent-1");
	CHECK_INT(e.decision, AUDIT_ALLOW);
	CHECK(e.reason == NULL);
	/* Who and what are the caller's to fill. */
	CHECK(e.consumer == NULL && e.subject == NULL && e.attributes == NULL);

	/* A denial that no policy came near names none, and says why. */
	dec = (struct policy_decision){ .reason = POLICY_NO_POLICY };
	e = policy_audit_entry(AUDIT_DELIVER, &dec);
	CHECK_INT(e.type, AUDIT_DELIVER);
	CHECK(e.policy == NULL && e.basis == NULL && e.purpose == NULL);
	CHECK(e.consent == NULL);
	CHECK_INT(e.decision, AUDIT_DENY);
	CHECK_STR(e.reason, "no_policy");
}

static void
test_reason_names(void)
{
	CHECK_STR(policy_reason_name(POLICY_ALLOW), "allow");
	CHECK_STR(policy_reason_name(POLICY_NO_POLICY), "no_policy");
	CHECK_STR(policy_reason_name(POLICY_NO_CONSENT), "no_consent");
	CHECK_STR(policy_reason_name(POLICY_CONSENT_REVOKED), "consent_revoked");
	CHECK_STR(policy_reason_name(POLICY_CONSENT_EXPIRED), "consent_expired");
	CHECK_STR(policy_reason_name(POLICY_ATTRIBUTE_NOT_PERMITTED),
	    "attribute_not_permitted");
	CHECK_STR(policy_reason_name(POLICY_PURPOSE_MISMATCH), "purpose_mismatch");
	CHECK_STR(policy_reason_name(POLICY_OBJECTION), "objection");
	CHECK_STR(policy_reason_name(POLICY_SUBJECT_NOT_LINKED),
	    "subject_not_linked");
	CHECK_STR(policy_reason_name(POLICY_NO_MANDATE), "no_mandate");
	CHECK_STR(policy_reason_name(POLICY_MANDATE_EXPIRED), "mandate_expired");
	CHECK_STR(policy_reason_name(POLICY_MANDATE_REVOKED), "mandate_revoked");
	CHECK_STR(policy_reason_name(POLICY_MANDATE_SCOPE), "mandate_scope");
	CHECK_STR(policy_reason_name(POLICY_STORE_ERROR), "store_error");
}

int
main(void)
{
	char url[TMPDIR_PATH_LEN + 64], err[256];

	tmpdir_make(dir);
	tmpdir_store_url(dir, "policy.db", url, sizeof(url));
	if ((st = store_open(url, NULL, err, sizeof(err))) == NULL) {
		fprintf(stderr, "store_open: %s\n", err);
		tmpdir_remove(dir);
		return 1;
	}
	UNIT_RUN(test_decisions);
	UNIT_RUN(test_mandate_decisions);
	UNIT_RUN(test_revocation_is_immediate);
	UNIT_RUN(test_consent_fits);
	UNIT_RUN(test_any_purpose_widest_allow);
	UNIT_RUN(test_any_purpose_furthest_denial);
	UNIT_RUN(test_audit_entry);
	UNIT_RUN(test_reason_names);
	store_close(st);
	tmpdir_remove(dir);
	return UNIT_END();
}
