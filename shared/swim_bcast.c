/* swim_bcast.c - the transmit-limited broadcast queue: each update rides on
 * outgoing packets until it has been sent `limit` times; updates sent the
 * fewest times go first, and a newer update about a member replaces the
 * queued one. Buckets by transmit count make every operation O(1) per item. */
#include "swim_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void unlink_item(swim_bq_t *q, swim_bitem_t *it)
{
    if (it->prev)
        it->prev->next = it->next;
    else
        q->head[it->transmits] = it->next;
    if (it->next)
        it->next->prev = it->prev;
    it->prev = it->next = NULL;
}

static void push_front(swim_bq_t *q, swim_bitem_t *it)
{
    if (it->transmits > q->top)
        q->top = it->transmits;
    swim_bitem_t **h = &q->head[it->transmits];
    it->prev = NULL;
    it->next = *h;
    if (*h)
        (*h)->prev = it;
    *h = it;
}

static void free_item(swim_bq_t *q, swim_bitem_t *it)
{
    unlink_item(q, it);
    if (it->about && it->about->bq == it)
        it->about->bq = NULL;
    q->count--;
    free(it);
}

int swim_bq_put(swim_bq_t *q, swim_member_t *m, const uint8_t *data, size_t len, bool is_leave)
{
    swim_bitem_t *it = malloc(sizeof *it + len);
    if (!it)
        return -ENOMEM;
    swim_bq_drop(q, m);
    memcpy(it->data, data, len);
    it->len = (uint32_t)len;
    it->transmits = 0;
    it->about = m;
    it->is_leave = is_leave;
    m->bq = it;
    q->count++;
    push_front(q, it);
    return 0;
}

void swim_bq_drop(swim_bq_t *q, swim_member_t *m)
{
    if (m->bq)
        free_item(q, m->bq);
}

void swim_bq_clear(swim_bq_t *q)
{
    for (size_t b = 0; b < SWIM_BQ_BUCKETS; b++)
        while (q->head[b])
            free_item(q, q->head[b]);
    q->top = 0;
}

uint32_t swim_bq_fill(swim_bq_t *q, wire_buf_t *b, size_t budget, unsigned limit,
                      uint32_t *leave_sent)
{
    swim_bitem_t *picked[SWIM_PIGGYBACK_MAX / SWIM_UPDATE_MIN + 1];
    uint32_t n = 0;
    if (limit > SWIM_BQ_BUCKETS - 1)
        limit = SWIM_BQ_BUCKETS - 1;
    if (limit == 0)
        limit = 1;
    /* Items past a (shrunken) limit are retired first. */
    for (unsigned t = limit; t <= q->top; t++)
        while (q->head[t])
            free_item(q, q->head[t]);
    if (q->count == 0)
        q->top = 0;
    /* A few misfits mean the packet is about as full as it gets: stop rather
     * than walk a long queue (a join storm) item by item. */
    unsigned misfits = 0;
    for (unsigned t = 0; t < limit && t <= q->top && misfits < 8; t++) {
        for (swim_bitem_t *it = q->head[t]; it && misfits < 8 && budget >= SWIM_UPDATE_MIN;
             it = it->next) {
            if (it->len > budget || n == sizeof picked / sizeof picked[0]) {
                misfits++;
                continue;
            }
            wire_put_raw(b, it->data, it->len);
            budget -= it->len;
            picked[n++] = it;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        swim_bitem_t *it = picked[i];
        if (it->is_leave && leave_sent)
            (*leave_sent)++;
        unlink_item(q, it);
        it->transmits++;
        if (it->transmits >= limit) {
            if (it->about && it->about->bq == it)
                it->about->bq = NULL;
            q->count--;
            free(it);
        } else {
            push_front(q, it);
        }
    }
    return n;
}
