/* dsl internals shared by pool.c, dataset.c and walk.c. */
#ifndef COFFER_DSL_IMPL_H
#define COFFER_DSL_IMPL_H

#include <pthread.h>

#include "dsl/dsl.h"

#define DSL_OBJDIR 1                    /* MOS object directory */
#define DSL_NAME_MAX 255

/*
 * Logical space, beside the asize sums of `used` and `referenced`: the
 * lsize and psize sums of the same blocks (one copy, before and after
 * compression), for logicalused and compressratio.  Records written
 * before these fields existed decode as LACCT_UNKNOWN and stay so (shown
 * as "-"): the blocks they already count cannot be told apart.
 */
typedef struct lacct {
	uint64_t l, p;
} lacct_t;
#define LACCT_UNKNOWN UINT64_MAX

static inline int lacct_known(const lacct_t *a)
{
	return a->l != LACCT_UNKNOWN && a->p != LACCT_UNKNOWN;
}

/* a += b (b a sum, or one block: lsize, psize) */
static inline void lacct_add(lacct_t *a, uint64_t l, uint64_t p)
{
	if (lacct_known(a)) {
		a->l += l;
		a->p += p;
	}
}

static inline void lacct_sub(lacct_t *a, uint64_t l, uint64_t p)
{
	if (lacct_known(a)) {
		a->l -= CF_MIN(l, a->l);
		a->p -= CF_MIN(p, a->p);
	}
}

/* Dir record, in the bonus of a CF_OT_DSL_DIR object (drawn in FORMAT.md) */
typedef struct dirrec {
	uint64_t parent;        /* dir obj, 0 for the root */
	uint64_t head;          /* head dataset obj */
	uint64_t children;      /* zap: child name -> dir obj */
	uint64_t props;         /* zap: property -> value string */
	uint64_t used;          /* bytes of head + its snapshots */
	uint64_t creation;      /* seconds */
	uint64_t type;          /* COFFER_TYPE_FILESYSTEM / VOLUME */
	uint64_t snapnames;     /* zap: snapshot name -> dataset obj */
	uint64_t volsize;
	uint64_t flags;
	uint64_t keyrec;        /* CF_OT_KEYREC obj; 0 = not encrypted */
	uint64_t encroot;       /* dir obj of the encryption root */
	lacct_t lused;          /* logical `used` */
} dirrec_t;
#define DIRREC_SIZE_V0 80       /* before encryption: no key fields */
#define DIRREC_SIZE_V1 96       /* before logical space */
#define DIRREC_SIZE 112

/* Dataset record, in the bonus of a CF_OT_DSL_DATASET object */
typedef struct dsrec {
	uint64_t dir;
	uint64_t prev;          /* previous snapshot ds obj */
	uint64_t next;          /* snapshots: next snapshot, 0 = head */
	uint64_t txg;           /* creation txg (snapshot: its txg) */
	uint64_t creation;
	uint64_t guid;
	uint64_t referenced;
	uint64_t deadlist;      /* deadlist obj */
	uint64_t flags;         /* DSF_* */
	uint64_t prev_txg;      /* txg of prev (0 none) */
	cf_blkptr_t root;
	lacct_t lrefd;          /* logical `referenced` */
} dsrec_t;
#define DSREC_SIZE_V0 (80 + CF_BP_SIZE)         /* before logical space */
#define DSREC_SIZE (DSREC_SIZE_V0 + 16)
#define DSF_SNAPSHOT 0x1

struct dsl_dataset {
	dsl_pool_t *dp;
	struct dsl_dataset *next;
	uint64_t dsobj, dirobj;
	char name[512];
	int snapshot;
	int type;
	int refs;
	int gone;                       /* destroyed or rolled back */
	cf_objset_t *os;
	pthread_mutex_t acct;           /* leaf lock: records, dead buffer */
	dsrec_t ds;
	dirrec_t dir;
	int dirty;
	cf_buf_t dead;                  /* pending deadlist entries */
	cf_cryptset_t *cs;              /* keys of an encrypted dataset */
	uint64_t ledger_txg;            /* root txg last put in the ledger */
	struct dsl_recv *recv;          /* a resumable receive builds it */
};

typedef struct dsl_task {
	int (*fn)(dsl_pool_t *dp, void *arg, uint64_t txg);
	void *arg;
	uint64_t txg;
	int result;
	struct dsl_task *next;
	char detail[256];       /* the task's errdetail, for its caller */
} dsl_task_t;

struct dsl_pool {
	cf_spa_t *spa;
	cf_objset_t *mos;
	pthread_rwlock_t lock;          /* MOS: write in sync, read outside */
	pthread_mutex_t ds_lock;        /* the list of open datasets */
	dsl_dataset_t *open;
	pthread_mutex_t task_lock;
	dsl_task_t *tasks;
	uint64_t root_dir;
	uint64_t errlog;
	uint64_t bitmap_obj[CF_MAX_VDEVS];
	int readonly;
	uint64_t mos_used;
	pthread_mutex_t key_lock;       /* keyroots */
	struct dsl_keyroot *keyroots;   /* loaded encryption roots */
};

/* ---- encryption (crypt.c) ---- */

#define KS_MAX_SLOTS 8
#define KS_SLOT_SIZE 160
#define KS_HDR_SIZE 72
#define KS_ENTRY_SIZE 48
#define KR_HDR_SIZE 40
#define KR_GEN_SIZE 100

/* Ledger entry: the authenticated latest root of one dataset (the MAC
 * of its object set root and the txg that MAC binds: both portable). */
typedef struct ledger_ent {
	uint64_t guid;
	uint64_t txg;
	uint8_t cksum[32];      /* the root's MAC */
} ledger_ent_t;

/* A loaded encryption root. */
typedef struct dsl_keyroot {
	struct dsl_keyroot *next;
	uint64_t dirobj;
	uint64_t guid;                  /* the root's crypt guid */
	uint8_t *kr;                    /* root key, 32 bytes, secure */
	ledger_ent_t *ledger;
	size_t nledger, capledger;
	int ledger_dirty;
} dsl_keyroot_t;

/* A key slot of a keystore (decoded). */
typedef struct slot {
	int inuse;
	int format, kdf;
	uint32_t t, m, p;
	uint64_t created;
	uint8_t salt[32];
	uint8_t iv[12], tag[16], wrapped[32];
	uint8_t kcv[16];        /* key check value: HMAC(W, ...) */
} slot_t;

/* What an encrypted create needs, prepared in open context. */
typedef struct crypt_plan {
	/* (internal to crypt.c and the create task) */
	int encrypted;
	int root;
	int suite;
	slot_t slot;
	uint8_t *kr;            /* new root key (root) */
	uint64_t encroot;       /* parent's root (child) */
	char keyformat[16], pbkdf[16];
} crypt_plan_t;
/* Build the cryptset of an encrypted dir (its root must be loaded). */
int dsl_crypt_cryptset(dsl_pool_t *dp, uint64_t dirobj, const dirrec_t *r,
    cf_cryptset_t **out);
void dsl_crypt_cryptset_free(cf_cryptset_t *cs);
/* Check a head's root against its root's ledger (COFFER_EAUTH). */
int dsl_crypt_ledger_check(dsl_pool_t *dp, const dirrec_t *r,
    cf_objset_t *os, const char *name);
/* Sync: record each encrypted head's new root, write dirty ledgers. */
int dsl_crypt_sync(dsl_pool_t *dp, uint64_t txg);
/* Forget all loaded keys (pool close). */
void dsl_crypt_fini(dsl_pool_t *dp);
int dsl_keystatus(dsl_pool_t *dp, const dirrec_t *r);
int dsl_crypt_prepare(dsl_pool_t *dp, uint64_t pdir,
    const char *const *props, const coffer_key_t *key, crypt_plan_t **out);
int dsl_crypt_plan_encrypted(const crypt_plan_t *p);
void dsl_crypt_plan_free(crypt_plan_t *p);
int dsl_crypt_create_sync(dsl_pool_t *dp, cf_tx_t *tx, crypt_plan_t *p,
    uint64_t dirobj, dirrec_t *r, cf_cryptset_t **cs);
int dsl_crypt_destroy_sync(dsl_pool_t *dp, cf_tx_t *tx, const dirrec_t *r);
/* Raw streams: export a dir's keys (read lock held); make a new root of
 * a raw receive's hidden dir from the sender's keys (sync context: the
 * key record and keystore objects, keyformat and keylocation=prompt in
 * props); record a head's new root in its root's ledger without the key
 * (the ledger stays unsealed until the key is loaded). */
int dsl_crypt_raw_export(dsl_pool_t *dp, const dirrec_t *r,
    dsl_rawkeys_t *keys) CF_MUST_CHECK;
int dsl_crypt_create_raw_sync(dsl_pool_t *dp, cf_tx_t *tx, uint64_t dirobj,
    dirrec_t *r, const dsl_recv_raw_t *raw) CF_MUST_CHECK;
int dsl_crypt_ledger_set_raw(dsl_pool_t *dp, cf_tx_t *tx, const dirrec_t *r,
    const cf_blkptr_t *root) CF_MUST_CHECK;
/* After a rollback: the head's new root goes into the ledger. */
int dsl_crypt_ledger_set(dsl_pool_t *dp, const dirrec_t *r,
    const cf_blkptr_t *root);
int dsl_crypt_root_name(dsl_pool_t *dp, const char *name,
    const dirrec_t *r, char *out, size_t n);
int dsl_crypt_suite(dsl_pool_t *dp, const dirrec_t *r, int *suite);
/* Close open heads under an encryption root that nobody holds. */
int dsl_close_unheld(dsl_pool_t *dp, uint64_t rootdir);
/* The key wrap construction (exposed for known-answer tests). */
int dsl_crypt_wrap_keys(const uint8_t *kr, int suite, uint64_t guid,
    uint32_t gen, const uint8_t iv[12], const uint8_t *keys64,
    uint8_t wrapped[64], uint8_t tag[16]) CF_MUST_CHECK;
/* For tests: a slot's wrapped key; flip a byte of slot 0's (sync). */
int dsl_crypt_debug_slot(dsl_pool_t *dp, uint64_t rootdir, int slot,
    uint8_t wrapped[32], uint64_t *ksobj);
int dsl_crypt_debug_tamper_slot(dsl_pool_t *dp, cf_tx_t *tx,
    uint64_t rootdir);
/* Set a property without the user-facing checks (keyformat & co.). */
int dsl_prop_set_internal(dsl_pool_t *dp, const char *name,
    const char *prop, const char *value);

void dirrec_encode(const dirrec_t *r, uint8_t *out);
int dirrec_decode(const uint8_t *in, size_t len, dirrec_t *r);
void dsrec_encode(const dsrec_t *r, uint8_t *out);
int dsrec_decode(const uint8_t *in, size_t len, dsrec_t *r);

int dir_read(dsl_pool_t *dp, uint64_t obj, dirrec_t *r);
int dir_write(dsl_pool_t *dp, cf_tx_t *tx, uint64_t obj, const dirrec_t *r);
int ds_read(dsl_pool_t *dp, uint64_t obj, dsrec_t *r);
int ds_write(dsl_pool_t *dp, cf_tx_t *tx, uint64_t obj, const dsrec_t *r);

/* Run fn in the sync thread in the next txg; returns its result. */
int dsl_sync_task(dsl_pool_t *dp,
    int (*fn)(dsl_pool_t *dp, void *arg, uint64_t txg), void *arg);

/* Resolve a dataset name (no '@') to its dir object.  Read lock held. */
int dsl_dir_lookup(dsl_pool_t *dp, const char *name, uint64_t *dirobj);
/* Resolve "fs@snap" to its ds object. */
int dsl_snap_lookup(dsl_pool_t *dp, const char *name, uint64_t *dsobj);

/* Write a head's records and pending deadlist entries (sync context). */
int ds_flush(dsl_dataset_t *ds, uint64_t txg);
/* The open head for dsobj, if any (ds_lock held by caller or not). */
dsl_dataset_t *dsl_open_head(dsl_pool_t *dp, uint64_t dsobj);
/* Deadlist helpers (sync context). */
int deadlist_create(dsl_pool_t *dp, cf_tx_t *tx, uint64_t *obj);
int deadlist_count(dsl_pool_t *dp, uint64_t obj, uint64_t *n);
int deadlist_append(dsl_pool_t *dp, cf_tx_t *tx, uint64_t obj,
    const uint8_t *bps, uint64_t n);

/* Objset settings for a dataset from its (inherited) properties. */
int dsl_settings(dsl_pool_t *dp, uint64_t dirobj, cf_os_settings_t *s);
/* Re-read settings of every open head (after a property change). */
void dsl_refresh_settings(dsl_pool_t *dp);

extern const cf_os_ops_t dsl_head_ops;

/* dataset.c internals used by recv.c */
#define DIRF_RECV       0x1     /* a hidden dataset a receive builds */
#define DIRF_SHAREDKEYS 0x2     /* it uses its target's key record */
/* Write a resumable receive's durable point (ds_flush, sync context). */
int dsl_recv_flush(struct dsl_recv *r, cf_tx_t *tx, uint64_t txg);
int head_open_cs(dsl_pool_t *dp, uint64_t dirobj, uint64_t dsobj,
    const char *name, cf_cryptset_t *cs, dsl_dataset_t **out);
/* A raw receive's hidden head: opened without keys, in raw mode. */
int head_open_raw(dsl_pool_t *dp, uint64_t dirobj, uint64_t dsobj,
    const char *name, dsl_dataset_t **out) CF_MUST_CHECK;
/* Does a raw stream's key record belong to encrypted dir r? */
int dsl_crypt_raw_match(dsl_pool_t *dp, const dirrec_t *r,
    const dsl_recv_raw_t *raw) CF_MUST_CHECK;
int head_close_unheld(dsl_pool_t *dp, uint64_t dsobj, uint64_t txg);
int create_dir(dsl_pool_t *dp, cf_tx_t *tx, uint64_t parent, int type,
    uint64_t volsize, uint64_t txg, uint64_t *dirp, uint64_t *dsp);
int split_parent(const char *name, char *parent, size_t n,
    const char **leaf);
int deadlist_rewrite(dsl_pool_t *dp, cf_tx_t *tx, uint64_t obj,
    const cf_buf_t *buf);
/* Free every block of a tree born after min_txg (a traverse callback). */
struct freeall_arg {
	dsl_pool_t *dp;
	uint64_t txg;
	uint64_t freed;         /* asize */
	lacct_t lfreed;         /* lsize, psize */
};
int freeall_cb(void *arg, uint64_t obj, uint64_t blkid,
    const cf_blkptr_t *bp);
int dsl_snapshot_sync(dsl_pool_t *dp, const char *fs, const char *snap,
    uint64_t guid, uint64_t txg);

/* Create the root dataset of a new pool (sync context). */
int dsl_create_root(dsl_pool_t *dp, uint64_t txg, const char *const *props);

#endif
