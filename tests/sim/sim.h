/* sim.h - the deterministic membership simulator: many swim_t members in one
 * process under a virtual clock and a fake network (loss, delay/jitter,
 * one-way blocks, partitions, paused, slow and crashed/restarted members). */
#ifndef PETRI_SIM_H
#define PETRI_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swim.h"

enum { NODE_OFF = 0, NODE_UP, NODE_PAUSED, NODE_CRASHED, NODE_LEFT };

typedef struct sim_msg {
    struct sim_msg *next; /* queue of a paused node */
    uint32_t src, dst;
    uint32_t len;
    uint8_t data[];
} sim_msg_t;

typedef struct sim_ev {
    uint64_t at, seq;
    uint32_t kind, node, gen;
    sim_msg_t *msg;
} sim_ev_t;

struct sim;

typedef struct sim_node {
    struct sim *sim;
    uint32_t idx;
    swim_t *s;
    int state;
    char name[32], addr[32];
    uint8_t id[SWIM_ID_LEN];
    uint64_t tick_at;
    uint32_t tick_gen;
    uint64_t disk_inc; /* the persisted incarnation floor ("disk") */
    uint8_t meta[64];
    size_t metalen;
    int group;                         /* partition side */
    uint32_t slow_min_ms, slow_max_ms; /* extra inbound delay when slow */
    bool faulted;                      /* ever crashed/paused/slow/partitioned: not "healthy" */
    sim_msg_t *pend_head, *pend_tail;
    uint64_t base_msgs, base_bytes; /* counters at the start of the window */
    uint64_t sum_msgs, sum_bytes;   /* from processes that ended inside it */
} sim_node_t;

/* Observation hook: called for every membership event at every member. */
typedef void (*sim_observe_fn)(struct sim *sim, sim_node_t *observer, const swim_event_t *ev);

typedef struct sim {
    uint32_t n;
    sim_node_t *nodes;
    swim_config_t cfg;
    uint64_t now, rng, evseq;
    double loss;
    uint32_t delay_min_ms, delay_max_ms;
    bool partitioned;
    uint8_t *blocked; /* one-way blocks, n*n (src*n+dst), NULL = none */
    sim_ev_t *heap;
    size_t nheap, capheap;
    sim_observe_fn observe;
    void *obs_arg;
    uint64_t delivered, dropped;
} sim_t;

sim_t *sim_new(uint32_t n, const swim_config_t *cfg, uint64_t seed, double loss);
void sim_destroy(sim_t **sim);
uint64_t sim_rand(sim_t *sim);
double sim_rand01(sim_t *sim);

/* Starts (or restarts, with the persisted floor) member i and joins it
 * through the given seeds. */
void sim_start(sim_t *sim, uint32_t i, const uint32_t *seeds, size_t nseeds);
void sim_crash(sim_t *sim, uint32_t i);
void sim_pause(sim_t *sim, uint32_t i);
void sim_resume(sim_t *sim, uint32_t i);
void sim_leave(sim_t *sim, uint32_t i);
void sim_set_meta(sim_t *sim, uint32_t i, const uint8_t *meta, size_t len);
void sim_block(sim_t *sim, uint32_t src, uint32_t dst, bool on);

/* Runs every event up to and including time t (ms). */
void sim_run_until(sim_t *sim, uint64_t t);
/* Member index of an id, or -1. */
int sim_index_of(const sim_t *sim, const uint8_t id[SWIM_ID_LEN]);
/* Messages/bytes sent by member i since sim_window_start(). */
void sim_window_start(sim_t *sim);
void sim_window_counts(const sim_t *sim, uint32_t i, uint64_t *msgs, uint64_t *bytes);

#endif
