/* store.c - the lineage store (store.h): LMDB environment, group-commit
 * append of signed hash-chained records, lookups, meta and stats.
 * Verification lives in store_verify.c, the record codec in store_rec.c. */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "loop.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

#define MAP_MAX (1ull << 40) /* growth stops here: 1 TiB */
#define GROW_TRIES 16

/* ---- small helpers ---- */

void store_be64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t store_get_be64(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}

size_t store_key_encode(uint8_t *out, const char *population, uint32_t deme, uint64_t dseq)
{
    size_t n = strlen(population);
    assert(n <= STORE_POP_MAX);
    out[0] = (uint8_t)(n >> 24);
    out[1] = (uint8_t)(n >> 16);
    out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
    memcpy(out + 4, population, n);
    for (int i = 0; i < 4; i++)
        out[4 + n + (size_t)i] = (uint8_t)(deme >> (24 - 8 * i));
    store_be64(out + 8 + n, dseq);
    return n + 16;
}

int store_mdb_err(const char *what, int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case MDB_NOTFOUND:
        return ERR_NOTFOUND;
    case MDB_MAP_FULL:
        log_warn("store.lmdb", "op=%s err=\"%s\"", what, mdb_strerror(rc));
        return -ENOSPC;
    default:
        log_warn("store.lmdb", "op=%s err=\"%s\"", what, mdb_strerror(rc));
        return rc > 0 ? -rc : -EIO;
    }
}

int store_valid_name(const char *s, size_t max)
{
    return s && s[0] && strlen(s) <= max;
}

int store_meta_reserved(const char *key)
{
    return strcmp(key, "format") == 0 || strcmp(key, "coord_pk") == 0 || strcmp(key, "head") == 0;
}

/* ---- map size: growth on MDB_MAP_FULL, adoption on MDB_MAP_RESIZED ---- */

/* Doubles the map (grow = 1) or adopts a size another process set (0).
 * Needs no transaction open in this process: takes maplock exclusive. */
int store_map_resize(store_t *s, int grow)
{
    pthread_rwlock_wrlock(&s->maplock);
    int rc = 0;
    if (grow) {
        MDB_envinfo info;
        mdb_env_info(s->env, &info);
        uint64_t next = (uint64_t)info.me_mapsize * 2;
        if (next > MAP_MAX || mdb_env_set_mapsize(s->env, (size_t)next) != 0) {
            rc = -ENOSPC;
        } else {
            log_info("store.map_grow", "bytes=%llu", (unsigned long long)next);
            pthread_mutex_lock(&s->mu);
            s->st.map_grows++;
            pthread_mutex_unlock(&s->mu);
        }
    } else if (mdb_env_set_mapsize(s->env, 0) != 0) {
        rc = -EIO;
    }
    pthread_rwlock_unlock(&s->maplock);
    return rc;
}

/* Begins a transaction with maplock held shared. */
int store_txn_begin(store_t *s, unsigned flags, MDB_txn **txn)
{
    for (int tries = 0;; tries++) {
        pthread_rwlock_rdlock(&s->maplock);
        int rc = mdb_txn_begin(s->env, NULL, flags, txn);
        if (rc == 0)
            return 0;
        pthread_rwlock_unlock(&s->maplock);
        if (rc != MDB_MAP_RESIZED || tries > 2)
            return store_mdb_err("txn_begin", rc);
        if ((rc = store_map_resize(s, 0)) != 0)
            return rc;
    }
}

int store_rd_begin(store_t *s, MDB_txn **txn)
{
    return store_txn_begin(s, MDB_RDONLY, txn);
}

void store_rd_end(store_t *s, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&s->maplock);
}

void store_txn_abort(store_t *s, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&s->maplock);
}

/* Commits and releases maplock; returns the raw LMDB code. */
int store_txn_commit(store_t *s, MDB_txn *txn)
{
    int rc = mdb_txn_commit(txn);
    pthread_rwlock_unlock(&s->maplock);
    return rc;
}

/* ---- open / close ---- */

static int fail_open(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, a, b);
    return -1;
}

/* Opens the databases and checks or initialises format, coord_pk, head. */
static int open_dbs(store_t *s, const node_identity_t *signer, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc)
        return fail_open(err, errlen, "lineage store %s: %s", s->path, mdb_strerror(rc));
    struct {
        const char *name;
        unsigned flags;
        MDB_dbi *dbi;
    } dbs[] = {
        {"genomes", 0, &s->genomes},
        {"log", 0, &s->log},
        {"by_child", MDB_DUPSORT | MDB_DUPFIXED, &s->by_child},
        {"by_parent", MDB_DUPSORT | MDB_DUPFIXED, &s->by_parent},
        {"by_key", 0, &s->by_key},
        {"meta", 0, &s->meta},
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE | dbs[i].flags, dbs[i].dbi);
        if (rc)
            goto lmdb_fail;
    }

    MDB_val k = mval("format", 6), v;
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        uint8_t f[4] = {0, 0, 0, STORE_FORMAT};
        v = mval(f, 4);
        if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != 0)
            goto lmdb_fail;
    } else if (rc) {
        goto lmdb_fail;
    } else if (v.mv_size != 4 || memcmp(v.mv_data, "\0\0\0\1", 4) != 0) {
        mdb_txn_abort(txn);
        return fail_open(err, errlen, "lineage store %s: unknown layout version%s", s->path, "");
    }

    k = mval("coord_pk", 8);
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == 0 && v.mv_size == CRYPTO_PK_LEN) {
        memcpy(s->coord_pk, v.mv_data, CRYPTO_PK_LEN);
        s->have_pk = 1;
    } else if (rc && rc != MDB_NOTFOUND) {
        goto lmdb_fail;
    }
    if (signer) {
        if (s->have_pk && memcmp(s->coord_pk, signer->pk, CRYPTO_PK_LEN) != 0) {
            mdb_txn_abort(txn);
            return fail_open(err, errlen,
                             "lineage store %s: signed by another coordinator key%s (coord_pk)",
                             s->path, "");
        }
        if (!s->have_pk) {
            memcpy(s->coord_pk, signer->pk, CRYPTO_PK_LEN);
            s->have_pk = 1;
            v = mval(s->coord_pk, CRYPTO_PK_LEN);
            if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != 0)
                goto lmdb_fail;
        }
    }

    k = mval("head", 4);
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == 0 && v.mv_size == STORE_HEAD_LEN) {
        s->head_seq = store_get_be64(v.mv_data);
        memcpy(s->head_hash, (uint8_t *)v.mv_data + 8, CRYPTO_HASH_LEN);
    } else if (rc == 0 || rc == MDB_NOTFOUND) {
        /* No usable head: take the last record's (store_verify reports it). */
        MDB_cursor *c;
        if ((rc = mdb_cursor_open(txn, s->log, &c)) != 0)
            goto lmdb_fail;
        MDB_val lk, lv;
        if (mdb_cursor_get(c, &lk, &lv, MDB_LAST) == 0 && lk.mv_size == 8) {
            s->head_seq = store_get_be64(lk.mv_data);
            crypto_hash(lv.mv_data, lv.mv_size, s->head_hash);
            log_warn("store.head_missing", "path=%s seq=%llu", s->path,
                     (unsigned long long)s->head_seq);
        }
        mdb_cursor_close(c);
    } else {
        goto lmdb_fail;
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return fail_open(err, errlen, "lineage store %s: %s", s->path, mdb_strerror(rc));
    return 0;

lmdb_fail:
    mdb_txn_abort(txn);
    return fail_open(err, errlen, "lineage store %s: %s", s->path, mdb_strerror(rc));
}

store_t *store_open(const char *data_dir, uint64_t map_size, const node_identity_t *signer,
                    char *err, size_t errlen)
{
    assert(data_dir);
    if (err && errlen)
        err[0] = '\0';
    store_t *s = calloc(1, sizeof *s);
    if (!s) {
        fail_open(err, errlen, "lineage store: %s%s", "out of memory", "");
        return NULL;
    }
    pthread_rwlock_init(&s->maplock, NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->submit_mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    wire_buf_init(&s->enc);
    s->efd = -1;
    if ((size_t)snprintf(s->path, sizeof s->path, "%s/lineage", data_dir) >= sizeof s->path) {
        fail_open(err, errlen, "lineage store: path too long: %s%s", data_dir, "");
        goto fail;
    }
    int rc = util_mkdir_p(s->path, 0700);
    if (rc) {
        fail_open(err, errlen, "lineage store %s: %s", s->path, err_str(rc));
        goto fail;
    }
    if ((rc = mdb_env_create(&s->env)) != 0) {
        fail_open(err, errlen, "lineage store %s: %s", s->path, mdb_strerror(rc));
        goto fail;
    }
    mdb_env_set_maxdbs(s->env, 8);
    mdb_env_set_mapsize(s->env, (size_t)(map_size ? map_size : STORE_DEFAULT_MAP));
    if ((rc = mdb_env_open(s->env, s->path, 0, 0600)) != 0) {
        fail_open(err, errlen, "lineage store %s: %s", s->path, mdb_strerror(rc));
        goto fail;
    }
    if (open_dbs(s, signer, err, errlen) != 0)
        goto fail;
    if (signer) {
        s->signer = *signer;
        s->can_sign = 1;
        s->tent_seq = s->head_seq;
        memcpy(s->tent_hash, s->head_hash, CRYPTO_HASH_LEN);
        s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (s->efd < 0 || store_pipe_start(s) != 0) {
            fail_open(err, errlen, "lineage store %s: %s", s->path, "cannot start the committer");
            goto fail;
        }
    }
    log_info("store.open", "path=%s records=%llu signer=%d", s->path,
             (unsigned long long)s->head_seq, s->can_sign);
    return s;
fail:
    store_close(&s);
    return NULL;
}

void store_close(store_t **ps)
{
    if (!ps || !*ps)
        return;
    store_t *s = *ps;
    store_pipe_stop(s); /* commits what was submitted first */
    if (s->env)
        mdb_env_close(s->env);
    if (s->efd >= 0)
        close(s->efd);
    wire_buf_free(&s->enc);
    pthread_rwlock_destroy(&s->maplock);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->submit_mu);
    pthread_cond_destroy(&s->cv);
    sodium_memzero(&s->signer, sizeof s->signer);
    free(s);
    *ps = NULL;
}

int store_event_fd(store_t *s)
{
    assert(s);
    return s->efd;
}

uint64_t store_finished(store_t *s)
{
    assert(s);
    pthread_mutex_lock(&s->mu);
    uint64_t t = s->done_ticket;
    pthread_mutex_unlock(&s->mu);
    return t;
}

void store_coord_pk(store_t *s, uint8_t pk[CRYPTO_PK_LEN], int *have)
{
    assert(s);
    memcpy(pk, s->coord_pk, CRYPTO_PK_LEN);
    *have = s->have_pk;
}

void store_fingerprint(const uint8_t pk[CRYPTO_PK_LEN], char out[STORE_FP_LEN + 1])
{
    uint8_t h[CRYPTO_HASH_LEN];
    wire_buf_t b;
    wire_buf_init(&b);
    wire_put_str(&b, STORE_FP_DOMAIN);
    wire_put_raw(&b, pk, CRYPTO_PK_LEN);
    crypto_hash(b.data, b.len, h);
    wire_buf_free(&b);
    crypto_hex(h, STORE_FP_LEN / 2, out);
}

int store_fingerprint_parse(const char *text, char out[STORE_FP_LEN + 1])
{
    size_t n = 0;
    for (const char *p = text; *p; p++) {
        if (*p == ':' || *p == ' ' || *p == '-')
            continue;
        int hex = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F');
        if (!hex || n >= STORE_FP_LEN)
            return ERR_INVAL;
        out[n++] = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
    }
    out[n] = '\0';
    return n == STORE_FP_LEN ? 0 : ERR_INVAL;
}

/* ---- lookups ---- */

void store_head(store_t *s, uint64_t *seq, uint8_t hash[CRYPTO_HASH_LEN])
{
    assert(s);
    pthread_mutex_lock(&s->mu);
    if (seq)
        *seq = s->head_seq;
    if (hash)
        memcpy(hash, s->head_hash, CRYPTO_HASH_LEN);
    pthread_mutex_unlock(&s->mu);
}

static int get_in(store_t *s, MDB_txn *txn, uint64_t seq, lineage_rec_t *out)
{
    uint8_t kb[8];
    store_be64(kb, seq);
    MDB_val k = mval(kb, 8), v;
    int rc = mdb_get(txn, s->log, &k, &v);
    if (rc)
        return rc == MDB_NOTFOUND ? ERR_NOTFOUND : store_mdb_err("get", rc);
    return store_rec_decode(v.mv_data, v.mv_size, out);
}

int store_get(store_t *s, uint64_t seq, lineage_rec_t *out)
{
    assert(s && out);
    memset(out, 0, sizeof *out);
    MDB_txn *txn;
    int rc = store_rd_begin(s, &txn);
    if (rc)
        return rc;
    rc = get_in(s, txn, seq, out);
    store_rd_end(s, txn);
    return rc;
}

int store_get_raw(store_t *s, uint64_t seq, uint8_t **out, size_t *len)
{
    assert(s && out && len);
    *out = NULL;
    *len = 0;
    MDB_txn *txn;
    int rc = store_rd_begin(s, &txn);
    if (rc)
        return rc;
    uint8_t kb[8];
    store_be64(kb, seq);
    MDB_val k = mval(kb, 8), v;
    rc = mdb_get(txn, s->log, &k, &v);
    if (rc == 0) {
        *out = malloc(v.mv_size ? v.mv_size : 1);
        if (*out) {
            memcpy(*out, v.mv_data, v.mv_size);
            *len = v.mv_size;
        } else {
            rc = -ENOMEM;
        }
    } else {
        rc = rc == MDB_NOTFOUND ? ERR_NOTFOUND : store_mdb_err("get_raw", rc);
    }
    store_rd_end(s, txn);
    return rc;
}

int store_rec_hash(store_t *s, uint64_t seq, uint8_t hash[CRYPTO_HASH_LEN])
{
    uint8_t *raw;
    size_t len;
    int rc = store_get_raw(s, seq, &raw, &len);
    if (rc == 0)
        crypto_hash(raw, len, hash);
    free(raw);
    return rc;
}

int store_find_child(store_t *s, const uint8_t hash[CRYPTO_HASH_LEN], lineage_rec_t *out)
{
    assert(s && hash && out);
    memset(out, 0, sizeof *out);
    MDB_txn *txn;
    int rc = store_rd_begin(s, &txn);
    if (rc)
        return rc;
    MDB_val k = mval(hash, CRYPTO_HASH_LEN), v;
    rc = mdb_get(txn, s->by_child, &k, &v); /* first duplicate = lowest seq */
    if (rc == 0 && v.mv_size == 8)
        rc = get_in(s, txn, store_get_be64(v.mv_data), out);
    else if (rc == 0)
        rc = ERR_PROTO;
    else
        rc = rc == MDB_NOTFOUND ? ERR_NOTFOUND : store_mdb_err("find_child", rc);
    store_rd_end(s, txn);
    return rc;
}

/* Walks the duplicates of key in a DUPSORT db, handing each to fn. */
static int walk_dups(store_t *s, MDB_dbi dbi, const uint8_t key[CRYPTO_HASH_LEN],
                     void (*fn)(void *arg, size_t i, const MDB_val *v), void *arg, size_t *count)
{
    *count = 0;
    MDB_txn *txn;
    int rc = store_rd_begin(s, &txn);
    if (rc)
        return rc;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0) {
        store_rd_end(s, txn);
        return store_mdb_err("cursor", rc);
    }
    MDB_val k = mval(key, CRYPTO_HASH_LEN), v;
    size_t i = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP))
        fn(arg, i++, &v);
    *count = i;
    mdb_cursor_close(c);
    store_rd_end(s, txn);
    return rc == MDB_NOTFOUND ? 0 : store_mdb_err("walk_dups", rc);
}

struct collect {
    void *out;
    size_t max;
};

static void collect_seq(void *arg, size_t i, const MDB_val *v)
{
    struct collect *c = arg;
    if (i < c->max)
        ((uint64_t *)c->out)[i] = v->mv_size == 8 ? store_get_be64(v->mv_data) : 0;
}

static void collect_hash(void *arg, size_t i, const MDB_val *v)
{
    struct collect *c = arg;
    if (i < c->max) {
        uint8_t *dst = (uint8_t *)c->out + i * CRYPTO_HASH_LEN;
        if (v->mv_size == CRYPTO_HASH_LEN)
            memcpy(dst, v->mv_data, CRYPTO_HASH_LEN);
        else
            memset(dst, 0, CRYPTO_HASH_LEN);
    }
}

int store_child_records(store_t *s, const uint8_t hash[CRYPTO_HASH_LEN], uint64_t *out, size_t max,
                        size_t *count)
{
    assert(s && hash && count && (out || max == 0));
    struct collect c = {out, max};
    return walk_dups(s, s->by_child, hash, collect_seq, &c, count);
}

int store_children(store_t *s, const uint8_t parent[CRYPTO_HASH_LEN],
                   uint8_t (*out)[CRYPTO_HASH_LEN], size_t max, size_t *count)
{
    assert(s && parent && count && (out || max == 0));
    struct collect c = {out, max};
    return walk_dups(s, s->by_parent, parent, collect_hash, &c, count);
}

/* Copies v into a malloc'd buffer with a NUL after it. */
static int copy_out(const MDB_val *v, void **out, size_t *len)
{
    char *p = malloc(v->mv_size + 1);
    if (!p)
        return -ENOMEM;
    if (v->mv_size)
        memcpy(p, v->mv_data, v->mv_size);
    p[v->mv_size] = '\0';
    *out = p;
    if (len)
        *len = v->mv_size;
    return 0;
}

static int get_copy(store_t *s, MDB_dbi dbi, const void *key, size_t klen, void **out, size_t *len)
{
    *out = NULL;
    if (len)
        *len = 0;
    MDB_txn *txn;
    int rc = store_rd_begin(s, &txn);
    if (rc)
        return rc;
    MDB_val k = mval(key, klen), v;
    rc = mdb_get(txn, dbi, &k, &v);
    if (rc == 0)
        rc = copy_out(&v, out, len);
    else
        rc = rc == MDB_NOTFOUND ? ERR_NOTFOUND : store_mdb_err("get", rc);
    store_rd_end(s, txn);
    return rc;
}

int store_get_genome(store_t *s, const uint8_t hash[CRYPTO_HASH_LEN], char **src, size_t *len)
{
    assert(s && hash && src);
    void *p = NULL;
    int rc = get_copy(s, s->genomes, hash, CRYPTO_HASH_LEN, &p, len);
    *src = p;
    return rc;
}

int store_has_key(store_t *s, const char *population, uint32_t deme, uint64_t dseq, uint64_t *seq)
{
    assert(s);
    if (seq)
        *seq = 0;
    if (!store_valid_name(population, STORE_POP_MAX))
        return ERR_INVAL;
    uint8_t kb[STORE_KEY_MAX];
    size_t klen = store_key_encode(kb, population, deme, dseq);
    MDB_txn *txn;
    int rc = store_rd_begin(s, &txn);
    if (rc)
        return rc;
    MDB_val k = mval(kb, klen), v;
    rc = mdb_get(txn, s->by_key, &k, &v);
    if (rc == 0) {
        if (seq && v.mv_size == 8)
            *seq = store_get_be64(v.mv_data);
    } else {
        rc = rc == MDB_NOTFOUND ? ERR_NOTFOUND : store_mdb_err("has_key", rc);
    }
    store_rd_end(s, txn);
    return rc;
}

/* ---- meta ---- */

static int meta_key_ok(const char *key, int writing)
{
    if (!key || !key[0])
        return ERR_INVAL;
    if (strlen(key) > STORE_META_KEY_MAX)
        return ERR_TOOBIG;
    if (writing && store_meta_reserved(key))
        return ERR_INVAL;
    return 0;
}

/* One durable write of meta: put (val != NULL) or delete. */
static int meta_write(store_t *s, const char *key, const void *val, size_t len, int del)
{
    for (int tries = 0;; tries++) {
        MDB_txn *txn;
        int rc = store_txn_begin(s, 0, &txn);
        if (rc)
            return rc;
        MDB_val k = mval(key, strlen(key)), v = mval(val, len);
        rc = del ? mdb_del(txn, s->meta, &k, NULL) : mdb_put(txn, s->meta, &k, &v, 0);
        if (rc) {
            store_txn_abort(s, txn);
        } else {
            rc = store_txn_commit(s, txn);
            if (rc == 0)
                return 0;
        }
        if (rc != MDB_MAP_FULL || tries >= GROW_TRIES)
            return store_mdb_err(del ? "meta_del" : "meta_put", rc);
        if ((rc = store_map_resize(s, 1)) != 0)
            return rc;
    }
}

int store_meta_put(store_t *s, const char *key, const void *val, size_t len)
{
    assert(s && (val || len == 0));
    int rc = meta_key_ok(key, 1);
    if (rc)
        return rc;
    if (len > STORE_META_VAL_MAX)
        return ERR_TOOBIG;
    return meta_write(s, key, val ? val : "", len, 0);
}

int store_meta_get(store_t *s, const char *key, void **val, size_t *len)
{
    assert(s && val);
    *val = NULL;
    int rc = meta_key_ok(key, 0);
    if (rc)
        return rc;
    return get_copy(s, s->meta, key, strlen(key), val, len);
}

int store_meta_del(store_t *s, const char *key)
{
    assert(s);
    int rc = meta_key_ok(key, 1);
    if (rc)
        return rc;
    return meta_write(s, key, NULL, 0, 1);
}

struct meta_ent {
    char *key;
    void *val;
    size_t len;
};

int store_meta_iter(store_t *s, const char *prefix, store_meta_cb cb, void *arg)
{
    assert(s && cb);
    if (!prefix)
        prefix = "";
    size_t plen = strlen(prefix);
    struct meta_ent *ents = NULL;
    size_t n = 0, cap = 0;
    MDB_txn *txn;
    int rc = store_rd_begin(s, &txn);
    if (rc)
        return rc;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(txn, s->meta, &c)) != 0) {
        store_rd_end(s, txn);
        return store_mdb_err("cursor", rc);
    }
    MDB_val k = mval(prefix, plen), v;
    int mrc = mdb_cursor_get(c, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
    for (; mrc == 0; mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        if (k.mv_size > STORE_META_KEY_MAX || memchr(k.mv_data, 0, k.mv_size))
            continue;
        char kbuf[STORE_META_KEY_MAX + 1];
        memcpy(kbuf, k.mv_data, k.mv_size);
        kbuf[k.mv_size] = '\0';
        if (store_meta_reserved(kbuf))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct meta_ent *e = realloc(ents, ncap * sizeof *e);
            if (!e) {
                rc = -ENOMEM;
                break;
            }
            ents = e;
            cap = ncap;
        }
        ents[n].key = strdup(kbuf);
        if (!ents[n].key || copy_out(&v, &ents[n].val, &ents[n].len) != 0) {
            free(ents[n].key);
            rc = -ENOMEM;
            break;
        }
        n++;
    }
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = store_mdb_err("meta_iter", mrc);
    mdb_cursor_close(c);
    store_rd_end(s, txn);
    int stop = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && !stop)
            stop = cb(arg, ents[i].key, ents[i].val, ents[i].len);
        free(ents[i].key);
        free(ents[i].val);
    }
    free(ents);
    return rc ? rc : stop;
}

/* ---- stats ---- */

int store_stats(store_t *s, store_stats_t *out)
{
    assert(s && out);
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    out->records = s->head_seq;
    pthread_mutex_unlock(&s->mu);
    MDB_txn *txn;
    int rc = store_rd_begin(s, &txn);
    if (rc)
        return rc;
    MDB_stat ms;
    if ((rc = mdb_stat(txn, s->genomes, &ms)) == 0)
        out->genomes = ms.ms_entries;
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    MDB_stat es;
    mdb_env_stat(s->env, &es);
    out->map_bytes = info.me_mapsize;
    out->used_bytes = (uint64_t)(info.me_last_pgno + 1) * es.ms_psize;
    store_rd_end(s, txn);
    char p[PATH_MAX + 16];
    struct stat sb;
    snprintf(p, sizeof p, "%s/data.mdb", s->path);
    if (stat(p, &sb) == 0)
        out->file_bytes = (uint64_t)sb.st_size;
    return rc ? store_mdb_err("stat", rc) : 0;
}
