/* fuzz.h — what the libFuzzer harnesses share. Each fuzz/fuzz_*.c defines
 * LLVMFuzzerTestOneInput; it is linked either with libFuzzer (make fuzz,
 * clang) or with replay.c, which feeds it the saved corpus and regressions
 * under `make test` (any compiler). */
#ifndef TELLONCE_FUZZ_H
#define TELLONCE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config_load.h"
#include "connector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A private directory for this process (on tmpfs when there is one),
 * removed at exit. */
const char *fuzz_tmpdir(void);
/* Writes data to dir/name (mode 0600); aborts on failure. */
void fuzz_write(const char *name, const void *data, size_t len);
/* fuzz_tmpdir()/name; static buffer. */
const char *fuzz_path(const char *name);
/* Loads a config from YAML text; aborts with the errors if it is invalid
 * (the harness itself is wrong). Each %s in yaml (three) is the tmpdir,
 * which holds an Ed25519 key in audit.key. */
struct config *fuzz_config(const char *yaml);
/* Aborts if msg holds a control character. Only input values can hold
 * one (names and paths of the configuration cannot), so an error message
 * with one quotes a value, which may be personal data. */
void fuzz_check_message(const char *msg);
/* What a connector call answered, kept past its done callback. */
struct fuzz_answer {
	enum connector_status status;
	json_t *body;                   /* the body parsed, or NULL; owned */
	char cursor[256];               /* next_cursor, or "" */
	char detail[256];               /* detail, or "" */
};
/* A connector_done_fn filling the struct fuzz_answer at arg. */
void fuzz_answer_done(const struct connector_result *res, void *arg);
/* The environment of a connector instance in a harness; it logs nothing. */
extern const struct connector_env fuzz_env;
/* The fixed test config used by the mapping and API harnesses. */
extern const char fuzz_base_config[];

#endif
