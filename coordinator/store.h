/* store.h - petri's lineage store: content-addressed genomes and a signed,
 * hash-chained, append-only log of lineage records in one LMDB environment,
 * with child/parent/derivation-key indexes. docs/design.md section 8.
 *
 * Invariants:
 *  1. Records are numbered 1, 2, 3, ... with no gap; record n holds the
 *     BLAKE2b-256 hash of the stored bytes of record n-1 (zeros for n = 1).
 *  2. Every record is signed by the coordinator key recorded in meta
 *     "coord_pk" at the store's first open; a store never mixes keys.
 *  3. A derivation key (population, deme, dseq) is recorded at most once:
 *     later results for a recorded key are reported as duplicates.
 *  4. A record, its genome and its index entries are written in the same
 *     write transaction as the new head: after a crash the store holds
 *     whole batches only, never half a batch.
 *  5. Nothing handed to a caller points into the LMDB map: records are
 *     copied into caller structs, genomes and meta values into malloc'd
 *     buffers.
 *  6. Bytes read back from disk are untrusted: decoding is bounds-checked
 *     and a damaged record yields an error naming its sequence number.
 *
 * Layout: one LMDB environment in <data_dir>/lineage/ (data.mdb, lock.mdb)
 * with these named databases:
 *   genomes    child_hash[32] -> source bytes. Content-addressed, written
 *              once (MDB_NOOVERWRITE), never changed.
 *   log        seq (u64 big-endian) -> record bytes (the canonical encoding
 *              below). Appended with MDB_APPEND.
 *   by_child   child_hash[32] -> seq (u64 BE), DUPSORT|DUPFIXED: one entry
 *              per record of that child, ascending seq (first = oldest).
 *   by_parent  parent_hash[32] -> child_hash[32], DUPSORT|DUPFIXED.
 *   by_key     derivation key -> seq (u64 BE). The key bytes are the wire
 *              encoding population:str deme:u32 dseq:u64.
 *   meta       string keys -> bytes. Reserved keys: "format" (u32 BE, the
 *              layout version, 1), "coord_pk" (32 bytes), "head" (seq:u64 BE
 *              + hash[32] of the last record). Every other key is free for
 *              the coordinator (population state) via store_meta_*.
 *
 * Threads: every function may be called from any thread, concurrently.
 * Appends are serialised by the store (one submitter at a time, batches
 * committed in order by the store's own committer thread, started by
 * store_open with a signer); meta writes by LMDB's writer lock. Lookups
 * see durable records only. Callbacks run outside any transaction unless
 * stated otherwise.
 *
 * Errors: 0 or a negative code of err.h (err_str()); LMDB failures map to
 * -EIO (logged with LMDB's message), except those listed per function.
 */
#ifndef PETRI_STORE_H
#define PETRI_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "wire.h"
#include "wire_live.h"

#define STORE_POP_MAX WIRE_POP_MAX             /* bytes of a population name */
#define STORE_OP_MAX WIRE_OP_MAX               /* bytes of an operator name */
#define STORE_MUTATOR_MAX 32                   /* bytes of an external mutator's name */
#define STORE_MAX_PARENTS 2                    /* parents per record */
#define STORE_GENOME_MAX (1u << 20)            /* bytes of one genome's source */
#define STORE_META_KEY_MAX 256                 /* bytes of a meta key */
#define STORE_META_VAL_MAX (4u << 20)          /* bytes of a meta value */
#define STORE_DEFAULT_MAP (1ull << 30)         /* 1 GiB; grown on demand */
#define STORE_SIG_DOMAIN "petri-lineage-v1"    /* coord_sig domain of version 1 records */
#define STORE_SIG_DOMAIN_V2 "petri-lineage-v2" /* ... of version 2 records (same length) */
#define STORE_SIG_DOMAIN_V3 "petri-lineage-v3" /* ... of version 3 (live) records */
#define STORE_SIG_DOMAIN_V4 "petri-lineage-v4" /* ... of version 4 records */
#define STORE_REC_MARK 0xff                    /* first byte of a version 2 record */

/* One lineage record. Four record versions share the log; all decode and
 * verify. New records of scored children are version 4, live records
 * version 3, records the coordinator writes itself version 2.
 *
 * Version 1, the canonical encoding (the bytes stored in "log"), written
 * with the wire writer in exactly this order, no frame header:
 *   seq:u64  prev_hash:32 raw  population:str (1..64)  deme:u32  dseq:u64
 *   child_hash:32 raw  parents:u32 count (0..2) + count x 32 raw
 *   op:str (1..16)  seed:u64  status:u8  fitness:f64 (every NaN written as
 *   0x7ff8000000000000; other NaN bit patterns are rejected)
 *   agent_id:16 raw  agent_pk:32 raw  agent_sig:64 raw  time_ms:u64
 *   coord_sig:64 raw
 * Version 2 starts with mark:u8 (0xff) version:u8 (2), then the version 1
 * fields from seq to time_ms, then the per-case summary, then coord_sig:
 *   passed:u32  cases:u32  cost:f64 (NaN canonical as fitness)
 *   reused:u8 (0 or 1)  errors_hash:32 raw
 * A version 1 record starts with seq's top byte, 0 (seqs are dense from 1;
 * the codec refuses seq >= 2^56 in both versions), so the first byte tells
 * the versions apart and no prefix of one version is a record of the other.
 * coord_sig is the coordinator's Ed25519 signature over the version's
 * domain (STORE_SIG_DOMAIN, STORE_SIG_DOMAIN_V2) as str, then every field
 * above from seq to time_ms (version 1) or to errors_hash (version 2).
 * agent_sig is the agent's signature over attest_result() (attest.h) of
 * (population, deme, dseq, child_hash, status, fitness) in version 1, over
 * attest_result_v2() of those and (passed, cases, cost, reused,
 * errors_hash) in version 2. errors_hash is attest_errors_hash() of the
 * per-case errors the agent reported (zeros when it reported none): the
 * record keeps the pass vector's summary and hash, not the vector.
 * Origin: a version 2 record of op "external" (a genome written by an
 * external mutator: POST /v1/populations/NAME/genomes with "mutator") has
 * one more block after errors_hash, before coord_sig:
 *   mutator:str (1..32 of [a-z0-9_.-], store_mutator_valid)
 *   input_hash:32 raw (BLAKE2b-256 of what the mutator was given: the
 *                      prompt bundle's bundle_hash)
 * Records of every other op have no origin block (their mutator is empty
 * and input_hash zeros), and a version 1 record is never of op "external",
 * so the op tells the layout and version 1 records read as before. The
 * origin is covered by coord_sig (it is part of the body), not by
 * agent_sig: the agent scores a source and never learns where it came
 * from. When no agent scored the child (the mutator's answer was too big
 * or late, and the coordinator records that failure itself), agent_id,
 * agent_pk and agent_sig are the coordinator's own node id, public key and
 * signature over the same attest_result_v2 message: every record still
 * verifies the same way, and the agent field says who judged it.
 * Version 3 is a live individual's record (an upgrade's outcome or the
 * individual's first start; docs/design.md "Live populations"): version
 * 2's layout (mark:u8 0xff, version:u8 3, the same fields, the origin block
 * when op is "external"), then the live block before coord_sig:
 *   kind:u8 (enum wire_live_kind: started, promoted, rollback, refused)
 *   version:u32 (the individual's version running after the event)
 *   state_before:32 raw  state_after:32 raw (SHA-256 of the state's
 *   term_to_binary as the VM hashed it; zeros when none)
 *   parent_score:f64 (NaN canonical)  probation:u32 (child requests judged)
 *   reason:str (0..WIRE_LIVE_REASON_MAX - 1 bytes, may be empty)
 * There population is the live population, deme the individual, dseq the
 * upgrade id (0 for the start), child_hash the version the event is about,
 * parents[0] its parent version (none for a start), op the operator that
 * made the child ("start", a built-in operator, "external", "pin"),
 * status wire_live_status(kind) and fitness the child's probation score.
 * agent_sig is over attest_live() of those (attest.h). The per-case
 * summary fields are zero.
 * Version 4 is version 2 with the breeder (mark:u8 0xff, version:u8 4,
 * version 2's fields and origin block, then, before coord_sig):
 *   breeder:16 raw (the identity of the VM code that bred the child, as
 *   its hello said: wire.h WIRE_VM_HELLO; zeros when no VM bred it, e.g.
 *   an external mutator's child, or a VM that did not say)
 * agent_sig is over attest_result_v2() version 3 (breeder included), so
 * the agent vouches for the breeder as for the score. A replay on a VM of
 * another breeder may derive another child: `lineage verify --replay`
 * reports such a record as not comparable, not as a mismatch.
 * The record hash (the next record's prev_hash, "head") is BLAKE2b-256 of
 * the whole encoding, coord_sig included. The decoder rejects trailing
 * bytes, so every byte of a stored record is covered. */
/* The live block of a version 3 record. */
typedef struct lineage_live {
    uint8_t kind; /* enum wire_live_kind */
    uint32_t version;
    uint8_t state_before[CRYPTO_HASH_LEN], state_after[CRYPTO_HASH_LEN];
    double parent_score; /* NaN when none */
    uint32_t probation;
    char reason[WIRE_LIVE_REASON_MAX];
} lineage_live_t;

typedef struct lineage_rec {
    uint8_t version; /* 1, 2, 3 or 4 (0 = 2 for store_rec_encode) */
    uint64_t seq;    /* 1-based, dense */
    uint8_t prev_hash[CRYPTO_HASH_LEN];
    char population[STORE_POP_MAX + 1];
    uint32_t deme;
    uint64_t dseq; /* (population, deme, dseq) = the derivation key */
    uint8_t child_hash[CRYPTO_HASH_LEN];
    uint8_t nparents;
    uint8_t parents[STORE_MAX_PARENTS][CRYPTO_HASH_LEN];
    char op[STORE_OP_MAX + 1]; /* see store_op_valid() */
    uint64_t seed;
    uint8_t status; /* enum wire_status */
    double fitness; /* NaN unless status is WIRE_ST_OK */
    uint8_t agent_id[CRYPTO_ID_LEN];
    uint8_t agent_pk[CRYPTO_PK_LEN];
    uint8_t agent_sig[CRYPTO_SIG_LEN];
    uint64_t time_ms; /* unix wall-clock ms of the commit: data, not a timer */
    /* version 2 only (zero in version 1 records) */
    uint32_t passed, cases;
    double cost;
    uint8_t reused;
    uint8_t errors_hash[CRYPTO_HASH_LEN];
    /* the origin: op "external" only (empty and zeros otherwise) */
    char mutator[STORE_MUTATOR_MAX + 1];
    uint8_t input_hash[CRYPTO_HASH_LEN];
    lineage_live_t live;               /* version 3 only (zeros otherwise) */
    uint8_t breeder[WIRE_BREEDER_LEN]; /* version 4 only (zeros otherwise) */
    uint8_t coord_sig[CRYPTO_SIG_LEN];
} lineage_rec_t;

/* ---- record codec (store_rec.c); pure functions, no store needed ---- */

/* 1 if op is one of: point swap subtree crossover hoist shrink random
 * submitted migrate copy, the program operators (petri_prog), external,
 * start and pin (live records); else 0. */
int store_op_valid(const char *op);

/* 1 if name is a mutator name: 1..STORE_MUTATOR_MAX characters of
 * [a-z0-9_.-]; else 0 (NULL too). */
int store_mutator_valid(const char *name);

/* 1 if l is a live block a version 3 record may hold: kind started,
 * promoted, rollback or refused, and a NUL-terminated reason; else 0. */
int store_live_fits(const lineage_live_t *l);

/* 1 if r holds a scored child's per-case summary (passed, cases, cost,
 * reused, errors_hash): versions 2 and 4; else 0. */
int store_rec_has_summary(const lineage_rec_t *r);

/* 1 if r names the breeder that bred its child: version 4 and nonzero
 * (zeros: no VM bred it); else 0. */
int store_rec_breeder(const lineage_rec_t *r);

/* Appends the canonical encoding of r (of its version) to b. Returns 0,
 * ERR_TOOBIG/ERR_INVAL if a string is too long, empty, nparents > 2, the
 * version is not 0 to 4 or reused not 0/1 (b is then untouched), or the
 * writer's sticky error; ERR_INVAL too for seq >= 2^56, and for an origin
 * that does not fit the op (op "external" in version 1 or without a valid
 * mutator name; another op with a mutator or a nonzero input_hash). */
int store_rec_encode(wire_buf_t *b, const lineage_rec_t *r);

/* Decodes one record of either version from p[0..len) into *out (zeroed
 * first; out->version says which). Returns 0, ERR_TRUNC if the bytes end
 * early, ERR_TOOBIG for a string or count past its cap, ERR_PROTO for
 * trailing bytes, a NUL in a string, an empty string, a non-canonical NaN,
 * an unknown record version, reused not 0/1, or a bad origin (op
 * "external" in version 1, a mutator name outside [a-z0-9_.-]). Never
 * reads outside p[0..len). */
int store_rec_decode(const uint8_t *p, size_t len, lineage_rec_t *out);

/* Checks r->agent_sig against r->agent_pk over what the agent attested:
 * attest_result (version 1 records) or attest_result_v2 with the record's
 * per-case summary (version 2). 0 if valid, ERR_CRYPTO if not. */
int store_rec_check_agent_sig(const lineage_rec_t *r) __attribute__((warn_unused_result));

/* Checks r->coord_sig against pk. 0 if valid, ERR_CRYPTO if not. */
int store_rec_check_sig(const uint8_t pk[CRYPTO_PK_LEN], const lineage_rec_t *r)
    __attribute__((warn_unused_result));

/* ---- the store ---- */

typedef struct store store_t;

/* Opens (creating on first use) the store in <data_dir>/lineage/ (mode
 * 0700). map_size: bytes of the LMDB map (0 = STORE_DEFAULT_MAP); the map
 * grows by doubling when a write finds it full, so this is a starting size.
 * signer: the coordinator identity that signs new records (copied; the copy
 * is wiped on close), or NULL to open for reading and verification only
 * (store_append then fails with ERR_STATE). On the first open with a signer
 * its public key is stored as meta "coord_pk"; a later open with a
 * different signer fails (ERR_CRYPTO): a store never mixes keys.
 * Returns NULL on failure with a message in err[errlen]: the directory
 * cannot be created, LMDB cannot open it, an unknown layout version, or the
 * signer mismatch. Only one store_t per environment per process (an LMDB
 * rule); other processes (e.g. the CLI's verify) may open it too. */
store_t *store_open(const char *data_dir, uint64_t map_size, const node_identity_t *signer,
                    char *err, size_t errlen);

/* Waits for submitted batches to commit (store_submit), stops the
 * committer thread, closes the store and sets *s to NULL. NULL or *s ==
 * NULL is fine. Every committed batch is already durable: close does
 * nothing special, and a process that dies without closing loses no
 * committed record. */
void store_close(store_t **s);

/* One result to record. Inputs are read, never kept; the caller owns them. */
typedef struct store_item {
    /* in */
    const char *population; /* 1..STORE_POP_MAX bytes */
    uint32_t deme;
    uint64_t dseq;
    uint8_t child_hash[CRYPTO_HASH_LEN]; /* must equal BLAKE2b-256(src) */
    uint8_t nparents;                    /* 0..STORE_MAX_PARENTS */
    uint8_t parents[STORE_MAX_PARENTS][CRYPTO_HASH_LEN];
    const char *op; /* store_op_valid() */
    uint64_t seed;
    uint8_t status;
    double fitness;
    uint8_t agent_id[CRYPTO_ID_LEN];
    uint8_t agent_pk[CRYPTO_PK_LEN];
    uint8_t agent_sig[CRYPTO_SIG_LEN]; /* over attest_result_v2(); checked by
                                          the caller, see store_append */
    uint8_t version;                   /* record version: 0 or 2 = 2; 3 = a live record;
                                          4 = 2 with the breeder (agent_sig over
                                          attest version 3); 1 writes what older
                                          builds wrote (tests, imports) */
    uint32_t passed, cases;            /* the version 2 summary (lineage_rec_t) */
    double cost;
    uint8_t reused;
    uint8_t errors_hash[CRYPTO_HASH_LEN];
    const char *src; /* the child's source; NULL = the genome must already
                        be stored (e.g. a migrated copy) */
    size_t src_len;  /* <= STORE_GENOME_MAX */
    /* the origin, op "external" only ("" and zeros for every other op) */
    char mutator[STORE_MUTATOR_MAX + 1]; /* store_mutator_valid() */
    uint8_t input_hash[CRYPTO_HASH_LEN]; /* the bundle_hash */
    lineage_live_t live;                 /* version 3 (a live record) only */
    uint8_t breeder[WIRE_BREEDER_LEN];   /* version 4 only */
    /* out, set by store_append */
    int dup;                       /* 1: the derivation key was already recorded (by an
                                      earlier batch or earlier in this batch): skipped */
    int err;                       /* the item's validation error, 0 if it was fine */
    uint64_t seq;                  /* its record's seq (the recorded one's if dup) */
    uint8_t hash[CRYPTO_HASH_LEN]; /* its record's hash (not set if dup) */
} store_item_t;

/* Records a batch of results in ONE durable write transaction (group
 * commit: one fsync for the batch) and returns once it is durable. For each
 * item in order: if its derivation key is already recorded, it is skipped
 * with dup = 1 and seq = the recorded seq; otherwise the genome is stored if
 * new, the record gets the next seq, the head's hash as prev_hash, time_ms =
 * now_ms and the coordinator's signature; the log and indexes are written
 * and the item's seq and hash filled. Then the head moves and the batch
 * commits. The agent signature is NOT checked here (that is one Ed25519
 * verify per item): the caller checks it with attest_verify() when the
 * result arrives; store_verify() checks it again later.
 * All or nothing: on any error nothing of the batch is written and the head
 * is unchanged (the items' outputs are then meaningless, except err).
 * Blocks for the signing (~20 us per record) and the commit (a few ms of
 * fsync): call it from a worker thread, or use store_submit/store_wait.
 * Errors: ERR_STATE without a signer (or if another process wrote the
 * store meanwhile); ERR_INVAL if an item is malformed (empty or too long
 * strings, unknown op, nparents > 2, child_hash not the hash of src, src
 * too big, version > 4, reused > 1, an origin that does not fit the op as
 * for store_rec_encode) with that item's err set - checked before anything is signed;
 * ERR_NOTFOUND if src is NULL and the genome is not stored (that item's err
 * set); -ENOSPC if the map cannot grow; -EIO for other LMDB failures. */
int store_append(store_t *s, store_item_t *items, size_t n, uint64_t now_ms);

/* Pipelined store_append: store_append() is store_submit() + store_wait().
 * store_submit checks, numbers, chains and signs the batch in the calling
 * thread, fills the items' outputs (dup, seq, hash, err) and queues the
 * batch for the store's committer thread; it returns without waiting for
 * the fsync, so the caller can sign the next batch while this one commits.
 * The items and everything they point to may be freed as soon as it
 * returns (the batch holds its own copies). At most two batches are in
 * flight: a third submit waits for the oldest to finish. *ticket names the
 * batch for store_wait. Errors as store_append, before anything is queued
 * (*ticket = 0 then).
 * Outputs are provisional until store_wait(ticket) returns 0: if a batch
 * fails, every batch submitted after it fails with the same error (they
 * were chained on records that never became durable) and the head stays at
 * the last durable record; resubmit the items (they are not recorded). */
int store_submit(store_t *s, store_item_t *items, size_t n, uint64_t now_ms, uint64_t *ticket);

/* One meta write for store_submit_kv: key (not reserved, see
 * store_meta_put) -> val[len]. */
typedef struct store_kv {
    const char *key;
    const void *val;
    size_t len;
} store_kv_t;

/* store_submit with meta writes (copied) committed in the same transaction
 * as the batch's records, so they become durable together or not at all:
 * the coordinator's population state rides with the records it refers to.
 * n may be 0 (a meta-only batch, still committed in ticket order after
 * every batch submitted before it). ERR_INVAL for a reserved or empty key,
 * ERR_TOOBIG past the meta caps; otherwise as store_submit. */
int store_submit_kv(store_t *s, store_item_t *items, size_t n, const store_kv_t *kv, size_t nkv,
                    uint64_t now_ms, uint64_t *ticket);

/* An eventfd (non-blocking; read it to reset) that the committer writes
 * after every finished batch, for an event loop to wait on instead of
 * blocking in store_wait; -1 for a store opened without a signer. Owned by
 * the store. */
int store_event_fd(store_t *s);

/* The newest ticket finished (durable or failed): store_wait on a ticket
 * <= this returns at once. */
uint64_t store_finished(store_t *s);

/* Waits until batch ticket is durable (0) or failed (its error). Ticket 0
 * returns 0 at once. ERR_INVAL for a ticket never handed out; ERR_NOTFOUND
 * if more than 256 batches finished since (its result is forgotten). */
int store_wait(store_t *s, uint64_t ticket);

/* The last record's seq (0 for an empty store) and hash (zeros then). */
void store_head(store_t *s, uint64_t *seq, uint8_t hash[CRYPTO_HASH_LEN]);

/* Copies record seq into *out. ERR_NOTFOUND if absent; a damaged record
 * gives its decode error (ERR_PROTO, ERR_TRUNC, ERR_TOOBIG). */
int store_get(store_t *s, uint64_t seq, lineage_rec_t *out);

/* Copies record seq's stored bytes (the canonical encoding, undecoded)
 * into a malloc'd buffer (*out, caller frees). ERR_NOTFOUND if absent. */
int store_get_raw(store_t *s, uint64_t seq, uint8_t **out, size_t *len);

/* The hash of record seq's stored bytes (what the next record chains to
 * and what checkpoints name). ERR_NOTFOUND if absent. */
int store_rec_hash(store_t *s, uint64_t seq, uint8_t hash[CRYPTO_HASH_LEN]);

/* Copies the first (lowest seq) record of child hash into *out.
 * ERR_NOTFOUND if the child has no record. */
int store_find_child(store_t *s, const uint8_t hash[CRYPTO_HASH_LEN], lineage_rec_t *out);

/* The seqs of every record of child hash, ascending: up to max into out
 * (may be NULL when max = 0); *count = how many there are in all (may
 * exceed max). 0, even for none. */
int store_child_records(store_t *s, const uint8_t hash[CRYPTO_HASH_LEN], uint64_t *out, size_t max,
                        size_t *count);

/* The distinct child hashes derived from parent, in hash order: up to max
 * into out; *count = how many there are in all. 0, even for none. */
int store_children(store_t *s, const uint8_t parent[CRYPTO_HASH_LEN],
                   uint8_t (*out)[CRYPTO_HASH_LEN], size_t max, size_t *count);

/* Copies a genome's source into a malloc'd, NUL-terminated buffer (*src,
 * owned by the caller; *len excludes the NUL). ERR_NOTFOUND if absent. */
int store_get_genome(store_t *s, const uint8_t hash[CRYPTO_HASH_LEN], char **src, size_t *len);

/* 0 if the derivation key is recorded (and *seq, if not NULL, is its
 * record's seq), ERR_NOTFOUND if not (durable records only: a batch still
 * in store_submit's pipeline is not seen), ERR_INVAL for a bad population,
 * or another negative error. */
int store_has_key(store_t *s, const char *population, uint32_t deme, uint64_t dseq, uint64_t *seq);

/* ---- the coordinator key ---- */

#define STORE_FP_LEN 32 /* hex characters of a key fingerprint */
#define STORE_FP_DOMAIN "petri-key-fp-v1"

/* The store's meta "coord_pk" into pk; *have = 0 if none is recorded. */
void store_coord_pk(store_t *s, uint8_t pk[CRYPTO_PK_LEN], int *have);
/* A key's fingerprint: the first 16 bytes of BLAKE2b-256(STORE_FP_DOMAIN
 * as str, pk), in lowercase hex. What operators compare and pin. */
void store_fingerprint(const uint8_t pk[CRYPTO_PK_LEN], char out[STORE_FP_LEN + 1]);
/* Normalises a fingerprint typed by an operator (hex, any case, ':', '-'
 * or ' ' separators allowed) into out. 0, or ERR_INVAL. */
int store_fingerprint_parse(const char *text, char out[STORE_FP_LEN + 1]);

/* ---- meta: free-form coordinator state ---- */

/* Writes key -> val[len] in its own durable transaction. ERR_INVAL for a
 * reserved key ("format", "coord_pk", "head") or an empty key; ERR_TOOBIG
 * past STORE_META_KEY_MAX / STORE_META_VAL_MAX. */
int store_meta_put(store_t *s, const char *key, const void *val, size_t len);
/* Copies a value into a malloc'd buffer (*val, caller frees; one NUL byte
 * follows the len bytes). ERR_NOTFOUND if absent. Reserved keys readable. */
int store_meta_get(store_t *s, const char *key, void **val, size_t *len);
/* Deletes key. ERR_NOTFOUND if absent, ERR_INVAL for a reserved key. */
int store_meta_del(store_t *s, const char *key);

/* Called once per key, in key order; key/val are valid during the call
 * only. Return nonzero to stop the iteration (store_meta_iter returns it). */
typedef int (*store_meta_cb)(void *arg, const char *key, const void *val, size_t len);
/* Calls cb for every non-reserved key starting with prefix ("" = all). The
 * entries are copied out first, so cb may call any store function. */
int store_meta_iter(store_t *s, const char *prefix, store_meta_cb cb, void *arg);

/* ---- verification ---- */

/* Called for every problem found: seq names the record (0 when the problem
 * is not one record's, e.g. an index with extra entries); reason is a
 * static or short-lived string, valid during the call only. */
typedef void (*store_verify_cb)(void *arg, uint64_t seq, const char *reason);
/* Called every few thousand records and at the end: checked so far, total
 * (the head seq). A nonzero return stops the walk (store_verify then
 * returns -ECANCELED). */
typedef int (*store_progress_cb)(void *arg, uint64_t checked, uint64_t total);

/* Walks the whole log from seq 1 in one read transaction and checks, for
 * every record: that seqs are dense (no gap, none out of order); that it
 * decodes; its seq field equals its key; the prev_hash chain; the
 * coordinator signature (against meta "coord_pk"); the agent signature
 * (agent_pk over attest_result or attest_result_v2, by the record's
 * version); known op and status; that its genome
 * exists and re-hashes to child_hash; that by_key, by_child and by_parent
 * hold its entries. Then that meta "head" names the last record and that
 * by_key/by_child hold no extra entries. Every problem is reported through
 * on_error (may be NULL), not just the first. The callbacks run inside the
 * read transaction: they must not call store functions. records_checked
 * (may be NULL) gets the number of log entries walked.
 * Returns 0 if everything holds; otherwise the code of the first problem:
 * ERR_CRYPTO (a signature), ERR_PROTO (chain, gap, decode, fields, head),
 * ERR_NOTFOUND (missing genome or index entry), ERR_STATE (no coord_pk);
 * -ECANCELED if progress asked to stop; or -EIO if LMDB fails. Safe to run
 * on another thread than the writer's (its own read transaction, a
 * snapshot of the log when it starts). */
int store_verify(store_t *s, store_verify_cb on_error, store_progress_cb progress, void *arg,
                 uint64_t *records_checked);

/* ---- stats (for /metrics) ---- */

typedef struct store_stats {
    uint64_t records;         /* head seq */
    uint64_t genomes;         /* distinct genomes stored */
    uint64_t file_bytes;      /* size of data.mdb on disk */
    uint64_t used_bytes;      /* pages in use x page size */
    uint64_t map_bytes;       /* current map size */
    uint64_t appends;         /* store_append calls committed since open */
    uint64_t appended;        /* records written since open */
    uint64_t dups;            /* items skipped as duplicates since open */
    uint64_t map_grows;       /* map size doublings since open */
    uint64_t last_append_us;  /* wall time of the last committed store_append */
    uint64_t last_commit_us;  /* of which mdb_txn_commit (the fsyncs) */
    uint64_t commit_us_total; /* mdb_txn_commit time of all appends since open */
    uint64_t append_us_total; /* store_append time of all appends since open */
} store_stats_t;

/* Fills *out. 0, or -EIO. */
int store_stats(store_t *s, store_stats_t *out);

#endif
