/* main.c — the tellonce command line: picks the command (cmd.h) and runs
 * it. Exit codes: 0 ok, 1 invalid input or failed check, 2 usage error. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

int
main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2)
		return cmd_usage_error(NULL);
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "help") == 0) {
		cmd_usage(stdout);
		return CMD_OK;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		printf("tellonce %s\n", TELLONCE_VERSION);
		return CMD_OK;
	}
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(argc - 2, argv + 2);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(argc - 2, argv + 2);
	if (strcmp(cmd, "keygen") == 0)
		return cmd_keygen(argc - 2, argv + 2);
	if (strcmp(cmd, "audit") == 0 && argc >= 3 && strcmp(argv[2], "verify") == 0)
		return cmd_audit_verify(argc - 3, argv + 3);
	if (strcmp(cmd, "audit") == 0 && argc >= 3 &&
	    strcmp(argv[2], "verify-subject") == 0)
		return cmd_audit_verify_subject(argc - 3, argv + 3);
	if (strcmp(cmd, "connector") == 0)
		return cmd_connector_test(argc - 2, argv + 2);
	return cmd_usage_error("unknown command");
}
