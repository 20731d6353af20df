/* metrics.c - the coordinator's GET /metrics: Prometheus text built on the
 * loop thread from the live state (populations, work, store, gossip). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "metrics.h"

/* Evaluations per second over the last ~10 history samples (as the API). */
static double pop_rate(const pop_t *p)
{
    if (p->hist_n < 2)
        return 0;
    int last = (p->hist_pos + POP_HISTORY - 1) % POP_HISTORY;
    int back = p->hist_n < 11 ? p->hist_n - 1 : 10;
    int first = (last + POP_HISTORY - back) % POP_HISTORY;
    const pop_sample_t *a = &p->history[first], *b = &p->history[last];
    if (b->t_ms <= a->t_ms)
        return 0;
    return (double)(b->evaluations - a->evaluations) * 1000.0 / (double)(b->t_ms - a->t_ms);
}

static void populations(metrics_buf_t *m, coord_t *c)
{
    struct fam {
        const char *name, *type, *help;
    } f[] = {
        {"petri_population_evaluations_total", "counter", "Children scored (any outcome)."},
        {"petri_population_ok_evaluations_total", "counter", "Children scored successfully."},
        {"petri_population_evals_per_second", "gauge",
         "Evaluation rate over the last ~10 s of history; 0 once finished."},
        {"petri_population_best_fitness", "gauge",
         "Best (lowest) fitness ever found; NaN before the first success."},
        {"petri_population_mean_fitness", "gauge", "Mean fitness of the live members."},
        {"petri_population_individuals", "gauge", "Live members, over all demes."},
        {"petri_population_size", "gauge", "Configured population size."},
        {"petri_population_diversity", "gauge", "Distinct genomes among the live members."},
        {"petri_population_fitness_values", "gauge",
         "Distinct fitness values among the live members; 1 = collapsed."},
        {"petri_population_fitness_entropy", "gauge",
         "Shannon entropy (bits) of the live members' fitness values."},
        {"petri_population_collapsed_demes", "gauge",
         "Demes full and of one fitness value (replacement cannot improve them)."},
        {"petri_population_archive_coverage", "gauge",
         "Share of the MAP-Elites archive's cells occupied; NaN without an archive."},
        {"petri_population_inflight", "gauge", "Work items of the population in flight."},
    };
    enum { NF = sizeof f / sizeof f[0] };
    double v[COORD_MAX_POPS][NF];
    for (int i = 0; i < c->npops; i++) {
        const pop_t *p = c->pops[i];
        int live = 0, inflight = 0;
        for (int d = 0; d < p->ndemes; d++) {
            live += p->demes[d].n;
            inflight += p->demes[d].inflight;
        }
        live += p->archive ? (int)p->archive->nocc : 0;
        double rate = p->state == POP_RUNNING ? pop_rate(p) : 0; /* history stops at the end */
        pop_div_t dv;
        if (pop_diversity(p, -1, &dv) != 0) {
            memset(&dv, 0, sizeof dv);
            dv.genomes = dv.fitness_values = -1;
            dv.entropy_bits = NAN;
        }
        double coverage = p->archive ? (double)p->archive->nocc / (double)p->archive->ncells : NAN;
        double row[NF] = {(double)p->evaluations,
                          (double)p->ok_evaluations,
                          rate,
                          isfinite(p->best.fitness) ? p->best.fitness : NAN,
                          pop_mean_fitness(p),
                          live,
                          p->size,
                          dv.genomes,
                          dv.fitness_values,
                          dv.entropy_bits,
                          dv.collapsed_demes,
                          coverage,
                          inflight};
        memcpy(v[i], row, sizeof row);
    }
    for (int k = 0; k < NF; k++) {
        metrics_family(m, f[k].name, f[k].type, f[k].help);
        for (int i = 0; i < c->npops; i++)
            metrics_sample(m, f[k].name, v[i][k], "population", c->pops[i]->name, NULL);
    }
    metrics_family(m, "petri_population_state", "gauge",
                   "1 for the population's current state, 0 for the others.");
    for (int i = 0; i < c->npops; i++)
        for (int s = POP_RUNNING; s <= POP_FAILED; s++)
            metrics_sample(m, "petri_population_state", c->pops[i]->state == s, "population",
                           c->pops[i]->name, "state", pop_state_str(s), NULL);
}

/* Live populations (live_pop.h): per individual, labelled by population and
 * index. */
static void live_pops(metrics_buf_t *m, coord_t *c)
{
    struct fam {
        const char *name, *type, *help;
    } f[] = {
        {"petri_live_fitness", "gauge",
         "Live fitness: mean score over the spec's window of requests; NaN before the first."},
        {"petri_live_version", "gauge", "The version the individual runs."},
        {"petri_live_requests_total", "counter", "Requests answered since the individual started."},
        {"petri_live_wrong_total", "counter", "Replies that were not the expected one."},
        {"petri_live_lost", "gauge", "Requests never answered (0 unless something is wrong)."},
        {"petri_live_latency_p99_seconds", "gauge",
         "99th percentile of reply latency, last second."},
        {"petri_live_running", "gauge", "1 while the individual runs on an agent."},
    };
    enum { NF = sizeof f / sizeof f[0] };
    for (int k = 0; k < NF; k++) {
        metrics_family(m, f[k].name, f[k].type, f[k].help);
        for (int j = 0; j < c->nlive; j++) {
            const live_pop_t *p = c->live[j];
            for (int i = 0; i < p->n; i++) {
                const live_ind_t *d = &p->ind[i];
                double row[NF] = {d->fitness,
                                  d->run_version ? d->run_version : d->version,
                                  (double)d->requests,
                                  (double)d->wrong,
                                  (double)d->lost,
                                  (double)d->p99_us / 1e6,
                                  d->state == LI_RUNNING};
                char idx[16];
                snprintf(idx, sizeof idx, "%d", i);
                metrics_sample(m, f[k].name, row[k], "population", p->name, "individual", idx,
                               NULL);
            }
        }
    }
    metrics_family(m, "petri_live_upgrades_sent_total", "counter",
                   "Children sent to a live population's individuals.");
    for (int j = 0; j < c->nlive; j++)
        metrics_sample(m, "petri_live_upgrades_sent_total", (double)c->live[j]->upgrades,
                       "population", c->live[j]->name, NULL);
    metrics_family(m, "petri_live_upgrade_outcomes_total", "counter",
                   "Settled upgrades of a live population, by outcome.");
    for (int j = 0; j < c->nlive; j++) {
        const live_pop_t *p = c->live[j];
        const char *names[] = {"promoted", "rolled_back", "refused"};
        double vals[] = {(double)p->promoted, (double)p->rolled_back, (double)p->refused};
        for (int k = 0; k < 3; k++)
            metrics_sample(m, "petri_live_upgrade_outcomes_total", vals[k], "population", p->name,
                           "outcome", names[k], NULL);
    }
}

static void work(metrics_buf_t *m, coord_t *c)
{
    metrics_one(m, "petri_work_queue_depth", "gauge",
                "Items waiting to be (re-)issued: re-issues, submissions, replays.",
                (double)c->nreissue);
    metrics_one(m, "petri_work_reissued_total", "counter",
                "Items re-issued after an agent was lost or failed them.", (double)c->reissued);
    metrics_one(m, "petri_work_given_up_total", "counter",
                "Items not re-issued: agents died holding each of them twice (vm_killed).",
                (double)c->given_up);
    metrics_one(m, "petri_lineage_recorded_total", "counter",
                "Lineage records written by this process since it started.", (double)c->recorded);
    metrics_one(m, "petri_store_commit_failures_total", "counter",
                "Group commits that failed (retried on the next tick).",
                (double)c->commit_failures);
    metrics_one(m, "petri_work_pending_records", "gauge",
                "Results accepted and waiting for the next group commit.", (double)c->npending);
    if (!c->work) {
        metrics_family(m, "petri_work_results_dropped_total", "counter",
                       "Results (or frames) dropped, by reason.");
        metrics_sample(m, "petri_work_results_dropped_total", (double)c->discarded_late, "reason",
                       "late", NULL);
        return;
    }
    const work_stats_t *ws = work_stats(c->work);
    metrics_one(m, "petri_work_inflight", "gauge", "Items sent to agents and not answered yet.",
                (double)work_inflight(c->work));
    metrics_one(m, "petri_work_results_total", "counter", "Verified results received.",
                (double)ws->results);
    metrics_one(m, "petri_work_frames_received_total", "counter",
                "Frames received on the work socket.", (double)ws->frames_in);
    metrics_one(m, "petri_work_frames_sent_total", "counter", "Frames sent on the work socket.",
                (double)ws->frames_out);
    metrics_family(m, "petri_work_results_dropped_total", "counter",
                   "Results (or frames) dropped, by reason.");
    struct {
        const char *reason;
        uint64_t v;
    } drops[] = {
        {"unsealed", ws->dropped_unsealed},         {"malformed", ws->dropped_malformed},
        {"bad_signature", ws->dropped_bad_sig},     {"unknown_item", ws->dropped_unknown_item},
        {"unknown_type", ws->dropped_unknown_type}, {"late", c->discarded_late},
        {"no_session", ws->dropped_no_session},     {"replay", ws->dropped_replay},
        {"old_protocol", ws->dropped_old},
    };
    for (size_t i = 0; i < sizeof drops / sizeof drops[0]; i++)
        metrics_sample(m, "petri_work_results_dropped_total", (double)drops[i].v, "reason",
                       drops[i].reason, NULL);
    metrics_one(m, "petri_work_sessions_total", "counter",
                "Work sessions established (agents that proved their key).", (double)ws->sessions);
    metrics_one(m, "petri_work_sessions_replaced_total", "counter",
                "Sessions taken over by a new connection of the same agent (key proved).",
                (double)ws->sessions_replaced);
    metrics_family(m, "petri_work_auth_refused_total", "counter",
                   "Work handshakes refused, by reason.");
    metrics_sample(m, "petri_work_auth_refused_total", (double)ws->auth_refused_key, "reason",
                   "id_key_mismatch", NULL);
    metrics_sample(m, "petri_work_auth_refused_total", (double)ws->auth_refused_sig, "reason",
                   "bad_signature", NULL);
    metrics_sample(m, "petri_work_auth_refused_total", (double)ws->auth_no_challenge, "reason",
                   "no_challenge", NULL);
    metrics_one(m, "petri_work_hello_refused_total", "counter",
                "Agent HELLOs refused: impossible capacity claims, or a key not the session's.",
                (double)ws->hello_refused);
    metrics_one(m, "petri_work_items_expired_total", "counter",
                "Items re-issued because their agent did not answer in time.", (double)ws->expired);
    int na = work_agent_count(c->work), live = 0;
    for (int i = 0; i < na; i++)
        live += !work_agent_at(c->work, i)->gone && work_agent_at(c->work, i)->session;
    metrics_one(m, "petri_work_agents", "gauge", "Agents with a work session, not gone.", live);
    struct {
        const char *name, *help;
    } af[] = {
        {"petri_work_agent_vms_ready", "VMs ready, as the agent last announced."},
        {"petri_work_agent_vms", "VMs the agent runs (its target), as last announced."},
        {"petri_work_agent_load", "Load the agent last announced (queued+running per VM)."},
        {"petri_work_agent_inflight", "Items in flight on the agent."},
    };
    for (size_t k = 0; k < sizeof af / sizeof af[0]; k++) {
        metrics_family(m, af[k].name, "gauge", af[k].help);
        for (int i = 0; i < na; i++) {
            const work_agent_t *a = work_agent_at(c->work, i);
            if (a->gone)
                continue;
            double v = k == 0   ? a->vms_ready
                       : k == 1 ? a->vms_total
                       : k == 2 ? a->load
                                : a->inflight;
            metrics_sample(m, af[k].name, v, "agent", a->name, NULL);
        }
    }
}

static void store(metrics_buf_t *m, coord_t *c)
{
    metrics_family(m, "petri_store_group_commit_seconds", "histogram",
                   "Wall time of one group commit (store_append: records, indexes, fsync).");
    metrics_hist_write(m, "petri_store_group_commit_seconds", &c->commit_hist, NULL);
    store_stats_t ss;
    if (!c->store || store_stats(c->store, &ss) != 0)
        return;
    metrics_one(m, "petri_lineage_records", "gauge", "Lineage records in the store (head seq).",
                (double)ss.records);
    metrics_one(m, "petri_store_genomes", "gauge", "Distinct genomes stored.", (double)ss.genomes);
    metrics_one(m, "petri_store_size_bytes", "gauge", "Size of the store's data file.",
                (double)ss.file_bytes);
    metrics_one(m, "petri_store_used_bytes", "gauge", "Store pages in use, in bytes.",
                (double)ss.used_bytes);
    metrics_one(m, "petri_store_map_bytes", "gauge", "Current LMDB map size.",
                (double)ss.map_bytes);
    metrics_one(m, "petri_store_fsync_seconds_total", "counter",
                "Time spent in LMDB commits (the fsyncs) since start.",
                (double)ss.commit_us_total / 1e6);
}

void coord_metrics_write(coord_t *c, const gossip_member_t *mem, int nmem,
                         const gossip_stats_t *gst, metrics_buf_t *m)
{
    metrics_family(m, "petri_build_info", "gauge", "Version of this petri binary.");
    metrics_sample(m, "petri_build_info", 1, "version", PETRI_VERSION, "role", "coordinator", NULL);
    metrics_one(m, "petri_populations", "gauge", "Populations known to the coordinator.", c->npops);
    populations(m, c);
    live_pops(m, c);
    work(m, c);
    store(m, c);
    if (gst)
        metrics_gossip_from(m, mem, nmem, gst);
}

void coord_metrics(coord_t *c, http_resp_t *resp)
{
    metrics_buf_t m;
    metrics_init(&m);
    gossip_member_t *mem = NULL;
    int n = 0;
    gossip_stats_t st;
    if (c->gossip) {
        n = gossip_members(c->gossip, &mem);
        gossip_get_stats(c->gossip, &st);
    }
    coord_metrics_write(c, mem, n > 0 ? n : 0, c->gossip ? &st : NULL, &m);
    free(mem);
    metrics_reply(&m, resp);
}
