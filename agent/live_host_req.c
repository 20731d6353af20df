/* live_host_req.c - a live_host's requests: the trace sent at its rate
 * with at most LIVE_MAX_IN_FLIGHT unanswered, the replies counted (answered,
 * twice, unknown), the rolling live fitness and the latency sample. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "live_host_int.h"
#include "log.h"

/* ---- sending ---- */

static const live_treq_t *treq(const live_host_t *h, uint64_t seq)
{
    return &h->o.trace->reqs[(seq - 1) % h->o.trace->n];
}

static lh_slot_t *slot(live_host_t *h, uint64_t seq)
{
    return &h->slots[seq % LIVE_MAX_IN_FLIGHT];
}

/* Sends the requests [from, to) that are unanswered, in batches; resend
 * counts those sent before. */
void lh_send_range(live_host_t *h, uint64_t from, uint64_t to, int resend)
{
    uint64_t i = from;
    while (i < to) {
        uint32_t n = 0;
        uint64_t j = i;
        for (; j < to && n < h->o.batch; j++)
            if (!slot(h, j)->answered)
                n++;
        if (n == 0)
            break;
        wire_live_requests_begin(&h->wb, h->o.live_id, n);
        uint64_t now = mono_us();
        for (uint64_t k = i; k < j; k++) {
            lh_slot_t *s = slot(h, k);
            if (s->answered)
                continue;
            const live_treq_t *q = treq(h, k);
            wire_live_put_request(&h->wb, k, q->req, q->req_len, q->expect, q->expect_len);
            if (resend)
                h->st.resent++;
            else
                h->st.sent++;
            s->sent_us = now;
        }
        wire_end(&h->wb);
        lh_send_frame(h);
        i = j;
    }
}

/* Sends what the rate allows now, and the upgrades whose point is reached. */
void lh_pump(live_host_t *h)
{
    if (h->state != LH_RUNNING || !h->vm || h->lost[0])
        return;
    uint64_t total = h->o.loop_trace ? UINT64_MAX - 1 : h->o.trace->n + 1; /* seqs below */
    uint64_t due = total;
    if (h->o.rate > 0) {
        uint64_t now = mono_us();
        double d = (double)(now - h->rate_base_us) * h->o.rate / 1e6;
        due = h->rate_base_n + (uint64_t)d;
        if (h->o.loop_trace && due > h->next + h->o.batch + (uint64_t)h->o.rate) {
            /* over a second behind (a slow VM): the rate starts again from
             * now rather than bursting to catch up, forever */
            h->rate_base_us = now;
            h->rate_base_n = h->next;
            due = h->next;
        }
    }
    if (due > total)
        due = total;
    while (h->next < due && h->next - h->base < LIVE_MAX_IN_FLIGHT) {
        /* the next upgrade point bounds this batch, and the in-flight cap */
        uint64_t stop = due;
        if (stop - h->next > h->o.batch)
            stop = h->next + h->o.batch;
        if (stop > h->base + LIVE_MAX_IN_FLIGHT)
            stop = h->base + LIVE_MAX_IN_FLIGHT;
        for (size_t i = 0; i < h->nups; i++)
            if (!h->ups[i].sent && h->ups[i].at + 1 >= h->next && h->ups[i].at + 1 < stop)
                stop = h->ups[i].at + 1;
        if (stop > h->next) {
            lh_send_range(h, h->next, stop, 0);
            h->next = stop;
        }
        for (size_t i = 0; i < h->nups; i++)
            if (!h->ups[i].sent && h->ups[i].at + 1 <= h->next)
                lh_send_upgrade(h, &h->ups[i]);
    }
    /* upgrades whose point is reached (all of them past a single pass's end) */
    for (size_t i = 0; i < h->nups; i++)
        if (!h->ups[i].sent && (h->ups[i].at + 1 <= h->next || h->next == total))
            lh_send_upgrade(h, &h->ups[i]);
    if (!h->o.loop_trace && h->next == total && h->base == total) {
        wire_live_put_stop(&h->wb, h->o.live_id);
        lh_send_frame(h);
        lh_set_state(h, LH_STOPPING, "every request answered");
    }
}

static void count_reply(live_host_t *h, const wire_live_reply_t *rep, uint64_t latency)
{
    h->st.answered++;
    h->st.version = rep->version;
    if (rep->status != WIRE_ST_OK)
        h->st.failed++;
    else if (rep->correct == 1)
        h->st.correct++;
    else if (rep->correct == 0)
        h->st.wrong++;
    if (h->win) {
        if (h->nwin == h->start.window)
            h->win_sum -= h->win[h->wpos];
        else
            h->nwin++;
        h->win[h->wpos] = rep->score;
        h->win_sum += rep->score;
        h->wpos = (h->wpos + 1) % h->start.window;
    }
    if (h->lat && h->nlat < LIVE_LATENCY_SAMPLE)
        h->lat[h->nlat++] = latency;
}

int lh_on_replies(live_host_t *h, wire_rd_t *rd)
{
    uint64_t id;
    uint32_t n;
    int rc = wire_live_read_replies(rd, &id, &n);
    uint64_t now = mono_us();
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        wire_live_reply_t rep;
        if ((rc = wire_live_read_reply(rd, &rep)) != 0)
            break;
        if (rep.seq == 0 || rep.seq >= h->next) {
            h->st.unknown++;
            continue;
        }
        lh_slot_t *s = slot(h, rep.seq);
        if (rep.seq < h->base || s->answered) {
            h->st.twice++;
            continue;
        }
        s->answered = 1;
        uint64_t latency = now - s->sent_us;
        count_reply(h, &rep, latency);
        if (h->cb.reply)
            h->cb.reply(h, rep.seq, &rep, latency, h->arg);
        while (h->base < h->next && slot(h, h->base)->answered) {
            slot(h, h->base)->answered = 0;
            h->base++;
        }
    }
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void live_host_stats(live_host_t *h, live_host_stats_t *out, int reset)
{
    h->st.fitness = h->nwin ? h->win_sum / (double)h->nwin : NAN;
    if (reset) {
        h->st.p50_us = h->st.p99_us = 0;
        if (h->nlat) {
            qsort(h->lat, h->nlat, sizeof *h->lat, cmp_u64);
            h->st.p50_us = h->lat[h->nlat / 2];
            h->st.p99_us = h->lat[(h->nlat * 99) / 100];
            h->nlat = 0;
        }
    }
    h->st.on_probation = 0;
    for (size_t i = 0; i < h->nups; i++)
        h->st.on_probation |= h->ups[i].loaded;
    *out = h->st;
}
