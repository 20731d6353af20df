/* test_pool.c - the VM supervisor with real BEAM VMs: an evaluation and a
 * breed come back with their results, a killed VM is replaced and its work
 * retried, scaling up and down changes the VMs that run, a graceful stop
 * fails queued work and ends every VM. With a scripted VM
 * (tests/integration/fake_erl.py): a genome that freezes or kills its VM is
 * blamed (vm_killed) and its neighbours get their results, such deaths do
 * not count towards the restart intensity while other deaths do, and a VM
 * past the atom threshold is recycled. Then RESULT_EXT decoding: the
 * decoder on crafted bytes, and end to end through a fake VM (this binary,
 * run as the VM with PETRI_TEST_FAKE_VM set) whose results carry, omit or
 * break RESULT_EXT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "err.h"
#include "log.h"
#include "pool.h"
#include "spec.h"
#include "vm.h"

typedef struct res {
    int n;
    int status;
    double fitness;
    char src[4096];
    uint32_t passed, cases;
    double cost;
    int reused;
    size_t nmetrics, nerrors;
    pool_metric_t metrics[POOL_MAX_METRICS];
    double errors[16];
    uint8_t breeder[WIRE_BREEDER_LEN];
} res_t;

static int stopped;

static void on_state(void *arg, int failed, const char *why)
{
    (void)arg;
    (void)why;
    stopped = failed ? -1 : 1;
}

static void on_done(void *arg, const pool_result_t *r)
{
    res_t *x = arg;
    x->n++;
    x->status = r->status;
    x->fitness = r->fitness;
    x->passed = r->passed;
    x->cases = r->cases;
    x->cost = r->cost;
    x->reused = r->reused;
    x->nmetrics = r->nmetrics;
    x->nerrors = r->nerrors;
    memcpy(x->breeder, r->breeder, WIRE_BREEDER_LEN);
    for (size_t i = 0; i < r->nmetrics && i < POOL_MAX_METRICS; i++)
        x->metrics[i] = r->metrics[i];
    for (size_t i = 0; i < r->nerrors && i < 16; i++)
        x->errors[i] = r->errors[i];
    if (r->source)
        snprintf(x->src, sizeof x->src, "%.*s", (int)r->source_len, (const char *)r->source);
}

static void pump_until(loop_t *l, volatile int *cond, int want, int ms)
{
    uint64_t end = mono_ms() + (uint64_t)ms;
    while (*cond < want && mono_ms() < end)
        loop_run_once(l, 20);
}

static const char *good = "-module(g).\n-export([f/1]).\nf(X) -> X * X + 2 * X - 1.\n";
/* Right too, after a few hundred ms of work (about 20M reductions a case):
 * still running when the test kills its VM, however loaded the machine. */
static const char *slow = "-module(g).\n-export([f/1]).\n"
                          "f(X) -> loop(10000000, 0) * 0 + X * X + 2 * X - 1.\n"
                          "loop(0, A) -> A;\nloop(N, A) -> loop(N - 1, (A + N) rem 7).\n";

static void test_pool_with_real_vms(void **state)
{
    (void)state;
    log_init("test", LOG_LVL_WARN, 0);
    json_t *j = json_loads("{\"function\":\"f/1\",\"fitness\":{\"cases\":["
                           "{\"in\":[0],\"out\":-1},{\"in\":[2],\"out\":7}]}}",
                           0, NULL);
    spec_t *spec = NULL;
    char err[256];
    assert_int_equal(spec_from_json(j, NULL, &spec, err, sizeof err), 0);
    json_decref(j);
    wire_buf_t sw;
    wire_buf_init(&sw);
    spec_encode(spec, -1, &sw);
    loop_t *l = loop_new();
    pool_opts_t o = {.erl = "erl",
                     .code_path = PETRI_BEAM_DIR,
                     .elixir_path = "",
                     .vms = 1,
                     .max_vms = 2,
                     .slots = 8,
                     .pipeline = 2,
                     .heartbeat_interval_ms = 100,
                     .heartbeat_timeout_ms = 3000,
                     .boot_timeout_ms = 20000,
                     .max_loads = 0,
                     .max_rss_mb = 0,
                     .backoff_min_ms = 10,
                     .backoff_max_ms = 100,
                     .intensity = 10,
                     .period_ms = 60000,
                     .max_source_bytes = 65536};
    pool_t *p = pool_new(l, &o, on_state, NULL, err, sizeof err);
    assert_non_null(p);

    res_t r = {0};
    assert_int_equal(
        pool_eval(p, sw.data, sw.len, -1, (const uint8_t *)good, strlen(good), on_done, &r), 0);
    pump_until(l, &r.n, 1, 30000);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.status, WIRE_ST_OK);
    assert_true(r.fitness == 0);
    assert_int_equal(pool_ready(p), 1);
    static const uint8_t zero[WIRE_BREEDER_LEN];
    assert_memory_equal(r.breeder, zero, WIRE_BREEDER_LEN); /* an eval: nothing bred */

    res_t b = {0};
    const uint8_t *parents[1] = {(const uint8_t *)good};
    size_t lens[1] = {strlen(good)};
    assert_int_equal(pool_breed(p, sw.data, sw.len, "point", 7, parents, lens, 1, on_done, &b), 0);
    pump_until(l, &b.n, 1, 30000);
    assert_int_equal(b.status, WIRE_ST_OK);
    assert_non_null(strstr(b.src, "f(X) ->"));
    /* the VM's breeder, as its hello said */
    assert_memory_not_equal(b.breeder, zero, WIRE_BREEDER_LEN);
    char hex[2 * WIRE_BREEDER_LEN + 1];
    crypto_hex(b.breeder, WIRE_BREEDER_LEN, hex);
    json_t *st0 = pool_status_json(p);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(st0, "vms"), 0), "breeder")),
                        hex);
    json_decref(st0);
    /* what the agent announces to the coordinator: the ready VM's breeder, once */
    uint8_t br[WIRE_MAX_BREEDERS][WIRE_BREEDER_LEN];
    assert_int_equal(pool_breeders(p, br, WIRE_MAX_BREEDERS), 1);
    assert_memory_equal(br[0], b.breeder, WIRE_BREEDER_LEN);
    assert_int_equal(pool_breeders(p, br, 0), 0);

    /* breed and score in one request: the child's source and its fitness */
    res_t be = {0};
    assert_int_equal(
        pool_breed_eval(p, sw.data, sw.len, "point", 7, parents, lens, 1, on_done, &be), 0);
    pump_until(l, &be.n, 1, 30000);
    assert_int_equal(be.status, WIRE_ST_OK);
    assert_true(be.fitness >= 0);
    assert_string_equal(be.src, b.src); /* same parents, operator and seed: same child */
    assert_memory_equal(be.breeder, b.breeder, WIRE_BREEDER_LEN);
    /* a parent that does not parse: the breeding's status, no child */
    res_t bad = {0};
    const uint8_t *junk[1] = {(const uint8_t *)"-module("};
    size_t jlen[1] = {8};
    assert_int_equal(pool_breed_eval(p, sw.data, sw.len, "point", 7, junk, jlen, 1, on_done, &bad),
                     0);
    pump_until(l, &bad.n, 1, 30000);
    assert_int_equal(bad.status, WIRE_ST_PARSE_ERROR);
    assert_string_equal(bad.src, "");

    /* over the source cap: answered at once, no VM involved */
    res_t big = {0};
    char *huge = malloc(70000);
    memset(huge, 'x', 70000);
    assert_int_equal(pool_eval(p, sw.data, sw.len, -1, (uint8_t *)huge, 70000, on_done, &big), 0);
    assert_int_equal(big.n, 1);
    assert_int_equal(big.status, WIRE_ST_PARSE_ERROR);
    free(huge);

    /* kill the VM while it holds work: the work is retried on its replacement
     * (slow: a quick genome could be answered before the kill lands) */
    json_t *sj = json_loads("{\"function\":\"f/1\",\"fitness\":{\"cases\":["
                            "{\"in\":[0],\"out\":-1},{\"in\":[2],\"out\":7}]},"
                            "\"limits\":{\"timeout_ms\":60000,\"reductions\":1000000000}}",
                            0, NULL);
    spec_t *slow_spec = NULL;
    assert_int_equal(spec_from_json(sj, NULL, &slow_spec, err, sizeof err), 0);
    json_decref(sj);
    wire_buf_t ssw;
    wire_buf_init(&ssw);
    spec_encode(slow_spec, -1, &ssw);
    json_t *st = pool_status_json(p);
    int pid = (int)json_integer_value(
        json_object_get(json_array_get(json_object_get(st, "vms"), 0), "pid"));
    json_decref(st);
    res_t k = {0};
    pool_eval(p, ssw.data, ssw.len, -1, (const uint8_t *)slow, strlen(slow), on_done, &k);
    kill(pid, SIGKILL);
    pump_until(l, &k.n, 1, 60000);
    wire_buf_free(&ssw);
    spec_destroy(&slow_spec);
    assert_int_equal(k.n, 1);
    assert_int_equal(k.status, WIRE_ST_OK); /* a suspect once, innocent alone */
    pool_stats_t ps;
    pool_get_stats(p, &ps, NULL, 0);
    assert_int_equal(ps.job_deaths, 1);
    assert_int_equal(ps.suspects, 1);
    assert_int_equal(ps.blamed, 0);
    volatile int ready = 0;
    uint64_t end = mono_ms() + 30000;
    while ((ready = pool_ready(p)) < 1 && mono_ms() < end)
        loop_run_once(l, 20);
    assert_int_equal(pool_ready(p), 1);

    /* scale up to two VMs, then back down to one */
    assert_int_equal(pool_set_target(p, 5), 2); /* clamped to max_vms */
    end = mono_ms() + 30000;
    while (pool_ready(p) < 2 && mono_ms() < end)
        loop_run_once(l, 20);
    assert_int_equal(pool_ready(p), 2);
    assert_int_equal(pool_breeders(p, br, WIRE_MAX_BREEDERS), 1); /* two VMs, one code */
    assert_memory_equal(br[0], b.breeder, WIRE_BREEDER_LEN);
    assert_int_equal(pool_set_target(p, 1), 1);
    end = mono_ms() + 30000;
    while (pool_ready(p) != 1 && mono_ms() < end)
        loop_run_once(l, 20);
    assert_int_equal(pool_ready(p), 1);
    assert_int_equal(pool_total(p), 1);

    /* graceful stop: queued work fails at once, every VM ends */
    stopped = 0;
    res_t q = {0};
    pool_eval(p, sw.data, sw.len, -1, (const uint8_t *)good, strlen(good), on_done, &q);
    pool_stop(p, 2000);
    pump_until(l, &stopped, 1, 30000);
    assert_int_equal(stopped, 1);
    assert_int_equal(q.n, 1);
    assert_int_equal(
        pool_eval(p, sw.data, sw.len, -1, (const uint8_t *)good, strlen(good), on_done, &q),
        ERR_STATE);
    pool_destroy(&p);
    loop_destroy(&l);
    wire_buf_free(&sw);
    spec_destroy(&spec);
}

/* ---- with the scripted VM ---- */

#define FAKE_ERL PETRI_BEAM_DIR "/../../../tests/integration/fake_erl.py"

typedef struct fake {
    loop_t *l;
    pool_t *p;
    wire_buf_t sw;
    spec_t *spec;
} fake_t;

static pool_opts_t fake_opts(int vms, int intensity)
{
    return (pool_opts_t){.erl = FAKE_ERL,
                         .code_path = PETRI_BEAM_DIR,
                         .elixir_path = "",
                         .vms = vms,
                         .max_vms = vms,
                         .slots = 8,
                         .pipeline = 4,
                         .heartbeat_interval_ms = 50,
                         .heartbeat_timeout_ms = 400,
                         .boot_timeout_ms = 5000,
                         .backoff_min_ms = 10,
                         .backoff_max_ms = 100,
                         .intensity = intensity,
                         .period_ms = 600000,
                         .max_source_bytes = 65536};
}

static void fake_start(fake_t *f, const pool_opts_t *o)
{
    log_init("test", LOG_LVL_ERROR, 0);
    setenv("PETRI_TEST_FAKE_MODE", "scripted", 1);
    json_t *j = json_loads("{\"function\":\"f/1\",\"fitness\":{\"cases\":"
                           "[{\"in\":[0],\"out\":0}]}}",
                           0, NULL);
    char err[256];
    assert_int_equal(spec_from_json(j, NULL, &f->spec, err, sizeof err), 0);
    json_decref(j);
    wire_buf_init(&f->sw);
    spec_encode(f->spec, -1, &f->sw);
    f->l = loop_new();
    stopped = 0;
    f->p = pool_new(f->l, o, on_state, NULL, err, sizeof err);
    assert_non_null(f->p);
    uint64_t end = mono_ms() + 10000;
    while (pool_ready(f->p) < o->vms && mono_ms() < end)
        loop_run_once(f->l, 20);
    assert_int_equal(pool_ready(f->p), o->vms);
}

static void fake_stop(fake_t *f)
{
    pool_destroy(&f->p);
    loop_destroy(&f->l);
    wire_buf_free(&f->sw);
    spec_destroy(&f->spec);
    unsetenv("PETRI_TEST_FAKE_MODE");
}

static void fake_eval(fake_t *f, const char *src, res_t *r)
{
    assert_int_equal(
        pool_eval(f->p, f->sw.data, f->sw.len, -1, (const uint8_t *)src, strlen(src), on_done, r),
        0);
}

static pool_stats_t fake_stats(fake_t *f)
{
    pool_stats_t st;
    pool_get_stats(f->p, &st, NULL, 0);
    return st;
}

static int vm_pid_of(pool_t *p, int index)
{
    json_t *st = pool_status_json(p);
    int pid = (int)json_integer_value(
        json_object_get(json_array_get(json_object_get(st, "vms"), (size_t)index), "pid"));
    json_decref(st);
    return pid;
}

/* A freezer in a pipeline of good genomes, on two VMs, with an intensity of
 * 1: a death that counted twice would fail the pool. */
static void test_pool_blames_the_genome_that_kills_its_vm(void **state)
{
    (void)state;
    fake_t f = {0};
    pool_opts_t o = fake_opts(2, 1);
    fake_start(&f, &o);
    for (int round = 0; round < 3; round++) {
        const char *killer = round == 1 ? "f(X) -> ABORT." : "f(X) -> FREEZE.";
        res_t bad = {0}, fine[7] = {{0}};
        fake_eval(&f, killer, &bad); /* first: its VM's pipeline fills behind it */
        for (int i = 0; i < 7; i++)
            fake_eval(&f, "f(X) -> X.", &fine[i]);
        uint64_t end = mono_ms() + 20000;
        int done = 0;
        while (done < 8 && mono_ms() < end) {
            loop_run_once(f.l, 20);
            done = bad.n;
            for (int i = 0; i < 7; i++)
                done += fine[i].n;
        }
        assert_int_equal(bad.n, 1);
        assert_int_equal(bad.status, WIRE_ST_VM_KILLED);
        for (int i = 0; i < 7; i++) {
            assert_int_equal(fine[i].n, 1);
            assert_int_equal(fine[i].status, WIRE_ST_OK);
        }
        pool_stats_t st = fake_stats(&f);
        assert_int_equal(st.blamed, (uint64_t)round + 1);
        assert_int_equal(st.evals[WIRE_ST_INTERNAL], 0);
        assert_int_equal(st.failed, 0);
    }
    pool_stats_t st = fake_stats(&f);
    assert_int_equal(st.job_deaths, 6); /* each killer: once among others, once alone */
    assert_int_equal(st.evals[WIRE_ST_VM_KILLED], 3);
    assert_int_equal(stopped, 0);
    fake_stop(&f);
}

/* Deaths that are no genome's fault still count: with no job in flight, at
 * once; with jobs in flight, once every suspect has run alone unharmed. */
static void test_pool_counts_deaths_that_no_job_caused(void **state)
{
    (void)state;
    fake_t f = {0};
    pool_opts_t o = fake_opts(1, 0); /* the first failure fails the pool */
    fake_start(&f, &o);
    res_t r = {0};
    fake_eval(&f, "f(X) -> SLOW.", &r);
    kill(vm_pid_of(f.p, 0), SIGKILL); /* while it holds the job */
    pump_until(f.l, &r.n, 1, 20000);
    assert_int_equal(r.status, WIRE_ST_OK); /* innocent: ran alone, answered */
    assert_int_equal(stopped, -1);          /* ... so the death was the VM's own */
    assert_int_equal(fake_stats(&f).blamed, 0);
    fake_stop(&f);

    fake_t g = {0};
    o = fake_opts(1, 1);
    fake_start(&g, &o);
    for (int i = 0; i < 2; i++) { /* idle deaths: the second one is past intensity 1 */
        int pid = vm_pid_of(g.p, 0);
        kill(pid, SIGKILL);
        uint64_t end = mono_ms() + 10000;
        while (stopped == 0 && (vm_pid_of(g.p, 0) == pid || pool_ready(g.p) < 1) && mono_ms() < end)
            loop_run_once(g.l, 20);
    }
    assert_int_equal(stopped, -1);
    assert_int_equal(fake_stats(&g).job_deaths, 0);
    fake_stop(&g);
}

/* A VM whose pongs report atoms past max_atoms is drained and replaced. */
static void test_pool_recycles_a_vm_past_the_atom_threshold(void **state)
{
    (void)state;
    fake_t f = {0};
    pool_opts_t o = fake_opts(1, 0);
    o.max_atoms = 1250; /* the fake reports 1000 + 100 per evaluation */
    fake_start(&f, &o);
    int pid = vm_pid_of(f.p, 0);
    res_t r[3] = {{0}};
    for (int i = 0; i < 3; i++)
        fake_eval(&f, "f(X) -> X.", &r[i]);
    uint64_t end = mono_ms() + 10000;
    while ((fake_stats(&f).recycles < 1 || pool_ready(f.p) < 1) && mono_ms() < end)
        loop_run_once(f.l, 20);
    for (int i = 0; i < 3; i++)
        assert_int_equal(r[i].status, WIRE_ST_OK);
    pool_stats_t st = fake_stats(&f);
    assert_int_equal(st.recycles, 1);
    assert_int_equal(st.restarts, 0);
    assert_int_not_equal(vm_pid_of(f.p, 0), pid);
    assert_int_equal(stopped, 0); /* graceful: no failure counted */
    res_t after = {0};
    fake_eval(&f, "f(X) -> X.", &after);
    pump_until(f.l, &after.n, 1, 10000);
    assert_int_equal(after.status, WIRE_ST_OK);
    fake_stop(&f);
}

/* ---- RESULT_EXT ---- */

/* Writes RESULT_EXT with the given pieces. nerrors errors of value 1.5. */
static void put_ext(wire_buf_t *b, uint32_t passed, uint32_t cases, double cost, uint8_t reused,
                    const char *const *names, const double *values, uint32_t nm, uint32_t nerrors)
{
    wire_put_u32(b, passed);
    wire_put_u32(b, cases);
    wire_put_f64(b, cost);
    wire_put_u8(b, reused);
    wire_put_u32(b, nm);
    for (uint32_t i = 0; i < nm; i++) {
        wire_put_str(b, names[i]);
        wire_put_f64(b, values[i]);
    }
    wire_put_u32(b, nerrors);
    for (uint32_t i = 0; i < nerrors; i++)
        wire_put_f64(b, 1.5);
}

static int read_ext(const wire_buf_t *b, size_t len, int status, pool_result_t *res,
                    pool_metric_t *m, double **errors)
{
    wire_rd_t r;
    wire_rd_init(&r, b->data, len);
    return pool_read_result_ext(&r, status, res, m, errors);
}

/* A VM that is gone before a write: the write is an error and a broken
 * callback, never SIGPIPE (which would end this process: cmocka reports it). */
static int broken_calls;
static void vm_frame_ignored(vm_t *vm, const uint8_t *buf, size_t len, void *arg)
{
    (void)vm, (void)buf, (void)len, (void)arg;
}
static void vm_broken_counted(vm_t *vm, const char *reason, void *arg)
{
    (void)vm, (void)reason, (void)arg;
    broken_calls++;
}

static void test_vm_send_to_a_dead_vm_is_an_error_not_a_signal(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_DFL); /* as a process that never ignored it */
    loop_t *l = loop_new();
    vm_spawn_opts_t so = {.erl = "/bin/true", .code_path = PETRI_BEAM_DIR, .slots = 1};
    vm_callbacks_t cb = {.frame = vm_frame_ignored, .broken = vm_broken_counted};
    char err[256];
    broken_calls = 0;
    vm_t *vm = vm_spawn(l, &so, &cb, NULL, err, sizeof err);
    assert_non_null(vm);
    int status = 0;
    assert_int_equal(waitpid(vm_pid(vm), &status, 0), vm_pid(vm)); /* its pipe ends are closed */
    static const uint8_t frame[64];
    assert_int_equal(vm_send(vm, frame, sizeof frame), ERR_STATE);
    assert_int_equal(broken_calls, 1);
    assert_int_equal(vm_send(vm, frame, sizeof frame), ERR_STATE); /* reported once */
    assert_int_equal(broken_calls, 1);
    vm_destroy(&vm);
    loop_destroy(&l);
}

static void test_result_ext_decoder(void **state)
{
    (void)state;
    static const char *const names[] = {"reductions", "heap_words", "eval_us", "score"};
    static const double values[] = {1000, 233, 12, -0.5};
    pool_metric_t m[POOL_MAX_METRICS];
    double *errors = NULL;
    pool_result_t res;
    wire_buf_t b;
    wire_buf_init(&b);

    /* a full extension */
    put_ext(&b, 2, 3, 7.25, 1, names, values, 4, 3);
    assert_int_equal(read_ext(&b, b.len, WIRE_ST_OK, &res, m, &errors), 0);
    assert_int_equal(res.passed, 2);
    assert_int_equal(res.cases, 3);
    assert_true(res.cost == 7.25);
    assert_int_equal(res.reused, 1);
    assert_int_equal(res.nmetrics, 4);
    assert_string_equal(res.metrics[3].name, "score");
    assert_true(res.metrics[3].value == -0.5);
    assert_int_equal(res.nerrors, 3);
    assert_true(res.errors[2] == 1.5);
    assert_ptr_equal(res.errors, errors);
    free(errors);

    /* every truncation of it fails (and zeroes), except no bytes at all */
    size_t full = b.len;
    for (size_t len = 1; len < full; len++) {
        int rc = read_ext(&b, len, WIRE_ST_OK, &res, m, &errors);
        if (rc == 0)
            fail_msg("a RESULT_EXT cut at %zu of %zu bytes was accepted", len, full);
        assert_int_equal(res.cases, 0);
        assert_int_equal(res.nmetrics, 0);
        assert_null(errors);
    }
    /* no bytes: a VM from before RESULT_EXT */
    assert_int_equal(read_ext(&b, 0, WIRE_ST_OK, &res, m, &errors), 0);
    assert_int_equal(res.passed + res.cases + res.nmetrics + res.nerrors + res.reused, 0);
    assert_true(res.cost == 0);
    assert_null(errors);
    /* trailing bytes after it are a newer VM's: ignored */
    wire_put_u64(&b, 42);
    assert_int_equal(read_ext(&b, b.len, WIRE_ST_OK, &res, m, &errors), 0);
    assert_int_equal(res.passed, 2);
    free(errors);

    /* an error status carries zeros */
    wire_buf_reset(&b);
    put_ext(&b, 0, 0, 0, 0, names, values, 3, 0);
    assert_int_equal(read_ext(&b, b.len, WIRE_ST_TIMEOUT, &res, m, &errors), 0);
    assert_int_equal(res.nmetrics, 3);

    /* each way of breaking the contract */
    static const double nan_values[] = {1, NAN};
    static const double inf_values[] = {INFINITY};
    static const char *const empty_name[] = {""};
    static const char *const long_name[] = {"a_metric_name_of_thirty_two_byte"};
    static const char *const ok_name31[] = {"a_metric_name_of_thirty_one_byt"};
    const char *many[POOL_MAX_METRICS + 1];
    double many_v[POOL_MAX_METRICS + 1];
    for (int i = 0; i <= POOL_MAX_METRICS; i++) {
        many[i] = "m";
        many_v[i] = i;
    }
    struct {
        const char *what;
        uint32_t passed, cases;
        double cost;
        uint8_t reused;
        const char *const *names;
        const double *values;
        uint32_t nm, ne;
        int status;
    } bad[] = {
        {"passed > cases", 4, 3, 0, 0, names, values, 0, 0, WIRE_ST_OK},
        {"NaN cost", 0, 0, NAN, 0, names, values, 0, 0, WIRE_ST_OK},
        {"negative cost", 0, 0, -1, 0, names, values, 0, 0, WIRE_ST_OK},
        {"reused 2", 0, 0, 0, 2, names, values, 0, 0, WIRE_ST_OK},
        {"NaN metric", 0, 0, 0, 0, names, nan_values, 2, 0, WIRE_ST_OK},
        {"infinite metric", 0, 0, 0, 0, names, inf_values, 1, 0, WIRE_ST_OK},
        {"empty name", 0, 0, 0, 0, empty_name, values, 1, 0, WIRE_ST_OK},
        {"32-byte name", 0, 0, 0, 0, long_name, values, 1, 0, WIRE_ST_OK},
        {"36 metrics", 0, 0, 0, 0, many, many_v, POOL_MAX_METRICS + 1, 0, WIRE_ST_OK},
        {"fewer errors than cases", 1, 3, 0, 0, names, values, 0, 2, WIRE_ST_OK},
        {"errors over the case cap", 0, SPEC_MAX_CASES + 1, 0, 0, names, values, 0,
         SPEC_MAX_CASES + 1, WIRE_ST_OK},
        {"cases on a crash", 1, 2, 0, 0, names, values, 0, 0, WIRE_ST_CRASH},
        {"errors on a timeout", 0, 0, 0, 0, names, values, 0, 1, WIRE_ST_TIMEOUT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wire_buf_reset(&b);
        put_ext(&b, bad[i].passed, bad[i].cases, bad[i].cost, bad[i].reused, bad[i].names,
                bad[i].values, bad[i].nm, bad[i].ne);
        int rc = read_ext(&b, b.len, bad[i].status, &res, m, &errors);
        if (rc == 0)
            fail_msg("accepted: %s", bad[i].what);
        assert_null(errors);
        assert_int_equal(res.nmetrics + res.nerrors + res.cases, 0);
    }
    /* the limits themselves pass: 35 metrics, a 31-byte name, 10000 errors */
    wire_buf_reset(&b);
    put_ext(&b, 0, 0, 0, 0, many, many_v, POOL_MAX_METRICS, 0);
    assert_int_equal(read_ext(&b, b.len, WIRE_ST_OK, &res, m, &errors), 0);
    assert_int_equal(res.nmetrics, POOL_MAX_METRICS);
    wire_buf_reset(&b);
    put_ext(&b, 0, 0, 0, 0, ok_name31, values, 1, 0);
    assert_int_equal(read_ext(&b, b.len, WIRE_ST_OK, &res, m, &errors), 0);
    wire_buf_reset(&b);
    put_ext(&b, SPEC_MAX_CASES, SPEC_MAX_CASES, 0, 0, names, values, 0, SPEC_MAX_CASES);
    assert_int_equal(read_ext(&b, b.len, WIRE_ST_OK, &res, m, &errors), 0);
    assert_int_equal(res.nerrors, SPEC_MAX_CASES);
    free(errors);
    /* more errors than cases: a split_tuples spec's tuple cases (3 cases, 5 errors) */
    wire_buf_reset(&b);
    put_ext(&b, 1, 3, 0, 0, names, values, 0, 5);
    assert_int_equal(read_ext(&b, b.len, WIRE_ST_OK, &res, m, &errors), 0);
    assert_int_equal(res.cases, 3);
    assert_int_equal(res.nerrors, 5);
    free(errors);
    wire_buf_free(&b);
}

/* -- the fake VM: this binary with PETRI_TEST_FAKE_VM=<mode> -- */

static void fake_send(wire_buf_t *b)
{
    assert_int_equal(wire_end(b), 0);
    uint8_t n[4] = {(uint8_t)(b->len >> 24), (uint8_t)(b->len >> 16), (uint8_t)(b->len >> 8),
                    (uint8_t)b->len};
    if (write(4, n, 4) != 4 || write(4, b->data, b->len) != (ssize_t)b->len)
        _exit(3);
}

static int read_full(int fd, void *p, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, (uint8_t *)p + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* The RESULT_EXT of the mode; "old" writes none. */
static void fake_ext(wire_buf_t *b, const char *mode)
{
    static const char *const names[] = {"reductions", "heap_words", "eval_us", "score"};
    static const double values[] = {1000, 233, 12, 0.25};
    static const double nan_v[] = {NAN};
    static const char *const long_name[] = {"a_metric_name_of_thirty_two_byte"};
    if (!strcmp(mode, "ext"))
        put_ext(b, 2, 3, 1.5, 1, names, values, 4, 3);
    else if (!strcmp(mode, "nan_metric"))
        put_ext(b, 2, 3, 1.5, 0, names, nan_v, 1, 0);
    else if (!strcmp(mode, "long_name"))
        put_ext(b, 2, 3, 1.5, 0, long_name, values, 1, 0);
    else if (!strcmp(mode, "passed_over_cases"))
        put_ext(b, 4, 3, 0, 0, names, values, 0, 0);
    else if (!strcmp(mode, "too_many_errors"))
        put_ext(b, 0, SPEC_MAX_CASES + 1, 0, 0, names, values, 0, SPEC_MAX_CASES + 1);
    else if (!strcmp(mode, "truncated"))
        wire_put_u32(b, 2); /* passed, then nothing */
}

static int fake_vm(const char *mode)
{
    wire_buf_t b;
    wire_buf_init(&b);
    wire_begin(&b, WIRE_VM_HELLO, 0, NULL);
    wire_put_str(&b, "25");
    wire_put_u32(&b, (uint32_t)getpid());
    wire_put_u32(&b, 8);
    wire_put_u8(&b, 0);
    wire_put_str(&b, "0.1.0");
    fake_send(&b);
    for (;;) {
        uint8_t n[4];
        if (read_full(3, n, 4))
            return 0;
        uint32_t len = (uint32_t)n[0] << 24 | (uint32_t)n[1] << 16 | (uint32_t)n[2] << 8 | n[3];
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf || read_full(3, buf, len))
            return 0;
        wire_hdr_t h;
        wire_rd_t r;
        if (wire_parse(buf, len, &h, &r) != 0)
            return 2;
        uint64_t req = 0;
        wire_get_u64(&r, &req);
        wire_buf_reset(&b);
        if (h.type == WIRE_VM_STOP) {
            free(buf);
            return 0;
        } else if (h.type == WIRE_VM_EVAL) {
            wire_begin(&b, WIRE_VM_RESULT, 0, NULL);
            wire_put_u64(&b, req);
            wire_put_u8(&b, WIRE_ST_OK);
            wire_put_f64(&b, 3);
            wire_put_str(&b, "");
            wire_put_u64(&b, 1);
            wire_put_u64(&b, 2);
            fake_ext(&b, mode);
            fake_send(&b);
        } else if (h.type == WIRE_VM_BREED_EVAL) {
            wire_begin(&b, WIRE_VM_BRED, 0, NULL);
            wire_put_u64(&b, req);
            wire_put_u8(&b, WIRE_ST_OK);
            wire_put_f64(&b, 3);
            wire_put_str(&b, "");
            wire_put_u64(&b, 1);
            wire_put_u64(&b, 2);
            wire_put_str(&b, "-module(child).");
            fake_ext(&b, mode);
            fake_send(&b);
        } /* pings go unanswered: the heartbeat timeout is long */
        free(buf);
    }
}

static char self_exe[4096];

/* Runs one eval (breed_eval if bred) on a pool of fake VMs in the mode. */
static void run_fake(const char *mode, int bred, res_t *out, pool_stats_t *st)
{
    setenv("PETRI_TEST_FAKE_VM", mode, 1);
    loop_t *l = loop_new();
    pool_opts_t o = {.erl = self_exe,
                     .code_path = PETRI_BEAM_DIR,
                     .elixir_path = "",
                     .vms = 1,
                     .max_vms = 1,
                     .slots = 8,
                     .pipeline = 2,
                     .heartbeat_interval_ms = 60000,
                     .heartbeat_timeout_ms = 120000,
                     .boot_timeout_ms = 20000,
                     .backoff_min_ms = 10,
                     .backoff_max_ms = 20,
                     .intensity = 50,
                     .period_ms = 60000,
                     .max_source_bytes = 65536};
    char err[256];
    pool_t *p = pool_new(l, &o, on_state, NULL, err, sizeof err);
    assert_non_null(p);
    const uint8_t spec[] = {0}; /* the fake VM does not read it */
    memset(out, 0, sizeof *out);
    if (bred) {
        const uint8_t *parents[1] = {(const uint8_t *)good};
        size_t lens[1] = {strlen(good)};
        assert_int_equal(
            pool_breed_eval(p, spec, sizeof spec, "point", 1, parents, lens, 1, on_done, out), 0);
    } else {
        assert_int_equal(
            pool_eval(p, spec, sizeof spec, -1, (const uint8_t *)good, strlen(good), on_done, out),
            0);
    }
    pump_until(l, &out->n, 1, 30000);
    assert_int_equal(out->n, 1);
    pool_get_stats(p, st, NULL, 0);
    pool_destroy(&p);
    loop_destroy(&l);
    unsetenv("PETRI_TEST_FAKE_VM");
}

static void test_result_ext_end_to_end(void **state)
{
    (void)state;
    log_init("test", LOG_LVL_ERROR, 0);
    res_t r;
    pool_stats_t st;
    for (int bred = 0; bred < 2; bred++) {
        run_fake("ext", bred, &r, &st);
        assert_int_equal(r.status, WIRE_ST_OK);
        assert_true(r.fitness == 3);
        assert_int_equal(r.passed, 2);
        assert_int_equal(r.cases, 3);
        assert_true(r.cost == 1.5);
        assert_int_equal(r.reused, 1);
        assert_int_equal(r.nmetrics, 4);
        assert_string_equal(r.metrics[0].name, "reductions");
        assert_true(r.metrics[0].value == 1000);
        assert_string_equal(r.metrics[3].name, "score");
        assert_int_equal(r.nerrors, 3);
        assert_true(r.errors[0] == 1.5);
        if (bred)
            assert_string_equal(r.src, "-module(child).");
        assert_int_equal(st.kills[POOL_KILL_PROTOCOL], 0);

        /* an older VM: no RESULT_EXT, zeros */
        run_fake("old", bred, &r, &st);
        assert_int_equal(r.status, WIRE_ST_OK);
        assert_int_equal(r.passed + r.cases + r.nmetrics + r.nerrors + (uint32_t)r.reused, 0);
        assert_int_equal(st.kills[POOL_KILL_PROTOCOL], 0);
    }
    /* malformed: the VM is killed and replaced (pool.h invariant 3); the job
     * still gets exactly one completion, not a success */
    static const char *const bad[] = {"nan_metric", "long_name", "passed_over_cases",
                                      "too_many_errors", "truncated"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run_fake(bad[i], (int)(i % 2), &r, &st);
        if (r.status == WIRE_ST_OK)
            fail_msg("%s: a malformed RESULT_EXT gave a result", bad[i]);
        if (st.kills[POOL_KILL_PROTOCOL] < 1)
            fail_msg("%s: the VM was not killed for it", bad[i]);
    }
}

int main(void)
{
    const char *fake = getenv("PETRI_TEST_FAKE_VM");
    if (fake)
        return fake_vm(fake);
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n <= 0)
        return 1;
    self_exe[n] = '\0';
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vm_send_to_a_dead_vm_is_an_error_not_a_signal),
        cmocka_unit_test(test_result_ext_decoder),
        cmocka_unit_test(test_result_ext_end_to_end),
        cmocka_unit_test(test_pool_with_real_vms),
        cmocka_unit_test(test_pool_blames_the_genome_that_kills_its_vm),
        cmocka_unit_test(test_pool_counts_deaths_that_no_job_caused),
        cmocka_unit_test(test_pool_recycles_a_vm_past_the_atom_threshold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
