/*
 * Space allocation: one bitmap per device, one bit per CF_SECTOR.
 *
 * Two bitmaps per device:
 *   map  - what may not be handed out now: allocated blocks plus frees
 *          still deferred (spa.h invariant 3);
 *   disk - what the pool at the syncing txg references: frees applied
 *          at once.  This is the bitmap persisted in the MOS, so after a
 *          crash the pool reopens with exactly the space its committed
 *          uberblock references.
 *
 * Invariants
 *  1. disk is a subset of map; map minus disk is exactly the union of the
 *     deferred-free lists.
 *  2. Every change to disk marks its chunk dirty; cf_spa_bitmap_dirty
 *     hands each dirty chunk out once, in the syncing txg.
 *  3. Allocation never hands out a bit set in map.
 */
#include "spa/spa_impl.h"

#include <stdlib.h>

static inline int bit_get(const uint8_t *m, uint64_t b)
{
	return (m[b >> 3] >> (b & 7)) & 1;
}
static inline void bit_set(uint8_t *m, uint64_t b)
{
	m[b >> 3] |= (uint8_t)(1u << (b & 7));
}
static inline void bit_clr(uint8_t *m, uint64_t b)
{
	m[b >> 3] &= (uint8_t)~(1u << (b & 7));
}

static void mark_dirty(cf_alloc_dev_t *a, uint64_t bit, uint64_t n)
{
	uint64_t c0 = (bit >> 3) / CF_BITMAP_CHUNK;
	uint64_t c1 = ((bit + n - 1) >> 3) / CF_BITMAP_CHUNK;
	for (uint64_t c = c0; c <= c1; c++)
		bit_set(a->dirty, c);
}

int cf_alloc_init(cf_spa_t *spa)
{
	for (int i = 0; i < spa->ndev; i++) {
		cf_alloc_dev_t *a = &spa->alloc[i];
		cf_vdev_t *v = spa->vdev[i];
		a->start = cf_vdev_data_start(v);
		a->nbits = (cf_vdev_data_end(v) - a->start) / CF_SECTOR;
		uint64_t bytes = CF_ROUNDUP(CF_DIV_ROUNDUP(a->nbits, 8),
		    CF_BITMAP_CHUNK);
		uint64_t nchunks = bytes / CF_BITMAP_CHUNK;
		a->map = calloc(1, bytes);
		a->disk = calloc(1, bytes);
		a->dirty = calloc(1, CF_DIV_ROUNDUP(nchunks, 8) + 1);
		if (!a->map || !a->disk || !a->dirty)
			return -ENOMEM;
		/* a fresh pool: every chunk must be written once */
		for (uint64_t c = 0; c < nchunks; c++)
			bit_set(a->dirty, c);
		a->cursor = 0;
	}
	for (int i = 0; i <= CF_TXG_DEFER; i++)
		spa->defer[i].txg = 0;
	return 0;
}

void cf_alloc_fini(cf_spa_t *spa)
{
	for (int i = 0; i < CF_MAX_VDEVS; i++) {
		free(spa->alloc[i].map);
		free(spa->alloc[i].disk);
		free(spa->alloc[i].dirty);
		spa->alloc[i].map = spa->alloc[i].disk = spa->alloc[i].dirty =
		    NULL;
	}
	for (int i = 0; i <= CF_TXG_DEFER; i++) {
		free(spa->defer[i].v);
		spa->defer[i].v = NULL;
	}
	free(spa->wipe);
	spa->wipe = NULL;
}

uint64_t cf_spa_bitmap_bytes(cf_spa_t *spa, int vdev)
{
	cf_alloc_dev_t *a = &spa->alloc[vdev];
	return CF_ROUNDUP(CF_DIV_ROUNDUP(a->nbits, 8), CF_BITMAP_CHUNK);
}

int cf_spa_bitmap_load(cf_spa_t *spa, int vdev, uint64_t off,
    const void *buf, uint64_t len)
{
	if (vdev < 0 || vdev >= spa->ndev)
		return -EINVAL;
	cf_alloc_dev_t *a = &spa->alloc[vdev];
	uint64_t total = cf_spa_bitmap_bytes(spa, vdev);
	if (off > total || len > total - off)
		return CF_CORRUPT();
	memcpy(a->map + off, buf, len);
	memcpy(a->disk + off, buf, len);
	return 0;
}

void cf_spa_bitmap_loaded(cf_spa_t *spa)
{
	pthread_mutex_lock(&spa->alloc_lock);
	for (int i = 0; i < spa->ndev; i++) {
		cf_alloc_dev_t *a = &spa->alloc[i];
		uint64_t bytes = cf_spa_bitmap_bytes(spa, i);
		/* bits past the end of the device must read as allocated */
		for (uint64_t b = a->nbits; b < bytes * 8; b++) {
			bit_set(a->map, b);
			bit_set(a->disk, b);
		}
		uint64_t n = 0;
		for (uint64_t b = 0; b < a->nbits; b++)
			n += bit_get(a->map, b);
		a->used_bits = a->disk_bits = n;
		memset(a->dirty, 0,
		    CF_DIV_ROUNDUP(bytes / CF_BITMAP_CHUNK, 8) + 1);
	}
	spa->bitmaps_loaded = 1;
	pthread_mutex_unlock(&spa->alloc_lock);
}

/* Find n free bits in map starting near the cursor (next fit). */
static int find_run(cf_alloc_dev_t *a, uint64_t n, uint64_t *out)
{
	uint64_t start = a->cursor >= a->nbits ? 0 : a->cursor;
	for (int wrap = 0; wrap < 2; wrap++) {
		uint64_t b = wrap ? 0 : start;
		uint64_t end = wrap ? start + n : a->nbits;
		if (end > a->nbits)
			end = a->nbits;
		while (b + n <= end) {
			/* skip full bytes quickly */
			if ((b & 7) == 0 && a->map[b >> 3] == 0xff) {
				b += 8;
				continue;
			}
			uint64_t run = 0;
			while (run < n && !bit_get(a->map, b + run))
				run++;
			if (run == n) {
				*out = b;
				return 0;
			}
			b += run + 1;
		}
	}
	return -ENOSPC;
}

static void set_range(cf_alloc_dev_t *a, uint64_t bit, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		bit_set(a->map, bit + i);
		bit_set(a->disk, bit + i);
	}
	a->used_bits += n;
	a->disk_bits += n;
	mark_dirty(a, bit, n);
}

int cf_spa_alloc(cf_spa_t *spa, uint32_t asize, int ncopies,
    cf_dva_t *dvas)
{
	uint64_t n = asize / CF_SECTOR;
	int err = 0, got = 0;

	if (asize == 0 || asize % CF_SECTOR || ncopies < 1 ||
	    ncopies > CF_MAX_COPIES)
		return -EINVAL;
	pthread_mutex_lock(&spa->alloc_lock);
	int first = spa->rotor;
	spa->rotor = (spa->rotor + 1) % spa->ndev;
	for (int c = 0; c < ncopies; c++) {
		uint64_t bit = 0;
		err = -ENOSPC;
		/* prefer a device not used by an earlier copy */
		for (int pass = 0; pass < 2 && err; pass++) {
			for (int k = 0; k < spa->ndev && err; k++) {
				int d = (first + c + k) % spa->ndev;
				int taken = 0;
				for (int j = 0; j < got; j++)
					if (dvas[j].vdev == (uint32_t)d)
						taken = 1;
				if ((pass == 0 && taken) ||
				    spa->dev_state[d] != 0)
					continue;
				cf_alloc_dev_t *a = &spa->alloc[d];
				if (find_run(a, n, &bit) == 0) {
					set_range(a, bit, n);
					a->cursor = bit + n;
					dvas[got].vdev = (uint32_t)d;
					dvas[got].asize = asize;
					dvas[got].offset = a->start +
					    bit * CF_SECTOR;
					got++;
					err = 0;
				}
			}
		}
		if (err)
			break;
	}
	if (err) {
		/* undo partial allocation */
		for (int j = 0; j < got; j++) {
			cf_alloc_dev_t *a = &spa->alloc[dvas[j].vdev];
			uint64_t bit = (dvas[j].offset - a->start) / CF_SECTOR;
			for (uint64_t i = 0; i < n; i++) {
				bit_clr(a->map, bit + i);
				bit_clr(a->disk, bit + i);
			}
			a->used_bits -= n;
			a->disk_bits -= n;
			mark_dirty(a, bit, n);
		}
	}
	for (int j = got; j < CF_MAX_COPIES; j++)
		memset(&dvas[j], 0, sizeof(dvas[j]));
	if (err)
		for (int j = 0; j < got; j++)
			memset(&dvas[j], 0, sizeof(dvas[j]));
	pthread_mutex_unlock(&spa->alloc_lock);
	return err;
}

/* Validate a DVA against the device; returns the bit or -1. */
static int64_t dva_bit(cf_spa_t *spa, const cf_dva_t *d)
{
	if (d->vdev >= (uint32_t)spa->ndev)
		return -1;
	cf_alloc_dev_t *a = &spa->alloc[d->vdev];
	if (d->offset < a->start || d->offset % CF_SECTOR)
		return -1;
	uint64_t bit = (d->offset - a->start) / CF_SECTOR;
	uint64_t n = d->asize / CF_SECTOR;
	if (bit >= a->nbits || n > a->nbits - bit)
		return -1;
	return (int64_t)bit;
}

static cf_defer_list_t *defer_list(cf_spa_t *spa, uint64_t txg)
{
	cf_defer_list_t *l = &spa->defer[txg % (CF_TXG_DEFER + 1)];
	if (l->txg != txg) {
		/* a slot is reused only after its frees were released */
		l->txg = txg;
		l->n = 0;
	}
	return l;
}

void cf_spa_set_wipe_types(cf_spa_t *spa, uint64_t mask)
{
	pthread_mutex_lock(&spa->alloc_lock);
	spa->wipe_mask = mask;
	pthread_mutex_unlock(&spa->alloc_lock);
}

static int wants_wipe(cf_spa_t *spa, const cf_blkptr_t *bp)
{
	return bp->type < 64 && (spa->wipe_mask >> bp->type) & 1;
}

static void zero_dva(cf_spa_t *spa, const cf_dva_t *d)
{
	static const uint8_t zeros[65536];
	for (uint64_t off = 0; off < d->asize; off += sizeof(zeros)) {
		cf_dva_t piece = *d;
		piece.offset = d->offset + off;
		uint64_t n = CF_MIN(sizeof(zeros), d->asize - off);
		if (cf_spa_write_dva(spa, &piece, zeros, n) != 0)
			cf_log(COFFER_LOG_ERR, "cannot wipe a freed key block "
			    "at %u:%llx", d->vdev,
			    (unsigned long long)piece.offset);
	}
}

int cf_alloc_wipe(cf_spa_t *spa, uint64_t txg)
{
	pthread_mutex_lock(&spa->alloc_lock);
	cf_dva_t *v = spa->wipe;
	size_t n = spa->nwipe;
	int mine = spa->wipe_txg == txg;
	if (mine) {
		spa->wipe = NULL;
		spa->nwipe = spa->capwipe = 0;
	}
	pthread_mutex_unlock(&spa->alloc_lock);
	if (!mine || !n)
		return 0;
	for (size_t i = 0; i < n; i++)
		zero_dva(spa, &v[i]);
	free(v);
	int err = 0;
	for (int i = 0; i < spa->ndev && !err; i++)
		err = cf_vdev_flush(spa->vdev[i]);
	return err;
}

void cf_spa_free(cf_spa_t *spa, const cf_blkptr_t *bp, uint64_t txg)
{
	pthread_mutex_lock(&spa->alloc_lock);
	if (wants_wipe(spa, bp)) {
		spa->wipe_txg = txg;
		for (int i = 0; i < CF_MAX_COPIES && bp->dva[i].asize; i++) {
			if (spa->nwipe == spa->capwipe) {
				size_t nc = spa->capwipe ? spa->capwipe * 2 : 16;
				cf_dva_t *nv = realloc(spa->wipe,
				    nc * sizeof(*nv));
				if (!nv)
					break;
				spa->wipe = nv;
				spa->capwipe = nc;
			}
			spa->wipe[spa->nwipe++] = bp->dva[i];
		}
	}
	for (int i = 0; i < CF_MAX_COPIES && bp->dva[i].asize; i++) {
		int64_t bit = dva_bit(spa, &bp->dva[i]);
		if (bit < 0) {
			cf_log(COFFER_LOG_ERR, "free of bad dva %u:%llx",
			    bp->dva[i].vdev,
			    (unsigned long long)bp->dva[i].offset);
			continue;
		}
		cf_alloc_dev_t *a = &spa->alloc[bp->dva[i].vdev];
		uint64_t n = bp->dva[i].asize / CF_SECTOR;
		for (uint64_t k = 0; k < n; k++)
			bit_clr(a->disk, (uint64_t)bit + k);
		a->disk_bits -= n;
		mark_dirty(a, (uint64_t)bit, n);
		cf_defer_list_t *l = defer_list(spa, txg);
		if (l->n == l->cap) {
			size_t nc = l->cap ? l->cap * 2 : 256;
			cf_defer_t *nv = realloc(l->v, nc * sizeof(*nv));
			if (!nv) {
				/* cannot defer: leak until next import
				 * rather than risk reuse */
				continue;
			}
			l->v = nv;
			l->cap = nc;
		}
		l->v[l->n].vdev = bp->dva[i].vdev;
		l->v[l->n].nsect = (uint32_t)n;
		l->v[l->n].bit = (uint64_t)bit;
		l->n++;
	}
	pthread_mutex_unlock(&spa->alloc_lock);
}

void cf_spa_free_now(cf_spa_t *spa, const cf_blkptr_t *bp)
{
	/* nothing durable points here: wipe before the space is reused */
	if (bp->type < 64 && (__atomic_load_n(&spa->wipe_mask,
	    __ATOMIC_RELAXED) >> bp->type) & 1)
		for (int i = 0; i < CF_MAX_COPIES && bp->dva[i].asize; i++)
			zero_dva(spa, &bp->dva[i]);
	pthread_mutex_lock(&spa->alloc_lock);
	for (int i = 0; i < CF_MAX_COPIES && bp->dva[i].asize; i++) {
		int64_t bit = dva_bit(spa, &bp->dva[i]);
		if (bit < 0)
			continue;
		cf_alloc_dev_t *a = &spa->alloc[bp->dva[i].vdev];
		uint64_t n = bp->dva[i].asize / CF_SECTOR;
		for (uint64_t k = 0; k < n; k++) {
			bit_clr(a->disk, (uint64_t)bit + k);
			bit_clr(a->map, (uint64_t)bit + k);
		}
		a->disk_bits -= n;
		a->used_bits -= n;
		mark_dirty(a, (uint64_t)bit, n);
	}
	pthread_mutex_unlock(&spa->alloc_lock);
}

void cf_alloc_txg_done(cf_spa_t *spa, uint64_t txg)
{
	/* frees of txg t become reusable once t + CF_TXG_DEFER - 1 is
	 * durable, i.e. before t + CF_TXG_DEFER syncs */
	if (txg + 1 < CF_TXG_DEFER)
		return;
	uint64_t rel = txg + 1 - CF_TXG_DEFER;
	pthread_mutex_lock(&spa->alloc_lock);
	for (int s = 0; s <= CF_TXG_DEFER; s++) {
		cf_defer_list_t *l = &spa->defer[s];
		if (l->txg == 0 || l->txg > rel)
			continue;
		for (size_t i = 0; i < l->n; i++) {
			cf_alloc_dev_t *a = &spa->alloc[l->v[i].vdev];
			for (uint64_t k = 0; k < l->v[i].nsect; k++)
				bit_clr(a->map, l->v[i].bit + k);
			a->used_bits -= l->v[i].nsect;
		}
		l->n = 0;
		l->txg = 0;
	}
	pthread_mutex_unlock(&spa->alloc_lock);
}

int cf_spa_bitmap_dirty(cf_spa_t *spa, cf_bitmap_cb cb, void *arg)
{
	for (int d = 0; d < spa->ndev; d++) {
		cf_alloc_dev_t *a = &spa->alloc[d];
		uint64_t nchunks = cf_spa_bitmap_bytes(spa, d) /
		    CF_BITMAP_CHUNK;
		uint8_t *chunk = malloc(CF_BITMAP_CHUNK);
		if (!chunk)
			return -ENOMEM;
		for (uint64_t c = 0; c < nchunks; c++) {
			pthread_mutex_lock(&spa->alloc_lock);
			int dirty = bit_get(a->dirty, c);
			if (dirty) {
				bit_clr(a->dirty, c);
				memcpy(chunk, a->disk + c * CF_BITMAP_CHUNK,
				    CF_BITMAP_CHUNK);
				/* past-the-end bits read as allocated */
				uint64_t first = c * CF_BITMAP_CHUNK * 8;
				for (uint64_t b = CF_MAX(first, a->nbits);
				    b < first + CF_BITMAP_CHUNK * 8; b++)
					bit_set(chunk, b - first);
			}
			pthread_mutex_unlock(&spa->alloc_lock);
			if (!dirty)
				continue;
			int err = cb(arg, d, c * CF_BITMAP_CHUNK, chunk,
			    CF_BITMAP_CHUNK);
			if (err) {
				free(chunk);
				return err;
			}
		}
		free(chunk);
	}
	return 0;
}

int cf_spa_is_allocated(cf_spa_t *spa, int vdev, uint64_t off, uint64_t len)
{
	cf_dva_t d = { (uint32_t)vdev, (uint32_t)len, off };
	int64_t bit = dva_bit(spa, &d);
	if (bit < 0)
		return 0;
	int all = 1;
	pthread_mutex_lock(&spa->alloc_lock);
	for (uint64_t k = 0; k < len / CF_SECTOR; k++)
		if (!bit_get(spa->alloc[vdev].disk, (uint64_t)bit + k))
			all = 0;
	pthread_mutex_unlock(&spa->alloc_lock);
	return all;
}

int cf_spa_alloc_iter(cf_spa_t *spa,
    int (*cb)(void *arg, int vdev, uint64_t off, uint64_t len), void *arg)
{
	for (int d = 0; d < spa->ndev; d++) {
		cf_alloc_dev_t *a = &spa->alloc[d];
		uint64_t b = 0;
		while (b < a->nbits) {
			if (!bit_get(a->disk, b)) {
				b++;
				continue;
			}
			uint64_t e = b;
			while (e < a->nbits && bit_get(a->disk, e))
				e++;
			int err = cb(arg, d, a->start + b * CF_SECTOR,
			    (e - b) * CF_SECTOR);
			if (err)
				return err;
			b = e;
		}
	}
	return 0;
}

uint64_t cf_spa_size(cf_spa_t *spa)
{
	uint64_t s = 0;
	for (int i = 0; i < spa->ndev; i++)
		s += spa->alloc[i].nbits * CF_SECTOR;
	return s;
}

uint64_t cf_spa_allocated(cf_spa_t *spa)
{
	uint64_t s = 0;
	pthread_mutex_lock(&spa->alloc_lock);
	for (int i = 0; i < spa->ndev; i++)
		s += spa->alloc[i].used_bits * CF_SECTOR;
	pthread_mutex_unlock(&spa->alloc_lock);
	return s;
}

uint64_t cf_spa_dev_allocated(cf_spa_t *spa, int vdev)
{
	pthread_mutex_lock(&spa->alloc_lock);
	uint64_t s = spa->alloc[vdev].used_bits * CF_SECTOR;
	pthread_mutex_unlock(&spa->alloc_lock);
	return s;
}

uint64_t cf_spa_available(cf_spa_t *spa)
{
	uint64_t size = cf_spa_size(spa), used = cf_spa_allocated(spa);
	uint64_t slop = CF_MAX(size / 32, 4u * 1024 * 1024);
	if (used + slop >= size)
		return 0;
	return size - used - slop;
}
