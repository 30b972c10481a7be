/* example.c — the example connector plugin: an in-memory directory.
 *
 * Shows everything a plugin needs and nothing more: one exported function
 * returning the ops, a settings struct described by a key table, and
 * callbacks that answer through `done`. It depends on libc and
 * connector.h only, so it builds with
 *
 *     cc -shared -fPIC -I connectors -o example.so connectors/example/example.c
 *
 * Records are seeded from the `records` key (local id: JSON object text).
 * A push replaces the record of its local id in this instance's memory, so
 * a later fetch on the same event loop returns it; nothing is persisted.
 * Every call completes before it returns, which the ABI allows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connector.h"

struct example_settings {
	struct connector_strmap records;
	char *label;
};

/* One record; a push stores a copy owned by the instance. */
struct example_record {
	char *local_id;
	char *json;
	struct example_record *next;
};

struct example {
	const struct example_settings *settings;
	struct connector_env env;
	struct example_record *pushed;
};

static const struct connector_key example_keys[] = {
	{ "records", CONNECTOR_KEY_STRMAP, NULL, 1,
	  offsetof(struct example_settings, records),
	  "local id: the JSON object served for it" },
	{ "label", CONNECTOR_KEY_STRING, "example", 0,
	  offsetof(struct example_settings, label),
	  "a name for log lines" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

/* Every seeded record must at least look like a JSON object: the core
 * parses it, but a typo is better caught by `tellonce check`. */
static int
example_validate(const void *settings, char *err, size_t errlen)
{
	const struct example_settings *s = settings;

	for (size_t i = 0; i < s->records.n; i++) {
		const char *v = s->records.values[i];
		size_t len = strlen(v);

		if (len < 2 || v[0] != '{' || v[len - 1] != '}') {
			snprintf(err, errlen, "records.%s: expected a JSON "
			    "object", s->records.keys[i]);
			return -1;
		}
	}
	return 0;
}

static int
example_init(void **instance, const void *settings,
    const struct connector_env *env, char *err, size_t errlen)
{
	struct example *ex = calloc(1, sizeof(*ex));

	if (ex == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ex->settings = settings;
	ex->env = *env;
	*instance = ex;
	return 0;
}

static const char *
example_find(const struct example *ex, const char *local_id)
{
	const struct example_settings *s = ex->settings;

	for (const struct example_record *r = ex->pushed; r; r = r->next)
		if (strcmp(r->local_id, local_id) == 0)
			return r->json;
	for (size_t i = 0; i < s->records.n; i++)
		if (strcmp(s->records.keys[i], local_id) == 0)
			return s->records.values[i];
	return NULL;
}

static void
example_fetch(void *instance, const struct connector_request *req,
    connector_done_fn done, void *arg)
{
	struct example *ex = instance;
	struct connector_result res = { .status = CONNECTOR_NOT_FOUND };
	const char *json = example_find(ex, req->local_id);

	if (json != NULL) {
		res.status = CONNECTOR_OK;
		res.body = json;
		res.body_len = strlen(json);
	}
	ex->env.log(CONNECTOR_LOG_DEBUG, "%s: fetch for request %s: %s",
	    ex->settings->label, req->request_id, res.status == CONNECTOR_OK ?
	    "found" : "not found");
	done(&res, arg);
}

static void
example_push(void *instance, const struct connector_request *req,
    connector_done_fn done, void *arg)
{
	struct example *ex = instance;
	struct connector_result res = { .status = CONNECTOR_OK };
	struct example_record *r;
	char *json = strndup(req->body ? req->body : "", req->body_len);

	for (r = ex->pushed; r != NULL; r = r->next)
		if (strcmp(r->local_id, req->local_id) == 0)
			break;
	if (json != NULL && r == NULL && (r = calloc(1, sizeof(*r))) != NULL) {
		if ((r->local_id = strdup(req->local_id)) == NULL) {
			free(r);
			r = NULL;
		} else {
			r->next = ex->pushed;
			ex->pushed = r;
		}
	}
	if (json == NULL || r == NULL) {
		free(json);
		res.status = CONNECTOR_RETRY;
		res.detail = "out of memory";
	} else {
		free(r->json);
		r->json = json;
	}
	done(&res, arg);
}

static void
example_health(void *instance, connector_done_fn done, void *arg)
{
	struct connector_result res = { .status = CONNECTOR_OK };

	done(&res, arg);
}

static void
example_destroy(void *instance)
{
	struct example *ex = instance;
	struct example_record *r, *next;

	for (r = ex->pushed; r != NULL; r = next) {
		next = r->next;
		free(r->local_id);
		free(r->json);
		free(r);
	}
	free(ex);
}

static const struct connector_ops example_ops = {
	.abi_version = CONNECTOR_ABI_VERSION,
	.name = "example",
	.keys = example_keys,
	.settings_size = sizeof(struct example_settings),
	.validate = example_validate,
	.init = example_init,
	.fetch = example_fetch,
	.push = example_push,
	.health = example_health,
	.destroy = example_destroy,
};

/* The one symbol the gateway looks up. */
const struct connector_ops *tellonce_connector_v1(void);

const struct connector_ops *
tellonce_connector_v1(void)
{
	return &example_ops;
}
