/* cmd_audit_verify_subject.c — `tellonce audit verify-subject FILE --key
 * VKEY`: checks an access-log answer (GET /v1/access-log) offline, as a
 * citizen's portal would: the checkpoint's signature by the log's verifier
 * key, that every entry commits to the subject of the answer's view key,
 * and every entry's inclusion proof against that checkpoint. It trusts
 * nothing in the answer but what these checks tie to the key. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "checkpoint.h"
#include "cmd.h"
#include "commitment.h"
#include "jcs.h"
#include "jsonutil.h"
#include "keys.h"
#include "merkle.h"

/* The checkpoint of the answer, checked against vkey, into cp. 0, or -1
 * with err. */
static int
verify_subject_checkpoint(const json_t *answer, const char *vkey,
    struct checkpoint *cp, char *err, size_t errlen)
{
	const char *note = jsonutil_string(answer, "checkpoint");
	char name[CHECKPOINT_ORIGIN_MAX];
	unsigned char pub[32];

	if (note == NULL) {
		snprintf(err, errlen, "no checkpoint in the answer");
		return -1;
	}
	if (keys_verifier_parse(vkey, name, sizeof(name), pub) != 0) {
		snprintf(err, errlen, "not a verifier key: %s", vkey);
		return -1;
	}
	if (checkpoint_verify(note, strlen(note), name, pub, err, errlen) != 0 ||
	    checkpoint_parse(note, strlen(note), cp, err, errlen) != 0)
		return -1;
	if (strcmp(cp->origin, name) != 0) {
		snprintf(err, errlen, "checkpoint: origin \"%s\" is not the key's "
		    "name", cp->origin);
		return -1;
	}
	return 0;
}

/* A base64 member of exactly len bytes into out; 0 or -1. */
static int
verify_subject_bytes(const json_t *o, const char *key, unsigned char *out,
    size_t len)
{
	const char *b64 = jsonutil_string(o, key);

	return b64 != NULL && decode_base64(b64, strlen(b64), out, len) ==
	    (long)len ? 0 : -1;
}

/* A consent, payload or on_behalf commitment: null (or absent, in
 * entries older than mandates), or the base64 of an HMAC. Only who knows
 * the consent id, the record or the mandate can check more. */
static int
verify_subject_shape(const json_t *e, const char *key)
{
	unsigned char mac[COMMITMENT_MAC_LEN];

	return json_object_get(e, key) == NULL ||
	    json_is_null(json_object_get(e, key)) ||
	    verify_subject_bytes(e, key, mac, sizeof(mac)) == 0 ? 0 : -1;
}

/* The leaf hash of an answer's entry: the entry as logged is its JCS text
 * without the members the access log adds. */
static int
verify_subject_leaf(const json_t *item, merkle_hash leaf)
{
	json_t *e = json_deep_copy(item);
	char *text;

	if (e == NULL)
		return -1;
	for (size_t i = 0; audit_access_log_members[i] != NULL; i++)
		json_object_del(e, audit_access_log_members[i]);
	text = jcs_dump(e);
	json_decref(e);
	if (text == NULL)
		return -1;
	merkle_leaf_hash(text, strlen(text), leaf);
	free(text);
	return 0;
}

static int
verify_subject_proof(const json_t *item, uint64_t index,
    const struct checkpoint *cp, char *err, size_t errlen)
{
	const json_t *p = json_object_get(item, "inclusion_proof");
	const json_t *hashes = json_object_get(p, "hashes"), *h;
	merkle_hash proof[MERKLE_MAX_PROOF], leaf;
	size_t n = json_array_size(hashes), i;

	if (!json_is_object(p)) {
		snprintf(err, errlen, "no inclusion proof yet: ask again after "
		    "the next checkpoint");
		return -1;
	}
	if (json_integer_value(json_object_get(p, "size")) != (json_int_t)cp->size ||
	    index >= cp->size) {
		snprintf(err, errlen, "the proof is not against the checkpoint "
		    "of the answer");
		return -1;
	}
	if (!json_is_array(hashes) || n > MERKLE_MAX_PROOF) {
		snprintf(err, errlen, "malformed inclusion proof");
		return -1;
	}
	json_array_foreach(hashes, i, h) {
		const char *b64 = json_string_value(h);

		if (b64 == NULL || decode_base64(b64, strlen(b64), proof[i],
		    MERKLE_HASH_LEN) != MERKLE_HASH_LEN) {
			snprintf(err, errlen, "malformed inclusion proof");
			return -1;
		}
	}
	if (verify_subject_leaf(item, leaf) != 0 ||
	    merkle_verify_inclusion(index, cp->size, leaf,
	    (const merkle_hash *)proof, n, cp->root) != 0) {
		snprintf(err, errlen, "not in the log: its inclusion proof fails");
		return -1;
	}
	return 0;
}

static int
verify_subject_entry(const json_t *item, const unsigned char *view_key,
    const struct checkpoint *cp, uint64_t *index, char *err, size_t errlen)
{
	const json_t *ix = json_object_get(item, "audit_index");
	unsigned char nonce[COMMITMENT_NONCE_LEN];

	if (!json_is_integer(ix) || json_integer_value(ix) < 0) {
		snprintf(err, errlen, "an entry without its audit_index");
		return -1;
	}
	*index = (uint64_t)json_integer_value(ix);
	if (verify_subject_bytes(item, "nonce", nonce, sizeof(nonce)) != 0 ||
	    !commitment_check(COMMITMENT_SUBJECT, view_key, nonce, "", 0,
	    jsonutil_string(item, "subject"))) {
		snprintf(err, errlen, "not about the subject of this view key");
		return -1;
	}
	if (verify_subject_shape(item, "consent") != 0 ||
	    verify_subject_shape(item, "payload") != 0 ||
	    verify_subject_shape(item, "on_behalf") != 0) {
		snprintf(err, errlen, "a malformed consent, payload or on_behalf "
		    "commitment");
		return -1;
	}
	return verify_subject_proof(item, *index, cp, err, errlen);
}

int
cmd_audit_verify_subject(int argc, char **argv)
{
	const char *file = NULL, *vkey = NULL;
	unsigned char view_key[COMMITMENT_KEY_LEN];
	struct checkpoint cp;
	json_error_t jerr;
	json_t *answer, *entries, *item;
	char err[512];
	uint64_t index = 0;
	size_t i;

	for (int a = 0; a < argc; a++) {
		if (strcmp(argv[a], "--key") == 0 && a + 1 < argc)
			vkey = argv[++a];
		else if (argv[a][0] != '-' && file == NULL)
			file = argv[a];
		else
			return cmd_usage_error("audit verify-subject",
			    "unexpected argument");
	}
	if (file == NULL || vkey == NULL)
		return cmd_usage_error("audit verify-subject",
		    "needs FILE and --key VKEY");
	if ((answer = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		fprintf(stderr, "%s:%d:%d: %s\n", file, jerr.line, jerr.column,
		    jerr.text);
		return CMD_FAIL;
	}
	entries = json_object_get(answer, "entries");
	if (verify_subject_bytes(answer, "view_key", view_key,
	    sizeof(view_key)) != 0) {
		snprintf(err, sizeof(err), "no view_key of 32 bytes in the answer");
	} else if (!json_is_array(entries)) {
		snprintf(err, sizeof(err), "no entries in the answer");
	} else if (verify_subject_checkpoint(answer, vkey, &cp, err,
	    sizeof(err)) == 0) {
		err[0] = '\0';
		json_array_foreach(entries, i, item)
			if (verify_subject_entry(item, view_key, &cp, &index, err,
			    sizeof(err)) != 0)
				break;
		if (err[0] != '\0') {
			fprintf(stderr, "%s: verification failed: entry %llu: %s\n",
			    file, (unsigned long long)index, err);
			json_decref(answer);
			return CMD_FAIL;
		}
		printf("%s: ok, %zu entries about this subject, all in the log "
		    "of %llu entries signed by %s\n", file, json_array_size(entries),
		    (unsigned long long)cp.size, cp.origin);
		json_decref(answer);
		return CMD_OK;
	}
	fprintf(stderr, "%s: verification failed: %s\n", file, err);
	json_decref(answer);
	return CMD_FAIL;
}
