/* commitment.c — HMAC-SHA256 commitments (see commitment.h). */
#include "commitment.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

static const char *const commitment_labels[] = {
	[COMMITMENT_SUBJECT] = "tellonce/subject\n",
	[COMMITMENT_CONSENT] = "tellonce/consent\n",
	[COMMITMENT_PAYLOAD] = "tellonce/payload\n",
	[COMMITMENT_MANDATE] = "tellonce/mandate\n",
};

/* Fetching HMAC, and SHA-256 by name for it, takes locks in OpenSSL's
 * provider store: done once, into an unkeyed context each commitment
 * copies. */
static EVP_MAC_CTX *commitment_template;
static pthread_once_t commitment_once = PTHREAD_ONCE_INIT;

static void
commitment_fetch(void)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
		    (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *hmac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);

	if (hmac != NULL && (commitment_template = EVP_MAC_CTX_new(hmac)) != NULL &&
	    !EVP_MAC_CTX_set_params(commitment_template, params)) {
		EVP_MAC_CTX_free(commitment_template);
		commitment_template = NULL;
	}
	EVP_MAC_free(hmac);   /* the context holds its own reference */
}

static int
commitment_mac(enum commitment_kind kind,
    const unsigned char key[COMMITMENT_KEY_LEN],
    const unsigned char nonce[COMMITMENT_NONCE_LEN], const void *value,
    size_t len, unsigned char mac[COMMITMENT_MAC_LEN])
{
	const char *label = commitment_labels[kind];
	EVP_MAC_CTX *ctx;
	size_t outlen = 0;
	int ok;

	pthread_once(&commitment_once, commitment_fetch);
	if (commitment_template == NULL ||
	    (ctx = EVP_MAC_CTX_dup(commitment_template)) == NULL)
		return -1;
	ok = EVP_MAC_init(ctx, key, COMMITMENT_KEY_LEN, NULL) &&
	    EVP_MAC_update(ctx, (const unsigned char *)label, strlen(label)) &&
	    EVP_MAC_update(ctx, nonce, COMMITMENT_NONCE_LEN) &&
	    (len == 0 || EVP_MAC_update(ctx, value, len)) &&
	    EVP_MAC_final(ctx, mac, &outlen, COMMITMENT_MAC_LEN) &&
	    outlen == COMMITMENT_MAC_LEN;
	EVP_MAC_CTX_free(ctx);
	return ok ? 0 : -1;
}

int
commitment_make(enum commitment_kind kind,
    const unsigned char key[COMMITMENT_KEY_LEN],
    const unsigned char nonce[COMMITMENT_NONCE_LEN], const void *value,
    size_t len, char out[COMMITMENT_B64_LEN])
{
	unsigned char mac[COMMITMENT_MAC_LEN];

	if (commitment_mac(kind, key, nonce, value, len, mac) != 0)
		return -1;
	encode_base64(mac, sizeof(mac), out);
	return 0;
}

int
commitment_check(enum commitment_kind kind,
    const unsigned char key[COMMITMENT_KEY_LEN],
    const unsigned char nonce[COMMITMENT_NONCE_LEN], const void *value,
    size_t len, const char *b64)
{
	char want[COMMITMENT_B64_LEN];

	if (b64 == NULL || strlen(b64) != COMMITMENT_B64_LEN - 1 ||
	    commitment_make(kind, key, nonce, value, len, want) != 0)
		return 0;
	return CRYPTO_memcmp(want, b64, COMMITMENT_B64_LEN - 1) == 0;
}
