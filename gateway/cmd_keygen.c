/* cmd_keygen.c — `tellonce keygen -o FILE [--origin NAME]`: writes a new
 * audit signing key and prints its verifier key, for auditors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "keys.h"

int
cmd_keygen(int argc, char **argv)
{
	const char *path = NULL, *origin = "tellonce";
	unsigned char pub[32];
	char err[512], *vkey;
	EVP_PKEY *key;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--origin") == 0 && i + 1 < argc)
			origin = argv[++i];
		else
			return cmd_usage_error("keygen", "unexpected argument");
	}
	if (path == NULL)
		return cmd_usage_error("keygen", "needs -o FILE");
	key = keys_generate(path, err, sizeof(err));
	if (key == NULL) {
		fprintf(stderr, "tellonce keygen: %s\n", err);
		return CMD_FAIL;
	}
	if (keys_public_raw(key, pub) != 0 ||
	    (vkey = keys_verifier_string(origin, pub)) == NULL) {
		EVP_PKEY_free(key);
		fprintf(stderr, "tellonce keygen: cannot read the public key\n");
		return CMD_FAIL;
	}
	/* The verifier key is the command's output, for auditors. */
	printf("%s\n", vkey);
	free(vkey);
	EVP_PKEY_free(key);
	return CMD_OK;
}
