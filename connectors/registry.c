/* registry.c — one static table of the connectors compiled into the gateway.
 * Adding a built-in connector is one line here. */
#include "registry.h"

#include <string.h>

#include "file/file.h"
#include "http/http.h"
#include "sql/sql.h"

static const struct connector_ops *const registry_table[] = {
	&http_connector_ops,
	&sql_connector_ops,
	&file_connector_ops,
	NULL,
};

const struct connector_ops *
registry_find(const char *type)
{
	for (size_t i = 0; registry_table[i] != NULL; i++)
		if (strcmp(registry_table[i]->name, type) == 0)
			return registry_table[i];
	return NULL;
}

const struct connector_ops *const *
registry_all(void)
{
	return registry_table;
}
