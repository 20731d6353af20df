/* test_spec.c - spec parsing: defaults, every error names its field, and
 * the wire encoding the VMs read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

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
    assert_int_equal(r.err, 0);
    assert_int_equal(r.left, 0);
    wire_buf_free(&b);
    spec_destroy(&s);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
