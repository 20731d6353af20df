/* work.h - the coordinator's end of the work channel: a ROUTER socket the
 * agents connect to, their sessions (capacity, credit), and the table of
 * items in flight. Every frame is sealed with the cluster keyring.
 *
 * Invariants:
 *  1. An item is in flight on at most one agent at a time; it leaves the
 *     table exactly once: by its result, or by work_reclaim (agent gone).
 *  2. A result is accepted only from the agent the item was sent to, with a
 *     valid signature by that agent's key; anything else is dropped, counted
 *     and logged, and changes nothing.
 *  3. An agent is never sent more items than the credit it last announced.
 */
#ifndef PETRI_WORK_H
#define PETRI_WORK_H

#include <jansson.h>
#include <stdint.h>

#include "crypto.h"
#include "loop.h"
#include "pop.h"

#define WORK_AD "petri-work-v1"
#define WORK_MAX_FRAME (4u * 1024 * 1024)

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
    uint64_t last_hello_ms;
    uint64_t results, rejected;
    int gone; /* declared dead/left: no new work */
} work_agent_t;

typedef struct work_result {
    int status;
    double fitness;
    const char *detail;
    const uint8_t *src;
    size_t len;
    uint8_t child_hash[CRYPTO_HASH_LEN];
    uint8_t sig[CRYPTO_SIG_LEN]; /* the agent's, over attest_result_v2() */
    const work_agent_t *agent;
    /* RESULT_EXT as the agent reported it (wire.h WIRE_WORK_RESULT) */
    uint32_t passed, cases;
    double cost;
    uint8_t reused;
    const double *errors; /* per-case errors, valid during the callback only */
    size_t nerrors;
    uint8_t errors_hash[CRYPTO_HASH_LEN]; /* attest_errors_hash(errors) */
} work_result_t;

typedef struct work_callbacks {
    /* A verified result; the item (now out of the table) is the callee's. */
    void (*result)(void *arg, work_item_t *item, const work_result_t *r);
    /* An agent said hello or announced new credit. */
    void (*capacity)(void *arg, const work_agent_t *a);
    /* After the results of one frame (optional): the time to dispatch. */
    void (*results_done)(void *arg);
} work_callbacks_t;

typedef struct work_stats {
    uint64_t frames_in, frames_out, results, dropped_unsealed, dropped_malformed,
        dropped_unknown_item, dropped_bad_sig, dropped_unknown_type;
} work_stats_t;

/* kr is borrowed (the daemon may rotate keys in it). */
work_t *work_new(loop_t *l, void *zctx, const char *bind, keyring_t *kr, const work_callbacks_t *cb,
                 void *arg, char *err, size_t errlen);
void work_destroy(work_t **w);

/* Sends items of one population to agent id (taking ownership of the items
 * into the in-flight table). Returns 0, or ERR_NOTFOUND if the agent has no
 * session, ERR_LIMIT if it has no credit for them (nothing is sent and the
 * items stay the caller's). */
/* Handles one opened (plaintext) frame from the agent whose routing id is
 * id, as if it had arrived on the socket. The socket path calls it after
 * crypto_open; the fuzz target calls it directly. */
void work_feed(work_t *w, const uint8_t id[CRYPTO_ID_LEN], const uint8_t *plain, size_t len);

int work_send(work_t *w, const uint8_t id[CRYPTO_ID_LEN], const pop_t *p, work_item_t *items,
              int n);
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
/* Sends a control message (target VMs, drain) to an agent. */
int work_control(work_t *w, const uint8_t id[CRYPTO_ID_LEN], uint32_t target_vms, int drain);

#endif
