/* test_log.c - cmocka tests of the logger (shared/log.c): line format,
 * level filtering, fatal's exit status and log_quote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* Runs fn with stderr redirected to a temp file; returns what it wrote. */
static char captured[8192];

static const char *capture(void (*fn)(void))
{
    char path[] = "/tmp/petri_test_log_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, captured, sizeof captured - 1);
    close(fd);
    captured[n > 0 ? n : 0] = '\0';
    return captured;
}

static void emit_basic(void)
{
    log_init("test", LOG_LVL_INFO, 0);
    log_info("vm.start", "vm=%d pid=%d", 1, 42);
    log_debug("hidden", "x=%d", 1);
    log_warn("no.fields", "%s", "");
    log_error("e", "%s", "");
}

static void test_format(void **state)
{
    const char *out = capture(emit_basic);
    char line1[256];
    const char *nl = strchr(out, '\n');
    assert_non_null(nl);
    memcpy(line1, out, (size_t)(nl - out));
    line1[nl - out] = '\0';
    /* ts=YYYY-MM-DDTHH:MM:SS.mmmZ */
    assert_int_equal(strncmp(line1, "ts=", 3), 0);
    assert_int_equal(strlen(line1), strlen("ts=2026-11-28T20:50:00.123Z level=info event=vm.start "
                                           "vm=1 pid=42"));
    assert_int_equal(line1[7], '-');
    assert_int_equal(line1[13], 'T');
    assert_int_equal(line1[22], '.');
    assert_int_equal(line1[26], 'Z');
    assert_string_equal(line1 + 27, " level=info event=vm.start vm=1 pid=42");
    assert_null(strstr(out, "hidden"));
    assert_non_null(strstr(out, " level=warn event=no.fields\n"));
    assert_non_null(strstr(out, " level=error event=e\n"));
    int lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 3);
}

static void emit_long(void)
{
    static char big[10000];
    memset(big, 'a', sizeof big - 1);
    log_init("test", LOG_LVL_DEBUG, 0);
    log_debug("big", "v=%s", big);
}

static void test_long_line_truncated_single_line(void **state)
{
    const char *out = capture(emit_long);
    size_t n = strlen(out);
    assert_true(n > 1000 && n <= 4096);
    assert_int_equal(out[n - 1], '\n');
    assert_non_null(strstr(out, "...\n"));
    assert_ptr_equal(strchr(out, '\n'), out + n - 1); /* one line */
}

static void test_level_parse(void **state)
{
    assert_int_equal(log_level_parse("debug"), LOG_LVL_DEBUG);
    assert_int_equal(log_level_parse("info"), LOG_LVL_INFO);
    assert_int_equal(log_level_parse("warn"), LOG_LVL_WARN);
    assert_int_equal(log_level_parse("error"), LOG_LVL_ERROR);
    assert_int_equal(log_level_parse("loud"), -1);
    assert_int_equal(log_level_parse(""), -1);
    assert_int_equal(log_level_parse(NULL), -1);
    log_init("test", LOG_LVL_WARN, 0);
    assert_int_equal(log_level(), LOG_LVL_WARN);
}

static void test_fatal_exits_1(void **state)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], STDERR_FILENO);
        log_init("test", LOG_LVL_ERROR, 0);
        fatal("cannot.start", "reason=%s", "test");
    }
    close(p[1]);
    char buf[512] = {0};
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1);
    assert_true(n > 0);
    assert_non_null(strstr(buf, "level=error event=cannot.start reason=test\n"));
}

static void test_quote(void **state)
{
    char buf[64];
    assert_string_equal(log_quote("plain", buf, sizeof buf), "\"plain\"");
    assert_string_equal(log_quote("", buf, sizeof buf), "\"\"");
    assert_string_equal(log_quote(NULL, buf, sizeof buf), "\"\"");
    assert_string_equal(log_quote("a\"b\\c", buf, sizeof buf), "\"a\\\"b\\\\c\"");
    assert_string_equal(log_quote("l1\nl2\tx\r", buf, sizeof buf), "\"l1\\nl2\\tx\\r\"");
    assert_string_equal(log_quote("\x01\x7f", buf, sizeof buf), "\"\\x01\\x7f\"");
    assert_ptr_equal(log_quote("x", buf, sizeof buf), buf);
}

static void test_quote_truncation(void **state)
{
    char buf[10];
    /* 7 chars + 2 quotes + NUL fill the 10 bytes exactly */
    assert_string_equal(log_quote("abcdefg", buf, sizeof buf), "\"abcdefg\"");
    assert_string_equal(log_quote("abcdefgh", buf, sizeof buf), "\"abcd...\"");
    assert_int_equal(strlen(buf), 9);
    /* an escape is never cut in half */
    assert_string_equal(log_quote("abc\ndefgh", buf, sizeof buf), "\"abc...\"");
    char tiny[4];
    log_quote("abcdef", tiny, sizeof tiny);
    assert_int_equal(strlen(tiny), 3);
    char one[1];
    log_quote("abc", one, sizeof one);
    assert_int_equal(one[0], '\0');
    /* every capacity keeps the NUL and stays in bounds */
    char big[40];
    for (size_t cap = 1; cap <= sizeof big; cap++) {
        memset(big, 'Z', sizeof big);
        log_quote("q\"u\x02o\nte me please", big, cap);
        assert_true(strlen(big) < cap);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),      cmocka_unit_test(test_long_line_truncated_single_line),
        cmocka_unit_test(test_level_parse), cmocka_unit_test(test_fatal_exits_1),
        cmocka_unit_test(test_quote),       cmocka_unit_test(test_quote_truncation),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
