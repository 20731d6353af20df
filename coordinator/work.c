/* work.c - the coordinator's work channel: agent sessions and items in flight. */
#include "work.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "attest.h"
#include "err.h"
#include "log.h"
#include "wire.h"

typedef struct flight {
    work_item_t it;
    uint8_t agent[CRYPTO_ID_LEN];
    uint64_t sent_ms;
} flight_t;

struct work {
    loop_t *loop;
    void *sock;
    keyring_t *kr;
    work_callbacks_t cb;
    void *arg;
    work_agent_t *agents;
    int nagents, capagents;
    flight_t *fl;
    size_t nfl, capfl;
    wire_buf_t wb;
    uint8_t *sealbuf;
    size_t sealcap;
    work_stats_t st;
};

static work_agent_t *find_agent(work_t *w, const uint8_t id[CRYPTO_ID_LEN], int *index)
{
    for (int i = 0; i < w->nagents; i++)
        if (memcmp(w->agents[i].id, id, CRYPTO_ID_LEN) == 0) {
            if (index)
                *index = i;
            return &w->agents[i];
        }
    return NULL;
}

static work_agent_t *add_agent(work_t *w, const uint8_t id[CRYPTO_ID_LEN], int *index)
{
    work_agent_t *a = find_agent(w, id, index);
    if (a)
        return a;
    if (w->nagents == w->capagents) {
        int ncap = w->capagents ? w->capagents * 2 : 16;
        work_agent_t *na = realloc(w->agents, (size_t)ncap * sizeof *na);
        if (!na)
            return NULL;
        w->agents = na;
        w->capagents = ncap;
    }
    a = &w->agents[w->nagents];
    memset(a, 0, sizeof *a);
    memcpy(a->id, id, CRYPTO_ID_LEN);
    if (index)
        *index = w->nagents;
    w->nagents++;
    return a;
}

/* Seals the frame in w->wb and sends it to the agent. */
static int send_sealed(work_t *w, const uint8_t id[CRYPTO_ID_LEN])
{
    size_t need = w->wb.len + CRYPTO_SEAL_OVERHEAD, outlen = 0;
    if (w->sealcap < need) {
        uint8_t *nb = realloc(w->sealbuf, need);
        if (!nb)
            return -ENOMEM;
        w->sealbuf = nb;
        w->sealcap = need;
    }
    int rc = crypto_seal(w->kr, (const uint8_t *)WORK_AD, strlen(WORK_AD), w->wb.data, w->wb.len,
                         w->sealbuf, w->sealcap, &outlen);
    if (rc)
        return rc;
    if (zmq_send(w->sock, id, CRYPTO_ID_LEN, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(w->sock, w->sealbuf, outlen, ZMQ_DONTWAIT) < 0)
        return -errno;
    w->st.frames_out++;
    return 0;
}

int work_agent_free(const work_agent_t *a)
{
    /* what it announced, less what we sent that it had not yet received */
    if (a->gone || a->drained || !a->last_hello_ms)
        return 0;
    int64_t unseen = (int64_t)(a->sent_total - a->received);
    int64_t f = (int64_t)a->credit - (unseen > 0 ? unseen : 0);
    return f > 0 ? (int)f : 0;
}

int work_send(work_t *w, const uint8_t id[CRYPTO_ID_LEN], const pop_t *p, work_item_t *items, int n)
{
    int ai;
    work_agent_t *a = find_agent(w, id, &ai);
    if (!a || !a->last_hello_ms || a->gone)
        return ERR_NOTFOUND;
    if (work_agent_free(a) < n)
        return ERR_LIMIT;
    if (w->capfl - w->nfl < (size_t)n) {
        size_t ncap = w->capfl ? w->capfl : 64;
        while (ncap - w->nfl < (size_t)n)
            ncap *= 2;
        flight_t *nf = realloc(w->fl, ncap * sizeof *nf);
        if (!nf)
            return -ENOMEM;
        w->fl = nf;
        w->capfl = ncap;
    }
    wire_buf_reset(&w->wb);
    wire_begin(&w->wb, WIRE_WORK_BATCH, 0, NULL);
    wire_put_str(&w->wb, p->name);
    wire_put_bytes(&w->wb, p->spec_wire.data, p->spec_wire.len);
    wire_put_u32(&w->wb, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        const work_item_t *it = &items[i];
        wire_put_u32(&w->wb, it->deme);
        wire_put_u64(&w->wb, it->dseq);
        wire_put_u8(&w->wb, (uint8_t)it->kind);
        wire_put_str(&w->wb, it->op);
        wire_put_u64(&w->wb, it->seed);
        wire_put_u32(&w->wb, (uint32_t)it->nparents);
        for (int k = 0; k < it->nparents; k++)
            wire_put_bytes(&w->wb, it->parent_src[k], it->parent_len[k]);
        wire_put_bytes(&w->wb, it->src ? it->src : "", it->src ? it->src_len : 0);
        wire_put_u8(&w->wb, it->language < 0 ? 255 : (uint8_t)it->language);
    }
    int rc = wire_end(&w->wb);
    if (rc == 0)
        rc = send_sealed(w, id);
    if (rc) {
        char q[128];
        log_warn("work.send_failed", "agent=%s why=%s", a->name,
                 log_quote(err_str(rc), q, sizeof q));
        return rc;
    }
    uint64_t now = loop_now(w->loop);
    for (int i = 0; i < n; i++) {
        flight_t *f = &w->fl[w->nfl++];
        f->it = items[i]; /* ownership moves into the table */
        memcpy(f->agent, id, CRYPTO_ID_LEN);
        f->sent_ms = now;
        memset(&items[i], 0, sizeof items[i]);
    }
    a->sent_total += (uint64_t)n;
    a->inflight += n;
    return 0;
}

static void remove_flight(work_t *w, size_t i)
{
    w->fl[i] = w->fl[--w->nfl];
}

static ssize_t find_flight(const work_t *w, const char *pop, uint32_t deme, uint64_t dseq)
{
    for (size_t i = 0; i < w->nfl; i++) {
        const work_item_t *it = &w->fl[i].it;
        if (it->dseq == dseq && it->deme == deme && strcmp(it->pop, pop) == 0)
            return (ssize_t)i;
    }
    return -1;
}

int work_is_inflight(const work_t *w, const char *pop, uint32_t deme, uint64_t dseq)
{
    return find_flight(w, pop, deme, dseq) >= 0;
}

void work_agent_gone(work_t *w, const uint8_t id[CRYPTO_ID_LEN],
                     void (*fn)(void *arg, work_item_t *it), void *arg)
{
    work_agent_t *a = find_agent(w, id, NULL);
    if (!a)
        return;
    a->gone = 1;
    int n = 0;
    for (size_t i = 0; i < w->nfl;) {
        if (memcmp(w->fl[i].agent, id, CRYPTO_ID_LEN) == 0) {
            work_item_t it = w->fl[i].it;
            remove_flight(w, i);
            n++;
            fn(arg, &it);
        } else {
            i++;
        }
    }
    a->inflight = 0;
    log_info("work.agent_gone", "agent=%s reclaimed=%d", a->name, n);
}

void work_agent_alive(work_t *w, const uint8_t id[CRYPTO_ID_LEN])
{
    work_agent_t *a = find_agent(w, id, NULL);
    if (a)
        a->gone = 0;
}

void work_forget_population(work_t *w, const char *pop)
{
    for (size_t i = 0; i < w->nfl;) {
        if (strcmp(w->fl[i].it.pop, pop) == 0) {
            work_agent_t *a = find_agent(w, w->fl[i].agent, NULL);
            if (a && a->inflight > 0)
                a->inflight--;
            work_item_clear(&w->fl[i].it);
            remove_flight(w, i);
        } else {
            i++;
        }
    }
}

static void handle_hello(work_t *w, const uint8_t id[CRYPTO_ID_LEN], wire_rd_t *r)
{
    char name[128];
    uint8_t pk[CRYPTO_PK_LEN];
    uint32_t ready = 0, total = 0, credit = 0, queued = 0;
    double load = 0;
    uint64_t received = 0;
    wire_get_str(r, name, sizeof name);
    wire_get_raw(r, pk, sizeof pk);
    wire_get_u32(r, &ready);
    wire_get_u32(r, &total);
    wire_get_u32(r, &credit);
    wire_get_u32(r, &queued);
    wire_get_f64(r, &load);
    wire_get_u64(r, &received);
    uint32_t min_vms = 0, max_vms = 0;
    wire_get_u32(r, &min_vms);
    wire_get_u32(r, &max_vms);
    if (r->err || credit > 100000 || total > 4096) {
        w->st.dropped_malformed++;
        return;
    }
    int ai;
    work_agent_t *a = add_agent(w, id, &ai);
    if (!a)
        return;
    if (a->last_hello_ms && memcmp(a->pk, pk, sizeof pk) != 0) {
        log_warn("work.key_changed", "agent=%s msg=\"hello with a different key; refused\"", name);
        w->st.dropped_bad_sig++;
        return;
    }
    int first = a->last_hello_ms == 0;
    snprintf(a->name, sizeof a->name, "%s", name);
    memcpy(a->pk, pk, sizeof pk);
    a->vms_ready = ready;
    a->vms_total = total;
    a->min_vms = min_vms;
    a->max_vms = max_vms;
    a->credit = credit;
    if (received > a->received)
        a->received = received;
    a->queued = queued;
    a->load = isfinite(load) ? load : 0;
    a->last_hello_ms = loop_now(w->loop);
    if (first)
        log_info("work.agent_hello", "agent=%s vms=%u/%u credit=%u", a->name, ready, total, credit);
    if (w->cb.capacity)
        w->cb.capacity(w->arg, a);
}

/* One RESULT item of a WIRE_WORK_RESULT frame. Returns 0, or the reader's
 * error (the rest of the frame cannot be read then). */
static int handle_result(work_t *w, const uint8_t id[CRYPTO_ID_LEN], wire_rd_t *r)
{
    char pop[POP_NAME_MAX + 16], detail[512];
    uint32_t deme = 0;
    uint64_t dseq = 0;
    uint8_t status = 0;
    double fitness = NAN;
    const uint8_t *src = NULL;
    uint32_t len = 0;
    work_result_t res = {0};
    wire_get_str(r, pop, sizeof pop);
    wire_get_u32(r, &deme);
    wire_get_u64(r, &dseq);
    wire_get_u8(r, &status);
    wire_get_f64(r, &fitness);
    wire_get_str(r, detail, sizeof detail);
    wire_get_bytes(r, &src, &len, 1u << 20);
    wire_get_raw(r, res.sig, sizeof res.sig);
    wire_get_u32(r, &res.passed);
    wire_get_u32(r, &res.cases);
    wire_get_f64(r, &res.cost);
    wire_get_u8(r, &res.reused);
    uint32_t nerr = 0;
    wire_get_count(r, &nerr, SPEC_MAX_CASES, 8);
    double *errors = NULL;
    if (r->err == 0 && nerr > 0 && !(errors = malloc(nerr * sizeof *errors))) {
        /* the rest of the frame is dropped; its items stay in flight */
        log_error("work.oom", "msg=\"a result's per-case errors do not fit in memory\"");
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < nerr; i++)
        wire_get_f64(r, &errors[i]);
    if (r->err || status >= WIRE_ST__COUNT || res.reused > 1 || res.passed > res.cases) {
        free(errors);
        w->st.dropped_malformed++;
        log_warn("work.malformed_result", "why=\"%s\"", err_str(r->err ? r->err : ERR_PROTO));
        return r->err ? r->err : ERR_PROTO;
    }
    work_agent_t *a = find_agent(w, id, NULL);
    ssize_t fi = find_flight(w, pop, deme, dseq);
    if (!a || fi < 0 || memcmp(w->fl[fi].agent, id, CRYPTO_ID_LEN) != 0) {
        /* late (re-issued elsewhere, or already done) or never sent: drop */
        free(errors);
        w->st.dropped_unknown_item++;
        log_debug("work.stale_result", "population=%s deme=%u dseq=%llu", pop, deme,
                  (unsigned long long)dseq);
        return 0;
    }
    crypto_hash(src, len, res.child_hash);
    attest_errors_hash(errors, nerr, res.errors_hash);
    attest_ext_t ext = {
        .passed = res.passed, .cases = res.cases, .cost = res.cost, .reused = res.reused};
    memcpy(ext.errors_hash, res.errors_hash, CRYPTO_HASH_LEN);
    if (attest_verify_v2(a->pk, pop, deme, dseq, res.child_hash, status, fitness, &ext, res.sig) !=
        0) {
        free(errors);
        w->st.dropped_bad_sig++;
        a->rejected++;
        log_warn("work.bad_signature", "agent=%s population=%s deme=%u dseq=%llu", a->name, pop,
                 deme, (unsigned long long)dseq);
        return 0;
    }
    work_item_t it = w->fl[fi].it;
    double lat = (double)(loop_now(w->loop) - w->fl[fi].sent_ms);
    a->latency_ms = a->latency_ms > 0 ? 0.9 * a->latency_ms + 0.1 * lat : lat;
    remove_flight(w, (size_t)fi);
    if (a->inflight > 0)
        a->inflight--;
    a->results++;
    w->st.results++;
    res.status = status;
    res.fitness = status == WIRE_ST_OK ? fitness : NAN;
    res.detail = detail;
    res.src = src;
    res.len = len;
    res.agent = a;
    res.errors = errors;
    res.nerrors = nerr;
    w->cb.result(w->arg, &it, &res);
    free(errors);
    return 0;
}

/* A WIRE_WORK_RESULT frame: the agent's credit, then its finished items. A
 * malformed item ends the frame (nothing after it can be read); the items
 * before it count. */
static void handle_results(work_t *w, const uint8_t id[CRYPTO_ID_LEN], wire_rd_t *r)
{
    uint32_t credit = 0, n = 0;
    uint64_t received = 0;
    wire_get_u32(r, &credit);
    wire_get_u64(r, &received);
    wire_get_count(r, &n, 4096, 4 + 4 + 8 + 1 + 8 + 4 + 4 + CRYPTO_SIG_LEN + 4 + 4 + 8 + 1 + 4);
    if (r->err) {
        w->st.dropped_malformed++;
        log_warn("work.malformed_result", "why=\"%s\"", err_str(r->err));
        return;
    }
    work_agent_t *a = find_agent(w, id, NULL);
    if (a && credit <= 100000 && received >= a->received) {
        a->credit = credit;
        a->received = received;
    }
    for (uint32_t i = 0; i < n; i++)
        if (handle_result(w, id, r) != 0)
            break;
    if (w->cb.results_done)
        w->cb.results_done(w->arg);
}

static void on_readable(loop_t *l, short revents, void *arg)
{
    (void)l;
    (void)revents;
    work_t *w = arg;
    for (int k = 0; k < 256; k++) {
        zmq_msg_t idm, body;
        zmq_msg_init(&idm);
        if (zmq_msg_recv(&idm, w->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&idm);
            return;
        }
        zmq_msg_init(&body);
        int ok = zmq_msg_more(&idm) && zmq_msg_recv(&body, w->sock, ZMQ_DONTWAIT) >= 0;
        while (ok && zmq_msg_more(&body)) { /* extra parts: drain, then drop */
            zmq_msg_t x;
            zmq_msg_init(&x);
            zmq_msg_recv(&x, w->sock, ZMQ_DONTWAIT);
            zmq_msg_close(&x);
            ok = 0;
        }
        w->st.frames_in++;
        uint8_t id[CRYPTO_ID_LEN];
        size_t plen = 0;
        uint8_t *plain = NULL;
        if (ok && zmq_msg_size(&idm) == CRYPTO_ID_LEN) {
            memcpy(id, zmq_msg_data(&idm), CRYPTO_ID_LEN);
            size_t blen = zmq_msg_size(&body);
            plain = blen > CRYPTO_SEAL_OVERHEAD && blen <= WORK_MAX_FRAME ? malloc(blen) : NULL;
            if (!plain || crypto_open(w->kr, (const uint8_t *)WORK_AD, strlen(WORK_AD),
                                      zmq_msg_data(&body), blen, plain, blen, &plen) != 0) {
                free(plain);
                plain = NULL;
                w->st.dropped_unsealed++;
            }
        } else {
            w->st.dropped_malformed++;
        }
        zmq_msg_close(&idm);
        zmq_msg_close(&body);
        if (!plain)
            continue;
        work_feed(w, id, plain, plen);
        free(plain);
    }
}

void work_feed(work_t *w, const uint8_t id[CRYPTO_ID_LEN], const uint8_t *plain, size_t len)
{
    wire_hdr_t h;
    wire_rd_t r;
    int rc = wire_parse(plain, len, &h, &r);
    if (rc) {
        w->st.dropped_malformed++;
    } else if (memcmp(h.sender, id, CRYPTO_ID_LEN) != 0) {
        w->st.dropped_malformed++; /* a frame must come from its sender's socket */
    } else if (h.type == WIRE_WORK_HELLO) {
        handle_hello(w, id, &r);
    } else if (h.type == WIRE_WORK_RESULT) {
        handle_results(w, id, &r);
    } else {
        w->st.dropped_unknown_type++;
    }
}

work_t *work_new(loop_t *l, void *zctx, const char *bind, keyring_t *kr, const work_callbacks_t *cb,
                 void *arg, char *err, size_t errlen)
{
    work_t *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->loop = l;
    w->kr = kr;
    w->cb = *cb;
    w->arg = arg;
    wire_buf_init(&w->wb);
    w->sock = zmq_socket(zctx, ZMQ_ROUTER);
    int zero = 0, one = 1, hwm = 10000;
    int64_t maxmsg = WORK_MAX_FRAME + 1024;
    zmq_setsockopt(w->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(w->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(w->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(w->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(w->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    char ep[300];
    snprintf(ep, sizeof ep, "tcp://%s", bind);
    if (zmq_bind(w->sock, ep) != 0) {
        snprintf(err, errlen, "[work] bind %s: %s", bind, zmq_strerror(errno));
        zmq_close(w->sock);
        wire_buf_free(&w->wb);
        free(w);
        return NULL;
    }
    loop_sock_add(l, w->sock, ZMQ_POLLIN, on_readable, w);
    return w;
}

void work_destroy(work_t **pw)
{
    if (!pw || !*pw)
        return;
    work_t *w = *pw;
    loop_sock_del(w->loop, w->sock);
    zmq_close(w->sock);
    for (size_t i = 0; i < w->nfl; i++)
        work_item_clear(&w->fl[i].it);
    free(w->fl);
    free(w->agents);
    free(w->sealbuf);
    wire_buf_free(&w->wb);
    free(w);
    *pw = NULL;
}

int work_agent_count(const work_t *w)
{
    return w->nagents;
}

const work_agent_t *work_agent_at(const work_t *w, int i)
{
    return i >= 0 && i < w->nagents ? &w->agents[i] : NULL;
}

const work_agent_t *work_agent_find(const work_t *w, const uint8_t id[CRYPTO_ID_LEN])
{
    return find_agent((work_t *)w, id, NULL);
}

size_t work_inflight(const work_t *w)
{
    return w->nfl;
}

const work_stats_t *work_stats(const work_t *w)
{
    return &w->st;
}

int work_agent_set_drained(work_t *w, const uint8_t id[CRYPTO_ID_LEN], int drained)
{
    work_agent_t *a = find_agent(w, id, NULL);
    if (!a)
        return ERR_NOTFOUND;
    a->drained = drained;
    log_info("work.drain", "agent=%s drained=%d inflight=%d", a->name, drained, a->inflight);
    return 0;
}

int work_agent_take_saturated(work_t *w, const uint8_t id[CRYPTO_ID_LEN])
{
    work_agent_t *a = find_agent(w, id, NULL);
    if (!a)
        return 0;
    int s = a->saturated;
    a->saturated = 0;
    return s;
}

void work_agent_mark_saturated(work_t *w, const uint8_t id[CRYPTO_ID_LEN])
{
    work_agent_t *a = find_agent(w, id, NULL);
    if (a)
        a->saturated = 1;
}

int work_control(work_t *w, const uint8_t id[CRYPTO_ID_LEN], uint32_t target_vms, int drain)
{
    wire_buf_reset(&w->wb);
    wire_begin(&w->wb, WIRE_WORK_CONTROL, 0, NULL);
    wire_put_u32(&w->wb, target_vms);
    wire_put_u8(&w->wb, (uint8_t)(drain != 0));
    int rc = wire_end(&w->wb);
    return rc ? rc : send_sealed(w, id);
}
