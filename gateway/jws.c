/* jws.c — compact JWS with EdDSA over Ed25519 (RFC 7515, RFC 8037).
 *
 * Verification accepts exactly one algorithm: the header must say
 * "alg":"EdDSA", so neither "none" nor an algorithm confusion (HS256 keyed
 * with the public key) can get a token through. */
#include "jws.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "jcs.h"

#define JWS_SIG_LEN 64          /* Ed25519 */
#define JWS_HEADER_MAX 1024     /* a decoded protected header, generously */
#define JWS_PAYLOAD_MAX 65536   /* receipts are a few hundred bytes */

static int
jws_is_ed25519(EVP_PKEY *key)
{
	return key != NULL && EVP_PKEY_is_a(key, "ED25519");
}

/* base64url of len bytes; malloc'd. */
static char *
jws_b64(const unsigned char *in, size_t len)
{
	char *out = malloc(ENCODE_BASE64_LEN(len));

	if (out != NULL)
		encode_base64url(in, len, out);
	return out;
}

static char *
jws_header(const char *kid)
{
	json_t *h = json_pack("{s:s, s:s, s:s}", "alg", "EdDSA", "kid", kid,
	    "typ", "JWT");
	char *text = h ? json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(h);
	return text;
}

static int
jws_ed25519_sign(EVP_PKEY *key, const char *input, unsigned char sig[JWS_SIG_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t siglen = JWS_SIG_LEN;
	int ok;

	/* Ed25519 hashes internally: no digest, one-shot only. */
	ok = ctx != NULL &&
	    EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
	    EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)input,
	    strlen(input)) == 1 && siglen == JWS_SIG_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

char *
jws_sign(EVP_PKEY *key, const char *kid, const char *payload_json)
{
	unsigned char sig[JWS_SIG_LEN];
	char *header, *h64 = NULL, *p64 = NULL, *s64 = NULL, *out = NULL;
	size_t hlen, plen;

	if (!jws_is_ed25519(key) || (header = jws_header(kid)) == NULL)
		return NULL;
	h64 = jws_b64((const unsigned char *)header, strlen(header));
	p64 = jws_b64((const unsigned char *)payload_json, strlen(payload_json));
	free(header);
	if (h64 == NULL || p64 == NULL)
		goto done;
	hlen = strlen(h64);
	plen = strlen(p64);
	/* "h64.p64" is the signing input; the signature is appended to it. */
	if ((out = malloc(hlen + plen + ENCODE_BASE64_LEN(JWS_SIG_LEN) + 2)) == NULL)
		goto done;
	memcpy(out, h64, hlen);
	out[hlen] = '.';
	memcpy(out + hlen + 1, p64, plen + 1);
	if (jws_ed25519_sign(key, out, sig) != 0 ||
	    (s64 = jws_b64(sig, sizeof(sig))) == NULL) {
		free(out);
		out = NULL;
		goto done;
	}
	out[hlen + 1 + plen] = '.';
	memcpy(out + hlen + plen + 2, s64, strlen(s64) + 1);
done:
	free(h64);
	free(p64);
	free(s64);
	return out;
}

/* Decodes a base64url part into a malloc'd NUL-terminated buffer of at
 * most `max` bytes; *len gets the decoded length. */
static unsigned char *
jws_unb64(const char *in, size_t inlen, size_t max, size_t *len)
{
	size_t cap = inlen / 4 * 3 + 3;
	unsigned char *out;
	long n;

	if (cap > max + 3 || (out = malloc(cap + 1)) == NULL)
		return NULL;
	if ((n = decode_base64url(in, inlen, out, cap)) < 0 || (size_t)n > max) {
		free(out);
		return NULL;
	}
	out[n] = '\0';
	*len = (size_t)n;
	return out;
}

static int
jws_header_ok(const char *h64, size_t len)
{
	unsigned char *text;
	json_t *h;
	size_t n;
	int ok;

	if ((text = jws_unb64(h64, len, JWS_HEADER_MAX, &n)) == NULL)
		return 0;
	h = json_loadb((const char *)text, n, JSON_REJECT_DUPLICATES, NULL);
	free(text);
	/* RFC 7515 §4.1.11: a "crit" we do not understand must be refused;
	 * we understand none. */
	ok = json_is_object(h) &&
	    json_string_value(json_object_get(h, "alg")) != NULL &&
	    strcmp(json_string_value(json_object_get(h, "alg")), "EdDSA") == 0 &&
	    json_object_get(h, "crit") == NULL;
	json_decref(h);
	return ok;
}

static int
jws_ed25519_verify(EVP_PKEY *key, const char *input, size_t len,
    const unsigned char *sig)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	ok = ctx != NULL &&
	    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
	    EVP_DigestVerify(ctx, sig, JWS_SIG_LEN, (const unsigned char *)input,
	    len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

int
jws_verify(EVP_PKEY *key, const char *compact, char **payload_json)
{
	const char *dot1, *dot2;
	unsigned char *sig = NULL, *payload = NULL;
	size_t siglen = 0, plen;

	*payload_json = NULL;
	if (!jws_is_ed25519(key) || (dot1 = strchr(compact, '.')) == NULL ||
	    (dot2 = strchr(dot1 + 1, '.')) == NULL || strchr(dot2 + 1, '.') != NULL)
		return -1;
	if (!jws_header_ok(compact, (size_t)(dot1 - compact)))
		return -1;
	sig = jws_unb64(dot2 + 1, strlen(dot2 + 1), JWS_SIG_LEN, &siglen);
	if (sig == NULL || siglen != JWS_SIG_LEN ||
	    !jws_ed25519_verify(key, compact, (size_t)(dot2 - compact), sig)) {
		free(sig);
		return -1;
	}
	free(sig);
	payload = jws_unb64(dot1 + 1, (size_t)(dot2 - dot1 - 1), JWS_PAYLOAD_MAX,
	    &plen);
	if (payload == NULL)
		return -1;
	*payload_json = (char *)payload;
	return 0;
}

char *
jws_sign_claims(EVP_PKEY *key, const char *kid, const json_t *claims)
{
	char *payload = jcs_dump(claims), *jws;

	if (payload == NULL)
		return NULL;
	jws = jws_sign(key, kid, payload);
	free(payload);
	return jws;
}
