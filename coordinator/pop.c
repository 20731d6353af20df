/* pop.c - a population's demes, selection, replacement and stop rules. */
#include "pop.h"

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

#define FILL_FAILURES_MAX 2000 /* random genomes that all fail: the spec is broken */

static const char *const pop_keys[] = {"name",      "size",        "demes",     "selection",
                                       "operators", "elitism",     "migration", "stop",
                                       "seeds",     "replacement", "archive",   NULL};

const char *pop_state_str(int state)
{
    static const char *const names[] = {"running", "solved", "stopped", "failed"};
    return state >= 0 && state <= POP_FAILED ? names[state] : "unknown";
}

static int rnd(pop_t *p, int n)
{
    return n <= 1 ? 0 : (int)(pop_rng_next(&p->rng) % (uint64_t)n);
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

pop_t *pop_new(json_t *spec, uint64_t now_ms, char *err, size_t errlen)
{
    if (!json_is_object(spec)) {
        err_spec(err, errlen, "spec: must be a JSON object");
        return NULL;
    }
    pop_t *p = calloc(1, sizeof *p);
    if (!p) {
        err_spec(err, errlen, "out of memory");
        return NULL;
    }
    wire_buf_init(&p->spec_wire);
    if (pop_parse_fields(p, spec, err, errlen) != 0 ||
        spec_from_json(spec, pop_keys, &p->spec, err, errlen) != 0) {
        pop_destroy(&p);
        return NULL;
    }
    if (p->selection == POP_SEL_LEXICASE) {
        if (p->spec->nerrors > p->lex_max_cases) {
            err_spec(err, errlen,
                     "selection.lexicase: %zu per-case errors x %d members exceed %u bytes; use "
                     "fewer cases or members, or tournament selection",
                     p->spec->nerrors, p->size, POP_LEX_MAX_BYTES);
            pop_destroy(&p);
            return NULL;
        }
        p->spec->per_case = 1; /* the agents return each case's error */
    }
    json_t *arch = json_object_get(spec, "archive");
    if (arch && p->selection == POP_SEL_LEXICASE) {
        err_spec(err, errlen, "archive: draws parents from its cells; drop selection.lexicase");
        pop_destroy(&p);
        return NULL;
    }
    if (arch && json_object_get(spec, "replacement")) {
        err_spec(err, errlen, "replacement: does not apply with an archive (its cells replace)");
        pop_destroy(&p);
        return NULL;
    }
    if (pop_archive_parse(p, arch, err, errlen) != 0) {
        pop_destroy(&p);
        return NULL;
    }
    spec_encode(p->spec, -1, &p->spec_wire);
    p->spec_json = json_incref(spec);
    p->demes = calloc((size_t)p->ndemes, sizeof *p->demes);
    if (!p->demes || p->spec_wire.err) {
        err_spec(err, errlen, "out of memory");
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
        dm->rng = pop_derive_seed(p->name, (uint32_t)d, 0); /* dseq 0 names no derivation */
        /* seeds are dealt round-robin over the demes */
        dm->seeds_left =
            (int)(nseeds / (size_t)p->ndemes + ((size_t)d < nseeds % (size_t)p->ndemes));
        if (!dm->m) {
            err_spec(err, errlen, "out of memory");
            pop_destroy(&p);
            return NULL;
        }
    }
    p->state = POP_RUNNING;
    p->started_ms = now_ms;
    p->best.fitness = INFINITY;
    /* seeded from the name like the demes' (pop.h invariant 5): a run
     * replays the same choices for the same results */
    p->rng = pop_derive_seed(p->name, UINT32_MAX, 0);
    p->dirty = 1;
    return p;
}

void pop_member_free(member_t *m)
{
    free(m->src);
    m->src = NULL;
    free(m->errors);
    m->errors = NULL;
    m->nerrors = 0;
}

/* < 0 if (fa, ca) is better than (fb, cb), > 0 if worse, 0 if as good:
 * lower fitness, then lower cost when the cost mode is lexicographic. */
int pop_cmp_score(const pop_t *p, double fa, double ca, double fb, double cb)
{
    if (fa < fb)
        return -1;
    if (fa > fb)
        return 1;
    if (!p->cost_lex)
        return 0;
    ca = isnan(ca) ? INFINITY : ca;
    cb = isnan(cb) ? INFINITY : cb;
    return (ca > cb) - (ca < cb);
}

static int cmp_score(const pop_t *p, double fa, double ca, double fb, double cb)
{
    return pop_cmp_score(p, fa, ca, fb, cb);
}

static int cmp_member(const pop_t *p, const member_t *a, const member_t *b)
{
    return cmp_score(p, a->fitness, a->cost, b->fitness, b->cost);
}

void pop_destroy(pop_t **pp)
{
    if (!pp || !*pp)
        return;
    pop_t *p = *pp;
    for (int d = 0; p->demes && d < p->ndemes; d++) {
        for (int i = 0; i < p->demes[d].n; i++)
            pop_member_free(&p->demes[d].m[i]);
        free(p->demes[d].m);
    }
    free(p->demes);
    pop_archive_destroy(&p->archive);
    pop_member_free(&p->best);
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
        if (cmp_member(p, &dm->m[c], &dm->m[best]) < 0)
            best = c;
    }
    return best;
}

/* A parent from deme dm by the population's selection. */
static int select_parent(pop_t *p, deme_t *dm)
{
    if (p->selection != POP_SEL_LEXICASE)
        return tournament(p, dm);
    const double **errors = malloc((size_t)dm->n * sizeof *errors);
    uint32_t *nerrors = malloc((size_t)dm->n * sizeof *nerrors);
    size_t *sizes = p->lex_size_tiebreak ? malloc((size_t)dm->n * sizeof *sizes) : NULL;
    int pick = -ENOMEM;
    if (errors && nerrors && (sizes || !p->lex_size_tiebreak)) {
        for (int i = 0; i < dm->n; i++) {
            errors[i] = dm->m[i].errors;
            nerrors[i] = dm->m[i].nerrors;
            if (sizes)
                sizes[i] = dm->m[i].len;
        }
        pick = pop_lexicase(errors, nerrors, sizes, dm->n, p->lex_epsilon, p->lex_downsample,
                            &dm->rng);
    }
    free(errors);
    free(nerrors);
    free(sizes);
    return pick >= 0 ? pick : tournament(p, dm); /* out of memory: still a parent */
}

static const char *pick_op(pop_t *p)
{
    double r = (double)(pop_rng_next(&p->rng) >> 11) / 9007199254740992.0, acc = 0;
    for (int i = 0; i < POP_OPS; i++) {
        acc += p->rates[i];
        if (r < acc)
            return ops_names[i];
    }
    return ops_names[0];
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
    /* with an archive a deme fills by issuing its share of random genomes
     * (pop.h invariant 8); dseq counts what it issued */
    int filling =
        p->archive ? dm->next_dseq <= (uint64_t)dm->cap || p->archive->nocc < 2 : dm->n < dm->cap;
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
    } else if (filling || (!p->archive && dm->n < 2)) {
        it->kind = ITEM_BREED;
        snprintf(it->op, sizeof it->op, "random");
    } else {
        const char *op = pick_op(p);
        it->kind = ITEM_BREED;
        snprintf(it->op, sizeof it->op, "%s", op);
        it->nparents = ops_parents(op);
        for (int i = 0; i < it->nparents; i++) {
            const member_t *m = p->archive ? pop_archive_pick(p) : &dm->m[select_parent(p, dm)];
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

int pop_submit_external(pop_t *p, uint32_t d, const char *src, size_t len, int language,
                        const pop_origin_t *o, work_item_t *it)
{
    int rc = pop_submit_item(p, d, src, len, language, it);
    if (rc)
        return rc;
    snprintf(it->op, sizeof it->op, "external");
    it->ext_nparents = o->nparents < 0 ? 0 : o->nparents > 2 ? 2 : o->nparents;
    memcpy(it->ext_parents, o->parents, sizeof it->ext_parents);
    snprintf(it->mutator, sizeof it->mutator, "%s", o->mutator ? o->mutator : "");
    memcpy(it->input_hash, o->input_hash, CRYPTO_HASH_LEN);
    return 0;
}

int pop_has_member(const pop_t *p, const uint8_t hash[CRYPTO_HASH_LEN])
{
    for (int d = 0; d < p->ndemes; d++)
        for (int i = 0; i < p->demes[d].n; i++)
            if (memcmp(p->demes[d].m[i].hash, hash, CRYPTO_HASH_LEN) == 0)
                return 1;
    return 0;
}

static int taken_hash(const deme_t *dm, const int *out, int n, int i)
{
    for (int k = 0; k < n; k++)
        if (out[k] == i || memcmp(dm->m[out[k]].hash, dm->m[i].hash, CRYPTO_HASH_LEN) == 0)
            return 1;
    return 0;
}

static int taken_fitness(const deme_t *dm, const int *out, int n, int i)
{
    for (int k = 0; k < n; k++)
        if (dm->m[out[k]].fitness == dm->m[i].fitness)
            return 1;
    return 0;
}

int pop_sample_members(const pop_t *p, uint32_t d, int k, uint64_t *rng, int *out)
{
    if (d >= (uint32_t)p->ndemes || k < 1 || k > 64 || p->demes[d].n == 0)
        return 0;
    const deme_t *dm = &p->demes[d];
    int n = 0, best = 0;
    for (int i = 1; i < dm->n; i++)
        if (cmp_member(p, &dm->m[i], &dm->m[best]) < 0)
            best = i;
    out[n++] = best;
    /* two passes over a random order: new fitness values, then new hashes */
    int *order = malloc((size_t)dm->n * sizeof *order);
    if (!order)
        return n;
    for (int i = 0; i < dm->n; i++)
        order[i] = i;
    for (int i = dm->n - 1; i > 0; i--) {
        int j = (int)(pop_rng_next(rng) % (uint64_t)(i + 1));
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int pass = 0; pass < 2; pass++)
        for (int x = 0; x < dm->n && n < k; x++) {
            int i = order[x];
            if (!taken_hash(dm, out, n, i) && (pass == 1 || !taken_fitness(dm, out, n, i)))
                out[n++] = i;
        }
    free(order);
    return n;
}

int pop_item_lost(pop_t *p, work_item_t *it, uint64_t now_ms)
{
    if (++it->lost < POP_LOST_MAX)
        return 1; /* the item stays in flight: the coordinator re-issues it as is */
    static const uint8_t none[CRYPTO_HASH_LEN];
    pop_result(p, it, WIRE_ST_VM_KILLED, NAN, none, NULL, 0, now_ms);
    return 0;
}

/* The migration_count best members of a deme, best first, replace the worst
 * of the next deme, each while it is better than the worst there; under
 * niche replacement a migrant the next deme holds already is skipped. */
static void migrate(pop_t *p, uint32_t from)
{
    if (p->ndemes < 2)
        return;
    deme_t *src = &p->demes[from], *dst = &p->demes[(from + 1) % (uint32_t)p->ndemes];
    if (dst->n < dst->cap || src->n == 0)
        return;
    unsigned char *sent = calloc((size_t)src->n, 1);
    if (!sent)
        return;
    for (int tried = 0, moved = 0; moved < p->migration_count && tried < src->n; tried++) {
        int b = -1; /* the best of src not tried yet */
        for (int i = 0; i < src->n; i++)
            if (!sent[i] && (b < 0 || cmp_member(p, &src->m[i], &src->m[b]) < 0))
                b = i;
        sent[b] = 1;
        int w = 0;
        for (int i = 1; i < dst->n; i++)
            if (cmp_member(p, &dst->m[i], &dst->m[w]) > 0)
                w = i;
        if (cmp_member(p, &src->m[b], &dst->m[w]) >= 0)
            break;
        int held = 0;
        if (p->replacement == POP_REPL_NICHE) /* no clone by migration either */
            for (int i = 0; i < dst->n && !held; i++)
                held = memcmp(dst->m[i].hash, src->m[b].hash, CRYPTO_HASH_LEN) == 0;
        if (held)
            continue;
        char *copy = dupmem(src->m[b].src, src->m[b].len);
        double *errs = NULL;
        if (src->m[b].nerrors && (errs = malloc(src->m[b].nerrors * sizeof *errs)) != NULL)
            memcpy(errs, src->m[b].errors, src->m[b].nerrors * sizeof *errs);
        if (!copy || (src->m[b].nerrors && !errs)) {
            free(copy);
            free(errs);
            break;
        }
        pop_member_free(&dst->m[w]);
        dst->m[w] = src->m[b];
        dst->m[w].src = copy;
        dst->m[w].errors = errs;
        moved++;
    }
    free(sent);
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
    pop_outcome_t o = {.status = status, .fitness = fitness};
    pop_result_ext(p, it, &o, child_hash, child, child_len, now_ms);
}

/* The copy of o's errors a member keeps: NULL unless lexicase wants them
 * (and they fit, pop.h invariant 6). *ok = 0 when out of memory. */
static double *keep_errors(pop_t *p, const pop_outcome_t *o, uint32_t *n, int *ok)
{
    *n = 0;
    *ok = 1;
    if (p->selection != POP_SEL_LEXICASE || !o->errors || o->nerrors == 0)
        return NULL;
    if (p->spec->nerrors && o->nerrors != p->spec->nerrors) {
        /* not the spec's count (an agent or VM out of step): its vector
         * would line up with no other member's */
        if (p->lex_mismatched++ == 0)
            log_warn("pop.errors_mismatch",
                     "population=%s errors=%zu want=%zu msg=\"per-case errors of another "
                     "count than the spec gives are not kept; such members lose every lexicase "
                     "case\"",
                     p->name, o->nerrors, p->spec->nerrors);
        return NULL;
    }
    if (o->nerrors > p->lex_max_cases) {
        if (p->lex_dropped++ == 0)
            log_warn("pop.errors_dropped",
                     "population=%s cases=%zu max=%u msg=\"per-case errors over the memory "
                     "bound are not kept; such members lose every lexicase case\"",
                     p->name, o->nerrors, p->lex_max_cases);
        return NULL;
    }
    double *e = malloc(o->nerrors * sizeof *e);
    if (!e) {
        *ok = 0;
        return NULL;
    }
    memcpy(e, o->errors, o->nerrors * sizeof *e);
    *n = (uint32_t)o->nerrors;
    return e;
}

void pop_result_ext(pop_t *p, const work_item_t *it, const pop_outcome_t *o,
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
    double fitness = o->fitness, cost = o->cost;
    int ok = o->status == WIRE_ST_OK && isfinite(fitness) && child && child_len > 0;
    if (ok) {
        p->ok_evaluations++;
        dm->failures_in_row = 0;
        int slot = -1;
        if (p->archive) {
            pop_archive_insert(p, o, child_hash, child, child_len); /* out of memory: dropped */
        } else if (dm->n < dm->cap) {
            slot = dm->n++;
            memset(&dm->m[slot], 0, sizeof dm->m[slot]);
        } else {
            slot = pop_replace_slot(p, dm, child_hash, fitness, cost);
        }
        if (slot >= 0) {
            char *copy = dupmem(child, child_len);
            uint32_t nerr = 0;
            int eok = 1;
            double *errs = copy ? keep_errors(p, o, &nerr, &eok) : NULL;
            if (copy && eok) {
                pop_member_free(&dm->m[slot]);
                memcpy(dm->m[slot].hash, child_hash, CRYPTO_HASH_LEN);
                dm->m[slot].src = copy;
                dm->m[slot].len = child_len;
                dm->m[slot].fitness = fitness;
                dm->m[slot].cost = cost;
                dm->m[slot].passed = o->passed;
                dm->m[slot].cases = o->cases;
                dm->m[slot].errors = errs;
                dm->m[slot].nerrors = nerr;
            } else {
                free(copy);
                if (slot == dm->n - 1 && !dm->m[slot].src)
                    dm->n--;
            }
            pop_watch_collapse(p, it->deme);
        }
        if (cmp_score(p, fitness, cost, p->best.fitness, p->best.cost) < 0) {
            char *copy = dupmem(child, child_len);
            if (copy) {
                pop_member_free(&p->best);
                memcpy(p->best.hash, child_hash, CRYPTO_HASH_LEN);
                p->best.src = copy;
                p->best.len = child_len;
                p->best.fitness = fitness;
                p->best.cost = cost;
                p->best.passed = o->passed;
                p->best.cases = o->cases;
            }
        }
    } else if ((p->archive ? p->archive->nocc == 0 : dm->n < dm->cap) &&
               ++dm->failures_in_row >= FILL_FAILURES_MAX) {
        finish(p, POP_FAILED, "no random genome of this spec could be scored", now_ms);
        return;
    }
    if (p->migration_interval && dm->since_migration >= p->migration_interval) {
        dm->since_migration = 0;
        migrate(p, it->deme);
        if (p->ndemes > 1)
            pop_watch_collapse(p, (it->deme + 1) % (uint32_t)p->ndemes);
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
    for (uint32_t k = 0; p->archive && k < p->archive->nocc; k++, n++)
        sum += p->archive->cells[p->archive->occ[k]].fitness;
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
