/* sql.h — the `sql` connector: a service that is a table in SQLite or
 * PostgreSQL. */
#ifndef TELLONCE_SQL_H
#define TELLONCE_SQL_H

#include "connector.h"

extern const struct connector_ops sql_connector_ops;

#endif
