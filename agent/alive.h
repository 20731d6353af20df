/* alive.h - the agent daemon's live individuals: WIRE_WORK_LIVE commands
 * from the coordinator (start, upgrade, stop), each individual on a VM of
 * its own (live_host.h) with its trace replayed in a loop, every event
 * signed and sent back as WIRE_WORK_LIVE_EVENT, and WIRE_WORK_LIVE_STATUS
 * every second while any runs.
 *
 * Invariants:
 *  1. Every command gets an answer in events: START -> started (or failed
 *     with the reason: a bad spec or trace, [live] max_individuals reached,
 *     no VM); UPGRADE -> upgrade then promoted or rollback, or refused
 *     (the child did not breed or load); STOP -> stopped. A command for an
 *     individual not hosted here (or another incarnation of it) -> failed.
 *  2. Upgrades of one individual go to its VM in the order they came; one
 *     bred by a built-in operator is bred in the individual's own VM first.
 *  3. Every event is signed (attest_sign_live) over exactly the fields it
 *     carries. Events wait, in order, while there is no session (up to
 *     ALIVE_MAX_WAITING); status reports are only sent in a session.
 *  4. An individual whose VM dies resumes at its last promoted version and
 *     snapshot (event restarted); after LIVE_MAX_RESTARTS it fails (event
 *     failed) and is forgotten.
 *
 * What the events say, where wire.h leaves it to the agent:
 *  - restarted: the VM's `started` on a fresh VM after the last one died
 *    (snapshot and state_after: what it resumed from), as well as the VM's
 *    own restarted (a worker killed outside probation: the snapshot is the
 *    last good state it went back to).
 *  - failed: said once, when the agent gives up on the individual (it could
 *    not start, or its VM died LIVE_MAX_RESTARTS times); a failure the VM
 *    reports while the agent resumes the individual is only logged.
 *  - child_hash is BLAKE2b-256 of the source the agent holds for the
 *    event, the empty source when it holds none (a breeding that failed, a
 *    command for no individual); parent_hash is zeros outside upgrades.
 *  - refused also answers an upgrade the agent could not get to a VM (the
 *    breeding failed, its queue is full, the individual ended first).
 */
#ifndef PETRI_ALIVE_H
#define PETRI_ALIVE_H

#include <jansson.h>
#include <stdint.h>

#include "crypto.h"
#include "loop.h"
#include "pool.h"
#include "wire.h"

#define ALIVE_DEFAULT_MAX 4        /* [live] max_individuals */
#define ALIVE_MAX_QUEUED 64        /* upgrades of one individual waiting or on the VM */
#define ALIVE_MAX_WAITING 4096     /* events kept while there is no session */
#define ALIVE_STATUS_EVERY_MS 1000 /* WIRE_WORK_LIVE_STATUS */

typedef struct alive alive_t;

/* Sends one whole frame in the work session: 0 when it went out, else
 * nonzero (no session). */
typedef int (*alive_send_fn)(void *arg, const uint8_t *frame, size_t len);

/* pool (for its erl, code path and Elixir; NULL = no VMs: every START is
 * refused after its checks) and identity are borrowed. */
alive_t *alive_new(loop_t *l, const pool_t *pool, const node_identity_t *id, int max_individuals,
                   alive_send_fn send, void *send_arg);
/* Kills every individual's VM at once (no events). NULL-safe; nulls *a. */
void alive_destroy(alive_t **a);

/* One WIRE_WORK_LIVE payload (untrusted: a malformed one is logged and
 * dropped; a well-formed one is answered per invariant 1). */
void alive_command(alive_t *a, wire_rd_t *r);
/* A session is up: events kept while there was none go out, in order. */
void alive_flush(alive_t *a);
/* Shutdown: stops every individual (their stopped events go out). */
void alive_stop_all(alive_t *a);
/* Individuals hosted (running, starting or stopping). */
int alive_count(const alive_t *a);
json_t *alive_status_json(const alive_t *a);

#endif
