/* registry.h — the built-in connector types, looked up by their `type:`. */
#ifndef TELLONCE_REGISTRY_H
#define TELLONCE_REGISTRY_H

#include "connector.h"

/* The ops of a built-in connector type, or NULL. Static; never freed. */
const struct connector_ops *registry_find(const char *type);
/* NULL-terminated list of the built-in types, for docs and error messages. */
const struct connector_ops *const *registry_all(void);

#endif
