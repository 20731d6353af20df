/* main.c - petri-agent: dispatch to the daemon or a one-shot command. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "ctl.h"
#include "daemon.h"
#include "err.h"
#include "live.h"
#include "oneshot.h"
#include "settings.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: petri-agent [-c FILE] [-o section.key=value]... [-n]   run the agent\n"
               "       petri-agent eval --spec SPEC.json [--vms N] GENOME...   score genomes\n"
               "       petri-agent breed --spec SPEC.json --op OP --seed N [PARENT [PARENT2]]\n"
               "       petri-agent evolve --spec SPEC.json [--population N] [--generations N]\n"
               "       petri-agent live --spec LIVE.json --trace T.jsonl --genome G.erl\n"
               "                        [--upgrade CHILD.erl@N]... [--rate R] [--json]\n"
               "       petri-agent status [-c FILE] [--json]      ask the running agent\n"
               "       petri-agent members [-c FILE] [--json]     the cluster as it sees it\n"
               "       petri-agent keys list|install KEY|use KEY|remove KEY [-c FILE]\n"
               "       petri-agent version\n"
               "Every command takes --help.\n");
}

static void print_members(json_t *arr)
{
    printf("%-20s %-12s %-22s %-8s %5s %-12s %s\n", "NAME", "ID", "ADDR", "STATUS", "INC", "ROLE",
           "META");
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
    {
        json_t *meta = json_object_get(m, "meta");
        char *mt = json_dumps(meta, JSON_COMPACT);
        printf("%-20s %-12.12s %-22s %-8s %5lld %-12s %s\n",
               json_string_value(json_object_get(m, "name")),
               json_string_value(json_object_get(m, "id")),
               json_string_value(json_object_get(m, "addr")),
               json_string_value(json_object_get(m, "status")),
               (long long)json_integer_value(json_object_get(m, "incarnation")),
               json_string_value(json_object_get(m, "role")), mt ? mt : "{}");
        free(mt);
    }
}

/* `status`, `members`, `keys`: ask the running agent over its control socket. */
static int cmd_ctl(const char *cmd, int argc, char **argv)
{
    const char *path = NULL;
    char *over[64];
    int nover = 0, json = 0;
    char *args[CTL_MAX_ARGS];
    int nargs = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc && nover < 64)
            over[nover++] = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: petri-agent %s [-c FILE] [-o node.run_dir=DIR] [--json]\n"
                   "  Asks the agent running with that config over <run_dir>/agent.sock.\n",
                   cmd);
            return 0;
        } else if (argv[i][0] != '-' && nargs < CTL_MAX_ARGS)
            args[nargs++] = argv[i];
        else {
            fprintf(stderr, "petri-agent %s: unknown argument '%s'\n", cmd, argv[i]);
            return 2;
        }
    }
    char err[512];
    cfg_t *c = agent_config_load(path, over, nover, err, sizeof err);
    if (!c) {
        fprintf(stderr, "petri-agent: %s\n", err);
        return 2;
    }
    char sock[600];
    snprintf(sock, sizeof sock, "%s/agent.sock", cfg_str(c, "node", "run_dir"));
    cfg_destroy(&c);
    int code = 0;
    char *body = NULL;
    if (ctl_call(sock, cmd, args, nargs, 5000, &code, &body, err, sizeof err) != 0) {
        fprintf(stderr, "petri-agent %s: %s\n", cmd, err);
        return 1;
    }
    json_error_t je;
    json_t *o = json_loads(body, 0, &je);
    if (!json && o && code == 0 && strcmp(cmd, "members") == 0 && json_is_array(o)) {
        print_members(o);
    } else if (json || !o) {
        printf("%s\n", body);
    } else {
        char *pretty = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", pretty ? pretty : body);
        free(pretty);
    }
    json_decref(o);
    free(body);
    return code;
}

int main(int argc, char **argv)
{
    /* a VM that dies leaves a broken pipe: writing to it must be an error
     * (EPIPE, handled), not the end of the agent (every subcommand) */
    signal(SIGPIPE, SIG_IGN);
    if (crypto_init() != 0) {
        fprintf(stderr, "petri-agent: libsodium failed to initialise\n");
        return 1;
    }
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            usage(stdout);
            return 0;
        }
        if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
            printf("petri-agent %s\n", PETRI_VERSION);
            return 0;
        }
        return agent_daemon_main(argc, argv);
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "eval") == 0)
        return cmd_eval(argc - 1, argv + 1);
    if (strcmp(cmd, "breed") == 0)
        return cmd_breed(argc - 1, argv + 1);
    if (strcmp(cmd, "evolve") == 0)
        return cmd_evolve(argc - 1, argv + 1);
    if (strcmp(cmd, "live") == 0)
        return cmd_live(argc - 1, argv + 1);
    if (strcmp(cmd, "status") == 0 || strcmp(cmd, "members") == 0 || strcmp(cmd, "keys") == 0)
        return cmd_ctl(cmd, argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0) {
        printf("petri-agent %s\n", PETRI_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "petri-agent: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
