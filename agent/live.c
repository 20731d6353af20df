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
/* live.c - `petri-agent live`: one live individual on one VM (live.h),
 * through a live_host (live_host.h) that replays the trace once: this file
 * reads the input, queues the upgrades at their request counts, prints
 * every event, and keeps what the summary (live_report.c) needs.
 */
#include "live.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "loop.h"
#include "settings.h"
#include "util.h"
#include "wire.h"
#include "wire_live.h"
#include "live_int.h"

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

/* ---- the host's callbacks ---- */

static void on_reply(live_host_t *h, uint64_t seq, const wire_live_reply_t *rep,
                     uint64_t latency_us, void *arg)
{
    live_run_t *r = arg;
    (void)h;
    lreq_t *q = &r->reqs[(seq - 1) % r->nreqs];
    if (q->answers++)
        return;
    q->latency_us = latency_us;
    q->version = rep->version;
    q->score = rep->score;
    lver_t *v = version(r, rep->version);
    if (v) {
        v->n++;
        v->correct += rep->correct == 1;
        v->failed += rep->status != WIRE_ST_OK;
        v->score_sum += rep->score;
    }
}

static void on_event(live_host_t *h, const live_host_event_t *ev, void *arg)
{
    live_run_t *r = arg;
    (void)h;
    const wire_live_event_t *e = ev->e;
    lup_t *u = e->upgrade_id >= 1 && e->upgrade_id <= r->nups ? &r->ups[e->upgrade_id - 1] : NULL;
    double ms = ev->up_sent_us ? (double)(mono_us() - ev->up_sent_us) / 1000.0 : 0;
    lver_t *v = version(r, e->version);
    if (v && (e->kind == WIRE_LIVE_STARTED || e->kind == WIRE_LIVE_UPGRADE))
        snprintf(v->hash, sizeof v->hash, "%s", e->to_hash);
    if (u) {
        if (e->kind == WIRE_LIVE_UPGRADE)
            u->ms = ms;
        else if ((e->kind == WIRE_LIVE_ROLLBACK || e->kind == WIRE_LIVE_REFUSED) &&
                 e->probation == 0 && !ev->by_agent)
            u->ms = ms;
        if (e->kind == WIRE_LIVE_PROMOTED || e->kind == WIRE_LIVE_ROLLBACK ||
            e->kind == WIRE_LIVE_REFUSED)
            u->outcome = e->kind;
    }
    live_print_event(r, e, ev->by_agent ? "agent" : NULL);
}

static void on_ended(live_host_t *h, int failed, const char *why, void *arg)
{
    live_run_t *r = arg;
    (void)h;
    if (failed) {
        fprintf(stderr, "petri-agent live: %s\n", why);
        r->failed = 1;
    }
    loop_stop(r->loop);
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
    free(r->genome);
    free(r->vers);
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
        rc = live_read_text(genome, &r.genome, &r.genome_len, 65536, "--genome");
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
    r.start.source = (const uint8_t *)r.genome;
    r.start.source_len = r.genome_len;
    live_host_opts_t ho = {
        .so = {.erl = r.erl, .code_path = po.code_path, .elixir_path = r.elixir, .slots = 1},
        .live_id = LIVE_ID,
        .start = &r.start,
        .trace = &r.trace,
        .rate = r.rate,
        .batch = r.batch,
        .reap = 1,
        .tick_ms = 1,
        .max_upgrades = LIVE_MAX_UPGRADES,
        .kill_after_upgrade = (uint64_t)r.kill_after,
        .name = "1"};
    live_host_cb_t cb = {.event = on_event, .reply = on_reply, .ended = on_ended};
    r.loop = loop_new();
    loop_signal_add(r.loop, SIGINT, on_signal, &r);
    loop_signal_add(r.loop, SIGTERM, on_signal, &r);
    uint64_t t0 = mono_us();
    r.host = live_host_new(r.loop, &ho, &cb, &r, err, sizeof err);
    for (size_t i = 0; r.host && i < r.nups; i++)
        if (live_host_upgrade(r.host, i + 1, (const uint8_t *)r.ups[i].src, r.ups[i].src_len, 0, 1,
                              r.ups[i].at) != 0)
            r.failed = 1;
    if (r.host && !r.failed) {
        loop_run(r.loop);
    } else {
        fprintf(stderr, "petri-agent live: cannot start a VM: %s\n",
                r.host ? "out of memory" : err);
        r.failed = 1;
    }
    double elapsed = (double)(mono_us() - t0) / 1000.0;
    if (r.host) {
        live_host_stats_t st;
        live_host_stats(r.host, &st, 1);
        r.answered = st.answered;
        r.twice = st.twice;
        r.resent = st.resent;
        r.unknown = st.unknown;
        r.restarts = st.restarts;
        r.n_promoted = st.promoted;
        r.n_rollback = st.rolled_back;
        r.n_refused = st.refused;
        r.n_restarted = st.restarted;
    }
    live_host_destroy(&r.host);
    live_summary(&r, elapsed);
    int lost = r.answered != r.nreqs || r.twice;
    int code = r.failed ? 1 : (lost ? 3 : 0);
    loop_destroy(&r.loop);
    run_free(&r);
    cfg_destroy(&cfg);
    return code;
}
