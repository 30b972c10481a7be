/* fuzz_identity.c — pivot normalisation on arbitrary JSON: a normalised
 * pivot is always five fields, and the same whatever the spacing and case
 * its names were typed with; and the two versions agree as the link rule
 * relies on (docs/identity.md, "Versions"): version 1 accepts what version
 * 2 does, leaves a version 2 name unchanged, and version 2 of a version 1
 * name is version 2 of the name. */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "identity.h"

#define FUZZ_SEP '\x1f'

static int
fuzz_fields(const char *canon)
{
	int n = 1;

	for (; *canon != '\0'; canon++)
		n += *canon == FUZZ_SEP;
	return n;
}

/* Field i of a canonical text, into out (IDENTITY_TEXT_MAX bytes). */
static void
fuzz_field(const char *canon, int i, char *out)
{
	const char *end;
	size_t len;

	for (; i > 0; i--)
		canon = strchr(canon, FUZZ_SEP) + 1;
	end = strchr(canon, FUZZ_SEP);
	len = end != NULL ? (size_t)(end - canon) : strlen(canon);
	memcpy(out, canon, len);
	out[len] = '\0';
}

/* The names (family name, given names, birthplace) of both texts. */
static void
fuzz_versions_agree(const char *v1, const char *v2)
{
	static const int names[] = { 0, 1, 3 };
	char f1[IDENTITY_TEXT_MAX], f2[IDENTITY_TEXT_MAX], again[IDENTITY_TEXT_MAX];

	for (size_t i = 0; i < 3; i++) {
		fuzz_field(v1, names[i], f1);
		fuzz_field(v2, names[i], f2);
		if (identity_name(1, f2, again, sizeof(again)) != NULL ||
		    strcmp(again, f2) != 0)
			abort();
		if (identity_name(2, f1, again, sizeof(again)) != NULL ||
		    strcmp(again, f2) != 0)
			abort();
	}
}

/* The same pivot with every name upper-cased and padded with spaces. */
static json_t *
fuzz_retyped(const json_t *pivot)
{
	static const char *const names[] = { "family_name", "given_names",
	    "birthplace" };
	json_t *copy = json_deep_copy(pivot);

	for (size_t i = 0; copy != NULL && i < 3; i++) {
		const char *v = json_string_value(json_object_get(copy, names[i]));
		char *t;
		size_t n;

		if (v == NULL)
			continue;
		n = strlen(v);
		if ((t = malloc(n + 3)) == NULL)
			abort();
		t[0] = ' ';
		for (size_t j = 0; j < n; j++)
			t[j + 1] = (char)toupper((unsigned char)v[j]);
		t[n + 1] = ' ';
		t[n + 2] = '\0';
		json_object_set_new(copy, names[i], json_string(t));
		free(t);
	}
	return copy;
}

/* Normalising the retyped pivot under `version` gives `canon` again. */
static void
fuzz_same_retyped(const json_t *again, int version, const char *canon)
{
	char err[256], *canon2 = NULL;

	if (again != NULL &&
	    identity_normalize(again, version, &canon2, err, sizeof(err)) == 0 &&
	    strcmp(canon, canon2) != 0)
		abort();
	free(canon2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *pivot = json_loadb((const char *)data, size, 0, NULL), *again;
	char err[256], *v2 = NULL, *v1 = NULL;
	char subject[STORE_SUBJECT_LEN];

	if (pivot == NULL)
		return 0;
	if (identity_normalize(pivot, 2, &v2, err, sizeof(err)) == 0) {
		if (fuzz_fields(v2) != 5)
			abort();
		if (identity_normalize(pivot, 1, &v1, err, sizeof(err)) != 0 ||
		    fuzz_fields(v1) != 5)
			abort();
		fuzz_versions_agree(v1, v2);
		identity_pseudonym((const unsigned char *)"k", 1, 2, v2, subject);
		if (strlen(subject) != STORE_SUBJECT_LEN - 1)
			abort();
		again = fuzz_retyped(pivot);
		fuzz_same_retyped(again, 2, v2);
		fuzz_same_retyped(again, 1, v1);
		json_decref(again);
	}
	free(v2);
	free(v1);
	json_decref(pivot);
	return 0;
}
