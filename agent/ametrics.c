/* ametrics.c - the agent's GET /metrics ([metrics] bind): VM lifecycle
 * counters, evaluations by outcome, latency histograms, per-VM telemetry
 * from the pongs, the work channel and gossip (see ametrics.h). */
#include "ametrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define AMETRICS_MAX_VMS 256
#define AMETRICS_MAX_BODY 4096 /* nothing is uploaded here */

struct ametrics {
    http_t *http;
    const pool_t *pool;
    const awork_t *work;
    const gossip_t *gossip;
};

static void pool_metrics(metrics_buf_t *b, const pool_t *pool)
{
    pool_stats_t st;
    static pool_vm_stats_t vms[AMETRICS_MAX_VMS]; /* loop thread only */
    int n = pool_get_stats(pool, &st, vms, AMETRICS_MAX_VMS);

    metrics_one(b, "petri_agent_vm_starts_total", "counter", "BEAM VMs spawned.",
                (double)st.starts);
    metrics_one(b, "petri_agent_vm_restarts_total", "counter",
                "VMs replaced after they exited or were killed (recycling excluded).",
                (double)st.restarts);
    metrics_one(b, "petri_agent_vm_recycles_total", "counter",
                "VMs retired (after max_loads evaluations or recycle_atoms_pct) and replaced.",
                (double)st.recycles);
    metrics_one(b, "petri_agent_vm_job_deaths_total", "counter",
                "VMs that died with jobs in flight (their jobs became suspects).",
                (double)st.job_deaths);
    metrics_one(b, "petri_agent_vm_suspects_total", "counter",
                "Jobs re-run alone on a VM after their VM died with them in flight.",
                (double)st.suspects);
    metrics_one(b, "petri_agent_vm_blamed_total", "counter",
                "Suspects that killed their VM while alone on it (status vm_killed).",
                (double)st.blamed);
    metrics_family(b, "petri_agent_vm_kills_total", "counter",
                   "VMs killed by the agent, by cause.");
    for (int k = 0; k < POOL_KILL__COUNT; k++)
        metrics_sample(b, "petri_agent_vm_kills_total", (double)st.kills[k], "cause",
                       pool_kill_cause_names[k], NULL);
    metrics_family(b, "petri_agent_evaluations_total", "counter",
                   "Evaluation jobs completed, by outcome (wire status).");
    for (int s = 0; s < WIRE_ST__COUNT; s++)
        metrics_sample(b, "petri_agent_evaluations_total", (double)st.evals[s], "status",
                       wire_status_str(s), NULL);
    metrics_family(b, "petri_agent_breeds_total", "counter",
                   "Breeding jobs completed, by outcome (wire status).");
    for (int s = 0; s < WIRE_ST__COUNT; s++)
        metrics_sample(b, "petri_agent_breeds_total", (double)st.breeds[s], "status",
                       wire_status_str(s), NULL);
    metrics_family(b, "petri_agent_load_seconds", "histogram",
                   "Time a VM spent parsing, checking, compiling and loading a genome.");
    metrics_hist_write(b, "petri_agent_load_seconds", &st.load_seconds, NULL);
    metrics_family(b, "petri_agent_evaluation_seconds", "histogram",
                   "Time a VM spent scoring a loaded genome against the fitness cases.");
    metrics_hist_write(b, "petri_agent_evaluation_seconds", &st.eval_seconds, NULL);
    metrics_one(b, "petri_agent_queue_depth", "gauge", "Jobs waiting for a VM.", (double)st.queued);
    metrics_one(b, "petri_agent_inflight", "gauge", "Jobs running in VMs.", (double)st.inflight);
    metrics_one(b, "petri_agent_vms_ready", "gauge", "VMs ready for work.", st.ready);
    metrics_one(b, "petri_agent_vms_target", "gauge", "VMs the agent should run now.", st.target);
    metrics_one(b, "petri_agent_vms_max", "gauge", "Most VMs the agent may run ([beam] max_vms).",
                st.cap);
    metrics_one(b, "petri_agent_pool_failed", "gauge",
                "1 when the VMs failed too often and the agent gave up.", st.failed);

    struct {
        const char *name, *type, *help;
    } f[] = {
        {"petri_agent_vm_up", "gauge", "1 when the VM is ready, 0 in any other state."},
        {"petri_agent_vm_memory_bytes", "gauge", "erlang:memory(total) of the VM, last pong."},
        {"petri_agent_vm_rss_bytes", "gauge", "Resident set size of the VM process."},
        {"petri_agent_vm_processes", "gauge", "Erlang processes in the VM, last pong."},
        {"petri_agent_vm_atoms", "gauge", "Atoms in the VM, last pong."},
        {"petri_agent_vm_live_sandboxes", "gauge", "Sandbox modules loaded, last pong."},
        {"petri_agent_vm_pending_purges", "gauge", "Sandbox modules waiting to be purged."},
        {"petri_agent_vm_inflight", "gauge", "Jobs in flight on the VM."},
        {"petri_agent_vm_loads_total", "counter", "Genome loads the VM reported (per VM life)."},
        {"petri_agent_vm_evaluations_total", "counter",
         "Evaluations the VM reported, by outcome ok|failed (per VM life)."},
    };
    char idx[16];
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
        metrics_family(b, f[k].name, f[k].type, f[k].help);
        for (int i = 0; i < n; i++) {
            const pool_vm_stats_t *v = &vms[i];
            snprintf(idx, sizeof idx, "%d", v->index);
            double x[] = {strcmp(v->state, "ready") == 0,
                          (double)v->memory_bytes,
                          (double)v->rss_bytes,
                          v->processes,
                          v->atoms,
                          v->live_sandboxes,
                          v->pending_purges,
                          v->inflight,
                          (double)v->vm_loads};
            if (k + 1 < sizeof f / sizeof f[0]) {
                metrics_sample(b, f[k].name, x[k], "vm", idx, NULL);
            } else {
                metrics_sample(b, f[k].name, (double)v->evals_ok, "vm", idx, "outcome", "ok", NULL);
                metrics_sample(b, f[k].name, (double)v->evals_failed, "vm", idx, "outcome",
                               "failed", NULL);
            }
        }
    }
}

static void work_metrics(metrics_buf_t *b, const awork_t *w)
{
    json_t *j = awork_status_json(w);
    metrics_one(b, "petri_agent_work_held", "gauge",
                "Work items received from the coordinator and not finished.", awork_held(w));
    metrics_one(b, "petri_agent_work_received_total", "counter",
                "Work items received from the coordinator.",
                (double)json_integer_value(json_object_get(j, "received")));
    metrics_one(b, "petri_agent_work_done_total", "counter",
                "Work items answered with a signed result.",
                (double)json_integer_value(json_object_get(j, "done")));
    metrics_one(b, "petri_agent_work_credit", "gauge", "Credit last announced to the coordinator.",
                (double)json_integer_value(json_object_get(j, "credit")));
    json_decref(j);
}

void ametrics_write(metrics_buf_t *b, const pool_t *pool, const awork_t *work,
                    const gossip_t *gossip)
{
    metrics_family(b, "petri_build_info", "gauge", "Version of this petri binary.");
    metrics_sample(b, "petri_build_info", 1, "version", PETRI_VERSION, "role", "agent", NULL);
    if (pool)
        pool_metrics(b, pool);
    if (work)
        work_metrics(b, work);
    metrics_gossip(b, gossip);
}

static void handle(void *arg, const http_req_t *req, http_resp_t *resp)
{
    ametrics_t *m = arg;
    int get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
    if (!get || strcmp(req->path, "/metrics") != 0) {
        http_error(resp, 404, "no resource %s %s (only GET /metrics here)", req->method, req->path);
        return;
    }
    metrics_buf_t b;
    metrics_init(&b);
    ametrics_write(&b, m->pool, m->work, m->gossip);
    metrics_reply(&b, resp);
}

ametrics_t *ametrics_new(loop_t *l, void *zctx, const char *bind, const pool_t *pool,
                         const awork_t *work, const gossip_t *gossip, char *err, size_t errlen)
{
    ametrics_t *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->pool = pool;
    m->work = work;
    m->gossip = gossip;
    m->http = http_new(l, zctx, bind, "", AMETRICS_MAX_BODY, handle, m, err, errlen);
    if (!m->http) {
        free(m);
        return NULL;
    }
    return m;
}

void ametrics_destroy(ametrics_t **pm)
{
    if (!pm || !*pm)
        return;
    http_destroy(&(*pm)->http);
    free(*pm);
    *pm = NULL;
}

int ametrics_port(const ametrics_t *m)
{
    return http_port(m->http);
}
