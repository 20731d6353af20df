/* work.c - the coordinator's work channel: the socket, agent sessions
 * (HELLO; the handshake is in work_auth.c) and items in flight (sends,
 * results, expiry). */
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
#include "work_int.h"

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

work_agent_t *work_add_agent(work_t *w, const uint8_t id[CRYPTO_ID_LEN], int *index)
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

work_agent_t *work_find_route(work_t *w, const uint8_t route[WSESS_ROUTE_LEN])
{
    for (int i = 0; i < w->nagents; i++)
        if (w->agents[i].session && memcmp(w->agents[i].route, route, WSESS_ROUTE_LEN) == 0)
            return &w->agents[i];
    return NULL;
}

static int ensure_sealbuf(work_t *w, size_t need)
{
    if (w->sealcap >= need)
        return 0;
    uint8_t *nb = realloc(w->sealbuf, need);
    if (!nb)
        return -ENOMEM;
    w->sealbuf = nb;
    w->sealcap = need;
    return 0;
}

static int send_raw(work_t *w, const uint8_t route[WSESS_ROUTE_LEN], size_t len)
{
    if (zmq_send(w->sock, route, WSESS_ROUTE_LEN, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(w->sock, w->sealbuf, len, ZMQ_DONTWAIT) < 0)
        return -errno;
    w->st.frames_out++;
    return 0;
}

void work_end_session(work_t *w, work_agent_t *a, const char *why)
{
    if (!a->session)
        return;
    a->session = 0;
    a->last_hello_ms = 0;
    w->st.sessions_lost++;
    log_info("work.session_closed", "agent=%s why=\"%s\" inflight=%d", a->name, why, a->inflight);
}

/* Seals the frame in w->wb in the agent's session and sends it. */
static int send_sealed(work_t *w, work_agent_t *a)
{
    if (!a->session)
        return ERR_NOTFOUND;
    size_t outlen = 0;
    int rc = ensure_sealbuf(w, w->wb.len + WSESS_OVERHEAD);
    if (rc == 0)
        rc = wsess_seal(&a->sess, w->kr, w->wb.data, w->wb.len, w->sealbuf, w->sealcap, &outlen);
    if (rc == 0)
        rc = send_raw(w, a->route, outlen);
    if (rc == -EHOSTUNREACH) /* its connection is gone: it starts over */
        work_end_session(w, a, "connection gone");
    return rc;
}

/* Seals the frame in w->wb as a handshake frame and sends it to route. */
int work_send_handshake(work_t *w, const uint8_t route[WSESS_ROUTE_LEN])
{
    size_t outlen = 0;
    int rc = ensure_sealbuf(w, w->wb.len + WSESS_HS_OVERHEAD);
    if (rc == 0)
        rc = wsess_seal_hs(w->kr, w->wb.data, w->wb.len, w->sealbuf, w->sealcap, &outlen);
    return rc ? rc : send_raw(w, route, outlen);
}

int work_agent_free(const work_agent_t *a)
{
    /* what it announced, less what we sent that it had not yet received */
    if (a->gone || a->drained || !a->session || !a->last_hello_ms)
        return 0;
    int64_t unseen = (int64_t)(a->sent_total - a->received);
    int64_t f = (int64_t)a->credit - (unseen > 0 ? unseen : 0);
    return f > 0 ? (int)f : 0;
}

int work_send(work_t *w, const uint8_t id[CRYPTO_ID_LEN], const pop_t *p, work_item_t *items, int n)
{
    int ai;
    work_agent_t *a = find_agent(w, id, &ai);
    if (!a || !a->session || !a->last_hello_ms || a->gone)
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
        rc = send_sealed(w, a);
    if (rc) {
        char q[128];
        log_warn("work.send_failed", "agent=%s why=%s", a->name,
                 log_quote(err_str(rc), q, sizeof q));
        return rc;
    }
    uint64_t now = loop_now(w->loop);
    uint64_t timeout = p->spec && p->spec->timeout_ms ? p->spec->timeout_ms : 1000;
    uint64_t expiry = timeout * w->expiry_timeouts;
    if (expiry < w->expiry_min_ms)
        expiry = w->expiry_min_ms;
    for (int i = 0; i < n; i++) {
        flight_t *f = &w->fl[w->nfl++];
        f->it = items[i]; /* ownership moves into the table */
        memcpy(f->agent, id, CRYPTO_ID_LEN);
        f->sent_ms = now;
        f->deadline_ms = now + expiry;
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

int work_expire(work_t *w)
{
    uint64_t now = loop_now(w->loop);
    int n = 0;
    for (size_t i = 0; i < w->nfl;) {
        if (w->fl[i].deadline_ms > now) {
            i++;
            continue;
        }
        work_item_t it = w->fl[i].it;
        work_agent_t *a = find_agent(w, w->fl[i].agent, NULL);
        remove_flight(w, i);
        if (a && a->inflight > 0)
            a->inflight--;
        if (a)
            a->expired++;
        w->st.expired++;
        n++;
        log_warn("work.item_expired",
                 "population=%s deme=%u dseq=%llu agent=%s msg=\"no answer in time; re-issued\"",
                 it.pop, it.deme, (unsigned long long)it.dseq, a ? a->name : "?");
        if (w->cb.expired)
            w->cb.expired(w->arg, &it);
        else
            work_item_clear(&it);
    }
    return n;
}

static int64_t on_expiry_timer(loop_t *l, void *arg)
{
    (void)l;
    work_t *w = arg;
    if (work_expire(w) > 0 && w->cb.results_done)
        w->cb.results_done(w->arg); /* the time to dispatch them */
    return WORK_EXPIRY_TICK_MS;
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

/* Why a HELLO's claims cannot be true, or NULL. */
static const char *hello_implausible(uint32_t ready, uint32_t total, uint32_t credit,
                                     uint32_t queued, uint32_t min_vms, uint32_t max_vms,
                                     uint32_t nbreeders, char *why, size_t cap)
{
    if (max_vms > WORK_MAX_VMS)
        snprintf(why, cap, "max_vms %u > %u", max_vms, WORK_MAX_VMS);
    else if (min_vms > max_vms)
        snprintf(why, cap, "min_vms %u > max_vms %u", min_vms, max_vms);
    else if (total > max_vms)
        snprintf(why, cap, "vms_total %u > max_vms %u", total, max_vms);
    else if (ready > total)
        snprintf(why, cap, "vms_ready %u > vms_total %u", ready, total);
    else if ((uint64_t)credit > (uint64_t)ready * WORK_MAX_CREDIT_PER_VM)
        snprintf(why, cap, "credit %u > %u ready VMs x %u", credit, ready, WORK_MAX_CREDIT_PER_VM);
    else if (queued > WORK_MAX_QUEUED)
        snprintf(why, cap, "queued %u > %u", queued, WORK_MAX_QUEUED);
    else if (nbreeders > WIRE_MAX_BREEDERS)
        snprintf(why, cap, "breeders %u > %u", nbreeders, WIRE_MAX_BREEDERS);
    else
        return NULL;
    return why;
}

void work_send_welcome(work_t *w, work_agent_t *a)
{
    wire_buf_reset(&w->wb);
    wire_begin(&w->wb, WIRE_WORK_WELCOME, 0, w->self_id);
    wire_put_u32(&w->wb, WIRE_FEAT_BREEDER);
    if (wire_end(&w->wb) == 0)
        send_sealed(w, a);
}

static void handle_hello(work_t *w, work_agent_t *a, wire_rd_t *r)
{
    char name[128], why[128];
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
    uint32_t min_vms = 0, max_vms = 0, nbreeders = 0;
    uint8_t breeders[WIRE_MAX_BREEDERS][WIRE_BREEDER_LEN];
    wire_get_u32(r, &min_vms);
    wire_get_u32(r, &max_vms);
    if (!r->err && r->left > 0) { /* appended: an older agent sends none */
        wire_get_u32(r, &nbreeders);
        for (uint32_t i = 0; i < nbreeders && i < WIRE_MAX_BREEDERS && !r->err; i++)
            wire_get_raw(r, breeders[i], WIRE_BREEDER_LEN);
    }
    if (r->err) {
        w->st.dropped_malformed++;
        log_warn("work.malformed_hello", "agent=%s why=\"%s\"", a->name, err_str(r->err));
        return;
    }
    char q[160];
    if (memcmp(a->pk, pk, sizeof pk) != 0) {
        w->st.hello_refused++;
        log_warn("work.hello_refused", "agent=%s why=\"a key other than the session's\"",
                 log_quote(name, q, sizeof q));
        return;
    }
    if (hello_implausible(ready, total, credit, queued, min_vms, max_vms, nbreeders, why,
                          sizeof why)) {
        w->st.hello_refused++;
        log_warn("work.hello_refused", "agent=%s why=\"%s\"", log_quote(name, q, sizeof q), why);
        return;
    }
    int first = a->last_hello_ms == 0;
    snprintf(a->name, sizeof a->name, "%s", name);
    a->vms_ready = ready;
    a->vms_total = total;
    a->min_vms = min_vms;
    a->max_vms = max_vms;
    a->credit = credit;
    memcpy(a->breeders, breeders, nbreeders * sizeof breeders[0]);
    a->nbreeders = (int)nbreeders;
    if (first) {
        /* a new session: what was on the way in the old one is not */
        a->sent_total = received;
        a->received = received;
    } else if (received > a->received) {
        a->received = received;
    }
    a->queued = queued;
    a->load = isfinite(load) ? load : 0;
    a->last_hello_ms = loop_now(w->loop);
    if (first)
        log_info("work.agent_hello", "agent=%s vms=%u/%u credit=%u", a->name, ready, total, credit);
    work_send_welcome(w, a);
    if (w->cb.capacity)
        w->cb.capacity(w->arg, a);
}

/* One RESULT item of a WIRE_WORK_RESULT frame; breeder: the frame's items
 * carry breeders (WIRE_RESULT_BREEDER). Returns 0, or the reader's error
 * (the rest of the frame cannot be read then). */
static int handle_result(work_t *w, const uint8_t id[CRYPTO_ID_LEN], wire_rd_t *r, int breeder)
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
    if (breeder)
        wire_get_raw(r, res.breeder, sizeof res.breeder);
    res.has_breeder = breeder;
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
    attest_ext_t ext = {.passed = res.passed,
                        .cases = res.cases,
                        .cost = res.cost,
                        .reused = res.reused,
                        .with_breeder = (uint8_t)breeder};
    memcpy(ext.errors_hash, res.errors_hash, CRYPTO_HASH_LEN);
    memcpy(ext.breeder, res.breeder, WIRE_BREEDER_LEN);
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
static void handle_results(work_t *w, const uint8_t id[CRYPTO_ID_LEN], wire_rd_t *r, uint8_t flags)
{
    int breeder = (flags & WIRE_RESULT_BREEDER) != 0;
    uint32_t credit = 0, n = 0;
    uint64_t received = 0;
    wire_get_u32(r, &credit);
    wire_get_u64(r, &received);
    wire_get_count(r, &n, 4096,
                   4 + 4 + 8 + 1 + 8 + 4 + 4 + CRYPTO_SIG_LEN + 4 + 4 + 8 + 1 + 4 +
                       (breeder ? WIRE_BREEDER_LEN : 0));
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
        if (handle_result(w, id, r, breeder) != 0)
            break;
    if (w->cb.results_done)
        w->cb.results_done(w->arg);
}

/* Was this an agent of the protocol before sessions? (For a clear log line.) */
static int old_protocol(work_t *w, const uint8_t *body, size_t blen)
{
    uint8_t *plain = malloc(blen);
    size_t plen = 0;
    int old = plain && crypto_open(w->kr, (const uint8_t *)WORK_AD, strlen(WORK_AD), body, blen,
                                   plain, blen, &plen) == 0;
    free(plain);
    return old;
}

/* One message from the socket: route = the connection's routing id. */
static void on_message(work_t *w, const uint8_t *route, size_t rlen, const uint8_t *body,
                       size_t blen)
{
    if (rlen != WSESS_ROUTE_LEN || blen < 1 || blen > WORK_MAX_FRAME) {
        w->st.dropped_malformed++;
        return;
    }
    uint8_t *plain = malloc(blen);
    size_t plen = 0;
    if (!plain)
        return;
    work_agent_t *a = NULL;
    int rc = ERR_CRYPTO;
    if (body[0] == WSESS_KIND_HS) {
        rc = wsess_open_hs(w->kr, body, blen, plain, blen, &plen);
        if (rc == 0)
            work_feed_handshake(w, route, plain, plen);
    } else if (body[0] == WSESS_KIND_SESSION) {
        a = work_find_route(w, route);
        if (!a) {
            /* the coordinator restarted or the session was replaced: the
             * agent is told to prove its key again */
            w->st.dropped_no_session++;
            free(plain);
            pending_t *p = work_find_pending(w, route);
            if (!p || loop_now(w->loop) - p->t_ms > WORK_HANDSHAKE_MS)
                work_challenge(w, route); /* once: a second would void the first's AUTH */
            return;
        }
        rc = wsess_open(&a->sess, w->kr, body, blen, plain, blen, &plen);
        if (rc == ERR_STATE) {
            w->st.dropped_replay++;
            log_warn("work.replay", "agent=%s msg=\"a session frame seen before; dropped\"",
                     a->name);
        } else if (rc == 0) {
            work_feed(w, a->id, plain, plen);
        }
    }
    if (rc == ERR_CRYPTO) {
        if (old_protocol(w, body, blen)) {
            w->st.dropped_old++;
            log_warn("work.old_protocol", "msg=\"an agent of an older petri (no work sessions); "
                                          "upgrade it\"");
        } else {
            w->st.dropped_unsealed++;
        }
    }
    free(plain);
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
        if (ok)
            on_message(w, zmq_msg_data(&idm), zmq_msg_size(&idm), zmq_msg_data(&body),
                       zmq_msg_size(&body));
        else
            w->st.dropped_malformed++;
        zmq_msg_close(&idm);
        zmq_msg_close(&body);
    }
}

void work_feed(work_t *w, const uint8_t id[CRYPTO_ID_LEN], const uint8_t *plain, size_t len)
{
    wire_hdr_t h;
    wire_rd_t r;
    work_agent_t *a = find_agent(w, id, NULL);
    if (!a || !a->session) {
        w->st.dropped_no_session++;
        return;
    }
    int rc = wire_parse(plain, len, &h, &r);
    if (rc) {
        w->st.dropped_malformed++;
    } else if (memcmp(h.sender, id, CRYPTO_ID_LEN) != 0) {
        w->st.dropped_malformed++; /* a frame must come from its session's agent */
        log_warn("work.wrong_sender", "agent=%s msg=\"a frame naming another node; dropped\"",
                 a->name);
    } else if (h.type == WIRE_WORK_HELLO) {
        handle_hello(w, a, &r);
    } else if (h.type == WIRE_WORK_RESULT) {
        handle_results(w, id, &r, h.flags);
    } else if ((h.type == WIRE_WORK_LIVE_EVENT || h.type == WIRE_WORK_LIVE_STATUS) && w->cb.live) {
        w->cb.live(w->arg, a, h.type, r.p, r.left);
    } else {
        w->st.dropped_unknown_type++;
    }
}

work_t *work_new(loop_t *l, void *zctx, const char *bind, keyring_t *kr,
                 const uint8_t self_id[CRYPTO_ID_LEN], const work_callbacks_t *cb, void *arg,
                 char *err, size_t errlen)
{
    work_t *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->loop = l;
    w->kr = kr;
    memcpy(w->self_id, self_id, CRYPTO_ID_LEN);
    w->expiry_timeouts = 20;
    w->expiry_min_ms = 30000;
    w->cb = *cb;
    w->arg = arg;
    wire_buf_init(&w->wb);
    w->sock = zmq_socket(zctx, ZMQ_ROUTER);
    int zero = 0, one = 1, hwm = 10000;
    int64_t maxmsg = WORK_MAX_FRAME + 1024;
    zmq_setsockopt(w->sock, ZMQ_LINGER, &zero, sizeof zero);
    /* No ZMQ_ROUTER_HANDOVER: with it, any newcomer with a routing id in use
     * would take the pipe over (the old peer's connection then stays open
     * but dead) before proving anything. Without it, ZeroMQ ignores the
     * newcomer; agents pick a new random routing id per connection, so an id
     * in use means a squatter, and an agent shut out starts over on a new one.
     * A session moves to a new connection only by the handshake (handle_auth). */
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
    w->expiry_timer = loop_timer_add(l, WORK_EXPIRY_TICK_MS, on_expiry_timer, w);
    return w;
}

void work_set_expiry(work_t *w, uint32_t timeouts, uint32_t min_ms)
{
    w->expiry_timeouts = timeouts ? timeouts : 1;
    w->expiry_min_ms = min_ms;
}

void work_destroy(work_t **pw)
{
    if (!pw || !*pw)
        return;
    work_t *w = *pw;
    loop_sock_del(w->loop, w->sock);
    loop_timer_del(w->loop, w->expiry_timer);
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
    work_agent_t *a = find_agent(w, id, NULL);
    if (!a)
        return ERR_NOTFOUND;
    return rc ? rc : send_sealed(w, a);
}

int work_send_frame(work_t *w, const uint8_t id[CRYPTO_ID_LEN], const wire_buf_t *frame)
{
    if (!w)
        return ERR_NOTFOUND;
    work_agent_t *a = find_agent(w, id, NULL);
    if (!a || !a->session || a->gone)
        return ERR_NOTFOUND;
    if (frame->err)
        return frame->err;
    wire_buf_reset(&w->wb);
    wire_put_raw(&w->wb, frame->data, frame->len);
    int rc = w->wb.err ? w->wb.err : send_sealed(w, a);
    if (rc) {
        char q[128];
        log_warn("work.send_failed", "agent=%s why=%s", a->name,
                 log_quote(err_str(rc), q, sizeof q));
    }
    return rc;
}
