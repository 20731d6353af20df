/* test_etf.c - the external term format encoder: golden bytes for every tag,
 * the cap and sticky errors, the JSON mapping with its tagged forms and
 * errors naming the place, canonical maps, and a real VM decoding what we
 * write (binary_to_term(B, [safe]) =:= the term we meant). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "etf.h"

static const char *const atoms[] = {"ok", "error", "undefined"};
static const etf_json_opts_t opts = {
    .atoms = atoms, .natoms = 3, .atoms_field = "fitness.atoms", .max_depth = 8};

static void expect_bytes(const etf_buf_t *b, const uint8_t *want, size_t n)
{
    assert_int_equal(b->err, 0);
    assert_int_equal(b->len, n);
    assert_memory_equal(b->data, want, n);
}

static void test_integers(void **state)
{
    (void)state;
    struct {
        int64_t v;
        uint8_t bytes[16];
        size_t n;
    } t[] = {
        {0, {97, 0}, 2},
        {255, {97, 255}, 2},
        {256, {98, 0, 0, 1, 0}, 5},
        {-1, {98, 0xff, 0xff, 0xff, 0xff}, 5},
        {INT32_MAX, {98, 0x7f, 0xff, 0xff, 0xff}, 5},
        {INT32_MIN, {98, 0x80, 0, 0, 0}, 5},
        {(int64_t)INT32_MAX + 1, {110, 4, 0, 0, 0, 0, 0x80}, 7},
        {(int64_t)INT32_MIN - 1, {110, 4, 1, 1, 0, 0, 0x80}, 7},
        {INT64_MAX, {110, 8, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, 11},
        {INT64_MIN, {110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 0x80}, 11},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        etf_buf_t b;
        etf_buf_init(&b, 64);
        etf_put_int(&b, t[i].v);
        expect_bytes(&b, t[i].bytes, t[i].n);
        etf_buf_free(&b);
    }
}

static void test_other_tags(void **state)
{
    (void)state;
    etf_buf_t b;
    etf_buf_init(&b, 1024);
    etf_put_version(&b);
    etf_put_float(&b, 1.5);
    etf_put_binary(&b, "ab", 2);
    etf_put_atom(&b, "ok", 2);
    etf_put_nil(&b);
    etf_put_list_header(&b, 2);
    etf_put_tuple_header(&b, 3);
    etf_put_tuple_header(&b, 256);
    etf_put_map_header(&b, 1);
    static const uint8_t want[] = {131, 70,  0x3f, 0xf8, 0,   0, 0,   0,   0,   0,   109, 0, 0,
                                   0,   2,   'a',  'b',  119, 2, 'o', 'k', 106, 108, 0,   0, 0,
                                   2,   104, 3,    105,  0,   0, 1,   0,   116, 0,   0,   0, 1};
    expect_bytes(&b, want, sizeof want);
    etf_buf_free(&b);
}

static void test_cap_and_sticky_errors(void **state)
{
    (void)state;
    etf_buf_t b;
    etf_buf_init(&b, 8);
    etf_put_binary(&b, "0123456789", 10); /* 15 bytes > 8 */
    assert_int_equal(b.err, ERR_TOOBIG);
    assert_true(b.cap <= 8);
    etf_put_nil(&b); /* a no-op now */
    assert_int_equal(b.err, ERR_TOOBIG);
    size_t len = 99;
    assert_null(etf_buf_take(&b, &len));
    assert_int_equal(len, 0);
    etf_buf_free(&b);

    etf_buf_init(&b, 64);
    etf_put_float(&b, NAN);
    assert_int_equal(b.err, ERR_INVAL);
    etf_buf_free(&b);

    char long_atom[300];
    memset(long_atom, 'a', sizeof long_atom);
    etf_buf_init(&b, 1024);
    etf_put_atom(&b, long_atom, 256);
    assert_int_equal(b.err, ERR_TOOBIG);
    etf_buf_free(&b);
}

/* Maps JSON text; returns the rc and leaves bytes in b, the message in err. */
static int map_json(const char *text, etf_buf_t *b, char *err, size_t errlen)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    if (!v)
        fail_msg("bad test JSON %s: %s", text, je.text);
    etf_buf_init(b, 4096);
    err[0] = '\0';
    int rc = etf_put_json(b, v, &opts, "fitness.cases[2].out", err, errlen);
    json_decref(v);
    return rc;
}

static void expect_json_bytes(const char *text, const uint8_t *want, size_t n)
{
    etf_buf_t b;
    char err[256];
    assert_int_equal(map_json(text, &b, err, sizeof err), 0);
    expect_bytes(&b, want, n);
    etf_buf_free(&b);
}

static void expect_json_error(const char *text, const char *needle)
{
    etf_buf_t b;
    char err[512];
    assert_int_equal(map_json(text, &b, err, sizeof err), ERR_SPEC);
    if (!strstr(err, needle))
        fail_msg("error '%s' for %s does not contain '%s'", err, text, needle);
    etf_buf_free(&b);
}

static void test_json_mapping(void **state)
{
    (void)state;
    expect_json_bytes("7", (const uint8_t[]){97, 7}, 2);
    expect_json_bytes("-2.5", (const uint8_t[]){70, 0xc0, 0x04, 0, 0, 0, 0, 0, 0}, 9);
    expect_json_bytes("\"hi\"", (const uint8_t[]){109, 0, 0, 0, 2, 'h', 'i'}, 7);
    expect_json_bytes("[]", (const uint8_t[]){106}, 1);
    expect_json_bytes("[1,2]", (const uint8_t[]){108, 0, 0, 0, 2, 97, 1, 97, 2, 106}, 10);
    expect_json_bytes("true", (const uint8_t[]){119, 4, 't', 'r', 'u', 'e'}, 6);
    expect_json_bytes("false", (const uint8_t[]){119, 5, 'f', 'a', 'l', 's', 'e'}, 7);
    expect_json_bytes("null", (const uint8_t[]){119, 3, 'n', 'i', 'l'}, 5);
    expect_json_bytes("{\"$tuple\":[1,\"a\"]}",
                      (const uint8_t[]){104, 2, 97, 1, 109, 0, 0, 0, 1, 'a'}, 10);
    expect_json_bytes("{\"$tuple\":[]}", (const uint8_t[]){104, 0}, 2);
    expect_json_bytes("{\"$atom\":\"ok\"}", (const uint8_t[]){119, 2, 'o', 'k'}, 4);
    expect_json_bytes("{\"$atom\":\"true\"}", (const uint8_t[]){119, 4, 't', 'r', 'u', 'e'}, 6);
    expect_json_bytes("{\"$float\":1}", (const uint8_t[]){70, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}, 9);
    /* code points, not bytes: e-acute is 233 */
    expect_json_bytes("{\"$charlist\":\"a\\u00e9\"}",
                      (const uint8_t[]){108, 0, 0, 0, 2, 97, 'a', 97, 233, 106}, 10);
    expect_json_bytes("{\"$charlist\":\"\"}", (const uint8_t[]){106}, 1);
    expect_json_bytes("{}", (const uint8_t[]){116, 0, 0, 0, 0}, 5);
    /* object keys are binaries; pairs sorted by key bytes */
    expect_json_bytes("{\"b\":1,\"a\":2}",
                      (const uint8_t[]){116, 0, 0,   0, 2, 109, 0, 0,   0,  1, 'a',
                                        97,  2, 109, 0, 0, 0,   1, 'b', 97, 1},
                      21);
    expect_json_bytes("{\"$map\":[[{\"$atom\":\"ok\"},1]]}",
                      (const uint8_t[]){116, 0, 0, 0, 1, 119, 2, 'o', 'k', 97, 1}, 11);
}

static void test_maps_are_canonical(void **state)
{
    (void)state;
    const char *a = "{\"$map\":[[1,{\"x\":1,\"y\":[2]}],[{\"$map\":[[2,2],[1,1]]},3],[\"k\",4]]}";
    const char *b = "{\"$map\":[[\"k\",4],[{\"$map\":[[1,1],[2,2]]},3],[1,{\"y\":[2],\"x\":1}]]}";
    etf_buf_t x, y;
    char err[256];
    assert_int_equal(map_json(a, &x, err, sizeof err), 0);
    assert_int_equal(map_json(b, &y, err, sizeof err), 0);
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.data, y.data, x.len);
    etf_buf_free(&x);
    etf_buf_free(&y);
}

static void test_json_errors_name_the_place(void **state)
{
    (void)state;
    expect_json_error("{\"$atom\":\"foo\"}",
                      "fitness.cases[2].out: atom \"foo\" is not declared in fitness.atoms");
    expect_json_error("[1,{\"$tuple\":[0,{\"$atom\":\"nope\"}]}]",
                      "fitness.cases[2].out[1].$tuple[1]: atom \"nope\"");
    expect_json_error("{\"$atom\":3}", "fitness.cases[2].out: \"$atom\" must be a string");
    expect_json_error("{\"$pid\":1}", "fitness.cases[2].out: \"$pid\" is not a tag");
    expect_json_error("{\"a\":{\"$tupel\":[1]}}",
                      "fitness.cases[2].out.a: \"$tupel\" is not a tag");
    expect_json_error("{\"$tuple\":[1],\"x\":2}", "must be the object's only key");
    expect_json_error("{\"$tuple\":{}}", "\"$tuple\" must be a list");
    expect_json_error("{\"$float\":\"1\"}", "\"$float\" must be a finite number");
    expect_json_error("{\"$charlist\":[97]}", "\"$charlist\" must be a string");
    expect_json_error("{\"$map\":[[1]]}", "fitness.cases[2].out.$map[0]: must be a [key, value]");
    expect_json_error("{\"$map\":{}}", "\"$map\" must be a list");
    expect_json_error("{\"$map\":[[1,2],[3,4],[1,5]]}",
                      "fitness.cases[2].out.$map: a key is given twice (pairs [0] and [2]");
    /* the same term twice, written in two orders, is the same key */
    expect_json_error("{\"$map\":[[{\"$map\":[[1,1],[2,2]]},0],[{\"$map\":[[2,2],[1,1]]},0]]}",
                      "given twice");
    /* 1 and 1.0 are different keys in Erlang: no error */
    etf_buf_t b;
    char err[256];
    assert_int_equal(map_json("{\"$map\":[[1,0],[1.0,0]]}", &b, err, sizeof err), 0);
    etf_buf_free(&b);
    /* depth cap (8 in these options) */
    expect_json_error("[[[[[[[[[1]]]]]]]]]", "nested deeper than 8");
    assert_int_equal(map_json("[[[[[[[[1]]]]]]]]", &b, err, sizeof err), 0);
    etf_buf_free(&b);
    expect_json_error("{\"$tuple\":[{\"$tuple\":[{\"$tuple\":[{\"$tuple\":[{\"$tuple\":[{"
                      "\"$tuple\":[{\"$tuple\":[{\"$tuple\":[{\"$tuple\":[]}]}]}]}]}]}]}]}]}",
                      "nested deeper than 8");
}

static void test_byte_cap_names_the_cap(void **state)
{
    (void)state;
    json_t *v = json_array();
    for (int i = 0; i < 100; i++)
        json_array_append_new(v, json_string("0123456789"));
    etf_buf_t b;
    etf_buf_init(&b, 200);
    char err[256];
    assert_int_equal(etf_put_json(&b, v, &opts, "fitness.cases[0].in[0]", err, sizeof err),
                     ERR_SPEC);
    assert_non_null(strstr(err, "fitness.cases[0].in[0]"));
    assert_non_null(strstr(err, "200-byte cap"));
    assert_true(b.cap <= 200);
    etf_buf_free(&b);
    json_decref(v);
}

/* ---- a real VM decodes what we write ---- */

typedef struct vm_case {
    const char *json;
    const char *erlang; /* the term it must decode to */
} vm_case_t;

static void test_a_real_vm_decodes_it(void **state)
{
    (void)state;
    static const vm_case_t cases[] = {
        {"[0,255,256,-1,2147483647,-2147483648,2147483648,-2147483649,"
         "9223372036854775807,-9223372036854775808]",
         "[0,255,256,-1,2147483647,-2147483648,2147483648,-2147483649,"
         "9223372036854775807,-9223372036854775808]"},
        {"[1.5,-0.0,1e300,{\"$float\":3}]", "[1.5,-0.0,1.0e300,3.0]"},
        {"\"h\\u00e9llo\"", "<<\"h\\x{e9}llo\"/utf8>>"},
        {"{\"$charlist\":\"h\\u00e9\\u4e16\"}", "[$h,233,16#4e16]"},
        {"[true,false,null,{\"$atom\":\"ok\"},{\"$atom\":\"undefined\"}]",
         "[true,false,nil,ok,undefined]"},
        {"{\"$tuple\":[1,{\"$tuple\":[]},[2]]}", "{1,{},[2]}"},
        {"{\"b\":[1],\"a\":{\"c\":null}}", "#{<<\"a\">> => #{<<\"c\">> => nil}, <<\"b\">> => [1]}"},
        {"{\"$map\":[[{\"$atom\":\"ok\"},1],[[1,2],\"x\"],[2.5,{\"$tuple\":[]}]]}",
         "#{ok => 1, [1,2] => <<\"x\">>, 2.5 => {}}"},
        {"[[{\"$tuple\":[1,2]}],[3,1,2]]", "[[{1,2}],[3,1,2]]"},
    };
    size_t n = sizeof cases / sizeof cases[0];
    /* one erl run: a list of {Hex, Expected}; prints OK i or BAD i */
    size_t cap = 65536, len = 0;
    char *script = malloc(cap);
    assert_non_null(script);
    len += (size_t)snprintf(script + len, cap - len, "Cs = [");
    for (size_t i = 0; i < n; i++) {
        etf_buf_t b;
        char err[256];
        assert_int_equal(map_json(cases[i].json, &b, err, sizeof err), 0);
        len += (size_t)snprintf(script + len, cap - len, "%s{<<\"", i ? "," : "");
        len += (size_t)snprintf(script + len, cap - len, "83"); /* 131 */
        for (size_t k = 0; k < b.len; k++)
            len += (size_t)snprintf(script + len, cap - len, "%02X", b.data[k]);
        len += (size_t)snprintf(script + len, cap - len, "\">>, %s}", cases[i].erlang);
        etf_buf_free(&b);
    }
    len += (size_t)snprintf(
        script + len, cap - len,
        "], lists:foldl(fun({H, W}, I) -> T = binary_to_term(binary:decode_hex(H), "
        "[safe]), io:format(\"~s ~b~n\", [case T =:= W of true -> \"OK\"; "
        "false -> \"BAD\" end, I]), I + 1 end, 0, Cs), halt().");
    assert_true(len < cap);
    char path[] = "/tmp/petri-test-etf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(script, f);
    fclose(f);
    free(script);
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "erl -noshell -noinput -eval \"{ok, B} = file:read_file(\\\"%s\\\"), "
             "{ok, Ts, _} = erl_scan:string(binary_to_list(B)), {ok, Es} = "
             "erl_parse:parse_exprs(Ts), erl_eval:exprs(Es, [])\" 2>&1",
             path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[512];
    size_t ok = 0;
    while (fgets(line, sizeof line, p)) {
        if (!strncmp(line, "OK ", 3))
            ok++;
        else
            fprintf(stderr, "erl: %s", line);
    }
    pclose(p);
    unlink(path);
    assert_int_equal(ok, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_other_tags),
        cmocka_unit_test(test_cap_and_sticky_errors),
        cmocka_unit_test(test_json_mapping),
        cmocka_unit_test(test_maps_are_canonical),
        cmocka_unit_test(test_json_errors_name_the_place),
        cmocka_unit_test(test_byte_cap_names_the_cap),
        cmocka_unit_test(test_a_real_vm_decodes_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
