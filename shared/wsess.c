/* wsess.c - the work channel's handshake transcript and session sealing (wsess.h). */
#include "wsess.h"

#include <assert.h>
#include <string.h>

#include "err.h"

#define AD_LEN (sizeof WSESS_AD - 1 + WSESS_SID_LEN + 1 + 8)

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

void wsess_transcript(const uint8_t agent_id[CRYPTO_ID_LEN], const uint8_t agent_pk[CRYPTO_PK_LEN],
                      const uint8_t coord_id[CRYPTO_ID_LEN], const uint8_t route[WSESS_ROUTE_LEN],
                      const uint8_t coord_nonce[WSESS_NONCE_LEN],
                      const uint8_t agent_nonce[WSESS_NONCE_LEN], uint8_t out[WSESS_SID_LEN])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, WSESS_SID_LEN);
    crypto_generichash_update(&st, (const uint8_t *)WSESS_AUTH_DOMAIN, sizeof WSESS_AUTH_DOMAIN);
    crypto_generichash_update(&st, agent_id, CRYPTO_ID_LEN);
    crypto_generichash_update(&st, agent_pk, CRYPTO_PK_LEN);
    crypto_generichash_update(&st, coord_id, CRYPTO_ID_LEN);
    crypto_generichash_update(&st, route, WSESS_ROUTE_LEN);
    crypto_generichash_update(&st, coord_nonce, WSESS_NONCE_LEN);
    crypto_generichash_update(&st, agent_nonce, WSESS_NONCE_LEN);
    crypto_generichash_final(&st, out, WSESS_SID_LEN);
}

void wsess_init(wsess_t *s, const uint8_t sid[WSESS_SID_LEN], int agent_side)
{
    memset(s, 0, sizeof *s);
    memcpy(s->sid, sid, WSESS_SID_LEN);
    s->tx_dir = agent_side ? WSESS_DIR_TO_COORD : WSESS_DIR_TO_AGENT;
    s->rx_dir = agent_side ? WSESS_DIR_TO_AGENT : WSESS_DIR_TO_COORD;
}

int wsess_seal_hs(const keyring_t *kr, const uint8_t *frame, size_t len, uint8_t *out,
                  size_t outcap, size_t *outlen)
{
    *outlen = 0;
    if (outcap < 1)
        return ERR_TOOBIG;
    out[0] = WSESS_KIND_HS;
    int rc = crypto_seal(kr, (const uint8_t *)WSESS_HS_AD, sizeof WSESS_HS_AD - 1, frame, len,
                         out + 1, outcap - 1, outlen);
    if (rc == 0)
        *outlen += 1;
    return rc;
}

int wsess_open_hs(const keyring_t *kr, const uint8_t *in, size_t len, uint8_t *out, size_t outcap,
                  size_t *outlen)
{
    *outlen = 0;
    if (len < WSESS_HS_OVERHEAD || in[0] != WSESS_KIND_HS)
        return ERR_CRYPTO;
    return crypto_open(kr, (const uint8_t *)WSESS_HS_AD, sizeof WSESS_HS_AD - 1, in + 1, len - 1,
                       out, outcap, outlen);
}

static void make_ad(const wsess_t *s, uint8_t dir, uint64_t ctr, uint8_t ad[AD_LEN])
{
    size_t n = sizeof WSESS_AD - 1;
    memcpy(ad, WSESS_AD, n);
    memcpy(ad + n, s->sid, WSESS_SID_LEN);
    ad[n + WSESS_SID_LEN] = dir;
    put_be64(ad + n + WSESS_SID_LEN + 1, ctr);
}

int wsess_seal(wsess_t *s, const keyring_t *kr, const uint8_t *frame, size_t len, uint8_t *out,
               size_t outcap, size_t *outlen)
{
    *outlen = 0;
    if (outcap < 9)
        return ERR_TOOBIG;
    uint64_t ctr = ++s->tx_ctr;
    uint8_t ad[AD_LEN];
    make_ad(s, s->tx_dir, ctr, ad);
    out[0] = WSESS_KIND_SESSION;
    put_be64(out + 1, ctr);
    int rc = crypto_seal(kr, ad, sizeof ad, frame, len, out + 9, outcap - 9, outlen);
    if (rc == 0)
        *outlen += 9;
    return rc;
}

int wsess_open(wsess_t *s, const keyring_t *kr, const uint8_t *in, size_t len, uint8_t *out,
               size_t outcap, size_t *outlen)
{
    *outlen = 0;
    if (len < WSESS_OVERHEAD || in[0] != WSESS_KIND_SESSION)
        return ERR_CRYPTO;
    uint64_t ctr = get_be64(in + 1);
    if (ctr <= s->rx_ctr)
        return ERR_STATE;
    uint8_t ad[AD_LEN];
    make_ad(s, s->rx_dir, ctr, ad);
    int rc = crypto_open(kr, ad, sizeof ad, in + 9, len - 9, out, outcap, outlen);
    if (rc == 0)
        s->rx_ctr = ctr;
    return rc;
}
