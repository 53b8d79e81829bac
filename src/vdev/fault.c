/*
 * fault.c: a device that loses power on purpose.
 *
 * The model is SQLite's crash VFS: a disk with a volatile write cache.
 * Writes since the last flush sit in the cache (here: a list in memory,
 * in issue order); reads see them; a flush writes them to the inner
 * device in order and flushes it, which makes them durable.  At the crash
 * (the crash_at_write'th write, or cf_vdev_fault_crash()) each cached
 * write independently
 *
 *   - is dropped (never reached the platter),
 *   - is applied whole, or
 *   - is torn: each of its 512-byte pieces (the parts of the write that
 *     fall into one 512-byte-aligned sector of the device) is applied or
 *     not,
 *
 * the choice made by a PRNG seeded from cfg->seed, among the outcomes
 * allowed by cfg->modes.  Survivors are applied in issue order, so where
 * cached writes overlap the later one wins, as on a disk that writes its
 * cache back in order and stops somewhere.  The write that triggers the
 * crash is one of the cached writes (it was in flight when power went)
 * and its caller gets -EIO.
 *
 * Invariants
 *  1. Nothing reaches the inner device except through flush, the crash
 *     or a clean close, so after a crash the inner device holds exactly:
 *     everything flushed before, plus the crash's chosen survivors.
 *  2. The outcome depends only on the seed and on the sequence of
 *     requests (not on timing), so a failing seed can be replayed.  With
 *     several threads the sequence is the order in which they took the
 *     lock.
 *  3. After the crash every operation fails with -EIO and the inner
 *     device is never touched again.
 *  4. All state is guarded by one mutex; the inner device is only used
 *     with the mutex held, so it needs no thread safety of its own.
 *  5. A close without a crash is a clean shutdown: the cache is written
 *     back and the inner device flushed (a real OS would do the same).
 */
#include "vdev/vdev_impl.h"

#include <pthread.h>
#include <stdlib.h>

#define FAULT_PIECE 512u
#define FAULT_ALL_MODES (CF_FAULT_DROP | CF_FAULT_APPLY | CF_FAULT_TEAR)

struct pending {
	uint64_t off;
	size_t len;
	uint8_t *data;
};

struct fault_priv {
	pthread_mutex_t lock;
	cf_vdev_t *inner;
	cf_fault_cfg_t cfg;
	uint64_t rng;
	uint64_t writes;
	uint64_t reads;
	int crashed;
	struct pending *pend;
	size_t npend;
	size_t cap;
};

/* splitmix64: tiny, fast, and every seed (even 0) gives a good stream. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Inner-device errors during a crash are not reported (see crash()). */
static void best_effort(int rc)
{
	(void)rc;
}

static void pending_clear(struct fault_priv *p)
{
	for (size_t i = 0; i < p->npend; i++)
		free(p->pend[i].data);
	p->npend = 0;
}

/*
 * Write the cache back in order and flush the inner device.  On an error
 * the writes already applied leave the cache and the rest stay, so a
 * retry does not apply anything twice out of order.
 */
static int writeback(struct fault_priv *p)
{
	size_t done;
	int rc = 0;

	for (done = 0; done < p->npend; done++) {
		struct pending *w = &p->pend[done];

		rc = cf_vdev_write(p->inner, w->off, w->data, w->len);
		if (rc != 0)
			break;
		free(w->data);
	}
	if (done > 0) {
		memmove(p->pend, p->pend + done,
		    (p->npend - done) * sizeof(*p->pend));
		p->npend -= done;
	}
	if (rc == 0)
		rc = cf_vdev_flush(p->inner);
	return rc;
}

static int pick_mode(struct fault_priv *p)
{
	int allowed[3], n = 0;
	int modes = p->cfg.modes ? p->cfg.modes : FAULT_ALL_MODES;

	if (modes & CF_FAULT_DROP)
		allowed[n++] = CF_FAULT_DROP;
	if (modes & CF_FAULT_APPLY)
		allowed[n++] = CF_FAULT_APPLY;
	if (modes & CF_FAULT_TEAR)
		allowed[n++] = CF_FAULT_TEAR;
	return allowed[rng_next(&p->rng) % (uint64_t)n];
}

/* Apply a random subset of the write's 512-byte pieces. */
static void tear(struct fault_priv *p, const struct pending *w)
{
	uint64_t off = w->off;
	uint64_t end = w->off + w->len;

	while (off < end) {
		uint64_t next = (off / FAULT_PIECE + 1) * FAULT_PIECE;

		next = CF_MIN(next, end);
		if (rng_next(&p->rng) & 1)
			best_effort(cf_vdev_write(p->inner, off,
			    w->data + (off - w->off), (size_t)(next - off)));
		off = next;
	}
}

/*
 * Power loss.  Errors of the inner device are ignored: whatever it kept
 * is what survived, which is exactly what a crash test examines.
 */
static void crash(struct fault_priv *p)
{
	for (size_t i = 0; i < p->npend; i++) {
		const struct pending *w = &p->pend[i];

		switch (pick_mode(p)) {
		case CF_FAULT_APPLY:
			best_effort(cf_vdev_write(p->inner, w->off, w->data,
			    w->len));
			break;
		case CF_FAULT_TEAR:
			tear(p, w);
			break;
		default:
			break;
		}
	}
	best_effort(cf_vdev_flush(p->inner));
	pending_clear(p);
	p->crashed = 1;
}

static int fault_pread(cf_vdev_t *v, uint64_t off, void *buf, size_t len)
{
	struct fault_priv *p = v->priv;
	uint8_t *b = buf;
	int rc;

	pthread_mutex_lock(&p->lock);
	if (p->crashed) {
		rc = -EIO;
		goto out;
	}
	p->reads++;
	if (p->cfg.fail_read_at != 0 && p->reads == p->cfg.fail_read_at) {
		rc = -EIO;
		goto out;
	}
	rc = cf_vdev_read(p->inner, off, buf, len);
	if (rc != 0)
		goto out;
	/* Overlay the cache in issue order so later writes win. */
	for (size_t i = 0; i < p->npend; i++) {
		const struct pending *w = &p->pend[i];
		uint64_t lo = CF_MAX(off, w->off);
		uint64_t hi = CF_MIN(off + len, w->off + w->len);

		if (lo < hi)
			memcpy(b + (lo - off), w->data + (lo - w->off),
			    (size_t)(hi - lo));
	}
out:
	pthread_mutex_unlock(&p->lock);
	return rc;
}

static int fault_pwrite(cf_vdev_t *v, uint64_t off, const void *buf,
    size_t len)
{
	struct fault_priv *p = v->priv;
	uint8_t *copy;
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	if (p->crashed) {
		rc = -EIO;
		goto out;
	}
	if (p->npend == p->cap) {
		size_t ncap = p->cap ? 2 * p->cap : 64;
		struct pending *np = realloc(p->pend, ncap * sizeof(*np));

		if (np == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		p->pend = np;
		p->cap = ncap;
	}
	copy = malloc(len);
	if (copy == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(copy, buf, len);
	p->pend[p->npend].off = off;
	p->pend[p->npend].len = len;
	p->pend[p->npend].data = copy;
	p->npend++;
	p->writes++;
	if (p->cfg.crash_at_write != 0 && p->writes == p->cfg.crash_at_write) {
		crash(p);
		rc = -EIO;
	}
out:
	pthread_mutex_unlock(&p->lock);
	return rc;
}

static int fault_flush(cf_vdev_t *v)
{
	struct fault_priv *p = v->priv;
	int rc;

	pthread_mutex_lock(&p->lock);
	rc = p->crashed ? -EIO : writeback(p);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

static void fault_close(cf_vdev_t *v)
{
	struct fault_priv *p = v->priv;

	if (p == NULL)
		return;
	/* A close has no way to report an error; a caller that cares about
	 * durability flushes first and sees it there. */
	if (!p->crashed)
		best_effort(writeback(p));
	pending_clear(p);
	free(p->pend);
	if (!p->cfg.keep_inner)
		cf_vdev_close(p->inner);
	pthread_mutex_destroy(&p->lock);
	free(p);
	v->priv = NULL;
}

static const struct cf_vdev_ops fault_ops = {
	.pread = fault_pread,
	.pwrite = fault_pwrite,
	.flush = fault_flush,
	.close = fault_close,
};

int cf_vdev_open_fault(cf_vdev_t *inner, const cf_fault_cfg_t *cfg,
    cf_vdev_t **out)
{
	struct fault_priv *p;
	cf_vdev_t *v;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (inner == NULL || (cfg != NULL && (cfg->modes & ~FAULT_ALL_MODES)))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	if (pthread_mutex_init(&p->lock, NULL) != 0) {
		free(p);
		return -ENOMEM;
	}
	p->inner = inner;
	if (cfg != NULL)
		p->cfg = *cfg;
	p->rng = p->cfg.seed;
	v = cf_vdev_new(&fault_ops, inner->size, inner->path, p);
	if (v == NULL) {
		pthread_mutex_destroy(&p->lock);
		free(p);
		return -ENOMEM;
	}
	*out = v;
	return 0;
}

static struct fault_priv *fault_of(cf_vdev_t *v)
{
	return (v != NULL && v->ops == &fault_ops) ? v->priv : NULL;
}

void cf_vdev_fault_crash(cf_vdev_t *v)
{
	struct fault_priv *p = fault_of(v);

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	if (!p->crashed)
		crash(p);
	pthread_mutex_unlock(&p->lock);
}

int cf_vdev_fault_crashed(cf_vdev_t *v)
{
	struct fault_priv *p = fault_of(v);
	int crashed;

	if (p == NULL)
		return 0;
	pthread_mutex_lock(&p->lock);
	crashed = p->crashed;
	pthread_mutex_unlock(&p->lock);
	return crashed;
}

uint64_t cf_vdev_fault_writes(cf_vdev_t *v)
{
	struct fault_priv *p = fault_of(v);
	uint64_t n;

	if (p == NULL)
		return 0;
	pthread_mutex_lock(&p->lock);
	n = p->writes;
	pthread_mutex_unlock(&p->lock);
	return n;
}
