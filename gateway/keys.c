/* keys.c — the Ed25519 audit key: PEM in and out, note key IDs, key
 * generation. */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encode.h"

#define KEYS_SIG_ED25519 0x01    /* signed-note signature type */

EVP_PKEY *
keys_load_private(const struct secret *pem, char *err, size_t errlen)
{
	EVP_PKEY *key;
	BIO *bio;

	if (pem->data == NULL || pem->len == 0 || pem->len > INT32_MAX) {
		snprintf(err, errlen, "empty key");
		return NULL;
	}
	bio = BIO_new_mem_buf(pem->data, (int)pem->len);
	if (bio == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (key == NULL) {
		snprintf(err, errlen, "not a PEM private key");
		return NULL;
	}
	if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(key);
		snprintf(err, errlen, "not an Ed25519 key");
		return NULL;
	}
	return key;
}

int
keys_public_raw(EVP_PKEY *key, unsigned char pub[32])
{
	size_t len = 32;

	if (EVP_PKEY_get_raw_public_key(key, pub, &len) != 1 || len != 32)
		return -1;
	return 0;
}

uint32_t
keys_note_id(const char *name, const unsigned char pub[32])
{
	static const unsigned char sep[2] = { '\n', KEYS_SIG_ED25519 };
	unsigned char md[SHA256_DIGEST_LENGTH];
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint32_t id = 0;

	if (c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(c, name, strlen(name)) == 1 &&
	    EVP_DigestUpdate(c, sep, sizeof(sep)) == 1 &&
	    EVP_DigestUpdate(c, pub, 32) == 1 &&
	    EVP_DigestFinal_ex(c, md, NULL) == 1)
		id = (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 |
		    (uint32_t)md[2] << 8 | md[3];
	EVP_MD_CTX_free(c);
	return id;
}

char *
keys_verifier_string(const char *name, const unsigned char pub[32])
{
	unsigned char raw[33];
	char b64[ENCODE_BASE64_LEN(33)];
	size_t len = strlen(name) + 1 + 8 + 1 + sizeof(b64);
	char *out = malloc(len);

	if (out == NULL)
		return NULL;
	raw[0] = KEYS_SIG_ED25519;
	memcpy(raw + 1, pub, 32);
	encode_base64(raw, sizeof(raw), b64);
	snprintf(out, len, "%s+%08x+%s", name, keys_note_id(name, pub), b64);
	return out;
}

int
keys_verifier_parse(const char *vkey, char *name, size_t namelen,
    unsigned char pub[32])
{
	const char *plus1 = strchr(vkey, '+'), *plus2;
	unsigned char raw[34];
	unsigned char idbytes[4];
	char idhex[9];
	size_t nlen;
	uint32_t id;

	if (plus1 == NULL || (plus2 = strchr(plus1 + 1, '+')) == NULL ||
	    plus2 - plus1 != 9)
		return -1;
	nlen = (size_t)(plus1 - vkey);
	if (nlen == 0 || nlen >= namelen)
		return -1;
	memcpy(name, vkey, nlen);
	name[nlen] = '\0';
	memcpy(idhex, plus1 + 1, 8);
	idhex[8] = '\0';
	if (decode_hex(idhex, idbytes, 4) != 0 ||
	    decode_base64(plus2 + 1, strlen(plus2 + 1), raw, sizeof(raw)) != 33 ||
	    raw[0] != KEYS_SIG_ED25519)
		return -1;
	memcpy(pub, raw + 1, 32);
	id = (uint32_t)idbytes[0] << 24 | (uint32_t)idbytes[1] << 16 |
	    (uint32_t)idbytes[2] << 8 | idbytes[3];
	return id == keys_note_id(name, pub) ? 0 : -1;
}

/* Writes all of buf to a new file of mode 0600, durably. */
static int
keys_write_new(const char *path, const char *buf, size_t len, char *err,
    size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	size_t off = 0;

	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off != len || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

EVP_PKEY *
keys_generate(const char *path, char *err, size_t errlen)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem;
	long len;

	if (key == NULL || bio == NULL ||
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1) {
		snprintf(err, errlen, "cannot generate an Ed25519 key");
		goto fail;
	}
	len = BIO_get_mem_data(bio, &pem);
	if (keys_write_new(path, pem, (size_t)len, err, errlen) != 0)
		goto fail;
	BIO_free(bio);
	return key;
fail:
	BIO_free(bio);
	EVP_PKEY_free(key);
	return NULL;
}
