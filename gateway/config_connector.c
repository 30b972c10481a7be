/* config_connector.c — a service's `connector:` block.
 *
 * The block's key table is built from the connector's own (ops->keys, see
 * connectors/connector.h) behind the core's keys: `type`, a plugin's
 * `path`, and mapping's `map` and `poll` (mapping_config.c). The values go
 * into the ops->settings_size bytes the connector reads; config_model.c
 * frees them by the same key list. */
#include "config_connector.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping_config.h"
#include "plugin.h"
#include "registry.h"

static const char *const config_methods[] = { "GET", "POST", "PUT", "PATCH",
	"DELETE" };

static void
config_field_method(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);
	char upper[8];
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; s[i] != '\0' && i < sizeof(upper) - 1; i++)
		upper[i] = (char)toupper((unsigned char)s[i]);
	upper[i] = '\0';
	/* s[i] is not NUL when s was too long to be a method. */
	for (size_t m = 0; s[i] == '\0' && m < CONFIG_NITEMS(config_methods);
	    m++) {
		if (strcmp(upper, config_methods[m]) == 0) {
			*(char **)dst = config_strdup(ld, upper);
			return;
		}
	}
	config_error(ld, v, "%s: expected GET, POST, PUT, PATCH or DELETE", path);
}

static void
config_field_url_path(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);

	if (s == NULL)
		return;
	if (s[0] != '/')
		config_error(ld, v, "%s: must start with /", path);
	else
		*(char **)dst = config_strdup(ld, s);
}

static const struct config_field config_endpoint_fields[] = {
	{ .key = "method", .parse = config_field_method, .required = 1,
	  .offset = offsetof(struct connector_endpoint, method),
	  .doc = "GET, POST, PUT, PATCH or DELETE" },
	{ .key = "path", .parse = config_field_url_path, .required = 1,
	  .offset = offsetof(struct connector_endpoint, path),
	  .doc = "path template starting with /, e.g. /citizens/{local_id}" },
	{ .key = NULL },
};

static void
config_field_endpoint(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	config_table_apply(ld, path, config_endpoint_fields, v, dst);
}

static void
config_field_strmap(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	struct connector_strmap *m = dst;

	if (config_expect(ld, path, v, YAMLTREE_MAPPING) == -1)
		return;
	m->keys = config_calloc(ld, v->n / 2, sizeof(*m->keys));
	m->values = config_calloc(ld, v->n / 2, sizeof(*m->values));
	if (m->keys == NULL || m->values == NULL)
		return;
	for (size_t i = 0; i < v->n; i += 2) {
		char kpath[CONFIG_PATH_MAX];
		const char *value;

		config_key_path(kpath, sizeof(kpath), path, v->items[i]->value);
		if ((value = config_scalar(ld, kpath, v->items[i + 1])) == NULL)
			continue;
		m->keys[m->n] = config_strdup(ld, v->items[i]->value);
		m->values[m->n] = config_strdup(ld, value);
		if (m->keys[m->n] != NULL && m->values[m->n] != NULL)
			m->n++;
		else {
			free(m->keys[m->n]);
			free(m->values[m->n]);
		}
	}
}

static void
config_field_strlist(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	struct connector_strlist *l = dst;

	if (config_expect(ld, path, v, YAMLTREE_SEQUENCE) == -1)
		return;
	if ((l->items = config_calloc(ld, v->n, sizeof(*l->items))) == NULL)
		return;
	for (size_t i = 0; i < v->n; i++) {
		const char *value = config_scalar(ld, path, v->items[i]);

		if (value != NULL &&
		    (l->items[l->n] = config_strdup(ld, value)) != NULL)
			l->n++;
	}
}

/* A connector's secret or certificate setting: a plain char *, wiped by
 * config_free. */
static void
config_field_secret_string(struct config_loader *ld,
    const struct config_field *f, const char *path, const struct yamltree *v,
    void *dst)
{
	struct secret s = { NULL, 0 };

	config_field_secret(ld, f, path, v, &s);
	*(char **)dst = (char *)s.data;
}

/* Already read by config_field_connector; listed so it is a known key. */
static void
config_field_skip(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
}

static config_field_fn *const config_connector_parsers[] = {
	[CONNECTOR_KEY_STRING] = config_field_string,
	[CONNECTOR_KEY_SECRET] = config_field_secret_string,
	[CONNECTOR_KEY_INT] = config_field_int64,
	[CONNECTOR_KEY_BOOL] = config_field_bool,
	[CONNECTOR_KEY_DURATION] = config_field_duration,
	[CONNECTOR_KEY_ENDPOINT] = config_field_endpoint,
	[CONNECTOR_KEY_STRMAP] = config_field_strmap,
	[CONNECTOR_KEY_PATH] = config_field_path,
	[CONNECTOR_KEY_LIST] = config_field_strlist,
	[CONNECTOR_KEY_CERT] = config_field_secret_string,
};

/* The connector's keys as a field table, after the core's own `type`, `map`,
 * `poll` (and a plugin's `path`), so one table_apply() handles unknown keys and
 * defaults. Caller frees; NULL when out of memory. */
static struct config_field *
config_connector_table(struct config_loader *ld,
    const struct connector_ops *ops, int plugin)
{
	struct config_field *table;
	size_t n = 0, core = plugin ? 4 : 3;

	while (ops->keys[n].name != NULL)
		n++;
	if ((table = config_calloc(ld, n + core + 1, sizeof(*table))) == NULL)
		return NULL;
	table[0].key = "type";
	table[0].parse = config_field_skip;
	table[1].key = "map";
	table[1].parse = mapping_field_map;
	table[2].key = "poll";
	table[2].parse = mapping_field_poll;
	if (plugin) {
		table[3].key = "path";
		table[3].parse = config_field_skip;
	}
	for (size_t i = 0; i < n; i++) {
		const struct connector_key *k = &ops->keys[i];
		struct config_field *f = &table[core + i];

		f->key = k->name;
		f->parse = config_connector_parsers[k->type];
		f->required = k->required;
		f->def = k->default_value;
		f->offset = k->offset;
		/* The file-mode rule (secret_mode_check) tells keys from
		 * certificates by SECRET_PRIVATE. */
		f->aux = k->type == CONNECTOR_KEY_CERT ? 0 :
		    SECRET_PRIVATE | SECRET_TRIM;
		f->doc = k->doc;
	}
	return table;
}

/* "unknown connector type", naming every type (plugin too) and the
 * nearest one. */
static void
config_unknown_type(struct config_loader *ld, const char *path,
    const struct yamltree *at, const char *type)
{
	const struct connector_ops *const *all = registry_all();
	char known[256], mean[CONFIG_PATH_MAX];
	struct suggest near;
	size_t used = 0;

	suggest_init(&near, type);
	known[0] = '\0';
	for (size_t i = 0; all[i] != NULL && used < sizeof(known); i++) {
		suggest_try(&near, all[i]->name);
		used += (size_t)snprintf(known + used, sizeof(known) - used,
		    "%s, ", all[i]->name);
	}
	suggest_try(&near, "plugin");
	config_error(ld, at, "%s: unknown connector type '%s' (known: "
	    "%splugin)%s", path, type, known, config_did_you_mean(&near, mean,
	    sizeof(mean)));
}

/* `type: plugin`: the ops come from the shared object named by `path`,
 * relative to the file that names it. */
static const struct connector_ops *
config_plugin_ops(struct config_loader *ld, const char *path,
    const struct yamltree *block)
{
	const struct yamltree *pv = yamltree_get(block, "path");
	const struct connector_ops *ops;
	char ppath[CONFIG_PATH_MAX], err[512], *file;
	const char *rel;

	config_key_path(ppath, sizeof(ppath), path, "path");
	if (pv == NULL) {
		config_error(ld, block, "%s: a plugin needs 'path', the shared "
		    "object to load", path);
		return NULL;
	}
	if ((rel = config_scalar(ld, ppath, pv)) == NULL)
		return NULL;
	if ((file = config_resolve_path(ld, pv, rel)) == NULL)
		return NULL;
	if ((ops = plugin_load(file, err, sizeof(err))) == NULL)
		config_error(ld, pv, "%s: %s: %s", ppath, file, err);
	free(file);
	return ops;
}

static const struct connector_ops *
config_connector_ops(struct config_loader *ld, const char *path,
    const struct yamltree *block)
{
	const struct yamltree *tv = yamltree_get(block, "type");
	const struct connector_ops *ops;
	char tpath[CONFIG_PATH_MAX];
	const char *type;

	config_key_path(tpath, sizeof(tpath), path, "type");
	if (tv == NULL) {
		config_error(ld, block, "%s: missing required key 'type'", path);
		return NULL;
	}
	if ((type = config_scalar(ld, tpath, tv)) == NULL)
		return NULL;
	if (strcmp(type, "plugin") == 0)
		return config_plugin_ops(ld, path, block);
	if ((ops = registry_find(type)) == NULL)
		config_unknown_type(ld, tpath, tv, type);
	return ops;
}

void
config_field_connector(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const struct connector_ops *ops;
	struct config_connector *c;
	struct config_field *table;
	size_t before = ld->errs->n;
	int plugin;
	char err[512];

	if (config_expect(ld, path, v, YAMLTREE_MAPPING) == -1 ||
	    (ops = config_connector_ops(ld, path, v)) == NULL ||
	    (c = config_calloc(ld, 1, sizeof(*c))) == NULL)
		return;
	/* Owned by the service from here on: config_free frees it. */
	*(struct config_connector **)dst = c;
	c->ops = ops;
	c->line = v->line;
	c->col = v->col;
	plugin = registry_find(ops->name) != ops;
	if ((c->type = config_strdup(ld, plugin ? "plugin" : ops->name)) ==
	    NULL || (c->settings = config_calloc(ld, 1,
	    ops->settings_size)) == NULL ||
	    (table = config_connector_table(ld, ops, plugin)) == NULL)
		return;
	ld->connector = c;
	config_table_apply(ld, path, table, v, c->settings);
	free(table);
	ld->connector = NULL;
	/* A connector validates complete settings only. */
	if (ld->errs->n == before && !ld->errs->nomem && ops->validate != NULL &&
	    ops->validate(c->settings, err, sizeof(err)) == -1)
		config_error(ld, v, "%s: %s", path, err);
}
