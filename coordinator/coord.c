/* coord.c - `petri coordinator`: the daemon, top to bottom as policy (config,
 * identity, store, gossip, work socket, HTTP, loop), and the loop's jobs:
 * dispatch work to the demes' agents, hand results to group commit
 * (commit.c), react to membership. See coord.h for the invariants. */
#include "coord.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "api_mut.h"
#include "err.h"
#include "log.h"
#include "cluster.h"
#include "placement.h"
#include "settings.h"
#include "util.h"

#define DISPATCH_TICK_MS 100 /* safety net; dispatch mostly runs on events */
#define SAMPLE_TICK_MS 1000  /* fitness history sampling */
#define REISSUE_MAX 3        /* internal failures before an item is recorded as such */
#define POP_PREFIX "pop/"

pop_t *coord_find_pop(coord_t *c, const char *name)
{
    for (int i = 0; i < c->npops; i++)
        if (strcmp(c->pops[i]->name, name) == 0)
            return c->pops[i];
    return NULL;
}

int coord_add_pop(coord_t *c, pop_t *p)
{
    if (c->npops >= COORD_MAX_POPS)
        return ERR_LIMIT;
    if (coord_find_pop(c, p->name))
        return ERR_EXISTS;
    c->pops[c->npops++] = p;
    int rc = coord_save_pop(c, p);
    if (rc) {
        c->npops--;
        return rc;
    }
    pop_sample(p, loop_now(c->loop));
    log_info("coord.population_created", "population=%s size=%d demes=%d", p->name, p->size,
             p->ndemes);
    coord_dispatch(c);
    return 0;
}

/* ---- re-issue queue ---- */

void coord_queue_item(coord_t *c, work_item_t *it)
{
    if (c->nreissue == c->capreissue) {
        size_t ncap = c->capreissue ? c->capreissue * 2 : 64;
        work_item_t *n = realloc(c->reissue, ncap * sizeof *n);
        if (!n) {
            log_error("coord.oom", "msg=\"cannot queue an item; it is dropped\"");
            work_item_clear(it);
            return;
        }
        c->reissue = n;
        c->capreissue = ncap;
    }
    c->reissue[c->nreissue++] = *it;
    memset(it, 0, sizeof *it);
}

static void on_reclaimed(void *arg, work_item_t *it)
{
    coord_t *c = arg;
    pop_t *p = it->kind == ITEM_REPLAY ? NULL : coord_find_pop(c, it->pop);
    if (p && !pop_item_lost(p, it, loop_now(c->loop))) {
        /* not recorded in the lineage: no agent signed a result for it */
        log_warn("coord.given_up",
                 "population=%s deme=%u dseq=%llu why=\"%d agents died holding "
                 "it\" status=vm_killed",
                 it->pop, it->deme, (unsigned long long)it->dseq, it->lost);
        c->given_up++;
        work_item_clear(it);
        return;
    }
    c->reissued++;
    coord_queue_item(c, it);
}

/* No answer in time (the agent dropped it, or is stuck): like a dead agent's. */
static void on_expired(void *arg, work_item_t *it)
{
    on_reclaimed(arg, it);
}

static int64_t on_commit_timer(loop_t *l, void *arg)
{
    (void)l;
    coord_t *c = arg;
    coord_commit(c);
    coord_ckpt_issue(c, 0);
    return cfg_int(c->cfg, "store", "commit_interval_ms");
}

static int list_has(const pending_t *l, size_t n, const char *pop, uint32_t deme, uint64_t dseq)
{
    for (size_t i = 0; i < n; i++)
        if (l[i].si.dseq == dseq && l[i].si.deme == deme && strcmp(l[i].pop, pop) == 0)
            return 1;
    return 0;
}

/* Pending or in a batch not yet durable (store_has_key sees neither). */
static int pending_has(const coord_t *c, const char *pop, uint32_t deme, uint64_t dseq)
{
    for (int i = 0; i < c->ninflight; i++)
        if (list_has(c->inflight[i].pending, c->inflight[i].n, pop, deme, dseq))
            return 1;
    return list_has(c->pending, c->npending, pop, deme, dseq);
}

static void add_pending(coord_t *c, const work_item_t *it, const work_result_t *r)
{
    store_item_t si = {0};
    si.deme = it->deme;
    si.dseq = it->dseq;
    memcpy(si.child_hash, r->child_hash, CRYPTO_HASH_LEN);
    si.nparents = (uint8_t)it->nparents;
    for (int k = 0; k < it->nparents; k++)
        memcpy(si.parents[k], it->parent_hash[k], CRYPTO_HASH_LEN);
    if (!strcmp(it->op, "external")) { /* an external mutator's child: its origin */
        si.nparents = (uint8_t)it->ext_nparents;
        memcpy(si.parents, it->ext_parents, sizeof si.parents);
        memcpy(si.mutator, it->mutator, sizeof si.mutator);
        memcpy(si.input_hash, it->input_hash, CRYPTO_HASH_LEN);
    }
    si.seed = it->seed;
    si.status = (uint8_t)r->status;
    si.fitness = r->fitness;
    memcpy(si.agent_id, r->agent->id, CRYPTO_ID_LEN);
    memcpy(si.agent_pk, r->agent->pk, CRYPTO_PK_LEN);
    memcpy(si.agent_sig, r->sig, CRYPTO_SIG_LEN);
    si.passed = r->passed;
    si.cases = r->cases;
    si.cost = r->cost;
    si.reused = r->reused;
    memcpy(si.errors_hash, r->errors_hash, CRYPTO_HASH_LEN);
    si.version = r->has_breeder ? 4 : 2; /* 4: the agent signed the breeder (attest v3) */
    memcpy(si.breeder, r->breeder, WIRE_BREEDER_LEN);
    si.src = (const char *)r->src;
    si.src_len = r->len;
    coord_pending_add(c, &si, it->pop, strcmp(it->op, "seed") == 0 ? "submitted" : it->op);
}

/* ---- results ---- */

/* One verified result. Dispatching waits for on_results_done, so the credit a
 * whole frame of results frees goes out as one batch. */
static void on_result(void *arg, work_item_t *it, const work_result_t *r)
{
    coord_t *c = arg;
    if (it->kind == ITEM_REPLAY) {
        replay_result(c, it, r);
        work_item_clear(it);
        return;
    }
    pop_t *p = coord_find_pop(c, it->pop);
    if (r->status == WIRE_ST_INTERNAL && ++it->attempts < REISSUE_MAX) {
        /* the agent failed, not the genome: try again (elsewhere, maybe) */
        char q[300];
        log_warn("coord.reissue", "population=%s deme=%u dseq=%llu agent=%s why=%s", it->pop,
                 it->deme, (unsigned long long)it->dseq, r->agent->name,
                 log_quote(r->detail, q, sizeof q));
        c->reissued++;
        coord_queue_item(c, it);
        return;
    }
    uint64_t seq;
    if (pending_has(c, it->pop, it->deme, it->dseq) ||
        store_has_key(c->store, it->pop, it->deme, it->dseq, &seq) == 0) {
        c->discarded_late++;
        work_item_clear(it);
        return;
    }
    add_pending(c, it, r);
    pop_outcome_t o = {.status = r->status,
                       .fitness = r->fitness,
                       .cost = r->cost,
                       .passed = r->passed,
                       .cases = r->cases,
                       .errors = r->errors,
                       .nerrors = r->nerrors};
    if (p)
        pop_result_ext(p, it, &o, r->child_hash, (const char *)r->src, r->len, loop_now(c->loop));
    if (p && p->state != POP_RUNNING) {
        work_forget_population(c->work, p->name);
        coord_commit(c);
        coord_save_pop(c, p);
    }
    work_item_clear(it);
}

static void on_results_done(void *arg)
{
    coord_dispatch(arg);
}

static void on_capacity(void *arg, const work_agent_t *a)
{
    coord_t *c = arg;
    int placed = 0;
    for (int k = 0; k < c->nlive && !placed; k++)
        for (int i = 0; i < c->live[k]->n && !placed; i++)
            placed = c->live[k]->ind[i].state == LI_UNPLACED;
    if (placed && a->last_hello_ms)
        live_tick(c); /* an agent to place individuals on */
    coord_dispatch(arg);
}

static void on_live(void *arg, const work_agent_t *a, int type, const uint8_t *payload, size_t len)
{
    if (type == WIRE_WORK_LIVE_EVENT)
        live_on_event(arg, a, payload, len);
    else
        live_on_status(arg, a, payload, len);
}

static int64_t on_live_tick(loop_t *l, void *arg)
{
    (void)l;
    live_tick(arg);
    return LIVE_TICK_MS;
}

/* ---- dispatch ---- */

typedef struct live {
    place_node_t nodes[512];
    const work_agent_t *agents[512];
    int n;
} live_t;

static void live_agents(coord_t *c, live_t *lv)
{
    lv->n = 0;
    for (int i = 0; i < work_agent_count(c->work) && lv->n < 512; i++) {
        const work_agent_t *a = work_agent_at(c->work, i);
        if (a->gone || a->drained || !a->last_hello_ms || a->vms_ready == 0)
            continue;
        memcpy(lv->nodes[lv->n].id, a->id, PLACE_ID_LEN);
        lv->nodes[lv->n].weight = a->vms_ready;
        lv->agents[lv->n++] = a;
    }
}

/* owner[d]: the index in lv of the agent that owns deme d of p (place_demes). */
static void owners_of(const live_t *lv, const pop_t *p, int owner[256])
{
    place_demes(lv->nodes, lv->n, p->name, (uint32_t)p->ndemes, owner);
}

/* The owner of an item's key by plain rendezvous: replays of a live
 * population, whose shell has no demes (the key's "deme" is an individual). */
static int key_owner(const live_t *lv, const char *pop, uint32_t deme)
{
    char key[96];
    size_t kl = place_deme_key(pop, deme, key, sizeof key);
    return place_pick(lv->nodes, lv->n, key, kl);
}

/* Sends queued items (re-issues, submissions, replays) to their owners. */
static void dispatch_queue(coord_t *c, const live_t *lv)
{
    size_t keep = 0;
    const pop_t *last = NULL;
    int owner[256];
    for (size_t i = 0; i < c->nreissue; i++) {
        work_item_t *it = &c->reissue[i];
        pop_t *p =
            it->kind == ITEM_REPLAY ? live_replay_pop(c, it->pop) : coord_find_pop(c, it->pop);
        if (p && p != last)
            owners_of(lv, p, owner);
        last = p;
        int o = !p                               ? -1
                : it->deme < (uint32_t)p->ndemes ? owner[it->deme]
                                                 : key_owner(lv, it->pop, it->deme);
        int sent = 0;
        if (p && o >= 0 && work_agent_free(lv->agents[o]) > 0)
            sent = work_send(c->work, lv->agents[o]->id, p, it, 1) == 0;
        if (!p) /* population gone */
            work_item_clear(it);
        else if (!sent)
            c->reissue[keep++] = *it;
    }
    c->nreissue = keep;
}

/* Up to `share` items of population p for the demes agent ai owns, round-robin
 * over them; returns how many were handed to the agent (or queued). */
static int dispatch_pop(coord_t *c, const live_t *lv, int ai, pop_t *p, const int *owner, int share,
                        int max_inflight)
{
    const work_agent_t *a = lv->agents[ai];
    work_item_t items[64];
    int n = 0, progress = 1;
    while (n < share && n < 64 && progress) {
        progress = 0;
        for (int d = 0; d < p->ndemes && n < share && n < 64; d++) {
            if (owner[d] != ai)
                continue;
            if (pop_reserve(p, (uint32_t)d) && coord_save_pop(c, p) != 0)
                continue;
            if (pop_next_item(p, (uint32_t)d, max_inflight, &items[n]) == 0) {
                n++;
                progress = 1;
            }
        }
    }
    if (n > 0 && work_send(c->work, a->id, p, items, n) != 0) {
        /* not sent: hand the items back to the queue */
        for (int k = 0; k < n; k++)
            coord_queue_item(c, &items[k]);
    }
    return n;
}

/* An agent's credit is shared among the running populations: a first pass
 * gives each an equal share, a second the rest to whoever still has work, and
 * the population served first rotates from one dispatch to the next. */
void coord_dispatch(coord_t *c)
{
    if (c->stopping || c->dispatching)
        return;
    c->dispatching = 1; /* work_send never re-enters, but results may */
    live_t lv;
    live_agents(c, &lv);
    if (lv.n == 0) {
        c->dispatching = 0;
        return;
    }
    dispatch_queue(c, &lv);
    int max_inflight = (int)cfg_int(c->cfg, "work", "max_inflight_per_deme");
    int running = 0;
    for (int pi = 0; pi < c->npops; pi++)
        running += c->pops[pi]->state == POP_RUNNING;
    int first = c->npops > 0 ? (int)(c->dispatch_turn++ % (unsigned)c->npops) : 0;
    int(*owner)[256] = running > 0 ? malloc((size_t)c->npops * sizeof *owner) : NULL;
    if (running > 0 && !owner) {
        c->dispatching = 0;
        return; /* no memory now: the next tick tries again */
    }
    for (int pi = 0; pi < c->npops; pi++)
        if (c->pops[pi]->state == POP_RUNNING)
            owners_of(&lv, c->pops[pi], owner[pi]);
    for (int ai = 0; ai < lv.n && running > 0; ai++) {
        const work_agent_t *a = lv.agents[ai];
        int credit = work_agent_free(a), wanted = 0;
        for (int pass = 0; pass < 2 && work_agent_free(a) > 0; pass++) {
            for (int k = 0; k < c->npops && work_agent_free(a) > 0; k++) {
                int pi = (first + k) % c->npops;
                pop_t *p = c->pops[pi];
                if (p->state != POP_RUNNING)
                    continue;
                int share = pass == 0 ? (credit + running - 1) / running : work_agent_free(a);
                if (share > work_agent_free(a))
                    share = work_agent_free(a);
                if (dispatch_pop(c, &lv, ai, p, owner[pi], share, max_inflight) >= share)
                    wanted = 1;
            }
        }
        /* credit used up while a population still had work for it */
        if (wanted && credit > 0 && work_agent_free(a) == 0)
            work_agent_mark_saturated(c->work, a->id);
    }
    free(owner);
    c->dispatching = 0;
}

static int64_t on_dispatch_tick(loop_t *l, void *arg)
{
    (void)l;
    coord_dispatch(arg);
    return DISPATCH_TICK_MS;
}

static int64_t on_sample_tick(loop_t *l, void *arg)
{
    coord_t *c = arg;
    for (int i = 0; i < c->npops; i++)
        if (c->pops[i]->state == POP_RUNNING)
            pop_sample(c->pops[i], loop_now(l));
    return SAMPLE_TICK_MS;
}

static int64_t on_scale_tick(loop_t *l, void *arg)
{
    (void)l;
    scale_tick(arg);
    return SCALE_TICK_MS;
}

/* ---- membership ---- */

static void on_member(void *arg, const swim_event_t *ev)
{
    coord_t *c = arg;
    char idhex[2 * CRYPTO_ID_LEN + 1], from[2 * CRYPTO_ID_LEN + 1] = "-";
    crypto_hex(ev->m.id, CRYPTO_ID_LEN, idhex);
    if (ev->from)
        crypto_hex(ev->from, CRYPTO_ID_LEN, from);
    log_info("coord.member", "name=%s id=%s event=%s incarnation=%llu from=%s", ev->m.name, idhex,
             swim_event_str(ev->type), (unsigned long long)ev->m.incarnation, from);
    if (ev->type == SWIM_EV_JOIN || ev->type == SWIM_EV_ALIVE || ev->type == SWIM_EV_UPDATE)
        coord_ckpt_check(c, ev->m.id, ev->m.name, ev->m.meta, ev->m.metalen);
    switch (ev->type) {
    case SWIM_EV_DEAD:
    case SWIM_EV_LEFT:
        log_info("coord.agent_down", "name=%s id=%s event=%s", ev->m.name, idhex,
                 swim_event_str(ev->type));
        work_agent_gone(c->work, ev->m.id, on_reclaimed, c);
        live_agent_gone(c, ev->m.id);
        coord_dispatch(c);
        break;
    case SWIM_EV_JOIN:
    case SWIM_EV_ALIVE:
        work_agent_alive(c->work, ev->m.id);
        coord_dispatch(c);
        break;
    default:
        break;
    }
}

/* ---- startup, shutdown ---- */

static void on_signal(loop_t *l, int signo, void *arg)
{
    coord_t *c = arg;
    log_info("coord.stopping", "signal=%s", signo == SIGTERM ? "SIGTERM" : "SIGINT");
    c->stopping = 1;
    loop_stop(l);
}

static char *lookup_genome(void *arg, const uint8_t hash[CRYPTO_HASH_LEN], size_t *len)
{
    coord_t *c = arg;
    char *src = NULL;
    return store_get_genome(c->store, hash, &src, len) == 0 ? src : NULL;
}

static int load_one_pop(void *arg, const char *key, const void *val, size_t len)
{
    coord_t *c = arg;
    json_error_t je;
    json_t *j = json_loadb(val, len, 0, &je);
    char err[256];
    pop_t *p = j ? pop_from_json(j, lookup_genome, c, err, sizeof err) : NULL;
    json_decref(j);
    if (!p) {
        log_error("coord.restore_failed", "key=%s why=\"%s\"", key, j ? err : je.text);
        return 0;
    }
    if (c->npops >= COORD_MAX_POPS) {
        log_error("coord.restore_failed", "key=%s why=\"more than %d populations\"", key,
                  COORD_MAX_POPS);
        pop_destroy(&p);
        return 0;
    }
    c->pops[c->npops++] = p;
    c->restore_dropped += p->restore_dropped;
    log_info("coord.population_restored",
             "population=%s state=%s evaluations=%llu dropped_members=%llu", p->name,
             pop_state_str(p->state), (unsigned long long)p->evaluations,
             (unsigned long long)p->restore_dropped);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: petri coordinator [-c FILE] [-o section.key=value]... [-n] [--insecure]\n"
               "  Runs the coordinator: joins the gossip as role coordinator, takes agents on\n"
               "  [work] bind, keeps the lineage store in [node] data_dir, serves the API on\n"
               "  [http] bind. -n prints the effective settings and exits (2 on a bad key).\n"
               "  Without [gossip] key or keyring_file it refuses to start unless --insecure.\n"
               "  Exit status: 0 stopped by SIGTERM/SIGINT; 1 cannot start; 2 bad settings;\n"
               "  3 the lineage cannot be trusted (a member holds a newer or other checkpoint\n"
               "  than the log, or the key is not [lineage] pinned_key).\n");
}

int coord_main(int argc, char **argv)
{
    const char *path = NULL;
    char *over[64];
    int nover = 0, check = 0, insecure = 0;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "-o") && i + 1 < argc && nover < 64)
            over[nover++] = argv[++i];
        else if (!strcmp(argv[i], "-n") || !strcmp(argv[i], "--check"))
            check = 1;
        else if (!strcmp(argv[i], "--insecure"))
            insecure = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "petri coordinator: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    char err[512];
    coord_t c = {0};
    c.cfg = coord_config_load(path, over, nover, err, sizeof err);
    if (!c.cfg) {
        fprintf(stderr, "petri coordinator: %s\n", err);
        return 2;
    }
    if (check) {
        cfg_print(c.cfg, stdout);
        cfg_destroy(&c.cfg);
        return 0;
    }
    int lvl = log_level_parse(cfg_str(c.cfg, "log", "level"));
    if (lvl < 0) {
        fprintf(stderr, "petri coordinator: [log] level: '%s' is not debug|info|warn|error\n",
                cfg_str(c.cfg, "log", "level"));
        return 2;
    }
    log_init("petri", lvl, cfg_bool(c.cfg, "log", "syslog"));
    int sigs[] = {SIGTERM, SIGINT};
    loop_block_signals(sigs, 2);
    signal(SIGPIPE, SIG_IGN);

    c.kr = keyring_new();
    if (!c.kr || cluster_keys_load(c.cfg, c.kr, insecure, err, sizeof err) != 0) {
        fprintf(stderr, "petri coordinator: %s\n", err);
        return 2;
    }
    const char *data_dir = cfg_str(c.cfg, "node", "data_dir");
    if (identity_load_or_create(data_dir, &c.id, err, sizeof err) != 0)
        fatal("coord.identity", "data_dir=%s why=\"%s\"", data_dir, err);
    store_fingerprint(c.id.pk, c.fingerprint);
    const char *pin = cfg_str(c.cfg, "lineage", "pinned_key");
    if (*pin) {
        char want[STORE_FP_LEN + 1];
        if (store_fingerprint_parse(pin, want) != 0) {
            fprintf(stderr,
                    "petri coordinator: [lineage] pinned_key: '%s' is not a key "
                    "fingerprint (32 hex characters, as `petri keygen` prints)\n",
                    pin);
            keyring_destroy(&c.kr);
            identity_wipe(&c.id);
            cfg_destroy(&c.cfg);
            return 2;
        }
        if (strcmp(want, c.fingerprint) != 0) {
            log_error("coord.key_not_pinned",
                      "key=%s pinned=%s msg=\"this coordinator's key (node.key in [node] "
                      "data_dir) is not the pinned one; the lineage would be signed by another "
                      "key\"",
                      c.fingerprint, want);
            keyring_destroy(&c.kr);
            identity_wipe(&c.id);
            cfg_destroy(&c.cfg);
            return COORD_EXIT_LINEAGE;
        }
        c.pinned = 1;
    }
    const char *name = cfg_str(c.cfg, "node", "name");
    if (*name)
        snprintf(c.name, sizeof c.name, "%s", name);
    else
        gethostname(c.name, sizeof c.name - 1);
    c.store = store_open(data_dir, (uint64_t)cfg_int(c.cfg, "store", "map_mb") << 20, &c.id, err,
                         sizeof err);
    if (!c.store)
        fatal("coord.store", "data_dir=%s why=\"%s\"", data_dir, err);
    store_meta_iter(c.store, POP_PREFIX, load_one_pop, &c);
    live_restore(&c);

    c.zctx = zmq_ctx_new();
    c.loop = loop_new();
    if (!c.zctx || !c.loop)
        fatal("coord.init", "msg=\"cannot create the ZeroMQ context or the loop\"");
    loop_signal_add(c.loop, SIGTERM, on_signal, &c);
    loop_signal_add(c.loop, SIGINT, on_signal, &c);

    work_callbacks_t wcb = {.result = on_result,
                            .capacity = on_capacity,
                            .results_done = on_results_done,
                            .expired = on_expired,
                            .live = on_live};
    c.work = work_new(c.loop, c.zctx, cfg_str(c.cfg, "work", "bind"), c.kr, c.id.id, &wcb, &c, err,
                      sizeof err);
    if (!c.work)
        fatal("coord.work", "why=\"%s\"", err);
    work_set_expiry(c.work, (uint32_t)cfg_int(c.cfg, "work", "item_expiry_timeouts"),
                    (uint32_t)cfg_int(c.cfg, "work", "item_expiry_min_ms"));
    if (cluster_work_endpoint(c.cfg, c.work_endpoint, sizeof c.work_endpoint) != 0)
        fatal("coord.work", "why=\"cannot derive the work endpoint to advertise; set [work] "
                            "advertise\"");
    char meta[512];
    size_t metalen = cluster_meta_coordinator(meta, sizeof meta, c.id.pk, c.work_endpoint);
    c.gossip =
        gossip_new_from_config(c.loop, c.zctx, c.cfg, c.name, &c.id, c.kr, (const uint8_t *)meta,
                               metalen, on_member, &c, err, sizeof err);
    if (!c.gossip)
        fatal("coord.gossip", "why=\"%s\"", err);
    http_opts_t ho = {
        .token = cfg_str(c.cfg, "http", "token"),
        .max_body = (size_t)cfg_int(c.cfg, "http", "max_body_bytes"),
        .header_timeout_s = (unsigned)cfg_int(c.cfg, "http", "header_timeout_s"),
        .idle_timeout_s = (unsigned)cfg_int(c.cfg, "http", "idle_timeout_s"),
        .max_per_ip = (unsigned)cfg_int(c.cfg, "http", "max_connections_per_ip"),
    };
    c.http = http_new_opts(c.loop, c.zctx, cfg_str(c.cfg, "http", "bind"), &ho, api_handle, &c, err,
                           sizeof err);
    if (!c.http)
        fatal("coord.http", "why=\"%s\"", err);
    if (coord_commit_attach(&c) != 0)
        fatal("coord.store", "why=\"cannot watch the store's commits\"");
    coord_ckpt_issue(&c, 1);
    c.commit_timer = loop_timer_add(c.loop, (uint64_t)cfg_int(c.cfg, "store", "commit_interval_ms"),
                                    on_commit_timer, &c);
    loop_timer_add(c.loop, DISPATCH_TICK_MS, on_dispatch_tick, &c);
    loop_timer_add(c.loop, SAMPLE_TICK_MS, on_sample_tick, &c);
    loop_timer_add(c.loop, SCALE_TICK_MS, on_scale_tick, &c);
    loop_timer_add(c.loop, LIVE_TICK_MS, on_live_tick, &c);
    char idhex[2 * CRYPTO_ID_LEN + 1];
    crypto_hex(c.id.id, CRYPTO_ID_LEN, idhex);
    uint64_t head = 0;
    store_head(c.store, &head, NULL);
    log_info("coord.start",
             "name=%s id=%s key=%s pinned=%d work=%s http=%s populations=%d records=%llu pid=%d",
             c.name, idhex, c.fingerprint, c.pinned, c.work_endpoint,
             cfg_str(c.cfg, "http", "bind"), c.npops, (unsigned long long)head, (int)getpid());

    loop_run(c.loop);

    /* clean stop: record what arrived, save every population, leave */
    c.stopping = 1;
    vjob_stop(&c);
    xjob_stop(&c);
    coord_save_all(&c);
    loop_fd_del(c.loop, store_event_fd(c.store));
    gossip_leave(c.gossip, 1000);
    http_destroy(&c.http);
    gossip_destroy(&c.gossip);
    work_destroy(&c.work);
    for (size_t i = 0; i < c.nreissue; i++)
        work_item_clear(&c.reissue[i]);
    free(c.reissue);
    for (size_t i = 0; i < c.npending; i++)
        free(c.pending[i].src);
    free(c.pending);
    coord_commit_free(&c);
    for (int i = 0; i < c.npops; i++)
        pop_destroy(&c.pops[i]);
    for (int i = 0; i < c.nlive; i++)
        live_pop_destroy(&c.live[i]);
    store_close(&c.store);
    loop_destroy(&c.loop);
    zmq_ctx_term(c.zctx);
    keyring_destroy(&c.kr);
    identity_wipe(&c.id);
    log_info("coord.stopped", "recorded=%llu", (unsigned long long)c.recorded);
    cfg_destroy(&c.cfg);
    return 0;
}

/* api_mut.h: a result no agent produced (an external mutator's failed
 * answer) takes the agents' path: recorded once, counted, fed to the deme. */
void coord_local_result(coord_t *c, work_item_t *it, const work_result_t *r)
{
    on_result(c, it, r);
}
