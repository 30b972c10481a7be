/* test_mapping.c — service JSON <-> dataset attributes: dotted paths, absent
 * and null fields, type checks, the reverse direction, no map, and a table
 * of cases for every transform (bad dates and missing fields included). */
#include <jansson.h>
#include <stdlib.h>

#include "jcs.h"
#include "jsonutil.h"
#include "mapping.h"
#include "unit.h"

static struct config_attribute address_attrs[] = {
	{ "street", CONFIG_ATTR_STRING },
	{ "postal_code", CONFIG_ATTR_STRING },
	{ "city", CONFIG_ATTR_STRING },
	{ "country", CONFIG_ATTR_STRING },
};
static struct config_dataset address = {
	.name = "address", .attributes = address_attrs, .nattributes = 4,
};

static struct config_attribute person_attrs[] = {
	{ "name", CONFIG_ATTR_STRING },
	{ "children", CONFIG_ATTR_INTEGER },
	{ "income", CONFIG_ATTR_NUMBER },
	{ "verified", CONFIG_ATTR_BOOLEAN },
	{ "birthdate", CONFIG_ATTR_DATE },
};
static struct config_dataset person = {
	.name = "person", .attributes = person_attrs, .nattributes = 5,
};

/* One service's map, covering two datasets (address and person). */
static struct config_mapping mairie_map[] = {
	{ &address_attrs[0], "adresse.voie", NULL, 0 },
	{ &address_attrs[1], "adresse.cp", NULL, 0 },
	{ &address_attrs[2], "adresse.commune", NULL, 0 },
	{ &address_attrs[3], "adresse.pays", NULL, 0 },
	{ &person_attrs[1], "foyer.enfants", NULL, 0 },
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
		text = jcs_dump(out);
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
		text = jcs_dump(out);
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
		{ &address_attrs[2], "lieu", NULL, 0 },
		{ &address_attrs[1], "lieu.cp", NULL, 0 },
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

/* ---- transforms ------------------------------------------------------------ */

static struct config_attribute civil_attrs[] = {
	{ "family", CONFIG_ATTR_STRING },
	{ "given", CONFIG_ATTR_STRING },
	{ "full", CONFIG_ATTR_STRING },
	{ "last", CONFIG_ATTR_STRING },
	{ "birth", CONFIG_ATTR_DATE },
	{ "country", CONFIG_ATTR_STRING },
	{ "children", CONFIG_ATTR_INTEGER },
	{ "city", CONFIG_ATTR_STRING },
};
static struct config_dataset civil = {
	.name = "civil", .attributes = civil_attrs, .nattributes = 8,
};

static char *full_parts[] = { "prenom", "etat.nom", "rang" };
static struct config_transform t_trim_upper[] = {
	{ .kind = CONFIG_TRANSFORM_TRIM }, { .kind = CONFIG_TRANSFORM_UPPER },
};
static struct config_transform t_lower[] = {
	{ .kind = CONFIG_TRANSFORM_LOWER },
};
static struct config_transform t_date[] = {
	{ .kind = CONFIG_TRANSFORM_DATE, .from = "DD/MM/YYYY",
	  .to = "YYYY-MM-DD" },
};
static struct config_transform t_concat[] = {
	{ .kind = CONFIG_TRANSFORM_CONCAT, .paths = full_parts, .npaths = 3,
	  .sep = " " },
};
static struct config_transform t_split_last[] = {
	{ .kind = CONFIG_TRANSFORM_SPLIT, .sep = " ", .index = -1 },
};
static struct config_transform t_constant[] = {
	{ .kind = CONFIG_TRANSFORM_CONSTANT, .value = "FR" },
};
static struct config_transform t_default[] = {
	{ .kind = CONFIG_TRANSFORM_DEFAULT, .value = "0" },
};
/* The town of "12 rue Kéréon, Quimper", or "Inconnue". */
static struct config_transform t_city[] = {
	{ .kind = CONFIG_TRANSFORM_SPLIT, .sep = ",", .index = 1 },
	{ .kind = CONFIG_TRANSFORM_TRIM },
	{ .kind = CONFIG_TRANSFORM_DEFAULT, .value = "Inconnue" },
};

#define ENTRY(attr, path, t) \
	{ &civil_attrs[attr], path, t, sizeof(t) / sizeof(t[0]) }
static struct config_mapping m_family[] = { ENTRY(0, "etat.nom", t_trim_upper) };
static struct config_mapping m_given[] = { ENTRY(1, "prenom", t_lower) };
static struct config_mapping m_full[] = { ENTRY(2, NULL, t_concat) };
static struct config_mapping m_last[] = { ENTRY(3, "noms", t_split_last) };
static struct config_mapping m_birth[] = { ENTRY(4, "naissance", t_date) };
static struct config_mapping m_country[] = { ENTRY(5, NULL, t_constant) };
static struct config_mapping m_children[] = { ENTRY(6, "enfants", t_default) };
static struct config_mapping m_city[] = { ENTRY(7, "adresse", t_city) };
#define CONN(m) { .type = "http", .map = m, .nmap = 1 }
static const struct config_connector c_family = CONN(m_family);
static const struct config_connector c_given = CONN(m_given);
static const struct config_connector c_full = CONN(m_full);
static const struct config_connector c_last = CONN(m_last);
static const struct config_connector c_birth = CONN(m_birth);
static const struct config_connector c_country = CONN(m_country);
static const struct config_connector c_children = CONN(m_children);
static const struct config_connector c_city = CONN(m_city);

static void
test_transforms_to_dataset(void)
{
	static const struct case_ cases[] = {
		/* trim then upper, Latin-1 letters included */
		{ &c_family, &civil, "{\"etat\":{\"nom\":\"  le goff-kéréon\\t\"}}",
		  "{\"family\":\"LE GOFF-KÉRÉON\"}", NULL },
		{ &c_family, &civil, "{\"etat\":{}}", "{}", NULL },
		{ &c_family, &civil, "{\"etat\":{\"nom\":42}}", NULL,
		  "attribute family (path etat.nom) is not a string, which a "
		  "text transform needs" },
		{ &c_given, &civil, "{\"prenom\":\"MAËLLE Anne\"}",
		  "{\"given\":\"maëlle anne\"}", NULL },
		/* dates: one-digit days and months, real days only */
		{ &c_birth, &civil, "{\"naissance\":\"12/03/1984\"}",
		  "{\"birth\":\"1984-03-12\"}", NULL },
		{ &c_birth, &civil, "{\"naissance\":\"1/3/1984\"}",
		  "{\"birth\":\"1984-03-01\"}", NULL },
		{ &c_birth, &civil, "{\"naissance\":\"29/02/2024\"}",
		  "{\"birth\":\"2024-02-29\"}", NULL },
		{ &c_birth, &civil, "{\"naissance\":\"29/02/2023\"}", NULL,
		  "attribute birth (path naissance) is not a date written "
		  "DD/MM/YYYY" },
		{ &c_birth, &civil, "{\"naissance\":\"1984-03-12\"}", NULL,
		  "attribute birth (path naissance) is not a date written "
		  "DD/MM/YYYY" },
		{ &c_birth, &civil, "{\"naissance\":\"12/03/84\"}", NULL,
		  "attribute birth (path naissance) is not a date written "
		  "DD/MM/YYYY" },
		{ &c_birth, &civil, "{\"naissance\":\"12/13/1984\"}", NULL,
		  "attribute birth (path naissance) is not a date written "
		  "DD/MM/YYYY" },
		{ &c_birth, &civil, "{\"naissance\":\"12/03/1984 \"}", NULL,
		  "attribute birth (path naissance) is not a date written "
		  "DD/MM/YYYY" },
		{ &c_birth, &civil, "{\"naissance\":19840312}", NULL,
		  "attribute birth (path naissance) is not a string, which a "
		  "date conversion needs" },
		{ &c_birth, &civil, "{}", "{}", NULL },
		/* concat: present parts only, numbers as text */
		{ &c_full, &civil, "{\"prenom\":\"Yann\",\"etat\":{\"nom\":"
		  "\"Prigent\"},\"rang\":2}",
		  "{\"full\":\"Yann Prigent 2\"}", NULL },
		{ &c_full, &civil, "{\"etat\":{\"nom\":\"Prigent\"}}",
		  "{\"full\":\"Prigent\"}", NULL },
		{ &c_full, &civil, "{}", "{}", NULL },
		{ &c_full, &civil, "{\"prenom\":[\"Yann\"]}", NULL,
		  "attribute full (path computed) cannot concatenate prenom, an "
		  "object or a list" },
		/* split: -1 is the last part */
		{ &c_last, &civil, "{\"noms\":\"Le Goff Riou\"}",
		  "{\"last\":\"Riou\"}", NULL },
		{ &c_last, &civil, "{\"noms\":\"Riou\"}",
		  "{\"last\":\"Riou\"}", NULL },
		{ &c_city, &civil, "{\"adresse\":\"12 rue Kéréon,  Quimper \"}",
		  "{\"city\":\"Quimper\"}", NULL },
		/* a part that is not there, then the default */
		{ &c_city, &civil, "{\"adresse\":\"12 rue Kéréon\"}",
		  "{\"city\":\"Inconnue\"}", NULL },
		{ &c_city, &civil, "{}", "{\"city\":\"Inconnue\"}", NULL },
		/* constant whatever the service says; default typed */
		{ &c_country, &civil, "{\"pays\":\"BE\"}",
		  "{\"country\":\"FR\"}", NULL },
		{ &c_children, &civil, "{}", "{\"children\":0}", NULL },
		{ &c_children, &civil, "{\"enfants\":null}", "{\"children\":0}",
		  NULL },
		{ &c_children, &civil, "{\"enfants\":3}", "{\"children\":3}",
		  NULL },
		{ &c_children, &civil, "{\"enfants\":\"3\"}", NULL,
		  "attribute children (path enfants) is not an integer" },
	};

	run_cases(cases, sizeof(cases) / sizeof(cases[0]), to_dataset);
}

static void
test_transforms_from_dataset(void)
{
	static const struct case_ cases[] = {
		/* undone from the last: upper, then trim */
		{ &c_family, &civil, "{\"family\":\" Le Goff \"}",
		  "{\"etat\":{\"nom\":\"LE GOFF\"}}", NULL },
		{ &c_birth, &civil, "{\"birth\":\"1984-03-01\"}",
		  "{\"naissance\":\"01/03/1984\"}", NULL },
		{ &c_birth, &civil, "{\"birth\":\"1984-3-01\"}", NULL,
		  "attribute birth (path naissance) is not a date (YYYY-MM-DD)" },
		{ &c_children, &civil, "{\"children\":2}", "{\"enfants\":2}",
		  NULL },
		{ &c_children, &civil, "{}", "{}", NULL },
		/* concat, split and constant cannot be written back */
		{ &c_full, &civil, "{\"full\":\"Yann Prigent\"}", "{}", NULL },
		{ &c_last, &civil, "{\"last\":\"Riou\"}", "{}", NULL },
		{ &c_city, &civil, "{\"city\":\"Quimper\"}", "{}", NULL },
		{ &c_country, &civil, "{\"country\":\"FR\"}", "{}", NULL },
	};

	run_cases(cases, sizeof(cases) / sizeof(cases[0]), from_dataset);
}

/* What a push may carry: fields the map reads, concat parts included. */
static void
test_reads(void)
{
	CHECK_INT(mapping_reads(&c_family, &civil, "etat.nom"), 1);
	CHECK_INT(mapping_reads(&c_full, &civil, "prenom"), 1);
	CHECK_INT(mapping_reads(&c_full, &civil, "etat.nom"), 1);
	CHECK_INT(mapping_reads(&c_full, &civil, "rang"), 1);
	CHECK_INT(mapping_reads(&c_full, &civil, "etat"), 0);
	CHECK_INT(mapping_reads(&c_last, &civil, "noms"), 1);
	CHECK_INT(mapping_reads(&c_last, &civil, "surnom"), 0);
	CHECK_INT(mapping_reads(&c_country, &civil, "pays"), 0);
	/* Without a map, attributes are fields under their own names. */
	CHECK_INT(mapping_reads(NULL, &civil, "city"), 1);
	CHECK_INT(mapping_reads(NULL, &civil, "ville"), 0);
}

static void
test_scalars_and_formats(void)
{
	static const struct { enum config_attr_type t; const char *text, *json; }
	    cases[] = {
		{ CONFIG_ATTR_STRING, "FR", "\"FR\"" },
		{ CONFIG_ATTR_INTEGER, "0", "0" },
		{ CONFIG_ATTR_INTEGER, "-12", "-12" },
		{ CONFIG_ATTR_INTEGER, "1.5", NULL },
		{ CONFIG_ATTR_INTEGER, "two", NULL },
		{ CONFIG_ATTR_NUMBER, "1.5", "1.5" },
		{ CONFIG_ATTR_NUMBER, "7", "7" },
		{ CONFIG_ATTR_NUMBER, "nan", NULL },
		{ CONFIG_ATTR_BOOLEAN, "true", "true" },
		{ CONFIG_ATTR_BOOLEAN, "yes", NULL },
		{ CONFIG_ATTR_DATE, "1970-01-01", "\"1970-01-01\"" },
		{ CONFIG_ATTR_DATE, "01/01/1970", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = mapping_scalar(cases[i].t, cases[i].text);
		char *text = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;

		if (cases[i].json == NULL)
			CHECK(v == NULL);
		else
			CHECK_STR(text, cases[i].json);
		free(text);
		json_decref(v);
	}
	CHECK_INT(mapping_date_format_ok("DD/MM/YYYY"), 1);
	CHECK_INT(mapping_date_format_ok("YYYYMMDD"), 1);
	CHECK_INT(mapping_date_format_ok("MM-DD-YYYY"), 1);
	CHECK_INT(mapping_date_format_ok("DD/MM/YY"), 0);
	CHECK_INT(mapping_date_format_ok("DD/MM"), 0);
	CHECK_INT(mapping_date_format_ok("DD/DD/MM/YYYY"), 0);
	CHECK_INT(mapping_date_format_ok("D/M/YYYY"), 0);
}

int
main(void)
{
	UNIT_RUN(test_to_dataset);
	UNIT_RUN(test_from_dataset);
	UNIT_RUN(test_from_dataset_collision);
	UNIT_RUN(test_type_ok);
	UNIT_RUN(test_transforms_to_dataset);
	UNIT_RUN(test_transforms_from_dataset);
	UNIT_RUN(test_reads);
	UNIT_RUN(test_scalars_and_formats);
	return UNIT_END();
}
