/* gossip.h - the daemons' cluster membership: the SWIM core (swim.h) bound to
 * the event loop (loop.h) over ZeroMQ TCP, every packet sealed with the
 * cluster keyring (crypto.h). docs/design.md section 6.
 *
 * Transport. One ZMQ_ROUTER bound on [gossip] bind receives; packets go out
 * through ZMQ_DEALER sockets connected to the peers' advertise addresses,
 * at most `max_peers` of them open (least recently used closed first).
 * Every socket has linger 0 and bounded high-water marks, and the DEALERs
 * set ZMQ_IMMEDIATE, so nothing queues for a peer that is not connected;
 * sends never block (a full queue is a counted drop: SWIM tolerates loss).
 * Peer host names are resolved on threads of their own and the DEALERs
 * connect to the numeric address: libzmq's own resolution runs on its I/O
 * thread, and one slow DNS answer would stall every socket of the context.
 * A packet is crypto_seal(wire frame) with the associated data
 * "petri-gossip-v1". Dropped and counted: packets no key opens, truncated
 * or > 64 KiB ones, and exact replays (a bounded cache of recent nonces).
 *
 * Restart safety: the incarnation is persisted in <data_dir>/incarnation
 * (atomic write) before it is used, and read back as the floor on start.
 *
 * Key rotation is per node: the keyring is borrowed, and the daemon may
 * add/use/remove keys at any time (`keys install|use|remove`); every key
 * in the ring opens, the primary seals. Cluster-wide rotation = run the
 * three steps on every node in order.
 */
#ifndef PETRI_GOSSIP_H
#define PETRI_GOSSIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "crypto.h"
#include "loop.h"
#include "swim.h"

#define GOSSIP_AD "petri-gossip-v1"
#define GOSSIP_MAX_PACKET (64 * 1024) /* sealed bytes; larger ones are dropped */
#define GOSSIP_DEF_MAX_PEERS 64
#define GOSSIP_DEF_HWM 64
#define GOSSIP_REPLAY_CACHE 4096 /* nonces remembered */

/* The transport's entries of a daemon's cfg_opt_t table (section [gossip]);
 * put SWIM_CFG_OPTS (swim.h) beside them for the protocol's knobs. */
/* clang-format off */
#define GOSSIP_CFG_OPTS                                                                            \
    {"gossip", "bind", CFG_ADDR, "0.0.0.0:7946", 0, 0, 0,                                          \
     "memberlist's port, on every interface so that peers on any network reach us"},               \
    {"gossip", "advertise", CFG_STR, "", 0, 0, 0,                                                  \
     "host:port peers send to; empty = bind (host name if 0.0.0.0); set it behind NAT"},           \
    {"gossip", "seeds", CFG_STR, "", 0, 0, 0,                                                      \
     "comma-separated host:port of members to join through; empty = start a new cluster"},         \
    {"gossip", "key", CFG_STR, "", 0, 0, CFG_SECRET,                                               \
     "base64 cluster key (`petri keygen`); every packet is sealed with it"},                       \
    {"gossip", "keyring_file", CFG_STR, "", 0, 0, 0,                                               \
     "file of base64 keys, first = primary; rotation without restarts"}
/* clang-format on */

typedef struct gossip_config {
    char name[SWIM_NAME_MAX + 1];
    char bind[SWIM_ADDR_MAX + 1];      /* host:port, "*" or 0.0.0.0 for all interfaces */
    char advertise[SWIM_ADDR_MAX + 1]; /* host:port; "" = derived from bind */
    char seeds[SWIM_SEEDS_MAX][SWIM_ADDR_MAX + 1];
    size_t nseeds;
    char data_dir[512]; /* holds "incarnation"; "" = nothing persisted */
    swim_config_t swim;
    int max_peers; /* open DEALER sockets (LRU); default GOSSIP_DEF_MAX_PEERS */
    int hwm;       /* ZMQ_SNDHWM/RCVHWM; default GOSSIP_DEF_HWM */
} gossip_config_t;

/* Defaults: swim defaults, bind 0.0.0.0:7946, no seeds, no data_dir. */
void gossip_config_default(gossip_config_t *gc);
/* Reads [gossip] bind/advertise/seeds and the SWIM_CFG_OPTS keys, and
 * [node] data_dir, from c (its table must hold them). 0 or ERR_CONFIG with a
 * message naming the key. name may be NULL (set gc->name yourself). */
int gossip_config_from_cfg(const cfg_t *c, const char *name, gossip_config_t *gc, char *err,
                           size_t errlen);
/* Parses "a:1, b:2" into gc->seeds. ERR_CONFIG for a malformed address or
 * more than SWIM_SEEDS_MAX. */
int gossip_parse_seeds(const char *list, gossip_config_t *gc, char *err, size_t errlen);

/* Membership events, about other members only (see swim_event_t). */
typedef void (*gossip_event_fn)(void *arg, const swim_event_t *ev);

typedef struct gossip gossip_t;

/* Binds, loads the incarnation floor, starts probing and joins the seeds.
 * loop, zctx and kr are borrowed and must outlive the gossip_t; kr may be
 * changed by the caller between loop iterations (rotation). meta (<=
 * SWIM_META_MAX bytes) is copied. Returns NULL with a message in err. */
gossip_t *gossip_new(loop_t *loop, void *zctx, const gossip_config_t *gc,
                     const node_identity_t *idn, keyring_t *kr, const uint8_t *meta, size_t metalen,
                     gossip_event_fn fn, void *arg, char *err, size_t errlen);
/* gossip_config_from_cfg + gossip_new. */
gossip_t *gossip_new_from_config(loop_t *loop, void *zctx, const cfg_t *c, const char *name,
                                 const node_identity_t *idn, keyring_t *kr, const uint8_t *meta,
                                 size_t metalen, gossip_event_fn fn, void *arg, char *err,
                                 size_t errlen);
/* Closes every socket and removes the loop watchers; NULL is fine. Call
 * gossip_leave first for a graceful exit. */
void gossip_destroy(gossip_t **g);

/* New metadata, spread cluster-wide. ERR_TOOBIG past SWIM_META_MAX,
 * ERR_STATE after leaving. */
int gossip_set_meta(gossip_t *g, const uint8_t *meta, size_t len);
/* Graceful leave: announces "left" and runs the loop (other watchers too)
 * until the announcement is out or timeout_ms passed. 0 or ERR_TIMEOUT.
 * Call it outside the loop (after loop_run returned), then gossip_destroy,
 * which gives the announcement a short linger to leave the host. */
int gossip_leave(gossip_t *g, int timeout_ms);

typedef struct gossip_member {
    char name[SWIM_NAME_MAX + 1];
    uint8_t id[SWIM_ID_LEN];
    char addr[SWIM_ADDR_MAX + 1];
    swim_status_t status;
    uint64_t incarnation;
    uint8_t meta[SWIM_META_MAX];
    size_t metalen;
    bool self;
} gossip_member_t;

/* Snapshot of every known member (self included) into a malloc'd array the
 * caller frees with free(*out). Returns the count, or -ENOMEM (*out NULL). */
int gossip_members(const gossip_t *g, gossip_member_t **out);

typedef struct gossip_stats {
    swim_stats_t swim;
    uint64_t sent, send_dropped; /* send_dropped: peer queue full or not connected */
    uint64_t received, drop_crypto, drop_replay, drop_size;
    uint32_t peers_open;
    uint64_t peers_evicted;
    uint64_t resolve_failures; /* peer host names that did not resolve */
} gossip_stats_t;

void gossip_get_stats(const gossip_t *g, gossip_stats_t *out);
/* The host:port this member advertises. */
const char *gossip_advertise(const gossip_t *g);
/* The core, for read-only queries (swim_member_find, swim_incarnation...). */
const swim_t *gossip_swim(const gossip_t *g);

/* Reads <data_dir>/incarnation: 0 (and *inc = 0) when absent; ERR_PROTO if
 * it does not hold a number. Writes it atomically (mode 0600). */
int gossip_incarnation_load(const char *data_dir, uint64_t *inc);
int gossip_incarnation_store(const char *data_dir, uint64_t inc);

#endif
