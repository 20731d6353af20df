/* live_event.c - what agents say about live individuals (live_pop.h):
 * signed events (checked, applied to the individual's versions, recorded
 * as version 3 lineage records) and the status every second. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest.h"
#include "coord.h"
#include "err.h"
#include "live_pop_int.h"
#include "log.h"
#include "placement.h"
#include "util.h"
#include "wire_live.h"
#include "work.h"

/* ---- from the agents ---- */

/* Why a signed event from the individual's host cannot be taken as it is,
 * or NULL: an upgrade's outcome must be of an upgrade this coordinator
 * sent (the agent cannot make up children or their origin), a source must
 * be the child it names (a record whose bytes do not hash to its child
 * would fail the whole group commit), and a version number must leave room
 * for the next. */
static const char *event_unfit(const live_event_t *e, const live_version_t *v)
{
    int outcome = e->kind == WIRE_LIVE_UPGRADE || e->kind == WIRE_LIVE_PROMOTED ||
                  e->kind == WIRE_LIVE_ROLLBACK || e->kind == WIRE_LIVE_REFUSED;
    if (outcome && !v)
        return "an upgrade this coordinator did not send";
    if (outcome && v->outcome != LO_PENDING && v->outcome != LO_PROBATION)
        return "an upgrade settled already";
    if (e->version == UINT32_MAX)
        return "a version number with no successor";
    if (e->src_len) {
        uint8_t h[CRYPTO_HASH_LEN];
        crypto_hash(e->src, e->src_len, h);
        if (memcmp(h, e->child_hash, CRYPTO_HASH_LEN) != 0)
            return "a source that is not the child it names";
    }
    return NULL;
}

static int event_sig_ok(const work_agent_t *a, const live_event_t *e)
{
    attest_live_t x = {.kind = e->kind,
                       .status = (uint8_t)wire_live_status(e->kind),
                       .version = e->version,
                       .parent_score = e->parent_score,
                       .child_score = e->child_score,
                       .probation = e->probation};
    memcpy(x.parent_hash, e->parent_hash, CRYPTO_HASH_LEN);
    memcpy(x.state_before, e->state_before, CRYPTO_HASH_LEN);
    memcpy(x.state_after, e->state_after, CRYPTO_HASH_LEN);
    attest_reason_hash(e->reason, strlen(e->reason), x.reason_hash);
    return attest_verify_live(a->pk, e->pop, e->ind, e->upgrade_id, e->child_hash, &x, e->sig) == 0;
}

/* Queues the event's lineage record (version 3). */
static void record(coord_t *c, const live_pop_t *p, const live_version_t *v, const work_agent_t *a,
                   const live_event_t *e)
{
    uint64_t seq;
    if (store_has_key(c->store, p->name, e->ind, e->upgrade_id, &seq) == 0)
        return; /* recorded already (invariant 2) */
    store_item_t si;
    memset(&si, 0, sizeof si);
    si.population = p->name;
    si.deme = e->ind;
    si.dseq = e->upgrade_id;
    memcpy(si.child_hash, e->child_hash, CRYPTO_HASH_LEN);
    static const uint8_t zero[CRYPTO_HASH_LEN];
    if (memcmp(e->parent_hash, zero, CRYPTO_HASH_LEN) != 0) {
        si.nparents = 1;
        memcpy(si.parents[0], e->parent_hash, CRYPTO_HASH_LEN);
    }
    if (v && v->has_donor && si.nparents == 1) { /* covered by coord_sig, not agent_sig */
        si.nparents = 2;
        memcpy(si.parents[1], v->donor, CRYPTO_HASH_LEN);
    }
    const char *op = v && v->op[0] ? v->op : e->kind == WIRE_LIVE_STARTED ? "start" : e->op;
    if (!store_op_valid(op))
        op = "external";
    si.op = op;
    si.seed = e->seed;
    si.status = (uint8_t)wire_live_status(e->kind);
    si.fitness = e->child_score;
    memcpy(si.agent_id, a->id, CRYPTO_ID_LEN);
    memcpy(si.agent_pk, a->pk, CRYPTO_PK_LEN);
    memcpy(si.agent_sig, e->sig, CRYPTO_SIG_LEN);
    si.version = 3;
    si.cost = 0;
    if (strcmp(op, "external") == 0) {
        util_strlcpy(si.mutator, v && v->mutator[0] ? v->mutator : "unknown", sizeof si.mutator);
        if (v)
            memcpy(si.input_hash, v->input_hash, CRYPTO_HASH_LEN);
    }
    si.live.kind = e->kind;
    si.live.version = e->version;
    memcpy(si.live.state_before, e->state_before, CRYPTO_HASH_LEN);
    memcpy(si.live.state_after, e->state_after, CRYPTO_HASH_LEN);
    si.live.parent_score = e->parent_score;
    si.live.probation = e->probation;
    util_strlcpy(si.live.reason, e->reason, sizeof si.live.reason);
    /* the child's source: the agent's when it bred it, else ours */
    char *mine = NULL;
    size_t mlen = 0;
    if (e->src_len) {
        si.src = (const char *)e->src;
        si.src_len = e->src_len;
    } else {
        const live_ind_t *d = &p->ind[e->ind];
        uint8_t h[CRYPTO_HASH_LEN];
        if (d->up_src && (crypto_hash(d->up_src, d->up_len, h),
                          memcmp(h, e->child_hash, CRYPTO_HASH_LEN) == 0)) {
            si.src = d->up_src;
            si.src_len = d->up_len;
        } else if (memcmp(d->good_hash, e->child_hash, CRYPTO_HASH_LEN) == 0) {
            si.src = d->good_src;
            si.src_len = d->good_len;
        } else if (store_get_genome(c->store, e->child_hash, &mine, &mlen) == 0) {
            si.src = mine;
            si.src_len = mlen;
        } else {
            /* nothing to record it with (a child that was never bred) */
            log_info("live.not_recorded",
                     "population=%s individual=%u upgrade=%llu event=%s "
                     "msg=\"no source for the child\"",
                     p->name, e->ind, (unsigned long long)e->upgrade_id,
                     wire_live_event_str(e->kind));
            return;
        }
    }
    int rc = coord_pending_add(c, &si, p->name, op);
    free(mine);
    if (rc) {
        char q[128];
        log_error("live.record_failed", "population=%s individual=%u upgrade=%llu why=%s", p->name,
                  e->ind, (unsigned long long)e->upgrade_id, log_quote(err_str(rc), q, sizeof q));
    }
}

static void settle(live_ind_t *d, live_version_t *v, const live_event_t *e, int outcome,
                   uint64_t now)
{
    if (v) {
        v->outcome = outcome;
        if (e->version && outcome != LO_REFUSED && outcome != LO_ROLLBACK)
            v->version = e->version;
        uint8_t none[CRYPTO_HASH_LEN]; /* a child that was never bred has no source */
        crypto_hash("", 0, none);
        if (memcmp(e->child_hash, none, CRYPTO_HASH_LEN) != 0) {
            memcpy(v->hash, e->child_hash, CRYPTO_HASH_LEN);
            v->has_hash = 1;
        }
        v->parent_score = e->parent_score;
        v->child_score = e->child_score;
        util_strlcpy(v->reason, e->reason, sizeof v->reason);
    }
    if (e->upgrade_id == d->inflight) {
        d->inflight = 0;
        d->settled_ms = now;
    }
}

void live_on_event(coord_t *c, const work_agent_t *a, const uint8_t *payload, size_t len)
{
    live_event_t *e = calloc(1, sizeof *e);
    if (!e)
        return;
    int rc = live_event_read(payload, len, e);
    live_pop_t *p = rc ? NULL : live_find(c, e->pop);
    char q[WIRE_LIVE_REASON_MAX + 8];
    if (rc || !p || e->ind >= (uint32_t)p->n) {
        log_warn("live.event_dropped", "agent=%s why=%s", a->name,
                 rc ? err_str(rc) : "no such live individual");
        free(e);
        return;
    }
    live_ind_t *d = &p->ind[e->ind];
    if (!event_sig_ok(a, e)) {
        log_warn("live.event_bad_sig", "agent=%s population=%s individual=%u", a->name, p->name,
                 e->ind);
        free(e);
        return;
    }
    if (!d->placed || memcmp(d->agent, a->id, CRYPTO_ID_LEN) != 0 ||
        e->incarnation != d->incarnation) {
        /* an older placement (invariant 3): it must not run on */
        if (e->kind != WIRE_LIVE_STOPPED && e->kind != WIRE_LIVE_FAILED)
            lv_send_stop(c, p, (int)e->ind, a->id, e->incarnation);
        free(e);
        return;
    }
    uint64_t now = loop_now(c->loop);
    live_version_t *v = e->upgrade_id ? lv_ver_by_upgrade(d, e->upgrade_id) : NULL;
    const char *bad = event_unfit(e, v);
    if (bad) {
        log_warn("live.event_dropped",
                 "population=%s individual=%u agent=%s event=%s upgrade=%llu why=\"%s\"", p->name,
                 e->ind, a->name, wire_live_event_str(e->kind), (unsigned long long)e->upgrade_id,
                 bad);
        free(e);
        return;
    }
    log_info("live.event",
             "population=%s individual=%u agent=%s event=%s upgrade=%llu version=%u "
             "reason=%s",
             p->name, e->ind, a->name, wire_live_event_str(e->kind),
             (unsigned long long)e->upgrade_id, e->version, log_quote(e->reason, q, sizeof q));
    switch (e->kind) {
    case WIRE_LIVE_STARTED:
        d->state = LI_RUNNING;
        d->fails = 0;
        d->settled_ms = now;
        d->reason[0] = '\0';
        if (d->version == 1 && d->next_upgrade == 1 && (v = lv_ver_by_number(d, 1)) != NULL &&
            v->outcome == LO_PENDING) {
            v->outcome = LO_RUNNING;
            record(c, p, v, a, e);
        }
        break;
    case WIRE_LIVE_UPGRADE:
        if (v) {
            v->outcome = LO_PROBATION;
            v->version = e->version;
            memcpy(v->hash, e->child_hash, CRYPTO_HASH_LEN);
            v->has_hash = 1;
        }
        d->on_probation = 1;
        break;
    case WIRE_LIVE_PROMOTED:
        settle(d, v, e, LO_PROMOTED, now);
        d->on_probation = 0;
        p->promoted++;
        if (e->src_len || (v && v->has_hash)) {
            char *src = NULL;
            size_t slen = 0;
            uint8_t h[CRYPTO_HASH_LEN];
            if (e->src_len)
                lv_set_good(d, (const char *)e->src, e->src_len, e->snap, e->snap_len);
            else if (d->up_src && (crypto_hash(d->up_src, d->up_len, h),
                                   memcmp(h, e->child_hash, CRYPTO_HASH_LEN) == 0))
                lv_set_good(d, d->up_src, d->up_len, e->snap, e->snap_len);
            else if (store_get_genome(c->store, e->child_hash, &src, &slen) == 0)
                lv_set_good(d, src, slen, e->snap, e->snap_len);
            free(src);
        }
        if (memcmp(d->good_hash, e->child_hash, CRYPTO_HASH_LEN) == 0) {
            d->version = e->version;
            if (d->pinned && v && strcmp(v->op, "pin") == 0)
                d->pinned = e->version; /* pinned is the version that runs */
            if (e->version >= d->next_version)
                d->next_version = e->version + 1;
        }
        record(c, p, v, a, e);
        lv_save_ind(c, p, (int)e->ind);
        break;
    case WIRE_LIVE_ROLLBACK:
        settle(d, v, e, LO_ROLLBACK, now);
        d->on_probation = 0;
        p->rolled_back++;
        if (e->version >= d->next_version)
            d->next_version = e->version + 1;
        record(c, p, v, a, e);
        if (d->pinned && v && strcmp(v->op, "pin") == 0)
            d->pinned = d->version; /* the pin did not take: pinned where it runs */
        break;
    case WIRE_LIVE_REFUSED:
        settle(d, v, e, LO_REFUSED, now);
        p->refused++;
        record(c, p, v, a, e);
        break;
    case WIRE_LIVE_RESTARTED:
        d->on_probation = 0;
        lv_lose_inflight(d,
                         "its VM died during the upgrade; restarted at the last promoted version");
        d->settled_ms = now;
        if (e->snap_len && memcmp(d->good_hash, e->child_hash, CRYPTO_HASH_LEN) == 0)
            lv_set_good(d, d->good_src, d->good_len, e->snap, e->snap_len);
        break;
    case WIRE_LIVE_FAILED:
        d->fails++;
        util_strlcpy(d->reason, e->reason, sizeof d->reason);
        lv_unplace(d, e->reason);
        break;
    case WIRE_LIVE_STOPPED:
        if (p->running)
            lv_unplace(d, "stopped by its agent");
        break;
    default:
        break;
    }
    free(e);
    coord_commit(c);
}

void live_on_status(coord_t *c, const work_agent_t *a, const uint8_t *payload, size_t len)
{
    wire_rd_t r;
    wire_rd_init(&r, payload, len);
    uint32_t n = 0;
    wire_get_count(&r, &n, LIVE_STATUS_MAX, 8);
    uint64_t now_ms = lv_wall_ms();
    for (uint32_t k = 0; k < n && r.err == 0; k++) {
        live_status_t st;
        if (live_status_read(&r, &st) != 0)
            break;
        const char *pop = st.pop;
        uint32_t ind = st.ind, version = st.version;
        uint64_t inc = st.incarnation, req = st.requests, ok = st.correct, wrong = st.wrong,
                 failed = st.failed, p50 = st.p50_us, p99 = st.p99_us, lost = st.lost,
                 twice = st.twice;
        double fit = st.fitness;
        uint8_t prob = st.on_probation;
        live_pop_t *p = live_find(c, pop);
        if (!p || ind >= (uint32_t)p->n)
            continue;
        live_ind_t *d = &p->ind[ind];
        if (!d->placed || memcmp(d->agent, a->id, CRYPTO_ID_LEN) != 0 || inc != d->incarnation)
            continue;
        d->run_version = version;
        d->requests = req;
        d->correct = ok;
        d->wrong = wrong;
        d->failed = failed;
        d->fitness = fit;
        d->p50_us = p50;
        d->p99_us = p99;
        d->lost = lost;
        d->twice = twice;
        d->on_probation = prob != 0;
        live_point_t *pt = &d->series[d->spos];
        d->spos = (d->spos + 1) % LIVE_SERIES;
        if (d->nseries < LIVE_SERIES)
            d->nseries++;
        pt->t_ms = now_ms;
        pt->fitness = fit;
        pt->version = version;
    }
    if (r.err || r.left) {
        log_warn("live.status_dropped", "agent=%s why=%s", a->name,
                 err_str(r.err ? r.err : ERR_PROTO));
    }
}
