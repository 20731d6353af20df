/* swim_msg.c - encoding and bounds-checked decoding of the gossip messages
 * (wire.h types 100-199) and of the UPDATE records they carry. */
#include "swim_int.h"

#include <string.h>

#include "err.h"

static const uint8_t zero_id[SWIM_ID_LEN];

bool swim_text_valid_n(const char *s, size_t n, size_t max)
{
    if (n < 1 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

bool swim_text_valid(const char *s, size_t max)
{
    return swim_text_valid_n(s, strnlen(s, max + 1), max);
}

bool swim_addr_valid_n(const char *s, size_t n)
{
    if (n < 3 || n > SWIM_ADDR_MAX)
        return false;
    size_t colon = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f)
            return false;
        if (c == ':')
            colon = i;
    }
    if (colon == 0 || colon + 1 == n)
        return false;
    for (size_t i = colon + 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

bool swim_addr_valid(const char *s)
{
    return swim_addr_valid_n(s, strnlen(s, SWIM_ADDR_MAX + 1));
}

int swim_msg_decode(const uint8_t *buf, size_t len, swim_msg_t *m)
{
    wire_hdr_t h;
    memset(m, 0, sizeof *m);
    int rc = wire_parse(buf, len, &h, &m->rd);
    if (rc)
        return rc;
    m->type = h.type;
    memcpy(m->sender, h.sender, SWIM_ID_LEN);
    wire_rd_t *r = &m->rd;
    switch (h.type) {
    case WIRE_SWIM_PING:
        wire_get_u64(r, &m->seq);
        wire_get_raw(r, m->target, SWIM_ID_LEN);
        wire_get_str(r, m->reply_addr, sizeof m->reply_addr);
        break;
    case WIRE_SWIM_ACK:
    case WIRE_SWIM_NACK:
        wire_get_u64(r, &m->seq);
        break;
    case WIRE_SWIM_PING_REQ:
        wire_get_u64(r, &m->seq);
        wire_get_raw(r, m->target, SWIM_ID_LEN);
        wire_get_str(r, m->target_addr, sizeof m->target_addr);
        wire_get_u8(r, &m->nack);
        wire_get_str(r, m->reply_addr, sizeof m->reply_addr);
        break;
    case WIRE_SWIM_GOSSIP:
        break;
    case WIRE_SWIM_SYNC:
        wire_get_u8(r, &m->flags);
        wire_get_u16(r, &m->part);
        wire_get_str(r, m->reply_addr, sizeof m->reply_addr);
        break;
    default:
        return ERR_UNKNOWN_TYPE;
    }
    wire_get_count(r, &m->nupdates, SWIM_UPDATES_MAX, SWIM_UPDATE_MIN);
    if (r->err)
        return r->err;
    if (!memcmp(m->sender, zero_id, SWIM_ID_LEN))
        return ERR_PROTO;
    /* Addresses we would send to must look like addresses. */
    if ((h.type == WIRE_SWIM_PING || h.type == WIRE_SWIM_PING_REQ ||
         (h.type == WIRE_SWIM_SYNC && (m->flags & SWIM_SYNC_REPLY))) &&
        !swim_addr_valid(m->reply_addr))
        return ERR_PROTO;
    if (h.type == WIRE_SWIM_PING_REQ && !swim_addr_valid(m->target_addr))
        return ERR_PROTO;
    return 0;
}

int swim_update_decode(wire_rd_t *r, swim_update_t *u)
{
    const uint8_t *name, *addr;
    wire_get_u8(r, &u->status);
    wire_get_raw(r, u->id, SWIM_ID_LEN);
    wire_get_u64(r, &u->inc);
    wire_get_raw(r, u->from, SWIM_ID_LEN);
    wire_get_bytes(r, &name, &u->namelen, SWIM_NAME_MAX);
    wire_get_bytes(r, &addr, &u->addrlen, SWIM_ADDR_MAX);
    wire_get_bytes(r, &u->meta, &u->metalen, SWIM_META_MAX);
    if (r->err)
        return r->err;
    u->name = (const char *)name;
    u->addr = (const char *)addr;
    if (u->status > SWIM_LEFT || !memcmp(u->id, zero_id, SWIM_ID_LEN))
        return ERR_PROTO;
    if (u->status == SWIM_ALIVE && (!swim_text_valid_n(u->name, u->namelen, SWIM_NAME_MAX) ||
                                    !swim_addr_valid_n(u->addr, u->addrlen)))
        return ERR_PROTO;
    return 0;
}

void swim_update_encode(wire_buf_t *b, uint8_t status, const uint8_t id[SWIM_ID_LEN], uint64_t inc,
                        const uint8_t from[SWIM_ID_LEN], const char *name, size_t namelen,
                        const char *addr, size_t addrlen, const uint8_t *meta, size_t metalen)
{
    wire_put_u8(b, status);
    wire_put_raw(b, id, SWIM_ID_LEN);
    wire_put_u64(b, inc);
    wire_put_raw(b, from ? from : zero_id, SWIM_ID_LEN);
    wire_put_bytes(b, name, namelen);
    wire_put_bytes(b, addr, addrlen);
    wire_put_bytes(b, meta, metalen);
}

void swim_update_encode_member(wire_buf_t *b, const swim_member_t *m, const uint8_t *from,
                               bool full)
{
    /* Suspect/dead news about a member the receiver does not know is
     * ignored, so only alive (and full-state syncs) carry name and address. */
    if (full || m->status == SWIM_ALIVE)
        swim_update_encode(b, m->status, m->id, m->inc, from ? from : m->id, m->name, m->namelen,
                           m->addr, m->addrlen, m->meta, m->metalen);
    else
        swim_update_encode(b, m->status, m->id, m->inc, from ? from : m->id, NULL, 0, NULL, 0, NULL,
                           0);
}
