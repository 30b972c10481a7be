/* mapping_config.h — the `map:` and `poll:` keys of a connector block, for
 * config_connector.c's key table. */
#ifndef TELLONCE_MAPPING_CONFIG_H
#define TELLONCE_MAPPING_CONFIG_H

#include "config.h"

/* `map:`: fills ld->connector's map; dst is unused. Each entry names an
 * attribute of some dataset, and a dotted path or {path, transform}. */
config_field_fn mapping_field_map;
/* `poll: {dataset, interval}`: fills ld->connector's poll; dst is unused.
 * Refused for a connector that cannot give changes. */
config_field_fn mapping_field_poll;

#endif
