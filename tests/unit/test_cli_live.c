/* test_cli_live.c - cmocka tests of `petri live`'s pieces that need no
 * server (coordinator/cli_live.c, cli_live_fmt.c): its options, INDEX and
 * VERSION, the request bodies built from a config with trace_file and
 * genome_file and from an upgrade's module, and the views (golden strings). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "cli.h"
#include "cli_int.h"
#include "crypto.h"

#define CAPTURE(buf, call)                                                                         \
    do {                                                                                           \
        size_t len_;                                                                               \
        FILE *f = open_memstream(&(buf), &len_);                                                   \
        call;                                                                                      \
        fclose(f);                                                                                 \
    } while (0)

static char dir[256];

static void put(const char *name, const void *data, size_t len)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void puts_file(const char *name, const char *text)
{
    put(name, text, strlen(text));
}

static const char *at(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/petri-test-cli-live-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char sub[300];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    mkdir(sub, 0700);
    puts_file("trace.jsonl", "{\"req\":1,\"expect\":1}\n{\"req\":2}\n");
    puts_file("sub/g.erl", "-module(g).\n-export([init/1, handle/2]).\n");
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int parse(cli_args_t *a, ...)
{
    char *argv[32], err[256];
    int argc = 0;
    argv[argc++] = "petri";
    va_list ap;
    va_start(ap, a);
    char *s;
    while ((s = va_arg(ap, char *)) != NULL)
        argv[argc++] = s;
    va_end(ap);
    return cli_parse_args(argc, argv, a, err, sizeof err);
}

static void test_options(void **state)
{
    cli_args_t a;
    char err[256];
    assert_int_equal(parse(&a, "live", "upgrade", "rl", "0", "c.erl", "--mutator", "llm",
                           "--input-hash=ab", NULL),
                     0);
    assert_int_equal(a.npos, 5);
    assert_string_equal(a.mutator, "llm");
    assert_string_equal(a.input_hash, "ab");
    assert_int_equal(a.seen, CLI_O_MUTATOR | CLI_O_INPUT_HASH);
    assert_int_equal(
        cli_args_allow(&a, CLI_O_MUTATOR | CLI_O_INPUT_HASH, "live upgrade", err, sizeof err), 0);
    assert_int_equal(cli_args_allow(&a, CLI_O_WATCH, "live show", err, sizeof err), CLI_USAGE);
    assert_string_equal(err, "'live show' does not take --mutator");
    assert_int_equal(parse(&a, "live", "upgrade", "--mutator", NULL), CLI_USAGE);
}

static void test_index_and_version(void **state)
{
    long v = -7;
    assert_int_equal(cli_live_parse_index("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(cli_live_parse_index("17", &v), 0);
    assert_int_equal(v, 17);
    assert_int_equal(cli_live_parse_index("100000", &v), 0);
    const char *bad[] = {"", "-1", "+1", " 1", "1x", "0x1", "100001", "1e3", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(cli_live_parse_index(bad[i], &v), -1);
    assert_int_equal(cli_live_parse_index(NULL, &v), -1);
    assert_int_equal(cli_live_parse_version("3", &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(cli_live_parse_version("0", &v), -1);
}

static json_t *body_of(const char *cfg, char *name, size_t cap)
{
    char *body = NULL, err[512] = "";
    size_t len = 0;
    int rc = cli_live_body(cfg, &body, &len, name, cap, err, sizeof err);
    if (rc != 0)
        fail_msg("cli_live_body: %s", err);
    assert_int_equal(strlen(body), len);
    json_t *j = json_loads(body, 0, NULL);
    assert_non_null(j);
    free(body);
    return j;
}

static void test_body_inlines_files(void **state)
{
    /* relative to the config's directory, not the working directory */
    puts_file("c.json", "{\"name\": \"rl\", \"individuals\": 2, \"live\": {\"probation\": 5},\n"
                        " \"trace_file\": \"trace.jsonl\", \"genome_file\": \"sub/g.erl\"}");
    char name[64];
    json_t *j = body_of(at("c.json"), name, sizeof name);
    assert_string_equal(name, "rl");
    assert_string_equal(json_string_value(json_object_get(j, "trace")),
                        "{\"req\":1,\"expect\":1}\n{\"req\":2}\n");
    assert_string_equal(json_string_value(json_object_get(j, "genome")),
                        "-module(g).\n-export([init/1, handle/2]).\n");
    assert_null(json_object_get(j, "trace_file"));
    assert_null(json_object_get(j, "genome_file"));
    /* everything else goes as it is */
    assert_int_equal(json_integer_value(json_object_get(j, "individuals")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "live"), "probation")),
                     5);
    json_decref(j);

    /* an absolute path; inline text left alone; no name */
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "{\"trace\": \"x\\n\", \"genome_file\": \"%s\"}", at("sub/g.erl"));
    puts_file("sub/abs.json", cfg);
    j = body_of(at("sub/abs.json"), name, sizeof name);
    assert_string_equal(name, "");
    assert_string_equal(json_string_value(json_object_get(j, "trace")), "x\n");
    assert_non_null(json_string_value(json_object_get(j, "genome")));
    json_decref(j);

    /* a config named without a directory: relative to the working directory */
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    j = body_of("c.json", name, sizeof name);
    assert_non_null(json_string_value(json_object_get(j, "trace")));
    json_decref(j);
    assert_int_equal(chdir(cwd), 0);
}

/* cli_live_body's error for a config with this text must contain want. */
static void body_fails(const char *text, const char *want)
{
    puts_file("bad.json", text);
    char *body = (char *)1, err[512] = "", name[16];
    size_t len = 7;
    assert_int_equal(cli_live_body(at("bad.json"), &body, &len, name, sizeof name, err, sizeof err),
                     CLI_USAGE);
    assert_null(body);
    assert_int_equal(len, 0);
    if (!strstr(err, want))
        fail_msg("error '%s' does not say '%s'", err, want);
}

static void test_body_errors(void **state)
{
    body_fails("{\"trace_file\": \"nope.jsonl\"}", "trace_file ");
    body_fails("{\"trace_file\": \"nope.jsonl\"}", "nope.jsonl: No such file");
    body_fails("{\"genome_file\": \"missing.erl\"}", "genome_file ");
    body_fails("{\"trace_file\": 3}", "\"trace_file\" must be a file name");
    body_fails("{\"genome_file\": \"\"}", "\"genome_file\" must be a file name");
    body_fails("{\"trace\": \"x\", \"trace_file\": \"trace.jsonl\"}", "names both");
    body_fails("{\"genome\": \"x\", \"genome_file\": \"sub/g.erl\"}", "names both");
    body_fails("[1, 2]", "is a JSON object");
    body_fails("{\"name\": ", "not valid JSON");
    body_fails("", "config ");

    /* a genome over the store's cap */
    size_t big = LIVE_GENOME_MAX + 1;
    char *blob = malloc(big);
    memset(blob, 'a', big);
    put("big.erl", blob, big);
    free(blob);
    body_fails("{\"genome_file\": \"big.erl\"}", "larger than 1048576 bytes");
    put("empty.erl", "", 0);
    body_fails("{\"genome_file\": \"empty.erl\"}", "empty.erl: empty");
    put("latin1.erl", "f() -> \"\xe9\".\n", 12);
    body_fails("{\"genome_file\": \"latin1.erl\"}", "not UTF-8 text");
    put("nul.jsonl", "{\"req\":1}\n\0\n", 12);
    body_fails("{\"trace_file\": \"nul.jsonl\"}", "a NUL byte");

    char *body = NULL, err[512], name[16];
    size_t len;
    assert_int_equal(cli_live_body("-", &body, &len, name, sizeof name, err, sizeof err),
                     CLI_USAGE);
    assert_non_null(strstr(err, "must be a file"));
    assert_int_equal(
        cli_live_body(at("none.json"), &body, &len, name, sizeof name, err, sizeof err), CLI_USAGE);
    assert_non_null(strstr(err, "none.json: No such file"));
}

static void test_upgrade_body(void **state)
{
    char *body = NULL, err[512] = "", hash[65];
    size_t len = 0;
    assert_int_equal(
        cli_live_upgrade_body(at("sub/g.erl"), NULL, NULL, &body, &len, hash, err, sizeof err), 0);
    json_t *j = json_loads(body, 0, NULL);
    const char *src = "-module(g).\n-export([init/1, handle/2]).\n";
    assert_string_equal(json_string_value(json_object_get(j, "source")), src);
    assert_string_equal(json_string_value(json_object_get(j, "mutator")), "manual");
    assert_null(json_object_get(j, "input_hash"));
    assert_int_equal(json_object_size(j), 2);
    uint8_t h[CRYPTO_HASH_LEN];
    char want[65];
    crypto_hash(src, strlen(src), h);
    crypto_hex(h, sizeof h, want);
    assert_string_equal(hash, want);
    json_decref(j);
    free(body);

    char ih[65];
    memset(ih, 'A', 64);
    ih[64] = '\0';
    assert_int_equal(
        cli_live_upgrade_body(at("sub/g.erl"), "llm-4.1_x", ih, &body, &len, hash, err, sizeof err),
        0);
    j = json_loads(body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "mutator")), "llm-4.1_x");
    memset(ih, 'a', 64);
    assert_string_equal(json_string_value(json_object_get(j, "input_hash")), ih);
    json_decref(j);
    free(body);

    const char *bad_mut[] = {"", "LLM", "a b", "a/b", "123456789012345678901234567890123", NULL};
    for (int i = 0; bad_mut[i]; i++) {
        assert_int_equal(cli_live_upgrade_body(at("sub/g.erl"), bad_mut[i], NULL, &body, &len, hash,
                                               err, sizeof err),
                         CLI_USAGE);
        assert_non_null(strstr(err, "--mutator"));
    }
    const char *bad_hash[] = {"", "abc", "zz", NULL};
    for (int i = 0; bad_hash[i]; i++) {
        assert_int_equal(cli_live_upgrade_body(at("sub/g.erl"), NULL, bad_hash[i], &body, &len,
                                               hash, err, sizeof err),
                         CLI_USAGE);
        assert_non_null(strstr(err, "--input-hash"));
    }
    ih[10] = 'g';
    assert_int_equal(
        cli_live_upgrade_body(at("sub/g.erl"), NULL, ih, &body, &len, hash, err, sizeof err),
        CLI_USAGE);
    assert_int_equal(
        cli_live_upgrade_body(at("missing.erl"), NULL, NULL, &body, &len, hash, err, sizeof err),
        CLI_USAGE);
    assert_non_null(strstr(err, "missing.erl: No such file"));
    assert_null(body);
}

static const char versions_json[] =
    "[{\"version\": 1, \"hash\": \"5b0ca3cbda8d00112233\", \"parent\": null, \"op\": \"start\","
    "  \"mutator\": \"\", \"outcome\": \"promoted\", \"reason\": \"\", \"at_ms\": 1764950400000,"
    "  \"parent_score\": null, \"child_score\": null, \"seq\": 41},"
    " {\"version\": 2, \"hash\": \"59582eaad0bb0011\", \"parent\": 1, \"op\": \"literal\","
    "  \"mutator\": \"\", \"outcome\": \"rollback\","
    "  \"reason\": \"scored 0.6500 over probation, parent 0.8600\", \"at_ms\": 1764950401500,"
    "  \"parent_score\": 0.86, \"child_score\": 0.65, \"seq\": 42},"
    " {\"version\": 3, \"hash\": \"53cf11bcb1910011\", \"parent\": 1, \"op\": \"external\","
    "  \"mutator\": \"llm\", \"outcome\": \"pending\", \"reason\": \"\\u001b[2Jx\\ny\","
    "  \"at_ms\": 1764950402000, \"parent_score\": 0.86, \"child_score\": null, \"seq\": null}]";

static void test_versions_table(void **state)
{
    setenv("TZ", "UTC", 1);
    tzset();
    json_t *vs = json_loads(versions_json, 0, NULL);
    assert_non_null(vs);
    char *out = NULL;
    CAPTURE(out, cli_print_live_versions(f, vs, 0, "  "));
    const char *want =
        "  VERSION  PARENT  OP            OUTCOME   PARENT SCORE  CHILD SCORE  SEQ  HASH          "
        "AT        REASON\n"
        "  1        -       start         promoted  -             -            41   5b0ca3cbda8d  "
        "16:00:00\n"
        "  2        1       literal       rollback  0.8600        0.6500       42   59582eaad0bb  "
        "16:00:01  scored 0.6500 over probation, parent 0.8600\n"
        "  3        1       external:llm  pending   0.8600        -            -    53cf11bcb191  "
        "16:00:02  ?[2Jx?y\n";
    assert_string_equal(out, want);
    free(out);
    /* the last one only */
    CAPTURE(out, cli_print_live_versions(f, vs, 1, ""));
    assert_null(strstr(out, "promoted"));
    assert_non_null(strstr(out, "external:llm"));
    free(out);
    json_decref(vs);
    CAPTURE(out, cli_print_live_versions(f, NULL, 0, "  "));
    assert_string_equal(out, "  no versions yet\n");
    free(out);
}

static void test_live_views(void **state)
{
    setenv("TZ", "UTC", 1);
    tzset();
    json_t *ls = json_loads("{\"live\": [{\"name\": \"rl\", \"state\": \"running\", "
                            "\"individuals\": 2, \"upgrades\": 9, \"promoted\": 2, "
                            "\"rolled_back\": 6, \"refused\": 1, \"best_fitness\": 0.9918}, "
                            "{\"name\": \"q\", \"state\": \"stopped\", \"individuals\": 1, "
                            "\"upgrades\": 0, \"promoted\": 0, \"rolled_back\": 0, "
                            "\"refused\": 0, \"best_fitness\": null}]}",
                            0, NULL);
    char *out = NULL;
    CAPTURE(out, cli_print_lives(f, ls));
    assert_string_equal(out, "NAME  STATE    INDIVIDUALS  UPGRADES  PROMOTED  ROLLED BACK  "
                             "REFUSED  BEST\n"
                             "rl    running  2            9         2         6            "
                             "1        0.9918\n"
                             "q     stopped  1            0         0         0            "
                             "0        -\n");
    free(out);
    json_decref(ls);

    json_t *vs = json_loads(versions_json, 0, NULL);
    json_t *ind = json_pack(
        "{s:i, s:s, s:s, s:i, s:i, s:f, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:b, s:s, s:o,"
        " s:[[I,f,i],[I,f,i],[I,n,i]]}",
        "index", 0, "agent", "agent-1\x1b[31m", "state", "running", "version", 3, "pinned", 1,
        "fitness", 0.93, "requests", 1200, "correct", 1100, "wrong", 90, "failed", 10, "lost", 0,
        "twice", 0, "latency_p50_us", 35, "latency_p99_us", 120, "on_probation", 1, "reason",
        "vm died", "versions", vs, "fitness_series", (json_int_t)1764950400000, 0.5, 1,
        (json_int_t)1764950401000, 0.9, 3, (json_int_t)1764950402000, 3);
    json_t *pop = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:[o]}", "name", "rl", "state",
                            "running", "upgrade_every_ms", 500, "upgrades", 2, "promoted", 0,
                            "rolled_back", 1, "refused", 0, "individuals", ind);
    assert_non_null(pop);
    CAPTURE(out, assert_int_equal(cli_print_live(f, pop, -1), 0));
    const char *want_head =
        "live population rl  running  upgrade every 500 ms\n"
        "  upgrades 2: promoted 0, rolled back 1, refused 0\n"
        "  #  AGENT         STATE               VERSION  PINNED  FITNESS  REQUESTS  WRONG  FAILED"
        "  LOST  TWICE  P50 US  P99 US\n"
        "  0  agent-1?[31m  running, probation  3        1       0.9300   1200      90     10    "
        "  0     0      35      120\n"
        "  individual 0: vm died\n"
        "  individual 0 on agent-1?[31m: versions\n"
        "    VERSION";
    if (strncmp(out, want_head, strlen(want_head)) != 0)
        fail_msg("got:\n%s", out);
    free(out);

    CAPTURE(out, assert_int_equal(cli_print_live(f, pop, 0), 0));
    const char *want_one = "individual 0 of rl  running, probation on agent-1?[31m  version 3  "
                           "(pinned at 1)\n"
                           "  live fitness 0.9300\n"
                           "  fitness over the last 3 s  \xe2\x96\x81\xe2\x96\x88 \n"
                           "  requests 1200: correct 1100, wrong 90, failed 10; lost 0, answered "
                           "twice 0\n"
                           "  latency p50 35 us, p99 120 us\n"
                           "  last failure: vm died\n"
                           "  versions (3)\n"
                           "    VERSION";
    if (strncmp(out, want_one, strlen(want_one)) != 0)
        fail_msg("got:\n%s", out);
    free(out);
    CAPTURE(out, assert_int_equal(cli_print_live(f, pop, 1), -1));
    assert_string_equal(out, "");
    free(out);
    json_decref(pop);

    /* more versions than `show NAME` prints: the count and the way to all */
    pop = json_pack("{s:s, s:s, s:[{s:i, s:s, s:[]}]}", "name", "rl", "state", "stopped",
                    "individuals", "index", 4, "agent", "a", "versions");
    json_t *many =
        json_object_get(json_array_get(json_object_get(pop, "individuals"), 0), "versions");
    for (int i = 1; i <= LIVE_SHOW_VERSIONS + 3; i++)
        json_array_append_new(many, json_pack("{s:i, s:s, s:s}", "version", i, "op", "literal",
                                              "outcome", "rollback"));
    CAPTURE(out, cli_print_live(f, pop, -1));
    assert_non_null(strstr(out, "individual 4 on a: last 8 of 11 versions (all: petri live show "
                                "rl 4)\n"));
    assert_null(strstr(out, "\n    3 "));
    assert_non_null(strstr(out, "\n    4 "));
    free(out);
    json_decref(pop);
}

int main(void)
{
    if (crypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_index_and_version),
        cmocka_unit_test(test_body_inlines_files),
        cmocka_unit_test(test_body_errors),
        cmocka_unit_test(test_upgrade_body),
        cmocka_unit_test(test_versions_table),
        cmocka_unit_test(test_live_views),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
