/* config.c — the key-table engine and the configuration's files.
 *
 * A table of fields in the style of Fluent Bit's config_map (key, parser,
 * required, default text, offset in the struct being filled, a line of
 * documentation) describes each mapping; config_table_apply() refuses
 * unknown keys, applies defaults and reports missing keys, so the per-key
 * code only parses one value. Nothing stops at the first problem: every
 * error is collected with its file, line and column.
 *
 * The main file and its `include:`s are read here, and their top-level
 * sections collected in the loader; config_load.c then fills the config
 * from them, section by section.
 *
 * Running out of memory is an error like any other (docs/architecture.md,
 * "Out of memory"): the allocation helpers record it in the errors and the
 * load fails, so a reload leaves the old config serving. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"

/* ---- errors and allocation ------------------------------------------------ */

void
config_nomem(struct config_loader *ld)
{
	ld->errs->nomem = 1;
}

char *
config_strdup(struct config_loader *ld, const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		config_nomem(ld);
	return d;
}

void *
config_calloc(struct config_loader *ld, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p == NULL)
		config_nomem(ld);
	return p;
}

static void
config_error_add(struct config_errors *errs, const char *file, int line,
    int col, const char *msg)
{
	struct config_error *items;
	char *file_copy = strdup(file), *msg_copy = strdup(msg);

	items = reallocarray(errs->items, errs->n + 1, sizeof(*items));
	if (items != NULL)
		errs->items = items;
	if (items == NULL || file_copy == NULL || msg_copy == NULL) {
		free(file_copy);
		free(msg_copy);
		errs->nomem = 1;
		return;
	}
	items[errs->n].file = file_copy;
	items[errs->n].line = line;
	items[errs->n].col = col;
	items[errs->n].message = msg_copy;
	errs->n++;
}

void
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

const char *
config_did_you_mean(const struct suggest *near, char *buf, size_t len)
{
	if (near->best == NULL)
		snprintf(buf, len, "%s", "");
	else
		snprintf(buf, len, "; did you mean '%s'?", near->best);
	return buf;
}

void
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

char *
config_resolve_path(struct config_loader *ld, const struct yamltree *node,
    const char *path)
{
	char *out;

	if (path[0] == '/')
		return config_strdup(ld, path);
	if (asprintf(&out, "%s/%s", config_source_of(ld, node)->dir, path) == -1) {
		config_nomem(ld);
		return NULL;
	}
	return out;
}

/* ---- durations and sizes ------------------------------------------------ */

int
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
		{ "d", 86400000 },
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

const char *
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

int
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
    const struct yamltree *key, const struct config_field *table)
{
	char path[CONFIG_PATH_MAX], names[512], mean[CONFIG_PATH_MAX];
	struct suggest near;
	size_t used = 0;

	suggest_init(&near, key->value);
	names[0] = '\0';
	for (; table->key != NULL; table++) {
		suggest_try(&near, table->key);
		if (used < sizeof(names))
			used += (size_t)snprintf(names + used, sizeof(names) - used,
			    "%s%s", used ? ", " : "", table->key);
	}
	config_key_path(path, sizeof(path), what, key->value);
	config_error(ld, key, "%s: unknown key (expected one of: %s)%s", path,
	    names, config_did_you_mean(&near, mean, sizeof(mean)));
}

static const struct config_field *
config_field_find(const struct config_field *table, const char *key)
{
	for (; table->key != NULL; table++)
		if (strcmp(table->key, key) == 0)
			return table;
	return NULL;
}

void
config_table_apply(struct config_loader *ld, const char *what,
    const struct config_field *table, const struct yamltree *map, void *obj)
{
	char path[CONFIG_PATH_MAX];
	const struct config_field *f;

	if (config_expect(ld, *what ? what : "file", map, YAMLTREE_MAPPING) == -1)
		return;
	for (size_t i = 0; i < map->n; i += 2)
		if (config_field_find(table, map->items[i]->value) == NULL)
			config_unknown_key(ld, what, map->items[i], table);
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

void
config_field_table(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	config_table_apply(ld, path, f->sub, v, dst);
}

void
config_field_string(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);

	if (s != NULL)
		*(char **)dst = config_strdup(ld, s);
}

/* Checked and dropped: documentation for whoever reads the YAML. */
void
config_field_comment(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	config_scalar(ld, path, v);
}

void
config_field_path(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);

	if (s != NULL)
		*(char **)dst = config_resolve_path(ld, v, s);
}

/* Offline, a secret holds its reference text: checks that only need to
 * know it is there (a client key goes with its certificate) still work,
 * and two services naming the same api_key variable still clash. */
static void
config_secret_offline(struct config_loader *ld, const char *path,
    const struct yamltree *v, const char *ref, struct secret *dst)
{
	char err[512];

	if (secret_check_ref(ref, err, sizeof(err)) != 0) {
		config_error(ld, v, "%s: %s", path, err);
		return;
	}
	if ((dst->data = (unsigned char *)config_strdup(ld, ref)) != NULL)
		dst->len = strlen(ref);
}

/* Resolves into a struct secret; f->aux holds the SECRET_* flags. Messages
 * never contain the value, inline or resolved. */
void
config_field_secret(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *ref = config_scalar(ld, path, v);
	char err[512], *resolved;

	if (ref == NULL)
		return;
	if (ld->offline) {
		config_secret_offline(ld, path, v, ref, dst);
		return;
	}
	if (strncmp(ref, "file:", 5) == 0 && ref[5] != '\0') {
		char *file = config_resolve_path(ld, v, ref + 5);

		if (file == NULL || asprintf(&resolved, "file:%s", file) == -1)
			resolved = NULL;
		free(file);
	} else
		resolved = strdup(ref);
	if (resolved == NULL) {
		config_nomem(ld);
		return;
	}
	if (secret_resolve(resolved, f->aux, dst, err, sizeof(err)) == -1)
		config_error(ld, v, "%s: %s", path, err);
	free(resolved);
}


void
config_field_duration(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);
	int64_t ms;

	if (s == NULL)
		return;
	if (config_parse_duration(s, &ms) == -1 || ms == 0)
		config_error(ld, v, "%s: '%s' is not a duration (a positive "
		    "number with ms, s, m, h or d, e.g. 500ms, 2s or 30d)", path, s);
	else
		*(int64_t *)dst = ms;
}

void
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
void
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

void
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

void
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


/* ---- references ----------------------------------------------------------- */

/* "unknown KIND 'WORD'", with the nearest name of the n items (each of
 * `size` bytes, its name a char * at name_offset). */
static void
config_unknown_ref(struct config_loader *ld, const struct yamltree *v,
    const char *path, const char *kind, const char *word, const void *items,
    size_t n, size_t size, size_t name_offset)
{
	char mean[CONFIG_PATH_MAX];
	struct suggest near;

	suggest_init(&near, word);
	for (size_t i = 0; i < n; i++)
		suggest_try(&near, *(char *const *)((const char *)items +
		    i * size + name_offset));
	config_error(ld, v, "%s: unknown %s '%s'%s", path, kind, word,
	    config_did_you_mean(&near, mean, sizeof(mean)));
}

void
config_field_service_ref(struct config_loader *ld,
    const struct config_field *f, const char *path, const struct yamltree *v,
    void *dst)
{
	const char *id = config_scalar(ld, path, v);
	const struct config_service *s;

	if (id == NULL)
		return;
	if ((s = config_find_service(ld->cfg, id)) == NULL)
		config_unknown_ref(ld, v, path, "service", id, ld->cfg->services,
		    ld->cfg->nservices, sizeof(*s),
		    offsetof(struct config_service, id));
	*(const struct config_service **)dst = s;
}

void
config_field_dataset_ref(struct config_loader *ld,
    const struct config_field *f, const char *path, const struct yamltree *v,
    void *dst)
{
	const char *name = config_scalar(ld, path, v);
	const struct config_dataset *ds;

	if (name == NULL)
		return;
	if ((ds = config_find_dataset(ld->cfg, name)) == NULL)
		config_unknown_ref(ld, v, path, "dataset", name, ld->cfg->datasets,
		    ld->cfg->ndatasets, sizeof(*ds),
		    offsetof(struct config_dataset, name));
	*(const struct config_dataset **)dst = ds;
}


/* ---- files and includes --------------------------------------------------- */

static void config_source_load(struct config_loader *, const char *,
    const struct yamltree *);

static void
config_nodes_add(struct config_loader *ld, struct config_nodes *list,
    const struct yamltree *node)
{
	const struct yamltree **v;

	v = reallocarray(list->v, list->n + 1, sizeof(*v));
	if (v == NULL) {
		config_nomem(ld);
		return;
	}
	list->v = v;
	list->v[list->n++] = node;
}

/* dst: one of the loader's sections that only the main file may hold
 * (const struct yamltree *gateway, *mandates). */
static void
config_field_main_only(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	if (!config_source_of(ld, v)->is_main)
		config_error(ld, v, "%s: only allowed in the main "
		    "configuration file, not in an include", path);
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
		config_nodes_add(ld, dst, v);
}

/* `name` of an include: relative to the directory of the including file,
 * as that file was named. Caller frees; NULL when out of memory. */
static char *
config_include_name(struct config_loader *ld, const char *including,
    const char *rel)
{
	const char *slash = strrchr(including, '/');
	char *name;

	if (rel[0] == '/' || slash == NULL)
		return config_strdup(ld, rel);
	if (asprintf(&name, "%.*s/%s", (int)(slash - including), including,
	    rel) == -1) {
		config_nomem(ld);
		return NULL;
	}
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

		if (rel == NULL ||
		    (name = config_include_name(ld, v->file, rel)) == NULL)
			continue;
		config_source_load(ld, name, v->items[i]);
		free(name);
	}
}

static const struct config_field config_top_fields[] = {
	{ .key = "gateway", .parse = config_field_main_only,
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
	{ .key = "mandates", .parse = config_field_main_only,
	  .offset = offsetof(struct config_loader, mandates),
	  .doc = "{categories}: what mediators' mandates may name; main file only" },
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

/* Reports the problem at the include entry, or for the main file at its
 * start (1:1), since every error names a file, line and column. */
static void
config_source_error(struct config_loader *ld, const char *name,
    const struct yamltree *from, const char *problem)
{
	if (from != NULL)
		config_error(ld, from, "include: %s: %s", name, problem);
	else
		config_error_add(ld->errs, name, 1, 1, problem);
}

/* A new source, first on ld's list; takes real. NULL when out of memory
 * (real freed). */
static struct config_source *
config_source_new(struct config_loader *ld, const char *name, char *real,
    int is_main)
{
	struct config_source *src = config_calloc(ld, 1, sizeof(*src));
	char *slash;

	if (src == NULL ||
	    (src->name = config_strdup(ld, name)) == NULL ||
	    (src->dir = config_strdup(ld, real)) == NULL) {
		if (src != NULL)
			free(src->name);
		free(src);
		free(real);
		return NULL;
	}
	src->real = real;
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

/* The whole file, malloc'd (NUL-terminated, *len without it), so that
 * what is hashed is what is parsed; NULL with errno set. */
static char *
config_read_all(const char *name, size_t *len)
{
	FILE *in = fopen(name, "r");
	size_t cap = 4096, n = 0;
	char *buf = NULL, *grown;
	int err;

	if (in == NULL)
		return NULL;
	for (;;) {
		if ((grown = realloc(buf, cap + 1)) == NULL)
			break;
		buf = grown;
		n += fread(buf + n, 1, cap - n, in);
		if (n < cap) {
			if (ferror(in))
				break;
			fclose(in);
			buf[n] = '\0';
			*len = n;
			return buf;
		}
		cap *= 2;
	}
	err = ferror(in) ? EIO : ENOMEM;
	fclose(in);
	free(buf);
	errno = err;
	return NULL;
}

/* Parses `name` and collects its sections; `from` is the include entry
 * naming it, NULL for the main file. */
static void
config_source_load(struct config_loader *ld, const char *name,
    const struct yamltree *from)
{
	struct config_tree_errors te = { .ld = ld };
	struct config_source *src;
	size_t before = ld->errs->n, len = 0;
	char *real, *text = NULL;
	FILE *in = NULL;

	if ((real = realpath(name, NULL)) == NULL ||
	    (text = config_read_all(name, &len)) == NULL ||
	    (in = fmemopen(text, len, "r")) == NULL) {
		char problem[256];

		if (errno == ENOMEM)
			config_nomem(ld);
		snprintf(problem, sizeof(problem), "cannot read it: %s",
		    strerror(errno));
		config_source_error(ld, name, from, problem);
		free(real);
		free(text);
		return;
	}
	for (src = ld->sources; src != NULL; src = src->next) {
		if (strcmp(src->real, real) == 0) {
			config_source_error(ld, name, from, src->loading ?
			    "include cycle: that file is already being loaded" :
			    "already included");
			free(real);
			fclose(in);
			free(text);
			return;
		}
	}
	if ((src = config_source_new(ld, name, real, from == NULL)) == NULL) {
		fclose(in);
		free(text);
		return;
	}
	if (ld->digest != NULL && EVP_DigestUpdate(ld->digest, text, len) != 1) {
		EVP_MD_CTX_free(ld->digest);
		ld->digest = NULL;
	}
	te.file = src->name;
	src->root = yamltree_parse(in, src->name, config_tree_error, &te);
	fclose(in);
	free(text);
	if (src->root == NULL) {
		if (ld->errs->n == before && !ld->errs->nomem)
			config_source_error(ld, name, from, "the file is empty");
		return;
	}
	src->loading = 1;
	config_table_apply(ld, "", config_top_fields, src->root, ld);
	src->loading = 0;
}

/* The digest covers the bytes of every file read, the main one first and
 * each include as it is reached: with no include, sha256sum of the file. */
void
config_sources_load(struct config_loader *ld, const char *path)
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	if ((ld->digest = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestInit_ex(ld->digest, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ld->digest);
		ld->digest = NULL;
	}
	config_source_load(ld, path, NULL);
	if (ld->digest == NULL ||
	    EVP_DigestFinal_ex(ld->digest, md, &mdlen) != 1 || mdlen != 32)
		config_nomem(ld);
	else
		encode_hex(md, sizeof(md), ld->cfg->sha256);
	EVP_MD_CTX_free(ld->digest);
	ld->digest = NULL;
}

void
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

/* ---- printing errors ------------------------------------------------------ */

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

		fprintf(out, "%s:%d:%d: %s\n", e->file, e->line, e->col,
		    e->message);
	}
	if (errs->nomem)
		fprintf(out, "out of memory: the configuration was not loaded\n");
}


