/* fuzz_config.c — the YAML configuration loader on arbitrary files: every
 * input must either load or be refused with messages, never crash or
 * leak. */
#include <stdlib.h>

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors errs = { 0 };
	struct config *cfg;

	fuzz_write("in.yaml", data, size);
	cfg = config_load(fuzz_path("in.yaml"), &errs);
	if (cfg == NULL && errs.n == 0)
		abort();        /* refused without saying why */
	config_free(cfg);
	config_errors_free(&errs);
	return 0;
}
