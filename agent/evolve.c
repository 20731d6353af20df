/* evolve.c - `petri-agent evolve`: a small generational run on one host,
 * driven through the agent's VMs (breeding and scoring both happen there).
 * It is the single-host demo; the coordinator runs the distributed one. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "err.h"
#include "log.h"
#include "oneshot.h"
#include "ops.h"
#include "util.h"
#include "wire.h"

#define TOURNAMENT 4
#define ELITES 2

typedef struct indiv {
    char *src;
    size_t len;
    int status;
    double fitness; /* INFINITY unless status is ok */
    const char *op;
} indiv_t;

typedef struct evo {
    oneshot_t *os;
    int n;
    int max_gens;
    uint64_t seed;
    uint64_t rng;
    indiv_t *pop, *next;
    int pending;
    int gen;
    uint64_t evals;
    uint64_t reused; /* evaluations answered from a VM's result cache */
    uint64_t t0_us;
    int solved, json;
    int stopping; /* the run is over: late completions change nothing */
    /* Operator weights (ops.h order) out of weight_total: the default rates
     * in percent, or --operators scaled to millionths. */
    uint32_t weight[OPS_N];
    uint32_t weight_total;
} evo_t;

typedef struct evo_job {
    evo_t *e;
    int i;
} evo_job_t;

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int rnd(evo_t *e, int n)
{
    return (int)(splitmix(&e->rng) % (uint64_t)n);
}

static void indiv_free(indiv_t *x)
{
    free(x->src);
    memset(x, 0, sizeof *x);
}

static void step(evo_t *e);

static void job_finished(evo_t *e)
{
    if (--e->pending == 0 && !e->stopping)
        step(e);
}

static void eval_done(void *arg, const pool_result_t *r)
{
    evo_job_t *j = arg;
    indiv_t *x = &j->e->next[j->i];
    x->status = r->status;
    x->fitness = r->status == WIRE_ST_OK ? r->fitness : INFINITY;
    j->e->evals++;
    j->e->reused += r->reused != 0;
    evo_t *e = j->e;
    free(j);
    job_finished(e);
}

static void submit_eval(evo_t *e, int i)
{
    evo_job_t *j = malloc(sizeof *j);
    if (j)
        *j = (evo_job_t){.e = e, .i = i};
    if (!j || pool_eval(e->os->pool, e->os->spec_wire.data, e->os->spec_wire.len, -1,
                        (const uint8_t *)e->next[i].src, e->next[i].len, eval_done, j) != 0) {
        free(j);
        e->next[i].status = WIRE_ST_INTERNAL;
        e->next[i].fitness = INFINITY;
        job_finished(e);
    }
}

/* A failed breed falls back to a copy of the first parent (reproduction). */
typedef struct breed_job {
    evo_t *e;
    int i;
    int parent;
} breed_job_t;

static void breed_done(void *arg, const pool_result_t *r)
{
    breed_job_t *b = arg;
    evo_t *e = b->e;
    indiv_t *x = &e->next[b->i];
    if (r->status == WIRE_ST_OK && r->source) {
        x->src = malloc(r->source_len + 1);
        if (x->src) {
            memcpy(x->src, r->source, r->source_len);
            x->src[r->source_len] = '\0';
            x->len = r->source_len;
        }
    }
    if (!x->src && b->parent >= 0) {
        indiv_t *p = &e->pop[b->parent];
        x->src = strdup(p->src);
        x->len = p->len;
        x->status = p->status;
        x->fitness = p->fitness;
        x->op = "copy";
        free(b);
        job_finished(e);
        return;
    }
    int i = b->i;
    free(b);
    if (!x->src) { /* a random genome failed: score it as the worst */
        x->status = r->status;
        x->fitness = INFINITY;
        x->src = strdup("");
        job_finished(e);
        return;
    }
    submit_eval(e, i);
}

static int tournament(evo_t *e)
{
    int best = rnd(e, e->n);
    for (int k = 1; k < TOURNAMENT; k++) {
        int c = rnd(e, e->n);
        if (e->pop[c].fitness < e->pop[best].fitness)
            best = c;
    }
    return best;
}

static const char *pick_op(evo_t *e)
{
    uint32_t r = (uint32_t)rnd(e, (int)e->weight_total), acc = 0;
    for (int i = 0; i < OPS_N; i++) {
        acc += e->weight[i];
        if (r < acc)
            return ops_names[i];
    }
    return ops_names[0]; /* unreachable: the weights add up to weight_total */
}

/* The weights of rates[] (summing to 1): the default rates as percentages
 * (the draws of a run without --operators), others in millionths. */
static void set_weights(evo_t *e, const double rates[OPS_N], uint32_t scale)
{
    e->weight_total = 0;
    for (int i = 0; i < OPS_N; i++) {
        e->weight[i] = (uint32_t)lround(rates[i] * scale);
        e->weight_total += e->weight[i];
    }
    if (e->weight_total == 0) { /* every rate rounds to 0: the largest gets it all */
        int k = 0;
        for (int i = 1; i < OPS_N; i++)
            k = rates[i] > rates[k] ? i : k;
        e->weight[k] = e->weight_total = 1;
    }
}

static void breed_into(evo_t *e, int i, const char *op, int p1, int p2)
{
    breed_job_t *b = malloc(sizeof *b);
    if (!b) {
        e->next[i].fitness = INFINITY;
        e->next[i].src = strdup("");
        job_finished(e);
        return;
    }
    *b = (breed_job_t){.e = e, .i = i, .parent = p1};
    e->next[i].op = op;
    const uint8_t *parents[2];
    size_t lens[2];
    int np = 0;
    if (p1 >= 0) {
        parents[np] = (const uint8_t *)e->pop[p1].src;
        lens[np++] = e->pop[p1].len;
    }
    if (p2 >= 0) {
        parents[np] = (const uint8_t *)e->pop[p2].src;
        lens[np++] = e->pop[p2].len;
    }
    uint64_t seed = splitmix(&e->rng) >> 1;
    if (pool_breed(e->os->pool, e->os->spec_wire.data, e->os->spec_wire.len, op, seed, parents,
                   lens, np, breed_done, b) != 0) {
        free(b);
        e->next[i].fitness = INFINITY;
        e->next[i].src = strdup("");
        job_finished(e);
    }
}

static int cmp_fit(const void *a, const void *b)
{
    const indiv_t *x = a, *y = b;
    return (x->fitness > y->fitness) - (x->fitness < y->fitness);
}

static void report(evo_t *e)
{
    double sum = 0;
    int ok = 0;
    for (int i = 0; i < e->n; i++) {
        if (isfinite(e->pop[i].fitness)) {
            sum += e->pop[i].fitness;
            ok++;
        }
    }
    double secs = (double)(mono_us() - e->t0_us) / 1e6;
    double rate = secs > 0 ? (double)e->evals / secs : 0;
    if (e->json) {
        printf("{\"generation\":%d,\"best\":%.6g,\"mean\":%.6g,\"ok\":%d,\"size\":%d,"
               "\"evaluations\":%" PRIu64 ",\"reused\":%" PRIu64 ",\"evals_per_s\":%.1f}\n",
               e->gen, isfinite(e->pop[0].fitness) ? e->pop[0].fitness : -1, ok ? sum / ok : -1, ok,
               e->n, e->evals, e->reused, rate);
    } else {
        printf("gen %3d  best %10.4g  mean %10.4g  ok %4d/%-4d  evals %7" PRIu64
               "  %7.1f evals/s\n",
               e->gen, e->pop[0].fitness, ok ? sum / ok : NAN, ok, e->n, e->evals, rate);
    }
    fflush(stdout);
}

/* Every child of a generation is scored: rank, report, and breed the next. */
static void step(evo_t *e)
{
    indiv_t *t = e->pop;
    e->pop = e->next;
    e->next = t;
    for (int i = 0; i < e->n; i++)
        indiv_free(&e->next[i]);
    qsort(e->pop, (size_t)e->n, sizeof *e->pop, cmp_fit);
    report(e);
    if (e->pop[0].fitness == 0) {
        e->solved = 1;
        loop_stop(e->os->loop);
        return;
    }
    if (++e->gen > e->max_gens) {
        loop_stop(e->os->loop);
        return;
    }
    e->pending = e->n;
    for (int i = 0; i < ELITES && i < e->n; i++) {
        e->next[i] = e->pop[i];
        e->next[i].src = strdup(e->pop[i].src);
        e->next[i].op = "elite";
    }
    for (int i = ELITES; i < e->n; i++) {
        const char *op = pick_op(e);
        int p1 = tournament(e);
        int p2 = ops_parents(op) == 2 ? tournament(e) : -1;
        breed_into(e, i, op, p1, p2);
    }
    /* elites need no work: account for them after the breeds are queued */
    for (int i = 0; i < ELITES && i < e->n; i++)
        job_finished(e);
}

static void usage_evolve(FILE *f)
{
    fprintf(f,
            "usage: petri-agent evolve --spec SPEC.json [--population N] [--generations N]\n"
            "                          [--seed N] [--operators NAME=RATE,...] [--vms N]\n"
            "                          [--json] [-c FILE]\n"
            "  Evolves the spec's function on this host's VMs, generation by generation,\n"
            "  until the error is 0 or the generations run out; prints progress and the\n"
            "  winner. Exit 0 when solved, 1 when not, 2 on usage errors.\n"
            "  --operators: the breeding operators and their rates, normalised, as in a\n"
            "  population spec's \"operators\" (default crossover=0.4,subtree=0.2,\n"
            "  point=0.2,swap=0.1,hoist=0.05,shrink=0.05); known: %s.\n",
            ops_known);
}

int cmd_evolve(int argc, char **argv)
{
    common_args_t a = {0};
    evo_t e = {.n = 200, .max_gens = 100, .seed = 1};
    set_weights(&e, ops_default_rates, 100);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:o:h", common_long, NULL)) != -1) {
        if (common_opt(&a, c, optarg))
            continue;
        int64_t v = 0;
        switch (c) {
        case 'P':
        case 'G':
        case 'S':
            if (util_parse_i64(optarg, &v) != 0 || v < (c == 'S' ? 0 : 1) ||
                v > (c == 'P' ? 100000 : 1000000000)) {
                fprintf(stderr, "petri-agent evolve: bad number '%s'\n", optarg);
                return 2;
            }
            if (c == 'P')
                e.n = (int)v;
            else if (c == 'G')
                e.max_gens = (int)v;
            else
                e.seed = (uint64_t)v;
            break;
        case 'J':
            e.json = 1;
            break;
        case 'R': {
            double rates[OPS_N];
            char err[512];
            if (ops_parse_rates(optarg, rates, err, sizeof err) != 0) {
                fprintf(stderr, "petri-agent evolve: --operators: %s\n", err);
                return 2;
            }
            set_weights(&e, rates, 1000000);
            break;
        }
        case 'h':
            usage_evolve(stdout);
            return 0;
        default:
            usage_evolve(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "petri-agent evolve: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (e.n < ELITES + 2) {
        fprintf(stderr, "petri-agent evolve: --population must be at least %d\n", ELITES + 2);
        return 2;
    }
    oneshot_t os;
    oneshot_start(&os, &a, 0);
    e.os = &os;
    e.rng = e.seed;
    e.pop = calloc((size_t)e.n, sizeof *e.pop);
    e.next = calloc((size_t)e.n, sizeof *e.next);
    if (!e.pop || !e.next) {
        fprintf(stderr, "petri-agent: out of memory\n");
        return 1;
    }
    if (!e.json)
        printf("evolving %s/%u: population %d, up to %d generations, %d VMs, seed %" PRIu64 "\n",
               os.spec->function, os.spec->arity, e.n, e.max_gens, pool_total(os.pool), e.seed);
    e.t0_us = mono_us();
    e.pending = e.n;
    for (int i = 0; i < e.n; i++)
        breed_into(&e, i, "random", -1, -1);
    loop_run(os.loop);
    e.stopping = 1;
    double secs = (double)(mono_us() - e.t0_us) / 1e6;
    int code = e.solved ? 0 : 1;
    if (os.interrupted || os.failed) {
        fprintf(stderr, "petri-agent evolve: %s\n", os.interrupted ? "interrupted" : "VMs failed");
    } else if (e.json) { /* the last line: the run's outcome and its best genome */
        uint8_t h[CRYPTO_HASH_LEN];
        char hex[2 * CRYPTO_HASH_LEN + 1];
        crypto_hash(e.pop[0].src, e.pop[0].len, h);
        crypto_hex(h, sizeof h, hex);
        json_t *o = json_pack(
            "{s:b, s:i, s:I, s:I, s:f, s:o, s:s, s:s}", "solved", e.solved, "generation", e.gen,
            "evaluations", (json_int_t)e.evals, "reused", (json_int_t)e.reused, "seconds", secs,
            "best", isfinite(e.pop[0].fitness) ? json_real(e.pop[0].fitness) : json_null(), "hash",
            hex, "source", e.pop[0].src);
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(o);
    } else if (e.solved) {
        uint8_t h[CRYPTO_HASH_LEN];
        char hex[2 * CRYPTO_HASH_LEN + 1];
        crypto_hash(e.pop[0].src, e.pop[0].len, h);
        crypto_hex(h, sizeof h, hex);
        printf("\nsolved in generation %d after %" PRIu64 " evaluations (%.1f s)\n"
               "winner %s:\n%s\n",
               e.gen, e.evals, secs, hex, e.pop[0].src);
    } else {
        printf("not solved after %d generations (best error %g)\n", e.max_gens, e.pop[0].fitness);
    }
    oneshot_finish(&os);
    for (int i = 0; i < e.n; i++) {
        indiv_free(&e.pop[i]);
        indiv_free(&e.next[i]);
    }
    free(e.pop);
    free(e.next);
    return code;
}
