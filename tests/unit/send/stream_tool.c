/*
 * stream_tool: damage replication streams the way an attacker would, for
 * the integration tests (tests/integ/t_sign.sh).  Every command rewrites
 * FILE in place and then fixes up what a forger can recompute
 * (cf_stream_fixup: sequence numbers, block checksums, END, running
 * checksums), so that the damage reaches the signature checks.
 *
 *   stream_tool list FILE               one line per record:
 *                                       INDEX OFFSET TYPE SIGALG
 *   stream_tool flip FILE OFFSET        flip the low bit of a byte
 *   stream_tool drop FILE REC           remove record REC
 *   stream_tool dup FILE REC            insert a copy of REC after it
 *   stream_tool swap FILE A B           exchange records A and B
 *   stream_tool cut FILE REC            drop records REC..END-1 (END kept)
 *   stream_tool zeroslot FILE REC       zero REC's signature slot
 *   stream_tool replace FILE OLD NEW    replace the first OLD (in BEGIN's
 *                                       payload) by NEW, same length
 *   stream_tool splice FILE OTHER REC   records 0..REC-1 of FILE, then
 *                                       OTHER's from REC on
 *   stream_tool fixup FILE              only the fixup
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "send/stream.h"

static cf_buf_t load(const char *path)
{
	cf_buf_t b = { 0 };
	FILE *f = fopen(path, "rb");
	uint8_t tmp[65536];
	size_t n;

	if (!f) {
		fprintf(stderr, "stream_tool: cannot open '%s'\n", path);
		exit(2);
	}
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		if (cf_buf_append(&b, tmp, n))
			exit(2);
	fclose(f);
	return b;
}

static void save(const char *path, cf_buf_t *b)
{
	FILE *f = fopen(path, "wb");

	cf_stream_fixup(b->data, b->len);
	if (!f || fwrite(b->data, 1, b->len, f) != b->len || fclose(f)) {
		fprintf(stderr, "stream_tool: cannot write '%s'\n", path);
		exit(2);
	}
}

#define MAXREC 1000000

static size_t *offsets(const cf_buf_t *b, int *k)
{
	size_t *o = malloc(sizeof(size_t) * (MAXREC + 1)), off = 0;

	*k = 0;
	while (o && off + CF_STREAM_HDR_SIZE <= b->len && *k < MAXREC) {
		o[(*k)++] = off;
		off += CF_STREAM_HDR_SIZE +
		    ((le64_get(b->data + off + 16) + 7) & ~7ull);
	}
	if (!o)
		exit(2);
	o[*k] = b->len;
	return o;
}

static int rec_arg(const char *s, int k)
{
	int r = atoi(s);
	if (r < 0)
		r += k;
	if (r < 0 || r >= k) {
		fprintf(stderr, "stream_tool: no record %s\n", s);
		exit(2);
	}
	return r;
}

/* out = in[0, a) + with + in[b, end) */
static void rebuild(cf_buf_t *out, const cf_buf_t *in, size_t a, size_t b,
    const uint8_t *with, size_t n)
{
	out->len = 0;
	if (cf_buf_append(out, in->data, a) || (n && cf_buf_append(out, with,
	    n)) || cf_buf_append(out, in->data + b, in->len - b))
		exit(2);
}

/* Everything main allocates, freed at exit whatever the path out (the
 * tool runs under LeakSanitizer in the ASan build). */
static cf_buf_t b, out, other;
static size_t *o, *oo;

static void release(void)
{
	cf_buf_free(&b);
	cf_buf_free(&out);
	cf_buf_free(&other);
	free(o);
	free(oo);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: stream_tool CMD FILE [ARGS]\n");
		return 2;
	}
	atexit(release);
	const char *cmd = argv[1], *path = argv[2];
	b = load(path);
	int k;
	o = offsets(&b, &k);

	if (strcmp(cmd, "list") == 0) {
		for (int i = 0; i < k; i++)
			printf("%d %zu %s %u\n", i, o[i],
			    cf_stream_type_name(le32_get(b.data + o[i] + 8)) ?
			    cf_stream_type_name(le32_get(b.data + o[i] + 8)) :
			    "?", le16_get(b.data + o[i] + 276));
		return 0;
	}
	if (strcmp(cmd, "fixup") == 0) {
		save(path, &b);
	} else if (strcmp(cmd, "flip") == 0 && argc == 4) {
		size_t off = strtoull(argv[3], NULL, 10);
		if (off >= b.len)
			return 2;
		b.data[off] ^= 1;
		save(path, &b);
	} else if (strcmp(cmd, "drop") == 0 && argc == 4) {
		int r = rec_arg(argv[3], k);
		rebuild(&out, &b, o[r], o[r + 1], NULL, 0);
		save(path, &out);
	} else if (strcmp(cmd, "dup") == 0 && argc == 4) {
		int r = rec_arg(argv[3], k);
		rebuild(&out, &b, o[r + 1], o[r + 1], b.data + o[r],
		    o[r + 1] - o[r]);
		save(path, &out);
	} else if (strcmp(cmd, "swap") == 0 && argc == 5) {
		int x = rec_arg(argv[3], k), y = rec_arg(argv[4], k);
		if (x > y) {
			int t = x;
			x = y;
			y = t;
		}
		out.len = 0;
		if (cf_buf_append(&out, b.data, o[x]) ||
		    cf_buf_append(&out, b.data + o[y], o[y + 1] - o[y]) ||
		    cf_buf_append(&out, b.data + o[x + 1], o[y] - o[x + 1]) ||
		    cf_buf_append(&out, b.data + o[x], o[x + 1] - o[x]) ||
		    cf_buf_append(&out, b.data + o[y + 1], b.len - o[y + 1]))
			return 2;
		save(path, &out);
	} else if (strcmp(cmd, "cut") == 0 && argc == 4) {
		int r = rec_arg(argv[3], k);
		rebuild(&out, &b, o[r], o[k - 1], NULL, 0);
		save(path, &out);
	} else if (strcmp(cmd, "zeroslot") == 0 && argc == 4) {
		int r = rec_arg(argv[3], k);
		memset(b.data + o[r] + 276, 0, 204);
		save(path, &b);
	} else if (strcmp(cmd, "replace") == 0 && argc == 5) {
		size_t n = strlen(argv[3]);
		uint8_t *p = k > 1 ? memmem(b.data + CF_STREAM_HDR_SIZE,
		    o[1] - CF_STREAM_HDR_SIZE, argv[3], n) : NULL;
		if (!p || strlen(argv[4]) != n) {
			fprintf(stderr, "stream_tool: '%s' not in BEGIN\n",
			    argv[3]);
			return 2;
		}
		memcpy(p, argv[4], n);
		save(path, &b);
	} else if (strcmp(cmd, "splice") == 0 && argc == 5) {
		other = load(argv[3]);
		int ok;
		oo = offsets(&other, &ok);
		int r = rec_arg(argv[4], k);
		if (r >= ok)
			return 2;
		rebuild(&out, &b, o[r], b.len, other.data + oo[r],
		    other.len - oo[r]);
		save(path, &out);
	} else {
		fprintf(stderr, "stream_tool: bad command\n");
		return 2;
	}
	return 0;
}
