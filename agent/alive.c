/* alive.c - the agent daemon's live individuals (alive.h): commands in,
 * one live_host per individual, signed events and status reports out. */
#include "alive.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest.h"
#include "err.h"
#include "live_host.h"
#include "live_spec.h"
#include "log.h"
#include "wire_live.h"

#define SRC_MAX (1u << 20) /* a genome in a command (the VM's loader caps it further) */
#define MAX_PARENTS 2

enum up_state { UP_WAITING, UP_BREEDING, UP_IN_HOST };

typedef struct aup {
    uint64_t id, seed;
    char op[WIRE_OP_MAX + 1];
    uint8_t *parents[MAX_PARENTS];
    size_t plen[MAX_PARENTS];
    uint32_t nparents;
    uint8_t *src; /* external or pin: the child; else NULL until bred */
    size_t len;
    uint32_t probation;
    uint8_t judge;
    int bred; /* the agent bred it: its source goes with its events */
    int state;
} aup_t;

typedef struct indiv {
    alive_t *a;
    char pop[WIRE_POP_MAX + 1];
    uint32_t ind;
    uint64_t incarnation;
    char name[WIRE_POP_MAX + 16];
    live_host_t *host;
    live_spec_t spec;
    live_trace_t trace;
    uint8_t *breed_spec;
    size_t breed_spec_len;
    uint8_t language;
    aup_t *ups; /* in arrival order; removed once settled */
    size_t nups;
    uint64_t breed_req;
    int ended, stopped_sent;
} indiv_t;

typedef struct waiting {
    uint8_t *frame;
    size_t len;
} waiting_t;

struct alive {
    loop_t *loop;
    const pool_t *pool;
    const node_identity_t *id;
    int max;
    alive_send_fn send;
    void *send_arg;
    indiv_t **inds;
    size_t n;
    int64_t status_timer, sweep_timer;
    waiting_t *wait;
    size_t nwait;
    uint64_t commands, events, events_dropped, started, failed;
    int stopping; /* the agent shuts down: no new individual */
    wire_buf_t wb;
};

/* ---- sending ---- */

static void send_or_keep(alive_t *a)
{
    if (wire_end(&a->wb) != 0) {
        log_error("live.frame_lost", "why=\"%s\"", err_str(a->wb.err));
        a->events_dropped++;
        return;
    }
    if (a->nwait == 0 && a->send(a->send_arg, a->wb.data, a->wb.len) == 0)
        return;
    if (a->nwait == ALIVE_MAX_WAITING) {
        a->events_dropped++;
        log_warn("live.event_dropped", "msg=\"no session and %d events waiting\"",
                 ALIVE_MAX_WAITING);
        return;
    }
    uint8_t *copy = malloc(a->wb.len);
    waiting_t *nw = realloc(a->wait, (a->nwait + 1) * sizeof *nw);
    if (!copy || !nw) {
        free(copy);
        if (nw)
            a->wait = nw;
        a->events_dropped++;
        return;
    }
    a->wait = nw;
    memcpy(copy, a->wb.data, a->wb.len);
    a->wait[a->nwait++] = (waiting_t){copy, a->wb.len};
}

void alive_flush(alive_t *a)
{
    if (a->nwait == 0)
        return;
    size_t i = 0;
    while (i < a->nwait && a->send(a->send_arg, a->wait[i].frame, a->wait[i].len) == 0)
        free(a->wait[i++].frame);
    memmove(a->wait, a->wait + i, (a->nwait - i) * sizeof *a->wait);
    a->nwait -= i;
    if (i)
        log_info("live.events_flushed", "events=%zu left=%zu", i, a->nwait);
}

/* 32 raw bytes from the VM's hex SHA-256; zeros when empty or not hex. */
static void unhex32(const char *hex, uint8_t out[CRYPTO_HASH_LEN])
{
    if (strlen(hex) != 2 * CRYPTO_HASH_LEN || crypto_unhex(hex, out, CRYPTO_HASH_LEN) != 0)
        memset(out, 0, CRYPTO_HASH_LEN);
}

/* What one LIVE_EVENT says besides the VM's event. */
typedef struct evx {
    int kind;
    const aup_t *u;              /* the upgrade it is about, or NULL */
    const uint8_t *src, *parent; /* sources hashed (parent NULL = zeros) */
    size_t src_len, parent_len;
    const uint8_t *snapshot, *body; /* snapshot and source fields (NULL = empty) */
    size_t snapshot_len, body_len;
} evx_t;

static void send_event(indiv_t *d, const wire_live_event_t *e, const evx_t *x)
{
    alive_t *a = d->a;
    uint8_t child_hash[CRYPTO_HASH_LEN], sig[CRYPTO_SIG_LEN];
    attest_live_t at = {.kind = (uint8_t)x->kind,
                        .status = (uint8_t)wire_live_status(x->kind),
                        .version = e->version,
                        .parent_score = e->parent_score,
                        .child_score = e->child_score,
                        .probation = e->probation};
    crypto_hash(x->src ? x->src : (const uint8_t *)"", x->src_len, child_hash);
    if (x->parent)
        crypto_hash(x->parent, x->parent_len, at.parent_hash);
    unhex32(e->state_before, at.state_before);
    unhex32(e->state_after, at.state_after);
    size_t rlen = strnlen(e->reason, WIRE_LIVE_REASON_MAX - 1);
    attest_reason_hash(e->reason, rlen, at.reason_hash);
    uint64_t upid = x->u ? x->u->id : e->upgrade_id;
    if (attest_sign_live(a->id, d->pop, d->ind, upid, child_hash, &at, sig) != 0) {
        log_error("live.sign_failed", "individual=%s", d->name);
        return;
    }
    size_t snap_len = x->snapshot_len <= WIRE_LIVE_SNAPSHOT_MAX ? x->snapshot_len : 0;
    wire_buf_reset(&a->wb);
    wire_begin(&a->wb, WIRE_WORK_LIVE_EVENT, 0, a->id->id);
    wire_put_str(&a->wb, d->pop);
    wire_put_u32(&a->wb, d->ind);
    wire_put_u64(&a->wb, d->incarnation);
    wire_put_u8(&a->wb, (uint8_t)x->kind);
    wire_put_u64(&a->wb, upid);
    wire_put_u32(&a->wb, e->version);
    wire_put_u64(&a->wb, e->at_seq);
    wire_put_str(&a->wb, x->u ? x->u->op : "");
    wire_put_u64(&a->wb, x->u ? x->u->seed : 0);
    wire_put_raw(&a->wb, child_hash, CRYPTO_HASH_LEN);
    wire_put_raw(&a->wb, at.parent_hash, CRYPTO_HASH_LEN);
    wire_put_raw(&a->wb, at.state_before, CRYPTO_HASH_LEN);
    wire_put_raw(&a->wb, at.state_after, CRYPTO_HASH_LEN);
    wire_put_f64(&a->wb, e->parent_score);
    wire_put_f64(&a->wb, e->child_score);
    wire_put_u32(&a->wb, e->probation);
    char reason[WIRE_LIVE_REASON_MAX];
    snprintf(reason, sizeof reason, "%.*s", (int)rlen, e->reason);
    wire_put_str(&a->wb, reason);
    wire_put_bytes(&a->wb, snap_len ? x->snapshot : NULL, snap_len);
    wire_put_bytes(&a->wb, x->body, x->body ? x->body_len : 0);
    wire_put_raw(&a->wb, sig, CRYPTO_SIG_LEN);
    a->events++;
    char q[WIRE_LIVE_REASON_MAX + 8];
    log_info("live.event",
             "individual=%s incarnation=%llu kind=%s upgrade_id=%llu version=%u op=%s reason=%s",
             d->name, (unsigned long long)d->incarnation, wire_live_event_str(x->kind),
             (unsigned long long)upid, e->version, x->u ? x->u->op : "",
             log_quote(reason, q, sizeof q));
    send_or_keep(a);
}

/* An event the agent says by itself (no VM event behind it). */
static void agent_event(indiv_t *d, int kind, const aup_t *u, const char *reason,
                        const uint8_t *src, size_t len)
{
    wire_live_event_t e = {.kind = (uint8_t)kind,
                           .upgrade_id = u ? u->id : 0,
                           .parent_score = NAN,
                           .child_score = NAN};
    const uint8_t *parent = NULL;
    size_t parent_len = 0;
    if (d->host) {
        e.version = live_host_good(d->host, &parent, &parent_len);
        if (!u) { /* about the running version */
            src = parent;
            len = parent_len;
            parent = NULL;
        }
    }
    snprintf(e.reason, sizeof e.reason, "%s", reason);
    evx_t x = {.kind = kind,
               .u = u,
               .src = src,
               .src_len = len,
               .parent = u ? parent : NULL,
               .parent_len = parent_len,
               .body = u && u->bred ? src : NULL,
               .body_len = len};
    send_event(d, &e, &x);
}

/* A failed event for a command that names no individual hosted here. */
static void refuse_command(alive_t *a, const char *pop, uint32_t ind, uint64_t inc, const char *why,
                           const uint8_t *src, size_t len)
{
    indiv_t d = {.a = a, .ind = ind, .incarnation = inc};
    snprintf(d.pop, sizeof d.pop, "%s", pop);
    snprintf(d.name, sizeof d.name, "%s/%u", pop, ind);
    agent_event(&d, WIRE_LIVE_FAILED, NULL, why, src, len);
}

/* ---- individuals ---- */

static void up_free(aup_t *u)
{
    for (uint32_t i = 0; i < u->nparents; i++)
        free(u->parents[i]);
    free(u->src);
}

static void up_remove(indiv_t *d, size_t i)
{
    up_free(&d->ups[i]);
    memmove(&d->ups[i], &d->ups[i + 1], (d->nups - i - 1) * sizeof *d->ups);
    d->nups--;
}

static aup_t *up_find(indiv_t *d, uint64_t id, size_t *at)
{
    for (size_t i = 0; i < d->nups; i++)
        if (d->ups[i].id == id) {
            if (at)
                *at = i;
            return &d->ups[i];
        }
    return NULL;
}

static void indiv_free(indiv_t *d)
{
    live_host_destroy(&d->host);
    for (size_t i = 0; i < d->nups; i++)
        up_free(&d->ups[i]);
    free(d->ups);
    live_trace_free(&d->trace);
    live_spec_free(&d->spec);
    free(d->breed_spec);
    free(d);
}

static int64_t on_sweep(loop_t *l, void *arg)
{
    (void)l;
    alive_t *a = arg;
    a->sweep_timer = 0;
    for (size_t i = 0; i < a->n;) {
        if (a->inds[i]->ended) {
            log_info("live.forgotten", "individual=%s", a->inds[i]->name);
            indiv_free(a->inds[i]);
            a->inds[i] = a->inds[--a->n];
        } else {
            i++;
        }
    }
    return LOOP_TIMER_STOP;
}

/* The head of the queue to the host, breeding it first when it must be. */
static void advance(indiv_t *d)
{
    for (size_t i = 0; d->host && i < d->nups; i++) {
        aup_t *u = &d->ups[i];
        if (u->state == UP_BREEDING)
            return; /* later ones wait for it */
        if (u->state == UP_IN_HOST)
            continue;
        if (!u->src) {
            int rc =
                live_host_breed(d->host, u->id, d->breed_spec, d->breed_spec_len, u->op, u->seed,
                                (const uint8_t *const *)u->parents, u->plen, u->nparents);
            if (rc == 0)
                u->state = UP_BREEDING;
            else if (rc != ERR_STATE)
                log_warn("live.breed_deferred", "individual=%s upgrade_id=%llu why=\"%s\"", d->name,
                         (unsigned long long)u->id, err_str(rc));
            return;
        }
        int rc = live_host_upgrade(d->host, u->id, u->src, u->len, u->probation, u->judge, 0);
        if (rc != 0) {
            char why[128];
            snprintf(why, sizeof why, "the agent could not queue the upgrade: %s", err_str(rc));
            agent_event(d, WIRE_LIVE_REFUSED, u, why, u->src, u->len);
            up_remove(d, i--);
            continue;
        }
        u->state = UP_IN_HOST;
    }
}

static void on_child(live_host_t *h, uint64_t req, int status, const uint8_t *src, size_t len,
                     const char *detail, void *arg)
{
    indiv_t *d = arg;
    (void)h;
    size_t at;
    aup_t *u = up_find(d, req, &at);
    if (!u || u->state != UP_BREEDING)
        return;
    if (status != WIRE_ST_OK || !src || len == 0) {
        char why[WIRE_LIVE_REASON_MAX];
        snprintf(why, sizeof why, "breeding failed: %s: %.900s",
                 wire_status_str(status == WIRE_ST_OK ? WIRE_ST_INTERNAL : status), detail);
        agent_event(d, WIRE_LIVE_REFUSED, u, why, NULL, 0);
        up_remove(d, at);
    } else if (!(u->src = malloc(len))) {
        agent_event(d, WIRE_LIVE_REFUSED, u, "out of memory", NULL, 0);
        up_remove(d, at);
    } else {
        memcpy(u->src, src, len);
        u->len = len;
        u->bred = 1;
        u->state = UP_WAITING;
    }
    advance(d);
}

/* The individual ends: upgrades not judged yet (waiting, breeding, on
 * probation) are answered before its last event. */
static void answer_pending(indiv_t *d)
{
    while (d->nups) {
        aup_t *u = &d->ups[0];
        agent_event(d, WIRE_LIVE_REFUSED, u, "the individual ended before the upgrade was judged",
                    u->src, u->len);
        up_remove(d, 0);
    }
}

static void on_event(live_host_t *h, const live_host_event_t *ev, void *arg)
{
    indiv_t *d = arg;
    (void)h;
    const wire_live_event_t *e = ev->e;
    int kind = e->kind;
    if (kind == WIRE_LIVE_FAILED) { /* said once, when the host gives up (on_ended) */
        char q[WIRE_LIVE_REASON_MAX + 8];
        log_warn("live.vm_failed", "individual=%s reason=%s", d->name,
                 log_quote(e->reason, q, sizeof q));
        return;
    }
    if (kind == WIRE_LIVE_STARTED && ev->resumed)
        kind = WIRE_LIVE_RESTARTED; /* resumed on a fresh VM at the last good version */
    size_t at = 0;
    aup_t *u = e->upgrade_id ? up_find(d, e->upgrade_id, &at) : NULL;
    evx_t x = {.kind = kind,
               .u = u,
               .src = ev->src,
               .src_len = ev->src_len,
               .parent = ev->parent_src,
               .parent_len = ev->parent_len,
               .snapshot = e->snapshot,
               .snapshot_len = e->snapshot_len,
               .body = u && u->bred ? ev->src : NULL,
               .body_len = ev->src_len};
    if (kind == WIRE_LIVE_RESTARTED && !ev->resumed) /* the VM's: its last good state */
        live_host_good_snapshot(d->host, &x.snapshot, &x.snapshot_len);
    if (kind == WIRE_LIVE_STOPPED) {
        answer_pending(d);
        d->stopped_sent = 1;
    }
    send_event(d, e, &x);
    if (u &&
        (kind == WIRE_LIVE_PROMOTED || kind == WIRE_LIVE_ROLLBACK || kind == WIRE_LIVE_REFUSED))
        up_remove(d, at);
    if (kind == WIRE_LIVE_STARTED || kind == WIRE_LIVE_RESTARTED)
        advance(d); /* upgrades that waited for a running individual */
}

static void on_ended(live_host_t *h, int failed, const char *why, void *arg)
{
    indiv_t *d = arg;
    (void)h;
    answer_pending(d);
    if (failed) {
        d->a->failed++;
        agent_event(d, WIRE_LIVE_FAILED, NULL, why, NULL, 0);
    } else if (!d->stopped_sent) {
        agent_event(d, WIRE_LIVE_STOPPED, NULL, why, NULL, 0);
    }
    d->ended = 1;
    log_info("live.ended", "individual=%s failed=%d why=\"%s\"", d->name, failed, why);
    if (d->a->sweep_timer <= 0) /* never free a host inside its own callback */
        d->a->sweep_timer = loop_timer_add(d->a->loop, 0, on_sweep, d->a);
}

static indiv_t *find(alive_t *a, const char *pop, uint32_t ind)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->inds[i]->ind == ind && !strcmp(a->inds[i]->pop, pop))
            return a->inds[i];
    return NULL;
}

/* ---- commands ---- */

static void cmd_start(alive_t *a, const char *pop, uint32_t ind, uint64_t inc, wire_rd_t *r)
{
    const uint8_t *spec = NULL, *trace = NULL, *bspec = NULL, *src = NULL, *snap = NULL;
    uint32_t spec_len = 0, trace_len = 0, bspec_len = 0, src_len = 0, snap_len = 0;
    uint32_t version = 0, next_version = 0;
    uint8_t lang = 0;
    wire_get_bytes(r, &spec, &spec_len, WIRE_WORK_MAX_FRAME);
    wire_get_bytes(r, &trace, &trace_len, WIRE_WORK_MAX_FRAME);
    wire_get_bytes(r, &bspec, &bspec_len, WIRE_WORK_MAX_FRAME);
    wire_get_u8(r, &lang);
    wire_get_bytes(r, &src, &src_len, SRC_MAX);
    wire_get_u32(r, &version);
    wire_get_bytes(r, &snap, &snap_len, WIRE_LIVE_SNAPSHOT_MAX);
    wire_get_u32(r, &next_version);
    char why[600];
    if (r->err) {
        snprintf(why, sizeof why, "malformed START: %s", err_str(r->err));
        refuse_command(a, pop, ind, inc, why, NULL, 0);
        return;
    }
    indiv_t *old = find(a, pop, ind);
    if (old && old->incarnation == inc && !old->ended) {
        log_info("live.start_again", "individual=%s incarnation=%llu msg=\"running: ignored\"",
                 old->name, (unsigned long long)inc);
        return;
    }
    if (old) { /* an older placement of it: this one replaces it */
        log_info("live.replaced", "individual=%s incarnation=%llu by=%llu", old->name,
                 (unsigned long long)old->incarnation, (unsigned long long)inc);
        for (size_t i = 0; i < a->n; i++)
            if (a->inds[i] == old)
                a->inds[i] = a->inds[--a->n];
        indiv_free(old);
    }
    int hosted = 0; /* one that said `stopped` is on its way out */
    for (size_t i = 0; i < a->n; i++)
        hosted += !a->inds[i]->ended && !a->inds[i]->stopped_sent;
    if (hosted >= a->max) {
        snprintf(why, sizeof why,
                 "this agent hosts %d live individuals already ([live] "
                 "max_individuals)",
                 a->max);
        refuse_command(a, pop, ind, inc, why, src, src_len);
        return;
    }
    if (a->stopping) {
        refuse_command(a, pop, ind, inc, "the agent is shutting down", src, src_len);
        return;
    }
    if (lang > 1 || src_len == 0) {
        snprintf(why, sizeof why, lang > 1 ? "unknown language %u" : "no source to run", lang);
        refuse_command(a, pop, ind, inc, why, src, src_len);
        return;
    }
    indiv_t *d = calloc(1, sizeof *d);
    if (!d) {
        refuse_command(a, pop, ind, inc, "out of memory", src, src_len);
        return;
    }
    d->a = a;
    snprintf(d->pop, sizeof d->pop, "%s", pop);
    d->ind = ind;
    d->incarnation = inc;
    d->language = lang;
    snprintf(d->name, sizeof d->name, "%s/%u", pop, ind);
    char err[512] = "";
    int rc = live_spec_parse((const char *)spec, spec_len, &d->spec, err, sizeof err);
    if (!rc)
        rc = live_trace_parse((const char *)trace, trace_len, &d->spec, &d->trace, err, sizeof err);
    if (!rc && !(d->breed_spec = malloc(bspec_len ? bspec_len : 1)))
        rc = -ENOMEM;
    if (rc) {
        snprintf(why, sizeof why, "bad live spec: %s", rc == -ENOMEM ? err_str(rc) : err);
        refuse_command(a, pop, ind, inc, why, src, src_len);
        indiv_free(d);
        return;
    }
    if (!a->pool) { /* a unit test's or fuzzer's: no VM to run it on */
        refuse_command(a, pop, ind, inc, "this agent runs no VMs", src, src_len);
        indiv_free(d);
        return;
    }
    memcpy(d->breed_spec, bspec, bspec_len);
    d->breed_spec_len = bspec_len;
    wire_live_start_t st = d->spec.start;
    st.source = src;
    st.source_len = src_len;
    st.version = version ? version : 1;
    st.snapshot = snap_len ? snap : NULL;
    st.snapshot_len = snap_len;
    st.next_version = next_version;
    st.language = lang;
    double rate = d->spec.rate;
    uint32_t tick = rate > 0 ? (uint32_t)(500.0 * d->spec.batch / rate) : 1;
    live_host_opts_t o = {.so = {.erl = pool_erl(a->pool),
                                 .code_path = pool_code_path(a->pool),
                                 .elixir_path = pool_elixir(a->pool),
                                 .slots = 1,
                                 .index = (int)ind},
                          .live_id = 1,
                          .start = &st,
                          .trace = &d->trace,
                          .rate = rate,
                          .batch = d->spec.batch,
                          .loop_trace = 1,
                          .reap = 0, /* the pool's SIGCHLD handler reaps every child */
                          .tick_ms = tick < 1    ? 1
                                     : tick > 20 ? 20
                                                 : tick,
                          .max_upgrades = ALIVE_MAX_QUEUED,
                          .name = d->name};
    live_host_cb_t cb = {.event = on_event, .child = on_child, .ended = on_ended};
    indiv_t **ni = realloc(a->inds, (a->n + 1) * sizeof *ni);
    if (ni)
        a->inds = ni;
    d->host = ni ? live_host_new(a->loop, &o, &cb, d, err, sizeof err) : NULL;
    if (!d->host) {
        snprintf(why, sizeof why, "cannot start a VM: %s", ni ? err : "out of memory");
        refuse_command(a, pop, ind, inc, why, src, src_len);
        indiv_free(d);
        return;
    }
    a->inds[a->n++] = d;
    a->started++;
    log_info("live.start",
             "individual=%s incarnation=%llu version=%u language=%s requests=%zu rate=%g "
             "snapshot_bytes=%u",
             d->name, (unsigned long long)inc, st.version, lang ? "elixir" : "erlang", d->trace.n,
             rate, snap_len);
}

static void cmd_upgrade(alive_t *a, indiv_t *d, wire_rd_t *r)
{
    aup_t u = {.judge = 1};
    const uint8_t *src = NULL, *parents[MAX_PARENTS] = {NULL, NULL};
    uint32_t src_len = 0, plen[MAX_PARENTS] = {0, 0};
    wire_get_u64(r, &u.id);
    wire_get_str(r, u.op, sizeof u.op);
    wire_get_u64(r, &u.seed);
    wire_get_count(r, &u.nparents, MAX_PARENTS, 4);
    for (uint32_t i = 0; i < u.nparents; i++)
        wire_get_bytes(r, &parents[i], &plen[i], SRC_MAX);
    wire_get_bytes(r, &src, &src_len, SRC_MAX);
    wire_get_u32(r, &u.probation);
    wire_get_u8(r, &u.judge);
    char why[200];
    if (r->err) {
        snprintf(why, sizeof why, "malformed UPGRADE: %s", err_str(r->err));
        agent_event(d, WIRE_LIVE_REFUSED, &u, why, NULL, 0);
        return;
    }
    int given = !strcmp(u.op, "external") || !strcmp(u.op, "pin");
    const char *bad = NULL;
    if (u.id == 0 || up_find(d, u.id, NULL))
        bad = "the upgrade id is 0 or in use";
    else if (d->nups >= ALIVE_MAX_QUEUED)
        bad = "too many upgrades waiting for this individual";
    else if (given && src_len == 0)
        bad = "no source for an external or pinned child";
    else if (!given && u.nparents == 0)
        bad = "no parents to breed from";
    else if (!given && d->breed_spec_len == 0)
        bad = "no breed spec to breed with (START gave none)";
    else if (d->ended || live_host_ended(d->host))
        bad = "the individual has ended";
    if (bad) {
        agent_event(d, WIRE_LIVE_REFUSED, &u, bad, src, src_len);
        return;
    }
    aup_t *nu = realloc(d->ups, (d->nups + 1) * sizeof *nu);
    if (!nu) {
        agent_event(d, WIRE_LIVE_REFUSED, &u, "out of memory", src, src_len);
        return;
    }
    d->ups = nu;
    int oom = 0;
    if (given) {
        oom |= !(u.src = malloc(src_len));
        if (u.src) {
            memcpy(u.src, src, src_len);
            u.len = src_len;
        }
        u.nparents = 0;
    } else {
        for (uint32_t i = 0; i < u.nparents; i++) {
            oom |= !(u.parents[i] = malloc(plen[i] ? plen[i] : 1));
            if (u.parents[i] && plen[i])
                memcpy(u.parents[i], parents[i], plen[i]);
            u.plen[i] = plen[i];
        }
    }
    if (oom) {
        up_free(&u);
        agent_event(d, WIRE_LIVE_REFUSED, &u, "out of memory", NULL, 0);
        return;
    }
    d->ups[d->nups++] = u;
    log_info("live.upgrade",
             "individual=%s upgrade_id=%llu op=%s seed=%llu judge=%u "
             "probation=%u queued=%zu",
             d->name, (unsigned long long)u.id, u.op, (unsigned long long)u.seed, u.judge,
             u.probation, d->nups);
    advance(d);
}

void alive_command(alive_t *a, wire_rd_t *r)
{
    char pop[WIRE_POP_MAX + 1];
    uint32_t ind = 0;
    uint64_t inc = 0;
    uint8_t cmd = 0;
    wire_get_str(r, pop, sizeof pop);
    wire_get_u32(r, &ind);
    wire_get_u64(r, &inc);
    wire_get_u8(r, &cmd);
    if (r->err) {
        log_warn("live.bad_command", "why=\"%s\" msg=\"dropped\"", err_str(r->err));
        return;
    }
    a->commands++;
    if (cmd == WIRE_LIVE_CMD_START) {
        cmd_start(a, pop, ind, inc, r);
        return;
    }
    indiv_t *d = find(a, pop, ind);
    char why[200];
    if (!d || d->incarnation != inc || cmd >= WIRE_LIVE_CMD__COUNT) {
        if (cmd >= WIRE_LIVE_CMD__COUNT)
            snprintf(why, sizeof why, "unknown live command %u", cmd);
        else if (!d)
            snprintf(why, sizeof why, "no live individual %s/%u on this agent", pop, ind);
        else
            snprintf(why, sizeof why, "incarnation %llu is not the one here (%llu)",
                     (unsigned long long)inc, (unsigned long long)d->incarnation);
        refuse_command(a, pop, ind, inc, why, NULL, 0);
        return;
    }
    if (cmd == WIRE_LIVE_CMD_UPGRADE) {
        cmd_upgrade(a, d, r);
    } else {
        log_info("live.stop", "individual=%s incarnation=%llu", d->name, (unsigned long long)inc);
        live_host_stop(d->host);
    }
}

/* ---- status ---- */

static int64_t on_status(loop_t *l, void *arg)
{
    (void)l;
    alive_t *a = arg;
    uint32_t n = 0;
    for (size_t i = 0; i < a->n; i++)
        n += !a->inds[i]->ended;
    if (n == 0)
        return ALIVE_STATUS_EVERY_MS;
    wire_buf_reset(&a->wb);
    wire_begin(&a->wb, WIRE_WORK_LIVE_STATUS, 0, a->id->id);
    wire_put_u32(&a->wb, n);
    for (size_t i = 0; i < a->n; i++) {
        indiv_t *d = a->inds[i];
        if (d->ended)
            continue;
        live_host_stats_t st;
        live_host_stats(d->host, &st, 1);
        wire_put_str(&a->wb, d->pop);
        wire_put_u32(&a->wb, d->ind);
        wire_put_u64(&a->wb, d->incarnation);
        wire_put_u32(&a->wb, st.version);
        wire_put_u64(&a->wb, st.answered);
        wire_put_u64(&a->wb, st.correct);
        wire_put_u64(&a->wb, st.wrong);
        wire_put_u64(&a->wb, st.failed);
        wire_put_f64(&a->wb, st.fitness);
        wire_put_u64(&a->wb, st.p50_us);
        wire_put_u64(&a->wb, st.p99_us);
        wire_put_u64(&a->wb, st.lost);
        wire_put_u64(&a->wb, st.twice);
        wire_put_u8(&a->wb, (uint8_t)st.on_probation);
        advance(d); /* a breeding deferred while its VM restarted */
    }
    if (wire_end(&a->wb) == 0)
        (void)a->send(a->send_arg, a->wb.data, a->wb.len); /* no session: not kept */
    return ALIVE_STATUS_EVERY_MS;
}

/* ---- the API ---- */

alive_t *alive_new(loop_t *l, const pool_t *pool, const node_identity_t *id, int max_individuals,
                   alive_send_fn send, void *send_arg)
{
    alive_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->loop = l;
    a->pool = pool;
    a->id = id;
    a->max = max_individuals >= 0 ? max_individuals : ALIVE_DEFAULT_MAX;
    a->send = send;
    a->send_arg = send_arg;
    wire_buf_init(&a->wb);
    a->status_timer = loop_timer_add(l, ALIVE_STATUS_EVERY_MS, on_status, a);
    return a;
}

void alive_destroy(alive_t **pa)
{
    if (!pa || !*pa)
        return;
    alive_t *a = *pa;
    for (size_t i = 0; i < a->n; i++)
        indiv_free(a->inds[i]);
    free(a->inds);
    for (size_t i = 0; i < a->nwait; i++)
        free(a->wait[i].frame);
    free(a->wait);
    loop_timer_del(a->loop, a->status_timer);
    if (a->sweep_timer > 0)
        loop_timer_del(a->loop, a->sweep_timer);
    wire_buf_free(&a->wb);
    free(a);
    *pa = NULL;
}

void alive_stop_all(alive_t *a)
{
    a->stopping = 1;
    for (size_t i = 0; i < a->n; i++)
        if (!a->inds[i]->ended)
            live_host_stop(a->inds[i]->host);
}

int alive_count(const alive_t *a)
{
    int n = 0;
    for (size_t i = 0; i < a->n; i++)
        n += !a->inds[i]->ended;
    return n;
}

json_t *alive_status_json(const alive_t *a)
{
    json_t *list = json_array();
    for (size_t i = 0; i < a->n; i++) {
        indiv_t *d = a->inds[i];
        live_host_stats_t st;
        live_host_stats(d->host, &st, 0);
        json_t *o = json_pack(
            "{s:s, s:I, s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:i}", "individual", d->name,
            "incarnation", (json_int_t)d->incarnation, "version", (json_int_t)st.version, "ended",
            d->ended, "requests", (json_int_t)st.answered, "correct", (json_int_t)st.correct,
            "restarts", (json_int_t)st.restarts, "promoted", (json_int_t)st.promoted, "rolled_back",
            (json_int_t)st.rolled_back, "upgrades_waiting", (int)d->nups);
        json_object_set_new(o, "fitness",
                            isfinite(st.fitness) ? json_real(st.fitness) : json_null());
        json_object_set_new(o, "vm_pid", json_integer(d->host ? live_host_pid(d->host) : 0));
        json_array_append_new(list, o);
    }
    return json_pack("{s:i, s:I, s:I, s:I, s:I, s:i, s:o}", "max_individuals", a->max, "commands",
                     (json_int_t)a->commands, "events", (json_int_t)a->events, "events_dropped",
                     (json_int_t)a->events_dropped, "failed", (json_int_t)a->failed,
                     "events_waiting", (int)a->nwait, "individuals", list);
}
