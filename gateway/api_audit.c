/* api_audit.c — the audit log over HTTP: the tlog-tiles files, RFC 6962
 * proofs, one entry with its proof, and the access log a citizen portal
 * shows a subject.
 *
 * Tiles are served from the audit directory, or from the shared log
 * through the node's cache; the checkpoint from the log's memory, which
 * holds the same bytes as the file (or the store). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "commitment.h"
#include "encode.h"
#include "gateway.h"
#include "jsonutil.h"
#include "log.h"
#include "merkle.h"
#include "metrics.h"

#define ACCESS_LOG_LIMIT     50
#define ACCESS_LOG_LIMIT_MAX 500

/* A decimal uint64 query parameter; 1 when present and valid, 0 when
 * absent, -1 after replying 400. */
static int
audit_query_u64(struct request *r, const char *name, uint64_t *out)
{
	const char *s = request_query(r, name);
	char *end;

	if (s == NULL)
		return 0;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno == ERANGE) {
		request_reply_problem(r, 400, NULL,
		    "\"%s\" must be a non-negative integer", name);
		return -1;
	}
	return 1;
}

static int
audit_query_required(struct request *r, const char *name, uint64_t *out)
{
	int rc = audit_query_u64(r, name, out);

	if (rc == 0)
		request_reply_problem(r, 400, NULL, "\"%s\" is required", name);
	return rc == 1 ? 0 : -1;
}

static json_t *
audit_hash_json(const merkle_hash h)
{
	char b64[ENCODE_BASE64_LEN(MERKLE_HASH_LEN)];

	encode_base64(h, MERKLE_HASH_LEN, b64);
	return json_string(b64);
}

static json_t *
audit_hashes_json(const merkle_hash *hashes, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, audit_hash_json(hashes[i]));
	return a;
}

void
api_audit_checkpoint(struct request *r)
{
	char *note = audit_checkpoint(r->gw->audit, NULL);

	if (note == NULL) {
		request_reply_problem(r, 503, NULL, "no checkpoint yet");
		return;
	}
	request_reply_raw(r, 200, "text/plain; charset=utf-8", note, strlen(note),
	    "no-cache");
	free(note);
}

void
api_audit_tile(struct request *r)
{
	unsigned char *data;
	uint64_t index;
	unsigned width;
	size_t len;
	int level;

	if (r->param == NULL ||
	    merkle_tile_parse(r->param, &level, &index, &width) != 0) {
		request_reply_problem(r, 400, NULL, "not a tile path");
		return;
	}
	if (audit_read_tile(r->gw->audit, level, index, width, &data,
	    &len) != 0) {
		if (errno == ENOENT)
			request_reply_problem(r, 404, NULL, "no such tile");
		else
			request_reply_problem(r, 503, NULL, "the tile could not "
			    "be read");
		return;
	}
	/* Full tiles never change; partial ones give way to the full tile.
	 * A log kept for auditors only stays out of shared caches. */
	request_reply_raw(r, 200, "application/octet-stream", data, len,
	    width != 0 ? "no-cache" : r->cfg->gateway.audit.public ?
	    "public, max-age=31536000, immutable" :
	    "private, max-age=31536000, immutable");
	free(data);
}

void
api_audit_proof_inclusion(struct request *r)
{
	merkle_hash proof[MERKLE_MAX_PROOF], root;
	uint64_t index, size, current = audit_size(r->gw->audit);
	size_t n;
	char *note;

	if (audit_query_required(r, "index", &index) != 0 ||
	    audit_query_required(r, "size", &size) != 0)
		return;
	if (size > current || index >= size) {
		request_reply_problem(r, 400, NULL, "need index < size <= %llu",
		    (unsigned long long)current);
		return;
	}
	if (audit_inclusion_proof(r->gw->audit, index, size, proof, &n, root) != 0) {
		request_reply_problem(r, 503, NULL, "the proof could not be read");
		return;
	}
	note = audit_checkpoint(r->gw->audit, NULL);
	request_reply_json(r, 200, json_pack("{s:I, s:I, s:o, s:o, s:s?}",
	    "index", (json_int_t)index, "size", (json_int_t)size,
	    "root", audit_hash_json(root),
	    "hashes", audit_hashes_json((const merkle_hash *)proof, n),
	    "checkpoint", note));
	free(note);
}

void
api_audit_proof_consistency(struct request *r)
{
	merkle_hash proof[MERKLE_MAX_PROOF], root1, root2;
	uint64_t from, to, current = audit_size(r->gw->audit);
	size_t n;
	char *note;

	if (audit_query_required(r, "from", &from) != 0 ||
	    audit_query_required(r, "to", &to) != 0)
		return;
	if (from > to || to > current) {
		request_reply_problem(r, 400, NULL, "need from <= to <= %llu",
		    (unsigned long long)current);
		return;
	}
	if (audit_consistency_proof(r->gw->audit, from, to, proof, &n, root1,
	    root2) != 0) {
		request_reply_problem(r, 503, NULL, "the proof could not be read");
		return;
	}
	note = audit_checkpoint(r->gw->audit, NULL);
	request_reply_json(r, 200, json_pack("{s:I, s:I, s:o, s:o, s:o, s:s?}",
	    "from", (json_int_t)from, "to", (json_int_t)to,
	    "from_root", audit_hash_json(root1), "to_root", audit_hash_json(root2),
	    "hashes", audit_hashes_json((const merkle_hash *)proof, n),
	    "checkpoint", note));
	free(note);
}

/* One entry with everything a partner needs to check it: the text as
 * stored (what the leaf hash covers) and parsed, the leaf hash, and its
 * inclusion proof against the latest checkpoint, sent along; the proof is
 * null while no checkpoint covers the entry yet. */
void
api_audit_entry(struct request *r)
{
	merkle_hash proof[MERKLE_MAX_PROOF], root, leaf;
	uint64_t index, cp_size;
	json_t *entry, *p = json_null();
	char *text, *note;
	size_t len, n;

	if (audit_query_required(r, "index", &index) != 0)
		return;
	if (index >= audit_size(r->gw->audit)) {
		request_reply_problem(r, 404, NULL, "no entry at this index; the "
		    "log holds %llu", (unsigned long long)audit_size(r->gw->audit));
		return;
	}
	if (audit_read_entry(r->gw->audit, index, &text, &len) != 0) {
		request_reply_problem(r, 503, NULL, "the entry could not be read");
		return;
	}
	merkle_leaf_hash(text, len, leaf);
	note = audit_checkpoint(r->gw->audit, &cp_size);
	if (index < cp_size) {
		if (audit_inclusion_proof(r->gw->audit, index, cp_size, proof, &n,
		    root) != 0) {
			request_reply_problem(r, 503, NULL, "the proof could not "
			    "be read");
			free(text);
			free(note);
			return;
		}
		p = json_pack("{s:I, s:o, s:o}", "size", (json_int_t)cp_size,
		    "root", audit_hash_json(root),
		    "hashes", audit_hashes_json((const merkle_hash *)proof, n));
	}
	entry = json_loadb(text, len, 0, NULL);
	request_reply_json(r, 200, json_pack("{s:I, s:o, s:s%, s:o, s:o, s:s?}",
	    "index", (json_int_t)index, "entry", entry ? entry : json_null(),
	    "entry_text", text, len, "leaf_hash", audit_hash_json(leaf),
	    "inclusion_proof", p, "checkpoint", note));
	free(text);
	free(note);
}

/* ---- the access log --------------------------------------------------- */

/* What a reader of the access log is shown: all of it (transparency
 * role), or, for a mediator under a mandate, the entries about the
 * mandate's datasets and its own acts. */
struct access_log_view {
	char subject[STORE_SUBJECT_LEN];
	unsigned char view_key[STORE_VIEW_KEY_LEN];
	uint64_t before, limit;
	struct store_mandate mandate;    /* id "" for the whole log */
	enum policy_reason reason;       /* a mediator's: allowed or why not */
};

static int
access_log_dataset_in(const struct store_mandate *m, const char *dataset)
{
	for (size_t i = 0; dataset != NULL && i < m->ndatasets; i++)
		if (strcmp(m->datasets[i], dataset) == 0)
			return 1;
	return 0;
}

/* Marks e when it was an act under a mandate (mandate: true, the
 * mediator, the helper), from the private index. 0 when the view shows it, -1 when
 * the mediator's view leaves it out. */
static int
access_log_mandate(struct request *r, const struct access_log_view *v,
    uint64_t index, json_t *e)
{
	char *mediator = NULL, *helper = NULL;
	int mine, shown;

	/* Only these entries get the marks: every other stays as logged. */
	if (store_access_mandate(r->store, v->subject, index, &mediator,
	    &helper) == STORE_OK) {
		json_object_set_new(e, "mandate", json_true());
		json_object_set_new(e, "mediator", json_string(mediator));
		json_object_set_new(e, "helper", json_string(helper));
	}
	mine = mediator != NULL && strcmp(mediator, r->caller->id) == 0;
	shown = v->mandate.id[0] == '\0' || mine ||
	    access_log_dataset_in(&v->mandate, jsonutil_string(e, "dataset"));
	free(mediator);
	free(helper);
	return shown ? 0 : -1;
}

/* Whether entry e commits to the subject of view key v. An index row
 * whose entry a crash lost names an index that a later entry took
 * (access_index.h): that entry fails this. */
static int
access_log_is_subjects(const json_t *e, const unsigned char *v)
{
	const char *nonce = jsonutil_string(e, "nonce");
	unsigned char raw[COMMITMENT_NONCE_LEN];

	if (nonce == NULL || decode_base64(nonce, strlen(nonce), raw,
	    sizeof(raw)) != COMMITMENT_NONCE_LEN)
		return 0;
	return commitment_check(COMMITMENT_SUBJECT, v, raw, "", 0,
	    jsonutil_string(e, "subject"));
}

/* The entry's services by name too, as the citizen knows them: null for
 * none, or for a service the configuration no longer has. */
static void
access_log_names(json_t *e, const struct config *cfg)
{
	static const char *const fields[][2] = {
		{ "consumer", "consumer_name" },
		{ "provider", "provider_name" },
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *id = jsonutil_string(e, fields[i][0]);
		const struct config_service *svc = id ?
		    config_find_service(cfg, id) : NULL;

		json_object_set_new(e, fields[i][1], svc && svc->name ?
		    json_string(svc->name) : json_null());
	}
}

/* One access-log item: the entry as it is in the log, whether it was an
 * act under a mandate, its index, and its inclusion proof in the
 * checkpointed tree (null until a checkpoint covers it). NULL if the entry
 * is not this subject's or not in the view. */
static json_t *
access_log_item(struct request *r, const struct access_log_view *v,
    uint64_t index, uint64_t cp_size)
{
	merkle_hash proof[MERKLE_MAX_PROOF], root;
	json_t *e, *p = json_null();
	size_t len, n;
	char *text;

	if (audit_read_entry(r->gw->audit, index, &text, &len) != 0)
		return NULL;
	e = json_loadb(text, len, 0, NULL);
	free(text);
	if (e == NULL || !access_log_is_subjects(e, v->view_key)) {
		log_info("access log: entry %llu is not the subject's (a crash "
		    "lost the entry first indexed there)",
		    (unsigned long long)index);
		json_decref(e);
		return NULL;
	}
	if (access_log_mandate(r, v, index, e) != 0) {
		json_decref(e);
		return NULL;
	}
	json_object_set_new(e, "audit_index", json_integer((json_int_t)index));
	access_log_names(e, r->cfg);
	if (index < cp_size && audit_inclusion_proof(r->gw->audit, index, cp_size,
	    proof, &n, root) == 0)
		p = json_pack("{s:I, s:o}", "size", (json_int_t)cp_size,
		    "hashes", audit_hashes_json((const merkle_hash *)proof, n));
	json_object_set_new(e, "inclusion_proof", p);
	return e;
}

static void
access_log_reply(struct request *r, const struct access_log_view *v)
{
	char *note, vkey[COMMITMENT_B64_LEN], next[API_CURSOR_LEN];
	uint64_t cp_size, *idx;
	json_t *entries;
	size_t n;

	if (store_access_list(r->store, v->subject, v->before, (size_t)v->limit,
	    &idx, &n) != STORE_OK) {
		request_reply_problem(r, 503, NULL, "the store is unavailable");
		return;
	}
	/* Every proof is against this one checkpoint, sent along. */
	note = audit_checkpoint(r->gw->audit, &cp_size);
	entries = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *item = access_log_item(r, v, idx[i], cp_size);

		if (item != NULL)
			json_array_append_new(entries, item);
	}
	/* With the view key, the citizen's portal checks that each entry is
	 * about this citizen and what was sent (docs/audit.md). */
	encode_base64(v->view_key, sizeof(v->view_key), vkey);
	if (n == v->limit)
		api_cursor_format((int64_t)idx[n - 1], next);
	request_reply_json(r, 200, json_pack("{s:o, s:s?, s:s?, s:s}",
	    "entries", entries, "next", n == v->limit ? next : NULL,
	    "checkpoint", note, "view_key", vkey));
	free(idx);
	free(note);
}

static void
access_log_view_free(void *arg)
{
	struct access_log_view *v = arg;

	store_mandate_clear(&v->mandate);
	free(v);
}

static void
access_log_audited(struct request *r, uint64_t index, void *arg)
{
	struct access_log_view *v = arg;

	if (v->reason == POLICY_ALLOW)
		access_log_reply(r, v);
	else
		request_reply_problem(r, 403, policy_reason_name(v->reason),
		    "no live mandate of the citizen to this mediator covers "
		    "reading the access log");
	access_log_view_free(v);
}

/* A mediator reads under a mandate with the access_log action; the read,
 * allowed or not, is an act on the citizen's behalf and is audited. Takes
 * v. */
static void
access_log_by_mediator(struct request *r, struct access_log_view *v)
{
	struct api_act act;

	if (api_act_parse(r, 1, &act) != 0 || api_act_decide(r, &act,
	    v->subject, STORE_MANDATE_ACCESS_LOG, NULL, &v->reason,
	    &v->mandate) != 0) {
		access_log_view_free(v);
		return;
	}
	metrics_decision(v->reason);
	struct audit_entry e = {
		.type = AUDIT_ACCESS_LOG_READ,
		.consumer = r->caller->id,
		.subject = v->subject,
		.view_key = v->view_key,
		.decision = v->reason == POLICY_ALLOW ? AUDIT_ALLOW : AUDIT_DENY,
		.reason = v->reason == POLICY_ALLOW ? NULL :
		    policy_reason_name(v->reason),
	};
	api_act_audit(r, &act, &v->mandate, &e);
	request_audit_owned(r, &e, access_log_audited, v, access_log_view_free);
}

void
api_access_log(struct request *r)
{
	const char *local_id = request_query(r, "subject");
	unsigned roles = r->caller->roles;
	struct access_log_view *v;
	int64_t after;
	int cursor;

	if (!(roles & (CONFIG_ROLE_TRANSPARENCY | CONFIG_ROLE_MEDIATOR))) {
		request_reply_problem(r, 403, NULL, "reading access logs needs "
		    "the transparency role, or a mediator's mandate");
		return;
	}
	if (local_id == NULL || *local_id == '\0') {
		request_reply_problem(r, 400, NULL, "\"subject\" is required");
		return;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL) {
		request_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	/* Newest first: a page goes on before the last entry of the one
	 * before it. `before=INDEX` is version 0.1's integer cursor. */
	v->limit = ACCESS_LOG_LIMIT;
	v->before = UINT64_MAX;
	if (audit_query_u64(r, "limit", &v->limit) < 0 ||
	    audit_query_u64(r, "before", &v->before) < 0 ||
	    (cursor = api_query_cursor(r, "after", 0, &after)) < 0) {
		free(v);
		return;
	}
	if (cursor == 1)
		v->before = (uint64_t)after;
	if (v->limit < 1 || v->limit > ACCESS_LOG_LIMIT_MAX) {
		free(v);
		request_reply_problem(r, 400, NULL, "\"limit\" must be 1 to %d",
		    ACCESS_LOG_LIMIT_MAX);
		return;
	}
	if (api_subject(r, local_id, v->subject, v->view_key) != 0) {
		free(v);
		return;
	}
	if (roles & CONFIG_ROLE_TRANSPARENCY) {
		access_log_reply(r, v);
		free(v);
		return;
	}
	access_log_by_mediator(r, v);
}
