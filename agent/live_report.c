/* live_report.c - what `petri-agent live` prints: one line per event and
 * the summary (JSON with --json, else text). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "live_int.h"

static void print_json(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER |
                                JSON_REAL_PRECISION(10));
    if (s)
        printf("%s\n", s);
    free(s);
    fflush(stdout);
    json_decref(o);
}

static json_t *score_json(double v)
{
    return isfinite(v) ? json_real(round(v * 1e6) / 1e6) : json_null();
}

void live_print_event(live_run_t *r, const wire_live_event_t *e, const char *note)
{
    const char *kind = wire_live_event_str(e->kind);
    if (r->json) {
        json_t *o = json_pack("{s:s, s:I, s:I, s:I}", "event", kind, "upgrade_id",
                              (json_int_t)e->upgrade_id, "version", (json_int_t)e->version,
                              "at_seq", (json_int_t)e->at_seq);
        json_object_set_new(o, "from", json_string(e->from_hash));
        json_object_set_new(o, "to", json_string(e->to_hash));
        json_object_set_new(o, "state_before", json_string(e->state_before));
        json_object_set_new(o, "state_after", json_string(e->state_after));
        json_object_set_new(o, "parent_score", score_json(e->parent_score));
        json_object_set_new(o, "child_score", score_json(e->child_score));
        json_object_set_new(o, "probation", json_integer(e->probation));
        json_object_set_new(o, "reason", json_string(e->reason));
        json_object_set_new(o, "snapshot_bytes", json_integer(e->snapshot_len));
        json_object_set_new(o, "took_us", json_integer((json_int_t)e->took_us));
        if (e->upgrade_id >= 1 && e->upgrade_id <= r->nups)
            json_object_set_new(o, "child", json_string(r->ups[e->upgrade_id - 1].path));
        if (note)
            json_object_set_new(o, "note", json_string(note));
        print_json(o);
        return;
    }
    printf("%-9s v%-3u at %-6llu %.12s -> %.12s  state %.12s -> %.12s", kind, e->version,
           (unsigned long long)e->at_seq, e->from_hash[0] ? e->from_hash : "-",
           e->to_hash[0] ? e->to_hash : "-", e->state_before[0] ? e->state_before : "-",
           e->state_after[0] ? e->state_after : "-");
    if (isfinite(e->parent_score) || isfinite(e->child_score))
        printf("  score %.4f -> %.4f over %u", e->parent_score, e->child_score, e->probation);
    if (e->reason[0])
        printf("  (%s)", e->reason);
    if (note)
        printf("  [%s]", note);
    printf("\n");
    fflush(stdout);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void live_summary(live_run_t *r, double elapsed_ms)
{
    uint64_t lost = r->nreqs - r->answered;
    /* latency: steady (no upgrade point in the LIVE_AROUND requests before)
     * and around upgrades */
    uint64_t *steady = malloc((r->nreqs + 1) * sizeof *steady);
    size_t ns = 0;
    uint64_t around_max = 0, steady_max = 0;
    char *near = calloc(r->nreqs + 1, 1);
    for (size_t i = 0; near && i < r->nups; i++)
        for (uint64_t k = r->ups[i].at; k < r->ups[i].at + LIVE_AROUND && k < r->nreqs; k++)
            near[k] = 1;
    for (size_t i = 0; steady && near && i < r->nreqs; i++) {
        if (!r->reqs[i].answers)
            continue;
        uint64_t l = r->reqs[i].latency_us;
        if (near[i]) {
            around_max = l > around_max ? l : around_max;
        } else {
            steady[ns++] = l;
            steady_max = l > steady_max ? l : steady_max;
        }
    }
    if (steady)
        qsort(steady, ns, sizeof *steady, cmp_u64);
    /* each upgrade's gap: the longest latency of the requests that see it */
    uint64_t *gaps = calloc(r->nups + 1, sizeof *gaps);
    for (size_t i = 0; gaps && i < r->nups; i++)
        for (uint64_t k = r->ups[i].at; k < r->ups[i].at + LIVE_AROUND && k < r->nreqs; k++)
            if (r->reqs[k].answers && r->reqs[k].latency_us > gaps[i])
                gaps[i] = r->reqs[k].latency_us;
    if (gaps)
        qsort(gaps, r->nups, sizeof *gaps, cmp_u64);
    double good_ms = 0, bad_ms = 0, bad_max = 0;
    int ngood = 0, nbad = 0;
    for (size_t i = 0; i < r->nups; i++) {
        lup_t *u = &r->ups[i];
        if (u->outcome == WIRE_LIVE_PROMOTED) {
            good_ms += u->ms;
            ngood++;
        } else if (u->outcome == WIRE_LIVE_ROLLBACK && u->ms > 0) {
            bad_ms += u->ms;
            bad_max = u->ms > bad_max ? u->ms : bad_max;
            nbad++;
        }
    }
    json_t *o =
        json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "summary", 1, "requests",
                  (json_int_t)r->nreqs, "answered", (json_int_t)r->answered, "lost",
                  (json_int_t)lost, "twice", (json_int_t)r->twice, "resent", (json_int_t)r->resent,
                  "vm_restarts", (json_int_t)r->restarts, "upgrades", (json_int_t)r->nups);
    json_object_set_new(o, "promoted", json_integer((json_int_t)r->n_promoted));
    json_object_set_new(o, "rolled_back", json_integer((json_int_t)r->n_rollback));
    json_object_set_new(o, "refused", json_integer((json_int_t)r->n_refused));
    json_object_set_new(o, "restarted", json_integer((json_int_t)r->n_restarted));
    json_object_set_new(o, "unknown_replies", json_integer((json_int_t)r->unknown));
    json_object_set_new(o, "elapsed_ms", json_real(round(elapsed_ms * 10) / 10));
    json_t *lat = json_object();
    json_object_set_new(lat, "steady_p50", json_integer(ns ? (json_int_t)steady[ns / 2] : 0));
    json_object_set_new(lat, "steady_p99",
                        json_integer(ns ? (json_int_t)steady[(ns * 99) / 100] : 0));
    json_object_set_new(lat, "steady_max", json_integer((json_int_t)steady_max));
    json_object_set_new(lat, "around_upgrade_max", json_integer((json_int_t)around_max));
    json_object_set_new(lat, "upgrade_gap_p50",
                        json_integer(gaps && r->nups ? (json_int_t)gaps[r->nups / 2] : 0));
    json_object_set_new(o, "latency_us", lat);
    json_t *ms = json_object();
    json_object_set_new(ms, "upgrade_mean", json_real(ngood ? good_ms / ngood : 0));
    json_object_set_new(ms, "rollback_mean", json_real(nbad ? bad_ms / nbad : 0));
    json_object_set_new(ms, "rollback_max", json_real(bad_max));
    json_object_set_new(o, "upgrade_ms", ms);
    /* live fitness: the mean score of each version's last `window` replies */
    uint64_t *rn = calloc(r->nvers + 1, sizeof *rn);
    double *rsum = calloc(r->nvers + 1, sizeof *rsum);
    for (size_t i = r->nreqs; rn && rsum && i-- > 0;) {
        lreq_t *q = &r->reqs[i];
        if (q->answers && q->version >= 1 && q->version <= r->nvers &&
            rn[q->version - 1] < r->start.window) {
            rn[q->version - 1]++;
            rsum[q->version - 1] += q->score;
        }
    }
    json_t *vs = json_array();
    for (size_t i = 0; i < r->nvers; i++) {
        lver_t *v = &r->vers[i];
        if (!v->n && !v->hash[0])
            continue;
        json_array_append_new(
            vs, json_pack("{s:I, s:s, s:I, s:I, s:I, s:o}", "version", (json_int_t)(i + 1), "hash",
                          v->hash, "requests", (json_int_t)v->n, "correct", (json_int_t)v->correct,
                          "failed", (json_int_t)v->failed, "fitness",
                          v->n ? score_json(v->score_sum / (double)v->n) : json_null()));
        json_object_set_new(json_array_get(vs, json_array_size(vs) - 1), "live_fitness",
                            rn && rsum && rn[i] ? score_json(rsum[i] / (double)rn[i])
                                                : json_null());
    }
    json_object_set_new(o, "versions", vs);
    free(rn);
    free(rsum);
    free(steady);
    free(near);
    free(gaps);
    if (r->json) {
        print_json(o);
        return;
    }
    printf("requests %zu  answered %llu  lost %llu  twice %llu  resent %llu  vm restarts %llu\n",
           r->nreqs, (unsigned long long)r->answered, (unsigned long long)lost,
           (unsigned long long)r->twice, (unsigned long long)r->resent,
           (unsigned long long)r->restarts);
    printf("upgrades %zu: promoted %llu, rolled back %llu, refused %llu\n", r->nups,
           (unsigned long long)r->n_promoted, (unsigned long long)r->n_rollback,
           (unsigned long long)r->n_refused);
    size_t i;
    json_t *v;
    json_array_foreach(vs, i, v)
    {
        json_t *f = json_object_get(v, "fitness"), *lf = json_object_get(v, "live_fitness");
        char fit[32] = "-", live[32] = "-";
        if (json_is_real(f))
            snprintf(fit, sizeof fit, "%.4f", json_real_value(f));
        if (json_is_real(lf))
            snprintf(live, sizeof live, "%.4f", json_real_value(lf));
        printf("  v%-3lld %.12s  %6lld requests  %6lld correct  fitness %s  live %s\n",
               (long long)json_integer_value(json_object_get(v, "version")),
               json_string_value(json_object_get(v, "hash")),
               (long long)json_integer_value(json_object_get(v, "requests")),
               (long long)json_integer_value(json_object_get(v, "correct")), fit, live);
    }
    json_decref(o);
}
