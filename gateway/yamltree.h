/* yamltree.h — a YAML file as a small tree of nodes that remember their
 * line and column, for config.c. Built from libyaml events rather than its
 * document API so that aliases can be refused (a few aliases expand into
 * billions of nodes) and duplicate mapping keys reported where they are. */
#ifndef TELLONCE_YAMLTREE_H
#define TELLONCE_YAMLTREE_H

#include <stddef.h>
#include <stdio.h>

enum yamltree_kind { YAMLTREE_SCALAR, YAMLTREE_SEQUENCE, YAMLTREE_MAPPING };

struct yamltree {
	enum yamltree_kind kind;
	const char *file;        /* the caller's string, for messages */
	int line, col;           /* 1-based */
	char *value;             /* scalars: NUL-terminated text */
	int is_null;             /* scalars: empty, ~ or null, unquoted */
	/* Sequences: the items. Mappings: key, value, key, value, ... with
	 * scalar keys, each key once. */
	struct yamltree **items;
	size_t n;
};

/* Reports one problem at 1-based line and column of `file`. */
typedef void yamltree_error_fn(void *arg, int line, int col, const char *msg);

/* Parses the single document in `in`. Returns its root, or NULL when the
 * file is empty or unusable (syntax error, alias, out of memory); every
 * problem goes to `err`, including duplicate keys, which leave a usable
 * tree (the first occurrence wins). The tree keeps a pointer to `file`. */
struct yamltree *yamltree_parse(FILE *in, const char *file,
    yamltree_error_fn *err, void *arg);
void yamltree_free(struct yamltree *node);

/* The value under `key` in a mapping, or NULL. */
const struct yamltree *yamltree_get(const struct yamltree *map, const char *key);
/* "a string", "a list", "a mapping" — for messages. */
const char *yamltree_kind_name(const struct yamltree *node);

#endif
