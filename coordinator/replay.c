/* replay.c - `lineage verify --replay N`: re-derive N random recorded
 * children on the cluster (same parents, operator and seed) and compare the
 * hash of what comes back with the record's child hash.
 *
 * A version 4 record names the breeder that bred its child (store.h). When
 * the VM that replays it runs another breeder (petri was upgraded since),
 * a different child proves nothing either way: the record is counted as
 * not compared, with both breeders named and the agents whose VMs announce
 * the record's breeder now (a breeder no agent runs cannot be checked;
 * one no agent ever ran was not honestly reported), not as a mismatch. A
 * record without a breeder (before version 4) is compared as before, and
 * its mismatch says the breeder may have changed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "err.h"
#include "log.h"
#include "ops.h"

#define REPLAY_TIMEOUT_MS 120000

typedef struct expect {
    char pop[POP_NAME_MAX];
    uint32_t deme;
    uint64_t dseq, seq;
    uint8_t child[CRYPTO_HASH_LEN];
    int has_breeder; /* store_rec_breeder() */
    uint8_t breeder[WIRE_BREEDER_LEN];
    int done;
} expect_t;

static expect_t *g_expect; /* one replay at a time: c->replay guards it */
static int g_nexpect;
static int64_t g_timer;

static void finish(coord_t *c, const char *why)
{
    replay_job_t *j = c->replay;
    if (!j)
        return;
    json_t *o = j->verify;
    json_object_set_new(o, "replayed", json_integer(j->done));
    json_object_set_new(o, "replay_requested", json_integer(j->want));
    json_object_set_new(o, "replay_mismatches", json_integer(j->mismatches));
    json_object_set_new(o, "replay_other_breeder", json_integer(j->other_breeder));
    json_object_set_new(o, "replay_not_compared", json_incref(j->not_compared));
    if (j->mismatches > 0)
        json_object_set(o, "ok", json_false());
    json_t *errs = json_object_get(o, "errors");
    json_array_extend(errs, j->errors);
    if (why)
        json_object_set_new(o, "replay_note", json_string(why));
    http_resp_t resp = {0};
    http_json(&resp, 200, json_incref(o));
    http_reply(c->http, j->ticket, &resp);
    log_info("replay.done", "replayed=%d mismatches=%d other_breeder=%d", j->done, j->mismatches,
             j->other_breeder);
    json_decref(j->verify);
    json_decref(j->errors);
    json_decref(j->not_compared);
    free(j);
    c->replay = NULL;
    free(g_expect);
    g_expect = NULL;
    g_nexpect = 0;
    if (g_timer > 0)
        loop_timer_del(c->loop, g_timer);
    g_timer = 0;
}

static int64_t on_timeout(loop_t *l, void *arg)
{
    (void)l;
    g_timer = 0;
    finish(arg, "timed out waiting for agents; replayed what came back");
    return LOOP_TIMER_STOP;
}

/* A record an agent can derive again: a breeding operator's child or a
 * random genome (not a submitted, migrated, copied, external or live one). */
static int replayable(const lineage_rec_t *r)
{
    return ops_find(r->op) >= 0 || strcmp(r->op, "random") == 0;
}

int replay_start(coord_t *c, int n, uint64_t ticket, json_t *verify)
{
    if (c->replay)
        return ERR_STATE;
    replay_job_t *j = calloc(1, sizeof *j);
    g_expect = calloc((size_t)n, sizeof *g_expect);
    if (!j || !g_expect) {
        free(j);
        free(g_expect);
        g_expect = NULL;
        return -1;
    }
    j->ticket = ticket;
    j->verify = verify;
    j->want = n;
    j->errors = json_array();
    j->not_compared = json_array();
    j->started_ms = loop_now(c->loop);
    c->replay = j;
    g_nexpect = 0;
    uint64_t head = 0;
    store_head(c->store, &head, NULL);
    uint64_t rng = loop_now(c->loop) ^ 0x5eed;
    /* sample without caring for perfect uniformity; skip what cannot replay */
    for (uint64_t tries = 0; head && g_nexpect < n && tries < (uint64_t)n * 20 + 100; tries++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t seq = 1 + (rng >> 17) % head;
        lineage_rec_t r;
        if (store_get(c->store, seq, &r) != 0 || !replayable(&r) ||
            !live_replay_pop(c, r.population))
            continue;
        int dup = 0;
        for (int k = 0; k < g_nexpect && !dup; k++)
            dup = g_expect[k].seq == seq;
        if (dup)
            continue;
        work_item_t it = {0};
        snprintf(it.pop, sizeof it.pop, "%s", r.population);
        it.deme = r.deme;
        it.dseq = r.dseq;
        it.kind = ITEM_REPLAY;
        it.language = -1;
        snprintf(it.op, sizeof it.op, "%s", r.op);
        it.seed = r.seed;
        it.nparents = r.nparents;
        int ok = 1;
        for (int k = 0; k < r.nparents && ok; k++) {
            memcpy(it.parent_hash[k], r.parents[k], CRYPTO_HASH_LEN);
            ok =
                store_get_genome(c->store, r.parents[k], &it.parent_src[k], &it.parent_len[k]) == 0;
        }
        if (!ok) {
            work_item_clear(&it);
            continue;
        }
        expect_t *e = &g_expect[g_nexpect++];
        snprintf(e->pop, sizeof e->pop, "%s", r.population);
        e->deme = r.deme;
        e->dseq = r.dseq;
        e->seq = seq;
        memcpy(e->child, r.child_hash, CRYPTO_HASH_LEN);
        e->has_breeder = store_rec_breeder(&r);
        memcpy(e->breeder, r.breeder, WIRE_BREEDER_LEN);
        coord_queue_item(c, &it);
    }
    j->sent = g_nexpect;
    log_info("replay.start", "requested=%d sent=%d", n, g_nexpect);
    if (g_nexpect == 0) {
        finish(c, head ? "no replayable record" : "the log is empty");
        return 0;
    }
    g_timer = loop_timer_add(c->loop, REPLAY_TIMEOUT_MS, on_timeout, c);
    coord_dispatch(c);
    return 0;
}

/* The agents whose ready VMs announce breeder b now (work.h), as a JSON
 * array of names. */
static json_t *announced_by(coord_t *c, const uint8_t b[WIRE_BREEDER_LEN])
{
    json_t *names = json_array();
    for (int i = 0; i < work_agent_count(c->work); i++) {
        const work_agent_t *a = work_agent_at(c->work, i);
        for (int k = 0; k < a->nbreeders && !a->gone; k++)
            if (memcmp(a->breeders[k], b, WIRE_BREEDER_LEN) == 0) {
                json_array_append_new(names, json_string(a->name));
                break;
            }
    }
    return names;
}

void replay_result(coord_t *c, work_item_t *it, const work_result_t *r)
{
    replay_job_t *j = c->replay;
    if (!j)
        return;
    for (int k = 0; k < g_nexpect; k++) {
        expect_t *e = &g_expect[k];
        if (e->done || e->dseq != it->dseq || e->deme != it->deme || strcmp(e->pop, it->pop))
            continue;
        e->done = 1;
        j->done++;
        if (r->status == WIRE_ST_OK && memcmp(r->child_hash, e->child, CRYPTO_HASH_LEN) == 0)
            break;
        char why[400], rb[2 * WIRE_BREEDER_LEN + 1], eb[2 * WIRE_BREEDER_LEN + 1];
        crypto_hex(r->breeder, WIRE_BREEDER_LEN, rb);
        crypto_hex(e->breeder, WIRE_BREEDER_LEN, eb);
        if (e->has_breeder && memcmp(r->breeder, e->breeder, WIRE_BREEDER_LEN) != 0) {
            j->other_breeder++;
            json_t *by = announced_by(c, e->breeder);
            snprintf(
                why, sizeof why,
                "replay of %s deme %u dseq %llu ran on breeder %s, the record's is %s: "
                "not compared (%s); %s",
                e->pop, e->deme, (unsigned long long)e->dseq, rb, eb, wire_status_str(r->status),
                json_array_size(by) ? "an agent's VMs run the record's breeder now (announced_by)"
                                    : "no agent's VMs run the record's breeder now");
            json_array_append_new(j->not_compared,
                                  json_pack("{s:I, s:s, s:o}", "seq", (json_int_t)e->seq, "reason",
                                            why, "announced_by", by));
            break;
        }
        j->mismatches++;
        snprintf(why, sizeof why, "replay of %s deme %u dseq %llu gave a different child (%s)%s",
                 e->pop, e->deme, (unsigned long long)e->dseq, wire_status_str(r->status),
                 e->has_breeder ? " on the breeder that bred it"
                                : "; the record names no breeder (it is older than version 4, or "
                                  "its VM did not say), so a changed breeder gives this too");
        json_array_append_new(j->errors,
                              json_pack("{s:I, s:s}", "seq", (json_int_t)e->seq, "reason", why));
        break;
    }
    if (j->done >= j->sent)
        finish(c, NULL);
}
