/* config_model.h — the configuration as typed structs, and the lookups
 * into them: the bottom of the config modules, which fill these structs
 * (config.c, config_load.c, config_connector.c, mapping_config.c).
 *
 * A `struct config` is immutable once loaded and shared read-only by every
 * thread; a reload builds a new one and swaps it in (see server.c). All
 * cross references (policy → services, dataset, attributes) are resolved to
 * pointers at load time, so nothing on the request path looks names up
 * twice. */
#ifndef TELLONCE_CONFIG_MODEL_H
#define TELLONCE_CONFIG_MODEL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "connector.h"
#include "secret.h"

enum config_attr_type {
	CONFIG_ATTR_STRING,
	CONFIG_ATTR_INTEGER,
	CONFIG_ATTR_NUMBER,
	CONFIG_ATTR_BOOLEAN,
	CONFIG_ATTR_DATE, /* "YYYY-MM-DD" */
};

enum config_basis {
	CONFIG_BASIS_CONSENT,
	CONFIG_BASIS_PUBLIC_TASK,
	CONFIG_BASIS_LEGAL_OBLIGATION,
};

enum config_role {
	CONFIG_ROLE_TRANSPARENCY = 1 << 0, /* may read subjects' access logs */
	CONFIG_ROLE_MEDIATOR = 1 << 1,     /* acts for citizens under mandates */
};

struct config_attribute {
	char *name;
	enum config_attr_type type;
};

struct config_dataset {
	char *name;
	struct config_attribute *attributes;
	size_t nattributes;
	int64_t retention_ms;            /* how long pushed values are kept (§6) */
	char *subjects;                  /* whom it is about, for the register */
};

/* One step of a map entry's transform list (mapping.c applies them). */
enum config_transform_kind {
	CONFIG_TRANSFORM_TRIM,
	CONFIG_TRANSFORM_UPPER,
	CONFIG_TRANSFORM_LOWER,
	CONFIG_TRANSFORM_DATE,      /* from -> to */
	CONFIG_TRANSFORM_CONCAT,    /* paths joined with sep; read only */
	CONFIG_TRANSFORM_SPLIT,     /* part `index` of the value cut at sep; read only */
	CONFIG_TRANSFORM_CONSTANT,  /* value, whatever the service has; read only */
	CONFIG_TRANSFORM_DEFAULT,   /* value when the service has none */
};

struct config_transform {
	enum config_transform_kind kind;
	char *from, *to;            /* date: formats such as "DD/MM/YYYY" */
	char **paths;               /* concat: dotted paths */
	size_t npaths;
	char *sep;                  /* concat (NULL: ""), split */
	int64_t index;              /* split: 0 the first part, -1 the last */
	char *value;                /* constant, default: YAML text that fits
	                             * the attribute's type */
};

/* One `map:` entry: dataset attribute <-> dotted path in the service's JSON. */
struct config_mapping {
	const struct config_attribute *attribute;
	char *path; /* "adresse.cp"; NULL when a concat or constant makes it */
	struct config_transform *transforms; /* in the order they apply on read */
	size_t ntransforms;
};

/* `poll:` in a connector block: the gateway asks the service for changes
 * (ops->changes) instead of waiting for its pushes. */
struct config_poll {
	const struct config_dataset *dataset;   /* NULL: not polled */
	int64_t interval_ms;             /* default 10 s */
};

struct config_connector {
	char *type;                      /* "http", "sql", "file", "plugin" */
	const struct connector_ops *ops;
	void *settings;                  /* ops->settings_size bytes, filled from ops->keys */
	struct config_mapping *map;      /* empty map = attributes by their own names */
	size_t nmap;
	struct config_poll poll;
	int line, col;                   /* of the connector block, for messages */
};

struct config_subscription {
	const struct config_dataset *dataset;
	const struct config_service *from;
};

/* How the outbox delivers to a subscriber (docs/delivery.md). */
struct config_delivery {
	int64_t base_ms;                 /* first retry delay; default 500 ms  */
	int64_t cap_ms;                  /* longest retry delay; default 5 min */
	int max_attempts;                /* then dead-lettered; default 10     */
	int64_t max_age_ms;              /* then dead-lettered; default 24 h   */
	int circuit_threshold;           /* failures in a row that open it; 5  */
	int64_t circuit_cooldown_ms;     /* open this long, then a probe; 30 s */
	int concurrency;                 /* pushes in flight at once; 32       */
};

/* services.*.rate_limit: a token bucket; rate 0 = no limit. */
struct config_rate_limit {
	double rate;                     /* requests per second */
	int burst;                       /* default: one second's worth */
};

/* Who answers for a processing, for the register (contract §7). */
struct config_contacts {
	char *controller;                /* NULL: not set */
	char *dpo;                       /* NULL: not set */
	char *country;                   /* ISO 3166-1 alpha-2; NULL: not set */
};

struct config_service {
	char *id;                        /* the key under `services:` */
	char *name;
	struct config_contacts contacts;
	int has_api_key;
	unsigned char api_key_sha256[32];     /* only the hash is kept */
	/* auth.previous_api_key: the key before a rotation, accepted too
	 * until it is removed. */
	int has_previous_api_key;
	unsigned char previous_api_key_sha256[32];
	int has_client_cert;
	unsigned char client_cert_sha256[32];
	/* auth.previous_client_cert_sha256: the certificate before a
	 * renewal, accepted too until it is removed. */
	int has_previous_client_cert;
	unsigned char previous_client_cert_sha256[32];
	unsigned roles;                  /* CONFIG_ROLE_* */
	struct config_rate_limit rate_limit;
	struct config_connector *connector;   /* NULL: the service only calls us */
	struct config_subscription *subscribes;
	size_t nsubscribes;
	struct config_delivery delivery;
};

struct config_policy {
	char *id;
	const struct config_service *consumer;
	const struct config_service *provider;
	const struct config_dataset *dataset;
	const struct config_attribute **attributes;
	size_t nattributes;
	char *purpose;
	enum config_basis basis;
	char *legal_reference;           /* required unless basis is consent */
};

struct config_tls {
	int enabled;
	struct secret cert;              /* PEM text */
	struct secret key;               /* PEM text */
	struct secret client_ca;         /* PEM text; len 0 = no mTLS */
};

struct config_limits {
	size_t max_body;                 /* bytes; default 1 MiB   */
	size_t max_headers;              /* bytes; default 16 KiB  */
	int64_t request_timeout_ms;      /* default 30 s           */
	int64_t header_timeout_ms;       /* default 10 s           */
	int max_connections;             /* default 1024           */
	int max_connections_per_address; /* default 64             */
};

#define CONFIG_AUDIT_KEYS_MAX 8      /* additional signing or verifier keys */

struct config_secrets {
	struct secret v[CONFIG_AUDIT_KEYS_MAX];
	size_t n;
};

struct config_strings {
	char *v[CONFIG_AUDIT_KEYS_MAX];
	size_t n;
};

struct config_audit {
	char *dir;
	char *origin;
	struct secret signing_key;       /* PEM text of an Ed25519 private key */
	/* Keys that sign every checkpoint too, after signing_key: the other
	 * key of a rotation (docs/operations.md). */
	struct config_secrets additional_signing_keys;
	/* Verifier keys (ORIGIN+ID+KEY) of earlier signing keys: a start
	 * accepts a checkpoint signed by one of them, and they stay
	 * published. */
	struct config_strings verifier_keys;
	int64_t checkpoint_interval_ms;  /* default 1 s */
	int public;                      /* tiles, checkpoint, proofs to anyone */
};

/* gateway.mandates (contract §8). */
struct config_mandates {
	int64_t max_duration_ms;         /* furthest expires_at from now */
};

/* One entry of `mandates.categories`: an Aidants Connect procedure
 * category ("social", "logement", ...) and the datasets a mandate naming
 * it covers. */
struct config_category {
	char *name;
	const struct config_dataset **datasets;
	size_t ndatasets;
};

#define CONFIG_PROBLEM_BASE_MAX 200   /* bytes; a reason is appended */

/* gateway.log */
struct config_log {
	char *format;                    /* "text" (default) or "json" */
	char *level;                     /* "info" (default); set from log_level
	                                  * when only that is given */
};

struct config_gateway {
	char *listen;                    /* "127.0.0.1:8080", "[::]:8443" */
	char *admin_listen;              /* loopback host:port, or NULL */
	int workers;                     /* event-loop threads; default: CPUs */
	struct config_log log;
	char *log_level;                 /* deprecated spelling of log.level, or NULL */
	char *user;                      /* drop root to this user; NULL = stay */
	char *problem_base;              /* problem types: base + reason; NULL: about:blank */
	struct config_tls tls;
	char *store;                     /* "sqlite:PATH" or "postgresql://..." */
	struct secret store_password;    /* postgresql; data NULL when none */
	struct secret pseudonym_key;
	struct secret admin_token;
	/* The admin token before a rotation, accepted too until it is
	 * removed; data NULL when none. */
	struct secret previous_admin_token;
	struct config_limits limits;
	struct config_audit audit;
	struct config_mandates mandates;
	struct config_contacts contacts; /* defaults for every service */
};

struct config {
	atomic_int refs;                 /* owners; see config_ref */
	char *path;
	/* Hex SHA-256 of the YAML read (config_sources_load): nodes meant to
	 * share one configuration compare it on /readyz and in a metric. */
	char sha256[65];
	struct config_gateway gateway;
	struct config_dataset *datasets;
	size_t ndatasets;
	struct config_service *services;
	size_t nservices;
	struct config_policy *policies;
	size_t npolicies;
	struct config_category *categories;   /* mandates.categories */
	size_t ncategories;
};

/* Adds an owner (the server and the delivery worker share one config, so
 * that a reload reads secret files once, before privileges are dropped).
 * Returns cfg. */
struct config *config_ref(struct config *cfg);
/* Drops one owner's reference; the last one frees the config, which may
 * be partly filled (a load that failed). */
void config_free(struct config *cfg);
/* Frees what t holds, not t itself; safe on a zeroed struct. */
void config_transform_free(struct config_transform *t);

const struct config_service *config_find_service(const struct config *cfg,
    const char *id);
const struct config_dataset *config_find_dataset(const struct config *cfg,
    const char *name);
/* The category of mandates.categories named `name`, or NULL. */
const struct config_category *config_find_category(const struct config *cfg,
    const char *name);
const struct config_attribute *config_find_attribute(
    const struct config_dataset *ds, const char *name);
/* The service whose API key hashes to sha256(token), compared in constant
 * time against every service; NULL if none. */
const struct config_service *config_find_service_by_key(const struct config *cfg,
    const char *token, size_t len);
/* The service whose client_cert_sha256 is hash; NULL if none. */
const struct config_service *config_find_service_by_cert(
    const struct config *cfg, const unsigned char hash[32]);

/* "consent", "public_task", "legal_obligation"; "unknown" past the enum. */
const char *config_basis_name(enum config_basis basis);
/* The basis named s into *basis; returns 0 or -1. */
int config_basis_parse(const char *s, enum config_basis *basis);
/* "string", "integer", "number", "boolean", "date". */
const char *config_attr_type_name(enum config_attr_type type);
/* The type named s into *type; returns 0 or -1. */
int config_attr_type_parse(const char *s, enum config_attr_type *type);

#endif
