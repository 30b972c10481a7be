/* test_map_config.c — `map:` entries with transforms read from YAML: the
 * structs they become, then a loaded map applied to a record, then every
 * mistake a config can make, each an error at its line and column. */
#include "connector_harness.h"
#include "mapping.h"
#include "unit.h"

static char dir[TMPDIR_PATH_LEN];

static const char head[] =
    "  town:\n"
    "    name: Town\n"
    "    auth: {api_key: env:H_TOWN_KEY}\n"
    "    connector:\n"
    "      type: http\n"
    "      base_url: http://127.0.0.1:9\n"
    "      map:\n";

static struct config *
load_map(const char *map, struct config_errors *errs, char *block, size_t len)
{
	snprintf(block, len, "%s%s", head, map);
	return harness_load(dir, block, errs);
}

static const char good_map[] =
    "        street: adresse.voie\n"
    "        name: {path: etat.nom, transform: [trim, upper]}\n"
    "        birthdate:\n"
    "          path: naissance\n"
    "          transform: [{date: {from: DD/MM/YYYY}}]\n"
    "        city:\n"
    "          transform:\n"
    "            - concat: {paths: [cp, ville], sep: ' '}\n"
    "        country: {transform: [{constant: FR}]}\n"
    "        children: {path: enfants, transform: [{default: 0}]}\n"
    "        postal_code: {path: cp, transform: [{split: {sep: '-', index: -1}}]}\n";

static void
test_structs(void)
{
	struct config_errors errs = { 0 };
	const struct config_connector *c;
	struct config *cfg;
	char block[2048];

	cfg = load_map(good_map, &errs, block, sizeof(block));
	CHECK(cfg != NULL);
	if (cfg == NULL) {
		config_errors_print(&errs, stderr);
		config_errors_free(&errs);
		return;
	}
	c = config_find_service(cfg, "town")->connector;
	CHECK_INT(c->nmap, 7);
	CHECK_STR(c->map[0].path, "adresse.voie");
	CHECK_INT(c->map[0].ntransforms, 0);
	CHECK_INT(c->map[1].ntransforms, 2);
	CHECK_INT(c->map[1].transforms[0].kind, CONFIG_TRANSFORM_TRIM);
	CHECK_INT(c->map[1].transforms[1].kind, CONFIG_TRANSFORM_UPPER);
	CHECK_INT(c->map[2].transforms[0].kind, CONFIG_TRANSFORM_DATE);
	CHECK_STR(c->map[2].transforms[0].from, "DD/MM/YYYY");
	CHECK_STR(c->map[2].transforms[0].to, "YYYY-MM-DD");
	CHECK(c->map[3].path == NULL);
	CHECK_INT(c->map[3].transforms[0].npaths, 2);
	CHECK_STR(c->map[3].transforms[0].paths[1], "ville");
	CHECK_STR(c->map[3].transforms[0].sep, " ");
	CHECK_STR(c->map[4].transforms[0].value, "FR");
	CHECK_STR(c->map[5].transforms[0].value, "0");
	CHECK_INT(c->map[6].transforms[0].index, -1);
	config_free(cfg);
}

/* The loaded map on a record, both ways. */
static void
test_applied(void)
{
	struct config_errors errs = { 0 };
	const struct config_connector *c;
	const struct config_dataset *ds;
	json_t *raw, *out = NULL;
	struct config *cfg;
	char block[2048], err[256], *text;

	cfg = load_map(good_map, &errs, block, sizeof(block));
	if (cfg == NULL) {
		CHECK(!"config refused");
		config_errors_free(&errs);
		return;
	}
	c = config_find_service(cfg, "town")->connector;
	ds = config_find_dataset(cfg, "address");
	raw = json_loads("{\"cp\": \"FR-29000\", \"ville\": \"Quimper\", "
	    "\"adresse\": {\"voie\": \"1 rue Kéréon\"}}", 0, NULL);
	CHECK_INT(mapping_to_dataset(c, ds, raw, &out, err, sizeof(err)), 0);
	text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK_STR(text, "{\"city\":\"FR-29000 Quimper\",\"country\":\"FR\","
	    "\"postal_code\":\"29000\",\"street\":\"1 rue Kéréon\"}");
	free(text);
	json_decref(out);
	json_decref(raw);
	ds = config_find_dataset(cfg, "person");
	raw = json_loads("{\"etat\": {\"nom\": \" riou \"}, \"naissance\": "
	    "\"31/12/1999\"}", 0, NULL);
	CHECK_INT(mapping_to_dataset(c, ds, raw, &out, err, sizeof(err)), 0);
	text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK_STR(text, "{\"birthdate\":\"1999-12-31\",\"children\":0,"
	    "\"name\":\"RIOU\"}");
	free(text);
	json_decref(raw);
	CHECK_INT(mapping_from_dataset(c, ds, out, &raw, err, sizeof(err)), 0);
	text = json_dumps(raw, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK_STR(text, "{\"enfants\":0,\"etat\":{\"nom\":\"RIOU\"},"
	    "\"naissance\":\"31/12/1999\"}");
	free(text);
	json_decref(raw);
	json_decref(out);
	config_free(cfg);
}

/* `map` (the lines under map:) is refused with msg at the first `at`. */
static void
check_refused(const char *map, const char *at, const char *msg)
{
	int col = harness_col_of(map, at);
	struct config_errors errs = { 0 };
	struct config *cfg;
	char block[2048];

	cfg = load_map(map, &errs, block, sizeof(block));
	CHECK(cfg == NULL);
	if (!harness_has_error(&errs, harness_line_of(block, at), col, msg))
		fprintf(stderr, "  expected at '%s': %s\n", at, msg);
	CHECK(harness_has_error(&errs, harness_line_of(block, at), col, msg));
	config_free(cfg);
	config_errors_free(&errs);
}

static void
test_mistakes(void)
{
	check_refused("        name: {path: nom, transform: [capitalise]}\n",
	    "capitalise", "services.town.connector.map.name.transform[0]: "
	    "expected trim, upper, lower, or one of");
	check_refused("        name: {path: nom, transform: [{trim: yes}]}\n",
	    "{trim", "transform[0]: expected trim, upper, lower");
	check_refused("        birthdate: {path: n, transform: "
	    "[{date: {from: DD/MM/YY}}]}\n", "DD/MM/YY}",
	    "map.birthdate.transform[0].date.from: expected a date format with "
	    "YYYY, MM and DD once each");
	check_refused("        birthdate: {path: n, transform: "
	    "[{date: {from: DD/MM/YYYY, format: x}}]}\n", "format",
	    "transform[0].date.format: unknown key (expected one of: from, to)");
	check_refused("        children: {path: n, transform: [{default: two}]}\n",
	    "two", "map.children.transform[0].default: 'two' is not a "
	    "valid integer value for attribute children");
	check_refused("        birthdate: {path: n, transform: "
	    "[{constant: 12/03/1984}]}\n", "12/03",
	    "'12/03/1984' is not a valid date value for attribute birthdate");
	check_refused("        name: {transform: [trim]}\n", "{transform",
	    "map.name: needs a path, unless a concat or a constant transform "
	    "makes the value");
	check_refused("        name: {path: nom, transform: "
	    "[{split: {index: 1}}]}\n", "{index",
	    "transform[0].split: missing required key 'sep'");
	check_refused("        name: {transform: [{concat: {paths: []}}]}\n",
	    "[]}", "concat.paths: list at least one path");
	check_refused("        name: {path: 'a..b'}\n", "'a..b'",
	    "map.name.path: expected a dotted path such as adresse.cp");
	check_refused("        name: {path: nom, transforms: [trim]}\n",
	    "transforms", "map.name.transforms: unknown key (expected one "
	    "of: path, transform)");
}

int
main(void)
{
	harness_env();
	setenv("H_TOWN_KEY", "town-key", 1);
	tmpdir_make(dir);
	UNIT_RUN(test_structs);
	UNIT_RUN(test_applied);
	UNIT_RUN(test_mistakes);
	tmpdir_remove(dir);
	return UNIT_END();
}
