/* register.h — the record of processing activities (GDPR art. 30,
 * contract §7), generated from the configuration alone: one row per
 * policy and one per subscription, with the fields of the CNIL register
 * template. `tellonce register` prints it (cmd_register.c) and
 * GET /v1/register answers it (api_register.c).
 *
 * What a row needs the loader already insists on (config_load.c): a
 * policy's purpose, basis and, unless the basis is consent, its
 * legal_reference; a policy covering every subscription, whose row takes
 * the purposes, bases and attributes of the policies that cover it. */
#ifndef TELLONCE_REGISTER_H
#define TELLONCE_REGISTER_H

#include <jansson.h>

#include "config_model.h"

enum register_format { REGISTER_MD, REGISTER_JSON, REGISTER_CSV };

/* "md", "json" or "csv" into *format; 0, or -1 for another name. */
int register_format_parse(const char *name, enum register_format *format);
/* {"rows": [...]}: a new reference, NULL when out of memory. */
json_t *register_json(const struct config *cfg);
/* The register as text in `format`; malloc'd, NULL when out of memory. */
char *register_render(const struct config *cfg, enum register_format format);

#endif
