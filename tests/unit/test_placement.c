/* test_placement.c - rendezvous hashing: determinism, minimal movement,
 * weights; a population's demes spread by weight (bounded loads). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "placement.h"

static void make_nodes(place_node_t *nodes, int n)
{
    memset(nodes, 0, sizeof *nodes * (size_t)n);
    for (int i = 0; i < n; i++) {
        nodes[i].id[0] = (uint8_t)(i + 1);
        nodes[i].id[15] = (uint8_t)(i * 7 + 3);
        nodes[i].weight = 2;
    }
}

static void test_pick_is_deterministic_and_skips_weightless(void **state)
{
    (void)state;
    place_node_t nodes[4];
    make_nodes(nodes, 4);
    char key[64];
    size_t kl = place_deme_key("quad", 3, key, sizeof key);
    assert_string_equal(key, "quad/3");
    int a = place_pick(nodes, 4, key, kl);
    assert_true(a >= 0 && a < 4);
    assert_int_equal(place_pick(nodes, 4, key, kl), a);
    nodes[a].weight = 0;
    int b = place_pick(nodes, 4, key, kl);
    assert_true(b >= 0 && b != a);
    for (int i = 0; i < 4; i++)
        nodes[i].weight = 0;
    assert_int_equal(place_pick(nodes, 4, key, kl), -1);
    assert_int_equal(place_pick(nodes, 0, key, kl), -1);
}

static void test_leave_moves_only_the_leavers_keys(void **state)
{
    (void)state;
    place_node_t nodes[10];
    make_nodes(nodes, 10);
    int before[500], moved = 0;
    char key[64];
    for (int k = 0; k < 500; k++) {
        size_t kl = place_deme_key("p", (uint32_t)k, key, sizeof key);
        before[k] = place_pick(nodes, 10, key, kl);
    }
    nodes[4].weight = 0; /* node 4 leaves */
    for (int k = 0; k < 500; k++) {
        size_t kl = place_deme_key("p", (uint32_t)k, key, sizeof key);
        int now = place_pick(nodes, 10, key, kl);
        if (now != before[k]) {
            moved++;
            assert_int_equal(before[k], 4); /* only keys of the leaver move */
        }
        assert_int_not_equal(now, 4);
    }
    assert_true(moved > 0);
}

static void test_weights_shape_the_shares(void **state)
{
    (void)state;
    place_node_t nodes[2];
    make_nodes(nodes, 2);
    nodes[0].weight = 1;
    nodes[1].weight = 3;
    int count[2] = {0, 0};
    char key[64];
    for (int k = 0; k < 4000; k++) {
        size_t kl = place_deme_key("w", (uint32_t)k, key, sizeof key);
        count[place_pick(nodes, 2, key, kl)]++;
    }
    /* expected 1000 vs 3000: allow wide statistical slack */
    assert_true(count[0] > 800 && count[0] < 1200);
}

/* place_demes: a population's demes spread over the nodes by weight, every
 * deme has an owner, and a leave moves the leaver's demes and few others. */
static void test_demes_spread_by_weight(void **state)
{
    (void)state;
    place_node_t nodes[10];
    make_nodes(nodes, 10);
    int owner[256];
    char name[32];
    for (int k = 0; k < 200; k++) { /* 2 demes, 2 equal nodes: one each, always */
        snprintf(name, sizeof name, "pop%d", k);
        place_demes(nodes, 2, name, 2, owner);
        assert_true(owner[0] >= 0 && owner[1] >= 0);
        assert_int_not_equal(owner[0], owner[1]);
    }
    nodes[0].weight = nodes[1].weight = 1; /* 8 demes on weights 1, 1, 2: 2, 2 and 4 */
    for (int k = 0; k < 50; k++) {
        snprintf(name, sizeof name, "w%d", k);
        place_demes(nodes, 3, name, 8, owner);
        int load[3] = {0, 0, 0};
        for (int d = 0; d < 8; d++)
            load[owner[d]]++;
        assert_int_equal(load[0], 2);
        assert_int_equal(load[1], 2);
        assert_int_equal(load[2], 4);
    }
    nodes[0].weight = nodes[1].weight = 2;
    int before[100], after[100], moved = 0;
    place_demes(nodes, 10, "big", 100, before);
    nodes[4].weight = 0; /* node 4 leaves */
    place_demes(nodes, 10, "big", 100, after);
    for (int d = 0; d < 100; d++) {
        assert_true(after[d] >= 0 && after[d] != 4);
        moved += before[d] != 4 && after[d] != before[d];
    }
    assert_true(moved < 45); /* of the 90 demes of the others */
    nodes[0].weight = 0;     /* weightless nodes own nothing; none left: -1 */
    for (int i = 1; i < 10; i++)
        nodes[i].weight = 0;
    place_demes(nodes, 10, "none", 3, owner);
    assert_int_equal(owner[0], -1);
    assert_int_equal(owner[2], -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pick_is_deterministic_and_skips_weightless),
        cmocka_unit_test(test_leave_moves_only_the_leavers_keys),
        cmocka_unit_test(test_weights_shape_the_shares),
        cmocka_unit_test(test_demes_spread_by_weight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
