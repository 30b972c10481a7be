/* mapping_config.c — the keys of a connector block that mapping.c
 * applies: `map:` (each entry a dotted path, or {path, transform}) and
 * `poll:`, as key tables beside the code that uses them. Validation that
 * needs mapping's own rules (date formats, a constant's type) asks
 * mapping.c, so what loads is what mapping can apply. */
#include "mapping_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mapping.h"

static int
mapping_json_path_ok(const char *s)
{
	int segment = 0;

	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (segment == 0)
				return 0;
			segment = 0;
		} else if ((unsigned char)*s <= ' ')
			return 0;
		else
			segment++;
	}
	return segment > 0;
}

/* The first attribute of that name in any dataset: a connector serves
 * every dataset its service provides, so `map` is one flat mapping. */
static const struct config_attribute *
mapping_any_attribute(const struct config *cfg, const char *name)
{
	const struct config_attribute *attr;

	for (size_t i = 0; i < cfg->ndatasets; i++)
		if ((attr = config_find_attribute(&cfg->datasets[i], name)))
			return attr;
	return NULL;
}

/* "no dataset has an attribute", with the nearest attribute of any. */
static void
mapping_unknown_attribute(struct config_loader *ld, const char *path,
    const struct yamltree *key)
{
	char mean[CONFIG_PATH_MAX];
	struct suggest near;

	suggest_init(&near, key->value);
	for (size_t i = 0; i < ld->cfg->ndatasets; i++)
		for (size_t j = 0; j < ld->cfg->datasets[i].nattributes; j++)
			suggest_try(&near, ld->cfg->datasets[i].attributes[j].name);
	config_error(ld, key, "%s: no dataset has an attribute '%s'%s", path,
	    key->value, config_did_you_mean(&near, mean, sizeof(mean)));
}

static void
mapping_field_json_path(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);

	if (s == NULL)
		return;
	if (!mapping_json_path_ok(s))
		config_error(ld, v, "%s: expected a dotted path such as "
		    "adresse.cp", path);
	else
		*(char **)dst = config_strdup(ld, s);
}

/* dst: the struct config_transform of a concat. */
static void
mapping_field_json_paths(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	struct config_transform *t = dst;

	if (config_expect(ld, path, v, YAMLTREE_SEQUENCE) == -1)
		return;
	if (v->n == 0) {
		config_error(ld, v, "%s: list at least one path", path);
		return;
	}
	if ((t->paths = config_calloc(ld, v->n, sizeof(*t->paths))) == NULL)
		return;
	for (size_t i = 0; i < v->n; i++) {
		char *p = NULL;

		mapping_field_json_path(ld, f, path, v->items[i], &p);
		if (p != NULL)
			t->paths[t->npaths++] = p;
	}
}

static void
mapping_field_date_format(struct config_loader *ld,
    const struct config_field *f, const char *path, const struct yamltree *v,
    void *dst)
{
	const char *s = config_scalar(ld, path, v);

	if (s == NULL)
		return;
	if (strcmp(s, "iso") == 0)
		s = "YYYY-MM-DD";
	if (!mapping_date_format_ok(s))
		config_error(ld, v, "%s: expected a date format with YYYY, MM "
		    "and DD once each, e.g. DD/MM/YYYY, or iso", path);
	else
		*(char **)dst = config_strdup(ld, s);
}

static const struct config_field mapping_date_fields[] = {
	{ .key = "from", .parse = mapping_field_date_format, .required = 1,
	  .offset = offsetof(struct config_transform, from),
	  .doc = "how the service writes dates, e.g. DD/MM/YYYY" },
	{ .key = "to", .parse = mapping_field_date_format, .def = "iso",
	  .offset = offsetof(struct config_transform, to),
	  .doc = "how the attribute holds them; iso is YYYY-MM-DD" },
	{ .key = NULL },
};

static const struct config_field mapping_concat_fields[] = {
	{ .key = "paths", .parse = mapping_field_json_paths, .required = 1,
	  .doc = "the service's fields joined, in order; absent ones skipped" },
	{ .key = "sep", .parse = config_field_string,
	  .offset = offsetof(struct config_transform, sep),
	  .doc = "put between two parts; default none" },
	{ .key = NULL },
};

static const struct config_field mapping_split_fields[] = {
	{ .key = "sep", .parse = config_field_string, .required = 1,
	  .offset = offsetof(struct config_transform, sep),
	  .doc = "where the value is cut" },
	{ .key = "index", .parse = config_field_int64, .def = "0",
	  .offset = offsetof(struct config_transform, index),
	  .doc = "the part kept: 0 the first, -1 the last" },
	{ .key = NULL },
};

static const char *const mapping_transform_names[] = {
	[CONFIG_TRANSFORM_TRIM] = "trim",
	[CONFIG_TRANSFORM_UPPER] = "upper",
	[CONFIG_TRANSFORM_LOWER] = "lower",
	[CONFIG_TRANSFORM_DATE] = "date",
	[CONFIG_TRANSFORM_CONCAT] = "concat",
	[CONFIG_TRANSFORM_SPLIT] = "split",
	[CONFIG_TRANSFORM_CONSTANT] = "constant",
	[CONFIG_TRANSFORM_DEFAULT] = "default",
};

/* A constant's or default's value, which must fit the attribute. */
static int
mapping_transform_value(struct config_loader *ld, const char *path,
    const struct yamltree *v, const struct config_attribute *attr,
    struct config_transform *t)
{
	const char *s = config_scalar(ld, path, v);
	json_t *value;

	if (s == NULL)
		return -1;
	if ((value = mapping_scalar(attr->type, s)) == NULL) {
		config_error(ld, v, "%s: '%s' is not a valid %s value for "
		    "attribute %s", path, s, config_attr_type_name(attr->type),
		    attr->name);
		return -1;
	}
	json_decref(value);
	return (t->value = config_strdup(ld, s)) != NULL ? 0 : -1;
}

/* One item of a transform list: trim, upper or lower alone, or a one-key
 * mapping {date|concat|split: {...}} or {constant|default: VALUE}. */
static int
mapping_transform_parse(struct config_loader *ld, const char *path,
    const struct yamltree *item, const struct config_attribute *attr,
    struct config_transform *t)
{
	const struct yamltree *key, *value;
	char tpath[CONFIG_PATH_MAX * 2];
	size_t before = ld->errs->n;
	size_t k;

	key = item->kind == YAMLTREE_MAPPING && item->n == 2 ? item->items[0] :
	    item;
	for (k = 0; k < CONFIG_NITEMS(mapping_transform_names); k++)
		if (key->kind == YAMLTREE_SCALAR && key->value != NULL &&
		    strcmp(key->value, mapping_transform_names[k]) == 0)
			break;
	if (k == CONFIG_NITEMS(mapping_transform_names) ||
	    (key == item) != (k <= CONFIG_TRANSFORM_LOWER)) {
		config_error(ld, item, "%s: expected trim, upper, lower, or one "
		    "of {date: {from, to}}, {concat: {paths, sep}}, {split: "
		    "{sep, index}}, {constant: VALUE}, {default: VALUE}", path);
		return -1;
	}
	t->kind = (enum config_transform_kind)k;
	if (key == item)
		return 0;
	value = item->items[1];
	config_key_path(tpath, sizeof(tpath), path, key->value);
	switch (t->kind) {
	case CONFIG_TRANSFORM_DATE:
		config_table_apply(ld, tpath, mapping_date_fields, value, t);
		break;
	case CONFIG_TRANSFORM_CONCAT:
		config_table_apply(ld, tpath, mapping_concat_fields, value, t);
		break;
	case CONFIG_TRANSFORM_SPLIT:
		config_table_apply(ld, tpath, mapping_split_fields, value, t);
		break;
	default:
		return mapping_transform_value(ld, tpath, value, attr, t);
	}
	return ld->errs->n == before ? 0 : -1;
}

/* dst: the struct config_mapping, its attribute set. */
static void
mapping_field_transforms(struct config_loader *ld,
    const struct config_field *f, const char *path, const struct yamltree *v,
    void *dst)
{
	struct config_mapping *m = dst;

	if (config_expect(ld, path, v, YAMLTREE_SEQUENCE) == -1)
		return;
	m->transforms = config_calloc(ld, v->n, sizeof(*m->transforms));
	if (m->transforms == NULL)
		return;
	for (size_t i = 0; i < v->n; i++) {
		char ipath[CONFIG_PATH_MAX];

		snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
		if (mapping_transform_parse(ld, ipath, v->items[i], m->attribute,
		    &m->transforms[m->ntransforms]) == 0)
			m->ntransforms++;
		else
			config_transform_free(&m->transforms[m->ntransforms]);
	}
}

static const struct config_field mapping_entry_fields[] = {
	{ .key = "path", .parse = mapping_field_json_path,
	  .offset = offsetof(struct config_mapping, path),
	  .doc = "dotted path into the service's JSON, e.g. adresse.cp" },
	{ .key = "transform", .parse = mapping_field_transforms,
	  .doc = "steps applied in order when reading: trim, upper, lower, "
	  "date, concat, split, constant, default" },
	{ .key = NULL },
};

/* A path is needed unless a concat or a constant makes the value. */
static void
mapping_entry_check(struct config_loader *ld, const char *path,
    const struct yamltree *v, const struct config_mapping *m)
{
	if (yamltree_get(v, "path") != NULL)
		return;
	for (size_t i = 0; i < m->ntransforms; i++)
		if (m->transforms[i].kind == CONFIG_TRANSFORM_CONCAT ||
		    m->transforms[i].kind == CONFIG_TRANSFORM_CONSTANT)
			return;
	config_error(ld, v, "%s: needs a path, unless a concat or a constant "
	    "transform makes the value", path);
}

/* The connector's `map`; ld->connector is the one being loaded. Each
 * entry is a dotted path, or {path, transform}. */
void
mapping_field_map(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	struct config_connector *c = ld->connector;

	if (config_expect(ld, path, v, YAMLTREE_MAPPING) == -1)
		return;
	if ((c->map = config_calloc(ld, v->n / 2, sizeof(*c->map))) == NULL)
		return;
	for (size_t i = 0; i < v->n; i += 2) {
		const struct yamltree *key = v->items[i], *value = v->items[i + 1];
		struct config_mapping *m = &c->map[c->nmap];
		char kpath[CONFIG_PATH_MAX];

		config_key_path(kpath, sizeof(kpath), path, key->value);
		if ((m->attribute = mapping_any_attribute(ld->cfg,
		    key->value)) == NULL) {
			mapping_unknown_attribute(ld, kpath, key);
			continue;
		}
		if (value->kind == YAMLTREE_MAPPING) {
			config_table_apply(ld, kpath, mapping_entry_fields,
			    value, m);
			mapping_entry_check(ld, kpath, value, m);
		} else
			mapping_field_json_path(ld, f, kpath, value, &m->path);
		/* Kept even when wrong, so that config_free frees it. */
		c->nmap++;
	}
}

static const struct config_field mapping_poll_fields[] = {
	{ .key = "dataset", .parse = config_field_dataset_ref, .required = 1,
	  .offset = offsetof(struct config_poll, dataset),
	  .doc = "the dataset whose changes the service gives" },
	{ .key = "interval", .parse = config_field_duration, .def = "10s",
	  .offset = offsetof(struct config_poll, interval_ms),
	  .doc = "how often the gateway asks for changes" },
	{ .key = NULL },
};

/* `poll: {dataset, interval}`; dst is unused: like `map`, it belongs to
 * the connector being loaded. */
void
mapping_field_poll(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	struct config_connector *c = ld->connector;

	config_table_apply(ld, path, mapping_poll_fields, v, &c->poll);
	if (c->ops->changes == NULL)
		config_error(ld, v, "%s: the %s connector cannot give changes",
		    path, c->ops->name);
}
