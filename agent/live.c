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
#include "log.h"
#include "loop.h"
#include "settings.h"
#include "util.h"
#include "vm.h"
#include "wire.h"
#include "wire_live.h"
#include "live_int.h"

static const char *const state_names[] = {"booting", "starting", "running", "stopping", "done"};

static void set_state(live_run_t *r, int st, const char *why)
{
    log_info("live.state", "%s -> %s (%s)", state_names[r->state], state_names[st], why);
    r->state = st;
    r->state_ms = mono_ms();
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
    s.next_version = r->max_version + 1;
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
            r->max_version++; /* the number it may have had stays unused */
            u->outcome = WIRE_LIVE_ROLLBACK;
            r->n_rollback++;
            wire_live_event_t e = {.kind = WIRE_LIVE_ROLLBACK,
                                   .upgrade_id = i + 1,
                                   .version = r->good_version,
                                   .parent_score = NAN,
                                   .child_score = NAN};
            snprintf(e.reason, sizeof e.reason, "the VM died during the upgrade: %.900s", why);
            sha256_hex(r->good_src, r->good_src_len, e.from_hash);
            sha256_hex(u->src, u->src_len, e.to_hash);
            sha256_hex(r->good_snap, r->good_snap_len, e.state_after);
            live_print_event(r, &e, "agent");
        }
    }
    log_warn("live.vm_lost", "%s; restart %llu", why, (unsigned long long)r->restarts);
    if (boot(r) != 0) {
        r->failed = 1;
        loop_stop(r->loop);
    }
}

/* Marks the VM lost; on_tick replaces it (vm.c must not see its vm_t freed
 * inside one of its callbacks). */
static void mark_lost(live_run_t *r, const char *why)
{
    if (r->lost[0])
        return;
    snprintf(r->lost, sizeof r->lost, "%s", why);
    if (r->vm)
        vm_kill(r->vm, SIGKILL);
}

static void on_broken(vm_t *vm, const char *reason, void *arg)
{
    (void)vm;
    mark_lost(arg, reason);
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
    if (r->state != RS_RUNNING || !r->vm || r->lost[0])
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
                                      u->src_len, 1);
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
                                      u->src_len, 1);
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
    if (r->lost[0]) {
        char why[sizeof r->lost];
        snprintf(why, sizeof why, "%s", r->lost);
        r->lost[0] = 0;
        vm_lost(r, why);
        return 1;
    }
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
        q->version = rep.version;
        q->score = rep.score;
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
    if (e.version > r->max_version && e.version <= LIVE_MAX_VERSIONS)
        r->max_version = e.version;
    lver_t *v = version(r, e.version);
    if (v && e.kind == WIRE_LIVE_STARTED)
        snprintf(v->hash, sizeof v->hash, "%s", e.to_hash);
    if (e.kind == WIRE_LIVE_UPGRADE && u) {
        lver_t *cv = version(r, e.version);
        if (cv)
            snprintf(cv->hash, sizeof cv->hash, "%s", e.to_hash);
        u->ms = (double)(mono_us() - u->sent_us) / 1000.0;
    }
    live_print_event(r, &e, NULL);
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
        if (r->state == RS_RUNNING) {
            /* it ran: bring it back from its last good version on a new VM */
            char why[WIRE_LIVE_REASON_MAX + 32];
            snprintf(why, sizeof why, "the individual failed: %s", e.reason);
            mark_lost(r, why);
            break;
        }
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
    if (r->lost[0])
        return; /* condemned: what it still says is ignored */
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
        mark_lost(r, why);
    }
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
               "  twice, and the live fitness of each version. A genome G.ex (or .exs)\n"
               "  is Elixir, and so is every CHILD.\n");
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
    free(r->reqs);
    live_trace_free(&r->trace);
    for (size_t i = 0; i < r->nups; i++) {
        free((char *)r->ups[i].path);
        free(r->ups[i].src);
    }
    free(r->ups);
    live_spec_free(&r->spec);
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
            rc = live_add_upgrade(&r, optarg);
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
        rc = live_load_spec(&r, spec);
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
        rc = live_load_trace(&r, trace);
    if (!rc)
        rc = live_read_text(genome, &r.good_src, &r.good_src_len, 65536, "--genome");
    r.good_version = 1;
    size_t gl = genome ? strlen(genome) : 0;
    if ((gl > 3 && !strcmp(genome + gl - 3, ".ex")) || (gl > 4 && !strcmp(genome + gl - 4, ".exs")))
        r.start.language = SPEC_LANG_ELIXIR; /* the genome and every upgrade */
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
    pool_resolve_elixir(po.elixir_path, r.elixir, sizeof r.elixir);
    r.so = (vm_spawn_opts_t){
        .erl = r.erl, .code_path = po.code_path, .elixir_path = r.elixir, .slots = 1, .index = 0};
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
    live_summary(&r, elapsed);
    int lost = r.answered != r.nreqs || r.twice;
    int code = r.failed ? 1 : (lost ? 3 : 0);
    loop_destroy(&r.loop);
    run_free(&r);
    cfg_destroy(&cfg);
    return code;
}
