/* main.c — the tellonce command line: the program's own options, then
 * the command (cmd.h) that argv names. Exit codes: 0 ok, 1 invalid input or
 * failed check, 2 usage error. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

int
main(int argc, char **argv)
{
	const char *first;

	if (argc < 2)
		return cmd_usage_error(NULL, NULL);
	first = argv[1];
	if (strcmp(first, "--help") == 0 || strcmp(first, "-h") == 0 ||
	    strcmp(first, "help") == 0) {
		cmd_usage(stdout);
		return CMD_OK;
	}
	if (strcmp(first, "--version") == 0 || strcmp(first, "version") == 0) {
		printf("tellonce %s\n", TELLONCE_VERSION);
		return CMD_OK;
	}
	return cmd_dispatch(argc - 1, argv + 1);
}
