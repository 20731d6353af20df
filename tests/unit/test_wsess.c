/* test_wsess.c - the work channel's session layer: the transcript names
 * every input, frames open once, in their session and direction only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "err.h"
#include "wsess.h"

static keyring_t *kr;

static int setup(void **state)
{
    (void)state;
    assert_int_equal(crypto_init(), 0);
    kr = keyring_new();
    uint8_t key[CRYPTO_KEY_LEN];
    crypto_random(key, sizeof key);
    keyring_add(kr, key);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    keyring_destroy(&kr);
    return 0;
}

static void test_transcript_binds_every_input(void **state)
{
    (void)state;
    uint8_t in[6][64], base[WSESS_SID_LEN], t[WSESS_SID_LEN];
    for (int i = 0; i < 6; i++)
        crypto_random(in[i], sizeof in[i]);
    wsess_transcript(in[0], in[1], in[2], in[3], in[4], in[5], base);
    wsess_transcript(in[0], in[1], in[2], in[3], in[4], in[5], t);
    assert_memory_equal(base, t, sizeof t);
    for (int i = 0; i < 6; i++) {
        in[i][0] ^= 1;
        wsess_transcript(in[0], in[1], in[2], in[3], in[4], in[5], t);
        assert_memory_not_equal(base, t, sizeof t);
        in[i][0] ^= 1;
    }
}

static void test_session_frames_open_once(void **state)
{
    (void)state;
    uint8_t sid[WSESS_SID_LEN], sid2[WSESS_SID_LEN];
    crypto_random(sid, sizeof sid);
    memcpy(sid2, sid, sizeof sid);
    sid2[31] ^= 1;
    wsess_t agent, coord, other;
    wsess_init(&agent, sid, 1);
    wsess_init(&coord, sid, 0);
    wsess_init(&other, sid2, 0);
    const uint8_t msg[] = "a frame";
    uint8_t f1[128], f2[128], out[128];
    size_t n1 = 0, n2 = 0, n = 0;
    assert_int_equal(wsess_seal(&agent, kr, msg, sizeof msg, f1, sizeof f1, &n1), 0);
    assert_int_equal(n1, sizeof msg + WSESS_OVERHEAD);
    assert_int_equal(wsess_seal(&agent, kr, msg, sizeof msg, f2, sizeof f2, &n2), 0);
    /* another session, or the sender's own direction: does not open */
    assert_int_equal(wsess_open(&other, kr, f1, n1, out, sizeof out, &n), ERR_CRYPTO);
    wsess_t back;
    wsess_init(&back, sid, 1);
    assert_int_equal(wsess_open(&back, kr, f1, n1, out, sizeof out, &n), ERR_CRYPTO);
    /* in order once; again, or an older one after a newer: a replay */
    assert_int_equal(wsess_open(&coord, kr, f1, n1, out, sizeof out, &n), 0);
    assert_memory_equal(out, msg, sizeof msg);
    assert_int_equal(wsess_open(&coord, kr, f1, n1, out, sizeof out, &n), ERR_STATE);
    assert_int_equal(wsess_open(&coord, kr, f2, n2, out, sizeof out, &n), 0);
    assert_int_equal(wsess_open(&coord, kr, f1, n1, out, sizeof out, &n), ERR_STATE);
    /* a forged counter does not advance the receiver */
    assert_int_equal(wsess_seal(&agent, kr, msg, sizeof msg, f1, sizeof f1, &n1), 0);
    f1[1] = 0x7f; /* counter far ahead, the seal no longer matches */
    assert_int_equal(wsess_open(&coord, kr, f1, n1, out, sizeof out, &n), ERR_CRYPTO);
    assert_int_equal(coord.rx_ctr, 2);
    /* truncated, or a handshake frame */
    assert_int_equal(wsess_open(&coord, kr, f2, 5, out, sizeof out, &n), ERR_CRYPTO);
    assert_int_equal(wsess_seal_hs(kr, msg, sizeof msg, f1, sizeof f1, &n1), 0);
    assert_int_equal(wsess_open(&coord, kr, f1, n1, out, sizeof out, &n), ERR_CRYPTO);
}

static void test_handshake_frames(void **state)
{
    (void)state;
    const uint8_t msg[] = "open";
    uint8_t f[128], out[128];
    size_t n = 0, m = 0;
    assert_int_equal(wsess_seal_hs(kr, msg, sizeof msg, f, sizeof f, &n), 0);
    assert_int_equal(f[0], WSESS_KIND_HS);
    assert_int_equal(wsess_open_hs(kr, f, n, out, sizeof out, &m), 0);
    assert_memory_equal(out, msg, sizeof msg);
    keyring_t *other = keyring_new();
    uint8_t key[CRYPTO_KEY_LEN];
    crypto_random(key, sizeof key);
    keyring_add(other, key);
    assert_int_equal(wsess_open_hs(other, f, n, out, sizeof out, &m), ERR_CRYPTO);
    keyring_destroy(&other);
    /* sealed for the protocol before sessions: not a handshake frame */
    assert_int_equal(crypto_seal(kr, (const uint8_t *)"petri-work-v1", 13, msg, sizeof msg, f + 1,
                                 sizeof f - 1, &n),
                     0);
    f[0] = WSESS_KIND_HS;
    assert_int_equal(wsess_open_hs(kr, f, n + 1, out, sizeof out, &m), ERR_CRYPTO);
    assert_int_equal(wsess_seal_hs(kr, msg, sizeof msg, f, 10, &n), ERR_TOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transcript_binds_every_input),
        cmocka_unit_test(test_session_frames_open_once),
        cmocka_unit_test(test_handshake_frames),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
