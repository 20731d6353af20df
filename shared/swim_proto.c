/* swim_proto.c - SWIM's moving parts: the probe cycle (ping, ping-req with
 * Lifeguard nacks, suspicion on failure), piggybacked and periodic gossip,
 * push-pull sync, re-join attempts, the packet handlers and swim_tick(). */
#include "swim_int.h"

#include <string.h>

#include "err.h"

static const uint8_t zero_id[SWIM_ID_LEN];

typedef struct extra {
    const swim_member_t *m;
    const uint8_t *from;
} extra_t;

static uint64_t scaled(const swim_t *s, uint64_t t)
{
    return swim_awareness_scale(t, s->awareness);
}

static void msg_begin(swim_t *s, uint16_t type)
{
    wire_buf_reset(&s->out);
    wire_begin(&s->out, type, 0, s->me->id);
}

static void patch_u32(wire_buf_t *b, size_t at, uint32_t v)
{
    b->data[at] = (uint8_t)(v >> 24);
    b->data[at + 1] = (uint8_t)(v >> 16);
    b->data[at + 2] = (uint8_t)(v >> 8);
    b->data[at + 3] = (uint8_t)v;
}

static void transmit(swim_t *s, const char *addr)
{
    if (s->out.err || wire_end(&s->out))
        return;
    s->st.msgs_out++;
    s->st.bytes_out += s->out.len;
    s->io.send(s->io.ctx, addr, s->out.data, s->out.len);
}

/* Ends the open message with its update list (extras first, then queued
 * broadcasts) and sends it. With `need_updates`, a message that would carry
 * none is not sent. Returns the number of updates carried. */
static uint32_t finish(swim_t *s, const char *addr, const extra_t *extra, size_t nextra,
                       bool need_updates)
{
    wire_buf_t *b = &s->out;
    size_t at = b->len, budget = SWIM_PIGGYBACK_MAX;
    uint32_t n = 0;
    wire_put_u32(b, 0);
    for (size_t i = 0; i < nextra; i++) {
        size_t before = b->len;
        swim_update_encode_member(b, extra[i].m, extra[i].from, false);
        size_t used = b->len - before;
        budget = used < budget ? budget - used : 0;
        n++;
    }
    n += swim_bq_fill(&s->bq, b, budget, swim_retransmit_limit(s->cfg.retransmit_mult, s->tab.n),
                      &s->leave_tx);
    if (b->err || (need_updates && n == 0))
        return 0;
    patch_u32(b, at, n);
    transmit(s, addr);
    return n;
}

/* ---- random member selection (memberlist's kRandomNodes) ---- */

enum { PICK_ALIVE, PICK_GOSSIP };

static bool pickable(const swim_t *s, const swim_member_t *m, int mode, uint64_t now)
{
    if (m == s->me)
        return false;
    if (mode == PICK_ALIVE)
        return m->status == SWIM_ALIVE;
    if (m->status == SWIM_ALIVE || m->status == SWIM_SUSPECT)
        return true;
    return now - m->since < s->cfg.gossip_to_dead_ms;
}

static size_t pick_random(swim_t *s, swim_member_t **out, size_t k, int mode,
                          const uint8_t *exclude, uint64_t now)
{
    size_t n = s->tab.n, got = 0;
    if (n == 0)
        return 0;
    for (size_t tries = 0, start = 0, i = 0; got < k; tries++) {
        swim_member_t *m;
        if (tries < 4 * k + 32) {
            m = s->tab.v[swim_rand(s) % n];
        } else { /* few eligible: one deterministic sweep from a random start */
            if (i == 0)
                start = (size_t)(swim_rand(s) % n);
            if (i == n)
                break;
            m = s->tab.v[(start + i++) % n];
        }
        if (!pickable(s, m, mode, now) || (exclude && !memcmp(m->id, exclude, SWIM_ID_LEN)))
            continue;
        bool dup = false;
        for (size_t j = 0; j < got && !dup; j++)
            dup = out[j] == m;
        if (!dup)
            out[got++] = m;
    }
    return got;
}

/* ---- probe cycle ---- */

static uint64_t rand_cb(void *arg)
{
    return swim_rand(arg);
}

void swim_reset_probe_order(swim_t *s, uint64_t now)
{
    for (size_t i = 0; i < s->tab.n;) {
        swim_member_t *m = s->tab.v[i];
        if (m != s->me && (m->status == SWIM_DEAD || m->status == SWIM_LEFT) &&
            now - m->since >= s->cfg.dead_reclaim_ms) {
            if (m->status == SWIM_DEAD)
                s->n_dead--;
            else
                s->n_left--;
            swim_bq_drop(&s->bq, m);
            swim_tab_remove(&s->tab, m); /* the last member moves into i */
            continue;
        }
        i++;
    }
    swim_tab_shuffle(&s->tab, rand_cb, s);
}

static swim_member_t *next_target(swim_t *s, uint64_t now)
{
    for (size_t i = 0; i <= s->tab.n + 1; i++) {
        if (s->probe_idx >= s->tab.n) {
            swim_reset_probe_order(s, now);
            s->probe_idx = 0;
        }
        swim_member_t *m = s->tab.v[s->probe_idx++];
        if (m != s->me && (m->status == SWIM_ALIVE || m->status == SWIM_SUSPECT))
            return m;
    }
    return NULL;
}

static void send_ping(swim_t *s, uint64_t seq, const uint8_t *target, const char *addr,
                      const extra_t *extra, size_t nextra)
{
    msg_begin(s, WIRE_SWIM_PING);
    wire_put_u64(&s->out, seq);
    wire_put_raw(&s->out, target ? target : zero_id, SWIM_ID_LEN);
    wire_put_bytes(&s->out, s->me->addr, s->me->addrlen);
    finish(s, addr, extra, nextra, false);
}

static void probe_start(swim_t *s, uint64_t now)
{
    s->next_probe = now + scaled(s, s->cfg.probe_interval_ms);
    swim_member_t *m = next_target(s, now);
    if (!m) {
        /* Alone: keep asking the seeds for their state. */
        if (s->nseeds && s->n_alive + s->n_suspect == 0)
            swim_send_sync(s, s->seeds[s->seed_rr++ % s->nseeds], SWIM_SYNC_REPLY | SWIM_SYNC_JOIN);
        return;
    }
    s->probe.phase = PROBE_DIRECT;
    memcpy(s->probe.target, m->id, SWIM_ID_LEN);
    s->probe.target_inc = m->inc;
    s->probe.seq = ++s->seq;
    s->probe.start = now;
    s->probe.sent_us = s->io.clock_us ? s->io.clock_us(s->io.ctx) : 0;
    s->probe.t_direct = now + scaled(s, s->cfg.probe_timeout_ms);
    s->probe.t_end = s->next_probe;
    s->probe.nacks = s->probe.expected_nacks = 0;
    s->st.probes++;
    /* Lifeguard's buddy system: a suspect learns it at once from its prober. */
    extra_t ex = {m, s->me->id};
    bool buddy = s->cfg.lifeguard && m->status == SWIM_SUSPECT;
    send_ping(s, s->probe.seq, m->id, m->addr, &ex, buddy ? 1 : 0);
}

static void probe_indirect(swim_t *s, uint64_t now)
{
    swim_member_t *m = swim_tab_find(&s->tab, s->probe.target);
    if (!m || m->status == SWIM_DEAD || m->status == SWIM_LEFT) {
        s->probe.phase = PROBE_IDLE; /* somebody else's verdict came first */
        return;
    }
    swim_member_t *helpers[16];
    size_t k = s->cfg.indirect_checks < 16 ? s->cfg.indirect_checks : 16;
    size_t nh = pick_random(s, helpers, k, PICK_ALIVE, m->id, now);
    for (size_t i = 0; i < nh; i++) {
        msg_begin(s, WIRE_SWIM_PING_REQ);
        wire_put_u64(&s->out, s->probe.seq);
        wire_put_raw(&s->out, m->id, SWIM_ID_LEN);
        wire_put_bytes(&s->out, m->addr, m->addrlen);
        wire_put_u8(&s->out, s->cfg.lifeguard ? 1 : 0);
        wire_put_bytes(&s->out, s->me->addr, s->me->addrlen);
        finish(s, helpers[i]->addr, NULL, 0, false);
    }
    s->st.pingreqs_sent += nh;
    s->probe.expected_nacks = s->cfg.lifeguard ? (uint32_t)nh : 0;
    s->probe.phase = PROBE_INDIRECT;
    /* Invariant 5: after a stall the indirect probe still gets its time. */
    uint64_t rest = scaled(s, s->cfg.probe_interval_ms) - scaled(s, s->cfg.probe_timeout_ms);
    if (s->probe.t_end < now + rest)
        s->probe.t_end = now + rest;
    if (s->next_probe < s->probe.t_end)
        s->next_probe = s->probe.t_end;
}

static void probe_fail(swim_t *s, uint64_t now)
{
    s->probe.phase = PROBE_IDLE;
    s->st.probe_failures++;
    /* Lifeguard: missing nacks mean our own links or CPU are the problem;
     * without helpers to ask, any failure counts against us. */
    uint32_t exp = s->probe.expected_nacks, got = s->probe.nacks;
    swim_awareness_delta(s, exp ? (got < exp ? (int)(exp - got) : 0) : 1);
    s->evidence_at = s->probe.start;
    swim_on_suspect(s, s->probe.target, s->probe.target_inc, s->me->id, NULL, now);
    s->evidence_at = 0;
}

/* Invariant 9: a last-chance probe before a lone accusation kills. */
bool swim_verify_start(swim_t *s, swim_member_t *m, uint64_t deadline, uint64_t now)
{
    swim_verify_t *v = NULL;
    size_t slot = 0;
    for (; slot < SWIM_VERIFY_MAX && !v; slot++)
        if (!s->verify[slot].seq)
            v = &s->verify[slot];
    if (!v)
        return false;
    slot--;
    v->seq = ++s->seq;
    v->inc = m->inc;
    memcpy(v->id, m->id, SWIM_ID_LEN);
    extra_t ex = {m, s->me->id};
    send_ping(s, v->seq, m->id, m->addr, &ex, 1);
    swim_member_t *helpers[16];
    size_t k = s->cfg.indirect_checks < 16 ? s->cfg.indirect_checks : 16;
    size_t nh = pick_random(s, helpers, k, PICK_ALIVE, m->id, now);
    for (size_t i = 0; i < nh; i++) {
        msg_begin(s, WIRE_SWIM_PING_REQ);
        wire_put_u64(&s->out, v->seq);
        wire_put_raw(&s->out, m->id, SWIM_ID_LEN);
        wire_put_bytes(&s->out, m->addr, m->addrlen);
        wire_put_u8(&s->out, 0);
        wire_put_bytes(&s->out, s->me->addr, s->me->addrlen);
        finish(s, helpers[i]->addr, NULL, 0, false);
    }
    swim_tmr_t t = {.at = deadline, .tag = v->seq, .kind = SWIM_TMR_VERIFY, .slot = (uint16_t)slot};
    swim_heap_push(&s->heap, &t);
    return true;
}

/* An answer to a last-chance probe: the suspect lives. Its refutation
 * usually rode on the answer; if not, it gets a fresh window. Silence needs
 * no handling: the suspicion times out as planned. */
static void verify_answered(swim_t *s, swim_verify_t *v, uint64_t now)
{
    swim_member_t *m = swim_tab_find(&s->tab, v->id);
    uint64_t inc = v->inc;
    v->seq = 0;
    if (m && m->status == SWIM_SUSPECT && m->inc == inc)
        swim_suspicion_restart(s, m, s->me->id, now);
}

/* ---- periodic work ---- */

static void gossip_tick(swim_t *s, uint64_t now)
{
    s->next_gossip = now + s->cfg.gossip_interval_ms;
    if (!s->bq.count)
        return;
    swim_member_t *to[32];
    size_t n = pick_random(s, to, s->cfg.gossip_nodes, PICK_GOSSIP, NULL, now);
    for (size_t i = 0; i < n; i++) {
        msg_begin(s, WIRE_SWIM_GOSSIP);
        if (finish(s, to[i]->addr, NULL, 0, true) == 0)
            break;
    }
}

void swim_send_sync(swim_t *s, const char *addr, uint8_t flags)
{
    size_t i = 0;
    uint16_t part = 0;
    do {
        msg_begin(s, WIRE_SWIM_SYNC);
        wire_put_u8(&s->out, part == 0 ? flags : (uint8_t)(flags & ~SWIM_SYNC_REPLY));
        wire_put_u16(&s->out, part);
        wire_put_bytes(&s->out, s->me->addr, s->me->addrlen);
        size_t at = s->out.len;
        uint32_t n = 0;
        wire_put_u32(&s->out, 0);
        for (; i < s->tab.n; i++) {
            wire_buf_reset(&s->tmp);
            swim_update_encode_member(&s->tmp, s->tab.v[i], NULL, false);
            if (s->tmp.err)
                continue;
            if (n > 0 && s->out.len + s->tmp.len > SWIM_PACKET_MAX - 64)
                break;
            wire_put_raw(&s->out, s->tmp.data, s->tmp.len);
            n++;
        }
        if (s->out.err)
            return;
        patch_u32(&s->out, at, n);
        transmit(s, addr);
        part++;
    } while (i < s->tab.n);
    s->st.syncs_sent++;
}

static bool seed_is_alive(const swim_t *s, const char *addr)
{
    for (size_t i = 0; i < s->tab.n; i++) {
        const swim_member_t *m = s->tab.v[i];
        if ((m->status == SWIM_ALIVE || m->status == SWIM_SUSPECT) && !strcmp(m->addr, addr))
            return true;
    }
    return false;
}

/* Re-join attempts: ping a random dead member or a seed nobody alive
 * answers for; its ack triggers a full sync (invariant 6). Like Serf's
 * reconnect, the chance per tick is dead/alive, so the cluster as a whole
 * tries about once per tick for each dead member. */
static void reconnect_tick(swim_t *s, uint64_t now)
{
    s->next_reconnect = now + s->cfg.reconnect_interval_ms;
    const char *unmatched[SWIM_SEEDS_MAX];
    size_t nseeds = 0;
    for (size_t i = 0; i < s->nseeds; i++)
        if (!seed_is_alive(s, s->seeds[i]))
            unmatched[nseeds++] = s->seeds[i];
    uint64_t ncand = nseeds + s->n_dead, alive = s->n_alive + s->n_suspect;
    if (ncand == 0)
        return;
    if (alive > 0 && (swim_rand(s) % alive) >= ncand)
        return;
    uint64_t r = swim_rand(s) % ncand;
    const char *addr = NULL;
    const uint8_t *id = NULL;
    if (r < nseeds) {
        addr = unmatched[r];
    } else {
        size_t n = s->tab.n, start = (size_t)(swim_rand(s) % n);
        for (size_t i = 0; i < n && !addr; i++) {
            swim_member_t *m = s->tab.v[(start + i) % n];
            if (m->status == SWIM_DEAD && m != s->me) {
                addr = m->addr;
                id = m->id;
            }
        }
    }
    if (!addr)
        return;
    swim_reconn_t *rc = &s->reconn[s->reconn_next++ % SWIM_RECONN_MAX];
    rc->seq = ++s->seq;
    memcpy(rc->addr, addr, strlen(addr) + 1);
    s->st.reconnects++;
    send_ping(s, rc->seq, id, addr, NULL, 0);
}

static void relay_fire(swim_t *s, const swim_tmr_t *t)
{
    swim_relay_t *r = &s->relay[t->slot];
    if (!r->used || r->our_seq != t->tag)
        return;
    r->used = false;
    if (!r->nack)
        return;
    msg_begin(s, WIRE_SWIM_NACK);
    wire_put_u64(&s->out, r->their_seq);
    finish(s, r->reply_addr, NULL, 0, false);
    s->st.nacks_sent++;
}

static void verify_fire(swim_t *s, const swim_tmr_t *t)
{
    swim_verify_t *v = &s->verify[t->slot];
    if (v->seq == t->tag)
        v->seq = 0; /* unanswered: the slot is free again */
}

uint64_t swim_next_deadline(const swim_t *s)
{
    uint64_t d = swim_heap_top(&s->heap);
    if (s->next_gossip < d)
        d = s->next_gossip;
    if (s->leaving)
        return d;
    uint64_t p = s->probe.phase == PROBE_DIRECT     ? s->probe.t_direct
                 : s->probe.phase == PROBE_INDIRECT ? s->probe.t_end
                                                    : s->next_probe;
    if (p < d)
        d = p;
    if (s->next_sync < d)
        d = s->next_sync;
    if (s->next_reconnect < d)
        d = s->next_reconnect;
    return d;
}

uint64_t swim_tick(swim_t *s, uint64_t now)
{
    swim_tmr_t t;
    while (swim_heap_pop_due(&s->heap, now, &t)) {
        if (t.kind == SWIM_TMR_SUSPECT || t.kind == SWIM_TMR_CHECK)
            swim_suspicion_fire(s, &t, now);
        else if (t.kind == SWIM_TMR_VERIFY)
            verify_fire(s, &t);
        else
            relay_fire(s, &t);
    }
    if (!s->leaving) {
        if (s->probe.phase == PROBE_DIRECT && now >= s->probe.t_direct)
            probe_indirect(s, now);
        if (s->probe.phase == PROBE_INDIRECT && now >= s->probe.t_end)
            probe_fail(s, now);
        if (s->probe.phase == PROBE_IDLE && now >= s->next_probe)
            probe_start(s, now);
        if (now >= s->next_sync) {
            s->next_sync = now + swim_push_pull_interval_ms(s->cfg.push_pull_interval_ms, s->tab.n);
            swim_member_t *m;
            if (pick_random(s, &m, 1, PICK_ALIVE, NULL, now) == 1)
                swim_send_sync(s, m->addr, SWIM_SYNC_REPLY);
        }
        if (now >= s->next_reconnect)
            reconnect_tick(s, now);
    }
    if (now >= s->next_gossip)
        gossip_tick(s, now);
    return swim_next_deadline(s);
}

int swim_join(swim_t *s, const char *const *seeds, size_t n, uint64_t now)
{
    (void)now;
    for (size_t i = 0; i < n; i++)
        if (!seeds[i] || !swim_addr_valid(seeds[i]))
            return ERR_INVAL;
    for (size_t i = 0; i < n && s->nseeds < SWIM_SEEDS_MAX; i++) {
        if (!strcmp(seeds[i], s->me->addr))
            continue;
        memcpy(s->seeds[s->nseeds++], seeds[i], strlen(seeds[i]) + 1);
        swim_send_sync(s, seeds[i], SWIM_SYNC_REPLY | SWIM_SYNC_JOIN);
    }
    return 0;
}

/* ---- receiving ---- */

static void on_ack(swim_t *s, const swim_msg_t *m, uint64_t now)
{
    if (s->probe.phase != PROBE_IDLE && m->seq == s->probe.seq) {
        s->probe.phase = PROBE_IDLE;
        if (!memcmp(m->sender, s->probe.target, SWIM_ID_LEN)) {
            s->st.acks++;
            if (s->probe.sent_us && s->io.clock_us) {
                uint64_t rtt = s->io.clock_us(s->io.ctx) - s->probe.sent_us;
                s->st.rtt_count++;
                s->st.rtt_sum_us += rtt;
                if (!s->st.rtt_min_us || rtt < s->st.rtt_min_us)
                    s->st.rtt_min_us = rtt;
                if (rtt > s->st.rtt_max_us)
                    s->st.rtt_max_us = rtt;
            }
        } else
            s->st.indirect_acks++;
        swim_awareness_delta(s, -1);
        return;
    }
    for (size_t i = 0; i < SWIM_RELAY_MAX; i++) {
        swim_relay_t *r = &s->relay[i];
        if (r->used && r->our_seq == m->seq) {
            /* The origin may be missing the target's latest record: add it. */
            swim_member_t *tg = swim_tab_find(&s->tab, r->target);
            extra_t ex = {tg, NULL};
            r->used = false;
            msg_begin(s, WIRE_SWIM_ACK);
            wire_put_u64(&s->out, r->their_seq);
            finish(s, r->reply_addr, &ex, tg && tg->status == SWIM_ALIVE ? 1 : 0, false);
            return;
        }
    }
    for (size_t i = 0; i < SWIM_VERIFY_MAX; i++)
        if (s->verify[i].seq && s->verify[i].seq == m->seq) {
            verify_answered(s, &s->verify[i], now);
            return;
        }
    for (size_t i = 0; i < SWIM_RECONN_MAX; i++) {
        swim_reconn_t *rc = &s->reconn[i];
        if (rc->seq && rc->seq == m->seq) {
            rc->seq = 0;
            swim_send_sync(s, rc->addr, SWIM_SYNC_REPLY | SWIM_SYNC_JOIN);
            return;
        }
    }
    s->st.drop_stale++;
}

static void on_ping_req(swim_t *s, const swim_msg_t *m, uint64_t now)
{
    s->st.pingreqs_recv++;
    if (!memcmp(m->target, s->me->id, SWIM_ID_LEN)) {
        msg_begin(s, WIRE_SWIM_ACK);
        wire_put_u64(&s->out, m->seq);
        finish(s, m->reply_addr, NULL, 0, false);
        return;
    }
    size_t slot = 0;
    while (slot < SWIM_RELAY_MAX && s->relay[slot].used)
        slot++;
    if (slot == SWIM_RELAY_MAX) {
        s->st.drop_relay_full++;
        return;
    }
    swim_relay_t *r = &s->relay[slot];
    r->used = true;
    r->nack = m->nack != 0;
    r->their_seq = m->seq;
    r->our_seq = ++s->seq;
    memcpy(r->target, m->target, SWIM_ID_LEN);
    memcpy(r->reply_addr, m->reply_addr, strlen(m->reply_addr) + 1);
    /* The nack leaves at 80% of the probe timeout (as in the Lifeguard
     * paper), so it reaches the origin before its probe ends. */
    swim_tmr_t t = {.at = now + s->cfg.probe_timeout_ms * 4 / 5,
                    .tag = r->our_seq,
                    .kind = SWIM_TMR_RELAY,
                    .slot = (uint16_t)slot};
    swim_heap_push(&s->heap, &t);
    send_ping(s, r->our_seq, m->target, m->target_addr, NULL, 0);
}

int swim_recv(swim_t *s, const uint8_t *buf, size_t len, uint64_t now)
{
    s->st.msgs_in++;
    s->st.bytes_in += len;
    swim_msg_t m;
    int rc = swim_msg_decode(buf, len, &m);
    if (rc == 0) { /* invariant 8: every update is checked before any is applied */
        wire_rd_t r = m.rd;
        swim_update_t u;
        for (uint32_t i = 0; i < m.nupdates && rc == 0; i++)
            rc = swim_update_decode(&r, &u);
    }
    if (rc) {
        if (rc == ERR_VERSION)
            s->st.drop_version++;
        else if (rc == ERR_UNKNOWN_TYPE)
            s->st.drop_unknown_type++;
        else
            s->st.drop_malformed++;
        return rc;
    }
    if (!memcmp(m.sender, s->me->id, SWIM_ID_LEN)) {
        s->st.drop_self++;
        return ERR_STATE;
    }
    if (s->leaving) {
        s->st.drop_leaving++;
        return ERR_STATE;
    }
    if (m.type == WIRE_SWIM_PING && memcmp(m.target, zero_id, SWIM_ID_LEN) &&
        memcmp(m.target, s->me->id, SWIM_ID_LEN)) {
        s->st.drop_wrong_target++;
        return ERR_STATE;
    }
    bool merge = m.type == WIRE_SWIM_SYNC;
    s->accused = false;
    swim_update_t u;
    for (uint32_t i = 0; i < m.nupdates; i++)
        if (swim_update_decode(&m.rd, &u) == 0)
            swim_apply_update(s, &u, merge, m.sender, now);

    switch (m.type) {
    case WIRE_SWIM_PING: {
        /* A pinger we hold as suspect or dead hears our verdict at once, so
         * it refutes (how partitions and paused members come back). */
        swim_member_t *from = swim_tab_find(&s->tab, m.sender);
        extra_t ex[2];
        size_t nex = 0;
        if (from && (from->status == SWIM_SUSPECT || from->status == SWIM_DEAD))
            ex[nex++] = (extra_t){from, s->me->id};
        if (s->accused) /* the pinger accuses us: answer with our current record */
            ex[nex++] = (extra_t){s->me, NULL};
        msg_begin(s, WIRE_SWIM_ACK);
        wire_put_u64(&s->out, m.seq);
        finish(s, m.reply_addr, ex, nex, false);
        break;
    }
    case WIRE_SWIM_ACK:
        on_ack(s, &m, now);
        break;
    case WIRE_SWIM_NACK:
        if (s->probe.phase == PROBE_INDIRECT && m.seq == s->probe.seq) {
            s->probe.nacks++;
            s->st.nacks_recv++;
        } else {
            s->st.drop_stale++;
        }
        break;
    case WIRE_SWIM_PING_REQ:
        on_ping_req(s, &m, now);
        break;
    case WIRE_SWIM_SYNC:
        s->st.syncs_recv++;
        if ((m.flags & SWIM_SYNC_REPLY) && m.part == 0)
            swim_send_sync(s, m.reply_addr, 0);
        break;
    default: /* WIRE_SWIM_GOSSIP: the updates were all of it */
        break;
    }
    return 0;
}
