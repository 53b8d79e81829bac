/*
 * stream_fixup FILE: forge a damaged stream's checksums back, in place
 * (cf_stream_fixup: sequence numbers, block checksums, END's summary and
 * the running checksums), so that an integration test's edit gets past
 * the checksums to the checks behind them.  Prints the number of headers
 * fixed.
 */
#include <stdio.h>
#include <stdlib.h>

#include "send/stream.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: stream_fixup FILE\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "r+b");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
	rewind(f);
	if (!b || n < 0 || fread(b, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "stream_fixup: cannot read %s\n", argv[1]);
		return 1;
	}
	size_t k = cf_stream_fixup(b, (size_t)n);
	rewind(f);
	if (fwrite(b, 1, (size_t)n, f) != (size_t)n || fclose(f) != 0) {
		fprintf(stderr, "stream_fixup: cannot write %s\n", argv[1]);
		return 1;
	}
	printf("%zu\n", k);
	free(b);
	return 0;
}
