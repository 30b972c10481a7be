/* consent.c — granting a consent and its signed receipt; the API view of a
 * consent.
 *
 * consent_grant answers with a policy_reason so the caller can report a
 * refusal the same way as a denied exchange. Request problems that are
 * not about policies map onto the nearest reason:
 *   no attributes, a repeated one, one outside the dataset
 *                                   → attribute_not_permitted
 *   expires_ms not after now        → consent_expired
 * A caller that wants 400 for malformed input checks those first. */
#include "consent.h"

#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "jws.h"
#include "log.h"

#define CONSENT_ISSUER "tellonce"

static enum policy_reason
consent_check(const struct consent_grant *g, int64_t now_ms)
{
	if (g->nattributes == 0)
		return POLICY_ATTRIBUTE_NOT_PERMITTED;
	for (size_t i = 0; i < g->nattributes; i++) {
		if (config_find_attribute(g->dataset, g->attributes[i]) == NULL)
			return POLICY_ATTRIBUTE_NOT_PERMITTED;
		for (size_t j = 0; j < i; j++)
			if (strcmp(g->attributes[i], g->attributes[j]) == 0)
				return POLICY_ATTRIBUTE_NOT_PERMITTED;
	}
	if (g->expires_ms != 0 && g->expires_ms <= now_ms)
		return POLICY_CONSENT_EXPIRED;
	return POLICY_ALLOW;
}

/* The stored form of the grant, under a fresh id. Returns 0 or -1 (out
 * cleared). */
static int
consent_fill(struct store_consent *out, const struct consent_grant *g,
    int64_t now_ms)
{
	memset(out, 0, sizeof(*out));
	if (strlen(g->subject) >= sizeof(out->subject))
		return -1;
	store_new_id(out->id);
	memcpy(out->subject, g->subject, strlen(g->subject) + 1);
	out->created_ms = now_ms;
	out->expires_ms = g->expires_ms;
	out->consumer = strdup(g->consumer->id);
	out->provider = strdup(g->provider->id);
	out->dataset = strdup(g->dataset->name);
	out->purpose = strdup(g->purpose);
	if (out->consumer == NULL || out->provider == NULL ||
	    out->dataset == NULL || out->purpose == NULL)
		goto fail;
	if (g->mandate != NULL && ((out->mandate = strdup(g->mandate->id)) ==
	    NULL || (out->mediator = strdup(g->mandate->mediator)) == NULL ||
	    (out->helper = strdup(g->helper)) == NULL))
		goto fail;
	if (store_strings_dup(&out->attributes, &out->nattributes,
	    g->attributes, g->nattributes) != 0)
		goto fail;
	return 0;
fail:
	store_consent_clear(out);
	return -1;
}

/* The receipt: a JWT naming the receiver's own id of the subject (never
 * the pseudonym), signed by the gateway; under a mandate, also the
 * mandate, the mediator and the helper. malloc'd, or NULL. */
static char *
consent_receipt(const struct consent_signer *signer,
    const struct store_consent *c, const char *local_id,
    const struct config_policy *policy)
{
	json_t *claims;
	char *jws;

	claims = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:o, s:s, s:s, s:s}",
	    "jti", c->id, "iss", CONSENT_ISSUER,
	    "iat", (json_int_t)(c->created_ms / 1000),
	    "consumer", c->consumer, "provider", c->provider,
	    "dataset", c->dataset,
	    "attributes", jsonutil_string_list(c->attributes, c->nattributes),
	    "purpose", c->purpose, "sub", local_id, "policy", policy->id);
	if (claims == NULL)
		return NULL;
	if (c->expires_ms != 0)
		json_object_set_new(claims, "exp",
		    json_integer((json_int_t)(c->expires_ms / 1000)));
	if (c->mandate != NULL) {
		json_object_set_new(claims, "mandate", json_string(c->mandate));
		json_object_set_new(claims, "mediator", json_string(c->mediator));
		json_object_set_new(claims, "helper", json_string(c->helper));
	}
	jws = jws_sign_claims(signer->key, signer->kid, claims);
	json_decref(claims);
	return jws;
}

enum policy_reason
consent_grant(struct store *st, const struct config *cfg,
    const struct consent_signer *signer, const struct consent_grant *g,
    int64_t now_ms, struct store_consent *out, char **receipt,
    const struct config_policy **policy)
{
	enum policy_reason r;

	memset(out, 0, sizeof(*out));
	*receipt = NULL;
	*policy = NULL;
	if ((r = consent_check(g, now_ms)) != POLICY_ALLOW)
		return r;
	r = policy_consent_fits(cfg, g->consumer, g->provider, g->dataset,
	    g->purpose, g->attributes, g->nattributes, policy);
	if (r != POLICY_ALLOW)
		return r;
	if (consent_fill(out, g, now_ms) != 0)
		return POLICY_STORE_ERROR;
	/* Sign first: a consent is only stored once its receipt exists. */
	*receipt = consent_receipt(signer, out, g->local_id, *policy);
	if (*receipt == NULL) {
		log_error("consent: cannot sign the receipt");
		store_consent_clear(out);
		return POLICY_STORE_ERROR;
	}
	if (store_consent_insert(st, out) != STORE_OK) {
		free(*receipt);
		*receipt = NULL;
		store_consent_clear(out);
		return POLICY_STORE_ERROR;
	}
	return POLICY_ALLOW;
}

const char *
consent_status(int64_t revoked_ms, int64_t expires_ms, int64_t now_ms)
{
	if (revoked_ms != 0)
		return "revoked";
	if (expires_ms != 0 && now_ms >= expires_ms)
		return "expired";
	return "active";
}

json_t *
consent_to_json(const struct store_consent *c, const char *viewer_local_id,
    int64_t now_ms)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:o, "
	    "s:o, s:s}",
	    "id", c->id, "subject", viewer_local_id, "consumer", c->consumer,
	    "provider", c->provider, "dataset", c->dataset,
	    "attributes", jsonutil_string_list(c->attributes, c->nattributes),
	    "purpose", c->purpose,
	    "created_at", jsonutil_time(c->created_ms),
	    "expires_at", jsonutil_time(c->expires_ms),
	    "revoked_at", jsonutil_time(c->revoked_ms),
	    "status", consent_status(c->revoked_ms, c->expires_ms, now_ms));

	if (o != NULL && c->mediator != NULL) {
		json_object_set_new(o, "mandate", json_true());
		json_object_set_new(o, "mediator", json_string(c->mediator));
	}
	return o;
}
