/* store_append.c - the lineage store's write path (store.h): the submitter
 * checks, numbers, chains and signs a batch; a committer thread writes it
 * in one durable LMDB transaction, so the next batch's signing overlaps
 * this batch's fsync.
 *
 * Invariants:
 *  1. At most one batch is unfinished while another is prepared: the new
 *     batch checks derivation keys against the committed store plus that
 *     one batch, and chains from its last record (the tentative head).
 *  2. Batches commit in ticket order. A failed batch bumps gen; every batch
 *     prepared before that (same old gen) fails too, since it was chained
 *     on records that never became durable. The tentative head then falls
 *     back to the durable head.
 *  3. Each batch is one write transaction that first checks meta "head"
 *     equals the batch's prev: nothing else wrote in between.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "loop.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

#define GROW_TRIES 16
#define SIG_SKIP (4 + sizeof STORE_SIG_DOMAIN - 1) /* the domain str prefix */

/* ---- batch memory ---- */

static void buf_put(struct store_buf *b, const void *p, size_t n)
{
    if (b->err || n == 0)
        return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) {
                b->err = -ENOMEM;
                return;
            }
            cap *= 2;
        }
        uint8_t *d = realloc(b->data, cap);
        if (!d) {
            b->err = -ENOMEM;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void batch_free(struct store_batch *b)
{
    if (!b)
        return;
    free(b->recs);
    free(b->kv);
    free(b->data.data);
    free(b);
}

static struct store_batch *batch_new(size_t n)
{
    struct store_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->recs = calloc(n ? n : 1, sizeof *b->recs);
    if (!b->recs) {
        free(b);
        return NULL;
    }
    b->nitems = n;
    return b;
}

/* ---- the key table: derivation keys of the unfinished batch and of the
 * batch being prepared, for duplicate checks before they are committed ---- */

struct ktab {
    const struct store_wrec **slot;
    size_t mask;
};

static uint64_t fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static int ktab_init(struct ktab *t, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    t->slot = calloc(cap, sizeof *t->slot);
    t->mask = cap - 1;
    return t->slot ? 0 : -ENOMEM;
}

static const struct store_wrec *ktab_find(const struct ktab *t, const uint8_t *key, size_t klen)
{
    for (size_t i = fnv(key, klen) & t->mask;; i = (i + 1) & t->mask) {
        const struct store_wrec *r = t->slot[i];
        if (!r)
            return NULL;
        if (r->klen == klen && memcmp(r->key, key, klen) == 0)
            return r;
    }
}

static void ktab_add(struct ktab *t, const struct store_wrec *r)
{
    size_t i = fnv(r->key, r->klen) & t->mask;
    while (t->slot[i])
        i = (i + 1) & t->mask;
    t->slot[i] = r;
}

/* ---- submit: check, number, chain, sign ---- */

/* The origin as store_rec_encode wants it (store.h): op "external" in
 * version 2 with a mutator name, no origin for any other op. */
static int origin_fits(const store_item_t *it)
{
    static const uint8_t zero[CRYPTO_HASH_LEN];
    if (!memchr(it->mutator, 0, sizeof it->mutator))
        return 0;
    if (it->op && strcmp(it->op, "external") == 0)
        return it->version != 1 && store_mutator_valid(it->mutator);
    return !it->mutator[0] && memcmp(it->input_hash, zero, CRYPTO_HASH_LEN) == 0;
}

static int validate_item(store_item_t *it)
{
    it->dup = 0;
    it->err = 0;
    it->seq = 0;
    memset(it->hash, 0, sizeof it->hash);
    if (!store_valid_name(it->population, STORE_POP_MAX) || !store_op_valid(it->op) ||
        it->nparents > STORE_MAX_PARENTS || it->src_len > STORE_GENOME_MAX ||
        (!it->src && it->src_len) || it->version > 4 || it->reused > 1 || !origin_fits(it) ||
        (it->version == 3 && !store_live_fits(&it->live))) {
        it->err = ERR_INVAL;
        return ERR_INVAL;
    }
    if (it->src) {
        uint8_t h[CRYPTO_HASH_LEN];
        crypto_hash(it->src, it->src_len, h);
        if (memcmp(h, it->child_hash, CRYPTO_HASH_LEN) != 0) {
            it->err = ERR_INVAL;
            return ERR_INVAL;
        }
    }
    return 0;
}

/* 1 if a record of batch b (may be NULL) brings the genome hash along. */
static int batch_has_genome(const struct store_batch *b, size_t nrec, const uint8_t *hash)
{
    for (size_t i = 0; b && i < nrec; i++)
        if (b->recs[i].has_src && memcmp(b->recs[i].child, hash, CRYPTO_HASH_LEN) == 0)
            return 1;
    return 0;
}

/* Signs one record into b->data; fills the item's hash. */
static int sign_record(store_t *s, struct store_batch *b, struct store_wrec *w, store_item_t *it,
                       uint64_t now_ms, const uint8_t prev[CRYPTO_HASH_LEN])
{
    lineage_rec_t r;
    memset(&r, 0, sizeof r);
    r.seq = w->seq;
    memcpy(r.prev_hash, prev, CRYPTO_HASH_LEN);
    util_strlcpy(r.population, it->population, sizeof r.population);
    r.deme = it->deme;
    r.dseq = it->dseq;
    memcpy(r.child_hash, it->child_hash, CRYPTO_HASH_LEN);
    r.nparents = it->nparents;
    memcpy(r.parents, it->parents, sizeof r.parents);
    util_strlcpy(r.op, it->op, sizeof r.op);
    r.seed = it->seed;
    r.status = it->status;
    r.fitness = it->fitness;
    memcpy(r.agent_id, it->agent_id, CRYPTO_ID_LEN);
    memcpy(r.agent_pk, it->agent_pk, CRYPTO_PK_LEN);
    memcpy(r.agent_sig, it->agent_sig, CRYPTO_SIG_LEN);
    r.time_ms = now_ms;
    r.version = it->version == 1 || it->version == 3 || it->version == 4 ? it->version : 2;
    if (r.version == 3)
        r.live = it->live;
    if (r.version == 4)
        memcpy(r.breeder, it->breeder, WIRE_BREEDER_LEN);
    r.passed = it->passed;
    r.cases = it->cases;
    r.cost = it->cost;
    r.reused = it->reused;
    memcpy(r.errors_hash, it->errors_hash, CRYPTO_HASH_LEN);
    memcpy(r.mutator, it->mutator, sizeof r.mutator);
    memcpy(r.input_hash, it->input_hash, CRYPTO_HASH_LEN);

    wire_buf_t *e = &s->enc;
    wire_buf_reset(e);
    store_rec_sign_msg(e, &r);
    uint8_t sig[CRYPTO_SIG_LEN];
    if (e->err)
        return e->err;
    crypto_sign(&s->signer, e->data, e->len, sig);
    w->rec_off = b->data.len;
    w->rec_len = e->len - SIG_SKIP + CRYPTO_SIG_LEN;
    buf_put(&b->data, e->data + SIG_SKIP, e->len - SIG_SKIP);
    buf_put(&b->data, sig, CRYPTO_SIG_LEN);
    if (b->data.err)
        return b->data.err;
    crypto_hash(b->data.data + w->rec_off, w->rec_len, it->hash);
    return 0;
}

/* Fills batch b from the items, inside a read transaction. */
static int prepare(store_t *s, struct store_batch *b, const struct store_batch *pend,
                   store_item_t *items, size_t n, uint64_t now_ms)
{
    struct ktab kt;
    int rc = ktab_init(&kt, (pend ? pend->nrec : 0) + n);
    if (rc)
        return rc;
    for (size_t i = 0; pend && i < pend->nrec; i++)
        ktab_add(&kt, &pend->recs[i]);
    MDB_txn *txn;
    if ((rc = store_rd_begin(s, &txn)) != 0) {
        free(kt.slot);
        return rc;
    }
    uint64_t seq = b->prev_seq;
    uint8_t hash[CRYPTO_HASH_LEN];
    memcpy(hash, b->prev_hash, CRYPTO_HASH_LEN);
    for (size_t i = 0; i < n && rc == 0; i++) {
        store_item_t *it = &items[i];
        struct store_wrec *w = &b->recs[b->nrec];
        w->klen = (uint8_t)store_key_encode(w->key, it->population, it->deme, it->dseq);
        const struct store_wrec *prior = ktab_find(&kt, w->key, w->klen);
        if (prior) {
            it->dup = 1;
            it->seq = prior->seq;
            continue;
        }
        MDB_val k = mval(w->key, w->klen), v;
        int mrc = mdb_get(txn, s->by_key, &k, &v);
        if (mrc == 0) {
            it->dup = 1;
            it->seq = v.mv_size == 8 ? store_get_be64(v.mv_data) : 0;
            continue;
        }
        if (mrc != MDB_NOTFOUND) {
            rc = store_mdb_err("submit", mrc);
            break;
        }
        memcpy(w->child, it->child_hash, CRYPTO_HASH_LEN);
        w->nparents = it->nparents;
        memcpy(w->parents, it->parents, sizeof w->parents);
        if (it->src) {
            w->has_src = 1;
            w->src_off = b->data.len;
            w->src_len = it->src_len;
            buf_put(&b->data, it->src, it->src_len);
        } else {
            k = mval(it->child_hash, CRYPTO_HASH_LEN);
            mrc = mdb_get(txn, s->genomes, &k, &v);
            if (mrc == MDB_NOTFOUND && !batch_has_genome(pend, pend ? pend->nrec : 0, w->child) &&
                !batch_has_genome(b, b->nrec, w->child)) {
                it->err = ERR_NOTFOUND;
                rc = ERR_NOTFOUND;
                break;
            }
            if (mrc && mrc != MDB_NOTFOUND) {
                rc = store_mdb_err("submit", mrc);
                break;
            }
        }
        w->seq = seq + 1;
        if ((rc = sign_record(s, b, w, it, now_ms, hash)) != 0)
            break;
        it->seq = w->seq;
        seq = w->seq;
        memcpy(hash, it->hash, CRYPTO_HASH_LEN);
        ktab_add(&kt, w);
        b->nrec++;
    }
    store_rd_end(s, txn);
    free(kt.slot);
    b->last_seq = seq;
    memcpy(b->last_hash, hash, CRYPTO_HASH_LEN);
    return rc;
}

static int unfinished(const store_t *s)
{
    int n = 0;
    for (const struct store_batch *b = s->q_head; b; b = b->next)
        n += !b->done;
    return n;
}

static int validate_kv(const store_kv_t *kv)
{
    if (!kv->key || !kv->key[0] || store_meta_reserved(kv->key) || (!kv->val && kv->len))
        return ERR_INVAL;
    if (strlen(kv->key) > STORE_META_KEY_MAX || kv->len > STORE_META_VAL_MAX)
        return ERR_TOOBIG;
    return 0;
}

/* Copies the meta writes into b. */
static int batch_add_kv(struct store_batch *b, const store_kv_t *kv, size_t nkv)
{
    if (nkv == 0)
        return 0;
    b->kv = calloc(nkv, sizeof *b->kv);
    if (!b->kv)
        return -ENOMEM;
    for (size_t i = 0; i < nkv; i++) {
        struct store_wkv *w = &b->kv[i];
        w->koff = b->data.len;
        w->klen = strlen(kv[i].key);
        buf_put(&b->data, kv[i].key, w->klen);
        w->voff = b->data.len;
        w->vlen = kv[i].len;
        buf_put(&b->data, kv[i].val, kv[i].len);
    }
    b->nkv = nkv;
    return b->data.err;
}

int store_submit(store_t *s, store_item_t *items, size_t n, uint64_t now_ms, uint64_t *ticket)
{
    return store_submit_kv(s, items, n, NULL, 0, now_ms, ticket);
}

int store_submit_kv(store_t *s, store_item_t *items, size_t n, const store_kv_t *kv, size_t nkv,
                    uint64_t now_ms, uint64_t *ticket)
{
    assert(s && (items || n == 0) && (kv || nkv == 0) && ticket);
    *ticket = 0;
    if (!s->can_sign)
        return ERR_STATE;
    for (size_t i = 0; i < n; i++)
        if (validate_item(&items[i]) != 0)
            return ERR_INVAL;
    for (size_t i = 0; i < nkv; i++) {
        int vrc = validate_kv(&kv[i]);
        if (vrc)
            return vrc;
    }
    uint64_t t0 = mono_us();
    struct store_batch *b = batch_new(n);
    if (!b)
        return -ENOMEM;
    b->t_submit = t0;
    int krc = batch_add_kv(b, kv, nkv);
    if (krc) {
        batch_free(b);
        return krc;
    }

    pthread_mutex_lock(&s->submit_mu);
    pthread_mutex_lock(&s->mu);
    while (unfinished(s) > 1)
        pthread_cond_wait(&s->cv, &s->mu);
    while (s->q_head && s->q_head->done) { /* only submitters free batches */
        struct store_batch *d = s->q_head;
        s->q_head = d->next;
        if (!s->q_head)
            s->q_tail = NULL;
        batch_free(d);
    }
    const struct store_batch *pend = s->q_head; /* unfinished, or NULL */
    b->gen = s->gen;
    b->prev_seq = s->tent_seq;
    memcpy(b->prev_hash, s->tent_hash, CRYPTO_HASH_LEN);
    pthread_mutex_unlock(&s->mu);

    /* The committer only reads pend, and only submitters free it. */
    int rc = prepare(s, b, pend, items, n, now_ms);

    pthread_mutex_lock(&s->mu);
    if (rc == 0 && b->gen != s->gen)
        rc = s->fail_rc ? s->fail_rc : ERR_STATE; /* chained on a failed batch */
    if (rc == 0) {
        b->ticket = *ticket = ++s->next_ticket;
        if (s->q_tail)
            s->q_tail->next = b;
        else
            s->q_head = b;
        s->q_tail = b;
        s->tent_seq = b->last_seq;
        memcpy(s->tent_hash, b->last_hash, CRYPTO_HASH_LEN);
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_unlock(&s->submit_mu);
    if (rc)
        batch_free(b);
    return rc;
}

int store_wait(store_t *s, uint64_t ticket)
{
    assert(s);
    pthread_mutex_lock(&s->mu);
    if (ticket > s->next_ticket) {
        pthread_mutex_unlock(&s->mu);
        return ERR_INVAL;
    }
    while (s->done_ticket < ticket)
        pthread_cond_wait(&s->cv, &s->mu);
    int rc = 0;
    if (ticket && s->done_ticket - ticket >= STORE_RESULTS)
        rc = ERR_NOTFOUND;
    else if (ticket)
        rc = s->results[ticket % STORE_RESULTS];
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int store_append(store_t *s, store_item_t *items, size_t n, uint64_t now_ms)
{
    uint64_t ticket;
    int rc = store_submit(s, items, n, now_ms, &ticket);
    return rc ? rc : store_wait(s, ticket);
}

/* ---- the committer ---- */

/* Writes batch b in one transaction. Returns 0, a negative code, or
 * MDB_MAP_FULL (the caller grows the map and retries). */
static int commit_once(store_t *s, const struct store_batch *b, uint64_t *commit_us)
{
    MDB_txn *txn;
    int rc = store_txn_begin(s, 0, &txn);
    if (rc)
        return rc;
    MDB_val k = mval("head", 4), v;
    int mrc = mdb_get(txn, s->meta, &k, &v);
    uint64_t hseq = 0;
    uint8_t hhash[CRYPTO_HASH_LEN] = {0};
    if (mrc == 0 && v.mv_size == STORE_HEAD_LEN) {
        hseq = store_get_be64(v.mv_data);
        memcpy(hhash, (uint8_t *)v.mv_data + 8, CRYPTO_HASH_LEN);
    } else if (mrc && mrc != MDB_NOTFOUND) {
        store_txn_abort(s, txn);
        return store_mdb_err("commit", mrc);
    }
    if (hseq != b->prev_seq || memcmp(hhash, b->prev_hash, CRYPTO_HASH_LEN) != 0) {
        store_txn_abort(s, txn);
        log_error("store.head_moved", "expected=%llu found=%llu", (unsigned long long)b->prev_seq,
                  (unsigned long long)hseq);
        return ERR_STATE;
    }
    mrc = 0;
    for (size_t i = 0; i < b->nrec && mrc == 0; i++) {
        const struct store_wrec *w = &b->recs[i];
        uint8_t seqb[8];
        store_be64(seqb, w->seq);
        k = mval(w->key, w->klen);
        v = mval(seqb, 8);
        if ((mrc = mdb_put(txn, s->by_key, &k, &v, MDB_NOOVERWRITE)) != 0)
            break;
        k = mval(w->child, CRYPTO_HASH_LEN);
        if (w->has_src) {
            v = mval(b->data.data + w->src_off, w->src_len);
            mrc = mdb_put(txn, s->genomes, &k, &v, MDB_NOOVERWRITE);
            if (mrc == MDB_KEYEXIST)
                mrc = 0;
            if (mrc)
                break;
        }
        v = mval(seqb, 8);
        if ((mrc = mdb_put(txn, s->by_child, &k, &v, 0)) != 0)
            break;
        for (unsigned p = 0; p < w->nparents && mrc == 0; p++) {
            k = mval(w->parents[p], CRYPTO_HASH_LEN);
            v = mval(w->child, CRYPTO_HASH_LEN);
            mrc = mdb_put(txn, s->by_parent, &k, &v, 0);
        }
        k = mval(seqb, 8);
        v = mval(b->data.data + w->rec_off, w->rec_len);
        if (mrc == 0)
            mrc = mdb_put(txn, s->log, &k, &v, MDB_APPEND);
    }
    for (size_t i = 0; i < b->nkv && mrc == 0; i++) {
        k = mval(b->data.data + b->kv[i].koff, b->kv[i].klen);
        v = mval(b->data.data + b->kv[i].voff, b->kv[i].vlen);
        mrc = mdb_put(txn, s->meta, &k, &v, 0);
    }
    if (mrc == 0) {
        uint8_t head[STORE_HEAD_LEN];
        store_be64(head, b->last_seq);
        memcpy(head + 8, b->last_hash, CRYPTO_HASH_LEN);
        k = mval("head", 4);
        v = mval(head, sizeof head);
        mrc = mdb_put(txn, s->meta, &k, &v, 0);
    }
    if (mrc) {
        store_txn_abort(s, txn);
        if (mrc == MDB_MAP_FULL)
            return MDB_MAP_FULL;
        /* KEYEXIST: a key or seq already written - another writer */
        return mrc == MDB_KEYEXIST ? ERR_STATE : store_mdb_err("commit", mrc);
    }
    uint64_t t0 = mono_us();
    mrc = store_txn_commit(s, txn);
    *commit_us = mono_us() - t0;
    if (mrc == MDB_MAP_FULL)
        return MDB_MAP_FULL;
    return mrc ? store_mdb_err("commit", mrc) : 0;
}

static int commit_batch(store_t *s, const struct store_batch *b, uint64_t *commit_us)
{
    if (b->nrec == 0 && b->nkv == 0)
        return 0; /* only duplicates: nothing to write */
    for (int tries = 0;; tries++) {
        int rc = commit_once(s, b, commit_us);
        if (rc != MDB_MAP_FULL)
            return rc;
        if (tries >= GROW_TRIES || (rc = store_map_resize(s, 1)) != 0)
            return -ENOSPC;
    }
}

static void *committer(void *arg)
{
    store_t *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        struct store_batch *b = s->q_head;
        while (b && b->done)
            b = b->next;
        if (!b) {
            if (s->stopping)
                break;
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        int stale = b->gen != s->gen;
        int fail_rc = s->fail_rc;
        pthread_mutex_unlock(&s->mu);

        uint64_t commit_us = 0;
        int rc = stale ? (fail_rc ? fail_rc : ERR_STATE) : commit_batch(s, b, &commit_us);

        pthread_mutex_lock(&s->mu);
        b->done = 1;
        s->done_ticket = b->ticket;
        s->results[b->ticket % STORE_RESULTS] = rc;
        if (rc) {
            if (!stale) {
                s->gen++;
                s->fail_rc = rc;
                log_error("store.commit_failed", "ticket=%llu records=%zu err=\"%s\"",
                          (unsigned long long)b->ticket, b->nrec, err_str(rc));
            }
            s->tent_seq = s->head_seq;
            memcpy(s->tent_hash, s->head_hash, CRYPTO_HASH_LEN);
        } else {
            s->head_seq = b->last_seq;
            memcpy(s->head_hash, b->last_hash, CRYPTO_HASH_LEN);
            s->st.appends++;
            s->st.appended += b->nrec;
            s->st.dups += b->nitems - b->nrec;
            s->st.last_commit_us = commit_us;
            s->st.last_append_us = mono_us() - b->t_submit;
            s->st.commit_us_total += commit_us;
            s->st.append_us_total += s->st.last_append_us;
        }
        pthread_cond_broadcast(&s->cv);
        if (s->efd >= 0) {
            uint64_t one = 1;
            if (write(s->efd, &one, sizeof one) != sizeof one && errno != EAGAIN)
                log_error("store.signal_failed", "why=\"%s\"", err_str(-errno));
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int store_pipe_start(store_t *s)
{
    if (pthread_create(&s->committer, NULL, committer, s) != 0)
        return -EAGAIN;
    s->committer_on = 1;
    return 0;
}

void store_pipe_stop(store_t *s)
{
    if (s->committer_on) {
        pthread_mutex_lock(&s->mu);
        s->stopping = 1;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->committer, NULL);
        s->committer_on = 0;
    }
    while (s->q_head) {
        struct store_batch *d = s->q_head;
        s->q_head = d->next;
        batch_free(d);
    }
    s->q_tail = NULL;
}
