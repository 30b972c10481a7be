/* test_audit_shared.c — the audit log that the nodes on one PostgreSQL
 * database keep together (audit_open_shared): two logs opened on one
 * database, as two nodes, append at once and number their entries as one
 * log; both serve the same checkpoint and proofs; when the signer closes,
 * the other takes over and signs on from its checkpoint; a backlog left
 * by nodes that were all down is integrated whole. A start under an
 * origin that names a node's own log, or on a checkpoint signed by
 * another key, is refused. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "keys.h"
#include "store_suite.h"

#define ORIGIN "shared.test.example/log"
#define PER_NODE 300

/* One node: its three store connections and its log. */
struct node {
	struct store *seq, *lead, *reader;
	struct audit *a;
};

/* A signing key in the scratch directory, as config_audit holds it. */
static void
key_make(const char *name, struct config_audit *cfg)
{
	char path[TMPDIR_PATH_LEN + 32], err[256];
	EVP_PKEY *key;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s.key", suite_dir, name);
	if ((key = keys_generate(path, err, sizeof(err))) == NULL)
		abort();
	EVP_PKEY_free(key);
	if ((f = fopen(path, "rb")) == NULL)
		abort();
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	cfg->signing_key.data = calloc(1, (size_t)n + 1);
	cfg->signing_key.len = fread(cfg->signing_key.data, 1, (size_t)n, f);
	fclose(f);
	cfg->origin = ORIGIN;
	cfg->checkpoint_interval_ms = 50;
}

/* Opens node n on database db; err gets the refusal, "" when it opened. */
static int
node_open(struct node *n, const char *db, const struct config_audit *cfg,
    char *err, size_t errlen)
{
	err[0] = '\0';
	memset(n, 0, sizeof(*n));
	n->seq = suite_open(db);
	n->lead = suite_open(db);
	n->reader = suite_open(db);
	if (n->seq == NULL || n->lead == NULL || n->reader == NULL)
		return -1;
	n->a = audit_open_shared(cfg, n->seq, n->lead, n->reader, err, errlen);
	return n->a != NULL ? 0 : -1;
}

static void
node_close(struct node *n)
{
	audit_close(n->a);
	store_close(n->seq);
	store_close(n->lead);
	store_close(n->reader);
	memset(n, 0, sizeof(*n));
}

struct filler {
	struct audit *a;
	uint64_t index[PER_NODE];
	int failed;
};

static void *
fill(void *arg)
{
	struct filler *f = arg;
	struct audit_entry e = { .type = AUDIT_ADMIN, .consumer = "node",
	    .decision = AUDIT_ALLOW };

	for (int i = 0; i < PER_NODE; i++)
		f->failed |= audit_append(f->a, &e, &f->index[i]) != 0;
	return NULL;
}

/* Waits up to 5 s until the log serves a checkpoint of `size` entries
 * (none is served before the first is stored). */
static int
wait_checkpoint(struct audit *a, uint64_t size)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	uint64_t have = 0;

	for (int i = 0; i < 250; i++) {
		char *note = audit_checkpoint(a, &have);

		free(note);
		if (note != NULL && have == size)
			return 0;
		nanosleep(&pause, NULL);
	}
	fprintf(stderr, "  checkpoint of %llu entries, want %llu\n",
	    (unsigned long long)have, (unsigned long long)size);
	return -1;
}

/* Both nodes' appends, at once, are numbered as one log: every index
 * once. Both serve the same checkpoint and proofs. */
static void
test_two_nodes_one_log(void)
{
	struct config_audit cfg = { 0 };
	struct filler fa = { 0 }, fb = { 0 };
	struct node a, b;
	pthread_t ta, tb;
	unsigned char *seen = calloc(2 * PER_NODE, 1);
	merkle_hash pa[MERKLE_MAX_PROOF], pb[MERKLE_MAX_PROOF], ra, rb, r1;
	char err[512], *na, *nb, *json;
	size_t n1, n2, len;
	merkle_hash leaf;

	key_make("one", &cfg);
	CHECK_INT(node_open(&a, "one_log", &cfg, err, sizeof(err)), 0);
	CHECK_INT(node_open(&b, "one_log", &cfg, err, sizeof(err)), 0);
	if (a.a == NULL || b.a == NULL || seen == NULL)
		goto out;
	fa.a = a.a;
	fb.a = b.a;
	pthread_create(&ta, NULL, fill, &fa);
	pthread_create(&tb, NULL, fill, &fb);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	CHECK(!fa.failed && !fb.failed);
	for (int i = 0; i < PER_NODE; i++) {
		CHECK(fa.index[i] < 2 * PER_NODE && fb.index[i] < 2 * PER_NODE);
		if (fa.index[i] < 2 * PER_NODE)
			seen[fa.index[i]]++;
		if (fb.index[i] < 2 * PER_NODE)
			seen[fb.index[i]]++;
	}
	for (int i = 0; i < 2 * PER_NODE; i++)
		CHECK_INT(seen[i], 1);

	CHECK_INT(wait_checkpoint(a.a, 2 * PER_NODE), 0);
	CHECK_INT(wait_checkpoint(b.a, 2 * PER_NODE), 0);
	na = audit_checkpoint(a.a, NULL);
	nb = audit_checkpoint(b.a, NULL);
	CHECK_STR(na ? na : "", nb ? nb : "-");
	free(na);
	free(nb);
	/* B's entry, read on A, is in the tree that B proves. */
	CHECK_INT(audit_read_entry(a.a, fb.index[7], &json, &len), 0);
	merkle_leaf_hash(json, len, leaf);
	free(json);
	CHECK_INT(audit_inclusion_proof(b.a, fb.index[7], 2 * PER_NODE, pb, &n1,
	    rb), 0);
	CHECK_INT(merkle_verify_inclusion(fb.index[7], 2 * PER_NODE, leaf,
	    (const merkle_hash *)pb, n1, rb), 0);
	CHECK_INT(audit_consistency_proof(a.a, 100, 2 * PER_NODE, pa, &n1, r1,
	    ra), 0);
	CHECK_INT(audit_consistency_proof(b.a, 100, 2 * PER_NODE, pb, &n2, r1,
	    rb), 0);
	CHECK(n1 == n2 && memcmp(pa, pb, n1 * MERKLE_HASH_LEN) == 0);
	CHECK(memcmp(ra, rb, MERKLE_HASH_LEN) == 0);
out:
	node_close(&a);
	node_close(&b);
	free(seen);
	free(cfg.signing_key.data);
}

/* The signer goes (its session with it): the other node takes the role,
 * rebuilds the tree from what is stored and signs on, extending the last
 * checkpoint. */
static void
test_signer_taken_over(void)
{
	struct config_audit cfg = { 0 };
	struct audit_entry e = { .type = AUDIT_ADMIN, .decision = AUDIT_ALLOW };
	merkle_hash proof[MERKLE_MAX_PROOF], r1, r2, before;
	struct audit_head head;
	struct node a, b;
	char err[512];
	size_t n;

	key_make("over", &cfg);
	/* A opens first and signs the empty log: it holds the role. */
	CHECK_INT(node_open(&a, "over", &cfg, err, sizeof(err)), 0);
	CHECK_INT(wait_checkpoint(a.a, 0), 0);
	CHECK_INT(node_open(&b, "over", &cfg, err, sizeof(err)), 0);
	if (a.a == NULL || b.a == NULL)
		goto out;
	for (int i = 0; i < 300; i++)
		CHECK_INT(audit_append(b.a, &e, NULL), 0);
	CHECK_INT(wait_checkpoint(b.a, 300), 0);
	audit_checkpoint_head(b.a, &head);
	memcpy(before, head.root, MERKLE_HASH_LEN);
	node_close(&a);
	for (int i = 0; i < 20; i++)
		CHECK_INT(audit_append(b.a, &e, NULL), 0);
	CHECK_INT(wait_checkpoint(b.a, 320), 0);
	CHECK_INT(audit_consistency_proof(b.a, 300, 320, proof, &n, r1, r2), 0);
	CHECK(memcmp(r1, before, MERKLE_HASH_LEN) == 0);
	audit_checkpoint_head(b.a, &head);
	CHECK_INT(merkle_verify_consistency(300, 320,
	    (const merkle_hash *)proof, n, before, head.root), 0);
out:
	node_close(&a);
	node_close(&b);
	free(cfg.signing_key.data);
}

/* Entries sequenced while no node integrated (all were down, say) are
 * integrated by the next node that takes the role, in one go: its full
 * tiles go to the store ahead of the checkpoint, a few at a time, and
 * the log it publishes proves every entry. */
static void
test_backlog_integrated(void)
{
	enum { BACKLOG = 3000 };
	struct config_audit cfg = { 0 };
	struct audit_entry e = { .type = AUDIT_ADMIN, .decision = AUDIT_ALLOW };
	struct store_audit_entry batch[100];
	merkle_hash proof[MERKLE_MAX_PROOF], root, leaf;
	char *json[100], err[512], *text;
	unsigned char *tile;
	struct store *st = suite_open("backlog");
	uint64_t first;
	struct node a;
	size_t n, len;

	key_make("backlog", &cfg);
	for (int b = 0; st != NULL && b < BACKLOG / 100; b++) {
		for (int i = 0; i < 100; i++) {
			json[i] = audit_entry_json(&e);
			batch[i] = (struct store_audit_entry){ json[i],
			    strlen(json[i]), NULL, NULL, NULL, NULL };
		}
		CHECK_INT(store_audit_append(st, batch, 100, &first), STORE_OK);
		for (int i = 0; i < 100; i++)
			free(json[i]);
	}
	store_close(st);
	CHECK_INT(node_open(&a, "backlog", &cfg, err, sizeof(err)), 0);
	if (a.a == NULL)
		goto out;
	CHECK_INT(wait_checkpoint(a.a, BACKLOG), 0);
	/* The last full bundle and its hash tile, stored ahead of the
	 * checkpoint, and the partial ones of the checkpoint's size. */
	CHECK_INT(audit_read_tile(a.a, MERKLE_TILE_ENTRIES, 10, 0, &tile, &len),
	    0);
	free(tile);
	CHECK_INT(audit_read_tile(a.a, 0, 10, 0, &tile, &len), 0);
	CHECK_INT(len, MERKLE_TILE_BYTES);
	free(tile);
	CHECK_INT(audit_read_tile(a.a, 0, 11, BACKLOG % 256, &tile, &len), 0);
	CHECK_INT(len, (BACKLOG % 256) * MERKLE_HASH_LEN);
	free(tile);
	CHECK_INT(audit_read_entry(a.a, 2999, &text, &len), 0);
	merkle_leaf_hash(text, len, leaf);
	free(text);
	CHECK_INT(audit_inclusion_proof(a.a, 2999, BACKLOG, proof, &n, root), 0);
	CHECK_INT(merkle_verify_inclusion(2999, BACKLOG, leaf,
	    (const merkle_hash *)proof, n, root), 0);
out:
	node_close(&a);
	free(cfg.signing_key.data);
}

/* An origin the store knows as one node's directory log, or a stored
 * checkpoint another key signed, is refused before anything is signed. */
static void
test_refusals(void)
{
	struct config_audit cfg = { 0 }, other = { 0 };
	unsigned char root[STORE_ROOT_LEN] = { 0 };
	struct node a;
	char err[512];

	key_make("mine", &cfg);
	key_make("theirs", &other);
	CHECK_INT(node_open(&a, "refusals", &other, err, sizeof(err)), 0);
	CHECK_INT(wait_checkpoint(a.a, 0), 0);
	node_close(&a);
	CHECK_INT(node_open(&a, "refusals", &cfg, err, sizeof(err)), -1);
	CHECK(strstr(err, "not signed by this log's keys") != NULL);
	node_close(&a);

	cfg.origin = "shared.test.example/node-a";
	CHECK((a.seq = suite_open("refusals")) != NULL);
	if (a.seq != NULL)
		CHECK_INT(store_audit_head_put(a.seq, cfg.origin, 5, root),
		    STORE_OK);
	store_close(a.seq);
	CHECK_INT(node_open(&a, "refusals", &cfg, err, sizeof(err)), -1);
	CHECK(strstr(err, "needs an origin of its own") != NULL);
	node_close(&a);
	free(cfg.signing_key.data);
	free(other.signing_key.data);
}

int
main(int argc, char **argv)
{
	(void)argc;
	suite_start(argv[0]);
	SUITE_RUN_PG(test_two_nodes_one_log);
	SUITE_RUN_PG(test_signer_taken_over);
	SUITE_RUN_PG(test_backlog_integrated);
	SUITE_RUN_PG(test_refusals);
	suite_stop();
	return UNIT_END();
}
