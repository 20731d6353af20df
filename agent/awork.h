/* awork.h - the agent's end of the work channel: a DEALER connected to the
 * coordinator it learns from gossip; batches of items in, each bred and
 * scored on the local VMs, signed results out.
 *
 * Invariants:
 *  1. Backpressure: the agent announces credit = what its ready VMs can
 *     start soon (batch VMs x [work] credit_per_vm) minus the items it holds; the
 *     coordinator never sends more. Batch VMs = ready VMs less one per live
 *     individual hosted (each has a VM of its own), at least one while a VM
 *     is ready.
 *  2. Every item received gets exactly one signed result (a failure status
 *     when breeding or the VM fails), unless the agent stops first; results
 *     finished while there is no session wait for the next one.
 *  3. Nothing but the handshake goes out until the coordinator has welcomed
 *     the agent's signed answer to its challenge (wire.h, work channel); each
 *     connection has a new random routing id, and a session that falls
 *     silent or a handshake that stalls starts over on a new connection.
 *  4. Live individuals (WIRE_WORK_LIVE) are alive.c's: this module hands
 *     it the commands and sends its events in the session.
 */
#ifndef PETRI_AWORK_H
#define PETRI_AWORK_H

#include <jansson.h>
#include <stdint.h>

#include "crypto.h"
#include "loop.h"
#include "pool.h"

typedef struct awork awork_t;

/* pool, identity and keyring are borrowed; the work socket gets a ZeroMQ
 * context (an I/O thread) of its own. */
/* max_live: live individuals hosted at most (alive.h). */
awork_t *awork_new(loop_t *l, pool_t *pool, const node_identity_t *id, keyring_t *kr,
                   const char *name, int per_vm, int min_vms, int max_live, char *err,
                   size_t errlen);
void awork_destroy(awork_t **w);

/* Connects to the coordinator's work endpoint ("tcp://host:port") and
 * starts the handshake; a different endpoint replaces the old one, NULL/""
 * disconnects. */
void awork_set_coordinator(awork_t *w, const char *endpoint);
const char *awork_coordinator(const awork_t *w);
/* Stops taking work (shutdown): announces no VMs and no credit from now on,
 * and stops the live individuals. */
void awork_drain(awork_t *w);
/* Live individuals still hosted (0 once every one stopped). */
int awork_live_count(const awork_t *w);
/* Announces capacity now (after VM state changes). */
void awork_announce(awork_t *w);
/* Items received but not finished. */
int awork_held(const awork_t *w);
json_t *awork_status_json(const awork_t *w);

#endif
