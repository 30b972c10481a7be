/* jsonload.h — JSON text to jansson's tree, in one pass: what json_loadb
 * returns, for the texts every fetch reads (a request's body, a provider's
 * answer), at a fraction of its cost. */
#ifndef TELLONCE_JSONLOAD_H
#define TELLONCE_JSONLOAD_H

#include <jansson.h>
#include <stddef.h>

/* json_loadb(buf, len, flags, err), same tree and same errors: an object
 * without duplicate names, shallow, whose strings need no surrogate pair,
 * is read here; any other text, valid or not, is handed to json_loadb. */
json_t *jsonload_object(const char *buf, size_t len, size_t flags,
    json_error_t *err);

#endif
