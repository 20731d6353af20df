/* swim.c - the membership state machine: member statuses and incarnations,
 * refutation, Lifeguard awareness, events, and the public lifecycle.
 * Probing, dissemination and the packet handlers live in swim_proto.c.
 *
 * Member status, as seen by one node, for member X at local incarnation i:
 *
 *            suspect(j>=i)              timeout (shortened by confirmations)
 *   ALIVE ------------------> SUSPECT ---------------------------------> DEAD
 *     ^  ^                      |  |            dead(j>=i)                 |
 *     |  +------alive(j>i)------+  +------------------------------------->+
 *     |                                                                    |
 *     +---------------- alive(j>i): refuted or re-joined -----------------+
 *   ALIVE/SUSPECT --left(j>=i)--> LEFT --alive(j>i)--> ALIVE
 *
 * Invariants:
 *  1. Only X raises X's incarnation, and only after persist_incarnation() of
 *     the new value returned: a restarted X starts above anything it announced.
 *  2. Precedence at local incarnation i: alive(j) wins iff j > i; suspect(j)
 *     wins over alive iff j >= i; dead/left(j) win over alive/suspect iff
 *     j >= i; only alive(j > i) leaves dead or left.
 *  3. A member that hears suspect/dead about itself at >= its incarnation
 *     refutes: incarnation = max(own, accused) + 1, broadcast alive. A member
 *     that has left never refutes.
 *  4. An ack matches exactly one outstanding sequence number (probe, relay or
 *     re-join ping); anything else is stale and dropped. Sequence numbers
 *     start at a random 64-bit value, so a restarted process never takes its
 *     predecessor's late acks for fresh ones.
 *  5. Each probe phase takes its deadline from `now` when it begins, so a
 *     stalled process gives the indirect probe its full time on wake-up.
 *  6. Dead members are kept, and probed for re-join, for dead_reclaim_ms;
 *     push-pull turns remote "dead" into local "suspect", so two halves of a
 *     healed partition refute each other's verdicts instead of dying.
 *  7. Member lookups are O(1); a packet costs O(updates it carries), except
 *     push-pull, which is O(members) by design.
 *  8. A packet is validated whole before any of it is applied; malformed
 *     input is counted and dropped, never asserted on.
 *  9. (petri, with Lifeguard on) Two and one probe intervals before a
 *     suspicion times out, the suspect gets a last full probe (direct with the
 *     accusation attached, plus indirect): an answer restarts the
 *     suspicion, silence lets it time out as planned, so a dead member is
 *     declared no later. Acks to an accused member's ping carry its current
 *     record and forwarded indirect acks the helper's record of the target,
 *     so the check delivers the refutation an observer had missed.
 */
#include "swim_int.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static const uint8_t zero_id[SWIM_ID_LEN];

const char *swim_status_str(int status)
{
    static const char *const names[] = {"alive", "suspect", "dead", "left"};
    return status >= 0 && status <= SWIM_LEFT ? names[status] : "?";
}

const char *swim_event_str(int type)
{
    static const char *const names[] = {"join", "alive", "suspect", "dead", "left", "update"};
    return type >= 0 && type <= SWIM_EV_UPDATE ? names[type] : "?";
}

void swim_config_default(swim_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->probe_interval_ms = SWIM_DEF_PROBE_INTERVAL_MS;
    c->probe_timeout_ms = SWIM_DEF_PROBE_TIMEOUT_MS;
    c->indirect_checks = SWIM_DEF_INDIRECT_CHECKS;
    c->suspicion_mult = SWIM_DEF_SUSPICION_MULT;
    c->suspicion_max_mult = SWIM_DEF_SUSPICION_MAX_MULT;
    c->retransmit_mult = SWIM_DEF_RETRANSMIT_MULT;
    c->gossip_interval_ms = SWIM_DEF_GOSSIP_INTERVAL_MS;
    c->gossip_nodes = SWIM_DEF_GOSSIP_NODES;
    c->push_pull_interval_ms = SWIM_DEF_PUSH_PULL_INTERVAL_MS;
    c->awareness_max = SWIM_DEF_AWARENESS_MAX;
    c->dead_reclaim_ms = SWIM_DEF_DEAD_RECLAIM_MS;
    c->gossip_to_dead_ms = SWIM_DEF_GOSSIP_TO_DEAD_MS;
    c->reconnect_interval_ms = SWIM_DEF_RECONNECT_INTERVAL_MS;
    c->lifeguard = true;
}

int swim_config_check(const swim_config_t *c, char *err, size_t errlen)
{
    const char *bad = NULL;
    if (c->probe_interval_ms < 1)
        bad = "probe_interval_ms must be >= 1";
    else if (c->probe_timeout_ms < 1 || c->probe_timeout_ms > c->probe_interval_ms)
        bad = "probe_timeout_ms must be in [1, probe_interval_ms]";
    else if (c->indirect_checks > 16)
        bad = "indirect_checks must be <= 16";
    else if (c->suspicion_mult < 1 || c->suspicion_max_mult < 1)
        bad = "suspicion_mult and suspicion_max_mult must be >= 1";
    else if (c->retransmit_mult < 1 || c->retransmit_mult > 20)
        bad = "retransmit_mult must be in [1, 20]";
    else if (c->gossip_interval_ms < 1 || c->gossip_nodes < 1 || c->gossip_nodes > 32)
        bad = "gossip_interval_ms must be >= 1 and gossip_nodes in [1, 32]";
    else if (c->awareness_max < 1 || c->awareness_max > 64)
        bad = "awareness_max must be in [1, 64]";
    else if (c->reconnect_interval_ms < 1)
        bad = "reconnect_interval_ms must be >= 1";
    if (!bad)
        return 0;
    if (err && errlen)
        snprintf(err, errlen, "gossip: %s", bad);
    return ERR_CONFIG;
}

uint64_t swim_rand(swim_t *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ---- status bookkeeping and events ---- */

static uint32_t *status_counter(swim_t *s, uint8_t st)
{
    switch (st) {
    case SWIM_ALIVE:
        return &s->n_alive;
    case SWIM_SUSPECT:
        return &s->n_suspect;
    case SWIM_DEAD:
        return &s->n_dead;
    default:
        return &s->n_left;
    }
}

static void set_status(swim_t *s, swim_member_t *m, uint8_t st, uint64_t now)
{
    if (m->status == st)
        return;
    if (m != s->me) {
        (*status_counter(s, m->status))--;
        (*status_counter(s, st))++;
    }
    m->status = st;
    m->since = now;
    if (st != SWIM_SUSPECT)
        swim_susp_clear(m);
}

static void fill_info(const swim_t *s, const swim_member_t *m, swim_member_info_t *o)
{
    o->id = m->id;
    o->name = m->name ? m->name : "";
    o->addr = m->addr ? m->addr : "";
    o->meta = m->meta;
    o->metalen = m->metalen;
    o->incarnation = m->inc;
    o->status = (swim_status_t)m->status;
    o->since_ms = m->since;
    o->self = m == s->me;
}

static void emit(swim_t *s, swim_event_type_t type, const swim_member_t *m, uint8_t old,
                 const uint8_t *from)
{
    if (!s->io.event || m == s->me)
        return;
    swim_event_t ev;
    ev.type = type;
    ev.old_status = (swim_status_t)old;
    fill_info(s, m, &ev.m);
    ev.from = from;
    s->io.event(s->io.ctx, &ev);
}

/* Queues m's current state for dissemination, attributed to `from`. */
static void queue_member(swim_t *s, swim_member_t *m, const uint8_t *from, bool is_leave)
{
    wire_buf_reset(&s->tmp);
    swim_update_encode_member(&s->tmp, m, from, false);
    if (!s->tmp.err)
        swim_bq_put(&s->bq, m, s->tmp.data, s->tmp.len, is_leave);
}

void swim_awareness_delta(swim_t *s, int delta)
{
    if (!s->cfg.lifeguard)
        return;
    int v = (int)s->awareness + delta, max = (int)s->cfg.awareness_max - 1;
    s->awareness = (unsigned)(v < 0 ? 0 : v > max ? max : v);
}

/* Makes `inc` durable (invariant 1); counts a failure and goes on. */
static void persist(swim_t *s, uint64_t inc)
{
    if (inc <= s->persisted_inc)
        return;
    if (s->io.persist_incarnation && s->io.persist_incarnation(s->io.ctx, inc) != 0) {
        s->st.persist_failures++;
        return;
    }
    s->persisted_inc = inc;
}

/* Announces self as alive at an incarnation above `above` (invariant 3). */
static void refute(swim_t *s, uint64_t above)
{
    uint64_t inc = (s->me->inc > above ? s->me->inc : above) + 1;
    persist(s, inc);
    s->me->inc = inc;
    s->st.refutations++;
    swim_awareness_delta(s, 1);
    queue_member(s, s->me, NULL, false);
}

/* ---- applying news (invariant 2) ---- */

static bool meta_differs(const swim_member_t *m, const swim_update_t *u)
{
    return m->metalen != u->metalen || m->addrlen != u->addrlen || m->namelen != u->namelen ||
           (u->metalen && memcmp(m->meta, u->meta, u->metalen)) ||
           memcmp(m->addr, u->addr, u->addrlen) || memcmp(m->name, u->name, u->namelen);
}

static int member_take(swim_member_t *m, const swim_update_t *u)
{
    return swim_member_set(m, u->name, u->namelen, u->addr, u->addrlen, u->meta, u->metalen);
}

static void on_alive(swim_t *s, const swim_update_t *u, uint64_t now)
{
    swim_member_t *m = swim_tab_find(&s->tab, u->id);
    if (m == s->me) {
        if (!s->leaving && (u->inc > m->inc || (u->inc == m->inc && meta_differs(m, u))))
            refute(s, u->inc);
        return;
    }
    if (!m) {
        if (s->tab.n >= SWIM_MEMBERS_MAX) {
            s->st.drop_member_cap++;
            return;
        }
        m = swim_tab_add(&s->tab, u->id, (size_t)(swim_rand(s) % (s->tab.n + 1)));
        if (!m)
            return;
        if (member_take(m, u)) {
            swim_tab_remove(&s->tab, m);
            return;
        }
        m->inc = u->inc;
        m->status = SWIM_ALIVE;
        m->since = now;
        s->n_alive++;
        queue_member(s, m, NULL, false);
        emit(s, SWIM_EV_JOIN, m, SWIM_ALIVE, NULL);
        return;
    }
    if (u->inc <= m->inc)
        return;
    uint8_t old = m->status;
    bool changed = meta_differs(m, u);
    if (changed && member_take(m, u))
        return;
    m->inc = u->inc;
    set_status(s, m, SWIM_ALIVE, now);
    queue_member(s, m, NULL, false);
    if (old != SWIM_ALIVE)
        emit(s, SWIM_EV_ALIVE, m, old, NULL);
    if (changed)
        emit(s, SWIM_EV_UPDATE, m, old, NULL);
}

/* Arms the timers for m's current suspicion deadline: with Lifeguard, two
 * last-chance probes start two and one (scaled) probe intervals before it,
 * so they add no delay when the member is really gone (invariant 9). */
static void susp_arm(swim_t *s, swim_member_t *m, uint64_t now)
{
    swim_tmr_t t = {.kind = SWIM_TMR_CHECK};
    memcpy(t.id, m->id, SWIM_ID_LEN);
    if (s->cfg.lifeguard) {
        uint64_t lead = swim_awareness_scale(s->cfg.probe_interval_ms, s->awareness);
        if (m->susp_deadline < now + lead)
            m->susp_deadline = now + lead;
        t.tag = m->susp_deadline;
        for (uint64_t i = 2; i >= 1; i--) {
            t.at = m->susp_deadline - i * lead;
            if (t.at >= now)
                swim_heap_push(&s->heap, &t);
        }
    }
    t.kind = SWIM_TMR_SUSPECT;
    t.at = m->susp_deadline;
    swim_heap_push(&s->heap, &t);
}

void swim_suspicion_restart(swim_t *s, swim_member_t *m, const uint8_t from[SWIM_ID_LEN],
                            uint64_t now)
{
    size_t n = s->tab.n;
    uint32_t k = s->cfg.lifeguard ? s->cfg.suspicion_mult - 2 : 0;
    if (s->cfg.suspicion_mult < 2 || n < (size_t)k + 2)
        k = 0;
    uint64_t min = swim_suspicion_min_ms(s->cfg.suspicion_mult, n, s->cfg.probe_interval_ms);
    uint64_t max = s->cfg.lifeguard ? min * s->cfg.suspicion_max_mult : min;
    /* Our own failed probe dates the suspicion from when the ping went out:
     * the member had from then on to answer (petri; memberlist starts at
     * the end of the probe, one probe interval later). */
    uint64_t start = now;
    if (s->evidence_at && s->evidence_at < now && !memcmp(from, s->me->id, SWIM_ID_LEN))
        start = s->evidence_at;
    if (swim_susp_start(m, from, k, min, max, start) == 0)
        susp_arm(s, m, now);
}

void swim_on_suspect(swim_t *s, const uint8_t id[SWIM_ID_LEN], uint64_t inc,
                     const uint8_t from[SWIM_ID_LEN], const uint8_t *confirm_as, uint64_t now)
{
    swim_member_t *m = swim_tab_find(&s->tab, id);
    if (m == s->me) {
        s->accused = true;
        if (!s->leaving && inc >= m->inc)
            refute(s, inc);
        return;
    }
    if (!m || inc < m->inc)
        return;
    bool own = !memcmp(from, s->me->id, SWIM_ID_LEN);
    if (m->status == SWIM_SUSPECT && inc == m->inc) {
        /* Lifeguard: independent accusers shorten the timeout, and are
         * re-gossiped so that others can count them too. */
        const uint8_t *who = confirm_as ? confirm_as : from;
        if (s->cfg.lifeguard && swim_susp_confirm(m, who)) {
            s->st.confirmations++;
            if (!memcmp(who, s->me->id, SWIM_ID_LEN))
                s->st.suspects_raised++;
            susp_arm(s, m, now);
            queue_member(s, m, who, false);
        }
        return;
    }
    if (m->status == SWIM_DEAD || m->status == SWIM_LEFT)
        return;
    uint8_t old = m->status;
    m->inc = inc;
    set_status(s, m, SWIM_SUSPECT, now);
    swim_suspicion_restart(s, m, from, now);
    s->st.suspicions++;
    if (own)
        s->st.suspects_raised++;
    queue_member(s, m, from, false);
    emit(s, SWIM_EV_SUSPECT, m, old, from);
}

void swim_on_dead(swim_t *s, const uint8_t id[SWIM_ID_LEN], uint64_t inc,
                  const uint8_t from[SWIM_ID_LEN], bool left, uint64_t now)
{
    swim_member_t *m = swim_tab_find(&s->tab, id);
    if (m == s->me) {
        s->accused = true;
        if (!s->leaving && inc >= m->inc)
            refute(s, inc);
        return;
    }
    if (!m || inc < m->inc)
        return;
    if (m->status == SWIM_LEFT || (m->status == SWIM_DEAD && !left))
        return;
    uint8_t old = m->status;
    m->inc = inc;
    set_status(s, m, left ? SWIM_LEFT : SWIM_DEAD, now);
    queue_member(s, m, from, false);
    emit(s, left ? SWIM_EV_LEFT : SWIM_EV_DEAD, m, old, from);
}

void swim_apply_update(swim_t *s, const swim_update_t *u, bool merge, const uint8_t *sender,
                       uint64_t now)
{
    switch (u->status) {
    case SWIM_ALIVE:
        on_alive(s, u, now);
        break;
    case SWIM_SUSPECT:
        /* A sync relays others' accusations: it counts as one confirmation,
         * ours, however many members hold the suspicion (as in memberlist). */
        swim_on_suspect(s, u->id, u->inc, merge ? sender : u->from, merge ? s->me->id : NULL, now);
        break;
    case SWIM_DEAD:
        /* A remote verdict from a full sync is only a suspicion here: the
         * member gets the chance to refute it (invariant 6). */
        if (merge)
            swim_on_suspect(s, u->id, u->inc, sender, s->me->id, now);
        else
            swim_on_dead(s, u->id, u->inc, u->from, false, now);
        break;
    case SWIM_LEFT:
        swim_on_dead(s, u->id, u->inc, u->from, true, now);
        break;
    }
}

/* Suspicion timers. Entries are stale unless they name the deadline the
 * member holds now (confirmations and restarts move it). */
void swim_suspicion_fire(swim_t *s, const swim_tmr_t *t, uint64_t now)
{
    swim_member_t *m = swim_tab_find(&s->tab, t->id);
    if (!m || m->status != SWIM_SUSPECT || !m->susp)
        return;
    if (t->kind == SWIM_TMR_CHECK) {
        if (m->susp_deadline == t->tag && m->susp->checks < 2 &&
            swim_verify_start(s, m, m->susp_deadline, now))
            m->susp->checks++;
        return;
    }
    if (m->susp_deadline != t->at)
        return;
    s->st.deaths_declared++;
    swim_on_dead(s, m->id, m->inc, s->me->id, false, now);
}

/* ---- lifecycle ---- */

swim_t *swim_new(const swim_config_t *cfg, const swim_self_t *self, const swim_io_t *io,
                 uint64_t now_ms, uint64_t rng_seed)
{
    assert(cfg && self && io && io->send);
    assert(swim_config_check(cfg, NULL, 0) == 0);
    assert(self->name && swim_text_valid(self->name, SWIM_NAME_MAX));
    assert(self->addr && swim_addr_valid(self->addr));
    assert(self->id && memcmp(self->id, zero_id, SWIM_ID_LEN));
    assert(self->metalen <= SWIM_META_MAX && (self->meta || !self->metalen));
    swim_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = *cfg;
    s->io = *io;
    s->rng = rng_seed;
    wire_buf_init(&s->out);
    wire_buf_init(&s->tmp);
    if (swim_tab_init(&s->tab))
        goto fail;
    s->me = swim_tab_add(&s->tab, self->id, 0);
    if (!s->me || swim_member_set(s->me, self->name, strlen(self->name), self->addr,
                                  strlen(self->addr), self->meta, self->metalen))
        goto fail;
    s->persisted_inc = self->incarnation_floor;
    s->me->inc = self->incarnation_floor + 1;
    persist(s, s->me->inc);
    s->me->status = SWIM_ALIVE;
    s->me->since = now_ms;
    s->seq = swim_rand(s);
    /* Random phases keep the members' timers from marching in step. */
    s->next_probe = now_ms + swim_rand(s) % cfg->probe_interval_ms;
    s->next_gossip = now_ms + swim_rand(s) % cfg->gossip_interval_ms;
    s->next_sync = cfg->push_pull_interval_ms ? now_ms + swim_rand(s) % cfg->push_pull_interval_ms
                                              : UINT64_MAX;
    s->next_reconnect = now_ms + swim_rand(s) % cfg->reconnect_interval_ms;
    return s;
fail:
    swim_destroy(&s);
    return NULL;
}

void swim_destroy(swim_t **sp)
{
    if (!sp || !*sp)
        return;
    swim_t *s = *sp;
    swim_bq_clear(&s->bq);
    swim_tab_free(&s->tab);
    swim_heap_free(&s->heap);
    wire_buf_free(&s->out);
    wire_buf_free(&s->tmp);
    free(s);
    *sp = NULL;
}

int swim_set_meta(swim_t *s, const uint8_t *meta, size_t len, uint64_t now)
{
    (void)now;
    if (len > SWIM_META_MAX)
        return ERR_TOOBIG;
    if (s->leaving)
        return ERR_STATE;
    swim_member_t *me = s->me;
    if (len == me->metalen && (len == 0 || !memcmp(meta, me->meta, len)))
        return 0; /* unchanged: no new incarnation, nothing to spread */
    if (swim_member_set(me, me->name, me->namelen, me->addr, me->addrlen, meta, len))
        return -ENOMEM;
    persist(s, me->inc + 1);
    me->inc++;
    queue_member(s, me, NULL, false);
    return 0;
}

int swim_leave(swim_t *s, uint64_t now)
{
    if (s->leaving)
        return 0;
    s->leaving = true;
    s->probe.phase = PROBE_IDLE;
    s->me->status = SWIM_LEFT;
    s->me->since = now;
    queue_member(s, s->me, NULL, true);
    return 0;
}

bool swim_leave_done(const swim_t *s)
{
    if (!s->leaving)
        return false;
    uint32_t others = s->n_alive + s->n_suspect;
    uint32_t want = others < s->cfg.gossip_nodes ? others : s->cfg.gossip_nodes;
    return s->leave_tx >= want;
}

/* ---- getters ---- */

size_t swim_member_count(const swim_t *s)
{
    return s->tab.n;
}

int swim_member_get(const swim_t *s, size_t i, swim_member_info_t *out)
{
    if (i >= s->tab.n)
        return ERR_NOTFOUND;
    fill_info(s, s->tab.v[i], out);
    return 0;
}

int swim_member_find(const swim_t *s, const uint8_t id[SWIM_ID_LEN], swim_member_info_t *out)
{
    const swim_member_t *m = swim_tab_find(&s->tab, id);
    if (!m)
        return ERR_NOTFOUND;
    fill_info(s, m, out);
    return 0;
}

void swim_get_stats(const swim_t *s, swim_stats_t *out)
{
    *out = s->st;
    out->awareness = s->awareness;
    out->bcast_queue = (uint32_t)s->bq.count;
    out->n_alive = s->n_alive;
    out->n_suspect = s->n_suspect;
    out->n_dead = s->n_dead;
    out->n_left = s->n_left;
}

uint64_t swim_incarnation(const swim_t *s)
{
    return s->me->inc;
}

const swim_config_t *swim_config(const swim_t *s)
{
    return &s->cfg;
}
