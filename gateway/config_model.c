/* config_model.c — the lookups into a loaded config, the names of its
 * enums, and freeing it. Nothing here reads YAML: the loader modules above
 * fill these structs, and everything else only reads them. */
#include "config_model.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sha256.h"

#define CONFIG_NITEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- names ---------------------------------------------------------------- */

static const char *const config_basis_names[] = {
	[CONFIG_BASIS_CONSENT] = "consent",
	[CONFIG_BASIS_PUBLIC_TASK] = "public_task",
	[CONFIG_BASIS_LEGAL_OBLIGATION] = "legal_obligation",
};

static const char *const config_attr_type_names[] = {
	[CONFIG_ATTR_STRING] = "string",
	[CONFIG_ATTR_INTEGER] = "integer",
	[CONFIG_ATTR_NUMBER] = "number",
	[CONFIG_ATTR_BOOLEAN] = "boolean",
	[CONFIG_ATTR_DATE] = "date",
};

/* The index of s in names, or -1. */
static int
config_name_index(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
config_basis_name(enum config_basis basis)
{
	if ((size_t)basis >= CONFIG_NITEMS(config_basis_names))
		return "unknown";
	return config_basis_names[basis];
}

int
config_basis_parse(const char *s, enum config_basis *basis)
{
	int i = config_name_index(config_basis_names,
	    CONFIG_NITEMS(config_basis_names), s);

	if (i == -1)
		return -1;
	*basis = (enum config_basis)i;
	return 0;
}

const char *
config_attr_type_name(enum config_attr_type type)
{
	if ((size_t)type >= CONFIG_NITEMS(config_attr_type_names))
		return "unknown";
	return config_attr_type_names[type];
}

int
config_attr_type_parse(const char *s, enum config_attr_type *type)
{
	int i = config_name_index(config_attr_type_names,
	    CONFIG_NITEMS(config_attr_type_names), s);

	if (i == -1)
		return -1;
	*type = (enum config_attr_type)i;
	return 0;
}

/* ---- freeing -------------------------------------------------------------- */

void
config_transform_free(struct config_transform *t)
{
	free(t->from);
	free(t->to);
	for (size_t i = 0; i < t->npaths; i++)
		free(t->paths[i]);
	free(t->paths);
	free(t->sep);
	free(t->value);
}
/* Frees one setting of a connector, found at p, by its key's type. */
static void
config_setting_free(const struct connector_key *k, void *p)
{
	struct connector_endpoint *ep = p;
	struct connector_strmap *m = p;
	struct connector_strlist *l = p;
	char **s = p;

	switch (k->type) {
	case CONNECTOR_KEY_SECRET:
	case CONNECTOR_KEY_CERT:
		if (*s != NULL)
			OPENSSL_cleanse(*s, strlen(*s));
		/* FALLTHROUGH */
	case CONNECTOR_KEY_STRING:
	case CONNECTOR_KEY_PATH:
		free(*s);
		break;
	case CONNECTOR_KEY_ENDPOINT:
		free(ep->method);
		free(ep->path);
		break;
	case CONNECTOR_KEY_STRMAP:
		for (size_t i = 0; i < m->n; i++) {
			free(m->keys[i]);
			free(m->values[i]);
		}
		free(m->keys);
		free(m->values);
		break;
	case CONNECTOR_KEY_LIST:
		for (size_t i = 0; i < l->n; i++)
			free(l->items[i]);
		free(l->items);
		break;
	default:
		break;
	}
}

static void
config_connector_free(struct config_connector *c)
{
	if (c == NULL)
		return;
	for (const struct connector_key *k = c->ops->keys;
	    c->settings != NULL && k->name != NULL; k++)
		config_setting_free(k, (char *)c->settings + k->offset);
	for (size_t i = 0; i < c->nmap; i++) {
		for (size_t j = 0; j < c->map[i].ntransforms; j++)
			config_transform_free(&c->map[i].transforms[j]);
		free(c->map[i].transforms);
		free(c->map[i].path);
	}
	free(c->map);
	free(c->settings);
	free(c->type);
	free(c);
}

static void
config_contacts_free(struct config_contacts *c)
{
	free(c->controller);
	free(c->dpo);
	free(c->country);
}

static void
config_gateway_free(struct config_gateway *gw)
{
	free(gw->listen);
	free(gw->log.format);
	free(gw->log.level);
	free(gw->admin_listen);
	free(gw->log_level);
	free(gw->user);
	free(gw->problem_base);
	free(gw->store);
	secret_wipe(&gw->tls.cert);
	secret_wipe(&gw->tls.key);
	secret_wipe(&gw->tls.client_ca);
	secret_wipe(&gw->store_password);
	secret_wipe(&gw->pseudonym_key);
	secret_wipe(&gw->admin_token);
	secret_wipe(&gw->previous_admin_token);
	free(gw->audit.dir);
	free(gw->audit.origin);
	secret_wipe(&gw->audit.signing_key);
	for (size_t i = 0; i < gw->audit.additional_signing_keys.n; i++)
		secret_wipe(&gw->audit.additional_signing_keys.v[i]);
	for (size_t i = 0; i < gw->audit.verifier_keys.n; i++)
		free(gw->audit.verifier_keys.v[i]);
	config_contacts_free(&gw->contacts);
}

struct config *
config_ref(struct config *cfg)
{
	atomic_fetch_add(&cfg->refs, 1);
	return cfg;
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL || atomic_fetch_sub(&cfg->refs, 1) != 1)
		return;
	config_gateway_free(&cfg->gateway);
	for (size_t i = 0; i < cfg->ndatasets; i++) {
		for (size_t j = 0; j < cfg->datasets[i].nattributes; j++)
			free(cfg->datasets[i].attributes[j].name);
		free(cfg->datasets[i].attributes);
		free(cfg->datasets[i].name);
		free(cfg->datasets[i].subjects);
	}
	for (size_t i = 0; i < cfg->nservices; i++) {
		free(cfg->services[i].id);
		free(cfg->services[i].name);
		config_contacts_free(&cfg->services[i].contacts);
		config_connector_free(cfg->services[i].connector);
		free(cfg->services[i].subscribes);
	}
	for (size_t i = 0; i < cfg->npolicies; i++) {
		free(cfg->policies[i].id);
		free(cfg->policies[i].attributes);
		free(cfg->policies[i].purpose);
		free(cfg->policies[i].legal_reference);
	}
	for (size_t i = 0; i < cfg->ncategories; i++) {
		free(cfg->categories[i].name);
		free(cfg->categories[i].datasets);
	}
	free(cfg->categories);
	free(cfg->datasets);
	free(cfg->services);
	free(cfg->policies);
	free(cfg->path);
	free(cfg);
}

/* ---- lookups -------------------------------------------------------------- */

const struct config_service *
config_find_service(const struct config *cfg, const char *id)
{
	for (size_t i = 0; i < cfg->nservices; i++)
		if (strcmp(cfg->services[i].id, id) == 0)
			return &cfg->services[i];
	return NULL;
}

const struct config_dataset *
config_find_dataset(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->ndatasets; i++)
		if (strcmp(cfg->datasets[i].name, name) == 0)
			return &cfg->datasets[i];
	return NULL;
}

const struct config_category *
config_find_category(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->ncategories; i++)
		if (strcmp(cfg->categories[i].name, name) == 0)
			return &cfg->categories[i];
	return NULL;
}

const struct config_attribute *
config_find_attribute(const struct config_dataset *ds, const char *name)
{
	for (size_t i = 0; i < ds->nattributes; i++)
		if (strcmp(ds->attributes[i].name, name) == 0)
			return &ds->attributes[i];
	return NULL;
}

const struct config_service *
config_find_service_by_key(const struct config *cfg, const char *token,
    size_t len)
{
	const struct config_service *found = NULL;
	unsigned char hash[SHA256_LEN];

	if (sha256(token, len, hash) != 0)
		return NULL;
	/* Every service is compared, so the time taken does not tell which
	 * one matched or how far the search went. */
	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct config_service *s = &cfg->services[i];
		int equal = CRYPTO_memcmp(hash, s->api_key_sha256,
		    sizeof(hash)) == 0;
		int previous = CRYPTO_memcmp(hash, s->previous_api_key_sha256,
		    sizeof(hash)) == 0;

		if ((equal && s->has_api_key) ||
		    (previous && s->has_previous_api_key))
			found = s;
	}
	OPENSSL_cleanse(hash, sizeof(hash));
	return found;
}

const struct config_service *
config_find_service_by_cert(const struct config *cfg,
    const unsigned char hash[32])
{
	const struct config_service *found = NULL;

	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct config_service *s = &cfg->services[i];

		if ((s->has_client_cert && CRYPTO_memcmp(hash,
		    s->client_cert_sha256, 32) == 0) ||
		    (s->has_previous_client_cert && CRYPTO_memcmp(hash,
		    s->previous_client_cert_sha256, 32) == 0))
			found = s;
	}
	return found;
}
