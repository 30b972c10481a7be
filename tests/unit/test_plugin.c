/* test_plugin.c — `type: plugin`: the example plugin loaded with dlopen
 * from a path relative to the config file, its own keys parsed like a
 * built-in's, and fetch/push/health through its ops; then every way a
 * plugin can be wrong, each a config error at the `path` value. */

#include "connector_harness.h"
#include "plugin.h"
#include "unit.h"

static char dir[TMPDIR_PATH_LEN];
static char build[PATH_MAX], root[PATH_MAX];

static const char example_block[] =
    "  town:\n"
    "    name: Town\n"
    "    auth: {api_key: env:H_TOWN_KEY}\n"
    "    connector:\n"
    "      type: plugin\n"
    "      path: plugins/example.so\n"
    "      label: town-directory\n"
    "      records:\n"
    "        t-1: '{\"nom\": \"Le Goff\", \"enfants\": 2}'\n"
    "      map: {name: nom, children: enfants}\n";

static void
test_example_loads_and_serves(void)
{
	struct config_errors errs = { 0 };
	struct harness_conn hc;
	struct config *cfg = harness_load(dir, example_block, &errs);
	const struct config_service *svc;
	char err[256];

	CHECK(cfg != NULL);
	if (cfg == NULL) {
		config_errors_print(&errs, stderr);
		config_errors_free(&errs);
		return;
	}
	svc = config_find_service(cfg, "town");
	CHECK_STR(svc->connector->type, "plugin");
	CHECK_STR(svc->connector->ops->name, "example");
	CHECK_INT(svc->connector->nmap, 2);
	CHECK_INT(harness_open(&hc, cfg, "town", err, sizeof(err)), 0);
	CHECK_INT(harness_call(&hc, HARNESS_FETCH, "t-1", NULL, NULL),
	    CONNECTOR_OK);
	CHECK_STR(hc.res.body, "{\"nom\": \"Le Goff\", \"enfants\": 2}");
	CHECK_INT(harness_call(&hc, HARNESS_FETCH, "t-2", NULL, NULL),
	    CONNECTOR_NOT_FOUND);
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "t-2", "{\"nom\": \"Prigent\"}",
	    NULL), CONNECTOR_OK);
	CHECK_INT(harness_call(&hc, HARNESS_FETCH, "t-2", NULL, NULL),
	    CONNECTOR_OK);
	CHECK_STR(hc.res.body, "{\"nom\": \"Prigent\"}");
	CHECK_INT(harness_call(&hc, HARNESS_HEALTH, NULL, NULL, NULL),
	    CONNECTOR_OK);
	harness_close(&hc);
	config_free(cfg);
}

/* Loading `block` fails with msg at the line of `at` (column col). */
static void
check_refused(const char *block, const char *at, int col, const char *msg)
{
	struct config_errors errs = { 0 };
	struct config *cfg = harness_load(dir, block, &errs);

	CHECK(cfg == NULL);
	CHECK(harness_has_error(&errs, harness_line_of(block, at), col, msg));
	config_free(cfg);
	config_errors_free(&errs);
}

static void
test_plugin_keys_are_checked(void)
{
	static const char unknown[] =
	    "  town:\n"
	    "    name: Town\n"
	    "    auth: {api_key: env:H_TOWN_KEY}\n"
	    "    connector:\n"
	    "      type: plugin\n"
	    "      path: plugins/example.so\n"
	    "      records: {t-1: '{}'}\n"
	    "      base_url: http://127.0.0.1\n";
	static const char missing[] =
	    "  town:\n"
	    "    name: Town\n"
	    "    auth: {api_key: env:H_TOWN_KEY}\n"
	    "    connector:\n"
	    "      type: plugin\n"
	    "      path: plugins/example.so\n";
	static const char invalid[] =
	    "  town:\n"
	    "    name: Town\n"
	    "    auth: {api_key: env:H_TOWN_KEY}\n"
	    "    connector:\n"
	    "      type: plugin\n"
	    "      path: plugins/example.so\n"
	    "      records: {t-1: 'nom=Le Goff'}\n";

	check_refused(unknown, "base_url", 7,
	    "services.town.connector.base_url: unknown key (expected one of: "
	    "type, map, poll, path, records, label)");
	check_refused(missing, "type:", 7, "missing required key 'records'");
	check_refused(invalid, "type:", 7,
	    "records.t-1: expected a JSON object");
}

static void
test_broken_plugins_are_config_errors(void)
{
	char block[PATH_MAX + 512];

	snprintf(block, sizeof(block),
	    "  town:\n"
	    "    name: Town\n"
	    "    auth: {api_key: env:H_TOWN_KEY}\n"
	    "    connector:\n"
	    "      type: plugin\n"
	    "      path: %s/tests/plugins/wrong_abi.so\n", build);
	check_refused(block, "path:", 13, "it was built for connector ABI "
	    "version 3; this gateway speaks versions 1 to 2");
	snprintf(block, sizeof(block),
	    "  town:\n"
	    "    name: Town\n"
	    "    auth: {api_key: env:H_TOWN_KEY}\n"
	    "    connector: {type: plugin, path: %s/tests/plugins/no_entry.so}\n",
	    build);
	check_refused(block, "connector:", 37,
	    "it does not export tellonce_connector_v1()");
	check_refused(
	    "  town:\n"
	    "    name: Town\n"
	    "    auth: {api_key: env:H_TOWN_KEY}\n"
	    "    connector:\n"
	    "      type: plugin\n"
	    "      path: plugins/missing.so\n", "path:", 13,
	    "plugins/missing.so: cannot load it: ");
	check_refused(
	    "  town:\n"
	    "    name: Town\n"
	    "    auth: {api_key: env:H_TOWN_KEY}\n"
	    "    connector:\n"
	    "      type: plugin\n"
	    "      records: {}\n", "type:", 7,
	    "services.town.connector: a plugin needs 'path'");
}

static int
abi_init(void **instance, const void *settings,
    const struct connector_env *env, char *err, size_t errlen)
{
	return -1;
}

static void
abi_destroy(void *instance)
{
}

/* A version only appends request fields an older plugin does not read, so
 * a plugin built against ABI 1 still loads; 0 and the next one do not. */
static void
test_older_abi_versions_load(void)
{
	static const struct connector_key keys[] = { { NULL, 0, NULL, 0, 0, NULL } };
	struct connector_ops ops = { .name = "old", .keys = keys,
	    .init = abi_init, .destroy = abi_destroy };
	char err[256];

	for (uint32_t v = CONNECTOR_ABI_MIN_VERSION; v <= CONNECTOR_ABI_VERSION; v++) {
		ops.abi_version = v;
		CHECK_INT(plugin_check(&ops, err, sizeof(err)), 0);
	}
	CHECK_INT(CONNECTOR_ABI_MIN_VERSION, 1);
	ops.abi_version = 0;
	CHECK_INT(plugin_check(&ops, err, sizeof(err)), -1);
	CHECK_STR(err, "it was built for connector ABI version 0; this gateway "
	    "speaks versions 1 to 2");
	ops.abi_version = CONNECTOR_ABI_VERSION + 1;
	CHECK_INT(plugin_check(&ops, err, sizeof(err)), -1);
}

int
main(int argc, char **argv)
{
	char link_dir[TMPDIR_PATH_LEN + 16], target[PATH_MAX + 32],
	    link_path[TMPDIR_PATH_LEN + 32];

	(void)argc;
	harness_env();
	setenv("H_TOWN_KEY", "town-key", 1);
	harness_paths(argv[0], build, root);
	tmpdir_make(dir);
	snprintf(link_dir, sizeof(link_dir), "%s/plugins", dir);
	snprintf(target, sizeof(target), "%s/connectors/example.so", build);
	snprintf(link_path, sizeof(link_path), "%s/example.so", link_dir);
	if (mkdir(link_dir, 0755) == -1 || symlink(target, link_path) == -1) {
		perror(link_dir);
		return 2;
	}
	UNIT_RUN(test_example_loads_and_serves);
	UNIT_RUN(test_plugin_keys_are_checked);
	UNIT_RUN(test_broken_plugins_are_config_errors);
	UNIT_RUN(test_older_abi_versions_load);
	tmpdir_remove(dir);
	return UNIT_END();
}
