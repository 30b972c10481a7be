/* file.h — the `file` connector: a service that exchanges files in a
 * folder. */
#ifndef TELLONCE_FILE_H
#define TELLONCE_FILE_H

#include "connector.h"

extern const struct connector_ops file_connector_ops;

#endif
