/* cmd_check.c — `tellonce check -c FILE [--offline]`: loads the
 * configuration as serve would and reports every error (file:line:col) on
 * stdout. --offline reads no secret, for a CI without them. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "fdlimit.h"

int
cmd_check(int argc, char **argv)
{
	struct config_errors errs = { 0 };
	struct config *cfg;
	const char *path = NULL;
	int offline = 0;
	char err[512];

	for (int i = 0; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 ||
		    strcmp(argv[i], "--config") == 0) && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--offline") == 0)
			offline = 1;
		else
			return cmd_usage_error("check", "unexpected argument");
	}
	if (path == NULL)
		return cmd_usage_error("check", "needs -c FILE");
	cfg = offline ? config_load_offline(path, &errs) :
	    config_load(path, &errs);
	if (cfg == NULL) {
		config_errors_print(&errs, stdout);
		config_errors_free(&errs);
		return CMD_FAIL;
	}
	config_errors_free(&errs);
	/* serve raises its limit to the hard one: judge by that. */
	if (fdlimit_check(cfg, fdlimit_hard(), err, sizeof(err)) != 0) {
		printf("%s: %s\n", path, err);
		config_free(cfg);
		return CMD_FAIL;
	}
	config_free(cfg);
	printf("%s: ok%s\n", path, offline ? " (offline: secrets not read)" : "");
	return CMD_OK;
}
