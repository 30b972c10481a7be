/* columns.h — checks shared by the connectors that store a record as a row
 * (sql, file's CSV): every field must be a configured column and a scalar. */
#ifndef TELLONCE_COLUMNS_H
#define TELLONCE_COLUMNS_H

#include <jansson.h>
#include <stddef.h>

#include "connector.h"

/* Returns 0, or -1 with err naming a column listed twice in `columns`. */
int columns_unique(const struct connector_strlist *columns, char *err,
    size_t errlen);
/* Returns 0, or -1 with err naming the first field of rec that is not one of
 * `columns` or holds an object or a list (`holder` says what cannot hold
 * it: "a column", "a CSV field"). Never puts a value in err. */
int columns_check(const struct connector_strlist *columns, json_t *rec,
    const char *holder, char *err, size_t errlen);

#endif
