/* daemon.c - petri-agent as a daemon: read as policy, top to bottom: config,
 * log, identity, signals, VMs, control socket, loop; on SIGTERM/SIGINT a
 * bounded, clean shutdown. */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "ackpt.h"
#include "ametrics.h"
#include "awork.h"
#include "cluster.h"
#include "crypto.h"
#include "ctl.h"
#include "gossip.h"
#include "err.h"
#include "log.h"
#include "pool.h"
#include "settings.h"
#include "util.h"

#define SHUTDOWN_SLACK_MS 3000 /* past grace + VM stop: leave anyway */
#define META_TICK_MS 1000      /* gossip metadata is refreshed when it changed */
#define LEAVE_WAIT_MS 1000     /* graceful leave: time for the news to go out */

typedef struct agent {
    cfg_t *cfg;
    loop_t *loop;
    void *zctx;
    pool_t *pool;
    ctl_t *ctl;
    keyring_t *kr;
    gossip_t *gossip;
    awork_t *work;
    ametrics_t *metrics; /* [metrics] bind, or NULL */
    ackpt_t *ckpt;       /* the newest lineage checkpoint held */
    char meta[CLUSTER_META_MAX];
    size_t metalen;
    node_identity_t id;
    char name[256];
    int stopping;
    int exit_code;
    uint64_t started_ms;
} agent_t;

static int64_t on_shutdown_deadline(loop_t *l, void *arg)
{
    (void)arg;
    log_warn("agent.shutdown_deadline", "msg=\"VMs did not stop in time; leaving anyway\"");
    loop_stop(l);
    return LOOP_TIMER_STOP;
}

static void begin_shutdown(agent_t *a, const char *why)
{
    if (a->stopping)
        return;
    a->stopping = 1;
    uint32_t grace = (uint32_t)cfg_int(a->cfg, "agent", "shutdown_grace_ms");
    log_info("agent.stopping", "why=%s grace_ms=%u", why, grace);
    loop_timer_add(a->loop, grace + SHUTDOWN_SLACK_MS, on_shutdown_deadline, a);
    /* take no more work: the coordinator moves our demes while we finish */
    awork_drain(a->work);
    pool_stop(a->pool, grace);
}

static void on_signal(loop_t *l, int signo, void *arg)
{
    (void)l;
    agent_t *a = arg;
    begin_shutdown(a, signo == SIGTERM ? "SIGTERM" : "SIGINT");
}

static int64_t on_live_stopped(loop_t *l, void *arg)
{
    agent_t *a = arg;
    if (awork_live_count(a->work) > 0)
        return 50;
    log_info("agent.live_stopped", "msg=\"every live individual stopped\"");
    loop_stop(l);
    return LOOP_TIMER_STOP;
}

static void on_pool_state(void *arg, int failed, const char *why)
{
    agent_t *a = arg;
    if (failed) {
        char q[400];
        log_error("agent.vms_failed", "why=%s", log_quote(why, q, sizeof q));
        a->exit_code = 1;
        loop_stop(a->loop);
        return;
    }
    /* stopped: every pool VM is gone; live individuals may still be saying
     * `stopped` (bounded by LIVE_STOP_WAIT_MS and the shutdown deadline) */
    if (awork_live_count(a->work) == 0)
        loop_stop(a->loop);
    else
        loop_timer_add(a->loop, 50, on_live_stopped, a);
}

/* Rewrites [gossip] keyring_file (primary first) after a key change. */
static int persist_keys(agent_t *a)
{
    const char *path = cfg_str(a->cfg, "gossip", "keyring_file");
    if (!*path)
        return 0;
    char text[KEYRING_MAX * (CRYPTO_KEY_B64_LEN + 1) + 64] = "# petri cluster keyring\n";
    size_t len = strlen(text);
    for (int i = 0; i < keyring_count(a->kr); i++) {
        uint8_t k[CRYPTO_KEY_LEN];
        char b64[CRYPTO_KEY_B64_LEN + 1];
        keyring_get(a->kr, i, k);
        crypto_key_to_b64(k, b64);
        len += (size_t)snprintf(text + len, sizeof text - len, "%s\n", b64);
        sodium_memzero(k, sizeof k);
    }
    int rc = util_write_file_atomic(path, text, len, 0600, 0);
    sodium_memzero(text, sizeof text);
    return rc;
}

static json_t *keys_cmd(agent_t *a, char **args, int nargs, int *code)
{
    if (nargs == 0 || (nargs == 1 && !strcmp(args[0], "list"))) {
        json_t *arr = json_array();
        for (int i = 0; i < keyring_count(a->kr); i++) {
            uint8_t k[CRYPTO_KEY_LEN];
            char b64[CRYPTO_KEY_B64_LEN + 1];
            keyring_get(a->kr, i, k);
            crypto_key_to_b64(k, b64);
            json_array_append_new(arr, json_pack("{s:s, s:b}", "key", b64, "primary", i == 0));
            sodium_memzero(k, sizeof k);
        }
        return json_pack("{s:o}", "keys", arr);
    }
    uint8_t k[CRYPTO_KEY_LEN];
    if (nargs != 2 || crypto_key_from_b64(args[1], k) != 0) {
        *code = 2;
        return json_pack("{s:s}", "error",
                         "usage: keys list | install KEY | use KEY | remove KEY "
                         "(KEY: base64 of 32 bytes)");
    }
    int rc;
    if (!strcmp(args[0], "install"))
        rc = keyring_add(a->kr, k);
    else if (!strcmp(args[0], "use"))
        rc = keyring_use(a->kr, k);
    else if (!strcmp(args[0], "remove"))
        rc = keyring_remove(a->kr, k);
    else
        rc = ERR_INVAL;
    sodium_memzero(k, sizeof k);
    if (rc == 0)
        rc = persist_keys(a);
    if (rc) {
        *code = rc == ERR_INVAL ? 2 : 1;
        return json_pack("{s:s}", "error",
                         rc == ERR_STATE ? "the primary key cannot be removed; `use` another first"
                         : rc == ERR_NOTFOUND ? "no such key installed"
                                              : err_str(rc));
    }
    log_info("agent.keys", "op=%s keys=%d", args[0], keyring_count(a->kr));
    return json_pack("{s:b, s:i}", "ok", 1, "keys", keyring_count(a->kr));
}

static void refresh_meta(agent_t *a)
{
    if (!a->gossip)
        return;
    char meta[CLUSTER_META_MAX];
    int total = pool_total(a->pool);
    double load = total ? (double)(pool_queued(a->pool) + pool_inflight(a->pool)) / total : 0;
    size_t n = cluster_meta_agent(meta, sizeof meta, a->id.pk, pool_ready(a->pool), total,
                                  (double)(int)(load * 2) / 2, awork_coordinator(a->work));
    if (*ackpt_b64(a->ckpt)) {
        size_t m = cluster_meta_set(meta, n, sizeof meta, "ckpt", ackpt_b64(a->ckpt));
        if (m == n)
            log_warn("agent.meta_ckpt", "msg=\"the checkpoint does not fit the metadata\"");
        n = m;
    }
    if (n == a->metalen && memcmp(meta, a->meta, n) == 0)
        return;
    memcpy(a->meta, meta, n);
    a->metalen = n;
    gossip_set_meta(a->gossip, (const uint8_t *)meta, n);
}

static int64_t on_meta_tick(loop_t *l, void *arg)
{
    (void)l;
    agent_t *a = arg;
    refresh_meta(a);
    awork_announce(a->work);
    return META_TICK_MS;
}

static void on_member(void *arg, const swim_event_t *ev)
{
    agent_t *a = arg;
    char idhex[2 * CRYPTO_ID_LEN + 1], from[2 * CRYPTO_ID_LEN + 1] = "-";
    crypto_hex(ev->m.id, CRYPTO_ID_LEN, idhex);
    if (ev->from)
        crypto_hex(ev->from, CRYPTO_ID_LEN, from);
    log_info("agent.member", "name=%s id=%s event=%s incarnation=%llu from=%s", ev->m.name, idhex,
             swim_event_str(ev->type), (unsigned long long)ev->m.incarnation, from);
    json_t *meta = cluster_meta_parse(ev->m.meta, ev->m.metalen);
    const char *ck = json_string_value(json_object_get(meta, "ckpt"));
    if (!strcmp(cluster_meta_role(meta), "coordinator") && ck) {
        int rc = ackpt_offer(a->ckpt, ck);
        if (rc < 0) /* the next metadata tick gossips a newly kept one */
            log_warn("agent.ckpt_rejected", "from=%s why=\"%s\"", ev->m.name, err_str(rc));
    }
    if (*cfg_str(a->cfg, "work", "coordinator")) {
        json_decref(meta);
        return; /* pinned */
    }
    if (!strcmp(cluster_meta_role(meta), "coordinator") &&
        (ev->m.status == SWIM_ALIVE || ev->m.status == SWIM_SUSPECT)) {
        const char *ep = json_string_value(json_object_get(meta, "work"));
        if (!cluster_meta_key_ok(ev->m.id, meta))
            log_warn("agent.coordinator_refused",
                     "name=%s id=%s why=\"its advertised key does not derive its node id\"",
                     ev->m.name, idhex);
        else if (ep && !strncmp(ep, "tcp://", 6))
            awork_set_coordinator(a->work, ep);
    }
    json_decref(meta);
}

static json_t *on_ctl(void *arg, const char *cmd, char **args, int nargs, int *code)
{
    agent_t *a = arg;
    *code = 0;
    if (strcmp(cmd, "members") == 0 && nargs == 0)
        return cluster_members_json(a->gossip);
    if (strcmp(cmd, "keys") == 0)
        return keys_cmd(a, args, nargs, code);
    if (strcmp(cmd, "status") == 0 && nargs == 0) {
        char id[2 * CRYPTO_ID_LEN + 1];
        crypto_hex(a->id.id, CRYPTO_ID_LEN, id);
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:I, s:o, s:o, s:o}", "name", a->name, "id", id, "version",
                      PETRI_VERSION, "uptime_ms", (json_int_t)(loop_now(a->loop) - a->started_ms),
                      "pool", pool_status_json(a->pool), "work", awork_status_json(a->work),
                      "gossip", cluster_gossip_json(a->gossip));
        return o;
    }
    *code = 2;
    return json_pack("{s:s}", "error", "unknown command");
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: petri-agent [-c FILE] [-o section.key=value]... [-n] [--insecure]\n"
            "       petri-agent eval|breed|evolve|status|members|keys [--help] ...\n"
            "  Runs the agent: supervises [beam] vms BEAM VMs and serves the local control\n"
            "  socket <run_dir>/agent.sock. Settings come from FILE, then PETRI_<SECTION>_<KEY>\n"
            "  variables, then -o flags. -n prints the effective settings and exits (2 on a\n"
            "  bad key or value). SIGTERM/SIGINT stop it cleanly. Without [gossip] key or\n"
            "  keyring_file it refuses to start unless --insecure.\n");
}

int agent_daemon_main(int argc, char **argv)
{
    const char *path = NULL;
    char *overrides[64];
    int nover = 0, check = 0, insecure = 0;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc && nover < 64)
            overrides[nover++] = argv[++i];
        else if (strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "--check") == 0)
            check = 1;
        else if (strcmp(argv[i], "--insecure") == 0)
            insecure = 1;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "petri-agent: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    char err[512];
    agent_t a = {.exit_code = 0};
    a.cfg = agent_config_load(path, overrides, nover, err, sizeof err);
    if (!a.cfg) {
        fprintf(stderr, "petri-agent: %s\n", err);
        return 2;
    }
    if (check) {
        cfg_print(a.cfg, stdout);
        cfg_destroy(&a.cfg);
        return 0;
    }
    int lvl = log_level_parse(cfg_str(a.cfg, "log", "level"));
    if (lvl < 0) {
        fprintf(stderr, "petri-agent: [log] level: '%s' is not debug|info|warn|error\n",
                cfg_str(a.cfg, "log", "level"));
        return 2;
    }
    log_init("petri-agent", lvl, cfg_bool(a.cfg, "log", "syslog"));

    /* signals go to the signalfd: block them before ZeroMQ starts threads */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (crypto_init() != 0)
        fatal("agent.crypto", "msg=\"libsodium failed to initialise\"");
    a.kr = keyring_new();
    if (!a.kr || cluster_keys_load(a.cfg, a.kr, insecure, err, sizeof err) != 0) {
        fprintf(stderr, "petri-agent: %s\n", err);
        return 2;
    }
    const char *data_dir = cfg_str(a.cfg, "node", "data_dir");
    const char *run_dir = cfg_str(a.cfg, "node", "run_dir");
    if (identity_load_or_create(data_dir, &a.id, err, sizeof err) != 0) {
        char q[600];
        fatal("agent.identity", "data_dir=%s why=%s", data_dir, log_quote(err, q, sizeof q));
    }
    int rc = util_mkdir_p(run_dir, 0755);
    if (rc)
        fatal("agent.run_dir", "run_dir=%s why=\"%s\"", run_dir, err_str(rc));
    const char *name = cfg_str(a.cfg, "node", "name");
    if (!*name) {
        gethostname(a.name, sizeof a.name - 1);
    } else {
        snprintf(a.name, sizeof a.name, "%s", name);
    }

    a.zctx = zmq_ctx_new();
    a.loop = loop_new();
    if (!a.zctx || !a.loop)
        fatal("agent.init", "msg=\"cannot create the ZeroMQ context or event loop\"");
    a.started_ms = loop_now(a.loop);
    loop_signal_add(a.loop, SIGTERM, on_signal, &a);
    loop_signal_add(a.loop, SIGINT, on_signal, &a);

    pool_opts_t po;
    agent_pool_opts(a.cfg, &po);
    a.pool = pool_new(a.loop, &po, on_pool_state, &a, err, sizeof err);
    if (!a.pool) {
        char q[600];
        fatal("agent.vms", "why=%s", log_quote(err, q, sizeof q));
    }
    char sock[600];
    snprintf(sock, sizeof sock, "%s/agent.sock", run_dir);
    a.ctl = ctl_new(a.loop, a.zctx, sock, on_ctl, &a, err, sizeof err);
    if (!a.ctl) {
        char q[600];
        fatal("agent.ctl", "why=%s", log_quote(err, q, sizeof q));
    }
    a.work =
        awork_new(a.loop, a.pool, &a.id, a.kr, a.name, (int)cfg_int(a.cfg, "work", "credit_per_vm"),
                  (int)cfg_int(a.cfg, "beam", "min_vms"),
                  (int)cfg_int(a.cfg, "live", "max_individuals"), err, sizeof err);
    if (!a.work)
        fatal("agent.work", "why=\"%s\"", err);
    if (*cfg_str(a.cfg, "work", "coordinator"))
        awork_set_coordinator(a.work, cfg_str(a.cfg, "work", "coordinator"));
    a.ckpt = ackpt_new(data_dir);
    if (!a.ckpt)
        fatal("agent.init", "msg=\"out of memory\"");
    a.metalen = cluster_meta_agent(a.meta, sizeof a.meta, a.id.pk, 0, po.vms, 0, "");
    if (*ackpt_b64(a.ckpt))
        a.metalen = cluster_meta_set(a.meta, a.metalen, sizeof a.meta, "ckpt", ackpt_b64(a.ckpt));
    a.gossip =
        gossip_new_from_config(a.loop, a.zctx, a.cfg, a.name, &a.id, a.kr, (const uint8_t *)a.meta,
                               a.metalen, on_member, &a, err, sizeof err);
    if (!a.gossip) {
        char q[600];
        fatal("agent.gossip", "why=%s", log_quote(err, q, sizeof q));
    }
    const char *mbind = cfg_str(a.cfg, "metrics", "bind");
    if (*mbind) {
        a.metrics = ametrics_new(a.loop, a.zctx, mbind, a.pool, a.work, a.gossip, err, sizeof err);
        if (!a.metrics)
            fatal("agent.metrics", "bind=%s why=\"%s\"", mbind, err);
    }
    loop_timer_add(a.loop, META_TICK_MS, on_meta_tick, &a);
    char idhex[2 * CRYPTO_ID_LEN + 1];
    crypto_hex(a.id.id, CRYPTO_ID_LEN, idhex);
    log_info("agent.start", "name=%s id=%s version=%s vms=%d control=%s gossip=%s pid=%d", a.name,
             idhex, PETRI_VERSION, po.vms, sock, gossip_advertise(a.gossip), (int)getpid());

    loop_run(a.loop);

    gossip_leave(a.gossip, LEAVE_WAIT_MS); /* runs the loop until "left" is out */
    ctl_destroy(&a.ctl);
    ametrics_destroy(&a.metrics);
    pool_destroy(&a.pool); /* before the work channel: late completions are dropped */
    awork_destroy(&a.work);
    gossip_destroy(&a.gossip);
    keyring_destroy(&a.kr);
    ackpt_destroy(&a.ckpt);
    loop_destroy(&a.loop);
    zmq_ctx_term(a.zctx);
    identity_wipe(&a.id);
    log_info("agent.stopped", "exit=%d", a.exit_code);
    cfg_destroy(&a.cfg);
    return a.exit_code;
}
