/* live_store.c - live populations kept in the store (live_pop.h): the
 * config and counters under "live/NAME", each individual under
 * "live/NAME/I"; restored when the coordinator starts. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest.h"
#include "coord.h"
#include "err.h"
#include "live_pop_int.h"
#include "log.h"
#include "placement.h"
#include "util.h"
#include "wire_live.h"
#include "work.h"

/* ---- persistence: "live/NAME" the config and counters, "live/NAME/I" an
 * individual: layout:u8 (1) version:u32 next_version:u32 next_upgrade:u64
 * (reserved) pinned:u32 incarnation:u64 (the last placement's: a restarted
 * coordinator goes on from it) good_hash:32 good_src:bytes snapshot:bytes ---- */

int lv_save_pop(coord_t *c, live_pop_t *p)
{
    json_t *o =
        json_pack("{s:O, s:b, s:I, s:I, s:I, s:I}", "config", p->config, "running", p->running,
                  "upgrades", (json_int_t)p->upgrades, "promoted", (json_int_t)p->promoted,
                  "rolled_back", (json_int_t)p->rolled_back, "refused", (json_int_t)p->refused);
    char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!txt)
        return -ENOMEM;
    char key[STORE_META_KEY_MAX];
    snprintf(key, sizeof key, LIVE_PREFIX "%s", p->name);
    int rc = store_meta_put(c->store, key, txt, strlen(txt));
    free(txt);
    return rc;
}

int lv_save_ind(coord_t *c, live_pop_t *p, int i)
{
    live_ind_t *d = &p->ind[i];
    wire_buf_t b;
    wire_buf_init(&b);
    wire_put_u8(&b, IND_STATE_VERSION);
    wire_put_u32(&b, d->version);
    wire_put_u32(&b, d->next_version);
    wire_put_u64(&b, d->next_upgrade + LIVE_RESERVE);
    wire_put_u32(&b, d->pinned);
    wire_put_u64(&b, d->incarnation);
    wire_put_raw(&b, d->good_hash, CRYPTO_HASH_LEN);
    wire_put_bytes(&b, d->good_src, d->good_len);
    wire_put_bytes(&b, d->snap ? d->snap : (const uint8_t *)"", d->snap_len);
    char key[STORE_META_KEY_MAX];
    snprintf(key, sizeof key, LIVE_PREFIX "%s/%d", p->name, i);
    int rc = b.err ? b.err : store_meta_put(c->store, key, b.data, b.len);
    wire_buf_free(&b);
    if (rc) {
        char q[128];
        log_error("live.save_failed", "population=%s individual=%d why=%s", p->name, i,
                  log_quote(err_str(rc), q, sizeof q));
    }
    return rc;
}

int lv_set_good(live_ind_t *d, const char *src, size_t len, const uint8_t *snap, size_t snap_len)
{
    char *s = malloc(len ? len : 1);
    uint8_t *n = snap_len ? malloc(snap_len) : NULL;
    if (!s || (snap_len && !n)) {
        free(s);
        free(n);
        return -ENOMEM;
    }
    memcpy(s, src, len);
    if (snap_len)
        memcpy(n, snap, snap_len);
    free(d->good_src);
    free(d->snap);
    d->good_src = s;
    d->good_len = len;
    d->snap = n;
    d->snap_len = snap_len;
    crypto_hash(s, len, d->good_hash);
    return 0;
}

static int load_ind(coord_t *c, live_pop_t *p, int i)
{
    char key[STORE_META_KEY_MAX];
    snprintf(key, sizeof key, LIVE_PREFIX "%s/%d", p->name, i);
    void *val = NULL;
    size_t len = 0;
    if (store_meta_get(c->store, key, &val, &len) != 0)
        return ERR_NOTFOUND;
    live_ind_t *d = &p->ind[i];
    wire_rd_t r;
    wire_rd_init(&r, val, len);
    uint8_t ver = 0;
    const uint8_t *src = NULL, *snap = NULL;
    uint32_t slen = 0, snlen = 0;
    wire_get_u8(&r, &ver);
    wire_get_u32(&r, &d->version);
    wire_get_u32(&r, &d->next_version);
    wire_get_u64(&r, &d->next_upgrade);
    wire_get_u32(&r, &d->pinned);
    wire_get_u64(&r, &d->incarnation);
    uint8_t h[CRYPTO_HASH_LEN];
    wire_get_raw(&r, h, CRYPTO_HASH_LEN);
    wire_get_bytes(&r, &src, &slen, STORE_GENOME_MAX);
    wire_get_bytes(&r, &snap, &snlen, WIRE_LIVE_SNAPSHOT_MAX);
    int rc = r.err || r.left || ver != IND_STATE_VERSION ? ERR_PROTO : 0;
    if (rc == 0)
        rc = lv_set_good(d, (const char *)src, slen, snap, snlen);
    if (rc == 0 && memcmp(h, d->good_hash, CRYPTO_HASH_LEN) != 0)
        rc = ERR_PROTO;
    free(val);
    return rc;
}

/* ---- restore ---- */

static int restore_one(void *arg, const char *key, const void *val, size_t len)
{
    coord_t *c = arg;
    if (strchr(key + strlen(LIVE_PREFIX), '/'))
        return 0; /* an individual: read with its population */
    json_error_t je;
    json_t *o = json_loadb(val, len, 0, &je);
    json_t *cfg = o ? json_object_get(o, "config") : NULL;
    char err[512] = "";
    live_pop_t *p = cfg ? live_pop_new(cfg, err, sizeof err) : NULL;
    if (!p) {
        log_error("live.restore_failed", "key=%s why=\"%s\"", key, cfg ? err : "not a live state");
        json_decref(o);
        return 0;
    }
    p->running = json_is_true(json_object_get(o, "running"));
    p->upgrades = (uint64_t)json_integer_value(json_object_get(o, "upgrades"));
    p->promoted = (uint64_t)json_integer_value(json_object_get(o, "promoted"));
    p->rolled_back = (uint64_t)json_integer_value(json_object_get(o, "rolled_back"));
    p->refused = (uint64_t)json_integer_value(json_object_get(o, "refused"));
    json_decref(o);
    for (int i = 0; i < p->n; i++) {
        live_ind_t *d = &p->ind[i];
        if (load_ind(c, p, i) != 0) {
            log_warn("live.restore_individual",
                     "population=%s individual=%d msg=\"no saved "
                     "state; starting from the genome\"",
                     p->name, i);
            lv_set_good(d, p->genome, p->genome_len, NULL, 0);
            d->version = 1;
            d->next_version = 2;
            d->next_upgrade = 1;
        }
        d->state = p->running ? LI_UNPLACED : LI_STOPPED;
        live_version_t *v = lv_ver_add(d);
        v->version = d->version;
        memcpy(v->hash, d->good_hash, CRYPTO_HASH_LEN);
        v->has_hash = 1;
        util_strlcpy(v->op, "start", sizeof v->op);
        v->outcome = LO_RUNNING;
        util_strlcpy(v->reason, "restored", sizeof v->reason);
        v->at_ms = lv_wall_ms();
        /* the reserved mark persisted is ahead of every id used */
    }
    if (c->nlive >= LIVE_MAX_POPS) {
        live_pop_destroy(&p);
        return 0;
    }
    c->live[c->nlive++] = p;
    log_info("live.restored", "population=%s individuals=%d running=%d", p->name, p->n, p->running);
    return 0;
}

void live_restore(coord_t *c)
{
    store_meta_iter(c->store, LIVE_PREFIX, restore_one, c);
}
