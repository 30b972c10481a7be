/* test_jws.c — EdDSA compact JWS: round trip and every way a token must
 * be refused. */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "jws.h"
#include "unit.h"

#define PAYLOAD "{\"iss\":\"tellonce\",\"jti\":\"c1\"}"

static EVP_PKEY *key, *other;

/* A token whose header is `header` (JSON text), signed with `k` over the
 * usual signing input, so only the header differs from a good token. */
static char *
forge(EVP_PKEY *k, const char *header, const char *payload)
{
	char *out = malloc(4096);
	unsigned char sig[64];
	size_t siglen = sizeof(sig), n;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	n = encode_base64url((const unsigned char *)header, strlen(header), out);
	out[n++] = '.';
	n += encode_base64url((const unsigned char *)payload, strlen(payload),
	    out + n);
	EVP_DigestSignInit(ctx, NULL, NULL, NULL, k);
	EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)out, n);
	EVP_MD_CTX_free(ctx);
	out[n++] = '.';
	encode_base64url(sig, siglen, out + n);
	return out;
}

static int
verifies(EVP_PKEY *k, const char *token)
{
	char *payload = NULL;
	int rc = jws_verify(k, token, &payload);

	if (rc != 0)
		CHECK(payload == NULL);
	free(payload);
	return rc == 0;
}

static void
test_round_trip(void)
{
	char *token = jws_sign(key, "audit.example/log", PAYLOAD), *payload = NULL;
	unsigned char header[256], raw[32];
	size_t rawlen = sizeof(raw);
	long n;
	EVP_PKEY *pub;

	CHECK(token != NULL);
	if (token == NULL)
		return;
	CHECK_INT(jws_verify(key, token, &payload), 0);
	CHECK_STR(payload, PAYLOAD);
	free(payload);

	/* The protected header says what RFC 8037 and the receipt need. */
	n = decode_base64url(token, (size_t)(strchr(token, '.') - token), header,
	    sizeof(header) - 1);
	CHECK(n > 0);
	header[n > 0 ? n : 0] = '\0';
	CHECK_STR((char *)header,
	    "{\"alg\":\"EdDSA\",\"kid\":\"audit.example/log\",\"typ\":\"JWT\"}");

	/* A holder of the public key alone can verify. */
	EVP_PKEY_get_raw_public_key(key, raw, &rawlen);
	pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, rawlen);
	CHECK(verifies(pub, token));
	EVP_PKEY_free(pub);
	free(token);
}

static void
test_tampered(void)
{
	char *token = jws_sign(key, "k", PAYLOAD), *copy;
	char *dot1, *dot2, *evil;
	char b64[128];

	CHECK(token != NULL);
	if (token == NULL)
		return;
	dot1 = strchr(token, '.');
	dot2 = strchr(dot1 + 1, '.');

	/* Another payload under the original header and signature. */
	encode_base64url((const unsigned char *)"{\"jti\":\"c2\"}", 12, b64);
	evil = malloc(strlen(token) + sizeof(b64));
	sprintf(evil, "%.*s.%s%s", (int)(dot1 - token), token, b64, dot2);
	CHECK(!verifies(key, evil));
	free(evil);

	/* One signature character changed (the first: its bits all count). */
	copy = strdup(token);
	copy[dot2 - token + 1] = copy[dot2 - token + 1] == 'A' ? 'B' : 'A';
	CHECK(!verifies(key, copy));
	free(copy);

	/* A signature one byte short. */
	copy = strdup(token);
	copy[strlen(copy) - 2] = '\0';
	CHECK(!verifies(key, copy));
	free(copy);

	/* Wrong number of parts. */
	CHECK(!verifies(key, "abc.def"));
	copy = malloc(strlen(token) + 3);
	sprintf(copy, "%s.x", token);
	CHECK(!verifies(key, copy));
	free(copy);
	CHECK(verifies(key, token));
	free(token);
}

static void
test_alg(void)
{
	static const char *const headers[] = {
		"{\"alg\":\"none\"}",
		"{\"alg\":\"HS256\"}",
		"{\"alg\":\"eddsa\"}",
		"{\"alg\":\"EdDSA\",\"crit\":[\"b64\"]}",
		"{\"typ\":\"JWT\"}",
		"[\"EdDSA\"]",
		"not json",
	};
	char *token;

	/* Correctly signed, but the header is not one we accept. */
	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		token = forge(key, headers[i], PAYLOAD);
		CHECK(!verifies(key, token));
		free(token);
	}
	/* The same forge with the right header does verify, so the refusals
	 * above are the header's doing. */
	token = forge(key, "{\"alg\":\"EdDSA\"}", PAYLOAD);
	CHECK(verifies(key, token));
	free(token);
}

static void
test_wrong_key(void)
{
	char *token = jws_sign(key, "k", PAYLOAD);
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	CHECK(!verifies(other, token));
	CHECK(!verifies(ec, token));
	CHECK(jws_sign(ec, "k", PAYLOAD) == NULL);
	EVP_PKEY_free(ec);
	free(token);
}

int
main(void)
{
	key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	UNIT_RUN(test_round_trip);
	UNIT_RUN(test_tampered);
	UNIT_RUN(test_alg);
	UNIT_RUN(test_wrong_key);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	return UNIT_END();
}
