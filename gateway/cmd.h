/* cmd.h — the commands of the `tellonce` program, one cmd_*.c file each,
 * and the few helpers they share. main.c only picks one. Each command gets
 * the arguments after its name and returns the process exit code:
 * CMD_OK, CMD_FAIL (invalid input or a failed check) or CMD_USAGE. */
#ifndef TELLONCE_CMD_H
#define TELLONCE_CMD_H

#include <stdio.h>

#include "config_load.h"

#define CMD_OK 0
#define CMD_FAIL 1
#define CMD_USAGE 2

/* `tellonce serve -c FILE` (cmd_serve.c). */
int cmd_serve(int argc, char **argv);
/* `tellonce check -c FILE` (cmd_check.c). */
int cmd_check(int argc, char **argv);
/* `tellonce keygen -o FILE [--origin NAME]` (cmd_keygen.c): prints the
 * verifier key for NAME, which must be the log's origin. */
int cmd_keygen(int argc, char **argv);
/* `tellonce audit verify DIR [--key VKEY]` (cmd_audit_verify.c): argv
 * holds the arguments after "verify". */
int cmd_audit_verify(int argc, char **argv);
/* `tellonce audit verify-subject FILE --key VKEY`
 * (cmd_audit_verify_subject.c): checks an access-log answer offline. */
int cmd_audit_verify_subject(int argc, char **argv);
/* `tellonce connector test -c FILE SERVICE [--subject ID]`
 * (cmd_connector_test.c): argv starts at "test". */
int cmd_connector_test(int argc, char **argv);

/* The program's usage text, to out. */
void cmd_usage(FILE *out);
/* Prints msg (when not NULL) and the usage to stderr; returns CMD_USAGE. */
int cmd_usage_error(const char *msg);
/* The FILE of "-c FILE" (or --config FILE) in argv; NULL if absent. */
const char *cmd_config_arg(int argc, char **argv);
/* Loads the configuration at path, printing its errors to stderr; NULL
 * then. */
struct config *cmd_load_config(const char *path);

#endif
