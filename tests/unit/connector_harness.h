/* connector_harness.h — what the connector tests share: a configuration
 * written around one `services:` block and loaded with the real loader,
 * a connector instance on a real event loop, and one call run to its done
 * callback with the result copied out. */
#ifndef TELLONCE_CONNECTOR_HARNESS_H
#define TELLONCE_CONNECTOR_HARNESS_H

#include <event2/event.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_load.h"
#include "log.h"
#include "pgserver.h"
#include "tmpdir.h"

/* Everything but `services:`, which each test writes itself. */
static const char harness_config_head[] =
    "gateway:\n"
    "  listen: 127.0.0.1:8080\n"
    "  store: sqlite:tellonce.db\n"
    "  pseudonym_key: env:H_PSEUDONYM_KEY\n"
    "  admin_token: env:H_ADMIN_TOKEN\n"
    "  audit: {dir: audit, origin: audit.test/log, signing_key: env:H_AUDIT_KEY}\n"
    "datasets:\n"
    "  address:\n"
    "    attributes: {street: string, postal_code: string, city: string, country: string}\n"
    "  person:\n"
    "    attributes: {name: string, children: integer, income: number, verified: boolean, birthdate: date}\n"
    "services:\n";

static inline void
harness_env(void)
{
	setenv("H_PSEUDONYM_KEY", "0123456789abcdef0123456789abcdef", 1);
	setenv("H_ADMIN_TOKEN", "admin", 1);
	setenv("H_AUDIT_KEY", "not read by config_load beyond its presence", 1);
}

/* Writes DIR/NAME with printf-style text; exits on failure (a test bug). */
static inline void harness_write(const char *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static inline void
harness_write(const char *dir, const char *name, const char *fmt, ...)
{
	char path[TMPDIR_PATH_LEN * 2];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		exit(2);
	}
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

/* Loads DIR/tellonce.yaml made of the head and `services` (YAML under
 * `services:`, indented two spaces). NULL with errs filled on errors. */
static inline struct config *
harness_load(const char *dir, const char *services, struct config_errors *errs)
{
	char path[TMPDIR_PATH_LEN * 2];

	harness_write(dir, "tellonce.yaml", "%s%s", harness_config_head,
	    services);
	snprintf(path, sizeof(path), "%s/tellonce.yaml", dir);
	return config_load(path, errs);
}

/* 1 if one of errs is at line:col (col 0: any column) and contains msg. */
static inline int
harness_has_error(const struct config_errors *errs, int line, int col,
    const char *msg)
{
	for (size_t i = 0; i < errs->n; i++)
		if ((line == 0 || errs->items[i].line == line) &&
		    (col == 0 || errs->items[i].col == col) &&
		    strstr(errs->items[i].message, msg) != NULL)
			return 1;
	config_errors_print(errs, stderr);
	return 0;
}

/* The line (1-based) of the first occurrence of needle in the whole
 * config file, for error positions. */
static inline int
harness_line_of(const char *services, const char *needle)
{
	const char *at = strstr(services, needle);
	int line = 1;

	for (const char *p = harness_config_head; *p; p++)
		line += *p == '\n';
	for (const char *p = services; at != NULL && p < at; p++)
		line += *p == '\n';
	return at ? line : -1;
}

/* The column (1-based) of the first occurrence of needle in text. */
static inline int
harness_col_of(const char *text, const char *needle)
{
	const char *at = strstr(text, needle), *p = at;

	if (at == NULL)
		return -1;
	while (p > text && p[-1] != '\n')
		p--;
	return (int)(at - p) + 1;
}

/* A copy of one connector_result, outliving the done callback. */
struct harness_result {
	int called;
	enum connector_status status;
	char *body;
	char *next_cursor;
	char *detail;
};

static inline void
harness_result_clear(struct harness_result *r)
{
	free(r->body);
	free(r->next_cursor);
	free(r->detail);
	memset(r, 0, sizeof(*r));
}

static inline void
harness_done(const struct connector_result *res, void *arg)
{
	struct harness_result *r = arg;

	r->called++;
	r->status = res->status;
	r->body = res->body ? strndup(res->body, res->body_len) : NULL;
	r->next_cursor = res->next_cursor ? strdup(res->next_cursor) : NULL;
	r->detail = res->detail ? strdup(res->detail) : NULL;
}

/* One connector instance of a loaded service on its own event loop. */
struct harness_conn {
	struct event_base *base;
	const struct connector_ops *ops;
	void *inst;
	const char *key;             /* the pushes' idempotency key; NULL: "idem-test" */
	struct harness_result res;
};

static inline int
harness_open(struct harness_conn *hc, const struct config *cfg,
    const char *service, char *err, size_t errlen)
{
	const struct config_service *svc = config_find_service(cfg, service);
	struct connector_env env;

	memset(hc, 0, sizeof(*hc));
	if (svc == NULL || svc->connector == NULL) {
		snprintf(err, errlen, "no connector for %s", service);
		return -1;
	}
	hc->ops = svc->connector->ops;
	hc->base = event_base_new();
	env.base = hc->base;
	env.service = service;
	env.log = log_printf;
	if (hc->ops->init(&hc->inst, svc->connector->settings, &env, err,
	    errlen) != 0) {
		hc->inst = NULL; /* nothing to destroy */
		return -1;
	}
	return 0;
}

static inline void
harness_close(struct harness_conn *hc)
{
	if (hc->inst != NULL)
		hc->ops->destroy(hc->inst);
	if (hc->base != NULL)
		event_base_free(hc->base);
	harness_result_clear(&hc->res);
	memset(hc, 0, sizeof(*hc));
}

enum harness_call { HARNESS_FETCH, HARNESS_PUSH, HARNESS_CHANGES,
	HARNESS_HEALTH };

/* Runs one call to its done callback; the result is in hc->res. */
static inline enum connector_status
harness_call(struct harness_conn *hc, enum harness_call kind,
    const char *local_id, const char *body, const char *cursor)
{
	struct connector_request req = {
		.local_id = local_id, .dataset = "person",
		.request_id = "req-test",
		.idempotency_key = hc->key ? hc->key : "idem-test",
		.body = body, .body_len = body ? strlen(body) : 0,
		.cursor = cursor,
	};

	harness_result_clear(&hc->res);
	switch (kind) {
	case HARNESS_FETCH:
		hc->ops->fetch(hc->inst, &req, harness_done, &hc->res);
		break;
	case HARNESS_PUSH:
		hc->ops->push(hc->inst, &req, harness_done, &hc->res);
		break;
	case HARNESS_CHANGES:
		hc->ops->changes(hc->inst, &req, harness_done, &hc->res);
		break;
	case HARNESS_HEALTH:
		hc->ops->health(hc->inst, harness_done, &hc->res);
		break;
	}
	while (hc->res.called == 0 &&
	    event_base_loop(hc->base, EVLOOP_ONCE) == 0)
		;
	if (hc->res.called != 1) {
		fprintf(stderr, "  done called %d times\n", hc->res.called);
		return CONNECTOR_PERMANENT;
	}
	return hc->res.status;
}

/* JSON text with its keys sorted, for exact comparisons; caller frees. */
static inline char *
harness_sorted(const char *text)
{
	json_t *v = json_loads(text ? text : "", JSON_DECODE_ANY, NULL);
	char *out = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS |
	    JSON_ENCODE_ANY);

	json_decref(v);
	return out ? out : strdup("(invalid JSON)");
}

#define CHECK_JSON(text, want) do { \
	char *unit_s = harness_sorted(text); \
	CHECK_STR(unit_s, want); \
	free(unit_s); \
} while (0)

/* Elements of the JSON array in text; -1 if it is not one. */
static inline long
harness_array_size(const char *text)
{
	json_t *v = json_loads(text ? text : "", 0, NULL);
	long n = json_is_array(v) ? (long)json_array_size(v) : -1;

	json_decref(v);
	return n;
}

#endif
