/* live.c - live populations on the coordinator (live_pop.h): placement,
 * starting, evolution by upgrades, the agents' events and status, moves,
 * persistence. The config's parsing is in live_pop.c, the HTTP side in
 * live_api.c. */
#include "live_pop.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest.h"
#include "coord.h"
#include "err.h"
#include "log.h"
#include "placement.h"
#include "util.h"
#include "wire_live.h"
#include "work.h"

#define LIVE_PREFIX "live/"
#define LIVE_MAX_FAILS 5    /* starts that failed before an individual is given up */
#define LIVE_RESERVE 32     /* upgrade ids reserved per persisted state */
#define IND_STATE_VERSION 1 /* the layout of a persisted individual */

static uint64_t wall_ms(void)
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

static live_version_t *ver_add(live_ind_t *d)
{
    live_version_t *v = &d->versions[d->vpos];
    d->vpos = (d->vpos + 1) % LIVE_VERSIONS_KEPT;
    if (d->nversions < LIVE_VERSIONS_KEPT)
        d->nversions++;
    memset(v, 0, sizeof *v);
    v->parent_score = v->child_score = NAN;
    return v;
}

static live_version_t *ver_by_upgrade(live_ind_t *d, uint64_t upgrade_id)
{
    for (int k = 0; k < d->nversions; k++) {
        int i = (d->vpos - 1 - k + 2 * LIVE_VERSIONS_KEPT) % LIVE_VERSIONS_KEPT;
        if (d->versions[i].upgrade_id == upgrade_id)
            return &d->versions[i];
    }
    return NULL;
}

static live_version_t *ver_by_number(live_ind_t *d, uint32_t version)
{
    for (int k = 0; k < d->nversions; k++) {
        int i = (d->vpos - 1 - k + 2 * LIVE_VERSIONS_KEPT) % LIVE_VERSIONS_KEPT;
        if (d->versions[i].version == version && d->versions[i].has_hash)
            return &d->versions[i];
    }
    return NULL;
}

/* ---- persistence: "live/NAME" the config and counters, "live/NAME/I" an
 * individual: layout:u8 (1) version:u32 next_version:u32 next_upgrade:u64
 * (reserved) pinned:u32 incarnation:u64 (the last placement's: a restarted
 * coordinator goes on from it) good_hash:32 good_src:bytes snapshot:bytes ---- */

static int save_pop(coord_t *c, live_pop_t *p)
{
    json_t *o =
        json_pack("{s:O, s:b, s:I, s:I, s:I, s:I}", "config", p->config, "running", p->running,
                  "upgrades", (json_int_t)p->upgrades, "promoted", (json_int_t)p->promoted,
                  "rolled_back", (json_int_t)p->rolled_back, "refused", (json_int_t)p->refused);
    char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!txt)
        return -ENOMEM;
    char key[STORE_META_KEY_MAX];
    snprintf(key, sizeof key, LIVE_PREFIX "%s", p->name);
    int rc = store_meta_put(c->store, key, txt, strlen(txt));
    free(txt);
    return rc;
}

static int save_ind(coord_t *c, live_pop_t *p, int i)
{
    live_ind_t *d = &p->ind[i];
    wire_buf_t b;
    wire_buf_init(&b);
    wire_put_u8(&b, IND_STATE_VERSION);
    wire_put_u32(&b, d->version);
    wire_put_u32(&b, d->next_version);
    wire_put_u64(&b, d->next_upgrade + LIVE_RESERVE);
    wire_put_u32(&b, d->pinned);
    wire_put_u64(&b, d->incarnation);
    wire_put_raw(&b, d->good_hash, CRYPTO_HASH_LEN);
    wire_put_bytes(&b, d->good_src, d->good_len);
    wire_put_bytes(&b, d->snap ? d->snap : (const uint8_t *)"", d->snap_len);
    char key[STORE_META_KEY_MAX];
    snprintf(key, sizeof key, LIVE_PREFIX "%s/%d", p->name, i);
    int rc = b.err ? b.err : store_meta_put(c->store, key, b.data, b.len);
    wire_buf_free(&b);
    if (rc) {
        char q[128];
        log_error("live.save_failed", "population=%s individual=%d why=%s", p->name, i,
                  log_quote(err_str(rc), q, sizeof q));
    }
    return rc;
}

static int set_good(live_ind_t *d, const char *src, size_t len, const uint8_t *snap,
                    size_t snap_len)
{
    char *s = malloc(len ? len : 1);
    uint8_t *n = snap_len ? malloc(snap_len) : NULL;
    if (!s || (snap_len && !n)) {
        free(s);
        free(n);
        return -ENOMEM;
    }
    memcpy(s, src, len);
    if (snap_len)
        memcpy(n, snap, snap_len);
    free(d->good_src);
    free(d->snap);
    d->good_src = s;
    d->good_len = len;
    d->snap = n;
    d->snap_len = snap_len;
    crypto_hash(s, len, d->good_hash);
    return 0;
}

static int load_ind(coord_t *c, live_pop_t *p, int i)
{
    char key[STORE_META_KEY_MAX];
    snprintf(key, sizeof key, LIVE_PREFIX "%s/%d", p->name, i);
    void *val = NULL;
    size_t len = 0;
    if (store_meta_get(c->store, key, &val, &len) != 0)
        return ERR_NOTFOUND;
    live_ind_t *d = &p->ind[i];
    wire_rd_t r;
    wire_rd_init(&r, val, len);
    uint8_t ver = 0;
    const uint8_t *src = NULL, *snap = NULL;
    uint32_t slen = 0, snlen = 0;
    wire_get_u8(&r, &ver);
    wire_get_u32(&r, &d->version);
    wire_get_u32(&r, &d->next_version);
    wire_get_u64(&r, &d->next_upgrade);
    wire_get_u32(&r, &d->pinned);
    wire_get_u64(&r, &d->incarnation);
    uint8_t h[CRYPTO_HASH_LEN];
    wire_get_raw(&r, h, CRYPTO_HASH_LEN);
    wire_get_bytes(&r, &src, &slen, STORE_GENOME_MAX);
    wire_get_bytes(&r, &snap, &snlen, WIRE_LIVE_SNAPSHOT_MAX);
    int rc = r.err || r.left || ver != IND_STATE_VERSION ? ERR_PROTO : 0;
    if (rc == 0)
        rc = set_good(d, (const char *)src, slen, snap, snlen);
    if (rc == 0 && memcmp(h, d->good_hash, CRYPTO_HASH_LEN) != 0)
        rc = ERR_PROTO;
    free(val);
    return rc;
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

static int send_stop(coord_t *c, const live_pop_t *p, int i, const uint8_t agent[CRYPTO_ID_LEN],
                     uint64_t incarnation)
{
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
static void lose_inflight(live_ind_t *d, const char *why)
{
    live_version_t *v = d->inflight ? ver_by_upgrade(d, d->inflight) : NULL;
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
    lose_inflight(d, "lost with its agent"); /* invariant 4 */
    d->on_probation = 0;
    d->sent_ms = now;
    d->state = LI_STARTING;
    save_ind(c, p, i); /* the incarnation: never given out twice */
    int rc = send_start(c, p, i);
    log_info("live.start", "population=%s individual=%d agent=%s version=%u incarnation=%llu%s",
             p->name, i, d->agent_name, d->version, (unsigned long long)d->incarnation,
             rc ? " sent=no" : "");
    if (rc)
        d->state = LI_UNPLACED;
}

static void unplace(live_ind_t *d, const char *why)
{
    d->placed = 0;
    d->state = LI_UNPLACED;
    lose_inflight(d, why);
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
                unplace(d, "agent gone");
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
        int rc = save_ind(c, p, i);
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
    live_version_t *v = ver_add(d);
    v->upgrade_id = uid;
    v->parent = d->version;
    util_strlcpy(v->op, op, sizeof v->op);
    v->outcome = LO_PENDING;
    v->at_ms = wall_ms();
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
                send_stop(c, p, i, d->agent, d->incarnation);
                unplace(d, "no answer to start");
                d->fails++;
            }
            if (d->state == LI_RUNNING && d->inflight &&
                now - d->sent_ms > LIVE_UPGRADE_TIMEOUT_MS) {
                log_warn("live.upgrade_timeout",
                         "population=%s individual=%d upgrade=%llu msg=\"no outcome; "
                         "going on\"",
                         p->name, i, (unsigned long long)d->inflight);
                lose_inflight(d, "no outcome in time");
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
        int rc = set_good(d, p->genome, p->genome_len, NULL, 0);
        if (rc)
            return rc;
        d->version = 1;
        d->next_version = 2;
        d->next_upgrade = 1;
        live_version_t *v = ver_add(d);
        v->version = 1;
        memcpy(v->hash, d->good_hash, CRYPTO_HASH_LEN);
        v->has_hash = 1;
        util_strlcpy(v->op, "start", sizeof v->op);
        v->outcome = LO_PENDING;
        v->at_ms = wall_ms();
    }
    int rc = save_pop(c, p);
    for (int i = 0; rc == 0 && i < p->n; i++)
        rc = save_ind(c, p, i);
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
            send_stop(c, p, i, d->agent, d->incarnation);
        d->placed = 0;
        d->state = LI_STOPPED;
        lose_inflight(d, "the population stopped");
        if (d->q_src) {
            d->inflight = d->q_uid;
            lose_inflight(d, "the population stopped");
            free(d->q_src);
            d->q_src = NULL;
        }
    }
    log_info("live.stopped", "population=%s", p->name);
    return save_pop(c, p);
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
    live_version_t *v = ver_by_upgrade(d, d->q_uid);
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
    live_version_t *v = ver_add(d);
    v->upgrade_id = uid;
    v->parent = d->version;
    crypto_hash(src, len, v->hash);
    v->has_hash = 1;
    util_strlcpy(v->op, op, sizeof v->op);
    util_strlcpy(v->mutator, mutator ? mutator : "", sizeof v->mutator);
    if (input_hash)
        memcpy(v->input_hash, input_hash, CRYPTO_HASH_LEN);
    v->outcome = LO_PENDING;
    v->at_ms = wall_ms();
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
        return save_ind(c, p, index);
    }
    live_version_t *v = ver_by_number(d, version);
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
        live_version_t *nv = ver_by_upgrade(d, uid);
        if (nv)
            snprintf(nv->reason, sizeof nv->reason, "the code of version %u", version);
        d->pinned = version; /* the new version's number once it runs (promoted) */
        rc = save_ind(c, p, index);
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

/* ---- from the agents ---- */

static int event_sig_ok(const work_agent_t *a, const live_event_t *e)
{
    attest_live_t x = {.kind = e->kind,
                       .status = (uint8_t)wire_live_status(e->kind),
                       .version = e->version,
                       .parent_score = e->parent_score,
                       .child_score = e->child_score,
                       .probation = e->probation};
    memcpy(x.parent_hash, e->parent_hash, CRYPTO_HASH_LEN);
    memcpy(x.state_before, e->state_before, CRYPTO_HASH_LEN);
    memcpy(x.state_after, e->state_after, CRYPTO_HASH_LEN);
    attest_reason_hash(e->reason, strlen(e->reason), x.reason_hash);
    return attest_verify_live(a->pk, e->pop, e->ind, e->upgrade_id, e->child_hash, &x, e->sig) == 0;
}

/* Queues the event's lineage record (version 3). */
static void record(coord_t *c, const live_pop_t *p, const live_version_t *v, const work_agent_t *a,
                   const live_event_t *e)
{
    uint64_t seq;
    if (store_has_key(c->store, p->name, e->ind, e->upgrade_id, &seq) == 0)
        return; /* recorded already (invariant 2) */
    store_item_t si;
    memset(&si, 0, sizeof si);
    si.population = p->name;
    si.deme = e->ind;
    si.dseq = e->upgrade_id;
    memcpy(si.child_hash, e->child_hash, CRYPTO_HASH_LEN);
    static const uint8_t zero[CRYPTO_HASH_LEN];
    if (memcmp(e->parent_hash, zero, CRYPTO_HASH_LEN) != 0) {
        si.nparents = 1;
        memcpy(si.parents[0], e->parent_hash, CRYPTO_HASH_LEN);
    }
    if (v && v->has_donor && si.nparents == 1) { /* covered by coord_sig, not agent_sig */
        si.nparents = 2;
        memcpy(si.parents[1], v->donor, CRYPTO_HASH_LEN);
    }
    const char *op = v && v->op[0] ? v->op : e->kind == WIRE_LIVE_STARTED ? "start" : e->op;
    if (!store_op_valid(op))
        op = "external";
    si.op = op;
    si.seed = e->seed;
    si.status = (uint8_t)wire_live_status(e->kind);
    si.fitness = e->child_score;
    memcpy(si.agent_id, a->id, CRYPTO_ID_LEN);
    memcpy(si.agent_pk, a->pk, CRYPTO_PK_LEN);
    memcpy(si.agent_sig, e->sig, CRYPTO_SIG_LEN);
    si.version = 3;
    si.cost = 0;
    if (strcmp(op, "external") == 0) {
        util_strlcpy(si.mutator, v && v->mutator[0] ? v->mutator : "unknown", sizeof si.mutator);
        if (v)
            memcpy(si.input_hash, v->input_hash, CRYPTO_HASH_LEN);
    }
    si.live.kind = e->kind;
    si.live.version = e->version;
    memcpy(si.live.state_before, e->state_before, CRYPTO_HASH_LEN);
    memcpy(si.live.state_after, e->state_after, CRYPTO_HASH_LEN);
    si.live.parent_score = e->parent_score;
    si.live.probation = e->probation;
    util_strlcpy(si.live.reason, e->reason, sizeof si.live.reason);
    /* the child's source: the agent's when it bred it, else ours */
    char *mine = NULL;
    size_t mlen = 0;
    if (e->src_len) {
        si.src = (const char *)e->src;
        si.src_len = e->src_len;
    } else {
        const live_ind_t *d = &p->ind[e->ind];
        uint8_t h[CRYPTO_HASH_LEN];
        if (d->up_src && (crypto_hash(d->up_src, d->up_len, h),
                          memcmp(h, e->child_hash, CRYPTO_HASH_LEN) == 0)) {
            si.src = d->up_src;
            si.src_len = d->up_len;
        } else if (memcmp(d->good_hash, e->child_hash, CRYPTO_HASH_LEN) == 0) {
            si.src = d->good_src;
            si.src_len = d->good_len;
        } else if (store_get_genome(c->store, e->child_hash, &mine, &mlen) == 0) {
            si.src = mine;
            si.src_len = mlen;
        } else {
            /* nothing to record it with (a child that was never bred) */
            log_info("live.not_recorded",
                     "population=%s individual=%u upgrade=%llu event=%s "
                     "msg=\"no source for the child\"",
                     p->name, e->ind, (unsigned long long)e->upgrade_id,
                     wire_live_event_str(e->kind));
            return;
        }
    }
    int rc = coord_pending_add(c, &si, p->name, op);
    free(mine);
    if (rc) {
        char q[128];
        log_error("live.record_failed", "population=%s individual=%u upgrade=%llu why=%s", p->name,
                  e->ind, (unsigned long long)e->upgrade_id, log_quote(err_str(rc), q, sizeof q));
    }
}

static void settle(live_ind_t *d, live_version_t *v, const live_event_t *e, int outcome,
                   uint64_t now)
{
    if (v) {
        v->outcome = outcome;
        if (e->version && outcome != LO_REFUSED && outcome != LO_ROLLBACK)
            v->version = e->version;
        uint8_t none[CRYPTO_HASH_LEN]; /* a child that was never bred has no source */
        crypto_hash("", 0, none);
        if (memcmp(e->child_hash, none, CRYPTO_HASH_LEN) != 0) {
            memcpy(v->hash, e->child_hash, CRYPTO_HASH_LEN);
            v->has_hash = 1;
        }
        v->parent_score = e->parent_score;
        v->child_score = e->child_score;
        util_strlcpy(v->reason, e->reason, sizeof v->reason);
    }
    if (e->upgrade_id == d->inflight) {
        d->inflight = 0;
        d->settled_ms = now;
    }
}

void live_on_event(coord_t *c, const work_agent_t *a, const uint8_t *payload, size_t len)
{
    live_event_t *e = calloc(1, sizeof *e);
    if (!e)
        return;
    int rc = live_event_read(payload, len, e);
    live_pop_t *p = rc ? NULL : live_find(c, e->pop);
    char q[WIRE_LIVE_REASON_MAX + 8];
    if (rc || !p || e->ind >= (uint32_t)p->n) {
        log_warn("live.event_dropped", "agent=%s why=%s", a->name,
                 rc ? err_str(rc) : "no such live individual");
        free(e);
        return;
    }
    live_ind_t *d = &p->ind[e->ind];
    if (!event_sig_ok(a, e)) {
        log_warn("live.event_bad_sig", "agent=%s population=%s individual=%u", a->name, p->name,
                 e->ind);
        free(e);
        return;
    }
    if (!d->placed || memcmp(d->agent, a->id, CRYPTO_ID_LEN) != 0 ||
        e->incarnation != d->incarnation) {
        /* an older placement (invariant 3): it must not run on */
        if (e->kind != WIRE_LIVE_STOPPED && e->kind != WIRE_LIVE_FAILED)
            send_stop(c, p, (int)e->ind, a->id, e->incarnation);
        free(e);
        return;
    }
    uint64_t now = loop_now(c->loop);
    live_version_t *v = e->upgrade_id ? ver_by_upgrade(d, e->upgrade_id) : NULL;
    log_info("live.event",
             "population=%s individual=%u agent=%s event=%s upgrade=%llu version=%u "
             "reason=%s",
             p->name, e->ind, a->name, wire_live_event_str(e->kind),
             (unsigned long long)e->upgrade_id, e->version, log_quote(e->reason, q, sizeof q));
    switch (e->kind) {
    case WIRE_LIVE_STARTED:
        d->state = LI_RUNNING;
        d->fails = 0;
        d->settled_ms = now;
        d->reason[0] = '\0';
        if (d->version == 1 && d->next_upgrade == 1 && (v = ver_by_number(d, 1)) != NULL &&
            v->outcome == LO_PENDING) {
            v->outcome = LO_RUNNING;
            record(c, p, v, a, e);
        }
        break;
    case WIRE_LIVE_UPGRADE:
        if (v) {
            v->outcome = LO_PROBATION;
            v->version = e->version;
            memcpy(v->hash, e->child_hash, CRYPTO_HASH_LEN);
            v->has_hash = 1;
        }
        d->on_probation = 1;
        break;
    case WIRE_LIVE_PROMOTED:
        settle(d, v, e, LO_PROMOTED, now);
        d->on_probation = 0;
        p->promoted++;
        if (e->src_len || (v && v->has_hash)) {
            char *src = NULL;
            size_t slen = 0;
            uint8_t h[CRYPTO_HASH_LEN];
            if (e->src_len)
                set_good(d, (const char *)e->src, e->src_len, e->snap, e->snap_len);
            else if (d->up_src && (crypto_hash(d->up_src, d->up_len, h),
                                   memcmp(h, e->child_hash, CRYPTO_HASH_LEN) == 0))
                set_good(d, d->up_src, d->up_len, e->snap, e->snap_len);
            else if (store_get_genome(c->store, e->child_hash, &src, &slen) == 0)
                set_good(d, src, slen, e->snap, e->snap_len);
            free(src);
        }
        if (memcmp(d->good_hash, e->child_hash, CRYPTO_HASH_LEN) == 0) {
            d->version = e->version;
            if (d->pinned && v && strcmp(v->op, "pin") == 0)
                d->pinned = e->version; /* pinned is the version that runs */
            if (e->version >= d->next_version)
                d->next_version = e->version + 1;
        }
        record(c, p, v, a, e);
        save_ind(c, p, (int)e->ind);
        break;
    case WIRE_LIVE_ROLLBACK:
        settle(d, v, e, LO_ROLLBACK, now);
        d->on_probation = 0;
        p->rolled_back++;
        if (e->version >= d->next_version)
            d->next_version = e->version + 1;
        record(c, p, v, a, e);
        if (d->pinned && v && strcmp(v->op, "pin") == 0)
            d->pinned = d->version; /* the pin did not take: pinned where it runs */
        break;
    case WIRE_LIVE_REFUSED:
        settle(d, v, e, LO_REFUSED, now);
        p->refused++;
        record(c, p, v, a, e);
        break;
    case WIRE_LIVE_RESTARTED:
        d->on_probation = 0;
        lose_inflight(d, "its VM died during the upgrade; restarted at the last promoted version");
        d->settled_ms = now;
        if (e->snap_len && memcmp(d->good_hash, e->child_hash, CRYPTO_HASH_LEN) == 0)
            set_good(d, d->good_src, d->good_len, e->snap, e->snap_len);
        break;
    case WIRE_LIVE_FAILED:
        d->fails++;
        util_strlcpy(d->reason, e->reason, sizeof d->reason);
        unplace(d, e->reason);
        break;
    case WIRE_LIVE_STOPPED:
        if (p->running)
            unplace(d, "stopped by its agent");
        break;
    default:
        break;
    }
    free(e);
    coord_commit(c);
}

void live_on_status(coord_t *c, const work_agent_t *a, const uint8_t *payload, size_t len)
{
    wire_rd_t r;
    wire_rd_init(&r, payload, len);
    uint32_t n = 0;
    wire_get_count(&r, &n, LIVE_STATUS_MAX, 8);
    uint64_t now_ms = wall_ms();
    for (uint32_t k = 0; k < n && r.err == 0; k++) {
        live_status_t st;
        if (live_status_read(&r, &st) != 0)
            break;
        const char *pop = st.pop;
        uint32_t ind = st.ind, version = st.version;
        uint64_t inc = st.incarnation, req = st.requests, ok = st.correct, wrong = st.wrong,
                 failed = st.failed, p50 = st.p50_us, p99 = st.p99_us, lost = st.lost,
                 twice = st.twice;
        double fit = st.fitness;
        uint8_t prob = st.on_probation;
        live_pop_t *p = live_find(c, pop);
        if (!p || ind >= (uint32_t)p->n)
            continue;
        live_ind_t *d = &p->ind[ind];
        if (!d->placed || memcmp(d->agent, a->id, CRYPTO_ID_LEN) != 0 || inc != d->incarnation)
            continue;
        d->run_version = version;
        d->requests = req;
        d->correct = ok;
        d->wrong = wrong;
        d->failed = failed;
        d->fitness = fit;
        d->p50_us = p50;
        d->p99_us = p99;
        d->lost = lost;
        d->twice = twice;
        d->on_probation = prob != 0;
        live_point_t *pt = &d->series[d->spos];
        d->spos = (d->spos + 1) % LIVE_SERIES;
        if (d->nseries < LIVE_SERIES)
            d->nseries++;
        pt->t_ms = now_ms;
        pt->fitness = fit;
        pt->version = version;
    }
    if (r.err || r.left) {
        log_warn("live.status_dropped", "agent=%s why=%s", a->name,
                 err_str(r.err ? r.err : ERR_PROTO));
    }
}

/* ---- restore ---- */

static int restore_one(void *arg, const char *key, const void *val, size_t len)
{
    coord_t *c = arg;
    if (strchr(key + strlen(LIVE_PREFIX), '/'))
        return 0; /* an individual: read with its population */
    json_error_t je;
    json_t *o = json_loadb(val, len, 0, &je);
    json_t *cfg = o ? json_object_get(o, "config") : NULL;
    char err[512] = "";
    live_pop_t *p = cfg ? live_pop_new(cfg, err, sizeof err) : NULL;
    if (!p) {
        log_error("live.restore_failed", "key=%s why=\"%s\"", key, cfg ? err : "not a live state");
        json_decref(o);
        return 0;
    }
    p->running = json_is_true(json_object_get(o, "running"));
    p->upgrades = (uint64_t)json_integer_value(json_object_get(o, "upgrades"));
    p->promoted = (uint64_t)json_integer_value(json_object_get(o, "promoted"));
    p->rolled_back = (uint64_t)json_integer_value(json_object_get(o, "rolled_back"));
    p->refused = (uint64_t)json_integer_value(json_object_get(o, "refused"));
    json_decref(o);
    for (int i = 0; i < p->n; i++) {
        live_ind_t *d = &p->ind[i];
        if (load_ind(c, p, i) != 0) {
            log_warn("live.restore_individual",
                     "population=%s individual=%d msg=\"no saved "
                     "state; starting from the genome\"",
                     p->name, i);
            set_good(d, p->genome, p->genome_len, NULL, 0);
            d->version = 1;
            d->next_version = 2;
            d->next_upgrade = 1;
        }
        d->state = p->running ? LI_UNPLACED : LI_STOPPED;
        live_version_t *v = ver_add(d);
        v->version = d->version;
        memcpy(v->hash, d->good_hash, CRYPTO_HASH_LEN);
        v->has_hash = 1;
        util_strlcpy(v->op, "start", sizeof v->op);
        v->outcome = LO_RUNNING;
        util_strlcpy(v->reason, "restored", sizeof v->reason);
        v->at_ms = wall_ms();
        /* the reserved mark persisted is ahead of every id used */
    }
    if (c->nlive >= LIVE_MAX_POPS) {
        live_pop_destroy(&p);
        return 0;
    }
    c->live[c->nlive++] = p;
    log_info("live.restored", "population=%s individuals=%d running=%d", p->name, p->n, p->running);
    return 0;
}

void live_restore(coord_t *c)
{
    store_meta_iter(c->store, LIVE_PREFIX, restore_one, c);
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
