/*
 * kv.c: the key-value payloads of BEGIN, PROPS and SNAPSHOT records.
 *
 * Encoding (little-endian; drawn again in docs/STREAM.md §4):
 *
 *   list  := count (u32) | reserved (u32, zero) | entry * count
 *   entry := type (u8) | keylen (u8) | reserved (u16, zero) |
 *            vallen (u32) | key (keylen bytes) | value (vallen bytes)
 *
 *   type 1 u64    vallen 8, the value little-endian
 *   type 2 string vallen 0..64 KiB, no NUL byte
 *   type 3 bytes  vallen 0..64 KiB
 *   type 4 list   vallen = the nested list's encoding, 8..64 KiB
 *
 * A payload is one list (the top list, depth 1) and nothing else.
 *
 * Invariants
 *  1. One kv has exactly one encoding: keys strictly increasing (bytes,
 *     shorter first) in every list, reserved bytes zero, every length
 *     exact.  So decode(encode(x)) == x and, for every input that
 *     decodes, encode(decode(b)) == b (the fuzz target checks this).
 *  2. The decoder never recurses and never trusts a length before
 *     checking it against the bytes that are left in the enclosing list:
 *     nesting is an explicit stack of CF_KV_MAX_DEPTH frames, and every
 *     entry counts against CF_KV_MAX_ENTRIES before it is stored.  Work
 *     and memory are linear in the input (at most CF_KV_MAX_SIZE bytes).
 *  3. The builder enforces the same limits as the decoder, so anything
 *     it encodes decodes.
 */
#include "send/send_impl.h"

#include <stdlib.h>

#define LIST_HDR 8
#define ENT_HDR 8

typedef struct kv_ent {
	uint8_t type;
	uint8_t keylen;
	uint8_t depth;          /* lists: 1 for the top list, +1 per level */
	char key[CF_KV_MAX_KEY + 1];
	int parent;
	uint64_t u64;
	uint8_t *data;          /* string (NUL-terminated) or bytes */
	size_t len;
	int *kids;              /* lists: children, sorted by key */
	int nkids, capkids;
} kv_ent_t;

struct cf_kv {
	kv_ent_t *e;
	int n, cap;
};

/* ---- building ---------------------------------------------------------- */

cf_kv_t *cf_kv_new(void)
{
	cf_kv_t *kv = calloc(1, sizeof(*kv));

	if (kv == NULL)
		return NULL;
	kv->e = calloc(8, sizeof(*kv->e));
	if (kv->e == NULL) {
		free(kv);
		return NULL;
	}
	kv->cap = 8;
	kv->n = 1;
	kv->e[0].type = CF_KV_LIST;
	kv->e[0].depth = 1;
	kv->e[0].parent = -1;
	return kv;
}

void cf_kv_free(cf_kv_t *kv)
{
	if (kv == NULL)
		return;
	for (int i = 0; i < kv->n; i++) {
		free(kv->e[i].data);
		free(kv->e[i].kids);
	}
	free(kv->e);
	free(kv);
}

static int keycmp(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, CF_MIN(al, bl));

	if (c != 0)
		return c;
	return al < bl ? -1 : al > bl;
}

static int key_ok(const char *key, size_t len)
{
	if (len < 1 || len > CF_KV_MAX_KEY)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)key[i] < 0x21 ||
		    (unsigned char)key[i] > 0x7e)
			return 0;
	return 1;
}

static int is_list(const cf_kv_t *kv, int h)
{
	return h >= 0 && h < kv->n && kv->e[h].type == CF_KV_LIST;
}

/* Position of key among list's children: found (1) at *pos, or where it
 * would go (0). */
static int kid_search(const cf_kv_t *kv, const kv_ent_t *l, const char *key,
    size_t klen, int *pos)
{
	int lo = 0, hi = l->nkids;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		const kv_ent_t *m = &kv->e[l->kids[mid]];
		int c = keycmp(m->key, m->keylen, key, klen);

		if (c == 0) {
			*pos = mid;
			return 1;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return 0;
}

/* A new entry under list with key; its handle, or a negative code. */
static int add_ent(cf_kv_t *kv, int list, const char *key, uint8_t type)
{
	size_t klen;
	int pos;

	if (kv == NULL || key == NULL || !is_list(kv, list))
		return -EINVAL;
	klen = strnlen(key, CF_KV_MAX_KEY + 1);
	if (!key_ok(key, klen))
		return -EINVAL;
	if (kid_search(kv, &kv->e[list], key, klen, &pos))
		return -EEXIST;
	if (kv->n - 1 >= CF_KV_MAX_ENTRIES)
		return -E2BIG;
	if (type == CF_KV_LIST && kv->e[list].depth >= CF_KV_MAX_DEPTH)
		return -E2BIG;
	if (kv->n == kv->cap) {
		int ncap = kv->cap * 2;
		kv_ent_t *ne = realloc(kv->e, (size_t)ncap * sizeof(*ne));

		if (ne == NULL)
			return -ENOMEM;
		memset(ne + kv->cap, 0, (size_t)(ncap - kv->cap) * sizeof(*ne));
		kv->e = ne;
		kv->cap = ncap;
	}
	kv_ent_t *l = &kv->e[list];
	if (l->nkids == l->capkids) {
		int ncap = l->capkids ? l->capkids * 2 : 4;
		int *nk = realloc(l->kids, (size_t)ncap * sizeof(*nk));

		if (nk == NULL)
			return -ENOMEM;
		l->kids = nk;
		l->capkids = ncap;
	}
	int h = kv->n++;
	kv_ent_t *e = &kv->e[h];

	memset(e, 0, sizeof(*e));
	e->type = type;
	e->keylen = (uint8_t)klen;
	memcpy(e->key, key, klen);
	e->parent = list;
	if (type == CF_KV_LIST)
		e->depth = (uint8_t)(l->depth + 1);
	memmove(l->kids + pos + 1, l->kids + pos,
	    (size_t)(l->nkids - pos) * sizeof(int));
	l->kids[pos] = h;
	l->nkids++;
	return h;
}

/* Undo the most recent add_ent (when copying its value failed). */
static void drop_last(cf_kv_t *kv, int h)
{
	kv_ent_t *l = &kv->e[kv->e[h].parent];

	for (int i = 0; i < l->nkids; i++) {
		if (l->kids[i] == h) {
			memmove(l->kids + i, l->kids + i + 1,
			    (size_t)(l->nkids - i - 1) * sizeof(int));
			l->nkids--;
			break;
		}
	}
	kv->n--;
}

int cf_kv_add_u64(cf_kv_t *kv, int list, const char *key, uint64_t v)
{
	int h = add_ent(kv, list, key, CF_KV_U64);

	if (h < 0)
		return h;
	kv->e[h].u64 = v;
	return 0;
}

static int add_blob(cf_kv_t *kv, int list, const char *key, uint8_t type,
    const void *p, size_t n)
{
	if (n > CF_KV_MAX_VALUE || (p == NULL && n != 0))
		return -EINVAL;
	int h = add_ent(kv, list, key, type);
	if (h < 0)
		return h;
	uint8_t *d = malloc(n + 1);
	if (d == NULL) {
		drop_last(kv, h);
		return -ENOMEM;
	}
	if (n)
		memcpy(d, p, n);
	d[n] = 0;
	kv->e[h].data = d;
	kv->e[h].len = n;
	return 0;
}

int cf_kv_add_str(cf_kv_t *kv, int list, const char *key, const char *s)
{
	if (s == NULL)
		return -EINVAL;
	size_t n = strnlen(s, CF_KV_MAX_VALUE + 1);
	return add_blob(kv, list, key, CF_KV_STR, s, n);
}

int cf_kv_add_bytes(cf_kv_t *kv, int list, const char *key, const void *p,
    size_t n)
{
	return add_blob(kv, list, key, CF_KV_BYTES, p, n);
}

int cf_kv_add_list(cf_kv_t *kv, int list, const char *key)
{
	return add_ent(kv, list, key, CF_KV_LIST);
}

/* ---- encoding ---------------------------------------------------------- */

/* Encoded size of list h; recursion is bounded by CF_KV_MAX_DEPTH, which
 * add_ent enforces (this walks our own tree, never input). */
static uint64_t list_size(const cf_kv_t *kv, int h)
{
	const kv_ent_t *l = &kv->e[h];
	uint64_t sz = LIST_HDR;

	for (int i = 0; i < l->nkids; i++) {
		const kv_ent_t *e = &kv->e[l->kids[i]];
		uint64_t v = e->type == CF_KV_U64 ? 8 :
		    e->type == CF_KV_LIST ? list_size(kv, l->kids[i]) : e->len;
		sz += ENT_HDR + e->keylen + v;
	}
	return sz;
}

static int encode_list(const cf_kv_t *kv, int h, cf_buf_t *out)
{
	const kv_ent_t *l = &kv->e[h];
	uint8_t hdr[ENT_HDR];
	int err;

	le32_put(hdr, (uint32_t)l->nkids);
	le32_put(hdr + 4, 0);
	if ((err = cf_buf_append(out, hdr, LIST_HDR)) != 0)
		return err;
	for (int i = 0; i < l->nkids; i++) {
		const kv_ent_t *e = &kv->e[l->kids[i]];
		uint64_t v = e->type == CF_KV_U64 ? 8 :
		    e->type == CF_KV_LIST ? list_size(kv, l->kids[i]) : e->len;

		if (v > CF_KV_MAX_VALUE)
			return -E2BIG;
		hdr[0] = e->type;
		hdr[1] = e->keylen;
		le16_put(hdr + 2, 0);
		le32_put(hdr + 4, (uint32_t)v);
		if ((err = cf_buf_append(out, hdr, ENT_HDR)) != 0 ||
		    (err = cf_buf_append(out, e->key, e->keylen)) != 0)
			return err;
		if (e->type == CF_KV_U64) {
			uint8_t b[8];
			le64_put(b, e->u64);
			err = cf_buf_append(out, b, 8);
		} else if (e->type == CF_KV_LIST) {
			err = encode_list(kv, l->kids[i], out);
		} else if (e->len) {
			err = cf_buf_append(out, e->data, e->len);
		}
		if (err)
			return err;
	}
	return 0;
}

int cf_kv_encode(const cf_kv_t *kv, cf_buf_t *out)
{
	if (kv == NULL || out == NULL)
		return -EINVAL;
	if (list_size(kv, CF_KV_ROOT) > CF_KV_MAX_SIZE)
		return -E2BIG;
	size_t start = out->len;
	int err = encode_list(kv, CF_KV_ROOT, out);
	if (err)
		out->len = start;
	return err;
}

/* ---- decoding ---------------------------------------------------------- */

typedef struct frame {
	size_t end;             /* first byte after this list */
	uint32_t left;          /* entries still to read */
	int h;                  /* its handle */
	int last;               /* handle of the previous entry, or -1 */
} frame_t;

static int bad(char *why, size_t n, size_t *where, size_t at,
    const char *msg)
{
	cf_snprintf(why, n, "%s", msg);
	*where = at;
	return COFFER_EBADSTREAM;
}

/* The decoder proper (send_impl.h). */
int cf_kv_decode_why(const void *p, size_t n, cf_kv_t **out, char *why,
    size_t whylen, size_t *where)
{
	const uint8_t *b = p;
	frame_t st[CF_KV_MAX_DEPTH];
	int d = 0, err = 0;
	size_t off = 0;
	cf_kv_t *kv;

	*out = NULL;
	*where = 0;
	if (n > CF_KV_MAX_SIZE)
		return bad(why, whylen, where, 0, "kv larger than 1 MiB");
	if (n < LIST_HDR)
		return bad(why, whylen, where, 0, "kv shorter than a list");
	if ((kv = cf_kv_new()) == NULL)
		return -ENOMEM;

	/* the top list */
	if (le32_get(b + 4) != 0) {
		err = bad(why, whylen, where, 4,
		    "reserved list bytes not zero");
		goto fail;
	}
	st[0].end = n;
	st[0].left = le32_get(b);
	st[0].h = CF_KV_ROOT;
	st[0].last = -1;
	d = 1;
	off = LIST_HDR;
	if (st[0].left > CF_KV_MAX_ENTRIES) {
		err = bad(why, whylen, where, 0, "too many entries");
		goto fail;
	}
	if (st[0].left > (n - LIST_HDR) / (ENT_HDR + 1)) {
		err = bad(why, whylen, where, 0,
		    "list count larger than its bytes allow");
		goto fail;
	}

	while (d > 0) {
		frame_t *f = &st[d - 1];

		if (f->left == 0) {
			if (off != f->end) {
				err = bad(why, whylen, where, off,
				    "bytes after the last entry of a list");
				goto fail;
			}
			d--;
			continue;
		}
		f->left--;
		if (f->end - off < ENT_HDR) {
			err = bad(why, whylen, where, off,
			    "entry header past the end of its list");
			goto fail;
		}
		uint8_t type = b[off];
		uint8_t klen = b[off + 1];
		uint32_t vlen = le32_get(b + off + 4);
		size_t at = off;

		if (type < CF_KV_U64 || type > CF_KV_LIST) {
			err = bad(why, whylen, where, at, "unknown value type");
			goto fail;
		}
		if (le16_get(b + off + 2) != 0) {
			err = bad(why, whylen, where, at + 2,
			    "reserved entry bytes not zero");
			goto fail;
		}
		off += ENT_HDR;
		if (klen > f->end - off) {
			err = bad(why, whylen, where, at + 1,
			    "key past the end of its list");
			goto fail;
		}
		if (!key_ok((const char *)b + off, klen)) {
			err = bad(why, whylen, where, off,
			    "key empty, longer than 64 bytes or not printable");
			goto fail;
		}
		if (f->last >= 0) {
			const kv_ent_t *pe = &kv->e[f->last];
			int c = keycmp(pe->key, pe->keylen,
			    (const char *)b + off, klen);
			if (c >= 0) {
				err = bad(why, whylen, where, off, c == 0 ?
				    "duplicate key" : "keys out of order");
				goto fail;
			}
		}
		if (vlen > CF_KV_MAX_VALUE) {
			err = bad(why, whylen, where, at + 4,
			    "value longer than 64 KiB");
			goto fail;
		}
		if (vlen > f->end - off - klen) {
			err = bad(why, whylen, where, at + 4,
			    "value past the end of its list");
			goto fail;
		}
		if ((type == CF_KV_U64 && vlen != 8) ||
		    (type == CF_KV_LIST && vlen < LIST_HDR)) {
			err = bad(why, whylen, where, at + 4,
			    "value length wrong for its type");
			goto fail;
		}
		if (type == CF_KV_LIST && d >= CF_KV_MAX_DEPTH) {
			err = bad(why, whylen, where, at,
			    "lists nested deeper than 4");
			goto fail;
		}
		if (kv->n - 1 >= CF_KV_MAX_ENTRIES) {
			err = bad(why, whylen, where, at, "too many entries");
			goto fail;
		}
		char key[CF_KV_MAX_KEY + 1];
		memcpy(key, b + off, klen);
		key[klen] = 0;
		off += klen;
		/* Keys are increasing, so add_ent appends at the end. */
		int h = add_ent(kv, f->h, key, type);
		if (h < 0) {
			err = h == -ENOMEM ? -ENOMEM : bad(why, whylen, where,
			    at, "entry refused");
			goto fail;
		}
		f->last = h;
		kv_ent_t *e = &kv->e[h];
		if (type == CF_KV_U64) {
			e->u64 = le64_get(b + off);
			off += 8;
		} else if (type == CF_KV_LIST) {
			uint32_t cnt = le32_get(b + off);
			if (le32_get(b + off + 4) != 0) {
				err = bad(why, whylen, where, off + 4,
				    "reserved list bytes not zero");
				goto fail;
			}
			if (cnt > (uint32_t)(CF_KV_MAX_ENTRIES - (kv->n - 1))) {
				err = bad(why, whylen, where, off,
				    "too many entries");
				goto fail;
			}
			if (cnt > (vlen - LIST_HDR) / (ENT_HDR + 1)) {
				err = bad(why, whylen, where, off,
				    "list count larger than its bytes allow");
				goto fail;
			}
			st[d].end = off + vlen;
			st[d].left = cnt;
			st[d].h = h;
			st[d].last = -1;
			d++;
			off += LIST_HDR;
		} else {
			if (type == CF_KV_STR &&
			    memchr(b + off, 0, vlen) != NULL) {
				err = bad(why, whylen, where, off,
				    "NUL byte in a string");
				goto fail;
			}
			e->data = malloc((size_t)vlen + 1);
			if (e->data == NULL) {
				err = -ENOMEM;
				goto fail;
			}
			if (vlen)
				memcpy(e->data, b + off, vlen);
			e->data[vlen] = 0;
			e->len = vlen;
			off += vlen;
		}
	}
	*out = kv;
	return 0;
fail:
	cf_kv_free(kv);
	return err;
}

int cf_kv_decode(const void *p, size_t n, cf_kv_t **out)
{
	char why[128];
	size_t where;
	int err;

	if (out == NULL || (p == NULL && n != 0))
		return -EINVAL;
	err = cf_kv_decode_why(p, n, out, why, sizeof(why), &where);
	if (err == COFFER_EBADSTREAM)
		cf_set_errdetail("kv byte %zu: %s", where, why);
	return err;
}

/* ---- lookups ----------------------------------------------------------- */

int cf_kv_find(const cf_kv_t *kv, int list, const char *key)
{
	int pos;

	if (kv == NULL || key == NULL || !is_list(kv, list))
		return -EINVAL;
	size_t klen = strnlen(key, CF_KV_MAX_KEY + 1);
	if (klen > CF_KV_MAX_KEY)
		return -ENOENT;
	if (!kid_search(kv, &kv->e[list], key, klen, &pos))
		return -ENOENT;
	return kv->e[list].kids[pos];
}

static int get_typed(const cf_kv_t *kv, int list, const char *key,
    uint8_t type, const kv_ent_t **e)
{
	int h = cf_kv_find(kv, list, key);

	if (h < 0)
		return h;
	if (kv->e[h].type != type)
		return -EINVAL;
	*e = &kv->e[h];
	return h;
}

int cf_kv_get_u64(const cf_kv_t *kv, int list, const char *key,
    uint64_t *v)
{
	const kv_ent_t *e;
	int h = get_typed(kv, list, key, CF_KV_U64, &e);

	if (h < 0)
		return h;
	*v = e->u64;
	return 0;
}

int cf_kv_get_str(const cf_kv_t *kv, int list, const char *key,
    const char **s, size_t *len)
{
	const kv_ent_t *e;
	int h = get_typed(kv, list, key, CF_KV_STR, &e);

	if (h < 0)
		return h;
	*s = e->data ? (const char *)e->data : "";
	if (len)
		*len = e->len;
	return 0;
}

int cf_kv_get_bytes(const cf_kv_t *kv, int list, const char *key,
    const uint8_t **p, size_t *n)
{
	const kv_ent_t *e;
	int h = get_typed(kv, list, key, CF_KV_BYTES, &e);

	if (h < 0)
		return h;
	*p = e->data;
	*n = e->len;
	return 0;
}

int cf_kv_get_list(const cf_kv_t *kv, int list, const char *key, int *child)
{
	const kv_ent_t *e;
	int h = get_typed(kv, list, key, CF_KV_LIST, &e);

	if (h < 0)
		return h;
	*child = h;
	return 0;
}

int cf_kv_count(const cf_kv_t *kv, int list)
{
	if (kv == NULL || !is_list(kv, list))
		return -EINVAL;
	return kv->e[list].nkids;
}

int cf_kv_at(const cf_kv_t *kv, int list, int i)
{
	if (kv == NULL || !is_list(kv, list) || i < 0 ||
	    i >= kv->e[list].nkids)
		return -EINVAL;
	return kv->e[list].kids[i];
}

int cf_kv_type(const cf_kv_t *kv, int h)
{
	if (kv == NULL || h < 0 || h >= kv->n)
		return -EINVAL;
	return kv->e[h].type;
}

const char *cf_kv_key(const cf_kv_t *kv, int h)
{
	if (kv == NULL || h <= 0 || h >= kv->n)
		return NULL;
	return kv->e[h].key;
}

/* Compare lists a and b; bounded recursion (depth <= CF_KV_MAX_DEPTH). */
static int list_equal(const cf_kv_t *a, int ha, const cf_kv_t *b, int hb)
{
	const kv_ent_t *la = &a->e[ha], *lb = &b->e[hb];

	if (la->nkids != lb->nkids)
		return 0;
	for (int i = 0; i < la->nkids; i++) {
		const kv_ent_t *x = &a->e[la->kids[i]];
		const kv_ent_t *y = &b->e[lb->kids[i]];

		if (x->type != y->type || x->keylen != y->keylen ||
		    memcmp(x->key, y->key, x->keylen) != 0)
			return 0;
		if (x->type == CF_KV_U64 && x->u64 != y->u64)
			return 0;
		if ((x->type == CF_KV_STR || x->type == CF_KV_BYTES) &&
		    (x->len != y->len ||
		    (x->len && memcmp(x->data, y->data, x->len) != 0)))
			return 0;
		if (x->type == CF_KV_LIST &&
		    !list_equal(a, la->kids[i], b, lb->kids[i]))
			return 0;
	}
	return 1;
}

int cf_kv_equal(const cf_kv_t *a, const cf_kv_t *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return list_equal(a, CF_KV_ROOT, b, CF_KV_ROOT);
}
