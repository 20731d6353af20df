/* test_gossip.c - the ZeroMQ gossip transport: the incarnation file, seeds
 * parsing, three members over loopback sockets with the real loop (join,
 * metadata, graceful leave), rejection of wrongly keyed, garbage, short and
 * replayed packets, the cap on open peer sockets, and peer host names
 * looked up off the loop. Waits are bounded loops on conditions; nothing
 * asserts on elapsed time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "crypto.h"
#include "err.h"
#include "gossip.h"
#include "log.h"
#include "loop.h"
#include "swim_int.h"
#include "wire.h"

typedef struct env {
    void *zctx;
    loop_t *loop;
    keyring_t *kr, *other;
    char dir[64];
    int port;
    int running; /* tests begun and not ended: a failed one left sockets open */
} env_t;

/* Every test begins with BEGIN and ends with END; an assertion that fails
 * jumps out between them. */
#define BEGIN(e) ((e)->running++)
#define END(e) ((e)->running--)

typedef struct counts {
    int ev[SWIM_EV_UPDATE + 1];
} counts_t;

static void on_event(void *arg, const swim_event_t *ev)
{
    counts_t *c = arg;
    c->ev[ev->type]++;
}

/* Whether 127.0.0.1:port can be bound now (as ZeroMQ binds: SO_REUSEADDR). */
static int port_free(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (s < 0)
        return 0;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
    close(s);
    return ok;
}

/* The first of n consecutive free ports in 20000..31999 (below the kernel's
 * ephemeral range, so outgoing connections never take them), starting at a
 * place that depends on the pid so that parallel runs spread out. */
static int free_block(int n)
{
    unsigned first = (unsigned)getpid() * 37u % 12000u;
    for (unsigned t = 0; t < 200; t++) {
        int base = 20000 + (int)((first + t * 61u) % (12000u - (unsigned)n));
        int ok = 1;
        for (int i = 0; i < n && ok; i++)
            ok = port_free(base + i);
        if (ok)
            return base;
    }
    return -1;
}

static int setup(void **state)
{
    env_t *e = calloc(1, sizeof *e);
    if (crypto_init() != 0)
        return -1;
    log_init("test_gossip", LOG_LVL_ERROR, 0);
    e->zctx = zmq_ctx_new();
    e->loop = loop_new();
    e->kr = keyring_new();
    e->other = keyring_new();
    uint8_t k1[CRYPTO_KEY_LEN], k2[CRYPTO_KEY_LEN];
    crypto_random(k1, sizeof k1);
    crypto_random(k2, sizeof k2);
    keyring_add(e->kr, k1);
    keyring_add(e->other, k2);
    snprintf(e->dir, sizeof e->dir, "/tmp/petri-gossip-XXXXXX");
    if (!mkdtemp(e->dir))
        return -1;
    e->port = free_block(40); /* the tests use port .. port + 39 */
    if (e->port < 0)
        return -1;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env_t *e = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", e->dir);
    if (system(cmd) != 0)
        return -1;
    keyring_destroy(&e->kr);
    keyring_destroy(&e->other);
    if (e->running == 0)
        zmq_ctx_term(e->zctx);
    else /* closing the context would wait forever for the failed test's sockets */
        fprintf(stderr, "test_gossip: %d test(s) failed with sockets open\n", e->running);
    loop_destroy(&e->loop);
    free(e);
    return 0;
}

static void fast(gossip_config_t *gc, env_t *e, const char *name, int port, const char *seeds)
{
    gossip_config_default(gc);
    snprintf(gc->name, sizeof gc->name, "%s", name);
    snprintf(gc->bind, sizeof gc->bind, "127.0.0.1:%d", port);
    snprintf(gc->data_dir, sizeof gc->data_dir, "%s/%s", e->dir, name);
    mkdir(gc->data_dir, 0700);
    char err[128];
    assert_int_equal(gossip_parse_seeds(seeds, gc, err, sizeof err), 0);
    gc->swim.probe_interval_ms = 100;
    gc->swim.probe_timeout_ms = 40;
    gc->swim.gossip_interval_ms = 20;
    gc->swim.push_pull_interval_ms = 1000;
    gc->swim.reconnect_interval_ms = 500;
}

static gossip_t *start(env_t *e, const char *name, int port, const char *seeds, keyring_t *kr,
                       counts_t *c)
{
    gossip_config_t gc;
    node_identity_t idn;
    memset(&idn, 0, sizeof idn);
    crypto_random(idn.id, sizeof idn.id);
    fast(&gc, e, name, port, seeds);
    char err[256] = "";
    gossip_t *g = gossip_new(e->loop, e->zctx, &gc, &idn, kr, (const uint8_t *)"v=1", 3, on_event,
                             c, err, sizeof err);
    if (!g)
        print_error("gossip_new: %s\n", err);
    assert_non_null(g);
    return g;
}

static int alive_count(const gossip_t *g)
{
    swim_stats_t st;
    swim_get_stats(gossip_swim(g), &st);
    return (int)st.n_alive;
}

/* Runs the loop until cond(arg) holds or max_ms passed; returns cond. */
static int run_until(env_t *e, int (*cond)(void *), void *arg, int max_ms)
{
    uint64_t end = mono_ms() + (uint64_t)max_ms;
    while (!cond(arg) && mono_ms() < end)
        loop_run_once(e->loop, 10);
    return cond(arg);
}

typedef struct trio {
    gossip_t *g[3];
    counts_t c[3];
} trio_t;

static int trio_joined(void *arg)
{
    trio_t *t = arg;
    for (int i = 0; i < 3; i++)
        if (!t->g[i] || alive_count(t->g[i]) != 2)
            return 0;
    return 1;
}

static int meta_seen(void *arg)
{
    trio_t *t = arg;
    return t->c[0].ev[SWIM_EV_UPDATE] > 0 && t->c[1].ev[SWIM_EV_UPDATE] > 0;
}

static int left_seen(void *arg)
{
    trio_t *t = arg;
    return t->c[0].ev[SWIM_EV_LEFT] > 0 && t->c[1].ev[SWIM_EV_LEFT] > 0;
}

static void test_incarnation_file(void **state)
{
    env_t *e = *state;
    BEGIN(e);
    uint64_t v = 99;
    assert_int_equal(gossip_incarnation_load(e->dir, &v), 0); /* absent: 0 */
    assert_true(v == 0);
    assert_int_equal(gossip_incarnation_store(e->dir, 12345678901ULL), 0);
    assert_int_equal(gossip_incarnation_load(e->dir, &v), 0);
    assert_true(v == 12345678901ULL);
    char path[128];
    snprintf(path, sizeof path, "%s/incarnation", e->dir);
    FILE *f = fopen(path, "w");
    fputs("twelve\n", f);
    fclose(f);
    assert_int_equal(gossip_incarnation_load(e->dir, &v), ERR_PROTO);
    unlink(path);
    END(e);
}

static void test_parse_seeds(void **state)
{
    (void)state;
    gossip_config_t gc;
    char err[128];
    gossip_config_default(&gc);
    assert_int_equal(gossip_parse_seeds("10.0.0.1:7946, host-b:7946,,", &gc, err, sizeof err), 0);
    assert_int_equal(gc.nseeds, 2);
    assert_string_equal(gc.seeds[1], "host-b:7946");
    assert_int_equal(gossip_parse_seeds("", &gc, err, sizeof err), 0);
    assert_int_equal(gc.nseeds, 0);
    assert_int_equal(gossip_parse_seeds("a:1,nope", &gc, err, sizeof err), ERR_CONFIG);
    assert_non_null(strstr(err, "nope"));
}

static void test_three_members_over_zeromq(void **state)
{
    env_t *e = *state;
    BEGIN(e);
    trio_t t;
    memset(&t, 0, sizeof t);
    char seed[64];
    snprintf(seed, sizeof seed, "127.0.0.1:%d", e->port);
    t.g[0] = start(e, "a", e->port, "", e->kr, &t.c[0]);
    t.g[1] = start(e, "b", e->port + 1, seed, e->kr, &t.c[1]);
    t.g[2] = start(e, "c", e->port + 2, seed, e->kr, &t.c[2]);
    assert_true(run_until(e, trio_joined, &t, 10000));
    for (int i = 0; i < 3; i++)
        assert_int_equal(t.c[i].ev[SWIM_EV_JOIN], 2);

    gossip_member_t *ms = NULL;
    int n = gossip_members(t.g[0], &ms);
    assert_int_equal(n, 3);
    int selfs = 0;
    for (int i = 0; i < n; i++) {
        selfs += ms[i].self;
        assert_int_equal(ms[i].status, SWIM_ALIVE);
        assert_int_equal(ms[i].metalen, 3);
    }
    assert_int_equal(selfs, 1);
    free(ms);

    assert_int_equal(gossip_set_meta(t.g[2], (const uint8_t *)"v=2", 3), 0);
    assert_true(run_until(e, meta_seen, &t, 10000));

    /* the incarnation was persisted before use */
    uint64_t inc;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/c", e->dir);
    assert_int_equal(gossip_incarnation_load(dir, &inc), 0);
    assert_true(inc >= swim_incarnation(gossip_swim(t.g[2])));

    assert_int_equal(gossip_leave(t.g[2], 5000), 0);
    gossip_destroy(&t.g[2]);
    assert_null(t.g[2]);
    assert_true(run_until(e, left_seen, &t, 10000));
    gossip_stats_t st;
    gossip_get_stats(t.g[0], &st);
    assert_true(st.received > 0 && st.sent > 0);
    assert_int_equal(st.drop_crypto, 0);
    gossip_destroy(&t.g[0]);
    gossip_destroy(&t.g[1]);
    gossip_destroy(&t.g[1]); /* NULL is fine */
    END(e);
}

typedef struct pair {
    gossip_t *a;
} pair_t;

static int crypto_dropped(void *arg)
{
    pair_t *p = arg;
    gossip_stats_t st;
    gossip_get_stats(p->a, &st);
    return st.drop_crypto > 0;
}

static void test_wrong_key_is_dropped(void **state)
{
    env_t *e = *state;
    BEGIN(e);
    counts_t ca = {0}, cd = {0};
    char seed[64];
    snprintf(seed, sizeof seed, "127.0.0.1:%d", e->port + 3);
    pair_t p = {start(e, "a2", e->port + 3, "", e->kr, &ca)};
    gossip_t *d = start(e, "d", e->port + 4, seed, e->other, &cd);
    assert_true(run_until(e, crypto_dropped, &p, 10000));
    assert_int_equal(alive_count(p.a), 0);
    assert_int_equal(alive_count(d), 0);
    assert_int_equal(ca.ev[SWIM_EV_JOIN], 0);
    gossip_destroy(&d);
    gossip_destroy(&p.a);
    END(e);
}

typedef struct rawtest {
    gossip_t *a;
    uint64_t want_size, want_crypto, want_replay;
} rawtest_t;

static int raw_counted(void *arg)
{
    rawtest_t *r = arg;
    gossip_stats_t st;
    gossip_get_stats(r->a, &st);
    return st.drop_size >= r->want_size && st.drop_crypto >= r->want_crypto &&
           st.drop_replay >= r->want_replay;
}

static void test_garbage_short_and_replayed_packets(void **state)
{
    env_t *e = *state;
    BEGIN(e);
    counts_t ca = {0};
    rawtest_t r = {start(e, "a3", e->port + 5, "", e->kr, &ca), 1, 1, 1};
    void *dealer = zmq_socket(e->zctx, ZMQ_DEALER);
    char ep[64];
    int zero = 0;
    zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof zero);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", e->port + 5);
    assert_int_equal(zmq_connect(dealer, ep), 0);

    uint8_t junk[200];
    crypto_random(junk, sizeof junk);
    assert_true(zmq_send(dealer, junk, 10, 0) == 10);           /* too short */
    assert_true(zmq_send(dealer, junk, sizeof junk, 0) == 200); /* no key opens it */

    /* a valid sealed gossip frame from a stranger, sent twice */
    wire_buf_t b;
    wire_buf_init(&b);
    uint8_t sender[SWIM_ID_LEN];
    crypto_random(sender, sizeof sender);
    wire_begin(&b, WIRE_SWIM_GOSSIP, 0, sender);
    wire_put_u32(&b, 1);
    swim_update_encode(&b, SWIM_ALIVE, sender, 1, sender, "stranger", 8, "127.0.0.1:1", 11, NULL,
                       0);
    assert_int_equal(wire_end(&b), 0);
    uint8_t ct[512];
    size_t ctlen;
    assert_int_equal(crypto_seal(e->kr, (const uint8_t *)GOSSIP_AD, strlen(GOSSIP_AD), b.data,
                                 b.len, ct, sizeof ct, &ctlen),
                     0);
    assert_true(zmq_send(dealer, ct, ctlen, 0) == (int)ctlen);
    assert_true(zmq_send(dealer, ct, ctlen, 0) == (int)ctlen);
    assert_true(run_until(e, raw_counted, &r, 10000));
    gossip_stats_t st;
    gossip_get_stats(r.a, &st);
    assert_int_equal(st.drop_replay, 1);
    assert_int_equal(st.swim.msgs_in, 1); /* only the first copy reached the core */
    /* the stranger is now known (it may be suspected since it never answers) */
    swim_member_info_t mi;
    assert_int_equal(swim_member_find(gossip_swim(r.a), sender, &mi), 0);
    wire_buf_free(&b);
    zmq_close(dealer);
    gossip_destroy(&r.a);
    END(e);
}

static void test_peer_socket_cap(void **state)
{
    env_t *e = *state;
    BEGIN(e);
    gossip_config_t gc;
    fast(&gc, e, "lru", e->port + 6, "");
    gc.max_peers = 4;
    /* ten seeds nobody listens on: each join attempt needs its own socket */
    char list[512] = "";
    for (int i = 0; i < 10; i++) {
        char one[40];
        snprintf(one, sizeof one, "%s127.0.0.1:%d", i ? "," : "", e->port + 10 + i);
        strcat(list, one);
    }
    char err[256];
    assert_int_equal(gossip_parse_seeds(list, &gc, err, sizeof err), 0);
    node_identity_t idn;
    memset(&idn, 0, sizeof idn);
    crypto_random(idn.id, sizeof idn.id);
    counts_t c = {0};
    gossip_t *g =
        gossip_new(e->loop, e->zctx, &gc, &idn, e->kr, NULL, 0, on_event, &c, err, sizeof err);
    assert_non_null(g);
    gossip_stats_t st;
    gossip_get_stats(g, &st);
    assert_int_equal(st.peers_open, 4);
    assert_int_equal(st.peers_evicted, 6);
    for (int i = 0; i < 20; i++)
        loop_run_once(e->loop, 10);
    gossip_get_stats(g, &st);
    assert_true(st.peers_open <= 4);
    gossip_destroy(&g);
    END(e);
}

typedef struct named {
    gossip_t *a, *b;
} named_t;

static int named_joined(void *arg)
{
    named_t *n = arg;
    return alive_count(n->a) == 1 && alive_count(n->b) == 1;
}

static int named_failed(void *arg)
{
    named_t *n = arg;
    gossip_stats_t st;
    gossip_get_stats(n->b, &st);
    return st.resolve_failures > 0;
}

/* b joins a through a host name, beside a seed whose name resolves to
 * nothing (RFC 6761 .invalid): both are looked up on threads of their own,
 * so gossip_new returns with the packets held, the join completes through
 * the name that resolves, and the other is a counted failure, retried later,
 * never a socket that reconnects (and resolves) on libzmq's I/O thread. */
static void test_names_resolved_off_the_loop(void **state)
{
    env_t *e = *state;
    BEGIN(e);
    named_t n;
    char seeds[128];
    counts_t ca = {0}, cb = {0};
    n.a = start(e, "na", e->port + 30, "", e->kr, &ca);
    snprintf(seeds, sizeof seeds, "localhost:%d,petri-no-such-host.invalid:%d", e->port + 30,
             e->port + 32);
    n.b = start(e, "nb", e->port + 31, seeds, e->kr, &cb);
    gossip_stats_t st;
    gossip_get_stats(n.b, &st);
    assert_int_equal(st.sent, 0); /* both names still being looked up */
    assert_int_equal(st.resolve_failures, 0);
    assert_true(run_until(e, named_joined, &n, 10000));
    assert_int_equal(cb.ev[SWIM_EV_JOIN], 1);
    assert_true(run_until(e, named_failed, &n, 30000));
    gossip_get_stats(n.b, &st);
    assert_true(st.sent > 0);
    gossip_destroy(&n.b);
    gossip_destroy(&n.a);
    END(e);
}

static void test_bad_config_is_refused(void **state)
{
    env_t *e = *state;
    BEGIN(e);
    gossip_config_t gc;
    node_identity_t idn;
    memset(&idn, 0, sizeof idn);
    crypto_random(idn.id, sizeof idn.id);
    char err[256] = "";
    fast(&gc, e, "bad", e->port + 7, "");
    snprintf(gc.bind, sizeof gc.bind, "no-port");
    assert_null(
        gossip_new(e->loop, e->zctx, &gc, &idn, e->kr, NULL, 0, NULL, NULL, err, sizeof err));
    assert_true(err[0] != '\0');
    fast(&gc, e, "bad", e->port + 7, "");
    gc.swim.probe_timeout_ms = 5000;
    assert_null(
        gossip_new(e->loop, e->zctx, &gc, &idn, e->kr, NULL, 0, NULL, NULL, err, sizeof err));
    assert_non_null(strstr(err, "probe_timeout_ms"));
    END(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_incarnation_file),
        cmocka_unit_test(test_parse_seeds),
        cmocka_unit_test(test_three_members_over_zeromq),
        cmocka_unit_test(test_wrong_key_is_dropped),
        cmocka_unit_test(test_garbage_short_and_replayed_packets),
        cmocka_unit_test(test_peer_socket_cap),
        cmocka_unit_test(test_names_resolved_off_the_loop),
        cmocka_unit_test(test_bad_config_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
