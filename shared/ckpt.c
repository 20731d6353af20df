/* ckpt.c - signed lineage checkpoints (ckpt.h). */
#include "ckpt.h"

#include <string.h>

#include <sodium.h>

#include "err.h"
#include "wire.h"

#define CKPT_BODY (8 + CRYPTO_HASH_LEN + 8 + CRYPTO_PK_LEN)

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void ckpt_encode(const ckpt_t *c, uint8_t out[CKPT_LEN])
{
    put_be64(out, c->seq);
    memcpy(out + 8, c->head, CRYPTO_HASH_LEN);
    put_be64(out + 8 + CRYPTO_HASH_LEN, c->time_ms);
    memcpy(out + 16 + CRYPTO_HASH_LEN, c->pk, CRYPTO_PK_LEN);
    memcpy(out + CKPT_BODY, c->sig, CRYPTO_SIG_LEN);
}

int ckpt_decode(const uint8_t *p, size_t len, ckpt_t *out)
{
    memset(out, 0, sizeof *out);
    if (len != CKPT_LEN)
        return ERR_PROTO;
    out->seq = get_be64(p);
    memcpy(out->head, p + 8, CRYPTO_HASH_LEN);
    out->time_ms = get_be64(p + 8 + CRYPTO_HASH_LEN);
    memcpy(out->pk, p + 16 + CRYPTO_HASH_LEN, CRYPTO_PK_LEN);
    memcpy(out->sig, p + CKPT_BODY, CRYPTO_SIG_LEN);
    return 0;
}

/* The signed message: the domain as a wire str, then the body. */
static int sign_msg(const ckpt_t *c, wire_buf_t *b)
{
    uint8_t enc[CKPT_LEN];
    ckpt_encode(c, enc);
    wire_put_str(b, CKPT_SIG_DOMAIN);
    wire_put_raw(b, enc, CKPT_BODY);
    return b->err;
}

void ckpt_sign(ckpt_t *c, const node_identity_t *idn)
{
    memcpy(c->pk, idn->pk, CRYPTO_PK_LEN);
    wire_buf_t b;
    wire_buf_init(&b);
    if (sign_msg(c, &b) == 0)
        crypto_sign(idn, b.data, b.len, c->sig);
    wire_buf_free(&b);
}

int ckpt_verify(const ckpt_t *c)
{
    wire_buf_t b;
    wire_buf_init(&b);
    int rc = sign_msg(c, &b);
    if (rc == 0)
        rc = crypto_verify(c->pk, b.data, b.len, c->sig) == 0 ? 0 : ERR_CRYPTO;
    wire_buf_free(&b);
    return rc;
}

void ckpt_to_b64(const ckpt_t *c, char out[CKPT_B64_MAX])
{
    uint8_t enc[CKPT_LEN];
    ckpt_encode(c, enc);
    sodium_bin2base64(out, CKPT_B64_MAX, enc, CKPT_LEN, sodium_base64_VARIANT_ORIGINAL);
}

int ckpt_from_b64(const char *text, ckpt_t *out)
{
    uint8_t enc[CKPT_LEN + 1];
    size_t n = 0;
    memset(out, 0, sizeof *out);
    if (!text || strlen(text) >= CKPT_B64_MAX ||
        sodium_base642bin(enc, sizeof enc, text, strlen(text), NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return ERR_PROTO;
    return ckpt_decode(enc, n, out);
}
