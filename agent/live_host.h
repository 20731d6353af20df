/* live_host.h - one live individual on a BEAM VM of its own: boots the VM,
 * starts the individual (init, or a snapshot), replays its request trace at
 * the spec's rate (once, or in a loop), sends its upgrades in order, and
 * resumes it on a fresh VM at its last good version and snapshot when the VM
 * dies. `petri-agent live` runs one (live.c), the agent daemon many
 * (alive.c), on the same event loop as everything else.
 *
 *   BOOTING --HELLO--> STARTING --started--> RUNNING --stop, or the trace's
 *      ^                                       |      one pass answered--> STOPPING
 *      +------------ VM died (resume) ---------+                             |
 *   any --too many VM deaths, cannot start--> ENDED (failed)   stopped --> ENDED
 *
 * Invariants:
 *  1. Every request sent is sent until it is answered: those in flight on a
 *     VM that died go again, in order, to the next one. A reply for a
 *     request answered already counts as twice, one never sent as unknown.
 *     At most LIVE_MAX_IN_FLIGHT requests are unanswered at any time.
 *  2. The last good version is the one of the last `started` or `promoted`
 *     event; a resume starts it from that event's snapshot. An upgrade sent
 *     and not settled when its VM dies is abandoned (an agent-made
 *     `rollback` says so); upgrades not sent yet go to the next VM.
 *  3. Upgrades go to the VM in the order live_host_upgrade queued them
 *     (the VM runs one probation at a time, the rest wait there in order).
 *  4. VM bytes are untrusted: a malformed frame ends that VM (resumed like
 *     a dead one), never the host.
 *  5. No callback sees the host freed under it: the owner never calls
 *     live_host_destroy inside one (it defers, e.g. to a timer).
 */
#ifndef PETRI_LIVE_HOST_H
#define PETRI_LIVE_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "live_spec.h"
#include "loop.h"
#include "vm.h"
#include "wire_live.h"

#define LIVE_MAX_RESTARTS 8       /* VM deaths before the host gives up */
#define LIVE_MAX_IN_FLIGHT 1024   /* requests sent and not answered */
#define LIVE_STOP_WAIT_MS 3000    /* for the VM's `stopped` */
#define LIVE_BOOT_WAIT_MS 30000   /* for the VM's HELLO and `started` */
#define LIVE_LATENCY_SAMPLE 65536 /* latencies kept between two live_host_stats */
#define LIVE_MAX_BREEDS 16        /* breedings in flight in the individual's VM */
#define LIVE_BREED_WAIT_MS 30000  /* for a CHILD (a frame the VM could not read gets none) */

typedef struct live_host live_host_t;

typedef struct live_host_opts {
    vm_spawn_opts_t so; /* its strings outlive the host */
    uint64_t live_id;
    /* The spec's fields (live_spec_t.start) with source, version (>= 1),
     * snapshot (empty = init), next_version and language set: copied. */
    const wire_live_start_t *start;
    const live_trace_t *trace; /* borrowed: outlives the host */
    double rate;               /* requests/s; 0 = as fast as answered */
    uint32_t batch;            /* requests per frame at most */
    int loop_trace;            /* 1 = replay the trace forever; 0 = once, then stop */
    int reap;              /* 1 = wait for its dead VMs itself (no SIGCHLD reaper in the process) */
    uint32_t tick_ms;      /* pacing timer (1 = finest) */
    uint32_t max_upgrades; /* queued and unsettled at most */
    uint64_t kill_after_upgrade; /* test hook: SIGKILL the VM once this upgrade is written */
    const char *name;            /* for logs */
} live_host_opts_t;

/* One event, as the VM reported it or as the host made it. */
typedef struct live_host_event {
    const wire_live_event_t *e; /* its snapshot points into a frame: valid during the call */
    int by_agent;               /* the host made it (the VM died in an upgrade) */
    int resumed;                /* `started` on a fresh VM after the last one died */
    /* the source the event is about: the upgrade's child for the upgrade
     * kinds, else the running version's; the parent's for the upgrade
     * kinds (the version running when the upgrade began), else NULL */
    const uint8_t *src, *parent_src;
    size_t src_len, parent_len;
    uint64_t up_sent_us; /* upgrade kinds: when the upgrade went to the VM */
} live_host_event_t;

typedef struct live_host_cb {
    void (*event)(live_host_t *h, const live_host_event_t *ev, void *arg);
    /* Optional: the first answer to request seq (1-based; its trace line
     * is (seq - 1) % trace->n); latency_us from its last send. */
    void (*reply)(live_host_t *h, uint64_t seq, const wire_live_reply_t *rep, uint64_t latency_us,
                  void *arg);
    /* Optional: the answer to live_host_breed req (WIRE_VM_CHILD): status
     * (enum wire_status), the child (NULL/0 when breeding failed), detail.
     * A VM that dies first, or no answer in LIVE_BREED_WAIT_MS, answers
     * WIRE_ST_INTERNAL. */
    void (*child)(live_host_t *h, uint64_t req, int status, const uint8_t *src, size_t len,
                  const char *detail, void *arg);
    /* The host is done: stopped (failed 0), or gave up (failed 1; why says
     * why). Nothing follows. */
    void (*ended)(live_host_t *h, int failed, const char *why, void *arg);
} live_host_cb_t;

typedef struct live_host_stats {
    uint32_t version; /* that answered last (the started one before any) */
    uint64_t sent, answered, correct, wrong, failed; /* failed: answers that were errors */
    uint64_t twice, unknown, resent, lost, restarts;
    uint64_t promoted, rolled_back, refused, restarted;
    double fitness;          /* mean score of the last `window` answers; NaN before any */
    uint64_t p50_us, p99_us; /* latency of the answers since the last call; 0 if none */
    int on_probation;
} live_host_stats_t;

/* Boots the VM and starts the individual. NULL with err when it cannot
 * (out of memory, no VM). The callbacks and arg are kept. */
live_host_t *live_host_new(loop_t *l, const live_host_opts_t *o, const live_host_cb_t *cb,
                           void *arg, char *err, size_t errlen);
/* Kills its VM (no events, no ended). NULL-safe; nulls *h. */
void live_host_destroy(live_host_t **h);

/* Queues an upgrade: the child src (copied), probation (0 = the spec's),
 * judge (wire.h), sent once `at` requests were sent (0 = at once). 0,
 * ERR_LIMIT (max_upgrades queued), ERR_EXISTS (upgrade_id 0 or in use),
 * ERR_STATE (stopping or ended), -ENOMEM. */
int live_host_upgrade(live_host_t *h, uint64_t upgrade_id, const uint8_t *src, size_t len,
                      uint32_t probation, int judge, uint64_t at);
/* Breeds a child in the individual's VM (WIRE_VM_BREED) from the SPEC
 * block (its language byte set to the individual's), op, seed and parents;
 * cb.child answers with req. 0, ERR_STATE (the individual is not running
 * now: try again after `started`), ERR_LIMIT (LIVE_MAX_BREEDS in flight),
 * or the frame's error. */
int live_host_breed(live_host_t *h, uint64_t req, const uint8_t *spec, size_t spec_len,
                    const char *op, uint64_t seed, const uint8_t *const *parents,
                    const size_t *lens, uint32_t nparents);
/* Stops the individual (STOP to the VM); `ended` follows. Idempotent. */
void live_host_stop(live_host_t *h);

/* Counters and the live fitness; reset: start a new latency sample (the
 * percentiles are of the answers since the last reset). */
void live_host_stats(live_host_t *h, live_host_stats_t *out, int reset);
/* The last good version's number and source (what a resume runs). */
uint32_t live_host_good(const live_host_t *h, const uint8_t **src, size_t *len);
/* Its state's snapshot (ETF; NULL/0 before the first `started`). */
void live_host_good_snapshot(const live_host_t *h, const uint8_t **snap, size_t *len);
int live_host_ended(const live_host_t *h);
/* Its VM's process id, or 0 between VMs. */
int live_host_pid(const live_host_t *h);
const char *live_host_name(const live_host_t *h);

#endif
