/* fuzz.h — what the libFuzzer harnesses share. Each fuzz/fuzz_*.c defines
 * LLVMFuzzerTestOneInput; it is linked either with libFuzzer (make fuzz,
 * clang) or with replay.c, which feeds it the saved corpus and regressions
 * under `make test` (any compiler). */
#ifndef TELLONCE_FUZZ_H
#define TELLONCE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

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
/* The fixed test config used by the mapping and API harnesses. */
extern const char fuzz_base_config[];

#endif
