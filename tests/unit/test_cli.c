/* test_cli.c - cmocka tests of the `petri` command line pieces that need
 * no server (coordinator/cli*.c): option parsing, per-command option
 * checks, exit-code mapping, sparklines, histograms and the text views
 * (golden strings). */
#include <errno.h>
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

#include "cli.h"
#include "cli_int.h"

/* Runs fn into a string (open_memstream); the caller frees it. */
#define CAPTURE(buf, call)                                                                         \
    do {                                                                                           \
        size_t len_;                                                                               \
        FILE *f = open_memstream(&(buf), &len_);                                                   \
        call;                                                                                      \
        fclose(f);                                                                                 \
    } while (0)

static int parse(cli_args_t *a, char *err, size_t errlen, ...)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = "petri";
    va_list ap;
    va_start(ap, errlen);
    char *s;
    while ((s = va_arg(ap, char *)) != NULL)
        argv[argc++] = s;
    va_end(ap);
    return cli_parse_args(argc, argv, a, err, errlen);
}

static void test_parse_globals_anywhere(void **state)
{
    unsetenv("PETRI_ADDR");
    unsetenv("PETRI_TOKEN");
    unsetenv("PETRI_JSON");
    cli_args_t a;
    char err[256];
    assert_int_equal(parse(&a, err, sizeof err, "population", "--addr", "h:1", "status", "q",
                           "--json", "--token=abc", "-w", "--interval", "0.5", NULL),
                     0);
    assert_int_equal(a.npos, 3);
    assert_string_equal(a.pos[0], "population");
    assert_string_equal(a.pos[1], "status");
    assert_string_equal(a.pos[2], "q");
    assert_string_equal(a.addr, "h:1");
    assert_string_equal(a.token, "abc");
    assert_true(a.json);
    assert_true(a.watch);
    assert_true(a.interval_s == 0.5);
    assert_int_equal(a.seen, CLI_O_WATCH | CLI_O_INTERVAL);

    /* defaults and the environment */
    setenv("PETRI_ADDR", "env:2", 1);
    setenv("PETRI_TOKEN", "envtok", 1);
    setenv("PETRI_JSON", "1", 1);
    assert_int_equal(parse(&a, err, sizeof err, "members", NULL), 0);
    assert_string_equal(a.addr, "env:2");
    assert_string_equal(a.token, "envtok");
    assert_true(a.json);
    assert_int_equal(a.depth, -1);
    assert_int_equal(a.replay, -1);
    assert_true(a.interval_s == 1.0);
    /* a token file replaces the environment's token */
    assert_int_equal(parse(&a, err, sizeof err, "members", "--token-file", "/x", NULL), 0);
    assert_null(a.token);
    assert_string_equal(a.token_file, "/x");
    unsetenv("PETRI_ADDR");
    unsetenv("PETRI_TOKEN");
    unsetenv("PETRI_JSON");
    assert_int_equal(parse(&a, err, sizeof err, "members", NULL), 0);
    assert_string_equal(a.addr, "127.0.0.1:7951");
    assert_null(a.token);
    assert_false(a.json);

    /* "--" ends options */
    assert_int_equal(parse(&a, err, sizeof err, "genome", "show", "--", "--json", NULL), 0);
    assert_int_equal(a.npos, 3);
    assert_string_equal(a.pos[2], "--json");
    assert_false(a.json);
}

static void test_parse_errors(void **state)
{
    cli_args_t a;
    char err[256];
    assert_int_equal(parse(&a, err, sizeof err, "members", "--bogus", NULL), CLI_USAGE);
    assert_non_null(strstr(err, "--bogus"));
    assert_int_equal(parse(&a, err, sizeof err, "members", "--addr", NULL), CLI_USAGE);
    assert_non_null(strstr(err, "needs a value"));
    assert_int_equal(parse(&a, err, sizeof err, "x", "--json=1", NULL), CLI_USAGE);
    assert_int_equal(parse(&a, err, sizeof err, "x", "--interval", "0", NULL), CLI_USAGE);
    assert_int_equal(parse(&a, err, sizeof err, "x", "--interval", "abc", NULL), CLI_USAGE);
    assert_int_equal(parse(&a, err, sizeof err, "x", "--depth", "-1", NULL), CLI_USAGE);
    assert_int_equal(parse(&a, err, sizeof err, "x", "--depth", "3x", NULL), CLI_USAGE);
    assert_int_equal(parse(&a, err, sizeof err, "x", "--replay", "12", NULL), 0);
    assert_int_equal(a.replay, 12);
    assert_int_equal(parse(&a, err, sizeof err, "a", "b", "c", "d", "e", "f", "g", "h", "i", NULL),
                     CLI_USAGE);

    assert_int_equal(parse(&a, err, sizeof err, "lineage", "show", "x", "--format", "dot", NULL),
                     0);
    assert_int_equal(cli_args_allow(&a, CLI_O_DEPTH, "lineage show", err, sizeof err), CLI_USAGE);
    assert_non_null(strstr(err, "--format"));
    assert_int_equal(cli_args_allow(&a, CLI_O_FORMAT | CLI_O_OUTPUT, "x", err, sizeof err), 0);
}

static void test_exit_codes(void **state)
{
    assert_int_equal(cli_exit_for_status(200), CLI_OK);
    assert_int_equal(cli_exit_for_status(201), CLI_OK);
    assert_int_equal(cli_exit_for_status(202), CLI_OK);
    assert_int_equal(cli_exit_for_status(400), CLI_USAGE);
    assert_int_equal(cli_exit_for_status(401), CLI_USAGE);
    assert_int_equal(cli_exit_for_status(413), CLI_USAGE);
    assert_int_equal(cli_exit_for_status(404), CLI_FAIL);
    assert_int_equal(cli_exit_for_status(409), CLI_FAIL);
    assert_int_equal(cli_exit_for_status(500), CLI_FAIL);
    assert_int_equal(cli_exit_for_status(503), CLI_FAIL);
    assert_int_equal(cli_exit_for_error(0), CLI_OK);
    assert_int_equal(cli_exit_for_error(-ECONNREFUSED), CLI_FAIL);
    assert_int_equal(cli_exit_for_error(-ECANCELED), CLI_INTERRUPT);
}

static void test_sparkline(void **state)
{
    char *s = NULL;
    double up[] = {0, 1, 2, 3, 4, 5, 6, 7};
    CAPTURE(s, cli_sparkline(f, up, 8, 60));
    assert_string_equal(s, "▁▂▃▄▅▆▇█");
    free(s);
    /* more points than cells: the last point of each slice */
    double many[] = {0, 9, 1, 9, 0, 7};
    CAPTURE(s, cli_sparkline(f, many, 6, 3));
    assert_string_equal(s, "██▁"); /* 9, 9, 7 */
    free(s);
    double flat[] = {2, 2, 2};
    CAPTURE(s, cli_sparkline(f, flat, 3, 10));
    assert_string_equal(s, "▄▄▄");
    free(s);
    double gap[] = {0, NAN, 1};
    CAPTURE(s, cli_sparkline(f, gap, 3, 10));
    assert_string_equal(s, "▁ █");
    free(s);
    CAPTURE(s, cli_sparkline(f, up, 0, 10));
    assert_string_equal(s, "");
    free(s);
}

static void test_histogram(void **state)
{
    char *s = NULL;
    double c[] = {4, 2, 0, 1};
    CAPTURE(s, cli_histogram(f, 0, 4, c, 4, 10, 4));
    assert_string_equal(s, "    0 .. 1               │████ 4\n"
                           "    1 .. 2               │██   2\n"
                           "    2 .. 3               │     0\n"
                           "    3 .. 4               │█    1\n");
    free(s);
    /* merged down to 2 rows; a small nonzero count stays visible */
    double d[] = {100, 100, 0, 1};
    CAPTURE(s, cli_histogram(f, 0, 1, d, 4, 2, 8));
    assert_string_equal(s, "    0 .. 0.5             │████████ 200\n"
                           "    0.5 .. 1             │▏        1\n");
    free(s);
}

static void test_fmt_value(void **state)
{
    char b[32];
    json_t *v = json_real(0.123456789);
    assert_string_equal(cli_fmt_value(v, b, sizeof b), "0.123457");
    json_decref(v);
    v = json_integer(42);
    assert_string_equal(cli_fmt_value(v, b, sizeof b), "42");
    json_decref(v);
    assert_string_equal(cli_fmt_value(NULL, b, sizeof b), "-");
    v = json_null();
    assert_string_equal(cli_fmt_value(v, b, sizeof b), "-");
    v = json_string("x");
    assert_string_equal(cli_fmt_value(v, b, sizeof b), "x");
    json_decref(v);
}

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        fail_msg("fixture: %s", je.text);
    return j;
}

static void test_members_view(void **state)
{
    json_t *m =
        load("[{\"name\":\"agent-1\",\"id\":\"0123456789abcdef\",\"addr\":\"10.0.0.1:7946\","
             "\"status\":\"alive\",\"incarnation\":3,\"role\":\"agent\","
             "\"meta\":{\"vms_healthy\":3,\"vms_total\":4,\"load\":0.5}},"
             "{\"name\":\"c\\u001b[2J\",\"id\":\"ff\",\"addr\":\"x:1\",\"status\":\"dead\","
             "\"incarnation\":1,\"role\":\"coordinator\",\"meta\":{}}]");
    char *s = NULL;
    CAPTURE(s, cli_print_members(f, m));
    assert_string_equal(s, "NAME     ID        ADDR           STATUS  INC  ROLE         VMS  LOAD\n"
                           "agent-1  01234567  10.0.0.1:7946  alive   3    agent        3/4  0.5\n"
                           "c?[2J    ff        x:1            dead    1    coordinator  -    -\n");
    free(s);
    json_decref(m);
}

static void test_lineage_tree(void **state)
{
    json_t *t =
        load("{\"hash\":\"aaaaaaaaaaaaaaaa\",\"operator\":\"crossover\",\"status\":\"ok\","
             "\"fitness\":0.5,\"parents\":["
             "{\"hash\":\"bbbbbbbbbbbbbbbb\",\"operator\":\"point\",\"status\":\"ok\","
             "\"fitness\":0.25,\"parents\":[{\"hash\":\"cccccccccccc\",\"operator\":\"seed\","
             "\"fitness\":0,\"parents\":[]}]},"
             "{\"hash\":\"dddddddddddd\",\"operator\":\"hoist\",\"status\":\"timeout\","
             "\"fitness\":null,\"parents\":[\"eeeeeeeeeeee\","
             "{\"hash\":\"ffffffffffff\",\"truncated\":true}]}]}");
    char *s = NULL;
    CAPTURE(s, cli_print_lineage(f, t));
    assert_string_equal(s, "aaaaaaaaaaaa fitness=0.5 op=crossover\n"
                           "├── bbbbbbbbbbbb fitness=0.25 op=point\n"
                           "│   └── cccccccccccc fitness=0 op=seed\n"
                           "└── dddddddddddd fitness=- op=hoist status=timeout\n"
                           "    ├── eeeeeeeeeeee\n"
                           "    └── ffffffffffff ...\n");
    free(s);
    json_decref(t);
}

static void test_population_view(void **state)
{
    json_t *p = load("{\"name\":\"quad\",\"state\":\"solved\",\"evaluations\":1000,"
                     "\"evals_per_s\":50.0,\"best\":{\"hash\":\"0123456789abcdef\",\"fitness\":1.0,"
                     "\"source\":\"-module(g).\\nf(X) -> X.\\n\"},\"mean_fitness\":0.5,"
                     "\"distribution\":{\"min\":0,\"max\":1,\"counts\":[1,1]},"
                     "\"history\":[{\"t_ms\":0,\"evaluations\":0,\"best\":0,\"mean\":0},"
                     "{\"t_ms\":1,\"evaluations\":1,\"best\":1,\"mean\":0.5}],"
                     "\"demes\":[{\"index\":0,\"agent\":\"a1\",\"size\":10,\"best\":1.0}]}");
    char *s = NULL;
    CAPTURE(s, cli_print_population(f, p, 0));
    assert_string_equal(s, "population quad  solved\n"
                           "  evaluations  1000  (50.0/s)\n"
                           "  best         1  0123456789ab\n"
                           "  mean         0.5\n"
                           "  best  over time  ▁█  1\n"
                           "  mean  over time  ▁█  0.5\n"
                           "  fitness distribution\n"
                           "    0 .. 0.5             │██████████████████████████████"
                           "██████████ 1\n"
                           "    0.5 .. 1             │██████████████████████████████"
                           "██████████ 1\n"
                           "  demes\n"
                           "    DEME  AGENT  SIZE  BEST\n"
                           "    0     a1     10    1\n"
                           "  best genome\n"
                           "    -module(g).\n"
                           "    f(X) -> X.\n");
    free(s);
    json_decref(p);
}

/* Diversity, archive coverage and the demes' fitness values, when given. */
static void test_population_diversity_view(void **state)
{
    json_t *p = load("{\"name\":\"pg\",\"state\":\"running\",\"evaluations\":10,"
                     "\"evals_per_s\":1.0,\"best\":{\"fitness\":3.0},\"mean_fitness\":3.0,"
                     "\"diversity\":{\"genomes\":7,\"fitness_values\":1,"
                     "\"fitness_entropy_bits\":0.0,\"collapsed_demes\":1},"
                     "\"archive\":{\"descriptors\":[\"size\",\"passed\"],\"cells\":64,"
                     "\"occupied\":8,\"coverage\":0.125},"
                     "\"demes\":[{\"index\":0,\"size\":4,\"best\":3.0,\"fitness_values\":1,"
                     "\"collapsed\":true},{\"index\":1,\"size\":4,\"best\":3.0,"
                     "\"fitness_values\":3,\"collapsed\":false}]}");
    char *s = NULL;
    CAPTURE(s, cli_print_population(f, p, 0));
    assert_string_equal(s, "population pg  running\n"
                           "  evaluations  10  (1.0/s)\n"
                           "  best         3  -\n"
                           "  mean         3\n"
                           "  diversity    1 fitness values (entropy 0.00 bits), 7 genomes; "
                           "1 of 2 demes collapsed\n"
                           "  archive      map-elites over size x passed: 8 of 64 cells (12.5%)\n"
                           "  demes\n"
                           "    DEME  AGENT  SIZE  BEST  VALUES\n"
                           "    0     -      4     3     1 (collapsed)\n"
                           "    1     -      4     3     3\n");
    free(s);
    json_decref(p);
}

static void test_verify_view(void **state)
{
    json_t *r = load("{\"records\":10,\"ok\":false,\"errors\":[{\"seq\":3,\"reason\":\"bad "
                     "signature\"}],\"replayed\":2,\"replay_mismatches\":0}");
    char *s = NULL;
    CAPTURE(s, cli_print_verify(f, r));
    assert_string_equal(s, "lineage: 10 records, verification FAILED\n"
                           "replayed 2 derivations, 0 mismatches\n"
                           "  seq 3: bad signature\n");
    free(s);
    json_decref(r);
}

/* Replays that ran on another breeder are counted and named apart from
 * mismatches. */
static void test_verify_view_other_breeder(void **state)
{
    json_t *r = load("{\"records\":10,\"ok\":true,\"errors\":[],\"replayed\":5,"
                     "\"replay_mismatches\":0,\"replay_other_breeder\":1,"
                     "\"replay_not_compared\":[{\"seq\":4,\"reason\":\"ran on breeder b2, the "
                     "record's is b1\"}]}");
    char *s = NULL;
    CAPTURE(s, cli_print_verify(f, r));
    assert_string_equal(s, "lineage: 10 records, hash chain and signatures OK\n"
                           "replayed 5 derivations, 0 mismatches\n"
                           "1 not compared: replayed on another breeder than the one that bred "
                           "them (petri changed since)\n"
                           "  seq 4: ran on breeder b2, the record's is b1\n");
    free(s);
    json_decref(r);
}

/* A genome's records: the breeder's first 8 hex digits, - when a record
 * names none. */
static void test_genome_view_breeder(void **state)
{
    json_t *g = load("{\"hash\":\"ab\",\"records\":[{\"seq\":1,\"population\":\"p\",\"deme\":0,"
                     "\"operator\":\"wrap\",\"parents\":[\"0123456789\"],\"status\":\"ok\","
                     "\"fitness\":2.0,\"passed\":1,\"cases\":3,\"cost\":5,\"reused\":false,"
                     "\"agent\":\"aaaaaaaaaaaa\",\"breeder\":\"a10ab78fa45ed51993aa0828aeea8e62\","
                     "\"time_ms\":0},{\"seq\":2,\"population\":\"p\",\"deme\":0,"
                     "\"operator\":\"external\",\"parents\":[],\"status\":\"ok\",\"fitness\":2.0,"
                     "\"agent\":\"aaaaaaaaaaaa\",\"breeder\":null,\"time_ms\":0}]}");
    char *s = NULL;
    CAPTURE(s, cli_print_genome(f, g));
    assert_non_null(strstr(s, "BREEDER"));
    assert_non_null(strstr(s, " a10ab78f "));
    const char *row2 = strstr(s, "\n  2 ");
    assert_non_null(row2);
    assert_null(strstr(row2, "a10ab78f"));
    free(s);
    json_decref(g);
}

static void test_main_usage(void **state)
{
    char *argv1[] = {"petri", NULL};
    assert_int_equal(cli_main(1, argv1), CLI_USAGE);
    char *argv2[] = {"petri", "frobnicate", NULL};
    assert_int_equal(cli_main(2, argv2), CLI_USAGE);
    char *argv3[] = {"petri", "population", "status", "--depth", "3", "x", NULL};
    assert_int_equal(cli_main(6, argv3), CLI_USAGE);
    char *argv4[] = {"petri", "lineage", "export", "--format", "svg", NULL};
    assert_int_equal(cli_main(5, argv4), CLI_USAGE);
    char *argv5[] = {"petri", "genome", "show", "not-hex", NULL};
    assert_int_equal(cli_main(4, argv5), CLI_USAGE);
    char *argv6[] = {"petri", "population", "create", "/nonexistent/spec.json", NULL};
    assert_int_equal(cli_main(4, argv6), CLI_USAGE);
}

/* petri mutate's options: defaults, every limit, and the errors naming them. */
static void test_mutate_settings(void **state)
{
    cli_args_t a;
    cli_mutate_cfg_t m;
    char err[256];
    assert_int_equal(parse(&a, err, sizeof err, "mutate", "p", "--command", "cat", NULL), 0);
    assert_int_equal(cli_mutate_settings(&a, &m, err, sizeof err), 0);
    assert_string_equal(m.command, "cat");
    assert_string_equal(m.name, "cat");
    assert_int_equal(m.concurrency, 1);
    assert_true(m.rate == 0 && m.count == 0 && m.deme == -1);
    assert_true(m.timeout_s == 60.0);
    assert_int_equal(m.max_bytes, 65536);
    assert_int_equal(m.members, 4);

    assert_int_equal(parse(&a, err, sizeof err, "mutate", "p", "--command=./x.sh --flag", "--name",
                           "llm.v1_a-b", "--concurrency", "64", "--rate", "0.5", "--count", "10",
                           "--timeout", "2.5", "--max-bytes", "1048576", "--members", "16",
                           "--deme", "3", NULL),
                     0);
    assert_int_equal(cli_mutate_settings(&a, &m, err, sizeof err), 0);
    assert_string_equal(m.name, "llm.v1_a-b");
    assert_int_equal(m.concurrency, 64);
    assert_true(m.rate == 0.5 && m.count == 10 && m.timeout_s == 2.5);
    assert_int_equal(m.max_bytes, 1048576);
    assert_int_equal(m.members, 16);
    assert_int_equal(m.deme, 3);
    unsigned all = CLI_O_COMMAND | CLI_O_NAME | CLI_O_CONCURRENCY | CLI_O_RATE | CLI_O_COUNT |
                   CLI_O_TIMEOUT | CLI_O_MAX_BYTES | CLI_O_MEMBERS | CLI_O_DEME;
    assert_int_equal(cli_args_allow(&a, all, "mutate", err, sizeof err), 0);
    assert_int_equal(cli_args_allow(&a, 0, "members", err, sizeof err), CLI_USAGE);

    static const struct {
        const char *opt, *val, *named;
    } bad[] = {
        {"--concurrency", "0", "--concurrency"},
        {"--concurrency", "65", "--concurrency"},
        {"--concurrency", "2x", "--concurrency"},
        {"--rate", "0", "--rate"},
        {"--rate", "-1", "--rate"},
        {"--rate", "nan", "--rate"},
        {"--count", "0", "--count"},
        {"--count", "-5", "--count"},
        {"--max-bytes", "0", "--max-bytes"},
        {"--max-bytes", "1048577", "--max-bytes"},
        {"--members", "0", "--members"},
        {"--members", "17", "--members"},
        {"--deme", "-1", "--deme"},
        {"--deme", "256", "--deme"},
        {"--name", "Upper", "--name"},
        {"--name", "", "--name"},
        {"--name", "a b", "--name"},
        {"--name", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "--name"}, /* 33 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse(&a, err, sizeof err, "mutate", "p", "--command", "cat", bad[i].opt,
                               bad[i].val, NULL),
                         0);
        err[0] = '\0';
        if (cli_mutate_settings(&a, &m, err, sizeof err) != CLI_USAGE || !strstr(err, bad[i].named))
            fail_msg("%s %s: '%s'", bad[i].opt, bad[i].val, err);
    }
    assert_int_equal(parse(&a, err, sizeof err, "mutate", "p", NULL), 0);
    assert_int_equal(cli_mutate_settings(&a, &m, err, sizeof err), CLI_USAGE);
    assert_non_null(strstr(err, "--command"));
    assert_int_equal(parse(&a, err, sizeof err, "mutate", "p", "--command", "", NULL), 0);
    assert_int_equal(cli_mutate_settings(&a, &m, err, sizeof err), CLI_USAGE);
    assert_int_equal(parse(&a, err, sizeof err, "mutate", "p", "--command", NULL), CLI_USAGE);
    assert_int_equal(parse(&a, err, sizeof err, "mutate", "p", "--timeout", "0", NULL), CLI_USAGE);
}

static void test_mutate_default_name(void **state)
{
    static const struct {
        const char *cmd, *name;
    } t[] = {
        {"python3 configs/mutators/textual.py", "textual.py"},
        {"/usr/bin/python3 /x/y/Mut.PY --seed 3", "mut.py"},
        {"/usr/bin/python3 -u x.py", "python3"}, /* an option, not a script */
        {"llm -m claude-x 'write a child'", "llm"},
        {"  sh   -c 'cat'", "sh"},
        {"sh ./gen.sh", "gen.sh"},
        {"./My Tool", "my"},
        {"/opt/bin/a+b@c", "a-b-c"},
        {"", "external"},
        {"   ", "external"},
        {"/", "external"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char out[MUTATE_NAME_MAX + 1];
        cli_mutate_default_name(t[i].cmd, out);
        if (strcmp(out, t[i].name) != 0)
            fail_msg("'%s' -> '%s', expected '%s'", t[i].cmd, out, t[i].name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_globals_anywhere),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_mutate_settings),
        cmocka_unit_test(test_mutate_default_name),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_sparkline),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_fmt_value),
        cmocka_unit_test(test_members_view),
        cmocka_unit_test(test_lineage_tree),
        cmocka_unit_test(test_population_view),
        cmocka_unit_test(test_population_diversity_view),
        cmocka_unit_test(test_verify_view),
        cmocka_unit_test(test_verify_view_other_breeder),
        cmocka_unit_test(test_genome_view_breeder),
        cmocka_unit_test(test_main_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
