/* gossip.c - the SWIM core on ZeroMQ: a ROUTER that receives, an LRU-bounded
 * set of DEALERs that send, host names resolved off the loop, sealing/opening
 * with the keyring, replay and size checks, the loop binding and the
 * incarnation file (gossip.h). */
#include "gossip.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "err.h"
#include "log.h"
#include "util.h"
#include "wire.h"

#define PEER_PEND_MAX 8              /* packets held while a new connection comes up */
#define PEER_PEND_BYTES (128 * 1024) /* and their bytes */
#define PEER_CONNECT_GRACE_MS 1000   /* how long they are held */
#define LEAVE_LINGER_MS 200          /* lets the "left" announcement out at close */
#define RECV_BATCH 256               /* packets per readable event, for fairness */
#define RESOLVE_MAX 8                /* host name lookups in flight */
#define RESOLVE_POLL_MS 5            /* how often finished lookups are collected */
#define RESOLVE_RETRY_MS 1000        /* a name that did not resolve is asked again after */
#define PEER_STALE_MS 3000           /* a peer no send reached this long is looked up again */

typedef struct pend {
    uint8_t *buf;
    size_t len;
} pend_t;

/* Host names are resolved here, on threads of their own, and the DEALERs
 * connect to numeric addresses only. libzmq would resolve a name on its I/O
 * thread, synchronously, at every reconnect attempt (ten a second while the
 * peer is unreachable): one slow answer - the name of a departed member,
 * which the local DNS forwards upstream, and a lost DNS packet means 5 s per
 * try - stalls every socket of the context, and the member, deaf and mute,
 * is declared dead by the others. */
typedef struct lookup {
    char addr[SWIM_ADDR_MAX + 1]; /* "host:port" asked */
    char ep[SWIM_ADDR_MAX + 16];  /* "tcp://ip:port"; "" if the name did not resolve */
    bool used, done;
} lookup_t;

typedef struct resolver {
    pthread_mutex_t mu;
    int refs; /* the gossip_t and each lookup thread still running */
    lookup_t q[RESOLVE_MAX];
} resolver_t;

typedef struct lookup_arg {
    resolver_t *r;
    int slot;
} lookup_arg_t;

typedef struct peer {
    char addr[SWIM_ADDR_MAX + 1];
    void *sock;        /* NULL while the name is looked up, or after it failed */
    bool resolving;    /* a lookup of addr is in flight */
    uint64_t retry_at; /* failed lookup: no new one before */
    uint64_t last_used, opened_at, last_ok;
    pend_t pend[PEER_PEND_MAX];
    int npend;
    size_t pend_bytes;
    bool watching;
    struct gossip *g;
} peer_t;

/* Two generations of nonce sets: lookups check both; when the current one
 * is half full it becomes the previous one. Bounded memory, no deletions. */
#define REPLAY_SLOTS GOSSIP_REPLAY_CACHE /* per generation; filled to half */
typedef struct replay_set {
    uint8_t (*n)[CRYPTO_NONCE_LEN];
    size_t count;
} replay_set_t;

struct gossip {
    loop_t *loop;
    void *zctx;
    keyring_t *kr;
    gossip_config_t cfg;
    char advertise[SWIM_ADDR_MAX + 1];
    swim_t *swim;
    void *router;
    peer_t *peers;
    int npeers;
    uint64_t use_clock;
    int64_t timer_id;
    uint64_t timer_at;
    gossip_event_fn fn;
    void *arg;
    gossip_stats_t st;
    replay_set_t replay[2];
    int replay_cur;
    uint8_t *ct, *pt; /* sealing and opening buffers */
    bool left;
    resolver_t *res;
    int nlookups; /* slots of res in use */
    int64_t res_timer;
};

/* ---- incarnation file ---- */

static void inc_path(const char *dir, char *out, size_t cap)
{
    snprintf(out, cap, "%s/incarnation", dir);
}

int gossip_incarnation_load(const char *data_dir, uint64_t *inc)
{
    char path[600], *buf = NULL;
    size_t len;
    *inc = 0;
    inc_path(data_dir, path, sizeof path);
    int rc = util_read_file(path, 64, &buf, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc)
        return rc;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        buf[--len] = '\0';
    int64_t v;
    rc = util_parse_i64(buf, &v);
    free(buf);
    if (rc || v < 0)
        return ERR_PROTO;
    *inc = (uint64_t)v;
    return 0;
}

int gossip_incarnation_store(const char *data_dir, uint64_t inc)
{
    char path[600], text[32];
    inc_path(data_dir, path, sizeof path);
    int n = snprintf(text, sizeof text, "%llu\n", (unsigned long long)inc);
    return util_write_file_atomic(path, text, (size_t)n, 0600, 0);
}

/* ---- configuration ---- */

void gossip_config_default(gossip_config_t *gc)
{
    memset(gc, 0, sizeof *gc);
    swim_config_default(&gc->swim);
    snprintf(gc->bind, sizeof gc->bind, "0.0.0.0:7946");
    gc->max_peers = GOSSIP_DEF_MAX_PEERS;
    gc->hwm = GOSSIP_DEF_HWM;
}

int gossip_parse_seeds(const char *list, gossip_config_t *gc, char *err, size_t errlen)
{
    gc->nseeds = 0;
    const char *p = list ? list : "";
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        size_t n = strcspn(p, ", \t");
        if (n == 0)
            break;
        if (gc->nseeds == SWIM_SEEDS_MAX || n > SWIM_ADDR_MAX) {
            snprintf(err, errlen, "gossip.seeds: more than %d seeds or one longer than %d bytes",
                     SWIM_SEEDS_MAX, SWIM_ADDR_MAX);
            return ERR_CONFIG;
        }
        char *s = gc->seeds[gc->nseeds];
        memcpy(s, p, n);
        s[n] = '\0';
        if (!swim_addr_valid(s)) {
            snprintf(err, errlen, "gossip.seeds: '%s' is not host:port", s);
            return ERR_CONFIG;
        }
        gc->nseeds++;
        p += n;
    }
    return 0;
}

int gossip_config_from_cfg(const cfg_t *c, const char *name, gossip_config_t *gc, char *err,
                           size_t errlen)
{
    gossip_config_default(gc);
    if (name)
        snprintf(gc->name, sizeof gc->name, "%s", name);
    snprintf(gc->bind, sizeof gc->bind, "%s", cfg_str(c, "gossip", "bind"));
    snprintf(gc->advertise, sizeof gc->advertise, "%s", cfg_str(c, "gossip", "advertise"));
    snprintf(gc->data_dir, sizeof gc->data_dir, "%s", cfg_str(c, "node", "data_dir"));
    if (gossip_parse_seeds(cfg_str(c, "gossip", "seeds"), gc, err, errlen))
        return ERR_CONFIG;
    swim_config_t *s = &gc->swim;
    s->probe_interval_ms = (uint32_t)cfg_int(c, "gossip", "probe_interval_ms");
    s->probe_timeout_ms = (uint32_t)cfg_int(c, "gossip", "probe_timeout_ms");
    s->indirect_checks = (uint32_t)cfg_int(c, "gossip", "indirect_checks");
    s->suspicion_mult = (uint32_t)cfg_int(c, "gossip", "suspicion_mult");
    s->suspicion_max_mult = (uint32_t)cfg_int(c, "gossip", "suspicion_max_mult");
    s->retransmit_mult = (uint32_t)cfg_int(c, "gossip", "retransmit_mult");
    s->gossip_interval_ms = (uint32_t)cfg_int(c, "gossip", "gossip_interval_ms");
    s->gossip_nodes = (uint32_t)cfg_int(c, "gossip", "gossip_nodes");
    s->push_pull_interval_ms = (uint32_t)cfg_int(c, "gossip", "push_pull_interval_ms");
    s->dead_reclaim_ms = (uint64_t)cfg_int(c, "gossip", "dead_reclaim_ms");
    return swim_config_check(s, err, errlen);
}

/* ---- replay cache ---- */

static uint64_t nonce_hash(const uint8_t *n)
{
    uint64_t h;
    memcpy(&h, n, sizeof h); /* the nonce is random: its bytes are the hash */
    return h;
}

/* true if the nonce was seen recently; otherwise remembers it. */
static bool replay_seen(struct gossip *g, const uint8_t *nonce)
{
    size_t mask = REPLAY_SLOTS - 1;
    static const uint8_t zero[CRYPTO_NONCE_LEN];
    if (!memcmp(nonce, zero, CRYPTO_NONCE_LEN))
        return true; /* never produced by crypto_seal */
    for (int k = 0; k < 2; k++) {
        replay_set_t *r = &g->replay[k];
        for (size_t i = nonce_hash(nonce) & mask; memcmp(r->n[i], zero, CRYPTO_NONCE_LEN);
             i = (i + 1) & mask)
            if (!memcmp(r->n[i], nonce, CRYPTO_NONCE_LEN))
                return true;
    }
    replay_set_t *cur = &g->replay[g->replay_cur];
    if (cur->count >= REPLAY_SLOTS / 2) {
        g->replay_cur ^= 1;
        cur = &g->replay[g->replay_cur];
        memset(cur->n, 0, REPLAY_SLOTS * sizeof *cur->n);
        cur->count = 0;
    }
    size_t i = nonce_hash(nonce) & mask;
    while (memcmp(cur->n[i], zero, CRYPTO_NONCE_LEN))
        i = (i + 1) & mask;
    memcpy(cur->n[i], nonce, CRYPTO_NONCE_LEN);
    cur->count++;
    return false;
}

/* ---- peers: an LRU of DEALER sockets ---- */

static void peer_drop_pending(peer_t *p)
{
    for (int i = 0; i < p->npend; i++)
        free(p->pend[i].buf);
    p->npend = 0;
    p->pend_bytes = 0;
}

/* Closes p's socket; the entry stays (its name may be looked up again). */
static void peer_sock_close(struct gossip *g, peer_t *p, int linger)
{
    if (!p->sock)
        return;
    if (p->watching)
        loop_sock_del(g->loop, p->sock);
    p->watching = false;
    zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(p->sock);
    p->sock = NULL;
}

static void peer_close(struct gossip *g, peer_t *p, int linger)
{
    peer_sock_close(g, p, linger);
    g->st.send_dropped += (uint64_t)p->npend;
    peer_drop_pending(p);
    *p = g->peers[--g->npeers]; /* watchers name g, not the peer: moving is fine */
}

static void on_peer_writable(loop_t *l, short revents, void *arg);

static void peer_flush(struct gossip *g, peer_t *p)
{
    int i = 0;
    if (mono_ms() - p->opened_at > PEER_CONNECT_GRACE_MS) {
        g->st.send_dropped += (uint64_t)p->npend;
        peer_drop_pending(p);
    }
    for (; p->sock && i < p->npend; i++) {
        if (zmq_send(p->sock, p->pend[i].buf, p->pend[i].len, ZMQ_DONTWAIT) < 0)
            break;
        g->st.sent++;
        p->last_ok = mono_ms();
        free(p->pend[i].buf);
        p->pend_bytes -= p->pend[i].len;
    }
    memmove(p->pend, p->pend + i, (size_t)(p->npend - i) * sizeof *p->pend);
    p->npend -= i;
    if (!p->sock)
        return;
    if (p->npend == 0 && p->watching) {
        loop_sock_del(g->loop, p->sock);
        p->watching = false;
    } else if (p->npend > 0 && !p->watching) {
        p->watching = loop_sock_add(g->loop, p->sock, ZMQ_POLLOUT, on_peer_writable, g) == 0;
    }
}

static void on_peer_writable(loop_t *l, short revents, void *arg)
{
    (void)l;
    (void)revents;
    struct gossip *g = arg;
    /* The watcher's arg is the gossip_t: peers move in the array, so flush
     * every peer with something pending (at most max_peers). */
    for (int i = 0; i < g->npeers; i++)
        if (g->peers[i].npend && g->peers[i].sock)
            peer_flush(g, &g->peers[i]);
}

/* Connects p to the numeric endpoint ep ("tcp://ip:port"). */
static int peer_connect(struct gossip *g, peer_t *p, const char *ep)
{
    void *s = zmq_socket(g->zctx, ZMQ_DEALER);
    if (!s)
        return -1;
    int zero = 0, one = 1, hwm = g->cfg.hwm, ipv6 = strchr(ep, '[') != NULL;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof one);
    zmq_setsockopt(s, ZMQ_IPV6, &ipv6, sizeof ipv6);
    if (zmq_connect(s, ep) != 0) {
        zmq_close(s);
        return -1;
    }
    p->sock = s;
    p->opened_at = p->last_ok = mono_ms();
    return 0;
}

/* "tcp://ip:port" for a numeric host, else "" (a name: look it up). */
static void numeric_endpoint(const char *addr, char *ep, size_t cap)
{
    char host[SWIM_ADDR_MAX + 1];
    int port;
    struct in6_addr a6;
    ep[0] = '\0';
    if (cfg_split_addr(addr, host, sizeof host, &port) != 0)
        return;
    if (inet_pton(AF_INET, host, &a6) == 1)
        snprintf(ep, cap, "tcp://%s:%d", host, port);
    else if (inet_pton(AF_INET6, host, &a6) == 1)
        snprintf(ep, cap, "tcp://[%s]:%d", host, port);
}

static void resolver_unref(resolver_t *r)
{
    pthread_mutex_lock(&r->mu);
    bool last = --r->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (last) {
        pthread_mutex_destroy(&r->mu);
        free(r);
    }
}

/* A lookup thread: getaddrinfo (IPv4 first, as libzmq without ZMQ_IPV6). */
static void *lookup_main(void *arg)
{
    lookup_arg_t a = *(lookup_arg_t *)arg;
    free(arg);
    lookup_t *q = &a.r->q[a.slot]; /* addr is ours to read until done is set */
    char host[SWIM_ADDR_MAX + 1], ep[SWIM_ADDR_MAX + 16] = "";
    int port;
    if (cfg_split_addr(q->addr, host, sizeof host, &port) == 0) {
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof hints);
        hints.ai_socktype = SOCK_STREAM;
        for (int fam = 0; fam < 2 && !ep[0]; fam++) {
            hints.ai_family = fam == 0 ? AF_INET : AF_INET6;
            if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
                continue;
            char ip[INET6_ADDRSTRLEN];
            const void *in = fam == 0
                                 ? (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr
                                 : (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr;
            if (inet_ntop(res->ai_family, in, ip, sizeof ip))
                snprintf(ep, sizeof ep, fam == 0 ? "tcp://%s:%d" : "tcp://[%s]:%d", ip, port);
            freeaddrinfo(res);
            res = NULL;
        }
    }
    pthread_mutex_lock(&a.r->mu);
    memcpy(q->ep, ep, sizeof ep);
    q->done = true;
    pthread_mutex_unlock(&a.r->mu);
    resolver_unref(a.r);
    return NULL;
}

static int64_t on_lookups(loop_t *l, void *arg);

/* Starts a lookup of p->addr; false if none can start now. */
static bool peer_resolve(struct gossip *g, peer_t *p)
{
    resolver_t *r = g->res;
    int slot = -1;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < RESOLVE_MAX && slot < 0; i++)
        if (!r->q[i].used)
            slot = i;
    if (slot >= 0) {
        r->q[slot].used = true;
        r->q[slot].done = false;
        snprintf(r->q[slot].addr, sizeof r->q[slot].addr, "%s", p->addr);
        r->refs++;
    }
    pthread_mutex_unlock(&r->mu);
    if (slot < 0)
        return false;
    lookup_arg_t *a = malloc(sizeof *a);
    pthread_attr_t at;
    pthread_t th;
    bool ok = a && pthread_attr_init(&at) == 0;
    if (ok) {
        *a = (lookup_arg_t){r, slot};
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        ok = pthread_create(&th, &at, lookup_main, a) == 0;
        pthread_attr_destroy(&at);
    }
    if (!ok) {
        free(a);
        pthread_mutex_lock(&r->mu);
        r->q[slot].used = false;
        r->refs--;
        pthread_mutex_unlock(&r->mu);
        return false;
    }
    g->nlookups++;
    p->resolving = true;
    p->opened_at = mono_ms(); /* what waits in pend waits at most the grace */
    if (g->res_timer <= 0)
        g->res_timer = loop_timer_add(g->loop, RESOLVE_POLL_MS, on_lookups, g);
    return true;
}

static peer_t *peer_find(struct gossip *g, const char *addr)
{
    for (int i = 0; i < g->npeers; i++)
        if (!strcmp(g->peers[i].addr, addr))
            return &g->peers[i];
    return NULL;
}

/* Collects finished lookups: connects their peers, or drops what waited. */
static int64_t on_lookups(loop_t *l, void *arg)
{
    (void)l;
    struct gossip *g = arg;
    lookup_t done[RESOLVE_MAX];
    int n = 0;
    pthread_mutex_lock(&g->res->mu);
    for (int i = 0; i < RESOLVE_MAX; i++)
        if (g->res->q[i].used && g->res->q[i].done) {
            done[n++] = g->res->q[i];
            g->res->q[i].used = false;
        }
    pthread_mutex_unlock(&g->res->mu);
    g->nlookups -= n;
    for (int i = 0; i < n; i++) {
        peer_t *p = peer_find(g, done[i].addr);
        if (!p || !p->resolving)
            continue; /* evicted meanwhile, or an older lookup */
        p->resolving = false;
        if (done[i].ep[0] && peer_connect(g, p, done[i].ep) == 0) {
            peer_flush(g, p);
            continue;
        }
        g->st.resolve_failures++;
        g->st.send_dropped += (uint64_t)p->npend;
        peer_drop_pending(p);
        p->retry_at = mono_ms() + RESOLVE_RETRY_MS;
    }
    if (g->nlookups > 0)
        return RESOLVE_POLL_MS;
    g->res_timer = 0;
    return LOOP_TIMER_STOP;
}

static peer_t *peer_get(struct gossip *g, const char *addr)
{
    g->use_clock++;
    peer_t *p = peer_find(g, addr);
    if (p) {
        p->last_used = g->use_clock;
        return p;
    }
    if (g->npeers == g->cfg.max_peers) {
        int lru = 0;
        for (int i = 1; i < g->npeers; i++)
            if (g->peers[i].last_used < g->peers[lru].last_used)
                lru = i;
        peer_close(g, &g->peers[lru], 0);
        g->st.peers_evicted++;
    }
    p = &g->peers[g->npeers++];
    memset(p, 0, sizeof *p);
    snprintf(p->addr, sizeof p->addr, "%s", addr);
    p->g = g;
    p->last_used = g->use_clock;
    char ep[SWIM_ADDR_MAX + 16];
    numeric_endpoint(addr, ep, sizeof ep);
    if (ep[0] ? peer_connect(g, p, ep) != 0 : !peer_resolve(g, p)) {
        g->npeers--;
        return NULL;
    }
    return p;
}

/* Holds a sealed packet for p while its connection or name is pending. */
static void peer_hold(struct gossip *g, peer_t *p, const uint8_t *ct, size_t ctlen)
{
    if (mono_ms() - p->opened_at > PEER_CONNECT_GRACE_MS || p->npend == PEER_PEND_MAX ||
        p->pend_bytes + ctlen > PEER_PEND_BYTES) {
        g->st.send_dropped++;
        return;
    }
    uint8_t *copy = malloc(ctlen);
    if (!copy) {
        g->st.send_dropped++;
        return;
    }
    memcpy(copy, ct, ctlen);
    p->pend[p->npend++] = (pend_t){copy, ctlen};
    p->pend_bytes += ctlen;
    peer_flush(g, p);
}

/* io.send of the core: seal, then a non-blocking send on the peer's DEALER.
 * With ZMQ_IMMEDIATE nothing queues for an unconnected peer, so packets
 * sent while a new connection comes up (or its name is looked up) wait
 * here, briefly and boundedly. A named peer no send has reached for
 * PEER_STALE_MS is looked up again: its address may have changed. */
static void io_send(void *ctx, const char *addr, const uint8_t *buf, size_t len)
{
    struct gossip *g = ctx;
    size_t ctlen;
    if (crypto_seal(g->kr, (const uint8_t *)GOSSIP_AD, strlen(GOSSIP_AD), buf, len, g->ct,
                    GOSSIP_MAX_PACKET, &ctlen) != 0) {
        g->st.send_dropped++;
        return;
    }
    peer_t *p = peer_get(g, addr);
    if (!p) {
        g->st.send_dropped++;
        return;
    }
    uint64_t now = mono_ms();
    if (!p->sock) {
        if (!p->resolving && (now < p->retry_at || !peer_resolve(g, p))) {
            g->st.send_dropped++;
            return;
        }
        peer_hold(g, p, g->ct, ctlen);
        return;
    }
    if (p->npend == 0 && zmq_send(p->sock, g->ct, ctlen, ZMQ_DONTWAIT) >= 0) {
        g->st.sent++;
        p->last_ok = now;
        return;
    }
    if (now - p->last_ok > PEER_STALE_MS && now - p->opened_at > PEER_STALE_MS) {
        char ep[SWIM_ADDR_MAX + 16];
        numeric_endpoint(addr, ep, sizeof ep);
        if (!ep[0]) {
            peer_sock_close(g, p, 0);
            g->st.send_dropped += (uint64_t)p->npend;
            peer_drop_pending(p);
            if (!peer_resolve(g, p)) {
                g->st.send_dropped++;
                return;
            }
        }
    }
    peer_hold(g, p, g->ct, ctlen);
}

static void io_event(void *ctx, const swim_event_t *ev)
{
    struct gossip *g = ctx;
    if (ev->type == SWIM_EV_DEAD || ev->type == SWIM_EV_LEFT) {
        /* Whatever waits for a dead peer is stale: close its socket. */
        for (int i = 0; i < g->npeers; i++)
            if (!strcmp(g->peers[i].addr, ev->m.addr)) {
                peer_close(g, &g->peers[i], 0);
                break;
            }
    }
    if (g->fn)
        g->fn(g->arg, ev);
}

static int io_persist(void *ctx, uint64_t inc)
{
    struct gossip *g = ctx;
    if (!g->cfg.data_dir[0])
        return 0;
    int rc = gossip_incarnation_store(g->cfg.data_dir, inc);
    if (rc)
        log_error("gossip.persist", "dir=%s err=\"%s\"", g->cfg.data_dir, err_str(rc));
    return rc;
}

/* ---- loop binding ---- */

static int64_t on_timer(loop_t *l, void *arg);

/* Moves the timer earlier if the core's next deadline did. */
static void rearm(struct gossip *g)
{
    uint64_t d = swim_next_deadline(g->swim);
    if (g->timer_id > 0 && d >= g->timer_at)
        return;
    if (g->timer_id > 0)
        loop_timer_del(g->loop, g->timer_id);
    uint64_t now = mono_ms();
    g->timer_at = d;
    g->timer_id = loop_timer_add(g->loop, d > now ? d - now : 0, on_timer, g);
}

static int64_t on_timer(loop_t *l, void *arg)
{
    (void)l;
    struct gossip *g = arg;
    uint64_t now = mono_ms();
    uint64_t d = swim_tick(g->swim, now);
    g->timer_at = d;
    return d > now ? (int64_t)(d - now) : 0;
}

static void on_packet(struct gossip *g, const uint8_t *ct, size_t len)
{
    g->st.received++;
    if (len > GOSSIP_MAX_PACKET || len < CRYPTO_SEAL_OVERHEAD + WIRE_HDR_LEN) {
        g->st.drop_size++;
        return;
    }
    size_t ptlen;
    if (crypto_open(g->kr, (const uint8_t *)GOSSIP_AD, strlen(GOSSIP_AD), ct, len, g->pt,
                    GOSSIP_MAX_PACKET, &ptlen) != 0) {
        g->st.drop_crypto++;
        return;
    }
    /* Only authentic packets enter the replay cache, so forgeries cannot
     * flush it. */
    if (replay_seen(g, ct)) {
        g->st.drop_replay++;
        return;
    }
    swim_recv(g->swim, g->pt, ptlen, mono_ms());
}

static void on_router(loop_t *l, short revents, void *arg)
{
    (void)l;
    (void)revents;
    struct gossip *g = arg;
    for (int n = 0; n < RECV_BATCH; n++) {
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        if (zmq_msg_recv(&id, g->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            break;
        }
        int more = zmq_msg_more(&id);
        zmq_msg_close(&id);
        if (!more)
            continue;
        zmq_msg_init(&body);
        if (zmq_msg_recv(&body, g->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&body);
            break;
        }
        bool extra = zmq_msg_more(&body);
        if (!extra)
            on_packet(g, zmq_msg_data(&body), zmq_msg_size(&body));
        else
            g->st.drop_size++;
        zmq_msg_close(&body);
        while (extra) { /* a packet is exactly one frame: drop the rest */
            zmq_msg_t x;
            zmq_msg_init(&x);
            if (zmq_msg_recv(&x, g->router, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&x);
                break;
            }
            extra = zmq_msg_more(&x);
            zmq_msg_close(&x);
        }
    }
    rearm(g);
}

/* ---- lifecycle ---- */

static int derive_advertise(const gossip_config_t *gc, char *out, size_t cap)
{
    char host[SWIM_ADDR_MAX + 1];
    int port;
    if (gc->advertise[0]) {
        snprintf(out, cap, "%s", gc->advertise);
        return swim_addr_valid(out) ? 0 : ERR_CONFIG;
    }
    if (cfg_split_addr(gc->bind, host, sizeof host, &port) != 0)
        return ERR_CONFIG;
    if (!strcmp(host, "0.0.0.0") || !strcmp(host, "*") || !strcmp(host, "::")) {
        if (gethostname(host, sizeof host) != 0)
            return ERR_CONFIG;
        host[sizeof host - 1] = '\0';
    }
    snprintf(out, cap, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    return swim_addr_valid(out) ? 0 : ERR_CONFIG;
}

static void *bind_router(struct gossip *g, char *err, size_t errlen)
{
    char host[SWIM_ADDR_MAX + 1], ep[SWIM_ADDR_MAX + 16];
    int port;
    if (cfg_split_addr(g->cfg.bind, host, sizeof host, &port) != 0) {
        snprintf(err, errlen, "gossip.bind: '%s' is not host:port", g->cfg.bind);
        return NULL;
    }
    bool v6 = strchr(host, ':') != NULL;
    if (!strcmp(host, "0.0.0.0"))
        snprintf(host, sizeof host, "*");
    snprintf(ep, sizeof ep, v6 ? "tcp://[%s]:%d" : "tcp://%s:%d", host, port);
    void *s = zmq_socket(g->zctx, ZMQ_ROUTER);
    if (!s) {
        snprintf(err, errlen, "gossip: zmq_socket: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int zero = 0, hwm = g->cfg.hwm * 16, ipv6 = v6; /* many senders share this queue */
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_IPV6, &ipv6, sizeof ipv6);
    int64_t maxmsg = GOSSIP_MAX_PACKET; /* larger messages cut the connection */
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (zmq_bind(s, ep) != 0) {
        snprintf(err, errlen, "gossip: cannot bind %s: %s", ep, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    return s;
}

static uint64_t io_clock_us(void *ctx)
{
    (void)ctx;
    return mono_us();
}

gossip_t *gossip_new(loop_t *loop, void *zctx, const gossip_config_t *gc,
                     const node_identity_t *idn, keyring_t *kr, const uint8_t *meta, size_t metalen,
                     gossip_event_fn fn, void *arg, char *err, size_t errlen)
{
    assert(loop && zctx && gc && idn && kr);
    if (metalen > SWIM_META_MAX) {
        snprintf(err, errlen, "gossip: metadata of %zu bytes exceeds %d", metalen, SWIM_META_MAX);
        return NULL;
    }
    if (swim_config_check(&gc->swim, err, errlen))
        return NULL;
    if (!swim_text_valid(gc->name, SWIM_NAME_MAX)) {
        snprintf(err, errlen, "gossip: node name must be 1..%d printable bytes", SWIM_NAME_MAX);
        return NULL;
    }
    struct gossip *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "gossip: out of memory");
        return NULL;
    }
    g->loop = loop;
    g->zctx = zctx;
    g->kr = kr;
    g->cfg = *gc;
    if (g->cfg.max_peers < 1)
        g->cfg.max_peers = GOSSIP_DEF_MAX_PEERS;
    if (g->cfg.hwm < 1)
        g->cfg.hwm = GOSSIP_DEF_HWM;
    g->fn = fn;
    g->arg = arg;
    g->peers = calloc((size_t)g->cfg.max_peers, sizeof *g->peers);
    g->ct = malloc(GOSSIP_MAX_PACKET);
    g->pt = malloc(GOSSIP_MAX_PACKET);
    g->res = calloc(1, sizeof *g->res);
    if (g->res) {
        pthread_mutex_init(&g->res->mu, NULL);
        g->res->refs = 1;
    }
    for (int k = 0; k < 2; k++)
        g->replay[k].n = calloc(REPLAY_SLOTS, sizeof *g->replay[k].n);
    if (!g->peers || !g->ct || !g->pt || !g->res || !g->replay[0].n || !g->replay[1].n) {
        snprintf(err, errlen, "gossip: out of memory");
        goto fail;
    }
    if (derive_advertise(gc, g->advertise, sizeof g->advertise)) {
        snprintf(err, errlen,
                 "gossip.advertise: cannot derive a host:port (set [gossip] advertise)");
        goto fail;
    }
    uint64_t floor = 0;
    if (gc->data_dir[0]) {
        int rc = gossip_incarnation_load(gc->data_dir, &floor);
        if (rc) {
            snprintf(err, errlen, "gossip: %s/incarnation: %s", gc->data_dir, err_str(rc));
            goto fail;
        }
    }
    g->router = bind_router(g, err, errlen);
    if (!g->router)
        goto fail;
    swim_self_t self = {.name = gc->name,
                        .id = idn->id,
                        .addr = g->advertise,
                        .meta = meta,
                        .metalen = metalen,
                        .incarnation_floor = floor};
    swim_io_t io = {.ctx = g,
                    .send = io_send,
                    .event = io_event,
                    .persist_incarnation = io_persist,
                    .clock_us = io_clock_us};
    uint64_t seed;
    crypto_random(&seed, sizeof seed);
    uint64_t now = mono_ms();
    g->swim = swim_new(&gc->swim, &self, &io, now, seed);
    if (!g->swim) {
        snprintf(err, errlen, "gossip: out of memory");
        goto fail;
    }
    if (loop_sock_add(loop, g->router, ZMQ_POLLIN, on_router, g) != 0) {
        snprintf(err, errlen, "gossip: cannot watch the socket");
        goto fail;
    }
    const char *seeds[SWIM_SEEDS_MAX];
    for (size_t i = 0; i < gc->nseeds; i++)
        seeds[i] = gc->seeds[i];
    swim_join(g->swim, seeds, gc->nseeds, now);
    rearm(g);
    log_info("gossip.start", "name=%s advertise=%s bind=%s seeds=%zu incarnation=%llu", gc->name,
             g->advertise, gc->bind, gc->nseeds, (unsigned long long)swim_incarnation(g->swim));
    return g;
fail:
    gossip_destroy(&g);
    return NULL;
}

gossip_t *gossip_new_from_config(loop_t *loop, void *zctx, const cfg_t *c, const char *name,
                                 const node_identity_t *idn, keyring_t *kr, const uint8_t *meta,
                                 size_t metalen, gossip_event_fn fn, void *arg, char *err,
                                 size_t errlen)
{
    gossip_config_t gc;
    if (gossip_config_from_cfg(c, name, &gc, err, errlen))
        return NULL;
    return gossip_new(loop, zctx, &gc, idn, kr, meta, metalen, fn, arg, err, errlen);
}

void gossip_destroy(gossip_t **gp)
{
    if (!gp || !*gp)
        return;
    struct gossip *g = *gp;
    if (g->timer_id > 0)
        loop_timer_del(g->loop, g->timer_id);
    if (g->router) {
        loop_sock_del(g->loop, g->router);
        zmq_close(g->router);
    }
    if (g->res_timer > 0)
        loop_timer_del(g->loop, g->res_timer);
    while (g->npeers > 0)
        peer_close(g, &g->peers[g->npeers - 1], g->left ? LEAVE_LINGER_MS : 0);
    if (g->res)
        resolver_unref(g->res); /* lookups still running free it when they end */
    swim_destroy(&g->swim);
    free(g->peers);
    free(g->ct);
    free(g->pt);
    free(g->replay[0].n);
    free(g->replay[1].n);
    free(g);
    *gp = NULL;
}

int gossip_set_meta(gossip_t *g, const uint8_t *meta, size_t len)
{
    int rc = swim_set_meta(g->swim, meta, len, mono_ms());
    rearm(g);
    return rc;
}

int gossip_leave(gossip_t *g, int timeout_ms)
{
    uint64_t end = mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    swim_leave(g->swim, mono_ms());
    g->left = true;
    rearm(g); /* the announcement rides on the next gossip tick */
    while (!swim_leave_done(g->swim)) {
        uint64_t now = mono_ms();
        if (now >= end)
            return ERR_TIMEOUT;
        loop_run_once(g->loop, (int)(end - now));
    }
    return 0;
}

int gossip_members(const gossip_t *g, gossip_member_t **out)
{
    size_t n = swim_member_count(g->swim);
    *out = calloc(n ? n : 1, sizeof **out);
    if (!*out)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        swim_member_info_t mi;
        gossip_member_t *m = &(*out)[i];
        swim_member_get(g->swim, i, &mi);
        snprintf(m->name, sizeof m->name, "%s", mi.name);
        memcpy(m->id, mi.id, SWIM_ID_LEN);
        snprintf(m->addr, sizeof m->addr, "%s", mi.addr);
        m->status = mi.status;
        m->incarnation = mi.incarnation;
        memcpy(m->meta, mi.meta, mi.metalen);
        m->metalen = mi.metalen;
        m->self = mi.self;
    }
    return (int)n;
}

void gossip_get_stats(const gossip_t *g, gossip_stats_t *out)
{
    *out = g->st;
    swim_get_stats(g->swim, &out->swim);
    out->peers_open = (uint32_t)g->npeers;
}

const char *gossip_advertise(const gossip_t *g)
{
    return g->advertise;
}

const swim_t *gossip_swim(const gossip_t *g)
{
    return g->swim;
}
