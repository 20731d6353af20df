/* wire.h - the one binary message format for every internal hop (gossip,
 * coordinator<->agent, agent<->BEAM, CLI<->agent control socket).
 * Mirrored in agent/beam/src/petri_wire.erl. docs/design.md section 4.
 *
 * Frame (big-endian):
 *   version:u8  type:u16  flags:u8  sender:16 bytes  length:u32  payload[length]
 * Field encodings inside payloads:
 *   u8/u16/u32/u64/i64  big-endian integers
 *   f64                 IEEE-754 binary64, big-endian bit pattern
 *   bytes, str          u32 length + bytes (str: UTF-8, no NUL inside)
 *   list<T>             u32 count + items
 *   id                  16 raw bytes (node id), no length prefix
 *   num                 tag:u8 (0 = integer, value i64; 1 = float, value f64)
 *
 * Invariants:
 *  1. The reader never reads past the frame; every read can fail; a
 *     failed read leaves the cursor in a sticky error state.
 *  2. Sizes are checked against their caps before anything is allocated.
 *  3. Unknown version -> ERR_VERSION (rejected, logged by the caller).
 *     Unknown type -> the caller ignores it and counts it.
 *  4. Fields are only ever appended to a type, never reordered; a reader
 *     ignores trailing bytes it does not understand.
 */
#ifndef PETRI_WIRE_H
#define PETRI_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION 1
#define WIRE_HDR_LEN 24
#define WIRE_ID_LEN 16
#define WIRE_BREEDER_LEN 16                /* a breeder's identity (WIRE_VM_HELLO) */
#define WIRE_MAX_BREEDERS 8                /* breeders one WIRE_WORK_HELLO may name */
#define WIRE_FEAT_BREEDER 1u               /* WIRE_WORK_WELCOME features: reads RESULT breeders */
#define WIRE_RESULT_BREEDER 1u             /* WIRE_WORK_RESULT header flag: items carry breeders */
#define WIRE_MAX_FRAME (16u * 1024 * 1024) /* hard cap on any frame */

/* The append-only message type enum. Field order per type is written
 * next to each type. Ranges: 1-99 agent<->BEAM, 100-199 gossip,
 * 200-299 coordinator<->agent work, 300-399 local control socket. */
enum wire_type {
    /* ---- agent <-> BEAM node (fds 3/4, {packet,4} framing outside) ---- */

    /* VM -> agent, once after boot.
     * otp_release:str  os_pid:u32  slots:u32  elixir:u8 (1 = available)
     * version:str (petri beam app version)
     * then (appended; missing = zeros, unknown):
     * breeder:16 raw (the breeder's identity, petri_mutate:breeder/0: MD5 of
     * the OTP release, the emulator's version and the code of the modules
     * that derive a child;
     * two VMs with the same identity derive the same child from the same
     * parents, operator and seed) */
    WIRE_VM_HELLO = 1,
    /* agent -> VM. seq:u64 */
    WIRE_VM_PING = 2,
    /* VM -> agent, answer to PING.
     * seq:u64  memory_bytes:u64  processes:u32  atoms:u32
     * live_sandboxes:u32  loads:u64  pending_purge:u32
     * evals_ok:u64 evals_failed:u64 (cumulative counters) */
    WIRE_VM_PONG = 3,
    /* agent -> VM: load a genome into a slot and score it.
     * req_id:u64  spec:SPEC  source:bytes */
    WIRE_VM_EVAL = 4,
    /* VM -> agent, answer to EVAL.
     * req_id:u64  status:u8 (enum wire_status)  fitness:f64 (NaN unless ok)
     * detail:str  load_us:u64  eval_us:u64 */
    WIRE_VM_RESULT = 5,
    /* agent -> VM: derive a child.
     * req_id:u64  spec:SPEC  op:str  seed:u64  parents:list<bytes> */
    WIRE_VM_BREED = 6,
    /* VM -> agent, answer to BREED.
     * req_id:u64  status:u8 (WIRE_ST_OK or an error status)  source:bytes
     * detail:str */
    WIRE_VM_CHILD = 7,
    /* agent -> VM: stop now (the VM halts with status 0). Empty payload. */
    WIRE_VM_STOP = 8,
    /* agent -> VM: derive a child and score it at once, in one slot (one
     * round trip instead of BREED then EVAL). Fields as WIRE_VM_BREED. */
    WIRE_VM_BREED_EVAL = 9,
    /* VM -> agent, answer to BREED_EVAL.
     * req_id:u64  status:u8  fitness:f64  detail:str  load_us:u64
     * eval_us:u64 (as WIRE_VM_RESULT: the child's evaluation, or the
     * breeding failure with fitness NaN)  source:bytes (the child; empty
     * when breeding failed) */
    WIRE_VM_BRED = 10,

    /* ---- live individuals (agent/beam/src/petri_live.erl, shared/wire_live.h):
     * a genome that keeps its state between requests and is upgraded in place.
     * Terms travel as external term format bytes (term_to_binary, version byte
     * 131), written by etf_put_json; the VM decodes them with binary_to_term
     * safe, after creating the declared atoms. */

    /* agent -> VM: start a live individual (answered by LIVE_EVENT started or
     * failed).
     * live_id:u64  version:u32 (number of the first version, >= 1)
     * timeout_ms:u32  heap_words:u64  reductions:u64 (per request; 0 = none)
     * state_words:u64 (cap on the state's flat size)  probation:u32 (requests)
     * window:u32 (requests in the rolling live fitness)  lat_w:f64  red_w:f64
     * (score = 1 for a right reply, 0 for a wrong one, less lat_w * service
     * us and red_w * reductions)  tolerance:f64 (a child scoring less than its
     * parent minus this is rolled back)  atoms:list<str> (atoms the terms may
     * name)  init_arg:bytes (ETF)  source:bytes (the genome)  snapshot:bytes
     * (ETF state to resume from instead of init; empty = run init)
     * next_version:u32 (the number the first upgrade gets; 0 = version + 1:
     * a resumed individual skips the numbers its dead VM gave out)
     * then (appended; missing = its default):
     * language:u8 (0 erlang, 1 elixir; the genome's and every upgrade's;
     * default 0) */
    WIRE_VM_LIVE_START = 11,
    /* agent -> VM: a batch of requests, answered in order.
     * live_id:u64  reqs:list<LREQ>  LREQ = seq:u64 req:bytes (ETF)
     * expect:bytes (ETF; empty = nothing expected) */
    WIRE_VM_LIVE_REQUESTS = 12,
    /* VM -> agent: answers, in request order, as they are ready.
     * live_id:u64  replies:list<LREPLY>
     * LREPLY = seq:u64 status:u8 (enum wire_status) correct:u8 (0 wrong,
     *          1 right, 2 nothing expected) version:u32 (that answered)
     *          latency_us:u64 (arrival at the individual to answer)
     *          service_us:u64 reductions:u64 score:f64 */
    WIRE_VM_LIVE_REPLIES = 13,
    /* agent -> VM: load a child into the running individual. Requests sent
     * before it are answered by the version running before it.
     * live_id:u64  upgrade_id:u64  probation:u32 (0 = LIVE_START's)
     * source:bytes
     * then (appended; missing = its default):
     * judge:u8 (1 = a child scoring below its parent less the tolerance is
     * rolled back; 0 = only a crash, a timeout or a broken state rolls it
     * back: an operator's pin to an older version; default 1) */
    WIRE_VM_LIVE_UPGRADE = 14,
    /* VM -> agent: what happened to the individual.
     * live_id:u64  kind:u8 (enum wire_live_kind)  upgrade_id:u64
     * version:u32 (running after the event)  at_seq:u64 (last request seen)
     * from_hash:str to_hash:str (hex SHA-256 of the parent's and the child's
     * source)  state_before:str state_after:str (hex SHA-256 of the state's
     * term_to_binary, deterministic)  parent_score:f64 child_score:f64 (mean
     * scores: the parent's rolling window, the child's probation; NaN when
     * none)  probation:u32 (child requests judged)  reason:str
     * snapshot:bytes (ETF state; set by started and promoted, empty when
     * over WIRE_LIVE_SNAPSHOT_MAX)  took_us:u64 (the VM's time on the event:
     * compile, load and code_change for upgrade; restoring the parent for
     * rollback; 0 when not measured) */
    WIRE_VM_LIVE_EVENT = 15,
    /* agent -> VM: stop the individual (LIVE_EVENT stopped). live_id:u64 */
    WIRE_VM_LIVE_STOP = 16,

    /* ---- gossip (shared/swim*): 100-199, see swim.h ---- */
    /* The header's sender is the sending member's id. Every gossip payload
     * ends with updates:list<UPDATE>, the piggybacked broadcasts:
     * UPDATE = status:u8 (0 alive, 1 suspect, 2 dead, 3 left)  id:id
     *          incarnation:u64  from:id (accuser; the member itself for alive/left)
     *          name:str  addr:str  meta:bytes (name/addr/meta may be empty
     *          unless alive) */

    /* Probe. target is the probed member's id (zeros: whoever listens at the
     * address, used for seeds); acks go to reply_addr.
     * seq:u64  target:id  reply_addr:str  updates:list<UPDATE> */
    WIRE_SWIM_PING = 100,
    /* Answer to PING, or forwarded by a ping-req helper with the origin's seq.
     * seq:u64  updates:list<UPDATE> */
    WIRE_SWIM_ACK = 101,
    /* Indirect probe request: ping target for me, forward its ack (and send a
     * NACK after the probe timeout if nack = 1).
     * seq:u64  target:id  target_addr:str  nack:u8  reply_addr:str
     * updates:list<UPDATE> */
    WIRE_SWIM_PING_REQ = 102,
    /* The ping-req helper heard nothing from the target in time (Lifeguard).
     * seq:u64  updates:list<UPDATE> */
    WIRE_SWIM_NACK = 103,
    /* Pure dissemination. updates:list<UPDATE> */
    WIRE_SWIM_GOSSIP = 104,
    /* Push-pull full-state sync, split into parts of bounded size.
     * flags:u8 (1 = reply wanted, 2 = join)  part:u16  reply_addr:str
     * updates:list<UPDATE> (every member the sender knows, self included) */
    WIRE_SWIM_SYNC = 105,

    /* ---- coordinator <-> agent work: 200-299 ----
     * Agents connect a DEALER to the coordinator's ROUTER on [work] bind.
     * The DEALER's routing id is 16 random bytes, new for every connection
     * (never the node id, which is public: a ROUTER ignores a second peer
     * with a routing id in use, so a known routing id could be squatted).
     * A connection carries nothing but the handshake until the agent has
     * proved the key its node id derives from (crypto_id_from_pk):
     *   agent: OPEN -> coordinator: CHALLENGE -> agent: AUTH
     *   -> coordinator: WELCOME (session established)
     * Handshake frames (OPEN, CHALLENGE, AUTH) are sealed with the cluster
     * keyring; every other frame travels in the session: sealed with the
     * keyring, its associated data binding the session id and a per-
     * direction counter (shared/wsess.h has the framing). A new session for
     * a node id replaces its old one only once AUTH checks out. */

    /* agent -> coordinator, in the session: once it is established, every
     * second and whenever its capacity changes; the coordinator answers
     * each with WELCOME. pk must be the session's key. The coordinator
     * refuses impossible claims (work.h: vms_ready <= vms_total <= max_vms,
     * min_vms <= max_vms, credit and queued bounded). The first HELLO of a
     * session sets the credit baseline (received).
     * name:str  pk:32 raw (Ed25519)  vms_ready:u32  vms_total:u32
     * credit:u32 (items it can take now)  queued:u32  load:f64
     * received:u64 (work items received so far; with credit, it lets the
     * coordinator discount items still on the way)
     * min_vms:u32  max_vms:u32 (the range the coordinator may scale it in)
     * then, appended (a coordinator that predates it reads none):
     * breeders:u32 (<= WIRE_MAX_BREEDERS) x WIRE_BREEDER_LEN raw, the
     * distinct breeders its ready VMs said they run (WIRE_VM_HELLO) */
    WIRE_WORK_HELLO = 200,
    /* coordinator -> agent: work for one population.
     * population:str  spec:bytes (the SPEC block)  items:list<ITEM>
     * ITEM = deme:u32 dseq:u64 kind:u8 (0 breed then eval, 1 eval)
     *        op:str seed:u64 parents:list<bytes> source:bytes (kind 1)
     *        language:u8 (255 = the spec's)
     * kind 2 = breed only: the result carries the child, unscored (replay) */
    WIRE_WORK_BATCH = 201,
    /* agent -> coordinator: finished items, collected for a few ms.
     * credit:u32  received:u64 (as in WIRE_WORK_HELLO)  items:list<RESULT>
     * RESULT = population:str deme:u32 dseq:u64 status:u8 fitness:f64
     *          detail:str source:bytes (the child; empty if breeding failed)
     *          sig:64 raw (Ed25519 over attest_result_v2(...) with the
     *          breeder, see attest.h)
     *          passed:u32 cases:u32 cost:f64 reused:u8 (RESULT_EXT's; zero
     *          unless the VM scored the child)
     *          errors:list<f64> (the per-case errors; empty unless the spec
     *          set per_case; at most SPEC_MAX_CASES)
     *          breeder:16 raw, only in a frame with the header flag
     *          WIRE_RESULT_BREEDER (sent to a coordinator whose WELCOME
     *          offered WIRE_FEAT_BREEDER): the identity of the VM that bred
     *          the child, WIRE_VM_HELLO's; zeros when no VM bred it (an eval
     *          item, or a VM that did not say). With the flag, sig is over
     *          attest_result_v2() version 3, breeder included; without it,
     *          version 2 (an agent or coordinator from before the breeder:
     *          both sides upgrade one at a time)
     *          RESULT_EXT's metrics stay on the agent (its /metrics); they
     *          do not travel to the coordinator. */
    WIRE_WORK_RESULT = 202,
    /* coordinator -> agent: scaling and draining decisions.
     * target_vms:u32 (0 = keep)  drain:u8 */
    WIRE_WORK_CONTROL = 203,
    /* agent -> coordinator, handshake: the first frame on a connection.
     * Empty payload. */
    WIRE_WORK_OPEN = 204,
    /* coordinator -> agent, handshake: prove your key. The answer to OPEN,
     * and to a session frame on a connection without a session (the
     * coordinator restarted, or the session was replaced): the agent then
     * authenticates again. The header's sender is the coordinator's id.
     * nonce:32 raw (fresh, good for one AUTH on this connection) */
    WIRE_WORK_CHALLENGE = 205,
    /* agent -> coordinator, handshake. The header's sender is the agent's
     * node id, which must equal crypto_id_from_pk(pk).
     * pk:32 raw (Ed25519)  nonce:32 raw (the agent's, fresh)
     * sig:64 raw (Ed25519 by pk over the 32-byte wsess_transcript(agent id,
     *             pk, coordinator id, routing id, coordinator's nonce,
     *             agent's nonce), which is also the session id) */
    WIRE_WORK_AUTH = 206,
    /* coordinator -> agent, session: the session is established (the
     * answer to AUTH) or still is (the answer to every HELLO; an agent that
     * hears nothing for a while starts over on a new connection).
     * (appended; missing = 0, a coordinator from before them:)
     * features:u32 (WIRE_FEAT_*: what the coordinator reads) */
    WIRE_WORK_WELCOME = 207,
    /* coordinator -> agent, session: a command for one live individual of
     * a live population (docs/design.md section 7, "Live populations").
     * population:str  individual:u32  incarnation:u64 (the coordinator's
     * number for this placement of the individual: the agent echoes it in
     * every LIVE_EVENT and LIVE_STATUS, and the coordinator drops what an
     * older placement still says)  cmd:u8 (enum wire_live_cmd), then by cmd:
     *   START:   live_spec:bytes (the live section as JSON text, the format
     *            of `petri-agent live --spec`)  trace:bytes (JSON lines, the
     *            format of `--trace`; replayed in a loop at the spec's rate)
     *            breed_spec:bytes (the SPEC block the agent breeds children
     *            with)  language:u8  source:bytes (the version to run)
     *            version:u32  snapshot:bytes (ETF state; empty = init)
     *            next_version:u32
     *   UPGRADE: upgrade_id:u64  op:str  seed:u64  parents:list<bytes>
     *            (a built-in operator: the agent breeds the child from the
     *            parents with op and seed, as WIRE_ITEM_BREED; parents[0] is
     *            the running version's source)  source:bytes (op "external"
     *            or "pin": the child itself, parents empty)  probation:u32
     *            (0 = the spec's)  judge:u8 (as WIRE_VM_LIVE_UPGRADE)
     *   STOP:    nothing more (LIVE_EVENT stopped follows)
     * An agent that cannot act on a command (no such individual, no VM, a
     * bad spec) answers with LIVE_EVENT failed and the reason. */
    WIRE_WORK_LIVE = 208,
    /* agent -> coordinator, session: one event of a live individual, as
     * the VM reported it (WIRE_VM_LIVE_EVENT) or as the agent saw it.
     * population:str  individual:u32  incarnation:u64  kind:u8
     * (enum wire_live_kind)  upgrade_id:u64 (0 outside upgrades)
     * version:u32  at_seq:u64  op:str seed:u64 (the upgrade's, echoed;
     * empty/0 outside upgrades)  child_hash:32 raw  parent_hash:32 raw
     * (BLAKE2b-256 of the sources, attest.h)  state_before:32 raw
     * state_after:32 raw (SHA-256, zeros when none)  parent_score:f64
     * child_score:f64  probation:u32  reason:str (at most
     * WIRE_LIVE_REASON_MAX - 1 bytes)  snapshot:bytes (ETF state; started,
     * promoted and restarted; empty otherwise or over WIRE_LIVE_SNAPSHOT_MAX)
     * source:bytes (the child's source when the agent bred it: upgrade,
     * promoted, rollback, refused; else empty)
     * sig:64 raw (Ed25519 over attest_live() of these fields, status =
     * wire_live_status(kind); kinds started, promoted, rollback and refused
     * are lineage records, the others are signed all the same) */
    WIRE_WORK_LIVE_EVENT = 209,
    /* agent -> coordinator, session: how its live individuals are doing,
     * every second while it runs any.
     * items:list<LSTAT>  LSTAT = population:str individual:u32
     * incarnation:u64 version:u32 requests:u64 (answered since start)
     * correct:u64 wrong:u64 failed:u64 (answers that were errors)
     * fitness:f64 (mean score over the spec's window; NaN before the
     * first) latency_p50_us:u64 latency_p99_us:u64 (over the last second)
     * lost:u64 twice:u64 (requests never answered / answered twice;
     * 0 unless something is wrong) on_probation:u8 */
    WIRE_WORK_LIVE_STATUS = 210,

    /* ---- local control socket (CLI -> running agent): 300-399 ---- */

    /* CLI -> daemon over ipc://<run_dir>/<daemon>.sock.
     * command:str  args:list<str> */
    WIRE_CTL_REQUEST = 300,
    /* daemon -> CLI. code:u32 (the CLI's exit code: 0 ok, 1 refused,
     * 2 bad request)  body:str (JSON text) */
    WIRE_CTL_REPLY = 301,
};

/* SPEC, embedded in WIRE_VM_EVAL and WIRE_VM_BREED:
 *   function:str  arity:u32  language:u8 (0 erlang, 1 elixir)
 *   timeout_ms:u32  heap_words:u64  reductions:u64
 *   vars:list<str>          argument variable names, in argument order
 *   ops:list<str>           primitive set: "+","-","*","/","div","rem",
 *                           or "name/arity" / "mod:name/arity" functions
 *   const_min:f64 const_max:f64 const_int:u8 (1 = integer constants)
 *   error:u8                0 = sum of absolute errors, 1 = sum of squares,
 *                           2 = absolute errors and edit distances (term cases)
 *   cases:list<CASE>        CASE = in:list<num>  out:num
 * then (appended; a reader treats missing trailing fields as their defaults):
 *   term_cases:bytes        empty: the numeric `cases` above are the cases.
 *                           Else the cases as one Erlang external term
 *                           (term_to_binary format, version byte 131): a list
 *                           of {Inputs :: list(), Expected :: term()}; its
 *                           atoms are true, false, nil and those of `atoms`
 *                           only, and `cases` above is then empty
 *   atoms:list<str>         atoms the cases may name (declared in the spec;
 *                           the VM creates them, input never creates any)
 *   float_tol:f64           a float result within float_tol of the expected
 *                           number passes (0 = exact); default 0
 *   mismatch_error:f64      error of a failed case whose result and expected
 *                           value are not both numbers; default 1
 *   evaluator:bytes         source of the operator's trusted evaluator module
 *                           (empty = none: the cases score the genome)
 *   evaluator_lang:u8       0 erlang, 1 elixir
 *   cost_mode:u8            0 none, 1 lexicographic (cost breaks error ties),
 *                           2 weighted (fitness = error + cost)
 *   cost_w:f64 x 3          weights of reductions, peak heap words, eval us
 *   per_case:u8             1 = RESULT/BRED carry the per-case errors
 *   split_tuples:u8         1 = a term case expecting a tuple gives one error
 *                           per element (spec.h); absent = 0
 *
 * RESULT_EXT, appended to WIRE_VM_RESULT (after eval_us) and WIRE_VM_BRED
 * (after source); every field has a value whatever the status:
 *   passed:u32  cases:u32   cases that passed, cases run (0/0 unless ok)
 *   cost:f64                the cost objective (0 when cost_mode is 0)
 *   reused:u8               1 = the result of an identical earlier
 *                           evaluation (same spec, same source) was reused
 *   metrics:list<METRIC>    METRIC = name:str value:f64; "reductions",
 *                           "heap_words" (peak) and "eval_us" first, then
 *                           any an evaluator module returned (at most 32)
 *   errors:list<f64>        the per-case errors in case order when the spec
 *                           set per_case and the status is ok, else empty
 *                           (under split_tuples a tuple case's elements'
 *                           errors in element order, spec_t.nerrors in all)
 */

/* The work channel's limits and item kinds, shared by the coordinator
 * (coordinator/work.c) and the agent (agent/awork.c). */
#define WIRE_WORK_MAX_FRAME (4u * 1024 * 1024) /* a work frame, sealed, at most */
#define WIRE_OP_MAX 16                         /* bytes of an operator name (lineage records too) */
#define WIRE_POP_MAX 64                        /* bytes of a population name */
enum wire_item_kind {
    WIRE_ITEM_BREED_EVAL = 0, /* breed the child from the parents, then score it */
    WIRE_ITEM_EVAL = 1,       /* score the given source */
    WIRE_ITEM_BREED = 2,      /* breed only: the child comes back unscored (replay) */
};

/* LIVE_EVENT kinds. */
enum wire_live_kind {
    WIRE_LIVE_STARTED = 0,   /* running; snapshot = its state */
    WIRE_LIVE_UPGRADE = 1,   /* child loaded, code_change done, probation begins */
    WIRE_LIVE_PROMOTED = 2,  /* child passed probation; snapshot = its state */
    WIRE_LIVE_ROLLBACK = 3,  /* child failed: parent and its state are back */
    WIRE_LIVE_REFUSED = 4,   /* child did not load (parse, safety, compile) */
    WIRE_LIVE_RESTARTED = 5, /* worker killed outside probation: last good state */
    WIRE_LIVE_FAILED = 6,    /* the individual could not start, or died */
    WIRE_LIVE_STOPPED = 7,
    WIRE_LIVE__COUNT
};
/* WIRE_WORK_LIVE commands. */
enum wire_live_cmd {
    WIRE_LIVE_CMD_START = 0,
    WIRE_LIVE_CMD_UPGRADE = 1,
    WIRE_LIVE_CMD_STOP = 2,
    WIRE_LIVE_CMD__COUNT
};
#define WIRE_LIVE_SNAPSHOT_MAX (1u << 20) /* bytes of a state snapshot in LIVE_EVENT */
#define WIRE_LIVE_MAX_BATCH 4096          /* requests or replies in one frame */

/* Evaluation outcomes: one distinct status per way a genome can end. */
enum wire_status {
    WIRE_ST_OK = 0,
    WIRE_ST_PARSE_ERROR = 1,
    WIRE_ST_UNSAFE = 2,
    WIRE_ST_COMPILE_ERROR = 3,
    WIRE_ST_TIMEOUT = 4,
    WIRE_ST_HEAP_LIMIT = 5,
    WIRE_ST_CRASH = 6,
    WIRE_ST_BAD_RESULT = 7,
    WIRE_ST_UNSUPPORTED = 8, /* e.g. an Elixir genome where Elixir is absent */
    WIRE_ST_INTERNAL = 9,    /* the VM failed, not the genome (lost, killed) */
    WIRE_ST_VM_KILLED = 10,  /* the genome killed its VM while running alone on it
                                (e.g. froze the scheduler past the heartbeat) */
    WIRE_ST__COUNT
};

/* Name of a status ("ok", "parse_error", ...); "unknown" if out of range. */
const char *wire_status_str(int status);

typedef struct wire_hdr {
    uint8_t version;
    uint16_t type;
    uint8_t flags;
    uint8_t sender[WIRE_ID_LEN];
    uint32_t length; /* payload bytes */
} wire_hdr_t;

/* ---- writer: a growable buffer; errors are sticky (check wire_end) ---- */

typedef struct wire_buf {
    uint8_t *data;
    size_t len, cap;
    size_t frame_start; /* offset of the open frame's header */
    int err;            /* first error (ERR_TOOBIG, -ENOMEM), else 0 */
} wire_buf_t;

void wire_buf_init(wire_buf_t *b);
void wire_buf_free(wire_buf_t *b);
/* Empties the buffer (keeps its memory) and clears the error. */
void wire_buf_reset(wire_buf_t *b);

/* Starts a frame at the end of the buffer (several frames may follow each
 * other; the frame occupies data[frame_start .. len) after wire_end).
 * sender may be NULL (zeros). A put that would grow the open frame's
 * payload past WIRE_MAX_FRAME sets ERR_TOOBIG without allocating. Once set,
 * the error stays until wire_buf_reset, and every put is a no-op. */
void wire_begin(wire_buf_t *b, uint16_t type, uint8_t flags, const uint8_t *sender);
/* Patches the frame length. Returns 0, or the sticky error (ERR_TOOBIG if
 * the frame exceeds WIRE_MAX_FRAME, -ENOMEM). */
int wire_end(wire_buf_t *b);

void wire_put_u8(wire_buf_t *b, uint8_t v);
void wire_put_u16(wire_buf_t *b, uint16_t v);
void wire_put_u32(wire_buf_t *b, uint32_t v);
void wire_put_u64(wire_buf_t *b, uint64_t v);
void wire_put_i64(wire_buf_t *b, int64_t v);
void wire_put_f64(wire_buf_t *b, double v);
void wire_put_bytes(wire_buf_t *b, const void *p, size_t len); /* u32 len + bytes */
void wire_put_str(wire_buf_t *b, const char *s);               /* NULL = "" */
void wire_put_raw(wire_buf_t *b, const void *p, size_t len);   /* no prefix */
void wire_put_num_int(wire_buf_t *b, int64_t v);
void wire_put_num_float(wire_buf_t *b, double v);

/* ---- reader: a bounds-checked cursor over untrusted bytes ---- */

typedef struct wire_rd {
    const uint8_t *p;
    size_t left;
    int err; /* sticky: first error, else 0 */
} wire_rd_t;

/* Parses the header of one complete frame held in buf[0..len). Checks the
 * version (ERR_VERSION), that len >= WIRE_HDR_LEN (ERR_TRUNC), that the
 * declared length is <= WIRE_MAX_FRAME (ERR_TOOBIG) and equals the bytes
 * present (ERR_TRUNC if fewer, ERR_PROTO if more). On success fills *h
 * and points *payload at the payload. */
int wire_parse(const uint8_t *buf, size_t len, wire_hdr_t *h, wire_rd_t *payload);

/* Points r at len bytes of p (e.g. a nested byte string); no header. */
void wire_rd_init(wire_rd_t *r, const void *p, size_t len);

/* Every getter returns 0 or the (sticky) error; on error the output is
 * zeroed and later getters fail too. */
int wire_get_u8(wire_rd_t *r, uint8_t *v);
int wire_get_u16(wire_rd_t *r, uint16_t *v);
int wire_get_u32(wire_rd_t *r, uint32_t *v);
int wire_get_u64(wire_rd_t *r, uint64_t *v);
int wire_get_i64(wire_rd_t *r, int64_t *v);
int wire_get_f64(wire_rd_t *r, double *v);
/* Zero-copy view of a length-prefixed byte string; fails with ERR_TOOBIG
 * if its length exceeds max. The view lives as long as the frame. */
int wire_get_bytes(wire_rd_t *r, const uint8_t **p, uint32_t *len, uint32_t max);
/* Copies a length-prefixed string into out[cap] NUL-terminated; fails with
 * ERR_TOOBIG if it does not fit, ERR_PROTO if it holds a NUL byte. */
int wire_get_str(wire_rd_t *r, char *out, size_t cap);
int wire_get_raw(wire_rd_t *r, void *out, size_t n);
/* Reads a list count; fails with ERR_TOOBIG if count > max, or ERR_TRUNC
 * if the remaining bytes cannot hold count items of min_item bytes. */
int wire_get_count(wire_rd_t *r, uint32_t *count, uint32_t max, size_t min_item);
/* Reads a num; *is_float tells which member is set. */
int wire_get_num(wire_rd_t *r, int *is_float, int64_t *i, double *f);

#endif
