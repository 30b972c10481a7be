/* commitment.c — HMAC-SHA256 commitments (see commitment.h).
 *
 * HMAC is written out over SHA-256 (RFC 2104: H(K^opad || H(K^ipad || m)))
 * rather than through EVP_MAC: an entry makes two to four commitments under
 * one view key, and EVP_MAC sets the key up again for each, through
 * parameter lookups that cost more than the hashing. */
#include "commitment.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include "sha256.h"

#define COMMITMENT_BLOCK 64   /* SHA-256's block, HMAC's pad */

static const char *const commitment_labels[] = {
	[COMMITMENT_SUBJECT] = "tellonce/subject\n",
	[COMMITMENT_CONSENT] = "tellonce/consent\n",
	[COMMITMENT_PAYLOAD] = "tellonce/payload\n",
	[COMMITMENT_MANDATE] = "tellonce/mandate\n",
};

/* ctx := SHA-256 state after the key XOR pad, one block. */
static int
commitment_pad(EVP_MD_CTX *ctx, const unsigned char key[COMMITMENT_KEY_LEN],
    unsigned char pad)
{
	unsigned char block[COMMITMENT_BLOCK];
	int ok;

	memset(block, pad, sizeof(block));
	for (size_t i = 0; i < COMMITMENT_KEY_LEN; i++)
		block[i] ^= key[i];
	ok = EVP_DigestInit_ex2(ctx, sha256_md(), NULL) &&
	    EVP_DigestUpdate(ctx, block, sizeof(block));
	OPENSSL_cleanse(block, sizeof(block));
	return ok ? 0 : -1;
}

void
commitment_key_clear(struct commitment_key *k)
{
	/* The provider wipes a digest's state when it frees it. */
	EVP_MD_CTX_free(k->inner);
	EVP_MD_CTX_free(k->outer);
	EVP_MD_CTX_free(k->work);
	*k = (struct commitment_key){ 0 };
}

int
commitment_key_init(struct commitment_key *k,
    const unsigned char key[COMMITMENT_KEY_LEN])
{
	*k = (struct commitment_key){ EVP_MD_CTX_new(), EVP_MD_CTX_new(),
	    EVP_MD_CTX_new() };
	if (sha256_md() == NULL || k->inner == NULL || k->outer == NULL ||
	    k->work == NULL || commitment_pad(k->inner, key, 0x36) != 0 ||
	    commitment_pad(k->outer, key, 0x5c) != 0) {
		commitment_key_clear(k);
		return -1;
	}
	return 0;
}

static int
commitment_mac(struct commitment_key *k, enum commitment_kind kind,
    const unsigned char nonce[COMMITMENT_NONCE_LEN], const void *value,
    size_t len, unsigned char mac[COMMITMENT_MAC_LEN])
{
	const char *label = commitment_labels[kind];
	unsigned char inner[COMMITMENT_MAC_LEN];
	int ok;

	ok = EVP_MD_CTX_copy_ex(k->work, k->inner) &&
	    EVP_DigestUpdate(k->work, label, strlen(label)) &&
	    EVP_DigestUpdate(k->work, nonce, COMMITMENT_NONCE_LEN) &&
	    (len == 0 || EVP_DigestUpdate(k->work, value, len)) &&
	    EVP_DigestFinal_ex(k->work, inner, NULL) &&
	    EVP_MD_CTX_copy_ex(k->work, k->outer) &&
	    EVP_DigestUpdate(k->work, inner, sizeof(inner)) &&
	    EVP_DigestFinal_ex(k->work, mac, NULL);
	return ok ? 0 : -1;
}

int
commitment_key_make(struct commitment_key *k, enum commitment_kind kind,
    const unsigned char nonce[COMMITMENT_NONCE_LEN], const void *value,
    size_t len, char out[COMMITMENT_B64_LEN])
{
	unsigned char mac[COMMITMENT_MAC_LEN];

	if (k->inner == NULL ||
	    commitment_mac(k, kind, nonce, value, len, mac) != 0)
		return -1;
	encode_base64(mac, sizeof(mac), out);
	return 0;
}

int
commitment_make(enum commitment_kind kind,
    const unsigned char key[COMMITMENT_KEY_LEN],
    const unsigned char nonce[COMMITMENT_NONCE_LEN], const void *value,
    size_t len, char out[COMMITMENT_B64_LEN])
{
	struct commitment_key k;
	int rc;

	if (commitment_key_init(&k, key) != 0)
		return -1;
	rc = commitment_key_make(&k, kind, nonce, value, len, out);
	commitment_key_clear(&k);
	return rc;
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
