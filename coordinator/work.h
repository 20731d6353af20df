/* work.h - the coordinator's end of the work channel: a ROUTER socket the
 * agents connect to, their authenticated sessions (capacity, credit), and
 * the table of items in flight. Frames are sealed with the cluster keyring;
 * after the handshake, bound to their session (shared/wsess.h).
 *
 * Invariants:
 *  1. An item is in flight on at most one agent at a time; it leaves the
 *     table exactly once: by its result, by work_agent_gone (agent gone),
 *     or by expiring (no answer in time); the last two hand it back.
 *  2. A result is accepted only from the agent the item was sent to, with a
 *     valid signature by that agent's key; anything else is dropped, counted
 *     and logged, and changes nothing.
 *  3. An agent is never sent more items than the credit it last announced.
 *  4. Nothing but the handshake is read from a connection until its agent
 *     has signed a fresh challenge with the key its node id derives from; a
 *     connection displaces an agent's session only then. A node id never
 *     has two keys (ids are self-certifying: crypto_id_from_pk).
 *  5. A session frame is accepted once: counters only grow (wsess.h).
 *
 * Agent session states (one per node id):
 *
 *     (none) --AUTH ok--> OPEN --first HELLO--> WORKING
 *                          ^ |                     |
 *                          | +--- send fails, -----+--> (none)
 *                          |      replaced            (items stay in flight
 *                          +--AUTH ok on a new         until they expire or
 *                             connection               the agent's result)
 */
#ifndef PETRI_WORK_H
#define PETRI_WORK_H

#include <jansson.h>
#include <stdint.h>

#include "crypto.h"
#include "loop.h"
#include "pop.h"
#include "wsess.h"

#define WORK_AD "petri-work-v1" /* the sealing of the protocol before sessions */
#define WORK_MAX_FRAME WIRE_WORK_MAX_FRAME
/* Agents' claims bounded (HELLO): anything beyond is refused, not trusted. */
#define WORK_MAX_VMS 4096           /* an agent's VMs (its config allows 256) */
#define WORK_MAX_CREDIT_PER_VM 1024 /* as [work] credit_per_vm's own bound */
#define WORK_MAX_QUEUED (1u << 20)
/* Handshakes waiting for AUTH: at most this many, each for this long. */
#define WORK_MAX_PENDING 256
#define WORK_HANDSHAKE_MS 10000
#define WORK_EXPIRY_TICK_MS 250

typedef struct work work_t;

typedef struct work_agent {
    uint8_t id[CRYPTO_ID_LEN];
    char name[128];
    uint8_t pk[CRYPTO_PK_LEN];
    uint32_t vms_ready, vms_total, credit, queued;
    uint32_t min_vms, max_vms; /* the range it may be scaled in */
    int drained;               /* the operator drained it: no new work */
    double latency_ms;         /* moving average, item sent -> result */
    int saturated;             /* ran out of credit with work waiting, since last asked */
    uint64_t sent_total;       /* items sent to it, ever */
    uint64_t received;         /* items it said it had received, with `credit` */
    double load;
    int inflight;
    uint64_t last_hello_ms; /* 0 until the session's first HELLO */
    uint64_t results, rejected;
    int gone;    /* declared dead/left: no new work */
    int session; /* an authenticated session is open on route */
    uint8_t route[WSESS_ROUTE_LEN];
    wsess_t sess;
    uint64_t session_ms; /* when the session was established */
    uint64_t sessions;   /* sessions established, ever */
    uint64_t expired;    /* its items that expired */
    /* the breeders its ready VMs run, as its last HELLO said (none from an
     * agent that predates them) */
    uint8_t breeders[WIRE_MAX_BREEDERS][WIRE_BREEDER_LEN];
    int nbreeders;
} work_agent_t;

typedef struct work_result {
    int status;
    double fitness;
    const char *detail;
    const uint8_t *src;
    size_t len;
    uint8_t child_hash[CRYPTO_HASH_LEN];
    uint8_t sig[CRYPTO_SIG_LEN]; /* the agent's, over attest_result_v2() version 3 */
    const work_agent_t *agent;
    /* RESULT_EXT as the agent reported it (wire.h WIRE_WORK_RESULT) */
    uint32_t passed, cases;
    double cost;
    uint8_t reused;
    const double *errors; /* per-case errors, valid during the callback only */
    size_t nerrors;
    uint8_t errors_hash[CRYPTO_HASH_LEN]; /* attest_errors_hash(errors) */
    int has_breeder;                   /* the agent sent (and signed) a breeder: attest version 3 */
    uint8_t breeder[WIRE_BREEDER_LEN]; /* of the VM that bred the child (zeros: none) */
} work_result_t;

typedef struct work_callbacks {
    /* A verified result; the item (now out of the table) is the callee's. */
    void (*result)(void *arg, work_item_t *item, const work_result_t *r);
    /* An agent said hello or announced new credit. */
    void (*capacity)(void *arg, const work_agent_t *a);
    /* After the results of one frame (optional): the time to dispatch. */
    void (*results_done)(void *arg);
    /* An item nobody answered in time (optional; NULL drops it): the callee
     * owns it (to re-issue). */
    void (*expired)(void *arg, work_item_t *it);
    /* A WIRE_WORK_LIVE_EVENT or WIRE_WORK_LIVE_STATUS frame (optional; NULL
     * drops them) from an agent with a session: its payload, valid during
     * the call only. */
    void (*live)(void *arg, const work_agent_t *a, int type, const uint8_t *payload, size_t len);
} work_callbacks_t;

typedef struct work_stats {
    uint64_t frames_in, frames_out, results, dropped_unsealed, dropped_malformed,
        dropped_unknown_item, dropped_bad_sig, dropped_unknown_type;
    /* sessions */
    uint64_t sessions, sessions_replaced, sessions_lost;
    uint64_t auth_refused_key;   /* AUTH whose key does not derive its id */
    uint64_t auth_refused_sig;   /* AUTH with a bad signature */
    uint64_t auth_no_challenge;  /* AUTH with no challenge open on its connection */
    uint64_t dropped_no_session; /* session frames on a connection without one */
    uint64_t dropped_replay;     /* session frames with a used counter */
    uint64_t dropped_old;        /* frames of the protocol before sessions */
    uint64_t hello_refused;      /* HELLO with impossible claims, or another key */
    uint64_t expired;            /* items re-issued for want of an answer */
} work_stats_t;

/* kr is borrowed (the daemon may rotate keys in it); self_id is the
 * coordinator's node id (in the handshake transcript). */
work_t *work_new(loop_t *l, void *zctx, const char *bind, keyring_t *kr,
                 const uint8_t self_id[CRYPTO_ID_LEN], const work_callbacks_t *cb, void *arg,
                 char *err, size_t errlen);
/* In-flight items expire timeouts x their population's limits.timeout_ms
 * after they were sent (at least min_ms). Defaults: 20 x, 30000 ms. */
void work_set_expiry(work_t *w, uint32_t timeouts, uint32_t min_ms);
void work_destroy(work_t **w);

/* Handles one opened (plaintext) session frame from the agent whose node id
 * is id (dropped unless it has a session), as if it had arrived on the
 * socket. The socket path calls it after wsess_open; the fuzz target calls
 * it directly. */
void work_feed(work_t *w, const uint8_t id[CRYPTO_ID_LEN], const uint8_t *plain, size_t len);
/* The same for an opened handshake frame from the connection route. */
void work_feed_handshake(work_t *w, const uint8_t route[WSESS_ROUTE_LEN], const uint8_t *plain,
                         size_t len);

/* Sends items of one population to agent id (taking ownership of the items
 * into the in-flight table). Returns 0, or ERR_NOTFOUND if the agent has no
 * session, ERR_LIMIT if it has no credit for them (nothing is sent and the
 * items stay the caller's). */
int work_send(work_t *w, const uint8_t id[CRYPTO_ID_LEN], const pop_t *p, work_item_t *items,
              int n);
/* Expires in-flight items past their deadline now (the socket's timer calls
 * it every WORK_EXPIRY_TICK_MS); returns how many expired. */
int work_expire(work_t *w);
/* Marks an agent gone (membership says dead/left) and hands every item it
 * held back to fn, which takes ownership (to re-issue elsewhere). */
void work_agent_gone(work_t *w, const uint8_t id[CRYPTO_ID_LEN],
                     void (*fn)(void *arg, work_item_t *it), void *arg);
/* Marks an agent alive again (membership); it gets work once it says hello. */
void work_agent_alive(work_t *w, const uint8_t id[CRYPTO_ID_LEN]);
/* Drops every in-flight item of a population (stopped/solved). */
void work_forget_population(work_t *w, const char *pop);

int work_agent_count(const work_t *w);
const work_agent_t *work_agent_at(const work_t *w, int i);
const work_agent_t *work_agent_find(const work_t *w, const uint8_t id[CRYPTO_ID_LEN]);
/* Items it can take now: its announced credit less items sent that it had
 * not received when it announced it. */
int work_agent_free(const work_agent_t *a);
size_t work_inflight(const work_t *w);
/* Is (pop, deme, dseq) in flight? */
int work_is_inflight(const work_t *w, const char *pop, uint32_t deme, uint64_t dseq);
const work_stats_t *work_stats(const work_t *w);

/* Operator drain (no new work) on or off; ERR_NOTFOUND if unknown. */
int work_agent_set_drained(work_t *w, const uint8_t id[CRYPTO_ID_LEN], int drained);
/* Reads and clears an agent's saturation mark (scale.c). */
int work_agent_take_saturated(work_t *w, const uint8_t id[CRYPTO_ID_LEN]);
void work_agent_mark_saturated(work_t *w, const uint8_t id[CRYPTO_ID_LEN]);
/* Sends one whole frame (wire_begin .. wire_end, e.g. WIRE_WORK_LIVE) in
 * the agent's session. 0, ERR_NOTFOUND without a session, or the send's
 * error (logged). */
int work_send_frame(work_t *w, const uint8_t id[CRYPTO_ID_LEN], const wire_buf_t *frame);
/* Sends a control message (target VMs, drain) to an agent. */
int work_control(work_t *w, const uint8_t id[CRYPTO_ID_LEN], uint32_t target_vms, int drain);

#endif
