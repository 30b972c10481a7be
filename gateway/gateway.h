/* gateway.h — the process-wide state every part of a running gateway
 * borrows: the audit log, the signing key and the HTTP server. Created by
 * `tellonce serve` (cmd_serve.c); lives as long as the process. Kept apart
 * from server.h so that reaching the audit log needs no HTTP header. */
#ifndef TELLONCE_GATEWAY_H
#define TELLONCE_GATEWAY_H

#include <openssl/evp.h>

struct audit;
struct server;

struct gateway {
	const char *config_path;
	struct audit *audit;
	EVP_PKEY *signer;            /* Ed25519: checkpoints and consent receipts */
	unsigned char signer_pub[32];  /* its public key, raw */
	char signer_kid[16];         /* hex key id, the JWS "kid" */
	/* The log's note verifier keys, one a line, the signer's first
	 * (audit_verifier_keys); owned. */
	char *verifier_keys;
	struct server *server;
};

#endif
