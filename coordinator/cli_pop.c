/* cli_pop.c - `petri population create|list|status|stop`: population
 * specs to the coordinator, progress views, and --watch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"
#include "err.h"
#include "util.h"

#define SPEC_MAX (16u << 20)

static const char help_pop[] =
    "usage: petri population <create|list|status|stop> ...\n"
    "\n"
    "  create SPEC.json               start a population from a JSON spec\n"
    "  list                           every population with its progress\n"
    "  status NAME [--watch [--interval S]]\n"
    "                                 progress of one population\n"
    "  stop NAME                      stop evolving a population\n"
    "\n"
    "See 'petri population <subcommand> --help'.\n";

static const char help_create[] =
    "usage: petri population create SPEC.json [--json]\n"
    "\n"
    "Sends the spec (POST /v1/populations) and starts evolving. The spec names\n"
    "the population, its language, seed genome(s), primitive set, fitness\n"
    "(cases or a module), size, demes, selection, operator rates, elitism, stop\n"
    "condition and migration interval (see configs/specs/ for examples).\n"
    "Exit status: 0 created; 1 a population of that name exists; 2 the spec\n"
    "is not JSON or the coordinator rejects it (the message names the field).\n";

static const char help_list[] = "usage: petri population list [--json]\n"
                                "\n"
                                "Every population: NAME, STATE, evaluations, evaluations per\n"
                                "second, best fitness and the best genome's hash.\n";

static const char help_status[] =
    "usage: petri population status NAME [--watch [--interval S]] [--json]\n"
    "\n"
    "Shows a population's state, evaluations, best and mean fitness, sparklines\n"
    "of the best and mean fitness over time, a histogram of the current fitness\n"
    "distribution, its demes and the best genome's source.\n"
    "  -w, --watch       redraw every interval until the population is no longer\n"
    "                    running (or Ctrl-C); with --json, one JSON line per poll\n"
    "  --interval S      seconds between polls (default 1)\n"
    "Exit status: 0 running, solved or stopped (and after Ctrl-C in --watch);\n"
    "1 failed or no such population.\n";

static const char help_stop[] = "usage: petri population stop NAME [--json]\n"
                                "\n"
                                "Stops a population (POST /v1/populations/NAME/stop); its\n"
                                "lineage and best genome stay available.\n";

static int pop_create(cli_t *c)
{
    if (c->a.help) {
        fputs(help_create, stdout);
        return CLI_OK;
    }
    if (c->a.npos != 3)
        return cli_usagef("population create ", "expected one SPEC.json file");
    const char *path = c->a.pos[2];
    char *text = NULL;
    size_t len = 0;
    int rc = !strcmp(path, "-") ? ERR_INVAL : util_read_file(path, SPEC_MAX, &text, &len);
    if (rc != 0) {
        cli_errf("cannot read %s: %s", path, err_str(rc));
        return CLI_USAGE;
    }
    json_error_t je;
    json_t *spec = json_loadb(text, len, 0, &je);
    if (!spec) {
        cli_errf("%s:%d:%d: not valid JSON: %s", path, je.line, je.column, je.text);
        free(text);
        return CLI_USAGE;
    }
    const char *name = json_string_value(json_object_get(spec, "name"));
    json_t *out = NULL;
    rc = cli_api(c, "POST", "/v1/populations", text, len, 0, &out, NULL, NULL);
    free(text);
    if (rc == CLI_OK) {
        if (c->a.json) {
            cli_put_json(out, 0);
        } else {
            const char *n = json_string_value(json_object_get(out, "name"));
            printf("created population %s\n", n ? n : name ? name : "?");
            printf("follow it with: petri population status %s --watch\n", n      ? n
                                                                           : name ? name
                                                                                  : "?");
        }
    }
    json_decref(out);
    json_decref(spec);
    return rc;
}

static int pop_list(cli_t *c)
{
    if (c->a.help) {
        fputs(help_list, stdout);
        return CLI_OK;
    }
    if (c->a.npos != 2)
        return cli_usagef("population list ", "unexpected argument '%s'", c->a.pos[2]);
    json_t *j = NULL;
    int rc = cli_api(c, "GET", "/v1/populations", NULL, 0, 0, &j, NULL, NULL);
    if (rc != CLI_OK)
        return rc;
    if (c->a.json)
        cli_put_json(j, 0);
    else if (json_array_size(j) == 0)
        printf("no populations (start one with: petri population create SPEC.json)\n");
    else
        cli_print_populations(stdout, j);
    json_decref(j);
    return CLI_OK;
}

static int exit_for_state(const char *state)
{
    return state && !strcmp(state, "failed") ? CLI_FAIL : CLI_OK;
}

static int pop_status(cli_t *c)
{
    if (c->a.help) {
        fputs(help_status, stdout);
        return CLI_OK;
    }
    if (c->a.npos != 3)
        return cli_usagef("population status ", "expected one population NAME");
    if ((c->a.seen & CLI_O_INTERVAL) && !c->a.watch)
        return cli_usagef("population status ", "--interval goes with --watch");
    const char *name = c->a.pos[2];
    char seg[512], path[600], nf[600];
    snprintf(path, sizeof path, "/v1/populations/%s", cli_url_seg(name, seg, sizeof seg));
    snprintf(nf, sizeof nf, "no population named %s", name);
    int tty = isatty(STDOUT_FILENO);
    long interval = (long)(c->a.interval_s * 1000.0);
    if (interval < 50)
        interval = 50;
    for (int first = 1;; first = 0) {
        json_t *j = NULL;
        int rc = cli_api(c, "GET", path, NULL, 0, 0, &j, NULL, nf);
        if (rc != CLI_OK) {
            if (rc == CLI_INTERRUPT && c->a.watch && !first)
                return CLI_OK;
            return rc;
        }
        const char *state = json_string_value(json_object_get(j, "state"));
        int running = state && !strcmp(state, "running");
        if (c->a.json) {
            cli_put_json(j, c->a.watch);
        } else if (c->a.watch && tty) {
            fputs("\033[H\033[2J", stdout);
            cli_print_population_n(stdout, j, cli_wall_ms(), 20);
            printf("\n(every %.3g s; Ctrl-C to stop watching)\n", c->a.interval_s);
        } else {
            if (c->a.watch && !first)
                fputc('\n', stdout);
            cli_print_population_n(stdout, j, cli_wall_ms(), c->a.watch ? 20 : -1);
        }
        fflush(stdout);
        rc = exit_for_state(state);
        json_decref(j);
        if (!c->a.watch || !running)
            return rc;
        if (cli_sleep_ms(interval))
            return CLI_OK;
    }
}

static int pop_stop(cli_t *c)
{
    if (c->a.help) {
        fputs(help_stop, stdout);
        return CLI_OK;
    }
    if (c->a.npos != 3)
        return cli_usagef("population stop ", "expected one population NAME");
    const char *name = c->a.pos[2];
    char seg[512], path[600], nf[600];
    snprintf(path, sizeof path, "/v1/populations/%s/stop", cli_url_seg(name, seg, sizeof seg));
    snprintf(nf, sizeof nf, "no population named %s", name);
    json_t *j = NULL;
    int rc = cli_api(c, "POST", path, "", 0, 0, &j, NULL, nf);
    if (rc != CLI_OK)
        return rc;
    if (c->a.json)
        cli_put_json(j, 0);
    else
        printf("stopped population %s\n", name);
    json_decref(j);
    return CLI_OK;
}

int cli_cmd_population(cli_t *c)
{
    char err[256];
    const char *sub = c->a.npos > 1 ? c->a.pos[1] : NULL;
    if (!sub) {
        if (c->a.help) {
            fputs(help_pop, stdout);
            return CLI_OK;
        }
        fputs(help_pop, stderr);
        return CLI_USAGE;
    }
    unsigned allowed = !strcmp(sub, "status") ? CLI_O_WATCH | CLI_O_INTERVAL : 0;
    char cmd[80];
    snprintf(cmd, sizeof cmd, "population %.40s", sub);
    if (!c->a.help && cli_args_allow(&c->a, allowed, cmd, err, sizeof err)) {
        strcat(cmd, " ");
        return cli_usagef(cmd, "%s", err);
    }
    if (!strcmp(sub, "create"))
        return pop_create(c);
    if (!strcmp(sub, "list") || !strcmp(sub, "ls"))
        return pop_list(c);
    if (!strcmp(sub, "status"))
        return pop_status(c);
    if (!strcmp(sub, "stop"))
        return pop_stop(c);
    return cli_usagef("population ", "unknown subcommand '%s'", sub);
}
