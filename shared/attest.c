/* attest.c - canonical encoding, signing and verification of an agent's
 * attestation of a work result (attest.h). */
#include "attest.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "err.h"

/* Largest encoding: 2 length prefixes + domain + population + fixed fields
 * (version 3's extension included; the domains have the same length). */
#define ATTEST_MAX_LEN                                                                             \
    (4 + sizeof ATTEST_DOMAIN - 1 + 4 + ATTEST_POP_MAX + 4 + 8 + 32 + 1 + 8 + 4 + 4 + 8 + 1 + 32 + \
     WIRE_BREEDER_LEN)
/* ... and of the live encoding. */
#define ATTEST_LIVE_MAX_LEN                                                                        \
    (4 + sizeof ATTEST_DOMAIN_LIVE - 1 + 4 + ATTEST_POP_MAX + 4 + 8 + 32 + 1 + 8 + 1 + 4 + 32 +    \
     32 + 32 + 8 + 4 + 32)

#define CANON_NAN 0x7ff8000000000000ULL

static void put_canon(wire_buf_t *b, double v)
{
    if (isnan(v))
        wire_put_u64(b, CANON_NAN);
    else
        wire_put_f64(b, v);
}

static int put_head(wire_buf_t *b, const char *domain, const char *population, uint32_t deme,
                    uint64_t dseq, const uint8_t child_hash[CRYPTO_HASH_LEN], uint8_t status,
                    double fitness)
{
    assert(b && child_hash);
    if (!population)
        return ERR_INVAL;
    if (strlen(population) > ATTEST_POP_MAX)
        return ERR_TOOBIG;
    wire_put_str(b, domain);
    wire_put_str(b, population);
    wire_put_u32(b, deme);
    wire_put_u64(b, dseq);
    wire_put_raw(b, child_hash, CRYPTO_HASH_LEN);
    wire_put_u8(b, status);
    put_canon(b, fitness);
    return b->err;
}

int attest_result(wire_buf_t *b, const char *population, uint32_t deme, uint64_t dseq,
                  const uint8_t child_hash[CRYPTO_HASH_LEN], uint8_t status, double fitness)
{
    return put_head(b, ATTEST_DOMAIN, population, deme, dseq, child_hash, status, fitness);
}

int attest_result_v2(wire_buf_t *b, const char *population, uint32_t deme, uint64_t dseq,
                     const uint8_t child_hash[CRYPTO_HASH_LEN], uint8_t status, double fitness,
                     const attest_ext_t *x)
{
    assert(x);
    int rc = put_head(b, x->with_breeder ? ATTEST_DOMAIN_V3 : ATTEST_DOMAIN_V2, population, deme,
                      dseq, child_hash, status, fitness);
    if (rc)
        return rc;
    wire_put_u32(b, x->passed);
    wire_put_u32(b, x->cases);
    put_canon(b, x->cost);
    wire_put_u8(b, x->reused);
    wire_put_raw(b, x->errors_hash, CRYPTO_HASH_LEN);
    if (x->with_breeder)
        wire_put_raw(b, x->breeder, WIRE_BREEDER_LEN);
    return b->err;
}

void attest_errors_hash(const double *errors, size_t n, uint8_t out[CRYPTO_HASH_LEN])
{
    memset(out, 0, CRYPTO_HASH_LEN);
    if (n == 0)
        return;
    assert(errors);
    wire_buf_t b;
    wire_buf_init(&b);
    wire_put_u32(&b, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        put_canon(&b, errors[i]);
    if (b.err == 0)
        crypto_hash(b.data, b.len, out);
    else
        memset(out, 0xff, CRYPTO_HASH_LEN); /* out of memory: matches no honest hash */
    wire_buf_free(&b);
}

/* Encodes into a fixed stack buffer: the encoding is small and bounded, and
 * this path runs once per result on both sides. x NULL = version 1. */
static int encode(uint8_t out[ATTEST_MAX_LEN], size_t *len, const char *population, uint32_t deme,
                  uint64_t dseq, const uint8_t child_hash[CRYPTO_HASH_LEN], uint8_t status,
                  double fitness, const attest_ext_t *x)
{
    wire_buf_t b;
    wire_buf_init(&b);
    int rc = x ? attest_result_v2(&b, population, deme, dseq, child_hash, status, fitness, x)
               : attest_result(&b, population, deme, dseq, child_hash, status, fitness);
    if (rc == 0) {
        assert(b.len <= ATTEST_MAX_LEN);
        memcpy(out, b.data, b.len);
        *len = b.len;
    }
    wire_buf_free(&b);
    return rc;
}

static int sign(const node_identity_t *idn, const char *population, uint32_t deme, uint64_t dseq,
                const uint8_t child_hash[CRYPTO_HASH_LEN], uint8_t status, double fitness,
                const attest_ext_t *x, uint8_t sig[CRYPTO_SIG_LEN])
{
    assert(idn && sig);
    uint8_t msg[ATTEST_MAX_LEN];
    size_t len = 0;
    int rc = encode(msg, &len, population, deme, dseq, child_hash, status, fitness, x);
    if (rc) {
        memset(sig, 0, CRYPTO_SIG_LEN);
        return rc;
    }
    crypto_sign(idn, msg, len, sig);
    return 0;
}

static int verify(const uint8_t pk[CRYPTO_PK_LEN], const char *population, uint32_t deme,
                  uint64_t dseq, const uint8_t child_hash[CRYPTO_HASH_LEN], uint8_t status,
                  double fitness, const attest_ext_t *x, const uint8_t sig[CRYPTO_SIG_LEN])
{
    assert(pk && sig);
    uint8_t msg[ATTEST_MAX_LEN];
    size_t len = 0;
    int rc = encode(msg, &len, population, deme, dseq, child_hash, status, fitness, x);
    if (rc)
        return rc;
    return crypto_verify(pk, msg, len, sig);
}

int attest_sign(const node_identity_t *idn, const char *population, uint32_t deme, uint64_t dseq,
                const uint8_t child_hash[CRYPTO_HASH_LEN], uint8_t status, double fitness,
                uint8_t sig[CRYPTO_SIG_LEN])
{
    return sign(idn, population, deme, dseq, child_hash, status, fitness, NULL, sig);
}

int attest_verify(const uint8_t pk[CRYPTO_PK_LEN], const char *population, uint32_t deme,
                  uint64_t dseq, const uint8_t child_hash[CRYPTO_HASH_LEN], uint8_t status,
                  double fitness, const uint8_t sig[CRYPTO_SIG_LEN])
{
    return verify(pk, population, deme, dseq, child_hash, status, fitness, NULL, sig);
}

int attest_sign_v2(const node_identity_t *idn, const char *population, uint32_t deme, uint64_t dseq,
                   const uint8_t child_hash[CRYPTO_HASH_LEN], uint8_t status, double fitness,
                   const attest_ext_t *x, uint8_t sig[CRYPTO_SIG_LEN])
{
    assert(x);
    return sign(idn, population, deme, dseq, child_hash, status, fitness, x, sig);
}

int attest_verify_v2(const uint8_t pk[CRYPTO_PK_LEN], const char *population, uint32_t deme,
                     uint64_t dseq, const uint8_t child_hash[CRYPTO_HASH_LEN], uint8_t status,
                     double fitness, const attest_ext_t *x, const uint8_t sig[CRYPTO_SIG_LEN])
{
    assert(x);
    return verify(pk, population, deme, dseq, child_hash, status, fitness, x, sig);
}

int attest_live(wire_buf_t *b, const char *population, uint32_t individual, uint64_t upgrade_id,
                const uint8_t child_hash[CRYPTO_HASH_LEN], const attest_live_t *x)
{
    assert(x);
    int rc = put_head(b, ATTEST_DOMAIN_LIVE, population, individual, upgrade_id, child_hash,
                      x->status, x->child_score);
    if (rc)
        return rc;
    wire_put_u8(b, x->kind);
    wire_put_u32(b, x->version);
    wire_put_raw(b, x->parent_hash, CRYPTO_HASH_LEN);
    wire_put_raw(b, x->state_before, CRYPTO_HASH_LEN);
    wire_put_raw(b, x->state_after, CRYPTO_HASH_LEN);
    put_canon(b, x->parent_score);
    wire_put_u32(b, x->probation);
    wire_put_raw(b, x->reason_hash, CRYPTO_HASH_LEN);
    return b->err;
}

static int encode_live(uint8_t out[ATTEST_LIVE_MAX_LEN], size_t *len, const char *population,
                       uint32_t individual, uint64_t upgrade_id,
                       const uint8_t child_hash[CRYPTO_HASH_LEN], const attest_live_t *x)
{
    wire_buf_t b;
    wire_buf_init(&b);
    int rc = attest_live(&b, population, individual, upgrade_id, child_hash, x);
    if (rc == 0) {
        assert(b.len <= ATTEST_LIVE_MAX_LEN);
        memcpy(out, b.data, b.len);
        *len = b.len;
    }
    wire_buf_free(&b);
    return rc;
}

int attest_sign_live(const node_identity_t *idn, const char *population, uint32_t individual,
                     uint64_t upgrade_id, const uint8_t child_hash[CRYPTO_HASH_LEN],
                     const attest_live_t *x, uint8_t sig[CRYPTO_SIG_LEN])
{
    assert(idn && sig);
    uint8_t msg[ATTEST_LIVE_MAX_LEN];
    size_t len = 0;
    int rc = encode_live(msg, &len, population, individual, upgrade_id, child_hash, x);
    if (rc) {
        memset(sig, 0, CRYPTO_SIG_LEN);
        return rc;
    }
    crypto_sign(idn, msg, len, sig);
    return 0;
}

int attest_verify_live(const uint8_t pk[CRYPTO_PK_LEN], const char *population, uint32_t individual,
                       uint64_t upgrade_id, const uint8_t child_hash[CRYPTO_HASH_LEN],
                       const attest_live_t *x, const uint8_t sig[CRYPTO_SIG_LEN])
{
    assert(pk && sig);
    uint8_t msg[ATTEST_LIVE_MAX_LEN];
    size_t len = 0;
    int rc = encode_live(msg, &len, population, individual, upgrade_id, child_hash, x);
    if (rc)
        return rc;
    return crypto_verify(pk, msg, len, sig);
}

void attest_reason_hash(const char *reason, size_t len, uint8_t out[CRYPTO_HASH_LEN])
{
    memset(out, 0, CRYPTO_HASH_LEN);
    if (len)
        crypto_hash(reason, len, out);
}
