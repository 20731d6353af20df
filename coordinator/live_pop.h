/* live_pop.h - live populations: individuals that run for good on agents'
 * VMs, replaying a request trace, evolved by upgrading them in place
 * (docs/design.md section 8, "Live populations"). The coordinator places
 * each individual on an agent, starts it (WIRE_WORK_LIVE START), sends it
 * children (UPGRADE: bred by the agent with a built-in operator, or a
 * source from an external mutator or a pin), records every settled upgrade
 * as a signed version 3 lineage record, and moves an individual whose agent
 * died to another one, at its last promoted version and state.
 *
 * Config (POST /v1/live, JSON):
 *   name             [a-z0-9_-], 1..48 chars, not a population's name
 *   function, language, primitives, limits
 *                    as a population spec (pop.h, shared/spec.h): the SPEC
 *                    block the agents breed children with; "fitness" is
 *                    optional (the workload judges, not cases)
 *   operators        {"literal": 1, ...} rates of the breeding operators
 *                    (pop.h's names; default {"literal": 1})
 *   live             the live section: atoms, init, limits, probation,
 *                    window, score, rate, batch (`petri-agent live --spec`)
 *   trace            the request trace, JSON lines text (`--trace`)
 *   genome           the first version's source
 *   individuals      1..LIVE_MAX_INDIVIDUALS (default 1)
 *   upgrade_every_ms pause between an individual's settled upgrade and its
 *                    next child (default 1000; 0 = no built-in evolution:
 *                    children come from external mutators only)
 *   stop             {"max_upgrades": N} (0 = none): evolution ends there;
 *                    the individuals keep running
 *
 * Invariants:
 *  1. An individual has at most one upgrade in flight, and at most one
 *     child given as source (external, pin) waiting behind it; a pinned
 *     one gets no children but those.
 *  2. (population, individual, upgrade_id) is recorded at most once;
 *     upgrade ids only grow (persisted before use, as pop.h's dseq).
 *  3. Frames from an agent that does not host the individual's current
 *     incarnation change nothing (an individual moved away: the agent is
 *     told to stop it).
 *  4. A move restarts the individual at its last promoted version with
 *     that version's state snapshot: what a lost agent ran on probation is
 *     lost with it, never what was promoted.
 */
#ifndef PETRI_LIVE_POP_H
#define PETRI_LIVE_POP_H

#include <jansson.h>
#include <stdint.h>

#include "crypto.h"
#include "http.h"
#include "pop.h"
#include "store.h"
#include "wire.h"

#define LIVE_MAX_POPS 32
#define LIVE_MAX_INDIVIDUALS 64
#define LIVE_VERSIONS_KEPT 200 /* per individual, in memory (the lineage has all) */
#define LIVE_SERIES 300        /* one-second fitness points kept per individual */
/* A START frame carries spec, trace, genome and a snapshot (at most
 * WIRE_LIVE_SNAPSHOT_MAX) within WIRE_WORK_MAX_FRAME. */
#define LIVE_POP_MAX_TRACE (3u << 19) /* 1.5 MiB of trace text */
#define LIVE_POP_MAX_SPEC (64u << 10) /* the live section's JSON text */
#define LIVE_POP_MAX_GENOME (256u << 10)
#define LIVE_REASON_KEPT 256
#define LIVE_TICK_MS 250
#define LIVE_START_TIMEOUT_MS 60000 /* START without a started event: place again */
#define LIVE_UPGRADE_TIMEOUT_MS 120000

enum live_ind_state {
    LI_UNPLACED, /* waiting for an agent */
    LI_STARTING, /* START sent */
    LI_RUNNING,
    LI_STOPPED,
    LI_FAILED, /* could not start anywhere LIVE_MAX_FAILS times */
};

enum live_outcome {
    LO_PENDING,
    LO_PROBATION,
    LO_RUNNING,
    LO_PROMOTED,
    LO_ROLLBACK,
    LO_REFUSED,
    LO_LOST, /* no outcome: its agent or VM died, or it never answered */
};

typedef struct live_version {
    uint64_t upgrade_id; /* 0 = the start */
    uint32_t version;    /* 0 until the VM numbers it (a refused child never is) */
    uint32_t parent;     /* the version it was a child of (0 = none) */
    uint8_t hash[CRYPTO_HASH_LEN];
    int has_hash;
    char op[WIRE_OP_MAX + 1];
    char mutator[STORE_MUTATOR_MAX + 1];
    uint8_t input_hash[CRYPTO_HASH_LEN]; /* op external: what the mutator was given */
    uint8_t donor[CRYPTO_HASH_LEN];      /* a two-parent operator's second parent */
    int has_donor;
    int outcome; /* enum live_outcome */
    char reason[LIVE_REASON_KEPT];
    uint64_t at_ms;
    double parent_score, child_score;
} live_version_t;

typedef struct live_point {
    uint64_t t_ms;
    double fitness;
    uint32_t version;
} live_point_t;

typedef struct live_ind {
    int state; /* enum live_ind_state */
    int placed;
    uint8_t agent[CRYPTO_ID_LEN];
    char agent_name[128];
    uint64_t incarnation, sent_ms;
    /* the last promoted version: what a move restarts */
    uint32_t version;
    uint8_t good_hash[CRYPTO_HASH_LEN];
    char *good_src;
    size_t good_len;
    uint8_t *snap;
    size_t snap_len;
    uint32_t next_version;
    char *up_src; /* the last child sent as a source (external, pin) */
    size_t up_len;
    char *q_src; /* a child given as source, waiting for the one in flight */
    size_t q_len;
    uint64_t q_uid;
    int q_judge;
    uint64_t next_upgrade; /* the next upgrade id (>= 1) */
    uint64_t inflight;     /* upgrade id outstanding, 0 = none */
    uint64_t settled_ms;   /* when the last upgrade settled */
    uint32_t pinned;       /* 0 = evolving */
    int fails;
    char reason[LIVE_REASON_KEPT];
    /* the agent's last LIVE_STATUS */
    uint32_t run_version;
    uint64_t requests, correct, wrong, failed, lost, twice, p50_us, p99_us;
    double fitness;
    int on_probation;
    live_version_t versions[LIVE_VERSIONS_KEPT];
    int nversions, vpos;
    live_point_t series[LIVE_SERIES];
    int nseries, spos;
} live_ind_t;

typedef struct live_pop {
    char name[POP_NAME_MAX];
    json_t *config; /* as created (persisted) */
    int running;
    int language;
    char *live_spec, *trace, *genome;
    size_t live_spec_len, trace_len, genome_len;
    wire_buf_t breed_spec; /* the SPEC block */
    pop_t *shell;          /* name and SPEC block only: replays its records (replay.c) */
    double rates[POP_OPS];
    uint32_t upgrade_every_ms;
    uint64_t max_upgrades;
    uint64_t upgrades, promoted, rolled_back, refused, rng;
    uint64_t mutator_failures; /* external answers that were no module (never sent) */
    uint32_t bundle_next;      /* round robin of the bundles' individuals */
    int n;
    live_ind_t *ind;
} live_pop_t;

/* A WIRE_WORK_LIVE_EVENT as an agent sent it (live_wire.c); snap and src
 * point into the frame. */
typedef struct live_event {
    char pop[WIRE_POP_MAX + 1];
    uint32_t ind;
    uint64_t incarnation;
    uint8_t kind;
    uint64_t upgrade_id;
    uint32_t version;
    uint64_t at_seq;
    char op[WIRE_OP_MAX + 1];
    uint64_t seed;
    uint8_t child_hash[CRYPTO_HASH_LEN], parent_hash[CRYPTO_HASH_LEN];
    uint8_t state_before[CRYPTO_HASH_LEN], state_after[CRYPTO_HASH_LEN];
    double parent_score, child_score;
    uint32_t probation;
    char reason[WIRE_LIVE_REASON_MAX];
    const uint8_t *snap, *src;
    uint32_t snap_len, src_len;
    uint8_t sig[CRYPTO_SIG_LEN];
} live_event_t;

/* One LSTAT of a WIRE_WORK_LIVE_STATUS. */
typedef struct live_status {
    char pop[WIRE_POP_MAX + 1];
    uint32_t ind, version;
    uint64_t incarnation, requests, correct, wrong, failed, p50_us, p99_us, lost, twice;
    double fitness;
    uint8_t on_probation;
} live_status_t;
#define LIVE_STATUS_MAX 4096 /* LSTATs in one frame */

/* 0, the reader's error, or ERR_PROTO (trailing bytes, an unknown kind, an
 * empty population); *e zeroed on error. */
int live_event_read(const uint8_t *payload, size_t len, live_event_t *e);
/* One LSTAT from r (its error sticks in r): 0 or the error. */
int live_status_read(wire_rd_t *r, live_status_t *s);

typedef struct coord coord_t;
typedef struct work_agent work_agent_t;

/* Parses a config (see above) into a new live population, not yet
 * running. NULL with a message naming the field in err. */
live_pop_t *live_pop_new(json_t *config, char *err, size_t errlen);
void live_pop_destroy(live_pop_t **p);

/* The coordinator's side (live.c). */
live_pop_t *live_find(coord_t *c, const char *name);
/* The population records of name replay with: a population's, else a live
 * population's shell; NULL if neither exists. */
pop_t *live_replay_pop(coord_t *c, const char *name);
/* Adds and persists p (c owns it then). ERR_EXISTS when a live or regular
 * population has its name, ERR_LIMIT past LIVE_MAX_POPS. */
int live_add(coord_t *c, live_pop_t *p);
/* Restores the live populations persisted in the store (coordinator start). */
void live_restore(coord_t *c);
/* Places, starts, evolves: called every LIVE_TICK_MS and on capacity. */
void live_tick(coord_t *c);
/* The agent is gone: its individuals move. */
void live_agent_gone(coord_t *c, const uint8_t id[CRYPTO_ID_LEN]);
/* WIRE_WORK_LIVE_EVENT / WIRE_WORK_LIVE_STATUS payloads from an agent
 * with an authenticated session (its pk checks the signature). */
void live_on_event(coord_t *c, const work_agent_t *a, const uint8_t *payload, size_t len);
void live_on_status(coord_t *c, const work_agent_t *a, const uint8_t *payload, size_t len);
/* Operator actions; 0 or ERR_NOTFOUND (no such individual / version),
 * ERR_STATE (stopped, or an upgrade to send cannot be now), ERR_INVAL;
 * err says why. */
int live_stop(coord_t *c, live_pop_t *p);
int live_pin(coord_t *c, live_pop_t *p, int index, uint32_t version, char *err, size_t errlen);
int live_unpin(live_pop_t *p, int index);
/* A child from outside (op "external"): its upgrade id in *upgrade_id. */
int live_upgrade_external(coord_t *c, live_pop_t *p, int index, const char *src, size_t len,
                          const char *mutator, const uint8_t *input_hash, char *err, size_t errlen,
                          uint64_t *upgrade_id);

/* live_api.c: /v1/live... (rest = what follows "/v1/live", "" or "/..."). */
void live_api(coord_t *c, const char *method, const char *rest, const uint8_t *body,
              size_t body_len, http_resp_t *resp);
json_t *live_pop_json(const live_pop_t *p, int detail);

const char *live_outcome_str(int outcome);
const char *live_state_str(int state);

#endif
