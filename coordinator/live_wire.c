/* live_wire.c - the coordinator's readers of the live frames agents send
 * (WIRE_WORK_LIVE_EVENT, WIRE_WORK_LIVE_STATUS; wire.h). Agent bytes are
 * untrusted: every read is bounds-checked, and nothing here trusts what it
 * read (live.c checks the signature and the placement). */
#include <string.h>

#include "err.h"
#include "live_pop.h"
#include "wire_live.h"

int live_event_read(const uint8_t *payload, size_t len, live_event_t *e)
{
    memset(e, 0, sizeof *e);
    wire_rd_t r;
    wire_rd_init(&r, payload, len);
    wire_get_str(&r, e->pop, sizeof e->pop);
    wire_get_u32(&r, &e->ind);
    wire_get_u64(&r, &e->incarnation);
    wire_get_u8(&r, &e->kind);
    wire_get_u64(&r, &e->upgrade_id);
    wire_get_u32(&r, &e->version);
    wire_get_u64(&r, &e->at_seq);
    wire_get_str(&r, e->op, sizeof e->op);
    wire_get_u64(&r, &e->seed);
    wire_get_raw(&r, e->child_hash, CRYPTO_HASH_LEN);
    wire_get_raw(&r, e->parent_hash, CRYPTO_HASH_LEN);
    wire_get_raw(&r, e->state_before, CRYPTO_HASH_LEN);
    wire_get_raw(&r, e->state_after, CRYPTO_HASH_LEN);
    wire_get_f64(&r, &e->parent_score);
    wire_get_f64(&r, &e->child_score);
    wire_get_u32(&r, &e->probation);
    wire_get_str(&r, e->reason, sizeof e->reason);
    wire_get_bytes(&r, &e->snap, &e->snap_len, WIRE_LIVE_SNAPSHOT_MAX);
    wire_get_bytes(&r, &e->src, &e->src_len, STORE_GENOME_MAX);
    wire_get_raw(&r, e->sig, CRYPTO_SIG_LEN);
    int rc = r.err;
    if (rc == 0 && (r.left || e->kind >= WIRE_LIVE__COUNT || !e->pop[0]))
        rc = ERR_PROTO;
    if (rc)
        memset(e, 0, sizeof *e);
    return rc;
}

int live_status_read(wire_rd_t *r, live_status_t *s)
{
    memset(s, 0, sizeof *s);
    wire_get_str(r, s->pop, sizeof s->pop);
    wire_get_u32(r, &s->ind);
    wire_get_u64(r, &s->incarnation);
    wire_get_u32(r, &s->version);
    wire_get_u64(r, &s->requests);
    wire_get_u64(r, &s->correct);
    wire_get_u64(r, &s->wrong);
    wire_get_u64(r, &s->failed);
    wire_get_f64(r, &s->fitness);
    wire_get_u64(r, &s->p50_us);
    wire_get_u64(r, &s->p99_us);
    wire_get_u64(r, &s->lost);
    wire_get_u64(r, &s->twice);
    wire_get_u8(r, &s->on_probation);
    if (r->err == 0 && (!s->pop[0] || s->on_probation > 1)) {
        r->err = ERR_PROTO;
        r->left = 0;
    }
    return r->err;
}
