/* fuzz_identity.c — pivot normalisation on arbitrary JSON: a normalised
 * pivot is always five fields, and the same whatever the spacing and case
 * its names were typed with. */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "identity.h"

static int
fuzz_fields(const char *canon)
{
	int n = 1;

	for (; *canon != '\0'; canon++)
		n += *canon == '\x1f';
	return n;
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *pivot = json_loadb((const char *)data, size, 0, NULL), *again;
	char err[256], *canon = NULL, *canon2 = NULL;
	char subject[STORE_SUBJECT_LEN];

	if (pivot == NULL)
		return 0;
	if (identity_normalize(pivot, &canon, err, sizeof(err)) == 0) {
		if (fuzz_fields(canon) != 5)
			abort();
		identity_pseudonym((const unsigned char *)"k", 1, canon, subject);
		if (strlen(subject) != STORE_SUBJECT_LEN - 1)
			abort();
		again = fuzz_retyped(pivot);
		if (again != NULL &&
		    identity_normalize(again, &canon2, err, sizeof(err)) == 0 &&
		    strcmp(canon, canon2) != 0)
			abort();
		json_decref(again);
		free(canon2);
	}
	free(canon);
	json_decref(pivot);
	return 0;
}
