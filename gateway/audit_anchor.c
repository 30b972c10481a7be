/* audit_anchor.c — the last signed checkpoint, remembered by the store
 * (see audit_anchor.h). */
#include "audit_anchor.h"

#include <stdio.h>

#include "log.h"

/* The checkpoint hook: a failure only leaves the store remembering an
 * older checkpoint, which still refuses any copy older than that one. */
static void
audit_anchor_put(const char *origin, const struct audit_head *head, void *arg)
{
	if (store_audit_head_put(arg, origin, head->size, head->root) != STORE_OK)
		log_ratelimited(LOG_LEVEL_WARN, "audit: the store did not take "
		    "checkpoint %llu; it remembers an older one",
		    (unsigned long long)head->size);
}

struct audit *
audit_anchor_open(const struct config_audit *cfg, struct store *st, char *err,
    size_t errlen)
{
	struct audit_head head;
	struct audit *a;

	switch (store_audit_head_get(st, cfg->origin, &head.size, head.root)) {
	case STORE_OK:
		a = audit_open_after(cfg, &head, err, errlen);
		break;
	case STORE_NOT_FOUND:
		a = audit_open(cfg, err, errlen);
		break;
	default:
		snprintf(err, errlen, "the store cannot tell the last checkpoint "
		    "signed");
		return NULL;
	}
	if (a == NULL)
		return NULL;
	/* The checkpoint audit_open signed, before the sequencer takes an
	 * entry: the hook below is the only user of st from now on. */
	audit_checkpoint_head(a, &head);
	audit_anchor_put(cfg->origin, &head, st);
	audit_set_checkpoint_hook(a, audit_anchor_put, st);
	return a;
}
