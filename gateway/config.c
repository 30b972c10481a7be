/* config.c — the YAML configuration into the typed structs of config.h.
 *
 * Every mapping is described by a static table of fields in the style of
 * Fluent Bit's config_map: key, parser, required, default text, offset in
 * the struct being filled, and a line of documentation. table_apply()
 * refuses unknown keys, applies defaults and reports missing keys, so the
 * per-key code only parses one value. Nothing stops at the first problem:
 * every error is collected with its file, line and column, and the config
 * is only returned when there are none.
 *
 * Loading runs in phases because sections refer to each other across files:
 * parse the main file and its includes, collecting their sections; then
 * gateway, datasets, service ids, service bodies (connector maps need the
 * datasets, subscriptions the service ids), and policies last. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "encode.h"
#include "log.h"
#include "mapping.h"
#include "plugin.h"
#include "registry.h"
#include "yamltree.h"

#define CONFIG_PATH_MAX 256 /* longest dotted key path shown in messages */
#define CONFIG_MAX_WORKERS 64
#define CONFIG_NITEMS(a) (sizeof(a) / sizeof((a)[0]))

/* One YAML file: the main one or an include. */
struct config_source {
	char *name;                  /* as messages show it */
	char *real;                  /* realpath, to recognise it again */
	char *dir;                   /* its real directory: relative paths start here */
	int is_main;
	int loading;                 /* on the include stack, for cycles */
	struct yamltree *root;
	struct config_source *next;
};

struct config_nodes {
	const struct yamltree **v;
	size_t n;
};

struct config_loader {
	struct config *cfg;
	struct config_errors *errs;
	struct config_source *sources;
	struct config_source *main;
	/* Sections collected from every file. */
	const struct yamltree *gateway;
	struct config_nodes datasets;     /* mappings name → dataset */
	struct config_nodes services;     /* mappings id → service */
	struct config_nodes policies;     /* lists of policies */
	/* Where each dataset, service and policy id was written, parallel to
	 * the arrays in cfg, for "defined twice" messages. */
	const struct yamltree **dataset_keys;
	const struct yamltree **service_keys;
	const struct yamltree **service_bodies;
	const struct yamltree **policy_ids;
	/* What is being loaded, for checks that need the enclosing object. */
	struct config_service *service;
	struct config_connector *connector;
};

struct config_field;

/* Parses `value` (found under the dotted key `path`) into dst. Reports its
 * own errors. */
typedef void config_field_fn(struct config_loader *ld,
    const struct config_field *f, const char *path,
    const struct yamltree *value, void *dst);

struct config_field {
	const char *key;
	config_field_fn *parse;
	int required;
	const char *def;             /* YAML text used when absent */
	size_t offset;               /* of dst in the struct being filled */
	int aux;                     /* secret flags, or an integer's maximum */
	const struct config_field *sub; /* nested mapping; absent = empty */
	const char *doc;
};

static void config_error(struct config_loader *, const struct yamltree *,
    const char *, ...) __attribute__((format(printf, 3, 4)));

static char *
config_strdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		abort();
	return d;
}

static void *
config_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p == NULL)
		abort();
	return p;
}

static void
config_error_add(struct config_errors *errs, const char *file, int line,
    int col, const char *msg)
{
	struct config_error *items;

	items = reallocarray(errs->items, errs->n + 1, sizeof(*items));
	if (items == NULL)
		abort();
	errs->items = items;
	items[errs->n].file = config_strdup(file);
	items[errs->n].line = line;
	items[errs->n].col = col;
	items[errs->n].message = config_strdup(msg);
	errs->n++;
}

static void
config_error(struct config_loader *ld, const struct yamltree *at,
    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	config_error_add(ld->errs, at->file, at->line, at->col, msg);
}

static void
config_key_path(char *buf, size_t len, const char *what, const char *key)
{
	if (*what == '\0')
		snprintf(buf, len, "%s", key);
	else
		snprintf(buf, len, "%s.%s", what, key);
}

static const struct config_source *
config_source_of(const struct config_loader *ld, const struct yamltree *node)
{
	const struct config_source *src;

	for (src = ld->sources; src != NULL; src = src->next)
		if (src->name == node->file)
			return src;
	abort();
}

/* `path` as written in the file holding `node`: relative paths start at
 * that file's directory. Caller frees. */
static char *
config_resolve_path(const struct config_loader *ld, const struct yamltree *node,
    const char *path)
{
	char *out;

	if (path[0] == '/')
		return config_strdup(path);
	if (asprintf(&out, "%s/%s", config_source_of(ld, node)->dir, path) == -1)
		abort();
	return out;
}

static int
config_valid_id(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static int
config_valid_attribute(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/* ---- durations and sizes ------------------------------------------------ */

/* Leading decimal digits of *p into *n, advancing *p; -1 on none or
 * overflow. */
static int
config_parse_digits(const char **p, uint64_t max, uint64_t *n)
{
	const char *s = *p;

	*n = 0;
	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		uint64_t d = (uint64_t)(*s - '0');

		if (*n > (max - d) / 10)
			return -1;
		*n = *n * 10 + d;
	}
	*p = s;
	return 0;
}

int
config_parse_duration(const char *text, int64_t *ms)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};
	const char *p = text;
	uint64_t n;

	if (config_parse_digits(&p, INT64_MAX, &n) == -1)
		return -1;
	for (size_t i = 0; i < CONFIG_NITEMS(units); i++) {
		if (strcmp(p, units[i].unit) != 0)
			continue;
		if (n > INT64_MAX / units[i].ms)
			return -1;
		*ms = (int64_t)(n * units[i].ms);
		return 0;
	}
	return -1;
}

int
config_parse_size(const char *text, size_t *bytes)
{
	const char *p = text;
	uint64_t n, mult;

	if (config_parse_digits(&p, SIZE_MAX, &n) == -1)
		return -1;
	if (*p == '\0')
		mult = 1;
	else if (strcmp(p, "k") == 0 || strcmp(p, "K") == 0)
		mult = 1024;
	else if (strcmp(p, "m") == 0 || strcmp(p, "M") == 0)
		mult = 1024 * 1024;
	else
		return -1;
	if (n > SIZE_MAX / mult)
		return -1;
	*bytes = (size_t)(n * mult);
	return 0;
}

/* ---- field parsers -------------------------------------------------------- */

/* The text of a scalar, or NULL after reporting why there is none. */
static const char *
config_scalar(struct config_loader *ld, const char *path,
    const struct yamltree *v)
{
	if (v->kind != YAMLTREE_SCALAR) {
		config_error(ld, v, "%s: expected a single value, got %s", path,
		    yamltree_kind_name(v));
		return NULL;
	}
	if (v->is_null || *v->value == '\0') {
		config_error(ld, v, "%s: needs a value", path);
		return NULL;
	}
	return v->value;
}

static int
config_expect(struct config_loader *ld, const char *path,
    const struct yamltree *v, enum yamltree_kind kind)
{
	static const char *const names[] = { "a single value", "a list",
		"a mapping" };

	if (v->kind == kind)
		return 0;
	config_error(ld, v, "%s: expected %s, got %s", path, names[kind],
	    yamltree_kind_name(v));
	return -1;
}

static void
config_unknown_key(struct config_loader *ld, const char *what,
    const struct yamltree *key, const char *expected)
{
	char path[CONFIG_PATH_MAX];

	config_key_path(path, sizeof(path), what, key->value);
	config_error(ld, key, "%s: unknown key (expected one of: %s)", path,
	    expected);
}

static const struct config_field *
config_field_find(const struct config_field *table, const char *key)
{
	for (; table->key != NULL; table++)
		if (strcmp(table->key, key) == 0)
			return table;
	return NULL;
}

static void
config_field_names(const struct config_field *table, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (; table->key != NULL && used < len; table++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
		    used ? ", " : "", table->key);
}

/* Fills obj from the mapping `map` found at dotted path `what`. */
static void
config_table_apply(struct config_loader *ld, const char *what,
    const struct config_field *table, const struct yamltree *map, void *obj)
{
	char path[CONFIG_PATH_MAX], names[512];
	const struct config_field *f;

	if (config_expect(ld, *what ? what : "file", map, YAMLTREE_MAPPING) == -1)
		return;
	for (size_t i = 0; i < map->n; i += 2) {
		if (config_field_find(table, map->items[i]->value) != NULL)
			continue;
		config_field_names(table, names, sizeof(names));
		config_unknown_key(ld, what, map->items[i], names);
	}
	for (f = table; f->key != NULL; f++) {
		const struct yamltree *v = yamltree_get(map, f->key);
		struct yamltree stand_in = { .file = map->file,
			.line = map->line, .col = map->col };

		config_key_path(path, sizeof(path), what, f->key);
		if (v == NULL && f->def != NULL) {
			stand_in.kind = YAMLTREE_SCALAR;
			stand_in.value = (char *)f->def;
			v = &stand_in;
		} else if (v == NULL && f->sub != NULL && !f->required) {
			stand_in.kind = YAMLTREE_MAPPING;
			v = &stand_in;
		} else if (v == NULL) {
			if (f->required)
				config_error(ld, map, "%s: missing required key "
				    "'%s'", *what ? what : "file", f->key);
			continue;
		}
		f->parse(ld, f, path, v, (char *)obj + f->offset);
	}
}

static void
config_field_table(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	config_table_apply(ld, path, f->sub, v, dst);
}

static void
config_field_string(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);

	if (s != NULL)
		*(char **)dst = config_strdup(s);
}

/* Checked and dropped: documentation for whoever reads the YAML. */
static void
config_field_comment(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	config_scalar(ld, path, v);
}

static void
config_field_path(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);

	if (s != NULL)
		*(char **)dst = config_resolve_path(ld, v, s);
}

/* Resolves into a struct secret; f->aux holds the SECRET_* flags. Messages
 * never contain the value, inline or resolved. */
static void
config_field_secret(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *ref = config_scalar(ld, path, v);
	char err[512], *resolved;

	if (ref == NULL)
		return;
	if (strncmp(ref, "file:", 5) == 0 && ref[5] != '\0') {
		char *file = config_resolve_path(ld, v, ref + 5);

		if (asprintf(&resolved, "file:%s", file) == -1)
			abort();
		free(file);
	} else
		resolved = config_strdup(ref);
	if (secret_resolve(resolved, f->aux, dst, err, sizeof(err)) == -1)
		config_error(ld, v, "%s: %s", path, err);
	free(resolved);
}

static void
config_field_pseudonym_key(struct config_loader *ld,
    const struct config_field *f, const char *path, const struct yamltree *v,
    void *dst)
{
	struct secret *key = dst;

	config_field_secret(ld, f, path, v, dst);
	if (key->data != NULL && key->len < 32)
		config_error(ld, v, "%s: must be at least 32 bytes, is %zu",
		    path, key->len);
}

/* A connector's secret setting: a plain char *, wiped by config_free. */
static void
config_field_secret_string(struct config_loader *ld,
    const struct config_field *f, const char *path, const struct yamltree *v,
    void *dst)
{
	struct secret s = { NULL, 0 };

	config_field_secret(ld, f, path, v, &s);
	*(char **)dst = (char *)s.data;
}

static void
config_field_duration(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);
	int64_t ms;

	if (s == NULL)
		return;
	if (config_parse_duration(s, &ms) == -1 || ms == 0)
		config_error(ld, v, "%s: '%s' is not a duration (a positive "
		    "number with ms, s, m or h, e.g. 500ms or 2s)", path, s);
	else
		*(int64_t *)dst = ms;
}

static void
config_field_size(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);
	size_t bytes;

	if (s == NULL)
		return;
	if (config_parse_size(s, &bytes) == -1 || bytes == 0)
		config_error(ld, v, "%s: '%s' is not a size (a positive number "
		    "of bytes, or with k or m, e.g. 64k or 1m)", path, s);
	else
		*(size_t *)dst = bytes;
}

/* An int from 1 to f->aux. */
static void
config_field_count(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v), *p = s;
	uint64_t n;

	if (s == NULL)
		return;
	if (config_parse_digits(&p, INT_MAX, &n) == -1 || *p != '\0' ||
	    n < 1 || n > (uint64_t)f->aux)
		config_error(ld, v, "%s: expected a whole number from 1 to %d",
		    path, f->aux);
	else
		*(int *)dst = (int)n;
}

static void
config_field_int64(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);
	char *end;
	long long n;

	if (s == NULL)
		return;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s)
		config_error(ld, v, "%s: expected a whole number", path);
	else
		*(int64_t *)dst = n;
}

static void
config_field_bool(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);

	if (s == NULL)
		return;
	if (strcmp(s, "true") == 0)
		*(int *)dst = 1;
	else if (strcmp(s, "false") == 0)
		*(int *)dst = 0;
	else
		config_error(ld, v, "%s: expected true or false", path);
}

static void
config_field_log_level(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);

	if (s == NULL)
		return;
	if (log_level_parse(s) == -1)
		config_error(ld, v, "%s: expected debug, info, warn or error",
		    path);
	else
		*(char **)dst = config_strdup(s);
}

static int
config_valid_port(const char *s)
{
	const char *p = s;
	uint64_t port;

	return config_parse_digits(&p, 65535, &port) == 0 && *p == '\0' &&
	    port > 0;
}

static int
config_valid_listen(const char *s)
{
	const char *colon;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		char host[INET6_ADDRSTRLEN];
		unsigned char addr[16];
		size_t len;

		if (close == NULL || close[1] != ':')
			return 0;
		len = (size_t)(close - s - 1);
		if (len == 0 || len >= sizeof(host))
			return 0;
		memcpy(host, s + 1, len);
		host[len] = '\0';
		return inet_pton(AF_INET6, host, addr) == 1 &&
		    config_valid_port(close + 2);
	}
	colon = strchr(s, ':');
	if (colon == NULL || colon == s || strchr(colon + 1, ':') != NULL)
		return 0;
	for (const char *p = s; p < colon; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			return 0;
	return config_valid_port(colon + 1);
}

static void
config_field_listen(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);

	if (s == NULL)
		return;
	if (!config_valid_listen(s))
		config_error(ld, v, "%s: expected host:port or [IPv6]:port, "
		    "e.g. 127.0.0.1:8080 or [::]:8443", path);
	else
		*(char **)dst = config_strdup(s);
}

/* "sqlite:PATH" gets its path resolved; PostgreSQL URLs are kept as is. */
static void
config_field_store(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);
	char *file;

	if (s == NULL)
		return;
	if (strncmp(s, "postgresql://", 13) == 0 && s[13] != '\0') {
		*(char **)dst = config_strdup(s);
		return;
	}
	if (strncmp(s, "sqlite:", 7) != 0 || s[7] == '\0') {
		config_error(ld, v, "%s: expected sqlite:PATH or "
		    "postgresql://...", path);
		return;
	}
	file = config_resolve_path(ld, v, s + 7);
	if (asprintf((char **)dst, "sqlite:%s", file) == -1)
		abort();
	free(file);
}

/* The origin line of signed checkpoints: one line of printable text. */
static void
config_field_origin(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);

	if (s == NULL)
		return;
	for (const char *p = s; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			config_error(ld, v, "%s: must not contain spaces or "
			    "control characters", path);
			return;
		}
	}
	*(char **)dst = config_strdup(s);
}

/* ---- gateway -------------------------------------------------------------- */

static const struct config_field config_tls_fields[] = {
	{ .key = "cert", .parse = config_field_secret, .required = 1,
	  .offset = offsetof(struct config_tls, cert),
	  .doc = "file:PATH of the server certificate chain (PEM)" },
	{ .key = "key", .parse = config_field_secret, .required = 1,
	  .offset = offsetof(struct config_tls, key), .aux = SECRET_PRIVATE,
	  .doc = "file:PATH of the server private key (PEM, mode 0600)" },
	{ .key = "client_ca", .parse = config_field_secret,
	  .offset = offsetof(struct config_tls, client_ca),
	  .doc = "file:PATH of the CAs of client certificates; enables mTLS" },
	{ .key = NULL },
};

static void
config_field_tls(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	struct config_tls *tls = dst;

	config_table_apply(ld, path, config_tls_fields, v, tls);
	tls->enabled = 1;
}

static const struct config_field config_limits_fields[] = {
	{ .key = "max_body", .parse = config_field_size, .def = "1m",
	  .offset = offsetof(struct config_limits, max_body),
	  .doc = "largest request body accepted (413 past it)" },
	{ .key = "max_headers", .parse = config_field_size, .def = "16k",
	  .offset = offsetof(struct config_limits, max_headers),
	  .doc = "largest request line and headers accepted" },
	{ .key = "request_timeout", .parse = config_field_duration, .def = "30s",
	  .offset = offsetof(struct config_limits, request_timeout_ms),
	  .doc = "longest a request may take from first byte to response" },
	{ .key = "max_connections", .parse = config_field_count, .def = "1024",
	  .offset = offsetof(struct config_limits, max_connections),
	  .aux = 1000000, .doc = "open client connections, all workers together" },
	{ .key = NULL },
};

static const struct config_field config_audit_fields[] = {
	{ .key = "dir", .parse = config_field_path, .required = 1,
	  .offset = offsetof(struct config_audit, dir),
	  .doc = "directory of the audit log (entries, tiles, checkpoints)" },
	{ .key = "origin", .parse = config_field_origin, .required = 1,
	  .offset = offsetof(struct config_audit, origin),
	  .doc = "first line of every checkpoint, e.g. audit.example.org/log" },
	{ .key = "signing_key", .parse = config_field_secret, .required = 1,
	  .offset = offsetof(struct config_audit, signing_key),
	  .aux = SECRET_PRIVATE,
	  .doc = "Ed25519 private key (PEM) that signs checkpoints" },
	{ .key = "checkpoint_interval", .parse = config_field_duration,
	  .def = "1s", .offset = offsetof(struct config_audit,
	  checkpoint_interval_ms),
	  .doc = "how often a new signed checkpoint is written" },
	{ .key = NULL },
};

static const struct config_field config_gateway_fields[] = {
	{ .key = "listen", .parse = config_field_listen, .required = 1,
	  .offset = offsetof(struct config_gateway, listen),
	  .doc = "host:port or [IPv6]:port to accept connections on" },
	{ .key = "workers", .parse = config_field_count,
	  .offset = offsetof(struct config_gateway, workers),
	  .aux = CONFIG_MAX_WORKERS,
	  .doc = "event-loop threads; default: the number of online CPUs" },
	{ .key = "log_level", .parse = config_field_log_level, .def = "info",
	  .offset = offsetof(struct config_gateway, log_level),
	  .doc = "debug, info, warn or error" },
	{ .key = "user", .parse = config_field_string,
	  .offset = offsetof(struct config_gateway, user),
	  .doc = "when started as root: the user to run as once the socket is "
	  "bound and the keys are read" },
	{ .key = "tls", .parse = config_field_tls,
	  .offset = offsetof(struct config_gateway, tls),
	  .doc = "serve HTTPS: {cert, key, client_ca}" },
	{ .key = "store", .parse = config_field_store, .required = 1,
	  .offset = offsetof(struct config_gateway, store),
	  .doc = "sqlite:PATH or postgresql://..." },
	{ .key = "pseudonym_key", .parse = config_field_pseudonym_key,
	  .required = 1, .offset = offsetof(struct config_gateway,
	  pseudonym_key), .aux = SECRET_PRIVATE | SECRET_TRIM,
	  .doc = "key of the subject pseudonyms, 32 bytes or more" },
	{ .key = "admin_token", .parse = config_field_secret, .required = 1,
	  .offset = offsetof(struct config_gateway, admin_token),
	  .aux = SECRET_PRIVATE | SECRET_TRIM,
	  .doc = "bearer token of the admin API" },
	{ .key = "limits", .parse = config_field_table,
	  .offset = offsetof(struct config_gateway, limits),
	  .sub = config_limits_fields, .doc = "request and connection limits" },
	{ .key = "audit", .parse = config_field_table, .required = 1,
	  .offset = offsetof(struct config_gateway, audit),
	  .sub = config_audit_fields, .doc = "the signed audit log" },
	{ .key = NULL },
};

static int
config_online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > CONFIG_MAX_WORKERS ? CONFIG_MAX_WORKERS : (int)n;
}

static void
config_gateway_load(struct config_loader *ld)
{
	struct config_gateway *gw = &ld->cfg->gateway;

	config_table_apply(ld, "gateway", config_gateway_fields, ld->gateway, gw);
	/* No default text: the default depends on the machine. */
	if (gw->workers == 0)
		gw->workers = config_online_cpus();
}

/* ---- datasets ------------------------------------------------------------- */

static const char *const config_attr_type_names[] = {
	[CONFIG_ATTR_STRING] = "string",
	[CONFIG_ATTR_INTEGER] = "integer",
	[CONFIG_ATTR_NUMBER] = "number",
	[CONFIG_ATTR_BOOLEAN] = "boolean",
	[CONFIG_ATTR_DATE] = "date",
};

static int
config_attr_type_parse(const char *s, enum config_attr_type *type)
{
	for (size_t i = 0; i < CONFIG_NITEMS(config_attr_type_names); i++) {
		if (strcmp(s, config_attr_type_names[i]) == 0) {
			*type = (enum config_attr_type)i;
			return 0;
		}
	}
	return -1;
}

/* dst: the struct config_dataset. */
static void
config_field_attributes(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	struct config_dataset *ds = dst;

	if (config_expect(ld, path, v, YAMLTREE_MAPPING) == -1)
		return;
	if (v->n == 0) {
		config_error(ld, v, "%s: a dataset needs at least one attribute",
		    path);
		return;
	}
	ds->attributes = config_calloc(v->n / 2, sizeof(*ds->attributes));
	for (size_t i = 0; i < v->n; i += 2) {
		const struct yamltree *name = v->items[i];
		struct config_attribute *attr;
		char apath[CONFIG_PATH_MAX];
		const char *type;

		config_key_path(apath, sizeof(apath), path, name->value);
		if (!config_valid_attribute(name->value)) {
			config_error(ld, name, "%s: an attribute name may only "
			    "contain letters, digits and _", apath);
			continue;
		}
		if ((type = config_scalar(ld, apath, v->items[i + 1])) == NULL)
			continue;
		attr = &ds->attributes[ds->nattributes];
		if (config_attr_type_parse(type, &attr->type) == -1) {
			config_error(ld, v->items[i + 1], "%s: unknown type '%s' "
			    "(expected string, integer, number, boolean or date)",
			    apath, type);
			continue;
		}
		attr->name = config_strdup(name->value);
		ds->nattributes++;
	}
}

static const struct config_field config_dataset_fields[] = {
	{ .key = "attributes", .parse = config_field_attributes, .required = 1,
	  .doc = "name: type, with types string, integer, number, boolean, date" },
	{ .key = "description", .parse = config_field_comment,
	  .doc = "free text for readers of the configuration" },
	{ .key = NULL },
};

/* Counts the entries of every collected mapping. */
static size_t
config_count_pairs(const struct config_nodes *maps)
{
	size_t n = 0;

	for (size_t i = 0; i < maps->n; i++)
		n += maps->v[i]->n / 2;
	return n;
}

static int
config_check_id(struct config_loader *ld, const char *section,
    const struct yamltree *key, const struct yamltree **seen, size_t nseen)
{
	if (!config_valid_id(key->value)) {
		config_error(ld, key, "%s: '%s' may only contain a-z, 0-9, _ "
		    "and -", section, key->value);
		return -1;
	}
	for (size_t i = 0; i < nseen; i++) {
		if (seen[i] != NULL && strcmp(seen[i]->value, key->value) == 0) {
			config_error(ld, key, "%s.%s: defined twice (first at "
			    "%s:%d:%d)", section, key->value, seen[i]->file,
			    seen[i]->line, seen[i]->col);
			return -1;
		}
	}
	return 0;
}

static void
config_datasets_load(struct config_loader *ld)
{
	struct config *cfg = ld->cfg;
	size_t total = config_count_pairs(&ld->datasets);

	cfg->datasets = config_calloc(total, sizeof(*cfg->datasets));
	ld->dataset_keys = config_calloc(total, sizeof(*ld->dataset_keys));
	for (size_t m = 0; m < ld->datasets.n; m++) {
		const struct yamltree *map = ld->datasets.v[m];

		for (size_t i = 0; i < map->n; i += 2) {
			const struct yamltree *key = map->items[i];
			struct config_dataset *ds;
			char path[CONFIG_PATH_MAX];

			if (config_check_id(ld, "datasets", key, ld->dataset_keys,
			    cfg->ndatasets) == -1)
				continue;
			ld->dataset_keys[cfg->ndatasets] = key;
			ds = &cfg->datasets[cfg->ndatasets++];
			ds->name = config_strdup(key->value);
			config_key_path(path, sizeof(path), "datasets", key->value);
			config_table_apply(ld, path, config_dataset_fields,
			    map->items[i + 1], ds);
		}
	}
}

/* ---- references ----------------------------------------------------------- */

static void
config_field_service_ref(struct config_loader *ld,
    const struct config_field *f, const char *path, const struct yamltree *v,
    void *dst)
{
	const char *id = config_scalar(ld, path, v);
	const struct config_service *s;

	if (id == NULL)
		return;
	if ((s = config_find_service(ld->cfg, id)) == NULL)
		config_error(ld, v, "%s: unknown service '%s'", path, id);
	*(const struct config_service **)dst = s;
}

static void
config_field_dataset_ref(struct config_loader *ld,
    const struct config_field *f, const char *path, const struct yamltree *v,
    void *dst)
{
	const char *name = config_scalar(ld, path, v);
	const struct config_dataset *ds;

	if (name == NULL)
		return;
	if ((ds = config_find_dataset(ld->cfg, name)) == NULL)
		config_error(ld, v, "%s: unknown dataset '%s'", path, name);
	*(const struct config_dataset **)dst = ds;
}

/* ---- connectors ----------------------------------------------------------- */

static const char *const config_methods[] = { "GET", "POST", "PUT", "PATCH",
	"DELETE" };

static void
config_field_method(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);
	char upper[8];
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; s[i] != '\0' && i < sizeof(upper) - 1; i++)
		upper[i] = (char)toupper((unsigned char)s[i]);
	upper[i] = '\0';
	/* s[i] is not NUL when s was too long to be a method. */
	for (size_t m = 0; s[i] == '\0' && m < CONFIG_NITEMS(config_methods);
	    m++) {
		if (strcmp(upper, config_methods[m]) == 0) {
			*(char **)dst = config_strdup(upper);
			return;
		}
	}
	config_error(ld, v, "%s: expected GET, POST, PUT, PATCH or DELETE", path);
}

static void
config_field_url_path(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);

	if (s == NULL)
		return;
	if (s[0] != '/')
		config_error(ld, v, "%s: must start with /", path);
	else
		*(char **)dst = config_strdup(s);
}

static const struct config_field config_endpoint_fields[] = {
	{ .key = "method", .parse = config_field_method, .required = 1,
	  .offset = offsetof(struct connector_endpoint, method),
	  .doc = "GET, POST, PUT, PATCH or DELETE" },
	{ .key = "path", .parse = config_field_url_path, .required = 1,
	  .offset = offsetof(struct connector_endpoint, path),
	  .doc = "path template starting with /, e.g. /citizens/{local_id}" },
	{ .key = NULL },
};

static void
config_field_endpoint(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	config_table_apply(ld, path, config_endpoint_fields, v, dst);
}

static void
config_field_strmap(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	struct connector_strmap *m = dst;

	if (config_expect(ld, path, v, YAMLTREE_MAPPING) == -1)
		return;
	m->keys = config_calloc(v->n / 2, sizeof(*m->keys));
	m->values = config_calloc(v->n / 2, sizeof(*m->values));
	for (size_t i = 0; i < v->n; i += 2) {
		char kpath[CONFIG_PATH_MAX];
		const char *value;

		config_key_path(kpath, sizeof(kpath), path, v->items[i]->value);
		if ((value = config_scalar(ld, kpath, v->items[i + 1])) == NULL)
			continue;
		m->keys[m->n] = config_strdup(v->items[i]->value);
		m->values[m->n++] = config_strdup(value);
	}
}

static void
config_field_strlist(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	struct connector_strlist *l = dst;

	if (config_expect(ld, path, v, YAMLTREE_SEQUENCE) == -1)
		return;
	l->items = config_calloc(v->n, sizeof(*l->items));
	for (size_t i = 0; i < v->n; i++) {
		const char *value = config_scalar(ld, path, v->items[i]);

		if (value != NULL)
			l->items[l->n++] = config_strdup(value);
	}
}

/* A dotted path into the service's JSON: "adresse.cp". */
static int
config_valid_json_path(const char *s)
{
	int segment = 0;

	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (segment == 0)
				return 0;
			segment = 0;
		} else if ((unsigned char)*s <= ' ')
			return 0;
		else
			segment++;
	}
	return segment > 0;
}

/* The first attribute of that name in any dataset: a connector serves
 * every dataset its service provides, so `map` is one flat mapping. */
static const struct config_attribute *
config_any_attribute(const struct config *cfg, const char *name)
{
	const struct config_attribute *attr;

	for (size_t i = 0; i < cfg->ndatasets; i++)
		if ((attr = config_find_attribute(&cfg->datasets[i], name)))
			return attr;
	return NULL;
}

static void
config_field_json_path(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);

	if (s == NULL)
		return;
	if (!config_valid_json_path(s))
		config_error(ld, v, "%s: expected a dotted path such as "
		    "adresse.cp", path);
	else
		*(char **)dst = config_strdup(s);
}

/* dst: the struct config_transform of a concat. */
static void
config_field_json_paths(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	struct config_transform *t = dst;

	if (config_expect(ld, path, v, YAMLTREE_SEQUENCE) == -1)
		return;
	if (v->n == 0) {
		config_error(ld, v, "%s: list at least one path", path);
		return;
	}
	t->paths = config_calloc(v->n, sizeof(*t->paths));
	for (size_t i = 0; i < v->n; i++) {
		char *p = NULL;

		config_field_json_path(ld, f, path, v->items[i], &p);
		if (p != NULL)
			t->paths[t->npaths++] = p;
	}
}

static void
config_field_date_format(struct config_loader *ld,
    const struct config_field *f, const char *path, const struct yamltree *v,
    void *dst)
{
	const char *s = config_scalar(ld, path, v);

	if (s == NULL)
		return;
	if (strcmp(s, "iso") == 0)
		s = "YYYY-MM-DD";
	if (!mapping_date_format_ok(s))
		config_error(ld, v, "%s: expected a date format with YYYY, MM "
		    "and DD once each, e.g. DD/MM/YYYY, or iso", path);
	else
		*(char **)dst = config_strdup(s);
}

static const struct config_field config_date_fields[] = {
	{ .key = "from", .parse = config_field_date_format, .required = 1,
	  .offset = offsetof(struct config_transform, from),
	  .doc = "how the service writes dates, e.g. DD/MM/YYYY" },
	{ .key = "to", .parse = config_field_date_format, .def = "iso",
	  .offset = offsetof(struct config_transform, to),
	  .doc = "how the attribute holds them; iso is YYYY-MM-DD" },
	{ .key = NULL },
};

static const struct config_field config_concat_fields[] = {
	{ .key = "paths", .parse = config_field_json_paths, .required = 1,
	  .doc = "the service's fields joined, in order; absent ones skipped" },
	{ .key = "sep", .parse = config_field_string,
	  .offset = offsetof(struct config_transform, sep),
	  .doc = "put between two parts; default none" },
	{ .key = NULL },
};

static const struct config_field config_split_fields[] = {
	{ .key = "sep", .parse = config_field_string, .required = 1,
	  .offset = offsetof(struct config_transform, sep),
	  .doc = "where the value is cut" },
	{ .key = "index", .parse = config_field_int64, .def = "0",
	  .offset = offsetof(struct config_transform, index),
	  .doc = "the part kept: 0 the first, -1 the last" },
	{ .key = NULL },
};

static const char *const config_transform_names[] = {
	[CONFIG_TRANSFORM_TRIM] = "trim",
	[CONFIG_TRANSFORM_UPPER] = "upper",
	[CONFIG_TRANSFORM_LOWER] = "lower",
	[CONFIG_TRANSFORM_DATE] = "date",
	[CONFIG_TRANSFORM_CONCAT] = "concat",
	[CONFIG_TRANSFORM_SPLIT] = "split",
	[CONFIG_TRANSFORM_CONSTANT] = "constant",
	[CONFIG_TRANSFORM_DEFAULT] = "default",
};

/* A constant's or default's value, which must fit the attribute. */
static int
config_transform_value(struct config_loader *ld, const char *path,
    const struct yamltree *v, const struct config_attribute *attr,
    struct config_transform *t)
{
	const char *s = config_scalar(ld, path, v);
	json_t *value;

	if (s == NULL)
		return -1;
	if ((value = mapping_scalar(attr->type, s)) == NULL) {
		config_error(ld, v, "%s: '%s' is not a valid %s value for "
		    "attribute %s", path, s, config_attr_type_names[attr->type],
		    attr->name);
		return -1;
	}
	json_decref(value);
	t->value = config_strdup(s);
	return 0;
}

/* One item of a transform list: trim, upper or lower alone, or a one-key
 * mapping {date|concat|split: {...}} or {constant|default: VALUE}. */
static int
config_transform(struct config_loader *ld, const char *path,
    const struct yamltree *item, const struct config_attribute *attr,
    struct config_transform *t)
{
	const struct yamltree *key, *value;
	char tpath[CONFIG_PATH_MAX * 2];
	size_t before = ld->errs->n;
	size_t k;

	key = item->kind == YAMLTREE_MAPPING && item->n == 2 ? item->items[0] :
	    item;
	for (k = 0; k < CONFIG_NITEMS(config_transform_names); k++)
		if (key->kind == YAMLTREE_SCALAR && key->value != NULL &&
		    strcmp(key->value, config_transform_names[k]) == 0)
			break;
	if (k == CONFIG_NITEMS(config_transform_names) ||
	    (key == item) != (k <= CONFIG_TRANSFORM_LOWER)) {
		config_error(ld, item, "%s: expected trim, upper, lower, or one "
		    "of {date: {from, to}}, {concat: {paths, sep}}, {split: "
		    "{sep, index}}, {constant: VALUE}, {default: VALUE}", path);
		return -1;
	}
	t->kind = (enum config_transform_kind)k;
	if (key == item)
		return 0;
	value = item->items[1];
	config_key_path(tpath, sizeof(tpath), path, key->value);
	switch (t->kind) {
	case CONFIG_TRANSFORM_DATE:
		config_table_apply(ld, tpath, config_date_fields, value, t);
		break;
	case CONFIG_TRANSFORM_CONCAT:
		config_table_apply(ld, tpath, config_concat_fields, value, t);
		break;
	case CONFIG_TRANSFORM_SPLIT:
		config_table_apply(ld, tpath, config_split_fields, value, t);
		break;
	default:
		return config_transform_value(ld, tpath, value, attr, t);
	}
	return ld->errs->n == before ? 0 : -1;
}

static void
config_transform_free(struct config_transform *t)
{
	free(t->from);
	free(t->to);
	for (size_t i = 0; i < t->npaths; i++)
		free(t->paths[i]);
	free(t->paths);
	free(t->sep);
	free(t->value);
}

/* dst: the struct config_mapping, its attribute set. */
static void
config_field_transforms(struct config_loader *ld,
    const struct config_field *f, const char *path, const struct yamltree *v,
    void *dst)
{
	struct config_mapping *m = dst;

	if (config_expect(ld, path, v, YAMLTREE_SEQUENCE) == -1)
		return;
	m->transforms = config_calloc(v->n, sizeof(*m->transforms));
	for (size_t i = 0; i < v->n; i++) {
		char ipath[CONFIG_PATH_MAX];

		snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
		if (config_transform(ld, ipath, v->items[i], m->attribute,
		    &m->transforms[m->ntransforms]) == 0)
			m->ntransforms++;
		else
			config_transform_free(&m->transforms[m->ntransforms]);
	}
}

static const struct config_field config_map_entry_fields[] = {
	{ .key = "path", .parse = config_field_json_path,
	  .offset = offsetof(struct config_mapping, path),
	  .doc = "dotted path into the service's JSON, e.g. adresse.cp" },
	{ .key = "transform", .parse = config_field_transforms,
	  .doc = "steps applied in order when reading: trim, upper, lower, "
	  "date, concat, split, constant, default" },
	{ .key = NULL },
};

/* A path is needed unless a concat or a constant makes the value. */
static void
config_map_entry_check(struct config_loader *ld, const char *path,
    const struct yamltree *v, const struct config_mapping *m)
{
	if (yamltree_get(v, "path") != NULL)
		return;
	for (size_t i = 0; i < m->ntransforms; i++)
		if (m->transforms[i].kind == CONFIG_TRANSFORM_CONCAT ||
		    m->transforms[i].kind == CONFIG_TRANSFORM_CONSTANT)
			return;
	config_error(ld, v, "%s: needs a path, unless a concat or a constant "
	    "transform makes the value", path);
}

/* The connector's `map`; ld->connector is the one being loaded. Each
 * entry is a dotted path, or {path, transform}. */
static void
config_field_map(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	struct config_connector *c = ld->connector;

	if (config_expect(ld, path, v, YAMLTREE_MAPPING) == -1)
		return;
	c->map = config_calloc(v->n / 2, sizeof(*c->map));
	for (size_t i = 0; i < v->n; i += 2) {
		const struct yamltree *key = v->items[i], *value = v->items[i + 1];
		struct config_mapping *m = &c->map[c->nmap];
		char kpath[CONFIG_PATH_MAX];

		config_key_path(kpath, sizeof(kpath), path, key->value);
		if ((m->attribute = config_any_attribute(ld->cfg,
		    key->value)) == NULL) {
			config_error(ld, key, "%s: no dataset has an attribute "
			    "'%s'", kpath, key->value);
			continue;
		}
		if (value->kind == YAMLTREE_MAPPING) {
			config_table_apply(ld, kpath, config_map_entry_fields,
			    value, m);
			config_map_entry_check(ld, kpath, value, m);
		} else
			config_field_json_path(ld, f, kpath, value, &m->path);
		/* Kept even when wrong, so that config_free frees it. */
		c->nmap++;
	}
}

/* Already read by config_field_connector; listed so it is a known key. */
static void
config_field_skip(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
}

static config_field_fn *const config_connector_parsers[] = {
	[CONNECTOR_KEY_STRING] = config_field_string,
	[CONNECTOR_KEY_SECRET] = config_field_secret_string,
	[CONNECTOR_KEY_INT] = config_field_int64,
	[CONNECTOR_KEY_BOOL] = config_field_bool,
	[CONNECTOR_KEY_DURATION] = config_field_duration,
	[CONNECTOR_KEY_ENDPOINT] = config_field_endpoint,
	[CONNECTOR_KEY_STRMAP] = config_field_strmap,
	[CONNECTOR_KEY_PATH] = config_field_path,
	[CONNECTOR_KEY_LIST] = config_field_strlist,
};

static const struct config_field config_poll_fields[] = {
	{ .key = "dataset", .parse = config_field_dataset_ref, .required = 1,
	  .offset = offsetof(struct config_poll, dataset),
	  .doc = "the dataset whose changes the service gives" },
	{ .key = "interval", .parse = config_field_duration, .def = "10s",
	  .offset = offsetof(struct config_poll, interval_ms),
	  .doc = "how often the gateway asks for changes" },
	{ .key = NULL },
};

/* `poll: {dataset, interval}`; dst is unused: like `map`, it belongs to
 * the connector being loaded. */
static void
config_field_poll(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	struct config_connector *c = ld->connector;

	config_table_apply(ld, path, config_poll_fields, v, &c->poll);
	if (c->ops->changes == NULL)
		config_error(ld, v, "%s: the %s connector cannot give changes",
		    path, c->ops->name);
}

/* The connector's keys as a field table, after the core's own `type`, `map`,
 * `poll` (and a plugin's `path`), so one table_apply() handles unknown keys and
 * defaults. Caller frees. */
static struct config_field *
config_connector_table(const struct connector_ops *ops, int plugin)
{
	struct config_field *table;
	size_t n = 0, core = plugin ? 4 : 3;

	while (ops->keys[n].name != NULL)
		n++;
	table = config_calloc(n + core + 1, sizeof(*table));
	table[0].key = "type";
	table[0].parse = config_field_skip;
	table[1].key = "map";
	table[1].parse = config_field_map;
	table[2].key = "poll";
	table[2].parse = config_field_poll;
	if (plugin) {
		table[3].key = "path";
		table[3].parse = config_field_skip;
	}
	for (size_t i = 0; i < n; i++) {
		const struct connector_key *k = &ops->keys[i];
		struct config_field *f = &table[core + i];

		f->key = k->name;
		f->parse = config_connector_parsers[k->type];
		f->required = k->required;
		f->def = k->default_value;
		f->offset = k->offset;
		f->aux = SECRET_PRIVATE | SECRET_TRIM;
		f->doc = k->doc;
	}
	return table;
}

static void
config_connector_types(char *buf, size_t len)
{
	const struct connector_ops *const *all = registry_all();
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; all[i] != NULL && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
		    i ? ", " : "", all[i]->name);
}

/* `type: plugin`: the ops come from the shared object named by `path`,
 * relative to the file that names it. */
static const struct connector_ops *
config_plugin_ops(struct config_loader *ld, const char *path,
    const struct yamltree *block)
{
	const struct yamltree *pv = yamltree_get(block, "path");
	const struct connector_ops *ops;
	char ppath[CONFIG_PATH_MAX], err[512], *file;
	const char *rel;

	config_key_path(ppath, sizeof(ppath), path, "path");
	if (pv == NULL) {
		config_error(ld, block, "%s: a plugin needs 'path', the shared "
		    "object to load", path);
		return NULL;
	}
	if ((rel = config_scalar(ld, ppath, pv)) == NULL)
		return NULL;
	file = config_resolve_path(ld, pv, rel);
	if ((ops = plugin_load(file, err, sizeof(err))) == NULL)
		config_error(ld, pv, "%s: %s: %s", ppath, file, err);
	free(file);
	return ops;
}

static const struct connector_ops *
config_connector_ops(struct config_loader *ld, const char *path,
    const struct yamltree *block)
{
	const struct yamltree *tv = yamltree_get(block, "type");
	const struct connector_ops *ops;
	char tpath[CONFIG_PATH_MAX], known[256];
	const char *type;

	config_key_path(tpath, sizeof(tpath), path, "type");
	if (tv == NULL) {
		config_error(ld, block, "%s: missing required key 'type'", path);
		return NULL;
	}
	if ((type = config_scalar(ld, tpath, tv)) == NULL)
		return NULL;
	if (strcmp(type, "plugin") == 0)
		return config_plugin_ops(ld, path, block);
	if ((ops = registry_find(type)) == NULL) {
		config_connector_types(known, sizeof(known));
		config_error(ld, tv, "%s: unknown connector type '%s' (known: "
		    "%s)", tpath, type, known);
	}
	return ops;
}

/* dst: the service's struct config_connector *. */
static void
config_field_connector(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const struct connector_ops *ops;
	struct config_connector *c;
	struct config_field *table;
	size_t before = ld->errs->n;
	char err[512];

	if (config_expect(ld, path, v, YAMLTREE_MAPPING) == -1 ||
	    (ops = config_connector_ops(ld, path, v)) == NULL)
		return;
	c = config_calloc(1, sizeof(*c));
	c->type = config_strdup(registry_find(ops->name) == ops ? ops->name :
	    "plugin");
	c->ops = ops;
	c->settings = config_calloc(1, ops->settings_size);
	c->line = v->line;
	c->col = v->col;
	*(struct config_connector **)dst = c;
	ld->connector = c;
	table = config_connector_table(ops, strcmp(c->type, "plugin") == 0);
	config_table_apply(ld, path, table, v, c->settings);
	free(table);
	ld->connector = NULL;
	if (ld->errs->n == before && ops->validate != NULL &&
	    ops->validate(c->settings, err, sizeof(err)) == -1)
		config_error(ld, v, "%s: %s", path, err);
}

static void
config_connector_free(struct config_connector *c)
{
	if (c == NULL)
		return;
	for (const struct connector_key *k = c->ops->keys; k->name; k++) {
		void *p = (char *)c->settings + k->offset;
		struct connector_endpoint *ep = p;
		struct connector_strmap *m = p;
		struct connector_strlist *l = p;
		char **s = p;

		switch (k->type) {
		case CONNECTOR_KEY_SECRET:
			if (*s != NULL)
				OPENSSL_cleanse(*s, strlen(*s));
			/* FALLTHROUGH */
		case CONNECTOR_KEY_STRING:
		case CONNECTOR_KEY_PATH:
			free(*s);
			break;
		case CONNECTOR_KEY_ENDPOINT:
			free(ep->method);
			free(ep->path);
			break;
		case CONNECTOR_KEY_STRMAP:
			for (size_t i = 0; i < m->n; i++) {
				free(m->keys[i]);
				free(m->values[i]);
			}
			free(m->keys);
			free(m->values);
			break;
		case CONNECTOR_KEY_LIST:
			for (size_t i = 0; i < l->n; i++)
				free(l->items[i]);
			free(l->items);
			break;
		default:
			break;
		}
	}
	for (size_t i = 0; i < c->nmap; i++) {
		for (size_t j = 0; j < c->map[i].ntransforms; j++)
			config_transform_free(&c->map[i].transforms[j]);
		free(c->map[i].transforms);
		free(c->map[i].path);
	}
	free(c->map);
	free(c->settings);
	free(c->type);
	free(c);
}

/* ---- services ------------------------------------------------------------- */

/* dst: the struct config_service. Only the hash is kept; the key is wiped
 * as soon as it is hashed. */
static void
config_field_api_key(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	struct config_service *svc = dst;
	struct secret key;

	memset(&key, 0, sizeof(key));
	config_field_secret(ld, f, path, v, &key);
	if (key.data == NULL)
		return;
	SHA256(key.data, key.len, svc->api_key_sha256);
	secret_wipe(&key);
	svc->has_api_key = 1;
	for (struct config_service *o = ld->cfg->services; o < svc; o++) {
		if (o->has_api_key && CRYPTO_memcmp(o->api_key_sha256,
		    svc->api_key_sha256, sizeof(svc->api_key_sha256)) == 0) {
			config_error(ld, v, "%s: the same key as service '%s'; "
			    "every service needs its own", path, o->id);
			return;
		}
	}
}

static void
config_field_cert_hash(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	struct config_service *svc = dst;
	const char *hex = config_scalar(ld, path, v);

	if (hex == NULL)
		return;
	if (decode_hex(hex, svc->client_cert_sha256,
	    sizeof(svc->client_cert_sha256)) == -1) {
		config_error(ld, v, "%s: expected the 64 hex digits of the "
		    "certificate's SHA-256", path);
		return;
	}
	svc->has_client_cert = 1;
	for (struct config_service *o = ld->cfg->services; o < svc; o++) {
		if (o->has_client_cert && memcmp(o->client_cert_sha256,
		    svc->client_cert_sha256, 32) == 0) {
			config_error(ld, v, "%s: the same certificate as service "
			    "'%s'; every service needs its own", path, o->id);
			return;
		}
	}
}

static const struct config_field config_auth_fields[] = {
	{ .key = "api_key", .parse = config_field_api_key,
	  .aux = SECRET_PRIVATE | SECRET_TRIM,
	  .doc = "bearer token of the service (env: or file:); only its hash is kept" },
	{ .key = "client_cert_sha256", .parse = config_field_cert_hash,
	  .doc = "SHA-256 of the service's TLS client certificate (DER), hex" },
	{ .key = NULL },
};

/* dst: the struct config_service. */
static void
config_field_auth(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	config_table_apply(ld, path, config_auth_fields, v, dst);
	if (v->kind == YAMLTREE_MAPPING && yamltree_get(v, "api_key") == NULL &&
	    yamltree_get(v, "client_cert_sha256") == NULL)
		config_error(ld, v, "%s: needs api_key or client_cert_sha256",
		    path);
}

static void
config_field_roles(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	unsigned *roles = dst;

	if (config_expect(ld, path, v, YAMLTREE_SEQUENCE) == -1)
		return;
	for (size_t i = 0; i < v->n; i++) {
		const char *role = config_scalar(ld, path, v->items[i]);

		if (role == NULL)
			continue;
		if (strcmp(role, "transparency") == 0)
			*roles |= CONFIG_ROLE_TRANSPARENCY;
		else
			config_error(ld, v->items[i], "%s: unknown role '%s' "
			    "(known: transparency)", path, role);
	}
}

/* "50/s", "600/m", "10000/h" → requests per second. */
static void
config_field_rate(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	static const struct { const char *unit; double per_s; } units[] = {
		{ "/s", 1.0 }, { "/m", 1.0 / 60 }, { "/h", 1.0 / 3600 },
	};
	const char *s = config_scalar(ld, path, v), *p = s;
	uint64_t n;

	if (s == NULL)
		return;
	if (config_parse_digits(&p, 1000000000, &n) == 0 && n > 0)
		for (size_t i = 0; i < CONFIG_NITEMS(units); i++)
			if (strcmp(p, units[i].unit) == 0) {
				*(double *)dst = (double)n * units[i].per_s;
				return;
			}
	config_error(ld, v, "%s: expected requests per second, minute or "
	    "hour, e.g. 50/s or 600/m", path);
}

static const struct config_field config_rate_limit_fields[] = {
	{ .key = "rate", .parse = config_field_rate, .required = 1,
	  .offset = offsetof(struct config_rate_limit, rate),
	  .doc = "sustained requests: N/s, N/m or N/h" },
	{ .key = "burst", .parse = config_field_count,
	  .offset = offsetof(struct config_rate_limit, burst),
	  .aux = 1000000000,
	  .doc = "requests allowed at once; default: one second's worth" },
	{ .key = NULL },
};

static void
config_field_rate_limit(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	struct config_rate_limit *rl = dst;

	config_table_apply(ld, path, config_rate_limit_fields, v, rl);
	if (rl->rate > 0 && rl->burst == 0)
		rl->burst = rl->rate < 1 ? 1 : (int)ceil(rl->rate);
}

static const struct config_field config_subscription_fields[] = {
	{ .key = "dataset", .parse = config_field_dataset_ref, .required = 1,
	  .offset = offsetof(struct config_subscription, dataset),
	  .doc = "the dataset whose changes the service receives" },
	{ .key = "from", .parse = config_field_service_ref, .required = 1,
	  .offset = offsetof(struct config_subscription, from),
	  .doc = "the service those changes come from" },
	{ .key = NULL },
};

/* dst: the struct config_service, which is ld->service. */
static void
config_field_subscribes(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	struct config_service *svc = dst;

	if (config_expect(ld, path, v, YAMLTREE_SEQUENCE) == -1)
		return;
	svc->subscribes = config_calloc(v->n, sizeof(*svc->subscribes));
	for (size_t i = 0; i < v->n; i++) {
		struct config_subscription *sub = &svc->subscribes[svc->nsubscribes];
		char ipath[CONFIG_PATH_MAX];

		/* The slot of a refused entry is reused: clear what it left. */
		memset(sub, 0, sizeof(*sub));
		snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
		config_table_apply(ld, ipath, config_subscription_fields,
		    v->items[i], sub);
		if (sub->from == svc) {
			config_error(ld, yamltree_get(v->items[i], "from"),
			    "%s.from: a service cannot subscribe to itself",
			    ipath);
			continue;
		}
		if (sub->dataset != NULL && sub->from != NULL)
			svc->nsubscribes++;
	}
}

static const struct config_field config_delivery_fields[] = {
	{ .key = "base", .parse = config_field_duration, .def = "500ms",
	  .offset = offsetof(struct config_delivery, base_ms),
	  .doc = "delay before the first retry; doubles on each failure" },
	{ .key = "cap", .parse = config_field_duration, .def = "5m",
	  .offset = offsetof(struct config_delivery, cap_ms),
	  .doc = "longest delay between two retries" },
	{ .key = "max_attempts", .parse = config_field_count, .def = "10",
	  .offset = offsetof(struct config_delivery, max_attempts), .aux = 1000,
	  .doc = "attempts before a delivery goes to the dead letters" },
	{ .key = "max_age", .parse = config_field_duration, .def = "24h",
	  .offset = offsetof(struct config_delivery, max_age_ms),
	  .doc = "age after which a failing delivery goes to the dead letters" },
	{ .key = "circuit_threshold", .parse = config_field_count, .def = "5",
	  .offset = offsetof(struct config_delivery, circuit_threshold),
	  .aux = 1000, .doc = "failures in a row that open the circuit breaker" },
	{ .key = "circuit_cooldown", .parse = config_field_duration, .def = "30s",
	  .offset = offsetof(struct config_delivery, circuit_cooldown_ms),
	  .doc = "how long an open circuit waits before one probe delivery" },
	{ .key = "concurrency", .parse = config_field_count, .def = "32",
	  .offset = offsetof(struct config_delivery, concurrency), .aux = 1024,
	  .doc = "deliveries in flight to this service at once" },
	{ .key = NULL },
};

static const struct config_field config_service_fields[] = {
	{ .key = "name", .parse = config_field_string, .required = 1,
	  .offset = offsetof(struct config_service, name),
	  .doc = "human-readable name, shown to citizens in access logs" },
	{ .key = "auth", .parse = config_field_auth, .required = 1,
	  .doc = "how the service authenticates: {api_key, client_cert_sha256}" },
	{ .key = "roles", .parse = config_field_roles,
	  .offset = offsetof(struct config_service, roles),
	  .doc = "extra rights: transparency (read subjects' access logs)" },
	{ .key = "connector", .parse = config_field_connector,
	  .offset = offsetof(struct config_service, connector),
	  .doc = "how the gateway calls the service: {type, map, ...}" },
	{ .key = "subscribes", .parse = config_field_subscribes,
	  .doc = "[{dataset, from}]: changes pushed to this service" },
	{ .key = "delivery", .parse = config_field_table,
	  .sub = config_delivery_fields,
	  .offset = offsetof(struct config_service, delivery),
	  .doc = "retries and circuit breaker of pushes to this service" },
	{ .key = "rate_limit", .parse = config_field_rate_limit,
	  .offset = offsetof(struct config_service, rate_limit),
	  .doc = "{rate, burst}: requests allowed (429 beyond); default none" },
	{ .key = NULL },
};

static void
config_services_load(struct config_loader *ld)
{
	struct config *cfg = ld->cfg;
	size_t total = config_count_pairs(&ld->services);

	cfg->services = config_calloc(total, sizeof(*cfg->services));
	ld->service_keys = config_calloc(total, sizeof(*ld->service_keys));
	ld->service_bodies = config_calloc(total, sizeof(*ld->service_bodies));
	/* Every id first, so that subscriptions may name any service. */
	for (size_t m = 0; m < ld->services.n; m++) {
		const struct yamltree *map = ld->services.v[m];

		for (size_t i = 0; i < map->n; i += 2) {
			if (config_check_id(ld, "services", map->items[i],
			    ld->service_keys, cfg->nservices) == -1)
				continue;
			ld->service_keys[cfg->nservices] = map->items[i];
			ld->service_bodies[cfg->nservices] = map->items[i + 1];
			cfg->services[cfg->nservices++].id =
			    config_strdup(map->items[i]->value);
		}
	}
	for (size_t i = 0; i < cfg->nservices; i++) {
		char path[CONFIG_PATH_MAX];

		ld->service = &cfg->services[i];
		config_key_path(path, sizeof(path), "services", ld->service->id);
		config_table_apply(ld, path, config_service_fields,
		    ld->service_bodies[i], ld->service);
	}
	ld->service = NULL;
}

/* ---- policies ------------------------------------------------------------- */

/* dst: the struct config_policy, the last one in cfg->policies. */
static void
config_field_policy_id(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	struct config_policy *p = dst;
	size_t self = ld->cfg->npolicies - 1;

	if (config_scalar(ld, path, v) == NULL ||
	    config_check_id(ld, "policies", v, ld->policy_ids, self) == -1)
		return;
	ld->policy_ids[self] = v;
	p->id = config_strdup(v->value);
}

/* dst: the struct config_policy; its dataset is already resolved. */
static void
config_field_policy_attributes(struct config_loader *ld,
    const struct config_field *f, const char *path, const struct yamltree *v,
    void *dst)
{
	struct config_policy *p = dst;

	if (config_expect(ld, path, v, YAMLTREE_SEQUENCE) == -1)
		return;
	if (v->n == 0) {
		config_error(ld, v, "%s: list at least one attribute", path);
		return;
	}
	if (p->dataset == NULL)
		return;
	p->attributes = config_calloc(v->n, sizeof(*p->attributes));
	for (size_t i = 0; i < v->n; i++) {
		const char *name = config_scalar(ld, path, v->items[i]);
		const struct config_attribute *attr;

		if (name == NULL)
			continue;
		if ((attr = config_find_attribute(p->dataset, name)) == NULL) {
			config_error(ld, v->items[i], "%s: dataset '%s' has no "
			    "attribute '%s'", path, p->dataset->name, name);
			continue;
		}
		for (size_t j = 0; j < p->nattributes; j++) {
			if (p->attributes[j] == attr) {
				config_error(ld, v->items[i], "%s: '%s' is "
				    "listed twice", path, name);
				attr = NULL;
				break;
			}
		}
		if (attr != NULL)
			p->attributes[p->nattributes++] = attr;
	}
}

static const char *const config_basis_names[] = {
	[CONFIG_BASIS_CONSENT] = "consent",
	[CONFIG_BASIS_PUBLIC_TASK] = "public_task",
	[CONFIG_BASIS_LEGAL_OBLIGATION] = "legal_obligation",
};

const char *
config_basis_name(enum config_basis basis)
{
	if ((size_t)basis >= CONFIG_NITEMS(config_basis_names))
		return "unknown";
	return config_basis_names[basis];
}

static void
config_field_basis(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);

	if (s == NULL)
		return;
	for (size_t i = 0; i < CONFIG_NITEMS(config_basis_names); i++) {
		if (strcmp(s, config_basis_names[i]) == 0) {
			*(enum config_basis *)dst = (enum config_basis)i;
			return;
		}
	}
	config_error(ld, v, "%s: expected consent, public_task or "
	    "legal_obligation", path);
}

static const struct config_field config_policy_fields[] = {
	{ .key = "id", .parse = config_field_policy_id, .required = 1,
	  .doc = "unique name of the policy, quoted in the audit log" },
	{ .key = "consumer", .parse = config_field_service_ref, .required = 1,
	  .offset = offsetof(struct config_policy, consumer),
	  .doc = "the service that obtains the data" },
	{ .key = "provider", .parse = config_field_service_ref, .required = 1,
	  .offset = offsetof(struct config_policy, provider),
	  .doc = "the service the data comes from" },
	{ .key = "dataset", .parse = config_field_dataset_ref, .required = 1,
	  .offset = offsetof(struct config_policy, dataset),
	  .doc = "the dataset the attributes belong to" },
	{ .key = "attributes", .parse = config_field_policy_attributes,
	  .required = 1, .doc = "the attributes the consumer may obtain" },
	{ .key = "purpose", .parse = config_field_string, .required = 1,
	  .offset = offsetof(struct config_policy, purpose),
	  .doc = "why the consumer needs them, shown to the citizen" },
	{ .key = "basis", .parse = config_field_basis, .required = 1,
	  .offset = offsetof(struct config_policy, basis),
	  .doc = "consent, public_task or legal_obligation" },
	{ .key = "legal_reference", .parse = config_field_string,
	  .offset = offsetof(struct config_policy, legal_reference),
	  .doc = "the legal text; required unless basis is consent" },
	{ .key = NULL },
};

static void
config_policy_check(struct config_loader *ld, const char *path,
    const struct yamltree *item, const struct config_policy *p)
{
	if (item->kind != YAMLTREE_MAPPING)
		return;
	if (p->consumer != NULL && p->consumer == p->provider)
		config_error(ld, yamltree_get(item, "provider"), "%s.provider: "
		    "the consumer cannot be its own provider", path);
	if (p->basis != CONFIG_BASIS_CONSENT && p->legal_reference == NULL)
		config_error(ld, yamltree_get(item, "basis"), "%s: basis %s "
		    "needs a legal_reference", path, config_basis_name(p->basis));
}

static void
config_policies_load(struct config_loader *ld)
{
	struct config *cfg = ld->cfg;
	size_t total = 0;

	for (size_t i = 0; i < ld->policies.n; i++)
		total += ld->policies.v[i]->n;
	cfg->policies = config_calloc(total, sizeof(*cfg->policies));
	ld->policy_ids = config_calloc(total, sizeof(*ld->policy_ids));
	for (size_t s = 0; s < ld->policies.n; s++) {
		const struct yamltree *seq = ld->policies.v[s];

		for (size_t i = 0; i < seq->n; i++) {
			struct config_policy *p = &cfg->policies[cfg->npolicies++];
			char path[CONFIG_PATH_MAX];

			snprintf(path, sizeof(path), "policies[%zu]", i);
			config_table_apply(ld, path, config_policy_fields,
			    seq->items[i], p);
			config_policy_check(ld, path, seq->items[i], p);
		}
	}
}

/* ---- files and includes --------------------------------------------------- */

static void config_source_load(struct config_loader *, const char *,
    const struct yamltree *);

static void
config_nodes_add(struct config_nodes *list, const struct yamltree *node)
{
	const struct yamltree **v;

	v = reallocarray(list->v, list->n + 1, sizeof(*v));
	if (v == NULL)
		abort();
	list->v = v;
	list->v[list->n++] = node;
}

/* dst: the loader's const struct yamltree *gateway. */
static void
config_field_gateway(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	if (!config_source_of(ld, v)->is_main)
		config_error(ld, v, "gateway: only allowed in the main "
		    "configuration file, not in an include");
	else
		*(const struct yamltree **)dst = v;
}

/* dst: one of the loader's section lists; f->aux is the kind expected. An
 * empty section (`policies:` with nothing under it) is allowed. */
static void
config_field_section(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	if (v->kind == YAMLTREE_SCALAR && v->is_null)
		return;
	if (config_expect(ld, path, v, (enum yamltree_kind)f->aux) == 0)
		config_nodes_add(dst, v);
}

/* `name` of an include: relative to the directory of the including file,
 * as that file was named. Caller frees. */
static char *
config_include_name(const char *including, const char *rel)
{
	const char *slash = strrchr(including, '/');
	char *name;

	if (rel[0] == '/' || slash == NULL)
		return config_strdup(rel);
	if (asprintf(&name, "%.*s/%s", (int)(slash - including), including,
	    rel) == -1)
		abort();
	return name;
}

static void
config_field_include(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	if (config_expect(ld, path, v, YAMLTREE_SEQUENCE) == -1)
		return;
	for (size_t i = 0; i < v->n; i++) {
		const char *rel = config_scalar(ld, path, v->items[i]);
		char *name;

		if (rel == NULL)
			continue;
		name = config_include_name(v->file, rel);
		config_source_load(ld, name, v->items[i]);
		free(name);
	}
}

static const struct config_field config_top_fields[] = {
	{ .key = "gateway", .parse = config_field_gateway,
	  .offset = offsetof(struct config_loader, gateway),
	  .doc = "the daemon itself; main file only" },
	{ .key = "datasets", .parse = config_field_section,
	  .offset = offsetof(struct config_loader, datasets),
	  .aux = YAMLTREE_MAPPING, .doc = "name: {attributes, description}" },
	{ .key = "services", .parse = config_field_section,
	  .offset = offsetof(struct config_loader, services),
	  .aux = YAMLTREE_MAPPING, .doc = "id: {name, auth, roles, connector, subscribes, delivery}" },
	{ .key = "policies", .parse = config_field_section,
	  .offset = offsetof(struct config_loader, policies),
	  .aux = YAMLTREE_SEQUENCE, .doc = "the list of data-sharing policies" },
	{ .key = "include", .parse = config_field_include,
	  .doc = "files whose datasets, services and policies are added" },
	{ .key = NULL },
};

struct config_tree_errors {
	struct config_loader *ld;
	const char *file;
};

static void
config_tree_error(void *arg, int line, int col, const char *msg)
{
	struct config_tree_errors *te = arg;

	config_error_add(te->ld->errs, te->file, line, col, msg);
}

/* Reports the problem at the include entry, or at the file itself (line
 * 0: the message names no position) for the main file. */
static void
config_source_error(struct config_loader *ld, const char *name,
    const struct yamltree *from, const char *problem)
{
	if (from != NULL)
		config_error(ld, from, "include: %s: %s", name, problem);
	else
		config_error_add(ld->errs, name, 0, 0, problem);
}

static struct config_source *
config_source_new(struct config_loader *ld, const char *name, char *real,
    int is_main)
{
	struct config_source *src = config_calloc(1, sizeof(*src));
	char *slash;

	src->name = config_strdup(name);
	src->real = real;
	src->dir = config_strdup(real);
	slash = strrchr(src->dir, '/');
	if (slash == src->dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	src->is_main = is_main;
	if (is_main)
		ld->main = src;
	src->next = ld->sources;
	ld->sources = src;
	return src;
}

/* Parses `name` and collects its sections; `from` is the include entry
 * naming it, NULL for the main file. */
static void
config_source_load(struct config_loader *ld, const char *name,
    const struct yamltree *from)
{
	struct config_tree_errors te = { .ld = ld };
	struct config_source *src;
	size_t before = ld->errs->n;
	char *real;
	FILE *in;

	if ((real = realpath(name, NULL)) == NULL ||
	    (in = fopen(name, "r")) == NULL) {
		char problem[256];

		snprintf(problem, sizeof(problem), "cannot read it: %s",
		    strerror(errno));
		config_source_error(ld, name, from, problem);
		free(real);
		return;
	}
	for (src = ld->sources; src != NULL; src = src->next) {
		if (strcmp(src->real, real) == 0) {
			config_source_error(ld, name, from, src->loading ?
			    "include cycle: that file is already being loaded" :
			    "already included");
			free(real);
			fclose(in);
			return;
		}
	}
	src = config_source_new(ld, name, real, from == NULL);
	te.file = src->name;
	src->root = yamltree_parse(in, src->name, config_tree_error, &te);
	fclose(in);
	if (src->root == NULL) {
		if (ld->errs->n == before)
			config_source_error(ld, name, from, "the file is empty");
		return;
	}
	src->loading = 1;
	config_table_apply(ld, "", config_top_fields, src->root, ld);
	src->loading = 0;
}

static void
config_loader_free(struct config_loader *ld)
{
	struct config_source *src, *next;

	for (src = ld->sources; src != NULL; src = next) {
		next = src->next;
		yamltree_free(src->root);
		free(src->name);
		free(src->real);
		free(src->dir);
		free(src);
	}
	free(ld->datasets.v);
	free(ld->services.v);
	free(ld->policies.v);
	free(ld->dataset_keys);
	free(ld->service_keys);
	free(ld->service_bodies);
	free(ld->policy_ids);
}

struct config *
config_load(const char *path, struct config_errors *errs)
{
	struct config_loader ld = { .errs = errs };
	size_t before = errs->n;
	struct config *cfg;

	cfg = ld.cfg = config_calloc(1, sizeof(*cfg));
	atomic_init(&cfg->refs, 1);
	cfg->path = config_strdup(path);
	config_source_load(&ld, path, NULL);
	if (ld.main != NULL && ld.main->root != NULL &&
	    ld.main->root->kind == YAMLTREE_MAPPING) {
		if (ld.gateway != NULL)
			config_gateway_load(&ld);
		else
			config_error(&ld, ld.main->root, "missing required key "
			    "'gateway'");
		config_datasets_load(&ld);
		config_services_load(&ld);
		config_policies_load(&ld);
	}
	config_loader_free(&ld);
	if (errs->n > before) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* ---- freeing -------------------------------------------------------------- */

static void
config_gateway_free(struct config_gateway *gw)
{
	free(gw->listen);
	free(gw->log_level);
	free(gw->user);
	free(gw->store);
	secret_wipe(&gw->tls.cert);
	secret_wipe(&gw->tls.key);
	secret_wipe(&gw->tls.client_ca);
	secret_wipe(&gw->pseudonym_key);
	secret_wipe(&gw->admin_token);
	free(gw->audit.dir);
	free(gw->audit.origin);
	secret_wipe(&gw->audit.signing_key);
}

struct config *
config_ref(struct config *cfg)
{
	atomic_fetch_add(&cfg->refs, 1);
	return cfg;
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL || atomic_fetch_sub(&cfg->refs, 1) != 1)
		return;
	config_gateway_free(&cfg->gateway);
	for (size_t i = 0; i < cfg->ndatasets; i++) {
		for (size_t j = 0; j < cfg->datasets[i].nattributes; j++)
			free(cfg->datasets[i].attributes[j].name);
		free(cfg->datasets[i].attributes);
		free(cfg->datasets[i].name);
	}
	for (size_t i = 0; i < cfg->nservices; i++) {
		free(cfg->services[i].id);
		free(cfg->services[i].name);
		config_connector_free(cfg->services[i].connector);
		free(cfg->services[i].subscribes);
	}
	for (size_t i = 0; i < cfg->npolicies; i++) {
		free(cfg->policies[i].id);
		free(cfg->policies[i].attributes);
		free(cfg->policies[i].purpose);
		free(cfg->policies[i].legal_reference);
	}
	free(cfg->datasets);
	free(cfg->services);
	free(cfg->policies);
	free(cfg->path);
	free(cfg);
}

void
config_errors_free(struct config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		free(errs->items[i].file);
		free(errs->items[i].message);
	}
	free(errs->items);
	errs->items = NULL;
	errs->n = 0;
}

void
config_errors_print(const struct config_errors *errs, void *stdio_file)
{
	FILE *out = stdio_file;

	for (size_t i = 0; i < errs->n; i++) {
		const struct config_error *e = &errs->items[i];

		if (e->line == 0)
			fprintf(out, "%s: %s\n", e->file, e->message);
		else
			fprintf(out, "%s:%d:%d: %s\n", e->file, e->line, e->col,
			    e->message);
	}
}

/* ---- lookups -------------------------------------------------------------- */

const struct config_service *
config_find_service(const struct config *cfg, const char *id)
{
	for (size_t i = 0; i < cfg->nservices; i++)
		if (strcmp(cfg->services[i].id, id) == 0)
			return &cfg->services[i];
	return NULL;
}

const struct config_dataset *
config_find_dataset(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->ndatasets; i++)
		if (strcmp(cfg->datasets[i].name, name) == 0)
			return &cfg->datasets[i];
	return NULL;
}

const struct config_attribute *
config_find_attribute(const struct config_dataset *ds, const char *name)
{
	for (size_t i = 0; i < ds->nattributes; i++)
		if (strcmp(ds->attributes[i].name, name) == 0)
			return &ds->attributes[i];
	return NULL;
}

const struct config_service *
config_find_service_by_key(const struct config *cfg, const char *token,
    size_t len)
{
	const struct config_service *found = NULL;
	unsigned char hash[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)token, len, hash);
	/* Every service is compared, so the time taken does not tell which
	 * one matched or how far the search went. */
	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct config_service *s = &cfg->services[i];
		int equal = CRYPTO_memcmp(hash, s->api_key_sha256,
		    sizeof(hash)) == 0;

		if (equal && s->has_api_key)
			found = s;
	}
	OPENSSL_cleanse(hash, sizeof(hash));
	return found;
}

const struct config_service *
config_find_service_by_cert(const struct config *cfg,
    const unsigned char hash[32])
{
	const struct config_service *found = NULL;

	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct config_service *s = &cfg->services[i];

		if (s->has_client_cert && CRYPTO_memcmp(hash,
		    s->client_cert_sha256, 32) == 0)
			found = s;
	}
	return found;
}
