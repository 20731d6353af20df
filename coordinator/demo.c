/* demo.c - `petri demo`: a coordinator and three agents on loopback in a
 * temporary directory with a fresh cluster key; evolves f(x) = x*x + 2*x - 1
 * live, prints the winner and its ancestry, verifies the lineage (with a
 * replay on the cluster), stops everything. */
#include "demo.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "crypto.h"
#include "err.h"
#include "util.h"

#define DEMO_MAX_AGENTS 16

static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static const char *const demo_spec_fmt =
    "{\"name\": \"quadratic\", \"function\": \"f/1\", \"language\": \"erlang\","
    " \"primitives\": {\"ops\": [\"+\", \"-\", \"*\"], \"vars\": [\"X\"],"
    "   \"constants\": {\"min\": -3, \"max\": 3, \"integer\": true}},"
    " \"fitness\": {\"cases\": [%s], \"error\": \"abs\"},"
    " \"limits\": {\"timeout_ms\": 500, \"heap_words\": 262144, \"reductions\": 1000000},"
    " \"size\": %d, \"demes\": %d, \"selection\": {\"tournament\": 4}, \"elitism\": 2,"
    " \"migration\": {\"interval\": 100, \"count\": 1},"
    " \"stop\": {\"target_fitness\": 0, \"max_evaluations\": 300000}}";

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (s >= 0)
        close(s);
    return port;
}

/* Starts argv with stdout/stderr into logpath; returns the pid or -1. */
static pid_t spawn(char *const argv[], const char *logpath)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(argv[0], argv);
    _exit(127);
}

static void stop_all(pid_t *pids, int n)
{
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGTERM);
    for (int i = 0; i < n; i++) {
        if (pids[i] <= 0)
            continue;
        int waited = 0;
        while (waitpid(pids[i], NULL, WNOHANG) == 0 && waited < 150) {
            usleep(100000);
            waited++;
        }
        if (waited >= 150) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
        }
        pids[i] = 0;
    }
}

static int call(const client_opts_t *o, const char *method, const char *path, const char *body,
                json_t **out)
{
    long status = 0;
    char err[512];
    int rc =
        client_call(o, method, path, body, body ? strlen(body) : 0, &status, out, err, sizeof err);
    if (rc != 0)
        return rc;
    if (status >= 400) {
        fprintf(stderr, "petri demo: %s %s: %s\n", method, path, err);
        return ERR_PROTO;
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: petri demo [--agents N] [--vms N] [--keep]\n"
               "  Starts a coordinator and N agents (default 3, one VM each) on loopback in a\n"
               "  temporary directory with a fresh cluster key, evolves f(x) = x*x + 2*x - 1\n"
               "  with live progress, prints the winner's source and ancestry, verifies the\n"
               "  lineage (replaying derivations on the cluster), stops everything. --keep\n"
               "  leaves the directory (configs, logs, lineage store) for inspection.\n");
}

static void self_dir(char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, cap, "%s", exe);
}

int demo_main(int argc, char **argv)
{
    int nagents = 3, vms = 1, keep = 0;
    static const struct option lo[] = {{"agents", required_argument, NULL, 'a'},
                                       {"vms", required_argument, NULL, 'v'},
                                       {"keep", no_argument, NULL, 'k'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        int64_t v;
        if (ch == 'a' || ch == 'v') {
            if (util_parse_i64(optarg, &v) != 0 || v < 1 || v > DEMO_MAX_AGENTS) {
                fprintf(stderr, "petri demo: --%s must be in 1..%d\n", ch == 'a' ? "agents" : "vms",
                        DEMO_MAX_AGENTS);
                return 2;
            }
            if (ch == 'a')
                nagents = (int)v;
            else
                vms = (int)v;
        } else if (ch == 'k') {
            keep = 1;
        } else if (ch == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    char dir[] = "/tmp/petri-demo-XXXXXX";
    if (!mkdtemp(dir)) {
        fprintf(stderr, "petri demo: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    char bindir[PATH_MAX], petri[PATH_MAX + 16], agent[PATH_MAX + 16];
    self_dir(bindir, sizeof bindir);
    snprintf(petri, sizeof petri, "%s/petri", bindir);
    snprintf(agent, sizeof agent, "%s/petri-agent", bindir);
    if (access(agent, X_OK) != 0) {
        fprintf(stderr, "petri demo: %s not found (run make)\n", agent);
        return 1;
    }
    uint8_t key[CRYPTO_KEY_LEN], tok[16];
    char key64[CRYPTO_KEY_B64_LEN + 1], token[2 * sizeof tok + 1];
    crypto_random(key, sizeof key);
    crypto_random(tok, sizeof tok);
    crypto_key_to_b64(key, key64);
    crypto_hex(tok, sizeof tok, token);
    setenv("PETRI_GOSSIP_KEY", key64, 1);
    setenv("PETRI_HTTP_TOKEN", token, 1);
    struct sigaction sa = {.sa_handler = on_sigint};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int gport = free_port(), wport = free_port(), hport = free_port();
    char gbind[64], wbind[64], hbind[64], seeds[64], ddir[PATH_MAX], log[PATH_MAX + 32];
    snprintf(gbind, sizeof gbind, "gossip.bind=127.0.0.1:%d", gport);
    snprintf(seeds, sizeof seeds, "gossip.seeds=127.0.0.1:%d", gport);
    snprintf(wbind, sizeof wbind, "work.bind=127.0.0.1:%d", wport);
    snprintf(hbind, sizeof hbind, "http.bind=127.0.0.1:%d", hport);
    snprintf(ddir, sizeof ddir, "node.data_dir=%s/coordinator", dir);
    snprintf(log, sizeof log, "%s/coordinator.log", dir);
    /* compressed gossip timings: a loopback cluster converges in well under a second */
    char *fast[] = {
        "-o", "gossip.probe_interval_ms=200", "-o", "gossip.probe_timeout_ms=100",
        "-o", "gossip.gossip_interval_ms=50", "-o", "gossip.push_pull_interval_ms=5000"};
    pid_t pids[DEMO_MAX_AGENTS + 1] = {0};
    char *cargv[32] = {petri, "coordinator",   "-o", ddir,  "-o", gbind,
                       "-o",  wbind,           "-o", hbind, "-o", "node.name=coordinator",
                       "-o",  "log.level=info"};
    int cn = 14;
    for (size_t i = 0; i < sizeof fast / sizeof *fast; i++)
        cargv[cn++] = fast[i];
    cargv[cn] = NULL;
    printf("petri demo: cluster in %s (coordinator + %d agents, %d VM%s each)\n", dir, nagents, vms,
           vms > 1 ? "s" : "");
    pids[0] = spawn(cargv, log);
    unsetenv("PETRI_HTTP_TOKEN"); /* the agents have no API */
    char names[DEMO_MAX_AGENTS][64], agbind[DEMO_MAX_AGENTS][64], adata[DEMO_MAX_AGENTS][PATH_MAX],
        arun[DEMO_MAX_AGENTS][PATH_MAX], vmsopt[32];
    snprintf(vmsopt, sizeof vmsopt, "beam.vms=%d", vms);
    for (int i = 0; i < nagents; i++) {
        snprintf(names[i], sizeof names[i], "node.name=agent-%d", i + 1);
        snprintf(agbind[i], sizeof agbind[i], "gossip.bind=127.0.0.1:%d", free_port());
        snprintf(adata[i], sizeof adata[i], "node.data_dir=%s/agent-%d", dir, i + 1);
        snprintf(arun[i], sizeof arun[i], "node.run_dir=%s/agent-%d/run", dir, i + 1);
        snprintf(log, sizeof log, "%s/agent-%d.log", dir, i + 1);
        char *aargv[40] = {agent,    "-o", names[i], "-o", agbind[i], "-o", seeds,           "-o",
                           adata[i], "-o", arun[i],  "-o", vmsopt,    "-o", "log.level=info"};
        int an = 15;
        for (size_t k = 0; k < sizeof fast / sizeof *fast; k++)
            aargv[an++] = fast[k];
        aargv[an] = NULL;
        pids[1 + i] = spawn(aargv, log);
    }
    client_opts_t co = {.addr = hbind + strlen("http.bind="), .token = token, .timeout_ms = 10000};
    int code = 1;
    json_t *j = NULL;
    /* wait until every agent is in the cluster with a ready VM */
    time_t t0 = time(NULL);
    int ready = 0, last_ready = -1;
    while (!g_interrupted && time(NULL) - t0 < 60) {
        usleep(200000);
        if (call(&co, "GET", "/v1/members", NULL, &j) != 0)
            continue;
        ready = 0;
        size_t i;
        json_t *m;
        json_array_foreach(j, i, m)
        {
            json_t *meta = json_object_get(m, "meta");
            if (!strcmp(json_string_value(json_object_get(m, "status")) ?: "", "alive") &&
                json_integer_value(json_object_get(meta, "vms")) > 0)
                ready++;
        }
        json_decref(j);
        j = NULL;
        if (ready != last_ready) {
            printf("agents ready: %d/%d\n", ready, nagents);
            fflush(stdout);
            last_ready = ready;
        }
        if (ready >= nagents)
            break;
    }
    if (ready < nagents) {
        fprintf(stderr, "petri demo: the agents did not come up (logs in %s)\n", dir);
        keep = 1;
        goto out;
    }
    char cases[2048] = "";
    size_t cl = 0;
    for (int x = -10; x <= 10; x++)
        cl += (size_t)snprintf(cases + cl, sizeof cases - cl, "%s{\"in\": [%d], \"out\": %d}",
                               x > -10 ? ", " : "", x, x * x + 2 * x - 1);
    char spec[4096];
    snprintf(spec, sizeof spec, demo_spec_fmt, cases, 60 * nagents, nagents * 2);
    if (call(&co, "POST", "/v1/populations", spec, NULL) != 0)
        goto out;
    printf("evolving f(X) -> X*X + 2*X - 1 from random genomes (population %d in %d demes)\n",
           60 * nagents, nagents * 2);
    const char *state = "running";
    json_t *pop = NULL;
    long long last_evals = -1;
    struct timespec tp;
    clock_gettime(CLOCK_MONOTONIC, &tp);
    double t_last = tp.tv_sec + tp.tv_nsec / 1e9, t_start = t_last;
    while (!g_interrupted) {
        usleep(250000);
        json_decref(pop);
        pop = NULL;
        if (call(&co, "GET", "/v1/populations/quadratic", NULL, &pop) != 0)
            continue;
        state = json_string_value(json_object_get(pop, "state")) ?: "?";
        json_t *best = json_object_get(pop, "best");
        long long evals = (long long)json_integer_value(json_object_get(pop, "evaluations"));
        clock_gettime(CLOCK_MONOTONIC, &tp);
        double now = tp.tv_sec + tp.tv_nsec / 1e9;
        if (evals != last_evals || strcmp(state, "running") != 0) {
            double rate =
                last_evals >= 0 && now > t_last ? (evals - last_evals) / (now - t_last) : 0;
            printf("  %5.1f s  %-8s evaluations %7lld  %6.0f evals/s  best error %-8g mean %.4g\n",
                   now - t_start, state, evals, rate,
                   json_number_value(json_object_get(best, "fitness")),
                   json_number_value(json_object_get(pop, "mean_fitness")));
            fflush(stdout);
            last_evals = evals;
            t_last = now;
        }
        if (strcmp(state, "running") != 0)
            break;
    }
    if (g_interrupted || strcmp(state, "solved") != 0) {
        fprintf(stderr, "petri demo: population ended %s\n",
                g_interrupted ? "(interrupted)" : state);
        json_decref(pop);
        goto out;
    }
    json_t *best = json_object_get(pop, "best");
    const char *hash = json_string_value(json_object_get(best, "hash"));
    printf("\nsolved. the winner, %s:\n%s\n", hash,
           json_string_value(json_object_get(best, "source")) ?: "");
    char path[256];
    snprintf(path, sizeof path, "/v1/lineage/%s?depth=4", hash);
    if (call(&co, "GET", path, NULL, &j) == 0) {
        printf("its ancestry (4 generations):\n");
        cli_print_lineage(stdout, j);
        json_decref(j);
        j = NULL;
    }
    json_decref(pop);
    printf("\nverifying the lineage (hash chain, every signature, 5 derivations replayed)...\n");
    co.timeout_ms = 300000;
    if (call(&co, "POST", "/v1/lineage/verify?replay=5", "", &j) == 0) {
        cli_print_verify(stdout, j);
        if (json_is_true(json_object_get(j, "ok")))
            code = 0;
    }
out:
    json_decref(j);
    stop_all(pids, nagents + 1);
    if (keep) {
        printf("petri demo: left %s (configs, logs, lineage store)\n", dir);
    } else {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "petri demo: could not remove %s\n", dir);
    }
    printf("petri demo: %s\n", code == 0 ? "done" : "failed");
    return code;
}
