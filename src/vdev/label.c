/*
 * label.c: the four labels of a device.
 *
 * A label (CF_LABEL_SIZE = 256 KiB) sits at each end of the device, two at
 * each end: L0 at 0, L1 at 256K, L2 at size - 512K, L3 at size - 256K.
 * Two at each end survive a scribble over either end; two at the same
 * end are never written between the same pair of flushes, so a write torn
 * by a crash can destroy at most one copy at each end.
 *
 *   [0, 64K)      config block (below)
 *   [64K, 128K)   reserved, zero (written as zeros with every config)
 *   [128K, 256K)  uberblock ring: CF_UB_SLOTS slots of CF_UB_SLOT_SIZE,
 *                 slot i at CF_UB_RING_OFF + i * CF_UB_SLOT_SIZE; opaque
 *                 here, encoded and verified by spa
 *
 * Config block, version 1 (all integers little-endian):
 *
 *   offset  size  field
 *   ------  ----  -----------------------------------------------------
 *        0     8  magic  0x434f464645524c42 ("COFFERLB" read as a u64;
 *                 the bytes on disk are 42 4c 52 45 46 46 4f 43)
 *        8     8  version (1)
 *       16     4  block_len: bytes covered by the checksum (65536)
 *       20     4  body_len: bytes of the block in use (1480 in v1);
 *                 bytes [body_len, block_len) are zero
 *       24    32  SHA-256 of the whole 65536-byte block, computed with
 *                 this field set to zeros
 *       56     8  pool_guid
 *       64     8  state (0 active, 1 exported, 2 destroyed)
 *       72     8  create_txg
 *       80     8  config_txg (txg when this config was written)
 *       88     8  vdev_guid (this device)
 *       96     4  vdev_index (position in the stripe, < vdev_count)
 *      100     4  vdev_count (1..64)
 *      104     8  features_incompat
 *      112     8  features_ro_compat
 *      120     8  hostid
 *      128     2  pool_name_len (1..255)
 *      130     2  hostname_len (0..63)
 *      132     4  reserved, zero
 *      136   256  pool_name: pool_name_len bytes, no NUL among them, then
 *                 zeros to the end of the field
 *      392    64  hostname: hostname_len bytes, no NUL, then zeros
 *      456   512  vdev_guids[64]: u64 each; entries >= vdev_count zero
 *      968   512  vdev_sizes[64]: data area bytes of each device;
 *                 entries >= vdev_count zero
 *     1480 64056  zero
 *
 * Invariants
 *  1. Decoding treats the block as hostile: every field is checked and
 *     anything not exactly as the encoder would write it (non-zero
 *     padding included) is COFFER_ECORRUPT, so for every block that
 *     decodes, encoding the result gives back the same bytes.
 *  2. The checksum is verified before any field other than magic and the
 *     two fixed header fields is believed; a newer version with a valid
 *     checksum is COFFER_ENOTSUP (made by a newer coffer), not corrupt.
 *  3. Config writes are two-phase (L0 and L2, flush, L1 and L3, flush):
 *     at every instant at least one copy at each end holds a complete
 *     config, either the old or the new one, and readers take the newest
 *     valid config_txg.  Uberblock slots are written the same way, with
 *     the final flush left to the caller (spa flushes every device once).
 */
#include "vdev/vdev.h"

#include <stdlib.h>

#include "crypto/crypto.h"

#define OFF_MAGIC        0
#define OFF_VERSION      8
#define OFF_BLOCK_LEN    16
#define OFF_BODY_LEN     20
#define OFF_CKSUM        24
#define OFF_POOL_GUID    56
#define OFF_STATE        64
#define OFF_CREATE_TXG   72
#define OFF_CONFIG_TXG   80
#define OFF_VDEV_GUID    88
#define OFF_VDEV_INDEX   96
#define OFF_VDEV_COUNT   100
#define OFF_FEAT_INCOMPAT 104
#define OFF_FEAT_RO      112
#define OFF_HOSTID       120
#define OFF_NAME_LEN     128
#define OFF_HOST_LEN     130
#define OFF_RESERVED     132
#define OFF_POOL_NAME    136
#define POOL_NAME_FIELD  (CF_POOL_NAME_MAX + 1)          /* 256 */
#define OFF_HOSTNAME     (OFF_POOL_NAME + POOL_NAME_FIELD) /* 392 */
#define HOSTNAME_FIELD   64
#define OFF_VDEV_GUIDS   (OFF_HOSTNAME + HOSTNAME_FIELD)   /* 456 */
#define OFF_VDEV_SIZES   (OFF_VDEV_GUIDS + 8 * CF_MAX_VDEVS) /* 968 */
#define BODY_LEN_V1      (OFF_VDEV_SIZES + 8 * CF_MAX_VDEVS) /* 1480 */
#define CKSUM_LEN        32

/* The struct's string arrays must match the fields they are stored in. */
_Static_assert(sizeof(((cf_label_config_t *)0)->pool_name) ==
    POOL_NAME_FIELD, "pool_name field");
_Static_assert(sizeof(((cf_label_config_t *)0)->hostname) ==
    HOSTNAME_FIELD, "hostname field");
_Static_assert(BODY_LEN_V1 == 1480, "config layout moved: update the table");
_Static_assert(CF_LABEL_CONFIG_SIZE <= CF_UB_RING_OFF, "config overlaps ring");
_Static_assert(CF_UB_RING_OFF + CF_UB_SLOTS * CF_UB_SLOT_SIZE <=
    CF_LABEL_SIZE, "ring overflows label");

/* Config block plus the reserved area after it: written together. */
#define CONFIG_WRITE_LEN CF_UB_RING_OFF

uint64_t cf_label_offset(const cf_vdev_t *v, unsigned label)
{
	/* An offset no I/O can use: the dispatcher refuses it. */
	if (label >= CF_LABELS)
		return UINT64_MAX;
	if (label < 2)
		return (uint64_t)label * CF_LABEL_SIZE;
	return v->size - (uint64_t)(CF_LABELS - label) * CF_LABEL_SIZE;
}

/* 1 when every byte of p[0, n) is zero. */
static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* SHA-256 of a block whose checksum field is already zero. */
static void block_cksum(const uint8_t *block, uint8_t out[CKSUM_LEN])
{
	cf_sha256(block, CF_LABEL_CONFIG_SIZE, out);
}

static void put_string(uint8_t *field, size_t field_len, const char *s,
    size_t len)
{
	memset(field, 0, field_len);
	memcpy(field, s, len);
}

void cf_label_encode(const cf_label_config_t *c, uint8_t *buf)
{
	/* The encoder trusts its caller; it only makes sure that a bad
	 * config cannot make it read or write out of bounds.  Such a
	 * config simply fails to decode. */
	size_t name_len = strnlen(c->pool_name, CF_POOL_NAME_MAX);
	size_t host_len = strnlen(c->hostname, HOSTNAME_FIELD - 1);
	uint32_t n = CF_MIN(c->vdev_count, (uint32_t)CF_MAX_VDEVS);
	uint8_t sum[CKSUM_LEN];

	memset(buf, 0, CF_LABEL_CONFIG_SIZE);
	le64_put(buf + OFF_MAGIC, CF_LABEL_MAGIC);
	le64_put(buf + OFF_VERSION, CF_LABEL_VERSION);
	le32_put(buf + OFF_BLOCK_LEN, CF_LABEL_CONFIG_SIZE);
	le32_put(buf + OFF_BODY_LEN, BODY_LEN_V1);
	le64_put(buf + OFF_POOL_GUID, c->pool_guid);
	le64_put(buf + OFF_STATE, c->state);
	le64_put(buf + OFF_CREATE_TXG, c->create_txg);
	le64_put(buf + OFF_CONFIG_TXG, c->config_txg);
	le64_put(buf + OFF_VDEV_GUID, c->vdev_guid);
	le32_put(buf + OFF_VDEV_INDEX, c->vdev_index);
	le32_put(buf + OFF_VDEV_COUNT, c->vdev_count);
	le64_put(buf + OFF_FEAT_INCOMPAT, c->features_incompat);
	le64_put(buf + OFF_FEAT_RO, c->features_ro_compat);
	le64_put(buf + OFF_HOSTID, c->hostid);
	le16_put(buf + OFF_NAME_LEN, (uint16_t)name_len);
	le16_put(buf + OFF_HOST_LEN, (uint16_t)host_len);
	put_string(buf + OFF_POOL_NAME, POOL_NAME_FIELD, c->pool_name,
	    name_len);
	put_string(buf + OFF_HOSTNAME, HOSTNAME_FIELD, c->hostname, host_len);
	for (uint32_t i = 0; i < n; i++) {
		le64_put(buf + OFF_VDEV_GUIDS + 8 * i, c->vdev_guids[i]);
		le64_put(buf + OFF_VDEV_SIZES + 8 * i, c->vdev_sizes[i]);
	}
	block_cksum(buf, sum);
	memcpy(buf + OFF_CKSUM, sum, CKSUM_LEN);
}

/* Decode a string field: exactly `len` non-NUL bytes, then zeros. */
static int get_string(const uint8_t *field, size_t field_len, size_t len,
    char *out)
{
	if (len >= field_len)
		return CF_CORRUPT();
	if (memchr(field, '\0', len) != NULL)
		return CF_CORRUPT();
	if (!all_zero(field + len, field_len - len))
		return CF_CORRUPT();
	memcpy(out, field, len);
	out[len] = '\0';
	return 0;
}

/* Verify the checksum; `blk` is the block as read (not modified). */
static int verify_cksum(const uint8_t *blk)
{
	uint8_t *copy = malloc(CF_LABEL_CONFIG_SIZE);
	uint8_t sum[CKSUM_LEN];
	int ok;

	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, blk, CF_LABEL_CONFIG_SIZE);
	memset(copy + OFF_CKSUM, 0, CKSUM_LEN);
	block_cksum(copy, sum);
	free(copy);
	/* Not a secret: an ordinary compare is fine. */
	ok = memcmp(sum, blk + OFF_CKSUM, CKSUM_LEN) == 0;
	return ok ? 0 : CF_CORRUPT();
}

int cf_label_decode(const uint8_t *buf, size_t len, cf_label_config_t *c)
{
	cf_label_config_t t;
	uint64_t version;
	uint32_t n;
	int rc;

	if (buf == NULL || c == NULL)
		return -EINVAL;
	if (len < CF_LABEL_CONFIG_SIZE)
		return CF_CORRUPT();
	if (le64_get(buf + OFF_MAGIC) != CF_LABEL_MAGIC)
		return CF_CORRUPT();
	version = le64_get(buf + OFF_VERSION);
	if (version == 0)
		return CF_CORRUPT();
	/* The block size is the same in every version: the config area is
	 * fixed by the label layout. */
	if (le32_get(buf + OFF_BLOCK_LEN) != CF_LABEL_CONFIG_SIZE)
		return CF_CORRUPT();
	rc = verify_cksum(buf);
	if (rc != 0)
		return rc;
	if (version > CF_LABEL_VERSION)
		return COFFER_ENOTSUP;

	if (le32_get(buf + OFF_BODY_LEN) != BODY_LEN_V1)
		return CF_CORRUPT();
	if (!all_zero(buf + BODY_LEN_V1, CF_LABEL_CONFIG_SIZE - BODY_LEN_V1))
		return CF_CORRUPT();
	if (le32_get(buf + OFF_RESERVED) != 0)
		return CF_CORRUPT();

	memset(&t, 0, sizeof(t));
	t.version = version;
	t.pool_guid = le64_get(buf + OFF_POOL_GUID);
	t.state = le64_get(buf + OFF_STATE);
	t.create_txg = le64_get(buf + OFF_CREATE_TXG);
	t.config_txg = le64_get(buf + OFF_CONFIG_TXG);
	t.vdev_guid = le64_get(buf + OFF_VDEV_GUID);
	t.vdev_index = le32_get(buf + OFF_VDEV_INDEX);
	t.vdev_count = le32_get(buf + OFF_VDEV_COUNT);
	t.features_incompat = le64_get(buf + OFF_FEAT_INCOMPAT);
	t.features_ro_compat = le64_get(buf + OFF_FEAT_RO);
	t.hostid = le64_get(buf + OFF_HOSTID);

	if (t.state > CF_POOL_STATE_DESTROYED)
		return CF_CORRUPT();
	if (t.vdev_count == 0 || t.vdev_count > CF_MAX_VDEVS ||
	    t.vdev_index >= t.vdev_count)
		return CF_CORRUPT();

	if (le16_get(buf + OFF_NAME_LEN) == 0)
		return CF_CORRUPT();
	rc = get_string(buf + OFF_POOL_NAME, POOL_NAME_FIELD,
	    le16_get(buf + OFF_NAME_LEN), t.pool_name);
	if (rc != 0)
		return rc;
	rc = get_string(buf + OFF_HOSTNAME, HOSTNAME_FIELD,
	    le16_get(buf + OFF_HOST_LEN), t.hostname);
	if (rc != 0)
		return rc;

	n = t.vdev_count;
	for (uint32_t i = 0; i < n; i++) {
		t.vdev_guids[i] = le64_get(buf + OFF_VDEV_GUIDS + 8 * i);
		t.vdev_sizes[i] = le64_get(buf + OFF_VDEV_SIZES + 8 * i);
	}
	if (!all_zero(buf + OFF_VDEV_GUIDS + 8 * n, 8 * (CF_MAX_VDEVS - n)) ||
	    !all_zero(buf + OFF_VDEV_SIZES + 8 * n, 8 * (CF_MAX_VDEVS - n)))
		return CF_CORRUPT();

	*c = t;
	return 0;
}

/* Labels need the whole label layout to fit (the open functions ensure
 * it; a hand-made handle might not). */
static int check_dev(const cf_vdev_t *v)
{
	if (v == NULL || v->size < CF_VDEV_MIN_OPEN_SIZE ||
	    v->size % CF_LABEL_SIZE != 0)
		return -EINVAL;
	return 0;
}

static int write_labels(cf_vdev_t *v, unsigned a, unsigned b, uint64_t rel,
    const uint8_t *buf, size_t len)
{
	int rc = cf_vdev_write(v, cf_label_offset(v, a) + rel, buf, len);

	if (rc == 0)
		rc = cf_vdev_write(v, cf_label_offset(v, b) + rel, buf, len);
	return rc;
}

int cf_label_write_config(cf_vdev_t *v, const cf_label_config_t *c)
{
	cf_label_config_t check;
	uint8_t *buf;
	int rc;

	if (c == NULL)
		return -EINVAL;
	if ((rc = check_dev(v)) != 0)
		return rc;
	/* Config block and the reserved area after it, which stays zero. */
	buf = calloc(1, CONFIG_WRITE_LEN);
	if (buf == NULL)
		return -ENOMEM;
	cf_label_encode(c, buf);
	/* Never put on disk a label that no reader would accept (an empty
	 * pool name, an index past the count ...). */
	rc = cf_label_decode(buf, CF_LABEL_CONFIG_SIZE, &check);
	if (rc != 0) {
		free(buf);
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	rc = write_labels(v, 0, 2, 0, buf, CONFIG_WRITE_LEN);
	if (rc == 0)
		rc = cf_vdev_flush(v);
	if (rc == 0)
		rc = write_labels(v, 1, 3, 0, buf, CONFIG_WRITE_LEN);
	if (rc == 0)
		rc = cf_vdev_flush(v);
	free(buf);
	return rc;
}

int cf_label_read_config(cf_vdev_t *v, cf_label_config_t *c)
{
	cf_label_config_t best, cur;
	int nvalid = 0, nio = 0, notsup = 0, ioerr = 0;
	uint8_t *buf;
	int rc;

	if (c == NULL)
		return -EINVAL;
	if ((rc = check_dev(v)) != 0)
		return rc;
	buf = malloc(CF_LABEL_CONFIG_SIZE);
	if (buf == NULL)
		return -ENOMEM;
	memset(&best, 0, sizeof(best));
	for (unsigned l = 0; l < CF_LABELS; l++) {
		rc = cf_vdev_read(v, cf_label_offset(v, l), buf,
		    CF_LABEL_CONFIG_SIZE);
		if (rc != 0) {
			nio++;
			ioerr = rc;
			continue;
		}
		rc = cf_label_decode(buf, CF_LABEL_CONFIG_SIZE, &cur);
		if (rc == -ENOMEM) {
			free(buf);
			return rc;
		}
		if (rc == COFFER_ENOTSUP)
			notsup = 1;
		if (rc != 0)
			continue;
		/* Ties go to the lower label: any valid copy is as good. */
		if (nvalid == 0 || cur.config_txg > best.config_txg)
			best = cur;
		nvalid++;
	}
	free(buf);
	if (nvalid > 0) {
		*c = best;
		return nvalid;
	}
	/* Say the most useful thing about why nothing was found. */
	if (notsup)
		return COFFER_ENOTSUP;
	if (nio == CF_LABELS)
		return ioerr;
	return COFFER_ECORRUPT;
}

static int ub_offset(const cf_vdev_t *v, unsigned label, unsigned slot,
    uint64_t *off)
{
	int rc = check_dev(v);

	if (rc != 0)
		return rc;
	if (label >= CF_LABELS || slot >= CF_UB_SLOTS)
		return -EINVAL;
	*off = cf_label_offset(v, label) + CF_UB_RING_OFF +
	    (uint64_t)slot * CF_UB_SLOT_SIZE;
	return 0;
}

int cf_label_write_ub(cf_vdev_t *v, unsigned slot,
    const uint8_t ub[CF_UB_SLOT_SIZE])
{
	uint64_t rel;
	int rc;

	if (ub == NULL)
		return -EINVAL;
	rc = ub_offset(v, 0, slot, &rel);
	if (rc != 0)
		return rc;
	rel -= cf_label_offset(v, 0);
	rc = write_labels(v, 0, 2, rel, ub, CF_UB_SLOT_SIZE);
	if (rc == 0)
		rc = cf_vdev_flush(v);
	if (rc == 0)
		rc = write_labels(v, 1, 3, rel, ub, CF_UB_SLOT_SIZE);
	/* The flush that makes L1 and L3 durable is the caller's. */
	return rc;
}

int cf_label_read_ub(cf_vdev_t *v, unsigned label, unsigned slot,
    uint8_t ub[CF_UB_SLOT_SIZE])
{
	uint64_t off;
	int rc;

	if (ub == NULL)
		return -EINVAL;
	rc = ub_offset(v, label, slot, &off);
	if (rc != 0)
		return rc;
	return cf_vdev_read(v, off, ub, CF_UB_SLOT_SIZE);
}

int cf_label_read_ring(cf_vdev_t *v, unsigned label,
    uint8_t ring[CF_UB_SLOTS * CF_UB_SLOT_SIZE])
{
	uint64_t off;
	int rc, nok = 0, last = 0;

	if (ring == NULL)
		return -EINVAL;
	rc = ub_offset(v, label, 0, &off);
	if (rc != 0)
		return rc;
	if (cf_vdev_read(v, off, ring, CF_UB_SLOTS * CF_UB_SLOT_SIZE) == 0)
		return 0;
	/* an error somewhere in it: slot by slot, keeping what reads */
	for (unsigned s = 0; s < CF_UB_SLOTS; s++) {
		uint8_t *p = ring + (size_t)s * CF_UB_SLOT_SIZE;
		last = cf_label_read_ub(v, label, s, p);
		if (last == 0)
			nok++;
		else
			memset(p, 0, CF_UB_SLOT_SIZE);
	}
	return nok ? 0 : last;
}

int cf_label_wipe(cf_vdev_t *v)
{
	uint8_t *zero;
	int rc;

	if ((rc = check_dev(v)) != 0)
		return rc;
	zero = calloc(1, CF_LABEL_SIZE);
	if (zero == NULL)
		return -ENOMEM;
	for (unsigned l = 0; l < CF_LABELS && rc == 0; l++)
		rc = cf_vdev_write(v, cf_label_offset(v, l), zero,
		    CF_LABEL_SIZE);
	if (rc == 0)
		rc = cf_vdev_flush(v);
	free(zero);
	return rc;
}
