/* yamltree.c — libyaml events into a tree of positioned nodes. */
#include "yamltree.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

/* Deeper nesting than this is not a configuration; the limit keeps a
 * hostile file from exhausting the stack. */
#define YAMLTREE_MAX_DEPTH 64

struct yamltree_parser {
	yaml_parser_t parser;
	const char *file;
	yamltree_error_fn *err;
	void *arg;
	int failed;           /* a fatal problem was reported */
};

static void yamltree_report(struct yamltree_parser *, const yaml_mark_t *,
    const char *, ...) __attribute__((format(printf, 3, 4)));

static void
yamltree_report(struct yamltree_parser *tp, const yaml_mark_t *mark,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tp->err(tp->arg, (int)mark->line + 1, (int)mark->column + 1, msg);
}

static void
yamltree_fail(struct yamltree_parser *tp, const yaml_mark_t *mark,
    const char *msg)
{
	if (!tp->failed)
		yamltree_report(tp, mark, "%s", msg);
	tp->failed = 1;
}

/* Fetches the next event; on a syntax error reports libyaml's problem at
 * its mark and returns -1. */
static int
yamltree_next(struct yamltree_parser *tp, yaml_event_t *ev)
{
	yaml_parser_t *p = &tp->parser;

	if (yaml_parser_parse(p, ev))
		return 0;
	if (!tp->failed) {
		if (p->error == YAML_MEMORY_ERROR)
			yamltree_report(tp, &p->problem_mark, "out of memory");
		else if (p->context != NULL)
			yamltree_report(tp, &p->problem_mark,
			    "YAML syntax error: %s (%s that starts at line %d)",
			    p->problem, p->context, (int)p->context_mark.line + 1);
		else
			yamltree_report(tp, &p->problem_mark,
			    "YAML syntax error: %s",
			    p->problem ? p->problem : "unreadable input");
	}
	tp->failed = 1;
	return -1;
}

/* A new node; NULL when out of memory, reported. */
static struct yamltree *
yamltree_new(struct yamltree_parser *tp, enum yamltree_kind kind,
    const yaml_mark_t *mark)
{
	struct yamltree *n = calloc(1, sizeof(*n));

	if (n == NULL) {
		yamltree_fail(tp, mark, "out of memory");
		return NULL;
	}
	n->kind = kind;
	n->file = tp->file;
	n->line = (int)mark->line + 1;
	n->col = (int)mark->column + 1;
	return n;
}

/* Adds child to parent, which takes it; -1 when out of memory (reported,
 * child freed). */
static int
yamltree_append(struct yamltree_parser *tp, struct yamltree *parent,
    struct yamltree *child)
{
	struct yamltree **items;

	items = reallocarray(parent->items, parent->n + 1, sizeof(*items));
	if (items == NULL) {
		yaml_mark_t mark = { 0, (size_t)child->line - 1,
		    (size_t)child->col - 1 };

		yamltree_fail(tp, &mark, "out of memory");
		yamltree_free(child);
		return -1;
	}
	parent->items = items;
	parent->items[parent->n++] = child;
	return 0;
}

static struct yamltree *
yamltree_scalar(struct yamltree_parser *tp, const yaml_event_t *ev)
{
	struct yamltree *n = yamltree_new(tp, YAMLTREE_SCALAR, &ev->start_mark);
	const char *v = (const char *)ev->data.scalar.value;

	if (n == NULL)
		return NULL;
	if ((n->value = strdup(v)) == NULL) {
		yamltree_fail(tp, &ev->start_mark, "out of memory");
		free(n);
		return NULL;
	}
	n->is_null = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (*v == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	    strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0);
	return n;
}

static struct yamltree *yamltree_node(struct yamltree_parser *, yaml_event_t *,
    int);

static struct yamltree *
yamltree_sequence(struct yamltree_parser *tp, const yaml_event_t *start,
    int depth)
{
	struct yamltree *seq, *item;
	yaml_event_t ev;

	if ((seq = yamltree_new(tp, YAMLTREE_SEQUENCE, &start->start_mark)) ==
	    NULL)
		return NULL;
	for (;;) {
		if (yamltree_next(tp, &ev) == -1)
			break;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return seq;
		}
		item = yamltree_node(tp, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (item == NULL || yamltree_append(tp, seq, item) == -1)
			break;
	}
	yamltree_free(seq);
	return NULL;
}

/* Adds key/value unless the key is already there: a duplicate is reported
 * and dropped, so the rest of the file is still checked. map takes both;
 * -1 when out of memory. */
static int
yamltree_put(struct yamltree_parser *tp, struct yamltree *map,
    struct yamltree *key, struct yamltree *value)
{
	for (size_t i = 0; i < map->n; i += 2) {
		if (strcmp(map->items[i]->value, key->value) == 0) {
			yaml_mark_t mark = { 0, (size_t)key->line - 1,
			    (size_t)key->col - 1 };

			yamltree_report(tp, &mark, "duplicate key '%s' (first at "
			    "line %d)", key->value, map->items[i]->line);
			yamltree_free(key);
			yamltree_free(value);
			return 0;
		}
	}
	if (yamltree_append(tp, map, key) == -1) {
		yamltree_free(value);
		return -1;
	}
	return yamltree_append(tp, map, value);
}

static struct yamltree *
yamltree_mapping(struct yamltree_parser *tp, const yaml_event_t *start,
    int depth)
{
	struct yamltree *map, *key, *value;
	yaml_event_t ev;

	if ((map = yamltree_new(tp, YAMLTREE_MAPPING, &start->start_mark)) ==
	    NULL)
		return NULL;
	for (;;) {
		if (yamltree_next(tp, &ev) == -1)
			break;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return map;
		}
		if (ev.type != YAML_SCALAR_EVENT) {
			yamltree_fail(tp, &ev.start_mark,
			    "a mapping key must be a plain string");
			yaml_event_delete(&ev);
			break;
		}
		key = yamltree_scalar(tp, &ev);
		yaml_event_delete(&ev);
		if (key == NULL)
			break;
		if (yamltree_next(tp, &ev) == -1) {
			yamltree_free(key);
			break;
		}
		value = yamltree_node(tp, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (value == NULL) {
			yamltree_free(key);
			break;
		}
		if (yamltree_put(tp, map, key, value) == -1)
			break;
	}
	yamltree_free(map);
	return NULL;
}

static struct yamltree *
yamltree_node(struct yamltree_parser *tp, yaml_event_t *ev, int depth)
{
	if (depth > YAMLTREE_MAX_DEPTH) {
		yamltree_fail(tp, &ev->start_mark, "nested too deeply");
		return NULL;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return yamltree_scalar(tp, ev);
	case YAML_SEQUENCE_START_EVENT:
		return yamltree_sequence(tp, ev, depth);
	case YAML_MAPPING_START_EVENT:
		return yamltree_mapping(tp, ev, depth);
	case YAML_ALIAS_EVENT:
		yamltree_fail(tp, &ev->start_mark, "aliases are not supported");
		return NULL;
	default:
		yamltree_fail(tp, &ev->start_mark, "unexpected YAML event");
		return NULL;
	}
}

/* Expects `type` next; anything else is reported as `problem`. */
static int
yamltree_expect(struct yamltree_parser *tp, yaml_event_type_t type,
    const char *problem)
{
	yaml_event_t ev;
	int ok;

	if (yamltree_next(tp, &ev) == -1)
		return -1;
	ok = ev.type == type;
	if (!ok)
		yamltree_fail(tp, &ev.start_mark, problem);
	yaml_event_delete(&ev);
	return ok ? 0 : -1;
}

static struct yamltree *
yamltree_document(struct yamltree_parser *tp)
{
	struct yamltree *root;
	yaml_event_t ev;

	if (yamltree_expect(tp, YAML_STREAM_START_EVENT, "no YAML stream") == -1)
		return NULL;
	if (yamltree_next(tp, &ev) == -1)
		return NULL;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return NULL;
	}
	yaml_event_delete(&ev);
	if (yamltree_next(tp, &ev) == -1)
		return NULL;
	root = yamltree_node(tp, &ev, 0);
	yaml_event_delete(&ev);
	if (root == NULL)
		return NULL;
	if (yamltree_expect(tp, YAML_DOCUMENT_END_EVENT, "unexpected content") ==
	    -1 || yamltree_expect(tp, YAML_STREAM_END_EVENT,
	    "only one YAML document per file is allowed") == -1) {
		yamltree_free(root);
		return NULL;
	}
	return root;
}

struct yamltree *
yamltree_parse(FILE *in, const char *file, yamltree_error_fn *err, void *arg)
{
	struct yamltree_parser tp = { .file = file, .err = err, .arg = arg };
	struct yamltree *root;

	if (!yaml_parser_initialize(&tp.parser)) {
		yaml_mark_t start = { 0, 0, 0 };

		yamltree_fail(&tp, &start, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_file(&tp.parser, in);
	root = yamltree_document(&tp);
	yaml_parser_delete(&tp.parser);
	return root;
}

void
yamltree_free(struct yamltree *node)
{
	if (node == NULL)
		return;
	for (size_t i = 0; i < node->n; i++)
		yamltree_free(node->items[i]);
	free(node->items);
	free(node->value);
	free(node);
}

const struct yamltree *
yamltree_get(const struct yamltree *map, const char *key)
{
	if (map == NULL || map->kind != YAMLTREE_MAPPING)
		return NULL;
	for (size_t i = 0; i < map->n; i += 2)
		if (strcmp(map->items[i]->value, key) == 0)
			return map->items[i + 1];
	return NULL;
}

const char *
yamltree_kind_name(const struct yamltree *node)
{
	switch (node->kind) {
	case YAMLTREE_SCALAR:
		return node->is_null ? "nothing" : "a string";
	case YAMLTREE_SEQUENCE:
		return "a list";
	default:
		return "a mapping";
	}
}
