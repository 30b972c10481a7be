/* api_keys.c — the public keys a partner verifies the gateway with, at
 * well-known paths (RFC 8615):
 *
 *   GET /.well-known/tellonce/audit-vkey   the audit log's note verifier
 *                                          keys, one a line, as `tellonce
 *                                          keygen` prints them
 *   GET /.well-known/jwks.json             the same keys as a JWK Set
 *                                          (RFC 7517): the one that signs
 *                                          consent receipts among them
 *
 * The first line is the key that signs checkpoints and receipts; then the
 * keys that also sign checkpoints during a rotation; then earlier keys
 * (gateway.audit.verifier_keys), which signed the checkpoints and
 * receipts that auditors and citizens already hold. They cannot change
 * while the process runs, so the answers may be cached for a while. A key
 * fetched from the gateway it is meant to check is only as good as the
 * connection it came over: auditors should also get the verifier keys out
 * of band. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "checkpoint.h"
#include "encode.h"
#include "gateway.h"
#include "keys.h"

#define KEYS_CACHE "public, max-age=300"

void
api_keys_audit_vkey(struct request *r)
{
	const char *vkeys = r->gw->verifier_keys;

	request_reply_raw(r, 200, "text/plain; charset=utf-8", vkeys,
	    strlen(vkeys), KEYS_CACHE);
}

/* One verifier key line as a JWK (RFC 8037: an Ed25519 public key is an
 * OKP key, x its raw bytes; kid the note key ID, as receipts name it).
 * 0, or -1 when out of memory or not a key. */
static int
api_keys_jwk(json_t *keys, const char *line, size_t len)
{
	char vkey[CHECKPOINT_ORIGIN_MAX + 64], name[CHECKPOINT_ORIGIN_MAX];
	char x[ENCODE_BASE64_LEN(32)], kid[9];
	unsigned char pub[32];

	if (len >= sizeof(vkey))
		return -1;
	memcpy(vkey, line, len);
	vkey[len] = '\0';
	if (keys_verifier_parse(vkey, name, sizeof(name), pub) != 0)
		return -1;
	encode_base64url(pub, sizeof(pub), x);
	snprintf(kid, sizeof(kid), "%08x", keys_note_id(name, pub));
	return json_array_append_new(keys, json_pack("{s:s, s:s, s:s, s:s, "
	    "s:s, s:s}", "kty", "OKP", "crv", "Ed25519", "x", x, "kid", kid,
	    "alg", "EdDSA", "use", "sig"));
}

void
api_keys_jwks(struct request *r)
{
	json_t *keys = json_array(), *jwks = NULL;
	const char *p = r->gw->verifier_keys, *nl;
	char *text = NULL;
	int rc = keys != NULL ? 0 : -1;

	for (; rc == 0 && (nl = strchr(p, '\n')) != NULL; p = nl + 1)
		rc = api_keys_jwk(keys, p, (size_t)(nl - p));
	if (rc == 0 && (jwks = json_pack("{s:O}", "keys", keys)) != NULL)
		text = json_dumps(jwks, JSON_COMPACT);
	json_decref(jwks);
	json_decref(keys);
	if (text == NULL) {
		request_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	request_reply_raw(r, 200, "application/jwk-set+json", text,
	    strlen(text), KEYS_CACHE);
	free(text);
}
