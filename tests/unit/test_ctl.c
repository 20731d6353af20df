/* test_ctl.c - the local control socket: a request reaches the handler with
 * its arguments, the reply comes back with its code; garbage and a missing
 * socket get clear errors. The client runs in a thread while the test's
 * thread runs the loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "ctl.h"
#include "err.h"

static json_t *handler(void *arg, const char *cmd, char **args, int nargs, int *code)
{
    int *calls = arg;
    (*calls)++;
    if (!strcmp(cmd, "echo")) {
        *code = 0;
        return json_pack("{s:s, s:i}", "first", nargs ? args[0] : "", "n", nargs);
    }
    *code = 2;
    return json_pack("{s:s}", "error", "unknown command");
}

typedef struct call {
    const char *path, *cmd;
    char *args[2];
    int nargs;
    int rc, code;
    char *body;
    char err[256];
    volatile int done;
} call_t;

static void *client(void *arg)
{
    call_t *c = arg;
    c->rc = ctl_call(c->path, c->cmd, c->args, c->nargs, 3000, &c->code, &c->body, c->err,
                     sizeof c->err);
    c->done = 1;
    return NULL;
}

static void run_call(loop_t *l, call_t *c)
{
    pthread_t t;
    pthread_create(&t, NULL, client, c);
    uint64_t end = mono_ms() + 5000;
    while (!c->done && mono_ms() < end)
        loop_run_once(l, 10);
    pthread_join(t, NULL);
}

static void test_round_trip_and_errors(void **state)
{
    (void)state;
    char dir[] = "/tmp/petri-ctl-XXXXXX", path[128], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/agent.sock", dir);
    loop_t *l = loop_new();
    void *zctx = zmq_ctx_new();
    int calls = 0;
    ctl_t *c = ctl_new(l, zctx, path, handler, &calls, err, sizeof err);
    assert_non_null(c);

    call_t a = {.path = path, .cmd = "echo", .args = {"hello", "x"}, .nargs = 2};
    run_call(l, &a);
    assert_int_equal(a.rc, 0);
    assert_int_equal(a.code, 0);
    assert_non_null(strstr(a.body, "\"first\":\"hello\""));
    assert_non_null(strstr(a.body, "\"n\":2"));
    free(a.body);

    call_t b = {.path = path, .cmd = "nope"};
    run_call(l, &b);
    assert_int_equal(b.rc, 0);
    assert_int_equal(b.code, 2);
    free(b.body);
    assert_int_equal(calls, 2);

    /* raw garbage on the socket: answered with an error, handler not called */
    void *req = zmq_socket(zctx, ZMQ_REQ);
    int zero = 0, to = 3000;
    zmq_setsockopt(req, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(req, ZMQ_RCVTIMEO, &to, sizeof to);
    char ep[160];
    snprintf(ep, sizeof ep, "ipc://%s", path);
    assert_int_equal(zmq_connect(req, ep), 0);
    zmq_send(req, "garbage!", 8, 0);
    char buf[512];
    int n = -1;
    uint64_t end = mono_ms() + 3000;
    while (n < 0 && mono_ms() < end) {
        loop_run_once(l, 10);
        n = zmq_recv(req, buf, sizeof buf, ZMQ_DONTWAIT);
    }
    assert_true(n > 0);
    assert_int_equal(calls, 2);
    zmq_close(req);

    ctl_destroy(&c);
    assert_null(c);
    assert_int_not_equal(access(path, F_OK), 0); /* socket file removed */
    call_t d = {.path = path, .cmd = "echo"};
    d.rc = ctl_call(d.path, d.cmd, NULL, 0, 500, &d.code, &d.body, d.err, sizeof d.err);
    assert_int_equal(d.rc, ERR_NOTFOUND);
    assert_non_null(strstr(d.err, "is petri-agent running"));
    loop_destroy(&l);
    zmq_ctx_term(zctx);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
