/* test_api_mut.c - cmocka tests of the external mutators' resources
 * (coordinator/api_mut.c) on a real lineage store and population, no
 * network: the prompt bundle's contents, its caps, its hash, and that
 * sampling leaves the population's own generator alone. */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "api_mut.h"
#include "err.h"
#include "log.h"

#define NCASES 20

static node_identity_t ident;

struct fx {
    char dir[64];
    coord_t c;
    pop_t *p;
};

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

/* A lexicase population of one deme of `size`, cases f(X) = X. */
static pop_t *make_pop(const char *name, int size, const char *selection)
{
    json_t *cases = json_array();
    for (int i = 0; i < NCASES; i++)
        json_array_append_new(cases, json_pack("{s:[i], s:i}", "in", i, "out", i));
    json_t *spec =
        json_pack("{s:s, s:s, s:{s:o, s:f}, s:i, s:i, s:i, s:o}", "name", name, "function", "f/1",
                  "fitness", "cases", cases, "float_tolerance", 0.5, "size", size, "demes", 1,
                  "elitism", 0, "selection", json_loads(selection, 0, NULL));
    char err[256];
    pop_t *p = pop_new(spec, 1000, err, sizeof err);
    json_decref(spec);
    if (!p)
        fail_msg("pop_new: %s", err);
    return p;
}

/* Fills deme 0 with members: member i fails cases 0..fails[i]-1 (error
 * fails[i]+1 each: equal fails, equal fitness) and passes the others (error 0.25, within the
 * tolerance), and has a version 2 record in the store with passed/cases. */
static void fill(struct fx *f, const int *fails, int n)
{
    assert_int_equal(pop_reserve(f->p, 0), 1);
    for (int i = 0; i < n; i++) {
        work_item_t it;
        assert_int_equal(pop_next_item(f->p, 0, 100, &it), 0);
        char src[64];
        snprintf(src, sizeof src, "-module(g).\n-export([f/1]).\nf(X) -> X + %d.\n", i);
        double e[NCASES], total = 0;
        for (int k = 0; k < NCASES; k++)
            total += e[k] = k < fails[i] ? fails[i] + 1 : 0.25;
        uint8_t h[CRYPTO_HASH_LEN];
        crypto_hash(src, strlen(src), h);
        pop_outcome_t o = {.status = WIRE_ST_OK, .fitness = total, .errors = e, .nerrors = NCASES};
        pop_result_ext(f->p, &it, &o, h, src, strlen(src), 2000);
        store_item_t si = {.population = f->p->name,
                           .deme = 0,
                           .dseq = it.dseq,
                           .op = "random",
                           .status = WIRE_ST_OK,
                           .fitness = total,
                           .src = src,
                           .src_len = strlen(src),
                           .passed = (uint32_t)(NCASES - fails[i]),
                           .cases = NCASES};
        memcpy(si.child_hash, h, CRYPTO_HASH_LEN);
        assert_int_equal(store_append(f->c.store, &si, 1, 3000), 0);
        work_item_clear(&it);
    }
    assert_int_equal(f->p->demes[0].n, n);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/petri-apimut-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char err[256];
    f->c.store = store_open(f->dir, 0, &ident, err, sizeof err);
    assert_non_null(f->c.store);
    f->p = make_pop("lex", 8, "{\"lexicase\": {}}");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    pop_destroy(&f->p);
    store_close(&f->c.store);
    nftw(f->dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static json_t *get(struct fx *f, const char *query, int *status)
{
    http_resp_t r = {.status = 200};
    api_bundle(&f->c, f->p, query, &r);
    *status = r.status;
    json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
    free(r.body);
    assert_non_null(j);
    return j;
}

static void test_bundle_contents(void **state)
{
    struct fx *f = *state;
    int st;
    json_t *e = get(f, "", &st);
    assert_int_equal(st, 409); /* no member yet */
    json_decref(e);
    int fails[6] = {3, 1, 0, 20, 5, 2};
    fill(f, fails, 6);
    uint64_t rng = f->p->rng, drng = f->p->demes[0].rng;
    json_t *b = get(f, "members=4", &st);
    assert_int_equal(st, 200);
    assert_true(f->p->rng == rng && f->p->demes[0].rng == drng); /* invariant 5 */
    assert_string_equal(json_string_value(json_object_get(b, "population")), "lex");
    assert_int_equal(json_integer_value(json_object_get(b, "deme")), 0);
    json_t *spec = json_object_get(b, "spec");
    assert_string_equal(json_string_value(json_object_get(spec, "function")), "f");
    assert_int_equal(json_integer_value(json_object_get(spec, "arity")), 1);
    assert_int_equal(json_array_size(json_object_get(spec, "cases")), NCASES);
    assert_int_equal(json_integer_value(json_object_get(spec, "cases_total")), NCASES);
    json_t *ps = json_object_get(b, "parents");
    assert_int_equal(json_array_size(ps), 4);
    /* the best (member 2: no failing case) first, then distinct others */
    json_t *best = json_array_get(ps, 0);
    assert_non_null(strstr(json_string_value(json_object_get(best, "source")), "X + 2."));
    assert_int_equal(json_array_size(json_object_get(best, "failing")), 0);
    assert_int_equal(json_integer_value(json_object_get(best, "passed")), NCASES);
    for (size_t i = 0; i < 4; i++) {
        json_t *p = json_array_get(ps, i);
        const char *src = json_string_value(json_object_get(p, "source"));
        int m = atoi(strstr(src, "X + ") + 4);
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(
                json_string_value(json_object_get(p, "hash")),
                json_string_value(json_object_get(json_array_get(ps, k), "hash")));
        assert_int_equal(json_integer_value(json_object_get(p, "cases")), NCASES);
        assert_int_equal(json_integer_value(json_object_get(p, "passed")), NCASES - fails[m]);
        json_t *fl = json_object_get(p, "failing");
        assert_int_equal(json_array_size(fl), fails[m] < 16 ? fails[m] : 16);
        for (size_t k = 0; k < json_array_size(fl); k++) {
            json_t *c = json_array_get(fl, k);
            assert_int_equal(json_integer_value(json_object_get(c, "index")), (int)k);
            assert_true(json_real_value(json_object_get(c, "error")) == fails[m] + 1);
            assert_int_equal(json_integer_value(json_array_get(json_object_get(c, "in"), 0)),
                             (int)k);
            assert_int_equal(json_integer_value(json_object_get(c, "out")), (int)k);
        }
    }
    /* the hash covers the bundle's canonical bytes */
    char hex[65];
    assert_int_equal(api_bundle_hash(b, hex), 0);
    assert_string_equal(hex, json_string_value(json_object_get(b, "bundle_hash")));
    json_object_set_new(json_array_get(ps, 1), "fitness", json_real(-1));
    assert_int_equal(api_bundle_hash(b, hex), 0);
    assert_string_not_equal(hex, json_string_value(json_object_get(b, "bundle_hash")));
    json_decref(b);

    /* all members asked: member 3's 20 failing cases are capped, and a note says so */
    b = get(f, "members=16&deme=0", &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(b, "parents")), 6);
    char *notes = json_dumps(json_object_get(b, "notes"), 0);
    assert_non_null(strstr(notes, "at most 16 failing"));
    assert_non_null(strstr(notes, "fewer than the 16 asked"));
    free(notes);
    json_decref(b);
}

static void test_bundle_refusals(void **state)
{
    struct fx *f = *state;
    int fails[2] = {1, 2};
    fill(f, fails, 2);
    static const char *const bad[] = {"members=0", "members=17", "members=x",  "members=",
                                      "deme=1",    "deme=-1",    "members=2a", "deme=1e3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st;
        json_t *e = get(f, bad[i], &st);
        const char *msg = json_string_value(json_object_get(e, "error"));
        char key[16];
        snprintf(key, sizeof key, "%.*s", (int)strcspn(bad[i], "="), bad[i]);
        if (st != 400 || !msg || !strstr(msg, key))
            fail_msg("%s: %d %s", bad[i], st, msg ? msg : "-");
        json_decref(e);
    }
}

/* Diversity: other fitness values first, then other hashes; never a hash
 * twice; the caller's generator only. */
static void test_sample_members(void **state)
{
    struct fx *f = *state;
    int fails[8] = {2, 2, 2, 2, 1, 1, 3, 4}; /* four members share one fitness */
    fill(f, fails, 8);
    uint64_t rng = 42;
    for (int round = 0; round < 50; round++) {
        int out[8];
        int n = pop_sample_members(f->p, 0, 4, &rng, out);
        assert_int_equal(n, 4);
        const deme_t *dm = &f->p->demes[0];
        for (int i = 1; i < dm->n; i++)
            assert_true(dm->m[out[0]].fitness <= dm->m[i].fitness);
        /* 4 distinct fitness values exist (fails 1, 2, 3, 4): all are taken */
        for (int i = 0; i < n; i++)
            for (int k = 0; k < i; k++)
                assert_true(dm->m[out[i]].fitness != dm->m[out[k]].fitness);
        n = pop_sample_members(f->p, 0, 8, &rng, out);
        assert_int_equal(n, 8);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < i; k++)
                assert_int_not_equal(out[i], out[k]);
    }
    int out[4];
    assert_int_equal(pop_sample_members(f->p, 1, 4, &rng, out), 0);
    assert_int_equal(pop_sample_members(f->p, 0, 0, &rng, out), 0);
}

int main(void)
{
    if (crypto_init() != 0)
        return 1;
    log_init("test_api_mut", LOG_LVL_ERROR, 0);
    crypto_sign_ed25519_keypair(ident.pk, ident.sk);
    crypto_id_from_pk(ident.pk, ident.id);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bundle_contents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bundle_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_members, setup, teardown),
    };
    return cmocka_run_group_tests_name("api_mut", tests, NULL, NULL);
}
