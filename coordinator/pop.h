/* pop.h - one population under evolution: its spec, its demes (islands),
 * steady-state selection and replacement, migration, stop conditions.
 * Pure state: no I/O. The coordinator asks it for work items and feeds it
 * results; placement, transport and the lineage store live elsewhere.
 *
 * Population spec (JSON) = the evaluation spec of shared/spec.h plus:
 *   name        "quadratic"                 [a-z0-9_-], 1..48 chars (required)
 *   size        200                         total individuals, split over demes
 *   demes       4                           islands (1..256)
 *   selection   {"tournament": 4}           tournament size (2..64), or
 *               {"lexicase": {"epsilon": "auto", "downsample": 1}}
 *                 epsilon-lexicase on the per-case errors: epsilon "auto"
 *                 (default; per case, the median absolute deviation of the
 *                 deme's errors) or a number >= 0 (0 = plain lexicase);
 *                 downsample in (0, 1] (default 1): the share of the cases
 *                 each selection event draws afresh; tiebreak "random"
 *                 (default: a random survivor of the cases wins) or "size"
 *                 (the shorter source of two random survivors wins: a
 *                 pressure against bloat that never overrides an error).
 *                 The spec's per_case is
 *                 then set (the agents return the errors); replacement's
 *                 reverse tournament is of 4. size x cases x 8 bytes of
 *                 errors must fit in POP_LEX_MAX_BYTES.
 *   operators   {"crossover": 0.4, "subtree": 0.2, "point": 0.2, "swap": 0.1,
 *                "hoist": 0.05, "shrink": 0.05}   rates, normalised; the program
 *                operators (petri_prog: call_swap, literal, pattern, guard,
 *                clause_add, clause_del, clause_swap, clause_xover, helper,
 *                inline, fold, recurse, wrap) default to 0
 *   elitism     2                           per deme, never replaced
 *   migration   {"interval": 200, "count": 1}   per deme, ring topology; 0 = off
 *   stop        {"target_fitness": 0, "max_evaluations": 200000}
 *   seeds       ["<erlang source>", ...]    optional starting genomes
 *   replacement "niche" (default) | {"niche": {"share": 0.25}} | "no_worse" |
 *               "age"
 *                 how a scored child enters its deme (invariant 7)
 *   archive     {"map_elites": {"descriptors": ["size", "passed"],
 *                "bins": [16, 16], "range": [[0, 800], [0, 676]],
 *                "pass_error": 0.1}}
 *                 a MAP-Elites archive instead of the demes' members
 *                 (invariant 8); descriptors among size (bytes of source),
 *                 cost, passed (cases with error <= pass_error; sets
 *                 per_case), vars (distinct spec variables the source
 *                 names); range defaults per descriptor (pop_archive.c)
 *
 * Invariants:
 *  1. (population, deme, dseq) names one derivation; dseq only grows, also
 *     across restarts (pop_reserve_needed / the reserved mark).
 *  2. The derivation seed is a pure function of that key, so a derivation
 *     can be replayed from its record alone.
 *  3. Only successfully scored children enter a deme; the `elitism` best of
 *     a deme are never replaced.
 *  4. "Better" is lower fitness; when the spec's cost mode is lexicographic
 *     (fitness.cost.mode), equal fitness is broken by lower cost - in
 *     replacement, elitism, the best, migration and tournaments alike.
 *  5. Lexicase draws from each deme's own generator, seeded from
 *     (population, deme); tournaments, operators and replacement from the
 *     population's, seeded from its name. Both are persisted: for a given
 *     population name the choices are a pure function of the results
 *     received, in their order, across restarts too.
 *  6. A member keeps its per-case errors (lexicase only) as long as it
 *     lives; they are persisted with the population state, so a restart
 *     selects as before. At most POP_LEX_MAX_BYTES of errors per population.
 *  7. Replacement "niche": a child whose hash is a member's of its deme does
 *     not enter it; a fitness value (with its cost, invariant 4) holds at
 *     most share x the deme's size of its members: a child of a value
 *     already that common may only take the place of a random non-elite
 *     member of the same value, otherwise it replaces the loser of a
 *     reverse tournament when it is no worse. So neutral variants drift
 *     inside their niche but cannot flood the deme. "no_worse" is the rule
 *     without either check (kept to measure against). "age": every child
 *     enters, in the place of the deme's oldest member that is not an
 *     elite (the slots are taken in turn), so each member lives for about
 *     a deme's worth of children and only selection judges them, as in a
 *     generational run; a restart goes on with the slot after the last.
 *  8. With an archive the demes hold no members: they only number the work
 *     (invariant 1). Each deme first issues `size / demes` random genomes
 *     (and its seeds); then parents are drawn uniformly from the occupied
 *     cells, and a child enters its cell when the cell is empty or the child
 *     is better. Elitism and migration do not apply. The archive's cells are
 *     persisted in the order they were first occupied, so a restart draws
 *     as before.
 */
#ifndef PETRI_POP_H
#define PETRI_POP_H

#include <jansson.h>
#include <stdint.h>

#include "crypto.h"
#include "ops.h"
#include "spec.h"
#include "wire.h"

#define POP_NAME_MAX (WIRE_POP_MAX + 1) /* buffer size; names are 1..48 characters */
#define POP_OPS OPS_N                   /* the breeding operators of shared/ops.h */
#define POP_HISTORY 600                 /* samples kept for the fitness-over-time plot */
#define POP_DSEQ_RESERVE 1000
#define POP_LEX_MAX_BYTES (2u << 20) /* per-case errors kept per population */
#define POP_MUTATOR_MAX 32           /* bytes of an external mutator's name (STORE_MUTATOR_MAX) */
#define POP_NICHE_SHARE 0.25         /* default share of a deme one fitness value may hold */
#define POP_ARCHIVE_DIMS 4
#define POP_ARCHIVE_MAX_CELLS 65536

enum pop_state { POP_RUNNING, POP_SOLVED, POP_STOPPED, POP_FAILED };
enum item_kind { ITEM_BREED = WIRE_ITEM_BREED_EVAL, ITEM_EVAL = WIRE_ITEM_EVAL };
enum pop_selection { POP_SEL_TOURNAMENT = 0, POP_SEL_LEXICASE = 1 };
enum pop_replacement { POP_REPL_NICHE = 0, POP_REPL_NO_WORSE = 1, POP_REPL_AGE = 2 };
enum pop_descriptor { POP_DESC_SIZE = 0, POP_DESC_COST, POP_DESC_PASSED, POP_DESC_VARS };

typedef struct member {
    uint8_t hash[CRYPTO_HASH_LEN];
    char *src;
    size_t len;
    double fitness;
    double cost;    /* the cost objective (0 unless the spec has a cost mode) */
    double *errors; /* per-case errors (lexicase), owned; NULL = none */
    uint32_t nerrors;
    uint32_t passed, cases; /* of its result (0/0 when restored from saved state) */
} member_t;

typedef struct deme {
    member_t *m;
    int n, cap;
    uint64_t next_dseq, reserved_dseq;
    uint64_t evals, since_migration;
    int inflight;
    int failures_in_row; /* failed random children while filling */
    int seeds_left;      /* seed genomes still to be issued to this deme */
    uint64_t rng;        /* lexicase's generator (invariant 5) */
    int collapsed;       /* full and every member of one fitness (logged once) */
    uint32_t age_next;   /* replacement "age": the slot the next child takes */
} deme_t;

/* A MAP-Elites archive (invariant 8). */
typedef struct pop_archive {
    int ndims;
    int desc[POP_ARCHIVE_DIMS]; /* enum pop_descriptor */
    uint32_t bins[POP_ARCHIVE_DIMS];
    double lo[POP_ARCHIVE_DIMS], hi[POP_ARCHIVE_DIMS];
    double pass_error;
    uint32_t ncells;
    member_t *cells; /* ncells; src NULL = empty */
    uint32_t *occ;   /* the occupied cells, in the order they were first taken */
    uint32_t nocc;
    uint64_t inserted; /* children that entered a cell */
} pop_archive_t;

/* Diversity figures over live members (pop_diversity). */
typedef struct pop_div {
    int members;
    int genomes;         /* distinct hashes */
    int fitness_values;  /* distinct fitness values */
    double entropy_bits; /* Shannon entropy of the fitness values' shares */
    int collapsed_demes; /* demes full and of one fitness value */
} pop_div_t;

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
    char op[WIRE_OP_MAX + 1];
    uint64_t seed;
    int nparents;
    uint8_t parent_hash[2][CRYPTO_HASH_LEN];
    char *parent_src[2];
    size_t parent_len[2];
    char *src; /* ITEM_EVAL: the genome */
    size_t src_len;
    int attempts; /* results that failed for the agent's sake, not the genome's */
    int lost;     /* agents that died holding it (pop_item_lost) */
    int language; /* -1 = the spec's */
    /* op "external" only: the origin recorded with the result (store.h).
     * Not sent to the agent, which scores the source like any submission. */
    int ext_nparents;
    uint8_t ext_parents[2][CRYPTO_HASH_LEN];
    char mutator[POP_MUTATOR_MAX + 1];
    uint8_t input_hash[CRYPTO_HASH_LEN];
} work_item_t;

typedef struct pop {
    char name[POP_NAME_MAX];
    json_t *spec_json; /* the spec as submitted */
    spec_t *spec;
    wire_buf_t spec_wire; /* SPEC block for the agents */
    int size, ndemes, tournament, elitism;
    int selection;           /* enum pop_selection */
    double lex_epsilon;      /* < 0 = auto */
    double lex_downsample;   /* (0, 1] */
    int lex_size_tiebreak;   /* 1 = "tiebreak": "size" */
    uint32_t lex_max_cases;  /* errors kept per member: POP_LEX_MAX_BYTES / 8 / size */
    int lex_dropped;         /* results whose errors were over lex_max_cases */
    int lex_mismatched;      /* results whose errors were not spec->nerrors many */
    int cost_lex;            /* cost breaks fitness ties (invariant 4) */
    int replacement;         /* enum pop_replacement (invariant 7) */
    double niche_share;      /* (0, 1] */
    uint64_t clones_dropped; /* children not entered: a member's genome already */
    pop_archive_t *archive;  /* NULL = the demes hold the members */
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
    uint64_t rng;             /* tournaments, operators, replacement (invariant 5) */
    int dirty;                /* state changed since the last pop_to_json */
    uint64_t restore_dropped; /* members pop_from_json dropped: genome not stored */
} pop_t;

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
/* Agents that may die holding one item before it is given up: a genome that
 * takes down whatever runs it must not go round the cluster doing so. */
#define POP_LOST_MAX 2
/* An item given back unfinished (its agent died). Returns 1: re-issue it as
 * is; or 0 after the POP_LOST_MAXth agent died holding it: it is given up
 * and counted as an evaluation with status vm_killed (pop_result), and the
 * caller only frees it. */
int pop_item_lost(pop_t *p, work_item_t *it, uint64_t now_ms);
/* A scored item. status/fitness as the agent reported; child is the source
 * that was scored. Updates the deme, best, counters and the state. */
void pop_result(pop_t *p, const work_item_t *it, int status, double fitness,
                const uint8_t child_hash[CRYPTO_HASH_LEN], const char *child, size_t child_len,
                uint64_t now_ms);
/* What a scored item brought beyond its fitness. errors (may be NULL) is
 * read, not kept: the member copies what lexicase needs. */
typedef struct pop_outcome {
    int status;
    double fitness;
    double cost;
    uint32_t passed, cases;
    const double *errors;
    size_t nerrors;
} pop_outcome_t;
/* pop_result with the cost and per-case errors. */
void pop_result_ext(pop_t *p, const work_item_t *it, const pop_outcome_t *o,
                    const uint8_t child_hash[CRYPTO_HASH_LEN], const char *child, size_t child_len,
                    uint64_t now_ms);
/* A genome submitted from outside: the deme it goes to (by its hash), and
 * an ITEM_EVAL item with op "submitted" for it. Call pop_reserve for that
 * deme (and persist) first; ERR_STATE if the population is not running or
 * the reservation is used up. The child enters the deme like any other. */
uint32_t pop_submit_deme(const pop_t *p, const char *src, size_t len);
int pop_submit_item(pop_t *p, uint32_t d, const char *src, size_t len, int language,
                    work_item_t *it);
/* Where an external mutator's child came from: its parents (0..2, hashes
 * the caller checked), the mutator's name and the hash of its input. */
typedef struct pop_origin {
    int nparents;
    uint8_t parents[2][CRYPTO_HASH_LEN];
    const char *mutator; /* store_mutator_valid() */
    uint8_t input_hash[CRYPTO_HASH_LEN];
} pop_origin_t;
/* pop_submit_item for an external mutator's child: op "external" and the
 * origin o (copied into the item, recorded with its result). */
int pop_submit_external(pop_t *p, uint32_t d, const char *src, size_t len, int language,
                        const pop_origin_t *o, work_item_t *it);
/* 1 if hash is a current member of any deme of p, else 0. */
int pop_has_member(const pop_t *p, const uint8_t hash[CRYPTO_HASH_LEN]);
/* Samples up to k (1..64) members of deme d for an external mutator's
 * prompt: the deme's best first, then members of other fitness values than
 * those already taken (each value once, drawn at random), then any members
 * of other hashes. Writes member indices into out[k] and returns how many
 * (0 for an empty deme or a bad d). Draws from *rng, the caller's own
 * generator: the population's choices (invariant 5) are not disturbed. */
int pop_sample_members(const pop_t *p, uint32_t d, int k, uint64_t *rng, int *out);
void pop_stop(pop_t *p, const char *why, uint64_t now_ms);
/* Takes a sample for the history (call about once a second). */
void pop_sample(pop_t *p, uint64_t now_ms);

/* The derivation seed of (population, deme, dseq). */
uint64_t pop_derive_seed(const char *pop, uint32_t deme, uint64_t dseq);

/* Frees a member's source and errors (pop.c; for pop_json.c). */
void pop_member_free(member_t *m);
/* Compares two scores by invariant 4: < 0 if (fa, ca) is better. */
int pop_cmp_score(const pop_t *p, double fa, double ca, double fb, double cb);

/* ---- a spec's population fields (pop_spec.c) ---- */

/* Parses s's size, demes, selection, replacement, operators, elitism,
 * migration, stop and seeds into p (pop_new does the rest). 0, or ERR_SPEC
 * with a message naming the field in err. */
int pop_parse_fields(pop_t *p, json_t *s, char *err, size_t errlen);

/* ---- replacement (pop_repl.c) ---- */

/* The slot of full deme dm a scored child takes by p->replacement, or -1
 * (it stays out; a clone under "niche" is counted in clones_dropped). */
int pop_replace_slot(pop_t *p, deme_t *dm, const uint8_t hash[CRYPTO_HASH_LEN], double fitness,
                     double cost);
/* Sets deme d's collapsed flag, logging pop.deme_collapsed when it turns on
 * and pop.deme_recovered when it turns off. */
void pop_watch_collapse(pop_t *p, uint32_t d);

/* ---- the MAP-Elites archive (pop_archive.c) ---- */

/* Parses spec.archive into p->archive (NULL value: none). ERR_SPEC with a
 * message naming the field (archive.map_elites.bins[1], ...). */
int pop_archive_parse(pop_t *p, json_t *archive, char *err, size_t errlen);
void pop_archive_destroy(pop_archive_t **a);
/* The cell of a scored child. */
uint32_t pop_archive_cell(const pop_archive_t *a, const pop_outcome_t *o, const spec_t *spec,
                          const char *src, size_t len);
/* Enters a scored child into its cell when the cell is empty or the child is
 * better: 1 if it entered, 0 if not, -ENOMEM. */
int pop_archive_insert(pop_t *p, const pop_outcome_t *o, const uint8_t hash[CRYPTO_HASH_LEN],
                       const char *src, size_t len);
/* A uniformly drawn occupied cell's member (p->rng), NULL when empty. */
const member_t *pop_archive_pick(pop_t *p);
extern const char *const pop_descriptor_names[];

/* The live members (deme members, or the archive's), as a malloc'd array
 * of pointers into p; *n is set; NULL when there are none or out of memory. */
const member_t **pop_live_members(const pop_t *p, size_t *n);
/* Diversity figures over deme d's members, or all live ones (d < 0).
 * 0 or -ENOMEM. */
int pop_diversity(const pop_t *p, int d, pop_div_t *out);

/* ---- selection primitives (pop_lex.c) ---- */

/* splitmix64: the next value of generator *x. */
uint64_t pop_rng_next(uint64_t *x);
/* Epsilon-lexicase: the index (0..n-1) of the candidate chosen among n
 * whose per-case errors are errors[i][0..nerrors[i]) (errors[i] may be
 * NULL; a missing case or a NaN counts as +infinity). The cases are
 * shuffled with *rng; the first ceil(downsample x cases) of them (at least
 * 1) filter the pool in turn, keeping those within epsilon of the best on
 * that case (epsilon < 0: pop_lex_mad of that case); a random survivor
 * wins, or, given sizes[0..n), the smaller of two random survivors (the
 * first on a tie). Candidates without any errors: a uniform pick. Returns
 * -ENOMEM or -EINVAL (n <= 0) on failure. Deterministic for the same
 * inputs and *rng. */
int pop_lexicase(const double *const *errors, const uint32_t *nerrors, const size_t *sizes, int n,
                 double epsilon, double downsample, uint64_t *rng);
/* The median absolute deviation of case t's finite errors over the n
 * candidates (0 if none); scratch holds n doubles. */
double pop_lex_mad(const double *const *errors, const uint32_t *nerrors, int n, uint32_t t,
                   double *scratch);

void work_item_clear(work_item_t *it);
int work_item_copy(work_item_t *dst, const work_item_t *src);

/* Persistence (pop_json.c): the whole state as JSON (sources are not
 * included, only hashes: they live in the store's genome table; members'
 * costs and per-case errors are), and back. lookup returns a malloc'd
 * source for a hash, or NULL. */
json_t *pop_to_json(pop_t *p);
typedef char *(*pop_lookup_fn)(void *arg, const uint8_t hash[CRYPTO_HASH_LEN], size_t *len);
pop_t *pop_from_json(json_t *state, pop_lookup_fn lookup, void *arg, char *err, size_t errlen);

/* API views (new references). */
json_t *pop_summary_json(const pop_t *p, uint64_t now_ms);
json_t *pop_detail_json(const pop_t *p, uint64_t now_ms);
double pop_mean_fitness(const pop_t *p);

#endif
