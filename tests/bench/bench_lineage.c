/* bench_lineage.c - lineage store throughput against its own baselines, in
 * one run: bare Ed25519 sign vs durable signed ingest (group commit: the
 * store's blocking and pipelined calls, and the coordinator daemon's own
 * commit path on its event loop), and bare Ed25519 verify vs store_verify.
 * Prints a table and one JSON line. */
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attest.h"
#include "coord.h"
#include "../../coordinator/settings.h"
#include "err.h"
#include "log.h"
#include "loop.h"
#include "store.h"

#define REPS 3
#define SRC_LEN 200 /* bytes of a typical small genome */

static node_identity_t coord, agent;

struct corpus {
    size_t n;
    store_item_t *items;
    char *srcs; /* n x SRC_LEN */
};

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

/* n distinct children of realistic shape; agent signatures are made here,
 * outside any timing: agents sign, the coordinator only records. */
static void corpus_make(struct corpus *c, size_t n)
{
    c->n = n;
    c->items = calloc(n, sizeof *c->items);
    c->srcs = malloc(n * SRC_LEN);
    if (!c->items || !c->srcs) {
        fprintf(stderr, "bench_lineage: out of memory\n");
        exit(1);
    }
    static const char *const ops[] = {"point", "subtree", "crossover", "hoist", "shrink"};
    for (size_t i = 0; i < n; i++) {
        char *src = c->srcs + i * SRC_LEN;
        int k =
            snprintf(src, SRC_LEN, "-module(g%zu).\n-export([f/1]).\nf(X) -> X * X + %zu * X - 1",
                     i, i * 7919 % 1000);
        memset(src + k, ' ', SRC_LEN - (size_t)k - 2);
        memcpy(src + SRC_LEN - 2, ".\n", 2);
        store_item_t *it = &c->items[i];
        it->population = "quartic";
        it->deme = (uint32_t)(i % 8);
        it->dseq = i / 8;
        it->src = src;
        it->src_len = SRC_LEN;
        crypto_hash(src, SRC_LEN, it->child_hash);
        if (i >= 16) {
            memcpy(it->parents[it->nparents++], c->items[i - 1 - i % 13].child_hash, 32);
            if (i % 3 == 0)
                memcpy(it->parents[it->nparents++], c->items[i - 2 - i % 11].child_hash, 32);
        }
        it->op = it->nparents == 2 ? "crossover" : it->nparents ? ops[i % 5] : "random";
        if (it->nparents == 1 && strcmp(it->op, "crossover") == 0)
            it->op = "point";
        it->seed = i * 2654435761u;
        it->status = i % 10 == 9 ? WIRE_ST_TIMEOUT : WIRE_ST_OK;
        it->fitness = it->status == WIRE_ST_OK ? (double)(i % 1000) / 7.0 : NAN;
        memcpy(it->agent_id, agent.id, CRYPTO_ID_LEN);
        memcpy(it->agent_pk, agent.pk, CRYPTO_PK_LEN);
        attest_ext_t x = {0}; /* the item's summary: zeros, no errors */
        if (attest_sign_v2(&agent, it->population, it->deme, it->dseq, it->child_hash, it->status,
                           it->fitness, &x, it->agent_sig) != 0) {
            fprintf(stderr, "bench_lineage: attest_sign failed\n");
            exit(1);
        }
    }
}

/* A record-sized message: what the coordinator signs per record. */
static size_t record_msg(uint8_t *buf, size_t cap)
{
    lineage_rec_t r;
    memset(&r, 0x5a, sizeof r);
    strcpy(r.population, "quartic");
    strcpy(r.op, "crossover");
    r.nparents = 2;
    r.fitness = 1.5;
    wire_buf_t b;
    wire_buf_init(&b);
    wire_put_str(&b, STORE_SIG_DOMAIN);
    store_rec_encode(&b, &r);
    size_t len = b.len - CRYPTO_SIG_LEN < cap ? b.len - CRYPTO_SIG_LEN : cap;
    memcpy(buf, b.data, len);
    wire_buf_free(&b);
    return len;
}

static double bare_sign_rate(size_t n, size_t *msglen)
{
    uint8_t msg[512], sig[CRYPTO_SIG_LEN];
    size_t len = record_msg(msg, sizeof msg);
    *msglen = len;
    uint64_t t0 = mono_us();
    for (size_t i = 0; i < n; i++) {
        msg[0] = (uint8_t)i;
        crypto_sign(&coord, msg, len, sig);
    }
    return (double)n * 1e6 / (double)(mono_us() - t0 + 1);
}

static double bare_verify_rate(size_t n)
{
    uint8_t msg[512], sig[CRYPTO_SIG_LEN];
    size_t len = record_msg(msg, sizeof msg);
    crypto_sign(&coord, msg, len, sig);
    size_t bad = 0;
    uint64_t t0 = mono_us();
    for (size_t i = 0; i < n; i++)
        bad += crypto_verify(coord.pk, msg, len, sig) != 0;
    double rate = (double)n * 1e6 / (double)(mono_us() - t0 + 1);
    if (bad)
        fprintf(stderr, "bench_lineage: %zu bare verifies failed\n", bad);
    return rate;
}

/* Ingests the whole corpus into a fresh store in batches; returns rec/s.
 * Keeps the store directory for the verify run when keep != NULL. */
static double ingest_rate(struct corpus *c, size_t batch, int piped, char *keep,
                          uint64_t *commit_us)
{
    char dir[] = "/tmp/petri-bench-lineage-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    char err[256];
    store_t *s = store_open(dir, 0, &coord, err, sizeof err);
    if (!s) {
        fprintf(stderr, "bench_lineage: %s\n", err);
        exit(1);
    }
    uint64_t t0 = mono_us(), prev = 0, sub_us = 0, wait_us = 0;
    for (size_t i = 0; i < c->n; i += batch) {
        size_t m = c->n - i < batch ? c->n - i : batch;
        int rc;
        if (piped) { /* sign batch k while batch k-1 commits */
            uint64_t t, a = mono_us();
            rc = store_submit(s, c->items + i, m, 1700000000000ULL + i, &t);
            uint64_t b = mono_us();
            if (rc == 0)
                rc = store_wait(s, prev);
            sub_us += b - a;
            wait_us += mono_us() - b;
            prev = t;
        } else {
            rc = store_append(s, c->items + i, m, 1700000000000ULL + i);
        }
        if (rc) {
            fprintf(stderr, "bench_lineage: store_append: %s\n", err_str(rc));
            exit(1);
        }
    }
    if (store_wait(s, prev) != 0) {
        fprintf(stderr, "bench_lineage: last batch failed\n");
        exit(1);
    }
    double rate = (double)c->n * 1e6 / (double)(mono_us() - t0 + 1);
    store_stats_t st;
    if (store_stats(s, &st) == 0) {
        *commit_us = st.last_commit_us;
        if (getenv("BENCH_VERBOSE"))
            fprintf(stderr,
                    "  [batch %zu%s: total %.0f ms, commit %.0f ms, submit %.0f ms, wait %.0f ms, "
                    "used %.1f MB]\n",
                    batch, piped ? " piped" : "", (mono_us() - t0) / 1e3, st.commit_us_total / 1e3,
                    sub_us / 1e3, wait_us / 1e3, st.used_bytes / 1e6);
    }
    store_close(&s);
    if (keep)
        strcpy(keep, dir);
    else
        rm_rf(dir);
    return rate;
}

/* The daemon's path: results go to coord_pending_add as on_result hands
 * them over, batches are submitted at [store] commit_max and retired by
 * the loop when the store's eventfd fires, exactly as in `petri
 * coordinator` (no network: results arrive as fast as the loop takes
 * them, with a loop turn every 64 results). */
static double daemon_rate(struct corpus *c, long commit_max)
{
    char dir[] = "/tmp/petri-bench-lineage-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    char err[256], o1[64], o2[300];
    snprintf(o1, sizeof o1, "store.commit_max=%ld", commit_max);
    snprintf(o2, sizeof o2, "node.data_dir=%s", dir);
    char *over[] = {o1, o2};
    coord_t d = {0};
    d.cfg = coord_config_load(NULL, over, 2, err, sizeof err);
    d.loop = loop_new();
    d.id = coord;
    d.store = d.cfg ? store_open(dir, 0, &coord, err, sizeof err) : NULL;
    if (!d.cfg || !d.loop || !d.store || coord_commit_attach(&d) != 0) {
        fprintf(stderr, "bench_lineage: daemon path: %s\n", err);
        exit(1);
    }
    uint64_t t0 = mono_us();
    for (size_t i = 0; i < c->n; i++) {
        if (coord_pending_add(&d, &c->items[i], c->items[i].population, c->items[i].op) != 0)
            exit(1);
        if (i % 64 == 63)
            loop_run_once(d.loop, 0);
    }
    coord_commit(&d);
    while (d.ninflight > 0 || d.npending > 0) {
        loop_run_once(d.loop, 100);
        coord_commit(&d);
    }
    double rate = (double)c->n * 1e6 / (double)(mono_us() - t0 + 1);
    uint64_t head = 0;
    store_head(d.store, &head, NULL);
    if (head != c->n || d.commit_failures) {
        fprintf(stderr, "bench_lineage: daemon path recorded %llu of %zu\n",
                (unsigned long long)head, c->n);
        exit(1);
    }
    loop_fd_del(d.loop, store_event_fd(d.store));
    store_close(&d.store);
    loop_destroy(&d.loop);
    cfg_destroy(&d.cfg);
    free(d.pending);
    rm_rf(dir);
    return rate;
}

static void on_err(void *arg, uint64_t seq, const char *reason)
{
    (*(uint64_t *)arg)++;
    if (*(uint64_t *)arg < 5)
        fprintf(stderr, "bench_lineage: verify: seq %llu: %s\n", (unsigned long long)seq, reason);
}

static double verify_rate(const char *dir, uint64_t expect)
{
    char err[256];
    store_t *s = store_open(dir, 0, NULL, err, sizeof err);
    if (!s) {
        fprintf(stderr, "bench_lineage: %s\n", err);
        exit(1);
    }
    uint64_t bad = 0, checked = 0;
    uint64_t t0 = mono_us();
    int rc = store_verify(s, on_err, NULL, &bad, &checked);
    double rate = (double)checked * 1e6 / (double)(mono_us() - t0 + 1);
    store_close(&s);
    if (rc || checked != expect) {
        fprintf(stderr, "bench_lineage: verify failed: %s (%llu problems, %llu records)\n",
                err_str(rc), (unsigned long long)bad, (unsigned long long)checked);
        exit(1);
    }
    return rate;
}

int main(int argc, char **argv)
{
    size_t n = 30000;
    if (argc > 1)
        n = (size_t)strtoull(argv[1], NULL, 10);
    if (n < 1024)
        n = 1024;
    if (crypto_init() != 0)
        return 1;
    log_init("bench_lineage", LOG_LVL_WARN, 0);
    crypto_sign_ed25519_keypair(coord.pk, coord.sk);
    crypto_sign_ed25519_keypair(agent.pk, agent.sk);
    crypto_random(agent.id, sizeof agent.id);

    struct corpus c;
    corpus_make(&c, n);

    double sign[REPS], ing256[REPS], ing1024[REPS], pip256[REPS], pip1024[REPS], bver[REPS],
        sver[REPS], dmn256[REPS], dmn1024[REPS];
    uint64_t c256 = 0, c1024 = 0, cp = 0;
    size_t msglen = 0;
    char dir[64] = "";
    for (int r = 0; r < REPS; r++) {
        /* interleaved, so drifting machine load hits every measurement */
        sign[r] = bare_sign_rate(n / 2, &msglen);
        ing256[r] = ingest_rate(&c, 256, 0, NULL, &c256);
        ing1024[r] = ingest_rate(&c, 1024, 0, NULL, &c1024);
        pip256[r] = ingest_rate(&c, 256, 1, NULL, &cp);
        pip1024[r] = ingest_rate(&c, 1024, 1, r == 0 ? dir : NULL, &cp);
        dmn256[r] = daemon_rate(&c, 256);
        dmn1024[r] = daemon_rate(&c, 1024);
        bver[r] = bare_verify_rate(n / 2);
        sver[r] = verify_rate(dir, n);
    }
    rm_rf(dir);
    double ms = median(sign, REPS), m256 = median(ing256, REPS), m1024 = median(ing1024, REPS);
    double mbv = median(bver, REPS), msv = median(sver, REPS);
    double p256 = median(pip256, REPS), p1024 = median(pip1024, REPS);
    double d256 = median(dmn256, REPS), d1024 = median(dmn1024, REPS);
    double r256 = m256 / ms, r1024 = m1024 / ms, rp256 = p256 / ms, rp1024 = p1024 / ms;
    double rd256 = d256 / ms, rd1024 = d1024 / ms;
    double vrec = msv / mbv, vsig = 2 * msv / mbv;

    printf("lineage store, %zu records of %d-byte genomes, median of %d runs\n", n, SRC_LEN, REPS);
    printf("  %-44s %12s %10s\n", "measurement", "per second", "ratio");
    printf("  %-44s %12.0f %10s\n", "bare Ed25519 sign (record-sized message)", ms, "1.00");
    printf("  %-44s %12.0f %10.2f\n", "store_append, batches of 256 (durable)", m256, r256);
    printf("  %-44s %12.0f %10.2f\n", "store_append, batches of 1024 (durable)", m1024, r1024);
    printf("  %-44s %12.0f %10.2f\n", "store_submit/wait pipelined, batches of 256", p256, rp256);
    printf("  %-44s %12.0f %10.2f\n", "store_submit/wait pipelined, batches of 1024", p1024,
           rp1024);
    printf("  %-44s %12.0f %10.2f\n", "daemon commit path, commit_max 256", d256, rd256);
    printf("  %-44s %12.0f %10.2f\n", "daemon commit path, commit_max 1024", d1024, rd1024);
    printf("  %-44s %12.0f %10s\n", "bare Ed25519 verify (one signature)", mbv, "1.00");
    printf("  %-44s %12.0f %10.2f\n", "store_verify, records (2 signatures each)", msv, vrec);
    printf("  %-44s %12.0f %10.2f\n", "store_verify, signature-equivalents", 2 * msv, vsig);
    printf("  last commit (fsync) latency: %llu us (batch 256), %llu us (batch 1024)\n",
           (unsigned long long)c256, (unsigned long long)c1024);
    printf("  goal ingest/bare_sign >= 0.70: sync %s/%s, pipelined %s/%s, daemon %s/%s "
           "(256/1024)\n",
           r256 >= 0.70 ? "met" : "missed", r1024 >= 0.70 ? "met" : "missed",
           rp256 >= 0.70 ? "met" : "missed", rp1024 >= 0.70 ? "met" : "missed",
           rd256 >= 0.70 ? "met" : "missed", rd1024 >= 0.70 ? "met" : "missed");
    printf(
        "{\"bench\":\"lineage\",\"records\":%zu,\"genome_bytes\":%d,\"sign_msg_bytes\":%zu,"
        "\"bare_sign_per_s\":%.0f,\"ingest_b256_per_s\":%.0f,\"ingest_b1024_per_s\":%.0f,"
        "\"ingest_ratio_b256\":%.3f,\"ingest_ratio_b1024\":%.3f,\"piped_b256_per_s\":%.0f,"
        "\"piped_b1024_per_s\":%.0f,\"piped_ratio_b256\":%.3f,\"piped_ratio_b1024\":%.3f,"
        "\"daemon_b256_per_s\":%.0f,\"daemon_b1024_per_s\":%.0f,\"daemon_ratio_b256\":%.3f,"
        "\"daemon_ratio_b1024\":%.3f,\"bare_verify_per_s\":%.0f,"
        "\"store_verify_records_per_s\":%.0f,\"verify_ratio_per_record\":%.3f,"
        "\"verify_ratio_per_signature\":%.3f,\"commit_us_b256\":%llu,\"commit_us_b1024\":%llu}\n",
        n, SRC_LEN, msglen, ms, m256, m1024, r256, r1024, p256, p1024, rp256, rp1024, d256, d1024,
        rd256, rd1024, mbv, msv, vrec, vsig, (unsigned long long)c256, (unsigned long long)c1024);
    free(c.items);
    free(c.srcs);
    return 0;
}
