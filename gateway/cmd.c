/* cmd.c — what the commands share: the usage text and reading -c FILE. */
#include "cmd.h"

#include <string.h>

static const char cmd_usage_text[] =
    "usage: tellonce <command> [options]\n"
    "\n"
    "  serve -c FILE                      run the gateway in the foreground\n"
    "  check -c FILE                      validate a configuration\n"
    "  keygen -o FILE                     write a new Ed25519 audit signing key\n"
    "  audit verify DIR [--key VKEY]      verify an audit log offline\n"
    "  audit verify-subject FILE --key VKEY\n"
    "                                     check an access-log answer offline\n"
    "  connector test -c FILE SERVICE [--subject ID]\n"
    "                                     call one service's connector once\n"
    "  --help, --version\n"
    "\n"
    "Signals to serve: SIGHUP reloads the configuration (a bad one is refused\n"
    "and the old one keeps serving); SIGTERM or SIGINT drains and stops.\n"
    "Documentation: docs/ and README.md.\n";

void
cmd_usage(FILE *out)
{
	fputs(cmd_usage_text, out);
}

int
cmd_usage_error(const char *msg)
{
	if (msg != NULL)
		fprintf(stderr, "tellonce: %s\n", msg);
	cmd_usage(stderr);
	return CMD_USAGE;
}

const char *
cmd_config_arg(int argc, char **argv)
{
	for (int i = 0; i + 1 < argc; i++)
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)
			return argv[i + 1];
	return NULL;
}

struct config *
cmd_load_config(const char *path)
{
	struct config_errors errs = { 0 };
	struct config *cfg = config_load(path, &errs);

	if (cfg == NULL)
		config_errors_print(&errs, stderr);
	config_errors_free(&errs);
	return cfg;
}
