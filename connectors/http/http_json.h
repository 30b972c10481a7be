/* http_json.h — whether a service's answer is a JSON object, read without
 * building it: the core builds the tree it maps (http_json.c). */
#ifndef TELLONCE_HTTP_JSON_H
#define TELLONCE_HTTP_JSON_H

#include <stddef.h>

/* 1 when buf (len bytes, NUL-terminated or not) is one JSON object as
 * jansson's json_loadb reads it without flags, blanks around it allowed;
 * 0 otherwise. */
int http_json_is_object(const char *buf, size_t len);

#endif
