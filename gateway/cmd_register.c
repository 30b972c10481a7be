/* cmd_register.c — `tellonce register -c FILE [--format md|json|csv]`:
 * prints the record of processing activities (register.h) of a
 * configuration that `tellonce check --offline` accepts; otherwise its
 * errors (file:line:col), on stderr since stdout is the register. No
 * secret is read: the register comes from the configuration alone, and
 * whoever keeps it (a DPO) need not hold the gateway's keys. */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "register.h"

int
cmd_register(int argc, char **argv)
{
	enum register_format format = REGISTER_MD;
	const char *path = cmd_config_arg(argc, argv);
	struct config *cfg;
	char *text;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)
			i++;
		else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc &&
		    register_format_parse(argv[i + 1], &format) == 0)
			i++;
		else
			return cmd_usage_error("register", "takes -c FILE and "
			    "--format md, json or csv");
	}
	if (path == NULL)
		return cmd_usage_error("register", "needs -c FILE");
	if ((cfg = cmd_load_config_offline(path)) == NULL)
		return CMD_FAIL;
	text = register_render(cfg, format);
	config_free(cfg);
	if (text == NULL) {
		fprintf(stderr, "register: out of memory\n");
		return CMD_FAIL;
	}
	fputs(text, stdout);
	if (format == REGISTER_JSON)
		fputc('\n', stdout);
	free(text);
	return CMD_OK;
}
