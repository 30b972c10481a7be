/* test_identity.c — pivot normalisation rules and the keyed pseudonym. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "unit.h"

#define SEP "\x1f"

struct pivot_case {
	const char *family, *given, *birthdate, *birthplace, *gender;
	const char *canonical;   /* expected text, or NULL when an error is */
	const char *error;       /* the exact message expected */
};

#define OK(fam, giv, date, place, gen, canon) \
	{ fam, giv, date, place, gen, canon, NULL }
#define BAD(fam, giv, date, place, gen, msg) \
	{ fam, giv, date, place, gen, NULL, msg }

static const struct pivot_case cases[] = {
	OK("Dupont", "Jean", "1980-05-17", "Quimper", "M",
	    "dupont" SEP "jean" SEP "1980-05-17" SEP "quimper" SEP "M"),
	/* case, outer and inner spaces, tabs, no-break spaces */
	OK("  DUPONT ", "Jean \t  Marie", "1980-05-17", "QUIMPER", "m",
	    "dupont" SEP "jean marie" SEP "1980-05-17" SEP "quimper" SEP "M"),
	OK("Dupont", "Jean\xc2\xa0Marie", "1980-05-17", "Quimper", "M",
	    "dupont" SEP "jean marie" SEP "1980-05-17" SEP "quimper" SEP "M"),
	/* hyphens and apostrophes are separators, like spaces */
	OK("Le Goff-Kerné", "Jean-Pierre", "1980-05-17", "Pont-l'Abbé", "M",
	    "le goff kerne" SEP "jean pierre" SEP "1980-05-17" SEP
	    "pont l abbe" SEP "M"),
	OK("O\xe2\x80\x99" "Brien", "Jean \xe2\x80\x93 Pierre", "1980-05-17",
	    "Pont l Abbe", "M",
	    "o brien" SEP "jean pierre" SEP "1980-05-17" SEP "pont l abbe" SEP "M"),
	/* Latin-1 Supplement and Latin Extended-A */
	OK("Lefèvre Çelik", "Élodie Zoë", "1980-05-17", "Châteauneuf", "F",
	    "lefevre celik" SEP "elodie zoe" SEP "1980-05-17" SEP
	    "chateauneuf" SEP "F"),
	OK("Weiß Cœur", "Æsa Søren", "1980-05-17", "Łódź", "F",
	    "weiss coeur" SEP "aesa soren" SEP "1980-05-17" SEP "lodz" SEP "F"),
	OK("ŠŤĚPÁNEK", "İlkay Ĳsbrand", "1980-05-17", "Þórshöfn", "X",
	    "stepanek" SEP "ilkay ijsbrand" SEP "1980-05-17" SEP "thorshofn"
	    SEP "X"),
	/* a decomposed accent (NFD) gives the same as the composed one */
	OK("Lefe\xcc\x80vre", "E\xcc\x81lodie", "1980-05-17", "Quimper", "F",
	    "lefevre" SEP "elodie" SEP "1980-05-17" SEP "quimper" SEP "F"),
	/* letters beyond the fold table are kept as written */
	OK("Nguyễn", "Văn", "1980-05-17", "Huế", "M",
	    "nguyễn" SEP "van" SEP "1980-05-17" SEP "huế" SEP "M"),
	/* an INSEE commune code as birthplace */
	OK("Dupont", "Jean", "1980-05-17", "2A004", "M",
	    "dupont" SEP "jean" SEP "1980-05-17" SEP "2a004" SEP "M"),
	/* dates */
	OK("Dupont", "Jean", "17/05/1980", "Quimper", "M",
	    "dupont" SEP "jean" SEP "1980-05-17" SEP "quimper" SEP "M"),
	OK("Dupont", "Jean", " 2024-02-29 ", "Quimper", "M",
	    "dupont" SEP "jean" SEP "2024-02-29" SEP "quimper" SEP "M"),
	BAD("Dupont", "Jean", "2023-02-29", "Quimper", "M",
	    "pivot.birthdate: not a calendar date"),
	BAD("Dupont", "Jean", "31/04/1990", "Quimper", "M",
	    "pivot.birthdate: not a calendar date"),
	BAD("Dupont", "Jean", "1980-13-01", "Quimper", "M",
	    "pivot.birthdate: not a calendar date"),
	BAD("Dupont", "Jean", "1980-5-17", "Quimper", "M",
	    "pivot.birthdate: expected YYYY-MM-DD or DD/MM/YYYY"),
	BAD("Dupont", "Jean", "17.05.1980", "Quimper", "M",
	    "pivot.birthdate: expected YYYY-MM-DD or DD/MM/YYYY"),
	BAD("Dupont", "Jean", "1980-05-17T00:00:00Z", "Quimper", "M",
	    "pivot.birthdate: expected YYYY-MM-DD or DD/MM/YYYY"),
	BAD("Dupont", "Jean", "2999-01-01", "Quimper", "M",
	    "pivot.birthdate: in the future"),
	/* gender */
	OK("Dupont", "Jean", "1980-05-17", "Quimper", "Male",
	    "dupont" SEP "jean" SEP "1980-05-17" SEP "quimper" SEP "M"),
	OK("Dupont", "Jean", "1980-05-17", "Quimper", "HOMME",
	    "dupont" SEP "jean" SEP "1980-05-17" SEP "quimper" SEP "M"),
	OK("Dupont", "Jeanne", "1980-05-17", "Quimper", "femme",
	    "dupont" SEP "jeanne" SEP "1980-05-17" SEP "quimper" SEP "F"),
	OK("Dupont", "Jeanne", "1980-05-17", "Quimper", "Female",
	    "dupont" SEP "jeanne" SEP "1980-05-17" SEP "quimper" SEP "F"),
	OK("Dupont", "Sam", "1980-05-17", "Quimper", " x ",
	    "dupont" SEP "sam" SEP "1980-05-17" SEP "quimper" SEP "X"),
	BAD("Dupont", "Jean", "1980-05-17", "Quimper", "other",
	    "pivot.gender: expected M, F or X"),
	BAD("Dupont", "Jean", "1980-05-17", "Quimper", "",
	    "pivot.gender: expected M, F or X"),
	/* invalid text and missing fields; messages never hold the value */
	BAD("Dupont", "-- ' --", "1980-05-17", "Quimper", "M",
	    "pivot.given_names: empty"),
	BAD("Dupont", "Jean\x01", "1980-05-17", "Quimper", "M",
	    "pivot.given_names: control character"),
	BAD(NULL, "Jean", "1980-05-17", "Quimper", "M",
	    "pivot.family_name: missing"),
	BAD("Dupont", "Jean", "1980-05-17", NULL, "M",
	    "pivot.birthplace: missing"),
	BAD("Dupont", "Jean", "1980-05-17", "Quimper", NULL,
	    "pivot.gender: missing"),
};

/* Bytes jansson itself would refuse, so they go in unchecked: the module
 * must not rely on its caller for UTF-8 validity. */
static const char *const invalid_utf8[] = {
	"Dupon\xc3\x28",        /* bad continuation */
	"\xc0\xaf",             /* overlong '/' */
	"\xed\xa0\x80",         /* UTF-16 surrogate */
	"\xf4\x90\x80\x80",     /* above U+10FFFF */
	"Dupont\xc3",           /* truncated */
	"\xff",
};

static void
set_field(json_t *pivot, const char *key, const char *value)
{
	if (value != NULL)
		json_object_set_new(pivot, key, json_string_nocheck(value));
}

static json_t *
make_pivot(const char *family, const char *given, const char *birthdate,
    const char *birthplace, const char *gender)
{
	json_t *pivot = json_object();

	set_field(pivot, "family_name", family);
	set_field(pivot, "given_names", given);
	set_field(pivot, "birthdate", birthdate);
	set_field(pivot, "birthplace", birthplace);
	set_field(pivot, "gender", gender);
	return pivot;
}

/* Normalises; returns the text (caller frees) or NULL with err filled. */
static char *
normalize(const json_t *pivot, char *err, size_t errlen)
{
	char *out = NULL;

	err[0] = '\0';
	if (identity_normalize(pivot, &out, err, errlen) != 0) {
		CHECK(out == NULL);
		return NULL;
	}
	return out;
}

static void
test_normalize_table(void)
{
	int failed = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pivot_case *c = &cases[i];
		json_t *pivot = make_pivot(c->family, c->given, c->birthdate,
		    c->birthplace, c->gender);
		char err[128], *out = normalize(pivot, err, sizeof(err));

		if (c->canonical != NULL) {
			CHECK_STR(out, c->canonical);
			CHECK_STR(err, "");
		} else {
			CHECK(out == NULL);
			CHECK_STR(err, c->error);
		}
		/* Name the row, then let the next row start clean. */
		if (unit_current_failed)
			fprintf(stderr, "  (case %zu)\n", i);
		failed |= unit_current_failed;
		unit_current_failed = 0;
		free(out);
		json_decref(pivot);
	}
	unit_current_failed = failed;
}

static void
test_invalid_utf8(void)
{
	for (size_t i = 0; i < sizeof(invalid_utf8) / sizeof(invalid_utf8[0]); i++) {
		json_t *pivot = make_pivot(invalid_utf8[i], "Jean", "1980-05-17",
		    "Quimper", "M");
		char err[128], *out = normalize(pivot, err, sizeof(err));

		CHECK(out == NULL);
		CHECK_STR(err, "pivot.family_name: invalid UTF-8");
		free(out);
		json_decref(pivot);
	}
}

static void
test_shape(void)
{
	char err[128], *out, longname[300];
	json_t *pivot;

	pivot = json_array();
	CHECK(normalize(pivot, err, sizeof(err)) == NULL);
	CHECK_STR(err, "pivot: must be an object");
	json_decref(pivot);

	pivot = make_pivot("Dupont", "Jean", "1980-05-17", "Quimper", "M");
	json_object_set_new(pivot, "nationality", json_string("FR"));
	CHECK(normalize(pivot, err, sizeof(err)) == NULL);
	CHECK_STR(err, "pivot: unknown field");
	json_decref(pivot);

	pivot = make_pivot("Dupont", "Jean", "1980-05-17", "Quimper", NULL);
	json_object_set_new(pivot, "gender", json_integer(1));
	CHECK(normalize(pivot, err, sizeof(err)) == NULL);
	CHECK_STR(err, "pivot.gender: must be a string");
	json_decref(pivot);

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	pivot = make_pivot(longname, "Jean", "1980-05-17", "Quimper", "M");
	CHECK(normalize(pivot, err, sizeof(err)) == NULL);
	CHECK_STR(err, "pivot.family_name: too long");
	json_decref(pivot);

	pivot = make_pivot("Dupont", NULL, "1980-05-17", "Quimper", "M");
	json_object_set_new(pivot, "given_names", json_stringn("Je\0an", 5));
	out = normalize(pivot, err, sizeof(err));
	CHECK(out == NULL);
	CHECK_STR(err, "pivot.given_names: contains NUL");
	free(out);
	json_decref(pivot);
}

static void
subject_of(const char *key, json_t *pivot, char subject[STORE_SUBJECT_LEN])
{
	char err[128], *text = normalize(pivot, err, sizeof(err));

	subject[0] = '\0';
	CHECK(text != NULL);
	if (text != NULL)
		identity_pseudonym((const unsigned char *)key, strlen(key), text,
		    subject);
	free(text);
	json_decref(pivot);
}

static void
test_pseudonym(void)
{
	char a[STORE_SUBJECT_LEN], b[STORE_SUBJECT_LEN], c[STORE_SUBJECT_LEN];

	/* RFC 4231 test case 2: HMAC-SHA-256("Jefe", ...). */
	identity_pseudonym((const unsigned char *)"Jefe", 4,
	    "what do ya want for nothing?", a);
	CHECK_STR(a, "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");

	/* Two services typing the same person differently. */
	subject_of("k1", make_pivot("Le Goff", "Jean-Pierre", "17/05/1980",
	    "Pont-l'Abbé", "M"), a);
	subject_of("k1", make_pivot("LE GOFF", "jean pierre", "1980-05-17",
	    "PONT L ABBE", "homme"), b);
	CHECK_INT(strlen(a), STORE_SUBJECT_LEN - 1);
	CHECK_STR(a, b);
	/* Another key, another subject for the same person. */
	subject_of("k2", make_pivot("Le Goff", "Jean-Pierre", "17/05/1980",
	    "Pont-l'Abbé", "M"), c);
	CHECK(strcmp(a, c) != 0);
	/* Another person under the same key. */
	subject_of("k1", make_pivot("Le Goff", "Jean-Paul", "17/05/1980",
	    "Pont-l'Abbé", "M"), c);
	CHECK(strcmp(a, c) != 0);
}

int
main(void)
{
	UNIT_RUN(test_normalize_table);
	UNIT_RUN(test_invalid_utf8);
	UNIT_RUN(test_shape);
	UNIT_RUN(test_pseudonym);
	return UNIT_END();
}
