/* attest.c - canonical encoding, signing and verification of an agent's
 * attestation of a work result (attest.h). */
#include "attest.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "err.h"

/* Largest encoding: 3 length prefixes + domain + population + fixed fields. */
#define ATTEST_MAX_LEN (4 + sizeof ATTEST_DOMAIN - 1 + 4 + ATTEST_POP_MAX + 4 + 8 + 32 + 1 + 8)

int attest_result(wire_buf_t *b, const char *population, uint32_t deme, uint64_t dseq,
                  const uint8_t child_hash[CRYPTO_HASH_LEN], uint8_t status, double fitness)
{
    assert(b && child_hash);
    if (!population)
        return ERR_INVAL;
    if (strlen(population) > ATTEST_POP_MAX)
        return ERR_TOOBIG;
    if (isnan(fitness))
        fitness = NAN; /* canonical quiet NaN; see the header */
    wire_put_str(b, ATTEST_DOMAIN);
    wire_put_str(b, population);
    wire_put_u32(b, deme);
    wire_put_u64(b, dseq);
    wire_put_raw(b, child_hash, CRYPTO_HASH_LEN);
    wire_put_u8(b, status);
    if (isnan(fitness))
        wire_put_u64(b, 0x7ff8000000000000ULL);
    else
        wire_put_f64(b, fitness);
    return b->err;
}

/* Encodes into a fixed stack buffer: the encoding is small and bounded, and
 * this path runs once per result on both sides. */
static int encode(uint8_t out[ATTEST_MAX_LEN], size_t *len, const char *population, uint32_t deme,
                  uint64_t dseq, const uint8_t child_hash[CRYPTO_HASH_LEN], uint8_t status,
                  double fitness)
{
    wire_buf_t b;
    wire_buf_init(&b);
    int rc = attest_result(&b, population, deme, dseq, child_hash, status, fitness);
    if (rc == 0) {
        assert(b.len <= ATTEST_MAX_LEN);
        memcpy(out, b.data, b.len);
        *len = b.len;
    }
    wire_buf_free(&b);
    return rc;
}

int attest_sign(const node_identity_t *idn, const char *population, uint32_t deme, uint64_t dseq,
                const uint8_t child_hash[CRYPTO_HASH_LEN], uint8_t status, double fitness,
                uint8_t sig[CRYPTO_SIG_LEN])
{
    assert(idn && sig);
    uint8_t msg[ATTEST_MAX_LEN];
    size_t len = 0;
    int rc = encode(msg, &len, population, deme, dseq, child_hash, status, fitness);
    if (rc) {
        memset(sig, 0, CRYPTO_SIG_LEN);
        return rc;
    }
    crypto_sign(idn, msg, len, sig);
    return 0;
}

int attest_verify(const uint8_t pk[CRYPTO_PK_LEN], const char *population, uint32_t deme,
                  uint64_t dseq, const uint8_t child_hash[CRYPTO_HASH_LEN], uint8_t status,
                  double fitness, const uint8_t sig[CRYPTO_SIG_LEN])
{
    assert(pk && sig);
    uint8_t msg[ATTEST_MAX_LEN];
    size_t len = 0;
    int rc = encode(msg, &len, population, deme, dseq, child_hash, status, fitness);
    if (rc)
        return rc;
    return crypto_verify(pk, msg, len, sig);
}
