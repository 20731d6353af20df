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

#include "crypto.h"
#include "ctl.h"
#include "err.h"
#include "log.h"
#include "pool.h"
#include "settings.h"
#include "util.h"

#define SHUTDOWN_SLACK_MS 3000 /* past grace + VM stop: leave anyway */

typedef struct agent {
    cfg_t *cfg;
    loop_t *loop;
    void *zctx;
    pool_t *pool;
    ctl_t *ctl;
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
    pool_stop(a->pool, grace);
}

static void on_signal(loop_t *l, int signo, void *arg)
{
    (void)l;
    agent_t *a = arg;
    begin_shutdown(a, signo == SIGTERM ? "SIGTERM" : "SIGINT");
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
    loop_stop(a->loop); /* stopped: every VM is gone */
}

static json_t *on_ctl(void *arg, const char *cmd, char **args, int nargs, int *code)
{
    agent_t *a = arg;
    (void)args;
    *code = 0;
    if (strcmp(cmd, "status") == 0 && nargs == 0) {
        char id[2 * CRYPTO_ID_LEN + 1];
        crypto_hex(a->id.id, CRYPTO_ID_LEN, id);
        json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:o}", "name", a->name, "id", id, "version",
                              PETRI_VERSION, "uptime_ms",
                              (json_int_t)(loop_now(a->loop) - a->started_ms), "pool",
                              pool_status_json(a->pool));
        return o;
    }
    *code = 2;
    return json_pack("{s:s}", "error", "unknown command");
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: petri-agent [-c FILE] [-o section.key=value]... [-n]\n"
            "       petri-agent eval|breed|evolve|status [--help] ...\n"
            "  Runs the agent: supervises [beam] vms BEAM VMs and serves the local control\n"
            "  socket <run_dir>/agent.sock. Settings come from FILE, then PETRI_<SECTION>_<KEY>\n"
            "  variables, then -o flags. -n prints the effective settings and exits (2 on a\n"
            "  bad key or value). SIGTERM/SIGINT stop it cleanly.\n");
}

int agent_daemon_main(int argc, char **argv)
{
    const char *path = NULL;
    char *overrides[64];
    int nover = 0, check = 0;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc && nover < 64)
            overrides[nover++] = argv[++i];
        else if (strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "--check") == 0)
            check = 1;
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
    char idhex[2 * CRYPTO_ID_LEN + 1];
    crypto_hex(a.id.id, CRYPTO_ID_LEN, idhex);
    log_info("agent.start", "name=%s id=%s version=%s vms=%d control=%s pid=%d", a.name, idhex,
             PETRI_VERSION, po.vms, sock, (int)getpid());

    loop_run(a.loop);

    ctl_destroy(&a.ctl);
    pool_destroy(&a.pool);
    loop_destroy(&a.loop);
    zmq_ctx_term(a.zctx);
    identity_wipe(&a.id);
    log_info("agent.stopped", "exit=%d", a.exit_code);
    cfg_destroy(&a.cfg);
    return a.exit_code;
}
