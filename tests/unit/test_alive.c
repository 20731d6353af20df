/* test_alive.c - the daemon's live commands (agent/alive.c) without a VM:
 * every command it cannot act on is answered by one signed LIVE_EVENT
 * failed (or refused) naming why, malformed frames by nothing, and events
 * wait for a session in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alive.h"
#include "attest.h"
#include "err.h"
#include "wire.h"
#include "wire_live.h"

static node_identity_t idn;

typedef struct cap {
    int up; /* a session is up */
    wire_buf_t frames[16];
    int n;
} cap_t;

static int capture(void *arg, const uint8_t *frame, size_t len)
{
    cap_t *c = arg;
    if (!c->up)
        return ERR_STATE;
    assert_true(c->n < 16);
    wire_buf_init(&c->frames[c->n]);
    wire_put_raw(&c->frames[c->n], frame, len);
    c->n++;
    return 0;
}

static void cap_free(cap_t *c)
{
    for (int i = 0; i < c->n; i++)
        wire_buf_free(&c->frames[i]);
    c->n = 0;
}

typedef struct ev {
    char pop[WIRE_POP_MAX + 1], op[WIRE_OP_MAX + 1], reason[WIRE_LIVE_REASON_MAX];
    uint32_t ind, version, probation;
    uint64_t inc, upid, at_seq, seed;
    uint8_t kind, child[32];
    const uint8_t *snap, *src;
    uint32_t snap_len, src_len;
    int sig_ok;
} ev_t;

static void parse_event(const wire_buf_t *b, ev_t *e)
{
    wire_hdr_t h;
    wire_rd_t r;
    uint8_t sig[CRYPTO_SIG_LEN];
    attest_live_t x = {0};
    memset(e, 0, sizeof *e);
    assert_int_equal(wire_parse(b->data, b->len, &h, &r), 0);
    assert_int_equal(h.type, WIRE_WORK_LIVE_EVENT);
    assert_memory_equal(h.sender, idn.id, WIRE_ID_LEN);
    wire_get_str(&r, e->pop, sizeof e->pop);
    wire_get_u32(&r, &e->ind);
    wire_get_u64(&r, &e->inc);
    wire_get_u8(&r, &e->kind);
    wire_get_u64(&r, &e->upid);
    wire_get_u32(&r, &x.version);
    wire_get_u64(&r, &e->at_seq);
    wire_get_str(&r, e->op, sizeof e->op);
    wire_get_u64(&r, &e->seed);
    wire_get_raw(&r, e->child, 32);
    wire_get_raw(&r, x.parent_hash, 32);
    wire_get_raw(&r, x.state_before, 32);
    wire_get_raw(&r, x.state_after, 32);
    wire_get_f64(&r, &x.parent_score);
    wire_get_f64(&r, &x.child_score);
    wire_get_u32(&r, &x.probation);
    wire_get_str(&r, e->reason, sizeof e->reason);
    wire_get_bytes(&r, &e->snap, &e->snap_len, WIRE_LIVE_SNAPSHOT_MAX);
    wire_get_bytes(&r, &e->src, &e->src_len, 1u << 22);
    assert_int_equal(wire_get_raw(&r, sig, sizeof sig), 0);
    assert_int_equal(r.left, 0);
    x.kind = e->kind;
    x.status = (uint8_t)wire_live_status(e->kind);
    attest_reason_hash(e->reason, strlen(e->reason), x.reason_hash);
    e->version = x.version;
    e->sig_ok = attest_verify_live(idn.pk, e->pop, e->ind, e->upid, e->child, &x, sig) == 0;
}

/* A WIRE_WORK_LIVE frame: the head, then what put adds. */
static void command(alive_t *a, const char *pop, uint32_t ind, uint64_t inc, uint8_t cmd,
                    void (*put)(wire_buf_t *))
{
    wire_buf_t b;
    wire_buf_init(&b);
    wire_begin(&b, WIRE_WORK_LIVE, 0, NULL);
    wire_put_str(&b, pop);
    wire_put_u32(&b, ind);
    wire_put_u64(&b, inc);
    wire_put_u8(&b, cmd);
    if (put)
        put(&b);
    assert_int_equal(wire_end(&b), 0);
    wire_hdr_t h;
    wire_rd_t r;
    assert_int_equal(wire_parse(b.data, b.len, &h, &r), 0);
    alive_command(a, &r);
    wire_buf_free(&b);
}

static const char *src_text = "-module(g).\n-export([init/1, handle/2]).\n";

static void put_start(wire_buf_t *b, const char *spec, uint8_t lang)
{
    wire_put_bytes(b, spec, strlen(spec));
    wire_put_bytes(b, "{\"req\":1}\n", 10);
    wire_put_bytes(b, NULL, 0);
    wire_put_u8(b, lang);
    wire_put_bytes(b, src_text, strlen(src_text));
    wire_put_u32(b, 1);
    wire_put_bytes(b, NULL, 0);
    wire_put_u32(b, 0);
}

static void put_bad_spec(wire_buf_t *b)
{
    put_start(b, "{\"limitz\":{}}", 0);
}

static void put_bad_trace(wire_buf_t *b)
{
    wire_put_bytes(b, "{}", 2);
    wire_put_bytes(b, "{\"req\":{\"$atom\":\"nope\"}}", 24);
    wire_put_bytes(b, NULL, 0);
    wire_put_u8(b, 0);
    wire_put_bytes(b, src_text, strlen(src_text));
    wire_put_u32(b, 1);
    wire_put_bytes(b, NULL, 0);
    wire_put_u32(b, 0);
}

static void put_elvish(wire_buf_t *b)
{
    put_start(b, "{}", 7);
}

static void put_truncated(wire_buf_t *b)
{
    wire_put_bytes(b, "{}", 2);
}

static void put_upgrade(wire_buf_t *b)
{
    wire_put_u64(b, 5);
    wire_put_str(b, "external");
    wire_put_u64(b, 0);
    wire_put_u32(b, 0);
    wire_put_bytes(b, src_text, strlen(src_text));
    wire_put_u32(b, 0);
    wire_put_u8(b, 1);
}

static void expect_one(cap_t *c, int kind, uint32_t ind, const char *why)
{
    assert_int_equal(c->n, 1);
    ev_t e;
    parse_event(&c->frames[0], &e);
    assert_true(e.sig_ok);
    assert_int_equal(e.kind, kind);
    assert_int_equal(e.ind, ind);
    assert_string_equal(e.pop, "pop");
    if (!strstr(e.reason, why)) {
        fprintf(stderr, "reason '%s' lacks '%s'\n", e.reason, why);
        fail();
    }
    cap_free(c);
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(crypto_init(), 0);
    crypto_sign_ed25519_keypair(idn.pk, idn.sk);
    crypto_random(idn.id, sizeof idn.id);
    return 0;
}

static void test_commands_it_cannot_act_on_are_answered(void **state)
{
    (void)state;
    loop_t *l = loop_new();
    cap_t c = {.up = 1};
    alive_t *a = alive_new(l, NULL, &idn, 4, capture, &c);
    assert_non_null(a);

    command(a, "pop", 1, 7, WIRE_LIVE_CMD_START, put_bad_spec);
    assert_int_equal(c.n, 1);
    ev_t e;
    parse_event(&c.frames[0], &e);
    assert_true(e.sig_ok);
    assert_int_equal(e.inc, 7);
    uint8_t h[32];
    crypto_hash(src_text, strlen(src_text), h);
    assert_memory_equal(e.child, h, 32); /* the source it was asked to run */
    assert_int_equal(e.src_len, 0);      /* not the agent's to send back */
    expect_one(&c, WIRE_LIVE_FAILED, 1, "bad live spec: limitz: unknown key");

    command(a, "pop", 2, 1, WIRE_LIVE_CMD_START, put_bad_trace);
    expect_one(&c, WIRE_LIVE_FAILED, 2, "trace line 1.req");
    command(a, "pop", 3, 1, WIRE_LIVE_CMD_START, put_elvish);
    expect_one(&c, WIRE_LIVE_FAILED, 3, "unknown language 7");
    command(a, "pop", 4, 1, WIRE_LIVE_CMD_START, put_truncated);
    expect_one(&c, WIRE_LIVE_FAILED, 4, "malformed START");
    command(a, "pop", 5, 1, WIRE_LIVE_CMD_UPGRADE, put_upgrade);
    expect_one(&c, WIRE_LIVE_FAILED, 5, "no live individual pop/5");
    command(a, "pop", 5, 1, WIRE_LIVE_CMD_STOP, NULL);
    expect_one(&c, WIRE_LIVE_FAILED, 5, "no live individual");
    command(a, "pop", 5, 1, 42, NULL);
    expect_one(&c, WIRE_LIVE_FAILED, 5, "unknown live command 42");
    assert_int_equal(alive_count(a), 0);

    /* a head that does not parse: dropped, nothing said */
    wire_buf_t b;
    wire_buf_init(&b);
    wire_begin(&b, WIRE_WORK_LIVE, 0, NULL);
    wire_put_str(&b, "pop");
    wire_end(&b);
    wire_hdr_t hd;
    wire_rd_t r;
    assert_int_equal(wire_parse(b.data, b.len, &hd, &r), 0);
    alive_command(a, &r);
    assert_int_equal(c.n, 0);
    wire_buf_free(&b);

    /* shutting down: no new individual */
    alive_stop_all(a);
    command(a, "pop", 6, 1, WIRE_LIVE_CMD_START, put_bad_spec);
    expect_one(&c, WIRE_LIVE_FAILED, 6, "shutting down");
    json_t *j = alive_status_json(a);
    assert_int_equal(json_integer_value(json_object_get(j, "commands")),
                     8); /* the malformed one not */
    json_decref(j);
    alive_destroy(&a);
    assert_null(a);
    alive_destroy(&a);
    loop_destroy(&l);
}

static void test_max_individuals(void **state)
{
    (void)state;
    loop_t *l = loop_new();
    cap_t c = {.up = 1};
    alive_t *a = alive_new(l, NULL, &idn, 0, capture, &c);
    command(a, "pop", 1, 1, WIRE_LIVE_CMD_START, put_bad_spec);
    expect_one(&c, WIRE_LIVE_FAILED, 1, "max_individuals");
    alive_destroy(&a);
    loop_destroy(&l);
}

static void test_events_wait_for_a_session_in_order(void **state)
{
    (void)state;
    loop_t *l = loop_new();
    cap_t c = {.up = 0};
    alive_t *a = alive_new(l, NULL, &idn, 4, capture, &c);
    for (uint32_t i = 1; i <= 3; i++)
        command(a, "pop", i, 1, WIRE_LIVE_CMD_STOP, NULL);
    assert_int_equal(c.n, 0);
    json_t *j = alive_status_json(a);
    assert_int_equal(json_integer_value(json_object_get(j, "events_waiting")), 3);
    json_decref(j);
    c.up = 1;
    alive_flush(a);
    assert_int_equal(c.n, 3);
    for (int i = 0; i < 3; i++) {
        ev_t e;
        parse_event(&c.frames[i], &e);
        assert_true(e.sig_ok);
        assert_int_equal(e.ind, (uint32_t)i + 1);
    }
    cap_free(&c);
    alive_flush(a); /* nothing left */
    assert_int_equal(c.n, 0);
    alive_destroy(&a);
    loop_destroy(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands_it_cannot_act_on_are_answered),
        cmocka_unit_test(test_max_individuals),
        cmocka_unit_test(test_events_wait_for_a_session_in_order),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
