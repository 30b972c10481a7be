/* columns.c — see columns.h. */
#include "columns.h"

#include <stdio.h>
#include <string.h>

static int
columns_has(const struct connector_strlist *columns, const char *field)
{
	for (size_t i = 0; i < columns->n; i++)
		if (strcmp(field, columns->items[i]) == 0)
			return 1;
	return 0;
}

int
columns_unique(const struct connector_strlist *columns, char *err,
    size_t errlen)
{
	for (size_t i = 0; i < columns->n; i++) {
		for (size_t j = 0; j < i; j++) {
			if (strcmp(columns->items[i], columns->items[j]) == 0) {
				snprintf(err, errlen, "columns: '%s' is listed "
				    "twice", columns->items[i]);
				return -1;
			}
		}
	}
	return 0;
}

int
columns_check(const struct connector_strlist *columns, json_t *rec,
    const char *holder, char *err, size_t errlen)
{
	const char *field;
	json_t *v;

	json_object_foreach(rec, field, v) {
		if (!columns_has(columns, field)) {
			snprintf(err, errlen, "field '%.64s' is not one of the "
			    "configured columns", field);
			return -1;
		}
		if (json_is_object(v) || json_is_array(v)) {
			snprintf(err, errlen, "field '%.64s' holds an object or "
			    "a list, which %s cannot", field, holder);
			return -1;
		}
	}
	return 0;
}
