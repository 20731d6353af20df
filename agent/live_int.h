/* live_int.h - the inside of `petri-agent live` (live.c): the run's state
 * (one live_host and what the report needs), shared with its input loading
 * (live_input.c) and its report (live_report.c). */
#ifndef PETRI_AGENT_LIVE_INT_H
#define PETRI_AGENT_LIVE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "live_host.h"
#include "live_spec.h"
#include "loop.h"
#include "vm.h"
#include "wire.h"
#include "wire_live.h"

#define LIVE_ID 1
#define LIVE_MAX_UPGRADES 100000
#define LIVE_MAX_VERSIONS 200000
#define LIVE_AROUND 16 /* requests after an upgrade point that "see" it */

typedef struct lreq {
    const uint8_t *req, *expect; /* ETF (the trace's); expect NULL = nothing expected */
    size_t req_len, expect_len;
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
    live_host_t *host;
    char erl[4096], elixir[4096];
    int json, failed;
    /* the spec and the trace (r->reqs point into it) */
    live_spec_t spec;
    live_trace_t trace;
    wire_live_start_t start;
    double rate;
    uint32_t batch;
    char *genome;
    size_t genome_len;
    /* the trace's requests and the upgrades */
    lreq_t *reqs;
    size_t nreqs;
    lup_t *ups;
    size_t nups;
    /* counts (the host's, at the end) */
    uint64_t answered, twice, resent, unknown, restarts;
    uint64_t n_promoted, n_rollback, n_refused, n_restarted;
    lver_t *vers;
    size_t nvers;
    int kill_after; /* test hook: SIGKILL the VM once this upgrade is written (1-based) */
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
