/* test_attest.c - cmocka tests of the result attestation (shared/attest.c):
 * layout, sign/verify round trip, every field covered, NaN canonical form;
 * version 2 (per-case summary) layout, errors hash and tampering. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attest.h"
#include "err.h"

static node_identity_t idn;
static uint8_t child[CRYPTO_HASH_LEN];

static int setup(void **state)
{
    assert_int_equal(crypto_init(), 0);
    crypto_sign_ed25519_keypair(idn.pk, idn.sk);
    crypto_random(idn.id, sizeof idn.id);
    crypto_hash("child", 5, child);
    return 0;
}

static void test_layout(void **state)
{
    wire_buf_t b;
    wire_buf_init(&b);
    assert_int_equal(attest_result(&b, "quad", 3, 0x0102030405060708ULL, child, 0, 1.5), 0);
    /* domain:str pop:str deme:u32 dseq:u64 child:32 status:u8 fitness:f64 */
    assert_int_equal(b.len, 4 + 15 + 4 + 4 + 4 + 8 + 32 + 1 + 8);
    assert_memory_equal(b.data, "\0\0\0\x0fpetri-result-v1\0\0\0\x04quad\0\0\0\x03", 31);
    assert_memory_equal(b.data + 31, "\1\2\3\4\5\6\7\x8", 8);
    assert_memory_equal(b.data + 39, child, 32);
    assert_int_equal(b.data[71], 0);
    assert_memory_equal(b.data + 72, "\x3f\xf8\0\0\0\0\0\0", 8); /* 1.5 */
    wire_buf_free(&b);
}

static void test_sign_verify(void **state)
{
    uint8_t sig[CRYPTO_SIG_LEN];
    assert_int_equal(attest_sign(&idn, "quad", 1, 42, child, WIRE_ST_OK, 0.25, sig), 0);
    assert_int_equal(attest_verify(idn.pk, "quad", 1, 42, child, WIRE_ST_OK, 0.25, sig), 0);
    /* every field is covered */
    assert_int_equal(attest_verify(idn.pk, "quae", 1, 42, child, WIRE_ST_OK, 0.25, sig),
                     ERR_CRYPTO);
    assert_int_equal(attest_verify(idn.pk, "quad", 2, 42, child, WIRE_ST_OK, 0.25, sig),
                     ERR_CRYPTO);
    assert_int_equal(attest_verify(idn.pk, "quad", 1, 43, child, WIRE_ST_OK, 0.25, sig),
                     ERR_CRYPTO);
    uint8_t other[CRYPTO_HASH_LEN];
    memcpy(other, child, sizeof other);
    other[31] ^= 1;
    assert_int_equal(attest_verify(idn.pk, "quad", 1, 42, other, WIRE_ST_OK, 0.25, sig),
                     ERR_CRYPTO);
    assert_int_equal(attest_verify(idn.pk, "quad", 1, 42, child, WIRE_ST_CRASH, 0.25, sig),
                     ERR_CRYPTO);
    assert_int_equal(attest_verify(idn.pk, "quad", 1, 42, child, WIRE_ST_OK, 0.2500001, sig),
                     ERR_CRYPTO);
    sig[5] ^= 0x10;
    assert_int_equal(attest_verify(idn.pk, "quad", 1, 42, child, WIRE_ST_OK, 0.25, sig),
                     ERR_CRYPTO);
    sig[5] ^= 0x10;
    uint8_t pk2[CRYPTO_PK_LEN], sk2[CRYPTO_SK_LEN];
    crypto_sign_ed25519_keypair(pk2, sk2);
    assert_int_equal(attest_verify(pk2, "quad", 1, 42, child, WIRE_ST_OK, 0.25, sig), ERR_CRYPTO);
}

static void test_nan_canonical(void **state)
{
    uint64_t bits = 0x7ff80000deadbeefULL; /* a NaN with a payload */
    double odd;
    memcpy(&odd, &bits, sizeof odd);
    assert_true(isnan(odd));
    uint8_t sig[CRYPTO_SIG_LEN];
    assert_int_equal(attest_sign(&idn, "p", 0, 1, child, WIRE_ST_TIMEOUT, odd, sig), 0);
    assert_int_equal(attest_verify(idn.pk, "p", 0, 1, child, WIRE_ST_TIMEOUT, NAN, sig), 0);
    assert_int_equal(attest_verify(idn.pk, "p", 0, 1, child, WIRE_ST_TIMEOUT, -NAN, sig), 0);
    assert_int_equal(attest_verify(idn.pk, "p", 0, 1, child, WIRE_ST_TIMEOUT, 0.0, sig),
                     ERR_CRYPTO);
    wire_buf_t b;
    wire_buf_init(&b);
    assert_int_equal(attest_result(&b, "p", 0, 1, child, 4, -NAN), 0);
    assert_memory_equal(b.data + b.len - 8, "\x7f\xf8\0\0\0\0\0\0", 8);
    wire_buf_free(&b);
}

static void test_bad_population(void **state)
{
    char longpop[ATTEST_POP_MAX + 2];
    memset(longpop, 'a', sizeof longpop - 1);
    longpop[sizeof longpop - 1] = '\0';
    uint8_t sig[CRYPTO_SIG_LEN];
    memset(sig, 0xaa, sizeof sig);
    assert_int_equal(attest_sign(&idn, longpop, 0, 1, child, 0, 1.0, sig), ERR_TOOBIG);
    for (size_t i = 0; i < sizeof sig; i++)
        assert_int_equal(sig[i], 0);
    assert_int_equal(attest_sign(&idn, NULL, 0, 1, child, 0, 1.0, sig), ERR_INVAL);
    assert_int_equal(attest_verify(idn.pk, longpop, 0, 1, child, 0, 1.0, sig), ERR_TOOBIG);
    longpop[ATTEST_POP_MAX] = '\0'; /* exactly the cap is fine */
    assert_int_equal(attest_sign(&idn, longpop, 0, 1, child, 0, 1.0, sig), 0);
    assert_int_equal(attest_verify(idn.pk, longpop, 0, 1, child, 0, 1.0, sig), 0);
    wire_buf_t b;
    wire_buf_init(&b);
    longpop[ATTEST_POP_MAX] = 'a';
    assert_int_equal(attest_result(&b, longpop, 0, 1, child, 0, 1.0), ERR_TOOBIG);
    assert_int_equal(b.len, 0);
    wire_buf_free(&b);
}

static void test_v2_layout(void **state)
{
    attest_ext_t x = {.passed = 7, .cases = 9, .cost = 2.0, .reused = 1};
    memset(x.errors_hash, 0xab, sizeof x.errors_hash);
    wire_buf_t b;
    wire_buf_init(&b);
    assert_int_equal(attest_result_v2(&b, "quad", 3, 5, child, 0, 1.5, &x), 0);
    size_t v1 = 4 + 15 + 4 + 4 + 4 + 8 + 32 + 1 + 8;
    assert_int_equal(b.len, v1 + 4 + 4 + 8 + 1 + 32);
    assert_memory_equal(b.data, "\0\0\0\x0fpetri-result-v2", 19);
    assert_memory_equal(b.data + v1, "\0\0\0\x07\0\0\0\x09\x40\0\0\0\0\0\0\0\x01", 17);
    assert_memory_equal(b.data + v1 + 17, x.errors_hash, 32);
    wire_buf_free(&b);
}

static void test_errors_hash(void **state)
{
    uint8_t h[CRYPTO_HASH_LEN], zero[CRYPTO_HASH_LEN] = {0}, h2[CRYPTO_HASH_LEN];
    attest_errors_hash(NULL, 0, h);
    assert_memory_equal(h, zero, sizeof h);
    double e[3] = {0, 1.5, 2};
    attest_errors_hash(e, 3, h);
    assert_memory_not_equal(h, zero, sizeof h);
    /* the hash is of the list<f64> encoding */
    uint8_t enc[4 + 24] = {0, 0, 0, 3, 0, 0, 0,    0, 0, 0, 0, 0, 0x3f, 0xf8,
                           0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0,    0};
    crypto_hash(enc, sizeof enc, h2);
    assert_memory_equal(h, h2, sizeof h);
    /* NaN payloads do not matter; values and order do */
    uint64_t bits = 0x7ff80000deadbeefULL;
    double odd, n1[1] = {NAN}, n2[1];
    memcpy(&odd, &bits, sizeof odd);
    n2[0] = odd;
    attest_errors_hash(n1, 1, h);
    attest_errors_hash(n2, 1, h2);
    assert_memory_equal(h, h2, sizeof h);
    double swapped[3] = {1.5, 0, 2};
    attest_errors_hash(e, 3, h);
    attest_errors_hash(swapped, 3, h2);
    assert_memory_not_equal(h, h2, sizeof h);
    attest_errors_hash(e, 2, h2); /* a dropped case */
    assert_memory_not_equal(h, h2, sizeof h);
}

/* Changing passed, cases, cost, reused or any error value breaks a v2
 * signature; a v2 signature is no v1 signature and the reverse. */
static void test_v2_tamper(void **state)
{
    double errs[4] = {0, 0, 3, 0.5};
    attest_ext_t x = {.passed = 2, .cases = 4, .cost = 120, .reused = 0};
    attest_errors_hash(errs, 4, x.errors_hash);
    uint8_t sig[CRYPTO_SIG_LEN];
    assert_int_equal(attest_sign_v2(&idn, "quad", 1, 42, child, WIRE_ST_OK, 3.5, &x, sig), 0);
    assert_int_equal(attest_verify_v2(idn.pk, "quad", 1, 42, child, WIRE_ST_OK, 3.5, &x, sig), 0);
    attest_ext_t t = x;
    t.passed = 4; /* claims every case passed */
    assert_int_equal(attest_verify_v2(idn.pk, "quad", 1, 42, child, WIRE_ST_OK, 3.5, &t, sig),
                     ERR_CRYPTO);
    t = x;
    t.cases = 5;
    assert_int_equal(attest_verify_v2(idn.pk, "quad", 1, 42, child, WIRE_ST_OK, 3.5, &t, sig),
                     ERR_CRYPTO);
    t = x;
    t.cost = 119;
    assert_int_equal(attest_verify_v2(idn.pk, "quad", 1, 42, child, WIRE_ST_OK, 3.5, &t, sig),
                     ERR_CRYPTO);
    t = x;
    t.reused = 1;
    assert_int_equal(attest_verify_v2(idn.pk, "quad", 1, 42, child, WIRE_ST_OK, 3.5, &t, sig),
                     ERR_CRYPTO);
    t = x;
    errs[2] = 0; /* one case's error changed */
    attest_errors_hash(errs, 4, t.errors_hash);
    assert_int_equal(attest_verify_v2(idn.pk, "quad", 1, 42, child, WIRE_ST_OK, 3.5, &t, sig),
                     ERR_CRYPTO);
    assert_int_equal(attest_verify_v2(idn.pk, "quad", 1, 42, child, WIRE_ST_OK, 3.25, &x, sig),
                     ERR_CRYPTO);
    /* versions do not cross */
    assert_int_equal(attest_verify(idn.pk, "quad", 1, 42, child, WIRE_ST_OK, 3.5, sig), ERR_CRYPTO);
    uint8_t sig1[CRYPTO_SIG_LEN];
    assert_int_equal(attest_sign(&idn, "quad", 1, 42, child, WIRE_ST_OK, 3.5, sig1), 0);
    attest_ext_t z = {0};
    assert_int_equal(attest_verify_v2(idn.pk, "quad", 1, 42, child, WIRE_ST_OK, 3.5, &z, sig1),
                     ERR_CRYPTO);
    /* a NaN cost is canonical like fitness */
    uint64_t bits = 0x7ff80000deadbeefULL;
    memcpy(&t.cost, &bits, sizeof t.cost);
    t = (attest_ext_t){.cost = t.cost};
    assert_int_equal(attest_sign_v2(&idn, "p", 0, 1, child, WIRE_ST_CRASH, NAN, &t, sig), 0);
    t.cost = NAN;
    assert_int_equal(attest_verify_v2(idn.pk, "p", 0, 1, child, WIRE_ST_CRASH, NAN, &t, sig), 0);
}

/* Version 3: version 2's encoding under its own domain, then the breeder.
 * Every breeder bit is covered, and no signature crosses versions 2 and 3. */
static void test_v3_breeder(void **state)
{
    (void)state;
    attest_ext_t x = {.passed = 7, .cases = 9, .cost = 2.0, .reused = 1, .with_breeder = 1};
    memset(x.errors_hash, 0xab, sizeof x.errors_hash);
    for (int i = 0; i < WIRE_BREEDER_LEN; i++)
        x.breeder[i] = (uint8_t)(0x30 + i);
    wire_buf_t b, b2;
    wire_buf_init(&b);
    wire_buf_init(&b2);
    assert_int_equal(attest_result_v2(&b, "quad", 3, 5, child, 0, 1.5, &x), 0);
    attest_ext_t x2 = x;
    x2.with_breeder = 0;
    assert_int_equal(attest_result_v2(&b2, "quad", 3, 5, child, 0, 1.5, &x2), 0);
    assert_int_equal(b.len, b2.len + WIRE_BREEDER_LEN);
    assert_memory_equal(b.data, "\0\0\0\x0fpetri-result-v3", 19);
    assert_memory_equal(b.data + 19, b2.data + 19, b2.len - 19);
    assert_memory_equal(b.data + b2.len, x.breeder, WIRE_BREEDER_LEN);
    wire_buf_free(&b);
    wire_buf_free(&b2);

    uint8_t sig[CRYPTO_SIG_LEN];
    assert_int_equal(attest_sign_v2(&idn, "quad", 1, 42, child, WIRE_ST_OK, 3.5, &x, sig), 0);
    assert_int_equal(attest_verify_v2(idn.pk, "quad", 1, 42, child, WIRE_ST_OK, 3.5, &x, sig), 0);
    for (int i = 0; i < WIRE_BREEDER_LEN * 8; i++) {
        attest_ext_t t = x;
        t.breeder[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_int_equal(attest_verify_v2(idn.pk, "quad", 1, 42, child, WIRE_ST_OK, 3.5, &t, sig),
                         ERR_CRYPTO);
    }
    /* a version 3 signature read as version 2, and the reverse */
    assert_int_equal(attest_verify_v2(idn.pk, "quad", 1, 42, child, WIRE_ST_OK, 3.5, &x2, sig),
                     ERR_CRYPTO);
    uint8_t sig2[CRYPTO_SIG_LEN];
    assert_int_equal(attest_sign_v2(&idn, "quad", 1, 42, child, WIRE_ST_OK, 3.5, &x2, sig2), 0);
    assert_int_equal(attest_verify_v2(idn.pk, "quad", 1, 42, child, WIRE_ST_OK, 3.5, &x, sig2),
                     ERR_CRYPTO);
    /* zeros are a breeder like any other: "no VM bred it" is signed too */
    attest_ext_t z = x;
    memset(z.breeder, 0, WIRE_BREEDER_LEN);
    assert_int_equal(attest_verify_v2(idn.pk, "quad", 1, 42, child, WIRE_ST_OK, 3.5, &z, sig),
                     ERR_CRYPTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_nan_canonical), cmocka_unit_test(test_bad_population),
        cmocka_unit_test(test_v2_layout),     cmocka_unit_test(test_errors_hash),
        cmocka_unit_test(test_v2_tamper),     cmocka_unit_test(test_v3_breeder),
    };
    return cmocka_run_group_tests_name("attest", tests, setup, NULL);
}
