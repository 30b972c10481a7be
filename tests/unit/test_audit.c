/* test_audit.c — the audit log on disk: entries, appends, proofs, recovery
 * after torn writes, refusal of altered or shortened logs, offline
 * verification of tampered directories; keys and signed notes. */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "checkpoint.h"
#include "commitment.h"
#include "encode.h"
#include "keys.h"
#include "tmpdir.h"
#include "unit.h"

#define ORIGIN "audit.test.example/log"

struct fixture {
	char dir[TMPDIR_PATH_LEN]; /* the test's temporary directory */
	char log[128];             /* the audit directory in it */
	char vkey[256];
	struct config_audit cfg;
};

/* ---- files ---------------------------------------------------------- */

static unsigned char *
file_get(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	*len = fread(buf, 1, (size_t)n, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static void
file_put(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		return;
	fwrite(data, 1, len, f);
	fclose(f);
}

static void
log_path(const struct fixture *fx, const char *rel, char out[256])
{
	snprintf(out, 256, "%s/%s", fx->log, rel);
}

/* ---- fixtures ------------------------------------------------------- */

static void
fixture_init(struct fixture *fx)
{
	char keypath[128], err[256], *v;
	unsigned char pub[32];
	EVP_PKEY *key;
	size_t len;

	memset(fx, 0, sizeof(*fx));
	tmpdir_make(fx->dir);
	snprintf(fx->log, sizeof(fx->log), "%s/audit", fx->dir);
	snprintf(keypath, sizeof(keypath), "%s/audit.key", fx->dir);
	key = keys_generate(keypath, err, sizeof(err));
	if (key == NULL || keys_public_raw(key, pub) != 0)
		abort();
	v = keys_verifier_string(ORIGIN, pub);
	snprintf(fx->vkey, sizeof(fx->vkey), "%s", v);
	free(v);
	EVP_PKEY_free(key);
	fx->cfg.dir = fx->log;
	fx->cfg.origin = ORIGIN;
	fx->cfg.checkpoint_interval_ms = 50;
	fx->cfg.signing_key.data = file_get(keypath, &len);
	fx->cfg.signing_key.len = len;
}

static void
fixture_free(struct fixture *fx)
{
	free(fx->cfg.signing_key.data);
	tmpdir_remove(fx->dir);
}

static struct audit *
fixture_open(struct fixture *fx)
{
	char err[512];
	struct audit *a = audit_open(&fx->cfg, err, sizeof(err));

	if (a == NULL)
		fprintf(stderr, "  audit_open: %s\n", err);
	return a;
}

/* The refusal message of a log that must not open, or "" if it opened. */
static const char *
fixture_refusal(struct fixture *fx, char *err, size_t errlen)
{
	struct audit *a = audit_open(&fx->cfg, err, errlen);

	if (a != NULL) {
		audit_close(a);
		err[0] = '\0';
	}
	return err;
}

static const unsigned char test_view_key[COMMITMENT_KEY_LEN] = {
	0x76, 0x69, 0x65, 0x77, 0x2d, 0x6b, 0x65, 0x79,
};

static void
make_entry(struct audit_entry *e, char reqid[32], long n)
{
	static const char *attrs[] = { "city", "street" };

	memset(e, 0, sizeof(*e));
	snprintf(reqid, 32, "req-%ld", n);
	e->ts_ms = 1796000000000 + n;
	e->type = AUDIT_FETCH;
	e->consumer = "caf";
	e->provider = "mairie";
	e->dataset = "address";
	e->attributes = attrs;
	e->nattributes = 2;
	e->purpose = "benefit-eligibility";
	e->basis = "consent";
	e->subject = "5a1d";
	e->view_key = test_view_key;
	e->decision = AUDIT_ALLOW;
	e->request_id = reqid;
}

struct filler {
	struct audit *a;
	long first, count;
	uint64_t *index;        /* index of entry n - first */
	int failed;
};

static void *
fill_thread(void *arg)
{
	struct filler *f = arg;

	for (long n = f->first; n < f->first + f->count; n++) {
		struct audit_entry e;
		char reqid[32];

		make_entry(&e, reqid, n);
		if (audit_append(f->a, &e, &f->index[n - f->first]) != 0)
			f->failed = 1;
	}
	return NULL;
}

/* Appends entries req-first .. from `threads` threads; returns failures. */
static int
fill(struct audit *a, long first, long count, int threads, uint64_t *index)
{
	pthread_t t[16];
	struct filler f[16];
	int failed = 0;

	for (int i = 0; i < threads; i++) {
		f[i] = (struct filler){ a, first + count * i / threads,
		    count * (i + 1) / threads - count * i / threads,
		    index + count * i / threads, 0 };
		pthread_create(&t[i], NULL, fill_thread, &f[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		failed += f[i].failed;
	}
	return failed;
}

static int
verify(struct fixture *fx, uint64_t *size, char *err, size_t errlen)
{
	merkle_hash root;

	return audit_verify(fx->log, fx->vkey, size, root, NULL, NULL, err, errlen);
}

/* ---- entries -------------------------------------------------------- */

/* The nonce of a parsed entry; 0 or -1. */
static int
entry_nonce(const json_t *o, unsigned char nonce[COMMITMENT_NONCE_LEN])
{
	const char *b64 = json_string_value(json_object_get(o, "nonce"));

	return b64 != NULL && decode_base64(b64, strlen(b64), nonce,
	    COMMITMENT_NONCE_LEN) == COMMITMENT_NONCE_LEN ? 0 : -1;
}

static const char *
entry_string(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Known answers, computed with Python's hmac module: the commitments are
 * plain HMAC-SHA256 over label, nonce and value, as contract §5 says. */
static void
test_commitment_known_answers(void)
{
	unsigned char nonce[COMMITMENT_NONCE_LEN];
	char out[COMMITMENT_B64_LEN];

	for (int i = 0; i < COMMITMENT_NONCE_LEN; i++)
		nonce[i] = (unsigned char)i;
	CHECK_INT(commitment_make(COMMITMENT_SUBJECT, test_view_key, nonce, "", 0,
	    out), 0);
	CHECK_STR(out, "6Jym4Z1sz4NIAXI71DYN1/B1ExRCeujjeXNvETOKdSU=");
	CHECK_INT(commitment_make(COMMITMENT_PAYLOAD, test_view_key, nonce,
	    "{\"city\":\"Quimper\"}", 18, out), 0);
	CHECK_STR(out, "0txyBRMrW0DimGnVfsSm4l8Q+ntbhA155tpddML0sNQ=");
	CHECK_INT(commitment_make(COMMITMENT_MANDATE, test_view_key, nonce,
	    "0f3c9a77d2b14e6a8c5e1b2d3f4a5b6c\nagent-7331", 43, out), 0);
	CHECK_STR(out, "wkp77VmDVOLZr5VJT0DheFOPArbgUGckzoZadX7jMBU=");
}

static void
test_entry_json(void)
{
	static const char payload[] = "{\"city\":\"Quimper\"}";
	static const char consent[] = "0123456789abcdef0123456789abcdef";
	unsigned char nonce[COMMITMENT_NONCE_LEN], other[COMMITMENT_KEY_LEN] = { 1 };
	struct audit_entry e;
	char reqid[32], *json, *again, *rest;
	json_t *o;

	/* About a subject: the names in clear, the subject, consent and
	 * payload only as commitments under its view key, ts to the second. */
	make_entry(&e, reqid, 7);
	e.consent = consent;
	e.payload = payload;
	json = audit_entry_json(&e);
	o = json_loads(json ? json : "", 0, NULL);
	CHECK(o != NULL);
	CHECK_INT(entry_nonce(o, nonce), 0);
	CHECK(commitment_check(COMMITMENT_SUBJECT, test_view_key, nonce, "", 0,
	    entry_string(o, "subject")));
	CHECK(commitment_check(COMMITMENT_CONSENT, test_view_key, nonce, consent,
	    strlen(consent), entry_string(o, "consent")));
	CHECK(commitment_check(COMMITMENT_PAYLOAD, test_view_key, nonce, payload,
	    strlen(payload), entry_string(o, "payload")));
	/* Not under another key, nor for another value or label. */
	CHECK(!commitment_check(COMMITMENT_SUBJECT, other, nonce, "", 0,
	    entry_string(o, "subject")));
	CHECK(!commitment_check(COMMITMENT_CONSENT, test_view_key, nonce, "x", 1,
	    entry_string(o, "consent")));
	CHECK(!commitment_check(COMMITMENT_PAYLOAD, test_view_key, nonce, consent,
	    strlen(consent), entry_string(o, "consent")));
	CHECK(strstr(json, "5a1d") == NULL && strstr(json, consent) == NULL &&
	    strstr(json, "Quimper") == NULL);
	/* The rest, canonical, with the commitments cut out. */
	json_object_del(o, "nonce");
	json_object_del(o, "subject");
	json_object_del(o, "consent");
	json_object_del(o, "payload");
	rest = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK_STR(rest, "{\"attributes\":[\"city\",\"street\"],"
	    "\"basis\":\"consent\",\"consumer\":\"caf\",\"dataset\":\"address\","
	    "\"decision\":\"allow\",\"policy\":null,\"provider\":\"mairie\","
	    "\"purpose\":\"benefit-eligibility\",\"reason\":null,"
	    "\"request_id\":\"req-7\",\"ts\":\"2026-11-30T00:53:20Z\","
	    "\"type\":\"fetch\"}");
	free(rest);
	json_decref(o);
	/* A fresh nonce each time: the same facts never give the same entry. */
	again = audit_entry_json(&e);
	CHECK(again != NULL && json != NULL && strcmp(again, json) != 0);
	free(again);
	free(json);
	/* A subject without its view key cannot be written. */
	e.view_key = NULL;
	CHECK(audit_entry_json(&e) == NULL);

	/* About no subject: no nonce and no commitment, consent or not. */
	memset(&e, 0, sizeof(e));
	e.ts_ms = 1;
	e.type = AUDIT_CONFIG_RELOAD;
	e.reason = "caf\xc3\xa9";
	e.consent = consent;
	json = audit_entry_json(&e);
	CHECK_STR(json, "{\"attributes\":null,\"basis\":null,\"consent\":null,"
	    "\"consumer\":null,\"dataset\":null,\"decision\":null,"
	    "\"nonce\":null,\"payload\":null,\"policy\":null,\"provider\":null,"
	    "\"purpose\":null,\"reason\":\"caf\xc3\xa9\",\"request_id\":null,"
	    "\"subject\":null,\"ts\":\"1970-01-01T00:00:00Z\","
	    "\"type\":\"config.reload\"}");
	free(json);

	e.reason = "bad \xff utf-8";
	CHECK(audit_entry_json(&e) == NULL);
}

/* An act under a mandate: the mandate and the helper ids only as one
 * commitment under the subject's view key, never in clear (contract §5);
 * the mediator only in the private index. */
static void
test_entry_mandate_private(void)
{
	static const char mandate[] = "0f3c9a77d2b14e6a8c5e1b2d3f4a5b6c";
	static const char act[] = "0f3c9a77d2b14e6a8c5e1b2d3f4a5b6c\nagent-7331";
	unsigned char nonce[COMMITMENT_NONCE_LEN];
	struct audit_entry e;
	char reqid[32], *json;
	json_t *o;

	make_entry(&e, reqid, 9);
	e.mandate = mandate;
	e.helper = "agent-7331";
	e.mediator = "franceservices";
	json = audit_entry_json(&e);
	CHECK(json != NULL);
	if (json == NULL)
		return;
	CHECK(strstr(json, mandate) == NULL);
	CHECK(strstr(json, "agent-7331") == NULL);
	CHECK(strstr(json, "franceservices") == NULL);
	o = json_loads(json, 0, NULL);
	CHECK_INT(entry_nonce(o, nonce), 0);
	CHECK(commitment_check(COMMITMENT_MANDATE, test_view_key, nonce, act,
	    strlen(act), entry_string(o, "on_behalf")));
	/* The helper is bound in: another agent does not match. */
	CHECK(!commitment_check(COMMITMENT_MANDATE, test_view_key, nonce, mandate,
	    strlen(mandate), entry_string(o, "on_behalf")));
	json_decref(o);
	free(json);
}

/* A log begun by a version whose entries were linkable (no nonce, the
 * pseudonym in clear, payload_sha256): a valid, signed log, which this
 * version refuses to append to, saying what to do instead. */
static void
test_old_format_refused(void)
{
	static const char old[] = "{\"attributes\":null,\"basis\":null,"
	    "\"consent\":null,\"consumer\":\"caf\",\"dataset\":null,"
	    "\"decision\":\"allow\",\"payload_sha256\":null,\"policy\":null,"
	    "\"provider\":null,\"purpose\":null,\"reason\":null,"
	    "\"request_id\":\"r1\",\"subject\":\"5a1d\","
	    "\"ts\":\"2026-11-30T00:53:20.007Z\",\"type\":\"link\"}";
	unsigned char journal[8 + 2 + sizeof(old)] = { 0 };
	struct fixture fx;
	char path[256], err[512], *note;
	merkle_hash leaf;
	EVP_PKEY *key;
	BIO *bio;
	uint64_t size;

	fixture_init(&fx);
	mkdir(fx.log, 0700);
	journal[8] = (unsigned char)((sizeof(old) - 1) >> 8);
	journal[9] = (unsigned char)(sizeof(old) - 1);
	memcpy(journal + 10, old, sizeof(old) - 1);
	log_path(&fx, "journal", path);
	file_put(path, journal, sizeof(journal) - 1);
	merkle_leaf_hash(old, sizeof(old) - 1, leaf);
	/* The tiles of its checkpoint, as auditors read them. */
	log_path(&fx, "tile", path);
	mkdir(path, 0700);
	log_path(&fx, "tile/entries", path);
	mkdir(path, 0700);
	log_path(&fx, "tile/entries/000.p", path);
	mkdir(path, 0700);
	log_path(&fx, "tile/entries/000.p/1", path);
	file_put(path, journal + 8, sizeof(journal) - 9);
	log_path(&fx, "tile/0", path);
	mkdir(path, 0700);
	log_path(&fx, "tile/0/000.p", path);
	mkdir(path, 0700);
	log_path(&fx, "tile/0/000.p/1", path);
	file_put(path, leaf, sizeof(leaf));
	bio = BIO_new_mem_buf(fx.cfg.signing_key.data,
	    (int)fx.cfg.signing_key.len);
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	note = checkpoint_sign(&key, 1, ORIGIN, 1, leaf);
	EVP_PKEY_free(key);
	CHECK(note != NULL);
	log_path(&fx, "checkpoint", path);
	file_put(path, note, note ? strlen(note) : 0);
	free(note);

	fixture_refusal(&fx, err, sizeof(err));
	CHECK(strstr(err, "earlier format") != NULL);
	CHECK(strstr(err, "audit.origin") != NULL &&
	    strstr(err, "signing_key") != NULL && strstr(err, "audit.dir") != NULL);
	/* It stays a valid log for its auditors. */
	CHECK_INT(verify(&fx, &size, err, sizeof(err)), 0);
	CHECK_INT(size, 1);
	fixture_free(&fx);
}

/* The names are the public format (contract §5): each must read as it
 * always has, and a value outside the tables names nothing. */
static void
test_entry_names(void)
{
	static const char *const types[] = { NULL, "fetch", "push", "deliver",
		"consent.grant", "consent.revoke", "link", "objection",
		"config.reload", "admin", "erasure", "link.delete",
		"mandate.grant", "mandate.revoke", "access_log.read", NULL };

	for (int t = AUDIT_TYPE_NONE; t <= AUDIT_ACCESS_LOG_READ + 1; t++) {
		const char *name = audit_type_name((enum audit_type)t);

		if (types[t] == NULL)
			CHECK(name == NULL);
		else
			CHECK_STR(name, types[t]);
	}
	CHECK(audit_decision_name(AUDIT_DECISION_NONE) == NULL);
	CHECK_STR(audit_decision_name(AUDIT_ALLOW), "allow");
	CHECK_STR(audit_decision_name(AUDIT_DENY), "deny");
	CHECK(audit_decision_name((enum audit_decision)(AUDIT_DENY + 1)) == NULL);
}

/* ---- appends, reopen, proofs ---------------------------------------- */

static void
test_append_reopen(void)
{
	struct fixture fx;
	struct audit *a;
	uint64_t index[1000], size;
	char err[512], *json, *note, want[32];
	size_t len;
	int bad = 0;
	unsigned char seen[1000] = { 0 };

	fixture_init(&fx);
	a = fixture_open(&fx);
	CHECK(a != NULL);
	if (a == NULL)
		goto out;
	CHECK_INT(audit_ready(a), 0);
	CHECK_INT(fill(a, 0, 1000, 8, index), 0);
	CHECK_INT(audit_size(a), 1000);
	CHECK(strstr(fixture_refusal(&fx, err, sizeof(err)),
	    "in use by another process") != NULL);
	for (int n = 0; n < 1000; n++) {
		if (index[n] >= 1000 || seen[index[n]]++) {
			bad++;
			continue;
		}
		snprintf(want, sizeof(want), "\"req-%d\"", n);
		if (audit_read_entry(a, index[n], &json, &len) != 0 ||
		    strstr(json, want) == NULL || strlen(json) != len)
			bad++;
		free(json);
	}
	CHECK_INT(bad, 0);
	CHECK_INT(audit_read_entry(a, 1000, &json, &len), -1);
	audit_close(a);

	/* Closing signed the whole log; a reopen finds it all. */
	CHECK_INT(verify(&fx, &size, err, sizeof(err)), 0);
	CHECK_INT(size, 1000);
	a = fixture_open(&fx);
	CHECK(a != NULL);
	if (a == NULL)
		goto out;
	CHECK_INT(audit_size(a), 1000);
	CHECK_INT(audit_read_entry(a, index[999], &json, &len), 0);
	CHECK(json != NULL && strstr(json, "\"req-999\"") != NULL);
	free(json);
	note = audit_checkpoint(a, &size);
	CHECK_INT(size, 1000);
	CHECK(note != NULL && strncmp(note, ORIGIN "\n1000\n", strlen(ORIGIN) + 6) == 0);
	free(note);
	CHECK_INT(fill(a, 1000, 10, 1, index), 0);
	CHECK_INT(index[9], 1009);
	audit_close(a);
	CHECK_INT(verify(&fx, &size, err, sizeof(err)), 0);
	CHECK_INT(size, 1010);
out:
	fixture_free(&fx);
}

static void
test_proofs(void)
{
	merkle_hash proof[MERKLE_MAX_PROOF], root, r1, r2;
	struct checkpoint cp;
	struct fixture fx;
	struct audit *a;
	uint64_t index[700], size;
	char err[256], *note;
	size_t n;
	int bad = 0;

	fixture_init(&fx);
	if ((a = fixture_open(&fx)) == NULL)
		goto out;
	CHECK_INT(fill(a, 0, 700, 4, index), 0);
	for (uint64_t i = 0; i < 700; i += 13) {
		char *json;
		size_t len;
		merkle_hash leaf;

		if (audit_read_entry(a, i, &json, &len) != 0) {
			bad++;
			continue;
		}
		merkle_leaf_hash(json, len, leaf);
		free(json);
		for (uint64_t s = i + 1; s <= 700; s += 97)
			if (audit_inclusion_proof(a, i, s, proof, &n, root) != 0 ||
			    merkle_verify_inclusion(i, s, leaf, (const merkle_hash *)proof,
			    n, root) != 0)
				bad++;
	}
	for (uint64_t m = 0; m <= 700; m += 37)
		for (uint64_t s = m; s <= 700; s += 61)
			if (audit_consistency_proof(a, m, s, proof, &n, r1, r2) != 0 ||
			    merkle_verify_consistency(m, s, (const merkle_hash *)proof,
			    n, r1, r2) != 0)
				bad++;
	CHECK_INT(bad, 0);
	CHECK_INT(audit_inclusion_proof(a, 700, 700, proof, &n, root), -1);
	CHECK_INT(audit_inclusion_proof(a, 0, 701, proof, &n, root), -1);
	CHECK_INT(audit_consistency_proof(a, 10, 9, proof, &n, r1, r2), -1);
	audit_close(a);

	/* The proof of the last entry leads to the signed root. */
	if ((a = fixture_open(&fx)) == NULL)
		goto out;
	note = audit_checkpoint(a, &size);
	CHECK_INT(checkpoint_parse(note, strlen(note), &cp, err, sizeof(err)), 0);
	CHECK_INT(audit_inclusion_proof(a, 699, 700, proof, &n, root), 0);
	CHECK(memcmp(root, cp.root, MERKLE_HASH_LEN) == 0);
	free(note);
	audit_close(a);
out:
	fixture_free(&fx);
}

/* ---- async appends and the index hook ------------------------------- */

struct async_state {
	struct event_base *base;
	pthread_t loop_thread;
	int pending, failed, wrong_thread;
	uint64_t hooked[64];
	int nhooked;
	pthread_t seq_thread;
};

static void
async_done(int status, uint64_t index, void *arg)
{
	struct async_state *s = arg;

	if (status != 0)
		s->failed++;
	if (!pthread_equal(pthread_self(), s->loop_thread))
		s->wrong_thread++;
	if (--s->pending == 0)
		event_base_loopbreak(s->base);
}

static int
async_hook(const struct audit_indexed *rows, size_t n, void *arg)
{
	struct async_state *s = arg;

	for (size_t i = 0; i < n; i++)
		if (s->nhooked < 64 && strcmp(rows[i].subject, "5a1d") == 0)
			s->hooked[s->nhooked++] = rows[i].index;
	return 0;
}

static void
idle(evutil_socket_t fd, short what, void *arg)
{
}

static void
test_async(void)
{
	struct async_state s = { 0 };
	struct fixture fx;
	struct audit *a;
	struct event *keep;
	char reqid[32];

	fixture_init(&fx);
	if ((a = fixture_open(&fx)) == NULL)
		goto out;
	s.base = event_base_new();
	s.loop_thread = pthread_self();
	keep = event_new(s.base, -1, EV_PERSIST, idle, NULL);
	event_add(keep, &(struct timeval){ 60, 0 });
	audit_set_index_hook(a, async_hook, &s);
	for (long n = 0; n < 40; n++) {
		struct audit_entry e;

		make_entry(&e, reqid, n);
		if (n % 2)
			e.subject = NULL;
		s.pending++;
		audit_append_async(a, &e, s.base, async_done, &s);
	}
	/* Too long for a uint16 length prefix: refused, still on this loop. */
	{
		struct audit_entry e;
		char *big = malloc(70000);

		make_entry(&e, reqid, 99);
		memset(big, 'x', 69999);
		big[69999] = '\0';
		e.reason = big;
		s.pending++;
		audit_append_async(a, &e, s.base, async_done, &s);
		free(big);
	}
	event_base_dispatch(s.base);
	CHECK_INT(s.pending, 0);
	CHECK_INT(s.failed, 1);
	CHECK_INT(s.wrong_thread, 0);
	CHECK_INT(s.nhooked, 20);
	CHECK_INT(audit_size(a), 40);
	for (int i = 1; i < s.nhooked; i++)
		CHECK(s.hooked[i] > s.hooked[i - 1]);
	audit_close(a);
	event_free(keep);
	event_base_free(s.base);
out:
	fixture_free(&fx);
}

/* ---- recovery ------------------------------------------------------- */

/* The offset just past the journal's last entry. */
static size_t
journal_end(const unsigned char *j, size_t len)
{
	size_t off = 8;

	while (off + 2 <= len && (j[off] << 8 | j[off + 1]) != 0)
		off += 2 + (size_t)(j[off] << 8 | j[off + 1]);
	return off;
}

static void
test_torn_journal(void)
{
	static const char torn[] = "\x01\x00{\"attributes\":[\"ci";
	struct fixture fx;
	struct audit *a;
	uint64_t index[300], size;
	char path[256], err[512];
	unsigned char *j;
	size_t len, end;

	fixture_init(&fx);
	if ((a = fixture_open(&fx)) == NULL)
		goto out;
	CHECK_INT(fill(a, 0, 300, 2, index), 0);
	audit_close(a);
	/* A crash in the middle of writing entry 300. */
	log_path(&fx, "journal", path);
	j = file_get(path, &len);
	end = journal_end(j, len);
	CHECK(end + sizeof(torn) < len);
	memcpy(j + end, torn, sizeof(torn) - 1);
	file_put(path, j, len);
	free(j);

	if ((a = fixture_open(&fx)) == NULL)
		goto out;
	CHECK_INT(audit_size(a), 300);
	CHECK_INT(fill(a, 300, 1, 1, index), 0);
	CHECK_INT(index[0], 300);
	audit_close(a);
	CHECK_INT(verify(&fx, &size, err, sizeof(err)), 0);
	CHECK_INT(size, 301);
out:
	fixture_free(&fx);
}

static void
test_torn_tiles(void)
{
	struct fixture fx;
	struct audit *a;
	uint64_t index[600], size;
	char full[256], partial[256], bundle[256], err[512];
	unsigned char *data;
	size_t len;

	fixture_init(&fx);
	if ((a = fixture_open(&fx)) == NULL)
		goto out;
	CHECK_INT(fill(a, 0, 600, 4, index), 0);
	audit_close(a);
	/* Tiles written but not synced before a crash: cut, or not there. */
	log_path(&fx, "tile/0/001", full);
	log_path(&fx, "tile/0/002.p/88", partial);
	log_path(&fx, "tile/entries/002.p/88", bundle);
	CHECK(truncate(full, 100) == 0);
	CHECK(truncate(partial, 40) == 0);
	CHECK(unlink(bundle) == 0);
	CHECK(verify(&fx, &size, err, sizeof(err)) != 0);

	if ((a = fixture_open(&fx)) == NULL)
		goto out;
	CHECK_INT(audit_size(a), 600);
	audit_close(a);
	data = file_get(full, &len);
	CHECK_INT(len, MERKLE_TILE_BYTES);
	free(data);
	CHECK_INT(verify(&fx, &size, err, sizeof(err)), 0);
	CHECK_INT(size, 600);
out:
	fixture_free(&fx);
}

/* Derived files are checked at start against the entries: a full bundle
 * cut, removed or with a length byte changed while its hash tile is
 * intact (the inputs fx-fuzz's fuzz_recovery found) makes the log refuse
 * to open, where it used to sign new checkpoints over lost entries; a
 * partial hash tile of the right size and the wrong content is written
 * again, where it used to be served as is. */
static void
test_derived_files_checked(void)
{
	static const char *const edits[] = { "cut", "removed", "byte" };
	struct fixture fx;
	struct audit *a;
	uint64_t index[300], size;
	char bundle[256], partial[256], err[512];
	unsigned char *saved, *data;
	size_t saved_len, len;

	fixture_init(&fx);
	if ((a = fixture_open(&fx)) == NULL)
		goto out;
	CHECK_INT(fill(a, 0, 300, 2, index), 0);
	audit_close(a);
	log_path(&fx, "tile/entries/000", bundle);
	saved = file_get(bundle, &saved_len);
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		if (i == 0)
			CHECK(truncate(bundle, 11) == 0);
		else if (i == 1)
			CHECK(unlink(bundle) == 0);
		else {
			data = malloc(saved_len);
			memcpy(data, saved, saved_len);
			data[1] ^= 0x01;
			file_put(bundle, data, saved_len);
			free(data);
		}
		if (strstr(fixture_refusal(&fx, err, sizeof(err)),
		    "entries were lost") == NULL)
			fprintf(stderr, "  bundle %s: opened (\"%s\")\n", edits[i],
			    err);
		CHECK(err[0] != '\0');
		file_put(bundle, saved, saved_len);
	}
	free(saved);

	log_path(&fx, "tile/0/001.p/44", partial);
	data = file_get(partial, &len);
	CHECK_INT(len, 44 * MERKLE_HASH_LEN);
	if (data != NULL) {
		data[len - 1] ^= 0xff;
		file_put(partial, data, len);
		free(data);
	}
	CHECK(verify(&fx, &size, err, sizeof(err)) != 0);
	if ((a = fixture_open(&fx)) == NULL)
		goto out;
	CHECK_INT(audit_size(a), 300);
	audit_close(a);
	CHECK_INT(verify(&fx, &size, err, sizeof(err)), 0);
	CHECK_INT(size, 300);
out:
	fixture_free(&fx);
}

static void
test_refuse_shorter(void)
{
	struct fixture fx;
	struct audit *a;
	uint64_t index[300];
	char path[256], err[512];
	unsigned char *j;
	size_t len, end, last;

	fixture_init(&fx);
	if ((a = fixture_open(&fx)) == NULL)
		goto out;
	CHECK_INT(fill(a, 0, 300, 2, index), 0);
	audit_close(a);
	/* The last entry vanishes from the journal: the log is now shorter
	 * than its checkpoint. */
	log_path(&fx, "journal", path);
	j = file_get(path, &len);
	end = journal_end(j, len);
	for (last = 8; last + 2 + (size_t)(j[last] << 8 | j[last + 1]) < end;)
		last += 2 + (size_t)(j[last] << 8 | j[last + 1]);
	memset(j + last, 0, end - last);
	file_put(path, j, len);
	free(j);
	CHECK(strstr(fixture_refusal(&fx, err, sizeof(err)),
	    "the log has 299 entries but its last checkpoint signed 300") != NULL);

	/* Without its journal, the incomplete bundle is lost too. */
	unlink(path);
	CHECK(strstr(fixture_refusal(&fx, err, sizeof(err)),
	    "entries were lost") != NULL);

	/* Without its checkpoint too, nothing says how many entries there
	 * were, but the tiles say there were some: starting an empty log
	 * would write over them. */
	log_path(&fx, "checkpoint", path);
	CHECK(unlink(path) == 0);
	CHECK(strstr(fixture_refusal(&fx, err, sizeof(err)),
	    "/checkpoint is missing but the log has tiles") != NULL);
out:
	fixture_free(&fx);
}

static void
test_refuse_altered(void)
{
	struct fixture fx, other;
	struct audit *a;
	uint64_t index[300];
	char path[256], err[512], *at;
	unsigned char *j;
	size_t len;

	fixture_init(&fx);
	if ((a = fixture_open(&fx)) == NULL)
		goto out;
	CHECK_INT(fill(a, 0, 300, 2, index), 0);
	audit_close(a);

	/* An entry rewritten (still valid JSON) in the journal. */
	log_path(&fx, "journal", path);
	j = file_get(path, &len);
	at = memmem(j + 8, len - 8, "\"req-", 5);
	CHECK(at != NULL);
	if (at != NULL) {
		char was = at[5];

		at[5] = was == '1' ? '2' : '1';
		file_put(path, j, len);
		CHECK(strstr(fixture_refusal(&fx, err, sizeof(err)),
		    "the entries do not match the last checkpoint (size 300)") != NULL);
		at[5] = was;
		file_put(path, j, len);
	}
	free(j);

	/* Another key cannot continue this log. */
	fixture_init(&other);
	free(fx.cfg.signing_key.data);
	fx.cfg.signing_key = other.cfg.signing_key;
	other.cfg.signing_key.data = NULL;
	CHECK(strstr(fixture_refusal(&fx, err, sizeof(err)),
	    "no signature by " ORIGIN) != NULL);
	fixture_free(&other);

	/* Nor can another origin. */
	fx.cfg.origin = "elsewhere.example/log";
	CHECK(strstr(fixture_refusal(&fx, err, sizeof(err)),
	    "no signature by elsewhere.example/log") != NULL);
out:
	fixture_free(&fx);
}

/* ---- offline verification of tampered logs -------------------------- */

/* Overwrites n bytes of a file at `at`, runs verify, restores the file:
 * the error. */
static const char *
tamper(struct fixture *fx, const char *rel, size_t at, const void *bytes,
    size_t n, char *err, size_t errlen)
{
	char path[256];
	unsigned char *data, *copy;
	size_t len;
	uint64_t size;

	log_path(fx, rel, path);
	data = file_get(path, &len);
	if (data == NULL || at + n > len) {
		free(data);
		return "no such bytes";
	}
	copy = malloc(len);
	memcpy(copy, data, len);
	memcpy(copy + at, bytes, n);
	file_put(path, copy, len);
	if (verify(fx, &size, err, errlen) == 0)
		snprintf(err, errlen, "verified");
	file_put(path, data, len);
	free(copy);
	free(data);
	return err;
}

static const char *
tamper_flip(struct fixture *fx, const char *rel, size_t at, char *err,
    size_t errlen)
{
	char path[256];
	unsigned char *data, b;
	size_t len;

	log_path(fx, rel, path);
	if ((data = file_get(path, &len)) == NULL || at >= len) {
		free(data);
		return "no such byte";
	}
	b = data[at] ^ 0x01;
	free(data);
	return tamper(fx, rel, at, &b, 1, err, errlen);
}

/* Offset in a bundle of byte `k` of entry `i`'s JSON. */
static size_t
bundle_offset(struct fixture *fx, const char *rel, unsigned i, size_t k)
{
	char path[256];
	unsigned char *b;
	size_t len, off = 0;

	log_path(fx, rel, path);
	b = file_get(path, &len);
	for (unsigned n = 0; b != NULL && n < i && off + 2 <= len; n++)
		off += 2 + (size_t)(b[off] << 8 | b[off + 1]);
	free(b);
	return off + 2 + k;
}

static void
test_tamper(void)
{
	struct fixture fx;
	struct audit *a;
	uint64_t index[600], size;
	char err[512], path[256], forged_key[128], *note;
	unsigned char *data;
	size_t len;
	EVP_PKEY *forger;
	merkle_hash root;

	fixture_init(&fx);
	if ((a = fixture_open(&fx)) == NULL)
		goto out;
	CHECK_INT(fill(a, 0, 600, 4, index), 0);
	audit_close(a);
	CHECK_INT(verify(&fx, &size, err, sizeof(err)), 0);

	CHECK_STR(tamper_flip(&fx, "tile/entries/001",
	    bundle_offset(&fx, "tile/entries/001", 5, 20), err, sizeof(err)),
	    "entry 261: does not match the checkpoint (its hash differs from "
	    "tile/0/001)");
	CHECK_STR(tamper_flip(&fx, "tile/entries/002.p/88",
	    bundle_offset(&fx, "tile/entries/002.p/88", 87, 3), err, sizeof(err)),
	    "entry 599: does not match the checkpoint (its hash differs from "
	    "tile/0/002.p/88)");
	CHECK_STR(tamper_flip(&fx, "tile/0/000", 7 * 32 + 3, err, sizeof(err)),
	    "tile/0/000: hash 7 does not match the entries");
	CHECK_STR(tamper_flip(&fx, "tile/1/000.p/2", 33, err, sizeof(err)),
	    "tile/1/000.p/2: hash 1 does not match the entries");
	CHECK_STR(tamper_flip(&fx, "checkpoint", strlen(ORIGIN) + 6, err,
	    sizeof(err)), "checkpoint: bad signature by " ORIGIN);
	/* Length prefixes that run past the end, or stop short of it. */
	CHECK_STR(tamper(&fx, "tile/entries/000", bundle_offset(&fx,
	    "tile/entries/000", 255, 0) - 2, "\x12\x34", 2, err, sizeof(err)),
	    "entry 255: missing or cut short in tile/entries/000");
	CHECK_STR(tamper(&fx, "tile/entries/000", bundle_offset(&fx,
	    "tile/entries/000", 255, 0) - 2, "\x00\x02", 2, err, sizeof(err)),
	    "entry 256: tile/entries/000 holds more entries than the checkpoint "
	    "covers");

	/* Truncated: the last bundle cut short, then gone. */
	log_path(&fx, "tile/entries/002.p/88", path);
	data = file_get(path, &len);
	CHECK(truncate(path, (off_t)len - 10) == 0);
	CHECK(verify(&fx, &size, err, sizeof(err)) != 0);
	CHECK_STR(err, "entry 599: missing or cut short in tile/entries/002.p/88");
	unlink(path);
	CHECK(verify(&fx, &size, err, sizeof(err)) != 0);
	CHECK_STR(err, "entry 512: tile/entries/002.p/88: No such file or directory");

	/* A forged entry appended to the bundle. */
	data = realloc(data, len + 40);
	memcpy(data + len, "\x00\x0f{\"forged\":true}", 17);
	file_put(path, data, len + 17);
	CHECK(verify(&fx, &size, err, sizeof(err)) != 0);
	CHECK_STR(err, "entry 600: tile/entries/002.p/88 holds more entries than "
	    "the checkpoint covers");
	file_put(path, data, len);
	free(data);
	CHECK_INT(verify(&fx, &size, err, sizeof(err)), 0);

	/* A checkpoint re-signed by someone else's key over the same tree. */
	snprintf(forged_key, sizeof(forged_key), "%s/forger.key", fx.dir);
	forger = keys_generate(forged_key, err, sizeof(err));
	CHECK_INT(audit_verify(fx.log, NULL, &size, root, NULL, NULL, err,
	    sizeof(err)), 0);
	note = checkpoint_sign(&forger, 1, ORIGIN, size, root);
	log_path(&fx, "checkpoint", path);
	data = file_get(path, &len);
	file_put(path, note, strlen(note));
	CHECK(verify(&fx, &size, err, sizeof(err)) != 0);
	CHECK_STR(err, "checkpoint: no signature by " ORIGIN);
	file_put(path, data, len);
	free(data);
	free(note);
	EVP_PKEY_free(forger);
out:
	fixture_free(&fx);
}

/* A checkpoint whose partial tiles were dropped when the full tiles came
 * (a crash before the next checkpoint) still verifies, from the full ones. */
static void
test_verify_dropped_partials(void)
{
	struct fixture fx;
	struct audit *a;
	uint64_t index[200], size;
	char path[256], err[512];
	unsigned char *old;
	size_t len;

	fixture_init(&fx);
	if ((a = fixture_open(&fx)) == NULL)
		goto out;
	CHECK_INT(fill(a, 0, 200, 2, index), 0);
	audit_close(a);
	log_path(&fx, "checkpoint", path);
	old = file_get(path, &len);
	if ((a = fixture_open(&fx)) == NULL)
		goto out;
	CHECK_INT(fill(a, 200, 100, 2, index), 0);
	audit_close(a);
	file_put(path, old, len);
	free(old);
	log_path(&fx, "tile/0/000.p/200", path);
	CHECK(access(path, F_OK) != 0);
	CHECK_INT(verify(&fx, &size, err, sizeof(err)), 0);
	CHECK_INT(size, 200);
out:
	fixture_free(&fx);
}

/* ---- keys and signed notes ------------------------------------------ */

static void
test_keys(void)
{
	char dir[TMPDIR_PATH_LEN], path[TMPDIR_PATH_LEN + 16], err[256];
	char name[64], *v;
	unsigned char pub[32], pub2[32];
	struct secret pem = { 0 };
	struct stat st;
	EVP_PKEY *key, *ec;
	BIO *bio;
	char *ecpem;

	tmpdir_make(dir);
	snprintf(path, sizeof(path), "%s/k.pem", dir);
	key = keys_generate(path, err, sizeof(err));
	CHECK(key != NULL);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	CHECK(keys_generate(path, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "File exists") != NULL);
	CHECK_INT(keys_public_raw(key, pub), 0);

	size_t len;
	pem.data = file_get(path, &len);
	pem.len = len;
	EVP_PKEY_free(key);
	key = keys_load_private(&pem, err, sizeof(err));
	CHECK(key != NULL && keys_public_raw(key, pub2) == 0 &&
	    memcmp(pub, pub2, 32) == 0);
	EVP_PKEY_free(key);
	free(pem.data);

	v = keys_verifier_string("log.example/a", pub);
	CHECK_INT(keys_verifier_parse(v, name, sizeof(name), pub2), 0);
	CHECK_STR(name, "log.example/a");
	CHECK(memcmp(pub, pub2, 32) == 0);
	v[strlen("log.example/a") + 3] ^= 1;     /* a wrong key ID */
	CHECK_INT(keys_verifier_parse(v, name, sizeof(name), pub2), -1);
	free(v);

	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(bio, ec, NULL, NULL, 0, NULL, NULL);
	pem.len = (size_t)BIO_get_mem_data(bio, &ecpem);
	pem.data = (unsigned char *)ecpem;
	CHECK(keys_load_private(&pem, err, sizeof(err)) == NULL);
	CHECK_STR(err, "not an Ed25519 key");
	BIO_free(bio);
	EVP_PKEY_free(ec);
	pem.data = (unsigned char *)"junk";
	pem.len = 4;
	CHECK(keys_load_private(&pem, err, sizeof(err)) == NULL);
	CHECK_STR(err, "not a PEM private key");
	tmpdir_remove(dir);
}

/* The example of golang.org/x/mod/sumdb/note: same key, same note. */
static void
test_note_go_vector(void)
{
	static const char text[] =
	    "If you think cryptography is the answer to your problem,\n"
	    "then you don't know what your problem is.\n";
	static const char want[] =
	    "If you think cryptography is the answer to your problem,\n"
	    "then you don't know what your problem is.\n"
	    "\n"
	    "\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInN"
	    "IuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
	static const char vkey[] =
	    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
	unsigned char seed[33], pub[32];
	char name[64], err[256], *note, *bad;
	EVP_PKEY *key;

	CHECK_INT(decode_base64("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", 44,
	    seed, sizeof(seed)), 33);
	key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed + 1, 32);
	note = checkpoint_note_sign(&key, 1, "PeterNeumann", text);
	CHECK_STR(note, want);
	CHECK_INT(keys_verifier_parse(vkey, name, sizeof(name), pub), 0);
	CHECK_INT(checkpoint_verify(want, strlen(want), name, pub, err,
	    sizeof(err)), 0);
	bad = strdup(want);
	bad[10] = 'X';
	CHECK_INT(checkpoint_verify(bad, strlen(bad), name, pub, err,
	    sizeof(err)), -1);
	CHECK_STR(err, "checkpoint: bad signature by PeterNeumann");
	free(bad);
	free(note);
	EVP_PKEY_free(key);
}

/* A note signed by two keys: either alone verifies it, an unknown key's
 * line is skipped, and a bad line by a key the verifier knows condemns it
 * even beside a good one (as Go's note.Open). */
static void
test_note_two_keys(void)
{
	static const char text[] = ORIGIN "\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
	struct checkpoint_key ks[3];
	EVP_PKEY *keys[3];
	char err[256], *note, *bad, *line2;

	for (int i = 0; i < 3; i++) {
		keys[i] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		ks[i].name = ORIGIN;
		keys_public_raw(keys[i], ks[i].pub);
	}
	note = checkpoint_note_sign(keys, 2, ORIGIN, text);
	CHECK(note != NULL);
	for (int i = 0; i < 2; i++)
		CHECK_INT(checkpoint_verify_keys(note, strlen(note), &ks[i], 1, err,
		    sizeof(err)), 0);
	CHECK_INT(checkpoint_verify_keys(note, strlen(note), ks, 3, err,
	    sizeof(err)), 0);
	CHECK_INT(checkpoint_verify_keys(note, strlen(note), &ks[2], 1, err,
	    sizeof(err)), -1);
	CHECK_STR(err, "checkpoint: no signature by " ORIGIN);
	/* The second signature line spoiled: the first key alone still
	 * accepts the note, but not a verifier that knows both. */
	bad = strdup(note);
	line2 = strrchr(bad, ' ') + 10;
	*line2 = *line2 == 'A' ? 'B' : 'A';
	CHECK_INT(checkpoint_verify_keys(bad, strlen(bad), &ks[0], 1, err,
	    sizeof(err)), 0);
	CHECK_INT(checkpoint_verify_keys(bad, strlen(bad), ks, 2, err,
	    sizeof(err)), -1);
	CHECK_STR(err, "checkpoint: bad signature by " ORIGIN);
	free(bad);
	free(note);
	for (int i = 0; i < 3; i++)
		EVP_PKEY_free(keys[i]);
}

/* audit_open_after: a log behind the head a store remembers, or another
 * log of the same size, is refused before anything is signed; the log
 * itself, and one that grew past the head, open. */
static void
test_refuse_behind_head(void)
{
	struct fixture fx, other;
	struct audit_head head, ahead;
	struct audit *a;
	uint64_t index[40];
	char err[1024], path[256];
	unsigned char *before, *after;
	size_t blen, alen;

	fixture_init(&fx);
	fixture_init(&other);
	if ((a = fixture_open(&fx)) == NULL)
		goto out;
	CHECK_INT(fill(a, 0, 20, 2, index), 0);
	audit_close(a);
	a = fixture_open(&fx);
	audit_checkpoint_head(a, &head);
	CHECK_INT(head.size, 20);
	CHECK_INT(fill(a, 20, 20, 1, index), 0);
	audit_close(a);
	a = audit_open_after(&fx.cfg, &head, err, sizeof(err));
	CHECK(a != NULL);
	audit_checkpoint_head(a, &ahead);
	audit_close(a);
	CHECK_INT(ahead.size, 40);

	/* The other log: as many entries, other ones, under the same origin
	 * and key. */
	free(other.cfg.signing_key.data);
	other.cfg.signing_key = fx.cfg.signing_key;
	fx.cfg.signing_key.data = NULL;
	if ((a = fixture_open(&other)) == NULL)
		goto out;
	CHECK_INT(fill(a, 1000, 40, 1, index), 0);
	audit_close(a);
	log_path(&other, "checkpoint", path);
	before = file_get(path, &blen);
	CHECK(audit_open_after(&other.cfg, &ahead, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "is not the log the store saw signed at 40 entries") !=
	    NULL);
	/* Behind: 40 entries opened against a head of 41. */
	ahead.size = 41;
	CHECK(audit_open_after(&other.cfg, &ahead, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "holds 40 entries, but the store saw this log signed "
	    "at 41") != NULL);
	CHECK(strstr(err, "tellonce backup") != NULL);
	after = file_get(path, &alen);
	CHECK(blen == alen && memcmp(before, after, blen) == 0);
	free(before);
	free(after);
out:
	fixture_free(&other);
	fixture_free(&fx);
}

static void
test_checkpoint_parse(void)
{
	static const char ok[] = "o.example/log\n42\n"
	    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 o x\n";
	struct checkpoint cp;
	char err[256];
	merkle_hash empty;

	CHECK_INT(checkpoint_parse(ok, strlen(ok), &cp, err, sizeof(err)), 0);
	CHECK_STR(cp.origin, "o.example/log");
	CHECK_INT(cp.size, 42);
	merkle_empty_root(empty);
	CHECK(memcmp(cp.root, empty, 32) == 0);
	CHECK_INT(checkpoint_parse("o\n042\nAAAA\n\n", 12, &cp, err, sizeof(err)), -1);
	CHECK_STR(err, "checkpoint: bad size line");
	CHECK_INT(checkpoint_parse("o\n1\nAAAA\n\n", 10, &cp, err, sizeof(err)), -1);
	CHECK_STR(err, "checkpoint: bad root hash line");
	CHECK_INT(checkpoint_parse("o\n1\n", 4, &cp, err, sizeof(err)), -1);
	CHECK_STR(err, "checkpoint: no signature block");
}

int
main(void)
{
	evthread_use_pthreads();
	UNIT_RUN(test_commitment_known_answers);
	UNIT_RUN(test_entry_json);
	UNIT_RUN(test_entry_mandate_private);
	UNIT_RUN(test_old_format_refused);
	UNIT_RUN(test_entry_names);
	UNIT_RUN(test_append_reopen);
	UNIT_RUN(test_proofs);
	UNIT_RUN(test_async);
	UNIT_RUN(test_torn_journal);
	UNIT_RUN(test_torn_tiles);
	UNIT_RUN(test_derived_files_checked);
	UNIT_RUN(test_refuse_shorter);
	UNIT_RUN(test_refuse_altered);
	UNIT_RUN(test_tamper);
	UNIT_RUN(test_verify_dropped_partials);
	UNIT_RUN(test_keys);
	UNIT_RUN(test_note_go_vector);
	UNIT_RUN(test_checkpoint_parse);
	UNIT_RUN(test_note_two_keys);
	UNIT_RUN(test_refuse_behind_head);
	return UNIT_END();
}
