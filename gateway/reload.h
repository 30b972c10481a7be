/* reload.h — the reload rules: what a SIGHUP may change in a running
 * gateway and what needs a restart. */
#ifndef TELLONCE_RELOAD_H
#define TELLONCE_RELOAD_H

#include "config_model.h"

/* What a reload from old to new cannot change without a restart (the
 * setting's name); NULL if nothing. TLS certificates and keys can change:
 * that is how they are renewed. */
const char *reload_blocker(const struct config *old, const struct config *new);

#endif
