/* test_swim_proto.c - the membership protocol in a mock transport: the
 * incarnation ordering rules, refutation and the persisted floor, stale acks,
 * counted drops of malformed input, and a small cluster that joins, spreads
 * metadata, detects a crash, sees a leave and takes a restarted member back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "swim.h"
#include "swim_int.h"
#include "wire.h"

#define MAXN 4

typedef struct pkt {
    struct pkt *next;
    int dst;
    size_t len;
    uint8_t data[];
} pkt_t;

typedef struct node {
    swim_t *s;
    char name[24], addr[32];
    uint8_t id[SWIM_ID_LEN];
    uint64_t persisted;
    int up;
    int events[SWIM_EV_UPDATE + 1];
    int seq_of[MAXN][8]; /* event types seen about each member, in order */
    int nseq[MAXN];
    uint8_t meta_seen[MAXN][64];
    size_t metalen_seen[MAXN];
    /* the last ping sent, for tests that inspect it */
    uint8_t last[2048];
    size_t lastlen;
} node_t;

typedef struct net {
    node_t nodes[MAXN];
    int n;
    pkt_t *head, *tail;
    uint64_t now;
} net_t;

static net_t *NET;

static int index_of_id(const uint8_t *id)
{
    for (int i = 0; i < NET->n; i++)
        if (!memcmp(NET->nodes[i].id, id, SWIM_ID_LEN))
            return i;
    return -1;
}

static void mock_send(void *ctx, const char *addr, const uint8_t *buf, size_t len)
{
    node_t *src = ctx;
    if (len <= sizeof src->last && len > 3 && buf[1] == 0 && buf[2] == WIRE_SWIM_PING) {
        memcpy(src->last, buf, len);
        src->lastlen = len;
    }
    for (int i = 0; i < NET->n; i++) {
        if (strcmp(NET->nodes[i].addr, addr) || !NET->nodes[i].up)
            continue;
        pkt_t *p = malloc(sizeof *p + len);
        p->next = NULL;
        p->dst = i;
        p->len = len;
        memcpy(p->data, buf, len);
        if (NET->tail)
            NET->tail->next = p;
        else
            NET->head = p;
        NET->tail = p;
    }
}

static void mock_event(void *ctx, const swim_event_t *ev)
{
    node_t *nd = ctx;
    nd->events[ev->type]++;
    int who = index_of_id(ev->m.id);
    if (who < 0)
        return;
    if (nd->nseq[who] < 8)
        nd->seq_of[who][nd->nseq[who]++] = ev->type;
    if (ev->m.metalen <= sizeof nd->meta_seen[who]) {
        memcpy(nd->meta_seen[who], ev->m.meta, ev->m.metalen);
        nd->metalen_seen[who] = ev->m.metalen;
    }
}

static int mock_persist(void *ctx, uint64_t inc)
{
    node_t *nd = ctx;
    nd->persisted = inc;
    return 0;
}

static void fast_config(swim_config_t *c)
{
    swim_config_default(c);
    c->probe_interval_ms = 100;
    c->probe_timeout_ms = 40;
    c->gossip_interval_ms = 20;
    c->push_pull_interval_ms = 1000;
    c->reconnect_interval_ms = 500;
}

static void start_node(int i, uint64_t floor)
{
    node_t *nd = &NET->nodes[i];
    swim_config_t c;
    fast_config(&c);
    swim_self_t self = {.name = nd->name,
                        .id = nd->id,
                        .addr = nd->addr,
                        .meta = (const uint8_t *)"v=1",
                        .metalen = 3,
                        .incarnation_floor = floor};
    swim_io_t io = {
        .ctx = nd, .send = mock_send, .event = mock_event, .persist_incarnation = mock_persist};
    nd->s = swim_new(&c, &self, &io, NET->now, 1000 + (uint64_t)i);
    assert_non_null(nd->s);
    nd->up = 1;
}

static void net_init(net_t *net, int n)
{
    memset(net, 0, sizeof *net);
    NET = net;
    net->n = n;
    net->now = 1000;
    for (int i = 0; i < n; i++) {
        node_t *nd = &net->nodes[i];
        snprintf(nd->name, sizeof nd->name, "node-%d", i);
        snprintf(nd->addr, sizeof nd->addr, "10.0.0.%d:7946", i + 1);
        memset(nd->id, 0x40 + i, SWIM_ID_LEN);
    }
}

static void net_free(net_t *net)
{
    while (net->head) {
        pkt_t *p = net->head;
        net->head = p->next;
        free(p);
    }
    for (int i = 0; i < net->n; i++)
        swim_destroy(&net->nodes[i].s);
}

/* Delivers everything queued, then advances virtual time by 5 ms steps. */
static void net_run(net_t *net, uint64_t ms)
{
    uint64_t end = net->now + ms;
    for (;;) {
        while (net->head) {
            pkt_t *p = net->head;
            net->head = p->next;
            if (!net->head)
                net->tail = NULL;
            if (net->nodes[p->dst].up)
                swim_recv(net->nodes[p->dst].s, p->data, p->len, net->now);
            free(p);
        }
        if (net->now >= end)
            break;
        net->now += 5;
        for (int i = 0; i < net->n; i++)
            if (net->nodes[i].up && swim_next_deadline(net->nodes[i].s) <= net->now)
                swim_tick(net->nodes[i].s, net->now);
    }
}

static swim_status_t status_at(int obs, int who)
{
    swim_member_info_t mi;
    if (swim_member_find(NET->nodes[obs].s, NET->nodes[who].id, &mi))
        return (swim_status_t)-1;
    return mi.status;
}

/* ---- crafted packets into one member ---- */

static const uint8_t SENDER[SWIM_ID_LEN] = {0x77, 1, 2,  3,  4,  5,  6,  7,
                                            8,    9, 10, 11, 12, 13, 14, 15};
static const uint8_t XID[SWIM_ID_LEN] = {0x58, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5};

static int inject(swim_t *s, uint8_t status, const uint8_t *id, uint64_t inc, const char *meta)
{
    wire_buf_t b;
    wire_buf_init(&b);
    wire_begin(&b, WIRE_SWIM_GOSSIP, 0, SENDER);
    wire_put_u32(&b, 1);
    swim_update_encode(&b, status, id, inc, SENDER, "x", 1, "10.9.9.9:7946", 13,
                       (const uint8_t *)meta, strlen(meta));
    assert_int_equal(wire_end(&b), 0);
    int rc = swim_recv(s, b.data, b.len, NET->now);
    wire_buf_free(&b);
    return rc;
}

static void expect_x(swim_t *s, swim_status_t st, uint64_t inc)
{
    swim_member_info_t mi;
    assert_int_equal(swim_member_find(s, XID, &mi), 0);
    assert_int_equal(mi.status, st);
    assert_true(mi.incarnation == inc);
}

static void test_incarnation_ordering(void **state)
{
    (void)state;
    net_t net;
    net_init(&net, 1);
    start_node(0, 0);
    swim_t *s = net.nodes[0].s;
    int *ev = net.nodes[0].events;

    swim_member_info_t mi;
    assert_int_equal(inject(s, SWIM_SUSPECT, XID, 5, ""), 0); /* unknown: ignored */
    assert_int_equal(swim_member_find(s, XID, &mi), ERR_NOTFOUND);
    inject(s, SWIM_ALIVE, XID, 5, "a");
    expect_x(s, SWIM_ALIVE, 5);
    assert_int_equal(ev[SWIM_EV_JOIN], 1);
    inject(s, SWIM_SUSPECT, XID, 4, ""); /* older: ignored */
    expect_x(s, SWIM_ALIVE, 5);
    inject(s, SWIM_SUSPECT, XID, 5, ""); /* same incarnation wins over alive */
    expect_x(s, SWIM_SUSPECT, 5);
    assert_int_equal(ev[SWIM_EV_SUSPECT], 1);
    inject(s, SWIM_ALIVE, XID, 5, "a"); /* alive needs a higher one */
    expect_x(s, SWIM_SUSPECT, 5);
    inject(s, SWIM_ALIVE, XID, 6, "b"); /* refuted */
    expect_x(s, SWIM_ALIVE, 6);
    assert_int_equal(ev[SWIM_EV_ALIVE], 1);
    assert_int_equal(ev[SWIM_EV_UPDATE], 1); /* meta "a" -> "b" */
    inject(s, SWIM_DEAD, XID, 5, "");        /* older: ignored */
    expect_x(s, SWIM_ALIVE, 6);
    inject(s, SWIM_DEAD, XID, 6, "");
    expect_x(s, SWIM_DEAD, 6);
    assert_int_equal(ev[SWIM_EV_DEAD], 1);
    inject(s, SWIM_ALIVE, XID, 6, "b");  /* dead wins at the same incarnation */
    inject(s, SWIM_SUSPECT, XID, 7, ""); /* nothing but alive leaves dead */
    expect_x(s, SWIM_DEAD, 6);
    inject(s, SWIM_ALIVE, XID, 7, "b"); /* re-join */
    expect_x(s, SWIM_ALIVE, 7);
    assert_int_equal(ev[SWIM_EV_ALIVE], 2);
    inject(s, SWIM_LEFT, XID, 7, "");
    expect_x(s, SWIM_LEFT, 7);
    assert_int_equal(ev[SWIM_EV_LEFT], 1);
    inject(s, SWIM_DEAD, XID, 8, ""); /* left is final for dead news */
    expect_x(s, SWIM_LEFT, 7);
    swim_stats_t st;
    swim_get_stats(s, &st);
    assert_int_equal(st.n_left, 1);
    assert_int_equal(st.n_alive, 0);
    net_free(&net);
}

static void test_refutation_and_floor(void **state)
{
    (void)state;
    net_t net;
    net_init(&net, 1);
    start_node(0, 41);
    swim_t *s = net.nodes[0].s;
    /* a restarted member starts above its persisted floor, persisted first */
    assert_true(swim_incarnation(s) == 42);
    assert_true(net.nodes[0].persisted == 42);
    const uint8_t *me = net.nodes[0].id;
    inject(s, SWIM_SUSPECT, me, 42, "");
    assert_true(swim_incarnation(s) == 43);
    assert_true(net.nodes[0].persisted == 43);
    inject(s, SWIM_DEAD, me, 100, ""); /* refutes above the accusation */
    assert_true(swim_incarnation(s) == 101);
    assert_true(net.nodes[0].persisted == 101);
    inject(s, SWIM_SUSPECT, me, 50, ""); /* stale: nothing to refute */
    assert_true(swim_incarnation(s) == 101);
    swim_stats_t st;
    swim_get_stats(s, &st);
    assert_int_equal(st.refutations, 2);
    assert_int_equal(st.awareness, 2); /* Lifeguard: refuting costs health */
    /* metadata updates bump (and persist) the incarnation too */
    assert_int_equal(swim_set_meta(s, (const uint8_t *)"v=2", 3, net.now), 0);
    assert_true(swim_incarnation(s) == 102 && net.nodes[0].persisted == 102);
    static uint8_t big[SWIM_META_MAX + 1];
    assert_int_equal(swim_set_meta(s, big, sizeof big, net.now), ERR_TOOBIG);
    net_free(&net);
}

static void test_stale_acks_and_bad_input(void **state)
{
    (void)state;
    net_t net;
    net_init(&net, 2);
    start_node(0, 0);
    net.nodes[1].up = 0; /* exists as an address only: never answers */
    swim_t *s = net.nodes[0].s;
    wire_buf_t b;
    wire_buf_init(&b);
    wire_begin(&b, WIRE_SWIM_GOSSIP, 0, SENDER);
    wire_put_u32(&b, 1);
    swim_update_encode(&b, SWIM_ALIVE, net.nodes[1].id, 1, net.nodes[1].id, "node-1", 6,
                       net.nodes[1].addr, strlen(net.nodes[1].addr), NULL, 0);
    wire_end(&b);
    assert_int_equal(swim_recv(s, b.data, b.len, net.now), 0);
    /* run until the member sends its probe ping to node 1 */
    swim_msg_t ping = {0};
    for (int i = 0; i < 100 && ping.type != WIRE_SWIM_PING; i++) {
        net_run(&net, 10);
        if (net.nodes[0].lastlen)
            swim_msg_decode(net.nodes[0].last, net.nodes[0].lastlen, &ping);
    }
    assert_int_equal(ping.type, WIRE_SWIM_PING);
    uint64_t seqs[2] = {ping.seq + 1000, ping.seq};
    swim_stats_t st;
    for (int k = 0; k < 2; k++) {
        wire_buf_reset(&b);
        wire_begin(&b, WIRE_SWIM_ACK, 0, net.nodes[1].id);
        wire_put_u64(&b, seqs[k]);
        wire_put_u32(&b, 0);
        wire_end(&b);
        swim_recv(s, b.data, b.len, net.now);
        swim_get_stats(s, &st);
        assert_int_equal(st.drop_stale, 1); /* the first was stale */
        assert_int_equal(st.acks, (uint64_t)k);
    }
    /* the same ack again is stale now */
    swim_recv(s, b.data, b.len, net.now);
    swim_get_stats(s, &st);
    assert_int_equal(st.drop_stale, 2);

    /* malformed input: counted, never fatal */
    static const uint8_t junk[] = {1, 0, 104, 0, 1, 2};
    assert_true(swim_recv(s, junk, sizeof junk, net.now) != 0);
    assert_true(swim_recv(s, junk, 0, net.now) != 0);
    wire_buf_reset(&b);
    wire_begin(&b, WIRE_SWIM_GOSSIP, 0, net.nodes[0].id); /* from ourselves */
    wire_put_u32(&b, 0);
    wire_end(&b);
    assert_int_equal(swim_recv(s, b.data, b.len, net.now), ERR_STATE);
    wire_buf_reset(&b);
    wire_begin(&b, WIRE_SWIM_PING, 0, SENDER); /* a ping for someone else */
    wire_put_u64(&b, 1);
    wire_put_raw(&b, XID, SWIM_ID_LEN);
    wire_put_str(&b, "10.9.9.9:7946");
    wire_put_u32(&b, 0);
    wire_end(&b);
    assert_int_equal(swim_recv(s, b.data, b.len, net.now), ERR_STATE);
    swim_get_stats(s, &st);
    assert_int_equal(st.drop_malformed, 2);
    assert_int_equal(st.drop_self, 1);
    assert_int_equal(st.drop_wrong_target, 1);
    wire_buf_free(&b);
    net_free(&net);
}

static int all_see(int n, swim_status_t want, int who)
{
    for (int i = 0; i < n; i++)
        if (i != who && NET->nodes[i].up && status_at(i, who) != want)
            return 0;
    return 1;
}

static void test_small_cluster_lifecycle(void **state)
{
    (void)state;
    net_t net;
    net_init(&net, 3);
    for (int i = 0; i < 3; i++) {
        start_node(i, 0);
        const char *seed = net.nodes[0].addr;
        swim_join(net.nodes[i].s, &seed, 1, net.now);
    }
    net_run(&net, 2000);
    for (int i = 0; i < 3; i++)
        assert_true(all_see(3, SWIM_ALIVE, i));

    /* metadata spreads */
    assert_int_equal(swim_set_meta(net.nodes[2].s, (const uint8_t *)"v=2", 3, net.now), 0);
    net_run(&net, 1000);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(net.nodes[i].metalen_seen[2], 3);
        assert_memory_equal(net.nodes[i].meta_seen[2], "v=2", 3);
    }

    /* a crash: suspect, then dead (3 members: k = 0, min timeout) */
    net.nodes[1].up = 0;
    net_run(&net, 10000);
    assert_int_equal(status_at(0, 1), SWIM_DEAD);
    assert_int_equal(status_at(2, 1), SWIM_DEAD);
    int *seq = net.nodes[0].seq_of[1];
    assert_int_equal(seq[0], SWIM_EV_JOIN);
    assert_int_equal(seq[1], SWIM_EV_SUSPECT);
    assert_int_equal(seq[2], SWIM_EV_DEAD);

    /* the restart: same id and address, floor from "disk" */
    uint64_t floor = net.nodes[1].persisted;
    swim_destroy(&net.nodes[1].s);
    start_node(1, floor);
    const char *seed = net.nodes[0].addr;
    swim_join(net.nodes[1].s, &seed, 1, net.now);
    net_run(&net, 2000);
    assert_true(all_see(3, SWIM_ALIVE, 1));
    swim_member_info_t mi;
    assert_int_equal(swim_member_find(net.nodes[0].s, net.nodes[1].id, &mi), 0);
    assert_true(mi.incarnation > floor);
    assert_int_equal(net.nodes[0].seq_of[1][3], SWIM_EV_ALIVE);

    /* a graceful leave */
    assert_int_equal(swim_leave(net.nodes[2].s, net.now), 0);
    for (int i = 0; i < 100 && !swim_leave_done(net.nodes[2].s); i++)
        net_run(&net, 10);
    assert_true(swim_leave_done(net.nodes[2].s));
    net_run(&net, 200);
    assert_int_equal(status_at(0, 2), SWIM_LEFT);
    assert_int_equal(status_at(1, 2), SWIM_LEFT);
    assert_int_equal(swim_set_meta(net.nodes[2].s, (const uint8_t *)"x", 1, net.now), ERR_STATE);
    net_run(&net, 5000); /* a left member is never suspected again */
    assert_int_equal(status_at(0, 2), SWIM_LEFT);
    net_free(&net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_incarnation_ordering),
        cmocka_unit_test(test_refutation_and_floor),
        cmocka_unit_test(test_stale_acks_and_bad_input),
        cmocka_unit_test(test_small_cluster_lifecycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
