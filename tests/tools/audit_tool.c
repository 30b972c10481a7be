/* audit_tool.c — drives the audit log from tests, without the gateway:
 *
 *   audit_tool keygen -o FILE [--origin NAME]
 *   audit_tool verify DIR [--key VKEY]
 *   audit_tool append DIR KEYFILE ORIGIN COUNT THREADS [INTERVAL_MS]
 *       appends COUNT entries from THREADS threads at full speed, printing
 *       each entry's index on stdout only once its append has returned
 *   audit_tool proof DIR KEYFILE ORIGIN INDEX SIZE
 *       prints {"hashes":[...],"root":...} (base64) for an inclusion proof
 */
#include <event2/thread.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "cmd.h"
#include "encode.h"
#include "keys.h"

struct appender {
	struct audit *audit;
	atomic_long next;
	long count;
	atomic_int failed;
};

static int
read_key(const char *path, struct secret *s)
{
	FILE *f = fopen(path, "r");
	size_t cap = 4096;

	if (f == NULL)
		return -1;
	s->data = malloc(cap);
	s->len = fread(s->data, 1, cap - 1, f);
	s->data[s->len] = '\0';
	fclose(f);
	return 0;
}

static struct audit *
open_log(const char *dir, const char *keyfile, const char *origin,
    int64_t interval_ms)
{
	struct config_audit cfg = {
		.dir = (char *)dir,
		.origin = (char *)origin,
		.checkpoint_interval_ms = interval_ms,
	};
	struct audit *a;
	char err[512];

	if (read_key(keyfile, &cfg.signing_key) != 0) {
		perror(keyfile);
		return NULL;
	}
	a = audit_open(&cfg, err, sizeof(err));
	free(cfg.signing_key.data);
	if (a == NULL)
		fprintf(stderr, "audit_open: %s\n", err);
	return a;
}

static void *
append_loop(void *arg)
{
	struct appender *ap = arg;
	static const char *attrs[] = { "street", "postal_code", "city" };
	static const unsigned char view_key[COMMITMENT_KEY_LEN] = { 7 };
	char subject[65], reqid[32], line[32];
	long n;

	while ((n = atomic_fetch_add(&ap->next, 1)) < ap->count) {
		struct audit_entry e = {
			.type = AUDIT_FETCH, .consumer = "caf", .provider = "mairie",
			.dataset = "address", .attributes = attrs, .nattributes = 3,
			.purpose = "benefit-eligibility", .basis = "consent",
			.policy = "caf-address", .subject = subject,
			.view_key = view_key,
			.decision = AUDIT_ALLOW, .request_id = reqid,
		};
		uint64_t index;
		int len;

		snprintf(subject, sizeof(subject), "%064lx", n % 97);
		snprintf(reqid, sizeof(reqid), "req-%ld", n);
		if (audit_append(ap->audit, &e, &index) != 0) {
			atomic_store(&ap->failed, 1);
			return NULL;
		}
		/* One write per line: lines from threads never interleave. */
		len = snprintf(line, sizeof(line), "%llu\n", (unsigned long long)index);
		if (write(STDOUT_FILENO, line, (size_t)len) != len)
			return NULL;
	}
	return NULL;
}

static int
cmd_append(int argc, char **argv)
{
	struct appender ap = { .count = atol(argv[3]) };
	int threads = atoi(argv[4]);
	pthread_t *t;

	if (threads < 1)
		return 2;
	ap.audit = open_log(argv[0], argv[1], argv[2],
	    argc > 5 ? atol(argv[5]) : 1000);
	if (ap.audit == NULL)
		return 1;
	t = calloc((size_t)threads, sizeof(*t));
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, append_loop, &ap);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	free(t);
	audit_close(ap.audit);
	return atomic_load(&ap.failed) ? 1 : 0;
}

static int
cmd_proof(char **argv)
{
	merkle_hash proof[MERKLE_MAX_PROOF], root;
	char b64[ENCODE_BASE64_LEN(MERKLE_HASH_LEN)];
	struct audit *a = open_log(argv[0], argv[1], argv[2], 1000);
	size_t n;
	int rc;

	if (a == NULL)
		return 1;
	rc = audit_inclusion_proof(a, strtoull(argv[3], NULL, 10),
	    strtoull(argv[4], NULL, 10), proof, &n, root);
	if (rc == 0) {
		printf("{\"hashes\":[");
		for (size_t i = 0; i < n; i++) {
			encode_base64(proof[i], MERKLE_HASH_LEN, b64);
			printf("%s\"%s\"", i ? "," : "", b64);
		}
		encode_base64(root, MERKLE_HASH_LEN, b64);
		printf("],\"root\":\"%s\"}\n", b64);
	}
	audit_close(a);
	return rc == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	evthread_use_pthreads();
	if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return cmd_audit_verify(argc - 2, argv + 2);
	if (argc >= 7 && strcmp(argv[1], "append") == 0)
		return cmd_append(argc - 2, argv + 2);
	if (argc == 7 && strcmp(argv[1], "proof") == 0)
		return cmd_proof(argv + 2);
	fprintf(stderr, "usage: audit_tool keygen|verify|append|proof ...\n");
	return 2;
}
