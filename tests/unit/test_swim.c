/* test_swim.c - the membership core's arithmetic (Lifeguard suspicion
 * timeouts, retransmit limit, push-pull scaling), its configuration check,
 * the broadcast queue, and the message codec: round trips and rejection of
 * malformed or truncated frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "swim.h"
#include "swim_int.h"
#include "wire.h"

static const uint8_t ID_A[SWIM_ID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t ID_B[SWIM_ID_LEN] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 1};

static void test_suspicion_timeouts(void **state)
{
    (void)state;
    /* min = mult * max(1, log10(n)) * interval */
    assert_int_equal(swim_suspicion_min_ms(4, 0, 1000), 4000);
    assert_int_equal(swim_suspicion_min_ms(4, 1, 1000), 4000);
    assert_int_equal(swim_suspicion_min_ms(4, 10, 1000), 4000);
    assert_int_equal(swim_suspicion_min_ms(4, 100, 1000), 8000);
    assert_int_equal(swim_suspicion_min_ms(4, 1000, 1000), 12000);
    assert_int_equal(swim_suspicion_min_ms(5, 100, 200), 2000);
    /* Lifeguard decay: max with no confirmation, min once k arrived. */
    uint64_t min = 8000, max = 48000;
    assert_int_equal(swim_suspicion_timeout_ms(min, max, 0, 2), max);
    assert_int_equal(swim_suspicion_timeout_ms(min, max, 2, 2), min);
    uint64_t one = (uint64_t)floor(48000.0 - 40000.0 * log(2.0) / log(3.0));
    assert_int_equal(swim_suspicion_timeout_ms(min, max, 1, 2), one);
    assert_true(one > min && one < max);
    /* never below min, and k = 0 means min at once */
    assert_int_equal(swim_suspicion_timeout_ms(min, max, 5, 2), min);
    assert_int_equal(swim_suspicion_timeout_ms(min, max, 0, 0), min);
    /* monotone in the number of confirmations */
    uint64_t prev = UINT64_MAX;
    for (unsigned c = 0; c <= 6; c++) {
        uint64_t t = swim_suspicion_timeout_ms(min, max, c, 6);
        assert_true(t <= prev);
        assert_true(t >= min);
        prev = t;
    }
}

static void test_limits_and_scaling(void **state)
{
    (void)state;
    assert_int_equal(swim_retransmit_limit(4, 1), 4);
    assert_int_equal(swim_retransmit_limit(4, 9), 4);
    assert_int_equal(swim_retransmit_limit(4, 10), 8);
    assert_int_equal(swim_retransmit_limit(4, 99), 8);
    assert_int_equal(swim_retransmit_limit(4, 100), 12);
    assert_int_equal(swim_retransmit_limit(4, 1000), 16);
    assert_int_equal(swim_push_pull_interval_ms(30000, 10), 30000);
    assert_int_equal(swim_push_pull_interval_ms(30000, 32), 30000);
    assert_int_equal(swim_push_pull_interval_ms(30000, 33), 60000);
    assert_int_equal(swim_push_pull_interval_ms(30000, 64), 60000);
    assert_int_equal(swim_push_pull_interval_ms(30000, 100), 90000);
    assert_int_equal(swim_push_pull_interval_ms(30000, 1000), 180000);
    assert_int_equal(swim_awareness_scale(500, 0), 500);
    assert_int_equal(swim_awareness_scale(500, 7), 4000);
}

static void test_config_check(void **state)
{
    (void)state;
    swim_config_t c;
    char err[128];
    swim_config_default(&c);
    assert_int_equal(swim_config_check(&c, err, sizeof err), 0);
    assert_int_equal(c.probe_interval_ms, 1000);
    assert_int_equal(c.suspicion_max_mult, 6);
    c.probe_timeout_ms = 2000; /* longer than the interval */
    assert_int_equal(swim_config_check(&c, err, sizeof err), ERR_CONFIG);
    assert_non_null(strstr(err, "probe_timeout_ms"));
    swim_config_default(&c);
    c.retransmit_mult = 0;
    assert_int_equal(swim_config_check(&c, err, sizeof err), ERR_CONFIG);
    swim_config_default(&c);
    c.awareness_max = 0;
    assert_int_equal(swim_config_check(&c, err, sizeof err), ERR_CONFIG);
}

static void test_address_and_name_checks(void **state)
{
    (void)state;
    assert_true(swim_addr_valid("10.0.0.1:7946"));
    assert_true(swim_addr_valid("[::1]:7946"));
    assert_true(swim_addr_valid("agent-3.example:1"));
    assert_false(swim_addr_valid("10.0.0.1"));
    assert_false(swim_addr_valid("host:"));
    assert_false(swim_addr_valid(":7946"));
    assert_false(swim_addr_valid("a b:1"));
    assert_false(swim_addr_valid("host:12x"));
    assert_true(swim_text_valid("node-1", SWIM_NAME_MAX));
    assert_false(swim_text_valid("", SWIM_NAME_MAX));
    assert_false(swim_text_valid("bad\nname", SWIM_NAME_MAX));
    assert_false(swim_text_valid("abcdef", 5));
}

/* ---- codec ---- */

static void build_ping(wire_buf_t *b, uint64_t seq, int nupdates)
{
    wire_buf_reset(b);
    wire_begin(b, WIRE_SWIM_PING, 0, ID_A);
    wire_put_u64(b, seq);
    wire_put_raw(b, ID_B, SWIM_ID_LEN);
    wire_put_str(b, "10.0.0.1:7946");
    wire_put_u32(b, (uint32_t)nupdates);
    for (int i = 0; i < nupdates; i++)
        swim_update_encode(b, SWIM_ALIVE, ID_B, 7 + (uint64_t)i, ID_B, "node-b", 6, "10.0.0.2:7946",
                           13, (const uint8_t *)"role=agent", 10);
    assert_int_equal(wire_end(b), 0);
}

static void test_codec_round_trip(void **state)
{
    (void)state;
    wire_buf_t b;
    wire_buf_init(&b);
    build_ping(&b, 0x1122334455667788ULL, 2);
    swim_msg_t m;
    assert_int_equal(swim_msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.type, WIRE_SWIM_PING);
    assert_memory_equal(m.sender, ID_A, SWIM_ID_LEN);
    assert_true(m.seq == 0x1122334455667788ULL);
    assert_memory_equal(m.target, ID_B, SWIM_ID_LEN);
    assert_string_equal(m.reply_addr, "10.0.0.1:7946");
    assert_int_equal(m.nupdates, 2);
    for (int i = 0; i < 2; i++) {
        swim_update_t u;
        assert_int_equal(swim_update_decode(&m.rd, &u), 0);
        assert_int_equal(u.status, SWIM_ALIVE);
        assert_memory_equal(u.id, ID_B, SWIM_ID_LEN);
        assert_true(u.inc == 7 + (uint64_t)i);
        assert_int_equal(u.namelen, 6);
        assert_memory_equal(u.name, "node-b", 6);
        assert_int_equal(u.addrlen, 13);
        assert_memory_equal(u.addr, "10.0.0.2:7946", 13);
        assert_int_equal(u.metalen, 10);
        assert_memory_equal(u.meta, "role=agent", 10);
    }
    assert_int_equal(m.rd.left, 0);

    /* PING_REQ and SYNC fields */
    wire_buf_reset(&b);
    wire_begin(&b, WIRE_SWIM_PING_REQ, 0, ID_A);
    wire_put_u64(&b, 5);
    wire_put_raw(&b, ID_B, SWIM_ID_LEN);
    wire_put_str(&b, "10.0.0.2:7946");
    wire_put_u8(&b, 1);
    wire_put_str(&b, "10.0.0.1:7946");
    wire_put_u32(&b, 0);
    assert_int_equal(wire_end(&b), 0);
    assert_int_equal(swim_msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.nack, 1);
    assert_string_equal(m.target_addr, "10.0.0.2:7946");
    wire_buf_reset(&b);
    wire_begin(&b, WIRE_SWIM_SYNC, 0, ID_A);
    wire_put_u8(&b, SWIM_SYNC_REPLY | SWIM_SYNC_JOIN);
    wire_put_u16(&b, 3);
    wire_put_str(&b, "10.0.0.1:7946");
    wire_put_u32(&b, 0);
    assert_int_equal(wire_end(&b), 0);
    assert_int_equal(swim_msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.flags, SWIM_SYNC_REPLY | SWIM_SYNC_JOIN);
    assert_int_equal(m.part, 3);
    wire_buf_free(&b);
}

static void test_codec_rejects_truncation(void **state)
{
    (void)state;
    wire_buf_t b;
    wire_buf_init(&b);
    build_ping(&b, 1, 3);
    /* Every strict prefix fails (the header's length no longer matches). */
    for (size_t n = 0; n < b.len; n++) {
        swim_msg_t m;
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b.data, n);
        assert_true(swim_msg_decode(copy, n, &m) != 0);
        free(copy);
    }
    /* A frame whose update list is cut short inside (length patched to
     * match) decodes its header, then fails on the updates. */
    for (size_t cut = WIRE_HDR_LEN + 40; cut < b.len; cut += 7) {
        uint8_t *copy = malloc(cut);
        memcpy(copy, b.data, cut);
        uint32_t len = (uint32_t)(cut - WIRE_HDR_LEN);
        copy[20] = (uint8_t)(len >> 24);
        copy[21] = (uint8_t)(len >> 16);
        copy[22] = (uint8_t)(len >> 8);
        copy[23] = (uint8_t)len;
        swim_msg_t m;
        int rc = swim_msg_decode(copy, cut, &m);
        for (uint32_t i = 0; rc == 0 && i < m.nupdates; i++) {
            swim_update_t u;
            rc = swim_update_decode(&m.rd, &u);
        }
        assert_true(rc != 0);
        free(copy);
    }
    wire_buf_free(&b);
}

static int decode_all(const wire_buf_t *b)
{
    swim_msg_t m;
    int rc = swim_msg_decode(b->data, b->len, &m);
    for (uint32_t i = 0; rc == 0 && i < m.nupdates; i++) {
        swim_update_t u;
        rc = swim_update_decode(&m.rd, &u);
    }
    return rc;
}

static void test_codec_rejects_malformed(void **state)
{
    (void)state;
    static const uint8_t zero[SWIM_ID_LEN];
    wire_buf_t b;
    wire_buf_init(&b);

    build_ping(&b, 1, 1);
    b.data[0] = 9; /* version */
    assert_int_equal(decode_all(&b), ERR_VERSION);

    wire_buf_reset(&b); /* unknown type */
    wire_begin(&b, 199, 0, ID_A);
    wire_end(&b);
    assert_int_equal(decode_all(&b), ERR_UNKNOWN_TYPE);

    wire_buf_reset(&b); /* zero sender */
    wire_begin(&b, WIRE_SWIM_GOSSIP, 0, zero);
    wire_put_u32(&b, 0);
    wire_end(&b);
    assert_int_equal(decode_all(&b), ERR_PROTO);

    wire_buf_reset(&b); /* a reply address that is no address */
    wire_begin(&b, WIRE_SWIM_PING, 0, ID_A);
    wire_put_u64(&b, 1);
    wire_put_raw(&b, ID_B, SWIM_ID_LEN);
    wire_put_str(&b, "no-port");
    wire_put_u32(&b, 0);
    wire_end(&b);
    assert_int_equal(decode_all(&b), ERR_PROTO);

    wire_buf_reset(&b); /* a count larger than the bytes can hold */
    wire_begin(&b, WIRE_SWIM_GOSSIP, 0, ID_A);
    wire_put_u32(&b, 1000);
    wire_end(&b);
    assert_int_equal(decode_all(&b), ERR_TRUNC);

    struct {
        uint8_t status;
        const uint8_t *id;
        const char *name, *addr;
        size_t metalen;
        int want;
    } bad[] = {
        {7, ID_B, "b", "h:1", 0, ERR_PROTO},              /* status out of range */
        {SWIM_ALIVE, zero, "b", "h:1", 0, ERR_PROTO},     /* zero id */
        {SWIM_ALIVE, ID_B, "", "h:1", 0, ERR_PROTO},      /* alive without a name */
        {SWIM_ALIVE, ID_B, "b", "nope", 0, ERR_PROTO},    /* alive with a bad address */
        {SWIM_ALIVE, ID_B, "b\x01", "h:1", 0, ERR_PROTO}, /* control byte in a name */
        {SWIM_ALIVE, ID_B, "b", "h:1", SWIM_META_MAX + 1, ERR_TOOBIG},
    };
    static uint8_t meta[SWIM_META_MAX + 1];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wire_buf_reset(&b);
        wire_begin(&b, WIRE_SWIM_GOSSIP, 0, ID_A);
        wire_put_u32(&b, 1);
        swim_update_encode(&b, bad[i].status, bad[i].id, 1, ID_A, bad[i].name, strlen(bad[i].name),
                           bad[i].addr, strlen(bad[i].addr), meta, bad[i].metalen);
        wire_end(&b);
        assert_int_equal(decode_all(&b), bad[i].want);
    }
    /* suspect/dead may come without name and address */
    wire_buf_reset(&b);
    wire_begin(&b, WIRE_SWIM_GOSSIP, 0, ID_A);
    wire_put_u32(&b, 1);
    swim_update_encode(&b, SWIM_DEAD, ID_B, 1, ID_A, NULL, 0, NULL, 0, NULL, 0);
    wire_end(&b);
    assert_int_equal(decode_all(&b), 0);
    wire_buf_free(&b);
}

/* ---- broadcast queue ---- */

static void test_broadcast_queue(void **state)
{
    (void)state;
    swim_member_t ma = {0}, mb = {0};
    swim_bq_t q = {0};
    wire_buf_t b;
    wire_buf_init(&b);
    uint8_t u1[60] = {1}, u2[60] = {2}, u3[70] = {3};
    assert_int_equal(swim_bq_put(&q, &ma, u1, sizeof u1, false), 0);
    assert_int_equal(swim_bq_put(&q, &mb, u2, sizeof u2, false), 0);
    /* a newer update about a replaces the queued one */
    assert_int_equal(swim_bq_put(&q, &ma, u3, sizeof u3, false), 0);
    assert_int_equal(q.count, 2);
    assert_int_equal(swim_bq_fill(&q, &b, 1400, 3, NULL), 2);
    assert_int_equal(b.len, 130);
    assert_int_equal(b.data[0], 3); /* newest first */
    assert_int_equal(b.data[70], 2);
    /* budget: only one fits (b, now at the front of its bucket) */
    wire_buf_reset(&b);
    assert_int_equal(swim_bq_fill(&q, &b, 100, 3, NULL), 1);
    assert_int_equal(b.data[0], 2);
    /* a (sent once) now goes before b (sent twice) */
    wire_buf_reset(&b);
    assert_int_equal(swim_bq_fill(&q, &b, 1400, 3, NULL), 2);
    assert_int_equal(b.data[0], 3);
    assert_int_equal(q.count, 1); /* b reached the limit */
    assert_null(mb.bq);
    /* each is retired after `limit` sends */
    for (int i = 0; i < 3; i++) {
        wire_buf_reset(&b);
        swim_bq_fill(&q, &b, 1400, 3, NULL);
    }
    assert_int_equal(q.count, 0);
    assert_null(ma.bq);
    assert_null(mb.bq);
    /* our own "left" is counted when sent */
    uint32_t leave = 0;
    swim_bq_put(&q, &ma, u1, sizeof u1, true);
    wire_buf_reset(&b);
    swim_bq_fill(&q, &b, 1400, 3, &leave);
    assert_int_equal(leave, 1);
    swim_bq_clear(&q);
    assert_int_equal(q.count, 0);
    wire_buf_free(&b);
}

static uint64_t counter_rnd(void *arg)
{
    uint64_t *x = arg;
    *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
    return *x >> 17;
}

static void test_member_table_at_scale(void **state)
{
    (void)state;
    swim_table_t t;
    assert_int_equal(swim_tab_init(&t), 0);
    enum { N = 5000 };
    uint8_t id[SWIM_ID_LEN] = {0};
    for (uint32_t i = 0; i < N; i++) {
        memcpy(id, &i, sizeof i);
        id[15] = 0xaa;
        swim_member_t *m = swim_tab_add(&t, id, (i * 7919u) % (i + 1));
        assert_non_null(m);
        assert_int_equal(swim_member_set(m, "n", 1, "h:1", 3, NULL, 0), 0);
    }
    assert_int_equal(t.n, N);
    uint64_t seed = 42;
    swim_tab_shuffle(&t, counter_rnd, &seed);
    for (uint32_t i = 0; i < N; i++) {
        memcpy(id, &i, sizeof i);
        swim_member_t *m = swim_tab_find(&t, id);
        assert_non_null(m);
        assert_memory_equal(m->id, id, SWIM_ID_LEN);
        assert_ptr_equal(t.v[m->idx], m);
    }
    for (uint32_t i = 0; i < N; i += 2) { /* remove half */
        memcpy(id, &i, sizeof i);
        swim_tab_remove(&t, swim_tab_find(&t, id));
    }
    assert_int_equal(t.n, N / 2);
    for (uint32_t i = 0; i < N; i++) {
        memcpy(id, &i, sizeof i);
        swim_member_t *m = swim_tab_find(&t, id);
        if (i % 2)
            assert_true(m && t.v[m->idx] == m);
        else
            assert_null(m);
    }
    swim_tab_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suspicion_timeouts),
        cmocka_unit_test(test_limits_and_scaling),
        cmocka_unit_test(test_config_check),
        cmocka_unit_test(test_address_and_name_checks),
        cmocka_unit_test(test_codec_round_trip),
        cmocka_unit_test(test_codec_rejects_truncation),
        cmocka_unit_test(test_codec_rejects_malformed),
        cmocka_unit_test(test_broadcast_queue),
        cmocka_unit_test(test_member_table_at_scale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
