/* checkpoint.c — C2SP tlog-checkpoint bodies in Ed25519 C2SP signed notes. */
#include "checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "encode.h"
#include "keys.h"

#define CHECKPOINT_DASH "\xe2\x80\x94 "    /* U+2014 em dash, then a space */
#define CHECKPOINT_SIG_LEN 64

int
checkpoint_origin_valid(const char *origin)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)origin;
	utf8proc_int32_t c;
	utf8proc_ssize_t n;

	if (*p == '\0' || strlen(origin) >= CHECKPOINT_ORIGIN_MAX)
		return 0;
	for (; *p != '\0'; p += n) {
		if ((n = utf8proc_iterate(p, -1, &c)) < 0)
			return 0;
		/* Go's unicode.IsSpace, which note.Open applies, plus controls. */
		switch (utf8proc_category(c)) {
		case UTF8PROC_CATEGORY_ZS:
		case UTF8PROC_CATEGORY_ZL:
		case UTF8PROC_CATEGORY_ZP:
		case UTF8PROC_CATEGORY_CC:
			return 0;
		default:
			break;
		}
		if (c == '+')
			return 0;
	}
	return 1;
}

/* One signature line's base64 (key ID, then the signature of text) into
 * out. 0, or -1 when signing fails. */
static int
checkpoint_signature(EVP_PKEY *key, const char *name, const char *text,
    char out[ENCODE_BASE64_LEN(4 + CHECKPOINT_SIG_LEN)])
{
	unsigned char pub[32], blob[4 + CHECKPOINT_SIG_LEN];
	size_t siglen = CHECKPOINT_SIG_LEN;
	EVP_MD_CTX *ctx;
	uint32_t id;
	int ok;

	if (keys_public_raw(key, pub) != 0)
		return -1;
	id = keys_note_id(name, pub);
	blob[0] = (unsigned char)(id >> 24);
	blob[1] = (unsigned char)(id >> 16);
	blob[2] = (unsigned char)(id >> 8);
	blob[3] = (unsigned char)id;
	/* Ed25519 is one-shot: no digest is named. */
	ctx = EVP_MD_CTX_new();
	ok = ctx != NULL &&
	    EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
	    EVP_DigestSign(ctx, blob + 4, &siglen, (const unsigned char *)text,
	    strlen(text)) == 1 && siglen == CHECKPOINT_SIG_LEN;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	encode_base64(blob, sizeof(blob), out);
	return 0;
}

char *
checkpoint_note_sign(EVP_PKEY *const *keys, size_t nkeys, const char *name,
    const char *text)
{
	char sigb64[ENCODE_BASE64_LEN(4 + CHECKPOINT_SIG_LEN)];
	size_t line = strlen(CHECKPOINT_DASH) + strlen(name) + sizeof(sigb64) + 2;
	size_t cap, off;
	char *note;

	if (nkeys == 0)
		return NULL;
	cap = strlen(text) + 1 + nkeys * line + 1;
	if ((note = malloc(cap)) == NULL)
		return NULL;
	off = (size_t)snprintf(note, cap, "%s\n", text);
	for (size_t i = 0; i < nkeys; i++) {
		if (checkpoint_signature(keys[i], name, text, sigb64) != 0) {
			free(note);
			return NULL;
		}
		off += (size_t)snprintf(note + off, cap - off,
		    CHECKPOINT_DASH "%s %s\n", name, sigb64);
	}
	return note;
}

char *
checkpoint_sign(EVP_PKEY *const *keys, size_t nkeys, const char *origin,
    uint64_t size, const merkle_hash root)
{
	char rootb64[ENCODE_BASE64_LEN(MERKLE_HASH_LEN)];
	char *body, *note;

	encode_base64(root, MERKLE_HASH_LEN, rootb64);
	if (asprintf(&body, "%s\n%llu\n%s\n", origin, (unsigned long long)size,
	    rootb64) == -1)
		return NULL;
	note = checkpoint_note_sign(keys, nkeys, origin, body);
	free(body);
	return note;
}

/* The body ends at the blank line that starts the signatures. */
static const char *
checkpoint_body_end(const char *note, size_t len)
{
	const char *p = memmem(note, len, "\n\n", 2);

	return p ? p + 1 : NULL;
}

int
checkpoint_parse(const char *note, size_t len, struct checkpoint *cp,
    char *err, size_t errlen)
{
	const char *end = checkpoint_body_end(note, len), *p = note, *nl;
	unsigned char root[MERKLE_HASH_LEN + 1];
	uint64_t size = 0;
	size_t n;

	if (end == NULL) {
		snprintf(err, errlen, "checkpoint: no signature block");
		return -1;
	}
	nl = memchr(p, '\n', (size_t)(end - p));
	n = (size_t)(nl - p);
	if (n == 0 || n >= sizeof(cp->origin) || memchr(p, '\0', n) != NULL) {
		snprintf(err, errlen, "checkpoint: bad origin line");
		return -1;
	}
	memcpy(cp->origin, p, n);
	cp->origin[n] = '\0';
	p = nl + 1;
	nl = memchr(p, '\n', (size_t)(end - p));
	n = nl ? (size_t)(nl - p) : 0;
	if (n == 0 || n > 20 || (p[0] == '0' && n > 1)) {
		snprintf(err, errlen, "checkpoint: bad size line");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t next = size * 10 + (uint64_t)(p[i] - '0');

		if (p[i] < '0' || p[i] > '9' || next / 10 != size) {
			snprintf(err, errlen, "checkpoint: bad size line");
			return -1;
		}
		size = next;
	}
	p = nl + 1;
	nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == NULL || decode_base64(p, (size_t)(nl - p), root,
	    sizeof(root)) != MERKLE_HASH_LEN) {
		snprintf(err, errlen, "checkpoint: bad root hash line");
		return -1;
	}
	cp->size = size;
	memcpy(cp->root, root, MERKLE_HASH_LEN);
	return 0;
}

/* Checks one signature line against the key; 1 verified, 0 another key,
 * -1 a bad signature by this key. */
static int
checkpoint_check_line(const char *line, size_t n, const char *body,
    size_t bodylen, const char *name, EVP_PKEY *pkey, uint32_t id)
{
	size_t dash = strlen(CHECKPOINT_DASH), nlen = strlen(name);
	unsigned char blob[4 + CHECKPOINT_SIG_LEN + 1];
	EVP_MD_CTX *ctx;
	long bloblen;
	int ok;

	if (n < dash + nlen + 1 || memcmp(line, CHECKPOINT_DASH, dash) != 0 ||
	    memcmp(line + dash, name, nlen) != 0 || line[dash + nlen] != ' ')
		return 0;
	bloblen = decode_base64(line + dash + nlen + 1, n - dash - nlen - 1,
	    blob, sizeof(blob));
	if (bloblen < 4 || ((uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 |
	    (uint32_t)blob[2] << 8 | blob[3]) != id)
		return 0;
	if (bloblen != 4 + CHECKPOINT_SIG_LEN)
		return -1;
	ctx = EVP_MD_CTX_new();
	ok = ctx != NULL &&
	    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
	    EVP_DigestVerify(ctx, blob + 4, CHECKPOINT_SIG_LEN,
	    (const unsigned char *)body, bodylen) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 1 : -1;
}

int
checkpoint_verify_keys(const char *note, size_t len,
    const struct checkpoint_key *keys, size_t nkeys, char *err, size_t errlen)
{
	const char *end = checkpoint_body_end(note, len);
	size_t verified = 0;

	if (end == NULL || note[len - 1] != '\n') {
		snprintf(err, errlen, "checkpoint: not a signed note");
		return -1;
	}
	for (size_t k = 0; k < nkeys; k++) {
		uint32_t id = keys_note_id(keys[k].name, keys[k].pub);
		EVP_PKEY *pkey;
		int rc = 0;

		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
		    keys[k].pub, 32);
		if (pkey == NULL) {
			snprintf(err, errlen, "checkpoint: bad public key");
			return -1;
		}
		for (const char *p = end + 1; p < note + len && rc == 0;) {
			const char *nl = memchr(p, '\n', (size_t)(note + len - p));

			rc = checkpoint_check_line(p, (size_t)(nl - p), note,
			    (size_t)(end - note), keys[k].name, pkey, id);
			p = nl + 1;
		}
		EVP_PKEY_free(pkey);
		/* As Go's note.Open: a bad signature by a known key condemns
		 * the note, whatever else signs it. */
		if (rc == -1) {
			snprintf(err, errlen, "checkpoint: bad signature by %s",
			    keys[k].name);
			return -1;
		}
		verified += rc == 1;
	}
	if (verified > 0)
		return 0;
	if (nkeys == 1)
		snprintf(err, errlen, "checkpoint: no signature by %s",
		    keys[0].name);
	else
		snprintf(err, errlen, "checkpoint: no signature by %s with "
		    "any of the %zu keys", nkeys ? keys[0].name : "?", nkeys);
	return -1;
}

int
checkpoint_verify(const char *note, size_t len, const char *name,
    const unsigned char pub[32], char *err, size_t errlen)
{
	struct checkpoint_key key = { .name = name };

	memcpy(key.pub, pub, 32);
	return checkpoint_verify_keys(note, len, &key, 1, err, errlen);
}
