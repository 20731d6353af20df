/* test_err.c - cmocka tests of err_str (shared/err.c). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"

static void test_ok_and_errno(void **state)
{
    assert_string_equal(err_str(0), "ok");
    assert_string_equal(err_str(-ENOENT), "No such file or directory");
    assert_string_equal(err_str(-EACCES), "Permission denied");
    assert_string_equal(err_str(-ENOMEM), "Cannot allocate memory");
}

static void test_project_codes(void **state)
{
    const int codes[] = {ERR_PROTO,  ERR_VERSION,  ERR_TRUNC,  ERR_TOOBIG,      ERR_CRYPTO,
                         ERR_CONFIG, ERR_NOTFOUND, ERR_EXISTS, ERR_TIMEOUT,     ERR_STATE,
                         ERR_INVAL,  ERR_SPEC,     ERR_LIMIT,  ERR_UNKNOWN_TYPE};
    const size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        const char *s = err_str(codes[i]);
        assert_non_null(s);
        assert_string_not_equal(s, "unknown error");
        for (size_t j = 0; j < i; j++) /* each code has its own text */
            assert_string_not_equal(s, err_str(codes[j]));
    }
    assert_string_equal(err_str(ERR_TRUNC), "truncated input");
}

static void test_unknown(void **state)
{
    assert_string_equal(err_str(-999999), "unknown error");
    assert_string_equal(err_str(-1000), "unknown error");
    assert_string_equal(err_str(-1099), "unknown error");
    assert_string_equal(err_str(5), "unknown error");
    assert_string_equal(err_str(-998), "unknown error"); /* no such errno */
}

static void *worker(void *arg)
{
    const char *want = err_str(-EINVAL);
    for (int i = 0; i < 20000; i++) {
        if (strcmp(err_str(-EINVAL), want) != 0 || strcmp(err_str(-EPIPE), "Broken pipe") != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_threads_get_stable_text(void **state)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        assert_null(rc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_and_errno),
        cmocka_unit_test(test_project_codes),
        cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_threads_get_stable_text),
    };
    return cmocka_run_group_tests_name("err", tests, NULL, NULL);
}
