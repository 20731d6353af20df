/* test_ops.c - cmocka tests of the breeding operators' names and rates
 * (shared/ops.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "ops.h"

static void test_names_and_parents(void **state)
{
    (void)state;
    assert_int_equal(ops_find("crossover"), 0);
    assert_int_equal(ops_find("wrap"), OPS_N - 1);
    assert_int_equal(ops_find("fold"), 16);
    assert_int_equal(ops_find("random"), -1); /* no parent: not a breeding draw */
    assert_int_equal(ops_find(""), -1);
    for (int i = 0; i < OPS_N; i++) {
        assert_int_equal(ops_find(ops_names[i]), i);
        assert_non_null(strstr(ops_known, ops_names[i]));
        int two =
            strcmp(ops_names[i], "crossover") == 0 || strcmp(ops_names[i], "clause_xover") == 0;
        assert_int_equal(ops_parents(ops_names[i]), two ? 2 : 1);
    }
    double sum = 0;
    for (int i = 0; i < OPS_N; i++)
        sum += ops_default_rates[i];
    assert_true(sum > 0.999 && sum < 1.001);
}

static void test_parse_rates(void **state)
{
    (void)state;
    double r[OPS_N];
    char err[512];
    assert_int_equal(ops_parse_rates("crossover=1,fold=2,recurse=1", r, err, sizeof err), 0);
    assert_true(r[0] > 0.2499 && r[0] < 0.2501);
    assert_true(r[ops_find("fold")] > 0.4999 && r[ops_find("fold")] < 0.5001);
    assert_true(r[ops_find("point")] == 0);
    assert_int_equal(ops_parse_rates("point=0.5,point=1", r, err, sizeof err), 0);
    assert_true(r[ops_find("point")] == 1.0); /* the last rate given wins */
    assert_int_equal(ops_parse_rates("literal=3,", r, err, sizeof err), 0);
    assert_true(r[ops_find("literal")] == 1.0);
}

static void test_parse_errors(void **state)
{
    (void)state;
    double r[OPS_N];
    char err[512];
    static const char *const bad[][2] = {
        {"", "no operators"},
        {"frobnicate=1", "frobnicate: unknown operator"},
        {"fold", "expected NAME=RATE"},
        {"fold=-1", "must be a number >= 0"},
        {"fold=x", "must be a number >= 0"},
        {"fold=1e999", "must be a number >= 0"},
        {"fold=0,point=0", "add up to 0"},
        {",fold=1", "expected NAME=RATE"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(ops_parse_rates(bad[i][0], r, err, sizeof err), ERR_SPEC);
        if (!strstr(err, bad[i][1]))
            fail_msg("%s: '%s' lacks '%s'", bad[i][0], err, bad[i][1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_parents),
        cmocka_unit_test(test_parse_rates),
        cmocka_unit_test(test_parse_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
