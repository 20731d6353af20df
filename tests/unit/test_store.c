/* test_store.c - cmocka tests of the lineage store (coordinator/store*.c):
 * append and reopen, crash safety, idempotency, indexes, meta, map growth,
 * and tampering (records, genomes, file bytes, gaps, swaps) named by verify. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "attest.h"
#include "err.h"
#include "log.h"
#include "store.h"
#include "store_export.h"
#include "store_int.h"

static node_identity_t coord, agent;

/* ---- fixtures ---- */

struct fx {
    char dir[64];
    store_t *s;
};

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/petri-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char err[256];
    f->s = store_open(f->dir, 0, &coord, err, sizeof err);
    assert_non_null(f->s);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    store_close(&f->s);
    nftw(f->dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void reopen(struct fx *f)
{
    char err[256];
    store_close(&f->s);
    assert_null(f->s);
    f->s = store_open(f->dir, 0, &coord, err, sizeof err);
    assert_non_null(f->s);
}

/* ---- items ---- */

#define SRC_CAP 96

struct gen {
    store_item_t it;
    char src[SRC_CAP];
    char pop[16];
};

static void sign_item(store_item_t *it);

/* Item i of a population: source "f(X) -> X + <v>." so equal v = same genome. */
static void mk_item(struct gen *g, const char *pop, uint32_t deme, uint64_t dseq, int v,
                    const uint8_t *p1, const uint8_t *p2)
{
    memset(g, 0, sizeof *g);
    snprintf(g->pop, sizeof g->pop, "%s", pop);
    snprintf(g->src, sizeof g->src, "f(X) -> X + %d.", v);
    store_item_t *it = &g->it;
    it->population = g->pop;
    it->deme = deme;
    it->dseq = dseq;
    it->src = g->src;
    it->src_len = strlen(g->src);
    crypto_hash(it->src, it->src_len, it->child_hash);
    if (p1)
        memcpy(it->parents[it->nparents++], p1, CRYPTO_HASH_LEN);
    if (p2)
        memcpy(it->parents[it->nparents++], p2, CRYPTO_HASH_LEN);
    it->op = it->nparents == 2 ? "crossover" : it->nparents ? "point" : "random";
    it->seed = 1000 + dseq;
    it->status = (v % 5 == 4) ? WIRE_ST_TIMEOUT : WIRE_ST_OK;
    it->fitness = it->status == WIRE_ST_OK ? 1.0 / (1 + v) : NAN;
    memcpy(it->agent_id, agent.id, CRYPTO_ID_LEN);
    memcpy(it->agent_pk, agent.pk, CRYPTO_PK_LEN);
    if (it->status == WIRE_ST_OK) {
        double errors[3] = {v, 0, 0.5};
        it->passed = 1;
        it->cases = 3;
        it->cost = 10.0 * v;
        it->reused = (uint8_t)(v % 2);
        attest_errors_hash(errors, 3, it->errors_hash);
    }
    sign_item(it);
}

/* Signs it as its record version asks (attest v1, v2, or v3 for a record
 * of version 4). */
static void sign_item(store_item_t *it)
{
    if (it->version == 1) {
        assert_int_equal(attest_sign(&agent, it->population, it->deme, it->dseq, it->child_hash,
                                     it->status, it->fitness, it->agent_sig),
                         0);
        return;
    }
    attest_ext_t x = {.passed = it->passed,
                      .cases = it->cases,
                      .cost = it->cost,
                      .reused = it->reused,
                      .with_breeder = it->version == 4};
    memcpy(x.errors_hash, it->errors_hash, CRYPTO_HASH_LEN);
    memcpy(x.breeder, it->breeder, WIRE_BREEDER_LEN);
    assert_int_equal(attest_sign_v2(&agent, it->population, it->deme, it->dseq, it->child_hash,
                                    it->status, it->fitness, &x, it->agent_sig),
                     0);
}

/* As mk_item, the version 1 record an older build wrote. */
static void mk_item_v1(struct gen *g, const char *pop, uint32_t deme, uint64_t dseq, int v)
{
    mk_item(g, pop, deme, dseq, v, NULL, NULL);
    store_item_t *it = &g->it;
    it->version = 1;
    it->passed = it->cases = 0;
    it->cost = 0;
    it->reused = 0;
    memset(it->errors_hash, 0, CRYPTO_HASH_LEN);
    sign_item(it);
}

/* Appends n fresh items (deme 0, dseq from..from+n-1) in one batch. */
static void append_n(store_t *s, uint64_t from, size_t n)
{
    struct gen *g = calloc(n, sizeof *g);
    store_item_t *items = calloc(n, sizeof *items);
    assert_true(g && items);
    for (size_t i = 0; i < n; i++) {
        mk_item(&g[i], "quad", 0, from + i, (int)(from + i), NULL, NULL);
        items[i] = g[i].it;
    }
    assert_int_equal(store_append(s, items, n, 1700000000000ULL + from), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(items[i].dup, 0);
    free(items);
    free(g);
}

/* ---- verification report collector ---- */

struct reports {
    int n;
    uint64_t seq[64];
    char reason[64][128];
};

static void on_err(void *arg, uint64_t seq, const char *reason)
{
    struct reports *r = arg;
    if (r->n < 64) {
        r->seq[r->n] = seq;
        snprintf(r->reason[r->n], sizeof r->reason[0], "%s", reason);
    }
    r->n++;
}

static int named(const struct reports *r, uint64_t seq, const char *what)
{
    for (int i = 0; i < r->n && i < 64; i++)
        if (r->seq[i] == seq && (!what || strstr(r->reason[i], what)))
            return 1;
    return 0;
}

static int verify(store_t *s, struct reports *r, uint64_t *checked)
{
    memset(r, 0, sizeof *r);
    return store_verify(s, on_err, NULL, r, checked);
}

/* ---- raw LMDB access, to tamper behind the store's back ---- */

struct raw {
    MDB_env *env;
    MDB_txn *txn;
};

static MDB_dbi raw_open(struct raw *r, const char *dir, const char *db)
{
    char path[128];
    snprintf(path, sizeof path, "%s/lineage", dir);
    assert_int_equal(mdb_env_create(&r->env), 0);
    mdb_env_set_maxdbs(r->env, 8);
    assert_int_equal(mdb_env_open(r->env, path, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
    unsigned flags = 0;
    if (strcmp(db, "by_child") == 0 || strcmp(db, "by_parent") == 0)
        flags = MDB_DUPSORT | MDB_DUPFIXED;
    MDB_dbi dbi;
    assert_int_equal(mdb_dbi_open(r->txn, db, flags, &dbi), 0);
    return dbi;
}

static void raw_close(struct raw *r)
{
    assert_int_equal(mdb_txn_commit(r->txn), 0);
    mdb_env_close(r->env);
}

static void be64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

/* Flips bit `mask` of byte off of log[seq] (or of a genome, if hash). */
static void raw_flip(const char *dir, const char *db, const void *key, size_t klen, size_t off,
                     uint8_t mask, size_t *vlen)
{
    struct raw r;
    MDB_dbi dbi = raw_open(&r, dir, db);
    MDB_val k = {klen, (void *)key}, v;
    assert_int_equal(mdb_get(r.txn, dbi, &k, &v), 0);
    if (vlen)
        *vlen = v.mv_size;
    if (off < v.mv_size) {
        uint8_t *copy = malloc(v.mv_size);
        memcpy(copy, v.mv_data, v.mv_size);
        copy[off] ^= mask;
        MDB_val nv = {v.mv_size, copy};
        assert_int_equal(mdb_put(r.txn, dbi, &k, &nv, 0), 0);
        free(copy);
    }
    raw_close(&r);
}

/* ---- tests ---- */

static void test_append_reopen(void **state)
{
    struct fx *f = *state;
    uint64_t seq;
    uint8_t h[CRYPTO_HASH_LEN], zero[CRYPTO_HASH_LEN] = {0};
    store_head(f->s, &seq, h);
    assert_int_equal(seq, 0);
    assert_memory_equal(h, zero, sizeof h);

    append_n(f->s, 1, 10);
    append_n(f->s, 11, 1);
    append_n(f->s, 12, 5);
    store_head(f->s, &seq, h);
    assert_int_equal(seq, 16);

    lineage_rec_t r1, r16;
    assert_int_equal(store_get(f->s, 1, &r1), 0);
    assert_int_equal(r1.seq, 1);
    assert_memory_equal(r1.prev_hash, zero, sizeof zero);
    assert_string_equal(r1.population, "quad");
    assert_string_equal(r1.op, "random");
    assert_int_equal(r1.time_ms, 1700000000001ULL);
    assert_int_equal(store_get(f->s, 16, &r16), 0);
    assert_int_equal(store_get(f->s, 17, &r1), ERR_NOTFOUND);
    assert_int_equal(store_get(f->s, 0, &r1), ERR_NOTFOUND);

    reopen(f); /* nothing special on close */
    uint64_t seq2;
    uint8_t h2[CRYPTO_HASH_LEN];
    store_head(f->s, &seq2, h2);
    assert_int_equal(seq2, 16);
    assert_memory_equal(h, h2, sizeof h);
    append_n(f->s, 17, 3);
    lineage_rec_t r17;
    assert_int_equal(store_get(f->s, 17, &r17), 0);
    assert_memory_equal(r17.prev_hash, h, sizeof h); /* no gap, chain continues */

    struct reports rep;
    uint64_t checked = 0;
    assert_int_equal(verify(f->s, &rep, &checked), 0);
    assert_int_equal(rep.n, 0);
    assert_int_equal(checked, 19);

    store_stats_t st;
    assert_int_equal(store_stats(f->s, &st), 0);
    assert_int_equal(st.records, 19);
    assert_int_equal(st.genomes, 19);
    assert_true(st.file_bytes > 0);
    assert_true(st.used_bytes > 0);
    assert_int_equal(st.appended, 3);
}

/* A process killed after some commits loses none of them. */
static void test_crash(void **state)
{
    struct fx *f = *state;
    store_close(&f->s);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char err[256];
        store_t *s = store_open(f->dir, 0, &coord, err, sizeof err);
        if (!s)
            _exit(3);
        for (int b = 0; b < 4; b++) {
            store_item_t items[8];
            struct gen g[8];
            for (int i = 0; i < 8; i++) {
                mk_item(&g[i], "crash", 1, (uint64_t)(b * 8 + i), b * 8 + i, NULL, NULL);
                items[i] = g[i].it;
            }
            if (store_append(s, items, 8, 1) != 0)
                _exit(4);
        }
        _exit(0); /* no close */
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    reopen(f);
    uint64_t seq;
    store_head(f->s, &seq, NULL);
    assert_int_equal(seq, 32);
    append_n(f->s, 100, 2);
    struct reports rep;
    assert_int_equal(verify(f->s, &rep, NULL), 0);
    assert_int_equal(store_has_key(f->s, "crash", 1, 31, &seq), 0);
    assert_int_equal(seq, 32);
}

static void test_idempotent(void **state)
{
    struct fx *f = *state;
    append_n(f->s, 1, 4);
    uint64_t seq;
    assert_int_equal(store_has_key(f->s, "quad", 0, 3, &seq), 0);
    assert_int_equal(seq, 3);
    assert_int_equal(store_has_key(f->s, "quad", 0, 5, &seq), ERR_NOTFOUND);
    assert_int_equal(store_has_key(f->s, "quad", 1, 3, NULL), ERR_NOTFOUND);
    assert_int_equal(store_has_key(f->s, "quae", 0, 3, NULL), ERR_NOTFOUND);
    assert_int_equal(store_has_key(f->s, "", 0, 3, NULL), ERR_INVAL);

    /* a late result for dseq 2 (a different child even) is discarded */
    struct gen g;
    mk_item(&g, "quad", 0, 2, 77, NULL, NULL);
    uint8_t h[CRYPTO_HASH_LEN], h2[CRYPTO_HASH_LEN];
    store_head(f->s, NULL, h);
    assert_int_equal(store_append(f->s, &g.it, 1, 5), 0);
    assert_int_equal(g.it.dup, 1);
    assert_int_equal(g.it.seq, 2);
    store_head(f->s, &seq, h2);
    assert_int_equal(seq, 4);
    assert_memory_equal(h, h2, sizeof h);
    char *src = NULL;
    assert_int_equal(store_get_genome(f->s, g.it.child_hash, &src, NULL), ERR_NOTFOUND);
    assert_null(src);
    store_stats_t st;
    assert_int_equal(store_stats(f->s, &st), 0);
    assert_int_equal(st.dups, 1);
}

static void test_batch_with_dups(void **state)
{
    struct fx *f = *state;
    struct gen g[5];
    store_item_t items[5];
    mk_item(&g[0], "quad", 2, 10, 1, NULL, NULL);
    mk_item(&g[1], "quad", 2, 11, 2, NULL, NULL);
    mk_item(&g[2], "quad", 2, 10, 3, NULL, NULL); /* same key as [0] */
    mk_item(&g[3], "quad", 3, 10, 1, NULL, NULL); /* same genome, other key */
    mk_item(&g[4], "quad", 2, 11, 2, NULL, NULL); /* exact repeat of [1] */
    for (int i = 0; i < 5; i++)
        items[i] = g[i].it;
    assert_int_equal(store_append(f->s, items, 5, 9), 0);
    assert_int_equal(items[0].dup, 0);
    assert_int_equal(items[0].seq, 1);
    assert_int_equal(items[1].seq, 2);
    assert_int_equal(items[2].dup, 1);
    assert_int_equal(items[2].seq, 1);
    assert_int_equal(items[3].dup, 0);
    assert_int_equal(items[3].seq, 3);
    assert_int_equal(items[4].dup, 1);
    assert_int_equal(items[4].seq, 2);
    uint64_t seq;
    uint8_t head[CRYPTO_HASH_LEN];
    store_head(f->s, &seq, head);
    assert_int_equal(seq, 3);
    assert_memory_equal(head, items[3].hash, sizeof head);
    lineage_rec_t r;
    assert_int_equal(store_get(f->s, 2, &r), 0);
    assert_memory_equal(r.prev_hash, items[0].hash, CRYPTO_HASH_LEN);
    struct reports rep;
    assert_int_equal(verify(f->s, &rep, NULL), 0);
    store_stats_t st;
    assert_int_equal(store_stats(f->s, &st), 0);
    assert_int_equal(st.genomes, 2);
}

static void test_indexes(void **state)
{
    struct fx *f = *state;
    struct gen g[6];
    store_item_t items[6];
    mk_item(&g[0], "quad", 0, 1, 100, NULL, NULL); /* P */
    mk_item(&g[1], "quad", 0, 2, 200, NULL, NULL); /* Q */
    const uint8_t *P = g[0].it.child_hash, *Q = g[1].it.child_hash;
    mk_item(&g[2], "quad", 0, 3, 301, P, NULL); /* C1 from P */
    mk_item(&g[3], "quad", 0, 4, 302, P, Q);    /* C2 from P x Q */
    mk_item(&g[4], "quad", 1, 1, 301, P, NULL); /* C1 again, other key */
    mk_item(&g[5], "quad", 1, 2, 303, Q, NULL); /* C3 from Q */
    for (int i = 0; i < 6; i++)
        items[i] = g[i].it;
    assert_int_equal(store_append(f->s, items, 3, 1), 0);
    assert_int_equal(store_append(f->s, items + 3, 3, 2), 0);

    uint8_t kids[4][CRYPTO_HASH_LEN];
    size_t n = 99;
    assert_int_equal(store_children(f->s, P, kids, 4, &n), 0);
    assert_int_equal(n, 2); /* C1 (twice, once listed) and C2 */
    int c1 = memcmp(kids[0], g[2].it.child_hash, 32) == 0 ||
             memcmp(kids[1], g[2].it.child_hash, 32) == 0;
    int c2 = memcmp(kids[0], g[3].it.child_hash, 32) == 0 ||
             memcmp(kids[1], g[3].it.child_hash, 32) == 0;
    assert_true(c1 && c2);
    assert_int_equal(store_children(f->s, Q, kids, 1, &n), 0);
    assert_int_equal(n, 2); /* C2, C3; only one copied */
    assert_int_equal(store_children(f->s, g[5].it.child_hash, NULL, 0, &n), 0);
    assert_int_equal(n, 0);

    uint64_t seqs[4];
    assert_int_equal(store_child_records(f->s, g[2].it.child_hash, seqs, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(seqs[0], 3);
    assert_int_equal(seqs[1], 5);
    lineage_rec_t r;
    assert_int_equal(store_find_child(f->s, g[2].it.child_hash, &r), 0);
    assert_int_equal(r.seq, 3);
    assert_int_equal(r.nparents, 1);
    assert_memory_equal(r.parents[0], P, 32);
    assert_int_equal(store_find_child(f->s, g[3].it.child_hash, &r), 0);
    assert_int_equal(r.seq, 4);
    assert_int_equal(r.nparents, 2);
    assert_string_equal(r.op, "crossover");
    uint8_t none[CRYPTO_HASH_LEN] = {9};
    assert_int_equal(store_find_child(f->s, none, &r), ERR_NOTFOUND);

    char *src = NULL;
    size_t len = 0;
    assert_int_equal(store_get_genome(f->s, g[3].it.child_hash, &src, &len), 0);
    assert_int_equal(len, strlen(g[3].src));
    assert_string_equal(src, g[3].src);
    free(src);

    /* a migrated copy references a stored genome without resending it */
    struct gen m;
    mk_item(&m, "quad", 2, 1, 100, P, NULL);
    m.it.src = NULL;
    m.it.src_len = 0;
    m.it.op = "migrate";
    assert_int_equal(store_append(f->s, &m.it, 1, 3), 0);
    assert_int_equal(m.it.seq, 7);
    struct reports rep;
    assert_int_equal(verify(f->s, &rep, NULL), 0);
}

static void test_invalid_items(void **state)
{
    struct fx *f = *state;
    append_n(f->s, 1, 2);
    uint8_t h[CRYPTO_HASH_LEN], h2[CRYPTO_HASH_LEN];
    store_head(f->s, NULL, h);
    struct gen g[2];
    store_item_t items[2];
    mk_item(&g[0], "quad", 0, 50, 50, NULL, NULL);
    mk_item(&g[1], "quad", 0, 51, 51, NULL, NULL);

    items[0] = g[0].it;
    items[1] = g[1].it;
    items[1].op = "teleport";
    assert_int_equal(store_append(f->s, items, 2, 1), ERR_INVAL);
    assert_int_equal(items[0].err, 0);
    assert_int_equal(items[1].err, ERR_INVAL);

    items[1] = g[1].it;
    items[1].child_hash[0] ^= 1; /* not the hash of its source */
    assert_int_equal(store_append(f->s, items, 2, 1), ERR_INVAL);
    assert_int_equal(items[1].err, ERR_INVAL);

    items[1] = g[1].it;
    items[1].population = "";
    assert_int_equal(store_append(f->s, items, 2, 1), ERR_INVAL);
    items[1] = g[1].it;
    items[1].nparents = 3;
    assert_int_equal(store_append(f->s, items, 2, 1), ERR_INVAL);

    /* a missing genome fails the whole batch after [0] was written in the txn */
    items[1] = g[1].it;
    items[1].src = NULL;
    items[1].src_len = 0;
    assert_int_equal(store_append(f->s, items, 2, 1), ERR_NOTFOUND);
    assert_int_equal(items[1].err, ERR_NOTFOUND);

    uint64_t seq;
    store_head(f->s, &seq, h2);
    assert_int_equal(seq, 2);
    assert_memory_equal(h, h2, sizeof h);
    assert_int_equal(store_has_key(f->s, "quad", 0, 50, NULL), ERR_NOTFOUND);
    char *src = NULL;
    assert_int_equal(store_get_genome(f->s, g[0].it.child_hash, &src, NULL), ERR_NOTFOUND);
    struct reports rep;
    assert_int_equal(verify(f->s, &rep, NULL), 0);
    /* the batch still goes in once fixed */
    items[1] = g[1].it;
    assert_int_equal(store_append(f->s, items, 2, 1), 0);
    assert_int_equal(items[1].seq, 4);
}

static void test_signer(void **state)
{
    struct fx *f = *state;
    append_n(f->s, 1, 3);
    store_close(&f->s);
    node_identity_t other;
    crypto_sign_ed25519_keypair(other.pk, other.sk);
    char err[256] = "";
    assert_null(store_open(f->dir, 0, &other, err, sizeof err));
    assert_non_null(strstr(err, "another coordinator key"));
    /* read-only: verify works, append refuses */
    f->s = store_open(f->dir, 0, NULL, err, sizeof err);
    assert_non_null(f->s);
    struct reports rep;
    assert_int_equal(verify(f->s, &rep, NULL), 0);
    struct gen g;
    mk_item(&g, "quad", 0, 9, 9, NULL, NULL);
    assert_int_equal(store_append(f->s, &g.it, 1, 1), ERR_STATE);
    reopen(f);
}

struct iter_seen {
    int n;
    char keys[8][32];
};

static int iter_cb(void *arg, const char *key, const void *val, size_t len)
{
    struct iter_seen *s = arg;
    if (s->n < 8)
        snprintf(s->keys[s->n], sizeof s->keys[0], "%s=%.*s", key, (int)len, (const char *)val);
    s->n++;
    return 0;
}

static int iter_stop(void *arg, const char *key, const void *val, size_t len)
{
    (*(int *)arg)++;
    return 7;
}

static void test_meta(void **state)
{
    struct fx *f = *state;
    assert_int_equal(store_meta_put(f->s, "pop/quad/state", "running", 7), 0);
    assert_int_equal(store_meta_put(f->s, "pop/quad/gen", "12", 2), 0);
    assert_int_equal(store_meta_put(f->s, "pop/cubic/state", "done", 4), 0);
    assert_int_equal(store_meta_put(f->s, "popx", "1", 1), 0);
    assert_int_equal(store_meta_put(f->s, "pop/quad/gen", "13", 2), 0); /* overwrite */
    assert_int_equal(store_meta_put(f->s, "head", "x", 1), ERR_INVAL);
    assert_int_equal(store_meta_put(f->s, "coord_pk", "x", 1), ERR_INVAL);
    assert_int_equal(store_meta_put(f->s, "", "x", 1), ERR_INVAL);
    assert_int_equal(store_meta_del(f->s, "format"), ERR_INVAL);

    void *v = NULL;
    size_t len = 0;
    assert_int_equal(store_meta_get(f->s, "pop/quad/gen", &v, &len), 0);
    assert_int_equal(len, 2);
    assert_string_equal(v, "13");
    free(v);
    assert_int_equal(store_meta_get(f->s, "coord_pk", &v, &len), 0);
    assert_int_equal(len, CRYPTO_PK_LEN);
    assert_memory_equal(v, coord.pk, CRYPTO_PK_LEN);
    free(v);
    assert_int_equal(store_meta_get(f->s, "nope", &v, &len), ERR_NOTFOUND);
    assert_null(v);

    struct iter_seen seen = {0};
    assert_int_equal(store_meta_iter(f->s, "pop/", iter_cb, &seen), 0);
    assert_int_equal(seen.n, 3);
    assert_string_equal(seen.keys[0], "pop/cubic/state=done");
    assert_string_equal(seen.keys[1], "pop/quad/gen=13");
    assert_string_equal(seen.keys[2], "pop/quad/state=running");
    memset(&seen, 0, sizeof seen);
    assert_int_equal(store_meta_iter(f->s, "", iter_cb, &seen), 0);
    assert_int_equal(seen.n, 4); /* reserved keys hidden */
    int calls = 0;
    assert_int_equal(store_meta_iter(f->s, "pop", iter_stop, &calls), 7);
    assert_int_equal(calls, 1);

    assert_int_equal(store_meta_del(f->s, "pop/quad/state"), 0);
    assert_int_equal(store_meta_del(f->s, "pop/quad/state"), ERR_NOTFOUND);
    reopen(f);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(store_meta_iter(f->s, "pop/quad/", iter_cb, &seen), 0);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.keys[0], "pop/quad/gen=13");
}

static void test_map_growth(void **state)
{
    struct fx *f = *state;
    store_close(&f->s);
    char err[256];
    f->s = store_open(f->dir, 64 * 1024, &coord, err, sizeof err);
    assert_non_null(f->s);
    for (int b = 0; b < 20; b++)
        append_n(f->s, 1 + (uint64_t)b * 100, 100);
    store_stats_t st;
    assert_int_equal(store_stats(f->s, &st), 0);
    assert_int_equal(st.records, 2000);
    assert_true(st.map_grows > 0);
    assert_true(st.map_bytes > 64 * 1024);
    struct reports rep;
    assert_int_equal(verify(f->s, &rep, NULL), 0);
}

static int stop_at_first_progress(void *arg, uint64_t checked, uint64_t total)
{
    uint64_t *seen = arg;
    seen[0] = checked;
    seen[1] = total;
    return 1;
}

static int count_progress(void *arg, uint64_t checked, uint64_t total)
{
    (void)total;
    uint64_t *seen = arg;
    seen[0] = checked;
    seen[2]++;
    return 0;
}

/* The progress callback sees the walk and can stop it (what a shutdown does
 * to a verification running on its own thread). */
static void test_verify_progress_and_cancel(void **state)
{
    struct fx *f = *state;
    for (int b = 0; b < 5; b++)
        append_n(f->s, 1 + (uint64_t)b * 1000, 1000);
    uint64_t seen[3] = {0, 0, 0}, checked = 99;
    assert_int_equal(store_verify(f->s, NULL, count_progress, seen, &checked), 0);
    assert_int_equal(checked, 5000);
    assert_int_equal(seen[0], 5000); /* the final call */
    assert_true(seen[2] >= 2);       /* every few thousand records, and at the end */
    memset(seen, 0, sizeof seen);
    assert_int_equal(store_verify(f->s, NULL, stop_at_first_progress, seen, &checked), -ECANCELED);
    assert_true(seen[0] > 0 && seen[0] < 5000);
    assert_int_equal(seen[1], 5000);
    /* the store is fine afterwards */
    struct reports rep;
    assert_int_equal(verify(f->s, &rep, &checked), 0);
    assert_int_equal(checked, 5000);
}

/* Batches in flight: keys and genomes of the unfinished batch are seen. */
static void test_pipeline(void **state)
{
    struct fx *f = *state;
    struct gen g[9];
    store_item_t items[9];
    for (int i = 0; i < 9; i++) {
        mk_item(&g[i], "pipe", 0, (uint64_t)(i % 6), i, NULL, NULL);
        items[i] = g[i].it;
    }
    /* batch 2 repeats dseq 0 (batch 1) and 3 references batch 1's genome */
    items[6] = g[0].it;
    items[7] = g[3].it;
    items[7].dseq = 40;
    items[7].src = NULL;
    items[7].src_len = 0;
    items[7].op = "copy";
    sign_item(&items[7]);
    uint64_t t1, t2, t3;
    assert_int_equal(store_submit(f->s, items, 3, 1, &t1), 0);
    assert_int_equal(store_submit(f->s, items + 3, 3, 2, &t2), 0);
    assert_int_equal(store_submit(f->s, items + 6, 3, 3, &t3), 0);
    assert_true(t1 < t2 && t2 < t3);
    assert_int_equal(store_wait(f->s, t3), 0);
    assert_int_equal(store_wait(f->s, t1), 0);
    assert_int_equal(store_wait(f->s, t2), 0);
    assert_int_equal(store_wait(f->s, 0), 0);
    assert_int_equal(store_wait(f->s, t3 + 5), ERR_INVAL);
    assert_int_equal(items[6].dup, 1);
    assert_int_equal(items[6].seq, 1);
    assert_int_equal(items[7].dup, 0);
    assert_int_equal(items[7].seq, 7);
    assert_int_equal(items[8].dup, 1); /* dseq 2 of batch 1 */
    assert_int_equal(items[8].seq, 3);
    uint64_t seq;
    uint8_t h[CRYPTO_HASH_LEN];
    store_head(f->s, &seq, h);
    assert_int_equal(seq, 7);
    assert_memory_equal(h, items[7].hash, sizeof h);
    struct reports rep;
    assert_int_equal(verify(f->s, &rep, NULL), 0);
}

/* Rewrites meta "head" from another process, as a second writer would. */
static void foreign_head(const char *dir, uint64_t seq, const uint8_t *hash)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct raw r;
        MDB_dbi dbi = raw_open(&r, dir, "meta");
        uint8_t head[40] = {0};
        be64(head, seq);
        if (hash)
            memcpy(head + 8, hash, 32);
        MDB_val k = {4, "head"}, v = {40, head};
        if (mdb_put(r.txn, dbi, &k, &v, 0) != 0)
            _exit(2);
        raw_close(&r);
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* A failed commit fails every batch chained on it; the head stays durable. */
static void test_pipeline_failure(void **state)
{
    struct fx *f = *state;
    append_n(f->s, 1, 3);
    uint64_t seq;
    uint8_t h[CRYPTO_HASH_LEN];
    store_head(f->s, &seq, h);
    foreign_head(f->dir, 999, NULL);
    struct gen g[4];
    store_item_t items[4];
    for (int i = 0; i < 4; i++) {
        mk_item(&g[i], "quad", 0, (uint64_t)(10 + i), 10 + i, NULL, NULL);
        items[i] = g[i].it;
    }
    uint64_t t1, t2;
    assert_int_equal(store_submit(f->s, items, 2, 1, &t1), 0);
    int rc2 = store_submit(f->s, items + 2, 2, 1, &t2);
    assert_int_equal(store_wait(f->s, t1), ERR_STATE);
    if (rc2 == 0)
        assert_int_equal(store_wait(f->s, t2), ERR_STATE);
    else
        assert_int_equal(rc2, ERR_STATE);
    uint64_t seq2;
    store_head(f->s, &seq2, NULL);
    assert_int_equal(seq2, 3);
    assert_int_equal(store_has_key(f->s, "quad", 0, 10, NULL), ERR_NOTFOUND);

    foreign_head(f->dir, seq, h); /* the other writer is gone */
    assert_int_equal(store_append(f->s, items, 4, 2), 0);
    assert_int_equal(items[0].seq, 4);
    assert_int_equal(items[3].seq, 7);
    struct reports rep;
    assert_int_equal(verify(f->s, &rep, NULL), 0);
}

/* ---- tampering ---- */

/* Builds a store of n records, closes it. */
static void build(struct fx *f, int n)
{
    append_n(f->s, 1, (size_t)n);
    store_close(&f->s);
}

static int verify_reopened(struct fx *f, struct reports *rep)
{
    char err[256];
    f->s = store_open(f->dir, 0, NULL, err, sizeof err);
    assert_non_null(f->s);
    int rc = verify(f->s, rep, NULL);
    store_close(&f->s);
    return rc;
}

static void test_tamper_every_record_byte(void **state)
{
    struct fx *f = *state;
    build(f, 6);
    uint8_t key[8];
    be64(key, 4);
    size_t vlen = 0;
    raw_flip(f->dir, "log", key, 8, SIZE_MAX, 0, &vlen); /* just reads the length */
    assert_true(vlen > 200);
    for (size_t off = 0; off < vlen; off++) {
        uint8_t mask = (uint8_t)(1u << (off % 8));
        raw_flip(f->dir, "log", key, 8, off, mask, NULL);
        struct reports rep;
        int rc = verify_reopened(f, &rep);
        if (rc == 0 || !named(&rep, 4, NULL))
            fail_msg("flipped byte %zu of record 4 not named (rc %d, %d reports)", off, rc, rep.n);
        raw_flip(f->dir, "log", key, 8, off, mask, NULL); /* restore */
    }
    struct reports rep;
    assert_int_equal(verify_reopened(f, &rep), 0);
    reopen(f);
}

static void test_tamper_genome(void **state)
{
    struct fx *f = *state;
    struct gen g[3];
    store_item_t items[3];
    mk_item(&g[0], "quad", 0, 1, 1, NULL, NULL);
    mk_item(&g[1], "quad", 0, 2, 2, NULL, NULL);
    mk_item(&g[2], "quad", 1, 7, 2, NULL, NULL); /* same genome as [1] */
    for (int i = 0; i < 3; i++)
        items[i] = g[i].it;
    assert_int_equal(store_append(f->s, items, 3, 1), 0);
    store_close(&f->s);
    size_t glen = strlen(g[1].src);
    for (size_t off = 0; off < glen; off++) {
        raw_flip(f->dir, "genomes", g[1].it.child_hash, 32, off, 0x20, NULL);
        struct reports rep;
        assert_int_equal(verify_reopened(f, &rep), ERR_CRYPTO);
        assert_true(named(&rep, 2, "genome"));
        assert_true(named(&rep, 3, "genome"));
        assert_false(named(&rep, 1, NULL));
        raw_flip(f->dir, "genomes", g[1].it.child_hash, 32, off, 0x20, NULL);
    }
    /* a deleted genome */
    struct raw r;
    MDB_dbi dbi = raw_open(&r, f->dir, "genomes");
    MDB_val k = {32, g[0].it.child_hash};
    assert_int_equal(mdb_del(r.txn, dbi, &k, NULL), 0);
    raw_close(&r);
    struct reports rep;
    assert_int_equal(verify_reopened(f, &rep), ERR_NOTFOUND);
    assert_true(named(&rep, 1, "missing"));
    assert_int_equal(rep.n, 1);
    reopen(f);
}

/* Edits data.mdb itself: flips a byte of every copy of a genome's text. */
static void test_tamper_file_bytes(void **state)
{
    struct fx *f = *state;
    build(f, 12);
    char path[128];
    snprintf(path, sizeof path, "%s/lineage/data.mdb", f->dir);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    struct stat sb;
    assert_int_equal(fstat(fd, &sb), 0);
    uint8_t *m = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(m != MAP_FAILED);
    const char *needle = "f(X) -> X + 7.";
    int hits = 0;
    for (size_t i = 0; i + strlen(needle) <= (size_t)sb.st_size; i++)
        if (memcmp(m + i, needle, strlen(needle)) == 0) {
            m[i + 12] ^= 0x01; /* '7' -> '6' */
            hits++;
        }
    assert_true(hits >= 1);
    munmap(m, (size_t)sb.st_size);
    close(fd);
    struct reports rep;
    assert_int_equal(verify_reopened(f, &rep), ERR_CRYPTO);
    assert_true(named(&rep, 7, "genome"));
    reopen(f);
}

static void test_tamper_swap(void **state)
{
    struct fx *f = *state;
    build(f, 8);
    struct raw r;
    MDB_dbi dbi = raw_open(&r, f->dir, "log");
    uint8_t k4[8], k5[8];
    be64(k4, 4);
    be64(k5, 5);
    MDB_val a = {8, k4}, b = {8, k5}, va, vb;
    assert_int_equal(mdb_get(r.txn, dbi, &a, &va), 0);
    assert_int_equal(mdb_get(r.txn, dbi, &b, &vb), 0);
    uint8_t *ca = malloc(va.mv_size), *cb = malloc(vb.mv_size);
    memcpy(ca, va.mv_data, va.mv_size);
    memcpy(cb, vb.mv_data, vb.mv_size);
    MDB_val na = {vb.mv_size, cb}, nb = {va.mv_size, ca};
    assert_int_equal(mdb_put(r.txn, dbi, &a, &na, 0), 0);
    assert_int_equal(mdb_put(r.txn, dbi, &b, &nb, 0), 0);
    raw_close(&r);
    free(ca);
    free(cb);
    struct reports rep;
    assert_int_equal(verify_reopened(f, &rep), ERR_PROTO);
    assert_true(named(&rep, 4, "seq field"));
    assert_true(named(&rep, 5, "seq field"));
    assert_false(named(&rep, 3, NULL));
    assert_false(named(&rep, 7, NULL));
    reopen(f);
}

static void test_tamper_delete(void **state)
{
    struct fx *f = *state;
    build(f, 8);
    struct raw r;
    MDB_dbi dbi = raw_open(&r, f->dir, "log");
    uint8_t k[8];
    be64(k, 5);
    MDB_val kv = {8, k};
    assert_int_equal(mdb_del(r.txn, dbi, &kv, NULL), 0);
    raw_close(&r);
    struct reports rep;
    assert_int_equal(verify_reopened(f, &rep), ERR_PROTO);
    assert_true(named(&rep, 5, "missing"));
    assert_true(named(&rep, 6, "prev_hash"));

    /* and the last record: the head no longer matches */
    dbi = raw_open(&r, f->dir, "log");
    be64(k, 8);
    assert_int_equal(mdb_del(r.txn, dbi, &kv, NULL), 0);
    raw_close(&r);
    assert_int_equal(verify_reopened(f, &rep), ERR_PROTO);
    assert_true(named(&rep, 8, "head"));
    reopen(f);
}

static void test_tamper_index(void **state)
{
    struct fx *f = *state;
    build(f, 5);
    struct raw r;
    MDB_dbi dbi = raw_open(&r, f->dir, "by_key");
    MDB_cursor *c;
    assert_int_equal(mdb_cursor_open(r.txn, dbi, &c), 0);
    MDB_val k, v;
    assert_int_equal(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
    uint64_t victim = 0;
    for (int i = 0; i < 8; i++)
        victim = (victim << 8) | ((uint8_t *)v.mv_data)[i];
    assert_int_equal(mdb_cursor_del(c, 0), 0);
    mdb_cursor_close(c);
    raw_close(&r);
    struct reports rep;
    assert_int_equal(verify_reopened(f, &rep), ERR_NOTFOUND);
    assert_true(named(&rep, victim, "by_key"));
    reopen(f);
}

static void test_bad_agent_sig(void **state)
{
    struct fx *f = *state;
    struct gen g[3];
    store_item_t items[3];
    for (int i = 0; i < 3; i++) {
        mk_item(&g[i], "quad", 0, (uint64_t)i, i, NULL, NULL);
        items[i] = g[i].it;
    }
    items[1].agent_sig[10] ^= 0x04;
    assert_int_equal(store_append(f->s, items, 3, 1), 0); /* the caller's job to check */
    struct reports rep;
    assert_int_equal(verify(f->s, &rep, NULL), ERR_CRYPTO);
    assert_int_equal(rep.n, 1);
    assert_true(named(&rep, 2, "agent signature"));
}

/* ---- record codec ---- */

static void sample_rec(lineage_rec_t *r)
{
    memset(r, 0, sizeof *r);
    r->seq = 9;
    memset(r->prev_hash, 0xab, 32);
    strcpy(r->population, "quad");
    r->deme = 3;
    r->dseq = 77;
    memset(r->child_hash, 0xcd, 32);
    r->nparents = 2;
    memset(r->parents[0], 1, 32);
    memset(r->parents[1], 2, 32);
    strcpy(r->op, "crossover");
    r->seed = 12345;
    r->status = WIRE_ST_OK;
    r->fitness = 0.125;
    r->time_ms = 1700000000000ULL;
    memset(r->coord_sig, 0xee, 64);
    r->version = 1;
}

static void test_codec(void **state)
{
    lineage_rec_t r, d;
    sample_rec(&r);
    wire_buf_t b;
    wire_buf_init(&b);
    assert_int_equal(store_rec_encode(&b, &r), 0);
    assert_int_equal(b.len,
                     8 + 32 + 8 + 4 + 8 + 32 + 4 + 64 + 13 + 8 + 1 + 8 + 16 + 32 + 64 + 8 + 64);
    assert_int_equal(store_rec_decode(b.data, b.len, &d), 0);
    assert_memory_equal(&r, &d, sizeof r);
    for (size_t n = 0; n < b.len; n++)
        assert_int_not_equal(store_rec_decode(b.data, n, &d), 0);
    uint8_t *longer = malloc(b.len + 1);
    memcpy(longer, b.data, b.len);
    longer[b.len] = 0;
    assert_int_equal(store_rec_decode(longer, b.len + 1, &d), ERR_PROTO);
    free(longer);

    /* NaN: canonical on encode, other NaNs rejected on decode */
    r.fitness = -NAN;
    wire_buf_reset(&b);
    assert_int_equal(store_rec_encode(&b, &r), 0);
    assert_int_equal(store_rec_decode(b.data, b.len, &d), 0);
    assert_true(isnan(d.fitness));
    size_t foff = 8 + 32 + 8 + 4 + 8 + 32 + 4 + 64 + 13 + 8 + 1;
    assert_memory_equal(b.data + foff, "\x7f\xf8\0\0\0\0\0\0", 8);
    b.data[foff + 7] = 1;
    assert_int_equal(store_rec_decode(b.data, b.len, &d), ERR_PROTO);

    /* three parents, empty op */
    r.fitness = 1.0;
    r.nparents = 3;
    wire_buf_reset(&b);
    assert_int_equal(store_rec_encode(&b, &r), ERR_INVAL);
    r.nparents = 2;
    r.op[0] = '\0';
    assert_int_equal(store_rec_encode(&b, &r), ERR_INVAL);
    assert_int_equal(b.len, 0);
    wire_buf_free(&b);
    assert_true(store_op_valid("shrink"));
    assert_true(store_op_valid("clause_xover"));
    assert_true(store_op_valid("recurse"));
    assert_true(store_op_valid("wrap"));
    assert_false(store_op_valid("recursion"));
    assert_false(store_op_valid("shrinks"));
    assert_false(store_op_valid(NULL));
}

/* Version 2: a marked record with the per-case summary after time_ms;
 * both versions decode, and no prefix of one is a record of the other. */
/* Version 4: version 2's bytes with the marker's version 4, then the
 * breeder before coord_sig; after the origin block for op "external". */
static void test_codec_v4(void **state)
{
    (void)state;
    lineage_rec_t r, d;
    sample_rec(&r);
    r.version = 2;
    r.passed = 3;
    r.cases = 4;
    memset(r.errors_hash, 0x5a, 32);
    wire_buf_t b2, b;
    wire_buf_init(&b2);
    wire_buf_init(&b);
    assert_int_equal(store_rec_encode(&b2, &r), 0);
    r.version = 4;
    for (int i = 0; i < WIRE_BREEDER_LEN; i++)
        r.breeder[i] = (uint8_t)(0x40 + i);
    assert_int_equal(store_rec_encode(&b, &r), 0);
    assert_int_equal(b.len, b2.len + WIRE_BREEDER_LEN);
    assert_int_equal(b.data[1], 4);
    assert_memory_equal(b.data + 2, b2.data + 2, b2.len - 2 - 64);
    assert_memory_equal(b.data + b.len - 64 - WIRE_BREEDER_LEN, r.breeder, WIRE_BREEDER_LEN);
    assert_int_equal(store_rec_decode(b.data, b.len, &d), 0);
    assert_memory_equal(&r, &d, sizeof r);
    assert_true(store_rec_breeder(&d));
    assert_true(store_rec_has_summary(&d));
    for (size_t n = 0; n < b.len; n++)
        assert_int_not_equal(store_rec_decode(b.data, n, &d), 0);
    b.data[1] = 2; /* read as version 2: 16 bytes too many */
    assert_int_equal(store_rec_decode(b.data, b.len, &d), ERR_PROTO);
    /* the signed message names version 4's domain */
    wire_buf_reset(&b);
    assert_int_equal(store_rec_sign_msg(&b, &r), 0);
    assert_memory_equal(b.data + 4, STORE_SIG_DOMAIN_V4, strlen(STORE_SIG_DOMAIN_V4));
    /* an external mutator's child: origin, then breeder (zeros: no VM bred it) */
    strcpy(r.op, "external");
    strcpy(r.mutator, "llm-1");
    memset(r.input_hash, 0x77, 32);
    memset(r.breeder, 0, WIRE_BREEDER_LEN);
    wire_buf_reset(&b);
    assert_int_equal(store_rec_encode(&b, &r), 0);
    assert_memory_equal(b.data + b.len - 64 - WIRE_BREEDER_LEN - 32, r.input_hash, 32);
    assert_int_equal(store_rec_decode(b.data, b.len, &d), 0);
    assert_memory_equal(&r, &d, sizeof r);
    assert_false(store_rec_breeder(&d));
    wire_buf_free(&b);
    wire_buf_free(&b2);
}

static void test_codec_v2(void **state)
{
    lineage_rec_t r, d;
    sample_rec(&r);
    wire_buf_t b;
    wire_buf_init(&b);
    assert_int_equal(store_rec_encode(&b, &r), 0);
    size_t v1len = b.len;
    r.version = 2;
    r.passed = 3;
    r.cases = 4;
    r.cost = 77.5;
    r.reused = 1;
    memset(r.errors_hash, 0x5a, 32);
    wire_buf_reset(&b);
    assert_int_equal(store_rec_encode(&b, &r), 0);
    assert_int_equal(b.len, 2 + v1len + 4 + 4 + 8 + 1 + 32);
    assert_memory_equal(b.data, "\xff\x02\0\0\0\0\0\0\0\x09", 10);
    size_t x = 2 + v1len - 64; /* the summary sits where v1's coord_sig starts */
    assert_memory_equal(b.data + x, "\0\0\0\x03\0\0\0\x04\x40\x53\x60\0\0\0\0\0\x01", 17);
    assert_memory_equal(b.data + x + 17, r.errors_hash, 32);
    assert_int_equal(store_rec_decode(b.data, b.len, &d), 0);
    assert_memory_equal(&r, &d, sizeof r);
    for (size_t n = 0; n < b.len; n++)
        assert_int_not_equal(store_rec_decode(b.data, n, &d), 0);
    assert_int_not_equal(store_rec_decode(b.data + 2, b.len - 2, &d), 0); /* unmarked */
    /* version 0 encodes as 2 */
    r.version = 0;
    wire_buf_t b0;
    wire_buf_init(&b0);
    assert_int_equal(store_rec_encode(&b0, &r), 0);
    assert_int_equal(b0.len, b.len);
    assert_memory_equal(b0.data, b.data, b.len);
    wire_buf_free(&b0);
    /* the version byte must say 2 */
    b.data[1] = 1;
    assert_int_equal(store_rec_decode(b.data, b.len, &d), ERR_PROTO);
    b.data[1] = 3; /* a version 2 record read as a live one: its live block is missing */
    assert_int_not_equal(store_rec_decode(b.data, b.len, &d), 0);
    b.data[1] = 4; /* read as version 4: its breeder is missing */
    assert_int_not_equal(store_rec_decode(b.data, b.len, &d), 0);
    b.data[1] = 5;
    assert_int_equal(store_rec_decode(b.data, b.len, &d), ERR_PROTO);
    b.data[1] = 2;
    b.data[x + 16] = 2; /* reused */
    assert_int_equal(store_rec_decode(b.data, b.len, &d), ERR_PROTO);
    b.data[x + 16] = 1;
    assert_int_equal(store_rec_decode(b.data, b.len, &d), 0);
    memcpy(b.data + x + 8, "\x7f\xf8\0\0\0\0\0\x01", 8); /* a non-canonical NaN cost */
    assert_int_equal(store_rec_decode(b.data, b.len, &d), ERR_PROTO);
    r.cost = NAN;
    r.version = 2;
    wire_buf_reset(&b);
    assert_int_equal(store_rec_encode(&b, &r), 0);
    assert_int_equal(store_rec_decode(b.data, b.len, &d), 0);
    assert_true(isnan(d.cost));
    /* bad fields on encode */
    r.version = 5;
    wire_buf_reset(&b);
    assert_int_equal(store_rec_encode(&b, &r), ERR_INVAL);
    r.version = 3;
    r.live.kind = WIRE_LIVE_UPGRADE; /* not a kind the lineage records */
    assert_int_equal(store_rec_encode(&b, &r), ERR_INVAL);
    memset(&r.live, 0, sizeof r.live);
    r.version = 2;
    r.reused = 2;
    assert_int_equal(store_rec_encode(&b, &r), ERR_INVAL);
    r.reused = 0;
    r.seq = 1ULL << 56;
    assert_int_equal(store_rec_encode(&b, &r), ERR_INVAL);
    assert_int_equal(b.len, 0);
    /* a version 1 record's first byte is seq's top byte: 0 */
    sample_rec(&r);
    assert_int_equal(store_rec_encode(&b, &r), 0);
    b.data[0] = 1;
    assert_int_equal(store_rec_decode(b.data, b.len, &d), ERR_PROTO);
    wire_buf_free(&b);
}

/* A store holding version 1 records (as older builds wrote them) followed
 * by version 2 ones verifies; both read back with their fields; each
 * version's signatures cover every byte. */
/* As mk_item, a version 4 record: bred by the breeder b (the agent signs
 * it with attest version 3). */
static void mk_item_v4(struct gen *g, const char *pop, uint32_t deme, uint64_t dseq, int v,
                       const uint8_t *p1, uint8_t b)
{
    mk_item(g, pop, deme, dseq, v, p1, NULL);
    g->it.version = 4;
    memset(g->it.breeder, b, WIRE_BREEDER_LEN);
    sign_item(&g->it);
}

static void test_versions_mixed(void **state)
{
    struct fx *f = *state;
    struct gen g[9];
    store_item_t items[9];
    for (int i = 0; i < 9; i++) {
        if (i < 3)
            mk_item_v1(&g[i], "quad", 0, (uint64_t)i, i);
        else if (i < 6)
            mk_item(&g[i], "quad", 0, (uint64_t)i, i, g[i - 3].it.child_hash, NULL);
        else
            mk_item_v4(&g[i], "quad", 0, (uint64_t)i, i, g[i - 3].it.child_hash, 0xb0);
        items[i] = g[i].it;
    }
    assert_int_equal(store_append(f->s, items, 3, 5), 0);
    assert_int_equal(store_append(f->s, items + 3, 3, 6), 0);
    assert_int_equal(store_append(f->s, items + 6, 3, 7), 0);
    struct reports rep;
    assert_int_equal(verify(f->s, &rep, NULL), 0);
    lineage_rec_t r;
    assert_int_equal(store_get(f->s, 2, &r), 0);
    assert_int_equal(r.version, 1);
    assert_int_equal(r.cases, 0);
    assert_int_equal(store_get(f->s, 4, &r), 0); /* v = 3 */
    assert_int_equal(r.version, 2);
    assert_int_equal(r.passed, 1);
    assert_int_equal(r.cases, 3);
    assert_true(r.cost == 30.0);
    assert_int_equal(r.reused, 1);
    assert_memory_equal(r.errors_hash, items[3].errors_hash, CRYPTO_HASH_LEN);
    assert_false(store_rec_breeder(&r));
    assert_int_equal(store_get(f->s, 8, &r), 0); /* v = 7 */
    assert_int_equal(r.version, 4);
    assert_int_equal(r.passed, 1);
    assert_int_equal(r.cases, 3);
    assert_true(store_rec_has_summary(&r));
    assert_true(store_rec_breeder(&r));
    assert_memory_equal(r.breeder, items[7].breeder, WIRE_BREEDER_LEN);
    assert_int_equal(store_get(f->s, 3, &r), 0);
    uint8_t prev3[CRYPTO_HASH_LEN];
    memcpy(prev3, r.prev_hash, sizeof prev3); /* chained across versions */
    store_close(&f->s);
    /* every byte of a v1 record (2), a v2 record (5) and a v4 record (8)
     * is covered */
    uint64_t victims[3] = {2, 5, 8};
    for (int k = 0; k < 3; k++) {
        uint8_t key[8];
        be64(key, victims[k]);
        size_t vlen = 0;
        raw_flip(f->dir, "log", key, 8, SIZE_MAX, 0, &vlen);
        for (size_t off = 0; off < vlen; off++) {
            raw_flip(f->dir, "log", key, 8, off, 0x01, NULL);
            int rc = verify_reopened(f, &rep);
            if (rc == 0 || !named(&rep, victims[k], NULL))
                fail_msg("flipped byte %zu of record %llu not named", off,
                         (unsigned long long)victims[k]);
            raw_flip(f->dir, "log", key, 8, off, 0x01, NULL);
        }
    }
    assert_int_equal(verify_reopened(f, &rep), 0);
    reopen(f);
}

/* A v2 item whose summary differs from what the agent signed is recorded
 * (the caller checks signatures) but fails verification. */
static void test_v2_agent_sig_covers_summary(void **state)
{
    struct fx *f = *state;
    struct gen g[2];
    store_item_t items[2];
    for (int i = 0; i < 2; i++) {
        mk_item(&g[i], "quad", 0, (uint64_t)i, i + 1, NULL, NULL);
        items[i] = g[i].it;
    }
    items[0].passed = 3; /* claims more passes than signed */
    items[1].errors_hash[0] ^= 1;
    assert_int_equal(store_append(f->s, items, 2, 1), 0);
    struct reports rep;
    assert_int_equal(verify(f->s, &rep, NULL), ERR_CRYPTO);
    assert_int_equal(rep.n, 2);
    assert_true(named(&rep, 1, "agent signature"));
    assert_true(named(&rep, 2, "agent signature"));
}

/* A v4 item whose breeder is not the one the agent signed is recorded
 * (the caller checks signatures) but fails verification: an agent's
 * signature vouches for the breeder, and nobody else can change it. */
static void test_v4_agent_sig_covers_breeder(void **state)
{
    struct fx *f = *state;
    struct gen g[3];
    store_item_t items[3];
    for (int i = 0; i < 3; i++) {
        mk_item_v4(&g[i], "quad", 0, (uint64_t)i, i + 1, NULL, (uint8_t)(0x10 + i));
        items[i] = g[i].it;
    }
    items[1].breeder[15] ^= 1;
    items[2].version = 2; /* signed with its breeder, recorded without */
    assert_int_equal(store_append(f->s, items, 3, 1), 0);
    struct reports rep;
    assert_int_equal(verify(f->s, &rep, NULL), ERR_CRYPTO);
    assert_int_equal(rep.n, 2);
    assert_true(named(&rep, 2, "agent signature"));
    assert_true(named(&rep, 3, "agent signature"));
    lineage_rec_t r;
    assert_int_equal(store_get(f->s, 1, &r), 0);
    assert_int_equal(store_rec_check_agent_sig(&r), 0);
    /* a zero breeder (no VM bred it) is a breeder like any other to sign */
    memset(r.breeder, 0, WIRE_BREEDER_LEN);
    assert_int_equal(store_rec_check_agent_sig(&r), ERR_CRYPTO);
    assert_false(store_rec_breeder(&r));
}

/* ---- killed in the middle of commits ---- */

#define KILL_BATCH 16
#define KILL_ROUNDS 6

/* The child: submits batches of KILL_BATCH fresh records from the head on,
 * each with meta "kill/batches" = the batch count it brings the store to,
 * pipelined, forever. Writes one byte to ready once a batch is durable. */
static void kill_child(const char *dir, int ready)
{
    char err[256];
    store_t *s = store_open(dir, 0, &coord, err, sizeof err);
    if (!s)
        _exit(3);
    uint64_t head;
    store_head(s, &head, NULL);
    int told = 0;
    for (uint64_t b = head / KILL_BATCH;; b++) {
        store_item_t items[KILL_BATCH];
        struct gen g[KILL_BATCH];
        for (int i = 0; i < KILL_BATCH; i++) {
            uint64_t d = b * KILL_BATCH + (uint64_t)i;
            mk_item(&g[i], "kill", 0, d, (int)d, NULL, NULL);
            items[i] = g[i].it;
        }
        char val[32];
        int n = snprintf(val, sizeof val, "%llu", (unsigned long long)(b + 1));
        store_kv_t kv = {.key = "kill/batches", .val = val, .len = (size_t)n};
        uint64_t t;
        if (store_submit_kv(s, items, KILL_BATCH, &kv, 1, 1, &t) != 0)
            _exit(4);
        if (!told && store_wait(s, t) == 0) {
            told = 1;
            if (write(ready, "r", 1) != 1)
                _exit(5);
        }
    }
}

/* SIGKILL while batches are being signed and committed (the committer
 * thread is nearly always inside a write transaction): the reopened store
 * verifies, holds whole batches only, and the meta written with a batch is
 * exactly the last durable batch's. */
static void test_killed_mid_commit(void **state)
{
    struct fx *f = *state;
    store_close(&f->s);
    uint64_t last = 0;
    for (int round = 0; round < KILL_ROUNDS; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            kill_child(f->dir, p[1]);
        }
        close(p[1]);
        char b;
        assert_int_equal(read(p[0], &b, 1), 1); /* at least one batch durable */
        close(p[0]);
        usleep((useconds_t)(round * 3000)); /* a different point in each round */
        assert_int_equal(kill(pid, SIGKILL), 0);
        int st = 0;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

        reopen(f);
        uint64_t seq;
        store_head(f->s, &seq, NULL);
        assert_true(seq > last); /* the durable batch the child announced */
        assert_int_equal(seq % KILL_BATCH, 0);
        void *val = NULL;
        size_t len = 0;
        assert_int_equal(store_meta_get(f->s, "kill/batches", &val, &len), 0);
        assert_int_equal(strtoull(val, NULL, 10), seq / KILL_BATCH);
        free(val);
        struct reports rep;
        uint64_t checked = 0;
        assert_int_equal(verify(f->s, &rep, &checked), 0);
        assert_int_equal(rep.n, 0);
        assert_int_equal(checked, seq);
        last = seq;
        store_close(&f->s);
    }
    reopen(f);
}

/* Meta writes ride in a batch: durable with it, never without it. */
static void test_submit_kv(void **state)
{
    struct fx *f = *state;
    struct gen g[2];
    store_item_t items[2];
    for (int i = 0; i < 2; i++) {
        mk_item(&g[i], "kv", 0, (uint64_t)i, i, NULL, NULL);
        items[i] = g[i].it;
    }
    store_kv_t bad = {.key = "head", .val = "x", .len = 1};
    uint64_t t = 7;
    assert_int_equal(store_submit_kv(f->s, items, 2, &bad, 1, 1, &t), ERR_INVAL);
    assert_int_equal(t, 0);
    bad.key = "";
    assert_int_equal(store_submit_kv(f->s, items, 2, &bad, 1, 1, &t), ERR_INVAL);
    uint64_t h0;
    store_head(f->s, &h0, NULL);
    assert_int_equal(h0, 0); /* nothing queued */

    store_kv_t kv[2] = {{.key = "pop/a", .val = "A1", .len = 2},
                        {.key = "pop/b", .val = "B", .len = 1}};
    assert_int_equal(store_submit_kv(f->s, items, 2, kv, 2, 1, &t), 0);
    assert_int_equal(store_wait(f->s, t), 0);
    assert_true(store_finished(f->s) >= t);
    void *v;
    size_t len;
    assert_int_equal(store_meta_get(f->s, "pop/a", &v, &len), 0);
    assert_int_equal(len, 2);
    assert_memory_equal(v, "A1", 2);
    free(v);
    /* the eventfd was signalled */
    int efd = store_event_fd(f->s);
    assert_true(efd >= 0);
    uint64_t n = 0;
    assert_int_equal(read(efd, &n, sizeof n), (ssize_t)sizeof n);
    assert_true(n >= 1);

    /* a meta-only batch commits in order */
    kv[0].val = "A2";
    assert_int_equal(store_submit_kv(f->s, NULL, 0, kv, 1, 1, &t), 0);
    assert_int_equal(store_wait(f->s, t), 0);
    assert_int_equal(store_meta_get(f->s, "pop/a", &v, &len), 0);
    assert_memory_equal(v, "A2", 2);
    free(v);

    /* a batch that fails (another writer moved the head) writes no meta */
    uint64_t seq;
    uint8_t h[CRYPTO_HASH_LEN];
    store_head(f->s, &seq, h);
    foreign_head(f->dir, seq + 5, h);
    for (int i = 0; i < 2; i++) {
        mk_item(&g[i], "kv", 0, (uint64_t)(10 + i), 10 + i, NULL, NULL);
        items[i] = g[i].it;
    }
    kv[0].val = "A3";
    assert_int_equal(store_submit_kv(f->s, items, 2, kv, 1, 1, &t), 0);
    assert_int_equal(store_wait(f->s, t), ERR_STATE);
    assert_int_equal(store_meta_get(f->s, "pop/a", &v, &len), 0);
    assert_memory_equal(v, "A2", 2);
    free(v);
}

/* ---- export ---- */

struct membuf {
    char *p;
    size_t len, cap;
};

static int mem_write(void *arg, const char *data, size_t len)
{
    struct membuf *m = arg;
    if (m->len + len + 1 > m->cap) {
        m->cap = (m->len + len + 1) * 2;
        m->p = realloc(m->p, m->cap);
        assert_non_null(m->p);
    }
    memcpy(m->p + m->len, data, len);
    m->len += len;
    m->p[m->len] = '\0';
    return 0;
}

static json_t *export_doc(store_t *s, uint64_t *damaged)
{
    struct membuf m = {0};
    uint64_t records;
    assert_int_equal(store_export(s, STORE_EXPORT_JSON, mem_write, &m, &records, damaged), 0);
    json_error_t je;
    json_t *doc = json_loads(m.p, 0, &je);
    assert_non_null(doc);
    free(m.p);
    return doc;
}

static int check_doc(json_t *doc, const char *pin, struct reports *rep)
{
    memset(rep, 0, sizeof *rep);
    uint64_t checked;
    char fp[STORE_FP_LEN + 1];
    return store_export_verify(doc, pin, on_err, rep, &checked, fp);
}

/* An export verifies offline; every kind of tampering with it fails. */
static void test_export_offline(void **state)
{
    struct fx *f = *state;
    append_n(f->s, 0, 6);
    uint64_t damaged = 9;
    json_t *doc = export_doc(f->s, &damaged);
    assert_int_equal(damaged, 0);
    char fp[STORE_FP_LEN + 1], other[STORE_FP_LEN + 1];
    store_fingerprint(coord.pk, fp);
    struct reports rep;
    assert_int_equal(check_doc(doc, NULL, &rep), 0);
    assert_int_equal(check_doc(doc, fp, &rep), 0);
    assert_int_equal(rep.n, 0);

    /* pinned to another key */
    store_fingerprint(agent.pk, other);
    assert_int_equal(check_doc(doc, other, &rep), ERR_CRYPTO);
    assert_true(named(&rep, 0, "pinned"));

    /* a readable field changed: the signed bytes say otherwise */
    json_t *d2 = json_deep_copy(doc);
    json_t *r3 = json_array_get(json_object_get(d2, "records"), 2);
    json_object_set_new(r3, "fitness", json_real(99.0));
    assert_int_equal(check_doc(d2, fp, &rep), ERR_PROTO);
    assert_true(named(&rep, 3, "fitness"));
    json_decref(d2);

    /* a byte of a record's raw encoding changed */
    d2 = json_deep_copy(doc);
    r3 = json_array_get(json_object_get(d2, "records"), 2);
    char *raw = strdup(json_string_value(json_object_get(r3, "raw")));
    raw[100] = raw[100] == '0' ? '1' : '0';
    json_object_set_new(r3, "raw", json_string(raw));
    free(raw);
    assert_int_not_equal(check_doc(d2, fp, &rep), 0);
    assert_true(named(&rep, 3, NULL));
    json_decref(d2);

    /* a record dropped from the middle */
    d2 = json_deep_copy(doc);
    json_array_remove(json_object_get(d2, "records"), 3);
    assert_int_not_equal(check_doc(d2, fp, &rep), 0);
    json_decref(d2);

    /* the tail dropped (end left as it was, or removed) */
    d2 = json_deep_copy(doc);
    json_array_remove(json_object_get(d2, "records"), 5);
    assert_int_equal(check_doc(d2, fp, &rep), ERR_PROTO);
    assert_true(named(&rep, 0, "end"));
    json_object_del(d2, "end");
    assert_int_equal(check_doc(d2, fp, &rep), ERR_PROTO);
    json_decref(d2);

    /* coord_pk swapped: every signature fails */
    d2 = json_deep_copy(doc);
    char pkhex[2 * CRYPTO_PK_LEN + 1];
    crypto_hex(agent.pk, CRYPTO_PK_LEN, pkhex);
    json_object_set_new(d2, "coord_pk", json_string(pkhex));
    assert_int_equal(check_doc(d2, NULL, &rep), ERR_CRYPTO);
    assert_true(named(&rep, 1, "coordinator signature"));
    json_decref(d2);
    json_decref(doc);
}

/* A damaged record is exported as an error entry naming its seq. */
static void test_export_damaged(void **state)
{
    struct fx *f = *state;
    append_n(f->s, 0, 4);
    store_close(&f->s);
    uint8_t k[8];
    be64(k, 2);
    size_t vlen;
    raw_flip(f->dir, "log", k, 8, 30, 0xff, &vlen); /* inside the population string */
    reopen(f);
    /* make the record undecodable: cut it short */
    {
        struct raw r;
        MDB_dbi dbi = raw_open(&r, f->dir, "log");
        MDB_val kk = {8, k}, v;
        assert_int_equal(mdb_get(r.txn, dbi, &kk, &v), 0);
        MDB_val nv = {10, v.mv_data};
        uint8_t copy[10];
        memcpy(copy, v.mv_data, 10);
        nv.mv_data = copy;
        assert_int_equal(mdb_put(r.txn, dbi, &kk, &nv, 0), 0);
        raw_close(&r);
    }
    uint64_t damaged = 0;
    json_t *doc = export_doc(f->s, &damaged);
    assert_int_equal(damaged, 1);
    json_t *e = json_array_get(json_object_get(doc, "records"), 1);
    assert_int_equal(json_integer_value(json_object_get(e, "seq")), 2);
    assert_non_null(json_object_get(e, "error"));
    assert_int_equal(json_integer_value(json_object_get(doc, "damaged")), 1);
    assert_int_equal(json_array_size(json_object_get(doc, "records")), 4);
    struct reports rep;
    assert_int_not_equal(check_doc(doc, NULL, &rep), 0);
    assert_true(named(&rep, 2, "damaged"));
    json_decref(doc);

    struct membuf m = {0};
    uint64_t records;
    assert_int_equal(store_export(f->s, STORE_EXPORT_DOT, mem_write, &m, &records, &damaged), 0);
    assert_non_null(strstr(m.p, "// damaged record 2:"));
    assert_non_null(strstr(m.p, "4 records, 1 damaged"));
    free(m.p);
}

/* Fingerprints: stable, distinct per key, parsed leniently. */
static void test_fingerprint(void **state)
{
    (void)state;
    char a[STORE_FP_LEN + 1], b[STORE_FP_LEN + 1], p[STORE_FP_LEN + 1];
    store_fingerprint(coord.pk, a);
    store_fingerprint(agent.pk, b);
    assert_int_equal(strlen(a), STORE_FP_LEN);
    assert_string_not_equal(a, b);
    char typed[64];
    snprintf(typed, sizeof typed, "%.8s:%.8s-%.16s", a, a + 8, a + 16);
    for (char *q = typed; *q; q++)
        if (*q >= 'a' && *q <= 'f')
            *q = (char)(*q - 'a' + 'A');
    assert_int_equal(store_fingerprint_parse(typed, p), 0);
    assert_string_equal(p, a);
    assert_int_equal(store_fingerprint_parse("abc", p), ERR_INVAL);
    assert_int_equal(store_fingerprint_parse("zz", p), ERR_INVAL);
    snprintf(typed, sizeof typed, "%s0", a);
    assert_int_equal(store_fingerprint_parse(typed, p), ERR_INVAL);
}

/* The origin block of op "external" (store.h): after errors_hash in version
 * 2, present for that op only, refused in version 1 and for other ops. */
static void test_codec_origin(void **state)
{
    lineage_rec_t r, d;
    sample_rec(&r);
    r.version = 2;
    r.nparents = 1;
    memset(r.parents[1], 0, 32);
    wire_buf_t b;
    wire_buf_init(&b);
    assert_int_equal(store_rec_encode(&b, &r), 0);
    size_t plain = b.len;
    strcpy(r.op, "external");
    strcpy(r.mutator, "llm.v2-a_b");
    memset(r.input_hash, 0x3c, 32);
    wire_buf_reset(&b);
    assert_int_equal(store_rec_encode(&b, &r), 0);
    /* "external" is one byte shorter than "crossover"; then the origin */
    assert_int_equal(b.len, plain - 1 + 4 + strlen("llm.v2-a_b") + 32);
    size_t o = b.len - 64 - 32 - 4 - strlen("llm.v2-a_b");
    assert_memory_equal(b.data + o, "\0\0\0\x0allm.v2-a_b", 14);
    assert_memory_equal(b.data + o + 14, r.input_hash, 32);
    assert_int_equal(store_rec_decode(b.data, b.len, &d), 0);
    assert_memory_equal(&r, &d, sizeof r);
    for (size_t n = 0; n < b.len; n++)
        assert_int_not_equal(store_rec_decode(b.data, n, &d), 0);
    /* a mutator name with a character outside [a-z0-9_.-] */
    b.data[o + 4] = 'L';
    assert_int_equal(store_rec_decode(b.data, b.len, &d), ERR_PROTO);
    b.data[o + 4] = 'l';
    assert_int_equal(store_rec_decode(b.data, b.len, &d), 0);
    /* encode refuses origins that do not fit the op */
    wire_buf_reset(&b);
    r.mutator[0] = '\0';
    assert_int_equal(store_rec_encode(&b, &r), ERR_INVAL); /* external, no mutator */
    strcpy(r.mutator, "Bad");
    assert_int_equal(store_rec_encode(&b, &r), ERR_INVAL);
    memset(r.mutator, 'a', STORE_MUTATOR_MAX + 1);
    r.mutator[STORE_MUTATOR_MAX] = '\0';
    assert_int_equal(store_rec_encode(&b, &r), 0); /* 32 characters: the most */
    wire_buf_reset(&b);
    strcpy(r.mutator, "m");
    r.version = 1;
    assert_int_equal(store_rec_encode(&b, &r), ERR_INVAL); /* external in version 1 */
    r.version = 2;
    strcpy(r.op, "point");
    assert_int_equal(store_rec_encode(&b, &r), ERR_INVAL); /* an origin on another op */
    r.mutator[0] = '\0';
    assert_int_equal(store_rec_encode(&b, &r), ERR_INVAL); /* input_hash still set */
    memset(r.input_hash, 0, 32);
    assert_int_equal(store_rec_encode(&b, &r), 0);
    /* a version 1 record of op external does not decode */
    sample_rec(&r);
    strcpy(r.op, "external");
    r.version = 1;
    wire_buf_reset(&b);
    strcpy(r.op, "point");
    assert_int_equal(store_rec_encode(&b, &r), 0);
    size_t opoff = 8 + 32 + 8 + 4 + 8 + 32 + 4 + 64;
    assert_memory_equal(b.data + opoff, "\0\0\0\x05point", 9);
    wire_buf_t b2;
    wire_buf_init(&b2);
    wire_put_raw(&b2, b.data, opoff);
    wire_put_str(&b2, "external");
    wire_put_raw(&b2, b.data + opoff + 9, b.len - opoff - 9);
    assert_int_equal(store_rec_decode(b2.data, b2.len, &d), ERR_PROTO);
    wire_buf_free(&b2);
    wire_buf_free(&b);
    assert_true(store_op_valid("external"));
    assert_true(store_mutator_valid("a"));
    assert_false(store_mutator_valid(""));
    assert_false(store_mutator_valid(NULL));
    assert_false(store_mutator_valid("a b"));
    assert_false(store_mutator_valid("/bin/sh"));
}

/* External children are appended with their origin, read back, verify,
 * and every byte of their record (the origin included) is covered. */
static void test_external_origin(void **state)
{
    struct fx *f = *state;
    struct gen g[3];
    store_item_t items[3];
    mk_item(&g[0], "quad", 0, 1, 1, NULL, NULL);
    mk_item(&g[1], "quad", 0, 2, 2, g[0].it.child_hash, NULL);
    mk_item(&g[2], "quad", 1, 3, 3, g[0].it.child_hash, g[1].it.child_hash);
    for (int i = 0; i < 3; i++)
        items[i] = g[i].it;
    items[1].op = items[2].op = "external";
    strcpy(items[1].mutator, "mut.py");
    strcpy(items[2].mutator, "llm");
    memset(items[1].input_hash, 0x11, 32);
    memset(items[2].input_hash, 0x22, 32);
    /* invalid origins are refused before anything is written */
    store_item_t bad = items[1];
    bad.mutator[0] = '\0';
    assert_int_equal(store_append(f->s, &bad, 1, 1), ERR_INVAL);
    assert_int_equal(bad.err, ERR_INVAL);
    bad = items[1];
    strcpy(bad.mutator, "Has Space");
    assert_int_equal(store_append(f->s, &bad, 1, 1), ERR_INVAL);
    bad = items[0];
    strcpy(bad.mutator, "m");
    assert_int_equal(store_append(f->s, &bad, 1, 1), ERR_INVAL);
    bad = items[0];
    bad.input_hash[5] = 1;
    assert_int_equal(store_append(f->s, &bad, 1, 1), ERR_INVAL);
    bad = items[1];
    bad.version = 1;
    assert_int_equal(store_append(f->s, &bad, 1, 1), ERR_INVAL);
    uint64_t head = 9;
    store_head(f->s, &head, NULL);
    assert_int_equal(head, 0);

    assert_int_equal(store_append(f->s, items, 3, 1), 0);
    struct reports rep;
    assert_int_equal(verify(f->s, &rep, NULL), 0);
    lineage_rec_t r;
    assert_int_equal(store_get(f->s, 3, &r), 0);
    assert_string_equal(r.op, "external");
    assert_string_equal(r.mutator, "llm");
    assert_memory_equal(r.input_hash, items[2].input_hash, 32);
    assert_int_equal(r.nparents, 2);
    assert_memory_equal(r.parents[1], g[1].it.child_hash, 32);
    assert_int_equal(store_get(f->s, 1, &r), 0);
    assert_string_equal(r.mutator, "");
    store_close(&f->s);
    uint8_t key[8];
    be64(key, 2);
    size_t vlen = 0;
    raw_flip(f->dir, "log", key, 8, SIZE_MAX, 0, &vlen);
    for (size_t off = 0; off < vlen; off++) {
        raw_flip(f->dir, "log", key, 8, off, 0x01, NULL);
        int rc = verify_reopened(f, &rep);
        if (rc == 0 || !named(&rep, 2, NULL))
            fail_msg("flipped byte %zu of the external record not named", off);
        raw_flip(f->dir, "log", key, 8, off, 0x01, NULL);
    }
    assert_int_equal(verify_reopened(f, &rep), 0);
    reopen(f);
}

/* A live record (version 3): item g turned into an upgrade's outcome of
 * kind k, signed by the agent over attest_live. */
static void mk_live(struct gen *g, uint32_t ind, uint64_t upgrade, int v, const uint8_t *parent,
                    uint8_t kind, const char *reason)
{
    mk_item(g, "limiter", ind, upgrade, v, parent, NULL);
    store_item_t *it = &g->it;
    it->version = 3;
    it->op = parent ? "literal" : "start";
    it->passed = it->cases = 0;
    it->cost = 0;
    it->reused = 0;
    memset(it->errors_hash, 0, sizeof it->errors_hash);
    it->status = (uint8_t)wire_live_status(kind);
    it->fitness = kind == WIRE_LIVE_STARTED ? NAN : 0.5 + v / 100.0;
    it->live.kind = kind;
    it->live.version = (uint32_t)v;
    memset(it->live.state_before, 0x3b, 32);
    memset(it->live.state_after, 0x3a, 32);
    it->live.parent_score = parent ? 0.75 : NAN;
    it->live.probation = parent ? 100 : 0;
    snprintf(it->live.reason, sizeof it->live.reason, "%s", reason);
    attest_live_t x = {.kind = kind,
                       .status = it->status,
                       .version = it->live.version,
                       .parent_score = it->live.parent_score,
                       .child_score = it->fitness,
                       .probation = it->live.probation};
    if (parent)
        memcpy(x.parent_hash, parent, 32);
    memcpy(x.state_before, it->live.state_before, 32);
    memcpy(x.state_after, it->live.state_after, 32);
    attest_reason_hash(reason, strlen(reason), x.reason_hash);
    assert_int_equal(attest_sign_live(&agent, it->population, it->deme, it->dseq, it->child_hash,
                                      &x, it->agent_sig),
                     0);
}

static void test_live_records(void **state)
{
    struct fx *f = *state;
    struct gen g[3];
    mk_live(&g[0], 0, 0, 1, NULL, WIRE_LIVE_STARTED, "");
    mk_live(&g[1], 0, 1, 2, g[0].it.child_hash, WIRE_LIVE_PROMOTED, "");
    mk_live(&g[2], 0, 2, 3, g[1].it.child_hash, WIRE_LIVE_ROLLBACK,
            "scored 0.5200 over probation, parent 0.7500");
    /* a kind that is no record, or a reason without its end, is refused */
    store_item_t bad = g[1].it;
    bad.live.kind = WIRE_LIVE_UPGRADE;
    assert_int_equal(store_append(f->s, &bad, 1, 1), ERR_INVAL);
    bad = g[1].it;
    memset(bad.live.reason, 'x', sizeof bad.live.reason);
    assert_int_equal(store_append(f->s, &bad, 1, 1), ERR_INVAL);
    store_item_t items[3] = {g[0].it, g[1].it, g[2].it};
    assert_int_equal(store_append(f->s, items, 3, 1), 0);
    struct reports rep;
    assert_int_equal(verify(f->s, &rep, NULL), 0);
    lineage_rec_t r;
    assert_int_equal(store_get(f->s, 3, &r), 0);
    assert_int_equal(r.version, 3);
    assert_int_equal(r.live.kind, WIRE_LIVE_ROLLBACK);
    assert_int_equal(r.status, WIRE_ST_BAD_RESULT);
    assert_string_equal(r.live.reason, "scored 0.5200 over probation, parent 0.7500");
    assert_memory_equal(r.parents[0], g[1].it.child_hash, 32);
    assert_true(r.live.parent_score == 0.75);
    assert_int_equal(store_rec_check_agent_sig(&r), 0);
    /* the agent's signature covers the live block: a changed reason, state
     * hash, score or kind no longer verifies */
    lineage_rec_t t = r;
    t.live.reason[0] = 'S';
    assert_int_equal(store_rec_check_agent_sig(&t), ERR_CRYPTO);
    t = r;
    t.live.state_after[3] ^= 1;
    assert_int_equal(store_rec_check_agent_sig(&t), ERR_CRYPTO);
    t = r;
    t.live.parent_score = 0.5;
    assert_int_equal(store_rec_check_agent_sig(&t), ERR_CRYPTO);
    t = r;
    t.live.kind = WIRE_LIVE_PROMOTED;
    assert_int_equal(store_rec_check_agent_sig(&t), ERR_CRYPTO);
    /* the codec: round trip, every truncation refused, trailing bytes too */
    wire_buf_t b;
    wire_buf_init(&b);
    assert_int_equal(store_rec_encode(&b, &r), 0);
    lineage_rec_t back;
    assert_int_equal(store_rec_decode(b.data, b.len, &back), 0);
    assert_memory_equal(&back.live, &r.live, sizeof r.live);
    for (size_t n = 0; n < b.len; n++)
        assert_int_not_equal(store_rec_decode(b.data, n, &back), 0);
    wire_put_u8(&b, 0);
    assert_int_equal(store_rec_decode(b.data, b.len, &back), ERR_PROTO);
    wire_buf_free(&b);
    /* every byte of a stored live record is covered */
    store_close(&f->s);
    uint8_t key[8];
    be64(key, 3);
    size_t vlen = 0;
    raw_flip(f->dir, "log", key, 8, SIZE_MAX, 0, &vlen);
    for (size_t off = 0; off < vlen; off++) {
        raw_flip(f->dir, "log", key, 8, off, 0x01, NULL);
        int rc = verify_reopened(f, &rep);
        if (rc == 0 || !named(&rep, 3, NULL))
            fail_msg("flipped byte %zu of the live record not named", off);
        raw_flip(f->dir, "log", key, 8, off, 0x01, NULL);
    }
    assert_int_equal(verify_reopened(f, &rep), 0);
    reopen(f);
}

int main(void)
{
    if (crypto_init() != 0)
        return 1;
    log_init("test_store", LOG_LVL_ERROR, 0);
    crypto_sign_ed25519_keypair(coord.pk, coord.sk);
    crypto_random(coord.id, sizeof coord.id);
    crypto_sign_ed25519_keypair(agent.pk, agent.sk);
    crypto_random(agent.id, sizeof agent.id);
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_append_reopen),
        T(test_crash),
        T(test_idempotent),
        T(test_batch_with_dups),
        T(test_indexes),
        T(test_invalid_items),
        T(test_signer),
        T(test_meta),
        T(test_map_growth),
        T(test_verify_progress_and_cancel),
        T(test_pipeline),
        T(test_pipeline_failure),
        T(test_tamper_every_record_byte),
        T(test_tamper_genome),
        T(test_tamper_file_bytes),
        T(test_tamper_swap),
        T(test_tamper_delete),
        T(test_tamper_index),
        T(test_bad_agent_sig),
        T(test_versions_mixed),
        T(test_v2_agent_sig_covers_summary),
        T(test_v4_agent_sig_covers_breeder),
        T(test_killed_mid_commit),
        T(test_submit_kv),
        T(test_export_offline),
        T(test_export_damaged),
        cmocka_unit_test(test_fingerprint),
        T(test_external_origin),
        T(test_live_records),
        cmocka_unit_test(test_codec),
        cmocka_unit_test(test_codec_v2),
        cmocka_unit_test(test_codec_v4),
        cmocka_unit_test(test_codec_origin),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
