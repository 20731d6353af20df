/* live.c - `petri-agent live`: one live individual on one VM (live.h). The
 * runner boots the VM, starts the individual, replays the trace at a rate,
 * sends the upgrades at their request counts, prints the VM's events, and
 * restarts the individual from its last good snapshot on a fresh VM if the
 * VM dies.
 *
 *   BOOTING --HELLO--> STARTING --event started--> RUNNING --trace done and
 *      ^                                             |     all answered--> STOPPING
 *      +------------- VM died (restart) -------------+
 *
 * Invariants:
 *  1. Every trace request is sent until it is answered: requests sent to a
 *     VM that died unanswered are sent again, in order, to the next one.
 *     A reply for a request answered already is counted as answered twice.
 *  2. The last good version is the one of the last `started` or `promoted`
 *     event; its snapshot (the event's bytes) is what a restart resumes
 *     from. An upgrade on probation when its VM dies is abandoned.
 *  3. VM bytes are untrusted: a malformed frame ends that VM (it is then
 *     restarted like a dead one), never the runner.
 */
#include "live.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sys/wait.h>

#include "crypto.h"
#include "err.h"
#include "etf.h"
#include "log.h"
#include "loop.h"
#include "settings.h"
#include "spec.h"
#include "util.h"
#include "vm.h"
#include "wire.h"
#include "wire_live.h"

#define LIVE_ID 1
#define LIVE_MAX_TRACE 1000000 /* requests in a trace */
#define LIVE_MAX_TRACE_BYTES (256u << 20)
#define LIVE_MAX_UPGRADES 100000
#define LIVE_MAX_VERSIONS 200000
#define LIVE_MAX_RESTARTS 8     /* VM deaths before the run gives up */
#define LIVE_MAX_IN_FLIGHT 1024 /* requests sent and not answered */
#define LIVE_AROUND 16          /* requests after an upgrade point that "see" it */
#define LIVE_STOP_WAIT_MS 3000
#define LIVE_BOOT_WAIT_MS 30000

enum run_state { RS_BOOTING, RS_STARTING, RS_RUNNING, RS_STOPPING, RS_DONE };
static const char *const state_names[] = {"booting", "starting", "running", "stopping", "done"};

typedef struct lreq {
    uint8_t *req, *expect; /* ETF; expect NULL = nothing expected */
    size_t req_len, expect_len;
    uint64_t sent_us; /* last send, 0 = never */
    uint32_t answers;
    uint64_t latency_us; /* agent-side, first answer */
} lreq_t;

typedef struct lup {
    const char *path;
    char *src;
    size_t src_len;
    uint64_t at; /* send after this many requests */
    int sent;
    uint64_t sent_us;
    int outcome; /* -1 none yet, else enum wire_live_kind that settled it */
    double ms;   /* sent -> upgrade event (good) or -> rollback (bad at once) */
} lup_t;

typedef struct lver {
    char hash[WIRE_LIVE_HASH_MAX];
    uint64_t n, correct, failed;
    double score_sum;
} lver_t;

typedef struct live_run {
    loop_t *loop;
    vm_t *vm;
    pid_t pid;
    vm_spawn_opts_t so;
    char erl[4096];
    int state, json, failed;
    /* the spec */
    wire_live_start_t start;
    char **atoms;
    size_t natoms;
    uint8_t *init_arg;
    size_t init_arg_len;
    double rate;
    uint32_t batch;
    /* the individual's last good version */
    char *good_src;
    size_t good_src_len;
    uint8_t *good_snap;
    size_t good_snap_len;
    uint32_t good_version;
    /* the trace and the upgrades */
    lreq_t *reqs;
    size_t nreqs, next; /* next: first request never sent */
    lup_t *ups;
    size_t nups;
    uint64_t t0_us, rate_base_us;
    uint64_t rate_base_n;
    /* counts */
    uint64_t answered, twice, resent, unknown, restarts, stray;
    uint64_t n_promoted, n_rollback, n_refused, n_restarted;
    lver_t *vers;
    size_t nvers;
    int kill_after; /* test hook: SIGKILL the VM once this upgrade is written (1-based) */
    int kill_armed;
    int64_t timer;
    uint64_t state_ms;
    wire_buf_t wb;
} live_run_t;

static void set_state(live_run_t *r, int st, const char *why)
{
    log_info("live.state", "%s -> %s (%s)", state_names[r->state], state_names[st], why);
    r->state = st;
    r->state_ms = mono_ms();
}

/* ---- output ---- */

static void print_json(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER |
                                JSON_REAL_PRECISION(10));
    if (s)
        printf("%s\n", s);
    free(s);
    fflush(stdout);
    json_decref(o);
}

static json_t *score_json(double v)
{
    return isfinite(v) ? json_real(round(v * 1e6) / 1e6) : json_null();
}

static void print_event(live_run_t *r, const wire_live_event_t *e, const char *note)
{
    const char *kind = wire_live_event_str(e->kind);
    if (r->json) {
        json_t *o = json_pack("{s:s, s:I, s:I, s:I}", "event", kind, "upgrade_id",
                              (json_int_t)e->upgrade_id, "version", (json_int_t)e->version,
                              "at_seq", (json_int_t)e->at_seq);
        json_object_set_new(o, "from", json_string(e->from_hash));
        json_object_set_new(o, "to", json_string(e->to_hash));
        json_object_set_new(o, "state_before", json_string(e->state_before));
        json_object_set_new(o, "state_after", json_string(e->state_after));
        json_object_set_new(o, "parent_score", score_json(e->parent_score));
        json_object_set_new(o, "child_score", score_json(e->child_score));
        json_object_set_new(o, "probation", json_integer(e->probation));
        json_object_set_new(o, "reason", json_string(e->reason));
        json_object_set_new(o, "snapshot_bytes", json_integer(e->snapshot_len));
        json_object_set_new(o, "took_us", json_integer((json_int_t)e->took_us));
        if (e->upgrade_id >= 1 && e->upgrade_id <= r->nups)
            json_object_set_new(o, "child", json_string(r->ups[e->upgrade_id - 1].path));
        if (note)
            json_object_set_new(o, "note", json_string(note));
        print_json(o);
        return;
    }
    printf("%-9s v%-3u at %-6llu %.12s -> %.12s  state %.12s -> %.12s", kind, e->version,
           (unsigned long long)e->at_seq, e->from_hash[0] ? e->from_hash : "-",
           e->to_hash[0] ? e->to_hash : "-", e->state_before[0] ? e->state_before : "-",
           e->state_after[0] ? e->state_after : "-");
    if (isfinite(e->parent_score) || isfinite(e->child_score))
        printf("  score %.4f -> %.4f over %u", e->parent_score, e->child_score, e->probation);
    if (e->reason[0])
        printf("  (%s)", e->reason);
    if (note)
        printf("  [%s]", note);
    printf("\n");
    fflush(stdout);
}

/* ---- versions ---- */

static lver_t *version(live_run_t *r, uint32_t v)
{
    if (v == 0 || v > LIVE_MAX_VERSIONS)
        return NULL;
    if (v > r->nvers) {
        lver_t *nv = realloc(r->vers, (size_t)v * sizeof *nv);
        if (!nv)
            return NULL;
        memset(nv + r->nvers, 0, (v - r->nvers) * sizeof *nv);
        r->vers = nv;
        r->nvers = v;
    }
    return &r->vers[v - 1];
}

/* ---- the VM ---- */

static void on_frame(vm_t *vm, const uint8_t *buf, size_t len, void *arg);
static void on_broken(vm_t *vm, const char *reason, void *arg);

static int boot(live_run_t *r)
{
    char err[256];
    vm_callbacks_t cb = {.frame = on_frame, .broken = on_broken};
    r->vm = vm_spawn(r->loop, &r->so, &cb, r, err, sizeof err);
    if (!r->vm) {
        fprintf(stderr, "petri-agent live: cannot start a VM: %s\n", err);
        return -1;
    }
    r->pid = vm_pid(r->vm);
    set_state(r, RS_BOOTING, "vm spawned");
    return 0;
}

static void reap(live_run_t *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
}

static int send_frame(live_run_t *r)
{
    int rc = r->wb.err ? r->wb.err : vm_send(r->vm, r->wb.data, r->wb.len);
    wire_buf_reset(&r->wb);
    return rc;
}

static void send_start(live_run_t *r)
{
    wire_live_start_t s = r->start;
    s.source = (const uint8_t *)r->good_src;
    s.source_len = r->good_src_len;
    s.snapshot = r->good_snap;
    s.snapshot_len = r->good_snap_len;
    s.version = r->good_version;
    wire_live_put_start(&r->wb, &s);
    send_frame(r);
    set_state(r, RS_STARTING, r->good_snap_len ? "resuming from the last good snapshot" : "init");
}

/* Hex SHA-256, as the VM hashes sources and states (a snapshot's bytes are
 * the state's deterministic term_to_binary, so their hash is the state's). */
static void sha256_hex(const void *p, size_t len, char out[WIRE_LIVE_HASH_MAX])
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, p, len);
    crypto_hex(h, sizeof h, out);
}

/* The VM is gone: start over on a fresh one from the last good version. */
static void vm_lost(live_run_t *r, const char *why)
{
    vm_destroy(&r->vm);
    reap(r);
    r->kill_armed = 0;
    if (r->state == RS_STOPPING || r->state == RS_DONE) {
        set_state(r, RS_DONE, why);
        loop_stop(r->loop);
        return;
    }
    if (++r->restarts > LIVE_MAX_RESTARTS) {
        fprintf(stderr, "petri-agent live: the VM died %llu times, giving up (%s)\n",
                (unsigned long long)r->restarts, why);
        r->failed = 1;
        loop_stop(r->loop);
        return;
    }
    /* an upgrade on probation (or not yet judged) is abandoned */
    for (size_t i = 0; i < r->nups; i++) {
        lup_t *u = &r->ups[i];
        if (u->sent && u->outcome < 0) {
            u->outcome = WIRE_LIVE_ROLLBACK;
            r->n_rollback++;
            wire_live_event_t e = {.kind = WIRE_LIVE_ROLLBACK,
                                   .upgrade_id = i + 1,
                                   .version = r->good_version,
                                   .parent_score = NAN,
                                   .child_score = NAN};
            snprintf(e.reason, sizeof e.reason, "the VM died during the upgrade: %s", why);
            sha256_hex(r->good_src, r->good_src_len, e.from_hash);
            sha256_hex(u->src, u->src_len, e.to_hash);
            sha256_hex(r->good_snap, r->good_snap_len, e.state_after);
            print_event(r, &e, "agent");
        }
    }
    log_warn("live.vm_lost", "%s; restart %llu", why, (unsigned long long)r->restarts);
    if (boot(r) != 0) {
        r->failed = 1;
        loop_stop(r->loop);
    }
}

static void on_broken(vm_t *vm, const char *reason, void *arg)
{
    (void)vm;
    vm_lost(arg, reason);
}

/* Sends the requests in [from, to) that are unanswered, in one or more
 * batches; resend counts those sent before. */
static void send_range(live_run_t *r, size_t from, size_t to, int resend)
{
    size_t i = from;
    while (i < to) {
        size_t n = 0, j = i;
        for (; j < to && n < r->batch; j++)
            if (!(resend && r->reqs[j].answers))
                n++;
        if (n == 0)
            break;
        wire_live_requests_begin(&r->wb, LIVE_ID, (uint32_t)n);
        uint64_t now = mono_us();
        for (size_t k = i; k < j; k++) {
            lreq_t *q = &r->reqs[k];
            if (resend && q->answers)
                continue;
            wire_live_put_request(&r->wb, k + 1, q->req, q->req_len, q->expect, q->expect_len);
            if (resend && q->sent_us)
                r->resent++;
            q->sent_us = now;
        }
        wire_end(&r->wb);
        send_frame(r);
        i = j;
    }
}

static uint64_t in_flight(const live_run_t *r)
{
    return (uint64_t)r->next - r->answered;
}

/* Sends what the rate allows now, and the upgrades whose point is reached. */
static void pump(live_run_t *r)
{
    if (r->state != RS_RUNNING || !r->vm)
        return;
    uint64_t now = mono_us();
    uint64_t due = r->nreqs;
    if (r->rate > 0)
        due = r->rate_base_n + (uint64_t)((double)(now - r->rate_base_us) * r->rate / 1e6);
    if (due > r->nreqs)
        due = r->nreqs;
    while (r->next < due && in_flight(r) < LIVE_MAX_IN_FLIGHT) {
        /* the next upgrade point bounds this batch */
        size_t stop = due;
        if (stop - r->next > r->batch)
            stop = r->next + r->batch;
        for (size_t i = 0; i < r->nups; i++)
            if (!r->ups[i].sent && r->ups[i].at >= r->next && r->ups[i].at < stop)
                stop = r->ups[i].at;
        if (stop > r->next) {
            send_range(r, r->next, stop, 0);
            r->next = stop;
        }
        for (size_t i = 0; i < r->nups; i++) {
            lup_t *u = &r->ups[i];
            if (!u->sent && u->at <= r->next) {
                wire_live_put_upgrade(&r->wb, LIVE_ID, i + 1, 0, (const uint8_t *)u->src,
                                      u->src_len);
                send_frame(r);
                u->sent = 1;
                u->sent_us = mono_us();
                if (r->kill_after == (int)(i + 1))
                    r->kill_armed = 1;
            }
        }
    }
    /* upgrades after the last request */
    if (r->next == r->nreqs)
        for (size_t i = 0; i < r->nups; i++) {
            lup_t *u = &r->ups[i];
            if (!u->sent && u->at >= r->nreqs) {
                wire_live_put_upgrade(&r->wb, LIVE_ID, i + 1, 0, (const uint8_t *)u->src,
                                      u->src_len);
                send_frame(r);
                u->sent = 1;
                u->sent_us = mono_us();
            }
        }
    if (r->next == r->nreqs && r->answered == r->nreqs) {
        wire_live_put_stop(&r->wb, LIVE_ID);
        send_frame(r);
        set_state(r, RS_STOPPING, "every request answered");
    }
}

static int64_t on_tick(loop_t *l, void *arg)
{
    live_run_t *r = arg;
    (void)l;
    if (r->kill_armed && r->vm && vm_pending(r->vm) == 0) {
        /* test hook: the upgrade frame is written; the VM dies now */
        r->kill_armed = 0;
        log_warn("live.kill", "SIGKILL to the VM (--kill-vm-after-upgrade)");
        vm_kill(r->vm, SIGKILL);
    }
    uint64_t waited = mono_ms() - r->state_ms;
    if ((r->state == RS_BOOTING || r->state == RS_STARTING) && waited > LIVE_BOOT_WAIT_MS) {
        fprintf(stderr, "petri-agent live: the VM did not start the individual in %d ms\n",
                LIVE_BOOT_WAIT_MS);
        r->failed = 1;
        loop_stop(r->loop);
    }
    if (r->state == RS_STOPPING && waited > LIVE_STOP_WAIT_MS) {
        set_state(r, RS_DONE, "no stopped event");
        loop_stop(r->loop);
    }
    pump(r);
    return 1;
}

/* ---- frames from the VM ---- */

static int on_replies(live_run_t *r, wire_rd_t *rd)
{
    uint64_t id;
    uint32_t n;
    int rc = wire_live_read_replies(rd, &id, &n);
    uint64_t now = mono_us();
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        wire_live_reply_t rep;
        rc = wire_live_read_reply(rd, &rep);
        if (rc)
            break;
        if (rep.seq == 0 || rep.seq > r->next) {
            r->unknown++;
            continue;
        }
        lreq_t *q = &r->reqs[rep.seq - 1];
        if (q->answers++) {
            r->twice++;
            continue;
        }
        r->answered++;
        q->latency_us = now - q->sent_us;
        lver_t *v = version(r, rep.version);
        if (v) {
            v->n++;
            v->correct += rep.correct == 1;
            v->failed += rep.status != WIRE_ST_OK;
            v->score_sum += rep.score;
        }
    }
    return rc;
}

static void keep_good(live_run_t *r, const wire_live_event_t *e)
{
    if (e->snapshot_len == 0) {
        log_warn("live.snapshot", "no snapshot with the %s event (over %u bytes)",
                 wire_live_event_str(e->kind), WIRE_LIVE_SNAPSHOT_MAX);
        return;
    }
    if (e->kind == WIRE_LIVE_PROMOTED) {
        lup_t *u = &r->ups[e->upgrade_id - 1];
        char *src = malloc(u->src_len);
        if (!src)
            return;
        memcpy(src, u->src, u->src_len);
        free(r->good_src);
        r->good_src = src;
        r->good_src_len = u->src_len;
    }
    uint8_t *snap = malloc(e->snapshot_len);
    if (!snap)
        return;
    memcpy(snap, e->snapshot, e->snapshot_len);
    free(r->good_snap);
    r->good_snap = snap;
    r->good_snap_len = e->snapshot_len;
    r->good_version = e->version;
}

static int on_event(live_run_t *r, wire_rd_t *rd)
{
    wire_live_event_t e;
    int rc = wire_live_read_event(rd, &e);
    if (rc)
        return rc;
    if (e.upgrade_id > r->nups)
        return ERR_PROTO;
    lup_t *u = e.upgrade_id ? &r->ups[e.upgrade_id - 1] : NULL;
    lver_t *v = version(r, e.version);
    if (v && e.kind == WIRE_LIVE_STARTED)
        snprintf(v->hash, sizeof v->hash, "%s", e.to_hash);
    if (e.kind == WIRE_LIVE_UPGRADE && u) {
        lver_t *cv = version(r, e.version);
        if (cv)
            snprintf(cv->hash, sizeof cv->hash, "%s", e.to_hash);
        u->ms = (double)(mono_us() - u->sent_us) / 1000.0;
    }
    print_event(r, &e, NULL);
    switch (e.kind) {
    case WIRE_LIVE_STARTED:
        if (r->state != RS_STARTING)
            return ERR_STATE;
        keep_good(r, &e);
        set_state(r, RS_RUNNING, "started");
        r->rate_base_us = mono_us();
        r->rate_base_n = r->next;
        if (r->restarts) {
            /* requests the dead VM left unanswered go again, in order */
            send_range(r, 0, r->next, 1);
        }
        pump(r);
        break;
    case WIRE_LIVE_PROMOTED:
        if (!u || u->outcome >= 0)
            return ERR_PROTO;
        u->outcome = e.kind;
        r->n_promoted++;
        keep_good(r, &e);
        break;
    case WIRE_LIVE_ROLLBACK:
    case WIRE_LIVE_REFUSED:
        if (!u || u->outcome >= 0)
            return ERR_PROTO;
        u->outcome = e.kind;
        if (e.probation == 0)
            u->ms = (double)(mono_us() - u->sent_us) / 1000.0;
        e.kind == WIRE_LIVE_ROLLBACK ? r->n_rollback++ : r->n_refused++;
        break;
    case WIRE_LIVE_RESTARTED:
        r->n_restarted++;
        break;
    case WIRE_LIVE_FAILED:
        fprintf(stderr, "petri-agent live: the individual failed: %s\n", e.reason);
        r->failed = 1;
        loop_stop(r->loop);
        break;
    case WIRE_LIVE_STOPPED:
        set_state(r, RS_DONE, "stopped");
        loop_stop(r->loop);
        break;
    default:
        break;
    }
    return 0;
}

static void on_frame(vm_t *vm, const uint8_t *buf, size_t len, void *arg)
{
    live_run_t *r = arg;
    (void)vm;
    wire_hdr_t h;
    wire_rd_t rd;
    int rc = wire_parse(buf, len, &h, &rd);
    if (rc == 0) {
        switch (h.type) {
        case WIRE_VM_HELLO:
            if (r->state != RS_BOOTING)
                rc = ERR_STATE;
            else
                send_start(r);
            break;
        case WIRE_VM_LIVE_REPLIES:
            rc = on_replies(r, &rd);
            break;
        case WIRE_VM_LIVE_EVENT:
            rc = on_event(r, &rd);
            break;
        default:
            r->stray++;
            break;
        }
    }
    if (rc) {
        char why[160];
        snprintf(why, sizeof why, "bad message from the VM (type %u): %s", h.type, err_str(rc));
        vm_kill(r->vm, SIGKILL);
        vm_lost(r, why);
    }
}

/* ---- input ---- */

static int read_text(const char *path, char **out, size_t *len, size_t max, const char *what)
{
    int rc = util_read_file(path, max, out, len);
    if (rc)
        fprintf(stderr, "petri-agent live: %s %s: %s\n", what, path, err_str(rc));
    return rc;
}

static int encode_term(live_run_t *r, json_t *v, const char *path, uint8_t **out, size_t *len)
{
    char err[256];
    etf_buf_t b;
    etf_buf_init(&b, SPEC_TERM_MAX_BYTES);
    etf_json_opts_t o = {.atoms = (const char *const *)r->atoms,
                         .natoms = r->natoms,
                         .atoms_field = "atoms",
                         .max_depth = SPEC_TERM_MAX_DEPTH};
    etf_put_version(&b);
    int rc = etf_put_json(&b, v, &o, path, err, sizeof err);
    if (rc) {
        fprintf(stderr, "petri-agent live: %s\n", err);
        etf_buf_free(&b);
        return rc;
    }
    *out = etf_buf_take(&b, len);
    etf_buf_free(&b);
    return *out ? 0 : ERR_SPEC;
}

static int get_num(json_t *o, const char *key, const char *where, double min, double max,
                   double *out)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_number(v) || json_number_value(v) < min || json_number_value(v) > max) {
        fprintf(stderr, "petri-agent live: spec %s%s: a number in %g..%g\n", where, key, min, max);
        return ERR_SPEC;
    }
    *out = json_number_value(v);
    return 0;
}

static int check_keys(json_t *o, const char *const *keys, const char *where)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        int ok = 0;
        for (const char *const *p = keys; *p; p++)
            ok |= strcmp(*p, k) == 0;
        if (!ok) {
            fprintf(stderr, "petri-agent live: spec %s%s: unknown key\n", where, k);
            return ERR_SPEC;
        }
    }
    return 0;
}

static int load_spec(live_run_t *r, const char *path)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root || !json_is_object(root)) {
        fprintf(stderr, "petri-agent live: spec %s: %s (line %d)\n", path,
                root ? "not a JSON object" : je.text, je.line);
        json_decref(root);
        return ERR_SPEC;
    }
    static const char *const top[] = {"atoms", "init", "limits", "probation", "window",
                                      "score", "rate", "batch",  NULL};
    static const char *const lim[] = {"timeout_ms", "heap_words", "reductions", "state_words",
                                      NULL};
    static const char *const sc[] = {"latency", "reductions", "tolerance", NULL};
    double to = 100, heap = 1000000, reds = 1000000, sw = 100000, prob = 50, win = 200;
    double lw = 0, rw = 0, tol = 0, rate = 1000, batch = 16;
    json_t *limits = json_object_get(root, "limits"), *score = json_object_get(root, "score");
    json_t *atoms = json_object_get(root, "atoms");
    int rc = check_keys(root, top, "");
    if (!rc && limits && !json_is_object(limits)) {
        fprintf(stderr, "petri-agent live: spec limits: an object\n");
        rc = ERR_SPEC;
    }
    if (!rc && score && !json_is_object(score)) {
        fprintf(stderr, "petri-agent live: spec score: an object\n");
        rc = ERR_SPEC;
    }
    if (!rc && limits)
        rc = check_keys(limits, lim, "limits.");
    if (!rc && score)
        rc = check_keys(score, sc, "score.");
    if (!rc && limits) {
        rc = get_num(limits, "timeout_ms", "limits.", 1, 600000, &to);
        rc = rc ? rc : get_num(limits, "heap_words", "limits.", 1000, 1e9, &heap);
        rc = rc ? rc : get_num(limits, "reductions", "limits.", 0, 1e12, &reds);
        rc = rc ? rc : get_num(limits, "state_words", "limits.", 1, 1e9, &sw);
    }
    rc = rc ? rc : get_num(root, "probation", "", 1, 1e6, &prob);
    rc = rc ? rc : get_num(root, "window", "", 1, 1e6, &win);
    rc = rc ? rc : get_num(root, "rate", "", 0, 1e7, &rate);
    rc = rc ? rc : get_num(root, "batch", "", 1, WIRE_LIVE_MAX_BATCH, &batch);
    if (!rc && score) {
        rc = get_num(score, "latency", "score.", 0, 1, &lw);
        rc = rc ? rc : get_num(score, "reductions", "score.", 0, 1, &rw);
        rc = rc ? rc : get_num(score, "tolerance", "score.", 0, 1e6, &tol);
    }
    if (!rc && atoms) {
        if (!json_is_array(atoms) || json_array_size(atoms) > SPEC_MAX_ATOMS) {
            fprintf(stderr, "petri-agent live: spec atoms: a list of at most %d names\n",
                    SPEC_MAX_ATOMS);
            rc = ERR_SPEC;
        } else {
            r->natoms = json_array_size(atoms);
            r->atoms = calloc(r->natoms + 1, sizeof *r->atoms);
            for (size_t i = 0; !rc && i < r->natoms; i++) {
                const char *a = json_string_value(json_array_get(atoms, i));
                if (!a || !a[0] || strlen(a) > SPEC_ATOM_MAX || a[0] < 'a' || a[0] > 'z') {
                    fprintf(stderr, "petri-agent live: spec atoms[%zu]: a plain atom name\n", i);
                    rc = ERR_SPEC;
                } else {
                    r->atoms[i] = strdup(a);
                }
            }
        }
    }
    if (!rc) {
        json_t *init = json_object_get(root, "init");
        rc = encode_term(r, init ? init : json_null(), "init", &r->init_arg, &r->init_arg_len);
    }
    r->start = (wire_live_start_t){.live_id = LIVE_ID,
                                   .version = 1,
                                   .timeout_ms = (uint32_t)to,
                                   .heap_words = (uint64_t)heap,
                                   .reductions = (uint64_t)reds,
                                   .state_words = (uint64_t)sw,
                                   .probation = (uint32_t)prob,
                                   .window = (uint32_t)win,
                                   .lat_w = lw,
                                   .red_w = rw,
                                   .tolerance = tol,
                                   .atoms = (const char *const *)r->atoms,
                                   .natoms = r->natoms,
                                   .init_arg = r->init_arg,
                                   .init_arg_len = r->init_arg_len};
    r->rate = rate;
    r->batch = (uint32_t)batch;
    json_decref(root);
    return rc;
}

static int load_trace(live_run_t *r, const char *path)
{
    char *text;
    size_t len;
    if (read_text(path, &text, &len, LIVE_MAX_TRACE_BYTES, "trace") != 0)
        return ERR_SPEC;
    int rc = 0;
    size_t cap = 0, line = 0;
    for (char *p = text, *nl; !rc && p < text + len; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(text + len - p));
        if (!nl)
            nl = text + len;
        *nl = 0;
        line++;
        if (strspn(p, " \t\r") == strlen(p))
            continue;
        json_error_t je;
        json_t *o = json_loads(p, 0, &je);
        char where[64];
        snprintf(where, sizeof where, "trace line %zu", line);
        if (!o || !json_is_object(o) || !json_object_get(o, "req")) {
            fprintf(stderr, "petri-agent live: %s: %s\n", where,
                    o ? "not an object with \"req\"" : je.text);
            rc = ERR_SPEC;
        } else if (r->nreqs == LIVE_MAX_TRACE) {
            fprintf(stderr, "petri-agent live: %s: more than %d requests\n", where, LIVE_MAX_TRACE);
            rc = ERR_SPEC;
        } else {
            if (r->nreqs == cap) {
                cap = cap ? cap * 2 : 1024;
                lreq_t *nr = realloc(r->reqs, cap * sizeof *nr);
                if (!nr) {
                    json_decref(o);
                    rc = -ENOMEM;
                    break;
                }
                r->reqs = nr;
            }
            lreq_t *q = &r->reqs[r->nreqs];
            memset(q, 0, sizeof *q);
            char p1[80], p2[80];
            snprintf(p1, sizeof p1, "%s.req", where);
            snprintf(p2, sizeof p2, "%s.expect", where);
            json_t *ex = json_object_get(o, "expect");
            rc = encode_term(r, json_object_get(o, "req"), p1, &q->req, &q->req_len);
            if (!rc && ex)
                rc = encode_term(r, ex, p2, &q->expect, &q->expect_len);
            r->nreqs++;
        }
        json_decref(o);
    }
    free(text);
    if (!rc && r->nreqs == 0) {
        fprintf(stderr, "petri-agent live: trace %s holds no request\n", path);
        rc = ERR_SPEC;
    }
    return rc;
}

static int add_upgrade(live_run_t *r, const char *arg)
{
    const char *at = strrchr(arg, '@');
    int64_t n;
    if (!at || util_parse_i64(at + 1, &n) != 0 || n < 0) {
        fprintf(stderr, "petri-agent live: --upgrade '%s': CHILD.erl@N (N >= 0)\n", arg);
        return ERR_INVAL;
    }
    if (r->nups == LIVE_MAX_UPGRADES) {
        fprintf(stderr, "petri-agent live: more than %d upgrades\n", LIVE_MAX_UPGRADES);
        return ERR_LIMIT;
    }
    if (r->nups % 64 == 0) {
        lup_t *nu = realloc(r->ups, (r->nups + 64) * sizeof *nu);
        if (!nu)
            return -ENOMEM;
        r->ups = nu;
    }
    lup_t *u = &r->ups[r->nups];
    memset(u, 0, sizeof *u);
    char *path = strndup(arg, (size_t)(at - arg));
    u->path = path;
    u->at = (uint64_t)n;
    u->outcome = -1;
    r->nups++;
    return read_text(path, &u->src, &u->src_len, 65536, "--upgrade");
}

/* ---- summary ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void summary(live_run_t *r, double elapsed_ms)
{
    uint64_t lost = r->nreqs - r->answered;
    /* latency: steady (no upgrade point in the LIVE_AROUND requests before)
     * and around upgrades */
    uint64_t *steady = malloc((r->nreqs + 1) * sizeof *steady);
    size_t ns = 0;
    uint64_t around_max = 0, steady_max = 0;
    char *near = calloc(r->nreqs + 1, 1);
    for (size_t i = 0; near && i < r->nups; i++)
        for (uint64_t k = r->ups[i].at; k < r->ups[i].at + LIVE_AROUND && k < r->nreqs; k++)
            near[k] = 1;
    for (size_t i = 0; steady && near && i < r->nreqs; i++) {
        if (!r->reqs[i].answers)
            continue;
        uint64_t l = r->reqs[i].latency_us;
        if (near[i]) {
            around_max = l > around_max ? l : around_max;
        } else {
            steady[ns++] = l;
            steady_max = l > steady_max ? l : steady_max;
        }
    }
    if (steady)
        qsort(steady, ns, sizeof *steady, cmp_u64);
    /* each upgrade's gap: the longest latency of the requests that see it */
    uint64_t *gaps = calloc(r->nups + 1, sizeof *gaps);
    for (size_t i = 0; gaps && i < r->nups; i++)
        for (uint64_t k = r->ups[i].at; k < r->ups[i].at + LIVE_AROUND && k < r->nreqs; k++)
            if (r->reqs[k].answers && r->reqs[k].latency_us > gaps[i])
                gaps[i] = r->reqs[k].latency_us;
    if (gaps)
        qsort(gaps, r->nups, sizeof *gaps, cmp_u64);
    double good_ms = 0, bad_ms = 0, bad_max = 0;
    int ngood = 0, nbad = 0;
    for (size_t i = 0; i < r->nups; i++) {
        lup_t *u = &r->ups[i];
        if (u->outcome == WIRE_LIVE_PROMOTED) {
            good_ms += u->ms;
            ngood++;
        } else if (u->outcome == WIRE_LIVE_ROLLBACK && u->ms > 0) {
            bad_ms += u->ms;
            bad_max = u->ms > bad_max ? u->ms : bad_max;
            nbad++;
        }
    }
    json_t *o =
        json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "summary", 1, "requests",
                  (json_int_t)r->nreqs, "answered", (json_int_t)r->answered, "lost",
                  (json_int_t)lost, "twice", (json_int_t)r->twice, "resent", (json_int_t)r->resent,
                  "vm_restarts", (json_int_t)r->restarts, "upgrades", (json_int_t)r->nups);
    json_object_set_new(o, "promoted", json_integer((json_int_t)r->n_promoted));
    json_object_set_new(o, "rolled_back", json_integer((json_int_t)r->n_rollback));
    json_object_set_new(o, "refused", json_integer((json_int_t)r->n_refused));
    json_object_set_new(o, "restarted", json_integer((json_int_t)r->n_restarted));
    json_object_set_new(o, "unknown_replies", json_integer((json_int_t)r->unknown));
    json_object_set_new(o, "elapsed_ms", json_real(round(elapsed_ms * 10) / 10));
    json_t *lat = json_object();
    json_object_set_new(lat, "steady_p50", json_integer(ns ? (json_int_t)steady[ns / 2] : 0));
    json_object_set_new(lat, "steady_p99",
                        json_integer(ns ? (json_int_t)steady[(ns * 99) / 100] : 0));
    json_object_set_new(lat, "steady_max", json_integer((json_int_t)steady_max));
    json_object_set_new(lat, "around_upgrade_max", json_integer((json_int_t)around_max));
    json_object_set_new(lat, "upgrade_gap_p50",
                        json_integer(gaps && r->nups ? (json_int_t)gaps[r->nups / 2] : 0));
    json_object_set_new(o, "latency_us", lat);
    json_t *ms = json_object();
    json_object_set_new(ms, "upgrade_mean", json_real(ngood ? good_ms / ngood : 0));
    json_object_set_new(ms, "rollback_mean", json_real(nbad ? bad_ms / nbad : 0));
    json_object_set_new(ms, "rollback_max", json_real(bad_max));
    json_object_set_new(o, "upgrade_ms", ms);
    json_t *vs = json_array();
    for (size_t i = 0; i < r->nvers; i++) {
        lver_t *v = &r->vers[i];
        if (!v->n && !v->hash[0])
            continue;
        json_array_append_new(
            vs, json_pack("{s:I, s:s, s:I, s:I, s:I, s:o}", "version", (json_int_t)(i + 1), "hash",
                          v->hash, "requests", (json_int_t)v->n, "correct", (json_int_t)v->correct,
                          "failed", (json_int_t)v->failed, "fitness",
                          v->n ? score_json(v->score_sum / (double)v->n) : json_null()));
    }
    json_object_set_new(o, "versions", vs);
    free(steady);
    free(near);
    free(gaps);
    if (r->json) {
        print_json(o);
        return;
    }
    printf("requests %zu  answered %llu  lost %llu  twice %llu  resent %llu  vm restarts %llu\n",
           r->nreqs, (unsigned long long)r->answered, (unsigned long long)lost,
           (unsigned long long)r->twice, (unsigned long long)r->resent,
           (unsigned long long)r->restarts);
    printf("upgrades %zu: promoted %llu, rolled back %llu, refused %llu\n", r->nups,
           (unsigned long long)r->n_promoted, (unsigned long long)r->n_rollback,
           (unsigned long long)r->n_refused);
    size_t i;
    json_t *v;
    json_array_foreach(vs, i, v)
    {
        json_t *f = json_object_get(v, "fitness");
        char fit[32] = "-";
        if (json_is_real(f))
            snprintf(fit, sizeof fit, "%.4f", json_real_value(f));
        printf("  v%-3lld %.12s  %6lld requests  %6lld correct  fitness %s\n",
               (long long)json_integer_value(json_object_get(v, "version")),
               json_string_value(json_object_get(v, "hash")),
               (long long)json_integer_value(json_object_get(v, "requests")),
               (long long)json_integer_value(json_object_get(v, "correct")), fit);
    }
    json_decref(o);
}

/* ---- the command ---- */

static void usage(FILE *f)
{
    fprintf(f, "usage: petri-agent live --spec LIVE.json --trace TRACE.jsonl --genome G.erl\n"
               "                        [--upgrade CHILD.erl@N]... [--rate R] [--json]\n"
               "                        [-c FILE] [-o section.key=value]...\n"
               "  Starts G as a live individual on one VM, replays the trace (JSON lines\n"
               "  {\"req\": term, \"expect\": term}) at R requests/s, loads each CHILD into\n"
               "  it after request N, and prints every event (upgrade, promoted, rollback\n"
               "  with its reason) and a summary: requests sent, answered, lost, answered\n"
               "  twice, and the live fitness of each version.\n");
}

static void on_signal(loop_t *l, int signo, void *arg)
{
    live_run_t *r = arg;
    (void)signo;
    r->failed = 1;
    loop_stop(l);
}

static void run_free(live_run_t *r)
{
    for (size_t i = 0; i < r->nreqs; i++) {
        free(r->reqs[i].req);
        free(r->reqs[i].expect);
    }
    free(r->reqs);
    for (size_t i = 0; i < r->nups; i++) {
        free((char *)r->ups[i].path);
        free(r->ups[i].src);
    }
    free(r->ups);
    for (size_t i = 0; i < r->natoms; i++)
        free(r->atoms[i]);
    free(r->atoms);
    free(r->init_arg);
    free(r->good_src);
    free(r->good_snap);
    free(r->vers);
    wire_buf_free(&r->wb);
}

int cmd_live(int argc, char **argv)
{
    static const struct option longs[] = {
        {"spec", required_argument, 0, 's'},
        {"trace", required_argument, 0, 't'},
        {"genome", required_argument, 0, 'g'},
        {"upgrade", required_argument, 0, 'u'},
        {"rate", required_argument, 0, 'r'},
        {"json", no_argument, 0, 'j'},
        {"config", required_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},
        /* test hook, not in the usage: SIGKILL the VM once upgrade K is written */
        {"kill-vm-after-upgrade", required_argument, 0, 'K'},
        {0, 0, 0, 0}};
    live_run_t r;
    memset(&r, 0, sizeof r);
    wire_buf_init(&r.wb);
    const char *spec = NULL, *trace = NULL, *genome = NULL, *config = NULL, *rate = NULL;
    const char *kill = NULL;
    char *over[64];
    int nover = 0, c, rc = 0;
    optind = 1;
    while (!rc && (c = getopt_long(argc, argv, "c:o:h", longs, NULL)) != -1) {
        switch (c) {
        case 's':
            spec = optarg;
            break;
        case 't':
            trace = optarg;
            break;
        case 'g':
            genome = optarg;
            break;
        case 'u':
            rc = add_upgrade(&r, optarg);
            break;
        case 'r':
            rate = optarg;
            break;
        case 'j':
            r.json = 1;
            break;
        case 'K':
            kill = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'o':
            if (nover < 64)
                over[nover++] = optarg;
            break;
        case 'h':
            usage(stdout);
            run_free(&r);
            return 0;
        default:
            usage(stderr);
            run_free(&r);
            return 2;
        }
    }
    if (!rc && (!spec || !trace || !genome || optind < argc)) {
        fprintf(stderr, "petri-agent live: --spec, --trace and --genome are required%s\n",
                optind < argc ? " (and nothing else)" : "");
        rc = ERR_INVAL;
    }
    if (!rc)
        rc = load_spec(&r, spec);
    if (!rc && rate) {
        char *end;
        double v = strtod(rate, &end);
        if (*end || !(v >= 0 && v <= 1e7)) {
            fprintf(stderr, "petri-agent live: --rate '%s': a number in 0..1e7\n", rate);
            rc = ERR_INVAL;
        }
        r.rate = v;
    }
    if (!rc)
        rc = load_trace(&r, trace);
    if (!rc)
        rc = read_text(genome, &r.good_src, &r.good_src_len, 65536, "--genome");
    r.good_version = 1;
    int64_t kv;
    if (!rc && kill && (util_parse_i64(kill, &kv) != 0 || kv < 1 || kv > (int64_t)r.nups)) {
        fprintf(stderr,
                "petri-agent live: --kill-vm-after-upgrade '%s': an upgrade number in "
                "1..%zu\n",
                kill, r.nups);
        rc = ERR_INVAL;
    } else if (kill) {
        r.kill_after = (int)kv;
    }
    char err[512];
    cfg_t *cfg = NULL;
    if (!rc) {
        cfg = agent_config_load(config, over, nover, err, sizeof err);
        if (!cfg) {
            fprintf(stderr, "petri-agent live: %s\n", err);
            rc = ERR_CONFIG;
        }
    }
    if (rc) {
        run_free(&r);
        cfg_destroy(&cfg);
        return 2;
    }
    int lvl = log_level_parse(cfg_str(cfg, "log", "level"));
    log_init("petri-agent", lvl < LOG_LVL_WARN ? LOG_LVL_WARN : lvl, 0);
    if (getenv("PETRI_DEBUG"))
        log_init("petri-agent", LOG_LVL_DEBUG, 0);
    pool_opts_t po;
    agent_pool_opts(cfg, &po);
    if (vm_find_program(po.erl, r.erl, sizeof r.erl) != 0) {
        fprintf(stderr, "petri-agent live: [beam] erl: '%s' not found\n", po.erl);
        run_free(&r);
        cfg_destroy(&cfg);
        return 1;
    }
    r.so = (vm_spawn_opts_t){.erl = r.erl, .code_path = po.code_path, .slots = 1, .index = 0};
    r.loop = loop_new();
    loop_signal_add(r.loop, SIGINT, on_signal, &r);
    loop_signal_add(r.loop, SIGTERM, on_signal, &r);
    r.timer = loop_timer_add(r.loop, 1, on_tick, &r);
    r.t0_us = mono_us();
    if (boot(&r) == 0)
        loop_run(r.loop);
    else
        r.failed = 1;
    double elapsed = (double)(mono_us() - r.t0_us) / 1000.0;
    if (r.vm) {
        vm_destroy(&r.vm);
        reap(&r);
    }
    summary(&r, elapsed);
    int lost = r.answered != r.nreqs || r.twice;
    int code = r.failed ? 1 : (lost ? 3 : 0);
    loop_destroy(&r.loop);
    run_free(&r);
    cfg_destroy(&cfg);
    return code;
}
