/*
 * block: the block pipeline (see block.h for the block pointer layout).
 *
 * Invariants (restated from block.h, where they are enforced)
 *  1. cf_block_write checksums exactly the bytes it stores; cf_block_read
 *     verifies before decompressing: no unverified byte reaches a caller.
 *  2. Self-healing rewrites a bad copy only with bytes whose checksum
 *     just verified, at the bad copy's own location, so it never changes
 *     what any block pointer describes.
 *  3. Decoding a block pointer never trusts a field: sizes, types, copy
 *     counts and DVA bounds are checked before use.
 */
#include "block/block.h"
#include "block/blkcrypt.h"

#include <stdlib.h>
#include <stdio.h>

#include "crypto/crypto.h"
#include "spa/spa.h"
#include "vdev/vdev.h"

uint64_t cf_bp_asize(const cf_blkptr_t *bp)
{
	uint64_t s = 0;
	for (int i = 0; i < CF_MAX_COPIES; i++)
		s += bp->dva[i].asize;
	return s;
}

void cf_bp_encode(const cf_blkptr_t *bp, uint8_t out[CF_BP_SIZE])
{
	memset(out, 0, CF_BP_SIZE);
	for (int i = 0; i < CF_MAX_COPIES; i++) {
		le32_put(out + 16 * i, bp->dva[i].vdev);
		le32_put(out + 16 * i + 4, bp->dva[i].asize);
		le64_put(out + 16 * i + 8, bp->dva[i].offset);
	}
	le64_put(out + 48, bp->birth);
	le64_put(out + 56, bp->fill);
	le32_put(out + 64, bp->lsize);
	le32_put(out + 68, bp->psize);
	out[72] = bp->type;
	out[73] = bp->level;
	out[74] = bp->comp;
	out[75] = bp->cksum;
	out[76] = bp->flags;
	memcpy(out + 80, bp->checksum, 32);
	memcpy(out + 112, bp->salt, 8);
	memcpy(out + 120, bp->iv, 12);
	memcpy(out + 132, bp->mac, 16);
	le32_put(out + 148, bp->keygen);
}

size_t cf_bp_portable(const cf_blkptr_t *bp, uint8_t out[CF_BP_PORTABLE_SIZE])
{
	memset(out, 0, CF_BP_PORTABLE_SIZE);
	if (cf_bp_is_hole(bp))
		return CF_BP_PORTABLE_SIZE;     /* a hole: all zero */
	int rebuilt = bp->level > 0 || (bp->flags & CF_BPF_DNODE);
	out[0] = bp->level;
	out[1] = bp->type;
	out[2] = rebuilt ? 0 : bp->comp;
	out[3] = bp->flags;
	le32_put(out + 4, bp->lsize);
	le32_put(out + 8, rebuilt ? 0 : bp->psize);
	le32_put(out + 12, bp->keygen);
	memcpy(out + 16, bp->mac, 16);
	return CF_BP_PORTABLE_SIZE;
}

int cf_bp_decode(const uint8_t in[CF_BP_SIZE], cf_blkptr_t *bp)
{
	memset(bp, 0, sizeof(*bp));
	for (int i = 0; i < CF_MAX_COPIES; i++) {
		bp->dva[i].vdev = le32_get(in + 16 * i);
		bp->dva[i].asize = le32_get(in + 16 * i + 4);
		bp->dva[i].offset = le64_get(in + 16 * i + 8);
	}
	bp->birth = le64_get(in + 48);
	bp->fill = le64_get(in + 56);
	bp->lsize = le32_get(in + 64);
	bp->psize = le32_get(in + 68);
	bp->type = in[72];
	bp->level = in[73];
	bp->comp = in[74];
	bp->cksum = in[75];
	bp->flags = in[76];
	memcpy(bp->checksum, in + 80, 32);
	memcpy(bp->salt, in + 112, 8);
	memcpy(bp->iv, in + 120, 12);
	memcpy(bp->mac, in + 132, 16);
	bp->keygen = le32_get(in + 148);

	if (in[77] || in[78] || in[79])
		return CF_CORRUPT();
	for (int i = 152; i < CF_BP_SIZE; i++)
		if (in[i])
			return CF_CORRUPT();
	if (cf_bp_is_hole(bp)) {
		/* a hole: nothing but an optional birth txg and type/level */
		for (int i = 0; i < CF_MAX_COPIES; i++)
			if (bp->dva[i].asize || bp->dva[i].offset ||
			    bp->dva[i].vdev)
				return CF_CORRUPT();
		if (bp->psize || bp->fill)
			return CF_CORRUPT();
		return 0;
	}
	/* copies are packed at the front */
	int n = cf_bp_ncopies(bp);
	for (int i = n; i < CF_MAX_COPIES; i++)
		if (bp->dva[i].asize || bp->dva[i].offset || bp->dva[i].vdev)
			return CF_CORRUPT();
	if (bp->lsize == 0 || bp->lsize > (1u << 24) || bp->psize == 0 ||
	    bp->psize > bp->lsize || bp->birth == 0)
		return CF_CORRUPT();
	if (bp->comp > CF_COMP_ZSTD ||
	    (bp->comp == CF_COMP_OFF && bp->psize != bp->lsize))
		return CF_CORRUPT();
	if (bp->cksum != CF_CKSUM_FLETCHER4 && bp->cksum != CF_CKSUM_SHA256)
		return CF_CORRUPT();
	if (bp->level > 15 || bp->flags & ~(CF_BPF_ENCRYPTED | CF_BPF_DNODE) ||
	    (bp->flags & CF_BPF_DNODE && !(bp->flags & CF_BPF_ENCRYPTED)))
		return CF_CORRUPT();
	for (int i = 0; i < n; i++) {
		if (bp->dva[i].asize % CF_SECTOR ||
		    bp->dva[i].offset % CF_SECTOR ||
		    bp->dva[i].asize < bp->psize ||
		    bp->dva[i].asize - bp->psize >= CF_SECTOR ||
		    bp->dva[i].vdev >= CF_MAX_VDEVS)
			return CF_CORRUPT();
	}
	return 0;
}

void cf_bp_describe(const cf_blkptr_t *bp, char *buf, size_t n)
{
	if (cf_bp_is_hole(bp)) {
		snprintf(buf, n, "hole birth %llu",
		    (unsigned long long)bp->birth);
		return;
	}
	snprintf(buf, n, "L%u type %u %u/%u comp %u birth %llu dva %u:%llx",
	    bp->level, bp->type, bp->lsize, bp->psize, bp->comp,
	    (unsigned long long)bp->birth, bp->dva[0].vdev,
	    (unsigned long long)bp->dva[0].offset);
}

void cf_block_checksum(int type, const void *buf, size_t len,
    uint8_t out[32])
{
	if (type == CF_CKSUM_SHA256)
		cf_sha256(buf, len, out);
	else
		cf_fletcher4(buf, len, out);
}

static int all_zero(const void *p, size_t n)
{
	const uint64_t *w = p;
	size_t i;
	for (i = 0; i < n / 8; i++)
		if (w[i])
			return 0;
	for (i *= 8; i < n; i++)
		if (((const uint8_t *)p)[i])
			return 0;
	return 1;
}

/* Can the copies of `old` (born in this txg) hold psize bytes? */
static int fits_inplace(const cf_blkptr_t *old, uint32_t psize, int copies,
    uint64_t txg)
{
	if (!old || cf_bp_is_hole(old) || old->birth != txg)
		return 0;
	if (cf_bp_ncopies(old) != copies)
		return 0;
	return CF_ROUNDUP(psize, CF_SECTOR) == old->dva[0].asize;
}

int cf_block_write(struct cf_spa *spa, const void *data, uint32_t lsize,
    const cf_wprops_t *wp, uint64_t txg, const cf_blkptr_t *inplace,
    cf_blkptr_t *bp)
{
	int err = 0;
	uint8_t *cbuf = NULL;
	const uint8_t *payload = data;
	uint32_t psize = lsize;
	int comp = CF_COMP_OFF;

	memset(bp, 0, sizeof(*bp));
	bp->type = wp->type;
	bp->level = wp->level;
	uint8_t *dnbuf = NULL;
	if (all_zero(data, lsize)) {
		/* holes cost nothing; the birth txg records when */
		if (inplace && !cf_bp_is_hole(inplace) &&
		    inplace->birth == txg)
			cf_spa_free_now(spa, inplace);
		bp->birth = txg;
		bp->lsize = lsize;
		return 0;
	}

	bp->lsize = lsize;
	if (wp->crypt == CF_CRYPT_DNODE) {
		/* attributes are sealed before compression (blkcrypt.c) */
		dnbuf = malloc(lsize);
		if (!dnbuf)
			return -ENOMEM;
		memcpy(dnbuf, data, lsize);
		if (wp->sealed) {
			/* sealed by the sender: keep its seal as is */
			memcpy(bp->salt, wp->sealed->salt, 8);
			memcpy(bp->iv, wp->sealed->iv, 12);
			memcpy(bp->mac, wp->sealed->mac, 16);
			bp->keygen = wp->sealed->keygen;
			bp->flags |= CF_BPF_ENCRYPTED | CF_BPF_DNODE;
		} else {
			err = cf_blk_encrypt_dnode(wp->cs, bp, dnbuf, lsize);
		}
		if (err) {
			free(dnbuf);
			return err;
		}
		data = dnbuf;
		payload = dnbuf;
	}
	if (wp->comp != CF_COMP_OFF && lsize > CF_SECTOR) {
		size_t cap = lsize;
		cbuf = malloc(cap);
		if (!cbuf) {
			free(dnbuf);
			return -ENOMEM;
		}
		int r = cf_compress(wp->comp, wp->comp_level, data, lsize,
		    cbuf, cap);
		if (r < 0) {
			free(cbuf);
			free(dnbuf);
			return r;
		}
		if (r > 0 && (uint32_t)r < lsize) {
			payload = cbuf;
			psize = (uint32_t)r;
			comp = wp->comp;
		}
	}

	uint32_t asize = CF_ROUNDUP(psize, CF_SECTOR);
	int copies = wp->copies ? wp->copies : 1;
	/* The stored image is padded with zeros to the sector; data to be
	 * encrypted needs a buffer of its own too. */
	uint8_t *sbuf = NULL;
	int seal = wp->crypt == CF_CRYPT_DATA;
	const uint8_t *plain = payload;
	if (asize != psize || (seal && payload != cbuf)) {
		sbuf = malloc(asize);
		if (!sbuf) {
			err = -ENOMEM;
			goto out;
		}
		/* a block to seal is encrypted straight into sbuf below */
		if (!seal)
			memcpy(sbuf, payload, psize);
		memset(sbuf + psize, 0, asize - psize);
		payload = sbuf;
	}

	bp->birth = txg;
	bp->fill = wp->level == 0 ? 1 : 0;
	bp->lsize = lsize;
	bp->psize = psize;
	bp->comp = (uint8_t)comp;
	if (seal) {
		/* compression first, then encryption (DESIGN §4) */
		err = cf_blk_encrypt_data(wp->cs, bp, plain, (uint8_t *)payload,
		    psize);
		if (err)
			goto out;
	}
	bp->cksum = wp->cksum ? wp->cksum : CF_CKSUM_FLETCHER4;
	cf_block_checksum(bp->cksum, payload, psize, bp->checksum);

	if (fits_inplace(inplace, psize, copies, txg)) {
		memcpy(bp->dva, inplace->dva, sizeof(bp->dva));
	} else {
		if (inplace && !cf_bp_is_hole(inplace) &&
		    inplace->birth == txg)
			cf_spa_free_now(spa, inplace);
		err = cf_spa_alloc(spa, asize, copies, bp->dva);
		if (err)
			goto out;
	}
	for (int i = 0; i < copies; i++) {
		err = cf_spa_write_dva(spa, &bp->dva[i], payload, asize);
		if (err)
			goto out;
	}
out:
	free(sbuf);
	free(cbuf);
	free(dnbuf);
	return err;
}

/*
 * Read copy i into `raw` (asize bytes) and verify it.  Returns 0 when it
 * verifies, COFFER_ECORRUPT when the checksum fails, or an I/O error.
 */
static int read_copy(struct cf_spa *spa, const cf_blkptr_t *bp, int i,
    uint8_t *raw)
{
	uint8_t sum[32];
	int err = cf_spa_read_dva(spa, &bp->dva[i], raw, bp->dva[i].asize);
	if (err)
		return err;
	cf_block_checksum(bp->cksum, raw, bp->psize, sum);
	if (!cf_ct_equal(sum, bp->checksum, 32)) {
		cf_spa_count_cksum_error(spa, (int)bp->dva[i].vdev);
		return COFFER_ECORRUPT;
	}
	return 0;
}

static void heal(struct cf_spa *spa, const cf_blkptr_t *bp, int i,
    const uint8_t *good)
{
	if (cf_spa_readonly(spa))
		return;
	if (cf_spa_write_dva(spa, &bp->dva[i], good, bp->dva[i].asize) == 0) {
		cf_spa_count_healed(spa, (int)bp->dva[i].vdev);
		cf_log(COFFER_LOG_INFO, "repaired copy %d of a block at %u:%llx",
		    i, bp->dva[i].vdev,
		    (unsigned long long)bp->dva[i].offset);
	}
}

/*
 * Read the first copy that verifies into raw (asize bytes) and rewrite
 * the bad copies before it from it.  COFFER_ECORRUPT (counted) when no
 * copy verifies; an I/O error as is.
 */
static int read_good(struct cf_spa *spa, const cf_blkptr_t *bp, uint8_t *raw)
{
	int n = cf_bp_ncopies(bp);
	uint32_t asize = bp->dva[0].asize;
	int err = COFFER_ECORRUPT, bad[CF_MAX_COPIES], nbad = 0;
	for (int i = 0; i < n; i++) {
		if (bp->dva[i].asize != asize)
			return CF_CORRUPT();
		err = read_copy(spa, bp, i, raw);
		if (err == 0) {
			for (int j = 0; j < nbad; j++)
				heal(spa, bp, bad[j], raw);
			return 0;
		}
		bad[nbad++] = i;
	}
	return err == COFFER_ECORRUPT ? CF_CORRUPT() : err;
}

int cf_block_read(struct cf_spa *spa, const cf_blkptr_t *bp, void *buf)
{
	return cf_block_read_cs(spa, bp, buf, NULL, 0);
}

int cf_block_read_cs(struct cf_spa *spa, const cf_blkptr_t *bp, void *buf,
    const cf_cryptset_t *cs, int flags)
{
	if (cf_bp_is_hole(bp)) {
		memset(buf, 0, bp->lsize);
		return 0;
	}
	int enc = (bp->flags & CF_BPF_ENCRYPTED) != 0;
	int dnode = enc && (bp->flags & CF_BPF_DNODE);
	if (enc && !cs && !(dnode && (flags & CF_RD_STRUCT)))
		return COFFER_ENOKEY;
	uint32_t asize = bp->dva[0].asize;
	uint8_t *raw;
	int direct = bp->comp == CF_COMP_OFF && asize == bp->lsize;

	raw = direct ? buf : malloc(asize);
	if (!raw)
		return -ENOMEM;
	int err = read_good(spa, bp, raw);
	if (err == 0) {
		if (enc && !dnode)
			err = cf_blk_decrypt_data(cs, bp, raw, bp->psize);
		if (!err && bp->comp != CF_COMP_OFF)
			err = cf_decompress(bp->comp, raw, bp->psize, buf,
			    bp->lsize);
		else if (!err && !direct)
			memcpy(buf, raw, bp->lsize);
		if (!err && dnode && cs)
			err = cf_blk_decrypt_dnode(cs, bp, buf, bp->lsize);
		if (err == COFFER_EAUTH)
			memset(buf, 0, bp->lsize);
	}
	if (!direct)
		free(raw);
	return err;
}

int cf_block_read_raw(struct cf_spa *spa, const cf_blkptr_t *bp, void *buf)
{
	if (cf_bp_is_hole(bp))
		return -EINVAL;
	if (bp->dva[0].asize < bp->psize)
		return CF_CORRUPT();
	return read_good(spa, bp, buf);
}

int cf_block_write_raw(struct cf_spa *spa, const void *data, uint32_t psize,
    const cf_blkptr_t *tmpl, int cksum, int copies, uint64_t txg,
    const cf_blkptr_t *inplace, cf_blkptr_t *bp)
{
	if (psize == 0 || psize > tmpl->lsize || copies < 1 ||
	    copies > CF_MAX_COPIES)
		return -EINVAL;
	memset(bp, 0, sizeof(*bp));
	bp->lsize = tmpl->lsize;
	bp->psize = psize;
	bp->type = tmpl->type;
	bp->level = tmpl->level;
	bp->comp = tmpl->comp;
	bp->flags = tmpl->flags;
	bp->keygen = tmpl->keygen;
	memcpy(bp->salt, tmpl->salt, sizeof(bp->salt));
	memcpy(bp->iv, tmpl->iv, sizeof(bp->iv));
	memcpy(bp->mac, tmpl->mac, sizeof(bp->mac));
	bp->birth = txg;
	bp->fill = bp->level == 0 ? 1 : 0;
	bp->cksum = (uint8_t)(cksum ? cksum : CF_CKSUM_FLETCHER4);
	cf_block_checksum(bp->cksum, data, psize, bp->checksum);
	uint32_t asize = CF_ROUNDUP(psize, CF_SECTOR);
	uint8_t *sbuf = malloc(asize);
	if (!sbuf)
		return -ENOMEM;
	memcpy(sbuf, data, psize);
	memset(sbuf + psize, 0, asize - psize);
	int err = 0;
	if (fits_inplace(inplace, psize, copies, txg)) {
		memcpy(bp->dva, inplace->dva, sizeof(bp->dva));
	} else {
		if (inplace && !cf_bp_is_hole(inplace) &&
		    inplace->birth == txg)
			cf_spa_free_now(spa, inplace);
		err = cf_spa_alloc(spa, asize, copies, bp->dva);
	}
	for (int i = 0; i < copies && !err; i++)
		err = cf_spa_write_dva(spa, &bp->dva[i], sbuf, asize);
	free(sbuf);
	return err;
}

int cf_block_scrub(struct cf_spa *spa, const cf_blkptr_t *bp,
    cf_scrub_res_t *res)
{
	memset(res, 0, sizeof(*res));
	if (cf_bp_is_hole(bp))
		return 0;
	int n = cf_bp_ncopies(bp);
	uint32_t asize = bp->dva[0].asize;
	uint8_t *raw = malloc(asize), *goodbuf = NULL;
	if (!raw)
		return -ENOMEM;
	int bad[CF_MAX_COPIES], nbad = 0, err = 0;
	for (int i = 0; i < n; i++) {
		if (bp->dva[i].asize != asize) {
			bad[nbad++] = i;
			continue;
		}
		int r = read_copy(spa, bp, i, raw);
		if (r == 0) {
			res->good_copies++;
			if (!goodbuf) {
				goodbuf = raw;
				raw = malloc(asize);
				if (!raw) {
					err = -ENOMEM;
					break;
				}
			}
		} else {
			bad[nbad++] = i;
		}
	}
	res->bad_copies = nbad;
	if (goodbuf && !err) {
		for (int j = 0; j < nbad; j++) {
			if (bp->dva[bad[j]].asize != asize)
				continue;
			heal(spa, bp, bad[j], goodbuf);
			res->repaired++;
		}
	}
	free(raw);
	free(goodbuf);
	if (!err && res->good_copies == 0)
		err = COFFER_ECORRUPT;
	return err;
}
