/* jsonutil.h — small helpers over jansson used across the gateway. */
#ifndef TELLONCE_JSONUTIL_H
#define TELLONCE_JSONUTIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The string member `key` of obj, or NULL if absent or not a string. */
const char *jsonutil_string(const json_t *obj, const char *key);
/* Value at a dotted path ("adresse.cp") in nested objects; borrowed or NULL. */
json_t *jsonutil_path_get(const json_t *root, const char *path);
/* Sets value (reference stolen) at a dotted path, creating objects on the
 * way. Returns 0, or -1 if a non-object is in the way. */
int jsonutil_path_set(json_t *root, const char *path, json_t *value);
/* Lower-case hex SHA-256 of the JCS text of v (65 bytes with NUL; empty
 * when OpenSSL fails). */
void jsonutil_sha256_hex(const json_t *v, char out[65]);
/* The same of a text already in JCS. */
void jsonutil_text_sha256_hex(const char *text, char out[65]);
/* A JSON array of strings → malloc'd array of borrowed char pointers. Returns
 * 0 with *items (free only the array) and *n, or -1 if not all strings. */
int jsonutil_string_array(const json_t *arr, const char ***items, size_t *n);
/* The member names of obj, in its order → malloc'd array of borrowed
 * names (free only the array) and *n. NULL with *n 0 when obj is NULL or
 * memory runs out: an audit entry then says null. */
const char **jsonutil_keys(const json_t *obj, size_t *n);
/* A JSON array of the n strings; new reference. */
json_t *jsonutil_string_list(char *const *names, size_t n);
/* RFC 3339 text of a time in ms since the epoch, or null for 0 ("none");
 * new reference. */
json_t *jsonutil_time(int64_t ms);

#endif
