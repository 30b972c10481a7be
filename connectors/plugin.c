/* plugin.c — dlopen a connector and check it before the core trusts it.
 *
 * Everything a plugin returns is checked here, once, at config load: a
 * plugin built for another ABI, or with a key table that would make the
 * config loader write past its settings, is a config error and never a
 * crash later on a worker thread. */
#include "plugin.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef const struct connector_ops *plugin_entry_fn(void);

/* Keys the core parses itself in every plugin's connector block. */
static const char *const plugin_reserved_keys[] = { "type", "map", "path" };

/* Bytes a setting of that type takes, or 0 for a type this core does not
 * know (a plugin built against a newer header); *align is its alignment. */
static size_t
plugin_key_size(enum connector_key_type type, size_t *align)
{
	switch (type) {
	case CONNECTOR_KEY_STRING:
	case CONNECTOR_KEY_SECRET:
	case CONNECTOR_KEY_CERT:
	case CONNECTOR_KEY_PATH:
		*align = _Alignof(char *);
		return sizeof(char *);
	case CONNECTOR_KEY_INT:
	case CONNECTOR_KEY_DURATION:
		*align = _Alignof(int64_t);
		return sizeof(int64_t);
	case CONNECTOR_KEY_BOOL:
		*align = _Alignof(int);
		return sizeof(int);
	case CONNECTOR_KEY_ENDPOINT:
		*align = _Alignof(struct connector_endpoint);
		return sizeof(struct connector_endpoint);
	case CONNECTOR_KEY_STRMAP:
		*align = _Alignof(struct connector_strmap);
		return sizeof(struct connector_strmap);
	case CONNECTOR_KEY_LIST:
		*align = _Alignof(struct connector_strlist);
		return sizeof(struct connector_strlist);
	}
	*align = 1;
	return 0;
}

static int
plugin_check_key(const struct connector_ops *ops, const struct connector_key *k,
    char *err, size_t errlen)
{
	size_t align, size = plugin_key_size(k->type, &align);

	for (size_t i = 0; i < sizeof(plugin_reserved_keys) /
	    sizeof(plugin_reserved_keys[0]); i++) {
		if (strcmp(k->name, plugin_reserved_keys[i]) == 0) {
			snprintf(err, errlen, "its key '%s' is reserved by the "
			    "gateway", k->name);
			return -1;
		}
	}
	if (size == 0) {
		snprintf(err, errlen, "its key '%s' has a type this gateway "
		    "does not know (%d)", k->name, (int)k->type);
		return -1;
	}
	if (k->offset > ops->settings_size ||
	    ops->settings_size - k->offset < size) {
		snprintf(err, errlen, "its key '%s' lies outside its %zu-byte "
		    "settings", k->name, ops->settings_size);
		return -1;
	}
	/* The config loader stores the value through a typed pointer. */
	if (k->offset % align != 0) {
		snprintf(err, errlen, "its key '%s' is at offset %zu, not "
		    "aligned for its type", k->name, k->offset);
		return -1;
	}
	return 0;
}

int
plugin_check(const struct connector_ops *ops, char *err, size_t errlen)
{
	if (ops == NULL) {
		snprintf(err, errlen, "%s() returned NULL", CONNECTOR_ENTRY_SYMBOL);
		return -1;
	}
	if (ops->abi_version < CONNECTOR_ABI_MIN_VERSION ||
	    ops->abi_version > CONNECTOR_ABI_VERSION) {
		snprintf(err, errlen, "it was built for connector ABI version %u; "
		    "this gateway speaks versions %d to %d",
		    (unsigned)ops->abi_version, CONNECTOR_ABI_MIN_VERSION,
		    CONNECTOR_ABI_VERSION);
		return -1;
	}
	if (ops->name == NULL || ops->keys == NULL || ops->init == NULL ||
	    ops->destroy == NULL) {
		snprintf(err, errlen, "its ops lack a name, a key table, init "
		    "or destroy");
		return -1;
	}
	for (const struct connector_key *k = ops->keys; k->name != NULL; k++)
		if (plugin_check_key(ops, k, err, errlen) == -1)
			return -1;
	return 0;
}

const struct connector_ops *
plugin_load(const char *path, char *err, size_t errlen)
{
	const struct connector_ops *ops;
	plugin_entry_fn *entry;
	void *handle;

	/* RTLD_LOCAL: two plugins may use the same symbol names. */
	if ((handle = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errlen, "cannot load it: %s", dlerror());
		return NULL;
	}
	/* POSIX's blessed way to turn a dlsym result into a function. */
	*(void **)&entry = dlsym(handle, CONNECTOR_ENTRY_SYMBOL);
	if (entry == NULL) {
		snprintf(err, errlen, "it does not export %s()",
		    CONNECTOR_ENTRY_SYMBOL);
		dlclose(handle);
		return NULL;
	}
	ops = entry();
	if (plugin_check(ops, err, errlen) == -1) {
		dlclose(handle);
		return NULL;
	}
	return ops;
}
