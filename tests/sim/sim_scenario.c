/* sim_scenario.c - the simulator's scenarios: a staggered join and warm-up,
 * then one fault pattern, and the measurements (detection, dissemination,
 * recovery, false positives, message rates) taken from the members' events. */
#include "sim_scenario.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

const char *const sim_scenarios[] = {"steady",          "crash",   "pause",
                                     "partition-heal",  "restart", "churn",
                                     "metadata-update", "slow",    NULL};

#define SEC 1000ull
#define NSEEDS 3

typedef struct obs {
    int watch_dead, watch_alive, watch_meta;
    uint64_t alive_from;
    uint64_t *dead_at, *alive_at, *meta_at; /* per observer, 0 = not yet */
    uint8_t *fp_marked;                     /* per subject */
    uint8_t meta[64];
    size_t metalen;
    uint64_t fp_dead_nodes, fp_dead_events, false_susp, false_origins;
} obs_t;

static void observe(sim_t *sim, sim_node_t *o, const swim_event_t *ev)
{
    obs_t *ob = sim->obs_arg;
    int subj = sim_index_of(sim, ev->m.id);
    if (subj < 0)
        return;
    bool healthy = !sim->nodes[subj].faulted;
    uint64_t t = sim->now ? sim->now : 1;
    switch (ev->type) {
    case SWIM_EV_DEAD:
    case SWIM_EV_LEFT:
        if (subj == ob->watch_dead && !ob->dead_at[o->idx])
            ob->dead_at[o->idx] = t;
        if (healthy && ev->type == SWIM_EV_DEAD) {
            if (getenv("SWIMSIM_DEBUG"))
                fprintf(stderr, "t=%.3f obs=%u dead=%d inc=%llu from=%d old=%s\n",
                        sim->now / 1000.0, o->idx, subj, (unsigned long long)ev->m.incarnation,
                        ev->from ? sim_index_of(sim, ev->from) : -1,
                        swim_status_str(ev->old_status));
            ob->fp_dead_events++;
            if (!ob->fp_marked[subj]) {
                ob->fp_marked[subj] = 1;
                ob->fp_dead_nodes++;
            }
        }
        break;
    case SWIM_EV_SUSPECT:
        if (subj == ob->watch_dead && getenv("SWIMSIM_DEBUG") && atoi(getenv("SWIMSIM_DEBUG")) > 2)
            fprintf(stderr, "t=%.3f obs=%u suspect=%d from=%d (watched)\n", sim->now / 1000.0,
                    o->idx, subj, ev->from ? sim_index_of(sim, ev->from) : -1);
        if (healthy) {
            if (getenv("SWIMSIM_DEBUG") && atoi(getenv("SWIMSIM_DEBUG")) > 1)
                fprintf(stderr, "t=%.3f obs=%u suspect=%d inc=%llu from=%d\n", sim->now / 1000.0,
                        o->idx, subj, (unsigned long long)ev->m.incarnation,
                        ev->from ? sim_index_of(sim, ev->from) : -1);
            ob->false_susp++;
            if (ev->from && !memcmp(ev->from, o->id, SWIM_ID_LEN))
                ob->false_origins++;
        }
        break;
    case SWIM_EV_ALIVE:
    case SWIM_EV_JOIN:
        if (subj == ob->watch_alive && sim->now >= ob->alive_from && !ob->alive_at[o->idx])
            ob->alive_at[o->idx] = t;
        break;
    default:
        break;
    }
    if (subj == ob->watch_meta && !ob->meta_at[o->idx] && ev->m.metalen == ob->metalen &&
        !memcmp(ev->m.meta, ob->meta, ob->metalen))
        ob->meta_at[o->idx] = t;
}

#define SECS(x) ((x) == UINT64_MAX ? -1.0 : (double)(x) / 1000.0)

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Spread of per-observer times (relative to t0) over the `expected`
 * observers; observers that never saw it count as infinitely late. */
static void spread(const uint64_t *at, const sim_t *sim, int skip, uint64_t t0, double *first,
                   double *median, double *p99, double *all, uint32_t *count, uint32_t *expected)
{
    uint64_t *v = calloc(sim->n, sizeof *v);
    uint32_t n = 0, seen = 0;
    for (uint32_t i = 0; i < sim->n; i++) {
        if ((int)i == skip || sim->nodes[i].state != NODE_UP)
            continue;
        v[n++] = at[i] ? at[i] - t0 : UINT64_MAX;
        seen += at[i] != 0;
    }
    qsort(v, n, sizeof *v, cmp_u64);
#define PCT(q) (n ? v[(size_t)ceil((q)*n) - 1] : UINT64_MAX)
    if (first)
        *first = SECS(n ? v[0] : UINT64_MAX);
    if (median)
        *median = SECS(PCT(0.5));
    if (p99)
        *p99 = SECS(PCT(0.99));
    if (all)
        *all = SECS(PCT(1.0));
    *count = seen;
    *expected = n;
    free(v);
}

/* Every running member sees every other running member alive (or, with
 * `loose`, at least not dead: lossy links keep a few suspicions open at any
 * time) and every stopped one not alive. O(n) per member with the gauges. */
static bool converged_(sim_t *sim, bool loose)
{
    uint32_t up = 0;
    for (uint32_t i = 0; i < sim->n; i++)
        up += sim->nodes[i].state == NODE_UP;
    for (uint32_t i = 0; i < sim->n; i++) {
        sim_node_t *nd = &sim->nodes[i];
        if (nd->state != NODE_UP)
            continue;
        swim_stats_t st;
        swim_get_stats(nd->s, &st);
        if (loose ? st.n_alive + st.n_suspect != up - 1 : st.n_alive != up - 1 || st.n_suspect)
            return false;
    }
    /* n_alive could count a stopped member in place of a running one. */
    for (uint32_t i = 0; i < sim->n; i++) {
        if (sim->nodes[i].state == NODE_UP)
            continue;
        for (uint32_t j = 0; j < sim->n; j++) {
            swim_member_info_t mi;
            if (sim->nodes[j].state == NODE_UP &&
                swim_member_find(sim->nodes[j].s, sim->nodes[i].id, &mi) == 0 &&
                mi.status == SWIM_ALIVE)
                return false;
        }
    }
    return true;
}

static bool converged(sim_t *sim)
{
    return converged_(sim, false);
}

static size_t queued(sim_t *sim)
{
    size_t q = 0;
    for (uint32_t i = 0; i < sim->n; i++) {
        if (sim->nodes[i].state != NODE_UP)
            continue;
        swim_stats_t st;
        swim_get_stats(sim->nodes[i].s, &st);
        q += st.bcast_queue;
    }
    return q;
}

/* Staggered joins through three seeds, then run until every member sees
 * every other alive and the broadcast queues drained (or 60 s after
 * convergence, for lossy networks that keep them busy). */
static uint64_t warm_up(sim_t *sim, bool *ok)
{
    static const uint32_t seeds[NSEEDS] = {0, 1, 2};
    uint64_t stagger = sim->n >= 500 ? 10 : 50;
    for (uint32_t i = 0; i < sim->n; i++) {
        sim_run_until(sim, i * stagger);
        sim_start(sim, i, seeds, sim->n < NSEEDS ? sim->n : NSEEDS);
    }
    uint64_t t = sim->now, conv_at = 0;
    for (; t < 900 * SEC; t += SEC) {
        sim_run_until(sim, t);
        if (!conv_at && converged_(sim, sim->loss > 0))
            conv_at = t;
        if (conv_at && (queued(sim) == 0 || t >= conv_at + 30 * SEC))
            break;
    }
    *ok = conv_at != 0;
    return t + 5 * SEC;
}

static uint32_t pick_victim(sim_t *sim)
{
    for (;;) {
        uint32_t v = NSEEDS + (uint32_t)(sim_rand(sim) % (sim->n - NSEEDS));
        if (sim->nodes[v].state == NODE_UP)
            return v;
    }
}

/* Seconds from t0 until `who` is alive on every running member, or -1. */
static double alive_everywhere(sim_t *sim, obs_t *ob, uint32_t who, uint64_t t0)
{
    uint64_t last = t0;
    for (uint32_t i = 0; i < sim->n; i++) {
        sim_node_t *nd = &sim->nodes[i];
        swim_member_info_t mi;
        if (i == who || nd->state != NODE_UP)
            continue;
        if (swim_member_find(nd->s, sim->nodes[who].id, &mi) || mi.status != SWIM_ALIVE)
            return -1;
        if (ob->alive_at[i] > last)
            last = ob->alive_at[i];
    }
    return (double)(last - t0) / 1000.0;
}

static const uint32_t seeds3[NSEEDS] = {0, 1, 2};

static void run_churn(sim_t *sim, uint64_t t0, uint64_t end)
{
    uint64_t *back_at = calloc(sim->n, sizeof *back_at);
    for (uint64_t t = t0; t < end; t += 5 * SEC) {
        sim_run_until(sim, t);
        uint32_t down = 0;
        for (uint32_t i = 0; i < sim->n; i++) {
            sim_node_t *nd = &sim->nodes[i];
            if (nd->state == NODE_LEFT && back_at[i] && t >= back_at[i] - 5 * SEC)
                sim_crash(sim, i); /* the left process exits */
            if ((nd->state == NODE_CRASHED || nd->state == NODE_LEFT) && t >= back_at[i]) {
                sim_start(sim, i, seeds3, NSEEDS);
                back_at[i] = 0;
            }
            down += nd->state != NODE_UP;
        }
        if (down * 10 >= sim->n || sim_rand01(sim) < 0.4)
            continue;
        uint32_t v = pick_victim(sim);
        back_at[v] = t + 10 * SEC + sim_rand(sim) % (50 * SEC);
        if (sim_rand01(sim) < 0.3)
            sim_leave(sim, v);
        else
            sim_crash(sim, v);
    }
    free(back_at);
}

int sim_scenario_run(const sim_params_t *p, sim_result_t *r)
{
    const char *sc = p->scenario;
    bool known = false;
    for (int i = 0; sim_scenarios[i]; i++)
        known |= !strcmp(sim_scenarios[i], sc);
    if (!known || p->nodes < 4)
        return -1;
    struct timespec w0, w1;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    memset(r, 0, sizeof *r);
    r->lifeguard = p->lifeguard;
    r->det_first = r->det_median = r->det_p99 = r->det_all = -1;
    r->dis_p99 = r->dis_all = r->recover_s = -1;

    swim_config_t cfg;
    swim_config_default(&cfg);
    cfg.lifeguard = p->lifeguard;
    sim_t *sim = sim_new(p->nodes, &cfg, p->seed, p->loss);
    uint32_t n = sim->n;
    obs_t ob = {.watch_dead = -1, .watch_alive = -1, .watch_meta = -1};
    ob.dead_at = calloc(n, sizeof *ob.dead_at);
    ob.alive_at = calloc(n, sizeof *ob.alive_at);
    ob.meta_at = calloc(n, sizeof *ob.meta_at);
    ob.fp_marked = calloc(n, 1);
    sim->observe = observe;
    sim->obs_arg = &ob;

    uint64_t t0 = warm_up(sim, &r->warm_ok);
    r->warm_s = (double)t0 / 1000.0;
    sim_run_until(sim, t0);
    /* Counting starts after warm-up: join-time suspicions are not faults. */
    ob.false_susp = ob.false_origins = ob.fp_dead_events = ob.fp_dead_nodes = 0;
    memset(ob.fp_marked, 0, n);
    sim_window_start(sim);
    uint64_t pp = swim_push_pull_interval_ms(cfg.push_pull_interval_ms, n);
    double dur = p->duration_s;
    uint64_t tf = t0 + SEC; /* fault time */

    if (!strcmp(sc, "steady")) {
        if (dur <= 0)
            dur = 600;
        sim_run_until(sim, t0 + (uint64_t)(dur * SEC));
    } else if (!strcmp(sc, "crash")) {
        /* Five one-node crashes, 60 s apart, pooled: a single crash's spread
         * is dominated by when the first probe happens to hit the victim. */
        enum { TRIALS = 5, GAP = 60 };
        if (dur <= 0)
            dur = TRIALS * GAP + 5;
        uint64_t *pool = calloc((size_t)n * TRIALS, sizeof *pool), firsts[TRIALS];
        uint32_t np = 0, seen = 0;
        for (int k = 0; k < TRIALS; k++) {
            uint64_t at = tf + (uint64_t)k * GAP * SEC;
            sim_run_until(sim, at);
            uint32_t v = pick_victim(sim);
            memset(ob.dead_at, 0, n * sizeof *ob.dead_at);
            sim_crash(sim, v);
            ob.watch_dead = (int)v;
            sim_run_until(sim, at + (GAP - 1) * SEC);
            firsts[k] = UINT64_MAX;
            for (uint32_t i = 0; i < n; i++) {
                if (sim->nodes[i].state != NODE_UP)
                    continue;
                uint64_t d = ob.dead_at[i] ? ob.dead_at[i] - at : UINT64_MAX;
                pool[np++] = d;
                seen += ob.dead_at[i] != 0;
                if (d < firsts[k])
                    firsts[k] = d;
            }
            if (getenv("SWIMSIM_DEBUG"))
                fprintf(stderr, "crash trial %d victim %u first %.3f\n", k, v, SECS(firsts[k]));
        }
        sim_run_until(sim, t0 + (uint64_t)(dur * SEC));
        qsort(pool, np, sizeof *pool, cmp_u64);
        qsort(firsts, TRIALS, sizeof *firsts, cmp_u64);
        r->det_first = SECS(firsts[TRIALS / 2]);
        r->det_median = SECS(pool[(size_t)ceil(0.5 * np) - 1]);
        r->det_p99 = SECS(pool[(size_t)ceil(0.99 * np) - 1]);
        r->det_all = SECS(pool[np - 1]);
        r->det_count = seen;
        r->det_expected = np;
        free(pool);
    } else if (!strcmp(sc, "pause")) {
        if (dur <= 0)
            dur = 120;
        uint32_t v = pick_victim(sim);
        sim_run_until(sim, tf);
        sim_pause(sim, v);
        sim_run_until(sim, tf + 30 * SEC);
        ob.watch_alive = (int)v;
        ob.alive_from = sim->now;
        sim_resume(sim, v);
        sim_run_until(sim, t0 + (uint64_t)(dur * SEC));
        r->recover_s = alive_everywhere(sim, &ob, v, ob.alive_from);
        r->recovered = r->recover_s >= 0;
    } else if (!strcmp(sc, "partition-heal")) {
        if (dur <= 0)
            dur = 300 + 2.0 * (double)pp / 1000.0 + 30;
        for (uint32_t i = 0; i < n; i++) {
            sim->nodes[i].group = i >= n - n / 3;
            sim->nodes[i].faulted = true; /* both sides look dead to the other */
        }
        sim_run_until(sim, tf);
        sim->partitioned = true;
        uint64_t heal = tf + 300 * SEC;
        sim_run_until(sim, heal);
        sim->partitioned = false;
        uint64_t end = t0 + (uint64_t)(dur * SEC);
        for (uint64_t t = heal; t <= end; t += SEC) {
            sim_run_until(sim, t);
            if (converged(sim)) {
                r->recover_s = (double)(t - heal) / 1000.0;
                r->recovered = true;
                break;
            }
        }
    } else if (!strcmp(sc, "restart")) {
        if (dur <= 0)
            dur = 90;
        uint32_t v = pick_victim(sim);
        sim_run_until(sim, tf);
        sim_crash(sim, v);
        ob.watch_dead = (int)v;
        uint64_t t = tf;
        for (; t < tf + 60 * SEC; t += SEC) { /* until dead everywhere */
            sim_run_until(sim, t);
            uint32_t c, e;
            spread(ob.dead_at, sim, (int)v, tf, NULL, NULL, NULL, NULL, &c, &e);
            if (c == e)
                break;
        }
        sim_run_until(sim, t + 2 * SEC);
        ob.watch_alive = (int)v;
        ob.alive_from = sim->now;
        sim_start(sim, v, seeds3, NSEEDS); /* same name/addr/id, floor from "disk" */
        sim_run_until(sim, t0 + (uint64_t)(dur * SEC));
        r->recover_s = alive_everywhere(sim, &ob, v, ob.alive_from);
        r->recovered = r->recover_s >= 0;
    } else if (!strcmp(sc, "churn")) {
        if (dur <= 0)
            dur = 300;
        uint64_t end = t0 + (uint64_t)(dur * SEC);
        run_churn(sim, tf, end > 120 * SEC + tf ? end - 120 * SEC : tf);
        for (uint64_t t = sim->now; t <= end + 120 * SEC; t += SEC) {
            sim_run_until(sim, t);
            if (t >= end && converged(sim)) {
                r->recovered = true;
                break;
            }
        }
        r->recover_s = r->recovered ? 0 : -1;
    } else if (!strcmp(sc, "metadata-update")) {
        if (dur <= 0)
            dur = (double)pp / 1000.0 + 10;
        uint32_t v = pick_victim(sim);
        sim_run_until(sim, tf);
        ob.watch_meta = (int)v;
        ob.metalen = (size_t)snprintf((char *)ob.meta, sizeof ob.meta,
                                      "role=agent,cap=8,vms=4/4,v=2,load=0.25");
        sim_set_meta(sim, v, ob.meta, ob.metalen);
        /* Stops once every member has it (what it measures is over). */
        for (uint64_t t = tf + SEC; t <= t0 + (uint64_t)(dur * SEC); t += SEC) {
            sim_run_until(sim, t);
            uint32_t c, e;
            spread(ob.meta_at, sim, (int)v, tf, NULL, NULL, NULL, NULL, &c, &e);
            if (c == e && t >= tf + 5 * SEC)
                break;
        }
        spread(ob.meta_at, sim, (int)v, tf, NULL, NULL, &r->dis_p99, &r->dis_all, &r->dis_count,
               &r->dis_expected);
    } else { /* slow: a few members whose inbound messages wait 1-2.5 s */
        if (dur <= 0)
            dur = 600;
        uint32_t k = n / 16 ? n / 16 : 1;
        for (uint32_t i = 0; i < k; i++) {
            uint32_t v = pick_victim(sim);
            sim->nodes[v].slow_min_ms = 1000;
            sim->nodes[v].slow_max_ms = 2500;
            sim->nodes[v].faulted = true;
        }
        sim_run_until(sim, t0 + (uint64_t)(dur * SEC));
    }

    r->duration_s = (double)(sim->now - t0) / 1000.0;
    r->fp_dead_nodes = ob.fp_dead_nodes;
    r->fp_dead_events = ob.fp_dead_events;
    r->false_suspicions = ob.false_susp;
    r->false_suspect_origins = ob.false_origins;
    uint64_t msgs = 0, bytes = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t m, b;
        sim_window_counts(sim, i, &m, &b);
        msgs += m;
        bytes += b;
        if (sim->nodes[i].s) {
            swim_stats_t st;
            swim_get_stats(sim->nodes[i].s, &st);
            r->refutations += st.refutations;
        }
    }
    double secs = r->duration_s > 0 ? r->duration_s : 1;
    r->msgs_per_node_s = (double)msgs / n / secs;
    r->bytes_per_node_s = (double)bytes / n / secs;
    free(ob.dead_at);
    free(ob.alive_at);
    free(ob.meta_at);
    free(ob.fp_marked);
    sim_destroy(&sim);
    clock_gettime(CLOCK_MONOTONIC, &w1);
    r->wall_s = (double)(w1.tv_sec - w0.tv_sec) + (double)(w1.tv_nsec - w0.tv_nsec) / 1e9;
    return 0;
}
