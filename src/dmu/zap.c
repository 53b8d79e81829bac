/*
 * zap.c - hashed key-value objects (extendible hashing over dmu objects).
 *
 * A zap maps keys (strings of 0..255 bytes without NUL) to values (0..1024
 * bytes).  It lives in one dmu object whose data block size is
 * CF_ZAP_BLKSZ (16 KiB); it uses only the object API of dmu.h, so it
 * works the same in every object set (the MOS included).
 *
 * Design
 *  - Every key has a 64-bit hash: SipHash-2-4 keyed with a 128-bit salt
 *    chosen at random when the zap is created (so names chosen by an
 *    adversary cannot be made to collide).  Only the top 48 bits are used.
 *  - Every entry has a 64-bit POSITION: (top 48 hash bits << 16) | cd,
 *    where cd (collision differentiator, 0..0x7fff) is the lowest value
 *    not used by another entry with the same 48 hash bits, chosen when the
 *    entry is added and never changed while it exists (an update keeps
 *    it).  Positions are unique within a zap.
 *  - Extendible hashing: a pointer table of 2^depth leaf block ids is
 *    indexed by the top `depth` bits of a position.  A leaf with local
 *    depth d holds exactly the entries whose top d bits equal its prefix;
 *    2^(depth-d) consecutive table slots point at it.  A full leaf is
 *    split on bit d+1 (doubling the table first when d == depth).  Lookup,
 *    add and remove read block 0, one table slot and one leaf: O(1) block
 *    reads whatever the size.  Doubling the table costs O(table) once per
 *    doubling, so O(1) amortized per add.
 *  - Iteration goes in position order: leaves cover contiguous position
 *    ranges and entries inside a leaf are sorted by position.  The cookie
 *    is the position from which to continue; the callback receives
 *    position + 1.  Since positions never change while an entry exists,
 *    adds, removes, updates and splits never make an iteration skip or
 *    repeat an entry that exists throughout.  Entries added during an
 *    iteration may or may not be seen.
 *  - When the callback returns non-zero, *cookie is left AT that entry (not
 *    past it): a caller that stops because its buffer is full resumes with
 *    the entry it refused.
 *
 * On-disk layout (all integers little-endian, version 1)
 *
 *   Block 0, the header (bytes 0..71 hold fields; bytes 72..8191 zero):
 *      0  u64  magic           0x31482d50415a4643 ("CFZAP-H1")
 *      8  u16  version         1
 *     10  u8   depth           global depth g, 0..32
 *     11  u8   reserved        0
 *     12  u32  reserved        0
 *     16  u64  entries         number of keys
 *     24  u64  salt0           SipHash key, first half
 *     32  u64  salt1           SipHash key, second half
 *     40  u64  table block     first block of the pointer table, or 0 when
 *                              the table is embedded in block 0 (g <= 10)
 *     48  u64  table blocks    number of table blocks: 0 when embedded,
 *                              else 2^g * 8 / 16384 = 2^(g-11)
 *     56  u64  next free       next unused block id (ids only grow; blocks
 *                              of an outgrown table become holes)
 *     64  u64  leaves          number of leaf blocks (for checks and stats)
 *   8192  u64[1024]            the embedded pointer table (slots 0..2^g-1)
 *
 *   Pointer table: 2^g u64 leaf block ids, slot i for positions whose top
 *   g bits are i.  Embedded at byte 8192 of block 0 while g <= 10; from
 *   g = 11 on, in `table blocks` consecutive blocks starting at `table
 *   block`.  Doubling writes a new table (slot i -> slots 2i and 2i+1) at
 *   `next free` and frees the old one.
 *
 *   Leaf block:
 *      0  u32  magic           0x31464c5a ("ZLF1")
 *      4  u8   local depth d   0..min(g, 48)
 *      5  u8   reserved        0
 *      6  u16  nentries
 *      8  u64  prefix          top d bits of the positions held (< 2^d)
 *     16  u32  used            bytes of entries following the header
 *     20  u8[12] reserved      0
 *     32  entries, packed, in strictly increasing position order:
 *            0  u64  position  (hash >> 16 << 16) | cd
 *            8  u8   key length k (0..255; a key holds no NUL byte)
 *            9  u16  value length v (0..1024)
 *           11  k bytes of key, then v bytes of value
 *     32+used .. 16383: zero
 *
 * Trust: every byte read from the object is hostile.  Header fields,
 * table slots and leaves are bounds-checked before use and any
 * inconsistency returns COFFER_ECORRUPT through CF_CORRUPT().
 *
 * Concurrency: a striped rwlock keyed by (object set, object) makes each
 * call atomic with respect to other zap calls on the same zap.  It is
 * never held while an iteration callback runs, so callbacks may change
 * the zap they iterate.  Multi-step logic still needs the caller's locks.
 */
#include "dmu/zap_impl.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <sys/random.h>

#define ZB              ((uint64_t)CF_ZAP_BLKSZ)
#define LEAF_CAP        (CF_ZAP_BLKSZ - CF_ZAP_LEAF_HDR)
#define LEAF_MAXENT     (LEAF_CAP / CF_ZAP_ENT_HDR)
#define PTRS_PER_BLK    (CF_ZAP_BLKSZ / 8)
#define EMBED_SLOTS     (1u << CF_ZAP_EMBED_DEPTH)
#define HASH_MASK       (~(uint64_t)0xffff)
#define MAX_ROUNDS      80      /* bound on split-and-retry loops */

uint64_t (*cf_zap_hash_hook)(const char *key, size_t len);

struct zhdr {
	unsigned depth;
	uint64_t entries;
	uint64_t salt0, salt1;
	uint64_t tblk, tnblk;
	uint64_t nextfree;
	uint64_t nleaves;
};

struct zleaf {
	uint64_t blk;
	unsigned depth;
	uint64_t prefix;
	uint32_t used;
	uint32_t n;
	uint16_t off[LEAF_MAXENT];
	uint8_t buf[CF_ZAP_BLKSZ];
};

/* ---- locking ----------------------------------------------------------- */

#define ZAP_NLOCKS 64
static pthread_rwlock_t zap_locks[ZAP_NLOCKS];
static pthread_once_t zap_locks_once = PTHREAD_ONCE_INIT;

static void zap_locks_init(void)
{
	for (int i = 0; i < ZAP_NLOCKS; i++)
		pthread_rwlock_init(&zap_locks[i], NULL);
}

static pthread_rwlock_t *zap_lock(cf_objset_t *os, uint64_t obj)
{
	uint64_t h = ((uint64_t)(uintptr_t)os ^ (obj * 0x9e3779b97f4a7c15ULL));
	h *= 0xbf58476d1ce4e5b9ULL;
	pthread_once(&zap_locks_once, zap_locks_init);
	return &zap_locks[h >> 58];
}

/* ---- hashing ----------------------------------------------------------- */

static inline uint64_t rotl64(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND do { \
	v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32); \
	v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32); \
} while (0)

uint64_t cf_zap_siphash(uint64_t k0, uint64_t k1, const void *msg,
    size_t len)
{
	const uint8_t *m = msg;
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
	uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
	uint64_t v3 = k1 ^ 0x7465646279746573ULL;
	size_t i, full = len & ~(size_t)7;

	for (i = 0; i < full; i += 8) {
		uint64_t w = le64_get(m + i);
		v3 ^= w;
		SIPROUND;
		SIPROUND;
		v0 ^= w;
	}
	uint64_t b = (uint64_t)len << 56;
	for (size_t j = 0; j < (len & 7); j++)
		b |= (uint64_t)m[full + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* Position base of a key: top 48 hash bits, cd bits zero. */
static uint64_t key_hash(const struct zhdr *h, const char *key, size_t klen)
{
	uint64_t v;
	if (cf_zap_hash_hook)
		v = cf_zap_hash_hook(key, klen);
	else
		v = cf_zap_siphash(h->salt0, h->salt1, key, klen);
	return v & HASH_MASK;
}

/* Top `bits` bits of v (0 when bits == 0). */
static inline uint64_t top_bits(uint64_t v, unsigned bits)
{
	return bits ? v >> (64 - bits) : 0;
}

/* ---- header ------------------------------------------------------------ */

static int hdr_read(cf_objset_t *os, uint64_t obj, struct zhdr *h)
{
	uint8_t b[CF_ZAP_HDR_LEN];
	int rc = cf_obj_read(os, obj, 0, sizeof(b), b);
	if (rc)
		return rc;
	if (le64_get(b) != CF_ZAP_HDR_MAGIC)
		return CF_CORRUPT();
	if (le16_get(b + 8) != CF_ZAP_VERSION)
		return COFFER_ENOTSUP;
	h->depth = b[10];
	h->entries = le64_get(b + 16);
	h->salt0 = le64_get(b + 24);
	h->salt1 = le64_get(b + 32);
	h->tblk = le64_get(b + 40);
	h->tnblk = le64_get(b + 48);
	h->nextfree = le64_get(b + 56);
	h->nleaves = le64_get(b + 64);

	if (h->depth > CF_ZAP_MAXDEPTH)
		return CF_CORRUPT();
	if (h->nextfree < 2 || h->nextfree > CF_ZAP_MAXBLK)
		return CF_CORRUPT();
	if (h->nleaves < 1 || h->nleaves >= h->nextfree)
		return CF_CORRUPT();
	if (h->depth <= CF_ZAP_EMBED_DEPTH) {
		if (h->tblk != 0 || h->tnblk != 0)
			return CF_CORRUPT();
	} else {
		uint64_t need = 1ULL << (h->depth - 11);
		if (h->tnblk != need || h->tblk < 1 ||
		    h->tblk >= h->nextfree || h->nextfree - h->tblk < need)
			return CF_CORRUPT();
	}
	return 0;
}

static int hdr_write(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    const struct zhdr *h)
{
	uint8_t b[CF_ZAP_HDR_LEN];
	memset(b, 0, sizeof(b));
	le64_put(b, CF_ZAP_HDR_MAGIC);
	le16_put(b + 8, CF_ZAP_VERSION);
	b[10] = (uint8_t)h->depth;
	le64_put(b + 16, h->entries);
	le64_put(b + 24, h->salt0);
	le64_put(b + 32, h->salt1);
	le64_put(b + 40, h->tblk);
	le64_put(b + 48, h->tnblk);
	le64_put(b + 56, h->nextfree);
	le64_put(b + 64, h->nleaves);
	return cf_obj_write(os, tx, obj, 0, sizeof(b), b);
}

/* ---- pointer table ----------------------------------------------------- */

static uint64_t tbl_off(const struct zhdr *h, uint64_t slot)
{
	if (h->tblk == 0)
		return CF_ZAP_EMBED_OFF + slot * 8;
	return h->tblk * ZB + slot * 8;
}

static int ptr_get(cf_objset_t *os, uint64_t obj, const struct zhdr *h,
    uint64_t slot, uint64_t *blk)
{
	uint8_t b[8];
	int rc = cf_obj_read(os, obj, tbl_off(h, slot), 8, b);
	if (rc)
		return rc;
	*blk = le64_get(b);
	if (*blk == 0 || *blk >= h->nextfree)
		return CF_CORRUPT();
	if (h->tblk && *blk >= h->tblk && *blk - h->tblk < h->tnblk)
		return CF_CORRUPT();
	return 0;
}

/* Set `count` slots starting at `slot` to blk. */
static int ptr_set_range(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    const struct zhdr *h, uint64_t slot, uint64_t count, uint64_t blk)
{
	uint8_t *b = malloc(CF_ZAP_BLKSZ);
	int rc = 0;
	if (!b)
		return -ENOMEM;
	for (uint64_t i = 0; i < PTRS_PER_BLK && i < count; i++)
		le64_put(b + 8 * i, blk);
	while (count > 0 && rc == 0) {
		uint64_t n = CF_MIN(count, (uint64_t)PTRS_PER_BLK);
		rc = cf_obj_write(os, tx, obj, tbl_off(h, slot), n * 8, b);
		slot += n;
		count -= n;
	}
	free(b);
	return rc;
}

/* Double the pointer table: slot i becomes slots 2i and 2i+1. */
static int tbl_grow(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    struct zhdr *h)
{
	unsigned g = h->depth;
	uint64_t nold = 1ULL << g;
	uint8_t *b;
	int rc = 0;

	if (g >= CF_ZAP_MAXDEPTH)
		return -ENOSPC;
	b = malloc(CF_ZAP_BLKSZ);
	if (!b)
		return -ENOMEM;
	if (g + 1 <= CF_ZAP_EMBED_DEPTH) {
		rc = cf_obj_read(os, obj, CF_ZAP_EMBED_OFF, nold * 8, b);
		if (rc == 0) {
			for (uint64_t i = nold; i-- > 0;) {
				uint64_t p = le64_get(b + 8 * i);
				le64_put(b + 16 * i, p);
				le64_put(b + 16 * i + 8, p);
			}
			rc = cf_obj_write(os, tx, obj, CF_ZAP_EMBED_OFF,
			    nold * 16, b);
		}
	} else {
		uint64_t nnew = 1ULL << (g + 1 - 11);
		uint64_t start = h->nextfree;
		uint64_t half = PTRS_PER_BLK / 2;
		if (start > CF_ZAP_MAXBLK - nnew) {
			free(b);
			return -ENOSPC;
		}
		/* each chunk of `half` old slots fills one new block */
		for (uint64_t c = 0; c * half < nold && rc == 0; c++) {
			uint64_t n = CF_MIN(half, nold - c * half);
			rc = cf_obj_read(os, obj, tbl_off(h, c * half), n * 8,
			    b);
			if (rc)
				break;
			for (uint64_t i = n; i-- > 0;) {
				uint64_t p = le64_get(b + 8 * i);
				le64_put(b + 16 * i, p);
				le64_put(b + 16 * i + 8, p);
			}
			rc = cf_obj_write(os, tx, obj, (start + c) * ZB,
			    n * 16, b);
		}
		if (rc == 0) {
			if (h->tblk) {
				rc = cf_obj_free_range(os, tx, obj,
				    h->tblk * ZB, h->tnblk * ZB);
			} else {
				memset(b, 0, CF_ZAP_BLKSZ);
				rc = cf_obj_write(os, tx, obj,
				    CF_ZAP_EMBED_OFF, EMBED_SLOTS * 8, b);
			}
		}
		if (rc == 0) {
			h->tblk = start;
			h->tnblk = nnew;
			h->nextfree = start + nnew;
		}
	}
	free(b);
	if (rc)
		return rc;
	h->depth = g + 1;
	return hdr_write(os, tx, obj, h);
}

/* ---- leaves ------------------------------------------------------------ */

static inline uint64_t ent_pos(const struct zleaf *l, uint32_t i)
{
	return le64_get(l->buf + l->off[i]);
}
static inline uint32_t ent_klen(const struct zleaf *l, uint32_t i)
{
	return l->buf[l->off[i] + 8];
}
static inline uint32_t ent_vlen(const struct zleaf *l, uint32_t i)
{
	return le16_get(l->buf + l->off[i] + 9);
}
static inline const uint8_t *ent_key(const struct zleaf *l, uint32_t i)
{
	return l->buf + l->off[i] + CF_ZAP_ENT_HDR;
}
static inline const uint8_t *ent_val(const struct zleaf *l, uint32_t i)
{
	return ent_key(l, i) + ent_klen(l, i);
}
static inline uint32_t ent_size(const struct zleaf *l, uint32_t i)
{
	return CF_ZAP_ENT_HDR + ent_klen(l, i) + ent_vlen(l, i);
}

/* Rebuild off[] from trusted (already validated or self-built) bytes. */
static void leaf_reindex(struct zleaf *l)
{
	uint32_t o = CF_ZAP_LEAF_HDR;
	for (uint32_t i = 0; i < l->n; i++) {
		l->off[i] = (uint16_t)o;
		o += CF_ZAP_ENT_HDR + l->buf[o + 8] + le16_get(l->buf + o + 9);
	}
}

/*
 * Decode and check a leaf read through table slot `slot` of a table of
 * depth g.
 */
static int leaf_parse(struct zleaf *l, unsigned g, uint64_t slot)
{
	const uint8_t *b = l->buf;
	uint32_t o, end;
	uint64_t prev = 0;

	if (le32_get(b) != CF_ZAP_LEAF_MAGIC)
		return CF_CORRUPT();
	l->depth = b[4];
	l->n = le16_get(b + 6);
	l->prefix = le64_get(b + 8);
	l->used = le32_get(b + 16);
	if (l->depth > g || l->depth > CF_ZAP_HASHBITS)
		return CF_CORRUPT();
	if (l->prefix != (slot >> (g - l->depth)))
		return CF_CORRUPT();
	if (l->used > LEAF_CAP || l->n > LEAF_MAXENT)
		return CF_CORRUPT();
	o = CF_ZAP_LEAF_HDR;
	end = CF_ZAP_LEAF_HDR + l->used;
	for (uint32_t i = 0; i < l->n; i++) {
		uint64_t pos;
		uint32_t klen, vlen, sz;
		if (end - o < CF_ZAP_ENT_HDR)
			return CF_CORRUPT();
		pos = le64_get(b + o);
		klen = b[o + 8];
		vlen = le16_get(b + o + 9);
		sz = CF_ZAP_ENT_HDR + klen + vlen;
		if (vlen > CF_ZAP_MAXVAL || end - o < sz)
			return CF_CORRUPT();
		if ((i > 0 && pos <= prev) || (pos & 0xffff) > CF_ZAP_MAXCD)
			return CF_CORRUPT();
		if (top_bits(pos, l->depth) != l->prefix)
			return CF_CORRUPT();
		/* A NUL inside a key is checked where keys leave the zap
		 * (iteration); a lookup compares klen bytes and so can never
		 * match such a key. */
		l->off[i] = (uint16_t)o;
		o += sz;
		prev = pos;
	}
	if (o != end)
		return CF_CORRUPT();
	return 0;
}

/* Load the leaf that table slot `slot` points at. */
static int leaf_load(cf_objset_t *os, uint64_t obj, const struct zhdr *h,
    uint64_t slot, struct zleaf *l)
{
	int rc = ptr_get(os, obj, h, slot, &l->blk);
	if (rc)
		return rc;
	rc = cf_obj_read(os, obj, l->blk * ZB, ZB, l->buf);
	if (rc)
		return rc;
	return leaf_parse(l, h->depth, slot);
}

static void leaf_init(struct zleaf *l, uint64_t blk, unsigned depth,
    uint64_t prefix)
{
	memset(l->buf, 0, sizeof(l->buf));
	l->blk = blk;
	l->depth = depth;
	l->prefix = prefix;
	l->used = 0;
	l->n = 0;
}

static int leaf_write(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    struct zleaf *l)
{
	uint8_t *b = l->buf;
	le32_put(b, CF_ZAP_LEAF_MAGIC);
	b[4] = (uint8_t)l->depth;
	b[5] = 0;
	le16_put(b + 6, (uint16_t)l->n);
	le64_put(b + 8, l->prefix);
	le32_put(b + 16, l->used);
	memset(b + 20, 0, 12);
	memset(b + CF_ZAP_LEAF_HDR + l->used, 0, LEAF_CAP - l->used);
	return cf_obj_write(os, tx, obj, l->blk * ZB, ZB, b);
}

/* First index whose position is >= pos. */
static uint32_t leaf_lower_bound(const struct zleaf *l, uint64_t pos)
{
	uint32_t lo = 0, hi = l->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (ent_pos(l, mid) < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Index of `key` (hash base hb) or -1. */
static int leaf_find(const struct zleaf *l, uint64_t hb, const char *key,
    size_t klen)
{
	for (uint32_t i = leaf_lower_bound(l, hb); i < l->n; i++) {
		if ((ent_pos(l, i) & HASH_MASK) != hb)
			break;
		if (ent_klen(l, i) == klen &&
		    memcmp(ent_key(l, i), key, klen) == 0)
			return (int)i;
	}
	return -1;
}

/* Lowest cd not used by an entry with hash base hb; > MAXCD if none. */
static uint32_t leaf_free_cd(const struct zleaf *l, uint64_t hb)
{
	uint32_t cd = 0;
	for (uint32_t i = leaf_lower_bound(l, hb); i < l->n; i++) {
		uint64_t p = ent_pos(l, i);
		if ((p & HASH_MASK) != hb || (p & 0xffff) != cd)
			break;
		cd++;
	}
	return cd;
}

static void leaf_insert(struct zleaf *l, uint64_t pos, const char *key,
    size_t klen, const void *val, size_t vlen)
{
	uint32_t at = leaf_lower_bound(l, pos);
	uint32_t o = at < l->n ? l->off[at] : CF_ZAP_LEAF_HDR + l->used;
	uint32_t sz = CF_ZAP_ENT_HDR + (uint32_t)klen + (uint32_t)vlen;
	uint8_t *b = l->buf;

	memmove(b + o + sz, b + o, CF_ZAP_LEAF_HDR + l->used - o);
	le64_put(b + o, pos);
	b[o + 8] = (uint8_t)klen;
	le16_put(b + o + 9, (uint16_t)vlen);
	memcpy(b + o + CF_ZAP_ENT_HDR, key, klen);
	if (vlen)
		memcpy(b + o + CF_ZAP_ENT_HDR + klen, val, vlen);
	memmove(l->off + at + 1, l->off + at, (l->n - at) * sizeof(l->off[0]));
	l->off[at] = (uint16_t)o;
	for (uint32_t i = at + 1; i <= l->n; i++)
		l->off[i] = (uint16_t)(l->off[i] + sz);
	l->used += sz;
	l->n++;
}

static void leaf_delete(struct zleaf *l, uint32_t at)
{
	uint32_t o = l->off[at], sz = ent_size(l, at);
	uint32_t end = CF_ZAP_LEAF_HDR + l->used;
	memmove(l->buf + o, l->buf + o + sz, end - (o + sz));
	memset(l->buf + end - sz, 0, sz);
	for (uint32_t i = at + 1; i < l->n; i++)
		l->off[i - 1] = (uint16_t)(l->off[i] - sz);
	l->used -= sz;
	l->n--;
}

/*
 * Split leaf l (reached through `slot`) on its next hash bit: entries
 * with that bit set move to a new leaf.  Updates *h and writes it.
 */
static int leaf_split(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    struct zhdr *h, struct zleaf *l, struct zleaf *nl)
{
	unsigned d;
	uint64_t nb, first, count;
	uint32_t o, w, keep = 0;
	int rc;

	if (l->depth >= CF_ZAP_HASHBITS)
		return -ENOSPC;
	if (l->depth == h->depth) {
		rc = tbl_grow(os, tx, obj, h);
		if (rc)
			return rc;
	}
	if (h->nextfree >= CF_ZAP_MAXBLK)
		return -ENOSPC;
	nb = h->nextfree;
	d = l->depth + 1;
	leaf_init(nl, nb, d, (l->prefix << 1) | 1);

	/* compact the entries that stay, append the others to nl */
	o = CF_ZAP_LEAF_HDR;
	w = CF_ZAP_LEAF_HDR;
	for (uint32_t i = 0; i < l->n; i++) {
		uint32_t sz = CF_ZAP_ENT_HDR + l->buf[o + 8] +
		    le16_get(l->buf + o + 9);
		uint64_t pos = le64_get(l->buf + o);
		if ((pos >> (64 - d)) & 1) {
			memcpy(nl->buf + CF_ZAP_LEAF_HDR + nl->used,
			    l->buf + o, sz);
			nl->used += sz;
			nl->n++;
		} else {
			memmove(l->buf + w, l->buf + o, sz);
			w += sz;
			keep++;
		}
		o += sz;
	}
	l->n = keep;
	l->used = w - CF_ZAP_LEAF_HDR;
	l->depth = d;
	l->prefix <<= 1;
	leaf_reindex(l);
	leaf_reindex(nl);

	rc = leaf_write(os, tx, obj, l);
	if (rc == 0)
		rc = leaf_write(os, tx, obj, nl);
	if (rc)
		return rc;
	/* the upper half of l's slots now point at nl */
	count = 1ULL << (h->depth - d);
	first = nl->prefix << (h->depth - d);
	rc = ptr_set_range(os, tx, obj, h, first, count, nb);
	if (rc)
		return rc;
	h->nextfree = nb + 1;
	h->nleaves++;
	return hdr_write(os, tx, obj, h);
}

/* ---- the operations ---------------------------------------------------- */

struct zctx {
	struct zhdr h;
	struct zleaf l;
	struct zleaf nl;
};

static int check_key(const char *key, size_t *klen)
{
	if (!key)
		return -EINVAL;
	size_t n = strnlen(key, CF_ZAP_MAXKEY + 1);
	if (n > CF_ZAP_MAXKEY)
		return -ENAMETOOLONG;
	*klen = n;
	return 0;
}

int cf_zap_create(cf_objset_t *os, cf_tx_t *tx, int type, uint64_t *obj)
{
	struct zhdr h;
	uint8_t salt[16];
	uint8_t slot[8];
	struct zleaf *l;
	int rc;

	if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt)) {
		/* no entropy source: still unique enough per object */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		le64_put(salt, (uint64_t)ts.tv_nsec ^
		    ((uint64_t)ts.tv_sec << 30));
		le64_put(salt + 8, (uint64_t)(uintptr_t)&ts ^
		    cf_zap_siphash(0, 0, salt, 8));
	}
	l = malloc(sizeof(*l));
	if (!l)
		return -ENOMEM;
	rc = cf_obj_alloc(os, tx, type, CF_ZAP_BLKSZ, obj);
	if (rc)
		goto out;
	memset(&h, 0, sizeof(h));
	h.depth = 0;
	h.entries = 0;
	h.salt0 = le64_get(salt);
	h.salt1 = le64_get(salt + 8);
	h.nextfree = 2;
	h.nleaves = 1;
	rc = hdr_write(os, tx, *obj, &h);
	if (rc)
		goto out;
	le64_put(slot, 1);
	rc = cf_obj_write(os, tx, *obj, CF_ZAP_EMBED_OFF, 8, slot);
	if (rc)
		goto out;
	leaf_init(l, 1, 0, 0);
	rc = leaf_write(os, tx, *obj, l);
out:
	free(l);
	return rc;
}

/* Can splitting make room for pos?  Only if some hash bits differ. */
static int split_possible(const struct zleaf *l, uint64_t pos)
{
	uint64_t lo = pos, hi = pos, x;
	if (l->n) {
		lo = CF_MIN(lo, ent_pos(l, 0));
		hi = CF_MAX(hi, ent_pos(l, l->n - 1));
	}
	x = (lo ^ hi) & HASH_MASK;
	if (x == 0)
		return 0;
	/* depth needed to separate the extremes */
	return (unsigned)__builtin_clzll(x) + 1 <= CF_ZAP_MAXDEPTH;
}

#define PUT_ADD    0
#define PUT_UPDATE 1

static int zap_put(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    const char *key, const void *val, size_t vlen, int mode)
{
	struct zctx *z;
	size_t klen;
	int rc, have_pos = 0;
	uint64_t pos = 0;

	rc = check_key(key, &klen);
	if (rc)
		return rc;
	if (vlen > CF_ZAP_MAXVAL)
		return -E2BIG;
	if (vlen && !val)
		return -EINVAL;
	z = malloc(sizeof(*z));
	if (!z)
		return -ENOMEM;
	pthread_rwlock_wrlock(zap_lock(os, obj));
	for (int round = 0;; round++) {
		struct zleaf *l = &z->l;
		uint64_t hb, slot;
		uint32_t need = CF_ZAP_ENT_HDR + (uint32_t)klen + (uint32_t)vlen;
		int i;

		if (round >= MAX_ROUNDS) {
			rc = CF_CORRUPT();
			break;
		}
		rc = hdr_read(os, obj, &z->h);
		if (rc)
			break;
		hb = key_hash(&z->h, key, klen);
		slot = top_bits(hb, z->h.depth);
		rc = leaf_load(os, obj, &z->h, slot, l);
		if (rc)
			break;
		i = leaf_find(l, hb, key, klen);
		if (i >= 0) {
			if (mode == PUT_ADD) {
				rc = -EEXIST;
				break;
			}
			pos = ent_pos(l, (uint32_t)i);
			have_pos = 1;
			leaf_delete(l, (uint32_t)i);
			if (l->used + need <= LEAF_CAP) {
				/* replace in place, same position */
				leaf_insert(l, pos, key, klen, val, vlen);
				rc = leaf_write(os, tx, obj, l);
				break;
			}
			/* does not fit: remove now, re-add with the same
			 * position after splitting */
			rc = leaf_write(os, tx, obj, l);
			if (rc)
				break;
			if (z->h.entries == 0) {
				rc = CF_CORRUPT();
				break;
			}
			z->h.entries--;
			rc = hdr_write(os, tx, obj, &z->h);
			if (rc)
				break;
			continue;
		}
		if (!have_pos) {
			uint32_t cd = leaf_free_cd(l, hb);
			if (cd > CF_ZAP_MAXCD) {
				rc = -ENOSPC;
				break;
			}
			pos = hb | cd;
		}
		if (l->used + need <= LEAF_CAP) {
			leaf_insert(l, pos, key, klen, val, vlen);
			rc = leaf_write(os, tx, obj, l);
			if (rc)
				break;
			z->h.entries++;
			rc = hdr_write(os, tx, obj, &z->h);
			break;
		}
		if (!split_possible(l, pos)) {
			rc = -ENOSPC;
			break;
		}
		rc = leaf_split(os, tx, obj, &z->h, l, &z->nl);
		if (rc)
			break;
	}
	pthread_rwlock_unlock(zap_lock(os, obj));
	free(z);
	return rc;
}

int cf_zap_add(cf_objset_t *os, cf_tx_t *tx, uint64_t obj, const char *key,
    const void *val, size_t vlen)
{
	return zap_put(os, tx, obj, key, val, vlen, PUT_ADD);
}

int cf_zap_update(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    const char *key, const void *val, size_t vlen)
{
	return zap_put(os, tx, obj, key, val, vlen, PUT_UPDATE);
}

int cf_zap_lookup(cf_objset_t *os, uint64_t obj, const char *key, void *val,
    size_t cap, size_t *vlen)
{
	struct zleaf *l;
	struct zhdr h;
	size_t klen;
	int rc, i;

	rc = check_key(key, &klen);
	if (rc)
		return rc;
	l = malloc(sizeof(*l));
	if (!l)
		return -ENOMEM;
	pthread_rwlock_rdlock(zap_lock(os, obj));
	rc = hdr_read(os, obj, &h);
	if (rc == 0) {
		uint64_t hb = key_hash(&h, key, klen);
		rc = leaf_load(os, obj, &h, top_bits(hb, h.depth), l);
		if (rc == 0) {
			i = leaf_find(l, hb, key, klen);
			if (i < 0) {
				rc = -ENOENT;
			} else {
				size_t n = ent_vlen(l, (uint32_t)i);
				if (vlen)
					*vlen = n;
				if (n > cap)
					rc = -ERANGE;
				else if (n)
					memcpy(val, ent_val(l, (uint32_t)i), n);
			}
		}
	}
	pthread_rwlock_unlock(zap_lock(os, obj));
	free(l);
	return rc;
}

int cf_zap_remove(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    const char *key)
{
	struct zctx *z;
	size_t klen;
	int rc, i;

	rc = check_key(key, &klen);
	if (rc)
		return rc;
	z = malloc(sizeof(*z));
	if (!z)
		return -ENOMEM;
	pthread_rwlock_wrlock(zap_lock(os, obj));
	rc = hdr_read(os, obj, &z->h);
	if (rc == 0) {
		uint64_t hb = key_hash(&z->h, key, klen);
		rc = leaf_load(os, obj, &z->h, top_bits(hb, z->h.depth),
		    &z->l);
	}
	if (rc == 0) {
		i = leaf_find(&z->l, key_hash(&z->h, key, klen), key, klen);
		if (i < 0) {
			rc = -ENOENT;
		} else if (z->h.entries == 0) {
			rc = CF_CORRUPT();
		} else {
			leaf_delete(&z->l, (uint32_t)i);
			rc = leaf_write(os, tx, obj, &z->l);
			if (rc == 0) {
				z->h.entries--;
				rc = hdr_write(os, tx, obj, &z->h);
			}
		}
	}
	pthread_rwlock_unlock(zap_lock(os, obj));
	free(z);
	return rc;
}

int cf_zap_count(cf_objset_t *os, uint64_t obj, uint64_t *count)
{
	struct zhdr h;
	int rc;
	pthread_rwlock_rdlock(zap_lock(os, obj));
	rc = hdr_read(os, obj, &h);
	pthread_rwlock_unlock(zap_lock(os, obj));
	if (rc == 0)
		*count = h.entries;
	return rc;
}

int cf_zap_add_u64(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    const char *key, uint64_t v)
{
	uint8_t b[8];
	le64_put(b, v);
	return cf_zap_add(os, tx, obj, key, b, sizeof(b));
}

int cf_zap_update_u64(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    const char *key, uint64_t v)
{
	uint8_t b[8];
	le64_put(b, v);
	return cf_zap_update(os, tx, obj, key, b, sizeof(b));
}

/* A u64 value of any other length is corruption: only these helpers
 * write values that are read as u64. */
int cf_zap_lookup_u64(cf_objset_t *os, uint64_t obj, const char *key,
    uint64_t *v)
{
	uint8_t b[8];
	size_t n = 0;
	int rc = cf_zap_lookup(os, obj, key, b, sizeof(b), &n);
	if (rc == -ERANGE || (rc == 0 && n != sizeof(b)))
		return CF_CORRUPT();
	if (rc == 0)
		*v = le64_get(b);
	return rc;
}

int cf_zap_iter(cf_objset_t *os, uint64_t obj, uint64_t *cookie,
    cf_zap_cb cb, void *arg)
{
	struct zleaf *l;
	struct zhdr h;
	char key[CF_ZAP_MAXKEY + 1];
	uint64_t c = *cookie;
	int rc = 0;

	l = malloc(sizeof(*l));
	if (!l)
		return -ENOMEM;
	while (c != CF_ZAP_COOKIE_END) {
		/* snapshot one leaf under the lock, deliver without it */
		pthread_rwlock_rdlock(zap_lock(os, obj));
		rc = hdr_read(os, obj, &h);
		if (rc == 0)
			rc = leaf_load(os, obj, &h, top_bits(c, h.depth), l);
		pthread_rwlock_unlock(zap_lock(os, obj));
		if (rc)
			break;
		for (uint32_t i = leaf_lower_bound(l, c); i < l->n; i++) {
			uint64_t pos = ent_pos(l, i);
			uint32_t kl = ent_klen(l, i);
			if (memchr(ent_key(l, i), 0, kl)) {
				rc = CF_CORRUPT();
				goto out;
			}
			memcpy(key, ent_key(l, i), kl);
			key[kl] = '\0';
			*cookie = pos;
			rc = cb(key, ent_val(l, i), ent_vlen(l, i), pos + 1, arg);
			if (rc)
				goto out;
			*cookie = pos + 1;
		}
		/* next leaf: the end of this one's position range */
		if (l->depth == 0 || l->prefix + 1 == (1ULL << l->depth))
			c = CF_ZAP_COOKIE_END;
		else
			c = (l->prefix + 1) << (64 - l->depth);
		*cookie = c;
	}
	if (rc == 0)
		*cookie = CF_ZAP_COOKIE_END;
out:
	free(l);
	return rc;
}
