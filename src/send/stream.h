/*
 * send/stream: the replication stream format and its codec.
 *
 * This file describes the interface that the stream codec provides to
 * send (generation) and receive (apply).  The byte layout is drawn in
 * docs/STREAM.md; this layer knows records, not pools: it encodes and
 * decodes records, keeps the running checksum and the sequence numbers,
 * and refuses every stream that docs/STREAM.md does not allow, with a
 * one-line message that names the record and the byte offset.
 *
 * Pieces:
 *   - cf_kv_t: the typed, bounded key-value payload of BEGIN, PROPS and
 *     SNAPSHOT records (u64, string, bytes, nested list);
 *   - cf_stream_hdr_encode/decode: one 512-byte record header;
 *   - cf_stream_writer_t: emits records through a write callback,
 *     assigning sequence numbers and running checksums, and refuses a
 *     record that a reader would refuse;
 *   - cf_stream_reader_t: returns records one at a time from a read
 *     callback, each one fully verified (its payload included) before
 *     the caller sees it.
 *
 * Every function returns 0 (or a documented positive value) or a
 * negative code.  Stream errors are COFFER_EBADSTREAM (COFFER_ENOTSUP for
 * a stream from a newer coffer: a higher version or an unknown
 * incompatible feature) with cf_set_errdetail() set to one line.
 */
#ifndef COFFER_SEND_STREAM_H
#define COFFER_SEND_STREAM_H

#include "util/util.h"

/* ---- key-value payloads (kv.c) ----------------------------------------- */

#define CF_KV_U64   1
#define CF_KV_STR   2   /* bytes without NUL; returned NUL-terminated */
#define CF_KV_BYTES 3
#define CF_KV_LIST  4

#define CF_KV_MAX_SIZE    (1u << 20)    /* an encoded payload */
#define CF_KV_MAX_KEY     64            /* key bytes, printable ASCII */
#define CF_KV_MAX_VALUE   (64u << 10)   /* any one value, lists included */
#define CF_KV_MAX_DEPTH   4             /* the top list is depth 1 */
#define CF_KV_MAX_ENTRIES 1024          /* entries at all depths together */

/* The top list.  Other lists are named by the handle cf_kv_add_list or
 * cf_kv_get_list gives. */
#define CF_KV_ROOT 0

typedef struct cf_kv cf_kv_t;

/* An empty kv (NULL when out of memory). */
cf_kv_t *cf_kv_new(void);
void cf_kv_free(cf_kv_t *kv);           /* NULL is ignored */

/*
 * Add an entry to `list`.  Keys are 1..64 bytes of printable ASCII
 * (0x21..0x7e); a list keeps its keys sorted whatever the order of the
 * adds.  -EINVAL for a bad key or list handle, a string with a NUL, a
 * value over CF_KV_MAX_VALUE; -EEXIST for a key the list already has;
 * -E2BIG past CF_KV_MAX_ENTRIES or CF_KV_MAX_DEPTH; -ENOMEM.
 * cf_kv_add_list returns the new list's handle (> 0) or the error.
 */
int cf_kv_add_u64(cf_kv_t *kv, int list, const char *key, uint64_t v)
    CF_MUST_CHECK;
int cf_kv_add_str(cf_kv_t *kv, int list, const char *key, const char *s)
    CF_MUST_CHECK;
int cf_kv_add_bytes(cf_kv_t *kv, int list, const char *key, const void *p,
    size_t n) CF_MUST_CHECK;
int cf_kv_add_list(cf_kv_t *kv, int list, const char *key) CF_MUST_CHECK;

/* Append the encoding to out.  -E2BIG when it would exceed
 * CF_KV_MAX_SIZE or a list value CF_KV_MAX_VALUE; -ENOMEM. */
int cf_kv_encode(const cf_kv_t *kv, cf_buf_t *out) CF_MUST_CHECK;

/*
 * Decode n bytes that must be exactly one encoded kv.  Hostile input:
 * every length is checked against what is left before it is used, the
 * nesting is walked with an explicit stack of CF_KV_MAX_DEPTH frames,
 * keys must be strictly increasing in each list (so no duplicates, and
 * one encoding per kv), reserved bytes zero.  COFFER_EBADSTREAM with the
 * detail "kv byte N: why"; -ENOMEM.  The result owns copies of the
 * values (p may be freed at once).
 */
int cf_kv_decode(const void *p, size_t n, cf_kv_t **out) CF_MUST_CHECK;

/*
 * Lookups.  cf_kv_find returns the entry's handle or -ENOENT.  The
 * typed getters return 0, -ENOENT when the key is absent, or -EINVAL when
 * the entry has another type (or the list handle is bad).  Returned
 * pointers live as long as the kv.
 */
int cf_kv_find(const cf_kv_t *kv, int list, const char *key);
int cf_kv_get_u64(const cf_kv_t *kv, int list, const char *key,
    uint64_t *v) CF_MUST_CHECK;
int cf_kv_get_str(const cf_kv_t *kv, int list, const char *key,
    const char **s, size_t *len) CF_MUST_CHECK;
int cf_kv_get_bytes(const cf_kv_t *kv, int list, const char *key,
    const uint8_t **p, size_t *n) CF_MUST_CHECK;
int cf_kv_get_list(const cf_kv_t *kv, int list, const char *key,
    int *child) CF_MUST_CHECK;
/* Iteration in key order: entries of `list` are cf_kv_at(kv, list, i)
 * for i < cf_kv_count(kv, list) (-EINVAL for a bad list handle). */
int cf_kv_count(const cf_kv_t *kv, int list);
int cf_kv_at(const cf_kv_t *kv, int list, int i);
int cf_kv_type(const cf_kv_t *kv, int h);       /* CF_KV_*, or -EINVAL */
const char *cf_kv_key(const cf_kv_t *kv, int h); /* NULL for a bad h */
/* Every entry of a and b equal (types, keys, values), lists recursively. */
int cf_kv_equal(const cf_kv_t *a, const cf_kv_t *b);

/* ---- the format -------------------------------------------------------- */

#define CF_STREAM_HDR_SIZE 512
#define CF_STREAM_MAGIC    "CFSTREAM"   /* the first 8 bytes of a header */
#define CF_STREAM_VERSION  1

/* Record types (header byte 8, u32).  Written on the wire: never
 * renumber, only add. */
#define CF_SREC_BEGIN        1
#define CF_SREC_END          2
#define CF_SREC_OBJECT       3
#define CF_SREC_FREEOBJECTS  4
#define CF_SREC_WRITE        5
#define CF_SREC_FREE         6
#define CF_SREC_OBJECT_RANGE 7
#define CF_SREC_KEYS         8
#define CF_SREC_PROPS        9
#define CF_SREC_SNAPSHOT     10
#define CF_SREC_MAX          10

/* Incompatible features (BEGIN): a reader refuses a bit it does not know. */
#define CF_SFEAT_RAW          0x01ull /* blocks as stored; KEYS, OBJECT_RANGE */
#define CF_SFEAT_COMPRESSED   0x02ull /* WRITE payloads may be compressed */
#define CF_SFEAT_LARGE_BLOCKS 0x04ull /* block sizes above 1 MiB (<= 16) */
#define CF_SFEAT_RESUMING     0x08ull /* resumes an interrupted stream */
#define CF_SFEAT_SIGNED       0x10ull /* signature slots in use */
#define CF_SFEAT_MULTI        0x20ull /* several snapshots (-R, -I) */
#define CF_SFEAT_KNOWN        0x3full
/* Compatible features: none defined; unknown ones are ignored. */

/* Limits every reader enforces (docs/STREAM.md §6). */
#define CF_STREAM_MAX_PAYLOAD  (16u << 20)      /* any record */
#define CF_STREAM_MAX_OBJECT   (1ull << 48)     /* object ids are below */
#define CF_STREAM_MAX_OFFSET   (1ull << 63)     /* byte offsets, ends */
#define CF_STREAM_FREE_TO_END  UINT64_MAX       /* FREE length: to the end */
#define CF_STREAM_MIN_BLKSZ    512u
#define CF_STREAM_MAX_BLKSZ    (1u << 20)
#define CF_STREAM_LARGE_BLKSZ  (16u << 20)      /* with LARGE_BLOCKS */
#define CF_STREAM_MAX_LEVELS   12
#define CF_STREAM_IND_BPS      204              /* bps per indirect block */
#define CF_STREAM_BONUS_MAX    256
#define CF_STREAM_RANGE_OBJS   32               /* dnodes per dnode block */
#define CF_STREAM_RANGE_LSIZE  16384            /* a dnode block */
#define CF_STREAM_KEYREC_MAX   4096
#define CF_STREAM_KEYSTORE_MAX (256u << 10)
#define CF_STREAM_NAME_MAX     255
#define CF_STREAM_DS_FS        2                /* dataset types (BEGIN, */
#define CF_STREAM_DS_VOL       3                /* SNAPSHOT dstype) */

/* Block pointer flags carried by WRITE and OBJECT_RANGE (FORMAT.md §6). */
#define CF_SBLK_ENCRYPTED 0x01
#define CF_SBLK_DNODE     0x02

/* KEYS flags. */
#define CF_SKEYS_ROOT 0x1       /* an encryption root: keystore included */

/* Signature slot (RFD 14): algorithm ids and their signature sizes. */
#define CF_STREAM_SIG_MAX     200
#define CF_SSIG_NONE          0
#define CF_SSIG_ED25519       1 /* 64 bytes */
#define CF_SSIG_ECDSA_P256    2 /* 64 bytes: r || s, big-endian, fixed */
#define CF_SSIG_ECDSA_P384    3 /* 96 bytes: r || s */

typedef struct cf_stream_sig {
	uint16_t alg;                   /* CF_SSIG_* */
	uint16_t len;
	uint8_t bytes[CF_STREAM_SIG_MAX];
} cf_stream_sig_t;

/* A block as stored, for raw and compressed WRITEs and OBJECT_RANGE. */
typedef struct cf_stream_blk {
	uint32_t lsize;
	uint32_t psize;
	uint8_t type;                   /* object type (bp type) */
	uint8_t level;                  /* 0 */
	uint8_t comp;                   /* CF_COMP_* */
	uint8_t cksum;                  /* 0 none, CF_CKSUM_FLETCHER4, SHA256 */
	uint8_t flags;                  /* CF_SBLK_* */
	uint32_t keygen;
	uint8_t salt[8];
	uint8_t iv[12];
	uint8_t mac[16];
	uint8_t checksum[32];           /* of the payload, by `cksum` */
} cf_stream_blk_t;

/* A decoded record header.  Which member of u is valid depends on type. */
typedef struct cf_stream_rec {
	uint32_t type;
	uint32_t flags;                 /* record flags: none defined, 0 */
	uint64_t payloadlen;            /* bytes, before the padding to 8 */
	uint64_t seq;                   /* BEGIN is 0, then +1 per record */
	union {
		struct {
			uint64_t version;
			uint64_t incompat;
			uint64_t compat;
			uint64_t fromguid;      /* 0: a full stream */
			uint64_t toguid;
			uint64_t totxg;
			uint64_t creation;      /* seconds since the epoch */
			uint32_t dstype;        /* CF_STREAM_DS_* */
		} begin;
		struct {
			uint8_t cksum[32];      /* of bytes [0, bytes) */
			uint64_t toguid;
			uint64_t bytes;         /* offset of the END header */
		} end;
		struct {
			uint64_t object;
			uint8_t type;
			uint8_t nlevels;
			uint16_t bonuslen;
			uint32_t blksz;
			uint64_t maxblkid;
		} object;
		struct {
			uint64_t first;
			uint64_t count;
		} freeobjects;
		struct {
			uint64_t object;
			uint64_t offset;
			cf_stream_blk_t blk;
		} write;
		struct {
			uint64_t object;
			uint64_t offset;
			uint64_t length;        /* or CF_STREAM_FREE_TO_END */
		} free;
		struct {
			uint64_t first;
			uint32_t count;
			cf_stream_blk_t blk;
		} range;
		struct {
			uint64_t guid;          /* the dataset's crypt guid */
			uint64_t rootguid;      /* its encryption root's */
			uint32_t suite;
			uint32_t flags;         /* CF_SKEYS_* */
			uint32_t keyrec_len;
			uint32_t keystore_len;
		} keys;
		struct {
			uint64_t fromguid;
			uint64_t toguid;
			uint64_t totxg;
			uint64_t creation;
			uint32_t dstype;
		} snapshot;
	} u;
	cf_stream_sig_t sig;
	uint8_t cksum[32];              /* the running checksum */
} cf_stream_rec_t;

/* "WRITE", ... or NULL for a number that is not a record type. */
const char *cf_stream_type_name(uint32_t type);

/*
 * One header, field by field.  encode writes every byte (unused bytes
 * zero) and packs whatever rec holds, valid or not (tests forge hostile
 * streams with it).  decode checks what one header alone can show: the
 * magic, a known type, and that every byte outside the type's fields is
 * zero (by re-encoding and comparing); it does not check the checksum or
 * field values.  COFFER_EBADSTREAM; the detail names the header offset.
 */
void cf_stream_hdr_encode(const cf_stream_rec_t *rec,
    uint8_t out[CF_STREAM_HDR_SIZE]);
int cf_stream_hdr_decode(const uint8_t in[CF_STREAM_HDR_SIZE],
    cf_stream_rec_t *rec) CF_MUST_CHECK;

/* ---- I/O callbacks ----------------------------------------------------- */

/* Write all len bytes; 0 or a negative code. */
typedef int (*cf_stream_write_fn)(void *arg, const void *buf, size_t len);
/* Read up to len bytes: the count read (> 0), 0 at end of input, or a
 * negative code.  Short reads are fine (the reader loops). */
typedef ptrdiff_t (*cf_stream_read_fn)(void *arg, void *buf, size_t len);

/* Ready-made callbacks: arg is an int * holding a file descriptor
 * (EINTR retried), a cf_buf_t * to append to, or a cf_stream_mem_t *. */
int cf_stream_fd_write(void *arg, const void *buf, size_t len);
ptrdiff_t cf_stream_fd_read(void *arg, void *buf, size_t len);
int cf_stream_buf_write(void *arg, const void *buf, size_t len);
typedef struct cf_stream_mem {
	const uint8_t *data;
	size_t len;
	size_t off;
} cf_stream_mem_t;
ptrdiff_t cf_stream_mem_read(void *arg, void *buf, size_t len);

/* ---- writer ------------------------------------------------------------ */

typedef struct cf_stream_writer cf_stream_writer_t;

/*
 * The signing hook (docs/STREAM.md §5).  Called once per record, just
 * before its header is written, with the finished header: sequence
 * number and running checksum filled in, signature slot zero.  The hook
 * may fill *sig (alg, len, bytes); the writer then stores it in the slot
 * and writes the header.  Filling the slot changes no checksum: every
 * running checksum is computed with the slots zeroed.  A non-zero return
 * fails the write with that code (and poisons the writer).
 */
typedef int (*cf_stream_sign_fn)(void *arg,
    const uint8_t hdr[CF_STREAM_HDR_SIZE], const void *payload, size_t len,
    cf_stream_sig_t *sig);

int cf_stream_writer_new(cf_stream_write_fn fn, void *arg,
    cf_stream_writer_t **out) CF_MUST_CHECK;
void cf_stream_writer_set_sign(cf_stream_writer_t *w, cf_stream_sign_fn fn,
    void *arg);
void cf_stream_writer_free(cf_stream_writer_t *w);      /* NULL ignored */

/*
 * Emit one record.  The caller fills rec->type, rec->flags and the
 * type's member of rec->u; the writer sets payloadlen (= len), seq,
 * the signature slot (hook) and the running checksum, and for END the
 * whole of u.end (final checksum, toguid from BEGIN, byte count).  rec
 * is updated with what was written.
 *
 * The writer applies the reader's rules (docs/STREAM.md §6) to every
 * record before writing anything of it, except that it does not hash
 * WRITE payloads to compare with blk.checksum: a record the reader
 * would refuse is -EINVAL with the detail "record N (TYPE) at byte X:
 * why", nothing is written and the writer stays usable (the caller may
 * stop or send something else).  A write callback error (returned as
 * is) or a signing hook error or bad slot poisons the writer: every
 * later call returns the same code.  After END, every call is -EINVAL.
 */
int cf_stream_write(cf_stream_writer_t *w, cf_stream_rec_t *rec,
    const void *payload, size_t len) CF_MUST_CHECK;
/* Same, with kv encoded as the payload (BEGIN, PROPS, SNAPSHOT). */
int cf_stream_write_kv(cf_stream_writer_t *w, cf_stream_rec_t *rec,
    const cf_kv_t *kv) CF_MUST_CHECK;
/* Bytes written so far; records written so far (the next seq). */
/*
 * Dry run (send -n): records are checked and counted as usual, but no
 * checksum is computed, no signing hook called and nothing written, so
 * cf_stream_writer_offset gives the size the stream would have.
 */
void cf_stream_writer_set_dry(cf_stream_writer_t *w);
uint64_t cf_stream_writer_offset(const cf_stream_writer_t *w);
uint64_t cf_stream_writer_records(const cf_stream_writer_t *w);

/* ---- reader ------------------------------------------------------------ */

typedef struct cf_stream_reader cf_stream_reader_t;

/*
 * The verification hook (for the signing layer).  Called for each record
 * after it passed every check of this layer, before cf_stream_read
 * returns it; hdr is the header as read (signature slot as is).  A
 * negative return refuses the stream with that code; the hook may write
 * a one-line reason into why (whylen bytes), which the reader puts into
 * "record N (TYPE) at byte X: why".
 */
typedef int (*cf_stream_verify_fn)(void *arg, const cf_stream_rec_t *rec,
    const uint8_t hdr[CF_STREAM_HDR_SIZE], const void *payload, size_t len,
    char *why, size_t whylen);

#define CF_SRD_NO_BLOCK_CKSUM 0x1       /* trust WRITE blk.checksum */

typedef struct cf_stream_reader_opts {
	/* Largest payload accepted (and so allocated); 0 means
	 * CF_STREAM_MAX_PAYLOAD.  Never above it. */
	size_t max_payload;
	unsigned flags;                 /* CF_SRD_* */
	cf_stream_verify_fn verify;
	void *verify_arg;
} cf_stream_reader_opts_t;

/* opts may be NULL (defaults). */
int cf_stream_reader_new(cf_stream_read_fn fn, void *arg,
    const cf_stream_reader_opts_t *opts, cf_stream_reader_t **out)
    CF_MUST_CHECK;
void cf_stream_reader_free(cf_stream_reader_t *r);      /* NULL ignored */

/*
 * The next record.  Returns 1 with *rec, *payload and *len set (payload
 * owned by the reader, valid until the next call; NULL when len is 0);
 * 0 once END has been returned (the stream was whole: END verified and
 * nothing followed it); or a negative code.
 *
 * A record is returned only when everything about it is verified:
 * its header, the sequence number, the running checksum of the header
 * and of the payload (the payload is covered by the next header's
 * checksum, so the reader reads ahead one header; END is returned only
 * after the end of input was seen), the per-type fields, the ordering
 * rules and the payload's contents (kv, block checksum).
 *
 * Errors: COFFER_EBADSTREAM, or COFFER_ENOTSUP for a newer version or
 * unknown incompatible features, with the detail
 *   "record N (TYPE) at byte X: why"  or  "stream truncated at byte N"
 * also kept in cf_stream_reader_error(); -ENOMEM; the read callback's
 * code; the verify hook's.  Errors are sticky.
 */
int cf_stream_read(cf_stream_reader_t *r, cf_stream_rec_t *rec,
    const uint8_t **payload, size_t *len) CF_MUST_CHECK;

/* The BEGIN record and its kv (valid once the first record was
 * returned, for the reader's life; NULL before). */
const cf_stream_rec_t *cf_stream_reader_begin(const cf_stream_reader_t *r);
const cf_kv_t *cf_stream_reader_begin_kv(const cf_stream_reader_t *r);
/* The kv of the record just returned (BEGIN, PROPS, SNAPSHOT), else NULL;
 * valid until the next call. */
const cf_kv_t *cf_stream_reader_kv(const cf_stream_reader_t *r);
/* Bytes consumed so far; the message of the sticky error ("" if none);
 * bytes of payload buffer currently allocated (tests). */
uint64_t cf_stream_reader_offset(const cf_stream_reader_t *r);
const char *cf_stream_reader_error(const cf_stream_reader_t *r);
size_t cf_stream_reader_allocated(const cf_stream_reader_t *r);

/* ---- tools for tests and fuzzing --------------------------------------- */

/*
 * Rewrite, in place, what a forger would have to recompute so that a
 * damaged or hand-made stream gets past the checksums to the deeper
 * checks (cryptsetup's fuzzers fix up checksums the same way): each
 * record's sequence number, the block checksum of WRITE and OBJECT_RANGE
 * payloads (when their cksum type is 1 or 2 and the payload is whole),
 * END's summary (final checksum and byte count) and every running
 * checksum.  Walks the records as a reader would and stops at the first
 * that does not fit in len.  Returns the number of headers fixed.
 */
size_t cf_stream_fixup(uint8_t *buf, size_t len);

#endif
