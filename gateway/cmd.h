/* cmd.h — the commands of the `tellonce` program, one cmd_*.c file each,
 * their table (cmd.c) and the few helpers they share. main.c only hands
 * argv to cmd_dispatch. Each command gets the arguments after its name and
 * returns the process exit code: CMD_OK, CMD_FAIL (invalid input or a
 * failed check) or CMD_USAGE. */
#ifndef TELLONCE_CMD_H
#define TELLONCE_CMD_H

#include <stdint.h>
#include <stdio.h>

#include "config_load.h"

#define CMD_OK 0
#define CMD_FAIL 1
#define CMD_USAGE 2

/* One command: the words that select it ("audit verify"), what follows
 * them, a line saying what it does, the explanation of its arguments that
 * `tellonce NAME --help` prints, and the function that runs it on the
 * arguments after its words. */
struct cmd {
	const char *name;
	const char *synopsis;
	const char *summary;
	int (*run)(int argc, char **argv);
	const char *help;
};

#define CMD_MAX 16       /* entries of cmd_table, at most */
#define CMD_WORD_MAX 32  /* longest word of a command's name */

/* Every command, in the order the usage lists them; a NULL name ends it. */
extern const struct cmd cmd_table[];

/* `tellonce serve -c FILE` (cmd_serve.c). */
int cmd_serve(int argc, char **argv);
/* `tellonce check -c FILE [--offline]` (cmd_check.c). */
int cmd_check(int argc, char **argv);
/* `tellonce register -c FILE [--format md|json|csv]` (cmd_register.c). */
int cmd_register(int argc, char **argv);
/* `tellonce keygen -o FILE [-c CONFIG | --origin NAME]` (cmd_keygen.c):
 * prints the verifier key for the log's origin. */
int cmd_keygen(int argc, char **argv);
/* `tellonce audit verify DIR [--key VKEY]...` (cmd_audit_verify.c). */
int cmd_audit_verify(int argc, char **argv);
/* `tellonce backup -c FILE DIR` (cmd_backup.c): a copy of the store and
 * the audit log taken while the gateway serves. */
int cmd_backup(int argc, char **argv);
/* `tellonce audit export -c FILE DIR` (cmd_audit_export.c): the audit
 * log as a tlog-tiles directory, from its directory or its store. */
int cmd_audit_export(int argc, char **argv);
/* Copies the audit directory of cfg to the new directory `to` as of a
 * signed checkpoint that covers every entry durable when called, while
 * the gateway appends, then verifies the copy (cmd_backup.c). 0, or -1
 * with the reason on stderr after "tellonce WHO: ". */
int cmd_audit_copy(const char *who, const struct config *cfg, const char *to);
/* Verifies the copy in dir holds `size` entries, printing its size and
 * root. 0, or -1 with the reason on stderr after "tellonce WHO: ". */
int cmd_audit_verified(const char *who, const char *dir, uint64_t size);
/* `tellonce audit verify-subject FILE --key VKEY`
 * (cmd_audit_verify_subject.c): checks an access-log answer offline. */
int cmd_audit_verify_subject(int argc, char **argv);
/* `tellonce connector test -c FILE SERVICE [--subject ID]`
 * (cmd_connector_test.c). */
int cmd_connector_test(int argc, char **argv);

/* Runs the command argv names (argv[0] is its first word): its help on
 * stdout when --help or -h is among its arguments, a usage error for an
 * unknown command. Returns the exit code. */
int cmd_dispatch(int argc, char **argv);
/* The command argv starts with, and how many words of argv name it. */
const struct cmd *cmd_find(int argc, char **argv, int *words);
/* Whether --help or -h is among argv. */
int cmd_help_asked(int argc, char **argv);
/* The program's usage text, to out. */
void cmd_usage(FILE *out);
/* One command's usage and help, to out. */
void cmd_help(const struct cmd *c, FILE *out);
/* Prints msg and the usage of the command called name (every command's
 * when name is NULL) to stderr; returns CMD_USAGE. */
int cmd_usage_error(const char *name, const char *msg);
/* The FILE of "-c FILE" (or --config FILE) in argv; NULL if absent. */
const char *cmd_config_arg(int argc, char **argv);
/* Loads the configuration at path, printing its errors to stderr; NULL
 * then. */
struct config *cmd_load_config(const char *path);
/* The same without reading any secret (config_load_offline), for the
 * commands that need none. */
struct config *cmd_load_config_offline(const char *path);

#endif
