/* pool_int.h - the VM pool's state, shared by pool.c (supervision and
 * dispatch), pool_vm.c (frames from a VM) and pool_stats.c (queries). */
#ifndef PETRI_POOL_INT_H
#define PETRI_POOL_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "loop.h"
#include "metrics.h"
#include "pool.h"
#include "vm.h"
#include "wire.h"

#define PIPELINE_MAX 16
#define STOP_KILL_MS 1000      /* STOP sent -> SIGKILL if still alive */
#define BACKOFF_RESET_MS 10000 /* a VM that lived this long resets its backoff */
#define ELIXIR_EBIN "/usr/lib/elixir/lib/elixir/ebin"

typedef enum vmst { ST_DOWN, ST_BACKOFF, ST_BOOTING, ST_READY, ST_DRAINING, ST_STOPPING } vmst_t;
extern const char *const pool_st_name[]; /* indexed by vmst_t */

/* JOB_BREED_EVAL: breed, then score the child in the same VM (one round trip) */
enum job_kind { JOB_EVAL, JOB_BREED, JOB_BREED_EVAL };

/* A VM death with jobs in flight, held by the suspects it made. */
typedef struct death {
    int refs;   /* suspects not yet judged */
    int guilty; /* one of them killed a VM alone */
    char why[240];
} death_t;

typedef struct job {
    struct job *next;
    pool_t *pool;
    uint64_t req;
    int kind;
    uint8_t *frame;
    size_t len;
    pool_done_fn done;
    void *arg;
    death_t *death; /* non-NULL: a suspect, runs alone; dies again = blamed */
} job_t;

typedef struct slot {
    pool_t *pool;
    int index;
    vmst_t st;
    vm_t *vm;
    pid_t pid;
    uint64_t started_ms, last_seen_ms;
    uint64_t ping_seq;
    job_t *inflight[PIPELINE_MAX];
    int ninflight;
    uint64_t loads;
    int failures; /* consecutive, for the backoff */
    int64_t timer;
    int recycling;         /* STOP sent because of max_loads, atoms or scale-down */
    int solo;              /* runs one suspect: nothing else is dispatched here */
    char kill_reason[160]; /* why we killed it, if we did */
    int kill_is_failure;
    /* from the VM's hello and pongs */
    char otp[16];
    int elixir;
    uint8_t breeder[WIRE_BREEDER_LEN]; /* zeros: the VM did not say */
    uint64_t memory_bytes, vm_loads;
    uint32_t processes, atoms, live, pending_purge;
    long rss_kb;
    uint64_t restarts, recycles, kills;
    uint64_t kills_by[POOL_KILL__COUNT];
    uint64_t vm_evals_ok, vm_evals_failed; /* as the VM's last pong said */
} slot_t;

struct pool {
    loop_t *loop;
    pool_opts_t o;
    char erl[4096];
    char elixir[4096];
    pool_state_fn on_state;
    void *arg;
    slot_t *slots;
    int cap;    /* slots allocated: [beam] max_vms */
    int target; /* slots that should run a VM: [0, target) */
    job_t *qhead, *qtail;
    size_t queued;
    uint64_t next_req;
    int64_t hb_timer, grace_timer;
    int stopping, stopped, failed;
    uint64_t *fail_times; /* ring of failure times for the intensity limit */
    int fail_n, fail_pos;
    wire_buf_t wb;
    /* telemetry (pool_get_stats) */
    uint64_t starts, evals[WIRE_ST__COUNT], breeds[WIRE_ST__COUNT];
    uint64_t suspects, blamed, job_deaths;
    metrics_hist_t load_hist, eval_hist; /* seconds, from the VMs' load_us/eval_us */
};

/* pool.c */
void pool_slot_set(slot_t *s, vmst_t st, const char *why);
/* Kills s's VM (SIGKILL); is_failure counts it towards the intensity. */
void pool_kill_slot(slot_t *s, const char *why, int is_failure);
/* Hands r to j's caller and frees j. */
void pool_complete(job_t *j, const pool_result_t *r);
/* After a job of s ended: drain, recycle or stop s as its state asks. */
void pool_after_job(slot_t *s);
void pool_dispatch(pool_t *p);

/* pool_vm.c: vm_callbacks_t for a slot's VM (arg: the slot) */
void pool_vm_frame(vm_t *vm, const uint8_t *buf, size_t len, void *arg);
void pool_vm_broken(vm_t *vm, const char *reason, void *arg);

#endif
