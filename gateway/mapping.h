/* mapping.h — a service's own field names <-> a dataset's attributes.
 *
 * `map:` in a connector block pairs each attribute with a dotted path into
 * the service's JSON ("adresse.cp"), optionally with transforms (trim,
 * upper, lower, date, concat, split, constant, default) applied in order
 * when reading, and undone where they can be when writing: see
 * docs/connectors.md. With no map, attributes are read and written under
 * their own names. */
#ifndef TELLONCE_MAPPING_H
#define TELLONCE_MAPPING_H

#include <jansson.h>
#include <stddef.h>

#include "config_model.h"

/* Service JSON → {attribute: value} for every mapped attribute present,
 * each checked against its dataset type. *out is a new reference. Returns 0,
 * or -1 with err naming the attribute and path (never the value). */
int mapping_to_dataset(const struct config_connector *conn,
    const struct config_dataset *ds, const json_t *raw, json_t **out,
    char *err, size_t errlen);
/* {attribute: value} → service JSON, building nested objects for dotted
 * paths. Entries whose transforms cannot be undone (concat, split,
 * constant) are not written. *out is a new reference. Returns 0 or -1
 * with err. */
int mapping_from_dataset(const struct config_connector *conn,
    const struct config_dataset *ds, const json_t *attrs, json_t **out,
    char *err, size_t errlen);
/* 1 if v is a valid value of attribute type t, else 0. */
int mapping_type_ok(enum config_attr_type t, const json_t *v);
/* 1 if some entry of conn's map for ds reads the service field at the
 * dotted path (directly, or as a part of a concat), else 0. Tells a field
 * the dataset has no place for from one that only cannot be written back. */
int mapping_reads(const struct config_connector *conn,
    const struct config_dataset *ds, const char *path);
/* The YAML text of a constant or default as a value of type t (a new
 * reference), or NULL when it is not one. */
json_t *mapping_scalar(enum config_attr_type t, const char *text);
/* 1 if fmt is a date format: YYYY, MM and DD once each, any other
 * characters (not Y, M or D) taken literally. */
int mapping_date_format_ok(const char *fmt);

#endif
