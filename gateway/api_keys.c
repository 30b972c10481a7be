/* api_keys.c — the public keys a partner verifies the gateway with, at
 * well-known paths (RFC 8615):
 *
 *   GET /.well-known/tellonce/audit-vkey   the audit log's note verifier
 *                                          key, as `tellonce keygen` prints
 *   GET /.well-known/jwks.json             the JWK Set (RFC 7517) of the
 *                                          key that signs consent receipts
 *
 * One Ed25519 key does both (keys.h); it cannot change while the process
 * runs, so the answers may be cached for a while. A key fetched from the
 * gateway it is meant to check is only as good as the connection it came
 * over: auditors should also get the verifier key out of band. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "encode.h"
#include "gateway.h"

#define KEYS_CACHE "public, max-age=300"

void
api_keys_audit_vkey(struct request *r)
{
	const char *vkey = r->gw->verifier_key;

	request_reply_raw(r, 200, "text/plain; charset=utf-8", vkey,
	    strlen(vkey), KEYS_CACHE);
}

void
api_keys_jwks(struct request *r)
{
	char x[ENCODE_BASE64_LEN(sizeof(r->gw->signer_pub))];
	json_t *jwks;
	char *text;

	encode_base64url(r->gw->signer_pub, sizeof(r->gw->signer_pub), x);
	/* RFC 8037: an Ed25519 public key is an OKP key, x its raw bytes. */
	jwks = json_pack("{s:[{s:s, s:s, s:s, s:s, s:s, s:s}]}", "keys",
	    "kty", "OKP", "crv", "Ed25519", "x", x, "kid", r->gw->signer_kid,
	    "alg", "EdDSA", "use", "sig");
	text = jwks ? json_dumps(jwks, JSON_COMPACT) : NULL;
	json_decref(jwks);
	if (text == NULL) {
		request_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	request_reply_raw(r, 200, "application/jwk-set+json", text,
	    strlen(text), KEYS_CACHE);
	free(text);
}
