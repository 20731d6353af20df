/* live.c - live populations on the coordinator (live_pop.h): placement,
 * starting, evolution by upgrades, moves, the operator's actions. The
 * agents' events are in live_event.c, persistence in live_store.c, the
 * config's parsing in live_pop.c, the HTTP side in live_api.c. */
#include "live_pop.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest.h"
#include "coord.h"
#include "err.h"
#include "live_pop_int.h"
#include "log.h"
#include "placement.h"
#include "util.h"
#include "wire_live.h"
#include "work.h"

#define LIVE_MAX_FAILS 5 /* starts that failed before an individual is given up */

uint64_t lv_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- lookup ---- */

live_pop_t *live_find(coord_t *c, const char *name)
{
    for (int i = 0; i < c->nlive; i++)
        if (strcmp(c->live[i]->name, name) == 0)
            return c->live[i];
    return NULL;
}

pop_t *live_replay_pop(coord_t *c, const char *name)
{
    pop_t *p = coord_find_pop(c, name);
    live_pop_t *lp = p ? NULL : live_find(c, name);
    return p ? p : lp ? lp->shell : NULL;
}

live_version_t *lv_ver_add(live_ind_t *d)
{
    live_version_t *v = &d->versions[d->vpos];
    d->vpos = (d->vpos + 1) % LIVE_VERSIONS_KEPT;
    if (d->nversions < LIVE_VERSIONS_KEPT)
        d->nversions++;
    memset(v, 0, sizeof *v);
    v->parent_score = v->child_score = NAN;
    return v;
}

live_version_t *lv_ver_by_upgrade(live_ind_t *d, uint64_t upgrade_id)
{
    for (int k = 0; k < d->nversions; k++) {
        int i = (d->vpos - 1 - k + 2 * LIVE_VERSIONS_KEPT) % LIVE_VERSIONS_KEPT;
        if (d->versions[i].upgrade_id == upgrade_id)
            return &d->versions[i];
    }
    return NULL;
}

live_version_t *lv_ver_by_number(live_ind_t *d, uint32_t version)
{
    for (int k = 0; k < d->nversions; k++) {
        int i = (d->vpos - 1 - k + 2 * LIVE_VERSIONS_KEPT) % LIVE_VERSIONS_KEPT;
        if (d->versions[i].version == version && d->versions[i].has_hash)
            return &d->versions[i];
    }
    return NULL;
}

/* ---- frames to agents ---- */

static void put_head(wire_buf_t *b, const live_pop_t *p, int i, uint8_t cmd)
{
    wire_begin(b, WIRE_WORK_LIVE, 0, NULL);
    wire_put_str(b, p->name);
    wire_put_u32(b, (uint32_t)i);
    wire_put_u64(b, p->ind[i].incarnation);
    wire_put_u8(b, cmd);
}

static int send_start(coord_t *c, live_pop_t *p, int i)
{
    live_ind_t *d = &p->ind[i];
    wire_buf_t b;
    wire_buf_init(&b);
    put_head(&b, p, i, WIRE_LIVE_CMD_START);
    wire_put_bytes(&b, p->live_spec, p->live_spec_len);
    wire_put_bytes(&b, p->trace, p->trace_len);
    wire_put_bytes(&b, p->breed_spec.data, p->breed_spec.len);
    wire_put_u8(&b, (uint8_t)p->language);
    wire_put_bytes(&b, d->good_src, d->good_len);
    wire_put_u32(&b, d->version);
    wire_put_bytes(&b, d->snap ? d->snap : (const uint8_t *)"", d->snap_len);
    wire_put_u32(&b, d->next_version);
    int rc = wire_end(&b);
    if (rc == 0)
        rc = work_send_frame(c->work, d->agent, &b);
    wire_buf_free(&b);
    return rc;
}

int lv_send_stop(coord_t *c, const live_pop_t *p, int i, const uint8_t agent[CRYPTO_ID_LEN],
                 uint64_t incarnation)
{
    if (!c->work)
        return ERR_STATE; /* no work channel (tests, tools) */
    wire_buf_t b;
    wire_buf_init(&b);
    wire_begin(&b, WIRE_WORK_LIVE, 0, NULL);
    wire_put_str(&b, p->name);
    wire_put_u32(&b, (uint32_t)i);
    wire_put_u64(&b, incarnation);
    wire_put_u8(&b, WIRE_LIVE_CMD_STOP);
    int rc = wire_end(&b);
    if (rc == 0)
        rc = work_send_frame(c->work, agent, &b);
    wire_buf_free(&b);
    return rc;
}

/* Sends an upgrade. op: a built-in operator (parents given: the agent
 * breeds) or "external"/"pin" (src given). */
static int send_upgrade(coord_t *c, live_pop_t *p, int i, uint64_t upgrade_id, const char *op,
                        uint64_t seed, const char *const *parents, const size_t *plen, int np,
                        const char *src, size_t len, int judge)
{
    live_ind_t *d = &p->ind[i];
    wire_buf_t b;
    wire_buf_init(&b);
    put_head(&b, p, i, WIRE_LIVE_CMD_UPGRADE);
    wire_put_u64(&b, upgrade_id);
    wire_put_str(&b, op);
    wire_put_u64(&b, seed);
    wire_put_u32(&b, (uint32_t)np);
    for (int k = 0; k < np; k++)
        wire_put_bytes(&b, parents[k], plen[k]);
    wire_put_bytes(&b, src ? src : "", src ? len : 0);
    wire_put_u32(&b, 0);
    wire_put_u8(&b, (uint8_t)(judge != 0));
    int rc = wire_end(&b);
    if (rc == 0)
        rc = work_send_frame(c->work, d->agent, &b);
    wire_buf_free(&b);
    return rc;
}

/* ---- placement ---- */

typedef struct hosts {
    place_node_t nodes[COORD_MAX_AGENTS];
    const work_agent_t *agents[COORD_MAX_AGENTS];
    int n;
} hosts_t;

static void hosts_get(coord_t *c, hosts_t *h)
{
    h->n = 0;
    for (int i = 0; i < work_agent_count(c->work) && h->n < COORD_MAX_AGENTS; i++) {
        const work_agent_t *a = work_agent_at(c->work, i);
        if (a->gone || a->drained || !a->session || !a->last_hello_ms)
            continue;
        memcpy(h->nodes[h->n].id, a->id, PLACE_ID_LEN);
        h->nodes[h->n].weight = a->vms_total ? a->vms_total : 1;
        h->agents[h->n++] = a;
    }
}

/* The upgrade in flight will get no outcome: its version says so. */
void lv_lose_inflight(live_ind_t *d, const char *why)
{
    live_version_t *v = d->inflight ? lv_ver_by_upgrade(d, d->inflight) : NULL;
    if (v && (v->outcome == LO_PENDING || v->outcome == LO_PROBATION)) {
        v->outcome = LO_LOST;
        util_strlcpy(v->reason, why, sizeof v->reason);
    }
    d->inflight = 0;
}

/* Starts individual i on its rendezvous owner among the hosts. */
static void place(coord_t *c, live_pop_t *p, int i, const hosts_t *h, uint64_t now)
{
    live_ind_t *d = &p->ind[i];
    if (h->n == 0)
        return;
    char key[96];
    size_t kl = place_deme_key(p->name, (uint32_t)i, key, sizeof key);
    int o = place_pick(h->nodes, h->n, key, kl);
    if (o < 0)
        return;
    memcpy(d->agent, h->agents[o]->id, CRYPTO_ID_LEN);
    util_strlcpy(d->agent_name, h->agents[o]->name, sizeof d->agent_name);
    d->placed = 1;
    d->incarnation++;
    lv_lose_inflight(d, "lost with its agent"); /* invariant 4 */
    d->on_probation = 0;
    d->sent_ms = now;
    d->state = LI_STARTING;
    lv_save_ind(c, p, i); /* the incarnation: never given out twice */
    int rc = send_start(c, p, i);
    log_info("live.start", "population=%s individual=%d agent=%s version=%u incarnation=%llu%s",
             p->name, i, d->agent_name, d->version, (unsigned long long)d->incarnation,
             rc ? " sent=no" : "");
    if (rc)
        d->state = LI_UNPLACED;
}

void lv_unplace(live_ind_t *d, const char *why)
{
    d->placed = 0;
    d->state = LI_UNPLACED;
    lv_lose_inflight(d, why);
    d->on_probation = 0;
    util_strlcpy(d->reason, why, sizeof d->reason);
}

void live_agent_gone(coord_t *c, const uint8_t id[CRYPTO_ID_LEN])
{
    for (int k = 0; k < c->nlive; k++) {
        live_pop_t *p = c->live[k];
        for (int i = 0; i < p->n; i++) {
            live_ind_t *d = &p->ind[i];
            if (d->placed && memcmp(d->agent, id, CRYPTO_ID_LEN) == 0 &&
                (d->state == LI_STARTING || d->state == LI_RUNNING)) {
                log_warn("live.move",
                         "population=%s individual=%d from=%s version=%u "
                         "msg=\"its agent is gone: restarting it at its last promoted version\"",
                         p->name, i, d->agent_name, d->version);
                lv_unplace(d, "agent gone");
            }
        }
    }
    live_tick(c);
}

/* ---- evolution ---- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int pick_op(live_pop_t *p)
{
    double u = (double)(rng_next(&p->rng) >> 11) / 9007199254740992.0, acc = 0;
    int last = 0;
    for (int k = 0; k < POP_OPS; k++) {
        if (p->rates[k] <= 0)
            continue;
        last = k;
        acc += p->rates[k];
        if (u < acc)
            return k;
    }
    return last;
}

/* Reserves upgrade ids in blocks: the persisted mark is always ahead. */
static int next_upgrade_id(coord_t *c, live_pop_t *p, int i, uint64_t *out)
{
    live_ind_t *d = &p->ind[i];
    if (d->next_upgrade % LIVE_RESERVE == 0) {
        int rc = lv_save_ind(c, p, i);
        if (rc)
            return rc;
    }
    *out = d->next_upgrade++;
    return 0;
}

static void evolve(coord_t *c, live_pop_t *p, int i, uint64_t now)
{
    live_ind_t *d = &p->ind[i];
    if (!p->running || d->state != LI_RUNNING || d->inflight || d->q_src || d->pinned ||
        p->upgrade_every_ms == 0 || now - d->settled_ms < p->upgrade_every_ms ||
        (p->max_upgrades && p->upgrades >= p->max_upgrades))
        return;
    uint64_t uid;
    if (next_upgrade_id(c, p, i, &uid) != 0)
        return;
    const char *op = ops_names[pick_op(p)];
    const char *par[2] = {d->good_src, d->good_src};
    size_t plen[2] = {d->good_len, d->good_len};
    int np = 1;
    if (ops_parents(op) == 2) {
        np = 2;
        if (p->n > 1) { /* the donor: another individual's promoted version */
            int j = (int)(rng_next(&p->rng) % (uint64_t)(p->n - 1));
            j += j >= i;
            par[1] = p->ind[j].good_src;
            plen[1] = p->ind[j].good_len;
        }
    }
    uint64_t seed = pop_derive_seed(p->name, (uint32_t)i, uid);
    if (send_upgrade(c, p, i, uid, op, seed, par, plen, np, NULL, 0, 1) != 0)
        return;
    d->inflight = uid;
    d->sent_ms = now;
    p->upgrades++;
    live_version_t *v = lv_ver_add(d);
    v->upgrade_id = uid;
    v->parent = d->version;
    util_strlcpy(v->op, op, sizeof v->op);
    v->outcome = LO_PENDING;
    v->at_ms = lv_wall_ms();
    if (np == 2) {
        crypto_hash(par[1], plen[1], v->donor);
        v->has_donor = 1;
    }
}

static void send_queued(coord_t *c, live_pop_t *p, int i);

void live_tick(coord_t *c)
{
    if (!c->work)
        return;
    hosts_t h;
    hosts_get(c, &h);
    uint64_t now = loop_now(c->loop);
    for (int k = 0; k < c->nlive; k++) {
        live_pop_t *p = c->live[k];
        if (!p->running)
            continue;
        for (int i = 0; i < p->n; i++) {
            live_ind_t *d = &p->ind[i];
            if (d->state == LI_STARTING && now - d->sent_ms > LIVE_START_TIMEOUT_MS) {
                log_warn("live.start_timeout", "population=%s individual=%d agent=%s", p->name, i,
                         d->agent_name);
                lv_send_stop(c, p, i, d->agent, d->incarnation);
                lv_unplace(d, "no answer to start");
                d->fails++;
            }
            if (d->state == LI_RUNNING && d->inflight &&
                now - d->sent_ms > LIVE_UPGRADE_TIMEOUT_MS) {
                log_warn("live.upgrade_timeout",
                         "population=%s individual=%d upgrade=%llu msg=\"no outcome; "
                         "going on\"",
                         p->name, i, (unsigned long long)d->inflight);
                lv_lose_inflight(d, "no outcome in time");
            }
            if (d->state == LI_UNPLACED && d->fails >= LIVE_MAX_FAILS) {
                d->state = LI_FAILED;
                log_error("live.given_up", "population=%s individual=%d starts=%d why=\"%s\"",
                          p->name, i, d->fails, d->reason);
            }
            if (d->state == LI_UNPLACED)
                place(c, p, i, &h, now);
            send_queued(c, p, i);
            evolve(c, p, i, now);
        }
    }
}

/* ---- operator actions ---- */

int live_add(coord_t *c, live_pop_t *p)
{
    if (live_find(c, p->name) || coord_find_pop(c, p->name))
        return ERR_EXISTS;
    if (c->nlive >= LIVE_MAX_POPS)
        return ERR_LIMIT;
    p->running = 1;
    for (int i = 0; i < p->n; i++) {
        live_ind_t *d = &p->ind[i];
        int rc = lv_set_good(d, p->genome, p->genome_len, NULL, 0);
        if (rc)
            return rc;
        d->version = 1;
        d->next_version = 2;
        d->next_upgrade = 1;
        live_version_t *v = lv_ver_add(d);
        v->version = 1;
        memcpy(v->hash, d->good_hash, CRYPTO_HASH_LEN);
        v->has_hash = 1;
        util_strlcpy(v->op, "start", sizeof v->op);
        v->outcome = LO_PENDING;
        v->at_ms = lv_wall_ms();
    }
    int rc = lv_save_pop(c, p);
    for (int i = 0; rc == 0 && i < p->n; i++)
        rc = lv_save_ind(c, p, i);
    if (rc)
        return rc;
    c->live[c->nlive++] = p;
    log_info("live.created", "population=%s individuals=%d upgrade_every_ms=%u", p->name, p->n,
             p->upgrade_every_ms);
    live_tick(c);
    return 0;
}

int live_stop(coord_t *c, live_pop_t *p)
{
    if (!p->running)
        return 0;
    p->running = 0;
    for (int i = 0; i < p->n; i++) {
        live_ind_t *d = &p->ind[i];
        if (d->placed)
            lv_send_stop(c, p, i, d->agent, d->incarnation);
        d->placed = 0;
        d->state = LI_STOPPED;
        lv_lose_inflight(d, "the population stopped");
        if (d->q_src) {
            d->inflight = d->q_uid;
            lv_lose_inflight(d, "the population stopped");
            free(d->q_src);
            d->q_src = NULL;
        }
    }
    log_info("live.stopped", "population=%s", p->name);
    return lv_save_pop(c, p);
}

int live_unpin(live_pop_t *p, int index)
{
    if (index < 0 || index >= p->n)
        return ERR_NOTFOUND;
    p->ind[index].pinned = 0;
    return 0;
}

/* Sends the child queued for individual i when nothing is in flight. */
static void send_queued(coord_t *c, live_pop_t *p, int i)
{
    live_ind_t *d = &p->ind[i];
    if (!d->q_src || d->inflight || d->state != LI_RUNNING)
        return;
    live_version_t *v = lv_ver_by_upgrade(d, d->q_uid);
    if (send_upgrade(c, p, i, d->q_uid, v ? v->op : "external", 0, NULL, NULL, 0, d->q_src,
                     d->q_len, d->q_judge) != 0)
        return; /* stays queued: the next tick tries again */
    free(d->up_src);
    d->up_src = d->q_src; /* kept to record the child with (record()) */
    d->up_len = d->q_len;
    d->q_src = NULL;
    d->inflight = d->q_uid;
    d->sent_ms = loop_now(c->loop);
    p->upgrades++;
    if (v) {
        v->parent = d->version;
        v->reason[0] = '\0';
    }
}

/* A child given as source (external, pin): sent at once, or queued behind
 * the upgrade in flight (one child waits at most). */
static int upgrade_with(coord_t *c, live_pop_t *p, int i, const char *op, const char *src,
                        size_t len, const char *mutator, const uint8_t *input_hash, int judge,
                        char *err, size_t errlen, uint64_t *upgrade_id)
{
    live_ind_t *d = &p->ind[i];
    if (!p->running || d->state != LI_RUNNING) {
        snprintf(err, errlen, "individual %d is %s", i, live_state_str(d->state));
        return ERR_STATE;
    }
    if (d->q_src) {
        snprintf(err, errlen,
                 "individual %d has upgrade %llu waiting behind upgrade %llu; try again when "
                 "it is sent",
                 i, (unsigned long long)d->q_uid, (unsigned long long)d->inflight);
        return ERR_STATE;
    }
    char *keep = malloc(len ? len : 1);
    if (!keep) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    memcpy(keep, src, len);
    uint64_t uid;
    int rc = next_upgrade_id(c, p, i, &uid);
    if (rc) {
        free(keep);
        snprintf(err, errlen, "cannot reserve an upgrade id: %s", err_str(rc));
        return rc;
    }
    live_version_t *v = lv_ver_add(d);
    v->upgrade_id = uid;
    v->parent = d->version;
    crypto_hash(src, len, v->hash);
    v->has_hash = 1;
    util_strlcpy(v->op, op, sizeof v->op);
    util_strlcpy(v->mutator, mutator ? mutator : "", sizeof v->mutator);
    if (input_hash)
        memcpy(v->input_hash, input_hash, CRYPTO_HASH_LEN);
    v->outcome = LO_PENDING;
    v->at_ms = lv_wall_ms();
    if (d->inflight)
        snprintf(v->reason, sizeof v->reason, "queued behind upgrade %llu",
                 (unsigned long long)d->inflight);
    d->q_src = keep;
    d->q_len = len;
    d->q_uid = uid;
    d->q_judge = judge;
    send_queued(c, p, i);
    *upgrade_id = uid;
    return 0;
}

int live_pin(coord_t *c, live_pop_t *p, int index, uint32_t version, char *err, size_t errlen)
{
    if (index < 0 || index >= p->n) {
        snprintf(err, errlen, "no individual %d (it has %d)", index, p->n);
        return ERR_NOTFOUND;
    }
    live_ind_t *d = &p->ind[index];
    if (version == 0 || version == d->version) {
        d->pinned = d->version;
        return lv_save_ind(c, p, index);
    }
    live_version_t *v = lv_ver_by_number(d, version);
    char *src = NULL;
    size_t len = 0;
    if (!v || store_get_genome(c->store, v->hash, &src, &len) != 0) {
        snprintf(err, errlen, "individual %d has no version %u on record", index, version);
        return ERR_NOTFOUND;
    }
    uint64_t uid;
    int rc = upgrade_with(c, p, index, "pin", src, len, NULL, NULL, 0, err, errlen, &uid);
    free(src);
    if (rc == 0) {
        live_version_t *nv = lv_ver_by_upgrade(d, uid);
        if (nv)
            snprintf(nv->reason, sizeof nv->reason, "the code of version %u", version);
        d->pinned = version; /* the new version's number once it runs (promoted) */
        rc = lv_save_ind(c, p, index);
    }
    return rc;
}

int live_upgrade_external(coord_t *c, live_pop_t *p, int index, const char *src, size_t len,
                          const char *mutator, const uint8_t *input_hash, char *err, size_t errlen,
                          uint64_t *upgrade_id)
{
    if (index < 0 || index >= p->n) {
        snprintf(err, errlen, "no individual %d (it has %d)", index, p->n);
        return ERR_NOTFOUND;
    }
    return upgrade_with(c, p, index, "external", src, len, mutator, input_hash, 1, err, errlen,
                        upgrade_id);
}

const char *live_outcome_str(int outcome)
{
    static const char *const s[] = {"pending",  "probation", "running", "promoted",
                                    "rollback", "refused",   "lost"};
    return outcome >= 0 && outcome <= LO_LOST ? s[outcome] : "unknown";
}

const char *live_state_str(int state)
{
    static const char *const s[] = {"unplaced", "starting", "running", "stopped", "failed"};
    return state >= 0 && state <= LI_FAILED ? s[state] : "unknown";
}
