/* cmd_audit_verify.c — `tellonce audit verify DIR [--key VKEY]...`:
 * verifies an audit log offline (audit_verify_keys) and prints its size
 * and root, with a progress bar on a terminal. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "cmd.h"
#include "encode.h"

static void
cmd_audit_verify_bar(uint64_t done, uint64_t total, void *arg)
{
	int width = 40, fill = total ? (int)(done * (uint64_t)width / total) : width;

	if (total < AUDIT_VERIFY_PROGRESS_STEP)
		return;
	fprintf(stderr, "\r[%.*s%*s] %3d%% %llu/%llu entries",
	    fill, "########################################", width - fill, "",
	    total ? (int)(done * 100 / total) : 100, (unsigned long long)done,
	    (unsigned long long)total);
	if (done == total)
		fputc('\n', stderr);
}

int
cmd_audit_verify(int argc, char **argv)
{
	const char *dir = NULL, *vkeys[AUDIT_VERIFY_KEYS_MAX];
	char err[512], rootb64[ENCODE_BASE64_LEN(MERKLE_HASH_LEN)];
	size_t nvkeys = 0;
	merkle_hash root;
	uint64_t size;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--key") == 0 && i + 1 < argc &&
		    nvkeys < AUDIT_VERIFY_KEYS_MAX)
			vkeys[nvkeys++] = argv[++i];
		else if (argv[i][0] != '-' && dir == NULL)
			dir = argv[i];
		else
			return cmd_usage_error("audit verify",
			    "unexpected argument");
	}
	if (dir == NULL)
		return cmd_usage_error("audit verify", "needs DIR");
	if (audit_verify_keys(dir, vkeys, nvkeys, &size, root,
	    isatty(STDERR_FILENO) ? cmd_audit_verify_bar : NULL, NULL, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "%s: verification failed: %s\n", dir, err);
		return CMD_FAIL;
	}
	if (err[0] != '\0')
		fprintf(stderr, "%s: note: %s\n", dir, err);
	encode_base64(root, MERKLE_HASH_LEN, rootb64);
	printf("%s: ok, %llu entries, root %s%s\n", dir, (unsigned long long)size,
	    rootb64, nvkeys ? "" : " (signature not checked: no --key)");
	return CMD_OK;
}
