/* test_spec.c - spec parsing: defaults, every error names its field, and
 * the wire encoding the VMs read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "spec.h"
#include "wire.h"

static spec_t *parse(const char *text, char *err, size_t errlen, int *rc)
{
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    assert_non_null(root);
    spec_t *s = NULL;
    *rc = spec_from_json(root, NULL, &s, err, errlen);
    json_decref(root);
    return s;
}

static void test_minimal_spec_gets_defaults(void **state)
{
    (void)state;
    char err[256] = "";
    int rc;
    spec_t *s = parse("{\"function\":\"g/2\",\"fitness\":{\"cases\":[{\"in\":[1,2.5],\"out\":3}]}}",
                      err, sizeof err, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(s->function, "g");
    assert_int_equal(s->arity, 2);
    assert_string_equal(s->vars[0], "X1");
    assert_string_equal(s->vars[1], "X2");
    assert_int_equal(s->nops, 3);
    assert_int_equal(s->timeout_ms, 500);
    assert_int_equal(s->language, SPEC_LANG_ERLANG);
    assert_int_equal(s->ncases, 1);
    assert_false(s->cases[0].in[0].is_float);
    assert_true(s->cases[0].in[1].is_float);
    assert_true(s->cases[0].in[1].f == 2.5);
    spec_destroy(&s);
    assert_null(s);
}

static void expect_error(const char *text, const char *field)
{
    char err[256] = "";
    int rc;
    spec_t *s = parse(text, err, sizeof err, &rc);
    assert_int_equal(rc, ERR_SPEC);
    assert_null(s);
    if (!strstr(err, field))
        fail_msg("error '%s' does not name '%s'", err, field);
}

static void test_errors_name_the_field(void **state)
{
    (void)state;
    const char *cases = "\"fitness\":{\"cases\":[{\"in\":[1],\"out\":1}]}";
    char buf[512];
    expect_error("{\"fitness\":{\"cases\":[{\"in\":[1],\"out\":1}]}}", "function");
    snprintf(buf, sizeof buf, "{\"function\":\"f/1\",%s,\"extra\":1}", cases);
    expect_error(buf, "extra");
    snprintf(buf, sizeof buf, "{\"function\":\"F/1\",%s}", cases);
    expect_error(buf, "function");
    snprintf(buf, sizeof buf, "{\"function\":\"f/99\",%s}", cases);
    expect_error(buf, "function");
    expect_error("{\"function\":\"f/1\"}", "fitness");
    expect_error("{\"function\":\"f/1\",\"fitness\":{\"cases\":{}}}", "fitness.cases");
    expect_error("{\"function\":\"f/1\",\"fitness\":{\"cases\":[{\"in\":[1]}]}}",
                 "fitness.cases[0].out");
    expect_error("{\"function\":\"f/1\",\"fitness\":{\"cases\":[{\"in\":[1],\"out\":1,\"w\":2}]}}",
                 "fitness.cases[0].w");
    expect_error("{\"function\":\"f/1\",\"fitness\":{\"cases\":[{\"in\":[1],\"out\":1}],"
                 "\"error\":\"max\"}}",
                 "fitness.error");
    snprintf(buf, sizeof buf, "{\"function\":\"f/1\",%s,\"limits\":{\"timeout_ms\":0}}", cases);
    expect_error(buf, "limits.timeout_ms");
    snprintf(buf, sizeof buf, "{\"function\":\"f/1\",%s,\"primitives\":{\"vars\":[\"x\"]}}", cases);
    expect_error(buf, "primitives.vars[0]");
    snprintf(buf, sizeof buf,
             "{\"function\":\"f/1\",%s,\"primitives\":{\"constants\":{\"min\":3,\"max\":1}}}",
             cases);
    expect_error(buf, "primitives.constants");
    snprintf(buf, sizeof buf, "{\"function\":\"f/1\",%s,\"language\":\"c\"}", cases);
    expect_error(buf, "language");
    expect_error("[1,2]", "spec");
}

static void test_extra_keys_are_allowed_when_named(void **state)
{
    (void)state;
    json_t *root = json_loads(
        "{\"function\":\"f/1\",\"size\":10,\"fitness\":{\"cases\":[{\"in\":[1],\"out\":1}]}}", 0,
        NULL);
    static const char *const extra[] = {"size", NULL};
    spec_t *s = NULL;
    char err[128];
    assert_int_equal(spec_from_json(root, extra, &s, err, sizeof err), 0);
    spec_destroy(&s);
    json_decref(root);
}

static void test_encoding_matches_the_wire_layout(void **state)
{
    (void)state;
    char err[256];
    int rc;
    spec_t *s = parse("{\"function\":\"f/1\",\"primitives\":{\"ops\":[\"+\",\"math:sin/1\"]},"
                      "\"fitness\":{\"cases\":[{\"in\":[2],\"out\":-1.5}],\"error\":\"squared\"}}",
                      err, sizeof err, &rc);
    assert_int_equal(rc, 0);
    wire_buf_t b;
    wire_buf_init(&b);
    spec_encode(s, SPEC_LANG_ELIXIR, &b);
    assert_int_equal(b.err, 0);
    wire_rd_t r = {.p = b.data, .left = b.len};
    char str[64];
    uint32_t u32, n;
    uint8_t u8;
    uint64_t u64;
    double d;
    int is_float;
    int64_t i;
    wire_get_str(&r, str, sizeof str);
    assert_string_equal(str, "f");
    wire_get_u32(&r, &u32);
    assert_int_equal(u32, 1);
    wire_get_u8(&r, &u8);
    assert_int_equal(u8, SPEC_LANG_ELIXIR);
    wire_get_u32(&r, &u32);
    assert_int_equal(u32, 500);
    wire_get_u64(&r, &u64);
    wire_get_u64(&r, &u64);
    assert_int_equal(u64, 1000000);
    wire_get_count(&r, &n, 16, 4);
    assert_int_equal(n, 1);
    wire_get_str(&r, str, sizeof str);
    assert_string_equal(str, "X");
    wire_get_count(&r, &n, 64, 4);
    assert_int_equal(n, 2);
    wire_get_str(&r, str, sizeof str);
    wire_get_str(&r, str, sizeof str);
    assert_string_equal(str, "math:sin/1");
    wire_get_f64(&r, &d);
    assert_true(d == -5);
    wire_get_f64(&r, &d);
    assert_true(d == 5);
    wire_get_u8(&r, &u8);
    assert_int_equal(u8, 1);
    wire_get_u8(&r, &u8);
    assert_int_equal(u8, SPEC_ERR_SQUARED);
    wire_get_count(&r, &n, 10, 1);
    assert_int_equal(n, 1);
    wire_get_count(&r, &n, 16, 9);
    assert_int_equal(n, 1);
    wire_get_num(&r, &is_float, &i, &d);
    assert_false(is_float);
    assert_int_equal(i, 2);
    wire_get_num(&r, &is_float, &i, &d);
    assert_true(is_float);
    assert_true(d == -1.5);
    /* the appended fields, at their defaults */
    const uint8_t *p;
    uint32_t plen;
    wire_get_bytes(&r, &p, &plen, 1 << 24);
    assert_int_equal(plen, 0); /* term_cases: none, the numeric cases count */
    wire_get_count(&r, &n, 256, 4);
    assert_int_equal(n, 0); /* atoms */
    wire_get_f64(&r, &d);
    assert_true(d == 0); /* float_tol */
    wire_get_f64(&r, &d);
    assert_true(d == 1); /* mismatch_error */
    wire_get_bytes(&r, &p, &plen, 1 << 24);
    assert_int_equal(plen, 0); /* evaluator */
    wire_get_u8(&r, &u8);
    assert_int_equal(u8, 0); /* evaluator_lang */
    wire_get_u8(&r, &u8);
    assert_int_equal(u8, SPEC_COST_NONE);
    for (int k = 0; k < 3; k++) {
        wire_get_f64(&r, &d);
        assert_true(d == 0);
    }
    wire_get_u8(&r, &u8);
    assert_int_equal(u8, 0); /* per_case */
    wire_get_u8(&r, &u8);
    assert_int_equal(u8, 0); /* split_tuples */
    assert_int_equal(r.err, 0);
    assert_int_equal(r.left, 0);
    wire_buf_free(&b);
    spec_destroy(&s);
}

/* Skips the SPEC block's original fields; r then points at term_cases. */
static void skip_to_appended(wire_rd_t *r)
{
    char str[SPEC_NAME_MAX];
    uint32_t arity, n;
    uint8_t u8;
    uint64_t u64;
    double d;
    int isf;
    int64_t i;
    wire_get_str(r, str, sizeof str);
    wire_get_u32(r, &arity);
    wire_get_u8(r, &u8);
    wire_get_u32(r, &n);
    wire_get_u64(r, &u64);
    wire_get_u64(r, &u64);
    wire_get_count(r, &n, SPEC_MAX_ARITY, 4);
    for (uint32_t k = 0; k < n; k++)
        wire_get_str(r, str, sizeof str);
    wire_get_count(r, &n, SPEC_MAX_OPS, 4);
    for (uint32_t k = 0; k < n; k++)
        wire_get_str(r, str, sizeof str);
    wire_get_f64(r, &d);
    wire_get_f64(r, &d);
    wire_get_u8(r, &u8);
    wire_get_u8(r, &u8);
    wire_get_count(r, &n, SPEC_MAX_CASES, 4);
    for (uint32_t k = 0; k < n; k++) {
        uint32_t m;
        wire_get_count(r, &m, SPEC_MAX_ARITY, 9);
        for (uint32_t j = 0; j <= m; j++)
            wire_get_num(r, &isf, &i, &d);
    }
    assert_int_equal(r->err, 0);
}

static void test_numeric_cases_keep_the_numeric_path(void **state)
{
    (void)state;
    char err[256];
    int rc;
    /* the new keys do not move numeric cases onto the term path */
    spec_t *s = parse("{\"function\":\"f/1\",\"fitness\":{\"cases\":[{\"in\":[1],\"out\":2.0}],"
                      "\"atoms\":[\"ok\"],\"float_tolerance\":0.5}}",
                      err, sizeof err, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(s->ncases, 1);
    assert_null(s->term_cases);
    assert_int_equal(spec_case_count(s), 1);
    assert_true(s->float_tol == 0.5);
    spec_destroy(&s);
    /* one case that is not all numbers, even the last, maps every case */
    s = parse("{\"function\":\"f/1\",\"fitness\":{\"cases\":[{\"in\":[1],\"out\":2},"
              "{\"in\":[2],\"out\":3},{\"in\":[3],\"out\":[4]}]}}",
              err, sizeof err, &rc);
    assert_int_equal(rc, 0);
    assert_null(s->cases);
    assert_int_equal(s->ncases, 0);
    assert_non_null(s->term_cases);
    assert_int_equal(s->nterm_cases, 3);
    assert_int_equal(spec_case_count(s), 3);
    spec_destroy(&s);
}

static void test_term_cases_encode_as_one_etf_list(void **state)
{
    (void)state;
    char err[256];
    int rc;
    spec_t *s = parse("{\"function\":\"sort/1\",\"fitness\":{\"atoms\":[\"ok\"],\"cases\":["
                      "{\"in\":[[2,1]],\"out\":[1,2]},"
                      "{\"in\":[\"a\"],\"out\":{\"$tuple\":[{\"$atom\":\"ok\"},1.5]}}]}}",
                      err, sizeof err, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(s->ncases, 0);
    assert_null(s->cases);
    assert_int_equal(s->nterm_cases, 2);
    assert_int_equal(spec_case_count(s), 2);
    static const uint8_t want[] = {
        131, 108, 0,   0, 0,   2,                                                /* [ */
        104, 2,   108, 0, 0,   0,   1,  108,  0,    0,  0, 2,   97,  2,   97, 1, /* {[[2,1] */
        106, 106, 108, 0, 0,   0,   2,  97,   1,    97, 2, 106,                  /* ], [1,2]} */
        104, 2,   108, 0, 0,   0,   1,  109,  0,    0,  0, 1,   'a', 106,        /* {[<<"a">>], */
        104, 2,   119, 2, 'o', 'k', 70, 0x3f, 0xf8, 0,  0, 0,   0,   0,   0,     /* {ok, 1.5}} */
        106};
    assert_int_equal(s->term_cases_len, sizeof want);
    assert_memory_equal(s->term_cases, want, sizeof want);

    wire_buf_t b;
    wire_buf_init(&b);
    s->per_case = 1; /* what the coordinator does for lexicase */
    spec_encode(s, -1, &b);
    wire_rd_t r;
    wire_rd_init(&r, b.data, b.len);
    skip_to_appended(&r);
    const uint8_t *p;
    uint32_t plen, n;
    char str[64];
    uint8_t u8;
    double d;
    wire_get_bytes(&r, &p, &plen, 1 << 24);
    assert_int_equal(plen, sizeof want);
    assert_memory_equal(p, want, sizeof want);
    wire_get_count(&r, &n, 256, 4);
    assert_int_equal(n, 1);
    wire_get_str(&r, str, sizeof str);
    assert_string_equal(str, "ok");
    wire_get_f64(&r, &d);
    wire_get_f64(&r, &d);
    wire_get_bytes(&r, &p, &plen, 1 << 24);
    wire_get_u8(&r, &u8);
    wire_get_u8(&r, &u8);
    for (int k = 0; k < 3; k++)
        wire_get_f64(&r, &d);
    wire_get_u8(&r, &u8);
    assert_int_equal(u8, 1); /* per_case, forced */
    wire_get_u8(&r, &u8);
    assert_int_equal(u8, 0); /* split_tuples */
    assert_int_equal(r.err, 0);
    assert_int_equal(r.left, 0);
    wire_buf_free(&b);
    spec_destroy(&s);
}

static void test_new_fields_parse_and_encode(void **state)
{
    (void)state;
    char err[256];
    int rc;
    spec_t *s =
        parse("{\"function\":\"f/0\",\"fitness\":{\"evaluator\":{\"source\":\"defmodule E do end\","
              "\"language\":\"elixir\"},\"float_tolerance\":0.001,\"mismatch_error\":10,"
              "\"per_case\":true,\"cost\":{\"mode\":\"weighted\",\"heap\":0.5,\"time\":2}}}",
              err, sizeof err, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(spec_case_count(s), 0); /* the evaluator alone scores */
    assert_int_equal(s->evaluator_lang, SPEC_LANG_ELIXIR);
    assert_int_equal(s->evaluator_len, strlen("defmodule E do end"));
    assert_int_equal(s->cost_mode, SPEC_COST_WEIGHTED);
    assert_true(s->cost_w[SPEC_COST_W_REDUCTIONS] == 0);
    assert_true(s->cost_w[SPEC_COST_W_HEAP] == 0.5);
    assert_true(s->cost_w[SPEC_COST_W_TIME] == 2);
    wire_buf_t b;
    wire_buf_init(&b);
    spec_encode(s, -1, &b);
    wire_rd_t r;
    wire_rd_init(&r, b.data, b.len);
    skip_to_appended(&r);
    const uint8_t *p;
    uint32_t plen, n;
    uint8_t u8;
    double d;
    wire_get_bytes(&r, &p, &plen, 1 << 24);
    assert_int_equal(plen, 0);
    wire_get_count(&r, &n, 256, 4);
    assert_int_equal(n, 0);
    wire_get_f64(&r, &d);
    assert_true(d == 0.001);
    wire_get_f64(&r, &d);
    assert_true(d == 10);
    wire_get_bytes(&r, &p, &plen, 1 << 24);
    assert_int_equal(plen, strlen("defmodule E do end"));
    assert_memory_equal(p, "defmodule E do end", plen);
    wire_get_u8(&r, &u8);
    assert_int_equal(u8, SPEC_LANG_ELIXIR);
    wire_get_u8(&r, &u8);
    assert_int_equal(u8, SPEC_COST_WEIGHTED);
    wire_get_f64(&r, &d);
    assert_true(d == 0);
    wire_get_f64(&r, &d);
    assert_true(d == 0.5);
    wire_get_f64(&r, &d);
    assert_true(d == 2);
    wire_get_u8(&r, &u8);
    assert_int_equal(u8, 1);
    wire_get_u8(&r, &u8);
    assert_int_equal(u8, 0); /* split_tuples */
    assert_int_equal(r.left, 0);
    wire_buf_free(&b);
    spec_destroy(&s);

    /* a mode with no weight given: reductions 1 */
    s = parse("{\"function\":\"f/1\",\"fitness\":{\"cases\":[{\"in\":[1],\"out\":1}],"
              "\"cost\":{\"mode\":\"lexicographic\"}}}",
              err, sizeof err, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(s->cost_mode, SPEC_COST_LEXICOGRAPHIC);
    assert_true(s->cost_w[SPEC_COST_W_REDUCTIONS] == 1);
    spec_destroy(&s);

    /* the edit error measure: code 2 on the wire, named back as "edit" */
    s = parse("{\"function\":\"f/1\",\"fitness\":{\"cases\":[{\"in\":[[1]],\"out\":[1]}],"
              "\"error\":\"edit\"}}",
              err, sizeof err, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(s->error, SPEC_ERR_EDIT);
    assert_string_equal(spec_error_str(s->error), "edit");
    assert_string_equal(spec_error_str(SPEC_ERR_ABS), "abs");
    assert_string_equal(spec_error_str(SPEC_ERR_SQUARED), "squared");
    wire_buf_init(&b);
    spec_encode(s, -1, &b);
    wire_rd_init(&r, b.data, b.len);
    char str[SPEC_NAME_MAX];
    uint32_t u32;
    uint64_t u64;
    wire_get_str(&r, str, sizeof str); /* function, arity, language, limits */
    wire_get_u32(&r, &u32);
    wire_get_u8(&r, &u8);
    wire_get_u32(&r, &u32);
    wire_get_u64(&r, &u64);
    wire_get_u64(&r, &u64);
    wire_get_count(&r, &n, SPEC_MAX_ARITY, 4); /* vars */
    for (uint32_t i = 0; i < n; i++)
        wire_get_str(&r, str, sizeof str);
    wire_get_count(&r, &n, SPEC_MAX_OPS, 4); /* ops */
    for (uint32_t i = 0; i < n; i++)
        wire_get_str(&r, str, sizeof str);
    wire_get_f64(&r, &d);
    wire_get_f64(&r, &d);
    wire_get_u8(&r, &u8);
    wire_get_u8(&r, &u8);
    assert_int_equal(r.err, 0);
    assert_int_equal(u8, SPEC_ERR_EDIT);
    wire_buf_free(&b);
    spec_destroy(&s);
}

static void test_new_fields_errors_name_the_field(void **state)
{
    (void)state;
#define F(x) "{\"function\":\"f/1\",\"fitness\":{" x "}}"
#define C "\"cases\":[{\"in\":[1],\"out\":1}]"
    expect_error(F("\"atoms\":[\"ok\"],\"cases\":[{\"in\":[1],\"out\":1},{\"in\":[1],\"out\":1},"
                   "{\"in\":[1],\"out\":{\"$atom\":\"foo\"}}]"),
                 "fitness.cases[2].out: atom \"foo\" is not declared in fitness.atoms");
    expect_error(F("\"cases\":[{\"in\":[{\"$ref\":1}],\"out\":1}]"),
                 "fitness.cases[0].in[0]: \"$ref\" is not a tag");
    expect_error(F("\"cases\":[{\"in\":[\"a\",\"b\"],\"out\":1}]"),
                 "fitness.cases[0].in: must be a list of 1 values");
    expect_error(F("\"cases\":[{\"in\":[\"a\"]}]"), "fitness.cases[0].out: missing");
    expect_error(F("\"cases\":[{\"in\":[\"a\"],\"out\":1,\"x\":1}]"), "fitness.cases[0].x");
    expect_error(F("\"cases\":[3]"), "fitness.cases[0]: must be an object");
    expect_error(F(C ",\"atoms\":[\"Ok\"]"), "fitness.atoms[0]: must be a plain atom name");
    expect_error(F(C ",\"atoms\":[\"a b\"]"), "fitness.atoms[0]");
    expect_error(F(C ",\"atoms\":[\"ok\",\"ok\"]"), "fitness.atoms[1]: \"ok\" is declared twice");
    expect_error(F(C ",\"atoms\":\"ok\""), "fitness.atoms");
    expect_error(F(C ",\"float_tolerance\":-1"), "fitness.float_tolerance");
    expect_error(F(C ",\"mismatch_error\":0"), "fitness.mismatch_error");
    expect_error(F(C ",\"per_case\":1"), "fitness.per_case");
    expect_error(F(C ",\"split_tuples\":\"yes\""), "fitness.split_tuples: must be true or false");
    expect_error(F(C ",\"cost\":{\"mode\":\"fast\"}"), "fitness.cost.mode");
    expect_error(F(C ",\"cost\":{}"), "fitness.cost.mode");
    expect_error(F(C ",\"cost\":{\"mode\":\"weighted\",\"heap\":-1}"), "fitness.cost.heap");
    expect_error(F(C ",\"cost\":{\"mode\":\"weighted\",\"time\":0}"), "fitness.cost: every weight");
    expect_error(F(C ",\"cost\":{\"mode\":\"none\",\"speed\":1}"), "fitness.cost.speed");
    expect_error(F(C ",\"evaluator\":\"x\""), "fitness.evaluator");
    expect_error(F(C ",\"evaluator\":{\"source\":\"\"}"), "fitness.evaluator.source");
    expect_error(F(C ",\"evaluator\":{\"source\":\"x\",\"language\":\"c\"}"),
                 "fitness.evaluator.language");
    expect_error(F(C ",\"evaluator\":{\"source\":\"x\",\"lang\":\"c\"}"), "fitness.evaluator.lang");
    /* a spec from the network never reads the receiver's files */
    expect_error(F(C ",\"evaluator\":{\"file\":\"/etc/passwd.erl\"}"), "fitness.evaluator.file");
    expect_error(F("\"error\":\"abs\""), "fitness.cases: missing");
#undef F
#undef C
}

/* split_tuples: a case expecting a tuple counts an error per element, others
 * one; the flag is the SPEC block's last byte; more than SPEC_MAX_CASES
 * errors an evaluation is refused. */
static void test_split_tuples_count_errors(void **state)
{
    (void)state;
    char err[256];
    int rc;
    const char *cases = "\"cases\":[{\"in\":[1],\"out\":{\"$tuple\":[1,[2],3]}},"
                        "{\"in\":[2],\"out\":[1]},{\"in\":[3],\"out\":{\"$tuple\":[]}}]";
    char json[512];
    snprintf(json, sizeof json, "{\"function\":\"f/1\",\"fitness\":{%s}}", cases);
    spec_t *s = parse(json, err, sizeof err, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(s->split_tuples, 0);
    assert_int_equal(s->nerrors, 3); /* one a case */
    spec_destroy(&s);
    snprintf(json, sizeof json, "{\"function\":\"f/1\",\"fitness\":{%s,\"split_tuples\":true}}",
             cases);
    s = parse(json, err, sizeof err, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(s->split_tuples, 1);
    assert_int_equal(s->nerrors, 5); /* 3 + 1 + the empty tuple's 1 */
    wire_buf_t b;
    wire_buf_init(&b);
    spec_encode(s, -1, &b);
    assert_true(b.len > 0);
    assert_int_equal(b.data[b.len - 1], 1);
    assert_int_equal(b.data[b.len - 2], 0); /* per_case */
    wire_buf_free(&b);
    spec_destroy(&s);
    /* numeric cases: one error each, whatever the flag */
    s = parse("{\"function\":\"f/1\",\"fitness\":{\"cases\":[{\"in\":[1],\"out\":1},"
              "{\"in\":[2],\"out\":2}],\"split_tuples\":true}}",
              err, sizeof err, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(s->nerrors, 2);
    spec_destroy(&s);
    /* 4,000 cases of a 3-tuple: 12,000 errors, over the cap */
    size_t cap = 64 + 4000 * 48;
    char *big = malloc(cap);
    assert_non_null(big);
    size_t off = (size_t)snprintf(big, cap, "{\"function\":\"f/1\",\"fitness\":{\"cases\":[");
    for (int i = 0; i < 4000; i++)
        off += (size_t)snprintf(big + off, cap - off,
                                "%s{\"in\":[%d],\"out\":{\"$tuple\":[1,2,3]}}", i ? "," : "", i);
    snprintf(big + off, cap - off, "],\"split_tuples\":true}}");
    s = parse(big, err, sizeof err, &rc);
    assert_null(s);
    assert_int_equal(rc, ERR_SPEC);
    assert_non_null(strstr(err, "fitness.split_tuples: the cases' tuples give 12000 errors"));
    free(big);
}

static void test_term_cases_caps(void **state)
{
    (void)state;
    /* more than SPEC_TERM_MAX_BYTES once encoded */
    json_t *root = json_pack("{s:s, s:{s:[]}}", "function", "f/1", "fitness", "cases");
    json_t *cases = json_object_get(json_object_get(root, "fitness"), "cases");
    size_t big = 100000;
    char *text = malloc(big + 1);
    memset(text, 'x', big);
    text[big] = '\0';
    for (int i = 0; i < 50; i++)
        json_array_append_new(cases, json_pack("{s:[s], s:i}", "in", text, "out", 1));
    free(text);
    spec_t *s = NULL;
    char err[256];
    assert_int_equal(spec_from_json(root, NULL, &s, err, sizeof err), ERR_SPEC);
    assert_null(s);
    assert_non_null(strstr(err, "fitness.cases"));
    assert_non_null(strstr(err, "byte cap"));
    json_decref(root);
    /* nesting deeper than SPEC_TERM_MAX_DEPTH */
    char deep[2 * SPEC_TERM_MAX_DEPTH + 128];
    size_t n = (size_t)snprintf(deep, sizeof deep,
                                "{\"function\":\"f/1\",\"fitness\":{\"cases\":[{"
                                "\"in\":[1],\"out\":");
    for (int i = 0; i <= SPEC_TERM_MAX_DEPTH; i++)
        deep[n++] = '[';
    for (int i = 0; i <= SPEC_TERM_MAX_DEPTH; i++)
        deep[n++] = ']';
    snprintf(deep + n, sizeof deep - n, "}]}}");
    expect_error(deep, "fitness.cases[0].out");
    expect_error(deep, "nested deeper than 64");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_evaluator_file_is_relative_to_the_spec(void **state)
{
    (void)state;
    char dir[] = "/tmp/petri-test-spec-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[128], spec[160], ev[160], err[512];
    snprintf(sub, sizeof sub, "%s/specs", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(ev, sizeof ev, "%s/eval.erl", sub);
    write_file(ev, "-module(eval).\n");
    snprintf(spec, sizeof spec, "%s/spec.json", sub);
    write_file(spec, "{\"function\":\"f/1\",\"fitness\":{\"evaluator\":{\"file\":\"eval.erl\"}}}");
    spec_t *s = NULL;
    assert_int_equal(spec_load_file(spec, &s, err, sizeof err), 0);
    assert_int_equal(s->evaluator_len, strlen("-module(eval).\n"));
    assert_memory_equal(s->evaluator, "-module(eval).\n", s->evaluator_len);
    assert_int_equal(s->evaluator_lang, SPEC_LANG_ERLANG);
    spec_destroy(&s);

    /* a missing file, a bad extension, file with source */
    write_file(spec, "{\"function\":\"f/1\",\"fitness\":{\"evaluator\":{\"file\":\"nope.erl\"}}}");
    assert_int_equal(spec_load_file(spec, &s, err, sizeof err), ERR_SPEC);
    assert_non_null(strstr(err, "fitness.evaluator.file"));
    assert_non_null(strstr(err, "specs/nope.erl"));
    write_file(spec, "{\"function\":\"f/1\",\"fitness\":{\"evaluator\":{\"file\":\"eval.txt\"}}}");
    assert_int_equal(spec_load_file(spec, &s, err, sizeof err), ERR_SPEC);
    assert_non_null(strstr(err, "fitness.evaluator.file"));
    write_file(spec, "{\"function\":\"f/1\",\"fitness\":{\"evaluator\":{\"file\":\"eval.erl\","
                     "\"source\":\"x\"}}}");
    assert_int_equal(spec_load_file(spec, &s, err, sizeof err), ERR_SPEC);
    assert_non_null(strstr(err, "fitness.evaluator"));

    /* spec_resolve_files on its own, as the CLI uses it */
    json_t *root =
        json_loads("{\"fitness\":{\"evaluator\":{\"file\":\"specs/eval.erl\"}}}", 0, NULL);
    char fake[160];
    snprintf(fake, sizeof fake, "%s/pop.json", dir);
    assert_int_equal(spec_resolve_files(root, fake, err, sizeof err), 0);
    json_t *e = json_object_get(json_object_get(root, "fitness"), "evaluator");
    assert_string_equal(json_string_value(json_object_get(e, "source")), "-module(eval).\n");
    assert_string_equal(json_string_value(json_object_get(e, "language")), "erlang");
    assert_null(json_object_get(e, "file"));
    json_decref(root);

    unlink(ev);
    unlink(spec);
    rmdir(sub);
    rmdir(dir);
}

static void test_language_of_path(void **state)
{
    (void)state;
    assert_int_equal(spec_language_of_path("a/b.erl"), SPEC_LANG_ERLANG);
    assert_int_equal(spec_language_of_path("x.ex"), SPEC_LANG_ELIXIR);
    assert_int_equal(spec_language_of_path("x.exs"), SPEC_LANG_ELIXIR);
    assert_int_equal(spec_language_of_path("x.txt"), -1);
    assert_int_equal(spec_language_of_path("noext"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_spec_gets_defaults),
        cmocka_unit_test(test_errors_name_the_field),
        cmocka_unit_test(test_extra_keys_are_allowed_when_named),
        cmocka_unit_test(test_encoding_matches_the_wire_layout),
        cmocka_unit_test(test_language_of_path),
        cmocka_unit_test(test_numeric_cases_keep_the_numeric_path),
        cmocka_unit_test(test_term_cases_encode_as_one_etf_list),
        cmocka_unit_test(test_new_fields_parse_and_encode),
        cmocka_unit_test(test_new_fields_errors_name_the_field),
        cmocka_unit_test(test_term_cases_caps),
        cmocka_unit_test(test_split_tuples_count_errors),
        cmocka_unit_test(test_evaluator_file_is_relative_to_the_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
