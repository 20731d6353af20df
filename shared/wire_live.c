/* wire_live.c - writers and readers of the WIRE_VM_LIVE_* frames
 * (wire_live.h). */
#include "wire_live.h"

#include <math.h>
#include <string.h>

#include "err.h"

static const char *const event_names[WIRE_LIVE__COUNT] = {
    [WIRE_LIVE_STARTED] = "started",   [WIRE_LIVE_UPGRADE] = "upgrade",
    [WIRE_LIVE_PROMOTED] = "promoted", [WIRE_LIVE_ROLLBACK] = "rollback",
    [WIRE_LIVE_REFUSED] = "refused",   [WIRE_LIVE_RESTARTED] = "restarted",
    [WIRE_LIVE_FAILED] = "failed",     [WIRE_LIVE_STOPPED] = "stopped",
};

const char *wire_live_event_str(int kind)
{
    if (kind < 0 || kind >= WIRE_LIVE__COUNT)
        return "unknown";
    return event_names[kind];
}

int wire_live_status(int kind)
{
    switch (kind) {
    case WIRE_LIVE_STARTED:
    case WIRE_LIVE_PROMOTED:
        return WIRE_ST_OK;
    case WIRE_LIVE_ROLLBACK:
        return WIRE_ST_BAD_RESULT;
    case WIRE_LIVE_REFUSED:
        return WIRE_ST_COMPILE_ERROR;
    default:
        return WIRE_ST_INTERNAL;
    }
}

int wire_live_put_start(wire_buf_t *b, const wire_live_start_t *s)
{
    wire_begin(b, WIRE_VM_LIVE_START, 0, NULL);
    wire_put_u64(b, s->live_id);
    wire_put_u32(b, s->version);
    wire_put_u32(b, s->timeout_ms);
    wire_put_u64(b, s->heap_words);
    wire_put_u64(b, s->reductions);
    wire_put_u64(b, s->state_words);
    wire_put_u32(b, s->probation);
    wire_put_u32(b, s->window);
    wire_put_f64(b, s->lat_w);
    wire_put_f64(b, s->red_w);
    wire_put_f64(b, s->tolerance);
    wire_put_u32(b, (uint32_t)s->natoms);
    for (size_t i = 0; i < s->natoms; i++)
        wire_put_str(b, s->atoms[i]);
    wire_put_bytes(b, s->init_arg, s->init_arg_len);
    wire_put_bytes(b, s->source, s->source_len);
    wire_put_bytes(b, s->snapshot, s->snapshot_len);
    wire_put_u32(b, s->next_version);
    wire_put_u8(b, s->language);
    return wire_end(b);
}

int wire_live_put_upgrade(wire_buf_t *b, uint64_t live_id, uint64_t upgrade_id, uint32_t probation,
                          const uint8_t *src, size_t len, int judge)
{
    wire_begin(b, WIRE_VM_LIVE_UPGRADE, 0, NULL);
    wire_put_u64(b, live_id);
    wire_put_u64(b, upgrade_id);
    wire_put_u32(b, probation);
    wire_put_bytes(b, src, len);
    wire_put_u8(b, judge ? 1 : 0);
    return wire_end(b);
}

int wire_live_put_stop(wire_buf_t *b, uint64_t live_id)
{
    wire_begin(b, WIRE_VM_LIVE_STOP, 0, NULL);
    wire_put_u64(b, live_id);
    return wire_end(b);
}

void wire_live_requests_begin(wire_buf_t *b, uint64_t live_id, uint32_t count)
{
    wire_begin(b, WIRE_VM_LIVE_REQUESTS, 0, NULL);
    wire_put_u64(b, live_id);
    wire_put_u32(b, count);
}

void wire_live_put_request(wire_buf_t *b, uint64_t seq, const uint8_t *req, size_t req_len,
                           const uint8_t *expect, size_t expect_len)
{
    wire_put_u64(b, seq);
    wire_put_bytes(b, req, req_len);
    wire_put_bytes(b, expect, expect_len);
}

int wire_live_read_replies(wire_rd_t *r, uint64_t *live_id, uint32_t *count)
{
    wire_get_u64(r, live_id);
    /* an LREPLY is 8 + 1 + 1 + 4 + 8 * 4 bytes */
    return wire_get_count(r, count, WIRE_LIVE_MAX_BATCH, 46);
}

int wire_live_read_reply(wire_rd_t *r, wire_live_reply_t *o)
{
    memset(o, 0, sizeof *o);
    wire_get_u64(r, &o->seq);
    wire_get_u8(r, &o->status);
    wire_get_u8(r, &o->correct);
    wire_get_u32(r, &o->version);
    wire_get_u64(r, &o->latency_us);
    wire_get_u64(r, &o->service_us);
    wire_get_u64(r, &o->reductions);
    int rc = wire_get_f64(r, &o->score);
    if (rc)
        return rc;
    if (o->status >= WIRE_ST__COUNT || o->correct > 2 || !isfinite(o->score)) {
        r->err = ERR_PROTO;
        return ERR_PROTO;
    }
    return 0;
}

int wire_live_read_event(wire_rd_t *r, wire_live_event_t *o)
{
    memset(o, 0, sizeof *o);
    wire_get_u64(r, &o->live_id);
    wire_get_u8(r, &o->kind);
    wire_get_u64(r, &o->upgrade_id);
    wire_get_u32(r, &o->version);
    wire_get_u64(r, &o->at_seq);
    wire_get_str(r, o->from_hash, sizeof o->from_hash);
    wire_get_str(r, o->to_hash, sizeof o->to_hash);
    wire_get_str(r, o->state_before, sizeof o->state_before);
    wire_get_str(r, o->state_after, sizeof o->state_after);
    wire_get_f64(r, &o->parent_score);
    wire_get_f64(r, &o->child_score);
    wire_get_u32(r, &o->probation);
    wire_get_str(r, o->reason, sizeof o->reason);
    wire_get_bytes(r, &o->snapshot, &o->snapshot_len, WIRE_LIVE_SNAPSHOT_MAX);
    int rc = wire_get_u64(r, &o->took_us);
    if (rc) {
        memset(o, 0, sizeof *o);
        return rc;
    }
    if (o->kind >= WIRE_LIVE__COUNT) {
        memset(o, 0, sizeof *o);
        r->err = ERR_PROTO;
        return ERR_PROTO;
    }
    return 0;
}
