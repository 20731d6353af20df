/* pop_lex.c - epsilon-lexicase parent selection over per-case error
 * vectors (La Cava, Spector and McPhee 2016), with down-sampling, and the
 * populations' random number generator. Pure functions: no pop state. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "pop.h"

uint64_t pop_rng_next(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint32_t below(uint64_t *rng, uint32_t n)
{
    return n <= 1 ? 0 : (uint32_t)(pop_rng_next(rng) % n);
}

/* Candidate i's error on case t: a missing vector, a missing case or a NaN
 * counts as the worst possible error. */
static double err_at(const double *const *e, const uint32_t *ne, int i, uint32_t t)
{
    if (!e[i] || t >= ne[i] || isnan(e[i][t]))
        return INFINITY;
    return e[i][t];
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double pop_lex_mad(const double *const *errors, const uint32_t *nerrors, int n, uint32_t t,
                   double *scratch)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        double v = err_at(errors, nerrors, i, t);
        if (isfinite(v))
            scratch[k++] = v;
    }
    if (k == 0)
        return 0;
    double med = median(scratch, k);
    for (int i = 0; i < k; i++)
        scratch[i] = fabs(scratch[i] - med);
    return median(scratch, k);
}

int pop_lexicase(const double *const *errors, const uint32_t *nerrors, const size_t *sizes, int n,
                 double epsilon, double downsample, uint64_t *rng)
{
    if (n <= 0)
        return -EINVAL;
    uint32_t ncases = 0;
    for (int i = 0; i < n; i++)
        if (errors[i] && nerrors[i] > ncases)
            ncases = nerrors[i];
    if (ncases == 0)
        return (int)below(rng, (uint32_t)n); /* nothing to tell them apart */
    int *pool = malloc((size_t)n * sizeof *pool);
    uint32_t *order = malloc(ncases * sizeof *order);
    double *scratch = epsilon < 0 ? malloc((size_t)n * sizeof *scratch) : NULL;
    if (!pool || !order || (epsilon < 0 && !scratch)) {
        free(pool);
        free(order);
        free(scratch);
        return -ENOMEM;
    }
    /* this event's cases: the first k of a fresh random permutation */
    for (uint32_t t = 0; t < ncases; t++)
        order[t] = t;
    for (uint32_t t = ncases - 1; t > 0; t--) {
        uint32_t j = below(rng, t + 1), x = order[t];
        order[t] = order[j];
        order[j] = x;
    }
    uint32_t k = (uint32_t)ceil(downsample * ncases);
    k = k < 1 ? 1 : k > ncases ? ncases : k;
    int np = n;
    for (int i = 0; i < n; i++)
        pool[i] = i;
    for (uint32_t j = 0; j < k && np > 1; j++) {
        uint32_t t = order[j];
        double best = INFINITY;
        for (int i = 0; i < np; i++) {
            double v = err_at(errors, nerrors, pool[i], t);
            best = v < best ? v : best;
        }
        /* auto: the median absolute deviation of the case's errors over
         * every candidate (not just the survivors), as La Cava et al. */
        double eps = epsilon >= 0 ? epsilon : pop_lex_mad(errors, nerrors, n, t, scratch);
        int kept = 0;
        for (int i = 0; i < np; i++) {
            double v = err_at(errors, nerrors, pool[i], t);
            if (isinf(best) ? isinf(v) : v <= best + eps)
                pool[kept++] = pool[i];
        }
        np = kept;
    }
    int pick = pool[below(rng, (uint32_t)np)];
    if (sizes && np > 1) {
        int other = pool[below(rng, (uint32_t)np)];
        pick = sizes[other] < sizes[pick] ? other : pick;
    }
    free(pool);
    free(order);
    free(scratch);
    return pick;
}
