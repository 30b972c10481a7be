/* cmd.c — the table of commands main.c dispatches on, their usage and help
 * texts, and what the commands share: reading -c FILE, usage errors. */
#include "cmd.h"

#include <string.h>

#include "suggest.h"

const struct cmd cmd_table[] = {
	{ "serve", "-c FILE", "run the gateway in the foreground", cmd_serve,
	  "  -c, --config FILE  the configuration (docs/configuration.md)\n"
	  "\n"
	  "Logs go to stderr as gateway.log says (text or JSON lines, a level).\n"
	  "Signals: SIGHUP reloads the configuration (a bad one is refused and\n"
	  "the old one keeps serving; a new log format and level apply at once);\n"
	  "SIGTERM or SIGINT drains and stops.\n" },
	{ "check", "-c FILE [--offline]", "validate a configuration", cmd_check,
	  "  -c, --config FILE  the configuration to check\n"
	  "  --offline          read no secret: every env:NAME and file:PATH\n"
	  "                     reference is checked for its shape only, so a\n"
	  "                     configuration can be checked where its secrets\n"
	  "                     are not (CI)\n"
	  "\n"
	  "Prints \"FILE: ok\", or one \"FILE:LINE:COL: message\" per problem.\n"
	  "Exit 0 ok, 1 problems found, 2 usage error.\n" },
	{ "register", "-c FILE [--format md|json|csv]",
	  "print the record of processing activities", cmd_register,
	  "  -c, --config FILE    the configuration\n"
	  "  --format md|json|csv the output format; default md\n"
	  "\n"
	  "The GDPR art. 30 register generated from the configuration alone: one\n"
	  "row per policy and one per subscription (docs/configuration.md).\n"
	  "No secret is read (as check --offline): the keys need not be here.\n"
	  "Exit 0, or 1 when the configuration is invalid.\n" },
	{ "keygen", "-o FILE [-c CONFIG | --origin NAME]",
	  "write a new Ed25519 audit signing key", cmd_keygen,
	  "  -o FILE        the new key (PEM, mode 0600; an existing file is kept)\n"
	  "  -c, --config CONFIG\n"
	  "                 take the origin from this configuration\n"
	  "                 (gateway.audit.origin; its secrets are not read)\n"
	  "  --origin NAME  the audit log's origin, given directly\n"
	  "\n"
	  "Prints the verifier key on stdout: ORIGIN+KEYID+KEY, which names the\n"
	  "origin (\"tellonce\" when neither -c nor --origin is given), as Go's\n"
	  "note package and other verifiers of the log's checkpoints need it.\n" },
	{ "audit verify", "DIR [--key VKEY]...", "verify an audit log offline",
	  cmd_audit_verify,
	  "  DIR         the audit log's directory (gateway.audit.dir)\n"
	  "  --key VKEY  a verifier key (as keygen printed it): the checkpoint\n"
	  "              must be signed by it. Repeat it for the keys of a\n"
	  "              rotation: a checkpoint signed by any of them passes.\n"
	  "              A key named otherwise than the log's origin (keygen\n"
	  "              without -c) is checked under the origin, with a note\n"
	  "              on stderr.\n"
	  "\n"
	  "Prints \"DIR: ok, N entries, root R\", or names the first bad entry\n"
	  "and exits 1.\n" },
	{ "backup", "-c FILE DIR", "copy the store and the audit log, live",
	  cmd_backup,
	  "  -c, --config FILE  the configuration of the gateway to back up\n"
	  "  DIR                a new directory for the copy\n"
	  "\n"
	  "Copies the SQLite store (one consistent snapshot, SQLite's online\n"
	  "backup) and then the audit log up to a signed checkpoint that covers\n"
	  "every entry the store copy can name, while the gateway serves; then\n"
	  "verifies the copied log. DIR gets the store file and audit/.\n"
	  "Restore by pointing gateway.store and gateway.audit.dir at them\n"
	  "(docs/operations.md). Exit 0, or 1 with nothing usable in DIR.\n" },
	{ "audit export", "-c FILE DIR", "write the audit log out as a "
	  "tlog-tiles directory", cmd_audit_export,
	  "  -c, --config FILE  the configuration of the gateway (or of any\n"
	  "                     node of a deployment on PostgreSQL)\n"
	  "  DIR                a new directory for the log\n"
	  "\n"
	  "Writes the log as of its last signed checkpoint: the checkpoint,\n"
	  "the hash tiles and the entry bundles (C2SP tlog-tiles), read from\n"
	  "the PostgreSQL store that the nodes share (the configuration's\n"
	  "secrets are read, as the gateway reads them) or copied from the\n"
	  "audit directory of an SQLite gateway (no secret read), while the\n"
	  "gateways serve; then verifies it. `tellonce audit verify DIR\n"
	  "--key VKEY` and any tlog-tiles client read DIR.\n"
	  "Exit 0, or 1 with nothing usable in DIR.\n" },
	{ "audit verify-subject", "FILE --key VKEY",
	  "check an access-log answer offline", cmd_audit_verify_subject,
	  "  FILE        an access-log answer (GET /v1/access-log), as JSON\n"
	  "  --key VKEY  the verifier key of the log's checkpoints\n"
	  "\n"
	  "Checks the checkpoint's signature, each entry's subject commitment\n"
	  "under the answer's view_key and its inclusion proof (docs/audit.md).\n"
	  "Exit 0 when every entry checks, 1 otherwise.\n" },
	{ "connector test", "-c FILE SERVICE [--subject ID]",
	  "call one service's connector once", cmd_connector_test,
	  "  -c FILE       the configuration\n"
	  "  SERVICE       the service whose connector is called\n"
	  "  --subject ID  fetch this local id (without it: a health check)\n"
	  "\n"
	  "Prints the status, the raw answer and the answer mapped to each\n"
	  "dataset. Exit 0 when the connector answered ok.\n" },
	{ NULL, NULL, NULL, NULL, NULL },
};

void
cmd_usage(FILE *out)
{
	fputs("usage: tellonce <command> [options]\n\n", out);
	for (const struct cmd *c = cmd_table; c->name != NULL; c++)
		fprintf(out, "  %s %s\n      %s\n", c->name, c->synopsis, c->summary);
	fputs("  --help, --version\n"
	    "\n"
	    "`tellonce COMMAND --help` explains a command. Exit codes: 0 ok,\n"
	    "1 invalid input or failed check, 2 usage error.\n"
	    "Documentation: docs/ and README.md.\n", out);
}

void
cmd_help(const struct cmd *c, FILE *out)
{
	fprintf(out, "usage: tellonce %s %s\n%s.\n\n%s", c->name, c->synopsis,
	    c->summary, c->help);
}

int
cmd_help_asked(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

/* Whether argv starts with the words of name; their count in *words. */
static int
cmd_matches(const char *name, int argc, char **argv, int *words)
{
	const char *space = strchr(name, ' ');
	size_t first = space ? (size_t)(space - name) : strlen(name);

	if (argc < 1 || strlen(argv[0]) != first ||
	    strncmp(argv[0], name, first) != 0)
		return 0;
	if (space == NULL) {
		*words = 1;
		return 1;
	}
	*words = 2;
	return argc >= 2 && strcmp(argv[1], space + 1) == 0;
}

const struct cmd *
cmd_find(int argc, char **argv, int *words)
{
	for (const struct cmd *c = cmd_table; c->name != NULL; c++)
		if (cmd_matches(c->name, argc, argv, words))
			return c;
	return NULL;
}

/* `tellonce audit`, `tellonce audit --help`: the commands of that group,
 * asked for (stdout, CMD_OK) or not (stderr, CMD_USAGE); -1 if word names
 * no group. */
static int
cmd_group(const char *word, int help)
{
	size_t len = strlen(word);
	FILE *out = help ? stdout : stderr;
	int found = 0;

	for (const struct cmd *c = cmd_table; c->name != NULL; c++) {
		if (strncmp(c->name, word, len) != 0 || c->name[len] != ' ')
			continue;
		if (found++ > 0)
			fputc('\n', out);
		cmd_help(c, out);
	}
	if (found == 0)
		return -1;
	return help ? CMD_OK : CMD_USAGE;
}

/* Says word is no command, naming the nearest command word if one is
 * near; returns CMD_USAGE. */
static int
cmd_unknown(const char *word)
{
	char first[CMD_MAX][CMD_WORD_MAX];
	const char *names[CMD_MAX], *near;
	size_t n = 0;

	for (const struct cmd *c = cmd_table; c->name != NULL && n < CMD_MAX;
	    c++, n++) {
		snprintf(first[n], sizeof(first[n]), "%.*s",
		    (int)strcspn(c->name, " "), c->name);
		names[n] = first[n];
	}
	if ((near = suggest_nearest(word, names, n)) != NULL)
		fprintf(stderr, "tellonce: unknown command '%s' (did you mean "
		    "'%s'?)\n", word, near);
	else
		fprintf(stderr, "tellonce: unknown command '%s'\n", word);
	cmd_usage(stderr);
	return CMD_USAGE;
}

int
cmd_dispatch(int argc, char **argv)
{
	const struct cmd *c;
	int words, rc;

	if ((c = cmd_find(argc, argv, &words)) != NULL) {
		if (cmd_help_asked(argc - words, argv + words)) {
			cmd_help(c, stdout);
			return CMD_OK;
		}
		return c->run(argc - words, argv + words);
	}
	if ((rc = cmd_group(argv[0], argc >= 2 && cmd_help_asked(1, argv + 1)))
	    >= 0)
		return rc;
	return cmd_unknown(argv[0]);
}

int
cmd_usage_error(const char *name, const char *msg)
{
	for (const struct cmd *c = cmd_table; name != NULL && c->name != NULL;
	    c++) {
		if (strcmp(c->name, name) != 0)
			continue;
		fprintf(stderr, "tellonce %s: %s\nusage: tellonce %s %s\n"
		    "(tellonce %s --help explains it)\n", name, msg, name,
		    c->synopsis, name);
		return CMD_USAGE;
	}
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

/* The configuration at path loaded by `load`, its errors printed. */
static struct config *
cmd_load_with(const char *path,
    struct config *(*load)(const char *, struct config_errors *))
{
	struct config_errors errs = { 0 };
	struct config *cfg = load(path, &errs);

	if (cfg == NULL)
		config_errors_print(&errs, stderr);
	config_errors_free(&errs);
	return cfg;
}

struct config *
cmd_load_config(const char *path)
{
	return cmd_load_with(path, config_load);
}

struct config *
cmd_load_config_offline(const char *path)
{
	return cmd_load_with(path, config_load_offline);
}
