/* test_work.c - the coordinator's work channel over real loopback sockets:
 * an agent proves its key (handshake) and gets a session; an item goes out
 * on credit, a signed result comes back and is accepted; unsealed bytes, a
 * bad signature, a result for nothing in flight and a wrongly keyed frame
 * are each dropped and counted, and change nothing. The attacks: a squatter
 * on the victim's routing id (with and without the cluster key), an
 * impersonator with the cluster key and its own key, replayed frames,
 * impossible capacity claims, and items an agent never answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "attest.h"
#include "err.h"
#include "crypto.h"
#include "loop.h"
#include "pop.h"
#include "wire.h"
#include "work.h"
#include "wsess.h"

/* A test agent: its own DEALER, identity and session. */
typedef struct fagent {
    void *sock;
    node_identity_t idn;
    uint8_t route[WSESS_ROUTE_LEN];
    wsess_t sess;
} fagent_t;

typedef struct fixture {
    loop_t *loop;
    void *zctx;
    keyring_t *kr;
    work_t *w;
    char ep[80];
    uint8_t coord_id[CRYPTO_ID_LEN];
    fagent_t a;            /* the agent most tests talk for */
    node_identity_t agent; /* == a.idn */
    void *dealer;          /* == a.sock */
    int results, capacity, expired;
    work_result_t last;
    work_item_t last_item;
    double last_errors[8];
    size_t last_nerrors;
    work_item_t expired_item;
    pop_t *pop;
} fixture_t;

static void on_result(void *arg, work_item_t *it, const work_result_t *r)
{
    fixture_t *f = arg;
    f->results++;
    f->last = *r;
    f->last_nerrors = r->nerrors < 8 ? r->nerrors : 8;
    if (f->last_nerrors)
        memcpy(f->last_errors, r->errors, f->last_nerrors * sizeof(double));
    f->last.errors = NULL; /* valid during the callback only */
    work_item_clear(&f->last_item);
    f->last_item = *it;
}

static void on_capacity(void *arg, const work_agent_t *a)
{
    (void)a;
    ((fixture_t *)arg)->capacity++;
}

static void on_expired(void *arg, work_item_t *it)
{
    fixture_t *f = arg;
    f->expired++;
    work_item_clear(&f->expired_item);
    f->expired_item = *it;
}

static void pump(fixture_t *f, int ms)
{
    uint64_t end = mono_ms() + (uint64_t)ms;
    while (mono_ms() < end)
        loop_run_once(f->loop, 10);
}

static void new_identity(node_identity_t *idn)
{
    crypto_sign_ed25519_keypair(idn->pk, idn->sk);
    crypto_id_from_pk(idn->pk, idn->id);
}

/* Connects a DEALER with routing id route (random when NULL). */
static void fa_connect(fixture_t *f, fagent_t *fa, const uint8_t *route)
{
    if (route)
        memcpy(fa->route, route, WSESS_ROUTE_LEN);
    else
        crypto_random(fa->route, sizeof fa->route);
    fa->route[0] |= 0x80;
    fa->sock = zmq_socket(f->zctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(fa->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(fa->sock, ZMQ_ROUTING_ID, fa->route, WSESS_ROUTE_LEN);
    assert_int_equal(zmq_connect(fa->sock, f->ep), 0);
    memset(&fa->sess, 0, sizeof fa->sess);
}

static void fa_close(fagent_t *fa)
{
    if (fa->sock)
        zmq_close(fa->sock);
    fa->sock = NULL;
}

/* Receives one message on fa's socket, pumping the coordinator meanwhile.
 * Returns its length (0 if none came within ms). */
static size_t fa_recv_raw(fixture_t *f, fagent_t *fa, uint8_t *buf, size_t cap, int ms)
{
    uint64_t end = mono_ms() + (uint64_t)ms;
    while (mono_ms() < end) {
        loop_run_once(f->loop, 5);
        int n = zmq_recv(fa->sock, buf, cap, ZMQ_DONTWAIT);
        if (n > 0)
            return (size_t)n;
    }
    return 0;
}

/* Receives the next frame for fa, opened; returns its type (0 if none). */
static int fa_recv(fixture_t *f, fagent_t *fa, keyring_t *kr, uint8_t *plain, size_t cap,
                   size_t *plen, int ms)
{
    uint8_t buf[65536];
    size_t n = fa_recv_raw(f, fa, buf, sizeof buf, ms);
    if (n == 0)
        return 0;
    int rc = buf[0] == WSESS_KIND_HS ? wsess_open_hs(kr, buf, n, plain, cap, plen)
                                     : wsess_open(&fa->sess, kr, buf, n, plain, cap, plen);
    if (rc)
        return -1;
    wire_hdr_t h;
    wire_rd_t r;
    assert_int_equal(wire_parse(plain, *plen, &h, &r), 0);
    return h.type;
}

static void fa_send_hs(fagent_t *fa, keyring_t *kr, wire_buf_t *b)
{
    assert_int_equal(wire_end(b), 0);
    uint8_t out[4096];
    size_t n = 0;
    assert_int_equal(wsess_seal_hs(kr, b->data, b->len, out, sizeof out, &n), 0);
    assert_true(zmq_send(fa->sock, out, n, 0) >= 0);
}

/* Seals b in fa's session and sends it; the sealed bytes land in out. */
static size_t fa_send(fagent_t *fa, keyring_t *kr, wire_buf_t *b, uint8_t *out, size_t cap)
{
    assert_int_equal(wire_end(b), 0);
    size_t n = 0;
    assert_int_equal(wsess_seal(&fa->sess, kr, b->data, b->len, out, cap, &n), 0);
    assert_true(zmq_send(fa->sock, out, n, 0) >= 0);
    return n;
}

/* Answers the CHALLENGE in plain with AUTH (claiming id with key idn;
 * corrupt flips a bit of the signature), then waits for WELCOME. Returns 1
 * if welcomed. */
static int fa_answer(fixture_t *f, fagent_t *fa, const uint8_t id[CRYPTO_ID_LEN],
                     const node_identity_t *idn, int corrupt, const uint8_t *plain, size_t plen)
{
    wire_hdr_t h;
    wire_rd_t r;
    assert_int_equal(wire_parse(plain, plen, &h, &r), 0);
    assert_int_equal(h.type, WIRE_WORK_CHALLENGE);
    assert_memory_equal(h.sender, f->coord_id, CRYPTO_ID_LEN);
    uint8_t cnonce[WSESS_NONCE_LEN], anonce[WSESS_NONCE_LEN], sid[WSESS_SID_LEN];
    uint8_t sig[CRYPTO_SIG_LEN];
    assert_int_equal(wire_get_raw(&r, cnonce, sizeof cnonce), 0);
    crypto_random(anonce, sizeof anonce);
    wsess_transcript(id, idn->pk, h.sender, fa->route, cnonce, anonce, sid);
    crypto_sign(idn, sid, sizeof sid, sig);
    if (corrupt)
        sig[3] ^= 1;
    wsess_init(&fa->sess, sid, 1);
    wire_buf_t b;
    wire_buf_init(&b);
    wire_begin(&b, WIRE_WORK_AUTH, 0, id);
    wire_put_raw(&b, idn->pk, CRYPTO_PK_LEN);
    wire_put_raw(&b, anonce, sizeof anonce);
    wire_put_raw(&b, sig, sizeof sig);
    fa_send_hs(fa, f->kr, &b);
    wire_buf_free(&b);
    uint8_t reply[4096];
    size_t rlen = 0;
    return fa_recv(f, fa, f->kr, reply, sizeof reply, &rlen, 300) == WIRE_WORK_WELCOME;
}

/* The handshake: OPEN, CHALLENGE, AUTH, WELCOME. Returns 1 if welcomed. */
static int fa_handshake_as(fixture_t *f, fagent_t *fa, const uint8_t id[CRYPTO_ID_LEN],
                           const node_identity_t *idn, int corrupt)
{
    wire_buf_t b;
    wire_buf_init(&b);
    wire_begin(&b, WIRE_WORK_OPEN, 0, id);
    fa_send_hs(fa, f->kr, &b);
    wire_buf_free(&b);
    uint8_t plain[4096];
    size_t plen = 0;
    assert_int_equal(fa_recv(f, fa, f->kr, plain, sizeof plain, &plen, 2000), WIRE_WORK_CHALLENGE);
    return fa_answer(f, fa, id, idn, corrupt, plain, plen);
}

static int fa_handshake(fixture_t *f, fagent_t *fa)
{
    return fa_handshake_as(f, fa, fa->idn.id, &fa->idn, 0);
}

static void put_hello(wire_buf_t *b, const node_identity_t *idn, uint32_t ready, uint32_t total,
                      uint32_t credit, uint32_t min_vms, uint32_t max_vms)
{
    wire_begin(b, WIRE_WORK_HELLO, 0, idn->id);
    wire_put_str(b, "agent-x");
    wire_put_raw(b, idn->pk, CRYPTO_PK_LEN);
    wire_put_u32(b, ready);
    wire_put_u32(b, total);
    wire_put_u32(b, credit);
    wire_put_u32(b, 0);
    wire_put_f64(b, 0);
    wire_put_u64(b, 0);
    wire_put_u32(b, min_vms);
    wire_put_u32(b, max_vms);
}

static void fa_hello(fixture_t *f, fagent_t *fa, uint32_t credit)
{
    wire_buf_t b;
    wire_buf_init(&b);
    put_hello(&b, &fa->idn, 2, 2, credit, 1, 4);
    uint8_t out[4096];
    fa_send(fa, f->kr, &b, out, sizeof out);
    wire_buf_free(&b);
}

static void hello(fixture_t *f, uint32_t credit)
{
    fa_hello(f, &f->a, credit);
}

/* Seals the frame in b with kr in the main agent's session and sends it. */
static void send_frame(fixture_t *f, keyring_t *kr, wire_buf_t *b)
{
    uint8_t out[65536];
    fa_send(&f->a, kr, b, out, sizeof out);
}

/* What a test result claims and how it is signed. */
typedef struct claim {
    uint32_t passed, cases;
    double cost;
    uint8_t reused;
    const double *errors;
    uint32_t nerrors;
    const attest_ext_t *signed_ext; /* sign this instead of the claim (tampering) */
    uint8_t breeder[WIRE_BREEDER_LEN];
    int old; /* an agent from before the breeder: no breeder, attest version 2 */
} claim_t;

/* Appends one RESULT item (population "p", deme 0, fitness 3) to b. */
static void put_claim(fixture_t *f, wire_buf_t *b, uint64_t dseq, const char *src, int bad_sig,
                      const claim_t *c)
{
    uint8_t h[CRYPTO_HASH_LEN], sig[CRYPTO_SIG_LEN];
    crypto_hash(src, strlen(src), h);
    attest_ext_t x = {.passed = c->passed,
                      .cases = c->cases,
                      .cost = c->cost,
                      .reused = c->reused,
                      .with_breeder = (uint8_t)!c->old};
    attest_errors_hash(c->errors, c->nerrors, x.errors_hash);
    memcpy(x.breeder, c->breeder, WIRE_BREEDER_LEN);
    assert_int_equal(attest_sign_v2(&f->agent, "p", 0, dseq, h, WIRE_ST_OK, 3.0,
                                    c->signed_ext ? c->signed_ext : &x, sig),
                     0);
    if (bad_sig)
        sig[5] ^= 1;
    wire_put_str(b, "p");
    wire_put_u32(b, 0);
    wire_put_u64(b, dseq);
    wire_put_u8(b, WIRE_ST_OK);
    wire_put_f64(b, 3.0);
    wire_put_str(b, "");
    wire_put_bytes(b, src, strlen(src));
    wire_put_raw(b, sig, sizeof sig);
    wire_put_u32(b, c->passed);
    wire_put_u32(b, c->cases);
    wire_put_f64(b, c->cost);
    wire_put_u8(b, c->reused);
    wire_put_u32(b, c->nerrors);
    for (uint32_t i = 0; i < c->nerrors; i++)
        wire_put_f64(b, c->errors[i]);
    if (!c->old)
        wire_put_raw(b, c->breeder, WIRE_BREEDER_LEN);
}

static void put_item(fixture_t *f, wire_buf_t *b, uint64_t dseq, const char *src, int bad_sig)
{
    claim_t c = {.passed = 1, .cases = 1};
    put_claim(f, b, dseq, src, bad_sig, &c);
}

/* A WIRE_WORK_RESULT frame with n items (credit 4, received 1), whose
 * items carry breeders unless old. */
static void begin_results_as(fixture_t *f, wire_buf_t *b, uint32_t n, int old)
{
    wire_buf_init(b);
    wire_begin(b, WIRE_WORK_RESULT, old ? 0 : WIRE_RESULT_BREEDER, f->agent.id);
    wire_put_u32(b, 4);
    wire_put_u64(b, 1);
    wire_put_u32(b, n);
}

static void begin_results(fixture_t *f, wire_buf_t *b, uint32_t n)
{
    begin_results_as(f, b, n, 0);
}

static void result(fixture_t *f, keyring_t *kr, uint64_t dseq, const char *src, int bad_sig)
{
    wire_buf_t b;
    begin_results(f, &b, 1);
    put_item(f, &b, dseq, src, bad_sig);
    send_frame(f, kr, &b);
    wire_buf_free(&b);
}

/* A free loopback port below Linux's ephemeral range (32768-60999): no
 * socket's automatic source port can take it before work_new binds it. */
static int free_port(void)
{
    uint32_t r;
    for (int tries = 0; tries < 1000; tries++) {
        crypto_random(&r, sizeof r);
        int port = 20000 + (int)(r % 12000), s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0;
        if (s >= 0)
            close(s);
        if (ok)
            return port;
    }
    fail_msg("no free loopback port in 20000-32000");
    return -1;
}

static int setup(void **state)
{
    static fixture_t f;
    memset(&f, 0, sizeof f);
    assert_int_equal(crypto_init(), 0);
    f.loop = loop_new();
    f.zctx = zmq_ctx_new();
    f.kr = keyring_new();
    uint8_t key[CRYPTO_KEY_LEN];
    crypto_random(key, sizeof key);
    keyring_add(f.kr, key);
    char err[256], bind[64];
    work_callbacks_t cb = {.result = on_result, .capacity = on_capacity, .expired = on_expired};
    int port = free_port();
    snprintf(bind, sizeof bind, "127.0.0.1:%d", port);
    snprintf(f.ep, sizeof f.ep, "tcp://%s", bind);
    crypto_random(f.coord_id, sizeof f.coord_id);
    f.w = work_new(f.loop, f.zctx, bind, f.kr, f.coord_id, &cb, &f, err, sizeof err);
    assert_non_null(f.w);
    new_identity(&f.a.idn);
    f.agent = f.a.idn;
    fa_connect(&f, &f.a, NULL);
    f.dealer = f.a.sock;
    assert_true(fa_handshake(&f, &f.a));
    json_t *spec = json_loads("{\"name\":\"p\",\"function\":\"f/1\",\"size\":8,\"demes\":1,"
                              "\"fitness\":{\"cases\":[{\"in\":[1],\"out\":1}]}}",
                              0, NULL);
    f.pop = pop_new(spec, 1, err, sizeof err);
    json_decref(spec);
    assert_non_null(f.pop);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    work_item_clear(&f->last_item);
    work_item_clear(&f->expired_item);
    fa_close(&f->a);
    work_destroy(&f->w);
    pop_destroy(&f->pop);
    zmq_ctx_term(f->zctx);
    keyring_destroy(&f->kr);
    loop_destroy(&f->loop);
    return 0;
}

static void test_credit_result_and_every_drop(void **state)
{
    fixture_t *f = *state;
    hello(f, 2);
    pump(f, 300);
    assert_int_equal(f->capacity, 1);
    assert_int_equal(work_stats(f->w)->sessions, 1);
    const work_agent_t *a = work_agent_find(f->w, f->agent.id);
    assert_non_null(a);
    assert_int_equal(work_agent_free(a), 2);

    work_item_t items[3];
    assert_int_equal(pop_reserve(f->pop, 0), 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pop_next_item(f->pop, 0, 8, &items[i]), 0);
    assert_int_equal(work_send(f->w, f->agent.id, f->pop, items, 3), ERR_LIMIT); /* credit 2 */
    assert_int_equal(work_send(f->w, f->agent.id, f->pop, items, 2), 0);
    work_item_clear(&items[2]);
    assert_int_equal(work_inflight(f->w), 2);
    assert_int_equal(work_agent_free(a), 0); /* sent, not yet received by the agent */
    uint64_t d1 = 1, d2 = 2;

    /* garbage that no key opens */
    uint8_t junk[100];
    crypto_random(junk, sizeof junk);
    junk[0] = 0x7f; /* neither a handshake nor a session frame */
    zmq_send(f->dealer, junk, sizeof junk, 0);
    /* a frame sealed with another cluster's key */
    keyring_t *other = keyring_new();
    uint8_t k2[CRYPTO_KEY_LEN];
    crypto_random(k2, sizeof k2);
    keyring_add(other, k2);
    result(f, other, d1, "-module(a).", 0);
    /* a bad signature */
    result(f, f->kr, d1, "-module(a).", 1);
    /* a result for nothing in flight */
    result(f, f->kr, 99, "-module(a).", 0);
    pump(f, 300);
    const work_stats_t *st = work_stats(f->w);
    assert_int_equal(f->results, 0);
    assert_int_equal(st->dropped_unsealed, 2);
    assert_int_equal(st->dropped_bad_sig, 1);
    assert_int_equal(st->dropped_unknown_item, 1);
    assert_int_equal(work_inflight(f->w), 2);

    /* the real thing is accepted once; a replay of it is dropped */
    result(f, f->kr, d2, "-module(b).", 0);
    result(f, f->kr, d2, "-module(b).", 0);
    pump(f, 300);
    assert_int_equal(f->results, 1);
    assert_int_equal(f->last_item.dseq, d2);
    assert_true(f->last.fitness == 3.0);
    assert_int_equal(st->dropped_unknown_item, 2);
    assert_int_equal(work_inflight(f->w), 1);
    keyring_destroy(&other);
}

/* Several results in one frame: a bad item is dropped alone; a truncated one
 * ends the frame but keeps the items before it. */
static void test_results_frame(void **state)
{
    fixture_t *f = *state;
    hello(f, 8);
    pump(f, 300);
    work_item_t items[4];
    assert_int_equal(pop_reserve(f->pop, 0), 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pop_next_item(f->pop, 0, 8, &items[i]), 0);
    uint64_t d[4];
    for (int i = 0; i < 4; i++)
        d[i] = items[i].dseq;
    assert_int_equal(work_send(f->w, f->agent.id, f->pop, items, 4), 0);

    wire_buf_t b;
    begin_results(f, &b, 3);
    put_item(f, &b, d[0], "-module(a).", 1); /* bad signature: dropped alone */
    put_item(f, &b, d[1], "-module(b).", 0);
    put_item(f, &b, d[2], "-module(c).", 0);
    send_frame(f, f->kr, &b);
    wire_buf_free(&b);
    pump(f, 300);
    const work_stats_t *st = work_stats(f->w);
    assert_int_equal(f->results, 2);
    assert_int_equal(st->dropped_bad_sig, 1);
    assert_int_equal(work_inflight(f->w), 2);

    /* announces 2 items, holds 1 and one torn before its signature */
    begin_results(f, &b, 2);
    put_item(f, &b, d[3], "-module(d).", 0);
    wire_put_str(&b, "p");
    wire_put_u32(&b, 0);
    wire_put_u64(&b, d[0]);
    wire_put_u8(&b, WIRE_ST_OK);
    wire_put_f64(&b, 1.0);
    wire_put_str(&b, "");
    char big[120];
    memset(big, 'x', sizeof big);
    wire_put_bytes(&b, big, sizeof big);
    send_frame(f, f->kr, &b);
    wire_buf_free(&b);
    pump(f, 300);
    assert_int_equal(f->results, 3);
    assert_int_equal(f->last_item.dseq, d[3]);
    assert_int_equal(st->dropped_malformed, 1);
    assert_int_equal(work_inflight(f->w), 1);
}

/* Sends one frame holding a single claimed result for dseq. */
static void send_claim(fixture_t *f, uint64_t dseq, const char *src, const claim_t *c)
{
    wire_buf_t b;
    begin_results_as(f, &b, 1, c->old);
    put_claim(f, &b, dseq, src, 0, c);
    send_frame(f, f->kr, &b);
    wire_buf_free(&b);
}

/* The per-case fields arrive with the result; changing any of them after
 * signing is a bad signature; truncated or garbled ones are malformed. */
static void test_result_ext(void **state)
{
    fixture_t *f = *state;
    hello(f, 8);
    pump(f, 300);
    work_item_t items[2];
    assert_int_equal(pop_reserve(f->pop, 0), 1);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pop_next_item(f->pop, 0, 8, &items[i]), 0);
    uint64_t d0 = items[0].dseq, d1 = items[1].dseq;
    assert_int_equal(work_send(f->w, f->agent.id, f->pop, items, 2), 0);
    const work_stats_t *st = work_stats(f->w);

    double errs[3] = {0, 2.5, 0.5}, other[3] = {0, 0, 0.5};
    claim_t honest = {.passed = 1, .cases = 3, .cost = 640, .errors = errs, .nerrors = 3};
    memset(honest.breeder, 0xb7, WIRE_BREEDER_LEN);
    attest_ext_t signed_x = {.passed = 1, .cases = 3, .cost = 640, .with_breeder = 1};
    attest_errors_hash(errs, 3, signed_x.errors_hash);
    memcpy(signed_x.breeder, honest.breeder, WIRE_BREEDER_LEN);

    /* tampered after signing: passed, one error value, cost, reused */
    claim_t t = honest;
    t.passed = 2;
    t.signed_ext = &signed_x;
    send_claim(f, d0, "-module(a).", &t);
    t = honest;
    t.errors = other;
    t.signed_ext = &signed_x;
    send_claim(f, d0, "-module(a).", &t);
    t = honest;
    t.cost = 1;
    t.signed_ext = &signed_x;
    send_claim(f, d0, "-module(a).", &t);
    t = honest;
    t.reused = 1;
    t.signed_ext = &signed_x;
    send_claim(f, d0, "-module(a).", &t);
    t = honest; /* the breeder: another VM's code claimed for the child */
    t.breeder[3] ^= 1;
    t.signed_ext = &signed_x;
    send_claim(f, d0, "-module(a).", &t);
    attest_ext_t v2 = signed_x; /* signed without the breeder (attest version 2) */
    v2.with_breeder = 0;
    t = honest;
    t.signed_ext = &v2;
    send_claim(f, d0, "-module(a).", &t);
    pump(f, 300);
    assert_int_equal(f->results, 0);
    assert_int_equal(st->dropped_bad_sig, 6);

    /* garbled: more passed than run, reused not 0/1, too many errors */
    t = honest;
    t.passed = 4;
    t.cases = 3;
    send_claim(f, d0, "-module(a).", &t);
    t = honest;
    t.reused = 7;
    send_claim(f, d0, "-module(a).", &t);
    wire_buf_t b;
    begin_results(f, &b, 1);
    put_claim(f, &b, d0, "-module(a).", 0, &(claim_t){.passed = 0, .cases = 0});
    b.len -= WIRE_BREEDER_LEN + 4; /* replace the empty errors list by a count past the cap */
    wire_put_u32(&b, SPEC_MAX_CASES + 1);
    for (int i = 0; i < 4; i++)
        wire_put_f64(&b, 0);
    send_frame(f, f->kr, &b);
    wire_buf_free(&b);
    /* truncated inside the errors list */
    begin_results(f, &b, 1);
    put_claim(f, &b, d0, "-module(a).", 0, &honest);
    b.len -= WIRE_BREEDER_LEN + 4;
    send_frame(f, f->kr, &b);
    wire_buf_free(&b);
    /* truncated inside the breeder */
    begin_results(f, &b, 1);
    put_claim(f, &b, d0, "-module(a).", 0, &honest);
    b.len -= 1;
    send_frame(f, f->kr, &b);
    wire_buf_free(&b);
    /* truncated before the extension */
    begin_results(f, &b, 1);
    put_claim(f, &b, d0, "-module(a).", 0, &(claim_t){0});
    b.len -= 4 + 4 + 8 + 1 + 4 + WIRE_BREEDER_LEN;
    send_frame(f, f->kr, &b);
    wire_buf_free(&b);
    pump(f, 300);
    assert_int_equal(f->results, 0);
    assert_int_equal(st->dropped_malformed, 6);
    assert_int_equal(work_inflight(f->w), 2);

    /* the honest one is taken, with its fields */
    send_claim(f, d0, "-module(a).", &honest);
    claim_t none = {.passed = 0, .cases = 0, .cost = 0, .reused = 1};
    send_claim(f, d1, "-module(b).", &none);
    pump(f, 300);
    assert_int_equal(f->results, 2);
    assert_int_equal(f->last_item.dseq, d1);
    assert_int_equal(f->last.reused, 1);
    assert_int_equal(f->last.nerrors, 0);
    assert_int_equal(work_inflight(f->w), 0);
    assert_int_equal(st->dropped_malformed, 6);
}

/* The first of the two results above, seen alone. */
static void test_result_ext_fields(void **state)
{
    fixture_t *f = *state;
    hello(f, 8);
    pump(f, 300);
    work_item_t it;
    assert_int_equal(pop_reserve(f->pop, 0), 1);
    assert_int_equal(pop_next_item(f->pop, 0, 8, &it), 0);
    uint64_t d = it.dseq;
    assert_int_equal(work_send(f->w, f->agent.id, f->pop, &it, 1), 0);
    double errs[3] = {0, 2.5, 0.5};
    claim_t honest = {.passed = 1, .cases = 3, .cost = 640, .errors = errs, .nerrors = 3};
    for (int i = 0; i < WIRE_BREEDER_LEN; i++)
        honest.breeder[i] = (uint8_t)(0xa0 + i);
    send_claim(f, d, "-module(a).", &honest);
    pump(f, 300);
    assert_int_equal(f->results, 1);
    assert_memory_equal(f->last.breeder, honest.breeder, WIRE_BREEDER_LEN);
    assert_true(f->last.has_breeder);
    assert_int_equal(f->last.passed, 1);
    assert_int_equal(f->last.cases, 3);
    assert_true(f->last.cost == 640);
    assert_int_equal(f->last.reused, 0);
    assert_int_equal(f->last_nerrors, 3);
    assert_true(f->last_errors[1] == 2.5 && f->last_errors[2] == 0.5);
    uint8_t h[CRYPTO_HASH_LEN];
    attest_errors_hash(errs, 3, h);
    assert_memory_equal(f->last.errors_hash, h, sizeof h);
}

/* An agent from before the breeder (its frames without the flag, its items
 * without a breeder, signed with attest version 2) is read as it always
 * was; an item claiming the other layout's signature is a bad signature. */
static void test_result_from_an_older_agent(void **state)
{
    fixture_t *f = *state;
    hello(f, 8);
    pump(f, 300);
    work_item_t it[2];
    assert_int_equal(pop_reserve(f->pop, 0), 1);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pop_next_item(f->pop, 0, 8, &it[i]), 0);
    uint64_t d0 = it[0].dseq, d1 = it[1].dseq; /* work_send takes the items */
    assert_int_equal(work_send(f->w, f->agent.id, f->pop, it, 2), 0);
    const work_stats_t *st = work_stats(f->w);
    double errs[2] = {0, 1};
    claim_t old = {.passed = 1, .cases = 2, .cost = 5, .errors = errs, .nerrors = 2, .old = 1};
    attest_ext_t v3 = {.passed = 1, .cases = 2, .cost = 5, .with_breeder = 1};
    attest_errors_hash(errs, 2, v3.errors_hash);
    claim_t t = old; /* the old layout, signed as the new one */
    t.signed_ext = &v3;
    send_claim(f, d0, "-module(a).", &t);
    pump(f, 300);
    assert_int_equal(f->results, 0);
    assert_int_equal(st->dropped_bad_sig, 1);
    send_claim(f, d0, "-module(a).", &old);
    pump(f, 300);
    assert_int_equal(f->results, 1);
    assert_false(f->last.has_breeder);
    assert_int_equal(f->last.passed, 1);
    assert_int_equal(f->last.cases, 2);
    static const uint8_t zero[WIRE_BREEDER_LEN];
    assert_memory_equal(f->last.breeder, zero, WIRE_BREEDER_LEN);
    /* and a new agent's item next to it, in a frame of its own */
    claim_t now = old;
    now.old = 0;
    memset(now.breeder, 0x3c, WIRE_BREEDER_LEN);
    send_claim(f, d1, "-module(b).", &now);
    pump(f, 300);
    assert_int_equal(f->results, 2);
    assert_true(f->last.has_breeder);
    assert_memory_equal(f->last.breeder, now.breeder, WIRE_BREEDER_LEN);
    assert_int_equal(st->dropped_malformed, 0);
}

/* Sends one item of population "p" to the main agent; returns its dseq. */
static uint64_t send_one(fixture_t *f)
{
    work_item_t it;
    pop_reserve(f->pop, 0);
    assert_int_equal(pop_next_item(f->pop, 0, 8, &it), 0);
    uint64_t dseq = it.dseq;
    assert_int_equal(work_send(f->w, f->agent.id, f->pop, &it, 1), 0);
    return dseq;
}

/* The main agent gets a batch and its HELLO is answered. */
static void assert_victim_works(fixture_t *f)
{
    uint8_t plain[65536];
    size_t plen = 0;
    hello(f, 4);
    assert_int_equal(fa_recv(f, &f->a, f->kr, plain, sizeof plain, &plen, 2000), WIRE_WORK_WELCOME);
    /* the WELCOME offers what this coordinator reads: breeders in RESULTs */
    wire_hdr_t wh;
    wire_rd_t wr;
    uint32_t features = 0;
    assert_int_equal(wire_parse(plain, plen, &wh, &wr), 0);
    assert_int_equal(wire_get_u32(&wr, &features), 0);
    assert_int_equal(features, WIRE_FEAT_BREEDER);
    const work_agent_t *a = work_agent_find(f->w, f->agent.id);
    assert_non_null(a);
    assert_true(a->session);
    assert_memory_equal(a->pk, f->agent.pk, CRYPTO_PK_LEN);
    send_one(f);
    assert_int_equal(fa_recv(f, &f->a, f->kr, plain, sizeof plain, &plen, 2000), WIRE_WORK_BATCH);
}

/* A squatter on the victim's routing ids, without and with the cluster key:
 * the victim keeps its session and keeps getting work, during and after. */
static void test_squatter(void **state)
{
    fixture_t *f = *state;
    assert_victim_works(f);
    const work_stats_t *st = work_stats(f->w);

    fagent_t sq[2] = {0};
    new_identity(&sq[0].idn);
    new_identity(&sq[1].idn);
    fa_connect(f, &sq[0], f->agent.id); /* the node id: public (GET /v1/members) */
    fa_connect(f, &sq[1], f->a.route);  /* the victim's very routing id */
    uint8_t junk[200];
    crypto_random(junk, sizeof junk);
    for (int i = 0; i < 2; i++) {
        /* without the key: bytes, a session frame nobody sealed */
        junk[0] = WSESS_KIND_SESSION;
        zmq_send(sq[i].sock, junk, sizeof junk, 0);
        junk[0] = WSESS_KIND_HS;
        zmq_send(sq[i].sock, junk, sizeof junk, 0);
        /* with the key: a HELLO for the victim in a session of its own making */
        wire_buf_t b;
        wire_buf_init(&b);
        put_hello(&b, &f->agent, 2, 2, 64, 1, 4);
        uint8_t out[4096];
        wsess_init(&sq[i].sess, junk + 100, 1);
        fa_send(&sq[i], f->kr, &b, out, sizeof out);
        wire_buf_free(&b);
    }
    pump(f, 300);
    assert_true(st->dropped_no_session >= 1); /* sq[0]; sq[1] is ignored by ZeroMQ itself */
    assert_int_equal(st->sessions, 1);
    assert_int_equal(st->sessions_replaced, 0);
    assert_victim_works(f);

    /* the squatter on the node id tries the handshake as the victim: it
     * cannot sign for the victim's key, whichever key it presents */
    assert_false(fa_handshake_as(f, &sq[0], f->agent.id, &sq[0].idn, 0));
    assert_int_equal(st->auth_refused_key, 1);
    node_identity_t fake = f->agent;
    crypto_sign_ed25519_keypair(fake.pk + 0, fake.sk); /* another key */
    memcpy(fake.pk, f->agent.pk, CRYPTO_PK_LEN);       /* claims the victim's key */
    assert_false(fa_handshake_as(f, &sq[0], f->agent.id, &fake, 0));
    assert_int_equal(st->auth_refused_sig, 1);
    assert_int_equal(st->sessions, 1);
    assert_victim_works(f);

    /* the squatters leave: nothing changes for the victim */
    fa_close(&sq[0]);
    fa_close(&sq[1]);
    pump(f, 100);
    assert_victim_works(f);
    assert_int_equal(st->sessions, 1);
}

/* The agent on a new connection (restarted, or shut out of its old one)
 * takes its session over by proving its key; the old connection is then
 * told to start over. */
static void test_takeover_needs_the_key(void **state)
{
    fixture_t *f = *state;
    assert_victim_works(f);
    fagent_t again = {0};
    again.idn = f->agent;
    fa_connect(f, &again, NULL);
    assert_true(fa_handshake(f, &again));
    const work_stats_t *st = work_stats(f->w);
    assert_int_equal(st->sessions, 2);
    assert_int_equal(st->sessions_replaced, 1);
    const work_agent_t *a = work_agent_find(f->w, f->agent.id);
    assert_memory_equal(a->route, again.route, WSESS_ROUTE_LEN);
    /* the old connection's frames now get one challenge (a second would
     * void the answer to the first) */
    uint8_t plain[4096], other[4096];
    size_t plen = 0, olen = 0;
    hello(f, 4);
    hello(f, 4);
    assert_int_equal(fa_recv(f, &f->a, f->kr, plain, sizeof plain, &plen, 2000),
                     WIRE_WORK_CHALLENGE);
    assert_int_equal(fa_recv(f, &f->a, f->kr, other, sizeof other, &olen, 300), 0);
    fa_hello(f, &again, 4);
    assert_int_equal(fa_recv(f, &again, f->kr, other, sizeof other, &olen, 2000),
                     WIRE_WORK_WELCOME);
    /* answering it (as after a coordinator restart) takes the session back */
    assert_true(fa_answer(f, &f->a, f->agent.id, &f->agent, 0, plain, plen));
    assert_int_equal(st->sessions_replaced, 2);
    assert_memory_equal(a->route, f->a.route, WSESS_ROUTE_LEN);
    assert_victim_works(f);
    fa_close(&again);
}

/* An impersonator with the cluster key and a key of its own: refused as
 * the victim; with a session under its own id, frames naming the victim are
 * dropped; nothing is recorded under the victim's id. */
static void test_impersonator(void **state)
{
    fixture_t *f = *state;
    hello(f, 4);
    pump(f, 200);
    uint64_t d = send_one(f);
    const work_stats_t *st = work_stats(f->w);
    fagent_t imp = {0};
    new_identity(&imp.idn);
    fa_connect(f, &imp, NULL);
    assert_false(fa_handshake_as(f, &imp, f->agent.id, &imp.idn, 0));
    assert_int_equal(st->auth_refused_key, 1);
    const work_agent_t *a = work_agent_find(f->w, f->agent.id);
    assert_memory_equal(a->pk, f->agent.pk, CRYPTO_PK_LEN);
    assert_memory_equal(a->route, f->a.route, WSESS_ROUTE_LEN);

    /* AUTH with no challenge: refused */
    fagent_t late = {0};
    new_identity(&late.idn);
    fa_connect(f, &late, NULL);
    wire_buf_t b;
    wire_buf_init(&b);
    wire_begin(&b, WIRE_WORK_AUTH, 0, late.idn.id);
    uint8_t zeros[WSESS_NONCE_LEN + CRYPTO_SIG_LEN] = {0};
    wire_put_raw(&b, late.idn.pk, CRYPTO_PK_LEN);
    wire_put_raw(&b, zeros, sizeof zeros);
    fa_send_hs(&late, f->kr, &b);
    pump(f, 200);
    assert_int_equal(st->auth_no_challenge, 1);
    fa_close(&late);

    /* its own id: a session, but no voice for the victim */
    fa_close(&imp);
    fa_connect(f, &imp, NULL);
    assert_true(fa_handshake(f, &imp));
    wire_buf_reset(&b);
    put_hello(&b, &f->agent, 2, 2, 64, 1, 4); /* names the victim */
    uint8_t out[4096];
    fa_send(&imp, f->kr, &b, out, sizeof out);
    wire_buf_reset(&b);
    wire_begin(&b, WIRE_WORK_RESULT, 0, f->agent.id);
    wire_put_u32(&b, 4);
    wire_put_u64(&b, 1);
    wire_put_u32(&b, 1);
    uint8_t h[CRYPTO_HASH_LEN], sig[CRYPTO_SIG_LEN];
    crypto_hash("x", 1, h);
    assert_int_equal(attest_sign(&imp.idn, "p", 0, d, h, WIRE_ST_OK, 0.0, sig), 0);
    wire_put_str(&b, "p");
    wire_put_u32(&b, 0);
    wire_put_u64(&b, d);
    wire_put_u8(&b, WIRE_ST_OK);
    wire_put_f64(&b, 0.0);
    wire_put_str(&b, "");
    wire_put_bytes(&b, "x", 1);
    wire_put_raw(&b, sig, sizeof sig);
    fa_send(&imp, f->kr, &b, out, sizeof out);
    wire_buf_free(&b);
    pump(f, 300);
    assert_int_equal(f->results, 0);
    assert_int_equal(work_inflight(f->w), 1);
    assert_int_equal(st->dropped_malformed, 2); /* both frames named another node */
    a = work_agent_find(f->w, f->agent.id);
    assert_int_equal(a->results, 0);
    assert_memory_equal(a->pk, f->agent.pk, CRYPTO_PK_LEN);
    fa_close(&imp);
    assert_victim_works(f);
}

/* A captured session frame replayed, in its session or another, is dropped. */
static void test_replay(void **state)
{
    fixture_t *f = *state;
    hello(f, 4);
    pump(f, 200);
    uint64_t d = send_one(f);
    wire_buf_t b;
    begin_results(f, &b, 1);
    put_item(f, &b, d, "-module(r).", 0);
    uint8_t out[65536];
    size_t n = fa_send(&f->a, f->kr, &b, out, sizeof out);
    wire_buf_free(&b);
    pump(f, 300);
    assert_int_equal(f->results, 1);
    const work_stats_t *st = work_stats(f->w);
    zmq_send(f->dealer, out, n, 0); /* the same bytes again */
    pump(f, 300);
    assert_int_equal(st->dropped_replay, 1);
    assert_int_equal(f->results, 1);
    /* the same item is sent again (as after a re-issue); the old result's
     * bytes are still a replay */
    d = send_one(f);
    zmq_send(f->dealer, out, n, 0);
    pump(f, 300);
    assert_int_equal(st->dropped_replay, 2);
    /* into a new session of the same agent: does not open there */
    fagent_t again = {0};
    again.idn = f->agent;
    fa_connect(f, &again, NULL);
    assert_true(fa_handshake(f, &again));
    uint64_t unsealed = st->dropped_unsealed;
    zmq_send(again.sock, out, n, 0);
    pump(f, 300);
    assert_int_equal(st->dropped_unsealed, unsealed + 1);
    assert_int_equal(f->results, 1);
    assert_true(work_is_inflight(f->w, "p", 0, d));
    fa_close(&again);
}

/* Impossible capacity claims are refused, not trusted. */
static void test_hello_bounds(void **state)
{
    fixture_t *f = *state;
    const uint32_t bad[][5] = {
        {3, 2, 8, 1, 4},       /* vms_ready > vms_total */
        {2, 5, 8, 1, 4},       /* vms_total > max_vms */
        {2, 2, 8, 5, 4},       /* min_vms > max_vms */
        {2, 2, 8, 1, 100000},  /* max_vms absurd */
        {2, 2, 4000000, 1, 4}, /* credit absurd */
        {0, 2, 8, 1, 4},       /* credit with no ready VM */
    };
    const work_stats_t *st = work_stats(f->w);
    uint8_t out[4096];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wire_buf_t b;
        wire_buf_init(&b);
        put_hello(&b, &f->agent, bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4]);
        fa_send(&f->a, f->kr, &b, out, sizeof out);
        wire_buf_free(&b);
    }
    pump(f, 300);
    assert_int_equal(st->hello_refused, sizeof bad / sizeof bad[0]);
    const work_agent_t *a = work_agent_find(f->w, f->agent.id);
    assert_int_equal(a->last_hello_ms, 0);
    assert_int_equal(work_agent_free(a), 0);
    assert_int_equal(f->capacity, 0);
    hello(f, 4);
    pump(f, 200);
    assert_int_equal(f->capacity, 1);
    assert_int_equal(a->vms_ready, 2);
}

/* The breeders a HELLO names (appended): kept per agent, replaced by the
 * next HELLO; none from an agent that predates them; more than
 * WIRE_MAX_BREEDERS, or a list cut short, is refused, not half read. */
static void test_hello_breeders(void **state)
{
    fixture_t *f = *state;
    const work_stats_t *st = work_stats(f->w);
    uint8_t out[4096], b1[WIRE_BREEDER_LEN], b2[WIRE_BREEDER_LEN];
    memset(b1, 0xb1, sizeof b1);
    memset(b2, 0xb2, sizeof b2);
    wire_buf_t b;
    wire_buf_init(&b);
    put_hello(&b, &f->agent, 2, 2, 8, 1, 4);
    wire_put_u32(&b, 2);
    wire_put_raw(&b, b1, sizeof b1);
    wire_put_raw(&b, b2, sizeof b2);
    fa_send(&f->a, f->kr, &b, out, sizeof out);
    pump(f, 200);
    const work_agent_t *a = work_agent_find(f->w, f->agent.id);
    assert_int_equal(a->nbreeders, 2);
    assert_memory_equal(a->breeders[0], b1, sizeof b1);
    assert_memory_equal(a->breeders[1], b2, sizeof b2);
    /* an older agent's HELLO: no breeders any more */
    hello(f, 4);
    pump(f, 200);
    assert_int_equal(a->nbreeders, 0);
    assert_int_equal(st->hello_refused, 0);
    /* nine breeders: refused whole */
    wire_buf_reset(&b);
    put_hello(&b, &f->agent, 2, 2, 8, 1, 4);
    wire_put_u32(&b, WIRE_MAX_BREEDERS + 1);
    for (int i = 0; i <= WIRE_MAX_BREEDERS; i++)
        wire_put_raw(&b, b1, sizeof b1);
    fa_send(&f->a, f->kr, &b, out, sizeof out);
    pump(f, 200);
    assert_int_equal(st->hello_refused, 1);
    /* two announced, one and a half sent: malformed */
    uint64_t malformed = st->dropped_malformed;
    wire_buf_reset(&b);
    put_hello(&b, &f->agent, 2, 2, 8, 1, 4);
    wire_put_u32(&b, 2);
    wire_put_raw(&b, b1, sizeof b1);
    wire_put_raw(&b, b2, sizeof b2 / 2);
    fa_send(&f->a, f->kr, &b, out, sizeof out);
    pump(f, 200);
    assert_int_equal(st->dropped_malformed, malformed + 1);
    assert_int_equal(a->nbreeders, 0);
    assert_int_equal(a->credit, 4); /* the last HELLO taken stands */
    wire_buf_free(&b);
}

/* An item the agent never answers (dropped: malformed, out of memory) is
 * handed back after its expiry; a late result for it is dropped. */
static void test_expiry(void **state)
{
    fixture_t *f = *state;
    work_set_expiry(f->w, 1, 100);
    hello(f, 4);
    pump(f, 200);
    uint64_t d = send_one(f);
    assert_int_equal(work_agent_find(f->w, f->agent.id)->inflight, 1);
    uint64_t end = mono_ms() + 5000;
    while (f->expired == 0 && mono_ms() < end)
        loop_run_once(f->loop, 10);
    assert_int_equal(f->expired, 1);
    assert_int_equal(f->expired_item.dseq, d);
    assert_int_equal(work_inflight(f->w), 0);
    assert_int_equal(work_stats(f->w)->expired, 1);
    assert_int_equal(work_agent_find(f->w, f->agent.id)->inflight, 0);
    result(f, f->kr, d, "-module(late).", 0);
    pump(f, 300);
    assert_int_equal(f->results, 0);
    assert_int_equal(work_stats(f->w)->dropped_unknown_item, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_credit_result_and_every_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_results_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_ext, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_ext_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_from_an_older_agent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_squatter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_takeover_needs_the_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_impersonator, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hello_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hello_breeders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
