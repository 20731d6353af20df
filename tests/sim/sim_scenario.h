/* sim_scenario.h - the simulator's scenarios (crash, pause, partition-heal,
 * restart, churn, metadata-update, steady, slow) and what they measure. */
#ifndef PETRI_SIM_SCENARIO_H
#define PETRI_SIM_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sim_params {
    uint32_t nodes;
    double loss; /* per message, every link */
    const char *scenario;
    uint64_t seed;
    double duration_s; /* after warm-up; 0 = the scenario's default */
    bool lifeguard;
} sim_params_t;

typedef struct sim_result {
    bool lifeguard;
    bool warm_ok;
    double warm_s, duration_s;
    /* detection of a crashed member, seconds after the crash (-1 = never);
     * crash pools five successive one-node crashes, det_first is the median
     * of their first detections */
    double det_first, det_median, det_p99, det_all;
    uint32_t det_count, det_expected;
    /* dissemination of the metadata update, seconds (-1 = never) */
    double dis_p99, dis_all;
    uint32_t dis_count, dis_expected;
    /* partition heal, restart or resume: seconds until alive on every member */
    double recover_s;
    bool recovered;
    /* false positives: about members never faulted in the run */
    uint64_t fp_dead_nodes, fp_dead_events, false_suspicions, false_suspect_origins;
    uint64_t refutations;
    double msgs_per_node_s, bytes_per_node_s;
    double wall_s;
} sim_result_t;

/* Names of the known scenarios, NULL-terminated. */
extern const char *const sim_scenarios[];

/* Runs one scenario. 0, or -1 for an unknown scenario name. */
int sim_scenario_run(const sim_params_t *p, sim_result_t *r);

#endif
