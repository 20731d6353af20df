/* test_http.c - cmocka tests of the coordinator's HTTP server
 * (shared/http.c): the test's main thread runs the event loop (where
 * the handler runs) while a client thread makes real HTTP requests with
 * libcurl or a raw socket. Only statuses, bodies, headers and counts are
 * asserted; socket receive timeouts only keep a broken server from hanging
 * the test. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <zmq.h>

#include "err.h"
#include "http.h"
#include "loop.h"

#define TOKEN "s3cret-token"
#define MAX_BODY 1024

/* Server-side state: touched only on the loop (main) thread. */
struct server {
    loop_t *loop;
    void *zctx;
    http_t *http;
    int calls;
    uint64_t ticket;    /* a deferred request waiting for a reply */
    int reply_deferred; /* answer the deferred ticket from a timer */
    uint64_t reply_after_ms;
    pthread_t writer; /* the /stream body's writer */
};

static int64_t answer_deferred(loop_t *l, void *arg)
{
    struct server *s = arg;
    http_resp_t r = {0};
    http_json(&r, 202, json_pack("{s:s}", "late", "yes"));
    assert_int_equal(http_reply(s->http, s->ticket, &r), 0);
    assert_int_equal(http_reply(s->http, s->ticket, &r), ERR_NOTFOUND);
    s->ticket = 0;
    return LOOP_TIMER_STOP;
}

#define STREAM_PARTS 30

/* Writes STREAM_PARTS lines of 100 bytes into fd, pausing between them,
 * then closes it: the end of the streamed body. */
static void *stream_writer(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char line[101];
    for (int i = 0; i < STREAM_PARTS; i++) {
        memset(line, 'a' + i % 26, 99);
        line[99] = '\n';
        if (write(fd, line, 100) != 100)
            break;
        usleep(1000);
    }
    close(fd);
    return NULL;
}

/* Echoes what it saw, with the running count of handler calls. */
static void handler(void *arg, const http_req_t *req, http_resp_t *resp)
{
    struct server *s = arg;
    s->calls++;
    if (!strcmp(req->path, "/metrics")) {
        http_text(resp, 200, "text/plain; version=0.0.4", "petri_up 1\n", 11);
        return;
    }
    if (!strcmp(req->path, "/defer")) {
        s->ticket = http_defer(s->http, 60000);
        assert_true(s->ticket > 0);
        if (s->reply_deferred)
            loop_timer_add(s->loop, s->reply_after_ms, answer_deferred, s);
        return;
    }
    if (!strcmp(req->path, "/page")) {
        http_text(resp, 200, "text/html; charset=utf-8", "<p>hi</p>", 9);
        resp->csp = "default-src 'none'; style-src 'self'";
        return;
    }
    if (!strcmp(req->path, "/stream")) {
        /* a body written piecemeal by another thread, streamed as it comes */
        uint64_t t = http_defer(s->http, 60000);
        int p[2];
        assert_int_equal(pipe(p), 0);
        assert_int_equal(pthread_create(&s->writer, NULL, stream_writer, (void *)(intptr_t)p[1]),
                         0);
        assert_int_equal(http_reply_stream(s->http, t, 200, "text/plain", p[0]), 0);
        int q[2];
        assert_int_equal(pipe(q), 0);
        assert_int_equal(http_reply_stream(s->http, t, 200, NULL, q[0]), ERR_NOTFOUND);
        assert_int_equal(fcntl(q[0], F_GETFD), -1); /* the read end was closed */
        close(q[1]);
        return;
    }
    if (!strcmp(req->path, "/defer-short")) {
        /* never answered: the connection's thread gives up with 503 */
        s->ticket = http_defer(s->http, 50);
        return;
    }
    if (!strcmp(req->path, "/missing")) {
        http_error(resp, 404, "no population named %s", "x");
        return;
    }
    http_json(resp, 200,
              json_pack("{s:s, s:s, s:s, s:I, s:b, s:i, s:s%}", "method", req->method, "path",
                        req->path, "query", req->query, "body_len", (json_int_t)req->body_len,
                        "authorized", req->authorized, "calls", s->calls, "body",
                        (const char *)req->body, req->body_len));
}

/* opts NULL: http_new with its defaults. */
static void server_start_opts(struct server *s, const char *token, const http_opts_t *opts)
{
    memset(s, 0, sizeof *s);
    s->loop = loop_new();
    s->zctx = zmq_ctx_new();
    assert_non_null(s->loop);
    char err[256] = "";
    s->http =
        opts ? http_new_opts(s->loop, s->zctx, "127.0.0.1:0", opts, handler, s, err, sizeof err)
             : http_new(s->loop, s->zctx, "127.0.0.1:0", token, MAX_BODY, handler, s, err,
                        sizeof err);
    if (!s->http)
        fail_msg("http_new: %s", err);
    assert_true(http_port(s->http) > 0);
}

static void server_start(struct server *s, const char *token)
{
    server_start_opts(s, token, NULL);
}

static void server_stop(struct server *s)
{
    http_destroy(&s->http);
    assert_null(s->http);
    http_destroy(&s->http); /* NULL is fine */
    zmq_ctx_term(s->zctx);
    loop_destroy(&s->loop);
}

/* ---- client side ---- */

struct result {
    long status;
    char body[4096];
    size_t len;
    char ctype[128];
    char headers[2048]; /* the response's header lines, as received */
    size_t hlen;
    int curl_rc;
    int closed; /* raw requests: the server closed the connection (EOF or reset) */
};

struct client {
    int port;
    atomic_int done;
    void (*script)(struct client *c);
    struct result r[8];
    struct server *srv; /* read-only from the client thread: the port */
    int n_answered;     /* counts kept by the scripts */
    int n_closed;
    size_t trickled;
};

static size_t on_data(char *p, size_t sz, size_t n, void *arg)
{
    struct result *r = arg;
    size_t len = sz * n;
    size_t room = sizeof r->body - 1 - r->len;
    size_t k = len < room ? len : room;
    memcpy(r->body + r->len, p, k);
    r->len += k;
    r->body[r->len] = '\0';
    return len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
    struct result *r = arg;
    size_t len = sz * n;
    size_t room = sizeof r->headers - 1 - r->hlen;
    size_t k = len < room ? len : room;
    memcpy(r->headers + r->hlen, p, k);
    r->hlen += k;
    r->headers[r->hlen] = '\0';
    return len;
}

/* The value of header name in r (case-insensitive name), into out. */
static const char *header_of(const struct result *r, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = r->headers; p && *p;
         p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL) {
        if (!strncasecmp(p, name, nl) && p[nl] == ':') {
            const char *v = p + nl + 1, *e = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            size_t l = e ? (size_t)(e - v) : strlen(v);
            if (l >= cap)
                l = cap - 1;
            memcpy(out, v, l);
            out[l] = '\0';
            return out;
        }
    }
    return NULL;
}

static void request(struct client *c, struct result *r, const char *method, const char *path,
                    const char *auth, const char *body, size_t len)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", c->port, path);
    memset(r, 0, sizeof *r);
    CURL *e = curl_easy_init();
    struct curl_slist *hdr = NULL;
    if (auth)
        hdr = curl_slist_append(hdr, auth);
    hdr = curl_slist_append(hdr, "Expect:");
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 60L); /* a hang guard, not a measurement */
    if (body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    r->curl_rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
    char *ct = NULL;
    curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ct);
    if (ct)
        snprintf(r->ctype, sizeof r->ctype, "%s", ct);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(e);
}

/* A TCP connection to the server from source address src ("127.0.0.1",
 * "127.0.0.2", ...: all of 127/8 is local), with a receive timeout that
 * only keeps a broken server from hanging the test. -errno on failure. */
static int raw_connect(int port, const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -errno;
    struct timeval tv = {.tv_sec = 30};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in me = {.sin_family = AF_INET};
    inet_pton(AF_INET, src, &me.sin_addr);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&me, sizeof me) != 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

/* Reads an answer on fd into r until the server closes the connection or
 * a whole JSON answer (head and a '}') has arrived; sets r->closed when
 * the server closed it (EOF or reset) rather than the read timing out. */
static void raw_read(int fd, struct result *r)
{
    for (;;) {
        ssize_t n = recv(fd, r->body + r->len, sizeof r->body - 1 - r->len, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            r->closed = 1;
            break;
        }
        if (n < 0)
            break; /* timed out: neither an answer nor a close */
        r->len += (size_t)n;
        r->body[r->len] = '\0';
        if (strstr(r->body, "\r\n\r\n") && strstr(r->body, "}"))
            break;
    }
    if (!strncmp(r->body, "HTTP/1.1 ", 9))
        r->status = atol(r->body + 9);
}

/* Sends raw bytes, then reads the reply's first bytes (until close or a
 * full status line and headers). */
static void raw_request(struct client *c, struct result *r, const char *head, size_t extra_chunks)
{
    memset(r, 0, sizeof *r);
    int fd = raw_connect(c->port, "127.0.0.1");
    if (fd < 0) {
        r->curl_rc = fd;
        return;
    }
    send(fd, head, strlen(head), MSG_NOSIGNAL);
    char chunk[700];
    int hl = snprintf(chunk, sizeof chunk, "%x\r\n", 600);
    memset(chunk + hl, 'a', 600);
    memcpy(chunk + hl + 600, "\r\n", 2);
    for (size_t i = 0; i < extra_chunks; i++)
        if (send(fd, chunk, (size_t)hl + 602, MSG_NOSIGNAL) < 0)
            break;
    raw_read(fd, r);
    close(fd);
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    c->script(c);
    atomic_store(&c->done, 1);
    return NULL;
}

/* Runs script on a client thread while this thread runs the loop. */
static void run(struct server *s, struct client *c, void (*script)(struct client *))
{
    c->port = http_port(s->http);
    c->script = script;
    atomic_store(&c->done, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, client_main, c), 0);
    while (!atomic_load(&c->done))
        loop_run_once(s->loop, 20);
    pthread_join(th, NULL);
}

static json_t *parse(const struct result *r)
{
    json_error_t je;
    json_t *j = json_loadb(r->body, r->len, 0, &je);
    if (!j)
        fail_msg("not JSON (%s): %s", je.text, r->body);
    return j;
}

static void assert_error_body(const struct result *r, const char *needle)
{
    json_t *j = parse(r);
    const char *e = json_string_value(json_object_get(j, "error"));
    assert_non_null(e);
    if (needle && !strstr(e, needle))
        fail_msg("error '%s' lacks '%s'", e, needle);
    json_decref(j);
}

static long calls_of(const struct result *r)
{
    json_t *j = parse(r);
    long n = (long)json_integer_value(json_object_get(j, "calls"));
    json_decref(j);
    return n;
}

/* ---- tests ---- */

static void script_get(struct client *c)
{
    request(c, &c->r[0], "GET", "/v1/things/a%20b?depth=3&name=x%20y&flag", NULL, NULL, 0);
    request(c, &c->r[1], "GET", "/v1/x", "Authorization: Bearer " TOKEN, NULL, 0);
    request(c, &c->r[2], "GET", "/metrics", NULL, NULL, 0);
    request(c, &c->r[3], "GET", "/missing", NULL, NULL, 0);
}

static void test_get_reaches_handler(void **state)
{
    struct server s;
    struct client c = {0};
    server_start(&s, TOKEN);
    run(&s, &c, script_get);

    assert_int_equal(c.r[0].status, 200);
    assert_string_equal(c.r[0].ctype, "application/json");
    json_t *j = parse(&c.r[0]);
    assert_string_equal(json_string_value(json_object_get(j, "method")), "GET");
    assert_string_equal(json_string_value(json_object_get(j, "path")), "/v1/things/a b");
    const char *q = json_string_value(json_object_get(j, "query"));
    char v[64];
    assert_int_equal(http_query_get(q, "depth", v, sizeof v), 1);
    assert_string_equal(v, "3");
    assert_int_equal(http_query_get(q, "name", v, sizeof v), 3);
    assert_string_equal(v, "x y");
    assert_int_equal(http_query_get(q, "flag", v, sizeof v), 0);
    assert_false(json_is_true(json_object_get(j, "authorized")));
    json_decref(j);

    j = parse(&c.r[1]);
    assert_true(json_is_true(json_object_get(j, "authorized")));
    json_decref(j);

    assert_int_equal(c.r[2].status, 200);
    assert_string_equal(c.r[2].ctype, "text/plain; version=0.0.4");
    assert_string_equal(c.r[2].body, "petri_up 1\n");

    assert_int_equal(c.r[3].status, 404);
    assert_error_body(&c.r[3], "no population named x");
    assert_int_equal(s.calls, 4);
    server_stop(&s);
}

static void script_auth(struct client *c)
{
    request(c, &c->r[0], "POST", "/v1/populations", NULL, "{}", 2);
    request(c, &c->r[1], "POST", "/v1/populations", "Authorization: Bearer wrong", "{}", 2);
    request(c, &c->r[2], "DELETE", "/v1/populations/x", "Authorization: Bearer " TOKEN "x", NULL,
            0);
    request(c, &c->r[3], "PUT", "/v1/x", "Authorization: Basic " TOKEN, "{}", 2);
    request(c, &c->r[4], "GET", "/v1/count", NULL, NULL, 0);
    request(c, &c->r[5], "POST", "/v1/populations", "Authorization: bearer " TOKEN, "{\"a\":1}", 7);
}

static void test_mutating_needs_token(void **state)
{
    struct server s;
    struct client c = {0};
    server_start(&s, TOKEN);
    run(&s, &c, script_auth);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(c.r[i].status, 401);
        assert_error_body(&c.r[i], "token");
    }
    assert_int_equal(c.r[4].status, 200);
    assert_int_equal(calls_of(&c.r[4]), 1); /* none of the refused reached it */
    assert_int_equal(c.r[5].status, 200);
    json_t *j = parse(&c.r[5]);
    assert_true(json_is_true(json_object_get(j, "authorized")));
    assert_string_equal(json_string_value(json_object_get(j, "body")), "{\"a\":1}");
    assert_int_equal(json_integer_value(json_object_get(j, "body_len")), 7);
    json_decref(j);
    assert_int_equal(s.calls, 2);
    server_stop(&s);
}

static void script_no_token(struct client *c)
{
    request(c, &c->r[0], "POST", "/v1/populations", "Authorization: Bearer ", "{}", 2);
    request(c, &c->r[1], "POST", "/v1/populations", "Authorization: Bearer x", "{}", 2);
    request(c, &c->r[2], "GET", "/v1/x", "Authorization: Bearer ", NULL, 0);
}

static void test_no_token_configured(void **state)
{
    struct server s;
    struct client c = {0};
    server_start(&s, "");
    run(&s, &c, script_no_token);
    assert_int_equal(c.r[0].status, 401);
    assert_int_equal(c.r[1].status, 401);
    assert_error_body(&c.r[1], "no API token");
    assert_int_equal(c.r[2].status, 200);
    assert_int_equal(s.calls, 1);
    server_stop(&s);
}

static char big[MAX_BODY * 2];

static void script_sizes(struct client *c)
{
    memset(big, 'x', sizeof big);
    request(c, &c->r[0], "POST", "/v1/p", "Authorization: Bearer " TOKEN, big, MAX_BODY + 1);
    request(c, &c->r[1], "POST", "/v1/p", "Authorization: Bearer " TOKEN, big, MAX_BODY);
    /* 100 MB announced, none sent: refused from the header alone */
    raw_request(c, &c->r[2],
                "POST /v1/p HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
                "\r\nContent-Length: 104857600\r\n\r\n",
                0);
    raw_request(c, &c->r[3],
                "POST /v1/p HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
                "\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
                0);
    /* chunked, past the cap: cut off (a 413 if MHD lets it through, else
     * the connection closes) */
    raw_request(c, &c->r[4],
                "POST /v1/p HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
                "\r\nTransfer-Encoding: chunked\r\n\r\n",
                4);
    request(c, &c->r[5], "GET", "/v1/count", NULL, NULL, 0);
}

static void test_body_caps(void **state)
{
    struct server s;
    struct client c = {0};
    server_start(&s, TOKEN);
    run(&s, &c, script_sizes);
    assert_int_equal(c.r[0].status, 413);
    assert_error_body(&c.r[0], "too large");
    assert_int_equal(c.r[1].status, 200);
    json_t *j = parse(&c.r[1]);
    assert_int_equal(json_integer_value(json_object_get(j, "body_len")), MAX_BODY);
    json_decref(j);
    assert_int_equal(c.r[2].status, 413);
    assert_int_equal(c.r[3].status, 413);
    /* MHD takes no answer mid-upload: the server closes the connection
     * without one (not a timeout, not an answer from the handler) */
    assert_int_equal(c.r[4].status, 0);
    assert_int_equal(c.r[4].len, 0);
    assert_true(c.r[4].closed);
    assert_int_equal(c.r[5].status, 200);
    assert_int_equal(calls_of(&c.r[5]), 2); /* only the in-cap POST and this GET */
    server_stop(&s);
}

static void script_methods(struct client *c)
{
    request(c, &c->r[0], "BREW", "/v1/x", "Authorization: Bearer " TOKEN, NULL, 0);
    request(c, &c->r[1], "OPTIONS", "/v1/x", NULL, NULL, 0);
    request(c, &c->r[2], "PATCH", "/v1/x", "Authorization: Bearer " TOKEN, "{}", 2);
}

static void test_unknown_method(void **state)
{
    struct server s;
    struct client c = {0};
    server_start(&s, TOKEN);
    run(&s, &c, script_methods);
    assert_int_equal(c.r[0].status, 405);
    assert_error_body(&c.r[0], "method");
    assert_int_equal(c.r[1].status, 405);
    assert_int_equal(c.r[2].status, 200);
    assert_int_equal(s.calls, 1);
    server_stop(&s);
}

static void script_defer(struct client *c)
{
    request(c, &c->r[0], "GET", "/defer", NULL, NULL, 0);
    request(c, &c->r[1], "GET", "/defer-short", NULL, NULL, 0);
}

static void test_deferred_reply_and_timeout(void **state)
{
    struct server s;
    struct client c = {0};
    server_start(&s, TOKEN);
    s.reply_deferred = 1;
    run(&s, &c, script_defer);
    assert_int_equal(c.r[0].status, 202);
    json_t *j = parse(&c.r[0]);
    assert_string_equal(json_string_value(json_object_get(j, "late")), "yes");
    json_decref(j);
    assert_int_equal(c.r[1].status, 503);
    assert_error_body(&c.r[1], NULL);
    assert_int_equal(http_defer(s.http, 10), 0); /* outside a handler */
    server_stop(&s);                             /* with a deferred ticket pending */
}

static void script_stream(struct client *c)
{
    request(c, &c->r[0], "GET", "/stream", NULL, NULL, 0);
}

static void test_streamed_reply(void **state)
{
    struct server s;
    struct client c = {0};
    server_start(&s, TOKEN);
    run(&s, &c, script_stream);
    pthread_join(s.writer, NULL);
    assert_int_equal(c.r[0].status, 200);
    assert_int_equal(c.r[0].len, STREAM_PARTS * 100);
    for (int i = 0; i < STREAM_PARTS; i++)
        assert_int_equal(c.r[0].body[i * 100], 'a' + i % 26);
    assert_non_null(strstr(c.r[0].ctype, "text/plain"));
    server_stop(&s);
}

static void script_one_defer(struct client *c)
{
    request(c, &c->r[0], "GET", "/defer", NULL, NULL, 0);
}

/* Destroying the server while a client waits for a deferred reply returns
 * and frees the client: it gets a 503, or its connection is closed when
 * MHD shuts the sockets down before the 503 is written. */
static void test_destroy_with_waiting_client(void **state)
{
    struct server s;
    struct client c = {0};
    server_start(&s, TOKEN);
    c.port = http_port(s.http);
    c.script = script_one_defer;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, client_main, &c), 0);
    while (s.ticket == 0)
        loop_run_once(s.loop, 20);
    http_destroy(&s.http);
    pthread_join(th, NULL);
    assert_true(c.r[0].status == 503 || (c.r[0].status == 0 && c.r[0].curl_rc != CURLE_OK));
    zmq_ctx_term(s.zctx);
    loop_destroy(&s.loop);
}

/* ---- connection limits and timeouts (http.h invariants 4 and 5) ---- */

#define FLOOD 70 /* more than HTTP_MAX_CONNECTIONS */
#define PER_IP 4

static const char half_head[] = "GET /v1/x HTTP/1.1\r\nHost: x\r\n"; /* no blank line */

/* One client (127.0.0.2) opens FLOOD connections and sends half a request
 * head on each; another client (127.0.0.1) asks while they are all open;
 * then the first client's own extra request is refused, and completing
 * the heads shows which of the FLOOD the server was still holding. */
static void script_flood(struct client *c)
{
    static int fds[FLOOD];
    for (int i = 0; i < FLOOD; i++) {
        fds[i] = raw_connect(c->port, "127.0.0.2");
        if (fds[i] < 0)
            fail_msg("connect from 127.0.0.2: %s", strerror(-fds[i]));
        send(fds[i], half_head, sizeof half_head - 1, MSG_NOSIGNAL);
    }
    request(c, &c->r[0], "GET", "/v1/count", NULL, NULL, 0);
    /* the flooding address is at its limit: a whole request from it is
     * closed unanswered */
    int fd = raw_connect(c->port, "127.0.0.2");
    memset(&c->r[1], 0, sizeof c->r[1]);
    if (fd >= 0) {
        const char *full = "GET /v1/x HTTP/1.1\r\nHost: x\r\n\r\n";
        send(fd, full, strlen(full), MSG_NOSIGNAL);
        raw_read(fd, &c->r[1]);
        close(fd);
    } else {
        c->r[1].closed = 1; /* refused outright counts as closed */
    }
    /* the half-open ones the server held are still open: finishing their
     * heads gets them answered; the rest were closed at accept */
    for (int i = 0; i < FLOOD; i++) {
        struct result r = {0};
        send(fds[i], "\r\n", 2, MSG_NOSIGNAL);
        raw_read(fds[i], &r);
        if (r.status == 200)
            c->n_answered++;
        else if (r.closed && r.len == 0)
            c->n_closed++;
        close(fds[i]);
    }
}

static void test_half_open_flood_leaves_room(void **state)
{
    struct server s;
    struct client c = {0};
    /* a header deadline far away: only the per-address limit is at work */
    http_opts_t o = {.token = TOKEN,
                     .max_body = MAX_BODY,
                     .header_timeout_s = 600,
                     .idle_timeout_s = 600,
                     .max_per_ip = PER_IP};
    server_start_opts(&s, TOKEN, &o);
    run(&s, &c, script_flood);
    assert_int_equal(c.r[0].status, 200);
    assert_int_equal(calls_of(&c.r[0]), 1); /* answered while the flood was open */
    assert_int_equal(c.r[1].status, 0);
    assert_true(c.r[1].closed);
    assert_int_equal(c.n_answered, PER_IP);
    assert_int_equal(c.n_closed, FLOOD - PER_IP);
    assert_int_equal(s.calls, 1 + PER_IP);
    assert_int_equal(http_header_timeouts(s.http), 0);
    server_stop(&s);
}

#define TRICKLERS 3

/* TRICKLERS connections send a request head one byte every 100 ms (never
 * idle for the idle timeout, never complete) and one connection sends
 * nothing; all must be closed by the server. */
static void script_trickle(struct client *c)
{
    static const char head[] = "GET /v1/x HTTP/1.1\r\nHost: x\r\nX-Pad: "
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    int fds[TRICKLERS + 1];
    bool open[TRICKLERS + 1];
    for (int i = 0; i <= TRICKLERS; i++) {
        fds[i] = raw_connect(c->port, "127.0.0.1");
        assert_true(fds[i] >= 0);
        open[i] = true;
    }
    size_t pos = 0;
    int left = TRICKLERS + 1;
    /* at most 300 rounds: a hang guard (30 s), far beyond the 1 s deadline */
    for (int round = 0; round < 300 && left > 0; round++) {
        for (int i = 0; i <= TRICKLERS; i++) {
            if (!open[i])
                continue;
            if (i < TRICKLERS && pos < sizeof head - 1)
                send(fds[i], head + pos, 1, MSG_NOSIGNAL);
            char b[64];
            ssize_t n = recv(fds[i], b, sizeof b, MSG_DONTWAIT);
            if (n > 0)
                fail_msg("connection %d got an answer to an incomplete head", i);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                open[i] = false;
                left--;
                c->n_closed++;
            }
        }
        if (pos < sizeof head - 1)
            pos++;
        c->trickled = pos;
        poll(NULL, 0, 100);
    }
    for (int i = 0; i <= TRICKLERS; i++)
        close(fds[i]);
    request(c, &c->r[0], "GET", "/v1/count", NULL, NULL, 0);
}

static void test_header_deadline_closes_tricklers(void **state)
{
    struct server s;
    struct client c = {0};
    /* idle timeout far away: only the header deadline can close them */
    http_opts_t o = {.token = TOKEN,
                     .max_body = MAX_BODY,
                     .header_timeout_s = 1,
                     .idle_timeout_s = 600,
                     .max_per_ip = 0};
    server_start_opts(&s, TOKEN, &o);
    run(&s, &c, script_trickle);
    assert_int_equal(c.n_closed, TRICKLERS + 1);
    assert_int_equal(http_header_timeouts(s.http), TRICKLERS + 1);
    assert_int_equal(c.r[0].status, 200); /* and the server still answers */
    assert_int_equal(calls_of(&c.r[0]), 1);
    server_stop(&s);
}

static void script_keepalive(struct client *c)
{
    /* two requests on one connection, then silence: closed by the deadline
     * for the next head */
    int fd = raw_connect(c->port, "127.0.0.1");
    assert_true(fd >= 0);
    const char *full = "GET /v1/x HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int i = 0; i < 2; i++) {
        memset(&c->r[i], 0, sizeof c->r[i]);
        send(fd, full, strlen(full), MSG_NOSIGNAL);
        raw_read(fd, &c->r[i]);
    }
    memset(&c->r[2], 0, sizeof c->r[2]);
    raw_read(fd, &c->r[2]);
    close(fd);
}

static void test_keepalive_then_deadline(void **state)
{
    struct server s;
    struct client c = {0};
    http_opts_t o = {.token = TOKEN,
                     .max_body = MAX_BODY,
                     .header_timeout_s = 1,
                     .idle_timeout_s = 600,
                     .max_per_ip = 0};
    server_start_opts(&s, TOKEN, &o);
    run(&s, &c, script_keepalive);
    assert_int_equal(c.r[0].status, 200);
    assert_int_equal(c.r[1].status, 200);
    const char *b = strstr(c.r[1].body, "\r\n\r\n");
    assert_non_null(b);
    json_t *j = json_loads(b + 4, 0, NULL);
    assert_non_null(j);
    /* the same connection, kept alive */
    assert_int_equal(json_integer_value(json_object_get(j, "calls")), 2);
    json_decref(j);
    assert_true(c.r[2].closed);
    assert_int_equal(c.r[2].len, 0);
    assert_int_equal(http_header_timeouts(s.http), 1);
    server_stop(&s);
}

/* The time the loop takes to answer is not idle time: an answer given
 * after twice the idle timeout still reaches the client (MHD restarts the
 * idle clock when the answer is queued). */
static void test_slow_answer_outlives_idle_timeout(void **state)
{
    struct server s;
    struct client c = {0};
    http_opts_t o = {.token = TOKEN,
                     .max_body = MAX_BODY,
                     .header_timeout_s = 1,
                     .idle_timeout_s = 1,
                     .max_per_ip = 0};
    server_start_opts(&s, TOKEN, &o);
    s.reply_deferred = 1;
    s.reply_after_ms = 2500;
    run(&s, &c, script_one_defer);
    assert_int_equal(c.r[0].status, 202);
    json_t *j = parse(&c.r[0]);
    assert_string_equal(json_string_value(json_object_get(j, "late")), "yes");
    json_decref(j);
    server_stop(&s);
}

static void test_bad_opts(void **state)
{
    loop_t *l = loop_new();
    void *z = zmq_ctx_new();
    char err[256] = "";
    http_opts_t o = {.max_body = 10, .header_timeout_s = 0, .idle_timeout_s = 5};
    assert_null(http_new_opts(l, z, "127.0.0.1:0", &o, handler, NULL, err, sizeof err));
    assert_non_null(strstr(err, "timeout"));
    o.header_timeout_s = 5;
    o.idle_timeout_s = 0;
    err[0] = '\0';
    assert_null(http_new_opts(l, z, "127.0.0.1:0", &o, handler, NULL, err, sizeof err));
    assert_non_null(strstr(err, "timeout"));
    zmq_ctx_term(z);
    loop_destroy(&l);
}

/* ---- security headers (http.h invariant 6) ---- */

static void script_headers(struct client *c)
{
    request(c, &c->r[0], "GET", "/v1/x", NULL, NULL, 0);
    request(c, &c->r[1], "GET", "/page", NULL, NULL, 0);
    request(c, &c->r[2], "BREW", "/v1/x", NULL, NULL, 0); /* answered by the connection thread */
    request(c, &c->r[3], "GET", "/missing", NULL, NULL, 0);
}

static void assert_header(const struct result *r, const char *name, const char *want)
{
    char v[512];
    if (!header_of(r, name, v, sizeof v))
        fail_msg("no %s header in:\n%s", name, r->headers);
    if (strcmp(v, want))
        fail_msg("%s: '%s', expected '%s'", name, v, want);
}

static void test_security_headers(void **state)
{
    struct server s;
    struct client c = {0};
    server_start(&s, TOKEN);
    run(&s, &c, script_headers);
    assert_int_equal(c.r[0].status, 200);
    assert_int_equal(c.r[1].status, 200);
    assert_int_equal(c.r[2].status, 405);
    assert_int_equal(c.r[3].status, 404);
    for (int i = 0; i < 4; i++) {
        assert_header(&c.r[i], "X-Content-Type-Options", "nosniff");
        assert_header(&c.r[i], "X-Frame-Options", "DENY");
        assert_header(&c.r[i], "Referrer-Policy", "no-referrer");
        assert_header(&c.r[i], "Cross-Origin-Resource-Policy", "same-origin");
        assert_header(&c.r[i], "Cache-Control", "no-store");
        assert_header(&c.r[i], "Content-Security-Policy",
                      i == 1 ? "default-src 'none'; style-src 'self'" : HTTP_CSP_DEFAULT);
    }
    assert_string_equal(c.r[1].ctype, "text/html; charset=utf-8");
    server_stop(&s);
}

static void test_bad_bind(void **state)
{
    loop_t *l = loop_new();
    void *z = zmq_ctx_new();
    char err[256] = "";
    assert_null(http_new(l, z, "nonsense", "", 10, handler, NULL, err, sizeof err));
    assert_non_null(strstr(err, "nonsense"));
    assert_null(http_new(l, z, "127.0.0.1:99999", "", 10, handler, NULL, err, sizeof err));
    struct server s;
    server_start(&s, "");
    char bind[64];
    snprintf(bind, sizeof bind, "127.0.0.1:%d", http_port(s.http));
    err[0] = '\0';
    assert_null(http_new(l, z, bind, "", 10, handler, NULL, err, sizeof err));
    assert_non_null(strstr(err, "in use"));
    server_stop(&s);
    zmq_ctx_term(z);
    loop_destroy(&l);
}

static void test_query_get(void **state)
{
    char v[8];
    assert_int_equal(http_query_get("", "a", v, sizeof v), ERR_NOTFOUND);
    assert_int_equal(http_query_get(NULL, "a", v, sizeof v), ERR_NOTFOUND);
    assert_int_equal(http_query_get("a=1&b=2", "b", v, sizeof v), 1);
    assert_string_equal(v, "2");
    assert_int_equal(http_query_get("ab=1&a=x+y", "a", v, sizeof v), 3);
    assert_string_equal(v, "x y");
    assert_int_equal(http_query_get("a=%4", "a", v, sizeof v), ERR_INVAL);
    assert_int_equal(http_query_get("a=%00", "a", v, sizeof v), ERR_INVAL);
    assert_int_equal(http_query_get("a=12345678", "a", v, sizeof v), ERR_TOOBIG);
    assert_int_equal(http_query_get("%61=%7A", "a", v, sizeof v), 1);
    assert_string_equal(v, "z");
    assert_int_equal(http_query_get("&&a", "a", v, sizeof v), 0);
}

static void test_helpers(void **state)
{
    http_resp_t r = {0};
    http_error(&r, 400, "field %s is bad", "\"size\"");
    assert_int_equal(r.status, 400);
    json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "field \"size\" is bad");
    json_decref(j);
    http_json(&r, 201, json_pack("[i]", 1));
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body, "[1]");
    assert_null(r.content_type);
    http_json(&r, 200, NULL);
    assert_string_equal(r.body, "null");
    /* a page's policy does not survive an error written in its place */
    r.csp = "default-src 'self'";
    http_error(&r, 500, "boom");
    assert_null(r.csp);
    free(r.body);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_reaches_handler),
        cmocka_unit_test(test_mutating_needs_token),
        cmocka_unit_test(test_no_token_configured),
        cmocka_unit_test(test_body_caps),
        cmocka_unit_test(test_unknown_method),
        cmocka_unit_test(test_deferred_reply_and_timeout),
        cmocka_unit_test(test_streamed_reply),
        cmocka_unit_test(test_destroy_with_waiting_client),
        cmocka_unit_test(test_half_open_flood_leaves_room),
        cmocka_unit_test(test_header_deadline_closes_tricklers),
        cmocka_unit_test(test_keepalive_then_deadline),
        cmocka_unit_test(test_slow_answer_outlives_idle_timeout),
        cmocka_unit_test(test_bad_opts),
        cmocka_unit_test(test_security_headers),
        cmocka_unit_test(test_bad_bind),
        cmocka_unit_test(test_query_get),
        cmocka_unit_test(test_helpers),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
