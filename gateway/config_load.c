/* config_load.c — the daemon's own sections of the configuration
 * (gateway, datasets, services, policies) as key tables, and config_load(),
 * which fills a struct config from them.
 *
 * Loading runs in phases because sections refer to each other across files:
 * config.c reads the main file and its includes, collecting their sections;
 * then gateway, datasets, service ids, service bodies (connector maps need
 * the datasets, subscriptions the service ids), and policies last. */
#include "config_load.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "config.h"
#include "checkpoint.h"
#include "config_connector.h"
#include "encode.h"
#include "keys.h"
#include "log.h"
#include "store.h"

#define CONFIG_MAX_WORKERS 64

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

static void
config_field_pseudonym_key(struct config_loader *ld,
    const struct config_field *f, const char *path, const struct yamltree *v,
    void *dst)
{
	struct secret *key = dst;

	config_field_secret(ld, f, path, v, dst);
	if (key->data != NULL && key->len < 32 && !ld->offline)
		config_error(ld, v, "%s: must be at least 32 bytes, is %zu",
		    path, key->len);
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
		*(char **)dst = config_strdup(ld, s);
}

static void
config_field_log_format(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);

	if (s == NULL)
		return;
	if (log_format_parse(s) == -1)
		config_error(ld, v, "%s: expected text or json", path);
	else
		*(char **)dst = config_strdup(ld, s);
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
		*(char **)dst = config_strdup(ld, s);
}

/* Whether the host of a valid listen spec is a loopback address: 127/8,
 * ::1 or "localhost" (any other name could resolve off the machine). */
static int
config_loopback_listen(const char *s)
{
	char host[INET6_ADDRSTRLEN];
	unsigned char addr[16];
	const char *end;
	size_t len;

	if (s[0] == '[') {
		end = strchr(s, ']');
		len = (size_t)(end - s - 1);
		memcpy(host, s + 1, len);
		host[len] = '\0';
		return inet_pton(AF_INET6, host, addr) == 1 &&
		    IN6_IS_ADDR_LOOPBACK((struct in6_addr *)addr);
	}
	end = strchr(s, ':');
	len = (size_t)(end - s);
	if (len >= sizeof(host))
		return 0;
	memcpy(host, s, len);
	host[len] = '\0';
	if (strcmp(host, "localhost") == 0)
		return 1;
	return inet_pton(AF_INET, host, addr) == 1 && addr[0] == 127;
}

/* gateway.admin_listen: plain HTTP without client certificates, so on a
 * loopback address only (docs/operations.md, The admin listener). */
static void
config_field_admin_listen(struct config_loader *ld,
    const struct config_field *f, const char *path, const struct yamltree *v,
    void *dst)
{
	const char *s = config_scalar(ld, path, v);

	if (s == NULL)
		return;
	if (!config_valid_listen(s)) {
		config_error(ld, v, "%s: expected host:port or [IPv6]:port, "
		    "e.g. 127.0.0.1:9464", path);
		return;
	}
	if (!config_loopback_listen(s)) {
		config_error(ld, v, "%s: %s is not a loopback address; the admin "
		    "listener speaks plain HTTP without client certificates, so "
		    "it binds 127.0.0.1, [::1] or localhost only (scrape from "
		    "another host through the main listener)", path, s);
		return;
	}
	*(char **)dst = config_strdup(ld, s);
}

/* A URL of store_backend.c's scheme table that its backend accepts, so that
 * `check` refuses what `serve` would; a path (sqlite:PATH) is resolved,
 * other URLs are kept as they are. */
static void
config_field_store(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);
	const struct store_scheme *scheme;
	const char *rest;
	char *file, why[256];

	if (s == NULL)
		return;
	if ((scheme = store_scheme_find(s)) == NULL ||
	    *(rest = s + strlen(scheme->prefix)) == '\0') {
		config_error(ld, v, "%s: expected " STORE_URL_FORMS, path);
		return;
	}
	if (scheme->check != NULL &&
	    scheme->check(s, why, sizeof(why)) != 0) {
		config_error(ld, v, "%s: %s", path, why);
		return;
	}
	if (!scheme->is_path) {
		*(char **)dst = config_strdup(ld, s);
		return;
	}
	if ((file = config_resolve_path(ld, v, rest)) == NULL)
		return;
	if (asprintf((char **)dst, "%s%s", scheme->prefix, file) == -1) {
		*(char **)dst = NULL;
		config_nomem(ld);
	}
	free(file);
}

/* The origin line of signed checkpoints, which also names their signing
 * key: a signed-note key name, or no verifier key could name it. */
static void
config_field_origin(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);

	if (s == NULL)
		return;
	if (!checkpoint_origin_valid(s)) {
		config_error(ld, v, "%s: must be at most %d bytes, without "
		    "spaces, control characters or '+' (it names the signing "
		    "key in signed notes)", path, CHECKPOINT_ORIGIN_MAX - 1);
		return;
	}
	*(char **)dst = config_strdup(ld, s);
}

/* The base of problem type URIs: an absolute URI (RFC 3986 scheme, then
 * ':'), printable, without spaces or quotes, that a reason is appended
 * to. */
static void
config_field_problem_base(struct config_loader *ld,
    const struct config_field *f, const char *path, const struct yamltree *v,
    void *dst)
{
	const char *s = config_scalar(ld, path, v);
	size_t scheme;

	if (s == NULL)
		return;
	scheme = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789+.-");
	if (scheme == 0 || s[scheme] != ':' || !((*s >= 'a' && *s <= 'z') ||
	    (*s >= 'A' && *s <= 'Z')) || strlen(s) > CONFIG_PROBLEM_BASE_MAX ||
	    strpbrk(s, " \"<>\\^`{|}") != NULL) {
		config_error(ld, v, "%s: expected an absolute URI of at most %d "
		    "characters, e.g. https://docs.example.org/tellonce/problems/",
		    path, CONFIG_PROBLEM_BASE_MAX);
		return;
	}
	for (const char *p = s; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			config_error(ld, v, "%s: must not contain control "
			    "characters", path);
			return;
		}
	}
	*(char **)dst = config_strdup(ld, s);
}

/* An ISO 3166-1 alpha-2 country code: two capital letters. */
static void
config_field_country(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);

	if (s == NULL)
		return;
	if (strlen(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' ||
	    s[1] > 'Z')
		config_error(ld, v, "%s: expected a two-letter ISO 3166 country "
		    "code, e.g. FR", path);
	else
		*(char **)dst = config_strdup(ld, s);
}

/* The contacts of the register (contract §7), on a service or the gateway.
 * Fields of a struct config_contacts, which sits at `base` in the struct
 * being filled. */
#define CONFIG_CONTACT_FIELDS(type, base) \
	{ .key = "controller", .parse = config_field_string, \
	  .offset = offsetof(type, base.controller), \
	  .doc = "how to reach the controller, for the register" }, \
	{ .key = "dpo", .parse = config_field_string, \
	  .offset = offsetof(type, base.dpo), \
	  .doc = "how to reach the data protection officer, for the register" }, \
	{ .key = "country", .parse = config_field_country, \
	  .offset = offsetof(type, base.country), \
	  .doc = "where the data is processed, ISO 3166 code (FR); the " \
	  "register lists transfers outside the EU/EEA" }

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
	{ .key = "header_timeout", .parse = config_field_duration, .def = "10s",
	  .offset = offsetof(struct config_limits, header_timeout_ms),
	  .doc = "longest the request line and headers may take to arrive" },
	{ .key = "max_connections", .parse = config_field_count, .def = "1024",
	  .offset = offsetof(struct config_limits, max_connections),
	  .aux = 1000000, .doc = "open client connections, all workers together" },
	{ .key = "max_connections_per_address", .parse = config_field_count,
	  .def = "64", .aux = 1000000,
	  .offset = offsetof(struct config_limits, max_connections_per_address),
	  .doc = "open client connections from one IP address (IPv6: one /64)" },
	{ .key = NULL },
};

/* A list of at most CONFIG_AUDIT_KEYS_MAX items of `path`, or -1 reported. */
static int
config_audit_list(struct config_loader *ld, const char *path,
    const struct yamltree *v)
{
	if (config_expect(ld, path, v, YAMLTREE_SEQUENCE) == -1)
		return -1;
	if (v->n > CONFIG_AUDIT_KEYS_MAX) {
		config_error(ld, v, "%s: at most %d keys", path,
		    CONFIG_AUDIT_KEYS_MAX);
		return -1;
	}
	return 0;
}

static void
config_field_audit_signing_keys(struct config_loader *ld,
    const struct config_field *f, const char *path, const struct yamltree *v,
    void *dst)
{
	struct config_secrets *keys = dst;

	if (config_audit_list(ld, path, v) != 0)
		return;
	for (size_t i = 0; i < v->n; i++)
		config_field_secret(ld, f, path, v->items[i], &keys->v[i]);
	keys->n = v->n;
}

/* Verifier keys as `tellonce keygen` prints them. Their names are checked
 * against the origin once the whole table is read (config_field_audit). */
static void
config_field_verifier_keys(struct config_loader *ld,
    const struct config_field *f, const char *path, const struct yamltree *v,
    void *dst)
{
	struct config_strings *vkeys = dst;
	char name[CHECKPOINT_ORIGIN_MAX];
	unsigned char pub[32];

	if (config_audit_list(ld, path, v) != 0)
		return;
	for (size_t i = 0; i < v->n; i++) {
		const char *vkey = config_scalar(ld, path, v->items[i]);

		if (vkey == NULL)
			continue;
		if (keys_verifier_parse(vkey, name, sizeof(name), pub) != 0) {
			config_error(ld, v->items[i], "%s: not a verifier key "
			    "(NAME+KEYID+KEY, as tellonce keygen prints it)",
			    path);
			continue;
		}
		vkeys->v[vkeys->n++] = config_strdup(ld, vkey);
	}
}

static const struct config_field config_audit_fields[] = {
	{ .key = "dir", .parse = config_field_path,
	  .offset = offsetof(struct config_audit, dir),
	  .doc = "directory of the audit log (entries, tiles, checkpoints); "
	  "sqlite stores only: the nodes on a postgresql store keep one log "
	  "in it" },
	{ .key = "origin", .parse = config_field_origin, .required = 1,
	  .offset = offsetof(struct config_audit, origin),
	  .doc = "first line of every checkpoint, e.g. audit.example.org/log" },
	{ .key = "signing_key", .parse = config_field_secret, .required = 1,
	  .offset = offsetof(struct config_audit, signing_key),
	  .aux = SECRET_PRIVATE,
	  .doc = "Ed25519 private key (PEM) that signs checkpoints" },
	{ .key = "additional_signing_keys",
	  .parse = config_field_audit_signing_keys,
	  .offset = offsetof(struct config_audit, additional_signing_keys),
	  .aux = SECRET_PRIVATE,
	  .doc = "more Ed25519 private keys that sign every checkpoint too, "
	  "while the signing key is rotated" },
	{ .key = "verifier_keys", .parse = config_field_verifier_keys,
	  .offset = offsetof(struct config_audit, verifier_keys),
	  .doc = "verifier keys of earlier signing keys, accepted on the last "
	  "checkpoint at start and published" },
	{ .key = "checkpoint_interval", .parse = config_field_duration,
	  .def = "1s", .offset = offsetof(struct config_audit,
	  checkpoint_interval_ms),
	  .doc = "how often a new signed checkpoint is written" },
	{ .key = "public", .parse = config_field_bool, .def = "true",
	  .offset = offsetof(struct config_audit, public),
	  .doc = "serve tiles, checkpoint and proofs to anyone; false: only "
	  "with the admin token" },
	{ .key = NULL },
};

static const struct config_field config_mandates_fields[] = {
	{ .key = "max_duration", .parse = config_field_duration, .def = "365d",
	  .offset = offsetof(struct config_mandates, max_duration_ms),
	  .doc = "the furthest ahead a mandate's expires_at may lie" },
	{ .key = NULL },
};

/* The table, then what needs its keys together: a verifier key must be
 * for this log, whose checkpoints name the origin. */
static void
config_field_audit(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	struct config_audit *audit = dst;
	char name[CHECKPOINT_ORIGIN_MAX];
	unsigned char pub[32];

	config_field_table(ld, f, path, v, dst);
	for (size_t i = 0; i < audit->verifier_keys.n && audit->origin; i++) {
		const char *vkey = audit->verifier_keys.v[i];

		if (vkey != NULL && keys_verifier_parse(vkey, name,
		    sizeof(name), pub) == 0 && strcmp(name, audit->origin) != 0)
			config_error(ld, v, "%s.verifier_keys: %s is a key of "
			    "\"%s\", not of this log's origin \"%s\"", path, vkey,
			    name, audit->origin);
	}
}

/* No default for level: gateway.log_level may give it (see
 * config_gateway_log). */
static const struct config_field config_log_fields[] = {
	{ .key = "format", .parse = config_field_log_format, .def = "text",
	  .offset = offsetof(struct config_log, format),
	  .doc = "text, or json for one JSON object per line" },
	{ .key = "level", .parse = config_field_log_level,
	  .offset = offsetof(struct config_log, level),
	  .doc = "debug, info (default), warn or error" },
	{ .key = NULL },
};

static const struct config_field config_gateway_fields[] = {
	{ .key = "listen", .parse = config_field_listen, .required = 1,
	  .offset = offsetof(struct config_gateway, listen),
	  .doc = "host:port or [IPv6]:port to accept connections on" },
	{ .key = "admin_listen", .parse = config_field_admin_listen,
	  .offset = offsetof(struct config_gateway, admin_listen),
	  .doc = "loopback host:port serving health, metrics and the admin "
	  "endpoints in plain HTTP; default: none" },
	{ .key = "workers", .parse = config_field_count,
	  .offset = offsetof(struct config_gateway, workers),
	  .aux = CONFIG_MAX_WORKERS,
	  .doc = "event-loop threads; default: the number of online CPUs" },
	{ .key = "log", .parse = config_field_table,
	  .offset = offsetof(struct config_gateway, log),
	  .sub = config_log_fields, .doc = "operational log lines: {format, level}" },
	{ .key = "log_level", .parse = config_field_log_level,
	  .offset = offsetof(struct config_gateway, log_level),
	  .doc = "deprecated spelling of log.level" },
	{ .key = "user", .parse = config_field_string,
	  .offset = offsetof(struct config_gateway, user),
	  .doc = "when started as root: the user to run as once the socket is "
	  "bound and the keys are read" },
	{ .key = "problem_base", .parse = config_field_problem_base,
	  .offset = offsetof(struct config_gateway, problem_base),
	  .doc = "problem type URIs are this base followed by the reason; "
	  "unset: about:blank" },
	{ .key = "tls", .parse = config_field_tls,
	  .offset = offsetof(struct config_gateway, tls),
	  .doc = "serve HTTPS: {cert, key, client_ca}" },
	{ .key = "store", .parse = config_field_store, .required = 1,
	  .offset = offsetof(struct config_gateway, store),
	  .doc = STORE_URL_FORMS },
	{ .key = "store_password", .parse = config_field_secret,
	  .offset = offsetof(struct config_gateway, store_password),
	  .aux = SECRET_PRIVATE | SECRET_TRIM,
	  .doc = "password of a postgresql store; never written in the URL" },
	{ .key = "pseudonym_key", .parse = config_field_pseudonym_key,
	  .required = 1, .offset = offsetof(struct config_gateway,
	  pseudonym_key), .aux = SECRET_PRIVATE | SECRET_TRIM,
	  .doc = "key of the subject pseudonyms, 32 bytes or more" },
	{ .key = "admin_token", .parse = config_field_secret, .required = 1,
	  .offset = offsetof(struct config_gateway, admin_token),
	  .aux = SECRET_PRIVATE | SECRET_TRIM,
	  .doc = "bearer token of the admin API" },
	{ .key = "previous_admin_token", .parse = config_field_secret,
	  .offset = offsetof(struct config_gateway, previous_admin_token),
	  .aux = SECRET_PRIVATE | SECRET_TRIM,
	  .doc = "the admin token before a rotation, accepted too until it is "
	  "removed" },
	{ .key = "limits", .parse = config_field_table,
	  .offset = offsetof(struct config_gateway, limits),
	  .sub = config_limits_fields, .doc = "request and connection limits" },
	{ .key = "audit", .parse = config_field_audit, .required = 1,
	  .offset = offsetof(struct config_gateway, audit),
	  .sub = config_audit_fields, .doc = "the signed audit log" },
	{ .key = "mandates", .parse = config_field_table,
	  .offset = offsetof(struct config_gateway, mandates),
	  .sub = config_mandates_fields,
	  .doc = "mediators' mandates (contract §8): {max_duration}" },
	CONFIG_CONTACT_FIELDS(struct config_gateway, contacts),
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

/* gateway.log_level, the spelling of gateway.log.level before there was a
 * gateway.log, still starts the configurations written with it (an
 * unknown key would stop them); giving both is an error, as one would
 * silently lose. */
static void
config_gateway_log(struct config_loader *ld, struct config_gateway *gw)
{
	if (gw->log_level != NULL && gw->log.level != NULL) {
		config_error(ld, yamltree_get(ld->gateway, "log_level"),
		    "gateway.log_level: the old spelling of gateway.log.level; "
		    "give only gateway.log.level");
		return;
	}
	if (gw->log.level == NULL)
		gw->log.level = config_strdup(ld, gw->log_level != NULL ?
		    gw->log_level : "info");
}

/* One node on SQLite keeps its log in a directory; the nodes on a
 * PostgreSQL store keep one log in it, and a directory named there would
 * be one no node writes. */
static void
config_gateway_audit_dir(struct config_loader *ld, struct config_gateway *gw)
{
	const struct yamltree *audit = yamltree_get(ld->gateway, "audit");
	int is_path;

	if (gw->store == NULL || audit == NULL)
		return;
	is_path = store_scheme_find(gw->store)->is_path;
	if (is_path && gw->audit.dir == NULL)
		config_error(ld, audit, "gateway.audit.dir: required with an "
		    "sqlite store");
	else if (!is_path && gw->audit.dir != NULL)
		config_error(ld, yamltree_get(audit, "dir"), "gateway.audit.dir: "
		    "not used with a postgresql store, whose nodes keep one "
		    "audit log in the database (docs/deployment.md); remove it");
}

static void
config_gateway_load(struct config_loader *ld)
{
	struct config_gateway *gw = &ld->cfg->gateway;

	if (ld->gateway == NULL) {
		config_error(ld, ld->main->root, "missing required key "
		    "'gateway'");
		return;
	}
	config_table_apply(ld, "gateway", config_gateway_fields, ld->gateway, gw);
	if (gw->store_password.data != NULL && gw->store != NULL &&
	    store_scheme_find(gw->store)->is_path)
		config_error(ld, ld->gateway, "gateway.store_password: only a "
		    "postgresql store takes a password");
	config_gateway_audit_dir(ld, gw);
	config_gateway_log(ld, gw);
	if (secret_equal(&gw->previous_admin_token, &gw->admin_token))
		config_error(ld, yamltree_get(ld->gateway, "previous_admin_token"),
		    "gateway.previous_admin_token: the same as admin_token; a "
		    "rotation needs a new token");
	/* No default text: the default depends on the machine. */
	if (gw->workers == 0)
		gw->workers = config_online_cpus();
}

/* ---- datasets ------------------------------------------------------------- */

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
	ds->attributes = config_calloc(ld, v->n / 2, sizeof(*ds->attributes));
	if (ds->attributes == NULL)
		return;
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
		if ((attr->name = config_strdup(ld, name->value)) != NULL)
			ds->nattributes++;
	}
}

static const struct config_field config_dataset_fields[] = {
	{ .key = "attributes", .parse = config_field_attributes, .required = 1,
	  .doc = "name: type, with types string, integer, number, boolean, date" },
	{ .key = "description", .parse = config_field_comment,
	  .doc = "free text for readers of the configuration" },
	{ .key = "retention", .parse = config_field_duration, .def = "30d",
	  .offset = offsetof(struct config_dataset, retention_ms),
	  .doc = "how long pushed records are kept once delivered (twice that "
	  "at most)" },
	{ .key = "subjects", .parse = config_field_string, .def = "citizens",
	  .offset = offsetof(struct config_dataset, subjects),
	  .doc = "the categories of data subjects, for the register" },
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

	cfg->datasets = config_calloc(ld, total, sizeof(*cfg->datasets));
	ld->dataset_keys = config_calloc(ld, total, sizeof(*ld->dataset_keys));
	if (cfg->datasets == NULL || ld->dataset_keys == NULL)
		return;
	for (size_t m = 0; m < ld->datasets.n; m++) {
		const struct yamltree *map = ld->datasets.v[m];

		for (size_t i = 0; i < map->n; i += 2) {
			const struct yamltree *key = map->items[i];
			struct config_dataset *ds;
			char path[CONFIG_PATH_MAX];

			if (config_check_id(ld, "datasets", key, ld->dataset_keys,
			    cfg->ndatasets) == -1)
				continue;
			ds = &cfg->datasets[cfg->ndatasets];
			if ((ds->name = config_strdup(ld, key->value)) == NULL)
				continue;
			ld->dataset_keys[cfg->ndatasets++] = key;
			config_key_path(path, sizeof(path), "datasets", key->value);
			config_table_apply(ld, path, config_dataset_fields,
			    map->items[i + 1], ds);
		}
	}
}

/* ---- services ------------------------------------------------------------- */

/* Whether service o holds the key of hash, as its api_key or its
 * previous_api_key. */
static int
config_service_has_key(const struct config_service *o,
    const unsigned char hash[32])
{
	return (o->has_api_key && CRYPTO_memcmp(o->api_key_sha256, hash,
	    32) == 0) || (o->has_previous_api_key &&
	    CRYPTO_memcmp(o->previous_api_key_sha256, hash, 32) == 0);
}

/* Whether service o has the certificate of hash, as its
 * client_cert_sha256 or its previous_client_cert_sha256. */
static int
config_service_has_cert(const struct config_service *o,
    const unsigned char hash[32])
{
	return (o->has_client_cert && memcmp(o->client_cert_sha256, hash,
	    32) == 0) || (o->has_previous_client_cert &&
	    memcmp(o->previous_client_cert_sha256, hash, 32) == 0);
}

/* Hashes the key into hash (SHA-256; the key is wiped as soon as it is
 * hashed) and checks that no service so far, this one included, has it.
 * 0, or -1 reported. */
static int
config_api_key_hash(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, struct config_service *svc,
    unsigned char hash[32])
{
	struct secret key;

	memset(&key, 0, sizeof(key));
	config_field_secret(ld, f, path, v, &key);
	if (key.data == NULL)
		return -1;
	SHA256(key.data, key.len, hash);
	secret_wipe(&key);
	for (struct config_service *o = ld->cfg->services; o <= svc; o++) {
		if (!config_service_has_key(o, hash))
			continue;
		if (o == svc)
			config_error(ld, v, "%s: the same key as the service's "
			    "other one; a rotation needs a new key", path);
		else
			config_error(ld, v, "%s: the same key as service '%s'; "
			    "every service needs its own", path, o->id);
		return -1;
	}
	return 0;
}

/* api_key or previous_api_key, as f->key says; dst: the struct
 * config_service. Only the hash is kept. */
static void
config_field_api_key(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	struct config_service *svc = dst;
	int previous = strcmp(f->key, "previous_api_key") == 0;
	unsigned char hash[32];

	if (config_api_key_hash(ld, f, path, v, svc, hash) != 0)
		return;
	memcpy(previous ? svc->previous_api_key_sha256 : svc->api_key_sha256,
	    hash, sizeof(hash));
	*(previous ? &svc->has_previous_api_key : &svc->has_api_key) = 1;
}

/* client_cert_sha256 or previous_client_cert_sha256, as f->key says;
 * dst: the struct config_service. */
static void
config_field_cert_hash(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	struct config_service *svc = dst;
	int previous = strcmp(f->key, "previous_client_cert_sha256") == 0;
	const char *hex = config_scalar(ld, path, v);
	unsigned char hash[32];

	if (hex == NULL)
		return;
	if (decode_hex(hex, hash, sizeof(hash)) == -1) {
		config_error(ld, v, "%s: expected the 64 hex digits of the "
		    "certificate's SHA-256", path);
		return;
	}
	for (struct config_service *o = ld->cfg->services; o <= svc; o++) {
		if (!config_service_has_cert(o, hash))
			continue;
		if (o == svc)
			config_error(ld, v, "%s: the same certificate as the "
			    "service's other one; a renewal needs a new one",
			    path);
		else
			config_error(ld, v, "%s: the same certificate as "
			    "service '%s'; every service needs its own", path,
			    o->id);
		return;
	}
	memcpy(previous ? svc->previous_client_cert_sha256 :
	    svc->client_cert_sha256, hash, sizeof(hash));
	*(previous ? &svc->has_previous_client_cert : &svc->has_client_cert) = 1;
}

static const struct config_field config_auth_fields[] = {
	{ .key = "api_key", .parse = config_field_api_key,
	  .aux = SECRET_PRIVATE | SECRET_TRIM,
	  .doc = "bearer token of the service (env: or file:); only its hash is kept" },
	{ .key = "previous_api_key", .parse = config_field_api_key,
	  .aux = SECRET_PRIVATE | SECRET_TRIM,
	  .doc = "the service's key before a rotation, accepted too until it "
	  "is removed" },
	{ .key = "client_cert_sha256", .parse = config_field_cert_hash,
	  .doc = "SHA-256 of the service's TLS client certificate (DER), hex" },
	{ .key = "previous_client_cert_sha256", .parse = config_field_cert_hash,
	  .doc = "the service's certificate before a renewal, accepted too "
	  "until it is removed" },
	{ .key = NULL },
};

/* dst: the struct config_service. */
static void
config_field_auth(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	config_table_apply(ld, path, config_auth_fields, v, dst);
	if (v->kind != YAMLTREE_MAPPING)
		return;
	if (yamltree_get(v, "api_key") == NULL &&
	    yamltree_get(v, "client_cert_sha256") == NULL)
		config_error(ld, v, "%s: needs api_key or client_cert_sha256",
		    path);
	else if (yamltree_get(v, "api_key") == NULL &&
	    yamltree_get(v, "previous_api_key") != NULL)
		config_error(ld, v, "%s: previous_api_key is for a rotation to "
		    "a new api_key, which is missing", path);
	else if (yamltree_get(v, "client_cert_sha256") == NULL &&
	    yamltree_get(v, "previous_client_cert_sha256") != NULL)
		config_error(ld, v, "%s: previous_client_cert_sha256 is for a "
		    "renewal to a new client_cert_sha256, which is missing",
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
		else if (strcmp(role, "mediator") == 0)
			*roles |= CONFIG_ROLE_MEDIATOR;
		else
			config_error(ld, v->items[i], "%s: unknown role '%s' "
			    "(known: transparency, mediator)", path, role);
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
	svc->subscribes = config_calloc(ld, v->n, sizeof(*svc->subscribes));
	if (svc->subscribes == NULL)
		return;
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
	  .doc = "extra rights: transparency (read subjects' access logs), "
	  "mediator (act for citizens under their mandates)" },
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
	CONFIG_CONTACT_FIELDS(struct config_service, contacts),
	{ .key = NULL },
};

static void
config_services_load(struct config_loader *ld)
{
	struct config *cfg = ld->cfg;
	size_t total = config_count_pairs(&ld->services);

	cfg->services = config_calloc(ld, total, sizeof(*cfg->services));
	ld->service_keys = config_calloc(ld, total, sizeof(*ld->service_keys));
	ld->service_bodies = config_calloc(ld, total,
	    sizeof(*ld->service_bodies));
	if (cfg->services == NULL || ld->service_keys == NULL ||
	    ld->service_bodies == NULL)
		return;
	/* Every id first, so that subscriptions may name any service. */
	for (size_t m = 0; m < ld->services.n; m++) {
		const struct yamltree *map = ld->services.v[m];

		for (size_t i = 0; i < map->n; i += 2) {
			struct config_service *svc = &cfg->services[cfg->nservices];

			if (config_check_id(ld, "services", map->items[i],
			    ld->service_keys, cfg->nservices) == -1 ||
			    (svc->id = config_strdup(ld,
			    map->items[i]->value)) == NULL)
				continue;
			ld->service_keys[cfg->nservices] = map->items[i];
			ld->service_bodies[cfg->nservices++] = map->items[i + 1];
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
	p->id = config_strdup(ld, v->value);
}

/* "dataset 'D' has no attribute 'A'", with the nearest attribute. */
static void
config_unknown_attribute(struct config_loader *ld, const struct yamltree *at,
    const char *path, const struct config_dataset *ds, const char *name)
{
	char mean[CONFIG_PATH_MAX];
	struct suggest near;

	suggest_init(&near, name);
	for (size_t i = 0; i < ds->nattributes; i++)
		suggest_try(&near, ds->attributes[i].name);
	config_error(ld, at, "%s: dataset '%s' has no attribute '%s'%s", path,
	    ds->name, name, config_did_you_mean(&near, mean, sizeof(mean)));
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
	p->attributes = config_calloc(ld, v->n, sizeof(*p->attributes));
	if (p->attributes == NULL)
		return;
	for (size_t i = 0; i < v->n; i++) {
		const char *name = config_scalar(ld, path, v->items[i]);
		const struct config_attribute *attr;

		if (name == NULL)
			continue;
		if ((attr = config_find_attribute(p->dataset, name)) == NULL) {
			config_unknown_attribute(ld, v->items[i], path,
			    p->dataset, name);
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

static void
config_field_basis(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	const char *s = config_scalar(ld, path, v);

	if (s != NULL && config_basis_parse(s, dst) == -1)
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
	cfg->policies = config_calloc(ld, total, sizeof(*cfg->policies));
	ld->policy_ids = config_calloc(ld, total, sizeof(*ld->policy_ids));
	if (cfg->policies == NULL || ld->policy_ids == NULL)
		return;
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

/* ---- mandates ------------------------------------------------------------- */

/* The procedure categories of Aidants Connect, the words mediators use
 * for what a mandate covers. */
static const char *const config_category_names[] = {
	"papiers", "famille", "social", "travail", "logement", "transports",
	"argent", "justice", "etranger", "loisirs",
};

static int
config_category_known(struct config_loader *ld, const struct yamltree *key,
    const char *path)
{
	char mean[CONFIG_PATH_MAX];
	struct suggest near;

	suggest_init(&near, key->value);
	for (size_t i = 0; i < CONFIG_NITEMS(config_category_names); i++) {
		if (strcmp(key->value, config_category_names[i]) == 0)
			return 1;
		suggest_try(&near, config_category_names[i]);
	}
	config_error(ld, key, "%s: '%s' is not an Aidants Connect category "
	    "(papiers, famille, social, travail, logement, transports, argent, "
	    "justice, etranger, loisirs)%s", path, key->value,
	    config_did_you_mean(&near, mean, sizeof(mean)));
	return 0;
}

/* One category: a non-empty list of datasets, none twice. */
static void
config_category_load(struct config_loader *ld, const char *path,
    const struct yamltree *v, struct config_category *cat)
{
	if (config_expect(ld, path, v, YAMLTREE_SEQUENCE) == -1)
		return;
	if (v->n == 0) {
		config_error(ld, v, "%s: list at least one dataset", path);
		return;
	}
	if ((cat->datasets = config_calloc(ld, v->n, sizeof(*cat->datasets))) ==
	    NULL)
		return;
	for (size_t i = 0; i < v->n; i++) {
		const struct config_dataset *ds = NULL;

		config_field_dataset_ref(ld, NULL, path, v->items[i], &ds);
		if (ds == NULL)
			continue;
		for (size_t j = 0; j < cat->ndatasets; j++)
			if (cat->datasets[j] == ds) {
				config_error(ld, v->items[i], "%s: '%s' is listed "
				    "twice", path, ds->name);
				ds = NULL;
				break;
			}
		if (ds != NULL)
			cat->datasets[cat->ndatasets++] = ds;
	}
}

/* dst: the struct config. */
static void
config_field_categories(struct config_loader *ld, const struct config_field *f,
    const char *path, const struct yamltree *v, void *dst)
{
	struct config *cfg = dst;

	if (config_expect(ld, path, v, YAMLTREE_MAPPING) == -1)
		return;
	if ((cfg->categories = config_calloc(ld, v->n / 2 + 1,
	    sizeof(*cfg->categories))) == NULL)
		return;
	for (size_t i = 0; i < v->n; i += 2) {
		struct config_category *cat = &cfg->categories[cfg->ncategories];
		char cpath[CONFIG_PATH_MAX];

		config_key_path(cpath, sizeof(cpath), path, v->items[i]->value);
		if (!config_category_known(ld, v->items[i], path) ||
		    (cat->name = config_strdup(ld, v->items[i]->value)) == NULL)
			continue;
		cfg->ncategories++;
		config_category_load(ld, cpath, v->items[i + 1], cat);
	}
}

static const struct config_field config_mandates_section_fields[] = {
	{ .key = "categories", .parse = config_field_categories,
	  .doc = "Aidants Connect category: [datasets] that a mandate naming "
	  "it covers" },
	{ .key = NULL },
};

static void
config_mandates_load(struct config_loader *ld)
{
	if (ld->mandates == NULL ||
	    (ld->mandates->kind == YAMLTREE_SCALAR && ld->mandates->is_null))
		return;
	config_table_apply(ld, "mandates", config_mandates_section_fields,
	    ld->mandates, ld->cfg);
}

/* ---- subscriptions and their policies -------------------------------------- */

static int
config_policy_covers(const struct config *cfg, const struct config_service *consumer,
    const struct config_service *provider, const struct config_dataset *ds)
{
	for (size_t i = 0; i < cfg->npolicies; i++)
		if (cfg->policies[i].consumer == consumer &&
		    cfg->policies[i].provider == provider &&
		    cfg->policies[i].dataset == ds)
			return 1;
	return 0;
}

/* A subscription delivers nothing without a policy, and its row of the
 * register (contract §7) takes the purpose and basis from one: a
 * subscription that no policy covers is refused where it is written. */
static void
config_subscriptions_check(struct config_loader *ld)
{
	const struct config *cfg = ld->cfg;

	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct config_service *svc = &cfg->services[i];
		const struct yamltree *subs = yamltree_get(ld->service_bodies[i],
		    "subscribes");

		if (subs == NULL || subs->kind != YAMLTREE_SEQUENCE)
			continue;
		for (size_t j = 0; j < subs->n; j++) {
			const struct yamltree *ds = yamltree_get(subs->items[j],
			    "dataset"), *from = yamltree_get(subs->items[j], "from");
			const struct config_dataset *d;
			const struct config_service *p;

			if (ds == NULL || from == NULL ||
			    ds->kind != YAMLTREE_SCALAR || from->kind != YAMLTREE_SCALAR ||
			    (d = config_find_dataset(cfg, ds->value)) == NULL ||
			    (p = config_find_service(cfg, from->value)) == NULL ||
			    p == svc || config_policy_covers(cfg, svc, p, d))
				continue;
			config_error(ld, subs->items[j], "services.%s.subscribes[%zu]: "
			    "no policy lets %s obtain dataset '%s' from '%s'; the "
			    "register needs one for its purpose and basis", svc->id,
			    j, svc->id, d->name, p->id);
		}
	}
}

/* ---- the load ------------------------------------------------------------- */

/* In this order: connector maps need the datasets, subscriptions and
 * policies the services. */
static void (*const config_phases[])(struct config_loader *) = {
	config_gateway_load,
	config_datasets_load,
	config_mandates_load,
	config_services_load,
	config_policies_load,
	config_subscriptions_check,
};

static struct config *
config_load_with(const char *path, int offline, struct config_errors *errs)
{
	struct config_loader ld = { .errs = errs, .offline = offline };
	size_t before = errs->n;
	struct config *cfg;

	errs->nomem = 0;
	if ((cfg = ld.cfg = config_calloc(&ld, 1, sizeof(*cfg))) == NULL)
		return NULL;
	atomic_init(&cfg->refs, 1);
	if ((cfg->path = config_strdup(&ld, path)) != NULL)
		config_sources_load(&ld, path);
	if (ld.main != NULL && ld.main->root != NULL &&
	    ld.main->root->kind == YAMLTREE_MAPPING) {
		/* Out of memory, a phase stops where it is: the next would
		 * find it half done. */
		for (size_t i = 0; i < CONFIG_NITEMS(config_phases) &&
		    !errs->nomem; i++)
			config_phases[i](&ld);
	}
	config_loader_free(&ld);
	if (errs->n > before || errs->nomem) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

struct config *
config_load(const char *path, struct config_errors *errs)
{
	return config_load_with(path, 0, errs);
}

struct config *
config_load_offline(const char *path, struct config_errors *errs)
{
	return config_load_with(path, 1, errs);
}
