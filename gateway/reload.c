/* reload.c — what a SIGHUP may change (see reload.h). Each setting that
 * blocks a reload is used once, at start (the sockets bound, privileges
 * dropped, the workers started, the store and the audit log opened), or
 * would change what was already given out (pseudonyms, signatures). */
#include "reload.h"

#include <openssl/crypto.h>
#include <string.h>

static int
reload_secret_equal(const struct secret *a, const struct secret *b)
{
	return a->len == b->len && CRYPTO_memcmp(a->data, b->data, a->len) == 0;
}

static int
reload_string_equal(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The keys the audit log signs with and accepts, which it reads at open
 * and publishes. */
static int
reload_audit_keys_equal(const struct config_audit *a, const struct config_audit *b)
{
	if (!reload_secret_equal(&a->signing_key, &b->signing_key) ||
	    a->additional_signing_keys.n != b->additional_signing_keys.n ||
	    a->verifier_keys.n != b->verifier_keys.n)
		return 0;
	for (size_t i = 0; i < a->additional_signing_keys.n; i++)
		if (!reload_secret_equal(&a->additional_signing_keys.v[i],
		    &b->additional_signing_keys.v[i]))
			return 0;
	for (size_t i = 0; i < a->verifier_keys.n; i++)
		if (!reload_string_equal(a->verifier_keys.v[i],
		    b->verifier_keys.v[i]))
			return 0;
	return 1;
}

const char *
reload_blocker(const struct config *old, const struct config *new)
{
	const struct config_gateway *o = &old->gateway, *n = &new->gateway;

	if (!reload_string_equal(o->user, n->user))
		return "gateway.user";
	if (strcmp(o->listen, n->listen) != 0)
		return "gateway.listen";
	if (!reload_string_equal(o->admin_listen, n->admin_listen))
		return "gateway.admin_listen";
	if (o->workers != n->workers)
		return "gateway.workers";
	if (strcmp(o->store, n->store) != 0 ||
	    !reload_secret_equal(&o->store_password, &n->store_password))
		return "gateway.store";
	if (!reload_secret_equal(&o->pseudonym_key, &n->pseudonym_key))
		return "gateway.pseudonym_key";
	if (!reload_string_equal(o->audit.dir, n->audit.dir) ||
	    strcmp(o->audit.origin, n->audit.origin) != 0 ||
	    !reload_audit_keys_equal(&o->audit, &n->audit))
		return "gateway.audit";
	return NULL;
}
