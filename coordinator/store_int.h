/* store_int.h - internals shared by the lineage store's files (store.c,
 * store_rec.c, store_verify.c). Not part of the store's public interface. */
#ifndef PETRI_STORE_INT_H
#define PETRI_STORE_INT_H

#include <limits.h>
#include <lmdb.h>
#include <pthread.h>

#include "store.h"

#define STORE_FORMAT 1
#define STORE_KEY_MAX (4 + STORE_POP_MAX + 4 + 8) /* by_key key bytes */
#define STORE_HEAD_LEN (8 + CRYPTO_HASH_LEN)
#define STORE_RESULTS 256 /* results of recent tickets kept for store_wait */

/* One record of a prepared batch, everything the committer needs. */
struct store_wrec {
    uint64_t seq;
    size_t rec_off, rec_len; /* the record's bytes in batch->data */
    size_t src_off, src_len; /* the genome's bytes in batch->data */
    int has_src;
    uint8_t klen;
    uint8_t key[STORE_KEY_MAX]; /* derivation key */
    uint8_t child[CRYPTO_HASH_LEN];
    uint8_t nparents;
    uint8_t parents[STORE_MAX_PARENTS][CRYPTO_HASH_LEN];
};

/* A plain growable byte buffer (a batch may exceed a wire frame's cap). */
struct store_buf {
    uint8_t *data;
    size_t len, cap;
    int err; /* sticky -ENOMEM */
};

/* A meta write riding in a batch: key and value bytes in batch->data. */
struct store_wkv {
    size_t koff, klen, voff, vlen;
};

/* A signed batch waiting for (or in) its commit. Owned by the queue; freed
 * by the next submitter once done. */
struct store_batch {
    uint64_t ticket, gen;
    uint64_t prev_seq, last_seq;
    uint8_t prev_hash[CRYPTO_HASH_LEN], last_hash[CRYPTO_HASH_LEN];
    size_t nitems, nrec;
    struct store_wrec *recs;
    size_t nkv;
    struct store_wkv *kv; /* meta writes committed with the records */
    struct store_buf data;
    uint64_t t_submit; /* mono_us */
    int done;
    struct store_batch *next;
};

struct store {
    MDB_env *env;
    MDB_dbi genomes, log, by_child, by_parent, by_key, meta;
    char path[PATH_MAX]; /* the environment directory */
    int can_sign;
    node_identity_t signer; /* wiped on close */
    uint8_t coord_pk[CRYPTO_PK_LEN];
    int have_pk;
    /* Readers hold it shared for each transaction; growing the map (which
     * LMDB allows only with no transaction open) holds it exclusive. */
    pthread_rwlock_t maplock;
    pthread_mutex_t mu; /* guards the fields below */
    uint64_t head_seq;
    uint8_t head_hash[CRYPTO_HASH_LEN];
    store_stats_t st; /* counters only; sizes filled by store_stats */
    /* the commit pipeline (store_append.c); mu guards all but enc */
    pthread_mutex_t submit_mu; /* serialises submitters; guards enc */
    wire_buf_t enc;            /* the submitter's scratch encoding buffer */
    pthread_cond_t cv;         /* any change of the fields below */
    pthread_t committer;
    int committer_on, stopping;
    struct store_batch *q_head, *q_tail; /* oldest first */
    uint64_t next_ticket, done_ticket;
    int results[STORE_RESULTS];
    uint64_t gen;      /* bumped by every failed batch */
    int fail_rc;       /* the last failure */
    int efd;           /* eventfd written after every finished batch, or -1 */
    uint64_t tent_seq; /* the head after every submitted batch */
    uint8_t tent_hash[CRYPTO_HASH_LEN];
};

/* store_rec.c */
/* The coord_sig domain of a record version (0 counts as 2). */
const char *store_rec_domain(uint8_t version);
void store_rec_put_body(wire_buf_t *b, const lineage_rec_t *r);
/* ERR_INVAL/ERR_TOOBIG for empty or long names, nparents > 2, an unknown
 * version or reused not 0/1. */
int store_rec_check_fields(const lineage_rec_t *r);
/* Appends the record version's domain (STORE_SIG_DOMAIN or
 * STORE_SIG_DOMAIN_V2) as str and the body: the coord_sig message. */
int store_rec_sign_msg(wire_buf_t *b, const lineage_rec_t *r);

static inline MDB_val mval(const void *p, size_t n)
{
    MDB_val v = {.mv_size = n, .mv_data = (void *)p};
    return v;
}

/* store_append.c */
int store_pipe_start(store_t *s);
void store_pipe_stop(store_t *s);

/* store.c */
int store_valid_name(const char *s, size_t max);
/* 1 for "format", "coord_pk", "head". */
int store_meta_reserved(const char *key);
/* Doubles the map (grow = 1) or adopts another process's size (grow = 0). */
int store_map_resize(store_t *s, int grow);
/* Transactions hold maplock shared for their lifetime. */
int store_txn_begin(store_t *s, unsigned flags, MDB_txn **txn);
void store_txn_abort(store_t *s, MDB_txn *txn);
int store_txn_commit(store_t *s, MDB_txn *txn); /* the raw LMDB code */
void store_be64(uint8_t out[8], uint64_t v);
uint64_t store_get_be64(const uint8_t in[8]);
/* Encodes a derivation key into out[STORE_KEY_MAX]; returns its length. */
size_t store_key_encode(uint8_t *out, const char *population, uint32_t deme, uint64_t dseq);
/* Begins a read transaction holding maplock shared; store_rd_end ends both. */
int store_rd_begin(store_t *s, MDB_txn **txn);
void store_rd_end(store_t *s, MDB_txn *txn);
/* Logs an LMDB failure and maps it to a petri code. */
int store_mdb_err(const char *what, int rc);

#endif
