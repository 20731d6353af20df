/* awork.c - run the coordinator's work items on the local VMs (awork.h). */
#include "awork.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "alive.h"
#include "attest.h"
#include "err.h"
#include "log.h"
#include "wire.h"
#include "wsess.h"

#define HELLO_EVERY_MS 1000
/* The coordinator answers every HELLO: this long without a word from it and
 * the session is presumed lost (coordinator restarted, connection squatted
 * or half-open): the agent starts over on a new connection. */
#define SESSION_SILENT_MS 5000
/* A handshake not finished in this long starts over on a new connection. */
#define HANDSHAKE_MS 3000
#define MAX_ITEMS_PER_BATCH 4096
/* Finished items wait this long for company before they are sent: one frame
 * (one seal, one zmq message, one wake-up on each side) for several results,
 * at no cost to throughput (the agent holds per_vm items per VM). */
#define RESULTS_FLUSH_MS 4
#define RESULTS_MAX 64
#define RESULTS_MAX_BYTES (256u * 1024)

typedef struct job {
    awork_t *w;
    char pop[WIRE_POP_MAX + 1];
    uint32_t deme;
    uint64_t dseq;
    uint8_t *spec;
    size_t spec_len;
    int cancelled;                     /* the channel went away: finish quietly */
    int language;                      /* -1 = the spec's */
    int breed_only;                    /* replay: return the child unscored */
    uint8_t breeder[WIRE_BREEDER_LEN]; /* of the VM that bred the child; zeros if none */
} job_t;

/* The session with the coordinator (wire.h, work channel):
 *
 *   IDLE --set_coordinator--> OPENING --CHALLENGE--> AUTH --WELCOME--> READY
 *                               ^  |                  |                  |
 *                               +--+------------------+------------------+
 *                     no answer in HANDSHAKE_MS, or silent SESSION_SILENT_MS:
 *                     a new connection with a new random routing id
 * A CHALLENGE in AUTH or READY (the coordinator lost the session) is
 * answered on the same connection. */
typedef enum aw_state { AW_IDLE, AW_OPENING, AW_AUTH, AW_READY } aw_state_t;

static const char *const aw_state_names[] = {"idle", "opening", "authenticating", "ready"};

struct awork {
    loop_t *loop;
    void *zctx;
    void *sock;
    aw_state_t state;
    uint64_t state_ms;   /* when it entered state */
    uint64_t last_rx_ms; /* last session frame from the coordinator */
    uint8_t route[WSESS_ROUTE_LEN];
    wsess_t sess;
    uint64_t sessions, restarts;
    pool_t *pool;
    const node_identity_t *id;
    keyring_t *kr;
    char name[128];
    char endpoint[300];
    int per_vm; /* items held per ready VM: running, in the VM's pipe, queued */
    int held;
    int draining;
    int min_vms;
    uint64_t received, done, failed_sends;
    int64_t hello_timer;
    int64_t flush_timer; /* armed while results wait in rb */
    wire_buf_t rb;       /* RESULT items waiting to be sent */
    uint32_t nresults;
    int rb_breeder;          /* rb's items carry breeders (WIRE_RESULT_BREEDER) */
    uint32_t coord_features; /* WIRE_FEAT_*, from the coordinator's last WELCOME */
    wire_buf_t wb;
    uint8_t *buf;
    size_t bufcap;
    alive_t *live;
};

static int ensure_buf(awork_t *w, size_t n)
{
    if (w->bufcap >= n)
        return 0;
    uint8_t *nb = realloc(w->buf, n);
    if (!nb)
        return -ENOMEM;
    w->buf = nb;
    w->bufcap = n;
    return 0;
}

/* The VMs batch work can count on: the ready ones less one for each live
 * individual hosted (each runs on a VM of its own, beside the pool's, and
 * takes that VM's share of the host), but never below one while a VM is
 * ready, so the demes placed here go on, slower, under many individuals. */
static int batch_vms(const awork_t *w)
{
    int ready = pool_ready(w->pool), vms = ready - alive_count(w->live);
    return vms >= 1 ? vms : ready > 0;
}

static int credit(const awork_t *w)
{
    if (w->draining)
        return 0;
    int c = batch_vms(w) * w->per_vm - w->held;
    return c > 0 ? c : 0;
}

static void set_state(awork_t *w, aw_state_t st, const char *why)
{
    if (st != w->state)
        log_info("awork.session_state", "from=%s to=%s why=\"%s\"", aw_state_names[w->state],
                 aw_state_names[st], why);
    w->state = st;
    w->state_ms = loop_now(w->loop);
}

/* Sends one whole frame in the session: 0, or ERR_STATE without one. */
static int send_frame_sealed(awork_t *w, const uint8_t *frame, size_t len)
{
    if (!w->sock || w->state != AW_READY)
        return ERR_STATE;
    size_t out = 0;
    if (ensure_buf(w, len + WSESS_OVERHEAD) != 0 ||
        wsess_seal(&w->sess, w->kr, frame, len, w->buf, w->bufcap, &out) != 0 ||
        zmq_send(w->sock, w->buf, out, ZMQ_DONTWAIT) < 0) {
        w->failed_sends++;
        return ERR_STATE;
    }
    return 0;
}

/* Sends the frame in w->wb in the session. */
static void send_sealed(awork_t *w)
{
    if (!w->sock || w->state != AW_READY || wire_end(&w->wb) != 0)
        return;
    (void)send_frame_sealed(w, w->wb.data, w->wb.len);
}

static int send_live(void *arg, const uint8_t *frame, size_t len)
{
    return send_frame_sealed(arg, frame, len);
}

/* Sends the frame in w->wb as a handshake frame. */
static void send_handshake(awork_t *w)
{
    if (!w->sock || wire_end(&w->wb) != 0)
        return;
    size_t out = 0;
    if (ensure_buf(w, w->wb.len + WSESS_HS_OVERHEAD) != 0 ||
        wsess_seal_hs(w->kr, w->wb.data, w->wb.len, w->buf, w->bufcap, &out) != 0 ||
        zmq_send(w->sock, w->buf, out, ZMQ_DONTWAIT) < 0)
        w->failed_sends++;
}

void awork_announce(awork_t *w)
{
    if (!w->sock || w->state != AW_READY)
        return;
    int total = pool_total(w->pool), ready = pool_ready(w->pool), max = pool_max(w->pool);
    if (ready > total) /* a retiring VM still finishing: not capacity */
        ready = total;
    int min_vms = w->min_vms < max ? w->min_vms : max;
    wire_buf_reset(&w->wb);
    wire_begin(&w->wb, WIRE_WORK_HELLO, 0, w->id->id);
    wire_put_str(&w->wb, w->name);
    wire_put_raw(&w->wb, w->id->pk, CRYPTO_PK_LEN);
    wire_put_u32(&w->wb, w->draining ? 0 : (uint32_t)ready);
    wire_put_u32(&w->wb, (uint32_t)total);
    wire_put_u32(&w->wb, (uint32_t)credit(w));
    wire_put_u32(&w->wb, (uint32_t)pool_queued(w->pool));
    wire_put_f64(&w->wb, (double)(pool_queued(w->pool) + pool_inflight(w->pool)) /
                             (double)(pool_total(w->pool) ? pool_total(w->pool) : 1));
    wire_put_u64(&w->wb, w->received);
    wire_put_u32(&w->wb, (uint32_t)min_vms);
    wire_put_u32(&w->wb, (uint32_t)max);
    uint8_t br[WIRE_MAX_BREEDERS][WIRE_BREEDER_LEN];
    int nb = pool_breeders(w->pool, br, WIRE_MAX_BREEDERS);
    wire_put_u32(&w->wb, (uint32_t)nb);
    for (int i = 0; i < nb; i++)
        wire_put_raw(&w->wb, br[i], WIRE_BREEDER_LEN);
    send_sealed(w);
}

/* Sends the waiting results as one WIRE_WORK_RESULT frame. */
static void flush_results(awork_t *w)
{
    if (w->flush_timer > 0)
        loop_timer_del(w->loop, w->flush_timer);
    w->flush_timer = 0;
    if (w->nresults == 0 || w->state != AW_READY) /* kept until a session is up */
        return;
    wire_buf_reset(&w->wb);
    wire_begin(&w->wb, WIRE_WORK_RESULT, w->rb_breeder ? WIRE_RESULT_BREEDER : 0, w->id->id);
    wire_put_u32(&w->wb, (uint32_t)credit(w));
    wire_put_u64(&w->wb, w->received);
    wire_put_u32(&w->wb, w->nresults);
    wire_put_raw(&w->wb, w->rb.data, w->rb.len);
    if (w->rb.err)
        log_error("awork.results_lost", "results=%u why=\"%s\"", w->nresults, err_str(w->rb.err));
    else
        send_sealed(w);
    wire_buf_reset(&w->rb);
    w->nresults = 0;
}

static int64_t on_flush_timer(loop_t *l, void *arg)
{
    (void)l;
    awork_t *w = arg;
    w->flush_timer = 0; /* this timer ends by returning LOOP_TIMER_STOP */
    flush_results(w);
    return LOOP_TIMER_STOP;
}

/* x: the VM's RESULT_EXT for a scored child, or NULL (zeros). */
static void send_result(job_t *j, int status, double fitness, const char *detail,
                        const uint8_t *src, size_t len, const pool_result_t *x)
{
    awork_t *w = j->w;
    w->held--;
    w->done++;
    if (j->cancelled || !w->sock)
        return;
    uint8_t h[CRYPTO_HASH_LEN], sig[CRYPTO_SIG_LEN];
    crypto_hash(src, len, h);
    if (status != WIRE_ST_OK)
        fitness = NAN;
    /* the breeder goes to a coordinator that reads it (its WELCOME said so);
     * a frame's items share one layout, so a frame under way keeps its own */
    if (w->nresults == 0)
        w->rb_breeder = (w->coord_features & WIRE_FEAT_BREEDER) != 0;
    attest_ext_t ext = {.with_breeder = (uint8_t)w->rb_breeder};
    memcpy(ext.breeder, j->breeder, WIRE_BREEDER_LEN);
    const double *errors = NULL;
    size_t nerrors = 0;
    if (x) {
        ext.passed = x->passed;
        ext.cases = x->cases;
        ext.cost = x->cost;
        ext.reused = x->reused ? 1 : 0;
        if (status == WIRE_ST_OK && x->nerrors <= SPEC_MAX_CASES) {
            errors = x->errors;
            nerrors = x->nerrors;
        }
    }
    attest_errors_hash(errors, nerrors, ext.errors_hash);
    if (attest_sign_v2(w->id, j->pop, j->deme, j->dseq, h, (uint8_t)status, fitness, &ext, sig) !=
        0)
        return;
    wire_put_str(&w->rb, j->pop);
    wire_put_u32(&w->rb, j->deme);
    wire_put_u64(&w->rb, j->dseq);
    wire_put_u8(&w->rb, (uint8_t)status);
    wire_put_f64(&w->rb, fitness);
    wire_put_str(&w->rb, detail ? detail : "");
    wire_put_bytes(&w->rb, src, len);
    wire_put_raw(&w->rb, sig, sizeof sig);
    wire_put_u32(&w->rb, ext.passed);
    wire_put_u32(&w->rb, ext.cases);
    wire_put_f64(&w->rb, ext.cost);
    wire_put_u8(&w->rb, ext.reused);
    wire_put_u32(&w->rb, (uint32_t)nerrors);
    for (size_t i = 0; i < nerrors; i++)
        wire_put_f64(&w->rb, errors[i]);
    if (w->rb_breeder)
        wire_put_raw(&w->rb, ext.breeder, WIRE_BREEDER_LEN);
    w->nresults++;
    if (w->nresults >= RESULTS_MAX || w->rb.len >= RESULTS_MAX_BYTES || w->draining)
        flush_results(w);
    else if (w->flush_timer <= 0)
        w->flush_timer = loop_timer_add(w->loop, RESULTS_FLUSH_MS, on_flush_timer, w);
}

static void job_free(job_t *j)
{
    free(j->spec);
    free(j);
}

typedef struct eval_ctx {
    job_t *j;
    uint8_t *src;
    size_t len;
} eval_ctx_t;

static void on_eval(void *arg, const pool_result_t *r)
{
    eval_ctx_t *e = arg;
    send_result(e->j, r->status, r->fitness, r->detail, e->src, e->len, r);
    job_free(e->j);
    free(e->src);
    free(e);
}

/* Scores src for job j (takes ownership of j; copies src). */
static void eval_source(job_t *j, const uint8_t *src, size_t len)
{
    eval_ctx_t *e = calloc(1, sizeof *e);
    if (e)
        e->src = malloc(len ? len : 1);
    if (!e || !e->src) {
        free(e);
        send_result(j, WIRE_ST_INTERNAL, NAN, "out of memory", src, len, NULL);
        job_free(j);
        return;
    }
    memcpy(e->src, src, len);
    e->len = len;
    e->j = j;
    int rc = pool_eval(j->w->pool, j->spec, j->spec_len, j->language, src, len, on_eval, e);
    if (rc != 0) {
        send_result(j, WIRE_ST_INTERNAL, NAN, err_str(rc), src, len, NULL);
        job_free(j);
        free(e->src);
        free(e);
    }
}

/* A child bred and scored in one VM request. */
static void on_bred(void *arg, const pool_result_t *r)
{
    job_t *j = arg;
    memcpy(j->breeder, r->breeder, WIRE_BREEDER_LEN);
    if (!r->source || r->source_len == 0) /* breeding failed: no child */
        send_result(j, r->status == WIRE_ST_OK ? WIRE_ST_INTERNAL : r->status, NAN, r->detail,
                    (const uint8_t *)"", 0, NULL);
    else
        send_result(j, r->status, r->fitness, r->detail, r->source, r->source_len, r);
    job_free(j);
}

static void on_child(void *arg, const pool_result_t *r)
{
    job_t *j = arg;
    memcpy(j->breeder, r->breeder, WIRE_BREEDER_LEN);
    if (r->status != WIRE_ST_OK || !r->source) {
        send_result(j, r->status == WIRE_ST_OK ? WIRE_ST_INTERNAL : r->status, NAN, r->detail,
                    (const uint8_t *)"", 0, NULL);
        job_free(j);
        return;
    }
    if (j->breed_only) {
        send_result(j, WIRE_ST_OK, NAN, "", r->source, r->source_len, NULL);
        job_free(j);
        return;
    }
    eval_source(j, r->source, r->source_len);
}

static void handle_batch(awork_t *w, wire_rd_t *r)
{
    char pop[WIRE_POP_MAX + 1];
    const uint8_t *spec = NULL;
    uint32_t spec_len = 0, n = 0;
    wire_get_str(r, pop, sizeof pop);
    wire_get_bytes(r, &spec, &spec_len, 1u << 20);
    wire_get_count(r, &n, MAX_ITEMS_PER_BATCH, 4 + 8 + 1 + 4 + 8 + 4 + 4);
    if (r->err) {
        log_warn("awork.bad_batch", "why=\"%s\"", err_str(r->err));
        return;
    }
    /* every item sent counts as received, even one dropped below: the
     * coordinator's credit arithmetic must not leak (dropped items expire
     * there and are re-issued) */
    w->received += n;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t deme = 0, np = 0, srclen = 0;
        uint64_t dseq = 0, seed = 0;
        uint8_t kind = 0;
        char op[WIRE_OP_MAX + 1];
        const uint8_t *parents[2] = {NULL, NULL}, *src = NULL;
        uint32_t plen32[2] = {0, 0};
        wire_get_u32(r, &deme);
        wire_get_u64(r, &dseq);
        wire_get_u8(r, &kind);
        wire_get_str(r, op, sizeof op);
        wire_get_u64(r, &seed);
        wire_get_count(r, &np, 2, 4);
        for (uint32_t k = 0; k < np; k++)
            wire_get_bytes(r, &parents[k], &plen32[k], 1u << 20);
        wire_get_bytes(r, &src, &srclen, 1u << 20);
        uint8_t lang = 255;
        wire_get_u8(r, &lang);
        if (r->err) {
            log_warn("awork.bad_item", "items_dropped=%u why=\"%s\"", n - i, err_str(r->err));
            return;
        }
        job_t *j = calloc(1, sizeof *j);
        if (j)
            j->spec = malloc(spec_len ? spec_len : 1);
        if (!j || !j->spec) {
            free(j);
            log_error("awork.item_dropped", "items_dropped=%u why=\"out of memory\"", n - i);
            return;
        }
        memcpy(j->spec, spec, spec_len);
        j->spec_len = spec_len;
        j->w = w;
        snprintf(j->pop, sizeof j->pop, "%s", pop);
        j->deme = deme;
        j->dseq = dseq;
        w->held++;
        j->language = lang == 255 ? -1 : lang;
        j->breed_only = kind == WIRE_ITEM_BREED;
        if (kind == WIRE_ITEM_EVAL) {
            eval_source(j, src, srclen);
        } else {
            size_t lens[2] = {plen32[0], plen32[1]};
            int rc = j->breed_only ? pool_breed(w->pool, j->spec, j->spec_len, op, seed, parents,
                                                lens, (int)np, on_child, j)
                                   : pool_breed_eval(w->pool, j->spec, j->spec_len, op, seed,
                                                     parents, lens, (int)np, on_bred, j);
            if (rc != 0) {
                send_result(j, WIRE_ST_INTERNAL, NAN, err_str(rc), (const uint8_t *)"", 0, NULL);
                job_free(j);
            }
        }
    }
}

static void handle_control(awork_t *w, wire_rd_t *r)
{
    uint32_t target = 0;
    uint8_t drain = 0;
    wire_get_u32(r, &target);
    wire_get_u8(r, &drain);
    if (r->err)
        return;
    if (target > 0) {
        int t = (int)target < w->min_vms ? w->min_vms : (int)target;
        int now = pool_set_target(w->pool, t);
        log_info("awork.scale", "asked=%u now=%d", target, now);
    }
    if (drain)
        log_info("awork.drain", "msg=\"the coordinator moves work off this agent\"");
}

static void open_session(awork_t *w, const char *why);

/* A CHALLENGE: sign it (wsess.h) and wait for WELCOME. */
static void handle_challenge(awork_t *w, const wire_hdr_t *h, wire_rd_t *r)
{
    uint8_t cnonce[WSESS_NONCE_LEN], anonce[WSESS_NONCE_LEN], sid[WSESS_SID_LEN];
    uint8_t sig[CRYPTO_SIG_LEN];
    if (wire_get_raw(r, cnonce, sizeof cnonce) != 0) {
        log_warn("awork.malformed", "why=\"challenge: %s\"", err_str(r->err));
        return;
    }
    crypto_random(anonce, sizeof anonce);
    wsess_transcript(w->id->id, w->id->pk, h->sender, w->route, cnonce, anonce, sid);
    crypto_sign(w->id, sid, sizeof sid, sig);
    wsess_init(&w->sess, sid, 1);
    set_state(w, AW_AUTH, w->state == AW_OPENING ? "challenged" : "challenged again");
    wire_buf_reset(&w->wb);
    wire_begin(&w->wb, WIRE_WORK_AUTH, 0, w->id->id);
    wire_put_raw(&w->wb, w->id->pk, CRYPTO_PK_LEN);
    wire_put_raw(&w->wb, anonce, sizeof anonce);
    wire_put_raw(&w->wb, sig, sizeof sig);
    send_handshake(w);
}

/* One session frame, opened. */
static void handle_session_frame(awork_t *w, uint8_t *plain, size_t plen)
{
    wire_hdr_t h;
    wire_rd_t r;
    int rc = wire_parse(plain, plen, &h, &r);
    w->last_rx_ms = loop_now(w->loop);
    if (rc) {
        log_warn("awork.malformed", "why=\"%s\"", err_str(rc));
    } else if (h.type == WIRE_WORK_WELCOME) {
        uint32_t features = 0; /* appended: a coordinator from before them sends none */
        if (r.left > 0)
            wire_get_u32(&r, &features);
        w->coord_features = r.err ? 0 : features;
        if (w->state == AW_AUTH) {
            w->sessions++;
            set_state(w, AW_READY, "welcomed");
            awork_announce(w);
            flush_results(w); /* any kept while there was no session */
            alive_flush(w->live);
        }
    } else if (h.type == WIRE_WORK_BATCH) {
        handle_batch(w, &r); /* the credit it takes travels with the results */
    } else if (h.type == WIRE_WORK_LIVE) {
        alive_command(w->live, &r);
        awork_announce(w); /* an individual started or stopped takes or gives credit */
    } else if (h.type == WIRE_WORK_CONTROL) {
        handle_control(w, &r);
        awork_announce(w);
    }
}

static void on_readable(loop_t *l, short revents, void *arg)
{
    (void)l;
    (void)revents;
    awork_t *w = arg;
    for (int k = 0; k < 64 && w->sock; k++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, w->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        size_t len = zmq_msg_size(&m), plen = 0;
        const uint8_t *body = zmq_msg_data(&m);
        int kind = len > 0 ? body[0] : 0, rc = ERR_CRYPTO;
        if (len <= WIRE_WORK_MAX_FRAME && ensure_buf(w, len) == 0) {
            if (kind == WSESS_KIND_HS)
                rc = wsess_open_hs(w->kr, body, len, w->buf, w->bufcap, &plen);
            else if (kind == WSESS_KIND_SESSION && (w->state == AW_AUTH || w->state == AW_READY))
                rc = wsess_open(&w->sess, w->kr, body, len, w->buf, w->bufcap, &plen);
        }
        zmq_msg_close(&m);
        if (rc) {
            log_warn("awork.unsealed", "bytes=%zu kind=%d why=\"%s\" msg=\"dropped\"", len, kind,
                     err_str(rc));
            continue;
        }
        /* the batch is parsed from a copy; results reuse w->wb, not w->buf */
        uint8_t *plain = malloc(plen);
        if (!plain)
            continue;
        memcpy(plain, w->buf, plen);
        if (kind == WSESS_KIND_HS) {
            wire_hdr_t h;
            wire_rd_t r;
            if (wire_parse(plain, plen, &h, &r) == 0 && h.type == WIRE_WORK_CHALLENGE)
                handle_challenge(w, &h, &r);
            else
                log_warn("awork.malformed", "why=\"not a challenge\"");
        } else {
            handle_session_frame(w, plain, plen);
        }
        free(plain);
    }
}

static int64_t on_hello_timer(loop_t *l, void *arg)
{
    awork_t *w = arg;
    uint64_t now = loop_now(l);
    if (!w->sock) {
        if (w->endpoint[0]) /* the last connect failed */
            open_session(w, "retrying the connection");
        return HELLO_EVERY_MS;
    }
    if (w->state == AW_READY && now - w->last_rx_ms > SESSION_SILENT_MS)
        open_session(w, "the coordinator fell silent");
    else if (w->state != AW_READY && now - w->state_ms > HANDSHAKE_MS)
        open_session(w, "the handshake did not finish");
    else
        awork_announce(w);
    return HELLO_EVERY_MS;
}

awork_t *awork_new(loop_t *l, pool_t *pool, const node_identity_t *id, keyring_t *kr,
                   const char *name, int per_vm, int min_vms, int max_live, char *err,
                   size_t errlen)
{
    awork_t *w = calloc(1, sizeof *w);
    /* A context (an I/O thread) of its own: libzmq resolves the
     * coordinator's host name on its I/O thread, synchronously, at every
     * reconnect; a slow DNS answer must not stall gossip's sockets too. */
    void *zctx = w ? zmq_ctx_new() : NULL;
    if (!zctx) {
        snprintf(err, errlen, "out of memory");
        free(w);
        return NULL;
    }
    w->loop = l;
    w->zctx = zctx;
    w->pool = pool;
    w->id = id;
    w->kr = kr;
    w->per_vm = per_vm > 0 ? per_vm : 1;
    w->min_vms = min_vms > 0 ? min_vms : 1;
    snprintf(w->name, sizeof w->name, "%s", name);
    wire_buf_init(&w->wb);
    wire_buf_init(&w->rb);
    w->live = alive_new(l, pool, id, max_live, send_live, w);
    if (!w->live) {
        snprintf(err, errlen, "out of memory");
        wire_buf_free(&w->wb);
        wire_buf_free(&w->rb);
        zmq_ctx_term(zctx);
        free(w);
        return NULL;
    }
    w->hello_timer = loop_timer_add(l, HELLO_EVERY_MS, on_hello_timer, w);
    return w;
}

static void close_socket(awork_t *w)
{
    if (!w->sock)
        return;
    loop_sock_del(w->loop, w->sock);
    zmq_close(w->sock);
    w->sock = NULL;
}

static void disconnect(awork_t *w)
{
    flush_results(w);
    close_socket(w);
    w->endpoint[0] = '\0';
    set_state(w, AW_IDLE, "disconnected");
}

/* A new connection to w->endpoint with a new random routing id (a routing
 * id in use at the ROUTER, e.g. squatted, would shut this one out), and
 * the handshake's first frame. */
static void open_session(awork_t *w, const char *why)
{
    close_socket(w);
    if (w->sessions || w->state != AW_IDLE)
        w->restarts++;
    crypto_random(w->route, sizeof w->route);
    w->route[0] |= 0x80; /* a routing id must not start with a zero byte */
    w->sock = zmq_socket(w->zctx, ZMQ_DEALER);
    if (!w->sock) {
        log_error("awork.socket", "why=\"%s\"", zmq_strerror(errno));
        return;
    }
    int zero = 0, hwm = 10000;
    int64_t maxmsg = WIRE_WORK_MAX_FRAME + 1024;
    zmq_setsockopt(w->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(w->sock, ZMQ_ROUTING_ID, w->route, sizeof w->route);
    zmq_setsockopt(w->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(w->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (zmq_connect(w->sock, w->endpoint) != 0) {
        log_warn("awork.connect_failed", "endpoint=%s why=\"%s\"", w->endpoint,
                 zmq_strerror(errno));
        close_socket(w);
        return;
    }
    loop_sock_add(w->loop, w->sock, ZMQ_POLLIN, on_readable, w);
    char rhex[2 * WSESS_ROUTE_LEN + 1];
    crypto_hex(w->route, sizeof w->route, rhex);
    log_info("awork.connect", "endpoint=%s route=%s why=\"%s\"", w->endpoint, rhex, why);
    set_state(w, AW_OPENING, why);
    wire_buf_reset(&w->wb);
    wire_begin(&w->wb, WIRE_WORK_OPEN, 0, w->id->id);
    send_handshake(w);
}

void awork_set_coordinator(awork_t *w, const char *endpoint)
{
    if (endpoint && strcmp(endpoint, w->endpoint) == 0)
        return;
    disconnect(w);
    if (!endpoint || !*endpoint)
        return;
    snprintf(w->endpoint, sizeof w->endpoint, "%s", endpoint);
    log_info("awork.coordinator", "endpoint=%s", endpoint);
    open_session(w, "a coordinator to work for");
}

void awork_drain(awork_t *w)
{
    w->draining = 1;
    flush_results(w);
    awork_announce(w);
    alive_stop_all(w->live);
}

int awork_live_count(const awork_t *w)
{
    return alive_count(w->live);
}

const char *awork_coordinator(const awork_t *w)
{
    return w->endpoint;
}

void awork_destroy(awork_t **pw)
{
    if (!pw || !*pw)
        return;
    awork_t *w = *pw;
    alive_destroy(&w->live); /* their VMs killed: a stop had its chance in awork_drain */
    disconnect(w);
    loop_timer_del(w->loop, w->hello_timer);
    wire_buf_free(&w->wb);
    wire_buf_free(&w->rb);
    zmq_ctx_term(w->zctx);
    free(w->buf);
    free(w);
    *pw = NULL;
}

int awork_held(const awork_t *w)
{
    return w->held;
}

json_t *awork_status_json(const awork_t *w)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:i, s:i, s:i, s:I, s:I, s:o}", "coordinator",
                     w->endpoint, "session", aw_state_names[w->state], "sessions",
                     (json_int_t)w->sessions, "session_restarts", (json_int_t)w->restarts, "held",
                     w->held, "credit", credit(w), "batch_vms", w->draining ? 0 : batch_vms(w),
                     "received", (json_int_t)w->received, "done", (json_int_t)w->done, "live",
                     alive_status_json(w->live));
}
