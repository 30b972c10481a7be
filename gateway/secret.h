/* secret.h — values that are never written inline in the config:
 * "env:NAME" reads an environment variable, "file:PATH" reads a file. */
#ifndef TELLONCE_SECRET_H
#define TELLONCE_SECRET_H

#include <stddef.h>

struct secret {
	unsigned char *data; /* NUL-terminated too, for text secrets */
	size_t len;
};

enum {
	SECRET_TRIM = 1 << 0,    /* drop trailing whitespace (tokens, keys in files) */
	SECRET_PRIVATE = 1 << 1, /* file: must not be readable by group or others   */
};

/* Resolves `ref` into out (caller frees with secret_wipe). Anything that is
 * not env:/file: is refused, so a secret pasted inline is an error.
 * Returns 0, or -1 with a message in err (never containing the value). */
int secret_resolve(const char *ref, int flags, struct secret *out,
    char *err, size_t errlen);
/* Overwrites and frees the value; safe on a zeroed struct. */
void secret_wipe(struct secret *s);

#endif
