/* crypto.h - libsodium helpers: the cluster keyring (XChaCha20-Poly1305
 * seal/open), node identity (Ed25519 key + 16-byte id in the data dir),
 * signatures and BLAKE2b-256 hashes. Secrets live in sodium_malloc'd memory
 * and are wiped on destroy. Call crypto_init() once before anything else. */
#ifndef PETRI_CRYPTO_H
#define PETRI_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/* libsodium itself exports functions named crypto_hash (SHA-512) and
 * crypto_sign (attached signatures). petri's two functions of those names
 * are therefore renamed at the symbol level: sodium.h is included first,
 * so its declarations keep their names, and petri code that calls
 * crypto_hash()/crypto_sign() after including this header gets petri's.
 * (Call libsodium's versions as crypto_hash_sha512 / crypto_sign_ed25519.) */
#include <sodium.h>
#define crypto_hash petri_crypto_hash
#define crypto_sign petri_crypto_sign

#define CRYPTO_KEY_LEN 32
#define CRYPTO_NONCE_LEN 24
#define CRYPTO_TAG_LEN 16
#define CRYPTO_SEAL_OVERHEAD (CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN)
#define CRYPTO_HASH_LEN 32
#define CRYPTO_PK_LEN 32
#define CRYPTO_SK_LEN 64
#define CRYPTO_SIG_LEN 64
#define CRYPTO_ID_LEN 16
#define KEYRING_MAX 16
#define CRYPTO_KEY_B64_LEN 44 /* base64 of 32 bytes, with padding */

/* Returns 0, or -1 if libsodium cannot initialise. */
int crypto_init(void) __attribute__((warn_unused_result));

/* ---- keyring ---- */
typedef struct keyring keyring_t;

keyring_t *keyring_new(void);
void keyring_destroy(keyring_t **kr);
/* Adds a key (no-op if present). The first key added becomes primary.
 * ERR_LIMIT when KEYRING_MAX keys are held. */
int keyring_add(keyring_t *kr, const uint8_t key[CRYPTO_KEY_LEN]);
/* Makes an installed key primary; ERR_NOTFOUND if absent. */
int keyring_use(keyring_t *kr, const uint8_t key[CRYPTO_KEY_LEN]);
/* Removes a key; ERR_STATE for the primary, ERR_NOTFOUND if absent. */
int keyring_remove(keyring_t *kr, const uint8_t key[CRYPTO_KEY_LEN]);
int keyring_count(const keyring_t *kr);
/* Copies key i (0 = primary) into key; ERR_NOTFOUND out of range. */
int keyring_get(const keyring_t *kr, int i, uint8_t key[CRYPTO_KEY_LEN]);
/* Loads a file of base64 keys, one a line, first = primary; '#' comments. */
int keyring_load_file(keyring_t *kr, const char *path, char *err, size_t errlen);

/* base64 (standard, padded) <-> 32-byte key. out needs CRYPTO_KEY_B64_LEN+1. */
int crypto_key_from_b64(const char *b64, uint8_t key[CRYPTO_KEY_LEN]);
void crypto_key_to_b64(const uint8_t key[CRYPTO_KEY_LEN], char *out);
void crypto_random(void *buf, size_t n);

/* Seals pt with the primary key: out = nonce || ciphertext || tag, outcap >=
 * ptlen + CRYPTO_SEAL_OVERHEAD. ad (may be NULL) is authenticated, not sent.
 * ERR_STATE with an empty keyring, ERR_TOOBIG if out is too small. */
int crypto_seal(const keyring_t *kr, const uint8_t *ad, size_t adlen, const uint8_t *pt,
                size_t ptlen, uint8_t *out, size_t outcap, size_t *outlen);
/* Opens with any key of the ring (primary first). ERR_CRYPTO if none opens
 * it or it is too short; ERR_TOOBIG if out is too small. */
int crypto_open(const keyring_t *kr, const uint8_t *ad, size_t adlen, const uint8_t *in,
                size_t inlen, uint8_t *out, size_t outcap, size_t *outlen)
    __attribute__((warn_unused_result));

/* ---- identity ---- */
typedef struct node_identity {
    uint8_t id[CRYPTO_ID_LEN];
    uint8_t pk[CRYPTO_PK_LEN];
    uint8_t sk[CRYPTO_SK_LEN];
} node_identity_t;

/* Node ids are self-certifying: id = the first CRYPTO_ID_LEN bytes of
 * BLAKE2b-256(Ed25519 public key). Whoever presents an id must prove the
 * key it derives from (the work channel's handshake does). */
int crypto_id_from_pk(const uint8_t pk[CRYPTO_PK_LEN], uint8_t id[CRYPTO_ID_LEN]);
/* 0 if id derives from pk, ERR_CRYPTO if not. */
int crypto_id_check(const uint8_t id[CRYPTO_ID_LEN], const uint8_t pk[CRYPTO_PK_LEN])
    __attribute__((warn_unused_result));

/* Loads <data_dir>/node.key (mode 0600), creating the directory (0700) and
 * the key on first start; the id is derived from the key and recorded in
 * <data_dir>/node.id. A data dir from before ids were derived holds a random
 * id in node.id: it is moved to node.id.old and replaced by the derived id
 * with a log line (the node then joins as a new member; its old id is
 * declared dead in time). A node.id that is not 32 hex characters is an error (ERR_CONFIG),
 * never overwritten. */
int identity_load_or_create(const char *data_dir, node_identity_t *out, char *err, size_t errlen);
void identity_wipe(node_identity_t *idn);

void crypto_sign(const node_identity_t *idn, const void *msg, size_t len,
                 uint8_t sig[CRYPTO_SIG_LEN]);
/* 0 if valid, ERR_CRYPTO otherwise. */
int crypto_verify(const uint8_t pk[CRYPTO_PK_LEN], const void *msg, size_t len,
                  const uint8_t sig[CRYPTO_SIG_LEN]) __attribute__((warn_unused_result));

/* BLAKE2b-256. */
void crypto_hash(const void *data, size_t len, uint8_t out[CRYPTO_HASH_LEN]);
/* Lower-case hex of n bytes into out[2n+1]. */
void crypto_hex(const uint8_t *in, size_t n, char *out);
/* Parses exactly 2n hex chars; 0 or ERR_INVAL. */
int crypto_unhex(const char *hex, uint8_t *out, size_t n);

#endif
