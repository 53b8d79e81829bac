/* dsl internals shared by pool.c, dataset.c and walk.c. */
#ifndef COFFER_DSL_IMPL_H
#define COFFER_DSL_IMPL_H

#include <pthread.h>

#include "dsl/dsl.h"

#define DSL_OBJDIR 1                    /* MOS object directory */
#define DSL_NAME_MAX 255

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
} dirrec_t;
#define DIRREC_SIZE 80

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
} dsrec_t;
#define DSREC_SIZE (80 + CF_BP_SIZE)
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
};

typedef struct dsl_task {
	int (*fn)(dsl_pool_t *dp, void *arg, uint64_t txg);
	void *arg;
	uint64_t txg;
	int result;
	struct dsl_task *next;
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
};

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

/* Create the root dataset of a new pool (sync context). */
int dsl_create_root(dsl_pool_t *dp, uint64_t txg, const char *const *props);

#endif
