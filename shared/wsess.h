/* wsess.h - the work channel's session layer, shared by the coordinator
 * (coordinator/work.c) and the agent (agent/awork.c): the handshake in which
 * an agent proves the key its node id derives from, and the sealing of
 * every frame after it with per-session counters.
 *
 * Frame bodies on the socket (the ZeroMQ message after the routing id):
 *   handshake  0x01  crypto_seal(cluster keyring, ad = WSESS_HS_AD, frame)
 *   session    0x02  counter:u64 (big-endian, in clear)
 *                    crypto_seal(cluster keyring, ad = WSESS_AD || sid:32 ||
 *                                direction:u8 || counter:u64, frame)
 * A session's id (sid) is the hash of its handshake transcript; each side
 * numbers the frames it sends 1, 2, 3, ... and accepts from the other only
 * counters above the last it accepted. So a frame captured and replayed
 * later, or into another session, does not open or is dropped as a replay.
 *
 * Invariants:
 *  1. The transcript names both ends (agent id and key, coordinator id),
 *     the connection (the agent's routing id) and a fresh nonce of each
 *     side: a signature over it is good for one handshake only.
 *  2. A counter is never reused under one sid: the sender's counter only
 *     grows, and the receiver's last accepted counter only grows.
 */
#ifndef PETRI_WSESS_H
#define PETRI_WSESS_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

#define WSESS_HS_AD "petri-work-hs-v1"
#define WSESS_AD "petri-work-v2"
#define WSESS_AUTH_DOMAIN "petri-work-auth-v1"
#define WSESS_NONCE_LEN 32
#define WSESS_SID_LEN 32
#define WSESS_ROUTE_LEN 16 /* the agent's routing id: random per connection */
#define WSESS_KIND_HS 0x01
#define WSESS_KIND_SESSION 0x02
#define WSESS_HS_OVERHEAD (1 + CRYPTO_SEAL_OVERHEAD)
#define WSESS_OVERHEAD (1 + 8 + CRYPTO_SEAL_OVERHEAD)
#define WSESS_DIR_TO_COORD 'c'
#define WSESS_DIR_TO_AGENT 'a'

typedef struct wsess {
    uint8_t sid[WSESS_SID_LEN];
    uint8_t tx_dir, rx_dir;
    uint64_t tx_ctr; /* last counter sent */
    uint64_t rx_ctr; /* last counter accepted */
} wsess_t;

/* The transcript hash the agent signs (Ed25519) and the session id. */
void wsess_transcript(const uint8_t agent_id[CRYPTO_ID_LEN], const uint8_t agent_pk[CRYPTO_PK_LEN],
                      const uint8_t coord_id[CRYPTO_ID_LEN], const uint8_t route[WSESS_ROUTE_LEN],
                      const uint8_t coord_nonce[WSESS_NONCE_LEN],
                      const uint8_t agent_nonce[WSESS_NONCE_LEN], uint8_t out[WSESS_SID_LEN]);

/* Starts a session from its transcript hash; agent_side picks directions. */
void wsess_init(wsess_t *s, const uint8_t sid[WSESS_SID_LEN], int agent_side);

/* Seals a handshake frame: out = 0x01 || sealed. outcap >= len +
 * WSESS_HS_OVERHEAD. Returns 0 or crypto_seal's error. */
int wsess_seal_hs(const keyring_t *kr, const uint8_t *frame, size_t len, uint8_t *out,
                  size_t outcap, size_t *outlen);
/* Opens a handshake body (kind byte included). ERR_CRYPTO if it is not one
 * or no key opens it; ERR_TOOBIG if out is too small. */
int wsess_open_hs(const keyring_t *kr, const uint8_t *in, size_t len, uint8_t *out, size_t outcap,
                  size_t *outlen) __attribute__((warn_unused_result));

/* Seals a session frame with the next counter. outcap >= len +
 * WSESS_OVERHEAD. Returns 0 or crypto_seal's error (the counter is used up
 * either way). */
int wsess_seal(wsess_t *s, const keyring_t *kr, const uint8_t *frame, size_t len, uint8_t *out,
               size_t outcap, size_t *outlen);
/* Opens a session body (kind byte included): ERR_STATE (a replay) if its counter is
 * not above the last accepted one, ERR_CRYPTO if it does not open under this
 * session, ERR_TOOBIG if out is too small. Only a frame that opens advances
 * the counter. */
int wsess_open(wsess_t *s, const keyring_t *kr, const uint8_t *in, size_t len, uint8_t *out,
               size_t outcap, size_t *outlen) __attribute__((warn_unused_result));

#endif
