/* attest.h - the bytes an agent signs over a work result, built identically
 * by the agent (signer) and the coordinator (lineage store, verifier).
 * Version 1 covers the score; version 2 adds the per-case summary;
 * version 3 adds the identity of the breeder that derived the child. */
#ifndef PETRI_ATTEST_H
#define PETRI_ATTEST_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "wire.h"

#define ATTEST_DOMAIN "petri-result-v1"
#define ATTEST_DOMAIN_V2 "petri-result-v2"
#define ATTEST_DOMAIN_V3 "petri-result-v3"
#define ATTEST_POP_MAX WIRE_POP_MAX /* bytes of a population name */

/* What version 2 adds to a result: the RESULT_EXT summary (wire.h). */
typedef struct attest_ext {
    uint32_t passed, cases;               /* cases that passed, cases run */
    double cost;                          /* the cost objective */
    uint8_t reused;                       /* 1 = an earlier identical evaluation's result */
    uint8_t errors_hash[CRYPTO_HASH_LEN]; /* attest_errors_hash() of the errors */
    /* version 3: with_breeder = 1 signs breeder too (wire.h WIRE_VM_HELLO:
     * the identity of the VM code that bred the child; zeros when no VM
     * bred it, e.g. an external mutator's child the agent only scored) */
    uint8_t with_breeder;
    uint8_t breeder[WIRE_BREEDER_LEN];
} attest_ext_t;

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

/* ---- versions 2 and 3 ----
 * Canonical encoding:
 *   domain:str ("petri-result-v2")  population:str  deme:u32  dseq:u64
 *   child_hash:32 raw  status:u8  fitness:f64  passed:u32  cases:u32
 *   cost:f64  reused:u8  errors_hash:32 raw
 * and when x->with_breeder, version 3: the domain "petri-result-v3" and
 *   breeder:16 raw
 * after errors_hash. fitness and cost are written with the canonical NaN
 * as in version 1. Limits and errors as attest_result. */
int attest_result_v2(wire_buf_t *b, const char *population, uint32_t deme, uint64_t dseq,
                     const uint8_t child_hash[CRYPTO_HASH_LEN], uint8_t status, double fitness,
                     const attest_ext_t *x);
int attest_sign_v2(const node_identity_t *idn, const char *population, uint32_t deme, uint64_t dseq,
                   const uint8_t child_hash[CRYPTO_HASH_LEN], uint8_t status, double fitness,
                   const attest_ext_t *x, uint8_t sig[CRYPTO_SIG_LEN]);
int attest_verify_v2(const uint8_t pk[CRYPTO_PK_LEN], const char *population, uint32_t deme,
                     uint64_t dseq, const uint8_t child_hash[CRYPTO_HASH_LEN], uint8_t status,
                     double fitness, const attest_ext_t *x, const uint8_t sig[CRYPTO_SIG_LEN])
    __attribute__((warn_unused_result));

/* The errors hash: BLAKE2b-256 of the wire encoding of errors as
 * list<f64> (u32 count, then each value big-endian, every NaN written as
 * the canonical quiet NaN); 32 zero bytes when n = 0. */
void attest_errors_hash(const double *errors, size_t n, uint8_t out[CRYPTO_HASH_LEN]);

/* ---- live individuals ----
 * What an agent signs about one event of a live individual (an upgrade's
 * outcome, a start): the lineage's version 3 records (store.h) hold it.
 * Canonical encoding:
 *   domain:str ("petri-live-v1")  population:str  individual:u32
 *   upgrade_id:u64  child_hash:32 raw (BLAKE2b-256 of the source the event
 *   is about: the child of an upgrade, the running version of a start)
 *   status:u8  child_score:f64  kind:u8 (enum wire_live_kind)  version:u32
 *   (running after the event)  parent_hash:32 raw (BLAKE2b-256 of the
 *   parent's source; zeros for a start)  state_before:32 raw
 *   state_after:32 raw (SHA-256 of the state's term_to_binary, the VM's
 *   hashes; zeros when there is none)  parent_score:f64  probation:u32
 *   reason_hash:32 raw (BLAKE2b-256 of the reason text; zeros when empty)
 * Scores are written with the canonical NaN. Limits and errors as
 * attest_result. */
#define ATTEST_DOMAIN_LIVE "petri-live-v1"
typedef struct attest_live {
    uint8_t kind;   /* enum wire_live_kind */
    uint8_t status; /* wire_live_status() of the event */
    uint32_t version;
    uint8_t parent_hash[CRYPTO_HASH_LEN];
    uint8_t state_before[CRYPTO_HASH_LEN], state_after[CRYPTO_HASH_LEN];
    double parent_score, child_score; /* NaN when none */
    uint32_t probation;               /* child requests judged */
    uint8_t reason_hash[CRYPTO_HASH_LEN];
} attest_live_t;

int attest_live(wire_buf_t *b, const char *population, uint32_t individual, uint64_t upgrade_id,
                const uint8_t child_hash[CRYPTO_HASH_LEN], const attest_live_t *x);
int attest_sign_live(const node_identity_t *idn, const char *population, uint32_t individual,
                     uint64_t upgrade_id, const uint8_t child_hash[CRYPTO_HASH_LEN],
                     const attest_live_t *x, uint8_t sig[CRYPTO_SIG_LEN]);
int attest_verify_live(const uint8_t pk[CRYPTO_PK_LEN], const char *population, uint32_t individual,
                       uint64_t upgrade_id, const uint8_t child_hash[CRYPTO_HASH_LEN],
                       const attest_live_t *x, const uint8_t sig[CRYPTO_SIG_LEN])
    __attribute__((warn_unused_result));
/* BLAKE2b-256 of a reason text (zeros when len is 0). */
void attest_reason_hash(const char *reason, size_t len, uint8_t out[CRYPTO_HASH_LEN]);

#endif
