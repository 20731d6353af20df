/* pop.c - a population's demes, selection, replacement and stop rules. */
#include "pop.h"

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

#define FILL_FAILURES_MAX 2000 /* random genomes that all fail: the spec is broken */

const char *const pop_op_names[POP_OPS] = {"crossover", "subtree", "point",
                                           "swap",      "hoist",   "shrink"};
static const double default_rates[POP_OPS] = {0.4, 0.2, 0.2, 0.1, 0.05, 0.05};

static const char *const pop_keys[] = {"name",    "size",      "demes", "selection", "operators",
                                       "elitism", "migration", "stop",  "seeds",     NULL};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return ERR_SPEC;
}

const char *pop_state_str(int state)
{
    static const char *const names[] = {"running", "solved", "stopped", "failed"};
    return state >= 0 && state <= POP_FAILED ? names[state] : "unknown";
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int rnd(pop_t *p, int n)
{
    return n <= 1 ? 0 : (int)(splitmix(&p->rng) % (uint64_t)n);
}

uint64_t pop_derive_seed(const char *pop, uint32_t deme, uint64_t dseq)
{
    uint8_t h[8], buf[12];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const uint8_t *)"petri-seed-v1", 13);
    crypto_generichash_update(&st, (const uint8_t *)pop, strlen(pop) + 1);
    for (int i = 0; i < 4; i++)
        buf[i] = (uint8_t)(deme >> (24 - 8 * i));
    for (int i = 0; i < 8; i++)
        buf[4 + i] = (uint8_t)(dseq >> (56 - 8 * i));
    crypto_generichash_update(&st, buf, sizeof buf);
    crypto_generichash_final(&st, h, sizeof h);
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | h[i];
    return x >> 1; /* non-negative as an i64, as the CLI and JSON show it */
}

/* ---- spec parsing ---- */

static int get_int(json_t *o, const char *key, const char *where, int64_t min, int64_t max,
                   int64_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return fail(err, errlen, "%s%s: must be an integer in [%lld, %lld]", where, key,
                    (long long)min, (long long)max);
    *out = json_integer_value(v);
    return 0;
}

static int only_keys(json_t *o, const char *where, const char *const *keys, char *err,
                     size_t errlen)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        int ok = 0;
        for (const char *const *a = keys; *a && !ok; a++)
            ok = strcmp(*a, k) == 0;
        if (!ok)
            return fail(err, errlen, "%s%s: unknown key", where, k);
    }
    return 0;
}

static int parse_pop_fields(pop_t *p, json_t *s, char *err, size_t errlen)
{
    json_t *name = json_object_get(s, "name");
    if (!name || !json_is_string(name))
        return fail(err, errlen, "name: missing or not a string");
    const char *n = json_string_value(name);
    size_t len = strlen(n);
    if (len == 0 || len > 48)
        return fail(err, errlen, "name: must be 1..48 characters");
    for (const char *c = n; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
            return fail(err, errlen, "name: '%s' may only hold a-z, 0-9, _ and -", n);
    memcpy(p->name, n, len + 1);
    int64_t size = 200, demes = 4, tour = 4, elit = 2;
    int rc;
    if ((rc = get_int(s, "size", "", 4, 1000000, &size, err, errlen)) ||
        (rc = get_int(s, "demes", "", 1, 256, &demes, err, errlen)) ||
        (rc = get_int(s, "elitism", "", 0, 1000, &elit, err, errlen)))
        return rc;
    if (size / demes < 4)
        return fail(err, errlen, "size: %lld over %lld demes leaves fewer than 4 per deme",
                    (long long)size, (long long)demes);
    json_t *sel = json_object_get(s, "selection");
    if (sel) {
        static const char *const k[] = {"tournament", NULL};
        if (!json_is_object(sel))
            return fail(err, errlen, "selection: must be an object like {\"tournament\": 4}");
        if ((rc = only_keys(sel, "selection.", k, err, errlen)) ||
            (rc = get_int(sel, "tournament", "selection.", 2, 64, &tour, err, errlen)))
            return rc;
    }
    if (elit >= size / demes)
        return fail(err, errlen, "elitism: %lld is not smaller than a deme (%lld)", (long long)elit,
                    (long long)(size / demes));
    p->size = (int)size;
    p->ndemes = (int)demes;
    p->tournament = (int)tour;
    p->elitism = (int)elit;
    memcpy(p->rates, default_rates, sizeof p->rates);
    json_t *ops = json_object_get(s, "operators");
    if (ops) {
        if (!json_is_object(ops) || json_object_size(ops) == 0)
            return fail(err, errlen, "operators: must be an object of operator: rate");
        double sum = 0;
        double r[POP_OPS] = {0};
        const char *k;
        json_t *v;
        json_object_foreach(ops, k, v)
        {
            int i;
            for (i = 0; i < POP_OPS && strcmp(pop_op_names[i], k) != 0; i++)
                ;
            if (i == POP_OPS)
                return fail(err, errlen,
                            "operators.%s: unknown operator (known: crossover, "
                            "subtree, point, swap, hoist, shrink)",
                            k);
            if (!json_is_number(v) || json_number_value(v) < 0 || !isfinite(json_number_value(v)))
                return fail(err, errlen, "operators.%s: must be a rate >= 0", k);
            r[i] = json_number_value(v);
            sum += r[i];
        }
        if (!(sum > 0))
            return fail(err, errlen, "operators: the rates add up to 0");
        for (int i = 0; i < POP_OPS; i++)
            p->rates[i] = r[i] / sum;
    }
    json_t *mig = json_object_get(s, "migration");
    p->migration_interval = 200;
    p->migration_count = 1;
    if (mig) {
        static const char *const k[] = {"interval", "count", NULL};
        int64_t iv = 200, cnt = 1;
        if (!json_is_object(mig))
            return fail(err, errlen, "migration: must be an object like {\"interval\": 200}");
        if ((rc = only_keys(mig, "migration.", k, err, errlen)) ||
            (rc = get_int(mig, "interval", "migration.", 0, 1LL << 40, &iv, err, errlen)) ||
            (rc = get_int(mig, "count", "migration.", 1, 1000, &cnt, err, errlen)))
            return rc;
        p->migration_interval = (uint64_t)iv;
        p->migration_count = (int)cnt;
    }
    json_t *stop = json_object_get(s, "stop");
    p->has_target = 1;
    p->target_fitness = 0;
    p->max_evaluations = 0;
    if (stop) {
        static const char *const k[] = {"target_fitness", "max_evaluations", NULL};
        if (!json_is_object(stop))
            return fail(err, errlen, "stop: must be an object");
        if ((rc = only_keys(stop, "stop.", k, err, errlen)))
            return rc;
        json_t *t = json_object_get(stop, "target_fitness");
        if (t && !json_is_null(t)) {
            if (!json_is_number(t) || json_number_value(t) < 0)
                return fail(err, errlen, "stop.target_fitness: must be a number >= 0");
            p->target_fitness = json_number_value(t);
        } else if (t) {
            p->has_target = 0;
        }
        int64_t me = 0;
        if ((rc = get_int(stop, "max_evaluations", "stop.", 0, 1LL << 50, &me, err, errlen)))
            return rc;
        p->max_evaluations = (uint64_t)me;
    }
    json_t *seeds = json_object_get(s, "seeds");
    if (seeds) {
        if (!json_is_array(seeds) || json_array_size(seeds) > 1000)
            return fail(err, errlen, "seeds: must be a list of genome sources (at most 1000)");
        size_t i;
        json_t *v;
        json_array_foreach(seeds, i, v)
        {
            if (!json_is_string(v) || json_string_length(v) == 0)
                return fail(err, errlen, "seeds[%zu]: must be a non-empty source string", i);
        }
        p->seeds = json_incref(seeds);
    }
    return 0;
}

pop_t *pop_new(json_t *spec, uint64_t now_ms, char *err, size_t errlen)
{
    if (!json_is_object(spec)) {
        fail(err, errlen, "spec: must be a JSON object");
        return NULL;
    }
    pop_t *p = calloc(1, sizeof *p);
    if (!p) {
        fail(err, errlen, "out of memory");
        return NULL;
    }
    wire_buf_init(&p->spec_wire);
    if (parse_pop_fields(p, spec, err, errlen) != 0 ||
        spec_from_json(spec, pop_keys, &p->spec, err, errlen) != 0) {
        pop_destroy(&p);
        return NULL;
    }
    spec_encode(p->spec, -1, &p->spec_wire);
    p->spec_json = json_incref(spec);
    p->demes = calloc((size_t)p->ndemes, sizeof *p->demes);
    if (!p->demes || p->spec_wire.err) {
        fail(err, errlen, "out of memory");
        pop_destroy(&p);
        return NULL;
    }
    int per = p->size / p->ndemes;
    size_t nseeds = p->seeds ? json_array_size(p->seeds) : 0;
    for (int d = 0; d < p->ndemes; d++) {
        deme_t *dm = &p->demes[d];
        dm->cap = per;
        dm->m = calloc((size_t)per, sizeof *dm->m);
        dm->next_dseq = 1;
        dm->reserved_dseq = 0;
        /* seeds are dealt round-robin over the demes */
        dm->seeds_left =
            (int)(nseeds / (size_t)p->ndemes + ((size_t)d < nseeds % (size_t)p->ndemes));
        if (!dm->m) {
            fail(err, errlen, "out of memory");
            pop_destroy(&p);
            return NULL;
        }
    }
    p->state = POP_RUNNING;
    p->started_ms = now_ms;
    p->best.fitness = INFINITY;
    p->rng = now_ms ^ (uint64_t)(uintptr_t)p;
    p->dirty = 1;
    return p;
}

static void member_free(member_t *m)
{
    free(m->src);
    m->src = NULL;
}

void pop_destroy(pop_t **pp)
{
    if (!pp || !*pp)
        return;
    pop_t *p = *pp;
    for (int d = 0; p->demes && d < p->ndemes; d++) {
        for (int i = 0; i < p->demes[d].n; i++)
            member_free(&p->demes[d].m[i]);
        free(p->demes[d].m);
    }
    free(p->demes);
    member_free(&p->best);
    spec_destroy(&p->spec);
    wire_buf_free(&p->spec_wire);
    json_decref(p->spec_json);
    json_decref(p->seeds);
    free(p);
    *pp = NULL;
}

/* ---- work items ---- */

void work_item_clear(work_item_t *it)
{
    free(it->parent_src[0]);
    free(it->parent_src[1]);
    free(it->src);
    memset(it, 0, sizeof *it);
}

static char *dupmem(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

int work_item_copy(work_item_t *dst, const work_item_t *src)
{
    *dst = *src;
    dst->parent_src[0] = dst->parent_src[1] = dst->src = NULL;
    for (int i = 0; i < src->nparents; i++)
        if (!(dst->parent_src[i] = dupmem(src->parent_src[i], src->parent_len[i])))
            goto oom;
    if (src->src && !(dst->src = dupmem(src->src, src->src_len)))
        goto oom;
    return 0;
oom:
    work_item_clear(dst);
    return -ENOMEM;
}

static int tournament(pop_t *p, deme_t *dm)
{
    int best = rnd(p, dm->n);
    for (int k = 1; k < p->tournament; k++) {
        int c = rnd(p, dm->n);
        if (dm->m[c].fitness < dm->m[best].fitness)
            best = c;
    }
    return best;
}

static const char *pick_op(pop_t *p)
{
    double r = (double)(splitmix(&p->rng) >> 11) / 9007199254740992.0, acc = 0;
    for (int i = 0; i < POP_OPS; i++) {
        acc += p->rates[i];
        if (r < acc)
            return pop_op_names[i];
    }
    return pop_op_names[0];
}

int pop_reserve(pop_t *p, uint32_t d)
{
    if (d >= (uint32_t)p->ndemes || p->demes[d].next_dseq <= p->demes[d].reserved_dseq)
        return 0;
    p->demes[d].reserved_dseq = p->demes[d].next_dseq + POP_DSEQ_RESERVE - 1;
    p->dirty = 1;
    return 1;
}

int pop_next_item(pop_t *p, uint32_t d, int max_inflight, work_item_t *it)
{
    memset(it, 0, sizeof *it);
    it->language = -1;
    if (p->state != POP_RUNNING || d >= (uint32_t)p->ndemes)
        return ERR_STATE;
    deme_t *dm = &p->demes[d];
    int filling = dm->n < dm->cap;
    /* while filling, work in parallel up to the gap; then keep selection
     * pressure: at most a quarter of the deme in flight */
    int limit = filling ? dm->cap - dm->n : dm->cap / 4;
    if (limit < 1)
        limit = 1;
    if (limit > max_inflight)
        limit = max_inflight;
    if (dm->inflight >= limit)
        return ERR_STATE;
    if (p->max_evaluations && p->evaluations + (uint64_t)dm->inflight >= p->max_evaluations)
        return ERR_STATE;
    if (dm->next_dseq > dm->reserved_dseq)
        return ERR_STATE; /* pop_reserve and persist first */
    snprintf(it->pop, sizeof it->pop, "%s", p->name);
    it->deme = d;
    it->dseq = dm->next_dseq++;
    it->seed = pop_derive_seed(p->name, d, it->dseq);
    if (filling && dm->seeds_left > 0) {
        /* the k-th seed of this deme is seeds[d + k*ndemes] */
        size_t nseeds = json_array_size(p->seeds);
        size_t per = nseeds / (size_t)p->ndemes + (d < nseeds % (size_t)p->ndemes);
        size_t k = per - (size_t)dm->seeds_left;
        json_t *s = json_array_get(p->seeds, d + k * (size_t)p->ndemes);
        dm->seeds_left--;
        it->kind = ITEM_EVAL;
        snprintf(it->op, sizeof it->op, "seed");
        it->src_len = json_string_length(s);
        it->src = dupmem(json_string_value(s), it->src_len);
    } else if (filling || dm->n < 2) {
        it->kind = ITEM_BREED;
        snprintf(it->op, sizeof it->op, "random");
    } else {
        const char *op = pick_op(p);
        it->kind = ITEM_BREED;
        snprintf(it->op, sizeof it->op, "%s", op);
        it->nparents = strcmp(op, "crossover") == 0 ? 2 : 1;
        for (int i = 0; i < it->nparents; i++) {
            member_t *m = &dm->m[tournament(p, dm)];
            memcpy(it->parent_hash[i], m->hash, CRYPTO_HASH_LEN);
            it->parent_src[i] = dupmem(m->src, m->len);
            it->parent_len[i] = m->len;
            if (!it->parent_src[i]) {
                work_item_clear(it);
                return -ENOMEM;
            }
        }
    }
    dm->inflight++;
    p->dirty = 1;
    return 0;
}

uint32_t pop_submit_deme(const pop_t *p, const char *src, size_t len)
{
    uint8_t h[CRYPTO_HASH_LEN];
    crypto_hash(src, len, h);
    return (uint32_t)(((uint32_t)h[0] << 8 | h[1]) % (uint32_t)p->ndemes);
}

int pop_submit_item(pop_t *p, uint32_t d, const char *src, size_t len, int language,
                    work_item_t *it)
{
    memset(it, 0, sizeof *it);
    if (p->state != POP_RUNNING || d >= (uint32_t)p->ndemes)
        return ERR_STATE;
    deme_t *dm = &p->demes[d];
    if (dm->next_dseq > dm->reserved_dseq)
        return ERR_STATE;
    snprintf(it->pop, sizeof it->pop, "%s", p->name);
    it->deme = d;
    it->dseq = dm->next_dseq++;
    it->seed = pop_derive_seed(p->name, d, it->dseq);
    it->kind = ITEM_EVAL;
    it->language = language;
    snprintf(it->op, sizeof it->op, "submitted");
    it->src = dupmem(src, len);
    it->src_len = len;
    if (!it->src)
        return -ENOMEM;
    dm->inflight++;
    p->dirty = 1;
    return 0;
}

void pop_item_lost(pop_t *p, const work_item_t *it)
{
    (void)p;
    (void)it; /* the item stays in flight: the coordinator re-issues it as is */
}

/* The worst of `tournament` random members that is not an elite, or -1. */
static int replace_target(pop_t *p, deme_t *dm)
{
    int elite[64], ne = p->elitism < 64 ? p->elitism : 64;
    for (int e = 0; e < ne; e++) {
        int bi = -1;
        for (int i = 0; i < dm->n; i++) {
            int taken = 0;
            for (int k = 0; k < e; k++)
                taken |= elite[k] == i;
            if (!taken && (bi < 0 || dm->m[i].fitness < dm->m[bi].fitness))
                bi = i;
        }
        elite[e] = bi;
    }
    int loser = -1;
    for (int k = 0; k < p->tournament; k++) {
        int c = rnd(p, dm->n), is_elite = 0;
        for (int e = 0; e < ne; e++)
            is_elite |= elite[e] == c;
        if (!is_elite && (loser < 0 || dm->m[c].fitness > dm->m[loser].fitness))
            loser = c;
    }
    return loser;
}

static void migrate(pop_t *p, uint32_t from)
{
    if (p->ndemes < 2)
        return;
    deme_t *src = &p->demes[from], *dst = &p->demes[(from + 1) % (uint32_t)p->ndemes];
    if (dst->n < dst->cap || src->n == 0)
        return;
    for (int c = 0; c < p->migration_count && c < src->n; c++) {
        /* the c-th best of src replaces the worst of dst */
        int b = 0;
        for (int i = 1; i < src->n; i++)
            if (src->m[i].fitness < src->m[b].fitness)
                b = i;
        int w = 0;
        for (int i = 1; i < dst->n; i++)
            if (dst->m[i].fitness > dst->m[w].fitness)
                w = i;
        if (!(src->m[b].fitness < dst->m[w].fitness))
            return;
        char *copy = dupmem(src->m[b].src, src->m[b].len);
        if (!copy)
            return;
        member_free(&dst->m[w]);
        dst->m[w] = src->m[b];
        dst->m[w].src = copy;
    }
}

static void finish(pop_t *p, int state, const char *why, uint64_t now_ms)
{
    if (p->state != POP_RUNNING)
        return;
    p->state = state;
    p->finished_ms = now_ms;
    snprintf(p->state_reason, sizeof p->state_reason, "%s", why);
    p->dirty = 1;
    log_info("pop.finished", "population=%s state=%s evaluations=%llu best=%g why=\"%s\"", p->name,
             pop_state_str(state), (unsigned long long)p->evaluations, p->best.fitness, why);
}

void pop_result(pop_t *p, const work_item_t *it, int status, double fitness,
                const uint8_t child_hash[CRYPTO_HASH_LEN], const char *child, size_t child_len,
                uint64_t now_ms)
{
    if (it->deme >= (uint32_t)p->ndemes)
        return;
    deme_t *dm = &p->demes[it->deme];
    if (dm->inflight > 0)
        dm->inflight--;
    p->evaluations++;
    dm->evals++;
    dm->since_migration++;
    p->dirty = 1;
    int ok = status == WIRE_ST_OK && isfinite(fitness) && child && child_len > 0;
    if (ok) {
        p->ok_evaluations++;
        dm->failures_in_row = 0;
        int slot = -1;
        if (dm->n < dm->cap) {
            slot = dm->n++;
            dm->m[slot].src = NULL;
        } else {
            int t = replace_target(p, dm);
            if (t >= 0 && fitness <= dm->m[t].fitness)
                slot = t;
        }
        if (slot >= 0) {
            char *copy = dupmem(child, child_len);
            if (copy) {
                member_free(&dm->m[slot]);
                memcpy(dm->m[slot].hash, child_hash, CRYPTO_HASH_LEN);
                dm->m[slot].src = copy;
                dm->m[slot].len = child_len;
                dm->m[slot].fitness = fitness;
            } else if (slot == dm->n - 1 && !dm->m[slot].src) {
                dm->n--;
            }
        }
        if (fitness < p->best.fitness) {
            char *copy = dupmem(child, child_len);
            if (copy) {
                member_free(&p->best);
                memcpy(p->best.hash, child_hash, CRYPTO_HASH_LEN);
                p->best.src = copy;
                p->best.len = child_len;
                p->best.fitness = fitness;
            }
        }
    } else if (dm->n < dm->cap && ++dm->failures_in_row >= FILL_FAILURES_MAX) {
        finish(p, POP_FAILED, "no random genome of this spec could be scored", now_ms);
        return;
    }
    if (p->migration_interval && dm->since_migration >= p->migration_interval) {
        dm->since_migration = 0;
        migrate(p, it->deme);
    }
    if (p->has_target && p->best.fitness <= p->target_fitness) {
        char why[96];
        snprintf(why, sizeof why, "fitness %g reached the target %g", p->best.fitness,
                 p->target_fitness);
        finish(p, POP_SOLVED, why, now_ms);
    } else if (p->max_evaluations && p->evaluations >= p->max_evaluations) {
        finish(p, POP_STOPPED, "evaluation budget spent", now_ms);
    }
}

void pop_stop(pop_t *p, const char *why, uint64_t now_ms)
{
    finish(p, POP_STOPPED, why, now_ms);
}

double pop_mean_fitness(const pop_t *p)
{
    double sum = 0;
    int n = 0;
    for (int d = 0; d < p->ndemes; d++)
        for (int i = 0; i < p->demes[d].n; i++) {
            sum += p->demes[d].m[i].fitness;
            n++;
        }
    return n ? sum / n : NAN;
}

void pop_sample(pop_t *p, uint64_t now_ms)
{
    pop_sample_t *s = &p->history[p->hist_pos];
    s->t_ms = now_ms;
    s->evaluations = p->evaluations;
    s->best = p->best.fitness;
    s->mean = pop_mean_fitness(p);
    p->hist_pos = (p->hist_pos + 1) % POP_HISTORY;
    if (p->hist_n < POP_HISTORY)
        p->hist_n++;
}

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

json_t *pop_detail_json(const pop_t *p, uint64_t now_ms)
{
    json_t *o = pop_summary_json(p, now_ms);
    json_object_set_new(json_object_get(o, "best"), "source",
                        p->best.src ? json_stringn(p->best.src, p->best.len) : json_null());
    json_object_set_new(o, "mean_fitness", num_or_null(pop_mean_fitness(p)));
    json_object_set_new(o, "reason", json_string(p->state_reason));
    json_object_set_new(o, "started_ms", json_integer((json_int_t)p->started_ms));
    /* distribution: 10 bins between min and max fitness of live members */
    double mn = INFINITY, mx = -INFINITY;
    for (int d = 0; d < p->ndemes; d++)
        for (int i = 0; i < p->demes[d].n; i++) {
            double f = p->demes[d].m[i].fitness;
            mn = f < mn ? f : mn;
            mx = f > mx ? f : mx;
        }
    json_t *counts = json_array();
    int bins[10] = {0};
    for (int d = 0; d < p->ndemes; d++)
        for (int i = 0; i < p->demes[d].n; i++) {
            double f = p->demes[d].m[i].fitness;
            int b = mx > mn ? (int)((f - mn) / (mx - mn) * 10) : 0;
            bins[b > 9 ? 9 : b]++;
        }
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
        json_array_append_new(demes, json_pack("{s:i, s:i, s:i, s:I, s:o}", "index", d, "size",
                                               dm->n, "inflight", dm->inflight, "evaluations",
                                               (json_int_t)dm->evals, "best", num_or_null(b)));
    }
    json_object_set_new(o, "demes", demes);
    return o;
}

json_t *pop_to_json(pop_t *p)
{
    json_t *demes = json_array();
    char hex[2 * CRYPTO_HASH_LEN + 1];
    for (int d = 0; d < p->ndemes; d++) {
        deme_t *dm = &p->demes[d];
        json_t *mem = json_array();
        for (int i = 0; i < dm->n; i++) {
            crypto_hex(dm->m[i].hash, CRYPTO_HASH_LEN, hex);
            json_array_append_new(mem, json_pack("[s, f]", hex, dm->m[i].fitness));
        }
        json_array_append_new(demes, json_pack("{s:o, s:I, s:I, s:I, s:i}", "members", mem,
                                               "next_dseq", (json_int_t)(dm->reserved_dseq + 1),
                                               "evals", (json_int_t)dm->evals, "since_migration",
                                               (json_int_t)dm->since_migration, "seeds_left",
                                               dm->seeds_left));
    }
    json_t *best = json_null();
    if (p->best.src) {
        crypto_hex(p->best.hash, CRYPTO_HASH_LEN, hex);
        best = json_pack("[s, f]", hex, p->best.fitness);
    }
    p->dirty = 0;
    /* next_dseq is saved as the reserved mark: after a restart no dseq that
     * may already have been issued is issued again */
    return json_pack("{s:O, s:i, s:s, s:I, s:I, s:I, s:I, s:o, s:o}", "spec", p->spec_json, "state",
                     p->state, "reason", p->state_reason, "evaluations", (json_int_t)p->evaluations,
                     "ok_evaluations", (json_int_t)p->ok_evaluations, "started_ms",
                     (json_int_t)p->started_ms, "finished_ms", (json_int_t)p->finished_ms, "best",
                     best, "demes", demes);
}

static int load_member(member_t *m, json_t *pair, pop_lookup_fn lookup, void *arg)
{
    const char *hex = json_string_value(json_array_get(pair, 0));
    json_t *f = json_array_get(pair, 1);
    if (!hex || !json_is_number(f) || crypto_unhex(hex, m->hash, CRYPTO_HASH_LEN) != 0)
        return ERR_PROTO;
    m->fitness = json_number_value(f);
    m->src = lookup(arg, m->hash, &m->len);
    return m->src ? 0 : ERR_NOTFOUND;
}

pop_t *pop_from_json(json_t *state, pop_lookup_fn lookup, void *arg, char *err, size_t errlen)
{
    pop_t *p = pop_new(json_object_get(state, "spec"), 0, err, errlen);
    if (!p)
        return NULL;
    json_t *demes = json_object_get(state, "demes");
    if (!json_is_array(demes) || json_array_size(demes) != (size_t)p->ndemes) {
        fail(err, errlen, "%s: saved demes do not match the spec", p->name);
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
    }
    if (p->restore_dropped)
        log_warn("pop.restore_dropped",
                 "population=%s members=%llu why=\"their genomes are not in the store\"", p->name,
                 (unsigned long long)p->restore_dropped);
    p->dirty = 1;
    return p;
}
