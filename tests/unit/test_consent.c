/* test_consent.c — granting consents: the receipt and its claims, each
 * refusal, and the API view of a consent. */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "consent.h"
#include "domain_config.h"
#include "jcs.h"
#include "jsonutil.h"
#include "jws.h"
#include "tmpdir.h"
#include "unit.h"

#define PURPOSE "benefit-eligibility"
#define SUBJECT "5ub1ec75ub1ec75ub1ec75ub1ec75ub1ec75ub1ec75ub1ec75ub1ec75ub1ec7"
#define NOW 1795000000123LL     /* 2026-11-18T11:06:40.123Z */
#define DAY (24 * 3600 * 1000LL)

static char dir[TMPDIR_PATH_LEN];
static struct store *st;
static struct domain_config d;
static EVP_PKEY *key;
static struct consent_signer signer;

static const char *const street_city[] = { "street", "city" };

static struct consent_grant
grant_of(const char *const *attrs, size_t n, int64_t expires_ms)
{
	return (struct consent_grant){
		.consumer = &d.services[SVC_CAF],
		.provider = &d.services[SVC_MAIRIE],
		.dataset = &d.address,
		.subject = SUBJECT,
		.local_id = "CAF-0042",
		.attributes = attrs,
		.nattributes = n,
		.purpose = PURPOSE,
		.expires_ms = expires_ms,
	};
}

static size_t
stored_count(void)
{
	struct store_consent *list;
	size_t n = 0;

	CHECK_INT(store_consent_find(st, SUBJECT, NULL, NULL, NULL, &list, &n),
	    STORE_OK);
	store_consents_free(list, n);
	return n;
}

static void
test_grant_and_receipt(void)
{
	struct consent_grant g = grant_of(street_city, 2, NOW + DAY);
	const struct config_policy *policy = NULL;
	struct store_consent c, stored;
	char *receipt = NULL, *payload = NULL;
	json_t *claims, *attrs;

	CHECK_INT(consent_grant(st, &d.cfg, &signer, &g, NOW, &c, &receipt,
	    &policy), POLICY_ALLOW);
	CHECK_STR(policy ? policy->id : NULL, "caf-address");
	CHECK_INT(strlen(c.id), STORE_ID_LEN - 1);
	CHECK_STR(c.subject, SUBJECT);
	CHECK_INT(c.created_ms, NOW);
	CHECK_INT(c.expires_ms, NOW + DAY);
	CHECK_INT(c.revoked_ms, 0);

	CHECK_INT(store_consent_get(st, c.id, &stored), STORE_OK);
	CHECK_STR(stored.consumer, "caf");
	CHECK_STR(stored.provider, "mairie");
	CHECK_INT(stored.nattributes, 2);
	CHECK_INT(stored.expires_ms, NOW + DAY);
	store_consent_clear(&stored);

	CHECK(receipt != NULL);
	CHECK_INT(jws_verify(key, receipt ? receipt : "", &payload), 0);
	/* The receipt names the consumer's local id, never the pseudonym. */
	CHECK(payload == NULL || strstr(payload, SUBJECT) == NULL);
	claims = payload ? json_loads(payload, 0, NULL) : NULL;
	CHECK(json_is_object(claims));
	CHECK_STR(jsonutil_string(claims, "jti"), c.id);
	CHECK_STR(jsonutil_string(claims, "iss"), "tellonce");
	CHECK_INT(json_integer_value(json_object_get(claims, "iat")), NOW / 1000);
	CHECK_INT(json_integer_value(json_object_get(claims, "exp")),
	    (NOW + DAY) / 1000);
	CHECK_STR(jsonutil_string(claims, "consumer"), "caf");
	CHECK_STR(jsonutil_string(claims, "provider"), "mairie");
	CHECK_STR(jsonutil_string(claims, "dataset"), "address");
	CHECK_STR(jsonutil_string(claims, "purpose"), PURPOSE);
	CHECK_STR(jsonutil_string(claims, "sub"), "CAF-0042");
	CHECK_STR(jsonutil_string(claims, "policy"), "caf-address");
	attrs = json_object_get(claims, "attributes");
	CHECK_INT(json_array_size(attrs), 2);
	CHECK_STR(json_string_value(json_array_get(attrs, 0)), "street");
	CHECK_STR(json_string_value(json_array_get(attrs, 1)), "city");
	CHECK_INT(json_object_size(claims), 11);
	json_decref(claims);
	free(payload);
	free(receipt);
	store_consent_clear(&c);
}

static void
test_grant_without_expiry(void)
{
	struct consent_grant g = grant_of(street_city, 1, 0);
	const struct config_policy *policy;
	struct store_consent c;
	char *receipt = NULL, *payload = NULL;
	json_t *claims;

	CHECK_INT(consent_grant(st, &d.cfg, &signer, &g, NOW, &c, &receipt,
	    &policy), POLICY_ALLOW);
	CHECK_INT(c.expires_ms, 0);
	CHECK_INT(jws_verify(key, receipt ? receipt : "", &payload), 0);
	claims = payload ? json_loads(payload, 0, NULL) : NULL;
	CHECK(json_is_object(claims));
	CHECK(json_object_get(claims, "exp") == NULL);
	json_decref(claims);
	free(payload);
	free(receipt);
	store_consent_clear(&c);
}

struct refusal {
	const char *name;
	const char *attrs[3];
	size_t nattrs;
	int consumer, provider;
	const char *purpose;
	int64_t expires_ms;
	enum policy_reason expect;
};

static const struct refusal refusals[] = {
	{ "no attributes", { NULL }, 0, SVC_CAF, SVC_MAIRIE, PURPOSE, 0,
	  POLICY_ATTRIBUTE_NOT_PERMITTED },
	{ "repeated attribute", { "city", "city" }, 2, SVC_CAF, SVC_MAIRIE,
	  PURPOSE, 0, POLICY_ATTRIBUTE_NOT_PERMITTED },
	{ "not in the dataset", { "phone" }, 1, SVC_CAF, SVC_MAIRIE, PURPOSE, 0,
	  POLICY_ATTRIBUTE_NOT_PERMITTED },
	{ "not in the policy", { "street", "country" }, 2, SVC_CAF, SVC_MAIRIE,
	  PURPOSE, 0, POLICY_ATTRIBUTE_NOT_PERMITTED },
	{ "expiry now", { "city" }, 1, SVC_CAF, SVC_MAIRIE, PURPOSE, NOW,
	  POLICY_CONSENT_EXPIRED },
	{ "expiry in the past", { "city" }, 1, SVC_CAF, SVC_MAIRIE, PURPOSE,
	  NOW - DAY, POLICY_CONSENT_EXPIRED },
	{ "another purpose", { "city" }, 1, SVC_CAF, SVC_MAIRIE, "marketing", 0,
	  POLICY_PURPOSE_MISMATCH },
	{ "consumer without policy", { "city" }, 1, SVC_PORTAL, SVC_MAIRIE,
	  PURPOSE, 0, POLICY_NO_POLICY },
	{ "provider without policy", { "city" }, 1, SVC_CAF, SVC_PORTAL,
	  PURPOSE, 0, POLICY_NO_POLICY },
};

static void
test_refusals(void)
{
	size_t before = stored_count();
	int failed = 0;

	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const struct refusal *r = &refusals[i];
		struct consent_grant g = grant_of(r->attrs, r->nattrs, r->expires_ms);
		const struct config_policy *policy = (const void *)&g;
		struct store_consent c;
		char *receipt = (char *)&g;

		g.consumer = &d.services[r->consumer];
		g.provider = &d.services[r->provider];
		g.purpose = r->purpose;
		CHECK_STR(policy_reason_name(consent_grant(st, &d.cfg, &signer,
		    &g, NOW, &c, &receipt, &policy)), policy_reason_name(r->expect));
		CHECK(receipt == NULL);
		CHECK(policy == NULL);
		/* Name the row, then let the next row start clean. */
		if (unit_current_failed)
			fprintf(stderr, "  (refusal: %s)\n", r->name);
		failed |= unit_current_failed;
		unit_current_failed = 0;
	}
	unit_current_failed = failed;
	CHECK_INT(stored_count(), before);
}

/* A key that cannot sign: nothing is stored without its receipt. */
static void
test_signing_failure(void)
{
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	struct consent_signer bad = { .key = ec, .kid = "k" };
	struct consent_grant g = grant_of(street_city, 2, 0);
	const struct config_policy *policy;
	struct store_consent c;
	char *receipt;
	size_t before = stored_count();

	CHECK_INT(consent_grant(st, &d.cfg, &bad, &g, NOW, &c, &receipt, &policy),
	    POLICY_STORE_ERROR);
	CHECK(receipt == NULL);
	CHECK_INT(stored_count(), before);
	EVP_PKEY_free(ec);
}

static void
test_to_json(void)
{
	char *attrs[] = { "street", "city" };
	struct store_consent c = {
		.id = "0123456789abcdef0123456789abcdef", .subject = SUBJECT,
		.consumer = "caf", .provider = "mairie", .dataset = "address",
		.purpose = PURPOSE, .attributes = attrs, .nattributes = 2,
		.created_ms = NOW, .expires_ms = NOW + DAY,
	};
	json_t *j = consent_to_json(&c, "MAIRIE-7", NOW);
	char *text = jcs_dump(j);

	CHECK_STR(text, "{\"attributes\":[\"street\",\"city\"],"
	    "\"consumer\":\"caf\",\"created_at\":\"2026-11-18T11:06:40.123Z\","
	    "\"dataset\":\"address\",\"expires_at\":\"2026-11-19T11:06:40.123Z\","
	    "\"id\":\"0123456789abcdef0123456789abcdef\",\"provider\":\"mairie\","
	    "\"purpose\":\"benefit-eligibility\",\"revoked_at\":null,"
	    "\"status\":\"active\",\"subject\":\"MAIRIE-7\"}");
	free(text);
	json_decref(j);

	/* Given by a mediator: it says so, and which one. */
	c.mandate = "fedcba9876543210fedcba9876543210";
	c.mediator = "franceservices";
	c.helper = "agent-1";
	j = consent_to_json(&c, "MAIRIE-7", NOW);
	CHECK(json_is_true(json_object_get(j, "mandate")));
	CHECK_STR(jsonutil_string(j, "mediator"), "franceservices");
	CHECK(json_object_get(j, "helper") == NULL);
	json_decref(j);
	c.mandate = c.mediator = c.helper = NULL;

	j = consent_to_json(&c, "MAIRIE-7", NOW + DAY);
	CHECK_STR(jsonutil_string(j, "status"), "expired");
	json_decref(j);

	c.revoked_ms = NOW + 1000;
	c.expires_ms = 0;
	j = consent_to_json(&c, "CAF-0042", NOW + 2000);
	CHECK_STR(jsonutil_string(j, "status"), "revoked");
	CHECK_STR(jsonutil_string(j, "revoked_at"), "2026-11-18T11:06:41.123Z");
	CHECK(json_is_null(json_object_get(j, "expires_at")));
	CHECK_STR(jsonutil_string(j, "subject"), "CAF-0042");
	json_decref(j);
}

int
main(void)
{
	char url[TMPDIR_PATH_LEN + 64], err[256];

	tmpdir_make(dir);
	tmpdir_store_url(dir, "consent.db", url, sizeof(url));
	if ((st = store_open(url, NULL, err, sizeof(err))) == NULL) {
		fprintf(stderr, "store_open: %s\n", err);
		tmpdir_remove(dir);
		return 1;
	}
	domain_config_init(&d);
	key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	signer = (struct consent_signer){ .key = key, .kid = "gateway" };
	UNIT_RUN(test_grant_and_receipt);
	UNIT_RUN(test_grant_without_expiry);
	UNIT_RUN(test_refusals);
	UNIT_RUN(test_signing_failure);
	UNIT_RUN(test_to_json);
	EVP_PKEY_free(key);
	store_close(st);
	tmpdir_remove(dir);
	return UNIT_END();
}
