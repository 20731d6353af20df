/* pop_json.c - a population's JSON: the API views (summary, detail) and the
 * saved state with its members' costs, per-case errors and generators. */
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "pop.h"

/* ---- JSON views and persistence ---- */

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static double evals_per_s(const pop_t *p, uint64_t now_ms)
{
    /* rate over the history window (up to the last ~10 samples) */
    if (p->hist_n < 2 || p->state != POP_RUNNING)
        return 0; /* a finished population evaluates nothing any more */
    int last = (p->hist_pos + POP_HISTORY - 1) % POP_HISTORY;
    int back = p->hist_n < 11 ? p->hist_n - 1 : 10;
    int first = (last + POP_HISTORY - back) % POP_HISTORY;
    const pop_sample_t *a = &p->history[first], *b = &p->history[last];
    (void)now_ms;
    if (b->t_ms <= a->t_ms)
        return 0;
    return (double)(b->evaluations - a->evaluations) * 1000.0 / (double)(b->t_ms - a->t_ms);
}

json_t *pop_summary_json(const pop_t *p, uint64_t now_ms)
{
    char hex[2 * CRYPTO_HASH_LEN + 1] = "";
    if (p->best.src)
        crypto_hex(p->best.hash, CRYPTO_HASH_LEN, hex);
    return json_pack("{s:s, s:s, s:I, s:f, s:{s:s?, s:o}, s:i, s:i}", "name", p->name, "state",
                     pop_state_str(p->state), "evaluations", (json_int_t)p->evaluations,
                     "evals_per_s", evals_per_s(p, now_ms), "best", "hash",
                     p->best.src ? hex : NULL, "fitness", num_or_null(p->best.fitness), "size",
                     p->size, "demes", p->ndemes);
}

/* The diversity figures of all live members as JSON. */
static json_t *diversity_json(const pop_t *p)
{
    pop_div_t dv;
    if (pop_diversity(p, -1, &dv) != 0)
        return json_null();
    return json_pack("{s:i, s:i, s:f, s:i, s:I}", "genomes", dv.genomes, "fitness_values",
                     dv.fitness_values, "fitness_entropy_bits", dv.entropy_bits, "collapsed_demes",
                     dv.collapsed_demes, "clones_dropped", (json_int_t)p->clones_dropped);
}

static json_t *archive_json(const pop_t *p)
{
    const pop_archive_t *a = p->archive;
    if (!a)
        return json_null();
    json_t *ds = json_array(), *bins = json_array(), *range = json_array();
    for (int i = 0; i < a->ndims; i++) {
        json_array_append_new(ds, json_string(pop_descriptor_names[a->desc[i]]));
        json_array_append_new(bins, json_integer(a->bins[i]));
        json_array_append_new(range, json_pack("[f, f]", a->lo[i], a->hi[i]));
    }
    return json_pack("{s:s, s:o, s:o, s:o, s:i, s:i, s:f, s:I}", "kind", "map_elites",
                     "descriptors", ds, "bins", bins, "range", range, "cells", (int)a->ncells,
                     "occupied", (int)a->nocc, "coverage", (double)a->nocc / (double)a->ncells,
                     "inserted", (json_int_t)a->inserted);
}

static const char *replacement_name(const pop_t *p)
{
    return p->archive                            ? "map_elites"
           : p->replacement == POP_REPL_NO_WORSE ? "no_worse"
           : p->replacement == POP_REPL_AGE      ? "age"
                                                 : "niche";
}

json_t *pop_detail_json(const pop_t *p, uint64_t now_ms)
{
    json_t *o = pop_summary_json(p, now_ms);
    json_object_set_new(o, "diversity", diversity_json(p));
    json_object_set_new(o, "replacement", json_string(replacement_name(p)));
    json_object_set_new(o, "archive", archive_json(p));
    json_object_set_new(json_object_get(o, "best"), "source",
                        p->best.src ? json_stringn(p->best.src, p->best.len) : json_null());
    json_object_set_new(o, "mean_fitness", num_or_null(pop_mean_fitness(p)));
    json_object_set_new(o, "reason", json_string(p->state_reason));
    json_object_set_new(o, "started_ms", json_integer((json_int_t)p->started_ms));
    /* distribution: 10 bins between min and max fitness of live members */
    double mn = INFINITY, mx = -INFINITY;
    size_t nlive;
    const member_t **live = pop_live_members(p, &nlive);
    for (size_t i = 0; i < nlive; i++) {
        double f = live[i]->fitness;
        mn = f < mn ? f : mn;
        mx = f > mx ? f : mx;
    }
    json_t *counts = json_array();
    int bins[10] = {0};
    for (size_t i = 0; i < nlive; i++) {
        double f = live[i]->fitness;
        int b = mx > mn ? (int)((f - mn) / (mx - mn) * 10) : 0;
        bins[b > 9 ? 9 : b]++;
    }
    free(live);
    for (int b = 0; b < 10; b++)
        json_array_append_new(counts, json_integer(bins[b]));
    json_object_set_new(o, "distribution",
                        json_pack("{s:o, s:o, s:o}", "min", num_or_null(mn), "max", num_or_null(mx),
                                  "counts", counts));
    json_t *hist = json_array();
    for (int k = 0; k < p->hist_n; k++) {
        const pop_sample_t *s =
            &p->history[(p->hist_pos + POP_HISTORY - p->hist_n + k) % POP_HISTORY];
        json_array_append_new(hist, json_pack("{s:I, s:I, s:o, s:o}", "t_ms", (json_int_t)s->t_ms,
                                              "evaluations", (json_int_t)s->evaluations, "best",
                                              num_or_null(s->best), "mean", num_or_null(s->mean)));
    }
    json_object_set_new(o, "history", hist);
    json_t *demes = json_array();
    for (int d = 0; d < p->ndemes; d++) {
        const deme_t *dm = &p->demes[d];
        double b = INFINITY;
        for (int i = 0; i < dm->n; i++)
            b = dm->m[i].fitness < b ? dm->m[i].fitness : b;
        json_t *jd = json_pack("{s:i, s:i, s:i, s:I, s:o, s:b}", "index", d, "size", dm->n,
                               "inflight", dm->inflight, "evaluations", (json_int_t)dm->evals,
                               "best", num_or_null(b), "collapsed", dm->collapsed);
        pop_div_t dv;
        if (jd && pop_diversity(p, d, &dv) == 0)
            json_object_set_new(jd, "fitness_values", json_integer(dv.fitness_values));
        json_array_append_new(demes, jd);
    }
    json_object_set_new(o, "demes", demes);
    return o;
}

/* A member as saved: [hash, fitness] and, when there is more to say,
 * cost (null when not finite) and the per-case errors as base64 of their
 * big-endian f64 bytes. */
static json_t *member_json(const member_t *m)
{
    char hex[2 * CRYPTO_HASH_LEN + 1];
    crypto_hex(m->hash, CRYPTO_HASH_LEN, hex);
    json_t *a = json_pack("[s, f]", hex, m->fitness);
    if (!a || (m->cost == 0 && !m->nerrors))
        return a;
    json_array_append_new(a, num_or_null(m->cost));
    if (m->nerrors) {
        size_t raw_len = (size_t)m->nerrors * 8;
        uint8_t *raw = malloc(raw_len);
        size_t b64_len = sodium_base64_encoded_len(raw_len, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = malloc(b64_len);
        if (!raw || !b64) {
            free(raw);
            free(b64);
            json_decref(a);
            return NULL;
        }
        for (uint32_t i = 0; i < m->nerrors; i++) {
            uint64_t bits;
            memcpy(&bits, &m->errors[i], 8);
            for (int k = 0; k < 8; k++)
                raw[i * 8 + (uint32_t)k] = (uint8_t)(bits >> (56 - 8 * k));
        }
        sodium_bin2base64(b64, b64_len, raw, raw_len, sodium_base64_VARIANT_ORIGINAL);
        json_array_append_new(a, json_string(b64));
        free(raw);
        free(b64);
    }
    return a;
}

/* Reads what member_json added (both parts optional). 0, or ERR_PROTO. */
static int load_member_ext(member_t *m, json_t *a)
{
    json_t *c = json_array_get(a, 2), *e = json_array_get(a, 3);
    m->cost = c && json_is_number(c) ? json_number_value(c) : c ? INFINITY : 0;
    if (!e)
        return 0;
    const char *b64 = json_string_value(e);
    size_t len = b64 ? strlen(b64) : 0, raw_len = 0;
    uint8_t *raw = malloc(len / 4 * 3 + 3);
    if (!b64 || !raw ||
        sodium_base642bin(raw, len / 4 * 3 + 3, b64, len, NULL, &raw_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        raw_len % 8 != 0 || raw_len == 0 || !(m->errors = malloc(raw_len))) {
        free(raw);
        return ERR_PROTO;
    }
    m->nerrors = (uint32_t)(raw_len / 8);
    for (uint32_t i = 0; i < m->nerrors; i++) {
        uint64_t bits = 0;
        for (int k = 0; k < 8; k++)
            bits = bits << 8 | raw[i * 8 + (uint32_t)k];
        memcpy(&m->errors[i], &bits, 8);
    }
    free(raw);
    return 0;
}

json_t *pop_to_json(pop_t *p)
{
    json_t *demes = json_array();
    for (int d = 0; d < p->ndemes; d++) {
        deme_t *dm = &p->demes[d];
        json_t *mem = json_array();
        for (int i = 0; i < dm->n; i++)
            json_array_append_new(mem, member_json(&dm->m[i]));
        char rng[17];
        snprintf(rng, sizeof rng, "%016llx", (unsigned long long)dm->rng);
        json_array_append_new(
            demes, json_pack("{s:o, s:I, s:I, s:I, s:i, s:s, s:I}", "members", mem, "next_dseq",
                             (json_int_t)(dm->reserved_dseq + 1), "evals", (json_int_t)dm->evals,
                             "since_migration", (json_int_t)dm->since_migration, "seeds_left",
                             dm->seeds_left, "rng", rng, "age_next", (json_int_t)dm->age_next));
    }
    json_t *best = json_null();
    if (p->best.src)
        best = member_json(&p->best);
    p->dirty = 0;
    /* next_dseq is saved as the reserved mark: after a restart no dseq that
     * may already have been issued is issued again */
    char rng[17];
    snprintf(rng, sizeof rng, "%016llx", (unsigned long long)p->rng);
    json_t *st = json_pack("{s:O, s:i, s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:s, s:I}", "spec",
                           p->spec_json, "state", p->state, "reason", p->state_reason,
                           "evaluations", (json_int_t)p->evaluations, "ok_evaluations",
                           (json_int_t)p->ok_evaluations, "started_ms", (json_int_t)p->started_ms,
                           "finished_ms", (json_int_t)p->finished_ms, "best", best, "demes", demes,
                           "rng", rng, "clones_dropped", (json_int_t)p->clones_dropped);
    if (st && p->archive) {
        /* [cell, member] in the order the cells were first taken (invariant 8) */
        const pop_archive_t *a = p->archive;
        json_t *cells = json_array();
        for (uint32_t k = 0; k < a->nocc; k++)
            json_array_append_new(
                cells, json_pack("[i, o]", (int)a->occ[k], member_json(&a->cells[a->occ[k]])));
        json_object_set_new(
            st, "archive",
            json_pack("{s:o, s:I}", "cells", cells, "inserted", (json_int_t)a->inserted));
    }
    return st;
}

static int load_member(member_t *m, json_t *pair, pop_lookup_fn lookup, void *arg);

/* The archive's saved cells (pop_to_json); cells whose genome is gone stay
 * empty. 0, or ERR_PROTO naming what is wrong in err. */
static int load_archive(pop_t *p, json_t *ja, pop_lookup_fn lookup, void *arg, char *err,
                        size_t errlen)
{
    pop_archive_t *a = p->archive;
    if (!a)
        return 0;
    json_t *cells = json_object_get(ja, "cells");
    a->inserted = (uint64_t)json_integer_value(json_object_get(ja, "inserted"));
    size_t i;
    json_t *e;
    json_array_foreach(cells, i, e)
    {
        json_t *c = json_array_get(e, 0);
        if (!json_is_integer(c) || json_integer_value(c) < 0 ||
            json_integer_value(c) >= (json_int_t)a->ncells || a->cells[json_integer_value(c)].src) {
            snprintf(err, errlen, "%s: saved archive.cells[%zu] does not fit the spec", p->name, i);
            return ERR_PROTO;
        }
        uint32_t cell = (uint32_t)json_integer_value(c);
        if (load_member(&a->cells[cell], json_array_get(e, 1), lookup, arg) == 0)
            a->occ[a->nocc++] = cell;
    }
    return 0;
}

static int load_member(member_t *m, json_t *pair, pop_lookup_fn lookup, void *arg)
{
    const char *hex = json_string_value(json_array_get(pair, 0));
    json_t *f = json_array_get(pair, 1);
    if (!hex || !json_is_number(f) || crypto_unhex(hex, m->hash, CRYPTO_HASH_LEN) != 0)
        return ERR_PROTO;
    m->fitness = json_number_value(f);
    if (load_member_ext(m, pair) != 0)
        return ERR_PROTO;
    m->src = lookup(arg, m->hash, &m->len);
    if (!m->src) {
        pop_member_free(m);
        return ERR_NOTFOUND;
    }
    return 0;
}

pop_t *pop_from_json(json_t *state, pop_lookup_fn lookup, void *arg, char *err, size_t errlen)
{
    pop_t *p = pop_new(json_object_get(state, "spec"), 0, err, errlen);
    if (!p)
        return NULL;
    json_t *demes = json_object_get(state, "demes");
    if (!json_is_array(demes) || json_array_size(demes) != (size_t)p->ndemes) {
        snprintf(err, errlen, "%s: saved demes do not match the spec", p->name);
        pop_destroy(&p);
        return NULL;
    }
    p->state = (int)json_integer_value(json_object_get(state, "state"));
    snprintf(p->state_reason, sizeof p->state_reason, "%s",
             json_string_value(json_object_get(state, "reason")) ?: "");
    p->evaluations = (uint64_t)json_integer_value(json_object_get(state, "evaluations"));
    p->ok_evaluations = (uint64_t)json_integer_value(json_object_get(state, "ok_evaluations"));
    p->started_ms = (uint64_t)json_integer_value(json_object_get(state, "started_ms"));
    p->finished_ms = (uint64_t)json_integer_value(json_object_get(state, "finished_ms"));
    const char *rng = json_string_value(json_object_get(state, "rng"));
    if (rng && strlen(rng) == 16)
        p->rng = strtoull(rng, NULL, 16);
    json_t *best = json_object_get(state, "best");
    if (json_is_array(best) && load_member(&p->best, best, lookup, arg) != 0)
        p->best.fitness = INFINITY;
    for (int d = 0; d < p->ndemes; d++) {
        deme_t *dm = &p->demes[d];
        json_t *jd = json_array_get(demes, (size_t)d);
        json_t *mem = json_object_get(jd, "members");
        dm->next_dseq = (uint64_t)json_integer_value(json_object_get(jd, "next_dseq"));
        if (dm->next_dseq < 1)
            dm->next_dseq = 1;
        dm->reserved_dseq = dm->next_dseq - 1;
        dm->evals = (uint64_t)json_integer_value(json_object_get(jd, "evals"));
        dm->since_migration = (uint64_t)json_integer_value(json_object_get(jd, "since_migration"));
        dm->seeds_left = (int)json_integer_value(json_object_get(jd, "seeds_left"));
        json_t *age = json_object_get(jd, "age_next"); /* absent in older state: 0 */
        dm->age_next = json_is_integer(age) && json_integer_value(age) >= 0 &&
                               json_integer_value(age) < dm->cap
                           ? (uint32_t)json_integer_value(age)
                           : 0;
        const char *drng = json_string_value(json_object_get(jd, "rng"));
        if (drng && strlen(drng) == 16)
            dm->rng = strtoull(drng, NULL, 16); /* else the seeded start (older state) */
        size_t i;
        json_t *pair;
        json_array_foreach(mem, i, pair)
        {
            if ((int)i >= dm->cap)
                break;
            if (load_member(&dm->m[dm->n], pair, lookup, arg) == 0)
                dm->n++;
            else
                p->restore_dropped++;
        }
        /* a collapse already logged before the restart is not logged again */
        dm->collapsed = dm->n == dm->cap && dm->n > 1;
        for (int k = 1; dm->collapsed && k < dm->n; k++)
            dm->collapsed = pop_cmp_score(p, dm->m[k].fitness, dm->m[k].cost, dm->m[0].fitness,
                                          dm->m[0].cost) == 0;
    }
    p->clones_dropped = (uint64_t)json_integer_value(json_object_get(state, "clones_dropped"));
    if (load_archive(p, json_object_get(state, "archive"), lookup, arg, err, errlen) != 0) {
        pop_destroy(&p);
        return NULL;
    }
    if (p->restore_dropped)
        log_warn("pop.restore_dropped",
                 "population=%s members=%llu why=\"their genomes are missing from the store or "
                 "their saved entries are damaged\"",
                 p->name, (unsigned long long)p->restore_dropped);
    p->dirty = 1;
    return p;
}
