/* cli_scale.c - `petri scale status` (the coordinator's VM decisions and
 * why) and `petri agent list|drain NAME` (move work off an agent before it is
 * removed). */
#include <stdio.h>
#include <string.h>

#include "cli_int.h"

static const char help_scale[] =
    "usage: petri scale status [--json]\n"
    "  What the coordinator decided for each agent's VM count, and why: agents\n"
    "  report capacity and load; the coordinator asks for one more VM (up to the\n"
    "  agent's [beam] max_vms) when an agent's VMs are all busy with work waiting,\n"
    "  and one fewer (down to [beam] min_vms) when its VMs sit idle.\n";

static const char help_agent[] =
    "usage: petri agent list [--json]\n"
    "       petri agent drain NAME [--timeout S] [--json]\n"
    "  drain: the coordinator stops giving NAME work and moves its demes to the\n"
    "  other agents; the command waits until its in-flight work is done (nothing\n"
    "  is lost), then the agent can be stopped and removed. Exit 2 for an\n"
    "  unknown agent.\n";

static void print_scale(const json_t *arr)
{
    static const char *const h[] = {"AGENT",    "VMS",     "RANGE", "TARGET",
                                    "INFLIGHT", "LATENCY", "REASON"};
    cli_table_t *t = cli_table_new(7, h);
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        char vms[32], range[32], target[16], inflight[16], lat[32];
        snprintf(vms, sizeof vms, "%lld/%lld",
                 (long long)json_integer_value(json_object_get(e, "vms_ready")),
                 (long long)json_integer_value(json_object_get(e, "vms_total")));
        snprintf(range, sizeof range, "%lld..%lld",
                 (long long)json_integer_value(json_object_get(e, "min_vms")),
                 (long long)json_integer_value(json_object_get(e, "max_vms")));
        long long tg = json_integer_value(json_object_get(e, "target"));
        snprintf(target, sizeof target, "%s", tg ? "" : "-");
        if (tg)
            snprintf(target, sizeof target, "%lld", tg);
        snprintf(inflight, sizeof inflight, "%lld",
                 (long long)json_integer_value(json_object_get(e, "inflight")));
        snprintf(lat, sizeof lat, "%.0f ms", json_number_value(json_object_get(e, "latency_ms")));
        const char *cells[] = {
            json_string_value(json_object_get(e, "agent")), vms, range, target, inflight, lat,
            json_string_value(json_object_get(e, "reason"))};
        cli_table_row(t, cells);
    }
    cli_table_print(stdout, t, "");
    cli_table_destroy(&t);
}

int cli_cmd_scale(cli_t *c)
{
    if (c->a.help) {
        fputs(help_scale, stdout);
        return CLI_OK;
    }
    if (c->a.npos != 2 || strcmp(c->a.pos[1], "status") != 0)
        return cli_usagef("scale ", "expected `petri scale status`");
    json_t *j = NULL;
    int rc = cli_api(c, "GET", "/v1/scale", NULL, 0, 0, &j, NULL, NULL);
    if (rc != CLI_OK)
        return rc;
    if (c->a.json)
        cli_put_json(j, 0);
    else
        print_scale(j);
    json_decref(j);
    return CLI_OK;
}

static json_t *find_agent(json_t *agents, const char *name)
{
    size_t i;
    json_t *a;
    json_array_foreach(agents, i, a)
    {
        if (!strcmp(json_string_value(json_object_get(a, "name")) ?: "", name))
            return a;
    }
    return NULL;
}

static int agent_list(cli_t *c)
{
    json_t *j = NULL;
    int rc = cli_api(c, "GET", "/v1/agents", NULL, 0, 0, &j, NULL, NULL);
    if (rc != CLI_OK)
        return rc;
    if (c->a.json) {
        cli_put_json(j, 0);
    } else {
        static const char *const h[] = {"NAME", "ID", "STATE", "VMS", "INFLIGHT", "RESULTS"};
        cli_table_t *t = cli_table_new(6, h);
        size_t i;
        json_t *a;
        json_array_foreach(j, i, a)
        {
            char id[16], vms[32], inflight[16], results[24];
            cli_short(json_string_value(json_object_get(a, "id")), 12, id, sizeof id);
            snprintf(vms, sizeof vms, "%lld/%lld",
                     (long long)json_integer_value(json_object_get(a, "vms_ready")),
                     (long long)json_integer_value(json_object_get(a, "vms_total")));
            snprintf(inflight, sizeof inflight, "%lld",
                     (long long)json_integer_value(json_object_get(a, "inflight")));
            snprintf(results, sizeof results, "%lld",
                     (long long)json_integer_value(json_object_get(a, "results")));
            const char *cells[] = {json_string_value(json_object_get(a, "name")),
                                   id,
                                   json_string_value(json_object_get(a, "state")),
                                   vms,
                                   inflight,
                                   results};
            cli_table_row(t, cells);
        }
        cli_table_print(stdout, t, "");
        cli_table_destroy(&t);
    }
    json_decref(j);
    return CLI_OK;
}

static int agent_drain_cmd(cli_t *c, const char *name)
{
    char seg[512], path[600];
    snprintf(path, sizeof path, "/v1/agents/%s/drain", cli_url_seg(name, seg, sizeof seg));
    json_t *j = NULL;
    long status = 0;
    char nf[300];
    snprintf(nf, sizeof nf, "no agent named %s", name);
    int rc = cli_api(c, "POST", path, "", 0, 0, &j, &status, nf);
    if (rc != CLI_OK)
        return status == 404 ? CLI_USAGE : rc;
    json_decref(j);
    double timeout = c->a.timeout_s > 0 ? c->a.timeout_s : 120;
    uint64_t t0 = cli_wall_ms();
    for (;;) {
        json_t *agents = NULL;
        rc = cli_api(c, "GET", "/v1/agents", NULL, 0, 0, &agents, NULL, NULL);
        if (rc != CLI_OK)
            return rc;
        json_t *a = find_agent(agents, name);
        long long inflight = a ? json_integer_value(json_object_get(a, "inflight")) : 0;
        double el = (double)(cli_wall_ms() - t0) / 1000.0;
        if (!a || inflight == 0) {
            cli_progress_done();
            if (c->a.json)
                cli_put_json(a ? a : json_null(), 1);
            else
                printf("agent %s drained: no work left on it; it can be stopped and removed\n",
                       name);
            json_decref(agents);
            return CLI_OK;
        }
        json_decref(agents);
        if (el > timeout) {
            cli_progress_done();
            cli_errf("agent %s still has %lld items in flight after %.0f s", name, inflight, el);
            return CLI_FAIL;
        }
        cli_progress_line("draining", el);
        if (cli_sleep_ms(200))
            return CLI_INTERRUPT;
    }
}

int cli_cmd_agent(cli_t *c)
{
    if (c->a.help) {
        fputs(help_agent, stdout);
        return CLI_OK;
    }
    const char *sub = c->a.npos > 1 ? c->a.pos[1] : NULL;
    if (sub && !strcmp(sub, "list") && c->a.npos == 2)
        return agent_list(c);
    if (sub && !strcmp(sub, "drain") && c->a.npos == 3)
        return agent_drain_cmd(c, c->a.pos[2]);
    return cli_usagef("agent ", "expected `petri agent list` or `petri agent drain NAME`");
}
