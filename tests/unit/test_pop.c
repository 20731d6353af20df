/* test_pop.c - a population's pure logic: spec errors name their field,
 * items and seeds, filling then steady-state replacement with elitism,
 * migration, stop rules, dseq reservations and the JSON round trip;
 * lexicase selection (specialists, epsilon, down-sampling, determinism),
 * lexicographic cost and the per-case errors across a restart; niche
 * replacement against clones and neutral variants, age replacement, the
 * diversity figures,
 * and the MAP-Elites archive (spec, cells, selection, persistence). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>

#include "err.h"
#include "pop.h"

#define CASES "\"fitness\":{\"cases\":[{\"in\":[1],\"out\":2}]}"

/* Four cases: the lexicase tests' members carry four errors each, the
 * count the population keeps (pop.c keep_errors). */
#define CASES4                                                                                     \
    "\"fitness\":{\"cases\":[{\"in\":[1],\"out\":2},{\"in\":[2],\"out\":3},{\"in\":[3],"           \
    "\"out\":4},{\"in\":[4],\"out\":5}]}"

static pop_t *make_with(const char *cases, const char *extra, char *err, size_t errlen)
{
    char text[2048];
    snprintf(text, sizeof text, "{\"name\":\"p\",\"function\":\"f/1\",%s%s%s}", cases,
             *extra ? "," : "", extra);
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    pop_t *p = pop_new(j, 1000, err, errlen);
    json_decref(j);
    return p;
}

static pop_t *make(const char *extra, char *err, size_t errlen)
{
    return make_with(CASES, extra, err, errlen);
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

/* Migration sends the `count` best of a deme, each once, to replace the
 * worst of the next one; under niche replacement a member the next deme
 * holds already is skipped, not sent twice. */
static void migrate_into(const char *repl, const char *held, const double *want, int nwant)
{
    char err[256], spec[256];
    snprintf(spec, sizeof spec,
             "\"size\":8,\"demes\":2,\"elitism\":0,\"replacement\":\"%s\","
             "\"migration\":{\"interval\":100,\"count\":2},\"stop\":{\"target_fitness\":null}",
             repl);
    pop_t *p = make(spec, err, sizeof err);
    assert_non_null(p);
    work_item_t it;
    assert_int_equal(pop_reserve(p, 0), 1);
    assert_int_equal(pop_reserve(p, 1), 1);
    for (int i = 0; i < 4; i++) {
        char src[16];
        assert_int_equal(pop_next_item(p, 0, 100, &it), 0);
        snprintf(src, sizeof src, "a%d", i);
        feed(p, &it, 1 + i, src);
        assert_int_equal(pop_next_item(p, 1, 100, &it), 0);
        int same = i == 0 && held; /* deme 1's first member is held (fitness 1) */
        snprintf(src, sizeof src, "b%d", i);
        feed(p, &it, same ? 1 : 10 + i, same ? held : src);
    }
    p->demes[0].since_migration = 99;
    assert_int_equal(pop_next_item(p, 0, 100, &it), 0);
    feed(p, &it, 50, "worse"); /* the 100th result of deme 0: it migrates */
    double got[4];
    for (int i = 0; i < 4; i++)
        got[i] = p->demes[1].m[i].fitness;
    for (int k = 0; k < nwant; k++) {
        int n = 0;
        for (int i = 0; i < 4; i++)
            n += got[i] == want[k];
        if (n != 1)
            fail_msg("%s: fitness %g is %d times in the next deme (%g %g %g %g)", repl, want[k], n,
                     got[0], got[1], got[2], got[3]);
    }
    pop_destroy(&p);
}

static void test_migration_sends_distinct_members(void **state)
{
    (void)state;
    const double two_best[] = {1, 2, 10, 11};
    migrate_into("no_worse", NULL, two_best, 4);
    /* deme 1 holds a0 already: a1 and a2 go, a0 is not sent twice */
    const double skip_held[] = {1, 2, 3, 11};
    migrate_into("niche", "a0", skip_held, 4);
}

/* The program operators are chosen by name; clause_xover takes two parents. */
static void test_program_operators(void **state)
{
    (void)state;
    char err[256];
    pop_t *p = make("\"size\":8,\"demes\":1,\"stop\":{\"target_fitness\":null},"
                    "\"operators\":{\"clause_xover\":1,\"fold\":1,\"recurse\":1}",
                    err, sizeof err);
    assert_non_null(p);
    work_item_t it;
    pop_reserve(p, 0);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pop_next_item(p, 0, 100, &it), 0);
        char src[32];
        snprintf(src, sizeof src, "g%d", i);
        feed(p, &it, 10 + i, src);
    }
    int seen[3] = {0};
    for (int k = 0; k < 60; k++) {
        assert_int_equal(pop_next_item(p, 0, 100, &it), 0);
        if (!strcmp(it.op, "clause_xover")) {
            assert_int_equal(it.nparents, 2);
            seen[0]++;
        } else {
            assert_int_equal(it.nparents, 1);
            seen[!strcmp(it.op, "fold") ? 1 : 2]++;
            if (strcmp(it.op, "fold"))
                assert_string_equal(it.op, "recurse");
        }
        feed(p, &it, 50, "worse");
    }
    assert_true(seen[0] > 0 && seen[1] > 0 && seen[2] > 0);
    pop_destroy(&p);
    expect_error("\"operators\":{\"clause_xovers\":1}", "operators.clause_xovers");
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

/* An item whose agents die holding it is re-issued once, then given up. */
static void test_item_lost_twice_is_given_up(void **state)
{
    (void)state;
    char err[256];
    pop_t *p = make("\"size\":4,\"demes\":1", err, sizeof err);
    work_item_t it;
    pop_reserve(p, 0);
    assert_int_equal(pop_next_item(p, 0, 10, &it), 0);
    assert_int_equal(p->demes[0].inflight, 1);
    assert_int_equal(pop_item_lost(p, &it, 5), 1); /* re-issue */
    assert_int_equal(p->evaluations, 0);
    assert_int_equal(p->demes[0].inflight, 1);
    assert_int_equal(pop_item_lost(p, &it, 6), 0); /* given up, counted as a failure */
    assert_int_equal(p->evaluations, 1);
    assert_int_equal(p->ok_evaluations, 0);
    assert_int_equal(p->demes[0].inflight, 0);
    assert_int_equal(p->demes[0].n, 0);
    work_item_clear(&it);
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

/* ---- lexicase and cost ---- */

/* Four specialists (0 on one case, 10 on the rest: total 30) and a
 * generalist (5 everywhere: total 20, the best fitness). */
static const double deme_errors[5][4] = {
    {0, 10, 10, 10}, {10, 0, 10, 10}, {10, 10, 0, 10}, {10, 10, 10, 0}, {5, 5, 5, 5}};
#define GENERALIST 4

static void deme_view(const double *e[5], uint32_t n[5])
{
    for (int i = 0; i < 5; i++) {
        e[i] = deme_errors[i];
        n[i] = 4;
    }
}

/* The memory bound counts the errors an evaluation gives: under
 * split_tuples, two cases expecting 3-tuples are 6 errors a member. */
static pop_t *split_pop(int split, int size, char *err, size_t errlen)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"name\":\"p\",\"function\":\"f/1\",\"size\":%d,\"demes\":1,"
             "\"selection\":{\"lexicase\":{}},\"fitness\":{\"split_tuples\":%s,\"cases\":["
             "{\"in\":[[1]],\"out\":{\"$tuple\":[1,2,3]}},"
             "{\"in\":[[2]],\"out\":{\"$tuple\":[[],2,3]}}]}}",
             size, split ? "true" : "false");
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    pop_t *p = pop_new(j, 1000, err, errlen);
    json_decref(j);
    return p;
}

static void test_lexicase_bound_counts_split_errors(void **state)
{
    (void)state;
    char err[256] = "";
    /* 2 MiB of doubles over 50,000 members: 5 errors a member */
    pop_t *p = split_pop(0, 50000, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(p->spec->nerrors, 2);
    pop_destroy(&p);
    p = split_pop(1, 50000, err, sizeof err);
    assert_null(p);
    assert_non_null(strstr(err, "selection.lexicase: 6 per-case errors x 50000 members"));
    p = split_pop(1, 200, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(p->spec->nerrors, 6);
    assert_int_equal(p->spec_wire.data[p->spec_wire.len - 1], 1); /* split_tuples */
    pop_destroy(&p);
}

static void test_lexicase_spec(void **state)
{
    (void)state;
    expect_error("\"selection\":{\"lexicase\":{\"epsilon\":\"big\"}}",
                 "selection.lexicase.epsilon");
    expect_error("\"selection\":{\"lexicase\":{\"epsilon\":-1}}", "selection.lexicase.epsilon");
    expect_error("\"selection\":{\"lexicase\":{\"downsample\":0}}",
                 "selection.lexicase.downsample");
    expect_error("\"selection\":{\"lexicase\":{\"downsample\":1.5}}",
                 "selection.lexicase.downsample");
    expect_error("\"selection\":{\"lexicase\":{\"k\":1}}", "selection.lexicase.k");
    expect_error("\"selection\":{\"lexicase\":{\"tiebreak\":\"smallest\"}}",
                 "selection.lexicase.tiebreak");
    expect_error("\"selection\":{\"lexicase\":{\"tiebreak\":1}}", "selection.lexicase.tiebreak");
    expect_error("\"selection\":{\"lexicase\":4}", "selection.lexicase");
    expect_error("\"selection\":{\"lexicase\":{},\"tournament\":4}", "selection");
    /* 1 case x 300000 members of errors is over the memory bound */
    expect_error("\"size\":300000,\"selection\":{\"lexicase\":{}}", "selection.lexicase");
    char err[256];
    pop_t *p =
        make("\"selection\":{\"lexicase\":{\"epsilon\":0.5,\"downsample\":0.25}}", err, sizeof err);
    assert_non_null(p);
    assert_int_equal(p->selection, POP_SEL_LEXICASE);
    assert_true(p->lex_epsilon == 0.5 && p->lex_downsample == 0.25);
    /* the agents are asked for the per-case errors: per_case is the SPEC's
     * last byte but one (split_tuples, 0, the last) */
    assert_int_equal(p->spec->per_case, 1);
    assert_int_equal(p->spec_wire.data[p->spec_wire.len - 2], 1);
    assert_int_equal(p->spec_wire.data[p->spec_wire.len - 1], 0);
    size_t lex_len = p->spec_wire.len;
    pop_destroy(&p);
    p = make("\"selection\":{\"lexicase\":{}}", err, sizeof err);
    assert_true(p->lex_epsilon < 0 && p->lex_downsample == 1); /* auto, all cases */
    assert_int_equal(p->lex_size_tiebreak, 0);
    pop_destroy(&p);
    p = make("\"selection\":{\"lexicase\":{\"tiebreak\":\"size\"}}", err, sizeof err);
    assert_int_equal(p->lex_size_tiebreak, 1);
    pop_destroy(&p);
    p = make("", err, sizeof err);
    assert_int_equal(p->selection, POP_SEL_TOURNAMENT);
    assert_int_equal(p->spec->per_case, 0);
    assert_int_equal(p->spec_wire.len, lex_len);                  /* the same fields ... */
    assert_int_equal(p->spec_wire.data[p->spec_wire.len - 1], 0); /* ... per_case off */
    pop_destroy(&p);
}

/* The constructed deme: lexicase (epsilon 0) only ever picks specialists,
 * each of them, never the generalist that a tournament prefers. */
static void test_lexicase_picks_specialists(void **state)
{
    (void)state;
    const double *e[5];
    uint32_t n[5];
    deme_view(e, n);
    int picks[5] = {0};
    uint64_t rng = 42;
    for (int k = 0; k < 400; k++) {
        int i = pop_lexicase(e, n, NULL, 5, 0, 1, &rng);
        assert_true(i >= 0 && i < 5);
        picks[i]++;
    }
    assert_int_equal(picks[GENERALIST], 0);
    for (int i = 0; i < 4; i++)
        assert_true(picks[i] > 50); /* about 100 each */
    /* auto epsilon: MAD of {0,10,10,10,5} on a case is 0 - the same */
    memset(picks, 0, sizeof picks);
    for (int k = 0; k < 400; k++)
        picks[pop_lexicase(e, n, NULL, 5, -1, 1, &rng)]++;
    assert_int_equal(picks[GENERALIST], 0);
    /* a member without errors loses every case (and the generalist then
     * wins case 0); with nobody's errors the pick is uniform */
    e[0] = NULL;
    memset(picks, 0, sizeof picks);
    for (int k = 0; k < 400; k++)
        picks[pop_lexicase(e, n, NULL, 5, 0, 1, &rng)]++;
    assert_int_equal(picks[0], 0);
    assert_true(picks[GENERALIST] > 0); /* now the best on case 0 */
    const double *none[5] = {NULL, NULL, NULL, NULL, NULL};
    memset(picks, 0, sizeof picks);
    for (int k = 0; k < 500; k++)
        picks[pop_lexicase(none, n, NULL, 5, 0, 1, &rng)]++;
    for (int i = 0; i < 5; i++)
        assert_true(picks[i] > 0);
    assert_int_equal(pop_lexicase(none, n, NULL, 0, 0, 1, &rng), -EINVAL);
}

/* tiebreak "size": among members no case tells apart, the shorter of two
 * random survivors wins, so the shortest is picked most and the longest
 * least (1 in 25 of five); a smaller size never beats a lower error. */
static void test_lexicase_size_tiebreak(void **state)
{
    (void)state;
    static const double same[1] = {3};
    const double *e[5] = {same, same, same, same, same};
    uint32_t n[5] = {1, 1, 1, 1, 1};
    size_t sizes[5] = {50, 10, 40, 20, 30};
    int picks[5] = {0}, plain[5] = {0};
    uint64_t rng = 7;
    for (int k = 0; k < 2500; k++) {
        picks[pop_lexicase(e, n, sizes, 5, 0, 1, &rng)]++;
        plain[pop_lexicase(e, n, NULL, 5, 0, 1, &rng)]++;
    }
    assert_true(picks[1] > 700 && picks[1] < 1100); /* 9/25 of 2500 = 900 */
    assert_true(picks[0] > 40 && picks[0] < 180);   /* 1/25 = 100 */
    for (int i = 0; i < 5; i++)
        assert_true(plain[i] > 400 && plain[i] < 600); /* uniform without sizes */
    static const double better[1] = {2};
    e[0] = better; /* the longest, but the best on the case */
    for (int k = 0; k < 100; k++)
        assert_int_equal(pop_lexicase(e, n, sizes, 5, 0, 1, &rng), 0);
}

static void feed_ext(pop_t *p, work_item_t *it, double fitness, double cost, const double *errors,
                     size_t nerrors, const char *src)
{
    uint8_t h[CRYPTO_HASH_LEN];
    crypto_hash(src, strlen(src), h);
    pop_outcome_t o = {.status = WIRE_ST_OK,
                       .fitness = fitness,
                       .cost = cost,
                       .errors = errors,
                       .nerrors = nerrors};
    pop_result_ext(p, it, &o, h, src, strlen(src), 2000);
    work_item_clear(it);
}

static const char *const deme_src[5] = {"spec-a", "spec-b", "spec-c", "spec-d", "generalist"};

/* A one-deme population of the five above (size 5, no elitism). */
static pop_t *constructed(const char *selection)
{
    char extra[256], err[256];
    snprintf(extra, sizeof extra,
             "\"size\":5,\"demes\":1,\"elitism\":0,\"stop\":{\"target_fitness\":null},"
             "\"selection\":%s",
             selection);
    pop_t *p = make_with(CASES4, extra, err, sizeof err);
    assert_non_null(p);
    pop_reserve(p, 0);
    work_item_t it;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(pop_next_item(p, 0, 10, &it), 0);
        double sum = 0;
        for (int c = 0; c < 4; c++)
            sum += deme_errors[i][c];
        feed_ext(p, &it, sum, 0, deme_errors[i], 4, deme_src[i]);
    }
    assert_int_equal(p->demes[0].n, 5);
    return p;
}

/* Draws k parents (the items fail, so the deme stays as it is); counts
 * how often each of the five was a parent; the parent hashes go to log. */
static void draw_parents(pop_t *p, int k, int counts[5], uint8_t (*log)[CRYPTO_HASH_LEN], int *nlog)
{
    uint8_t h[5][CRYPTO_HASH_LEN];
    for (int i = 0; i < 5; i++)
        crypto_hash(deme_src[i], strlen(deme_src[i]), h[i]);
    for (int n = 0; n < k; n++) {
        work_item_t it;
        assert_int_equal(pop_next_item(p, 0, 10, &it), 0);
        for (int j = 0; j < it.nparents; j++) {
            for (int i = 0; i < 5; i++)
                if (memcmp(it.parent_hash[j], h[i], CRYPTO_HASH_LEN) == 0)
                    counts[i]++;
            if (log)
                memcpy(log[(*nlog)++], it.parent_hash[j], CRYPTO_HASH_LEN);
        }
        uint8_t ch[CRYPTO_HASH_LEN] = {0};
        pop_result(p, &it, WIRE_ST_CRASH, NAN, ch, "", 0, 2000);
        work_item_clear(&it);
    }
}

static void test_lexicase_deme_vs_tournament(void **state)
{
    (void)state;
    int lex[5] = {0}, tour[5] = {0};
    pop_t *p = constructed("{\"lexicase\":{\"epsilon\":0}}");
    draw_parents(p, 200, lex, NULL, NULL);
    pop_destroy(&p);
    assert_int_equal(lex[GENERALIST], 0);
    for (int i = 0; i < 4; i++)
        assert_true(lex[i] > 0);
    p = constructed("{\"tournament\":64}");
    draw_parents(p, 200, tour, NULL, NULL);
    pop_destroy(&p);
    /* a tournament of 64 out of 5 misses the generalist with (4/5)^64 */
    int total = tour[0] + tour[1] + tour[2] + tour[3] + tour[GENERALIST];
    assert_true(tour[GENERALIST] >= total - 2);
}

/* Epsilon widens each case's filter: within epsilon of the best survive. */
static void test_lexicase_epsilon(void **state)
{
    (void)state;
    const double col[5][1] = {{0}, {1}, {2}, {10}, {11}};
    const double *e[5];
    uint32_t n[5];
    for (int i = 0; i < 5; i++) {
        e[i] = col[i];
        n[i] = 1;
    }
    double scratch[5];
    /* median 2; deviations 2 1 0 8 9; their median 2 */
    assert_true(pop_lex_mad(e, n, 5, 0, scratch) == 2);
    uint64_t rng = 7;
    int picks[5] = {0};
    for (int k = 0; k < 300; k++)
        picks[pop_lexicase(e, n, NULL, 5, -1, 1, &rng)]++; /* auto: within 2 of 0 */
    assert_true(picks[0] > 0 && picks[1] > 0 && picks[2] > 0);
    assert_int_equal(picks[3] + picks[4], 0);
    memset(picks, 0, sizeof picks);
    for (int k = 0; k < 300; k++)
        picks[pop_lexicase(e, n, NULL, 5, 0, 1, &rng)]++; /* exact */
    assert_int_equal(picks[0], 300);
    memset(picks, 0, sizeof picks);
    for (int k = 0; k < 300; k++)
        picks[pop_lexicase(e, n, NULL, 5, 1.5, 1, &rng)]++;
    assert_true(picks[0] > 0 && picks[1] > 0);
    assert_int_equal(picks[2] + picks[3] + picks[4], 0);
    /* NaN errors and missing cases are the worst; infinite MAD parts skipped */
    const double odd[3][1] = {{NAN}, {INFINITY}, {3}};
    const double *o[3] = {odd[0], odd[1], odd[2]};
    uint32_t on[3] = {1, 1, 1};
    for (int k = 0; k < 50; k++)
        assert_int_equal(pop_lexicase(o, on, NULL, 3, -1, 1, &rng), 2);
    assert_true(pop_lex_mad(o, on, 3, 0, scratch) == 0);
}

/* Down-sampling: one case of four per event picks that case's specialist;
 * the same seed gives the same picks, another seed others. */
static void test_downsample_determinism(void **state)
{
    (void)state;
    const double *e[5];
    uint32_t n[5];
    deme_view(e, n);
    int a[200], b[200], c[200];
    uint64_t r1 = 1234, r2 = 1234, r3 = 99;
    int picks[5] = {0};
    for (int k = 0; k < 200; k++) {
        a[k] = pop_lexicase(e, n, NULL, 5, 0, 0.25, &r1);
        b[k] = pop_lexicase(e, n, NULL, 5, 0, 0.25, &r2);
        c[k] = pop_lexicase(e, n, NULL, 5, 0, 0.25, &r3);
        picks[a[k]]++;
    }
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
    assert_int_equal(picks[GENERALIST], 0);
    /* with the generalist alone able to win a case pair, a two-case sample
     * (downsample 0.5) still never lets it through: one case decides */
    for (int k = 0; k < 100; k++)
        assert_int_not_equal(pop_lexicase(e, n, NULL, 5, 0, 0.5, &r1), GENERALIST);
    /* a population's selections are a function of its name and results:
     * two runs of it agree, also across a save and restore midway */
    pop_t *p = constructed("{\"lexicase\":{\"downsample\":0.5}}");
    pop_t *q = constructed("{\"lexicase\":{\"downsample\":0.5}}");
    static uint8_t lp[400][CRYPTO_HASH_LEN], lq[400][CRYPTO_HASH_LEN];
    int np = 0, nq = 0, cp[5] = {0}, cq[5] = {0};
    draw_parents(p, 50, cp, lp, &np);
    draw_parents(q, 20, cq, lq, &nq);
    json_t *j = pop_to_json(q);
    pop_destroy(&q);
    char err[256];
    q = pop_from_json(j, lookup, NULL, err, sizeof err);
    json_decref(j);
    assert_non_null(q);
    pop_reserve(q, 0); /* as the coordinator does after a restart */
    draw_parents(q, 30, cq, lq, &nq);
    assert_int_equal(np, nq);
    assert_memory_equal(lp, lq, (size_t)np * CRYPTO_HASH_LEN);
    assert_int_equal(cp[GENERALIST], 0);
    pop_destroy(&p);
    pop_destroy(&q);
}

/* Lexicographic cost: equal fitness is decided by cost in replacement,
 * elitism, the best and tournaments; without it, cost does nothing. */
static void test_cost_lexicographic(void **state)
{
    (void)state;
    static const double costs[4] = {5, 1, 3, 9};
    static const char *const srcs[4] = {"c5", "c1", "c3", "c9"};
    for (int lex = 0; lex < 2; lex++) {
        char err[256];
        pop_t *p = make("\"size\":4,\"demes\":1,\"elitism\":1,\"selection\":{\"tournament\":64},"
                        "\"stop\":{\"target_fitness\":null}",
                        err, sizeof err);
        assert_non_null(p);
        p->cost_lex = lex; /* what "fitness": {"cost": {"mode": "lexicographic"}} sets */
        pop_reserve(p, 0);
        work_item_t it;
        for (int i = 0; i < 4; i++) {
            assert_int_equal(pop_next_item(p, 0, 10, &it), 0);
            feed_ext(p, &it, 1.0, costs[i], NULL, 0, srcs[i]);
        }
        uint8_t h1[CRYPTO_HASH_LEN], h0[CRYPTO_HASH_LEN];
        crypto_hash("c1", 2, h1);
        crypto_hash("c5", 2, h0);
        /* the best: the cheapest of equals, or the first of them */
        assert_memory_equal(p->best.hash, lex ? h1 : h0, CRYPTO_HASH_LEN);
        /* tournaments of 64 out of 4 pick the cheapest under lex */
        int cheap = 0, parents = 0;
        for (int k = 0; k < 40; k++) {
            assert_int_equal(pop_next_item(p, 0, 10, &it), 0);
            for (int j = 0; j < it.nparents; j++, parents++)
                cheap += memcmp(it.parent_hash[j], h1, CRYPTO_HASH_LEN) == 0;
            uint8_t ch[CRYPTO_HASH_LEN] = {0};
            pop_result(p, &it, WIRE_ST_CRASH, NAN, ch, "", 0, 2000);
            work_item_clear(&it);
        }
        if (lex)
            assert_int_equal(cheap, parents);
        else
            assert_true(cheap < parents); /* ties go to the first drawn */
        /* equally fit but dearer children: never enter under lex */
        int entered = 0;
        for (int k = 0; k < 30; k++) {
            char src[16];
            snprintf(src, sizeof src, "dear%d", k);
            assert_int_equal(pop_next_item(p, 0, 10, &it), 0);
            feed_ext(p, &it, 1.0, 100, NULL, 0, src);
            uint8_t hc[CRYPTO_HASH_LEN];
            crypto_hash(src, strlen(src), hc);
            for (int i = 0; i < p->demes[0].n; i++)
                entered += memcmp(p->demes[0].m[i].hash, hc, CRYPTO_HASH_LEN) == 0;
        }
        if (lex)
            assert_int_equal(entered, 0);
        else
            assert_true(entered > 0);
        /* the elite (cheapest of the equals under lex) is still there */
        int has_c1 = 0;
        for (int i = 0; i < p->demes[0].n; i++)
            has_c1 |= memcmp(p->demes[0].m[i].hash, h1, CRYPTO_HASH_LEN) == 0;
        if (lex)
            assert_true(has_c1);
        /* a cheaper equal enters under lex and becomes the best */
        assert_int_equal(pop_next_item(p, 0, 10, &it), 0);
        feed_ext(p, &it, 1.0, 0.5, NULL, 0, "c05");
        uint8_t h05[CRYPTO_HASH_LEN];
        crypto_hash("c05", 3, h05);
        if (lex)
            assert_memory_equal(p->best.hash, h05, CRYPTO_HASH_LEN);
        pop_destroy(&p);
    }
}

/* Per-member errors and costs survive a save and restore. */
/* A result whose per-case errors are not the spec's count (an agent or VM
 * out of step, or padding zeros to win cases no one else has) keeps none:
 * the member loses every lexicase case; the right count is kept. */
static void test_errors_of_another_count_are_not_kept(void **state)
{
    (void)state;
    char err[256];
    pop_t *p = make_with(CASES4,
                         "\"size\":5,\"demes\":1,\"elitism\":0,\"stop\":{\"target_fitness\":null},"
                         "\"selection\":{\"lexicase\":{}}",
                         err, sizeof err);
    assert_non_null(p);
    assert_int_equal(p->spec->nerrors, 4);
    pop_reserve(p, 0);
    static const double padded[6] = {1, 1, 1, 1, 0, 0}, fewer[3] = {0, 0, 0},
                        right[4] = {0, 1, 0, 1};
    work_item_t it;
    assert_int_equal(pop_next_item(p, 0, 10, &it), 0);
    feed_ext(p, &it, 4, 0, padded, 6, "padded");
    assert_int_equal(pop_next_item(p, 0, 10, &it), 0);
    feed_ext(p, &it, 0, 0, fewer, 3, "fewer");
    assert_int_equal(pop_next_item(p, 0, 10, &it), 0);
    feed_ext(p, &it, 2, 0, right, 4, "right");
    assert_int_equal(p->demes[0].n, 3);
    for (int i = 0; i < 3; i++) {
        const member_t *m = &p->demes[0].m[i];
        int is_right = m->len == 5 && !memcmp(m->src, "right", 5);
        assert_int_equal(m->nerrors, is_right ? 4 : 0);
        assert_true(is_right ? m->errors != NULL : m->errors == NULL);
    }
    assert_int_equal(p->lex_mismatched, 2);
    pop_destroy(&p);
}

static void test_errors_survive_restart(void **state)
{
    (void)state;
    pop_t *p = constructed("{\"lexicase\":{}}");
    p->demes[0].m[2].cost = 42.5;
    json_t *j = pop_to_json(p);
    char err[256];
    pop_t *q = pop_from_json(j, lookup, NULL, err, sizeof err);
    json_decref(j);
    assert_non_null(q);
    assert_int_equal(q->demes[0].n, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(q->demes[0].m[i].nerrors, 4);
        assert_memory_equal(q->demes[0].m[i].errors, p->demes[0].m[i].errors, 4 * sizeof(double));
    }
    assert_true(q->demes[0].m[2].cost == 42.5);
    assert_true(q->demes[0].rng == p->demes[0].rng && q->rng == p->rng);
    /* a damaged errors entry drops that member, not the population */
    j = pop_to_json(p);
    json_t *m0 = json_array_get(
        json_object_get(json_array_get(json_object_get(j, "demes"), 0), "members"), 0);
    json_array_set_new(m0, 3, json_string("not base64!"));
    pop_t *r = pop_from_json(j, lookup, NULL, err, sizeof err);
    json_decref(j);
    assert_non_null(r);
    assert_int_equal(r->demes[0].n, 4);
    pop_destroy(&p);
    pop_destroy(&q);
    pop_destroy(&r);
}

/* ---- replacement, diversity and the MAP-Elites archive ---- */

/* A full deme of 8 distinct members, fitness 10..17 (one deme, elitism 1). */
static pop_t *full_deme(const char *replacement)
{
    char err[256], extra[256];
    snprintf(extra, sizeof extra,
             "\"size\":8,\"demes\":1,\"elitism\":1,\"stop\":{\"target_fitness\":null}%s%s",
             *replacement ? ",\"replacement\":" : "", replacement);
    pop_t *p = make(extra, err, sizeof err);
    assert_non_null(p);
    work_item_t it;
    pop_reserve(p, 0);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pop_next_item(p, 0, 100, &it), 0);
        char src[32];
        snprintf(src, sizeof src, "g%d", i);
        feed(p, &it, 10 + i, src);
    }
    assert_int_equal(p->demes[0].n, 8);
    return p;
}

/* n children, each with source fmt % k and fitness f. */
static void breed_n(pop_t *p, int n, const char *fmt, double f)
{
    work_item_t it;
    for (int k = 0; k < n; k++) {
        if (p->demes[0].next_dseq > p->demes[0].reserved_dseq)
            pop_reserve(p, 0);
        assert_int_equal(pop_next_item(p, 0, 100, &it), 0);
        char src[32];
        snprintf(src, sizeof src, fmt, k);
        feed(p, &it, f, src);
    }
}

static int count_fitness(const pop_t *p, double f)
{
    int n = 0;
    for (int i = 0; i < p->demes[0].n; i++)
        n += p->demes[0].m[i].fitness == f;
    return n;
}

/* A deme fed the same better child over and over keeps its distinct members
 * under "niche"; under "no_worse" the clone takes it over. */
static void test_clones_do_not_flood(void **state)
{
    (void)state;
    pop_t *p = full_deme("");
    assert_int_equal(p->replacement, POP_REPL_NICHE);
    breed_n(p, 200, "clone", 5);
    pop_div_t dv;
    assert_int_equal(pop_diversity(p, 0, &dv), 0);
    assert_int_equal(count_fitness(p, 5), 1); /* the first copy entered, no other */
    assert_int_equal(dv.genomes, 8);
    assert_int_equal(dv.fitness_values, 8);
    assert_int_equal(p->clones_dropped, 199);
    pop_destroy(&p);

    p = full_deme("\"no_worse\"");
    breed_n(p, 200, "clone", 5);
    assert_int_equal(pop_diversity(p, 0, &dv), 0);
    assert_true(count_fitness(p, 5) >= 6); /* all but the elite, bar unlucky draws */
    assert_true(dv.genomes <= 3);
    pop_destroy(&p);
}

/* Neutral variants (new genomes, one fitness) drift inside their niche: at
 * most share x deme of them, the rest of the deme keeps its values; under
 * "no_worse" the deme collapses to one fitness value, and it is seen. */
static void test_neutral_variants_stay_in_their_niche(void **state)
{
    (void)state;
    pop_t *p = full_deme("{\"niche\":{\"share\":0.25}}");
    breed_n(p, 300, "v%d", 5);
    pop_div_t dv;
    assert_int_equal(pop_diversity(p, 0, &dv), 0);
    assert_int_equal(count_fitness(p, 5), 2); /* 0.25 x 8 */
    assert_int_equal(dv.fitness_values, 7);
    assert_int_equal(p->demes[0].collapsed, 0);
    pop_destroy(&p);

    p = full_deme("\"no_worse\"");
    breed_n(p, 300, "v%d", 17); /* as bad as the worst: takes every non-elite slot */
    breed_n(p, 300, "w%d", 10); /* then the best value floods the deme */
    assert_int_equal(pop_diversity(p, 0, &dv), 0);
    assert_int_equal(dv.fitness_values, 1);
    assert_int_equal(p->demes[0].collapsed, 1);
    assert_int_equal(pop_diversity(p, -1, &dv), 0);
    assert_int_equal(dv.collapsed_demes, 1);
    assert_true(dv.entropy_bits == 0);
    json_t *d = pop_detail_json(p, 3000);
    json_t *div = json_object_get(d, "diversity");
    assert_int_equal(json_integer_value(json_object_get(div, "fitness_values")), 1);
    assert_int_equal(json_integer_value(json_object_get(div, "collapsed_demes")), 1);
    assert_string_equal(json_string_value(json_object_get(d, "replacement")), "no_worse");
    json_decref(d);
    pop_destroy(&p);
}

static void assert_member_is(const pop_t *p, int slot, const char *src)
{
    uint8_t h[CRYPTO_HASH_LEN];
    crypto_hash(src, strlen(src), h);
    assert_memory_equal(p->demes[0].m[slot].hash, h, CRYPTO_HASH_LEN);
}

/* "age": every child enters, in the oldest non-elite slot in turn, however
 * bad it is and whether or not the deme holds its genome; the elite stays;
 * a restart goes on with the next slot. */
static void test_age_replacement_takes_the_oldest(void **state)
{
    (void)state;
    pop_t *p = full_deme("\"age\"");
    assert_int_equal(p->replacement, POP_REPL_AGE);
    breed_n(p, 1, "worse%d", 100); /* slot 0 holds the elite (fitness 10) */
    assert_member_is(p, 1, "worse0");
    assert_member_is(p, 2, "g2");
    breed_n(p, 7, "w%d", 100); /* slots 2..7, then round to slot 1 */
    assert_member_is(p, 0, "g0");
    for (int i = 2; i < 8; i++)
        assert_true(p->demes[0].m[i].fitness == 100);
    assert_member_is(p, 1, "w6");
    breed_n(p, 1, "w%d", 100); /* w0 again: a clone enters too, in slot 2 */
    assert_member_is(p, 2, "w0");
    assert_int_equal(p->clones_dropped, 0);
    breed_n(p, 1, "best%d", 1); /* slot 3: now the elite, and g0 may go */
    assert_member_is(p, 3, "best0");
    breed_n(p, 5, "x%d", 50); /* slots 4..7, then 0: g0 */
    assert_member_is(p, 0, "x4");
    assert_member_is(p, 3, "best0");
    json_t *d = pop_detail_json(p, 3000);
    assert_string_equal(json_string_value(json_object_get(d, "replacement")), "age");
    json_decref(d);

    /* across a restart: the next child takes slot 1, as it would have */
    char err[256];
    json_t *j = pop_to_json(p);
    pop_t *q = pop_from_json(j, lookup, NULL, err, sizeof err);
    json_decref(j);
    assert_non_null(q);
    assert_int_equal(q->demes[0].age_next, p->demes[0].age_next);
    breed_n(p, 1, "after%d", 60);
    breed_n(q, 1, "after%d", 60);
    assert_member_is(p, 1, "after0");
    assert_member_is(q, 1, "after0");
    pop_destroy(&q);
    /* a saved slot past the deme (a corrupt or foreign state) starts over at 0 */
    j = pop_to_json(p);
    json_object_set_new(json_array_get(json_object_get(j, "demes"), 0), "age_next",
                        json_integer(999));
    q = pop_from_json(j, lookup, NULL, err, sizeof err);
    json_decref(j);
    assert_non_null(q);
    assert_int_equal(q->demes[0].age_next, 0);
    pop_destroy(&q);
    pop_destroy(&p);
}

/* Fitness values 1, 1, 2, 3: 3 values, entropy 1.5 bits. */
static void test_diversity_figures(void **state)
{
    (void)state;
    char err[256];
    pop_t *p = make("\"size\":4,\"demes\":1,\"elitism\":0", err, sizeof err);
    work_item_t it;
    pop_reserve(p, 0);
    const double f[4] = {1, 1, 2, 3};
    const char *src[4] = {"a", "a", "b", "c"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pop_next_item(p, 0, 100, &it), 0);
        feed(p, &it, f[i], src[i]);
    }
    pop_div_t dv;
    assert_int_equal(pop_diversity(p, -1, &dv), 0);
    assert_int_equal(dv.members, 4);
    assert_int_equal(dv.genomes, 3);
    assert_int_equal(dv.fitness_values, 3);
    assert_true(fabs(dv.entropy_bits - 1.5) < 1e-12);
    assert_int_equal(dv.collapsed_demes, 0);
    assert_int_equal(pop_diversity(p, 1, &dv), -EINVAL);
    pop_destroy(&p);
}

/* The same results in the same order give the same choices, ties included. */
static void test_niche_is_deterministic(void **state)
{
    (void)state;
    uint8_t seen[2][400][CRYPTO_HASH_LEN];
    pop_t *ps[2];
    for (int r = 0; r < 2; r++) {
        pop_t *p = ps[r] = full_deme("");
        work_item_t it;
        for (int k = 0; k < 400; k++) {
            if (p->demes[0].next_dseq > p->demes[0].reserved_dseq)
                pop_reserve(p, 0);
            assert_int_equal(pop_next_item(p, 0, 100, &it), 0);
            memcpy(seen[r][k], it.parent_hash[0], CRYPTO_HASH_LEN);
            char src[32];
            snprintf(src, sizeof src, "c%d", k % 37); /* clones and ties */
            feed(p, &it, 4 + k % 5, src);
        }
    }
    assert_memory_equal(seen[0], seen[1], sizeof seen[0]);
    for (int i = 0; i < 8; i++)
        assert_memory_equal(ps[0]->demes[0].m[i].hash, ps[1]->demes[0].m[i].hash, CRYPTO_HASH_LEN);
    assert_int_equal(ps[0]->clones_dropped, ps[1]->clones_dropped);
    pop_destroy(&ps[0]);
    pop_destroy(&ps[1]);
}

static void test_replacement_and_archive_spec_errors(void **state)
{
    (void)state;
    expect_error("\"replacement\":\"best\"", "replacement");
    expect_error("\"replacement\":\"oldest\"", "not one of niche, no_worse, age");
    expect_error("\"replacement\":{\"age\":{}}", "replacement.age");
    expect_error("\"replacement\":3", "replacement");
    expect_error("\"replacement\":{\"crowding\":{}}", "replacement.crowding");
    expect_error("\"replacement\":{\"niche\":{\"share\":0}}", "replacement.niche.share");
    expect_error("\"replacement\":{\"niche\":{\"cap\":1}}", "replacement.niche.cap");
    expect_error("\"archive\":{\"grid\":{}}", "archive");
    expect_error("\"archive\":{\"map_elites\":[]}", "archive.map_elites");
    expect_error("\"archive\":{\"map_elites\":{\"descriptors\":[],\"bins\":[]}}",
                 "archive.map_elites.descriptors");
    expect_error("\"archive\":{\"map_elites\":{\"descriptors\":[\"size\",\"colour\"],"
                 "\"bins\":[4,4]}}",
                 "archive.map_elites.descriptors[1]");
    expect_error("\"archive\":{\"map_elites\":{\"descriptors\":[\"size\",\"size\"],"
                 "\"bins\":[4,4]}}",
                 "archive.map_elites.descriptors[1]");
    expect_error("\"archive\":{\"map_elites\":{\"descriptors\":[\"size\"],\"bins\":[4,4]}}",
                 "archive.map_elites.bins");
    expect_error("\"archive\":{\"map_elites\":{\"descriptors\":[\"size\"],\"bins\":[0]}}",
                 "archive.map_elites.bins[0]");
    expect_error("\"archive\":{\"map_elites\":{\"descriptors\":[\"size\",\"passed\"],"
                 "\"bins\":[1000,1000]}}",
                 "archive.map_elites.bins");
    expect_error("\"archive\":{\"map_elites\":{\"descriptors\":[\"cost\"],\"bins\":[4]}}",
                 "archive.map_elites.range[0]");
    expect_error("\"archive\":{\"map_elites\":{\"descriptors\":[\"size\"],\"bins\":[4],"
                 "\"range\":[[5,1]]}}",
                 "archive.map_elites.range[0]");
    expect_error("\"archive\":{\"map_elites\":{\"descriptors\":[\"size\"],\"bins\":[4],"
                 "\"pass_error\":-1}}",
                 "archive.map_elites.pass_error");
    expect_error("\"archive\":{\"map_elites\":{\"descriptors\":[\"size\"],\"bins\":[4],"
                 "\"colour\":1}}",
                 "archive.map_elites.colour");
    expect_error("\"archive\":{\"map_elites\":{\"descriptors\":[\"size\"],\"bins\":[4]}},"
                 "\"selection\":{\"lexicase\":{}}",
                 "archive");
    expect_error("\"archive\":{\"map_elites\":{\"descriptors\":[\"size\"],\"bins\":[4]}},"
                 "\"replacement\":\"niche\"",
                 "replacement");
}

#define ARCHIVE_SPEC                                                                               \
    "\"size\":4,\"demes\":1,\"stop\":{\"target_fitness\":null},\"archive\":{\"map_elites\":"       \
    "{\"descriptors\":[\"size\",\"passed\"],\"bins\":[4,2],\"range\":[[0,40],null],"               \
    "\"pass_error\":0.5}}"

static void feed_errors(pop_t *p, work_item_t *it, double fitness, const char *src, double err1)
{
    uint8_t h[CRYPTO_HASH_LEN];
    crypto_hash(src, strlen(src), h);
    double e[1] = {err1};
    pop_outcome_t o = {.status = WIRE_ST_OK, .fitness = fitness, .errors = e, .nerrors = 1};
    pop_result_ext(p, it, &o, h, src, strlen(src), 2000);
    work_item_clear(it);
}

/* Cells: size 0..40 in 4 bins of 10 bytes x passed (0 or 1 case) in 2. */
static void test_map_elites_insertion_and_selection(void **state)
{
    (void)state;
    char err[256];
    pop_t *p = make(ARCHIVE_SPEC, err, sizeof err);
    assert_non_null(p);
    assert_non_null(p->archive);
    assert_int_equal(p->archive->ncells, 8);
    assert_int_equal(p->spec->per_case, 1); /* "passed" needs the per-case errors */
    work_item_t it;
    pop_reserve(p, 0);
    /* the first size / demes items are random genomes */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pop_next_item(p, 0, 100, &it), 0);
        assert_string_equal(it.op, "random");
        feed_errors(p, &it, 10, i < 2 ? "aaaaa" : "bbbbbbbbbbbbbbb", 1); /* 5, 15 bytes */
    }
    pop_archive_t *a = p->archive;
    assert_int_equal(a->nocc, 2); /* two cells; the same cell's equal second never entered */
    assert_int_equal(a->occ[0], 0 * 2 + 0);
    assert_int_equal(a->occ[1], 1 * 2 + 0);
    assert_int_equal(a->inserted, 2);
    assert_int_equal(p->demes[0].n, 0); /* the demes hold nothing */
    /* worse or as good: stays out; better: takes the cell; a passed case: another cell */
    assert_int_equal(pop_next_item(p, 0, 100, &it), 0);
    assert_int_not_equal(strcmp(it.op, "random"), 0);
    feed_errors(p, &it, 11, "ccccc", 1);
    assert_string_equal(a->cells[0].src, "aaaaa");
    assert_int_equal(pop_next_item(p, 0, 100, &it), 0);
    feed_errors(p, &it, 9, "ddddd", 1);
    assert_string_equal(a->cells[0].src, "ddddd");
    assert_int_equal(a->nocc, 2);
    assert_int_equal(pop_next_item(p, 0, 100, &it), 0);
    feed_errors(p, &it, 30, "eeeee", 0.25); /* worse, but passes its case */
    assert_int_equal(a->nocc, 3);
    assert_string_equal(a->cells[1].src, "eeeee");
    assert_int_equal(pop_next_item(p, 0, 100, &it), 0);
    feed_errors(p, &it, 1, "ffffffffffffffffffffffffffffffffffffffffffffff", 1); /* > 40 */
    assert_string_equal(a->cells[3 * 2].src, "ffffffffffffffffffffffffffffffffffffffffffffff");
    assert_int_equal(a->nocc, 4);
    /* parents: uniform over the occupied cells, never anything else */
    int picks[4] = {0};
    for (int k = 0; k < 4000; k++) {
        const member_t *m = pop_archive_pick(p);
        int c = -1;
        for (uint32_t i = 0; i < a->nocc; i++)
            if (m == &a->cells[a->occ[i]])
                c = (int)i;
        assert_true(c >= 0);
        picks[c]++;
    }
    for (int i = 0; i < 4; i++)
        assert_true(picks[i] > 800 && picks[i] < 1200);
    json_t *d = pop_detail_json(p, 3000);
    json_t *ja = json_object_get(d, "archive");
    assert_int_equal(json_integer_value(json_object_get(ja, "occupied")), 4);
    assert_true(json_real_value(json_object_get(ja, "coverage")) == 0.5);
    assert_true(json_real_value(json_object_get(d, "mean_fitness")) == (9 + 10.0 + 30 + 1) / 4);
    json_decref(d);
    pop_destroy(&p);
}

/* The "vars" descriptor counts distinct spec variables in the body. */
static void test_map_elites_vars(void **state)
{
    (void)state;
    char err[256];
    pop_t *p = make("\"primitives\":{\"vars\":[\"X\"]},\"size\":4,\"demes\":1,\"archive\":"
                    "{\"map_elites\":{\"descriptors\":[\"vars\"],\"bins\":[2]}}",
                    err, sizeof err);
    assert_non_null(p);
    pop_outcome_t o = {.status = WIRE_ST_OK};
    const char *with = "f(X) -> X + 1.", *without = "f(X) -> 3.", *other = "f(X) -> X1.";
    assert_int_equal(pop_archive_cell(p->archive, &o, p->spec, with, strlen(with)), 1);
    assert_int_equal(pop_archive_cell(p->archive, &o, p->spec, without, strlen(without)), 0);
    assert_int_equal(pop_archive_cell(p->archive, &o, p->spec, other, strlen(other)), 0);
    pop_destroy(&p);
}

#define LOOKUP_N 8
static const char *lookup_srcs[LOOKUP_N] = {
    "aaaaa", "bbbbbbbbbbbbbbb", "ccccc", "ddddd", "eeeee", "g0", "g1", "g2"};

/* The source whose hash it is, among lookup_srcs. */
static char *lookup_real(void *arg, const uint8_t hash[CRYPTO_HASH_LEN], size_t *len)
{
    (void)arg;
    for (int i = 0; i < LOOKUP_N; i++) {
        uint8_t h[CRYPTO_HASH_LEN];
        crypto_hash(lookup_srcs[i], strlen(lookup_srcs[i]), h);
        if (memcmp(h, hash, CRYPTO_HASH_LEN) == 0) {
            *len = strlen(lookup_srcs[i]);
            return strdup(lookup_srcs[i]);
        }
    }
    return NULL;
}

/* The archive comes back with its cells in their order, and draws as before. */
static void test_map_elites_persists(void **state)
{
    (void)state;
    char err[256];
    pop_t *p = make(ARCHIVE_SPEC, err, sizeof err);
    work_item_t it;
    pop_reserve(p, 0);
    const char *srcs[4] = {"bbbbbbbbbbbbbbb", "aaaaa", "eeeee", "ddddd"};
    const double errs[4] = {1, 1, 0.1, 1};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pop_next_item(p, 0, 100, &it), 0);
        feed_errors(p, &it, 10 - i, srcs[i], errs[i]);
    }
    assert_int_equal(p->archive->nocc, 3); /* ddddd took aaaaa's cell */
    json_t *j = pop_to_json(p);
    pop_t *q = pop_from_json(j, lookup_real, NULL, err, sizeof err);
    json_decref(j);
    assert_non_null(q);
    assert_int_equal(q->archive->nocc, 3);
    assert_int_equal(q->archive->inserted, p->archive->inserted);
    for (uint32_t k = 0; k < 3; k++) {
        uint32_t c = p->archive->occ[k];
        assert_int_equal(q->archive->occ[k], c);
        assert_string_equal(q->archive->cells[c].src, p->archive->cells[c].src);
        assert_true(q->archive->cells[c].fitness == p->archive->cells[c].fitness);
    }
    for (int k = 0; k < 50; k++)
        assert_ptr_equal(pop_archive_pick(q) - q->archive->cells,
                         pop_archive_pick(p) - p->archive->cells);
    /* a saved cell outside the spec's grid is refused, naming it */
    j = pop_to_json(p);
    json_array_set_new(json_array_get(json_object_get(json_object_get(j, "archive"), "cells"), 0),
                       0, json_integer(99));
    assert_null(pop_from_json(j, lookup_real, NULL, err, sizeof err));
    assert_non_null(strstr(err, "archive.cells[0]"));
    json_decref(j);
    pop_destroy(&p);
    pop_destroy(&q);
}

/* clones_dropped and the deme's collapse survive a restart (no new warning). */
static void test_diversity_state_persists(void **state)
{
    (void)state;
    char err[256];
    pop_t *p = full_deme("");
    breed_n(p, 5, "g1", 1); /* a member's genome: dropped each time */
    assert_int_equal(p->clones_dropped, 5);
    json_t *j = pop_to_json(p);
    pop_t *q = pop_from_json(j, lookup_real, NULL, err, sizeof err);
    json_decref(j);
    assert_non_null(q);
    assert_int_equal(q->clones_dropped, 5);
    assert_int_equal(q->replacement, POP_REPL_NICHE);
    pop_destroy(&p);
    pop_destroy(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_errors_name_the_field),
        cmocka_unit_test(test_fill_then_breed_with_elitism),
        cmocka_unit_test(test_migration_sends_distinct_members),
        cmocka_unit_test(test_program_operators),
        cmocka_unit_test(test_stop_rules_and_inflight_limit),
        cmocka_unit_test(test_failed_children_never_enter),
        cmocka_unit_test(test_item_lost_twice_is_given_up),
        cmocka_unit_test(test_seeds_and_submissions),
        cmocka_unit_test(test_json_round_trip_keeps_dseq_beyond_reservation),
        cmocka_unit_test(test_restore_counts_missing_genomes),
        cmocka_unit_test(test_detail_json),
        cmocka_unit_test(test_lexicase_spec),
        cmocka_unit_test(test_lexicase_bound_counts_split_errors),
        cmocka_unit_test(test_lexicase_picks_specialists),
        cmocka_unit_test(test_lexicase_size_tiebreak),
        cmocka_unit_test(test_lexicase_deme_vs_tournament),
        cmocka_unit_test(test_lexicase_epsilon),
        cmocka_unit_test(test_downsample_determinism),
        cmocka_unit_test(test_cost_lexicographic),
        cmocka_unit_test(test_errors_of_another_count_are_not_kept),
        cmocka_unit_test(test_errors_survive_restart),
        cmocka_unit_test(test_clones_do_not_flood),
        cmocka_unit_test(test_neutral_variants_stay_in_their_niche),
        cmocka_unit_test(test_age_replacement_takes_the_oldest),
        cmocka_unit_test(test_diversity_figures),
        cmocka_unit_test(test_niche_is_deterministic),
        cmocka_unit_test(test_replacement_and_archive_spec_errors),
        cmocka_unit_test(test_map_elites_insertion_and_selection),
        cmocka_unit_test(test_map_elites_vars),
        cmocka_unit_test(test_map_elites_persists),
        cmocka_unit_test(test_diversity_state_persists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
