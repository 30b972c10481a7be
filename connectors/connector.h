/* connector.h — the connector ABI, version 2.
 *
 * The only thing the gateway core knows about connectors. A connector type
 * (http, sql, file, or a plugin loaded with dlopen) exports one
 * `struct connector_ops`. The core:
 *
 *   1. parses the service's `connector:` YAML block: `type` and `map` are the
 *      core's; every other key must be in ops->keys (typed, with defaults;
 *      unknown keys are config errors with line:column) and is written into a
 *      zeroed settings struct of ops->settings_size bytes at key->offset;
 *   2. calls ops->init once per event loop that uses the service (each HTTP
 *      worker thread, the delivery worker, `tellonce connector test`);
 *   3. calls fetch / push / changes on that loop's thread only;
 *   4. calls ops->destroy on the same thread when the loop stops or the
 *      configuration is replaced.
 *
 * This header depends on libc and libevent only; records cross it as JSON
 * text, so a plugin need not link the same JSON library as the core.
 *
 * A plugin shared object exports
 *     const struct connector_ops *tellonce_connector_v1(void);
 * (CONNECTOR_ENTRY_SYMBOL) and sets abi_version to the CONNECTOR_ABI_VERSION
 * of the header it was built with. The core loads any version from
 * CONNECTOR_ABI_MIN_VERSION to CONNECTOR_ABI_VERSION: a version only ever
 * appends fields to the structs the core fills (connector_request), which
 * an older connector does not read, and never changes the entry symbol,
 * the ops struct or a field's meaning. What each version added:
 *   1  the first;
 *   2  connector_request.traceparent.
 * The ops struct and everything it points to (keys, strings) must stay valid
 * while the process runs: the gateway never unloads a plugin.
 *
 * Ownership, in one place: the core owns settings (parsed and freed by the
 * core, read-only for the connector) and every connector_request field (valid
 * until the call returns: copy what an asynchronous call needs later); the
 * connector owns its instance and every connector_result field (valid only
 * during the done callback: the core copies what it keeps).
 */
#ifndef TELLONCE_CONNECTOR_H
#define TELLONCE_CONNECTOR_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

#define CONNECTOR_ABI_VERSION 2
#define CONNECTOR_ABI_MIN_VERSION 1
#define CONNECTOR_ENTRY_SYMBOL "tellonce_connector_v1"

/* ---- settings: the YAML keys a connector accepts ---------------------- */

enum connector_key_type {
	CONNECTOR_KEY_STRING,   /* char *                                          */
	CONNECTOR_KEY_SECRET,   /* char *: resolved from env:NAME / file:PATH;    */
	                        /*   inline values are refused; a file must be    */
	                        /*   0600 or stricter (a key, a token)            */
	CONNECTOR_KEY_INT,      /* int64_t                                         */
	CONNECTOR_KEY_BOOL,     /* int (0/1)                                       */
	CONNECTOR_KEY_DURATION, /* int64_t milliseconds; YAML "2s", "500ms", "1m"  */
	CONNECTOR_KEY_ENDPOINT, /* struct connector_endpoint: {method, path}      */
	CONNECTOR_KEY_STRMAP,   /* struct connector_strmap: {key: value, ...}     */
	CONNECTOR_KEY_PATH,     /* char *: a file name, made absolute against the */
	                        /*   directory of the YAML file that holds it     */
	CONNECTOR_KEY_LIST,     /* struct connector_strlist: [value, ...]         */
	CONNECTOR_KEY_CERT,     /* char *: a certificate (PEM), resolved as a     */
	                        /*   SECRET but public: readable by all is fine,  */
	                        /*   writable by group or others is refused       */
};
/* New key types are only ever appended, so a plugin built against an older
 * header keeps its meaning; a type the core does not know is refused when
 * the plugin is loaded. */

struct connector_endpoint {
	char *method; /* upper-cased, e.g. "GET" */
	char *path;   /* template with {local_id} (and {cursor} for changes) */
};

struct connector_strmap {
	size_t n;
	char **keys;   /* in YAML order */
	char **values;
};

struct connector_strlist {
	size_t n;
	char **items;  /* in YAML order */
};

struct connector_key {
	const char *name;
	enum connector_key_type type;
	const char *default_value; /* YAML text used when absent; NULL = none */
	int required;              /* 1: absent is an error */
	size_t offset;             /* offsetof(settings struct, field) */
	const char *doc;           /* one line, for `tellonce check` and docs */
};

/* ---- calls ------------------------------------------------------------ */

enum connector_status {
	CONNECTOR_OK = 0,
	CONNECTOR_NOT_FOUND,  /* the service has no record for this local id   */
	CONNECTOR_RETRY,      /* transient: unreachable, reset, 5xx, 429        */
	CONNECTOR_TIMEOUT,    /* transient: no complete answer within timeout   */
	CONNECTOR_CONFLICT,   /* push: the service already has it (HTTP 409)    */
	CONNECTOR_PERMANENT,  /* retrying cannot help: 4xx, garbage, mapping    */
};

struct connector_request {
	const char *local_id;        /* the called service's own id of the subject */
	const char *dataset;         /* dataset name                              */
	const char *request_id;      /* for the service's logs (X-Request-Id)     */
	const char *idempotency_key; /* push: equal across retries; else NULL     */
	const char *body;            /* push: JSON object in the service's own    */
	size_t body_len;             /*   field names (after mapping); else NULL  */
	const char *cursor;          /* changes: opaque cursor, NULL = beginning  */
	/* ABI 2: a W3C traceparent for the call (same trace as the request
	 * or record behind it, a span id of its own), for a transport that
	 * carries headers; NULL when there is none. Others ignore it. */
	const char *traceparent;
};

struct connector_result {
	enum connector_status status;
	int http_status;   /* when the transport has one, else 0 */
	/* fetch: the record as a JSON object in the service's own field names.
	 * changes: a JSON array of {"local_id":..., "record":{...}} objects.
	 * Owned by the connector; valid only during the done callback. */
	const char *body;
	size_t body_len;
	const char *next_cursor; /* changes only; owned by the connector */
	/* Why it failed, for logs and problem details. Never holds record values. */
	const char *detail;
};

/* Called exactly once per fetch/push/changes, on the loop's thread. May be
 * called before the call that started it returns (synchronous connectors). */
typedef void (*connector_done_fn)(const struct connector_result *res, void *arg);

/* The descriptors one instance may hold at most (cached connections,
 * resolver and wake-up sockets, files): the gateway sizes its descriptor
 * budget on it (fdlimit.h), per instance, one instance per loop. 64, not
 * the 16 it was: with 8 connections to a provider, a loop serving 32
 * fetches at once queued the rest inside libcurl, at 20% more CPU per
 * fetch (bench/fetch.sh 10s 64). */
#define CONNECTOR_MAX_FDS 64

struct connector_env {
	struct event_base *base;   /* the loop this instance runs on */
	const char *service;       /* service id, for log lines      */
	/* Writes one log line through the gateway's logger. */
	void (*log)(int level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
};

/* Log levels for connector_env.log. */
enum { CONNECTOR_LOG_DEBUG, CONNECTOR_LOG_INFO, CONNECTOR_LOG_WARN, CONNECTOR_LOG_ERROR };

struct connector_ops {
	uint32_t abi_version;                 /* CONNECTOR_ABI_VERSION        */
	const char *name;                     /* the `type:` value            */
	const struct connector_key *keys;     /* terminated by {NULL}         */
	size_t settings_size;

	/* Optional: checks settings beyond their types (e.g. a URL parses).
	 * Returns 0, or -1 with a message in err. Runs at config load. */
	int (*validate)(const void *settings, char *err, size_t errlen);

	/* Creates an instance bound to env->base; *instance is freed by destroy.
	 * `settings` outlives the instance. Returns 0, or -1 with err. */
	int (*init)(void **instance, const void *settings,
	    const struct connector_env *env, char *err, size_t errlen);

	/* Any of these may be NULL when the connector cannot do it. */
	void (*fetch)(void *instance, const struct connector_request *req,
	    connector_done_fn done, void *arg);
	void (*push)(void *instance, const struct connector_request *req,
	    connector_done_fn done, void *arg);
	void (*changes)(void *instance, const struct connector_request *req,
	    connector_done_fn done, void *arg);
	void (*health)(void *instance, connector_done_fn done, void *arg);

	/* Cancels calls in flight (their done callbacks are not called) and
	 * frees the instance. */
	void (*destroy)(void *instance);
};

#endif
