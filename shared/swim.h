/* swim.h - cluster membership: SWIM with the Lifeguard refinements, as
 * HashiCorp memberlist implements them. Transport-agnostic and clock-injected:
 * the same code runs in the daemons (shared/gossip.c) and in tests/sim/.
 *
 * How to drive it. The owner gives every call the current monotonic time in
 * ms (`now`) and:
 *   - feeds every packet received to swim_recv();
 *   - calls swim_tick() when the deadline it returned last (or the one of
 *     swim_next_deadline(), which any call may move earlier) has come;
 *   - delivers the bytes handed to io.send() to the member at `addr`, best
 *     effort (loss, reordering and duplicates are tolerated).
 * Nothing in the core blocks, sleeps, reads a clock or draws randomness
 * other than from the seed given to swim_new(): equal inputs give equal runs.
 *
 * Callbacks (io.send, io.event, io.persist_incarnation) run synchronously
 * inside swim calls; they must not call back into swim_* functions other
 * than the const getters.
 */
#ifndef PETRI_SWIM_H
#define PETRI_SWIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SWIM_ID_LEN 16
#define SWIM_NAME_MAX 64       /* bytes of a member name, NUL excluded */
#define SWIM_ADDR_MAX 128      /* bytes of an advertise "host:port", NUL excluded */
#define SWIM_META_MAX 512      /* bytes of member metadata */
#define SWIM_MEMBERS_MAX 16384 /* table cap; alive news beyond it is dropped */
#define SWIM_SEEDS_MAX 16
#define SWIM_PACKET_MAX 60000 /* largest packet the core emits (sealing adds 40) */

typedef enum swim_status {
    SWIM_ALIVE = 0,
    SWIM_SUSPECT = 1,
    SWIM_DEAD = 2,
    SWIM_LEFT = 3, /* left gracefully; never suspected again at that incarnation */
} swim_status_t;

/* "alive", "suspect", "dead", "left", or "?" */
const char *swim_status_str(int status);

/* ---- configuration ------------------------------------------------------
 * Defaults are memberlist's DefaultLANConfig unless noted; the reasons are in
 * SWIM_CFG_OPTS below, the one table of defaults. */
#define SWIM_DEF_PROBE_INTERVAL_MS 1000
#define SWIM_DEF_PROBE_TIMEOUT_MS 500
#define SWIM_DEF_INDIRECT_CHECKS 3
#define SWIM_DEF_SUSPICION_MULT 4
#define SWIM_DEF_SUSPICION_MAX_MULT 6
#define SWIM_DEF_RETRANSMIT_MULT 4
#define SWIM_DEF_GOSSIP_INTERVAL_MS 200
#define SWIM_DEF_GOSSIP_NODES 3
#define SWIM_DEF_PUSH_PULL_INTERVAL_MS 30000
#define SWIM_DEF_AWARENESS_MAX 8
#define SWIM_DEF_DEAD_RECLAIM_MS 3600000
#define SWIM_DEF_GOSSIP_TO_DEAD_MS 30000
#define SWIM_DEF_RECONNECT_INTERVAL_MS 10000

typedef struct swim_config {
    uint32_t probe_interval_ms;     /* one probe per interval (x awareness) */
    uint32_t probe_timeout_ms;      /* direct ack wait before ping-req (x awareness) */
    uint32_t indirect_checks;       /* ping-req fan-out */
    uint32_t suspicion_mult;        /* min suspicion = mult * log10(n) * interval */
    uint32_t suspicion_max_mult;    /* max suspicion = max_mult * min */
    uint32_t retransmit_mult;       /* sends per update = mult * ceil(log10(n+1)) */
    uint32_t gossip_interval_ms;    /* dissemination tick */
    uint32_t gossip_nodes;          /* members gossiped to per tick */
    uint32_t push_pull_interval_ms; /* full-state sync, scaled up past 32 members */
    uint32_t awareness_max;         /* local health score stays in [0, max-1] */
    uint64_t dead_reclaim_ms;       /* dead/left members kept (and retried) this long */
    uint32_t gossip_to_dead_ms;     /* dead members still get gossip this long */
    uint32_t reconnect_interval_ms; /* tick of re-join attempts to dead members/seeds */
    bool lifeguard;                 /* false: plain SWIM (fixed suspicion timeout = min, no
                                     * awareness, no nacks, no confirmations, no buddy) */
} swim_config_t;

/* Fills every field with its default (lifeguard on). */
void swim_config_default(swim_config_t *cfg);
/* 0, or ERR_CONFIG naming the bad field in err[errlen]. */
int swim_config_check(const swim_config_t *cfg, char *err, size_t errlen);

#define SWIM_STR_(x) #x
#define SWIM_STR(x) SWIM_STR_(x)
/* Entries of a cfg_opt_t table (shared/config.h) for the core's knobs, in the
 * daemons' [gossip] section. Use inside a static table:
 *   static const cfg_opt_t opts[] = { ..., SWIM_CFG_OPTS, ..., {NULL} };
 * swim_config_from_cfg() (gossip.h) reads them back. */
/* clang-format off */
#define SWIM_CFG_OPTS                                                                              \
    {"gossip", "probe_interval_ms", CFG_INT, SWIM_STR(SWIM_DEF_PROBE_INTERVAL_MS), 10, 600000, 0,  \
     "memberlist LAN default: one probe a second keeps the load per member constant"},             \
    {"gossip", "probe_timeout_ms", CFG_INT, SWIM_STR(SWIM_DEF_PROBE_TIMEOUT_MS), 1, 600000, 0,     \
     "memberlist LAN default: far above a LAN round trip, half the interval"},                     \
    {"gossip", "indirect_checks", CFG_INT, SWIM_STR(SWIM_DEF_INDIRECT_CHECKS), 0, 16, 0,           \
     "memberlist LAN default: 3 paths make a lost packet rarely look like death"},                 \
    {"gossip", "suspicion_mult", CFG_INT, SWIM_STR(SWIM_DEF_SUSPICION_MULT), 1, 64, 0,             \
     "memberlist LAN default: min suspicion = 4 * log10(n) probe intervals"},                      \
    {"gossip", "suspicion_max_mult", CFG_INT, SWIM_STR(SWIM_DEF_SUSPICION_MAX_MULT), 1, 64, 0,     \
     "memberlist LAN default (Lifeguard): an unconfirmed accusation waits 6x the min"},            \
    {"gossip", "retransmit_mult", CFG_INT, SWIM_STR(SWIM_DEF_RETRANSMIT_MULT), 1, 20, 0,           \
     "memberlist LAN default: each update is sent 4 * ceil(log10(n+1)) times"},                    \
    {"gossip", "gossip_interval_ms", CFG_INT, SWIM_STR(SWIM_DEF_GOSSIP_INTERVAL_MS), 1, 60000, 0,  \
     "memberlist LAN default: news reaches 99% of 1000 members in about a second"},                \
    {"gossip", "gossip_nodes", CFG_INT, SWIM_STR(SWIM_DEF_GOSSIP_NODES), 1, 32, 0,                 \
     "memberlist LAN default: fan-out 3 per gossip tick"},                                         \
    {"gossip", "push_pull_interval_ms", CFG_INT, SWIM_STR(SWIM_DEF_PUSH_PULL_INTERVAL_MS), 0,      \
     86400000, 0,                                                                                  \
     "memberlist LAN default: full-state sync every 30 s, scaled up past 32 members; 0 = off"},    \
    {"gossip", "dead_reclaim_ms", CFG_INT, SWIM_STR(SWIM_DEF_DEAD_RECLAIM_MS), 0, 604800000, 0,    \
     "dead members are kept and retried an hour: shorter partitions heal by themselves"}
/* clang-format on */

/* ---- identity, I/O and events ---------------------------------------------- */

typedef struct swim_self {
    const char *name;           /* 1..SWIM_NAME_MAX bytes, no control characters */
    const uint8_t *id;          /* SWIM_ID_LEN bytes, not all zero; stable across restarts */
    const char *addr;           /* advertise "host:port" others send to */
    const uint8_t *meta;        /* may be NULL when metalen is 0 */
    size_t metalen;             /* <= SWIM_META_MAX */
    uint64_t incarnation_floor; /* highest incarnation ever persisted (0 on first start) */
} swim_self_t;

typedef struct swim_member_info {
    const uint8_t *id; /* SWIM_ID_LEN bytes */
    const char *name;
    const char *addr;
    const uint8_t *meta;
    size_t metalen;
    uint64_t incarnation;
    swim_status_t status;
    uint64_t since_ms; /* time of the last status change, swim clock */
    bool self;
} swim_member_info_t;

typedef enum swim_event_type {
    SWIM_EV_JOIN = 0, /* first heard of (alive) */
    SWIM_EV_ALIVE,    /* back to alive from suspect, dead or left (a refutation or a re-join) */
    SWIM_EV_SUSPECT,
    SWIM_EV_DEAD,
    SWIM_EV_LEFT,
    SWIM_EV_UPDATE, /* metadata or address changed */
} swim_event_type_t;

/* "join", "alive", "suspect", "dead", "left", "update", or "?" */
const char *swim_event_str(int type);

typedef struct swim_event {
    swim_event_type_t type;
    swim_status_t old_status;
    swim_member_info_t m; /* pointers valid during the callback only */
    const uint8_t *from;  /* accuser id for SUSPECT/DEAD, else NULL */
} swim_event_t;

typedef struct swim_io {
    void *ctx;
    /* Best-effort send of one packet (buf valid during the call only). */
    void (*send)(void *ctx, const char *addr, const uint8_t *buf, size_t len);
    /* Membership change about another member (never about self); may be NULL. */
    void (*event)(void *ctx, const swim_event_t *ev);
    /* Must make `inc` durable before returning 0; the core calls it before it
     * announces any incarnation above the last one persisted. On failure the
     * core still uses the number (staying in the cluster beats restart
     * safety) and counts persist_failures. May be NULL (nothing persisted). */
    int (*persist_incarnation)(void *ctx, uint64_t inc);
    /* Optional (NULL = no round-trip stats): a microsecond monotonic clock,
     * used only to measure probe round trips, never for decisions. */
    uint64_t (*clock_us)(void *ctx);
} swim_io_t;

typedef struct swim_stats {
    uint64_t probes, acks, indirect_acks, probe_failures;
    uint64_t rtt_count, rtt_sum_us, rtt_min_us, rtt_max_us; /* direct probe round trips */
    uint64_t pingreqs_sent, pingreqs_recv, nacks_sent, nacks_recv;
    uint64_t suspicions;      /* suspect transitions recorded here (any accuser) */
    uint64_t suspects_raised; /* of which after a failed probe of our own */
    uint64_t confirmations;   /* independent suspicion confirmations counted */
    uint64_t refutations;     /* times we bumped our incarnation to refute */
    uint64_t deaths_declared; /* suspicion timeouts that fired here */
    uint64_t msgs_in, msgs_out, bytes_in, bytes_out;
    uint64_t syncs_sent, syncs_recv, reconnects, persist_failures;
    /* drops, by reason */
    uint64_t drop_malformed, drop_version, drop_unknown_type, drop_stale, drop_wrong_target;
    uint64_t drop_self, drop_member_cap, drop_relay_full, drop_leaving;
    /* gauges */
    uint32_t awareness, bcast_queue;
    uint32_t n_alive, n_suspect, n_dead, n_left; /* others, self excluded */
} swim_stats_t;

typedef struct swim swim_t;

/* Creates a member that knows only itself. Incarnation = floor + 1 (persisted
 * first). Returns NULL on allocation failure; asserts on an invalid cfg/self
 * (check cfg with swim_config_check first). cfg, self and io are copied. */
swim_t *swim_new(const swim_config_t *cfg, const swim_self_t *self, const swim_io_t *io,
                 uint64_t now_ms, uint64_t rng_seed);
void swim_destroy(swim_t **s);

/* Remembers up to SWIM_SEEDS_MAX seed addresses and asks them for a full-state
 * sync. Retried every probe interval while no other member is alive, and the
 * seeds stay re-join candidates forever. ERR_INVAL for a malformed address. */
int swim_join(swim_t *s, const char *const *seeds, size_t n, uint64_t now);

/* Processes one received packet. Returns 0, or the reason it was dropped
 * (ERR_PROTO, ERR_TRUNC, ERR_TOOBIG, ERR_VERSION, ERR_UNKNOWN_TYPE, ERR_STATE
 * for a stale or misdirected one); every drop is counted, none is fatal. */
int swim_recv(swim_t *s, const uint8_t *buf, size_t len, uint64_t now);

/* Runs everything that is due at `now`; returns the next deadline (absolute ms). */
uint64_t swim_tick(swim_t *s, uint64_t now);
/* The earliest pending deadline (absolute ms). */
uint64_t swim_next_deadline(const swim_t *s);

/* New metadata (<= SWIM_META_MAX, else ERR_TOOBIG): bumps the incarnation
 * and broadcasts it; identical metadata is a no-op. ERR_STATE after
 * swim_leave. */
int swim_set_meta(swim_t *s, const uint8_t *meta, size_t len, uint64_t now);

/* Graceful leave: broadcasts "left" about self and stops probing and
 * refuting. Keep driving swim_tick until swim_leave_done() (or a time cap). */
int swim_leave(swim_t *s, uint64_t now);
bool swim_leave_done(const swim_t *s);

/* ---- members and counters ---------------------------------------------------
 * Info pointers stay valid until the next non-const call on s. */
size_t swim_member_count(const swim_t *s); /* including self */
/* i in [0, count): arbitrary order. ERR_NOTFOUND past the end. */
int swim_member_get(const swim_t *s, size_t i, swim_member_info_t *out);
int swim_member_find(const swim_t *s, const uint8_t id[SWIM_ID_LEN], swim_member_info_t *out);
void swim_get_stats(const swim_t *s, swim_stats_t *out);
uint64_t swim_incarnation(const swim_t *s);
const swim_config_t *swim_config(const swim_t *s);

/* true if s is a plausible advertise address: "host:port", 3..SWIM_ADDR_MAX
 * printable bytes without spaces, digits after the last ':'. */
bool swim_addr_valid(const char *s);
/* true if s holds 1..max printable bytes (a member name). */
bool swim_text_valid(const char *s, size_t max);

/* ---- the protocol's arithmetic (exported for tests) -------------------------- */

/* suspicion_mult * max(1, log10(max(1, n))) * probe_interval, in ms. */
uint64_t swim_suspicion_min_ms(uint32_t suspicion_mult, size_t n, uint32_t probe_interval_ms);
/* Lifeguard: max - (max - min) * log(c + 1) / log(k + 1), never below min;
 * min when k == 0. c = independent confirmations so far, k = expected. */
uint64_t swim_suspicion_timeout_ms(uint64_t min_ms, uint64_t max_ms, unsigned c, unsigned k);
/* retransmit_mult * ceil(log10(n + 1)). */
unsigned swim_retransmit_limit(unsigned retransmit_mult, size_t n);
/* interval, times ceil(log2(n) - log2(32)) + 1 past 32 members. */
uint64_t swim_push_pull_interval_ms(uint32_t interval_ms, size_t n);
/* t * (score + 1): local health awareness. */
uint64_t swim_awareness_scale(uint64_t t_ms, unsigned score);

#endif
