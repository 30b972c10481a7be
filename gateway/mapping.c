/* mapping.c — a service's own JSON <-> a dataset's attributes.
 *
 * A connector's map may cover several datasets, so each entry is matched to
 * ds by attribute name; entries of other datasets are skipped. With a map,
 * an attribute that has no entry is not exchanged with that service. Errors
 * name the attribute and the path, never the value. */
#include "mapping.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "jsonutil.h"

static const char *
mapping_type_name(enum config_attr_type t)
{
	switch (t) {
	case CONFIG_ATTR_STRING:
		return "a string";
	case CONFIG_ATTR_INTEGER:
		return "an integer";
	case CONFIG_ATTR_NUMBER:
		return "a number";
	case CONFIG_ATTR_BOOLEAN:
		return "a boolean";
	case CONFIG_ATTR_DATE:
		return "a date (YYYY-MM-DD)";
	}
	return "of a known type";
}

int
mapping_type_ok(enum config_attr_type t, const json_t *v)
{
	int64_t ms;

	switch (t) {
	case CONFIG_ATTR_STRING:
		return json_is_string(v);
	case CONFIG_ATTR_INTEGER:
		return json_is_integer(v);
	case CONFIG_ATTR_NUMBER:
		return json_is_number(v);
	case CONFIG_ATTR_BOOLEAN:
		return json_is_boolean(v);
	case CONFIG_ATTR_DATE:
		/* The length check keeps out the RFC 3339 timestamps (and
		 * embedded NULs) that clock_parse_rfc3339 also accepts. */
		return json_is_string(v) && json_string_length(v) == 10 &&
		    strlen(json_string_value(v)) == 10 &&
		    clock_parse_rfc3339(json_string_value(v), &ms) == 0;
	}
	return 0;
}

static size_t
mapping_count(const struct config_connector *conn,
    const struct config_dataset *ds)
{
	return conn != NULL && conn->nmap > 0 ? conn->nmap : ds->nattributes;
}

/* The attribute of ds that the i-th entry maps, and its path in the
 * service's JSON; NULL if the entry belongs to another dataset. */
static const struct config_attribute *
mapping_entry(const struct config_connector *conn,
    const struct config_dataset *ds, size_t i, const char **path)
{
	if (conn == NULL || conn->nmap == 0) {
		*path = ds->attributes[i].name;
		return &ds->attributes[i];
	}
	*path = conn->map[i].path;
	return config_find_attribute(ds, conn->map[i].attribute->name);
}

static int
mapping_check(const struct config_attribute *a, const char *path,
    const json_t *v, char *err, size_t errlen)
{
	if (mapping_type_ok(a->type, v))
		return 0;
	snprintf(err, errlen, "attribute %s (path %s) is not %s", a->name, path,
	    mapping_type_name(a->type));
	return -1;
}

int
mapping_to_dataset(const struct config_connector *conn,
    const struct config_dataset *ds, const json_t *raw, json_t **out,
    char *err, size_t errlen)
{
	json_t *attrs = json_object();
	size_t i, n = mapping_count(conn, ds);

	*out = NULL;
	if (attrs == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		const struct config_attribute *a;
		const char *path;
		json_t *v;

		if ((a = mapping_entry(conn, ds, i, &path)) == NULL)
			continue;
		v = jsonutil_path_get(raw, path);
		if (v == NULL || json_is_null(v))
			continue;
		if (mapping_check(a, path, v, err, errlen) == -1) {
			json_decref(attrs);
			return -1;
		}
		json_object_set(attrs, a->name, v);
	}
	*out = attrs;
	return 0;
}

int
mapping_from_dataset(const struct config_connector *conn,
    const struct config_dataset *ds, const json_t *attrs, json_t **out,
    char *err, size_t errlen)
{
	json_t *raw = json_object();
	size_t i, n = mapping_count(conn, ds);

	*out = NULL;
	if (raw == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		const struct config_attribute *a;
		const char *path;
		json_t *v;

		if ((a = mapping_entry(conn, ds, i, &path)) == NULL)
			continue;
		v = json_object_get(attrs, a->name);
		if (v == NULL || json_is_null(v))
			continue;
		if (mapping_check(a, path, v, err, errlen) == -1)
			goto fail;
		/* Two entries must not claim the same place ("a" and "a.b"). */
		if (jsonutil_path_get(raw, path) != NULL ||
		    jsonutil_path_set(raw, path, json_incref(v)) == -1) {
			snprintf(err, errlen, "attribute %s (path %s) collides "
			    "with another mapped path", a->name, path);
			goto fail;
		}
	}
	*out = raw;
	return 0;
fail:
	json_decref(raw);
	return -1;
}
