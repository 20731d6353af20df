/* ctl.c - the local control socket: a ROUTER in the daemon, a REQ in the CLI. */
#include "ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "err.h"
#include "log.h"
#include "wire.h"

#define CTL_MAX_FRAME (1u << 20)

struct ctl {
    loop_t *loop;
    void *sock;
    char path[512];
    ctl_handler_fn fn;
    void *arg;
    wire_buf_t wb;
};

static void reply(ctl_t *c, zmq_msg_t *ident, int code, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    wire_buf_reset(&c->wb);
    wire_begin(&c->wb, WIRE_CTL_REPLY, 0, NULL);
    wire_put_u32(&c->wb, (uint32_t)code);
    wire_put_str(&c->wb, text ? text : "{}");
    free(text);
    if (wire_end(&c->wb) != 0)
        return;
    zmq_msg_send(ident, c->sock, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(c->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(c->sock, c->wb.data, c->wb.len, ZMQ_DONTWAIT);
}

static void handle(ctl_t *c, zmq_msg_t *ident, const uint8_t *buf, size_t len)
{
    wire_hdr_t h;
    wire_rd_t r;
    char cmd[64];
    char argbuf[CTL_MAX_ARGS][256];
    char *args[CTL_MAX_ARGS];
    uint32_t n = 0;
    int rc = wire_parse(buf, len, &h, &r);
    if (rc == 0 && h.type != WIRE_CTL_REQUEST)
        rc = ERR_UNKNOWN_TYPE;
    if (rc == 0) {
        wire_get_str(&r, cmd, sizeof cmd);
        wire_get_count(&r, &n, CTL_MAX_ARGS, 4);
        for (uint32_t i = 0; i < n; i++) {
            wire_get_str(&r, argbuf[i], sizeof argbuf[i]);
            args[i] = argbuf[i];
        }
        rc = r.err;
    }
    if (rc) {
        json_t *e = json_pack("{s:s}", "error", err_str(rc));
        reply(c, ident, 2, e);
        json_decref(e);
        return;
    }
    int code = 0;
    json_t *body = c->fn(c->arg, cmd, args, (int)n, &code);
    reply(c, ident, code, body);
    json_decref(body);
}

static void on_readable(loop_t *l, short revents, void *arg)
{
    (void)l;
    (void)revents;
    ctl_t *c = arg;
    for (int k = 0; k < 32; k++) {
        zmq_msg_t parts[3];
        int np = 0, extra = 0;
        zmq_msg_init(&parts[0]);
        if (zmq_msg_recv(&parts[0], c->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&parts[0]);
            return;
        }
        np = 1;
        /* the rest of a multipart message is always there once its first part is */
        int more = zmq_msg_more(&parts[0]);
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, c->sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            more = zmq_msg_more(&m);
            if (np < 3)
                parts[np++] = m;
            else {
                extra++;
                zmq_msg_close(&m);
            }
        }
        /* REQ envelope: identity, empty delimiter, body */
        if (np == 3 && !extra && zmq_msg_size(&parts[1]) == 0 &&
            zmq_msg_size(&parts[2]) <= CTL_MAX_FRAME)
            handle(c, &parts[0], zmq_msg_data(&parts[2]), zmq_msg_size(&parts[2]));
        else
            log_warn("ctl.malformed", "parts=%d", np + extra);
        for (int i = 0; i < np; i++)
            zmq_msg_close(&parts[i]);
    }
}

ctl_t *ctl_new(loop_t *l, void *zctx, const char *path, ctl_handler_fn fn, void *arg, char *err,
               size_t errlen)
{
    ctl_t *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->loop = l;
    c->fn = fn;
    c->arg = arg;
    snprintf(c->path, sizeof c->path, "%s", path);
    wire_buf_init(&c->wb);
    c->sock = zmq_socket(zctx, ZMQ_ROUTER);
    int zero = 0, maxmsg = CTL_MAX_FRAME + 1024;
    int64_t maxsz = maxmsg;
    zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxsz, sizeof maxsz);
    char ep[600];
    snprintf(ep, sizeof ep, "ipc://%s", path);
    unlink(path); /* a stale socket from a previous, killed run */
    mode_t old = umask(077);
    int rc = zmq_bind(c->sock, ep);
    umask(old);
    if (rc != 0) {
        snprintf(err, errlen, "control socket %s: %s", path, zmq_strerror(errno));
        zmq_close(c->sock);
        wire_buf_free(&c->wb);
        free(c);
        return NULL;
    }
    loop_sock_add(l, c->sock, ZMQ_POLLIN, on_readable, c);
    return c;
}

void ctl_destroy(ctl_t **pc)
{
    if (!pc || !*pc)
        return;
    ctl_t *c = *pc;
    loop_sock_del(c->loop, c->sock);
    zmq_close(c->sock);
    unlink(c->path);
    wire_buf_free(&c->wb);
    free(c);
    *pc = NULL;
}

int ctl_call(const char *path, const char *cmd, char **args, int nargs, int timeout_ms, int *code,
             char **body, char *err, size_t errlen)
{
    *body = NULL;
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen,
                 "no agent control socket at %s (is petri-agent running? "
                 "set [node] run_dir)",
                 path);
        return ERR_NOTFOUND;
    }
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_REQ);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout_ms, sizeof timeout_ms);
    char ep[600];
    snprintf(ep, sizeof ep, "ipc://%s", path);
    int rc = zmq_connect(s, ep);
    wire_buf_t wb;
    wire_buf_init(&wb);
    wire_begin(&wb, WIRE_CTL_REQUEST, 0, NULL);
    wire_put_str(&wb, cmd);
    wire_put_u32(&wb, (uint32_t)nargs);
    for (int i = 0; i < nargs; i++)
        wire_put_str(&wb, args[i]);
    if (rc == 0)
        rc = wire_end(&wb);
    if (rc == 0 && zmq_send(s, wb.data, wb.len, 0) < 0)
        rc = -errno;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (rc == 0 && zmq_msg_recv(&m, s, 0) < 0)
        rc = errno == EAGAIN ? ERR_TIMEOUT : -errno;
    if (rc == 0) {
        wire_hdr_t h;
        wire_rd_t r;
        rc = wire_parse(zmq_msg_data(&m), zmq_msg_size(&m), &h, &r);
        if (rc == 0 && h.type != WIRE_CTL_REPLY)
            rc = ERR_PROTO;
        const uint8_t *p = NULL;
        uint32_t n = 0, c = 0;
        if (rc == 0) {
            wire_get_u32(&r, &c);
            wire_get_bytes(&r, &p, &n, CTL_MAX_FRAME);
            rc = r.err;
        }
        if (rc == 0) {
            *code = (int)c;
            *body = malloc(n + 1);
            if (*body) {
                memcpy(*body, p, n);
                (*body)[n] = '\0';
            } else {
                rc = -ENOMEM;
            }
        }
    }
    if (rc)
        snprintf(err, errlen, "%s: %s", path,
                 rc == ERR_TIMEOUT ? "no answer from the agent" : err_str(rc));
    zmq_msg_close(&m);
    wire_buf_free(&wb);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return rc;
}
