/* test_pool.c - the VM supervisor with real BEAM VMs: an evaluation and a
 * breed come back with their results, a killed VM is replaced and its work
 * retried, scaling up and down changes the VMs that run, a graceful stop
 * fails queued work and ends every VM. With a scripted VM
 * (tests/integration/fake_erl.py): a genome that freezes or kills its VM is
 * blamed (vm_killed) and its neighbours get their results, such deaths do
 * not count towards the restart intensity while other deaths do, and a VM
 * past the atom threshold is recycled. */
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

#include "err.h"
#include "log.h"
#include "pool.h"
#include "spec.h"

typedef struct res {
    int n;
    int status;
    double fitness;
    char src[4096];
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

    res_t b = {0};
    const uint8_t *parents[1] = {(const uint8_t *)good};
    size_t lens[1] = {strlen(good)};
    assert_int_equal(pool_breed(p, sw.data, sw.len, "point", 7, parents, lens, 1, on_done, &b), 0);
    pump_until(l, &b.n, 1, 30000);
    assert_int_equal(b.status, WIRE_ST_OK);
    assert_non_null(strstr(b.src, "f(X) ->"));

    /* breed and score in one request: the child's source and its fitness */
    res_t be = {0};
    assert_int_equal(
        pool_breed_eval(p, sw.data, sw.len, "point", 7, parents, lens, 1, on_done, &be), 0);
    pump_until(l, &be.n, 1, 30000);
    assert_int_equal(be.status, WIRE_ST_OK);
    assert_true(be.fitness >= 0);
    assert_string_equal(be.src, b.src); /* same parents, operator and seed: same child */
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

    /* kill the VM while it holds work: the work is retried on its replacement */
    json_t *st = pool_status_json(p);
    int pid = (int)json_integer_value(
        json_object_get(json_array_get(json_object_get(st, "vms"), 0), "pid"));
    json_decref(st);
    res_t k = {0};
    pool_eval(p, sw.data, sw.len, -1, (const uint8_t *)good, strlen(good), on_done, &k);
    kill(pid, SIGKILL);
    pump_until(l, &k.n, 1, 30000);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_with_real_vms),
        cmocka_unit_test(test_pool_blames_the_genome_that_kills_its_vm),
        cmocka_unit_test(test_pool_counts_deaths_that_no_job_caused),
        cmocka_unit_test(test_pool_recycles_a_vm_past_the_atom_threshold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
