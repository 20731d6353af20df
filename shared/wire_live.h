/* wire_live.h - the live-individual messages of wire.h (WIRE_VM_LIVE_*):
 * whole frames written for the agent -> VM direction, bounds-checked readers
 * for the VM -> agent direction (VM bytes are untrusted). */
#ifndef PETRI_WIRE_LIVE_H
#define PETRI_WIRE_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define WIRE_LIVE_HASH_MAX 65     /* hex SHA-256 and its NUL */
#define WIRE_LIVE_REASON_MAX 1024 /* bytes of an event's reason, NUL included */

typedef struct wire_live_start {
    uint64_t live_id;
    uint32_t version;
    uint32_t timeout_ms;
    uint64_t heap_words, reductions, state_words;
    uint32_t probation, window;
    double lat_w, red_w, tolerance;
    const char *const *atoms;
    size_t natoms;
    const uint8_t *init_arg; /* ETF */
    size_t init_arg_len;
    const uint8_t *source;
    size_t source_len;
    const uint8_t *snapshot; /* ETF, or NULL/0 to run init */
    size_t snapshot_len;
    uint32_t next_version; /* 0 = version + 1 */
    uint8_t language;      /* 0 erlang, 1 elixir (spec.h's SPEC_LANG_*) */
} wire_live_start_t;

typedef struct wire_live_reply {
    uint64_t seq;
    uint8_t status;  /* enum wire_status */
    uint8_t correct; /* 0 wrong, 1 right, 2 nothing expected */
    uint32_t version;
    uint64_t latency_us, service_us, reductions;
    double score;
} wire_live_reply_t;

typedef struct wire_live_event {
    uint64_t live_id;
    uint8_t kind; /* enum wire_live_kind */
    uint64_t upgrade_id;
    uint32_t version;
    uint64_t at_seq;
    char from_hash[WIRE_LIVE_HASH_MAX], to_hash[WIRE_LIVE_HASH_MAX];
    char state_before[WIRE_LIVE_HASH_MAX], state_after[WIRE_LIVE_HASH_MAX];
    double parent_score, child_score; /* NaN when none */
    uint32_t probation;
    char reason[WIRE_LIVE_REASON_MAX];
    const uint8_t *snapshot; /* points into the frame; valid as long as it */
    uint32_t snapshot_len;
    uint64_t took_us; /* the VM's time on it (wire.h) */
} wire_live_event_t;

/* Each writes one whole frame at the end of b and returns wire_end's
 * result (0, ERR_TOOBIG, -ENOMEM). */
int wire_live_put_start(wire_buf_t *b, const wire_live_start_t *s);
/* judge: 1 = a child scoring below its parent is rolled back, 0 = only a
 * crash, timeout or broken state rolls it back (wire.h). */
int wire_live_put_upgrade(wire_buf_t *b, uint64_t live_id, uint64_t upgrade_id, uint32_t probation,
                          const uint8_t *src, size_t len, int judge);
int wire_live_put_stop(wire_buf_t *b, uint64_t live_id);

/* LIVE_REQUESTS: begin with the count, put exactly that many requests
 * (expect may be NULL/0), then wire_end(b). */
void wire_live_requests_begin(wire_buf_t *b, uint64_t live_id, uint32_t count);
void wire_live_put_request(wire_buf_t *b, uint64_t seq, const uint8_t *req, size_t req_len,
                           const uint8_t *expect, size_t expect_len);

/* LIVE_REPLIES: reads the head (count <= WIRE_LIVE_MAX_BATCH), then count
 * replies one by one. 0 or the reader's error; ERR_PROTO for a status or
 * correct value out of range. */
int wire_live_read_replies(wire_rd_t *r, uint64_t *live_id, uint32_t *count);
int wire_live_read_reply(wire_rd_t *r, wire_live_reply_t *out);

/* LIVE_EVENT: 0, the reader's error, or ERR_PROTO for an unknown kind. The
 * snapshot is at most WIRE_LIVE_SNAPSHOT_MAX bytes. */
int wire_live_read_event(wire_rd_t *r, wire_live_event_t *out);

/* The status a live event's lineage record and attestation carry: ok for
 * started and promoted, bad_result for rollback, compile_error for refused
 * (the child did not load), internal for the rest. */
int wire_live_status(int kind);

/* "started", "upgrade", ...; "unknown" if out of range. */
const char *wire_live_event_str(int kind);

#endif
