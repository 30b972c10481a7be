/* config_load.h — the YAML configuration into a struct config (the types
 * are in config_model.h, the errors in config.h). */
#ifndef TELLONCE_CONFIG_LOAD_H
#define TELLONCE_CONFIG_LOAD_H

#include "config.h"
#include "config_model.h"

/* Loads and validates `path` (and its includes). Returns the config, or NULL
 * with every problem found appended to errs (caller frees both); running
 * out of memory is one of those problems (errs->nomem). */
struct config *config_load(const char *path, struct config_errors *errs);
/* The same without reading any secret, for `tellonce check --offline`:
 * env:NAME and file:PATH references are checked for their shape only, and
 * each secret holds its reference text, so the config is for checking
 * only, never for serving. */
struct config *config_load_offline(const char *path,
    struct config_errors *errs);

#endif
