/* xjob.c - `GET /v1/lineage/export` off the loop: a thread walks the log
 * (store_export.h) and writes the body into a pipe whose read end the HTTP
 * server streams to the client (http_reply_stream), so an export of any
 * size is neither built in memory nor on the loop thread.
 *
 * Invariants:
 *  1. At most one export runs; a second request gets 503 at once.
 *  2. The thread touches only its job, the pipe and the store's read path;
 *     the loop joins it (eventfd) and logs the outcome.
 *  3. A client that stops reading stalls the pipe: after XJOB_STALL_MS
 *     without progress the thread gives up; a client that goes away closes
 *     the read end and the thread stops at its next write (EPIPE). xjob_stop
 *     (shutdown) stops it at its next write and joins it before the store
 *     is closed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include "coord.h"
#include "err.h"
#include "log.h"
#include "store_export.h"

#define XJOB_STALL_MS 60000
#define XJOB_POLL_MS 500

struct xjob {
    coord_t *c;
    enum store_export_fmt fmt;
    pthread_t th;
    int efd, wfd;
    atomic_int stop;
    /* results, written by the thread, read by the loop after the join */
    int rc;
    uint64_t records, damaged, us;
};

static int write_all(void *arg, const char *data, size_t len)
{
    xjob_t *j = arg;
    uint64_t last = mono_ms();
    while (len > 0) {
        if (atomic_load(&j->stop))
            return -ECANCELED;
        struct pollfd p = {.fd = j->wfd, .events = POLLOUT};
        int n = poll(&p, 1, XJOB_POLL_MS);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n <= 0) {
            if (mono_ms() - last > XJOB_STALL_MS)
                return -ETIMEDOUT;
            continue;
        }
        ssize_t w = write(j->wfd, data, len);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            return -errno; /* EPIPE: the client went away */
        }
        data += w;
        len -= (size_t)w;
        last = mono_ms();
    }
    return 0;
}

static void *run(void *arg)
{
    xjob_t *j = arg;
    uint64_t t0 = mono_us();
    j->rc = store_export(j->c->store, j->fmt, write_all, j, &j->records, &j->damaged);
    j->us = mono_us() - t0;
    close(j->wfd); /* the end of the body */
    j->wfd = -1;
    uint64_t one = 1;
    if (write(j->efd, &one, sizeof one) != sizeof one)
        log_error("xjob.signal_failed", "why=\"%s\"", err_str(-errno));
    return NULL;
}

static void job_free(xjob_t *j)
{
    if (j->efd >= 0)
        close(j->efd);
    if (j->wfd >= 0)
        close(j->wfd);
    free(j);
}

static void finish(coord_t *c, xjob_t *j)
{
    loop_fd_del(c->loop, j->efd);
    pthread_join(j->th, NULL);
    c->xjob = NULL;
    if (j->rc)
        log_warn("xjob.cut", "records=%llu why=\"%s\"", (unsigned long long)j->records,
                 err_str(j->rc));
    else
        log_info("xjob.done", "records=%llu damaged=%llu seconds=%.3f",
                 (unsigned long long)j->records, (unsigned long long)j->damaged,
                 (double)j->us / 1e6);
    job_free(j);
}

static void on_done(loop_t *l, short revents, void *arg)
{
    (void)l;
    (void)revents;
    xjob_t *j = arg;
    uint64_t n;
    if (read(j->efd, &n, sizeof n) < 0 && errno == EAGAIN)
        return;
    finish(j->c, j);
}

int xjob_start(coord_t *c, int dot, uint64_t ticket)
{
    if (c->xjob)
        return ERR_STATE;
    xjob_t *j = calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    j->c = c;
    j->fmt = dot ? STORE_EXPORT_DOT : STORE_EXPORT_JSON;
    j->wfd = -1;
    int p[2] = {-1, -1};
    j->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (j->efd < 0 || pipe2(p, O_CLOEXEC) != 0) {
        int rc = -errno;
        job_free(j);
        return rc;
    }
    j->wfd = p[1];
    fcntl(j->wfd, F_SETFL, O_NONBLOCK);
    int rc = loop_fd_add(c->loop, j->efd, ZMQ_POLLIN, on_done, j);
    if (rc) {
        close(p[0]);
        job_free(j);
        return rc;
    }
    if ((rc = pthread_create(&j->th, NULL, run, j)) != 0) {
        loop_fd_del(c->loop, j->efd);
        close(p[0]);
        job_free(j);
        return -rc;
    }
    c->xjob = j;
    rc = http_reply_stream(c->http, ticket, 200, dot ? "text/vnd.graphviz" : "application/json",
                           p[0]);
    if (rc)
        log_warn("xjob.reply", "why=\"%s\"", err_str(rc)); /* the thread stops on EPIPE */
    return 0;
}

void xjob_stop(coord_t *c)
{
    xjob_t *j = c->xjob;
    if (!j)
        return;
    atomic_store(&j->stop, 1);
    finish(c, j);
}
