/*
 * replay: run a fuzz target over files instead of under libFuzzer.
 *
 *   fuzz_NAME PATH...
 *
 * Each PATH is a file or a directory whose regular files (not recursing,
 * skipping dot files, in name order so that runs are reproducible) are
 * fed one by one to LLVMFuzzerTestOneInput.  The target aborts on a
 * finding, so reaching the end means every input passed: print how many
 * ran and exit 0.  A PATH that cannot be read is an error (exit 1): a
 * replay of a missing corpus must not pass by running nothing.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rbe");
	uint8_t *data = NULL;
	size_t len = 0, cap = 0;

	if (f == NULL) {
		fprintf(stderr, "replay: cannot open '%s'\n", path);
		return -1;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			uint8_t *p;

			cap = cap ? 2 * cap : 65536;
			p = realloc(data, cap);
			if (p == NULL) {
				fprintf(stderr, "replay: out of memory\n");
				exit(1);
			}
			data = p;
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "replay: cannot read '%s'\n", path);
		fclose(f);
		free(data);
		return -1;
	}
	fclose(f);
	/* Give the target a buffer of exactly len bytes, as libFuzzer
	 * does, so that ASan catches reads past the input. */
	{
		uint8_t *exact = malloc(len ? len : 1);

		if (exact == NULL) {
			fprintf(stderr, "replay: out of memory\n");
			exit(1);
		}
		memcpy(exact, data, len);
		free(data);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	return 0;
}

static int run_dir(const char *dir, long *count)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);
	int rc = 0;

	if (n < 0) {
		fprintf(stderr, "replay: cannot read directory '%s'\n", dir);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;

		if (rc == 0 && names[i]->d_name[0] != '.' &&
		    snprintf(path, sizeof(path), "%s/%s", dir,
		    names[i]->d_name) < (int)sizeof(path) &&
		    stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			rc = run_file(path);
			if (rc == 0)
				(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	long count = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		int rc;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: cannot access '%s'\n",
			    argv[i]);
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			rc = run_dir(argv[i], &count);
		} else {
			rc = run_file(argv[i]);
			count += rc == 0;
		}
		if (rc != 0)
			return 1;
	}
	printf("replayed %ld inputs\n", count);
	return 0;
}
