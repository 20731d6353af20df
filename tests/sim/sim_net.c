/* sim_net.c - the simulator's engine: an event heap on a virtual clock, the
 * fake network between the members, and the fault knobs (crash, pause, slow,
 * partition, one-way block). Deterministic for a seed. */
#include "sim.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EV_DELIVER = 1, EV_TICK = 2 };

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz);
    if (!p) {
        fprintf(stderr, "swimsim: out of memory\n");
        exit(2);
    }
    return p;
}

uint64_t sim_rand(sim_t *sim)
{
    uint64_t z = (sim->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double sim_rand01(sim_t *sim)
{
    return (double)(sim_rand(sim) >> 11) / 9007199254740992.0;
}

/* ---- event heap, ordered by (at, seq) ---- */

static bool ev_less(const sim_ev_t *a, const sim_ev_t *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void ev_push(sim_t *sim, sim_ev_t ev)
{
    if (sim->nheap == sim->capheap) {
        sim->capheap = sim->capheap ? sim->capheap * 2 : 4096;
        sim->heap = realloc(sim->heap, sim->capheap * sizeof *sim->heap);
        if (!sim->heap) {
            fprintf(stderr, "swimsim: out of memory\n");
            exit(2);
        }
    }
    ev.seq = sim->evseq++;
    size_t i = sim->nheap++;
    sim->heap[i] = ev;
    while (i > 0 && ev_less(&sim->heap[i], &sim->heap[(i - 1) / 2])) {
        sim_ev_t t = sim->heap[i];
        sim->heap[i] = sim->heap[(i - 1) / 2];
        sim->heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static sim_ev_t ev_pop(sim_t *sim)
{
    sim_ev_t top = sim->heap[0];
    sim->heap[0] = sim->heap[--sim->nheap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < sim->nheap && ev_less(&sim->heap[l], &sim->heap[m]))
            m = l;
        if (r < sim->nheap && ev_less(&sim->heap[r], &sim->heap[m]))
            m = r;
        if (m == i)
            break;
        sim_ev_t t = sim->heap[i];
        sim->heap[i] = sim->heap[m];
        sim->heap[m] = t;
        i = m;
    }
    return top;
}

/* ---- members' I/O ---- */

int sim_index_of(const sim_t *sim, const uint8_t id[SWIM_ID_LEN])
{
    uint32_t v = ((uint32_t)id[0] << 24) | ((uint32_t)id[1] << 16) | ((uint32_t)id[2] << 8) | id[3];
    if (v == 0 || v > sim->n || memcmp(sim->nodes[v - 1].id, id, SWIM_ID_LEN))
        return -1;
    return (int)(v - 1);
}

static int addr_index(const sim_t *sim, const char *addr)
{
    if (addr[0] != 'n')
        return -1;
    char *end;
    unsigned long v = strtoul(addr + 1, &end, 10);
    if (*end != ':' || v >= sim->n)
        return -1;
    return (int)v;
}

static void schedule(sim_t *sim, sim_node_t *nd)
{
    if (nd->state != NODE_UP && nd->state != NODE_LEFT)
        return;
    uint64_t d = swim_next_deadline(nd->s);
    if (d < sim->now)
        d = sim->now;
    if (d >= nd->tick_at)
        return;
    nd->tick_at = d;
    nd->tick_gen++;
    ev_push(sim, (sim_ev_t){.at = d, .kind = EV_TICK, .node = nd->idx, .gen = nd->tick_gen});
}

static void net_send(void *ctx, const char *addr, const uint8_t *buf, size_t len)
{
    sim_node_t *src = ctx;
    sim_t *sim = src->sim;
    int dst = addr_index(sim, addr);
    if (dst < 0) {
        sim->dropped++;
        return;
    }
    sim_node_t *d = &sim->nodes[dst];
    if ((sim->partitioned && d->group != src->group) ||
        (sim->blocked && sim->blocked[(size_t)src->idx * sim->n + (size_t)dst]) ||
        (sim->loss > 0 && sim_rand01(sim) < sim->loss)) {
        sim->dropped++;
        return;
    }
    uint64_t delay = sim->delay_min_ms;
    if (sim->delay_max_ms > sim->delay_min_ms)
        delay += sim_rand(sim) % (sim->delay_max_ms - sim->delay_min_ms + 1);
    if (d->slow_max_ms)
        delay += d->slow_min_ms + sim_rand(sim) % (d->slow_max_ms - d->slow_min_ms + 1);
    sim_msg_t *m = xcalloc(1, sizeof *m + len);
    m->src = src->idx;
    m->dst = (uint32_t)dst;
    m->len = (uint32_t)len;
    memcpy(m->data, buf, len);
    ev_push(sim, (sim_ev_t){
                     .at = sim->now + delay, .kind = EV_DELIVER, .node = (uint32_t)dst, .msg = m});
}

static void net_event(void *ctx, const swim_event_t *ev)
{
    sim_node_t *nd = ctx;
    if (nd->sim->observe)
        nd->sim->observe(nd->sim, nd, ev);
}

static int net_persist(void *ctx, uint64_t inc)
{
    sim_node_t *nd = ctx;
    nd->disk_inc = inc;
    return 0;
}

/* ---- lifecycle of the world and its members ---- */

sim_t *sim_new(uint32_t n, const swim_config_t *cfg, uint64_t seed, double loss)
{
    sim_t *sim = xcalloc(1, sizeof *sim);
    sim->n = n;
    sim->cfg = *cfg;
    sim->rng = seed;
    sim->loss = loss;
    sim->delay_min_ms = 1;
    sim->delay_max_ms = 10;
    sim->nodes = xcalloc(n, sizeof *sim->nodes);
    for (uint32_t i = 0; i < n; i++) {
        sim_node_t *nd = &sim->nodes[i];
        nd->sim = sim;
        nd->idx = i;
        nd->tick_at = UINT64_MAX;
        snprintf(nd->name, sizeof nd->name, "node-%u", i);
        snprintf(nd->addr, sizeof nd->addr, "n%u:7946", i);
        uint32_t v = i + 1;
        nd->id[0] = (uint8_t)(v >> 24);
        nd->id[1] = (uint8_t)(v >> 16);
        nd->id[2] = (uint8_t)(v >> 8);
        nd->id[3] = (uint8_t)v;
        for (int k = 4; k < SWIM_ID_LEN; k++)
            nd->id[k] = (uint8_t)(sim_rand(sim) | 1);
        nd->metalen =
            (size_t)snprintf((char *)nd->meta, sizeof nd->meta, "role=agent,cap=4,vms=2/2,v=1");
    }
    return sim;
}

static void drop_pending(sim_node_t *nd)
{
    while (nd->pend_head) {
        sim_msg_t *m = nd->pend_head;
        nd->pend_head = m->next;
        free(m);
    }
    nd->pend_tail = NULL;
}

void sim_destroy(sim_t **simp)
{
    sim_t *sim = *simp;
    if (!sim)
        return;
    for (uint32_t i = 0; i < sim->n; i++) {
        swim_destroy(&sim->nodes[i].s);
        drop_pending(&sim->nodes[i]);
    }
    for (size_t i = 0; i < sim->nheap; i++)
        free(sim->heap[i].msg);
    free(sim->heap);
    free(sim->blocked);
    free(sim->nodes);
    free(sim);
    *simp = NULL;
}

static void retire_process(sim_node_t *nd)
{
    if (!nd->s)
        return;
    swim_stats_t st;
    swim_get_stats(nd->s, &st);
    nd->sum_msgs += st.msgs_out - nd->base_msgs;
    nd->sum_bytes += st.bytes_out - nd->base_bytes;
    nd->base_msgs = nd->base_bytes = 0;
    swim_destroy(&nd->s);
}

void sim_start(sim_t *sim, uint32_t i, const uint32_t *seeds, size_t nseeds)
{
    sim_node_t *nd = &sim->nodes[i];
    retire_process(nd);
    drop_pending(nd);
    swim_self_t self = {.name = nd->name,
                        .id = nd->id,
                        .addr = nd->addr,
                        .meta = nd->meta,
                        .metalen = nd->metalen,
                        .incarnation_floor = nd->disk_inc};
    swim_io_t io = {
        .ctx = nd, .send = net_send, .event = net_event, .persist_incarnation = net_persist};
    nd->s = swim_new(&sim->cfg, &self, &io, sim->now, sim_rand(sim));
    assert(nd->s);
    nd->state = NODE_UP;
    nd->tick_at = UINT64_MAX;
    const char *sa[SWIM_SEEDS_MAX];
    size_t ns = 0;
    for (size_t k = 0; k < nseeds && ns < SWIM_SEEDS_MAX; k++)
        if (seeds[k] != i)
            sa[ns++] = sim->nodes[seeds[k]].addr;
    swim_join(nd->s, sa, ns, sim->now);
    schedule(sim, nd);
}

void sim_crash(sim_t *sim, uint32_t i)
{
    sim_node_t *nd = &sim->nodes[i];
    retire_process(nd);
    drop_pending(nd);
    nd->state = NODE_CRASHED;
    nd->faulted = true;
}

void sim_pause(sim_t *sim, uint32_t i)
{
    sim->nodes[i].state = NODE_PAUSED;
    sim->nodes[i].faulted = true;
}

void sim_resume(sim_t *sim, uint32_t i)
{
    sim_node_t *nd = &sim->nodes[i];
    nd->state = NODE_UP;
    /* What arrived during the pause waits in the socket: it is read first. */
    while (nd->pend_head) {
        sim_msg_t *m = nd->pend_head;
        nd->pend_head = m->next;
        swim_recv(nd->s, m->data, m->len, sim->now);
        free(m);
    }
    nd->pend_tail = NULL;
    nd->tick_at = UINT64_MAX;
    schedule(sim, nd);
}

void sim_leave(sim_t *sim, uint32_t i)
{
    sim_node_t *nd = &sim->nodes[i];
    swim_leave(nd->s, sim->now);
    nd->state = NODE_LEFT;
    nd->faulted = true;
    schedule(sim, nd);
}

void sim_set_meta(sim_t *sim, uint32_t i, const uint8_t *meta, size_t len)
{
    sim_node_t *nd = &sim->nodes[i];
    if (len > sizeof nd->meta)
        len = sizeof nd->meta;
    memcpy(nd->meta, meta, len);
    nd->metalen = len;
    swim_set_meta(nd->s, meta, len, sim->now);
    schedule(sim, nd);
}

void sim_block(sim_t *sim, uint32_t src, uint32_t dst, bool on)
{
    if (!sim->blocked)
        sim->blocked = xcalloc((size_t)sim->n * sim->n, 1);
    sim->blocked[(size_t)src * sim->n + dst] = on;
}

void sim_run_until(sim_t *sim, uint64_t t)
{
    while (sim->nheap && sim->heap[0].at <= t) {
        sim_ev_t ev = ev_pop(sim);
        sim->now = ev.at;
        sim_node_t *nd = &sim->nodes[ev.node];
        if (ev.kind == EV_DELIVER) {
            if (nd->state == NODE_PAUSED) {
                ev.msg->next = NULL;
                if (nd->pend_tail)
                    nd->pend_tail->next = ev.msg;
                else
                    nd->pend_head = ev.msg;
                nd->pend_tail = ev.msg;
                continue;
            }
            if (nd->state == NODE_UP || nd->state == NODE_LEFT) {
                swim_recv(nd->s, ev.msg->data, ev.msg->len, sim->now);
                sim->delivered++;
                schedule(sim, nd);
            }
            free(ev.msg);
            continue;
        }
        if (ev.gen != nd->tick_gen || (nd->state != NODE_UP && nd->state != NODE_LEFT))
            continue;
        nd->tick_at = UINT64_MAX;
        swim_tick(nd->s, sim->now);
        schedule(sim, nd);
    }
    if (t > sim->now)
        sim->now = t;
}

void sim_window_start(sim_t *sim)
{
    for (uint32_t i = 0; i < sim->n; i++) {
        sim_node_t *nd = &sim->nodes[i];
        nd->sum_msgs = nd->sum_bytes = 0;
        nd->base_msgs = nd->base_bytes = 0;
        if (nd->s) {
            swim_stats_t st;
            swim_get_stats(nd->s, &st);
            nd->base_msgs = st.msgs_out;
            nd->base_bytes = st.bytes_out;
        }
    }
}

void sim_window_counts(const sim_t *sim, uint32_t i, uint64_t *msgs, uint64_t *bytes)
{
    const sim_node_t *nd = &sim->nodes[i];
    *msgs = nd->sum_msgs;
    *bytes = nd->sum_bytes;
    if (nd->s) {
        swim_stats_t st;
        swim_get_stats(nd->s, &st);
        *msgs += st.msgs_out - nd->base_msgs;
        *bytes += st.bytes_out - nd->base_bytes;
    }
}
