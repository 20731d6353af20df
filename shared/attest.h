/* attest.h - the bytes an agent signs over a work result, built identically
 * by the agent (signer) and the coordinator (lineage store, verifier). */
#ifndef PETRI_ATTEST_H
#define PETRI_ATTEST_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "wire.h"

#define ATTEST_DOMAIN "petri-result-v1"
#define ATTEST_POP_MAX 64 /* bytes of a population name */

/* Canonical encoding, appended to b with the wire writer (no frame header):
 *   domain:str ("petri-result-v1")  population:str  deme:u32  dseq:u64
 *   child_hash:32 raw bytes  status:u8 (enum wire_status)  fitness:f64
 * Every NaN fitness is written as the one quiet NaN 0x7ff8000000000000, so
 * NaN payload bits never make two honest encoders disagree.
 * population must be non-NULL, without NUL bytes, at most ATTEST_POP_MAX
 * bytes (else ERR_INVAL / ERR_TOOBIG and b is untouched). Returns 0, or the
 * writer's sticky error (-ENOMEM). */
int attest_result(wire_buf_t *b, const char *population, uint32_t deme, uint64_t dseq,
                  const uint8_t child_hash[CRYPTO_HASH_LEN], uint8_t status, double fitness);

/* Signs the attest_result encoding with idn's Ed25519 key into sig.
 * Returns 0, or the error of attest_result (sig is then zeroed). */
int attest_sign(const node_identity_t *idn, const char *population, uint32_t deme, uint64_t dseq,
                const uint8_t child_hash[CRYPTO_HASH_LEN], uint8_t status, double fitness,
                uint8_t sig[CRYPTO_SIG_LEN]);

/* Checks sig against pk over the attest_result encoding. 0 if valid,
 * ERR_CRYPTO if not, or the error of attest_result. */
int attest_verify(const uint8_t pk[CRYPTO_PK_LEN], const char *population, uint32_t deme,
                  uint64_t dseq, const uint8_t child_hash[CRYPTO_HASH_LEN], uint8_t status,
                  double fitness, const uint8_t sig[CRYPTO_SIG_LEN])
    __attribute__((warn_unused_result));

#endif
