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
	if (strcmp(o->store, n->store) != 0)
		return "gateway.store";
	if (!reload_secret_equal(&o->pseudonym_key, &n->pseudonym_key))
		return "gateway.pseudonym_key";
	if (strcmp(o->audit.dir, n->audit.dir) != 0 ||
	    strcmp(o->audit.origin, n->audit.origin) != 0 ||
	    !reload_secret_equal(&o->audit.signing_key, &n->audit.signing_key))
		return "gateway.audit";
	return NULL;
}
