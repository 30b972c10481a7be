/* cmd_check.c — `tellonce check -c FILE`: loads the configuration as serve
 * would and reports every error (file:line:col) on stdout. */
#include <stdio.h>

#include "cmd.h"
#include "fdlimit.h"

int
cmd_check(int argc, char **argv)
{
	struct config_errors errs = { 0 };
	struct config *cfg;
	const char *path;
	char err[512];

	if ((path = cmd_config_arg(argc, argv)) == NULL || argc != 2)
		return cmd_usage_error("check needs -c FILE");
	cfg = config_load(path, &errs);
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
	printf("%s: ok\n", path);
	return CMD_OK;
}
