/* coord.h - the coordinator daemon's state, shared by its parts: coord.c
 * (the loop: work dispatch, results, group commit, membership), api.c (the
 * HTTP resources), commit.c (group commit off the loop, checkpoints) and
 * replay.c (re-deriving recorded children).
 *
 * Invariants:
 *  1. A result becomes a lineage record at most once: its derivation key is
 *     checked against the store and against the pending batch.
 *  2. Population state is persisted only after the records it refers to
 *     are durable, so a restart never finds a member without its genome:
 *     it is written in the same store transaction as the batch holding
 *     every result applied to it so far (commit.c).
 *  4. The loop never waits for an fsync of results: batches are signed on
 *     the loop and committed by the store's thread; only explicit saves
 *     (coord_save_pop: reservations, state changes) and shutdown wait.
 *  5. A member's checkpoint that the log does not hold stops the
 *     coordinator (COORD_EXIT_LINEAGE) as soon as gossip brings it (join,
 *     alive, metadata update). Records made before that are not trusted
 *     either: a log past a rollback point no longer holds the checkpoint's
 *     hash at its seq, so the check still fires.
 *  3. An item of a dead agent is re-issued, unchanged, to the deme's new
 *     owner as soon as membership declares the agent dead.
 */
#ifndef PETRI_COORD_H
#define PETRI_COORD_H

#include <jansson.h>
#include <stdint.h>

#include "config.h"
#include "crypto.h"
#include "gossip.h"
#include "http.h"
#include "live_pop.h"
#include "loop.h"
#include "metrics.h"
#include "pop.h"
#include "store.h"
#include "work.h"

#define COORD_MAX_POPS 256
#define COORD_MAX_AGENTS 512
#define SCALE_TICK_MS 2000
#define ITEM_REPLAY WIRE_ITEM_BREED /* the child is compared, not scored */
/* Exit status of `petri coordinator` when the lineage cannot be trusted: a
 * member holds a checkpoint the log does not (rolled back, truncated,
 * forked or re-signed), or the key is not [lineage] pinned_key. */
#define COORD_EXIT_LINEAGE 3
#define COORD_CKPT_UNSEEN_MAX 64

typedef struct pending {
    store_item_t si;
    char pop[POP_NAME_MAX];
    char op[WIRE_OP_MAX + 1];
    char *src;
} pending_t;

/* A batch submitted to the store and not yet known durable (coord.c). Its
 * results stay here until the store says the batch is durable, so that a
 * failed batch can be submitted again. */
#define COORD_INFLIGHT_MAX 2 /* the store's own pipeline depth */
typedef struct inflight {
    uint64_t ticket;
    pending_t *pending;  /* the batch's results, owned */
    store_item_t *items; /* their store items (outputs filled at submit) */
    size_t n;
    char (*saved)[POP_NAME_MAX]; /* populations whose state rides in the batch */
    int nsaved;
    uint64_t t_submit; /* mono_us */
} inflight_t;

typedef struct replay_job {
    uint64_t ticket; /* deferred HTTP reply */
    json_t *verify;  /* the chain verification result */
    int want, sent, done, mismatches;
    int other_breeder; /* replayed on another breeder than the record's: not compared */
    json_t *errors;
    json_t *not_compared; /* [{seq, reason}] of those */
    uint64_t started_ms;
} replay_job_t;

/* The scaling decision for one agent (scale.c). */
typedef struct scale_entry {
    uint8_t id[CRYPTO_ID_LEN];
    uint32_t target; /* 0 = none sent yet */
    int busy_ticks, idle_ticks;
    char reason[200];
    uint64_t decided_ms;
} scale_entry_t;

typedef struct vjob vjob_t; /* a lineage verification running (vjob.c) */
typedef struct xjob xjob_t; /* a lineage export running (xjob.c) */

typedef struct coord {
    cfg_t *cfg;
    loop_t *loop;
    void *zctx;
    node_identity_t id;
    keyring_t *kr;
    gossip_t *gossip;
    work_t *work;
    store_t *store;
    http_t *http;
    char name[128];
    char work_endpoint[300];
    pop_t *pops[COORD_MAX_POPS];
    int npops;
    pending_t *pending;
    size_t npending, cappending;
    work_item_t *reissue;
    size_t nreissue, capreissue;
    replay_job_t *replay;
    vjob_t *vjob;
    xjob_t *xjob;
    inflight_t inflight[COORD_INFLIGHT_MAX]; /* oldest first */
    int ninflight;
    uint64_t last_save_ms;
    /* lineage checkpoints (coord.c) */
    uint64_t ckpt_seq, ckpt_ms; /* the last one issued */
    char ckpt_b64[256];         /* its encoding, as gossiped */
    char fingerprint[40];       /* of the coordinator key */
    int pinned;                 /* [lineage] pinned_key names this key */
    uint64_t ckpts_issued, ckpts_checked;
    /* members whose gossip metadata (checkpoint) was checked since start,
     * and agents with durable results not seen yet (commit.c) */
    uint8_t ckpt_seen[COORD_MAX_AGENTS][CRYPTO_ID_LEN];
    int nckpt_seen;
    uint8_t ckpt_unseen[COORD_CKPT_UNSEEN_MAX][CRYPTO_ID_LEN];
    int nckpt_unseen;
    uint64_t ckpt_hold_ms;
    uint64_t restore_dropped; /* members dropped on restore: genome missing */
    uint64_t reissued, discarded_late, recorded, commit_failures;
    uint64_t given_up;          /* items dropped after agents died holding them (pop_item_lost) */
    metrics_hist_t commit_hist; /* group commit wall time, seconds (zeroed = default buckets) */
    int64_t commit_timer;
    int stopping;
    int dispatching;
    unsigned dispatch_turn; /* the population coord_dispatch serves first, mod npops */
    scale_entry_t scale[COORD_MAX_AGENTS];
    int nscale;
    live_pop_t *live[LIVE_MAX_POPS]; /* live populations (live.c) */
    int nlive;
} coord_t;

/* coord.c, commit.c */
int coord_main(int argc, char **argv);
pop_t *coord_find_pop(coord_t *c, const char *name);
int coord_add_pop(coord_t *c, pop_t *p);
void coord_dispatch(coord_t *c);
/* Persists p's state (and any other changed population's) together with
 * every pending result, in one store transaction after every batch in
 * flight, and waits until it is durable (blocks the loop for one commit:
 * for reservations and state changes that must not be lost). */
int coord_save_pop(coord_t *c, pop_t *p);
/* Submits the pending results as one batch (group commit) without waiting
 * for the fsync: the store's committer thread writes it, and the loop
 * learns of it through store_event_fd(). Changed population state rides
 * in the batch every [store] save_interval_ms. 0, or the submit error
 * (the results stay pending). */
int coord_commit(coord_t *c);
/* Queues one verified result (si's strings and source are copied) for the
 * next group commit; commits at once at [store] commit_max. 0 or -ENOMEM. */
int coord_pending_add(coord_t *c, const store_item_t *si, const char *pop, const char *op);
/* Watches the store's eventfd on c->loop, so finished batches retire on
 * the loop (coord_main does it; benchmarks too). */
int coord_commit_attach(coord_t *c);
/* Waits for every batch in flight (shutdown, benchmarks). */
void coord_commit_drain(coord_t *c);
/* Shutdown: every population's state with the pending results, durable. */
void coord_save_all(coord_t *c);
/* Frees what is left in flight (shutdown, after coord_save_all). */
void coord_commit_free(coord_t *c);
/* Signs a checkpoint of the durable head and gossips it, when [lineage]
 * checkpoint_records or checkpoint_interval_ms say one is due (or force). */
void coord_ckpt_issue(coord_t *c, int force);
/* Checks a member's gossiped checkpoint against the log: one the log does
 * not hold (ahead of the head, another hash at its seq, another key when
 * this key is not pinned) stops the coordinator with COORD_EXIT_LINEAGE. */
void coord_ckpt_check(coord_t *c, const uint8_t id[CRYPTO_ID_LEN], const char *name,
                      const uint8_t *meta, size_t metalen);
/* Queues an item to be sent (submitted genomes, replays, re-issues). */
void coord_queue_item(coord_t *c, work_item_t *it);

/* api.c: the HTTP handler (runs on the loop thread). */
void api_handle(void *arg, const http_req_t *req, http_resp_t *resp);

/* scale.c: VM counts per agent from queue pressure and latency; drain. */
void scale_tick(coord_t *c);
json_t *scale_status_json(coord_t *c);
json_t *agents_json(coord_t *c);
/* POST /v1/agents/NAME/drain: 0, or ERR_NOTFOUND for an unknown agent. */
int agent_drain(coord_t *c, const char *name, json_t **out);

/* metrics.c: GET /metrics (Prometheus text). coord_metrics_write builds it
 * from c and a membership snapshot (gst NULL: no gossip families); c->work,
 * c->store and c->gossip may be NULL (benchmarks). */
void coord_metrics(coord_t *c, http_resp_t *resp);
void coord_metrics_write(coord_t *c, const gossip_member_t *mem, int nmem,
                         const gossip_stats_t *gst, metrics_buf_t *m);

/* ui.c: GET /ui, the dashboard (one self-contained HTML page). */
void ui_page(http_resp_t *resp);

/* vjob.c: lineage verification on its own thread; the deferred reply
 * (ticket) gets the result, or replay_start() takes over when replay > 0.
 * ERR_STATE if one is already running. */
int vjob_start(coord_t *c, long replay, uint64_t ticket);
/* Stops a running verification (answers 503) and joins its thread. */
void vjob_stop(coord_t *c);

/* xjob.c: the lineage export on its own thread, streamed to the deferred
 * request ticket (dot: DOT, else JSON; store_export.h). ERR_STATE if one
 * is already running; on any error ticket is left unanswered. */
int xjob_start(coord_t *c, int dot, uint64_t ticket);
/* Stops a running export (the body is cut short) and joins its thread. */
void xjob_stop(coord_t *c);

/* replay.c */
int replay_start(coord_t *c, int n, uint64_t ticket, json_t *verify);
void replay_result(coord_t *c, work_item_t *it, const work_result_t *r);

#endif
