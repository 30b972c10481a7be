/* cmd_keygen.c — `tellonce keygen -o FILE [-c CONFIG | --origin NAME]`:
 * writes a new audit signing key and prints its verifier key, for
 * auditors. The verifier key names the log's origin: -c reads it from the
 * configuration, so the key printed is the one `audit verify` expects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "cmd.h"
#include "keys.h"

/* The origin of the configuration at path, read without its secrets (the
 * key being made is one of them); malloc'd, NULL after printing why. */
static char *
cmd_keygen_origin(const char *path)
{
	struct config_errors errs = { 0 };
	struct config *cfg = config_load_offline(path, &errs);
	char *origin;

	if (cfg == NULL) {
		config_errors_print(&errs, stderr);
		config_errors_free(&errs);
		return NULL;
	}
	config_errors_free(&errs);
	if ((origin = strdup(cfg->gateway.audit.origin)) == NULL)
		fprintf(stderr, "tellonce keygen: out of memory\n");
	config_free(cfg);
	return origin;
}

int
cmd_keygen(int argc, char **argv)
{
	const char *path = NULL, *origin = NULL, *config = NULL;
	char err[512], *vkey, *owned = NULL;
	unsigned char pub[32];
	EVP_PKEY *key;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--origin") == 0 && i + 1 < argc)
			origin = argv[++i];
		else if ((strcmp(argv[i], "-c") == 0 ||
		    strcmp(argv[i], "--config") == 0) && i + 1 < argc)
			config = argv[++i];
		else
			return cmd_usage_error("keygen", "unexpected argument");
	}
	if (path == NULL)
		return cmd_usage_error("keygen", "needs -o FILE");
	if (config != NULL && origin != NULL)
		return cmd_usage_error("keygen", "-c and --origin both name the "
		    "origin: give one");
	if (config != NULL && (origin = owned = cmd_keygen_origin(config)) == NULL)
		return CMD_FAIL;
	if (origin == NULL)
		origin = "tellonce";
	if (!checkpoint_origin_valid(origin)) {
		fprintf(stderr, "tellonce keygen: --origin must be at most %d "
		    "bytes, without spaces, control characters or '+': no "
		    "verifier key could name it\n", CHECKPOINT_ORIGIN_MAX - 1);
		free(owned);
		return CMD_FAIL;
	}
	if ((key = keys_generate(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "tellonce keygen: %s\n", err);
		free(owned);
		return CMD_FAIL;
	}
	vkey = keys_public_raw(key, pub) == 0 ?
	    keys_verifier_string(origin, pub) : NULL;
	EVP_PKEY_free(key);
	free(owned);
	if (vkey == NULL) {
		fprintf(stderr, "tellonce keygen: cannot read the public key\n");
		return CMD_FAIL;
	}
	/* The verifier key is the command's output, for auditors. */
	printf("%s\n", vkey);
	free(vkey);
	return CMD_OK;
}
