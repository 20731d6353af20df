/* http_conn.c - the connection-thread side of the HTTP server (http.h):
 * method, token and size checks, body collection, the hand-off of each
 * request to the loop thread over inproc ZeroMQ, and the header deadlines. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "http_int.h"
#include "log.h"
#include "loop.h"

/* Per request, owned by its connection thread. */
struct req_ctx {
    uint8_t *body;
    size_t len, cap;
    bool authorized;
};

static const char *const known_methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};

static bool is_mutating(const char *m)
{
    return !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH") || !strcmp(m, "DELETE");
}

/* Adds the headers of http.h invariant 6 to r and queues it (r is consumed).
 * An answer without its security headers is not sent. csp NULL =
 * HTTP_CSP_DEFAULT. */
static enum MHD_Result queue_with_headers(struct MHD_Connection *c, unsigned status,
                                          struct MHD_Response *r, const char *ctype,
                                          const char *csp)
{
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                ctype ? ctype : "application/json") != MHD_YES ||
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") != MHD_YES ||
        MHD_add_response_header(r, "Content-Security-Policy", csp ? csp : HTTP_CSP_DEFAULT) !=
            MHD_YES ||
        MHD_add_response_header(r, "X-Frame-Options", "DENY") != MHD_YES ||
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer") != MHD_YES ||
        MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin") != MHD_YES) {
        MHD_destroy_response(r);
        return MHD_NO;
    }
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Queues an answer with the headers of http.h invariant 6; csp NULL =
 * HTTP_CSP_DEFAULT. */
static enum MHD_Result queue_body(struct MHD_Connection *c, unsigned status, const char *ctype,
                                  const char *csp, const void *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    return queue_with_headers(c, status, r, ctype, csp);
}

/* A streamed body: read from fd (the read end of a pipe) until EOF. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    int fd = *(int *)cls;
    for (;;) {
        ssize_t n = read(fd, buf, max);
        if (n > 0)
            return n;
        if (n == 0)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (errno != EINTR)
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
}

static void stream_free(void *cls)
{
    int *fd = cls;
    close(*fd);
    free(fd);
}

static enum MHD_Result queue_stream(struct MHD_Connection *c, unsigned status, const char *ctype,
                                    int fd)
{
    int *cls = malloc(sizeof *cls);
    if (!cls) {
        close(fd);
        return MHD_NO;
    }
    *cls = fd;
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024,
                                                               stream_read, cls, stream_free);
    if (!r) {
        stream_free(cls);
        return MHD_NO;
    }
    return queue_with_headers(c, status, r, ctype, NULL);
}

/* Error replies built on the connection thread: msg is a fixed string
 * without characters that need JSON escaping. */
static enum MHD_Result queue_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "{\"error\":\"%s\"}", msg);
    return queue_body(c, status, NULL, NULL, buf, (size_t)n);
}

/* ---- header deadlines (http.h invariant 4) ---- */

static struct guard *guard_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* deadline 0: a request is in hand; else the next head is due by then. */
static void guard_set(http_t *h, struct MHD_Connection *c, uint64_t deadline_ms)
{
    struct guard *g = guard_of(c);
    if (!g)
        return;
    pthread_mutex_lock(&h->guard_mu);
    g->deadline_ms = deadline_ms;
    pthread_mutex_unlock(&h->guard_mu);
}

static void guard_peer(struct MHD_Connection *c, char *out, size_t cap)
{
    snprintf(out, cap, "?");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    socklen_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                           : sizeof(struct sockaddr_in);
    getnameinfo(ci->client_addr, len, out, (socklen_t)cap, NULL, 0, NI_NUMERICHOST);
}

void http_conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code)
{
    http_t *h = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct guard *g = calloc(1, sizeof *g);
        if (!g || !ci) {
            /* only the idle timeout applies to this one */
            log_warn("http.guard", "msg=\"cannot watch a new connection's header deadline\"");
            free(g);
            return;
        }
        g->fd = ci->connect_fd;
        guard_peer(c, g->peer, sizeof g->peer);
        pthread_mutex_lock(&h->guard_mu);
        g->deadline_ms = mono_ms() + (uint64_t)h->header_timeout_s * 1000;
        g->next = h->guards;
        if (h->guards)
            h->guards->prev = g;
        h->guards = g;
        pthread_mutex_unlock(&h->guard_mu);
        *socket_context = g;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct guard *g = *socket_context;
        if (!g)
            return;
        pthread_mutex_lock(&h->guard_mu);
        if (g->prev)
            g->prev->next = g->next;
        else
            h->guards = g->next;
        if (g->next)
            g->next->prev = g->prev;
        pthread_mutex_unlock(&h->guard_mu);
        free(g);
        *socket_context = NULL;
    }
}

static bool check_token(const http_t *h, struct MHD_Connection *c)
{
    if (!h->has_token)
        return false;
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!v || strncasecmp(v, "Bearer ", 7) != 0)
        return false;
    v += 7;
    while (*v == ' ')
        v++;
    size_t len = strlen(v);
    while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    /* Comparing hashes keeps the comparison constant-time in the token's
     * length as well as its content. */
    uint8_t hv[TOKEN_HASH_LEN];
    crypto_generichash(hv, sizeof hv, (const unsigned char *)v, len, NULL, 0);
    return sodium_memcmp(hv, h->token_hash, sizeof hv) == 0;
}

struct qbuf {
    char *s;
    size_t len, cap;
    bool oom;
};

static void qb_add(struct qbuf *q, const char *s, bool encode)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s && !q->oom; s++) {
        if (q->len + 4 > q->cap) {
            size_t nc = q->cap ? q->cap * 2 : 128;
            char *ns = realloc(q->s, nc);
            if (!ns) {
                q->oom = true;
                return;
            }
            q->s = ns;
            q->cap = nc;
        }
        unsigned char c = (unsigned char)*s;
        if (!encode || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            q->s[q->len++] = (char)c;
        } else {
            q->s[q->len++] = '%';
            q->s[q->len++] = hex[c >> 4];
            q->s[q->len++] = hex[c & 15];
        }
        q->s[q->len] = '\0';
    }
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    struct qbuf *q = cls;
    if (q->len)
        qb_add(q, "&", false);
    qb_add(q, key, true);
    if (value) {
        qb_add(q, "=", false);
        qb_add(q, value, true);
    }
    return MHD_YES;
}

void http_free_body(void *data, void *hint)
{
    free(data);
}

int http_send_frame(void *s, const void *data, size_t len, int more)
{
    return zmq_send(s, data, len, more ? ZMQ_SNDMORE : 0) < 0 ? -errno : 0;
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* Sends the request to the loop and waits for its reply; queues the reply
 * (or 503) on c. Runs on the connection's thread. */
static enum MHD_Result dispatch(http_t *h, struct MHD_Connection *c, const char *url,
                                const char *method, struct req_ctx *rc)
{
    struct qbuf q = {0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &q);
    if (q.oom) {
        free(q.s);
        return queue_error(c, 500, "out of memory");
    }

    void *s = zmq_socket(h->zctx, ZMQ_DEALER);
    if (!s) {
        free(q.s);
        return queue_error(c, 503, "server is shutting down");
    }
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    enum MHD_Result ret;
    if (zmq_connect(s, h->endpoint) != 0) {
        ret = queue_error(c, 503, "server is shutting down");
        goto out;
    }

    zmq_msg_t body;
    if (rc->len > 0) {
        zmq_msg_init_data(&body, rc->body, rc->len, http_free_body, NULL);
        rc->body = NULL; /* owned by the message now */
        rc->len = rc->cap = 0;
    } else {
        zmq_msg_init(&body);
    }
    const char *auth = rc->authorized ? "1" : "0";
    if (http_send_frame(s, method, strlen(method), 1) || http_send_frame(s, url, strlen(url), 1) ||
        http_send_frame(s, q.s ? q.s : "", q.len, 1) || http_send_frame(s, auth, 1, 1) ||
        zmq_msg_send(&body, s, 0) < 0) {
        zmq_msg_close(&body);
        ret = queue_error(c, 503, "server is shutting down");
        goto out;
    }

    uint64_t deadline = mono_ms() + HTTP_REPLY_TIMEOUT_MS;
    for (;;) {
        uint64_t now = mono_ms();
        if (now >= deadline) {
            ret = queue_error(c, 503, "the server did not answer in time");
            goto out;
        }
        zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
        int n = zmq_poll(&it, 1, (long)(deadline - now));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue; /* the deadline check above ends it */
        zmq_msg_t f[5];
        int nf = 0;
        int more = 1;
        while (more && nf < 5) {
            zmq_msg_init(&f[nf]);
            if (zmq_msg_recv(&f[nf], s, 0) < 0) {
                zmq_msg_close(&f[nf]);
                break;
            }
            more = zmq_msg_more(&f[nf]);
            nf++;
        }
        ret = MHD_NO;
        bool done = true;
        const uint8_t *k = nf > 0 ? zmq_msg_data(&f[0]) : NULL;
        if (nf == 2 && zmq_msg_size(&f[0]) == 1 && k[0] == 'D' && zmq_msg_size(&f[1]) == 8) {
            deadline = mono_ms() + be64(zmq_msg_data(&f[1]));
            done = false;
        } else if (nf == 5 && !more && zmq_msg_size(&f[0]) == 1 && k[0] == 'R' &&
                   zmq_msg_size(&f[1]) == 4) {
            const uint8_t *st = zmq_msg_data(&f[1]);
            unsigned status =
                (unsigned)st[0] << 24 | (unsigned)st[1] << 16 | (unsigned)st[2] << 8 | st[3];
            char ctype[128], csp[HTTP_CSP_MAX];
            size_t cl = zmq_msg_size(&f[2]), pl = zmq_msg_size(&f[3]);
            if (cl >= sizeof ctype)
                cl = 0;
            memcpy(ctype, zmq_msg_data(&f[2]), cl);
            ctype[cl] = '\0';
            if (pl >= sizeof csp)
                pl = 0; /* cannot happen (send_reply asserts); the default is stricter */
            memcpy(csp, zmq_msg_data(&f[3]), pl);
            csp[pl] = '\0';
            ret = queue_body(c, status, cl ? ctype : NULL, pl ? csp : NULL, zmq_msg_data(&f[4]),
                             zmq_msg_size(&f[4]));
        } else if (nf == 4 && !more && zmq_msg_size(&f[0]) == 1 && k[0] == 'S' &&
                   zmq_msg_size(&f[1]) == 4 && zmq_msg_size(&f[3]) == sizeof(int)) {
            const uint8_t *st = zmq_msg_data(&f[1]);
            unsigned status =
                (unsigned)st[0] << 24 | (unsigned)st[1] << 16 | (unsigned)st[2] << 8 | st[3];
            char ctype[128];
            size_t cl = zmq_msg_size(&f[2]);
            if (cl >= sizeof ctype)
                cl = 0;
            memcpy(ctype, zmq_msg_data(&f[2]), cl);
            ctype[cl] = '\0';
            int fd;
            memcpy(&fd, zmq_msg_data(&f[3]), sizeof fd);
            ret = queue_stream(c, status, cl ? ctype : NULL, fd);
        } else {
            ret = queue_error(c, 500, "internal reply malformed");
        }
        for (int i = 0; i < nf; i++)
            zmq_msg_close(&f[i]);
        if (done)
            goto out;
    }
out:
    zmq_close(s);
    free(q.s);
    return ret;
}

enum MHD_Result http_conn_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    http_t *h = cls;
    struct req_ctx *rc = *con_cls;
    if (!rc) {
        guard_set(h, c, 0); /* the head is complete */
        bool known = false;
        for (size_t i = 0; i < sizeof known_methods / sizeof known_methods[0]; i++)
            known = known || !strcmp(method, known_methods[i]);
        if (!known)
            return queue_error(c, 405, "method not allowed");
        bool auth = check_token(h, c);
        if (is_mutating(method) && !auth)
            return queue_error(c, 401,
                               h->has_token ? "missing or invalid bearer token"
                                            : "no API token is configured on this "
                                              "server: mutating requests are refused");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            errno = 0;
            char *end;
            unsigned long long v = strtoull(cl, &end, 10);
            if (errno == ERANGE || v > h->max_body)
                return queue_error(c, 413, "request body too large");
        }
        rc = calloc(1, sizeof *rc);
        if (!rc)
            return queue_error(c, 500, "out of memory");
        rc->authorized = auth;
        *con_cls = rc;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;
        if (n > h->max_body - rc->len) {
            /* A chunked upload passed the cap. MHD takes no answer in the
             * middle of an upload: the connection is cut, and said so here. */
            char peer[64];
            guard_peer(c, peer, sizeof peer);
            log_info("http.body",
                     "peer=%s max_body=%zu msg=\"chunked request body too large: "
                     "connection closed\"",
                     peer, h->max_body);
            return MHD_NO;
        }
        if (rc->len + n > rc->cap) {
            size_t nc = rc->cap ? rc->cap : 4096;
            while (nc < rc->len + n)
                nc *= 2;
            if (nc > h->max_body)
                nc = h->max_body;
            uint8_t *nb = realloc(rc->body, nc);
            if (!nb)
                return MHD_NO;
            rc->body = nb;
            rc->cap = nc;
        }
        memcpy(rc->body + rc->len, upload, n);
        rc->len += n;
        *upload_size = 0;
        return MHD_YES;
    }
    return dispatch(h, c, url, method, rc);
}

void http_conn_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_t *h = cls;
    /* a kept-alive connection owes the next head within the deadline */
    guard_set(h, c, mono_ms() + (uint64_t)h->header_timeout_s * 1000);
    struct req_ctx *rc = *con_cls;
    if (rc) {
        free(rc->body);
        free(rc);
        *con_cls = NULL;
    }
}

void http_conn_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    char q[300];
    log_debug("http.mhd", "msg=%s", log_quote(msg, q, sizeof q));
}
