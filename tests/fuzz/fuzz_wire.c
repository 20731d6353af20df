/* fuzz_wire.c - fuzz target for the frame reader (shared/wire.c): parses a
 * frame and walks its payload with every getter, in an order driven by the
 * input. Every successful read is re-encoded with the writer and must
 * reproduce the bytes it consumed; every failure must be sticky. VM RESULT
 * and BRED frames also go through the agent's RESULT_EXT decoder
 * (pool_read_result_ext), whose output must respect the bounds it promises;
 * LIVE_REPLIES and LIVE_EVENT frames through the live readers (wire_live.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pool.h"
#include "spec.h"
#include "wire.h"
#include "wire_live.h"
#include "fuzz.h"

/* Re-encodes via wb and compares with the bytes the getter consumed. */
static void same_bytes(wire_buf_t *wb, const uint8_t *before, size_t consumed)
{
    CHECK(wb->err == 0);
    CHECK(wb->len == consumed);
    CHECK(consumed == 0 || memcmp(wb->data, before, consumed) == 0);
}

static void walk(wire_rd_t *r, const uint8_t *prog, size_t nprog)
{
    wire_buf_t wb;
    wire_buf_init(&wb);
    for (size_t step = 0; step < 64; step++) {
        uint8_t op = nprog ? prog[step % nprog] : (uint8_t)step;
        const uint8_t *before = r->p;
        size_t left = r->left;
        int was_err = r->err;
        int rc = 0;
        wire_buf_reset(&wb);
        switch (op % 11) {
        case 0: {
            uint8_t v;
            rc = wire_get_u8(r, &v);
            if (rc)
                CHECK(v == 0);
            else
                wire_put_u8(&wb, v);
            break;
        }
        case 1: {
            uint16_t v;
            rc = wire_get_u16(r, &v);
            if (rc)
                CHECK(v == 0);
            else
                wire_put_u16(&wb, v);
            break;
        }
        case 2: {
            uint32_t v;
            rc = wire_get_u32(r, &v);
            if (rc)
                CHECK(v == 0);
            else
                wire_put_u32(&wb, v);
            break;
        }
        case 3: {
            uint64_t v;
            rc = wire_get_u64(r, &v);
            if (rc)
                CHECK(v == 0);
            else
                wire_put_u64(&wb, v);
            break;
        }
        case 4: {
            int64_t v;
            rc = wire_get_i64(r, &v);
            if (rc)
                CHECK(v == 0);
            else
                wire_put_i64(&wb, v);
            break;
        }
        case 5: {
            double v;
            rc = wire_get_f64(r, &v);
            if (!rc)
                wire_put_f64(&wb, v);
            break;
        }
        case 6: {
            const uint8_t *p;
            uint32_t n;
            rc = wire_get_bytes(r, &p, &n, op & 0x80 ? 64 : UINT32_MAX);
            if (rc) {
                CHECK(p == NULL && n == 0);
            } else {
                CHECK(n <= left);
                CHECK(n == 0 || (p >= before && p + n <= before + left));
                wire_put_bytes(&wb, p, n);
            }
            break;
        }
        case 7: {
            char s[48];
            rc = wire_get_str(r, s, (op & 0x80) ? 8 : sizeof s);
            if (rc) {
                CHECK(s[0] == '\0');
            } else {
                CHECK(strlen(s) < sizeof s);
                wire_put_str(&wb, s);
            }
            break;
        }
        case 8: {
            uint8_t raw[WIRE_ID_LEN];
            rc = wire_get_raw(r, raw, sizeof raw);
            if (!rc)
                wire_put_raw(&wb, raw, sizeof raw);
            break;
        }
        case 9: {
            uint32_t count;
            size_t min_item = (op >> 4) ? (size_t)1 << (op >> 4) : 0;
            rc = wire_get_count(r, &count, op & 0x80 ? 1000 : UINT32_MAX, min_item);
            if (rc) {
                CHECK(count == 0);
            } else {
                CHECK(min_item == 0 || (uint64_t)count * min_item <= r->left);
                wire_put_u32(&wb, count);
            }
            break;
        }
        default: {
            int isf;
            int64_t i;
            double f;
            rc = wire_get_num(r, &isf, &i, &f);
            if (rc)
                CHECK(isf == 0 && i == 0);
            else if (isf)
                wire_put_num_float(&wb, f);
            else
                wire_put_num_int(&wb, i);
            break;
        }
        }
        CHECK(rc == r->err);
        if (was_err) {
            CHECK(rc == was_err); /* sticky */
        }
        if (rc) {
            CHECK(r->left == 0 || was_err);
            CHECK(rc <= -1000);
        } else {
            CHECK(r->left <= left);
            same_bytes(&wb, before, left - r->left);
        }
    }
    wire_buf_free(&wb);
}

/* Decodes RESULT_EXT at r and checks what the decoder promises. */
static void result_ext(wire_rd_t *r, int status)
{
    pool_result_t res;
    pool_metric_t m[POOL_MAX_METRICS];
    double *errors = (double *)&res; /* must be overwritten */
    size_t left = r->left;
    int rc = pool_read_result_ext(r, status, &res, m, &errors);
    if (rc) {
        CHECK(rc == r->err || rc == ERR_PROTO);
        CHECK(errors == NULL && res.errors == NULL);
        CHECK(res.passed == 0 && res.cases == 0 && res.nmetrics == 0 && res.nerrors == 0);
        CHECK(res.cost == 0 && res.reused == 0);
        return;
    }
    CHECK(errors == res.errors);
    if (left == 0)
        CHECK(res.cases == 0 && res.nmetrics == 0 && res.nerrors == 0 && !errors);
    CHECK(res.passed <= res.cases);
    CHECK(isfinite(res.cost) && res.cost >= 0);
    CHECK(res.reused == 0 || res.reused == 1);
    CHECK(res.metrics == m && res.nmetrics <= POOL_MAX_METRICS);
    for (size_t i = 0; i < res.nmetrics; i++) {
        size_t n = strnlen(m[i].name, sizeof m[i].name);
        CHECK(n > 0 && n < POOL_METRIC_NAME_MAX);
        CHECK(isfinite(m[i].value));
    }
    CHECK(res.nerrors <= SPEC_MAX_CASES);
    CHECK(res.nerrors == 0 || (res.nerrors >= res.cases && status == WIRE_ST_OK));
    CHECK(status == WIRE_ST_OK || res.cases == 0);
    for (size_t i = 0; i < res.nerrors; i++)
        CHECK(isfinite(errors[i]) && errors[i] >= 0);
    free(errors);
}

/* The agent's reading of a VM RESULT (after eval_us) or BRED (after source). */
static void vm_result(const wire_hdr_t *h, wire_rd_t r)
{
    uint64_t u64;
    uint8_t status;
    double f;
    char detail[1024];
    const uint8_t *src;
    uint32_t len;
    wire_get_u64(&r, &u64);
    wire_get_u8(&r, &status);
    wire_get_f64(&r, &f);
    wire_get_str(&r, detail, sizeof detail);
    wire_get_u64(&r, &u64);
    wire_get_u64(&r, &u64);
    if (h->type == WIRE_VM_BRED)
        wire_get_bytes(&r, &src, &len, 1u << 24);
    if (!r.err)
        result_ext(&r, status);
}

/* The agent's reading of LIVE_REPLIES and LIVE_EVENT: bounded, NUL-terminated,
 * in range, or an error with the outputs cleared. */
static void vm_live(const wire_hdr_t *h, wire_rd_t r)
{
    if (h->type == WIRE_VM_LIVE_EVENT) {
        wire_live_event_t e;
        int rc = wire_live_read_event(&r, &e);
        if (rc) {
            CHECK(rc <= -1000 && e.snapshot == NULL && e.snapshot_len == 0);
            return;
        }
        CHECK(e.kind < WIRE_LIVE__COUNT);
        CHECK(strcmp(wire_live_event_str(e.kind), "unknown") != 0);
        CHECK(strnlen(e.from_hash, sizeof e.from_hash) < sizeof e.from_hash);
        CHECK(strnlen(e.state_after, sizeof e.state_after) < sizeof e.state_after);
        CHECK(strnlen(e.reason, sizeof e.reason) < sizeof e.reason);
        CHECK(e.snapshot_len <= WIRE_LIVE_SNAPSHOT_MAX);
        return;
    }
    uint64_t id;
    uint32_t n;
    int rc = wire_live_read_replies(&r, &id, &n);
    if (rc) {
        CHECK(n == 0);
        return;
    }
    CHECK(n <= WIRE_LIVE_MAX_BATCH);
    for (uint32_t i = 0; i < n; i++) {
        wire_live_reply_t rep;
        if (wire_live_read_reply(&r, &rep) != 0)
            break;
        CHECK(rep.status < WIRE_ST__COUNT && rep.correct <= 2 && isfinite(rep.score));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wire_hdr_t h;
    wire_rd_t r;

    int rc = wire_parse(data, size, &h, &r);
    if (rc == 0 && (h.type == WIRE_VM_RESULT || h.type == WIRE_VM_BRED))
        vm_result(&h, r);
    if (rc == 0 && (h.type == WIRE_VM_LIVE_REPLIES || h.type == WIRE_VM_LIVE_EVENT))
        vm_live(&h, r);
    if (rc == 0) {
        CHECK(h.length == size - WIRE_HDR_LEN && r.left == h.length);
        /* The header's flags and sender bytes drive the walk. */
        walk(&r, data + 3, 17);
    } else {
        CHECK(rc == ERR_TRUNC || rc == ERR_VERSION || rc == ERR_TOOBIG || rc == ERR_PROTO);
        CHECK(r.left == 0 && r.err == rc);
    }
    /* Walk the raw bytes too (as a nested payload would be), so arbitrary
     * inputs reach every getter, not only well-framed ones. */
    if (size > 0) {
        size_t nprog = size < 8 ? size : 8;
        wire_rd_init(&r, data + nprog, size - nprog);
        walk(&r, data, nprog);
        /* and the raw bytes as a RESULT_EXT, the status from the first byte */
        wire_rd_init(&r, data + 1, size - 1);
        result_ext(&r, data[0] % WIRE_ST__COUNT);
    }
    return 0;
}
