/* http.c - the HTTP server (http.h), loop-thread side: runs
 * the handler for each request arriving over inproc ZeroMQ, deferred
 * replies, start and stop; plus the response and query helpers. */
#include "http.h"

#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>
#include <zmq.h>

#include "err.h"
#include "http_int.h"
#include "log.h"

/* ---- response helpers ---- */

static void resp_set(http_resp_t *resp, int status, char *body, size_t len, const char *ctype)
{
    free(resp->body);
    resp->csp = NULL; /* a page's policy does not carry over to an error in its place */
    resp->status = status;
    resp->body = body;
    resp->body_len = body ? len : 0;
    resp->content_type = ctype;
}

void http_json(http_resp_t *resp, int status, json_t *obj)
{
    char *s = obj ? json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("null");
    json_decref(obj);
    if (!s) {
        resp_set(resp, 500, strdup("{\"error\":\"out of memory\"}"), 25, NULL);
        if (resp->body)
            resp->body_len = strlen(resp->body);
        return;
    }
    resp_set(resp, status, s, strlen(s), NULL);
}

void http_error(http_resp_t *resp, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    http_json(resp, status, json_pack("{s:s}", "error", msg));
}

void http_text(http_resp_t *resp, int status, const char *content_type, const char *text,
               size_t len)
{
    char *b = malloc(len + 1);
    if (!b) {
        http_error(resp, 500, "out of memory");
        return;
    }
    memcpy(b, text, len);
    b[len] = '\0';
    resp_set(resp, status, b, len, content_type);
}

/* ---- query strings ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes [s, e) into out[cap]; returns length or an error. */
static int pct_decode(const char *s, const char *e, char *out, size_t cap)
{
    size_t n = 0;
    while (s < e) {
        int c = (unsigned char)*s++;
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (e - s < 2 || hexval(s[0]) < 0 || hexval(s[1]) < 0)
                return ERR_INVAL;
            c = hexval(s[0]) * 16 + hexval(s[1]);
            s += 2;
            if (c == 0)
                return ERR_INVAL;
        }
        if (n + 1 >= cap)
            return ERR_TOOBIG;
        out[n++] = (char)c;
    }
    if (cap == 0)
        return ERR_TOOBIG;
    out[n] = '\0';
    return (int)n;
}

int http_query_get(const char *query, const char *key, char *out, size_t cap)
{
    assert(key && out);
    if (!query)
        return ERR_NOTFOUND;
    size_t klen = strlen(key);
    const char *p = query;
    while (*p) {
        const char *amp = strchr(p, '&');
        const char *end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *kend = eq ? eq : end;
        char kbuf[128];
        int kl = pct_decode(p, kend, kbuf, sizeof kbuf);
        if (kl >= 0 && (size_t)kl == klen && memcmp(kbuf, key, klen) == 0)
            return eq ? pct_decode(eq + 1, end, out, cap) : pct_decode(end, end, out, cap);
        p = amp ? amp + 1 : end;
    }
    return ERR_NOTFOUND;
}
/* ---- loop-thread side ---- */

static int send_reply(void *router, const uint8_t *id, size_t idlen, http_resp_t *resp)
{
    uint8_t st[4];
    unsigned status = resp->status > 0 ? (unsigned)resp->status : 500;
    st[0] = (uint8_t)(status >> 24);
    st[1] = (uint8_t)(status >> 16);
    st[2] = (uint8_t)(status >> 8);
    st[3] = (uint8_t)status;
    const char *ct = resp->content_type ? resp->content_type : "";
    const char *csp = resp->csp ? resp->csp : "";
    assert(strlen(csp) < HTTP_CSP_MAX);
    zmq_msg_t body;
    if (resp->body && resp->body_len > 0)
        zmq_msg_init_data(&body, resp->body, resp->body_len, http_free_body, NULL);
    else {
        free(resp->body);
        zmq_msg_init(&body);
    }
    resp->body = NULL;
    resp->body_len = 0;
    int rc = 0;
    if (http_send_frame(router, id, idlen, 1) || http_send_frame(router, "R", 1, 1) ||
        http_send_frame(router, st, 4, 1) || http_send_frame(router, ct, strlen(ct), 1) ||
        http_send_frame(router, csp, strlen(csp), 1) ||
        zmq_msg_send(&body, router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&body);
        rc = -errno;
    }
    return rc;
}

static void reply_503(void *router, const uint8_t *id, size_t idlen)
{
    http_resp_t r = {0};
    http_error(&r, 503, "server is shutting down");
    send_reply(router, id, idlen, &r);
}

/* Receives one multipart message of at most max frames; returns the frame
 * count (0 when nothing is waiting), discarding any excess frames. */
static int recv_multi(void *s, zmq_msg_t *f, int max, int flags)
{
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, n == 0 ? flags : 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        if (n < max)
            f[n] = m;
        else
            zmq_msg_close(&m);
        n++;
    }
    return n;
}

static char *msg_strdup(zmq_msg_t *m)
{
    size_t n = zmq_msg_size(m);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, zmq_msg_data(m), n);
        s[n] = '\0';
    }
    return s;
}

static void handle_one(http_t *h, zmq_msg_t *f)
{
    char *method = msg_strdup(&f[1]), *path = msg_strdup(&f[2]), *query = msg_strdup(&f[3]);
    const uint8_t *id = zmq_msg_data(&f[0]);
    size_t idlen = zmq_msg_size(&f[0]);
    http_resp_t resp = {.status = 200};
    if (!method || !path || !query || idlen > ROUTING_ID_MAX) {
        http_error(&resp, 500, "out of memory");
        send_reply(h->router, id, idlen, &resp);
    } else {
        http_req_t req = {
            .method = method,
            .path = path,
            .query = query,
            .body = zmq_msg_size(&f[5]) ? zmq_msg_data(&f[5]) : (const uint8_t *)"",
            .body_len = zmq_msg_size(&f[5]),
            .authorized = zmq_msg_size(&f[4]) == 1 && *(char *)zmq_msg_data(&f[4]) == '1',
        };
        h->in_handler = true;
        h->cur_deferred = false;
        h->cur_id = id;
        h->cur_idlen = idlen;
        h->fn(h->arg, &req, &resp);
        h->in_handler = false;
        h->cur_id = NULL;
        if (h->cur_deferred) {
            free(resp.body);
        } else {
            if (!resp.body && resp.status >= 400)
                http_error(&resp, resp.status, "request failed");
            send_reply(h->router, id, idlen, &resp);
        }
    }
    free(method);
    free(path);
    free(query);
}

static void on_router(loop_t *l, short revents, void *arg)
{
    http_t *h = arg;
    for (int i = 0; i < DISPATCH_BATCH; i++) {
        zmq_msg_t f[6];
        int n = recv_multi(h->router, f, 6, ZMQ_DONTWAIT);
        if (n == 0)
            return;
        if (n == 6)
            handle_one(h, f);
        for (int k = 0; k < n && k < 6; k++)
            zmq_msg_close(&f[k]);
    }
}

uint64_t http_defer(http_t *h, int64_t timeout_ms)
{
    assert(h);
    if (!h->in_handler || h->cur_deferred)
        return 0;
    if (h->ndef == h->capdef) {
        size_t nc = h->capdef ? h->capdef * 2 : 8;
        struct deferred *nd = realloc(h->def, nc * sizeof *nd);
        if (!nd)
            return 0;
        h->def = nd;
        h->capdef = nc;
    }
    struct deferred *d = &h->def[h->ndef++];
    d->ticket = ++h->next_ticket;
    memcpy(d->id, h->cur_id, h->cur_idlen);
    d->idlen = h->cur_idlen;
    h->cur_deferred = true;
    uint8_t t[8];
    uint64_t v = timeout_ms > 0 ? (uint64_t)timeout_ms : 0;
    for (int i = 7; i >= 0; i--, v >>= 8)
        t[i] = (uint8_t)v;
    if (http_send_frame(h->router, d->id, d->idlen, 1) || http_send_frame(h->router, "D", 1, 1) ||
        zmq_send(h->router, t, 8, ZMQ_DONTWAIT) < 0)
        log_warn("http.defer", "err=%s", zmq_strerror(errno));
    return d->ticket;
}

int http_reply(http_t *h, uint64_t ticket, http_resp_t *resp)
{
    assert(h && resp);
    for (size_t i = 0; i < h->ndef; i++) {
        if (h->def[i].ticket != ticket)
            continue;
        struct deferred d = h->def[i];
        h->def[i] = h->def[--h->ndef];
        send_reply(h->router, d.id, d.idlen, resp);
        return 0;
    }
    free(resp->body);
    resp->body = NULL;
    return ERR_NOTFOUND;
}

/* ---- header deadlines (http.h invariant 4) ---- */

/* Shuts down the connections whose request head is overdue; MHD's thread
 * then sees the socket end and closes it. Runs at least once a second. */
static int64_t on_guard(loop_t *l, void *arg)
{
    (void)l;
    http_t *h = arg;
    uint64_t now = mono_ms(), next = now + 1000;
    pthread_mutex_lock(&h->guard_mu);
    for (struct guard *g = h->guards; g; g = g->next) {
        if (!g->deadline_ms || g->cut)
            continue;
        if (g->deadline_ms <= now) {
            /* logged and counted before the peer can see the close */
            h->header_timeouts++;
            log_info("http.timeout",
                     "peer=%s header_timeout_s=%u msg=\"request head not complete in time: "
                     "connection closed\"",
                     g->peer, h->header_timeout_s);
            shutdown(g->fd, SHUT_RDWR);
            g->cut = true;
        } else if (g->deadline_ms < next) {
            next = g->deadline_ms;
        }
    }
    pthread_mutex_unlock(&h->guard_mu);
    return (int64_t)(next - now);
}

uint64_t http_header_timeouts(const http_t *h)
{
    assert(h);
    return h->header_timeouts;
}

int http_reply_stream(http_t *h, uint64_t ticket, int status, const char *content_type, int fd)
{
    assert(h && fd >= 0);
    for (size_t i = 0; i < h->ndef; i++) {
        if (h->def[i].ticket != ticket)
            continue;
        struct deferred d = h->def[i];
        h->def[i] = h->def[--h->ndef];
        uint8_t st[4] = {(uint8_t)((unsigned)status >> 24), (uint8_t)((unsigned)status >> 16),
                         (uint8_t)((unsigned)status >> 8), (uint8_t)status};
        const char *ct = content_type ? content_type : "";
        if (http_send_frame(h->router, d.id, d.idlen, 1) || http_send_frame(h->router, "S", 1, 1) ||
            http_send_frame(h->router, st, 4, 1) || http_send_frame(h->router, ct, strlen(ct), 1) ||
            zmq_send(h->router, &fd, sizeof fd, ZMQ_DONTWAIT) < 0) {
            close(fd);
            return -EIO;
        }
        return 0;
    }
    close(fd);
    return ERR_NOTFOUND;
}

/* ---- lifecycle ---- */

static int split_bind(const char *bind, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *colon;
    const char *hs = bind, *he;
    if (bind[0] == '[') {
        const char *rb = strchr(bind, ']');
        if (!rb || rb[1] != ':')
            return ERR_INVAL;
        hs = bind + 1;
        he = rb;
        colon = rb + 1;
    } else {
        colon = strrchr(bind, ':');
        if (!colon)
            return ERR_INVAL;
        he = colon;
    }
    size_t hl = (size_t)(he - hs), pl = strlen(colon + 1);
    if (hl == 0 || hl >= hcap || pl == 0 || pl >= pcap)
        return ERR_INVAL;
    memcpy(host, hs, hl);
    host[hl] = '\0';
    memcpy(port, colon + 1, pl + 1);
    for (const char *p = port; *p; p++)
        if (*p < '0' || *p > '9')
            return ERR_INVAL;
    if (atol(port) > 65535)
        return ERR_INVAL;
    return 0;
}

static int bind_and_listen_ok(int fd, const struct addrinfo *a)
{
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0)
        return -1;
    return listen(fd, 128);
}

/* Binds and listens; returns the fd or -1 with err set. */
static int open_listener(const char *addr, int *ipv6, int *port, char *err, size_t errlen)
{
    char host[256], ps[8];
    if (split_bind(addr, host, sizeof host, ps, sizeof ps) != 0) {
        snprintf(err, errlen, "bad bind address '%s' (want host:port)", addr);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int g = getaddrinfo(host, ps, &hints, &ai);
    if (g != 0) {
        snprintf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(g));
        return -1;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind_and_listen_ok(fd, a) == 0) {
            *ipv6 = a->ai_family == AF_INET6;
            break;
        }
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(e ? e : EINVAL));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                     : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

http_t *http_new(loop_t *loop, void *zmq_ctx, const char *bind, const char *token, size_t max_body,
                 http_handler_fn fn, void *arg, char *err, size_t errlen)
{
    http_opts_t o = {.token = token,
                     .max_body = max_body,
                     .header_timeout_s = HTTP_HEADER_TIMEOUT_S,
                     .idle_timeout_s = HTTP_IDLE_TIMEOUT_S,
                     .max_per_ip = HTTP_MAX_PER_IP};
    return http_new_opts(loop, zmq_ctx, bind, &o, fn, arg, err, errlen);
}

http_t *http_new_opts(loop_t *loop, void *zmq_ctx, const char *bind, const http_opts_t *opts,
                      http_handler_fn fn, void *arg, char *err, size_t errlen)
{
    assert(loop && zmq_ctx && bind && opts && fn);
    if (opts->header_timeout_s < 1 || opts->idle_timeout_s < 1) {
        snprintf(err, errlen, "the HTTP header and idle timeouts must be at least 1 s");
        return NULL;
    }
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium cannot initialise");
        return NULL;
    }
    http_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->loop = loop;
    h->zctx = zmq_ctx;
    h->max_body = opts->max_body;
    h->header_timeout_s = opts->header_timeout_s;
    h->idle_timeout_s = opts->idle_timeout_s;
    h->fn = fn;
    h->arg = arg;
    pthread_mutex_init(&h->guard_mu, NULL);
    const char *token = opts->token;
    if (token && *token) {
        h->has_token = true;
        crypto_generichash(h->token_hash, sizeof h->token_hash, (const unsigned char *)token,
                           strlen(token), NULL, 0);
    }
    snprintf(h->endpoint, sizeof h->endpoint, "inproc://petri-http-%p", (void *)h);
    h->router = zmq_socket(zmq_ctx, ZMQ_ROUTER);
    int zero = 0;
    if (!h->router || zmq_setsockopt(h->router, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_bind(h->router, h->endpoint) != 0) {
        snprintf(err, errlen, "inproc socket: %s", zmq_strerror(errno));
        goto fail;
    }
    int ipv6 = 0;
    int fd = open_listener(bind, &ipv6, &h->port, err, errlen);
    if (fd < 0)
        goto fail;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG | (ipv6 ? MHD_USE_IPv6 : 0);
    h->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, http_conn_access, h, MHD_OPTION_EXTERNAL_LOGGER, http_conn_log, h,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, opts->max_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
        opts->idle_timeout_s, MHD_OPTION_NOTIFY_CONNECTION, http_conn_notify, h,
        MHD_OPTION_NOTIFY_COMPLETED, http_conn_completed, h, MHD_OPTION_END);
    if (!h->mhd) {
        close(fd);
        snprintf(err, errlen, "cannot start the HTTP server on %s", bind);
        goto fail;
    }
    if (loop_sock_add(loop, h->router, ZMQ_POLLIN, on_router, h) != 0) {
        snprintf(err, errlen, "cannot watch the inproc socket");
        goto fail;
    }
    h->guard_timer = loop_timer_add(loop, 1000, on_guard, h);
    if (h->guard_timer < 0) {
        loop_sock_del(loop, h->router);
        snprintf(err, errlen, "cannot start the header-deadline timer");
        goto fail;
    }
    return h;
fail:
    if (h->mhd)
        MHD_stop_daemon(h->mhd);
    if (h->router)
        zmq_close(h->router);
    pthread_mutex_destroy(&h->guard_mu);
    free(h);
    return NULL;
}

struct stopper {
    struct MHD_Daemon *mhd;
    void *zctx;
    char endpoint[80];
};

static void *stop_thread(void *arg)
{
    struct stopper *st = arg;
    MHD_stop_daemon(st->mhd);
    void *s = zmq_socket(st->zctx, ZMQ_PAIR);
    if (s) {
        int zero = 0;
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
        if (zmq_connect(s, st->endpoint) == 0)
            zmq_send(s, "", 0, 0);
        zmq_close(s);
    }
    return NULL;
}

void http_destroy(http_t **hp)
{
    if (!hp || !*hp)
        return;
    http_t *h = *hp;
    assert(!h->in_handler);
    loop_sock_del(h->loop, h->router);
    loop_timer_del(h->loop, h->guard_timer);
    for (size_t i = 0; i < h->ndef; i++)
        reply_503(h->router, h->def[i].id, h->def[i].idlen);
    h->ndef = 0;

    /* MHD_stop_daemon joins connection threads, which may be waiting for
     * this thread: stop MHD from a helper thread and keep answering 503
     * here until it reports back. */
    struct stopper st = {.mhd = h->mhd, .zctx = h->zctx};
    snprintf(st.endpoint, sizeof st.endpoint, "%s-stop", h->endpoint);
    void *done = zmq_socket(h->zctx, ZMQ_PAIR);
    int zero = 0;
    pthread_t th;
    bool threaded = false;
    if (done && zmq_setsockopt(done, ZMQ_LINGER, &zero, sizeof zero) == 0 &&
        zmq_bind(done, st.endpoint) == 0 && pthread_create(&th, NULL, stop_thread, &st) == 0)
        threaded = true;
    if (!threaded) {
        MHD_quiesce_daemon(h->mhd);
        MHD_stop_daemon(h->mhd); /* may wait out HTTP_REPLY_TIMEOUT_MS */
    } else {
        for (;;) {
            zmq_pollitem_t it[2] = {{.socket = h->router, .events = ZMQ_POLLIN},
                                    {.socket = done, .events = ZMQ_POLLIN}};
            if (zmq_poll(it, 2, -1) < 0 && errno != EINTR)
                break;
            if (it[0].revents & ZMQ_POLLIN) {
                zmq_msg_t f[6];
                int n = recv_multi(h->router, f, 6, ZMQ_DONTWAIT);
                if (n >= 1)
                    reply_503(h->router, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]));
                for (int k = 0; k < n && k < 6; k++)
                    zmq_msg_close(&f[k]);
            }
            if (it[1].revents & ZMQ_POLLIN)
                break;
        }
        pthread_join(th, NULL);
    }
    if (done)
        zmq_close(done);
    zmq_close(h->router);
    pthread_mutex_destroy(&h->guard_mu); /* MHD is stopped: every guard is gone */
    free(h->def);
    free(h);
    *hp = NULL;
}

int http_port(const http_t *h)
{
    assert(h);
    return h->port;
}
