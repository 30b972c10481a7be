/* config.h — the key-table engine that reads the YAML configuration, and
 * its files: the main one and its `include:`s.
 *
 * Every mapping of the configuration is described by a static table of
 * fields (struct config_field) kept beside the code that uses it:
 * config_load.c for the daemon's own sections, config_connector.c for a
 * connector block, mapping_config.c for `map:` and `poll:`. This module
 * applies a table to a YAML mapping and collects every error with its
 * file, line and column; it knows none of the sections' contents. */
#ifndef TELLONCE_CONFIG_H
#define TELLONCE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "config_model.h"
#include "suggest.h"
#include "yamltree.h"

#define CONFIG_PATH_MAX 256 /* longest dotted key path shown in messages */
#define CONFIG_NITEMS(a) (sizeof(a) / sizeof((a)[0]))

/* One problem found while loading: printed as FILE:LINE:COL: message. */
struct config_error {
	char *file;
	int line, col;
	char *message;
};

struct config_errors {
	struct config_error *items;
	size_t n;
	int nomem;       /* an allocation failed: the load fails, and some
	                  * errors may be missing from items */
};

void config_errors_free(struct config_errors *errs);
/* Prints each error as FILE:LINE:COL: message, one per line, then a line
 * for running out of memory if that happened. */
void config_errors_print(const struct config_errors *errs, void *stdio_file);

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

/* The state of one load: the config being filled (cfg, taken by the
 * caller at the end), the errors, the files read. */
struct config_loader {
	struct config *cfg;
	struct config_errors *errs;
	/* `tellonce check --offline`: secrets are not read, each holds its
	 * reference text instead, and checks of their values are skipped. */
	int offline;
	struct config_source *sources;
	struct config_source *main;
	/* SHA-256 of the files' bytes as they are read (config.sha256). */
	struct evp_md_ctx_st *digest;
	/* Sections collected from every file. */
	const struct yamltree *gateway;
	const struct yamltree *mandates;  /* the `mandates:` section, or NULL */
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

/* Reads `path` and its includes into ld, collecting their sections; every
 * problem goes to ld->errs. */
void config_sources_load(struct config_loader *ld, const char *path);
/* Frees what the loader holds, not ld->cfg. */
void config_loader_free(struct config_loader *ld);

/* Fills obj from the mapping `map` found at dotted path `what`: refuses
 * unknown keys, applies defaults, reports missing required keys. */
void config_table_apply(struct config_loader *ld, const char *what,
    const struct config_field *table, const struct yamltree *map, void *obj);

void config_error(struct config_loader *ld, const struct yamltree *at,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "; did you mean 'NAME'?" into buf when near (suggest.h) holds a name,
 * else "". Returns buf, for the message of an unknown name. */
const char *config_did_you_mean(const struct suggest *near, char *buf,
    size_t len);
/* Records that an allocation failed; the load will fail. */
void config_nomem(struct config_loader *ld);
/* strdup and calloc that record a failure in ld and return NULL. */
char *config_strdup(struct config_loader *ld, const char *s);
void *config_calloc(struct config_loader *ld, size_t n, size_t size);
/* "what.key", or "key" when what is empty. */
void config_key_path(char *buf, size_t len, const char *what, const char *key);
/* The text of a scalar, or NULL after reporting why there is none. */
const char *config_scalar(struct config_loader *ld, const char *path,
    const struct yamltree *v);
/* 0 if v is of that kind, else -1 after reporting it. */
int config_expect(struct config_loader *ld, const char *path,
    const struct yamltree *v, enum yamltree_kind kind);
/* `path` as written in the file holding `node`: relative paths start at
 * that file's directory. Caller frees; NULL when out of memory. */
char *config_resolve_path(struct config_loader *ld, const struct yamltree *node,
    const char *path);

/* The parsers of the values every section uses; dst's type follows the
 * name. */
config_field_fn config_field_table;     /* f->sub into the struct at dst */
config_field_fn config_field_string;    /* char *                        */
config_field_fn config_field_comment;   /* nothing: checked and dropped  */
config_field_fn config_field_path;      /* char *, resolved as above     */
config_field_fn config_field_secret;    /* struct secret; f->aux flags   */
config_field_fn config_field_duration;  /* int64_t milliseconds          */
config_field_fn config_field_size;      /* size_t bytes                  */
config_field_fn config_field_count;     /* int from 1 to f->aux          */
config_field_fn config_field_int64;     /* int64_t                       */
config_field_fn config_field_bool;      /* int                           */
config_field_fn config_field_service_ref; /* const struct config_service * */
config_field_fn config_field_dataset_ref; /* const struct config_dataset * */

/* Leading decimal digits of *p into *n, at most max, advancing *p; -1 on
 * none or overflow. */
int config_parse_digits(const char **p, uint64_t max, uint64_t *n);
/* "2s", "500ms", "1m", "1h", "30d" → milliseconds; returns 0 or -1. */
int config_parse_duration(const char *text, int64_t *ms);
/* "1048576", "64k", "1m" (KiB/MiB) → bytes; returns 0 or -1. */
int config_parse_size(const char *text, size_t *bytes);

#endif
