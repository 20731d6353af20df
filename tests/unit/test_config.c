/* test_config.c - cmocka tests of shared/config.c: defaults, file/env/flag
 * precedence, typed values, and error messages that name the key. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "err.h"

static const cfg_opt_t opts[] = {
    {"node", "name", CFG_STR, "", 0, 0, 0, "defaults to the host name"},
    {"node", "bind", CFG_ADDR, "0.0.0.0:7946", 0, 0, 0, "gossip port"},
    {"node", "advertise", CFG_ADDR, "", 0, 0, 0, "empty = bind address"},
    {"beam", "max_rss_mb", CFG_INT, "512", 64, 65536, 0, "room for a few sandboxes"},
    {"beam", "nodes", CFG_INT, "2", 1, 64, 0, "two small VMs per host"},
    {"beam", "elixir", CFG_BOOL, "no", 0, 0, 0, "Erlang genomes only by default"},
    {"cluster", "key", CFG_STR, "", 0, 0, CFG_SECRET, "no default secret"},
    {"cluster", "token", CFG_STR, "s3cret", 0, 0, CFG_SECRET, "test"},
    {"node", "verbose", CFG_BOOL, "false", 0, 0, 0, "quiet by default"},
    {NULL, NULL, 0, NULL, 0, 0, 0, NULL},
};

static char path[256];

static int teardown(void **state)
{
    unlink(path);
    return 0;
}

static void write_conf(const char *text)
{
    snprintf(path, sizeof path, "/tmp/petri_test_config_%ld.conf", (long)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_defaults(void **state)
{
    cfg_t *c = cfg_new(opts);
    assert_non_null(c);
    assert_string_equal(cfg_str(c, "node", "name"), "");
    assert_string_equal(cfg_str(c, "node", "bind"), "0.0.0.0:7946");
    assert_int_equal(cfg_int(c, "beam", "max_rss_mb"), 512);
    assert_false(cfg_bool(c, "beam", "elixir"));
    assert_string_equal(cfg_source(c, "beam", "nodes"), "default");
    cfg_destroy(&c);
    assert_null(c);
    cfg_destroy(&c);
}

static void test_file(void **state)
{
    char err[256] = "";
    write_conf("; comment\n# comment\n[node]\nname = alpha  ; inline comment\n"
               "bind = [::1]:9000\n\n[beam]\nmax_rss_mb=1024\nelixir = YES\n");
    cfg_t *c = cfg_new(opts);
    assert_int_equal(cfg_load_file(c, path, err, sizeof err), 0);
    assert_string_equal(cfg_str(c, "node", "name"), "alpha");
    assert_string_equal(cfg_str(c, "node", "bind"), "[::1]:9000");
    assert_int_equal(cfg_int(c, "beam", "max_rss_mb"), 1024);
    assert_true(cfg_bool(c, "beam", "elixir"));
    char want[300];
    snprintf(want, sizeof want, "%s:8", path);
    assert_string_equal(cfg_source(c, "beam", "max_rss_mb"), want);
    cfg_destroy(&c);
}

/* Loads text and expects ERR_CONFIG with every needle in the message. */
static void expect_file_error(const char *text, const char *n1, const char *n2, const char *n3)
{
    char err[256] = "";
    write_conf(text);
    cfg_t *c = cfg_new(opts);
    assert_int_equal(cfg_load_file(c, path, err, sizeof err), ERR_CONFIG);
    if (!strstr(err, n1) || (n2 && !strstr(err, n2)) || (n3 && !strstr(err, n3)))
        fail_msg("message '%s' lacks '%s' / '%s' / '%s'", err, n1, n2 ? n2 : "", n3 ? n3 : "");
    assert_non_null(strstr(err, path));
    cfg_destroy(&c);
}

static void test_file_errors_name_the_key(void **state)
{
    expect_file_error("[beam]\nmax_rss_mb = lots\n", ":2: [beam] max_rss_mb: not an integer",
                      "(value 'lots')", NULL);
    expect_file_error("[beam]\n\nmax_rss_mb = 1\n", ":3: [beam] max_rss_mb: out of range",
                      "[64, 65536]", "(value '1')");
    expect_file_error("[beam]\nmax_rss_mb = 12x\n", "max_rss_mb", "not an integer", NULL);
    expect_file_error("[beam]\nmax_rss_mb = 99999999999999999999\n", "max_rss_mb", "out of range",
                      NULL);
    expect_file_error("[beam]\nelixir = maybe\n", ":2: [beam] elixir: not a boolean",
                      "(value 'maybe')", NULL);
    expect_file_error("[beam]\nnodez = 3\n", ":2: [beam] nodez: unknown key", NULL, NULL);
    expect_file_error("[bean]\nnodes = 3\n", ":2: [bean] nodes: unknown section", NULL, NULL);
    expect_file_error("nodes = 3\n", ":1: [] nodes: unknown section", NULL, NULL);
    expect_file_error("[node]\nbind = localhost\n", ":2: [node] bind: not host:port",
                      "(value 'localhost')", NULL);
    expect_file_error("[node]\nbind = host:0\n", "[node] bind", "(value 'host:0')", NULL);
    expect_file_error("[node]\nname = a\nthis line is junk\n", ":3: syntax error", NULL, NULL);
    expect_file_error("[node]\nname = a\n  continued\n", ":3:", NULL, NULL);
}

static void test_file_long_line(void **state)
{
    char text[1200];
    char err[256] = "";
    memset(text, 0, sizeof text);
    strcpy(text, "[node]\nname = ");
    memset(text + strlen(text), 'x', 1000);
    strcat(text, "\n");
    write_conf(text);
    cfg_t *c = cfg_new(opts);
    assert_int_equal(cfg_load_file(c, path, err, sizeof err), ERR_CONFIG);
    assert_non_null(strstr(err, ":2: line too long"));
    cfg_destroy(&c);
}

static void test_missing_file(void **state)
{
    char err[256] = "";
    cfg_t *c = cfg_new(opts);
    assert_int_equal(cfg_load_file(c, "/nonexistent/petri.conf", err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/petri.conf"));
    cfg_destroy(&c);
}

static void test_env(void **state)
{
    char err[256] = "";
    cfg_t *c = cfg_new(opts);
    char *env[] = {"HOME=/root",           "PETRI_BEAM_MAX_RSS_MB=2048", "PETRI_NODE_NAME=beta",
                   "PETRI_BUILD=/x/build", "PETRI_TEST_FOO=1",           NULL};
    assert_int_equal(cfg_load_env(c, env, err, sizeof err), 0);
    assert_int_equal(cfg_int(c, "beam", "max_rss_mb"), 2048);
    assert_string_equal(cfg_str(c, "node", "name"), "beta");
    assert_string_equal(cfg_source(c, "beam", "max_rss_mb"), "env");

    char *bad[] = {"PETRI_BEAM_MAX_RSS=1", NULL};
    assert_int_equal(cfg_load_env(c, bad, err, sizeof err), ERR_CONFIG);
    assert_non_null(strstr(err, "PETRI_BEAM_MAX_RSS"));
    char *bad2[] = {"PETRI_BEAM_NODES=many", NULL};
    assert_int_equal(cfg_load_env(c, bad2, err, sizeof err), ERR_CONFIG);
    assert_non_null(strstr(err, "PETRI_BEAM_NODES: [beam] nodes: not an integer"));
    assert_non_null(strstr(err, "(value 'many')"));
    char *lower[] = {"PETRI_beam_nodes=3", NULL};
    assert_int_equal(cfg_load_env(c, lower, err, sizeof err), ERR_CONFIG);
    assert_true(cfg_env_is_reserved("PETRI_TOKEN", 11));
    assert_false(cfg_env_is_reserved("PETRI_TOKENS", 12));
    cfg_destroy(&c);
}

static void test_precedence(void **state)
{
    char err[256] = "";
    write_conf("[beam]\nnodes = 3\nmax_rss_mb = 100\nelixir = on\n");
    cfg_t *c = cfg_new(opts);
    char *env[] = {"PETRI_BEAM_NODES=4", "PETRI_BEAM_MAX_RSS_MB=200", NULL};
    assert_int_equal(cfg_load_file(c, path, err, sizeof err), 0);
    assert_int_equal(cfg_load_env(c, env, err, sizeof err), 0);
    assert_int_equal(cfg_set_arg(c, "beam.nodes=5", err, sizeof err), 0);
    assert_int_equal(cfg_int(c, "beam", "nodes"), 5);
    assert_string_equal(cfg_source(c, "beam", "nodes"), "flag");
    assert_int_equal(cfg_int(c, "beam", "max_rss_mb"), 200);
    assert_string_equal(cfg_source(c, "beam", "max_rss_mb"), "env");
    assert_true(cfg_bool(c, "beam", "elixir"));
    assert_non_null(strstr(cfg_source(c, "beam", "elixir"), ":4"));
    cfg_destroy(&c);
}

static void test_set_arg(void **state)
{
    char err[256] = "";
    cfg_t *c = cfg_new(opts);
    assert_int_equal(cfg_set_arg(c, "node.name=a=b.c", err, sizeof err), 0);
    assert_string_equal(cfg_str(c, "node", "name"), "a=b.c");
    assert_int_equal(cfg_set_arg(c, "node.name=", err, sizeof err), 0);
    assert_string_equal(cfg_str(c, "node", "name"), "");
    const char *bad[] = {"nodename=x", "node.name", ".name=x", "node.=x", "=x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(cfg_set_arg(c, bad[i], err, sizeof err), ERR_CONFIG);
        assert_non_null(strstr(err, "section.key=value"));
    }
    assert_int_equal(cfg_set_arg(c, "beam.nodes=0", err, sizeof err), ERR_CONFIG);
    assert_non_null(strstr(err, "[beam] nodes: out of range [1, 64] (value '0')"));
    assert_int_equal(cfg_set_arg(c, "beam.zzz=0", err, sizeof err), ERR_CONFIG);
    assert_non_null(strstr(err, "[beam] zzz: unknown key"));
    assert_int_equal(cfg_set(c, "beam", "nodes", "7", "test", err, sizeof err), 0);
    assert_string_equal(cfg_source(c, "beam", "nodes"), "test");
    cfg_destroy(&c);
}

static void test_bool_and_int_bounds(void **state)
{
    char err[256];
    cfg_t *c = cfg_new(opts);
    const char *t[] = {"true", "yes", "on", "1", "TRUE", "Yes"};
    const char *f[] = {"false", "no", "off", "0", "OFF"};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        assert_int_equal(cfg_set(c, "beam", "elixir", t[i], NULL, err, sizeof err), 0);
        assert_true(cfg_bool(c, "beam", "elixir"));
    }
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        assert_int_equal(cfg_set(c, "beam", "elixir", f[i], NULL, err, sizeof err), 0);
        assert_false(cfg_bool(c, "beam", "elixir"));
    }
    const char *badb[] = {"", "2", "tru", "yes please"};
    for (size_t i = 0; i < sizeof badb / sizeof badb[0]; i++)
        assert_int_equal(cfg_set(c, "beam", "elixir", badb[i], NULL, err, sizeof err), ERR_CONFIG);
    assert_int_equal(cfg_set(c, "beam", "nodes", "1", NULL, err, sizeof err), 0);
    assert_int_equal(cfg_set(c, "beam", "nodes", "64", NULL, err, sizeof err), 0);
    assert_int_equal(cfg_set(c, "beam", "nodes", "65", NULL, err, sizeof err), ERR_CONFIG);
    assert_int_equal(cfg_set(c, "beam", "nodes", "-1", NULL, err, sizeof err), ERR_CONFIG);
    assert_int_equal(cfg_set(c, "beam", "nodes", "", NULL, err, sizeof err), ERR_CONFIG);
    assert_int_equal(cfg_set(c, "beam", "nodes", " 3", NULL, err, sizeof err), ERR_CONFIG);
    assert_int_equal(cfg_set(c, "beam", "nodes", "0x10", NULL, err, sizeof err), ERR_CONFIG);
    assert_int_equal(cfg_int(c, "beam", "nodes"), 64); /* a failed set changes nothing */
    cfg_destroy(&c);
}

static void test_addr(void **state)
{
    char host[64];
    int port;
    assert_int_equal(cfg_split_addr("127.0.0.1:7946", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 7946);
    assert_int_equal(cfg_split_addr("[::1]:65535", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 65535);
    assert_int_equal(cfg_split_addr("node-1.example:1", host, sizeof host, &port), 0);
    assert_string_equal(host, "node-1.example");
    assert_int_equal(cfg_split_addr("*:7950", host, sizeof host, &port), 0);
    const char *bad[] = {"",           "host",    ":80",      "host:",      "host:0",
                         "host:65536", "host:8x", "::1:80",   "[::1]80",    "[::1]",
                         "[]:80",      "host:-1", "ho st:80", "host:123456"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (cfg_split_addr(bad[i], host, sizeof host, &port) != ERR_INVAL)
            fail_msg("'%s' accepted", bad[i]);
    char tiny[4];
    assert_int_equal(cfg_split_addr("longhost:80", tiny, sizeof tiny, &port), ERR_INVAL);
    assert_int_equal(cfg_split_addr("abc:80", tiny, sizeof tiny, &port), 0);
}

static void test_print(void **state)
{
    char err[256], *buf = NULL;
    size_t len = 0;
    cfg_t *c = cfg_new(opts);
    assert_int_equal(cfg_set_arg(c, "beam.nodes=3", err, sizeof err), 0);
    FILE *f = open_memstream(&buf, &len);
    cfg_print(c, f);
    fclose(f);
    /* sections in table order, keys grouped under their section */
    const char *node = strstr(buf, "[node]\n");
    const char *beam = strstr(buf, "[beam]\n");
    const char *cluster = strstr(buf, "[cluster]\n");
    assert_non_null(node);
    assert_non_null(beam);
    assert_non_null(cluster);
    assert_true(node < beam && beam < cluster);
    const char *verbose = strstr(buf, "verbose = false   ; default\n");
    assert_non_null(verbose);
    assert_true(verbose < beam); /* [node] keys together */
    assert_non_null(strstr(buf, "nodes = 3   ; flag\n"));
    assert_non_null(strstr(buf, "elixir = false   ; default\n"));
    assert_non_null(strstr(buf, "key =    ; default\n"));
    assert_non_null(strstr(buf, "token = ********   ; default\n"));
    assert_null(strstr(buf, "s3cret"));
    assert_int_equal(strstr(buf, "[node]") - buf, 0);

    /* the output reads back as a config file */
    write_conf(buf);
    cfg_t *c2 = cfg_new(opts);
    assert_int_equal(cfg_load_file(c2, path, err, sizeof err), 0);
    assert_int_equal(cfg_int(c2, "beam", "nodes"), 3);
    assert_string_equal(cfg_str(c2, "node", "bind"), "0.0.0.0:7946");
    free(buf);
    cfg_destroy(&c2);
    cfg_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test_teardown(test_file, teardown),
        cmocka_unit_test_teardown(test_file_errors_name_the_key, teardown),
        cmocka_unit_test_teardown(test_file_long_line, teardown),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_env),
        cmocka_unit_test_teardown(test_precedence, teardown),
        cmocka_unit_test(test_set_arg),
        cmocka_unit_test(test_bool_and_int_bounds),
        cmocka_unit_test(test_addr),
        cmocka_unit_test_teardown(test_print, teardown),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
