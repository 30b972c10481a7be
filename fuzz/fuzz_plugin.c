/* fuzz_plugin.c — the checks the plugin loader makes on the ops a plugin
 * returns (plugin_check: ABI version, name, callbacks, key table), on ops
 * built from the input. A mutated shared object mostly fails in the
 * dynamic loader, which is not ours to fuzz; what the gateway itself
 * trusts is this struct.
 *
 * Input: the ABI version (4 bytes, little-endian), a byte of flags (which
 * of ops, name, keys, init, destroy are NULL), settings_size (2 bytes),
 * then up to FUZZ_MAX_KEYS keys of 4 bytes: a name from fuzz_names (the
 * core's own keys among them), a type (any value, as from a newer header)
 * and an offset (2 bytes).
 *
 * Oracle: ops that pass are used as the config loader uses them: every
 * key's value is stored through a pointer of its type at its offset in a
 * settings buffer of exactly settings_size bytes, so a key outside the
 * buffer or misaligned is an ASan or UBSan report; ops that fail say why. */
#include <stdlib.h>
#include <string.h>

#include "connector.h"
#include "fuzz.h"
#include "plugin.h"

#define FUZZ_MAX_KEYS 16

static const char *const fuzz_names[] = {
	"url", "token", "retries", "verbose", "wait", "call", "headers",
	"file", "hosts", "type", "map", "path",
};

static int
fuzz_init(void **instance, const void *settings,
    const struct connector_env *env, char *err, size_t errlen)
{
	return -1;
}

static void
fuzz_destroy(void *instance)
{
}

/* Stores a value of k's type at its offset, as config.c does. */
static void
fuzz_store(void *settings, const struct connector_key *k)
{
	void *p = (char *)settings + k->offset;

	switch (k->type) {
	case CONNECTOR_KEY_STRING:
	case CONNECTOR_KEY_SECRET:
	case CONNECTOR_KEY_CERT:
	case CONNECTOR_KEY_PATH:
		*(char **)p = NULL;
		break;
	case CONNECTOR_KEY_INT:
	case CONNECTOR_KEY_DURATION:
		*(int64_t *)p = 1;
		break;
	case CONNECTOR_KEY_BOOL:
		*(int *)p = 1;
		break;
	case CONNECTOR_KEY_ENDPOINT:
		*(struct connector_endpoint *)p = (struct connector_endpoint){ 0 };
		break;
	case CONNECTOR_KEY_STRMAP:
		*(struct connector_strmap *)p = (struct connector_strmap){ 0 };
		break;
	case CONNECTOR_KEY_LIST:
		*(struct connector_strlist *)p = (struct connector_strlist){ 0 };
		break;
	default:
		abort();        /* a type the core does not know got through */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct connector_key keys[FUZZ_MAX_KEYS + 1];
	struct connector_ops ops = { 0 };
	size_t n = 0;
	char err[256] = "";
	void *settings;
	uint8_t flags;

	if (size < 7)
		return 0;
	memcpy(&ops.abi_version, data, 4);
	flags = data[4];
	ops.settings_size = (size_t)(data[5] | data[6] << 8);
	ops.name = flags & 2 ? NULL : "fuzz";
	ops.keys = flags & 4 ? NULL : keys;
	ops.init = flags & 8 ? NULL : fuzz_init;
	ops.destroy = flags & 16 ? NULL : fuzz_destroy;
	memset(keys, 0, sizeof(keys));
	for (data += 7, size -= 7; size >= 4 && n < FUZZ_MAX_KEYS;
	    data += 4, size -= 4, n++) {
		keys[n].name = fuzz_names[data[0] % (sizeof(fuzz_names) /
		    sizeof(fuzz_names[0]))];
		keys[n].type = (enum connector_key_type)data[1];
		keys[n].offset = (size_t)(data[2] | data[3] << 8);
	}
	if (plugin_check(flags & 1 ? NULL : &ops, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();        /* refused without saying why */
		return 0;
	}
	if ((settings = malloc(ops.settings_size)) == NULL && ops.settings_size)
		abort();
	for (size_t i = 0; i < n; i++)
		fuzz_store(settings, &keys[i]);
	free(settings);
	return 0;
}
