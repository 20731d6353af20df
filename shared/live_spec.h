/* live_spec.h - a live individual's spec and request trace, parsed from
 * bytes: what `petri-agent live --spec/--trace` read from files, what the
 * coordinator checks when a live population is created, and what an agent
 * receives in WIRE_WORK_LIVE START. Each term is encoded to ETF once here.
 *
 * The live spec (a JSON object, every key optional):
 *   atoms      ["allow", ...]   atoms the trace's and init's terms may name
 *              (at most SPEC_MAX_ATOMS plain atom names: a lower-case letter,
 *              then letters, digits, _ and @; each declared once)
 *   init       term (spec.h's JSON term mapping): init/1's argument; null
 *   limits     {"timeout_ms": 100 (1..600000), "heap_words": 1000000
 *               (1000..1e9), "reductions": 1000000 (per request, 0..1e12,
 *               0 = none), "state_words": 100000 (1..1e9)}
 *   probation  requests a child serves before it is judged (50; 1..1e6)
 *   window     requests in the rolling live fitness (200; 1..1e6)
 *   score      {"latency": w per service us (0..1), "reductions": w per
 *               reduction (0..1), "tolerance": how much lower than its
 *               parent a child may score (0..1e6)} (0, 0, 0)
 *   rate       requests per second (1000; 0..1e7; 0 = as fast as the VM
 *              answers)
 *   batch      requests per LIVE_REQUESTS frame at most (16;
 *              1..WIRE_LIVE_MAX_BATCH)
 * Counts are whole numbers. Unknown keys are errors naming the key.
 *
 * The trace: JSON lines, one request each, {"req": term, "expect": term}
 * ("expect" optional: nothing expected); blank lines are skipped. At most
 * LIVE_MAX_TRACE requests and LIVE_MAX_TRACE_BYTES of text.
 *
 * Every error is ERR_SPEC (or -ENOMEM) with a message in err that names the
 * place: "limits.timeout_ms: ...", "trace line 3.req.$tuple[1]: ...".
 */
#ifndef PETRI_LIVE_SPEC_H
#define PETRI_LIVE_SPEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "spec.h"
#include "wire_live.h"

#define LIVE_MAX_TRACE 1000000            /* requests in a trace */
#define LIVE_MAX_TRACE_BYTES (256u << 20) /* text of a trace */
#define LIVE_SPEC_MAX_BYTES (4u << 20)    /* text of a live spec */
#define LIVE_DEFAULT_RATE 1000.0          /* requests per second */
#define LIVE_DEFAULT_BATCH 16

typedef struct live_spec {
    /* The LIVE_START fields the spec sets: limits, probation, window, score
     * weights, atoms and init_arg (which point into this struct's own
     * memory). live_id, version, source, snapshot, next_version and
     * language are zero: the caller sets them on a copy. */
    wire_live_start_t start;
    char **atoms;
    size_t natoms;
    uint8_t *init_arg; /* ETF */
    size_t init_arg_len;
    double rate;    /* requests per second, 0 = as fast as answered */
    uint32_t batch; /* requests per frame at most */
} live_spec_t;

typedef struct live_treq {
    uint8_t *req, *expect; /* ETF; expect NULL = nothing expected */
    size_t req_len, expect_len;
} live_treq_t;

typedef struct live_trace {
    live_treq_t *reqs;
    size_t n; /* >= 1 once parsed */
} live_trace_t;

/* Parses the live spec in json[0..len) into *out (zeroed first; free it with
 * live_spec_free, also after an error). 0, ERR_SPEC with err naming the
 * field, or -ENOMEM. */
int live_spec_parse(const char *json, size_t len, live_spec_t *out, char *err, size_t errlen);
/* The same from a parsed object. extra_keys: NULL-terminated top-level keys
 * the caller handles itself (a population's own fields), or NULL. */
int live_spec_from_json(json_t *root, const char *const *extra_keys, live_spec_t *out, char *err,
                        size_t errlen);
/* Frees what *s owns and zeroes it; safe on a zeroed struct. */
void live_spec_free(live_spec_t *s);

/* Parses the trace text[0..len) with the spec's atoms into *out (zeroed
 * first; free it with live_trace_free, also after an error). 0, ERR_SPEC
 * with err naming the line ("trace line 2.req: ...", "trace: no request"),
 * or -ENOMEM. */
int live_trace_parse(const char *text, size_t len, const live_spec_t *spec, live_trace_t *out,
                     char *err, size_t errlen);
void live_trace_free(live_trace_t *t);

#endif
