/* oneshot.c - petri-agent's one-shot commands: eval (score genome files),
 * breed (derive one child) and evolve (a small generational run, the
 * single-host demo). Each boots its own VMs, does the work, and exits. */
#include "oneshot.h"

#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "err.h"
#include "log.h"
#include "pool.h"
#include "settings.h"
#include "util.h"

static void on_pool_state(void *arg, int failed, const char *why)
{
    oneshot_t *os = arg;
    if (failed) {
        fprintf(stderr, "petri-agent: VMs failing: %s\n", why);
        os->failed = 1;
    }
    loop_stop(os->loop);
}

static void on_signal(loop_t *l, int signo, void *arg)
{
    oneshot_t *os = arg;
    (void)signo;
    os->interrupted = 1;
    loop_stop(l);
}

/* Parses an option shared by every one-shot command; 1 if it was one. */
int common_opt(common_args_t *a, int c, const char *arg)
{
    switch (c) {
    case 'c':
        a->config = arg;
        return 1;
    case 'o':
        if (a->noverrides < MAX_OVERRIDES)
            a->overrides[a->noverrides++] = (char *)arg;
        return 1;
    case 's':
        a->spec = arg;
        return 1;
    case 'V': {
        int64_t v;
        if (util_parse_i64(arg, &v) != 0 || v < 1 || v > 256) {
            fprintf(stderr, "petri-agent: --vms: '%s' is not a number in 1..256\n", arg);
            exit(2);
        }
        a->vms = (int)v;
        return 1;
    }
    }
    return 0;
}

/* Loads config and spec, starts the VMs. Exits 2 on bad input. */
void oneshot_start(oneshot_t *os, common_args_t *a, int want_vms)
{
    char err[512];
    memset(os, 0, sizeof *os);
    if (!a->spec) {
        fprintf(stderr, "petri-agent: --spec SPEC.json is required\n");
        exit(2);
    }
    if (spec_load_file(a->spec, &os->spec, err, sizeof err) != 0) {
        fprintf(stderr, "petri-agent: bad spec: %s\n", err);
        exit(2);
    }
    wire_buf_init(&os->spec_wire);
    spec_encode(os->spec, -1, &os->spec_wire);
    os->cfg = agent_config_load(a->config, a->overrides, a->noverrides, err, sizeof err);
    if (!os->cfg) {
        fprintf(stderr, "petri-agent: %s\n", err);
        exit(2);
    }
    int lvl = log_level_parse(cfg_str(os->cfg, "log", "level"));
    log_init("petri-agent", lvl < 0 ? LOG_LVL_WARN : (lvl < LOG_LVL_WARN ? LOG_LVL_WARN : lvl), 0);
    if (getenv("PETRI_DEBUG"))
        log_init("petri-agent", LOG_LVL_DEBUG, 0);
    pool_opts_t po;
    agent_pool_opts(os->cfg, &po);
    if (a->vms > 0)
        po.vms = a->vms;
    if (want_vms > 0 && po.vms > want_vms)
        po.vms = want_vms;
    os->loop = loop_new();
    if (!os->loop) {
        fprintf(stderr, "petri-agent: cannot create the event loop\n");
        exit(1);
    }
    loop_signal_add(os->loop, SIGINT, on_signal, os);
    loop_signal_add(os->loop, SIGTERM, on_signal, os);
    os->pool = pool_new(os->loop, &po, on_pool_state, os, err, sizeof err);
    if (!os->pool) {
        fprintf(stderr, "petri-agent: %s\n", err);
        exit(1);
    }
}

void oneshot_finish(oneshot_t *os)
{
    pool_destroy(&os->pool);
    loop_destroy(&os->loop);
    spec_destroy(&os->spec);
    wire_buf_free(&os->spec_wire);
    cfg_destroy(&os->cfg);
}

/* ------------------------------------------------------------------ eval */

typedef struct eval_item {
    const char *path;
    char hash[2 * CRYPTO_HASH_LEN + 1];
    int done;
    int status;
    double fitness;
    char *detail;
    double ms;
    uint64_t t0;
    uint32_t passed, cases; /* RESULT_EXT */
    double cost;
    int reused;
    json_t *metrics; /* object, NULL until a VM answered */
    json_t *errors;  /* array of per-case errors, NULL if none */
} eval_item_t;

typedef struct eval_run {
    oneshot_t *os;
    eval_item_t *items;
    int n, printed, finished;
} eval_run_t;

typedef struct eval_cb {
    eval_run_t *run;
    int i;
} eval_cb_t;

static void print_ready(eval_run_t *r)
{
    while (r->printed < r->n && r->items[r->printed].done) {
        eval_item_t *it = &r->items[r->printed++];
        json_t *o = json_pack("{s:s, s:s, s:s}", "genome", it->path, "hash", it->hash, "status",
                              wire_status_str(it->status));
        if (it->status == WIRE_ST_OK)
            json_object_set_new(o, "fitness", json_real(it->fitness));
        json_object_set_new(o, "detail", json_string(it->detail ? it->detail : ""));
        json_object_set_new(o, "ms", json_real(round(it->ms * 1000) / 1000));
        json_object_set_new(o, "passed", json_integer(it->passed));
        json_object_set_new(o, "cases", json_integer(it->cases));
        json_object_set_new(o, "cost", json_real(it->cost));
        json_object_set_new(o, "reused", json_boolean(it->reused));
        json_object_set_new(o, "metrics", it->metrics ? json_incref(it->metrics) : json_object());
        if (r->os->spec->per_case)
            json_object_set_new(o, "errors", it->errors ? json_incref(it->errors) : json_array());
        char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (s)
            printf("%s\n", s);
        fflush(stdout);
        free(s);
        json_decref(o);
    }
    if (r->printed == r->n)
        loop_stop(r->os->loop);
}

static void eval_done(void *arg, const pool_result_t *res)
{
    eval_cb_t *cb = arg;
    eval_item_t *it = &cb->run->items[cb->i];
    it->done = 1;
    it->status = res->status;
    it->fitness = res->fitness;
    it->detail = strdup(res->detail ? res->detail : "");
    it->ms = (double)(mono_us() - it->t0) / 1000.0;
    it->passed = res->passed;
    it->cases = res->cases;
    it->cost = res->cost;
    it->reused = res->reused;
    it->metrics = json_object();
    for (size_t i = 0; i < res->nmetrics && it->metrics; i++)
        json_object_set_new(it->metrics, res->metrics[i].name, json_real(res->metrics[i].value));
    if (res->nerrors) {
        it->errors = json_array();
        for (size_t i = 0; i < res->nerrors && it->errors; i++)
            json_array_append_new(it->errors, json_real(res->errors[i]));
    }
    print_ready(cb->run);
}

static void usage_eval(FILE *f)
{
    fprintf(f, "usage: petri-agent eval --spec SPEC.json [--vms N] [-c FILE] [-o sec.key=val] "
               "GENOME...\n"
               "  Boots VMs, scores each genome file against the spec, prints one JSON object "
               "per genome\n"
               "  per line, in argument order: genome, hash, status, fitness (when ok), detail, "
               "ms,\n"
               "  passed and cases (cases that passed, cases run), cost, reused, metrics "
               "(reductions,\n"
               "  heap_words, eval_us, then any an evaluator module returns) and, when the spec "
               "sets\n"
               "  per_case, errors (each case's error, in case order).\n"
               "  Exit 0 when every genome got a status, 2 on a bad spec or usage.\n");
}

const struct option common_long[] = {
    {"config", required_argument, NULL, 'c'},
    {"spec", required_argument, NULL, 's'},
    {"vms", required_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {"op", required_argument, NULL, 'O'},
    {"seed", required_argument, NULL, 'S'},
    {"population", required_argument, NULL, 'P'},
    {"generations", required_argument, NULL, 'G'},
    {"json", no_argument, NULL, 'J'},
    {"operators", required_argument, NULL, 'R'},
    {"count", required_argument, NULL, 'K'},
    {"score", no_argument, NULL, 'E'},
    {NULL, 0, NULL, 0},
};

int cmd_eval(int argc, char **argv)
{
    common_args_t a = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:o:h", common_long, NULL)) != -1) {
        if (common_opt(&a, c, optarg))
            continue;
        if (c == 'h') {
            usage_eval(stdout);
            return 0;
        }
        usage_eval(stderr);
        return 2;
    }
    int n = argc - optind;
    if (n < 1) {
        fprintf(stderr, "petri-agent eval: no genome files given\n");
        usage_eval(stderr);
        return 2;
    }
    oneshot_t os;
    oneshot_start(&os, &a, n);
    uint32_t cap = (uint32_t)cfg_int(os.cfg, "beam", "max_source_bytes");
    eval_run_t run = {.os = &os, .n = n};
    run.items = calloc((size_t)n, sizeof *run.items);
    eval_cb_t *cbs = calloc((size_t)n, sizeof *cbs);
    if (!run.items || !cbs) {
        fprintf(stderr, "petri-agent: out of memory\n");
        return 1;
    }
    for (int i = 0; i < n; i++) {
        eval_item_t *it = &run.items[i];
        it->path = argv[optind + i];
        it->t0 = mono_us();
        cbs[i] = (eval_cb_t){.run = &run, .i = i};
        char *src = NULL;
        size_t len = 0;
        /* read past the cap so the size error can name the real size */
        int rc = util_read_file(it->path, (size_t)64 << 20, &src, &len);
        if (rc != 0) {
            char d[512];
            snprintf(d, sizeof d, "cannot read %s: %s", it->path, err_str(rc));
            it->status = WIRE_ST_PARSE_ERROR;
            it->detail = strdup(d);
            it->done = 1;
            strcpy(it->hash, "");
            continue;
        }
        uint8_t h[CRYPTO_HASH_LEN];
        crypto_hash(src, len, h);
        crypto_hex(h, sizeof h, it->hash);
        int lang = spec_language_of_path(it->path);
        (void)cap;
        rc = pool_eval(os.pool, os.spec_wire.data, os.spec_wire.len, lang, (const uint8_t *)src,
                       len, eval_done, &cbs[i]);
        free(src);
        if (rc != 0) {
            it->status = WIRE_ST_INTERNAL;
            it->detail = strdup(err_str(rc));
            it->done = 1;
        }
    }
    print_ready(&run);
    if (run.printed < run.n)
        loop_run(os.loop);
    int rcode = 0;
    if (run.printed < run.n) {
        /* interrupted or the VMs failed: every genome still gets a line */
        for (int i = 0; i < n; i++) {
            if (!run.items[i].done) {
                run.items[i].done = 1;
                run.items[i].status = WIRE_ST_INTERNAL;
                run.items[i].detail = strdup(os.interrupted ? "interrupted" : "VMs failed");
            }
        }
        print_ready(&run);
        rcode = 1;
    }
    oneshot_finish(&os);
    for (int i = 0; i < n; i++) {
        free(run.items[i].detail);
        json_decref(run.items[i].metrics);
        json_decref(run.items[i].errors);
    }
    free(run.items);
    free(cbs);
    return rcode;
}

/* ----------------------------------------------------------------- breed */

/* Children in flight at once: bounds the copies of spec and parents queued
 * in the pool, whatever --count says. */
#define BREED_WINDOW 64
#define BREED_MAX_COUNT 10000000

typedef struct breed_item {
    int done;
    int status;
    double fitness;
    char *source; /* NULL when breeding failed */
    size_t len;
    char *detail;
    uint32_t passed, cases;
    uint8_t breeder[WIRE_BREEDER_LEN];
} breed_item_t;

typedef struct breed_run {
    oneshot_t *os;
    const char *op;
    uint64_t seed0;
    int64_t n, sent, printed;
    int score, json;
    breed_item_t *items; /* ring of BREED_WINDOW, indexed by child % BREED_WINDOW */
    const uint8_t *parents[2];
    size_t lens[2];
    int np;
    int submit_failed; /* the pool refused a job: stop sending */
    int text_failed;   /* text mode: the one child asked for could not be made */
    int finishing;     /* tearing down: the pool fails what is in flight */
} breed_run_t;

typedef struct breed_cb {
    breed_run_t *run;
    int64_t i;
} breed_cb_t;

static breed_cb_t breed_cbs[BREED_WINDOW];

static void breed_item_clear(breed_item_t *it)
{
    free(it->source);
    free(it->detail);
    memset(it, 0, sizeof *it);
}

/* One child as a JSON line: seed, bred, status, detail, breeder (the VM's
 * identity, null if it did not say), source (when bred) and, when scored,
 * fitness (when ok), passed and cases. */
static void breed_print_json(const breed_run_t *r, int64_t i, const breed_item_t *it)
{
    json_t *o = json_pack("{s:I, s:s, s:b}", "seed", (json_int_t)(r->seed0 + (uint64_t)i), "op",
                          r->op, "bred", it->source != NULL);
    json_object_set_new(o, "status", json_string(wire_status_str(it->status)));
    if (r->score && it->status == WIRE_ST_OK && it->source) {
        json_object_set_new(o, "fitness", json_real(it->fitness));
        json_object_set_new(o, "passed", json_integer(it->passed));
        json_object_set_new(o, "cases", json_integer(it->cases));
    }
    json_object_set_new(o, "detail", json_string(it->detail ? it->detail : ""));
    json_object_set_new(o, "breeder", pool_breeder_json(it->breeder));
    if (it->source)
        json_object_set_new(o, "source", json_stringn(it->source, it->len));
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(o);
}

static void breed_submit(breed_run_t *r);

/* Prints the children done, in seed order, and keeps the window full. */
static void breed_advance(breed_run_t *r)
{
    if (r->finishing)
        return;
    while (r->printed < r->sent && r->items[r->printed % BREED_WINDOW].done) {
        breed_item_t *it = &r->items[r->printed % BREED_WINDOW];
        if (r->json) {
            breed_print_json(r, r->printed, it);
        } else if (it->status == WIRE_ST_OK && it->source) {
            fwrite(it->source, 1, it->len, stdout);
            if (it->len && it->source[it->len - 1] != '\n')
                fputc('\n', stdout);
        }
        fflush(stdout);
        if (!r->json && it->status != WIRE_ST_OK)
            r->text_failed = 1; /* kept for the message */
        else
            breed_item_clear(it);
        r->printed++;
    }
    breed_submit(r);
    if (r->printed == r->n || r->submit_failed)
        loop_stop(r->os->loop);
}

static void breed_done(void *arg, const pool_result_t *res)
{
    breed_cb_t *cb = arg;
    breed_item_t *it = &cb->run->items[cb->i % BREED_WINDOW];
    it->done = 1;
    it->status = res->status;
    it->fitness = res->fitness;
    it->detail = strdup(res->detail ? res->detail : "");
    it->passed = res->passed;
    it->cases = res->cases;
    memcpy(it->breeder, res->breeder, WIRE_BREEDER_LEN);
    if (res->source && res->source_len) {
        it->source = malloc(res->source_len + 1);
        if (it->source) {
            memcpy(it->source, res->source, res->source_len);
            it->source[res->source_len] = '\0';
            it->len = res->source_len;
        }
    }
    breed_advance(cb->run);
}

static void breed_submit(breed_run_t *r)
{
    while (!r->finishing && r->sent < r->n && r->sent - r->printed < BREED_WINDOW &&
           !r->submit_failed) {
        int64_t i = r->sent++;
        breed_cb_t *cb = &breed_cbs[i % BREED_WINDOW];
        *cb = (breed_cb_t){.run = r, .i = i};
        uint64_t seed = r->seed0 + (uint64_t)i;
        int rc = r->score
                     ? pool_breed_eval(r->os->pool, r->os->spec_wire.data, r->os->spec_wire.len,
                                       r->op, seed, r->parents, r->lens, r->np, breed_done, cb)
                     : pool_breed(r->os->pool, r->os->spec_wire.data, r->os->spec_wire.len, r->op,
                                  seed, r->parents, r->lens, r->np, breed_done, cb);
        if (rc != 0) {
            fprintf(stderr, "petri-agent breed: seed %llu: %s\n", (unsigned long long)seed,
                    err_str(rc));
            r->submit_failed = 1;
        }
    }
}

static void usage_breed(FILE *f)
{
    fprintf(f,
            "usage: petri-agent breed --spec SPEC.json --op OP --seed N [--count K] [--score]\n"
            "                         [--json] [--vms N] [-c FILE] [PARENT [PARENT2]]\n"
            "  Derives a child and prints its source. The same spec, parents, operator and seed\n"
            "  give the same child, byte for byte, on any VM.\n"
            "  OP: point, swap, subtree, crossover (two parents), hoist, shrink, random (no\n"
            "  parent), and for typed specs call_swap, literal, pattern, guard, clause_add,\n"
            "  clause_del, clause_swap, clause_xover (two parents), helper, inline, fold,\n"
            "  recurse, wrap.\n"
            "  --count K   children of seeds N .. N+K-1 (default 1)\n"
            "  --score     score each child on the spec's cases as it is bred\n"
            "  --json      one JSON object per child per line, in seed order: seed, op, bred,\n"
            "              status, detail, breeder (the identity of the VM code that bred\n"
            "              it, as lineage records keep it), source (when bred) and, with\n"
            "              --score, fitness, passed and cases; implied by --count above 1\n"
            "              and by --score\n"
            "  Exit: 0, 1 if the operator fails on the one child asked for (or the VMs fail),\n"
            "  2 on usage errors. With --json, a child the operator could not make is a line\n"
            "  with bred false, not a failure of the command.\n");
}

int cmd_breed(int argc, char **argv)
{
    common_args_t a = {0};
    const char *op = NULL;
    uint64_t seed = 0;
    int64_t count = 1;
    int have_seed = 0, score = 0, json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:o:h", common_long, NULL)) != -1) {
        if (common_opt(&a, c, optarg))
            continue;
        if (c == 'O') {
            op = optarg;
        } else if (c == 'S') {
            int64_t v;
            if (util_parse_i64(optarg, &v) != 0 || v < 0) {
                fprintf(stderr, "petri-agent breed: --seed: '%s' is not a non-negative integer\n",
                        optarg);
                return 2;
            }
            seed = (uint64_t)v;
            have_seed = 1;
        } else if (c == 'K') {
            if (util_parse_i64(optarg, &count) != 0 || count < 1 || count > BREED_MAX_COUNT) {
                fprintf(stderr, "petri-agent breed: --count: '%s' is not a number in 1..%d\n",
                        optarg, BREED_MAX_COUNT);
                return 2;
            }
        } else if (c == 'E') {
            score = 1;
        } else if (c == 'J') {
            json = 1;
        } else if (c == 'h') {
            usage_breed(stdout);
            return 0;
        } else {
            usage_breed(stderr);
            return 2;
        }
    }
    if (have_seed && seed > (uint64_t)INT64_MAX - (uint64_t)(count - 1)) {
        fprintf(stderr, "petri-agent breed: --seed %llu with --count %lld runs past %lld\n",
                (unsigned long long)seed, (long long)count, (long long)INT64_MAX);
        return 2;
    }
    int np = argc - optind;
    if (!op || !have_seed || np > 2) {
        fprintf(stderr, "petri-agent breed: %s\n",
                !op          ? "--op is required"
                : !have_seed ? "--seed is required"
                             : "at most 2 parents");
        usage_breed(stderr);
        return 2;
    }
    char *srcs[2] = {NULL, NULL};
    size_t lens[2] = {0, 0};
    for (int i = 0; i < np; i++) {
        int rc = util_read_file(argv[optind + i], 16 << 20, &srcs[i], &lens[i]);
        if (rc != 0) {
            fprintf(stderr, "petri-agent breed: cannot read %s: %s\n", argv[optind + i],
                    err_str(rc));
            free(srcs[0]);
            return 2;
        }
    }
    oneshot_t os;
    oneshot_start(&os, &a, count < BREED_WINDOW ? (int)count : BREED_WINDOW);
    breed_item_t items[BREED_WINDOW];
    memset(items, 0, sizeof items);
    breed_run_t run = {.os = &os,
                       .op = op,
                       .seed0 = seed,
                       .n = count,
                       .score = score,
                       .json = json || score || count > 1,
                       .items = items,
                       .parents = {(uint8_t *)srcs[0], (uint8_t *)srcs[1]},
                       .lens = {lens[0], lens[1]},
                       .np = np};
    breed_submit(&run);
    if (run.printed < run.n && !run.submit_failed)
        loop_run(os.loop);
    int code = 0;
    if (run.submit_failed) {
        code = 1;
    } else if (run.printed < run.n) {
        fprintf(stderr, "petri-agent breed: %s\n",
                os.interrupted ? "interrupted" : "the VM failed");
        code = 1;
    } else if (run.text_failed) {
        breed_item_t *it = &items[0];
        fprintf(stderr, "petri-agent breed: %s: %s\n", wire_status_str(it->status),
                it->detail ? it->detail : "");
        code = 1;
    }
    run.finishing = 1; /* the pool fails what is still in flight: no new jobs */
    oneshot_finish(&os);
    for (int i = 0; i < BREED_WINDOW; i++)
        breed_item_clear(&items[i]);
    free(srcs[0]);
    free(srcs[1]);
    return code;
}
