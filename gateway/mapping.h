/* mapping.h — a service's own field names <-> a dataset's attributes.
 *
 * `map:` in a connector block pairs each attribute with a dotted path into
 * the service's JSON ("adresse.cp"). With no map, attributes are read and
 * written under their own names. */
#ifndef TELLONCE_MAPPING_H
#define TELLONCE_MAPPING_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"

/* Service JSON → {attribute: value} for every mapped attribute present,
 * each checked against its dataset type. *out is a new reference. Returns 0,
 * or -1 with err naming the attribute and path (never the value). */
int mapping_to_dataset(const struct config_connector *conn,
    const struct config_dataset *ds, const json_t *raw, json_t **out,
    char *err, size_t errlen);
/* {attribute: value} → service JSON, building nested objects for dotted
 * paths. *out is a new reference. Returns 0 or -1 with err. */
int mapping_from_dataset(const struct config_connector *conn,
    const struct config_dataset *ds, const json_t *attrs, json_t **out,
    char *err, size_t errlen);
/* 1 if v is a valid value of attribute type t, else 0. */
int mapping_type_ok(enum config_attr_type t, const json_t *v);

#endif
