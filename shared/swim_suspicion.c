/* swim_suspicion.c - the protocol's arithmetic (Lifeguard suspicion timeouts,
 * awareness scaling, retransmit limit, push-pull scaling), per-member
 * suspicion state with independent confirmations, and the timer heap. */
#include "swim_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

uint64_t swim_suspicion_min_ms(uint32_t suspicion_mult, size_t n, uint32_t probe_interval_ms)
{
    double scale = log10(n > 1 ? (double)n : 1.0);
    if (scale < 1.0)
        scale = 1.0;
    return (uint64_t)floor((double)suspicion_mult * scale * (double)probe_interval_ms);
}

uint64_t swim_suspicion_timeout_ms(uint64_t min_ms, uint64_t max_ms, unsigned c, unsigned k)
{
    if (k == 0 || max_ms <= min_ms)
        return min_ms;
    double frac = log((double)c + 1.0) / log((double)k + 1.0);
    double raw = (double)max_ms - frac * (double)(max_ms - min_ms);
    if (raw < (double)min_ms)
        return min_ms;
    return (uint64_t)floor(raw);
}

unsigned swim_retransmit_limit(unsigned retransmit_mult, size_t n)
{
    return retransmit_mult * (unsigned)ceil(log10((double)n + 1.0));
}

uint64_t swim_push_pull_interval_ms(uint32_t interval_ms, size_t n)
{
    if (n <= 32)
        return interval_ms;
    double mult = ceil(log2((double)n) - log2(32.0)) + 1.0;
    return (uint64_t)mult * interval_ms;
}

uint64_t swim_awareness_scale(uint64_t t_ms, unsigned score)
{
    return t_ms * (score + 1u);
}

/* ---- suspicion state ---- */

int swim_susp_start(swim_member_t *m, const uint8_t from[SWIM_ID_LEN], uint32_t k, uint64_t min_ms,
                    uint64_t max_ms, uint64_t now)
{
    if (!m->susp) {
        m->susp = malloc(sizeof *m->susp);
        if (!m->susp)
            return -ENOMEM;
    }
    swim_susp_t *s = m->susp;
    if (k > SWIM_SUSP_SEEN_MAX - 1)
        k = SWIM_SUSP_SEEN_MAX - 1;
    s->start = now;
    s->min_ms = min_ms;
    s->max_ms = max_ms;
    s->k = k;
    s->n = 0;
    s->nseen = 1; /* the first accuser is no confirmation of itself */
    s->checks = 0;
    memcpy(s->seen[0], from, SWIM_ID_LEN);
    m->susp_deadline = now + swim_suspicion_timeout_ms(min_ms, max_ms, 0, k);
    return 0;
}

bool swim_susp_confirm(swim_member_t *m, const uint8_t from[SWIM_ID_LEN])
{
    swim_susp_t *s = m->susp;
    if (!s || s->n >= s->k)
        return false;
    for (uint32_t i = 0; i < s->nseen; i++)
        if (!memcmp(s->seen[i], from, SWIM_ID_LEN))
            return false;
    memcpy(s->seen[s->nseen++], from, SWIM_ID_LEN);
    s->n++;
    m->susp_deadline = s->start + swim_suspicion_timeout_ms(s->min_ms, s->max_ms, s->n, s->k);
    return true;
}

void swim_susp_clear(swim_member_t *m)
{
    free(m->susp);
    m->susp = NULL;
    m->susp_deadline = 0;
}

/* ---- timer heap (min-heap on `at`) ---- */

static void swap_tmr(swim_tmr_t *a, swim_tmr_t *b)
{
    swim_tmr_t t = *a;
    *a = *b;
    *b = t;
}

int swim_heap_push(swim_heap_t *h, const swim_tmr_t *t)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 32;
        swim_tmr_t *v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    h->v[i] = *t;
    while (i > 0 && h->v[(i - 1) / 2].at > h->v[i].at) {
        swap_tmr(&h->v[(i - 1) / 2], &h->v[i]);
        i = (i - 1) / 2;
    }
    return 0;
}

bool swim_heap_pop_due(swim_heap_t *h, uint64_t now, swim_tmr_t *out)
{
    if (h->n == 0 || h->v[0].at > now)
        return false;
    *out = h->v[0];
    h->v[0] = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->v[l].at < h->v[m].at)
            m = l;
        if (r < h->n && h->v[r].at < h->v[m].at)
            m = r;
        if (m == i)
            break;
        swap_tmr(&h->v[i], &h->v[m]);
        i = m;
    }
    return true;
}

uint64_t swim_heap_top(const swim_heap_t *h)
{
    return h->n ? h->v[0].at : UINT64_MAX;
}

void swim_heap_free(swim_heap_t *h)
{
    free(h->v);
    memset(h, 0, sizeof *h);
}
