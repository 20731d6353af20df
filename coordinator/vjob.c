/* vjob.c - `POST /v1/lineage/verify` off the loop: the whole-chain check runs
 * on its own thread, in its own LMDB read transaction (a snapshot of the log
 * when it starts), while the loop goes on recording results and answering
 * gossip. The thread signals an eventfd; the loop joins it and answers the
 * deferred request (or starts the replay that verify?replay=N asks for).
 *
 * Invariants:
 *  1. At most one verification runs; a second request gets 503 at once.
 *  2. Only the loop thread touches coord_t, the HTTP server and JSON that
 *     outlives the job; the thread touches only its job and the store's
 *     read path.
 *  3. vjob_stop() (shutdown) asks the thread to stop at its next progress
 *     call and joins it before the store is closed.
 * Known limit: the verification holds the store's map lock shared for its
 * whole walk, so if the map must grow meanwhile (MDB_MAP_FULL on a commit),
 * that commit, and the loop with it, waits for the verification to end. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include "coord.h"
#include "err.h"
#include "log.h"

#define MAX_ERRORS_LISTED 1000

struct vjob {
    coord_t *c;
    uint64_t ticket;
    long replay;
    pthread_t th;
    int efd;
    atomic_int stop;
    /* results, written by the thread, read by the loop after the join */
    json_t *errors;
    int nerrors;
    uint64_t checked;
    int rc;
    uint64_t us;
};

static void on_error(void *arg, uint64_t seq, const char *reason)
{
    vjob_t *j = arg;
    if (j->nerrors++ < MAX_ERRORS_LISTED)
        json_array_append_new(j->errors,
                              json_pack("{s:I, s:s}", "seq", (json_int_t)seq, "reason", reason));
}

static int on_progress(void *arg, uint64_t checked, uint64_t total)
{
    (void)checked;
    (void)total;
    vjob_t *j = arg;
    return atomic_load(&j->stop);
}

static void *run(void *arg)
{
    vjob_t *j = arg;
    uint64_t t0 = mono_us();
    j->rc = store_verify(j->c->store, on_error, on_progress, j, &j->checked);
    j->us = mono_us() - t0;
    uint64_t one = 1;
    if (write(j->efd, &one, sizeof one) != sizeof one)
        log_error("vjob.signal_failed", "why=\"%s\"", err_str(-errno));
    return NULL;
}

static void job_free(vjob_t *j)
{
    if (j->efd >= 0)
        close(j->efd);
    json_decref(j->errors);
    free(j);
}

/* Loop thread: the verification ended. */
static void on_done(loop_t *l, short revents, void *arg)
{
    (void)revents;
    vjob_t *j = arg;
    coord_t *c = j->c;
    uint64_t n;
    if (read(j->efd, &n, sizeof n) < 0 && errno == EAGAIN)
        return;
    loop_fd_del(l, j->efd);
    pthread_join(j->th, NULL);
    c->vjob = NULL;
    log_info("vjob.done", "records=%llu ok=%d errors=%d seconds=%.3f",
             (unsigned long long)j->checked, j->rc == 0 && j->nerrors == 0, j->nerrors,
             (double)j->us / 1e6);
    json_t *o = json_pack("{s:I, s:b, s:O, s:f}", "records", (json_int_t)j->checked, "ok",
                          j->rc == 0 && j->nerrors == 0, "errors", j->errors, "seconds",
                          (double)j->us / 1e6);
    uint8_t pk[CRYPTO_PK_LEN];
    int have;
    store_coord_pk(c->store, pk, &have);
    if (have) { /* the key it is signed with, for --pin */
        char fp[STORE_FP_LEN + 1];
        store_fingerprint(pk, fp);
        json_object_set_new(o, "key", json_string(fp));
    }
    if (j->rc == -ECANCELED || c->stopping) {
        http_resp_t r = {0};
        http_error(&r, 503, "the coordinator is stopping");
        http_reply(c->http, j->ticket, &r);
        json_decref(o);
    } else if (j->rc != 0 && j->nerrors == 0) { /* LMDB failed, not the chain */
        http_resp_t r = {0};
        http_error(&r, 500, "verify: %s", err_str(j->rc));
        http_reply(c->http, j->ticket, &r);
        json_decref(o);
    } else if (j->replay == 0) {
        json_object_set_new(o, "replayed", json_integer(0));
        json_object_set_new(o, "replay_mismatches", json_integer(0));
        http_resp_t r = {0};
        http_json(&r, 200, o);
        http_reply(c->http, j->ticket, &r);
    } else if (replay_start(c, (int)j->replay, j->ticket, o) != 0) {
        http_resp_t r = {0};
        http_error(&r, 503, "a replay is already running");
        http_reply(c->http, j->ticket, &r);
        json_decref(o);
    }
    job_free(j);
}

int vjob_start(coord_t *c, long replay, uint64_t ticket)
{
    if (c->vjob)
        return ERR_STATE;
    vjob_t *j = calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    j->c = c;
    j->ticket = ticket;
    j->replay = replay;
    j->errors = json_array();
    j->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (j->efd < 0 || !j->errors) {
        int rc = j->efd < 0 ? -errno : -ENOMEM;
        job_free(j);
        return rc;
    }
    int rc = loop_fd_add(c->loop, j->efd, ZMQ_POLLIN, on_done, j);
    if (rc) {
        job_free(j);
        return rc;
    }
    if ((rc = pthread_create(&j->th, NULL, run, j)) != 0) {
        loop_fd_del(c->loop, j->efd);
        job_free(j);
        return -rc;
    }
    c->vjob = j;
    return 0;
}

void vjob_stop(coord_t *c)
{
    vjob_t *j = c->vjob;
    if (!j)
        return;
    atomic_store(&j->stop, 1);
    pthread_join(j->th, NULL);
    loop_fd_del(c->loop, j->efd);
    c->vjob = NULL;
    http_resp_t r = {0};
    http_error(&r, 503, "the coordinator is stopping");
    http_reply(c->http, j->ticket, &r);
    job_free(j);
}
