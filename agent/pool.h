/* pool.h - the supervisor of an agent's BEAM VMs and the queue of work they
 * run: boot + hello, heartbeats, restarts with exponential backoff and an
 * OTP-style intensity limit, recycling after max_loads or an atom threshold,
 * an RSS ceiling, a bounded pipeline of eval/breed requests per VM, and the
 * blame of a job that kills its VM.
 *
 * Per-VM state machine (one transition function, every change logged):
 *
 *   BACKOFF --timer--> BOOTING --hello--> READY --max_loads/atoms--> DRAINING
 *      ^                  |                 |                           | idle
 *      |                  +-----exit / kill-+----------+          STOPPING (STOP sent)
 *      +------ exit (failure: backoff, intensity) <----+                | exit
 *                                                      READY <----------+ (restart at once)
 *   READY --exit / kill with jobs in flight--> BOOTING (at once; the jobs are suspects, 5)
 *   any state --pool_stop--> STOPPING --exit--> DOWN
 *
 * Invariants:
 *  1. Every submitted job gets exactly one completion callback: a result
 *     from a VM, WIRE_ST_VM_KILLED (blamed, see 5), or WIRE_ST_INTERNAL with
 *     a reason (shutdown, the pool failed, out of memory).
 *  2. A VM holds at most `pipeline` jobs; the rest wait in the pool queue.
 *  3. Anything malformed from a VM kills and replaces that VM; the agent
 *     never crashes on VM bytes.
 *  4. More than `intensity` failures within `period_ms` puts the pool in
 *     the failed state (like an OTP supervisor giving up); the owner decides.
 *     A VM death with no job in flight is a failure. A death with jobs in
 *     flight is one only if none of them is blamed (5).
 *  5. The jobs in flight on a VM that dies become suspects: each runs again
 *     alone on a VM (nothing else in flight there). A suspect whose VM dies
 *     is blamed: it completes with WIRE_ST_VM_KILLED and runs nowhere else.
 *     The others complete normally. A job is thus run at most twice.
 *  6. A VM whose atom count (from its pongs) reaches `max_atoms` is drained
 *     and replaced like after max_loads: atoms are never collected.
 */
#ifndef PETRI_POOL_H
#define PETRI_POOL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "metrics.h"
#include "spec.h"
#include "wire.h"

typedef struct pool pool_t;

typedef struct pool_opts {
    const char *erl;         /* erl launcher (name or path) */
    const char *code_path;   /* petri beam ebin */
    const char *elixir_path; /* "" = none, "auto" = detect */
    int vms;                 /* VMs to run at start */
    int max_vms;             /* most VMs the coordinator may ask for (>= vms; 0 = vms) */
    int slots;
    int pipeline;     /* jobs in flight per VM */
    int result_cache; /* 1 = VMs reuse the results of identical evaluations */
    uint32_t heartbeat_interval_ms;
    uint32_t heartbeat_timeout_ms;
    uint32_t boot_timeout_ms;
    uint64_t max_loads;  /* recycle a VM after this many evaluations; 0 = never */
    uint32_t max_atoms;  /* recycle a VM whose atom table reaches this; 0 = never */
    uint64_t max_rss_mb; /* 0 = no ceiling */
    uint32_t backoff_min_ms, backoff_max_ms;
    int intensity;
    uint32_t period_ms;
    uint32_t max_source_bytes;
} pool_opts_t;

/* erl's default atom table size (vm.c passes no +t): a VM that reaches it
 * halts, which is why [beam] recycle_atoms_pct retires VMs before. */
#define POOL_VM_ATOM_LIMIT 1048576

#define POOL_METRIC_NAME_MAX 32
#define POOL_MAX_METRICS 35 /* the 3 built-in ones + 32 from an evaluator */

/* A named measurement of one evaluation (RESULT_EXT's METRIC, wire.h). */
typedef struct pool_metric {
    char name[POOL_METRIC_NAME_MAX];
    double value;
} pool_metric_t;

typedef struct pool_result {
    int status;     /* enum wire_status */
    double fitness; /* valid when status == WIRE_ST_OK for evals */
    const char *detail;
    const uint8_t *source; /* bred child (breed jobs), else NULL */
    size_t source_len;
    uint64_t load_us, eval_us;
    int vm; /* index of the VM that answered, -1 if none */
    /* breed jobs: the identity of the VM's breeder (its hello), zeros when
     * it did not say or no VM answered */
    uint8_t breeder[WIRE_BREEDER_LEN];
    /* RESULT_EXT (wire.h); zero for results the pool makes itself. The
     * arrays live as long as the callback runs. */
    uint32_t passed, cases;
    double cost;
    int reused;
    const pool_metric_t *metrics;
    size_t nmetrics;
    const double *errors;
    size_t nerrors;
} pool_result_t;

/* A breeder's identity as JSON: lower-case hex, or null when it is all
 * zeros (unknown: the VM did not say, or no VM bred it). A new reference. */
json_t *pool_breeder_json(const uint8_t breeder[WIRE_BREEDER_LEN]);

/* Reads RESULT_EXT (wire.h) from r, positioned after a WIRE_VM_RESULT's
 * eval_us or a WIRE_VM_BRED's source, into res (passed, cases, cost,
 * reused, metrics, errors) for a result of the given status. metrics is
 * the caller's array of POOL_MAX_METRICS; *errors gets a malloc'd array
 * the caller frees (NULL when there are none). No bytes left (a VM older
 * than RESULT_EXT) gives zeros; trailing bytes after it are ignored.
 * Returns 0, or the reader's error (ERR_TRUNC, ERR_TOOBIG) or ERR_PROTO
 * when a value breaks the contract: passed > cases, cases or errors when
 * the status is not ok, fewer errors than cases (one a case, or one an
 * element of a tuple case under the spec's split_tuples) or over
 * SPEC_MAX_CASES, a negative or non-finite cost or error, reused not 0/1,
 * over POOL_MAX_METRICS metrics, an empty name or one over 31 bytes, a
 * non-finite metric value; -ENOMEM. On error res's fields are zero and
 * *errors is NULL. */
int pool_read_result_ext(wire_rd_t *r, int status, pool_result_t *res, pool_metric_t *metrics,
                         double **errors);

typedef void (*pool_done_fn)(void *arg, const pool_result_t *r);
/* Called once when the pool fails (intensity exceeded) or finishes stopping. */
typedef void (*pool_state_fn)(void *arg, int failed, const char *why);

pool_t *pool_new(loop_t *l, const pool_opts_t *o, pool_state_fn on_state, void *arg, char *err,
                 size_t errlen);
/* Kills any VM still running (SIGKILL) and frees everything; pending jobs
 * are completed with WIRE_ST_INTERNAL first. NULL-safe. */
void pool_destroy(pool_t **p);

/* Queue work. spec is an encoded SPEC block (spec_encode, or as received
 * from the coordinator); language >= 0 overrides the one inside it. The
 * spec, source and parent bytes are copied. Returns 0, or ERR_STATE when the
 * pool is stopping or failed (the callback is then not called). A source
 * over [beam] max_source_bytes completes at once, inside this call, with
 * WIRE_ST_PARSE_ERROR. */
int pool_eval(pool_t *p, const uint8_t *spec, size_t spec_len, int language, const uint8_t *src,
              size_t len, pool_done_fn done, void *arg);
int pool_breed(pool_t *p, const uint8_t *spec, size_t spec_len, const char *op, uint64_t seed,
               const uint8_t *const *parents, const size_t *lens, int nparents, pool_done_fn done,
               void *arg);
/* Breeds and scores the child in one VM request: the result has the eval's
 * status and fitness (or the breeding failure, fitness NaN) and the child's
 * source (NULL/0 when breeding failed). Counted as an evaluation. */
int pool_breed_eval(pool_t *p, const uint8_t *spec, size_t spec_len, const char *op, uint64_t seed,
                    const uint8_t *const *parents, const size_t *lens, int nparents,
                    pool_done_fn done, void *arg);

/* Graceful stop: no new work; queued work fails at once; in-flight work gets
 * up to grace_ms to finish; then VMs get STOP, and SIGKILL 1 s later.
 * on_state(arg, 0, ...) fires when every VM is gone. */
void pool_stop(pool_t *p, uint32_t grace_ms);

int pool_ready(const pool_t *p); /* VMs in READY */
/* The distinct breeders the ready VMs said they run (none for a VM that
 * did not say), at most max of them, into out; returns how many. */
int pool_breeders(const pool_t *p, uint8_t (*out)[WIRE_BREEDER_LEN], int max);
int pool_total(const pool_t *p); /* VMs it should run now (the target) */
int pool_max(const pool_t *p);
/* The launcher and Elixir ebin the pool's VMs run with ("" = no Elixir),
 * for VMs of the same agent outside the pool (live individuals). */
const char *pool_erl(const pool_t *p);
const char *pool_elixir(const pool_t *p);
const char *pool_code_path(const pool_t *p);
/* Appends a SPEC block with its language byte set to language (>= 0;
 * -1 = the block's own), as every frame to a VM carries it. */
void pool_put_spec(wire_buf_t *b, const uint8_t *spec, size_t spec_len, int language);
/* [beam] elixir_path resolved: "auto" is Elixir's ebin when installed, else
 * "". Writes out[cap]. */
void pool_resolve_elixir(const char *setting, char *out, size_t cap);
/* Scales to n VMs (clamped to [1, max_vms]): boots the missing ones, or
 * retires the highest-numbered ones after their work finishes. Returns the
 * new target. */
int pool_set_target(pool_t *p, int n);
size_t pool_queued(const pool_t *p);
size_t pool_inflight(const pool_t *p);
/* VM and queue state as a JSON object (new reference). */
json_t *pool_status_json(const pool_t *p);

/* ---- telemetry: counters, not events (the agent's /metrics) ---- */

/* Why the agent killed a VM (the `cause` label). */
enum pool_kill_cause {
    POOL_KILL_HEARTBEAT,    /* silent past heartbeat_timeout_ms */
    POOL_KILL_BOOT_TIMEOUT, /* no hello within boot_timeout_ms */
    POOL_KILL_RSS,          /* over max_rss_mb */
    POOL_KILL_PROTOCOL,     /* malformed bytes or a broken pipe */
    POOL_KILL_STOP_TIMEOUT, /* still running after STOP */
    POOL_KILL_SCALE_DOWN,   /* retired while booting */
    POOL_KILL_POOL_FAILED,  /* the pool gave up (intensity) */
    POOL_KILL_WRITE_FAILED, /* cannot write to the VM */
    POOL_KILL_OTHER,
    POOL_KILL__COUNT
};
extern const char *const pool_kill_cause_names[POOL_KILL__COUNT];

/* One VM slot, from its last pong (reset when the VM restarts). */
typedef struct pool_vm_stats {
    int index;
    const char *state; /* static: "booting", "ready", ... */
    uint64_t memory_bytes, rss_bytes, vm_loads, evals_ok, evals_failed;
    uint32_t processes, atoms, live_sandboxes, pending_purges;
    int inflight;
} pool_vm_stats_t;

typedef struct pool_stats {
    uint64_t starts, restarts, recycles; /* since the pool started */
    uint64_t job_deaths;                 /* VMs that died with work in flight */
    uint64_t suspects;                   /* jobs re-run alone after such a death */
    uint64_t blamed;                     /* suspects that killed their VM alone (vm_killed) */
    uint64_t kills[POOL_KILL__COUNT];
    uint64_t evals[WIRE_ST__COUNT];  /* eval jobs completed, by wire status */
    uint64_t breeds[WIRE_ST__COUNT]; /* breed jobs completed, by wire status */
    metrics_hist_t load_seconds;     /* parse+check+compile+load, per VM eval result */
    metrics_hist_t eval_seconds;     /* scoring, for results that ran the genome */
    size_t queued, inflight;
    int ready, target, cap, failed;
} pool_stats_t;

/* Fills *out and up to nvms entries of vms (slots that run or are about to
 * run a VM); returns the number of entries written. */
int pool_get_stats(const pool_t *p, pool_stats_t *out, pool_vm_stats_t *vms, int nvms);

#endif
