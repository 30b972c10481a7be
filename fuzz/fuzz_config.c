/* fuzz_config.c — the YAML configuration loader on arbitrary files: every
 * input must either load or be refused with messages, never crash or
 * leak.
 *
 * An input may hold several files, separated by a line "#--": the main
 * file, two files it may include (a.yaml, b.yaml), a secret file private
 * to the owner (key, mode 0600) and one readable by all (open, mode 0644),
 * so that include: (cycles, missing files, nesting) and file: secrets
 * (missing, empty, too open, not a key) are fuzzed too. A file the input
 * does not hold does not exist. A secret's value must never appear in an
 * error message. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

#define FUZZ_SEP "\n#--\n"

static const char *const fuzz_files[] = { "in.yaml", "a.yaml", "b.yaml",
	"key", "open" };
#define FUZZ_NFILES (sizeof(fuzz_files) / sizeof(fuzz_files[0]))
#define FUZZ_NYAML 3            /* the files before are YAML, after secrets */

struct fuzz_part {
	const char *data;
	size_t len;
};

/* Cuts the input at each FUZZ_SEP; returns the number of parts. */
static size_t
fuzz_split(const uint8_t *data, size_t size, struct fuzz_part *parts)
{
	const char *p = (const char *)data, *end = p + size, *sep;
	size_t n = 0;

	while (n < FUZZ_NFILES - 1 && (sep = memmem(p, (size_t)(end - p),
	    FUZZ_SEP, strlen(FUZZ_SEP))) != NULL) {
		parts[n++] = (struct fuzz_part){ p, (size_t)(sep - p) };
		p = sep + strlen(FUZZ_SEP);
	}
	parts[n++] = (struct fuzz_part){ p, (size_t)(end - p) };
	return n;
}

/* 1 if a YAML part names `name` other than as a file: secret (an include
 * of it, say): then its content is YAML, and messages may quote it. */
static int
fuzz_named_as_yaml(const struct fuzz_part *parts, size_t n, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < n && i < FUZZ_NYAML; i++)
		for (const char *p = parts[i].data, *end = p + parts[i].len;
		    (p = memmem(p, (size_t)(end - p), name, len)) != NULL; p++)
			if (p == parts[i].data || p[-1] != ':')
				return 1;
	return 0;
}

/* Aborts if a message holds the value of secret part i. */
static void
fuzz_check_secret(const struct config_errors *errs,
    const struct fuzz_part *parts, size_t n, size_t i)
{
	char *value;
	size_t len = parts[i].len;

	while (len > 0 && strchr(" \t\r\n", parts[i].data[len - 1]) != NULL)
		len--;
	if (len < 8 || memchr(parts[i].data, '\0', len) != NULL ||
	    fuzz_named_as_yaml(parts, n, fuzz_files[i]))
		return;
	for (size_t j = 0; j < FUZZ_NYAML && j < n; j++)
		if (memmem(parts[j].data, parts[j].len, parts[i].data, len))
			return;         /* the YAML holds it itself */
	if ((value = strndup(parts[i].data, len)) == NULL)
		abort();
	for (size_t e = 0; e < errs->n; e++)
		if (strstr(errs->items[e].message, value) != NULL)
			abort();        /* a secret reached an error message */
	free(value);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_part parts[FUZZ_NFILES];
	struct config_errors errs = { 0 };
	struct config *cfg;
	size_t n = fuzz_split(data, size, parts);

	for (size_t i = 0; i < FUZZ_NFILES; i++) {
		if (i >= n) {
			unlink(fuzz_path(fuzz_files[i]));
			continue;
		}
		fuzz_write(fuzz_files[i], parts[i].data, parts[i].len);
		chmod(fuzz_path(fuzz_files[i]), i == FUZZ_NFILES - 1 ? 0644 :
		    0600);
	}
	cfg = config_load(fuzz_path("in.yaml"), &errs);
	if (cfg == NULL && errs.n == 0)
		abort();        /* refused without saying why */
	for (size_t i = FUZZ_NYAML; i < n; i++)
		fuzz_check_secret(&errs, parts, n, i);
	config_free(cfg);
	config_errors_free(&errs);
	return 0;
}
