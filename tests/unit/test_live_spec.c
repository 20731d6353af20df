/* test_live_spec.c - the live spec and trace from bytes (shared/live_spec.c):
 * defaults, the example config, and bad input of every kind refused with a
 * message naming the place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "etf.h"
#include "live_spec.h"
#include "util.h"

static int parse(const char *text, live_spec_t *s, char *err, size_t errlen)
{
    return live_spec_parse(text, strlen(text), s, err, errlen);
}

static void test_empty_object_gets_defaults(void **state)
{
    (void)state;
    live_spec_t s;
    char err[256] = "x";
    assert_int_equal(parse("{}", &s, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_int_equal(s.start.timeout_ms, 100);
    assert_int_equal(s.start.heap_words, 1000000);
    assert_int_equal(s.start.reductions, 1000000);
    assert_int_equal(s.start.state_words, 100000);
    assert_int_equal(s.start.probation, 50);
    assert_int_equal(s.start.window, 200);
    assert_true(s.start.lat_w == 0 && s.start.red_w == 0 && s.start.tolerance == 0);
    assert_true(s.rate == LIVE_DEFAULT_RATE);
    assert_int_equal(s.batch, LIVE_DEFAULT_BATCH);
    assert_int_equal(s.natoms, 0);
    assert_int_equal(s.start.live_id, 0);
    assert_int_equal(s.start.version, 0);
    assert_null(s.start.source);
    /* init absent: the atom nil */
    assert_int_equal(s.init_arg_len, 6);
    assert_memory_equal(s.init_arg, "\x83\x77\x03nil", 6);
    assert_ptr_equal(s.start.init_arg, s.init_arg);
    live_spec_free(&s);
    assert_null(s.init_arg);
    live_spec_free(&s); /* twice is harmless */
}

static void test_every_key(void **state)
{
    (void)state;
    live_spec_t s;
    char err[256];
    const char *j = "{\"atoms\":[\"hit\",\"allow\",\"deny\"],\"init\":{\"$atom\":\"hit\"},"
                    "\"limits\":{\"timeout_ms\":7,\"heap_words\":2000,\"reductions\":0,"
                    "\"state_words\":9},\"probation\":3,\"window\":4,"
                    "\"score\":{\"latency\":0.5,\"reductions\":0.25,\"tolerance\":2},"
                    "\"rate\":0,\"batch\":4096}";
    assert_int_equal(parse(j, &s, err, sizeof err), 0);
    assert_int_equal(s.start.timeout_ms, 7);
    assert_int_equal(s.start.heap_words, 2000);
    assert_int_equal(s.start.reductions, 0);
    assert_int_equal(s.start.state_words, 9);
    assert_int_equal(s.start.probation, 3);
    assert_int_equal(s.start.window, 4);
    assert_true(s.start.lat_w == 0.5 && s.start.red_w == 0.25 && s.start.tolerance == 2);
    assert_true(s.rate == 0);
    assert_int_equal(s.batch, 4096);
    assert_int_equal(s.natoms, 3);
    assert_int_equal(s.start.natoms, 3);
    assert_string_equal(s.start.atoms[2], "deny");
    assert_memory_equal(s.init_arg, "\x83\x77\x03hit", 6);
    live_spec_free(&s);
}

static void test_the_example_config_parses(void **state)
{
    (void)state;
    char *spec, *trace, err[256];
    size_t sl, tl;
    assert_int_equal(util_read_file("configs/live/ratelimit.json", 1 << 20, &spec, &sl), 0);
    assert_int_equal(util_read_file("configs/live/trace.jsonl", 64 << 20, &trace, &tl), 0);
    live_spec_t s;
    live_trace_t t;
    assert_int_equal(live_spec_parse(spec, sl, &s, err, sizeof err), 0);
    assert_int_equal(live_trace_parse(trace, tl, &s, &t, err, sizeof err), 0);
    assert_true(t.n > 100);
    assert_non_null(t.reqs[0].expect);
    assert_int_equal(t.reqs[0].req[0], ETF_VERSION);
    live_trace_free(&t);
    live_spec_free(&s);
    free(spec);
    free(trace);
}

static void expect_spec_error(const char *text, const char *field)
{
    live_spec_t s;
    char err[256] = "";
    int rc = parse(text, &s, err, sizeof err);
    if (rc != ERR_SPEC || !strstr(err, field)) {
        fprintf(stderr, "spec %s: rc %d, err '%s', wanted '%s'\n", text, rc, err, field);
        fail();
    }
    live_spec_free(&s);
}

static void test_bad_specs_name_their_field(void **state)
{
    (void)state;
    expect_spec_error("", "not JSON");
    expect_spec_error("{", "not JSON");
    expect_spec_error("[]", "JSON object");
    expect_spec_error("3", "JSON object");
    expect_spec_error("{\"rate\":1,\"rate\":2}", "not JSON");
    expect_spec_error("{\"limitz\":{}}", "limitz: unknown key");
    expect_spec_error("{\"limits\":[]}", "limits: must be an object");
    expect_spec_error("{\"score\":1}", "score: must be an object");
    expect_spec_error("{\"limits\":{\"timeout_ms\":-1}}", "limits.timeout_ms");
    expect_spec_error("{\"limits\":{\"timeout_ms\":0}}", "limits.timeout_ms");
    expect_spec_error("{\"limits\":{\"timeout_ms\":1.5}}", "limits.timeout_ms: must be a whole");
    expect_spec_error("{\"limits\":{\"timeout_ms\":\"1\"}}", "limits.timeout_ms");
    expect_spec_error("{\"limits\":{\"heap_words\":999}}", "limits.heap_words");
    expect_spec_error("{\"limits\":{\"reductions\":-1}}", "limits.reductions");
    expect_spec_error("{\"limits\":{\"state_words\":0}}", "limits.state_words");
    expect_spec_error("{\"limits\":{\"wall\":1}}", "limits.wall: unknown key");
    expect_spec_error("{\"score\":{\"latency\":2}}", "score.latency");
    expect_spec_error("{\"score\":{\"reductions\":-0.1}}", "score.reductions");
    expect_spec_error("{\"score\":{\"tolerance\":null}}", "score.tolerance");
    expect_spec_error("{\"score\":{\"speed\":1}}", "score.speed: unknown key");
    expect_spec_error("{\"probation\":0}", "probation");
    expect_spec_error("{\"window\":2000000}", "window");
    expect_spec_error("{\"rate\":-1}", "rate");
    expect_spec_error("{\"rate\":true}", "rate");
    expect_spec_error("{\"batch\":4097}", "batch");
    expect_spec_error("{\"batch\":0}", "batch");
    expect_spec_error("{\"atoms\":\"ok\"}", "atoms: must be a list");
    expect_spec_error("{\"atoms\":[1]}", "atoms[0]");
    expect_spec_error("{\"atoms\":[\"ok\",\"\"]}", "atoms[1]");
    expect_spec_error("{\"atoms\":[\"Ok\"]}", "atoms[0]");
    expect_spec_error("{\"atoms\":[\"o k\"]}", "atoms[0]");
    expect_spec_error("{\"atoms\":[\"ok\",\"ok\"]}", "atoms[1]: \"ok\" is declared twice");
    expect_spec_error("{\"init\":{\"$atom\":\"nope\"}}", "init");
    expect_spec_error("{\"init\":{\"$weird\":1}}", "init");
    expect_spec_error("{\"init\":{\"$float\":\"x\"}}", "init");
    /* too many atoms */
    char big[300 * 8 + 32];
    size_t n = (size_t)snprintf(big, sizeof big, "{\"atoms\":[");
    for (int i = 0; i <= SPEC_MAX_ATOMS; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%s\"a%d\"", i ? "," : "", i);
    snprintf(big + n, sizeof big - n, "]}");
    expect_spec_error(big, "atoms: must be a list of at most");
}

static void test_deep_init_is_refused(void **state)
{
    (void)state;
    char text[1024];
    size_t n = (size_t)snprintf(text, sizeof text, "{\"init\":");
    for (int i = 0; i < SPEC_TERM_MAX_DEPTH + 2; i++)
        text[n++] = '[';
    for (int i = 0; i < SPEC_TERM_MAX_DEPTH + 2; i++)
        text[n++] = ']';
    snprintf(text + n, sizeof text - n, "}");
    expect_spec_error(text, "init");
}

static void test_oversized_spec_is_refused(void **state)
{
    (void)state;
    live_spec_t s;
    char err[128];
    assert_int_equal(live_spec_parse("{}", LIVE_SPEC_MAX_BYTES + 1, &s, err, sizeof err), ERR_SPEC);
    assert_non_null(strstr(err, "over"));
}

static void test_extra_keys_are_the_callers(void **state)
{
    (void)state;
    json_t *o = json_pack("{s:i, s:i}", "rate", 5, "individuals", 3);
    static const char *const extra[] = {"individuals", NULL};
    live_spec_t s;
    char err[128];
    assert_int_equal(live_spec_from_json(o, NULL, &s, err, sizeof err), ERR_SPEC);
    assert_non_null(strstr(err, "individuals"));
    live_spec_free(&s);
    assert_int_equal(live_spec_from_json(o, extra, &s, err, sizeof err), 0);
    assert_true(s.rate == 5);
    live_spec_free(&s);
    json_decref(o);
}

/* ---- traces ---- */

static live_spec_t spec_with_atoms(void)
{
    live_spec_t s;
    char err[128];
    assert_int_equal(parse("{\"atoms\":[\"hit\",\"allow\"]}", &s, err, sizeof err), 0);
    return s;
}

static void test_trace_lines(void **state)
{
    (void)state;
    live_spec_t s = spec_with_atoms();
    live_trace_t t;
    char err[256];
    const char *text = "{\"req\":{\"$tuple\":[{\"$atom\":\"hit\"},1,2]},\"expect\":{\"$atom\":"
                       "\"allow\"}}\n\n  \t\r\n{\"req\":7}\r\n{\"req\":[]}";
    assert_int_equal(live_trace_parse(text, strlen(text), &s, &t, err, sizeof err), 0);
    assert_int_equal(t.n, 3);
    assert_non_null(t.reqs[0].expect);
    assert_null(t.reqs[1].expect);
    assert_int_equal(t.reqs[1].req_len, 3);
    assert_memory_equal(t.reqs[1].req, "\x83\x61\x07", 3);
    assert_memory_equal(t.reqs[2].req, "\x83\x6a", 2);
    live_trace_free(&t);
    assert_null(t.reqs);
    live_trace_free(&t);
    live_spec_free(&s);
}

static void expect_trace_error(const char *text, const char *where)
{
    live_spec_t s = spec_with_atoms();
    live_trace_t t;
    char err[256] = "";
    int rc = live_trace_parse(text, strlen(text), &s, &t, err, sizeof err);
    if (rc != ERR_SPEC || !strstr(err, where)) {
        fprintf(stderr, "trace %s: rc %d, err '%s', wanted '%s'\n", text, rc, err, where);
        fail();
    }
    live_trace_free(&t);
    live_spec_free(&s);
}

static void test_bad_traces_name_their_line(void **state)
{
    (void)state;
    expect_trace_error("", "trace: holds no request");
    expect_trace_error("\n \n\t\n", "trace: holds no request");
    expect_trace_error("{\"req\":1}\nnot json\n", "trace line 2: not JSON");
    expect_trace_error("{\"req\":1}\n[1]\n", "trace line 2: must be an object with \"req\"");
    expect_trace_error("{\"expect\":1}", "trace line 1: must be an object");
    expect_trace_error("{\"req\":1,\"req\":2}", "trace line 1: not JSON");
    expect_trace_error("{\"req\":1,\"exepct\":2}", "trace line 1.exepct: unknown key");
    expect_trace_error("{\"req\":1}\n{\"req\":{\"$atom\":\"nope\"}}", "trace line 2.req");
    expect_trace_error("{\"req\":1,\"expect\":{\"$tuple\":[{\"$atom\":\"deny\"}]}}",
                       "trace line 1.expect.$tuple[0]");
    expect_trace_error("{\"req\":1} {\"req\":2}", "trace line 1: not JSON");
    live_spec_t s = spec_with_atoms();
    live_trace_t t;
    char err[128];
    assert_int_equal(
        live_trace_parse("{\"req\":1}", LIVE_MAX_TRACE_BYTES + 1, &s, &t, err, sizeof err),
        ERR_SPEC);
    assert_non_null(strstr(err, "trace: over"));
    live_trace_free(&t);
    /* a NUL inside a line is not JSON */
    assert_int_equal(live_trace_parse("{\"req\":1}\n{\"req\"\0:1}", 19, &s, &t, err, sizeof err),
                     ERR_SPEC);
    assert_non_null(strstr(err, "trace line 2"));
    live_trace_free(&t);
    live_spec_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_object_gets_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_the_example_config_parses),
        cmocka_unit_test(test_bad_specs_name_their_field),
        cmocka_unit_test(test_deep_init_is_refused),
        cmocka_unit_test(test_oversized_spec_is_refused),
        cmocka_unit_test(test_extra_keys_are_the_callers),
        cmocka_unit_test(test_trace_lines),
        cmocka_unit_test(test_bad_traces_name_their_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
