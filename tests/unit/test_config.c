/* test_config.c — config_load on real files in a temporary directory: a
 * full configuration read field by field, then one test per kind of error,
 * each checked at its exact FILE:LINE:COL. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "checkpoint.h"
#include "config_load.h"
#include "encode.h"
#include "store.h"
#include "tmpdir.h"
#include "unit.h"

static char dir[TMPDIR_PATH_LEN];

/* The link wraps the allocator of this binary (see the Makefile): while
 * oom_fail_at is not -1, the allocation of that number (from 0) fails, so
 * test_out_of_memory can fail each allocation of a load in turn. Only the
 * calls made by tellonce's own code are counted; libc, libyaml and
 * jansson allocate for themselves. */
static long oom_fail_at = -1, oom_count;

void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);
void *__real_reallocarray(void *, size_t, size_t);
char *__real_strdup(const char *);
void *__wrap_malloc(size_t);
void *__wrap_calloc(size_t, size_t);
void *__wrap_realloc(void *, size_t);
void *__wrap_reallocarray(void *, size_t, size_t);
char *__wrap_strdup(const char *);

static int
oom_now(void)
{
	return oom_fail_at != -1 && oom_count++ == oom_fail_at;
}

void *
__wrap_malloc(size_t n)
{
	return oom_now() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	return oom_now() ? NULL : __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t n)
{
	return oom_now() ? NULL : __real_realloc(p, n);
}

void *
__wrap_reallocarray(void *p, size_t n, size_t size)
{
	return oom_now() ? NULL : __real_reallocarray(p, n, size);
}

char *
__wrap_strdup(const char *s)
{
	return oom_now() ? NULL : __real_strdup(s);
}

static const char pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIHS0vRZWZ5vXpj3hA2SzDXHpGqZn4s2yT6nJ0rq1gkq1\n"
    "-----END PRIVATE KEY-----\n";

/* The full configuration every error test starts from and changes. */
static const char base[] =
    "gateway:\n"
    "  listen: 127.0.0.1:8080\n"
    "  workers: 3\n"
    "  log: {format: json, level: debug}\n"
    "  store: sqlite:data/tellonce.db\n"
    "  pseudonym_key: env:T_PSEUDONYM_KEY\n"
    "  admin_token: file:admin.token\n"
    "  limits:\n"
    "    max_body: 64k\n"
    "    request_timeout: 2s\n"
    "  audit:\n"
    "    dir: audit\n"
    "    origin: audit.example/log\n"
    "    signing_key: file:audit.key\n"
    "    checkpoint_interval: 500ms\n"
    "datasets:\n"
    "  address:\n"
    "    description: Postal address\n"
    "    attributes: {street: string, postal_code: string, city: string}\n"
    "  household:\n"
    "    attributes: {size: integer, income: number, single: boolean, since: date}\n"
    "services:\n"
    "  mairie:\n"
    "    name: Mairie de Quimper\n"
    "    auth: {api_key: env:T_MAIRIE_KEY}\n"
    "    connector:\n"
    "      type: http\n"
    "      base_url: http://127.0.0.1:9001\n"
    "      timeout: 3s\n"
    "      fetch: {method: get, path: \"/citizens/{local_id}/address\"}\n"
    "      auth_header: file:upstream.auth\n"
    "      map: {street: adresse.voie, postal_code: adresse.cp, size: foyer.taille}\n"
    "  caf:\n"
    "    name: CAF\n"
    "    auth: {api_key: env:T_CAF_KEY, client_cert_sha256: "
    "\"00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\"}\n"
    "    subscribes: [{dataset: address, from: mairie}]\n"
    "  portal:\n"
    "    name: Citizen portal\n"
    "    auth: {api_key: env:T_PORTAL_KEY}\n"
    "    roles: [transparency]\n"
    "policies:\n"
    "  - id: caf-address\n"
    "    consumer: caf\n"
    "    provider: mairie\n"
    "    dataset: address\n"
    "    attributes: [street, postal_code]\n"
    "    purpose: benefit-eligibility\n"
    "    basis: consent\n"
    "  - id: caf-address-task\n"
    "    consumer: caf\n"
    "    provider: mairie\n"
    "    dataset: address\n"
    "    attributes: [postal_code]\n"
    "    purpose: benefit-eligibility\n"
    "    basis: legal_obligation\n"
    "    legal_reference: \"CRPA L114-8\"\n";

static char *
path_in_dir(const char *name)
{
	static char buf[4][512];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
	return p;
}

static void
write_file(const char *name, const char *text, mode_t mode)
{
	const char *path = path_in_dir(name);
	FILE *f;

	unlink(path);
	f = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

/* `text` with its first `from` replaced by `to`; caller frees. */
static char *
replace(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	char *out;

	if (at == NULL) {
		fprintf(stderr, "test bug: '%s' not in text\n", from);
		exit(2);
	}
	if (asprintf(&out, "%.*s%s%s", (int)(at - text), text, to,
	    at + strlen(from)) == -1)
		exit(2);
	return out;
}

/* 1-based line and column of the nth (from 1) `needle` in text. */
static void
position_of(const char *text, const char *needle, int nth, int *line,
    int *col)
{
	const char *at = text;

	for (int i = 0; i < nth; i++) {
		at = strstr(i ? at + 1 : at, needle);
		if (at == NULL) {
			fprintf(stderr, "test bug: '%s' not in text\n", needle);
			exit(2);
		}
	}
	*line = 1;
	*col = 1;
	for (const char *p = text; p < at; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else
			(*col)++;
	}
}

static struct config *
load(const char *text, struct config_errors *errs)
{
	write_file("main.yaml", text, 0644);
	return config_load(path_in_dir("main.yaml"), errs);
}

static int
has_error(const struct config_errors *errs, const char *file, int line,
    int col, const char *msg)
{
	for (size_t i = 0; i < errs->n; i++)
		if (strcmp(errs->items[i].file, file) == 0 &&
		    errs->items[i].line == line && errs->items[i].col == col &&
		    strstr(errs->items[i].message, msg) != NULL)
			return 1;
	return 0;
}

/* Checks that loading `text` fails with an error at file:line:col whose
 * message contains msg. */
static void
check_error_at(const char *text, const char *file, int line, int col,
    const char *msg)
{
	struct config_errors errs = { 0 };
	struct config *cfg = load(text, &errs);

	CHECK(cfg == NULL);
	if (!has_error(&errs, path_in_dir(file), line, col, msg)) {
		fprintf(stderr, "  expected %s:%d:%d: ...%s..., got:\n",
		    path_in_dir(file), line, col, msg);
		config_errors_print(&errs, stderr);
		CHECK(!"error not reported");
	}
	config_free(cfg);
	config_errors_free(&errs);
}

/* The same, at the nth `needle` of `located_in` (the text of `file`). */
static void
check_error_in(const char *text, const char *file, const char *located_in,
    const char *needle, int nth, const char *msg)
{
	int line, col;

	position_of(located_in, needle, nth, &line, &col);
	check_error_at(text, file, line, col, msg);
}

static void
check_error(const char *text, const char *needle, int nth, const char *msg)
{
	check_error_in(text, "main.yaml", text, needle, nth, msg);
}

/* Loads base with `from` replaced by `to`, expecting an error at the nth
 * `needle` of the changed text. */
static void
check_change(const char *from, const char *to, const char *needle, int nth,
    const char *msg)
{
	char *text = replace(base, from, to);

	check_error(text, needle, nth, msg);
	free(text);
}

static void *
setting(const struct config_connector *c, const char *name)
{
	for (const struct connector_key *k = c->ops->keys; k->name; k++)
		if (strcmp(k->name, name) == 0)
			return (char *)c->settings + k->offset;
	return NULL;
}

static void
check_sha256(const unsigned char hash[32], const char *text)
{
	unsigned char want[32];

	SHA256((const unsigned char *)text, strlen(text), want);
	CHECK(memcmp(hash, want, 32) == 0);
}

static void
test_full_config(void)
{
	struct config_errors errs = { 0 };
	struct config *cfg = load(base, &errs);
	const struct config_service *mairie, *caf, *portal;
	const struct config_dataset *address, *household;
	const struct config_gateway *gw;
	const struct connector_endpoint *fetch, *push;
	const struct config_policy *p;
	char want[600];

	CHECK_INT(errs.n, 0);
	config_errors_print(&errs, stderr);
	if (cfg == NULL)
		return;
	gw = &cfg->gateway;
	CHECK_STR(cfg->path, path_in_dir("main.yaml"));
	CHECK_STR(gw->listen, "127.0.0.1:8080");
	CHECK_INT(gw->workers, 3);
	CHECK_STR(gw->log.format, "json");
	CHECK_STR(gw->log.level, "debug");
	CHECK(gw->log_level == NULL);
	snprintf(want, sizeof(want), "sqlite:%s/data/tellonce.db", dir);
	CHECK_STR(gw->store, want);
	CHECK_STR((char *)gw->pseudonym_key.data,
	    "0123456789abcdef0123456789abcdef");
	CHECK_INT(gw->pseudonym_key.len, 32);
	CHECK_STR((char *)gw->admin_token.data, "admin-secret");
	CHECK_INT(gw->admin_token.len, 12);
	CHECK_INT(gw->tls.enabled, 0);
	CHECK_INT(gw->limits.max_body, 65536);
	CHECK_INT(gw->limits.max_headers, 16384);
	CHECK_INT(gw->limits.request_timeout_ms, 2000);
	CHECK_INT(gw->limits.max_connections, 1024);
	CHECK_STR(gw->audit.dir, path_in_dir("audit"));
	CHECK_STR(gw->audit.origin, "audit.example/log");
	CHECK_STR((char *)gw->audit.signing_key.data, pem);
	CHECK_INT(gw->audit.signing_key.len, strlen(pem));
	CHECK_INT(gw->audit.checkpoint_interval_ms, 500);

	CHECK_INT(cfg->ndatasets, 2);
	address = config_find_dataset(cfg, "address");
	household = config_find_dataset(cfg, "household");
	CHECK(address == &cfg->datasets[0] && household == &cfg->datasets[1]);
	CHECK_INT(address->nattributes, 3);
	CHECK_STR(address->attributes[1].name, "postal_code");
	CHECK_INT(address->attributes[1].type, CONFIG_ATTR_STRING);
	CHECK_INT(household->nattributes, 4);
	CHECK_INT(household->attributes[0].type, CONFIG_ATTR_INTEGER);
	CHECK_INT(household->attributes[1].type, CONFIG_ATTR_NUMBER);
	CHECK_INT(household->attributes[2].type, CONFIG_ATTR_BOOLEAN);
	CHECK_INT(household->attributes[3].type, CONFIG_ATTR_DATE);
	CHECK(config_find_attribute(household, "since") ==
	    &household->attributes[3]);
	CHECK(config_find_attribute(household, "street") == NULL);

	CHECK_INT(cfg->nservices, 3);
	mairie = config_find_service(cfg, "mairie");
	caf = config_find_service(cfg, "caf");
	portal = config_find_service(cfg, "portal");
	CHECK(mairie != NULL && caf != NULL && portal != NULL);
	if (mairie == NULL || caf == NULL || portal == NULL)
		goto out;
	CHECK_STR(mairie->name, "Mairie de Quimper");
	CHECK_INT(mairie->has_api_key, 1);
	check_sha256(mairie->api_key_sha256, "mairie-key");
	CHECK_INT(mairie->has_client_cert, 0);
	CHECK_INT(mairie->roles, 0);
	CHECK(mairie->connector != NULL);
	CHECK_STR(mairie->connector->type, "http");
	CHECK_INT(mairie->connector->line, 27);
	CHECK_INT(mairie->connector->col, 7);
	CHECK_STR(*(char **)setting(mairie->connector, "base_url"),
	    "http://127.0.0.1:9001");
	CHECK_INT(*(int64_t *)setting(mairie->connector, "timeout"), 3000);
	CHECK_INT(*(int64_t *)setting(mairie->connector, "connect_timeout"),
	    2000);
	fetch = setting(mairie->connector, "fetch");
	push = setting(mairie->connector, "push");
	CHECK_STR(fetch->method, "GET");
	CHECK_STR(fetch->path, "/citizens/{local_id}/address");
	CHECK(push->method == NULL && push->path == NULL);
	CHECK_STR(*(char **)setting(mairie->connector, "auth_header"),
	    "Bearer upstream");
	CHECK(*(char **)setting(mairie->connector, "ca") == NULL);
	CHECK_INT(mairie->connector->nmap, 3);
	CHECK(mairie->connector->map[0].attribute == &address->attributes[0]);
	CHECK_STR(mairie->connector->map[1].path, "adresse.cp");
	CHECK(mairie->connector->map[2].attribute == &household->attributes[0]);
	CHECK_STR(mairie->connector->map[2].path, "foyer.taille");

	CHECK_INT(caf->has_api_key, 1);
	check_sha256(caf->api_key_sha256, "caf-key");
	CHECK_INT(caf->has_client_cert, 1);
	CHECK_INT(caf->client_cert_sha256[1], 0x11);
	CHECK_INT(caf->client_cert_sha256[31], 0xff);
	CHECK(caf->connector == NULL);
	CHECK_INT(caf->nsubscribes, 1);
	CHECK(caf->subscribes[0].dataset == address);
	CHECK(caf->subscribes[0].from == mairie);
	CHECK_INT(portal->roles, CONFIG_ROLE_TRANSPARENCY);

	CHECK_INT(cfg->npolicies, 2);
	p = &cfg->policies[0];
	CHECK_STR(p->id, "caf-address");
	CHECK(p->consumer == caf && p->provider == mairie);
	CHECK(p->dataset == address);
	CHECK_INT(p->nattributes, 2);
	CHECK(p->attributes[0] == &address->attributes[0]);
	CHECK(p->attributes[1] == &address->attributes[1]);
	CHECK_STR(p->purpose, "benefit-eligibility");
	CHECK_INT(p->basis, CONFIG_BASIS_CONSENT);
	CHECK(p->legal_reference == NULL);
	p = &cfg->policies[1];
	CHECK_INT(p->basis, CONFIG_BASIS_LEGAL_OBLIGATION);
	CHECK_STR(p->legal_reference, "CRPA L114-8");
	CHECK_STR(config_basis_name(p->basis), "legal_obligation");
	CHECK_STR(config_basis_name(CONFIG_BASIS_PUBLIC_TASK), "public_task");
out:
	config_free(cfg);
	config_errors_free(&errs);
}

static void
test_defaults(void)
{
	struct config_errors errs = { 0 };
	struct config *cfg;
	char *text = replace(base, "  workers: 3\n  log: {format: json, level: debug}\n",
	    "");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	cfg = load(text, &errs);
	CHECK(cfg != NULL);
	if (cfg != NULL) {
		CHECK_INT(cfg->gateway.workers, cpus > 64 ? 64 : cpus);
		CHECK_STR(cfg->gateway.log.level, "info");
		CHECK_STR(cfg->gateway.log.format, "text");
		CHECK(cfg->gateway.admin_listen == NULL);
	}
	config_free(cfg);
	config_errors_free(&errs);
	free(text);
}

/* check_error on `text` with its first `from` replaced by `to`. */
static void
check_error_changed(const char *text, const char *from, const char *to,
    const char *needle, const char *msg)
{
	char *changed = replace(text, from, to);

	check_error(changed, needle, 1, msg);
	free(changed);
}

/* Mediators (contract §8): the role, the longest mandate (365 days
 * unless set) and Aidants Connect categories mapped to datasets. */
static void
test_mandates(void)
{
	struct config_errors errs = { 0 };
	const struct config_category *cat;
	struct config *cfg;
	char *text = replace(base, "    roles: [transparency]\n",
	    "    roles: [transparency, mediator]\n"), *more, *set;

	cfg = load(text, &errs);
	CHECK(cfg != NULL);
	if (cfg != NULL) {
		CHECK_INT(cfg->gateway.mandates.max_duration_ms,
		    365LL * 86400 * 1000);
		CHECK_INT(config_find_service(cfg, "portal")->roles,
		    CONFIG_ROLE_TRANSPARENCY | CONFIG_ROLE_MEDIATOR);
		CHECK_INT(config_find_service(cfg, "caf")->roles, 0);
		CHECK_INT(cfg->ncategories, 0);
	}
	config_free(cfg);
	config_errors_free(&errs);

	if (asprintf(&more, "%smandates:\n  categories:\n    social: "
	    "[household, address]\n    logement: [address]\n", text) == -1)
		exit(2);
	set = replace(more, "    checkpoint_interval: 500ms\n",
	    "    checkpoint_interval: 500ms\n  mandates: {max_duration: 30d}\n");
	cfg = load(set, &errs);
	CHECK(cfg != NULL);
	if (cfg != NULL) {
		CHECK_INT(cfg->gateway.mandates.max_duration_ms, 30LL * 86400 * 1000);
		CHECK_INT(cfg->ncategories, 2);
		cat = config_find_category(cfg, "social");
		CHECK(cat != NULL && cat->ndatasets == 2 &&
		    strcmp(cat->datasets[1]->name, "address") == 0);
		CHECK(config_find_category(cfg, "papiers") == NULL);
	}
	config_free(cfg);
	config_errors_free(&errs);
	free(set);

	check_error_changed(more, "    logement:", "    logment:", "logment",
	    "mandates.categories: 'logment' is not an Aidants Connect category");
	check_error_changed(more, "    logement:", "    logment:", "logment",
	    "did you mean 'logement'?");
	check_error_changed(more, "[household, address]", "[household, pets]",
	    "pets", "mandates.categories.social: unknown dataset 'pets'");
	check_error_changed(more, "[household, address]", "[household, household]",
	    "household]", "mandates.categories.social: 'household' is listed twice");
	check_error_changed(more, "[household, address]", "[]", "[]",
	    "mandates.categories.social: list at least one dataset");
	check_error_changed(more, "  categories:", "  categorys:", "categorys",
	    "mandates.categorys: unknown key");
	check_change("roles: [transparency]", "roles: [aidant]", "aidant", 1,
	    "services.portal.roles: unknown role 'aidant' (known: transparency, "
	    "mediator)");
	free(more);
	free(text);
}

/* The admin listener serves plain HTTP without client certificates:
 * loopback only, named by address (or localhost). */
static void
test_admin_listen(void)
{
	static const char *const ok[] = {
		"127.0.0.1:9464", "127.8.9.10:1", "[::1]:9464", "localhost:9464",
	};
	static const char *const off[] = {
		"0.0.0.0:9464", "192.168.1.10:9464", "[::]:9464",
		"[::ffff:127.0.0.1]:9464", "metrics.example.org:9464",
	};
	struct config_errors errs = { 0 };
	char line[128], msg[512];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(line, sizeof(line), "  workers: 3\n  admin_listen: \"%s\"\n",
		    ok[i]);
		char *text = replace(base, "  workers: 3\n", line);
		struct config *cfg = load(text, &errs);

		CHECK(cfg != NULL);
		if (cfg != NULL)
			CHECK_STR(cfg->gateway.admin_listen, ok[i]);
		config_free(cfg);
		config_errors_free(&errs);
		free(text);
	}
	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
		snprintf(line, sizeof(line), "  workers: 3\n  admin_listen: \"%s\"\n",
		    off[i]);
		snprintf(msg, sizeof(msg), "gateway.admin_listen: %s is not a "
		    "loopback address; the admin listener speaks plain HTTP",
		    off[i]);
		check_change("  workers: 3\n", line, "\"", 1, msg);
	}
	check_change("  workers: 3\n", "  workers: 3\n  admin_listen: 9464\n",
	    "9464", 1, "gateway.admin_listen: expected host:port");
}

/* A section with nothing under it is empty, not an error (once nothing
 * needs a policy: a subscription does). */
static void
test_empty_sections(void)
{
	struct config_errors errs = { 0 };
	char *unsubscribed = replace(base,
	    "    subscribes: [{dataset: address, from: mairie}]\n", "");
	const char *cut = strstr(unsubscribed, "policies:\n");
	struct config *cfg;
	char *text;

	if (asprintf(&text, "%.*spolicies:\n", (int)(cut - unsubscribed),
	    unsubscribed) == -1)
		return;
	free(unsubscribed);
	cfg = load(text, &errs);
	CHECK_INT(errs.n, 0);
	if (cfg != NULL)
		CHECK_INT(cfg->npolicies, 0);
	config_free(cfg);
	config_errors_free(&errs);
	free(text);
}

static void
test_find_service_by_key(void)
{
	struct config_errors errs = { 0 };
	struct config *cfg = load(base, &errs);

	CHECK(cfg != NULL);
	if (cfg == NULL)
		return;
	CHECK(config_find_service_by_key(cfg, "caf-key", 7) ==
	    config_find_service(cfg, "caf"));
	CHECK(config_find_service_by_key(cfg, "portal-key", 10) ==
	    config_find_service(cfg, "portal"));
	CHECK(config_find_service_by_key(cfg, "caf-key2", 8) == NULL);
	CHECK(config_find_service_by_key(cfg, "caf-ke", 6) == NULL);
	CHECK(config_find_service_by_key(cfg, "", 0) == NULL);
	config_free(cfg);
}

/* During a rotation a service's previous key is taken as well as its new
 * one, and neither may be another's or the same twice. */
static void
test_previous_api_key(void)
{
	struct config_errors errs = { 0 };
	char *text = replace(base, "{api_key: env:T_PORTAL_KEY}",
	    "{api_key: env:T_PORTAL_KEY, previous_api_key: env:T_OLD_KEY}");
	struct config *cfg;

	setenv("T_OLD_KEY", "portal-old-key", 1);
	cfg = load(text, &errs);
	CHECK(cfg != NULL);
	if (cfg != NULL) {
		CHECK(config_find_service_by_key(cfg, "portal-old-key", 14) ==
		    config_find_service(cfg, "portal"));
		CHECK(config_find_service_by_key(cfg, "portal-key", 10) ==
		    config_find_service(cfg, "portal"));
	}
	config_free(cfg);
	config_errors_free(&errs);
	free(text);
	check_change("{api_key: env:T_PORTAL_KEY}", "{api_key: env:T_PORTAL_KEY, "
	    "previous_api_key: env:T_CAF_KEY}", "env:T_CAF_KEY", 2,
	    "services.portal.auth.previous_api_key: the same key as service "
	    "'caf'");
	check_change("{api_key: env:T_PORTAL_KEY}", "{api_key: env:T_PORTAL_KEY, "
	    "previous_api_key: env:T_PORTAL_KEY}", "env:T_PORTAL_KEY", 2,
	    "services.portal.auth.previous_api_key: the same key as the "
	    "service's other one");
	check_change("{api_key: env:T_PORTAL_KEY}", "{previous_api_key: "
	    "env:T_OLD_KEY, client_cert_sha256: \"" "ab" "ab" "ab" "ab" "ab" "ab"
	    "ab" "ab" "ab" "ab" "ab" "ab" "ab" "ab" "ab" "ab" "ab" "ab" "ab" "ab"
	    "ab" "ab" "ab" "ab" "ab" "ab" "ab" "ab" "ab" "ab" "ab" "ab\"}",
	    "{previous", 1, "services.portal.auth: previous_api_key is for a "
	    "rotation to a new api_key, which is missing");
}

#define T_CERT_CAF "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF"
#define T_CERT_NEW "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

/* During a renewal a service's previous certificate is taken as well as
 * its new one, with the same rules as a previous API key. */
static void
test_previous_client_cert(void)
{
	struct config_errors errs = { 0 };
	char *text = replace(base, "client_cert_sha256: \"" T_CERT_CAF "\"",
	    "client_cert_sha256: " T_CERT_NEW ", previous_client_cert_sha256: \""
	    T_CERT_CAF "\"");
	struct config *cfg = load(text, &errs);

	CHECK_INT(errs.n, 0);
	if (cfg != NULL) {
		const struct config_service *caf = config_find_service(cfg, "caf");

		CHECK(config_find_service_by_cert(cfg,
		    caf->client_cert_sha256) == caf);
		CHECK(config_find_service_by_cert(cfg,
		    caf->previous_client_cert_sha256) == caf);
		CHECK(caf->client_cert_sha256[0] == 0xff &&
		    caf->previous_client_cert_sha256[0] == 0x00);
	}
	config_free(cfg);
	config_errors_free(&errs);
	free(text);
	check_change("{api_key: env:T_PORTAL_KEY}", "{api_key: env:T_PORTAL_KEY, "
	    "client_cert_sha256: " T_CERT_NEW ", previous_client_cert_sha256: "
	    T_CERT_CAF "}", T_CERT_CAF "}", 1,
	    "services.portal.auth.previous_client_cert_sha256: the same "
	    "certificate as service 'caf'");
	check_change("client_cert_sha256: \"" T_CERT_CAF "\"",
	    "client_cert_sha256: " T_CERT_NEW ", previous_client_cert_sha256: "
	    T_CERT_NEW, T_CERT_NEW, 2, "services.caf.auth."
	    "previous_client_cert_sha256: the same certificate as the service's "
	    "other one");
	check_change("{api_key: env:T_PORTAL_KEY}", "{api_key: env:T_PORTAL_KEY, "
	    "previous_client_cert_sha256: " T_CERT_NEW "}", "{api_key: "
	    "env:T_PORTAL_KEY, previous", 1, "services.portal.auth: "
	    "previous_client_cert_sha256 is for a renewal to a new "
	    "client_cert_sha256, which is missing");
}

/* The admin token of before a rotation is kept, and cannot be the new one. */
static void
test_previous_admin_token(void)
{
	struct config_errors errs = { 0 };
	char *text = replace(base, "  admin_token: file:admin.token\n",
	    "  admin_token: file:admin.token\n"
	    "  previous_admin_token: env:T_OLD_KEY\n");
	struct config *cfg;

	setenv("T_OLD_KEY", "admin-old-token", 1);
	cfg = load(text, &errs);
	CHECK_INT(errs.n, 0);
	if (cfg != NULL)
		CHECK_STR((char *)cfg->gateway.previous_admin_token.data,
		    "admin-old-token");
	config_free(cfg);
	config_errors_free(&errs);
	free(text);
	check_change("  admin_token: file:admin.token\n", "  admin_token: "
	    "file:admin.token\n  previous_admin_token: file:admin.token\n",
	    "file:admin.token", 2, "gateway.previous_admin_token: the same as "
	    "admin_token; a rotation needs a new token");
}

static void
test_unknown_keys(void)
{
	char *text = replace(base, "datasets:\n", "colour: blue\ndatasets:\n");

	check_error(text, "colour", 1, "colour: unknown key (expected one of: "
	    "gateway, datasets, services, policies, mandates, include)");
	free(text);
	check_change("  workers: 3\n", "  workers: 3\n  wrokers: 4\n",
	    "wrokers", 1, "gateway.wrokers: unknown key");
	check_change("    max_body: 64k\n", "    max_body: 64k\n    max_bdy: 1\n",
	    "max_bdy", 1, "gateway.limits.max_bdy: unknown key");
	check_change("    name: CAF\n", "    name: CAF\n    nmae: x\n", "nmae",
	    1, "services.caf.nmae: unknown key (expected one of: name, auth, "
	    "roles, connector, subscribes, delivery, rate_limit, controller, dpo, "
	    "country)");
	check_change("      timeout: 3s\n", "      timeout: 3s\n      retries: 3\n",
	    "retries", 1, "services.mairie.connector.retries: unknown key "
	    "(expected one of: type, map, poll, base_url, timeout");
	check_change("dataset: address, from", "dataset: address, form",
	    "form:", 1, "services.caf.subscribes[0].form: unknown key");
	check_change("    basis: consent\n", "    basis: consent\n    why: x\n",
	    "why", 1, "policies[0].why: unknown key");
}

static void
test_bad_values(void)
{
	check_change("checkpoint_interval: 500ms", "checkpoint_interval: 2x",
	    "2x", 1, "gateway.audit.checkpoint_interval: '2x' is not a duration");
	check_change("timeout: 3s", "timeout: 3", "3\n      fetch", 1,
	    "services.mairie.connector.timeout: '3' is not a duration");
	check_change("max_body: 64k", "max_body: 64q", "64q", 1,
	    "gateway.limits.max_body: '64q' is not a size");
	check_change("listen: 127.0.0.1:8080", "listen: 127.0.0.1", "127", 1,
	    "gateway.listen: expected host:port or [IPv6]:port");
	check_change("listen: 127.0.0.1:8080", "listen: \"[::1:8080\"", "\"[", 1,
	    "gateway.listen: expected host:port");
	check_change("listen: 127.0.0.1:8080", "listen: localhost:65536",
	    "localhost", 1, "gateway.listen: expected");
	check_change("workers: 3", "workers: 65", "65", 1,
	    "gateway.workers: expected a whole number from 1 to 64");
	check_change("level: debug", "level: loud", "loud", 1,
	    "gateway.log.level: expected debug, info, warn or error");
	check_change("format: json", "format: xml", "xml", 1,
	    "gateway.log.format: expected text or json");
	check_change("store: sqlite:data/tellonce.db", "store: mysql://x", "mysql",
	    1, "gateway.store: expected sqlite:PATH or postgresql://...");
	check_change("origin: audit.example/log", "origin: \"audit example\"",
	    "\"audit", 1, "gateway.audit.origin: must be at most 255 bytes, "
	    "without spaces");
	/* The origin names the signing key in signed notes, whose names hold
	 * no '+' (it separates a verifier key's fields) and no Unicode space. */
	check_change("origin: audit.example/log", "origin: audit+eu.example/log",
	    "audit+eu", 1, "gateway.audit.origin: must be at most 255 bytes, "
	    "without spaces");
	check_change("origin: audit.example/log",
	    "origin: \"audit\u00a0example/log\"", "\"audit", 1,
	    "gateway.audit.origin: must be at most 255 bytes, without spaces");
	/* A checkpoint's origin line is read back into CHECKPOINT_ORIGIN_MAX
	 * bytes: a longer one would be signed, then refused at the next start. */
	{
		char *change = malloc(CHECKPOINT_ORIGIN_MAX + 16);

		snprintf(change, CHECKPOINT_ORIGIN_MAX + 16, "origin: %0*d",
		    CHECKPOINT_ORIGIN_MAX, 0);
		check_change("origin: audit.example/log", change, "0000", 1,
		    "gateway.audit.origin: must be at most 255 bytes");
		free(change);
	}
	check_change("city: string", "city: text", "text", 1,
	    "datasets.address.attributes.city: unknown type 'text'");
	check_change("basis: consent", "basis: whim", "whim", 1,
	    "policies[0].basis: expected consent, public_task or legal_obligation");
	check_change("roles: [transparency]", "roles: [god]", "god", 1,
	    "services.portal.roles: unknown role 'god'");
	check_change("method: get", "method: fetch", "fetch, path", 1,
	    "services.mairie.connector.fetch.method: expected GET, POST, PUT");
	check_change("path: \"/citizens", "path: \"citizens", "\"citizens", 1,
	    "services.mairie.connector.fetch.path: must start with /");
	check_change("client_cert_sha256: \"00", "client_cert_sha256: \"0", "\"0",
	    1, "services.caf.auth.client_cert_sha256: expected the 64 hex digits");
	check_change("    name: CAF\n", "    name: [CAF]\n", "[CAF]", 1,
	    "services.caf.name: expected a single value, got a list");
	check_change("    purpose: benefit-eligibility\n    basis: consent",
	    "    purpose:\n    basis: consent", "\n    basis: consent", 1,
	    "policies[0].purpose: needs a value");
}

/* The SHA-256 of the YAML read, which nodes sharing a configuration show
 * on /readyz: the file's own (sha256sum) when it has no include, and with
 * includes one that changes when an included file does. */
static void
test_config_sha256(void)
{
	struct config_errors errs = { 0 };
	unsigned char md[32];
	char want[65], first[65];
	struct config *cfg;
	char *text = replace(base, "datasets:\n",
	    "include: [more/extra.yaml]\ndatasets:\n");

	cfg = load(base, &errs);
	CHECK(cfg != NULL);
	SHA256((const unsigned char *)base, strlen(base), md);
	encode_hex(md, sizeof(md), want);
	if (cfg != NULL)
		CHECK_STR(cfg->sha256, want);
	config_free(cfg);

	mkdir(path_in_dir("more"), 0755);
	write_file("more/extra.yaml", "datasets:\n  extra: {attributes: "
	    "{size: integer}}\n", 0644);
	CHECK((cfg = load(text, &errs)) != NULL);
	snprintf(first, sizeof(first), "%s", cfg ? cfg->sha256 : "");
	CHECK(strcmp(first, want) != 0);
	config_free(cfg);
	write_file("more/extra.yaml", "datasets:\n  extra: {attributes: "
	    "{size: string}}\n", 0644);
	CHECK((cfg = load(text, &errs)) != NULL);
	if (cfg != NULL) {
		CHECK_INT((int)strlen(cfg->sha256), 64);
		CHECK(strcmp(cfg->sha256, first) != 0);
	}
	config_free(cfg);
	config_errors_print(&errs, stderr);
	config_errors_free(&errs);
	free(text);
}

/* gateway.log_level, the old spelling of gateway.log.level, still works
 * alone; with gateway.log.level it is refused, as one of them would be
 * ignored. */
static void
test_log_level_alias(void)
{
	struct config_errors errs = { 0 };
	struct config *cfg;
	char *text = replace(base, "  log: {format: json, level: debug}\n",
	    "  log_level: warn\n  log: {format: json}\n");

	cfg = load(text, &errs);
	CHECK(cfg != NULL);
	if (cfg != NULL) {
		CHECK_STR(cfg->gateway.log.level, "warn");
		CHECK_STR(cfg->gateway.log.format, "json");
		CHECK_STR(cfg->gateway.log_level, "warn");
	}
	config_free(cfg);
	config_errors_free(&errs);
	free(text);
	check_change("  log: {format: json, level: debug}\n",
	    "  log_level: warn\n  log: {format: json, level: debug}\n",
	    "warn", 1, "gateway.log_level: the old spelling of "
	    "gateway.log.level; give only gateway.log.level");
	check_change("  log: {format: json, level: debug}\n",
	    "  log_level: loud\n", "loud", 1,
	    "gateway.log_level: expected debug, info, warn or error");
}

/* `check` takes the store URLs `serve` opens and refuses the others: config
 * and store_open read the one scheme table. A PostgreSQL password comes
 * from gateway.store_password, never from the URL. */
static void
test_store_schemes(void)
{
	static const char *const accepted[] = {
		"postgresql://db.example/tellonce?sslmode=verify-full",
		"postgres://tellonce@db.example:5433/tellonce",
		"postgresql:///tellonce?host=/run/postgresql",
	};
	struct config_errors errs = { 0 };
	struct config *cfg;
	char to[128], *text, *pg;

	for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		snprintf(to, sizeof(to), "store: %s\n  store_password: "
		    "env:T_PG_PASSWORD", accepted[i]);
		pg = replace(base, "store: sqlite:data/tellonce.db", to);
		/* The nodes on PostgreSQL keep their audit log in it. */
		text = replace(pg, "    dir: audit\n", "");
		check_error(pg, "audit\n    origin", 1, "gateway.audit.dir: not used with "
		    "a postgresql store, whose nodes keep one audit log in the "
		    "database (docs/deployment.md); remove it");
		free(pg);
		cfg = load(text, &errs);
		CHECK(cfg != NULL);
		config_errors_print(&errs, stderr);
		if (cfg != NULL) {
			CHECK_STR(cfg->gateway.store, accepted[i]);
			CHECK_STR((const char *)cfg->gateway.store_password.data,
			    "pg-secret");
		}
		config_free(cfg);
		config_errors_free(&errs);
		free(text);
	}
	check_change("store: sqlite:data/tellonce.db",
	    "store: postgresql://gw:hunter2@db/tellonce", "postgresql", 1,
	    "gateway.store: secrets are never written inline");
	check_change("store: sqlite:data/tellonce.db",
	    "store: postgresql://db/tellonce?password=hunter2", "postgresql", 1,
	    "gateway.store: secrets are never written inline");
	check_change("store: sqlite:data/tellonce.db",
	    "store: postgresql://db/tellonce?colour=blue", "postgresql", 1,
	    "gateway.store: not a valid PostgreSQL URL: invalid URI query "
	    "parameter: \"colour\"");
	check_change("store: sqlite:data/tellonce.db",
	    "store: sqlite:data/tellonce.db\n  store_password: env:T_PG_PASSWORD",
	    "listen", 1, "gateway.store_password: only a postgresql store "
	    "takes a password");
	check_change("store: sqlite:data/tellonce.db",
	    "store: postgresql://db/x\n  store_password: hunter2", "hunter2", 1,
	    "gateway.store_password: secrets are never written inline");
	check_change("store: sqlite:data/tellonce.db", "store: postgresql://",
	    "postgresql", 1, "gateway.store: expected sqlite:PATH or "
	    "postgresql://...");
	check_change("store: sqlite:data/tellonce.db", "store: \"sqlite:\"",
	    "\"sqlite", 1, "gateway.store: expected sqlite:PATH or postgresql://...");
	check_change("    dir: audit\n", "", "origin: audit.example", 1,
	    "gateway.audit.dir: required with an sqlite store");
}

static void
test_missing_keys(void)
{
	check_change("  listen: 127.0.0.1:8080\n", "", "workers", 1,
	    "gateway: missing required key 'listen'");
	check_change("    auth: {api_key: env:T_PORTAL_KEY}\n", "", "name: Citizen",
	    1, "services.portal: missing required key 'auth'");
	check_change("{api_key: env:T_PORTAL_KEY}", "{}", "{}", 1,
	    "services.portal.auth: needs api_key or client_cert_sha256");
	check_change("      base_url: http://127.0.0.1:9001\n", "", "type: http",
	    1, "services.mairie.connector: missing required key 'base_url'");
	check_change("      type: http\n", "", "base_url", 1,
	    "services.mairie.connector: missing required key 'type'");
	check_change("    attributes: [postal_code]\n", "", "id: caf-address-task",
	    1, "policies[1]: missing required key 'attributes'");
	check_change("    attributes: {street: string, postal_code: string, "
	    "city: string}\n", "    attributes: {}\n", "{}", 1,
	    "datasets.address.attributes: a dataset needs at least one attribute");
	check_change("attributes: [postal_code]", "attributes: []", "[]", 1,
	    "policies[1].attributes: list at least one attribute");
}

static void
test_dangling_references(void)
{
	check_change("    consumer: caf\n", "    consumer: cfa\n", "cfa", 1,
	    "policies[0].consumer: unknown service 'cfa'");
	check_change("    provider: mairie\n    dataset: address\n    attributes: [s",
	    "    provider: mairie\n    dataset: adress\n    attributes: [s",
	    "adress\n", 1, "policies[0].dataset: unknown dataset 'adress'");
	check_change("[street, postal_code]", "[street, zip]", "zip", 1,
	    "policies[0].attributes: dataset 'address' has no attribute 'zip'");
	check_change("[street, postal_code]", "[street, street]", "street]", 1,
	    "policies[0].attributes: 'street' is listed twice");
	check_change("from: mairie}", "from: nobody}", "nobody", 1,
	    "services.caf.subscribes[0].from: unknown service 'nobody'");
	check_change("from: mairie}", "from: caf}", "caf}", 1,
	    "services.caf.subscribes[0].from: a service cannot subscribe to itself");
	check_change("{dataset: address, from", "{dataset: addr, from", "addr,",
	    1, "services.caf.subscribes[0].dataset: unknown dataset 'addr'");
	check_change("size: foyer.taille", "sise: foyer.taille", "sise", 1,
	    "services.mairie.connector.map.sise: no dataset has an attribute 'sise'");
	check_change("    provider: mairie\n", "    provider: caf\n",
	    "caf\n    dataset", 1,
	    "policies[0].provider: the consumer cannot be its own provider");
}

static void
test_legal_reference(void)
{
	check_change("    legal_reference: \"CRPA L114-8\"\n", "",
	    "legal_obligation", 1,
	    "policies[1]: basis legal_obligation needs a legal_reference");
}

static void
test_duplicates(void)
{
	check_change("id: caf-address-task", "id: caf-address", "caf-address", 2,
	    "policies.caf-address: defined twice (first at");
	check_change("  workers: 3\n", "  workers: 3\n  listen: 0.0.0.0:80\n",
	    "listen", 2, "duplicate key 'listen' (first at line 2)");
	check_change("city: string}", "city: string, street: string}", "street",
	    2, "duplicate key 'street'");
	check_change("env:T_PORTAL_KEY", "env:T_CAF_KEY", "env:T_CAF_KEY", 2,
	    "services.portal.auth.api_key: the same key as service 'caf'");
}

static void
test_secrets(void)
{
	char *text, msg[700];

	text = replace(base, "env:T_PSEUDONYM_KEY", "hunter2-0123456789abcdef-hunter2");
	check_error(text, "hunter2", 1, "gateway.pseudonym_key: secrets are "
	    "never written inline: use env:NAME or file:PATH");
	free(text);
	check_change("env:T_MAIRIE_KEY", "env:T_NOT_SET", "env:T_NOT_SET", 1,
	    "services.mairie.auth.api_key: environment variable T_NOT_SET is "
	    "not set");
	setenv("T_EMPTY", "", 1);
	check_change("env:T_MAIRIE_KEY", "env:T_EMPTY", "env:T_EMPTY", 1,
	    "environment variable T_EMPTY is empty");
	setenv("T_SHORT", "0123456789abcdef0123456789abcde", 1);
	check_change("env:T_PSEUDONYM_KEY", "env:T_SHORT", "env:T_SHORT", 1,
	    "gateway.pseudonym_key: must be at least 32 bytes, is 31");
	check_change("file:upstream.auth", "file:missing.auth", "file:missing", 1,
	    "services.mairie.connector.auth_header: cannot open");
	check_change("auth_header: file:upstream.auth", "auth_header: Bearer x",
	    "Bearer", 1, "auth_header: secrets are never written inline");

	chmod(path_in_dir("admin.token"), 0640);
	snprintf(msg, sizeof(msg), "gateway.admin_token: %s is accessible by "
	    "group or others (mode 0640); run chmod 600 on it",
	    path_in_dir("admin.token"));
	check_error(base, "file:admin.token", 1, msg);
	chmod(path_in_dir("admin.token"), 0600);
	chmod(path_in_dir("audit.key"), 0604);
	check_error(base, "file:audit.key", 1, "gateway.audit.signing_key: ");
	chmod(path_in_dir("audit.key"), 0600);
}

/* Loads base with `from` replaced by `to`, offline when asked, expecting
 * exactly one error, whose message holds msg and never lacks holds. */
static void
check_one_error(int offline, const char *from, const char *to,
    const char *msg, const char *lacks)
{
	struct config_errors errs = { 0 };
	char *text = replace(base, from, to);

	write_file("main.yaml", text, 0644);
	CHECK((offline ? config_load_offline : config_load)(
	    path_in_dir("main.yaml"), &errs) == NULL);
	CHECK_INT(errs.n, 1);
	for (size_t i = 0; i < errs.n; i++) {
		CHECK(strstr(errs.items[i].message, msg) != NULL);
		CHECK(strstr(errs.items[i].message, lacks) == NULL);
	}
	config_errors_free(&errs);
	free(text);
}

/* No error message may carry an inline secret's text. */
static void
test_secret_not_echoed(void)
{
	check_one_error(0, "env:T_CAF_KEY", "s3cr3t-caf-token",
	    "never written inline", "s3cr3t");
}

static void
test_secret_resolve(void)
{
	struct secret s;
	char err[256], ref[600];

	write_file("token", "tok\n \n", 0600);
	snprintf(ref, sizeof(ref), "file:%s", path_in_dir("token"));
	CHECK_INT(secret_resolve(ref, SECRET_TRIM | SECRET_PRIVATE, &s, err,
	    sizeof(err)), 0);
	CHECK_STR((char *)s.data, "tok");
	CHECK_INT(s.len, 3);
	secret_wipe(&s);
	CHECK(s.data == NULL && s.len == 0);
	CHECK_INT(secret_resolve(ref, 0, &s, err, sizeof(err)), 0);
	CHECK_INT(s.len, 6);
	secret_wipe(&s);
	write_file("token", "\n", 0600);
	CHECK_INT(secret_resolve(ref, SECRET_TRIM, &s, err, sizeof(err)), -1);
	CHECK(strstr(err, "is empty") != NULL);
	write_file("token", "tok", 0640);
	CHECK_INT(secret_resolve(ref, 0, &s, err, sizeof(err)), 0);
	secret_wipe(&s);
	CHECK_INT(secret_resolve(ref, SECRET_PRIVATE, &s, err, sizeof(err)), -1);
	CHECK(s.data == NULL);
	write_file("token", "tok", 0660);
	CHECK_INT(secret_resolve(ref, 0, &s, err, sizeof(err)), -1);
	CHECK(strstr(err, "writable by group or others (mode 0660)") != NULL);
	CHECK_INT(secret_resolve("plain", 0, &s, err, sizeof(err)), -1);
	CHECK(strstr(err, "plain") == NULL);
	CHECK_INT(secret_resolve("env:", 0, &s, err, sizeof(err)), -1);
	snprintf(ref, sizeof(ref), "file:%s", dir);
	CHECK_INT(secret_resolve(ref, 0, &s, err, sizeof(err)), -1);
	CHECK(strstr(err, "is not a regular file") != NULL);
	secret_wipe(&s);
}

/* The file-mode rule (secret_mode_check), for private keys and secrets
 * and for certificates, on real files read through secret_resolve. */
static void
test_file_modes(void)
{
	static const struct { mode_t mode; int private_ok, public_ok; } modes[] = {
		{ 0400, 1, 1 }, { 0600, 1, 1 }, { 0640, 0, 1 }, { 0604, 0, 1 },
		{ 0644, 0, 1 }, { 0444, 0, 1 }, { 0660, 0, 0 }, { 0606, 0, 0 },
		{ 0666, 0, 0 }, { 0620, 0, 0 }, { 0700, 1, 1 }, { 0755, 0, 1 },
	};
	struct secret s;
	char err[512], ref[600];

	snprintf(ref, sizeof(ref), "file:%s", path_in_dir("modes.pem"));
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		write_file("modes.pem", "PEM\n", modes[i].mode);
		CHECK_INT(secret_resolve(ref, SECRET_PRIVATE, &s, err,
		    sizeof(err)) == 0, modes[i].private_ok);
		secret_wipe(&s);
		CHECK_INT(secret_resolve(ref, 0, &s, err, sizeof(err)) == 0,
		    modes[i].public_ok);
		secret_wipe(&s);
		CHECK_INT(secret_mode_check("x", modes[i].mode, SECRET_PRIVATE,
		    err, sizeof(err)) == 0, modes[i].private_ok);
		CHECK_INT(secret_mode_check("x", modes[i].mode, 0, err,
		    sizeof(err)) == 0, modes[i].public_ok);
	}
}

/* Where the rule applies: keys 0600, certificates readable by all, for
 * the gateway's TLS and an http connector's client certificate alike. */
static void
test_file_modes_by_key(void)
{
	static const struct {
		const char *file;
		mode_t mode, restore;
		const char *msg;
	} refused[] = {
		{ "client.key", 0640, 0600, "(mode 0640); run chmod 600" },
		{ "client.crt", 0664, 0644, "(mode 0664); run chmod go-w" },
		{ "ca.crt", 0666, 0644, "gateway.tls.client_ca: " },
		{ "tls.key", 0604, 0600, "(mode 0604); run chmod 600" },
	};
	struct config_errors errs = { 0 };
	struct config *cfg;
	char *tls = replace(base, "  store:", "  tls:\n"
	    "    cert: file:tls.crt\n    key: file:tls.key\n"
	    "    client_ca: file:ca.crt\n  store:");
	char *text = replace(tls, "      auth_header: file:upstream.auth\n",
	    "      auth_header: file:upstream.auth\n"
	    "      client_cert: file:client.crt\n"
	    "      client_key: file:client.key\n");

	write_file("tls.crt", "CERT\n", 0644);
	write_file("tls.key", "KEY\n", 0600);
	write_file("ca.crt", "CA\n", 0644);
	write_file("client.crt", "CERT\n", 0644);
	write_file("client.key", "KEY\n", 0600);
	cfg = load(text, &errs);
	if (cfg == NULL)
		config_errors_print(&errs, stderr);
	CHECK(cfg != NULL);
	config_free(cfg);
	config_errors_free(&errs);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char ref[64];

		snprintf(ref, sizeof(ref), "file:%s", refused[i].file);
		chmod(path_in_dir(refused[i].file), refused[i].mode);
		check_error(text, ref, 1, refused[i].msg);
		chmod(path_in_dir(refused[i].file), refused[i].restore);
	}
	free(text);
	free(tls);
}

/* Unknown keys and names get the nearest known one, when one is near. */
static void
test_did_you_mean(void)
{
	static const struct { const char *from, *to, *at, *msg; } near[] = {
		{ "    name: CAF\n", "    name: CAF\n    nmae: x\n", "nmae",
		  "country); did you mean 'name'?" },
		{ "  workers: 3\n", "  wrokers: 3\n", "wrokers",
		  "did you mean 'workers'?" },
		{ "    consumer: caf\n", "    consumer: cfa\n", "cfa",
		  "unknown service 'cfa'; did you mean 'caf'?" },
		{ "from: mairie}", "from: mairei}", "mairei",
		  "unknown service 'mairei'; did you mean 'mairie'?" },
		{ "    dataset: address\n    attributes: [street, postal_code]",
		  "    dataset: adress\n    attributes: [street, postal_code]",
		  "adress\n", "unknown dataset 'adress'; did you mean 'address'?" },
		{ "[street, postal_code]", "[street, postal_cod]", "postal_cod]",
		  "has no attribute 'postal_cod'; did you mean 'postal_code'?" },
		{ "size: foyer.taille", "szie: foyer.taille", "szie",
		  "no dataset has an attribute 'szie'; did you mean 'size'?" },
	};

	for (size_t i = 0; i < sizeof(near) / sizeof(near[0]); i++)
		check_change(near[i].from, near[i].to, near[i].at, 1, near[i].msg);
	/* Nothing near: no suggestion at all. */
	check_one_error(0, "    consumer: caf\n", "    consumer: dgfip\n",
	    "unknown service 'dgfip'", "did you mean");
	check_one_error(0, "    name: CAF\n", "    name: CAF\n    colour: x\n",
	    "unknown key", "did you mean");
}

/* check --offline: no secret is read, their references are checked. */
static void
test_offline(void)
{
	struct config_errors errs = { 0 };
	struct config *cfg;

	unsetenv("T_MAIRIE_KEY");
	unlink(path_in_dir("admin.token"));
	CHECK(load(base, &errs) == NULL);
	config_errors_free(&errs);
	cfg = config_load_offline(path_in_dir("main.yaml"), &errs);
	if (cfg == NULL)
		config_errors_print(&errs, stderr);
	CHECK(cfg != NULL);
	config_free(cfg);
	config_errors_free(&errs);
	check_one_error(1, "env:T_MAIRIE_KEY", "env:T-MAIRIE",
	    "a variable name holds only", "T-MAIRIE");
	check_one_error(1, "env:T_MAIRIE_KEY", "s3cr3t-inline",
	    "never written inline", "s3cr3t");
	/* Two services naming one variable share a key, offline too. */
	check_one_error(1, "env:T_CAF_KEY", "env:T_MAIRIE_KEY",
	    "the same key as service 'mairie'", "T_MAIRIE_KEY");
	setenv("T_MAIRIE_KEY", "mairie-key", 1);
	write_file("admin.token", "admin-secret\n", 0600);
}

static void
test_yaml_errors(void)
{
	/* At the end of the stream: line 3, column 1. */
	check_error_at("gateway:\n  listen: \"127.0.0.1:8080\n", "main.yaml", 3, 1,
	    "YAML syntax error: found unexpected end of stream (while "
	    "scanning a quoted scalar that starts at line 2)");
	check_error("gateway:\n  listen: 1\n    workers: 2\n", ": 2", 1,
	    "YAML syntax error: mapping values are not allowed in this context");
	check_error("defaults: &d {a: 1}\ngateway: *d\n", "*d", 1,
	    "aliases are not supported");
	check_error("gateway: {}\n---\ngateway: {}\n", "---", 1,
	    "only one YAML document per file is allowed");
	check_error("- gateway\n", "-", 1, "file: expected a mapping, got a list");
	check_error("{? [a]: b}\n", "[a]", 1, "a mapping key must be a plain string");
}

static void
test_empty_and_missing_files(void)
{
	struct config_errors errs = { 0 };
	struct config *cfg;

	FILE *out;
	char *printed, want[600];
	size_t len;

	cfg = load("# nothing\n", &errs);
	CHECK(cfg == NULL);
	CHECK_INT(errs.n, 1);
	/* A problem with the whole file is at its start: every error names
	 * file, line and column (contract §3). */
	out = open_memstream(&printed, &len);
	config_errors_print(&errs, out);
	fclose(out);
	snprintf(want, sizeof(want), "%s:1:1: the file is empty\n",
	    path_in_dir("main.yaml"));
	CHECK_STR(printed, want);
	free(printed);
	config_errors_free(&errs);
	cfg = config_load(path_in_dir("nope.yaml"), &errs);
	CHECK(cfg == NULL);
	CHECK_INT(errs.n, 1);
	CHECK(has_error(&errs, path_in_dir("nope.yaml"), 1, 1,
	    "cannot read it: No such file or directory"));
	config_errors_free(&errs);
	cfg = load("datasets: {}\n", &errs);
	CHECK(cfg == NULL);
	CHECK(has_error(&errs, path_in_dir("main.yaml"), 1, 1,
	    "missing required key 'gateway'"));
	config_errors_free(&errs);
}

static void
test_connector_types(void)
{
	check_change("type: http", "type: plugin", "type: plugin", 1,
	    "services.mairie.connector: a plugin needs 'path', the shared "
	    "object to load");
	check_change("type: http", "type: soap", "soap", 1,
	    "services.mairie.connector.type: unknown connector type 'soap' "
	    "(known: http, sql, file, plugin)");
	check_change("type: http", "type: htp", "htp", 1,
	    "services.mairie.connector.type: unknown connector type 'htp' "
	    "(known: http, sql, file, plugin); did you mean 'http'?");
	check_change("type: http", "type: plugn", "plugn", 1,
	    "plugin); did you mean 'plugin'?");
}

static const char included[] =
    "datasets:\n"
    "  income:\n"
    "    attributes: {amount: number}\n"
    "services:\n"
    "  impots:\n"
    "    name: Impots\n"
    "    auth: {api_key: file:../impots.key}\n"
    "policies:\n"
    "  - id: caf-income\n"
    "    consumer: caf\n"
    "    provider: impots\n"
    "    dataset: income\n"
    "    attributes: [amount]\n"
    "    purpose: benefit-eligibility\n"
    "    basis: public_task\n"
    "    legal_reference: CSS L114-10\n";

static void
test_include(void)
{
	struct config_errors errs = { 0 };
	char *text = replace(base, "datasets:\n",
	    "include: [more/income.yaml]\ndatasets:\n");
	struct config *cfg;
	char *bad;

	mkdir(path_in_dir("more"), 0700);
	write_file("impots.key", "impots-key\n", 0600);
	write_file("more/income.yaml", included, 0644);
	cfg = load(text, &errs);
	CHECK_INT(errs.n, 0);
	config_errors_print(&errs, stderr);
	if (cfg != NULL) {
		const struct config_service *impots =
		    config_find_service(cfg, "impots");

		CHECK_INT(cfg->ndatasets, 3);
		CHECK_INT(cfg->nservices, 4);
		CHECK_INT(cfg->npolicies, 3);
		CHECK(impots != NULL);
		CHECK(config_find_service_by_key(cfg, "impots-key", 10) == impots);
		CHECK(cfg->policies[2].provider == impots);
		CHECK(cfg->policies[2].dataset == config_find_dataset(cfg, "income"));
	}
	config_free(cfg);
	config_errors_free(&errs);

	/* An error inside the include names the included file. */
	bad = replace(included, "    name: Impots\n", "    name: Impots\n    colour: red\n");
	write_file("more/income.yaml", bad, 0644);
	check_error_in(text, "more/income.yaml", bad, "colour", 1,
	    "services.impots.colour: unknown key");
	free(bad);

	/* Ids are unique across files. */
	bad = replace(included, "  impots:\n", "  caf:\n");
	write_file("more/income.yaml", bad, 0644);
	check_error_in(text, "more/income.yaml", bad, "caf:", 1,
	    "services.caf: defined twice (first at ");
	free(bad);

	/* A cycle is reported at the include that closes it. */
	bad = replace(included, "datasets:\n", "include: [../main.yaml]\ndatasets:\n");
	write_file("more/income.yaml", bad, 0644);
	check_error_in(text, "more/income.yaml", bad, "../main.yaml", 1,
	    "include cycle");
	free(bad);

	/* So is including the same file twice. */
	free(text);
	text = replace(base, "datasets:\n",
	    "include: [more/income.yaml, more/../more/income.yaml]\ndatasets:\n");
	write_file("more/income.yaml", included, 0644);
	check_error(text, "more/../more/income.yaml", 1,
	    "/more/../more/income.yaml: already included");
	free(text);
	text = replace(base, "datasets:\n",
	    "include: [more/income.yaml]\ndatasets:\n");

	bad = replace(included, "datasets:\n", "gateway: {}\ndatasets:\n");
	write_file("more/income.yaml", bad, 0644);
	check_error_in(text, "more/income.yaml", bad, "{}", 1,
	    "gateway: only allowed in the main configuration file");
	free(bad);
	free(text);

	text = replace(base, "datasets:\n", "include: [more/none.yaml]\ndatasets:\n");
	check_error(text, "more/none.yaml", 1, "include: ");
	free(text);
}

/* One load reports every problem, not only the first. */
static void
test_several_errors(void)
{
	struct config_errors errs = { 0 };
	char *a = replace(base, "checkpoint_interval: 500ms",
	    "checkpoint_interval: soon");
	char *b = replace(a, "    consumer: caf\n", "    consumer: cfa\n");
	char *text = replace(b, "    name: CAF\n", "    nmae: CAF\n");
	struct config *cfg = load(text, &errs);
	const char *file = path_in_dir("main.yaml");
	int line, col;
	FILE *out;
	char *printed;
	size_t len;

	CHECK(cfg == NULL);
	CHECK_INT(errs.n, 4);
	position_of(text, "soon", 1, &line, &col);
	CHECK(has_error(&errs, file, line, col, "is not a duration"));
	position_of(text, "cfa", 1, &line, &col);
	CHECK(has_error(&errs, file, line, col, "unknown service 'cfa'"));
	position_of(text, "nmae", 1, &line, &col);
	CHECK(has_error(&errs, file, line, col, "services.caf.nmae: unknown key"));
	/* A block mapping starts at its first key. */
	CHECK(has_error(&errs, file, line, col,
	    "services.caf: missing required key 'name'"));

	out = open_memstream(&printed, &len);
	config_errors_print(&errs, out);
	fclose(out);
	position_of(text, "soon", 1, &line, &col);
	{
		char want[700];

		snprintf(want, sizeof(want), "%s:%d:%d: gateway.audit."
		    "checkpoint_interval: 'soon' is not a duration", file, line,
		    col);
		CHECK(strncmp(printed, want, strlen(want)) == 0);
	}
	CHECK_INT(printed[len - 1], '\n');
	free(printed);
	config_errors_free(&errs);
	free(a);
	free(b);
	free(text);
}

static void
test_durations(void)
{
	static const struct { const char *text; int ok; int64_t ms; } cases[] = {
		{ "2s", 1, 2000 }, { "500ms", 1, 500 }, { "1m", 1, 60000 },
		{ "1h", 1, 3600000 }, { "0s", 1, 0 }, { "15s", 1, 15000 },
		{ "9223372036854775807ms", 1, INT64_MAX },
		{ "2", 0, 0 }, { "-1s", 0, 0 }, { "2x", 0, 0 }, { "", 0, 0 },
		{ "s", 0, 0 }, { "1.5s", 0, 0 }, { "2 s", 0, 0 }, { " 2s", 0, 0 },
		{ "1d", 1, 86400000 }, { "30d", 1, 2592000000 },
		{ "2S", 0, 0 }, { "2sec", 0, 0 }, { "1w", 0, 0 }, { "1D", 0, 0 },
		{ "106751991167301d", 0, 0 },
		{ "9223372036854775808ms", 0, 0 }, { "9223372036854776s", 0, 0 },
		{ "99999999999999999999h", 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = -7;
		int rc = config_parse_duration(cases[i].text, &ms);

		CHECK_INT(rc, cases[i].ok ? 0 : -1);
		CHECK_INT(ms, cases[i].ok ? cases[i].ms : -7);
		if (rc != (cases[i].ok ? 0 : -1))
			fprintf(stderr, "  duration '%s'\n", cases[i].text);
	}
}

/* The keys of the register (contract §7) and of retention (§6): their
 * defaults, their values, and the subscription a policy must cover. */
static void
test_register_keys(void)
{
	struct config_errors errs = { 0 };
	char *text = replace(base, "    description: Postal address\n",
	    "    description: Postal address\n    retention: 90d\n"
	    "    subjects: beneficiaries\n");
	char *contacts = replace(text, "    name: CAF\n", "    name: CAF\n"
	    "    controller: dpd@caf.example\n    country: CH\n");
	struct config *cfg = load(contacts, &errs);

	CHECK(cfg != NULL);
	if (cfg != NULL) {
		const struct config_service *caf = config_find_service(cfg, "caf");

		CHECK_INT(cfg->datasets[0].retention_ms, 90LL * 86400000);
		CHECK_STR(cfg->datasets[0].subjects, "beneficiaries");
		CHECK_INT(cfg->datasets[1].retention_ms, 30LL * 86400000);
		CHECK_STR(cfg->datasets[1].subjects, "citizens");
		CHECK_STR(caf->contacts.controller, "dpd@caf.example");
		CHECK_STR(caf->contacts.country, "CH");
		CHECK(caf->contacts.dpo == NULL);
		CHECK(cfg->gateway.contacts.controller == NULL);
	}
	config_free(cfg);
	config_errors_free(&errs);
	free(contacts);
	free(text);
	check_change("    name: CAF\n", "    name: CAF\n    country: France\n",
	    "France", 1, "services.caf.country: expected a two-letter ISO 3166 "
	    "country code");
	check_change("    description: Postal address\n", "    description: "
	    "Postal address\n    retention: 1y\n", "1y", 1,
	    "datasets.address.retention: '1y' is not a duration");
	/* caf's policies are on address: one on household leaves the
	 * subscription to it without a purpose. */
	check_change("    subscribes: [{dataset: address, from: mairie}]\n",
	    "    subscribes: [{dataset: address, from: mairie}, "
	    "{dataset: household, from: mairie}]\n", "{dataset: household", 1,
	    "services.caf.subscribes[1]: no policy lets caf obtain dataset "
	    "'household' from 'mairie'");
}

static void
test_sizes(void)
{
	static const struct { const char *text; int ok; size_t bytes; } cases[] = {
		{ "1048576", 1, 1048576 }, { "64k", 1, 65536 }, { "64K", 1, 65536 },
		{ "1m", 1, 1048576 }, { "2M", 1, 2097152 }, { "0", 1, 0 },
		{ "18446744073709551615", 1, SIZE_MAX },
		{ "", 0, 0 }, { "k", 0, 0 }, { "-1", 0, 0 }, { "1g", 0, 0 },
		{ "1kb", 0, 0 }, { "1.5m", 0, 0 }, { "1 k", 0, 0 },
		{ "18446744073709551616", 0, 0 }, { "18014398509481984k", 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t bytes = 7;
		int rc = config_parse_size(cases[i].text, &bytes);

		CHECK_INT(rc, cases[i].ok ? 0 : -1);
		CHECK(bytes == (cases[i].ok ? cases[i].bytes : 7));
		if (rc != (cases[i].ok ? 0 : -1))
			fprintf(stderr, "  size '%s'\n", cases[i].text);
	}
}

static void
test_tls(void)
{
	struct config_errors errs = { 0 };
	char *text = replace(base, "  store:", "  tls:\n"
	    "    cert: file:tls.crt\n    key: file:tls.key\n  store:");
	struct config *cfg;

	write_file("tls.crt", "CERT\n", 0644);
	write_file("tls.key", "KEY\n", 0600);
	cfg = load(text, &errs);
	CHECK_INT(errs.n, 0);
	if (cfg != NULL) {
		CHECK_INT(cfg->gateway.tls.enabled, 1);
		CHECK_STR((char *)cfg->gateway.tls.cert.data, "CERT\n");
		CHECK_STR((char *)cfg->gateway.tls.key.data, "KEY\n");
		CHECK(cfg->gateway.tls.client_ca.data == NULL);
	}
	config_free(cfg);
	config_errors_free(&errs);
	chmod(path_in_dir("tls.key"), 0644);
	check_error(text, "file:tls.key", 1, "gateway.tls.key: ");
	chmod(path_in_dir("tls.key"), 0600);
	free(text);
	check_change("  store:", "  tls: {cert: file:tls.crt}\n  store:", "{cert",
	    1, "gateway.tls: missing required key 'key'");
}

/* services.*.rate_limit, gateway.user and certificates shared by two
 * services. */
static void
test_security_settings(void)
{
	struct config_errors errs = { 0 };
	char *limited = replace(base, "    name: CAF\n", "    name: CAF\n"
	    "    rate_limit: {rate: 90/m}\n");
	char *text = replace(limited, "  store:", "  user: tellonce\n  store:");
	struct config *cfg;

	free(limited);
	cfg = load(text, &errs);
	CHECK_INT(errs.n, 0);
	if (cfg != NULL) {
		const struct config_service *caf = config_find_service(cfg, "caf");

		CHECK(caf->rate_limit.rate == 1.5);
		CHECK_INT(caf->rate_limit.burst, 2);
		CHECK(config_find_service(cfg, "mairie")->rate_limit.rate == 0);
		CHECK_STR(cfg->gateway.user, "tellonce");
		CHECK(config_find_service_by_cert(cfg,
		    caf->client_cert_sha256) == caf);
	}
	config_free(cfg);
	config_errors_free(&errs);
	free(text);
	check_change("    name: CAF\n", "    name: CAF\n    rate_limit: "
	    "{rate: 5/d, burst: 3}\n", "5/d", 1, "services.caf.rate_limit.rate: "
	    "expected requests per second, minute or hour");
	check_change("    name: CAF\n", "    name: CAF\n    rate_limit: "
	    "{rate: 5/s, burst: 0}\n", "0}", 1, "services.caf.rate_limit.burst: "
	    "expected a whole number from 1 to");
	check_change("    name: CAF\n", "    name: CAF\n    rate_limit: "
	    "{burst: 3}\n", "{burst", 1, "services.caf.rate_limit: missing "
	    "required key 'rate'");
	text = replace(base, "{api_key: env:T_PORTAL_KEY}",
	    "{client_cert_sha256: \"00112233445566778899aabbccddeeff"
	    "00112233445566778899aabbccddeeff\"}");
	check_error(text, "\"00112233445566778899aabbccddeeff00112233445566778899"
	    "aabbccddeeff", 1, "the same certificate as service 'caf'");
	free(text);
}

/* A refused subscription must not leave its service behind for the next
 * entry (found by fuzz_config: the next entry, not even a mapping, was
 * taken for a subscription to itself, with no `from` to point at). */
static void
test_subscribes_refused_entries(void)
{
	char *text = replace(base, "subscribes: [{dataset: address, from: mairie}]",
	    "subscribes: [{from: caf}, null]");

	check_error(text, "caf}", 1, "a service cannot subscribe to itself");
	check_error(text, "null]", 1, "services.caf.subscribes[1]");
	free(text);
}

/* Each allocation of a load with every kind of section (an include, a
 * connector with a map and transforms, subscriptions, policies) fails in
 * turn: each time the load fails with "out of memory" and frees what it
 * had built (SAN=1 checks that), never aborts, as a reload must leave the
 * old config serving. */
static void
test_out_of_memory(void)
{
	char *with_include = replace(base, "datasets:\n",
	    "include: [more/income.yaml]\ndatasets:\n");
	char *text = replace(with_include,
	    "map: {street: adresse.voie, postal_code: adresse.cp, size: foyer.taille}",
	    "map:\n"
	    "        street: {path: adresse.voie, transform: [trim, upper]}\n"
	    "        city:\n"
	    "          transform: [{concat: {paths: [cp, ville], sep: ' '}}]\n"
	    "        since: {path: depuis, transform: [{date: {from: DD/MM/YYYY}}]}\n"
	    "        size: {path: foyer.taille, transform: [{default: 1}]}");
	long failed = 0;

	mkdir(path_in_dir("more"), 0700);
	write_file("impots.key", "impots-key\n", 0600);
	write_file("more/income.yaml", included, 0644);
	write_file("main.yaml", text, 0644);
	for (long n = 0;; n++) {
		struct config_errors errs = { 0 };
		struct config *cfg;
		int reported;

		oom_count = 0;
		oom_fail_at = n;
		cfg = config_load(path_in_dir("main.yaml"), &errs);
		oom_fail_at = -1;
		if (oom_count <= n) {
			/* No allocation was left to fail: the load is whole. */
			CHECK(cfg != NULL);
			config_errors_print(&errs, stderr);
			config_free(cfg);
			config_errors_free(&errs);
			break;
		}
		reported = errs.nomem;
		for (size_t i = 0; i < errs.n; i++)
			if (strstr(errs.items[i].message, "out of memory"))
				reported = 1;
		CHECK(cfg == NULL);
		CHECK(reported);
		if (cfg != NULL || !reported) {
			fprintf(stderr, "  allocation %ld failed unnoticed\n", n);
			config_free(cfg);
			config_errors_free(&errs);
			break;
		}
		failed++;
		config_errors_free(&errs);
	}
	/* The test failed allocations, not none. */
	CHECK(failed > 100);
	free(with_include);
	free(text);
}

int
main(void)
{
	tmpdir_make(dir);
	setenv("T_PSEUDONYM_KEY", "0123456789abcdef0123456789abcdef", 1);
	setenv("T_MAIRIE_KEY", "mairie-key", 1);
	setenv("T_CAF_KEY", "caf-key", 1);
	setenv("T_PORTAL_KEY", "portal-key", 1);
	setenv("T_PG_PASSWORD", "pg-secret", 1);
	unsetenv("T_NOT_SET");
	write_file("admin.token", "admin-secret\n", 0600);
	write_file("audit.key", pem, 0600);
	write_file("upstream.auth", "Bearer upstream\n", 0600);

	UNIT_RUN(test_full_config);
	UNIT_RUN(test_previous_api_key);
	UNIT_RUN(test_previous_client_cert);
	UNIT_RUN(test_previous_admin_token);
	UNIT_RUN(test_defaults);
	UNIT_RUN(test_mandates);
	UNIT_RUN(test_empty_sections);
	UNIT_RUN(test_find_service_by_key);
	UNIT_RUN(test_unknown_keys);
	UNIT_RUN(test_bad_values);
	UNIT_RUN(test_log_level_alias);
	UNIT_RUN(test_admin_listen);
	UNIT_RUN(test_store_schemes);
	UNIT_RUN(test_missing_keys);
	UNIT_RUN(test_dangling_references);
	UNIT_RUN(test_legal_reference);
	UNIT_RUN(test_duplicates);
	UNIT_RUN(test_secrets);
	UNIT_RUN(test_secret_not_echoed);
	UNIT_RUN(test_secret_resolve);
	UNIT_RUN(test_file_modes);
	UNIT_RUN(test_file_modes_by_key);
	UNIT_RUN(test_did_you_mean);
	UNIT_RUN(test_offline);
	UNIT_RUN(test_yaml_errors);
	UNIT_RUN(test_empty_and_missing_files);
	UNIT_RUN(test_connector_types);
	UNIT_RUN(test_include);
	UNIT_RUN(test_several_errors);
	UNIT_RUN(test_durations);
	UNIT_RUN(test_register_keys);
	UNIT_RUN(test_sizes);
	UNIT_RUN(test_tls);
	UNIT_RUN(test_security_settings);
	UNIT_RUN(test_subscribes_refused_entries);
	UNIT_RUN(test_config_sha256);
	UNIT_RUN(test_out_of_memory);
	tmpdir_remove(dir);
	return UNIT_END();
}
