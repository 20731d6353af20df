/* swim_int.h - internals shared by the swim_*.c files: the member record and
 * table, the broadcast queue, the suspicion timer heap and the message codec.
 * Not for use outside shared/swim* and their tests. */
#ifndef PETRI_SWIM_INT_H
#define PETRI_SWIM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swim.h"
#include "wire.h"

#define SWIM_SUSP_SEEN_MAX 16   /* accusers remembered per suspicion (k + 1 used) */
#define SWIM_RELAY_MAX 64       /* ping-reqs we are serving at once */
#define SWIM_RECONN_MAX 4       /* re-join pings in flight */
#define SWIM_VERIFY_MAX 8       /* last-chance probes of lone accusations in flight */
#define SWIM_BQ_BUCKETS 128     /* transmit counts tracked by the queue */
#define SWIM_PIGGYBACK_MAX 1400 /* update bytes riding on one probe/ack/gossip */
#define SWIM_UPDATE_MIN 53      /* smallest encoded UPDATE */
#define SWIM_UPDATES_MAX 2048   /* updates accepted in one packet */

/* ---- member record and table (swim_members.c) ---- */

typedef struct swim_susp {
    uint64_t start, min_ms, max_ms;
    uint32_t k, n; /* expected and received independent confirmations */
    uint32_t nseen;
    uint32_t checks; /* last-chance probes sent */
    uint8_t seen[SWIM_SUSP_SEEN_MAX][SWIM_ID_LEN];
} swim_susp_t;

struct swim_bitem;

typedef struct swim_member {
    uint8_t id[SWIM_ID_LEN];
    uint64_t inc;
    uint64_t since; /* last status change */
    uint64_t susp_deadline;
    char *blob; /* one allocation: name NUL addr NUL meta */
    char *name, *addr;
    uint8_t *meta;
    uint16_t namelen, addrlen, metalen;
    uint8_t status;
    uint32_t idx;          /* position in the dense array */
    swim_susp_t *susp;     /* non-NULL while suspect */
    struct swim_bitem *bq; /* queued broadcast about this member */
} swim_member_t;

typedef struct swim_slot {
    uint64_t hash;
    swim_member_t *m; /* NULL = empty */
} swim_slot_t;

typedef struct swim_table {
    swim_member_t **v; /* dense array; its order is the probe order */
    size_t n, cap;
    swim_slot_t *slots; /* open addressing on the id hash, linear probing */
    size_t nslots;      /* power of two, >= 2 * n */
} swim_table_t;

int swim_tab_init(swim_table_t *t);
void swim_tab_free(swim_table_t *t);
swim_member_t *swim_tab_find(const swim_table_t *t, const uint8_t id[SWIM_ID_LEN]);
/* Creates a member; `pos` is where it lands in the probe order (the one there
 * moves to the end). NULL on allocation failure. */
swim_member_t *swim_tab_add(swim_table_t *t, const uint8_t id[SWIM_ID_LEN], size_t pos);
/* Removes and frees m (its blob and suspicion too; the caller drops m->bq). */
void swim_tab_remove(swim_table_t *t, swim_member_t *m);
/* Sets name/addr/meta (copies). 0 or -ENOMEM. */
int swim_member_set(swim_member_t *m, const char *name, size_t namelen, const char *addr,
                    size_t addrlen, const uint8_t *meta, size_t metalen);
/* Fisher-Yates with the caller's random numbers. */
void swim_tab_shuffle(swim_table_t *t, uint64_t (*rnd)(void *), void *arg);

/* ---- broadcast queue (swim_bcast.c) ---- */

typedef struct swim_bitem {
    struct swim_bitem *prev, *next;
    swim_member_t *about; /* owner: the member the update is about */
    uint32_t transmits;
    uint32_t len;
    bool is_leave;  /* our own "left": counted when sent */
    uint8_t data[]; /* one encoded UPDATE */
} swim_bitem_t;

typedef struct swim_bq {
    swim_bitem_t *head[SWIM_BQ_BUCKETS]; /* bucket = transmits so far */
    size_t count;
    unsigned top; /* buckets above it are empty */
} swim_bq_t;

/* Queues an encoded update about m, replacing any older one about m. 0 or -ENOMEM. */
int swim_bq_put(swim_bq_t *q, swim_member_t *m, const uint8_t *data, size_t len, bool is_leave);
void swim_bq_drop(swim_bq_t *q, swim_member_t *m);
void swim_bq_clear(swim_bq_t *q);
/* Appends queued updates (fewest transmits first, newest first) to b while
 * they fit in `budget` bytes; retires those sent `limit` times. Returns the
 * number appended; *leave_sent counts our own "left" among them. */
uint32_t swim_bq_fill(swim_bq_t *q, wire_buf_t *b, size_t budget, unsigned limit,
                      uint32_t *leave_sent);

/* ---- timer heap for suspicions and ping-req relays (swim_suspicion.c) ---- */

enum { SWIM_TMR_SUSPECT = 1, SWIM_TMR_RELAY = 2, SWIM_TMR_VERIFY = 3, SWIM_TMR_CHECK = 4 };

typedef struct swim_tmr {
    uint64_t at;
    uint64_t tag; /* relay: our seq */
    uint16_t kind, slot;
    uint8_t id[SWIM_ID_LEN];
} swim_tmr_t;

typedef struct swim_heap {
    swim_tmr_t *v;
    size_t n, cap;
} swim_heap_t;

int swim_heap_push(swim_heap_t *h, const swim_tmr_t *t);
bool swim_heap_pop_due(swim_heap_t *h, uint64_t now, swim_tmr_t *out);
uint64_t swim_heap_top(const swim_heap_t *h); /* UINT64_MAX when empty */
void swim_heap_free(swim_heap_t *h);

/* Starts a suspicion on m (allocating m->susp). 0 or -ENOMEM. */
int swim_susp_start(swim_member_t *m, const uint8_t from[SWIM_ID_LEN], uint32_t k, uint64_t min_ms,
                    uint64_t max_ms, uint64_t now);
/* Counts an independent confirmation; true if it was new (and moved
 * m->susp_deadline). */
bool swim_susp_confirm(swim_member_t *m, const uint8_t from[SWIM_ID_LEN]);
void swim_susp_clear(swim_member_t *m);

/* ---- message codec (swim_msg.c) ---- */

typedef struct swim_update {
    uint8_t status;
    uint8_t id[SWIM_ID_LEN];
    uint64_t inc;
    uint8_t from[SWIM_ID_LEN];
    const char *name, *addr; /* not NUL-terminated: views into the packet */
    uint32_t namelen, addrlen;
    const uint8_t *meta;
    uint32_t metalen;
} swim_update_t;

typedef struct swim_msg {
    uint16_t type;
    uint8_t sender[SWIM_ID_LEN];
    uint64_t seq;
    uint8_t target[SWIM_ID_LEN];
    uint8_t nack;  /* PING_REQ */
    uint8_t flags; /* SYNC */
    uint16_t part; /* SYNC */
    char target_addr[SWIM_ADDR_MAX + 1];
    char reply_addr[SWIM_ADDR_MAX + 1];
    uint32_t nupdates;
    wire_rd_t rd; /* positioned at the first update */
} swim_msg_t;

#define SWIM_SYNC_REPLY 0x1
#define SWIM_SYNC_JOIN 0x2

/* Parses the frame header and the fixed fields of a gossip message, up to
 * and including the update count. 0, or ERR_VERSION / ERR_UNKNOWN_TYPE /
 * ERR_PROTO / ERR_TRUNC / ERR_TOOBIG. */
int swim_msg_decode(const uint8_t *buf, size_t len, swim_msg_t *m);
/* Reads the next update from m->rd and validates it (status range, id not
 * zero, name/addr present and printable when alive). 0 or an error code. */
int swim_update_decode(wire_rd_t *r, swim_update_t *u);
/* Appends one UPDATE. */
void swim_update_encode(wire_buf_t *b, uint8_t status, const uint8_t id[SWIM_ID_LEN], uint64_t inc,
                        const uint8_t from[SWIM_ID_LEN], const char *name, size_t namelen,
                        const char *addr, size_t addrlen, const uint8_t *meta, size_t metalen);
/* Encodes the member's current state as an UPDATE (full record when alive,
 * id-only otherwise unless `full`). */
void swim_update_encode_member(wire_buf_t *b, const swim_member_t *m, const uint8_t *from,
                               bool full);
/* true if s[0..n) is a plausible "host:port": 3..SWIM_ADDR_MAX printable
 * bytes, no spaces, with a ':' followed by digits. */
bool swim_addr_valid_n(const char *s, size_t n);
/* true if s[0..n) holds 1..max printable bytes (no control characters). */
bool swim_text_valid_n(const char *s, size_t n, size_t max);

/* ---- the member's whole state (swim.c, swim_proto.c) ---- */

typedef struct swim_relay {
    uint64_t our_seq, their_seq;
    uint8_t target[SWIM_ID_LEN];
    bool used, nack;
    char reply_addr[SWIM_ADDR_MAX + 1];
} swim_relay_t;

typedef struct swim_verify {
    uint64_t seq, inc;
    uint8_t id[SWIM_ID_LEN];
} swim_verify_t;

typedef struct swim_reconn {
    uint64_t seq;
    char addr[SWIM_ADDR_MAX + 1];
} swim_reconn_t;

enum { PROBE_IDLE = 0, PROBE_DIRECT, PROBE_INDIRECT };

struct swim {
    swim_config_t cfg;
    swim_io_t io;
    swim_table_t tab;
    swim_member_t *me;
    swim_bq_t bq;
    swim_heap_t heap;
    uint64_t rng, seq;
    unsigned awareness;
    uint64_t persisted_inc;
    struct {
        uint8_t phase;
        uint8_t target[SWIM_ID_LEN];
        uint64_t target_inc, seq, start, t_direct, t_end;
        uint64_t sent_us; /* io.clock_us at the ping, for round-trip stats */
        uint32_t nacks, expected_nacks;
    } probe;
    size_t probe_idx;
    uint64_t next_probe, next_gossip, next_sync, next_reconnect;
    swim_relay_t relay[SWIM_RELAY_MAX];
    swim_reconn_t reconn[SWIM_RECONN_MAX];
    swim_verify_t verify[SWIM_VERIFY_MAX];
    bool accused;         /* the packet being handled accused us */
    uint64_t evidence_at; /* start of the failed probe behind our own suspicion */
    size_t reconn_next;
    char seeds[SWIM_SEEDS_MAX][SWIM_ADDR_MAX + 1];
    size_t nseeds, seed_rr;
    bool leaving;
    uint32_t leave_tx;
    wire_buf_t out, tmp;
    swim_stats_t st;
    uint32_t n_alive, n_suspect, n_dead, n_left; /* others */
};

/* swim.c: state transitions shared with swim_proto.c */
uint64_t swim_rand(swim_t *s);
void swim_apply_update(swim_t *s, const swim_update_t *u, bool merge, const uint8_t *sender,
                       uint64_t now);
/* confirm_as: who counts as the confirming accuser if X is already suspect
 * (NULL = from). s->evidence_at, when set, dates a suspicion of our own. */
void swim_on_suspect(swim_t *s, const uint8_t id[SWIM_ID_LEN], uint64_t inc,
                     const uint8_t from[SWIM_ID_LEN], const uint8_t *confirm_as, uint64_t now);
void swim_on_dead(swim_t *s, const uint8_t id[SWIM_ID_LEN], uint64_t inc,
                  const uint8_t from[SWIM_ID_LEN], bool left, uint64_t now);
void swim_awareness_delta(swim_t *s, int delta);
/* Suspicion timers: SWIM_TMR_CHECK (last-chance probe) and SWIM_TMR_SUSPECT. */
void swim_suspicion_fire(swim_t *s, const swim_tmr_t *t, uint64_t now);
/* (Re)starts the suspicion timer of suspect m. */
void swim_suspicion_restart(swim_t *s, swim_member_t *m, const uint8_t from[SWIM_ID_LEN],
                            uint64_t now);
/* swim_proto.c: sends */
void swim_send_sync(swim_t *s, const char *addr, uint8_t flags);
void swim_reset_probe_order(swim_t *s, uint64_t now);
/* Last-chance probe (direct + indirect) of suspect m, answered by
 * `deadline`; false if none can start. */
bool swim_verify_start(swim_t *s, swim_member_t *m, uint64_t deadline, uint64_t now);

#endif
