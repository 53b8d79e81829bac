/* Labels: config encoding, hostile decoding, copies, uberblock slots. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "vdev/vdev.h"

#define MIB (1024ull * 1024)
#define CFG CF_LABEL_CONFIG_SIZE

static void sample(cf_label_config_t *c, uint64_t txg)
{
	memset(c, 0, sizeof(*c));
	c->version = CF_LABEL_VERSION;
	c->pool_guid = 0x1122334455667788ULL;
	snprintf(c->pool_name, sizeof(c->pool_name), "%s", "tank");
	c->state = CF_POOL_STATE_ACTIVE;
	c->create_txg = 4;
	c->config_txg = txg;
	c->vdev_index = 1;
	c->vdev_count = 3;
	for (unsigned i = 0; i < 3; i++) {
		c->vdev_guids[i] = 0xa000 + i;
		c->vdev_sizes[i] = (64 + i) * MIB;
	}
	c->vdev_guid = c->vdev_guids[1];
	c->features_incompat = 0x5;
	c->features_ro_compat = 0x80;
	c->hostid = 0xdeadbeef;
	snprintf(c->hostname, sizeof(c->hostname), "%s", "host.example");
}

/* Recompute the checksum after a deliberate edit, as a forger would. */
static void reseal(uint8_t *blk)
{
	uint8_t sum[32];

	memset(blk + 24, 0, 32);
	cf_sha256(blk, CFG, sum);
	memcpy(blk + 24, sum, 32);
}

static uint8_t *encoded(uint64_t txg)
{
	cf_label_config_t c;
	uint8_t *b = malloc(CFG);

	if (b == NULL)
		abort();
	sample(&c, txg);
	cf_label_encode(&c, b);
	return b;
}

static void test_round_trip(void)
{
	cf_label_config_t c, d;
	uint8_t *b = malloc(CFG), *b2 = malloc(CFG);

	CHECK(b != NULL && b2 != NULL);
	sample(&c, 77);
	cf_label_encode(&c, b);
	CHECK_OK(cf_label_decode(b, CFG, &d));
	CHECK(memcmp(&c, &d, sizeof(c)) == 0);
	/* encoding is canonical */
	cf_label_encode(&d, b2);
	CHECK(memcmp(b, b2, CFG) == 0);
	/* a longer buffer: only the block is looked at */
	free(b2);
	b2 = calloc(1, CFG + 100);
	CHECK(b2 != NULL);
	memcpy(b2, b, CFG);
	memset(b2 + CFG, 0xff, 100);
	CHECK_OK(cf_label_decode(b2, CFG + 100, &d));
	CHECK(memcmp(&c, &d, sizeof(c)) == 0);
	/* maximal names and a full stripe */
	memset(c.pool_name, 'p', CF_POOL_NAME_MAX);
	c.pool_name[CF_POOL_NAME_MAX] = '\0';
	memset(c.hostname, 'h', sizeof(c.hostname) - 1);
	c.hostname[sizeof(c.hostname) - 1] = '\0';
	c.vdev_count = CF_MAX_VDEVS;
	c.vdev_index = CF_MAX_VDEVS - 1;
	for (unsigned i = 0; i < CF_MAX_VDEVS; i++) {
		c.vdev_guids[i] = ~(uint64_t)i;
		c.vdev_sizes[i] = UINT64_MAX - i;
	}
	c.state = CF_POOL_STATE_DESTROYED;
	cf_label_encode(&c, b);
	CHECK_OK(cf_label_decode(b, CFG, &d));
	CHECK(memcmp(&c, &d, sizeof(c)) == 0);
	free(b);
	free(b2);
}

/* The documented byte layout (docs/FORMAT.md copies it). */
static void test_layout(void)
{
	static const uint8_t magic[8] = { 0x42, 0x4c, 0x52, 0x45, 0x46, 0x46,
	    0x4f, 0x43 };
	uint8_t *b = encoded(9);
	uint8_t sum[32];

	CHECK(memcmp(b, magic, 8) == 0);
	CHECK(le64_get(b + 8) == 1);
	CHECK(le32_get(b + 16) == CFG);
	CHECK(le32_get(b + 20) == 1480);
	CHECK(le64_get(b + 56) == 0x1122334455667788ULL);
	CHECK(le64_get(b + 64) == CF_POOL_STATE_ACTIVE);
	CHECK(le64_get(b + 72) == 4);
	CHECK(le64_get(b + 80) == 9);
	CHECK(le64_get(b + 88) == 0xa001);
	CHECK(le32_get(b + 96) == 1);
	CHECK(le32_get(b + 100) == 3);
	CHECK(le64_get(b + 104) == 5);
	CHECK(le64_get(b + 112) == 0x80);
	CHECK(le64_get(b + 120) == 0xdeadbeef);
	CHECK(le16_get(b + 128) == 4);
	CHECK(le16_get(b + 130) == 12);
	CHECK(memcmp(b + 136, "tank\0", 5) == 0);
	CHECK(memcmp(b + 392, "host.example\0", 13) == 0);
	CHECK(le64_get(b + 456 + 16) == 0xa002);
	CHECK(le64_get(b + 456 + 24) == 0);
	CHECK(le64_get(b + 968 + 8) == 65 * MIB);
	CHECK(le64_get(b + 968 + 24) == 0);
	/* the checksum is SHA-256 of the block with the field zeroed */
	memcpy(sum, b + 24, 32);
	reseal(b);
	CHECK(memcmp(sum, b + 24, 32) == 0);
	free(b);
}

/* Any single flipped bit anywhere in the block is caught. */
static void test_decode_bit_flips(void)
{
	uint8_t *b = encoded(3);
	cf_label_config_t d;
	size_t positions = 0;

	for (size_t i = 0; i < CFG; i += (i < 1600 ? 1 : 997)) {
		b[i] ^= (uint8_t)(1u << (i % 8));
		if (cf_label_decode(b, CFG, &d) != COFFER_ECORRUPT) {
			th_fail(__FILE__, __LINE__, "flip accepted", (long)i);
			break;
		}
		b[i] ^= (uint8_t)(1u << (i % 8));
		positions++;
	}
	CHECK_OK(cf_label_decode(b, CFG, &d));
	CHECK(positions > 1600);
	free(b);
}

typedef void (*edit_fn)(uint8_t *b);

static void e_magic(uint8_t *b) { b[0] ^= 1; }
static void e_version0(uint8_t *b) { le64_put(b + 8, 0); }
static void e_block_len(uint8_t *b) { le32_put(b + 16, CFG - 1); }
static void e_body_len(uint8_t *b) { le32_put(b + 20, 1481); }
static void e_state(uint8_t *b) { le64_put(b + 64, 3); }
static void e_index_eq_count(uint8_t *b) { le32_put(b + 96, 3); }
static void e_count0(uint8_t *b)
{
	le32_put(b + 96, 0);
	le32_put(b + 100, 0);
}
static void e_count_big(uint8_t *b) { le32_put(b + 100, CF_MAX_VDEVS + 1); }
static void e_count_huge(uint8_t *b) { le32_put(b + 100, UINT32_MAX); }
static void e_reserved(uint8_t *b) { b[133] = 1; }
static void e_name_len0(uint8_t *b) { le16_put(b + 128, 0); }
static void e_name_len_long(uint8_t *b) { le16_put(b + 128, 5); }
static void e_name_len_256(uint8_t *b)
{
	memset(b + 136, 'x', 256);      /* no terminating NUL at all */
	le16_put(b + 128, 256);
}
static void e_name_len_max(uint8_t *b) { le16_put(b + 128, 0xffff); }
static void e_name_nul_inside(uint8_t *b) { b[137] = 0; }
static void e_name_junk_after(uint8_t *b) { b[136 + 200] = 'z'; }
static void e_host_len(uint8_t *b) { le16_put(b + 130, 64); }
static void e_host_junk_after(uint8_t *b) { b[392 + 63] = 'z'; }
static void e_guid_past_count(uint8_t *b) { le64_put(b + 456 + 8 * 3, 1); }
static void e_size_past_count(uint8_t *b) { b[968 + 8 * 63 + 7] = 1; }
static void e_tail(uint8_t *b) { b[CFG - 1] = 1; }
static void e_body_end(uint8_t *b) { b[1480] = 1; }

static void test_decode_hostile(void)
{
	static const struct {
		const char *name;
		edit_fn fn;
	} edits[] = {
		{ "magic", e_magic },
		{ "version 0", e_version0 },
		{ "block_len", e_block_len },
		{ "body_len", e_body_len },
		{ "state", e_state },
		{ "index == count", e_index_eq_count },
		{ "count 0", e_count0 },
		{ "count > max", e_count_big },
		{ "count huge", e_count_huge },
		{ "reserved", e_reserved },
		{ "name len 0", e_name_len0 },
		{ "name len past name", e_name_len_long },
		{ "name unterminated", e_name_len_256 },
		{ "name len 0xffff", e_name_len_max },
		{ "NUL inside name", e_name_nul_inside },
		{ "junk after name", e_name_junk_after },
		{ "host len 64", e_host_len },
		{ "junk after host", e_host_junk_after },
		{ "guid past count", e_guid_past_count },
		{ "size past count", e_size_past_count },
		{ "tail", e_tail },
		{ "byte after body", e_body_end },
	};
	cf_label_config_t d;

	for (size_t i = 0; i < CF_ARRAY_SIZE(edits); i++) {
		uint8_t *b = encoded(3);
		int rc;

		edits[i].fn(b);
		reseal(b);
		memset(&d, 0x5a, sizeof(d));
		rc = cf_label_decode(b, CFG, &d);
		free(b);
		if (rc != COFFER_ECORRUPT) {
			fprintf(stderr, "  edit '%s' not refused\n",
			    edits[i].name);
			CHECK_RC(rc, COFFER_ECORRUPT);
		}
		/* a refused block leaves the output untouched */
		CHECK(d.pool_guid == 0x5a5a5a5a5a5a5a5aULL);
	}
}

static void test_decode_short_and_newer(void)
{
	uint8_t *b = encoded(3);
	cf_label_config_t d;

	CHECK_RC(cf_label_decode(b, CFG - 1, &d), COFFER_ECORRUPT);
	CHECK_RC(cf_label_decode(b, 0, &d), COFFER_ECORRUPT);
	CHECK_RC(cf_label_decode(NULL, CFG, &d), -EINVAL);
	/* version 2 with a valid checksum: made by a newer coffer */
	le64_put(b + 8, 2);
	reseal(b);
	CHECK_RC(cf_label_decode(b, CFG, &d), COFFER_ENOTSUP);
	/* ... but not when the checksum is wrong */
	b[40] ^= 1;
	CHECK_RC(cf_label_decode(b, CFG, &d), COFFER_ECORRUPT);
	free(b);
}

static void test_write_read_config(void)
{
	cf_label_config_t c, d;
	cf_vdev_t *v = NULL;
	uint8_t *buf = malloc(CF_LABEL_SIZE);

	CHECK(buf != NULL);
	CHECK_OK(cf_vdev_open_mem(4 * MIB, &v));
	CHECK_RC(cf_label_read_config(v, &d), COFFER_ECORRUPT);
	sample(&c, 10);
	CHECK_OK(cf_label_write_config(v, &c));
	CHECK_RC(cf_label_read_config(v, &d), 4);
	CHECK(memcmp(&c, &d, sizeof(c)) == 0);
	CHECK(cf_label_offset(v, 0) == 0);
	CHECK(cf_label_offset(v, 1) == CF_LABEL_SIZE);
	CHECK(cf_label_offset(v, 2) == 4 * MIB - 2 * CF_LABEL_SIZE);
	CHECK(cf_label_offset(v, 3) == 4 * MIB - CF_LABEL_SIZE);
	CHECK(cf_label_offset(v, 4) == UINT64_MAX);
	/* the data area is untouched */
	CHECK_OK(cf_vdev_read(v, cf_vdev_data_start(v), buf, CF_LABEL_SIZE));
	for (size_t i = 0; i < CF_LABEL_SIZE; i++)
		CHECK(buf[i] == 0);
	cf_vdev_close(v);
	free(buf);
}

/* A config no reader would accept is refused before anything is written. */
static void test_write_invalid_config(void)
{
	cf_label_config_t c, d;
	cf_vdev_t *v = NULL;

	CHECK_OK(cf_vdev_open_mem(2 * MIB, &v));
	sample(&c, 10);
	CHECK_OK(cf_label_write_config(v, &c));
	c.config_txg = 11;
	c.pool_name[0] = '\0';
	CHECK_RC(cf_label_write_config(v, &c), -EINVAL);
	sample(&c, 11);
	c.vdev_index = c.vdev_count;
	CHECK_RC(cf_label_write_config(v, &c), -EINVAL);
	sample(&c, 11);
	c.state = 7;
	CHECK_RC(cf_label_write_config(v, &c), -EINVAL);
	CHECK_RC(cf_label_write_config(v, NULL), -EINVAL);
	CHECK_RC(cf_label_read_config(v, &d), 4);
	CHECK(d.config_txg == 10);
	cf_vdev_close(v);
}

/* Damage label l's config block. */
static int damage(cf_vdev_t *v, unsigned l)
{
	uint8_t junk[64];

	memset(junk, 0xee, sizeof(junk));
	return cf_vdev_write(v, cf_label_offset(v, l) + 200, junk,
	    sizeof(junk));
}

/*
 * Labels 0 and 3 hold txg 11, labels 1 and 2 txg 10.  For every subset
 * of damaged labels the newest valid copy wins and the count is right.
 */
static void test_damaged_copies(void)
{
	cf_label_config_t c, d;
	uint8_t *newer = encoded(11);

	for (unsigned mask = 0; mask < 16; mask++) {
		cf_vdev_t *v = NULL;
		int valid = 0, has11 = 0;

		CHECK_OK(cf_vdev_open_mem(2 * MIB, &v));
		sample(&c, 10);
		CHECK_OK(cf_label_write_config(v, &c));
		CHECK_OK(cf_vdev_write(v, cf_label_offset(v, 0), newer, CFG));
		CHECK_OK(cf_vdev_write(v, cf_label_offset(v, 3), newer, CFG));
		for (unsigned l = 0; l < 4; l++) {
			if (mask & (1u << l)) {
				CHECK_OK(damage(v, l));
			} else {
				valid++;
				has11 |= (l == 0 || l == 3);
			}
		}
		if (valid == 0) {
			CHECK_RC(cf_label_read_config(v, &d), COFFER_ECORRUPT);
		} else {
			CHECK_RC(cf_label_read_config(v, &d), valid);
			CHECK(d.config_txg == (has11 ? 11u : 10u));
			CHECK(strcmp(d.pool_name, "tank") == 0);
		}
		cf_vdev_close(v);
	}
	free(newer);
}

static void test_newer_version_labels(void)
{
	cf_label_config_t d;
	cf_vdev_t *v = NULL;
	uint8_t *b = encoded(5);

	CHECK_OK(cf_vdev_open_mem(2 * MIB, &v));
	le64_put(b + 8, 2);
	reseal(b);
	for (unsigned l = 0; l < 4; l++)
		CHECK_OK(cf_vdev_write(v, cf_label_offset(v, l), b, CFG));
	CHECK_RC(cf_label_read_config(v, &d), COFFER_ENOTSUP);
	/* one readable v1 copy is enough */
	free(b);
	b = encoded(4);
	CHECK_OK(cf_vdev_write(v, cf_label_offset(v, 2), b, CFG));
	CHECK_RC(cf_label_read_config(v, &d), 1);
	CHECK(d.config_txg == 4);
	cf_vdev_close(v);
	free(b);
}

static void test_ub_slots(void)
{
	static const unsigned slots[] = { 0, 1, 5, CF_UB_SLOTS - 1 };
	uint8_t ub[CF_UB_SLOT_SIZE], got[CF_UB_SLOT_SIZE];
	cf_label_config_t c;
	cf_vdev_t *v = NULL;

	CHECK_OK(cf_vdev_open_mem(3 * MIB, &v));
	sample(&c, 1);
	CHECK_OK(cf_label_write_config(v, &c));
	for (size_t i = 0; i < CF_ARRAY_SIZE(slots); i++) {
		memset(ub, (int)(0x10 + i), sizeof(ub));
		ub[0] = (uint8_t)slots[i];
		CHECK_OK(cf_label_write_ub(v, slots[i], ub));
	}
	CHECK_OK(cf_vdev_flush(v));
	for (unsigned l = 0; l < 4; l++) {
		for (size_t i = 0; i < CF_ARRAY_SIZE(slots); i++) {
			CHECK_OK(cf_label_read_ub(v, l, slots[i], got));
			CHECK(got[0] == slots[i]);
			CHECK(got[1] == 0x10 + i && got[1023] == 0x10 + i);
			/* at the documented offset */
			CHECK_OK(cf_vdev_read(v, cf_label_offset(v, l) +
			    CF_UB_RING_OFF + slots[i] * CF_UB_SLOT_SIZE,
			    got, sizeof(got)));
			CHECK(got[0] == slots[i] && got[5] == 0x10 + i);
		}
		/* an unwritten slot reads as zeros */
		CHECK_OK(cf_label_read_ub(v, l, 2, got));
		for (size_t j = 0; j < sizeof(got); j++)
			CHECK(got[j] == 0);
	}
	/* the whole ring in one read: the same slots */
	uint8_t *ring = malloc(CF_UB_SLOTS * CF_UB_SLOT_SIZE);
	CHECK(ring != NULL);
	for (unsigned l = 0; l < 4; l++) {
		CHECK_OK(cf_label_read_ring(v, l, ring));
		for (unsigned sl = 0; sl < CF_UB_SLOTS; sl++) {
			CHECK_OK(cf_label_read_ub(v, l, sl, got));
			CHECK(memcmp(ring + sl * CF_UB_SLOT_SIZE, got,
			    sizeof(got)) == 0);
		}
	}
	/* the ring read fails: slot by slot instead, the same bytes */
	cf_fault_cfg_t fc = { .fail_read_at = 1, .keep_inner = 1 };
	cf_vdev_t *f = NULL;
	CHECK_OK(cf_vdev_open_fault(v, &fc, &f));
	memset(ring, 0xee, CF_UB_SLOTS * CF_UB_SLOT_SIZE);
	CHECK_OK(cf_label_read_ring(f, 1, ring));
	CHECK(ring[5 * CF_UB_SLOT_SIZE] == 5);
	CHECK(ring[2 * CF_UB_SLOT_SIZE] == 0 &&
	    ring[3 * CF_UB_SLOT_SIZE - 1] == 0);
	cf_vdev_close(f);
	CHECK_RC(cf_label_read_ring(v, 4, ring), -EINVAL);
	free(ring);
	/* the ring does not disturb the config */
	CHECK_RC(cf_label_read_config(v, &c), 4);
	CHECK_RC(cf_label_write_ub(v, CF_UB_SLOTS, ub), -EINVAL);
	CHECK_RC(cf_label_read_ub(v, 4, 0, got), -EINVAL);
	CHECK_RC(cf_label_read_ub(v, 0, CF_UB_SLOTS, got), -EINVAL);
	CHECK_RC(cf_label_write_ub(v, 0, NULL), -EINVAL);
	cf_vdev_close(v);
}

static void test_wipe(void)
{
	cf_label_config_t c;
	cf_vdev_t *v = NULL;
	uint8_t ub[CF_UB_SLOT_SIZE];
	uint8_t *buf = malloc(CF_LABEL_SIZE);
	uint8_t data[16] = "data stays here";

	CHECK(buf != NULL);
	CHECK_OK(cf_vdev_open_mem(2 * MIB, &v));
	sample(&c, 1);
	CHECK_OK(cf_label_write_config(v, &c));
	memset(ub, 0x77, sizeof(ub));
	CHECK_OK(cf_label_write_ub(v, 9, ub));
	CHECK_OK(cf_vdev_write(v, cf_vdev_data_start(v), data, sizeof(data)));
	CHECK_OK(cf_label_wipe(v));
	CHECK_RC(cf_label_read_config(v, &c), COFFER_ECORRUPT);
	for (unsigned l = 0; l < 4; l++) {
		CHECK_OK(cf_vdev_read(v, cf_label_offset(v, l), buf,
		    CF_LABEL_SIZE));
		for (size_t i = 0; i < CF_LABEL_SIZE; i++)
			CHECK(buf[i] == 0);
	}
	CHECK_OK(cf_vdev_read(v, cf_vdev_data_start(v), buf, sizeof(data)));
	CHECK(memcmp(buf, data, sizeof(data)) == 0);
	cf_vdev_close(v);
	free(buf);
}

/* ---- write ordering, observed through a recording device ------------- */

struct rec {
	cf_vdev_t *inner;
	char log[64];
	size_t n;
};

static int rec_pread(cf_vdev_t *v, uint64_t off, void *buf, size_t len)
{
	struct rec *r = v->priv;

	return cf_vdev_read(r->inner, off, buf, len);
}

static int rec_pwrite(cf_vdev_t *v, uint64_t off, const void *buf,
    size_t len)
{
	struct rec *r = v->priv;

	for (unsigned l = 0; l < 4; l++) {
		uint64_t base = cf_label_offset(v, l);

		if (off >= base && off + len <= base + CF_LABEL_SIZE &&
		    r->n + 1 < sizeof(r->log))
			r->log[r->n++] = (char)('0' + l);
	}
	return cf_vdev_write(r->inner, off, buf, len);
}

static int rec_flush(cf_vdev_t *v)
{
	struct rec *r = v->priv;

	if (r->n + 1 < sizeof(r->log))
		r->log[r->n++] = 'F';
	return cf_vdev_flush(r->inner);
}

static void rec_close(cf_vdev_t *v)
{
	(void)v;
}

static const struct cf_vdev_ops rec_ops = {
	rec_pread, rec_pwrite, rec_flush, rec_close
};

static void test_two_phase_order(void)
{
	struct rec r;
	cf_vdev_t v;
	cf_label_config_t c;
	uint8_t ub[CF_UB_SLOT_SIZE] = { 1 };

	memset(&r, 0, sizeof(r));
	CHECK_OK(cf_vdev_open_mem(2 * MIB, &r.inner));
	memset(&v, 0, sizeof(v));
	v.ops = &rec_ops;
	v.size = r.inner->size;
	v.priv = &r;
	sample(&c, 1);
	CHECK_OK(cf_label_write_config(&v, &c));
	CHECK(strcmp(r.log, "02F13F") == 0);
	memset(&r.log, 0, sizeof(r.log));
	r.n = 0;
	CHECK_OK(cf_label_write_ub(&v, 3, ub));
	CHECK(strcmp(r.log, "02F13") == 0);
	memset(&r.log, 0, sizeof(r.log));
	r.n = 0;
	CHECK_OK(cf_label_wipe(&v));
	CHECK(strcmp(r.log, "0123F") == 0);
	cf_vdev_close(r.inner);
}

/*
 * Crash at every write of a config update, with many seeds: the device
 * always keeps a valid config, old or new, at least one per end, and
 * once the first phase is durable the new one.
 */
static void test_config_update_crash(void)
{
	cf_label_config_t c, d;

	for (uint64_t at = 1; at <= 4; at++) {
		for (uint64_t seed = 0; seed < 40; seed++) {
			cf_fault_cfg_t cfg = { .crash_at_write = at,
			    .seed = seed, .keep_inner = 1 };
			cf_vdev_t *mem = NULL, *f = NULL;
			int n;

			CHECK_OK(cf_vdev_open_mem(2 * MIB, &mem));
			sample(&c, 10);
			CHECK_OK(cf_label_write_config(mem, &c));
			CHECK_OK(cf_vdev_open_fault(mem, &cfg, &f));
			sample(&c, 11);
			CHECK_RC(cf_label_write_config(f, &c), -EIO);
			CHECK(cf_vdev_fault_crashed(f));
			cf_vdev_close(f);
			n = cf_label_read_config(mem, &d);
			cf_vdev_close(mem);
			CHECK(n >= 2);
			CHECK(d.config_txg == 10 || d.config_txg == 11);
			if (at >= 3)
				CHECK(d.config_txg == 11);
		}
	}
}

static void test_label_small_device(void)
{
	cf_vdev_t v;
	cf_label_config_t c;
	uint8_t ub[CF_UB_SLOT_SIZE];

	memset(&v, 0, sizeof(v));
	v.size = CF_VDEV_MIN_OPEN_SIZE - CF_LABEL_SIZE;
	sample(&c, 1);
	CHECK_RC(cf_label_write_config(&v, &c), -EINVAL);
	CHECK_RC(cf_label_read_config(&v, &c), -EINVAL);
	CHECK_RC(cf_label_read_ub(&v, 0, 0, ub), -EINVAL);
	CHECK_RC(cf_label_wipe(&v), -EINVAL);
}

void test_main(void)
{
	RUN(test_round_trip);
	RUN(test_layout);
	RUN(test_decode_bit_flips);
	RUN(test_decode_hostile);
	RUN(test_decode_short_and_newer);
	RUN(test_write_read_config);
	RUN(test_write_invalid_config);
	RUN(test_damaged_copies);
	RUN(test_newer_version_labels);
	RUN(test_ub_slots);
	RUN(test_wipe);
	RUN(test_two_phase_order);
	RUN(test_config_update_crash);
	RUN(test_label_small_device);
}
