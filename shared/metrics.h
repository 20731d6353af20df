/* metrics.h - Prometheus text exposition (format 0.0.4): a growing text
 * buffer with HELP/TYPE headers, samples with escaped labels, and a
 * fixed-bucket histogram type that costs a few adds per observation.
 *
 * Usage (every call is a no-op once the buffer has failed to grow):
 *
 *   metrics_buf_t m;
 *   metrics_init(&m);
 *   metrics_family(&m, "petri_members", "gauge", "Cluster members by state.");
 *   metrics_sample(&m, "petri_members", 3, "state", "alive", NULL);
 *   ...
 *   if (m.err) ...; else use m.data, m.len; metrics_free(&m);
 *
 * Contracts:
 *  - Metric and label names are program literals: they must match
 *    [a-zA-Z_:][a-zA-Z0-9_:]* and [a-zA-Z_][a-zA-Z0-9_]* (asserted).
 *  - Label values are any bytes up to NUL: backslash, double quote and
 *    newline are escaped as the format requires. HELP text escapes
 *    backslash and newline.
 *  - Labels are passed as key, value, key, value, ..., NULL. A NULL value
 *    is written as "" (never dereferenced).
 *  - Values: integers up to 2^53 are printed exactly, NaN as NaN, and the
 *    infinities as +Inf/-Inf.
 */
#ifndef PETRI_METRICS_H
#define PETRI_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct metrics_buf {
    char *data; /* NUL-terminated text (malloc'd; NULL until the first write) */
    size_t len, cap;
    int err; /* 0, or -ENOMEM once an allocation failed: the text is incomplete */
} metrics_buf_t;

void metrics_init(metrics_buf_t *m);
/* Frees the text; m can be reused after metrics_init. */
void metrics_free(metrics_buf_t *m);
/* Takes the text out of m (the caller frees it; m is left empty). NULL on
 * error or when nothing was written. */
char *metrics_take(metrics_buf_t *m, size_t *len);

/* "# HELP name help\n# TYPE name type\n"; type is counter, gauge,
 * histogram, summary or untyped. Call once per family, before its samples. */
void metrics_family(metrics_buf_t *m, const char *name, const char *type, const char *help);
/* One sample line: name{k="v",...} value. */
void metrics_sample(metrics_buf_t *m, const char *name, double value, ...)
    __attribute__((sentinel));
/* metrics_family + one unlabelled sample (the common single-value case). */
void metrics_one(metrics_buf_t *m, const char *name, const char *type, const char *help,
                 double value);

/* Appends a label value escaped as the text format requires (exposed for
 * tests and for callers building label sets by hand). */
void metrics_escape(metrics_buf_t *m, const char *value);

/* ---- histograms ----
 * Buckets are upper bounds (le), ascending, at most METRICS_HIST_MAX; a
 * final +Inf bucket is implicit. A zero-initialised histogram uses
 * metrics_latency_bounds (seconds), so a struct member needs no init call.
 * Not thread-safe: owned by one thread, like everything on a loop. */
#define METRICS_HIST_MAX 24

typedef struct metrics_hist {
    const double *bounds; /* NULL = metrics_latency_bounds */
    int nbounds;
    uint64_t buckets[METRICS_HIST_MAX + 1]; /* per bucket, not cumulative; last = +Inf */
    uint64_t count;
    double sum;
} metrics_hist_t;

/* 100 us .. 30 s, roughly 1-2.5-5 per decade: evaluations, loads, commits. */
extern const double metrics_latency_bounds[];
extern const int metrics_latency_nbounds;

/* bounds is borrowed (static storage in practice); n in [1, METRICS_HIST_MAX]. */
void metrics_hist_init(metrics_hist_t *h, const double *bounds, int n);
/* Counts v (NaN is ignored). */
void metrics_hist_observe(metrics_hist_t *h, double v);
/* Adds every observation of src into dst (same bounds; asserted). */
void metrics_hist_merge(metrics_hist_t *dst, const metrics_hist_t *src);
/* name_bucket{...,le="b"} (cumulative), name_sum, name_count; write the
 * family header (type "histogram") first. Labels as for metrics_sample. */
void metrics_hist_write(metrics_buf_t *m, const char *name, const metrics_hist_t *h, ...)
    __attribute__((sentinel));

/* ---- gossip ----
 * The membership families every daemon exports: petri_gossip_members{state}
 * (self included, as /v1/members shows it), probes, suspicions,
 * refutations, packets and bytes in and out, drops by reason, open peers.
 * Defined in metrics_gossip.c. g may be NULL (nothing is written). */
struct gossip;
struct gossip_member;
void metrics_gossip(metrics_buf_t *m, const struct gossip *g);
/* The same, from a member snapshot and stats already taken (benchmarks,
 * tests). */
struct gossip_stats;
void metrics_gossip_from(metrics_buf_t *m, const struct gossip_member *mem, int n,
                         const struct gossip_stats *st);

/* Answers an HTTP request with the text in m (taken; m is then empty):
 * 200 text/plain in the exposition format, or 500 when out of memory. */
struct http_resp;
void metrics_reply(metrics_buf_t *m, struct http_resp *resp);

#endif
