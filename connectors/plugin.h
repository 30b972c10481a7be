/* plugin.h — connector types loaded from shared objects (`type: plugin`). */
#ifndef TELLONCE_PLUGIN_H
#define TELLONCE_PLUGIN_H

#include <stddef.h>

#include "connector.h"

/* Loads the shared object at `path` (absolute), calls its
 * CONNECTOR_ENTRY_SYMBOL and checks the ops it returns: ABI version, name,
 * callbacks, and a key table that fits settings_size and does not claim the
 * core's own keys. Returns the ops, or NULL with the reason in err (the
 * object is unloaded again).
 *
 * A loaded plugin is never unloaded: its ops are referenced by every config
 * that names it, and an instance may outlive a reload on a worker's loop, so
 * the handle lives as long as the process. Loading the same file twice
 * (a reload) returns the same ops: the dynamic loader counts references. */
const struct connector_ops *plugin_load(const char *path, char *err,
    size_t errlen);
/* The checks plugin_load makes on the ops a plugin returns (ops may be
 * NULL). Returns 0, or -1 with the reason in err. */
int plugin_check(const struct connector_ops *ops, char *err, size_t errlen);

#endif
