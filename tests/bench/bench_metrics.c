/* bench_metrics.c - the cost of the coordinator's GET /metrics body with 10
 * populations (200 members each, full history) and 1,000 synthetic gossip
 * members, against the baseline of the same member snapshot as /v1/members
 * JSON; and GET /v1/populations/NAME for a population of 10,000 members
 * against its summary. Built on the real coordinator code (a real store),
 * without sockets. Prints a table and one JSON line; no thresholds. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coord.h"
#include "loop.h"
#include "metrics.h"

#define POPS 10
#define POP_SIZE 200
#define MEMBERS 1000
#define BIG_POP 10000
#define ROUNDS 200

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static pop_t *make_pop(const char *name, int size, int demes)
{
    json_t *cases = json_array();
    for (int x = -5; x <= 5; x++)
        json_array_append_new(cases, json_pack("{s:[i], s:i}", "in", x, "out", x * x));
    json_t *spec = json_pack("{s:s, s:s, s:{s:o}, s:i, s:i}", "name", name, "function", "f/1",
                             "fitness", "cases", cases, "size", size, "demes", demes);
    char err[256];
    pop_t *p = pop_new(spec, 0, err, sizeof err);
    json_decref(spec);
    if (!p) {
        fprintf(stderr, "bench_metrics: %s\n", err);
        exit(1);
    }
    static const char src[] = "-module(genome).\n-export([f/1]).\nf(X) -> X * X + 2 * X - 1.\n";
    for (int d = 0; d < p->ndemes; d++) {
        deme_t *dm = &p->demes[d];
        for (int i = 0; i < dm->cap; i++) {
            member_t *m = &dm->m[i];
            for (int b = 0; b < CRYPTO_HASH_LEN; b += 8) {
                uint64_t r = next() % 5 == 0 ? (uint64_t)i : next(); /* some duplicates */
                memcpy(m->hash + b, &r, 8);
            }
            m->src = strdup(src);
            m->len = sizeof src - 1;
            m->fitness = (double)(next() % 100000) / 100.0;
        }
        dm->n = dm->cap;
        dm->evals = 1000;
    }
    p->evaluations = p->ok_evaluations = 1000 * (uint64_t)p->ndemes;
    p->best.src = strdup(src);
    p->best.len = sizeof src - 1;
    p->best.fitness = 0.5;
    for (int k = 0; k < POP_HISTORY; k++) {
        p->evaluations += 10;
        pop_sample(p, (uint64_t)k * 1000);
    }
    return p;
}

static int cmpu(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static double median_ms(uint64_t *us, int n)
{
    qsort(us, (size_t)n, sizeof *us, cmpu);
    return (double)us[n / 2] / 1000.0;
}

int main(void)
{
    char dir[] = "/tmp/petri-bench-metrics-XXXXXX", err[512];
    if (!mkdtemp(dir))
        return 1;
    coord_t c;
    memset(&c, 0, sizeof c);
    if (identity_load_or_create(dir, &c.id, err, sizeof err) != 0 ||
        !(c.store = store_open(dir, 64u << 20, &c.id, err, sizeof err))) {
        fprintf(stderr, "bench_metrics: %s\n", err);
        return 1;
    }
    char name[32];
    for (int i = 0; i < POPS; i++) {
        snprintf(name, sizeof name, "pop-%d", i);
        c.pops[c.npops++] = make_pop(name, POP_SIZE, 4);
    }
    for (int i = 0; i < 50; i++)
        metrics_hist_observe(&c.commit_hist, (double)(next() % 20000) / 1e6);

    static gossip_member_t mem[MEMBERS];
    for (int i = 0; i < MEMBERS; i++) {
        snprintf(mem[i].name, sizeof mem[i].name, "agent-%04d", i);
        snprintf(mem[i].addr, sizeof mem[i].addr, "10.0.%d.%d:7946", i / 250, i % 250);
        for (int b = 0; b < SWIM_ID_LEN; b++)
            mem[i].id[b] = (uint8_t)next();
        mem[i].status = i % 50 == 0 ? SWIM_SUSPECT : i % 97 == 0 ? SWIM_DEAD : SWIM_ALIVE;
        mem[i].incarnation = (uint64_t)i;
        mem[i].metalen = (size_t)snprintf((char *)mem[i].meta, sizeof mem[i].meta,
                                          "{\"role\":\"agent\",\"vms\":2,\"vms_total\":2,"
                                          "\"load\":0.5}");
    }
    gossip_stats_t gst;
    memset(&gst, 0, sizeof gst);

    static uint64_t t_metrics[ROUNDS], t_members[ROUNDS], t_detail[ROUNDS], t_summary[ROUNDS];
    size_t metrics_bytes = 0, members_bytes = 0, detail_bytes = 0;
    for (int r = 0; r < ROUNDS; r++) {
        uint64_t t0 = mono_us();
        metrics_buf_t m;
        metrics_init(&m);
        coord_metrics_write(&c, mem, MEMBERS, &gst, &m);
        metrics_bytes = m.len;
        metrics_free(&m);
        t_metrics[r] = mono_us() - t0;

        /* baseline: the same members as the /v1/members JSON */
        t0 = mono_us();
        json_t *arr = json_array();
        for (int i = 0; i < MEMBERS; i++) {
            char id[2 * SWIM_ID_LEN + 1];
            crypto_hex(mem[i].id, SWIM_ID_LEN, id);
            json_t *meta = json_loadb((const char *)mem[i].meta, mem[i].metalen, 0, NULL);
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:o}", "name",
                                                 mem[i].name, "id", id, "addr", mem[i].addr,
                                                 "status", swim_status_str(mem[i].status),
                                                 "incarnation", (json_int_t)mem[i].incarnation,
                                                 "role", "agent", "meta", meta));
        }
        char *s = json_dumps(arr, JSON_COMPACT);
        members_bytes = strlen(s);
        free(s);
        json_decref(arr);
        t_members[r] = mono_us() - t0;
    }
    pop_t *big = make_pop("big", BIG_POP, 8);
    for (int r = 0; r < ROUNDS / 4; r++) {
        uint64_t t0 = mono_us();
        json_t *o = pop_detail_json(big, 600000);
        char *s = json_dumps(o, JSON_COMPACT);
        detail_bytes = strlen(s);
        free(s);
        json_decref(o);
        t_detail[r] = mono_us() - t0;
        t0 = mono_us();
        o = pop_summary_json(big, 600000);
        s = json_dumps(o, JSON_COMPACT);
        free(s);
        json_decref(o);
        t_summary[r] = mono_us() - t0;
    }
    double m_ms = median_ms(t_metrics, ROUNDS), b_ms = median_ms(t_members, ROUNDS);
    double d_ms = median_ms(t_detail, ROUNDS / 4), s_ms = median_ms(t_summary, ROUNDS / 4);
    printf("%-58s %10s %10s\n", "case", "median ms", "bytes");
    printf("%-58s %10.3f %10zu\n", "/metrics body: 10 pops x 200, 1000 members (goal < 50)", m_ms,
           metrics_bytes);
    printf("%-58s %10.3f %10zu\n", "baseline: the 1000 members as /v1/members JSON", b_ms,
           members_bytes);
    printf("%-58s %10.3f %10zu\n", "/v1/populations/NAME body, 10000 members, 600 samples", d_ms,
           detail_bytes);
    printf("%-58s %10.3f %10s\n", "baseline: its summary (/v1/populations entry)", s_ms, "");
    printf("{\"bench\":\"metrics_build\",\"populations\":%d,\"members\":%d,"
           "\"metrics_ms\":%.3f,\"metrics_bytes\":%zu,\"members_json_ms\":%.3f,"
           "\"ratio_vs_members_json\":%.3f,\"detail_10k_ms\":%.3f,\"detail_10k_bytes\":%zu,"
           "\"summary_ms\":%.3f,\"goal_metrics_ms\":50}\n",
           POPS, MEMBERS, m_ms, metrics_bytes, b_ms, b_ms > 0 ? m_ms / b_ms : 0, d_ms, detail_bytes,
           s_ms);
    pop_destroy(&big);
    for (int i = 0; i < c.npops; i++)
        pop_destroy(&c.pops[i]);
    store_close(&c.store);
    identity_wipe(&c.id);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return 0;
}
