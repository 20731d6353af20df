/* test_live_event.c - the coordinator's handling of live events from agents
 * (coordinator/live_event.c), as an attacker holding a session would try
 * it: an event signed by another key, an event for an individual hosted
 * elsewhere or by an older placement, fields changed after signing, an
 * outcome of an upgrade never sent, a source that is not the child it
 * names. None changes the individual or reaches the lineage; an honest
 * event does, as a version 3 record that verifies. */
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "attest.h"
#include "coord.h"
#include "err.h"
#include "live_pop_int.h"
#include "log.h"
#include "../../coordinator/settings.h"
#include "work.h"

static const char *config =
    "{\"name\": \"lim\", \"function\": \"handle/2\", \"language\": \"erlang\","
    " \"primitives\": {\"ops\": [\"+\"], \"constants\": {\"min\": 1, \"max\": 9,"
    " \"integer\": true}},"
    " \"live\": {\"atoms\": [\"hit\"], \"probation\": 20},"
    " \"trace\": \"{\\\"req\\\": 1, \\\"expect\\\": 2}\\n\","
    " \"genome\": \"-module(m).\\n-export([init/1, handle/2]).\\ninit(_) -> 0.\\n"
    "handle(R, S) -> {R + 1, S}.\\n\", \"individuals\": 2}";

struct fx {
    char dir[64];
    coord_t c;
    live_pop_t *p;
    node_identity_t coord_id;
    node_identity_t host, other; /* the individual's agent, and another one */
    work_agent_t ahost, aother;
};

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void identity(node_identity_t *id, work_agent_t *a, const char *name)
{
    crypto_sign_ed25519_keypair(id->pk, id->sk);
    crypto_id_from_pk(id->pk, id->id);
    memset(a, 0, sizeof *a);
    memcpy(a->id, id->id, CRYPTO_ID_LEN);
    memcpy(a->pk, id->pk, CRYPTO_PK_LEN);
    snprintf(a->name, sizeof a->name, "%s", name);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/petri-liveev-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    identity(&f->coord_id, &f->ahost, "coord");
    identity(&f->host, &f->ahost, "host");
    identity(&f->other, &f->aother, "other");
    char err[600];
    f->c.cfg = coord_config_load(NULL, NULL, 0, err, sizeof err);
    assert_non_null(f->c.cfg);
    f->c.loop = loop_new();
    f->c.store = store_open(f->dir, 0, &f->coord_id, err, sizeof err);
    assert_non_null(f->c.store);
    json_t *cfg = json_loads(config, 0, NULL);
    assert_non_null(cfg);
    f->p = live_pop_new(cfg, err, sizeof err);
    json_decref(cfg);
    assert_non_null(f->p);
    assert_int_equal(live_add(&f->c, f->p), 0);
    /* individual 0 placed on the host, incarnation 3 */
    live_ind_t *d = &f->p->ind[0];
    d->placed = 1;
    d->state = LI_STARTING;
    d->incarnation = 3;
    memcpy(d->agent, f->host.id, CRYPTO_ID_LEN);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    coord_commit_drain(&f->c);
    for (size_t i = 0; i < f->c.npending; i++)
        free(f->c.pending[i].src);
    free(f->c.pending);
    coord_commit_free(&f->c);
    for (int i = 0; i < f->c.nlive; i++)
        live_pop_destroy(&f->c.live[i]);
    store_close(&f->c.store);
    loop_destroy(&f->c.loop);
    cfg_destroy(&f->c.cfg);
    nftw(f->dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

typedef struct ev {
    uint32_t ind;
    uint64_t incarnation;
    uint8_t kind;
    uint64_t upgrade_id;
    uint32_t version;
    const char *reason, *src, *signed_src; /* signed_src: what the signature names */
    double child_score;
} ev_t;

/* The payload of a WIRE_WORK_LIVE_EVENT, signed by signer over attest_live
 * of the fields (child_hash of signed_src, or of src). */
static void put_event(wire_buf_t *b, const ev_t *e, const node_identity_t *signer,
                      const char *tamper_reason)
{
    uint8_t child[CRYPTO_HASH_LEN], parent[CRYPTO_HASH_LEN] = {0};
    const char *named = e->signed_src ? e->signed_src : e->src ? e->src : "";
    crypto_hash(named, strlen(named), child);
    attest_live_t x = {.kind = e->kind,
                       .status = (uint8_t)wire_live_status(e->kind),
                       .version = e->version,
                       .parent_score = NAN,
                       .child_score = e->child_score,
                       .probation = 0};
    memcpy(x.parent_hash, parent, sizeof parent);
    attest_reason_hash(e->reason, strlen(e->reason), x.reason_hash);
    uint8_t sig[CRYPTO_SIG_LEN];
    assert_int_equal(attest_sign_live(signer, "lim", e->ind, e->upgrade_id, child, &x, sig), 0);
    const char *reason = tamper_reason ? tamper_reason : e->reason;
    wire_put_str(b, "lim");
    wire_put_u32(b, e->ind);
    wire_put_u64(b, e->incarnation);
    wire_put_u8(b, e->kind);
    wire_put_u64(b, e->upgrade_id);
    wire_put_u32(b, e->version);
    wire_put_u64(b, 0);
    wire_put_str(b, "");
    wire_put_u64(b, 0);
    wire_put_raw(b, child, sizeof child);
    wire_put_raw(b, parent, sizeof parent);
    uint8_t zero[CRYPTO_HASH_LEN] = {0};
    wire_put_raw(b, zero, sizeof zero);
    wire_put_raw(b, zero, sizeof zero);
    wire_put_f64(b, NAN);
    wire_put_f64(b, e->child_score);
    wire_put_u32(b, 0);
    wire_put_str(b, reason);
    wire_put_bytes(b, "", 0);
    wire_put_bytes(b, e->src ? e->src : "", e->src ? strlen(e->src) : 0);
    wire_put_raw(b, sig, sizeof sig);
}

static void deliver(struct fx *f, const work_agent_t *from, const ev_t *e,
                    const node_identity_t *signer, const char *tamper_reason)
{
    wire_buf_t b;
    wire_buf_init(&b);
    put_event(&b, e, signer, tamper_reason);
    live_on_event(&f->c, from, b.data, b.len);
    wire_buf_free(&b);
}

static uint64_t durable(struct fx *f)
{
    coord_commit(&f->c);
    coord_commit_drain(&f->c);
    uint64_t head = 0;
    store_head(f->c.store, &head, NULL);
    return head;
}

static void test_honest_start_is_recorded(void **state)
{
    struct fx *f = *state;
    ev_t e = {.ind = 0,
              .incarnation = 3,
              .kind = WIRE_LIVE_STARTED,
              .version = 1,
              .reason = "",
              .src = NULL,
              .child_score = NAN};
    e.signed_src = f->p->genome;
    deliver(f, &f->ahost, &e, &f->host, NULL);
    assert_int_equal(f->p->ind[0].state, LI_RUNNING);
    assert_int_equal(durable(f), 1);
    lineage_rec_t r;
    assert_int_equal(store_get(f->c.store, 1, &r), 0);
    assert_int_equal(r.version, 3);
    assert_string_equal(r.op, "start");
    assert_int_equal(r.live.kind, WIRE_LIVE_STARTED);
    assert_int_equal(store_rec_check_agent_sig(&r), 0);
    assert_memory_equal(r.agent_pk, f->host.pk, CRYPTO_PK_LEN);
}

static void test_forged_and_misplaced_events_change_nothing(void **state)
{
    struct fx *f = *state;
    live_ind_t *d = &f->p->ind[0];
    ev_t e = {.ind = 0,
              .incarnation = 3,
              .kind = WIRE_LIVE_STARTED,
              .version = 1,
              .reason = "",
              .child_score = NAN};
    e.signed_src = f->p->genome;
    /* signed by another key, sent in the host's session */
    deliver(f, &f->ahost, &e, &f->other, NULL);
    /* validly signed by another agent, which does not host it */
    deliver(f, &f->aother, &e, &f->other, NULL);
    /* the host, but an older placement */
    e.incarnation = 2;
    deliver(f, &f->ahost, &e, &f->host, NULL);
    e.incarnation = 3;
    /* the reason changed after signing */
    e.kind = WIRE_LIVE_FAILED;
    e.reason = "vm died";
    deliver(f, &f->ahost, &e, &f->host, "the coordinator's fault");
    /* an individual that does not exist, and one of another population */
    e.kind = WIRE_LIVE_STARTED;
    e.reason = "";
    e.ind = 7;
    deliver(f, &f->ahost, &e, &f->host, NULL);
    assert_int_equal(d->state, LI_STARTING);
    assert_int_equal(d->fails, 0);
    assert_true(d->placed);
    assert_int_equal(f->c.npending, 0);
    assert_int_equal(durable(f), 0);
}

static void test_outcomes_must_be_of_upgrades_sent(void **state)
{
    struct fx *f = *state;
    live_ind_t *d = &f->p->ind[0];
    ev_t e = {.ind = 0,
              .incarnation = 3,
              .kind = WIRE_LIVE_STARTED,
              .version = 1,
              .reason = "",
              .child_score = NAN};
    e.signed_src = f->p->genome;
    deliver(f, &f->ahost, &e, &f->host, NULL);
    assert_int_equal(durable(f), 1);
    uint32_t version = d->version;
    /* a promotion of an upgrade never sent: no new version, no record */
    const char *child = "-module(m).\n-export([init/1, handle/2]).\ninit(_) -> 1.\n"
                        "handle(R, S) -> {R, S}.\n";
    ev_t pr = {.ind = 0,
               .incarnation = 3,
               .kind = WIRE_LIVE_PROMOTED,
               .upgrade_id = 5,
               .version = 2,
               .reason = "",
               .src = child,
               .child_score = 1.0};
    deliver(f, &f->ahost, &pr, &f->host, NULL);
    assert_int_equal(d->version, version);
    assert_int_equal(durable(f), 1);
    /* an upgrade that was sent; its source is not the child the event names */
    d->inflight = 5;
    live_version_t *v = lv_ver_add(d);
    v->upgrade_id = 5;
    v->parent = 1;
    snprintf(v->op, sizeof v->op, "literal");
    v->outcome = LO_PROBATION;
    pr.signed_src = "-module(m).\n-export([init/1, handle/2]).\ninit(_) -> 2.\n";
    deliver(f, &f->ahost, &pr, &f->host, NULL);
    assert_int_equal(d->version, version);
    assert_int_equal(d->inflight, 5);
    assert_int_equal(durable(f), 1);
    /* the same, honest: promoted and recorded with the agent's source */
    pr.signed_src = NULL;
    deliver(f, &f->ahost, &pr, &f->host, NULL);
    assert_int_equal(d->version, 2);
    assert_int_equal(d->inflight, 0);
    assert_int_equal(durable(f), 2);
    lineage_rec_t r;
    assert_int_equal(store_get(f->c.store, 2, &r), 0);
    assert_string_equal(r.op, "literal");
    assert_int_equal(r.live.kind, WIRE_LIVE_PROMOTED);
    char *src = NULL;
    size_t len = 0;
    assert_int_equal(store_get_genome(f->c.store, r.child_hash, &src, &len), 0);
    assert_int_equal(len, strlen(child));
    free(src);
    /* the same event again, or a rollback of it: recorded once, counted once */
    uint64_t promoted = f->p->promoted;
    deliver(f, &f->ahost, &pr, &f->host, NULL);
    pr.kind = WIRE_LIVE_ROLLBACK;
    deliver(f, &f->ahost, &pr, &f->host, NULL);
    assert_int_equal(durable(f), 2);
    assert_int_equal(f->p->promoted, promoted);
    assert_int_equal(f->p->rolled_back, 0);
    assert_int_equal(d->version, 2);
}

int main(void)
{
    if (crypto_init() != 0)
        return 1;
    log_init("test_live_event", LOG_LVL_ERROR, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_honest_start_is_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_and_misplaced_events_change_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_outcomes_must_be_of_upgrades_sent, setup, teardown),
    };
    return cmocka_run_group_tests_name("live_event", tests, NULL, NULL);
}
