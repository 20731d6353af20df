/* commit.c - the coordinator's group commit off the event loop: results
 * are signed as one batch on the loop, written and fsynced by the store's
 * committer thread, and retired on the loop when the store's eventfd fires;
 * population state rides in the batch of the records it refers to; signed
 * checkpoints of the durable head go out in gossip metadata and members'
 * checkpoints are checked against the log. See coord.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "ckpt.h"
#include "cluster.h"
#include "coord.h"
#include "err.h"
#include "log.h"
#include "util.h"

#define POP_PREFIX "pop/"

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- lineage checkpoints ----
 * Every [lineage] checkpoint_records records or checkpoint_interval_ms
 * with new records, the coordinator signs the durable head (ckpt.h) and
 * puts it in its gossip metadata; agents keep the newest and gossip it
 * back (agent/ackpt.h). A member's checkpoint that the log does not hold
 * (ahead of the head, or another hash at its seq) means the log was rolled
 * back or forked: the coordinator stops at once with COORD_EXIT_LINEAGE. */

static void publish_meta(coord_t *c)
{
    if (!c->gossip)
        return;
    char meta[CLUSTER_META_MAX];
    size_t n = cluster_meta_coordinator(meta, sizeof meta, c->id.pk, c->work_endpoint);
    if (c->ckpt_b64[0]) {
        size_t m = cluster_meta_set(meta, n, sizeof meta, "ckpt", c->ckpt_b64);
        if (m == n)
            log_warn("coord.meta_ckpt", "msg=\"the checkpoint does not fit the metadata\"");
        n = m;
    }
    int rc = gossip_set_meta(c->gossip, (const uint8_t *)meta, n);
    if (rc)
        log_warn("coord.meta", "why=\"%s\"", err_str(rc));
}

/* ---- agents whose checkpoints are not checked yet ----
 * A new checkpoint replaces an agent's kept one. So none goes out while an
 * agent whose results are in the log has not had its own checkpoint checked
 * (its gossip metadata not seen since this start): after a rollback, the
 * agents' newer checkpoints must reach the check before a checkpoint of the
 * rolled-back log could replace them. An agent not seen within
 * CKPT_HOLD_MAX_MS is given up on, with a warning. */
#define CKPT_HOLD_MAX_MS 60000

static int seen(const coord_t *c, const uint8_t id[CRYPTO_ID_LEN])
{
    for (int i = 0; i < c->nckpt_seen; i++)
        if (memcmp(c->ckpt_seen[i], id, CRYPTO_ID_LEN) == 0)
            return 1;
    return 0;
}

static void mark_seen(coord_t *c, const uint8_t id[CRYPTO_ID_LEN])
{
    if (!seen(c, id) && c->nckpt_seen < COORD_MAX_AGENTS)
        memcpy(c->ckpt_seen[c->nckpt_seen++], id, CRYPTO_ID_LEN);
    for (int i = 0; i < c->nckpt_unseen; i++)
        if (memcmp(c->ckpt_unseen[i], id, CRYPTO_ID_LEN) == 0)
            memcpy(c->ckpt_unseen[i], c->ckpt_unseen[--c->nckpt_unseen], CRYPTO_ID_LEN);
}

/* Notes the agents of a durable batch that were not seen yet. */
static void note_agents(coord_t *c, const store_item_t *items, size_t n)
{
    const uint8_t *last = NULL;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *id = items[i].agent_id;
        if (items[i].dup || (last && memcmp(last, id, CRYPTO_ID_LEN) == 0))
            continue;
        last = id;
        if (seen(c, id) || c->nckpt_unseen >= COORD_CKPT_UNSEEN_MAX)
            continue;
        int dup = 0;
        for (int k = 0; k < c->nckpt_unseen && !dup; k++)
            dup = memcmp(c->ckpt_unseen[k], id, CRYPTO_ID_LEN) == 0;
        if (!dup) {
            if (c->nckpt_unseen == 0)
                c->ckpt_hold_ms = c->loop ? loop_now(c->loop) : 0;
            memcpy(c->ckpt_unseen[c->nckpt_unseen++], id, CRYPTO_ID_LEN);
        }
    }
}

/* 1 while a checkpoint must wait for an agent's check. */
static int held(coord_t *c, uint64_t now)
{
    if (c->nckpt_unseen == 0 || !c->gossip)
        return 0;
    if (now - c->ckpt_hold_ms < CKPT_HOLD_MAX_MS)
        return 1;
    char id[2 * CRYPTO_ID_LEN + 1];
    crypto_hex(c->ckpt_unseen[0], CRYPTO_ID_LEN, id);
    log_warn("coord.checkpoint_unchecked",
             "agents=%d first=%s msg=\"agents that sent results were never seen in gossip; "
             "checkpoints go out without their check\"",
             c->nckpt_unseen, id);
    c->nckpt_unseen = 0;
    return 0;
}

void coord_ckpt_issue(coord_t *c, int force)
{
    uint64_t seq;
    uint8_t head[CRYPTO_HASH_LEN];
    store_head(c->store, &seq, head);
    if (seq == 0 || seq == c->ckpt_seq || !c->loop)
        return;
    uint64_t now = loop_now(c->loop);
    if (held(c, now))
        return;
    if (!force && seq - c->ckpt_seq < (uint64_t)cfg_int(c->cfg, "lineage", "checkpoint_records") &&
        now - c->ckpt_ms < (uint64_t)cfg_int(c->cfg, "lineage", "checkpoint_interval_ms"))
        return;
    ckpt_t ck = {.seq = seq, .time_ms = wall_ms()};
    memcpy(ck.head, head, CRYPTO_HASH_LEN);
    ckpt_sign(&ck, &c->id);
    ckpt_to_b64(&ck, c->ckpt_b64);
    c->ckpt_seq = seq;
    c->ckpt_ms = now;
    c->ckpts_issued++;
    publish_meta(c);
    log_debug("coord.checkpoint", "seq=%llu", (unsigned long long)seq);
}

static void lineage_refuse(const char *member, const char *why, uint64_t seq, uint64_t head)
{
    log_error("coord.lineage_rolled_back",
              "member=%s checkpoint_seq=%llu head=%llu why=\"%s\" msg=\"the lineage log does not "
              "hold a checkpoint this coordinator signed: it was rolled back, truncated or "
              "replaced; restore the newest data directory (see README, The lineage)\"",
              member, (unsigned long long)seq, (unsigned long long)head, why);
    exit(COORD_EXIT_LINEAGE);
}

/* Checks a member's advertised checkpoint against the log. */
void coord_ckpt_check(coord_t *c, const uint8_t id[CRYPTO_ID_LEN], const char *name,
                      const uint8_t *meta, size_t metalen)
{
    mark_seen(c, id); /* a refusal below ends the process */
    json_t *m = cluster_meta_parse(meta, metalen);
    const char *b64 = json_string_value(json_object_get(m, "ckpt"));
    ckpt_t ck;
    int rc = b64 ? ckpt_from_b64(b64, &ck) : ERR_NOTFOUND;
    json_decref(m);
    if (rc == ERR_NOTFOUND)
        return;
    if (rc == 0)
        rc = ckpt_verify(&ck);
    if (rc) {
        log_warn("coord.checkpoint_invalid", "member=%s why=\"%s\"", name, err_str(rc));
        return;
    }
    uint64_t head;
    store_head(c->store, &head, NULL);
    if (memcmp(ck.pk, c->id.pk, CRYPTO_PK_LEN) != 0) {
        char fp[STORE_FP_LEN + 1];
        store_fingerprint(ck.pk, fp);
        if (c->pinned) {
            log_warn("coord.checkpoint_other_key",
                     "member=%s key=%s seq=%llu msg=\"a checkpoint of another coordinator key; "
                     "this key is pinned, so it is accepted\"",
                     name, fp, (unsigned long long)ck.seq);
            return;
        }
        char why[300];
        snprintf(why, sizeof why,
                 "the member holds a checkpoint signed by coordinator key %s, not this key %s; "
                 "pin this key ([lineage] pinned_key) to accept the change",
                 fp, c->fingerprint);
        lineage_refuse(name, why, ck.seq, head);
    }
    if (ck.seq > head)
        lineage_refuse(name, "the checkpoint is ahead of the log's head", ck.seq, head);
    uint8_t h[CRYPTO_HASH_LEN];
    rc = store_rec_hash(c->store, ck.seq, h);
    if (rc == ERR_NOTFOUND || (rc == 0 && memcmp(h, ck.head, CRYPTO_HASH_LEN) != 0))
        lineage_refuse(name, "the log holds another record at the checkpoint's seq", ck.seq, head);
    if (rc)
        log_warn("coord.checkpoint_check", "member=%s why=\"%s\"", name, err_str(rc));
    else
        c->ckpts_checked++;
}

/* ---- group commit ----
 * Results collect in c->pending; coord_commit signs them as one batch on
 * the loop (store_submit_kv, ~20 us a record) and the store's committer
 * thread makes it durable while the loop goes on. The store's eventfd wakes
 * the loop, which then retires the batch (on_store_event). Population state
 * is written in the same transaction as a batch, so it is never durable
 * before the records it refers to (coord.h invariant 2): at submit time
 * every result applied to a population is in that batch or an earlier one. */

/* Serialises the state of p (and, with all, of every changed population)
 * into kv/names; returns how many. Texts are malloc'd into kv[i].val. */
static int collect_state(coord_t *c, pop_t *p, int all, store_kv_t *kv, char (*names)[POP_NAME_MAX],
                         char (*keys)[POP_NAME_MAX + 8])
{
    int n = 0;
    for (int i = 0; i < c->npops; i++) {
        pop_t *q = c->pops[i];
        if (q != p && !(all && q->dirty))
            continue;
        json_t *j = pop_to_json(q);
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (!text) {
            log_error("coord.save_failed", "population=%s why=\"out of memory\"", q->name);
            q->dirty = 1;
            continue;
        }
        snprintf(keys[n], sizeof keys[n], POP_PREFIX "%s", q->name);
        snprintf(names[n], sizeof names[n], "%s", q->name);
        kv[n] = (store_kv_t){.key = keys[n], .val = text, .len = strlen(text)};
        n++;
    }
    return n;
}

static void inflight_free(inflight_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->pending[i].src);
    free(f->pending);
    free(f->items);
    free(f->saved);
    memset(f, 0, sizeof *f);
}

/* The oldest batch in flight finished with rc. */
static void retire(coord_t *c, int rc)
{
    inflight_t f = c->inflight[0];
    memmove(&c->inflight[0], &c->inflight[1], (size_t)(c->ninflight - 1) * sizeof f);
    c->ninflight--;
    uint64_t us = mono_us() - f.t_submit;
    metrics_hist_observe(&c->commit_hist, (double)us / 1e6);
    if (rc) {
        /* nothing of it was written: its results go back to the front of
         * the pending list and its populations are saved again later */
        c->commit_failures++;
        log_error("coord.commit_failed", "records=%zu why=\"%s\"", f.n, err_str(rc));
        pending_t *n = realloc(c->pending, (c->npending + f.n + 1) * sizeof *n);
        if (n) {
            memmove(n + f.n, n, c->npending * sizeof *n);
            memcpy(n, f.pending, f.n * sizeof *n);
            c->pending = n;
            c->npending += f.n;
            c->cappending = c->npending + 1;
            f.n = 0; /* moved: inflight_free frees no source */
        } else {
            log_error("coord.oom", "records=%zu msg=\"results of a failed commit are lost\"", f.n);
        }
        for (int i = 0; i < f.nsaved; i++) {
            pop_t *p = coord_find_pop(c, f.saved[i]);
            if (p)
                p->dirty = 1;
        }
        inflight_free(&f);
        return;
    }
    size_t dups = 0;
    for (size_t i = 0; i < f.n; i++) {
        dups += f.items[i].dup != 0;
        if (f.items[i].err)
            log_warn("coord.record_rejected", "population=%s deme=%u dseq=%llu why=\"%s\"",
                     f.pending[i].pop, f.items[i].deme, (unsigned long long)f.items[i].dseq,
                     err_str(f.items[i].err));
    }
    c->recorded += f.n - dups;
    c->discarded_late += dups;
    log_debug("coord.commit", "records=%zu dups=%zu states=%d us=%llu", f.n, dups, f.nsaved,
              (unsigned long long)us);
    note_agents(c, f.items, f.n);
    inflight_free(&f);
    coord_ckpt_issue(c, 0);
}

/* Retires every finished batch; with block, waits for all of them. */
static void collect(coord_t *c, int block)
{
    while (c->ninflight > 0) {
        uint64_t t = c->inflight[0].ticket;
        if (!block && store_finished(c->store) < t)
            return;
        retire(c, store_wait(c->store, t));
    }
}

static void on_store_event(loop_t *l, short revents, void *arg)
{
    (void)l;
    (void)revents;
    coord_t *c = arg;
    uint64_t n;
    if (read(store_event_fd(c->store), &n, sizeof n) < 0 && errno != EAGAIN)
        log_warn("coord.store_event", "why=\"%s\"", err_str(-errno));
    collect(c, 0);
    /* results that waited for a free pipeline slot */
    if (c->npending > 0 && c->ninflight < COORD_INFLIGHT_MAX)
        coord_commit(c);
}

int coord_commit_attach(coord_t *c)
{
    return loop_fd_add(c->loop, store_event_fd(c->store), ZMQ_POLLIN, on_store_event, c);
}

void coord_commit_drain(coord_t *c)
{
    collect(c, 1);
}

/* Submits the pending results, with p's state (and every changed
 * population's when the save interval passed, or with force). */
static int submit(coord_t *c, pop_t *p, int force)
{
    if (c->npending == 0 && !p && !force)
        return 0;
    uint64_t now = loop_now(c->loop);
    int due = !p && !force &&
              now - c->last_save_ms >= (uint64_t)cfg_int(c->cfg, "store", "save_interval_ms");
    int save = force || p || due;
    if (c->ninflight >= COORD_INFLIGHT_MAX) {
        if (!p && !force)
            return 0; /* the next retired batch submits these */
        collect(c, 1);
    }
    int nstate = 0;
    store_kv_t *kv = NULL;
    char(*names)[POP_NAME_MAX] = NULL;
    char(*keys)[POP_NAME_MAX + 8] = NULL;
    if (save && c->npops > 0) {
        kv = calloc((size_t)c->npops, sizeof *kv);
        names = calloc((size_t)c->npops, sizeof *names);
        keys = calloc((size_t)c->npops, sizeof *keys);
        if (!kv || !names || !keys) {
            free(kv);
            free(names);
            free(keys);
            return -ENOMEM;
        }
        nstate = collect_state(c, p, 1, kv, names, keys);
    }
    store_item_t *items = c->npending ? calloc(c->npending, sizeof *items) : NULL;
    if (c->npending && !items) {
        for (int i = 0; i < nstate; i++)
            free((void *)kv[i].val);
        free(kv);
        free(names);
        free(keys);
        return -ENOMEM;
    }
    for (size_t i = 0; i < c->npending; i++) {
        items[i] = c->pending[i].si;
        items[i].population = c->pending[i].pop;
        items[i].op = c->pending[i].op;
        items[i].src = c->pending[i].src;
    }
    uint64_t ticket = 0, t0 = mono_us();
    int rc = store_submit_kv(c->store, items, c->npending, kv, (size_t)nstate, wall_ms(), &ticket);
    for (int i = 0; i < nstate; i++)
        free((void *)kv[i].val);
    free(kv);
    free(keys);
    if (rc) {
        /* nothing was queued: drop the results the store named as bad (they
         * would fail every batch), keep the rest, try again next tick */
        c->commit_failures++;
        log_error("coord.commit_failed", "records=%zu why=\"%s\"", c->npending, err_str(rc));
        size_t keep = 0;
        for (size_t i = 0; i < c->npending; i++) {
            if (items[i].err) {
                log_warn("coord.record_rejected", "population=%s deme=%u dseq=%llu why=\"%s\"",
                         c->pending[i].pop, items[i].deme, (unsigned long long)items[i].dseq,
                         err_str(items[i].err));
                free(c->pending[i].src);
                continue;
            }
            c->pending[keep++] = c->pending[i];
        }
        c->npending = keep;
        for (int i = 0; i < nstate; i++) {
            pop_t *q = coord_find_pop(c, names[i]);
            if (q)
                q->dirty = 1;
        }
        free(names);
        free(items);
        return rc;
    }
    if (due) /* an explicit save (p, force) leaves the periodic one on its schedule */
        c->last_save_ms = now;
    inflight_t *f = &c->inflight[c->ninflight++];
    *f = (inflight_t){.ticket = ticket,
                      .pending = c->pending,
                      .items = items,
                      .n = c->npending,
                      .saved = names,
                      .nsaved = nstate,
                      .t_submit = t0};
    c->pending = NULL;
    c->npending = c->cappending = 0;
    return 0;
}

int coord_commit(coord_t *c)
{
    return submit(c, NULL, 0);
}

int coord_save_pop(coord_t *c, pop_t *p)
{
    int rc = submit(c, p, 1);
    if (rc == 0)
        collect(c, 1);
    if (rc == 0 && p->dirty)
        rc = ERR_STATE; /* its batch failed (logged); it is saved again later */
    if (rc)
        log_error("coord.save_failed", "population=%s why=\"%s\"", p->name, err_str(rc));
    return rc;
}

int coord_pending_add(coord_t *c, const store_item_t *si, const char *pop, const char *op)
{
    if (c->npending == c->cappending) {
        size_t ncap = c->cappending ? c->cappending * 2 : 256;
        pending_t *n = realloc(c->pending, ncap * sizeof *n);
        if (!n) {
            log_error("coord.oom", "msg=\"result not recorded\"");
            return -ENOMEM;
        }
        c->pending = n;
        c->cappending = ncap;
    }
    pending_t *p = &c->pending[c->npending];
    memset(p, 0, sizeof *p);
    p->src = malloc(si->src_len + 1);
    if (!p->src) {
        log_error("coord.oom", "msg=\"result not recorded\"");
        return -ENOMEM;
    }
    memcpy(p->src, si->src, si->src_len);
    p->src[si->src_len] = '\0';
    p->si = *si;
    p->si.src = NULL; /* pop, op and src are set from p's own copies at submit */
    p->si.population = NULL;
    p->si.op = NULL;
    snprintf(p->pop, sizeof p->pop, "%s", pop);
    snprintf(p->op, sizeof p->op, "%s", op);
    c->npending++;
    if (c->npending >= (size_t)cfg_int(c->cfg, "store", "commit_max"))
        coord_commit(c);
    return 0;
}

void coord_save_all(coord_t *c)
{
    for (int i = 0; i < c->npops; i++)
        c->pops[i]->dirty = 1;
    if (submit(c, NULL, 1) != 0)
        log_error("coord.save_failed", "msg=\"state at shutdown not saved\"");
    coord_commit_drain(c);
}

void coord_commit_free(coord_t *c)
{
    for (int i = 0; i < c->ninflight; i++)
        inflight_free(&c->inflight[i]);
    c->ninflight = 0;
}
