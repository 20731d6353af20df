/* live_host.c - one live individual on a VM of its own (live_host.h). */
#include "live_host.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sys/wait.h>

#include "crypto.h"
#include "err.h"
#include "log.h"
#include "pool.h"

#include "live_host_int.h"

static const char *const state_names[] = {"booting", "starting", "running", "stopping", "ended"};

void lh_set_state(live_host_t *h, int st, const char *why)
{
    log_info("live.state", "individual=%s from=%s to=%s why=\"%s\"", h->name, state_names[h->state],
             state_names[st], why);
    h->state = st;
    h->state_ms = mono_ms();
}

static void fail_breeds(live_host_t *h, const char *why);

static void end(live_host_t *h, int failed, const char *why)
{
    if (h->state == LH_ENDED)
        return;
    lh_set_state(h, LH_ENDED, why);
    fail_breeds(h, "the individual ended");
    if (failed) /* whatever is in flight now never gets an answer */
        h->st.lost += h->next - h->base;
    if (h->cb.ended)
        h->cb.ended(h, failed, why, h->arg);
}

/* Hex SHA-256, as the VM hashes sources and states (a snapshot's bytes are
 * the state's deterministic term_to_binary, so their hash is the state's). */
static void sha256_hex(const void *p, size_t len, char out[WIRE_LIVE_HASH_MAX])
{
    uint8_t d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, p, len);
    crypto_hex(d, sizeof d, out);
}

/* ---- the VM ---- */

static void on_frame(vm_t *vm, const uint8_t *buf, size_t len, void *arg);
static void on_broken(vm_t *vm, const char *reason, void *arg);

static int boot(live_host_t *h, char *err, size_t errlen)
{
    vm_callbacks_t cb = {.frame = on_frame, .broken = on_broken};
    h->vm = vm_spawn(h->loop, &h->o.so, &cb, h, err, errlen);
    if (!h->vm)
        return ERR_STATE;
    h->pid = vm_pid(h->vm);
    lh_set_state(h, LH_BOOTING, "vm spawned");
    return 0;
}

static void drop_vm(live_host_t *h)
{
    vm_destroy(&h->vm);
    if (h->pid > 0) {
        kill(h->pid, SIGKILL);
        waitpid(h->pid, NULL, h->o.reap ? 0 : WNOHANG); /* else the owner's reaper */
        h->pid = 0;
    }
    h->kill_armed = 0;
}

int lh_send_frame(live_host_t *h)
{
    int rc = h->wb.err ? h->wb.err : h->vm ? vm_send(h->vm, h->wb.data, h->wb.len) : ERR_STATE;
    wire_buf_reset(&h->wb);
    return rc;
}

static void send_start(live_host_t *h)
{
    wire_live_start_t s = h->start;
    s.live_id = h->o.live_id;
    s.source = h->good_src;
    s.source_len = h->good_src_len;
    s.snapshot = h->good_snap;
    s.snapshot_len = h->good_snap_len;
    s.version = h->good_version;
    s.next_version = h->max_version + 1;
    wire_live_put_start(&h->wb, &s);
    lh_send_frame(h);
    lh_set_state(h, LH_STARTING,
                 h->good_snap_len ? "resuming from the last good snapshot" : "init");
}

static void emit(live_host_t *h, const wire_live_event_t *e, const lh_up_t *u, int by_agent,
                 int resumed)
{
    live_host_event_t ev = {.e = e, .by_agent = by_agent, .resumed = resumed};
    if (u) {
        ev.src = u->src;
        ev.src_len = u->len;
        ev.parent_src = h->good_src;
        ev.parent_len = h->good_src_len;
        ev.up_sent_us = u->sent_us;
    } else {
        ev.src = h->good_src;
        ev.src_len = h->good_src_len;
    }
    if (h->cb.event)
        h->cb.event(h, &ev, h->arg);
}

static void up_remove(live_host_t *h, lh_up_t *u)
{
    free(u->src);
    size_t i = (size_t)(u - h->ups);
    memmove(u, u + 1, (h->nups - i - 1) * sizeof *u);
    h->nups--;
}

/* Breedings in flight get no child now. */
static void fail_breeds(live_host_t *h, const char *why)
{
    while (h->nbreeds) {
        uint64_t req = h->breeds[--h->nbreeds];
        if (h->cb.child)
            h->cb.child(h, req, WIRE_ST_INTERNAL, NULL, 0, why, h->arg);
    }
}

/* The VM is gone: start over on a fresh one from the last good version. */
static void vm_lost(live_host_t *h, const char *why)
{
    drop_vm(h);
    fail_breeds(h, "the VM died while breeding");
    if (h->state == LH_STOPPING) {
        end(h, 0, why);
        return;
    }
    /* an upgrade on probation (or not yet judged) is abandoned */
    for (size_t i = 0; i < h->nups;) {
        lh_up_t *u = &h->ups[i];
        if (!u->sent) {
            i++;
            continue;
        }
        h->max_version++; /* the number it may have had stays unused */
        h->st.rolled_back++;
        wire_live_event_t e = {.kind = WIRE_LIVE_ROLLBACK,
                               .upgrade_id = u->id,
                               .version = h->good_version,
                               .at_seq = h->next ? h->next - 1 : 0,
                               .parent_score = NAN,
                               .child_score = NAN};
        snprintf(e.reason, sizeof e.reason, "the VM died during the upgrade: %.900s", why);
        sha256_hex(h->good_src, h->good_src_len, e.from_hash);
        sha256_hex(u->src, u->len, e.to_hash);
        sha256_hex(h->good_snap, h->good_snap_len, e.state_after);
        emit(h, &e, u, 1, 0);
        up_remove(h, u);
    }
    if (++h->st.restarts > LIVE_MAX_RESTARTS) {
        char msg[sizeof h->lost + 64];
        snprintf(msg, sizeof msg, "the VM died %llu times, giving up (%s)",
                 (unsigned long long)h->st.restarts, why);
        end(h, 1, msg);
        return;
    }
    log_warn("live.vm_lost", "individual=%s why=\"%s\" restart=%llu", h->name, why,
             (unsigned long long)h->st.restarts);
    char err[256];
    if (boot(h, err, sizeof err) != 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "cannot start a VM: %s", err);
        end(h, 1, msg);
    }
}

/* Marks the VM lost; the timer replaces it. */
static void mark_lost(live_host_t *h, const char *why)
{
    if (h->lost[0])
        return;
    snprintf(h->lost, sizeof h->lost, "%s", why);
    if (h->vm)
        vm_kill(h->vm, SIGKILL);
}

static void on_broken(vm_t *vm, const char *reason, void *arg)
{
    (void)vm;
    mark_lost(arg, reason);
}

void lh_send_upgrade(live_host_t *h, lh_up_t *u)
{
    wire_live_put_upgrade(&h->wb, h->o.live_id, u->id, u->probation, u->src, u->len, u->judge);
    lh_send_frame(h);
    u->sent = 1;
    u->sent_us = mono_us();
    log_info("live.upgrade_sent", "individual=%s upgrade_id=%llu bytes=%zu judge=%d", h->name,
             (unsigned long long)u->id, u->len, u->judge);
    if (h->o.kill_after_upgrade && h->o.kill_after_upgrade == u->id)
        h->kill_armed = 1;
}

static int64_t on_tick(loop_t *l, void *arg)
{
    live_host_t *h = arg;
    (void)l;
    if (h->state == LH_ENDED)
        return h->o.tick_ms * 100;
    if (h->end_pending) {
        drop_vm(h);
        end(h, h->end_failed, h->end_why);
        return h->o.tick_ms;
    }
    if (h->lost[0]) {
        char why[sizeof h->lost];
        snprintf(why, sizeof why, "%s", h->lost);
        h->lost[0] = 0;
        vm_lost(h, why);
        return h->o.tick_ms;
    }
    if (h->kill_armed && h->vm && vm_pending(h->vm) == 0) {
        h->kill_armed = 0; /* test hook: the upgrade frame is written; the VM dies now */
        log_warn("live.kill", "individual=%s msg=\"SIGKILL to the VM (test hook)\"", h->name);
        vm_kill(h->vm, SIGKILL);
    }
    for (size_t i = 0; i < h->nbreeds; i++)
        if (mono_ms() - h->breeds_ms[i] > LIVE_BREED_WAIT_MS) {
            uint64_t req = h->breeds[i];
            h->nbreeds--;
            h->breeds[i] = h->breeds[h->nbreeds];
            h->breeds_ms[i] = h->breeds_ms[h->nbreeds];
            log_warn("live.breed_timeout", "individual=%s req=%llu", h->name,
                     (unsigned long long)req);
            if (h->cb.child)
                h->cb.child(h, req, WIRE_ST_INTERNAL, NULL, 0, "the VM did not answer", h->arg);
            break; /* the rest at the next tick */
        }
    uint64_t waited = mono_ms() - h->state_ms;
    if ((h->state == LH_BOOTING || h->state == LH_STARTING) && waited > LIVE_BOOT_WAIT_MS) {
        char why[96];
        snprintf(why, sizeof why, "the VM did not start the individual in %d ms",
                 LIVE_BOOT_WAIT_MS);
        drop_vm(h);
        end(h, 1, why);
        return h->o.tick_ms;
    }
    if (h->state == LH_STOPPING && (h->stop_now || waited > LIVE_STOP_WAIT_MS)) {
        drop_vm(h);
        end(h, 0, h->stop_now ? "stopped before it ran" : "no stopped event");
        return h->o.tick_ms;
    }
    lh_pump(h);
    return h->o.tick_ms;
}

/* ---- frames from the VM ---- */

static int keep(uint8_t **dst, size_t *dlen, const uint8_t *src, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    if (!p)
        return -ENOMEM;
    if (len)
        memcpy(p, src, len);
    free(*dst);
    *dst = p;
    *dlen = len;
    return 0;
}

static void keep_good(live_host_t *h, const wire_live_event_t *e, const lh_up_t *u)
{
    if (e->snapshot_len == 0) {
        log_warn("live.snapshot", "individual=%s event=%s msg=\"no snapshot (over %u bytes)\"",
                 h->name, wire_live_event_str(e->kind), WIRE_LIVE_SNAPSHOT_MAX);
        return;
    }
    if (u && keep(&h->good_src, &h->good_src_len, u->src, u->len) != 0)
        return;
    if (keep(&h->good_snap, &h->good_snap_len, e->snapshot, e->snapshot_len) == 0)
        h->good_version = e->version;
}

static void end_soon(live_host_t *h, int failed, const char *what, const char *detail)
{
    if (h->end_pending)
        return;
    h->end_pending = 1;
    h->end_failed = failed;
    snprintf(h->end_why, sizeof h->end_why, "%s%s", what, detail);
}

static lh_up_t *find_up(live_host_t *h, uint64_t id)
{
    for (size_t i = 0; id && i < h->nups; i++)
        if (h->ups[i].id == id && h->ups[i].sent)
            return &h->ups[i];
    return NULL;
}

static int on_event(live_host_t *h, wire_rd_t *rd)
{
    wire_live_event_t e;
    int rc = wire_live_read_event(rd, &e);
    if (rc)
        return rc;
    lh_up_t *u = find_up(h, e.upgrade_id);
    int upgrade_kind = e.kind == WIRE_LIVE_UPGRADE || e.kind == WIRE_LIVE_PROMOTED ||
                       e.kind == WIRE_LIVE_ROLLBACK || e.kind == WIRE_LIVE_REFUSED;
    if (upgrade_kind && !u)
        return ERR_PROTO;
    if (e.kind == WIRE_LIVE_UPGRADE && u->loaded)
        return ERR_PROTO;
    if (e.version > h->max_version)
        h->max_version = e.version;
    switch (e.kind) {
    case WIRE_LIVE_STARTED: {
        if (h->state != LH_STARTING)
            return ERR_STATE;
        keep_good(h, &e, NULL);
        int resumed = h->st.restarts > 0;
        if (!h->st.version)
            h->st.version = e.version;
        emit(h, &e, NULL, 0, resumed);
        lh_set_state(h, LH_RUNNING, "started");
        h->rate_base_us = mono_us();
        h->rate_base_n = h->next;
        if (resumed) /* requests the dead VM left unanswered go again, in order */
            lh_send_range(h, h->base, h->next, 1);
        lh_pump(h);
        break;
    }
    case WIRE_LIVE_UPGRADE:
        u->loaded = 1;
        emit(h, &e, u, 0, 0);
        break;
    case WIRE_LIVE_PROMOTED:
        h->st.promoted++;
        emit(h, &e, u, 0, 0); /* parent_src: the good version still */
        keep_good(h, &e, u);
        up_remove(h, u);
        break;
    case WIRE_LIVE_ROLLBACK:
    case WIRE_LIVE_REFUSED:
        e.kind == WIRE_LIVE_ROLLBACK ? h->st.rolled_back++ : h->st.refused++;
        emit(h, &e, u, 0, 0);
        up_remove(h, u);
        break;
    case WIRE_LIVE_RESTARTED:
        h->st.restarted++;
        emit(h, &e, NULL, 0, 0);
        break;
    case WIRE_LIVE_FAILED:
        emit(h, &e, NULL, 0, 0);
        if (h->state == LH_RUNNING) {
            /* it ran: bring it back from its last good version on a new VM */
            char why[WIRE_LIVE_REASON_MAX + 32];
            snprintf(why, sizeof why, "the individual failed: %s", e.reason);
            mark_lost(h, why);
        } else if (h->state != LH_STOPPING) {
            end_soon(h, 1, "the individual failed: ", e.reason);
        }
        break;
    case WIRE_LIVE_STOPPED:
        emit(h, &e, NULL, 0, 0);
        end_soon(h, 0, "stopped", "");
        break;
    default:
        break;
    }
    return 0;
}

static int on_child(live_host_t *h, wire_rd_t *rd)
{
    uint64_t req = 0;
    uint8_t status = 0;
    const uint8_t *src = NULL;
    uint32_t len = 0;
    char detail[WIRE_LIVE_REASON_MAX];
    wire_get_u64(rd, &req);
    wire_get_u8(rd, &status);
    wire_get_bytes(rd, &src, &len, VM_MAX_FRAME);
    int rc = wire_get_str(rd, detail, sizeof detail);
    if (rc)
        return rc;
    if (status >= WIRE_ST__COUNT)
        return ERR_PROTO;
    size_t i = 0;
    while (i < h->nbreeds && h->breeds[i] != req)
        i++;
    if (i == h->nbreeds)
        return ERR_PROTO; /* nothing asked for it */
    h->nbreeds--;
    h->breeds[i] = h->breeds[h->nbreeds];
    h->breeds_ms[i] = h->breeds_ms[h->nbreeds];
    if (h->cb.child)
        h->cb.child(h, req, status, len ? src : NULL, len, detail, h->arg);
    return 0;
}

static void on_frame(vm_t *vm, const uint8_t *buf, size_t len, void *arg)
{
    live_host_t *h = arg;
    (void)vm;
    if (h->lost[0] || h->end_pending || h->state == LH_ENDED)
        return; /* condemned: what it still says is ignored */
    wire_hdr_t hd;
    wire_rd_t rd;
    int rc = wire_parse(buf, len, &hd, &rd);
    if (rc == 0) {
        switch (hd.type) {
        case WIRE_VM_HELLO:
            if (h->state == LH_STOPPING)
                h->stop_now = 1;
            else if (h->state != LH_BOOTING)
                rc = ERR_STATE;
            else
                send_start(h);
            break;
        case WIRE_VM_LIVE_REPLIES:
            rc = lh_on_replies(h, &rd);
            break;
        case WIRE_VM_LIVE_EVENT:
            rc = on_event(h, &rd);
            break;
        case WIRE_VM_CHILD:
            rc = on_child(h, &rd);
            break;
        default:
            break; /* pongs and the like: nothing asked them */
        }
    }
    if (rc && h->state != LH_ENDED) {
        char why[160];
        snprintf(why, sizeof why, "bad message from the VM (type %u): %s", hd.type, err_str(rc));
        mark_lost(h, why);
    }
}

/* ---- the API ---- */

live_host_t *live_host_new(loop_t *l, const live_host_opts_t *o, const live_host_cb_t *cb,
                           void *arg, char *err, size_t errlen)
{
    live_host_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->loop = l;
    h->o = *o;
    h->cb = *cb;
    h->arg = arg;
    h->start = *o->start;
    snprintf(h->name, sizeof h->name, "%s", o->name ? o->name : "live");
    if (h->o.batch == 0)
        h->o.batch = LIVE_DEFAULT_BATCH;
    if (h->o.tick_ms == 0)
        h->o.tick_ms = 1;
    wire_buf_init(&h->wb);
    h->base = h->next = 1;
    h->good_version = o->start->version ? o->start->version : 1;
    h->max_version = o->start->next_version ? o->start->next_version - 1 : h->good_version;
    if (h->max_version < h->good_version)
        h->max_version = h->good_version;
    h->st.fitness = NAN;
    h->win = calloc(h->start.window ? h->start.window : 1, sizeof *h->win);
    h->lat = malloc(LIVE_LATENCY_SAMPLE * sizeof *h->lat);
    if (!h->win || !h->lat || !o->trace || o->trace->n == 0 ||
        keep(&h->good_src, &h->good_src_len, o->start->source, o->start->source_len) != 0 ||
        (o->start->snapshot_len &&
         keep(&h->good_snap, &h->good_snap_len, o->start->snapshot, o->start->snapshot_len) != 0)) {
        snprintf(err, errlen, o->trace && o->trace->n ? "out of memory" : "an empty trace");
        live_host_destroy(&h);
        return NULL;
    }
    h->start.window = h->start.window ? h->start.window : 1;
    if (boot(h, err, errlen) != 0) {
        live_host_destroy(&h);
        return NULL;
    }
    h->timer = loop_timer_add(l, h->o.tick_ms, on_tick, h);
    return h;
}

void live_host_destroy(live_host_t **ph)
{
    if (!ph || !*ph)
        return;
    live_host_t *h = *ph;
    drop_vm(h);
    if (h->timer > 0)
        loop_timer_del(h->loop, h->timer);
    for (size_t i = 0; i < h->nups; i++)
        free(h->ups[i].src);
    free(h->ups);
    free(h->good_src);
    free(h->good_snap);
    free(h->win);
    free(h->lat);
    wire_buf_free(&h->wb);
    free(h);
    *ph = NULL;
}

int live_host_upgrade(live_host_t *h, uint64_t upgrade_id, const uint8_t *src, size_t len,
                      uint32_t probation, int judge, uint64_t at)
{
    if (h->state == LH_STOPPING || h->state == LH_ENDED)
        return ERR_STATE;
    if (h->nups >= h->o.max_upgrades)
        return ERR_LIMIT;
    if (upgrade_id == 0)
        return ERR_EXISTS;
    for (size_t i = 0; i < h->nups; i++)
        if (h->ups[i].id == upgrade_id)
            return ERR_EXISTS;
    if (h->nups == h->capups) {
        size_t nc = h->capups ? h->capups * 2 : 8;
        lh_up_t *nu = realloc(h->ups, nc * sizeof *nu);
        if (!nu)
            return -ENOMEM;
        h->ups = nu;
        h->capups = nc;
    }
    lh_up_t u = {.id = upgrade_id, .at = at, .probation = probation, .judge = judge ? 1 : 0};
    if (keep(&u.src, &u.len, src, len) != 0)
        return -ENOMEM;
    h->ups[h->nups++] = u;
    lh_pump(h);
    return 0;
}

int live_host_breed(live_host_t *h, uint64_t req, const uint8_t *spec, size_t spec_len,
                    const char *op, uint64_t seed, const uint8_t *const *parents,
                    const size_t *lens, uint32_t nparents)
{
    if (h->state != LH_RUNNING || !h->vm || h->lost[0] || h->end_pending)
        return ERR_STATE;
    if (h->nbreeds == LIVE_MAX_BREEDS)
        return ERR_LIMIT;
    wire_begin(&h->wb, WIRE_VM_BREED, 0, NULL);
    wire_put_u64(&h->wb, req);
    pool_put_spec(&h->wb, spec, spec_len, h->start.language);
    wire_put_str(&h->wb, op);
    wire_put_u64(&h->wb, seed);
    wire_put_u32(&h->wb, nparents);
    for (uint32_t i = 0; i < nparents; i++)
        wire_put_bytes(&h->wb, parents[i], lens[i]);
    wire_end(&h->wb);
    int rc = lh_send_frame(h);
    if (rc == 0) {
        h->breeds_ms[h->nbreeds] = mono_ms();
        h->breeds[h->nbreeds++] = req;
    }
    return rc;
}

void live_host_stop(live_host_t *h)
{
    if (h->state == LH_STOPPING || h->state == LH_ENDED)
        return;
    if (h->vm && !h->lost[0] && (h->state == LH_RUNNING || h->state == LH_STARTING)) {
        wire_live_put_stop(&h->wb, h->o.live_id);
        lh_send_frame(h);
    } else {
        h->stop_now = 1;
    }
    lh_set_state(h, LH_STOPPING, "asked to stop");
}

uint32_t live_host_good(const live_host_t *h, const uint8_t **src, size_t *len)
{
    if (src)
        *src = h->good_src;
    if (len)
        *len = h->good_src_len;
    return h->good_version;
}

void live_host_good_snapshot(const live_host_t *h, const uint8_t **snap, size_t *len)
{
    *snap = h->good_snap;
    *len = h->good_snap_len;
}

int live_host_pid(const live_host_t *h)
{
    return (int)h->pid;
}

int live_host_ended(const live_host_t *h)
{
    return h->state == LH_ENDED;
}

const char *live_host_name(const live_host_t *h)
{
    return h->name;
}
