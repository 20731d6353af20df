/* test_pool.c - the VM supervisor with real BEAM VMs: an evaluation and a
 * breed come back with their results, a killed VM is replaced and its work
 * retried, scaling up and down changes the VMs that run, a graceful stop
 * fails queued work and ends every VM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
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
    assert_true(k.status == WIRE_ST_OK || k.status == WIRE_ST_INTERNAL);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_with_real_vms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
