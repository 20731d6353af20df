/* pool_stats.c - read-only queries over the VM pool: counts, paths,
 * status JSON and telemetry (pool.h). */
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "pool_int.h"

json_t *pool_breeder_json(const uint8_t breeder[WIRE_BREEDER_LEN])
{
    static const uint8_t zero[WIRE_BREEDER_LEN];
    if (memcmp(breeder, zero, WIRE_BREEDER_LEN) == 0)
        return json_null();
    char hex[2 * WIRE_BREEDER_LEN + 1];
    crypto_hex(breeder, WIRE_BREEDER_LEN, hex);
    return json_string(hex);
}

int pool_ready(const pool_t *p)
{
    int n = 0;
    for (int i = 0; i < p->cap; i++)
        n += p->slots[i].st == ST_READY;
    return n;
}

int pool_breeders(const pool_t *p, uint8_t (*out)[WIRE_BREEDER_LEN], int max)
{
    static const uint8_t zero[WIRE_BREEDER_LEN];
    int n = 0;
    for (int i = 0; i < p->cap && n < max; i++) {
        const uint8_t *b = p->slots[i].breeder;
        int seen = p->slots[i].st != ST_READY || memcmp(b, zero, WIRE_BREEDER_LEN) == 0;
        for (int k = 0; k < n && !seen; k++)
            seen = memcmp(out[k], b, WIRE_BREEDER_LEN) == 0;
        if (!seen)
            memcpy(out[n++], b, WIRE_BREEDER_LEN);
    }
    return n;
}

int pool_total(const pool_t *p)
{
    return p->target;
}

const char *pool_erl(const pool_t *p)
{
    return p->erl;
}

const char *pool_elixir(const pool_t *p)
{
    return p->elixir;
}

const char *pool_code_path(const pool_t *p)
{
    return p->o.code_path;
}

int pool_max(const pool_t *p)
{
    return p->cap;
}

size_t pool_queued(const pool_t *p)
{
    return p->queued;
}

size_t pool_inflight(const pool_t *p)
{
    size_t n = 0;
    for (int i = 0; i < p->cap; i++)
        n += (size_t)p->slots[i].ninflight;
    return n;
}

json_t *pool_status_json(const pool_t *p)
{
    json_t *vms = json_array();
    uint64_t restarts = 0, recycles = 0, kills = 0;
    for (int i = 0; i < p->cap; i++) {
        const slot_t *s = &p->slots[i];
        restarts += s->restarts;
        recycles += s->recycles;
        kills += s->kills;
        json_t *vm =
            json_pack("{s:i, s:s, s:i, s:I, s:I, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:s, "
                      "s:b, s:I, s:I}",
                      "index", s->index, "state", pool_st_name[s->st], "pid", (int)s->pid, "rss_kb",
                      (json_int_t)s->rss_kb, "loads", (json_int_t)s->loads, "inflight",
                      s->ninflight, "memory_bytes", (json_int_t)s->memory_bytes, "processes",
                      (json_int_t)s->processes, "atoms", (json_int_t)s->atoms, "live_sandboxes",
                      (json_int_t)s->live, "pending_purge", (json_int_t)s->pending_purge,
                      "vm_loads", (json_int_t)s->vm_loads, "otp", s->otp, "elixir", s->elixir,
                      "restarts", (json_int_t)s->restarts, "recycles", (json_int_t)s->recycles);
        /* the identity of the VM's breeder, as its hello said (null: not yet, or never) */
        json_object_set_new(vm, "breeder", pool_breeder_json(s->breeder));
        json_array_append_new(vms, vm);
    }
    return json_pack("{s:o, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:I, s:I}", "vms", vms,
                     "ready", pool_ready(p), "total", p->target, "queued", (json_int_t)p->queued,
                     "inflight", (json_int_t)pool_inflight(p), "restarts", (json_int_t)restarts,
                     "recycles", (json_int_t)recycles, "kills", (json_int_t)kills, "failed",
                     p->failed, "job_deaths", (json_int_t)p->job_deaths, "suspects",
                     (json_int_t)p->suspects, "blamed", (json_int_t)p->blamed);
}

int pool_get_stats(const pool_t *p, pool_stats_t *out, pool_vm_stats_t *vms, int nvms)
{
    memset(out, 0, sizeof *out);
    out->starts = p->starts;
    out->job_deaths = p->job_deaths;
    out->suspects = p->suspects;
    out->blamed = p->blamed;
    memcpy(out->evals, p->evals, sizeof out->evals);
    memcpy(out->breeds, p->breeds, sizeof out->breeds);
    out->load_seconds = p->load_hist;
    out->eval_seconds = p->eval_hist;
    out->queued = p->queued;
    out->inflight = pool_inflight(p);
    out->ready = pool_ready(p);
    out->target = p->target;
    out->cap = p->cap;
    out->failed = p->failed;
    int n = 0;
    for (int i = 0; i < p->cap; i++) {
        const slot_t *s = &p->slots[i];
        out->restarts += s->restarts;
        out->recycles += s->recycles;
        for (int k = 0; k < POOL_KILL__COUNT; k++)
            out->kills[k] += s->kills_by[k];
        if (n < nvms && (s->vm || s->st != ST_DOWN)) {
            vms[n++] =
                (pool_vm_stats_t){.index = s->index,
                                  .state = pool_st_name[s->st],
                                  .memory_bytes = s->memory_bytes,
                                  .rss_bytes = s->rss_kb > 0 ? (uint64_t)s->rss_kb * 1024 : 0,
                                  .vm_loads = s->vm_loads,
                                  .evals_ok = s->vm_evals_ok,
                                  .evals_failed = s->vm_evals_failed,
                                  .processes = s->processes,
                                  .atoms = s->atoms,
                                  .live_sandboxes = s->live,
                                  .pending_purges = s->pending_purge,
                                  .inflight = s->ninflight};
        }
    }
    return n;
}
