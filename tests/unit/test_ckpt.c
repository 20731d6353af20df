/* test_ckpt.c - cmocka tests of lineage checkpoints (shared/ckpt.c) and the
 * agent's kept checkpoint (agent/ackpt.c): signatures, encodings, and the
 * rules that it only moves forward and never to another key. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ackpt.h"
#include "ckpt.h"
#include "err.h"
#include "log.h"
#include "util.h"

static node_identity_t coord, other;

static ckpt_t make(const node_identity_t *idn, uint64_t seq)
{
    ckpt_t c = {.seq = seq, .time_ms = 1700000000000ULL + seq};
    memset(c.head, (int)(seq & 0xff), sizeof c.head);
    ckpt_sign(&c, idn);
    return c;
}

static void test_sign_verify(void **state)
{
    (void)state;
    ckpt_t c = make(&coord, 42);
    assert_memory_equal(c.pk, coord.pk, CRYPTO_PK_LEN);
    assert_int_equal(ckpt_verify(&c), 0);
    /* every signed field is covered */
    ckpt_t t = c;
    t.seq++;
    assert_int_equal(ckpt_verify(&t), ERR_CRYPTO);
    t = c;
    t.head[5] ^= 1;
    assert_int_equal(ckpt_verify(&t), ERR_CRYPTO);
    t = c;
    t.time_ms++;
    assert_int_equal(ckpt_verify(&t), ERR_CRYPTO);
    t = c;
    memcpy(t.pk, other.pk, CRYPTO_PK_LEN); /* claimed by another key */
    assert_int_equal(ckpt_verify(&t), ERR_CRYPTO);
}

static void test_encoding(void **state)
{
    (void)state;
    ckpt_t c = make(&coord, 0x0102030405060708ULL), d;
    char b64[CKPT_B64_MAX];
    ckpt_to_b64(&c, b64);
    assert_true(strlen(b64) < CKPT_B64_MAX);
    assert_int_equal(ckpt_from_b64(b64, &d), 0);
    assert_memory_equal(&c, &d, sizeof c);
    uint8_t enc[CKPT_LEN];
    ckpt_encode(&c, enc);
    assert_int_equal(enc[0], 1);
    assert_int_equal(enc[7], 8); /* seq big-endian first */
    assert_int_equal(ckpt_decode(enc, CKPT_LEN - 1, &d), ERR_PROTO);
    assert_int_equal(ckpt_from_b64("not base64!", &d), ERR_PROTO);
    assert_int_equal(ckpt_from_b64("AAAA", &d), ERR_PROTO); /* too short */
    assert_int_equal(ckpt_from_b64(NULL, &d), ERR_PROTO);
    char big[400];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(ckpt_from_b64(big, &d), ERR_PROTO);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

/* The kept checkpoint moves forward only, never to another key, never to a
 * forged one, and survives a restart. */
static void test_agent_keeps_newest(void **state)
{
    (void)state;
    char dir[] = "/tmp/petri-ckpt-XXXXXX";
    assert_non_null(mkdtemp(dir));
    ackpt_t *k = ackpt_new(dir);
    assert_non_null(k);
    assert_string_equal(ackpt_b64(k), "");
    char b[CKPT_B64_MAX];
    ckpt_t c10 = make(&coord, 10), c5 = make(&coord, 5), c20 = make(&coord, 20);
    ckpt_to_b64(&c10, b);
    assert_int_equal(ackpt_offer(k, b), 1);
    assert_string_equal(ackpt_b64(k), b);
    assert_int_equal(ackpt_offer(k, b), 0); /* the same: not newer */
    ckpt_to_b64(&c5, b);
    assert_int_equal(ackpt_offer(k, b), 0); /* older: a rolled-back coordinator */
    ckpt_t forged = c20;
    forged.seq = 99;
    ckpt_to_b64(&forged, b);
    assert_int_equal(ackpt_offer(k, b), ERR_CRYPTO);
    assert_int_equal(ackpt_offer(k, "garbage"), ERR_PROTO);
    ckpt_t o30 = make(&other, 30);
    ckpt_to_b64(&o30, b);
    assert_int_equal(ackpt_offer(k, b), 0); /* another key: kept as it was */
    ckpt_to_b64(&c10, b);
    assert_string_equal(ackpt_b64(k), b);
    ckpt_to_b64(&c20, b);
    assert_int_equal(ackpt_offer(k, b), 1);
    ackpt_destroy(&k);
    assert_null(k);

    k = ackpt_new(dir); /* restart */
    assert_string_equal(ackpt_b64(k), b);
    ackpt_destroy(&k);

    /* a damaged file is ignored, then replaced by the next checkpoint */
    char path[128];
    snprintf(path, sizeof path, "%s/lineage.ckpt", dir);
    assert_int_equal(util_write_file_atomic(path, "junk\n", 5, 0600, 0), 0);
    k = ackpt_new(dir);
    assert_string_equal(ackpt_b64(k), "");
    ckpt_to_b64(&c5, b);
    assert_int_equal(ackpt_offer(k, b), 1);
    ackpt_destroy(&k);
    nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    if (crypto_init() != 0)
        return 1;
    log_init("test_ckpt", LOG_LVL_ERROR, 0);
    crypto_sign_ed25519_keypair(coord.pk, coord.sk);
    crypto_sign_ed25519_keypair(other.pk, other.sk);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_encoding),
        cmocka_unit_test(test_agent_keeps_newest),
    };
    return cmocka_run_group_tests_name("ckpt", tests, NULL, NULL);
}
