/* pop_repl.c - how a scored child enters its full deme (pop.h invariant 7):
 * the reverse tournament that spares the elites, the niche rule against
 * clones and neutral floods, the oldest member's place under "age", and the
 * watch for a deme's collapse. */
#include <string.h>

#include "log.h"
#include "pop.h"

static int rnd(pop_t *p, int n)
{
    return n <= 1 ? 0 : (int)(pop_rng_next(&p->rng) % (uint64_t)n);
}

static int cmp_score(const pop_t *p, double fa, double ca, double fb, double cb)
{
    return pop_cmp_score(p, fa, ca, fb, cb);
}

static int cmp_member(const pop_t *p, const member_t *a, const member_t *b)
{
    return cmp_score(p, a->fitness, a->cost, b->fitness, b->cost);
}

/* The indexes of deme dm's ne best members into elite[]. */
static void elites(const pop_t *p, const deme_t *dm, int *elite, int ne)
{
    for (int e = 0; e < ne; e++) {
        int bi = -1;
        for (int i = 0; i < dm->n; i++) {
            int taken = 0;
            for (int k = 0; k < e; k++)
                taken |= elite[k] == i;
            if (!taken && (bi < 0 || cmp_member(p, &dm->m[i], &dm->m[bi]) < 0))
                bi = i;
        }
        elite[e] = bi;
    }
}

/* The worst of `tournament` random members that is not an elite, or -1
 * (4 under lexicase, whose spec has no tournament size). */
static int replace_target(pop_t *p, deme_t *dm)
{
    int elite[64], ne = p->elitism < 64 ? p->elitism : 64;
    elites(p, dm, elite, ne);
    int loser = -1;
    for (int k = 0; k < p->tournament; k++) {
        int c = rnd(p, dm->n), is_elite = 0;
        for (int e = 0; e < ne; e++)
            is_elite |= elite[e] == c;
        if (!is_elite && (loser < 0 || cmp_member(p, &dm->m[c], &dm->m[loser]) > 0))
            loser = c;
    }
    return loser;
}

/* Where a scored child goes in its full deme under "niche" (pop.h
 * invariant 7): the slot it takes, or -1. */
static int niche_target(pop_t *p, deme_t *dm, const uint8_t hash[CRYPTO_HASH_LEN], double fitness,
                        double cost)
{
    int same = 0;
    for (int i = 0; i < dm->n; i++) {
        if (memcmp(dm->m[i].hash, hash, CRYPTO_HASH_LEN) == 0) {
            p->clones_dropped++;
            return -1;
        }
        same += cmp_score(p, fitness, cost, dm->m[i].fitness, dm->m[i].cost) == 0;
    }
    int cap = (int)(p->niche_share * dm->cap);
    if (same < (cap < 1 ? 1 : cap)) {
        int t = replace_target(p, dm);
        return t >= 0 && cmp_score(p, fitness, cost, dm->m[t].fitness, dm->m[t].cost) <= 0 ? t : -1;
    }
    /* a full niche: a random non-elite member of the same value gives way */
    int elite[64], ne = p->elitism < 64 ? p->elitism : 64;
    elites(p, dm, elite, ne);
    int pick = rnd(p, same), seen = 0;
    for (int i = 0; i < dm->n; i++) {
        if (cmp_score(p, fitness, cost, dm->m[i].fitness, dm->m[i].cost) != 0)
            continue;
        if (seen++ < pick)
            continue;
        int is_elite = 0;
        for (int e = 0; e < ne; e++)
            is_elite |= elite[e] == i;
        if (!is_elite)
            return i;
        pick = seen; /* an elite: the next member of the value instead */
    }
    return -1;
}

/* Logs a deme's collapse (full, one fitness value) once, and its end. */
void pop_watch_collapse(pop_t *p, uint32_t d)
{
    deme_t *dm = &p->demes[d];
    int one = dm->n == dm->cap && dm->n > 1;
    for (int i = 1; one && i < dm->n; i++)
        one = cmp_member(p, &dm->m[i], &dm->m[0]) == 0;
    if (one && !dm->collapsed)
        log_warn("pop.deme_collapsed",
                 "population=%s deme=%u members=%d fitness=%g evaluations=%llu msg=\"every member "
                 "of the deme has the same fitness\"",
                 p->name, d, dm->n, dm->m[0].fitness, (unsigned long long)p->evaluations);
    else if (!one && dm->collapsed)
        log_info("pop.deme_recovered", "population=%s deme=%u evaluations=%llu", p->name, d,
                 (unsigned long long)p->evaluations);
    dm->collapsed = one;
}

/* Under "age" (pop.h invariant 7): the oldest non-elite slot, taken in
 * turn; the child always enters (-1 only when every member is an elite). */
static int age_target(pop_t *p, deme_t *dm)
{
    int elite[64], ne = p->elitism < 64 ? p->elitism : 64;
    elites(p, dm, elite, ne);
    for (int k = 0; k < dm->n; k++) {
        int i = (int)(dm->age_next % (uint32_t)dm->n), is_elite = 0;
        dm->age_next = (uint32_t)((i + 1) % dm->n);
        for (int e = 0; e < ne; e++)
            is_elite |= elite[e] == i;
        if (!is_elite)
            return i;
    }
    return -1;
}

int pop_replace_slot(pop_t *p, deme_t *dm, const uint8_t hash[CRYPTO_HASH_LEN], double fitness,
                     double cost)
{
    if (p->replacement == POP_REPL_AGE)
        return age_target(p, dm);
    if (p->replacement == POP_REPL_NICHE)
        return niche_target(p, dm, hash, fitness, cost);
    int t = replace_target(p, dm);
    return t >= 0 && cmp_score(p, fitness, cost, dm->m[t].fitness, dm->m[t].cost) <= 0 ? t : -1;
}
