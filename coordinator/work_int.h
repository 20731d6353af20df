/* work_int.h - what work.c and work_auth.c share: the channel's state and
 * the helpers the handshake needs. Not for other modules (they use work.h). */
#ifndef PETRI_WORK_INT_H
#define PETRI_WORK_INT_H

#include "work.h"

typedef struct flight {
    work_item_t it;
    uint8_t agent[CRYPTO_ID_LEN];
    uint64_t sent_ms;
    uint64_t deadline_ms; /* re-issued if unanswered by then */
} flight_t;

/* A challenge sent on a connection, waiting for its AUTH. */
typedef struct pending {
    uint8_t route[WSESS_ROUTE_LEN];
    uint8_t nonce[WSESS_NONCE_LEN];
    uint64_t t_ms;
} pending_t;

struct work {
    loop_t *loop;
    void *sock;
    keyring_t *kr;
    uint8_t self_id[CRYPTO_ID_LEN];
    work_callbacks_t cb;
    void *arg;
    work_agent_t *agents;
    int nagents, capagents;
    flight_t *fl;
    size_t nfl, capfl;
    wire_buf_t wb;
    uint8_t *sealbuf;
    size_t sealcap;
    work_stats_t st;
    pending_t pend[WORK_MAX_PENDING];
    int npend;
    uint32_t expiry_timeouts, expiry_min_ms;
    int64_t expiry_timer;
};

/* ---- work.c ---- */
/* The agent of id, created (no session) if new; NULL out of memory. */
work_agent_t *work_add_agent(work_t *w, const uint8_t id[CRYPTO_ID_LEN], int *index);
/* The agent whose session is on connection route, or NULL. */
work_agent_t *work_find_route(work_t *w, const uint8_t route[WSESS_ROUTE_LEN]);
void work_end_session(work_t *w, work_agent_t *a, const char *why);
void work_send_welcome(work_t *w, work_agent_t *a);
/* Seals the frame in w->wb as a handshake frame and sends it to route. */
int work_send_handshake(work_t *w, const uint8_t route[WSESS_ROUTE_LEN]);

/* ---- work_auth.c ---- */
/* The challenge open on route, or NULL (may be stale: check t_ms). */
pending_t *work_find_pending(work_t *w, const uint8_t route[WSESS_ROUTE_LEN]);
/* Sends a fresh challenge to route (replacing any open one there). */
void work_challenge(work_t *w, const uint8_t route[WSESS_ROUTE_LEN]);

#endif
