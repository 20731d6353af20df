/* live_host_int.h - the inside of a live_host (live_host.h), shared by its
 * lifecycle and events (live_host.c) and its requests and counts
 * (live_host_req.c). */
#ifndef PETRI_LIVE_HOST_INT_H
#define PETRI_LIVE_HOST_INT_H

#include "live_host.h"

enum lh_state { LH_BOOTING, LH_STARTING, LH_RUNNING, LH_STOPPING, LH_ENDED };

typedef struct lh_up {
    uint64_t id, at, sent_us;
    uint8_t *src;
    size_t len;
    uint32_t probation;
    int judge, sent, loaded; /* loaded: its `upgrade` event came (on probation) */
} lh_up_t;

typedef struct lh_slot {
    uint64_t sent_us;
    int answered;
} lh_slot_t;

struct live_host {
    loop_t *loop;
    live_host_opts_t o;
    live_host_cb_t cb;
    void *arg;
    char name[64];
    vm_t *vm;
    pid_t pid;
    int state, stop_now;
    /* the host ends at the next tick (never inside the VM's own callback) */
    int end_pending, end_failed;
    char end_why[WIRE_LIVE_REASON_MAX + 64];
    uint64_t state_ms;
    int64_t timer;
    wire_live_start_t start; /* atoms and init_arg borrowed from the caller's spec */
    /* the last good version */
    uint8_t *good_src, *good_snap;
    size_t good_src_len, good_snap_len;
    uint32_t good_version, max_version;
    /* requests: every seq < base is answered; [base, next) in flight */
    uint64_t base, next, rate_base_us, rate_base_n;
    lh_slot_t slots[LIVE_MAX_IN_FLIGHT];
    /* upgrades, in the order they were queued */
    lh_up_t *ups;
    size_t nups, capups;
    int kill_armed;
    char lost[WIRE_LIVE_REASON_MAX + 64]; /* why the VM is to be replaced (acted on by the
                                             timer: never destroy a VM in its own callback) */
    uint64_t breeds[LIVE_MAX_BREEDS];     /* req ids in flight */
    uint64_t breeds_ms[LIVE_MAX_BREEDS];  /* when each was sent */
    size_t nbreeds;
    live_host_stats_t st;
    double *win; /* the last `window` scores, a ring */
    size_t nwin, wpos;
    double win_sum;
    uint64_t *lat; /* latencies since the last live_host_stats */
    size_t nlat;
    wire_buf_t wb;
};

/* live_host.c */
void lh_set_state(live_host_t *h, int st, const char *why);
int lh_send_frame(live_host_t *h);
void lh_send_upgrade(live_host_t *h, lh_up_t *u);

/* live_host_req.c */
/* Sends the requests [from, to) that are unanswered, in batches. */
void lh_send_range(live_host_t *h, uint64_t from, uint64_t to, int resend);
/* Sends what the rate allows now, and the upgrades whose point is reached. */
void lh_pump(live_host_t *h);
/* One LIVE_REPLIES frame: 0 or the reader's error. */
int lh_on_replies(live_host_t *h, wire_rd_t *rd);

#endif
