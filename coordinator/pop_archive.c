/* pop_archive.c - a population's MAP-Elites archive (pop.h invariant 8):
 * the spec's descriptors and bins, a child's cell, insertion and uniform
 * selection over the occupied cells; and the diversity figures. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pop.h"

const char *const pop_descriptor_names[] = {"size", "cost", "passed", "vars", NULL};

void pop_archive_destroy(pop_archive_t **pa)
{
    if (!pa || !*pa)
        return;
    pop_archive_t *a = *pa;
    for (uint32_t k = 0; k < a->nocc; k++)
        pop_member_free(&a->cells[a->occ[k]]);
    free(a->cells);
    free(a->occ);
    free(a);
    *pa = NULL;
}

/* The default range of a descriptor: size in bytes of a typical genome;
 * passed over every case; vars over the spec's; cost has none. */
static int default_range(const pop_t *p, int desc, double *lo, double *hi)
{
    *lo = 0;
    switch (desc) {
    case POP_DESC_SIZE:
        *hi = 1000;
        return 0;
    case POP_DESC_PASSED:
        *hi = (double)spec_case_count(p->spec);
        return 0;
    case POP_DESC_VARS:
        *hi = (double)p->spec->arity;
        return 0;
    default:
        return -1;
    }
}

static int parse_range(pop_t *p, pop_archive_t *a, json_t *range, char *err, size_t errlen)
{
    static const char *const where = "archive.map_elites.range";
    if (range && (!json_is_array(range) || json_array_size(range) != (size_t)a->ndims))
        return err_spec(err, errlen, "%s: must be a list of [min, max], one per descriptor", where);
    for (int i = 0; i < a->ndims; i++) {
        json_t *r = json_array_get(range, (size_t)i);
        if (!r || json_is_null(r)) {
            if (default_range(p, a->desc[i], &a->lo[i], &a->hi[i]) != 0)
                return err_spec(err, errlen, "%s[%d]: descriptor %s has no default range; give one",
                                where, i, pop_descriptor_names[a->desc[i]]);
            if (a->hi[i] <= a->lo[i])
                a->hi[i] = a->lo[i] + 1;
            continue;
        }
        json_t *l = json_array_get(r, 0), *h = json_array_get(r, 1);
        if (!json_is_array(r) || json_array_size(r) != 2 || !json_is_number(l) ||
            !json_is_number(h) || !isfinite(json_number_value(l)) ||
            !isfinite(json_number_value(h)) || !(json_number_value(h) > json_number_value(l)))
            return err_spec(err, errlen, "%s[%d]: must be [min, max] with finite min < max", where,
                            i);
        a->lo[i] = json_number_value(l);
        a->hi[i] = json_number_value(h);
    }
    return 0;
}

static int parse_into(pop_t *p, pop_archive_t *a, json_t *arch, char *err, size_t errlen)
{
    static const char *const keys[] = {"descriptors", "bins", "range", "pass_error", NULL};
    if (!json_is_object(arch) || json_object_size(arch) != 1 ||
        !json_object_get(arch, "map_elites"))
        return err_spec(
            err, errlen,
            "archive: must be {\"map_elites\": {\"descriptors\": [...], \"bins\": [...]}}");
    json_t *me = json_object_get(arch, "map_elites");
    if (!json_is_object(me))
        return err_spec(err, errlen, "archive.map_elites: must be an object");
    int rc = spec_check_keys(me, "archive.map_elites.", keys, NULL, err, errlen);
    if (rc)
        return rc;
    json_t *ds = json_object_get(me, "descriptors"), *bins = json_object_get(me, "bins");
    size_t nd = json_array_size(ds);
    if (!json_is_array(ds) || nd == 0 || nd > POP_ARCHIVE_DIMS)
        return err_spec(err, errlen,
                        "archive.map_elites.descriptors: must be a list of 1..%d of size, cost, "
                        "passed, vars",
                        POP_ARCHIVE_DIMS);
    a->ndims = (int)nd;
    for (size_t i = 0; i < nd; i++) {
        const char *name = json_string_value(json_array_get(ds, i));
        int d = -1;
        for (int j = 0; name && pop_descriptor_names[j] && d < 0; j++)
            if (strcmp(pop_descriptor_names[j], name) == 0)
                d = j;
        if (d < 0)
            return err_spec(err, errlen,
                            "archive.map_elites.descriptors[%zu]: must be one of size, cost, "
                            "passed, vars",
                            i);
        for (size_t j = 0; j < i; j++)
            if (a->desc[j] == d)
                return err_spec(err, errlen, "archive.map_elites.descriptors[%zu]: %s given twice",
                                i, name);
        a->desc[i] = d;
    }
    if (!json_is_array(bins) || json_array_size(bins) != nd)
        return err_spec(err, errlen, "archive.map_elites.bins: must be a list of %zu bin counts",
                        nd);
    uint64_t cells = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *b = json_array_get(bins, i);
        if (!json_is_integer(b) || json_integer_value(b) < 1 ||
            json_integer_value(b) > POP_ARCHIVE_MAX_CELLS)
            return err_spec(err, errlen,
                            "archive.map_elites.bins[%zu]: must be an integer in [1, %d]", i,
                            POP_ARCHIVE_MAX_CELLS);
        a->bins[i] = (uint32_t)json_integer_value(b);
        cells *= a->bins[i];
        if (cells > POP_ARCHIVE_MAX_CELLS)
            return err_spec(err, errlen, "archive.map_elites.bins: more than %d cells in all",
                            POP_ARCHIVE_MAX_CELLS);
    }
    a->ncells = (uint32_t)cells;
    json_t *pe = json_object_get(me, "pass_error");
    if (pe &&
        (!json_is_number(pe) || !(json_number_value(pe) >= 0) || !isfinite(json_number_value(pe))))
        return err_spec(err, errlen, "archive.map_elites.pass_error: must be a number >= 0");
    a->pass_error = pe ? json_number_value(pe) : 0;
    rc = parse_range(p, a, json_object_get(me, "range"), err, errlen);
    if (rc)
        return rc;
    for (int i = 0; i < a->ndims; i++)
        if (a->desc[i] == POP_DESC_PASSED) {
            if (!p->spec->ncases)
                return err_spec(err, errlen,
                                "archive.map_elites.descriptors[%d]: passed needs numeric "
                                "fitness.cases",
                                i);
            p->spec->per_case = 1; /* the agents return each case's error */
        }
    return 0;
}

int pop_archive_parse(pop_t *p, json_t *arch, char *err, size_t errlen)
{
    if (!arch)
        return 0;
    pop_archive_t *a = calloc(1, sizeof *a);
    if (!a)
        return err_spec(err, errlen, "out of memory");
    int rc = parse_into(p, a, arch, err, errlen);
    if (rc == 0 && (!(a->cells = calloc(a->ncells, sizeof *a->cells)) ||
                    !(a->occ = calloc(a->ncells, sizeof *a->occ))))
        rc = err_spec(err, errlen, "out of memory");
    if (rc) {
        pop_archive_destroy(&a);
        return rc;
    }
    p->archive = a;
    return 0;
}

/* Distinct spec variables named in src after the first "->" (the body):
 * whole identifier tokens, so X does not count inside X1. */
static double vars_named(const spec_t *spec, const char *src, size_t len)
{
    const char *body = NULL;
    for (size_t i = 0; i + 1 < len && !body; i++)
        if (src[i] == '-' && src[i + 1] == '>')
            body = src + i + 2;
    if (!body)
        return 0;
    int seen[SPEC_MAX_ARITY] = {0}, n = 0;
    const char *end = src + len;
    for (const char *c = body; c < end;) {
        int idch = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' ||
                   (*c >= '0' && *c <= '9') || *c == '@';
        if (!idch) {
            c++;
            continue;
        }
        const char *t = c;
        while (c < end && ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' ||
                           (*c >= '0' && *c <= '9') || *c == '@'))
            c++;
        for (uint32_t v = 0; v < spec->arity; v++)
            if (!seen[v] && strlen(spec->vars[v]) == (size_t)(c - t) &&
                memcmp(spec->vars[v], t, (size_t)(c - t)) == 0) {
                seen[v] = 1;
                n++;
            }
    }
    return n;
}

static double descriptor(const pop_archive_t *a, int i, const pop_outcome_t *o, const spec_t *spec,
                         const char *src, size_t len)
{
    switch (a->desc[i]) {
    case POP_DESC_SIZE:
        return (double)len;
    case POP_DESC_COST:
        return o->cost;
    case POP_DESC_PASSED: {
        size_t n = 0;
        /* at most the spec's cases: padding past them passes nothing */
        for (size_t k = 0; o->errors && k < o->nerrors && k < spec->nerrors; k++)
            n += o->errors[k] <= a->pass_error; /* NaN: not passed */
        return (double)n;
    }
    default:
        return vars_named(spec, src, len);
    }
}

uint32_t pop_archive_cell(const pop_archive_t *a, const pop_outcome_t *o, const spec_t *spec,
                          const char *src, size_t len)
{
    uint32_t cell = 0;
    for (int i = 0; i < a->ndims; i++) {
        double v = descriptor(a, i, o, spec, src, len);
        double x = (v - a->lo[i]) / (a->hi[i] - a->lo[i]) * a->bins[i];
        /* out of range (and NaN) goes to the edge bins */
        uint32_t b = !(x > 0) ? 0 : x >= a->bins[i] ? a->bins[i] - 1 : (uint32_t)x;
        cell = cell * a->bins[i] + b;
    }
    return cell;
}

int pop_archive_insert(pop_t *p, const pop_outcome_t *o, const uint8_t hash[CRYPTO_HASH_LEN],
                       const char *src, size_t len)
{
    pop_archive_t *a = p->archive;
    uint32_t c = pop_archive_cell(a, o, p->spec, src, len);
    member_t *m = &a->cells[c];
    int empty = m->src == NULL;
    if (!empty && pop_cmp_score(p, o->fitness, o->cost, m->fitness, m->cost) >= 0)
        return 0;
    char *copy = malloc(len + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, src, len);
    copy[len] = '\0';
    pop_member_free(m);
    memcpy(m->hash, hash, CRYPTO_HASH_LEN);
    m->src = copy;
    m->len = len;
    m->fitness = o->fitness;
    m->cost = o->cost;
    m->passed = o->passed;
    m->cases = o->cases;
    if (empty)
        a->occ[a->nocc++] = c;
    a->inserted++;
    return 1;
}

const member_t *pop_archive_pick(pop_t *p)
{
    pop_archive_t *a = p->archive;
    if (!a || a->nocc == 0)
        return NULL;
    return &a->cells[a->occ[pop_rng_next(&p->rng) % a->nocc]];
}

const member_t **pop_live_members(const pop_t *p, size_t *n)
{
    size_t total = p->archive ? p->archive->nocc : 0;
    for (int d = 0; d < p->ndemes; d++)
        total += (size_t)p->demes[d].n;
    *n = 0;
    const member_t **out = total ? malloc(total * sizeof *out) : NULL;
    if (!out)
        return NULL;
    for (int d = 0; d < p->ndemes; d++)
        for (int i = 0; i < p->demes[d].n; i++)
            out[(*n)++] = &p->demes[d].m[i];
    for (uint32_t k = 0; p->archive && k < p->archive->nocc; k++)
        out[(*n)++] = &p->archive->cells[p->archive->occ[k]];
    return out;
}

static int cmp_fitness(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_hash(const void *a, const void *b)
{
    return memcmp(a, b, CRYPTO_HASH_LEN);
}

/* Distinct genomes, distinct fitness values and their entropy over ms. */
static int figures(const member_t *const *ms, size_t n, pop_div_t *out)
{
    out->members = (int)n;
    out->genomes = out->fitness_values = 0;
    out->entropy_bits = 0;
    if (n == 0)
        return 0;
    double *f = malloc(n * sizeof *f);
    uint8_t *h = malloc(n * CRYPTO_HASH_LEN);
    if (!f || !h) {
        free(f);
        free(h);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        f[i] = ms[i]->fitness;
        memcpy(h + i * CRYPTO_HASH_LEN, ms[i]->hash, CRYPTO_HASH_LEN);
    }
    qsort(f, n, sizeof *f, cmp_fitness);
    qsort(h, n, CRYPTO_HASH_LEN, cmp_hash);
    for (size_t i = 0, run = 1; i < n; i++, run++) {
        if (i + 1 < n && f[i + 1] == f[i])
            continue;
        double q = (double)run / (double)n;
        out->entropy_bits -= q * log2(q);
        out->fitness_values++;
        run = 0;
    }
    for (size_t i = 0; i < n; i++)
        out->genomes += i == 0 || memcmp(h + i * CRYPTO_HASH_LEN, h + (i - 1) * CRYPTO_HASH_LEN,
                                         CRYPTO_HASH_LEN) != 0;
    if (out->entropy_bits < 0) /* -0 */
        out->entropy_bits = 0;
    free(f);
    free(h);
    return 0;
}

int pop_diversity(const pop_t *p, int d, pop_div_t *out)
{
    memset(out, 0, sizeof *out);
    for (int k = 0; k < p->ndemes; k++)
        out->collapsed_demes += p->demes[k].collapsed;
    int collapsed = out->collapsed_demes;
    if (d >= 0) {
        if (d >= p->ndemes)
            return -EINVAL;
        const deme_t *dm = &p->demes[d];
        const member_t **ms = dm->n ? malloc((size_t)dm->n * sizeof *ms) : NULL;
        if (dm->n && !ms)
            return -ENOMEM;
        for (int i = 0; i < dm->n; i++)
            ms[i] = &dm->m[i];
        int rc = figures(ms, (size_t)dm->n, out);
        free(ms);
        out->collapsed_demes = dm->collapsed;
        return rc;
    }
    size_t n;
    const member_t **ms = pop_live_members(p, &n);
    int rc = figures(ms, n, out);
    free(ms);
    out->collapsed_demes = collapsed;
    return rc;
}
