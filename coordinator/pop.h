/* pop.h - one population under evolution: its spec, its demes (islands),
 * steady-state selection and replacement, migration, stop conditions.
 * Pure state: no I/O. The coordinator asks it for work items and feeds it
 * results; placement, transport and the lineage store live elsewhere.
 *
 * Population spec (JSON) = the evaluation spec of shared/spec.h plus:
 *   name        "quadratic"                 [a-z0-9_-], 1..48 chars (required)
 *   size        200                         total individuals, split over demes
 *   demes       4                           islands (1..256)
 *   selection   {"tournament": 4}           tournament size (2..64)
 *   operators   {"crossover": 0.4, "subtree": 0.2, "point": 0.2, "swap": 0.1,
 *                "hoist": 0.05, "shrink": 0.05}   rates, normalised
 *   elitism     2                           per deme, never replaced
 *   migration   {"interval": 200, "count": 1}   per deme, ring topology; 0 = off
 *   stop        {"target_fitness": 0, "max_evaluations": 200000}
 *   seeds       ["<erlang source>", ...]    optional starting genomes
 *
 * Invariants:
 *  1. (population, deme, dseq) names one derivation; dseq only grows, also
 *     across restarts (pop_reserve_needed / the reserved mark).
 *  2. The derivation seed is a pure function of that key, so a derivation
 *     can be replayed from its record alone.
 *  3. Only successfully scored children enter a deme; the `elitism` best of
 *     a deme are never replaced.
 */
#ifndef PETRI_POP_H
#define PETRI_POP_H

#include <jansson.h>
#include <stdint.h>

#include "crypto.h"
#include "spec.h"
#include "wire.h"

#define POP_NAME_MAX 65 /* buffer size; names are 1..48 characters */
#define POP_OPS 6
#define POP_HISTORY 600 /* samples kept for the fitness-over-time plot */
#define POP_DSEQ_RESERVE 1000

enum pop_state { POP_RUNNING, POP_SOLVED, POP_STOPPED, POP_FAILED };
enum item_kind { ITEM_BREED = 0, ITEM_EVAL = 1 };

typedef struct member {
    uint8_t hash[CRYPTO_HASH_LEN];
    char *src;
    size_t len;
    double fitness;
} member_t;

typedef struct deme {
    member_t *m;
    int n, cap;
    uint64_t next_dseq, reserved_dseq;
    uint64_t evals, since_migration;
    int inflight;
    int failures_in_row; /* failed random children while filling */
    int seeds_left;      /* seed genomes still to be issued to this deme */
} deme_t;

typedef struct pop_sample {
    uint64_t t_ms, evaluations;
    double best, mean;
} pop_sample_t;

/* One unit of work: breed (op, seed, parents) then score, or score a source. */
typedef struct work_item {
    char pop[POP_NAME_MAX];
    uint32_t deme;
    uint64_t dseq;
    int kind;
    char op[24];
    uint64_t seed;
    int nparents;
    uint8_t parent_hash[2][CRYPTO_HASH_LEN];
    char *parent_src[2];
    size_t parent_len[2];
    char *src; /* ITEM_EVAL: the genome */
    size_t src_len;
    int attempts; /* results that failed for the agent's sake, not the genome's */
    int language; /* -1 = the spec's */
} work_item_t;

typedef struct pop {
    char name[POP_NAME_MAX];
    json_t *spec_json; /* the spec as submitted */
    spec_t *spec;
    wire_buf_t spec_wire; /* SPEC block for the agents */
    int size, ndemes, tournament, elitism;
    double rates[POP_OPS];
    uint64_t migration_interval;
    int migration_count;
    int has_target;
    double target_fitness;
    uint64_t max_evaluations;
    json_t *seeds; /* array of sources, or NULL */
    deme_t *demes;
    int state;
    char state_reason[128];
    uint64_t evaluations, ok_evaluations;
    uint64_t started_ms, finished_ms;
    member_t best; /* copy of the best ever (src owned) */
    pop_sample_t history[POP_HISTORY];
    int hist_n, hist_pos;
    uint64_t rng;
    int dirty;                /* state changed since the last pop_to_json */
    uint64_t restore_dropped; /* members pop_from_json dropped: genome not stored */
} pop_t;

extern const char *const pop_op_names[POP_OPS];

/* Parses and checks a population spec. Returns NULL with a message naming
 * the field in err (the HTTP API answers 400 with it). */
pop_t *pop_new(json_t *spec, uint64_t now_ms, char *err, size_t errlen);
void pop_destroy(pop_t **p);
const char *pop_state_str(int state);

/* Fills *it with the next item for deme d. Returns 0, or ERR_STATE when the
 * population is not running, the deme has enough in flight (it waits for
 * results), or its dseq reservation is used up. The item owns copies of
 * everything (work_item_clear frees). */
int pop_next_item(pop_t *p, uint32_t d, int max_inflight, work_item_t *it);
/* Extends deme d's dseq reservation when it is used up; returns 1 if it did,
 * and the caller must then persist pop_to_json before issuing from it. */
int pop_reserve(pop_t *p, uint32_t d);
/* An item given back unfinished (its agent died): it will be re-issued as is. */
void pop_item_lost(pop_t *p, const work_item_t *it);
/* A scored item. status/fitness as the agent reported; child is the source
 * that was scored. Updates the deme, best, counters and the state. */
void pop_result(pop_t *p, const work_item_t *it, int status, double fitness,
                const uint8_t child_hash[CRYPTO_HASH_LEN], const char *child, size_t child_len,
                uint64_t now_ms);
/* A genome submitted from outside: the deme it goes to (by its hash), and
 * an ITEM_EVAL item with op "submitted" for it. Call pop_reserve for that
 * deme (and persist) first; ERR_STATE if the population is not running or
 * the reservation is used up. The child enters the deme like any other. */
uint32_t pop_submit_deme(const pop_t *p, const char *src, size_t len);
int pop_submit_item(pop_t *p, uint32_t d, const char *src, size_t len, int language,
                    work_item_t *it);
void pop_stop(pop_t *p, const char *why, uint64_t now_ms);
/* Takes a sample for the history (call about once a second). */
void pop_sample(pop_t *p, uint64_t now_ms);

/* The derivation seed of (population, deme, dseq). */
uint64_t pop_derive_seed(const char *pop, uint32_t deme, uint64_t dseq);

void work_item_clear(work_item_t *it);
int work_item_copy(work_item_t *dst, const work_item_t *src);

/* Persistence: the whole state as JSON (sources are not included, only
 * hashes: they live in the store's genome table), and back. lookup returns
 * a malloc'd source for a hash, or NULL. */
json_t *pop_to_json(pop_t *p);
typedef char *(*pop_lookup_fn)(void *arg, const uint8_t hash[CRYPTO_HASH_LEN], size_t *len);
pop_t *pop_from_json(json_t *state, pop_lookup_fn lookup, void *arg, char *err, size_t errlen);

/* API views (new references). */
json_t *pop_summary_json(const pop_t *p, uint64_t now_ms);
json_t *pop_detail_json(const pop_t *p, uint64_t now_ms);
double pop_mean_fitness(const pop_t *p);

#endif
