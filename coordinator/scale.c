/* scale.c - horizontal scaling driven by the coordinator: how many VMs each
 * agent runs, between the [beam] min_vms and max_vms it announced, from
 * queue pressure and evaluation latency; and draining an agent before it is
 * removed. Decisions are kept with their reason for `petri scale status`.
 *
 * Policy (every SCALE_TICK_MS):
 *  - busy: the agent used all its credit while its demes had more work, on
 *    BUSY_TICKS ticks in a row -> one more VM (up to max_vms);
 *  - idle: fewer items in flight than its VMs minus one can run at once, on
 *    IDLE_TICKS ticks in a row -> one VM less (down to min_vms).
 * One step at a time, so a decision is seen working before the next. */
#include <stdio.h>
#include <string.h>

#include "coord.h"
#include "err.h"
#include "log.h"

#define BUSY_TICKS 2
#define IDLE_TICKS 5
#define ITEMS_PER_VM 2 /* an agent keeps about two items per VM in flight */

static scale_entry_t *entry(coord_t *c, const uint8_t id[CRYPTO_ID_LEN])
{
    for (int i = 0; i < c->nscale; i++)
        if (!memcmp(c->scale[i].id, id, CRYPTO_ID_LEN))
            return &c->scale[i];
    if (c->nscale >= COORD_MAX_AGENTS)
        return NULL;
    scale_entry_t *e = &c->scale[c->nscale++];
    memset(e, 0, sizeof *e);
    memcpy(e->id, id, CRYPTO_ID_LEN);
    snprintf(e->reason, sizeof e->reason, "no decision yet");
    return e;
}

static void decide(coord_t *c, const work_agent_t *a, scale_entry_t *e, uint32_t target,
                   const char *why)
{
    e->target = target;
    e->decided_ms = loop_now(c->loop);
    snprintf(e->reason, sizeof e->reason, "%s", why);
    e->busy_ticks = e->idle_ticks = 0;
    log_info("scale.decision", "agent=%s vms=%u target=%u why=\"%s\"", a->name, a->vms_total,
             target, why);
    work_control(c->work, a->id, target, 0);
}

void scale_tick(coord_t *c)
{
    int running = 0;
    for (int i = 0; i < c->npops; i++)
        running += c->pops[i]->state == POP_RUNNING;
    for (int i = 0; i < work_agent_count(c->work); i++) {
        const work_agent_t *a = work_agent_at(c->work, i);
        scale_entry_t *e = entry(c, a->id);
        int saturated = work_agent_take_saturated(c->work, a->id);
        if (!e || a->gone || a->drained || !a->last_hello_ms)
            continue;
        uint32_t lo = a->min_vms ? a->min_vms : 1, hi = a->max_vms ? a->max_vms : a->vms_total;
        if (saturated && running) {
            e->busy_ticks++;
            e->idle_ticks = 0;
        } else if ((uint32_t)a->inflight + ITEMS_PER_VM <=
                   (a->vms_total - (a->vms_total > 0)) * ITEMS_PER_VM) {
            e->idle_ticks++;
            e->busy_ticks = 0;
        } else {
            e->busy_ticks = e->idle_ticks = 0;
        }
        char why[200];
        if (e->busy_ticks >= BUSY_TICKS && a->vms_total < hi) {
            snprintf(why, sizeof why,
                     "busy: all %u VMs in use with work waiting for %d s (latency %.0f ms)",
                     a->vms_total, BUSY_TICKS * SCALE_TICK_MS / 1000, a->latency_ms);
            decide(c, a, e, a->vms_total + 1, why);
        } else if (e->idle_ticks >= IDLE_TICKS && a->vms_total > lo) {
            snprintf(why, sizeof why, "idle: %d items in flight for %u VMs for %d s", a->inflight,
                     a->vms_total, IDLE_TICKS * SCALE_TICK_MS / 1000);
            decide(c, a, e, a->vms_total - 1, why);
        } else if (e->target == 0) {
            snprintf(e->reason, sizeof e->reason, "steady at %u VMs (range %u..%u)", a->vms_total,
                     lo, hi);
        }
    }
}

json_t *scale_status_json(coord_t *c)
{
    json_t *arr = json_array();
    for (int i = 0; i < work_agent_count(c->work); i++) {
        const work_agent_t *a = work_agent_at(c->work, i);
        scale_entry_t *e = entry(c, a->id);
        if (!e)
            continue;
        json_array_append_new(
            arr, json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:s, s:I, s:b, s:b}", "agent",
                           a->name, "vms_ready", (int)a->vms_ready, "vms_total", (int)a->vms_total,
                           "min_vms", (int)a->min_vms, "max_vms", (int)a->max_vms, "target",
                           (int)e->target, "inflight", a->inflight, "latency_ms", a->latency_ms,
                           "reason", e->reason, "decided_ms", (json_int_t)e->decided_ms, "drained",
                           a->drained, "gone", a->gone));
    }
    return arr;
}

json_t *agents_json(coord_t *c)
{
    json_t *arr = json_array();
    for (int i = 0; i < work_agent_count(c->work); i++) {
        const work_agent_t *a = work_agent_at(c->work, i);
        char id[2 * CRYPTO_ID_LEN + 1];
        crypto_hex(a->id, CRYPTO_ID_LEN, id);
        const char *state = a->gone      ? "gone"
                            : a->drained ? (a->inflight ? "draining" : "drained")
                                         : "active";
        json_t *br = json_array();
        for (int k = 0; k < a->nbreeders; k++) {
            char hex[2 * WIRE_BREEDER_LEN + 1];
            crypto_hex(a->breeders[k], WIRE_BREEDER_LEN, hex);
            json_array_append_new(br, json_string(hex));
        }
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:I, s:I, s:o}",
                                             "name", a->name, "id", id, "state", state, "vms_ready",
                                             (int)a->vms_ready, "vms_total", (int)a->vms_total,
                                             "inflight", a->inflight, "credit", work_agent_free(a),
                                             "results", (json_int_t)a->results, "rejected",
                                             (json_int_t)a->rejected, "breeders", br));
    }
    return arr;
}

int agent_drain(coord_t *c, const char *name, json_t **out)
{
    for (int i = 0; i < work_agent_count(c->work); i++) {
        const work_agent_t *a = work_agent_at(c->work, i);
        if (strcmp(a->name, name) != 0)
            continue;
        work_agent_set_drained(c->work, a->id, 1);
        work_control(c->work, a->id, 0, 1);
        coord_dispatch(c); /* its demes now go elsewhere */
        *out = json_pack("{s:s, s:s, s:i}", "agent", a->name, "state",
                         a->inflight ? "draining" : "drained", "inflight", a->inflight);
        return 0;
    }
    return ERR_NOTFOUND;
}
