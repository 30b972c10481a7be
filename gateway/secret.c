/* secret.c — "env:NAME" and "file:PATH" references resolved into buffers
 * that are wiped before they are freed. Error messages name the variable or
 * the file, never the value. */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

/* Keys, tokens and PEM certificates are a few KiB at most; anything larger
 * is the wrong file. */
#define SECRET_MAX_FILE (1 << 20)

/* The name is not echoed: a value pasted after env: would be. */
int
secret_check_ref(const char *ref, char *err, size_t errlen)
{
	const char *name = ref + 4;

	if (strncmp(ref, "file:", 5) == 0) {
		if (ref[5] != '\0')
			return 0;
		snprintf(err, errlen, "file: needs a path (file:PATH)");
		return -1;
	}
	if (strncmp(ref, "env:", 4) != 0) {
		snprintf(err, errlen, "secrets are never written inline: "
		    "use env:NAME or file:PATH");
		return -1;
	}
	if (*name == '\0') {
		snprintf(err, errlen, "env: needs a variable name (env:NAME)");
		return -1;
	}
	if ((*name < 'A' || *name > 'Z') && (*name < 'a' || *name > 'z') &&
	    *name != '_') {
		snprintf(err, errlen, "env:NAME: a variable name starts with "
		    "a letter or _");
		return -1;
	}
	if (name[strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_")] != '\0') {
		snprintf(err, errlen, "env:NAME: a variable name holds only "
		    "letters, digits and _");
		return -1;
	}
	return 0;
}

int
secret_mode_check(const char *path, unsigned mode, int flags, char *err,
    size_t errlen)
{
	if ((flags & SECRET_PRIVATE) && (mode & 077)) {
		snprintf(err, errlen, "%s is accessible by group or others "
		    "(mode %04o); run chmod 600 on it: a private key or secret "
		    "must be 0600 or stricter", path, mode & 07777);
		return -1;
	}
	if (!(flags & SECRET_PRIVATE) && (mode & 022)) {
		snprintf(err, errlen, "%s is writable by group or others "
		    "(mode %04o); run chmod go-w on it: a certificate must be "
		    "0644 or stricter", path, mode & 07777);
		return -1;
	}
	return 0;
}

static int
secret_from_env(const char *name, struct secret *out, char *err, size_t errlen)
{
	const char *value;
	size_t len;

	value = getenv(name);
	if (value == NULL || *value == '\0') {
		snprintf(err, errlen, "environment variable %s is %s", name,
		    value == NULL ? "not set" : "empty");
		return -1;
	}
	len = strlen(value);
	if ((out->data = malloc(len + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(out->data, value, len + 1);
	out->len = len;
	return 0;
}

/* Reads into a buffer sized from fstat, so no realloc leaves copies of the
 * secret behind in freed memory. */
static int
secret_read_fd(int fd, const char *path, const struct stat *st,
    struct secret *out, char *err, size_t errlen)
{
	size_t cap = (size_t)st->st_size, len = 0;
	ssize_t n;

	if ((out->data = malloc(cap + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while (len < cap) {
		n = read(fd, out->data + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "cannot read %s: %s", path,
			    strerror(errno));
			out->len = cap;
			secret_wipe(out);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	out->data[len] = '\0';
	out->len = len;
	return 0;
}

static int
secret_from_file(const char *path, int flags, struct secret *out, char *err,
    size_t errlen)
{
	struct stat st;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		close(fd);
		return -1;
	}
	if (secret_mode_check(path, (unsigned)st.st_mode, flags, err,
	    errlen) != 0) {
		close(fd);
		return -1;
	}
	if (st.st_size > SECRET_MAX_FILE) {
		snprintf(err, errlen, "%s is larger than %d bytes", path,
		    SECRET_MAX_FILE);
		close(fd);
		return -1;
	}
	rc = secret_read_fd(fd, path, &st, out, err, errlen);
	close(fd);
	return rc;
}

static void
secret_trim(struct secret *s)
{
	while (s->len > 0 && (s->data[s->len - 1] == '\n' ||
	    s->data[s->len - 1] == '\r' || s->data[s->len - 1] == ' ' ||
	    s->data[s->len - 1] == '\t'))
		s->data[--s->len] = '\0';
}

int
secret_resolve(const char *ref, int flags, struct secret *out, char *err,
    size_t errlen)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (secret_check_ref(ref, err, errlen) != 0)
		return -1;
	if (strncmp(ref, "env:", 4) == 0)
		rc = secret_from_env(ref + 4, out, err, errlen);
	else
		rc = secret_from_file(ref + 5, flags, out, err, errlen);
	if (rc == -1)
		return -1;
	if (flags & SECRET_TRIM)
		secret_trim(out);
	if (out->len == 0) {
		snprintf(err, errlen, "%s is empty", ref);
		secret_wipe(out);
		return -1;
	}
	return 0;
}

void
secret_wipe(struct secret *s)
{
	if (s->data != NULL) {
		OPENSSL_cleanse(s->data, s->len);
		free(s->data);
	}
	s->data = NULL;
	s->len = 0;
}

int
secret_equal(const struct secret *a, const struct secret *b)
{
	return a->data != NULL && b->data != NULL && a->len == b->len &&
	    CRYPTO_memcmp(a->data, b->data, a->len) == 0;
}
