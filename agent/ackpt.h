/* ackpt.h - the agent's copy of the coordinator's newest lineage checkpoint
 * (ckpt.h): taken from the coordinator's gossip metadata, kept in
 * <data_dir>/lineage.ckpt across restarts, and gossiped back in the agent's
 * own metadata, so that a coordinator whose log was rolled back finds a
 * member holding a newer checkpoint and refuses to go on.
 *
 * Invariants:
 *  1. Only a checkpoint with a valid signature is kept.
 *  2. The kept checkpoint only moves forward: a newer one (higher seq)
 *     under the same coordinator key replaces it; an older one never does.
 *  3. A checkpoint under another key never replaces the kept one (a
 *     replaced coordinator key is what the kept one is there to expose);
 *     the operator removes lineage.ckpt to accept a new coordinator.
 */
#ifndef PETRI_ACKPT_H
#define PETRI_ACKPT_H

#include "ckpt.h"

typedef struct ackpt ackpt_t;

/* Loads <data_dir>/lineage.ckpt when present. A damaged or forged file is
 * logged and ignored (then the next checkpoint seen is kept). NULL only
 * out of memory. */
ackpt_t *ackpt_new(const char *data_dir);
void ackpt_destroy(ackpt_t **k);

/* Offers a checkpoint in base64 from the coordinator's metadata. Returns
 * 1 if it is now the kept one (written to disk first), 0 if it is not
 * newer (or is under another key: logged), ERR_PROTO for text that is not
 * a checkpoint, ERR_CRYPTO for a bad signature, or a write error. */
int ackpt_offer(ackpt_t *k, const char *b64);

/* The kept checkpoint in base64, "" if none. */
const char *ackpt_b64(const ackpt_t *k);

#endif
