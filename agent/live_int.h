/* live_int.h - the inside of `petri-agent live` (live.c): the run's state,
 * shared with its input loading (live_input.c) and its report (live_report.c). */
#ifndef PETRI_AGENT_LIVE_INT_H
#define PETRI_AGENT_LIVE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "live_spec.h"
#include "loop.h"
#include "vm.h"
#include "wire.h"
#include "wire_live.h"

#define LIVE_ID 1
#define LIVE_MAX_UPGRADES 100000
#define LIVE_MAX_VERSIONS 200000
#define LIVE_MAX_RESTARTS 8     /* VM deaths before the run gives up */
#define LIVE_MAX_IN_FLIGHT 1024 /* requests sent and not answered */
#define LIVE_AROUND 16          /* requests after an upgrade point that "see" it */
#define LIVE_STOP_WAIT_MS 3000
#define LIVE_BOOT_WAIT_MS 30000

enum run_state { RS_BOOTING, RS_STARTING, RS_RUNNING, RS_STOPPING, RS_DONE };

typedef struct lreq {
    const uint8_t *req, *expect; /* ETF (the trace's); expect NULL = nothing expected */
    size_t req_len, expect_len;
    uint64_t sent_us; /* last send, 0 = never */
    uint32_t answers;
    uint64_t latency_us; /* agent-side, first answer */
    uint32_t version;    /* that answered it first */
    double score;
} lreq_t;

typedef struct lup {
    const char *path;
    char *src;
    size_t src_len;
    uint64_t at; /* send after this many requests */
    int sent;
    uint64_t sent_us;
    int outcome; /* -1 none yet, else enum wire_live_kind that settled it */
    double ms;   /* sent -> upgrade event (good) or -> rollback (bad at once) */
} lup_t;

typedef struct lver {
    char hash[WIRE_LIVE_HASH_MAX];
    uint64_t n, correct, failed;
    double score_sum;
} lver_t;

typedef struct live_run {
    loop_t *loop;
    vm_t *vm;
    pid_t pid;
    vm_spawn_opts_t so;
    char erl[4096], elixir[4096];
    int state, json, failed;
    /* the spec and the trace (r->reqs point into it) */
    live_spec_t spec;
    live_trace_t trace;
    wire_live_start_t start;
    double rate;
    uint32_t batch;
    /* the individual's last good version */
    char *good_src;
    size_t good_src_len;
    uint8_t *good_snap;
    size_t good_snap_len;
    uint32_t good_version;
    uint32_t max_version; /* highest version number the VMs gave out */
    /* the trace and the upgrades */
    lreq_t *reqs;
    size_t nreqs, next; /* next: first request never sent */
    lup_t *ups;
    size_t nups;
    uint64_t t0_us, rate_base_us;
    uint64_t rate_base_n;
    /* counts */
    uint64_t answered, twice, resent, unknown, restarts, stray;
    uint64_t n_promoted, n_rollback, n_refused, n_restarted;
    lver_t *vers;
    size_t nvers;
    char lost[WIRE_LIVE_REASON_MAX + 64]; /* why the VM is to be replaced (set in a VM callback,
                       acted on by the timer: never destroy a VM inside its own
                       callback) */
    int kill_after; /* test hook: SIGKILL the VM once this upgrade is written (1-based) */
    int kill_armed;
    int64_t timer;
    uint64_t state_ms;
    wire_buf_t wb;
} live_run_t;

/* ---- live_input.c: the spec, the trace, the upgrades (errors on stderr) ---- */

/* Reads a whole file (at most max bytes); 0 or an error, said on stderr
 * with what the file is. */
int live_read_text(const char *path, char **out, size_t *len, size_t max, const char *what);
/* The live spec (live.h) into r->start, r->atoms, r->rate, r->batch. */
int live_load_spec(live_run_t *r, const char *path);
/* The trace's requests, each term encoded once (ETF). */
int live_load_trace(live_run_t *r, const char *path);
/* One --upgrade CHILD.erl@N. */
int live_add_upgrade(live_run_t *r, const char *arg);

/* ---- live_report.c: what the run prints ---- */

/* One event: a JSON line with --json, else a line of text. note: who
 * reported it when not the VM ("agent"), or NULL. */
void live_print_event(live_run_t *r, const wire_live_event_t *e, const char *note);
/* The summary: counts, latencies, upgrade times, live fitness per version. */
void live_summary(live_run_t *r, double elapsed_ms);

#endif
