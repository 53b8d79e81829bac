/*
 * vdev: devices and their labels.
 *
 * A vdev is a byte-addressed device with read, write and flush.  Back
 * ends: regular file or block device (file.c), memory (mem.c) and a
 * fault-injecting wrapper for crash tests (fault.c).
 *
 * Device layout (all offsets in bytes, size rounded down to 256 KiB):
 *
 *   0      256K     512K                        size-512K  size-256K  size
 *   | L0    | L1     |  allocatable data area  ...  | L2       | L3       |
 *
 * Each label (256 KiB):
 *   [0, 64K)     config block: header, pool/vdev identity, checksum
 *   [64K, 128K)  reserved (zero)
 *   [128K, 256K) uberblock ring: CF_UB_SLOTS slots of CF_UB_SLOT_SIZE
 *
 * Invariants
 *  1. Labels are written in two phases: L0 and L2, flush, L1 and L3,
 *     flush, so a torn write leaves at least one good pair.
 *  2. The config block carries its own SHA-256; a label whose config
 *     fails verification is ignored, never trusted partially.
 *  3. The vdev layer does not interpret uberblocks: slots are opaque
 *     CF_UB_SLOT_SIZE byte arrays that spa encodes and verifies.
 *  4. cf_vdev_read/write refuse (-EINVAL) any range outside [0, size).
 *     Every back end accepts requests from several threads at once.
 */
#ifndef COFFER_VDEV_H
#define COFFER_VDEV_H

#include "util/util.h"

#define CF_SECTOR          4096u            /* allocation unit (ashift 12) */
#define CF_LABEL_SIZE      (256u * 1024)
#define CF_LABELS          4
#define CF_LABEL_CONFIG_SIZE (64u * 1024)
#define CF_UB_RING_OFF     (128u * 1024)
#define CF_UB_SLOT_SIZE    1024u
#define CF_UB_SLOTS        128u
#define CF_VDEV_DATA_START (2u * CF_LABEL_SIZE)
#define CF_VDEV_MIN_SIZE   (64u * 1024 * 1024)   /* 64 MiB */
/* Smallest device any open accepts (after rounding down): the four labels
 * and an empty data area.  Only CREATE insists on CF_VDEV_MIN_SIZE. */
#define CF_VDEV_MIN_OPEN_SIZE ((uint64_t)CF_LABELS * CF_LABEL_SIZE)
#define CF_MAX_VDEVS       64
#define CF_POOL_NAME_MAX   255

typedef struct cf_vdev cf_vdev_t;

struct cf_vdev_ops {
	int (*pread)(cf_vdev_t *v, uint64_t off, void *buf, size_t len);
	int (*pwrite)(cf_vdev_t *v, uint64_t off, const void *buf, size_t len);
	int (*flush)(cf_vdev_t *v);
	void (*close)(cf_vdev_t *v);
};

struct cf_vdev {
	const struct cf_vdev_ops *ops;
	uint64_t size;          /* bytes, multiple of CF_LABEL_SIZE */
	char *path;             /* for messages; may be NULL */
	void *priv;
};

#define CF_VDEV_RDONLY 0x1
#define CF_VDEV_CREATE 0x2      /* create a regular file of `size` bytes */
#define CF_VDEV_EXCL   0x4      /* with CREATE: fail if it exists */

/* Regular file or block device.  With CREATE, size is the new file's size
 * (at least CF_VDEV_MIN_SIZE); otherwise the size is read from the file
 * or the device (BLKGETSIZE64).  The vdev size is rounded down to a
 * multiple of CF_LABEL_SIZE.
 * Errors: -EINVAL (unknown flags, EXCL without CREATE, CREATE with
 * RDONLY or below CF_VDEV_MIN_SIZE, a path that is neither a regular file
 * nor a block device, a device smaller than CF_VDEV_MIN_OPEN_SIZE),
 * -EEXIST (CREATE|EXCL and the path exists), -ENOMEM, other -errno from
 * open/fstat/ftruncate.
 * CREATE without EXCL on an existing regular file grows it to `size` if
 * it is smaller and never shrinks it.  A write to a RDONLY vdev fails
 * with -EROFS (its flush succeeds: nothing to make durable). */
int cf_vdev_open_file(const char *path, int flags, uint64_t size,
    cf_vdev_t **out) CF_MUST_CHECK;
/* Zero-filled memory device of `size` bytes rounded down to a multiple of
 * CF_LABEL_SIZE (at least CF_VDEV_MIN_OPEN_SIZE, else -EINVAL). */
int cf_vdev_open_mem(uint64_t size, cf_vdev_t **out) CF_MUST_CHECK;

/*
 * Fault injection (SQLite's crash VFS is the model).  The wrapper keeps
 * every write since the last flush in memory (reads see them, later
 * writes winning).  flush() applies them to `inner` in issue order and
 * flushes it.  When the write counter reaches crash_at_write (1-based;
 * 0 = never), or cf_vdev_fault_crash() is called, the device "loses
 * power": each pending write is, chosen by the seeded PRNG according to
 * `modes`, dropped, applied whole, or torn (a random subset of its 512-byte
 * pieces applied; a piece is the part of the write inside one
 * 512-byte-aligned sector of the device); survivors are applied in issue
 * order and the inner vdev is flushed; then every later operation fails
 * with -EIO.  The crash_at_write'th write is itself one of the pending
 * writes at the crash, and its caller gets -EIO.  The outcome depends only
 * on the seed and the sequence of requests.  Closing the wrapper without
 * a crash writes the pending writes back and flushes (a clean shutdown).
 * The inner vdev is closed with the wrapper, unless `keep_inner` is set.
 * All operations are serialized by a mutex.  cfg may be NULL (never
 * crash); unknown mode bits are -EINVAL.
 */
#define CF_FAULT_DROP 0x1
#define CF_FAULT_APPLY 0x2
#define CF_FAULT_TEAR 0x4
typedef struct cf_fault_cfg {
	uint64_t crash_at_write;
	uint64_t seed;
	int modes;              /* OR of CF_FAULT_*; 0 means all three */
	int keep_inner;
	uint64_t fail_read_at;  /* make the Nth read fail with -EIO (0 never) */
} cf_fault_cfg_t;
int cf_vdev_open_fault(cf_vdev_t *inner, const cf_fault_cfg_t *cfg,
    cf_vdev_t **out) CF_MUST_CHECK;
/* These three do nothing (return 0) on a vdev that is not a wrapper. */
void cf_vdev_fault_crash(cf_vdev_t *v);
int cf_vdev_fault_crashed(cf_vdev_t *v);
/* Writes accepted so far, the crashing one included: run a workload once
 * with crash_at_write 0 to learn N, then crash at each of 1..N. */
uint64_t cf_vdev_fault_writes(cf_vdev_t *v);

int cf_vdev_read(cf_vdev_t *v, uint64_t off, void *buf, size_t len)
    CF_MUST_CHECK;
int cf_vdev_write(cf_vdev_t *v, uint64_t off, const void *buf, size_t len)
    CF_MUST_CHECK;
int cf_vdev_flush(cf_vdev_t *v) CF_MUST_CHECK;
void cf_vdev_close(cf_vdev_t *v);

/* First and end (exclusive) byte of the allocatable area. */
uint64_t cf_vdev_data_start(const cf_vdev_t *v);
uint64_t cf_vdev_data_end(const cf_vdev_t *v);

/* ---- labels ------------------------------------------------------------ */

#define CF_LABEL_MAGIC   0x434f464645524c42ULL  /* "COFFERLB" */
#define CF_LABEL_VERSION 1

/* Pool state recorded in the label */
#define CF_POOL_STATE_ACTIVE    0
#define CF_POOL_STATE_EXPORTED  1
#define CF_POOL_STATE_DESTROYED 2

typedef struct cf_label_config {
	uint64_t version;
	uint64_t pool_guid;
	char pool_name[CF_POOL_NAME_MAX + 1];
	uint64_t state;                 /* CF_POOL_STATE_* */
	uint64_t create_txg;
	uint64_t config_txg;            /* txg when this config was written */
	uint64_t vdev_guid;             /* this device */
	uint32_t vdev_index;            /* position in the stripe */
	uint32_t vdev_count;
	uint64_t vdev_guids[CF_MAX_VDEVS];
	uint64_t vdev_sizes[CF_MAX_VDEVS];   /* data area size of each */
	uint64_t features_incompat;     /* bit set; unknown bits refuse open */
	uint64_t features_ro_compat;    /* unknown bits: read-only open only */
	uint64_t hostid;
	char hostname[64];
} cf_label_config_t;

/* Encode to exactly CF_LABEL_CONFIG_SIZE bytes (with checksum). */
void cf_label_encode(const cf_label_config_t *c, uint8_t *buf);
/* Decode and verify; COFFER_ECORRUPT on any inconsistency (bad magic,
 * checksum, name not terminated, index >= count, count > max ...),
 * COFFER_ENOTSUP for a valid block of a newer version, -ENOMEM.  Only the
 * first CF_LABEL_CONFIG_SIZE bytes are looked at; shorter is corrupt.
 * The encoder writes CF_LABEL_VERSION whatever c->version says. */
int cf_label_decode(const uint8_t *buf, size_t len, cf_label_config_t *c)
    CF_MUST_CHECK;

/* Write the config to all four labels (two-phase, with flushes).  A
 * config that would not decode (empty name, index >= count ...) is
 * refused with -EINVAL and nothing is written. */
int cf_label_write_config(cf_vdev_t *v, const cf_label_config_t *c)
    CF_MUST_CHECK;
/* Read the newest valid config among the four labels.  Returns the
 * number of valid labels found (1..4), or COFFER_ECORRUPT if none
 * (COFFER_ENOTSUP instead when a label was written by a newer version;
 * the read error when no label could be read at all). */
int cf_label_read_config(cf_vdev_t *v, cf_label_config_t *c) CF_MUST_CHECK;

/* Write one uberblock slot in all four labels: L0 and L2, flush, then L1
 * and L3.  The final flush, which makes L1 and L3 durable, is the
 * caller's (cf_vdev_flush), so spa can flush every device once. */
int cf_label_write_ub(cf_vdev_t *v, unsigned slot,
    const uint8_t ub[CF_UB_SLOT_SIZE]) CF_MUST_CHECK;
/* Read slot `slot` of label `label` (0..3). */
int cf_label_read_ub(cf_vdev_t *v, unsigned label, unsigned slot,
    uint8_t ub[CF_UB_SLOT_SIZE]) CF_MUST_CHECK;
/* Read the whole uberblock ring of label `label` (CF_UB_SLOTS slots) in
 * one request; a slot that cannot be read is zeroed (an empty slot), so
 * one bad sector costs only the slots on it.  Fails only if no slot
 * could be read. */
int cf_label_read_ring(cf_vdev_t *v, unsigned label,
    uint8_t ring[CF_UB_SLOTS * CF_UB_SLOT_SIZE]) CF_MUST_CHECK;
/* Overwrite all four labels with zeros (pool destroy), then flush. */
int cf_label_wipe(cf_vdev_t *v) CF_MUST_CHECK;
/* Byte offset of label `label` (0..3) on v; UINT64_MAX for others. */
uint64_t cf_label_offset(const cf_vdev_t *v, unsigned label);

#endif
