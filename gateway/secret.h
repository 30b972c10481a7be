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
	SECRET_PRIVATE = 1 << 1, /* a key or a token: see secret_mode_check         */
};

/* The one file-mode rule for every file the configuration names. Private
 * keys and any other secret (SECRET_PRIVATE) must be accessible by their
 * owner only: 0600 or stricter. Certificates and CA bundles (no
 * SECRET_PRIVATE) are public and may be read by anyone, but not written by
 * group or others, who could swap in a CA of their own: 0644 or stricter.
 * 0, or -1 with the file, its mode and the chmod that fixes it in err. */
int secret_mode_check(const char *path, unsigned mode, int flags, char *err,
    size_t errlen);

/* Checks the shape of a reference without reading it: env:NAME with NAME
 * a variable name ([A-Za-z_][A-Za-z0-9_]*), or file:PATH with a PATH.
 * 0, or -1 with the reason in err (never echoing an inline value). */
int secret_check_ref(const char *ref, char *err, size_t errlen);

/* Resolves `ref` into out (caller frees with secret_wipe). Anything that is
 * not env:/file: is refused, so a secret pasted inline is an error.
 * Returns 0, or -1 with a message in err (never containing the value). */
int secret_resolve(const char *ref, int flags, struct secret *out,
    char *err, size_t errlen);
/* Overwrites and frees the value; safe on a zeroed struct. */
void secret_wipe(struct secret *s);
/* 1 if both are set and hold the same bytes (compared in constant time
 * for a given length), else 0. */
int secret_equal(const struct secret *a, const struct secret *b);

#endif
