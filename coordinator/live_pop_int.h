/* live_pop_int.h - what the parts of the coordinator's live populations share
 * (live.c, live_event.c, live_store.c); live_pop.h is the outside view. */
#ifndef PETRI_LIVE_POP_INT_H
#define PETRI_LIVE_POP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "coord.h"
#include "live_pop.h"

#define LIVE_PREFIX "live/" /* store meta keys: "live/NAME", "live/NAME/I" */
#define LIVE_RESERVE 32     /* upgrade ids reserved per persisted state */
#define IND_STATE_VERSION 1 /* the layout of a persisted individual */

/* Unix wall-clock ms (for what people read: versions' at_ms, the series). */
uint64_t lv_wall_ms(void);

/* An individual's version history (a ring of LIVE_VERSIONS_KEPT). */
live_version_t *lv_ver_add(live_ind_t *d);
live_version_t *lv_ver_by_upgrade(live_ind_t *d, uint64_t upgrade_id);
live_version_t *lv_ver_by_number(live_ind_t *d, uint32_t version);

/* The individual's last promoted version: its source (hashed into
 * good_hash) and state snapshot, copied. 0 or -ENOMEM. */
int lv_set_good(live_ind_t *d, const char *src, size_t len, const uint8_t *snap, size_t snap_len);

/* Persistence (live_store.c): 0 or the store's error (logged). */
int lv_save_pop(coord_t *c, live_pop_t *p);
int lv_save_ind(coord_t *c, live_pop_t *p, int i);

/* Tells an agent to stop its placement (incarnation) of individual i. */
int lv_send_stop(coord_t *c, const live_pop_t *p, int i, const uint8_t agent[CRYPTO_ID_LEN],
                 uint64_t incarnation);
/* The upgrade in flight will get no outcome: its version says why. */
void lv_lose_inflight(live_ind_t *d, const char *why);
/* The individual waits for an agent again (its own died, stopped it, or
 * it failed there). */
void lv_unplace(live_ind_t *d, const char *why);

#endif
