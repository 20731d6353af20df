/* ckpt.h - signed checkpoints of the coordinator's lineage log head: the
 * coordinator signs (seq, head hash, its key, time) and gossips it; agents
 * keep the newest and gossip it back, so that a log rolled back or forked
 * behind the data directory's back is caught by whoever holds a newer one.
 *
 * Encoding (CKPT_LEN bytes, gossiped as base64 in metadata key "ckpt"):
 *   seq:u64 BE  head:32  time_ms:u64 BE  coord_pk:32  sig:64
 * sig is the coordinator's Ed25519 signature over CKPT_SIG_DOMAIN as a
 * wire str followed by the first 80 bytes (seq .. coord_pk). head is the
 * hash of record seq (the lineage store's record hash). */
#ifndef PETRI_CKPT_H
#define PETRI_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

#define CKPT_LEN (8 + CRYPTO_HASH_LEN + 8 + CRYPTO_PK_LEN + CRYPTO_SIG_LEN)
#define CKPT_B64_MAX 200 /* base64 of CKPT_LEN bytes, padded, with the NUL */
#define CKPT_SIG_DOMAIN "petri-checkpoint-v1"

typedef struct ckpt {
    uint64_t seq;
    uint8_t head[CRYPTO_HASH_LEN];
    uint64_t time_ms; /* unix wall-clock ms of the signing: data, not a timer */
    uint8_t pk[CRYPTO_PK_LEN];
    uint8_t sig[CRYPTO_SIG_LEN];
} ckpt_t;

/* Fills c->pk with the identity's key and signs c. */
void ckpt_sign(ckpt_t *c, const node_identity_t *idn);
/* 0 if c->sig is c->pk's signature over c, else ERR_CRYPTO. */
int ckpt_verify(const ckpt_t *c) __attribute__((warn_unused_result));
/* The CKPT_LEN bytes of c. */
void ckpt_encode(const ckpt_t *c, uint8_t out[CKPT_LEN]);
/* Decodes exactly CKPT_LEN bytes: 0, or ERR_PROTO for another length. The
 * signature is not checked (ckpt_verify). */
int ckpt_decode(const uint8_t *p, size_t len, ckpt_t *out);
/* base64 (standard, padded) into out[CKPT_B64_MAX]. */
void ckpt_to_b64(const ckpt_t *c, char out[CKPT_B64_MAX]);
/* Decodes base64 text: 0, or ERR_PROTO for text that is not base64 of
 * CKPT_LEN bytes. The signature is not checked. */
int ckpt_from_b64(const char *text, ckpt_t *out);

#endif
