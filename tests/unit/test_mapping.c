/* test_mapping.c — service JSON <-> dataset attributes: dotted paths, absent
 * and null fields, type checks, the reverse direction, and no map. */
#include <jansson.h>
#include <stdlib.h>

#include "jsonutil.h"
#include "mapping.h"
#include "unit.h"

static struct config_attribute address_attrs[] = {
	{ "street", CONFIG_ATTR_STRING },
	{ "postal_code", CONFIG_ATTR_STRING },
	{ "city", CONFIG_ATTR_STRING },
	{ "country", CONFIG_ATTR_STRING },
};
static struct config_dataset address = { "address", address_attrs, 4 };

static struct config_attribute person_attrs[] = {
	{ "name", CONFIG_ATTR_STRING },
	{ "children", CONFIG_ATTR_INTEGER },
	{ "income", CONFIG_ATTR_NUMBER },
	{ "verified", CONFIG_ATTR_BOOLEAN },
	{ "birthdate", CONFIG_ATTR_DATE },
};
static struct config_dataset person = { "person", person_attrs, 5 };

/* One service's map, covering two datasets (address and person). */
static struct config_mapping mairie_map[] = {
	{ &address_attrs[0], "adresse.voie" },
	{ &address_attrs[1], "adresse.cp" },
	{ &address_attrs[2], "adresse.commune" },
	{ &address_attrs[3], "adresse.pays" },
	{ &person_attrs[1], "foyer.enfants" },
};
static struct config_connector mairie = {
	.type = "http", .map = mairie_map, .nmap = 5,
};
static struct config_connector unmapped = { .type = "http" };

/* Maps the JSON text `in` to ds; returns the canonical result or NULL with
 * err set. Caller frees. */
static char *
to_dataset(const struct config_connector *conn,
    const struct config_dataset *ds, const char *in, char *err, size_t errlen)
{
	json_t *raw = json_loads(in, 0, NULL), *out = NULL;
	char *text = NULL;

	err[0] = '\0';
	if (mapping_to_dataset(conn, ds, raw, &out, err, errlen) == 0)
		text = jsonutil_canonical(out);
	else
		CHECK(out == NULL);
	json_decref(raw);
	json_decref(out);
	return text;
}

static char *
from_dataset(const struct config_connector *conn,
    const struct config_dataset *ds, const char *in, char *err, size_t errlen)
{
	json_t *attrs = json_loads(in, 0, NULL), *out = NULL;
	char *text = NULL;

	err[0] = '\0';
	if (mapping_from_dataset(conn, ds, attrs, &out, err, errlen) == 0)
		text = jsonutil_canonical(out);
	else
		CHECK(out == NULL);
	json_decref(attrs);
	json_decref(out);
	return text;
}

struct case_ {
	const struct config_connector *conn;
	const struct config_dataset *ds;
	const char *in;
	const char *out;   /* canonical JSON, or NULL when an error is expected */
	const char *err;
};

static void
run_cases(const struct case_ *cases, size_t n,
    char *(*map)(const struct config_connector *,
    const struct config_dataset *, const char *, char *, size_t))
{
	for (size_t i = 0; i < n; i++) {
		char err[256];
		char *got = map(cases[i].conn, cases[i].ds, cases[i].in, err,
		    sizeof(err));

		if (cases[i].out != NULL) {
			CHECK_STR(got, cases[i].out);
			CHECK_STR(err, "");
		} else {
			CHECK(got == NULL);
			CHECK_STR(err, cases[i].err);
		}
		free(got);
	}
}

static void
test_to_dataset(void)
{
	static const struct case_ cases[] = {
		/* nested paths; fields outside the map are dropped */
		{ &mairie, &address,
		  "{\"adresse\":{\"voie\":\"1 rue de la Paix\",\"cp\":\"29000\","
		  "\"commune\":\"Quimper\",\"pays\":\"FR\"},\"interne\":7}",
		  "{\"city\":\"Quimper\",\"country\":\"FR\",\"postal_code\":"
		  "\"29000\",\"street\":\"1 rue de la Paix\"}", NULL },
		/* absent and null fields are omitted */
		{ &mairie, &address,
		  "{\"adresse\":{\"cp\":\"29000\",\"voie\":null}}",
		  "{\"postal_code\":\"29000\"}", NULL },
		{ &mairie, &address, "{}", "{}", NULL },
		{ &mairie, &address, "{\"adresse\":\"29000 Quimper\"}", "{}", NULL },
		/* the map's person entry is not read for address, and back */
		{ &mairie, &address, "{\"foyer\":{\"enfants\":2}}", "{}", NULL },
		{ &mairie, &person,
		  "{\"foyer\":{\"enfants\":2},\"adresse\":{\"cp\":\"29000\"},"
		  "\"name\":\"Anne\"}",
		  "{\"children\":2}", NULL },
		/* wrong types name attribute and path, never the value */
		{ &mairie, &address, "{\"adresse\":{\"cp\":29000}}", NULL,
		  "attribute postal_code (path adresse.cp) is not a string" },
		{ &mairie, &person, "{\"foyer\":{\"enfants\":2.5}}", NULL,
		  "attribute children (path foyer.enfants) is not an integer" },
		/* no map: attributes under their own names */
		{ &unmapped, &person,
		  "{\"name\":\"Anne\",\"children\":2,\"income\":1234.5,"
		  "\"verified\":false,\"birthdate\":\"1990-02-28\",\"x\":1}",
		  "{\"birthdate\":\"1990-02-28\",\"children\":2,\"income\":1234.5,"
		  "\"name\":\"Anne\",\"verified\":false}", NULL },
		{ NULL, &address, "{\"city\":\"Brest\",\"adresse\":{}}",
		  "{\"city\":\"Brest\"}", NULL },
		{ NULL, &person, "{\"birthdate\":\"2023-02-30\"}", NULL,
		  "attribute birthdate (path birthdate) is not a date "
		  "(YYYY-MM-DD)" },
		{ NULL, &person, "{\"verified\":\"yes\"}", NULL,
		  "attribute verified (path verified) is not a boolean" },
		{ NULL, &person, "{\"income\":\"1000\"}", NULL,
		  "attribute income (path income) is not a number" },
	};

	run_cases(cases, sizeof(cases) / sizeof(cases[0]), to_dataset);
}

static void
test_from_dataset(void)
{
	static const struct case_ cases[] = {
		/* dotted paths build nested objects */
		{ &mairie, &address,
		  "{\"street\":\"1 rue de la Paix\",\"postal_code\":\"29000\","
		  "\"city\":\"Quimper\",\"country\":\"FR\"}",
		  "{\"adresse\":{\"commune\":\"Quimper\",\"cp\":\"29000\","
		  "\"pays\":\"FR\",\"voie\":\"1 rue de la Paix\"}}", NULL },
		/* absent, null and unknown attributes are left out */
		{ &mairie, &address,
		  "{\"postal_code\":\"29000\",\"city\":null,\"children\":3}",
		  "{\"adresse\":{\"cp\":\"29000\"}}", NULL },
		{ &mairie, &address, "{}", "{}", NULL },
		{ &mairie, &person, "{\"children\":3,\"name\":\"Anne\"}",
		  "{\"foyer\":{\"enfants\":3}}", NULL },
		{ &mairie, &address, "{\"postal_code\":29000}", NULL,
		  "attribute postal_code (path adresse.cp) is not a string" },
		/* no map: own names */
		{ &unmapped, &person,
		  "{\"name\":\"Anne\",\"birthdate\":\"2000-02-29\"}",
		  "{\"birthdate\":\"2000-02-29\",\"name\":\"Anne\"}", NULL },
		{ NULL, &person, "{\"birthdate\":\"1900-02-29\"}", NULL,
		  "attribute birthdate (path birthdate) is not a date "
		  "(YYYY-MM-DD)" },
	};

	run_cases(cases, sizeof(cases) / sizeof(cases[0]), from_dataset);
}

/* Two entries that claim the same place cannot both be written. */
static void
test_from_dataset_collision(void)
{
	static struct config_mapping map[] = {
		{ &address_attrs[2], "lieu" },
		{ &address_attrs[1], "lieu.cp" },
	};
	static const struct config_connector conn = { .map = map, .nmap = 2 };
	char err[256];
	char *got = from_dataset(&conn, &address,
	    "{\"city\":\"Quimper\",\"postal_code\":\"29000\"}", err,
	    sizeof(err));

	CHECK(got == NULL);
	CHECK_STR(err, "attribute postal_code (path lieu.cp) collides with "
	    "another mapped path");
	free(got);
	got = from_dataset(&conn, &address, "{\"city\":\"Quimper\"}", err,
	    sizeof(err));
	CHECK_STR(got, "{\"lieu\":\"Quimper\"}");
	free(got);
}

struct type_case {
	enum config_attr_type type;
	const char *json;
	int ok;
};

static void
test_type_ok(void)
{
	static const struct type_case cases[] = {
		{ CONFIG_ATTR_STRING, "\"Quimper\"", 1 },
		{ CONFIG_ATTR_STRING, "\"\"", 1 },
		{ CONFIG_ATTR_STRING, "29000", 0 },
		{ CONFIG_ATTR_STRING, "null", 0 },
		{ CONFIG_ATTR_STRING, "{}", 0 },
		{ CONFIG_ATTR_INTEGER, "3", 1 },
		{ CONFIG_ATTR_INTEGER, "-3", 1 },
		{ CONFIG_ATTR_INTEGER, "3.5", 0 },
		{ CONFIG_ATTR_INTEGER, "3.0", 0 },
		{ CONFIG_ATTR_INTEGER, "\"3\"", 0 },
		{ CONFIG_ATTR_INTEGER, "true", 0 },
		{ CONFIG_ATTR_NUMBER, "3", 1 },
		{ CONFIG_ATTR_NUMBER, "3.5", 1 },
		{ CONFIG_ATTR_NUMBER, "\"3.5\"", 0 },
		{ CONFIG_ATTR_NUMBER, "false", 0 },
		{ CONFIG_ATTR_BOOLEAN, "true", 1 },
		{ CONFIG_ATTR_BOOLEAN, "false", 1 },
		{ CONFIG_ATTR_BOOLEAN, "0", 0 },
		{ CONFIG_ATTR_BOOLEAN, "\"true\"", 0 },
		{ CONFIG_ATTR_DATE, "\"2024-02-29\"", 1 },
		{ CONFIG_ATTR_DATE, "\"1999-12-31\"", 1 },
		{ CONFIG_ATTR_DATE, "\"2023-02-29\"", 0 },
		{ CONFIG_ATTR_DATE, "\"2023-02-30\"", 0 },
		{ CONFIG_ATTR_DATE, "\"2023-04-31\"", 0 },
		{ CONFIG_ATTR_DATE, "\"2023-13-01\"", 0 },
		{ CONFIG_ATTR_DATE, "\"2023-00-10\"", 0 },
		{ CONFIG_ATTR_DATE, "\"2023-1-01\"", 0 },
		{ CONFIG_ATTR_DATE, "\"2023-01-01T00:00:00Z\"", 0 },
		{ CONFIG_ATTR_DATE, "\"2023-01-01 \"", 0 },
		{ CONFIG_ATTR_DATE, "\"2023-01-01\\u0000\"", 0 },
		{ CONFIG_ATTR_DATE, "\"01/02/2023\"", 0 },
		{ CONFIG_ATTR_DATE, "20230101", 0 },
		{ CONFIG_ATTR_DATE, "\"\"", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = json_loads(cases[i].json,
		    JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

		CHECK(v != NULL);
		if (mapping_type_ok(cases[i].type, v) != cases[i].ok)
			fprintf(stderr, "  type %d, value %s\n", cases[i].type,
			    cases[i].json);
		CHECK_INT(mapping_type_ok(cases[i].type, v), cases[i].ok);
		json_decref(v);
	}
}

int
main(void)
{
	UNIT_RUN(test_to_dataset);
	UNIT_RUN(test_from_dataset);
	UNIT_RUN(test_from_dataset_collision);
	UNIT_RUN(test_type_ok);
	return UNIT_END();
}
