/* work_auth.c - the coordinator's side of the work handshake (wire.h,
 * OPEN/CHALLENGE/AUTH): challenges per connection, and the checks an AUTH
 * must pass before it makes (or moves) an agent's session (work.h 4). */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "wire.h"
#include "work_int.h"

pending_t *work_find_pending(work_t *w, const uint8_t route[WSESS_ROUTE_LEN])
{
    for (int i = 0; i < w->npend; i++)
        if (memcmp(w->pend[i].route, route, WSESS_ROUTE_LEN) == 0)
            return &w->pend[i];
    return NULL;
}

static void drop_pending(work_t *w, pending_t *p)
{
    *p = w->pend[--w->npend];
}

void work_challenge(work_t *w, const uint8_t route[WSESS_ROUTE_LEN])
{
    uint64_t now = loop_now(w->loop);
    for (int i = 0; i < w->npend;) /* stale ones first */
        if (now - w->pend[i].t_ms > WORK_HANDSHAKE_MS)
            drop_pending(w, &w->pend[i]);
        else
            i++;
    pending_t *p = work_find_pending(w, route);
    if (!p && w->npend == WORK_MAX_PENDING) { /* full: the oldest gives way */
        int old = 0;
        for (int i = 1; i < w->npend; i++)
            if (w->pend[i].t_ms < w->pend[old].t_ms)
                old = i;
        drop_pending(w, &w->pend[old]);
    }
    if (!p)
        p = &w->pend[w->npend++];
    memcpy(p->route, route, WSESS_ROUTE_LEN);
    crypto_random(p->nonce, sizeof p->nonce);
    p->t_ms = now;
    wire_buf_reset(&w->wb);
    wire_begin(&w->wb, WIRE_WORK_CHALLENGE, 0, w->self_id);
    wire_put_raw(&w->wb, p->nonce, sizeof p->nonce);
    if (wire_end(&w->wb) == 0)
        work_send_handshake(w, route);
}

static void refuse_auth(work_t *w, uint64_t *counter, const uint8_t id[CRYPTO_ID_LEN],
                        const char *why)
{
    char idhex[2 * CRYPTO_ID_LEN + 1];
    crypto_hex(id, CRYPTO_ID_LEN, idhex);
    (*counter)++;
    log_warn("work.auth_refused", "id=%s why=\"%s\"", idhex, why);
}

static void handle_auth(work_t *w, const uint8_t route[WSESS_ROUTE_LEN],
                        const uint8_t id[CRYPTO_ID_LEN], wire_rd_t *r)
{
    uint8_t pk[CRYPTO_PK_LEN], anonce[WSESS_NONCE_LEN], sig[CRYPTO_SIG_LEN];
    wire_get_raw(r, pk, sizeof pk);
    wire_get_raw(r, anonce, sizeof anonce);
    wire_get_raw(r, sig, sizeof sig);
    if (r->err) {
        w->st.dropped_malformed++;
        log_warn("work.malformed_auth", "why=\"%s\"", err_str(r->err));
        return;
    }
    pending_t *p = work_find_pending(w, route);
    if (!p || loop_now(w->loop) - p->t_ms > WORK_HANDSHAKE_MS) {
        refuse_auth(w, &w->st.auth_no_challenge, id, "no challenge open on this connection");
        return;
    }
    uint8_t sid[WSESS_SID_LEN];
    wsess_transcript(id, pk, w->self_id, route, p->nonce, anonce, sid);
    drop_pending(w, p); /* one AUTH per challenge, good or bad */
    if (crypto_id_check(id, pk) != 0) {
        refuse_auth(w, &w->st.auth_refused_key, id,
                    "the key does not derive this node id (an id has exactly one key)");
        return;
    }
    if (crypto_verify(pk, sid, sizeof sid, sig) != 0) {
        refuse_auth(w, &w->st.auth_refused_sig, id, "bad signature over the challenge");
        return;
    }
    work_agent_t *a = work_add_agent(w, id, NULL);
    if (!a)
        return;
    if (a->session) {
        w->st.sessions_replaced++;
        log_info("work.session_replaced", "agent=%s msg=\"a new connection proved the key\"",
                 a->name);
    }
    work_agent_t *other = work_find_route(w, route);
    if (other && other != a)
        work_end_session(w, other, "its connection was taken by another node");
    if (!a->name[0])
        crypto_hex(id, 8, a->name); /* until its HELLO names it */
    memcpy(a->pk, pk, sizeof pk);
    memcpy(a->route, route, WSESS_ROUTE_LEN);
    wsess_init(&a->sess, sid, 0);
    a->session = 1;
    a->last_hello_ms = 0;
    a->session_ms = loop_now(w->loop);
    a->sessions++;
    w->st.sessions++;
    char idhex[2 * CRYPTO_ID_LEN + 1];
    crypto_hex(id, CRYPTO_ID_LEN, idhex);
    log_info("work.session", "id=%s agent=%s sessions=%llu", idhex, a->name,
             (unsigned long long)a->sessions);
    work_send_welcome(w, a);
}

void work_feed_handshake(work_t *w, const uint8_t route[WSESS_ROUTE_LEN], const uint8_t *plain,
                         size_t len)
{
    wire_hdr_t h;
    wire_rd_t r;
    int rc = wire_parse(plain, len, &h, &r);
    if (rc) {
        w->st.dropped_malformed++;
        log_warn("work.malformed_handshake", "why=\"%s\"", err_str(rc));
    } else if (h.type == WIRE_WORK_OPEN) {
        work_challenge(w, route);
    } else if (h.type == WIRE_WORK_AUTH) {
        handle_auth(w, route, h.sender, &r);
    } else {
        w->st.dropped_unknown_type++;
    }
}
