/* jsonutil.c — helpers over jansson. */
#include "jsonutil.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "encode.h"
#include "jcs.h"
#include "sha256.h"

const char *
jsonutil_string(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

json_t *
jsonutil_path_get(const json_t *root, const char *path)
{
	const json_t *cur = root;
	const char *p = path;

	while (cur != NULL) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);

		if (!json_is_object(cur))
			return NULL;
		cur = json_object_getn(cur, p, len);
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	return (json_t *)cur;
}

int
jsonutil_path_set(json_t *root, const char *path, json_t *value)
{
	json_t *cur = root;
	const char *p = path;
	const char *dot;

	while ((dot = strchr(p, '.')) != NULL) {
		size_t len = (size_t)(dot - p);
		json_t *next = json_object_getn(cur, p, len);

		if (next == NULL) {
			next = json_object();
			json_object_setn_new(cur, p, len, next);
		} else if (!json_is_object(next)) {
			json_decref(value);
			return -1;
		}
		cur = next;
		p = dot + 1;
	}
	return json_object_set_new(cur, p, value);
}

void
jsonutil_sha256_hex(const json_t *v, char out[65])
{
	char *text = jcs_dump(v);

	jsonutil_text_sha256_hex(text ? text : "", out);
	free(text);
}

void
jsonutil_text_sha256_hex(const char *text, char out[65])
{
	unsigned char md[SHA256_LEN];

	if (sha256(text, strlen(text), md) != 0) {
		out[0] = '\0';
		return;
	}
	encode_hex(md, sizeof(md), out);
}

int
jsonutil_string_array(const json_t *arr, const char ***items, size_t *n)
{
	size_t i, len = json_array_size(arr);
	const char **v;
	json_t *it;

	*items = NULL;
	*n = 0;
	if (!json_is_array(arr))
		return -1;
	v = calloc(len ? len : 1, sizeof(*v));
	if (v == NULL)
		return -1;
	json_array_foreach(arr, i, it) {
		if (!json_is_string(it)) {
			free(v);
			return -1;
		}
		v[i] = json_string_value(it);
	}
	*items = v;
	*n = len;
	return 0;
}

const char **
jsonutil_keys(const json_t *obj, size_t *n)
{
	const char **names, *key;
	json_t *v;

	*n = 0;
	if (obj == NULL ||
	    (names = calloc(json_object_size(obj) + 1, sizeof(*names))) == NULL)
		return NULL;
	json_object_foreach((json_t *)obj, key, v)
		names[(*n)++] = key;
	return names;
}

json_t *
jsonutil_string_list(char *const *names, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_string(names[i]));
	return a;
}

json_t *
jsonutil_time(int64_t ms)
{
	char text[CLOCK_RFC3339_LEN];

	if (ms == 0)
		return json_null();
	clock_format_rfc3339(ms, text);
	return json_string(text);
}
