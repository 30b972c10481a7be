/* push.h — accepting a changed record from its provider, whether it pushed
 * it (POST /v1/records, api_records.c) or was polled for it (poller.c).
 *
 * The record comes in the provider's own field names; push_map turns it
 * into the dataset's attributes and refuses a field the schema has no
 * place for. push_route decides each subscriber of (dataset, provider):
 * what its policy (and the live consent) grants, and whether it has
 * linked the subject. push_store_entry describes what the store keeps;
 * once it is stored, push_audit writes the `push` entry and a `deliver`
 * denial per subscriber left out. */
#ifndef TELLONCE_PUSH_H
#define TELLONCE_PUSH_H

#include <jansson.h>

#include "audit.h"
#include "config_model.h"
#include "policy.h"
#include "store.h"

/* A subscriber that receives nothing of this push, and why. */
struct push_skip {
	const struct config_service *svc;
	struct policy_decision d;
};

struct push {
	const struct config *cfg;
	const struct config_service *provider;
	const struct config_dataset *ds;
	char subject[STORE_SUBJECT_LEN];
	unsigned char view_key[STORE_VIEW_KEY_LEN];
	json_t *record;                  /* dataset attribute names */
	char *sent;                      /* JCS text of the record as sent */
	const char **subscribers;        /* receive a delivery */
	size_t nsubscribers;
	struct push_skip *skips;
	size_t nskips;
	char record_id[STORE_ID_LEN];
	char *canonical;                 /* the record's canonical text */
};

/* Frees what p owns (not p itself). */
void push_clear(struct push *p);
/* Maps raw (the provider's names) into p->record, and keeps the JCS text
 * of raw, to which the `push` entry commits. 0, or -1 with err saying
 * which attribute or field does not fit (never a value). */
int push_map(struct push *p, const json_t *raw, char *err, size_t errlen);
/* Decides every subscriber (p->subject and p->view_key set). 0, or -1 if
 * the store failed. */
int push_route(struct push *p, struct store *st);
/* Gives p its record id and canonical text. 0, or -1 when out of memory. */
int push_prepare(struct push *p);
/* What store_record_accept keeps for p (borrowing from p and the
 * arguments). Without a key, request_sha256 may be NULL. */
void push_store_entry(const struct push *p, const char *key,
    const char *request_sha256, const char *response, struct store_push *sp);
/* The `push` entry (names malloc'd into *names, caller frees). */
void push_audit_entry(const struct push *p, struct audit_entry *e,
    const char ***names);
/* Appends a `deliver` denial per skipped subscriber; nothing waits. */
void push_audit_skips(const struct push *p, struct audit *a,
    struct event_base *base, const char *request_id);

#endif
