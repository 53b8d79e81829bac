/*
 * gen_corpus: write the seed corpora of the on-disk decoder fuzz targets.
 *
 *   gen_corpus DIR      (normally tests/fuzz/corpus)
 *
 * Writes DIR/blkptr, DIR/dnode, DIR/uberblock and DIR/indirect (created
 * if missing; files of the same name are overwritten, others left
 * alone).  Each gets a handful of valid encodings made with the encoders
 * from realistic fields, the same damaged in the ways decode must refuse,
 * truncated copies and copies with a few bits flipped.  Every "valid-"
 * seed must decode and every "bad-" seed must not: the generator checks
 * both and fails otherwise, so a corpus it wrote says what the decoders
 * accept.  The targets zero-pad short inputs, so trailing zeros are cut
 * to keep the files small (an uberblock keeps its checksum at the end and
 * so its full slot).  The output depends on nothing but this program.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/crypto.h"
#include "dmu/dmu_impl.h"
#include "spa/spa.h"

enum kind { K_BP, K_DN, K_OS, K_UB, K_IND };
enum expect { E_ANY, E_OK, E_BAD };

static char outdir[4096];
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* xorshift64: fixed seed, so the corpus is reproducible */
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void fill_rnd(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static void die(const char *what, const char *name)
{
	fprintf(stderr, "gen_corpus: %s '%s'\n", what, name);
	exit(1);
}

static int decodes(enum kind k, const uint8_t *b, size_t len)
{
	static uint8_t pad[CF_IND_BLKSZ];
	cf_blkptr_t bp;
	cf_dnode_phys_t dn;
	cf_objset_phys_t os;
	cf_uberblock_t ub;

	/* decode what the target would see: the input zero-padded */
	memset(pad, 0, sizeof(pad));
	memcpy(pad, b, len < sizeof(pad) ? len : sizeof(pad));
	switch (k) {
	case K_BP:
		return cf_bp_decode(pad, &bp) == 0;
	case K_DN:
		return cf_dnode_decode(pad, &dn) == 0;
	case K_OS:
		return cf_osphys_decode(pad, &os) == 0;
	case K_UB:
		return cf_ub_decode(pad, &ub) == 0;
	case K_IND:
		for (int i = 0; i < CF_IND_BPS; i++)
			if (cf_bp_decode(pad + i * CF_BP_SIZE, &bp) != 0)
				return 0;
		return 1;
	}
	return 0;
}

static const char *subdir_of(enum kind k)
{
	switch (k) {
	case K_BP:
		return "blkptr";
	case K_DN:
	case K_OS:
		return "dnode";
	case K_UB:
		return "uberblock";
	case K_IND:
		return "indirect";
	}
	return "?";
}

/* Write b[0, len) (trailing zeros cut when trim) to DIR/<kind>/name. */
static void put(enum kind k, const char *name, const uint8_t *b, size_t len,
    int trim, enum expect e)
{
	char path[8192];
	FILE *f;

	if (e == E_OK && !decodes(k, b, len))
		die("a valid seed does not decode:", name);
	if (e == E_BAD && decodes(k, b, len))
		die("a bad seed decodes:", name);
	while (trim && len > 0 && b[len - 1] == 0)
		len--;
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, subdir_of(k), name);
	f = fopen(path, "wbe");
	if (f == NULL || fwrite(b, 1, len, f) != len || fclose(f) != 0)
		die("cannot write", path);
}

/* Truncated copies of a seed, cut at each of cuts[] bytes. */
static void put_cuts(enum kind k, const char *name, const uint8_t *b,
    const size_t *cuts, int ncuts)
{
	char n2[256];

	for (int i = 0; i < ncuts; i++) {
		snprintf(n2, sizeof(n2), "trunc-%s-%zu", name, cuts[i]);
		put(k, n2, b, cuts[i], 0, E_ANY);
	}
}

/* nflips copies of a seed, each with 1..3 bits flipped in b[lo, hi). */
static void put_flips(enum kind k, const char *name, const uint8_t *b,
    size_t len, size_t lo, size_t hi, int nflips, int trim)
{
	static uint8_t c[CF_IND_BLKSZ];
	char n2[256];

	for (int i = 0; i < nflips; i++) {
		int nbits = 1 + (int)(rnd() % 3);

		memcpy(c, b, len);
		for (int j = 0; j < nbits; j++) {
			size_t off = lo + (size_t)(rnd() % (hi - lo));

			c[off] ^= (uint8_t)(1u << (rnd() % 8));
		}
		snprintf(n2, sizeof(n2), "flip-%s-%d", name, i);
		put(k, n2, c, len, trim, E_ANY);
	}
}

/* ---- block pointers -------------------------------------------------------- */

/*
 * A data block pointer: lsize/psize/comp as given, `copies` DVAs on
 * vdevs v, v+1, ... at distinct sector-aligned offsets, asize the
 * psize rounded up to the sector.
 */
static cf_blkptr_t mkbp(uint8_t type, uint8_t level, uint32_t lsize,
    uint32_t psize, uint8_t comp, uint8_t cksum, int copies, uint32_t vdev,
    uint64_t offset, uint64_t birth)
{
	cf_blkptr_t bp;

	memset(&bp, 0, sizeof(bp));
	for (int i = 0; i < copies; i++) {
		bp.dva[i].vdev = vdev + (uint32_t)i;
		bp.dva[i].asize = CF_ROUNDUP(psize, CF_SECTOR);
		bp.dva[i].offset = offset + (uint64_t)i * 0x1000000;
	}
	bp.birth = birth;
	bp.fill = level == 0 ? 1 : CF_IND_BPS;
	bp.lsize = lsize;
	bp.psize = psize;
	bp.type = type;
	bp.level = level;
	bp.comp = comp;
	bp.cksum = cksum;
	fill_rnd(bp.checksum, sizeof(bp.checksum));
	return bp;
}

static cf_blkptr_t mkhole(uint64_t birth, uint8_t type, uint8_t level,
    uint32_t lsize)
{
	cf_blkptr_t bp;

	memset(&bp, 0, sizeof(bp));
	bp.birth = birth;
	bp.type = type;
	bp.level = level;
	bp.lsize = lsize;
	return bp;
}

static void gen_blkptr(void)
{
	static const size_t cuts[] = { 16, 48, 72, 100 };
	struct { const char *name; cf_blkptr_t bp; } v[12];
	uint8_t raw[CF_BP_SIZE], bad[CF_BP_SIZE];
	cf_blkptr_t enc;
	int n = 0;

	v[n].name = "l0-plain";
	v[n++].bp = mkbp(CF_OT_FILE, 0, 131072, 131072, CF_COMP_OFF,
	    CF_CKSUM_FLETCHER4, 1, 0, 0x200000, 12);
	v[n].name = "l0-lz4-2copies";
	v[n++].bp = mkbp(CF_OT_FILE, 0, 131072, 40001, CF_COMP_LZ4,
	    CF_CKSUM_SHA256, 2, 0, 0x5000, 7);
	v[n].name = "l0-512";
	v[n++].bp = mkbp(CF_OT_DIR, 0, 512, 512, CF_COMP_OFF,
	    CF_CKSUM_FLETCHER4, 1, 3, 0x7000, 1);
	enc = mkbp(CF_OT_VOLUME, 0, 1u << 24, 5000000, CF_COMP_ZSTD,
	    CF_CKSUM_SHA256, 3, 1, 0x40000000, 99999);
	enc.flags = CF_BPF_ENCRYPTED;
	fill_rnd(enc.salt, sizeof(enc.salt));
	fill_rnd(enc.iv, sizeof(enc.iv));
	fill_rnd(enc.mac, sizeof(enc.mac));
	enc.keygen = 3;
	v[n].name = "l0-zstd-16m-3copies-enc";
	v[n++].bp = enc;
	v[n].name = "l1-indirect";
	v[n++].bp = mkbp(CF_OT_FILE, 1, CF_IND_BLKSZ, 9000, CF_COMP_LZ4,
	    CF_CKSUM_FLETCHER4, 1, 0, 0x123000, 40);
	v[n].name = "l11-far";
	v[n++].bp = mkbp(CF_OT_VOLUME, 11, CF_IND_BLKSZ, 2100, CF_COMP_ZSTD,
	    CF_CKSUM_SHA256, 1, CF_MAX_VDEVS - 1, 0x7ffffffff000ULL, 5);
	v[n].name = "objset";
	v[n++].bp = mkbp(CF_OT_OBJSET, 0, CF_OBJSET_PHYS_SIZE,
	    CF_OBJSET_PHYS_SIZE, CF_COMP_OFF, CF_CKSUM_SHA256, 3, 0, 0x9000,
	    200);
	v[n].name = "dnode-block";
	v[n++].bp = mkbp(CF_OT_META_DNODE, 0, CF_DNODE_BLKSZ, 2100,
	    CF_COMP_ZSTD, CF_CKSUM_FLETCHER4, 2, 0, 0x31000, 200);
	enc = mkbp(CF_OT_META_DNODE, 0, CF_DNODE_BLKSZ, 3000, CF_COMP_LZ4,
	    CF_CKSUM_SHA256, 2, 0, 0x52000, 201);
	enc.flags = CF_BPF_ENCRYPTED | CF_BPF_DNODE;
	fill_rnd(enc.salt, sizeof(enc.salt));
	fill_rnd(enc.iv, sizeof(enc.iv));
	fill_rnd(enc.mac, sizeof(enc.mac));
	enc.keygen = 1;
	v[n].name = "dnode-block-sealed";
	v[n++].bp = enc;
	/* holes last: they are not bit-flipped below */
	v[n].name = "hole-zero";
	v[n++].bp = mkhole(0, 0, 0, 0);
	v[n].name = "hole-birth";
	v[n++].bp = mkhole(77, 0, 0, 0);
	v[n].name = "hole-typed";
	v[n++].bp = mkhole(78, CF_OT_FILE, 2, 131072);

	for (int i = 0; i < n; i++) {
		char name[128];

		cf_bp_encode(&v[i].bp, raw);
		snprintf(name, sizeof(name), "valid-%s", v[i].name);
		/* keep the all-zero hole whole: trimmed it would be empty */
		put(K_BP, name, raw, CF_BP_SIZE, i != n - 3, E_OK);
	}

	/* the same (l0-lz4-2copies) broken one way at a time */
	cf_bp_encode(&v[1].bp, raw);
#define BAD(name, stmt) do {                                    \
	cf_blkptr_t b_ = v[1].bp;                               \
	cf_bp_encode(&b_, bad);                                 \
	{ cf_blkptr_t *bp = &b_; (void)bp; stmt; }              \
	put(K_BP, "bad-" name, bad, CF_BP_SIZE, 1, E_BAD);       \
} while (0)
	BAD("reserved-77", bad[77] = 1);
	BAD("reserved-159", bad[159] = 0x80);
	BAD("gap-in-copies", (cf_bp_encode(bp, bad), le32_put(bad + 20, 0),
	    le32_put(bad + 36, 40960), le64_put(bad + 40, 0x9000)));
	BAD("lsize-over-16m", (bp->lsize = (1u << 24) + 512,
	    cf_bp_encode(bp, bad)));
	BAD("lsize-zero", (bp->lsize = 0, cf_bp_encode(bp, bad)));
	BAD("psize-over-lsize", (bp->psize = 131073, cf_bp_encode(bp, bad)));
	BAD("comp-3", (bp->comp = 3, cf_bp_encode(bp, bad)));
	BAD("comp-off-psize", (bp->comp = CF_COMP_OFF, cf_bp_encode(bp, bad)));
	BAD("cksum-0", (bp->cksum = 0, cf_bp_encode(bp, bad)));
	BAD("cksum-3", (bp->cksum = 3, cf_bp_encode(bp, bad)));
	BAD("level-16", (bp->level = 16, cf_bp_encode(bp, bad)));
	BAD("flags-dnode-only", (bp->flags = CF_BPF_DNODE,
	    cf_bp_encode(bp, bad)));
	BAD("flags-4", (bp->flags = 4 | CF_BPF_ENCRYPTED,
	    cf_bp_encode(bp, bad)));
	BAD("birth-0", (bp->birth = 0, cf_bp_encode(bp, bad)));
	BAD("asize-unaligned", (bp->dva[1].asize = 40961,
	    cf_bp_encode(bp, bad)));
	BAD("asize-under-psize", (bp->dva[0].asize = 36864,
	    cf_bp_encode(bp, bad)));
	BAD("asize-slack", (bp->dva[0].asize = 45056, cf_bp_encode(bp, bad)));
	BAD("offset-unaligned", (bp->dva[1].offset += 512,
	    cf_bp_encode(bp, bad)));
	BAD("vdev-64", (bp->dva[1].vdev = CF_MAX_VDEVS,
	    cf_bp_encode(bp, bad)));
	BAD("hole-psize", (memset(bad, 0, 48), le64_put(bad + 56, 0)));
	BAD("hole-fill", (memset(bad, 0, 48), le32_put(bad + 68, 0)));
#undef BAD

	cf_bp_encode(&v[0].bp, raw);
	put_cuts(K_BP, "l0-plain", raw, cuts, 4);
	cf_bp_encode(&v[3].bp, raw);
	put_cuts(K_BP, "l0-zstd", raw, cuts, 4);
	for (int i = 0; i < n - 3; i++) {
		cf_bp_encode(&v[i].bp, raw);
		put_flips(K_BP, v[i].name, raw, CF_BP_SIZE, 0, CF_BP_SIZE, 3,
		    1);
	}
}

/* ---- dnodes and object set root blocks ------------------------------------ */

static cf_dnode_phys_t mkdn(uint8_t type, uint8_t nlevels, uint32_t blksz,
    uint64_t maxblkid, uint16_t bonuslen, uint64_t birth)
{
	cf_dnode_phys_t dn;

	memset(&dn, 0, sizeof(dn));
	dn.type = type;
	dn.nlevels = nlevels;
	dn.blksz = blksz;
	dn.maxblkid = maxblkid;
	dn.bonuslen = bonuslen;
	fill_rnd(dn.bonus, bonuslen);
	if (nlevels == 1)
		dn.root = mkbp(type, 0, blksz, blksz > 4096 ? blksz / 3 : blksz,
		    blksz > 4096 ? CF_COMP_LZ4 : CF_COMP_OFF,
		    CF_CKSUM_FLETCHER4, 1, 0, 0x40000, birth);
	else
		dn.root = mkbp(type, (uint8_t)(nlevels - 1), CF_IND_BLKSZ,
		    5000, CF_COMP_ZSTD, CF_CKSUM_FLETCHER4, 2, 0, 0x80000,
		    birth);
	dn.used = cf_bp_asize(&dn.root) * (maxblkid + 1);
	return dn;
}

static void gen_dnode(void)
{
	static const size_t dn_cuts[] = { 2, 64, 100, 300 };
	static const size_t os_cuts[] = { 512, 516 };
	struct { const char *name; cf_dnode_phys_t dn; } v[10];
	struct { const char *name; uint64_t type, flags; int free_meta; }
	    os[4] = {
		{ "os-mos", CF_OS_TYPE_MOS, 0, 0 },
		{ "os-fs-mac", CF_OS_TYPE_FS, CF_OSF_MAC, 0 },
		{ "os-vol", CF_OS_TYPE_VOL, 0, 0 },
		{ "os-fs-empty", CF_OS_TYPE_FS, 0, 1 },
	};
	static uint8_t raw[CF_OBJSET_PHYS_SIZE], bad[CF_OBJSET_PHYS_SIZE];
	cf_objset_phys_t p;
	int n = 0;

	v[n].name = "file-1level";
	v[n++].dn = mkdn(CF_OT_FILE, 1, 131072, 0, 128, 12);
	v[n].name = "file-3level";
	v[n++].dn = mkdn(CF_OT_FILE, 3, 131072, 100000, 128, 13);
	v[n].name = "dir-full-bonus";
	v[n++].dn = mkdn(CF_OT_DIR, 2, 16384, 300, CF_BONUS_MAX, 14);
	v[n].name = "zap-512";
	v[n++].dn = mkdn(CF_OT_ZAP, 1, 512, 0, 0, 15);
	v[n].name = "vol-1m-12levels";
	v[n++].dn = mkdn(CF_OT_VOLUME, CF_MAX_LEVELS, CF_MAX_BLKSZ,
	    (1ULL << 40) - 1, 0, 16);
	v[n].name = "dsl-dir";
	v[n++].dn = mkdn(CF_OT_DSL_DIR, 1, 16384, 0, 64, 17);
	v[n].name = "file-empty";
	v[n].dn = mkdn(CF_OT_FILE, 1, 512, 0, 96, 18);
	v[n].dn.root = mkhole(0, 0, 0, 0);
	v[n++].dn.used = 0;
	v[n].name = "file-freed";
	v[n].dn = mkdn(CF_OT_FILE, 2, 131072, 7, 96, 19);
	v[n].dn.root = mkhole(19, CF_OT_FILE, 1, CF_IND_BLKSZ);
	v[n++].dn.used = 0;
	v[n].name = "free";
	memset(&v[n].dn, 0, sizeof(v[n].dn));
	v[n++].dn.nlevels = 1;

	for (int i = 0; i < n; i++) {
		char name[128];

		cf_dnode_encode(&v[i].dn, raw);
		snprintf(name, sizeof(name), "valid-dn-%s", v[i].name);
		/* keep the free dnode whole: trimmed it would be empty */
		put(K_DN, name, raw, CF_DNODE_SIZE, i != n - 1, E_OK);
	}

	for (int i = 0; i < 4; i++) {
		char name[128];

		memset(&p, 0, sizeof(p));
		if (os[i].free_meta)
			p.meta.nlevels = 1;
		else
			p.meta = mkdn(CF_OT_META_DNODE, (uint8_t)(2 + i),
			    CF_DNODE_BLKSZ, 40, 0, 20);
		p.type = os[i].type;
		p.flags = os[i].flags;
		if (p.flags & CF_OSF_MAC) {
			fill_rnd(p.mac, sizeof(p.mac));
			p.mac_txg = 20;
		}
		cf_osphys_encode(&p, raw);
		snprintf(name, sizeof(name), "valid-%s", os[i].name);
		put(K_OS, name, raw, CF_OBJSET_PHYS_SIZE, 1, E_OK);
	}

	/* a dnode (file-3level) broken one way at a time */
#define BAD(kind, name, len, stmt) do {                         \
	cf_dnode_encode(&v[1].dn, bad);                         \
	stmt;                                                   \
	put(kind, "bad-" name, bad, len, 1, E_BAD);              \
} while (0)
	BAD(K_DN, "dn-type-64", CF_DNODE_SIZE, bad[0] = CF_OT_MAX);
	BAD(K_DN, "dn-nlevels-0", CF_DNODE_SIZE, bad[1] = 0);
	BAD(K_DN, "dn-nlevels-13", CF_DNODE_SIZE, bad[1] = 13);
	BAD(K_DN, "dn-bonuslen-257", CF_DNODE_SIZE,
	    le16_put(bad + 2, CF_BONUS_MAX + 1));
	BAD(K_DN, "dn-blksz-256", CF_DNODE_SIZE, le32_put(bad + 4, 256));
	BAD(K_DN, "dn-blksz-1000", CF_DNODE_SIZE, le32_put(bad + 4, 1000));
	BAD(K_DN, "dn-blksz-2m", CF_DNODE_SIZE, le32_put(bad + 4, 2u << 20));
	BAD(K_DN, "dn-reserved-24", CF_DNODE_SIZE, bad[24] = 1);
	BAD(K_DN, "dn-reserved-255", CF_DNODE_SIZE, bad[255] = 1);
	BAD(K_DN, "dn-root-bp", CF_DNODE_SIZE, bad[64 + 75] = 9);
	BAD(K_DN, "dn-bonus-tail", CF_DNODE_SIZE, bad[CF_DNODE_SIZE - 1] = 1);
	BAD(K_DN, "dn-free-junk", CF_DNODE_SIZE,
	    (memset(bad, 0, CF_DNODE_SIZE), bad[300] = 1));
#undef BAD
#define BAD(name, stmt) do {                                    \
	memset(&p, 0, sizeof(p));                               \
	p.meta = mkdn(CF_OT_META_DNODE, 2, CF_DNODE_BLKSZ, 40, 0, 20); \
	p.type = CF_OS_TYPE_FS;                                 \
	stmt;                                                   \
	cf_osphys_encode(&p, bad);                              \
	put(K_OS, "bad-" name, bad, CF_OBJSET_PHYS_SIZE, 1, E_BAD); \
} while (0)
	BAD("os-type-0", p.type = 0);
	BAD("os-type-4", p.type = 4);
	BAD("os-meta-file", p.meta.type = CF_OT_FILE);
	BAD("os-meta-blksz", p.meta.blksz = 131072);
	BAD("os-flags-2", p.flags = 2);
#undef BAD
	memset(&p, 0, sizeof(p));
	p.meta = mkdn(CF_OT_META_DNODE, 2, CF_DNODE_BLKSZ, 40, 0, 20);
	p.type = CF_OS_TYPE_FS;
	cf_osphys_encode(&p, bad);
	/* without the MAC flag, [528, 4096) is not looked at on read
	 * (FORMAT.md 7.1) */
	fill_rnd(bad + 528, 40);
	bad[CF_OBJSET_PHYS_SIZE - 1] = 1;
	put(K_OS, "valid-os-unchecked-area", bad, CF_OBJSET_PHYS_SIZE, 1,
	    E_OK);

	cf_dnode_encode(&v[2].dn, raw);
	put_cuts(K_DN, "dn-dir", raw, dn_cuts, 4);
	p.meta = mkdn(CF_OT_META_DNODE, 2, CF_DNODE_BLKSZ, 40, 0, 20);
	p.flags = CF_OSF_MAC;
	fill_rnd(p.mac, sizeof(p.mac));
	p.mac_txg = 20;
	cf_osphys_encode(&p, raw);
	put_cuts(K_OS, "os-fs-mac", raw, os_cuts, 2);
	put_flips(K_OS, "os-fs-mac", raw, CF_OBJSET_PHYS_SIZE, 0, 568, 3, 1);
	for (int i = 0; i < n - 1; i++) {
		cf_dnode_encode(&v[i].dn, raw);
		put_flips(K_DN, v[i].name, raw, CF_DNODE_SIZE, 0,
		    CF_DNODE_SIZE, 3, 1);
	}
}

/* ---- uberblocks -------------------------------------------------------- */

static void gen_uberblock(void)
{
	static const size_t cuts[] = { 8, 200, 992 };
	cf_uberblock_t v[4];
	const char *names[4] = { "1dev", "3dev", "64dev-late", "mos-hole" };
	uint8_t raw[CF_UB_SLOT_SIZE], bad[CF_UB_SLOT_SIZE];

	for (int i = 0; i < 4; i++) {
		memset(&v[i], 0, sizeof(v[i]));
		v[i].magic = CF_UB_MAGIC;
		v[i].version = CF_UB_VERSION;
		v[i].txg = 4 + 1000 * (uint64_t)i;
		v[i].pool_guid = 0x0123456789abcdefULL + (uint64_t)i;
		v[i].guid_sum = rnd();
		v[i].timestamp = 1700000000 + (uint64_t)i;
		v[i].ndev = 1;
		v[i].mos = mkbp(CF_OT_OBJSET, 0, CF_OBJSET_PHYS_SIZE,
		    CF_OBJSET_PHYS_SIZE, CF_COMP_OFF, CF_CKSUM_SHA256, 1, 0,
		    0x10000, v[i].txg);
	}
	v[1].ndev = 3;
	v[1].mos = mkbp(CF_OT_OBJSET, 0, CF_OBJSET_PHYS_SIZE, 1500,
	    CF_COMP_LZ4, CF_CKSUM_SHA256, 3, 0, 0x20000, v[1].txg);
	v[2].ndev = CF_MAX_VDEVS;
	v[2].txg = UINT64_MAX - 1;
	v[2].mos.birth = v[2].txg;
	v[3].mos = mkhole(0, 0, 0, 0);

	for (int i = 0; i < 4; i++) {
		char name[128];

		cf_ub_encode(&v[i], raw);
		snprintf(name, sizeof(name), "valid-%s", names[i]);
		put(K_UB, name, raw, CF_UB_SLOT_SIZE, 0, E_OK);
	}

	/* 3dev broken one way at a time; resealed unless said otherwise */
#define BAD(name, stmt) do {                                    \
	cf_uberblock_t u_ = v[1];                               \
	cf_uberblock_t *ub = &u_;                               \
	(void)ub;                                               \
	cf_ub_encode(&u_, bad);                                 \
	stmt;                                                   \
	put(K_UB, "bad-" name, bad, CF_UB_SLOT_SIZE, 0, E_BAD);  \
} while (0)
#define RESEAL cf_sha256(bad, 992, bad + 992)
	BAD("empty", memset(bad, 0, CF_UB_SLOT_SIZE));
	BAD("magic", (bad[7] ^= 0x40, RESEAL));
	BAD("checksum", bad[1000] ^= 1);
	BAD("field-not-resealed", bad[16] ^= 1);
	BAD("version-2", (le64_put(bad + 8, 2), RESEAL));
	BAD("version-0", (le64_put(bad + 8, 0), RESEAL));
	/* a newer version that uses the reserved bytes: must read as
	 * unsupported, not corrupt (fuzz_uberblock checks which) */
	BAD("version-2-reserved", (le64_put(bad + 8, 2), bad[500] = 1,
	    RESEAL));
	BAD("version-2-bp", (le64_put(bad + 8, 2), bad[48 + 77] = 1,
	    RESEAL));
	BAD("ndev-0", (le64_put(bad + 208, 0), RESEAL));
	BAD("ndev-65", (le64_put(bad + 208, CF_MAX_VDEVS + 1), RESEAL));
	BAD("reserved-500", (bad[500] = 1, RESEAL));
	BAD("mos-bp", (bad[48 + 74] = 7, RESEAL));
#undef RESEAL
#undef BAD

	cf_ub_encode(&v[0], raw);
	put_cuts(K_UB, "1dev", raw, cuts, 3);
	for (int i = 0; i < 4; i++) {
		cf_ub_encode(&v[i], raw);
		put_flips(K_UB, names[i], raw, CF_UB_SLOT_SIZE, 0, 216, 3, 0);
	}
}

/* ---- indirect blocks --------------------------------------------------- */

/* An indirect block of level `level` with `nset` children (the rest
 * holes; every seventh child a hole with a birth, as after a free). */
static void mkind(uint8_t *blk, uint8_t level, int nset, uint64_t birth)
{
	memset(blk, 0, CF_IND_BLKSZ);
	for (int i = 0; i < nset; i++) {
		cf_blkptr_t bp;

		if (i % 7 == 6)
			bp = mkhole(birth - 1, CF_OT_FILE, (uint8_t)(level - 1),
			    level > 1 ? CF_IND_BLKSZ : 131072);
		else if (level > 1)
			bp = mkbp(CF_OT_FILE, (uint8_t)(level - 1),
			    CF_IND_BLKSZ, 3000 + (uint32_t)i, CF_COMP_LZ4,
			    CF_CKSUM_FLETCHER4, 1, 0,
			    0x100000 + (uint64_t)i * 0x1000, birth - 2);
		else
			bp = mkbp(CF_OT_FILE, 0, 131072,
			    i % 2 ? 131072 : 50000 + (uint32_t)i,
			    i % 2 ? CF_COMP_OFF : CF_COMP_ZSTD,
			    CF_CKSUM_FLETCHER4, 1 + i % 3, 0,
			    0x1000000 + (uint64_t)i * 0x20000, birth - 3);
		cf_bp_encode(&bp, blk + (size_t)i * CF_BP_SIZE);
	}
}

static void gen_indirect(void)
{
	static const size_t cuts[] = { 1000, 16000 };
	static uint8_t blk[CF_IND_BLKSZ];

	mkind(blk, 1, CF_IND_BPS, 100);
	put(K_IND, "valid-l1-full", blk, CF_IND_BLKSZ, 1, E_OK);
	put_cuts(K_IND, "l1-full", blk, cuts, 2);
	put_flips(K_IND, "l1-full", blk, CF_IND_BLKSZ, 0, 3200, 1, 0);
	blk[203 * CF_BP_SIZE + 77] = 1;
	put(K_IND, "bad-l1-full-last-slot", blk, CF_IND_BLKSZ, 1, E_BAD);

	mkind(blk, 1, 8, 50);
	put(K_IND, "valid-l1-sparse", blk, CF_IND_BLKSZ, 1, E_OK);
	put_flips(K_IND, "l1-sparse", blk, 8 * CF_BP_SIZE, 0, 8 * CF_BP_SIZE,
	    6, 1);
	blk[3 * CF_BP_SIZE + 75] = 0;
	put(K_IND, "bad-l1-slot-3", blk, CF_IND_BLKSZ, 1, E_BAD);

	mkind(blk, 2, 12, 60);
	put(K_IND, "valid-l2", blk, CF_IND_BLKSZ, 1, E_OK);
	put_flips(K_IND, "l2", blk, 12 * CF_BP_SIZE, 0, 12 * CF_BP_SIZE, 6, 1);

	memset(blk, 0, sizeof(blk));
	put(K_IND, "valid-all-holes", blk, 2 * CF_BP_SIZE, 0, E_OK);
}

int main(int argc, char **argv)
{
	static const char *const subs[] = { "blkptr", "dnode", "uberblock",
	    "indirect" };

	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus DIR\n");
		return 2;
	}
	snprintf(outdir, sizeof(outdir), "%s", argv[1]);
	for (size_t i = 0; i < CF_ARRAY_SIZE(subs); i++) {
		char path[8192];

		snprintf(path, sizeof(path), "%s/%s", outdir, subs[i]);
		if (mkdir(path, 0777) != 0 && errno != EEXIST)
			die("cannot create", path);
	}
	gen_blkptr();
	gen_dnode();
	gen_uberblock();
	gen_indirect();
	return 0;
}
