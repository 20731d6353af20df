/* wire.c - petri's binary frame codec (wire.h): a growable writer with a
 * sticky error and a bounds-checked reader over untrusted bytes. */
#include "wire.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static const char *const status_names[WIRE_ST__COUNT] = {
    [WIRE_ST_OK] = "ok",
    [WIRE_ST_PARSE_ERROR] = "parse_error",
    [WIRE_ST_UNSAFE] = "unsafe",
    [WIRE_ST_COMPILE_ERROR] = "compile_error",
    [WIRE_ST_TIMEOUT] = "timeout",
    [WIRE_ST_HEAP_LIMIT] = "heap_limit",
    [WIRE_ST_CRASH] = "crash",
    [WIRE_ST_BAD_RESULT] = "bad_result",
    [WIRE_ST_UNSUPPORTED] = "unsupported",
    [WIRE_ST_INTERNAL] = "internal",
    [WIRE_ST_VM_KILLED] = "vm_killed",
};

const char *wire_status_str(int status)
{
    if (status < 0 || status >= WIRE_ST__COUNT || !status_names[status])
        return "unknown";
    return status_names[status];
}

/* ---- big-endian helpers ---- */

static void be_put(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t be_get(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* ---- writer ---- */

void wire_buf_init(wire_buf_t *b)
{
    assert(b);
    memset(b, 0, sizeof *b);
}

void wire_buf_free(wire_buf_t *b)
{
    if (!b)
        return;
    free(b->data);
    memset(b, 0, sizeof *b);
}

void wire_buf_reset(wire_buf_t *b)
{
    assert(b);
    b->len = 0;
    b->frame_start = 0;
    b->err = 0;
}

/* Makes room for n more bytes; sets the sticky error and returns NULL on
 * failure. The open frame may never grow past WIRE_MAX_FRAME, so a runaway
 * writer fails before allocating more than the cap. */
static uint8_t *reserve(wire_buf_t *b, size_t n)
{
    if (b->err)
        return NULL;
    if (b->len >= b->frame_start + WIRE_HDR_LEN &&
        n > (size_t)WIRE_MAX_FRAME - (b->len - b->frame_start - WIRE_HDR_LEN)) {
        b->err = ERR_TOOBIG;
        return NULL;
    }
    if (n > SIZE_MAX / 2 - b->len) {
        b->err = ERR_TOOBIG;
        return NULL;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d) {
            b->err = -ENOMEM;
            return NULL;
        }
        b->data = d;
        b->cap = cap;
    }
    uint8_t *p = b->data + b->len;
    b->len += n;
    return p;
}

void wire_begin(wire_buf_t *b, uint16_t type, uint8_t flags, const uint8_t *sender)
{
    assert(b);
    if (b->err)
        return;
    b->frame_start = b->len;
    uint8_t *p = reserve(b, WIRE_HDR_LEN);
    if (!p)
        return;
    p[0] = WIRE_VERSION;
    be_put(p + 1, type, 2);
    p[3] = flags;
    if (sender)
        memcpy(p + 4, sender, WIRE_ID_LEN);
    else
        memset(p + 4, 0, WIRE_ID_LEN);
    be_put(p + 20, 0, 4);
}

int wire_end(wire_buf_t *b)
{
    assert(b);
    if (b->err)
        return b->err;
    assert(b->len >= b->frame_start + WIRE_HDR_LEN); /* wire_begin was called */
    size_t plen = b->len - b->frame_start - WIRE_HDR_LEN;
    if (plen > WIRE_MAX_FRAME) {
        b->err = ERR_TOOBIG;
        return b->err;
    }
    be_put(b->data + b->frame_start + 20, plen, 4);
    return 0;
}

static void put_be(wire_buf_t *b, uint64_t v, int n)
{
    uint8_t *p = reserve(b, (size_t)n);
    if (p)
        be_put(p, v, n);
}

void wire_put_u8(wire_buf_t *b, uint8_t v)
{
    put_be(b, v, 1);
}

void wire_put_u16(wire_buf_t *b, uint16_t v)
{
    put_be(b, v, 2);
}

void wire_put_u32(wire_buf_t *b, uint32_t v)
{
    put_be(b, v, 4);
}

void wire_put_u64(wire_buf_t *b, uint64_t v)
{
    put_be(b, v, 8);
}

void wire_put_i64(wire_buf_t *b, int64_t v)
{
    put_be(b, (uint64_t)v, 8);
}

void wire_put_f64(wire_buf_t *b, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_be(b, bits, 8);
}

void wire_put_raw(wire_buf_t *b, const void *p, size_t len)
{
    if (len == 0)
        return;
    uint8_t *d = reserve(b, len);
    if (d)
        memcpy(d, p, len);
}

void wire_put_bytes(wire_buf_t *b, const void *p, size_t len)
{
    if (len > UINT32_MAX || len > WIRE_MAX_FRAME) {
        if (!b->err)
            b->err = ERR_TOOBIG;
        return;
    }
    uint8_t *d = reserve(b, 4 + len);
    if (!d)
        return;
    be_put(d, len, 4);
    if (len)
        memcpy(d + 4, p, len);
}

void wire_put_str(wire_buf_t *b, const char *s)
{
    if (!s)
        s = "";
    wire_put_bytes(b, s, strlen(s));
}

void wire_put_num_int(wire_buf_t *b, int64_t v)
{
    wire_put_u8(b, 0);
    wire_put_i64(b, v);
}

void wire_put_num_float(wire_buf_t *b, double v)
{
    wire_put_u8(b, 1);
    wire_put_f64(b, v);
}

/* ---- reader ---- */

void wire_rd_init(wire_rd_t *r, const void *p, size_t len)
{
    assert(r);
    r->p = p;
    r->left = p ? len : 0;
    r->err = 0;
}

static int rd_fail(wire_rd_t *r, int err)
{
    if (!r->err)
        r->err = err;
    r->left = 0;
    return r->err;
}

int wire_parse(const uint8_t *buf, size_t len, wire_hdr_t *h, wire_rd_t *payload)
{
    assert(h && payload);
    memset(h, 0, sizeof *h);
    payload->p = NULL;
    payload->left = 0;
    payload->err = 0;
    if (!buf || len == 0)
        return rd_fail(payload, ERR_TRUNC);
    if (buf[0] != WIRE_VERSION)
        return rd_fail(payload, ERR_VERSION);
    if (len < WIRE_HDR_LEN)
        return rd_fail(payload, ERR_TRUNC);
    uint32_t plen = (uint32_t)be_get(buf + 20, 4);
    if (plen > WIRE_MAX_FRAME)
        return rd_fail(payload, ERR_TOOBIG);
    if (plen > len - WIRE_HDR_LEN)
        return rd_fail(payload, ERR_TRUNC);
    if (plen < len - WIRE_HDR_LEN)
        return rd_fail(payload, ERR_PROTO);
    h->version = buf[0];
    h->type = (uint16_t)be_get(buf + 1, 2);
    h->flags = buf[3];
    memcpy(h->sender, buf + 4, WIRE_ID_LEN);
    h->length = plen;
    payload->p = buf + WIRE_HDR_LEN;
    payload->left = plen;
    return 0;
}

/* Takes n bytes from the cursor, or fails with ERR_TRUNC. */
static const uint8_t *take(wire_rd_t *r, size_t n)
{
    if (r->err)
        return NULL;
    if (n > r->left) {
        rd_fail(r, ERR_TRUNC);
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

static int get_be(wire_rd_t *r, uint64_t *v, int n)
{
    const uint8_t *p = take(r, (size_t)n);
    *v = p ? be_get(p, n) : 0;
    return r->err;
}

int wire_get_u8(wire_rd_t *r, uint8_t *v)
{
    uint64_t x;
    int rc = get_be(r, &x, 1);
    *v = (uint8_t)x;
    return rc;
}

int wire_get_u16(wire_rd_t *r, uint16_t *v)
{
    uint64_t x;
    int rc = get_be(r, &x, 2);
    *v = (uint16_t)x;
    return rc;
}

int wire_get_u32(wire_rd_t *r, uint32_t *v)
{
    uint64_t x;
    int rc = get_be(r, &x, 4);
    *v = (uint32_t)x;
    return rc;
}

int wire_get_u64(wire_rd_t *r, uint64_t *v)
{
    return get_be(r, v, 8);
}

int wire_get_i64(wire_rd_t *r, int64_t *v)
{
    uint64_t x;
    int rc = get_be(r, &x, 8);
    *v = (int64_t)x;
    return rc;
}

int wire_get_f64(wire_rd_t *r, double *v)
{
    uint64_t x;
    int rc = get_be(r, &x, 8);
    if (rc) {
        *v = 0.0;
        return rc;
    }
    memcpy(v, &x, sizeof *v);
    return 0;
}

int wire_get_bytes(wire_rd_t *r, const uint8_t **p, uint32_t *len, uint32_t max)
{
    uint32_t n;
    *p = NULL;
    *len = 0;
    if (wire_get_u32(r, &n))
        return r->err;
    if (n > max)
        return rd_fail(r, ERR_TOOBIG);
    const uint8_t *d = take(r, n);
    if (!d)
        return r->err;
    *p = d;
    *len = n;
    return 0;
}

int wire_get_str(wire_rd_t *r, char *out, size_t cap)
{
    assert(out && cap > 0);
    const uint8_t *p;
    uint32_t n;
    out[0] = '\0';
    if (wire_get_bytes(r, &p, &n, UINT32_MAX))
        return r->err;
    if (n >= cap)
        return rd_fail(r, ERR_TOOBIG);
    if (n && memchr(p, 0, n))
        return rd_fail(r, ERR_PROTO);
    if (n)
        memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

int wire_get_raw(wire_rd_t *r, void *out, size_t n)
{
    const uint8_t *p = take(r, n);
    if (!p) {
        if (n)
            memset(out, 0, n);
        return r->err;
    }
    if (n)
        memcpy(out, p, n);
    return 0;
}

int wire_get_count(wire_rd_t *r, uint32_t *count, uint32_t max, size_t min_item)
{
    uint32_t n;
    *count = 0;
    if (wire_get_u32(r, &n))
        return r->err;
    if (n > max)
        return rd_fail(r, ERR_TOOBIG);
    if (min_item > 0 && n > r->left / min_item) /* division: no overflow */
        return rd_fail(r, ERR_TRUNC);
    *count = n;
    return 0;
}

int wire_get_num(wire_rd_t *r, int *is_float, int64_t *i, double *f)
{
    uint8_t tag;
    *is_float = 0;
    *i = 0;
    *f = 0.0;
    if (wire_get_u8(r, &tag))
        return r->err;
    if (tag == 0)
        return wire_get_i64(r, i);
    if (tag == 1) {
        if (wire_get_f64(r, f))
            return r->err;
        *is_float = 1;
        return 0;
    }
    return rd_fail(r, ERR_PROTO);
}
