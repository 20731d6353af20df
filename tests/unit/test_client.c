/* test_client.c - cmocka tests of the coordinator API client
 * (coordinator/client.c) against the real HTTP server (shared/http.c)
 * in the same process: answers, API errors, bodies that are not JSON, the
 * raw variant, the token, aborts, and an unreachable coordinator. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <zmq.h>

#include "client.h"
#include "err.h"
#include "http.h"
#include "loop.h"

static http_t *srv;

static void handler(void *arg, const http_req_t *req, http_resp_t *resp)
{
    if (!strcmp(req->path, "/v1/ok"))
        http_json(resp, 200,
                  json_pack("{s:s, s:b, s:s%}", "method", req->method, "authorized",
                            req->authorized, "body", (const char *)req->body, req->body_len));
    else if (!strcmp(req->path, "/v1/text"))
        http_text(resp, 200, "text/vnd.graphviz", "digraph {}\n", 11);
    else if (!strcmp(req->path, "/v1/empty"))
        resp->status = 204;
    else if (!strcmp(req->path, "/v1/slow"))
        http_defer(srv, 60000); /* never answered */
    else
        http_error(resp, 404, "no population named %s", "x");
}

struct job {
    client_opts_t o;
    const char *method, *path, *body;
    int raw;
    int rc;
    long status;
    json_t *out;
    char *text;
    size_t len;
    char err[512];
    atomic_int done;
};

static void *job_main(void *arg)
{
    struct job *j = arg;
    if (j->raw)
        j->rc = client_call_raw(&j->o, j->method, j->path, j->body, j->body ? strlen(j->body) : 0,
                                &j->status, &j->text, &j->len, j->err, sizeof j->err);
    else
        j->rc = client_call(&j->o, j->method, j->path, j->body, j->body ? strlen(j->body) : 0,
                            &j->status, &j->out, j->err, sizeof j->err);
    atomic_store(&j->done, 1);
    return NULL;
}

struct env {
    loop_t *loop;
    void *z;
    char addr[64];
};

static int setup(void **state)
{
    static struct env e;
    e.loop = loop_new();
    e.z = zmq_ctx_new();
    char err[256];
    srv = http_new(e.loop, e.z, "127.0.0.1:0", "tok", 1 << 16, handler, NULL, err, sizeof err);
    if (!srv)
        return -1;
    snprintf(e.addr, sizeof e.addr, "127.0.0.1:%d", http_port(srv));
    *state = &e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    http_destroy(&srv);
    zmq_ctx_term(e->z);
    loop_destroy(&e->loop);
    return 0;
}

/* Runs one call on a thread while this thread serves the loop. */
static void run(struct env *e, struct job *j)
{
    if (!j->o.addr)
        j->o.addr = e->addr;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, job_main, j), 0);
    while (!atomic_load(&j->done))
        loop_run_once(e->loop, 20);
    pthread_join(th, NULL);
}

static void test_json_answer(void **state)
{
    struct job j = {.method = "POST", .path = "/v1/ok", .body = "{\"a\":1}"};
    j.o.token = "tok";
    run(*state, &j);
    assert_int_equal(j.rc, 0);
    assert_int_equal(j.status, 200);
    assert_non_null(j.out);
    assert_true(json_is_true(json_object_get(j.out, "authorized")));
    assert_string_equal(json_string_value(json_object_get(j.out, "body")), "{\"a\":1}");
    json_decref(j.out);

    struct job k = {.method = "POST", .path = "/v1/ok", .body = ""};
    k.o.token = "wrong";
    run(*state, &k);
    assert_int_equal(k.rc, 0);
    assert_int_equal(k.status, 401);
    assert_non_null(strstr(k.err, "token"));
    json_decref(k.out);
}

static void test_api_error_and_empty(void **state)
{
    struct job j = {.method = "GET", .path = "/v1/populations/x"};
    run(*state, &j);
    assert_int_equal(j.rc, 0);
    assert_int_equal(j.status, 404);
    assert_string_equal(j.err, "no population named x");
    json_decref(j.out);

    struct job k = {.method = "GET", .path = "/v1/empty"};
    run(*state, &k);
    assert_int_equal(k.rc, 0);
    assert_int_equal(k.status, 204);
    assert_null(k.out);
}

static void test_not_json(void **state)
{
    struct job j = {.method = "GET", .path = "/v1/text"};
    run(*state, &j);
    assert_int_equal(j.rc, ERR_PROTO);
    assert_int_equal(j.status, 200);
    assert_null(j.out);
    assert_non_null(strstr(j.err, "not JSON"));

    struct job r = {.method = "GET", .path = "/v1/text", .raw = 1};
    run(*state, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.text, "digraph {}\n");
    assert_int_equal(r.len, 11);
    free(r.text);

    struct job e = {.method = "GET", .path = "/v1/nothing", .raw = 1};
    run(*state, &e);
    assert_int_equal(e.rc, 0);
    assert_int_equal(e.status, 404);
    assert_string_equal(e.err, "no population named x");
    free(e.text);
}

static int abort_now(void *arg, double elapsed)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    return 1;
}

static void test_abort_by_progress(void **state)
{
    atomic_int calls = 0;
    struct job j = {.method = "GET", .path = "/v1/slow"};
    j.o.progress = abort_now;
    j.o.progress_arg = &calls;
    run(*state, &j);
    assert_int_equal(j.rc, -ECANCELED);
    assert_true(atomic_load(&calls) >= 1);
    assert_string_equal(j.err, "interrupted");
}

static void test_unreachable(void **state)
{
    /* a port that was just listening and is now closed */
    loop_t *l = loop_new();
    void *z = zmq_ctx_new();
    char err[256], addr[64];
    http_t *h = http_new(l, z, "127.0.0.1:0", "", 16, handler, NULL, err, sizeof err);
    assert_non_null(h);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", http_port(h));
    http_destroy(&h);
    zmq_ctx_term(z);
    loop_destroy(&l);

    client_opts_t o = {.addr = addr};
    long st = -1;
    json_t *out = NULL;
    int rc = client_call(&o, "GET", "/v1/members", NULL, 0, &st, &out, err, sizeof err);
    assert_int_equal(rc, -ECONNREFUSED);
    assert_null(out);
    assert_int_equal(st, 0);
    char want[128];
    snprintf(want, sizeof want, "cannot reach the coordinator at http://%s: connection refused",
             addr);
    assert_string_equal(err, want);
}

static void test_base_url(void **state)
{
    char b[128];
    client_base_url(NULL, b, sizeof b);
    assert_string_equal(b, "http://127.0.0.1:7951");
    client_base_url("h:1", b, sizeof b);
    assert_string_equal(b, "http://h:1");
    client_base_url("https://h:1/api/", b, sizeof b);
    assert_string_equal(b, "https://h:1/api");
    client_base_url("[::1]:7951", b, sizeof b);
    assert_string_equal(b, "http://[::1]:7951");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_answer), cmocka_unit_test(test_api_error_and_empty),
        cmocka_unit_test(test_not_json),    cmocka_unit_test(test_abort_by_progress),
        cmocka_unit_test(test_unreachable), cmocka_unit_test(test_base_url),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
