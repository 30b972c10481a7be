/* mandate.c — a mediator's mandates: the scope as written, the grant and
 * its signed receipt, the API view.
 *
 * Categories are expanded into datasets when the mandate is given and the
 * datasets are what is stored: a mandate keeps covering what the citizen
 * agreed to even if the admin later changes mandates.categories. */
#include "mandate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "jws.h"
#include "log.h"

#define MANDATE_ISSUER "tellonce"

static const struct {
	const char *name;
	unsigned bit;
} mandate_actions[] = {
	{ "consent", STORE_MANDATE_CONSENT },
	{ "objection", STORE_MANDATE_OBJECTION },
	{ "access_log", STORE_MANDATE_ACCESS_LOG },
};

#define MANDATE_NACTIONS (sizeof(mandate_actions) / sizeof(mandate_actions[0]))

unsigned
mandate_action(const char *name)
{
	for (size_t i = 0; i < MANDATE_NACTIONS; i++)
		if (strcmp(mandate_actions[i].name, name) == 0)
			return mandate_actions[i].bit;
	return 0;
}

void
mandate_scope_clear(struct mandate_scope *s)
{
	free(s->datasets);
	memset(s, 0, sizeof(*s));
}

/* Adds a dataset once (a category may repeat one named elsewhere). */
static void
mandate_scope_add(struct mandate_scope *s, const char *name)
{
	for (size_t i = 0; i < s->ndatasets; i++)
		if (strcmp(s->datasets[i], name) == 0)
			return;
	s->datasets[s->ndatasets++] = name;
}

/* The member `key` of scope: absent, or an array of distinct strings.
 * Returns 0 with *items (free the array only), or -1 with err. */
static int
mandate_scope_list(const json_t *scope, const char *key, const char ***items,
    size_t *n, char *err, size_t errlen)
{
	const json_t *v = json_object_get(scope, key);

	*items = NULL;
	*n = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (jsonutil_string_array(v, items, n) != 0) {
		snprintf(err, errlen, "\"scope.%s\" must be an array of strings",
		    key);
		return -1;
	}
	for (size_t i = 0; i < *n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp((*items)[i], (*items)[j]) == 0) {
				snprintf(err, errlen, "\"scope.%s\" names \"%.64s\" "
				    "twice", key, (*items)[i]);
				free(*items);
				*items = NULL;
				return -1;
			}
	return 0;
}

static int
mandate_scope_actions(const char *const *names, size_t n, unsigned *actions,
    char *err, size_t errlen)
{
	*actions = 0;
	if (n == 0) {
		snprintf(err, errlen, "\"scope.actions\" must list at least one "
		    "of consent, objection, access_log");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned bit = mandate_action(names[i]);

		if (bit == 0) {
			snprintf(err, errlen, "\"scope.actions\": unknown action "
			    "\"%.64s\" (known: consent, objection, access_log)",
			    names[i]);
			return -1;
		}
		*actions |= bit;
	}
	return 0;
}

/* Fills out->datasets from the named datasets and categories. */
static int
mandate_scope_datasets(const struct config *cfg, const char *const *datasets,
    size_t nd, const char *const *categories, size_t nc,
    struct mandate_scope *out, char *err, size_t errlen)
{
	if ((out->datasets = calloc(cfg->ndatasets + 1,
	    sizeof(*out->datasets))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < nd; i++) {
		const struct config_dataset *ds = config_find_dataset(cfg,
		    datasets[i]);

		if (ds == NULL) {
			snprintf(err, errlen, "\"scope.datasets\": unknown dataset "
			    "\"%.64s\"", datasets[i]);
			return -1;
		}
		mandate_scope_add(out, ds->name);
	}
	for (size_t i = 0; i < nc; i++) {
		const struct config_category *cat = config_find_category(cfg,
		    categories[i]);

		if (cat == NULL) {
			snprintf(err, errlen, "\"scope.categories\": unknown "
			    "category \"%.64s\" (see mandates.categories)",
			    categories[i]);
			return -1;
		}
		for (size_t j = 0; j < cat->ndatasets; j++)
			mandate_scope_add(out, cat->datasets[j]->name);
	}
	if (out->ndatasets == 0) {
		snprintf(err, errlen, "\"scope\" must name at least one dataset, "
		    "in \"datasets\" or through \"categories\"");
		return -1;
	}
	return 0;
}

int
mandate_scope_parse(const struct config *cfg, const json_t *scope,
    struct mandate_scope *out, char *err, size_t errlen)
{
	const char **datasets = NULL, **categories = NULL, **actions = NULL;
	size_t nd = 0, nc = 0, na = 0;
	const char *key;
	json_t *v;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(scope)) {
		snprintf(err, errlen, "\"scope\" must be an object "
		    "{datasets, categories, actions}");
		return -1;
	}
	json_object_foreach((json_t *)scope, key, v) {
		if (strcmp(key, "datasets") != 0 && strcmp(key, "categories") != 0 &&
		    strcmp(key, "actions") != 0) {
			snprintf(err, errlen, "\"scope\": unknown member \"%.64s\" "
			    "(known: datasets, categories, actions)", key);
			return -1;
		}
	}
	if (mandate_scope_list(scope, "datasets", &datasets, &nd, err,
	    errlen) == 0 && mandate_scope_list(scope, "categories",
	    &categories, &nc, err, errlen) == 0 && mandate_scope_list(scope,
	    "actions", &actions, &na, err, errlen) == 0 &&
	    mandate_scope_actions(actions, na, &out->actions, err, errlen) == 0 &&
	    mandate_scope_datasets(cfg, datasets, nd, categories, nc, out, err,
	    errlen) == 0)
		rc = 0;
	free(datasets);
	free(categories);
	free(actions);
	if (rc != 0)
		mandate_scope_clear(out);
	return rc;
}

static json_t *
mandate_actions_json(unsigned actions)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < MANDATE_NACTIONS; i++)
		if (actions & mandate_actions[i].bit)
			json_array_append_new(a, json_string(mandate_actions[i].name));
	return a;
}

/* The stored form of the grant, under a fresh id. 0, or -1 (out cleared). */
static int
mandate_fill(struct store_mandate *out, const struct mandate_grant *g,
    int64_t now_ms)
{
	const struct mandate_scope *s = g->scope;

	memset(out, 0, sizeof(*out));
	if (strlen(g->subject) >= sizeof(out->subject))
		return -1;
	store_new_id(out->id);
	memcpy(out->subject, g->subject, strlen(g->subject) + 1);
	out->created_ms = now_ms;
	out->expires_ms = g->expires_ms;
	out->actions = s->actions;
	out->mediator = strdup(g->mediator->id);
	out->helper = strdup(g->helper);
	if (out->mediator == NULL || out->helper == NULL ||
	    store_strings_dup(&out->datasets, &out->ndatasets, s->datasets,
	    s->ndatasets) != 0) {
		store_mandate_clear(out);
		return -1;
	}
	return 0;
}

/* The receipt: a JWT naming the mediator's own id of the citizen, signed
 * by the gateway. malloc'd, or NULL. */
static char *
mandate_receipt(const struct consent_signer *signer,
    const struct store_mandate *m, const char *local_id)
{
	json_t *claims;
	char *jws;

	claims = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:s, "
	    "s:{s:o, s:o}}",
	    "jti", m->id, "iss", MANDATE_ISSUER,
	    "iat", (json_int_t)(m->created_ms / 1000),
	    "exp", (json_int_t)(m->expires_ms / 1000),
	    "sub", local_id, "mediator", m->mediator, "helper", m->helper,
	    "scope", "datasets", jsonutil_string_list(m->datasets, m->ndatasets),
	    "actions", mandate_actions_json(m->actions));
	if (claims == NULL)
		return NULL;
	jws = jws_sign_claims(signer->key, signer->kid, claims);
	json_decref(claims);
	return jws;
}

int
mandate_grant(struct store *st, const struct consent_signer *signer,
    const struct mandate_grant *g, int64_t now_ms, struct store_mandate *out,
    char **receipt)
{
	*receipt = NULL;
	if (mandate_fill(out, g, now_ms) != 0)
		return -1;
	/* Sign first: a mandate is only stored once its receipt exists. */
	if ((*receipt = mandate_receipt(signer, out, g->local_id)) == NULL) {
		log_error("mandate: cannot sign the receipt");
		store_mandate_clear(out);
		return -1;
	}
	if (store_mandate_insert(st, out) != STORE_OK) {
		free(*receipt);
		*receipt = NULL;
		store_mandate_clear(out);
		return -1;
	}
	return 0;
}

json_t *
mandate_to_json(const struct store_mandate *m, const char *local_id,
    int64_t now_ms)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:{s:o, s:o}, s:o, s:o, s:o, s:s}",
	    "id", m->id, "subject", local_id, "mediator", m->mediator,
	    "helper", m->helper,
	    "scope", "datasets", jsonutil_string_list(m->datasets, m->ndatasets),
	    "actions", mandate_actions_json(m->actions),
	    "created_at", jsonutil_time(m->created_ms),
	    "expires_at", jsonutil_time(m->expires_ms),
	    "revoked_at", jsonutil_time(m->revoked_ms),
	    "status", consent_status(m->revoked_ms, m->expires_ms, now_ms));
}
