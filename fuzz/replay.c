/* replay.c — a main() for a harness without libFuzzer: every file of
 * fuzz/corpus/NAME and fuzz/regressions/NAME goes through
 * LLVMFuzzerTestOneInput once. A crash kills the program, which the test
 * runner reports; otherwise each input counts as one passed test. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fuzz.h"

static int
replay_file(const char *path)
{
	struct stat st;
	unsigned char *data;
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		if (f != NULL)
			fclose(f);
		return 0;
	}
	if ((data = malloc((size_t)st.st_size + 1)) == NULL)
		abort();
	n = fread(data, 1, (size_t)st.st_size, f);
	fclose(f);
	LLVMFuzzerTestOneInput(data, n);
	free(data);
	return 1;
}

static int
replay_dir(const char *kind)
{
	char dir[256], path[512];
	struct dirent *d;
	DIR *dp;
	int n = 0;

	snprintf(dir, sizeof(dir), "fuzz/%s/%s", kind, FUZZ_NAME);
	if ((dp = opendir(dir)) == NULL)
		return 0;
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		n += replay_file(path);
	}
	closedir(dp);
	return n;
}

int
main(void)
{
	int corpus = replay_dir("corpus"), regressions = replay_dir("regressions");

	printf("ok %s: %d corpus inputs, %d regressions\n", FUZZ_NAME, corpus,
	    regressions);
	printf("test_%s: %d passed, %d failed\n", FUZZ_NAME,
	    corpus + regressions, corpus + regressions > 0 ? 0 : 1);
	return corpus + regressions > 0 ? 0 : 1;
}
