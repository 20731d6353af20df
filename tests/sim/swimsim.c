/* swimsim.c - command line of the deterministic membership simulator:
 *   swimsim --nodes N --loss P --scenario S --seed K [--duration SEC]
 *           [--lifeguard on|off|both] [--json]
 * Prints a table (unless --json) and one JSON line with every run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_scenario.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: swimsim --nodes N --loss P --scenario S --seed K [--duration SEC]\n"
               "               [--lifeguard on|off|both] [--json]\n"
               "  --loss P      message loss on every link: a fraction (0.1) or percent (10)\n"
               "  --scenario S  one of:");
    for (int i = 0; sim_scenarios[i]; i++)
        fprintf(f, " %s", sim_scenarios[i]);
    fprintf(f, "\n  --duration    simulated seconds after warm-up (default: per scenario)\n"
               "  SWIMSIM_DEBUG=1 (false deaths), 2 (+ false suspicions), 3 (+ the crashed\n"
               "  member's suspicions) traces to stderr\n");
}

static void json_num(FILE *f, const char *k, double v, int last)
{
    fprintf(f, "\"%s\":%.3f%s", k, v, last ? "" : ",");
}

static void json_run(FILE *f, const sim_result_t *r)
{
    fprintf(f, "{\"lifeguard\":%s,\"warm_ok\":%s,", r->lifeguard ? "true" : "false",
            r->warm_ok ? "true" : "false");
    json_num(f, "warm_s", r->warm_s, 0);
    json_num(f, "duration_s", r->duration_s, 0);
    json_num(f, "detect_first_s", r->det_first, 0);
    json_num(f, "detect_median_s", r->det_median, 0);
    json_num(f, "detect_p99_s", r->det_p99, 0);
    json_num(f, "detect_all_s", r->det_all, 0);
    fprintf(f, "\"detect_count\":%u,\"detect_expected\":%u,", r->det_count, r->det_expected);
    json_num(f, "dissem_p99_s", r->dis_p99, 0);
    json_num(f, "dissem_all_s", r->dis_all, 0);
    fprintf(f, "\"dissem_count\":%u,\"dissem_expected\":%u,", r->dis_count, r->dis_expected);
    json_num(f, "recover_s", r->recover_s, 0);
    fprintf(f, "\"recovered\":%s,", r->recovered ? "true" : "false");
    fprintf(f,
            "\"fp_dead_nodes\":%llu,\"fp_dead_events\":%llu,\"false_suspicions\":%llu,"
            "\"false_suspect_origins\":%llu,\"refutations\":%llu,",
            (unsigned long long)r->fp_dead_nodes, (unsigned long long)r->fp_dead_events,
            (unsigned long long)r->false_suspicions, (unsigned long long)r->false_suspect_origins,
            (unsigned long long)r->refutations);
    json_num(f, "msgs_per_node_s", r->msgs_per_node_s, 0);
    json_num(f, "bytes_per_node_s", r->bytes_per_node_s, 0);
    json_num(f, "wall_s", r->wall_s, 1);
    fprintf(f, "}");
}

static void table(const sim_params_t *p, const sim_result_t *r, int nr)
{
    printf("scenario=%s nodes=%u loss=%.3f seed=%llu\n", p->scenario, p->nodes, p->loss,
           (unsigned long long)p->seed);
    printf("%-9s %7s %7s %7s %7s %7s %7s %7s %7s %5s %6s %7s %7s %8s %9s %6s\n", "mode", "warm_s",
           "det_1st", "det_med", "det_p99", "det_all", "dis_99", "dis_all", "recov_s", "fp_n",
           "fp_ev", "f_susp", "f_orig", "msg/n/s", "byte/n/s", "wall_s");
    for (int i = 0; i < nr; i++)
        printf("%-9s %7.1f %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f %5llu %6llu %7llu %7llu "
               "%8.2f %9.0f %6.2f\n",
               r[i].lifeguard ? "lifeguard" : "swim", r[i].warm_s, r[i].det_first, r[i].det_median,
               r[i].det_p99, r[i].det_all, r[i].dis_p99, r[i].dis_all, r[i].recover_s,
               (unsigned long long)r[i].fp_dead_nodes, (unsigned long long)r[i].fp_dead_events,
               (unsigned long long)r[i].false_suspicions,
               (unsigned long long)r[i].false_suspect_origins, r[i].msgs_per_node_s,
               r[i].bytes_per_node_s, r[i].wall_s);
}

int main(int argc, char **argv)
{
    sim_params_t p = {.nodes = 100, .scenario = "steady", .seed = 1, .lifeguard = true};
    const char *lg = "on";
    int json_only = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) {
            json_only = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            usage(stderr);
            return 2;
        }
        i++;
        if (!strcmp(a, "--nodes"))
            p.nodes = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--loss"))
            p.loss = strtod(v, NULL);
        else if (!strcmp(a, "--scenario"))
            p.scenario = v;
        else if (!strcmp(a, "--seed"))
            p.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--duration"))
            p.duration_s = strtod(v, NULL);
        else if (!strcmp(a, "--lifeguard"))
            lg = v;
        else {
            usage(stderr);
            return 2;
        }
    }
    if (p.loss > 1.0)
        p.loss /= 100.0;
    if (p.nodes < 4 || p.nodes > 100000 || p.loss < 0 || p.loss >= 1.0 ||
        (strcmp(lg, "on") && strcmp(lg, "off") && strcmp(lg, "both"))) {
        usage(stderr);
        return 2;
    }
    sim_result_t r[2];
    int nr = 0;
    if (strcmp(lg, "off")) {
        p.lifeguard = true;
        if (sim_scenario_run(&p, &r[nr++])) {
            fprintf(stderr, "swimsim: unknown scenario '%s'\n", p.scenario);
            usage(stderr);
            return 2;
        }
    }
    if (strcmp(lg, "on")) {
        p.lifeguard = false;
        if (sim_scenario_run(&p, &r[nr++])) {
            fprintf(stderr, "swimsim: unknown scenario '%s'\n", p.scenario);
            return 2;
        }
    }
    if (!json_only)
        table(&p, r, nr);
    printf("{\"scenario\":\"%s\",\"nodes\":%u,\"loss\":%.4f,\"seed\":%llu,\"runs\":[", p.scenario,
           p.nodes, p.loss, (unsigned long long)p.seed);
    for (int i = 0; i < nr; i++) {
        json_run(stdout, &r[i]);
        if (i + 1 < nr)
            printf(",");
    }
    printf("]}\n");
    return 0;
}
