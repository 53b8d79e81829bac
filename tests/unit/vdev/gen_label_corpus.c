/*
 * gen_label_corpus: write the seed corpus of the label fuzz target.
 *
 *   gen_label_corpus DIR      (normally tests/fuzz/corpus/label)
 *
 * Valid encoded configs, and the same damaged in the ways decode must
 * refuse: truncated, garbage, a wrong magic, and, with the checksum
 * recomputed so that the damage is what decode sees, an unterminated
 * name, an index past the count and a newer version.  fuzz_label treats
 * an input as the start of a block and pads it with zeros, so trailing
 * zeros are cut to keep the files small; "valid-full" keeps its full
 * 65536 bytes so that the replay also decodes a whole block as is.  The
 * output depends on nothing but this program.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "vdev/vdev.h"

#define CFG CF_LABEL_CONFIG_SIZE

static const char *outdir;
static uint8_t blk[CFG];

static void put(const char *name, const uint8_t *b, size_t len, int trim)
{
	char path[4096];
	FILE *f;

	while (trim && len > 0 && b[len - 1] == 0)
		len--;
	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	f = fopen(path, "wbe");
	if (f == NULL || fwrite(b, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "gen_label_corpus: cannot write '%s'\n", path);
		exit(1);
	}
}

static void reseal(uint8_t *b)
{
	uint8_t sum[32];

	memset(b + 24, 0, 32);
	cf_sha256(b, CFG, sum);
	memcpy(b + 24, sum, 32);
}

static void config(cf_label_config_t *c, unsigned n, const char *name)
{
	memset(c, 0, sizeof(*c));
	c->pool_guid = 0x0123456789abcdefULL + n;
	snprintf(c->pool_name, sizeof(c->pool_name), "%s", name);
	c->create_txg = 4;
	c->config_txg = 100 + n;
	c->vdev_count = n;
	c->vdev_index = n - 1;
	for (unsigned i = 0; i < n; i++) {
		c->vdev_guids[i] = 0x1000 + i;
		c->vdev_sizes[i] = (64u << 20) - 4 * CF_LABEL_SIZE;
	}
	c->vdev_guid = c->vdev_guids[n - 1];
	c->hostid = 0x7f000001;
	snprintf(c->hostname, sizeof(c->hostname), "builder");
}

int main(int argc, char **argv)
{
	cf_label_config_t c;
	uint64_t x = 0x2545f4914f6cdd1dULL;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_label_corpus DIR\n");
		return 2;
	}
	outdir = argv[1];

	config(&c, 1, "tank");
	cf_label_encode(&c, blk);
	put("valid-single", blk, CFG, 1);
	put("valid-full", blk, CFG, 0);
	put("truncated-100", blk, 100, 0);
	put("truncated-460", blk, 460, 0);
	blk[0] ^= 0xff;
	put("bad-magic", blk, CFG, 1);

	config(&c, 3, "stripe");
	c.state = CF_POOL_STATE_EXPORTED;
	c.features_incompat = 0x3;
	c.features_ro_compat = 0x10;
	cf_label_encode(&c, blk);
	put("valid-stripe3", blk, CFG, 1);
	le32_put(blk + 96, 3);          /* vdev_index == vdev_count */
	reseal(blk);
	put("index-eq-count", blk, CFG, 1);

	config(&c, CF_MAX_VDEVS, "");
	memset(c.pool_name, 'n', CF_POOL_NAME_MAX);
	memset(c.hostname, 'h', sizeof(c.hostname) - 1);
	c.state = CF_POOL_STATE_DESTROYED;
	cf_label_encode(&c, blk);
	put("valid-max", blk, CFG, 1);
	memset(blk + 136, 'n', 256);    /* name without its NUL */
	le16_put(blk + 128, 256);
	reseal(blk);
	put("name-unterminated", blk, CFG, 1);

	config(&c, 2, "newer");
	cf_label_encode(&c, blk);
	le64_put(blk + 8, CF_LABEL_VERSION + 1);
	reseal(blk);
	put("newer-version", blk, CFG, 1);

	for (size_t i = 0; i < 2048; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		blk[i] = (uint8_t)x;
	}
	put("garbage-2k", blk, 2048, 0);
	put("empty", blk, 0, 0);
	return 0;
}
