/* config_connector.h — the `connector:` key of a service: the connector's
 * type (or plugin) and its settings, read by the connector's own key
 * table. */
#ifndef TELLONCE_CONFIG_CONNECTOR_H
#define TELLONCE_CONFIG_CONNECTOR_H

#include "config.h"

/* dst: the service's struct config_connector *, set (and owned by the
 * service) as soon as the type is known, even if the settings have
 * errors. */
config_field_fn config_field_connector;

#endif
