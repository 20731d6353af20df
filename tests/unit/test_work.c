/* test_work.c - the coordinator's work channel over real loopback sockets:
 * an item goes out on credit, a signed result comes back and is accepted;
 * unsealed bytes, a bad signature, a result for nothing in flight and a
 * wrongly keyed frame are each dropped and counted, and change nothing. */
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

typedef struct fixture {
    loop_t *loop;
    void *zctx;
    keyring_t *kr;
    work_t *w;
    void *dealer;
    node_identity_t agent;
    int results, capacity;
    work_result_t last;
    work_item_t last_item;
    double last_errors[8];
    size_t last_nerrors;
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

static void pump(fixture_t *f, int ms)
{
    uint64_t end = mono_ms() + (uint64_t)ms;
    while (mono_ms() < end)
        loop_run_once(f->loop, 10);
}

/* Seals the frame in b with kr and sends it from the agent's DEALER. */
static void send_frame(fixture_t *f, keyring_t *kr, wire_buf_t *b)
{
    assert_int_equal(wire_end(b), 0);
    uint8_t out[65536];
    size_t n = 0;
    assert_int_equal(crypto_seal(kr, (const uint8_t *)WORK_AD, strlen(WORK_AD), b->data, b->len,
                                 out, sizeof out, &n),
                     0);
    assert_true(zmq_send(f->dealer, out, n, 0) >= 0);
}

static void hello(fixture_t *f, uint32_t credit)
{
    wire_buf_t b;
    wire_buf_init(&b);
    wire_begin(&b, WIRE_WORK_HELLO, 0, f->agent.id);
    wire_put_str(&b, "agent-x");
    wire_put_raw(&b, f->agent.pk, CRYPTO_PK_LEN);
    wire_put_u32(&b, 2);
    wire_put_u32(&b, 2);
    wire_put_u32(&b, credit);
    wire_put_u32(&b, 0);
    wire_put_f64(&b, 0);
    wire_put_u64(&b, 0);
    wire_put_u32(&b, 1);
    wire_put_u32(&b, 4);
    send_frame(f, f->kr, &b);
    wire_buf_free(&b);
}

/* What a test result claims and how it is signed. */
typedef struct claim {
    uint32_t passed, cases;
    double cost;
    uint8_t reused;
    const double *errors;
    uint32_t nerrors;
    const attest_ext_t *signed_ext; /* sign this instead of the claim (tampering) */
} claim_t;

/* Appends one RESULT item (population "p", deme 0, fitness 3) to b. */
static void put_claim(fixture_t *f, wire_buf_t *b, uint64_t dseq, const char *src, int bad_sig,
                      const claim_t *c)
{
    uint8_t h[CRYPTO_HASH_LEN], sig[CRYPTO_SIG_LEN];
    crypto_hash(src, strlen(src), h);
    attest_ext_t x = {.passed = c->passed, .cases = c->cases, .cost = c->cost, .reused = c->reused};
    attest_errors_hash(c->errors, c->nerrors, x.errors_hash);
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
}

static void put_item(fixture_t *f, wire_buf_t *b, uint64_t dseq, const char *src, int bad_sig)
{
    claim_t c = {.passed = 1, .cases = 1};
    put_claim(f, b, dseq, src, bad_sig, &c);
}

/* A WIRE_WORK_RESULT frame with n items (credit 4, received 1). */
static void begin_results(fixture_t *f, wire_buf_t *b, uint32_t n)
{
    wire_buf_init(b);
    wire_begin(b, WIRE_WORK_RESULT, 0, f->agent.id);
    wire_put_u32(b, 4);
    wire_put_u64(b, 1);
    wire_put_u32(b, n);
}

static void result(fixture_t *f, keyring_t *kr, uint64_t dseq, const char *src, int bad_sig)
{
    wire_buf_t b;
    begin_results(f, &b, 1);
    put_item(f, &b, dseq, src, bad_sig);
    send_frame(f, kr, &b);
    wire_buf_free(&b);
}

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
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
    char err[256], bind[64], ep[80];
    work_callbacks_t cb = {.result = on_result, .capacity = on_capacity};
    int port = free_port();
    snprintf(bind, sizeof bind, "127.0.0.1:%d", port);
    snprintf(ep, sizeof ep, "tcp://%s", bind);
    f.w = work_new(f.loop, f.zctx, bind, f.kr, &cb, &f, err, sizeof err);
    assert_non_null(f.w);
    crypto_random(f.agent.id, sizeof f.agent.id);
    crypto_sign_ed25519_keypair(f.agent.pk, f.agent.sk);
    f.dealer = zmq_socket(f.zctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(f.dealer, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(f.dealer, ZMQ_ROUTING_ID, f.agent.id, CRYPTO_ID_LEN);
    assert_int_equal(zmq_connect(f.dealer, ep), 0);
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
    zmq_close(f->dealer);
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
    begin_results(f, &b, 1);
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
    attest_ext_t signed_x = {.passed = 1, .cases = 3, .cost = 640};
    attest_errors_hash(errs, 3, signed_x.errors_hash);

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
    pump(f, 300);
    assert_int_equal(f->results, 0);
    assert_int_equal(st->dropped_bad_sig, 4);

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
    b.len -= 4; /* replace the empty errors list by a count past the cap */
    wire_put_u32(&b, SPEC_MAX_CASES + 1);
    for (int i = 0; i < 4; i++)
        wire_put_f64(&b, 0);
    send_frame(f, f->kr, &b);
    wire_buf_free(&b);
    /* truncated inside the errors list */
    begin_results(f, &b, 1);
    put_claim(f, &b, d0, "-module(a).", 0, &honest);
    b.len -= 4;
    send_frame(f, f->kr, &b);
    wire_buf_free(&b);
    /* truncated before the extension */
    begin_results(f, &b, 1);
    put_claim(f, &b, d0, "-module(a).", 0, &(claim_t){0});
    b.len -= 4 + 4 + 8 + 1 + 4;
    send_frame(f, f->kr, &b);
    wire_buf_free(&b);
    pump(f, 300);
    assert_int_equal(f->results, 0);
    assert_int_equal(st->dropped_malformed, 5);
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
    assert_int_equal(st->dropped_malformed, 5);
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
    send_claim(f, d, "-module(a).", &honest);
    pump(f, 300);
    assert_int_equal(f->results, 1);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_credit_result_and_every_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_results_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_ext, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_ext_fields, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
