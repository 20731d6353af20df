/* test_pop.c - a population's pure logic: spec errors name their field,
 * items and seeds, filling then steady-state replacement with elitism,
 * migration, stop rules, dseq reservations and the JSON round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pop.h"

#define CASES "\"fitness\":{\"cases\":[{\"in\":[1],\"out\":2}]}"

static pop_t *make(const char *extra, char *err, size_t errlen)
{
    char text[2048];
    snprintf(text, sizeof text, "{\"name\":\"p\",\"function\":\"f/1\",%s%s%s}", CASES,
             *extra ? "," : "", extra);
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    pop_t *p = pop_new(j, 1000, err, errlen);
    json_decref(j);
    return p;
}

static void expect_error(const char *extra, const char *field)
{
    char err[256] = "";
    pop_t *p = make(extra, err, sizeof err);
    assert_null(p);
    if (!strstr(err, field))
        fail_msg("'%s' does not name '%s'", err, field);
}

static void test_spec_errors_name_the_field(void **state)
{
    (void)state;
    expect_error("\"size\":\"big\"", "size");
    expect_error("\"size\":8,\"demes\":4", "size");
    expect_error("\"demes\":0", "demes");
    expect_error("\"selection\":{\"tournament\":1}", "selection.tournament");
    expect_error("\"selection\":{\"k\":2}", "selection.k");
    expect_error("\"operators\":{\"mutate\":1}", "operators.mutate");
    expect_error("\"operators\":{\"point\":-1}", "operators.point");
    expect_error("\"elitism\":100", "elitism");
    expect_error("\"migration\":{\"every\":3}", "migration.every");
    expect_error("\"stop\":{\"target_fitness\":\"x\"}", "stop.target_fitness");
    expect_error("\"seeds\":[1]", "seeds[0]");
    expect_error("\"colour\":1", "colour");
    char err[128];
    json_t *j = json_loads("{\"name\":\"Bad Name\",\"function\":\"f/1\"," CASES "}", 0, NULL);
    assert_null(pop_new(j, 0, err, sizeof err));
    assert_non_null(strstr(err, "name"));
    json_decref(j);
}

static void feed(pop_t *p, work_item_t *it, double fitness, const char *src)
{
    uint8_t h[CRYPTO_HASH_LEN];
    crypto_hash(src, strlen(src), h);
    pop_result(p, it, WIRE_ST_OK, fitness, h, src, strlen(src), 2000);
    work_item_clear(it);
}

static void test_fill_then_breed_with_elitism(void **state)
{
    (void)state;
    char err[256];
    pop_t *p = make("\"size\":8,\"demes\":1,\"elitism\":1,\"stop\":{\"target_fitness\":null}", err,
                    sizeof err);
    assert_non_null(p);
    work_item_t it;
    assert_int_equal(pop_next_item(p, 0, 100, &it), ERR_STATE); /* reserve first */
    assert_int_equal(pop_reserve(p, 0), 1);
    assert_int_equal(pop_reserve(p, 0), 0);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pop_next_item(p, 0, 100, &it), 0);
        assert_string_equal(it.op, "random");
        assert_int_equal(it.nparents, 0);
        assert_int_equal(it.dseq, (uint64_t)i + 1);
        assert_true(it.seed == pop_derive_seed("p", 0, it.dseq));
        char src[32];
        snprintf(src, sizeof src, "g%d", i);
        feed(p, &it, 10 + i, src);
    }
    assert_int_equal(p->demes[0].n, 8);
    assert_true(p->best.fitness == 10);
    /* steady state: parents come from the deme; the best is never replaced */
    for (int k = 0; k < 200; k++) {
        assert_int_equal(pop_next_item(p, 0, 100, &it), 0);
        assert_true(it.nparents == 1 || it.nparents == 2);
        assert_non_null(it.parent_src[0]);
        feed(p, &it, 50, "worse");
    }
    int best_kept = 0;
    for (int i = 0; i < p->demes[0].n; i++)
        best_kept |= p->demes[0].m[i].fitness == 10;
    assert_true(best_kept);
    assert_int_equal(p->evaluations, 208);
    assert_int_equal(p->state, POP_RUNNING);
    pop_destroy(&p);
}

static void test_stop_rules_and_inflight_limit(void **state)
{
    (void)state;
    char err[256];
    pop_t *p = make("\"size\":8,\"demes\":2,\"stop\":{\"target_fitness\":1,\"max_evaluations\":50}",
                    err, sizeof err);
    assert_non_null(p);
    work_item_t a, b;
    pop_reserve(p, 0);
    assert_int_equal(pop_next_item(p, 0, 1, &a), 0);
    assert_int_equal(pop_next_item(p, 0, 1, &b), ERR_STATE); /* at most 1 in flight */
    feed(p, &a, 0.5, "solution");
    assert_int_equal(p->state, POP_SOLVED);
    assert_int_equal(pop_next_item(p, 0, 10, &b), ERR_STATE);
    pop_destroy(&p);
    p = make("\"size\":8,\"demes\":1,\"stop\":{\"target_fitness\":null,\"max_evaluations\":3}", err,
             sizeof err);
    pop_reserve(p, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pop_next_item(p, 0, 10, &a), 0);
        feed(p, &a, 9, "x");
    }
    assert_int_equal(p->state, POP_STOPPED);
    pop_destroy(&p);
}

static void test_failed_children_never_enter(void **state)
{
    (void)state;
    char err[256];
    pop_t *p = make("\"size\":4,\"demes\":1", err, sizeof err);
    work_item_t it;
    pop_reserve(p, 0);
    assert_int_equal(pop_next_item(p, 0, 10, &it), 0);
    uint8_t h[CRYPTO_HASH_LEN] = {0};
    pop_result(p, &it, WIRE_ST_CRASH, NAN, h, "x", 1, 5);
    work_item_clear(&it);
    assert_int_equal(p->demes[0].n, 0);
    assert_int_equal(p->evaluations, 1);
    pop_destroy(&p);
}

static void test_seeds_and_submissions(void **state)
{
    (void)state;
    char err[256];
    pop_t *p = make("\"size\":8,\"demes\":2,\"seeds\":[\"s1\",\"s2\",\"s3\"]", err, sizeof err);
    assert_non_null(p);
    work_item_t it;
    pop_reserve(p, 0);
    pop_reserve(p, 1);
    assert_int_equal(pop_next_item(p, 0, 10, &it), 0);
    assert_int_equal(it.kind, ITEM_EVAL);
    assert_string_equal(it.src, "s1");
    work_item_clear(&it);
    assert_int_equal(pop_next_item(p, 0, 10, &it), 0);
    assert_string_equal(it.src, "s3");
    work_item_clear(&it);
    assert_int_equal(pop_next_item(p, 1, 10, &it), 0);
    assert_string_equal(it.src, "s2");
    work_item_clear(&it);
    assert_int_equal(pop_next_item(p, 0, 10, &it), 0);
    assert_string_equal(it.op, "random");
    work_item_clear(&it);
    uint32_t d = pop_submit_deme(p, "mine", 4);
    assert_true(d < 2);
    pop_reserve(p, d);
    assert_int_equal(pop_submit_item(p, d, "mine", 4, 1, &it), 0);
    assert_string_equal(it.op, "submitted");
    assert_int_equal(it.language, 1);
    work_item_clear(&it);
    pop_destroy(&p);
}

static char *lookup(void *arg, const uint8_t hash[CRYPTO_HASH_LEN], size_t *len)
{
    (void)arg;
    (void)hash;
    *len = 3;
    return strdup("src");
}

static void test_json_round_trip_keeps_dseq_beyond_reservation(void **state)
{
    (void)state;
    char err[256];
    pop_t *p = make("\"size\":4,\"demes\":1", err, sizeof err);
    work_item_t it;
    pop_reserve(p, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pop_next_item(p, 0, 10, &it), 0);
        feed(p, &it, 5 + i, "src");
    }
    json_t *j = pop_to_json(p);
    pop_t *q = pop_from_json(j, lookup, NULL, err, sizeof err);
    json_decref(j);
    assert_non_null(q);
    assert_int_equal(q->evaluations, 3);
    assert_int_equal(q->demes[0].n, 3);
    assert_true(q->best.fitness == 5);
    /* after a restart no dseq that may have been issued is issued again */
    assert_int_equal(pop_reserve(q, 0), 1);
    assert_int_equal(pop_next_item(q, 0, 10, &it), 0);
    assert_true(it.dseq > POP_DSEQ_RESERVE);
    work_item_clear(&it);
    pop_destroy(&p);
    pop_destroy(&q);
}

/* Finds every genome but the one whose hash is in arg. */
static char *lookup_but(void *arg, const uint8_t hash[CRYPTO_HASH_LEN], size_t *len)
{
    if (memcmp(hash, arg, CRYPTO_HASH_LEN) == 0)
        return NULL;
    *len = 3;
    return strdup("src");
}

/* Members whose genomes are missing on restore are dropped and counted. */
static void test_restore_counts_missing_genomes(void **state)
{
    (void)state;
    char err[256];
    pop_t *p = make("\"size\":4,\"demes\":1", err, sizeof err);
    work_item_t it;
    pop_reserve(p, 0);
    const char *srcs[] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pop_next_item(p, 0, 10, &it), 0);
        feed(p, &it, 5 + i, srcs[i]);
    }
    uint8_t gone[CRYPTO_HASH_LEN];
    crypto_hash("two", 3, gone);
    json_t *j = pop_to_json(p);
    pop_t *q = pop_from_json(j, lookup_but, gone, err, sizeof err);
    assert_non_null(q);
    assert_int_equal(q->restore_dropped, 1);
    assert_int_equal(q->demes[0].n, 2);
    pop_destroy(&q);
    q = pop_from_json(j, lookup, NULL, err, sizeof err);
    assert_int_equal(q->restore_dropped, 0);
    json_decref(j);
    pop_destroy(&p);
    pop_destroy(&q);
}

static void test_detail_json(void **state)
{
    (void)state;
    char err[256];
    pop_t *p = make("\"size\":4,\"demes\":1", err, sizeof err);
    work_item_t it;
    pop_reserve(p, 0);
    assert_int_equal(pop_next_item(p, 0, 10, &it), 0);
    feed(p, &it, 2, "best-src");
    pop_sample(p, 3000);
    json_t *d = pop_detail_json(p, 3000);
    assert_string_equal(json_string_value(json_object_get(d, "state")), "running");
    json_t *best = json_object_get(d, "best");
    assert_string_equal(json_string_value(json_object_get(best, "source")), "best-src");
    assert_int_equal(json_array_size(json_object_get(d, "history")), 1);
    assert_int_equal(json_array_size(json_object_get(json_object_get(d, "distribution"), "counts")),
                     10);
    json_decref(d);
    pop_destroy(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_errors_name_the_field),
        cmocka_unit_test(test_fill_then_breed_with_elitism),
        cmocka_unit_test(test_stop_rules_and_inflight_limit),
        cmocka_unit_test(test_failed_children_never_enter),
        cmocka_unit_test(test_seeds_and_submissions),
        cmocka_unit_test(test_json_round_trip_keeps_dseq_beyond_reservation),
        cmocka_unit_test(test_restore_counts_missing_genomes),
        cmocka_unit_test(test_detail_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
