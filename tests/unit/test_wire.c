/* test_wire.c - cmocka tests of the frame codec (shared/wire.c): round
 * trips of every field kind, truncation, bad headers and hostile counts. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "wire.h"
#include "wire_live.h"

static const uint8_t sender[WIRE_ID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/* Builds a frame holding one of each field kind. */
static void build_sample(wire_buf_t *b)
{
    wire_begin(b, WIRE_VM_PONG, 0x5a, sender);
    wire_put_u8(b, 0xfe);
    wire_put_u16(b, 0xbeef);
    wire_put_u32(b, 0xdeadbeef);
    wire_put_u64(b, 0x0123456789abcdefULL);
    wire_put_i64(b, -42);
    wire_put_i64(b, INT64_MIN);
    wire_put_f64(b, 3.25);
    wire_put_f64(b, NAN);
    wire_put_f64(b, INFINITY);
    wire_put_f64(b, -INFINITY);
    wire_put_f64(b, -0.0);
    wire_put_bytes(b, "a\0b", 3);
    wire_put_str(b, "hello");
    wire_put_str(b, NULL);
    wire_put_raw(b, sender, WIRE_ID_LEN);
    wire_put_u32(b, 2); /* list count */
    wire_put_num_int(b, -7);
    wire_put_num_float(b, 0.5);
}

/* Reads the sample back; returns the first error (0 if all fine). */
static int read_sample(wire_rd_t *r, int check)
{
    uint8_t u8;
    uint16_t u16;
    uint32_t u32, blen, count;
    uint64_t u64;
    int64_t i64a, i64b, ni;
    double f1, f2, f3, f4, f5, nf;
    const uint8_t *bp;
    char s1[16], s2[4];
    uint8_t id[WIRE_ID_LEN];
    int isf;

    wire_get_u8(r, &u8);
    wire_get_u16(r, &u16);
    wire_get_u32(r, &u32);
    wire_get_u64(r, &u64);
    wire_get_i64(r, &i64a);
    wire_get_i64(r, &i64b);
    wire_get_f64(r, &f1);
    wire_get_f64(r, &f2);
    wire_get_f64(r, &f3);
    wire_get_f64(r, &f4);
    wire_get_f64(r, &f5);
    wire_get_bytes(r, &bp, &blen, 100);
    wire_get_str(r, s1, sizeof s1);
    wire_get_str(r, s2, sizeof s2);
    wire_get_raw(r, id, sizeof id);
    wire_get_count(r, &count, 10, 9);
    if (r->err == 0 && count == 2) {
        wire_get_num(r, &isf, &ni, &nf);
        if (check) {
            assert_int_equal(isf, 0);
            assert_int_equal(ni, -7);
        }
        wire_get_num(r, &isf, &ni, &nf);
        if (check) {
            assert_int_equal(isf, 1);
            assert_true(nf == 0.5);
        }
    }
    if (check) {
        assert_int_equal(r->err, 0);
        assert_int_equal(u8, 0xfe);
        assert_int_equal(u16, 0xbeef);
        assert_int_equal(u32, 0xdeadbeef);
        assert_true(u64 == 0x0123456789abcdefULL);
        assert_true(i64a == -42);
        assert_true(i64b == INT64_MIN);
        assert_true(f1 == 3.25);
        assert_true(isnan(f2));
        assert_true(isinf(f3) && f3 > 0);
        assert_true(isinf(f4) && f4 < 0);
        assert_true(f5 == 0.0 && signbit(f5));
        assert_int_equal(blen, 3);
        assert_memory_equal(bp, "a\0b", 3);
        assert_string_equal(s1, "hello");
        assert_string_equal(s2, "");
        assert_memory_equal(id, sender, WIRE_ID_LEN);
        assert_int_equal(count, 2);
        assert_int_equal(r->left, 0);
    }
    return r->err;
}

static void test_round_trip(void **state)
{
    wire_buf_t b;
    wire_hdr_t h;
    wire_rd_t r;

    wire_buf_init(&b);
    build_sample(&b);
    assert_int_equal(wire_end(&b), 0);
    assert_int_equal(b.data[0], WIRE_VERSION);
    assert_int_equal(wire_parse(b.data, b.len, &h, &r), 0);
    assert_int_equal(h.version, WIRE_VERSION);
    assert_int_equal(h.type, WIRE_VM_PONG);
    assert_int_equal(h.flags, 0x5a);
    assert_memory_equal(h.sender, sender, WIRE_ID_LEN);
    assert_int_equal(h.length, b.len - WIRE_HDR_LEN);
    read_sample(&r, 1);
    wire_buf_free(&b);
}

static void test_header_layout(void **state)
{
    wire_buf_t b;
    wire_buf_init(&b);
    wire_begin(&b, 0x0102, 0x03, NULL);
    wire_put_u32(&b, 0x0a0b0c0d);
    assert_int_equal(wire_end(&b), 0);
    const uint8_t want[] = {1, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0,   0,   0,   0,
                            0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0xa, 0xb, 0xc, 0xd};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    wire_buf_free(&b);
}

static void test_every_truncation_fails(void **state)
{
    wire_buf_t b;
    wire_hdr_t h;
    wire_rd_t r;

    wire_buf_init(&b);
    build_sample(&b);
    assert_int_equal(wire_end(&b), 0);
    for (size_t cut = 0; cut < b.len; cut++) {
        /* A copy of exactly `cut` bytes, so ASAN sees any over-read. */
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, b.data, cut);
        int rc = wire_parse(p, cut, &h, &r);
        assert_int_equal(rc, ERR_TRUNC);
        assert_int_equal(r.left, 0);
        assert_int_equal(h.length, 0);

        /* Same prefix with a patched length: the header is fine but the
         * payload ends early; the getters must fail, never over-read. */
        if (cut >= WIRE_HDR_LEN) {
            uint32_t plen = (uint32_t)(cut - WIRE_HDR_LEN);
            p[20] = (uint8_t)(plen >> 24), p[21] = (uint8_t)(plen >> 16);
            p[22] = (uint8_t)(plen >> 8), p[23] = (uint8_t)plen;
            assert_int_equal(wire_parse(p, cut, &h, &r), 0);
            assert_int_equal(read_sample(&r, 0), ERR_TRUNC);
            assert_int_equal(r.left, 0);
        }
        free(p);
    }
    wire_buf_free(&b);
}

static void test_bad_version(void **state)
{
    wire_buf_t b;
    wire_hdr_t h;
    wire_rd_t r;
    uint8_t v;

    wire_buf_init(&b);
    wire_begin(&b, WIRE_VM_STOP, 0, NULL);
    assert_int_equal(wire_end(&b), 0);
    b.data[0] = 2;
    assert_int_equal(wire_parse(b.data, b.len, &h, &r), ERR_VERSION);
    assert_int_equal(wire_get_u8(&r, &v), ERR_VERSION); /* sticky into the reader */
    b.data[0] = 0;
    assert_int_equal(wire_parse(b.data, b.len, &h, &r), ERR_VERSION);
    wire_buf_free(&b);
}

static void put_len(uint8_t *p, uint32_t v)
{
    p[20] = (uint8_t)(v >> 24), p[21] = (uint8_t)(v >> 16), p[22] = (uint8_t)(v >> 8),
    p[23] = (uint8_t)v;
}

static void test_length_mismatch(void **state)
{
    wire_buf_t b;
    wire_hdr_t h;
    wire_rd_t r;

    wire_buf_init(&b);
    wire_begin(&b, WIRE_VM_PING, 0, NULL);
    wire_put_u64(&b, 7);
    assert_int_equal(wire_end(&b), 0);
    assert_int_equal(wire_parse(b.data, b.len, &h, &r), 0);
    put_len(b.data, 9); /* more than present */
    assert_int_equal(wire_parse(b.data, b.len, &h, &r), ERR_TRUNC);
    put_len(b.data, 7); /* fewer than present: trailing garbage */
    assert_int_equal(wire_parse(b.data, b.len, &h, &r), ERR_PROTO);
    put_len(b.data, WIRE_MAX_FRAME + 1);
    assert_int_equal(wire_parse(b.data, b.len, &h, &r), ERR_TOOBIG);
    put_len(b.data, 0xffffffffu);
    assert_int_equal(wire_parse(b.data, b.len, &h, &r), ERR_TOOBIG);
    wire_buf_free(&b);
}

static void test_writer_oversize(void **state)
{
    wire_buf_t b;
    wire_buf_init(&b);
    wire_begin(&b, WIRE_VM_EVAL, 0, NULL);
    size_t big = WIRE_MAX_FRAME - 4; /* bytes prefix + this = exactly the cap */
    uint8_t *blob = calloc(1, big + 1);
    wire_put_bytes(&b, blob, big);
    assert_int_equal(b.err, 0);
    assert_int_equal(wire_end(&b), 0);
    wire_put_u8(&b, 1); /* one byte past the cap */
    assert_int_equal(wire_end(&b), ERR_TOOBIG);
    wire_put_u8(&b, 1); /* sticky */
    assert_int_equal(wire_end(&b), ERR_TOOBIG);
    wire_buf_reset(&b);
    assert_int_equal(b.err, 0);
    assert_int_equal(b.len, 0);
    wire_begin(&b, WIRE_VM_EVAL, 0, NULL);
    wire_put_bytes(&b, blob, big + 1);
    assert_int_equal(wire_end(&b), ERR_TOOBIG);
    free(blob);
    wire_buf_free(&b);
}

static void test_two_frames_in_one_buffer(void **state)
{
    wire_buf_t b;
    wire_hdr_t h;
    wire_rd_t r;
    uint64_t v;

    wire_buf_init(&b);
    wire_begin(&b, WIRE_VM_PING, 0, NULL);
    wire_put_u64(&b, 1);
    assert_int_equal(wire_end(&b), 0);
    size_t first = b.len;
    wire_begin(&b, WIRE_VM_PING, 0, NULL);
    wire_put_u64(&b, 2);
    assert_int_equal(wire_end(&b), 0);
    assert_int_equal(b.frame_start, first);
    assert_int_equal(wire_parse(b.data, first, &h, &r), 0);
    assert_int_equal(wire_get_u64(&r, &v), 0);
    assert_true(v == 1);
    assert_int_equal(wire_parse(b.data + first, b.len - first, &h, &r), 0);
    assert_int_equal(wire_get_u64(&r, &v), 0);
    assert_true(v == 2);
    wire_buf_free(&b);
}

static void test_strings(void **state)
{
    wire_buf_t b;
    wire_rd_t r;
    char out[8];

    wire_buf_init(&b);
    wire_put_bytes(&b, "ab\0cd", 5); /* embedded NUL: invalid as str */
    wire_rd_init(&r, b.data, b.len);
    assert_int_equal(wire_get_str(&r, out, sizeof out), ERR_PROTO);
    assert_string_equal(out, "");
    assert_int_equal(wire_get_str(&r, out, sizeof out), ERR_PROTO); /* sticky */

    wire_buf_reset(&b);
    wire_put_str(&b, "1234567");  /* fits exactly with its NUL */
    wire_put_str(&b, "12345678"); /* one too many */
    wire_rd_init(&r, b.data, b.len);
    assert_int_equal(wire_get_str(&r, out, sizeof out), 0);
    assert_string_equal(out, "1234567");
    assert_int_equal(wire_get_str(&r, out, sizeof out), ERR_TOOBIG);
    assert_string_equal(out, "");

    const uint8_t *p;
    uint32_t n;
    wire_buf_reset(&b);
    wire_put_bytes(&b, "abcdef", 6);
    wire_rd_init(&r, b.data, b.len);
    assert_int_equal(wire_get_bytes(&r, &p, &n, 5), ERR_TOOBIG);
    assert_null(p);
    assert_int_equal(n, 0);
    wire_buf_free(&b);
}

static void test_count_bombs(void **state)
{
    const uint8_t bomb[] = {0xff, 0xff, 0xff, 0xff, 1, 2, 3};
    wire_rd_t r;
    uint32_t count = 99;
    const uint8_t *p;
    uint32_t n;
    char s[4];

    wire_rd_init(&r, bomb, sizeof bomb);
    assert_int_equal(wire_get_count(&r, &count, UINT32_MAX, 1), ERR_TRUNC);
    assert_int_equal(count, 0);
    wire_rd_init(&r, bomb, sizeof bomb);
    assert_int_equal(wire_get_count(&r, &count, 1000, 1), ERR_TOOBIG);
    /* min_item large enough that count * min_item overflows 64 bits */
    wire_rd_init(&r, bomb, sizeof bomb);
    assert_int_equal(wire_get_count(&r, &count, UINT32_MAX, SIZE_MAX / 2), ERR_TRUNC);
    /* count 3 of 1-byte items with 3 bytes left is fine; 4 is not */
    const uint8_t ok[] = {0, 0, 0, 3, 1, 2, 3};
    wire_rd_init(&r, ok, sizeof ok);
    assert_int_equal(wire_get_count(&r, &count, 10, 1), 0);
    assert_int_equal(count, 3);
    wire_rd_init(&r, ok, sizeof ok);
    assert_int_equal(wire_get_count(&r, &count, 10, 2), ERR_TRUNC);
    /* min_item 0: only the cap applies */
    wire_rd_init(&r, bomb, sizeof bomb);
    assert_int_equal(wire_get_count(&r, &count, UINT32_MAX, 0), 0);
    assert_int_equal(count, 0xffffffffu);
    /* length bombs for bytes and str */
    wire_rd_init(&r, bomb, sizeof bomb);
    assert_int_equal(wire_get_bytes(&r, &p, &n, UINT32_MAX), ERR_TRUNC);
    wire_rd_init(&r, bomb, sizeof bomb);
    assert_int_equal(wire_get_str(&r, s, sizeof s), ERR_TRUNC);
}

static void test_sticky_zeroes_outputs(void **state)
{
    const uint8_t d[] = {0, 1};
    wire_rd_t r;
    uint8_t u8 = 9;
    uint16_t u16 = 9;
    uint32_t u32 = 9;
    uint64_t u64 = 9;
    int64_t i64 = 9;
    double f = 9;
    uint8_t raw[3] = {9, 9, 9};
    int isf = 9;

    wire_rd_init(&r, d, sizeof d);
    assert_int_equal(wire_get_u32(&r, &u32), ERR_TRUNC);
    assert_int_equal(u32, 0);
    /* after an error even a read that would fit fails and zeroes */
    assert_int_equal(wire_get_u8(&r, &u8), ERR_TRUNC);
    assert_int_equal(u8, 0);
    assert_int_equal(wire_get_u16(&r, &u16), ERR_TRUNC);
    assert_int_equal(u16, 0);
    assert_int_equal(wire_get_u64(&r, &u64), ERR_TRUNC);
    assert_true(u64 == 0);
    assert_int_equal(wire_get_i64(&r, &i64), ERR_TRUNC);
    assert_true(i64 == 0);
    assert_int_equal(wire_get_f64(&r, &f), ERR_TRUNC);
    assert_true(f == 0.0);
    assert_int_equal(wire_get_raw(&r, raw, sizeof raw), ERR_TRUNC);
    assert_int_equal(raw[0] | raw[1] | raw[2], 0);
    assert_int_equal(wire_get_num(&r, &isf, &i64, &f), ERR_TRUNC);
    assert_int_equal(isf, 0);

    const uint8_t badnum[] = {2, 0, 0, 0, 0, 0, 0, 0, 1};
    wire_rd_init(&r, badnum, sizeof badnum);
    assert_int_equal(wire_get_num(&r, &isf, &i64, &f), ERR_PROTO);
}

static void test_status_str(void **state)
{
    assert_string_equal(wire_status_str(WIRE_ST_OK), "ok");
    assert_string_equal(wire_status_str(WIRE_ST_PARSE_ERROR), "parse_error");
    assert_string_equal(wire_status_str(WIRE_ST_HEAP_LIMIT), "heap_limit");
    assert_string_equal(wire_status_str(WIRE_ST_INTERNAL), "internal");
    assert_string_equal(wire_status_str(WIRE_ST_VM_KILLED), "vm_killed");
    assert_string_equal(wire_status_str(WIRE_ST__COUNT), "unknown");
    assert_string_equal(wire_status_str(-1), "unknown");
    for (int i = 0; i < WIRE_ST__COUNT; i++)
        assert_string_not_equal(wire_status_str(i), "unknown");
}

/* ---- live individuals (wire_live.h) ---- */

/* LIVE_EVENT and LIVE_REPLIES as petri_wire:encode/1 writes them (the VM's
 * side of the mirror): a rollback with a NaN child score, a snapshot of
 * #{1 => 2} and took_us 4660, and two replies. */
static const uint8_t erl_event[] = {
    0x01, 0x00, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x68, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09,
    0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x4d, 0x00, 0x00, 0x00, 0x02, 0x61, 0x61, 0x00, 0x00, 0x00, 0x02, 0x62,
    0x62, 0x00, 0x00, 0x00, 0x02, 0x63, 0x63, 0x00, 0x00, 0x00, 0x02, 0x64, 0x64, 0x3f, 0xe0, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x7f, 0xf8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x04, 0x00, 0x00, 0x00, 0x05, 0x63, 0x72, 0x61, 0x73, 0x68, 0x00, 0x00, 0x00, 0x0a, 0x83, 0x74,
    0x00, 0x00, 0x00, 0x01, 0x61, 0x01, 0x61, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34};
static const uint8_t erl_replies[] = {
    0x01, 0x00, 0x0d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x68, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x32, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0xd2, 0x3f, 0xe8, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x06, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

static void test_live_event_from_erlang(void **state)
{
    (void)state;
    wire_hdr_t h;
    wire_rd_t r;
    assert_int_equal(wire_parse(erl_event, sizeof erl_event, &h, &r), 0);
    assert_int_equal(h.type, WIRE_VM_LIVE_EVENT);
    wire_live_event_t e;
    assert_int_equal(wire_live_read_event(&r, &e), 0);
    assert_int_equal(e.live_id, 9);
    assert_int_equal(e.kind, WIRE_LIVE_ROLLBACK);
    assert_string_equal(wire_live_event_str(e.kind), "rollback");
    assert_int_equal(e.upgrade_id, 3);
    assert_int_equal(e.version, 2);
    assert_int_equal(e.at_seq, 77);
    assert_string_equal(e.from_hash, "aa");
    assert_string_equal(e.to_hash, "bb");
    assert_string_equal(e.state_before, "cc");
    assert_string_equal(e.state_after, "dd");
    assert_true(e.parent_score == 0.5);
    assert_true(isnan(e.child_score));
    assert_int_equal(e.probation, 4);
    assert_string_equal(e.reason, "crash");
    assert_int_equal(e.snapshot_len, 10);
    assert_int_equal(e.snapshot[0], 131);
    assert_int_equal(e.took_us, 4660);
    assert_int_equal(r.left, 0);
}

static void test_live_replies_from_erlang(void **state)
{
    (void)state;
    wire_hdr_t h;
    wire_rd_t r;
    assert_int_equal(wire_parse(erl_replies, sizeof erl_replies, &h, &r), 0);
    assert_int_equal(h.type, WIRE_VM_LIVE_REPLIES);
    uint64_t id;
    uint32_t n;
    assert_int_equal(wire_live_read_replies(&r, &id, &n), 0);
    assert_int_equal(id, 9);
    assert_int_equal(n, 2);
    wire_live_reply_t a, b;
    assert_int_equal(wire_live_read_reply(&r, &a), 0);
    assert_int_equal(wire_live_read_reply(&r, &b), 0);
    assert_int_equal(a.seq, 5);
    assert_int_equal(a.status, WIRE_ST_OK);
    assert_int_equal(a.correct, 1);
    assert_int_equal(a.version, 2);
    assert_int_equal(a.latency_us, 100);
    assert_int_equal(a.service_us, 50);
    assert_int_equal(a.reductions, 1234);
    assert_true(a.score == 0.75);
    assert_int_equal(b.seq, 6);
    assert_int_equal(b.status, WIRE_ST_CRASH);
    assert_int_equal(b.correct, 0);
    assert_int_equal(r.left, 0);
}

/* Every proper prefix of the payload fails, and the outputs are cleared. */
static void test_live_truncations_fail(void **state)
{
    (void)state;
    for (size_t cut = 0; cut < sizeof erl_event - WIRE_HDR_LEN; cut++) {
        wire_rd_t r;
        wire_live_event_t e;
        wire_rd_init(&r, erl_event + WIRE_HDR_LEN, cut);
        assert_int_equal(wire_live_read_event(&r, &e), ERR_TRUNC);
        assert_null(e.snapshot);
        assert_int_equal(e.snapshot_len, 0);
    }
    for (size_t cut = 0; cut < sizeof erl_replies - WIRE_HDR_LEN; cut++) {
        wire_rd_t r;
        uint64_t id;
        uint32_t n;
        wire_rd_init(&r, erl_replies + WIRE_HDR_LEN, cut);
        int rc = wire_live_read_replies(&r, &id, &n);
        wire_live_reply_t a = {0}, b = {0};
        if (rc == 0) {
            rc = wire_live_read_reply(&r, &a);
            if (rc == 0)
                rc = wire_live_read_reply(&r, &b);
        }
        assert_int_equal(rc, ERR_TRUNC);
    }
}

/* Values out of range are refused: an unknown event kind, a status past
 * the enum, a correct flag over 2, a count over the batch cap, a snapshot
 * over its cap. */
static void test_live_out_of_range(void **state)
{
    (void)state;
    uint8_t buf[sizeof erl_event];
    wire_rd_t r;
    wire_live_event_t e;
    memcpy(buf, erl_event, sizeof buf);
    buf[WIRE_HDR_LEN + 8] = WIRE_LIVE__COUNT; /* kind */
    wire_rd_init(&r, buf + WIRE_HDR_LEN, sizeof buf - WIRE_HDR_LEN);
    assert_int_equal(wire_live_read_event(&r, &e), ERR_PROTO);
    assert_null(e.snapshot);

    uint8_t rb[sizeof erl_replies];
    uint64_t id;
    uint32_t n;
    wire_live_reply_t rep;
    memcpy(rb, erl_replies, sizeof rb);
    rb[WIRE_HDR_LEN + 12 + 8] = WIRE_ST__COUNT; /* first reply's status */
    wire_rd_init(&r, rb + WIRE_HDR_LEN, sizeof rb - WIRE_HDR_LEN);
    assert_int_equal(wire_live_read_replies(&r, &id, &n), 0);
    assert_int_equal(wire_live_read_reply(&r, &rep), ERR_PROTO);
    memcpy(rb, erl_replies, sizeof rb);
    rb[WIRE_HDR_LEN + 12 + 9] = 3; /* first reply's correct */
    wire_rd_init(&r, rb + WIRE_HDR_LEN, sizeof rb - WIRE_HDR_LEN);
    assert_int_equal(wire_live_read_replies(&r, &id, &n), 0);
    assert_int_equal(wire_live_read_reply(&r, &rep), ERR_PROTO);

    wire_buf_t b;
    wire_buf_init(&b);
    wire_begin(&b, WIRE_VM_LIVE_REPLIES, 0, NULL);
    wire_put_u64(&b, 1);
    wire_put_u32(&b, WIRE_LIVE_MAX_BATCH + 1);
    for (int i = 0; i < WIRE_LIVE_MAX_BATCH + 1; i++)
        wire_put_raw(&b, (uint8_t[46]){0}, 46);
    assert_int_equal(wire_end(&b), 0);
    wire_hdr_t h;
    assert_int_equal(wire_parse(b.data, b.len, &h, &r), 0);
    assert_int_equal(wire_live_read_replies(&r, &id, &n), ERR_TOOBIG);
    assert_int_equal(n, 0);

    /* a snapshot one byte over its cap, the rest of the event valid */
    wire_buf_reset(&b);
    wire_begin(&b, WIRE_VM_LIVE_EVENT, 0, NULL);
    wire_put_u64(&b, 1);
    wire_put_u8(&b, WIRE_LIVE_PROMOTED);
    wire_put_u64(&b, 1);
    wire_put_u32(&b, 2);
    wire_put_u64(&b, 3);
    for (int i = 0; i < 4; i++)
        wire_put_str(&b, "ab");
    wire_put_f64(&b, 1);
    wire_put_f64(&b, 1);
    wire_put_u32(&b, 5);
    wire_put_str(&b, "");
    uint8_t *big = calloc(1, WIRE_LIVE_SNAPSHOT_MAX + 1);
    assert_non_null(big);
    wire_put_bytes(&b, big, WIRE_LIVE_SNAPSHOT_MAX + 1);
    free(big);
    wire_put_u64(&b, 1);
    assert_int_equal(wire_end(&b), 0);
    assert_int_equal(wire_parse(b.data, b.len, &h, &r), 0);
    assert_int_equal(wire_live_read_event(&r, &e), ERR_TOOBIG);
    assert_null(e.snapshot);
    wire_buf_free(&b);
}

/* The agent's frames carry their fields in wire.h's order. */
static void test_live_writers(void **state)
{
    (void)state;
    const char *atoms[] = {"hit", "allow"};
    const uint8_t arg[] = {131, 106};
    wire_live_start_t s = {.live_id = 7,
                           .version = 3,
                           .timeout_ms = 100,
                           .heap_words = 1000,
                           .reductions = 2000,
                           .state_words = 300,
                           .probation = 40,
                           .window = 50,
                           .lat_w = 0.25,
                           .red_w = 0.5,
                           .tolerance = 0.125,
                           .atoms = atoms,
                           .natoms = 2,
                           .init_arg = arg,
                           .init_arg_len = 2,
                           .source = (const uint8_t *)"src",
                           .source_len = 3,
                           .next_version = 12,
                           .language = 1};
    wire_buf_t b;
    wire_buf_init(&b);
    assert_int_equal(wire_live_put_start(&b, &s), 0);
    wire_hdr_t h;
    wire_rd_t r;
    assert_int_equal(wire_parse(b.data, b.len, &h, &r), 0);
    assert_int_equal(h.type, WIRE_VM_LIVE_START);
    uint64_t u64;
    uint32_t u32;
    double f;
    char str[16];
    const uint8_t *p;
    wire_get_u64(&r, &u64);
    assert_int_equal(u64, 7);
    wire_get_u32(&r, &u32);
    assert_int_equal(u32, 3);
    wire_get_u32(&r, &u32);
    assert_int_equal(u32, 100);
    wire_get_u64(&r, &u64);
    assert_int_equal(u64, 1000);
    wire_get_u64(&r, &u64);
    assert_int_equal(u64, 2000);
    wire_get_u64(&r, &u64);
    assert_int_equal(u64, 300);
    wire_get_u32(&r, &u32);
    assert_int_equal(u32, 40);
    wire_get_u32(&r, &u32);
    assert_int_equal(u32, 50);
    wire_get_f64(&r, &f);
    assert_true(f == 0.25);
    wire_get_f64(&r, &f);
    assert_true(f == 0.5);
    wire_get_f64(&r, &f);
    assert_true(f == 0.125);
    wire_get_count(&r, &u32, 10, 4);
    assert_int_equal(u32, 2);
    wire_get_str(&r, str, sizeof str);
    assert_string_equal(str, "hit");
    wire_get_str(&r, str, sizeof str);
    assert_string_equal(str, "allow");
    wire_get_bytes(&r, &p, &u32, 100);
    assert_int_equal(u32, 2);
    wire_get_bytes(&r, &p, &u32, 100);
    assert_int_equal(u32, 3);
    assert_memory_equal(p, "src", 3);
    assert_int_equal(wire_get_bytes(&r, &p, &u32, 100), 0);
    assert_int_equal(u32, 0);
    wire_get_u32(&r, &u32);
    assert_int_equal(u32, 12);
    uint8_t u8 = 0;
    wire_get_u8(&r, &u8);
    assert_int_equal(u8, 1);
    assert_int_equal(r.left, 0);

    wire_buf_reset(&b);
    wire_live_requests_begin(&b, 7, 2);
    wire_live_put_request(&b, 1, arg, 2, NULL, 0);
    wire_live_put_request(&b, 2, arg, 2, arg, 2);
    assert_int_equal(wire_end(&b), 0);
    assert_int_equal(wire_parse(b.data, b.len, &h, &r), 0);
    assert_int_equal(h.type, WIRE_VM_LIVE_REQUESTS);
    assert_int_equal(h.length, 8 + 4 + 2 * (8 + 4 + 2 + 4) + 2);

    wire_buf_reset(&b);
    assert_int_equal(wire_live_put_upgrade(&b, 7, 9, 0, (const uint8_t *)"c", 1, 0), 0);
    assert_int_equal(wire_parse(b.data, b.len, &h, &r), 0);
    assert_int_equal(h.type, WIRE_VM_LIVE_UPGRADE);
    assert_int_equal(h.length, 8 + 8 + 4 + 4 + 1 + 1);
    assert_int_equal(b.data[b.len - 1], 0); /* judge */
    wire_buf_reset(&b);
    assert_int_equal(wire_live_put_stop(&b, 7), 0);
    assert_int_equal(wire_parse(b.data, b.len, &h, &r), 0);
    assert_int_equal(h.type, WIRE_VM_LIVE_STOP);
    assert_int_equal(h.length, 8);
    assert_string_equal(wire_live_event_str(WIRE_LIVE__COUNT), "unknown");
    assert_string_equal(wire_live_event_str(-1), "unknown");
    wire_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_header_layout),
        cmocka_unit_test(test_every_truncation_fails),
        cmocka_unit_test(test_bad_version),
        cmocka_unit_test(test_length_mismatch),
        cmocka_unit_test(test_writer_oversize),
        cmocka_unit_test(test_two_frames_in_one_buffer),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_count_bombs),
        cmocka_unit_test(test_sticky_zeroes_outputs),
        cmocka_unit_test(test_status_str),
        cmocka_unit_test(test_live_event_from_erlang),
        cmocka_unit_test(test_live_replies_from_erlang),
        cmocka_unit_test(test_live_truncations_fail),
        cmocka_unit_test(test_live_out_of_range),
        cmocka_unit_test(test_live_writers),
    };
    return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
