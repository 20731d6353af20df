/* test_cluster.c - cluster keys from config (and the refusal without one),
 * the work endpoint derivation, node metadata and its parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "config.h"
#include "err.h"

static const cfg_opt_t opts[] = {
    {"gossip", "key", CFG_STR, "", 0, 0, CFG_SECRET, "test"},
    {"gossip", "keyring_file", CFG_STR, "", 0, 0, 0, "test"},
    {"gossip", "bind", CFG_ADDR, "0.0.0.0:7946", 0, 0, 0, "test"},
    {"gossip", "advertise", CFG_ADDR, "", 0, 0, 0, "test"},
    {"work", "bind", CFG_ADDR, "0.0.0.0:7950", 0, 0, 0, "test"},
    {"work", "advertise", CFG_ADDR, "", 0, 0, 0, "test"},
    {NULL, NULL, 0, NULL, 0, 0, 0, NULL},
};

static void set(cfg_t *c, const char *arg)
{
    char err[256];
    assert_int_equal(cfg_set_arg(c, arg, err, sizeof err), 0);
}

static void test_keys(void **state)
{
    (void)state;
    assert_int_equal(crypto_init(), 0);
    char err[256];
    cfg_t *c = cfg_new(opts);
    keyring_t *kr = keyring_new();
    assert_int_equal(cluster_keys_load(c, kr, 0, err, sizeof err), ERR_CONFIG);
    assert_non_null(strstr(err, "[gossip] key"));
    assert_int_equal(cluster_keys_load(c, kr, 1, err, sizeof err), 0); /* --insecure */
    assert_int_equal(keyring_count(kr), 1);
    keyring_destroy(&kr);

    kr = keyring_new();
    set(c, "gossip.key=not-base64");
    assert_int_equal(cluster_keys_load(c, kr, 0, err, sizeof err), ERR_CONFIG);
    uint8_t k[CRYPTO_KEY_LEN], got[CRYPTO_KEY_LEN];
    char b64[CRYPTO_KEY_B64_LEN + 1], arg[128];
    crypto_random(k, sizeof k);
    crypto_key_to_b64(k, b64);
    snprintf(arg, sizeof arg, "gossip.key=%s", b64);
    set(c, arg);
    assert_int_equal(cluster_keys_load(c, kr, 0, err, sizeof err), 0);
    assert_int_equal(keyring_get(kr, 0, got), 0);
    assert_memory_equal(k, got, sizeof k);
    keyring_destroy(&kr);
    cfg_destroy(&c);
}

static void test_work_endpoint(void **state)
{
    (void)state;
    char ep[320];
    cfg_t *c = cfg_new(opts);
    char host[256], want[300];
    gethostname(host, sizeof host);
    snprintf(want, sizeof want, "tcp://%s:7950", host);
    assert_int_equal(cluster_work_endpoint(c, ep, sizeof ep), 0);
    assert_string_equal(ep, want); /* wildcard binds advertise the host name */
    set(c, "work.bind=127.0.0.1:7950");
    assert_int_equal(cluster_work_endpoint(c, ep, sizeof ep), 0);
    assert_string_equal(ep, "tcp://127.0.0.1:7950");
    set(c, "work.bind=0.0.0.0:7950");
    set(c, "gossip.advertise=10.1.2.3:7946");
    assert_int_equal(cluster_work_endpoint(c, ep, sizeof ep), 0);
    assert_string_equal(ep, "tcp://10.1.2.3:7950");
    set(c, "work.advertise=coord.example:9000");
    assert_int_equal(cluster_work_endpoint(c, ep, sizeof ep), 0);
    assert_string_equal(ep, "tcp://coord.example:9000");
    cfg_destroy(&c);
}

static void test_metadata(void **state)
{
    (void)state;
    uint8_t pk[CRYPTO_PK_LEN] = {1, 2, 3};
    char meta[CLUSTER_META_MAX];
    size_t n = cluster_meta_agent(meta, sizeof meta, pk, 2, 3, 0.5, "tcp://c:7950");
    assert_true(n > 0 && n < CLUSTER_META_MAX);
    json_t *j = cluster_meta_parse((const uint8_t *)meta, n);
    assert_string_equal(cluster_meta_role(j), "agent");
    assert_int_equal(json_integer_value(json_object_get(j, "vms")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "vms_total")), 3);
    assert_string_equal(json_string_value(json_object_get(j, "work")), "tcp://c:7950");
    json_decref(j);
    n = cluster_meta_coordinator(meta, sizeof meta, pk, "tcp://c:7950");
    j = cluster_meta_parse((const uint8_t *)meta, n);
    assert_string_equal(cluster_meta_role(j), "coordinator");
    /* the advertised key must derive the member's id */
    uint8_t id[CRYPTO_ID_LEN];
    crypto_id_from_pk(pk, id);
    assert_int_equal(cluster_meta_key_ok(id, j), 1);
    id[0] ^= 1;
    assert_int_equal(cluster_meta_key_ok(id, j), 0);
    json_object_set_new(j, "pk", json_string("not base64"));
    assert_int_equal(cluster_meta_key_ok(id, j), 0);
    json_object_set_new(j, "pk", json_integer(7));
    assert_int_equal(cluster_meta_key_ok(id, j), 0);
    json_object_del(j, "pk");
    assert_int_equal(cluster_meta_key_ok(id, j), 1);
    json_decref(j);
    /* metadata that is not a JSON object is kept as hex, never trusted */
    j = cluster_meta_parse((const uint8_t *)"\x01\x02", 2);
    assert_string_equal(json_string_value(json_object_get(j, "raw")), "0102");
    assert_string_equal(cluster_meta_role(j), "");
    json_decref(j);
    j = cluster_meta_parse(NULL, 0);
    assert_true(json_is_object(j));
    json_decref(j);
}

/* A checkpoint added to metadata; what does not fit leaves it unchanged. */
static void test_metadata_set(void **state)
{
    (void)state;
    uint8_t pk[CRYPTO_PK_LEN] = {1, 2, 3};
    char meta[CLUSTER_META_MAX];
    size_t n = cluster_meta_agent(meta, sizeof meta, pk, 2, 3, 0.5, "tcp://c:7950");
    char ck[201];
    memset(ck, 'Q', 200);
    ck[200] = '\0';
    size_t m = cluster_meta_set(meta, n, sizeof meta, "ckpt", ck);
    assert_true(m > n && m < CLUSTER_META_MAX);
    json_t *j = cluster_meta_parse((const uint8_t *)meta, m);
    assert_string_equal(json_string_value(json_object_get(j, "ckpt")), ck);
    assert_string_equal(cluster_meta_role(j), "agent");
    json_decref(j);
    /* replaced, not repeated */
    ck[0] = 'R';
    size_t m2 = cluster_meta_set(meta, m, sizeof meta, "ckpt", ck);
    assert_int_equal(m2, m);
    assert_non_null(strstr(meta, "\"RQQ"));
    /* too big for the metadata cap: unchanged */
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char before[CLUSTER_META_MAX];
    memcpy(before, meta, m2 + 1);
    assert_int_equal(cluster_meta_set(meta, m2, sizeof meta, "ckpt", big), m2);
    assert_memory_equal(meta, before, m2);
    /* not a JSON object: unchanged */
    char raw[8] = "xyz";
    assert_int_equal(cluster_meta_set(raw, 3, sizeof raw, "ckpt", "a"), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_work_endpoint),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_metadata_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
